"""Statistics with numpy's names (jax.numpy's x64 semantics): average, median, quantile,
percentile, ptp, cov, corrcoef and the nan-ignoring reductions, composed from fnp functions.

Order statistics sort along the reduced axes and interpolate between neighbours (numpy's
methods linear, lower, higher, nearest, midpoint), so their derivative flows to the one or two
sorted elements used, as in JAX. nan-ignoring reductions replace nans by the operation's
identity (and count only non-nan elements for means), so nans get zero gradient.
"""
import numpy as np

from ..core import dtypes
from . import _base as fnp
from ._promotion import canonical_axes, dtype_of, promote, shape_of
from .searching import histogram_bin_edges, searchsorted

__all__ = ["average", "median", "quantile", "percentile", "ptp", "cov", "corrcoef", "nansum",
           "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanargmax",
           "nanargmin", "nancumsum", "nancumprod", "nanmedian", "nanquantile",
           "nanpercentile", "histogramdd", "histogram2d"]



def _arr(x):
    return fnp.asarray(x)


def _inexact(x):
    """x in JAX's float dtype for it (float32 for integers up to 32 bits, float64 above)."""
    return x if dtype_of(x).kind in "fc" else fnp.asarray(x, dtype=dtypes.to_inexact(
        dtype_of(x)))


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """The weighted mean sum(w a) / sum(w) over axis (weights 1-d along one axis, or a's
    shape); with returned=True also sum(w)."""
    a = _inexact(_arr(a))
    if weights is None:
        avg = fnp.mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return avg
        count = np.prod([shape_of(a)[i] for i in canonical_axes(axis, len(shape_of(a)),
                                                                 "average")])
        return avg, fnp.full_like(avg, count)
    w = _arr(weights)
    if shape_of(w) != shape_of(a):
        if axis is None:
            raise TypeError("fnp.average: weights of a different shape need axis=")
        if len(shape_of(w)) != 1:
            raise TypeError("fnp.average: 1-d weights must go along one axis")
        ax = canonical_axes(axis, len(shape_of(a)), "average")[0]
        if shape_of(w)[0] != shape_of(a)[ax]:
            raise ValueError("fnp.average: the weights' length differs from the axis'")
        shape = [1] * len(shape_of(a))
        shape[ax] = -1
        w = fnp.reshape(w, shape)
    w = fnp.broadcast_to(w, shape_of(a))
    total = fnp.sum(w, axis=axis, keepdims=keepdims)
    avg = fnp.divide(fnp.sum(fnp.multiply(a, w), axis=axis, keepdims=keepdims), total)
    return (avg, fnp.broadcast_to(total, shape_of(avg))) if returned else avg


_METHODS = ("linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf",
            "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
            "hazen", "weibull", "median_unbiased", "normal_unbiased")


