"""numpy indexing of traced arrays, and JAX's functional updates `x.at[idx].set(v)`.

An index is parsed once into one entry per axis (after inserting the new axes that None asks
for): a static slice, a static integer, or an integer array (numpy or traced). Static entries
become one lax.slice (plus rev for negative steps); integer arrays become one gather over the
axes they index, with numpy's rule for where the broadcast index dimensions land: in place of
the indexed axes if those (with any integers among them) are adjacent, else in front.

Boolean masks must be concrete: they are turned into integer arrays with np.nonzero, since the
result's shape depends on how many elements they select. Static indices out of bounds raise
IndexError, as in numpy; traced indices cannot be checked, so reads clamp them and updates
drop them (JAX's defaults; gather/scatter `mode` can change that).

Updates address elements by their position in the flattened array: the positions of x[idx]
(computed like any other index, in numpy's layout) drive one scatter. `.multiply`, `.min` and
`.max` combine the updates that land on one element with a segmented scan after sorting by
position, so repeated indices are handled exactly.
"""
import operator

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.errors import ConcretizationTypeError
from ..core.trace import Tracer
from ._promotion import (asarray, broadcast_shapes, broadcast_to, canonical_axis, cast,
                         dtype_of, eager, shape_of)
# nonzero lives beside where, whose one-argument form it is; it is exported from here.
from .elementwise import flatnonzero, nonzero

__all__ = ["take", "take_along_axis", "nonzero", "flatnonzero", "NonConcreteBooleanIndexError"]

INDEX_DTYPE = dtypes.int64


class NonConcreteBooleanIndexError(ConcretizationTypeError, IndexError):
    """A boolean mask that is a traced value was used as an index."""


_VALID = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer "
          "or boolean arrays are valid indices")


# --- parsing --------------------------------------------------------------------------------------

def _index_array(item):
    """An index item that is not a scalar, slice, None or Ellipsis, as a numpy array or a
    tracer; raises IndexError for non-integer, non-boolean items."""
    if isinstance(item, Tracer):
        arr = item
    elif isinstance(item, (list, tuple)):
        arr = asarray(item, "indexing")
        arr = np.asarray(arr) if not isinstance(arr, Tracer) else arr
        if isinstance(arr, np.ndarray) and arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(INDEX_DTYPE)       # x[[]] selects nothing, as in numpy
    else:
        arr = np.asarray(item)
    if dtype_of(arr).kind not in "biu":
        raise IndexError(f"{_VALID}; got an array of {dtype_of(arr).name}")
    return arr


def _concrete_mask(mask):
    if isinstance(mask, Tracer):
        value = mask.concrete_value()
        if value is None:
            raise NonConcreteBooleanIndexError(
                f"Array boolean indices must be concrete; got a traced mask "
                f"{mask.aval.str_short()}. The shape of x[mask] depends on how many elements "
                "the mask selects, which is unknown while tracing. Use fnp.where(mask, x, "
                "fill) to select elementwise (or x * mask, or a reduction with where=), or "
                "compute the mask from values that are not traced.")
        return np.asarray(value)
    return mask


