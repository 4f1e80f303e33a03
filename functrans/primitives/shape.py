"""Shape primitives: they move, copy or select elements and never do arithmetic on them.

Every primitive here is linear in its array operands, so its JVP applies the primitive itself to
the tangents and it has a transpose rule. Their Jacobians are 0/1 matrices: a permutation
(transpose, rev), the identity in another shape (reshape, squeeze), a selection (slice, pad,
concatenate) or a replication (broadcast_in_dim). Batching rules leave the batch axis where it
is whenever the primitive can work around it, and say where it ends up.

Also here, as plain functions on top of the primitives: expand_dims (a broadcast_in_dim, as in
JAX), broadcast, full, full_like, slice_in_dim, index_in_dim, and zeros / zeros_like_aval for
rules that need a materialized zero.
"""
import builtins
import operator

import sys

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray, aval_of_value
from ..core.errors import ConcretizationTypeError
from ..core.primitive import FLOAT0, Cost, Primitive, Zero, default_cost, is_undefined
from ..core.trace import Tracer, get_aval
from . import _sparsity_rules as _sparsity
from . import _forward
from ._batching import batch_size, bdim_at, moveaxis
from ._common import resolve_dtypes
from ..backend import loop_lowering
from ..backend.lowering import (Elementwise, View, impl_call, reshape_view, same_aval_identity,
                                unit_axes_map)

__all__ = ["broadcast", "broadcast_in_dim", "broadcasted_iota", "concatenate", "expand_dims",
           "full", "full_like", "index_in_dim", "iota", "pad", "reshape", "rev", "slice",
           "slice_in_dim", "squeeze", "transpose"]


# --- shared pieces -------------------------------------------------------------------------------

def _ints(fn, what, values):
    """Static integer parameters as a tuple of Python ints (traced values raise their own
    concretization error, which says how to fix it)."""
    try:
        items = tuple(values)
    except TypeError:
        raise TypeError(f"lax.{fn}: {what} must be a sequence of integers, got {values!r}") \
            from None
    out = []
    for v in items:
        try:
            out.append(operator.index(v))
        except ConcretizationTypeError:
            raise
        except TypeError:
            raise TypeError(f"lax.{fn}: {what} must be integers, got {values!r}") from None
    return tuple(out)


def _axis(fn, what, axis, ndim):
    """A possibly negative axis as an index in range(ndim)."""
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"lax.{fn}: {what} {axis} is out of range for rank {ndim}")
    return axis % ndim


def _axes(fn, what, axes, ndim):
    out = tuple(_axis(fn, what, a, ndim) for a in _ints(fn, what, axes))
    if len(set(out)) != len(out):
        raise ValueError(f"lax.{fn}: {what} {tuple(axes)} repeats an axis")
    return out


def _is_array(x):
    # Shortcuts that return the operand itself must still return an array, not a Python scalar.
    return isinstance(x, (np.ndarray, Tracer))


def _batch_axis(x, d):
    return d % get_aval(x).ndim


def _shifted(axes, bdim):
    """Axes of an unbatched operand as axes of the batched one (batch axis at bdim)."""
    return tuple(a + (a >= bdim) for a in axes)


def _linear_jvp(prim):
    """JVP of a primitive linear in its only operand: apply it to the tangent."""
    def jvp(primals, tangents, **params):
        return prim.bind(primals[0], **params), prim.bind(tangents[0], **params)
    prim.def_jvp(jvp)


def _copy_cost(prim):
    """Cost of a primitive that only moves data: read the inputs, write the output."""
    def cost(*avals, **params):
        return default_cost(*avals, out_avals=prim.out_avals(*avals, **params))
    prim.def_cost(cost)


def checked_primitive(name, impl, shape_rule, jac_structure, declared=None):
    """A primitive whose impl checks its arguments with the shape rule first: eagerly no shape
    rule runs, and numpy would otherwise fail with a message that does not name the lax
    function, or silently promote or broadcast. `declared`: its forward declaration, if it has
    one (_forward.py), which this completes instead of creating a new primitive."""
    def checked_impl(*args, **params):
        shape_rule(*map(aval_of_value, args), **params)
        return impl(*args, **params)
    checked_impl.__name__ = f"{name}_impl"
    # For programs whose equations the shape rule already checked (replay.py runs them).
    checked_impl.unchecked = impl
    # The family is the module that declares the primitive (docs/primitives.md lists it).
    checked_impl.__module__ = sys._getframe(1).f_globals["__name__"]
    if declared is not None:
        return _forward.define(declared, impl=checked_impl, shape_rule=shape_rule,
                               jac_structure=jac_structure)
    return Primitive(name, impl=checked_impl, shape_rule=shape_rule, jac_structure=jac_structure)


