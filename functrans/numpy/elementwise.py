"""Elementwise functions with numpy's names, dtypes and broadcasting, built on functrans.lax.

Each function calls numpy directly when nothing is traced (see _promotion.eager); otherwise it
promotes and broadcasts its arguments as numpy would and applies lax functions. Float-only
functions (exp, sqrt, arctan2, true_divide, ...) give float64 for integer and boolean arguments,
as NumPy does for int32/int64 (NumPy picks float16/float32 for narrower ints; fnp, like JAX,
uses the default float for all of them).
"""
import math

import numpy as np

from .. import lax
from ..core import dtypes
from . import _complex_math
from ._promotion import (asarray, broadcast_args, broadcast_shapes, broadcast_to, cast,
                         concrete, dtype_of, eager, numpy_inexact, numpy_operand, numpy_promote,
                         promote, promote_args, recorded, shape_of, to_inexact)

__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "remainder", "mod",
    "fmod", "power", "pow", "negative", "positive", "abs", "absolute", "sign", "exp", "exp2",
    "log", "log2", "log10", "log1p", "expm1", "sqrt", "cbrt", "square", "reciprocal", "sin",
    "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "asin",
    "acos", "atan", "atan2", "arcsinh", "arccosh", "arctanh", "asinh", "acosh", "atanh",
    "logaddexp", "hypot", "deg2rad", "rad2deg", "radians", "degrees", "floor", "ceil",
    "trunc", "fix", "rint", "round", "around", "maximum", "minimum", "fmax", "fmin", "copysign",
    "signbit", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_invert", "invert", "left_shift", "right_shift",
    "bitwise_left_shift", "bitwise_right_shift", "nextafter", "isfinite", "isnan", "isinf",
    "where", "clip", "real", "imag", "conj", "conjugate",
]

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _named(name, fun, doc):
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = doc
    return fun


def _kind(x):
    return dtype_of(x).kind


def _refuse_bool(name, x):
    if _kind(x) == "b":
        raise TypeError(f"fnp.{name} does not accept boolean arguments (neither does numpy); "
                        "use fnp.logical_not / fnp.logical_xor, or convert with .astype(int)")


def _bool_as_int32(*args):
    """Arithmetic without a boolean meaning (power, //, %, shifts, square) computes booleans
    in int32, as JAX does (numpy uses int8)."""
    return [cast(a, dtypes.int32) for a in args] if _kind(args[0]) == "b" else list(args)


def _numpy_bools_as_int32(np_fun):
    """np_fun for the eager path, with boolean operands computed as JAX computes them."""
    def fun(*args):
        args = numpy_promote(*args)
        if np.result_type(args[0]).kind == "b":
            args = [np.asarray(a, np.int32) for a in args]
        return np_fun(*args)
    return fun


def _eager_pair(x1, x2):
    """Eager operands of a binary function in JAX's promoted dtype (two arrays of one dtype,
    the common case, pass straight through)."""
    if type(x1) is np.ndarray and type(x2) is np.ndarray and x1.dtype == x2.dtype:
        return x1, x2
    return numpy_promote(x1, x2)


# --- families -------------------------------------------------------------------------------------

def _float_unary(name, np_fun, lax_fun, doc):
    """A float-only unary function: integer and boolean inputs are computed in float64."""
    def traced(x):
        return lax_fun(to_inexact(asarray(x, name)))

    def fun(x, /):
        if eager(x):
            return np_fun(*numpy_inexact(x))
        return recorded(traced, (x,))
    return _named(name, fun, doc)


def _float_binary(name, np_fun, lax_fun, doc):
    def traced(x1, x2):
        return lax_fun(*promote_args(name, x1, x2, inexact=True))

    def fun(x1, x2, /):
        if eager(x1, x2):
            return np_fun(*numpy_inexact(x1, x2))
        return recorded(traced, (x1, x2))
    return _named(name, fun, doc)


def _binary(name, np_fun, lax_fun, doc):
    """A binary function defined for every dtype lax_fun accepts, after numpy promotion."""
    def traced(x1, x2):
        return lax_fun(*promote_args(name, x1, x2))

    def fun(x1, x2, /):
        if eager(x1, x2):
            return np_fun(*_eager_pair(x1, x2))
        return recorded(traced, (x1, x2))
    return _named(name, fun, doc)


