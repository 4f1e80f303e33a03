"""functrans.numpy.linalg and functrans.lax.linalg: values against numpy/scipy, derivatives
against central finite differences (float64, and float32 with its own tolerances), the
dot-product test for reverse mode, jacfwd == jacrev, vmap against a Python loop and jit against
the interpreter.

Matrices are well conditioned by construction (a dominant diagonal, positive definite ones for
Cholesky, eigenvalues and singular values at least 1 apart). Outputs with a sign or phase
freedom (eigenvectors, singular vectors) enter derivative checks through gauge-invariant
functions of them (v * v, u * u), so a check does not depend on LAPACK's sign choice.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import scipy.linalg as sla

import functrans as ft
import functrans.numpy as fnp
from functrans import lax, tree_util
from functrans.test_util import check_grads

pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TOL = {F64: dict(rtol=1e-9, atol=1e-9), F32: dict(rtol=2e-4, atol=2e-4)}


# --- well-conditioned operands -----------------------------------------------------------------

def general(rng, shape):
    """A matrix (or batch) with a dominant diagonal: far from singular."""
    n = shape[-1]
    return rng.standard_normal(shape) + 3 * np.eye(shape[-2], n)


def spd(rng, n, batch=()):
    b = rng.standard_normal(batch + (n, n))
    return b @ np.swapaxes(b, -1, -2) / n + 2 * np.eye(n)


def symmetric_distinct(rng, n, batch=()):
    """Symmetric with eigenvalues 1 apart (distinct: eigenvector derivatives exist)."""
    q, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    w = np.arange(n) - n / 2 + 0.5
    return np.einsum("...ij,j,...kj->...ik", q, w, q)


def distinct_singular(rng, m, n, batch=()):
    k = min(m, n)
    u, _ = np.linalg.qr(rng.standard_normal(batch + (m, m)))
    v, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    s = 1.0 + np.arange(k)[::-1]
    return np.einsum("...ij,j,...kj->...ik", u[..., :k], s, v[..., :k])


# --- the checks every case goes through ---------------------------------------------------------

@dataclass
class Case:
    name: str
    fn: Callable                 # functrans function of the args
    args: Callable               # rng -> tuple of float64 arrays
    reference: Callable | None   # numpy/scipy function of the same args
    differentiable: bool = True
    order: int = 1               # derivative order checked in float64


def assert_tree_close(got, want, dtype=F64, what=""):
    for g, w in zip(tree_util.tree_leaves(got), tree_util.tree_leaves(want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        np.testing.assert_allclose(g, w, err_msg=what, **TOL[dtype])


def run_case(case):
    rng = np.random.default_rng(0)
    args = case.args(rng)
    # values against numpy/scipy, float64 and float32 (dtype kept)
    for dtype in (F64, F32):
        typed = tuple(np.asarray(a, dtype) for a in args)
        got = case.fn(*typed)
        for leaf in tree_util.tree_leaves(got):
            kind = np.asarray(leaf).dtype
            if kind.kind in "fc":
                assert kind.itemsize in ((4, 8) if dtype == F32 else (8, 16)), \
                    f"{case.name}: {dtype.name} input gave a {kind.name} output"
        if case.reference is not None:
            assert_tree_close(got, case.reference(*typed), dtype, f"{case.name} vs reference")
    # the traced program and jit give the interpreter's values
    assert_tree_close(ft.jit(case.fn)(*args), case.fn(*args), F64, f"{case.name}: jit")
    # vmap against a Python loop over a batch of 3 (each member perturbed)
    members = [tuple(a + 0.1 * k * np.random.default_rng(k).standard_normal(np.shape(a))
                     for a in args) for k in range(3)]
    stacked = tuple(np.stack([m[i] for m in members]) for i in range(len(args)))
    batched = ft.vmap(case.fn)(*stacked)
    for k, m in enumerate(members):
        assert_tree_close(tree_util.tree_map(lambda x: np.asarray(x)[k], batched), case.fn(*m),
                          F64, f"{case.name}: vmap member {k}")
    if not case.differentiable:
        return
    # finite differences and the dot-product test, float64 (and higher order if asked)
    check_grads(case.fn, args, order=case.order)
    # float32: the rules keep the dtype and agree with finite differences loosely
    check_grads(case.fn, tuple(np.asarray(a, F32) for a in args), order=1, atol=3e-2,
                rtol=3e-2, eps=1e-2)
    # whole Jacobians both ways
    for i in range(len(args)):
        fwd = ft.jacfwd(case.fn, argnums=i)(*args)
        rev = ft.jacrev(case.fn, argnums=i)(*args)
        assert_tree_close(fwd, rev, F64, f"{case.name}: jacfwd vs jacrev (arg {i})")


# --- numpy.linalg -------------------------------------------------------------------------------

L = fnp.linalg


def _sq(x):
    return x * x


NUMPY_CASES = [
    Case("solve", L.solve, lambda r: (general(r, (4, 4)), r.standard_normal((4, 2))),
         np.linalg.solve),
    Case("solve_vector", L.solve, lambda r: (general(r, (3, 3)), r.standard_normal(3)),
         np.linalg.solve, order=2),
    Case("solve_broadcast", L.solve,
         lambda r: (general(r, (2, 3, 3)), r.standard_normal((3, 2))), np.linalg.solve),
    Case("inv", L.inv, lambda r: (general(r, (3, 3)),), np.linalg.inv, order=2),
    Case("inv_batch", L.inv, lambda r: (general(r, (2, 3, 3)),), np.linalg.inv),
    Case("det", L.det, lambda r: (general(r, (4, 4)),), np.linalg.det, order=2),
    Case("det_batch", L.det, lambda r: (general(r, (2, 3, 3)),), np.linalg.det),
    Case("slogdet", lambda a: tuple(L.slogdet(a)), lambda r: (general(r, (4, 4)) - 6 * np.eye(4),),
         lambda a: tuple(np.linalg.slogdet(a))),
    Case("cholesky", L.cholesky, lambda r: (spd(r, 4),), np.linalg.cholesky, order=2),
    Case("cholesky_upper", lambda a: L.cholesky(a, upper=True), lambda r: (spd(r, 3, (2,)),),
         lambda a: np.linalg.cholesky(a, upper=True)),
    Case("eigh", lambda a: (L.eigh(a)[0], _sq(L.eigh(a)[1])),
         lambda r: (symmetric_distinct(r, 4),),
         lambda a: (np.linalg.eigh(a)[0], _sq(np.linalg.eigh(a)[1]))),
    Case("eigvalsh_upper", lambda a: L.eigvalsh(a, UPLO="U"),
         lambda r: (symmetric_distinct(r, 3, (2,)),), lambda a: np.linalg.eigvalsh(a, "U"),
         order=2),
    Case("svd_tall", lambda a: (lambda u, s, vh: (_sq(u), s, _sq(vh)))(
        *L.svd(a, full_matrices=False)), lambda r: (distinct_singular(r, 5, 3),),
         lambda a: (lambda u, s, vh: (_sq(u), s, _sq(vh)))(*np.linalg.svd(a, False))),
    Case("svd_wide_batch", lambda a: (lambda u, s, vh: (_sq(u), s, _sq(vh)))(
        *L.svd(a, full_matrices=False)), lambda r: (distinct_singular(r, 2, 4, (2,)),),
         lambda a: (lambda u, s, vh: (_sq(u), s, _sq(vh)))(*np.linalg.svd(a, False))),
    Case("svd_square_full", lambda a: (lambda u, s, vh: (_sq(u), s, _sq(vh)))(*L.svd(a)),
         lambda r: (distinct_singular(r, 3, 3),),
         lambda a: (lambda u, s, vh: (_sq(u), s, _sq(vh)))(*np.linalg.svd(a))),
    Case("svdvals", L.svdvals, lambda r: (distinct_singular(r, 4, 3),),
         lambda a: np.linalg.svd(a, compute_uv=False), order=2),
    Case("qr", lambda a: tuple(L.qr(a)), lambda r: (general(r, (5, 3)),),
         lambda a: tuple(np.linalg.qr(a))),
    Case("qr_r", lambda a: L.qr(a, mode="r"), lambda r: (general(r, (2, 3, 3)),),
         lambda a: np.linalg.qr(a, mode="r")),
    Case("pinv", L.pinv, lambda r: (distinct_singular(r, 4, 3),), np.linalg.pinv, order=2),
    Case("pinv_wide", L.pinv, lambda r: (distinct_singular(r, 2, 4),), np.linalg.pinv),
    Case("lstsq", lambda a, b: L.lstsq(a, b)[0],
         lambda r: (distinct_singular(r, 5, 3), r.standard_normal(5)),
         lambda a, b: np.linalg.lstsq(a, b)[0]),
    Case("matrix_power_3", lambda a: L.matrix_power(a, 3), lambda r: (r.standard_normal((3, 3)),),
         lambda a: np.linalg.matrix_power(a, 3)),
    Case("matrix_power_neg", lambda a: L.matrix_power(a, -2), lambda r: (general(r, (3, 3)),),
         lambda a: np.linalg.matrix_power(a, -2)),
    Case("multi_dot", lambda a, b, c, d: L.multi_dot([a, b, c, d]),
         lambda r: (r.standard_normal(4), r.standard_normal((4, 6)), r.standard_normal((6, 2)),
                    r.standard_normal((2, 3))),
         lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d])),
    Case("norm_2", lambda a: L.norm(a, 2), lambda r: (distinct_singular(r, 3, 4),),
         lambda a: np.linalg.norm(a, 2)),
    Case("norm_-2_axes", lambda a: L.norm(a, -2, axis=(0, 2)),
         lambda r: (np.moveaxis(distinct_singular(r, 3, 3, (2,)), 0, 1),),
         lambda a: np.linalg.norm(a, -2, axis=(0, 2))),
    Case("norm_nuc", lambda a: L.norm(a, "nuc", keepdims=True),
         lambda r: (distinct_singular(r, 4, 2),), lambda a: np.linalg.norm(a, "nuc",
                                                                      keepdims=True)),
    Case("tensorinv", lambda a: L.tensorinv(a, ind=2),
         lambda r: (general(r, (6, 6)).reshape(2, 3, 6),),
         lambda a: np.linalg.tensorinv(a, ind=2)),
    Case("tensorsolve", L.tensorsolve,
         lambda r: (general(r, (6, 6)).reshape(2, 3, 2, 3), r.standard_normal((2, 3))),
         np.linalg.tensorsolve),
    Case("cond", L.cond, lambda r: (distinct_singular(r, 3, 3),), np.linalg.cond),
    Case("matrix_rank", L.matrix_rank, lambda r: (distinct_singular(r, 4, 3) @
                                                  r.standard_normal((3, 4)),),
         np.linalg.matrix_rank, differentiable=False),
    Case("vector_norm_axes", lambda x: L.vector_norm(x, axis=(0, 2), keepdims=True),
         lambda r: (r.standard_normal((2, 3, 4)),),
         lambda x: np.linalg.vector_norm(x, axis=(0, 2), keepdims=True)),
    Case("matrix_norm_nuc", lambda x: L.matrix_norm(x, ord="nuc"),
         lambda r: (distinct_singular(r, 3, 2, (2,)),),
         lambda x: np.linalg.matrix_norm(x, ord="nuc")),
    Case("cross", L.cross, lambda r: (r.standard_normal((2, 3)), r.standard_normal((4, 1, 3))),
         np.linalg.cross),
    Case("vecdot", L.vecdot, lambda r: (r.standard_normal((2, 3)), r.standard_normal(3)),
         np.linalg.vecdot),
    Case("trace_diagonal", lambda x: (L.trace(x, offset=1), L.diagonal(x),
                                      L.matrix_transpose(x)),
         lambda r: (r.standard_normal((2, 3, 4)),),
         lambda x: (np.linalg.trace(x, offset=1), np.linalg.diagonal(x),
                    np.linalg.matrix_transpose(x))),
    Case("eig_values_only", lambda a: L.eigvals(a), lambda r: (r.standard_normal((4, 4)),),
         lambda a: np.linalg.eigvals(a), differentiable=False),
]


@pytest.mark.parametrize("case", NUMPY_CASES, ids=lambda c: c.name)
def test_numpy_linalg(case):
    run_case(case)


# --- lax.linalg -----------------------------------------------------------------------------------

def _lu_factors(a):
    lu, pivots, perm = lax.linalg.lu(a)
    return lu, pivots, perm


LAX_CASES = [
    Case("lax.cholesky", lax.linalg.cholesky, lambda r: (spd(r, 3, (2,)),), np.linalg.cholesky),
    Case("lax.triangular_solve_default", lambda a, b: lax.linalg.triangular_solve(a, b),
         lambda r: (general(r, (3, 3)), r.standard_normal((2, 3))),
         lambda a, b: np.linalg.solve(np.triu(a).T, b.T).T),
    Case("lax.triangular_solve_left_lower_t", lambda a, b: lax.linalg.triangular_solve(
        a, b, left_side=True, lower=True, transpose_a=True),
         lambda r: (general(r, (3, 3)), r.standard_normal((3, 2))),
         lambda a, b: np.linalg.solve(np.tril(a).T, b), order=2),
    Case("lax.triangular_solve_unit", lambda a, b: lax.linalg.triangular_solve(
        a, b, left_side=True, lower=True, unit_diagonal=True),
         lambda r: (general(r, (2, 3, 3)), r.standard_normal((2, 3, 2))),
         lambda a, b: np.linalg.solve(np.tril(a, -1) + np.eye(3), b)),
    Case("lax.lu_packed", lambda a: lax.linalg.lu(a)[0], lambda r: (r.standard_normal((4, 4)),),
         lambda a: sla.lu_factor(a)[0], order=2),
    Case("lax.lu_tall", lambda a: lax.linalg.lu(a)[0], lambda r: (r.standard_normal((5, 3)),),
         None),
    Case("lax.lu_wide", lambda a: lax.linalg.lu(a)[0], lambda r: (r.standard_normal((2, 4)),),
         None),
    Case("lax.qr_full_square", lambda a: lax.linalg.qr(a), lambda r: (general(r, (3, 3)),),
         lambda a: tuple(np.linalg.qr(a, mode="complete"))),
    Case("lax.eigh_v_w", lambda a: (lambda v, w: (_sq(v), w))(*lax.linalg.eigh(a)),
         lambda r: (symmetric_distinct(r, 3),),
         lambda a: (lambda w, v: (_sq(v), w))(*np.linalg.eigh(a))),
    Case("lax.svd_values", lambda a: lax.linalg.svd(a, compute_uv=False),
         lambda r: (distinct_singular(r, 3, 5),), lambda a: np.linalg.svd(a, compute_uv=False)),
    Case("lax.expm", lax.linalg.expm, lambda r: (0.5 * r.standard_normal((3, 3)),), sla.expm,
         order=2),
]


@pytest.mark.parametrize("case", LAX_CASES, ids=lambda c: c.name)
def test_lax_linalg(case):
    run_case(case)


def test_lu_reconstructs_rectangular_and_pivots():
    rng = np.random.default_rng(3)
    for shape in [(4, 4), (5, 3), (2, 4), (2, 3, 3)]:
        a = rng.standard_normal(shape)
        lu, pivots, perm = lax.linalg.lu(a)
        m, n = shape[-2:]
        k = min(m, n)
        low = np.tril(lu[..., :, :k], -1) + np.eye(m, k)
        up = np.triu(lu[..., :k, :])
        np.testing.assert_allclose(np.take_along_axis(a, perm[..., :, None], -2), low @ up,
                                   atol=1e-12)
        assert pivots.dtype == perm.dtype == np.int32
        np.testing.assert_array_equal(perm, lax.linalg.lu_pivots_to_permutation(pivots, m))


# --- eig: eigenvalue derivatives against the left/right eigenvector formula ----------------------

def test_eigvals_derivative_matches_eigenvector_formula():
    """dw_i = u_i^H dA v_i / (u_i^H v_i), with scipy's left (u) and right (v) eigenvectors: an
    independent formula, complex eigenvalues included."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 4))
    da = rng.standard_normal((4, 4))
    w, dw = ft.jvp(L.eigvals, (a,), (da,))
    ref_w, vl, vr = sla.eig(a, left=True, right=True)
    order = [int(np.argmin(np.abs(ref_w - x))) for x in w]
    vl, vr = vl[:, order], vr[:, order]
    want = np.einsum("ij,ik,kj->j", np.conj(vl), da, vr) / np.einsum("ij,ij->j", np.conj(vl), vr)
    np.testing.assert_allclose(dw, want, rtol=1e-8, atol=1e-10)
    # Reverse mode of a real function of the eigenvalues: finite differences and jacfwd.
    f = lambda x: fnp.sum(fnp.abs(L.eigvals(x)) ** 2)  # noqa: E731
    check_grads(f, (a,), order=1)
    np.testing.assert_allclose(ft.grad(f)(a), ft.jacfwd(f)(a), rtol=1e-9, atol=1e-10)


