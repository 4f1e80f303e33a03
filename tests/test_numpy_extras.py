"""The numpy functions of functrans/numpy/extras.py, statistics.py, polynomial.py and the
complex branches of _complex_math.py: values and dtypes against numpy, eagerly and under jit
(the traced path), derivatives (finite differences, dot-product test, jacfwd == jacrev, vmap vs
loop, jit), float32, and JAX's x64 results where JAX is installed."""
import math

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp

from transform_checks import assert_close, check_transforms

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4))
V = RNG.standard_normal(5)
SORTED = np.sort(RNG.uniform(-3, 3, 6))
I = np.array([3, 1, 4, 1, 5, 9, 2, 6])
Z = A + 1j * B

# (name, args, kwargs, numpy reference or None for numpy's function of the same name,
#  traceable: also run under jit)
CASES = [
    ("allclose", (A, A + 1e-9), {}, None, True),
    ("allclose", (A, B), {}, None, True),
    ("isclose", (np.array([1.0, np.nan, np.inf, 1.0]), np.array([1.0, np.nan, np.inf, 1.1])),
     {}, None, True),
    ("isclose", (np.array([1.0, np.nan]), np.array([1.0, np.nan])), {"equal_nan": True}, None,
     True),
    ("isclose", (I, I[::-1]), {}, None, True),
    ("array_equal", (A, A.copy()), {}, None, True),
    ("array_equal", (A, A[:2]), {}, None, True),
    ("array_equiv", (A[0], np.broadcast_to(A[0], (3, 4))), {}, None, True),
    ("angle", (Z,), {}, None, True), ("angle", (Z,), {"deg": True}, None, True),
    ("angle", (A,), {}, None, True),
    ("append", (A, B), {}, None, True), ("append", (A, B), {"axis": 1}, None, True),
    ("cross", (RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))), {}, None, True),
    ("cross", (RNG.standard_normal((4, 2)), RNG.standard_normal((4, 3))), {}, None, True),
    ("cross", (RNG.standard_normal((2, 5)), RNG.standard_normal((2, 5))), {"axis": 0}, None,
     True),
    ("diff", (A,), {}, None, True), ("diff", (A,), {"n": 2, "axis": 0}, None, True),
    ("diff", (V,), {"prepend": 0.0, "append": np.array([1.0, 2.0])}, None, True),
    ("diff", (np.array([True, False, False]),), {}, None, True),
    ("ediff1d", (A,), {"to_begin": -1.0, "to_end": [5.0, 6.0]}, None, True),
    ("dsplit", (RNG.standard_normal((2, 2, 4)), 2), {}, None, True),
    ("hsplit", (A, 2), {}, None, True), ("vsplit", (A, [1]), {}, None, True),
    ("fabs", (A,), {}, None, True), ("fabs", (I,), {}, None, True),
    ("gradient", (V,), {}, None, True), ("gradient", (A,), {}, None, True),
    ("gradient", (A, 0.5, 2.0), {}, None, True),
    ("gradient", (V, SORTED[:5]), {}, None, True),
    ("gradient", (V, SORTED[:5]), {"edge_order": 2}, None, True),
    ("gradient", (A,), {"axis": 1, "edge_order": 2}, None, True),
    ("kron", (A[:2, :2], B), {}, None, True), ("kron", (V, A), {}, None, True),
    ("logaddexp2", (A, B), {}, None, True),
    ("meshgrid", (V, SORTED), {}, None, True),
    ("meshgrid", (V, SORTED, A[0]), {"indexing": "ij"}, None, True),
    ("meshgrid", (V, SORTED), {"sparse": True}, None, True),
    ("nan_to_num", (np.array([np.nan, np.inf, -np.inf, 1.0]),), {}, None, True),
    ("nan_to_num", (np.array([np.nan, np.inf, -np.inf]),), {"nan": 1.0, "posinf": 9.0},
     None, True),
    ("real_if_close", (A + 1e-20j,), {}, None, False), ("real_if_close", (Z,), {}, None, False),
    ("iscomplex", (np.array([1 + 0j, 1 + 1j]),), {}, None, True),
    ("isreal", (np.array([1 + 0j, 1 + 1j]),), {}, None, True),
    ("rollaxis", (RNG.standard_normal((2, 3, 4)), 2), {}, None, True),
    ("rollaxis", (RNG.standard_normal((2, 3, 4)), 0, 3), {}, None, True),
    ("rot90", (A,), {}, None, True), ("rot90", (A, 2), {}, None, True),
    ("rot90", (RNG.standard_normal((2, 3, 4)), 3, (2, 0)), {}, None, True),
    ("rot90", (A, -1), {}, None, True),
    ("row_stack", ((A, B),), {}, np.vstack, True),
    ("select", ([A > 0.5, A < -0.5], [A, -A]), {"default": 7.0}, None, True),
    ("sinc", (np.array([0.0, 1e-5, 0.3, -2.5]),), {}, None, True),
    ("interp", (np.linspace(-4, 4, 9), SORTED, np.sin(SORTED)), {}, None, True),
    ("interp", (np.linspace(-4, 4, 9), SORTED, np.sin(SORTED)), {"left": -9.0, "right": 9.0},
     None, True),
    ("interp", (np.linspace(-4, 4, 9), SORTED, np.sin(SORTED)), {"period": 2.5}, None, True),
    ("polyval", (np.array([1.0, -2.0, 3.0]), A), {}, None, True),
    ("trapezoid", (A,), {}, None, True), ("trapezoid", (A,), {"dx": 0.5, "axis": 0}, None,
                                           True),
    ("trapezoid", (A, SORTED[:4]), {}, None, True),
    ("histogram", (V,), {}, None, True), ("histogram", (V,), {"bins": 3, "range": (-1, 1)},
                                           None, True),
    ("histogram", (V,), {"bins": np.array([-2.0, 0.0, 0.5, 3.0]), "weights": V ** 2,
                         "density": True}, None, True),
    ("histogram_bin_edges", (V,), {"bins": 4}, None, True),
    ("searchsorted", (SORTED, np.array([-5.0, 0.0, SORTED[2], 5.0])), {}, None, True),
    ("searchsorted", (SORTED, np.array([SORTED[2], 0.0])), {"side": "right"}, None, True),
    ("digitize", (V, SORTED), {}, None, True), ("digitize", (V, SORTED), {"right": True},
                                                 None, True),
    ("digitize", (V, SORTED[::-1]), {}, None, True),
    ("unique", (I,), {}, None, False),
    ("unique", (I,), {"return_index": True, "return_inverse": True, "return_counts": True},
     None, False),
    ("isneginf", (np.array([-np.inf, np.inf, 1.0]),), {}, None, True),
    ("isposinf", (np.array([-np.inf, np.inf, 1.0]),), {}, None, True),
    ("heaviside", (np.array([-1.0, 0.0, 2.0]), 0.5), {}, None, True),
    ("float_power", (np.abs(A), B), {}, None, True),
    ("ldexp", (A, np.array([1, 2, -3, 0])), {}, None, True),
    ("frexp", (np.array([0.0, 1.0, 3.5, -0.375, 1024.0, 1e-300]),), {}, None, True),
    ("modf", (A * 3,), {}, None, True), ("divmod", (I, 3), {}, None, True),
    ("logspace", (0.0, 2.0, 5), {}, None, True),
    ("logspace", (0.0, 2.0, 4), {"base": 2.0, "endpoint": False}, None, True),
    ("geomspace", (1.0, 1000.0, 4), {}, None, True),
    ("geomspace", (-1.0, -16.0, 5), {}, None, True),
    ("vander", (V,), {}, None, True), ("vander", (V, 3), {"increasing": True}, None, True),
    ("i0", (A,), {}, None, True),
    ("unwrap", (np.cumsum(RNG.uniform(0, 3, 10)),), {}, None, True),
    ("diagflat", (A[:2, :2],), {"k": 1}, None, True),
    ("choose", (np.array([0, 1, 2, 1]), [A[0], B[0], A[1]]), {}, None, False),
    ("choose", (np.array([0, 4, -1, 1]), [A[0], B[0], A[1]]), {"mode": "clip"}, None, True),
    ("piecewise", (V, [V < 0, V >= 0], [lambda x: -x, lambda x: x ** 2]), {}, None, True),
    ("insert", (V, 2, 9.0), {}, None, True),
    ("insert", (A, [1, 3], np.array([7.0, 8.0])), {"axis": 1}, None, True),
    ("insert", (A, 1, B[0]), {"axis": 0}, None, True),
    ("delete", (V, [0, 3]), {}, None, True), ("delete", (A, 1), {"axis": 1}, None, True),
    ("delete", (A, slice(0, 2)), {"axis": 0}, None, True),
    ("block", ([[A[:2, :2], B[:2]], [A[2:, :2], B[2:]]],), {}, None, True),
    ("resize", (V, (3, 4)), {}, None, True),
    ("sort_complex", (np.array([1 + 2j, 1 - 1j, -3 + 0j]),), {}, None, True),
    ("isin", (I, [1, 9]), {}, None, True), ("isin", (I, [1, 9]), {"invert": True}, None, True),
    ("bincount", (I,), {}, None, False), ("bincount", (I,), {"weights": I * 0.5}, None, False),
    ("argwhere", (A > 0,), {}, None, False),
    ("tril_indices", (4, 1), {}, None, False), ("triu_indices_from", (A,), {}, None, False),
    ("ix_", (np.array([0, 2]), np.array([1, 3])), {}, None, True),
    ("unravel_index", (np.array([3, 7, 11]), (3, 4)), {}, None, True),
    ("ravel_multi_index", ((np.array([0, 2]), np.array([1, 3])), (3, 4)), {"mode": "clip"},
     None, True),
    ("apply_along_axis", (lambda r: fnp.sum(r) * r[0], 1, A), {},
     lambda f, ax, a: np.apply_along_axis(lambda r: np.sum(r) * r[0], ax, a), True),
    ("apply_along_axis", (lambda r: fnp.stack([r.max(), r.min()]), 0, A), {},
     lambda f, ax, a: np.apply_along_axis(lambda r: np.stack([r.max(), r.min()]), ax, a),
     True),
    ("apply_over_axes", (fnp.sum, A, [0, 1]), {},
     lambda f, a, axes: np.apply_over_axes(np.sum, a, axes), True),
    ("extract", (A > 0, A), {}, None, False), ("compress", ([True, False, True], A),
                                               {"axis": 0}, None, False),
    ("trim_zeros", (np.array([0, 0, 1, 2, 0]),), {}, None, False),
    ("lexsort", ((I, I % 3),), {}, None, True),
    ("put", (A, [0, 5, -1, 13], [9.0, 8.0]), {"inplace": False},
     lambda a, i, v, inplace: _np_put(a, i, v), True),
    ("place", (A, A > 0, [7.0, 8.0, 9.0]), {"inplace": False},
     lambda a, m, v, inplace: _np_place(a, m, v), True),
    ("gcd", (np.array([12, 18]), 8), {}, None, False),
    ("cumulative_sum", (V,), {"include_initial": True}, None, True),
    ("cumulative_prod", (A,), {"axis": 1}, None, True),
    ("intersect1d", (I, [1, 2, 7]), {}, None, False),
    ("average", (A,), {"axis": 1, "weights": np.arange(1.0, 5.0)}, None, True),
    ("average", (A,), {"weights": np.abs(B), "returned": True}, None, True),
    ("median", (A,), {}, None, True), ("median", (A,), {"axis": 0, "keepdims": True}, None,
                                       True),
    ("quantile", (A, np.array([0.1, 0.5, 0.9])), {"axis": 1}, None, True),
    ("quantile", (A, 0.3), {"method": "nearest"}, None, True),
    ("quantile", (A, 0.3), {"method": "lower", "axis": 0}, None, True),
    ("quantile", (A, 0.3), {"method": "higher"}, None, True),
    ("quantile", (A, 0.3), {"method": "midpoint"}, None, True),
    ("percentile", (A, [25, 75]), {"axis": (0, 1)}, None, True),
    ("ptp", (A,), {"axis": 0}, None, True),
    ("cov", (A,), {}, None, True), ("cov", (A, B), {"rowvar": False}, None, True),
    ("cov", (A,), {"aweights": np.arange(1.0, 5.0), "fweights": np.array([1, 2, 1, 3])},
     None, True),
    ("corrcoef", (A,), {}, None, True),
    ("polyadd", (np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])), {}, None, True),
    ("polysub", (np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])), {}, None, True),
    ("polymul", (np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])), {}, None, True),
    ("polyder", (np.array([1.0, 2.0, 3.0, 4.0]), 2), {}, None, True),
    ("polyint", (np.array([3.0, 2.0, 1.0]),), {"k": 2.0}, None, True),
    ("polydiv", (np.array([1.0, 3.0, 5.0, 7.0]), np.array([2.0, 1.0])), {},
     lambda u, v: (np.polydiv(u, v)[0], np.pad(np.polydiv(u, v)[1], (3, 0))), True),
    ("polyfit", (SORTED, np.sin(SORTED), 3), {}, None, True),
    ("poly", (np.array([1.0, -2.0, 0.5]),), {}, None, True),
    ("roots", (np.array([1.0, -3.0, 2.0]),), {}, None, False),
    ("arcsinh", (Z * 3,), {}, None, True), ("arccosh", (Z * 3,), {}, None, True),
    ("arctanh", (Z,), {}, None, True),
    ("maximum", (np.round(Z), np.round(Z[::-1])), {}, None, True),
    ("max", (np.round(Z),), {"axis": 1}, None, True),
    ("min", (np.round(Z),), {"axis": 0, "keepdims": True}, None, True),
]
def _np_put(a, ind, v):
    out = a.copy()
    np.put(out, ind, v, mode="wrap")
    return out


