"""Forward and reverse mode, Jacobians, custom rules, the cost model: numbers, not smoke."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax, nn
from functrans.core.typecheck import check_program
from functrans.test_util import check_grads


def mlp_params(rng, sizes=(5, 7, 3), dtype=np.float64):
    return [{"w": rng.standard_normal((m, n)).astype(dtype) / np.sqrt(m),
             "b": rng.standard_normal(n).astype(dtype) * 0.1}
            for m, n in zip(sizes[:-1], sizes[1:])]


def mlp_loss(params, x, y):
    h = x
    for layer in params[:-1]:
        h = fnp.tanh(h @ layer["w"] + layer["b"])
    logits = h @ params[-1]["w"] + params[-1]["b"]
    logp = logits - nn.logsumexp(logits, axis=1, keepdims=True)
    return -fnp.mean(fnp.sum(logp * y, axis=1))


def numpy_backprop(params, x, y):
    """Hand-written reverse mode for mlp_loss: the reference."""
    hs, h = [x], x
    for layer in params[:-1]:
        h = np.tanh(h @ layer["w"] + layer["b"])
        hs.append(h)
    logits = h @ params[-1]["w"] + params[-1]["b"]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = (p - y) / x.shape[0]
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        grads[i] = {"w": hs[i].T @ g, "b": g.sum(0)}
        if i:
            g = (g @ params[i]["w"].T) * (1 - hs[i] ** 2)
    return grads


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    params = mlp_params(rng)
    x = rng.standard_normal((4, 5))
    y = np.eye(3)[rng.integers(0, 3, 4)]
    return params, x, y


def test_grad_of_mlp_matches_handwritten_backprop(data):
    params, x, y = data
    g = ft.grad(mlp_loss)(params, x, y)
    ref = numpy_backprop(params, x, y)
    for gl, rl in zip(g, ref):
        np.testing.assert_allclose(gl["w"], rl["w"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gl["b"], rl["b"], rtol=1e-10, atol=1e-12)
    value, g2 = ft.value_and_grad(mlp_loss)(params, x, y)
    np.testing.assert_allclose(value, mlp_loss(params, x, y))
    np.testing.assert_allclose(g2[0]["w"], g[0]["w"])


def test_grad_argnums_and_has_aux(data):
    params, x, y = data
    gx, gy = ft.grad(mlp_loss, argnums=(1, 2))(params, x, y)
    assert gx.shape == x.shape and gy.shape == y.shape
    check_grads(lambda x: mlp_loss(params, x, y), (x,), order=1)

    def loss_aux(p, x, y):
        return mlp_loss(p, x, y), {"n": x.shape[0], "x0": x[0]}
    g, aux = ft.grad(loss_aux, has_aux=True)(params, x, y)
    assert aux["n"] == 4 and isinstance(aux["x0"], np.ndarray)
    np.testing.assert_allclose(aux["x0"], x[0])


def test_grad_errors_say_what_to_do():
    with pytest.raises(TypeError, match="scalar output.*jacrev or vjp"):
        ft.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(TypeError, match="real- or complex-valued output"):
        ft.grad(lambda x: fnp.sum(x > 0).astype(np.int32))(np.ones(3))
    with pytest.raises(TypeError, match="requires real- or complex-valued inputs.*int32"):
        ft.grad(lambda x: fnp.sum(x) * 1.0)(np.ones(3, np.int32))
    g = ft.grad(lambda x, n: fnp.sum(x) * n, argnums=(0, 1), allow_int=True)(np.ones(2), 3)
    assert g[1].dtype == ft.float0
    np.testing.assert_allclose(g[0], [3.0, 3.0])


def test_jvp_pytrees_int_inputs_and_aux():
    f = lambda d, n: ({"y": fnp.sin(d["a"]) * n}, d["a"] * 2)  # noqa: E731
    primals = ({"a": np.array([0.1, 0.2])}, np.int32(3))
    tangents = ({"a": np.array([1.0, 0.0])}, np.zeros((), ft.float0))
    out, t = ft.jvp(f, primals, tangents)
    np.testing.assert_allclose(t[0]["y"], [3 * np.cos(0.1), 0.0])
    np.testing.assert_allclose(t[1], [2.0, 0.0])
    out, t, aux = ft.jvp(lambda x: (x * x, x + 1), (2.0,), (1.0,), has_aux=True)
    assert (out, t, aux) == (4.0, 4.0, 3.0)
    with pytest.raises(TypeError, match="float0"):
        ft.jvp(lambda n: n * 2, (np.int32(1),), (np.float64(1.0),))


def test_symbolic_zero_tangents_are_never_materialized():
    # Only x carries a tangent: the derivative of sin(c) must not be computed at all.
    def f(x, c):
        return ft.jvp(lambda x: x * fnp.sin(c), (x,), (np.ones(3),))[1]
    closed = ft.make_jaxpr(f)(np.ones(3), np.ones(3))
    check_program(closed)
    assert "cos" not in str(closed)
    _, lin = ft.linearize(lambda x, c: x * fnp.sin(c), np.ones(3), np.ones(3))
    # c's tangent is used: cos appears among the residual computations, not for x alone
    np.testing.assert_allclose(lin(np.ones(3), np.zeros(3)), np.sin(np.ones(3)))


def test_linearize_returns_a_linear_map():
    f = lambda x: fnp.tanh(x[:2] * x[1:])  # noqa: E731
    x = np.array([0.3, -0.2, 0.5])
    y, lin = ft.linearize(f, x)
    np.testing.assert_allclose(y, f(x))
    J = ft.jacfwd(f)(x)
    np.testing.assert_allclose(lin.matrix(), J, rtol=1e-12)
    np.testing.assert_allclose(lin.T.matrix(), J.T, rtol=1e-12)
    v, u = np.array([1.0, 2.0, -1.0]), np.array([0.5, -3.0])
    np.testing.assert_allclose(lin(v), J @ v)
    np.testing.assert_allclose(lin @ v, J @ v)
    np.testing.assert_allclose(lin.T(u), J.T @ u)
    assert repr(lin) == "<linear map (f64[3]) -> (f64[2])>"
    assert repr(lin.T) == "<transposed linear map (f64[2]) -> (f64[3])>"
    check_program(lin.program)


def test_jacfwd_equals_jacrev_and_finite_differences_with_pytrees():
    def f(p):
        return {"s": fnp.sin(p["a"]) * p["b"][0], "t": fnp.outer(p["a"], p["b"]).sum(0)}
    p = {"a": np.array([0.1, 0.4, -0.3]), "b": np.array([1.5, -2.0])}
    jf, jr = ft.jacfwd(f)(p), ft.jacrev(f)(p)
    assert jf["s"]["a"].shape == (3, 3) and jf["t"]["b"].shape == (2, 2)
    assert jf["s"]["b"].shape == (3, 2) and jf["t"]["a"].shape == (2, 3)
    for k in ("s", "t"):
        for j in ("a", "b"):
            np.testing.assert_allclose(jf[k][j], jr[k][j], rtol=1e-12, atol=1e-14)
    eps = 1e-6
    for j in ("a", "b"):
        for i in range(p[j].size):
            dp = {q: v.copy() for q, v in p.items()}
            dm = {q: v.copy() for q, v in p.items()}
            dp[j][i] += eps
            dm[j][i] -= eps
            for k in ("s", "t"):
                fd = (f(dp)[k] - f(dm)[k]) / (2 * eps)
                np.testing.assert_allclose(jf[k][j][:, i], fd, rtol=1e-6, atol=1e-8)


def test_hessian_of_mlp_loss(data):
    params, x, y = data
    w = params[0]["w"][:2, :2].copy()

    def loss_w(w):
        p = [dict(params[0], w=fnp.concatenate([fnp.concatenate([w, params[0]["w"][:2, 2:]], 1),
                                                params[0]["w"][2:]], 0))] + params[1:]
        return mlp_loss(p, x, y)
    H = ft.hessian(loss_w)(w)
    assert H.shape == (2, 2, 2, 2)
    Hm = H.reshape(4, 4)
    np.testing.assert_allclose(Hm, Hm.T, rtol=1e-8, atol=1e-12)
    g = ft.grad(loss_w)
    eps = 1e-5
    for i in range(4):
        e = np.zeros(4)
        e[i] = eps
        fd = (g(w + e.reshape(2, 2)) - g(w - e.reshape(2, 2))).ravel() / (2 * eps)
        np.testing.assert_allclose(Hm[:, i], fd, rtol=1e-5, atol=1e-8)


def test_higher_order_to_any_depth():
    d3 = ft.grad(ft.grad(ft.grad(fnp.sin)))
    np.testing.assert_allclose(d3(0.7), -np.cos(0.7))
    # jvp of grad and grad of jvp
    f = lambda x: fnp.exp(fnp.sin(x)) * x  # noqa: E731
    _, hv = ft.jvp(ft.grad(f), (0.3,), (1.0,))
    g_of_jvp = ft.grad(lambda x: ft.jvp(f, (x,), (1.0,))[1])(0.3)
    np.testing.assert_allclose(hv, g_of_jvp, rtol=1e-12)
    closed = ft.make_jaxpr(ft.grad(ft.grad(f)))(0.3)
    check_program(closed)
    from functrans.core.staging import eval_closed
    np.testing.assert_allclose(eval_closed(closed, 0.3)[0], ft.grad(ft.grad(f))(0.3))
    check_grads(f, (0.3,), order=3)


@pytest.mark.parametrize("fun", [
    lambda x: fnp.sum(fnp.tanh(x) ** 2),
    lambda x: fnp.prod(fnp.cos(x)),
    lambda x: fnp.max(fnp.sin(x) * x),
    lambda x: nn.logsumexp(x * 3.0),
    lambda x: fnp.sum(nn.softmax(x) * fnp.arange(3.0)),
])
def test_check_grads_second_order(fun):
    check_grads(fun, (np.array([0.3, -1.2, 0.8]),), order=2)


def test_custom_jvp():
    @ft.custom_jvp
    def log1pexp(x):
        return fnp.log1p(fnp.exp(x))
    log1pexp.defjvps(lambda t, ans, x: t * nn.sigmoid(x))
    # The naive derivative overflows at x = 1000; the custom rule does not.
    assert ft.grad(log1pexp)(1000.0) == 1.0
    np.testing.assert_allclose(ft.grad(log1pexp)(0.5), 1 / (1 + np.exp(-0.5)))
    check_grads(log1pexp, (np.array([0.1, 2.0]),), order=2)
    assert ft.vmap(ft.grad(log1pexp))(np.array([0.0, 1000.0])).tolist() == [0.5, 1.0]

    @ft.custom_jvp
    def scaled(n, x):
        return x * n
    scaled.nondiff_argnums = (0,)
    scaled.defjvp(lambda n, primals, tangents: (scaled(n, *primals), tangents[0] * n * 10))
    assert ft.grad(lambda x: scaled(2.0, x))(1.0) == 20.0


def test_custom_vjp_and_forward_mode_error():
    @ft.custom_vjp
    def clip_gradient(x):
        return x

    def fwd(x):
        return x, None

    def bwd(res, g):
        return (fnp.clip(g, -1.0, 1.0),)
    clip_gradient.defvjp(fwd, bwd)
    g = ft.grad(lambda x: fnp.sum(clip_gradient(x) * np.array([5.0, 0.5])))(np.ones(2))
    np.testing.assert_allclose(g, [1.0, 0.5])
    per_example = ft.vmap(ft.grad(lambda x: clip_gradient(x) * 3.0))(np.ones(2))
    np.testing.assert_allclose(per_example, [1.0, 1.0])
    with pytest.raises(Exception, match="custom_vjp"):
        ft.jvp(clip_gradient, (1.0,), (1.0,))


def test_checkpoint_recomputes_instead_of_storing():
    def block(x):
        for _ in range(4):
            x = fnp.sin(x) * 1.1
        return x

    def f(x):
        return fnp.sum(block(block(x)))
    x = np.linspace(0, 1, 50)
    remat = lambda x: fnp.sum(ft.checkpoint(block)(ft.checkpoint(block)(x)))  # noqa: E731
    np.testing.assert_allclose(ft.grad(remat)(x), ft.grad(f)(x), rtol=1e-12)
    stored = sum(r.nbytes for r in ft.saved_residuals(f, x))
    rematted = sum(r.nbytes for r in ft.saved_residuals(remat, x))
    assert rematted < stored / 3
    check_grads(remat, (x[:3],), order=2)


def test_jacobian_mode_auto_picks_by_shape_and_explains():
    wide = lambda x: fnp.tanh(x).sum() * fnp.ones(2)  # noqa: E731  R^200 -> R^2
    tall = lambda x: fnp.outer(fnp.sin(x), fnp.ones(200)).ravel()  # noqa: E731  R^2 -> R^400
    jw = ft.jacobian(wide)
    # lopsided enough that measured eager costs (dispatch dominates small programs) agree
    Jw = jw(np.ones(3000))
    assert jw.last_decision.mode == "rev" and "reverse" in jw.last_decision.reason
    np.testing.assert_allclose(Jw, ft.jacfwd(wide)(np.ones(3000)))
    jt = ft.jacobian(tall)
    jt(np.ones(2))
    assert jt.last_decision.mode == "fwd"
    assert ft.jacobian(tall, mode="rev")(np.ones(2)).shape == (400, 2)
    report = ft.compare_modes(wide, np.ones(200), repeats=2)
    text = str(report)
    assert "R^200 -> R^2" in text and "forward" in text and "reverse" in text
    assert set(report.measured) == {"fwd", "rev"}
    assert report.forward.passes == 200 and report.reverse.passes == 2
    with pytest.raises(ValueError, match="mode"):
        ft.jacobian(wide, mode="sideways")


def test_explain_shows_the_chain_of_jacobians():
    w = np.ones((4, 3))
    report = ft.explain(lambda x: fnp.tanh(x @ w).T)(np.ones((2, 4)))
    names = [s.primitive for s in report.steps]
    assert names == ["dot_general", "tanh", "transpose"]
    structures = {s.primitive: s.structure for s in report.steps}
    assert "dense" in structures["dot_general"] and structures["tanh"] == "diagonal"
    assert "permutation" in structures["transpose"]
    assert report.steps[0].jacobian_shapes[0] == (6, 8)
    assert "dot_general" in str(report)


def test_edge_case_conventions():
    # relu, abs and max: the derivative at the kink
    assert ft.grad(nn.relu)(0.0) == 0.0
    assert ft.grad(fnp.abs)(0.0) == 0.0
    np.testing.assert_allclose(ft.grad(lambda x: fnp.maximum(x, 1.0))(1.0), 0.5)
    assert ft.grad(fnp.sqrt)(0.0) == np.inf
    # where with an unsafe branch: the NaN-gradient trap and the double-where idiom
    unsafe = lambda x: fnp.where(x > 0, fnp.sqrt(x), 0.0)  # noqa: E731
    assert np.isnan(ft.grad(unsafe)(0.0))
    safe = lambda x: fnp.where(x > 0, fnp.sqrt(fnp.where(x > 0, x, 1.0)), 0.0)  # noqa: E731
    assert ft.grad(safe)(0.0) == 0.0
    # float32 stays float32
    g = ft.grad(lambda x: fnp.sum(fnp.tanh(x) * 2.0))(np.ones(3, np.float32))
    assert g.dtype == np.float32


def test_reverse_mode_keeps_only_needed_residuals(data):
    params, x, y = data
    res = ft.saved_residuals(mlp_loss, params, x, y)
    total = sum(r.nbytes for r in res)
    values = sum(a.nbytes for a in [x, y] + [v for p in params for v in p.values()])
    activations = 4 * (7 + 3 + 3) * 8
    # residuals are a small multiple of the activations plus the parameters and inputs
    assert total <= 4 * (values + activations)


def test_checkpoint_of_a_closure_over_a_differentiated_value():
    x = np.array([0.3, -0.4])

    def f(w):
        block = ft.checkpoint(lambda h: fnp.tanh(w * h + 1.0))
        return fnp.sum(block(block(x)))

    def plain(w):
        block = lambda h: fnp.tanh(w * h + 1.0)  # noqa: E731
        return fnp.sum(block(block(x)))
    w = np.array([0.7, 1.3])
    np.testing.assert_allclose(ft.grad(f)(w), ft.grad(plain)(w), rtol=1e-12)
    assert np.all(ft.grad(f)(w) != 0)
    np.testing.assert_allclose(ft.jit(ft.grad(f))(w), ft.grad(plain)(w), rtol=1e-12)
    np.testing.assert_allclose(ft.grad(ft.jit(f))(w), ft.grad(plain)(w), rtol=1e-12)


def test_custom_rules_refuse_closures_over_traced_values():
    def f(w):
        @ft.custom_vjp
        def g(x):
            return x * w
        g.defvjp(lambda x: (x * w, None), lambda res, ct: (ct * w,))
        return g(2.0)
    with pytest.raises(TypeError, match="custom_vjp function g closes over a traced value f64\[\]"):
        ft.grad(f)(3.0)