def _parse(shape, idx):
    """(new_axes, entries): the positions of new size-1 axes to insert, then one entry per
    axis of the expanded array: ("slice", start, stop, step), ("int", i) or ("array", arr)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    parsed = []
    for item in items:
        if item is None:
            parsed.append(("new",))
        elif item is Ellipsis:
            parsed.append(("ellipsis",))
        elif isinstance(item, slice):
            parsed.append(("slice", item))
        elif isinstance(item, (bool, np.bool_)):
            parsed.append(("bool0", bool(item)))
        elif isinstance(item, (int, np.integer)):
            parsed.append(("int", operator.index(item)))
        else:
            arr = _index_array(item)
            if dtype_of(arr).kind == "b":
                mask = _concrete_mask(arr)
                if mask.ndim == 0:
                    parsed.append(("bool0", bool(mask)))
                else:
                    parsed.append(("mask", mask))
            elif isinstance(arr, np.ndarray) and arr.ndim == 0:
                parsed.append(("int", int(arr)))
            else:
                parsed.append(("array", arr))
    if sum(p[0] == "ellipsis" for p in parsed) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(p[1].ndim if p[0] == "mask" else 1 for p in parsed
                   if p[0] in ("slice", "int", "array", "mask"))
    if consumed > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, but "
                         f"{consumed} were indexed")
    fill = [("slice", slice(None))] * (len(shape) - consumed)
    if any(p[0] == "ellipsis" for p in parsed):
        at = next(i for i, p in enumerate(parsed) if p[0] == "ellipsis")
        # An Ellipsis separates advanced indices even when it stands for no axis (numpy's
        # rule): keep a zero-width marker where it was.
        parsed = parsed[:at] + (fill or [("gap",)]) + parsed[at + 1:]
    else:
        parsed = parsed + fill

    new_axes, entries, axis = [], [], 0       # axis: the next axis of the original array
    gaps = []
    for p in parsed:
        kind = p[0]
        if kind == "gap":
            gaps.append(len(entries))
        elif kind in ("new", "bool0"):
            new_axes.append(len(entries))
            # A 0-d boolean adds an axis of length 1 (True) or 0 (False): a new axis indexed
            # by [0] or [], as numpy does.
            entries.append(("slice", 0, 1, 1) if kind == "new" else
                           ("array", np.zeros(1 if p[1] else 0, INDEX_DTYPE)))
        elif kind == "slice":
            entries.append(("slice",) + p[1].indices(shape[axis]))
            axis += 1
        elif kind == "int":
            n = shape[axis]
            if not -n <= p[1] < n:
                raise IndexError(f"index {p[1]} is out of bounds for axis {axis} with size {n}")
            entries.append(("int", p[1] % n))
            axis += 1
        elif kind == "mask":
            mask = p[1]
            dims = shape[axis:axis + mask.ndim]
            if mask.shape != dims:
                bad = next(i for i, (m, d) in enumerate(zip(mask.shape, dims)) if m != d)
                raise IndexError(f"boolean index did not match indexed array along axis "
                                 f"{axis + bad}; size of axis is {dims[bad]} but size of "
                                 f"corresponding boolean axis is {mask.shape[bad]}")
            for coords in np.nonzero(mask):
                entries.append(("array", coords.astype(INDEX_DTYPE)))
            axis += mask.ndim
        else:
            entries.append(("array", _normalize(p[1], shape[axis], axis)))
            axis += 1
    return new_axes, entries, gaps


def _normalize(arr, n, axis):
    """Integer index array with negative entries wrapped (and, if concrete, bounds checked)."""
    if isinstance(arr, np.ndarray):
        if arr.size and (arr.min() < -n or arr.max() >= n):
            bad = arr[(arr < -n) | (arr >= n)].flat[0]
            raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {n}")
        return np.where(arr < 0, arr + n, arr).astype(INDEX_DTYPE)
    arr = cast(arr, INDEX_DTYPE)
    return lax.select_n(lax.lt(arr, 0), arr, lax.add(arr, n))


def _expanded_shape(shape, new_axes):
    out = list(shape)
    for i in new_axes:
        out.insert(i, 1)
    return tuple(out)


def _advanced_layout(entries, gaps):
    """(positions of array entries, where their broadcast dims go in the output)."""
    arrays = [i for i, e in enumerate(entries) if e[0] == "array"]
    if not arrays:
        return arrays, None
    advanced = [i for i, e in enumerate(entries) if e[0] in ("array", "int")]
    adjacent = advanced[-1] - advanced[0] + 1 == len(advanced) and \
        not any(advanced[0] < g <= advanced[-1] for g in gaps)
    return arrays, advanced[0] if adjacent else 0


def _static_bounds(entry):
    """(start, limit, stride, reversed) of a lax.slice equivalent to a static entry."""
    if entry[0] == "int":
        return entry[1], entry[1] + 1, 1, False
    _, start, stop, step = entry
    count = len(range(start, stop, step))
    if count == 0:
        return 0, 0, 1, False
    if step > 0:
        return start, start + (count - 1) * step + 1, step, False
    first = start + (count - 1) * step
    return first, start + 1, -step, True


# --- reading --------------------------------------------------------------------------------------

def getitem(x, idx, mode=None):
    """x[idx] with numpy's semantics (basic and advanced indexing, concrete boolean masks)."""
    x = asarray(x, "indexing")
    new_axes, entries, gaps = _parse(shape_of(x), idx)
    if new_axes:
        x = lax.reshape(x, _expanded_shape(shape_of(x), new_axes))
    shape = shape_of(x)
    starts, limits, strides, flips = [], [], [], []
    for axis, e in enumerate(entries):
        if e[0] == "array":
            starts.append(0), limits.append(shape[axis]), strides.append(1)
            continue
        start, limit, stride, flipped = _static_bounds(e)
        starts.append(start), limits.append(limit), strides.append(stride)
        if flipped:
            flips.append(axis)
    if (tuple(starts), tuple(limits)) != ((0,) * len(shape), shape) or any(s != 1 for s in
                                                                          strides):
        x = lax.slice(x, starts, limits, strides)
    if flips:
        x = lax.rev(x, flips)
    ints = [i for i, e in enumerate(entries) if e[0] == "int"]
    if ints:
        x = lax.reshape(x, tuple(d for i, d in enumerate(shape_of(x)) if i not in ints))
    arrays, place = _advanced_layout(entries, gaps)
    if not arrays:
        return x
    # Positions of the array-indexed axes once the integer axes are gone.
    kept = [i for i, e in enumerate(entries) if e[0] != "int"]
    axes = [kept.index(i) for i in arrays]
    rest = [a for a in range(len(kept)) if a not in axes]
    if axes != list(range(len(axes))):
        x = lax.transpose(x, tuple(axes + rest))
    batch = broadcast_shapes(*(shape_of(entries[i][1]) for i in arrays), name="indexing")
    index = _stack_indices([entries[i][1] for i in arrays], batch)
    out = lax.gather(x, index, mode=mode)
    if place:
        nb = len(batch)
        perm = list(range(nb, nb + place)) + list(range(nb)) + \
            list(range(nb + place, nb + len(rest)))
        out = lax.transpose(out, tuple(perm))
    return out


