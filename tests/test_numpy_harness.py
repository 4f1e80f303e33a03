"""Shared machinery of the functrans.numpy tests (the other test_numpy_* modules import it).

Every fnp function is checked from a table entry: a numpy reference and a hypothesis strategy
of calls (positional args and static keyword args). For each drawn call, `check_call` runs the
function eagerly (numpy arrays must come back) and traced: the numpy-array arguments become the
inputs of make_jaxpr, the program must pass check_program, and evaluating it must give what
the eager call gave, bit for bit, in shape, dtype and value. Both must equal the numpy
reference in shape and dtype, and in value up to a tolerance that depends on the dtype.
"""
import math
from dataclasses import dataclass, field
from typing import Callable

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import functrans as ft
from functrans import tree_util
from functrans.core.staging import eval_closed
from functrans.core.trace import Tracer

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))

BOOL = [np.dtype(np.bool_)]
INTS = [np.dtype(t) for t in (np.int8, np.int32, np.int64, np.uint8)]
FLOATS = [np.dtype(t) for t in (np.float16, np.float32, np.float64)]
COMPLEX = [np.dtype(np.complex128)]
REAL = BOOL + INTS + FLOATS
NUMERIC = INTS + FLOATS


@dataclass
class Call:
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self):
        def show(a):
            if isinstance(a, np.ndarray):
                return f"array({a.tolist()!r}, {a.dtype})"
            return repr(a)
        kw = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"Call({', '.join(map(show, self.args))}{'; ' + kw if kw else ''})"


@dataclass
class Entry:
    fun: Callable                   # the fnp function
    reference: Callable             # numpy reference, called like fun
    calls: st.SearchStrategy        # of Call
    rtol: float | None = None       # tolerance against the reference (None: by dtype)
    exact_eager: bool = True        # eager and traced results agree bit for bit
    examples: int | None = None     # hypothesis examples, if not SETTINGS'


# --- element and array strategies -----------------------------------------------------------------

def elements(dtype, lo=-10, hi=10, nonzero=False):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        el = st.booleans()
        return el.filter(bool) if nonzero else el
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        el = st.integers(max(math.ceil(lo), info.min), min(math.floor(hi), info.max))
    elif dtype.kind == "f":
        # Drawn in float64 and rounded to the dtype (bounds need not be representable in it).
        el = st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(
            lambda v: float(np.asarray(v, dtype)))
    else:
        part = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)
        el = st.builds(complex, part, part)
    return el.filter(lambda v: v != 0) if nonzero else el


def arrays(dtypes=REAL, shape=None, lo=-10, hi=10, nonzero=False, min_dims=0, max_dims=3,
           min_side=1, max_side=4):
    """Arrays of one of `dtypes`, of `shape` (or a drawn one), elements in [lo, hi]."""
    @st.composite
    def draw(draw_):
        dtype = draw_(st.sampled_from(list(dtypes)))
        s = shape if shape is not None else draw_(hnp.array_shapes(
            min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side))
        return draw_(hnp.arrays(dtype, s, elements=elements(dtype, lo, hi, nonzero)))
    return draw()


def shaped(shape, dtypes=REAL, **kw):
    return arrays(dtypes, shape=shape, **kw)


