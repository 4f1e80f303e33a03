"""Un-jitted transforms and jit's first call (issue 17): functrans against autograd and JAX
(un-jitted) in the same run, when they are installed. Medians of repeats, minima in
parentheses; ratios are functrans / reference (< 1 means functrans is faster), of medians and
(of minima).

    python benchmarks/bench_eager.py              # all tables
    python benchmarks/bench_eager.py eager        # value_and_grad, HVP, vmap(grad) only
    python benchmarks/bench_eager.py eager --cpu  # the same by CPU time, 300 calls each
    python benchmarks/bench_eager.py import       # import times (fresh processes)
    python benchmarks/bench_eager.py jit          # jit first call / import (fresh processes)

jit's first calls run on numpy by default while the kernels compile in a worker process (calls
made before the compile is done run on numpy too); the jit table shows that and compiling on the
first call (FUNCTRANS_JIT_BACKGROUND_COMPILE=0) side by side.

This machine is shared (2 cores, other jobs running): expect 10-30% noise between runs; the
ratios, measured round-robin in one loop in one process, are the stable part. torch, when
installed, runs with one thread (torch.set_num_threads(1)), as numpy's BLAS does here; its
gradients are checked against functrans's before timing.
"""
import os
import subprocess
import sys
import tempfile
import time

# Small matrices: one BLAS thread (see shared/NUMBA-FACTS.md). Set before numpy loads BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp  # noqa: E402

SIZES = [((64, 32, 32, 10), 32), ((64, 128, 128, 10), 128), ((784, 512, 512, 10), 256)]
# `--cpu`: time each call by this thread's CPU time (time.thread_time) instead of the wall
# clock, so that time the shared machine spends on other jobs is not counted. BLAS runs on this
# thread (OPENBLAS_NUM_THREADS=1); JAX computes on threads of its own, so its column is not
# comparable under --cpu.
CLOCK = time.perf_counter


class Timing(float):
    """A median (the float value) that also carries the minimum: on a loaded machine a call
    that takes a few ms is often descheduled, and the minimum shows the cost itself."""

    def __new__(cls, times):
        t = super().__new__(cls, float(np.median(times)))
        t.min = float(np.min(times))
        return t


def interleaved_times(fns, repeats, min_time=1.0):
    """{name: Timing} for several callables measured round-robin in one loop: on a loaded
    machine a burst of load then slows every column alike, and the ratios stay meaningful."""
    for fn in fns.values():
        fn()
        fn()    # the replay fast path derives a structure's gradient program on its 2nd call
    times = {k: [] for k in fns}
    t_start = time.perf_counter()
    n = 0
    while n < repeats or (time.perf_counter() - t_start < min_time and n < 400):
        for k, fn in fns.items():
            t0 = CLOCK()
            fn()
            times[k].append(CLOCK() - t0)
        n += 1
    return {k: Timing(v) for k, v in times.items()}


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def _fmt_row(label, times, base_key="functrans"):
    """Cells: median (min); other columns add functrans/column for medians and for minima."""
    base = times.get(base_key)
    cells = []
    for k, t in times.items():
        if t is None:
            cells.append("—")
        elif k == base_key:
            cells.append(f"{t * 1e3:.2f} ({t.min * 1e3:.2f}) ms")
        else:
            cells.append(f"{t * 1e3:.2f} ({t.min * 1e3:.2f}) ms, {base / t:.2f}x "
                         f"({base.min / t.min:.2f}x)")
    return f"| {label} | " + " | ".join(cells) + " |"


def _torch_value_and_grad(torch, params, x, y):
    """The benchmark's loss and its gradients in torch eager mode (autograd's backward): the
    same layers, max-shifted log-softmax and mean, on tensors sharing the numpy buffers."""
    tp = [(torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_())
          for w, b in params]
    leaves = [a for wb in tp for a in wb]
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def value_and_grad():
        h = tx
        for w, b in tp[:-1]:
            h = torch.clamp_min(h @ w + b, 0.0)
        w, b = tp[-1]
        logits = h @ w + b
        shifted = logits - torch.amax(logits, dim=1, keepdim=True)
        logz = torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
        loss = -torch.mean(torch.sum(ty * (shifted - logz), dim=1))
        return loss, torch.autograd.grad(loss, leaves)
    return value_and_grad