# --- arithmetic -----------------------------------------------------------------------------------

def _add(x1, x2):
    return lax.bitwise_or(x1, x2) if _kind(x1) == "b" else lax.add(x1, x2)


def _subtract(x1, x2):
    _refuse_bool("subtract", x1)
    return lax.sub(x1, x2)


def _multiply(x1, x2):
    return lax.bitwise_and(x1, x2) if _kind(x1) == "b" else lax.mul(x1, x2)


add = _binary("add", np.add, _add, "x1 + x2 elementwise (booleans: logical or).")
subtract = _binary("subtract", np.subtract, _subtract, "x1 - x2 elementwise.")
multiply = _binary("multiply", np.multiply, _multiply,
                   "x1 * x2 elementwise (booleans: logical and).")
true_divide = _float_binary("true_divide", np.true_divide, lax.div,
                            "x1 / x2 elementwise; integers are divided as float64.")
divide = _named("divide", lambda x1, x2, /: true_divide(x1, x2), true_divide.__doc__)


def _select(which, if_false, if_true):
    """lax.select_n with its operands broadcast to one shape (lax wants equal case shapes)."""
    shape = broadcast_shapes(*(shape_of(v) for v in (which, if_false, if_true)))
    return lax.select_n(*(broadcast_to(v, shape) for v in (which, if_false, if_true)))


def _signbit(x):
    # atan2(x, -1) is in (0, pi] for x >= +0 and in [-pi, 0) for x <= -0: it sees the sign of
    # a zero, which comparisons cannot.
    if _kind(x) in "iu":
        return lax.lt(x, 0)
    return lax.lt(lax.atan2(x, -1.0), 0)


def _floor_divide_and_mod(x1, x2):
    """numpy's floor division and Python-style remainder, for promoted and broadcast args."""
    x1, x2 = _bool_as_int32(x1, x2)
    kind = _kind(x1)
    if kind == "c":
        raise TypeError("fnp.floor_divide / fnp.remainder do not accept complex arguments")
    if kind == "u":
        return lax.div(x1, x2), lax.rem(x1, x2)
    if kind == "i":
        # lax rounds quotients toward zero: step down where the remainder and the divisor
        # have opposite signs (the division was inexact and the quotient negative).
        q, r = lax.div(x1, x2), lax.rem(x1, x2)
        fix = lax.bitwise_and(lax.ne(r, 0), lax.ne(lax.lt(r, 0), lax.lt(x2, 0)))
        return (_select(fix, q, lax.sub(q, 1)),
                _select(fix, r, lax.add(r, x2)))
    # Floats: numpy's npy_divmod, step by step, so that results agree to the last bit.
    mod = lax.rem(x1, x2)
    div = lax.div(lax.sub(x1, mod), x2)
    fix = lax.bitwise_and(lax.ne(mod, 0), lax.ne(lax.lt(x2, 0), lax.lt(mod, 0)))
    mod = _select(fix, mod, lax.add(mod, x2))
    div = _select(fix, div, lax.sub(div, 1))
    zero = lax.mul(x2, 0.0)
    mod = _select(lax.eq(mod, 0), mod, _copysign(zero, x2))
    floordiv = lax.floor(div)
    floordiv = _select(lax.gt(lax.sub(div, floordiv), 0.5), floordiv, lax.add(floordiv, 1))
    floordiv = _select(lax.eq(div, 0), floordiv, _copysign(zero, lax.div(x1, x2)))
    by_zero = lax.eq(x2, 0)
    return _select(by_zero, floordiv, lax.div(x1, x2)), mod


def _copysign(x1, x2):
    magnitude = lax.abs(x1)
    return _select(_signbit(x2), magnitude, lax.neg(magnitude))


floor_divide = _binary("floor_divide", _numpy_bools_as_int32(np.floor_divide),
                       lambda x1, x2: _floor_divide_and_mod(x1, x2)[0],
                       "x1 // x2 elementwise: the quotient rounded toward -inf, as numpy does.")
remainder = _binary("remainder", _numpy_bools_as_int32(np.remainder), lambda x1, x2: _floor_divide_and_mod(x1, x2)[1],
                    "x1 % x2 elementwise, with the sign of x2 (numpy's and Python's rule).")
