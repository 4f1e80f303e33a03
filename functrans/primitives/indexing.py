"""Indexing primitives: slices at traced offsets, gathers and scatters at traced indices.

dynamic_slice / dynamic_update_slice take one scalar integer start index per axis (possibly
traced). As in XLA, each start is clamped so that the slice fits: start = clip(start, 0,
size - slice_size); nothing is ever out of range.

gather / scatter_add / scatter use a convention simpler than XLA's dimension numbers:

    indices: an integer array of shape (*batch, k), k <= operand.ndim. Each row
             indices[b] = (i_0, ..., i_{k-1}) names the sub-array operand[i_0, ..., i_{k-1}]
             of shape operand.shape[k:].
    gather(operand, indices)               -> shape (*batch, *operand.shape[k:]), row b is the
                                              sub-array named by indices[b]
    scatter_add(operand, indices, updates)  updates has gather's output shape; each updates[b]
                                              is added to the sub-array named by indices[b]
                                              (rows naming one place add up)
    scatter(operand, indices, updates)      same, but updates[b] replaces the sub-array; when
                                              several rows name one place, the last row wins
                                              (deterministically; derivatives follow that choice)

Out-of-range rows follow `mode`: "clip" clamps each index into range (gather's default, as in
JAX); "fill_or_drop" makes gather return zeros and scatters ignore the row (the scatters'
default, as in JAX). Negative indices are out of range: the primitives never wrap them
(functrans.numpy adds the axis size first, as numpy indexing does). Gathering any row from an
axis of size 0 gives zeros.

All of these are linear in their array operands (jointly in operand and update(s)), with 0/1
Jacobians; the indices are integers and get no derivative. Batching never loops: a batched
operand gets an extra index column holding each row's batch position (an iota), and batched
indices just become more rows.
"""
import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray
from ..core.primitive import Cost, Zero, is_undefined
from ..core.trace import Tracer, get_aval
from . import _sparsity_rules as _sparsity
from ._common import resolve_dtypes
from .shape import (_ints, broadcast_in_dim, broadcasted_iota, checked_primitive, concatenate,
                    expand_dims, full, reshape, slice_in_dim, squeeze, zeros_like_aval)
from ..backend import loop_lowering
from ..backend.lowering import impl_call
from ._batching import batch_size, bdim_at, moveaxis
from .elementwise import (add, convert_element_type, eq, max as lax_max, min as lax_min,
                          select_n)

__all__ = ["dynamic_index_in_dim", "dynamic_slice", "dynamic_slice_in_dim",
           "dynamic_update_index_in_dim", "dynamic_update_slice", "dynamic_update_slice_in_dim",
           "gather", "scatter", "scatter_add"]

INDEX_DTYPE = dtypes.int64    # dtype of the index arrays that batching rules build


def _batch_axis(x, d):
    return d % get_aval(x).ndim


def _check_starts(fn, operand, starts):
    if len(starts) != operand.ndim:
        raise TypeError(f"lax.{fn}: needs one start index per axis of {operand.str_short()}, "
                        f"got {len(starts)}")
    for s in starts:
        if s.ndim != 0 or s.dtype.kind not in "iu":
            raise TypeError(f"lax.{fn}: start indices must be integer scalars, got "
                            f"{s.str_short()}")


def _clamped_starts(starts, shape, sizes):
    """XLA's rule: each start index moves into range so that the slice fits."""
    return [min(max(int(s), 0), n - m) for s, n, m in zip(starts, shape, sizes)]


def _traced_clamped_start(start, n, m):
    """The same clamping, applied with lax ops to a (possibly batched) start index."""
    return lax_max(lax_min(convert_element_type(start, INDEX_DTYPE), n - m), 0)


