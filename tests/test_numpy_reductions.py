"""fnp's reductions against numpy, eager and traced: axes (None, ints, negative, tuples),
keepdims, ddof and dtype arguments, on every dtype."""
import numpy as np
import pytest
from hypothesis import strategies as st

import functrans.numpy as fnp
from test_numpy_harness import (COMPLEX, REAL, Call, Entry, arrays, axis_args, check_call,
                                run_entry)

ANY = REAL + COMPLEX


@st.composite
def reduce_calls(draw, dtypes=ANY, ddof=False, dtype_arg=False, nonempty=False,
                 single_axis=False, keepdims=True, lo=-10, hi=10):
    x = draw(arrays(dtypes, min_dims=0, max_dims=3, min_side=0 if not nonempty else 1,
                    max_side=4, lo=lo, hi=hi))
    axis = draw(axis_args(x.ndim, allow_tuple=not single_axis))
    kwargs = {"axis": axis}
    if keepdims:
        kwargs["keepdims"] = draw(st.booleans())
    if ddof:
        kwargs["ddof"] = draw(st.integers(0, 1))
    if dtype_arg and draw(st.booleans()):
        kwargs["dtype"] = draw(st.sampled_from([np.float64, np.int64, np.float32]))
        if x.dtype.kind == "c":
            kwargs["dtype"] = np.complex128
    return Call((x,), kwargs)


TABLE = {
    "sum": Entry(fnp.sum, np.sum, reduce_calls(dtype_arg=True)),
    "prod": Entry(fnp.prod, np.prod, reduce_calls(dtype_arg=True, lo=-3, hi=3)),
    "mean": Entry(fnp.mean, np.mean, reduce_calls(nonempty=True)),
    "var": Entry(fnp.var, np.var, reduce_calls(ddof=True, nonempty=True)),
    "std": Entry(fnp.std, np.std, reduce_calls(ddof=True, nonempty=True)),
    "max": Entry(fnp.max, np.max, reduce_calls(REAL, nonempty=True)),
    "min": Entry(fnp.min, np.min, reduce_calls(REAL, nonempty=True)),
    "amax": Entry(fnp.amax, np.amax, reduce_calls(REAL, nonempty=True)),
    "amin": Entry(fnp.amin, np.amin, reduce_calls(REAL, nonempty=True)),
    "all": Entry(fnp.all, np.all, reduce_calls(lo=-1, hi=1)),
    "any": Entry(fnp.any, np.any, reduce_calls(lo=-1, hi=1)),
    "count_nonzero": Entry(fnp.count_nonzero, np.count_nonzero, reduce_calls(lo=-1, hi=1)),
    "argmax": Entry(fnp.argmax, np.argmax, reduce_calls(REAL, nonempty=True, single_axis=True)),
    "argmin": Entry(fnp.argmin, np.argmin, reduce_calls(REAL, nonempty=True, single_axis=True)),
    "cumsum": Entry(fnp.cumsum, np.cumsum, reduce_calls(dtype_arg=True, single_axis=True,
                                                        keepdims=False)),
    "cumprod": Entry(fnp.cumprod, np.cumprod, reduce_calls(dtype_arg=True, single_axis=True,
                                                          keepdims=False, lo=-3, hi=3)),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_reduction_matches_numpy(name):
    run_entry(name, TABLE[name])


def test_every_reduction_is_in_the_table():
    from functrans.numpy import reductions
    missing = sorted(set(reductions.__all__) - set(TABLE))
    assert not missing, f"no test entry for {missing}"


@pytest.mark.parametrize("dtype, want, cumulative", [
    (np.int8, np.int64, np.int8), (np.uint16, np.uint64, np.uint16), (np.bool_, np.int64, np.int64),
    (np.float16, np.float16, np.float16), (np.int32, np.int64, np.int32),
    (np.float32, np.float32, np.float32)])
def test_sum_accumulator_dtypes(dtype, want, cumulative):
    # JAX (x64): sums widen narrow integers to 64 bits; cumsum/cumprod keep them (not numpy).
    x = np.ones((2, 3), dtype)
    check_call(fnp.sum, np.sum, Call((x,)), name="sum")
    assert fnp.sum(x).dtype == want and fnp.cumsum(x).dtype == cumulative
    assert fnp.cumprod(x).dtype == cumulative


def test_mean_of_float16_and_ints():
    x16 = (np.arange(100) / 7).astype(np.float16)
    check_call(fnp.mean, np.mean, Call((x16,)), name="mean")
    check_call(fnp.var, np.var, Call((x16,)), name="var")
    xi = np.arange(10, dtype=np.int16)    # JAX: float32 (numpy: float64)
    assert fnp.mean(xi).dtype == np.float32 and fnp.std(xi).dtype == np.float32
    assert fnp.mean(xi.astype(np.int64)).dtype == np.float64


def test_nan_propagates_and_argmax_finds_first_nan():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, np.nan]])
    for f in ("max", "min", "argmax", "argmin", "sum", "mean"):
        check_call(getattr(fnp, f), getattr(np, f), Call((x,), {"axis": 1}), name=f)


def test_var_of_complex_is_real():
    z = np.array([1 + 2j, 3 - 1j, -2 + 0.5j])
    check_call(fnp.var, np.var, Call((z,)), name="var")
    assert fnp.var(z).dtype == np.float64


def test_bad_axis_raises_axis_error():
    from test_numpy_harness import traced
    with pytest.raises(np.exceptions.AxisError):
        traced(lambda x: fnp.sum(x, axis=2), (np.ones((2, 2)),), {})
    with pytest.raises(ValueError, match="repeated axis"):
        traced(lambda x: fnp.sum(x, axis=(0, -2)), (np.ones((2, 2)),), {})
