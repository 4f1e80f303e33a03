"""functrans.example_libraries.optimizers: each update rule against numbers computed by hand
(two steps on one scalar or a small array), schedules, state packing, clip_grads, jit."""
import numpy as np
import pytest

import functrans as ft
from functrans.example_libraries import optimizers as opt


def run(optimizer, x0, grads):
    init, update, get_params = optimizer
    state = init(x0)
    for i, g in enumerate(grads):
        state = update(i, g, state)
    return get_params(state)


def test_sgd_momentum_nesterov():
    x0, g = np.array(1.0), [np.array(0.5), np.array(-1.0)]
    # sgd: 1 - 0.1*0.5 - 0.1*(-1) = 1.05
    np.testing.assert_allclose(run(opt.sgd(0.1), x0, g), 1.05)
    # momentum mass 0.9: v1 = 0.5, x1 = 0.95; v2 = 0.45 - 1 = -0.55, x2 = 0.95 + 0.055 = 1.005
    np.testing.assert_allclose(run(opt.momentum(0.1, 0.9), x0, g), 1.005)
    # nesterov: v1 = 0.5, x1 = 1 - 0.1*(0.45 + 0.5) = 0.905; v2 = -0.55,
    # x2 = 0.905 - 0.1*(0.9*-0.55 - 1) = 1.0545
    np.testing.assert_allclose(run(opt.nesterov(0.1, 0.9), x0, g), 1.0545)


def test_adagrad_rmsprop():
    x0, g = np.array(1.0), [np.array(2.0), np.array(1.0)]
    # adagrad (momentum 0.9): s1 = 4, m1 = 0.1*1 = 0.1, x1 = 0.99; s2 = 5,
    # m2 = 0.1/sqrt(5) + 0.09, x2 = 0.99 - 0.1*m2
    m2 = 0.1 / np.sqrt(5) + 0.09
    np.testing.assert_allclose(run(opt.adagrad(0.1), x0, g), 0.99 - 0.1 * m2)
    # rmsprop (gamma 0.9, eps 1e-8): a1 = 0.4, x1 = 1 - 0.1*2/sqrt(0.4+eps);
    # a2 = 0.36 + 0.1 = 0.46, x2 = x1 - 0.1/sqrt(0.46+eps)
    x1 = 1 - 0.2 / np.sqrt(0.4 + 1e-8)
    np.testing.assert_allclose(run(opt.rmsprop(0.1), x0, g), x1 - 0.1 / np.sqrt(0.46 + 1e-8))
    # rmsprop_momentum: m1 = 0.1*2/sqrt(0.4+eps), m2 = 0.9*m1 + 0.1/sqrt(0.46+eps)
    m1 = 0.2 / np.sqrt(0.4 + 1e-8)
    m2 = 0.9 * m1 + 0.1 / np.sqrt(0.46 + 1e-8)
    np.testing.assert_allclose(run(opt.rmsprop_momentum(0.1), x0, g), 1 - m1 - m2)


def test_adam_adamax():
    x0, g = np.array(1.0), [np.array(2.0), np.array(1.0)]
    # adam: m1 = 0.2, v1 = 0.004; m̂ = 2, v̂ = 4: x1 = 1 - 0.1*2/(2+eps)
    x1 = 1 - 0.1 * 2 / (2 + 1e-8)
    m2, v2 = 0.9 * 0.2 + 0.1, 0.999 * 0.004 + 0.001
    mh, vh = m2 / (1 - 0.81), v2 / (1 - 0.999 ** 2)
    np.testing.assert_allclose(run(opt.adam(0.1), x0, g), x1 - 0.1 * mh / (np.sqrt(vh) + 1e-8),
                               rtol=1e-12)
    # adamax: m1 = 0.2, u1 = 2, x1 = 1 - 0.1/0.1 * 0.2/(2+eps); m2 = 0.28, u2 = max(1.998, 1)
    x1 = 1 - (0.1 / 0.1) * 0.2 / (2 + 1e-8)
    x2 = x1 - (0.1 / (1 - 0.81)) * 0.28 / (1.998 + 1e-8)
    np.testing.assert_allclose(run(opt.adamax(0.1), x0, g), x2, rtol=1e-12)