mod = _named("mod", lambda x1, x2, /: remainder(x1, x2), remainder.__doc__)
fmod = _binary("fmod", _numpy_bools_as_int32(np.fmod),
               lambda x1, x2: lax.rem(*_bool_as_int32(x1, x2)),
               "The C remainder of x1 / x2, with the sign of x1.")
copysign = _float_binary("copysign", np.copysign, _copysign,
                         "The magnitude of x1 with the sign of x2 (the sign of zeros included).")


def signbit(x, /):
    """True where the sign bit of x is set (negative numbers and -0.0)."""
    if eager(x):
        return np.signbit(x)
    x = asarray(x, "signbit")
    if _kind(x) in "bu":
        return broadcast_to(False, shape_of(x))
    if _kind(x) == "c":
        raise TypeError("fnp.signbit does not accept complex arguments")
    return _signbit(x)


def _integer_power(base, exponent):
    """base ** exponent for integer arrays by binary exponentiation over every bit of the
    exponent's dtype: numpy multiplies the same way, wrapping around on overflow."""
    acc = lax.mul(base, 0)
    acc = lax.add(acc, 1)
    for _ in range(dtype_of(exponent).itemsize * 8):
        acc = _select(lax.ne(lax.rem(exponent, 2), 0), acc, lax.mul(acc, base))
        exponent = lax.div(exponent, 2)
        base = lax.mul(base, base)
    return acc


def power(x1, x2, /):
    """x1 ** x2 elementwise. A Python int exponent uses lax.integer_pow (exact, and a cheap
    derivative); integer arrays use exact binary exponentiation. As in numpy, integers to
    negative integer powers are an error where the exponent is known (under tracing an
    array exponent with negative entries gives unspecified values)."""
    if eager(x1, x2):
        if type(x2) is int:         # the exponent does not promote the base (see below)
            base = numpy_operand(x1)
            return np.power(np.asarray(base, np.int32) if np.result_type(base).kind == "b"
                            else base, x2)
        return _numpy_bools_as_int32(np.power)(x1, x2)
    return recorded(_power, (x1, x2))


def _power(x1, x2):
    x1, x2 = asarray(x1, "power"), asarray(x2, "power")
    if type(x2) is int:
        # A Python int exponent does not take part in promotion (JAX): the base keeps its
        # dtype, booleans computing in int32.
        base, = _bool_as_int32(x1)
        if _kind(base) in "iu" and x2 < 0:
            raise ValueError("Integers to negative integer powers are not allowed.")
        return lax.integer_pow(base, x2)
    x1, x2 = _bool_as_int32(*promote_args("power", x1, x2))
    if _kind(x1) in "iu":
        shape = broadcast_shapes(shape_of(x1), shape_of(x2), name="power")
        return _integer_power(broadcast_to(x1, shape), broadcast_to(x2, shape))
    return lax.pow(x1, x2)


pow = _named("pow", lambda x1, x2, /: power(x1, x2), power.__doc__)


def negative(x, /):
    """-x elementwise."""
    if eager(x):
        return np.negative(x)
    return recorded(_negative, (x,))


def _negative(x):
    x = asarray(x, "negative")
    _refuse_bool("negative", x)
    return lax.neg(x)


def positive(x, /):
    """+x elementwise (a copy of x)."""
    if eager(x):
        return np.positive(x)
    x = asarray(x, "positive")
    _refuse_bool("positive", x)
    return x


def absolute(x, /):
    """|x| elementwise; for complex x, the float modulus."""
    if eager(x):
        return np.absolute(x)
    return recorded(_absolute, (x,))


def _absolute(x):
    x = asarray(x, "absolute")
    return x if _kind(x) in "bu" else lax.abs(x)


abs = _named("abs", lambda x, /: absolute(x), absolute.__doc__)


def sign(x, /):
    """-1, 0 or 1 by the sign of x (nan for nan); for complex x, x / |x| (0 at 0), as numpy 2."""
    if eager(x) and np.result_type(numpy_operand(x)).kind != "c":
        return np.sign(x)
    # complex x: the lax path, also eagerly (np.sign rounds z / |z| differently)
    x = asarray(x, "sign")
    _refuse_bool("sign", x)
    if _kind(x) != "c":
        return lax.sign(x)
    magnitude = lax.abs(x)
    is_zero = lax.eq(magnitude, 0)
    safe = _select(is_zero, magnitude, lax.add(magnitude, 1))
    return _select(is_zero, lax.div(x, lax.convert_element_type(safe, dtype_of(x))),
                   lax.mul(x, 0))


