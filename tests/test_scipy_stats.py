"""functrans.scipy.stats against scipy.stats (values), derivatives in the arguments and the
parameters (finite differences, dot-product test, jacfwd == jacrev, vmap, jit), float32, and
JAX's x64 results where JAX is installed."""
import numpy as np
import pytest
import scipy.stats as S

import functrans as ft
import functrans.numpy as fnp
from functrans.scipy import stats as fs

from transform_checks import assert_close, check_transforms

RNG = np.random.default_rng(0)
X = RNG.uniform(-2, 3, 6)
POS = RNG.uniform(0.1, 3, 6)
Q = RNG.uniform(0.05, 0.95, 6)
K = np.array([0.0, 1.0, 2.0, 3.0, 7.0, -1.0])

LOC_SCALE = ["norm", "expon", "laplace", "logistic", "cauchy", "uniform", "gumbel_r", "gumbel_l"]


def _close(got, want, what):
    assert_close(got, np.asarray(want, np.float64), rtol=1e-9, atol=1e-12, what=what)


@pytest.mark.parametrize("dist", LOC_SCALE)
def test_location_scale_values(dist):
    mod = getattr(fs, dist)
    for fname in mod.__all__:
        arg = Q if fname in ("ppf", "isf") else X
        _close(getattr(mod, fname)(arg, 0.3, 1.7), getattr(getattr(S, dist), fname)(arg, 0.3, 1.7),
               f"{dist}.{fname}")
        _close(getattr(mod, fname)(arg), getattr(getattr(S, dist), fname)(arg), f"{dist}.{fname}")


@pytest.mark.parametrize("fname", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"])
def test_shape_families_values(fname):
    cases = [("gamma", (POS, 2.5, 0.1, 1.3)), ("chi2", (POS, 3.5)), ("beta", (Q, 2.5, 1.3)),
             ("beta", (X, 2.5, 1.3, -2.5, 6.0)), ("truncnorm", (X, -1.0, 2.0, 0.2, 1.1)),
             ("truncnorm", (X + 4, 3.0, 6.0)), ("truncnorm", (X - 4, -7.0, -3.0)),
             ("pareto", (POS + 1, 2.5))]
    for dist, args in cases:
        _close(getattr(getattr(fs, dist), fname)(*args),
               getattr(getattr(S, dist), fname)(*args), f"{dist}.{fname}{args[1:]}")


def test_other_values():
    _close(fs.pareto.ppf(Q, 2.5, 0.5, 2.0), S.pareto.ppf(Q, 2.5, 0.5, 2.0), "pareto.ppf")
    _close(fs.t.logpdf(X, 3.5, 0.2, 1.3), S.t.logpdf(X, 3.5, 0.2, 1.3), "t.logpdf")
    _close(fs.t.pdf(X, 1.5), S.t.pdf(X, 1.5), "t.pdf")
    _close(fs.binom.logpmf(K, 5, 0.3), S.binom.logpmf(K, 5, 0.3), "binom.logpmf")
    _close(fs.binom.pmf(K, 5, 0.3, loc=1), S.binom.pmf(K, 5, 0.3, loc=1), "binom.pmf")
    _close(fs.poisson.logpmf(K, 2.3), S.poisson.logpmf(K, 2.3), "poisson.logpmf")
    _close(fs.poisson.pmf(K, 2.3, 1), S.poisson.pmf(K, 2.3, 1), "poisson.pmf")
    _close(fs.poisson.cdf(K + 0.5, 2.3), S.poisson.cdf(K + 0.5, 2.3), "poisson.cdf")
    _close(fs.bernoulli.logpmf(K, 0.3), S.bernoulli.logpmf(K, 0.3), "bernoulli.logpmf")
    _close(fs.bernoulli.cdf(K - 0.5, 0.3), S.bernoulli.cdf(K - 0.5, 0.3), "bernoulli.cdf")
    _close(fs.bernoulli.ppf(Q, 0.3), S.bernoulli.ppf(Q, 0.3), "bernoulli.ppf")
    _close(fs.geom.logpmf(K, 0.3), S.geom.logpmf(K, 0.3), "geom.logpmf")
    _close(fs.nbinom.logpmf(K, 2.5, 0.3), S.nbinom.logpmf(K, 2.5, 0.3), "nbinom.logpmf")
    alpha = np.array([1.5, 2.0, 3.0])
    xs = np.array([[0.2, 0.3], [0.5, 0.1], [0.3, 0.6]])
    _close(fs.dirichlet.logpdf(xs, alpha), S.dirichlet.logpdf(xs, alpha), "dirichlet")
    _close(fs.dirichlet.pdf(xs[:2], alpha), S.dirichlet.pdf(xs, alpha), "dirichlet K-1")
    _close(fs.dirichlet.logpdf(np.array([0.5, 0.6, -0.1]), alpha), -np.inf, "outside simplex")
    a = RNG.standard_normal((3, 3))
    cov = a @ a.T + np.eye(3)
    x = RNG.standard_normal((4, 3))
    mu = RNG.standard_normal(3)
    mvn = S.multivariate_normal
    _close(fs.multivariate_normal.logpdf(x, mu, cov), mvn.logpdf(x, mu, cov), "mvn")
    _close(fs.multivariate_normal.pdf(x[0], mu, cov), mvn.pdf(x[0], mu, cov), "mvn one")
    _close(fs.multivariate_normal.logpdf(x, mu, np.diag(cov)),
           mvn.logpdf(x, mu, np.diag(np.diag(cov))), "mvn diagonal")
    _close(fs.multivariate_normal.logpdf(x, mu, 2.0), mvn.logpdf(x, mu, 2.0), "mvn scalar")


def test_more_distributions_and_statistics():
    _close(fs.betabinom.logpmf(K, 5, 2.0, 3.0), S.betabinom.logpmf(K, 5, 2, 3), "betabinom")
    _close(fs.gennorm.logpdf(X, 1.5), S.gennorm.logpdf(X, 1.5), "gennorm.logpdf")
    _close(fs.gennorm.cdf(X, 1.5), S.gennorm.cdf(X, 1.5), "gennorm.cdf")
    counts = np.array([[1.0, 2, 3], [0, 0, 6], [1, 1, 3]])
    p = np.array([0.2, 0.3, 0.5])
    _close(fs.multinomial.logpmf(counts, 6, p), S.multinomial.logpmf(counts, 6, p),
           "multinomial")
    _close(fs.vonmises.logpdf(X[np.abs(X) < 3], 2.0), S.vonmises.logpdf(X[np.abs(X) < 3], 2.0),
           "vonmises")
    _close(fs.wrapcauchy.logpdf(np.abs(X), 0.4), S.wrapcauchy.logpdf(np.abs(X), 0.4),
           "wrapcauchy")
    a = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3], [5, 8, 9, 7, 9]], dtype=float)
    _close(fs.sem(a), S.sem(a), "sem")
    _close(fs.sem(a, axis=None, ddof=0), S.sem(a, axis=None, ddof=0), "sem all")
    m = fs.mode(a, axis=1)
    want = S.mode(a, axis=1)
    _close(m.mode, want.mode, "mode")
    assert np.array_equal(m.count, want.count)
    for method in ("average", "min", "max", "dense", "ordinal"):
        _close(fs.rankdata(a, method, axis=1), S.rankdata(a, method, axis=1), method)
        _close(fs.rankdata(a, method), S.rankdata(a, method), method)
        _close(ft.jit(lambda v: fs.rankdata(v, method))(a), S.rankdata(a, method), method)
    xs = X[np.abs(X) > 0.2]
    check_transforms(lambda x, b: fs.gennorm.logpdf(x, b), xs, POS[:len(xs)] + 1)
    check_transforms(lambda k: fs.vonmises.logpdf(X[np.abs(X) < 3], k), np.array(2.0))
    check_transforms(lambda p: fs.multinomial.logpmf(counts[:2], 6, p), p)   # rows summing to 6
    check_transforms(lambda a, b: fs.betabinom.logpmf(K[:4], 5, a, b), POS[:4], POS[1:5])


