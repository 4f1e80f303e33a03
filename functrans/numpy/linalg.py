"""functrans.numpy.linalg: products, norms, solves and decompositions (jax.numpy.linalg).

Every product is one lax.dot_general (plus the transposes and reshapes that put numpy's layout
back). Eagerly, the same lax operations run on numpy arrays: how BLAS groups a sum depends on
the call, so calling np.matmul instead could change the last bit of the result.

Solves and decompositions are built on the primitives of functrans.lax.linalg (LU, triangular
solve, Cholesky, QR, eigh, SVD, eig), so their derivatives come from those primitives' rules:
solve and inv are an LU factorization and two triangular solves, det and slogdet read the LU
factors, pinv and lstsq use the SVD (pinv with its own JVP, valid where the rank is constant).
Integer operands are converted to float64; matrices are the last two axes, leading axes are a
batch (broadcast between operands where numpy broadcasts).
"""
import operator
from collections import namedtuple

import numpy as np

from .. import lax
from ..core import dtypes
from ..lax_linalg import lu_solve
from ..primitives.contraction import dot_general_p
from ..primitives.linalg import cholesky_p
from ..transforms.custom import custom_jvp
# Sibling families by module: their functions must not become fnp.linalg names (_outputs.py
# wraps every function this module's namespace holds).
from . import creation as _creation, elementwise as _ew, indexing as _indexing
from . import reductions as _red, shaping as _shaping, sorting as _sorting
from ._promotion import (asarray, broadcast_shapes, broadcast_to, canonical_axis, concrete,
                         dtype_of, eager, promote, recorded, shape_of, to_inexact)

__all__ = ["matmul", "dot", "vdot", "inner", "outer", "tensordot", "norm", "solve", "inv",
           "det", "slogdet", "cholesky", "eigh", "eigvalsh", "eig", "eigvals", "svd",
           "svdvals", "qr", "pinv", "lstsq", "matrix_power", "matrix_rank", "multi_dot",
           "tensorsolve", "tensorinv", "cond", "LinAlgError", "cross", "diagonal",
           "matrix_norm", "matrix_transpose", "trace", "vecdot", "vector_norm"]


def _operands(name, a, b):
    a, b = (asarray(x, name) for x in (a, b))
    # Python scalars stay weakly typed, as in JAX: dot(float16 array, 2.5) is float16.
    return promote(a, b)


def _contract(a, b, a_axes, b_axes):
    return lax.dot_general(a, b, ((tuple(a_axes), tuple(b_axes)), ((), ())))


_MATRIX_PRODUCT = (((1,), (0,)), ((), ()))


def matmul(a, b, /):
    """The matrix product of the last two axes, broadcasting the leading (batch) axes; a 1-D
    operand is a vector (its axis is removed from the result)."""
    return recorded(_matmul, (a, b))


def _matmul(a, b):
    a, b = _operands("matmul", a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ValueError("fnp.matmul: operands must have at least one dimension (use "
                         "fnp.multiply for scalars)")
    if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0]:
        # Two matrices: the general path below reduces to this one contraction (no batch
        # axes, no transpose, no reshape), and lax.dot_general to this bind (the operands
        # have one dtype, the dimension numbers are canonical).
        return dot_general_p.bind(a, b, dimension_numbers=_MATRIX_PRODUCT, precision=None,
                                  preferred_element_type=None)
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
    return _ew.multiply(a, b)


def _check_sizes(name, a, b, ia, ib):
    if shape_of(a)[ia] != shape_of(b)[ib]:
        raise ValueError(f"fnp.{name}: shapes {shape_of(a)} and {shape_of(b)} not aligned: "
                         f"{shape_of(a)[ia]} (dim {ia}) != {shape_of(b)[ib]} (dim {ib})")