def _slice_grid_indices(starts, start_dims, grid, batch_column):
    """Index rows of every element of slices at per-batch-member starts: shape (*grid, k),
    grid = (batch size, *slice sizes); row [b, p_0, ..] = clamped start[b] + p, with a
    leading column b when batch_column (a batched operand, batch axis first)."""
    col_shape = grid + (1,)
    cols = [broadcasted_iota(INDEX_DTYPE, col_shape, 0)] if batch_column else []
    for j, (s, d) in enumerate(zip(starts, start_dims)):
        s = broadcast_in_dim(s, col_shape, () if d is None else (0,))
        cols.append(add(s, broadcasted_iota(INDEX_DTYPE, col_shape, j + 1)))
    return concatenate(cols, len(grid))


# --- dynamic_slice -------------------------------------------------------------------------------

def _dynamic_slice_rule(operand, *starts, slice_sizes):
    _check_starts("dynamic_slice", operand, starts)
    if len(slice_sizes) != operand.ndim or \
            any(not 0 <= m <= n for m, n in zip(slice_sizes, operand.shape)):
        raise TypeError(f"lax.dynamic_slice: slice_sizes {slice_sizes} must give one size per "
                        f"axis of {operand.str_short()}, each between 0 and the axis size")
    return ShapedArray(slice_sizes, operand.dtype, operand.weak_type)


def _dynamic_slice_impl(operand, *starts, slice_sizes):
    operand = np.asarray(operand)
    starts = _clamped_starts(starts, operand.shape, slice_sizes)
    return operand[tuple(slice(s, s + m) for s, m in zip(starts, slice_sizes))]


dynamic_slice_p = checked_primitive("dynamic_slice", _dynamic_slice_impl, _dynamic_slice_rule,
                                    jac_structure="selection (a contiguous block of the operand)")


@dynamic_slice_p.def_jvp
def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    operand, *starts = primals
    return (dynamic_slice_p.bind(operand, *starts, slice_sizes=slice_sizes),
            dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes))


@dynamic_slice_p.def_transpose
def _dynamic_slice_transpose(ct, operand, *starts, slice_sizes):
    zeros = zeros_like_aval(operand.aval.strip_weak())
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


@dynamic_slice_p.def_batch
def _dynamic_slice_batch(args, dims, *, slice_sizes):
    (operand, *starts), (d, *start_dims) = args, dims
    size = batch_size(args, dims)
    if all(sd is None for sd in start_dims):
        d = _batch_axis(operand, d)
        return dynamic_slice_p.bind(operand, *starts[:d], 0, *starts[d:],
                                    slice_sizes=slice_sizes[:d] + (size,) + slice_sizes[d:]), d
    # Starts differ per batch member: gather every element of every member's slice.
    shape = get_aval(operand).shape
    if d is not None:
        d = _batch_axis(operand, d)
        operand = moveaxis(operand, d, 0)
        shape = shape[:d] + shape[d + 1:]
    starts = [_traced_clamped_start(s, n, m) for s, n, m in zip(starts, shape, slice_sizes)]
    indices = _slice_grid_indices(starts, start_dims, (size,) + slice_sizes, d is not None)
    return gather_p.bind(operand, indices, mode="clip"), 0


@dynamic_slice_p.def_cost
def _dynamic_slice_cost(operand, *starts, slice_sizes):
    n = int(np.prod(slice_sizes, dtype=np.int64))
    return Cost(0, 2 * n * operand.dtype.itemsize)


dynamic_slice_p.cost_kind = "gather_scatter"
dynamic_slice_p.def_lowering(impl_call(dynamic_slice_p))
dynamic_slice_p.def_loop_lowering(loop_lowering.dynamic_slice)
# Known starts: a selection; traced starts could select any element (dense).
dynamic_slice_p.def_sparsity(_sparsity.selection_rule(dynamic_slice_p, sources=(0,)))