def _np_place(a, mask, vals):
    out = a.copy()
    np.place(out, mask, vals)
    return out


NAN = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, 5.0, -1.0]])
for _name in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
              "nancumsum", "nancumprod", "nanmedian"):
    CASES.append((_name, (NAN[[0, 2]],), {"axis": 1}, None, True))
    CASES.append((_name, (NAN[[0, 2]],), {}, None, True))
CASES.append(("nanquantile", (NAN[[0, 2]], 0.25), {"axis": 1}, None, True))
CASES.append(("nanpercentile", (NAN[[0, 2]], [10, 60]), {"axis": 0}, None, True))
CASES.append(("nanargmax", (NAN[[0, 2]],), {"axis": 1}, None, True))
CASES.append(("nanargmin", (NAN[[0, 2]],), {}, None, True))


def _ids():
    seen = {}
    out = []
    for c in CASES:
        seen[c[0]] = seen.get(c[0], 0) + 1
        out.append(f"{c[0]}-{seen[c[0]]}")
    return out


def _leaves(x):
    if isinstance(x, (tuple, list)):
        return [y for item in x for y in _leaves(item)]
    return [x]


@pytest.mark.parametrize("name,args,kwargs,ref,traceable", CASES, ids=_ids())
def test_matches_numpy(name, args, kwargs, ref, traceable):
    want = (ref or getattr(np, name))(*args, **kwargs)
    got = getattr(fnp, name)(*args, **kwargs)
    exact_dtype = name not in ("searchsorted", "digitize", "histogram", "argpartition",
                               "bincount", "frexp", "nanargmax", "nanargmin", "roots")
    for g, w in zip(_leaves(got), _leaves(want)):
        assert_close(g, w, rtol=1e-10, atol=1e-12, dtype=exact_dtype, what=f"{name} eager")
    if traceable:
        arrays = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]

        def f(*arrs):
            full = list(args)
            for i, a in zip(arrays, arrs):
                full[i] = a
            return getattr(fnp, name)(*full, **kwargs)
        traced = ft.jit(f)(*[args[i] for i in arrays])
        for g, w in zip(_leaves(traced), _leaves(want)):
            assert_close(g, w, rtol=1e-10, atol=1e-12, dtype=exact_dtype, what=f"{name} jit")


