"""Data-parallel scaling: the 784-512-512-10 MLP step (float32, SGD) with a global batch of 512,
on 1 and 2 MPI processes, one BLAS thread each; and the gradient allreduce alone.

    python benchmarks/bench_distributed.py [--steps 30] [--rounds 5]

The driver starts `mpiexec -n P python bench_distributed.py --worker` for P = 1 and 2 and
prints one table. Each worker times, after compiling:
  step      the pmapped training step: local gradients on global_batch / P rows, pmean of the
            gradients (one MPI Allreduce of 2.7 MB), SGD update
  compute   the same step without the pmean (local work only)
  allreduce MPI Allreduce of a buffer of the parameters' size, and of 8 bytes (latency)
Medians over steps; the best of `rounds` rounds (default 5) (the machine is shared: the least disturbed
round is the most faithful one). Throughput = global batch / step time.
"""
import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]

SIZES = (784, 512, 512, 10)
GLOBAL_BATCH = 512


def worker(steps, rounds):
    import numpy as np

    import functrans as ft
    import functrans.numpy as fnp
    from functrans import distributed as dist
    from functrans import lax
    from mlp import init_params, make_batch, make_step

    dist.initialize()
    rank, nproc = ft.process_index(), ft.process_count()
    local = GLOBAL_BATCH // nproc
    params = init_params(SIZES)
    x, y = make_batch(SIZES, GLOBAL_BATCH)
    xl, yl = x[rank * local:(rank + 1) * local][None], y[rank * local:(rank + 1) * local][None]
    loss, _ = make_step(fnp, ft.grad)

    def sgd(params, grads, lr=0.1):
        return [(w - lr * gw, b - lr * gb) for (w, b), (gw, gb) in zip(params, grads)]

    step = ft.pmap(lambda p, a, b: sgd(p, lax.pmean(ft.grad(loss)(p, a, b), "i")),
                   axis_name="i", in_axes=(None, 0, 0), out_axes=None)
    compute = ft.pmap(lambda p, a, b: sgd(p, ft.grad(loss)(p, a, b)),
                      axis_name="i", in_axes=(None, 0, 0), out_axes=None)
    n_params = sum(w.size + b.size for w, b in params)
    w = dist.world()

    def timed(fn):
        best = None
        for _ in range(rounds):
            times = []
            for _ in range(steps):
                w.barrier()
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            med = float(np.median(times))
            best = med if best is None else min(best, med)
        return best

    for fn in (step, compute):
        fn(params, xl, yl)                       # compile
    buf = np.ones(n_params, np.float32)
    tiny = np.ones(2, np.float32)
    result = dict(
        processes=nproc, local_batch=local, params=n_params, bytes=buf.nbytes,
        step_s=timed(lambda: step(params, xl, yl)),
        compute_s=timed(lambda: compute(params, xl, yl)),
        allreduce_s=timed(lambda: w.allreduce_inplace(buf, "sum")),
        latency_s=timed(lambda: w.allreduce_inplace(tiny, "sum")))
    # Same numbers on every process: the pmean made the updates equal.
    new = step(params, xl, yl)
    everyone = dist.gather_to_process_0(np.concatenate([new[0][0].ravel()[:1000]]))
    if rank == 0:
        result["replicas_equal"] = bool(all(np.array_equal(everyone[0], e) for e in everyone))
        print("RESULT " + json.dumps(result), flush=True)


def run(nproc, steps, rounds):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(mpiexec):
        mpiexec = "mpiexec"
    cmd = [mpiexec, "-n", str(nproc), sys.executable, os.path.abspath(__file__), "--worker",
           "--steps", str(steps), "--rounds", str(rounds)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker failed (rc {out.returncode}):\n{out.stdout}\n{out.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.worker:
        return worker(args.steps, args.rounds)
    rows = [run(p, args.steps, args.rounds) for p in (1, 2)]
    base = rows[0]
    print(f"MLP {'-'.join(map(str, SIZES))}, float32, global batch {GLOBAL_BATCH}, "
          f"{base['params']:,} parameters ({base['bytes'] / 1e6:.2f} MB of gradients), "
          "one BLAS thread per process")
    print()
    print("| processes | local batch | step (ms) | compute only (ms) | allreduce 2.7 MB (ms) | "
          "allreduce 8 B (µs) | samples/s | speedup |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        tput = GLOBAL_BATCH / r["step_s"]
        print(f"| {r['processes']} | {r['local_batch']} | {r['step_s'] * 1e3:.1f} | "
              f"{r['compute_s'] * 1e3:.1f} | {r['allreduce_s'] * 1e3:.2f} | "
              f"{r['latency_s'] * 1e6:.1f} | {tput:,.0f} | "
              f"{base['step_s'] / r['step_s']:.2f}x |")
    two = rows[1]
    bw = two["bytes"] / max(two["allreduce_s"] - 2 * two["latency_s"], 1e-9)
    print()
    print(f"replicas equal after a step: {two.get('replicas_equal')}")
    print(f"loopback allreduce bandwidth (N=2: bytes / (t - 2 latency)): {bw / 1e9:.2f} GB/s")
    print()
    # t_c: one process's step on the whole global batch (its allreduce is a no-op).
    print(scaling_table(min(base["step_s"], base["compute_s"]), base["bytes"],
                        two["latency_s"], bw))
    print(json.dumps({"rows": rows}))


# Networks for the model: (name, bandwidth in bytes/s, latency per message in s).
NETWORKS = [("this machine, loopback (measured)", None, None),
            ("10 Gb Ethernet", 1.25e9, 20e-6),
            ("25 Gb Ethernet", 3.1e9, 15e-6),
            ("100 Gb InfiniBand", 12.5e9, 2e-6)]


def ring_allreduce_s(n, nbytes, bandwidth, latency):
    """Ring allreduce: 2(N-1) steps, each moving nbytes/N and paying one latency."""
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * latency


def scaling_table(compute_s, nbytes, loop_latency, loop_bandwidth, ns=(1, 2, 4, 8, 16, 32, 64)):
    """Modelled speedup t_c / (t_c / N + allreduce(N)) of a step whose compute t_c (one
    process, whole global batch) divides evenly, with no overlap of compute and allreduce."""
    lines = [f"Model: step(N) = {compute_s * 1e3:.1f} ms / N + 2(N-1)/N x {nbytes / 1e6:.2f} MB / "
             "bandwidth + 2(N-1) x latency; speedup = step(1) / step(N)", "",
             "| network | " + " | ".join(f"N={n}" for n in ns) + " | N where efficiency < 50% |",
             "|---|" + "---|" * (len(ns) + 1)]
    for name, bw, lat in NETWORKS:
        bw = bw or loop_bandwidth
        lat = lat or loop_latency
        cells, half = [], None
        for n in range(1, 4097):
            t = compute_s / n + ring_allreduce_s(n, nbytes, bw, lat)
            if half is None and compute_s / t / n < 0.5:
                half = n
            if n in ns:
                cells.append(f"{compute_s / t:.2f}x")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {half} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
