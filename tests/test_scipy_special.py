"""functrans.scipy.special against scipy.special (values, float32/float64 dtypes), derivatives
(finite differences, dot-product test, jacfwd == jacrev, vmap, jit), and JAX's x64 dtypes."""
import math

import numpy as np
import pytest
import scipy.special as ss

import functrans as ft
import functrans.numpy as fnp
from functrans.scipy import special as fs

from transform_checks import assert_close, check_transforms

RNG = np.random.default_rng(0)
POS = RNG.uniform(0.3, 4.0, (3, 4))
REAL = RNG.uniform(-3.0, 3.0, (3, 4))
UNIT = RNG.uniform(0.05, 0.95, (3, 4))

# name: (args, differentiable argnums)
UNARY = {
    "gammaln": POS, "digamma": POS, "erf": REAL, "erfc": REAL, "erfinv": 2 * UNIT - 1,
    "ndtr": REAL, "ndtri": UNIT, "log_ndtr": REAL, "expit": REAL, "logit": UNIT, "entr": POS,
    "i0e": REAL, "i1e": REAL, "i0": REAL, "i1": REAL, "gamma": POS, "loggamma": POS,
    "factorial": POS,
    "erfcx": REAL, "dawsn": REAL, "exp1": POS, "expi": POS, "spence": POS,
}
BINARY = {
    "betaln": (POS, POS[::-1]), "beta": (POS, POS[::-1]), "xlogy": (REAL, POS),
    "xlog1py": (REAL, UNIT), "rel_entr": (POS, POS[::-1]), "kl_div": (POS, POS[::-1]),
    "poch": (POS, UNIT), "boxcox": (POS, REAL / 3), "boxcox1p": (UNIT, REAL / 3),
    "owens_t": (REAL, REAL[::-1] / 2),
}
SHAPE_PARAM = {     # differentiable in the last argument only
    "gammainc": (POS, POS[::-1]), "gammaincc": (POS, POS[::-1]),
    "betainc": (POS, POS[::-1], UNIT),
    "expn": (np.floor(POS), POS[::-1]), "zeta": (POS + 1.5, POS[::-1]),
    "hyp1f1": (UNIT + 0.5, POS, REAL / 2), "hyp2f1": (UNIT, UNIT + 0.2, POS, UNIT - 0.5),
}


def _away_from_kinks(name, x):
    if name in ("i0e",):            # exp(-|x|) has a kink at 0
        return x[np.abs(x) > 0.1]
    return x


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_and_derivatives(name):
    x = UNARY[name]
    assert_close(getattr(fs, name)(x), getattr(ss, name)(x), rtol=1e-12, atol=1e-14, what=name)
    x32 = x.astype(np.float32)
    got32 = getattr(fs, name)(x32)
    assert np.asarray(got32).dtype == np.float32, name
    np.testing.assert_allclose(got32, getattr(ss, name)(x), rtol=2e-5, atol=2e-5)
    xs = _away_from_kinks(name, x.ravel())[:6]
    check_transforms(getattr(fs, name), xs)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_and_derivatives(name):
    args = BINARY[name]
    assert_close(getattr(fs, name)(*args), getattr(ss, name)(*args), rtol=1e-11, atol=1e-13,
                 what=name)
    check_transforms(getattr(fs, name), *(a.ravel()[:5] for a in args))


@pytest.mark.parametrize("name", sorted(SHAPE_PARAM))
def test_shape_parameter_functions(name):
    args = SHAPE_PARAM[name]
    f = getattr(fs, name)
    assert_close(f(*args), getattr(ss, name)(*args), rtol=1e-11, atol=1e-13, what=name)
    small = tuple(a.ravel()[:5] for a in args)
    last = len(args) - 1
    check_transforms(f, *small, argnums=(last,))
    with pytest.raises(ValueError, match="no derivative with respect to"):
        ft.grad(lambda a: fnp.sum(f(a, *small[1:])))(small[0])


