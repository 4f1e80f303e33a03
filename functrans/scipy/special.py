"""functrans.scipy.special: scipy.special's functions (jax.scipy.special) on functrans primitives.

Arguments are promoted as numpy does and integer/boolean ones become float64 (JAX's x64 rules);
every function is differentiable where the mathematics is, through the primitives of
functrans/primitives/special.py (lgamma, digamma, polygamma, erfc, erf_inv, ndtri, log_ndtr,
bessel_i0e/i1e, igamma, igammac, regularized_incomplete_beta) and the elementwise ones.
Derivatives in integer orders and shape parameters (polygamma's n, gammainc's a, betainc's a
and b) raise an error naming the function: hold those arguments constant.
"""
import math

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core.trace import Tracer
from ..numpy._promotion import asarray, canonical_axes, dtype_of, promote_args, shape_of, \
    to_inexact
from ..transforms.custom import custom_jvp

__all__ = ["logsumexp", "gammaln", "loggamma", "gamma", "gammasgn", "digamma", "polygamma",
           "beta", "betaln", "betainc", "gammainc", "gammaincc", "factorial", "poch", "comb",
           "erf", "erfc", "erfinv", "ndtr", "ndtri", "log_ndtr", "expit", "logit", "xlogy",
           "xlog1py", "entr", "kl_div", "rel_entr", "i0", "i0e", "i1", "i1e", "multigammaln",
           "softmax", "log_softmax", "boxcox", "boxcox1p", "erfcx", "dawsn", "exp1", "expi",
           "expn", "spence", "fresnel", "sici", "zeta", "hyp1f1", "hyp2f1", "owens_t",
           "bessel_jn", "bernoulli"]

_LOG_PI = math.log(math.pi)


def _float(x, name):
    x = to_inexact(asarray(x, name))
    if dtype_of(x).kind == "c":
        raise TypeError(f"functrans.scipy.special.{name} does not accept complex arguments")
    return x


def _floats(name, *args):
    # promoted together; Python scalars become arrays of the common dtype from here on
    args = [np.asarray(a, dtype_of(a)) if isinstance(a, (int, float, complex)) else a
            for a in promote_args(name, *args, inexact=True)]
    for a in args:
        if dtype_of(a).kind == "c":
            raise TypeError(f"functrans.scipy.special.{name} does not accept complex arguments")
    return args


def _const(value, like):
    return np.asarray(value, dtype_of(like))[()]


# --- gamma and beta -------------------------------------------------------------------------------

def gammaln(x):
    """log|Gamma(x)| (scipy.special.gammaln); its derivative is digamma."""
    return lax.lgamma(_float(x, "gammaln"))


def loggamma(x):
    """log Gamma(x) for real x > 0 (scipy.special.loggamma on real arguments: nan for x < 0,
    as JAX)."""
    x = _float(x, "loggamma")
    return fnp.where(fnp.less(x, 0), _const(np.nan, x), lax.lgamma(x))


def gammasgn(x):
    """The sign of Gamma(x): 1 for x > 0, alternating on the negative intervals, nan at poles
    (scipy.special.gammasgn)."""
    x = _float(x, "gammasgn")
    floor = fnp.floor(x)
    odd = fnp.not_equal(fnp.remainder(floor, 2), 0)
    neg = fnp.where(odd, _const(-1, x), _const(1, x))
    pole = fnp.logical_and(fnp.less_equal(x, 0), fnp.equal(x, floor))
    sign = fnp.where(fnp.greater(x, 0), _const(1, x), neg)
    return fnp.where(pole, _const(np.nan, x), sign)


def gamma(x):
    """The gamma function (scipy.special.gamma), as gammasgn(x) * exp(gammaln(x))."""
    x = _float(x, "gamma")
    return fnp.multiply(lax.stop_gradient(gammasgn(x)), fnp.exp(lax.lgamma(x)))


def factorial(n, exact=False):
    """n! = Gamma(n + 1) for n >= 0, 0 for n < 0 (scipy.special.factorial)."""
    if exact:
        raise NotImplementedError("functrans.scipy.special.factorial: exact=True gives Python "
                                  "integers and is not traceable; use exact=False (as JAX)")
    n = _float(n, "factorial")
    return fnp.where(fnp.less(n, 0), _const(0, n), fnp.exp(lax.lgamma(fnp.add(n, 1))))


