"""``functrans.debug``: look at values from inside transformed functions.

    functrans.debug.print("x = {x}, y = {}", y, x=x)
    functrans.debug.callback(fn, *args, **kwargs)
    functrans.debug.breakpoint()

All three stage a `debug_callback` equation: a primitive with no outputs whose impl calls a
Python function on concrete numpy values. Eagerly it runs at once; under jit the compiled
program's driver calls it (so it prints the actual values at run time, in program order); under
vmap it runs once per batch member, in member order; under jvp/grad it sees the primal values
(its JVP rule drops the tangents); inside loops it runs at every iteration. Having no outputs,
it never appears in a linear program, so it needs no transpose rule.

The checks behind `functrans.config.update("debug_nans", True)` are in core/value_checks.py.
"""
import sys

import numpy as np

from . import tree_util
from .core.primitive import Cost, Primitive
from .backend.lowering import impl_call
from .core.trace import Tracer
from .primitives.shape import index_in_dim

__all__ = ["print", "callback", "breakpoint"]

_builtin_print = print


# --- the primitive ------------------------------------------------------------------------------

def _debug_callback_impl(*args, callback, label):
    callback(*args)
    return []


debug_callback_p = Primitive(
    "debug_callback", impl=_debug_callback_impl, shape_rule=lambda *avals, **params: [],
    multiple_results=True, jac_structure="none (no outputs: a side effect on the host)")


@debug_callback_p.def_jvp
def _debug_callback_jvp(primals, tangents, *, callback, label):
    # The callback sees primal values only; there is nothing to differentiate.
    debug_callback_p.bind(*primals, callback=callback, label=label)
    return [], []


@debug_callback_p.def_batch
def _debug_callback_batch(args, dims, *, callback, label):
    size = next((np.shape(a)[d] if not hasattr(a, "aval") else a.aval.shape[d]
                 for a, d in zip(args, dims) if d is not None), None)
    if size is None:
        debug_callback_p.bind(*args, callback=callback, label=label)
        return [], []
    for i in range(size):     # one call per batch member, in order
        member = [a if d is None else index_in_dim(a, i, d, keepdims=False)
                  for a, d in zip(args, dims)]
        debug_callback_p.bind(*member, callback=callback, label=label)
    return [], []


debug_callback_p.def_cost(lambda *avals, **params: Cost(0, sum(a.size * a.dtype.itemsize
                                                               for a in avals)))
debug_callback_p.def_sparsity(lambda ins, out_avals, **params: [])
debug_callback_p.effectful = True      # never removed as dead code: it has no outputs to use


def _install_lowering():
    # The compiled program's Python driver calls the impl between kernels, in program order.
    debug_callback_p.def_lowering(impl_call(debug_callback_p))


_install_lowering()


# --- the user-facing functions ------------------------------------------------------------------

def callback(callback, *args, ordered=False, **kwargs):
    """Call `callback(*args, **kwargs)` with the concrete values of args and kwargs (pytrees of
    arrays) when the program runs, eagerly or compiled. Returns None; callback's result is
    ignored. Calls happen in program order (`ordered` is accepted for JAX compatibility)."""
    leaves, tree = tree_util.tree_flatten((args, kwargs))
    name = getattr(callback, "__name__", "callback")

    def flat_callback(*values):
        a, k = tree_util.tree_unflatten(tree, [np.asarray(v) for v in values])
        callback(*a, **k)

    flat_callback.__name__ = name
    debug_callback_p.bind(*leaves, callback=flat_callback, label=name)


def print(fmt, *args, ordered=False, **kwargs):  # noqa: A001  (jax.debug.print's name)
    """Print `fmt.format(*args, **kwargs)` with the actual values, also from inside jit, vmap
    (once per batch member), grad (the primal values) and loops (every iteration)."""
    if not isinstance(fmt, str):
        raise TypeError(f"functrans.debug.print: the format must be a str, got "
                        f"{type(fmt).__name__}")

    def show(*a, **k):
        _builtin_print(fmt.format(*a, **k))
        sys.stdout.flush()

    show.__name__ = "debug_print"
    callback(show, *args, **kwargs)


def breakpoint(*, ordered=False, num_frames=None, stdin=None, stdout=None):  # noqa: A001
    """Stop in pdb when the program runs, with the caller's array-valued local variables
    bound to their actual values (also inside jit and vmap: once per member). Commands are
    pdb's: `p x`, `pp x`, `c` to continue. stdin/stdout redirect the debugger (for tests)."""
    import pdb
    frame = sys._getframe(1)
    names, values = [], []
    for k, v in frame.f_locals.items():
        if isinstance(v, (Tracer, np.ndarray, np.generic)):
            names.append(k)
            values.append(v)
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    env_globals = dict(frame.f_globals)

    def stop(*vals):
        env = dict(zip(names, vals))
        out = stdout or sys.stdout
        out.write(f"functrans.debug.breakpoint at {where}; locals: {', '.join(names)}\n")
        dbg = pdb.Pdb(stdin=stdin, stdout=stdout)
        if stdin is not None:
            dbg.use_rawinput = False
        dbg.run("pass", env_globals, env)

    stop.__name__ = "debug_breakpoint"
    callback(stop, *values)
