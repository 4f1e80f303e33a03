"""Cases for the linear-algebra primitives (functrans/primitives/linalg.py).

Operands are well conditioned by construction, far enough from trouble that the vmap check's
per-member perturbations (about 0.5 per element) keep them so: positive definite matrices with
a dominant diagonal for cholesky, triangles with diagonals near +-3 for triangular_solve,
symmetric matrices with eigenvalues 1.5 apart for eigh, singular values 1 apart for svd.
Decompositions with a sign or phase freedom (qr, eigh, svd, eig) are compared with scipy calling
the same LAPACK driver, which makes the same choice; other references are independent: explicit
dense solves, a Taylor series for expm, the block-matrix exponential for its Frechet derivative.
Derivative checks run on float64 operands; eig's complex outputs and the configurations whose
derivatives raise (wide or full QR, full rectangular SVD, eigenvectors of eig) are checked for
values and batching only (tests/test_linalg_decompositions.py covers eig's derivatives).
"""
import numpy as np
import scipy.linalg as sla
from hypothesis import strategies as st

from . import Case

F32, F64, C64, C128 = (np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                             np.complex128))
DTYPES = st.sampled_from([F64, F64, F64, F32, C128])


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))


def _batch(draw):
    return draw(st.sampled_from([(), (), (2,)]))


def _normal(rng, shape, dtype):
    x = rng.standard_normal(shape)
    if dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x


def _per_matrix(fn, *arrays):
    """Stack fn(matrices...) -> list of outputs over the batch dims of arrays[0]."""
    batch = np.shape(arrays[0])[:-2]
    results = [fn(*(a[idx] for a in arrays)) for idx in np.ndindex(*batch)]
    outs = []
    for k in range(len(results[0])):
        outs.append(np.stack([r[k] for r in results]).reshape(batch + np.shape(results[0][k])))
    return outs


def _orthonormal(rng, batch, n, dtype):
    q, _ = np.linalg.qr(_normal(rng, batch + (n, n), dtype))
    return q


# --- cholesky -----------------------------------------------------------------------------------

def _cholesky_ref(a):
    return _per_matrix(lambda m: [sla.cholesky(m, lower=True)], a)[0]