def square(x, /):
    """x * x elementwise (booleans give int32, as in JAX; numpy gives int8)."""
    if eager(x):
        return _numpy_bools_as_int32(np.square)(x)
    return recorded(_square, (x,))


def _square(x):
    x, = _bool_as_int32(asarray(x, "square"))
    return lax.mul(x, x)


def reciprocal(x, /):
    """1 / x elementwise. Integers give float64 (numpy would truncate 1 / x to an integer)."""
    if eager(x) and np.result_type(numpy_operand(x)).kind != "c":
        return np.reciprocal(*numpy_inexact(x))
    # complex x: the lax path, also eagerly (np.reciprocal rounds differently from 1 / z)
    return lax.div(1, to_inexact(asarray(x, "reciprocal")))


# --- transcendental functions ---------------------------------------------------------------------

exp = _float_unary("exp", np.exp, lax.exp, "e**x elementwise.")
expm1 = _float_unary("expm1", np.expm1, lax.expm1, "exp(x) - 1, accurate for small x.")
log = _float_unary("log", np.log, lax.log, "Natural logarithm elementwise.")
log1p = _float_unary("log1p", np.log1p, lax.log1p, "log(1 + x), accurate for small x.")
sqrt = _float_unary("sqrt", np.sqrt, lax.sqrt, "Square root elementwise.")
cbrt = _float_unary("cbrt", np.cbrt, lax.cbrt, "Cube root elementwise (real inputs).")
sin = _float_unary("sin", np.sin, lax.sin, "Sine elementwise.")
cos = _float_unary("cos", np.cos, lax.cos, "Cosine elementwise.")
tan = _float_unary("tan", np.tan, lax.tan, "Tangent elementwise.")
arcsin = _float_unary("arcsin", np.arcsin, lax.asin, "Inverse sine elementwise.")
arccos = _float_unary("arccos", np.arccos, lax.acos, "Inverse cosine elementwise.")
arctan = _float_unary("arctan", np.arctan, lax.atan, "Inverse tangent elementwise.")
sinh = _float_unary("sinh", np.sinh, lax.sinh, "Hyperbolic sine elementwise.")
cosh = _float_unary("cosh", np.cosh, lax.cosh, "Hyperbolic cosine elementwise.")
tanh = _float_unary("tanh", np.tanh, lax.tanh, "Hyperbolic tangent elementwise.")
asin, acos, atan = arcsin, arccos, arctan
arctan2 = _float_binary("arctan2", np.arctan2, lax.atan2,
                        "The angle of the point (x2, x1): arctan(x1 / x2) in the right quadrant.")
atan2 = arctan2

exp2 = _float_unary("exp2", np.exp2, lax.exp2, "2**x elementwise.")

# No lax primitive for these: they are derived (as in JAX), and the eager path computes the
# same formula with numpy so that both paths agree to the last bit. They can differ from
# np.log2 / np.log10 by an ulp (log10(1000) is 2.9999999999999996).
log2 = _float_unary("log2", lambda x: np.true_divide(np.log(x), _LN2),
                    lambda x: lax.div(lax.log(x), _LN2), "Base-2 logarithm: log(x) / log(2).")
log10 = _float_unary("log10", lambda x: np.true_divide(np.log(x), _LN10),
                     lambda x: lax.div(lax.log(x), _LN10),
                     "Base-10 logarithm: log(x) / log(10).")
deg2rad = _float_unary("deg2rad", lambda x: np.multiply(x, math.pi / 180),
                       lambda x: lax.mul(x, math.pi / 180), "Degrees to radians.")
rad2deg = _float_unary("rad2deg", lambda x: np.multiply(x, 180 / math.pi),
                       lambda x: lax.mul(x, 180 / math.pi), "Radians to degrees.")
radians, degrees = deg2rad, rad2deg


# Derived functions with no numpy fast path: numpy computes them with libm's scalar functions,
# which can round differently from its vectorized exp/log/sqrt loops that the primitives use,
# so eager calls run the same lax operations as traced ones (on numpy arrays).

