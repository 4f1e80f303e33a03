"""More elementwise math: angle, fabs, logaddexp2, sinc, nan_to_num, heaviside, float_power,
frexp, modf, i0, ..., and lexsort/sort_complex.

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import math

import numpy as np

from ..core import dtypes
from .. import lax
from . import _base as fnp
from ._composed import _arr, _inexact, _concrete
from ._promotion import dtype_of, eager, numpy_promote, promote_args, to_inexact
from .comparisons import isneginf, isposinf

__all__ = ["angle", "fabs", "logaddexp2", "nan_to_num", "sinc", "heaviside", "float_power",
           "ldexp", "frexp", "modf", "divmod", "i0", "sort_complex", "spacing", "lexsort", "gcd",
           "lcm"]


def angle(z, deg=False):
    """The argument of complex z (arctan2(imag, real)); 0 or pi for real z."""
    z = _arr(z, "angle")
    # JAX computes the angle of integers in float64 (not float32 as its other float functions)
    z = z if dtype_of(z).kind in "fc" else fnp.asarray(z, dtype=np.float64)
    out = fnp.arctan2(fnp.imag(z), fnp.real(z)) if dtype_of(z).kind == "c" else \
        fnp.arctan2(fnp.zeros_like(z), z)
    return fnp.degrees(out) if deg else out


def fabs(x):
    """|x| for real x (complex raises, as numpy's fabs)."""
    x = _arr(x, "fabs")
    if dtype_of(x).kind == "c":
        raise TypeError("fnp.fabs does not accept complex arguments; use fnp.abs")
    return fnp.abs(_inexact(x))


def logaddexp2(x1, x2):
    """log2(2**x1 + 2**x2), without overflow."""
    x1, x2 = promote_args("logaddexp2", x1, x2, inexact=True)
    ln2 = np.asarray(math.log(2), dtype_of(x1))[()]
    return fnp.divide(fnp.logaddexp(fnp.multiply(x1, ln2), fnp.multiply(x2, ln2)), ln2)


def _sinc_core(x):
    # Below |x| = 1e-3 the Maclaurin polynomial 1 - (pi x)^2/6 + (pi x)^4/120 is exact to
    # double precision, and differentiable to any order at 0 (sin(pi x)/(pi x) is 0/0 there).
    small = fnp.less(fnp.abs(x), 1e-3)
    px = fnp.multiply(x, np.asarray(math.pi, dtype_of(x))[()])
    safe = fnp.where(small, fnp.ones_like(px), px)
    p2 = fnp.square(px)
    series = fnp.add(fnp.subtract(1, fnp.divide(p2, 6)), fnp.divide(fnp.square(p2), 120))
    return fnp.where(small, series, fnp.divide(fnp.sin(safe), safe))


def sinc(x):
    """sin(pi x) / (pi x), 1 at 0; smooth derivatives of every order at 0."""
    return _sinc_core(_inexact(_arr(x, "sinc")))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """nan -> nan, inf -> posinf (default: the largest finite value), -inf -> neginf."""
    x = _arr(x, "nan_to_num")
    kind = dtype_of(x).kind
    if kind == "c":
        return fnp.real(nan_to_num(fnp.real(x), nan=nan, posinf=posinf, neginf=neginf)) + \
            1j * nan_to_num(fnp.imag(x), nan=nan, posinf=posinf, neginf=neginf)
    if kind != "f":
        return x
    info = np.finfo(dtype_of(x))
    d = dtype_of(x)
    hi = np.asarray(info.max if posinf is None else posinf, d)[()]
    lo = np.asarray(info.min if neginf is None else neginf, d)[()]
    out = fnp.where(fnp.isnan(x), np.asarray(nan, d)[()], x)
    out = fnp.where(isposinf(out), hi, out)
    return fnp.where(isneginf(out), lo, out)


def heaviside(x1, x2):
    """0 for x1 < 0, x2 at 0, 1 for x1 > 0 (zero derivative in x1)."""
    x1, x2 = promote_args("heaviside", x1, x2, inexact=True)
    zero, one = fnp.zeros_like(x1), fnp.ones_like(x1)
    return fnp.where(fnp.less(x1, 0), zero, fnp.where(fnp.greater(x1, 0), one, x2))


def float_power(x1, x2):
    """x1 ** x2 computed in the inexact promoted dtype (JAX's float_power; numpy always uses
    float64 or complex128)."""
    x1, x2 = promote_args("float_power", x1, x2, inexact=True)
    return fnp.power(x1, x2)


def ldexp(x1, x2):
    """x1 * 2**x2 (x2 integers)."""
    x1 = _inexact(_arr(x1, "ldexp"))
    x2 = _arr(x2, "ldexp")
    if dtype_of(x2).kind not in "biu":
        raise TypeError("fnp.ldexp: x2 must hold integers")
    return fnp.multiply(x1, fnp.exp2(fnp.asarray(x2, dtype=dtype_of(x1))))


def frexp(x):
    """(mantissa, exponent) with x = mantissa * 2**exponent and 0.5 <= |mantissa| < 1; the
    mantissa's derivative is 2**-exponent, the exponent (int32) has none."""
    x = _inexact(_arr(x, "frexp"))
    if eager(x):
        m, e = np.frexp(x)
        return m, e.astype(np.int32)
    a = fnp.abs(x)
    safe = fnp.where(fnp.equal(a, 0), fnp.ones_like(a), a)
    e = fnp.add(fnp.floor(fnp.log2(safe)), 1)
    # log2 rounding can be off by one at powers of two: fix the exponent up
    m = fnp.divide(a, fnp.exp2(lax.stop_gradient(e)))
    e = fnp.where(fnp.greater_equal(m, 1), fnp.add(e, 1), fnp.where(fnp.less(m, 0.5),
                                                                    fnp.subtract(e, 1), e))
    e = lax.stop_gradient(fnp.where(fnp.logical_or(fnp.equal(a, 0), fnp.logical_not(
        fnp.isfinite(a))), fnp.zeros_like(e), e))
    mant = fnp.divide(x, fnp.exp2(e))
    return mant, fnp.asarray(e, dtype=np.int32)


def modf(x):
    """(fractional part, integral part), both with x's sign."""
    x = _inexact(_arr(x, "modf"))
    whole = fnp.trunc(x)
    return fnp.subtract(x, whole), whole


def divmod(x1, x2):
    """(x1 // x2, x1 % x2), numpy's floor division and remainder."""
    return fnp.floor_divide(x1, x2), fnp.remainder(x1, x2)


def spacing(x):
    """The distance from x to the next float away from zero (no derivative)."""
    x = _inexact(_arr(x, "spacing"))
    inf = np.asarray(np.inf, dtype_of(x))[()]
    toward = fnp.where(fnp.less(x, 0), -inf, inf)
    return lax.stop_gradient(fnp.subtract(fnp.nextafter(x, toward), x))


def i0(x):
    """The modified Bessel function of the first kind, order 0: exp(|x|) i0e(x)."""
    x = _arr(x, "i0")
    if dtype_of(x).kind == "c":
        raise TypeError("fnp.i0 does not accept complex arguments")
    x = to_inexact(x)
    return fnp.multiply(fnp.exp(fnp.abs(x)), lax.bessel_i0e(x))


def gcd(x1, x2):
    """The greatest common divisor of integers (needs concrete values)."""
    return _integer_pair("gcd", np.gcd, x1, x2)


def lcm(x1, x2):
    """The least common multiple of integers (needs concrete values)."""
    return _integer_pair("lcm", np.lcm, x1, x2)


def _integer_pair(name, np_fun, x1, x2):
    a = _concrete(x1, name, "Euclid's algorithm runs a value-dependent number of steps")
    b = _concrete(x2, name, "Euclid's algorithm runs a value-dependent number of steps")
    if np.result_type(a, b).kind not in "biu":
        raise TypeError(f"fnp.{name} requires integer arguments")
    return np_fun(*numpy_promote(x1 if dtypes.is_python_scalar(x1) else a,
                                 x2 if dtypes.is_python_scalar(x2) else b))


def sort_complex(a):
    """a sorted (real part, then imaginary part) as complex."""
    a = _arr(a, "sort_complex")
    d = dtype_of(a)
    # JAX's complex dtype for it: complex64 up to float32 (and 32-bit integers), else complex128
    out_dtype = dtypes.promote_types(dtypes.to_inexact(d), dtypes.complex64)
    a = fnp.asarray(a, dtype=out_dtype)
    order = lexsort((fnp.imag(a), fnp.real(a)))
    return fnp.take(a, order)


def lexsort(keys, axis=-1):
    """Indices that sort by the last key, then the one before, ... (stable)."""
    keys = [_arr(k, "lexsort") for k in keys]
    if not keys:
        raise TypeError("fnp.lexsort needs at least one key")
    order = fnp.argsort(keys[0], axis=axis)
    for k in keys[1:]:
        sorted_k = fnp.take_along_axis(k, order, axis=axis)
        order = fnp.take_along_axis(order, fnp.argsort(sorted_k, axis=axis), axis=axis)
    return order