def bench_value_and_grad(repeats):
    import functrans as ft
    import functrans.numpy as fnp
    ag = _optional("autograd")
    jax = _optional("jax")
    torch = _optional("torch")
    if torch is not None:
        torch.set_num_threads(1)        # as numpy's BLAS here (and comparable under --cpu)
    from functrans.transforms import replay
    names = ["functrans", "functrans, templates off", "functrans, fast path off", "autograd",
             "jax (no jit)", "torch eager (1 thread)"]
    print("\n| un-jitted value_and_grad (ratio = functrans / column) | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for sizes, batch in SIZES:
        params = mlp.init_params(sizes)
        x, y = mlp.make_batch(sizes, batch)
        loss, _ = mlp.make_step(fnp, ft.grad)
        f = ft.value_and_grad(loss)

        def off():
            with replay.fast_paths(False):
                return f(params, x, y)

        def no_templates():
            with replay.templates(False):
                return f(params, x, y)
        fns = {"functrans": lambda: f(params, x, y), "no templates": no_templates, "off": off}
        if torch is not None:
            tf = _torch_value_and_grad(torch, params, x, y)
            fns["torch"] = tf
            (v, g), (tv, tg) = f(params, x, y), tf()
            np.testing.assert_allclose(float(tv.detach()), v, rtol=1e-5)
            for (gw, gb), (tw, tb) in zip(g, zip(tg[::2], tg[1::2])):
                np.testing.assert_allclose(tw.numpy(), gw, rtol=2e-4, atol=1e-6)
                np.testing.assert_allclose(tb.numpy(), gb, rtol=2e-4, atol=1e-6)
        if ag is not None:
            import autograd.numpy as anp
            aloss, _ = mlp.make_step(anp, ag.grad)
            af = ag.value_and_grad(aloss)
            fns["autograd"] = lambda: af(params, x, y)
        if jax is not None:
            import jax.numpy as jnp
            jloss, _ = mlp.make_step(jnp, jax.grad)
            jf = jax.value_and_grad(jloss)
            jp = jax.tree_util.tree_map(jnp.asarray, params)
            jx, jy = jnp.asarray(x), jnp.asarray(y)
            fns["jax (no jit)"] = lambda: jax.block_until_ready(jf(jp, jx, jy))
        measured = interleaved_times(fns, repeats if sizes[0] < 784 else min(repeats, 40))
        times = {k: measured.get(k) for k in ("functrans", "no templates", "off", "autograd",
                                              "jax (no jit)", "torch")}
        print(_fmt_row(f"{'-'.join(map(str, sizes))}, batch {batch}", times))


def _flat_loss(np_mod, sizes):
    """The MLP loss of one flat parameter vector (autograd's hessian_vector_product takes an
    array, not a pytree): slices reshaped into the layers' weights and biases."""
    loss, _ = mlp.make_step(np_mod, None)
    shapes = [s for m, n in zip(sizes[:-1], sizes[1:]) for s in ((m, n), (n,))]

    def flat_loss(theta, x, y):
        params, k = [], 0
        for i in range(0, len(shapes), 2):
            (m, n), _ = shapes[i], shapes[i + 1]
            w = np_mod.reshape(theta[k:k + m * n], (m, n))
            k += m * n
            b = theta[k:k + n]
            k += n
            params.append((w, b))
        return loss(params, x, y)
    return flat_loss


def bench_hvp(repeats):
    import functrans as ft
    import functrans.numpy as fnp
    ag = _optional("autograd")
    names = ["functrans jvp(grad)", "autograd hessian_vector_product"]
    print("\n| un-jitted Hessian-vector product (ratio = functrans / column) | "
          + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for sizes, batch in SIZES[:2]:
        theta = np.concatenate([np.ravel(a) for wb in mlp.init_params(sizes) for a in wb])
        v = np.random.default_rng(5).standard_normal(theta.shape).astype(np.float32)
        x, y = mlp.make_batch(sizes, batch)
        g = ft.grad(_flat_loss(fnp, sizes))
        hvp = lambda: ft.jvp(lambda p: g(p, x, y), (theta,), (v,))[1]  # noqa: E731
        fns = {"functrans": hvp}
        if ag is not None:
            import autograd.numpy as anp
            ahvp = ag.hessian_vector_product(_flat_loss(anp, sizes))
            fns["autograd"] = lambda: ahvp(theta, x, y, v)
            np.testing.assert_allclose(np.asarray(hvp()), ahvp(theta, x, y, v),
                                       rtol=2e-3, atol=2e-4)
        measured = interleaved_times(fns, repeats)
        times = {k: measured.get(k) for k in ("functrans", "autograd")}
        print(_fmt_row(f"{'-'.join(map(str, sizes))}, batch {batch}", times))


def bench_vmap_grad(repeats):
    import functrans as ft
    import functrans.numpy as fnp
    jax = _optional("jax")
    names = ["functrans vmap(grad)", "jax vmap(grad), no jit"]
    print("\n| un-jitted per-example gradients (ratio = functrans / column) | "
          + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for sizes, batch in SIZES[:2]:
        params = mlp.init_params(sizes)
        x, y = mlp.make_batch(sizes, batch)
        loss, _ = mlp.make_step(fnp, ft.grad)
        # Per-example: the loss of one example (rows of length 1).
        one = lambda p, xi, yi: loss(p, xi[None], yi[None])  # noqa: E731
        f = ft.vmap(ft.grad(one), in_axes=(None, 0, 0))
        fns = {"functrans": lambda: f(params, x, y)}
        if jax is not None:
            import jax.numpy as jnp
            jloss, _ = mlp.make_step(jnp, jax.grad)
            jone = lambda p, xi, yi: jloss(p, xi[None], yi[None])  # noqa: E731
            jf = jax.vmap(jax.grad(jone), in_axes=(None, 0, 0))
            jp = jax.tree_util.tree_map(jnp.asarray, params)
            fns["jax"] = lambda: jax.block_until_ready(jf(jp, x, y))
        measured = interleaved_times(fns, repeats)
        times = {k: measured.get(k) for k in ("functrans", "jax")}
        print(_fmt_row(f"{'-'.join(map(str, sizes))}, batch {batch}", times))


# --- jit's first call, in fresh processes ------------------------------------------------------

_FIRST_CALL = r"""
import os, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
t0 = time.perf_counter()
import {mod} as lib
import {np_mod} as np_mod
t_import = time.perf_counter() - t0
sys.path.insert(0, {bench_dir!r})
import mlp
sizes, batch = (64, 32, 32, 10), 32
params = mlp.init_params(sizes)
x, y = mlp.make_batch(sizes, batch)
_, step = mlp.make_step(np_mod, lib.grad)
f = lib.jit(step)
t0 = time.perf_counter()
out = f(params, x, y)
{block}
t_first = time.perf_counter() - t0
t0 = time.perf_counter()
out = f(params, x, y)
{block}
t_second = time.perf_counter() - t0
print(t_import, t_first, t_second)
"""


def _run_first_call(mod, np_mod, block, env):
    code = _FIRST_CALL.format(mod=mod, np_mod=np_mod, block=block,
                              bench_dir=os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return [float(v) for v in out.stdout.split()[-3:]]


def bench_jit_first_call(repeats=3):
    """functrans with its default (calls on numpy while a worker process compiles) and
    compiling on the first call, then jax.jit."""
    rows = ["first call, empty cache", "second call, empty cache",
            "first call, warm disk cache", "second call, warm disk cache", "import"]
    cols = {"functrans": "1", "functrans, compile on first call": "0"}
    times = {c: {r: [] for r in rows} for c in list(cols) + ["jax.jit"]}
    have_jax = _optional("jax") is not None
    for _ in range(repeats):
        for col, background in cols.items():
            env = dict(os.environ, FUNCTRANS_JIT_BACKGROUND_COMPILE=background)
            with tempfile.TemporaryDirectory() as d:
                env["FUNCTRANS_CACHE_DIR"] = d
                for cache in ("empty cache", "warm disk cache"):
                    imp, first, second = _run_first_call("functrans", "functrans.numpy", "",
                                                         env)
                    times[col][f"first call, {cache}"].append(first)
                    times[col][f"second call, {cache}"].append(second)
                    times[col]["import"].append(imp)
        if have_jax:
            jenv = dict(os.environ)
            with tempfile.TemporaryDirectory() as d:
                jenv["JAX_COMPILATION_CACHE_DIR"] = d
                jenv["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
                jenv["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
                block = "import jax; jax.block_until_ready(out)"
                for cache in ("empty cache", "warm disk cache"):
                    imp, first, second = _run_first_call("jax", "jax.numpy", block, jenv)
                    times["jax.jit"][f"first call, {cache}"].append(first)
                    times["jax.jit"][f"second call, {cache}"].append(second)
                    times["jax.jit"]["import"].append(imp)
    names = list(cols) + (["jax.jit"] if have_jax else [])
    print("\n| jit, small MLP step (64-32-32-10, batch 32), fresh process | "
          + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for r in rows:
        base = float(np.median(times["functrans"][r]))
        cells = []
        for c in names:
            t = float(np.median(times[c][r]))
            cells.append(f"{t:.3f} s" if c == "functrans" else f"{t:.3f} s ({base / t:.2g}x)")
        print(f"| {r} | " + " | ".join(cells) + " |")
    print("(medians of", repeats, "fresh processes each; ratios are functrans / column)")


_IMPORT = r"""
import time
t0 = time.perf_counter()
{stmt}
print(time.perf_counter() - t0)
"""

_IMPORT_CASES = {
    "functrans": {
        "import the package": "import functrans",
        "+ its numpy": "import functrans, functrans.numpy",
        "+ a first grad": "import functrans as ft, functrans.numpy as fnp; "
                          "ft.grad(lambda x: fnp.sum(fnp.sin(x)))(fnp.ones(3))",
    },
    "jax": {
        "import the package": "import jax",
        "+ its numpy": "import jax, jax.numpy",
        "+ a first grad": "import jax, jax.numpy as jnp; "
                          "jax.grad(lambda x: jnp.sum(jnp.sin(x)))(jnp.ones(3))",
    },
}


def bench_import(repeats=10):
    """Fresh-process import times, minimum (median) of `repeats` processes per cell, the
    columns alternated. Python's bytecode cache is on (PYTHONDONTWRITEBYTECODE unset), as for
    an installed package: with it off every module compiles from source on every import."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    libs = [lib for lib in _IMPORT_CASES if lib == "functrans" or _optional(lib) is not None]
    times = {lib: {row: [] for row in _IMPORT_CASES[lib]} for lib in libs}
    for lib in libs:            # once each first: writes the bytecode cache
        subprocess.run([sys.executable, "-c", list(_IMPORT_CASES[lib].values())[-1]], env=env,
                       capture_output=True)
    for _ in range(repeats):
        for row in _IMPORT_CASES["functrans"]:
            for lib in libs:
                code = _IMPORT.format(stmt=_IMPORT_CASES[lib][row])
                out = subprocess.run([sys.executable, "-c", code], env=env,
                                     capture_output=True, text=True, check=True)
                times[lib][row].append(float(out.stdout.split()[-1]))
    print("\n| fresh process, min (median) of", repeats, "| " + " | ".join(libs) + " |")
    print("|---|" + "---|" * len(libs))
    for row in _IMPORT_CASES["functrans"]:
        cells = [f"{min(times[lib][row]):.3f} ({np.median(times[lib][row]):.3f}) s"
                 for lib in libs]
        print(f"| {row} | " + " | ".join(cells) + " |")


def main(argv):
    global CLOCK
    repeats = 40
    if "--cpu" in argv:
        argv = [a for a in argv if a != "--cpu"]
        CLOCK, repeats = time.thread_time, 300
    what = argv[1] if len(argv) > 1 else "all"
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}; medians; float32; "
          f"clock {CLOCK.__name__}")
    if what in ("all", "eager"):
        bench_value_and_grad(repeats=repeats)
        bench_hvp(repeats=repeats)
        bench_vmap_grad(repeats=15)
    if what in ("all", "import"):
        bench_import()
    if what in ("all", "jit"):
        bench_jit_first_call()


if __name__ == "__main__":
    main(sys.argv)