def test_pairs_bessel_and_bernoulli():
    x = np.array([-2.0, -0.3, 0.0, 0.7, 3.0])
    for got, want in zip(fs.fresnel(x), ss.fresnel(x)):
        assert_close(got, want, rtol=1e-12)
    for got, want in zip(fs.sici(x[x != 0]), ss.sici(x[x != 0])):
        assert_close(got, want, rtol=1e-12)
    check_transforms(lambda x: fnp.stack(fs.fresnel(x)), x)
    check_transforms(lambda x: fnp.stack(fs.sici(x)), x[x != 0])
    # Si'(0) = 1 (sin(x)/x taken at its limit)
    assert_close(ft.grad(lambda v: fs.sici(v)[0])(0.0), np.float64(1.0))
    z = np.array([0.3, 1.2, 4.5])
    assert_close(fs.bessel_jn(z, v=3), np.stack([ss.jv(k, z) for k in range(4)]), rtol=1e-12)
    check_transforms(lambda z: fs.bessel_jn(z, v=2), z)
    assert_close(fs.zeta(np.array([2.0, 3.5])), ss.zeta([2.0, 3.5]), rtol=1e-12)
    assert_close(fs.bernoulli(6), ss.bernoulli(6))
    # spence'(1) = -1 (the limit of log(x) / (1 - x))
    assert_close(ft.grad(fs.spence)(1.0), np.float64(-1.0))


def test_polygamma():
    n = np.array([0, 1, 2, 3])
    x = np.array([0.5, 1.5, 2.5, 4.0])
    assert_close(fs.polygamma(n, x), ss.polygamma(n, x), rtol=1e-11)
    assert_close(fs.polygamma(1, x), ss.polygamma(1, x), rtol=1e-11)
    check_transforms(lambda x: fs.polygamma(n, x), x)
    # digamma' = polygamma(1), polygamma(n)' = polygamma(n + 1)
    assert_close(ft.vmap(ft.grad(fs.digamma))(x), ss.polygamma(1, x), rtol=1e-11)
    with pytest.raises(ValueError, match="polygamma: no derivative with respect to its order"):
        ft.grad(lambda m: fnp.sum(fs.polygamma(m, x)))(np.ones(4))
    with pytest.raises(ValueError, match="integers"):
        fs.polygamma(0.5, x)


def test_second_derivatives():
    x = np.array([0.7, 2.0, 3.5])
    assert_close(ft.vmap(ft.grad(ft.grad(fs.gammaln)))(x), ss.polygamma(1, x), rtol=1e-11)
    assert_close(ft.vmap(ft.grad(ft.grad(fs.digamma)))(x), ss.polygamma(2, x), rtol=1e-11)
    u = np.array([-0.5, 0.1, 0.8])
    d_erfinv = ft.vmap(ft.grad(fs.erfinv))(u)
    assert_close(d_erfinv, math.sqrt(math.pi) / 2 * np.exp(ss.erfinv(u) ** 2), rtol=1e-12)
    ft.test_util.check_grads(fs.i1e, (np.array([-1.5, 0.3, 2.0]),), order=2)
    ft.test_util.check_grads(fs.log_ndtr, (np.array([-30.0, -2.0, 3.0]),), order=2,
                             rtol=1e-4)


def test_edge_values():
    assert fs.xlogy(0.0, 0.0) == 0.0 and fs.xlog1py(0.0, -1.0) == 0.0
    # JAX's derivative convention: d/dx xlogy(x, y) = log y, also at x = 0
    assert_close(ft.grad(lambda x: fs.xlogy(x, 2.0))(0.0), np.float64(math.log(2.0)))
    assert_close(fs.entr(np.array([-1.0, 0.0, 2.0])), ss.entr([-1.0, 0.0, 2.0]))
    assert_close(fs.gamma(np.array([-0.5, -1.5, 0.5, -2.0])), ss.gamma([-0.5, -1.5, 0.5, -2.0]))
    assert_close(fs.gammasgn(np.array([-0.5, -1.5, 2.0])), ss.gammasgn([-0.5, -1.5, 2.0]))
    assert_close(fs.log_ndtr(np.array([-40.0, 10.0])), ss.log_ndtr([-40.0, 10.0]), rtol=1e-12)
    assert_close(ft.grad(fs.log_ndtr)(-40.0), np.float64(40.02498443747688), rtol=1e-6)
    assert_close(fs.comb(np.array([5.0, 5.0, 3.0]), np.array([2.0, 7.0, -1.0])),
                 ss.comb([5.0, 5.0, 3.0], [2.0, 7.0, -1.0]), rtol=1e-12)
    assert_close(fs.comb(4, 2, repetition=True), np.float64(ss.comb(4, 2, repetition=True)),
                 rtol=1e-12)
    assert_close(fs.multigammaln(np.array([3.5, 6.0]), 3), ss.multigammaln(np.array([3.5, 6.0]),
                                                                              3), rtol=1e-12)
    with pytest.raises(TypeError, match="complex"):
        fs.gammaln(1j)


