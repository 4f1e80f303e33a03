"""Shapes and assembly: append, splits, rot90, kron, cross, meshgrid, select, choose, insert,
delete, block, put/place, ...

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import builtins
import operator

import numpy as np

from ..core.trace import Tracer
from . import _base as fnp
from ._composed import _arr, _is_traced, _concrete, _real_dtype
from ._promotion import asarray, canonical_axis, dtype_of, promote, shape_of
from .indexing import update

__all__ = ["append", "cross", "dsplit", "hsplit", "vsplit", "kron", "meshgrid", "partition",
           "argpartition", "real_if_close", "rollaxis", "rot90", "row_stack", "select",
           "diagflat", "fill_diagonal", "choose", "piecewise", "permute_dims", "concat",
           "unstack", "insert", "delete", "block", "resize", "astype", "copy", "put_along_axis",
           "trim_zeros", "put", "place"]


def append(arr, values, axis=None):
    """arr with values appended (flattened when axis is None)."""
    # Promoted first, so a Python scalar stays weakly typed (JAX): append(c64, 2.5) is c64.
    arr, values = promote(asarray(arr, "append"), asarray(values, "append"))
    arr, values = _arr(arr, "append"), _arr(values, "append")
    if axis is None:
        return fnp.concatenate([fnp.ravel(arr), fnp.ravel(values)])
    return fnp.concatenate([arr, values], axis=axis)


def _split_along(name, ary, indices_or_sections, axis, min_ndim):
    ary = _arr(ary, name)
    if len(shape_of(ary)) < min_ndim:
        raise ValueError(f"fnp.{name} only works on arrays of {min_ndim} or more dimensions")
    return fnp.split(ary, indices_or_sections, axis=axis)


def hsplit(ary, indices_or_sections):
    """split along axis 1 (axis 0 for 1-d arrays)."""
    ary = _arr(ary, "hsplit")
    return _split_along("hsplit", ary, indices_or_sections, 1 if len(shape_of(ary)) > 1 else 0,
                        1)


def vsplit(ary, indices_or_sections):
    """split along axis 0 of an array of 2 or more dimensions."""
    return _split_along("vsplit", ary, indices_or_sections, 0, 2)


def dsplit(ary, indices_or_sections):
    """split along axis 2 of an array of 3 or more dimensions."""
    return _split_along("dsplit", ary, indices_or_sections, 2, 3)


def row_stack(tup):
    """vstack (numpy's older name)."""
    return fnp.vstack(tup)


def concat(arrays, /, *, axis=0):
    """The array API's concatenate."""
    return fnp.concatenate(arrays, axis=axis)


def permute_dims(a, /, axes):
    """The array API's transpose."""
    return fnp.transpose(a, axes)


def unstack(x, /, *, axis=0):
    """The slices of x along axis, as a tuple."""
    x = _arr(x, "unstack")
    axis = canonical_axis(axis, len(shape_of(x)), "unstack")
    return tuple(fnp.take(x, i, axis=axis) for i in range(shape_of(x)[axis]))


def rollaxis(a, axis, start=0):
    """Move axis to the position before start (numpy's older moveaxis)."""
    a = _arr(a, "rollaxis")
    n = len(shape_of(a))
    axis = canonical_axis(axis, n, "rollaxis")
    if not -n <= start <= n:
        raise ValueError(f"fnp.rollaxis: start {start} out of range for {n} dimensions")
    start = start + n if start < 0 else start
    if axis < start:
        start -= 1
    return fnp.moveaxis(a, axis, start)


def rot90(m, k=1, axes=(0, 1)):
    """m rotated by 90 degrees k times in the plane of axes."""
    m = _arr(m, "rot90")
    n = len(shape_of(m))
    a0, a1 = (canonical_axis(a, n, "rot90") for a in axes)
    if a0 == a1:
        raise ValueError("fnp.rot90: the axes must differ")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return fnp.flip(fnp.flip(m, a0), a1)
    perm = list(range(n))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return fnp.transpose(fnp.flip(m, a1), perm)
    return fnp.flip(fnp.transpose(m, perm), a1)


def kron(a, b):
    """The Kronecker product: blocks a[i, j] * b."""
    a, b = promote(asarray(a, "kron"), asarray(b, "kron"))     # Python scalars stay weak
    a, b = _arr(a, "kron"), _arr(b, "kron")
    nd = builtins.max(len(shape_of(a)), len(shape_of(b)))
    a = fnp.reshape(a, (1,) * (nd - len(shape_of(a))) + shape_of(a))
    b = fnp.reshape(b, (1,) * (nd - len(shape_of(b))) + shape_of(b))
    # interleave axes: a's i-th axis, then b's i-th axis
    a_exp = fnp.reshape(a, tuple(x for s in shape_of(a) for x in (s, 1)))
    b_exp = fnp.reshape(b, tuple(x for s in shape_of(b) for x in (1, s)))
    out = fnp.multiply(a_exp, b_exp)
    return fnp.reshape(out, tuple(p * q for p, q in zip(shape_of(a), shape_of(b))))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 2- or 3-component vectors along the given axes."""
    a, b = _arr(a, "cross"), _arr(b, "cross")
    if axis is not None:
        axisa = axisb = axisc = axis
    a = fnp.moveaxis(a, axisa, -1)
    b = fnp.moveaxis(b, axisb, -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("fnp.cross: incompatible dimensions for cross product (dimension "
                         "must be 2 or 3)")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    a2 = a[..., 2] if na == 3 else None
    b2 = b[..., 2] if nb == 3 else None
    z = fnp.subtract(fnp.multiply(a0, b1), fnp.multiply(a1, b0))
    if na == 2 and nb == 2:
        return z
    a2 = fnp.zeros_like(a0) if a2 is None else a2
    b2 = fnp.zeros_like(b0) if b2 is None else b2
    x = fnp.subtract(fnp.multiply(a1, b2), fnp.multiply(a2, b1))
    y = fnp.subtract(fnp.multiply(a2, b0), fnp.multiply(a0, b2))
    return fnp.moveaxis(fnp.stack(fnp.broadcast_arrays(x, y, z), axis=-1), -1, axisc)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-d coordinate vectors ('xy': Cartesian, 'ij': matrix)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"fnp.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xi = [fnp.ravel(_arr(x, "meshgrid")) for x in xi]
    n = len(xi)
    shapes = [shape_of(x)[0] for x in xi]
    if indexing == "xy" and n >= 2:
        shapes[0], shapes[1] = shapes[1], shapes[0]
    out = []
    for i, x in enumerate(xi):
        pos = i
        if indexing == "xy" and n >= 2 and i < 2:
            pos = 1 - i
        s = [1] * n
        s[pos] = -1
        v = fnp.reshape(x, s)
        out.append(v if sparse else fnp.broadcast_to(v, tuple(shapes)))
    return out


def select(condlist, choicelist, default=0):
    """choicelist[i] where condlist[i] is the first true condition, else default."""
    if len(condlist) != len(choicelist):
        raise ValueError("fnp.select: condlist and choicelist must have the same length")
    if not condlist:
        raise ValueError("fnp.select: condlist must be non-empty")
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        cond = _arr(cond, "select")
        if dtype_of(cond).kind != "b":
            raise TypeError("fnp.select: condlist entries must be boolean arrays")
        out = fnp.where(cond, choice, out)
    return out


def choose(a, choices, out=None, mode="raise"):
    """choices[a[i]][i] (a broadcast with the choices); mode 'clip' or 'wrap' for indices
    out of range ('raise' needs concrete indices)."""
    if out is not None:
        raise NotImplementedError("fnp.choose: out= is not supported (arrays are immutable)")
    a = _arr(a, "choose")
    n = len(choices)
    if mode == "raise":
        values = _concrete(a, "choose", "mode='raise' checks index values") \
            if isinstance(a, Tracer) else np.asarray(a)
        if values.size and (values.min() < 0 or values.max() >= n):
            raise ValueError("fnp.choose: invalid entry in choice array")
    elif mode == "wrap":
        a = fnp.remainder(a, n)
    elif mode == "clip":
        a = fnp.clip(a, 0, n - 1)
    else:
        raise ValueError(f"fnp.choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    stacked = fnp.stack(fnp.broadcast_arrays(*choices, a)[:-1])
    shape = shape_of(stacked)[1:]
    idx = fnp.broadcast_to(a, shape)
    return fnp.take_along_axis(stacked, fnp.expand_dims(idx, 0), axis=0)[0]


def piecewise(x, condlist, funclist, *args, **kw):
    """funclist[i](x) where condlist[i] holds (later conditions win, as numpy); one extra
    function is the default; constants in funclist are values."""
    x = _arr(x, "piecewise")
    if isinstance(condlist, (np.ndarray, Tracer)) and len(shape_of(condlist)) == len(
            shape_of(x)):
        condlist = [condlist]
    condlist = list(condlist)
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        raise ValueError("fnp.piecewise: give one function per condition, plus an optional "
                         "default")

    def value(f):
        return f(x, *args, **kw) if callable(f) else fnp.full_like(x, f)
    out = value(funclist[n]) if len(funclist) == n + 1 else fnp.zeros_like(x)
    for cond, f in zip(condlist, funclist[:n]):
        out = fnp.where(cond, fnp.asarray(value(f), dtype=dtype_of(x)), out)
    return out


def partition(a, kth, axis=-1):
    """a with its kth element where sorting would put it, smaller ones before and larger ones
    after (computed as a full sort, a valid partition)."""
    return fnp.sort(a, axis=axis)


def argpartition(a, kth, axis=-1):
    """Indices that partition a (a stable argsort, a valid argpartition), int32 as JAX."""
    return fnp.asarray(fnp.argsort(a, axis=axis), dtype=np.int32)


def real_if_close(a, tol=100):
    """The real part of complex a if every imaginary part is within tol machine epsilons of 0
    (needs concrete values: the result's dtype depends on them)."""
    a = _arr(a, "real_if_close")
    if dtype_of(a).kind != "c":
        return a
    values = _concrete(a, "real_if_close", "the result's dtype depends on the values")
    eps = np.finfo(_real_dtype(a)).eps
    limit = tol * eps if tol > 1 else tol
    if np.all(np.abs(values.imag) < limit):
        return fnp.real(a)
    return a


def diagflat(v, k=0):
    """A 2-d array with the flattened v on its k-th diagonal."""
    return fnp.diag(fnp.ravel(_arr(v, "diagflat")), k)


def fill_diagonal(a, val, wrap=False, *, inplace=True):
    """a with val on its main diagonal (JAX's form: inplace=False is required)."""
    if inplace:
        raise ValueError("fnp.fill_diagonal: arrays are immutable; pass inplace=False and use "
                         "the returned array")
    a = _arr(a, "fill_diagonal")
    shape = shape_of(a)
    if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
        raise ValueError("fnp.fill_diagonal: a must be 2-d, or have equal dimensions")
    if wrap:
        raise NotImplementedError("fnp.fill_diagonal: wrap=True is not supported")
    n = builtins.min(shape)
    mask = np.zeros(shape, bool)
    mask[(np.arange(n),) * len(shape)] = True
    vals = fnp.ravel(fnp.asarray(_arr(val, "fill_diagonal"), dtype=dtype_of(a)))
    count = shape_of(vals)[0]
    diag_vals = fnp.take(vals, np.arange(n) % count) if count else vals
    # the values laid on the diagonal of a zero array: a one-hot contraction (no scatter)
    onehot = np.zeros(shape + (n,), dtype_of(a) if dtype_of(a).kind != "b" else np.int8)
    onehot[(np.arange(n),) * len(shape) + (np.arange(n),)] = 1
    filled = fnp.sum(fnp.multiply(onehot, diag_vals), axis=-1) if dtype_of(a).kind != "b" \
        else fnp.not_equal(fnp.sum(fnp.multiply(onehot, diag_vals), axis=-1), 0)
    return fnp.where(mask, fnp.asarray(filled, dtype=dtype_of(a)), a)


def put_along_axis(arr, indices, values, axis, inplace=True, mode=None):
    """arr with values written at indices along axis (JAX's form: inplace=False)."""
    if inplace:
        raise ValueError("fnp.put_along_axis: arrays are immutable; pass inplace=False")
    arr = _arr(arr, "put_along_axis")
    indices = _arr(indices, "put_along_axis")
    n = len(shape_of(arr))
    if axis is None:
        flat = fnp.ravel(arr)
        return fnp.reshape(put_along_axis(flat, fnp.ravel(indices), fnp.ravel(values), 0,
                                          inplace=False), shape_of(arr))
    axis = canonical_axis(axis, n, "put_along_axis")
    shape = np.broadcast_shapes(shape_of(indices), tuple(
        1 if d == axis else s for d, s in enumerate(shape_of(arr))))
    grids = list(np.indices(shape, sparse=True))
    grids[axis] = fnp.broadcast_to(indices, shape)
    vals = fnp.broadcast_to(fnp.asarray(_arr(values, "put_along_axis"), dtype=dtype_of(arr)),
                            shape)
    if not _is_traced(arr, indices, vals):
        out = np.array(arr)
        out[tuple(np.broadcast_arrays(*grids))] = vals
        return out
    return update(arr, tuple(grids), vals, "set")


def put(a, ind, v, mode=None, *, inplace=True):
    """a with the flat positions ind set to v (cycled); mode 'clip' or 'wrap' (None: 'wrap'
    for traced indices, as JAX's fill); JAX's form: inplace=False."""
    if inplace:
        raise ValueError("fnp.put: arrays are immutable; pass inplace=False and use the "
                         "returned array")
    a = _arr(a, "put")
    flat = fnp.ravel(a)
    n = shape_of(flat)[0]
    ind = fnp.ravel(_arr(ind, "put"))
    if mode in (None, "wrap"):
        ind = fnp.remainder(ind, n)
    elif mode == "clip":
        ind = fnp.clip(ind, 0, n - 1)
    else:
        raise ValueError(f"fnp.put: mode must be None, 'wrap' or 'clip', got {mode!r}")
    v = fnp.ravel(fnp.asarray(_arr(v, "put"), dtype=dtype_of(a)))
    k = shape_of(ind)[0]
    v = fnp.take(v, np.arange(k) % builtins.max(shape_of(v)[0], 1)) if k else v[:0]
    return fnp.reshape(put_along_axis(flat, ind, v, 0, inplace=False), shape_of(a))


def place(arr, mask, vals, *, inplace=True):
    """arr with the positions where mask is true filled by vals, cycled in order (JAX's form:
    inplace=False)."""
    if inplace:
        raise ValueError("fnp.place: arrays are immutable; pass inplace=False and use the "
                         "returned array")
    arr = _arr(arr, "place")
    mask = fnp.asarray(_arr(mask, "place"), dtype=bool)
    vals = fnp.ravel(fnp.asarray(_arr(vals, "place"), dtype=dtype_of(arr)))
    m = shape_of(vals)[0]
    if m == 0:
        return arr
    # the i-th true position takes vals[i % m]
    order = fnp.remainder(fnp.cumsum(fnp.asarray(fnp.ravel(mask), dtype=np.int64)) - 1, m)
    fill = fnp.reshape(fnp.take(vals, order), shape_of(arr))
    return fnp.where(mask, fill, arr)


def _along_axis(arr, axis, name):
    """arr as an array (flattened when axis is None), the axis and its length."""
    arr = _arr(arr, name)
    if axis is None:
        arr, axis = fnp.ravel(arr), 0
    axis = canonical_axis(axis, len(shape_of(arr)), name)
    return arr, axis, shape_of(arr)[axis]


def insert(arr, obj, values, axis=None):
    """values inserted before the indices obj along axis (flattened when None); obj static."""
    arr, axis, m = _along_axis(arr, axis, "insert")
    if isinstance(obj, slice):
        obj = np.arange(m)[obj]
    obj_v = _concrete(obj, "insert", "the insertion positions set the result's shape")
    scalar = np.ndim(obj_v) == 0
    positions = np.atleast_1d(obj_v).astype(np.int64)
    positions = np.where(positions < 0, positions + m, positions)
    if np.any((positions < 0) | (positions > m)):
        raise IndexError(f"fnp.insert: index out of bounds for axis {axis} of size {m}")
    values = fnp.asarray(_arr(values, "insert"), dtype=dtype_of(arr))
    if scalar:
        vshape = list(shape_of(arr))
        vshape[axis] = 1
        if len(shape_of(values)) == len(shape_of(arr)):
            vals = values
        else:
            vals = fnp.expand_dims(fnp.broadcast_to(values, tuple(
                s for d, s in enumerate(shape_of(arr)) if d != axis)), axis)
        k = shape_of(vals)[axis]
        positions = np.repeat(positions, k)
    else:
        k = len(positions)
        vshape = list(shape_of(arr))
        vshape[axis] = k
        vals = fnp.broadcast_to(values, tuple(vshape))
    # an inserted value at position p goes before original element p (ties: originals after)
    keys = np.concatenate([np.arange(m, dtype=np.float64), positions - 0.5])
    order = np.argsort(keys, kind="stable")
    joined = fnp.concatenate([arr, vals], axis=axis)
    return fnp.take(joined, order, axis=axis)


def delete(arr, obj, axis=None, *, assume_unique_indices=False):
    """arr without the entries obj (static indices, a slice, or a boolean mask) along axis."""
    arr, axis, m = _along_axis(arr, axis, "delete")
    if isinstance(obj, slice):
        drop = np.arange(m)[obj]
    else:
        values = _concrete(obj, "delete", "the deleted positions set the result's shape")
        if values.dtype == bool:
            if values.shape != (m,):
                raise ValueError("fnp.delete: a boolean mask must match the axis length")
            drop = np.flatnonzero(values)
        else:
            drop = np.atleast_1d(values).astype(np.int64)
            if np.any((drop < -m) | (drop >= m)):
                raise IndexError(f"fnp.delete: index out of bounds for axis {axis} of size {m}")
            drop = np.where(drop < 0, drop + m, drop)
    keep = np.setdiff1d(np.arange(m), drop)
    return fnp.take(arr, keep, axis=axis)


def block(arrays):
    """An array assembled from nested lists of blocks (numpy.block)."""

    def depth(x):
        return 1 + depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list)
                                                                    else 0)
    list_depth = depth(arrays)
    if list_depth == 0:
        return _arr(arrays, "block")
    result_ndim = builtins.max(list_depth, _max_ndim(arrays))

    def assemble(x, level):
        if not isinstance(x, list):
            a = _arr(x, "block")
            return fnp.reshape(a, (1,) * (result_ndim - len(shape_of(a))) + shape_of(a))
        parts = [assemble(item, level + 1) for item in x]
        return fnp.concatenate(parts, axis=-(list_depth - level))
    return assemble(arrays, 0)


