"""Collectives over named axes: psum, pmax, pmin, all_gather, psum_scatter, ppermute, axis_index
(and the functions pmean and axis_size built on them), with all their rules side by side.

A collective names an axis, and what it computes depends on what binds that name:

  * `vmap(f, axis_name="i")`: the members of the mapped axis are the batch members. A
    collective over "i" is handled by *that* batch trace (its "own-axis" rule below): psum is a
    reduce_sum over the batch axis, all_gather moves the batch axis into place, and so on. This
    is JAX's single-process meaning and needs no MPI.
  * `pmap(f, axis_name="i")` (functrans/transforms/pmap.py): the members are the MPI processes.
    The equation carries `mpi=True` and its impl (and jit lowering) calls MPI on the buffers
    (functrans/distributed.py). Because the flag lives in the equation, a program staged under
    pmap keeps its meaning when a transform runs it later, outside pmap's call (the backward
    pass of grad(pmap(f))).
  * nothing: binding the collective raises NameError naming the unbound axis.

Every collective primitive takes `axis_name` (one name; the lax functions below accept a tuple
and apply the collective once per name) and `mpi`. Names resolve innermost first: a vmap inside
a pmap with the same name shadows it.

Transposes (the decision, as in JAX's vmap and pmap): a collective is a linear map on the values
of *all* members stacked together, and its transpose is taken with the plain inner product on
that stack. psum maps (x_1..x_n) to (s, ..., s) with s = sum x_k, one copy per member: the
matrix is the all-ones block, symmetric, so psum transposes to psum (and pmean to pmean). So
vmap(grad(lambda x: psum(x, "i")), axis_name="i") gives n for every member, as in JAX: grad
of a mapped function is the gradient of the *sum over members* of its outputs. (JAX's newer
shard_map tracks which values are replicated and transposes psum to a copy, `pvary`; functrans
has no replication types, so it keeps the pmap meaning, which the dot-product test checks.)
all_gather and psum_scatter transpose to each other; ppermute to the inverse permutation.
For data-parallel training this means: take per-process gradients (grad inside pmap) and
average them with pmean; do not differentiate through a pmean of the loss expecting a mean.

pmax/pmin are not linear. JAX gives them no derivative; functrans gives them the JVP that
reduce_max has (the tangent shared equally among the members that attain the extreme).
"""
import functools
import threading
from contextlib import contextmanager

import numpy as np

from .. import mpi_world, tree_util
from ..backend.lowering import Driver
from ..core import dtypes
from ..core.aval import ShapedArray
from ..core.primitive import Cost, Primitive, Zero, is_undefined, tangent_aval
from ..core.trace import _state, current_stack_depth, find_top_main, get_aval
from . import _sparsity_rules as _sparsity
from ..transforms.vmap import AxisData
from ._batching import bdim_at
from .elementwise import add, convert_element_type, div, eq, mul
from .reductions import reduce_max, reduce_min, reduce_sum
from .shape import concatenate, full, iota, reshape, slice_in_dim

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "psum_scatter", "ppermute",
           "axis_index", "axis_size"]


# --- where an axis name is bound -----------------------------------------------------------------

class _MpiFrame:
    __slots__ = ("name", "world", "depth")

    def __init__(self, name, world, depth):
        self.name, self.world, self.depth = name, world, depth


class _Env(threading.local):
    def __init__(self):
        self.frames = []


_env = _Env()


@contextmanager
def mpi_axis(name, world):
    """Bind `name` to the processes of `world` (what pmap does while it traces and runs)."""
    _env.frames.append(_MpiFrame(name, world, current_stack_depth()))
    try:
        yield
    finally:
        _env.frames.pop()


def _named_batch_main(name):
    """The innermost live MainTrace of a vmap with axis_name `name`, or None."""
    for main in reversed(_state.stack):
        data = main.global_data
        if type(data) is AxisData and data.name == name and main.alive:
            return main
    return None


def _mpi_frame(name):
    for frame in reversed(_env.frames):
        if frame.name == name:
            return frame
    return None


def bound_axis_names():
    names = [m.global_data.name for m in _state.stack if type(m.global_data) is AxisData]
    return names + [f.name for f in _env.frames]