def digamma(x):
    """The digamma function d/dx log Gamma(x) (scipy.special.digamma); derivative polygamma(1)."""
    return lax.digamma(_float(x, "digamma"))


def polygamma(n, x):
    """The n-th derivative of digamma (scipy.special.polygamma); n holds integers >= 0, and is
    not differentiable."""
    if dtype_of(asarray(n, "polygamma")).kind not in "biu" and not isinstance(n, (int, bool)):
        if not isinstance(n, Tracer):
            values = np.asarray(n)
            if np.any(values != np.round(values)):
                raise ValueError("functrans.scipy.special.polygamma: n must hold integers")
    n, x = _floats("polygamma", n, x)
    return lax.polygamma(n, x)


def betaln(a, b):
    """log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b) (scipy.special.betaln)."""
    a, b = _floats("betaln", a, b)
    return fnp.subtract(fnp.add(lax.lgamma(a), lax.lgamma(b)), lax.lgamma(fnp.add(a, b)))


def beta(a, b):
    """The beta function B(a, b) (scipy.special.beta), for positive arguments."""
    a, b = _floats("beta", a, b)
    sign = fnp.multiply(fnp.multiply(gammasgn(a), gammasgn(b)), gammasgn(fnp.add(a, b)))
    return fnp.multiply(lax.stop_gradient(sign), fnp.exp(betaln(a, b)))


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b) (scipy.special.betainc);
    differentiable in x only."""
    a, b, x = _floats("betainc", a, b, x)
    return lax.regularized_incomplete_beta(a, b, x)


def gammainc(a, x):
    """The regularized lower incomplete gamma function P(a, x) (scipy.special.gammainc);
    differentiable in x only."""
    a, x = _floats("gammainc", a, x)
    return lax.igamma(a, x)


def gammaincc(a, x):
    """The regularized upper incomplete gamma function Q(a, x) (scipy.special.gammaincc);
    differentiable in x only."""
    a, x = _floats("gammaincc", a, x)
    return lax.igammac(a, x)


def poch(z, m):
    """The Pochhammer symbol (z)_m = Gamma(z + m) / Gamma(z) (scipy.special.poch), for
    positive z and z + m."""
    z, m = _floats("poch", z, m)
    zm = fnp.add(z, m)
    sign = fnp.multiply(gammasgn(zm), gammasgn(z))
    return fnp.multiply(lax.stop_gradient(sign),
                        fnp.exp(fnp.subtract(lax.lgamma(zm), lax.lgamma(z))))


def comb(N, k, exact=False, repetition=False):
    """N choose k = Gamma(N + 1) / (Gamma(k + 1) Gamma(N - k + 1)) (scipy.special.comb);
    0 outside 0 <= k <= N."""
    if exact:
        raise NotImplementedError("functrans.scipy.special.comb: exact=True is not traceable; "
                                  "use exact=False (as JAX)")
    N, k = _floats("comb", N, k)
    if repetition:
        N = fnp.subtract(fnp.add(N, k), 1)
    valid = fnp.logical_and(fnp.greater_equal(k, 0), fnp.less_equal(k, N))
    safe_n = fnp.where(valid, N, _const(1, N))
    safe_k = fnp.where(valid, k, _const(0, k))
    log = fnp.subtract(lax.lgamma(fnp.add(safe_n, 1)),
                       fnp.add(lax.lgamma(fnp.add(safe_k, 1)),
                               lax.lgamma(fnp.add(fnp.subtract(safe_n, safe_k), 1))))
    return fnp.where(valid, fnp.exp(log), _const(0, N))


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension d (scipy.special.multigammaln):
    d(d-1)/4 log(pi) + sum_{j<d} gammaln(a - j/2)."""
    import operator
    d = operator.index(d)
    a = _float(a, "multigammaln")
    offsets = np.arange(d, dtype=dtype_of(a)) / 2
    terms = lax.lgamma(fnp.subtract(fnp.expand_dims(a, -1), offsets))
    return fnp.add(fnp.sum(terms, axis=-1), _const(d * (d - 1) / 4 * _LOG_PI, a))


# --- error function and the normal distribution -----------------------------------------------

