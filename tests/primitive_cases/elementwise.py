"""Cases for the elementwise primitives (functrans/primitives/elementwise.py).

Operands are drawn with a common shape, each of them possibly rank 0 (lax broadcasts rank-0
operands). Domains keep functions finite (log > 0, asin in (-1, 1), ...); cases at or near a kink
or a jump say fd_ok=False, since finite differences are meaningless there. References are plain
numpy / Python math computations written independently of the impls.
"""
import decimal
import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import Case

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)
I32, U8, BOOL = np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.bool_)
FLOATS = (F32, F64)
COMPLEXES = (C64, C128)
MARGIN = 0.05     # distance from kinks that finite differences need (their step is far smaller)

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def _elements(dtype, lo, hi):
    if dtype == BOOL:
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(int(np.maximum(lo, info.min)), int(np.minimum(hi, info.max)))
    width = 32 if dtype in (F32, C64) else 64
    real = dtype if dtype.kind == "f" else np.dtype(F32 if dtype == C64 else F64)
    # Bounds must be representable at the width: round them inward.
    lo_r, hi_r = real.type(lo), real.type(hi)
    lo_r = lo_r if lo_r >= lo else np.nextafter(lo_r, real.type(np.inf))
    hi_r = hi_r if hi_r <= hi else np.nextafter(hi_r, real.type(-np.inf))
    floats = st.floats(float(lo_r), float(hi_r), width=width, allow_nan=False,
                       allow_infinity=False)
    if dtype.kind == "c":
        return st.builds(lambda a, b: a + 1j * b, floats, floats)
    return floats


def _array(draw, dtype, shape, lo=-3.0, hi=3.0):
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype, lo, hi)))


def _operand_shapes(draw, n, shape):
    """n operand shapes: each is `shape` or rank 0 (a rank-0 operand broadcasts)."""
    if shape == ():
        return [()] * n
    return [draw(st.sampled_from([shape, shape, ()])) for _ in range(n)]


def _away(values, points_fn):
    """True if every element of values is MARGIN away from the kinks points_fn(values) gives."""
    v = np.asarray(values, dtype=np.float64)
    return bool(np.all(np.abs(v - points_fn(v)) > MARGIN))


def _nearest_int(v):
    return np.round(v)


def _as(dtype):
    """Wrap a reference so its result has the operand dtype (float32 stays float32)."""
    def wrap(fn):
        def ref(*args, **params):
            return np.asarray(fn(*args, **params)).astype(dtype)
        return ref
    return wrap


# --- unary smooth functions ----------------------------------------------------------------------

def _real_of(dtype):
    return {C64: F32, C128: F64}.get(dtype, dtype)


def _unary(dtypes, lo, hi, reference, fd_ok=lambda x: True, out_dtype=lambda d: d):
    @st.composite
    def strategy(draw):
        dtype = draw(st.sampled_from(dtypes))
        x = _array(draw, dtype, draw(shapes), lo, hi)
        # Complex operands: impl, staging and batching checks only; their derivatives are
        # checked in tests/test_elementwise_extra.py.
        return Case((x,), {}, _as(out_dtype(dtype))(reference), fd_ok=fd_ok(x),
                    diff_argnums=() if dtype.kind == "c" else None)
    return strategy()


def _elementwise_python(fn):
    """A reference computed one element at a time with Python's complex/float arithmetic."""
    def ref(x):
        values = [fn(complex(v) if x.dtype.kind == "c" else float(v)) for v in x.flat]
        return np.array(values, dtype=np.result_type(*values) if values else np.float64) \
            .reshape(x.shape)
    return ref


_MATH = {"erf": math.erf, "cbrt": lambda v: math.copysign(abs(v) ** (1 / 3), v),
         "logistic": lambda v: 1 / (1 + math.exp(-v))}