def vdot(a, b, /):
    """The dot product of the flattened arrays, conjugating the first."""
    a, b = _operands("vdot", a, b)
    a, b = (lax.reshape(x, (int(np.prod(shape_of(x), dtype=np.int64)),)) for x in (a, b))
    _check_sizes("vdot", a, b, 0, 0)
    return _contract(_ew.conj(a), b, (0,), (0,))


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
    a, b = _operands("outer", a, b)
    a = lax.reshape(a, (int(np.prod(shape_of(a), dtype=np.int64)), 1))
    b = lax.reshape(b, (1, int(np.prod(shape_of(b), dtype=np.int64))))
    return _ew.multiply(a, b)


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
    number p (sum |x|**p)**(1/p); matrix ords: 'fro', 1, -1, inf, -inf, and 2, -2, 'nuc'
    (the largest, smallest and summed singular values)."""
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
            return _red.max(_ew.absolute(x), axis=axes, keepdims=keepdims)
        if ord == -np.inf:
            return _red.min(_ew.absolute(x), axis=axes, keepdims=keepdims)
        if ord == 0:
            nonzero = lax.convert_element_type(_ew.not_equal(x, 0), dtype_of(_ew.real(x)))
            return _red.sum(nonzero, axis=axes, keepdims=keepdims)
        if ord == 1:
            return _red.sum(_ew.absolute(x), axis=axes, keepdims=keepdims)
        if ord is None or ord == 2:
            return _ew.sqrt(_red.sum(_ew.real(_ew.multiply(_ew.conj(x), x)), axis=axes,
                                     keepdims=keepdims))
        if isinstance(ord, str):
            raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for vectors")
        total = _red.sum(_ew.power(_ew.absolute(x), ord), axis=axes, keepdims=keepdims)
        return _ew.power(total, np.reciprocal(np.asarray(ord, dtype_of(total))))
    if len(axes) == 2:
        row, col = axes
        if row == col:
            raise ValueError("fnp.linalg.norm: duplicate axes given")
        if ord in (2, -2, "nuc"):
            # Singular values of the (row, col) matrices: move those axes last.
            s = svdvals(_shaping.moveaxis(x, (row, col), (-2, -1)))
            reduce = {2: _red.max, -2: _red.min, "nuc": _red.sum}[ord]
            out = reduce(s, axis=-1)
        elif ord in (1, -1):
            extreme = _red.max if ord == 1 else _red.min
            out = extreme(_red.sum(_ew.absolute(x), axis=row), axis=col - (col > row))
        elif ord in (np.inf, -np.inf):
            extreme = _red.max if ord == np.inf else _red.min
            out = extreme(_red.sum(_ew.absolute(x), axis=col), axis=row - (row > col))
        elif ord in (None, "fro", "f"):
            out = _ew.sqrt(_red.sum(_ew.real(_ew.multiply(_ew.conj(x), x)), axis=axes))
        else:
            raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for matrices")
        if keepdims:
            shape = list(shape_of(x))
            shape[row] = shape[col] = 1
            out = lax.reshape(out, tuple(shape))
        return out
    raise ValueError(f"fnp.linalg.norm: improper number of dimensions to norm (axis={axis})")


# --- solves and decompositions --------------------------------------------------------------------

LinAlgError = np.linalg.LinAlgError

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])


def _inexact_operand(a, name):
    a = asarray(a, f"linalg.{name}")
    if dtypes.is_python_scalar(a):
        a = np.asarray(a)
    a = to_inexact(a)
    if dtype_of(a) == np.float16:
        raise TypeError(f"fnp.linalg.{name}: float16 is not supported by LAPACK; convert to "
                        "float32 first")
    return a


def _matrix(name, a, square=False):
    a = _inexact_operand(a, name)
    s = shape_of(a)
    if len(s) < 2:
        raise LinAlgError(f"fnp.linalg.{name}: {len(s)}-dimensional array given; the array "
                          "must be at least two-dimensional")
    if square and s[-1] != s[-2]:
        raise LinAlgError(f"fnp.linalg.{name}: last 2 dimensions of the array must be square, "
                          f"got shape {s}")
    return a


def _adjoint(x):
    x = _swap_last(x)
    return _ew.conj(x) if dtype_of(x).kind == "c" else x


def _swap_last(x):
    nd = len(shape_of(x))
    return lax.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _lu_parity_sign(pivots, dtype):
    """(-1)^(number of row interchanges), per batch member, as dtype."""
    s = shape_of(pivots)
    iota = lax.broadcasted_iota(dtype_of(pivots), s, len(s) - 1)
    swaps = lax.reduce_sum(lax.convert_element_type(lax.ne(pivots, iota), np.int32),
                           (len(s) - 1,))
    odd = lax.convert_element_type(lax.rem(swaps, np.int32(2)), dtype)
    return lax.sub(np.asarray(1, dtype)[()], lax.mul(np.asarray(2, dtype)[()], odd))


def solve(a, b):
    """x with a @ x = b. b is a vector (..., M) only if it is 1-D; otherwise (..., M, K), with
    batch axes broadcast against a's (numpy 2's rule). Solved by LU with partial pivoting and
    two triangular solves; its derivative reuses those factors."""
    a = _matrix("solve", a, square=True)
    b = _inexact_operand(b, "solve")
    a, b = promote(a, b)
    sa, sb = shape_of(a), shape_of(b)
    vector = len(sb) == 1
    if vector:
        b, sb = lax.reshape(b, sb + (1,)), sb + (1,)
    if len(sb) < 2 or sb[-2] != sa[-1]:
        raise ValueError(f"fnp.linalg.solve: b of shape {shape_of(b)} does not match a of shape "
                         f"{sa} (b must be (M,) or (..., M, K) with M = {sa[-1]})")
    batch = broadcast_shapes(sa[:-2], sb[:-2], name="linalg.solve")
    a = broadcast_to(a, batch + sa[-2:], "linalg.solve")
    b = broadcast_to(b, batch + sb[-2:], "linalg.solve")
    if eager(a, b):
        # numpy's gesv is the same LU and triangular solves, without the dispatch; an exactly
        # singular matrix gives inf/NaN below instead of numpy's exception (as JAX).
        try:
            x = np.linalg.solve(a, b)
            return x.reshape(batch + sa[-1:]) if vector else x
        except LinAlgError:
            pass
    x = _solve_square(a, b)
    return lax.reshape(x, batch + sa[-1:]) if vector else x


def _solve_square(a, b):
    """x with a x = b for a [..., n, n] and b [..., n, k] of equal batch dims and dtype (no
    promotion or broadcasting), with solve's derivative rule."""
    return _custom("solve", _solve_matrices, _solve_jvp)(a, b)


