"""Elementwise primitives: each has a diagonal Jacobian (one partial derivative per element).

Operands share one shape, except that rank-0 operands broadcast; operands share one dtype (the
lax functions below give weak Python scalars the other operands' dtype). Every primitive's rules
sit right below its declaration.

Derivative conventions, where a function has a kink or a jump (the same choices as JAX):
  abs'(0) = 0 (the derivative is sign(x));  max/min at ties give each operand half the tangent;
  sqrt'(0) = inf;  pow: d/dy at x = 0 is 0, d/dx with y = 0 is 0;  clamp at x == min or max
  passes no tangent;  sign, floor, ceil, round, comparisons, is_finite and the bitwise ops are
  piecewise constant and have zero tangents, as does stop_gradient by definition.
Transposes are taken with respect to the real bilinear pairing Re(sum(x * y)), so the transpose
of mul by y is mul by y (not by conj(y)) and the transpose of imag is ct ↦ -i·ct.
"""
import builtins
import enum
import operator

import math

import sys

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray
from ..core.primitive import Primitive, Zero, is_undefined, tangent_aval
from ..core.trace import get_aval
from ..tree_util import tree_map
from . import _forward
from ._batching import batch_size, moveaxis
from ._common import (elementwise_batch, elementwise_cost, elementwise_shape_rule,
                      resolve_dtypes, unbroadcast)
from . import _sparsity_rules as _sparsity
from .shape import broadcast_in_dim
from ..backend.lowering import (Elementwise, Ufunc, binary, float_only, impl_call,
                                literal_identity, minmax, nan_max, nan_min, numpy_ufunc,
                                same_aval_identity, typed_const, unary)

__all__ = [
    "neg", "add", "sub", "mul", "div", "rem", "pow", "integer_pow", "max", "min",
    "exp", "exp2", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "logistic", "sqrt", "rsqrt", "cbrt", "erf",
    "abs", "sign", "floor", "ceil", "round", "RoundingMethod", "is_finite",
    "eq", "ne", "lt", "le", "gt", "ge",
    "bitwise_and", "bitwise_or", "bitwise_not", "bitwise_xor",
    "select_n", "clamp", "convert_element_type", "stop_gradient",
    "real", "imag", "conj", "complex",
]

FLOAT_KINDS = "fc"
REAL_FLOAT_KINDS = "f"
NUMBER_KINDS = "iufc"
REAL_NUMBER_KINDS = "iuf"
ORDERED_KINDS = "biuf"
ALL_KINDS = "biufc"
INT_BOOL_KINDS = "biu"
COMPLEX_KINDS = "c"

_KIND_WORDS = {FLOAT_KINDS: "floating-point or complex", REAL_FLOAT_KINDS: "floating-point",
               NUMBER_KINDS: "numeric (not boolean)", REAL_NUMBER_KINDS: "real numeric",
               ORDERED_KINDS: "real (boolean, integer or floating-point)",
               ALL_KINDS: "array", INT_BOOL_KINDS: "boolean or integer", COMPLEX_KINDS: "complex"}

_REAL_OF_COMPLEX = {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}
_COMPLEX_OF_REAL = {r: c for c, r in _REAL_OF_COMPLEX.items()}


def _kind_error(name, dtype, kinds):
    hint = ""
    if dtype.kind in INT_BOOL_KINDS and "f" in kinds and "i" not in kinds:
        hint = (". Convert it first with lax.convert_element_type (functrans.numpy converts "
                "integers to float automatically)")
    return TypeError(f"lax.{name} requires {_KIND_WORDS.get(kinds, kinds)} operands, got "
                     f"{dtype.name}{hint}")


def _dtype_of(x):
    d = getattr(x, "dtype", None)
    return d if d is not None else dtypes.python_scalar_dtype(x)


def _shape_rule(name, kinds, out_dtype=None):
    """Shape rule of an elementwise primitive: operand kinds checked first (for a clear message),
    then the shared rule (equal dtypes, rank-0 broadcasting). out_dtype may be a fixed dtype or
    a function of the operands' dtype."""
    base = elementwise_shape_rule(name)

    def rule(*avals, **params):
        for a in avals:
            if a.dtype.kind not in kinds:
                raise _kind_error(name, a.dtype, kinds)
        out = base(*avals, **params)
        if out_dtype is None:
            return out
        d = np.dtype(out_dtype(out.dtype) if callable(out_dtype) else out_dtype)
        return ShapedArray(out.shape, d, out.weak_type and d == out.dtype)
    return rule


def _checked_impl(name, fn, kinds):
    """The numpy impl, refusing operand kinds the shape rule refuses: eagerly no shape rule runs,
    and numpy would silently promote (exp of an int gives a float64)."""
    def impl(*args, **params):
        for a in args:
            if _dtype_of(a).kind not in kinds:
                raise _kind_error(name, np.dtype(_dtype_of(a)), kinds)
        return fn(*args, **params)
    impl.__name__ = f"{name}_impl"
    impl.unchecked = fn       # for programs whose equations the shape rule checked
    return impl


def _quiet(fn):
    """numpy warns at domain edges (log(0), 1/0, nan casts); lax functions return inf/nan
    silently, as JAX does."""
    def quiet(*args, **params):
        with np.errstate(all="ignore"):
            return fn(*args, **params)
    quiet.quiet_inner = fn      # for callers that hold one np.errstate around many calls
    return quiet


def _scipy_special(name):
    """A scipy.special ufunc imported on first use: importing scipy.special costs 0.25-0.3 s,
    most of a warm-started process's time to its first result."""
    fn = None

    def call(x):
        nonlocal fn
        if fn is None:
            import scipy.special
            fn = getattr(scipy.special, name)
        return fn(x)
    call.__name__ = call.__qualname__ = name
    return call


def _keep_dtype(fn):
    """scipy.special promotes float16 to float32/float64: cast back to the operand's dtype."""
    def same(x):
        out = fn(x)
        d = _dtype_of(x)
        return out if out.dtype == d else out.astype(d)
    return same


