"""Index helpers: r_, c_, s_, mgrid, ogrid, ix_, tril/triu/diag indices, (un)ravel indices.

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import operator

import numpy as np

from . import _base as fnp
from ._composed import _arr, _concrete
from ._promotion import dtype_of, shape_of

__all__ = ["c_", "r_", "s_", "index_exp", "tril_indices", "triu_indices", "tril_indices_from",
           "triu_indices_from", "diag_indices", "diag_indices_from", "indices", "ix_", "mgrid",
           "ogrid", "unravel_index", "ravel_multi_index", "fromfunction"]


def tril_indices(n, k=0, m=None):
    return tuple(np.asarray(i, np.int64) for i in np.tril_indices(n, k, m))


def triu_indices(n, k=0, m=None):
    return tuple(np.asarray(i, np.int64) for i in np.triu_indices(n, k, m))


def tril_indices_from(arr, k=0):
    s = shape_of(_arr(arr, "tril_indices_from"))
    return tril_indices(s[-2], k, s[-1])


def triu_indices_from(arr, k=0):
    s = shape_of(_arr(arr, "triu_indices_from"))
    return triu_indices(s[-2], k, s[-1])


def diag_indices(n, ndim=2):
    return np.diag_indices(n, ndim)


def diag_indices_from(arr):
    s = shape_of(_arr(arr, "diag_indices_from"))
    if len(s) < 2 or len(set(s)) != 1:
        raise ValueError("fnp.diag_indices_from: all dimensions of arr must be equal")
    return np.diag_indices(s[0], len(s))


def indices(dimensions, dtype=np.int64, sparse=False):
    return np.indices(dimensions, dtype=dtype, sparse=sparse)


def ix_(*args):
    """Open meshes of index vectors for cross-product indexing."""
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = _arr(a, "ix_")
        if len(shape_of(a)) != 1:
            raise ValueError("fnp.ix_: cross index must be 1-dimensional")
        s = [1] * n
        s[i] = shape_of(a)[0]
        out.append(fnp.reshape(a, s))
    return tuple(out)


def unravel_index(indices, shape):
    """Tuple of coordinate arrays of flat indices in an array of the given shape (clipped)."""
    idx = _arr(indices, "unravel_index")
    shape = tuple(operator.index(s) for s in shape)
    total = int(np.prod(shape, dtype=np.int64))
    idx = fnp.clip(idx, -total, total - 1)
    idx = fnp.where(fnp.less(idx, 0), fnp.add(idx, total), idx)
    out = []
    for s in reversed(shape):
        out.append(fnp.remainder(idx, s))
        idx = fnp.floor_divide(idx, s)
    return tuple(reversed(out))


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat indices of coordinate arrays (mode 'clip' or 'wrap'; 'raise' needs concrete)."""
    if order != "C":
        raise NotImplementedError("fnp.ravel_multi_index: only order='C' is supported")
    dims = tuple(operator.index(d) for d in dims)
    out = 0
    for idx, d in zip(multi_index, dims):
        idx = _arr(idx, "ravel_multi_index")
        if mode == "clip":
            idx = fnp.clip(idx, 0, d - 1)
        elif mode == "wrap":
            idx = fnp.remainder(idx, d)
        else:
            v = _concrete(idx, "ravel_multi_index", "mode='raise' checks index values")
            if np.any((v < 0) | (v >= d)):
                raise ValueError("fnp.ravel_multi_index: invalid entry in coordinates array")
        out = fnp.add(fnp.multiply(out, d), idx)
    return out


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """function(*coordinate arrays) over a grid of the given shape."""
    coords = np.indices(shape, dtype=dtype)
    return function(*coords, **kwargs)


class _GridMaker:
    """mgrid / ogrid: index-expression construction of dense or open grids."""

    def __init__(self, sparse):
        self.sparse = sparse

    def __getitem__(self, key):
        if isinstance(key, slice):
            return _slice_values(key)
        axes = [_slice_values(k) for k in key]
        common = np.result_type(*axes)          # one dtype for every axis, as numpy
        axes = [a.astype(common) for a in axes]
        grids = np.meshgrid(*axes, indexing="ij", sparse=self.sparse)
        if self.sparse:
            return list(grids)
        return np.stack(grids)


def _slice_values(s):
    step = 1 if s.step is None else s.step
    start = 0 if s.start is None else s.start
    if isinstance(step, complex):
        return np.linspace(start, s.stop, int(abs(step)))
    out = np.arange(start, s.stop, step)
    return out


mgrid = _GridMaker(sparse=False)
ogrid = _GridMaker(sparse=True)


class _IndexExpression:
    def __init__(self, maketuple):
        self.maketuple = maketuple

    def __getitem__(self, item):
        if self.maketuple and not isinstance(item, tuple):
            return (item,)
        return item


s_ = _IndexExpression(maketuple=False)
index_exp = _IndexExpression(maketuple=True)


class _Concatenator:
    """r_ and c_: concatenation by index expressions (slices become ranges, complex steps
    linspaces; a leading string 'axis[,ndmin[,trans1d]]' or 'r'/'c' sets the layout)."""

    def __init__(self, axis, ndmin, trans1d):
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        matrix = None
        if items and isinstance(items[0], str):
            spec, items = items[0], items[1:]
            if spec in ("r", "c"):
                matrix = spec
                ndmin = 2
            else:
                fields = [int(f) for f in spec.split(",")]
                axis = fields[0]
                if len(fields) > 1:
                    ndmin = fields[1]
                if len(fields) > 2:
                    trans1d = fields[2]
        parts = []
        for item in items:
            if isinstance(item, slice):
                a = np.asarray(_slice_values(item))
            else:
                a = _arr(item, "r_")
            nd = len(shape_of(a))
            if nd < ndmin:
                shape = shape_of(a)
                extra = ndmin - nd
                if trans1d < 0:
                    trans = trans1d + ndmin
                else:
                    trans = trans1d
                new = [1] * ndmin
                # numpy puts the original axes starting at position trans (of the padded ones)
                start = trans if trans <= extra else extra
                for j, s in enumerate(shape):
                    new[start + j] = s
                a = fnp.reshape(a, new)
            parts.append(a)
        if not parts:
            return np.array([])
        dtype = np.result_type(*[np.empty((), dtype_of(p)) for p in parts])
        parts = [fnp.asarray(p, dtype=dtype) for p in parts]
        out = fnp.concatenate(parts, axis=axis)
        if matrix == "c":
            out = fnp.transpose(out)
        return out

    def __len__(self):
        return 0


r_ = _Concatenator(axis=0, ndmin=1, trans1d=-1)
c_ = _Concatenator(axis=-1, ndmin=2, trans1d=0)