def erf(x):
    """The error function (scipy.special.erf)."""
    return lax.erf(_float(x, "erf"))


def erfc(x):
    """1 - erf(x), accurate for large x (scipy.special.erfc)."""
    return lax.erfc(_float(x, "erfc"))


def erfinv(x):
    """The inverse of erf on (-1, 1) (scipy.special.erfinv)."""
    return lax.erf_inv(_float(x, "erfinv"))


def _strict_float(x, name):
    """ndtr, ndtri and log_ndtr take float32/float64 only, as in JAX (integers raise)."""
    x = asarray(x, name)
    if dtype_of(x).kind != "f":
        raise TypeError(f"functrans.scipy.special.{name} requires a float32 or float64 "
                        f"argument, got {dtype_of(x).name} (as jax.scipy.special); convert it "
                        f"with .astype(float)")
    return x


def ndtr(x):
    """The standard normal CDF, erfc(-x / sqrt 2) / 2 (scipy.special.ndtr)."""
    x = _strict_float(x, "ndtr")
    return fnp.multiply(_const(0.5, x), lax.erfc(fnp.multiply(x, _const(-math.sqrt(0.5), x))))


def ndtri(p):
    """The inverse of ndtr (scipy.special.ndtri)."""
    return lax.ndtri(_strict_float(p, "ndtri"))


def log_ndtr(x):
    """log(ndtr(x)), accurate in both tails (scipy.special.log_ndtr)."""
    return lax.log_ndtr(_strict_float(x, "log_ndtr"))


# --- logistic and entropy ---------------------------------------------------------------------

def expit(x):
    """The logistic sigmoid 1 / (1 + exp(-x)) (scipy.special.expit)."""
    return lax.logistic(_float(x, "expit"))


def logit(x):
    """log(x / (1 - x)), the inverse of expit (scipy.special.logit)."""
    x = _float(x, "logit")
    return fnp.subtract(fnp.log(x), fnp.log1p(fnp.negative(x)))


def _safe_log(y, x_zero):
    # log of y where x != 0, log 1 = 0 elsewhere: no nan from log(0) * 0, nor in derivatives
    return fnp.log(fnp.where(x_zero, _const(1, y), y))


@custom_jvp
def _xlogy(x, y):
    zero = fnp.equal(x, 0)
    return fnp.where(zero, fnp.zeros_like(x), fnp.multiply(x, _safe_log(y, zero)))


@_xlogy.defjvp
def _xlogy_jvp(primals, tangents):
    # d/dx = log y, d/dy = x / y (JAX's rule: log y even where x = 0)
    (x, y), (tx, ty) = primals, tangents
    return _xlogy(x, y), fnp.add(fnp.multiply(tx, fnp.log(y)), fnp.multiply(ty, fnp.divide(x, y)))


def xlogy(x, y):
    """x * log(y), 0 where x = 0 (scipy.special.xlogy)."""
    x, y = _floats("xlogy", x, y)
    return _xlogy(x, y)


@custom_jvp
def _xlog1py(x, y):
    zero = fnp.equal(x, 0)
    return fnp.where(zero, fnp.zeros_like(x),
                     fnp.multiply(x, fnp.log1p(fnp.where(zero, fnp.zeros_like(y), y))))


@_xlog1py.defjvp
def _xlog1py_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    return _xlog1py(x, y), fnp.add(fnp.multiply(tx, fnp.log1p(y)),
                                   fnp.multiply(ty, fnp.divide(x, fnp.add(y, 1))))


def xlog1py(x, y):
    """x * log(1 + y), 0 where x = 0 (scipy.special.xlog1py)."""
    x, y = _floats("xlog1py", x, y)
    return _xlog1py(x, y)


def entr(x):
    """-x log x for x > 0, 0 at 0, -inf for x < 0 (scipy.special.entr)."""
    x = _float(x, "entr")
    positive = fnp.greater(x, 0)
    inner = fnp.negative(fnp.multiply(x, fnp.log(fnp.where(positive, x, _const(1, x)))))
    return fnp.where(positive, inner,
                     fnp.where(fnp.equal(x, 0), _const(0, x), _const(-np.inf, x)))


