"""Cases for the shape primitives (functrans/primitives/shape.py) and the indexing primitives
(functrans/primitives/indexing.py).

Every one of them is linear in its array operands, so finite differences are exact up to
rounding and every case is fd_ok. Float64 operands carry the derivative checks; other dtypes
(float32, int32, complex128, bool) exercise the impls and batching. Index arguments include
out-of-range values so that clamping, filling and dropping are checked; references compute the
expected result independently, mostly element by element in plain Python loops.
"""
import itertools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import Case

F32, F64, C128 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.complex128)
I32, I64, U8, BOOL = (np.dtype(t) for t in (np.int32, np.int64, np.uint8, np.bool_))
# float64 most often: it is the dtype derivative checks use.
DTYPES = st.sampled_from([F64, F64, F64, F32, I32, C128, BOOL])
NUMERIC = st.sampled_from([F64, F64, F64, F32, I32, C128])


def _elements(dtype):
    if dtype == BOOL:
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(-50, 50)
    floats = st.floats(-4, 4, width=32 if dtype == F32 else 64)
    if dtype.kind == "c":
        return st.builds(complex, floats, floats)
    return floats


def _array(draw, shape, dtype=F64):
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))


def _shape(draw, min_dims=0, max_dims=3, min_side=1, max_side=4):
    return draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                 max_side=max_side))


def _subset(draw, items):
    return tuple(sorted(draw(st.sets(st.sampled_from(items))) if items else ()))


# --- shape.py ----------------------------------------------------------------------------------

@st.composite
def broadcast_in_dim_cases(draw):
    x = _array(draw, _shape(draw, max_dims=3), draw(DTYPES))
    out_ndim = x.ndim + draw(st.integers(0, 2))
    bd = tuple(sorted(draw(st.permutations(range(out_ndim)))[:x.ndim]))
    shape = [draw(st.integers(1, 3)) for _ in range(out_ndim)]
    for i, d in enumerate(bd):
        shape[d] = x.shape[i] if x.shape[i] != 1 else draw(st.integers(1, 3))

    def reference(x, *, shape, broadcast_dimensions):
        new_axes = [d for d in range(len(shape)) if d not in broadcast_dimensions]
        return np.broadcast_to(np.expand_dims(x, new_axes), shape)
    return Case((x,), dict(shape=tuple(shape), broadcast_dimensions=bd), reference)


@st.composite
def reshape_cases(draw):
    x = _array(draw, _shape(draw, max_dims=3), draw(DTYPES))
    # Split the elements into factors, then group consecutive factors into new axes.
    factors = [f for n in x.shape for f in _prime_factors(n)]
    factors = draw(st.permutations(factors))
    new_sizes, rest = [], list(factors)
    while rest:
        take = draw(st.integers(1, len(rest)))
        new_sizes.append(int(np.prod(rest[:take])))
        rest = rest[take:]
    ones = draw(st.integers(0, 2))
    for _ in range(ones):
        new_sizes.insert(draw(st.integers(0, len(new_sizes))), 1)
    return Case((x,), dict(new_sizes=tuple(new_sizes)),
                lambda x, *, new_sizes: np.array(x.ravel().tolist(), x.dtype).reshape(new_sizes))


def _prime_factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def transpose_cases(draw):
    x = _array(draw, _shape(draw, max_dims=4, max_side=3), draw(DTYPES))
    perm = tuple(draw(st.permutations(range(x.ndim))))

    def reference(x, *, permutation):
        out = np.empty(tuple(x.shape[p] for p in permutation), x.dtype)
        for idx in itertools.product(*map(range, out.shape)):
            src = [0] * x.ndim
            for i, p in enumerate(permutation):
                src[p] = idx[i]
            out[idx] = x[tuple(src)]
        return out
    return Case((x,), dict(permutation=perm), reference)


@st.composite
def squeeze_cases(draw):
    shape = [draw(st.sampled_from([1, 1, 2, 3])) for _ in range(draw(st.integers(0, 4)))]
    x = _array(draw, tuple(shape), draw(DTYPES))
    dims = _subset(draw, [i for i, n in enumerate(shape) if n == 1])
    return Case((x,), dict(dimensions=dims),
                lambda x, *, dimensions: x.reshape([n for i, n in enumerate(x.shape)
                                                    if i not in dimensions]))


@st.composite
def rev_cases(draw):
    x = _array(draw, _shape(draw, max_dims=3), draw(DTYPES))
    dims = _subset(draw, list(range(x.ndim)))

    def reference(x, *, dimensions):
        out = np.empty_like(x)
        for idx in itertools.product(*map(range, x.shape)):
            out[idx] = x[tuple(n - 1 - i if a in dimensions else i
                               for a, (i, n) in enumerate(zip(idx, x.shape)))]
        return out
    return Case((x,), dict(dimensions=dims), reference)