def _large(x):
    """Beyond this magnitude 1 + x*x rounds to x*x: sqrt(x*x + 1) is |x| to the last bit."""
    return float(1 / np.sqrt(np.finfo(dtype_of(x)).eps))


def arcsinh(x, /):
    """Inverse hyperbolic sine: sign(x) log1p(|x| + x**2 / (1 + sqrt(1 + x**2))), accurate
    near 0; log(2|x|) for huge |x|."""
    x = to_inexact(asarray(x, "arcsinh"))
    if _kind(x) == "c":
        return _complex_math.arcsinh(x)
    a = lax.abs(x)
    clamped = lax.min(a, _large(x))        # keeps a*a finite in the branch not taken
    a2 = lax.mul(clamped, clamped)
    moderate = lax.log1p(lax.add(clamped, lax.div(a2, lax.add(1, lax.sqrt(lax.add(1, a2))))))
    huge = lax.add(lax.log(a), _LN2)
    return _copysign(_select(lax.gt(a, _large(x)), moderate, huge), x)


def arccosh(x, /):
    """Inverse hyperbolic cosine (x >= 1): log1p(t + sqrt(t (t + 2))) with t = x - 1, accurate
    near 1; log(2x) for huge x; nan below 1."""
    x = to_inexact(asarray(x, "arccosh"))
    if _kind(x) == "c":
        return _complex_math.arccosh(x)
    t = lax.sub(lax.min(x, _large(x)), 1)     # keeps t*t finite in the branch not taken
    moderate = lax.log1p(lax.add(t, lax.sqrt(lax.mul(t, lax.add(t, 2)))))
    return _select(lax.gt(x, _large(x)), moderate, lax.add(lax.log(x), _LN2))


def arctanh(x, /):
    """Inverse hyperbolic tangent: log1p(2x / (1 - x)) / 2 (inf at 1, nan beyond)."""
    x = to_inexact(asarray(x, "arctanh"))
    if _kind(x) == "c":
        return _complex_math.arctanh(x)
    return lax.mul(0.5, lax.log1p(lax.div(lax.mul(2, x), lax.sub(1, x))))


asinh, acosh, atanh = arcsinh, arccosh, arctanh


def _log1p_exp(x):
    """log(1 + exp(x)) for finite x, without overflow and smooth at every order: each branch of
    the select is fed only values where it is finite (the double-where idiom), and no kink
    (|x|, max) enters, so second derivatives at 0 are right (sigmoid'(0) = 1/4)."""
    positive = lax.gt(x, 0)
    zero = lax.full_like(x, 0)
    xp, xn = _select(positive, zero, x), _select(positive, x, zero)
    return _select(positive, lax.log1p(lax.exp(xn)),
                   lax.add(xp, lax.log1p(lax.exp(lax.neg(xp)))))


def logaddexp(x1, x2, /):
    """log(exp(x1) + exp(x2)) without overflow: the larger plus log1p(exp(-difference)).
    Symmetric, so equal arguments get gradient (1/2, 1/2); infinite arguments give the max."""
    x1, x2 = promote_args("logaddexp", x1, x2, inexact=True)
    if _kind(x1) == "c":
        raise TypeError("fnp.logaddexp does not support complex arguments")
    diff = lax.sub(x1, x2)
    finite = lax.is_finite(diff)
    safe = _select(finite, lax.full_like(diff, 0), diff)
    general = _select(lax.gt(safe, 0), lax.add(x2, _log1p_exp(safe)),
                      lax.add(x1, _log1p_exp(lax.neg(safe))))
    # an infinite argument (or two: inf - inf is nan) makes the result the max
    return _select(finite, lax.max(x1, x2), general)


def hypot(x1, x2, /):
    """sqrt(x1**2 + x2**2) without overflow: max * sqrt(1 + (min/max)**2); inf if either is
    infinite."""
    x1, x2 = promote_args("hypot", x1, x2, inexact=True)
    if _kind(x1) == "c":
        raise TypeError("fnp.hypot does not support complex arguments")
    a, b = lax.abs(x1), lax.abs(x2)
    hi, lo = lax.max(a, b), lax.min(a, b)
    safe_hi = _select(lax.eq(hi, 0), hi, lax.add(hi, 1))     # no 0 / 0 where both are 0
    ratio = lax.div(lo, safe_hi)
    out = _select(lax.eq(hi, 0), lax.mul(hi, lax.sqrt(lax.add(1, lax.mul(ratio, ratio)))),
                  lax.mul(hi, 0))
    infinite = lax.bitwise_or(lax.eq(a, np.inf), lax.eq(b, np.inf))
    return _select(infinite, out, np.array(np.inf, dtype_of(out)))


