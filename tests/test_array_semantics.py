"""Eager values behave like JAX arrays while staying numpy arrays (issue 13 items 1-2): read-only
functrans Arrays with .at, in-place operators that rebind, a clear error on x[i] = v; a user's
numpy arrays are never mutated; a closed-over array can be indexed with a traced index.
Expected values are written out by hand from the semantics in JAX's documentation."""
import pickle

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.core.array import Array
from functrans.core.errors import InPlaceUpdateError


def test_results_are_read_only_numpy_arrays():
    for value in (fnp.arange(4.0), fnp.sin(np.ones(3)), lax.add(np.ones(2), 1.0),
                  ft.jit(lambda x: x * 2)(np.ones(2)), ft.grad(lambda x: fnp.sum(x ** 2))(np.ones(2)),
                  ft.vmap(fnp.sin)(np.ones((2, 2))), ft.random.normal(ft.random.key(0), (2,))):
        assert isinstance(value, np.ndarray) and type(value) is Array
        assert not value.flags.writeable
    assert fnp.arange(3.0).block_until_ready() is not None


def test_setitem_raises_and_points_to_at():
    x = fnp.arange(5.0)
    with pytest.raises(InPlaceUpdateError, match=r"x.at\[idx\].set"):
        x[1] = 1.0
    with pytest.raises(TypeError):          # InPlaceUpdateError is a TypeError, as in JAX
        x[1:3] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        np.add(x, 1.0, out=x)                # numpy's own writes are refused too
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(x)[0] = 5.0
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 4])


def test_inplace_operators_rebind_instead_of_mutating():
    a = fnp.array([10, 20])
    b = a
    b += 10
    np.testing.assert_array_equal(a, [10, 20])
    np.testing.assert_array_equal(b, [20, 30])
    c = a
    c *= 3
    c -= 1
    assert c.tolist() == [29, 59] and a.tolist() == [10, 20]
    m = fnp.ones((2, 2))
    m @= np.eye(2) * 2
    assert m.tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_numpy_code_on_arrays_still_works():
    x = fnp.array([3.0, 1.0, 2.0])
    assert np.sort(x).tolist() == [1.0, 2.0, 3.0]     # sorts a copy in place internally
    buf = np.empty_like(x)                              # numpy's own buffers stay writeable
    buf[:] = 7.0
    assert buf.tolist() == [7.0, 7.0, 7.0]
    y = x.copy()
    y[0] = 0.0
    assert y.tolist() == [0.0, 1.0, 2.0] and x.tolist() == [3.0, 1.0, 2.0]
    mutable = np.array(x)
    mutable[1] = 9.0
    assert type(mutable) is np.ndarray and x[1] == 1.0
    back = pickle.loads(pickle.dumps(x))
    assert type(back) is Array and not back.flags.writeable and back.tolist() == x.tolist()


def test_users_numpy_arrays_are_never_mutated_or_frozen():
    u = np.array([1.0, 2.0, 3.0])
    r = fnp.asarray(u)
    r2 = r.at[0].set(100.0)
    r += 1.0
    _ = ft.jit(lambda v: v.at[1].add(5.0))(u)
    assert u.tolist() == [1.0, 2.0, 3.0] and u.flags.writeable
    assert r2.tolist() == [100.0, 2.0, 3.0] and r.tolist() == [2.0, 3.0, 4.0]
    u[0] = -1.0                                          # still the user's mutable array
    assert u[0] == -1.0


def test_operators_follow_functrans_numpy_like_traced_values():
    a = fnp.asarray(np.array([1, 2], np.int32))
    b = fnp.asarray(np.array([0.5, 0.25], np.float32))
    for got, want in [(a + b, fnp.add(a, b)), (a * 2, fnp.multiply(a, 2)),
                      (b / a, fnp.true_divide(b, a)), (a < b, fnp.less(a, b)), (-b, fnp.negative(b))]:
        assert got.dtype == want.dtype and np.array_equal(got, want)
        assert type(got) is Array
    traced = ft.jit(lambda a, b: a + b)(a, b)
    assert traced.dtype == (a + b).dtype
    # Same-dtype operands (numpy's ufunc directly) agree with fnp too, division included.
    with np.errstate(invalid="ignore"):
        _same_dtype_operators_agree(a, b)


def _same_dtype_operators_agree(a, b):
    for x in (a, b, fnp.asarray(np.array([True, False])), fnp.asarray(np.array([3, 4], np.uint8))):
        for got, want in [(x + x, fnp.add(x, x)), (x * x, fnp.multiply(x, x)),
                          (x / x, fnp.true_divide(x, x)), (x == x, fnp.equal(x, x)),
                          (x >= x, fnp.greater_equal(x, x))]:
            assert got.dtype == want.dtype and type(got) is Array
            np.testing.assert_array_equal(got, want)      # NaN == NaN here (0/0 of bools)


# --- .at outside transforms, with modes ---------------------------------------------------------

X = fnp.arange(5.0)


