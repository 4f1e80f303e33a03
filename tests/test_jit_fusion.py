"""The fusion scheduler against the interpreter: random programs that mix fused elementwise
groups, matrix products, reductions, views and values used many times, plus the real programs
that once made the schedule cyclic (a Hessian-vector product of an MLP, an ADVI gradient)."""

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import random
from functrans.backend.flatten import flatten
from functrans.backend.fusion import plan

pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")

N = 5


def random_program(seed):
    """A function of two (N, N) matrices: a random DAG of ~25 operations over them. Every
    value may be read by any later operation (multi-use); products and reductions sit between
    elementwise chains, so the fuser must schedule groups around them."""
    r = np.random.default_rng(seed)
    ops = []
    for _ in range(int(r.integers(12, 30))):
        kind = r.choice(["unary", "binary", "binary", "matmul", "reduce", "transpose",
                         "bcast"], p=[.2, .2, .2, .15, .1, .075, .075])
        ops.append((kind, int(r.integers(0, 1 << 30)), int(r.integers(0, 1 << 30)),
                    int(r.integers(0, 4))))
    n_out = int(r.integers(1, 4))

    def f(a, b):
        mats, vecs = [a, b], []
        for kind, i, j, k in ops:
            x, y = mats[-1 - i % len(mats)], mats[-1 - j % min(len(mats), 6)]
            if kind == "unary":
                mats.append([fnp.tanh, fnp.sin, lambda z: -z, lambda z: z * 0.5][k](x))
            elif kind == "binary":
                mats.append([fnp.add, fnp.multiply, fnp.subtract, fnp.maximum][k](x, y))
            elif kind == "matmul":
                mats.append(fnp.tanh(x @ y) if k % 2 else x @ y * 0.2)
            elif kind == "reduce":
                v = [fnp.sum, fnp.max][k % 2](x, axis=k // 2) * (1.0 / N)
                vecs.append(v)
                mats.append(x - v[:, None] if k % 2 else y + v[None, :])
            elif kind == "transpose":
                mats.append(x.T * y)
            else:
                v = vecs[-1 - i % len(vecs)] if vecs else fnp.sum(x, axis=0)
                mats.append(fnp.exp(-x * x) * v)
        outs = [mats[-1 - (7 * m) % len(mats)] for m in range(n_out)]
        return outs + [fnp.sum(mats[-1] * mats[len(mats) // 2])] + vecs[-2:]
    return f


@pytest.mark.parametrize("seed", range(24))
def test_random_programs_fuse_and_match_the_interpreter(seed):
    rng = np.random.default_rng(1000 + seed)
    a, b = rng.standard_normal((N, N)), rng.standard_normal((N, N))
    f = random_program(seed)
    want = f(a, b)
    got = ft.jit(f)(a, b)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w) and np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)
    # and its gradient: reverse mode makes products run both ways between groups
    loss = lambda a, b: sum(fnp.sum(fnp.tanh(o)) for o in f(a, b))  # noqa: E731
    g1 = ft.jit(ft.grad(loss, argnums=(0, 1)))(a, b)
    g0 = ft.grad(loss, argnums=(0, 1))(a, b)
    for g, w in zip(g1, g0):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-9)


def _steps_respect_dependencies(program):
    """Every step runs after the steps producing what it reads."""
    steps, _ = plan(program)
    seen = set()
    for s in steps:
        assert s.deps <= seen, "a step runs before one it depends on"
        seen.add(id(s))


def _mlp_loss(sizes, batch, rng):
    shapes = list(zip(sizes[:-1], sizes[1:]))
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)

    def loss(p):
        h, o = x, 0
        for i, (m, n) in enumerate(shapes):
            w = p[o:o + m * n].reshape(m, n)
            b = p[o + m * n:o + m * n + n]
            o += m * n + n
            h = h @ w + b
            if i < len(shapes) - 1:
                h = fnp.tanh(h)
        top = fnp.max(h, axis=1, keepdims=True)
        lse = fnp.log(fnp.sum(fnp.exp(h - top), axis=1)) + top[:, 0]
        return fnp.mean(lse - h[np.arange(batch), y])
    return loss, sum(m * n + n for m, n in shapes)