def elementwise_primitive(name, impl, nargs, *, kinds=ALL_KINDS, out_dtype=None, flops=1,
                          jac_structure="diagonal", declared=None):
    """An elementwise primitive with its shape, batching and cost rules (the shared ones).
    `declared`: its forward declaration, if it has one (_forward.py), which this completes."""
    impl, shape_rule = _checked_impl(name, impl, kinds), _shape_rule(name, kinds, out_dtype)
    # The family is the module that declares the primitive (docs/primitives.md lists it).
    impl.__module__ = sys._getframe(1).f_globals["__name__"]
    if declared is None:
        prim = Primitive(name, impl=impl, jac_structure=jac_structure,
                         shape_rule=shape_rule)
    else:
        prim = _forward.define(declared, impl=impl, shape_rule=shape_rule,
                               jac_structure=jac_structure)
    prim.nargs = nargs
    prim.kinds = kinds
    prim.def_batch(elementwise_batch(prim))
    prim.def_cost(elementwise_cost(flops))
    # Element k of the output depends on element k of each operand, unless piecewise constant.
    prim.def_sparsity(_sparsity.zero if jac_structure == "zero" else _sparsity.elementwise)
    return prim


def _bind_nary(prim, *args, **params):
    # Operands that already share a dtype need no resolution (the common case, made cheap).
    # (Python scalars have no dtype; np.dtype(None) would be float64, so test them first.)
    d = getattr(args[0], "dtype", None)
    if d is None or any(getattr(a, "dtype", None) is None or a.dtype != d for a in args[1:]):
        args = resolve_dtypes(prim.name, args)
    return prim.bind(*args, **params)


def _unary_jvp(prim, rule):
    """JVP of a unary primitive from rule(t, x, y) giving the output tangent (y = f(x))."""
    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        y = prim.bind(x, **params)
        return y, rule(t, x, y)
    prim.def_jvp(jvp)
    return jvp


def _derivative_jvp(prim, derivative):
    """JVP of a unary primitive from its derivative f'(x) (given x and y = f(x)): t ↦ f'(x)·t."""
    return _unary_jvp(prim, lambda t, x, y: mul(t, derivative(x, y)))


