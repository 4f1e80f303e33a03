"""Array creation: array, asarray, zeros, ones, full, the *_like forms, arange, linspace, eye.

Shapes must be concrete: a traced size raises the concretization error of Tracer.__index__.
Under tracing, constant arrays are built by broadcasting a scalar (so a program holds a small
literal, not a large constant).
"""
import numpy as np

from .. import lax
from ..core import dtypes
from ..core.trace import Tracer
from ._promotion import (asarray as _as_operand, broadcast_shapes, broadcast_to,
                         canonical_axis, canonical_dtype, cast, concrete, dtype_of, eager,
                         shape_arg, shape_of, typed)

__all__ = ["array", "asarray", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
           "full_like", "empty_like", "arange", "linspace", "eye", "identity", "tri"]


def _optional_dtype(dtype, name):
    return None if dtype is None else canonical_dtype(dtype, name)


def array(object, dtype=None, copy=True, ndmin=0):
    """An array from an array, a scalar, or (nested) lists and tuples, which may hold traced
    values (they are stacked)."""
    dtype = _optional_dtype(dtype, "array")
    if eager(object):
        return np.array(object, dtype=dtype, copy=copy, ndmin=ndmin)
    x = _as_operand(object, "array")
    x = _strong(x, dtype if dtype is not None else dtype_of(x))
    if len(shape_of(x)) < ndmin:
        x = lax.reshape(x, (1,) * (ndmin - len(shape_of(x))) + shape_of(x))
    return x


def asarray(a, dtype=None):
    """a as an array (no copy where none is needed)."""
    dtype = _optional_dtype(dtype, "asarray")
    if eager(a):
        return np.asarray(a, dtype=dtype)
    x = _as_operand(a, "asarray")
    return _strong(x, dtype if dtype is not None else dtype_of(x))


def _strong(x, dtype):
    """x converted to dtype, strongly typed: arrays made from Python scalars are no longer
    weak (np.asarray(2.0) is a float64 array)."""
    if typed(x) == (dtype, False):
        return x
    if isinstance(x, Tracer):
        return lax.convert_element_type(x, dtype)
    return np.asarray(x, dtype=dtype)


def full(shape, fill_value, dtype=None):
    """An array of `shape` filled with fill_value (broadcast to shape if it is an array)."""
    shape = shape_arg(shape, "full")
    dtype = _optional_dtype(dtype, "full")
    if eager(fill_value):
        return np.full(shape, fill_value, dtype=dtype)
    value = _as_operand(fill_value, "full")
    value = _strong(value, dtype if dtype is not None else dtype_of(value))
    return broadcast_to(value, shape, "full")


def zeros(shape, dtype=None):
    """An array of zeros (float64 unless dtype is given)."""
    return _constant(shape, 0, dtype, "zeros", np.zeros)


def ones(shape, dtype=None):
    """An array of ones (float64 unless dtype is given)."""
    return _constant(shape, 1, dtype, "ones", np.ones)


def empty(shape, dtype=None):
    """Like zeros: arrays are not mutable here, so uninitialized memory has no use."""
    return _constant(shape, 0, dtype, "empty", np.zeros)


def _constant(shape, value, dtype, name, np_fun):
    shape = shape_arg(shape, name)
    dtype = dtypes.float64 if dtype is None else canonical_dtype(dtype, name)
    if eager():
        return np_fun(shape, dtype=dtype)
    return broadcast_to(np.array(value, dtype=dtype), shape, name)


def _like(name, value):
    def fun(a, dtype=None, shape=None):
        return full_like(a, value, dtype, shape)
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = f"An array of {value}s with the shape and dtype of a (unless given)."
    return fun


def full_like(a, fill_value, dtype=None, shape=None):
    """An array filled with fill_value, with the shape and dtype of a (unless given)."""
    dtype = _optional_dtype(dtype, "full_like")
    shape = None if shape is None else shape_arg(shape, "full_like")
    if eager(a, fill_value):
        return np.full_like(a, fill_value, dtype=dtype, shape=shape)
    a = _as_operand(a, "full_like")
    return full(shape_of(a) if shape is None else shape, fill_value,
                dtype_of(a) if dtype is None else dtype)