def _start_list(fn, start_indices):
    """Start indices as a list of scalars; a rank-1 array is split into its elements."""
    if isinstance(start_indices, (np.ndarray, Tracer)):
        aval = get_aval(start_indices)
        if aval.ndim != 1:
            raise TypeError(f"lax.{fn}: start_indices must be a sequence of scalars or a vector,"
                            f" got {aval.str_short()}")
        if isinstance(start_indices, np.ndarray):
            return list(start_indices)
        return [squeeze(slice_in_dim(start_indices, i, i + 1), (0,)) for i in range(aval.shape[0])]
    return list(start_indices)


def dynamic_slice(operand, start_indices, slice_sizes):
    """The block of shape slice_sizes at start_indices (clamped so the block fits)."""
    starts = _start_list("dynamic_slice", start_indices)
    sizes = _ints("dynamic_slice", "slice_sizes", slice_sizes)
    return dynamic_slice_p.bind(operand, *starts, slice_sizes=sizes)


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0):
    shape = get_aval(operand).shape
    axis %= len(shape)
    starts = [0] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = slice_size
    return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True):
    axis %= get_aval(operand).ndim
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


# --- dynamic_update_slice --------------------------------------------------------------------

def _dynamic_update_slice_rule(operand, update, *starts):
    _check_starts("dynamic_update_slice", operand, starts)
    if update.dtype != operand.dtype or update.ndim != operand.ndim or \
            any(m > n for m, n in zip(update.shape, operand.shape)):
        raise TypeError(f"lax.dynamic_update_slice: update {update.str_short()} must have the "
                        f"dtype and rank of operand {operand.str_short()} and fit inside it")
    return ShapedArray(operand.shape, operand.dtype, operand.weak_type and update.weak_type)


def _dynamic_update_slice_impl(operand, update, *starts):
    out = np.array(operand, copy=True)
    update = np.asarray(update)
    starts = _clamped_starts(starts, out.shape, update.shape)
    out[tuple(slice(s, s + m) for s, m in zip(starts, update.shape))] = update
    return out


dynamic_update_slice_p = checked_primitive("dynamic_update_slice", _dynamic_update_slice_impl,
                                           _dynamic_update_slice_rule,
                                           jac_structure="selection (operand outside a block, "
                                                    "update inside)")


@dynamic_update_slice_p.def_jvp
def _dynamic_update_slice_jvp(primals, tangents):
    operand, update, *starts = primals
    t_operand, t_update = (zeros_like_aval(t.aval) if isinstance(t, Zero) else t
                           for t in tangents[:2])
    return (dynamic_update_slice_p.bind(operand, update, *starts),
            dynamic_update_slice_p.bind(t_operand, t_update, *starts))


@dynamic_update_slice_p.def_transpose
def _dynamic_update_slice_transpose(ct, operand, update, *starts):
    update_aval = update.aval if is_undefined(update) else get_aval(update)
    ct_operand = ct_update = None
    if is_undefined(operand):
        ct_operand = dynamic_update_slice_p.bind(ct, zeros_like_aval(update_aval.strip_weak()),
                                                 *starts)
    if is_undefined(update):
        ct_update = dynamic_slice_p.bind(ct, *starts, slice_sizes=update_aval.shape)
    return [ct_operand, ct_update] + [None] * len(starts)


@dynamic_update_slice_p.def_batch
def _dynamic_update_slice_batch(args, dims):
    (operand, update, *starts), (d_op, d_up, *start_dims) = args, dims
    size = batch_size(args, dims)
    if all(sd is None for sd in start_dims):
        at = _batch_axis(operand, d_op) if d_op is not None else _batch_axis(update, d_up)
        operand = bdim_at(operand, d_op, size, at)
        update = bdim_at(update, d_up, size, at)
        return dynamic_update_slice_p.bind(operand, update, *starts[:at], 0, *starts[at:]), at
    # Starts differ per batch member: scatter every element of every member's update. After
    # clamping, one member's rows are distinct, so set semantics need no tie-breaking.
    shape = get_aval(operand).shape if d_op is None else \
        tuple(n for i, n in enumerate(get_aval(operand).shape) if i != _batch_axis(operand, d_op))
    operand = bdim_at(operand, None if d_op is None else _batch_axis(operand, d_op), size, 0)
    update = bdim_at(update, None if d_up is None else _batch_axis(update, d_up), size, 0)
    update_shape = get_aval(update).shape[1:]
    starts = [_traced_clamped_start(s, n, m) for s, n, m in zip(starts, shape, update_shape)]
    indices = _slice_grid_indices(starts, start_dims, (size,) + update_shape, True)
    return scatter_p.bind(operand, indices, update, mode="clip", unique_indices=True), 0


