"""functrans.scipy.linalg: scipy.linalg's solves and factorizations (jax.scipy.linalg).

Built on functrans.lax.linalg's primitives, so every function is differentiable, batchable and
jittable through their rules. As in JAX: overwrite_* and check_finite are accepted and ignored
(arrays are immutable; non-finite input gives NaNs instead of an exception); cholesky and
cho_factor return zeros in the unused triangle (scipy leaves the input's values there);
eigh symmetrizes its input ((a + a^H) / 2). Leading axes beyond the matrix axes are a batch.
"""
import numpy as np

from .. import lax
from .. import lax_linalg as _lax_linalg
from ..numpy import creation as _creation, elementwise as _ew, indexing as _indexing
from ..numpy import linalg as _np_linalg, shaping as _shaping
from ..numpy._promotion import (asarray, broadcast_shapes, broadcast_to, dtype_of, eager,
                                promote, shape_of)
from ..primitives.control_flow import fori_loop
from ..primitives.linalg import _diag_matrix, _keep, permutation_matrix
from ..transforms.vmap import vmap

__all__ = ["cholesky", "cho_factor", "cho_solve", "solve_triangular", "lu_factor", "lu_solve",
           "lu", "expm", "expm_frechet", "det", "inv", "solve", "eigh", "block_diag", "svd",
           "qr", "polar", "toeplitz", "hankel", "circulant", "solve_sylvester", "sqrtm",
           "companion", "fiedler", "leslie", "convolution_matrix", "hilbert", "invhilbert",
           "hadamard", "dft", "helmert", "schur", "hessenberg", "eigh_tridiagonal"]


def _square(a, name):
    return _np_linalg._matrix(f"scipy.linalg.{name}", a, square=True)


def _rhs(a, b, name):
    """a and b promoted to one inexact dtype, b as a matrix (..., n, k); and whether b was a
    vector (b.ndim == a.ndim - 1)."""
    b = _np_linalg._inexact_operand(b, f"scipy.linalg.{name}")
    a, b = promote(a, b)
    sa, sb = shape_of(a), shape_of(b)
    vector = len(sb) == len(sa) - 1
    if vector:
        b = lax.expand_dims(b, (len(sb),))
    if shape_of(b)[-2] != sa[-1] or len(shape_of(b)) < 2:
        raise ValueError(f"fsl.{name}: b of shape {sb} does not match a of shape {sa} (b must "
                         f"be (..., {sa[-1]}) or (..., {sa[-1]}, k))")
    if shape_of(b)[:-2] != sa[:-2]:
        batch = broadcast_shapes(sa[:-2], shape_of(b)[:-2], name=f"scipy.linalg.{name}")
        a = broadcast_to(a, batch + sa[-2:], f"scipy.linalg.{name}")
        b = broadcast_to(b, batch + shape_of(b)[-2:], f"scipy.linalg.{name}")
    return a, b, vector


def _vector_back(x, vector):
    return lax.squeeze(x, (len(shape_of(x)) - 1,)) if vector else x


# --- Cholesky ---------------------------------------------------------------------------------