def test_histogram2d_and_dd():
    rng = np.random.default_rng(4)
    x, y, w = rng.standard_normal(40), rng.standard_normal(40), rng.uniform(size=40)
    for kwargs in ({"bins": (3, 4)}, {"bins": 3, "range": [(-1, 1), (-2, 2)], "weights": w,
                                      "density": True}):
        got = fnp.histogram2d(x, y, **kwargs)
        want = np.histogram2d(x, y, **kwargs)
        for g, v in zip(got, want):
            assert_close(g, v, rtol=1e-12, dtype=False)
    s = rng.standard_normal((30, 3))
    got = ft.jit(lambda s: fnp.histogramdd(s, bins=(2, 3, 2)))(s)
    want = np.histogramdd(s, bins=(2, 3, 2))
    assert_close(got[0], want[0])
    for g, v in zip(got[1], want[1]):
        assert_close(g, v, rtol=1e-12)
    # the counts are linear in the weights: the gradient of a weighted bin is its indicator
    g = ft.grad(lambda w: fnp.histogram2d(x, y, bins=2, weights=w)[0][0, 0])(w)
    h = np.histogram2d(x, y, bins=2)[1:]
    inside = (x <= h[0][1]) & (y <= h[1][1])
    assert_close(g, inside.astype(float))


