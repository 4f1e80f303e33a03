"""The un-jitted fast paths (functrans/transforms/replay.py) never change results: every
transform runs on a set of programs with the fast path on and off, three calls each (first
sight of a structure, building its gradient program, reusing it), and the results must be
identical, bit for bit, dtypes included. Values are also checked against finite differences or
closed forms, so that both paths being wrong the same way would fail too."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import tree_util
from functrans.core.dtypes import float0
from functrans.core.errors import FunctransError
from functrans.transforms import replay


def _leaves(x):
    return [np.asarray(v) for v in tree_util.tree_leaves(x)]


def assert_identical(a, b):
    la, lb = tree_util.tree_leaves(a), tree_util.tree_leaves(b)
    assert tree_util.tree_structure(a) == tree_util.tree_structure(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)
        # -0.0 and 0.0 compare equal: the sign bits must agree too.
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(np.signbit(x), np.signbit(y))


def both_ways(run, calls=3):
    """run() with the fast path off, then `calls` times with it on, recording primitive by
    primitive and then whole functrans.numpy calls per signature (replay.templates): all
    identical."""
    with replay.fast_paths(False):
        ref = run()
    with replay.fast_paths(True):
        with replay.templates(False):
            for _ in range(calls):
                assert_identical(run(), ref)
        for _ in range(calls):
            assert_identical(run(), ref)
    return ref


rng = np.random.default_rng(0)


def mlp_params(dtype):
    return {"layers": [(rng.standard_normal((5, 4)).astype(dtype), np.zeros(4, dtype)),
                       (rng.standard_normal((4, 3)).astype(dtype), np.ones(3, dtype))],
            "scale": np.asarray(1.5, dtype)}


def mlp_loss(p, x, y):
    h = x
    for w, b in p["layers"]:
        h = fnp.tanh(h @ w + b)
    return p["scale"] * fnp.mean((h - y) ** 2)


def branchy(x):
    # Python control flow on values under grad: the branch depends on the data.
    if fnp.sum(x) > 0:
        return fnp.sum(fnp.sin(x) * x)
    return fnp.sum(fnp.exp(x))


def loopy(x):
    # A data-dependent number of iterations.
    n = 0
    while float(fnp.max(fnp.abs(fnp.floor(x)))) > 0.5 and n < 10:
        x = x * 0.5
        n += 1
    return fnp.sum(x ** 3)


def with_int_arg(x, k):
    return fnp.sum(x ** 2) * k + k


def fd_grad(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_of_pytree_mlp(dtype):
    p = mlp_params(dtype)
    x = rng.standard_normal((6, 5)).astype(dtype)
    y = rng.standard_normal((6, 3)).astype(dtype)
    g = both_ways(lambda: ft.grad(mlp_loss)(p, x, y))
    both_ways(lambda: ft.value_and_grad(mlp_loss, argnums=(0, 1))(p, x, y))
    # Against finite differences in float64, on the first weight.
    p64 = tree_util.tree_map(lambda a: np.asarray(a, np.float64), p)

    def f_w0(w):
        q = {"layers": [(w, p64["layers"][0][1]), p64["layers"][1]], "scale": p64["scale"]}
        return float(mlp_loss(q, x.astype(np.float64), y.astype(np.float64)))
    tol = 1e-6 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(g["layers"][0][0], fd_grad(f_w0, p64["layers"][0][0]),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_python_control_flow_on_values(sign):
    x = sign * np.abs(rng.standard_normal(4)) + sign * 0.1
    g = both_ways(lambda: ft.grad(branchy)(x))
    want = np.sin(x) + x * np.cos(x) if sign > 0 else np.exp(x)
    np.testing.assert_allclose(g, want, rtol=1e-12)
    # Alternating branches through one grad function: each call takes its own branch.
    gb = ft.grad(branchy)
    for s in (1.0, -1.0, 1.0, -1.0):
        xs = s * np.abs(x) + s * 0.1
        with replay.fast_paths(False):
            ref = gb(xs)
        assert_identical(gb(xs), ref)


def test_data_dependent_loop_and_float_of_derivative_free_value():
    for x in (np.array([0.3, -0.2]), np.array([3.0, -2.5]), np.array([9.0, 1.0])):
        g = both_ways(lambda: ft.grad(loopy)(x))
        n = 0
        xs = x.copy()
        while np.max(np.abs(np.floor(xs))) > 0.5 and n < 10:
            xs, n = xs * 0.5, n + 1
        np.testing.assert_allclose(g, 3 * xs ** 2 * 0.5 ** n, rtol=1e-12)


def test_float_of_differentiated_value_raises_on_both_paths():
    def f(x):
        return float(fnp.sum(x)) * x.sum()
    for enabled in (False, True, True, True):
        with replay.fast_paths(enabled):
            with pytest.raises(FunctransError):
                ft.grad(f)(np.ones(3))


def test_closure_over_rebound_global_is_read_every_call():
    state = {"w": np.array([1.0, 2.0, 3.0])}

    def f(x):
        return fnp.sum(x * state["w"])
    x = np.ones(3)
    for k in range(4):
        state["w"] = np.array([1.0, 2.0, 3.0]) * (k + 1)
        g = both_ways(lambda: ft.grad(f)(x), calls=2)
        np.testing.assert_array_equal(g, state["w"])


def test_has_aux_and_integer_arguments():
    def f(x, k):
        y = fnp.sin(x) * k
        return fnp.sum(y), {"y": y, "k": k}
    x = rng.standard_normal(3)
    (v, aux), g = both_ways(lambda: ft.value_and_grad(f, has_aux=True)(x, 3))
    np.testing.assert_allclose(g, 3 * np.cos(x), rtol=1e-12)
    assert isinstance(aux["y"], np.ndarray) and aux["k"] == 3
    g2 = both_ways(lambda: ft.grad(with_int_arg)(x, np.int64(4)))
    np.testing.assert_allclose(g2, 8 * x, rtol=1e-12)
    gi = both_ways(lambda: ft.grad(with_int_arg, argnums=1, allow_int=True)(x, np.int64(4)))
    assert gi.dtype == float0 and gi.shape == ()


def test_python_scalar_inputs_and_literals():
    def f(x, c):
        return fnp.maximum(x * c, 0.0) + x ** 2 - (-0.0) * x
    both_ways(lambda: ft.grad(f)(1.5, 2.0))
    both_ways(lambda: ft.grad(f)(-1.5, 2.0))
    assert both_ways(lambda: ft.grad(f)(1.5, 2.0)) == pytest.approx(2.0 + 3.0)


def test_side_effects_happen_once_per_call():
    seen = []

    def f(x):
        ft.debug.callback(lambda v: seen.append(float(v)), fnp.sum(x))
        return fnp.sum(x ** 2)
    x = np.arange(3.0)
    with replay.fast_paths(False):
        ref = ft.grad(f)(x)
    n_off = len(seen)
    seen.clear()
    with replay.fast_paths(True):
        for _ in range(3):
            assert_identical(ft.grad(f)(x), ref)
    assert len(seen) == 3 * n_off and n_off >= 1


def test_other_transforms_compose_identically():
    p = mlp_params(np.float64)
    x = rng.standard_normal((6, 5))
    y = rng.standard_normal((6, 3))
    w = rng.standard_normal(4)

    def f(v):
        return fnp.sum(fnp.sin(v) ** 2 * v)
    both_ways(lambda: ft.vjp(f, w)[1](1.0))
    both_ways(lambda: ft.jvp(ft.grad(f), (w,), (np.ones(4),)))
    both_ways(lambda: ft.hessian(f)(w))
    both_ways(lambda: ft.jacrev(ft.grad(f))(w))
    both_ways(lambda: ft.grad(ft.grad(lambda s: f(w * s)))(0.7))
    per_example = ft.vmap(ft.grad(mlp_loss), in_axes=(None, 0, 0))
    g = both_ways(lambda: per_example(p, x[:, None], y[:, None]))
    g0 = ft.grad(mlp_loss)(p, x[:1], y[:1])
    np.testing.assert_allclose(g["layers"][0][0][0], g0["layers"][0][0], rtol=1e-12)
    both_ways(lambda: ft.jit(ft.grad(f))(w))
    h = ft.hessian(f)(w)
    np.testing.assert_allclose(h, ft.jacfwd(ft.grad(f))(w), rtol=1e-10)
    # grad inside a function being differentiated (grad of a function that calls grad).
    both_ways(lambda: ft.grad(lambda v: fnp.sum(ft.grad(f)(v) ** 2))(w))


def test_repeated_structure_uses_one_gradient_program():
    replay.clear_cache()

    def f(x):
        return fnp.sum(fnp.tanh(x) * x)
    x = rng.standard_normal(5)
    for k in range(5):
        ft.grad(f)(x + k)
    hits, misses, builds, entries = replay.cache_info()
    assert (misses, builds, entries) == (1, 1, 1) and hits == 4
    # A new shape is a new structure.
    ft.grad(f)(np.ones(6))
    assert replay.cache_info()[1] == 2


def test_errors_are_the_same_with_the_fast_path():
    def not_scalar(x):
        return x * 2.0
    for enabled in (False, True):
        with replay.fast_paths(enabled):
            with pytest.raises(TypeError, match="scalar output"):
                ft.grad(not_scalar)(np.ones(3))


def test_custom_rules_control_flow_jit_and_checkpoint():
    from functrans import lax, nn

    @ft.custom_jvp
    def log1pexp(x):
        return fnp.log1p(fnp.exp(x))
    log1pexp.defjvps(lambda t, ans, x: t * nn.sigmoid(x))

    @ft.custom_vjp
    def clip_gradient(x):
        return x
    clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (fnp.clip(g, -1.0, 1.0),))

    inner = ft.jit(lambda v: fnp.sin(v) * v)

    def f(x):
        a = fnp.sum(log1pexp(x * 100.0))
        b = fnp.sum(clip_gradient(x) * np.array([5.0, 0.5, 2.0]))
        c = lax.cond(fnp.sum(x) > 0, lambda v: fnp.sum(v ** 2), lambda v: fnp.sum(v), x)
        d = lax.fori_loop(0, 3, lambda i, v: v * fnp.cos(v), x).sum()
        e, _ = lax.scan(lambda carry, v: (carry * v + 1.0, None), 1.0, x)
        g = fnp.sum(inner(x)) + fnp.sum(ft.checkpoint(lambda v: fnp.tanh(v) ** 2)(x))
        return a + b + c + d + e + g

    x = np.array([0.3, -0.2, 0.7])
    g = both_ways(lambda: ft.grad(f)(x))
    fd = fd_grad(lambda v: float(f(v)), x)
    # clip_gradient clips the cotangents 5.0 and 2.0 to 1.0: 4 and 1 less than the true slope.
    np.testing.assert_allclose(g, fd - np.array([4.0, 0.0, 1.0]), rtol=1e-6, atol=1e-6)


def test_functions_whose_structure_never_repeats_go_back_to_the_ordinary_path():
    from functrans import lax

    def f(x):
        # cond's branches are new lambdas on every call: every call has its own key.
        return lax.cond(fnp.sum(x) > 0, lambda v: fnp.sum(v ** 2), lambda v: fnp.sum(v), x)
    x = np.array([0.5, 1.0])
    replay.clear_cache()
    for k in range(replay.MAX_MISSES_IN_A_ROW + 5):
        np.testing.assert_array_equal(ft.grad(f)(x), 2 * x)
    # Recorded only until the counter gave up (each recorded call adds a key).
    assert replay.cache_info()[3] == replay.MAX_MISSES_IN_A_ROW


def test_jvp_with_integer_inputs_outputs_and_aux():
    def f(x, k):
        y = fnp.sin(x) * k
        return (fnp.sum(y), k * 2, fnp.floor(x)), {"aux": y}
    x = rng.standard_normal(3)
    k = np.int64(3)
    t = (np.ones(3), np.zeros((), ft.float0) if hasattr(ft, "float0") else np.zeros((), float0))
    p_out, t_out, aux = both_ways(lambda: ft.jvp(f, (x, k), t, has_aux=True))
    np.testing.assert_allclose(t_out[0], 3 * np.cos(x).sum(), rtol=1e-12)
    assert t_out[1].dtype == float0 and np.all(t_out[2] == 0)
    np.testing.assert_allclose(aux["aux"], 3 * np.sin(x), rtol=1e-12)
    # Hessian-vector product: forward over reverse, against the closed form.
    v = rng.standard_normal(3)
    hv = both_ways(lambda: ft.jvp(ft.grad(lambda z: fnp.sum(fnp.sin(z) * z)), (x,), (v,))[1])
    np.testing.assert_allclose(hv, (2 * np.cos(x) - x * np.sin(x)) * v, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hessian_vector_products_record_the_inner_gradient_program_whole(dtype, monkeypatch):
    """jvp of grad: inside the outer recording the inner gradient program is recorded in one
    piece (_GradientProgram._record) instead of equation by equation; the outer tangent
    program derived from that recording gives the same bits as the ordinary path."""
    p = mlp_params(dtype)
    x = rng.standard_normal((6, 5)).astype(dtype)
    y = rng.standard_normal((6, 3)).astype(dtype)
    v = tree_util.tree_map(lambda a: np.ones_like(a) * dtype(0.5), p)
    g = ft.grad(mlp_loss)
    recorded_whole = []
    original = replay._GradientProgram._record

    def spy(self, main, args):
        out = original(self, main, args)
        recorded_whole.append(len(self.program.eqns))
        return out
    monkeypatch.setattr(replay._GradientProgram, "_record", spy)
    hvp = both_ways(lambda: ft.jvp(lambda q: g(q, x, y), (p,), (v,)), calls=5)
    assert recorded_whole and recorded_whole[0] > 10
    # Against finite differences of the gradient, in float64.
    p64 = tree_util.tree_map(lambda a: np.asarray(a, np.float64), p)
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    eps = 1e-6
    plus = ft.grad(mlp_loss)(tree_util.tree_map(lambda a, t: a + eps * t, p64, v), x64, y64)
    minus = ft.grad(mlp_loss)(tree_util.tree_map(lambda a, t: a - eps * t, p64, v), x64, y64)
    fd = tree_util.tree_map(lambda a, b: (a - b) / (2 * eps), plus, minus)
    tol = 2e-3 if dtype == np.float32 else 1e-6
    for a, b in zip(_leaves(hvp[1]), _leaves(fd)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_nested_gradient_programs_with_literals_and_passed_through_outputs():
    """Gradient programs whose outputs include an input passed through, a constant and a
    literal, recorded whole inside an outer replay: same bits as the ordinary path."""
    w = rng.standard_normal(4)

    def f(v, c):
        return fnp.sum(v * 2.0) + c * 3.0 + fnp.sum(fnp.cos(v) * v)
    inner = ft.grad(f, argnums=(0, 1))
    both_ways(lambda: ft.jvp(lambda v: inner(v, 1.5), (w,), (np.ones(4),)), calls=5)
    both_ways(lambda: ft.grad(lambda v: fnp.sum(inner(v, 0.5)[0] ** 2))(w), calls=5)
    both_ways(lambda: ft.hessian(lambda v: f(v, 2.0))(w), calls=4)


def test_argument_checks_skipped_only_where_they_passed_before():
    """Recording skips an impl's argument checks for a (primitive, parameters, avals) that
    passed them before; another combination is still checked and raises as without the fast
    path."""
    from functrans import lax

    def f(x, y):
        return fnp.sum(lax.add(x, y) * lax.broadcast_in_dim(y, (2, 3), (1,)))
    good = (rng.standard_normal(3), rng.standard_normal(3))
    both_ways(lambda: ft.grad(f)(*good))
    for enabled in (False, True):
        with replay.fast_paths(enabled):
            with pytest.raises((TypeError, ValueError)) as bad_dtype:
                ft.grad(f)(good[0], good[1].astype(np.float32))
            with pytest.raises((TypeError, ValueError)) as bad_shape:
                ft.grad(f)(np.ones(3), np.ones(2))
        if enabled:
            assert str(bad_dtype.value) == dtype_message
            assert str(bad_shape.value) == shape_message
        dtype_message, shape_message = str(bad_dtype.value), str(bad_shape.value)


# --- promotion plans (functrans/numpy/_promotion.promote_args) -------------------------------

_PLAN_ARGS = [1, 2.5, True, 1j, np.float32(2.0), np.int32(3), np.float64(-0.5),
              np.ones((2, 3), np.float32), np.arange(3, dtype=np.int32),
              np.ones((1, 3), np.float64), np.ones((), np.float16), np.array([True, False, True])]


@pytest.mark.parametrize("inexact", [False, True])
def test_promotion_plans_give_what_the_full_promotion_gives(inexact):
    """promote_args keeps its decisions per argument signature; a call that finds a kept plan
    returns exactly what the full promotion returns (values, dtypes, weakness, shapes), on
    concrete values and on traced ones (the staged programs are the same text)."""
    from functrans.numpy import _promotion as pr
    from functrans.core.trace import get_aval

    def signature(out):
        return [(get_aval(o).shape, get_aval(o).dtype, get_aval(o).weak_type, type(o).__name__)
                for o in out]

    for a in _PLAN_ARGS:
        for b in _PLAN_ARGS:
            try:
                ref = pr._promote_args("t", [a, b], inexact)
            except ValueError:          # shapes that do not broadcast: refused both ways
                pr._PLANS.clear()
                with pytest.raises(ValueError):
                    pr.promote_args("t", a, b, inexact=inexact)
                continue
            pr._PLANS.clear()
            first = pr.promote_args("t", a, b, inexact=inexact)      # makes the plan
            again = pr.promote_args("t", a, b, inexact=inexact)      # uses it
            for out in (first, again):
                assert signature(out) == signature(ref)
                for o, r in zip(out, ref):
                    np.testing.assert_array_equal(np.asarray(o), np.asarray(r))

            def staged(x, y):
                return pr.promote_args("t", x, y, inexact=inexact)
            arrays = [v for v in (a, b) if isinstance(v, np.ndarray)]
            if arrays:
                pr._PLANS.clear()
                fresh = str(ft.make_jaxpr(lambda *xs: staged(*_fill(a, b, xs)))(*arrays))
                kept = str(ft.make_jaxpr(lambda *xs: staged(*_fill(a, b, xs)))(*arrays))
                assert fresh == kept


def _fill(a, b, traced):
    """(a, b) with their arrays replaced by the traced values, in order."""
    it = iter(traced)
    return [next(it) if isinstance(v, np.ndarray) else v for v in (a, b)]


# --- parameter keys of the recorder (replay._params_key) -----------------------------------------

def test_parameter_keys_tell_apart_what_acts_differently():
    key = replay._params_key
    same = [({"axes": (1,)}, {"axes": (1,)}),
            ({"a": 1, "b": None}, {"b": None, "a": 1}),
            ({"d": (((1,), (0,)), ((), ()))}, {"d": (((1,), (0,)), ((), ()))}),
            ({"x": 0.5, "s": "f"}, {"x": 0.5, "s": "f"}),
            ({"t": np.float32}, {"t": np.float32})]
    for p, q in same:
        assert key(p, []) == key(q, [])
    different = [({"a": 1}, {"a": True}), ({"a": 0.0}, {"a": -0.0}), ({"a": 1}, {"a": 1.0}),
                 ({"a": (1,)}, {"a": (True,)}), ({"a": (1,)}, {"a": [1]}),
                 ({"a": 1}, {"a": np.int64(1)}), ({"a": (1, 2)}, {"a": (2, 1)}),
                 ({"a": np.dtype("float32")}, {"a": np.dtype("float64")}),
                 # numpy scalars with the same bytes (marshal would write just the bytes)
                 ({"a": np.float32(1.0)}, {"a": np.int32(1065353216)}),
                 ({"a": (np.float32(1.0),)}, {"a": (np.int32(1065353216),)})]
    for p, q in different:
        assert key(p, []) != key(q, []), (p, q)
    # Arrays in parameters are compared by identity (and kept alive by the recording).
    arr = np.ones(2)
    keep = []
    assert key({"a": arr}, keep) == key({"a": arr}, keep) != key({"a": arr.copy()}, keep)
    assert keep and keep[0] is arr