def _unbound(name, what):
    bound = bound_axis_names()
    return NameError(
        f"unbound axis name: {name!r} (in {what}). A collective names an axis that an enclosing "
        f"vmap(..., axis_name={name!r}) or pmap(..., axis_name={name!r}) maps over; "
        + (f"the axis names bound here are {bound}." if bound else "no axis name is bound here."))


def resolve(name, what):
    """('vmap', main, size) or ('mpi', frame, size) for the innermost binding of `name`."""
    main = _named_batch_main(name)
    frame = _mpi_frame(name)
    if main is not None and (frame is None or main.level >= frame.depth):
        return "vmap", main, main.global_data.size
    if frame is not None:
        return "mpi", frame, frame.world.size
    raise _unbound(name, what)


def axis_size(axis_name):
    """The number of members of a named axis (jax.lax.axis_size): the vmap's batch size, or the
    number of processes under pmap. A tuple of names gives the product."""
    names = axis_name if isinstance(axis_name, (tuple, list)) else (axis_name,)
    n = 1
    for name in names:
        n *= resolve(name, "axis_size")[2]
    return n


# --- the collective primitive type: bind finds the trace that owns the axis ----------------------

class CollectivePrimitive(Primitive):
    """A primitive whose bind also considers the trace of the vmap that binds its axis name, so
    that psum of a value that vmap does not batch (a constant, a closed-over array) still
    reaches that vmap, which knows the axis size. Each collective sets `own_axis_batch`, the
    batching rule a vmap over its own axis uses (see transforms/vmap.py)."""

    own_axis_batch = None

    def bind(self, *args, axis_name, mpi, **params):
        top = find_top_main(args)
        if not mpi:
            main = _named_batch_main(axis_name)
            if main is None:
                raise _unbound(axis_name, f"lax.{self.name}")
            if main.level > top.level:
                top = main
        trace = top.trace_type(top)
        tracers = [trace.full_raise(a) for a in args]
        outs = trace.process_primitive(self, tracers, dict(axis_name=axis_name, mpi=mpi,
                                                           **params))
        return outs if self.multiple_results else outs[0]


def _collective(name, impl_name, *, shape_rule, multiple_results, jac_structure, doc):
    def impl(*args, axis_name, mpi, **params):
        if not mpi:
            return _invariant_impl(name, args, axis_name, params)
        return _RUNTIME[impl_name](mpi_world.world(), name, args, **params)
    p = CollectivePrimitive(name, impl=impl, shape_rule=shape_rule,
                            multiple_results=multiple_results, jac_structure=jac_structure, doc=doc)
    p.def_lowering(Driver(_driver_emit(p)))
    return p


def _invariant_impl(name, args, axis_name, params):
    """A vmap collective applied to concrete values: the compiled code of a jitted function
    whose operands vmap does not batch (jit then runs without consulting vmap). Every member
    holds the same values, so the reductions are known; results that differ per member are not
    (they need a batched operand)."""
    kind, _, size = resolve(axis_name, f"lax.{name}")
    if kind != "vmap":
        raise _unbound(axis_name, f"lax.{name}")
    xs = [np.asarray(a) for a in args]
    if name == "psum":
        return [x * np.asarray(size, x.dtype) if x.dtype != np.bool_ else x.copy() for x in xs]
    if name in ("pmax", "pmin"):
        return [x.copy() for x in xs]
    if name == "all_gather":
        _check_size(name, dict(params, axis_name=axis_name), size)
        stacked = np.stack([xs[0]] * size, axis=params["axis"])
        if params["tiled"]:
            a = params["axis"]
            stacked = stacked.reshape(stacked.shape[:a] + (-1,) + stacked.shape[a + 2:])
        return stacked
    raise ValueError(
        f"lax.{name} over axis {axis_name!r} inside a jitted function none of whose operands "
        f"the vmap batches: its result differs from member to member, which the compiled code "
        "cannot express. Pass a batched value to the jitted function (or call it outside jit).")


def _driver_emit(prim):
    """jit lowering: the driver calls the MPI runtime on the operands' buffers."""
    def emit(ctx, args, **params):
        f = ctx.bind_global(functools.partial(prim.impl, **params), f"mpi_{prim.name}")
        return f"{f}({', '.join(args)})"
    return emit