def _zero_jvp(prim):
    """Piecewise-constant (or integer-valued) primitives: the output tangent is zero."""
    def jvp(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        return out, Zero.like(out)
    prim.def_jvp(jvp)
    return jvp


def _unary(prim):
    """The lax function of a unary primitive without parameters."""
    def fn(x):
        return prim.bind(x)
    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = f"Elementwise {prim.name}(x) (jax.lax.{prim.name})."
    return fn


# --- helpers for rules ---------------------------------------------------------------------------

def add_tangents(a, b):
    """Sum of two tangents, either of which may be a symbolic zero (which costs nothing)."""
    if isinstance(a, Zero):
        return b
    if isinstance(b, Zero):
        return a
    return add(a, b)


def output_tangent(out, *terms):
    """The tangent of `out` as a sum over (tangent, fn) terms of fn(tangent), one per operand:
    a symbolic-zero tangent contributes nothing and costs nothing, and the sum is broadcast to
    the output's shape (an operand broadcast from rank 0 has a rank-0 tangent)."""
    aval = get_aval(out)
    total = Zero(tangent_aval(aval))
    for t, fn in terms:
        if not isinstance(t, Zero):
            total = add_tangents(total, fn(t))
    return _broadcast_to(total, aval.shape)


def _identity_term(t):
    return t


def _broadcast_to(x, shape):
    """A rank-0 value (or tangent) broadcast to `shape`: tangents must have their output's shape
    even when they come from an operand that was broadcast from rank 0."""
    if isinstance(x, Zero):
        return x if x.aval.shape == tuple(shape) else Zero(x.aval.update(shape=shape))
    if get_aval(x).shape == tuple(shape):
        return x
    return broadcast_in_dim(x, tuple(shape), ())


def _zeros(aval):
    z = np.zeros((), aval.dtype)
    return z[()] if not aval.shape else _broadcast_to(z, aval.shape)


def _instantiate(t):
    return _zeros(t.aval) if isinstance(t, Zero) else t


def _shape_of(x):
    return get_aval(x).shape


def _mask(pred, dtype):
    return convert_element_type(pred, dtype)


# --- arithmetic ----------------------------------------------------------------------------------

neg_p = elementwise_primitive("neg", np.negative, 1, kinds=NUMBER_KINDS)
neg_p.def_jvp(lambda primals, tangents: (neg(*primals), neg(*tangents)))
neg_p.def_transpose(lambda ct, x: [neg(ct)])
neg_p.def_lowering(Elementwise(lambda a, ctx: f"-{a[0]}"))
neg = _unary(neg_p)


add_p = elementwise_primitive("add", np.add, 2, kinds=NUMBER_KINDS)


@add_p.def_jvp
def _add_jvp(primals, tangents):
    out = add(*primals)
    return out, output_tangent(out, *((t, _identity_term) for t in tangents))


@add_p.def_transpose
def _add_transpose(ct, x, y):
    return [unbroadcast(x.aval, ct) if is_undefined(x) else None,
            unbroadcast(y.aval, ct) if is_undefined(y) else None]


add_p.def_lowering(binary("+"))


def add(x, y):
    return _bind_nary(add_p, x, y)


sub_p = elementwise_primitive("sub", np.subtract, 2, kinds=NUMBER_KINDS,
                              declared=_forward.sub_p)


@sub_p.def_jvp
def _sub_jvp(primals, tangents):
    tx, ty = tangents
    out = sub(*primals)
    return out, output_tangent(out, (tx, _identity_term), (ty, neg))


@sub_p.def_transpose
def _sub_transpose(ct, x, y):
    return [unbroadcast(x.aval, ct) if is_undefined(x) else None,
            unbroadcast(y.aval, neg(ct)) if is_undefined(y) else None]


sub_p.def_lowering(binary("-"))


def sub(x, y):
    return _bind_nary(sub_p, x, y)


mul_p = elementwise_primitive("mul", np.multiply, 2, kinds=NUMBER_KINDS)


@mul_p.def_jvp
def _mul_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = mul(x, y)
    return out, output_tangent(out, (tx, lambda t: mul(t, y)), (ty, lambda t: mul(x, t)))


def _not_linear_error(name, which):
    return TypeError(f"cannot transpose lax.{name} with respect to {which}: it is not linear "
                     "there (linearize produced a non-linear use of a tangent)")


@mul_p.def_transpose
def _mul_transpose(ct, x, y):
    # Linear in whichever operand is the undefined one (the other is a residual constant).
    if is_undefined(x) and is_undefined(y):
        raise _not_linear_error("mul", "both operands at once")
    if is_undefined(x):
        return [unbroadcast(x.aval, mul(ct, y)), None]
    return [None, unbroadcast(y.aval, mul(x, ct))]


mul_p.def_lowering(binary("*"))
mul_p.def_simplify(literal_identity(1))


def mul(x, y):
    return _bind_nary(mul_p, x, y)


def _div_impl(x, y):
    if _dtype_of(x).kind in "iu":
        # lax.div rounds integer quotients toward zero (C semantics), numpy's // toward -inf;
        # x - fmod(x, y) is an exact multiple of y, so its floor quotient is the truncated one.
        return np.floor_divide(np.subtract(x, np.fmod(x, y)), y)
    return np.true_divide(x, y)


div_p = elementwise_primitive("div", _quiet(_div_impl), 2, kinds=NUMBER_KINDS, flops=4)
# a division does not pipeline like a product: compiled, it runs at its own measured rate
div_p.cost_kind = "divide"


@div_p.def_jvp
def _div_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = div(x, y)
    return out, output_tangent(out, (tx, lambda t: div(t, y)),
                                (ty, lambda t: neg(div(mul(out, t), y))))


@div_p.def_transpose
def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise _not_linear_error("div", "the denominator")
    return [unbroadcast(x.aval, div(ct, y)), None]


div_p.def_lowering(float_only("{0} / {1}"))     # integer division: the impl


def div(x, y):
    """x / y elementwise; integer division rounds toward zero (jax.lax.div)."""
    return _bind_nary(div_p, x, y)


rem_p = elementwise_primitive("rem", _quiet(np.fmod), 2, kinds=REAL_NUMBER_KINDS, flops=4)


@rem_p.def_jvp
def _rem_jvp(primals, tangents):
    # rem(x, y) = x - y * trunc(x / y): slope 1 in x and -trunc(x / y) in y (jumps where x / y
    # is an integer, like JAX).
    (x, y), (tx, ty) = primals, tangents
    out = rem(x, y)

    def from_y(t):
        q = div(x, y)
        return neg(mul(t, mul(sign(q), floor(abs(q)))))
    return out, output_tangent(out, (tx, _identity_term), (ty, from_y))


rem_p.def_lowering(Ufunc(np.fmod))      # Numba's fmod of negative integers is wrong


def rem(x, y):
    """Remainder of x / y with the sign of x (C fmod semantics, jax.lax.rem)."""
    return _bind_nary(rem_p, x, y)


pow_p = elementwise_primitive("pow", _quiet(np.power), 2, kinds=FLOAT_KINDS, flops=30)


@pow_p.def_jvp
def _pow_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = pow(x, y)
    dtype = get_aval(out).dtype

    def from_x(t):
        # y * x**(y-1), with x = 0 replaced by 1 where also y = 0 so that 0 * 0**-1 = nan cannot
        # appear: d(x**0)/dx = 0 everywhere. Only that point changes, so the rule stays
        # differentiable in y at y = 0 (for x != 0).
        both_zero = _mask(bitwise_and(eq(x, 0), eq(y, 0)), dtype)
        return mul(t, mul(y, pow(add(x, both_zero), sub(y, 1))))

    def from_y(t):
        # log(x) * x**y, with x = 0 replaced by 1 (log 1 = 0): d(0**y)/dy = 0 as in JAX.
        return mul(t, mul(log(add(x, _mask(eq(x, 0), dtype))), out))
    return out, output_tangent(out, (tx, from_x), (ty, from_y))


pow_p.def_lowering(Ufunc(np.power))


def pow(x, y):
    """x ** y elementwise for floating-point or complex x and y of the same dtype."""
    return _bind_nary(pow_p, x, y)


def _integer_pow_impl(x, *, y):
    return np.power(x, y)


def _integer_pow_shape_rule(x, *, y):
    if type(y) is not int:
        raise TypeError(f"lax.integer_pow requires an int exponent y, got {y!r}")
    if y < 0 and x.dtype.kind in "iu":
        raise TypeError(f"lax.integer_pow of an integer operand ({x.str_short()}) requires "
                        f"y >= 0, got y={y}")
    return _integer_pow_base_rule(x)


_integer_pow_base_rule = _shape_rule("integer_pow", NUMBER_KINDS)


integer_pow_p = elementwise_primitive("integer_pow", _quiet(_integer_pow_impl), 1,
                                      kinds=NUMBER_KINDS, flops=4)
integer_pow_p.shape_rule = _integer_pow_shape_rule


@integer_pow_p.def_jvp
def _integer_pow_jvp(primals, tangents, *, y):
    (x,), (t,) = primals, tangents
    out = integer_pow(x, y)
    if y == 0:
        return out, Zero.like(out)
    if y == 1:
        return out, t
    return out, mul(t, mul(y, integer_pow(x, y - 1)))


def _integer_pow_lowering(a, ctx, *, y):
    """x**y as a product of y factors (numpy's power computes x*x for y=2 too)."""
    if y == 0:
        return ctx.const(1)
    # builtins.abs: this module's `abs` is lax.abs, which would stage under an active trace.
    if builtins.abs(y) > 16 or (y < 0 and ctx.out_aval.dtype.kind not in "fc"):
        return None                  # long products or integer reciprocals: the impl
    prod = " * ".join([a[0]] * builtins.abs(y))
    return f"{ctx.const(1)} / ({prod})" if y < 0 else prod


integer_pow_p.def_lowering(Elementwise(_integer_pow_lowering))


def integer_pow(x, y):
    """x ** y for a Python int exponent y (jax.lax.integer_pow)."""
    return integer_pow_p.bind(x, y=operator.index(y))


def _minmax(name, impl, wins):
    prim = elementwise_primitive(name, impl, 2, kinds=ORDERED_KINDS)

    @prim.def_jvp
    def jvp(primals, tangents):
        # The tangent follows the operand that wins; at ties each operand contributes half, so
        # that max(x, x) has derivative 1 and the gradient is split 0.5/0.5 (as in JAX).
        (x, y), (tx, ty) = primals, tangents
        out = prim.bind(x, y)
        dtype = get_aval(out).dtype
        half_tie = mul(0.5, _mask(eq(x, y), dtype))
        return out, output_tangent(
            out, (tx, lambda t: mul(t, add(_mask(wins(x, y), dtype), half_tie))),
            (ty, lambda t: mul(t, add(_mask(wins(y, x), dtype), half_tie))))
    return prim


max_p = _minmax("max", np.maximum, lambda a, b: gt(a, b))
max_p.def_lowering(minmax("max"))
min_p = _minmax("min", np.minimum, lambda a, b: lt(a, b))
min_p.def_lowering(minmax("min"))


def max(x, y):
    """Elementwise maximum (NaN propagates), jax.lax.max."""
    return _bind_nary(max_p, x, y)


def min(x, y):
    """Elementwise minimum (NaN propagates), jax.lax.min."""
    return _bind_nary(min_p, x, y)


# --- transcendental and other smooth unary functions ---------------------------------------------

exp_p = elementwise_primitive("exp", np.exp, 1, kinds=FLOAT_KINDS, flops=20)
exp_p.def_lowering(numpy_ufunc("exp"))
_derivative_jvp(exp_p, lambda x, y: y)
exp = _unary(exp_p)

exp2_p = elementwise_primitive("exp2", np.exp2, 1, kinds=FLOAT_KINDS, flops=20)
exp2_p.def_lowering(numpy_ufunc("exp2"))
_derivative_jvp(exp2_p, lambda x, y: mul(y, math.log(2.0)))
exp2 = _unary(exp2_p)

log_p = elementwise_primitive("log", _quiet(np.log), 1, kinds=FLOAT_KINDS, flops=20)
log_p.def_lowering(numpy_ufunc("log"))
_unary_jvp(log_p, lambda t, x, y: div(t, x))
log = _unary(log_p)

log1p_p = elementwise_primitive("log1p", _quiet(np.log1p), 1, kinds=FLOAT_KINDS, flops=20)
log1p_p.def_lowering(numpy_ufunc("log1p"))
_unary_jvp(log1p_p, lambda t, x, y: div(t, add(x, 1)))
log1p = _unary(log1p_p)

expm1_p = elementwise_primitive("expm1", np.expm1, 1, kinds=FLOAT_KINDS, flops=20)
expm1_p.def_lowering(numpy_ufunc("expm1"))
_derivative_jvp(expm1_p, lambda x, y: add(y, 1))
expm1 = _unary(expm1_p)

sin_p = elementwise_primitive("sin", np.sin, 1, kinds=FLOAT_KINDS, flops=20)
sin_p.def_lowering(numpy_ufunc("sin"))
_derivative_jvp(sin_p, lambda x, y: cos(x))
sin = _unary(sin_p)

cos_p = elementwise_primitive("cos", np.cos, 1, kinds=FLOAT_KINDS, flops=20)
cos_p.def_lowering(numpy_ufunc("cos"))
_derivative_jvp(cos_p, lambda x, y: neg(sin(x)))
cos = _unary(cos_p)

tan_p = elementwise_primitive("tan", np.tan, 1, kinds=FLOAT_KINDS, flops=25)
tan_p.def_lowering(numpy_ufunc("tan"))
_derivative_jvp(tan_p, lambda x, y: add(1, mul(y, y)))
tan = _unary(tan_p)

tanh_p = elementwise_primitive("tanh", np.tanh, 1, kinds=FLOAT_KINDS, flops=25)
tanh_p.def_lowering(numpy_ufunc("tanh"))
_derivative_jvp(tanh_p, lambda x, y: sub(1, mul(y, y)))
tanh = _unary(tanh_p)

asin_p = elementwise_primitive("asin", _quiet(np.arcsin), 1, kinds=FLOAT_KINDS, flops=25)
asin_p.def_lowering(numpy_ufunc("arcsin"))
_derivative_jvp(asin_p, lambda x, y: rsqrt(sub(1, mul(x, x))))
asin = _unary(asin_p)

acos_p = elementwise_primitive("acos", _quiet(np.arccos), 1, kinds=FLOAT_KINDS, flops=25)
acos_p.def_lowering(numpy_ufunc("arccos"))
_derivative_jvp(acos_p, lambda x, y: neg(rsqrt(sub(1, mul(x, x)))))
acos = _unary(acos_p)

atan_p = elementwise_primitive("atan", np.arctan, 1, kinds=FLOAT_KINDS, flops=25)
atan_p.def_lowering(numpy_ufunc("arctan"))
_unary_jvp(atan_p, lambda t, x, y: div(t, add(1, mul(x, x))))
atan = _unary(atan_p)

sinh_p = elementwise_primitive("sinh", np.sinh, 1, kinds=FLOAT_KINDS, flops=25)
sinh_p.def_lowering(numpy_ufunc("sinh"))
_derivative_jvp(sinh_p, lambda x, y: cosh(x))
sinh = _unary(sinh_p)

cosh_p = elementwise_primitive("cosh", np.cosh, 1, kinds=FLOAT_KINDS, flops=25)
cosh_p.def_lowering(numpy_ufunc("cosh"))
_derivative_jvp(cosh_p, lambda x, y: sinh(x))
cosh = _unary(cosh_p)

logistic_p = elementwise_primitive("logistic", _keep_dtype(_scipy_special("expit")), 1,
                                   kinds=REAL_FLOAT_KINDS, flops=25)
logistic_p.def_lowering(Ufunc("scipy.special:expit", "{one} / ({one} + np.exp(-{0}))"))
_derivative_jvp(logistic_p, lambda x, y: mul(y, sub(1, y)))
logistic = _unary(logistic_p)

sqrt_p = elementwise_primitive("sqrt", _quiet(np.sqrt), 1, kinds=FLOAT_KINDS, flops=10)
sqrt_p.def_lowering(unary("np.sqrt({0})"))
_unary_jvp(sqrt_p, lambda t, x, y: mul(t, div(0.5, y)))   # inf at x = 0, as in JAX
sqrt = _unary(sqrt_p)


def _rsqrt_impl(x):
    return np.reciprocal(np.sqrt(x))


rsqrt_p = elementwise_primitive("rsqrt", _quiet(_rsqrt_impl), 1, kinds=FLOAT_KINDS, flops=10)
rsqrt_p.def_lowering(float_only("{one} / np.sqrt({0})"))
_unary_jvp(rsqrt_p, lambda t, x, y: mul(t, mul(-0.5, div(y, x))))
rsqrt = _unary(rsqrt_p)

cbrt_p = elementwise_primitive("cbrt", np.cbrt, 1, kinds=REAL_FLOAT_KINDS, flops=15)
cbrt_p.def_lowering(Ufunc(np.cbrt))
_unary_jvp(cbrt_p, lambda t, x, y: div(t, mul(3, mul(y, y))))   # inf at x = 0
cbrt = _unary(cbrt_p)

erf_p = elementwise_primitive("erf", _keep_dtype(_scipy_special("erf")), 1, kinds=REAL_FLOAT_KINDS,
                              flops=30)
erf_p.def_lowering(Ufunc("scipy.special:erf"))
# A Python float, so the constant takes the operand's dtype (np.sqrt(np.pi) is a strong float64).
_derivative_jvp(erf_p, lambda x, y: mul(2 / math.sqrt(math.pi), exp(neg(mul(x, x)))))
erf = _unary(erf_p)


def atan2(x, y):
    """The angle of the point (y, x): atan(x / y) in the right quadrant (jax.lax.atan2)."""
    return _bind_nary(atan2_p, x, y)


atan2_p = elementwise_primitive("atan2", np.arctan2, 2, kinds=REAL_FLOAT_KINDS, flops=30)


@atan2_p.def_jvp
def _atan2_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = atan2(x, y)
    r2 = add(mul(x, x), mul(y, y))
    return out, output_tangent(out, (tx, lambda t: mul(t, div(y, r2))),
                                (ty, lambda t: neg(mul(t, div(x, r2)))))


atan2_p.def_lowering(Ufunc(np.arctan2, "np.arctan2({0}, {1})"))


# --- abs and piecewise-constant functions --------------------------------------------------------

def _real_dtype(d):
    return _REAL_OF_COMPLEX.get(d, d)


abs_p = elementwise_primitive("abs", np.abs, 1, kinds=NUMBER_KINDS, out_dtype=_real_dtype)


@abs_p.def_jvp
def _abs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    y = abs(x)
    if get_aval(x).dtype.kind == "c":
        # d|z| = Re(conj(z) dz) / |z|, taken as 0 at z = 0 (where conj(z) dz is 0 too).
        safe = add(y, _mask(eq(y, 0), get_aval(y).dtype))
        return y, div(real(mul(conj(x), t)), safe)
    return y, mul(t, sign(x))       # abs'(0) = sign(0) = 0


abs_p.def_lowering(unary("abs({0})"))


abs = _unary(abs_p)

sign_p = elementwise_primitive("sign", np.sign, 1, kinds=REAL_NUMBER_KINDS, jac_structure="zero")


def _sign_lowering(a, ctx):
    x, kind = a[0], ctx.out_aval.dtype.kind
    if kind == "c":
        return None
    one, zero = ctx.const(1), ctx.const(0)
    if kind == "u":
        return f"({one} if {x} > {zero} else {zero})"
    nan_case = f"({zero} if {x} == {zero} else {x})"     # x itself when x is NaN
    return f"({one} if {x} > {zero} else (-{one} if {x} < {zero} else {nan_case}))"


sign_p.def_lowering(Elementwise(_sign_lowering))
_zero_jvp(sign_p)
sign = _unary(sign_p)

floor_p = elementwise_primitive("floor", np.floor, 1, kinds=REAL_FLOAT_KINDS, jac_structure="zero")
floor_p.def_lowering(unary("np.floor({0})"))
_zero_jvp(floor_p)
floor = _unary(floor_p)

ceil_p = elementwise_primitive("ceil", np.ceil, 1, kinds=REAL_FLOAT_KINDS, jac_structure="zero")
ceil_p.def_lowering(unary("np.ceil({0})"))
_zero_jvp(ceil_p)
ceil = _unary(ceil_p)


class RoundingMethod(enum.IntEnum):
    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def _round_impl(x, *, rounding_method):
    if rounding_method == RoundingMethod.TO_NEAREST_EVEN:
        return np.rint(x)
    # x - trunc(x) is exact in floating point, so halves are detected exactly.
    t = np.trunc(x)
    return np.where(np.abs(np.subtract(x, t)) >= 0.5, t + np.sign(x), t)[()]


def _round_shape_rule(x, *, rounding_method):
    if rounding_method not in (0, 1):
        raise ValueError(f"lax.round: rounding_method must be 0 (AWAY_FROM_ZERO) or 1 "
                         f"(TO_NEAREST_EVEN), got {rounding_method!r}")
    return _round_base_rule(x)


_round_base_rule = _shape_rule("round", REAL_FLOAT_KINDS)


round_p = elementwise_primitive("round", _round_impl, 1, kinds=REAL_FLOAT_KINDS,
                               jac_structure="zero")
round_p.def_lowering(impl_call(round_p))
round_p.shape_rule = _round_shape_rule
_zero_jvp(round_p)


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):
    """Round to the nearest integer; halves go away from zero by default (jax.lax.round)."""
    return round_p.bind(x, rounding_method=int(rounding_method))


