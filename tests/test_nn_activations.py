"""functrans.nn activations against numpy/scipy references, eager and traced; numerical
stability on large inputs; derivatives (including the kinks' conventions)."""
import math

import numpy as np
import pytest
import scipy.special
from hypothesis import strategies as st

import functrans as ft
import functrans.nn as nn
from functrans.test_util import check_grads, check_jvp, check_vjp
import functrans.numpy as fnp
from test_numpy_harness import (FLOATS, INTS, Call, Entry, arrays, axis_args, check_call,
                                checked_jaxpr, run_entry, traced)


def _f64(x):
    x = np.asarray(x)
    return x if x.dtype.kind in "fc" else x.astype(np.float64)


def in_dtype(ref):
    """A reference computed by scipy (which widens float16/float32), cast back to the float
    dtype the activation computes in."""
    return lambda x, **kw: np.asarray(ref(x, **kw)).astype(_f64(x).dtype)


def ref_softmax(x, axis=-1):
    x = _f64(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def ref_log_softmax(x, axis=-1):
    x = _f64(x)
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def ref_gelu(x, approximate=True):
    x = _f64(x)
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return (0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2)))).astype(x.dtype)


def ref_one_hot(x, num_classes, axis=-1):
    out = (np.expand_dims(x, axis) == np.arange(num_classes).reshape(
        [-1 if d == axis % (x.ndim + 1) else 1 for d in range(x.ndim + 1)]))
    return out.astype(np.float64)


def ref_logsumexp(a, axis=None, keepdims=False, b=None):
    out = scipy.special.logsumexp(_f64(a), axis=axis, keepdims=keepdims, b=b)
    return np.asarray(out).astype(_f64(a).dtype)


def unary(lo=-10, hi=10, dtypes=FLOATS + INTS):
    return arrays(dtypes, lo=lo, hi=hi).map(lambda x: Call((x,)))


@st.composite
def axis_calls(draw, tuple_ok=True):
    x = draw(arrays(FLOATS, min_dims=1, lo=-30, hi=30))
    axis = draw(axis_args(x.ndim, allow_none=False, allow_tuple=tuple_ok))
    if axis == ():
        axis = -1
    return Call((x,), {"axis": axis})


@st.composite
def logsumexp_calls(draw):
    x = draw(arrays(FLOATS, min_dims=1, lo=-30, hi=30))     # scipy makes 0-d inputs 1-d
    kwargs = {"axis": draw(axis_args(x.ndim)), "keepdims": draw(st.booleans())}
    if draw(st.booleans()):
        kwargs["b"] = draw(arrays([x.dtype], shape=x.shape, lo=0.1, hi=2))
    return Call((x,), kwargs)


@st.composite
def one_hot_calls(draw):
    n = draw(st.integers(1, 5))
    x = draw(arrays(INTS, lo=-1, hi=n + 1))
    return Call((x, n), {"axis": draw(st.integers(-x.ndim - 1, x.ndim))})


TABLE = {
    "relu": Entry(nn.relu, lambda x: np.maximum(x, 0), unary()),
    "relu6": Entry(nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6), unary()),
    "sigmoid": Entry(nn.sigmoid, in_dtype(lambda x: scipy.special.expit(_f64(x))), unary()),
    "log_sigmoid": Entry(nn.log_sigmoid, lambda x: -np.logaddexp(0, -_f64(x)), unary()),
    "softplus": Entry(nn.softplus, lambda x: np.logaddexp(_f64(x), 0), unary()),
    "silu": Entry(nn.silu, in_dtype(lambda x: _f64(x) * scipy.special.expit(_f64(x))),
                  unary()),
    "swish": Entry(nn.swish, in_dtype(lambda x: _f64(x) * scipy.special.expit(_f64(x))),
                   unary()),
    "gelu": Entry(nn.gelu, ref_gelu, st.tuples(unary(dtypes=[np.dtype(np.float32),
                                                            np.dtype(np.float64)]),
                                               st.booleans()).map(
        lambda t: Call(t[0].args, {"approximate": t[1]}))),
    "tanh": Entry(nn.tanh, lambda x: np.tanh(_f64(x)), unary()),
    "leaky_relu": Entry(nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * _f64(x)),
                        unary()),
    "elu": Entry(nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(_f64(x), 0))),
                 unary()),
    "softmax": Entry(nn.softmax, ref_softmax, axis_calls()),
    "log_softmax": Entry(nn.log_softmax, ref_log_softmax, axis_calls()),
    "logsumexp": Entry(nn.logsumexp, ref_logsumexp, logsumexp_calls()),
    "one_hot": Entry(nn.one_hot, ref_one_hot, one_hot_calls()),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_activation_matches_reference(name):
    run_entry(name, TABLE[name])


