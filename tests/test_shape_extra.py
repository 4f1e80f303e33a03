"""Extra checks of the shape and indexing primitives beyond the registry-driven suite: more
examples, batch axes anywhere (negative ones too) with integer arguments that differ per batch
member, nested transforms, and the lax helper functions."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrans as ft
from functrans import lax
from functrans.core.primitive import registry
from functrans.core.typecheck import check_program

from primitive_cases import shape as cases

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
NAMES = sorted(cases.STRATEGIES)


def apply(name, args, params):
    return registry[name].bind(*args, **params)


def _float_argnums(case):
    nums = case.diff_argnums
    if nums is None:
        nums = range(len(case.args))
    return [i for i in nums if np.asarray(case.args[i]).dtype == np.float64]


def _with(args, nums, values):
    args = list(args)
    for i, v in zip(nums, values):
        args[i] = v
    return args


@pytest.mark.parametrize("name", NAMES)
def test_linear_rules_agree(name):
    """jvp = finite differences = J applied (linear, so exact), and <u, Jv> = <J^T u, v>, also
    through linearize (whose linear program must type-check)."""
    @SETTINGS
    @given(cases.STRATEGIES[name])
    def run(case):
        nums = _float_argnums(case)
        if not nums:
            return
        rng = np.random.default_rng(0)
        x = [np.asarray(case.args[i]) for i in nums]
        v = [rng.standard_normal(a.shape) for a in x]
        f = lambda *d: apply(name, _with(case.args, nums, d), case.params)  # noqa: E731
        out, jv = ft.jvp(f, tuple(x), tuple(v))
        # Linear in the float arguments: f(x + v) - f(x) is exactly J v (up to rounding).
        np.testing.assert_allclose(jv, f(*[a + t for a, t in zip(x, v)]) - out, atol=1e-9)
        out2, lin = ft.linearize(f, *x)
        np.testing.assert_allclose(lin(*v), jv, atol=1e-12)
        u = rng.standard_normal(np.shape(out))
        _, vjp_fn = ft.vjp(f, *x)
        jtu = vjp_fn(u)
        lhs = np.vdot(u, jv)
        rhs = sum(np.vdot(g, t) for g, t in zip(jtu, v))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
        for g, a in zip(jtu, x):
            assert np.shape(g) == a.shape and np.asarray(g).dtype == a.dtype
        check_program(ft.make_jaxpr(lambda *d: vjp_fn(d[0]))(u))
    run()


def _member(a, k, rng):
    """The k-th batch member of an argument: floats perturbed, integer indices shifted (the
    primitives clamp, fill or drop, so any shift is valid)."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return (a + 0.5 * k * rng.standard_normal(a.shape)).astype(a.dtype)
    if a.dtype.kind in "iu":
        shift = rng.integers(-1, 3, a.shape)
        return np.maximum(a.astype(np.int64) + shift, 0 if a.dtype.kind == "u" else -3) \
            .astype(a.dtype)
    return a


def _assert_close(got, want):
    """Exact, except that sums (scatter_add) may add in another order."""
    if np.asarray(want).dtype.kind in "fc":
        tol = 1e-12 if np.asarray(want).dtype.itemsize >= 8 else 1e-5
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_any_axes(name):
    """vmap over every subset of the arguments, batch axes anywhere (negative half the time),
    integer arguments differing per member, against a Python loop; also nested vmap."""
    @SETTINGS
    @given(cases.STRATEGIES[name], st.data())
    def run(case, data):
        if not case.args:
            return
        rng = np.random.default_rng(3)
        n = len(case.args)
        unique = case.params.get("unique_indices", False)
        nums = [i for i in range(n) if data.draw(st.booleans())] or [0]
        size = 3
        members = []
        for k in range(size):
            m = list(case.args)
            for i in nums:
                a = np.asarray(case.args[i])
                m[i] = a if unique and a.dtype.kind in "iu" else _member(a, k, rng)
            members.append(m)
        batched, in_axes = list(case.args), [None] * n
        for i in nums:
            nd = np.ndim(case.args[i])
            axis = data.draw(st.integers(0, nd))
            batched[i] = np.stack([m[i] for m in members], axis=axis)
            in_axes[i] = axis - nd - 1 if data.draw(st.booleans()) else axis
        out_axis = data.draw(st.integers(0, np.ndim(apply(name, case.args, case.params))))
        f = lambda *a: apply(name, a, case.params)  # noqa: E731
        got = ft.vmap(f, in_axes=tuple(in_axes), out_axes=out_axis)(*batched)
        want = np.stack([np.asarray(f(*m)) for m in members], axis=out_axis)
        assert got.shape == want.shape and got.dtype == want.dtype
        _assert_close(got, want)
        check_program(ft.make_jaxpr(ft.vmap(f, in_axes=tuple(in_axes)))(*batched))
        # Two levels: the outer batch axis first, the inner one where it was.
        outer = [np.stack([b, b]) if ax is not None else b for b, ax in zip(batched, in_axes)]
        outer_axes = tuple(0 if ax is not None else None for ax in in_axes)
        got2 = ft.vmap(ft.vmap(f, in_axes=tuple(in_axes)), in_axes=outer_axes)(*outer)
        want2 = ft.vmap(f, in_axes=tuple(in_axes))(*batched)
        _assert_close(got2, np.stack([want2, want2]))
    run()


