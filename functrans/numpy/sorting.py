"""Sorting: sort and argsort, both stable (ties keep their order; nan sorts last, as in numpy)."""
import numpy as np

from .. import lax
from ..core import dtypes
from ._promotion import asarray, canonical_axis, eager, shape_of

__all__ = ["sort", "argsort"]


def _along(a, axis, name):
    a = asarray(a, name)
    if axis is None:
        return lax.reshape(a, (int(np.prod(shape_of(a), dtype=np.int64)),)), 0
    if not shape_of(a):
        raise np.exceptions.AxisError(f"fnp.{name}: axis {axis} is out of bounds for array of "
                                      "dimension 0")
    return a, canonical_axis(axis, len(shape_of(a)), name)


def sort(a, axis=-1, kind=None, order=None, stable=True):
    """a sorted along axis (the flattened array if axis is None)."""
    if order is not None:
        raise TypeError("fnp.sort: `order` (structured arrays) is not supported")
    if eager(a):
        return np.sort(a, axis=axis, kind="stable")
    a, axis = _along(a, axis, "sort")
    return lax.sort(a, dimension=axis)


def argsort(a, axis=-1, kind=None, order=None, stable=True):
    """The indices (int64) that sort a along axis, stably: equal elements keep their order
    (numpy's default kind does not promise that; kind="stable" gives the same as here)."""
    if order is not None:
        raise TypeError("fnp.argsort: `order` (structured arrays) is not supported")
    if eager(a):
        return np.argsort(a, axis=axis, kind="stable")
    a, axis = _along(a, axis, "argsort")
    positions = lax.broadcasted_iota(dtypes.int64, shape_of(a), axis)
    return lax.sort_key_val(a, positions, dimension=axis)[1]
