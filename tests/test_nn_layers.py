"""functrans.nn initializers, stax-style layers and losses: shapes, variances, the numbers of
numpy formulas, and gradients against finite differences."""
import math

import numpy as np
import pytest

import functrans as ft
from functrans import random
from functrans.nn import activations, initializers, layers, losses


def _central_differences(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (float(f(x + step)) - float(f(x - step))) / (2 * eps)
    return grad


# --- initializers --------------------------------------------------------------------------------

def test_he_normal_has_variance_two_over_fan_in():
    w = initializers.he_normal()(random.key(0), (500, 400))
    assert w.dtype == np.float32 and w.shape == (500, 400)
    np.testing.assert_allclose(w.var(), 2 / 500, rtol=0.03)
    assert abs(w.mean()) < 5 * math.sqrt(2 / 500 / w.size)
    # Truncated at two standard deviations of the underlying normal.
    assert np.abs(w).max() <= 2 * math.sqrt(2 / 500) / initializers._TRUNCATED_STD * (1 + 1e-6)
    assert initializers.kaiming_normal is initializers.he_normal


def test_he_uniform_bounds_and_variance():
    w = initializers.he_uniform()(random.key(1), (500, 400), np.float64)
    limit = math.sqrt(6 / 500)
    assert w.dtype == np.float64 and np.abs(w).max() < limit
    np.testing.assert_allclose(w.var(), 2 / 500, rtol=0.03)
    assert initializers.kaiming_uniform is initializers.he_uniform


def test_glorot_initializers_use_the_average_fan():
    fan_in, fan_out = 300, 500
    w = initializers.glorot_normal()(random.key(2), (fan_in, fan_out))
    np.testing.assert_allclose(w.var(), 2 / (fan_in + fan_out), rtol=0.03)
    u = initializers.glorot_uniform()(random.key(3), (fan_in, fan_out))
    assert np.abs(u).max() < math.sqrt(6 / (fan_in + fan_out))
    np.testing.assert_allclose(u.var(), 2 / (fan_in + fan_out), rtol=0.03)
    assert initializers.xavier_normal is initializers.glorot_normal
    assert initializers.xavier_uniform is initializers.glorot_uniform


def test_lecun_and_plain_normal():
    w = initializers.lecun_normal()(random.key(4), (400, 300))
    np.testing.assert_allclose(w.var(), 1 / 400, rtol=0.03)
    n = initializers.normal(0.5)(random.key(5), (200_000,))
    np.testing.assert_allclose(n.std(), 0.5, rtol=0.01)
    n = initializers.variance_scaling(3.0, "fan_out", "normal")(random.key(6), (100, 300))
    np.testing.assert_allclose(n.var(), 3.0 / 300, rtol=0.03)


def test_fans_of_convolution_kernels_include_the_receptive_field():
    # HWIO kernel: fan_in = 3·3·16, fan_out = 3·3·32.
    w = initializers.he_normal()(random.key(7), (3, 3, 16, 32))
    np.testing.assert_allclose(w.var(), 2 / (3 * 3 * 16), rtol=0.05)


def test_constant_initializers():
    z = initializers.zeros(random.key(0), (2, 3))
    assert z.dtype == np.float32 and not z.any()
    o = initializers.ones(random.key(0), (4,), np.float64)
    assert o.dtype == np.float64 and (o == 1).all()
    c = initializers.constant(0.25)(random.key(0), (3,))
    np.testing.assert_array_equal(c, np.full(3, 0.25, np.float32))


def test_initializers_are_reproducible_and_key_dependent():
    init = initializers.he_normal()
    np.testing.assert_array_equal(init(random.key(0), (3, 4)), init(random.key(0), (3, 4)))
    assert not np.array_equal(init(random.key(0), (3, 4)), init(random.key(1), (3, 4)))


def test_initializer_errors():
    with pytest.raises(ValueError, match="rank >= 2"):
        initializers.he_normal()(random.key(0), (5,))
    with pytest.raises(ValueError, match="mode"):
        initializers.variance_scaling(1.0, "fan_sideways", "normal")
    with pytest.raises(TypeError, match="floating-point"):
        initializers.he_normal()(random.key(0), (3, 3), np.int32)


# --- layers --------------------------------------------------------------------------------------

def test_dense_shapes_and_numbers():
    init, apply = layers.dense(4, b_init=initializers.normal(1.0), dtype=np.float64)
    out_shape, params = init(random.key(0), (-1, 3))
    assert out_shape == (-1, 4)
    assert params["w"].shape == (3, 4) and params["b"].shape == (4,)
    assert params["w"].dtype == np.float64
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(apply(params, x), x @ params["w"] + params["b"], rtol=1e-12)
    with pytest.raises(ValueError, match="last axis"):
        init(random.key(0), (5, -1))


def test_serial_threads_shapes_params_and_keys():
    init, apply = layers.serial(layers.dense(8), layers.Relu, layers.dense(3), layers.Softmax)
    out_shape, params = init(random.key(0), (-1, 5))
    assert out_shape == (-1, 3)
    assert len(params) == 4 and params[1] == () and params[3] == ()
    assert params[0]["w"].shape == (5, 8) and params[2]["w"].shape == (8, 3)
    x = np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32)
    probs = apply(params, x)
    assert probs.shape == (6, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)
    hidden = np.maximum(x @ params[0]["w"] + params[0]["b"], 0)
    logits = hidden @ params[2]["w"] + params[2]["b"]
    want = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs, want / want.sum(1, keepdims=True), rtol=1e-5)
    with pytest.raises(ValueError, match="params for 2 layers"):
        apply(params[:2], x)