def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    """The Cholesky factor: upper U with a = U^H U (default), or lower L with a = L L^H.
    Reads only that triangle of a; NaNs if a is not positive definite."""
    a = _square(a, "cholesky")
    if lower:
        return lax.linalg.cholesky(a, symmetrize_input=False)
    # The upper triangle of a is the (conjugated) lower triangle of a^H.
    return _np_linalg._adjoint(lax.linalg.cholesky(_np_linalg._adjoint(a),
                                                   symmetrize_input=False))


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """(c, lower) for cho_solve: c is cholesky(a, lower)."""
    return cholesky(a, lower=lower), bool(lower)


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """x with a x = b, given cho_factor(a) = (c, lower): two triangular solves."""
    c, lower = c_and_lower
    c = _square(c, "cho_solve")
    c, b, vector = _rhs(c, b, "cho_solve")
    if lower:      # a = L L^H: L y = b, then L^H x = y
        y = lax.linalg.triangular_solve(c, b, left_side=True, lower=True)
        x = lax.linalg.triangular_solve(c, y, left_side=True, lower=True, transpose_a=True,
                                        conjugate_a=True)
    else:          # a = U^H U: U^H y = b, then U x = y
        y = lax.linalg.triangular_solve(c, b, left_side=True, lower=False, transpose_a=True,
                                        conjugate_a=True)
        x = lax.linalg.triangular_solve(c, y, left_side=True, lower=False)
    return _vector_back(x, vector)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     debug=None, check_finite=True):
    """x with op(a) x = b for triangular a (only its lower or upper triangle is read): op is
    the identity (trans=0 or 'N'), the transpose (1, 'T') or the conjugate transpose (2, 'C')."""
    modes = {0: 0, "N": 0, 1: 1, "T": 1, 2: 2, "C": 2}
    if trans not in modes:
        raise ValueError(f"fsl.solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got "
                         f"{trans!r}")
    t = modes[trans]
    a = _square(a, "solve_triangular")
    a, b, vector = _rhs(a, b, "solve_triangular")
    x = lax.linalg.triangular_solve(a, b, left_side=True, lower=bool(lower),
                                    transpose_a=t > 0, conjugate_a=t == 2,
                                    unit_diagonal=bool(unit_diagonal))
    return _vector_back(x, vector)


# --- LU -------------------------------------------------------------------------------------------

def lu_factor(a, overwrite_a=False, check_finite=True):
    """(lu, piv): the packed LU factors (unit lower L below the diagonal, U on and above it) and
    LAPACK's 0-based row interchanges (int32): row i was swapped with row piv[i]."""
    a = _np_linalg._matrix("scipy.linalg.lu_factor", a)
    lu_matrix, pivots, _ = lax.linalg.lu(a)
    return lu_matrix, pivots