def _zero_scalar(dtype):
    return np.zeros((), dtype)[()]


# --- broadcast_in_dim ----------------------------------------------------------------------------

def _broadcast_in_dim_rule(x, *, shape, broadcast_dimensions):
    bd = broadcast_dimensions
    if len(bd) != x.ndim:
        raise TypeError(f"lax.broadcast_in_dim: broadcast_dimensions {bd} must name one output "
                        f"axis per operand axis; the operand is {x.str_short()}")
    if any(n < 0 for n in shape):
        raise ValueError(f"lax.broadcast_in_dim: negative size in shape {shape}")
    if any(not 0 <= d < len(shape) for d in bd) or any(a >= b for a, b in zip(bd, bd[1:])):
        raise ValueError(f"lax.broadcast_in_dim: broadcast_dimensions {bd} must be strictly "
                         f"increasing axes of the output shape {shape}")
    for i, d in enumerate(bd):
        if x.shape[i] not in (1, shape[d]):
            raise TypeError(f"lax.broadcast_in_dim: operand {x.str_short()} axis {i} (size "
                            f"{x.shape[i]}) cannot broadcast to output axis {d} of shape "
                            f"{shape}: sizes must be equal or 1")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    x = np.asarray(x)
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    # A fresh array (np.broadcast_to's read-only view costs 3x as much to make, and copying it
    # as much again).
    out = np.empty(shape, x.dtype)
    out[...] = x.reshape(expanded)
    return out


broadcast_in_dim_p = checked_primitive("broadcast_in_dim", _broadcast_in_dim_impl,
                                       _broadcast_in_dim_rule,
                                       jac_structure="replication (each output element copies one "
                                                "input element)",
                                       declared=_forward.broadcast_in_dim_p)
_linear_jvp(broadcast_in_dim_p)


@broadcast_in_dim_p.def_transpose
def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    aval = x.aval
    bd = broadcast_dimensions
    # Sum over the axes broadcasting created, and over those it stretched from size 1.
    summed = [i for i in range(len(shape)) if i not in bd]
    summed += [d for i, d in enumerate(bd) if aval.shape[i] == 1 and shape[d] != 1]
    if summed:
        ct = _forward.reduce_sum_p.bind(ct, axes=tuple(sorted(summed)))
    return [reshape(ct, aval.shape)]     # puts back the size-1 axes that were summed away


@broadcast_in_dim_p.def_batch
def _broadcast_in_dim_batch(args, dims, *, shape, broadcast_dimensions):
    x, = args
    d = _batch_axis(x, dims[0])
    bd = broadcast_dimensions
    # Put the batch axis in the output right after the output axis of operand axis d-1: the
    # broadcast dimensions stay increasing and nothing is transposed.
    pos = 0 if d == 0 else bd[d - 1] + 1
    size = get_aval(x).shape[d]
    new_shape = shape[:pos] + (size,) + shape[pos:]
    new_bd = bd[:d] + (pos,) + tuple(b + 1 for b in bd[d:])
    return broadcast_in_dim_p.bind(x, shape=new_shape, broadcast_dimensions=new_bd), pos


def _broadcast_in_dim_index_map(x, out, *, shape, broadcast_dimensions):
    # Kernels read operand axis i at the output index of axis broadcast_dimensions[i], or at
    # 0 where the operand has size 1 there.
    return tuple((None, 0, 0) if x.shape[i] == 1 and shape[d] != 1 else (d, 1, 0)
                 for i, d in enumerate(broadcast_dimensions))


