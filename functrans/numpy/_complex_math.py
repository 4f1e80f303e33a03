"""Complex branches of fnp functions whose real versions live elsewhere: the inverse hyperbolic
functions (principal branches, as numpy) and numpy's lexicographic ordering of complex numbers
for maximum/minimum and max/min (compare real parts, then imaginary parts; nan wins).
"""
import numpy as np

from .. import lax
from ._promotion import broadcast_shapes, broadcast_to, dtype_of, shape_of


def _real_dtype(z):
    return np.dtype(np.float32) if dtype_of(z) == np.complex64 else np.dtype(np.float64)


def _one(z):
    return np.asarray(1, dtype_of(z))[()]


def arcsinh(z):
    """log(z + sqrt(z^2 + 1)), evaluated as -arcsinh(-z) for Re z < 0 (no cancellation)."""
    flip = lax.lt(lax.real(z), np.asarray(0, _real_dtype(z))[()])
    w = _select(flip, z, lax.neg(z))
    out = lax.log(lax.add(w, lax.sqrt(lax.add(lax.mul(w, w), _one(z)))))
    return _select(flip, out, lax.neg(out))


def arccosh(z):
    """log(z + sqrt(z + 1) sqrt(z - 1)): the principal branch (Kahan's form)."""
    return lax.log(lax.add(z, lax.mul(lax.sqrt(lax.add(z, _one(z))),
                                      lax.sqrt(lax.sub(z, _one(z))))))


def arctanh(z):
    """(log1p(z) - log1p(-z)) / 2."""
    half = np.asarray(0.5, dtype_of(z))[()]
    return lax.mul(half, lax.sub(lax.log1p(z), lax.log1p(lax.neg(z))))


def _select(pred, if_false, if_true):
    shape = broadcast_shapes(shape_of(pred), shape_of(if_false), shape_of(if_true))
    return lax.select_n(broadcast_to(pred, shape), broadcast_to(if_false, shape),
                        broadcast_to(if_true, shape))


def _is_nan(z):
    return lax.bitwise_or(lax.ne(lax.real(z), lax.real(z)), lax.ne(lax.imag(z), lax.imag(z)))


def _first_wins(x1, x2, larger):
    """Where numpy's maximum (larger=True) or minimum picks x1 over x2."""
    r1, r2, i1, i2 = lax.real(x1), lax.real(x2), lax.imag(x1), lax.imag(x2)
    before = lax.gt if larger else lax.lt
    wins = lax.bitwise_or(before(r1, r2), lax.bitwise_and(lax.eq(r1, r2),
                                                          lax.bitwise_not(before(i2, i1))))
    wins = lax.bitwise_or(wins, _is_nan(x1))                  # nan propagates from x1...
    return lax.bitwise_and(wins, lax.bitwise_not(lax.bitwise_and(_is_nan(x2),
                                                                 lax.bitwise_not(_is_nan(x1)))))


def maximum(x1, x2):
    """Elementwise maximum of promoted, broadcast complex operands in numpy's order."""
    return _select(_first_wins(x1, x2, True), x2, x1)


def minimum(x1, x2):
    return _select(_first_wins(x1, x2, False), x2, x1)


def reduce_extremum(a, axes, larger):
    """max (larger=True) or min of complex a over axes in numpy's order, keeping no axes:
    the extreme real part, then the extreme imaginary part among the elements that have it."""
    real, imag = lax.real(a), lax.imag(a)
    reduce = lax.reduce_max if larger else lax.reduce_min
    best_real = reduce(real, axes)
    kept = [d for d in range(len(shape_of(a))) if d not in axes]
    ties = lax.eq(real, lax.broadcast_in_dim(best_real, shape_of(a), tuple(kept)))
    fill = np.asarray(-np.inf if larger else np.inf, _real_dtype(a))[()]
    best_imag = reduce(_select(ties, fill, imag), axes)
    out = lax.complex(best_real, best_imag)
    # a nan anywhere in a group makes that group's result nan, as numpy's does
    any_nan = lax.reduce_max(_is_nan(a), axes)
    nan = np.asarray(complex(np.nan, np.nan), dtype_of(a))[()]
    return _select(any_nan, out, nan)