def _sign_aligned(v_new, v):
    """v_new with each column's sign matched to v's (LAPACK fixes each eigenvector's norm and
    makes its largest component real, but its sign may flip under a tiny perturbation)."""
    cols = np.arange(v.shape[1])
    k = np.argmax(np.abs(v), axis=0)
    return v_new * np.sign(v_new[k, cols].real / v[k, cols].real)


@pytest.mark.parametrize("complex_input", [False, True])
def test_eig_eigenvector_derivatives_in_lapacks_gauge(complex_input):
    """Left and right eigenvectors' JVP against central differences of scipy's eig (signs
    aligned), real matrices with complex pairs and complex matrices; reverse mode by the
    dot-product test."""
    from functrans.test_util import check_vjp
    for seed in range(3):
        rng = np.random.default_rng(seed)
        a, t = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
        if complex_input:
            a, t = a + 1j * rng.standard_normal((4, 4)), t + 1j * rng.standard_normal((4, 4))

        def f(x, y):
            return lax.linalg.eig(lax.complex(x, y) if complex_input else x)
        outs, touts = ft.jvp(f, (a.real, a.imag), (t.real, t.imag))
        w, vl, vr = map(np.asarray, outs)
        eps = 1e-6
        plus = sla.eig(a + eps * t, left=True, right=True)
        minus = sla.eig(a - eps * t, left=True, right=True)
        np.testing.assert_allclose(touts[0], (plus[0] - minus[0]) / (2 * eps), atol=1e-7)
        for got, v, i in ((touts[1], vl, 1), (touts[2], vr, 2)):
            fd = (_sign_aligned(plus[i], v) - _sign_aligned(minus[i], v)) / (2 * eps)
            np.testing.assert_allclose(got, fd, atol=1e-7)

        def parts(x, y):
            return tuple(p for o in f(x, y) for p in (fnp.real(o), fnp.imag(o)))
        check_vjp(parts, (a.real, a.imag))
    # numpy.linalg.eig (right eigenvectors only) under jit and vmap
    a = np.random.default_rng(7).standard_normal((2, 3, 3))
    g = ft.jit(ft.vmap(ft.grad(lambda x: fnp.sum(fnp.abs(L.eig(x).eigenvectors[:, 0]) ** 4))))
    want = np.stack([ft.grad(lambda x: fnp.sum(fnp.abs(L.eig(x).eigenvectors[:, 0]) ** 4))(m)
                     for m in a])
    np.testing.assert_allclose(g(a), want, rtol=1e-8, atol=1e-10)