@st.composite
def slice_cases(draw):
    x = _array(draw, _shape(draw, max_dims=3, max_side=6), draw(DTYPES))
    starts, limits, strides = [], [], []
    for n in x.shape:
        start = draw(st.integers(0, n))
        starts.append(start)
        limits.append(draw(st.integers(start, n)))
        strides.append(draw(st.integers(1, 3)))
    strides = draw(st.sampled_from([None, tuple(strides)]))

    def reference(x, *, start_indices, limit_indices, strides):
        strides = strides or (1,) * x.ndim
        picks = [list(range(s, e, st_)) for s, e, st_ in zip(start_indices, limit_indices,
                                                               strides)]
        return x[np.ix_(*picks)] if x.ndim else x
    return Case((x,), dict(start_indices=tuple(starts), limit_indices=tuple(limits),
                           strides=strides), reference)


@st.composite
def concatenate_cases(draw):
    dtype = draw(DTYPES)
    shape = list(_shape(draw, min_dims=1, max_dims=3))
    dimension = draw(st.integers(0, len(shape) - 1))
    xs = []
    for _ in range(draw(st.integers(1, 3))):
        shape[dimension] = draw(st.integers(0, 3))
        xs.append(_array(draw, tuple(shape), dtype))

    def reference(*xs, dimension):
        moved = [np.moveaxis(x, dimension, 0) for x in xs]
        rows = [row for m in moved for row in m]
        out_shape = moved[0].shape[1:]
        stacked = np.stack(rows) if rows else np.zeros((0,) + out_shape, xs[0].dtype)
        return np.moveaxis(stacked, 0, dimension)
    return Case(tuple(xs), dict(dimension=dimension), reference)


@st.composite
def pad_cases(draw):
    dtype = draw(NUMERIC)
    x = _array(draw, _shape(draw, max_dims=3, min_side=0), dtype)
    padding_value = _array(draw, (), dtype)
    config = []
    for n in x.shape:
        interior = draw(st.integers(0, 2))
        inner = n + max(n - 1, 0) * interior
        lo = draw(st.integers(-min(inner, 3), 3))
        hi = draw(st.integers(-min(inner + lo, 3), 3))     # no axis ends up negative
        config.append((lo, hi, interior))

    def reference(x, padding_value, *, padding_config):
        out = x
        for axis, (lo, hi, interior) in enumerate(padding_config):
            out = _pad_axis(out, padding_value, axis, lo, hi, interior)
        return out
    return Case((x, padding_value), dict(padding_config=tuple(config)), reference)


def _pad_axis(x, value, axis, lo, hi, interior):
    """Pad one axis: place the elements interior + 1 apart, then grow or crop each end."""
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0]
    spread = np.full((n + max(n - 1, 0) * interior,) + x.shape[1:], value, x.dtype)
    for i in range(n):
        spread[i * (interior + 1)] = x[i]
    pieces = []
    if lo > 0:
        pieces.append(np.full((lo,) + x.shape[1:], value, x.dtype))
    pieces.append(spread[max(-lo, 0):])
    out = np.concatenate(pieces)
    out = out[:len(out) + hi] if hi < 0 else np.concatenate(
        [out, np.full((hi,) + x.shape[1:], value, x.dtype)])
    return np.moveaxis(out, 0, axis)


@st.composite
def iota_cases(draw):
    shape = _shape(draw, min_dims=1, max_dims=3, min_side=0)
    dimension = draw(st.integers(0, len(shape) - 1))
    dtype = draw(st.sampled_from([I32, I64, F64, F32]))
    return Case((), dict(dtype=dtype, shape=shape, dimension=dimension),
                lambda *, dtype, shape, dimension: np.indices(shape)[dimension].astype(dtype))


# --- indexing.py -------------------------------------------------------------------------------

def _start(draw, n, size):
    """A start index, sometimes out of range (clamped by the primitive)."""
    dtype = draw(st.sampled_from([I32, I64, U8]))
    lo = 0 if dtype == U8 else -2
    return np.asarray(draw(st.integers(lo, n - size + 2)), dtype)


def _clamp(s, n, m):
    return min(max(int(s), 0), n - m)


@st.composite
def dynamic_slice_cases(draw):
    x = _array(draw, _shape(draw, max_dims=3), draw(DTYPES))
    sizes = tuple(draw(st.integers(0, n)) for n in x.shape)
    starts = [_start(draw, n, m) for n, m in zip(x.shape, sizes)]

    def reference(x, *starts, slice_sizes):
        picks = [list(range(_clamp(s, n, m), _clamp(s, n, m) + m))
                 for s, n, m in zip(starts, x.shape, slice_sizes)]
        return x[np.ix_(*picks)] if x.ndim else x
    return Case((x, *starts), dict(slice_sizes=sizes), reference, diff_argnums=(0,))