STRATEGIES = {
    "exp": _unary(FLOATS + COMPLEXES, -3, 3, np.exp),
    "exp2": _unary(FLOATS + COMPLEXES, -3, 3, lambda x: np.exp(x * np.log(2.0))),
    "log": _unary(FLOATS, 0.1, 5, np.log),
    "log1p": _unary(FLOATS, -0.8, 3, lambda x: np.log(1 + x.astype(np.float64))),
    "expm1": _unary(FLOATS, -3, 3, lambda x: np.exp(x.astype(np.float64)) - 1),
    "sin": _unary(FLOATS + COMPLEXES, -4, 4, np.sin),
    "cos": _unary(FLOATS, -4, 4, np.cos),
    "tan": _unary(FLOATS, -1.3, 1.3, lambda x: np.sin(x) / np.cos(x)),
    "tanh": _unary(FLOATS, -3, 3, lambda x: np.sinh(x) / np.cosh(x)),
    "asin": _unary(FLOATS, -0.9, 0.9, np.arcsin),
    "acos": _unary(FLOATS, -0.9, 0.9, lambda x: np.pi / 2 - np.arcsin(x.astype(np.float64))),
    "atan": _unary(FLOATS, -5, 5, np.arctan),
    "sinh": _unary(FLOATS, -3, 3, lambda x: (np.exp(x) - np.exp(-x)) / 2),
    "cosh": _unary(FLOATS, -3, 3, lambda x: (np.exp(x) + np.exp(-x)) / 2),
    "logistic": _unary(FLOATS, -5, 5, _elementwise_python(_MATH["logistic"])),
    "sqrt": _unary(FLOATS + COMPLEXES, 0.1, 5, lambda x: np.power(x, 0.5)),
    "rsqrt": _unary(FLOATS, 0.1, 5, lambda x: 1 / np.power(x.astype(np.float64), 0.5)),
    "cbrt": _unary(FLOATS, -5, 5, _elementwise_python(_MATH["cbrt"]),
                   fd_ok=lambda x: _away(x, np.zeros_like)),
    "erf": _unary(FLOATS, -3, 3, _elementwise_python(_MATH["erf"])),
    "neg": _unary(FLOATS + (I32,), -100, 100, lambda x: 0 - x),
    "abs": _unary(FLOATS + (I32,) + COMPLEXES, -3, 3,
                  lambda x: np.hypot(x.real, x.imag) if x.dtype.kind == "c"
                  else np.where(x < 0, -x, x), fd_ok=lambda x: _away(np.abs(x), np.zeros_like),
                  out_dtype=_real_of),
    "sign": _unary(FLOATS + (I32,), -3, 3, lambda x: (x > 0).astype(x.dtype) - (x < 0),
                   fd_ok=lambda x: _away(x, np.zeros_like)),
    "floor": _unary(FLOATS, -5, 5, lambda x: x - np.mod(x, 1), fd_ok=lambda x: _away(x, np.round)),
    "ceil": _unary(FLOATS, -5, 5, lambda x: -(-x - np.mod(-x, 1)),
                   fd_ok=lambda x: _away(x, np.round)),
    "real": _unary(COMPLEXES, -3, 3, _elementwise_python(lambda v: v.real), out_dtype=_real_of),
    "imag": _unary(COMPLEXES, -3, 3, _elementwise_python(lambda v: v.imag), out_dtype=_real_of),
    "conj": _unary(COMPLEXES, -3, 3, _elementwise_python(lambda v: v.conjugate())),
}


@st.composite
def _round(draw):
    dtype = draw(st.sampled_from(FLOATS))
    x = _array(draw, dtype, draw(shapes), -5, 5)
    method = draw(st.sampled_from([0, 1]))
    mode = decimal.ROUND_HALF_UP if method == 0 else decimal.ROUND_HALF_EVEN

    def reference(x, rounding_method):
        return np.vectorize(lambda v: float(decimal.Decimal(float(v)).quantize(1, mode)),
                            otypes=[np.float64])(x).astype(x.dtype)
    # Jumps sit at half-integers.
    return Case((x,), {"rounding_method": method}, reference,
                fd_ok=_away(x, lambda v: np.floor(v) + 0.5))