def _permutation_from_pivots(pivots, m):
    """The row permutation that LAPACK's interchanges apply; traced pivots too (a loop of
    swaps, vmapped over any batch axes)."""
    if eager(pivots):
        return lax.linalg.lu_pivots_to_permutation(np.asarray(pivots), m)
    pivots = lax.convert_element_type(pivots, np.int32)
    k = shape_of(pivots)[-1]

    def one(piv):
        def swap(i, perm):
            p = piv[i]
            at_i, at_p = perm[i], perm[p]
            return perm.at[i].set(at_p).at[p].set(at_i)
        return fori_loop(0, k, swap, _creation.arange(m, dtype=np.int32))
    batch = shape_of(pivots)[:-1]
    flat = lax.reshape(pivots, (int(np.prod(batch, dtype=np.int64)), k))
    return lax.reshape(vmap(one)(flat), batch + (m,))


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """x with a x = b (trans=0), a^T x = b (1) or a^H x = b (2), from lu_factor(a)."""
    lu_matrix, piv = lu_and_piv
    lu_matrix = _square(lu_matrix, "lu_solve")
    if trans not in (0, 1, 2):
        raise ValueError(f"fsl.lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    lu_matrix, b, vector = _rhs(lu_matrix, b, "lu_solve")
    perm = _permutation_from_pivots(asarray(piv, "scipy.linalg.lu_solve"),
                                    shape_of(lu_matrix)[-1])
    return _vector_back(_lax_linalg.lu_solve(lu_matrix, perm, b, trans), vector)


def lu(a, permute_l=False, overwrite_a=False, check_finite=True):
    """(p, l, u) with a = p @ l @ u: p a permutation matrix, l unit lower triangular (m x k),
    u upper triangular (k x n); with permute_l, (p @ l, u)."""
    a = _np_linalg._matrix("scipy.linalg.lu", a)
    lu_matrix, _, perm = lax.linalg.lu(a)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    nb = len(shape_of(a)) - 2
    low = lax.slice(lu_matrix, (0,) * (nb + 2), shape_of(a)[:-2] + (m, k))
    up = lax.slice(lu_matrix, (0,) * (nb + 2), shape_of(a)[:-2] + (k, n))
    ones = lax.full(shape_of(low), 1, dtype_of(a))
    low = lax.add(_keep(low, np.tri(m, k, -1, dtype=bool)),
                  _keep(ones, np.eye(m, k, dtype=bool)))
    up = _keep(up, ~np.tri(k, n, -1, dtype=bool))
    # a[perm] = l u, so a = P^T l u with P[i, perm[i]] = 1.
    p = _np_linalg._swap_last(permutation_matrix(perm, dtype_of(a)))
    if permute_l:
        return _np_linalg.matmul(p, low), up
    return p, low, up


# --- the rest -------------------------------------------------------------------------------------

def expm(A, *, upper_triangular=False, max_squarings=16):
    """The matrix exponential (Pade approximation with scaling and squaring, as scipy). Its
    derivative is the Frechet derivative expm_frechet, which has a transpose, so grad works."""
    A = _square(A, "expm")
    return lax.linalg.expm(A)


def expm_frechet(A, E, method=None, compute_expm=True, check_finite=True):
    """(expm(A), L(A, E)) (or L alone if not compute_expm): the Frechet derivative of expm at A
    in the direction E."""
    A = _square(A, "expm_frechet")
    E = _square(E, "expm_frechet")
    A, E = promote(A, E)
    frechet = lax.linalg.expm_frechet(A, E)
    return (lax.linalg.expm(A), frechet) if compute_expm else frechet


def det(a, overwrite_a=False, check_finite=True):
    """The determinant (from the LU factors)."""
    return _np_linalg.det(a)


def inv(a, overwrite_a=False, check_finite=True):
    """The inverse (LU and triangular solves)."""
    return _np_linalg.inv(a)


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, debug=False,
          check_finite=True, assume_a="gen"):
    """x with a x = b; b is (..., n) or (..., n, k). assume_a='gen' (or 'sym', 'her': LU with
    pivoting) or 'pos' (Cholesky of the `lower` triangle, then two triangular solves)."""
    if assume_a not in ("gen", "general", "sym", "symmetric", "her", "hermitian", "pos",
                        "positive definite"):
        raise ValueError(f"fsl.solve: assume_a={assume_a!r} is not supported; use 'gen', "
                         "'sym', 'her' or 'pos'")
    a = _square(a, "solve")
    if assume_a in ("pos", "positive definite"):
        return cho_solve(cho_factor(a, lower=lower), b)
    a, b, vector = _rhs(a, b, "solve")
    return _vector_back(_np_linalg._solve_square(a, b), vector)


def eigh(a, b=None, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False,
         turbo=True, eigvals=None, type=1, check_finite=True):
    """Eigenvalues (ascending) and eigenvectors of Hermitian a, or of the generalized problem
    a v = w b v for positive definite b (type=1; eigenvectors normalized so that v^H b v = I):
    b's Cholesky factor L turns it into the standard problem for L^-1 a L^-H."""
    if eigvals is not None:
        raise NotImplementedError("fsl.eigh: eigvals= (a subset of eigenvalues) is not "
                                  "supported; compute all and slice them")
    if type != 1:
        raise NotImplementedError(f"fsl.eigh: type={type!r} is not supported; only type=1 "
                                  "(a v = w b v)")
    a = _square(a, "eigh")
    if b is None:
        v, w = lax.linalg.eigh(a, lower=bool(lower))
    else:
        b = _square(b, "eigh")
        a, b = promote(a, b)
        low = lax.linalg.cholesky(b)
        c = lax.linalg.triangular_solve(low, a, left_side=True, lower=True)
        c = lax.linalg.triangular_solve(low, c, left_side=False, lower=True, transpose_a=True,
                                        conjugate_a=True)
        y, w = lax.linalg.eigh(c, lower=bool(lower))
        v = lax.linalg.triangular_solve(low, y, left_side=True, lower=True, transpose_a=True,
                                        conjugate_a=True)
    return w if eigvals_only else (w, v)


