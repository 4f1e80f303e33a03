"""closure_convert: hoist the values a function closes over into explicit arguments.

Custom derivative rules see only their formal arguments; a differentiable value hidden in the
closure of a function passed to them would get no derivative. `closure_convert(fun, *args)`
traces fun at the avals of args and returns (converted, consts) with
converted(*args, *consts) == fun(*args): every inexact (float or complex) value fun reads from
its closure, directly or through the functions it calls, becomes one of `consts`. Integer and
boolean constants cannot carry a derivative and stay inside, as in JAX.
"""
import numpy as np

from .. import tree_util
from ..core import dtypes
from ..core.ir import Program
from ..core.staging import abstractify, eval_program, stage
from ..core.trace import Tracer, get_aval


def closure_convert(fun, *example_args):
    """(converted, consts): converted(*args, *consts) computes fun(*args); consts are the
    inexact values fun closes over, in the order the traced program first uses them."""
    flat, in_tree = tree_util.tree_flatten(example_args)
    out_tree_box = []

    def flat_fun(leaves):
        out = fun(*tree_util.tree_unflatten(in_tree, leaves))
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_tree_box.append(out_tree)
        return out_leaves

    closed = stage(flat_fun, [abstractify(x) for x in flat])
    prog = closed.program
    hoist = [dtypes.is_inexact(get_aval(c).dtype) for c in closed.consts]
    kept_vars = [v for v, h in zip(prog.constvars, hoist) if not h]
    kept = [c for c, h in zip(closed.consts, hoist) if not h]
    hoisted_vars = [v for v, h in zip(prog.constvars, hoist) if h]
    hoisted = [c for c, h in zip(closed.consts, hoist) if h]
    opened = Program(tuple(kept_vars), prog.invars + tuple(hoisted_vars), prog.eqns, prog.outvars)
    out_tree = out_tree_box[0]
    n_args = len(example_args)
    name = getattr(fun, "__name__", "fun")

    def converted(*args):
        if len(args) != n_args + len(hoisted):
            raise TypeError(f"closure_convert({name}): the converted function takes the "
                            f"{n_args} original argument(s) followed by {len(hoisted)} hoisted "
                            f"value(s); got {len(args)} argument(s)")
        leaves, tree = tree_util.tree_flatten(tuple(args[:n_args]))
        if tree != in_tree:
            raise TypeError(f"closure_convert({name}): arguments of structure {tree}, but the "
                            f"function was converted for {in_tree}")
        outs = eval_program(opened, kept, list(leaves) + list(args[n_args:]))
        return tree_util.tree_unflatten(out_tree, outs)

    converted.__name__ = f"closure_converted({name})"
    return converted, hoisted


def closed_over_tracers(fun, skip=()):
    """Tracers reachable from fun's Python closure cells and default arguments (recursively
    through nested functions, bound methods and plain containers). The fallback of the check
    that custom rules close over no traced value, for functions that branch on their primal
    values and so cannot be traced abstractly. Values reached only through globals or object
    attributes are not seen."""
    found, seen = [], set()

    def walk(x, depth):
        if id(x) in seen or depth > 8 or isinstance(x, skip):
            return
        seen.add(id(x))
        if isinstance(x, Tracer):
            found.append(x)
        elif isinstance(x, (list, tuple, set, frozenset)):
            for c in x:
                walk(c, depth + 1)
        elif isinstance(x, dict):
            for c in x.values():
                walk(c, depth + 1)
        elif isinstance(x, np.ndarray):
            return
        elif hasattr(x, "__func__") and hasattr(x, "__self__"):      # bound method
            walk(x.__func__, depth + 1)
        elif callable(x):
            for cell in getattr(x, "__closure__", None) or ():
                try:
                    walk(cell.cell_contents, depth + 1)
                except ValueError:      # an empty cell
                    pass
            walk(getattr(x, "__defaults__", None) or (), depth + 1)
            walk(getattr(x, "__wrapped__", None), depth + 1)
            if hasattr(x, "func") and hasattr(x, "args"):              # functools.partial
                walk(x.func, depth + 1)
                walk(x.args, depth + 1)
                walk(x.keywords, depth + 1)

    walk(fun, 0)
    return found