def test_every_activation_is_in_the_table():
    from test_nn_activations_extra import TESTED     # issue 12's additions are tested there
    missing = sorted(set(nn.__all__) - set(TABLE) - TESTED)
    assert not missing, f"no test entry for {missing}"


def test_stable_for_large_inputs():
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow is fine
        np.testing.assert_allclose(nn.softmax(x)[0], [1.0, 0.0, 0.0])
        np.testing.assert_allclose(nn.softmax(x)[1], [1 / 3] * 3)
        np.testing.assert_allclose(nn.logsumexp(x, axis=1), [1000.0, -1e4 + np.log(3)])
        np.testing.assert_allclose(nn.log_softmax(x)[0], [0.0, -1000.0, -2000.0])
        np.testing.assert_allclose(nn.softplus(np.array([1000.0, -1000.0])), [1000.0, 0.0])
    assert nn.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert nn.logsumexp(np.array([np.inf, 1.0])) == np.inf


def test_max_shift_goes_through_stop_gradient():
    closed = checked_jaxpr(nn.logsumexp, np.ones(3))
    assert "stop_gradient" in [e.primitive.name for e in closed.eqns]
    closed = checked_jaxpr(nn.softmax, np.ones((2, 3)))
    assert "stop_gradient" in [e.primitive.name for e in closed.eqns]


def test_derivatives():
    x = np.array([[0.3, -1.2, 2.0], [1.5, 0.1, -0.4]])
    np.testing.assert_allclose(ft.grad(nn.logsumexp)(x),
                               np.exp(x - scipy.special.logsumexp(x)))     # the softmax
    for f in (nn.softmax, nn.log_softmax, lambda a: nn.logsumexp(a, axis=1), nn.gelu,
              nn.softplus, nn.sigmoid, nn.silu, nn.elu, nn.log_sigmoid,
              lambda a: nn.gelu(a, approximate=False)):
        check_jvp(f, (x,))
        check_vjp(f, (x,))


def test_kink_conventions():
    zero = np.zeros(3)
    np.testing.assert_array_equal(ft.grad(lambda a: nn.relu(a).sum())(zero), 0.0)
    np.testing.assert_allclose(ft.grad(lambda a: nn.softplus(a).sum())(zero), 0.5)


def test_one_hot_under_vmap_and_tracing():
    labels = np.array([0, 2, 1])
    out, = traced(lambda i: nn.one_hot(i, 3), (labels,), {})
    np.testing.assert_array_equal(out, np.eye(3)[labels])
    np.testing.assert_array_equal(ft.vmap(lambda i: nn.one_hot(i, 3))(labels),
                                  np.eye(3)[labels])
    assert nn.one_hot(labels, 3, dtype=np.float32).dtype == np.float32
    check_call(lambda x: nn.one_hot(x, 4, axis=0), lambda x: ref_one_hot(x, 4, axis=0),
               Call((labels,)), name="one_hot axis 0")


def test_softmax_over_several_axes_sums_to_one():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    out = nn.softmax(x, axis=(0, 2))
    np.testing.assert_allclose(out.sum(axis=(0, 2)), 1.0)


def test_softplus_and_logaddexp_are_smooth_at_zero_and_ties():
    # softplus''(0) = sigmoid'(0) = 1/4; kinks (|x|, max) in a formula would make it 0
    assert ft.grad(ft.grad(nn.softplus))(0.0) == 0.25
    assert ft.grad(ft.grad(nn.log_sigmoid))(0.0) == -0.25
    assert ft.grad(fnp.logaddexp, argnums=(0, 1))(2.0, 2.0) == (0.5, 0.5)
    check_grads(fnp.logaddexp, (np.array([0.3, 1.0, -2.0]), np.array([0.3, -1.0, 5.0])), order=2)
    np.testing.assert_array_equal(fnp.logaddexp(np.array([-np.inf, np.inf, 1.0]),
                                                np.array([-np.inf, 2.0, -np.inf])),
                                  [-np.inf, np.inf, 1.0])