@st.composite
def dynamic_update_slice_cases(draw):
    dtype = draw(DTYPES)
    x = _array(draw, _shape(draw, max_dims=3), dtype)
    update = _array(draw, tuple(draw(st.integers(0, n)) for n in x.shape), dtype)
    starts = [_start(draw, n, m) for n, m in zip(x.shape, update.shape)]

    def reference(x, update, *starts):
        out = x.copy()
        offsets = [_clamp(s, n, m) for s, n, m in zip(starts, x.shape, update.shape)]
        for idx in itertools.product(*map(range, update.shape)):
            out[tuple(o + i for o, i in zip(offsets, idx))] = update[idx]
        return out
    return Case((x, update, *starts), {}, reference, diff_argnums=(0, 1))


def _indices(draw, operand_shape, k, unique=False):
    """Index rows of length k into operand_shape, some out of range, in a (*batch, k) array."""
    batch = _shape(draw, max_dims=2, min_side=0, max_side=3)
    rows = int(np.prod(batch))
    dims = operand_shape[:k]
    if unique:
        places = list(itertools.product(*map(range, dims)))
        rows = min(rows, len(places))
        batch = (rows,)
        chosen = draw(st.permutations(places))[:rows] if rows else []
        data = np.array(chosen, np.int64).reshape(rows, k)
    else:
        data = np.array([[draw(st.integers(-2, n + 1)) for n in dims] for _ in range(rows)],
                        np.int64).reshape(rows, k)
    dtype = draw(st.sampled_from([I32, I64]))
    return data.astype(dtype).reshape(batch + (k,))


def _rows_of(indices, operand_shape):
    k = indices.shape[-1]
    rows = indices.reshape(int(np.prod(indices.shape[:-1])), k)
    return [tuple(int(i) for i in row) for row in rows], operand_shape[:k]


def _resolve(row, dims, mode):
    """Where a row lands: clamped (clip), or None if out of range (fill_or_drop)."""
    if mode == "clip":
        return tuple(min(max(i, 0), n - 1) for i, n in zip(row, dims))
    return row if all(0 <= i < n for i, n in zip(row, dims)) else None


@st.composite
def gather_cases(draw):
    x = _array(draw, _shape(draw, min_dims=1, max_dims=3), draw(DTYPES))
    k = draw(st.integers(0, x.ndim))
    indices = _indices(draw, x.shape, k)
    mode = draw(st.sampled_from(["clip", "fill_or_drop"]))

    def reference(x, indices, *, mode):
        rows, dims = _rows_of(indices, x.shape)
        out = []
        for row in rows:
            place = _resolve(row, dims, mode)
            out.append(np.zeros(x.shape[k:], x.dtype) if place is None else x[place])
        return np.array(out, x.dtype).reshape(indices.shape[:-1] + x.shape[k:])
    return Case((x, indices), dict(mode=mode), reference, diff_argnums=(0,))


def _scatter_case(draw, combine, unique=False):
    dtype = draw(NUMERIC)
    x = _array(draw, _shape(draw, min_dims=1, max_dims=3), dtype)
    k = draw(st.integers(0, x.ndim))
    indices = _indices(draw, x.shape, k, unique)
    updates = _array(draw, indices.shape[:-1] + x.shape[k:], dtype)
    mode = draw(st.sampled_from(["clip", "fill_or_drop"]))

    def reference(x, indices, updates, *, mode, **_):
        out = x.copy()
        rows, dims = _rows_of(indices, x.shape)
        for row, update in zip(rows, updates.reshape((len(rows),) + x.shape[k:])):
            place = _resolve(row, dims, mode)
            if place is not None:
                out[place] = combine(out[place], update)
        return out
    return (x, indices, updates), mode, reference


@st.composite
def scatter_add_cases(draw):
    args, mode, reference = _scatter_case(draw, lambda old, new: old + new)
    return Case(args, dict(mode=mode), reference, diff_argnums=(0, 2))


@st.composite
def scatter_cases(draw):
    unique = draw(st.booleans())
    args, mode, reference = _scatter_case(draw, lambda old, new: new, unique)
    return Case(args, dict(mode=mode, unique_indices=unique), reference, diff_argnums=(0, 2))


STRATEGIES = {
    "broadcast_in_dim": broadcast_in_dim_cases(),
    "reshape": reshape_cases(),
    "transpose": transpose_cases(),
    "squeeze": squeeze_cases(),
    "rev": rev_cases(),
    "slice": slice_cases(),
    "concatenate": concatenate_cases(),
    "pad": pad_cases(),
    "iota": iota_cases(),
    "dynamic_slice": dynamic_slice_cases(),
    "dynamic_update_slice": dynamic_update_slice_cases(),
    "gather": gather_cases(),
    "scatter_add": scatter_add_cases(),
    "scatter": scatter_cases(),
}