@dynamic_update_slice_p.def_cost
def _dynamic_update_slice_cost(operand, update, *starts):
    return Cost(0, 2 * operand.size * operand.dtype.itemsize +
                2 * update.size * update.dtype.itemsize)


dynamic_update_slice_p.cost_kind = "gather_scatter"
dynamic_update_slice_p.def_lowering(impl_call(dynamic_update_slice_p))
dynamic_update_slice_p.def_loop_lowering(loop_lowering.dynamic_update_slice)
dynamic_update_slice_p.def_sparsity(_sparsity.selection_rule(dynamic_update_slice_p,
                                                              sources=(0, 1)))


def dynamic_update_slice(operand, update, start_indices):
    """operand with the block at start_indices (clamped so update fits) replaced by update."""
    operand, update = resolve_dtypes("dynamic_update_slice", [operand, update])
    starts = _start_list("dynamic_update_slice", start_indices)
    return dynamic_update_slice_p.bind(operand, update, *starts)


def dynamic_update_slice_in_dim(operand, update, start_index, axis):
    ndim = get_aval(operand).ndim
    starts = [0] * ndim
    starts[axis % ndim] = start_index
    return dynamic_update_slice(operand, update, starts)


def dynamic_update_index_in_dim(operand, update, index, axis):
    axis %= get_aval(operand).ndim
    if get_aval(update).ndim == get_aval(operand).ndim - 1:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis)


# --- gather / scatter: shared pieces ------------------------------------------------------------

MODES = ("clip", "fill_or_drop")
_MODE_ALIASES = {"clip": "clip", "fill": "fill_or_drop", "drop": "fill_or_drop",
                 "fill_or_drop": "fill_or_drop", "promise_in_bounds": "clip"}


def _canonical_mode(fn, mode, default):
    if mode is None:
        return default
    name = str(getattr(mode, "name", mode)).lower()
    if name not in _MODE_ALIASES:
        raise ValueError(f"lax.{fn}: mode must be one of {sorted(_MODE_ALIASES)}, got {mode!r}")
    return _MODE_ALIASES[name]


def _index_depth(fn, operand, indices, mode):
    """k, the number of leading operand axes that an index row names."""
    if mode not in MODES:
        raise ValueError(f"lax.{fn}: mode must be one of {MODES}, got {mode!r}")
    if indices.dtype.kind not in "iu" or indices.ndim < 1:
        raise TypeError(f"lax.{fn}: indices must be an integer array of shape (*batch, k), got "
                        f"{indices.str_short()}")
    k = indices.shape[-1]
    if k > operand.ndim:
        raise TypeError(f"lax.{fn}: index rows of length {k} (indices {indices.str_short()}) "
                        f"name more axes than operand {operand.str_short()} has")
    return k


def _check_updates(fn, operand, indices, updates, mode):
    k = _index_depth(fn, operand, indices, mode)
    expected = indices.shape[:-1] + operand.shape[k:]
    if updates.dtype != operand.dtype or updates.shape != expected:
        raise TypeError(f"lax.{fn}: updates must have operand's dtype and shape "
                        f"indices.shape[:-1] + operand.shape[k:] = {expected}; got operand "
                        f"{operand.str_short()}, indices {indices.str_short()}, updates "
                        f"{updates.str_short()}")
    return ShapedArray(operand.shape, operand.dtype, operand.weak_type and updates.weak_type)


