"""Cases for reductions (functrans/primitives/reductions.py), contraction (contraction.py) and
sorting (sorting.py).

Float64 operands carry the derivative checks; float32, int32, uint8, bool and complex128 exercise
impls and batching. Max/min/sort-like primitives are only finite-differenced at operands with
distinct values (drawn as a shuffled grid of spacing 0.5, far wider than the finite-difference
step); cases with ties or NaNs say fd_ok=False. References are independent numpy / plain Python
computations, mostly one line (or slice) at a time.
"""
import math
import string

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import Case

F32, F64, C128 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.complex128)
I8, I32, I64, U8, BOOL = (np.dtype(t) for t in (np.int8, np.int32, np.int64, np.uint8, np.bool_))
NUMERIC = st.sampled_from([F64, F64, F64, F32, I32, C128])
ORDERED = st.sampled_from([F64, F64, F64, F32, I32, U8, BOOL])


# --- drawing operands ----------------------------------------------------------------------------

def _elements(dtype, lo=-2.0, hi=2.0):
    if dtype == BOOL:
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(0 if dtype.kind == "u" else -5, 5)
    floats = st.floats(lo, hi, width=32 if dtype == F32 else 64)
    if dtype.kind == "c":
        return st.builds(complex, floats, floats)
    return floats


def _array(draw, shape, dtype=F64, lo=-2.0, hi=2.0):
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype, lo, hi)))


def _shape(draw, min_dims=0, max_dims=3, allow_empty=True):
    # A zero-length side now and then: empty reductions, empty sorts, empty contractions.
    sides = [1, 2, 3, 4, 2, 3] + ([0] if allow_empty else [])
    ndim = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.sampled_from(sides)) for _ in range(ndim))


def _distinct(draw, shape, dtype=F64):
    """Values that are pairwise 0.5 apart at least (in random order): no ties anywhere."""
    n = math.prod(shape)
    order = np.array(draw(st.permutations(range(n))), dtype=np.float64)
    offset = draw(st.floats(-1, 1))
    return (0.5 * order - 0.25 * n + offset).reshape(shape).astype(dtype)


def _tied(draw, shape, dtype=F64, nan=False):
    """Values from a small grid, so ties are likely; NaNs too if asked."""
    grid = [-1.0, -0.5, 0.0, 0.5, 1.0] + ([float("nan")] if nan else [])
    return draw(hnp.arrays(dtype, shape, elements=st.sampled_from(grid)))


def _ordered_operand(draw, shape, dtype):
    """An operand for max/min/sort-like primitives and whether finite differences are valid."""
    if dtype.kind != "f":
        return _array(draw, shape, dtype), True
    kind = draw(st.sampled_from(["distinct", "distinct", "ties", "nan"]))
    if kind == "distinct":
        return _distinct(draw, shape, dtype), True
    return _tied(draw, shape, dtype, nan=kind == "nan"), False


def _axes(draw, ndim):
    axes = draw(st.permutations(range(ndim)))[:draw(st.integers(0, ndim))]
    return tuple(axes)   # any order: the primitive does not require sorted axes


def _wide(x):
    """x in the widest dtype of its kind, for references computed without rounding issues."""
    return x.astype({"f": F64, "c": C128, "i": I64, "u": np.uint64, "b": BOOL}[x.dtype.kind])


def _lines(x, axes):
    """x with `axes` moved to the end and flattened into one: shape kept_shape + (n,)."""
    kept = [d for d in range(x.ndim) if d not in axes]
    moved = np.transpose(x, kept + list(axes))
    n = math.prod(x.shape[d] for d in axes)
    return moved.reshape(moved.shape[:len(kept)] + (n,))


def _per_line(fn, x, axes, out_dtype):
    lines = _lines(x, axes)
    out = np.empty(lines.shape[:-1], dtype=out_dtype)
    for idx in np.ndindex(out.shape):
        out[idx] = fn(list(lines[idx]))
    return out


# --- reduce_sum, reduce_prod, reduce_max, reduce_min --------------------------------------------