def block_diag(*arrs):
    """The block-diagonal matrix of the given arrays (scalars are 1 x 1, vectors 1 x n)."""
    if not arrs:
        return np.zeros((1, 0))
    blocks = [asarray(x, "scipy.linalg.block_diag") for x in arrs]
    blocks = [np.asarray(x) if isinstance(x, (int, float, complex, bool)) else x
              for x in blocks]
    blocks = promote(*blocks) if len(blocks) > 1 else blocks
    shaped = []
    for x in blocks:
        s = shape_of(x)
        if len(s) > 2:
            raise ValueError(f"fsl.block_diag: arguments must have at most 2 dimensions, got "
                             f"shape {s}")
        shaped.append(lax.reshape(x, (1,) * (2 - len(s)) + s))
    widths = [shape_of(x)[1] for x in shaped]
    total = sum(widths)
    rows, left = [], 0
    for x, w in zip(shaped, widths):
        zero = np.zeros((), dtype_of(x))[()]
        rows.append(lax.pad(x, zero, ((0, 0, 0), (left, total - left - w, 0))))
        left += w
    return lax.concatenate(rows, 0)


def svd(a, full_matrices=True, compute_uv=True, overwrite_a=False, check_finite=True,
        lapack_driver="gesdd"):
    """(U, s, Vh) with a = U diag(s) Vh, or s alone (numpy.linalg.svd's rules apply)."""
    out = _np_linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def qr(a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    """(Q, R) with a = Q R: mode 'full' (Q m x m), 'economic' (Q m x k), or 'r' ((R,) with the
    full m x n R)."""
    if pivoting:
        raise NotImplementedError("fsl.qr: pivoting=True is not supported; use pivoting=False")
    if mode not in ("full", "economic", "r"):
        raise ValueError(f"fsl.qr: mode={mode!r} is not supported; use 'full', 'economic' or "
                         "'r' ('raw' exposes LAPACK's reflectors, which functrans does not)")
    a = _np_linalg._matrix("scipy.linalg.qr", a)
    q, r = lax.linalg.qr(a, full_matrices=mode != "economic")     # 'r': scipy's m x n R
    return (r,) if mode == "r" else (q, r)


def polar(a, side="right", *, method="qdwh", eps=None, max_iterations=None):
    """(u, p): a = u p (side='right') or a = p u ('left'), u with orthonormal columns (or rows)
    and p Hermitian positive semidefinite. Computed from the SVD whichever method is named
    (JAX's 'qdwh' iteration converges to the same factors); eps and max_iterations, which tune
    that iteration, are accepted and unused."""
    if method not in ("qdwh", "svd"):
        raise ValueError(f"fsl.polar: method must be 'qdwh' or 'svd', got {method!r}")
    if side not in ("right", "left"):
        raise ValueError(f"fsl.polar: side must be 'right' or 'left', got {side!r}")
    a = _np_linalg._matrix("scipy.linalg.polar", a)
    w, s, vh = lax.linalg.svd(a, full_matrices=False)
    u = _np_linalg.matmul(w, vh)
    if side == "right":       # p = V S V^H
        p = _np_linalg.matmul(_ew.multiply(_np_linalg._adjoint(vh), _shaping.expand_dims(s, -2)),
                              vh)
    else:                     # p = W S W^H
        p = _np_linalg.matmul(_ew.multiply(w, _shaping.expand_dims(s, -2)), _np_linalg._adjoint(w))
    return u, p


def _from_values(vals, index):
    """out[i, j] = vals[index[i, j]] (index a constant numpy array)."""
    return _indexing.take(vals, index)


def _vector(x, name):
    return _shaping.ravel(asarray(x, f"scipy.linalg.{name}"))


def toeplitz(c, r=None):
    """The Toeplitz matrix with first column c and first row r (r[0] is ignored; r defaults to
    conj(c))."""
    c = _vector(c, "toeplitz")
    r = _ew.conj(c) if r is None else _vector(r, "toeplitz")
    c, r = promote(c, r)
    m, n = shape_of(c)[0], shape_of(r)[0]
    vals = _shaping.concatenate([c[::-1], r[1:]])
    index = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return _from_values(vals, index)


def hankel(c, r=None):
    """The Hankel matrix with first column c and last row r (r[0] is ignored; r defaults to
    zeros)."""
    c = _vector(c, "hankel")
    if r is None:
        r = np.zeros(shape_of(c)[0], dtype_of(c))
    r = _vector(r, "hankel")
    c, r = promote(c, r)
    m, n = shape_of(c)[0], shape_of(r)[0]
    vals = _shaping.concatenate([c, r[1:]])
    return _from_values(vals, np.arange(m)[:, None] + np.arange(n)[None, :])


def circulant(c):
    """The circulant matrix with first column c: out[i, j] = c[(i - j) mod n]."""
    c = _vector(c, "circulant")
    n = shape_of(c)[0]
    return _from_values(c, (np.arange(n)[:, None] - np.arange(n)[None, :]) % n)


def solve_sylvester(A, B, C, *, method="schur", tol=1e-8):
    """x with A x + x B = C (Bartels-Stewart through scipy, whichever method is named). Linear
    in C; its derivative solves another Sylvester equation."""
    if method not in ("schur", "eigen"):
        raise ValueError(f"fsl.solve_sylvester: method must be 'schur' or 'eigen', got "
                         f"{method!r}")
    A = _square(A, "solve_sylvester")
    B = _square(B, "solve_sylvester")
    C = _np_linalg._matrix("scipy.linalg.solve_sylvester", C)
    A, B, C = promote(A, B, C)
    return lax.linalg.solve_sylvester(A, B, C)


def sqrtm(A, blocksize=1):
    """The principal square root X (X @ X = A), complex as in JAX. Its derivative solves
    X dX + dX X = dA, which has no solution where A is singular."""
    return lax.linalg.sqrtm(_square(A, "sqrtm"))


# --- special matrices -----------------------------------------------------------------------------
# Those of static sizes only (hilbert, invhilbert, hadamard, dft, helmert) are constants: scipy
# builds them. Those of array arguments are built from the arguments, so they differentiate.

def companion(a):
    """The companion matrix of the polynomial with coefficients a (highest power first): first
    row -a[1:] / a[0], ones below the diagonal."""
    a = _np_linalg._inexact_operand(_vector(a, "companion"), "scipy.linalg.companion")
    n = shape_of(a)[0]
    if n < 2:
        raise ValueError("fsl.companion: the length of a must be at least 2")
    first = _shaping.expand_dims(_ew.divide(_ew.negative(a[1:]), a[0]), 0)
    below = np.eye(n - 2, n - 1, dtype=dtype_of(a))
    return _shaping.concatenate([first, below], axis=0)


def fiedler(a):
    """The symmetric matrix |a[i] - a[j]|."""
    a = _vector(a, "fiedler")
    return _ew.absolute(_ew.subtract(lax.expand_dims(a, (1,)), lax.expand_dims(a, (0,))))


def leslie(f, s):
    """The Leslie matrix: fecundities f in the first row, survival rates s below the
    diagonal."""
    f, s = _vector(f, "leslie"), _vector(s, "leslie")
    f, s = promote(f, s)
    n = shape_of(f)[0]
    if shape_of(s)[0] != n - 1:
        raise ValueError(f"fsl.leslie: s must have length len(f) - 1 = {n - 1}, got "
                         f"{shape_of(s)[0]}")
    dtype = dtype_of(f) if dtype_of(f).kind in "fc" else np.dtype(np.float64)
    f, s = lax.convert_element_type(f, dtype), lax.convert_element_type(s, dtype)
    below = _shaping.concatenate([_diag_of(s), np.zeros((n - 1, 1), dtype)], axis=1)
    return _shaping.concatenate([_shaping.expand_dims(f, 0), below], axis=0)


def _diag_of(v):
    return _diag_matrix(v)


def convolution_matrix(a, n, mode="full"):
    """The matrix A with A @ v = numpy.convolve(a, v, mode) for v of length n."""
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"fsl.convolution_matrix: mode must be 'full', 'same' or 'valid', got "
                         f"{mode!r}")
    a = _vector(a, "convolution_matrix")
    m = shape_of(a)[0]
    n = int(n)
    if m == 0 or n <= 0:
        raise ValueError("fsl.convolution_matrix: a must be non-empty and n positive")
    zero = np.zeros(1, dtype_of(a))
    # full[i, j] = a[i - j] where 0 <= i - j < m (row i of the full convolution)
    rows = m + n - 1
    vals = _shaping.concatenate([a, zero])
    index = np.arange(rows)[:, None] - np.arange(n)[None, :]
    index = np.where((index >= 0) & (index < m), index, m)
    full = _from_values(vals, index)
    if mode == "full":
        return full
    if mode == "same":
        size, start = max(m, n), (min(m, n) - 1) // 2
    else:
        size, start = max(m, n) - min(m, n) + 1, min(m, n) - 1
    return full[start:start + size]