def _rows(indices, dims):
    """Index rows as a (rows, k) int64 array; huge unsigned values stay out of range."""
    idx = np.asarray(indices)
    if idx.dtype == np.uint64:
        idx = np.minimum(idx, np.uint64(np.iinfo(np.int64).max))
    return idx.astype(np.int64).reshape(-1, len(dims))


def _in_range(rows, dims):
    return np.all((rows >= 0) & (rows < np.asarray(dims, dtype=np.int64)), axis=1)


def _scatter_rows(out, indices, updates, mode):
    """Index rows that take part in a scatter, and their updates, per `mode`."""
    dims = out.shape[:indices.shape[-1]]
    rows = _rows(indices, dims)
    updates = np.asarray(updates).reshape((rows.shape[0],) + out.shape[len(dims):])
    if mode == "clip":
        return np.clip(rows, 0, np.asarray(dims) - 1), updates
    keep = _in_range(rows, dims)
    return rows[keep], updates[keep]


# --- gather ------------------------------------------------------------------------------------

def _gather_rule(operand, indices, *, mode):
    k = _index_depth("gather", operand, indices, mode)
    return ShapedArray(indices.shape[:-1] + operand.shape[k:], operand.dtype, operand.weak_type)


def _gather_impl(operand, indices, *, mode):
    operand, indices = np.asarray(operand), np.asarray(indices)
    k = indices.shape[-1]
    dims = operand.shape[:k]
    out_shape = indices.shape[:-1] + operand.shape[k:]
    if k == 0:
        return np.broadcast_to(operand, out_shape).copy()
    if 0 in dims:
        return np.zeros(out_shape, operand.dtype)
    rows = _rows(indices, dims)
    out = operand[tuple(np.clip(rows, 0, np.asarray(dims) - 1).T)]
    if mode == "fill_or_drop":
        out[~_in_range(rows, dims)] = 0
    return out.reshape(out_shape)


gather_p = checked_primitive("gather", _gather_impl, _gather_rule,
                             jac_structure="selection (each output element is one operand "
                                      "element, or 0)")


@gather_p.def_jvp
def _gather_jvp(primals, tangents, *, mode):
    operand, indices = primals
    return (gather_p.bind(operand, indices, mode=mode),
            gather_p.bind(tangents[0], indices, mode=mode))


@gather_p.def_transpose
def _gather_transpose(ct, operand, indices, *, mode):
    # Each output element read one operand element (after clamping, or none if filled): send
    # its cotangent back there. The scatter modes treat out-of-range rows the same way.
    zeros = zeros_like_aval(operand.aval.strip_weak())
    return [scatter_add_p.bind(zeros, indices, ct, mode=mode), None]


def _with_batch_column(indices, d_idx, size, column):
    """Index rows with an extra column at position `column` holding each row's batch member
    (an iota along the indices' batch axis). Returns (indices, batch axis of the result)."""
    aval = get_aval(indices)
    if d_idx is None or d_idx == aval.ndim - 1:    # the last axis must stay the index rows
        indices, d_idx = bdim_at(indices, d_idx, size, 0), 0
    if np.iinfo(aval.dtype).max < size:
        indices = convert_element_type(indices, INDEX_DTYPE)
    shape = get_aval(indices).shape
    members = broadcasted_iota(get_aval(indices).dtype, shape[:-1] + (1,), d_idx)
    last = len(shape) - 1
    if column == 0:
        parts = [members, indices]
    elif column == shape[-1]:
        parts = [indices, members]
    else:
        parts = [slice_in_dim(indices, 0, column, axis=last), members,
                 slice_in_dim(indices, column, shape[-1], axis=last)]
    return concatenate(parts, last), d_idx