@st.composite
def axis_args(draw, ndim, allow_none=True, allow_tuple=True):
    """An axis argument for an array of rank ndim: None, an int (maybe negative) or a tuple."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)
                           .map(lambda axes: tuple(a - ndim if a % 2 else a for a in axes)))
    return draw(st.one_of(options)) if options else None


# --- checks -----------------------------------------------------------------------------------

def tolerance(dtype, rtol=None):
    dtype = np.dtype(dtype)
    if rtol is not None:
        return rtol
    return {2: 2e-3, 4: 2e-6, 8: 1e-12, 16: 1e-12}.get(dtype.itemsize, 1e-12) \
        if dtype.kind == "f" else (2e-6 if dtype.itemsize == 8 else 1e-12)


def assert_close(got, want, rtol=None, what=""):
    """got against a numpy reference: same shape, same dtype *kind*, and values within the
    tolerance of the narrower dtype. The exact dtype is JAX's, not numpy's (int32 + float32 is
    float32, sin(int8) float32, cumsum(int8) int8): tests/test_dtype_grid.py checks it against
    JAX's own table for every function, so here only a change of kind (float vs int vs bool vs
    complex) is an error."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype.kind == want.dtype.kind, f"{what}: dtype {got.dtype} != {want.dtype}"
    if got.dtype != want.dtype:
        narrower = got.dtype if got.dtype.itemsize < want.dtype.itemsize else want.dtype
        with np.errstate(all="ignore"):
            got, want = got.astype(narrower), want.astype(narrower)
    if got.dtype.kind in "fc":
        tol = tolerance(got.dtype, rtol)
        scale = np.max(np.abs(want[np.isfinite(want)]), initial=1.0)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True,
                                   err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def assert_identical(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    np.testing.assert_array_equal(got, want, err_msg=what)


def _is_eager_value(x):
    return isinstance(x, (np.ndarray, np.generic)) and not isinstance(x, Tracer)


def checked_jaxpr(fun, *args, **kw):
    """make_jaxpr(fun)(*args), type-checked."""
    closed = ft.make_jaxpr(fun, **kw)(*args)
    ft.check_program(closed)
    return closed


def traced(fun, args, kwargs):
    """fun run under make_jaxpr with its numpy-array arguments as inputs (the rest static),
    the program type-checked and evaluated: the flat list of results."""
    dyn = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]

    def staged(*values):
        full = list(args)
        for i, v in zip(dyn, values):
            full[i] = v
        return fun(*full, **kwargs)
    closed = ft.make_jaxpr(staged)(*[args[i] for i in dyn])
    ft.check_program(closed)
    return eval_closed(closed, *[args[i] for i in dyn])


def check_call(entry_or_fun, reference=None, call=None, rtol=None, exact_eager=True,
               name=""):
    if isinstance(entry_or_fun, Entry):
        fun, reference = entry_or_fun.fun, entry_or_fun.reference
        rtol, exact_eager = entry_or_fun.rtol, entry_or_fun.exact_eager
    else:
        fun = entry_or_fun
    args, kwargs = call.args, call.kwargs
    want = tree_util.tree_leaves(reference(*args, **kwargs))
    eager = tree_util.tree_leaves(fun(*args, **kwargs))
    assert all(_is_eager_value(e) for e in eager), \
        f"{name}: eager call returned {[type(e).__name__ for e in eager]}, not numpy values"
    staged = traced(fun, args, kwargs)
    assert len(eager) == len(want) == len(staged), \
        f"{name}: {len(eager)} eager, {len(staged)} traced, {len(want)} reference results"
    for e, t, w in zip(eager, staged, want):
        assert_close(e, w, rtol, f"{name}: eager vs numpy")
        assert_close(t, w, rtol, f"{name}: traced vs numpy")
        if exact_eager:
            assert_identical(t, e, f"{name}: traced vs eager")
        else:
            assert_close(t, e, rtol, f"{name}: traced vs eager")


def run_entry(name, entry):
    @settings(SETTINGS, max_examples=entry.examples or SETTINGS.max_examples)
    @hypothesis_given(entry.calls)
    def run(call):
        check_call(entry, call=call, name=name)
    run()


def hypothesis_given(strategy):
    from hypothesis import given
    return given(strategy)


def test_harness_catches_a_wrong_dtype():
    """The harness itself: a function whose dtype is of another kind than numpy's must fail,
    and so must one whose traced dtype differs from its eager dtype."""
    import pytest

    from functrans import lax
    from functrans.core.trace import Tracer
    with pytest.raises(AssertionError):
        check_call(lambda x: lax.convert_element_type(x, np.int32),
                   lambda x: np.asarray(x, np.float64), Call((np.ones(3),)), name="wrong")

    def traced_differently(x):
        return lax.convert_element_type(x, np.float32 if isinstance(x, Tracer) else np.float64)
    with pytest.raises(AssertionError):
        check_call(traced_differently, lambda x: np.asarray(x, np.float64),
                   Call((np.ones(3),)), name="wrong")