# --- documented limits and error messages ---------------------------------------------------------

def test_cholesky_not_positive_definite_gives_nan():
    out = L.cholesky(np.array([[[1.0, 2.0], [2.0, 1.0]], [[2.0, 0.0], [0.0, 2.0]]]))
    assert np.isnan(out[0]).all()
    np.testing.assert_allclose(out[1], np.sqrt(2) * np.eye(2))


def test_eigh_degenerate_eigenvalues():
    """Repeated eigenvalues: eigenvalue derivatives are finite, eigenvector derivatives are not
    defined and come out non-finite (documented, as in JAX)."""
    a = np.diag([1.0, 1.0, 3.0])
    da = np.random.default_rng(6).standard_normal((3, 3))
    da = da + da.T
    with np.errstate(invalid="ignore", divide="ignore"):     # the infinite gaps, expected
        (w, v), (dw, dv) = ft.jvp(lambda x: tuple(L.eigh(x)), (a,), (da,))
    assert np.isfinite(dw).all()
    np.testing.assert_allclose(np.sum(dw), np.trace(da), rtol=1e-12)
    assert not np.isfinite(dv).all()


def test_derivative_limits_raise_clearly():
    a = np.random.default_rng(7).standard_normal((2, 4))
    with pytest.raises(NotImplementedError, match="qr.*rows as columns"):
        ft.jvp(lambda x: L.qr(x)[0], (a,), (a,))
    with pytest.raises(NotImplementedError, match="svd.*full_matrices"):
        ft.jvp(lambda x: L.svd(x)[0], (a,), (a,))
    with pytest.raises(TypeError, match="float16"):
        L.inv(np.eye(2, dtype=np.float16))
    with pytest.raises(L.LinAlgError, match="square"):
        L.det(np.ones((2, 3)))
    with pytest.raises(ValueError, match="does not match"):
        L.solve(np.eye(3), np.ones(2))
    with pytest.raises(TypeError, match="triangular_solve.*dtype"):
        lax.linalg.triangular_solve(np.eye(2), np.ones((2, 2), np.float32))