@gather_p.def_batch
def _gather_batch(args, dims, *, mode):
    (operand, indices), (d_op, d_idx) = args, dims
    size = batch_size(args, dims)
    d_op = None if d_op is None else _batch_axis(operand, d_op)
    d_idx = None if d_idx is None else _batch_axis(indices, d_idx)
    if d_op is None:
        if d_idx == get_aval(indices).ndim - 1:
            indices, d_idx = moveaxis(indices, d_idx, 0), 0
        return gather_p.bind(operand, indices, mode=mode), d_idx   # more rows, that's all
    k = get_aval(indices).shape[-1] if d_idx != get_aval(indices).ndim - 1 else \
        get_aval(indices).shape[-2]
    if d_idx is None and d_op >= k:
        # The batch axis is one of the axes each row takes whole: it just comes along.
        return gather_p.bind(operand, indices, mode=mode), get_aval(indices).ndim - 1 + d_op - k
    if d_op >= k:
        operand, d_op = moveaxis(operand, d_op, 0), 0
    # Rows now also name the batch axis of operand: add its column, the row's batch member.
    indices, d_out = _with_batch_column(indices, d_idx, size, d_op)
    return gather_p.bind(operand, indices, mode=mode), d_out


@gather_p.def_cost
def _gather_cost(operand, indices, *, mode):
    out = _gather_rule(operand, indices, mode=mode)
    return Cost(0, 2 * out.size * out.dtype.itemsize + indices.size * indices.dtype.itemsize)


gather_p.cost_kind = "gather_scatter"
gather_p.def_lowering(impl_call(gather_p))
# Known indices: a selection (filled elements depend on nothing); traced ones: dense.
gather_p.def_sparsity(_sparsity.selection_rule(gather_p, sources=(0,)))


def gather(operand, indices, mode=None):
    """Rows of operand named by indices (functrans's simplified convention, see the module
    docstring): out[b] = operand[indices[b, 0], ..., indices[b, k-1]]."""
    return gather_p.bind(operand, indices, mode=_canonical_mode("gather", mode, "clip"))


# --- scatter_add ---------------------------------------------------------------------------------

def _scatter_add_rule(operand, indices, updates, *, mode):
    if operand.dtype.kind not in "iufc":
        raise TypeError(f"lax.scatter_add: operand must be numeric, got {operand.str_short()}")
    return _check_updates("scatter_add", operand, indices, updates, mode)


def _scatter_add_impl(operand, indices, updates, *, mode):
    out, indices = np.array(operand, copy=True), np.asarray(indices)
    if out.size == 0:
        return out
    if indices.shape[-1] == 0:    # every row names the whole operand
        return out + np.asarray(updates).reshape((-1,) + out.shape).sum(0, dtype=out.dtype)
    rows, updates = _scatter_rows(out, indices, updates, mode)
    np.add.at(out, tuple(rows.T), updates)
    return out


scatter_add_p = checked_primitive("scatter_add", _scatter_add_impl, _scatter_add_rule,
                                  jac_structure="selection-sum (identity on operand; each update "
                                           "adds into one place)")


@scatter_add_p.def_jvp
def _scatter_add_jvp(primals, tangents, *, mode):
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    out = scatter_add_p.bind(operand, indices, updates, mode=mode)
    if isinstance(t_updates, Zero):
        return out, t_operand
    if isinstance(t_operand, Zero):
        t_operand = zeros_like_aval(t_operand.aval)
    return out, scatter_add_p.bind(t_operand, indices, t_updates, mode=mode)


@scatter_add_p.def_transpose
def _scatter_add_transpose(ct, operand, indices, updates, *, mode):
    return [ct if is_undefined(operand) else None, None,
            gather_p.bind(ct, indices, mode=mode) if is_undefined(updates) else None]


