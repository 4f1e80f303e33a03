"""Special-function primitives (jax.lax's lgamma, digamma, polygamma, erfc, erf_inv, bessel_i0e,
bessel_i1e, igamma, igammac, regularized_incomplete_beta; plus ndtri and log_ndtr).

Each is elementwise (a diagonal Jacobian), real floating-point only, computed by scipy.special
(imported on first use) and called as a ufunc by jit. Derivatives, with y the primitive's value:

  lgamma' = digamma                      digamma' = polygamma(1, x)
  polygamma(n, x)' = polygamma(n + 1, x) (with respect to x; n is an integer order: no derivative)
  erfc' = -2/sqrt(pi) exp(-x^2)          erf_inv' = sqrt(pi)/2 exp(y^2)
  i0e' = i1e - sign(x) i0e               i1e' = i0e - i1e (sign(x) + 1/x), and 1/2 at x = 0
  ndtri' = sqrt(2 pi) exp(y^2 / 2)       log_ndtr' = exp(-x^2/2 - y) / sqrt(2 pi)
  d/dx igamma(a, x) = exp(-x + (a-1) log x - lgamma(a)) = -d/dx igammac(a, x)
  d/dx I_x(a, b) = exp((a-1) log x + (b-1) log1p(-x) - betaln(a, b))
The derivatives of igamma, igammac and regularized_incomplete_beta with respect to their shape
parameters (a, b) are series that functrans does not implement: asking for them raises an error
naming the primitive and the argument (hold them constant, e.g. with lax.stop_gradient).
"""
import math

import numpy as np

from ..core.primitive import Zero, tangent_aval
from ..core.trace import get_aval
from ..backend.lowering import Ufunc, impl_call
from .elementwise import (REAL_FLOAT_KINDS, _bind_nary, _broadcast_to, _derivative_jvp,
                          _keep_dtype, _quiet, _scipy_special, _unary, abs, add, cos, div,
                          elementwise_primitive, eq, erf, exp, log, log1p, lt, mul, neg,
                          output_tangent, select_n, sign, sin, sub)

__all__ = ["lgamma", "digamma", "polygamma", "erfc", "erf_inv", "bessel_i0e", "bessel_i1e",
           "igamma", "igammac", "regularized_incomplete_beta", "ndtri", "log_ndtr"]

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _scipy_nary(name):
    """A scipy.special function of several operands, imported on first use, computed in the
    operands' dtype (scipy has float32 loops for these, but polygamma gives float64)."""
    fn = None

    def call(*args):
        nonlocal fn
        if fn is None:
            import scipy.special
            fn = getattr(scipy.special, name)
        out = np.asarray(fn(*args))
        d = np.result_type(*args)
        return (out if out.dtype == d else out.astype(d))[()]
    call.__name__ = call.__qualname__ = name
    return call


def _special(name, scipy_name, flops=40):
    prim = elementwise_primitive(name, _keep_dtype(_quiet(_scipy_special(scipy_name))), 1,
                                 kinds=REAL_FLOAT_KINDS, flops=flops)
    prim.def_lowering(Ufunc(f"scipy.special:{scipy_name}"))
    return prim


def _no_derivative(name, argument, why):
    return ValueError(f"lax.{name}: no derivative with respect to {argument} ({why}). Hold it "
                      f"constant: pass a value that is not being differentiated, or wrap it in "
                      f"lax.stop_gradient.")


# --- gamma family ---------------------------------------------------------------------------------

lgamma_p = _special("lgamma", "gammaln")
_derivative_jvp(lgamma_p, lambda x, y: digamma(x))
lgamma = _unary(lgamma_p)
lgamma.__doc__ = "log|Gamma(x)| elementwise (jax.lax.lgamma)."

digamma_p = _special("digamma", "psi")
_derivative_jvp(digamma_p, lambda x, y: polygamma(1, x))
digamma = _unary(digamma_p)
digamma.__doc__ = "The digamma function d/dx log Gamma(x) elementwise (jax.lax.digamma)."


