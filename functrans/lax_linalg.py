"""functrans.lax.linalg: the linear-algebra primitives as functions (jax.lax.linalg's names and
signatures), plus the LU-based solves that functrans.numpy.linalg and functrans.scipy.linalg
share.

Operands are float32/float64/complex64/complex128 matrices in the last two axes, with equal
batch axes in front; nothing is promoted or broadcast here (functrans.numpy.linalg does that).
The primitives and their rules live in functrans/primitives/linalg.py.
"""
import numpy as np

from .core import errors
from .core.trace import Tracer, get_aval
from .primitives import linalg as _p
from .primitives.elementwise import add, mul

__all__ = ["cholesky", "triangular_solve", "lu", "qr", "eigh", "svd", "eig", "expm",
           "expm_frechet", "lu_pivots_to_permutation", "lu_solve", "solve_sylvester", "sqrtm",
           "schur", "hessenberg"]


def _static_bool(name, arg, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"lax.linalg.{name}: {arg} must be a Python bool, got {value!r}")
    return bool(value)


def symmetrize(x):
    """(x + x^H) / 2: the Hermitian part, which cholesky and eigh decompose by default."""
    half = np.asarray(0.5, get_aval(x).dtype)[()]
    return mul(add(x, _p._adjoint(x)), half)


def cholesky(x, *, symmetrize_input=True):
    """The lower Cholesky factor L of a Hermitian positive definite x (x = L L^H); NaNs where x
    is not positive definite. With symmetrize_input, x is replaced by (x + x^H) / 2 first, so
    that derivatives are those of a symmetric argument (as in jax.lax.linalg.cholesky)."""
    if _static_bool("cholesky", "symmetrize_input", symmetrize_input):
        _p._check_matrix("cholesky", get_aval(x), square=True)
        x = symmetrize(x)
    return _p.cholesky_p.bind(x)


def triangular_solve(a, b, *, left_side=False, lower=False, transpose_a=False,
                     conjugate_a=False, unit_diagonal=False):
    """x with op(a) x = b (left_side=True) or x op(a) = b (False), op(a) being a, a^T, conj(a)
    or a^H by transpose_a/conjugate_a; a's other triangle (and its diagonal, if unit_diagonal)
    is not read (jax.lax.linalg.triangular_solve, with its defaults)."""
    flags = {k: _static_bool("triangular_solve", k, v) for k, v in dict(
        left_side=left_side, lower=lower, transpose_a=transpose_a, conjugate_a=conjugate_a,
        unit_diagonal=unit_diagonal).items()}
    if get_aval(a).dtype.kind != "c":
        flags["conjugate_a"] = False          # conjugating a real matrix changes nothing
    return _p.triangular_solve_p.bind(a, b, **flags)


def lu(x):
    """(lu, pivots, permutation) with x[..., permutation, :] = L U (L unit lower triangular and U
    upper triangular, packed into lu); pivots are LAPACK's row interchanges, 0-based, int32
    (jax.lax.linalg.lu). Works for rectangular matrices."""
    return tuple(_p.lu_p.bind(x))


def qr(x, *, pivoting=False, full_matrices=True):
    """(q, r) with x = q r (jax.lax.linalg.qr): q m x m and r m x n if full_matrices, else
    q m x k and r k x n, k = min(m, n). Derivatives need m >= n and full_matrices=False (or a
    square x)."""
    if pivoting:
        raise NotImplementedError("lax.linalg.qr: pivoting=True (column-pivoted QR) is not "
                                  "supported; use pivoting=False")
    return tuple(_p.qr_p.bind(x, full_matrices=_static_bool("qr", "full_matrices",
                                                            full_matrices)))


def eigh(x, *, lower=True, symmetrize_input=True, sort_eigenvalues=True, subset_by_index=None):
    """(v, w): eigenvectors (columns) and ascending eigenvalues of a Hermitian x
    (jax.lax.linalg.eigh). Only the lower (or upper) triangle is read; with symmetrize_input, x
    is replaced by (x + x^H) / 2 first. Eigenvector derivatives do not exist at repeated
    eigenvalues and come out inf/NaN there (as in JAX)."""
    if subset_by_index is not None:
        raise NotImplementedError("lax.linalg.eigh: subset_by_index is not supported; compute "
                                  "all eigenpairs and slice them")
    if not sort_eigenvalues:
        raise NotImplementedError("lax.linalg.eigh: sort_eigenvalues=False is not supported: "
                                  "eigenvalues always come out in ascending order")
    lower = _static_bool("eigh", "lower", lower)
    if _static_bool("eigh", "symmetrize_input", symmetrize_input):
        _p._check_matrix("eigh", get_aval(x), square=True)
        x = symmetrize(x)
    return tuple(_p.eigh_p.bind(x, lower=lower))