def _scatter_batch(prim):
    """Batching rule shared by the scatters: trailing batch axes ride along; otherwise the
    operand's batch axis becomes one more indexed axis, with a batch-member index column."""
    def rule(args, dims, **params):
        operand, indices, updates = args
        d_op, d_idx, d_up = (None if d is None else _batch_axis(x, d)
                             for x, d in zip(args, dims))
        size = batch_size(args, dims)
        index_shape = get_aval(indices).shape         # unbatched: (*batch, k)
        if d_idx is not None:
            index_shape = index_shape[:d_idx] + index_shape[d_idx + 1:]
        n_rows_axes, k = len(index_shape) - 1, index_shape[-1]
        if d_idx is None:
            trailing = d_op - k if d_op is not None and d_op >= k else \
                d_up - n_rows_axes if d_up is not None and d_up >= n_rows_axes else None
            if trailing is not None:
                operand = bdim_at(operand, d_op, size, k + trailing)
                updates = bdim_at(updates, d_up, size, n_rows_axes + trailing)
                return prim.bind(operand, indices, updates, **params), k + trailing
        if d_op is None or d_op >= k:
            operand, d_op = bdim_at(operand, d_op, size, 0), 0
        indices, d_rows = _with_batch_column(indices, d_idx, size, d_op)
        updates = bdim_at(updates, d_up, size, d_rows)
        return prim.bind(operand, indices, updates, **params), d_op
    prim.def_batch(rule)


_scatter_batch(scatter_add_p)


def _scatter_cost(operand, indices, updates, **params):
    return Cost(updates.size, 2 * operand.size * operand.dtype.itemsize +
                indices.size * indices.dtype.itemsize + 2 * updates.size * updates.dtype.itemsize)


scatter_add_p.def_cost(_scatter_cost)
scatter_add_p.cost_kind = "gather_scatter"
scatter_add_p.def_lowering(impl_call(scatter_add_p))


@scatter_add_p.def_sparsity
def _scatter_add_sparsity(ins, out_avals, *, mode):
    """Identity on the operand; each update element adds into the one place its index row names
    (traced indices: into any place)."""
    operand, indices, updates = ins
    out, n = out_avals[0], operand.n_inputs
    if indices.value is None:
        spread = _sparsity.dense([updates], out_avals)[0]
        return [_sparsity.union([operand.pattern, spread], out.size, n)]
    idx = np.asarray(indices.value)
    k = idx.shape[-1]
    trailing = int(np.prod(out.shape[k:], dtype=np.int64))
    numbers = np.arange(updates.aval.size, dtype=np.int64).reshape(-1, trailing)
    if k == 0:              # every index row names the whole operand
        rows, targets = numbers, np.broadcast_to(np.arange(trailing), numbers.shape)
    else:
        kept_rows, rows = _scatter_rows(np.empty(out.shape, bool), idx, numbers, mode)
        base = np.ravel_multi_index(tuple(kept_rows.T), out.shape[:k]) if len(kept_rows) else \
            np.zeros(0, np.int64)
        targets = base[:, None] * trailing + np.arange(trailing)
    group_of = np.full(operand.aval.size + updates.aval.size, -1, np.int64)
    group_of[:operand.aval.size] = np.arange(operand.aval.size)
    group_of[operand.aval.size + np.asarray(rows).ravel()] = np.asarray(targets).ravel()
    stacked = _sparsity.stack([operand.pattern, updates.pattern], n)
    return [_sparsity.groups(stacked, group_of, out.size)]


def scatter_add(operand, indices, updates, mode=None):
    """operand with updates[b] added at the place indices[b] names (see the module docstring)."""
    operand, updates = resolve_dtypes("scatter_add", [operand, updates])
    return scatter_add_p.bind(operand, indices, updates,
                              mode=_canonical_mode("scatter_add", mode, "fill_or_drop"))


# --- scatter (set) -------------------------------------------------------------------------------

def _scatter_rule(operand, indices, updates, *, mode, unique_indices):
    return _check_updates("scatter", operand, indices, updates, mode)