def test_integer_result_dtypes_follow_jax():
    assert fnp.searchsorted(SORTED, 0.0).dtype == np.int32
    assert ft.jit(lambda v: fnp.digitize(v, SORTED))(V).dtype == np.int32
    assert fnp.argpartition(V, 2).dtype == np.int32
    assert fnp.histogram(V)[0].dtype == np.float64
    assert fnp.unique(I, return_inverse=True)[1].dtype == np.int64
    assert fnp.frexp(V)[1].dtype == np.int32


def test_partition_contract():
    for a in (V, A):
        for k in (0, 2):
            p = fnp.partition(a, k)
            np.testing.assert_array_equal(np.take(p, k, axis=-1),
                                          np.take(np.partition(a, k), k, axis=-1))
            idx = fnp.argpartition(a, k)
            np.testing.assert_array_equal(np.take_along_axis(a, np.asarray(idx, np.int64), -1),
                                          p)


def test_unique_with_size_under_jit_and_vmap():
    x = np.array([3.0, 1.0, 3.0, np.nan, 2.0, 1.0, np.nan])
    f = ft.jit(lambda x: fnp.unique(x, size=6, return_index=True, return_inverse=True,
                                    return_counts=True))
    vals, idx, inv, counts = f(x)
    w_vals, w_idx, w_inv, w_counts = np.unique(x, True, True, True)
    k = len(w_vals)
    assert_close(vals[:k], w_vals, what="values")
    assert_close(vals[k:], np.full(6 - k, 1.0), what="fill: the smallest value")
    assert_close(idx[:k], w_idx, what="index")
    assert_close(inv, w_inv, what="inverse")
    assert_close(counts[:k], w_counts, what="counts")
    assert_close(counts[k:], np.zeros(6 - k, np.int64), what="count fill")
    assert_close(ft.jit(lambda x: fnp.unique(x, size=2))(x), w_vals[:2])
    batch = np.stack([x, x[::-1] * 2])
    got = ft.vmap(lambda x: fnp.unique(x, size=5, fill_value=-1.0))(batch)
    for row, g in zip(batch, got):
        u = np.unique(row)
        assert_close(g, np.concatenate([u, -np.ones(5 - len(u))])[:5], what="vmap unique")
    with pytest.raises(Exception, match="size="):
        ft.jit(fnp.unique)(x)