def _stack_indices(arrays, batch):
    """Index arrays broadcast to `batch` and stacked into rows of shape (*batch, k)."""
    if all(isinstance(a, np.ndarray) for a in arrays):
        return np.stack([np.broadcast_to(a, batch) for a in arrays], axis=-1)
    cols = [lax.reshape(broadcast_to(a, batch), batch + (1,)) for a in arrays]
    return lax.concatenate(cols, len(batch))


# --- positions, for updates -----------------------------------------------------------------------

def _positions(shape, idx, mode):
    """The flat position (in x.ravel()) of every element of x[idx], in numpy's layout of x[idx].
    Traced indices out of range become -1 (dropped by the scatters) or are clamped (mode
    "clip")."""
    new_axes, entries, gaps = _parse(shape, idx)
    expanded = _expanded_shape(shape, new_axes)
    strides = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
    for i in new_axes:
        strides.insert(i, 0)
    arrays, place = _advanced_layout(entries, gaps)
    batch = broadcast_shapes(*(shape_of(entries[i][1]) for i in arrays), name="indexing") \
        if arrays else ()
    # Output dims: one per slice entry, with the broadcast index dims after the first `before`.
    slices = [i for i, e in enumerate(entries) if e[0] == "slice"]
    before = place or 0
    after = len(slices) - before
    total, valid = 0, None
    for axis, e in enumerate(entries):
        if e[0] == "int":
            coord = e[1]
        elif e[0] == "slice":
            k = slices.index(axis)
            dim = k if k < before else k + len(batch)
            coord = np.arange(*e[1:], dtype=INDEX_DTYPE).reshape(
                [-1 if d == dim else 1 for d in range(len(slices) + len(batch))])
        else:
            coord, n = e[1], expanded[axis]
            if isinstance(coord, Tracer):
                coord = broadcast_to(coord, batch)
                if mode == "clip":
                    coord = lax.clamp(0, coord, n - 1)
                else:
                    ok = lax.bitwise_and(lax.ge(coord, 0), lax.lt(coord, n))
                    valid = ok if valid is None else lax.bitwise_and(valid, ok)
            else:
                coord = np.broadcast_to(coord, batch)
            coord = _reshape_any(coord, (1,) * before + batch + (1,) * after)
        total = _add(total, _mul(coord, strides[axis]))
    out_shape = tuple(len(range(*entries[i][1:])) for i in slices)
    out_shape = out_shape[:before] + batch + out_shape[before:]
    total = _broadcast_any(total, out_shape)
    if valid is not None:
        valid = broadcast_to(lax.reshape(valid, (1,) * before + batch + (1,) * after),
                             out_shape)
        total = lax.select_n(valid, lax.broadcast_in_dim(np.int64(-1), out_shape, ()), total)
    return total


def _reshape_any(v, shape):
    return v.reshape(shape) if isinstance(v, np.ndarray) else lax.reshape(v, shape)


def _broadcast_any(v, shape):
    if isinstance(v, (np.ndarray, np.generic, int)):
        return np.broadcast_to(np.asarray(v, INDEX_DTYPE), shape)
    return broadcast_to(v, shape)


def _add(a, b):
    if not isinstance(a, Tracer) and not isinstance(b, Tracer):
        return np.add(a, b)
    target = broadcast_shapes(shape_of(a), shape_of(b))
    return lax.add(*(_broadcast_any(v, target) if not isinstance(v, Tracer) else
                     broadcast_to(v, target) for v in (a, b)))


def _mul(a, k):
    return np.multiply(a, k) if not isinstance(a, Tracer) else lax.mul(a, np.int64(k))