# --- rounding -------------------------------------------------------------------------------------

def _integral_identity(name, np_fun, lax_fun, doc):
    """floor / ceil / trunc: integers and booleans are returned unchanged (numpy 2 keeps their
    dtype), floats rounded with lax_fun."""
    def fun(x, /):
        if eager(x):
            return np_fun(x)
        x = asarray(x, name)
        if _kind(x) == "c":
            raise TypeError(f"fnp.{name} does not accept complex arguments")
        return x if _kind(x) in "biu" else lax_fun(x)
    return _named(name, fun, doc)


def _trunc(x):
    return _select(lax.lt(x, 0), lax.floor(x), lax.ceil(x))


floor = _integral_identity("floor", np.floor, lax.floor, "Largest integer <= x, elementwise.")
ceil = _integral_identity("ceil", np.ceil, lax.ceil, "Smallest integer >= x, elementwise.")
trunc = _integral_identity("trunc", np.trunc, _trunc, "x rounded toward zero, elementwise.")
fix = _named("fix", lambda x, /: trunc(x), trunc.__doc__)


def _round_even(x):
    if _kind(x) == "c":
        return lax.complex(_round_even(lax.real(x)), _round_even(lax.imag(x)))
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


def rint(x, /):
    """Round to the nearest integer, halves to even. Integers and booleans give float64, as
    in JAX (whose rint does not narrow them to float32 as its other float functions do)."""
    if eager(x):
        x = numpy_operand(x)
        exact = np.result_type(x).kind in "biu"
        return np.rint(np.asarray(x, np.float64) if exact else x)
    x = asarray(x, "rint")
    return _round_even(cast(x, dtypes.float64) if _kind(x) in "biu" else x)


def round(a, decimals=0):
    """Round to `decimals` decimals, halves to even, as numpy does: for floats
    rint(a * 10**decimals) / 10**decimals; integers are unchanged for decimals >= 0 and rounded
    through float64 otherwise. Booleans are returned unchanged (numpy gives float16)."""
    decimals = int(decimals)
    if eager(a):
        a = numpy_operand(a)
        return np.array(a) if np.result_type(a).kind == "b" else np.round(a, decimals)
    a = asarray(a, "round")
    kind = _kind(a)
    if kind == "c":     # as numpy: the real and imaginary parts separately
        return lax.complex(round(lax.real(a), decimals), round(lax.imag(a), decimals))
    if kind in "biu":
        if decimals >= 0 or kind == "b":
            return a
        scale = 10.0 ** -decimals
        y = lax.mul(_round_even(lax.div(cast(a, dtypes.float64), scale)), scale)
        return cast(y, dtype_of(a))
    if decimals == 0:
        return _round_even(a)
    if decimals > 0:
        scale = 10.0 ** decimals
        return lax.div(_round_even(lax.mul(a, scale)), scale)
    scale = 10.0 ** -decimals
    return lax.mul(_round_even(lax.div(a, scale)), scale)


around = _named("around", round, round.__doc__)


# --- maxima and minima ----------------------------------------------------------------------------

def _ordered(real_fun, complex_name):
    """lax.max/min, or for complex operands numpy's lexicographic order (functrans/numpy/
    _complex_math.py)."""
    def fun(x1, x2):
        if _kind(x1) == "c":
                return getattr(_complex_math, complex_name)(x1, x2)
        return real_fun(x1, x2)
    return fun


maximum = _binary("maximum", np.maximum, _ordered(lax.max, "maximum"),
                  "Elementwise maximum; nan propagates; complex numbers in numpy's order.")
minimum = _binary("minimum", np.minimum, _ordered(lax.min, "minimum"),
                  "Elementwise minimum; nan propagates; complex numbers in numpy's order.")


def _ignoring_nan(lax_fun):
    def fun(x1, x2):
        if _kind(x1) not in "fc":
            return lax_fun(x1, x2)
        best = lax_fun(x1, x2)
        best = _select(lax.ne(x1, x1), best, x2)
        return _select(lax.ne(x2, x2), best, x1)
    return fun