@st.composite
def _is_finite(draw):
    dtype = draw(st.sampled_from(FLOATS))
    special = st.sampled_from([np.inf, -np.inf, np.nan])
    x = draw(hnp.arrays(dtype, draw(shapes), elements=st.one_of(
        _elements(dtype, -3, 3), special)))
    return Case((x,), {}, lambda x: ~(np.isnan(x) | np.isinf(x)), fd_ok=False)


STRATEGIES["round"] = _round()
STRATEGIES["is_finite"] = _is_finite()


@st.composite
def _integer_pow(draw):
    dtype = draw(st.sampled_from(FLOATS + (I32,)))
    if dtype == I32:
        y = draw(st.integers(0, 4))
        x = _array(draw, dtype, draw(shapes), -5, 5)
    else:
        y = draw(st.integers(-3, 4))
        mag = _array(draw, dtype, draw(shapes), 0.3, 2)
        signs = draw(hnp.arrays(dtype, mag.shape, elements=st.sampled_from([-1.0, 1.0])))
        x = (mag * signs).astype(dtype)

    def reference(x, y):
        acc = np.ones_like(x, dtype=np.float64 if x.dtype.kind == "f" else np.int64)
        for _ in range(abs(y)):
            acc = acc * x
        return (1 / acc if y < 0 else acc).astype(x.dtype)
    return Case((x,), {"y": y}, reference)


STRATEGIES["integer_pow"] = _integer_pow()


# --- binary functions ----------------------------------------------------------------------------

def _binary(dtypes, reference, ranges=((-3, 3), (-3, 3)), fd_ok=lambda x, y: True,
            nonzero_y=False):
    @st.composite
    def strategy(draw):
        dtype = draw(st.sampled_from(dtypes))
        sx, sy = _operand_shapes(draw, 2, draw(shapes))
        lo, hi = ranges[0] if dtype.kind != "b" else (0, 1)
        x = _array(draw, dtype, sx, lo, hi)
        lo, hi = ranges[1] if dtype.kind != "b" else (0, 1)
        y = _array(draw, dtype, sy, lo, hi)
        if nonzero_y:   # keep y away from 0: magnitudes from the range, random signs
            y = np.where(y == 0, np.ones_like(y), y)
            if dtype.kind == "f":
                y = np.where(np.abs(y) < 0.5, np.copysign(0.5, y), y).astype(dtype)
        return Case((x, y), {}, lambda *a: np.asarray(reference(*a)).astype(dtype),
                    fd_ok=bool(fd_ok(x, y)), diff_argnums=() if dtype.kind == "c" else None)
    return strategy()


def _ties_ok(x, y):
    return bool(np.all(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)) > MARGIN))