def _reduction(reference, dtypes, ordered):
    @st.composite
    def strategy(draw):
        dtype = draw(dtypes)
        shape = _shape(draw)
        if ordered:
            x, fd_ok = _ordered_operand(draw, shape, dtype)
        else:
            x, fd_ok = _array(draw, shape, dtype, lo=-1.5, hi=1.5), True
        return Case((x,), {"axes": _axes(draw, x.ndim)}, reference, fd_ok=fd_ok)
    return strategy()


def _sum_reference(x, axes):
    return _per_line(lambda line: sum(line, _wide(x).dtype.type(0)), _wide(x), axes,
                     _wide(x).dtype)


def _prod_reference(x, axes):
    return _per_line(lambda line: math.prod(line, start=_wide(x).dtype.type(1)), _wide(x), axes,
                     _wide(x).dtype)


def _extremum(x, pick):
    """Python max/min over a line, with NaN propagating and empty lines giving the identity."""
    def fn(line):
        if any(isinstance(v, float) and v != v for v in line):
            return float("nan")
        if not line:
            if x.dtype.kind == "f":
                return -math.inf if pick is max else math.inf
            if x.dtype == BOOL:
                return pick is min
            info = np.iinfo(x.dtype)
            return info.min if pick is max else info.max
        return pick(line)
    return fn


def _max_reference(x, axes):
    return _per_line(_extremum(x, max), _wide(x), axes, _wide(x).dtype)


def _min_reference(x, axes):
    return _per_line(_extremum(x, min), _wide(x), axes, _wide(x).dtype)


# --- argmax, argmin --------------------------------------------------------------------------

def _arg(pick):
    @st.composite
    def strategy(draw):
        dtype = draw(ORDERED)
        shape = _shape(draw, min_dims=1, allow_empty=False)
        x, fd_ok = _ordered_operand(draw, shape, dtype)
        axis = draw(st.integers(0, x.ndim - 1))
        index_dtype = draw(st.sampled_from([I32, I64]))

        def reference(x, axis, index_dtype):
            def first(line):
                nans = [i for i, v in enumerate(line) if v != v]
                if nans:
                    return nans[0]
                best = pick(line)
                return next(i for i, v in enumerate(line) if v == best)
            return _per_line(first, _wide(x), (axis,), index_dtype)
        return Case((x,), {"axis": axis, "index_dtype": index_dtype}, reference, fd_ok=fd_ok)
    return strategy()


# --- cumsum, cumprod, cummax, cummin ------------------------------------------------------------

def _cumulative(step, dtypes, ordered):
    """A strategy for a cumulative primitive whose running value updates as step(acc, v)."""
    @st.composite
    def strategy(draw):
        dtype = draw(dtypes)
        shape = _shape(draw, min_dims=1)
        if ordered:
            x, fd_ok = _ordered_operand(draw, shape, dtype)
        else:
            x, fd_ok = _array(draw, shape, dtype, lo=-1.5, hi=1.5), True
        axis = draw(st.integers(0, x.ndim - 1))
        reverse = draw(st.booleans())

        def reference(x, axis, reverse):
            wide = _wide(x)
            moved = np.moveaxis(wide, axis, -1)
            out = np.empty(moved.shape, dtype=wide.dtype)
            for idx in np.ndindex(moved.shape[:-1]):
                line = list(moved[idx])
                order = range(len(line) - 1, -1, -1) if reverse else range(len(line))
                acc = None
                for k in order:
                    acc = line[k] if acc is None else step(acc, line[k])
                    out[idx + (k,)] = acc
            return np.moveaxis(out, -1, axis)
        return Case((x,), {"axis": axis, "reverse": reverse}, reference, fd_ok=fd_ok)
    return strategy()


def _nan_aware(pick):
    def step(acc, v):
        if acc != acc or v != v:
            return float("nan")
        return pick(acc, v)
    return step


# --- dot_general -------------------------------------------------------------------------------

