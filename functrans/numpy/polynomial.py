"""numpy's polynomial functions (highest degree first, as numpy.polyval), composed from fnp
functions: differentiable in the coefficients and the evaluation points."""
import operator

import numpy as np

from . import _base as fnp
from ._promotion import dtype_of, shape_of
from .assembly import trim_zeros
from .linalg import eigvals, lstsq
from .sequences import vander

__all__ = ["polyval", "polyadd", "polysub", "polymul", "polyder", "polyint", "polyfit", "poly",
           "roots", "polydiv"]



def _coeffs(p, name):
    p = fnp.asarray(p)
    if len(shape_of(p)) != 1:
        raise ValueError(f"fnp.{name}: coefficients must be a 1-d array")
    return p


def polyval(p, x, *, unroll=16):
    """p[0] x^(n-1) + ... + p[n-1] by Horner's rule."""
    p = _coeffs(p, "polyval")
    x = fnp.asarray(x)
    out = fnp.zeros_like(fnp.multiply(x, fnp.zeros((), dtype_of(p))))
    for i in range(shape_of(p)[0]):
        out = fnp.add(fnp.multiply(out, x), p[i])
    return out


def _pad_left(a, n):
    m = shape_of(a)[0]
    return a if m == n else fnp.concatenate([fnp.zeros((n - m,), dtype_of(a)), a])


def polyadd(a1, a2):
    """The sum of two polynomials."""
    a1, a2 = _coeffs(a1, "polyadd"), _coeffs(a2, "polyadd")
    n = max(shape_of(a1)[0], shape_of(a2)[0])
    return fnp.add(_pad_left(a1, n), _pad_left(a2, n))


def polysub(a1, a2):
    """The difference of two polynomials."""
    a1, a2 = _coeffs(a1, "polysub"), _coeffs(a2, "polysub")
    n = max(shape_of(a1)[0], shape_of(a2)[0])
    return fnp.subtract(_pad_left(a1, n), _pad_left(a2, n))


def polymul(a1, a2, *, trim_leading_zeros=False):
    """The product of two polynomials (a full convolution of the coefficients)."""
    a1, a2 = _coeffs(a1, "polymul"), _coeffs(a2, "polymul")
    n1, n2 = shape_of(a1)[0], shape_of(a2)[0]
    if n1 == 0 or n2 == 0:
        return fnp.zeros((0,), np.result_type(dtype_of(a1), dtype_of(a2)))
    # out[k] = sum_i a1[i] a2[k - i]: a (n1 + n2 - 1, n1) banded matrix of a2's entries
    k = np.arange(n1 + n2 - 1)[:, None] - np.arange(n1)[None, :]
    valid = (k >= 0) & (k < n2)
    band = fnp.where(valid, fnp.take(a2, np.clip(k, 0, n2 - 1)), 0)
    return fnp.matmul(band, a1)


def polyder(p, m=1):
    """The m-th derivative of a polynomial."""
    p = _coeffs(p, "polyder")
    m = operator.index(m)
    if m < 0:
        raise ValueError("fnp.polyder: order of derivative must be non-negative")
    for _ in range(m):
        n = shape_of(p)[0]
        if n <= 1:
            return fnp.zeros((0,), dtype_of(p))
        p = fnp.multiply(p[:-1], np.arange(n - 1, 0, -1))
    return p


def polyint(p, m=1, k=None):
    """The m-th antiderivative, with integration constants k (default 0)."""
    p = _coeffs(p, "polyint")
    m = operator.index(m)
    ks = np.zeros(m) if k is None else np.broadcast_to(np.asarray(k, dtype=np.float64), (m,))
    if dtype_of(p).kind in "biu":
        p = fnp.asarray(p, dtype=np.float64)
    for i in range(m):
        n = shape_of(p)[0]
        p = fnp.concatenate([fnp.divide(p, np.arange(n, 0, -1)),
                             fnp.full((1,), ks[i], dtype_of(p))])
    return p


def polydiv(u, v, *, trim_leading_zeros=False):
    """(quotient, remainder) of polynomial division (v's leading coefficient nonzero); the
    remainder keeps u's length unless trim_leading_zeros=True (needs concrete values)."""
    u = fnp.asarray(_coeffs(u, "polydiv"), dtype=np.float64) if dtype_of(
        fnp.asarray(u)).kind in "biu" else _coeffs(u, "polydiv")
    v = _coeffs(v, "polydiv")
    m, n = shape_of(u)[0] - 1, shape_of(v)[0] - 1
    scale = fnp.divide(1.0, v[0])
    q = []
    r = u
    for k in range(0, max(m - n + 1, 0)):
        d = fnp.multiply(scale, r[k])
        q.append(d)
        r = fnp.subtract(r, fnp.concatenate([fnp.zeros((k,), dtype_of(r)), fnp.multiply(d, v),
                                             fnp.zeros((m - n - k,), dtype_of(r))]))
    quotient = fnp.stack(q) if q else fnp.zeros((1,), dtype_of(r))
    if trim_leading_zeros:
        r = trim_zeros(r, "f")
    return quotient, r         # u's length, with leading zeros (as JAX; numpy trims them)


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least-squares polynomial coefficients of degree deg (highest first)."""
    if full or cov:
        raise NotImplementedError("fnp.polyfit: full=True and cov=True are not supported")
    deg = operator.index(deg)
    x = fnp.asarray(x, dtype=np.float64) if dtype_of(fnp.asarray(x)).kind in "biu" else \
        fnp.asarray(x)
    lhs = vander(x, deg + 1)
    rhs = fnp.asarray(y)
    if w is not None:
        lhs = fnp.multiply(lhs, fnp.asarray(w)[:, None])
        rhs = fnp.multiply(rhs, fnp.asarray(w) if len(shape_of(rhs)) == 1 else
                           fnp.asarray(w)[:, None])
    scale = fnp.sqrt(fnp.sum(fnp.square(lhs), axis=0))
    coef = lstsq(fnp.divide(lhs, scale), rhs, rcond=rcond)[0]
    return fnp.divide(coef, scale if len(shape_of(coef)) == 1 else scale[:, None])


def poly(seq_of_zeros):
    """The coefficients of the monic polynomial with the given roots (or a square matrix's
    characteristic polynomial)."""
    a = fnp.asarray(seq_of_zeros)
    if len(shape_of(a)) == 2 and shape_of(a)[0] == shape_of(a)[1] and shape_of(a)[0] > 0:
        a = eigvals(a)
    elif len(shape_of(a)) != 1:
        raise ValueError("fnp.poly: input must be 1-d or a non-empty square 2-d array")
    out = fnp.ones((1,), dtype_of(a) if dtype_of(a).kind in "fc" else np.float64)
    for i in range(shape_of(a)[0]):
        out = polymul(out, fnp.stack([fnp.ones((), dtype_of(out)), fnp.negative(a[i])]))
    return out


def roots(p, *, strip_zeros=True):
    """The roots of a polynomial: the eigenvalues of its companion matrix (complex)."""
    p = _coeffs(p, "roots")
    if strip_zeros:
        p = trim_zeros(p, "f")
    n = shape_of(p)[0]
    if n < 2:
        return fnp.zeros((0,), np.complex128)
    p = fnp.asarray(p, dtype=np.float64) if dtype_of(p).kind in "biu" else p
    companion = fnp.concatenate([fnp.negative(fnp.divide(p[1:], p[0]))[None, :],
                                 fnp.eye(n - 2, n - 1, dtype=dtype_of(p))], axis=0)
    return eigvals(companion)