zeros_like = _like("zeros_like", 0)
ones_like = _like("ones_like", 1)
empty_like = _like("empty_like", 0)     # zeros: see empty


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop), numpy's rules for the length and dtype. The
    arguments fix the length, so they must be concrete. Integer ranges are staged as an iota;
    float ranges are computed by numpy (its rounding of start + i * step is kept exactly)."""
    dtype = _optional_dtype(dtype, "arange")
    args = [concrete(v, "arange") for v in (start, stop, step) if v is not None]
    if step is not None and stop is None:
        raise TypeError("fnp.arange: a step needs a stop (use arange(start, stop, step))")
    values = np.arange(*args, dtype=dtype)
    if eager() or values.dtype.kind not in "iu":
        return values
    first = int(values[0]) if values.size else 0
    stride = int(values[1]) - first if values.size > 1 else 1
    out = lax.iota(values.dtype, values.size)
    if stride != 1:
        out = lax.mul(out, np.array(stride, values.dtype))
    if first != 0:
        out = lax.add(out, np.array(first, values.dtype))
    return out


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """num evenly spaced values from start to stop (stop excluded if not endpoint), computed as
    numpy does: start + arange(num) * step, the last value set to stop. start and stop may be
    arrays (the values then run along `axis`) and may be traced."""
    num = shape_arg(num, "linspace")[0]
    dtype = _optional_dtype(dtype, "linspace")
    if eager(start, stop):
        return np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, dtype=dtype,
                           axis=axis)
    start, stop = _as_operand(start, "linspace"), _as_operand(stop, "linspace")
    # numpy computes in the arguments' common dtype, made inexact (ints give float64).
    dt, _ = dtypes.result_type(typed(start), typed(stop), (dtypes.float64, True))
    extra = broadcast_shapes(shape_of(start), shape_of(stop), name="linspace")
    start, stop = (broadcast_to(_strong(v, dt), extra, "linspace") for v in (start, stop))
    shape = (num,) + extra
    delta = lax.sub(stop, start)
    y = lax.broadcast_in_dim(lax.iota(dt, num), shape, (0,))
    div = num - 1 if endpoint else num
    if div > 0:
        step = lax.div(delta, float(div))
        # numpy divides first when any step is zero, so that a zero-width range stays exact
        by_step = lax.mul(y, broadcast_to(step, shape))
        by_delta = lax.mul(lax.div(y, float(div)), broadcast_to(delta, shape))
        any_zero = lax.reduce_max(lax.eq(step, 0), tuple(range(len(extra))))
        y = lax.select_n(any_zero, by_step, by_delta)
    else:
        step = np.array(np.nan, dt)
        y = lax.mul(y, broadcast_to(delta, shape))
    y = lax.add(y, broadcast_to(start, shape))
    if endpoint and num > 1:
        head = lax.slice(y, (0,) * len(shape), (num - 1,) + extra)
        y = lax.concatenate([head, broadcast_to(stop, (1,) + extra)], 0)
    if axis != 0:       # the values' axis moved from the front to `axis`
        axis = canonical_axis(axis, len(shape), "moveaxis")
        perm = list(range(1, len(shape)))
        perm.insert(axis, 0)
        y = lax.transpose(y, tuple(perm))
    if dtype is not None:
        y = cast(lax.floor(y) if dtype.kind in "iu" else y, dtype)
    return (y, step) if retstep else y


def tri(N, M=None, k=0, dtype=None):
    """Ones on and below the k-th diagonal of an N x M matrix, zeros elsewhere."""
    N = shape_arg(N, "tri")[0]
    M = N if M is None else shape_arg(M, "tri")[0]
    dtype = dtypes.float64 if dtype is None else canonical_dtype(dtype, "tri")
    if eager():
        return np.tri(N, M, k, dtype=dtype)
    return cast(diagonal_mask(N, M, k, lax.ge), dtype)


def diagonal_mask(n, m, k, compare):
    """compare(col - row, k) for the entries of an n x m matrix, as booleans."""
    rows = lax.broadcasted_iota(dtypes.int64, (n, m), 0)
    cols = lax.broadcasted_iota(dtypes.int64, (n, m), 1)
    return compare(lax.add(rows, int(k)), cols)


def eye(N, M=None, k=0, dtype=None):
    """An N x M array with ones on the k-th diagonal, zeros elsewhere."""
    N = shape_arg(N, "eye")[0]
    M = N if M is None else shape_arg(M, "eye")[0]
    k = int(concrete(k, "eye"))
    dtype = dtypes.float64 if dtype is None else canonical_dtype(dtype, "eye")
    if eager():
        return np.eye(N, M, k, dtype=dtype)
    return cast(diagonal_mask(N, M, k, lax.eq), dtype)


def identity(n, dtype=None):
    """The n x n identity matrix."""
    return eye(n, dtype=dtype)
