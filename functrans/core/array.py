"""Array: the type of the eager values functrans returns, numpy arrays with JAX's semantics.

An Array is a numpy.ndarray subclass (so numpy, scipy and matplotlib take it as is) viewed
read-only over a result functrans computed, which gives it JAX's behaviour:
  - immutable: x[i] = v raises InPlaceUpdateError (the message points to x.at[i].set(v)), and
    so does any numpy write into it (out=, views, np.asarray(x)[i] = v);
  - x.at[idx].get/set/add/multiply/min/max/apply(..., mode=, fill_value=) return new arrays;
  - in-place operators rebind: `b = a; b += 10` makes a new b and leaves a alone;
  - operators follow functrans.numpy (JAX's promotion), as they do on traced values;
  - indexing with a traced index (a closed-over array inside jit, vmap or a loop) stages a
    gather instead of failing.
Arrays that numpy makes from an Array (np.empty_like(x), x.copy(), np.sin(x)) are ordinary
writeable arrays of this class: numpy code that fills its own buffers keeps working. The
user's own numpy arrays are never made read-only: only the Array view of a value is.
"""
import numpy as np

from . import api_loader, errors
from .config import config as _config
from .value_checks import check_function_outputs

__all__ = ["Array", "to_array", "wrap_outputs"]

_ndarray = np.ndarray
_nd_getitem = np.ndarray.__getitem__
_nd_setitem = np.ndarray.__setitem__
_nd_view = np.ndarray.view
# Called positionally: `setflags(write=False)` parses its keyword at twice the cost.
_setflags = np.ndarray.setflags


# functrans.numpy and the Tracer class sit above this module: they hand what Arrays need (the
# namespace operators dispatch to, staged indexing, `.at`) to it when they are imported
# (numpy/_tracer_methods.install, core/trace.py), so that the core never imports upward.
_numpy = None
_getitem = None
_index_update_helper = None
_tracer_type = ()


def install_numpy_api(namespace, getitem, index_update_helper):
    global _numpy, _getitem, _index_update_helper
    _numpy, _getitem, _index_update_helper = namespace, getitem, index_update_helper


def register_tracer_type(tracer_type):
    global _tracer_type
    _tracer_type = tracer_type


def numpy_api():
    """The functrans.numpy namespace (installed by functrans.numpy when it is imported)."""
    if _numpy is None:
        api_loader.ensure()
    if _numpy is None:
        raise ImportError("functrans.numpy has not been imported (it is still being "
                          "imported?): import functrans.numpy before computing with functrans "
                          "arrays")
    return _numpy


def _has_tracer(idx):
    if isinstance(idx, _tracer_type):
        return True
    return type(idx) is tuple and any(isinstance(i, _tracer_type) for i in idx)


class Array(np.ndarray):
    """A read-only numpy array with JAX's array semantics (see the module docstring)."""

    def __setitem__(self, index, value):
        if self.flags.writeable:        # an array numpy derived from an Array: numpy's rules
            return _nd_setitem(self, index, value)
        raise errors.InPlaceUpdateError(
            f"functrans arrays are immutable: in-place assignment x[idx] = y on an array of "
            f"shape {self.shape} and dtype {self.dtype} is not supported (as in JAX). Use the "
            "functional update x = x.at[idx].set(y) (or .add, .multiply, .min, .max, .apply), "
            "which returns a new array; np.array(x) gives a mutable numpy copy.")

    def __getitem__(self, index):
        if _has_tracer(index):
            return _getitem(self, index)
        return _nd_getitem(self, index)

    @property
    def at(self):
        return _index_update_helper(self)

    def block_until_ready(self):
        """JAX's asynchronous-dispatch barrier: functrans computes eagerly, so a no-op."""
        return self

    def __reduce__(self):
        # Pickle as a plain array, rebuilt as a read-only Array.
        return (_unpickle, (np.asarray(self),))


def _unpickle(a):
    return to_array(a)


_raw_functions = {}


def _raw(name):
    """The functrans.numpy function itself, without its public wrapper (operators do the
    wrapper's work inline: one call fewer on the hot path)."""
    fn = _raw_functions.get(name)
    if fn is None:
        public = getattr(numpy_api(), name)
        fn = _raw_functions[name] = getattr(public, "__wrapped_fnp__", public)
    return fn


# Operators whose result dtype is the operands' when both share a numeric dtype (JAX and
# numpy agree there): two such arrays go straight to the numpy ufunc. Division and powers are
# not here: int32 / int32 is float32 in JAX and float64 in numpy.
_SAME_DTYPE = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
               "equal": np.equal, "not_equal": np.not_equal, "less": np.less,
               "less_equal": np.less_equal, "greater": np.greater,
               "greater_equal": np.greater_equal}