@pytest.mark.parametrize("name", NAMES)
def test_grad_of_vmap_and_vmap_of_grad(name):
    @SETTINGS
    @given(cases.STRATEGIES[name])
    def run(case):
        nums = _float_argnums(case)
        if not nums:
            return
        i = nums[0]
        rng = np.random.default_rng(4)
        x = np.asarray(case.args[i])
        xs = np.stack([x, x + 1, 2 * x])
        w = rng.standard_normal(np.shape(apply(name, case.args, case.params)))

        def loss(xi):
            y = lax.mul(apply(name, _with(case.args, [i], [xi]), case.params), w)
            return lax.reduce_sum(y, tuple(range(y.ndim)))
        per_member = np.stack([ft.grad(loss)(m) for m in xs])
        np.testing.assert_allclose(ft.vmap(ft.grad(loss))(xs), per_member, atol=1e-12)
        np.testing.assert_allclose(ft.grad(lambda b: lax.reduce_sum(ft.vmap(loss)(b), (0,)))(xs),
                                   per_member,
                                   atol=1e-12)
    run()


@pytest.mark.parametrize("name", NAMES)
def test_cost_and_jacobian_declared(name):
    from functrans.core.aval import aval_of_value
    from functrans.core.primitive import Cost

    @settings(max_examples=5, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(cases.STRATEGIES[name])
    def run(case):
        cost = registry[name].estimate_cost(*map(aval_of_value, case.args), **case.params)
        assert isinstance(cost, Cost) and cost.flops >= 0 and cost.bytes >= 0
    run()
    assert registry[name].jac_structure and registry[name].transpose is not None or name == "iota"


# --- hand-picked cases --------------------------------------------------------------------------

def _sum(x):
    return lax.reduce_sum(x, tuple(range(np.ndim(x))))


def test_scatter_duplicates_last_wins_and_its_derivative():
    x = np.arange(5.0)
    idx = np.array([[1], [3], [1], [7], [-1]])
    upd = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    out = lax.scatter(x, idx, upd)
    np.testing.assert_array_equal(out, [0, 30, 2, 20, 4])   # row 2 beats row 0; 7, -1 dropped
    g_x, g_u = ft.grad(lambda a, b: _sum(lax.mul(lax.scatter(a, idx, b), np.arange(1.0, 6))),
                       argnums=(0, 1))(x, upd)
    np.testing.assert_array_equal(g_x, [1, 0, 3, 0, 5])
    np.testing.assert_array_equal(g_u, [0, 4, 2, 0, 0])
    out = lax.scatter(x, idx, upd, mode="clip")
    np.testing.assert_array_equal(out, [50, 30, 2, 20, 40])


def test_gather_clamps_and_fills():
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0], [2], [5], [-1]])
    np.testing.assert_array_equal(lax.gather(x, idx), x[[0, 2, 2, 0]])
    filled = lax.gather(x, idx, mode="fill")
    np.testing.assert_array_equal(filled, np.concatenate([x[[0, 2]], np.zeros((2, 4))]))
    g = ft.grad(lambda a: _sum(lax.gather(a, idx)))(x)
    np.testing.assert_array_equal(g, np.array([[2.0] * 4, [0.0] * 4, [2.0] * 4]))
    g = ft.grad(lambda a: _sum(lax.gather(a, idx, mode="fill")))(x)
    np.testing.assert_array_equal(g, np.array([[1.0] * 4, [0.0] * 4, [1.0] * 4]))


