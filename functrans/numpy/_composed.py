"""Helpers shared by the fnp modules composed from other fnp functions (see extras.py)."""
import numpy as np

from ..core import dtypes
from ..core.errors import ConcretizationTypeError
from ..core.trace import Tracer
from ._promotion import asarray, dtype_of
from .creation import asarray as to_array


def _arr(x, name):
    return to_array(asarray(x, name))


def _inexact(x):
    """x in JAX's float dtype for it (float32 for integers up to 32 bits, float64 above)."""
    return x if dtype_of(x).kind in "fc" else to_array(x, dtype=dtypes.to_inexact(
        dtype_of(x)))


def _is_traced(*xs):
    return any(isinstance(x, Tracer) for x in xs)


def _concrete(x, name, why):
    """The numpy value of x; a traced x raises the concretization error with `why`."""
    if isinstance(x, Tracer):
        raise ConcretizationTypeError(
            f"fnp.{name} needs concrete values: {why}. Call it outside jit/vmap, or use the "
            f"static size= argument where there is one.")
    return np.asarray(x)

def _real_dtype(x):
    d = dtype_of(x)
    return {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}.get(d, d)