is_finite_p = elementwise_primitive("is_finite", np.isfinite, 1, kinds=REAL_FLOAT_KINDS,
                                    out_dtype=dtypes.bool_, jac_structure="zero")
is_finite_p.def_lowering(unary("np.isfinite({0})"))
_zero_jvp(is_finite_p)
is_finite = _unary(is_finite_p)


# --- comparisons: piecewise constant, so their tangents are zero ----------------------------------

def _comparison(name, impl, kinds=ORDERED_KINDS):
    prim = elementwise_primitive(name, impl, 2, kinds=kinds, out_dtype=dtypes.bool_,
                                 jac_structure="zero")
    _zero_jvp(prim)
    return prim


eq_p = _comparison("eq", np.equal, ALL_KINDS)
eq_p.def_lowering(binary("=="))
ne_p = _comparison("ne", np.not_equal, ALL_KINDS)
ne_p.def_lowering(binary("!="))
lt_p = _comparison("lt", np.less)
lt_p.def_lowering(binary("<"))
le_p = _comparison("le", np.less_equal)
le_p.def_lowering(binary("<="))
gt_p = _comparison("gt", np.greater)
gt_p.def_lowering(binary(">"))
ge_p = _comparison("ge", np.greater_equal)
ge_p.def_lowering(binary(">="))


