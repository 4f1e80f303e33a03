"""Extra checks of reductions, dot_general and sort beyond the registry-driven suite: more
examples per strategy, partial batching, derivatives at zeros/ties/NaNs, second order,
jaxpr shapes of batching rules, fast paths and error messages."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import functrans as ft
from functrans import lax
from functrans.core.primitive import registry
from functrans.core.staging import eval_closed
from functrans.core.typecheck import check_program
from functrans.test_util import check_grads

from primitive_cases.reductions import STRATEGIES

NAMES = sorted(STRATEGIES)
MORE = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def _apply(name, args, params):
    out = registry[name].bind(*args, **params)
    return list(out) if registry[name].multiple_results else [out]


def _float_args(case):
    return [i for i, a in enumerate(case.args) if np.asarray(a).dtype == np.float64]


def _with(args, nums, values):
    args = list(args)
    for i, v in zip(nums, values):
        args[i] = v
    return args


@pytest.mark.parametrize("name", NAMES)
def test_many_cases_all_rules(name):
    """Reference, staging, JVP vs finite differences and the dot-product test, on more
    examples than the shared suite draws."""
    @MORE
    @given(STRATEGIES[name])
    def run(case):
        outs = _apply(name, case.args, case.params)
        ref = case.reference(*case.args, **case.params)
        ref = list(ref) if registry[name].multiple_results else [ref]
        for o, r in zip(outs, ref):
            o = np.asarray(o)
            tol = 1e-12 if o.dtype.itemsize >= 8 else 3e-5
            np.testing.assert_allclose(o, np.asarray(r).astype(o.dtype), rtol=tol, atol=tol,
                                       equal_nan=True)
        closed = ft.make_jaxpr(lambda *a: _apply(name, a, case.params))(*case.args)
        check_program(closed)
        nums = _float_args(case)
        if not nums:
            return
        rng = np.random.default_rng(0)
        x = [case.args[i] for i in nums]
        v = [rng.standard_normal(a.shape) for a in x]
        f = lambda *d: _apply(name, _with(case.args, nums, d), case.params)  # noqa: E731
        _, jv = ft.jvp(f, tuple(x), tuple(v))
        if case.fd_ok:
            eps = 1e-6
            plus = f(*[a + eps * t for a, t in zip(x, v)])
            minus = f(*[a - eps * t for a, t in zip(x, v)])
            for t, p, m in zip(jv, plus, minus):
                # Empty min/max reductions are +-inf, where differences are undefined.
                if np.asarray(p).dtype.kind == "f" and np.all(np.isfinite(p)):
                    np.testing.assert_allclose(t, (np.asarray(p) - m) / (2 * eps), rtol=1e-4,
                                               atol=1e-5)
        outs, vjp_fn = ft.vjp(f, *x)
        # Cotangents have their output's dtype (vjp functions refuse others).
        u = [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype)
             if np.asarray(o).dtype.kind == "f" else
             np.zeros(np.shape(o), np.asarray(o).dtype if np.asarray(o).dtype.kind == "c"
                      else ft.float0) for o in outs]
        lhs = sum(np.vdot(a, b) for a, b, o in zip(u, jv, outs) if np.asarray(o).dtype.kind == "f")
        rhs = sum(np.vdot(g, b) for g, b in zip(vjp_fn(u), v))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)
    run()


@pytest.mark.parametrize("name", NAMES)
def test_vmap_with_some_arguments_unbatched(name):
    @MORE
    @given(STRATEGIES[name])
    def run(case):
        rng = np.random.default_rng(3)
        n = len(case.args)
        batched_args = [i for i in range(n) if rng.random() < 0.6] or [int(rng.integers(n))]
        size = 2
        members = []
        for k in range(size):
            m = list(case.args)
            for i in batched_args:
                a = np.asarray(case.args[i])
                m[i] = (a + k * rng.standard_normal(a.shape)).astype(a.dtype) \
                    if a.dtype.kind == "f" else a
            members.append(m)
        stacked, in_axes = list(case.args), [None] * n
        for i in batched_args:
            axis = int(rng.integers(0, np.ndim(case.args[i]) + 1))
            stacked[i] = np.stack([m[i] for m in members], axis=axis)
            in_axes[i] = axis
        f = lambda *a: _apply(name, a, case.params)  # noqa: E731
        got = ft.vmap(f, in_axes=tuple(in_axes))(*stacked)
        want = [f(*m) for m in members]
        for o in range(len(got)):
            expected = np.stack([np.asarray(w[o]) for w in want])
            assert np.asarray(got[o]).dtype == expected.dtype
            np.testing.assert_allclose(got[o], expected, rtol=1e-6, atol=1e-6, equal_nan=True)
    run()


# --- reductions ----------------------------------------------------------------------------------

def _others_product(z, axes):
    """d reduce_prod / dz by brute force: the product of all other elements of each group."""
    jac = np.zeros(tuple(z.shape[d] for d in range(z.ndim) if d not in axes) + z.shape)
    for idx in np.ndindex(z.shape):
        m = z.copy()
        m[idx] = 1.0
        out_idx = tuple(idx[d] for d in range(z.ndim) if d not in axes)
        group = tuple(slice(None) if d in axes else idx[d] for d in range(z.ndim))
        jac[out_idx + idx] = np.prod(m[group])
    return jac


def test_reduce_prod_derivative_with_zeros():
    z = np.random.default_rng(0).standard_normal((3, 4, 5))
    z[0, 1, 2] = 0
    z[1, :, 3] = 0
    z[2, 0, 0] = z[2, 1, 0] = 0
    for axes in [(1,), (0, 2), (1, 2), (0, 1, 2)]:
        f = lambda x: lax.reduce_prod(x, axes)  # noqa: E731
        want = _others_product(z, axes)
        np.testing.assert_allclose(ft.jacfwd(f)(z), want, atol=1e-14)
        np.testing.assert_allclose(ft.jacrev(f)(z), want, atol=1e-14)
    # Second order, at a point with a single zero per group and with two zeros.
    check_grads(lambda x: lax.reduce_prod(x, (1, 2)), (z,), order=2)


def test_cumprod_derivative_with_zeros():
    v = np.array([2.0, 0.0, 3.0, 0.0, 5.0, 4.0, -1.5])
    n = len(v)
    want = np.zeros((n, n))
    for k in range(n):
        for i in range(k + 1):
            m = v[:k + 1].copy()
            m[i] = 1
            want[k, i] = m.prod()
    f = lambda x: lax.cumprod(x, 0)  # noqa: E731
    np.testing.assert_allclose(ft.jacfwd(f)(v), want)
    np.testing.assert_allclose(ft.jacrev(f)(v), want)
    g = lambda x: lax.cumprod(x, 0, reverse=True)  # noqa: E731
    np.testing.assert_allclose(ft.jacfwd(g)(v[::-1].copy()), want[::-1, ::-1])
    check_grads(f, (v,), order=2)


def test_max_min_ties_share_the_tangent():
    x = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    np.testing.assert_allclose(ft.grad(lambda x: lax.reduce_max(x, (0,)))(x),
                               [0, 1 / 3, 1 / 3, 0, 1 / 3])
    np.testing.assert_allclose(ft.grad(lambda x: lax.reduce_min(x, (0,)))(x), [1, 0, 0, 0, 0])
    # NaN propagates into the value and the tangent.
    y, t = ft.jvp(lambda x: lax.reduce_max(x, (0,)), (np.array([1.0, np.nan]),),
                  (np.ones(2),))
    assert np.isnan(y) and np.isnan(t)


def test_cummax_ties_follow_the_earliest_extremum():
    x = np.array([1.0, 3.0, 3.0, 2.0, 4.0])
    jac = ft.jacfwd(lambda x: lax.cummax(x, 0))(x)
    np.testing.assert_array_equal(jac.argmax(1), [0, 1, 1, 1, 4])
    jac = ft.jacfwd(lambda x: lax.cummin(x, 0, reverse=True))(x)
    np.testing.assert_array_equal(jac.argmax(1), [0, 3, 3, 3, 4])


def test_empty_reductions_give_the_identity():
    assert lax.reduce_max(np.zeros((0, 3)), (0,)).tolist() == [-np.inf] * 3
    assert lax.reduce_min(np.zeros((2, 0), np.int32), (1,)).tolist() == [2 ** 31 - 1] * 2
    assert lax.reduce_prod(np.zeros((0,)), (0,)) == 1.0
    assert lax.reduce_sum(np.zeros((0, 2), np.float32), (0,)).dtype == np.float32
    t = ft.jvp(lambda x: lax.reduce_prod(x, (1,)), (np.zeros((2, 0)),), (np.zeros((2, 0)),))[1]
    np.testing.assert_array_equal(t, [0.0, 0.0])


def test_reductions_keep_dtypes():
    for dtype in (np.float16, np.float32, np.int8, np.uint8, np.complex64):
        x = np.ones((3, 4), dtype)
        for fn in (lax.reduce_sum, lax.reduce_prod):
            assert fn(x, (0,)).dtype == dtype
        assert lax.cumsum(x, 1).dtype == dtype and lax.cumprod(x, 0).dtype == dtype
    x16 = np.full(4096, 0.1, np.float16)
    # Pairwise summation keeps float16 close to the truth (naive summation stalls at 256).
    assert abs(float(lax.reduce_sum(x16, (0,))) - 409.6) < 2
    assert lax.argmax(np.ones((2, 3), np.float32), 1, np.int32).dtype == np.int32


def test_arg_reductions_pick_the_first_nan_and_the_first_tie():
    x = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 5.0, 5.0, 0.0]])
    np.testing.assert_array_equal(lax.argmax(x, 1, np.int32), [1, 1])
    np.testing.assert_array_equal(lax.argmin(x, 1, np.int64), [1, 3])
    np.testing.assert_array_equal(lax.argmax(x, -1, np.int32), [1, 1])
    _, t = ft.jvp(lambda x: lax.argmax(x, 0, np.int32), (x,), (np.ones_like(x),))
    assert t.dtype == ft.float0


def test_reduction_batching_moves_nothing():
    x = np.ones((3, 5, 4))
    for fn in (lambda x: lax.reduce_sum(x, (0, 1)), lambda x: lax.cumsum(x, 1),
               lambda x: lax.argmax(x, 0, np.int32), lambda x: lax.reduce_max(x, (1,))):
        closed = ft.make_jaxpr(ft.vmap(fn, in_axes=1))(x)
        # The primitive applies to the input as it is; only out_axes=0 may move the result.
        assert closed.eqns[0].inputs == closed.program.invars, str(closed)
        assert [e.primitive.name for e in closed.eqns[1:]] in ([], ["transpose"]), str(closed)
        check_program(closed)
    np.testing.assert_allclose(ft.vmap(lambda x: lax.reduce_sum(x, (0, 1)), in_axes=1,
                                       out_axes=0)(x), x.sum((0, 2)))


def test_reductions_second_order_and_under_vmap():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4))
    for fn in (lambda x: lax.reduce_prod(x, (-1,)), lambda x: lax.cumprod(x, -1),
               lambda x: lax.reduce_max(lax.mul(x, x), (-1,)), lambda x: lax.cummax(x, 0),
               lambda x: lax.cumsum(lax.exp(x), 0, reverse=True)):
        check_grads(fn, (x,), order=2)
        def loss(r, fn=fn):
            y = fn(r)
            return lax.reduce_sum(lax.mul(y, y), tuple(range(np.ndim(y))))
        got = ft.vmap(ft.grad(loss))(x)
        want = np.stack([ft.grad(loss)(row) for row in x])
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_reduction_errors_name_the_function():
    with pytest.raises(TypeError, match="reduce_sum"):
        lax.reduce_sum(np.ones(3, bool), (0,))
    with pytest.raises(ValueError, match="reduce_max"):
        lax.reduce_max(np.ones(3), (1,))
    with pytest.raises(ValueError, match="twice"):
        lax.reduce_sum(np.ones((2, 2)), (0, -2))
    with pytest.raises(TypeError, match="complex"):
        ft.make_jaxpr(lambda x: lax.reduce_max(x, (0,)))(np.ones(2, complex))
    with pytest.raises(ValueError, match="argmax"):
        ft.make_jaxpr(lambda x: lax.argmax(x, 0, np.int32))(np.ones((0, 2)))
    with pytest.raises(TypeError, match="index_dtype"):
        ft.make_jaxpr(lambda x: lax.argmax(x, 0, np.float32))(np.ones((3, 2)))


# --- dot_general ---------------------------------------------------------------------------------

def test_dot_general_fast_paths_and_layouts():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    v = rng.standard_normal(3)
    np.testing.assert_allclose(lax.dot(a, b), a @ b)
    np.testing.assert_allclose(lax.dot(a, v), a @ v)
    np.testing.assert_allclose(lax.dot(v, b), v @ b)
    np.testing.assert_allclose(lax.dot(v, v), v @ v)
    x, y = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3, 5))
    out = lax.dot_general(x, y, (((2,), (1,)), ((0,), (0,))))
    np.testing.assert_allclose(out, x @ y)
    # Batch dims lead the output even when they are not leading in the operands.
    xt, yt = np.transpose(x, (1, 0, 2)), np.transpose(y, (2, 1, 0))
    out = lax.dot_general(xt, yt, (((2,), (1,)), ((1,), (2,))))
    np.testing.assert_allclose(out, x @ y)
    # No contraction: an outer product; negative dims are accepted by the lax function.
    np.testing.assert_allclose(lax.dot_general(v, v, (((), ()), ((), ()))), np.outer(v, v))
    np.testing.assert_allclose(lax.dot_general(a, b, (((-1,), (0,)), ((), ()))), a @ b)


def test_dot_general_preferred_element_type():
    a = np.full((3, 100), 100, np.int8)
    out = lax.dot_general(a, a.T.copy(), (((1,), (0,)), ((), ())), preferred_element_type=np.int32)
    assert out.dtype == np.int32 and out[0, 0] == 100 * 100 * 100
    x = np.ones((2, 3), np.float32)
    out, vjp_fn = ft.vjp(lambda x: lax.dot_general(x, x, (((1,), (1,)), ((), ())),
                                                   preferred_element_type=np.float64), x)
    assert out.dtype == np.float64
    (g,) = vjp_fn(np.ones((2, 2)))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 4 * np.ones((2, 3)))
    with pytest.raises(TypeError, match="preferred_element_type"):
        lax.dot_general(x, x, (((1,), (1,)), ((), ())), preferred_element_type=np.int32)


def test_dot_general_batching_is_one_contraction():
    rng = np.random.default_rng(1)
    xs, ys = rng.standard_normal((6, 4, 3)), rng.standard_normal((3, 6, 5))
    w = rng.standard_normal((3, 5))
    cases = [((1, 1), (np.transpose(xs, (1, 0, 2)), ys)),      # both batched
             ((1, None), (np.transpose(xs, (1, 0, 2)), w)),     # lhs only
             ((None, 2), (rng.standard_normal((4, 3)), np.transpose(ys, (0, 2, 1))))]
    for in_axes, args in cases:
        f = lambda a, b: lax.dot(a, b)  # noqa: E731
        closed = ft.make_jaxpr(ft.vmap(f, in_axes=in_axes))(*args)
        # One dot_general on the operands as they come; only out_axes=0 may move the result.
        names = [e.primitive.name for e in closed.eqns]
        assert names in (["dot_general"], ["dot_general", "transpose"]), str(closed)
        assert closed.eqns[0].inputs == closed.program.invars
        got = ft.vmap(f, in_axes=in_axes)(*args)
        want = np.stack([f(*(np.take(a, k, ax) if ax is not None else a
                             for a, ax in zip(args, in_axes))) for k in range(6)])
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_dot_general_derivatives_and_cost():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 2, 5))
    dn = (((2,), (0,)), ((0,), (1,)))
    check_grads(lambda a, b: lax.dot_general(a, b, dn), (x, y), order=2)
    check_grads(lambda a: lax.dot_general(a, a, (((0, 2), (0, 2)), ((), ()))), (x,), order=2)
    from functrans.core.aval import ShapedArray
    cost = registry["dot_general"].estimate_cost(
        ShapedArray((7, 3), np.dtype(np.float64)), ShapedArray((3, 5), np.dtype(np.float64)),
        dimension_numbers=(((1,), (0,)), ((), ())), precision=None,
        preferred_element_type=None)
    assert cost.flops == 2 * 7 * 5 * 3


def test_dot_general_errors_name_the_function():
    with pytest.raises(TypeError, match="dot_general.*contracting"):
        ft.make_jaxpr(lambda a, b: lax.dot(a, b))(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(TypeError, match="dot_general.*dtype"):
        lax.dot(np.ones((2, 3)), np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="lax.dot"):
        lax.dot(np.ones((2, 3, 4)), np.ones((4,)))


# --- sort ----------------------------------------------------------------------------------------

def test_sort_order_nans_stability_and_keys():
    x = np.array([3.0, np.nan, -1.0, 2.0, np.nan, -np.inf])
    np.testing.assert_array_equal(lax.sort(x), np.sort(x))
    keys = np.array([2, 1, 2, 1, 0])
    vals = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    k, v = lax.sort_key_val(keys, vals)
    np.testing.assert_array_equal(k, [0, 1, 1, 2, 2])
    np.testing.assert_array_equal(v, [14.0, 11.0, 13.0, 10.0, 12.0])   # stable
    k1 = np.array([1, 0, 1, 0])
    k2 = np.array([5.0, 7.0, 4.0, 6.0])
    out = lax.sort((k1, k2, np.arange(4.0)), num_keys=2)
    np.testing.assert_array_equal(out[2], [3.0, 1.0, 2.0, 0.0])
    assert isinstance(lax.sort(x), np.ndarray) and isinstance(lax.sort([x]), tuple)


def test_sort_derivatives_follow_the_permutation():
    rng = np.random.default_rng(4)
    x = rng.permutation(12).reshape(3, 4) * 0.5 + 0.1
    for dim in (0, 1, -1):
        check_grads(lambda x: lax.sort(x, dim), (x,), order=2)
    y = rng.standard_normal((3, 4))
    check_grads(lambda x, y: lax.sort_key_val(x, y, 0)[1], (x, y), order=2)
    # The gradient of the largest element lands where it came from.
    g = ft.grad(lambda v: lax.index_in_dim(lax.sort(v), 3, keepdims=False))(x[0])
    np.testing.assert_array_equal(g, np.eye(4)[np.argmax(x[0])])


def test_sort_batching_with_an_unbatched_operand():
    rng = np.random.default_rng(6)
    keys = rng.standard_normal((5, 3))       # batched along axis 1
    vals = rng.standard_normal(5)            # shared by all batch members
    f = lambda k, v: lax.sort_key_val(k, v)  # noqa: E731
    got_k, got_v = ft.vmap(f, in_axes=(1, None))(keys, vals)
    for b in range(3):
        want_k, want_v = f(keys[:, b], vals)
        np.testing.assert_array_equal(got_k[b], want_k)
        np.testing.assert_array_equal(got_v[b], want_v)


def test_sort_errors_name_the_function():
    with pytest.raises(TypeError, match="lax.sort.*rank-0"):
        lax.sort(np.float64(1.0))
    with pytest.raises(ValueError, match="num_keys"):
        lax.sort((np.ones(3), np.ones(3)), num_keys=3)
    with pytest.raises(TypeError, match="one shape"):
        ft.make_jaxpr(lambda a, b: lax.sort((a, b)))(np.ones(3), np.ones(4))


def test_traced_programs_typecheck():
    x = np.random.default_rng(7).standard_normal((3, 4))
    for fn in (lambda x: lax.reduce_prod(x, (1,)), lambda x: lax.cummax(x, 1),
               lambda x: lax.sort(x, 0), lambda x: lax.dot(x, lax.transpose(x, (1, 0)))):
        g = lambda x: lax.reduce_sum(fn(x), tuple(range(np.ndim(fn(x)))))  # noqa: E731
        closed = ft.make_jaxpr(ft.grad(g))(x)
        check_program(closed)
        np.testing.assert_allclose(eval_closed(closed, x)[0], ft.grad(g)(x))
