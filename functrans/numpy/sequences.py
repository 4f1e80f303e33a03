"""Sequences and windows (logspace, geomspace, vander, windows, unwrap) and vector products
(vecdot, matvec, vecmat, cumulative_sum/prod).

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import builtins
import math
import operator

import numpy as np

from .. import lax
from . import _base as fnp
from ._composed import _arr, _inexact
from ._promotion import canonical_axis, dtype_of, promote_args, shape_of
from .more_math import i0
from .differences import diff

__all__ = ["logspace", "geomspace", "vander", "unwrap", "vecdot", "matvec", "vecmat", "bartlett",
           "blackman", "hamming", "hanning", "kaiser", "cumulative_sum", "cumulative_prod"]


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """base ** linspace(start, stop, num)."""
    exps = fnp.linspace(start, stop, num, endpoint=endpoint, axis=axis)
    out = fnp.power(np.asarray(base, dtype_of(exps))[()] if np.ndim(base) == 0 else base, exps)
    return out if dtype is None else fnp.asarray(out, dtype=dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """A geometric progression from start to stop (same signs)."""
    start, stop = promote_args("geomspace", start, stop, inexact=True)
    sign = fnp.sign(start)
    exps = fnp.linspace(fnp.log10(fnp.abs(start)), fnp.log10(fnp.abs(stop)), num,
                        endpoint=endpoint, axis=axis)
    out = fnp.multiply(fnp.expand_dims(sign, axis) if len(shape_of(sign)) else sign,
                       fnp.power(10.0, exps))
    return out if dtype is None else fnp.asarray(out, dtype=dtype)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-d x: columns x ** (N-1), ..., x ** 0."""
    x = _arr(x, "vander")
    if len(shape_of(x)) != 1:
        raise ValueError("fnp.vander: x must be one-dimensional")
    n = shape_of(x)[0] if N is None else operator.index(N)
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    cols = [fnp.power(x, int(p)) if p else fnp.ones_like(x) for p in powers]
    return fnp.stack(cols, axis=1) if cols else fnp.zeros((shape_of(x)[0], 0), dtype_of(x))


def _window(np_fun):
    def fun(M, *args):
        return np.asarray(np_fun(operator.index(M), *args), np.float64)
    fun.__name__ = np_fun.__name__
    fun.__doc__ = f"numpy.{np_fun.__name__} (a constant window; float64)."
    return fun


bartlett, blackman, hamming, hanning = (_window(f) for f in (np.bartlett, np.blackman,
                                                               np.hamming, np.hanning))


def kaiser(M, beta):
    """The Kaiser window (float64), differentiable in beta."""
    M = operator.index(M)
    if M == 1:
        return np.ones(1)
    n = np.arange(M)
    alpha = (M - 1) / 2.0
    r = np.sqrt(np.clip(1 - ((n - alpha) / alpha) ** 2, 0, None))
    beta = fnp.asarray(_inexact(_arr(beta, "kaiser")), dtype=np.float64)
    return fnp.divide(i0(fnp.multiply(beta, r)), i0(beta))


def unwrap(p, discont=None, axis=-1, period=2 * math.pi):
    """p with jumps larger than max(discont, period/2) between neighbours removed by adding
    multiples of period."""
    p = _arr(p, "unwrap")
    # JAX unwraps integers in float64 (not float32 as its other float functions)
    p = p if dtype_of(p).kind in "fc" else fnp.asarray(p, dtype=np.float64)
    axis = canonical_axis(axis, len(shape_of(p)), "unwrap")
    d = diff(p, axis=axis)
    half = period / 2
    discont = half if discont is None else builtins.max(discont, half)
    ddmod = fnp.subtract(fnp.remainder(fnp.add(d, half), period), half)
    ddmod = fnp.where(fnp.logical_and(fnp.equal(ddmod, -half), fnp.greater(d, 0)),
                      fnp.full_like(ddmod, half), ddmod)
    correction = fnp.where(fnp.less(fnp.abs(d), discont), fnp.zeros_like(d),
                           fnp.subtract(ddmod, d))
    correction = lax.stop_gradient(correction)
    first = fnp.take(p, [0], axis=axis)
    return fnp.concatenate([first, fnp.add(fnp.take(p, np.arange(1, shape_of(p)[axis]),
                                                    axis=axis),
                                           fnp.cumsum(correction, axis=axis))], axis=axis)


def vecdot(x1, x2, /, *, axis=-1):
    """sum(conj(x1) * x2) over axis, broadcasting the others."""
    x1, x2 = _arr(x1, "vecdot"), _arr(x2, "vecdot")
    if dtype_of(x1).kind == "c":
        x1 = fnp.conj(x1)
    products = fnp.multiply(x1, x2)
    # A product keeps its operands' dtype (JAX): no widening of narrow integers as sum does.
    return fnp.sum(products, axis=axis, dtype=dtype_of(products))


def matvec(x1, x2, /):
    """Matrix-vector products over the last axes, broadcasting the others."""
    return fnp.matmul(x1, fnp.expand_dims(x2, -1))[..., 0]


def vecmat(x1, x2, /):
    """conj(vector)-matrix products over the last axes, broadcasting the others."""
    x1 = _arr(x1, "vecmat")
    if dtype_of(x1).kind == "c":
        x1 = fnp.conj(x1)
    return fnp.matmul(fnp.expand_dims(x1, -2), x2)[..., 0, :]


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """cumsum along axis (required unless x is 1-d), optionally starting with a 0."""
    return _cumulative("cumulative_sum", "cumsum", 0, x, axis, dtype, include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """cumprod along axis (required unless x is 1-d), optionally starting with a 1."""
    return _cumulative("cumulative_prod", "cumprod", 1, x, axis, dtype, include_initial)


def _cumulative(name, fname, initial, x, axis, dtype, include_initial):
    x = _arr(x, name)
    if axis is None:
        if len(shape_of(x)) > 1:
            raise ValueError(f"fnp.{name}: axis must be given for arrays of more than one "
                             "dimension")
        axis = 0
    out = getattr(fnp, fname)(x, axis=axis, dtype=dtype)
    if include_initial:
        shape = list(shape_of(out))
        axis = canonical_axis(axis, len(shape), name)
        shape[axis] = 1
        out = fnp.concatenate([fnp.full(tuple(shape), initial, dtype_of(out)), out], axis=axis)
    return out
