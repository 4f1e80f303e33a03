"""Loops under jit (issue 11): functrans.jit of scan / fori_loop / while_loop against jax.jit,
a hand-written njit loop and (for the training loop) a Python loop of jit(step), in one run.

    python benchmarks/bench_loops.py            # all workloads (a few minutes on 2 cores)
    python benchmarks/bench_loops.py --quick    # fewer repeats

Times are medians of repeats in µs per loop step; ratios are against the references measured in
the same run. The JAX column is skipped when JAX is not installed. First calls (an empty cache
directory) are reported beside Numba's own once-per-process start-up, as what the user waits for
on call 1 and on call 2, and the time from call 1 until compiled code runs: with jit's
background compile (the default) a program whose loops are short runs on numpy while a worker
process compiles it; one whose loops would run long on numpy compiles on call 1
(functrans/backend/loop_runs.py).
BLAS runs on one thread. The machine is shared: expect noise.
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ["FUNCTRANS_CACHE_DIR"] = tempfile.mkdtemp(prefix="ft_bench_loops_")

import time  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import functrans as ft  # noqa: E402
import functrans.lax as lax  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans.backend import KERNELS  # noqa: E402
from functrans.backend.executables import wait_for_background_compiles  # noqa: E402

try:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
except Exception:          # the JAX column is optional
    jax = None


def median_time(fn, repeats):
    fn()
    wait_for_background_compiles()      # steady state: compiled code, not calls on numpy
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def first_call(fn):
    """Seconds the user waits on call 1 and on call 2, and from the start of call 1 until
    compiled code runs. With jit's background compile (the default) a call may run on numpy
    while the kernels compile in a worker process; a program whose loops would run long on
    numpy, or one compiled before (the disk cache), compiles on call 1."""
    t = time.perf_counter()
    fn()
    t1 = time.perf_counter()
    fn()
    t2 = time.perf_counter()
    wait_for_background_compiles()
    return t1 - t, t2 - t1, time.perf_counter() - t


def block(x):
    if jax is not None:
        return jax.block_until_ready(x)
    return x


# --- Lorenz ---------------------------------------------------------------------------------

N_LORENZ, DT = 10_000, 0.001
P = np.array([10.0, 28.0, 8.0 / 3.0])
S0 = np.array([1.0, 1.0, 1.05])


def lorenz_ft(p, s0):
    def step(s, _):
        x, y, z = s[0], s[1], s[2]
        ds = fnp.stack([p[0] * (y - x), x * (p[1] - z) - y, x * y - p[2] * z])
        s = s + DT * ds
        return s, s[0]
    s, xs = lax.scan(step, s0, None, length=N_LORENZ)
    return fnp.sum(s) + fnp.mean(xs)


def lorenz_jax(p, s0):
    def step(s, _):
        x, y, z = s[0], s[1], s[2]
        ds = jnp.stack([p[0] * (y - x), x * (p[1] - z) - y, x * y - p[2] * z])
        s = s + DT * ds
        return s, s[0]
    s, xs = jax.lax.scan(step, s0, None, length=N_LORENZ)
    return jnp.sum(s) + jnp.mean(xs)


@njit(cache=False)
def lorenz_nb(p, s0):
    x, y, z = s0[0], s0[1], s0[2]
    acc = 0.0
    for _ in range(N_LORENZ):
        dx, dy, dz = p[0] * (y - x), x * (p[1] - z) - y, x * y - p[2] * z
        x, y, z = x + DT * dx, y + DT * dy, z + DT * dz
        acc += x
    return x + y + z + acc / N_LORENZ


# --- SGD training loop --------------------------------------------------------------------------

def mlp_data(sizes, batch, steps, rng):
    n = batch * 8
    x = rng.standard_normal((n, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], n)]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32),
                   np.zeros(b, np.float32)]
    return x, y, tuple(params), n


def sgd_ft(x, y, n, batch, lr=0.05):
    def loss(params, xb, yb):
        w1, b1, w2, b2 = params
        h = fnp.maximum(xb @ w1 + b1, 0.0)
        z = h @ w2 + b2
        z = z - fnp.max(z, axis=1, keepdims=True)
        return -fnp.mean(fnp.sum(yb * (z - fnp.log(fnp.sum(fnp.exp(z), axis=1, keepdims=True))),
                                 axis=1))

    def step(i, params):
        start = (i * batch) % n
        xb = lax.dynamic_slice_in_dim(x, start, batch)
        yb = lax.dynamic_slice_in_dim(y, start, batch)
        g = ft.grad(loss)(params, xb, yb)
        return tuple(p - lr * gp for p, gp in zip(params, g))
    return step


def sgd_jax(x, y, n, batch, lr=0.05):
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss(params, xb, yb):
        w1, b1, w2, b2 = params
        h = jnp.maximum(xb @ w1 + b1, 0.0)
        z = h @ w2 + b2
        return -jnp.mean(jnp.sum(yb * jax.nn.log_softmax(z, axis=1), axis=1))

    def step(i, params):
        start = (i * batch) % n
        xb = jax.lax.dynamic_slice_in_dim(x, start, batch)
        yb = jax.lax.dynamic_slice_in_dim(y, start, batch)
        g = jax.grad(loss)(params, xb, yb)
        return tuple(p - lr * gp for p, gp in zip(params, g))
    return step


@njit(cache=False)
def sgd_nb(x, y, w1, b1, w2, b2, steps, batch, lr):
    n = x.shape[0]
    w1, b1, w2, b2 = w1.copy(), b1.copy(), w2.copy(), b2.copy()
    scale = np.float32(lr / batch)
    for i in range(steps):
        s = (i * batch) % n
        xb, yb = x[s:s + batch], y[s:s + batch]
        pre = np.dot(xb, w1) + b1
        h = np.maximum(pre, np.float32(0))
        z = np.dot(h, w2) + b2
        for r in range(batch):
            m = z[r].max()
            e = np.exp(z[r] - m)
            z[r] = e / e.sum() - yb[r]           # dL/dz times batch
        gw2 = np.dot(h.T, z)
        gb2 = z.sum(axis=0)
        dh = np.dot(z, w2.T) * (pre > 0)
        gw1 = np.dot(xb.T, dh)
        gb1 = dh.sum(axis=0)
        w1 -= scale * gw1
        b1 -= scale * gb1
        w2 -= scale * gw2
        b2 -= scale * gb2
    return w1, b1, w2, b2


# --- Newton square roots ----------------------------------------------------------------------

A = np.linspace(0.5, 1e4, 256)


def newton_ft(a):
    def cond(s):
        return fnp.any(fnp.abs(s[0] * s[0] - a) > 1e-10 * a)

    def body(s):
        x, k = s
        return 0.5 * (x + a / x), k + 1
    return lax.while_loop(cond, body, (a, 0))


def newton_jax(a):
    def cond(s):
        return jnp.any(jnp.abs(s[0] * s[0] - a) > 1e-10 * a)

    def body(s):
        x, k = s
        return 0.5 * (x + a / x), k + 1
    return jax.lax.while_loop(cond, body, (a, 0))


@njit(cache=False)
def newton_nb(a):
    x = a.copy()
    k = 0
    while True:
        done = True
        for j in range(a.shape[0]):
            if abs(x[j] * x[j] - a[j]) > 1e-10 * a[j]:
                done = False
                break
        if done:
            return x, k
        for j in range(a.shape[0]):
            x[j] = 0.5 * (x[j] + a[j] / x[j])
        k += 1


# --- RNN (hidden 32, 50 steps) ------------------------------------------------------------------

def rnn_loss_scan(params, xs, y):
    wx, wh, b, wo = params
    h, _ = lax.scan(lambda h, x: (fnp.tanh(x @ wx + h @ wh + b), None), fnp.zeros(32), xs)
    return fnp.sum((h @ wo - y) ** 2)


def rnn_loss_unrolled(params, xs, y):
    wx, wh, b, wo = params
    h = fnp.zeros(32)
    for t in range(xs.shape[0]):
        h = fnp.tanh(xs[t] @ wx + h @ wh + b)
    return fnp.sum((h @ wo - y) ** 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rep = 3 if args.quick else 7
    rows = []
    init = KERNELS.numba_init()
    print(f"Numba start-up (once per process): {init:.2f} s; JAX: "
          f"{'installed' if jax else 'not installed'}")

    def row(name, steps, ft_fn, ref=None, jax_fn=None, nb_fn=None, first=None, note=""):
        t_ft = median_time(ft_fn, rep) / steps * 1e6
        t_ref = median_time(ref, rep) / steps * 1e6 if ref else None
        t_jax = median_time(jax_fn, rep) / steps * 1e6 if jax_fn and jax else None
        t_nb = median_time(nb_fn, rep) / steps * 1e6 if nb_fn else None
        rows.append((name, t_ft, t_ref, t_jax, t_nb, first, note))
        print(rows[-1], flush=True)

    # Lorenz
    f = ft.jit(lorenz_ft)
    first = first_call(lambda: f(P, S0))
    want = lorenz_nb(P, S0)
    assert abs(f(P, S0) - want) < 1e-8 * abs(want)
    jf = jax.jit(lorenz_jax) if jax else None
    row("Lorenz scan, 10,000 steps, f64", N_LORENZ, lambda: f(P, S0),
        jax_fn=(lambda: block(jf(P, S0))) if jax else None, nb_fn=lambda: lorenz_nb(P, S0),
        first=first)
    g = ft.jit(ft.grad(lorenz_ft))
    first = first_call(lambda: g(P, S0))
    jg = jax.jit(jax.grad(lorenz_jax)) if jax else None
    if jax:
        np.testing.assert_allclose(g(P, S0), jg(P, S0), rtol=1e-6)
    row("Lorenz jit(grad) w.r.t. 3 parameters", N_LORENZ, lambda: g(P, S0),
        jax_fn=(lambda: block(jg(P, S0))) if jax else None, first=first)
    states = S0 + np.linspace(0, 1, 64)[:, None]
    v = ft.jit(ft.vmap(lambda s: lorenz_ft(P, s)))
    first = first_call(lambda: v(states))
    jv = jax.jit(jax.vmap(lambda s: lorenz_jax(P, s))) if jax else None
    row("Lorenz jit(vmap) over 64 states", N_LORENZ, lambda: v(states),
        jax_fn=(lambda: block(jv(states))) if jax else None, first=first)

    # Training loops
    for sizes, batch, steps in (((64, 16, 10), 32, 1000), ((64, 128, 10), 128, 300)):
        x, y, params, n = mlp_data(sizes, batch, steps, np.random.default_rng(0))
        step = sgd_ft(x, y, n, batch)
        train = ft.jit(lambda p: lax.fori_loop(0, steps, step, p))
        first = first_call(lambda: train(params))
        jstep = ft.jit(step)

        def python_loop():
            p = params
            for i in range(steps):
                p = jstep(i, p)
            return p
        np.testing.assert_allclose(train(params)[0], python_loop()[0], rtol=2e-3, atol=1e-4)
        if jax:
            js = sgd_jax(x, y, n, batch)
            jtrain = jax.jit(lambda p: jax.lax.fori_loop(0, steps, js, p))
            jparams = tuple(jnp.asarray(a) for a in params)
            np.testing.assert_allclose(train(params)[0], jtrain(jparams)[0], rtol=2e-3,
                                       atol=1e-4)
        nb_out = sgd_nb(x, y, *params, steps, batch, 0.05)
        np.testing.assert_allclose(train(params)[0], nb_out[0], rtol=2e-3, atol=1e-4)
        row(f"SGD fori_loop, MLP {'-'.join(map(str, sizes))}, batch {batch}, f32, "
            f"{steps} steps", steps, lambda: train(params), ref=python_loop,
            jax_fn=(lambda: block(jtrain(jparams))) if jax else None,
            nb_fn=lambda: sgd_nb(x, y, *params, steps, batch, 0.05), first=first)

    # Newton while_loop
    w = ft.jit(newton_ft)
    first = first_call(lambda: w(A))
    iters = int(w(A)[1])
    assert iters == newton_nb(A)[1]
    jw = jax.jit(newton_jax) if jax else None
    row(f"while_loop Newton sqrt of 256 values ({iters} iterations)", iters, lambda: w(A),
        jax_fn=(lambda: block(jw(A))) if jax else None, nb_fn=lambda: newton_nb(A),
        first=first)

    # RNN: scan vs the unrolled program, jit(grad)
    r = np.random.default_rng(1)
    params = (r.standard_normal((16, 32)) * 0.3, r.standard_normal((32, 32)) * 0.2,
              np.zeros(32), r.standard_normal((32, 4)) * 0.3)
    xs, yv = r.standard_normal((50, 16)), r.standard_normal(4)
    gs = ft.jit(ft.grad(rnn_loss_scan))
    first = first_call(lambda: gs(params, xs, yv))
    gu = ft.jit(ft.grad(rnn_loss_unrolled))
    for a, b in zip(gs(params, xs, yv), gu(params, xs, yv)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    row("RNN h32, 50 steps, jit(grad): scan (ref: unrolled program)", 50,
        lambda: gs(params, xs, yv), ref=lambda: gu(params, xs, yv), first=first)

    print()
    print("| workload | functrans jit (µs/step) | reference (µs/step) | jax.jit (µs/step) | "
          "hand njit (µs/step) | jit / ref | jit / jax | jit / njit | call 1, call 2 (s) | "
          "compiled after (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda t: "-" if t is None else (f"{t:.3f}" if t < 1 else f"{t:.1f}")  # noqa: E731
    ratio = lambda a, b: "-" if b is None else f"{a / b:.2f}"  # noqa: E731
    for name, t_ft, t_ref, t_jax, t_nb, first, _ in rows:
        print(f"| {name} | {fmt(t_ft)} | {fmt(t_ref)} | {fmt(t_jax)} | {fmt(t_nb)} | "
              f"{ratio(t_ft, t_ref)} | {ratio(t_ft, t_jax)} | {ratio(t_ft, t_nb)} | "
              f"{first[0]:.2f}, {first[1]:.2f} | {first[2]:.2f} |")


if __name__ == "__main__":
    main()