def test_argwhere_and_extract_with_size():
    got = ft.jit(lambda a: fnp.argwhere(a > 0, size=8, fill_value=-1))(A)
    want = np.argwhere(A > 0)
    assert_close(got[:len(want)], want)
    assert np.all(got[len(want):] == -1)
    got = ft.jit(lambda a: fnp.extract(a > 0, a, size=8))(A)
    assert_close(got[:np.sum(A > 0)], A[A > 0])


def test_r_and_c():
    assert_close(fnp.r_[1:4, 0, np.array([7, 8])], np.r_[1:4, 0, np.array([7, 8])])
    assert_close(fnp.r_[0:1:5j], np.r_[0:1:5j])
    assert_close(fnp.r_["0,2", [1, 2], [3, 4]], np.r_["0,2", [1, 2], [3, 4]])
    assert_close(fnp.r_["1,2,0", [1, 2], [3, 4]], np.r_["1,2,0", [1, 2], [3, 4]])
    assert_close(fnp.c_[np.array([1, 2]), np.array([3, 4])], np.c_[np.array([1, 2]),
                                                                   np.array([3, 4])])
    assert_close(fnp.c_[A, B], np.c_[A, B])
    assert_close(fnp.r_[A, B], np.r_[A, B])
    got = ft.jit(lambda a, b: fnp.c_[a, b])(V, V)
    assert_close(got, np.c_[V, V])
    assert fnp.s_[1:2] == np.s_[1:2] and fnp.index_exp[1] == np.index_exp[1]
    assert_close(fnp.mgrid[0:3, 0:2], np.mgrid[0:3, 0:2])
    for g, w in zip(fnp.ogrid[0:3, 0:1:4j], np.ogrid[0:3, 0:1:4j]):
        assert_close(g, w)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap",
                                  "maximum", "minimum", "mean", "median", "linear_ramp",
                                  "empty"])
