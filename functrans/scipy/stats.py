"""functrans.scipy.stats: log-densities, densities, CDFs and quantiles of scipy.stats's
distributions (jax.scipy.stats), differentiable in their arguments and parameters.

Each distribution is a submodule, as in JAX:

    from functrans.scipy.stats import norm        # or: import functrans.scipy.stats.norm
    norm.logpdf(x, loc, scale)

Arguments are promoted together (integers become float64) and broadcast. Outside a
distribution's support logpdf/logpmf is -inf and pdf/pmf 0; quantiles outside [0, 1] are nan.
CDFs of the gamma, beta, poisson and chi2 distributions go through the incomplete gamma/beta
functions, which are differentiable in x only (their shape parameters raise, as the primitives
say). Scale and location follow scipy: f(x; loc, scale) = f((x - loc) / scale) / scale.
"""
import math
import sys
import types

import numpy as np

from .. import numpy as fnp
from ..numpy._promotion import asarray, dtype_of, promote, promote_args
from . import special as sp
from .linalg import solve_triangular

__all__ = ["norm", "multivariate_normal", "bernoulli", "binom", "poisson", "gamma", "beta",
           "dirichlet", "expon", "laplace", "logistic", "cauchy", "t", "uniform", "truncnorm",
           "chi2", "geom", "pareto", "gumbel_r", "gumbel_l", "nbinom", "betabinom", "gennorm",
           "multinomial", "vonmises", "wrapcauchy", "sem", "mode", "rankdata"]

_LOG_2PI = math.log(2 * math.pi)
_LOG_PI = math.log(math.pi)


def _args(name, *args):
    # promoted together; Python scalars become arrays of the common dtype from here on
    args = [np.asarray(a, dtype_of(a)) if isinstance(a, (int, float, complex)) else a
            for a in promote_args(name, *args, inexact=True)]
    for a in args:
        if dtype_of(a).kind == "c":
            raise TypeError(f"functrans.scipy.stats.{name} does not accept complex arguments")
    return args


def _c(value, like):
    return np.asarray(value, dtype_of(like))[()]


def _where(cond, x, y):
    return fnp.where(cond, x, y)


def _neg_inf(like):
    return _c(-np.inf, like)


def _log1mexp(x):
    """log(1 - exp(x)) for x <= 0, accurate near 0 and far below it."""
    return _where(fnp.greater(x, _c(-math.log(2), x)), fnp.log(fnp.negative(fnp.expm1(x))),
                  fnp.log1p(fnp.negative(fnp.exp(x))))


def _logdiffexp(a, b):
    """log(exp(a) - exp(b)) for a >= b."""
    return fnp.add(a, _log1mexp(fnp.subtract(b, a)))


def _std(x, loc, scale):
    return fnp.divide(fnp.subtract(x, loc), scale)


def _module(name, doc, **functions):
    """A submodule functrans.scipy.stats.<name>, importable and an attribute of this module."""
    mod = types.ModuleType(f"{__name__}.{name}", doc)
    for fname, fn in functions.items():
        fn.__name__ = fn.__qualname__ = fname
        fn.__module__ = mod.__name__
        setattr(mod, fname, fn)
    mod.__all__ = sorted(functions)
    sys.modules[mod.__name__] = mod
    return mod


def _standardized(name, cdf, upper=False):
    """x -> cdf((x - loc) / scale); upper: cdf of the negated value, the survival function of
    a distribution symmetric about loc."""
    def fn(x, loc=0, scale=1):
        x, loc, scale = _args(name, x, loc, scale)
        z = _std(x, loc, scale)
        return cdf(fnp.negative(z) if upper else z)
    return fn


def _quantile(name, inverse_cdf, upper=False):
    """q -> loc + scale inverse_cdf(q); upper: loc - scale inverse_cdf(q), the inverse survival
    function of a distribution symmetric about loc."""
    def fn(q, loc=0, scale=1):
        q, loc, scale = _args(name, q, loc, scale)
        step = fnp.multiply(scale, inverse_cdf(q))
        return fnp.subtract(loc, step) if upper else fnp.add(loc, step)
    return fn


def _from_log(logfn):
    def fn(*args, **kwargs):
        return fnp.exp(logfn(*args, **kwargs))
    return fn


# --- norm -------------------------------------------------------------------------------------

def _norm_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("norm.logpdf", x, loc, scale)
    z = _std(x, loc, scale)
    return fnp.subtract(fnp.multiply(_c(-0.5, z), fnp.square(z)),
                        fnp.add(fnp.log(scale), _c(0.5 * _LOG_2PI, z)))


norm = _module("norm", "The normal distribution (jax.scipy.stats.norm).",
               logpdf=_norm_logpdf, pdf=_from_log(_norm_logpdf),
               cdf=_standardized("norm.cdf", sp.ndtr),
               logcdf=_standardized("norm.logcdf", sp.log_ndtr),
               sf=_standardized("norm.sf", sp.ndtr, upper=True),
               logsf=_standardized("norm.logsf", sp.log_ndtr, upper=True),
               ppf=_quantile("norm.ppf", sp.ndtri), isf=_quantile("norm.isf", sp.ndtri, True))


