"""Linear algebra: the matrix decompositions and the triangular solve, batched over leading dims.

Every primitive takes matrices in the last two axes of its operands; the axes before them are
batch axes (the same on every operand), as in jax.lax.linalg. The impls call LAPACK through
numpy (batched natively) or scipy (one matrix at a time); jit calls the same impls from the
driver. Operands must be float32, float64, complex64 or complex128.

  cholesky(a)                      L, lower triangular, with a = L L^H. Reads the lower triangle
                                   of a only; a matrix that is not positive definite gives NaNs
                                   (as in JAX), not an exception.
  triangular_solve(a, b, ...)      x with op(a) x = b (left_side) or x op(a) = b; op is a
                                   transpose and/or conjugation. Reads one triangle of a (and not
                                   its diagonal if unit_diagonal). Linear in b.
  lu(a)                            (lu, pivots, permutation): a[permutation] = L U, L unit lower
                                   (m x k), U upper (k x n), packed into lu; pivots as LAPACK's
                                   (0-based, int32).
  qr(a, full_matrices)             (q, r).
  eigh(a, lower)                   (v, w): eigenvectors and ascending real eigenvalues of the
                                   Hermitian matrix whose lower (or upper) triangle a holds.
  svd(a, full_matrices, compute_uv)
                                   (s, u, vh), or (s,): descending singular values.
  eig(a, ...)                      (w, [vl], [vr]): eigenvalues, left/right eigenvectors
                                   (complex, unit norm).
  expm(a), expm_frechet(a, e)      the matrix exponential and its Frechet derivative L(a, e),
                                   which is linear in e.

JVP rules use the standard perturbation formulas written with solves (triangular solves against
the factors, never an explicit inverse), so that reverse mode, transpose(linearize), is made of
triangular solves and products too:

  cholesky     dL = L phi(L^-1 dA L^-H), phi = lower triangle with half the diagonal.
  lu           X = L^-1 P dA U^-1; dL = L strict_lower(X), dU = upper(X) U (blocks for
               rectangular matrices).
  qr           (m >= n, reduced) C = Q^H dA R^-1, dO = skew part of C's strict lower triangle;
               dQ = Q (dO - C) + dA R^-1, dR = (C - dO) R.
  eigh         M = V^H dA V; dw = real(diag M), dV = V (F * M), F_ij = 1 / (w_j - w_i).
               Degenerate eigenvalues make F infinite: the eigenvector derivative does not
               exist there and comes out inf/NaN (as in JAX); eigenvalue derivatives stay finite.
  svd          the analogous formula with F_ij = 1 / (s_j^2 - s_i^2), plus the projections onto
               the complement spaces for rectangular matrices; repeated or zero singular values
               make the singular-vector derivatives inf/NaN, as in JAX.
  eig          M = V^-1 dA V (an LU solve), dw = diag(M), dV = V (F * M + diag(c)), F as for
               eigh, c fixing LAPACK's gauge (unit norm, largest component real); left
               eigenvectors are the right ones of A^H. (JAX has eigenvalue derivatives only.)
               LAPACK may flip an eigenvector's sign under a tiny perturbation: the derivative
               is that of the smooth branch through the returned vectors.
  expm         d expm(A)[E] = expm_frechet(A, E); the transpose of expm_frechet(A, .) is
               expm_frechet(A^T, .), and its derivative in A is again an expm_frechet, of the
               block matrix [[A, E], [0, A]].

The symmetric/triangular primitives read only part of their operand, so their JVPs use only the
same part of the tangent (the tangent of the matrix they actually decompose): finite
differences of the primitive itself then agree with the JVP for any perturbation.
"""
import math

import numpy as np

from ..core.aval import ShapedArray, aval_of_value
from ..core.primitive import Cost, Primitive, Zero, is_undefined
from ..core.trace import get_aval
from ..backend.lowering import impl_call
from . import _sparsity_rules as _sparsity
from .contraction import dot_general
from .elementwise import (add, complex as make_complex, conj, convert_element_type, div, eq, imag,
                          mul, neg, real, select_n, sub)
from .reductions import argmax, reduce_sum
from .shape import (broadcast_in_dim, broadcasted_iota, concatenate, full, slice as lax_slice,
                    transpose)
from ._batching import batch_size, bdim_at, moveaxis

__all__ = []       # the public functions live in functrans.lax.linalg (functrans/lax_linalg.py)

INEXACT = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.complex64),
           np.dtype(np.complex128))
_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}
_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}


def real_dtype(dtype):
    return _REAL_OF.get(np.dtype(dtype), np.dtype(dtype))


def complex_dtype(dtype):
    return _COMPLEX_OF.get(np.dtype(dtype), np.dtype(dtype))


# --- checks shared by the shape rules ---------------------------------------------------------

def _check_matrix(name, a, square=False, what="operand"):
    if a.ndim < 2:
        raise TypeError(f"lax.linalg.{name}: the {what} must have at least 2 dimensions "
                        f"(a matrix, or a batch of them), got {a.str_short()}")
    if a.dtype not in INEXACT:
        raise TypeError(f"lax.linalg.{name}: the {what} must be float32, float64, complex64 or "
                        f"complex128, got {a.str_short()}; convert integers first "
                        "(functrans.numpy.linalg does)")
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"lax.linalg.{name}: the {what} must be square in its last two "
                         f"dimensions, got {a.str_short()}")


# --- helpers the rules share: matrix operations on batched operands -------------------------

def _ndim(x):
    return get_aval(x).ndim


def _swap(x):
    """The transpose of the last two axes."""
    nd = _ndim(x)
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _conj(x):
    return conj(x) if get_aval(x).dtype.kind == "c" else x


def _adjoint(x):
    return _conj(_swap(x))


def _mm(a, b):
    """Batched matrix product of [..., m, k] and [..., k, n] with equal batch dims."""
    nd = _ndim(a)
    batch = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _keep(x, mask):
    """x where the (m, n) boolean mask holds, 0 elsewhere (a select: inf/NaN elsewhere vanish)."""
    aval = get_aval(x)
    pred = broadcast_in_dim(np.asarray(mask, bool), aval.shape, (aval.ndim - 2, aval.ndim - 1))
    return select_n(pred, full(aval.shape, 0, aval.dtype), x)