def test_support_and_quantile_edges():
    assert fs.gamma.logpdf(-1.0, 2.0) == -np.inf and fs.gamma.pdf(-1.0, 2.0) == 0
    assert fs.expon.logpdf(-0.5) == -np.inf and fs.uniform.logpdf(1.5) == -np.inf
    assert np.isnan(fs.expon.ppf(1.5)) and np.isnan(fs.uniform.ppf(-0.1))
    assert fs.beta.logpdf(1.5, 2.0, 2.0) == -np.inf
    assert fs.truncnorm.logpdf(3.0, -1.0, 2.0) == -np.inf
    # the far tail stays finite where a naive log(cdf) would not
    _close(fs.norm.logcdf(-40.0), S.norm.logcdf(-40.0), "norm.logcdf tail")
    _close(fs.truncnorm.logpdf(10.5, 10.0, 12.0), S.truncnorm.logpdf(10.5, 10.0, 12.0),
           "truncnorm far tail")
    import functrans.scipy.stats.norm as norm_module      # the JAX import form works
    assert norm_module.logpdf is fs.norm.logpdf


DERIVATIVES = {
    "norm.logpdf": (lambda x, m, s: fs.norm.logpdf(x, m, s), (X, X[::-1], POS)),
    "norm.logcdf": (lambda x, s: fs.norm.logcdf(x, 0.5, s), (X, POS)),
    "norm.ppf": (lambda q, s: fs.norm.ppf(q, 0.1, s), (Q, POS)),
    "gamma.logpdf": (lambda x, a, s: fs.gamma.logpdf(x, a, 0.0, s), (POS, POS[::-1] + 0.5, Q)),
    "gamma.cdf": (lambda x: fs.gamma.cdf(x, 2.5, 0.0, 1.5), (POS,)),
    "beta.logpdf": (lambda x, a, b: fs.beta.logpdf(x, a, b), (Q, POS, POS[::-1])),
    "beta.sf": (lambda x: fs.beta.sf(x, 2.0, 3.5), (Q,)),
    "t.logpdf": (lambda x, df, s: fs.t.logpdf(x, df, 0.1, s), (X, POS + 1, POS[::-1])),
    "cauchy.logcdf": (lambda x, s: fs.cauchy.logcdf(x, 0.2, s), (X, POS)),
    "logistic.logpdf": (lambda x, s: fs.logistic.logpdf(x, -0.1, s), (X, POS)),
    "laplace.logpdf": (lambda x, s: fs.laplace.logpdf(x, 0.0, s), (X[np.abs(X) > 0.1],
                                                                POS[:np.sum(np.abs(X) > 0.1)])),
    "expon.logcdf": (lambda x, s: fs.expon.logcdf(x, 0.0, s), (POS, POS[::-1])),
    "truncnorm.logpdf": (lambda x, a, b: fs.truncnorm.logpdf(x, a, b),
                         (np.clip(X, -0.9, 1.9), np.full(6, -1.0), np.full(6, 2.0))),
    "truncnorm.logcdf": (lambda x: fs.truncnorm.logcdf(x, -1.0, 2.0),
                         (np.clip(X, -0.9, 1.9),)),
    "gumbel_l.logsf": (lambda x, s: fs.gumbel_l.logsf(x, 0.1, s), (X, POS)),
    "poisson.logpmf": (lambda mu: fs.poisson.logpmf(K[:5], mu), (POS[:5],)),
    "binom.logpmf": (lambda p: fs.binom.logpmf(K[:4], 5, p), (Q[:4],)),
    "bernoulli.logpmf": (lambda p: fs.bernoulli.logpmf(K[:2], p), (Q[:2],)),
    "dirichlet.logpdf": (lambda x, a: fs.dirichlet.logpdf(x, a),
                         (np.array([0.2, 0.3]), np.array([1.5, 2.0, 3.0]))),
    "pareto.logpdf": (lambda x, b: fs.pareto.logpdf(x, b), (POS + 1, POS)),
}


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_derivatives(name):
    f, args = DERIVATIVES[name]
    check_transforms(f, *args)