def test_at_methods_eager():
    assert X.at[1].set(7.0).tolist() == [0, 7, 2, 3, 4]
    assert X.at[np.array([1, 1, 3])].add(1.0).tolist() == [0, 3, 2, 4, 4]       # repeats add up
    assert X.at[np.array([1, 1, 2])].multiply(3.0).tolist() == [0, 9, 6, 3, 4]
    assert X.at[1:4].min(2.0).tolist() == [0, 1, 2, 2, 4]
    assert X.at[:2].max(0.5).tolist() == [0.5, 1, 2, 3, 4]
    assert X.at[np.array([1, 1, 2])].apply(lambda v: v * 10).tolist() == [0, 100, 20, 3, 4]
    assert X.at[1:3].apply(fnp.negative).tolist() == [0, -1, -2, 3, 4]
    assert X.at[2].get() == 2.0 and X.at[np.array([4, 0])].get().tolist() == [4.0, 0.0]
    assert X.tolist() == [0, 1, 2, 3, 4]


def test_at_out_of_bounds_modes_and_fill_value():
    assert np.isnan(X.at[7].get(mode="fill"))
    assert X.at[7].get(mode="fill", fill_value=-1.0) == -1.0
    assert X.at[np.array([1, 7])].get(mode="fill", fill_value=-1.0).tolist() == [1.0, -1.0]
    assert X.at[7].get(mode="clip") == 4.0
    assert X.at[np.array([-1, -7])].get(mode="clip").tolist() == [4.0, 0.0]
    ints = fnp.arange(5)
    assert ints.at[9].get(mode="fill") == np.iinfo(np.int64).min
    assert fnp.arange(5, dtype=np.uint8).at[9].get(mode="fill") == 255
    assert bool(fnp.array([False]).at[3].get(mode="fill")) is True
    assert X.at[np.array([1, 7])].add(1.0, mode="drop").tolist() == [0, 2, 2, 3, 4]
    assert X.at[7].set(9.0, mode="clip").tolist() == [0, 1, 2, 3, 9]
    assert X.at[7].set(9.0, mode="promise_in_bounds").tolist() == [0, 1, 2, 3, 9]
    with pytest.raises(IndexError):          # no mode: numpy's IndexError (docs/sharp-edges.md)
        X.at[7].set(1.0)
    with pytest.raises(ValueError, match="mode must be one of"):
        X.at[1].get(mode="wrap")


def test_at_under_jit_matches_eager():
    f = ft.jit(lambda x, i: (x.at[i].get(mode="fill", fill_value=-2.0), x.at[i].add(1.0),
                             x.at[i].apply(fnp.exp)))
    g, added, applied = f(X, 7)
    assert g == -2.0 and added.tolist() == X.tolist() and applied.tolist() == X.tolist()
    g, added, applied = f(X, 2)
    assert g == 2.0 and added.tolist() == [0, 1, 3, 3, 4]
    np.testing.assert_allclose(applied, [0, 1, np.exp(2.0), 3, 4])
    # apply is differentiable: d/dx sum(sin applied twice at 0) = cos(sin x0) cos x0.
    x = np.array([0.5, 1.0])
    g = ft.grad(lambda x: fnp.sum(x.at[np.array([0, 0])].apply(fnp.sin)))(x)
    np.testing.assert_allclose(g, [np.cos(np.sin(0.5)) * np.cos(0.5), 1.0])


def test_at_on_numpy_constants_inside_jit():
    const = np.arange(5.0)
    f = ft.jit(lambda i: fnp.asarray(const).at[i].get(mode="fill"))
    assert np.isnan(f(9)) and f(3) == 3.0


# --- item 2: a closed-over array indexed by a traced index ---------------------------------------

def test_closed_over_array_with_traced_index():
    a = fnp.arange(10.0)
    assert ft.jit(lambda i: a[i])(3) == 3.0
    assert ft.jit(lambda i: a[i] * 2)(4) == 8.0
    np.testing.assert_array_equal(ft.vmap(lambda i: a[i])(np.array([1, 5, 9])), [1, 5, 9])
    assert lax.fori_loop(0, 4, lambda i, c: c + a[i], 0.0) == 6.0
    assert ft.jit(lambda n: lax.fori_loop(0, n, lambda i, c: c + a[i], 0.0))(5) == 10.0
    m = fnp.arange(12.0).reshape(3, 4)
    assert ft.jit(lambda i, j: m[i, j])(2, 1) == 9.0
    np.testing.assert_array_equal(ft.jit(lambda i: m[i])(1), [4, 5, 6, 7])
    w = fnp.array([1.0, 2.0, 3.0])
    g = ft.grad(lambda x, i: x * w[i], argnums=0)(2.0, 2)
    assert g == 3.0


def test_jit_accepts_its_own_results_without_recompiling():
    f = ft.jit(lambda p: p * 0.5 + 1.0)
    p = np.ones(3)
    for _ in range(4):
        p = f(p)
    assert type(p) is Array and len(f._cache) == 1
    np.testing.assert_allclose(p, [1.9375] * 3)
