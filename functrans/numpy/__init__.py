"""functrans.numpy: the numpy API on functrans primitives (mirrors jax.numpy).

    import functrans.numpy as fnp

Every function works on numpy arrays, Python scalars and traced values. With no transform
running and no traced argument, it calls numpy directly (numpy arrays in, numpy arrays out);
under a transform it is built from functrans.lax, with JAX's dtype promotion (its type lattice
with 64-bit types, weak Python scalars) and numpy's broadcasting. Both give the same values,
shapes and dtypes, JAX's (int32 + float32 is float32, sin of int32 is float32).

Traced values behave like arrays: operators, indexing (x[...] with numpy's basic and advanced
rules) and methods (x.sum(), x.reshape(...), x.T, ...). They are immutable: instead of
x[idx] = v write x = x.at[idx].set(v) (also .add, .subtract, .multiply, .min, .max, .get),
which returns a new array. `.at` exists on traced values only; eager numpy arrays keep numpy's
in-place operations.
"""
import math as _math

import numpy as _np

from ..core import dtypes as _dtypes
from ..core.trace import get_aval as _get_aval
from . import fft, linalg  # noqa: F401
from ._tracer_methods import install as _install_tracer_methods
from .creation import *  # noqa: F401,F403
from ._einsum import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .linalg import dot, inner, matmul, outer, tensordot, vdot  # noqa: F401
from .reductions import *  # noqa: F401,F403
from .shaping import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .extras import *  # noqa: F401,F403
from .statistics import *  # noqa: F401,F403
from .polynomial import *  # noqa: F401,F403
from .convolve import *  # noqa: F401,F403

# Scalar types double as dtype names, as in numpy: fnp.float32, x.astype(fnp.int32).
bool_ = _np.bool_
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
int_, uint, float_, complex_ = _np.int64, _np.uint64, _np.float64, _np.complex128
bool = _np.bool_  # noqa: A001 - jax.numpy's name
single, double, csingle, cdouble = _np.float32, _np.float64, _np.complex64, _np.complex128
half = _np.float16
generic = _np.generic
dtype = _np.dtype
finfo, iinfo = _np.finfo, _np.iinfo
issubdtype, can_cast = _np.issubdtype, _np.can_cast
integer, floating, inexact, complexfloating, number, signedinteger, unsignedinteger = (
    _np.integer, _np.floating, _np.inexact, _np.complexfloating, _np.number,
    _np.signedinteger, _np.unsignedinteger)
ndarray = _np.ndarray

pi, e, euler_gamma = _math.pi, _math.e, _np.euler_gamma
inf, nan = _math.inf, _math.nan
newaxis = None


def result_type(*arrays_and_dtypes):
    """The dtype JAX's promotion gives (Python scalars and weakly typed values are weak),
    for arrays, traced values, scalars and dtypes alike."""
    def typed(a):
        if a is None or isinstance(a, (str, type, _np.dtype)):
            return _dtypes.canonicalize(float if a is None else a), False
        if _dtypes.is_python_scalar(a):
            return _dtypes.python_scalar_dtype(a), True
        aval = _get_aval(a if hasattr(a, "dtype") else _np.asarray(a))
        return aval.dtype, aval.weak_type
    return _dtypes.result_type(*map(typed, arrays_and_dtypes))[0]


def promote_types(type1, type2):
    """JAX's promote_types: the least upper bound of two dtypes in its type lattice
    (int32 and float32 give float32, where numpy gives float64)."""
    return _dtypes.promote_types(type1, type2)


_install_tracer_methods()

# Results reach the user through one thin wrapper per public function (see _outputs.py).
from ._outputs import wrap_namespace as _wrap_namespace  # noqa: E402
_wrap_namespace(globals())
_wrap_namespace(linalg.__dict__, "linalg.")
_wrap_namespace(fft.__dict__, "fft.")

# lax.reduce_window runs these as one windowed sum/max/min primitive, as it does lax.add/max/min.
from ..primitives.windowed import register_monoid as _register_monoid  # noqa: E402
for _fun, _kind in ((add, "sum"), (maximum, "max"), (minimum, "min")):  # noqa: F405
    _register_monoid(_fun, _kind)

# Arrays' operators, `.at` and traced indexing dispatch here; the core cannot import upward.
import sys as _sys  # noqa: E402

from ..core.array import install_numpy_api as _install_numpy_api  # noqa: E402
from ._at_modes import _IndexUpdateHelper  # noqa: E402
from .indexing import getitem as _getitem  # noqa: E402
_install_numpy_api(_sys.modules[__name__], _getitem, _IndexUpdateHelper)
del _IndexUpdateHelper, _getitem, _install_numpy_api, _sys
