"""vmap: add a batch axis to every equation, one batching rule per primitive, no Python loop.

vmap(f, axis_name="i") also names the mapped axis: collectives over "i" (lax.psum, ...) inside f
reduce over the batch members (functrans/primitives/collectives.py)."""
import threading
from dataclasses import dataclass

import numpy as np

from .. import tree_util
from ..core.errors import FunctransError
from ..core.ir import ClosedProgram, Program
from ..core.trace import Trace, Tracer, _state, current_stack_depth, get_aval, new_main
from ..primitives._batching import bdim_at, moveaxis


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def aval(self):
        aval = get_aval(self.val)
        if self.bdim is None:
            return aval
        shape = aval.shape[:self.bdim] + aval.shape[self.bdim + 1:]
        return aval.update(shape=shape)

    def _origin_str(self):
        return "a value batched by vmap (each batch member may differ)"


@dataclass(frozen=True)
class AxisData:
    """What a vmap with axis_name keeps in its MainTrace: the batch size and the axis name."""
    size: int
    name: object


class _Inherit(threading.local):
    # (axis name, size, stack depth) of a named vmap whose batching rule is running: a batch
    # trace that the rule starts for a sub-program (jit, loops, custom_jvp) batches the same
    # axis, so it takes the name (collectives in the sub-program then reduce over it).
    pending = None


_inherit = _Inherit()


def _own_axis_rule(primitive, params, axis_name):
    """The rule a vmap with `axis_name` uses for `primitive`, or None when the primitive is not
    a collective over that vmap's axis. Collectives (primitives/collectives.py, above this
    module) declare that rule as their `own_axis_batch` attribute."""
    rule = getattr(primitive, "own_axis_batch", None)
    if rule is not None and not params["mpi"] and params["axis_name"] == axis_name:
        return rule
    return None


def _uses_axis(params, axis_name):
    """Whether params hold a sub-program with a collective over the vmap axis `axis_name`, or a
    user function that might (custom_jvp and friends): then a vmap must run it batched even
    when no operand is batched, since the collective's result depends on the axis size."""
    def visit(v):
        if isinstance(v, ClosedProgram):
            return visit(v.program)
        if isinstance(v, Program):
            return any(_own_axis_rule(e.primitive, e.params, axis_name) is not None or
                       any(visit(p) for p in e.params.values()) for e in v.eqns)
        if isinstance(v, (tuple, list)):
            return any(visit(x) for x in v)
        return callable(v) and not isinstance(v, (type, np.ufunc))
    return any(visit(v) for v in params.values())


class BatchTrace(Trace):
    __slots__ = ()

    def __init__(self, main):
        self.main = main
        if _inherit.pending is not None and type(main.global_data) is not AxisData:
            _take_inherited_name(main)

    @property
    def axis_size(self):
        data = self.main.global_data
        return data.size if type(data) is AxisData else data

    @property
    def axis_name(self):
        data = self.main.global_data
        return data.name if type(data) is AxisData else None

    def pure(self, value):
        return BatchTracer(self, value, None)

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.bdim for t in tracers]
        name = self.axis_name
        if name is not None:
            return self._process_named(primitive, vals, dims, params, name)
        if all(d is None for d in dims):
            return primitive.as_list(primitive.bind(*vals, **params))
        return self._batch(primitive, vals, dims, params)

    def _batch(self, primitive, vals, dims, params):
        rule = primitive.batch
        if rule is None:
            raise FunctransError(
                primitive.not_batchable or
                f"Batching rule for '{primitive.name}' is not implemented, so vmap cannot "
                "batch it. Compute it for each batch member outside vmap (a Python loop), or "
                "express it with batchable functrans.numpy operations.")
        out, out_dim = rule(vals, dims, **params)
        return self._wrap(primitive, out, out_dim)

    def _wrap(self, primitive, out, out_dim):
        return [BatchTracer(self, o, d) for o, d in zip(primitive.as_list(out),
                                                       primitive.as_list(out_dim))]

    def _process_named(self, primitive, vals, dims, params, name):
        """A vmap with axis_name: collectives over its axis use their own-axis rule (even on
        unbatched operands), and a primitive whose sub-programs may hold such collectives is
        batched even when no operand is (their results depend on the axis)."""
        own = _own_axis_rule(primitive, params, name)
        if own is not None:
            out, out_dim = own(vals, dims, self.axis_size, **params)
            if not primitive.multiple_results:
                out, out_dim = out[0], out_dim[0]
            return self._wrap(primitive, out, out_dim)
        if all(d is None for d in dims):
            if not vals or not _uses_axis(params, name):
                return primitive.as_list(primitive.bind(*vals, **params))
            vals = [bdim_at(vals[0], None, self.axis_size, 0)] + vals[1:]
            dims = [0] + dims[1:]
        saved = _inherit.pending
        # Traces already on the stack (an inner vmap whose primitive came down to this one)
        # are not the rule's: only one it starts from here on can take the name.
        _inherit.pending = (name, self.axis_size, current_stack_depth())
        try:
            return self._batch(primitive, vals, dims, params)
        finally:
            _inherit.pending = saved


def inherited_axis_name():
    """The axis name a batch trace started now would take (see _Inherit), or None: part of the
    cache key of programs batched by rules (jit's)."""
    return None if _inherit.pending is None else _inherit.pending[0]