# --- multivariate normal ----------------------------------------------------------------------

def _mvn_logpdf(x, mean, cov, allow_singular=None):
    if allow_singular:
        raise NotImplementedError("functrans.scipy.stats.multivariate_normal.logpdf: "
                                  "allow_singular=True is not supported (as in JAX)")
    x, mean, cov = promote(*(asarray(a, "multivariate_normal.logpdf") for a in (x, mean, cov)),
                           inexact=True)
    x_shape, n = fnp.shape(x), fnp.shape(x)[-1] if fnp.ndim(x) else 1
    if fnp.ndim(cov) == 0 or fnp.ndim(cov) == 1:
        # a scalar variance or a diagonal: no factorization
        var = fnp.broadcast_to(cov, (n,))
        d = fnp.subtract(x, mean)
        quad = fnp.sum(fnp.divide(fnp.square(d), var), axis=-1)
        logdet = fnp.sum(fnp.log(var))
    else:
        chol = fnp.linalg.cholesky(cov)
        d = fnp.subtract(x, mean)
        flat = fnp.reshape(d, (-1, n))
        y = solve_triangular(chol, fnp.transpose(flat), lower=True)
        quad = fnp.reshape(fnp.sum(fnp.square(y), axis=0), x_shape[:-1])
        logdet = fnp.multiply(_c(2, x), fnp.sum(fnp.log(fnp.diagonal(chol))))
    return fnp.multiply(_c(-0.5, x), fnp.add(fnp.add(quad, logdet), _c(n * _LOG_2PI, x)))


multivariate_normal = _module(
    "multivariate_normal", "The multivariate normal distribution: x (..., n), mean (n,), cov "
    "(n, n), a diagonal (n,) or a scalar (jax.scipy.stats.multivariate_normal).",
    logpdf=_mvn_logpdf, pdf=_from_log(_mvn_logpdf))


# --- discrete distributions -------------------------------------------------------------------

def _bernoulli_logpmf(k, p, loc=0):
    k, p, loc = _args("bernoulli.logpmf", k, p, loc)
    k = fnp.subtract(k, loc)
    logp = fnp.add(sp.xlogy(k, p), sp.xlog1py(fnp.subtract(_c(1, k), k), fnp.negative(p)))
    ok = fnp.logical_or(fnp.equal(k, 0), fnp.equal(k, 1))
    return _where(ok, logp, _neg_inf(logp))


def _bernoulli_cdf(k, p):
    k, p = _args("bernoulli.cdf", k, p)
    return _where(fnp.less(k, 0), _c(0, p),
                  _where(fnp.less(k, 1), fnp.subtract(_c(1, p), p), _c(1, p)))


def _bernoulli_ppf(q, p):
    q, p = _args("bernoulli.ppf", q, p)
    out = _where(fnp.less_equal(q, fnp.subtract(_c(1, p), p)), _c(0, q), _c(1, q))
    bad = fnp.logical_or(fnp.less(q, 0), fnp.greater(q, 1))
    return _where(bad, _c(np.nan, q), out)


bernoulli = _module("bernoulli", "The Bernoulli distribution (jax.scipy.stats.bernoulli).",
                    logpmf=_bernoulli_logpmf, pmf=_from_log(_bernoulli_logpmf),
                    cdf=_bernoulli_cdf, ppf=_bernoulli_ppf)


def _binom_logpmf(k, n, p, loc=0):
    k, n, p, loc = _args("binom.logpmf", k, n, p, loc)
    y = fnp.subtract(k, loc)
    comb = fnp.subtract(sp.gammaln(fnp.add(n, 1)),
                        fnp.add(sp.gammaln(fnp.add(y, 1)),
                                sp.gammaln(fnp.add(fnp.subtract(n, y), 1))))
    logp = fnp.add(comb, fnp.add(sp.xlogy(y, p),
                                 sp.xlog1py(fnp.subtract(n, y), fnp.negative(p))))
    ok = fnp.logical_and(fnp.greater_equal(y, 0), fnp.less_equal(y, n))
    return _where(ok, logp, _neg_inf(logp))


binom = _module("binom", "The binomial distribution (jax.scipy.stats.binom).",
                logpmf=_binom_logpmf, pmf=_from_log(_binom_logpmf))


def _poisson_logpmf(k, mu, loc=0):
    k, mu, loc = _args("poisson.logpmf", k, mu, loc)
    y = fnp.subtract(k, loc)
    logp = fnp.subtract(fnp.subtract(sp.xlogy(y, mu), sp.gammaln(fnp.add(y, 1))), mu)
    return _where(fnp.less(y, 0), _neg_inf(logp), logp)


def _poisson_cdf(k, mu, loc=0):
    k, mu, loc = _args("poisson.cdf", k, mu, loc)
    y = fnp.floor(fnp.subtract(k, loc))
    safe = fnp.maximum(y, _c(0, y))
    return _where(fnp.less(y, 0), _c(0, mu), sp.gammaincc(fnp.add(safe, 1), mu))