def _quantile(name, a, q, axis, method, keepdims, ignore_nan):
    if method not in _METHODS[:5]:
        raise ValueError(f"fnp.{name}: method must be one of {_METHODS[:5]}, got {method!r}")
    a = _inexact(_arr(a))
    if dtype_of(a).kind == "c":
        raise TypeError(f"fnp.{name} does not accept complex arguments")
    q = fnp.asarray(q, dtype=dtype_of(a))
    nd = len(shape_of(a))
    axes = canonical_axes(axis, nd, name)
    kept = [d for d in range(nd) if d not in axes]
    # flatten the reduced axes into one trailing axis
    moved = fnp.transpose(a, kept + list(axes))
    kept_shape = tuple(shape_of(a)[d] for d in kept)
    n = int(np.prod([shape_of(a)[d] for d in axes], dtype=np.int64))
    flat = fnp.reshape(moved, kept_shape + (n,))
    srt = fnp.sort(flat, axis=-1)          # nans sort last
    if ignore_nan:
        count = fnp.sum(fnp.logical_not(fnp.isnan(flat)), axis=-1, keepdims=True)
    else:
        count = fnp.full(kept_shape + (1,), n, np.int64)
    qs = fnp.reshape(q, shape_of(q) + (1,) * (len(kept_shape) + 1))
    pos = fnp.multiply(qs, fnp.asarray(count - 1, dtype=dtype_of(a)))
    lo = fnp.floor(pos)
    hi = fnp.ceil(pos)
    if method == "lower":
        hi = lo
    elif method == "higher":
        lo = hi
    elif method == "nearest":
        lo = hi = fnp.round(pos)       # round half to even, as numpy
    frac = fnp.subtract(pos, lo)
    if method == "midpoint":
        frac = fnp.where(fnp.equal(hi, lo), fnp.zeros_like(frac), fnp.full_like(frac, 0.5))
    big = fnp.broadcast_to(srt, shape_of(q) + shape_of(srt))
    idx_lo = fnp.broadcast_to(fnp.asarray(fnp.clip(lo, 0, max(n - 1, 0)), dtype=np.int64),
                              shape_of(q) + kept_shape + (1,))
    idx_hi = fnp.broadcast_to(fnp.asarray(fnp.clip(hi, 0, max(n - 1, 0)), dtype=np.int64),
                              shape_of(q) + kept_shape + (1,))
    v_lo = fnp.take_along_axis(big, idx_lo, axis=-1)[..., 0]
    v_hi = fnp.take_along_axis(big, idx_hi, axis=-1)[..., 0]
    frac = frac[..., 0]
    out = fnp.add(v_lo, fnp.multiply(frac, fnp.subtract(v_hi, v_lo)))
    out = fnp.where(fnp.equal(frac, 0), v_lo, out)     # exact at sample points (inf safe)
    if ignore_nan:
        out = fnp.where(fnp.equal(count[..., 0], 0), np.nan, out)
    elif dtype_of(a).kind == "f":
        out = fnp.where(fnp.any(fnp.isnan(flat), axis=-1), np.nan, out)
    if keepdims:
        qn = len(shape_of(q))
        full = list(shape_of(q)) + [1 if d in axes else shape_of(a)[d] for d in range(nd)]
        out = fnp.reshape(out, full[:qn] + full[qn:])
    return out


def _order_statistics(name, ignore_nan):
    """quantile, percentile and median (ignore_nan: their nan-ignoring forms, nan where a
    slice is all nan)."""
    def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                 keepdims=False, *, interpolation=None):
        if out is not None:
            raise NotImplementedError(f"fnp.{name}: out= is not supported (arrays are "
                                      "immutable)")
        return _quantile(name, a, q, axis, interpolation or method, keepdims, ignore_nan)

    def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                   keepdims=False, *, interpolation=None):
        return quantile(a, fnp.divide(q, 100), axis, out, overwrite_input, method, keepdims,
                        interpolation=interpolation)

    def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
        return quantile(a, 0.5, axis=axis, out=out, keepdims=keepdims)

    prefix = "nan" if ignore_nan else ""
    also = ", ignoring nans (nan where a slice is all nan)" if ignore_nan else ""
    for fun, doc in ((quantile, f"The q-th quantiles (q in [0, 1]) over axis{also}; q's axes "
                                "come first in the result."),
                     (percentile, f"{prefix}quantile(a, q / 100)."),
                     (median, f"The middle value (the mean of the two middle ones) over "
                              f"axis{also}.")):
        fun.__name__ = fun.__qualname__ = prefix + fun.__name__
        fun.__doc__ = doc
    return quantile, percentile, median


quantile, percentile, median = _order_statistics("quantile", False)
nanquantile, nanpercentile, nanmedian = _order_statistics("nanquantile", True)