# solve, det and slogdet differentiate by the textbook rules written with the LU factors of the
# primal (dx = A^-1 (db - dA x), d log|det A| = tr(A^-1 dA)), as JAX does: the same numbers as
# differentiating through lu's JVP, at the cost of a solve (O(n^2) per column) instead of
# re-deriving the factors (O(n^3)). Reverse mode is still transpose(linearize): the transposed
# triangular solves of these rules.
_CUSTOM = {}


def _custom(name, fun, rule, nondiff_argnums=()):
    if name not in _CUSTOM:
        f = custom_jvp(fun, nondiff_argnums=nondiff_argnums)
        f.defjvp(rule)
        _CUSTOM[name] = f
    return _CUSTOM[name]


def _solve_matrices(a, b):
    """x with a x = b: a [..., n, n], b [..., n, k], equal batch dims and dtype."""
    lu, _, perm = lax.linalg.lu(a)
    return lu_solve(lu, perm, b)


def _solve_jvp(primals, tangents):
    (a, b), (da, db) = primals, tangents
    lu, _, perm = lax.linalg.lu(a)
    x = lu_solve(lu, perm, b)
    return x, lu_solve(lu, perm, lax.sub(db, _matmul_batched(da, x)))


def _matmul_batched(a, b):
    nd = len(shape_of(a))
    batch = tuple(range(nd - 2))
    return lax.dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _trace_of_solve(lu, perm, da):
    """tr(a^-1 da) per batch member, from a's LU factors."""
    x = lu_solve(lu, perm, da)
    return lax.reduce_sum(_shaping.diagonal(x, axis1=-2, axis2=-1), (len(shape_of(x)) - 2,))


def inv(a):
    """The inverse of each square matrix (a solve against the identity)."""
    a = _matrix("inv", a, square=True)
    if eager(a):
        try:
            return np.linalg.inv(a)
        except LinAlgError:       # singular: inf/NaN from the LU path, as JAX
            pass
    n = shape_of(a)[-1]
    return solve(a, broadcast_to(_creation.eye(n, dtype=dtype_of(a)), shape_of(a), "linalg.inv"))


def _lu_diagonal(lu):
    return _shaping.diagonal(lu, axis1=-2, axis2=-1)


