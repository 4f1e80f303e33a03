"""Products, einsum and norms against numpy, eager and traced. Eager and traced results agree
bit for bit (both run the same dot_general); numpy's own BLAS calls may group sums
differently, so the comparison with numpy has a tolerance."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import strategies as st

import functrans.numpy as fnp
from test_numpy_harness import (BOOL, COMPLEX, REAL, Call, Entry, arrays, check_call,
                                checked_jaxpr, run_entry, shaped, traced)

ANY = REAL + COMPLEX
PRODUCT_DTYPES = [np.dtype(t) for t in (np.int32, np.int64, np.float32, np.float64,
                                        np.complex128)] + BOOL


def two(dtypes=PRODUCT_DTYPES):
    return st.tuples(st.sampled_from(dtypes), st.sampled_from(dtypes))


@st.composite
def matmul_calls(draw):
    da, db = draw(two())
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    ba, bb = batch.input_shapes
    a_shape = (k,) if draw(st.integers(0, 4)) == 0 else ba + (n, k)
    b_shape = (k,) if draw(st.integers(0, 4)) == 0 else bb + (k, m)
    return Call((draw(shaped(a_shape, [da], lo=-3, hi=3)), draw(shaped(b_shape, [db], lo=-3,
                                                                        hi=3))))


@st.composite
def dot_calls(draw):
    da, db = draw(two())
    k = draw(st.integers(1, 3))
    na, nb = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    a_shape = tuple(draw(st.integers(1, 3)) for _ in range(max(na - 1, 0))) + ((k,) if na
                                                                              else ())
    b_lead = tuple(draw(st.integers(1, 3)) for _ in range(max(nb - 2, 0)))
    b_shape = () if nb == 0 else (k,) if nb == 1 else b_lead + (k, draw(st.integers(1, 3)))
    return Call((draw(shaped(a_shape, [da], lo=-3, hi=3)), draw(shaped(b_shape, [db], lo=-3,
                                                                        hi=3))))


@st.composite
def inner_calls(draw):
    da, db = draw(two())
    k = draw(st.integers(1, 3))
    shapes = [tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))) + (k,)
              for _ in range(2)]
    if draw(st.integers(0, 5)) == 0:
        shapes[0] = ()
    return Call(tuple(draw(shaped(s, [d], lo=-3, hi=3)) for s, d in zip(shapes, (da, db))))


@st.composite
def flat_pair_calls(draw, same_size=True):
    da, db = draw(two())
    a = draw(arrays([da], lo=-3, hi=3, max_dims=2))
    if same_size:
        b = draw(shaped(a.shape[::-1], [db], lo=-3, hi=3))
    else:
        b = draw(arrays([db], lo=-3, hi=3, max_dims=2))
    return Call((a, b))


@st.composite
def tensordot_calls(draw):
    da, db = draw(two())
    shared = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    a_free = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    b_free = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    if draw(st.booleans()):
        a = draw(shaped(a_free + shared, [da], lo=-3, hi=3))
        b = draw(shaped(shared + b_free, [db], lo=-3, hi=3))
        return Call((a, b), {"axes": len(shared)})
    # explicit, shuffled axis pairs
    a_order = draw(st.permutations(range(len(a_free) + len(shared))))
    b_order = draw(st.permutations(range(len(shared) + len(b_free))))
    a_full = a_free + shared
    b_full = shared + b_free
    a = draw(shaped(tuple(a_full[i] for i in a_order), [da], lo=-3, hi=3))
    b = draw(shaped(tuple(b_full[i] for i in b_order), [db], lo=-3, hi=3))
    a_axes = [list(a_order).index(len(a_free) + j) for j in range(len(shared))]
    b_axes = [list(b_order).index(j) for j in range(len(shared))]
    return Call((a, b), {"axes": (a_axes, b_axes)})


EINSUM_SPECS = ["ij,jk->ik", "ij,jk", "ij->ji", "ji", "ii->i", "ii->", "ii", "ij->", "ij->i",
                "i,i->", "i,i", "i,j->ij", "i,j", "bij,bjk->bik", "ij,ij->ij", "ij,ij->",
                "iij->j", "ijk,kj->i", "ij,j->i", "i,ij->j", "ab,ba->", "ab,cd->abcd",
                "iji->j", "...ij,...jk->...ik", "...i->...", "i...->...i", "...,...->...",
                "bi,bi->b", "ij,kl->", "Ab,bC->AC", ",ij->ij", "ii,i->i", "ij,jk,kl->il"]


@st.composite
def einsum_calls(draw):
    spec = draw(st.sampled_from(EINSUM_SPECS))
    inputs = spec.split("->")[0].split(",")
    sizes = {c: draw(st.integers(1, 3)) for c in set(spec) if c.isalpha()}
    ellipsis = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    dtype = draw(st.sampled_from([np.dtype(np.float64), np.dtype(np.float32),
                                  np.dtype(np.int64), np.dtype(np.complex128)]))
    ops = []
    for term in inputs:
        shape = []
        for part in term.split("..."):
            shape.append(tuple(sizes[c] for c in part))
        if "..." in term:
            # broadcast: sometimes drop leading ellipsis dims or make some size 1
            ell = ellipsis[draw(st.integers(0, len(ellipsis))):]
            ell = tuple(1 if draw(st.integers(0, 3)) == 0 else d for d in ell)
            full = shape[0] + ell + shape[1]
        else:
            full = shape[0]
        ops.append(draw(shaped(full, [dtype], lo=-3, hi=3)))
    return Call((spec, *ops))


@st.composite
def norm_calls(draw):
    kind = draw(st.sampled_from(["flat", "vector", "matrix"]))
    x = draw(arrays(REAL + COMPLEX, min_dims=1 if kind != "matrix" else 2, max_dims=3,
                    lo=-5, hi=5))
    keepdims = draw(st.booleans())
    if kind == "flat":
        ords = [None] + ([2] if x.ndim == 1 else []) + (["fro"] if x.ndim == 2 else [])
        return Call((x,), {"ord": draw(st.sampled_from(ords)), "keepdims": keepdims})
    if kind == "vector":
        axis = draw(st.integers(-x.ndim, x.ndim - 1))
        ord_ = draw(st.sampled_from([None, 1, 2, 3, 0.5, 0, np.inf, -np.inf, -1]))
        return Call((x,), {"ord": ord_, "axis": axis, "keepdims": keepdims})
    axes = draw(st.lists(st.integers(0, x.ndim - 1), min_size=2, max_size=2, unique=True))
    # Singular-value norms (2, -2, 'nuc') need LAPACK, which has no float16 (numpy raises).
    svd_ords = [2, -2, "nuc"] if x.dtype != np.float16 else []
    ord_ = draw(st.sampled_from([None, "fro", 1, -1, np.inf, -np.inf] + svd_ords))
    return Call((x,), {"ord": ord_, "axis": tuple(axes), "keepdims": keepdims})


def _norm_ref(x, **kw):
    with np.errstate(divide="ignore"):
        return np.linalg.norm(x, **kw)


# --- solves and decompositions: well-conditioned matrices of every LAPACK-able dtype --------------

LAPACK_DTYPES = [np.dtype(t) for t in (np.int32, np.int64, np.float32, np.float64,
                                       np.complex128)]


def _conditioned(x, spd=False):
    """x made far from singular (a dominant diagonal), or positive definite, keeping its dtype
    (integers stay integers: the functions convert them to float64, as numpy does)."""
    n = x.shape[-1]
    if spd:
        x = x @ np.conj(np.swapaxes(x, -1, -2))
    return (x + (4 * n + 4) * np.eye(n, dtype=x.dtype)).astype(x.dtype)


@st.composite
def square_calls(draw, spd=False, kwargs=st.just({})):
    n = draw(st.integers(1, 4))
    batch = draw(st.sampled_from([(), (), (2,), (1, 2)]))
    x = draw(shaped(batch + (n, n), LAPACK_DTYPES, lo=-3, hi=3))
    return Call((_conditioned(x, spd),), draw(kwargs))


@st.composite
def rectangular_calls(draw, kwargs=st.just({})):
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(st.sampled_from([(), (2,)]))
    x = draw(shaped(batch + (m, n), LAPACK_DTYPES, lo=-3, hi=3))
    k = min(m, n)
    x = x.copy()
    x[..., :k, :k] += (4 * k + 4) * np.eye(k, dtype=x.dtype)    # full rank, well separated
    return Call((x,), draw(kwargs))


@st.composite
def solve_calls(draw):
    n = draw(st.integers(1, 4))
    batch = draw(st.sampled_from([(), (2,)]))
    a = _conditioned(draw(shaped(batch + (n, n), LAPACK_DTYPES, lo=-3, hi=3)))
    # b: a vector, a matrix broadcast against a's batch, or a batch of its own
    own_batch = (3, 1, n, 2) if not batch else (1,) + batch + (n, 2)
    b_shape = draw(st.sampled_from([(n,), (n, 2), batch + (n, 1), own_batch]))
    return Call((a, draw(shaped(b_shape, [a.dtype], lo=-3, hi=3))))


def _inexact(a):
    """a in the floating dtype functrans computes integer and boolean input in (JAX's rule, from
    functrans's own dtype table), so that numpy's reference runs in the same precision."""
    from functrans.core import dtypes
    if a.dtype.kind in "fc":
        return a
    to_inexact = getattr(dtypes, "to_inexact", None)
    return a.astype(to_inexact(a.dtype, False) if to_inexact else np.float64)


def _on_inexact(np_fun):
    return lambda *args, **kw: np_fun(*map(_inexact, args), **kw)


def _eig_values(a):
    # numpy's eigenvector path gives the eigenvalues functrans returns
    w = np.linalg.eig(_inexact(a))[0]
    return w.astype(np.result_type(w.dtype, np.complex64))


TABLE = {
    "matmul": Entry(fnp.matmul, np.matmul, matmul_calls()),
    "dot": Entry(fnp.dot, np.dot, dot_calls()),
    "inner": Entry(fnp.inner, np.inner, inner_calls()),
    "vdot": Entry(fnp.vdot, np.vdot, flat_pair_calls()),
    "outer": Entry(fnp.outer, np.outer, flat_pair_calls(same_size=False)),
    "tensordot": Entry(fnp.tensordot, np.tensordot, tensordot_calls()),
    "einsum": Entry(fnp.einsum, np.einsum, einsum_calls(), examples=200),
    "linalg.norm": Entry(fnp.linalg.norm, _norm_ref, norm_calls()),
    "linalg.inv": Entry(fnp.linalg.inv, _on_inexact(np.linalg.inv), square_calls(),
                        exact_eager=False),
    "linalg.det": Entry(fnp.linalg.det, _on_inexact(np.linalg.det), square_calls(),
                        exact_eager=False),
    "linalg.slogdet": Entry(lambda a: tuple(fnp.linalg.slogdet(a)),
                            lambda a: tuple(np.linalg.slogdet(_inexact(a))), square_calls(),
                            exact_eager=False),
    "linalg.solve": Entry(fnp.linalg.solve, _on_inexact(np.linalg.solve), solve_calls(),
                          exact_eager=False),
    "linalg.cholesky": Entry(fnp.linalg.cholesky, _on_inexact(np.linalg.cholesky),
                             square_calls(spd=True, kwargs=st.sampled_from(
                                 [{}, {"upper": True}]))),
    "linalg.eigh": Entry(lambda a, **k: tuple(fnp.linalg.eigh(a, **k)),
                         lambda a, **k: tuple(np.linalg.eigh(_inexact(a), **k)),
                         square_calls(spd=True, kwargs=st.sampled_from([{}, {"UPLO": "U"}]))),
    "linalg.eigvalsh": Entry(fnp.linalg.eigvalsh, _on_inexact(np.linalg.eigvalsh),
                             square_calls(spd=True)),
    "linalg.eigvals": Entry(fnp.linalg.eigvals, _eig_values, square_calls()),
    "linalg.svd": Entry(lambda a, **k: tuple(fnp.linalg.svd(a, **k)),
                        lambda a, **k: tuple(np.linalg.svd(_inexact(a), **k)),
                        rectangular_calls(kwargs=st.sampled_from(
                            [{}, {"full_matrices": False}]))),
    "linalg.svdvals": Entry(fnp.linalg.svdvals, _on_inexact(np.linalg.svdvals),
                            rectangular_calls()),
    "linalg.qr": Entry(lambda a, **k: tuple(fnp.linalg.qr(a, **k)),
                       lambda a, **k: tuple(np.linalg.qr(_inexact(a), **k)),
                       rectangular_calls(kwargs=st.sampled_from(
                           [{}, {"mode": "complete"}]))),
    "linalg.pinv": Entry(fnp.linalg.pinv, _on_inexact(np.linalg.pinv), rectangular_calls(),
                         exact_eager=False),
    "linalg.matrix_rank": Entry(fnp.linalg.matrix_rank, np.linalg.matrix_rank,
                                rectangular_calls()),
    "linalg.matrix_power": Entry(fnp.linalg.matrix_power, np.linalg.matrix_power,
                                 square_calls(kwargs=st.sampled_from(
                                     [{"n": 0}, {"n": 2}, {"n": 3}])), exact_eager=False),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_linalg_matches_numpy(name):
    run_entry(name, TABLE[name])


def test_matmul_operator_and_method():
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    out = traced(lambda x, y: (x @ y, a @ y, x @ b, x.dot(y), x.T @ x), (a, b), {})
    for got, want in zip(out, (a @ b, a @ b, a @ b, a.dot(b), a.T @ a)):
        np.testing.assert_allclose(got, want)


def test_matmul_broadcasts_batch_axes_without_copies():
    """A batch axis only one operand has stays a free dimension of dot_general: no broadcast
    of the other operand is staged."""
    x, w = np.ones((5, 2, 3)), np.ones((3, 4))
    closed = checked_jaxpr(fnp.matmul, x, w)
    assert [e.primitive.name for e in closed.eqns] == ["dot_general"]
    check_call(fnp.matmul, np.matmul, Call((np.ones((2, 1, 3, 4)), np.ones((5, 4, 2)))),
               name="matmul")


def test_einsum_lowers_to_dot_general_and_reduce_sum():
    a, b = np.ones((3, 4)), np.ones((4, 5))
    names = {e.primitive.name for e in checked_jaxpr(
        lambda x, y: fnp.einsum("ij,jk->ik", x, y), a, b).eqns}
    assert names <= {"dot_general", "transpose"} and "dot_general" in names
    names = {e.primitive.name for e in checked_jaxpr(
        lambda x: fnp.einsum("ii->", x), np.ones((3, 3))).eqns}
    assert "reduce_sum" in names


def test_norm_errors():
    x = np.ones((3, 3))
    with pytest.raises(ValueError, match="invalid norm order"):
        fnp.linalg.norm(x[0], ord="fro", axis=0)
    with pytest.raises(ValueError, match="not aligned"):
        fnp.dot(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="mismatch"):
        fnp.matmul(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="do not match"):
        fnp.einsum("ij,jk->ik", np.ones(3), np.ones((3, 3)))
    with pytest.raises(ValueError, match="'...'"):
        fnp.einsum("i...->i", np.ones((3, 2)))