fmax = _binary("fmax", np.fmax, _ignoring_nan(lax.max),
               "Elementwise maximum ignoring nan (nan only where both are nan).")
fmin = _binary("fmin", np.fmin, _ignoring_nan(lax.min),
               "Elementwise minimum ignoring nan (nan only where both are nan).")


# --- comparisons and logic ------------------------------------------------------------------------

equal = _binary("equal", np.equal, lax.eq, "x1 == x2 elementwise.")
not_equal = _binary("not_equal", np.not_equal, lax.ne, "x1 != x2 elementwise.")
less = _binary("less", np.less, lax.lt, "x1 < x2 elementwise.")
less_equal = _binary("less_equal", np.less_equal, lax.le, "x1 <= x2 elementwise.")
greater = _binary("greater", np.greater, lax.gt, "x1 > x2 elementwise.")
greater_equal = _binary("greater_equal", np.greater_equal, lax.ge, "x1 >= x2 elementwise.")


def _truth(x):
    """x != 0 as booleans (x itself if boolean)."""
    return x if _kind(x) == "b" else lax.ne(x, 0)


def _logical(name, np_fun, lax_fun):
    def fun(x1, x2, /):
        if eager(x1, x2):
            return np_fun(x1, x2)
        x1, x2 = (_truth(asarray(x, name)) for x in (x1, x2))
        return lax_fun(*broadcast_args(name, x1, x2))
    return _named(name, fun, f"Elementwise logical {name.split('_')[1]} of the truth values.")


logical_and = _logical("logical_and", np.logical_and, lax.bitwise_and)
logical_or = _logical("logical_or", np.logical_or, lax.bitwise_or)
logical_xor = _logical("logical_xor", np.logical_xor, lax.bitwise_xor)


def logical_not(x, /):
    """Elementwise logical not of the truth values."""
    if eager(x):
        return np.logical_not(x)
    return lax.bitwise_not(_truth(asarray(x, "logical_not")))


bitwise_and = _binary("bitwise_and", np.bitwise_and, lax.bitwise_and,
                      "x1 & x2 elementwise (integers and booleans).")
bitwise_or = _binary("bitwise_or", np.bitwise_or, lax.bitwise_or,
                     "x1 | x2 elementwise (integers and booleans).")
bitwise_xor = _binary("bitwise_xor", np.bitwise_xor, lax.bitwise_xor,
                      "x1 ^ x2 elementwise (integers and booleans).")


def invert(x, /):
    """~x elementwise: bitwise not of integers, logical not of booleans."""
    if eager(x):
        return np.invert(x)
    return lax.bitwise_not(asarray(x, "invert"))


bitwise_not = bitwise_invert = invert


def _shift(name, np_fun, build):
    def fun(x1, x2, /):
        if eager(x1, x2):
            return _numpy_bools_as_int32(np_fun)(x1, x2)
        x1, x2 = _bool_as_int32(*promote_args(name, x1, x2))
        if _kind(x1) not in "iu":
            raise TypeError(f"fnp.{name} requires integer or boolean arguments, got "
                            f"{dtype_of(x1).name}")
        return build(x1, x2)
    return _named(name, fun, f"Bits of x1 shifted {name.split('_')[0]} by x2 (numpy's rules "
                             "for shifts by the bit width or more).")


left_shift = _shift("left_shift", np.left_shift, lax.shift_left)
# numpy shifts signed integers arithmetically (copies of the sign bit come in)
right_shift = _shift("right_shift", np.right_shift, lambda x1, x2: (
    lax.shift_right_logical if _kind(x1) == "u" else lax.shift_right_arithmetic)(x1, x2))
bitwise_left_shift, bitwise_right_shift = left_shift, right_shift
nextafter = _float_binary("nextafter", np.nextafter, lax.nextafter,
                          "The next float after x1 in the direction of x2.")


# --- classification -------------------------------------------------------------------------------

def _classify(name, np_fun, real_fun, combine, integer_value, doc):
    def fun(x, /):
        if eager(x):
            return np_fun(x)
        x = asarray(x, name)
        if _kind(x) in "biu":
            return broadcast_to(integer_value, shape_of(x))
        if _kind(x) == "c":
            return combine(real_fun(lax.real(x)), real_fun(lax.imag(x)))
        return real_fun(x)
    return _named(name, fun, doc)