def test_pad_modes(mode):
    for a, width in ((V, (2, 3)), (A, ((1, 2), (3, 1))), (A, 2), (V[:2], (5, 4))):
        if mode in ("reflect",) and a.shape[-1] < 2:
            continue
        kwargs = {"constant_values": 7.0} if mode == "constant" else {}
        if mode == "linear_ramp":
            kwargs = {"end_values": (1.0, -2.0)}
        want = np.pad(a, width, mode=mode, **kwargs)
        if mode == "empty":
            want = np.pad(a, width)
        assert_close(fnp.pad(a, width, mode=mode, **kwargs), want, what=mode)
        assert_close(ft.jit(lambda a: fnp.pad(a, width, mode=mode, **kwargs))(a), want,
                     what=f"jit {mode}")
    check_transforms(lambda a: fnp.pad(a, ((1, 2), (2, 1)), mode=mode if mode != "empty"
                                       else "constant"), A, fd=mode not in (
                                           "maximum", "minimum", "median"))


DERIVATIVES = {
    "cross": (lambda a, b: fnp.cross(a, b), (RNG.standard_normal((2, 3)),
                                             RNG.standard_normal((2, 3)))),
    "diff": (lambda a: fnp.diff(a, n=2, axis=0, prepend=0.5), (A,)),
    "gradient": (lambda a, x: fnp.gradient(a, x, edge_order=2), (V, SORTED[:5])),
    "gradient2d": (lambda a: fnp.stack(fnp.gradient(a, 0.5, 2.0)), (A,)),
    "kron": (lambda a, b: fnp.kron(a, b), (A[:2, :2], B[:2])),
    "logaddexp2": (fnp.logaddexp2, (A, B)),
    "meshgrid": (lambda a, b: fnp.stack(fnp.meshgrid(a, b)), (V, SORTED[:3])),
    "sinc": (fnp.sinc, (np.array([0.0, 1e-4, 0.3, -2.5]),)),
    "interp": (lambda x, xp, fp: fnp.interp(x, xp, fp), (np.linspace(-2.5, 2.5, 7), SORTED,
                                                          np.sin(SORTED))),
    "polyval": (lambda p, x: fnp.polyval(p, x), (np.array([1.0, -2.0, 3.0]), V)),
    "trapezoid": (lambda y, x: fnp.trapezoid(y, x), (A, SORTED[:4])),
    "histogram_weights": (lambda w: fnp.histogram(V, bins=3, weights=w)[0], (np.abs(V),)),
    "select": (lambda a: fnp.select([A > 0.5, A < -0.5], [a, a ** 2], 1.0), (A,)),
    "rot90": (lambda a: fnp.rot90(a, 3), (A,)),
    "angle": (lambda x, y: fnp.angle(x + 1j * y), (A, B)),
    "average": (lambda a, w: fnp.average(a, axis=1, weights=w), (A, np.arange(1.0, 5.0))),
    "median": (lambda a: fnp.median(a, axis=1), (A,)),
    "quantile": (lambda a: fnp.quantile(a, np.array([0.2, 0.7]), axis=0), (A,)),
    "nanmean": (lambda a: fnp.nanmean(fnp.where(A > 1, np.nan, a), axis=0), (A,)),
    "nanstd": (lambda a: fnp.nanstd(fnp.where(A > 1, np.nan, a)), (A,)),
    "cov": (lambda a: fnp.cov(a), (A,)),
    "corrcoef": (lambda a: fnp.corrcoef(a), (A,)),
    "polymul": (lambda p, q: fnp.polymul(p, q), (V[:3], A[0])),
    "polyfit": (lambda x, y: fnp.polyfit(x, y, 2), (SORTED, np.cos(SORTED))),
    "float_power": (fnp.float_power, (np.abs(A) + 0.5, B)),
    "i0": (fnp.i0, (A,)),
    "unwrap": (fnp.unwrap, (np.cumsum(RNG.uniform(0, 3, 10)),)),
    "insert_delete": (lambda a: fnp.delete(fnp.insert(a, [1, 3], 2 * a[:, :2], axis=1), 0,
                                           axis=0),
                      (A,)),
    "block": (lambda a, b: fnp.block([[a, b], [b, a]]), (A[:2, :2], B[:2, :2])),
    "nan_to_num": (lambda a: fnp.nan_to_num(fnp.log(a)), (np.abs(A) + 0.1,)),
    "complex_arcsinh": (lambda x, y: fnp.real(fnp.arcsinh(x + 1j * y)) +
                        fnp.imag(fnp.arccosh(3 * x + 1j * y)), (A, B)),
    "complex_max": (lambda x: fnp.abs(fnp.max(x * (1 + 1j), axis=1)), (A,)),
    "apply_along_axis": (lambda a: fnp.apply_along_axis(lambda r: r * fnp.sum(r), 0, a), (A,)),
    "vectorize": (fnp.vectorize(lambda x, y: fnp.sin(x) * y), (A, B)),
}


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_derivatives(name):
    f, args = DERIVATIVES[name]
    check_transforms(f, *args)