@st.composite
def _dot_general(draw):
    nb, nc, nl, nr = (draw(st.integers(0, 2)) for _ in range(4))
    side = st.sampled_from([1, 2, 3, 4, 0] if draw(st.integers(0, 5)) == 0 else [1, 2, 3, 4])
    sizes = {(kind, i): draw(side) for kind, n in (("b", nb), ("c", nc), ("l", nl), ("r", nr))
             for i in range(n)}
    lhs_dims = draw(st.permutations([k for k in sizes if k[0] in "bcl"]))
    rhs_dims = draw(st.permutations([k for k in sizes if k[0] in "bcr"]))
    dn = ((tuple(lhs_dims.index(("c", i)) for i in range(nc)),
           tuple(rhs_dims.index(("c", i)) for i in range(nc))),
          (tuple(lhs_dims.index(("b", i)) for i in range(nb)),
           tuple(rhs_dims.index(("b", i)) for i in range(nb))))
    dtype, preferred = draw(st.sampled_from([(F64, None)] * 4 + [(F32, None), (I32, None),
                                             (C128, None), (I8, I32), (F32, F64)]))
    lo, hi = (-1.0, 1.0) if dtype == F32 else (-2.0, 2.0)
    lhs = _array(draw, tuple(sizes[k] for k in lhs_dims), dtype, lo, hi)
    rhs = _array(draw, tuple(sizes[k] for k in rhs_dims), dtype, lo, hi)
    letters = {k: string.ascii_letters[i] for i, k in enumerate(sizes)}
    # Output: batch dims in order, then lhs's free dims, then rhs's, each in operand order.
    out = [("b", i) for i in range(nb)] + [k for k in lhs_dims if k[0] == "l"] + \
        [k for k in rhs_dims if k[0] == "r"]
    spec = "".join(letters[k] for k in lhs_dims) + "," + "".join(letters[k] for k in rhs_dims) \
        + "->" + "".join(letters[k] for k in out)

    def reference(lhs, rhs, dimension_numbers, precision, preferred_element_type):
        out_dtype = preferred_element_type or lhs.dtype
        return np.einsum(spec, _wide(lhs), _wide(rhs)).astype(out_dtype)
    params = {"dimension_numbers": dn, "precision": None, "preferred_element_type": preferred}
    return Case((lhs, rhs), params, reference)


# --- sort --------------------------------------------------------------------------------------

def _sort_key(v):
    """numpy's order as a Python sort key: NaNs after every number."""
    if isinstance(v, float) and v != v:
        return (1, 0.0)
    return (0, v)


@st.composite
def _sort(draw):
    shape = _shape(draw, min_dims=1)
    dimension = draw(st.integers(0, len(shape) - 1))
    n_ops = draw(st.integers(1, 3))
    num_keys = draw(st.integers(1, n_ops))
    operands, fd_ok = [], True
    for i in range(n_ops):
        if i < num_keys:
            x, ok = _ordered_operand(draw, shape, draw(ORDERED))
            fd_ok = fd_ok and ok
        else:
            x = _array(draw, shape, draw(NUMERIC))
        operands.append(x)

    def reference(*operands, dimension, is_stable, num_keys):
        moved = [np.moveaxis(_wide(x), dimension, -1) for x in operands]
        outs = [np.empty_like(m) for m in moved]
        for idx in np.ndindex(moved[0].shape[:-1]):
            lines = [list(m[idx]) for m in moved]
            order = sorted(range(len(lines[0])),
                           key=lambda j: tuple(_sort_key(lines[k][j]) for k in range(num_keys)))
            for o, line in zip(outs, lines):
                o[idx] = [line[j] for j in order]
        return [np.moveaxis(o, -1, dimension).astype(x.dtype) for o, x in zip(outs, operands)]
    params = {"dimension": dimension, "is_stable": draw(st.booleans()), "num_keys": num_keys}
    return Case(tuple(operands), params, reference, fd_ok=fd_ok)


STRATEGIES = {
    "reduce_sum": _reduction(_sum_reference, NUMERIC, ordered=False),
    "reduce_prod": _reduction(_prod_reference, NUMERIC, ordered=False),
    "reduce_max": _reduction(_max_reference, ORDERED, ordered=True),
    "reduce_min": _reduction(_min_reference, ORDERED, ordered=True),
    "argmax": _arg(max),
    "argmin": _arg(min),
    "cumsum": _cumulative(lambda a, v: a + v, NUMERIC, ordered=False),
    "cumprod": _cumulative(lambda a, v: a * v, NUMERIC, ordered=False),
    "cummax": _cumulative(_nan_aware(max), ORDERED, ordered=True),
    "cummin": _cumulative(_nan_aware(min), ORDERED, ordered=True),
    "dot_general": _dot_general(),
    "sort": _sort(),
}
