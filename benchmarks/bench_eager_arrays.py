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
from functrans.numpy import _outputs  # noqa: E402

CASES = {
    "fnp.sin(x)": lambda x, y: fnp.sin(x),
    "fnp.add(x, y)": lambda x, y: fnp.add(x, y),
    "x + y (operator; plain: numpy's)": lambda x, y: x + y,
    "fnp.sum(x)": lambda x, y: fnp.sum(x),
    "x[3] (indexing)": lambda x, y: x[3],
    "x.at[3].set(1.0)": None,     # no plain-numpy equivalent: reported alone
}


def _median_ns(fn, number=5000, repeat=41):
    # The minimum over many short repeats: on a shared, loaded machine it is the closest to
    # the unloaded cost (medians there measure the other processes as much as the code).
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e9


def main():
    plain_x, plain_y = np.linspace(0, 1, 10), np.linspace(1, 2, 10)
    arr_x, arr_y = fnp.asarray(plain_x), fnp.asarray(plain_y)
    assert type(arr_x) is _array.Array
    rows = []
    for name, fn in CASES.items():
        if fn is None:
            continue
        wrapped = _median_ns(lambda: fn(arr_x, arr_y))
        saved = _outputs.wrap_tree
        _outputs.wrap_tree = lambda out: out          # wrapping off: the old behaviour
        try:
            plain = _median_ns(lambda: fn(plain_x, plain_y))
        finally:
            _outputs.wrap_tree = saved
        rows.append((name, plain, wrapped))
    base = _median_ns(lambda: np.add(plain_x, plain_y))
    print(f"reference: np.add on two plain arrays: {base:.0f} ns")
    print("| operation (10 float64 elements) | plain numpy values (ns) | functrans Arrays (ns) "
          "| overhead (ns) | overhead / np.add |")
    print("|---|---|---|---|---|")
    for name, plain, wrapped in rows:
        print(f"| {name} | {plain:.0f} | {wrapped:.0f} | {wrapped - plain:+.0f} | "
              f"{(wrapped - plain) / base:+.1f} |")
    at = _median_ns(lambda: arr_x.at[3].set(1.0), number=2000)
    print(f"\nx.at[3].set(1.0) on an Array: {at / 1e3:.1f} µs (eager, through lax.scatter)")
    to_array = _median_ns(lambda: _array.to_array(plain_x))
    print(f"to_array (view + read-only flag) alone: {to_array:.0f} ns")


if __name__ == "__main__":
    main()