poisson = _module("poisson", "The Poisson distribution (jax.scipy.stats.poisson).",
                  logpmf=_poisson_logpmf, pmf=_from_log(_poisson_logpmf), cdf=_poisson_cdf)


def _geom_logpmf(k, p, loc=0):
    k, p, loc = _args("geom.logpmf", k, p, loc)
    y = fnp.subtract(k, loc)
    logp = fnp.add(sp.xlog1py(fnp.subtract(y, 1), fnp.negative(p)), fnp.log(p))
    return _where(fnp.less(y, 1), _neg_inf(logp), logp)


geom = _module("geom", "The geometric distribution on 1, 2, ... (jax.scipy.stats.geom).",
               logpmf=_geom_logpmf, pmf=_from_log(_geom_logpmf))


def _nbinom_logpmf(k, n, p, loc=0):
    k, n, p, loc = _args("nbinom.logpmf", k, n, p, loc)
    y = fnp.subtract(k, loc)
    comb = fnp.subtract(sp.gammaln(fnp.add(y, n)),
                        fnp.add(sp.gammaln(fnp.add(y, 1)), sp.gammaln(n)))
    logp = fnp.add(comb, fnp.add(sp.xlogy(n, p), sp.xlog1py(y, fnp.negative(p))))
    return _where(fnp.less(y, 0), _neg_inf(logp), logp)


nbinom = _module("nbinom", "The negative binomial distribution (jax.scipy.stats.nbinom).",
                 logpmf=_nbinom_logpmf, pmf=_from_log(_nbinom_logpmf))


# --- gamma, chi2, beta, dirichlet -------------------------------------------------------------

def _gamma_logpdf(x, a, loc=0, scale=1):
    x, a, loc, scale = _args("gamma.logpdf", x, a, loc, scale)
    y = _std(x, loc, scale)
    safe = fnp.maximum(y, _c(0, y))
    logp = fnp.subtract(fnp.subtract(sp.xlogy(fnp.subtract(a, 1), safe), safe),
                        fnp.add(sp.gammaln(a), fnp.log(scale)))
    return _where(fnp.less(y, 0), _neg_inf(logp), logp)


def _gamma_cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = _args("gamma.cdf", x, a, loc, scale)
    return sp.gammainc(a, fnp.maximum(_std(x, loc, scale), _c(0, x)))


def _gamma_sf(x, a, loc=0, scale=1):
    x, a, loc, scale = _args("gamma.sf", x, a, loc, scale)
    return sp.gammaincc(a, fnp.maximum(_std(x, loc, scale), _c(0, x)))


def _log_of(fn):
    def log_fn(*args, **kwargs):
        with np.errstate(divide="ignore"):
            return fnp.log(fn(*args, **kwargs))
    return log_fn


gamma = _module("gamma", "The gamma distribution with shape a (jax.scipy.stats.gamma).",
                logpdf=_gamma_logpdf, pdf=_from_log(_gamma_logpdf), cdf=_gamma_cdf,
                logcdf=_log_of(_gamma_cdf), sf=_gamma_sf, logsf=_log_of(_gamma_sf))


def _chi2_logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _args("chi2.logpdf", x, df, loc, scale)
    half = fnp.multiply(df, _c(0.5, df))
    two = _c(2, scale)
    return _gamma_logpdf(x, half, loc, fnp.multiply(scale, two))


def _chi2_cdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _args("chi2.cdf", x, df, loc, scale)
    return _gamma_cdf(x, fnp.multiply(df, _c(0.5, df)), loc, fnp.multiply(scale, _c(2, scale)))


def _chi2_sf(x, df, loc=0, scale=1):
    x, df, loc, scale = _args("chi2.sf", x, df, loc, scale)
    return _gamma_sf(x, fnp.multiply(df, _c(0.5, df)), loc, fnp.multiply(scale, _c(2, scale)))


chi2 = _module("chi2", "The chi-squared distribution (jax.scipy.stats.chi2).",
               logpdf=_chi2_logpdf, pdf=_from_log(_chi2_logpdf), cdf=_chi2_cdf,
               logcdf=_log_of(_chi2_cdf), sf=_chi2_sf, logsf=_log_of(_chi2_sf))


def _beta_logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("beta.logpdf", x, a, b, loc, scale)
    y = _std(x, loc, scale)
    inside = fnp.logical_and(fnp.greater_equal(y, 0), fnp.less_equal(y, 1))
    safe = _where(inside, y, _c(0.5, y))
    logp = fnp.subtract(fnp.add(sp.xlogy(fnp.subtract(a, 1), safe),
                                sp.xlog1py(fnp.subtract(b, 1), fnp.negative(safe))),
                        fnp.add(sp.betaln(a, b), fnp.log(scale)))
    return _where(inside, logp, _neg_inf(logp))


def _beta_cdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("beta.cdf", x, a, b, loc, scale)
    return sp.betainc(a, b, fnp.clip(_std(x, loc, scale), _c(0, x), _c(1, x)))


