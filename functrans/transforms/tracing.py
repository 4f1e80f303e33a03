"""Tracing Python functions of pytrees to programs: make_jaxpr, eval_shape, and the tracing
they share (static arguments, flattening, names of arguments for error messages). The staging
interpreter itself is core/staging.py."""
import inspect

from ..core import pytree
from ..core.staging import ShapeDtypeStruct, abstractify, stage


def split_static(args, static_argnums, fun_name):
    n = len(args)
    static = set()
    for i in (static_argnums if isinstance(static_argnums, (tuple, list)) else (static_argnums,)):
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise ValueError(f"static_argnums {static_argnums} is out of range for {fun_name} "
                             f"called with {n} positional arguments")
        static.add(j)
    return static


def argument_origins(fun, args, flat_paths):
    """'argument x' strings for each flat input, to name traced values in errors."""
    try:
        names = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        names = []
    origins = []
    for argnum, path in flat_paths:
        name = names[argnum] if argnum < len(names) else f"#{argnum}"
        origins.append(f"derived from argument {name!r}{path} of "
                       f"{getattr(fun, '__name__', 'the function')}")
    return origins


def trace_to_program(fun, args, kwargs=None, static_argnums=(), dynamic=True):
    """Trace fun(*args, **kwargs) with abstract array arguments. Returns
    (closed_program, out_treedef, in_treedef): the program's inputs are the flat leaves of the
    non-static positional args followed by the kwargs."""
    kwargs = kwargs or {}
    static = split_static(args, static_argnums, getattr(fun, "__name__", "function"))
    dyn_args = tuple(a for i, a in enumerate(args) if i not in static)
    leaves, in_tree = pytree.tree_flatten((dyn_args, kwargs))
    in_avals = [abstractify(x) for x in leaves]
    dyn_positions = [i for i in range(len(args)) if i not in static]
    paths = []
    for argnum, a in zip(dyn_positions, dyn_args):
        sub = pytree.tree_leaves(a)
        paths += [(argnum, "" if len(sub) == 1 else f"[leaf {k}]") for k in range(len(sub))]
    for k, v in sorted(kwargs.items()):
        paths += [(k, "")] * len(pytree.tree_leaves(v))
    origins = []
    for (argnum, path) in paths:
        if isinstance(argnum, str):
            origins.append(f"derived from keyword argument {argnum!r}")
        else:
            origins.extend(argument_origins(fun, args, [(argnum, path)]))
    out_tree_box = []

    def flat_fun(in_tracers):
        d_args, kw = pytree.tree_unflatten(in_tree, in_tracers)
        it = iter(d_args)
        full = [a if i in static else next(it) for i, a in enumerate(args)]
        out = fun(*full, **kw)
        out_leaves, out_tree = pytree.tree_flatten(out)
        out_tree_box.append(out_tree)
        return out_leaves

    closed = stage(flat_fun, in_avals, origins, dynamic=dynamic)
    return closed, out_tree_box[0], in_tree


def make_jaxpr(fun, static_argnums=(), return_shape=False):
    """make_jaxpr(f)(*args) -> the ClosedProgram that f computes on arrays shaped like args."""
    def traced(*args, **kwargs):
        closed, out_tree, _ = trace_to_program(fun, args, kwargs, static_argnums)
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in closed.out_avals]
            return closed, pytree.tree_unflatten(out_tree, shapes)
        return closed
    traced.__name__ = f"make_jaxpr({getattr(fun, '__name__', 'fun')})"
    return traced


def eval_shape(fun, *args, **kwargs):
    """The shapes and dtypes fun(*args) would return, computed without running it."""
    closed, tree, _ = trace_to_program(fun, args, kwargs)
    shapes = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in closed.out_avals]
    return pytree.tree_unflatten(tree, shapes)
