"""Functions that rearrange elements: reshape, transpose, stack, split, tile, repeat, flip, roll,
triangles and diagonals, and the shape queries ndim/shape/size."""
import operator

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.trace import get_aval
from ._promotion import (asarray, broadcast_shapes as _broadcast_shapes, broadcast_to as
                         _broadcast_to, canonical_axes, canonical_axis, concrete, dtype_of, eager,
                         join_operands, numpy_promote, recorded, shape_arg, shape_of,
                         stack_operands)
from .creation import asarray as _with_dtype, diagonal_mask
from .elementwise import where
from .indexing import take
from .reductions import sum as _sum

__all__ = ["reshape", "ravel", "transpose", "matrix_transpose", "swapaxes", "moveaxis",
           "squeeze", "expand_dims", "atleast_1d", "atleast_2d", "atleast_3d", "stack", "hstack",
           "vstack", "dstack", "column_stack", "concatenate", "split", "array_split", "tile",
           "repeat", "broadcast_to", "broadcast_arrays", "broadcast_shapes", "flip", "fliplr",
           "flipud", "roll", "triu", "tril", "diag", "diagonal", "trace", "ndim", "shape",
           "size"]


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


# --- shape queries --------------------------------------------------------------------------------

def ndim(a):
    """The number of dimensions of an array, a traced value or an array-like."""
    return get_aval(asarray(a, "ndim")).ndim


def shape(a):
    """The shape of an array, a traced value or an array-like."""
    return get_aval(asarray(a, "shape")).shape


def size(a, axis=None):
    """The number of elements (along one axis, if given)."""
    s = shape(a)
    return _size(s) if axis is None else s[canonical_axis(axis, len(s), "size")]


# --- reshaping ------------------------------------------------------------------------------------

def _resolve_shape(new_shape, total, name):
    """A reshape target with its -1 (if any) filled in."""
    new_shape = list(new_shape)
    unknown = [i for i, d in enumerate(new_shape) if d == -1]
    if len(unknown) > 1:
        raise ValueError(f"fnp.{name}: can only specify one unknown dimension (-1), got "
                         f"{tuple(new_shape)}")
    if any(d < -1 for d in new_shape):
        raise ValueError(f"fnp.{name}: invalid dimension in shape {tuple(new_shape)}")
    known = _size([d for d in new_shape if d != -1])
    if unknown:
        if known == 0 or total % known:
            raise ValueError(f"fnp.{name}: cannot reshape an array of size {total} into shape "
                             f"{tuple(new_shape)}")
        new_shape[unknown[0]] = total // known
    elif known != total:
        raise ValueError(f"fnp.{name}: cannot reshape an array of size {total} into shape "
                         f"{tuple(new_shape)}")
    return tuple(new_shape)


def reshape(a, shape=None, order="C", *, newshape=None):
    """a with a new shape of the same size; one entry may be -1. order "F" reshapes in
    column-major order."""
    target = newshape if shape is None else shape
    if target is None:
        raise TypeError("fnp.reshape: a shape is required")
    target = _shape_entries(target, "reshape")
    if order not in ("C", "F"):
        raise ValueError(f"fnp.reshape: order must be 'C' or 'F', got {order!r}")
    if eager(a):
        return np.reshape(a, target, order=order)
    return recorded(_reshape, (a,), (target, order))


def _reshape(a, target, order):
    a = asarray(a, "reshape")
    target = _resolve_shape(target, _size(shape_of(a)), "reshape")
    if order == "F":
        reversed_axes = lambda x: lax.transpose(x, tuple(range(len(shape_of(x)))[::-1]))  # noqa
        return reversed_axes(lax.reshape(reversed_axes(a), target[::-1]))
    return lax.reshape(a, target)


def _shape_entries(shape, name):
    """A shape argument that may hold -1, as a tuple of ints (traced entries raise)."""
    if isinstance(shape, (list, tuple)):
        return tuple(operator.index(d) for d in shape)
    return (operator.index(shape),)


def ravel(a, order="C"):
    """a flattened to one dimension."""
    return reshape(a, (-1,), order=order)


def transpose(a, axes=None):
    """a with its axes permuted (reversed by default)."""
    if eager(a):
        return np.transpose(a, axes)
    return recorded(_transpose, (a,), (axes,))


