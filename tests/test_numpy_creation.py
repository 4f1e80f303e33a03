"""Array creation against numpy, eager and traced (the traced program of a function with no
array argument has no inputs; with one, the created array depends on it)."""
import numpy as np
import pytest
from hypothesis import strategies as st

import functrans.numpy as fnp
from test_numpy_harness import (COMPLEX, REAL, Call, Entry, arrays, checked_jaxpr, run_entry,
                                traced)

ANY = REAL + COMPLEX
DTYPES = st.sampled_from([None, np.float32, np.int32, np.bool_, np.complex128, "float64",
                          np.uint8])
SHAPES = st.one_of(st.integers(0, 4), st.lists(st.integers(0, 3), max_size=3).map(tuple))


@st.composite
def shape_calls(draw):
    return Call((draw(SHAPES),), {"dtype": draw(DTYPES)})


@st.composite
def full_calls(draw):
    shape = draw(st.lists(st.integers(0, 3), max_size=3).map(tuple))
    # non-negative fills: numpy refuses -1 as a uint8
    fill = draw(st.one_of(st.integers(0, 5), st.floats(0, 5, width=32), st.booleans(),
                          arrays(ANY, shape=shape[-1:] if shape else (), lo=0, hi=5)))
    return Call((shape, fill), {"dtype": draw(DTYPES)})


@st.composite
def like_calls(draw, fill=False):
    a = draw(arrays(ANY, min_side=0))
    kwargs = {"dtype": draw(DTYPES)}
    if draw(st.booleans()):
        kwargs["shape"] = draw(st.lists(st.integers(0, 3), max_size=3).map(tuple))
    if fill:
        return Call((a, draw(st.one_of(st.integers(0, 5), st.floats(0, 5, width=32)))),
                    kwargs)
    return Call((a,), kwargs)


@st.composite
def array_calls(draw):
    x = draw(arrays(ANY))
    kind = draw(st.sampled_from(["array", "list", "scalar"]))
    obj = x if kind == "array" else x.tolist() if kind == "list" else draw(
        st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.booleans()))
    return Call((obj,), {"dtype": draw(DTYPES)})


@st.composite
def arange_calls(draw):
    kind = draw(st.sampled_from(["stop", "start_stop", "step", "float"]))
    a, b = draw(st.integers(-5, 5)), draw(st.integers(-5, 8))
    dtype = draw(st.sampled_from([None, np.int32, np.float32, np.float64]))
    if kind == "stop":
        return Call((abs(b),), {"dtype": dtype})
    if kind == "start_stop":
        return Call((a, b), {"dtype": dtype})
    step = draw(st.sampled_from([1, 2, 3, -1, -2]))
    if kind == "step":
        return Call((a, b, step), {"dtype": dtype})
    return Call((a * 0.5, b * 0.7, draw(st.sampled_from([0.25, 0.3, -0.4, 1.5]))))


@st.composite
def linspace_calls(draw):
    num = draw(st.integers(0, 7))
    endpoint = draw(st.booleans())
    dtype = draw(st.sampled_from([None, np.float32, np.int64]))
    if draw(st.booleans()):     # arrays (traced start/stop)
        start = draw(arrays([np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.int32)],
                            max_dims=2, lo=-5, hi=5))
        stop = draw(arrays([start.dtype], shape=start.shape[1:], lo=-5, hi=5))
        axis = draw(st.integers(-start.ndim - 1, start.ndim))
        return Call((start, stop, num), {"endpoint": endpoint, "dtype": dtype, "axis": axis})
    start, stop = draw(st.integers(-5, 5)), draw(st.floats(-5, 5))
    if draw(st.booleans()):
        stop = start            # a zero-width range
    return Call((start, stop, num), {"endpoint": endpoint, "dtype": dtype,
                                     "retstep": draw(st.booleans())})


@st.composite
def eye_calls(draw):
    n = draw(st.integers(0, 4))
    m = draw(st.none() | st.integers(0, 4))
    return Call((n, m, draw(st.integers(-4, 4))), {"dtype": draw(DTYPES)})


TABLE = {
    "array": Entry(fnp.array, np.array, array_calls()),
    "asarray": Entry(fnp.asarray, np.asarray, array_calls()),
    "zeros": Entry(fnp.zeros, np.zeros, shape_calls()),
    "ones": Entry(fnp.ones, np.ones, shape_calls()),
    "empty": Entry(fnp.empty, np.zeros, shape_calls()),
    "full": Entry(fnp.full, np.full, full_calls()),
    "zeros_like": Entry(fnp.zeros_like, np.zeros_like, like_calls()),
    "ones_like": Entry(fnp.ones_like, np.ones_like, like_calls()),
    "empty_like": Entry(fnp.empty_like, np.zeros_like, like_calls()),
    "full_like": Entry(fnp.full_like, np.full_like, like_calls(fill=True)),
    "arange": Entry(fnp.arange, np.arange, arange_calls()),
    "linspace": Entry(fnp.linspace, np.linspace, linspace_calls()),
    "eye": Entry(fnp.eye, np.eye, eye_calls()),
    "identity": Entry(fnp.identity, np.identity,
                      st.builds(lambda n, d: Call((n,), {"dtype": d}), st.integers(0, 4),
                                DTYPES)),
    "tri": Entry(fnp.tri, np.tri, eye_calls()),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_creation_matches_numpy(name):
    run_entry(name, TABLE[name])


def test_every_creation_function_is_in_the_table():
    from functrans.numpy import creation
    missing = sorted(set(creation.__all__) - set(TABLE))
    assert not missing, f"no test entry for {missing}"


def test_array_stacks_traced_values():
    x = np.array([1.0, 2.0])
    out, = traced(lambda a: fnp.array([a, [3.0, 4.0], a * 2]), (x,), {})
    np.testing.assert_array_equal(out, [[1.0, 2.0], [3.0, 4.0], [2.0, 4.0]])
    out, = traced(lambda a: fnp.array([a[0], a[1], 5]), (x,), {})
    np.testing.assert_array_equal(out, [1.0, 2.0, 5.0])
    assert out.dtype == np.float64


def test_constants_are_staged_as_broadcasts_not_big_constants():
    closed = checked_jaxpr(lambda a: a + fnp.zeros((100, 100)), np.ones((100, 100)))
    assert not closed.consts
    assert any(e.primitive.name == "broadcast_in_dim" for e in closed.eqns)
    closed = checked_jaxpr(lambda a: a + fnp.arange(1000), np.ones(1000))
    assert not closed.consts and any(e.primitive.name == "iota" for e in closed.eqns)


def test_eager_calls_return_numpy_without_tracing():
    for out in (fnp.zeros(3), fnp.arange(4), fnp.linspace(0, 1, 5), fnp.eye(2),
                fnp.full((2,), 7), fnp.array([1, 2])):
        assert isinstance(out, np.ndarray)
