"""Per-example gradients of an MLP loss: vmap(grad) against a Python loop of grad, and against
JAX's un-jitted vmap(grad) when JAX is installed. Ratios from one process; medians of repeats.

    python benchmarks/bench_per_example_grads.py
"""
import os
import time

# Small matrices: one BLAS thread (two threads on this shared 2-core machine cost 10-30x on
# 128x128 products, see shared/NUMBA-FACTS.md). Set before numpy loads BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import functrans as ft  # noqa: E402
from functrans.backend.executables import wait_for_background_compiles  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import nn  # noqa: E402

SIZES = (64, 128, 128, 10)
BATCH = 128


def init(rng, sizes=SIZES, dtype=np.float32):
    return [{"w": (rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype),
             "b": np.zeros(n, dtype)} for m, n in zip(sizes[:-1], sizes[1:])]


def loss(params, x, y, np_mod=fnp, log_softmax=nn.log_softmax):
    h = x
    for layer in params[:-1]:
        h = np_mod.maximum(h @ layer["w"] + layer["b"], 0.0)
    logits = h @ params[-1]["w"] + params[-1]["b"]
    return -np_mod.sum(log_softmax(logits) * y)


def median_time(fn, repeats):
    fn()
    wait_for_background_compiles()      # compiled code, not jit's first calls on numpy
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(repeats=7):
    rng = np.random.default_rng(0)
    params = init(rng)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]
    per_example = ft.vmap(ft.grad(loss), in_axes=(None, 0, 0))
    g_vmap = per_example(params, x, y)
    g_loop = [ft.grad(loss)(params, x[i], y[i]) for i in range(BATCH)]
    for i in (0, BATCH - 1):
        np.testing.assert_allclose(g_vmap[0]["w"][i], g_loop[i][0]["w"], rtol=1e-4, atol=1e-5)

    rows = {"functrans vmap(grad)": median_time(lambda: per_example(params, x, y), repeats),
            "functrans loop of grad": median_time(
                lambda: [ft.grad(loss)(params, x[i], y[i]) for i in range(BATCH)],
                max(2, repeats // 3))}
    try:
        import jax
        import jax.numpy as jnp
        jax_loss = lambda p, x, y: loss(p, x, y, jnp, jax.nn.log_softmax)  # noqa: E731
        jax_fn = jax.vmap(jax.grad(jax_loss), in_axes=(None, 0, 0))
        jp = jax.tree_util.tree_map(jnp.asarray, params)
        rows["jax vmap(grad), not jitted"] = median_time(
            lambda: jax.block_until_ready(jax_fn(jp, x, y)), repeats)
    except ImportError:
        pass
    base = rows["functrans vmap(grad)"]
    print(f"per-example gradients, MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32")
    print(f"{'variant':32s} {'median ms':>10s} {'ratio to vmap(grad)':>20s}")
    for name, t in rows.items():
        print(f"{name:32s} {t * 1e3:10.2f} {t / base:20.2f}")


if __name__ == "__main__":
    main()