def _beta_sf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("beta.sf", x, a, b, loc, scale)
    y = fnp.clip(_std(x, loc, scale), _c(0, x), _c(1, x))
    return sp.betainc(b, a, fnp.subtract(_c(1, y), y))


beta = _module("beta", "The beta distribution (jax.scipy.stats.beta).",
               logpdf=_beta_logpdf, pdf=_from_log(_beta_logpdf), cdf=_beta_cdf,
               logcdf=_log_of(_beta_cdf), sf=_beta_sf, logsf=_log_of(_beta_sf))


def _dirichlet_logpdf(x, alpha):
    x, alpha = fnp.asarray(asarray(x)), fnp.asarray(asarray(alpha))
    x, = _args("dirichlet.logpdf", x)
    alpha, = _args("dirichlet.logpdf", alpha)
    if fnp.ndim(alpha) != 1:
        raise ValueError(f"functrans.scipy.stats.dirichlet.logpdf: alpha must be 1-d, got "
                         f"shape {fnp.shape(alpha)}")
    k = fnp.shape(alpha)[0]
    if fnp.shape(x)[0] == k - 1:     # the last component is implied (as scipy and JAX allow)
        x = fnp.concatenate([x, fnp.subtract(_c(1, x), fnp.sum(x, axis=0, keepdims=True))])
    if fnp.shape(x)[0] != k:
        raise ValueError(f"functrans.scipy.stats.dirichlet.logpdf: x has {fnp.shape(x)[0]} "
                         f"components along axis 0, alpha {k}")
    a = fnp.reshape(alpha, (k,) + (1,) * (fnp.ndim(x) - 1))
    normalize = fnp.subtract(fnp.sum(sp.gammaln(alpha)), sp.gammaln(fnp.sum(alpha)))
    logp = fnp.subtract(fnp.sum(sp.xlogy(fnp.subtract(a, 1), x), axis=0), normalize)
    inside = fnp.logical_and(fnp.all(fnp.greater_equal(x, 0), axis=0),
                             fnp.less(fnp.abs(fnp.subtract(fnp.sum(x, axis=0), 1)),
                                      _c(1e-6 if dtype_of(x) == np.float32 else 1e-12, x)))
    return _where(inside, logp, _neg_inf(logp))


dirichlet = _module("dirichlet", "The Dirichlet distribution; components along axis 0 "
                    "(jax.scipy.stats.dirichlet).",
                    logpdf=_dirichlet_logpdf, pdf=_from_log(_dirichlet_logpdf))


# --- location-scale families ------------------------------------------------------------------

def _expon_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("expon.logpdf", x, loc, scale)
    y = _std(x, loc, scale)
    logp = fnp.subtract(fnp.negative(y), fnp.log(scale))
    return _where(fnp.less(y, 0), _neg_inf(logp), logp)


def _expon_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("expon.cdf", x, loc, scale)
    y = fnp.maximum(_std(x, loc, scale), _c(0, x))
    return fnp.negative(fnp.expm1(fnp.negative(y)))


def _expon_logcdf(x, loc=0, scale=1):
    x, loc, scale = _args("expon.logcdf", x, loc, scale)
    y = fnp.maximum(_std(x, loc, scale), _c(0, x))
    with np.errstate(divide="ignore"):
        return _log1mexp(fnp.negative(y))


def _expon_logsf(x, loc=0, scale=1):
    x, loc, scale = _args("expon.logsf", x, loc, scale)
    return fnp.negative(fnp.maximum(_std(x, loc, scale), _c(0, x)))


def _expon_sf(x, loc=0, scale=1):
    return fnp.exp(_expon_logsf(x, loc, scale))


def _expon_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("expon.ppf", q, loc, scale)
    out = fnp.add(loc, fnp.multiply(scale, fnp.negative(fnp.log1p(fnp.negative(q)))))
    return _where(fnp.logical_or(fnp.less(q, 0), fnp.greater(q, 1)), _c(np.nan, out), out)


expon = _module("expon", "The exponential distribution (jax.scipy.stats.expon).",
                logpdf=_expon_logpdf, pdf=_from_log(_expon_logpdf), cdf=_expon_cdf,
                logcdf=_expon_logcdf, sf=_expon_sf, logsf=_expon_logsf, ppf=_expon_ppf)


def _laplace_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("laplace.logpdf", x, loc, scale)
    y = _std(x, loc, scale)
    return fnp.subtract(fnp.negative(fnp.abs(y)), fnp.log(fnp.multiply(_c(2, scale), scale)))


def _laplace_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("laplace.cdf", x, loc, scale)
    y = _std(x, loc, scale)
    half = _c(0.5, y)
    return _where(fnp.less(y, 0), fnp.multiply(half, fnp.exp(y)),
                  fnp.subtract(_c(1, y), fnp.multiply(half, fnp.exp(fnp.negative(y)))))


laplace = _module("laplace", "The Laplace distribution (jax.scipy.stats.laplace).",
                  logpdf=_laplace_logpdf, pdf=_from_log(_laplace_logpdf), cdf=_laplace_cdf)