isfinite = _classify("isfinite", np.isfinite, lax.is_finite, lax.bitwise_and, True,
                     "True where x is neither infinite nor nan.")
isnan = _classify("isnan", np.isnan, lambda x: lax.ne(x, x), lax.bitwise_or, False,
                  "True where x is nan.")
isinf = _classify("isinf", np.isinf, lambda x: lax.eq(lax.abs(x), np.inf), lax.bitwise_or,
                  False, "True where x is +inf or -inf.")


# --- selection ------------------------------------------------------------------------------------

def where(condition, x=None, y=None, /):
    """x where condition is true, else y, broadcast together. With only a condition, the indices
    of its nonzero elements (fnp.nonzero); the condition must then be concrete, since the
    number of indices is the output's shape."""
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("fnp.where: either both or neither of x and y should be given")
    if eager(condition, x, y):
        return np.where(condition, *numpy_promote(x, y))
    return recorded(_where, (condition, x, y))


def _where(condition, x, y):
    condition = _truth(asarray(condition, "where"))
    x, y = promote(asarray(x, "where"), asarray(y, "where"))
    shape = broadcast_shapes(shape_of(condition), shape_of(x), shape_of(y), name="where")
    if shape_of(condition) != ():       # a rank-0 condition selects whole arrays
        condition = broadcast_to(condition, shape, "where")
    return lax.select_n(condition, broadcast_to(y, shape, "where"),
                        broadcast_to(x, shape, "where"))


def nonzero(a):
    """The indices of the nonzero elements, one integer array per axis. The result's shape
    depends on a's values, so a must be concrete."""
    if eager(a):
        return np.nonzero(a)
    return np.nonzero(np.asarray(concrete(asarray(a, "nonzero"), "nonzero")))


def flatnonzero(a):
    """Indices of the nonzero elements of a.ravel() (a must be concrete)."""
    return nonzero(np.ravel(concrete(asarray(a, "flatnonzero"), "flatnonzero")))[0]


def clip(a, a_min=None, a_max=None, *, min=None, max=None):
    """a limited to [a_min, a_max] elementwise: minimum(maximum(a, a_min), a_max), with numpy's
    promotion; either bound may be None. JAX's names min= and max= are accepted too."""
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    if eager(a, lo, hi):
        a = numpy_operand(a)
        if lo is None and hi is None:
            return np.array(a)
        a, *bounds = numpy_promote(a, *(b for b in (lo, hi) if b is not None))
        return np.clip(a, bounds.pop(0) if lo is not None else None,
                       bounds.pop(0) if hi is not None else None)
    # One promotion of all three (not two in a row: clip(bools, 0, int8s) is int8).
    bounds = [b for b in (lo, hi) if b is not None]
    out, *bounds = promote_args("clip", a, *bounds)
    if lo is not None:
        out = lax.max(*broadcast_args("clip", out, bounds.pop(0)))
    if hi is not None:
        out = lax.min(*broadcast_args("clip", out, bounds.pop(0)))
    return out


# --- complex numbers ------------------------------------------------------------------------------

def real(val, /):
    """The real part (val itself for real arguments)."""
    if eager(val):
        return np.real(numpy_operand(np.asarray(val) if dtypes.is_python_scalar(val) else val))
    val = asarray(val, "real")
    return lax.real(val) if _kind(val) == "c" else val


def imag(val, /):
    """The imaginary part (zeros for real arguments)."""
    if eager(val):
        return np.imag(numpy_operand(np.asarray(val) if dtypes.is_python_scalar(val) else val))
    val = asarray(val, "imag")
    return lax.imag(val) if _kind(val) == "c" else broadcast_to(cast(0, dtype_of(val)),
                                                                 shape_of(val))


def conjugate(x, /):
    """The complex conjugate (x itself for real arguments; numpy gives int8 for booleans)."""
    if eager(x):
        x = numpy_operand(x)
        return np.conjugate(x) if np.result_type(x).kind == "c" else np.array(x)
    x = asarray(x, "conjugate")
    return lax.conj(x) if _kind(x) == "c" else x


conj = _named("conj", conjugate, conjugate.__doc__)