def polygamma(m, x):
    """The m-th derivative of digamma at x (jax.lax.polygamma); m holds non-negative integers
    (in x's dtype), the order of the derivative."""
    return _bind_nary(polygamma_p, m, x)


polygamma_p = elementwise_primitive("polygamma", _quiet(_scipy_nary("polygamma")), 2,
                                    kinds=REAL_FLOAT_KINDS, flops=80)
polygamma_p.def_lowering(impl_call(polygamma_p))     # scipy has no float32 loop for it


@polygamma_p.def_jvp
def _polygamma_jvp(primals, tangents):
    (m, x), (tm, tx) = primals, tangents
    if not isinstance(tm, Zero):
        raise _no_derivative("polygamma", "its order m", "m is an integer")
    out = polygamma(m, x)
    return out, output_tangent(out, (tx, lambda t: mul(t, polygamma(add(m, 1), x))))


# --- error function family ------------------------------------------------------------------------

erfc_p = _special("erfc", "erfc", flops=30)
_derivative_jvp(erfc_p, lambda x, y: mul(-2 / _SQRT_PI, exp(neg(mul(x, x)))))
erfc = _unary(erfc_p)
erfc.__doc__ = "1 - erf(x) elementwise, accurate for large x (jax.lax.erfc)."

erf_inv_p = _special("erf_inv", "erfinv")
_derivative_jvp(erf_inv_p, lambda x, y: mul(_SQRT_PI / 2, exp(mul(y, y))))
erf_inv = _unary(erf_inv_p)
erf_inv.__doc__ = "The inverse of erf on (-1, 1) elementwise (jax.lax.erf_inv)."

ndtri_p = _special("ndtri", "ndtri")
_derivative_jvp(ndtri_p, lambda x, y: mul(_SQRT_2PI, exp(mul(0.5, mul(y, y)))))
ndtri = _unary(ndtri_p)
ndtri.__doc__ = "The inverse of the standard normal CDF elementwise."

log_ndtr_p = _special("log_ndtr", "log_ndtr")
# exp(-x^2/2 - log Phi(x)) stays finite far in the lower tail, where Phi(x) underflows.
_derivative_jvp(log_ndtr_p,
                lambda x, y: mul(1 / _SQRT_2PI, exp(sub(mul(-0.5, mul(x, x)), y))))
log_ndtr = _unary(log_ndtr_p)
log_ndtr.__doc__ = "log of the standard normal CDF elementwise, accurate in both tails."


# --- exponentially scaled modified Bessel functions -----------------------------------------------

bessel_i0e_p = _special("bessel_i0e", "i0e")
_derivative_jvp(bessel_i0e_p, lambda x, y: sub(bessel_i1e(x), mul(sign(x), y)))
bessel_i0e = _unary(bessel_i0e_p)
bessel_i0e.__doc__ = "exp(-|x|) I0(x) elementwise (jax.lax.bessel_i0e)."


def _i1e_derivative(x, y):
    # I1'(x) = I0(x) - I1(x)/x, 1/2 at x = 0. Near 0, y/x loses everything to underflow (y of a
    # subnormal x is 0 or x itself): there the derivative is 1/2 - |x| = 1/2 to working precision.
    aval = get_aval(x)
    tiny = lt(abs(x), 1e-20)
    safe_x = select_n(tiny, x, _broadcast_to(np.ones((), aval.dtype)[()], aval.shape))
    d = sub(bessel_i0e(x), add(div(y, safe_x), mul(sign(x), y)))
    return select_n(tiny, d, _broadcast_to(np.asarray(0.5, aval.dtype)[()], aval.shape))


bessel_i1e_p = _special("bessel_i1e", "i1e")
_derivative_jvp(bessel_i1e_p, _i1e_derivative)
bessel_i1e = _unary(bessel_i1e_p)
bessel_i1e.__doc__ = "exp(-|x|) I1(x) elementwise (jax.lax.bessel_i1e)."


# --- incomplete gamma and beta functions ----------------------------------------------------------