def _transpose(a, axes):
    a = asarray(a, "transpose")
    n = len(shape_of(a))
    if axes is None:
        return lax.transpose(a, tuple(range(n))[::-1])
    perm = tuple(canonical_axis(ax, n, "transpose") for ax in axes)
    if sorted(perm) != list(range(n)):
        raise ValueError(f"fnp.transpose: axes {tuple(axes)} are not a permutation of the "
                         f"{n} axes")
    return lax.transpose(a, perm)


def swapaxes(a, axis1, axis2):
    """a with two axes interchanged."""
    if eager(a):
        return np.swapaxes(a, axis1, axis2)
    a = asarray(a, "swapaxes")
    n = len(shape_of(a))
    perm = list(range(n))
    i, j = canonical_axis(axis1, n, "swapaxes"), canonical_axis(axis2, n, "swapaxes")
    perm[i], perm[j] = j, i
    return lax.transpose(a, tuple(perm))


def matrix_transpose(x, /):
    """x with its last two axes swapped (x.mT)."""
    if len(shape(x)) < 2:
        raise ValueError(f"fnp.matrix_transpose: needs at least 2 dimensions, got shape "
                         f"{shape(x)}")
    return swapaxes(x, -1, -2)


def moveaxis(a, source, destination):
    """a with the source axes moved to the destination positions, the others in order."""
    if eager(a):
        return np.moveaxis(a, source, destination)
    a = asarray(a, "moveaxis")
    n = len(shape_of(a))
    src = [source] if not isinstance(source, (tuple, list)) else list(source)
    dst = [destination] if not isinstance(destination, (tuple, list)) else list(destination)
    if len(src) != len(dst):
        raise ValueError("fnp.moveaxis: source and destination must have the same number of "
                         "elements")
    src = [canonical_axis(s, n, "moveaxis") for s in src]
    dst = [canonical_axis(d, n, "moveaxis") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("fnp.moveaxis: repeated axis")
    rest = [i for i in range(n) if i not in src]
    perm = [None] * n
    for s, d in zip(src, dst):
        perm[d] = s
    it = iter(rest)
    perm = [p if p is not None else next(it) for p in perm]
    return lax.transpose(a, tuple(perm))


def squeeze(a, axis=None):
    """a without the given size-1 axes (all size-1 axes by default)."""
    if eager(a):
        return np.squeeze(a, axis)
    return recorded(_squeeze, (a,), (axis,))


def _squeeze(a, axis):
    a = asarray(a, "squeeze")
    s = shape_of(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(s) if d == 1)
    else:
        axes = canonical_axes(axis, len(s), "squeeze")
        if any(s[i] != 1 for i in axes):
            raise ValueError(f"fnp.squeeze: cannot select an axis to squeeze out which has size "
                             f"not equal to one (shape {s}, axis {axis})")
    return lax.squeeze(a, axes)


def expand_dims(a, axis):
    """a with size-1 axes inserted at the given positions (of the result)."""
    if eager(a):
        return np.expand_dims(a, axis)
    return recorded(_expand_dims, (a,), (axis,))


def _expand_dims(a, axis):
    a = asarray(a, "expand_dims")
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out_ndim = len(shape_of(a)) + len(axes)
    return lax.expand_dims(a, canonical_axes(tuple(axes), out_ndim, "expand_dims"))


def _atleast(n, name, np_fun):
    def fun(*arys):
        if eager(*arys):
            return np_fun(*arys)
        outs = []
        for x in arys:
            x = asarray(x, name)
            s = shape_of(x)
            if len(s) < n:
                # numpy's layouts: (m,) -> (1, m) or (1, m, 1); (m, k) -> (m, k, 1)
                if len(s) == 0:
                    new = (1,) * n
                elif len(s) == 1:
                    new = (1, s[0]) if n == 2 else (1, s[0], 1)
                else:
                    new = s + (1,)
                x = lax.reshape(x, new)
            outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = f"The arguments viewed with at least {n} dimensions (numpy's layouts)."
    return fun


atleast_1d = _atleast(1, "atleast_1d", np.atleast_1d)
atleast_2d = _atleast(2, "atleast_2d", np.atleast_2d)
atleast_3d = _atleast(3, "atleast_3d", np.atleast_3d)


# --- joining and splitting ------------------------------------------------------------------------

def _eager_common(arrays):
    """Eager operands of a join in JAX's common dtype (numpy's own table would widen int32 and
    float32 to float64). Python scalars count as arrays here, as in the traced path."""
    arrays = [np.asarray(a) if dtypes.is_python_scalar(a) else a for a in arrays]
    return numpy_promote(*arrays) if arrays else arrays


def concatenate(arrays, axis=0, dtype=None):
    """Join arrays along an existing axis (flattened first if axis is None)."""
    if eager(arrays):
        arrays = arrays if dtype is not None else _eager_common(arrays)
        return np.concatenate(arrays, axis=axis, dtype=dtype)
    ops = join_operands(arrays, "concatenate")
    if dtype is not None:
        ops = [_with_dtype(x, dtype) for x in ops]
    if axis is None:
        ops = [lax.reshape(x, (_size(shape_of(x)),)) for x in ops]
        axis = 0
    if any(len(shape_of(x)) == 0 for x in ops):
        raise ValueError("fnp.concatenate: zero-dimensional arrays cannot be concatenated")
    n = len(shape_of(ops[0]))
    if any(len(shape_of(x)) != n for x in ops):
        raise ValueError(f"fnp.concatenate: all the input arrays must have the same number of "
                         f"dimensions, got shapes {[shape_of(x) for x in ops]}")
    axis = canonical_axis(axis, n, "concatenate")
    rest = {shape_of(x)[:axis] + shape_of(x)[axis + 1:] for x in ops}
    if len(rest) > 1:
        raise ValueError(f"fnp.concatenate: all the input array dimensions except for the "
                         f"concatenation axis must match exactly, got shapes "
                         f"{[shape_of(x) for x in ops]}")
    return lax.concatenate(ops, axis)


def stack(arrays, axis=0):
    """Join arrays of one shape along a new axis."""
    if eager(arrays):
        return np.stack(_eager_common(arrays), axis=axis)
    return stack_operands(join_operands(arrays, "stack"), axis)


def hstack(tup):
    """Join along the second axis (the first for 1-D arrays)."""
    if eager(tup):
        return np.hstack(_eager_common(tup))
    arrs = [atleast_1d(x) for x in tup]
    return concatenate(arrs, axis=0 if len(shape_of(arrs[0])) == 1 else 1)


def vstack(tup):
    """Join along the first axis, 1-D arrays becoming rows."""
    if eager(tup):
        return np.vstack(_eager_common(tup))
    return concatenate([atleast_2d(x) for x in tup], axis=0)


def dstack(tup):
    """Join along the third axis."""
    if eager(tup):
        return np.dstack(_eager_common(tup))
    return concatenate([atleast_3d(x) for x in tup], axis=2)


def column_stack(tup):
    """Join 1-D arrays as columns (and 2-D arrays as they are) into a 2-D array."""
    if eager(tup):
        return np.column_stack(_eager_common(tup))
    cols = []
    for x in tup:
        x = asarray(x, "column_stack")
        cols.append(lax.reshape(x, (_size(shape_of(x)), 1)) if len(shape_of(x)) < 2 else x)
    return concatenate(cols, axis=1)


def _split_points(n, indices_or_sections, name, even):
    if isinstance(indices_or_sections, (list, tuple, np.ndarray)):
        cuts = [operator.index(i) for i in indices_or_sections]
        return [0] + cuts + [n]
    sections = operator.index(concrete(indices_or_sections, name))
    if sections <= 0:
        raise ValueError(f"fnp.{name}: number of sections must be larger than 0")
    if even and n % sections:
        raise ValueError("fnp.split: array split does not result in an equal division")
    each, extra = divmod(n, sections)
    sizes = [0] + [each + 1] * extra + [each] * (sections - extra)
    return list(np.cumsum(sizes))


def array_split(ary, indices_or_sections, axis=0):
    """Split into sub-arrays along axis: at the given indices, or into that many sections
    (the first ones one longer when the length does not divide evenly)."""
    return _split(ary, indices_or_sections, axis, "array_split", even=False)


def split(ary, indices_or_sections, axis=0):
    """Split into sub-arrays along axis, at the given indices or into that many equal
    sections."""
    return _split(ary, indices_or_sections, axis, "split", even=True)


def _split(ary, indices_or_sections, axis, name, even):
    if eager(ary):
        return getattr(np, name)(ary, indices_or_sections, axis)
    ary = asarray(ary, name)
    s = shape_of(ary)
    axis = canonical_axis(axis, len(s), name)
    points = _split_points(s[axis], indices_or_sections, name, even)
    out = []
    for start, stop in zip(points[:-1], points[1:]):
        start, stop, _ = slice(start, stop).indices(s[axis])
        stop = max(start, stop)
        lo, hi = [0] * len(s), list(s)
        lo[axis], hi[axis] = start, stop
        out.append(lax.slice(ary, lo, hi))
    return out


def tile(A, reps):
    """A repeated reps times along each axis (numpy's rules for reps shorter or longer than
    A's rank)."""
    if eager(A):
        return np.tile(A, reps)
    A = asarray(A, "tile")
    reps = tuple(operator.index(r) for r in (reps if isinstance(reps, (tuple, list)) else
                                             (reps,)))
    s = shape_of(A)
    n = max(len(s), len(reps))
    s = (1,) * (n - len(s)) + s
    reps = (1,) * (n - len(reps)) + reps
    A = lax.reshape(A, s)
    # Interleave a repetition axis before each axis: (r0, s0, r1, s1, ...), then merge pairs.
    expanded = tuple(d for pair in zip(reps, s) for d in pair)
    out = lax.broadcast_in_dim(A, expanded, tuple(range(1, 2 * n, 2)))
    return lax.reshape(out, tuple(r * d for r, d in zip(reps, s)))


def repeat(a, repeats, axis=None):
    """Each element repeated `repeats` times along axis (of the flattened array if None).
    repeats may be an int or a concrete sequence with one count per element."""
    if eager(a, repeats):
        return np.repeat(a, repeats, axis=axis)
    a = asarray(a, "repeat")
    if axis is None:
        a = lax.reshape(a, (_size(shape_of(a)),))
        axis = 0
    s = shape_of(a)
    axis = canonical_axis(axis, len(s), "repeat")
    counts = np.asarray(concrete(repeats, "repeat"))
    if counts.ndim == 0 or counts.size == 1:
        r = operator.index(counts.reshape(())[()])
        if r < 0:
            raise ValueError("fnp.repeat: repeats may not contain negative values")
        # A new axis of length r right after `axis`, merged into it.
        expanded = s[:axis + 1] + (r,) + s[axis + 1:]
        dims = tuple(range(axis + 1)) + tuple(range(axis + 2, len(s) + 1))
        out = lax.broadcast_in_dim(a, expanded, dims)
        return lax.reshape(out, s[:axis] + (s[axis] * r,) + s[axis + 1:])
    if counts.shape != (s[axis],):
        raise ValueError(f"fnp.repeat: repeats of shape {counts.shape} do not match axis "
                         f"{axis} of size {s[axis]}")
    if counts.dtype.kind not in "iu" or (counts < 0).any():
        raise ValueError("fnp.repeat: repeats must be non-negative integers")
    return take(a, np.repeat(np.arange(s[axis]), counts), axis=axis)


def broadcast_to(array, shape):
    """array broadcast to shape, numpy's rules."""
    shape = shape_arg(shape, "broadcast_to")
    if eager(array):
        return np.broadcast_to(array, shape)
    return _broadcast_to(asarray(array, "broadcast_to"), shape)


def broadcast_shapes(*shapes):
    """The shape that arrays of the given shapes broadcast to."""
    return _broadcast_shapes(*(shape_arg(s, "broadcast_shapes") for s in shapes))


def broadcast_arrays(*args):
    """The arguments broadcast against each other."""
    if eager(*args):
        return np.broadcast_arrays(*args)
    args = [asarray(x, "broadcast_arrays") for x in args]
    target = _broadcast_shapes(*(shape_of(x) for x in args), name="broadcast_arrays")
    return tuple(_broadcast_to(x if hasattr(x, "shape") else np.asarray(x), target)
                 for x in args)


# --- reversing and rolling ------------------------------------------------------------------------

def flip(m, axis=None):
    """m with the order of elements reversed along the given axes (all by default)."""
    if eager(m):
        return np.flip(m, axis)
    m = asarray(m, "flip")
    return lax.rev(m, canonical_axes(axis, len(shape_of(m)), "flip"))


def fliplr(m):
    """m reversed along axis 1."""
    if len(shape(m)) < 2:
        raise ValueError("fnp.fliplr: input must be at least 2-d")
    return flip(m, 1)


def flipud(m):
    """m reversed along axis 0."""
    if len(shape(m)) < 1:
        raise ValueError("fnp.flipud: input must be at least 1-d")
    return flip(m, 0)


def roll(a, shift, axis=None):
    """Elements shifted by `shift` places along axis, wrapping around (the flattened array if
    axis is None). shift and axis may be matching tuples."""
    if eager(a):
        return np.roll(a, shift, axis)
    a = asarray(a, "roll")
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), shape_of(a))
    s = shape_of(a)
    shifts, axes = np.broadcast_arrays(np.asarray(concrete(shift, "roll")), np.asarray(axis))
    total = {}
    for sh, ax in zip(shifts.ravel(), axes.ravel()):
        ax = canonical_axis(int(ax), len(s), "roll")
        total[ax] = total.get(ax, 0) + int(sh)
    for ax, sh in total.items():
        n = s[ax]
        k = sh % n if n else 0
        if k:
            lo, hi = [0] * len(s), list(s)
            hi[ax] = n - k
            head = lax.slice(a, lo, hi)
            lo[ax], hi[ax] = n - k, n
            tail = lax.slice(a, lo, hi)
            a = lax.concatenate([tail, head], ax)
    return a