def _max_ndim(x):
    if isinstance(x, list):
        return builtins.max((_max_ndim(i) for i in x), default=0)
    return len(shape_of(_arr(x, "block")))


def resize(a, new_shape):
    """a repeated (flattened, cycled) to fill new_shape."""
    a = fnp.ravel(_arr(a, "resize"))
    shape = (new_shape,) if isinstance(new_shape, int) else tuple(new_shape)
    total = int(np.prod(shape, dtype=np.int64))
    size = shape_of(a)[0]
    if size == 0:
        return fnp.zeros(shape, dtype_of(a))
    return fnp.reshape(fnp.take(a, np.arange(total) % size), shape)


def astype(x, dtype, /, *, copy=False, device=None):
    """x converted to dtype (the array API's function form of x.astype)."""
    return fnp.asarray(_arr(x, "astype"), dtype=dtype)


def copy(a, order=None):
    """A copy of a (values are immutable under transforms, so the same value)."""
    a = _arr(a, "copy")
    return np.array(a) if not isinstance(a, Tracer) else a


def trim_zeros(filt, trim="fb"):
    """filt without its leading ('f') and/or trailing ('b') zeros (needs concrete values)."""
    values = _concrete(filt, "trim_zeros", "the result's length depends on the values")
    nz = np.flatnonzero(values)
    if nz.size == 0:
        return _arr(filt, "trim_zeros")[:0]
    lo = nz[0] if "f" in trim.lower() else 0
    hi = nz[-1] + 1 if "b" in trim.lower() else len(values)
    return _arr(filt, "trim_zeros")[lo:hi]
