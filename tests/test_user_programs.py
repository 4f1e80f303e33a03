"""Whole programs written the way JAX's tutorials write them, checked against independent
references: hand-derived gradients, finite differences, Python loops and the interpreter.
Each composes several transforms, as users do; each ran wrong or crashed at some point."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax, nn, random


def _fd_grad(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


# --- logistic regression: grad against the textbook gradient Xᵀ(σ(Xw) - y)/n --------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compiled", [False, True])
def test_logistic_regression_gradient(dtype, compiled):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5)).astype(dtype)
    y = (rng.random(40) < 0.5).astype(dtype)
    w = (0.1 * rng.standard_normal(5)).astype(dtype)

    def loss(w):
        logits = X @ w
        return fnp.mean(nn.softplus(logits) - y * logits)    # binary cross-entropy

    g = (ft.jit(ft.grad(loss)) if compiled else ft.grad(loss))(w)
    want = X.T @ (1 / (1 + np.exp(-(X @ w))) - y) / len(y)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


# --- an MLP with integer labels: HVP under jit, per-example grads ------------------------------

def _mlp_problem(dtype=np.float32, sizes=(12, 16, 16, 4), batch=24):
    rng = np.random.default_rng(1)
    shapes = list(zip(sizes[:-1], sizes[1:]))
    n = sum(a * b + b for a, b in shapes)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], batch)

    def unflatten(p):
        out, i = [], 0
        for a, b in shapes:
            out.append((p[i:i + a * b].reshape(a, b), p[i + a * b:i + a * b + b]))
            i += a * b + b
        return out

    def loss(p, X=X, labels=labels):
        h = X
        layers = unflatten(p)
        for k, (W, c) in enumerate(layers):
            h = h @ W + c
            if k < len(layers) - 1:
                h = fnp.tanh(h)
        logp = h - nn.logsumexp(h, axis=-1, keepdims=True)
        return -fnp.mean(fnp.take_along_axis(logp, labels[..., None], axis=-1))

    p = (0.3 * rng.standard_normal(n)).astype(dtype)
    return loss, p, X, labels


def test_hessian_vector_product_under_jit_matches_finite_differences_of_grad():
    loss, p, _, _ = _mlp_problem(np.float64)
    v = np.random.default_rng(2).standard_normal(p.shape)
    hvp = ft.jit(lambda p, v: ft.jvp(ft.grad(loss), (p,), (v,))[1])
    eps = 1e-5
    fd = (ft.grad(loss)(p + eps * v) - ft.grad(loss)(p - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hvp(p, v), fd, rtol=1e-5, atol=1e-8)
    # forward-over-reverse and reverse-over-reverse agree
    rev_rev = ft.grad(lambda p: fnp.vdot(ft.grad(loss)(p), v))(p)
    np.testing.assert_allclose(hvp(p, v), rev_rev, rtol=1e-9, atol=1e-12)


def test_per_example_gradients_match_a_python_loop():
    loss, p, X, labels = _mlp_problem(np.float32)
    per_example = ft.jit(ft.vmap(lambda x, l: ft.grad(loss)(p, x[None], l[None])))(X, labels)
    loop = np.stack([ft.grad(loss)(p, X[i:i + 1], labels[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(per_example, loop, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(per_example.mean(0), ft.grad(loss)(p), rtol=1e-4, atol=1e-6)


# --- variational inference: vmap over split keys inside grad inside jit -----------------------

def test_advi_gradient_with_vmapped_samples():
    def neg_elbo(params, key):
        mu, log_sigma = params

        def one_sample(k):
            z = mu + fnp.exp(log_sigma) * random.normal(k, mu.shape)
            log_joint = -0.5 * fnp.sum((z - 1.0) ** 2)          # N(1, I) target
            return -(log_joint + fnp.sum(log_sigma))           # entropy up to a constant
        return fnp.mean(ft.vmap(one_sample)(random.split(key, 4)))

    params = (np.zeros(3), np.zeros(3))
    key = random.key(0)
    g_jit = ft.jit(ft.grad(neg_elbo))(params, key)
    g_eager = ft.grad(neg_elbo)(params, key)
    for a, b in zip(g_jit, g_eager):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # Reparameterization: d/dmu = mean over samples of (z - 1) with z = eps (mu = 0, sigma = 1).
    eps = np.stack([random.normal(k, (3,)) for k in random.split(key, 4)])
    np.testing.assert_allclose(g_eager[0], (eps - 1.0).mean(0), rtol=1e-12)
    np.testing.assert_allclose(g_eager[1], (eps * (eps - 1.0)).mean(0) - 1.0, rtol=1e-12)


# --- an RNN with scan: gradient through time against finite differences -------------------------

def test_scan_rnn_gradient_through_time():
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((7, 3))
    W0 = 0.5 * rng.standard_normal((4, 4))
    U = 0.5 * rng.standard_normal((3, 4))

    def loss(W):
        def step(h, x):
            h = fnp.tanh(h @ W + x @ U)
            return h, fnp.sum(h ** 2)
        _, ys = lax.scan(step, fnp.zeros(4), xs)
        return fnp.sum(ys)

    want = _fd_grad(lambda W: float(loss(W)), W0)
    np.testing.assert_allclose(ft.grad(loss)(W0), want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ft.jit(ft.grad(loss))(W0), want, rtol=1e-6, atol=1e-8)


# --- a Newton solve with while_loop, differentiated by the implicit function theorem ------------

def test_custom_vjp_implicit_differentiation_of_a_while_loop_solve():
    @ft.custom_vjp
    def cube_root(a):
        def body(x):
            return x - (x ** 3 - a) / (3 * x ** 2)
        return lax.while_loop(lambda x: fnp.any(fnp.abs(x ** 3 - a) > 1e-12), body,
                              fnp.ones_like(a))

    def fwd(a):
        x = cube_root(a)
        return x, x

    def bwd(x, g):
        return (g / (3 * x ** 2),)          # dx/da = 1 / (3 x^2) at the solution
    cube_root.defvjp(fwd, bwd)

    a = np.array([8.0, 27.0, 2.0])
    np.testing.assert_allclose(cube_root(a), np.cbrt(a), rtol=1e-12)
    g = ft.grad(lambda a: fnp.sum(cube_root(a)))(a)
    np.testing.assert_allclose(g, 1 / (3 * np.cbrt(a) ** 2), rtol=1e-10)
    np.testing.assert_allclose(ft.jit(ft.grad(lambda a: fnp.sum(cube_root(a))))(a), g,
                               rtol=1e-12)
    np.testing.assert_allclose(ft.vmap(ft.grad(lambda a: cube_root(a)))(a), g, rtol=1e-12)


# --- the mistakes users make, with the errors they get ------------------------------------------

def test_mistakes_give_errors_that_say_what_to_do():
    from functrans.core.errors import ConcretizationTypeError, TracerArrayConversionError

    def uses_numpy(w):
        return np.sum(np.tanh(np.asarray(w)))           # numpy inside a differentiated function
    with pytest.raises(TracerArrayConversionError, match="fnp"):
        ft.grad(uses_numpy)(np.ones(3))

    def branches_on_value(x):
        return x if x.sum() > 0 else -x
    with pytest.raises(ConcretizationTypeError, match="lax.cond"):
        ft.jit(branches_on_value)(np.ones(3))
    assert np.all(ft.grad(lambda x: branches_on_value(x).sum())(np.ones(3)) == 1.0)

    with pytest.raises(TypeError, match="static_argnums"):
        ft.jit(lambda x, activation: x)(np.ones(2), "relu")