# --- triangles and diagonals ----------------------------------------------------------------------

def _triangle(name, np_fun, keep_below):
    def fun(m, k=0):
        k = operator.index(k)
        if eager(m):
            return np_fun(m, k)
        m = asarray(m, name)
        s = shape_of(m)
        if len(s) == 0:
            raise ValueError(f"fnp.{name}: input must be at least 1-d")
        rows, cols = (s[-2], s[-1]) if len(s) >= 2 else (s[0], s[0])
        # tril keeps col <= row + k; triu keeps col >= row + k
        mask = diagonal_mask(rows, cols, k, lax.ge if keep_below else lax.le)
        return where(mask, m, np.zeros((), dtype_of(m)))
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = (f"m with the elements {'above' if keep_below else 'below'} the k-th diagonal "
                   "zeroed (over the last two axes; a 1-D m is a row repeated).")
    return fun


tril = _triangle("tril", np.tril, keep_below=True)
triu = _triangle("triu", np.triu, keep_below=False)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal (offset above the main one if positive) of the matrices that axis1 and axis2
    span; it becomes the last axis. Taken as a strided slice of the flattened matrices."""
    offset = operator.index(offset)
    if eager(a):
        return np.diagonal(a, offset, axis1, axis2)
    a = asarray(a, "diagonal")
    s = shape_of(a)
    if len(s) < 2:
        raise ValueError("fnp.diagonal: input must be at least 2-d")
    i, j = canonical_axis(axis1, len(s), "diagonal"), canonical_axis(axis2, len(s), "diagonal")
    if i == j:
        raise ValueError("fnp.diagonal: axis1 and axis2 cannot be the same")
    others = [d for d in range(len(s)) if d not in (i, j)]
    a = lax.transpose(a, tuple(others) + (i, j))
    n, m = s[i], s[j]
    batch = tuple(s[d] for d in others)
    length = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    flat = lax.reshape(a, batch + (n * m,))
    start = offset if offset >= 0 else -offset * m
    if length == 0:
        start = stop = 0
    else:
        stop = start + (length - 1) * (m + 1) + 1
    zeros = (0,) * len(batch)
    return lax.slice(flat, zeros + (start,), batch + (stop,), (1,) * len(batch) + (m + 1,))


def diag(v, k=0):
    """The k-th diagonal of a 2-D array, or a 2-D array with the 1-D v on its k-th diagonal."""
    k = operator.index(k)
    if eager(v):
        return np.diag(v, k)
    v = asarray(v, "diag")
    s = shape_of(v)
    if len(s) == 2:
        return diagonal(v, k)
    if len(s) != 1:
        raise ValueError("fnp.diag: input must be 1- or 2-d")
    n = s[0] + abs(k)
    zero = np.zeros((), dtype_of(v))
    padded = lax.pad(v, zero, [(0, abs(k), 0)])
    # Entry (i, i + k) holds v[i] for k >= 0 (v runs along rows); (j - k, j) holds v[j] else.
    spread = lax.broadcast_in_dim(padded, (n, n), (0,) if k >= 0 else (1,))
    return lax.select_n(diagonal_mask(n, n, k, lax.eq), lax.broadcast_in_dim(zero, (n, n), ()),
                        spread)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """The sum along a diagonal (numpy's sum dtype rules)."""
    if eager(a):
        return np.trace(a, offset, axis1, axis2, dtype=dtype)
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)