def _check_size(name, params, size):
    want = params.get("axis_size")
    if want is not None and want != size:
        raise ValueError(f"lax.{name} over axis {params['axis_name']!r} was staged for an axis "
                         f"of size {want} but runs where it has size {size}: trace the "
                         "function again for this axis (a new jit/pmap)")


# --- psum, pmax, pmin: variadic reductions over the members --------------------------------------

def _same_avals(name):
    def rule(*avals, axis_name, mpi, **params):
        for a in avals:
            if a.dtype.kind not in "biufc":
                raise TypeError(f"lax.{name} requires numeric operands, got {a.str_short()}")
        return list(avals)
    return rule


def _reduce_cost(*avals, **params):
    moved = sum(a.size * a.dtype.itemsize for a in avals)
    # One combine per element per member; in memory, the operand and result (the network cost
    # of an allreduce is in docs/distributed.md: it is not a FLOP count).
    return Cost(float(sum(a.size for a in avals)), 2.0 * moved)


def _other_axis_batch(prim):
    """Under a vmap of another axis, a reduction over members is elementwise in the batch."""
    def rule(args, dims, **params):
        return prim.bind(*args, **params), list(dims)
    return rule


psum_p = _collective("psum", "sum", shape_rule=_same_avals("psum"), multiple_results=True,
                     jac_structure="all-ones blocks between members (identity within a member)",
                     doc="sum over the members of a named axis")
pmax_p = _collective("pmax", "max", shape_rule=_same_avals("pmax"), multiple_results=True,
                     jac_structure="selection of the maximal member (shared at ties)",
                     doc="maximum over the members of a named axis")
pmin_p = _collective("pmin", "min", shape_rule=_same_avals("pmin"), multiple_results=True,
                     jac_structure="selection of the minimal member (shared at ties)",
                     doc="minimum over the members of a named axis")

for _p in (psum_p, pmax_p, pmin_p):
    _p.def_batch(_other_axis_batch(_p))
    _p.def_cost(_reduce_cost)
    _p.def_sparsity(_sparsity.elementwise, exact=False)   # each member: its own element (+others)


@psum_p.def_jvp
def _psum_jvp(primals, tangents, **params):
    outs = psum_p.bind(*primals, **params)
    nz = [i for i, t in enumerate(tangents) if not isinstance(t, Zero)]
    touts = psum_p.bind(*[tangents[i] for i in nz], **params) if nz else []
    t_out = [Zero(tangent_aval(get_aval(o))) for o in outs]
    for i, t in zip(nz, touts):
        t_out[i] = t
    return outs, t_out


@psum_p.def_transpose
def _psum_transpose(cts, *args, **params):
    # psum is symmetric on the stacked members: its transpose is psum (see the module notes).
    nz = [i for i, c in enumerate(cts) if not isinstance(c, Zero)]
    summed = psum_p.bind(*[cts[i] for i in nz], **params) if nz else []
    out = [Zero(a.aval) if is_undefined(a) else None for a in args]
    for i, c in zip(nz, summed):
        out[i] = c
    return out


def _psum_own(vals, dims, size, **params):
    outs = []
    for x, d in zip(vals, dims):
        if d is None:     # every member holds x: the sum is size * x
            aval = get_aval(x)
            k = np.asarray(size, aval.dtype) if aval.dtype.kind != "b" else None
            outs.append(mul(x, k[()]) if k is not None else x)
        else:
            aval = get_aval(x)
            if aval.dtype.kind == "b":    # a sum of booleans is a logical or (numpy's rule)
                y = reduce_sum(convert_element_type(x, np.int64), (d,))
                outs.append(convert_element_type(y, np.bool_))
            else:
                outs.append(reduce_sum(x, (d,)))
    return outs, [None] * len(outs)


psum_p.own_axis_batch = _psum_own


def _extreme_own(which):
    def rule(vals, dims, size, **params):
        red = reduce_max if which == "max" else reduce_min
        return [x if d is None else red(x, (d,)) for x, d in zip(vals, dims)], \
            [None] * len(vals)
    return rule


pmax_p.own_axis_batch = _extreme_own("max")
pmin_p.own_axis_batch = _extreme_own("min")