# --- updates --------------------------------------------------------------------------------------

def _identity(op, dtype):
    if op == "multiply":
        return np.ones((), dtype)
    if dtype.kind == "f":
        return np.array(-np.inf if op == "max" else np.inf, dtype)
    if dtype.kind == "b":
        return np.array(op == "min", dtype)
    info = np.iinfo(dtype)
    return np.array(info.min if op == "max" else info.max, dtype)


_COMBINE = {"multiply": lax.mul, "min": lax.min, "max": lax.max}


def update(x, idx, values, op, mode=None):
    """x with x[idx] replaced by values (op "set"), or combined with them (add, multiply, min,
    max); values are broadcast to x[idx]'s shape and cast to x's dtype."""
    x = asarray(x, "at")
    shape, dtype = shape_of(x), dtype_of(x)
    positions = _positions(shape, idx, "clip" if mode == "clip" else "fill_or_drop")
    out_shape = shape_of(positions)
    values = cast(asarray(values, "at"), dtype)
    values = broadcast_to(values, out_shape, "at")
    size = int(np.prod(shape, dtype=np.int64))
    flat = lax.reshape(x, (size,))
    count = int(np.prod(out_shape, dtype=np.int64))
    rows = _reshape_any(positions, (count, 1))
    updates = lax.reshape(values, (count,))
    if op == "set":
        out = lax.scatter(flat, rows, updates)
    elif op == "add":
        out = lax.scatter_add(flat, rows, updates)
    elif isinstance(rows, np.ndarray) and len(np.unique(rows)) == len(rows):
        combined = _COMBINE[op](lax.gather(flat, rows), updates)
        out = lax.scatter(flat, rows, combined, unique_indices=True)
    else:
        out = _scatter_combine(flat, rows, updates, op)
    return lax.reshape(out, shape)


def _scatter_combine(flat, rows, updates, op):
    """flat with each update combined (op) into its row's element, repeated rows included:
    rows are sorted by position, a log-depth segmented scan combines each run of equal
    positions, and the last row of each run, which holds the whole run's total, is scattered
    (a scatter keeps the last of several rows naming one place)."""
    n = shape_of(updates)[0]
    if n == 0:
        return flat
    combine = _COMBINE[op]
    pos = lax.reshape(rows, (n,)) if isinstance(rows, Tracer) else rows.reshape(n)
    pos, acc = lax.sort((pos, updates), num_keys=1)
    ident = _identity(op, dtype_of(updates))
    step = 1
    while step < n:
        prev_acc = lax.pad(lax.slice(acc, (0,), (n - step,)), ident, [(step, 0, 0)])
        prev_pos = lax.pad(lax.slice(pos, (0,), (n - step,)), np.array(-1, dtype_of(pos)),
                           [(step, 0, 0)])
        acc = lax.select_n(lax.eq(pos, prev_pos), acc, combine(acc, prev_acc))
        step *= 2
    sorted_rows = lax.reshape(pos, (n, 1))
    return lax.scatter(flat, sorted_rows, combine(lax.gather(flat, sorted_rows), acc))


# --- functions ------------------------------------------------------------------------------------

def take(a, indices, axis=None, mode=None):
    """Elements of a at the given indices along axis (of the flattened array if None). Traced
    indices are clamped into range (numpy would raise)."""
    if eager(a, indices):
        return np.take(a, indices, axis=axis)
    a = asarray(a, "take")
    if axis is None:
        a = lax.reshape(a, (int(np.prod(shape_of(a), dtype=np.int64)),))
        axis = 0
    axis = canonical_axis(axis, len(shape_of(a)), "take")
    return getitem(a, (slice(None),) * axis + (asarray(indices, "take"),), mode=mode)


def take_along_axis(arr, indices, axis):
    """out[..., i, ...] = arr[..., indices[..., i, ...], ...] along axis (indices has arr's
    rank), e.g. to apply the result of argsort."""
    if eager(arr, indices):
        return np.take_along_axis(arr, indices, axis=axis)
    arr, indices = asarray(arr, "take_along_axis"), asarray(indices, "take_along_axis")
    if axis is None:
        arr = lax.reshape(arr, (int(np.prod(shape_of(arr), dtype=np.int64)),))
        axis = 0
    s = shape_of(arr)
    axis = canonical_axis(axis, len(s), "take_along_axis")
    if len(shape_of(indices)) != len(s):
        raise ValueError("fnp.take_along_axis: indices and arr must have the same number of "
                         "dimensions")
    index = tuple(indices if d == axis else
                  np.arange(s[d]).reshape([-1 if e == d else 1 for e in range(len(s))])
                  for d in range(len(s)))
    return getitem(arr, index)
