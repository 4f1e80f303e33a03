"""functrans.example_libraries.stax: shapes, hand-computed outputs, combinators, gradients and
jit; JAX's stax only where installed."""
import numpy as np
import pytest

import functrans as ft
from functrans import random
from functrans.example_libraries import stax

KEY = random.PRNGKey(0)


def test_dense_shapes_and_value():
    init, apply = stax.Dense(3)
    shape, (W, b) = init(KEY, (-1, 2))
    assert shape == (-1, 3) and W.shape == (2, 3) and b.shape == (3,)
    W, b = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([0.5, 0.0, -0.5])
    np.testing.assert_allclose(apply((W, b), np.array([[1.0, -1.0]])), [[-2.5, -3.0, -3.5]])


def test_conv_layer_value_and_shape():
    init, apply = stax.Conv(1, (2, 2), strides=(1, 1), padding="VALID")
    shape, (W, b) = init(KEY, (1, 3, 3, 1))
    assert shape == (1, 2, 2, 1) and W.shape == (2, 2, 1, 1) and b.shape == (1, 1, 1, 1)
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    W = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(2, 2, 1, 1)    # x[i, j] - x[i+1, j+1]
    out = apply((W, np.full((1, 1, 1, 1), 10.0)), x)
    np.testing.assert_allclose(out[0, :, :, 0], [[6.0, 6.0], [6.0, 6.0]])
    s, _ = stax.Conv(4, (3, 3), strides=(2, 2), padding="SAME")[0](KEY, (-1, 7, 7, 2))
    assert s == (-1, 4, 4, 4)


def test_conv_transpose_doubles_the_size():
    init, apply = stax.ConvTranspose(2, (3, 3), strides=(2, 2), padding="SAME")
    shape, params = init(KEY, (1, 4, 4, 3))
    assert shape == (1, 8, 8, 2)
    assert apply(params, np.ones((1, 4, 4, 3))).shape == (1, 8, 8, 2)


def test_pooling_layers():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    for layer, want in ((stax.MaxPool((2, 2), (2, 2)), [[5, 7], [13, 15]]),
                        (stax.SumPool((2, 2), (2, 2)), [[10, 18], [42, 50]]),
                        (stax.AvgPool((2, 2), (2, 2)), [[2.5, 4.5], [10.5, 12.5]])):
        shape, _ = layer[0](KEY, (1, 4, 4, 1))
        assert shape == (1, 2, 2, 1)
        np.testing.assert_allclose(layer[1]((), x)[0, :, :, 0], want)
    # SAME average pooling divides by the number of real elements in each window.
    avg = stax.AvgPool((2, 2), (1, 1), padding="SAME")[1]((), x)
    assert avg[0, 3, 3, 0] == 15.0 and avg[0, 0, 3, 0] == (3 + 7) / 2


@pytest.mark.parametrize("pool", ["MaxPool", "SumPool", "AvgPool"])
def test_pooling_layers_under_jit_grad_and_vmap(pool):
    # AvgPool's window counts once went through np.asarray, which fails on a staged value.
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 3))
    apply = getattr(stax, pool)((3, 2), (2, 1), padding="SAME")[1]

    def loss(x):
        return (apply((), x) ** 2).sum()
    np.testing.assert_allclose(ft.jit(lambda x: apply((), x))(x), apply((), x), rtol=1e-12)
    g = ft.grad(loss)(x)
    np.testing.assert_allclose(ft.jit(ft.grad(loss))(x), g, rtol=1e-12)
    np.testing.assert_allclose(ft.jit(ft.vmap(ft.grad(loss)))(x[:, None])[:, 0],
                               [ft.grad(loss)(x[i:i + 1])[0] for i in range(2)], rtol=1e-12)
    # Central differences on a few coordinates.
    for idx in [(0, 0, 0, 0), (1, 4, 5, 2), (0, 2, 3, 1)]:
        e = np.zeros_like(x)
        e[idx] = 1e-6
        np.testing.assert_allclose((loss(x + e) - loss(x - e)) / 2e-6, g[idx], rtol=1e-5)


def test_batchnorm_normalizes_over_the_batch():
    init, apply = stax.BatchNorm(axis=(0,))
    shape, (beta, gamma) = init(KEY, (4, 2))
    assert shape == (4, 2) and beta.shape == (2,) and gamma.shape == (2,)
    x = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    out = apply((np.array([1.0, -1.0]), np.array([2.0, 1.0])), x)
    z = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(out, z * [2.0, 1.0] + [1.0, -1.0], rtol=1e-12)