def det(a):
    """The determinant, from the LU factors: the product of U's diagonal times the sign of the
    row permutation. Derivative: det(a) tr(a^-1 da), NaN at exactly singular matrices."""
    a = _matrix("det", a, square=True)
    if eager(a):
        return np.linalg.det(a)
    return _custom("det", _det_value, _det_jvp)(a)


def _det_value(a):
    return _det_from_lu(*lax.linalg.lu(a)[:2])


def _det_from_lu(lu, pivots):
    return lax.mul(_lu_parity_sign(pivots, dtype_of(lu)), _red.prod(_lu_diagonal(lu), axis=-1))


def _det_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    lu, pivots, perm = lax.linalg.lu(a)      # one factorization for the value and the rule
    out = _det_from_lu(lu, pivots)
    return out, lax.mul(out, _trace_of_solve(lu, perm, da))


def slogdet(a, *, method=None):
    """(sign, logabsdet) with det(a) = sign * exp(logabsdet), from the LU factors (a singular
    matrix gives sign 0 and logabsdet -inf). Derivative: d logabsdet = re tr(a^-1 da) (and for
    complex a, d sign = i im tr(a^-1 da) sign)."""
    if method not in (None, "lu"):
        raise ValueError(f"fnp.linalg.slogdet: method={method!r} is not supported; use 'lu'")
    a = _matrix("slogdet", a, square=True)
    if eager(a):
        sign, logabsdet = np.linalg.slogdet(a)
        return SlogdetResult(sign, logabsdet)
    return SlogdetResult(*_custom("slogdet", _slogdet_value, _slogdet_jvp)(a))


def _slogdet_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    lu, pivots, perm = lax.linalg.lu(a)      # one factorization for the value and the rule
    sign, logabsdet = _slogdet_from_lu(lu, pivots)
    tr = _trace_of_solve(lu, perm, da)
    if dtype_of(a).kind == "c":
        d_log = lax.real(tr)
        d_sign = lax.mul(sign, lax.complex(np.zeros((), dtype_of(d_log))[()], lax.imag(tr)))
    else:
        d_log = tr
        d_sign = lax.full(shape_of(sign), 0, dtype_of(sign))
    return (sign, logabsdet), (d_sign, d_log)


def _slogdet_value(a):
    return _slogdet_from_lu(*lax.linalg.lu(a)[:2])


def _slogdet_from_lu(lu, pivots):
    d = _lu_diagonal(lu)
    mag = _ew.absolute(d)
    logabsdet = _red.sum(_ew.log(mag), axis=-1)
    parity = _lu_parity_sign(pivots, dtype_of(lu))
    if dtype_of(lu).kind == "c":
        unit = _ew.where(mag == 0, np.asarray(0, dtype_of(lu)), _ew.divide(d, mag))
        sign = lax.mul(parity, _red.prod(unit, axis=-1))
    else:
        sign = lax.mul(parity, _red.prod(_ew.sign(d), axis=-1))
    return sign, logabsdet


def cholesky(a, *, upper=False, symmetrize_input=True):
    """The Cholesky factor of each Hermitian positive definite matrix: L with a = L L^H, or
    U = L^H with a = U^H U if upper. Not positive definite: NaNs (as in JAX). With
    symmetrize_input, (a + a^H) / 2 is factored (derivatives are those of a symmetric matrix)."""
    a = _matrix("cholesky", a, square=True)
    if eager(a):
        if symmetrize_input:
            a = (a + np.conj(np.swapaxes(a, -1, -2))) / np.asarray(2, a.dtype)
        L = cholesky_p.impl(a)
        return np.conj(np.swapaxes(L, -1, -2)) if upper else L
    L = lax.linalg.cholesky(a, symmetrize_input=symmetrize_input)
    return _adjoint(L) if upper else L


def _lower(UPLO, name):
    if UPLO is None or UPLO == "L":
        return True
    if UPLO == "U":
        return False
    raise ValueError(f"fnp.linalg.{name}: UPLO must be 'L' or 'U', got {UPLO!r}")


