"""Eager overhead of functrans's read-only Array results (issue 13, item 1).

Each fnp call is timed twice in the same run: as shipped (results wrapped as
read-only Arrays, inputs that are Arrays) and with the wrapping switched off (plain numpy in,
plain numpy out: the behaviour before Arrays). The difference is the overhead per operation.
Minimum over many short repeats; one BLAS thread; other processes on the machine add noise.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_eager_arrays.py
"""
import os
import timeit

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import functrans.numpy as fnp  # noqa: E402
from functrans.core import array as _array  # noqa: E402

def _raw(fn):
    return getattr(fn, "__wrapped_fnp__", fn)


# (the call on functrans Arrays, the same call before Arrays existed: fnp's unwrapped function,
# or numpy itself, on plain numpy arrays)
CASES = {
    "fnp.sin(x)": (lambda x, y: fnp.sin(x), lambda x, y: _raw(fnp.sin)(x)),
    "fnp.add(x, y)": (lambda x, y: fnp.add(x, y), lambda x, y: _raw(fnp.add)(x, y)),
    "x + y (operator; plain: numpy's)": (lambda x, y: x + y, lambda x, y: x + y),
    "fnp.sum(x)": (lambda x, y: fnp.sum(x), lambda x, y: _raw(fnp.sum)(x)),
    "x[3] (indexing)": (lambda x, y: x[3], lambda x, y: x[3]),
}


def _min_ns_interleaved(fns, number=5000, repeat=41):
    # The minimum over many short repeats, the candidates interleaved: on a shared, loaded
    # machine the minimum is the closest to the unloaded cost, and interleaving exposes every
    # candidate to the same load.
    best = [np.inf] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            best[k] = min(best[k], timeit.timeit(fn, number=number))
    return [b / number * 1e9 for b in best]


def main():
    plain_x, plain_y = np.linspace(0, 1, 10), np.linspace(1, 2, 10)
    arr_x, arr_y = fnp.asarray(plain_x), fnp.asarray(plain_y)
    assert type(arr_x) is _array.Array
    rows = []
    for name, (on_arrays, before) in CASES.items():
        wrapped, plain, base = _min_ns_interleaved(
            [lambda: on_arrays(arr_x, arr_y), lambda: before(plain_x, plain_y),
             lambda: np.add(plain_x, plain_y)])
        rows.append((name, plain, wrapped, base))
    print("| operation (10 float64 elements) | plain numpy values (ns) | functrans Arrays (ns) "
          "| overhead (ns) | overhead / np.add |")
    print("|---|---|---|---|---|")
    for name, plain, wrapped, base in rows:
        print(f"| {name} | {plain:.0f} | {wrapped:.0f} | {wrapped - plain:+.0f} | "
              f"{(wrapped - plain) / base:+.1f} |")
    print(f"\nreference: np.add on two plain arrays: {min(r[3] for r in rows):.0f} ns")
    at, = _min_ns_interleaved([lambda: arr_x.at[3].set(1.0)], number=2000, repeat=11)
    print(f"x.at[3].set(1.0) on an Array: {at / 1e3:.1f} µs (eager, through lax.scatter)")
    to_array, = _min_ns_interleaved([lambda: _array.to_array(plain_x)])
    print(f"to_array (view + read-only flag) alone: {to_array:.0f} ns")


if __name__ == "__main__":
    main()