def _logistic_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("logistic.logpdf", x, loc, scale)
    y = _std(x, loc, scale)
    # log sigmoid(y) + log sigmoid(-y) = -|y| - 2 log1p(exp(-|y|))
    a = fnp.abs(y)
    return fnp.subtract(fnp.subtract(fnp.negative(a),
                                     fnp.multiply(_c(2, a), fnp.log1p(fnp.exp(fnp.negative(a))))),
                        fnp.log(scale))


logistic = _module("logistic", "The logistic distribution (jax.scipy.stats.logistic).",
                   logpdf=_logistic_logpdf, pdf=_from_log(_logistic_logpdf),
                   cdf=_standardized("logistic.cdf", sp.expit),
                   sf=_standardized("logistic.sf", sp.expit, upper=True),
                   ppf=_quantile("logistic.ppf", sp.logit),
                   isf=_quantile("logistic.isf", sp.logit, True))


def _cauchy_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("cauchy.logpdf", x, loc, scale)
    y = _std(x, loc, scale)
    return fnp.negative(fnp.add(fnp.add(fnp.log1p(fnp.square(y)), fnp.log(scale)),
                                _c(_LOG_PI, y)))


def _cauchy_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("cauchy.cdf", x, loc, scale)
    y = _std(x, loc, scale)
    return fnp.add(_c(0.5, y), fnp.divide(fnp.arctan(y), _c(math.pi, y)))


def _cauchy_sf(x, loc=0, scale=1):
    x, loc, scale = _args("cauchy.sf", x, loc, scale)
    y = _std(x, loc, scale)
    return fnp.subtract(_c(0.5, y), fnp.divide(fnp.arctan(y), _c(math.pi, y)))


def _cauchy_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("cauchy.ppf", q, loc, scale)
    return fnp.add(loc, fnp.multiply(scale, fnp.tan(fnp.multiply(_c(math.pi, q),
                                                                   fnp.subtract(q, 0.5)))))


def _cauchy_isf(q, loc=0, scale=1):
    q, loc, scale = _args("cauchy.isf", q, loc, scale)
    return fnp.add(loc, fnp.multiply(scale, fnp.tan(fnp.multiply(_c(math.pi, q),
                                                                   fnp.subtract(0.5, q)))))


cauchy = _module("cauchy", "The Cauchy distribution (jax.scipy.stats.cauchy).",
                 logpdf=_cauchy_logpdf, pdf=_from_log(_cauchy_logpdf), cdf=_cauchy_cdf,
                 logcdf=_log_of(_cauchy_cdf), sf=_cauchy_sf, logsf=_log_of(_cauchy_sf),
                 ppf=_cauchy_ppf, isf=_cauchy_isf)


def _t_logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _args("t.logpdf", x, df, loc, scale)
    y = _std(x, loc, scale)
    half = _c(0.5, y)
    dfp = fnp.multiply(half, fnp.add(df, 1))
    norm_const = fnp.subtract(sp.gammaln(dfp), sp.gammaln(fnp.multiply(half, df)))
    norm_const = fnp.subtract(norm_const, fnp.multiply(half, fnp.log(fnp.multiply(df, math.pi))))
    return fnp.subtract(fnp.subtract(norm_const, fnp.log(scale)),
                        fnp.multiply(dfp, fnp.log1p(fnp.divide(fnp.square(y), df))))


t = _module("t", "Student's t distribution (jax.scipy.stats.t).",
            logpdf=_t_logpdf, pdf=_from_log(_t_logpdf))


def _uniform_logpdf(x, loc=0, scale=1):
    x, loc, scale = _args("uniform.logpdf", x, loc, scale)
    inside = fnp.logical_and(fnp.greater_equal(x, loc), fnp.less_equal(x, fnp.add(loc, scale)))
    logp = fnp.negative(fnp.log(fnp.broadcast_to(scale, fnp.shape(fnp.add(x, scale)))))
    return _where(inside, logp, _neg_inf(logp))


def _uniform_cdf(x, loc=0, scale=1):
    x, loc, scale = _args("uniform.cdf", x, loc, scale)
    return fnp.clip(_std(x, loc, scale), _c(0, x), _c(1, x))


def _uniform_ppf(q, loc=0, scale=1):
    q, loc, scale = _args("uniform.ppf", q, loc, scale)
    out = fnp.add(loc, fnp.multiply(q, scale))
    return _where(fnp.logical_or(fnp.less(q, 0), fnp.greater(q, 1)), _c(np.nan, out), out)


uniform = _module("uniform", "The uniform distribution on [loc, loc + scale] "
                  "(jax.scipy.stats.uniform).",
                  logpdf=_uniform_logpdf, pdf=_from_log(_uniform_logpdf), cdf=_uniform_cdf,
                  ppf=_uniform_ppf)


def _log_mass(a, b):
    """log(Phi(b) - Phi(a)) for a < b, from whichever tail keeps it accurate."""
    upper = fnp.greater(a, 0)      # both in the upper tail: use Phi(-a) - Phi(-b)
    left = _logdiffexp(sp.log_ndtr(b), sp.log_ndtr(a))
    right = _logdiffexp(sp.log_ndtr(fnp.negative(a)), sp.log_ndtr(fnp.negative(b)))
    return _where(upper, right, left)