def eigh(a, UPLO=None, symmetrize_input=True):
    """(eigenvalues, eigenvectors) of Hermitian matrices, eigenvalues ascending. Eigenvector
    derivatives do not exist where eigenvalues repeat: they come out inf/NaN there."""
    a = _matrix("eigh", a, square=True)
    v, w = lax.linalg.eigh(a, lower=_lower(UPLO, "eigh"), symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO="L", *, symmetrize_input=True):
    """The ascending eigenvalues of Hermitian matrices."""
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a):
    """(eigenvalues, eigenvectors) of general square matrices, complex (right eigenvectors of
    unit norm, largest component real, as LAPACK returns them). Differentiable where the
    eigenvalues are distinct, eigenvectors included (in that normalization; JAX has only the
    eigenvalues' derivatives)."""
    a = _matrix("eig", a, square=True)
    w, v = lax.linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    """The complex eigenvalues of general square matrices (differentiable where distinct)."""
    a = _matrix("eigvals", a, square=True)
    return lax.linalg.eig(a, compute_left_eigenvectors=False,
                          compute_right_eigenvectors=False)[0]


def svd(a, full_matrices=True, compute_uv=True, hermitian=False, subset_by_index=None):
    """(U, S, Vh) with a = U diag(S) Vh, S descending; S alone if not compute_uv. With
    hermitian, computed from eigh. Singular-vector derivatives need full_matrices=False (or
    square matrices) and distinct nonzero singular values."""
    a = _matrix("svd", a)
    if subset_by_index is not None:
        raise NotImplementedError("fnp.linalg.svd: subset_by_index is not supported; compute "
                                  "all singular values and slice them")
    if hermitian:
        return _svd_hermitian(a, compute_uv)
    out = lax.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return SVDResult(*out) if compute_uv else out


def _svd_hermitian(a, compute_uv):
    a = _matrix("svd", a, square=True)
    v, w = lax.linalg.eigh(a)
    s = _ew.absolute(w)
    order = _sorting.argsort(_ew.negative(s), axis=-1)
    s = _indexing.take_along_axis(s, order, axis=-1)
    if not compute_uv:
        return s
    cols = broadcast_to(_shaping.expand_dims(order, -2), shape_of(v), "linalg.svd")
    u = _indexing.take_along_axis(v, cols, axis=-1)
    # a = V diag(w) V^H = U diag(|w|) (V diag(sign w))^H
    signs = _ew.where(w < 0, np.asarray(-1, dtype_of(w)), np.asarray(1, dtype_of(w)))
    signed = _ew.multiply(v, _shaping.expand_dims(signs, -2))
    return SVDResult(u, s, _adjoint(_indexing.take_along_axis(signed, cols, axis=-1)))


def svdvals(x, /):
    """The singular values of each matrix, descending."""
    return svd(x, compute_uv=False)


def qr(a, mode="reduced"):
    """(Q, R) with a = Q R: mode 'reduced' (Q m x k), 'complete' (Q m x m), or 'r' (R alone).
    Derivatives need m >= n and a reduced (or square) factorization."""
    a = _matrix("qr", a)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"fnp.linalg.qr: mode={mode!r} is not supported; use 'reduced', "
                         "'complete' or 'r' ('raw' returns LAPACK's Householder reflectors, "
                         "which functrans does not expose)")
    q, r = lax.linalg.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def _default_rtol(a):
    m, n = shape_of(a)[-2:]
    return 10.0 * max(m, n) * np.finfo(dtype_of(a)).eps


def pinv(a, rtol=None, hermitian=False, *, rcond=None):
    """The Moore-Penrose pseudo-inverse from the SVD: singular values at or below rtol times
    the largest are treated as zero (default rtol: 10 * max(m, n) * eps, as JAX). Its
    derivative is the pseudo-inverse's own formula, valid where the rank does not change."""
    if rcond is not None:
        if rtol is not None:
            raise ValueError("fnp.linalg.pinv: pass rtol or rcond, not both")
        rtol = rcond
    a = _matrix("pinv", a)
    if rtol is None:
        rtol = _default_rtol(a)
    rtol = float(np.asarray(concrete(rtol, "linalg.pinv (rtol)")))
    return _pinv(a, rtol, bool(hermitian))


def _pinv_value(a, rtol, hermitian):
    if hermitian:
        u, s, vh = _svd_hermitian(a, True)
    else:
        u, s, vh = lax.linalg.svd(a, full_matrices=False)
    if shape_of(s)[-1]:
        cutoff = _ew.multiply(_red.max(s, axis=-1, keepdims=True), np.asarray(rtol, dtype_of(s)))
        keep = _ew.greater(s, cutoff)
        s = _ew.where(keep, _ew.divide(1, _ew.where(keep, s, 1)), 0)   # 1/s, and 0 below the cutoff
    return matmul(_ew.multiply(_adjoint(vh), _shaping.expand_dims(s, -2)), _adjoint(u))