def _take_inherited_name(main):
    """Name `main` after the pending named axis if it is the first batch trace started above
    that axis's trace, for the same size (see _Inherit)."""
    name, size, depth = _inherit.pending
    if main.level < depth or main.global_data != size:
        return
    if any(m.trace_type is BatchTrace for m in _state.stack[depth:main.level]):
        return
    main.global_data = AxisData(size, name)


def _broadcast_prefix(prefix, tree, what):
    """One axis spec per leaf of tree, from a pytree prefix of it (an int/None applies to a
    whole subtree)."""
    if prefix is None or isinstance(prefix, int):
        return [prefix] * len(tree_util.tree_leaves(tree))
    spec_leaves, spec_tree = tree_util.tree_flatten(prefix, is_leaf=lambda x: x is None)
    try:
        subtrees = spec_tree.flatten_up_to(tree)
    except ValueError as e:
        raise ValueError(f"vmap {what} specification must be a tree prefix of the "
                         f"corresponding value; got {what}={prefix!r} for a value of "
                         f"structure {tree_util.tree_structure(tree)}") from e
    out = []
    for axis, sub in zip(spec_leaves, subtrees):
        if axis is not None and not isinstance(axis, int):
            raise TypeError(f"vmap {what} must be ints or None; got {axis!r}")
        out += [axis] * len(tree_util.tree_leaves(sub))
    return out


def _arg_names(fun, n):
    import inspect
    try:
        names = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"#{i}" for i in range(n)]


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None):
    """Vectorize fun over a batch axis of its arguments (in_axes) into outputs (out_axes).
    With axis_name, collectives over that name inside fun reduce over the batch members."""
    name = getattr(fun, "__name__", "fun")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)   # JAX treats a list in_axes like a tuple for positional args

    def batched_fun(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap in_axes must be an int, None, or a tuple with one entry per "
                             f"positional argument of {name}: got {len(in_axes)} entries for "
                             f"{len(args)} arguments")
        axes = _broadcast_prefix(in_axes, args, "in_axes") + \
            [0] * len(tree_util.tree_leaves(kwargs))
        leaves, in_tree = tree_util.tree_flatten((args, kwargs))
        names = _leaf_names(fun, args, kwargs)
        axes = [_normalize_axis(a, x, n) for a, x, n in zip(axes, leaves, names)]
        size = _batch_size(leaves, axes, names, axis_size, name)
        with new_main(BatchTrace, size if axis_name is None else AxisData(size, axis_name)) \
                as main:
            trace = BatchTrace(main)
            ins = [x if a is None else BatchTracer(trace, x, a) for x, a in zip(leaves, axes)]
            a, kw = tree_util.tree_unflatten(in_tree, ins)
            out = fun(*a, **kw)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            o_axes = _broadcast_prefix(out_axes, out, "out_axes")
            results = []
            for o, oa in zip(out_leaves, o_axes):
                o = trace.full_raise(o)
                if oa is None:
                    if o.bdim is not None:
                        raise ValueError(f"vmap of {name}: an output is batched but its out_axes "
                                         "is None; use an integer out_axes for it")
                    results.append(o.val)
                else:
                    ndim = get_aval(o.val).ndim + (o.bdim is None)
                    if not -ndim <= oa < ndim:
                        raise ValueError(
                            f"vmap of {name}: out_axes={oa} is out of bounds for an output of "
                            f"rank {ndim} (its per-example shape with the mapped axis added); "
                            f"use an axis in [{-ndim}, {ndim})")
                    results.append(bdim_at(o.val, o.bdim, size, oa % ndim) if o.bdim is None
                                   else moveaxis(o.val, o.bdim, oa % ndim))
        return tree_util.tree_unflatten(out_tree, results)

    batched_fun.__name__ = f"vmap({name})"
    batched_fun.__wrapped__ = fun
    return batched_fun


def _leaf_names(fun, args, kwargs):
    names = []
    for argname, a in zip(_arg_names(fun, len(args)), args):
        n = len(tree_util.tree_leaves(a))
        names += [f"argument {argname!r}" + (f" (leaf {k})" if n > 1 else "") for k in range(n)]
    for k, v in sorted(kwargs.items()):
        names += [f"keyword argument {k!r}"] * len(tree_util.tree_leaves(v))
    return names


def _normalize_axis(axis, x, name):
    if axis is None:
        return None
    ndim = get_aval(x).ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"vmap was asked to map axis {axis} of {name}, which has rank {ndim} "
                         f"(shape {get_aval(x).shape})")
    return axis % ndim


def _batch_size(leaves, axes, names, axis_size, fun_name):
    sizes = [(get_aval(x).shape[a], n, a) for x, a, n in zip(leaves, axes, names) if a is not None]
    if not sizes:
        if axis_size is None:
            raise ValueError(f"vmap of {fun_name} must have at least one non-None value in "
                             "in_axes, or be given axis_size")
        return axis_size
    distinct = {s for s, _, _ in sizes}
    if axis_size is not None:
        distinct.add(axis_size)
    if len(distinct) > 1:
        detail = "\n".join(f"  * {n}: axis {a} has size {s}" for s, n, a in sizes)
        raise ValueError(f"vmap of {fun_name} got inconsistent sizes for the mapped axes:\n"
                         f"{detail}" + (f"\n  * axis_size={axis_size}" if axis_size else ""))
    return sizes[0][0]