def _truncnorm_logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("truncnorm.logpdf", x, a, b, loc, scale)
    z = _std(x, loc, scale)
    logp = fnp.subtract(fnp.subtract(fnp.multiply(_c(-0.5, z), fnp.square(z)),
                                     fnp.add(fnp.log(scale), _c(0.5 * _LOG_2PI, z))),
                        _log_mass(a, b))
    inside = fnp.logical_and(fnp.greater_equal(z, a), fnp.less_equal(z, b))
    return _where(inside, logp, _neg_inf(logp))


def _truncnorm_logcdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("truncnorm.logcdf", x, a, b, loc, scale)
    z = fnp.clip(_std(x, loc, scale), a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = fnp.subtract(_log_mass(a, z), _log_mass(a, b))
    below = fnp.less_equal(_std(x, loc, scale), a)
    return _where(below, _neg_inf(out), fnp.minimum(out, _c(0, out)))


def _truncnorm_logsf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _args("truncnorm.logsf", x, a, b, loc, scale)
    # the mirror image: sf(x; a, b) = cdf(-x; -b, -a)
    return _truncnorm_logcdf(fnp.negative(x), fnp.negative(b), fnp.negative(a),
                             fnp.negative(loc), scale)


truncnorm = _module(
    "truncnorm", "The normal distribution truncated to [a, b] (in standard units) "
    "(jax.scipy.stats.truncnorm).",
    logpdf=_truncnorm_logpdf, pdf=_from_log(_truncnorm_logpdf), logcdf=_truncnorm_logcdf,
    cdf=_from_log(_truncnorm_logcdf), logsf=_truncnorm_logsf, sf=_from_log(_truncnorm_logsf))


def _pareto_logpdf(x, b, loc=0, scale=1):
    x, b, loc, scale = _args("pareto.logpdf", x, b, loc, scale)
    y = _std(x, loc, scale)
    safe = fnp.maximum(y, _c(1, y))
    logp = fnp.subtract(fnp.log(b), fnp.add(fnp.multiply(fnp.add(b, 1), fnp.log(safe)),
                                            fnp.log(scale)))
    return _where(fnp.less(y, 1), _neg_inf(logp), logp)


def _pareto_logsf(x, b, loc=0, scale=1):
    x, b, loc, scale = _args("pareto.logsf", x, b, loc, scale)
    y = fnp.maximum(_std(x, loc, scale), _c(1, x))
    return fnp.negative(fnp.multiply(b, fnp.log(y)))


def _pareto_logcdf(x, b, loc=0, scale=1):
    with np.errstate(divide="ignore"):
        return _log1mexp(_pareto_logsf(x, b, loc, scale))


def _pareto_ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = _args("pareto.ppf", q, b, loc, scale)
    y = fnp.exp(fnp.negative(fnp.divide(fnp.log1p(fnp.negative(q)), b)))
    out = fnp.add(loc, fnp.multiply(scale, y))
    return _where(fnp.logical_or(fnp.less(q, 0), fnp.greater(q, 1)), _c(np.nan, out), out)


pareto = _module("pareto", "The Pareto distribution (jax.scipy.stats.pareto).",
                 logpdf=_pareto_logpdf, pdf=_from_log(_pareto_logpdf), logsf=_pareto_logsf,
                 sf=_from_log(_pareto_logsf), logcdf=_pareto_logcdf,
                 cdf=_from_log(_pareto_logcdf), ppf=_pareto_ppf)


def _gumbel(sign, name):
    """gumbel_r (sign = 1) and gumbel_l (sign = -1): y = sign (x - loc) / scale."""
    def logpdf(x, loc=0, scale=1):
        x, loc, scale = _args(f"{name}.logpdf", x, loc, scale)
        y = fnp.multiply(_c(sign, x), _std(x, loc, scale))
        return fnp.subtract(fnp.negative(fnp.add(y, fnp.exp(fnp.negative(y)))), fnp.log(scale))

    def log_lower(x, loc, scale):     # log of the CDF of the right-skewed form at y
        x, loc, scale = _args(f"{name}", x, loc, scale)
        y = fnp.multiply(_c(sign, x), _std(x, loc, scale))
        return fnp.negative(fnp.exp(fnp.negative(y)))

    def logcdf(x, loc=0, scale=1):
        low = log_lower(x, loc, scale)
        return low if sign > 0 else _log1mexp(low)

    def logsf(x, loc=0, scale=1):
        low = log_lower(x, loc, scale)
        return _log1mexp(low) if sign > 0 else low

    def ppf(q, loc=0, scale=1):
        q, loc, scale = _args(f"{name}.ppf", q, loc, scale)
        p = q if sign > 0 else fnp.subtract(_c(1, q), q)
        y = fnp.negative(fnp.log(fnp.negative(fnp.log(p))))
        out = fnp.add(loc, fnp.multiply(fnp.multiply(_c(sign, y), scale), y))
        return _where(fnp.logical_or(fnp.less(q, 0), fnp.greater(q, 1)), _c(np.nan, out), out)

    return _module(name, f"The Gumbel distribution, {'right' if sign > 0 else 'left'}-skewed "
                   f"(jax.scipy.stats.{name}).",
                   logpdf=logpdf, pdf=_from_log(logpdf), logcdf=logcdf, cdf=_from_log(logcdf),
                   logsf=logsf, sf=_from_log(logsf), ppf=ppf)


gumbel_r = _gumbel(1, "gumbel_r")
gumbel_l = _gumbel(-1, "gumbel_l")


# --- more distributions -----------------------------------------------------------------------

def _betabinom_logpmf(k, n, a, b, loc=0):
    k, n, a, b, loc = _args("betabinom.logpmf", k, n, a, b, loc)
    y = fnp.subtract(k, loc)
    inside = fnp.logical_and(fnp.greater_equal(y, 0), fnp.less_equal(y, n))
    safe = _where(inside, y, _c(0, y))
    comb = fnp.subtract(sp.gammaln(fnp.add(n, 1)),
                        fnp.add(sp.gammaln(fnp.add(safe, 1)),
                                sp.gammaln(fnp.add(fnp.subtract(n, safe), 1))))
    logp = fnp.add(comb, fnp.subtract(sp.betaln(fnp.add(safe, a),
                                                fnp.add(fnp.subtract(n, safe), b)),
                                      sp.betaln(a, b)))
    return _where(inside, logp, _neg_inf(logp))


betabinom = _module("betabinom", "The beta-binomial distribution "
                    "(jax.scipy.stats.betabinom).",
                    logpmf=_betabinom_logpmf, pmf=_from_log(_betabinom_logpmf))


def _gennorm_logpdf(x, beta):
    x, beta = _args("gennorm.logpdf", x, beta)
    return fnp.subtract(fnp.subtract(fnp.log(fnp.divide(beta, 2)),
                                     sp.gammaln(fnp.divide(_c(1, beta), beta))),
                        fnp.power(fnp.abs(x), beta))


def _gennorm_cdf(x, beta):
    x, beta = _args("gennorm.cdf", x, beta)
    half = _c(0.5, x)
    tail = sp.gammainc(fnp.divide(_c(1, beta), beta), fnp.power(fnp.abs(x), beta))
    return fnp.add(half, fnp.multiply(fnp.multiply(half, fnp.sign(x)), tail))


gennorm = _module("gennorm", "The generalized normal distribution with shape beta "
                  "(jax.scipy.stats.gennorm).",
                  logpdf=_gennorm_logpdf, pdf=_from_log(_gennorm_logpdf), cdf=_gennorm_cdf)


def _multinomial_logpmf(x, n, p):
    x, = _args("multinomial.logpmf", x)
    p, = _args("multinomial.logpmf", p)
    n = fnp.asarray(n, dtype=dtype_of(x))
    logp = fnp.add(fnp.subtract(sp.gammaln(fnp.add(n, 1)),
                                fnp.sum(sp.gammaln(fnp.add(x, 1)), axis=-1)),
                   fnp.sum(sp.xlogy(x, p), axis=-1))
    ok = fnp.logical_and(fnp.equal(fnp.sum(x, axis=-1), n), fnp.all(fnp.greater_equal(x, 0),
                                                                    axis=-1))
    return _where(ok, logp, _neg_inf(logp))


multinomial = _module("multinomial", "The multinomial distribution: counts x (..., k), n "
                      "trials, probabilities p (k,) (jax.scipy.stats.multinomial).",
                      logpmf=_multinomial_logpmf, pmf=_from_log(_multinomial_logpmf))


def _vonmises_logpdf(x, kappa):
    x, kappa = _args("vonmises.logpdf", x, kappa)
    # log I0(kappa) = log i0e(kappa) + |kappa|: no overflow for large concentrations
    log_norm = fnp.add(fnp.add(fnp.log(sp.i0e(kappa)), fnp.abs(kappa)), _c(_LOG_2PI, x))
    logp = fnp.subtract(fnp.multiply(kappa, fnp.cos(x)), log_norm)
    return _where(fnp.less_equal(fnp.abs(x), _c(math.pi, x)), logp, _neg_inf(logp))


vonmises = _module("vonmises", "The von Mises distribution on [-pi, pi] "
                   "(jax.scipy.stats.vonmises).",
                   logpdf=_vonmises_logpdf, pdf=_from_log(_vonmises_logpdf))


def _wrapcauchy_logpdf(x, c):
    x, c = _args("wrapcauchy.logpdf", x, c)
    c2 = fnp.square(c)
    logp = fnp.subtract(fnp.log1p(fnp.negative(c2)),
                        fnp.add(_c(_LOG_2PI, x),
                                fnp.log(fnp.subtract(fnp.add(_c(1, c), c2),
                                                     fnp.multiply(fnp.multiply(2, c),
                                                                  fnp.cos(x))))))
    inside = fnp.logical_and(fnp.logical_and(fnp.greater_equal(x, 0),
                                             fnp.less_equal(x, _c(2 * math.pi, x))),
                             fnp.logical_and(fnp.greater(c, 0), fnp.less(c, 1)))
    return _where(inside, logp, _neg_inf(logp))


wrapcauchy = _module("wrapcauchy", "The wrapped Cauchy distribution on [0, 2 pi] "
                     "(jax.scipy.stats.wrapcauchy).",
                     logpdf=_wrapcauchy_logpdf, pdf=_from_log(_wrapcauchy_logpdf))


# --- statistics -------------------------------------------------------------------------------

def sem(a, axis=0, ddof=1, nan_policy="propagate", *, keepdims=False):
    """The standard error of the mean: std(a, ddof) / sqrt(n) (jax.scipy.stats.sem)."""
    if nan_policy not in ("propagate", "omit"):
        raise ValueError(f"stats.sem: nan_policy must be 'propagate' or 'omit', got "
                         f"{nan_policy!r}")
    a = fnp.asarray(asarray(a))
    if axis is None:
        a, axis = fnp.ravel(a), 0
    if nan_policy == "omit":
        n = fnp.sum(fnp.logical_not(fnp.isnan(a)), axis=axis, keepdims=keepdims)
        sd = fnp.nanstd(a, axis=axis, ddof=ddof, keepdims=keepdims)
    else:
        n = fnp.shape(a)[axis]
        sd = fnp.std(a, axis=axis, ddof=ddof, keepdims=keepdims)
    return fnp.divide(sd, fnp.sqrt(n))


class ModeResult(tuple):
    """(mode, count), with attribute access, as scipy.stats.mode returns."""

    def __new__(cls, mode, count):
        return super().__new__(cls, (mode, count))

    mode = property(lambda self: self[0])
    count = property(lambda self: self[1])


def mode(a, axis=0, nan_policy="propagate", keepdims=False):
    """The most frequent value along axis (the smallest among ties) and its count
    (jax.scipy.stats.mode); compares all pairs, so it traces with static shapes."""
    if nan_policy != "propagate":
        raise NotImplementedError("stats.mode: only nan_policy='propagate' is supported")
    a = fnp.asarray(asarray(a))
    if axis is None:
        a, axis = fnp.ravel(a), 0
    x = fnp.moveaxis(a, axis, -1)
    counts = fnp.sum(fnp.equal(fnp.expand_dims(x, -1), fnp.expand_dims(x, -2)), axis=-1)
    best = fnp.max(counts, axis=-1, keepdims=True)
    # among the most frequent values, the smallest
    big = np.inf if dtype_of(x).kind == "f" else np.iinfo(dtype_of(x)).max
    candidates = fnp.where(fnp.equal(counts, best), x, big)
    value = fnp.min(candidates, axis=-1)
    count = fnp.squeeze(best, -1)
    if keepdims:
        value, count = fnp.expand_dims(value, axis), fnp.expand_dims(count, axis)
    return ModeResult(value, count)


def rankdata(a, method="average", *, axis=None, nan_policy="propagate"):
    """Ranks of the data (float64), 1-based, ties by method 'average', 'min', 'max', 'dense'
    or 'ordinal' (jax.scipy.stats.rankdata); pairwise comparisons, no sort."""
    if method not in ("average", "min", "max", "dense", "ordinal"):
        raise ValueError(f"stats.rankdata: unknown method {method!r}")
    if nan_policy != "propagate":
        raise NotImplementedError("stats.rankdata: only nan_policy='propagate' is supported")
    a = fnp.asarray(asarray(a))
    if axis is None:
        a, axis = fnp.ravel(a), 0
    x = fnp.moveaxis(a, axis, -1)
    xi, xj = fnp.expand_dims(x, -1), fnp.expand_dims(x, -2)      # element i vs element j
    less = fnp.sum(fnp.less(xj, xi), axis=-1)
    equal = fnp.sum(fnp.equal(xj, xi), axis=-1)
    if method == "average":
        ranks = fnp.add(less, fnp.divide(fnp.add(equal, 1), 2.0))
    elif method == "min":
        ranks = fnp.add(less, 1)
    elif method == "max":
        ranks = fnp.add(less, equal)
    elif method == "ordinal":
        n = fnp.shape(x)[-1]
        before = np.tril(np.ones((n, n), bool), -1)          # j < i
        ranks = fnp.add(fnp.add(less, fnp.sum(fnp.logical_and(fnp.equal(xj, xi), before),
                                              axis=-1)), 1)
    else:   # dense: distinct values below, each counted once (1 / its multiplicity)
        mult = fnp.sum(fnp.equal(xj, xi), axis=-1)
        ranks = fnp.add(fnp.round(fnp.sum(fnp.where(fnp.less(xj, xi),
                                                     1.0 / fnp.expand_dims(mult, -2), 0.0),
                                          axis=-1)), 1)
    # float64 for every method, as JAX (scipy gives integers except for 'average')
    return fnp.moveaxis(fnp.asarray(ranks, dtype=np.float64), -1, axis)