def _tril(x, k=0):
    m, n = get_aval(x).shape[-2:]
    return _keep(x, np.tri(m, n, k, dtype=bool))


def _triu(x, k=0):
    m, n = get_aval(x).shape[-2:]
    return _keep(x, ~np.tri(m, n, k - 1, dtype=bool))


def _diag(x):
    """The diagonal [..., n] of square matrices [..., n, n]."""
    n = get_aval(x).shape[-1]
    return reduce_sum(_keep(x, np.eye(n, dtype=bool)), (_ndim(x) - 1,))


def _diag_matrix(d):
    """Square matrices [..., n, n] with diagonal d [..., n]."""
    aval = get_aval(d)
    n = aval.shape[-1]
    rows = broadcast_in_dim(d, aval.shape + (n,), tuple(range(aval.ndim - 1)) + (aval.ndim,))
    return _keep(rows, np.eye(n, dtype=bool))


def _scale(x, s, axis):
    """x [..., m, n] times s [..., m] (axis=-2: scales rows) or s [..., n] (axis=-1: columns)."""
    aval = get_aval(x)
    nd = aval.ndim
    s = broadcast_in_dim(s, aval.shape, tuple(range(nd - 2)) + (nd + axis,))
    if get_aval(s).dtype != aval.dtype:
        s = convert_element_type(s, aval.dtype)
    return mul(x, s)


def _as_dtype(x, dtype):
    return x if get_aval(x).dtype == dtype else convert_element_type(x, dtype)


def _sym_from(x, lower):
    """The Hermitian matrix a routine that reads one triangle of x sees."""
    if lower:
        return add(_tril(x), _adjoint(_tril(x, -1)))
    return add(_triu(x), _adjoint(_triu(x, 1)))


def _block(x, r0, r1, c0, c1):
    """x[..., r0:r1, c0:c1]."""
    shape = get_aval(x).shape
    nb = len(shape) - 2
    return lax_slice(x, (0,) * nb + (r0, c0), shape[:nb] + (r1, c1))


def _batch_first(args, dims):
    """Operands with their batch axis moved (or broadcast) to the front."""
    size = batch_size(args, dims)
    return [bdim_at(x, d, size, 0) for x, d in zip(args, dims)]


def _batched_cost(batch_shape, flops, avals_in, avals_out):
    b = math.prod(batch_shape)
    moved = sum(a.size * a.dtype.itemsize for a in (*avals_in, *avals_out))
    return Cost(b * flops, moved)


def _matrices(impl):
    """Run impl(matrix, ...) -> [outputs] on every matrix of a batch (for scipy's unbatched
    routines); the outputs are allocated from the shape rule so that empty batches work."""
    def run(out_avals, *arrays):
        outs = [np.empty(a.shape, a.dtype) for a in out_avals]
        batch = arrays[0].shape[:-2]
        for idx in np.ndindex(*batch):
            for o, r in zip(outs, impl(*(a[idx] for a in arrays))):
                o[idx] = r
        return outs
    return run