def svd(x, *, full_matrices=True, compute_uv=True, subset_by_index=None, algorithm=None):
    """(u, s, vh) with x = u diag(s) vh, or s alone if not compute_uv (jax.lax.linalg.svd).
    Singular values come in descending order. Singular-vector derivatives need
    full_matrices=False (or a square x) and distinct nonzero singular values."""
    if subset_by_index is not None:
        raise NotImplementedError("lax.linalg.svd: subset_by_index is not supported; compute "
                                  "all singular values and slice them")
    if algorithm is not None:
        raise NotImplementedError("lax.linalg.svd: algorithm= is not supported (LAPACK's gesdd "
                                  "is always used); leave it None")
    compute_uv = _static_bool("svd", "compute_uv", compute_uv)
    outs = _p.svd_p.bind(x, full_matrices=_static_bool("svd", "full_matrices", full_matrices),
                         compute_uv=compute_uv)
    if not compute_uv:
        return outs[0]
    s, u, vh = outs
    return u, s, vh


def eig(x, *, compute_left_eigenvectors=True, compute_right_eigenvectors=True):
    """[w, vl, vr] (those asked for) of a general square x (jax.lax.linalg.eig): complex
    eigenvalues, left eigenvectors (vl[:, j]^H x = w[j] vl[:, j]^H) and right eigenvectors
    (x vr[:, j] = w[j] vr[:, j]), of unit norm with the largest component real (LAPACK's
    choice). All are differentiable where the eigenvalues are distinct; the eigenvectors'
    derivatives keep that normalization (their sign is LAPACK's and may flip between calls on
    nearby matrices)."""
    return list(_p.eig_p.bind(
        x, compute_left_eigenvectors=_static_bool("eig", "compute_left_eigenvectors",
                                                  compute_left_eigenvectors),
        compute_right_eigenvectors=_static_bool("eig", "compute_right_eigenvectors",
                                                compute_right_eigenvectors)))


def expm(x):
    """The matrix exponential (scipy's Pade scaling-and-squaring); its derivative is the
    Frechet derivative, itself a primitive (expm_frechet) linear in the direction."""
    return _p.expm_p.bind(x)


def expm_frechet(a, e):
    """The Frechet derivative L(a, e) of expm at a in the direction e."""
    return _p.expm_frechet_p.bind(a, e)


def solve_sylvester(a, b, c):
    """x with a x + x b = c (Bartels-Stewart, scipy's); linear in c."""
    return _p.solve_sylvester_p.bind(a, b, c)


def sqrtm(x):
    """The principal matrix square root, complex (its derivative solves a Sylvester equation)."""
    return _p.sqrtm_p.bind(x)


def schur(x, *, compute_schur_vectors=True, output="real"):
    """(t, z) with x = z t z^H: t quasi-upper triangular ('real') or upper triangular
    ('complex'), z unitary; t alone if not compute_schur_vectors. Not differentiable."""
    if output not in ("real", "complex"):
        raise ValueError(f"lax.linalg.schur: output must be 'real' or 'complex', got {output!r}")
    t, z = _p.schur_p.bind(x, output=output)
    return (t, z) if compute_schur_vectors else t


def hessenberg(x):
    """(h, q) with x = q h q^H, h upper Hessenberg. Not differentiable."""
    return tuple(_p.hessenberg_p.bind(x))


def lu_pivots_to_permutation(pivots, permutation_size):
    """The permutation [..., permutation_size] that LAPACK-style row interchanges `pivots`
    [..., k] apply (jax.lax.linalg.lu_pivots_to_permutation). Pivots must be concrete."""
    if isinstance(pivots, Tracer):
        pivots = pivots.concrete_or_raise(
            "fnp.lax.linalg.lu_pivots_to_permutation needs concrete arguments, which fix the "
            "shape of its result; it was given the value", "int",
            errors.TracerIntegerConversionError)
    piv = np.asarray(pivots)
    out = np.empty(piv.shape[:-1] + (permutation_size,), np.int32)
    for idx in np.ndindex(*piv.shape[:-1]):
        perm = np.arange(permutation_size, dtype=np.int32)
        for i, p in enumerate(piv[idx]):
            perm[i], perm[p] = perm[p], perm[i]
        out[idx] = perm
    return out


# --- solves from an LU factorization -----------------------------------------------------------

def lu_solve(lu_matrix, permutation, b, trans=0):
    """x with a x = b (trans=0), a^T x = b (1) or a^H x = b (2), from lu(a)'s packed factors
    and permutation; b [..., m, k] with a's batch dims."""
    if trans not in (0, 1, 2):
        raise ValueError(f"lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    solve = _p.triangular_solve_p.bind
    flags = dict(left_side=True, transpose_a=False, conjugate_a=False)
    if trans == 0:       # L U x = b[perm]
        y = solve(lu_matrix, _p.permute_rows(b, permutation), lower=True, unit_diagonal=True,
                  **flags)
        return solve(lu_matrix, y, lower=False, unit_diagonal=False, **flags)
    conjugate = trans == 2 and get_aval(lu_matrix).dtype.kind == "c"
    flags.update(transpose_a=True, conjugate_a=conjugate)
    # a^T = U^T L^T P: solve U^T z = b, L^T w = z, then x = P^T w (x[perm] = w).
    z = solve(lu_matrix, b, lower=False, unit_diagonal=False, **flags)
    w = solve(lu_matrix, z, lower=True, unit_diagonal=True, **flags)
    return _p.permute_rows(w, permutation, inverse=True)
