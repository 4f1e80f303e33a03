"""Gradients through linear algebra: functrans (eager grad, jit(grad)) against hand-written
numpy gradients, and against JAX's jit(grad) and autograd when installed. Medians of repeats,
ratios to the numpy reference measured in the same process; one BLAS thread.

    python benchmarks/bench_linalg.py

Workloads (n x n float64):
  logdet    d/dA log|det A| = A^-T                       (slogdet: LU)
  solve     d/dA sum(solve(A, B)), d/dB                   (LU and triangular solves)
  gauss     d/dS of a Gaussian log-density with covariance S (cholesky, triangular solve)
  eigh      d/dA sum(w^3) of a symmetric A's eigenvalues  (eigh)
"""
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.linalg as sla  # noqa: E402

import functrans as ft  # noqa: E402
from functrans.backend.executables import wait_for_background_compiles  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
import functrans.scipy.linalg as fsl  # noqa: E402


def median_time(fn, repeats):
    fn()
    wait_for_background_compiles()      # compiled code, not jit's first calls on numpy
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# --- the workloads, written once per library ------------------------------------------------------

def workloads(n, rng):
    a = rng.standard_normal((n, n)) + 3 * np.sqrt(n) * np.eye(n)
    b = rng.standard_normal((n, 4))
    c = rng.standard_normal((n, n))
    s = c @ c.T / n + np.eye(n)
    x = rng.standard_normal(n)
    sym = (c + c.T) / 2

    def np_logdet(a):
        return np.linalg.inv(a).T

    def np_solve(a, b):
        xs = np.linalg.solve(a, b)
        g = np.linalg.solve(a.T, np.ones_like(b))
        return -g @ xs.T, g

    def np_gauss(s, x):
        # f = -0.5 x^T S^-1 x - 0.5 log det S  =>  df/dS = 0.5 (S^-1 x x^T S^-1 - S^-1)
        cf = sla.cho_factor(s, lower=True)
        y = sla.cho_solve(cf, x)
        return 0.5 * (np.outer(y, y) - sla.cho_solve(cf, np.eye(len(x))))

    def np_eigh(a):
        w, v = np.linalg.eigh(a)
        return (v * (3 * w ** 2)) @ v.T

    def f_logdet(m, a):
        return m.linalg.slogdet(a)[1]

    def f_solve(m, a, b):
        return m.sum(m.linalg.solve(a, b))

    def f_gauss(m, s, x, solve_triangular):
        low = m.linalg.cholesky(s)
        z = solve_triangular(low, x, lower=True)
        return -0.5 * m.sum(z * z) - m.sum(m.log(m.diagonal(low, axis1=-1, axis2=-2)))

    def f_eigh(m, a):
        return m.sum(m.linalg.eigh(a)[0] ** 3)

    return [
        ("logdet", (a,), np_logdet, f_logdet, 0),
        ("solve", (a, b), np_solve, f_solve, (0, 1)),
        ("gauss", (s, x), np_gauss, f_gauss, 0),
        ("eigh", (sym,), np_eigh, f_eigh, 0),
    ]


def functrans_fn(name, f):
    if name == "gauss":
        return lambda *args: f(fnp, *args, fsl.solve_triangular)
    return lambda *args: f(fnp, *args)


def jax_fn(name, f):
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl
    if name == "gauss":
        return lambda *args: f(jnp, *args, jsl.solve_triangular)
    return lambda *args: f(jnp, *args)


def autograd_fn(name, f):
    import autograd.numpy as anp
    import autograd.scipy.linalg as asl
    if name == "gauss":
        return lambda *args: f(anp, *args, asl.solve_triangular)
    return lambda *args: f(anp, *args)


def check(got, want, what):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-6, atol=1e-8, err_msg=what)


def main(sizes=(8, 64, 256), repeats=15):
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
    except ImportError:
        jax = None
    try:
        import autograd
    except ImportError:
        autograd = None
    print(f"functrans {ft.__version__}, numpy {np.__version__}, one BLAS thread; "
          "times in microseconds (median), ratio = time / hand-written numpy")
    print("| workload | n | numpy (hand) | functrans grad | functrans jit(grad) | "
          "JAX jit(grad) | autograd grad |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        rng = np.random.default_rng(0)
        for name, args, np_grad, f, argnums in workloads(n, rng):
            reference = np_grad(*args)
            rows = {"numpy": median_time(lambda: np_grad(*args), repeats)}
            g = ft.grad(functrans_fn(name, f), argnums=argnums)
            check(g(*args), reference, f"functrans {name}")
            rows["ft"] = median_time(lambda: g(*args), repeats)
            jg = ft.jit(g)
            check(jg(*args), reference, f"functrans jit {name}")
            rows["ft_jit"] = median_time(lambda: jg(*args), repeats)
            if jax is not None:
                jjg = jax.jit(jax.grad(jax_fn(name, f), argnums=argnums))
                check(jjg(*args), reference, f"JAX {name}")
                rows["jax"] = median_time(lambda: jax.block_until_ready(jjg(*args)), repeats)
            if autograd is not None:
                ag = autograd.grad(autograd_fn(name, f), argnum=argnums)
                got = ag(*args)
                if name == "eigh":     # autograd's gradient lives on the lower triangle it reads
                    got = (got + got.T) / 2
                check(got, reference, f"autograd {name}")
                rows["autograd"] = median_time(lambda: ag(*args), repeats)
            base = rows["numpy"]
            cells = [f"{rows['numpy'] * 1e6:.0f}"]
            for key in ("ft", "ft_jit", "jax", "autograd"):
                cells.append(f"{rows[key] * 1e6:.0f} ({rows[key] / base:.1f}x)" if key in rows
                             else "-")
            print(f"| {name} | {n} | " + " | ".join(cells) + " |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