def _shape_param_jvp(prim, name, x_index, names, dx):
    """JVP of a function smooth in x (operand x_index) whose other operands are shape
    parameters without an implemented derivative: dx(*primals) is d out / d x."""
    def jvp(primals, tangents):
        for i, t in enumerate(tangents):
            if i != x_index and not isinstance(t, Zero):
                raise _no_derivative(name, names[i], "the derivative in a shape parameter is "
                                     "not implemented in functrans")
        out = prim.bind(*primals)
        t = tangents[x_index]
        if isinstance(t, Zero):
            return out, Zero(tangent_aval(get_aval(out)))
        return out, mul(t, dx(*primals))
    prim.def_jvp(jvp)


def igamma(a, x):
    """The regularized lower incomplete gamma function P(a, x) (jax.lax.igamma)."""
    return _bind_nary(igamma_p, a, x)


def igammac(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x) (jax.lax.igammac)."""
    return _bind_nary(igammac_p, a, x)


def regularized_incomplete_beta(a, b, x):
    """The regularized incomplete beta function I_x(a, b) (jax.lax.regularized_incomplete_beta)."""
    return _bind_nary(regularized_incomplete_beta_p, a, b, x)


def _gamma_density(a, x):
    return exp(sub(sub(mul(sub(a, 1), log(x)), x), lgamma(a)))


igamma_p = elementwise_primitive("igamma", _quiet(_scipy_nary("gammainc")), 2,
                                 kinds=REAL_FLOAT_KINDS, flops=200)
igamma_p.def_lowering(Ufunc("scipy.special:gammainc"))
_shape_param_jvp(igamma_p, "igamma", 1, ("a", "x"), _gamma_density)

igammac_p = elementwise_primitive("igammac", _quiet(_scipy_nary("gammaincc")), 2,
                                  kinds=REAL_FLOAT_KINDS, flops=200)
igammac_p.def_lowering(Ufunc("scipy.special:gammaincc"))
_shape_param_jvp(igammac_p, "igammac", 1, ("a", "x"), lambda a, x: neg(_gamma_density(a, x)))


def _beta_density(a, b, x):
    betaln = sub(add(lgamma(a), lgamma(b)), lgamma(add(a, b)))
    return exp(sub(add(mul(sub(a, 1), log(x)), mul(sub(b, 1), log1p(neg(x)))), betaln))


regularized_incomplete_beta_p = elementwise_primitive(
    "regularized_incomplete_beta", _quiet(_scipy_nary("betainc")), 3, kinds=REAL_FLOAT_KINDS,
    flops=300)
regularized_incomplete_beta_p.def_lowering(Ufunc("scipy.special:betainc"))
_shape_param_jvp(regularized_incomplete_beta_p, "regularized_incomplete_beta", 2,
                 ("a", "b", "x"), _beta_density)


# --- more scipy.special functions (issue 12): smooth in x, shape parameters held constant --------

def _unary_special(name, scipy_name, derivative, doc, flops=60):
    """A unary primitive computed by scipy.special.<scipy_name>, with f'(x) = derivative(x, y)."""
    prim = _special(name, scipy_name, flops=flops)
    _derivative_jvp(prim, derivative)
    fn = _unary(prim)
    fn.__doc__ = doc
    return prim, fn


def _ones_like(x):
    aval = get_aval(x)
    return _broadcast_to(np.ones((), aval.dtype)[()], aval.shape)


def _safe_divide(num, x, at_zero):
    """num / x, with the value at_zero where x == 0 (no 0/0 in either branch)."""
    zero = eq(x, 0)
    aval = get_aval(x)
    safe = select_n(zero, x, _ones_like(x))
    return select_n(zero, div(num, safe), _broadcast_to(np.asarray(at_zero, aval.dtype)[()],
                                                        aval.shape))


erfcx_p, erfcx = _unary_special(
    "erfcx", "erfcx", lambda x, y: sub(mul(mul(2, x), y), 2 / _SQRT_PI),
    "The scaled complementary error function exp(x^2) erfc(x) (jax.lax has no primitive; "
    "jax.scipy.special.erfcx).")