def test_activation_layers_apply_the_activation_functions():
    x = np.linspace(-3, 3, 13)
    for layer, fn in [(layers.Relu, activations.relu), (layers.Tanh, np.tanh),
                      (layers.Sigmoid, activations.sigmoid), (layers.Gelu, activations.gelu),
                      (layers.LogSoftmax, activations.log_softmax)]:
        init, apply = layer
        assert init(random.key(0), (2, 13)) == ((2, 13), ())
        np.testing.assert_allclose(apply((), x), fn(x), rtol=1e-12)


def test_flatten_layer():
    init, apply = layers.flatten()
    assert init(random.key(0), (-1, 2, 3))[0] == (-1, 6)
    assert apply((), np.zeros((4, 2, 3))).shape == (4, 6)


def test_dropout_is_inverted_and_off_at_evaluation():
    init, apply = layers.dropout(0.25)
    assert init(random.key(0), (10, 3)) == ((10, 3), ())
    x = np.ones((200, 500), np.float32)
    y = apply((), x, key=random.key(1))
    assert y.dtype == np.float32
    kept = y != 0
    # Kept units are scaled by exactly 1 / (1 - rate); the drop fraction is the rate.
    np.testing.assert_array_equal(y[kept], np.float32(1 / 0.75))
    n = x.size
    assert abs((~kept).mean() - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n)
    assert abs(y.mean() - 1) < 5 * math.sqrt((1 / 0.75 - 1) / n)     # expectation preserved
    np.testing.assert_array_equal(apply((), x, key=random.key(1), train=False), x)
    np.testing.assert_array_equal(apply((), x, key=random.key(1)), y)   # same key, same mask
    assert not np.array_equal(apply((), x, key=random.key(2)), y)


def test_dropout_modes_and_errors():
    _, apply_eval = layers.dropout(0.5, mode="eval")
    x = np.arange(6.0)
    np.testing.assert_array_equal(apply_eval((), x), x)
    assert (apply_eval((), x, key=random.key(0), train=True) != x).any()
    _, apply = layers.dropout(0.5)
    with pytest.raises(ValueError, match="needs a random key"):
        apply((), x)
    with pytest.raises(ValueError, match="rate"):
        layers.dropout(1.0)
    with pytest.raises(ValueError, match="mode"):
        layers.dropout(0.1, mode="test")


def test_dropout_inside_serial_gets_its_own_key():
    init, apply = layers.serial(layers.dense(50), layers.dropout(0.5), layers.dense(2))
    _, params = init(random.key(0), (-1, 4))
    x = np.ones((3, 4), np.float32)
    a = apply(params, x, key=random.key(1))
    np.testing.assert_array_equal(a, apply(params, x, key=random.key(1)))
    assert not np.array_equal(a, apply(params, x, key=random.key(2)))
    evaluated = apply(params, x, train=False)
    hidden = x @ params[0]["w"] + params[0]["b"]
    np.testing.assert_allclose(evaluated, hidden @ params[2]["w"] + params[2]["b"], rtol=1e-5)


def _numpy_mlp(params, x, act):
    for i, p in enumerate(params):
        x = x @ p["w"] + p["b"]
        if i < len(params) - 1:
            x = act(x)
    return x


