"""Why jit's driver is Python: compile time and run time of the same fused kernels and matrix
products called from a generated Python driver or from a generated njit driver.

A chain of N steps on float32[n, n]: h = relu(h @ w + b_k) * c_k, each step one BLAS product and
one fused kernel (a distinct kernel per step, as distinct loop nests in a real program). Each
variant runs in a fresh process, after Numba's own start-up; times are thread CPU seconds
(the machine is shared) and best-of-rounds per call.

    python benchmarks/bench_driver_choice.py [N] [n]
"""
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
from numba import njit
N, n, variant = {N}, {n}, {variant!r}
njit(lambda x: x)(np.zeros(1))                       # Numba's start-up, not counted
flags = dict(nogil=True, error_model='numpy', boundscheck=False)
ns = {{"np": np, "njit": njit}}
for k in range(N):
    exec(f'''
def kernel{{k}}(x0, x1, y0):
    n0, n1 = y0.shape
    for i0 in range(n0):
        for i1 in range(n1):
            v = x0[i0, i1] + x1[i1]
            y0[i0, i1] = (v if v > np.float32(0) else np.float32(0)) * np.float32({{k + 1}}.5)
''', ns)
    ns[f"kernel{{k}}"] = njit(**flags)(ns[f"kernel{{k}}"])
body = ["def driver(h, w, b):"]
for k in range(N):
    body += [f"    t = np.dot(h, w)", f"    h = np.empty_like(t)", f"    kernel{{k}}(t, b, h)"]
body += ["    return h"]
exec("\n".join(body), ns)
driver = ns["driver"] if variant == "python" else njit(**flags)(ns["driver"])
rng = np.random.default_rng(0)
h = rng.standard_normal((n, n)).astype(np.float32) * np.float32(0.1)
w = rng.standard_normal((n, n)).astype(np.float32) * np.float32(0.1)
b = np.zeros(n, np.float32)
c0 = time.thread_time()
x = np.empty((n, n), np.float32)
for k in range(N):                                   # kernels compiled one by one
    ns[f"kernel{{k}}"](h, b, x)
kernels_cpu = time.thread_time() - c0
c0 = time.thread_time()
driver(h, w, b)
driver_cpu = time.thread_time() - c0
best = float("inf")
for _ in range(7):
    t0 = time.perf_counter()
    for _ in range(50):
        driver(h, w, b)
    best = min(best, (time.perf_counter() - t0) / 50)
print(json.dumps(dict(kernels_cpu=kernels_cpu, driver_cpu=driver_cpu, call=best)))
"""


def run(N, n, variant):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD.format(N=N, n=n, variant=variant)],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    N = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    print(f"{N} steps on float32[{n},{n}]\n")
    print("| driver | kernels compile (CPU s) | driver compile (CPU s) | per call |")
    print("|---|---|---|---|")
    for variant in ("python", "njit"):
        r = run(N, n, variant)
        print(f"| {variant} | {r['kernels_cpu']:.2f} | {r['driver_cpu']:.2f} | "
              f"{r['call'] * 1e6:,.0f} µs |")


if __name__ == "__main__":
    main()
