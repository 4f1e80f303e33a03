"""Loops under jit run as one njit function (functrans/backend/loops.py): every loop form the
user writes and the transforms produce equals the interpreter (values, shapes, dtypes), and the
compiled loop is what runs (lower().as_text() shows it; no Python loop note)."""

import numpy as np
import pytest

import functrans as ft
import functrans.lax as lax
import functrans.numpy as fnp

from transform_checks import same_trees

pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")

rng = np.random.default_rng(0)


def same(got, want, tol=1e-10):
    same_trees(got, want, tol, f32_tol=2e-5)


def check(f, *args, compiled=True, tol=1e-10):
    """jit(f) equals f; with compiled=True every loop in it runs as machine code."""
    same(ft.jit(f)(*args), f(*args), tol)
    text = ft.jit(f).lower(*args).as_text()
    if compiled:
        assert "a Python loop" not in text, text[text.find("a Python loop") - 200:][:600]
        assert "for i" in text or "while True" in text
    return text


def lorenz(p, s0, n=200, dt=0.01):
    def step(s, _):
        x, y, z = s[0], s[1], s[2]
        ds = fnp.stack([p[0] * (y - x), x * (p[1] - z) - y, x * y - p[2] * z])
        s = s + dt * ds
        return s, s[0]
    s, xs = lax.scan(step, s0, None, length=n)
    return fnp.sum(s) + fnp.mean(xs)


P = np.array([10.0, 28.0, 8.0 / 3.0])
S0 = np.array([1.0, 1.0, 1.0])


def test_scan_length_without_xs_gradient_and_vmap():
    check(lorenz, P, S0)
    check(ft.grad(lorenz), P, S0, tol=1e-8)
    check(ft.grad(lorenz, argnums=1), P, S0, tol=1e-8)
    states = S0 + np.linspace(0, 1, 8)[:, None]
    check(ft.vmap(lambda s: lorenz(P, s)), states)
    check(ft.jit(ft.vmap(ft.grad(lorenz), in_axes=(None, 0))), P, states, tol=1e-8)