dawsn_p, dawsn = _unary_special(
    "dawsn", "dawsn", lambda x, y: sub(1, mul(mul(2, x), y)),
    "Dawson's integral exp(-x^2) int_0^x exp(t^2) dt.")
exp1_p, exp1 = _unary_special(
    "exp1", "exp1", lambda x, y: neg(div(exp(neg(x)), x)),
    "The exponential integral E1(x) = int_x^inf exp(-t)/t dt.")
expi_p, expi = _unary_special(
    "expi", "expi", lambda x, y: div(exp(x), x),
    "The exponential integral Ei(x) = -PV int_-x^inf exp(-t)/t dt.")
# scipy's spence(z) = int_1^z log(t) / (1 - t) dt: the derivative log(z)/(1-z) is -1 at z = 1
spence_p, spence = _unary_special(
    "spence", "spence", lambda x, y: _spence_derivative(x),
    "Spence's function (the dilogarithm Li2(1 - z)), for z >= 0.")


def _spence_derivative(x):
    one = eq(x, 1)
    safe = select_n(one, x, _broadcast_to(np.asarray(2.0, get_aval(x).dtype)[()],
                                           get_aval(x).shape))
    d = div(log(safe), sub(1, safe))
    return select_n(one, d, _broadcast_to(np.asarray(-1.0, get_aval(x).dtype)[()],
                                          get_aval(x).shape))


def _fresnel_part(k):
    def call(x):
        import scipy.special
        out = np.asarray(scipy.special.fresnel(x)[k])
        d = np.asarray(x).dtype
        return (out if out.dtype == d else out.astype(d))[()]
    return call


def _sici_part(k):
    def call(x):
        import scipy.special
        out = np.asarray(scipy.special.sici(x)[k])
        d = np.asarray(x).dtype
        return (out if out.dtype == d else out.astype(d))[()]
    return call


def _declare_callable(name, fn, derivative, doc, flops=80):
    prim = elementwise_primitive(name, _quiet(fn), 1, kinds=REAL_FLOAT_KINDS, flops=flops)
    prim.def_lowering(impl_call(prim))
    _derivative_jvp(prim, derivative)
    f = _unary(prim)
    f.__doc__ = doc
    return prim, f


_HALF_PI = math.pi / 2
fresnel_sin_p, fresnel_sin = _declare_callable(
    "fresnel_sin", _fresnel_part(0), lambda x, y: _sin(mul(_HALF_PI, mul(x, x))),
    "The Fresnel integral S(x) = int_0^x sin(pi t^2 / 2) dt.")
fresnel_cos_p, fresnel_cos = _declare_callable(
    "fresnel_cos", _fresnel_part(1), lambda x, y: _cos(mul(_HALF_PI, mul(x, x))),
    "The Fresnel integral C(x) = int_0^x cos(pi t^2 / 2) dt.")
sine_integral_p, sine_integral = _declare_callable(
    "sine_integral", _sici_part(0), lambda x, y: _safe_divide(_sin(x), x, 1.0),
    "The sine integral Si(x) = int_0^x sin(t)/t dt.")
cosine_integral_p, cosine_integral = _declare_callable(
    "cosine_integral", _sici_part(1), lambda x, y: div(_cos(x), x),
    "The cosine integral Ci(x) = gamma + log x + int_0^x (cos t - 1)/t dt, for x > 0.")


def _sin(x):
    return sin(x)


def _cos(x):
    return cos(x)


def expn(n, x):
    """The generalized exponential integral E_n(x) = int_1^inf exp(-x t) / t^n dt; n holds
    non-negative integers (in x's dtype)."""
    return _bind_nary(expn_p, n, x)


def zeta(x, q):
    """The Hurwitz zeta function sum_k (k + q)^-x (jax.lax.zeta); differentiable in q."""
    return _bind_nary(zeta_p, x, q)


def hyp1f1(a, b, x):
    """Kummer's confluent hypergeometric function 1F1(a; b; x); differentiable in x."""
    return _bind_nary(hyp1f1_p, a, b, x)


