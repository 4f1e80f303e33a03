"""functrans.scipy.linalg against scipy.linalg: values (float64 and float32), derivatives by
central finite differences and the dot-product test, jacfwd == jacrev, vmap against a Python
loop and jit against the interpreter (the shared checks of test_linalg_decompositions)."""
import numpy as np
import pytest
import scipy.linalg as sla

import functrans as ft
import functrans.scipy.linalg as fsl
from functrans.test_util import check_grads
from test_linalg_decompositions import (Case, distinct_singular, general, run_case, spd,
                                        symmetric_distinct)

pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")


def _sq(x):
    return x * x


def _lu_solve_ref(trans):
    return lambda a, b: sla.lu_solve(sla.lu_factor(a), b, trans=trans)


CASES = [
    Case("cholesky_upper", fsl.cholesky, lambda r: (spd(r, 4),), sla.cholesky, order=2),
    Case("cholesky_lower", lambda a: fsl.cholesky(a, lower=True), lambda r: (spd(r, 3),),
         lambda a: sla.cholesky(a, lower=True)),
    Case("cho_solve", lambda a, b: fsl.cho_solve(fsl.cho_factor(a), b),
         lambda r: (spd(r, 4), r.standard_normal((4, 2))),
         lambda a, b: sla.cho_solve(sla.cho_factor(a), b), order=2),
    Case("cho_solve_lower_vector", lambda a, b: fsl.cho_solve(fsl.cho_factor(a, lower=True), b),
         lambda r: (spd(r, 3), r.standard_normal(3)),
         lambda a, b: sla.cho_solve(sla.cho_factor(a, lower=True), b)),
    Case("solve_triangular", fsl.solve_triangular,
         lambda r: (general(r, (4, 4)), r.standard_normal((4, 3))), sla.solve_triangular),
    Case("solve_triangular_lower_T_unit",
         lambda a, b: fsl.solve_triangular(a, b, trans="T", lower=True, unit_diagonal=True),
         lambda r: (general(r, (3, 3)), r.standard_normal(3)),
         lambda a, b: sla.solve_triangular(a, b, trans="T", lower=True, unit_diagonal=True),
         order=2),
    Case("solve_triangular_C", lambda a, b: fsl.solve_triangular(a, b, trans=2),
         lambda r: (general(r, (3, 3)), r.standard_normal((3, 2))),
         lambda a, b: sla.solve_triangular(a, b, trans=2)),
    Case("lu_factor", lambda a: fsl.lu_factor(a)[0], lambda r: (r.standard_normal((4, 4)),),
         lambda a: sla.lu_factor(a)[0]),
    Case("lu_solve", lambda a, b: fsl.lu_solve(fsl.lu_factor(a), b),
         lambda r: (general(r, (4, 4)), r.standard_normal((4, 2))), _lu_solve_ref(0)),
    Case("lu_solve_T", lambda a, b: fsl.lu_solve(fsl.lu_factor(a), b, trans=1),
         lambda r: (general(r, (3, 3)), r.standard_normal(3)), _lu_solve_ref(1)),
    Case("lu", lambda a: fsl.lu(a), lambda r: (r.standard_normal((4, 4)),), sla.lu),
    Case("lu_tall_permute_l", lambda a: fsl.lu(a, permute_l=True),
         lambda r: (r.standard_normal((5, 3)),), lambda a: sla.lu(a, permute_l=True)),
    Case("lu_wide", lambda a: fsl.lu(a), lambda r: (r.standard_normal((2, 4)),), sla.lu),
    Case("expm", fsl.expm, lambda r: (0.5 * r.standard_normal((4, 4)),), sla.expm, order=2),
    Case("expm_frechet", lambda a, e: fsl.expm_frechet(a, e, compute_expm=False),
         lambda r: (0.5 * r.standard_normal((3, 3)), r.standard_normal((3, 3))),
         lambda a, e: sla.expm_frechet(a, e, compute_expm=False)),
    Case("det", fsl.det, lambda r: (general(r, (3, 3)),), sla.det, order=2),
    Case("inv", fsl.inv, lambda r: (general(r, (3, 3)),), sla.inv),
    Case("solve", fsl.solve, lambda r: (general(r, (4, 4)), r.standard_normal((4, 2))),
         sla.solve),
    Case("solve_vector", fsl.solve, lambda r: (general(r, (3, 3)), r.standard_normal(3)),
         sla.solve),
    Case("solve_pos", lambda a, b: fsl.solve(a, b, assume_a="pos"),
         lambda r: (spd(r, 3), r.standard_normal((3, 2))),
         lambda a, b: sla.solve(a, b, assume_a="pos")),
    Case("eigh", lambda a: (lambda w, v: (w, _sq(v)))(*fsl.eigh(a)),
         lambda r: (symmetric_distinct(r, 4),), lambda a: (lambda w, v: (w, _sq(v)))(
             *sla.eigh(a))),
    Case("eigh_values_only", lambda a: fsl.eigh(a, eigvals_only=True),
         lambda r: (symmetric_distinct(r, 3),), lambda a: sla.eigh(a, eigvals_only=True),
         order=2),
    Case("eigh_generalized", lambda a, b: fsl.eigh(a, b, eigvals_only=True),
         lambda r: (symmetric_distinct(r, 3), spd(r, 3)),
         lambda a, b: sla.eigh(a, b, eigvals_only=True)),
    Case("svd_economic", lambda a: (lambda u, s, vh: (_sq(u), s, _sq(vh)))(
        *fsl.svd(a, full_matrices=False)), lambda r: (distinct_singular(r, 4, 3),),
         lambda a: (lambda u, s, vh: (_sq(u), s, _sq(vh)))(*sla.svd(a, full_matrices=False))),
    Case("qr_economic", lambda a: fsl.qr(a, mode="economic"),
         lambda r: (general(r, (4, 3)),), lambda a: sla.qr(a, mode="economic")),
    Case("qr_r", lambda a: fsl.qr(a, mode="r"), lambda r: (general(r, (3, 3)),),
         lambda a: sla.qr(a, mode="r")),
    Case("polar_right", fsl.polar, lambda r: (distinct_singular(r, 4, 3),), sla.polar),
    Case("polar_left", lambda a: fsl.polar(a, side="left"),
         lambda r: (distinct_singular(r, 3, 3),), lambda a: sla.polar(a, side="left")),
    Case("toeplitz", fsl.toeplitz, lambda r: (r.standard_normal(4), r.standard_normal(3)),
         sla.toeplitz),
    Case("hankel", fsl.hankel, lambda r: (r.standard_normal(3), r.standard_normal(4)),
         sla.hankel),
    Case("circulant", fsl.circulant, lambda r: (r.standard_normal(4),), sla.circulant),
    Case("solve_sylvester", fsl.solve_sylvester,
         lambda r: (general(r, (3, 3)), general(r, (2, 2)), r.standard_normal((3, 2))),
         sla.solve_sylvester, order=2),
    Case("sqrtm", lambda a: (lambda x: (x.real, x.imag))(fsl.sqrtm(a)),
         lambda r: (spd(r, 3) + 0.3 * r.standard_normal((3, 3)),),
         lambda a: (lambda x: (x.real, x.imag))(sla.sqrtm(a.astype(complex)))),
    Case("companion", fsl.companion, lambda r: (r.standard_normal(4) + np.array([3, 0, 0, 0]),),
         sla.companion),
    Case("fiedler", fsl.fiedler, lambda r: (np.arange(4.0) + 0.1 * r.standard_normal(4),),
         sla.fiedler),
    Case("leslie", fsl.leslie, lambda r: (r.standard_normal(3), r.standard_normal(2)),
         sla.leslie),
    Case("convolution_matrix_same", lambda a: fsl.convolution_matrix(a, 5, "same"),
         lambda r: (r.standard_normal(3),), lambda a: sla.convolution_matrix(a, 5, "same")),
    Case("convolution_matrix_valid", lambda a: fsl.convolution_matrix(a, 2, "valid"),
         lambda r: (r.standard_normal(4),), lambda a: sla.convolution_matrix(a, 2, "valid")),
    Case("schur", fsl.schur, lambda r: (r.standard_normal((4, 4)),), sla.schur,
         differentiable=False),
    Case("schur_complex", lambda a: fsl.schur(a, output="complex"),
         lambda r: (r.standard_normal((3, 3)),), lambda a: sla.schur(a, output="complex"),
         differentiable=False),
    Case("hessenberg", lambda a: fsl.hessenberg(a, calc_q=True),
         lambda r: (r.standard_normal((4, 4)),), lambda a: sla.hessenberg(a, calc_q=True),
         differentiable=False),
    Case("eigh_tridiagonal", lambda d, e: fsl.eigh_tridiagonal(d, e, eigvals_only=True),
         lambda r: (np.arange(4.0) * 2 + 0.1 * r.standard_normal(4), 0.3 * r.standard_normal(3)),
         lambda d, e: sla.eigh_tridiagonal(d, e, eigvals_only=True), order=2),
    Case("block_diag", lambda a, b, c: fsl.block_diag(a, b, c),
         lambda r: (r.standard_normal((2, 3)), r.standard_normal(2), r.standard_normal((1, 1))),
         sla.block_diag),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_scipy_linalg(case):
    run_case(case)


def test_cho_factor_returns_flag_and_zero_triangle():
    a = spd(np.random.default_rng(1), 3)
    c, lower = fsl.cho_factor(a)
    assert lower is False
    np.testing.assert_array_equal(np.tril(c, -1), 0)       # JAX's convention, not scipy's junk
    np.testing.assert_allclose(c.T @ c, a, rtol=1e-12)


def test_cholesky_reads_one_triangle():
    """scipy's convention: lower=False reads the upper triangle only (no symmetrization)."""
    a = spd(np.random.default_rng(2), 3)
    junk = a + np.tril(np.full((3, 3), 100.0), -1)
    np.testing.assert_allclose(fsl.cholesky(junk), sla.cholesky(a), rtol=1e-12)
    junk = a + np.triu(np.full((3, 3), 100.0), 1)
    np.testing.assert_allclose(fsl.cholesky(junk, lower=True), sla.cholesky(a, lower=True),
                               rtol=1e-12)


def test_lu_solve_with_traced_pivots_under_jit_and_vmap():
    rng = np.random.default_rng(3)
    a = general(rng, (2, 4, 4)) + rng.standard_normal((2, 4, 4))
    b = rng.standard_normal((2, 4, 2))
    lus, pivs = zip(*(sla.lu_factor(m) for m in a))
    lus, pivs = np.stack(lus), np.stack(pivs).astype(np.int32)
    got = ft.jit(ft.vmap(lambda lu, p, y: fsl.lu_solve((lu, p), y)))(lus, pivs, b)
    np.testing.assert_allclose(got, np.linalg.solve(a, b), rtol=1e-10)


def test_expm_second_derivative_and_frechet_transpose():
    """expm's Hessian comes from expm_frechet's own JVP (the block-matrix identity); the
    transpose of L(A, .) is L(A^T, .)."""
    rng = np.random.default_rng(4)
    a = 0.5 * rng.standard_normal((3, 3))
    f = lambda x: ft.numpy.sum(fsl.expm(x) ** 2)  # noqa: E731
    h = ft.hessian(f)(a)
    eps = 1e-5
    g = ft.grad(f)
    d = rng.standard_normal((3, 3))
    fd = (g(a + eps * d) - g(a - eps * d)) / (2 * eps)
    np.testing.assert_allclose(np.einsum("ijkl,kl->ij", h, d), fd, rtol=1e-6, atol=1e-8)
    e, u = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    lhs = np.vdot(u, sla.expm_frechet(a, e, compute_expm=False))
    rhs = np.vdot(sla.expm_frechet(a.T, u, compute_expm=False), e)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
    check_grads(lambda x, y: fsl.expm_frechet(x, y, compute_expm=False), (a, e), order=2)


def test_errors_name_the_function():
    with pytest.raises(ValueError, match="solve_triangular: trans"):
        fsl.solve_triangular(np.eye(2), np.ones(2), trans=3)
    with pytest.raises(ValueError, match="assume_a"):
        fsl.solve(np.eye(2), np.ones(2), assume_a="banded")
    with pytest.raises(ValueError, match="block_diag"):
        fsl.block_diag(np.ones((2, 2, 2)))
    with pytest.raises(NotImplementedError, match="type"):
        fsl.eigh(np.eye(2), np.eye(2), type=2)


def test_constant_special_matrices():
    for n in (1, 2, 4):
        np.testing.assert_array_equal(fsl.hilbert(n), sla.hilbert(n))
        np.testing.assert_allclose(fsl.invhilbert(n) @ fsl.hilbert(n), np.eye(n), atol=1e-9)
        np.testing.assert_array_equal(fsl.hadamard(n), sla.hadamard(n))
        np.testing.assert_allclose(fsl.dft(n, scale="sqrtn"), sla.dft(n, scale="sqrtn"))
        np.testing.assert_allclose(fsl.helmert(n + 1, full=True), sla.helmert(n + 1, True))
    with pytest.raises(NotImplementedError, match="exact"):
        fsl.invhilbert(3, exact=True)


def test_schur_is_not_differentiable():
    a = np.random.default_rng(5).standard_normal((3, 3))
    with pytest.raises(Exception, match="schur is not differentiable"):
        ft.grad(lambda x: ft.numpy.sum(fsl.schur(x)[0]))(a)
    with pytest.raises(Exception, match="hessenberg is not differentiable"):
        ft.jvp(lambda x: fsl.hessenberg(x), (a,), (a,))