def test_hessian_vector_product_of_an_mlp():
    # Issue 10's reproducer: the schedule of this program had a cycle through two fused groups
    # and the matrix products between them.
    rng = np.random.default_rng(0)
    loss, n = _mlp_loss([64, 128, 128, 10], 128, rng)
    p = (rng.standard_normal(n) * 0.1).astype(np.float32)
    v = rng.standard_normal(n).astype(np.float32)
    hvp = lambda p, v: ft.jvp(ft.grad(loss), (p,), (v,))[1]  # noqa: E731
    _steps_respect_dependencies(flatten(ft.make_jaxpr(hvp)(p, v))[0])
    got, want = ft.jit(hvp)(p, v), hvp(p, v)
    assert got.dtype == np.float32 and got.shape == (n,)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())
    # float64: against a central difference of the gradient along v
    p64, v64 = p.astype(np.float64), v.astype(np.float64)
    loss64, _ = _mlp_loss([8, 16, 16, 4], 16, np.random.default_rng(1))
    n64 = 8 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4
    p64, v64 = p64[:n64], v64[:n64]
    hvp64 = ft.jit(lambda p, v: ft.jvp(ft.grad(loss64), (p,), (v,))[1])(p64, v64)
    eps = 1e-5
    g = ft.grad(loss64)
    fd = (g(p64 + eps * v64) - g(p64 - eps * v64)) / (2 * eps)
    np.testing.assert_allclose(hvp64, fd, rtol=1e-5, atol=1e-7)


def test_advi_gradient_averaged_by_vmap():
    def objective(params, key):
        mu, log_sigma = params

        def one(k):
            z = mu + fnp.exp(log_sigma) * random.normal(k, mu.shape)
            log_p = -0.5 * fnp.sum(z ** 2) - 0.5 * fnp.sum((z - 1.0) ** 2 / 4.0)
            return log_p + fnp.sum(log_sigma)
        return -fnp.mean(ft.vmap(one)(random.split(key, 4)))

    params = (np.linspace(-1, 1, 5), np.linspace(-0.5, 0.5, 5))
    key = random.PRNGKey(0)
    g = ft.grad(objective)
    got, want = ft.jit(g)(params, key), g(params, key)
    for a, b in zip(got, want):
        # The noise is float32: jit's fused log/cos (Numba's libm) and numpy's SIMD loops
        # differ by an ulp on some elements, so agreement is to float32 precision.
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # the same noise by hand: d/dmu of -mean(log p) = mean(z + (z-1)/4)
    eps = np.stack([np.asarray(random.normal(k, (5,))) for k in random.split(key, 4)])
    z = params[0] + np.exp(params[1]) * eps
    # (the sampler draws float32 noise: agreement to its precision)
    np.testing.assert_allclose(got[0], np.mean(z + (z - 1) / 4, axis=0), rtol=1e-6)


def test_batched_kernels_take_strided_inputs():
    # Identical updates of several parameters run as one batched kernel over a tuple of arrays;
    # strided inputs (transposed gradients) once made that tuple mixed-layout, which Numba
    # cannot type. The driver now makes a batched kernel's inputs contiguous.
    rng = np.random.default_rng(0)
    params = (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
              rng.standard_normal((5, 2)))
    grads = (rng.standard_normal((4, 3)).T, rng.standard_normal((3, 4)),
             rng.standard_normal((2, 5))[:, ::-1].T)

    def update(p, g):
        return tuple(a - 0.1 * b * b for a, b in zip(p, g))
    f = ft.jit(update)
    assert "np.ascontiguousarray(a" in f.lower(params, grads).as_text()
    for got, a, b in zip(f(params, grads), params, grads):
        np.testing.assert_allclose(got, a - 0.1 * b * b, rtol=1e-15)