def _extreme_jvp(prim):
    def rule(primals, tangents, **params):
        outs = prim.bind(*primals, **params)
        t_out = []
        for x, y, t in zip(primals, outs, tangents):
            if isinstance(t, Zero) or get_aval(x).dtype.kind not in "fc":
                t_out.append(Zero(tangent_aval(get_aval(y))))
                continue
            # The tangent of the members that attain the extreme, averaged over them.
            hit = convert_element_type(eq(x, y), get_aval(x).dtype)
            # (Two binds: the count is primal work, the sum of tangents is linear.)
            count, = psum_p.bind(hit, **params)
            num, = psum_p.bind(mul(t, hit), **params)
            t_out.append(div(num, count))
        return outs, t_out
    prim.def_jvp(rule)


_extreme_jvp(pmax_p)
_extreme_jvp(pmin_p)


# --- all_gather and psum_scatter: each other's transpose -----------------------------------------

def _all_gather_shape(x, *, axis_name, mpi, axis_size, axis, tiled):
    if not 0 <= axis <= x.ndim - (1 if tiled else 0):
        raise ValueError(f"lax.all_gather: axis {axis} is out of range for an operand "
                         f"{x.str_short()}{' (tiled)' if tiled else ''}")
    shape = list(x.shape)
    if tiled:
        shape[axis] *= axis_size
    else:
        shape.insert(axis, axis_size)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


all_gather_p = _collective("all_gather", "all_gather", shape_rule=_all_gather_shape,
                           multiple_results=False,
                           jac_structure="a stack of the members' identities (a selection)",
                           doc="every member's value, stacked (or concatenated if tiled)")


@all_gather_p.def_jvp
def _all_gather_jvp(primals, tangents, **params):
    out = all_gather_p.bind(primals[0], **params)
    t = tangents[0]
    return out, (Zero(tangent_aval(get_aval(out))) if isinstance(t, Zero)
                 else all_gather_p.bind(t, **params))


@all_gather_p.def_transpose
def _all_gather_transpose(ct, x, *, axis_name, mpi, axis_size, axis, tiled):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [psum_scatter_p.bind(ct, axis_name=axis_name, mpi=mpi, axis_size=axis_size,
                                scatter_dimension=axis, tiled=tiled)]


@all_gather_p.def_batch
def _all_gather_other(args, dims, *, axis, tiled, **params):
    (x,), (b,) = args, dims
    if tiled:
        new_axis = axis if axis < b else axis + 1
        return all_gather_p.bind(x, axis=new_axis, tiled=True, **params), b
    new_axis = axis if axis <= b else axis + 1
    return all_gather_p.bind(x, axis=new_axis, tiled=False, **params), \
        (b + 1 if axis <= b else b)


def _all_gather_own(vals, dims, size, *, axis, tiled, **params):
    _check_size("all_gather", params, size)
    (x,), (b,) = vals, dims
    y = bdim_at(x, b, size, axis)       # the members' values, stacked at `axis`
    if tiled:
        shape = list(get_aval(y).shape)
        shape[axis:axis + 2] = [shape[axis] * shape[axis + 1]]
        y = reshape(y, tuple(shape))
    return [y], [None]


all_gather_p.own_axis_batch = _all_gather_own
all_gather_p.def_cost(lambda x, **p: Cost(0.0, 2.0 * x.size * x.dtype.itemsize * p["axis_size"]))
all_gather_p.def_sparsity(_sparsity.dense, exact=False)


def _psum_scatter_shape(x, *, axis_name, mpi, axis_size, scatter_dimension, tiled):
    d = scatter_dimension
    if not 0 <= d < x.ndim:
        raise ValueError(f"lax.psum_scatter: scatter_dimension {d} is out of range for an "
                         f"operand {x.str_short()}")
    shape = list(x.shape)
    if tiled:
        if shape[d] % axis_size:
            raise ValueError(f"lax.psum_scatter (tiled): dimension {d} of {x.str_short()} must "
                             f"be a multiple of the axis size {axis_size}")
        shape[d] //= axis_size
    else:
        if shape[d] != axis_size:
            raise ValueError(f"lax.psum_scatter: dimension {d} of {x.str_short()} must equal "
                             f"the size {axis_size} of axis {axis_name!r} (or use tiled=True)")
        del shape[d]
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