def test_sinc_higher_derivatives_at_zero():
    # sinc(x) = 1 - (pi x)^2 / 6 + ...: sinc''(0) = -pi^2/3, sinc''''(0) = pi^4/5
    d2 = ft.grad(ft.grad(fnp.sinc))(0.0)
    d4 = ft.grad(ft.grad(ft.grad(ft.grad(fnp.sinc))))(0.0)
    np.testing.assert_allclose(d2, -math.pi ** 2 / 3, rtol=1e-12)
    np.testing.assert_allclose(d4, math.pi ** 4 / 5, rtol=1e-10)
    assert ft.grad(fnp.sinc)(0.0) == 0.0


def test_float32_keeps_single_precision():
    a32 = A.astype(np.float32)
    for name, args in (("sinc", (a32,)), ("logaddexp2", (a32, a32)), ("diff", (a32,)),
                       ("trapezoid", (a32,)), ("median", (a32,)), ("nanmean", (a32,)),
                       ("kron", (a32, a32)), ("gradient", (a32[0],)), ("cov", (a32,)),
                       ("interp", (a32[0], SORTED.astype(np.float32), SORTED.astype(
                           np.float32)))):
        got = getattr(fnp, name)(*args)
        assert np.asarray(got).dtype == np.float32, name
        traced = ft.jit(lambda *a: getattr(fnp, name)(*a))(*args)
        assert np.asarray(traced).dtype == np.float32, name
    g = ft.grad(lambda a: fnp.sum(fnp.sinc(a) * fnp.median(a)))(a32)
    assert g.dtype == np.float32