def _broadcast_in_dim_view(x, xa, oa, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = xa.shape[i]
    return f"np.broadcast_to({x}.reshape({tuple(expanded)}), {tuple(shape)})"


broadcast_in_dim_p.def_lowering(View(_broadcast_in_dim_index_map, _broadcast_in_dim_view,
                                     read_only=True))
broadcast_in_dim_p.def_simplify(same_aval_identity)
broadcast_in_dim_p.def_sparsity(_sparsity.selection_rule(broadcast_in_dim_p))


_copy_cost(broadcast_in_dim_p)
# eagerly a fresh array written once (a read-only view would not do); under jit a view
broadcast_in_dim_p.cost_kind = "copy"


def broadcast_in_dim(operand, shape, broadcast_dimensions):
    """Broadcast operand to `shape`; operand axis i becomes output axis broadcast_dimensions[i]
    (its size must be 1 or equal that axis's size)."""
    shape = _ints("broadcast_in_dim", "shape", shape)
    bd = _ints("broadcast_in_dim", "broadcast_dimensions", broadcast_dimensions)
    if get_aval(operand).shape == shape and bd == tuple(range(len(shape))) and \
            _is_array(operand):
        return operand
    return broadcast_in_dim_p.bind(operand, shape=shape, broadcast_dimensions=bd)


def broadcast(operand, sizes):
    """Add leading axes of the given sizes (lax.broadcast)."""
    sizes = _ints("broadcast", "sizes", sizes)
    ndim = get_aval(operand).ndim
    return broadcast_in_dim(operand, sizes + get_aval(operand).shape,
                            tuple(range(len(sizes), len(sizes) + ndim)))


def expand_dims(array, dimensions):
    """Insert size-1 axes at `dimensions` (axes of the result)."""
    aval = get_aval(array)
    ndim_out = aval.ndim + len(tuple(dimensions))
    new = set(_axes("expand_dims", "dimensions", dimensions, ndim_out))
    shape = list(aval.shape)
    for i in sorted(new):
        shape.insert(i, 1)
    return broadcast_in_dim(array, shape, [i for i in range(ndim_out) if i not in new])


def full(shape, fill_value, dtype=None):
    """An array of `shape` filled with the scalar fill_value (which may be traced)."""
    shape = (operator.index(shape),) if isinstance(shape, (int, np.integer)) else \
        _ints("full", "shape", shape)
    if get_aval(fill_value).ndim:
        raise TypeError(f"lax.full: fill_value must be a scalar, got an array of shape "
                        f"{get_aval(fill_value).shape}")
    if dtype is not None:
        dtype = dtypes.canonicalize(dtype)
        if isinstance(fill_value, Tracer):
            aval = get_aval(fill_value)
            if aval.dtype != dtype or aval.weak_type:
                fill_value = _forward.convert_element_type_p.bind(fill_value, new_dtype=dtype,
                                                                  weak_type=False)
        else:
            fill_value = np.asarray(fill_value, dtype)[()]
    return broadcast_in_dim_p.bind(fill_value, shape=shape, broadcast_dimensions=())


def full_like(x, fill_value, dtype=None, shape=None):
    aval = get_aval(x)
    return full(aval.shape if shape is None else shape, fill_value,
                aval.dtype if dtype is None else dtype)


def zeros(shape, dtype):
    """Materialized zeros, staged as a broadcast scalar (programs never hold big zero constants)."""
    return full(shape, 0, dtype)


def zeros_like_aval(aval):
    """Materialized zeros of an aval; float0 (the tangent type of ints) is a plain numpy array."""
    if aval.dtype == FLOAT0:
        return np.zeros(aval.shape, FLOAT0)
    return full(aval.shape, 0, aval.dtype)


# --- reshape ----------------------------------------------------------------------------------

def _reshape_rule(x, *, new_sizes):
    if any(n < 0 for n in new_sizes) or int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"lax.reshape: cannot reshape {x.str_short()} ({x.size} elements) to "
                        f"new_sizes {new_sizes}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_impl(x, *, new_sizes):
    return np.reshape(np.asarray(x), new_sizes)


reshape_p = checked_primitive("reshape", _reshape_impl, _reshape_rule,
                              jac_structure="identity (elements keep their row-major order)")
_linear_jvp(reshape_p)


@reshape_p.def_transpose
def _reshape_transpose(ct, x, *, new_sizes):
    return [reshape(ct, x.aval.shape)]


@reshape_p.def_batch
def _reshape_batch(args, dims, *, new_sizes):
    x, = args
    # Row-major order only lines up with the batch axis in front.
    x = moveaxis(x, _batch_axis(x, dims[0]), 0)
    return reshape_p.bind(x, new_sizes=(get_aval(x).shape[0],) + new_sizes), 0


reshape_p.def_lowering(View(lambda x, out, *, new_sizes: unit_axes_map(x, out),
                              reshape_view, reshape=True))
reshape_p.def_simplify(same_aval_identity)


_copy_cost(reshape_p)
reshape_p.def_sparsity(_sparsity.selection_rule(reshape_p))


def reshape(operand, new_sizes, dimensions=None):
    """Reshape in row-major order; with `dimensions`, transpose by it first (as jax.lax)."""
    new_sizes = _ints("reshape", "new_sizes", new_sizes)
    if dimensions is not None:
        operand = transpose(operand, dimensions)
    if get_aval(operand).shape == new_sizes and _is_array(operand):
        return operand
    return reshape_p.bind(operand, new_sizes=new_sizes)


# --- transpose --------------------------------------------------------------------------------

def _transpose_rule(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"lax.transpose: permutation {permutation} is not a permutation of the "
                        f"axes of {x.str_short()}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def _transpose_impl(x, *, permutation):
    return np.transpose(np.asarray(x), permutation)


transpose_p = checked_primitive("transpose", _transpose_impl, _transpose_rule,
                                jac_structure="permutation", declared=_forward.transpose_p)
_linear_jvp(transpose_p)


@transpose_p.def_transpose
def _transpose_transpose(ct, x, *, permutation):
    return [transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


@transpose_p.def_batch
def _transpose_batch(args, dims, *, permutation):
    x, = args
    d = _batch_axis(x, dims[0])
    # The batch axis stays at d in the output; the other axes permute around it.
    perm = list(_shifted(permutation, d))
    perm.insert(d, d)
    return transpose_p.bind(x, permutation=tuple(perm)), d


def _transpose_index_map(x, out, *, permutation):
    m = [None] * x.ndim
    for k, p in enumerate(permutation):
        m[p] = (k, 1, 0)
    return tuple(m)


transpose_p.def_lowering(View(_transpose_index_map, lambda x, xa, oa, *, permutation:
                              f"{x}.transpose({tuple(permutation)})"))
transpose_p.def_simplify(lambda eqn, ctx: eqn.inputs[0] if tuple(eqn.params["permutation"]) ==
                         tuple(range(len(eqn.params["permutation"]))) else None)


_copy_cost(transpose_p)
transpose_p.def_sparsity(_sparsity.selection_rule(transpose_p))


def transpose(operand, permutation):
    """Permute the axes: output axis i is operand axis permutation[i]."""
    permutation = _ints("transpose", "permutation", permutation)
    if permutation == tuple(range(len(permutation))) and _is_array(operand) and \
            len(permutation) == get_aval(operand).ndim:
        return operand
    return transpose_p.bind(operand, permutation=permutation)


# --- squeeze ------------------------------------------------------------------------------------

def _squeeze_rule(x, *, dimensions):
    for d in dimensions:
        if not 0 <= d < x.ndim or x.shape[d] != 1:
            raise TypeError(f"lax.squeeze: dimensions {dimensions} must be axes of size 1 of "
                            f"{x.str_short()}")
    if len(set(dimensions)) != len(dimensions):
        raise ValueError(f"lax.squeeze: dimensions {dimensions} repeats an axis")
    shape = tuple(n for i, n in enumerate(x.shape) if i not in dimensions)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _squeeze_impl(x, *, dimensions):
    return np.squeeze(np.asarray(x), axis=dimensions)


squeeze_p = checked_primitive("squeeze", _squeeze_impl, _squeeze_rule,
                              jac_structure="identity (size-1 axes removed)")
_linear_jvp(squeeze_p)


@squeeze_p.def_transpose
def _squeeze_transpose(ct, x, *, dimensions):
    return [reshape(ct, x.aval.shape)]


@squeeze_p.def_batch
def _squeeze_batch(args, dims, *, dimensions):
    x, = args
    d = _batch_axis(x, dims[0])
    out_dim = d - sum(a < d for a in dimensions)
    return squeeze_p.bind(x, dimensions=_shifted(dimensions, d)), out_dim


squeeze_p.def_lowering(View(lambda x, out, *, dimensions: unit_axes_map(x, out),
                              reshape_view, reshape=True))
squeeze_p.def_simplify(same_aval_identity)


_copy_cost(squeeze_p)
squeeze_p.def_sparsity(_sparsity.selection_rule(squeeze_p))


def squeeze(array, dimensions):
    """Remove the given axes, each of size 1."""
    dims = tuple(sorted(_axes("squeeze", "dimensions", dimensions, get_aval(array).ndim)))
    if not dims and _is_array(array):
        return array
    return squeeze_p.bind(array, dimensions=dims)


# --- rev --------------------------------------------------------------------------------------

def _rev_rule(x, *, dimensions):
    if any(not 0 <= d < x.ndim for d in dimensions) or len(set(dimensions)) != len(dimensions):
        raise ValueError(f"lax.rev: dimensions {dimensions} must be distinct axes of "
                         f"{x.str_short()}")
    return x


def _rev_impl(x, *, dimensions):
    return np.flip(np.asarray(x), axis=dimensions)


rev_p = checked_primitive("rev", _rev_impl, _rev_rule,
                          jac_structure="permutation")
_linear_jvp(rev_p)


@rev_p.def_transpose
def _rev_transpose(ct, x, *, dimensions):
    return [rev_p.bind(ct, dimensions=dimensions)]


@rev_p.def_batch
def _rev_batch(args, dims, *, dimensions):
    x, = args
    d = _batch_axis(x, dims[0])
    return rev_p.bind(x, dimensions=_shifted(dimensions, d)), d


def _rev_index_map(x, out, *, dimensions):
    return tuple((d, -1, n - 1) if d in dimensions else (d, 1, 0)
                 for d, n in enumerate(x.shape))


def _rev_view(x, xa, oa, *, dimensions):
    parts = ", ".join("::-1" if d in dimensions else ":" for d in range(xa.ndim))
    return f"{x}[{parts}{',' if xa.ndim == 1 else ''}]"


rev_p.def_lowering(View(_rev_index_map, _rev_view))
rev_p.def_sparsity(_sparsity.selection_rule(rev_p))


_copy_cost(rev_p)


def rev(operand, dimensions):
    """Reverse the order of elements along the given axes."""
    dims = tuple(sorted(_axes("rev", "dimensions", dimensions, get_aval(operand).ndim)))
    if not dims and _is_array(operand):
        return operand
    return rev_p.bind(operand, dimensions=dims)


# --- slice ------------------------------------------------------------------------------------

def _slice_rule(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise TypeError(f"lax.slice: start_indices {start_indices}, limit_indices "
                        f"{limit_indices} and strides {strides} need one entry per axis of "
                        f"{x.str_short()}")
    shape = []
    for start, limit, stride, n in zip(start_indices, limit_indices, strides, x.shape):
        if not 0 <= start <= limit <= n or stride < 1:
            raise ValueError(f"lax.slice: cannot slice {x.str_short()} with start_indices "
                             f"{start_indices}, limit_indices {limit_indices}, strides "
                             f"{strides}: need 0 <= start <= limit <= size and stride >= 1")
        shape.append((limit - start + stride - 1) // stride)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


def _slice_impl(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * len(start_indices)
    return np.asarray(x)[tuple(builtins.slice(*s) for s in
                               zip(start_indices, limit_indices, strides))]


slice_p = checked_primitive("slice", _slice_impl, _slice_rule,
                            jac_structure="selection (each output element is one input element)")
_linear_jvp(slice_p)


@slice_p.def_transpose
def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    shape = x.aval.shape
    strides = strides or (1,) * len(shape)
    out_shape = get_aval(ct).shape
    if 0 in out_shape:
        return [Zero(x.aval.strip_weak())]
    # Zeros around the slice, and stride - 1 zeros between its elements.
    config = tuple((start, n - (start + (m - 1) * stride + 1), stride - 1)
                   for start, stride, n, m in zip(start_indices, strides, shape, out_shape))
    return [pad(ct, _zero_scalar(get_aval(ct).dtype), config)]


@slice_p.def_batch
def _slice_batch(args, dims, *, start_indices, limit_indices, strides):
    x, = args
    d = _batch_axis(x, dims[0])
    size = get_aval(x).shape[d]
    strides = strides and strides[:d] + (1,) + strides[d:]
    return slice_p.bind(x, start_indices=start_indices[:d] + (0,) + start_indices[d:],
                        limit_indices=limit_indices[:d] + (size,) + limit_indices[d:],
                        strides=strides), d


def _slice_index_map(x, out, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    return tuple((d, s, o) for d, (s, o) in enumerate(zip(strides, start_indices)))


def _slice_view(x, xa, oa, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * len(start_indices)
    parts = ", ".join(f"{a}:{b}:{s}" for a, b, s in zip(start_indices, limit_indices, strides))
    return f"{x}[{parts}{',' if len(start_indices) == 1 else ''}]"


slice_p.def_lowering(View(_slice_index_map, _slice_view))
slice_p.def_sparsity(_sparsity.selection_rule(slice_p))


_copy_cost(slice_p)


def slice(operand, start_indices, limit_indices, strides=None):  # noqa: A001 (jax.lax's name)
    """operand[start:limit:stride] along every axis; indices must lie in range (no wrapping)."""
    start = _ints("slice", "start_indices", start_indices)
    limit = _ints("slice", "limit_indices", limit_indices)
    strides = None if strides is None else _ints("slice", "strides", strides)
    if strides is not None and all(s == 1 for s in strides):
        strides = None
    return slice_p.bind(operand, start_indices=start, limit_indices=limit, strides=strides)


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """Slice along one axis; None and negative indices count as in Python slicing."""
    shape = get_aval(operand).shape
    axis = _axis("slice_in_dim", "axis", axis, len(shape))
    n = shape[axis]
    start = 0 if start_index is None else operator.index(start_index)
    limit = n if limit_index is None else operator.index(limit_index)
    start, limit = (start + n if start < 0 else start), (limit + n if limit < 0 else limit)
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, stride
    return slice(operand, starts, limits, strides)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """The element at a static `index` along `axis` (negative counts from the end)."""
    shape = get_aval(operand).shape
    axis = _axis("index_in_dim", "axis", axis, len(shape))
    index = operator.index(index)
    if not -shape[axis] <= index < shape[axis]:
        raise IndexError(f"lax.index_in_dim: index {index} is out of bounds for axis {axis} "
                         f"of size {shape[axis]}")
    index %= shape[axis]
    out = slice_in_dim(operand, index, index + 1, axis=axis)
    return out if keepdims else squeeze(out, (axis,))


# --- concatenate ----------------------------------------------------------------------------------

def _concatenate_rule(*xs, dimension):
    if not xs:
        raise TypeError("lax.concatenate: needs at least one operand")
    shapes = ", ".join(x.str_short() for x in xs)
    first = xs[0]
    if not 0 <= dimension < first.ndim:
        raise ValueError(f"lax.concatenate: dimension {dimension} is out of range for "
                         f"operands {shapes}")
    if len({x.dtype for x in xs}) > 1:
        raise TypeError(f"lax.concatenate: operands must have one dtype, got {shapes}")
    drop = lambda s: s[:dimension] + s[dimension + 1:]   # noqa: E731
    if any(x.ndim != first.ndim or drop(x.shape) != drop(first.shape) for x in xs):
        raise TypeError(f"lax.concatenate: operands must have equal shapes except along "
                        f"dimension {dimension}, got {shapes}")
    size = sum(x.shape[dimension] for x in xs)
    return ShapedArray(first.shape[:dimension] + (size,) + first.shape[dimension + 1:],
                       first.dtype, all(x.weak_type for x in xs))


def _concatenate_impl(*xs, dimension):
    return np.concatenate([np.asarray(x) for x in xs], axis=dimension)


concatenate_p = checked_primitive("concatenate", _concatenate_impl, _concatenate_rule,
                                  jac_structure="selection (identity blocks, one per "
                                                "operand, stacked)")


@concatenate_p.def_jvp
def _concatenate_jvp(primals, tangents, *, dimension):
    tangents = [zeros_like_aval(t.aval) if isinstance(t, Zero) else t for t in tangents]
    return (concatenate_p.bind(*primals, dimension=dimension),
            concatenate_p.bind(*tangents, dimension=dimension))


@concatenate_p.def_transpose
def _concatenate_transpose(ct, *xs, dimension):
    cts, start = [], 0
    for x in xs:
        size = (x.aval if is_undefined(x) else get_aval(x)).shape[dimension]
        cts.append(slice_in_dim(ct, start, start + size, axis=dimension)
                   if is_undefined(x) else None)
        start += size
    return cts


@concatenate_p.def_batch
def _concatenate_batch(args, dims, *, dimension):
    size = batch_size(args, dims)
    # Line every operand's batch axis up with the first batched operand's.
    at = next(_batch_axis(x, d) for x, d in zip(args, dims) if d is not None)
    args = [bdim_at(x, d if d is None else _batch_axis(x, d), size, at)
            for x, d in zip(args, dims)]
    return concatenate_p.bind(*args, dimension=dimension + (dimension >= at)), at


concatenate_p.def_lowering(impl_call(concatenate_p))
concatenate_p.def_loop_lowering(loop_lowering.concatenate)
concatenate_p.def_sparsity(_sparsity.selection_rule(concatenate_p))


_copy_cost(concatenate_p)


def concatenate(operands, dimension):
    """Join operands (equal shapes except along `dimension`) along `dimension`."""
    operands = resolve_dtypes("concatenate", list(operands))
    if not operands:
        raise TypeError("lax.concatenate: needs at least one operand")
    dimension = _axis("concatenate", "dimension", dimension, get_aval(operands[0]).ndim or 1)
    if len(operands) == 1 and _is_array(operands[0]):
        return operands[0]
    return concatenate_p.bind(*operands, dimension=dimension)


# --- pad ----------------------------------------------------------------------------------------

def _pad_rule(x, padding_value, *, padding_config):
    if padding_value.ndim != 0:
        raise TypeError(f"lax.pad: padding_value must be a scalar, got "
                        f"{padding_value.str_short()}")
    if padding_value.dtype != x.dtype:
        raise TypeError(f"lax.pad: operand {x.str_short()} and padding_value "
                        f"{padding_value.str_short()} must have one dtype")
    if len(padding_config) != x.ndim:
        raise TypeError(f"lax.pad: padding_config {padding_config} needs one (low, high, "
                        f"interior) triple per axis of {x.str_short()}")
    shape = []
    for (lo, hi, interior), n in zip(padding_config, x.shape):
        size = lo + hi + n + max(n - 1, 0) * interior
        if interior < 0 or size < 0:
            raise ValueError(f"lax.pad: padding_config {padding_config} is invalid for "
                             f"{x.str_short()}: interior padding must be >= 0 and no axis may "
                             f"end up with negative size")
        shape.append(size)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type and padding_value.weak_type)


def _pad_impl(x, padding_value, *, padding_config):
    x = np.asarray(x)
    # Pad by the positive amounts, then crop where low/high are negative.
    grown = [max(lo, 0) + max(hi, 0) + n + max(n - 1, 0) * i
             for (lo, hi, i), n in zip(padding_config, x.shape)]
    out = np.full(grown, padding_value, dtype=x.dtype)
    if x.size:
        out[tuple(builtins.slice(max(lo, 0), max(lo, 0) + (n - 1) * (i + 1) + 1, i + 1)
                  for (lo, hi, i), n in zip(padding_config, x.shape))] = x
    return out[tuple(builtins.slice(max(-lo, 0), g - max(-hi, 0))
                     for (lo, hi, _), g in zip(padding_config, grown))]


pad_p = checked_primitive("pad", _pad_impl, _pad_rule,
                          jac_structure="selection (each output element is an operand element or "
                                   "the padding value)")


@pad_p.def_jvp
def _pad_jvp(primals, tangents, *, padding_config):
    (x, padding_value), (tx, tp) = primals, tangents
    if isinstance(tx, Zero):
        tx = zeros_like_aval(tx.aval)
    if isinstance(tp, Zero):
        tp = _zero_scalar(get_aval(tx).dtype)
    return (pad_p.bind(x, padding_value, padding_config=padding_config),
            pad_p.bind(tx, tp, padding_config=padding_config))


@pad_p.def_transpose
def _pad_transpose(ct, x, padding_value, *, padding_config):
    zero = _zero_scalar(get_aval(ct).dtype)
    # Undo the low/high padding (negative amounts become zeros), then take every
    # (interior + 1)-th element: the positions where operand elements landed.
    unpadded = pad(ct, zero, [(-lo, -hi, 0) for lo, hi, _ in padding_config])
    ct_x = slice(unpadded, [0] * len(padding_config), get_aval(unpadded).shape,
                 [i + 1 for _, _, i in padding_config])
    ct_pad = None
    if is_undefined(padding_value):
        # Every output element not taken from the operand is the padding value.
        everything = tuple(range(len(padding_config)))
        ct_pad = _forward.sub_p.bind(_forward.reduce_sum_p.bind(ct, axes=everything),
                                     _forward.reduce_sum_p.bind(ct_x, axes=everything))
    return [ct_x if is_undefined(x) else None, ct_pad]


@pad_p.def_batch
def _pad_batch(args, dims, *, padding_config):
    (x, padding_value), (dx, dp) = args, dims
    if dp is None:
        dx = _batch_axis(x, dx)
        config = padding_config[:dx] + ((0, 0, 0),) + padding_config[dx:]
        return pad_p.bind(x, padding_value, padding_config=config), dx
    # One padding value per batch member: pad with zeros, then select the padded positions.
    size = batch_size(args, dims)
    at = 0 if dx is None else _batch_axis(x, dx)
    x = bdim_at(x, dx, size, at)
    config = padding_config[:at] + ((0, 0, 0),) + padding_config[at:]
    padded = pad_p.bind(x, _zero_scalar(get_aval(x).dtype), padding_config=config)
    out_shape = get_aval(padded).shape
    unbatched = get_aval(x).shape[:at] + get_aval(x).shape[at + 1:]
    # A strong bool mask: select_n takes it as it is (a weak one it would first convert).
    is_padding = pad(full(unbatched, np.False_), np.True_, padding_config)
    others = tuple(i for i in range(len(out_shape)) if i != at)
    values = broadcast_in_dim(padding_value, out_shape, (at,))
    return _forward.select_n_p.bind(broadcast_in_dim(is_padding, out_shape, others), padded,
                                    values), at


pad_p.def_lowering(impl_call(pad_p))
pad_p.def_loop_lowering(loop_lowering.pad)
pad_p.def_sparsity(_sparsity.selection_rule(pad_p))


_copy_cost(pad_p)


def pad(operand, padding_value, padding_config):
    """Pad each axis with (low, high, interior) copies of the scalar padding_value; negative
    low/high crop instead."""
    operand, padding_value = resolve_dtypes("pad", [operand, padding_value])
    try:
        config = tuple(_ints("pad", "padding_config", triple) for triple in padding_config)
    except TypeError:
        raise TypeError(f"lax.pad: padding_config must be a sequence of (low, high, interior) "
                        f"integer triples, got {padding_config!r}") from None
    if any(len(t) != 3 for t in config):
        raise TypeError(f"lax.pad: padding_config must hold (low, high, interior) triples, got "
                        f"{padding_config!r}")
    return pad_p.bind(operand, padding_value, padding_config=config)


# --- iota ------------------------------------------------------------------------------------

def _iota_rule(*, dtype, shape, dimension):
    if dtype.kind not in "iufc":
        raise TypeError(f"lax.iota: dtype must be numeric, got {dtype.name}")
    if not 0 <= dimension < len(shape) or any(n < 0 for n in shape):
        raise ValueError(f"lax.broadcasted_iota: dimension {dimension} is not an axis of shape "
                         f"{shape}")
    return ShapedArray(shape, dtype, False)


def _iota_impl(*, dtype, shape, dimension):
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    counts = np.arange(shape[dimension], dtype=dtype).reshape(expanded)
    return np.broadcast_to(counts, shape).copy()


iota_p = checked_primitive("iota", _iota_impl, _iota_rule,
                           jac_structure="zero (no inputs)")


@iota_p.def_jvp
def _iota_jvp(primals, tangents, **params):
    # Never called (with no inputs there is no nonzero tangent); here for completeness.
    out = iota_p.bind(**params)
    return out, Zero.like(out)


@iota_p.def_batch
def _iota_batch(args, dims, **params):
    # Never called: vmap only calls rules with a batched input, and iota has no inputs.
    return iota_p.bind(**params), None


@iota_p.def_cost
def _iota_cost(*, dtype, shape, dimension):
    out = _iota_rule(dtype=dtype, shape=shape, dimension=dimension)
    return Cost(out.size, out.size * dtype.itemsize)


iota_p.def_lowering(Elementwise(lambda a, ctx, *, dtype, shape, dimension:
                                      ctx.index(dimension)))
iota_p.def_sparsity(_sparsity.zero)    # no operands: a constant


def iota(dtype, size):
    """[0, 1, ..., size - 1] as a vector of `dtype`."""
    return broadcasted_iota(dtype, (operator.index(size),), 0)


def broadcasted_iota(dtype, shape, dimension):
    """An array of `shape` whose elements are their own index along `dimension`."""
    shape = _ints("broadcasted_iota", "shape", shape)
    dimension = _axis("broadcasted_iota", "dimension", dimension, len(shape))
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=shape, dimension=dimension)