psum_scatter_p = _collective("psum_scatter", "psum_scatter", shape_rule=_psum_scatter_shape,
                             multiple_results=False,
                             jac_structure="all-ones blocks between members, one slice each",
                             doc="the members' sum, each member keeping its slice")


@psum_scatter_p.def_jvp
def _psum_scatter_jvp(primals, tangents, **params):
    out = psum_scatter_p.bind(primals[0], **params)
    t = tangents[0]
    return out, (Zero(tangent_aval(get_aval(out))) if isinstance(t, Zero)
                 else psum_scatter_p.bind(t, **params))


@psum_scatter_p.def_transpose
def _psum_scatter_transpose(ct, x, *, axis_name, mpi, axis_size, scatter_dimension, tiled):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [all_gather_p.bind(ct, axis_name=axis_name, mpi=mpi, axis_size=axis_size,
                              axis=scatter_dimension, tiled=tiled)]


@psum_scatter_p.def_batch
def _psum_scatter_other(args, dims, *, scatter_dimension, tiled, **params):
    (x,), (b,) = args, dims
    d = scatter_dimension + (b <= scatter_dimension)
    out = psum_scatter_p.bind(x, scatter_dimension=d, tiled=tiled, **params)
    return out, (b if tiled or b < d else b - 1)


def _psum_scatter_own(vals, dims, size, *, scatter_dimension, tiled, **params):
    _check_size("psum_scatter", params, size)
    (s,), _ = _psum_own(vals, dims, size)   # the sum, which every member holds
    d = scatter_dimension
    if tiled:                           # member k keeps chunk k of dimension d
        shape = list(get_aval(s).shape)
        shape[d:d + 1] = [size, shape[d] // size]
        s = reshape(s, tuple(shape))
    return [s], [d]                     # member k keeps index k of dimension d


psum_scatter_p.own_axis_batch = _psum_scatter_own
psum_scatter_p.def_cost(_reduce_cost)
psum_scatter_p.def_sparsity(_sparsity.dense, exact=False)


# --- ppermute ------------------------------------------------------------------------------------

def _ppermute_shape(x, *, axis_name, mpi, perm):
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"lax.ppermute: perm {perm} sends from or to a member twice; it must "
                         "be a partial permutation (distinct sources, distinct destinations)")
    return x


ppermute_p = _collective("ppermute", "ppermute", shape_rule=_ppermute_shape,
                         multiple_results=False,
                         jac_structure="a permutation of the members (identity within one)",
                         doc="member d receives member s's value for each (s, d) in perm; "
                             "members that receive nothing get zeros")


@ppermute_p.def_jvp
def _ppermute_jvp(primals, tangents, **params):
    out = ppermute_p.bind(primals[0], **params)
    t = tangents[0]
    return out, (Zero(tangent_aval(get_aval(out))) if isinstance(t, Zero)
                 else ppermute_p.bind(t, **params))


@ppermute_p.def_transpose
def _ppermute_transpose(ct, x, *, perm, **params):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [ppermute_p.bind(ct, perm=tuple((d, s) for s, d in perm), **params)]


ppermute_p.def_batch(lambda args, dims, **params: (ppermute_p.bind(args[0], **params), dims[0]))


def _ppermute_own(vals, dims, size, *, perm, **params):
    if any(not 0 <= i < size for pair in perm for i in pair):
        raise ValueError(f"lax.ppermute: perm {perm} names a member outside axis "
                         f"{params['axis_name']!r} of size {size}")
    (x,), (b,) = vals, dims
    x = bdim_at(x, b, size, 0)
    source = {d: s for s, d in perm}
    aval = get_aval(x)
    parts = [slice_in_dim(x, source[k], source[k] + 1, axis=0) if k in source else
             full((1,) + aval.shape[1:], 0, aval.dtype) for k in range(size)]
    return [concatenate(parts, 0)], [0]


ppermute_p.own_axis_batch = _ppermute_own
ppermute_p.def_cost(lambda x, **p: Cost(0.0, 2.0 * x.size * x.dtype.itemsize))
ppermute_p.def_sparsity(_sparsity.elementwise, exact=False)