def test_dropout_keeps_with_probability_rate_and_rescales():
    init, apply = stax.Dropout(0.5)
    out = np.asarray(apply((), np.ones(1000), rng=random.PRNGKey(1)))
    assert set(np.unique(out)) <= {0.0, 2.0} and 400 < np.count_nonzero(out) < 600
    with pytest.raises(ValueError, match="rng"):
        apply((), np.ones(3))
    np.testing.assert_array_equal(stax.Dropout(0.5, mode="test")[1]((), np.ones(3)), np.ones(3))


def test_activation_layers():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(stax.Relu[1]((), x), [0, 0, 2])
    np.testing.assert_allclose(stax.Tanh[1]((), x), np.tanh(x))
    np.testing.assert_allclose(stax.Sigmoid[1]((), x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(stax.Softplus[1]((), x), np.log1p(np.exp(x)))
    np.testing.assert_allclose(stax.Elu[1]((), x), [np.expm1(-1.0), 0, 2])
    np.testing.assert_allclose(stax.Softmax[1]((), x), np.exp(x) / np.exp(x).sum())
    np.testing.assert_allclose(stax.LogSoftmax[1]((), x), x - np.log(np.exp(x).sum()))
    g = stax.Gelu[1]((), x)
    np.testing.assert_allclose(g[2], 0.5 * 2 * (1 + np.tanh(np.sqrt(2 / np.pi) *
                                                           (2 + 0.044715 * 8))))


def test_combinators():
    x = np.array([[1.0, 2.0]])
    init, apply = stax.serial(stax.FanOut(2), stax.parallel(stax.Identity, stax.Relu),
                              stax.FanInConcat())
    shape, params = init(KEY, (1, 2))
    assert shape == (1, 4) and params == ((), ((), ()), ())
    np.testing.assert_allclose(apply(params, -x), [[-1, -2, 0, 0]])
    init, apply = stax.serial(stax.FanOut(3), stax.FanInSum, stax.Flatten)
    assert init(KEY, (1, 2))[0] == (1, 2)
    np.testing.assert_allclose(apply(init(KEY, (1, 2))[1], x), 3 * x)
    layer = stax.shape_dependent(lambda shape: stax.Dense(shape[-1]))
    shape, (W, _) = layer[0](KEY, (5, 3))
    assert shape == (5, 3) and W.shape == (3, 3)


def test_serial_network_grad_and_jit():
    init, apply = stax.serial(stax.Conv(3, (2, 2)), stax.Relu, stax.MaxPool((2, 2)),
                              stax.Flatten, stax.Dense(2), stax.LogSoftmax)
    shape, params = init(KEY, (-1, 5, 5, 1))
    assert shape == (-1, 2)
    x = np.asarray(random.normal(random.PRNGKey(3), (4, 5, 5, 1)))

    def loss(p):
        return -ft.numpy.mean(apply(p, x)[:, 0])
    np.testing.assert_allclose(ft.jit(apply)(params, x), apply(params, x), rtol=1e-12)
    g = ft.grad(loss)(params)
    # Finite differences along the gradient direction.
    leaves, tree = ft.tree_util.tree_flatten(params)
    gl = ft.tree_util.tree_leaves(g)
    eps = 1e-6
    plus = ft.tree_util.tree_unflatten(tree, [p + eps * d for p, d in zip(leaves, gl)])
    minus = ft.tree_util.tree_unflatten(tree, [p - eps * d for p, d in zip(leaves, gl)])
    fd = (loss(plus) - loss(minus)) / (2 * eps)
    np.testing.assert_allclose(fd, sum(np.vdot(d, d) for d in gl), rtol=1e-5)


def test_matches_jax_stax_where_installed():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax.example_libraries import stax as jstax

    def net(m):
        return m.serial(m.Conv(4, (3, 3), padding="SAME"), m.BatchNorm(), m.Relu,
                        m.AvgPool((2, 2), padding="SAME"), m.Flatten, m.Dense(3), m.LogSoftmax)
    _, params = net(jstax)[0](jax.random.PRNGKey(0), (-1, 6, 6, 2))
    params = jax.tree_util.tree_map(np.asarray, params)
    x = np.asarray(random.normal(KEY, (2, 6, 6, 2)))
    np.testing.assert_allclose(net(stax)[1](params, x), net(jstax)[1](params, x), rtol=1e-10)
