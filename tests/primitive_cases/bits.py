"""Cases for the bit-level primitives (functrans/primitives/bits.py).

Shift references are computed one element at a time with Python's unbounded integers: the
operand's bit pattern as a non-negative number, shifted, then cut back to the width. Shift
amounts cover the whole defined range, including amounts >= the bit width and (for signed
dtypes) negative amounts, which count as huge unsigned shifts.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import Case

INTS = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64,
                                   np.uint8, np.uint16, np.uint32, np.uint64))
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def _pattern(v, bits):
    """The bit pattern of the integer v as a number in [0, 2**bits)."""
    return int(v) % (1 << bits)


def _from_pattern(p, dtype):
    bits = dtype.itemsize * 8
    if dtype.kind == "i" and p >= 1 << (bits - 1):
        p -= 1 << bits
    return p


def _left(p, s, bits):
    return (p << s) % (1 << bits) if s < bits else 0


def _right_logical(p, s, bits):
    return p >> s if s < bits else 0


def _right_arithmetic(p, s, bits):
    negative = p >> (bits - 1)
    signed = p - (negative << bits)
    return _pattern(signed >> min(s, bits - 1), bits)   # Python's >> on ints is arithmetic


def _shift_reference(shift):
    def ref(x, y):
        x, y = np.asarray(x), np.asarray(y)
        dtype = x.dtype
        bits = dtype.itemsize * 8
        xs, ys = np.broadcast_arrays(x, y)
        out = [_from_pattern(shift(_pattern(a, bits), _pattern(b, bits), bits), dtype)
               for a, b in zip(xs.flat, ys.flat)]
        return np.array(out, dtype=dtype).reshape(xs.shape)
    return ref


def _shift(shift):
    @st.composite
    def strategy(draw):
        dtype = draw(st.sampled_from(INTS))
        info = np.iinfo(dtype)
        bits = dtype.itemsize * 8
        shape = draw(shapes)
        x_shape, y_shape = draw(st.sampled_from([(shape, shape), (shape, ()), ((), shape)]))
        x = draw(hnp.arrays(dtype, x_shape, elements=st.integers(int(info.min), int(info.max))))
        low = -2 if dtype.kind == "i" else 0
        y = draw(hnp.arrays(dtype, y_shape, elements=st.integers(low, bits + 2)))
        return Case((x, y), {}, _shift_reference(shift))
    return strategy()


def _nextafter_reference(x1, x2):
    # Positive floats are ordered like their bit patterns read as integers: one step away from
    # zero adds 1 to the magnitude's pattern, one step toward zero subtracts 1.
    x1, x2 = np.broadcast_arrays(np.asarray(x1), np.asarray(x2))
    ints = {4: np.uint32, 8: np.uint64}[x1.dtype.itemsize]
    out = []
    for a, b in zip(x1.flat, x2.flat):
        if a == b:
            out.append(b)
        elif a == 0:
            tiny = np.finfo(x1.dtype).smallest_subnormal
            out.append(tiny if b > a else -tiny)
        else:
            magnitude = int(np.abs(a).view(ints))
            magnitude += 1 if (b > a) == (a > 0) else -1
            out.append(np.sign(a) * np.array(magnitude, dtype=ints).view(x1.dtype))
    return np.array(out, dtype=x1.dtype).reshape(x1.shape)


@st.composite
def _nextafter(draw):
    dtype = draw(st.sampled_from(FLOATS))
    shape = draw(shapes)
    s1, s2 = draw(st.sampled_from([(shape, shape), (shape, ()), ((), shape)]))
    width = 32 if dtype == FLOATS[0] else 64
    values = st.one_of(st.floats(-4, 4, width=width), st.sampled_from([0.0, 1.0, -2.0, 0.5]))
    x1 = draw(hnp.arrays(dtype, s1, elements=values))
    x2 = draw(hnp.arrays(dtype, s2, elements=values))
    # Derivatives in x1 only: the derivative in x2 is zero by definition, and finite
    # differences through x2 would see the jump where x2 crosses x1.
    return Case((x1, x2), {}, _nextafter_reference, diff_argnums=(0,))


STRATEGIES = {
    "shift_left": _shift(_left),
    "shift_right_logical": _shift(_right_logical),
    "shift_right_arithmetic": _shift(_right_arithmetic),
    "nextafter": _nextafter(),
}