def test_integer_input_is_float64_and_results_are_namedtuples():
    a = np.array([[2, 1], [1, 3]])
    assert L.inv(a).dtype == np.float64
    res = L.slogdet(a)
    assert res.sign == 1.0 and np.isclose(res.logabsdet, np.log(5))
    w, v = L.eigh(a)
    assert L.eigh(a).eigenvalues is not None and w.shape == (2,)
    u, s, vh = L.svd(a)
    assert L.svd(a).S.shape == (2,)
    q, r = L.qr(a)
    np.testing.assert_allclose(q @ r, a)


def _primitive_names(closed):
    return [e.primitive.name for e in closed.eqns]


def test_solve_is_lu_and_triangular_solves():
    """solve is an LU factorization and triangular solves (no explicit inverse); its linearized
    map reuses the factors (two triangular solves, no new factorization), and reverse mode
    transposes those solves."""
    a, b = general(np.random.default_rng(8), (3, 3)), np.ones((3, 2))
    (call,) = ft.make_jaxpr(L.solve)(a, b).eqns
    inner = ft.make_jaxpr(lambda x, y: call.params["fun"]([x, y]))(a, b)
    assert "lu" in _primitive_names(inner)
    assert _primitive_names(inner).count("triangular_solve") == 2
    _, lin = ft.linearize(L.solve, a, b)
    names = _primitive_names(lin.program)
    assert names.count("triangular_solve") == 2 and "lu" not in names
    _, pullback = ft.vjp(L.solve, a, b)
    ga, gb = pullback(np.ones((3, 2)))
    x = np.linalg.solve(a, b)
    gb_want = np.linalg.solve(a.T, np.ones((3, 2)))
    np.testing.assert_allclose(gb, gb_want, rtol=1e-10)
    np.testing.assert_allclose(ga, -gb_want @ x.T, rtol=1e-10)


