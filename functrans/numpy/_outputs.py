"""The one place where functrans.numpy's public functions hand results back to the user.

`wrap_namespace` replaces each public function of functrans.numpy (and of fnp.linalg and
fnp.fft) by a thin wrapper. Internal calls between fnp modules use the unwrapped functions,
so only the user's outermost call pays for it. The wrapper:
  - checks eager results for NaNs/infs when functrans.config's debug_nans/debug_infs is on,
    naming the function and the user's line (traced results are checked by the primitives);
  - returns eager numpy results as read-only functrans Arrays (core/array.py: JAX's
    immutability, .at, in-place operators that rebind), leaving traced results alone.
"""
import functools
import types

import numpy as np

from ..core.config import config as _config
from ..core.array import Array, wrap_tree

_ndarray = np.ndarray
_nd_view = np.ndarray.view
_setflags = np.ndarray.setflags
from ..core.value_checks import check_function_outputs

__all__ = []

# Results wrap_tree leaves unchanged (numpy scalars: what eager reductions return).
_NUMPY_SCALARS = frozenset(np.dtype(c).type for c in np.typecodes["All"])


def _check(name, out):
    check_function_outputs(f"fnp.{name}", out)


def _finish(name, out):
    """The result of a public function, off the fast path: checked when debug_nans/infs is on,
    its arrays made Arrays."""
    if _config.checks_values:
        _check(name, out)
    return wrap_tree(out)


def _wrap(fn, name):
    # Written out per arity (unary and binary functions with positional-only parameters, the
    # elementwise ones: a hundred of them), and the common result (one array, no value checks)
    # made an Array inline: *args packing and a helper call would each add a call's worth of
    # overhead to every operation.
    code = fn.__code__
    plain_positional = code.co_kwonlyargcount == 0 and not code.co_flags & 0x0C and \
        code.co_argcount == code.co_posonlyargcount
    if plain_positional and code.co_argcount == 1:
        def wrapper(x, /):
            out = fn(_nd_view(x, _ndarray) if type(x) is Array else x)
            if type(out) is _ndarray and not _config.checks_values:
                out = _nd_view(out, Array)
                _setflags(out, False)
                return out
            return _finish(name, out)
    elif plain_positional and code.co_argcount == 2:
        def wrapper(x, y, /):
            out = fn(_nd_view(x, _ndarray) if type(x) is Array else x,
                     _nd_view(y, _ndarray) if type(y) is Array else y)
            if type(out) is _ndarray and not _config.checks_values:
                out = _nd_view(out, Array)
                _setflags(out, False)
                return out
            return _finish(name, out)
    else:
        def wrapper(*args, **kwargs):
            # Arrays go in as plain read-only views: numpy's fast paths (and fnp's) test for
            # exactly np.ndarray, and a subclass costs extra inside every ufunc call.
            for a in args:
                if type(a) is Array:
                    args = tuple([_nd_view(a, _ndarray) if type(a) is Array else a
                                  for a in args])
                    break
            out = fn(*args, **kwargs)
            if not _config.checks_values:
                t = type(out)
                if t is _ndarray:
                    out = _nd_view(out, Array)
                    _setflags(out, False)
                    return out
                if t in _NUMPY_SCALARS:         # a reduction's scalar: returned as it is
                    return out
            return _finish(name, out)
    wrapper = functools.wraps(fn)(wrapper)
    wrapper.__wrapped_fnp__ = fn
    return wrapper


def wrap_namespace(ns, prefix=""):
    """Wrap every public function in the dict `ns` that functrans.numpy defines: the names in
    its __all__ where it has one (a submodule's helpers imported from its siblings stay plain)."""
    public = ns.get("__all__")
    for name, obj in list(ns.items()):
        if name.startswith("_") or not isinstance(obj, types.FunctionType):
            continue
        if public is not None and name not in public:
            continue
        if not obj.__module__.startswith("functrans.numpy") or hasattr(obj, "__wrapped_fnp__"):
            continue
        ns[name] = _wrap(obj, prefix + name)
