"""Reductions with numpy's axis/keepdims/dtype rules: sum, prod, mean, var, std, max, min,
argmax, argmin, all, any, count_nonzero, cumsum, cumprod.

Result dtypes follow JAX (with 64-bit types): sums and products of booleans and integers
narrower than 64 bits accumulate in int64 (uint64 for unsigned), as in numpy; cumsum/cumprod keep
an integer's dtype (numpy widens; booleans give int64); mean, var and std of integers are in the
float dtype of dtypes.to_inexact (float32 up to 32-bit integers, where numpy gives float64); the
mean of float16 is accumulated in float32. Empty max/min raise, as in numpy and JAX, unless an
initial= value is given.

mean, var and std have no separate numpy path: eagerly, their lax operations simply run on
numpy arrays (numpy's own np.mean casts inside the summation, which can group a long sum
differently and change the last bit).
"""
import builtins

import numpy as np

from .. import lax
from ..core import dtypes
from . import _complex_math
from ._promotion import (asarray, canonical_axes, canonical_axis, canonical_dtype, cast,
                         dtype_of, eager, numpy_operand, recorded, shape_of)
from .elementwise import maximum, minimum, where as _select

__all__ = ["sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "argmax",
           "argmin", "all", "any", "count_nonzero", "cumsum", "cumprod"]


def _accumulator_dtype(dtype, requested, name):
    """numpy's dtype for sums and products: booleans and narrow ints widen to 64 bits."""
    if requested is not None:
        return canonical_dtype(requested, name)
    if dtype.kind == "b" or (dtype.kind == "i" and dtype.itemsize < 8):
        return dtypes.int64
    if dtype.kind == "u" and dtype.itemsize < 8:
        return dtypes.uint64
    return dtype


def _numpy_accumulate(np_fun, a, axis, dtype, keepdims):
    """The eager sum/prod: converted to the accumulator dtype first, as the traced path does
    (numpy's casting inside the reduction may group a long float sum differently)."""
    a = np.asarray(numpy_operand(a))
    acc = _accumulator_dtype(a.dtype, dtype, np_fun.__name__)
    return np_fun(a.astype(acc, copy=False), axis=axis, dtype=acc, keepdims=keepdims)


def _keep(out, axes, keepdims):
    return lax.expand_dims(out, axes) if keepdims and axes else out


def _reduce(name, lax_fun, a, axis, keepdims, dtype=None):
    a = asarray(a, name)
    axes = canonical_axes(axis, len(shape_of(a)), name)
    if dtype is not None:
        a = cast(a, dtype)
    return _keep(lax_fun(a, axes), axes, keepdims)


def sum(a, axis=None, dtype=None, keepdims=False):
    """Sum over the given axes (all by default)."""
    if eager(a):
        return _numpy_accumulate(np.sum, a, axis, dtype, keepdims)
    return recorded(_sum, (a,), (axis, dtype, keepdims))


def _sum(a, axis, dtype, keepdims):
    a = asarray(a, "sum")
    dtype = _accumulator_dtype(dtype_of(a), dtype, "sum")
    if dtype.kind == "b":       # numpy sums booleans with logical or when asked for bool
        return any(a, axis=axis, keepdims=keepdims)
    return _reduce("sum", lax.reduce_sum, a, axis, keepdims, dtype)


def prod(a, axis=None, dtype=None, keepdims=False):
    """Product over the given axes (all by default)."""
    if eager(a):
        return _numpy_accumulate(np.prod, a, axis, dtype, keepdims)
    a = asarray(a, "prod")
    dtype = _accumulator_dtype(dtype_of(a), dtype, "prod")
    if dtype.kind == "b":
        return all(a, axis=axis, keepdims=keepdims)
    return _reduce("prod", lax.reduce_prod, a, axis, keepdims, dtype)


def _count(a, axes):
    return int(np.prod([shape_of(a)[i] for i in axes], dtype=np.int64))