def test_pinv_rank_deficient_uses_constant_rank_formula():
    """pinv's own JVP: finite at a rank-deficient matrix with a repeated zero singular value,
    where differentiating through the SVD would divide by zero."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal((4, 2)) @ rng.standard_normal((2, 4))     # rank 2
    da = rng.standard_normal((2, 2))
    # a perturbation that keeps the rank: within the same row and column spaces
    u, s, vh = np.linalg.svd(a)
    d = u[:, :2] @ da @ vh[:2]
    _, t = ft.jvp(L.pinv, (a,), (d,))
    eps = 1e-6
    fd = (np.linalg.pinv(a + eps * d) - np.linalg.pinv(a - eps * d)) / (2 * eps)
    np.testing.assert_allclose(t, fd, rtol=1e-5, atol=1e-6)


def test_matrix_power_and_multi_dot_shapes():
    a = np.random.default_rng(10).standard_normal((2, 3, 3))
    np.testing.assert_allclose(L.matrix_power(a, 0), np.broadcast_to(np.eye(3), (2, 3, 3)))
    assert L.multi_dot([np.ones(3), np.ones((3, 2)), np.ones(2)]).shape == ()
    with pytest.raises(TypeError, match="integer"):
        L.matrix_power(a, 1.5)


def test_complex_slogdet_and_det_derivatives():
    """Complex matrices, parametrized by real and imaginary parts: the sign's derivative
    (i im tr(A^-1 dA) sign) and logabsdet's (re tr(A^-1 dA)) against finite differences."""
    rng = np.random.default_rng(11)
    x, y = general(rng, (3, 3)), rng.standard_normal((3, 3))

    def f(x, y):
        sign, logabsdet = L.slogdet(lax.complex(x, y))
        d = L.det(lax.complex(x, y))
        return logabsdet, fnp.real(sign), fnp.imag(sign), fnp.real(d), fnp.imag(d)
    check_grads(f, (x, y), order=1)
    sign, logabsdet = L.slogdet(x + 1j * y)
    np.testing.assert_allclose(sign * np.exp(logabsdet), np.linalg.det(x + 1j * y))