def eq(x, y):
    return _bind_nary(eq_p, x, y)


def ne(x, y):
    return _bind_nary(ne_p, x, y)


def lt(x, y):
    return _bind_nary(lt_p, x, y)


def le(x, y):
    return _bind_nary(le_p, x, y)


def gt(x, y):
    return _bind_nary(gt_p, x, y)


def ge(x, y):
    return _bind_nary(ge_p, x, y)


# --- bitwise / logical operations on booleans and integers (no tangents) -------------------------

and_p = elementwise_primitive("and", np.bitwise_and, 2, kinds=INT_BOOL_KINDS, jac_structure="zero")
and_p.def_lowering(binary("&"))
or_p = elementwise_primitive("or", np.bitwise_or, 2, kinds=INT_BOOL_KINDS, jac_structure="zero")
or_p.def_lowering(binary("|"))
xor_p = elementwise_primitive("xor", np.bitwise_xor, 2, kinds=INT_BOOL_KINDS, jac_structure="zero")
xor_p.def_lowering(binary("^"))
not_p = elementwise_primitive("not", np.invert, 1, kinds=INT_BOOL_KINDS, jac_structure="zero")
not_p.def_lowering(Elementwise(
    lambda a, ctx: f"(not {a[0]})" if ctx.out_aval.dtype.kind == "b" else f"~{a[0]}"))