# The dtypes whose same-dtype operators numpy and JAX agree on (bool is not one: JAX's
# subtract on booleans raises where numpy's operator differs).
_FAST_DTYPES = frozenset(np.dtype(c) for c in np.typecodes["AllInteger"] + np.typecodes["AllFloat"])


def _operator(name, reflected=False):
    ufunc = _SAME_DTYPE.get(name)
    if ufunc is not None and reflected:
        ufunc = _swapped(ufunc)

    def op(self, other):
        a = _nd_view(self, _ndarray)
        t = type(other)
        b = _nd_view(other, _ndarray) if t is Array else other
        if (t is Array or t is _ndarray) and ufunc is not None:
            dt = a.dtype
            if b.dtype is dt and dt in _FAST_DTYPES and not _config.checks_values:
                out = ufunc(a, b)
                if type(out) is _ndarray:       # to_array inline (0-d results are scalars)
                    out = _nd_view(out, Array)
                    _setflags(out, False)
                    return out
                return to_array(out)
        fn = _raw_functions.get(name) or _raw(name)
        out = fn(b, a) if reflected else fn(a, b)
        if _config.checks_values:
            check_function_outputs(f"fnp.{name}", out)
        return to_array(out) if isinstance(out, _ndarray) else out
    op.__name__ = f"__{'r' if reflected else ''}{name}__"
    return op


def _swapped(ufunc):
    return lambda a, b: ufunc(b, a)


def _inplace(name, dunder):
    nd_inplace = getattr(np.ndarray, dunder)

    def op(self, other):
        if self.flags.writeable:
            return nd_inplace(self, other)
        return getattr(numpy_api(), name)(self, other)      # rebind: a new array, as in JAX
    op.__name__ = dunder
    return op


_BINARY = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
           "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
           "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
           "lshift": "left_shift", "rshift": "right_shift"}
_COMPARE = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
            "gt": "greater", "ge": "greater_equal"}

for _d, _n in _BINARY.items():
    setattr(Array, f"__{_d}__", _operator(_n))
    setattr(Array, f"__r{_d}__", _operator(_n, reflected=True))
    setattr(Array, f"__i{_d}__", _inplace(_n, f"__i{_d}__"))
for _d, _n in _COMPARE.items():
    setattr(Array, f"__{_d}__", _operator(_n))
Array.__neg__ = lambda self: numpy_api().negative(self)
Array.__pos__ = lambda self: numpy_api().positive(self)
Array.__abs__ = lambda self: numpy_api().absolute(self)
Array.__invert__ = lambda self: numpy_api().invert(self)
Array.__hash__ = None


def to_array(x):
    """x (a numpy array) as a read-only Array view; the same object if it already is one."""
    t = type(x)
    if t is _ndarray:
        v = _nd_view(x, Array)
        _setflags(v, False)
        return v
    if t is Array and not x.flags.writeable:
        return x
    v = x.view(Array)           # numpy scalars (0-d results) stay numpy scalars
    v.setflags(write=False)
    return v


def plain(x):
    """An Array as a plain (read-only) ndarray view, for code that computes with numpy: numpy's
    fast paths test `type(x) is np.ndarray`, and subclasses cost extra in every ufunc call."""
    return _nd_view(x, _ndarray) if type(x) is Array else x


def wrap_outputs(outs):
    """A list of results with every numpy array made an Array (other values unchanged)."""
    return [to_array(o) if isinstance(o, _ndarray) else o for o in outs]


def wrap_tree(out):
    """Arrays for the numpy arrays in a (tuple/list/dict) result; other leaves unchanged."""
    t = type(out)
    if t is _ndarray or t is Array:
        return to_array(out)
    if t is tuple or t is list:
        return t(wrap_tree(o) for o in out)
    if t is dict:
        return {k: wrap_tree(v) for k, v in out.items()}
    if isinstance(out, tuple) and hasattr(out, "_fields"):      # namedtuple results
        return t(*(wrap_tree(o) for o in out))
    return out


def writeable_input(x):
    """For compiled code: a read-only array (an Array, or np.asarray of one) as a writeable
    plain view of the same memory, so that Numba compiles one signature of each kernel instead
    of a second, read-only one (and never mixes the two in one tuple of arrays). Compiled code
    only writes into inputs that were donated. Anything else is returned as is."""
    t = type(x)
    if t is not Array and (t is not _ndarray or x.flags.writeable):
        return x
    v = x.view(_ndarray)
    try:
        v.setflags(write=True)
    except ValueError:       # its memory is read-only at the root (a read-only user array)
        pass
    return v
