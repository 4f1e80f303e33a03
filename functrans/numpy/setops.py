"""unique (with a static size= under transforms) and the set operations.

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import builtins
import operator

import numpy as np

from . import _base as fnp
from ._composed import _arr, _is_traced, _concrete
from ._promotion import dtype_of, shape_of
from .searching import _compact_positions

__all__ = ["unique", "unique_values", "unique_counts", "unique_inverse", "unique_all",
           "intersect1d", "union1d", "setdiff1d", "setxor1d"]


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None, sorted=True):
    """The sorted unique elements of ar (flattened; axis=None only under transforms), with
    optional first indices, inverse (int64) and counts. Under a transform give size= (the
    number of outputs): missing entries are fill_value (default: the smallest element), index
    fill 0, count fill 0."""
    ar = _arr(ar, "unique")
    if size is None:
        if _is_traced(ar):
            _concrete(ar, "unique", "the number of unique values depends on the values; give "
                      "size=")
        res = np.unique(np.asarray(ar), return_index, return_inverse, return_counts, axis=axis,
                        equal_nan=equal_nan)
        if not isinstance(res, tuple):
            return res
        res = list(res)
        if return_inverse:
            k = 1 + int(return_index)
            inv = res[k].astype(np.int64)
            res[k] = inv.reshape(np.shape(ar)) if axis is None else inv
        return tuple(res)
    if axis is not None:
        raise NotImplementedError("fnp.unique: axis= with size= is not supported")
    size = operator.index(size)
    flat = fnp.ravel(ar)
    n = shape_of(flat)[0]
    order = fnp.argsort(flat)
    srt = fnp.take(flat, order)
    if n:
        differs = fnp.not_equal(srt[1:], srt[:-1])
        if equal_nan and dtype_of(srt).kind in "fc":
            differs = fnp.logical_and(differs, fnp.logical_not(
                fnp.logical_and(fnp.isnan(srt[1:]), fnp.isnan(srt[:-1]))))
        first = fnp.concatenate([fnp.ones((1,), bool), differs])
    else:
        first = fnp.zeros((0,), bool)
    group = fnp.cumsum(fnp.asarray(first, dtype=np.int64)) - 1     # group id of each sorted
    n_unique = fnp.sum(first)
    pos = _compact_positions(fnp, first, size)
    valid = fnp.less(np.arange(size), n_unique)
    values = fnp.take(srt, fnp.clip(pos, 0, builtins.max(n - 1, 0)))
    fill = srt[0] if fill_value is None and n else (0 if fill_value is None else fill_value)
    values = fnp.where(valid, values, fill)
    out = [values]
    if return_index:
        idx = fnp.take(order, fnp.clip(pos, 0, builtins.max(n - 1, 0)))
        out.append(fnp.where(valid, idx, 0))
    if return_inverse:
        inverse = fnp.zeros((n,), np.int64)
        inv_sorted = group
        # inverse[order[j]] = group[j]: apply the inverse permutation of order
        inverse = fnp.take(inv_sorted, fnp.argsort(order))
        out.append(fnp.reshape(inverse, shape_of(ar)))
    if return_counts:
        counts = fnp.sum(fnp.equal(fnp.expand_dims(group, 0), np.arange(size)[:, None]),
                         axis=1, dtype=np.int64)
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


def unique_values(x, /, *, size=None, fill_value=None):
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x, /, *, size=None, fill_value=None):
    return unique(x, return_counts=True, size=size, fill_value=fill_value)


def unique_inverse(x, /, *, size=None, fill_value=None):
    return unique(x, return_inverse=True, size=size, fill_value=fill_value)


def unique_all(x, /, *, size=None, fill_value=None):
    return unique(x, return_index=True, return_inverse=True, return_counts=True, size=size,
                  fill_value=fill_value)


def _set_op(name, np_fun, *arrays, **kw):
    values = [_concrete(a, name, "the result's length depends on the values") for a in arrays]
    return np_fun(*values, **kw)


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False):
    return _set_op("intersect1d", np.intersect1d, ar1, ar2, assume_unique=assume_unique,
                   return_indices=return_indices)


def union1d(ar1, ar2):
    return _set_op("union1d", np.union1d, ar1, ar2)


def setdiff1d(ar1, ar2, assume_unique=False):
    return _set_op("setdiff1d", np.setdiff1d, ar1, ar2, assume_unique=assume_unique)


def setxor1d(ar1, ar2, assume_unique=False):
    return _set_op("setxor1d", np.setxor1d, ar1, ar2, assume_unique=assume_unique)