def test_multivariate_normal_derivatives():
    a = RNG.standard_normal((3, 3))
    cov = a @ a.T + np.eye(3)
    x = RNG.standard_normal((2, 3))
    mu = RNG.standard_normal(3)
    check_transforms(lambda x, m, c: fs.multivariate_normal.logpdf(x, m, c), x, mu, cov,
                     vmap=False)
    # d/dmean logpdf = cov^{-1} (x - mean), summed over the rows of x
    g = ft.grad(lambda m: fnp.sum(fs.multivariate_normal.logpdf(x, m, cov)))(mu)
    assert_close(g, np.linalg.solve(cov, (x - mu).sum(0)), rtol=1e-10)


def test_float32():
    x32 = X.astype(np.float32)
    for mod in (fs.norm, fs.logistic, fs.cauchy, fs.laplace):
        out = mod.logpdf(x32, np.float32(0.3), np.float32(1.5))
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, mod.logpdf(X, 0.3, 1.5), rtol=1e-5, atol=1e-6)
    g = ft.grad(lambda x: fnp.sum(fs.gamma.logpdf(x, np.float32(2.5))))(POS.astype(np.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, (2.5 - 1) / POS - 1, rtol=1e-5)


def test_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.scipy.stats as js
    for dist in LOC_SCALE:
        for fname in getattr(fs, dist).__all__:
            if not hasattr(getattr(js, dist), fname):
                continue
            arg = Q if fname in ("ppf", "isf") else X
            got = getattr(getattr(fs, dist), fname)(arg, 0.3, 1.7)
            want = np.asarray(getattr(getattr(js, dist), fname)(arg, 0.3, 1.7))
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{dist}.{fname}")
    for fname in ("logpdf", "cdf", "sf"):
        np.testing.assert_allclose(getattr(fs.gamma, fname)(POS, 2.5),
                                   getattr(js.gamma, fname)(POS, 2.5), rtol=1e-9)
        np.testing.assert_allclose(getattr(fs.beta, fname)(Q, 2.5, 1.3),
                                   getattr(js.beta, fname)(Q, 2.5, 1.3), rtol=1e-9)
    np.testing.assert_allclose(fs.poisson.logpmf(K, 2.3), js.poisson.logpmf(K, 2.3), rtol=1e-9)
    np.testing.assert_allclose(fs.binom.logpmf(K, 5.0, 0.3), js.binom.logpmf(K, 5.0, 0.3),
                               rtol=1e-9)
    g = ft.grad(lambda s: fnp.sum(fs.t.logpdf(X, 3.5, 0.1, s)))(1.3)
    gj = jax.grad(lambda s: js.t.logpdf(X, 3.5, 0.1, s).sum())(1.3)
    np.testing.assert_allclose(g, gj, rtol=1e-10)