def test_dynamic_slice_traced_starts_and_clamping():
    x = np.arange(20.0).reshape(4, 5)

    def f(x, i, j):
        return lax.dynamic_slice(x, (i, j), (2, 3))
    np.testing.assert_array_equal(f(x, 3, -2), x[2:4, 0:3])
    starts = np.array([0, 1, 2, 3, 7])
    got = ft.vmap(f, in_axes=(None, 0, 0))(x, starts, starts[::-1])
    want = np.stack([f(x, i, j) for i, j in zip(starts, starts[::-1])])
    np.testing.assert_array_equal(got, want)
    # Gradients through the batched (gather) form land where the clamped slices were.
    g = ft.grad(lambda x: _sum(ft.vmap(f, in_axes=(None, 0, 0))(x, starts, starts[::-1])))(x)
    want_g = np.zeros_like(x)
    for i, j in zip(starts, starts[::-1]):
        i, j = min(max(i, 0), 2), min(max(j, 0), 2)
        want_g[i:i + 2, j:j + 3] += 1
    np.testing.assert_array_equal(g, want_g)
    jaxpr = ft.make_jaxpr(ft.vmap(f, in_axes=(None, 0, 0)))(x, starts, starts)
    check_program(jaxpr)
    assert any(e.primitive.name == "gather" for e in jaxpr.eqns)


def test_dynamic_update_slice_batched_starts():
    x = np.zeros((3, 4, 5))
    u = np.ones((3, 2, 2))
    starts = np.array([0, 3, -1])
    f = lambda x, u, i: lax.dynamic_update_slice(x, u, (i, 1))  # noqa: E731
    got = ft.vmap(f, in_axes=(0, 0, 0))(x, u, starts)
    want = np.stack([f(a, b, i) for a, b, i in zip(x, u, starts)])
    np.testing.assert_array_equal(got, want)
    got = ft.vmap(f, in_axes=(None, 1, 0))(x[0], np.moveaxis(u, 0, 1), starts)
    np.testing.assert_array_equal(got, np.stack([f(x[0], b, i) for b, i in zip(u, starts)]))


def test_pad_batched_padding_value_and_negative_padding():
    x = np.arange(6.0).reshape(2, 3)
    config = ((1, -1, 1), (-1, 2, 0))
    values = np.array([np.inf, -1.0, 7.0])
    got = ft.vmap(lambda v: lax.pad(x, v, config))(values)
    want = np.stack([lax.pad(x, v, config) for v in values])
    np.testing.assert_array_equal(got, want)      # an infinite padding value stays exact
    g = ft.grad(lambda v: _sum(lax.pad(x, v, config)))(2.0)
    assert g == 3 * 4 - 2     # all but the two operand elements left after cropping
    ct = ft.grad(lambda x: _sum(lax.integer_pow(lax.pad(x, 0.0, config), 2)))(x)
    np.testing.assert_array_equal(ct, np.array([[0, 2, 4], [0, 0, 0]]) * 1.0)