def hilbert(n):
    """The n x n Hilbert matrix 1 / (i + j + 1)."""
    import scipy.linalg as sla
    return sla.hilbert(n)


def invhilbert(n, exact=False):
    """The inverse of the n x n Hilbert matrix (float64; exact=True is not supported)."""
    import scipy.linalg as sla
    if exact:
        raise NotImplementedError("fsl.invhilbert: exact=True (Python integers) is not "
                                  "supported; use exact=False")
    return sla.invhilbert(n)


def hadamard(n, dtype=int):
    """The n x n Hadamard matrix (n a power of 2)."""
    import scipy.linalg as sla
    return sla.hadamard(n, dtype=dtype)


def dft(n, scale=None, *, dtype=None):
    """The n x n discrete Fourier transform matrix (scale None, 'n' or 'sqrtn')."""
    import scipy.linalg as sla
    out = sla.dft(n, scale=scale)
    return out if dtype is None else out.astype(dtype)


def helmert(n, full=False):
    """The Helmert matrix of order n (without its first row unless full)."""
    import scipy.linalg as sla
    return sla.helmert(n, full=full)


def schur(a, output="real"):
    """(T, Z) with a = Z T Z^H (real: T quasi-upper triangular; complex: upper triangular).
    Not differentiable (as in JAX)."""
    a = _square(a, "schur")
    if output not in ("real", "r", "complex", "c"):
        raise ValueError(f"fsl.schur: output must be 'real' or 'complex', got {output!r}")
    return lax.linalg.schur(a, output="complex" if output in ("complex", "c") else "real")