def _pinv_jvp(rtol, hermitian, primals, tangents):
    (a,), (da,) = primals, tangents
    p = _pinv(a, rtol, hermitian)
    m, n = shape_of(a)[-2:]
    eye_m = broadcast_to(_creation.eye(m, dtype=dtype_of(a)), shape_of(a)[:-2] + (m, m))
    eye_n = broadcast_to(_creation.eye(n, dtype=dtype_of(a)), shape_of(a)[:-2] + (n, n))
    dah = _adjoint(da)
    # d(A+) = -A+ dA A+ + A+ A+^H dA^H (I - A A+) + (I - A+ A) dA^H A+^H A+
    t1 = lax.neg(matmul(matmul(p, da), p))
    t2 = matmul(matmul(matmul(p, _adjoint(p)), dah), lax.sub(eye_m, matmul(a, p)))
    t3 = matmul(matmul(lax.sub(eye_n, matmul(p, a)), dah), matmul(_adjoint(p), p))
    return p, lax.add(lax.add(t1, t2), t3)


def _make_pinv():
    f = custom_jvp(lambda rtol, hermitian, a: _pinv_value(a, rtol, hermitian),
                   nondiff_argnums=(0, 1))
    f.defjvp(_pinv_jvp)
    return f


_pinv_custom = None


def _pinv(a, rtol, hermitian):
    global _pinv_custom
    if _pinv_custom is None:
        _pinv_custom = _make_pinv()
    return _pinv_custom(rtol, hermitian, a)


def lstsq(a, b, rcond=None, *, numpy_resid=False):
    """(x, residuals, rank, s): x minimizes |b - a x| (the minimum-norm solution), from the
    pseudo-inverse. residuals are the squared residual norms per column of b; with
    numpy_resid=True they are empty unless a has full column rank and more rows than columns,
    as numpy returns them (which needs a concrete rank). a is (M, N), b (M,) or (M, K)."""
    a = _matrix("lstsq", a)
    b = _inexact_operand(b, "lstsq")
    a, b = promote(a, b)
    if len(shape_of(a)) != 2 or len(shape_of(b)) not in (1, 2):
        raise TypeError(f"fnp.linalg.lstsq: a must be 2-D and b 1-D or 2-D, got shapes "
                        f"{shape_of(a)} and {shape_of(b)}")
    m, n = shape_of(a)
    if shape_of(b)[0] != m:
        raise ValueError(f"fnp.linalg.lstsq: b's leading dimension {shape_of(b)[0]} must equal "
                         f"a's number of rows {m}")
    vector = len(shape_of(b)) == 1
    b2 = lax.reshape(b, (m, 1)) if vector else b
    if rcond is None:
        rcond = np.finfo(dtype_of(a)).eps * max(m, n)
    s = svdvals(a)
    x = matmul(pinv(a, rtol=rcond), b2)
    r = lax.sub(b2, matmul(a, x))
    resid = _red.sum(lax.real(_ew.multiply(lax.conj(r), r)) if dtype_of(r).kind == "c"
                     else _ew.multiply(r, r), axis=0)
    rank = matrix_rank(a, rtol=rcond) if min(m, n) else np.int64(0)
    if numpy_resid:
        if int(np.asarray(concrete(rank, "linalg.lstsq (numpy_resid=True)"))) < n or m <= n:
            resid = np.zeros(0, dtype_of(s))
    return (lax.reshape(x, (n,)) if vector else x), resid, rank, s


def matrix_rank(M, rtol=None, *, hermitian=False, tol=None):
    """The number of singular values above tol (default: rtol times the largest, rtol
    defaulting to max(m, n) * eps). Integer-valued: not differentiable."""
    M = _inexact_operand(M, "matrix_rank")
    if len(shape_of(M)) < 2:
        return lax.convert_element_type(_red.any(_ew.not_equal(M, 0)), np.int64)
    s = svd(M, compute_uv=False, hermitian=hermitian)
    if tol is None:
        if rtol is None:
            rtol = max(shape_of(M)[-2:]) * np.finfo(dtype_of(s)).eps
        tol = lax.mul(_red.max(s, axis=-1, keepdims=True), lax.convert_element_type(
            np.asarray(rtol), dtype_of(s)))
    else:
        tol = lax.convert_element_type(tol, dtype_of(s))
        if len(shape_of(tol)) < len(shape_of(s)):
            tol = lax.expand_dims(tol, (len(shape_of(tol)),))
    tol = broadcast_to(tol, shape_of(s), "linalg.matrix_rank")
    return _red.sum(lax.convert_element_type(lax.gt(s, tol), np.int64), axis=-1)