def test_helpers_and_lax_functions():
    x = np.arange(6.0).reshape(2, 3)
    assert lax.expand_dims(x, (0, -1)).shape == (1, 2, 3, 1)
    assert lax.broadcast(x, (4,)).shape == (4, 2, 3)
    f = lax.full((2, 2), 1.5, np.float32)
    # Eager results are immutable Arrays (JAX's semantics), hence not writeable.
    assert f.dtype == np.float32 and f.shape == (2, 2) and not f.flags.writeable
    np.testing.assert_array_equal(lax.full_like(x, 3), np.full((2, 3), 3.0))
    np.testing.assert_array_equal(lax.iota(np.int32, 4), np.arange(4, dtype=np.int32))
    np.testing.assert_array_equal(lax.broadcasted_iota(np.int64, (2, 3), -1),
                                  np.indices((2, 3))[1])
    np.testing.assert_array_equal(lax.slice_in_dim(x, -2, None, axis=1), x[:, 1:])
    np.testing.assert_array_equal(lax.index_in_dim(x, -1, 1, keepdims=False), x[:, -1])
    np.testing.assert_array_equal(lax.reshape(x, (3, 2), dimensions=(1, 0)),
                                  x.T.reshape(3, 2))
    np.testing.assert_array_equal(lax.dynamic_index_in_dim(x, 1, 0, keepdims=False), x[1])
    np.testing.assert_array_equal(lax.dynamic_update_index_in_dim(x, np.array([7.0, 8.0]), 2, 1),
                                  np.array([[0, 1, 7], [3, 4, 8.0]]))
    np.testing.assert_array_equal(lax.concatenate([x, 1.0 + x], 1), np.concatenate([x, x + 1], 1))
    np.testing.assert_array_equal(lax.scatter_add(np.zeros(3), np.array([[0], [0], [2]]),
                                                  np.array([1.0, 2.0, 3.0])), [3, 0, 3])
    # Weak Python scalars take the operand's dtype.
    assert lax.pad(x.astype(np.float32), 0.0, ((1, 1, 0), (0, 0, 0))).dtype == np.float32
    # Identity shortcuts return the operand itself.
    assert lax.transpose(x, (0, 1)) is x and lax.reshape(x, (2, 3)) is x


def test_errors_name_the_function_and_shapes():
    x = np.zeros((2, 3))
    with pytest.raises(TypeError, match="lax.reshape.*f64\\[2,3\\]"):
        lax.reshape(x, (4, 2))
    with pytest.raises(TypeError, match="lax.broadcast_in_dim"):
        lax.broadcast_in_dim(x, (2, 4), (0, 1))
    with pytest.raises(ValueError, match="lax.slice"):
        lax.slice(x, (0, 0), (3, 3))
    with pytest.raises(TypeError, match="lax.concatenate"):
        lax.concatenate([x, np.zeros((3, 3))], 1)
    with pytest.raises(TypeError, match="lax.gather"):
        lax.gather(x, np.zeros((2, 3), np.int32))
    with pytest.raises(TypeError, match="lax.scatter_add.*updates"):
        lax.scatter_add(x, np.zeros((4, 1), np.int32), np.zeros((4,)))
    with pytest.raises(TypeError, match="lax.dynamic_slice"):
        lax.dynamic_slice(x, (0,), (1, 1))
    with pytest.raises(TypeError, match="lax.squeeze"):
        lax.squeeze(x, (0,))


def test_nested_derivatives_of_a_composite():
    """A function mixing the primitives: jacfwd == jacrev, and a hessian-vector product."""
    idx = np.array([[2, 0], [0, 1], [5, 1]])

    def f(x):
        y = lax.pad(lax.rev(x, (0,)), 0.5, ((1, 0, 1), (0, 1, 0)))
        z = lax.concatenate([lax.slice(y, (0, 0), (4, 3), (2, 1)), lax.transpose(x, (0, 1))], 0)
        g = lax.gather(lax.mul(z, z), idx[:, :1])
        row = lax.index_in_dim(x, 0, keepdims=False)
        s = lax.scatter_add(lax.broadcast_in_dim(row, (4, 3), (1,)), idx[:, :1], g)
        d = lax.dynamic_slice(s, (1, 1), (2, 2))
        g2 = lax.slice_in_dim(g, 0, 2)
        s = lax.scatter(s, idx[:2, :1], lax.mul(g2, g2))
        out = lax.reshape(lax.dynamic_update_slice(s, lax.mul(d, d), (2, 0)), (12,))
        return lax.concatenate([out, lax.gather(z, idx)], 0)
    x = np.random.default_rng(5).standard_normal((3, 3))
    np.testing.assert_allclose(ft.jacfwd(f)(x), ft.jacrev(f)(x), atol=1e-12)
    check_program(ft.make_jaxpr(ft.jacrev(ft.jacfwd(f)))(x))
