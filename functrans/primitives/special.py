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
from .elementwise import (REAL_FLOAT_KINDS, _bind_nary, _broadcast_to, _declare, _derivative_jvp, _keep_dtype,
                          _quiet, _scipy_special, _unary, abs, add, div, lt, exp, log, log1p,
                          mul, neg, select_n, sign, sub)

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
    prim = _declare(name, _keep_dtype(_quiet(_scipy_special(scipy_name))), 1,
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


polygamma_p = _declare("polygamma", _quiet(_scipy_nary("polygamma")), 2,
                       kinds=REAL_FLOAT_KINDS, flops=80)
polygamma_p.def_lowering(impl_call(polygamma_p))     # scipy has no float32 loop for it


@polygamma_p.def_jvp
def _polygamma_jvp(primals, tangents):
    (m, x), (tm, tx) = primals, tangents
    if not isinstance(tm, Zero):
        raise _no_derivative("polygamma", "its order m", "m is an integer")
    out = polygamma(m, x)
    if isinstance(tx, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    return out, mul(tx, polygamma(add(m, 1), x))


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


igamma_p = _declare("igamma", _quiet(_scipy_nary("gammainc")), 2, kinds=REAL_FLOAT_KINDS,
                    flops=200)
igamma_p.def_lowering(Ufunc("scipy.special:gammainc"))
_shape_param_jvp(igamma_p, "igamma", 1, ("a", "x"), _gamma_density)

igammac_p = _declare("igammac", _quiet(_scipy_nary("gammaincc")), 2, kinds=REAL_FLOAT_KINDS,
                     flops=200)
igammac_p.def_lowering(Ufunc("scipy.special:gammaincc"))
_shape_param_jvp(igammac_p, "igammac", 1, ("a", "x"), lambda a, x: neg(_gamma_density(a, x)))


def _beta_density(a, b, x):
    betaln = sub(add(lgamma(a), lgamma(b)), lgamma(add(a, b)))
    return exp(sub(add(mul(sub(a, 1), log(x)), mul(sub(b, 1), log1p(neg(x)))), betaln))


regularized_incomplete_beta_p = _declare(
    "regularized_incomplete_beta", _quiet(_scipy_nary("betainc")), 3, kinds=REAL_FLOAT_KINDS,
    flops=300)
regularized_incomplete_beta_p.def_lowering(Ufunc("scipy.special:betainc"))
_shape_param_jvp(regularized_incomplete_beta_p, "regularized_incomplete_beta", 2,
                 ("a", "b", "x"), _beta_density)