def matrix_power(a, n):
    """a multiplied by itself n times (n an int; negative n inverts first; n = 0 gives the
    identity), by repeated squaring."""
    a = asarray(a, "linalg.matrix_power")
    s = shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise LinAlgError(f"fnp.linalg.matrix_power: the last 2 dimensions must be square, got "
                          f"shape {s}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"fnp.linalg.matrix_power: exponent must be an integer, got {n!r}") \
            from None
    if n == 0:
        return broadcast_to(_creation.eye(s[-1], dtype=dtype_of(a)), s)
    if n < 0:
        a, n = inv(a), -n
    result, power = None, a
    while n:
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if n:
            power = matmul(power, power)
    return result


def multi_dot(arrays, *, precision=None):
    """The product of a chain of matrices, multiplied in the cheapest order (the classic
    dynamic program over parenthesizations); the first and last may be vectors."""
    arrays = [asarray(x, "linalg.multi_dot") for x in arrays]
    if len(arrays) < 2:
        raise ValueError("fnp.linalg.multi_dot: expecting at least two arrays")
    if len(arrays) == 2:
        return dot(arrays[0], arrays[1])
    first_vec, last_vec = len(shape_of(arrays[0])) == 1, len(shape_of(arrays[-1])) == 1
    if first_vec:
        arrays[0] = lax.reshape(arrays[0], (1,) + shape_of(arrays[0]))
    if last_vec:
        arrays[-1] = lax.reshape(arrays[-1], shape_of(arrays[-1]) + (1,))
    for x in arrays:
        if len(shape_of(x)) != 2:
            raise ValueError(f"fnp.linalg.multi_dot: arrays must be 2-D (the first and last may "
                             f"be 1-D), got shape {shape_of(x)}")
    dims = [shape_of(arrays[0])[0]] + [shape_of(x)[1] for x in arrays]
    k = len(arrays)
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = None
            for c in range(i, j):
                q = cost[i][c] + cost[c + 1][j] + dims[i] * dims[c + 1] * dims[j + 1]
                if cost[i][j] is None or q < cost[i][j]:
                    cost[i][j], split[i][j] = q, c

    def chain(i, j):
        if i == j:
            return arrays[i]
        c = split[i][j]
        return dot(chain(i, c), chain(c + 1, j))
    out = chain(0, k - 1)
    s = shape_of(out)
    if first_vec and last_vec:
        return lax.reshape(out, ())
    if first_vec:
        return lax.reshape(out, s[1:])
    if last_vec:
        return lax.reshape(out, s[:1])
    return out


def tensorsolve(a, b, axes=None):
    """x with tensordot(a, x, x.ndim) = b: a's trailing axes (after moving `axes` there) form
    the unknown's shape, its leading axes b's shape."""
    a = _inexact_operand(a, "tensorsolve")
    b = _inexact_operand(b, "tensorsolve")
    if axes is not None:
        axes = [canonical_axis(i, len(shape_of(a)), "linalg.tensorsolve") for i in
                (axes if isinstance(axes, (tuple, list)) else [axes])]
        a = _shaping.moveaxis(a, axes, list(range(len(shape_of(a)) - len(axes), len(shape_of(a)))))
    sb = shape_of(b)
    x_shape = shape_of(a)[len(sb):]
    rows = int(np.prod(sb, dtype=np.int64))
    cols = int(np.prod(x_shape, dtype=np.int64))
    if shape_of(a)[:len(sb)] != sb or rows != cols:
        raise LinAlgError(f"fnp.linalg.tensorsolve: a of shape {shape_of(a)} does not match b "
                          f"of shape {sb} (a's leading axes must be b's shape and the product "
                          "of its trailing axes must equal b's size)")
    x = solve(lax.reshape(a, (rows, cols)), lax.reshape(b, (rows,)))
    return lax.reshape(x, x_shape)


def tensorinv(a, ind=2):
    """The inverse of a with respect to tensordot over its first `ind` axes: the result's shape
    is a.shape[ind:] + a.shape[:ind]."""
    a = _inexact_operand(a, "tensorinv")
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"fnp.linalg.tensorinv: ind must be a positive integer, got {ind}")
    s = shape_of(a)
    rows = int(np.prod(s[:ind], dtype=np.int64))
    cols = int(np.prod(s[ind:], dtype=np.int64))
    if rows != cols:
        raise LinAlgError(f"fnp.linalg.tensorinv: the product of a's first {ind} axes ({rows}) "
                          f"must equal that of the others ({cols}), got shape {s}")
    return lax.reshape(inv(lax.reshape(a, (rows, cols))), s[ind:] + s[:ind])