def _scatter_impl(operand, indices, updates, *, mode, unique_indices):
    out, indices = np.array(operand, copy=True), np.asarray(indices)
    if out.size == 0 or indices.size == 0 and indices.shape[-1] != 0:
        return out
    if indices.shape[-1] == 0:    # every row names the whole operand: the last one wins
        updates = np.asarray(updates).reshape((-1,) + out.shape)
        return updates[-1].copy() if len(updates) else out
    rows, updates = _scatter_rows(out, indices, updates, mode)
    # numpy does not promise which of several writes to one place lands; pick the last row
    # explicitly (the first occurrence in reversed order).
    flat = np.ravel_multi_index(tuple(rows.T), out.shape[:rows.shape[1]])
    _, first_reversed = np.unique(flat[::-1], return_index=True)
    last = len(flat) - 1 - first_reversed
    out[tuple(rows[last].T)] = updates[last]
    return out


scatter_p = checked_primitive("scatter", _scatter_impl, _scatter_rule,
                              jac_structure="selection (each output element is an operand or an "
                                       "update element)")


@scatter_p.def_jvp
def _scatter_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_operand, _, t_updates = (zeros_like_aval(t.aval) if isinstance(t, Zero) and i != 1 else t
                               for i, t in enumerate(tangents))
    return (scatter_p.bind(operand, indices, updates, **params),
            scatter_p.bind(t_operand, indices, t_updates, **params))


def _winning_rows(indices, operand_aval, mode, unique_indices):
    """A bool per index row: does its update land (is it the last row naming its place)?"""
    rows_shape = get_aval(indices).shape[:-1]
    k = get_aval(indices).shape[-1]
    ids = reshape(broadcasted_iota(INDEX_DTYPE, (int(np.prod(rows_shape, dtype=np.int64)),), 0),
                  rows_shape)
    # Scatter each row's id to its place: the id left there is the row that wins.
    owners = scatter_p.bind(full(operand_aval.shape[:k], -1, INDEX_DTYPE), indices, ids,
                            mode=mode, unique_indices=unique_indices)
    return eq(gather_p.bind(owners, indices, mode=mode), ids)


@scatter_p.def_transpose
def _scatter_transpose(ct, operand, indices, updates, *, mode, unique_indices):
    params = dict(mode=mode, unique_indices=unique_indices)
    updates_aval = updates.aval if is_undefined(updates) else get_aval(updates)
    ct_operand = ct_updates = None
    if is_undefined(operand):
        # Overwritten elements of operand do not reach the output.
        ct_operand = scatter_p.bind(ct, indices, zeros_like_aval(updates_aval.strip_weak()),
                                    **params)
    if is_undefined(updates):
        ct_updates = gather_p.bind(ct, indices, mode=mode)
        if not unique_indices:    # rows overwritten by a later row do not reach the output
            wins = _winning_rows(indices, get_aval(ct), mode, unique_indices)
            shape = updates_aval.shape
            wins = broadcast_in_dim(wins, shape, tuple(range(get_aval(wins).ndim)))
            ct_updates = select_n(wins, zeros_like_aval(updates_aval.strip_weak()), ct_updates)
    return [ct_operand, None, ct_updates]


_scatter_batch(scatter_p)
scatter_p.def_cost(_scatter_cost)
scatter_p.cost_kind = "gather_scatter"
scatter_p.def_lowering(impl_call(scatter_p))
scatter_p.def_sparsity(_sparsity.selection_rule(scatter_p, sources=(0, 2)))


def scatter(operand, indices, updates, mode=None, unique_indices=False):
    """operand with the place indices[b] names replaced by updates[b]; when several rows name
    one place the last row wins (see the module docstring). unique_indices=True promises that
    no two rows name one place, which makes the transpose cheaper."""
    operand, updates = resolve_dtypes("scatter", [operand, updates])
    return scatter_p.bind(operand, indices, updates,
                          mode=_canonical_mode("scatter", mode, "fill_or_drop"),
                          unique_indices=bool(unique_indices))