def test_logsumexp():
    a = RNG.standard_normal((3, 4))
    b = RNG.uniform(-1, 1, (3, 4))
    for axis in (None, 0, 1, (0, 1)):
        for keepdims in (False, True):
            assert_close(fs.logsumexp(a, axis=axis, keepdims=keepdims),
                         ss.logsumexp(a, axis=axis, keepdims=keepdims), rtol=1e-12)
            got = fs.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
            want = ss.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
            assert_close(got[0], want[0], rtol=1e-12, dtype=False)
            assert_close(got[1], want[1], dtype=False)
    assert_close(fs.logsumexp(np.array([-np.inf, -np.inf])), np.float64(-np.inf))
    assert_close(fs.logsumexp(np.array([1000.0, 1000.0])), np.float64(1000 + math.log(2)))
    check_transforms(lambda a: fs.logsumexp(a, axis=1), a)
    check_transforms(lambda a, b: fs.logsumexp(a, axis=0, b=b, return_sign=True)[0], a,
                     np.abs(b) + 0.1)
    # gradient of logsumexp is softmax
    assert_close(ft.grad(fs.logsumexp)(a), ss.softmax(a), rtol=1e-12)


def test_softmax_family():
    x = RNG.standard_normal((3, 4))
    for axis in (None, 0, -1):
        assert_close(fs.softmax(x, axis=axis), ss.softmax(x, axis=axis), rtol=1e-12)
        assert_close(fs.log_softmax(x, axis=axis), ss.log_softmax(x, axis=axis), rtol=1e-12)
    check_transforms(lambda x: fs.log_softmax(x, axis=1), x)
    check_transforms(lambda x: fs.softmax(x, axis=0), x)


def test_float32_derivatives_stay_float32():
    x = POS[0].astype(np.float32)
    for f in (fs.gammaln, fs.digamma, fs.erfc, fs.i0e, fs.i1e, fs.log_ndtr, fs.ndtri):
        arg = x / 5 if f is fs.ndtri else x
        g = ft.grad(lambda v: fnp.sum(f(v)))(arg)
        assert g.dtype == np.float32, f.__name__
        g64 = ft.grad(lambda v: fnp.sum(f(v)))(arg.astype(np.float64))
        np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-5, err_msg=f.__name__)


def test_matches_jax_dtypes_and_values():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.scipy.special as js
    for name in sorted(UNARY):
        for x in (UNARY[name], UNARY[name].astype(np.float32), np.array([1, 2, 3])):
            if name in ("ndtr", "ndtri", "log_ndtr", "spence") and x.dtype.kind == "i":
                with pytest.raises(TypeError):
                    js.__dict__[name](x)
                with pytest.raises(TypeError, match=f"{name} requires a float32 or float64"):
                    getattr(fs, name)(x)
                continue
            got, want = getattr(fs, name)(x), np.asarray(getattr(js, name)(x))
            assert np.asarray(got).dtype == want.dtype, (name, x.dtype)
            np.testing.assert_allclose(got, want, rtol=1e-5 if want.dtype == np.float32 else
                                       1e-9, err_msg=name)
    for name, args in BINARY.items():
        np.testing.assert_allclose(getattr(fs, name)(*args), getattr(js, name)(*args),
                                   rtol=1e-9, err_msg=name)