@st.composite
def _cholesky(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n = draw(st.integers(1, 4))
    b = _normal(rng, batch + (n, n), dtype)
    spd = b @ np.conj(np.swapaxes(b, -1, -2)) / n + 6 * np.eye(n)
    # Junk above the diagonal: the primitive reads the lower triangle only.
    junk = np.triu(_normal(rng, batch + (n, n), dtype), 1)
    a = (np.tril(spd) + junk).astype(dtype)
    return Case((a,), reference=lambda a: _cholesky_ref(np.tril(a) + np.conj(
        np.swapaxes(np.tril(a, -1), -1, -2))))


# --- triangular_solve ---------------------------------------------------------------------------

def _op(a, transpose_a, conjugate_a):
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    return np.conj(a) if conjugate_a else a


def _triangular_ref(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        n = a.shape[-1]
        t = t * (1 - np.eye(n)) + np.eye(n)
    op = _op(t, transpose_a, conjugate_a)
    wide = op.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    if left_side:
        return np.linalg.solve(wide, b)
    # x op = b  <=>  op^T x^T = b^T
    return np.swapaxes(np.linalg.solve(np.swapaxes(wide, -1, -2), np.swapaxes(b, -1, -2)),
                       -1, -2)


@st.composite
def _triangular_solve(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    m, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    flags = {f: draw(st.booleans()) for f in ("left_side", "lower", "transpose_a",
                                              "unit_diagonal")}
    flags["conjugate_a"] = draw(st.booleans()) if dtype.kind == "c" else False
    signs = rng.choice([-1.0, 1.0], batch + (m,))
    a = 0.3 * _normal(rng, batch + (m, m), dtype)
    a = (a + np.einsum("...i,ij->...ij", 3 * signs, np.eye(m))).astype(dtype)
    b_shape = batch + ((m, k) if flags["left_side"] else (k, m))
    b = _normal(rng, b_shape, dtype).astype(dtype)
    return Case((a, b), params=flags, reference=_triangular_ref)


# --- lu -----------------------------------------------------------------------------------------

def _lu_ref(a):
    def one(m):
        p, l2, u2 = sla.lu(m)
        rows = np.argmax(p, axis=0).astype(np.int32)        # a = p l u  =>  a[rows] = l u
        k = min(m.shape)
        packed = np.zeros(m.shape, m.dtype)
        packed[:, :k] += np.tril(l2, -1)
        packed[:k, :] += np.triu(u2)
        getrf = sla.lapack.get_lapack_funcs("getrf", (m,))
        piv = getrf(m)[1].astype(np.int32)
        return [packed, piv, rows]
    return _per_matrix(one, a)


@st.composite
def _lu(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a = _normal(rng, batch + (m, n), dtype).astype(dtype)
    return Case((a,), reference=_lu_ref)


# --- permute_rows -------------------------------------------------------------------------------

def _permute_rows_ref(x, perm, *, inverse):
    out = np.empty_like(x)
    for idx in np.ndindex(*perm.shape[:-1]):
        for i, p in enumerate(perm[idx]):
            if inverse:
                out[idx + (p,)] = x[idx + (i,)]
            else:
                out[idx + (i,)] = x[idx + (p,)]
    return out


@st.composite
def _permute_rows(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    m, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    x = _normal(rng, batch + (m, k), dtype).astype(dtype)
    perm = np.stack([rng.permutation(m) for _ in np.ndindex(*batch)]).reshape(batch + (m,))
    # Batching perturbs integer operands not at all: the permutation stays a permutation.
    return Case((x, perm.astype(np.int32)), params=dict(inverse=draw(st.booleans())),
                reference=_permute_rows_ref, diff_argnums=(0,))


# --- qr -----------------------------------------------------------------------------------------

def _qr_ref(a, *, full_matrices):
    return _per_matrix(lambda m: list(sla.qr(m, mode="full" if full_matrices else "economic")),
                       a)


@st.composite
def _qr(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    full = draw(st.booleans())
    a = _normal(rng, batch + (m, n), dtype).astype(dtype)
    differentiable = m >= n and (not full or m == n)
    return Case((a,), params=dict(full_matrices=full), reference=_qr_ref,
                diff_argnums=None if differentiable else ())


# --- eigh ---------------------------------------------------------------------------------------

def _eigh_ref(a, *, lower):
    def one(m):
        w, v = sla.eigh(m, lower=lower, driver="evd")      # numpy's driver: same signs
        return [v, w]
    return _per_matrix(one, a)


@st.composite
def _eigh(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n = draw(st.integers(1, 4))
    lower = draw(st.booleans())
    q = _orthonormal(rng, batch, n, dtype)
    w = 1.5 * rng.permutation(n) - n
    h = np.einsum("...ij,j,...kj->...ik", q, w, np.conj(q))
    junk = _normal(rng, batch + (n, n), dtype)
    keep = np.tri(n, dtype=bool) if lower else ~np.tri(n, k=-1, dtype=bool)
    a = np.where(keep, h, junk).astype(dtype)
    return Case((a,), params=dict(lower=lower), reference=_eigh_ref)


# --- svd ----------------------------------------------------------------------------------------

def _svd_ref(a, *, full_matrices, compute_uv):
    def one(m):
        if not compute_uv:
            return [sla.svd(m, compute_uv=False, lapack_driver="gesdd")]
        u, s, vh = sla.svd(m, full_matrices=full_matrices, lapack_driver="gesdd")
        return [s, u, vh]
    return _per_matrix(one, a)


@st.composite
def _svd(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k = min(m, n)
    full, compute_uv = draw(st.booleans()), draw(st.booleans())
    u = _orthonormal(rng, batch, m, dtype)[..., :k]
    v = _orthonormal(rng, batch, n, dtype)[..., :k]
    s = 2.0 + rng.permutation(k)
    a = np.einsum("...ij,j,...kj->...ik", u, s, np.conj(v)).astype(dtype)
    differentiable = not (compute_uv and full and m != n)
    return Case((a,), params=dict(full_matrices=full, compute_uv=compute_uv),
                reference=_svd_ref, diff_argnums=None if differentiable else ())


# --- eig ----------------------------------------------------------------------------------------

def _eig_ref(a, *, compute_left_eigenvectors, compute_right_eigenvectors):
    def one(m):
        c = np.complex64 if m.dtype in (F32, C64) else np.complex128
        w, vl, vr = sla.eig(m, left=True, right=True)
        out = [w.astype(c)]
        if compute_left_eigenvectors:
            out.append(vl.astype(c))
        if compute_right_eigenvectors:
            out.append(vr.astype(c))
        return out
    return _per_matrix(one, a)


@st.composite
def _eig(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n = draw(st.integers(1, 4))
    a = _normal(rng, batch + (n, n), dtype).astype(dtype)
    params = dict(compute_left_eigenvectors=draw(st.booleans()),
                  compute_right_eigenvectors=draw(st.booleans()))
    # Complex outputs: the harness's real-valued derivative checks do not apply.
    return Case((a,), params=params, reference=_eig_ref, diff_argnums=())


# --- expm, expm_frechet -------------------------------------------------------------------------

def _taylor_expm(m):
    """exp(m) by scaling, a long Taylor series and squaring, in double precision."""
    m = m.astype(np.complex128 if m.dtype.kind == "c" else np.float64)
    squarings = max(0, int(np.ceil(np.log2(max(np.abs(m).sum(axis=0).max(), 1e-300)))) + 1)
    x = m / 2.0 ** squarings
    out, term = np.eye(len(m), dtype=m.dtype), np.eye(len(m), dtype=m.dtype)
    for k in range(1, 30):
        term = term @ x / k
        out = out + term
    for _ in range(squarings):
        out = out @ out
    return out


def _expm_ref(a):
    return _per_matrix(lambda m: [_taylor_expm(m)], a)[0]


def _frechet_ref(a, e):
    def one(m, d):
        n = len(m)
        big = np.block([[m, d], [np.zeros_like(m), m]])
        return [_taylor_expm(big)[:n, n:]]
    return _per_matrix(one, a, e)[0]


@st.composite
def _expm(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n = draw(st.integers(1, 4))
    a = (0.6 * _normal(rng, batch + (n, n), dtype)).astype(dtype)
    return Case((a,), reference=_expm_ref)


@st.composite
def _expm_frechet(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n = draw(st.integers(1, 4))
    a = (0.6 * _normal(rng, batch + (n, n), dtype)).astype(dtype)
    e = _normal(rng, batch + (n, n), dtype).astype(dtype)
    return Case((a, e), reference=_frechet_ref)


# --- solve_sylvester, sqrtm -----------------------------------------------------------------------

def _sylvester_ref(a, b, c):
    """The Sylvester equation as one linear system: (I kron a + b^T kron I) vec(x) = vec(c)."""
    def one(a, b, c):
        n, m = a.shape[0], b.shape[0]
        big = np.kron(np.eye(m), a) + np.kron(b.T, np.eye(n))
        x = np.linalg.solve(big, c.reshape(-1, order="F"))
        return [x.reshape((n, m), order="F")]
    return _per_matrix(one, a, b, c)[0]


@st.composite
def _solve_sylvester(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n, m = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # a and b with eigenvalues near +3: a's and -b's spectra stay far apart.
    a = (0.3 * _normal(rng, batch + (n, n), dtype) + 3 * np.eye(n)).astype(dtype)
    b = (0.3 * _normal(rng, batch + (m, m), dtype) + 3 * np.eye(m)).astype(dtype)
    c = _normal(rng, batch + (n, m), dtype).astype(dtype)
    return Case((a, b, c), reference=_sylvester_ref)


def _sqrtm_ref(a):
    def one(m):
        # the principal root from the eigendecomposition (a is diagonalizable with positive
        # eigenvalues by construction)
        w, v = np.linalg.eig(m.astype(np.complex128))
        return [(v * np.sqrt(w)) @ np.linalg.inv(v)]
    return _per_matrix(one, a)[0]


@st.composite
def _sqrtm(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n = draw(st.integers(1, 3))
    a = (0.3 * _normal(rng, batch + (n, n), dtype) + 3 * np.eye(n)).astype(dtype)
    # Complex output: the harness's real-valued derivative checks do not apply (the tests in
    # test_scipy_linalg.py check sqrtm's derivatives through real and imaginary parts).
    return Case((a,), reference=_sqrtm_ref, diff_argnums=())


# --- schur, hessenberg (not differentiable) -------------------------------------------------------

def _schur_ref(a, *, output):
    return _per_matrix(lambda m: list(sla.schur(m, output=output)), a)


@st.composite
def _schur(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n = draw(st.integers(1, 4))
    a = _normal(rng, batch + (n, n), dtype).astype(dtype)
    return Case((a,), params=dict(output=draw(st.sampled_from(["real", "complex"]))),
                reference=_schur_ref)


def _hessenberg_ref(a):
    return _per_matrix(lambda m: list(sla.hessenberg(m, calc_q=True)), a)


@st.composite
def _hessenberg(draw):
    rng, dtype, batch = _rng(draw), draw(DTYPES), _batch(draw)
    n = draw(st.integers(1, 4))
    return Case((_normal(rng, batch + (n, n), dtype).astype(dtype),), reference=_hessenberg_ref)


STRATEGIES = {
    "cholesky": _cholesky(),
    "triangular_solve": _triangular_solve(),
    "lu": _lu(),
    "permute_rows": _permute_rows(),
    "qr": _qr(),
    "eigh": _eigh(),
    "svd": _svd(),
    "eig": _eig(),
    "expm": _expm(),
    "expm_frechet": _expm_frechet(),
    "solve_sylvester": _solve_sylvester(),
    "sqrtm": _sqrtm(),
    "schur": _schur(),
    "hessenberg": _hessenberg(),
}