def rel_entr(x, y):
    """x log(x / y) for x, y > 0; 0 at x = 0, y >= 0; inf otherwise (scipy.special.rel_entr)."""
    x, y = _floats("rel_entr", x, y)
    both = fnp.logical_and(fnp.greater(x, 0), fnp.greater(y, 0))
    one = _const(1, x)
    safe = fnp.multiply(x, fnp.log(fnp.divide(fnp.where(both, x, one), fnp.where(both, y, one))))
    zero_ok = fnp.logical_and(fnp.equal(x, 0), fnp.greater_equal(y, 0))
    return fnp.where(both, safe, fnp.where(zero_ok, _const(0, x), _const(np.inf, x)))


def kl_div(x, y):
    """x log(x / y) - x + y for x, y > 0; y at x = 0, y >= 0; inf otherwise
    (scipy.special.kl_div)."""
    x, y = _floats("kl_div", x, y)
    both = fnp.logical_and(fnp.greater(x, 0), fnp.greater(y, 0))
    zero_ok = fnp.logical_and(fnp.equal(x, 0), fnp.greater_equal(y, 0))
    return fnp.where(both, fnp.add(fnp.subtract(rel_entr(x, y), x), y),
                     fnp.where(zero_ok, y, _const(np.inf, x)))


def boxcox(x, lmbda):
    """The Box-Cox transform (x^lmbda - 1) / lmbda, log x at lmbda = 0 (scipy.special.boxcox)."""
    x, lmbda = _floats("boxcox", x, lmbda)
    return _boxcox(fnp.log(x), lmbda)


def boxcox1p(x, lmbda):
    """boxcox(1 + x, lmbda), accurate for small x (scipy.special.boxcox1p)."""
    x, lmbda = _floats("boxcox1p", x, lmbda)
    return _boxcox(fnp.log1p(x), lmbda)


def _boxcox(log_x, lmbda):
    zero = fnp.equal(lmbda, 0)
    safe = fnp.where(zero, _const(1, lmbda), lmbda)
    return fnp.where(zero, log_x, fnp.divide(fnp.expm1(fnp.multiply(safe, log_x)), safe))


# --- Bessel functions -------------------------------------------------------------------------

def i0e(x):
    """exp(-|x|) I0(x) (scipy.special.i0e)."""
    return lax.bessel_i0e(_float(x, "i0e"))


def i1e(x):
    """exp(-|x|) I1(x) (scipy.special.i1e)."""
    return lax.bessel_i1e(_float(x, "i1e"))


def i0(x):
    """The modified Bessel function I0 (scipy.special.i0), exp(|x|) i0e(x)."""
    return fnp.i0(_float(x, "i0"))


def i1(x):
    """The modified Bessel function I1 (scipy.special.i1), exp(|x|) i1e(x)."""
    x = _float(x, "i1")
    return fnp.multiply(fnp.exp(fnp.abs(x)), lax.bessel_i1e(x))


# --- reductions -------------------------------------------------------------------------------

def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) over axis, computed around the maximum so it neither overflows nor
    underflows (scipy.special.logsumexp). With return_sign=True returns (log|s|, sign(s)), so
    negative weights b are allowed; without it a negative sum gives nan."""
    if where is not None:
        raise NotImplementedError("functrans.scipy.special.logsumexp: where= is not supported; "
                                  "mask with b= (weights 0) instead")
    a = _float(a, "logsumexp")
    if b is not None:
        a, b = _floats("logsumexp", a, b)
    axes = canonical_axes(axis, len(shape_of(a)), "logsumexp")
    peak = fnp.max(a, axis=axes, keepdims=True)
    # An infinite maximum (all -inf, or +inf somewhere) must not be subtracted (inf - inf); the
    # shift cancels in the value, so it carries no derivative.
    peak = lax.stop_gradient(fnp.where(fnp.isfinite(peak), peak, fnp.zeros_like(peak)))
    terms = fnp.exp(fnp.subtract(a, peak))
    if b is not None:
        terms = fnp.multiply(b, terms)
    total = fnp.sum(terms, axis=axes, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):   # log 0 = -inf, quietly (as JAX)
        if return_sign:
            sign = lax.stop_gradient(fnp.sign(total))
            out = fnp.add(fnp.log(fnp.abs(total)), peak)
        else:
            out = fnp.add(fnp.log(total), peak)
    if not keepdims:
        out = fnp.squeeze(out, axis=axes)
        if return_sign:
            sign = fnp.squeeze(sign, axis=axes)
    return (out, sign) if return_sign else out


def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) over axis (all axes by default, as scipy.special.softmax)."""
    x = _float(x, "softmax")
    axes = canonical_axes(axis, len(shape_of(x)), "softmax")
    peak = lax.stop_gradient(fnp.max(x, axis=axes, keepdims=True))
    e = fnp.exp(fnp.subtract(x, peak))
    return fnp.divide(e, fnp.sum(e, axis=axes, keepdims=True))