def mean(a, axis=None, dtype=None, keepdims=False):
    """Arithmetic mean over the given axes: sum / count. Integers give JAX's float dtype for
    them (float32 up to 32 bits); float16 is accumulated in float32 and rounded back."""
    return recorded(_mean, (a,), (axis, dtype, keepdims))


def _mean(a, axis, dtype, keepdims):
    a = asarray(a, "mean")
    axes = canonical_axes(axis, len(shape_of(a)), "mean")
    in_dtype = dtype_of(a)
    result_dtype = None
    if dtype is not None:
        dtype = canonical_dtype(dtype, "mean")
    elif in_dtype.kind in "biu":
        dtype = dtypes.to_inexact(in_dtype)
    elif in_dtype == dtypes.float16:
        dtype, result_dtype = dtypes.float32, dtypes.float16
    total = lax.reduce_sum(cast(a, dtype) if dtype is not None else a, axes)
    out = lax.div(total, _count(a, axes))
    if result_dtype is not None:
        out = cast(out, result_dtype)
    return _keep(out, axes, keepdims)


def var(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """Variance over the given axes, sum(|a - mean|**2) / (count - ddof), computed as numpy
    does (integers in float64; complex inputs give a real variance)."""
    a = asarray(a, "var")
    axes = canonical_axes(axis, len(shape_of(a)), "var")
    if dtype is not None:
        dtype = canonical_dtype(dtype, "var")
    elif dtype_of(a).kind in "biu":
        dtype = dtypes.to_inexact(dtype_of(a))
    x = cast(a, dtype) if dtype is not None else a
    count = _count(a, axes)
    mean_ = lax.div(lax.reduce_sum(x, axes), count)
    centered = lax.sub(x, lax.broadcast_in_dim(mean_, shape_of(x), _kept(len(shape_of(x)),
                                                                          axes)))
    if dtype_of(centered).kind == "c":
        re, im = lax.real(centered), lax.imag(centered)
        squares = lax.add(lax.mul(re, re), lax.mul(im, im))
    else:
        squares = lax.mul(centered, centered)
    out = lax.div(lax.reduce_sum(squares, axes), builtins.max(count - ddof, 0))
    return _keep(out, axes, keepdims)


def std(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """Standard deviation: sqrt(var(a, axis, dtype, ddof))."""
    return lax.sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def _kept(ndim, axes):
    return tuple(d for d in range(ndim) if d not in axes)


def _extremum(name, np_fun, lax_fun, lax_pair):
    def fun(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        if out is not None:
            raise NotImplementedError(f"fnp.{name}: the out argument is not supported (arrays "
                                      "are immutable); use the returned value")
        if where is not None and initial is None:
            raise ValueError(f"fnp.{name}: reducing with where= needs initial=, the value of "
                             "positions where nothing is selected")
        if eager(a, initial, where):
            extra = {k: v for k, v in (("initial", initial), ("where", where)) if v is not None}
            return np_fun(a, axis=axis, keepdims=keepdims, **extra)
        if initial is None and where is None:
            return recorded(traced, (a,), (axis, keepdims))
        return traced(a, axis, keepdims, initial, where)

    def traced(a, axis, keepdims, initial=None, where=None):
        a = asarray(a, name)
        axes = canonical_axes(axis, len(shape_of(a)), name)
        if initial is None and _count(a, axes) == 0:
            raise ValueError(f"fnp.{name}: zero-size array to reduction operation {name}, "
                             "which has no identity; pass initial= to give empty reductions "
                             "a value")
        if where is not None:
            a = _select(where, a, initial)
        if dtype_of(a).kind == "c":     # numpy's lexicographic order (real, then imaginary)
            result = _complex_math.reduce_extremum(a, axes, lax_pair == "max")
            if keepdims:
                result = lax.expand_dims(result, axes)
        else:
            result = _reduce(name, lax_fun, a, axis, keepdims)
        if initial is not None:
            result = (maximum if lax_pair == "max" else minimum)(result, initial)
        return result
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = (f"{name.capitalize()}imum over the given axes; nan propagates. An empty "
                   "reduction needs initial= (numpy and JAX raise too).")
    return fun


max = _extremum("max", np.max, lax.reduce_max, "max")
min = _extremum("min", np.min, lax.reduce_min, "min")


amax, amin = max, min


def _truth(a):
    return a if dtype_of(a).kind == "b" else lax.ne(a, 0)


def all(a, axis=None, keepdims=False):
    """True where every element along the axes is nonzero."""
    if eager(a):
        return np.all(a, axis=axis, keepdims=keepdims)
    return _reduce("all", lax.reduce_min, _truth(asarray(a, "all")), axis, keepdims)


def any(a, axis=None, keepdims=False):
    """True where some element along the axes is nonzero."""
    if eager(a):
        return np.any(a, axis=axis, keepdims=keepdims)
    return _reduce("any", lax.reduce_max, _truth(asarray(a, "any")), axis, keepdims)


def count_nonzero(a, axis=None, keepdims=False):
    """The number of nonzero elements along the axes (int64)."""
    if eager(a):
        return np.count_nonzero(a, axis=axis, keepdims=keepdims)
    a = cast(_truth(asarray(a, "count_nonzero")), dtypes.int64)
    return _reduce("count_nonzero", lax.reduce_sum, a, axis, keepdims)


def _arg_reduction(name, np_fun, lax_fun):
    def fun(a, axis=None, keepdims=False):
        if eager(a):
            return np_fun(a, axis=axis, keepdims=keepdims)
        a = asarray(a, name)
        shape = shape_of(a)
        if (np.prod(shape, dtype=np.int64) if axis is None else
                shape[canonical_axis(axis, len(shape), name)]) == 0:
            raise ValueError(f"fnp.{name}: attempt to get {name} of an empty sequence")
        if axis is None:
            out = lax_fun(lax.reshape(a, (int(np.prod(shape, dtype=np.int64)),)), 0,
                          dtypes.int64)
            return lax.reshape(out, (1,) * len(shape)) if keepdims else out
        axis = canonical_axis(axis, len(shape), name)
        return _keep(lax_fun(a, axis, dtypes.int64), (axis,), keepdims)
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = (f"Index of the first {name[3:]}imum along axis (of the flattened array if "
                   "axis is None), as int64; a nan counts as the extreme.")
    return fun


argmax = _arg_reduction("argmax", np.argmax, lax.argmax)
argmin = _arg_reduction("argmin", np.argmin, lax.argmin)


def _cumulative_dtype(dtype, requested, name):
    """JAX's dtype for cumsum/cumprod: the input's, except booleans (int64)."""
    if requested is not None:
        return canonical_dtype(requested, name)
    return dtypes.int64 if dtype.kind == "b" else dtype


def _cumulative(name, np_fun, lax_fun):
    def fun(a, axis=None, dtype=None):
        if eager(a):
            a = np.asarray(numpy_operand(a))
            acc = _cumulative_dtype(a.dtype, dtype, name)
            return np_fun(a.astype(acc, copy=False), axis=axis, dtype=acc)
        a = asarray(a, name)
        a = cast(a, _cumulative_dtype(dtype_of(a), dtype, name))
        if axis is None:
            a = lax.reshape(a, (int(np.prod(shape_of(a), dtype=np.int64)),))
            axis = 0
        axis = canonical_axis(axis, len(shape_of(a)), name)
        return lax_fun(a, axis=axis)
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = (f"Cumulative {name[3:]} along axis (of the flattened array if axis is None); "
                   "booleans and narrow integers accumulate in 64 bits, as in numpy.")
    return fun


cumsum = _cumulative("cumsum", np.cumsum, lax.cumsum)
cumprod = _cumulative("cumprod", np.cumprod, lax.cumprod)
