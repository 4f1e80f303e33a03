"""Operators, properties and methods of traced values against the same on numpy arrays."""
import operator

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from test_numpy_harness import (BOOL, FLOATS, INTS, SETTINGS, Call, arrays, check_call,
                                elements, traced)

BINARY_OPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "&": operator.and_,
    "|": operator.or_, "^": operator.xor, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_INT_ONLY = {"&", "|", "^"}


@st.composite
def operands(draw, op):
    dtypes = BOOL + INTS if op in _INT_ONLY else INTS + FLOATS
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    lo, hi = (1, 4) if op in ("//", "%", "/", "**") else (-5, 5)
    a_dtype, b_dtype = draw(st.sampled_from(dtypes)), draw(st.sampled_from(dtypes))
    a = draw(hnp.arrays(a_dtype, shapes.input_shapes[0], elements=elements(a_dtype, lo, hi)))
    b = draw(hnp.arrays(b_dtype, shapes.input_shapes[1], elements=elements(b_dtype, lo, hi)))
    if draw(st.booleans()):
        lo = 0 if a.dtype.kind == "u" else lo       # numpy refuses -1 as a uint8
        b = draw(st.integers(lo, hi)) if op in _INT_ONLY or draw(st.booleans()) else \
            draw(st.floats(lo, hi).map(lambda v: float(np.float16(v))))
    return a, b


@pytest.mark.parametrize("op", sorted(BINARY_OPS))
def test_binary_operator(op):
    f = BINARY_OPS[op]

    @SETTINGS
    @given(operands(op))
    def run(ab):
        a, b = ab
        # Eagerly these are numpy's own operators on numpy arrays (numpy's promotion); traced,
        # functrans's (JAX's promotion: int32 + float32 is float32): equal values, and dtypes
        # of one kind, not bit-identical results.
        with np.errstate(all="ignore"):
            check_call(f, f, Call((a, b)), name=f"x {op} y", exact_eager=False)
            # reflected forms: a numpy array or a Python scalar on the left of a traced value
            check_call(lambda x: f(b, x), lambda x: f(b, x), Call((a,)), name=f"y {op} x",
                       exact_eager=False)
    run()


@pytest.mark.parametrize("op", ["neg", "pos", "abs", "invert"])
def test_unary_operator(op):
    f = getattr(operator, op)

    @SETTINGS
    @given(arrays(INTS + (BOOL if op == "invert" else FLOATS)))
    def run(x):
        check_call(f, f, Call((x,)), name=op)
    run()


METHODS = [
    ("sum", {}), ("sum", {"axis": 0}), ("mean", {"axis": -1, "keepdims": True}),
    ("prod", {}), ("max", {"axis": 0}), ("min", {}), ("var", {"ddof": 1}), ("std", {}),
    ("argmax", {}), ("argmin", {"axis": 1}), ("all", {}), ("any", {"axis": 0}),
    ("cumsum", {"axis": 1}), ("cumprod", {}), ("ravel", {}), ("flatten", {}),
    ("squeeze", {}), ("swapaxes", (0, 1)), ("clip", {"min": 0, "max": 3}),
    ("round", {"decimals": 1}), ("conj", {}), ("conjugate", {}), ("copy", {}),
    ("transpose", {}), ("astype", {"dtype": np.int32}), ("diagonal", {}), ("trace", {}),
    ("repeat", (2, 0)), ("sort", {"axis": 0}), ("argsort", {}),
]


@pytest.mark.parametrize("name, kwargs", METHODS, ids=[f"{n}{k}" for n, k in METHODS])
def test_method(name, kwargs):
    x = np.array([[1.5, -2.0, 3.0], [0.5, 2.5, -1.0]])

    args = kwargs if isinstance(kwargs, tuple) else ()
    kwargs = kwargs if isinstance(kwargs, dict) else {}

    def call(a):
        if name == "sort" and isinstance(a, np.ndarray):    # numpy's sorts in place
            return np.sort(a, kind="stable", **kwargs)
        return getattr(a, name)(*args, **kwargs)
    ref = call
    if name in ("sort", "argsort"):     # fnp sorts stably; so does numpy's kind="stable"
        ref = lambda a: getattr(np, name)(a, kind="stable", **kwargs)  # noqa: E731
    check_call(call, ref, Call((x,)), name=name)


def test_method_argument_forms():
    x = np.arange(24.0).reshape(2, 3, 4)
    cases = [
        (lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6)),
        (lambda a: a.reshape((4, -1)), lambda a: a.reshape((4, -1))),
        (lambda a: a.transpose(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
        (lambda a: a.transpose((1, 0, 2)), lambda a: a.transpose((1, 0, 2))),
        (lambda a: a.T, lambda a: a.T),
        (lambda a: a.mT, lambda a: np.swapaxes(a, -1, -2)),
        (lambda a: a.real, lambda a: a.real), (lambda a: a.imag, lambda a: a.imag),
        (lambda a: a.dot(a[0, 0]), lambda a: a.dot(a[0, 0])),
        (lambda a: a.sum(axis=(0, 2)), lambda a: a.sum(axis=(0, 2))),
        (lambda a: a.astype(fnp.int8), lambda a: a.astype(np.int8)),
    ]
    for f, ref in cases:
        check_call(f, ref, Call((x,)), name="method form")


def test_array_attributes_of_traced_values():
    def f(a):
        assert a.shape == (2, 3) and a.ndim == 2 and a.size == 6 and a.dtype == np.float32
        assert len(a) == 2
        return a
    traced(f, (np.ones((2, 3), np.float32),), {})


def test_matmul_and_numpy_array_on_the_left():
    a = np.arange(6.0).reshape(2, 3)
    check_call(lambda x: a.T @ x, lambda x: a.T @ x, Call((a,)), name="ndarray @ x")
    check_call(lambda x: np.ones(3) + x, lambda x: np.ones(3) + x, Call((a,)),
               name="ndarray + x")


def test_operators_compose_with_transforms():
    def f(x):
        return ((x * 2 - 1) ** 2 / (1 + abs(x))).sum() + (x @ x) - x[1:].max()
    x = np.array([0.3, -1.2, 2.0])
    g = ft.grad(f)(x)
    eps = 1e-6
    fd = [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g, fd, rtol=1e-5)
    batched = ft.vmap(f)(np.stack([x, 2 * x]))
    np.testing.assert_allclose(batched, [f(x), f(2 * x)])