def log_softmax(x, axis=None):
    """x - logsumexp(x) over axis (all axes by default, as scipy.special.log_softmax)."""
    x = _float(x, "log_softmax")
    axes = canonical_axes(axis, len(shape_of(x)), "log_softmax")
    return fnp.subtract(x, logsumexp(x, axis=axes, keepdims=True))


# --- integrals, zeta, hypergeometric and Bessel functions -------------------------------------

def erfcx(x):
    """exp(x^2) erfc(x), without overflow for large x (scipy.special.erfcx)."""
    return lax.erfcx(_float(x, "erfcx"))


def dawsn(x):
    """Dawson's integral exp(-x^2) int_0^x exp(t^2) dt (scipy.special.dawsn)."""
    return lax.dawsn(_float(x, "dawsn"))


def exp1(x):
    """The exponential integral E1(x) (scipy.special.exp1)."""
    return lax.exp1(_float(x, "exp1"))


def expi(x):
    """The exponential integral Ei(x) (scipy.special.expi)."""
    return lax.expi(_float(x, "expi"))


def expn(n, x):
    """The generalized exponential integral E_n(x) (scipy.special.expn); n holds integers and
    is not differentiable."""
    n, x = _floats("expn", n, x)
    return lax.expn(n, x)


def spence(x):
    """Spence's function int_1^x log(t) / (1 - t) dt for x >= 0 (scipy.special.spence)."""
    return lax.spence(_strict_float(x, "spence"))


def fresnel(x):
    """The Fresnel integrals (S(x), C(x)) (scipy.special.fresnel)."""
    x = _float(x, "fresnel")
    return lax.fresnel_sin(x), lax.fresnel_cos(x)


def sici(x):
    """The sine and cosine integrals (Si(x), Ci(x)) (scipy.special.sici); for x < 0, Ci is
    the real part Ci(|x|), as scipy and JAX."""
    x = _float(x, "sici")
    return lax.sine_integral(x), lax.cosine_integral(fnp.abs(x))


def zeta(x, q=None):
    """The Hurwitz zeta function sum_k (k + q)^-x (the Riemann zeta for q=None)
    (scipy.special.zeta); differentiable in q."""
    if q is None:
        q = 1.0
    x, q = _floats("zeta", x, q)
    return lax.zeta(x, q)


def hyp1f1(a, b, x):
    """Kummer's confluent hypergeometric function 1F1(a; b; x) (scipy.special.hyp1f1);
    differentiable in x."""
    a, b, x = _floats("hyp1f1", a, b, x)
    return lax.hyp1f1(a, b, x)


def hyp2f1(a, b, c, x):
    """The Gauss hypergeometric function 2F1(a, b; c; x) (scipy.special.hyp2f1);
    differentiable in x."""
    a, b, c, x = _floats("hyp2f1", a, b, c, x)
    return lax.hyp2f1(a, b, c, x)


def owens_t(h, a):
    """Owen's T function (scipy.special.owens_t), differentiable in h and a."""
    h, a = _floats("owens_t", h, a)
    return lax.owens_t(h, a)


def bessel_jn(z, *, v=0, n_iter=50):
    """J_0(z), ..., J_v(z) stacked along a new first axis (jax.scipy.special.bessel_jn);
    differentiable in z. n_iter is accepted for JAX's signature (scipy computes these)."""
    import operator
    v = operator.index(v)
    z = _float(z, "bessel_jn")
    return fnp.stack([lax.bessel_jv(_const(k, z), z) for k in range(v + 1)])


def bernoulli(n):
    """The Bernoulli numbers B_0 ... B_n (float64; a constant, n static)."""
    import operator
    import scipy.special
    return np.asarray(scipy.special.bernoulli(operator.index(n)), np.float64)
