"""vmap: against Python loops, with in_axes/out_axes pytrees, compositions and errors."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import nn
from functrans.core.typecheck import check_program

rng = np.random.default_rng(0)


def loss(params, x, y):
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"]
    return -fnp.sum(nn.log_softmax(logits) * y)


@pytest.fixture
def mlp():
    params = {"w1": rng.standard_normal((6, 8)), "b1": rng.standard_normal(8),
              "w2": rng.standard_normal((8, 3))}
    xs = rng.standard_normal((5, 6))
    ys = np.eye(3)[rng.integers(0, 3, 5)]
    return params, xs, ys


def test_per_example_gradients_match_loop(mlp):
    params, xs, ys = mlp
    batched = ft.vmap(ft.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)
    for i in range(len(xs)):
        gi = ft.grad(loss)(params, xs[i], ys[i])
        for k in params:
            np.testing.assert_allclose(batched[k][i], gi[k], rtol=1e-12, atol=1e-12)


def test_grad_of_vmap_and_vmap_of_vmap(mlp):
    params, xs, ys = mlp
    total = lambda p: fnp.sum(ft.vmap(loss, in_axes=(None, 0, 0))(p, xs, ys))  # noqa: E731
    g = ft.grad(total)(params)
    ref = sum(ft.grad(loss)(params, xs[i], ys[i])["w1"] for i in range(len(xs)))
    np.testing.assert_allclose(g["w1"], ref, rtol=1e-10)
    a = rng.standard_normal((3, 4, 5))
    out = ft.vmap(ft.vmap(lambda v: fnp.sum(v * v)))(a)
    np.testing.assert_allclose(out, (a * a).sum(-1))
    out = ft.vmap(ft.vmap(lambda v, w: v @ w, in_axes=(0, None)), in_axes=(None, 1))(
        a[0], a[1].T)
    np.testing.assert_allclose(out, np.einsum("ij,jk->ki", a[0], a[1].T))


def test_in_axes_out_axes_pytrees_and_negative_axes():
    x = rng.standard_normal((3, 4))
    d = {"a": rng.standard_normal((4, 2)), "b": rng.standard_normal(4)}
    f = lambda x, d: {"s": x * d["b"][0], "t": d["a"].sum()}  # noqa: E731
    out = ft.vmap(f, in_axes=(1, {"a": 0, "b": None}), out_axes={"s": -1, "t": 0})(x, d)
    for i in range(4):
        ref = f(x[:, i], {"a": d["a"][i], "b": d["b"]})
        np.testing.assert_allclose(out["s"][:, i], ref["s"])
        np.testing.assert_allclose(out["t"][i], ref["t"])
    out = ft.vmap(lambda x: x * 2, in_axes=-1)(x)
    np.testing.assert_allclose(out, (x * 2).T)
    # keyword arguments are mapped over axis 0
    out = ft.vmap(lambda x, scale: x * scale)(x, scale=np.arange(3.0))
    np.testing.assert_allclose(out, x * np.arange(3.0)[:, None])


def test_unbatched_output_broadcasts_and_axis_size():
    out = ft.vmap(lambda x: 1.0, axis_size=3, in_axes=None)(np.ones(2))
    np.testing.assert_allclose(out, np.ones(3))
    out = ft.vmap(lambda x, c: c, in_axes=(0, None))(np.ones((4, 2)), np.arange(2.0))
    assert out.shape == (4, 2)


def test_vmap_of_closure_over_batched_value():
    xs = rng.standard_normal((4, 3))

    def outer(x):
        inner = lambda y: fnp.dot(x, y)  # noqa: E731  closes over a batched x
        return ft.vmap(inner)(np.eye(3))
    out = ft.vmap(outer)(xs)
    np.testing.assert_allclose(out, xs)


def test_vmap_under_make_jaxpr_is_one_program():
    closed = ft.make_jaxpr(ft.vmap(lambda a, b: fnp.tanh(a @ b)))(np.ones((5, 2, 3)),
                                                                   np.ones((5, 3, 4)))
    check_program(closed)
    names = [e.primitive.name for e in closed.eqns]
    assert names.count("dot_general") == 1 and "tanh" in names
    assert closed.out_avals[0].shape == (5, 2, 4)


def test_vmap_of_jvp_and_hessian(mlp):
    params, xs, ys = mlp
    f = lambda x: fnp.sum(fnp.sin(x) ** 2)  # noqa: E731
    hs = ft.vmap(ft.hessian(f))(xs)
    for i in range(len(xs)):
        np.testing.assert_allclose(hs[i], ft.hessian(f)(xs[i]), rtol=1e-12)
    tangents = ft.vmap(lambda x: ft.jvp(f, (x,), (np.ones(6),))[1])(xs)
    np.testing.assert_allclose(tangents, np.sin(2 * xs).sum(1))


def test_mismatched_sizes_name_the_arguments():
    with pytest.raises(ValueError, match=r"argument 'x'.*size 3[\s\S]*argument 'y'.*size 4"):
        ft.vmap(lambda x, y: x + y)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="axis 2 of argument 'x', which has rank 1"):
        ft.vmap(lambda x: x, in_axes=2)(np.ones(3))
    with pytest.raises(ValueError, match="at least one non-None"):
        ft.vmap(lambda x: x, in_axes=None)(np.ones(3))
    with pytest.raises(ValueError, match="out_axes is None"):
        ft.vmap(lambda x: x, out_axes=None)(np.ones(3))
    with pytest.raises(ft.core.errors.ConcretizationTypeError):
        ft.vmap(lambda x: 1.0 if x > 0 else 0.0)(np.ones(3))