def test_sm3_on_a_matrix():
    x0 = np.zeros((2, 2))
    g1 = np.array([[1.0, 2.0], [3.0, 4.0]])
    # Step 1: accumulators are zero, acc = g², m = 0.1 * g/|g| = 0.1 * sign(g), x = -0.01
    x1 = run(opt.sm3(0.1), x0, [g1])
    np.testing.assert_allclose(x1, -0.01 * np.ones((2, 2)))
    # Step 2 with g2 = 1: row accumulators max over columns of acc1 = [4, 16], column
    # accumulators [9, 16]; acc2 = min(row, col) + 1 = [[5, 5], [10, 17]].
    g2 = np.ones((2, 2))
    acc2 = np.array([[5.0, 5.0], [10.0, 17.0]])
    m2 = 0.1 * g2 / np.sqrt(acc2) + 0.9 * 0.1
    np.testing.assert_allclose(run(opt.sm3(0.1), x0, [g1, g2]), -0.01 - 0.1 * m2)
    assert run(opt.sm3(0.1), np.array(2.0), [np.array(1.0)]).shape == ()


def test_schedules():
    assert [float(opt.exponential_decay(1.0, 2, 0.5)(i)) for i in (0, 2, 4)] == [1.0, 0.5, 0.25]
    assert [float(opt.inverse_time_decay(1.0, 2, 1.0)(i)) for i in (0, 2, 3)] == \
        [1.0, 0.5, 1 / 2.5]
    assert [float(opt.inverse_time_decay(1.0, 2, 1.0, staircase=True)(i)) for i in (1, 3)] == \
        [1.0, 0.5]
    np.testing.assert_allclose([opt.polynomial_decay(1.0, 4, 0.2, power=2)(i)
                                for i in (0, 2, 4, 9)], [1.0, 0.4, 0.2, 0.2])
    assert [float(opt.piecewise_constant([2, 4], [1.0, 0.5, 0.1])(i)) for i in (0, 2, 3, 5)] \
        == [1.0, 1.0, 0.5, 0.1]
    assert opt.constant(0.3)(100) == 0.3
    # A schedule drives sgd: steps of 1.0 then 0.5 on gradient 1.
    np.testing.assert_allclose(run(opt.sgd(opt.exponential_decay(1.0, 1, 0.5)), np.array(0.0),
                                   [np.array(1.0)] * 2), -1.5)
    with pytest.raises(ValueError, match="one more value"):
        opt.piecewise_constant([1, 2], [1.0])


def test_pytrees_state_packing_and_jit():
    params = {"w": np.ones((2, 3)), "b": [np.zeros(3), np.array(1.0)]}
    grads = ft.tree_util.tree_map(lambda p: np.full(np.shape(p), 0.5), params)
    init, update, get_params = opt.adam(0.01)
    state = init(params)
    eager = update(0, grads, state)
    jitted = ft.jit(update)(np.int32(0), grads, state)
    for a, b in zip(ft.tree_util.tree_leaves(get_params(eager)),
                    ft.tree_util.tree_leaves(get_params(jitted))):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    unpacked = opt.unpack_optimizer_state(eager)
    assert isinstance(unpacked["w"], opt.JoinPoint)
    np.testing.assert_allclose(unpacked["w"].subtree[0], get_params(eager)["w"])
    repacked = opt.pack_optimizer_state(unpacked)
    np.testing.assert_allclose(get_params(repacked)["b"][1], get_params(eager)["b"][1])
    with pytest.raises(TypeError, match="tree structure"):
        update(0, {"w": grads["w"]}, state)


def test_clip_grads_and_l2_norm():
    tree = {"a": np.array([3.0, 0.0]), "b": np.array(4.0)}
    assert float(opt.l2_norm(tree)) == 5.0
    clipped = opt.clip_grads(tree, 1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], 0.8)
    np.testing.assert_allclose(opt.clip_grads(tree, 10.0)["a"], [3.0, 0.0])


def test_float32_parameters_stay_float32():
    x = np.ones(3, np.float32)
    for make in (opt.sgd, opt.adam, opt.rmsprop, opt.adagrad, opt.adamax, opt.sm3):
        out = run(make(0.1), x, [np.full(3, 0.5, np.float32)] * 2)
        assert np.asarray(out).dtype == np.float32, make.__name__