def _trunc_div(x, y):
    return np.sign(x) * np.sign(y) * (np.abs(x) // np.abs(y))


def _fmod(x, y):
    if x.dtype.kind in "iu":
        return x - y * _trunc_div(x, y)
    return np.vectorize(math.fmod, otypes=[np.float64])(x, y)


def _rem_fd_ok(x, y):
    q = np.asarray(x, np.float64) / np.asarray(y, np.float64)
    return bool(np.all(np.abs(q - np.round(q)) > MARGIN))


INTS = (I32,)
STRATEGIES.update({
    "add": _binary(FLOATS + INTS + COMPLEXES, lambda x, y: x + y),
    "sub": _binary(FLOATS + INTS, lambda x, y: x + (-1) * y),
    "mul": _binary(FLOATS + INTS + COMPLEXES, lambda x, y: x * y,
                   ranges=((-100, 100), (-100, 100))),
    "div": _binary(FLOATS + INTS, lambda x, y: _trunc_div(x, y) if x.dtype.kind == "i"
                   else x.astype(np.float64) / y, nonzero_y=True, ranges=((-20, 20), (-5, 5))),
    "rem": _binary(FLOATS + INTS, _fmod, ranges=((-20, 20), (-5, 5)), nonzero_y=True,
                   fd_ok=_rem_fd_ok),
    "pow": _binary(FLOATS, lambda x, y: np.exp(y * np.log(x.astype(np.float64))),
                   ranges=((0.2, 3), (-2, 2))),
    "atan2": _binary(FLOATS, lambda x, y: np.vectorize(math.atan2, otypes=[np.float64])(x, y),
                     ranges=((-3, 3), (-3, 3)),
                     # away from the origin and from the branch cut (x = 0, y < 0)
                     fd_ok=lambda x, y: np.all((np.abs(x) > 0.2) | (y > 0.2))
                     & np.all(np.hypot(x, y) > 0.2)),
    "max": _binary(FLOATS + INTS + (BOOL,), lambda x, y: np.where(x >= y, x, y),
                   fd_ok=_ties_ok),
    "min": _binary(FLOATS + INTS + (BOOL,), lambda x, y: np.where(x <= y, x, y),
                   fd_ok=_ties_ok),
    "and": _binary((BOOL, I32, U8), lambda x, y: x & y, ranges=((-50, 50), (-50, 50))),
    "or": _binary((BOOL, I32, U8), lambda x, y: x | y, ranges=((-50, 50), (-50, 50))),
    "xor": _binary((BOOL, I32, U8), lambda x, y: x ^ y, ranges=((-50, 50), (-50, 50))),
})


@st.composite
def _not(draw):
    dtype = draw(st.sampled_from((BOOL, I32, U8)))
    x = _array(draw, dtype, draw(shapes), -50, 50)
    return Case((x,), {}, lambda x: (~x.astype(bool)) if x.dtype == BOOL
                else (-1 - x.astype(np.int64)).astype(x.dtype))


STRATEGIES["not"] = _not()


def _comparison(reference, dtypes=FLOATS + INTS + (BOOL,)):
    @st.composite
    def strategy(draw):
        dtype = draw(st.sampled_from(dtypes))
        sx, sy = _operand_shapes(draw, 2, draw(shapes))
        # Draw from few values so that ties (where the comparisons jump) do occur.
        values = [-1, 0, 2] if dtype.kind in "iu" else [-1.0, 0.0, 0.5, 2.0] \
            if dtype.kind == "f" else [False, True]
        x, y = (draw(hnp.arrays(dtype, s, elements=st.sampled_from(values))) for s in (sx, sy))
        return Case((x, y), {}, lambda x, y: np.asarray(reference(x, y)).astype(bool),
                    fd_ok=dtype.kind == "f" and _ties_ok(x, y))
    return strategy()


def _pairwise(op):
    return lambda x, y: np.vectorize(op, otypes=[bool])(x, y)


STRATEGIES.update({
    "eq": _comparison(_pairwise(lambda a, b: a == b), FLOATS + INTS + (BOOL,) + (C64,)),
    "ne": _comparison(_pairwise(lambda a, b: a != b)),
    "lt": _comparison(_pairwise(lambda a, b: a < b)),
    "le": _comparison(_pairwise(lambda a, b: a <= b)),
    "gt": _comparison(_pairwise(lambda a, b: a > b)),
    "ge": _comparison(_pairwise(lambda a, b: a >= b)),
})


@st.composite
def _complex(draw):
    dtype = draw(st.sampled_from(FLOATS))
    sx, sy = _operand_shapes(draw, 2, draw(shapes))
    x, y = _array(draw, dtype, sx), _array(draw, dtype, sy)
    out = C64 if dtype == F32 else C128

    def reference(x, y):
        xb, yb = np.broadcast_arrays(x.astype(np.float64), y.astype(np.float64))
        return np.vectorize(lambda a, b: complex(a, b), otypes=[np.complex128])(xb, yb) \
            .astype(out)
    # Complex outputs: derivative checks are done by tests/test_elementwise_extra.py.
    return Case((x, y), {}, reference, diff_argnums=())


STRATEGIES["complex"] = _complex()


# --- select_n, clamp, conversions, stop_gradient -------------------------------------------------

@st.composite
def _select_n(draw):
    dtype = draw(st.sampled_from(FLOATS + INTS))
    shape = draw(shapes)
    n = draw(st.integers(1, 4))
    which_bool = n <= 2 and draw(st.booleans())
    which_shape = draw(st.sampled_from([shape, ()]))
    if which_bool:
        which = draw(hnp.arrays(BOOL, which_shape, elements=st.booleans()))
        if n == 1:
            which = np.zeros(which_shape, BOOL)
    else:
        which = draw(hnp.arrays(I32, which_shape, elements=st.integers(0, n - 1)))
    cases = [_array(draw, dtype, shape) for _ in range(n)]

    def reference(which, *cases):
        idx = np.broadcast_to(which.astype(np.int64), cases[0].shape)
        stacked = np.stack(cases)
        return np.take_along_axis(stacked, idx[None], axis=0)[0]
    return Case((which, *cases), {}, reference)


@st.composite
def _clamp(draw):
    dtype = draw(st.sampled_from(FLOATS + INTS))
    shape = draw(shapes)
    s_lo, s_hi = _operand_shapes(draw, 2, shape)
    lo = _array(draw, dtype, s_lo, -3, 0)
    hi = _array(draw, dtype, s_hi, 0, 3)
    x = _array(draw, dtype, shape, -5, 5)

    def reference(lo, x, hi):
        return np.where(x < lo, lo, np.where(x > hi, hi, x)).astype(x.dtype)
    fd_ok = _ties_ok(x, lo) and _ties_ok(x, hi) and _ties_ok(lo, hi)
    return Case((lo, x, hi), {}, reference, fd_ok=fd_ok)


@st.composite
def _convert(draw):
    src = draw(st.sampled_from(FLOATS + (I32, BOOL, C64)))
    dst = draw(st.sampled_from(FLOATS + (I32, BOOL, C128)))
    x = _array(draw, src, draw(shapes), -100, 100)

    def reference(x, new_dtype, weak_type):
        if x.dtype.kind == "c" and np.dtype(new_dtype).kind != "c":
            x = np.array([complex(v).real for v in x.flat]).reshape(x.shape)
        if np.dtype(new_dtype) == BOOL:
            return x != 0
        if np.dtype(new_dtype).kind == "i":
            return np.trunc(x).astype(new_dtype) if x.dtype.kind == "f" else x.astype(new_dtype)
        return x.astype(new_dtype)
    # Float-to-int conversion jumps at integers.
    fd_ok = not (src.kind == "f" and dst.kind in "ib") or _away(x, np.round)
    # A float32 result of a float64 input cannot meet the float64 tolerances of the derivative
    # checks; complex ones are checked in tests/test_elementwise_extra.py.
    no_diff = "c" in (src.kind, dst.kind) or dst == F32
    return Case((x,), {"new_dtype": dst, "weak_type": False}, reference, fd_ok=fd_ok,
                diff_argnums=() if no_diff else None)


@st.composite
def _stop_gradient(draw):
    dtype = draw(st.sampled_from(FLOATS + INTS))
    x = _array(draw, dtype, draw(shapes))
    # Its tangent is zero by definition, not the derivative of the identity: no finite
    # differences (tests/test_elementwise_extra.py checks the zero tangent).
    return Case((x,), {}, lambda x: x.copy(), fd_ok=False)


STRATEGIES.update({
    "select_n": _select_n(),
    "clamp": _clamp(),
    "convert_element_type": _convert(),
    "stop_gradient": _stop_gradient(),
})