def test_gradient_against_finite_differences():
    g = ft.jit(ft.grad(lambda p: lorenz(p, S0, n=50)))(P)
    eps = 1e-6
    for k in range(3):
        e = np.zeros(3)
        e[k] = eps
        fd = (lorenz(P + e, S0, n=50) - lorenz(P - e, S0, n=50)) / (2 * eps)
        np.testing.assert_allclose(g[k], fd, rtol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scan_with_xs_matrix_carry_and_stacked_matrices(reverse, dtype):
    w = rng.standard_normal((4, 4)).astype(dtype) * 0.3
    xs = rng.standard_normal((6, 3, 4)).astype(dtype)

    def f(w, xs):
        def step(h, x):
            h = fnp.tanh(x @ w + h * 0.5)
            return h, (h * 2.0, fnp.sum(h))
        return lax.scan(step, fnp.zeros((3, 4), dtype), xs, reverse=reverse)
    check(f, w, xs)
    loss = lambda w, xs: fnp.sum(f(w, xs)[1][0] ** 2)  # noqa: E731
    check(ft.grad(loss, argnums=(0, 1)), w, xs, tol=1e-9)


def test_zero_trip_loops():
    xs = np.zeros((0, 3))
    check(lambda c, xs: lax.scan(lambda c, x: (c + x, c * 2.0), c, xs), np.ones(3), xs)
    check(lambda c: lax.fori_loop(0, 0, lambda i, c: c * 2.0, c), np.ones(3))
    check(lambda c: lax.while_loop(lambda c: c[0] > 10.0, lambda c: c + 1.0, c), np.ones(3))


def test_integer_and_pytree_carries():
    def f(x):
        def step(carry, xi):
            n, acc, d = carry
            return (n + 1, acc + xi * n, {"m": fnp.maximum(d["m"], xi)}), n * 2
        return lax.scan(step, (np.int32(0), 0.0, {"m": -np.inf}), x)
    check(f, rng.standard_normal(7))
    check(lambda n: lax.fori_loop(0, 10, lambda i, c: (c[0] + i, c[1] * 2), (n, n)),
          np.int64(3))


def test_fori_loop_static_and_dynamic_bounds():
    body = lambda i, x: x * 0.9 + fnp.sin(x) * i  # noqa: E731
    check(lambda x: lax.fori_loop(0, 20, body, x), rng.standard_normal(5))
    check(lambda x, n: lax.fori_loop(0, n, body, x), rng.standard_normal(5), np.int64(13))


def newton_sqrt(a):
    def cond(s):
        x, _ = s
        return fnp.any(fnp.abs(x * x - a) > 1e-12 * a)

    def body(s):
        x, k = s
        return 0.5 * (x + a / x), k + 1
    return lax.while_loop(cond, body, (a, 0))


def test_while_loop_newton_and_its_vmap_with_a_batched_predicate():
    a = np.linspace(0.5, 50.0, 16)
    text = check(newton_sqrt, a)
    assert "while True" in text
    np.testing.assert_allclose(ft.jit(newton_sqrt)(a)[0], np.sqrt(a), rtol=1e-12)
    # per-element loops, different trip counts: the batched predicate
    check(ft.vmap(lambda x: newton_sqrt(x[None])[0][0]), a)
    # the JVP loop: d sqrt(a) = 1 / (2 sqrt(a))
    jvp = lambda a, t: ft.jvp(lambda a: newton_sqrt(a)[0], (a,), (t,))  # noqa: E731
    check(jvp, a, np.ones_like(a))
    np.testing.assert_allclose(ft.jit(jvp)(a, np.ones_like(a))[1], 0.5 / np.sqrt(a),
                               rtol=1e-8)


def test_cond_and_switch_inside_loops():
    def f(x):
        def step(c, xi):
            c = lax.cond(xi > 0, lambda c: c * 2.0 + xi, lambda c: c - xi, c)
            k = fnp.clip((xi * 2).astype(np.int32) + 1, 0, 2)
            y = lax.switch(k, [lambda c: -c, lambda c: c * c, lambda c: fnp.sin(c)], c)
            return c * 0.5, y
        return lax.scan(step, 0.3, x)
    x = rng.standard_normal(9)
    check(f, x)
    check(ft.grad(lambda x: fnp.sum(f(x)[1])), x, tol=1e-9)
    check(ft.vmap(f), rng.standard_normal((3, 9)))


def test_nested_loops_jit_and_map_inside_bodies():
    inner_jit = ft.jit(lambda v: fnp.tanh(v) * 2.0)

    def f(x):
        def outer(c, xi):
            inner = lax.fori_loop(0, 3, lambda i, v: inner_jit(v + xi), c)
            return inner * 0.5, lax.map(lambda r: fnp.sum(r * inner), xi[None, :] + 1.0)
        return lax.scan(outer, fnp.zeros(4), x)
    x = rng.standard_normal((5, 4))
    check(f, x)
    check(ft.grad(lambda x: fnp.sum(f(x)[0]) + fnp.sum(f(x)[1])), x, tol=1e-9)


def test_training_loop_with_dynamic_slices_of_closed_over_data():
    data = rng.standard_normal((64, 8)).astype(np.float32)
    target = rng.standard_normal((64, 2)).astype(np.float32)

    def train(w):
        def step(i, w):
            xb = lax.dynamic_slice_in_dim(data, i * 16 % 64, 16)
            yb = lax.dynamic_slice_in_dim(target, i * 16 % 64, 16)
            g = ft.grad(lambda w: fnp.mean((xb @ w - yb) ** 2))(w)
            return w - 0.1 * g
        return lax.fori_loop(0, 12, step, w)
    check(train, np.zeros((8, 2), np.float32))


def test_a_body_with_a_numpy_path_primitive_keeps_working():
    def f(x):
        return lax.scan(lambda c, r: (c + fnp.sort(r)[0], fnp.cumsum(r)), 0.0, x)
    text = check(f, rng.standard_normal((4, 5)), compiled=False)
    assert "a Python loop" in text            # and says why


def test_rnn_gradient_stacks_views_of_the_carry():
    # The primal loop stacks h.reshape(1, 32) (a view of the carry) as a residual: it must be
    # stored before the carry is updated in place. Checked against the unrolled program.
    r = np.random.default_rng(1)
    params = (r.standard_normal((16, 32)) * 0.3, r.standard_normal((32, 32)) * 0.2,
              np.zeros(32), r.standard_normal((32, 4)) * 0.3)
    xs, y = r.standard_normal((12, 16)), r.standard_normal(4)

    def scanned(params, xs, y):
        wx, wh, b, wo = params
        h, _ = lax.scan(lambda h, x: (fnp.tanh(x @ wx + h @ wh + b), None), fnp.zeros(32), xs)
        return fnp.sum((h @ wo - y) ** 2)

    def unrolled(params, xs, y):
        wx, wh, b, wo = params
        h = fnp.zeros(32)
        for t in range(xs.shape[0]):
            h = fnp.tanh(xs[t] @ wx + h @ wh + b)
        return fnp.sum((h @ wo - y) ** 2)
    check(ft.grad(scanned), params, xs, y, tol=1e-9)
    same(ft.jit(ft.grad(scanned))(params, xs, y), ft.grad(unrolled)(params, xs, y), 1e-9)


def test_carries_swapped_and_passed_through():
    # carries updated in place must not read an already updated carry
    def f(a, b):
        return lax.fori_loop(0, 5, lambda i, c: (c[1], c[0] + 1.0, c[2]), (a, b, a * 2.0))
    check(f, np.arange(3.0), np.ones(3))


def test_loop_code_is_cached_on_disk_for_new_processes(tmp_path):
    import os
    import subprocess
    import sys
    script = (
        "import numpy as np, functrans as ft, functrans.lax as lax, functrans.numpy as fnp\n"
        "f = ft.jit(lambda w, xs: lax.scan(lambda h, x: (fnp.tanh(h @ w + x), fnp.sum(h)),"
        " fnp.zeros(4), xs))\n"
        "s = f.lower(np.eye(4) * 0.5, np.ones((20, 4))).stats\n"
        "print(sorted(k.how for k in s.kernels))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, FUNCTRANS_CACHE_DIR=str(tmp_path),
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    first, second = (r.stdout.strip().splitlines()[-1] for r in runs)
    assert "compiled" in first and "compiled" not in second and "disk" in second, \
        (first, second)