for _p in (and_p, or_p, xor_p, not_p):
    _zero_jvp(_p)      # integer operands never carry tangents; the rule exists for completeness


def bitwise_and(x, y):
    return _bind_nary(and_p, x, y)


def bitwise_or(x, y):
    return _bind_nary(or_p, x, y)


def bitwise_xor(x, y):
    return _bind_nary(xor_p, x, y)


def bitwise_not(x):
    return not_p.bind(x)


# --- select_n and clamp: operands of the output's shape, or rank 0 where allowed ------------------

def _batch_to_front(args, dims, scalar_ok):
    """Operands with batch axes lined up at 0, for primitives where some operands (scalar_ok)
    may stay rank 0 and the others must have the full per-example shape. If every batched
    operand already has the same batch axis and full shape and the unbatched ones are rank 0,
    nothing moves. Returns (args, out_dim)."""
    avals = [get_aval(x) for x in args]
    per_example = [a.shape[:d] + a.shape[d + 1:] if d is not None else a.shape
                   for a, d in zip(avals, dims)]
    full = builtins.max(per_example, key=len)
    batched_dims = {d for d in dims if d is not None}
    if len(batched_dims) == 1 and \
            all(s == full for s, d in zip(per_example, dims) if d is not None) and \
            all(ok and a.ndim == 0 for a, d, ok in zip(avals, dims, scalar_ok) if d is None):
        return list(args), batched_dims.pop()
    size = batch_size(args, dims)
    target = (size,) + full
    out = []
    for x, a, d, s, ok in zip(args, avals, dims, per_example, scalar_ok):
        if d is None:
            if ok and a.ndim == 0:
                out.append(x)
            else:
                out.append(broadcast_in_dim(x, target, tuple(range(1 + len(full) - a.ndim,
                                                                   1 + len(full)))))
        else:
            x = moveaxis(x, d, 0)
            out.append(broadcast_in_dim(x, target, (0,)) if s != full else x)
    return out, 0


def _select_n_impl(which, *cases):
    if len(cases) == 1:
        return cases[0]
    if _dtype_of(which) == dtypes.bool_:
        return np.where(which, cases[1], cases[0])
    out = cases[0]
    for i in range(1, len(cases)):
        out = np.where(np.equal(which, i), cases[i], out)
    return out


def _select_n_shape_rule(which, *cases):
    if not cases:
        raise TypeError("lax.select_n requires at least one case")
    if which.dtype not in (dtypes.bool_, dtypes.int32):
        raise TypeError(f"lax.select_n requires a bool or int32 `which`, got {which.str_short()}")
    if which.dtype == dtypes.bool_ and len(cases) > 2:
        raise TypeError(f"lax.select_n with a bool `which` takes at most 2 cases, got "
                        f"{len(cases)}; use an int32 `which`")
    first = cases[0]
    if any(c.shape != first.shape or c.dtype != first.dtype for c in cases):
        raise TypeError(f"lax.select_n requires cases of one shape and dtype, got "
                        f"{', '.join(c.str_short() for c in cases)}")
    if which.shape not in ((), first.shape):
        raise TypeError(f"lax.select_n requires `which` of the cases' shape or rank 0, got "
                        f"which {which.str_short()} and cases {first.str_short()}")
    return ShapedArray(first.shape, first.dtype, all(c.weak_type for c in cases))