def test_errors_name_the_function():
    with pytest.raises(TypeError, match="fabs does not accept complex"):
        fnp.fabs(Z)
    with pytest.raises(ValueError, match="select: condlist and choicelist"):
        fnp.select([A > 0], [A, B])
    with pytest.raises(ValueError, match="pad: mode 'bogus'"):
        fnp.pad(A, 1, mode="bogus")
    with pytest.raises(Exception, match="real_if_close needs concrete values"):
        ft.jit(fnp.real_if_close)(Z)
    with pytest.raises(ValueError, match="cross: incompatible dimensions"):
        fnp.cross(A, B)
    with pytest.raises(ValueError, match="fill_diagonal: arrays are immutable"):
        fnp.fill_diagonal(A, 1.0)
    assert_close(fnp.fill_diagonal(A, 1.0, inplace=False),
                 np.where(np.eye(3, 4, dtype=bool), 1.0, A))
    want = A.copy()
    want[[0, 1, 2], [0, 1, 2]] = [7.0, 8.0, 7.0]
    assert_close(fnp.fill_diagonal(A, np.array([7.0, 8.0]), inplace=False), want)


def test_einsum_operand_list_form():
    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    want = np.einsum(x, [0, 1], y, [1, 2], [0, 2])
    assert_close(fnp.einsum(x, [0, 1], y, [1, 2], [0, 2]), want)
    assert_close(fnp.einsum(x, [0, 1], y, [1, 2]), np.einsum(x, [0, 1], y, [1, 2]))
    assert_close(ft.jit(lambda a, b: fnp.einsum(a, [Ellipsis, 1], b, [1, 2]))(x, y),
                 np.einsum(x, [Ellipsis, 1], y, [1, 2]))
    check_transforms(lambda a, b: fnp.einsum(a, [0, 1], b, [1, 2], [2, 0]), x, y)


def test_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    skip = {"row_stack", "apply_along_axis", "apply_over_axes", "real_if_close", "unique",
            "partition", "argpartition", "bincount", "argwhere", "extract", "compress",
            "trim_zeros", "gcd", "intersect1d", "roots", "tril_indices", "triu_indices_from",
            "fill_diagonal", "choose", "piecewise", "max", "min", "maximum", "frexp", "ptp"}
    checked = 0
    for name, args, kwargs, _, _ in CASES:
        if name in skip or not hasattr(jnp, name):
            continue
        try:
            want = getattr(jnp, name)(*args, **kwargs)
        except Exception:       # JAX refuses some numpy forms (lists, ...): not compared
            continue
        got = getattr(fnp, name)(*args, **kwargs)
        for g, w in zip(_leaves(got), _leaves(want)):
            w = np.asarray(w)
            assert np.asarray(g).dtype == w.dtype, (name, kwargs, np.asarray(g).dtype, w.dtype)
            np.testing.assert_allclose(np.asarray(g, dtype=w.dtype) if w.dtype.kind != "b"
                                       else g, w, rtol=1e-8, atol=1e-10, equal_nan=True,
                                       err_msg=name)
        checked += 1
    assert checked > 80
