"""Products (matmul, dot, vdot, inner, outer, tensordot) and norms: functrans.numpy.linalg.

Every product is one lax.dot_general (plus the transposes and reshapes that put numpy's layout
back). Eagerly, the same lax operations run on numpy arrays: how BLAS groups a sum depends on
the call, so calling np.matmul instead could change the last bit of the result.
"""
import operator

import numpy as np

from .. import lax
from ..core import dtypes
from ._promotion import (asarray, broadcast_shapes, canonical_axis, dtype_of, promote,
                         shape_of, to_inexact)

__all__ = ["matmul", "dot", "vdot", "inner", "outer", "tensordot", "norm"]


def _operands(name, a, b):
    a, b = (asarray(x, name) for x in (a, b))
    # Python scalars take part as arrays of their default dtype (numpy converts them first).
    a, b = (np.asarray(x) if dtypes.is_python_scalar(x) else x for x in (a, b))
    return promote(a, b)


def _contract(a, b, a_axes, b_axes):
    return lax.dot_general(a, b, ((tuple(a_axes), tuple(b_axes)), ((), ())))


def matmul(a, b, /):
    """The matrix product of the last two axes, broadcasting the leading (batch) axes; a 1-D
    operand is a vector (its axis is removed from the result)."""
    a, b = _operands("matmul", a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ValueError("fnp.matmul: operands must have at least one dimension (use "
                         "fnp.multiply for scalars)")
    vec_a, vec_b = len(sa) == 1, len(sb) == 1
    if vec_a:
        a, sa = lax.reshape(a, (1,) + sa), (1,) + sa
    if vec_b:
        b, sb = lax.reshape(b, sb + (1,)), sb + (1,)
    if sa[-1] != sb[-2]:
        raise ValueError(f"fnp.matmul: mismatch in the contracted dimension: shapes "
                         f"{shape_of(a)} and {shape_of(b)} ({sa[-1]} != {sb[-2]})")
    batch = broadcast_shapes(sa[:-2], sb[:-2], name="matmul")
    a, a_roles = _batch_roles(a, sa, sb, len(batch))
    b, b_roles = _batch_roles(b, sb, sa, len(batch))
    # Batch axes both operands have (at equal sizes) are dot_general batch dimensions; an axis
    # only one operand has (the other broadcasts) stays a free axis of that operand.
    shared = [i for i in range(len(batch)) if a_roles.get(i) == b_roles.get(i) == "batch"]
    a_pos = {i: k for k, i in enumerate(sorted(a_roles))}
    b_pos = {i: k for k, i in enumerate(sorted(b_roles))}
    na, nbd = len(a_roles), len(b_roles)
    out = lax.dot_general(a, b, (((na + 1,), (nbd,)),
                                 (tuple(a_pos[i] for i in shared),
                                  tuple(b_pos[i] for i in shared))))
    # dot_general's layout: shared batch axes, a's free axes (its own batch axes, then rows),
    # b's free axes (its own batch axes, then columns). Put the batch axes back in order.
    labels = list(shared) + [i for i in sorted(a_roles) if i not in shared] + ["rows"] + \
        [i for i in sorted(b_roles) if i not in shared] + ["cols"]
    target = list(range(len(batch))) + ["rows", "cols"]
    out = lax.transpose(out, tuple(labels.index(t) for t in target))
    rows, cols = shape_of(out)[-2:]
    return lax.reshape(out, batch + (() if vec_a else (rows,)) + (() if vec_b else (cols,)))


def _batch_roles(x, s, other, nbatch):
    """x without the batch axes it broadcasts (size 1 where the other operand's is larger), and
    {output batch position: "batch" (shared) or "free" (x's alone)} for the axes it keeps."""
    pad, other_pad = nbatch - (len(s) - 2), nbatch - (len(other) - 2)
    roles, keep = {}, []
    for k, size in enumerate(s[:-2]):
        i = k + pad
        other_size = other[i - other_pad] if i >= other_pad else None
        if other_size == size:
            roles[i] = "batch"
        elif size == 1 and other_size is not None:
            continue                    # broadcast against the other operand: dropped
        else:
            roles[i] = "free"
        keep.append(k)
    if len(keep) != len(s) - 2:
        x = lax.reshape(x, tuple(s[k] for k in keep) + s[-2:])
    return x, roles


def dot(a, b, /):
    """numpy's dot: a product for scalars, the inner product of vectors, the matrix product of
    matrices, and in general a sum over a's last axis and b's second-to-last."""
    a, b = _operands("dot", a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        return _scalar_product(a, b)
    _check_sizes("dot", a, b, na - 1, max(nb - 2, 0))
    return _contract(a, b, (na - 1,), (max(nb - 2, 0),))


def _scalar_product(a, b):
    """A product with a scalar operand: numpy multiplies (bools: logical and)."""
    from .elementwise import multiply
    return multiply(a, b)


def _check_sizes(name, a, b, ia, ib):
    if shape_of(a)[ia] != shape_of(b)[ib]:
        raise ValueError(f"fnp.{name}: shapes {shape_of(a)} and {shape_of(b)} not aligned: "
                         f"{shape_of(a)[ia]} (dim {ia}) != {shape_of(b)[ib]} (dim {ib})")


def vdot(a, b, /):
    """The dot product of the flattened arrays, conjugating the first."""
    from .elementwise import conj
    a, b = _operands("vdot", a, b)
    a, b = (lax.reshape(x, (int(np.prod(shape_of(x), dtype=np.int64)),)) for x in (a, b))
    _check_sizes("vdot", a, b, 0, 0)
    return _contract(conj(a), b, (0,), (0,))


def inner(a, b, /):
    """The sum over the last axes of a and b (a product if either is a scalar)."""
    a, b = _operands("inner", a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        return _scalar_product(a, b)
    _check_sizes("inner", a, b, na - 1, nb - 1)
    return _contract(a, b, (na - 1,), (nb - 1,))


def outer(a, b, /):
    """out[i, j] = a.ravel()[i] * b.ravel()[j]."""
    from .elementwise import multiply
    a, b = _operands("outer", a, b)
    a = lax.reshape(a, (int(np.prod(shape_of(a), dtype=np.int64)), 1))
    b = lax.reshape(b, (1, int(np.prod(shape_of(b), dtype=np.int64))))
    return multiply(a, b)


def tensordot(a, b, axes=2):
    """The sum over the given axes: the last `axes` of a with the first `axes` of b for an int,
    or the paired axes of a pair of sequences."""
    a, b = _operands("tensordot", a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if isinstance(axes, (int, np.integer)):
        n = operator.index(axes)
        if n < 0 or n > min(na, nb):
            raise ValueError(f"fnp.tensordot: cannot contract {n} axes of operands of shapes "
                             f"{shape_of(a)} and {shape_of(b)}")
        a_axes, b_axes = list(range(na - n, na)), list(range(n))
    else:
        a_axes, b_axes = axes
        a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
        b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
        if len(a_axes) != len(b_axes):
            raise ValueError("fnp.tensordot: axes must pair as many axes of a as of b")
        a_axes = [canonical_axis(i, na, "tensordot") for i in a_axes]
        b_axes = [canonical_axis(i, nb, "tensordot") for i in b_axes]
    for i, j in zip(a_axes, b_axes):
        _check_sizes("tensordot", a, b, i, j)
    return _contract(a, b, a_axes, b_axes)


# --- norms ----------------------------------------------------------------------------------------

def norm(x, ord=None, axis=None, keepdims=False):
    """Vector and matrix norms, as numpy.linalg.norm: by default the 2-norm of the flattened
    array (the Frobenius norm of a matrix). Vector ords: inf, -inf, 0, 1, 2 and any other
    number p (sum |x|**p)**(1/p); matrix ords: 'fro', 1, -1, inf, -inf. Matrix ords 2, -2 and
    'nuc' need singular values and are not supported."""
    from . import reductions as red
    from .elementwise import absolute, conj, multiply, not_equal, power, real, sqrt
    x = to_inexact(asarray(x, "linalg.norm"))
    nd = len(shape_of(x))
    if axis is None and (ord is None or (ord in ("f", "fro") and nd == 2) or
                         (ord == 2 and nd == 1)):
        flat = lax.reshape(x, (int(np.prod(shape_of(x), dtype=np.int64)),))
        if dtype_of(flat).kind == "c":
            re, im = lax.real(flat), lax.imag(flat)
            squares = lax.add(_contract(re, re, (0,), (0,)), _contract(im, im, (0,), (0,)))
        else:
            squares = _contract(flat, flat, (0,), (0,))
        out = lax.sqrt(squares)
        return lax.reshape(out, (1,) * nd) if keepdims else out
    axes = tuple(range(nd)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(canonical_axis(a, nd, "linalg.norm") for a in axes)
    if len(axes) == 1:
        if ord == np.inf:
            return red.max(absolute(x), axis=axes, keepdims=keepdims)
        if ord == -np.inf:
            return red.min(absolute(x), axis=axes, keepdims=keepdims)
        if ord == 0:
            nonzero = lax.convert_element_type(not_equal(x, 0), dtype_of(real(x)))
            return red.sum(nonzero, axis=axes, keepdims=keepdims)
        if ord == 1:
            return red.sum(absolute(x), axis=axes, keepdims=keepdims)
        if ord is None or ord == 2:
            return sqrt(red.sum(real(multiply(conj(x), x)), axis=axes, keepdims=keepdims))
        if isinstance(ord, str):
            raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for vectors")
        total = red.sum(power(absolute(x), ord), axis=axes, keepdims=keepdims)
        return power(total, np.reciprocal(np.asarray(ord, dtype_of(total))))
    if len(axes) == 2:
        row, col = axes
        if row == col:
            raise ValueError("fnp.linalg.norm: duplicate axes given")
        if ord in (2, -2, "nuc"):
            raise NotImplementedError(f"fnp.linalg.norm: ord={ord!r} for matrices needs "
                                      "singular values, and functrans has no SVD")
        if ord in (1, -1):
            extreme = red.max if ord == 1 else red.min
            out = extreme(red.sum(absolute(x), axis=row), axis=col - (col > row))
        elif ord in (np.inf, -np.inf):
            extreme = red.max if ord == np.inf else red.min
            out = extreme(red.sum(absolute(x), axis=col), axis=row - (row > col))
        elif ord in (None, "fro", "f"):
            out = sqrt(red.sum(real(multiply(conj(x), x)), axis=axes))
        else:
            raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for matrices")
        if keepdims:
            shape = list(shape_of(x))
            shape[row] = shape[col] = 1
            out = lax.reshape(out, tuple(shape))
        return out
    raise ValueError(f"fnp.linalg.norm: improper number of dimensions to norm (axis={axis})")