def cond(x, p=None):
    """The condition number of each matrix in the norm p (default: 2, the ratio of the largest
    to the smallest singular value)."""
    x = _matrix("cond", x)
    if p is None or p in (2, -2):
        s = svdvals(x)
        big, small = _red.max(s, axis=-1), _red.min(s, axis=-1)
        return lax.div(small, big) if p == -2 else lax.div(big, small)
    x = _matrix("cond", x, square=True)
    return lax.mul(norm(x, ord=p, axis=(-2, -1)), norm(inv(x), ord=p, axis=(-2, -1)))


# --- the array API's linalg names -----------------------------------------------------------------

def matrix_transpose(x, /):
    """x with its last two axes swapped."""
    return _shaping.matrix_transpose(x)


def diagonal(x, /, *, offset=0):
    """The diagonals of the matrices in the last two axes."""
    return _shaping.diagonal(x, offset=offset, axis1=-2, axis2=-1)


def trace(x, /, *, offset=0, dtype=None):
    """The traces of the matrices in the last two axes."""
    return _shaping.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


def vecdot(x1, x2, /, *, axis=-1):
    """sum(conj(x1) * x2) along axis, the other axes broadcast."""
    products = _ew.multiply(_ew.conj(x1), x2)
    # A product keeps its operands' dtype (JAX): no widening of narrow integers as sum does.
    return _red.sum(products, axis=axis, dtype=dtype_of(products))


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """norm(x, ord) of the matrices in the last two axes."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """The vector norm of x over axis (all axes by default; a tuple of axes is treated as one
    flattened axis)."""
    x = asarray(x, "linalg.vector_norm")
    nd = len(shape_of(x))
    axes = tuple(range(nd)) if axis is None else \
        tuple(canonical_axis(a, nd, "linalg.vector_norm")
              for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    if len(axes) == 1:
        return norm(x, ord=ord, axis=axes[0], keepdims=keepdims)
    rest = tuple(d for d in range(nd) if d not in axes)
    moved = _shaping.moveaxis(x, axes, tuple(range(nd - len(axes), nd)))
    flat = lax.reshape(moved, tuple(shape_of(x)[d] for d in rest) +
                    (int(np.prod([shape_of(x)[d] for d in axes], dtype=np.int64)),))
    out = norm(flat, ord=ord, axis=-1)
    return _shaping.expand_dims(out, tuple(sorted(axes))) if keepdims else out


def cross(x1, x2, /, *, axis=-1):
    """The cross product of 3-element vectors along axis (the other axes broadcast)."""
    a, b = promote(asarray(x1, "linalg.cross"), asarray(x2, "linalg.cross"))
    if shape_of(a)[axis] != 3 or shape_of(b)[axis] != 3:
        raise ValueError(f"fnp.linalg.cross: both inputs must have size 3 along axis {axis}, "
                         f"got shapes {shape_of(a)} and {shape_of(b)}")
    a, b = _shaping.moveaxis(a, axis, -1), _shaping.moveaxis(b, axis, -1)
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    out = _shaping.stack([_ew.subtract(_ew.multiply(a1, b2), _ew.multiply(a2, b1)),
                          _ew.subtract(_ew.multiply(a2, b0), _ew.multiply(a0, b2)),
                          _ew.subtract(_ew.multiply(a0, b1), _ew.multiply(a1, b0))], axis=-1)
    return _shaping.moveaxis(out, -1, axis)