def ptp(a, axis=None, out=None, keepdims=False):
    """max - min over axis."""
    return fnp.subtract(fnp.max(a, axis=axis, keepdims=keepdims),
                        fnp.min(a, axis=axis, keepdims=keepdims))


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """The covariance matrix of the variables (rows, or columns with rowvar=False)."""
    m = fnp.atleast_2d(_arr(m))
    if y is not None:       # promoted together first, as JAX does: complex64 with int64 stays c64
        m, y = promote(m, fnp.atleast_2d(_arr(y)), inexact=True)
    m = _inexact(m)
    if not rowvar and shape_of(m)[0] != 1:
        m = fnp.transpose(m)
    if y is not None:
        if not rowvar and shape_of(y)[0] != 1:
            y = fnp.transpose(y)
        m = fnp.concatenate([m, y], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = shape_of(m)[1]
    w = None
    if fweights is not None:
        w = fnp.asarray(_arr(fweights), dtype=dtype_of(m))
    if aweights is not None:
        aw = fnp.asarray(_arr(aweights), dtype=dtype_of(m))
        w = aw if w is None else fnp.multiply(w, aw)
    if w is None:
        avg = fnp.mean(m, axis=1)
        fact = n - ddof
        xc = fnp.subtract(m, avg[:, None])
        c = fnp.divide(fnp.matmul(xc, fnp.conj(fnp.transpose(xc))), fact)
    else:
        w_sum = fnp.sum(w)
        avg = fnp.divide(fnp.sum(fnp.multiply(m, w), axis=1), w_sum)
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = fnp.subtract(w_sum, ddof)
        else:
            aw = fnp.asarray(_arr(aweights), dtype=dtype_of(m))
            fact = fnp.subtract(w_sum, fnp.divide(fnp.multiply(ddof, fnp.sum(fnp.multiply(
                w, aw))), w_sum))
        xc = fnp.subtract(m, avg[:, None])
        c = fnp.divide(fnp.matmul(fnp.multiply(xc, w), fnp.conj(fnp.transpose(xc))), fact)
    return fnp.squeeze(c) if shape_of(c) == (1, 1) else c


def corrcoef(x, y=None, rowvar=True):
    """Pearson correlation coefficients: cov / outer(std, std), clipped to [-1, 1]."""
    c = cov(x, y, rowvar)
    if len(shape_of(c)) == 0:
        return fnp.divide(c, c)
    d = fnp.sqrt(fnp.real(fnp.diagonal(c)))
    c = fnp.divide(fnp.divide(c, d[:, None]), d[None, :])
    return fnp.clip(c, -1, 1) if dtype_of(c).kind != "c" else c


def _nan_to(a, value):
    a = _arr(a)
    if dtype_of(a).kind not in "fc":
        return a
    return fnp.where(fnp.isnan(a), np.asarray(value, dtype_of(a))[()], a)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """sum treating nans as 0."""
    _no_out("nansum", out, initial, where)
    return fnp.sum(_nan_to(a, 0), axis=axis, dtype=dtype, keepdims=keepdims)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """prod treating nans as 1."""
    _no_out("nanprod", out, initial, where)
    return fnp.prod(_nan_to(a, 1), axis=axis, dtype=dtype, keepdims=keepdims)


def _no_out(name, out, initial=None, where=None):
    if out is not None or initial is not None or where is not None:
        raise NotImplementedError(f"fnp.{name}: out=, initial= and where= are not supported")


def _nan_count(a, axis, keepdims):
    return fnp.sum(fnp.logical_not(fnp.isnan(a)), axis=axis, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """mean of the non-nan elements (nan for an all-nan slice)."""
    _no_out("nanmean", out, where=where)
    a = _inexact(_arr(a))
    total = fnp.sum(_nan_to(a, 0), axis=axis, dtype=dtype, keepdims=keepdims)
    count = _nan_count(a, axis, keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        return fnp.divide(total, fnp.asarray(count, dtype=dtype_of(total)))


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """var of the non-nan elements."""
    _no_out("nanvar", out, where=where)
    a = _inexact(_arr(a))
    mean = nanmean(a, axis=axis, keepdims=True)
    dev = _nan_to(fnp.subtract(a, mean), 0)
    sq = fnp.real(fnp.multiply(dev, fnp.conj(dev))) if dtype_of(a).kind == "c" else \
        fnp.square(dev)
    total = fnp.sum(sq, axis=axis, keepdims=keepdims)
    count = fnp.subtract(_nan_count(a, axis, keepdims), ddof)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = fnp.divide(total, fnp.asarray(count, dtype=dtype_of(total)))
    return out if dtype is None else fnp.asarray(out, dtype=dtype)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """std of the non-nan elements."""
    return fnp.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where))


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """max ignoring nans (nan for an all-nan slice)."""
    return _nan_extremum("nanmax", a, axis, keepdims, out, initial, where, True)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """min ignoring nans (nan for an all-nan slice)."""
    return _nan_extremum("nanmin", a, axis, keepdims, out, initial, where, False)


def _nan_extremum(name, a, axis, keepdims, out, initial, where, larger):
    _no_out(name, out, initial, where)
    return _nan_ignoring(fnp.max if larger else fnp.min, a, axis, keepdims, larger, np.nan)


def nanargmax(a, axis=None, out=None, keepdims=False):
    """argmax ignoring nans (an all-nan slice raises in numpy; here it gives -1, as JAX)."""
    return _nan_arg("nanargmax", a, axis, keepdims, True)


def nanargmin(a, axis=None, out=None, keepdims=False):
    return _nan_arg("nanargmin", a, axis, keepdims, False)


def _nan_arg(name, a, axis, keepdims, larger):
    return _nan_ignoring(fnp.argmax if larger else fnp.argmin, a, axis, keepdims, larger, -1)


def _nan_ignoring(reduce, a, axis, keepdims, larger, all_nan_value):
    """reduce (max, min, argmax or argmin) of a with its nans replaced by -inf (larger) or
    inf, so that they never win; all_nan_value (nan in a's dtype, or an index) for slices
    that are all nan."""
    a = _arr(a)
    if dtype_of(a).kind != "f":
        return reduce(a, axis=axis, keepdims=keepdims)
    res = reduce(_nan_to(a, -np.inf if larger else np.inf), axis=axis, keepdims=keepdims)
    all_nan = fnp.all(fnp.isnan(a), axis=axis, keepdims=keepdims)
    if isinstance(all_nan_value, float):
        all_nan_value = np.asarray(all_nan_value, dtype_of(a))[()]
    return fnp.where(all_nan, all_nan_value, res)


def nancumsum(a, axis=None, dtype=None, out=None):
    """cumsum treating nans as 0."""
    return fnp.cumsum(_nan_to(a, 0), axis=axis, dtype=dtype)


def nancumprod(a, axis=None, dtype=None, out=None):
    """cumprod treating nans as 1."""
    return fnp.cumprod(_nan_to(a, 1), axis=axis, dtype=dtype)


def histogramdd(sample, bins=10, range=None, weights=None, density=None):
    """(counts, [edges per dimension]) of an (n, d) sample: each dimension binned as
    fnp.histogram does (last bin closed); float64 counts, differentiable in weights."""
    sample = _arr(sample)
    if len(shape_of(sample)) == 1:
        sample = sample[:, None]
    n, d = shape_of(sample)
    bins_list = list(bins) if isinstance(bins, (list, tuple)) else [bins] * d
    ranges = list(range) if range is not None else [None] * d
    edges = [histogram_bin_edges(sample[:, k], bins_list[k], ranges[k]) for k in _range(d)]
    sizes = [shape_of(e)[0] - 1 for e in edges]
    flat = None
    valid = None
    for k in _range(d):
        col = sample[:, k]
        idx = searchsorted(edges[k], col, side="right")
        idx = fnp.where(fnp.equal(col, edges[k][-1]), sizes[k], idx) - 1    # bin, -1/size: out
        ok = fnp.logical_and(fnp.greater_equal(idx, 0), fnp.less(idx, sizes[k]))
        valid = ok if valid is None else fnp.logical_and(valid, ok)
        flat = idx if flat is None else fnp.add(fnp.multiply(flat, sizes[k]), idx)
    total = int(np.prod(sizes))
    w = fnp.ones((n,), np.float64) if weights is None else _inexact(_arr(weights))
    w = fnp.where(valid, w, fnp.zeros((), dtype_of(w)))
    onehot = fnp.equal(fnp.expand_dims(flat, -1), np.arange(total))
    counts = fnp.sum(fnp.where(onehot, fnp.expand_dims(w, -1), fnp.zeros((), dtype_of(w))),
                     axis=0)
    counts = fnp.reshape(counts, tuple(sizes))
    if density:
        vol = None
        for k in _range(d):
            width = fnp.subtract(edges[k][1:], edges[k][:-1])
            shape = [1] * d
            shape[k] = -1
            width = fnp.reshape(width, shape)
            vol = width if vol is None else fnp.multiply(vol, width)
        counts = fnp.divide(fnp.divide(counts, vol), fnp.sum(counts))
    return counts, edges


_range = range


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):
    """(counts, x edges, y edges) of the points (x, y), as numpy.histogram2d."""
    counts, edges = histogramdd(fnp.stack([_arr(x), _arr(y)], axis=1), bins, range, weights,
                                density)
    return counts, edges[0], edges[1]