# --- axis_index ----------------------------------------------------------------------------------

axis_index_p = _collective(
    "axis_index", "axis_index",
    shape_rule=lambda *, axis_name, mpi: ShapedArray((), np.dtype(np.int32), False),
    multiple_results=False, jac_structure="none (an integer with no operands)",
    doc="the index of this member along a named axis")


@axis_index_p.def_jvp
def _axis_index_jvp(primals, tangents, **params):
    out = axis_index_p.bind(**params)
    return out, Zero(tangent_aval(get_aval(out)))


# No operands: a vmap of another axis never batches it (it is the same for all its members).
axis_index_p.def_batch(lambda args, dims, **params: (axis_index_p.bind(**params), None))
axis_index_p.def_cost(lambda **params: Cost(0.0, 4.0))
axis_index_p.def_sparsity(_sparsity.zero)


def _axis_index_own(vals, dims, size, **params):
    return [iota(np.int32, size)], [0]


axis_index_p.own_axis_batch = _axis_index_own


# --- the MPI runtime: what the impls (and so the jit driver) run under pmap ----------------------

def _contiguous(x):
    return np.asarray(x, order="C")     # (ascontiguousarray would make a 0-d array 1-d)


def _run_reduce(op):
    def run(world, name, args, **params):
        xs = [np.asarray(a) for a in args]
        world.check_same(name, xs)
        outs = [None] * len(xs)
        # One Allreduce per dtype on one packed buffer: fewer latency terms than one per leaf.
        by_dtype = {}
        for i, x in enumerate(xs):
            by_dtype.setdefault(x.dtype, []).append(i)
        for dtype, idx in by_dtype.items():
            if len(idx) == 1:
                buf = np.array(xs[idx[0]], dtype=dtype, copy=True, order="C")
            else:
                buf = np.concatenate([xs[i].ravel() for i in idx])
            world.allreduce_inplace(buf, op)
            if len(idx) == 1:
                outs[idx[0]] = buf.reshape(xs[idx[0]].shape)
            else:
                offset = 0
                for i in idx:
                    n = xs[i].size
                    outs[i] = buf[offset:offset + n].reshape(xs[i].shape)
                    offset += n
        return outs
    return run


def _run_all_gather(world, name, args, *, axis_size, axis, tiled):
    _check_size(name, {"axis_size": axis_size, "axis_name": "?"}, world.size)
    x = _contiguous(args[0])
    world.check_same(name, [x])
    recv = np.empty((world.size,) + x.shape, x.dtype)
    world.allgather(x, recv)
    if tiled:
        return np.concatenate(list(recv), axis=axis)
    return np.moveaxis(recv, 0, axis).copy()