select_n_p = _forward.define(_forward.select_n_p, impl=_select_n_impl,
                             shape_rule=_select_n_shape_rule,
                             jac_structure="diagonal in each case (a 0/1 mask), zero in which")


@select_n_p.def_jvp
def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n_p.bind(which, *cases)
    return out, select_n_p.bind(which, *map(_instantiate, tangents[1:]))


@select_n_p.def_transpose
def _select_n_transpose(ct, which, *cases):
    if is_undefined(which):
        raise _not_linear_error("select_n", "`which`")
    if len(cases) == 1:
        return [None, ct]
    zeros = _zeros(get_aval(ct))
    cts = [None]
    for i, c in enumerate(cases):
        if is_undefined(c):
            picks = [zeros] * len(cases)
            picks[i] = ct
            cts.append(select_n_p.bind(which, *picks))
        else:
            cts.append(None)
    return cts


@select_n_p.def_batch
def _select_n_batch(args, dims):
    args, out_dim = _batch_to_front(args, dims, [True] + [False] * (len(args) - 1))
    return select_n_p.bind(*args), out_dim


select_n_p.def_cost(elementwise_cost(1))


@select_n_p.def_sparsity
def _select_n_sparsity(ins, out_avals):
    # A known `which` picks one case per element; a traced one could pick any (zero in which).
    if ins[0].value is None:
        return _sparsity.elementwise(ins[1:], out_avals)
    return _sparsity.selection(ins, _select_n_impl, range(1, len(ins)), out_avals)


def _select_n_lowering(a, ctx):
    which, cases = a[0], a[1:]
    if len(cases) == 1:
        return cases[0]
    if ctx.in_avals[0].dtype.kind == "b":
        return f"({cases[1]} if {which} else {cases[0]})"
    expr = cases[0]                  # out-of-range `which` picks case 0, as the impl does
    for i in range(len(cases) - 1, 0, -1):
        expr = f"({cases[i]} if {which} == {i} else {expr})"
    return expr


select_n_p.def_lowering(Elementwise(_select_n_lowering))
select_n_p.def_simplify(lambda eqn, ctx: eqn.inputs[1] if len(eqn.inputs) == 2 else None)


def select_n(which, *cases):
    """cases[which] elementwise: `which` is bool (2 cases at most) or int32, of the cases' shape
    or rank 0 (jax.lax.select_n)."""
    if not cases:
        raise TypeError("lax.select_n requires at least one case")
    w = get_aval(which)
    if w.weak_type:     # a Python bool/int, or a weak value derived from one
        which = convert_element_type(which, dtypes.bool_ if w.dtype == dtypes.bool_
                                     else dtypes.int32)
    elif w.dtype not in (dtypes.bool_, dtypes.int32):
        raise TypeError(f"lax.select_n requires a bool or int32 `which`, got {w.str_short()}")
    return select_n_p.bind(which, *resolve_dtypes("select_n", cases))


def _clamp_impl(lo, x, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _clamp_shape_rule(lo, x, hi):
    if len({lo.dtype, x.dtype, hi.dtype}) > 1:
        raise TypeError(f"lax.clamp requires operands of one dtype, got min {lo.str_short()}, "
                        f"x {x.str_short()}, max {hi.str_short()}")
    if x.dtype.kind not in REAL_NUMBER_KINDS:
        raise _kind_error("clamp", x.dtype, REAL_NUMBER_KINDS)
    for name, a in (("min", lo), ("max", hi)):
        if a.shape not in ((), x.shape):
            raise TypeError(f"lax.clamp requires {name} of x's shape or rank 0, got {name} "
                            f"{a.str_short()} and x {x.str_short()}")
    return ShapedArray(x.shape, x.dtype, x.weak_type and lo.weak_type and hi.weak_type)


clamp_p = Primitive("clamp", impl=_clamp_impl, shape_rule=_clamp_shape_rule,
                    jac_structure="diagonal (each element follows one operand)")


@clamp_p.def_jvp
def _clamp_jvp(primals, tangents):
    # Each element follows the operand it equals; at x == min or x == max no operand passes its
    # tangent (JAX's convention), so no tie is counted twice.
    (lo, x, hi), (tlo, tx, thi) = primals, tangents
    out = clamp(lo, x, hi)
    shape = _shape_of(out)

    def where(pred):     # pred is a thunk: no mask is computed for a Zero tangent
        def term(t):
            t = _broadcast_to(t, shape)
            return select_n(pred(), _zeros(get_aval(t)), t)
        return term

    return out, output_tangent(out, (tlo, where(lambda: bitwise_and(gt(lo, x), lt(lo, hi)))),
                                (tx, where(lambda: bitwise_and(gt(x, lo), lt(x, hi)))),
                                (thi, where(lambda: lt(hi, x))))


@clamp_p.def_batch
def _clamp_batch(args, dims):
    args, out_dim = _batch_to_front(args, dims, [True, False, True])
    return clamp_p.bind(*args), out_dim


clamp_p.def_cost(elementwise_cost(2))
clamp_p.def_sparsity(_sparsity.elementwise)


def _clamp_lowering(a, ctx):
    lo, x, hi = a
    kind = ctx.out_aval.dtype.kind
    if kind == "c":
        return None
    return nan_min(nan_max(x, lo), hi) if kind == "f" else f"min(max({x}, {lo}), {hi})"


clamp_p.def_lowering(Elementwise(_clamp_lowering))


def clamp(min, x, max):
    """x limited to [min, max] elementwise; min and max may be rank 0 (jax.lax.clamp)."""
    return clamp_p.bind(*resolve_dtypes("clamp", (min, x, max)))


# --- dtype conversion ----------------------------------------------------------------------------

def _convert_shape_rule(x, *, new_dtype, weak_type):
    return ShapedArray(x.shape, dtypes.canonicalize(new_dtype), bool(weak_type))


def _convert_impl(x, *, new_dtype, weak_type):
    x = np.asarray(x)
    if x.dtype.kind == "c" and new_dtype.kind != "c":
        x = x.real      # complex to real keeps the real part, as in JAX (numpy would warn)
    with np.errstate(invalid="ignore"):     # nan/inf to int: unspecified value, no warning
        return x.astype(new_dtype)


convert_element_type_p = _forward.define(_forward.convert_element_type_p, impl=_convert_impl,
                                         shape_rule=_convert_shape_rule, jac_structure="diagonal")


@convert_element_type_p.def_jvp
def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if not dtypes.is_differentiable(new_dtype) or not dtypes.is_differentiable(get_aval(x).dtype):
        return out, Zero.like(out)
    return out, convert_element_type(t, new_dtype)


@convert_element_type_p.def_transpose
def _convert_transpose(ct, x, *, new_dtype, weak_type):
    return [convert_element_type(ct, x.aval.dtype)]


@convert_element_type_p.def_batch
def _convert_batch(args, dims, **params):
    return convert_element_type_p.bind(*args, **params), dims[0]


convert_element_type_p.def_cost(elementwise_cost(0))
convert_element_type_p.def_sparsity(_sparsity.elementwise)


def _convert_lowering(a, ctx, *, new_dtype, weak_type):
    src, dst = ctx.in_avals[0].dtype, np.dtype(new_dtype)
    if src.kind == "c":
        return None                  # complex to real drops the imaginary part: the impl
    if dst.kind == "b":
        return f"{a[0]} != {typed_const(0, src)}"
    return a[0]                      # kernels cast every result to its dtype


convert_element_type_p.def_lowering(Elementwise(_convert_lowering))
convert_element_type_p.def_simplify(same_aval_identity)


def convert_element_type(x, new_dtype, weak_type=False):
    """x converted to new_dtype (complex to real keeps the real part), jax.lax style."""
    new_dtype = dtypes.canonicalize(new_dtype)
    aval = get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)