def test_mlp_params_are_a_list_of_dense_dicts():
    init, apply = layers.mlp([16, 8, 3], dtype=np.float64)
    out_shape, params = init(random.key(0), (-1, 5))
    assert out_shape == (-1, 3)
    assert isinstance(params, list) and len(params) == 3
    assert [p["w"].shape for p in params] == [(5, 16), (16, 8), (8, 3)]
    assert [p["b"].shape for p in params] == [(16,), (8,), (3,)]
    x = np.random.default_rng(0).standard_normal((7, 5))
    np.testing.assert_allclose(apply(params, x), _numpy_mlp(params, x, lambda h: np.maximum(h, 0)),
                               rtol=1e-12)


def test_mlp_activation_by_name_or_callable_and_final_activation():
    x = np.random.default_rng(1).standard_normal((4, 3))
    init, apply = layers.mlp([6, 2], activation="tanh", final_activation="softmax",
                             dtype=np.float64)
    _, params = init(random.key(0), (4, 3))
    out = apply(params, x)
    logits = _numpy_mlp(params, x, np.tanh)
    want = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    init, apply = layers.mlp([6, 2], activation=lambda h: h * 2, dtype=np.float64)
    _, params = init(random.key(0), (4, 3))
    np.testing.assert_allclose(apply(params, x), _numpy_mlp(params, x, lambda h: h * 2),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="unknown activation"):
        layers.mlp([3], activation="swoosh")
    with pytest.raises(ValueError, match="positive widths"):
        layers.mlp([3, 0])


def test_mlp_dropout_only_in_training():
    init, apply = layers.mlp([64, 2], dropout_rate=0.5, dtype=np.float64)
    _, params = init(random.key(0), (-1, 3))
    x = np.ones((5, 3))
    evaluated = apply(params, x)
    np.testing.assert_allclose(evaluated, _numpy_mlp(params, x, lambda h: np.maximum(h, 0)))
    trained = apply(params, x, key=random.key(1), train=True)
    assert not np.allclose(trained, evaluated)
    with pytest.raises(ValueError, match="needs a random key"):
        apply(params, x, train=True)


def test_mlp_gradients_match_finite_differences():
    init, apply = layers.mlp([4, 3], activation="tanh", dtype=np.float64)
    _, params = init(random.key(0), (-1, 2))
    x = np.random.default_rng(2).standard_normal((6, 2))
    labels = np.array([0, 1, 2, 0, 1, 2])

    def loss(params):
        return losses.softmax_cross_entropy(apply(params, x), labels)
    grads = ft.grad(loss)(params)
    for layer in range(2):
        for name in ("w", "b"):
            def f(v, layer=layer, name=name):
                p = [dict(q) for q in params]
                p[layer][name] = v
                return loss(p)
            np.testing.assert_allclose(grads[layer][name],
                                       _central_differences(f, params[layer][name]),
                                       rtol=1e-6, atol=1e-8)


# --- losses --------------------------------------------------------------------------------------

def _numpy_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


LOGITS = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [-3.0, 4.0, 1.0], [1.0, 1.0, 1.0]])
LABELS = np.array([0, 2, 1, 1])


def test_softmax_cross_entropy_with_integer_one_hot_and_soft_labels():
    want = -np.mean(_numpy_log_softmax(LOGITS)[np.arange(4), LABELS])
    np.testing.assert_allclose(losses.softmax_cross_entropy(LOGITS, LABELS), want, rtol=1e-12)
    one_hot = np.eye(3)[LABELS]
    np.testing.assert_allclose(losses.softmax_cross_entropy(LOGITS, one_hot), want, rtol=1e-12)
    soft = np.full((4, 3), 1 / 3)
    np.testing.assert_allclose(losses.softmax_cross_entropy(LOGITS, soft),
                               -np.mean((soft * _numpy_log_softmax(LOGITS)).sum(-1)), rtol=1e-12)
    # A single example (no batch axis) gives its own loss.
    np.testing.assert_allclose(losses.softmax_cross_entropy(LOGITS[0], 0),
                               -_numpy_log_softmax(LOGITS[0])[0], rtol=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
    loss = losses.softmax_cross_entropy(logits, np.array([0, 0]))
    np.testing.assert_allclose(loss, 1000.0, rtol=1e-12)    # (0 + 2000) / 2
    g = ft.grad(losses.softmax_cross_entropy)(logits, np.array([0, 0]))
    assert np.all(np.isfinite(g))


def test_softmax_cross_entropy_label_shape_errors():
    with pytest.raises(ValueError, match="integer labels"):
        losses.softmax_cross_entropy(LOGITS, np.array([0, 1]))
    with pytest.raises(ValueError, match="class distributions"):
        losses.softmax_cross_entropy(LOGITS, np.ones((4, 2)))


def test_mse_and_binary_cross_entropy():
    p, t = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 1.0])
    np.testing.assert_allclose(losses.mse(p, t), np.mean((p - t) ** 2), rtol=1e-12)
    z, y = np.array([-2.0, 0.0, 3.0, 50.0]), np.array([0.0, 1.0, 1.0, 0.0])
    # log σ(z) = -log(1 + e^-z) and log(1 - σ(z)) = -log(1 + e^z): no 1 - σ(50) = 0 here.
    want = np.mean(y * np.log1p(np.exp(-z)) + (1 - y) * np.log1p(np.exp(z)))
    np.testing.assert_allclose(losses.sigmoid_binary_cross_entropy(z, y), want, rtol=1e-9)