def hyp2f1(a, b, c, x):
    """The Gauss hypergeometric function 2F1(a, b; c; x) for |x| < 1; differentiable in x."""
    return _bind_nary(hyp2f1_p, a, b, c, x)


def owens_t(h, a):
    """Owen's T function T(h, a) = 1/(2 pi) int_0^a exp(-h^2 (1 + t^2) / 2) / (1 + t^2) dt."""
    return _bind_nary(owens_t_p, h, a)


def bessel_jv(v, z):
    """The Bessel function of the first kind J_v(z) of real order v; differentiable in z."""
    return _bind_nary(bessel_jv_p, v, z)


def _declare_nary(name, scipy_name, nargs, flops=300):
    prim = elementwise_primitive(name, _quiet(_scipy_nary(scipy_name)), nargs,
                                 kinds=REAL_FLOAT_KINDS, flops=flops)
    prim.def_lowering(impl_call(prim))
    return prim


def _expn_dx(n, x):
    # E_n' = -E_{n-1} for n >= 1; E_0(x) = exp(-x)/x has E_0' = -exp(-x)(x + 1)/x^2
    e0 = neg(div(mul(exp(neg(x)), add(x, 1)), mul(x, x)))
    lower = neg(expn(select_n(lt(n, 1), sub(n, 1), _ones_like(n)), x))
    return select_n(lt(n, 1), lower, e0)


expn_p = _declare_nary("expn", "expn", 2)
_shape_param_jvp(expn_p, "expn", 1, ("n", "x"), _expn_dx)

zeta_p = _declare_nary("zeta", "zeta", 2)
_shape_param_jvp(zeta_p, "zeta", 1, ("x", "q"), lambda x, q: neg(mul(x, zeta(add(x, 1), q))))

hyp1f1_p = _declare_nary("hyp1f1", "hyp1f1", 3)
_shape_param_jvp(hyp1f1_p, "hyp1f1", 2, ("a", "b", "x"),
                 lambda a, b, x: mul(div(a, b), hyp1f1(add(a, 1), add(b, 1), x)))

hyp2f1_p = _declare_nary("hyp2f1", "hyp2f1", 4)
_shape_param_jvp(hyp2f1_p, "hyp2f1", 3, ("a", "b", "c", "x"),
                 lambda a, b, c, x: mul(div(mul(a, b), c),
                                        hyp2f1(add(a, 1), add(b, 1), add(c, 1), x)))

bessel_jv_p = _declare_nary("bessel_jv", "jv", 2)
_shape_param_jvp(bessel_jv_p, "bessel_jv", 1, ("v", "z"),
                 lambda v, z: mul(0.5, sub(bessel_jv(sub(v, 1), z), bessel_jv(add(v, 1), z))))

owens_t_p = _declare_nary("owens_t", "owens_t", 2)


@owens_t_p.def_jvp
def _owens_t_jvp(primals, tangents):
    # dT/dh = -phi(h) erf(a h / sqrt 2) / 2;  dT/da = exp(-h^2 (1 + a^2) / 2) / (2 pi (1 + a^2))
    (h, a), (th, ta) = primals, tangents
    out = owens_t(h, a)

    def from_h(t):
        phi = mul(1 / _SQRT_2PI, exp(mul(-0.5, mul(h, h))))
        return mul(t, mul(-0.5, mul(phi, erf(mul(mul(a, h), 1 / math.sqrt(2))))))

    def from_a(t):
        one_a2 = add(1, mul(a, a))
        return mul(t, div(exp(mul(-0.5, mul(mul(h, h), one_a2))), mul(2 * math.pi, one_a2)))
    return out, output_tangent(out, (th, from_h), (ta, from_a))


__all__ += ["erfcx", "dawsn", "exp1", "expi", "spence", "fresnel_sin", "fresnel_cos",
            "sine_integral", "cosine_integral", "expn", "zeta", "hyp1f1", "hyp2f1", "owens_t",
            "bessel_jv"]
