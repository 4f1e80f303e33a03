"""Searching and binning: searchsorted, digitize, interp, trapezoid, histogram, bincount,
argwhere, extract, compress, isin.

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import builtins
import operator

import numpy as np

from ..core import dtypes
from .. import lax
from ..core.trace import Tracer
from . import _base as fnp
from ._composed import _arr, _inexact, _concrete
from ._promotion import canonical_axis, dtype_of, shape_of
from .differences import diff

__all__ = ["interp", "trapezoid", "histogram", "histogram_bin_edges", "searchsorted", "digitize",
           "isin", "bincount", "argwhere", "extract", "compress"]


def searchsorted(a, v, side="left", sorter=None, *, method="compare_all"):
    """Insertion points of v in the sorted 1-d a (int32, as JAX): each v compared with all of
    a (O(len(a) len(v)) work, no value-dependent control flow)."""
    a = _arr(a, "searchsorted")
    if len(shape_of(a)) != 1:
        raise ValueError("fnp.searchsorted: a must be one-dimensional")
    if side not in ("left", "right"):
        raise ValueError(f"fnp.searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        a = fnp.take(a, sorter)
    v = _arr(v, "searchsorted")
    common = np.result_type(dtype_of(a), dtype_of(v))
    a_, v_ = fnp.asarray(a, dtype=common), fnp.asarray(v, dtype=common)
    cmp = fnp.less if side == "left" else fnp.less_equal
    hits = cmp(a_, fnp.expand_dims(v_, -1))
    return lax.stop_gradient(fnp.asarray(fnp.sum(hits, axis=-1), dtype=np.int32))


def digitize(x, bins, right=False):
    """Indices of the bins x falls in (bins increasing or decreasing), int32 as JAX."""
    bins = _arr(bins, "digitize")
    if len(shape_of(bins)) != 1:
        raise ValueError("fnp.digitize: bins must be one-dimensional")
    side = "left" if right else "right"
    n = shape_of(bins)[0]
    increasing = searchsorted(bins, x, side=side)
    if n < 2:
        return increasing
    decreasing = fnp.asarray(n - searchsorted(fnp.flip(bins), x, side=side), dtype=np.int32)
    # the direction is a value of the bins: decided by a select, so traced bins work too
    return fnp.where(fnp.less(bins[-1], bins[0]), decreasing, increasing)


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing); differentiable in x,
    xp and fp."""
    x, xp, fp = _arr(x, "interp"), _arr(xp, "interp"), _arr(fp, "interp")
    if len(shape_of(xp)) != 1 or shape_of(xp) != shape_of(fp):
        raise ValueError("fnp.interp: xp and fp must be 1-d sequences of the same length")
    d = dtypes.promote_types(dtypes.to_inexact(dtype_of(x)), dtypes.to_inexact(dtype_of(xp)))
    x, xp = fnp.asarray(x, dtype=d), fnp.asarray(xp, dtype=d)
    fp = _inexact(fp)
    if period is not None:
        period = abs(period)
        x = fnp.remainder(x, period)
        xp = fnp.remainder(xp, period)
        order = fnp.argsort(xp)
        xp, fp = fnp.take(xp, order), fnp.take(fp, order)
        xp = fnp.concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = fnp.concatenate([fp[-1:], fp, fp[:1]])
    n = shape_of(xp)[0]
    i = fnp.clip(searchsorted(xp, x, side="right"), 1, n - 1)
    x0, x1 = fnp.take(xp, i - 1), fnp.take(xp, i)
    f0, f1 = fnp.take(fp, i - 1), fnp.take(fp, i)
    dx = fnp.subtract(x1, x0)
    t = fnp.divide(fnp.subtract(x, x0), fnp.where(fnp.equal(dx, 0), fnp.ones_like(dx), dx))
    out = fnp.add(f0, fnp.multiply(t, fnp.subtract(f1, f0)))
    out = fnp.where(fnp.equal(dx, 0), f1, out)
    if period is None:
        lo = fp[0] if left is None else left
        hi = fp[-1] if right is None else right
        out = fnp.where(fnp.less(x, xp[0]), lo, out)
        out = fnp.where(fnp.greater(x, xp[-1]), hi, out)
    return out


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of y by the trapezoidal rule along axis (sample points x or spacing dx)."""
    y = _arr(y, "trapezoid")
    if x is not None:       # y and x promoted together (JAX): bool y with int64 x is float64
        common = dtypes.promote_types(dtype_of(y), dtype_of(_arr(x, "trapezoid")))
        y = fnp.asarray(y, dtype=dtypes.to_inexact(common))
    y = _inexact(y)
    axis = canonical_axis(axis, len(shape_of(y)), "trapezoid")
    m = shape_of(y)[axis]
    y_lo = fnp.take(y, np.arange(0, builtins.max(m - 1, 0)), axis=axis)
    y_hi = fnp.take(y, np.arange(1, m), axis=axis)
    if x is None:
        widths = dx
    else:
        x = _arr(x, "trapezoid")
        if len(shape_of(x)) == 1:
            widths = diff(x)
            shape = [1] * len(shape_of(y))
            shape[axis] = -1
            widths = fnp.reshape(widths, shape)
        else:
            widths = diff(x, axis=axis)
    return fnp.sum(fnp.multiply(widths, fnp.add(y_lo, y_hi)), axis=axis) * 0.5


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The edges of histogram(a, bins, range): bins + 1 equal-width edges, or the given
    edges."""
    a = _arr(a, "histogram_bin_edges")
    if np.ndim(bins) == 1 or isinstance(bins, (Tracer, list, tuple)):
        return _inexact(_arr(bins, "histogram_bin_edges"))
    if isinstance(bins, str):
        raise NotImplementedError("fnp.histogram: string bin rules are not supported; give "
                                  "a number of bins or the edges")
    bins = operator.index(bins)
    d = dtypes.to_inexact(dtype_of(a))
    if range is None:
        lo = fnp.asarray(fnp.min(a), dtype=d)
        hi = fnp.asarray(fnp.max(a), dtype=d)
    else:
        lo, hi = (fnp.asarray(r, dtype=d) for r in range)
    # equal ends get numpy's +-0.5 widening
    same = fnp.equal(lo, hi)
    lo = fnp.where(same, fnp.subtract(lo, 0.5), lo)
    hi = fnp.where(same, fnp.add(hi, 0.5), hi)
    return fnp.linspace(lo, hi, bins + 1)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """(counts, edges): counts per bin (the last bin includes its right edge), float64 as
    JAX; differentiable in weights (and, with density, through the edges)."""
    a = fnp.ravel(_arr(a, "histogram"))
    edges = histogram_bin_edges(a, bins, range)
    nb = shape_of(edges)[0] - 1
    idx = searchsorted(edges, a, side="right")
    # the right edge itself belongs to the last bin; outside [first, last] counts nothing
    idx = fnp.where(fnp.equal(a, edges[-1]), nb, idx)
    w = fnp.ones_like(fnp.asarray(a, dtype=np.float64)) if weights is None else \
        _inexact(fnp.ravel(_arr(weights, "histogram")))
    onehot = fnp.equal(fnp.expand_dims(idx, -1), np.arange(1, nb + 1))
    counts = fnp.sum(fnp.where(onehot, fnp.expand_dims(w, -1), fnp.zeros((), dtype_of(w))),
                     axis=0)
    if density:
        widths = diff(edges)
        counts = fnp.divide(fnp.divide(counts, widths), fnp.sum(counts))
    return counts, edges