COMPLEX_CASES = {
    # each: (shape of B, f(B) -> tuple of complex or real values, gauge-invariant)
    "cholesky": ((3, 3), lambda b: L.cholesky(b @ fnp.conj(b.T) + 2 * fnp.eye(3))),
    "eigh": ((3, 3), lambda b: (lambda w, v: (w, fnp.abs(v) ** 2))(
        *L.eigh(b + fnp.conj(b.T)))),
    # (u * s^2) @ vh pairs each left vector's phase with its right vector's: it checks the
    # complex gauge term of the rule, which |u|^2 and |vh|^2 cannot see.
    "svd": ((4, 3), lambda b: (lambda u, s, vh: (s, fnp.abs(u) ** 2, fnp.abs(vh) ** 2,
                                                 (u * s ** 2) @ vh))(
        *L.svd(b, full_matrices=False))),
    "svd_wide": ((2, 4), lambda b: (lambda u, s, vh: (s, fnp.abs(u) ** 2, fnp.abs(vh) ** 2,
                                                      (u * s ** 2) @ vh))(
        *L.svd(b, full_matrices=False))),
    "qr": ((4, 3), lambda b: tuple(L.qr(b))),
    "solve_inv": ((3, 3), lambda b: (L.solve(b + 3 * fnp.eye(3), fnp.ones((3, 2))),
                                     L.inv(b + 3 * fnp.eye(3)))),
    "pinv": ((4, 3), L.pinv),
    "expm": ((3, 3), lambda b: fsl_expm(0.5 * b)),
    "triangular_solve": ((3, 3), lambda b: lax.linalg.triangular_solve(
        b + 3 * fnp.eye(3), fnp.conj(b.T), left_side=True, lower=True, transpose_a=True,
        conjugate_a=True)),
}


def fsl_expm(x):
    import functrans.scipy.linalg as fsl
    return fsl.expm(x)


@pytest.mark.parametrize("name", sorted(COMPLEX_CASES))
def test_complex_derivatives(name):
    """Complex operands, parametrized by their real and imaginary parts: forward mode against
    finite differences and reverse mode by the dot-product test, on real and imaginary parts
    of gauge-invariant outputs."""
    shape, f = COMPLEX_CASES[name]
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)

    def parts(x, y):
        out = f(lax.complex(x, y))
        leaves = tree_util.tree_leaves(out)
        return tuple(p for o in leaves for p in ((fnp.real(o), fnp.imag(o))
                                                 if fnp.iscomplexobj(o) else (o,)))
    check_grads(parts, (x, y), order=1)