def test_multiclass_hinge_loss_matches_cs231n_example_and_a_loop():
    # CS231n's example: scores of cat, car, frog images; losses 2.9, 0 and 12.9.
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    np.testing.assert_allclose(losses.multiclass_hinge_loss(scores, np.array([0, 1, 2])),
                               (2.9 + 0 + 12.9) / 3, rtol=1e-12)
    rng = np.random.default_rng(0)
    s, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    want = np.mean([sum(max(0, s[i, j] - s[i, y[i]] + 1) for j in range(4) if j != y[i])
                    for i in range(6)])
    np.testing.assert_allclose(losses.multiclass_hinge_loss(s, y), want, rtol=1e-12)
    np.testing.assert_allclose(losses.multiclass_hinge_loss(s, np.eye(4)[y]), want, rtol=1e-12)


def test_penalties_over_pytrees():
    params = [{"w": np.array([[1.0, -2.0]]), "b": np.array([3.0])}, {"w": np.array([-0.5])},
              {"steps": np.array(7)}]      # integer leaves are not penalized
    np.testing.assert_allclose(losses.l1_penalty(params), 1 + 2 + 3 + 0.5)
    np.testing.assert_allclose(losses.l2_penalty(params), 1 + 4 + 9 + 0.25)
    g = ft.grad(losses.l2_penalty)(params[:2])
    np.testing.assert_allclose(g[0]["w"], 2 * params[0]["w"])
    np.testing.assert_allclose(g[1]["w"], 2 * params[1]["w"])
    assert losses.l2_penalty({}) == 0.0


def test_accuracy():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    np.testing.assert_allclose(losses.accuracy(logits, np.array([1, 0, 0, 0])), 0.75)
    np.testing.assert_allclose(losses.accuracy(logits, np.eye(2)[[1, 0, 0, 0]]), 0.75)


@pytest.mark.parametrize("loss_fn, labels", [
    (losses.softmax_cross_entropy, LABELS),
    (losses.softmax_cross_entropy, np.full((4, 3), 1 / 3)),
    (losses.multiclass_hinge_loss, LABELS),
    (losses.mse, np.ones((4, 3))),
    (losses.sigmoid_binary_cross_entropy, (LOGITS > 0).astype(np.float64)),
])
def test_loss_gradients_match_finite_differences(loss_fn, labels):
    grad = ft.grad(loss_fn)(LOGITS, labels)
    np.testing.assert_allclose(grad, _central_differences(lambda z: loss_fn(z, labels), LOGITS),
                               rtol=1e-6, atol=1e-9)


def test_jit_of_a_layer_and_loss_matches_eager():
    init, apply = layers.mlp([8, 3], dtype=np.float64)
    _, params = init(random.key(0), (-1, 4))
    x = np.random.default_rng(3).standard_normal((5, 4))
    y = np.array([0, 1, 2, 0, 1])

    def loss(params, x, y):
        return losses.softmax_cross_entropy(apply(params, x), y)
    np.testing.assert_allclose(ft.jit(loss)(params, x, y), loss(params, x, y), rtol=1e-12)
    jit_grads = ft.jit(ft.grad(loss))(params, x, y)
    for a, b in zip(ft.tree_util.tree_leaves(jit_grads),
                    ft.tree_util.tree_leaves(ft.grad(loss)(params, x, y))):
        np.testing.assert_allclose(a, b, rtol=1e-12)