def hessenberg(a, *, calc_q=False, overwrite_a=False, check_finite=True):
    """The upper Hessenberg form H of a (and Q with a = Q H Q^H if calc_q). Not
    differentiable."""
    h, q = lax.linalg.hessenberg(_square(a, "hessenberg"))
    return (h, q) if calc_q else h


def eigh_tridiagonal(d, e, *, eigvals_only=False, select="a", select_range=None, tol=None,
                     key=None):
    """Eigenvalues (ascending) of the symmetric tridiagonal matrix with diagonal d and
    off-diagonal e, and its eigenvectors unless eigvals_only; differentiable through eigh."""
    if select != "a" or select_range is not None:
        raise NotImplementedError("fsl.eigh_tridiagonal: only select='a' (all eigenvalues) is "
                                  "supported")
    d = _np_linalg._inexact_operand(_vector(d, "eigh_tridiagonal"), "eigh_tridiagonal")
    e = _np_linalg._inexact_operand(_vector(e, "eigh_tridiagonal"), "eigh_tridiagonal")
    d, e = promote(d, e)
    n = shape_of(d)[0]
    if shape_of(e)[0] != n - 1:
        raise ValueError(f"fsl.eigh_tridiagonal: e must have length len(d) - 1 = {n - 1}, got "
                         f"{shape_of(e)[0]}")
    zero = np.zeros((), dtype_of(e))[()]
    off = lax.pad(_diag_matrix(e), zero, ((0, 1, 0), (1, 0, 0)))     # e on the superdiagonal
    t = _ew.add(_ew.add(_diag_matrix(d), off), _np_linalg._adjoint(off))
    v, w = lax.linalg.eigh(t)
    return w if eigvals_only else (w, v)