# --- stop_gradient: the identity with a zero derivative ------------------------------------------

def _identity(x):
    return x


stop_gradient_p = Primitive("stop_gradient", impl=_identity, shape_rule=_identity,
                            jac_structure="zero")
_zero_jvp(stop_gradient_p)   # not linear-transposable: its tangent map is the zero map


@stop_gradient_p.def_batch
def _stop_gradient_batch(args, dims):
    return stop_gradient_p.bind(*args), dims[0]


stop_gradient_p.def_cost(elementwise_cost(0))
stop_gradient_p.def_sparsity(_sparsity.zero)
stop_gradient_p.def_lowering(unary("{0}"))
stop_gradient_p.def_simplify(same_aval_identity)


def stop_gradient(x):
    """The value of x, with zero derivative; works on pytrees of arrays (jax.lax.stop_gradient)."""
    return tree_map(stop_gradient_p.bind, x)


# --- complex numbers -----------------------------------------------------------------------------

real_p = elementwise_primitive("real", np.real, 1, kinds=COMPLEX_KINDS, out_dtype=_real_dtype)
real_p.def_jvp(lambda primals, tangents: (real(*primals), real(*tangents)))
real_p.def_transpose(lambda ct, x: [convert_element_type(ct, x.aval.dtype)])
real_p.def_lowering(impl_call(real_p))
real = _unary(real_p)

imag_p = elementwise_primitive("imag", np.imag, 1, kinds=COMPLEX_KINDS, out_dtype=_real_dtype)
imag_p.def_jvp(lambda primals, tangents: (imag(*primals), imag(*tangents)))
# Re(imag(z) · c) = Re(z · (-i c)): the transpose multiplies by -i.
imag_p.def_transpose(lambda ct, x: [complex(0, neg(ct))])
imag_p.def_lowering(impl_call(imag_p))
imag = _unary(imag_p)

conj_p = elementwise_primitive("conj", np.conj, 1, kinds=COMPLEX_KINDS)
conj_p.def_jvp(lambda primals, tangents: (conj(*primals), conj(*tangents)))
conj_p.def_transpose(lambda ct, x: [conj(ct)])
conj_p.def_lowering(impl_call(conj_p))
conj = _unary(conj_p)


def _complex_impl(x, y):
    d = _COMPLEX_OF_REAL[np.result_type(x, y)]
    out = np.empty(np.broadcast_shapes(np.shape(x), np.shape(y)), d)
    out.real, out.imag = x, y       # no multiplication by 1j: inf imaginary parts stay exact
    return out[()]


def _complex_dtype(d):
    if d not in _COMPLEX_OF_REAL:
        raise TypeError(f"lax.complex requires float32 or float64 operands, got {d.name}")
    return _COMPLEX_OF_REAL[d]


complex_p = elementwise_primitive("complex", _complex_impl, 2, kinds=REAL_FLOAT_KINDS,
                                  out_dtype=_complex_dtype)


@complex_p.def_jvp
def _complex_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    out = complex(x, y)
    # One complex of both tangents (a zero one as the scalar 0), not a sum of two terms.
    tx = 0 if isinstance(tx, Zero) else tx
    ty = 0 if isinstance(ty, Zero) else ty
    return out, _broadcast_to(complex(tx, ty), _shape_of(out))


@complex_p.def_transpose
def _complex_transpose(ct, x, y):
    return [unbroadcast(x.aval, real(ct)) if is_undefined(x) else None,
            unbroadcast(y.aval, neg(imag(ct))) if is_undefined(y) else None]


complex_p.def_lowering(impl_call(complex_p))


def complex(x, y):
    """x + i·y from real x and y (jax.lax.complex)."""
    return _bind_nary(complex_p, x, y)