def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts of each non-negative integer in x (int64; the weights' dtype with weights); the
    length is static: length=, or max(x) + 1 from concrete values."""
    x = _arr(x, "bincount")
    if dtype_of(x).kind not in "biu":
        raise TypeError("fnp.bincount: x must hold non-negative integers")
    if length is None:
        values = _concrete(x, "bincount", "the result's length is max(x) + 1; give length=")
        if values.size and values.min() < 0:
            raise ValueError("fnp.bincount: x must be non-negative")
        length = builtins.max(int(values.max()) + 1 if values.size else 0, minlength)
    onehot = fnp.equal(fnp.expand_dims(x, -1), np.arange(length))
    if weights is None:
        return fnp.sum(onehot, axis=0, dtype=np.int64)
    w = _arr(weights, "bincount")
    return fnp.sum(fnp.where(onehot, fnp.expand_dims(w, -1), fnp.zeros((), dtype_of(w))),
                   axis=0)


def argwhere(a, *, size=None, fill_value=None):
    """The coordinates of the nonzero elements, shape (count, ndim) (int64); under a transform
    give size= (padding with fill_value, default 0)."""
    a = _arr(a, "argwhere")
    if size is None:
        values = _concrete(a, "argwhere", "the result's length depends on the values; give "
                           "size=")
        return np.argwhere(values).astype(np.int64)
    flat = fnp.ravel(fnp.not_equal(a, 0))
    n = shape_of(flat)[0]
    pos = _compact_positions(fnp, flat, size)
    coords = np.stack(np.unravel_index(np.arange(n), shape_of(a)), axis=-1) if n else \
        np.zeros((0, len(shape_of(a))), np.int64)
    found = fnp.take(coords, fnp.clip(pos, 0, builtins.max(n - 1, 0)), axis=0)
    valid = fnp.less(fnp.arange(size), fnp.sum(flat))
    fill = 0 if fill_value is None else fill_value
    return fnp.where(fnp.expand_dims(valid, -1), found, fill)


def _compact_positions(fnp, mask, size):
    """Indices of the first `size` true entries of the 1-d mask (padded arbitrarily)."""
    n = shape_of(mask)[0]
    rank = fnp.cumsum(fnp.asarray(mask, dtype=np.int64)) - 1       # rank of each true entry
    slots = np.arange(size)
    hit = fnp.logical_and(fnp.expand_dims(mask, 0),
                          fnp.equal(fnp.expand_dims(rank, 0), slots[:, None]))
    return fnp.sum(fnp.where(hit, np.arange(n)[None, :], 0), axis=1)


def extract(condition, arr, *, size=None, fill_value=0):
    """arr's elements where condition is true (flattened); size= under transforms."""
    cond = fnp.ravel(fnp.asarray(_arr(condition, "extract"), dtype=bool))
    arr = fnp.ravel(_arr(arr, "extract"))
    if size is None:
        mask = _concrete(cond, "extract", "the result's length depends on the condition; "
                         "give size=")
        return fnp.take(arr, np.flatnonzero(mask))
    pos = _compact_positions(fnp, cond, size)
    out = fnp.take(arr, pos)
    return fnp.where(fnp.less(np.arange(size), fnp.sum(cond)), out, fill_value)


def compress(condition, a, axis=None, *, size=None, fill_value=0):
    """The slices of a along axis where the 1-d condition is true (concrete condition)."""
    a = _arr(a, "compress")
    if axis is None:
        a, axis = fnp.ravel(a), 0
    mask = _concrete(condition, "compress", "the result's shape depends on the condition")
    keep = np.flatnonzero(np.asarray(mask, bool))
    keep = keep[keep < shape_of(a)[axis]]
    return fnp.take(a, keep, axis=axis)


def isin(element, test_elements, assume_unique=False, invert=False, *, method="compare_all"):
    """Whether each element occurs in test_elements (compares with all of them)."""
    element = _arr(element, "isin")
    tests = fnp.ravel(_arr(test_elements, "isin"))
    hit = fnp.any(fnp.equal(fnp.expand_dims(element, -1), tests), axis=-1)
    return fnp.logical_not(hit) if invert else hit