def _run_psum_scatter(world, name, args, *, axis_size, scatter_dimension, tiled):
    _check_size(name, {"axis_size": axis_size, "axis_name": "?"}, world.size)
    x = np.asarray(args[0])
    world.check_same(name, [x])
    d, n = scatter_dimension, world.size
    if tiled:
        x = x.reshape(x.shape[:d] + (n, x.shape[d] // n) + x.shape[d + 1:])
    xm = np.ascontiguousarray(np.moveaxis(x, d, 0))
    recv = np.empty(xm.shape[1:], xm.dtype)
    world.reduce_scatter(xm, recv)
    return recv


def _run_ppermute(world, name, args, *, perm):
    x = _contiguous(args[0])
    world.check_same(name, [x])
    me = world.rank
    if any(not 0 <= i < world.size for pair in perm for i in pair):
        raise ValueError(f"lax.ppermute: perm {perm} names a process outside 0..{world.size - 1}")
    dst = [d for s, d in perm if s == me]
    src = [s for s, d in perm if d == me]
    out = np.zeros_like(x)
    world.permute(x, out, dst[0] if dst else None, src[0] if src else None)
    return out


def _run_axis_index(world, name, args):
    return np.int32(world.rank)


_RUNTIME = {"sum": _run_reduce("sum"), "max": _run_reduce("max"), "min": _run_reduce("min"),
            "all_gather": _run_all_gather, "psum_scatter": _run_psum_scatter,
            "ppermute": _run_ppermute, "axis_index": _run_axis_index}


# --- the lax functions ---------------------------------------------------------------------------

def _names(axis_name):
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _bound(name, what):
    kind, _, size = resolve(name, what)
    return dict(axis_name=name, mpi=kind == "mpi"), size


def _tree_reduce(prim, x, axis_name, what):
    leaves, tree = tree_util.tree_flatten(x)
    for name in _names(axis_name):
        params, _ = _bound(name, what)
        if leaves:
            leaves = list(prim.bind(*leaves, **params))
    return tree_util.tree_unflatten(tree, leaves)


def psum(x, axis_name):
    """Sum of x (a pytree) over the members of the named axis (or axes) (jax.lax.psum)."""
    return _tree_reduce(psum_p, x, axis_name, "lax.psum")


def pmean(x, axis_name):
    """Mean of x (a pytree) over the members of the named axis (or axes): psum / axis size."""
    n = axis_size(axis_name)

    def mean(v):
        aval = get_aval(v)
        if aval.dtype.kind in "fc":
            return div(v, np.asarray(n, aval.dtype)[()])
        # Integers: true division, as JAX's v / n, in the float dtype numpy-style promotion of
        # (v, the Python int n) gives.
        dtype, weak = dtypes.result_type((aval.dtype, aval.weak_type),
                                         (dtypes.python_scalar_dtype(n), True))
        dtype = dtypes.to_inexact(dtype, weak)
        return div(convert_element_type(v, dtype, weak_type=weak), np.asarray(n, dtype)[()])
    return tree_util.tree_map(mean, psum(x, axis_name))


def pmax(x, axis_name):
    """Maximum of x (a pytree) over the members of the named axis (or axes)."""
    return _tree_reduce(pmax_p, x, axis_name, "lax.pmax")


def pmin(x, axis_name):
    """Minimum of x (a pytree) over the members of the named axis (or axes)."""
    return _tree_reduce(pmin_p, x, axis_name, "lax.pmin")


def _one_name(axis_name, what):
    names = _names(axis_name)
    if len(names) != 1:
        raise NotImplementedError(f"lax.{what} over several axes {names}: functrans supports "
                                  "one axis name here; nest the calls instead")
    return names[0]


def all_gather(x, axis_name, *, axis=0, tiled=False):
    """Every member's x, stacked along a new axis `axis` (concatenated along `axis` if tiled)
    (jax.lax.all_gather). x may be a pytree."""
    params, size = _bound(_one_name(axis_name, "all_gather"), "lax.all_gather")

    def one(v):
        ndim = get_aval(v).ndim
        a = axis % (ndim + (0 if tiled else 1)) if ndim or not tiled else axis
        return all_gather_p.bind(v, axis_size=size, axis=int(a), tiled=bool(tiled), **params)
    return tree_util.tree_map(one, x)


def psum_scatter(x, axis_name, *, scatter_dimension=0, tiled=False):
    """The members' sum of x, member k keeping index k (chunk k if tiled) of
    `scatter_dimension` (jax.lax.psum_scatter). x may be a pytree."""
    params, size = _bound(_one_name(axis_name, "psum_scatter"), "lax.psum_scatter")

    def one(v):
        d = scatter_dimension % max(get_aval(v).ndim, 1)
        return psum_scatter_p.bind(v, axis_size=size, scatter_dimension=int(d),
                                   tiled=bool(tiled), **params)
    return tree_util.tree_map(one, x)


def ppermute(x, axis_name, perm):
    """Send x from member s to member d for each pair (s, d) of perm; members that receive
    nothing get zeros (jax.lax.ppermute). x may be a pytree."""
    params, _ = _bound(_one_name(axis_name, "ppermute"), "lax.ppermute")
    perm = tuple((int(s), int(d)) for s, d in perm)
    return tree_util.tree_map(lambda v: ppermute_p.bind(v, perm=perm, **params), x)


def axis_index(axis_name):
    """This member's index along the named axis, an int32 (jax.lax.axis_index). A tuple of
    names gives the index in their row-major product."""
    out = None
    for name in _names(axis_name):
        params, size = _bound(name, "lax.axis_index")
        i = axis_index_p.bind(**params)
        out = i if out is None else add(mul(out, np.int32(size)), i)
    return out
