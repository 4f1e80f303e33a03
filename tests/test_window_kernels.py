"""The generated pooling kernels under jit (primitives/_window_kernels.py) against the numpy
impls the interpreter runs: reduce_window_max/min/sum and select_and_scatter_add over random
geometries (rank 1-5, strides, padding, base and window dilation), dtypes, ties and NaNs.

max/min and the selection must match exactly (same element chosen: the first maximum, or the
first NaN); sums and the scattered cotangents within rounding (the order of additions differs).
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrans as ft
from functrans.primitives.windowed import (reduce_window_max_p, reduce_window_min_p,
                                           reduce_window_sum_p, select_and_scatter_add_p)

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")


@st.composite
def geometries(draw, max_rank=4):
    rank = draw(st.integers(1, max_rank))
    shape, wd, ws, pad, base, wdil = [], [], [], [], [], []
    for _ in range(rank):
        n = draw(st.integers(1, 6))
        k = draw(st.integers(1, 3))
        b = draw(st.sampled_from([1, 1, 1, 2]))
        d = draw(st.sampled_from([1, 1, 2]))
        lo, hi = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        padded = (n - 1) * b + 1 + lo + hi
        if (k - 1) * d + 1 > padded:           # at least one window fits
            k, d = 1, 1
        shape.append(n)
        wd.append(k)
        ws.append(draw(st.integers(1, 3)))
        pad.append((lo, hi))
        base.append(b)
        wdil.append(d)
    return tuple(shape), dict(window_dimensions=tuple(wd), window_strides=tuple(ws),
                              padding=tuple(pad), base_dilation=tuple(base),
                              window_dilation=tuple(wdil))


def _operand(rng, shape, dtype, ties, nans):
    if np.dtype(dtype).kind == "i":
        return rng.integers(-3, 4, shape).astype(dtype)
    x = (rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    if nans and x.size:
        x.reshape(-1)[rng.integers(0, x.size, max(1, x.size // 5))] = np.nan
    return x


@SETTINGS
@given(g=geometries(max_rank=5), dtype=st.sampled_from(["float64", "float32", "int32"]),
       ties=st.booleans(), nans=st.booleans(), seed=st.integers(0, 2**16))
def test_reduce_window_kernels_match_the_impls(g, dtype, ties, nans, seed):
    shape, geometry = g
    x = _operand(np.random.default_rng(seed), shape, dtype, ties, nans)
    for prim in (reduce_window_max_p, reduce_window_min_p, reduce_window_sum_p):
        want = prim.impl(x, **geometry)
        got = ft.jit(lambda a: prim.bind(a, **geometry))(x)
        assert got.dtype == want.dtype and got.shape == want.shape
        if prim is reduce_window_sum_p and np.dtype(dtype).kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)


@SETTINGS
@given(g=geometries(max_rank=5), dtype=st.sampled_from(["float64", "float32"]),
       select=st.sampled_from(["max", "min"]), ties=st.booleans(), nans=st.booleans(),
       seed=st.integers(0, 2**16))
def test_select_and_scatter_add_kernel_matches_the_impl(g, dtype, select, ties, nans, seed):
    shape, geometry = g
    rng = np.random.default_rng(seed)
    x = _operand(rng, shape, dtype, ties, nans)
    out_shape = reduce_window_max_p.impl(x, **geometry).shape
    s = rng.standard_normal(out_shape).astype(dtype)
    want = select_and_scatter_add_p.impl(s, x, select=select, **geometry)
    got = ft.jit(lambda a, b: select_and_scatter_add_p.bind(a, b, select=select,
                                                            **geometry))(s, x)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_max_pool_gradient_under_jit_picks_the_first_maximum_and_nans():
    # Windows of (2, 2) over a tie, a NaN after a maximum, and a NaN before one.
    x = np.array([[[[1.0], [1.0]], [[0.0], [1.0]]],
                  [[[2.0], [np.nan]], [[3.0], [np.nan]]],
                  [[[np.nan], [5.0]], [[7.0], [1.0]]]])
    geometry = dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 2, 1),
                    padding=((0, 0),) * 4, base_dilation=(1,) * 4, window_dilation=(1,) * 4)
    s = np.array([10.0, 20.0, 30.0]).reshape(3, 1, 1, 1)
    got = ft.jit(lambda a, b: select_and_scatter_add_p.bind(a, b, select="max",
                                                            **geometry))(s, x)
    want = np.zeros_like(x)
    want[0, 0, 0, 0], want[1, 0, 1, 0], want[2, 0, 0, 0] = 10.0, 20.0, 30.0
    np.testing.assert_array_equal(got, want)
    pooled = ft.jit(lambda a: reduce_window_max_p.bind(a, **geometry))(x)
    np.testing.assert_array_equal(pooled.reshape(-1), [1.0, np.nan, np.nan])


def test_the_kernels_are_what_jit_runs():
    geometry = dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 2, 1),
                    padding=((0, 0),) * 4, base_dilation=(1,) * 4, window_dilation=(1,) * 4)
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 3))
    text = ft.jit(ft.grad(lambda a: reduce_window_max_p.bind(a, **geometry).sum())) \
        .lower(x).as_text()
    assert "impl_reduce_window_max" not in text and "impl_select_and_scatter_add" not in text
    assert "reduce_window_max" in text and "grid[p0, p1, p2, p3] += s[" in text