def _sparsity_per_matrix(ins, out_avals, **params):
    """Each output element depends on every element of its own batch member of every operand
    (and on nothing in other members): dense within a matrix, block diagonal across a batch."""
    nb = ins[0].aval.ndim - 2
    members = math.prod(ins[0].aval.shape[:nb])
    n = ins[0].n_inputs
    if members == 0:
        return [_sparsity.empty(a.size, n) for a in out_avals]
    groups = [_sparsity.groups(d.pattern, np.repeat(np.arange(members), d.aval.size // members),
                               members) for d in ins]
    member = _sparsity.union(groups, members, n)
    return [_sparsity.take_rows(member, 1 + np.repeat(np.arange(members), a.size // members))
            for a in out_avals]


def _declare(name, impl, shape_rule, jac_structure, multiple_results=True, exact_sparsity=True):
    prim = Primitive(name, impl=impl, shape_rule=shape_rule, multiple_results=multiple_results,
                     jac_structure=jac_structure)
    prim.def_lowering(impl_call(prim))     # LAPACK from the driver, as eagerly
    # Exact for routines whose outputs depend on every element of the matrix; a superset for
    # those that read one triangle or return a triangular factor (exact_sparsity=False).
    prim.def_sparsity(_sparsity_per_matrix, exact=exact_sparsity)
    return prim


def _unary_batch(prim):
    """A primitive of one batched operand: move its batch axis to the front."""
    def rule(args, dims, **params):
        x = moveaxis(args[0], dims[0], 0)
        outs = prim.bind(x, **params)
        return (outs, [0] * len(outs)) if prim.multiple_results else (outs, 0)
    return rule


# --- cholesky -----------------------------------------------------------------------------------

def _cholesky_rule(a):
    _check_matrix("cholesky", a, square=True)
    return a.strip_weak()


def _cholesky_impl(a):
    a = np.asarray(a)
    _cholesky_rule(aval_of_value(a))
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        pass
    # Some matrix of the batch is not positive definite: that one gives NaNs, as in JAX.
    out = np.empty_like(a)
    for idx in np.ndindex(*a.shape[:-2]):
        try:
            out[idx] = np.linalg.cholesky(a[idx])
        except np.linalg.LinAlgError:
            out[idx] = np.nan
    return out


cholesky_p = _declare("cholesky", _cholesky_impl, _cholesky_rule, multiple_results=False,
                      exact_sparsity=False,
                      jac_structure="dense (lower triangle of the output on the lower triangle of "
                               "the input)")


@cholesky_p.def_jvp
def _cholesky_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    L = cholesky_p.bind(a)
    if isinstance(t, Zero):
        return L, Zero.like(L)
    sigma = _sym_from(t, lower=True)
    # X = L^-1 sigma L^-H by two triangular solves; dL = L phi(X).
    x = triangular_solve_p.bind(L, sigma, left_side=True, lower=True, transpose_a=False,
                                conjugate_a=False, unit_diagonal=False)
    x = triangular_solve_p.bind(L, x, left_side=False, lower=True, transpose_a=True,
                                conjugate_a=True, unit_diagonal=False)
    n = get_aval(x).shape[-1]
    half = np.asarray(0.5, get_aval(x).dtype)[()]
    phi = add(_tril(x, -1), mul(_keep(x, np.eye(n, dtype=bool)), half))
    return L, _mm(L, phi)


cholesky_p.def_batch(_unary_batch(cholesky_p))


@cholesky_p.def_cost
def _cholesky_cost(a):
    n = a.shape[-1]
    return _batched_cost(a.shape[:-2], n ** 3 / 3, [a], [a])


# --- triangular_solve ---------------------------------------------------------------------------

def _triangular_solve_rule(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    _check_matrix("triangular_solve", a, square=True, what="matrix a")
    _check_matrix("triangular_solve", b, what="right-hand side b")
    if a.dtype != b.dtype:
        raise TypeError(f"lax.linalg.triangular_solve requires a and b of one dtype, got "
                        f"{a.str_short()} and {b.str_short()}")
    if a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"lax.linalg.triangular_solve requires equal batch dimensions, got "
                         f"{a.str_short()} and {b.str_short()}")
    m = a.shape[-1]
    k = b.shape[-2] if left_side else b.shape[-1]
    if k != m:
        side = "rows" if left_side else "columns"
        raise ValueError(f"lax.linalg.triangular_solve: b must have {m} {side} to match a "
                         f"{a.str_short()} (left_side={left_side}), got {b.str_short()}")
    return b.strip_weak()


_ROUTINES = {}


def _routine(kind, name, dtype):
    """scipy's BLAS/LAPACK wrapper `name` for dtype, looked up once."""
    key = (kind, name, np.dtype(dtype))
    if key not in _ROUTINES:
        from scipy.linalg import blas, lapack
        get = blas.get_blas_funcs if kind == "blas" else lapack.get_lapack_funcs
        _ROUTINES[key] = get(name, dtype=np.dtype(dtype))
    return _ROUTINES[key]


def _solve_one(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    if a.shape[-1] == 0 or b.size == 0:
        return [np.zeros_like(b)]
    if conjugate_a and not transpose_a:
        # BLAS has no "conjugate only": conj(a) x = b is the conjugate of a conj(x) = conj(b).
        return [np.conj(_solve_one(a, np.conj(b), left_side=left_side, lower=lower,
                                   transpose_a=False, conjugate_a=False,
                                   unit_diagonal=unit_diagonal)[0])]
    # BLAS trsm: no singularity check, so a zero on the diagonal gives inf/NaN as in JAX.
    trsm = _routine("blas", "trsm", a.dtype)
    trans = (2 if conjugate_a else 1) if transpose_a else 0
    return [trsm(1.0, a, b, side=0 if left_side else 1, lower=int(lower), trans_a=trans,
                 diag=int(unit_diagonal))]


def _triangular_solve_impl(a, b, **params):
    a, b = np.asarray(a), np.asarray(b)
    out = _triangular_solve_rule(aval_of_value(a), aval_of_value(b), **params)
    return _matrices(lambda x, y: _solve_one(x, y, **params))([out], a, b)[0]


triangular_solve_p = _declare(
    "triangular_solve", _triangular_solve_impl, _triangular_solve_rule, multiple_results=False,
    exact_sparsity=False,
    jac_structure="dense in b (linear: a triangular solve); dense in the used triangle of a")


def _op(m, transpose_a, conjugate_a):
    if transpose_a:
        m = _swap(m)
    return _conj(m) if conjugate_a else m


@triangular_solve_p.def_jvp
def _triangular_solve_jvp(primals, tangents, **params):
    (a, b), (ta, tb) = primals, tangents
    x = triangular_solve_p.bind(a, b, **params)
    out = Zero.like(x)
    if not isinstance(tb, Zero):
        out = triangular_solve_p.bind(a, tb, **params)
    if not isinstance(ta, Zero):
        k = -1 if params["unit_diagonal"] else 0
        used = _tril(ta, k) if params["lower"] else _triu(ta, -k)
        d_op = _op(used, params["transpose_a"], params["conjugate_a"])
        # op(a) x = b: op(a) dx = -op(da) x.   x op(a) = b: dx op(a) = -x op(da).
        rhs = _mm(d_op, x) if params["left_side"] else _mm(x, d_op)
        from_a = neg(triangular_solve_p.bind(a, rhs, **params))
        out = from_a if isinstance(out, Zero) else add(out, from_a)
    return x, out


@triangular_solve_p.def_transpose
def _triangular_solve_transpose(ct, a, b, **params):
    if is_undefined(a):
        raise ValueError("lax.linalg.triangular_solve is linear in b only: its transpose needs "
                         "the matrix a to be known")
    if isinstance(ct, Zero):
        return [None, Zero(b.aval)]
    # (op(a)^-1)^T = (op(a)^T)^-1: flip the transpose, keep the conjugation (either side).
    flipped = dict(params, transpose_a=not params["transpose_a"])
    return [None, triangular_solve_p.bind(a, ct, **flipped)]


@triangular_solve_p.def_batch
def _triangular_solve_batch(args, dims, **params):
    a, b = _batch_first(args, dims)
    return triangular_solve_p.bind(a, b, **params), 0


@triangular_solve_p.def_cost
def _triangular_solve_cost(a, b, **params):
    m = a.shape[-1]
    k = b.shape[-1] if params["left_side"] else b.shape[-2]
    return _batched_cost(a.shape[:-2], m * m * k, [a, b], [b])


# --- lu -----------------------------------------------------------------------------------------

def _lu_rule(a):
    _check_matrix("lu", a)
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    return [a.strip_weak(), ShapedArray(batch + (min(m, n),), np.dtype(np.int32)),
            ShapedArray(batch + (m,), np.dtype(np.int32))]


def _lu_one(a):
    m, n = a.shape
    if m == 0 or n == 0:
        return [a.copy(), np.zeros(0, np.int32), np.arange(m, dtype=np.int32)]
    lu, piv, _ = _routine("lapack", "getrf", a.dtype)(a)     # singular U is not an error
    perm = np.arange(m, dtype=np.int32)
    for i, p in enumerate(piv):           # apply LAPACK's row interchanges in order
        perm[i], perm[p] = perm[p], perm[i]
    return [lu, piv.astype(np.int32), perm]


def _lu_impl(a):
    a = np.asarray(a)
    return _matrices(_lu_one)(_lu_rule(aval_of_value(a)), a)


lu_p = _declare("lu", _lu_impl, _lu_rule,
                jac_structure="dense (the packed factors on the whole matrix); zero for the pivots")


def permutation_matrix(perm, dtype):
    """P with P[i, perm[i]] = 1 (so P @ a = a[perm]), batched like perm [..., m]."""
    aval = get_aval(perm)
    m = aval.shape[-1]
    shape = aval.shape + (m,)
    rows = broadcast_in_dim(perm, shape, tuple(range(aval.ndim)))
    cols = broadcasted_iota(aval.dtype, shape, aval.ndim)
    return convert_element_type(eq(rows, cols), dtype)


@lu_p.def_jvp
def _lu_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    lu, pivots, perm = lu_p.bind(a)
    outs = [lu, pivots, perm]
    zeros = [Zero.like(pivots), Zero.like(perm)]
    if isinstance(t, Zero):
        return outs, [Zero.like(lu)] + zeros
    aval = get_aval(lu)
    m, n = aval.shape[-2:]
    k = min(m, n)
    pt = permute_rows(t, perm)                                # rows of dA in pivot order
    square = _block(lu, 0, k, 0, k)

    def core(d1):
        # X = L1^-1 d1 U1^-1; dL1 = L1 strict_lower(X), dU1 = upper(X) U1, packed in one matrix.
        x = triangular_solve_p.bind(square, d1, left_side=True, lower=True, transpose_a=False,
                                    conjugate_a=False, unit_diagonal=True)
        x = triangular_solve_p.bind(square, x, left_side=False, lower=False, transpose_a=False,
                                    conjugate_a=False, unit_diagonal=False)
        l1 = add(_tril(square, -1), _keep(full(get_aval(square).shape, 1, aval.dtype),
                                          np.eye(k, dtype=bool)))
        dl = _mm(l1, _tril(x, -1))
        du = _mm(_triu(x), _triu(square))
        return dl, du

    if m == n:
        dl, du = core(pt)
        return outs, [add(dl, du)] + zeros
    if m > n:      # tall: L = [L1; L2], U square
        dl1, du = core(_block(pt, 0, k, 0, n))
        l2 = _block(lu, k, m, 0, n)
        # A2 = L2 U: dL2 = (dA2 - L2 dU) U^-1
        r = sub(_block(pt, k, m, 0, n), _mm(l2, du))
        dl2 = triangular_solve_p.bind(square, r, left_side=False, lower=False,
                                      transpose_a=False, conjugate_a=False, unit_diagonal=False)
        return outs, [concatenate([add(dl1, du), dl2], aval.ndim - 2)] + zeros
    # wide: L square, U = [U1 U2]
    dl, du1 = core(_block(pt, 0, m, 0, k))
    u2 = _block(lu, 0, m, k, n)
    # A2 = L U2: dU2 = L^-1 (dA2 - dL U2)
    r = sub(_block(pt, 0, m, k, n), _mm(dl, u2))
    du2 = triangular_solve_p.bind(square, r, left_side=True, lower=True, transpose_a=False,
                                  conjugate_a=False, unit_diagonal=True)
    return outs, [concatenate([add(dl, du1), du2], aval.ndim - 1)] + zeros


lu_p.def_batch(_unary_batch(lu_p))


@lu_p.def_cost
def _lu_cost(a):
    m, n = a.shape[-2:]
    k = min(m, n)
    return _batched_cost(a.shape[:-2], m * n * k - (m + n) * k * k / 2 + k ** 3 / 3, [a],
                         _lu_rule(a))


# --- permute_rows: applying an LU permutation -----------------------------------------------------

def _permute_rows_rule(x, perm, *, inverse):
    if x.ndim < 2 or perm.ndim != x.ndim - 1 or perm.shape != x.shape[:-1] or \
            perm.dtype.kind not in "iu":
        raise TypeError(f"permute_rows: needs x [..., m, k] and an integer permutation [..., m] "
                        f"with x's batch dims, got {x.str_short()} and {perm.str_short()}")
    return x.strip_weak()


def _permute_rows_impl(x, perm, *, inverse):
    x, perm = np.asarray(x), np.asarray(perm)
    _permute_rows_rule(aval_of_value(x), aval_of_value(perm), inverse=inverse)
    index = np.broadcast_to(perm[..., None], x.shape)
    if not inverse:
        return np.take_along_axis(x, index, axis=-2)           # out[i] = x[perm[i]]
    out = np.empty_like(x)
    np.put_along_axis(out, index, x, axis=-2)                   # out[perm[i]] = x[i]
    return out


permute_rows_p = Primitive("permute_rows", impl=_permute_rows_impl,
                           shape_rule=_permute_rows_rule,
                           jac_structure="permutation (of the rows of x); zero in perm")
permute_rows_p.def_lowering(impl_call(permute_rows_p))
permute_rows_p.def_sparsity(_sparsity_per_matrix, exact=False)


@permute_rows_p.def_jvp
def _permute_rows_jvp(primals, tangents, *, inverse):
    (x, perm), (t, _) = primals, tangents
    out = permute_rows_p.bind(x, perm, inverse=inverse)
    return out, Zero.like(out) if isinstance(t, Zero) else permute_rows_p.bind(t, perm,
                                                                              inverse=inverse)


@permute_rows_p.def_transpose
def _permute_rows_transpose(ct, x, perm, *, inverse):
    if is_undefined(perm):
        raise ValueError("permute_rows is linear in x only: its transpose needs the permutation")
    if isinstance(ct, Zero):
        return [Zero(x.aval), None]
    # A permutation's transpose is its inverse.
    return [permute_rows_p.bind(ct, perm, inverse=not inverse), None]


@permute_rows_p.def_batch
def _permute_rows_batch(args, dims, *, inverse):
    x, perm = _batch_first(args, dims)
    return permute_rows_p.bind(x, perm, inverse=inverse), 0


@permute_rows_p.def_cost
def _permute_rows_cost(x, perm, *, inverse):
    return Cost(0.0, 2 * x.size * x.dtype.itemsize + perm.size * perm.dtype.itemsize)


def permute_rows(x, perm, inverse=False):
    """x[..., perm, :] (or, with inverse, the rows put back: out[..., perm, :] = x)."""
    return permute_rows_p.bind(x, perm, inverse=bool(inverse))


# --- qr -----------------------------------------------------------------------------------------

def _qr_rule(a, *, full_matrices):
    _check_matrix("qr", a)
    m, n = a.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = a.shape[:-2]
    return [ShapedArray(batch + (m, k), a.dtype), ShapedArray(batch + (k, n), a.dtype)]


def _qr_impl(a, *, full_matrices):
    a = np.asarray(a)
    _qr_rule(aval_of_value(a), full_matrices=full_matrices)
    q, r = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    return [q, r]


qr_p = _declare("qr", _qr_impl, _qr_rule, jac_structure="dense", exact_sparsity=False)


@qr_p.def_jvp
def _qr_jvp(primals, tangents, *, full_matrices):
    (a,), (t,) = primals, tangents
    q, r = qr_p.bind(a, full_matrices=full_matrices)
    if isinstance(t, Zero):
        return [q, r], [Zero.like(q), Zero.like(r)]
    m, n = get_aval(a).shape[-2:]
    if m < n or (full_matrices and m > n):
        raise NotImplementedError(
            f"lax.linalg.qr: the derivative is implemented for matrices with at least as many "
            f"rows as columns and the reduced factorization (full_matrices=False), got a "
            f"{m}x{n} matrix with full_matrices={full_matrices}: for a wide matrix Q depends on "
            "columns that R does not determine uniquely (JAX has the same limit)")
    dtype = get_aval(a).dtype

    def right_solve_r(x):      # x R^-1
        return triangular_solve_p.bind(r, x, left_side=False, lower=False, transpose_a=False,
                                       conjugate_a=False, unit_diagonal=False)
    c = right_solve_r(_mm(_adjoint(q), t))
    low = _tril(c, -1)
    do = sub(low, _adjoint(low))
    if dtype.kind == "c":       # the gauge: diag(Q^H dQ) is imaginary, R's diagonal stays real
        do = add(do, _diag_matrix(make_complex(full(get_aval(_diag(c)).shape, 0,
                                                     real_dtype(dtype)), imag(_diag(c)))))
    dq = add(_mm(q, sub(do, c)), right_solve_r(t))
    dr = _mm(sub(c, do), r)
    return [q, r], [dq, dr]


qr_p.def_batch(_unary_batch(qr_p))


@qr_p.def_cost
def _qr_cost(a, *, full_matrices):
    m, n = a.shape[-2:]
    k = min(m, n)
    return _batched_cost(a.shape[:-2], 4 * m * n * k, [a],
                         _qr_rule(a, full_matrices=full_matrices))


# --- eigh ---------------------------------------------------------------------------------------

def _eigh_rule(a, *, lower):
    _check_matrix("eigh", a, square=True)
    return [a.strip_weak(), ShapedArray(a.shape[:-1], real_dtype(a.dtype))]


def _eigh_impl(a, *, lower):
    a = np.asarray(a)
    _eigh_rule(aval_of_value(a), lower=lower)
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return [v, w]


eigh_p = _declare("eigh", _eigh_impl, _eigh_rule, exact_sparsity=False,
                  jac_structure="dense (on one triangle of the input)")


def _gap_inverse(x, dtype):
    """F[..., i, j] = 1 / (x_j - x_i) off the diagonal, 0 on it (inf where values repeat)."""
    aval = get_aval(x)
    n = aval.shape[-1]
    shape = aval.shape + (n,)
    nb = aval.ndim - 1
    xj = broadcast_in_dim(x, shape, tuple(range(nb)) + (nb + 1,))
    xi = broadcast_in_dim(x, shape, tuple(range(nb)) + (nb,))
    eye = np.eye(n, dtype=bool)
    one = full(shape, 1, aval.dtype)
    gaps = select_n(broadcast_in_dim(eye, shape, (nb, nb + 1)), sub(xj, xi), one)
    return _as_dtype(_keep(div(one, gaps), ~eye), dtype)


@eigh_p.def_jvp
def _eigh_jvp(primals, tangents, *, lower):
    (a,), (t,) = primals, tangents
    v, w = eigh_p.bind(a, lower=lower)
    if isinstance(t, Zero):
        return [v, w], [Zero.like(v), Zero.like(w)]
    dtype = get_aval(v).dtype
    m = _mm(_mm(_adjoint(v), _sym_from(t, lower)), v)
    dw = real(_diag(m)) if dtype.kind == "c" else _diag(m)
    dv = _mm(v, mul(_gap_inverse(w, dtype), m))
    return [v, w], [dv, dw]


eigh_p.def_batch(_unary_batch(eigh_p))


@eigh_p.def_cost
def _eigh_cost(a, *, lower):
    n = a.shape[-1]
    return _batched_cost(a.shape[:-2], 9 * n ** 3, [a], _eigh_rule(a, lower=lower))


# --- svd ----------------------------------------------------------------------------------------

def _svd_rule(a, *, full_matrices, compute_uv):
    _check_matrix("svd", a)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    s = ShapedArray(batch + (k,), real_dtype(a.dtype))
    if not compute_uv:
        return [s]
    ku, kv = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray(batch + (m, ku), a.dtype), ShapedArray(batch + (kv, n), a.dtype)]


def _svd_impl(a, *, full_matrices, compute_uv):
    a = np.asarray(a)
    _svd_rule(aval_of_value(a), full_matrices=full_matrices, compute_uv=compute_uv)
    if not compute_uv:
        return [np.linalg.svd(a, compute_uv=False)]
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return [s, u, vh]


svd_p = _declare("svd", _svd_impl, _svd_rule, jac_structure="dense")


@svd_p.def_jvp
def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    (a,), (t,) = primals, tangents
    m, n = get_aval(a).shape[-2:]
    outs = svd_p.bind(a, full_matrices=full_matrices, compute_uv=compute_uv)
    if isinstance(t, Zero):
        return outs, [Zero.like(o) for o in outs]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            f"lax.linalg.svd: the derivative with full_matrices=True is implemented for square "
            f"matrices only, got {m}x{n}: the extra singular vectors are not unique. Use "
            "full_matrices=False (JAX has the same limit)")
    s, u, vh = svd_p.bind(a, full_matrices=False, compute_uv=True)
    dtype = get_aval(a).dtype
    v = _adjoint(vh)
    ds_mat = _mm(_mm(_adjoint(u), t), v)              # U^H dA V, k x k
    ds = _diag(ds_mat)
    ds = real(ds) if dtype.kind == "c" else ds
    if not compute_uv:
        return outs, [ds]
    # F_ij = 1 / (s_j^2 - s_i^2); dU = U (F * (dS S + S dS^H)); dV = V (F * (S dS + dS^H S)).
    f = _gap_inverse(mul(s, s), dtype)
    ds_s = _scale(ds_mat, s, -1)
    s_ds = _scale(ds_mat, s, -2)
    du = _mm(u, mul(f, add(ds_s, _adjoint(ds_s))))
    dv = _mm(v, mul(f, add(s_ds, _adjoint(s_ds))))
    one = full(get_aval(s).shape, 1, get_aval(s).dtype)
    s_inv = div(one, s)
    if dtype.kind == "c":
        # The phase gauge: diag(U^H dU) takes the imaginary part of diag(dS) / s.
        half = np.asarray(0.5, real_dtype(dtype))[()]
        skew = _diag(sub(ds_mat, _adjoint(ds_mat)))
        du = add(du, _mm(u, _diag_matrix(mul(_as_dtype(mul(s_inv, half), dtype), skew))))
    if m > n:      # the part of dA V outside span(U)
        dav = _mm(t, v)
        du = add(du, _scale(sub(dav, _mm(u, _mm(_adjoint(u), dav))), s_inv, -1))
    if n > m:      # the part of dA^H U outside span(V)
        dahu = _mm(_adjoint(t), u)
        dv = add(dv, _scale(sub(dahu, _mm(v, _mm(vh, dahu))), s_inv, -1))
    return outs, [ds, du, _adjoint(dv)]


svd_p.def_batch(_unary_batch(svd_p))


@svd_p.def_cost
def _svd_cost(a, *, full_matrices, compute_uv):
    m, n = a.shape[-2:]
    k, big = min(m, n), max(m, n)
    flops = 4 * big * k * k + (8 * k ** 3 if compute_uv else 0)
    return _batched_cost(a.shape[:-2], flops, [a],
                         _svd_rule(a, full_matrices=full_matrices, compute_uv=compute_uv))


# --- eig ----------------------------------------------------------------------------------------

def _eig_rule(a, *, compute_left_eigenvectors, compute_right_eigenvectors):
    _check_matrix("eig", a, square=True)
    c = complex_dtype(a.dtype)
    outs = [ShapedArray(a.shape[:-1], c)]
    outs += [ShapedArray(a.shape, c)] * (int(compute_left_eigenvectors) +
                                         int(compute_right_eigenvectors))
    return outs


def _eig_one(left, right):
    def run(a):
        from scipy.linalg import eig
        if a.shape[-1] == 0:
            return [np.zeros(0)] + [np.zeros((0, 0))] * (left + right)
        res = eig(a, left=left, right=right, check_finite=False)
        return [res] if not (left or right) else list(res)
    return run


def _eig_impl(a, *, compute_left_eigenvectors, compute_right_eigenvectors):
    a = np.asarray(a)
    outs = _eig_rule(aval_of_value(a), compute_left_eigenvectors=compute_left_eigenvectors,
                     compute_right_eigenvectors=compute_right_eigenvectors)
    if not compute_left_eigenvectors:
        # numpy's eig is batched; it returns real arrays when every eigenvalue is real. The
        # eigenvalues alone come from the same call (LAPACK's eigenvalues-only path may order
        # or round them differently), so the JVP's eigenvectors match them.
        w, vr = np.linalg.eig(a)
        return [w.astype(outs[0].dtype)] + ([vr.astype(outs[1].dtype)]
                                            if compute_right_eigenvectors else [])
    return _matrices(_eig_one(True, compute_right_eigenvectors))(outs, a)


eig_p = _declare("eig", _eig_impl, _eig_rule,
                 jac_structure="dense (eigenvectors in LAPACK's gauge: unit norm, largest "
                          "component real)")


@eig_p.def_jvp
def _eig_jvp(primals, tangents, *, compute_left_eigenvectors, compute_right_eigenvectors):
    (a,), (t,) = primals, tangents
    left, right = compute_left_eigenvectors, compute_right_eigenvectors
    # One factorization with the right eigenvectors, which every tangent needs.
    full = eig_p.bind(a, compute_left_eigenvectors=left, compute_right_eigenvectors=True)
    outs = full if right else full[:-1]
    if isinstance(t, Zero):
        return outs, [Zero.like(o) for o in outs]
    w, vr = full[0], full[-1]
    c = get_aval(vr).dtype
    dw, dvr = _eigenvector_tangents(vr, w, _as_dtype(t, c))
    tangents_out = [dw]
    if left:
        # Left eigenvectors are the right eigenvectors of a^H, for the eigenvalues conj(w).
        tangents_out.append(_eigenvector_tangents(full[1], conj(w), _adjoint(
            _as_dtype(t, c)))[1])
    if right:
        tangents_out.append(dvr)
    return outs, tangents_out


def _lu_solve_square(a, b):
    """x with a x = b for square a [..., m, m] and b [..., m, k], from lu(a): L U x = b[perm]."""
    lu, _, perm = lu_p.bind(a)
    flags = dict(left_side=True, transpose_a=False, conjugate_a=False)
    y = triangular_solve_p.bind(lu, permute_rows(b, perm), lower=True, unit_diagonal=True,
                                **flags)
    return triangular_solve_p.bind(lu, y, lower=False, unit_diagonal=False, **flags)


def _eigenvector_tangents(v, w, da):
    """(dw, dv) for a v = v diag(w) with v's columns as LAPACK normalizes them: unit norm and
    the component of largest modulus real. M = V^-1 dA V (an LU solve); dw = diag(M);
    dv = V (F * M) + V diag(c), F_ij = 1/(w_j - w_i), with c fixing the gauge: re(c_j) keeps
    |v_j| = 1, im(c_j) keeps v_j's largest component real. Repeated eigenvalues: inf/NaN."""
    m = _lu_solve_square(v, _mm(da, v))
    dw = _diag(m)
    dv0 = _mm(v, mul(_gap_inverse(w, get_aval(v).dtype), m))
    nd = _ndim(v)
    along = reduce_sum(real(mul(conj(v), dv0)), (nd - 2,))            # re(v_j^H dv0_j)
    # The largest component of each column (a primal choice) and dv0 there.
    k = argmax(real(mul(conj(v), v)), nd - 2, np.int32)
    pick = _column_picker(k, get_aval(v).shape, get_aval(v).dtype)
    v_k = reduce_sum(mul(v, pick), (nd - 2,))
    dv0_k = reduce_sum(mul(dv0, pick), (nd - 2,))
    gauge = make_complex(neg(along), neg(div(imag(dv0_k), real(v_k))))
    return dw, add(dv0, _scale(v, gauge, -1))


def _column_picker(k, shape, dtype):
    """A 0/1 matrix of `shape` [..., n, m] with a 1 at row k[..., j] of each column j."""
    nd = len(shape)
    rows = broadcasted_iota(np.int32, shape, nd - 2)
    ks = broadcast_in_dim(k, shape, tuple(range(nd - 2)) + (nd - 1,))
    return convert_element_type(eq(rows, ks), dtype)


eig_p.def_batch(_unary_batch(eig_p))


@eig_p.def_cost
def _eig_cost(a, **params):
    n = a.shape[-1]
    return _batched_cost(a.shape[:-2], 25 * n ** 3, [a], _eig_rule(a, **params))


# --- expm and its Frechet derivative -------------------------------------------------------------

def _expm_rule(a):
    _check_matrix("expm", a, square=True)
    return a.strip_weak()


def _expm_one(a):
    from scipy.linalg import expm
    return [expm(a)]


def _expm_impl(a):
    a = np.asarray(a)
    out = _expm_rule(aval_of_value(a))
    return _matrices(_expm_one)([out], a)[0]


expm_p = _declare("expm", _expm_impl, _expm_rule, multiple_results=False, jac_structure="dense")


@expm_p.def_jvp
def _expm_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    out = expm_p.bind(a)
    if isinstance(t, Zero):
        return out, Zero.like(out)
    return out, expm_frechet_p.bind(a, t)


expm_p.def_batch(_unary_batch(expm_p))


@expm_p.def_cost
def _expm_cost(a):
    n = a.shape[-1]
    return _batched_cost(a.shape[:-2], 20 * n ** 3, [a], [a])


def _expm_frechet_rule(a, e):
    _check_matrix("expm_frechet", a, square=True, what="matrix a")
    _check_matrix("expm_frechet", e, square=True, what="direction e")
    if a.shape != e.shape or a.dtype != e.dtype:
        raise TypeError(f"lax.linalg.expm_frechet requires a and e of one shape and dtype, got "
                        f"{a.str_short()} and {e.str_short()}")
    return e.strip_weak()


def _expm_frechet_one(a, e):
    from scipy.linalg import expm_frechet
    if a.shape[-1] == 0:
        return [e.copy()]
    return [expm_frechet(a, e, compute_expm=False, check_finite=False)]


def _expm_frechet_impl(a, e):
    a, e = np.asarray(a), np.asarray(e)
    out = _expm_frechet_rule(aval_of_value(a), aval_of_value(e))
    return _matrices(_expm_frechet_one)([out], a, e)[0]


expm_frechet_p = _declare("expm_frechet", _expm_frechet_impl, _expm_frechet_rule,
                          multiple_results=False,
                          jac_structure="dense in e (linear: L(a, e)); dense in a")


def _two_by_two(a, b, c, d):
    """The block matrix [[a, b], [c, d]] of equal square blocks."""
    nd = _ndim(a)
    return concatenate([concatenate([a, b], nd - 1), concatenate([c, d], nd - 1)], nd - 2)


@expm_frechet_p.def_jvp
def _expm_frechet_jvp(primals, tangents):
    (a, e), (ta, te) = primals, tangents
    out = expm_frechet_p.bind(a, e)
    result = Zero.like(out)
    if not isinstance(te, Zero):
        result = expm_frechet_p.bind(a, te)
    if not isinstance(ta, Zero):
        # L(a, e) is the top-right block of expm([[a, e], [0, a]]); its derivative in a along
        # ta is the top-right block of L([[a, e], [0, a]], [[ta, 0], [0, ta]]).
        n = get_aval(a).shape[-1]
        zero = full(get_aval(a).shape, 0, get_aval(a).dtype)
        big = expm_frechet_p.bind(_two_by_two(a, e, zero, a), _two_by_two(ta, zero, zero, ta))
        from_a = _block(big, 0, n, n, 2 * n)
        result = from_a if isinstance(result, Zero) else add(result, from_a)
    return out, result


@expm_frechet_p.def_transpose
def _expm_frechet_transpose(ct, a, e):
    if is_undefined(a):
        raise ValueError("lax.linalg.expm_frechet is linear in e only: its transpose needs the "
                         "matrix a to be known")
    if isinstance(ct, Zero):
        return [None, Zero(e.aval)]
    # <ct, L(a, e)> = <L(a^T, ct), e> (plain transposes: the bilinear pairing, complex too).
    return [None, expm_frechet_p.bind(_swap(a), ct)]


@expm_frechet_p.def_batch
def _expm_frechet_batch(args, dims):
    a, e = _batch_first(args, dims)
    return expm_frechet_p.bind(a, e), 0


@expm_frechet_p.def_cost
def _expm_frechet_cost(a, e):
    n = a.shape[-1]
    return _batched_cost(a.shape[:-2], 60 * n ** 3, [a, e], [e])


# --- solve_sylvester and sqrtm --------------------------------------------------------------------

def _sylvester_rule(a, b, c):
    for name, x in (("a", a), ("b", b)):
        _check_matrix("solve_sylvester", x, square=True, what=f"matrix {name}")
    _check_matrix("solve_sylvester", c, what="right-hand side c")
    if not a.dtype == b.dtype == c.dtype:
        raise TypeError(f"solve_sylvester requires a, b and c of one dtype, got {a.str_short()}, "
                        f"{b.str_short()} and {c.str_short()}")
    if not a.shape[:-2] == b.shape[:-2] == c.shape[:-2] or \
            c.shape[-2:] != (a.shape[-1], b.shape[-1]):
        raise ValueError(f"solve_sylvester: c must be [..., n, m] for a [..., n, n] and "
                         f"b [..., m, m] with equal batch dims, got {a.str_short()}, "
                         f"{b.str_short()} and {c.str_short()}")
    return c.strip_weak()


def _sylvester_one(a, b, c):
    from scipy.linalg import solve_sylvester
    if c.size == 0:
        return [c.copy()]
    return [solve_sylvester(a, b, c)]


def _sylvester_impl(a, b, c):
    a, b, c = np.asarray(a), np.asarray(b), np.asarray(c)
    out = _sylvester_rule(aval_of_value(a), aval_of_value(b), aval_of_value(c))
    return _matrices(_sylvester_one)([out], a, b, c)[0]


solve_sylvester_p = _declare("solve_sylvester", _sylvester_impl, _sylvester_rule,
                             multiple_results=False,
                             jac_structure="dense in c (linear: x with a x + x b = c); "
                                           "dense in a, b")


@solve_sylvester_p.def_jvp
def _sylvester_jvp(primals, tangents):
    (a, b, c), (da, db, dc) = primals, tangents
    x = solve_sylvester_p.bind(a, b, c)
    # a dx + dx b = dc - da x - x db
    rhs = None
    for term in (dc, None if isinstance(da, Zero) else neg(_mm(da, x)),
                 None if isinstance(db, Zero) else neg(_mm(x, db))):
        if term is None or isinstance(term, Zero):
            continue
        rhs = term if rhs is None else add(rhs, term)
    if rhs is None:
        return x, Zero.like(x)
    return x, solve_sylvester_p.bind(a, b, rhs)


@solve_sylvester_p.def_transpose
def _sylvester_transpose(ct, a, b, c):
    if is_undefined(a) or is_undefined(b):
        raise ValueError("solve_sylvester is linear in c only: its transpose needs a and b")
    if isinstance(ct, Zero):
        return [None, None, Zero(c.aval)]
    # <y, S_{a,b}(c)> = <S_{a^T,b^T}(y), c> (the bilinear pairing, complex too).
    return [None, None, solve_sylvester_p.bind(_swap(a), _swap(b), ct)]


@solve_sylvester_p.def_batch
def _sylvester_batch(args, dims):
    return solve_sylvester_p.bind(*_batch_first(args, dims)), 0


@solve_sylvester_p.def_cost
def _sylvester_cost(a, b, c):
    n, m = a.shape[-1], b.shape[-1]
    return _batched_cost(a.shape[:-2], 10 * (n ** 3 + m ** 3) + 2 * n * m * (n + m), [a, b, c],
                         [c])


def _sqrtm_rule(a):
    _check_matrix("sqrtm", a, square=True)
    return ShapedArray(a.shape, complex_dtype(a.dtype))


def _sqrtm_one(a):
    from scipy.linalg import sqrtm
    if a.shape[-1] == 0:
        return [a.astype(complex_dtype(a.dtype))]
    # The complex Schur form: the principal square root of any matrix without eigenvalues on
    # the closed negative real axis (complex output always, as JAX).
    return [sqrtm(a.astype(complex_dtype(a.dtype)))]


def _sqrtm_impl(a):
    a = np.asarray(a)
    return _matrices(_sqrtm_one)([_sqrtm_rule(aval_of_value(a))], a)[0]


sqrtm_p = _declare("sqrtm", _sqrtm_impl, _sqrtm_rule, multiple_results=False,
                   jac_structure="dense")


@sqrtm_p.def_jvp
def _sqrtm_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    x = sqrtm_p.bind(a)
    if isinstance(t, Zero):
        return x, Zero.like(x)
    # x x = a  =>  x dx + dx x = da: a Sylvester equation (singular where x has eigenvalues
    # summing to zero, e.g. a singular a: no derivative there).
    return x, solve_sylvester_p.bind(x, x, _as_dtype(t, get_aval(x).dtype))


sqrtm_p.def_batch(_unary_batch(sqrtm_p))


@sqrtm_p.def_cost
def _sqrtm_cost(a):
    n = a.shape[-1]
    return _batched_cost(a.shape[:-2], 28 * n ** 3, [a], [_sqrtm_rule(a)])


# --- schur and hessenberg: factorizations without derivatives -------------------------------------

def _schur_rule(a, *, output):
    _check_matrix("schur", a, square=True)
    dtype = complex_dtype(a.dtype) if output == "complex" else a.dtype
    return [ShapedArray(a.shape, dtype)] * 2


def _schur_one(output):
    def run(a):
        from scipy.linalg import schur
        if a.shape[-1] == 0:
            return [a, a]
        return list(schur(a, output=output, check_finite=False))
    return run


def _schur_impl(a, *, output):
    a = np.asarray(a)
    return _matrices(_schur_one(output))(_schur_rule(aval_of_value(a), output=output), a)


schur_p = _declare("schur", _schur_impl, _schur_rule,
                   jac_structure="none: not differentiable (the Schur form's ordering and 2x2 "
                            "blocks are not smooth functions of the matrix)")
schur_p.not_differentiable = (
    "lax.linalg.schur is not differentiable (as in JAX): the Schur vectors and the order of "
    "the diagonal are not smooth functions of the matrix. Differentiate eigvals, eigh or expm "
    "instead, or apply stop_gradient to the input")
schur_p.def_batch(_unary_batch(schur_p))


@schur_p.def_cost
def _schur_cost(a, *, output):
    n = a.shape[-1]
    return _batched_cost(a.shape[:-2], 25 * n ** 3, [a], _schur_rule(a, output=output))


def _hessenberg_rule(a):
    _check_matrix("hessenberg", a, square=True)
    return [a.strip_weak()] * 2


def _hessenberg_one(a):
    from scipy.linalg import hessenberg
    if a.shape[-1] == 0:
        return [a, a]
    return list(hessenberg(a, calc_q=True, check_finite=False))


def _hessenberg_impl(a):
    a = np.asarray(a)
    return _matrices(_hessenberg_one)(_hessenberg_rule(aval_of_value(a)), a)


hessenberg_p = _declare("hessenberg", _hessenberg_impl, _hessenberg_rule,
                        jac_structure="none: not differentiable (Householder reflector choices)")
hessenberg_p.not_differentiable = (
    "lax.linalg.hessenberg is not differentiable in functrans: apply stop_gradient to its "
    "input, or differentiate the quantity you need through eigvals/eigh/expm")
hessenberg_p.def_batch(_unary_batch(hessenberg_p))


@hessenberg_p.def_cost
def _hessenberg_cost(a):
    n = a.shape[-1]
    return _batched_cost(a.shape[:-2], 14 * n ** 3 / 3, [a], _hessenberg_rule(a))
