"""The digits CNN's training step (examples/cnn_digits.py: two 3x3 convolutions, max pooling,
two dense layers, Adam; float32, batch 64) under functrans.jit and jax.jit, and the
convolution lowering's two strategies on the step's convolutions.

Both frameworks run the same network from their own stax/optimizers with the same parameters
and batch. Candidates are timed interleaved over several rounds; each reports the median step
time of its best round (the machine is shared with other jobs: the least disturbed round is
the fairest). The JAX column is skipped when JAX is not installed.

Threads: the step runs twice, in fresh processes: both libraries on one thread (OpenBLAS for
functrans, XLA's Eigen pool for JAX), then both with every core of the machine. A comparison in
which JAX has the cores and functrans one BLAS thread measures the threading, not the step.

    python benchmarks/bench_cnn.py [--quick] [--threads N]   # --threads: one setting only
"""
import argparse
import os
import subprocess
import sys

_THREADS = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), None)
if _THREADS is None and "--threads" in sys.argv[:-1]:
    _THREADS = sys.argv[sys.argv.index("--threads") + 1]
if _THREADS is not None:        # before numpy and JAX load: both read these at start-up
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _THREADS
    if _THREADS == "1":
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()

import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "examples"), ROOT]

import functrans as ft  # noqa: E402
from functrans.backend.executables import wait_for_background_compiles  # noqa: E402
from functrans.example_libraries import optimizers, stax  # noqa: E402
from cnn_digits import make_cnn, make_step  # noqa: E402


def optional(name):
    try:
        return __import__(name)
    except Exception:
        return None


def median_of_best_round(fn, rounds, reps, clock=time.perf_counter):
    fn()
    wait_for_background_compiles()      # compiled code, not jit's first calls on numpy
    best = np.inf
    for _ in range(rounds):
        times = []
        for _ in range(reps):
            t = clock()
            fn()
            times.append(clock() - t)
        best = min(best, float(np.median(times)))
    return best


def functrans_step(params, batch):
    init_fn, apply_fn = make_cnn(stax, ft.nn.initializers)
    opt_init, opt_update, get_params = optimizers.adam(1e-3)
    step = make_step(apply_fn, opt_update, get_params)
    state = opt_init(params)
    x, y = batch

    def run():
        out = step(np.int32(0), state, x, y)
        return out[1]
    return run


def jax_step(jax, params, batch):
    import jax.numpy as jnp
    from jax.example_libraries import optimizers as jopt
    from jax.example_libraries import stax as jstax
    _, apply_fn = make_cnn(jstax, jax.nn.initializers)
    opt_init, opt_update, get_params = jopt.adam(1e-3)

    def loss(p, x, y):
        logp = apply_fn(p, x)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(i, state, x, y):
        value, grads = jax.value_and_grad(loss)(get_params(state), x, y)
        return opt_update(i, grads, state), value
    state = opt_init(params)
    x, y = batch

    def run():
        return step(0, state, x, y)[1].block_until_ready()
    return run


def conv_strategies(params, batch, rounds, reps):
    """Each convolution of the step's jitted program, timed with both kernels."""
    from functrans.primitives._conv_kernels import ConvCall
    init_fn, apply_fn = make_cnn(stax, ft.nn.initializers)
    x, y = batch

    def loss(p):
        logp = apply_fn(p, x)
        return -ft.numpy.mean(ft.numpy.take_along_axis(logp, y[:, None], axis=1))
    closed = ft.make_jaxpr(ft.grad(loss))(params)
    rows = []
    rng = np.random.default_rng(0)
    for e in closed.eqns:
        if e.primitive.name != "conv_general_dilated":
            continue
        args = [rng.standard_normal(v.aval.shape).astype(v.aval.dtype) for v in e.inputs]
        times = {}
        for strategy in ("im2col", "im2col-numba", "direct"):
            call = ConvCall(e.inputs[0].aval, e.inputs[1].aval, e.outputs[0].aval, e.params,
                            strategy=strategy)
            call(*args)       # compile
            times[strategy] = median_of_best_round(lambda: call(*args), rounds, reps)
        shapes = " * ".join(str(tuple(v.aval.shape)) for v in e.inputs)
        rows.append((shapes, times["im2col"], times["im2col-numba"], times["direct"]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", help="threads for both libraries (default: 1, then all)")
    parser.add_argument("--no-strategies", action="store_true",
                        help="skip the per-convolution strategy table")
    args = parser.parse_args(argv)
    if args.threads is None:
        for threads in ("1", str(os.cpu_count())):
            subprocess.run([sys.executable, __file__, "--threads", threads] +
                           (["--quick"] if args.quick else []) +
                           (["--no-strategies"] if args.no_strategies else []), check=True)
        return
    rounds, reps = (2, 10) if args.quick else (5, 30)
    print(f"# {args.threads} thread(s) per library (OPENBLAS_NUM_THREADS; JAX: "
          f"{'XLA single-threaded' if args.threads == '1' else 'its default pool'})\n")

    jax = optional("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
    from functrans import random
    init_fn, _ = make_cnn(stax, ft.nn.initializers)
    _, params = init_fn(random.PRNGKey(0), (-1, 8, 8, 1))
    params = ft.tree_util.tree_map(np.asarray, params)
    rng = np.random.default_rng(0)
    batch = (rng.uniform(0, 1, (64, 8, 8, 1)).astype(np.float32),
             rng.integers(0, 10, 64).astype(np.int32))

    candidates = {"functrans.jit": functrans_step(params, batch)}
    if jax is not None:
        candidates["jax.jit"] = jax_step(jax, params, batch)
    for run in candidates.values():
        run()           # compile
    # Wall time, and the process's CPU time: on a machine shared with other jobs the CPU time
    # leaves out the time a library waited for a core (both libraries run one thread here).
    best = {k: np.inf for k in candidates}
    cpu = {k: np.inf for k in candidates}
    for _ in range(rounds):
        for name, run in candidates.items():
            best[name] = min(best[name], median_of_best_round(run, 1, reps))
            cpu[name] = min(cpu[name], median_of_best_round(run, 1, reps, time.process_time))

    print("## CNN training step (digits, batch 64, float32)\n")
    print("| step | median µs (best round) | vs functrans.jit | CPU µs (best round) | "
          "vs functrans.jit |")
    print("| --- | --- | --- | --- | --- |")
    for name, t in best.items():
        print(f"| {name} | {t * 1e6:.0f} | {t / best['functrans.jit']:.2f}x | "
              f"{cpu[name] * 1e6:.0f} | {cpu[name] / cpu['functrans.jit']:.2f}x |")
    if jax is None:
        print("\n(JAX is not installed: no jax.jit column)")

    if args.threads != "1" or "--no-strategies" in sys.argv:
        return
    print("\n## The step's convolutions: im2col + BLAS vs direct Numba loops (contiguous "
          "operands)\n")
    print("| operands (lhs * rhs) | im2col (numpy copy) + BLAS µs | im2col (Numba kernel) + "
          "BLAS µs | direct Numba loops µs |")
    print("| --- | --- | --- | --- |")
    for shapes, t_np, t_nb, t_direct in conv_strategies(params, batch, rounds, reps):
        print(f"| {shapes} | {t_np * 1e6:.0f} | {t_nb * 1e6:.0f} | {t_direct * 1e6:.0f} |")


if __name__ == "__main__":
    main()
