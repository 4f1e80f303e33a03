"""functrans.optim: each optimizer against hand-written numpy updates for several steps,
schedules at given steps, clipping, chaining, dtypes and step counts, and traced updates."""
import math

import numpy as np
import pytest

import functrans as ft
from functrans import numpy as fnp
from functrans import optim
from functrans.core.staging import eval_closed

PARAMS = {"w": np.array([[0.5, -1.0], [2.0, 0.25]]), "b": np.array([0.1, -0.3])}
STEPS = 4


def _gradient(step, params):
    """Some gradients that change from step to step (and depend on the parameters)."""
    return {name: np.sin(value * (step + 1)) + 0.1 * step for name, value in params.items()}


def _run(opt, steps=STEPS, params=PARAMS):
    state = opt.init(params)
    history = []
    for t in range(steps):
        updates, state = opt.update(_gradient(t, params), state, params)
        params = optim.apply_updates(params, updates)
        history.append(params)
    return history, state


def _run_numpy(step_fn, steps=STEPS):
    """Run a hand-written per-array update step_fn(t, name, p, g, slot) -> p, with a dict of
    per-parameter scratch slots."""
    params = {k: v.copy() for k, v in PARAMS.items()}
    slots = {k: {} for k in params}
    history = []
    for t in range(steps):
        grads = _gradient(t, params)
        params = {k: step_fn(t + 1, k, params[k], grads[k], slots[k]) for k in params}
        history.append(params)
    return history


def _assert_histories(got, want, rtol=1e-12):
    for step, (g, w) in enumerate(zip(got, want)):
        for name in w:
            np.testing.assert_allclose(g[name], w[name], rtol=rtol, atol=1e-14,
                                       err_msg=f"step {step + 1}, {name}")


def test_sgd():
    def step(t, name, p, g, slot):
        return p - 0.1 * g
    _assert_histories(_run(optim.sgd(0.1))[0], _run_numpy(step))


def test_momentum():
    def step(t, name, p, g, slot):
        slot["v"] = g + 0.9 * slot.get("v", 0)
        return p - 0.05 * slot["v"]
    _assert_histories(_run(optim.momentum(0.05, 0.9))[0], _run_numpy(step))
    _assert_histories(_run(optim.sgd(0.05, momentum=0.9))[0], _run_numpy(step))


def test_nesterov():
    def step(t, name, p, g, slot):
        slot["v"] = g + 0.9 * slot.get("v", 0)
        return p - 0.05 * (g + 0.9 * slot["v"])
    _assert_histories(_run(optim.nesterov(0.05, 0.9))[0], _run_numpy(step))
    with pytest.raises(ValueError, match="nesterov"):
        optim.sgd(0.1, nesterov=True)


def test_adagrad():
    def step(t, name, p, g, slot):
        slot["s"] = slot.get("s", 0.1) + g ** 2
        return p - 0.2 * g / (np.sqrt(slot["s"]) + 1e-7)
    _assert_histories(_run(optim.adagrad(0.2))[0], _run_numpy(step))


def test_rmsprop():
    def step(t, name, p, g, slot):
        slot["v"] = 0.9 * slot.get("v", 0) + 0.1 * g ** 2
        return p - 0.01 * g / (np.sqrt(slot["v"]) + 1e-8)
    _assert_histories(_run(optim.rmsprop(0.01))[0], _run_numpy(step))


def test_rmsprop_with_momentum():
    def step(t, name, p, g, slot):
        slot["v"] = 0.9 * slot.get("v", 0) + 0.1 * g ** 2
        slot["m"] = g / (np.sqrt(slot["v"]) + 1e-8) + 0.5 * slot.get("m", 0)
        return p - 0.01 * slot["m"]
    _assert_histories(_run(optim.rmsprop(0.01, momentum=0.5))[0], _run_numpy(step))


def _adam_step(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    """Kingma & Ba, Algorithm 1 (plus AdamW's decoupled decay, Loshchilov & Hutter, Alg. 2)."""
    def step(t, name, p, g, slot):
        slot["m"] = b1 * slot.get("m", 0) + (1 - b1) * g
        slot["v"] = b2 * slot.get("v", 0) + (1 - b2) * g ** 2
        m_hat = slot["m"] / (1 - b1 ** t)
        v_hat = slot["v"] / (1 - b2 ** t)
        return p - lr * (m_hat / (np.sqrt(v_hat) + eps) + weight_decay * p)
    return step


def test_adam_matches_the_papers_algorithm():
    _assert_histories(_run(optim.adam(0.01))[0], _run_numpy(_adam_step(0.01)))
    _assert_histories(_run(optim.adam(0.03, b1=0.5, b2=0.9, eps=1e-3))[0],
                      _run_numpy(_adam_step(0.03, 0.5, 0.9, 1e-3)))


def test_adam_first_step_moves_each_weight_by_the_learning_rate():
    # With m̂ = g and v̂ = g² at t = 1, the first step is -lr·sign(g) (up to eps).
    history, _ = _run(optim.adam(0.01), steps=1)
    g = _gradient(0, PARAMS)
    for name in PARAMS:
        np.testing.assert_allclose(history[0][name] - PARAMS[name], -0.01 * np.sign(g[name]),
                                   rtol=1e-6)


def test_adamw_decays_weights_decoupled_from_the_gradient():
    _assert_histories(_run(optim.adamw(0.01, weight_decay=0.1))[0],
                      _run_numpy(_adam_step(0.01, weight_decay=0.1)))
    with pytest.raises(ValueError, match="needs the parameters"):
        opt = optim.adamw(0.01)
        opt.update(PARAMS, opt.init(PARAMS))


def test_adamw_mask_limits_the_decay():
    mask = {"w": True, "b": False}
    history, _ = _run(optim.adamw(0.01, weight_decay=0.1, mask=mask))
    want_w = _run_numpy(_adam_step(0.01, weight_decay=0.1))
    want_b = _run_numpy(_adam_step(0.01))
    _assert_histories([{"w": h["w"]} for h in history], [{"w": h["w"]} for h in want_w])
    _assert_histories([{"b": h["b"]} for h in history], [{"b": h["b"]} for h in want_b])


def test_states_count_steps_in_int32_arrays():
    _, state = _run(optim.adam(0.01), steps=3)
    count = state[0].count
    # A numpy int32 (array or scalar), never a Python int: jit sees the same aval every step.
    assert isinstance(count, (np.ndarray, np.generic)) and count.dtype == np.int32
    assert count == 3
    _, state = _run(optim.sgd(optim.constant_schedule(0.1)), steps=5)
    assert state[1].count.dtype == np.int32 and state[1].count == 5


def test_float32_parameters_stay_float32():
    params = {"w": np.ones((2, 2), np.float32)}
    for opt in (optim.sgd(optim.cosine_decay_schedule(0.1, 10)), optim.adam(1e-2),
                optim.adamw(optim.exponential_decay(1e-2, 5, 0.5)),
                optim.rmsprop(1e-2, momentum=0.9), optim.adagrad(0.1),
                optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1))):
        state = opt.init(params)
        p = params
        for _ in range(2):
            updates, state = opt.update({"w": np.full((2, 2), 3.0, np.float32)}, state, p)
            p = optim.apply_updates(p, updates)
        assert updates["w"].dtype == np.float32 and p["w"].dtype == np.float32
        for leaf in ft.tree_util.tree_leaves(state):
            assert np.asarray(leaf).dtype in (np.float32, np.int32)


# --- schedules -----------------------------------------------------------------------------------

def _values(schedule, steps):
    return [float(schedule(t)) for t in steps]


def test_constant_and_piecewise_constant_schedules():
    assert _values(optim.constant_schedule(0.3), [0, 10, 1000]) == [0.3] * 3
    pc = optim.piecewise_constant_schedule(1.0, {10: 0.1, 20: 0.5})
    np.testing.assert_allclose(_values(pc, [0, 9, 10, 19, 20, 100]),
                               [1, 1, 0.1, 0.1, 0.05, 0.05])


def test_step_decay_schedule_is_a_staircase():
    s = optim.step_decay_schedule(0.8, 10, 0.5)
    np.testing.assert_allclose(_values(s, [0, 9, 10, 25, 30]), [0.8, 0.8, 0.4, 0.2, 0.1])


def test_exponential_decay():
    s = optim.exponential_decay(2.0, 10, 0.5)
    np.testing.assert_allclose(_values(s, [0, 5, 10, 20]), [2, 2 * 0.5 ** 0.5, 1, 0.5])
    s = optim.exponential_decay(2.0, 10, 0.5, staircase=True, transition_begin=5)
    np.testing.assert_allclose(_values(s, [0, 5, 14, 15, 25]), [2, 2, 2, 1, 0.5])
    s = optim.exponential_decay(1.0, 1, 0.5, end_value=0.2)
    np.testing.assert_allclose(_values(s, [0, 1, 2, 3, 50]), [1, 0.5, 0.25, 0.2, 0.2])


def test_linear_and_cosine_schedules():
    s = optim.linear_schedule(1.0, 0.0, 10, transition_begin=5)
    np.testing.assert_allclose(_values(s, [0, 5, 10, 15, 100]), [1, 1, 0.5, 0, 0])
    c = optim.cosine_decay_schedule(1.0, 100, alpha=0.1)
    want = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t / 100)) for t in (0, 25, 50, 100)]
    np.testing.assert_allclose(_values(c, [0, 25, 50, 100]), want)
    np.testing.assert_allclose(float(c(500)), 0.1)


def test_warmup_cosine_decay_schedule():
    s = optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=110,
                                           end_value=0.1)
    np.testing.assert_allclose(_values(s, [0, 5, 10, 60, 110, 200]),
                               [0, 0.5, 1, 0.1 + 0.9 * 0.5, 0.1, 0.1], atol=1e-12)
    with pytest.raises(ValueError, match="warmup_steps < decay_steps"):
        optim.warmup_cosine_decay_schedule(0.0, 1.0, 10, 10)


def test_schedules_accept_traced_steps():
    schedules = [optim.piecewise_constant_schedule(1.0, {3: 0.5}),
                 optim.step_decay_schedule(1.0, 2, 0.5), optim.exponential_decay(1.0, 3, 0.7),
                 optim.linear_schedule(1.0, 0.1, 5), optim.cosine_decay_schedule(1.0, 6),
                 optim.warmup_cosine_decay_schedule(0.0, 1.0, 2, 8)]
    steps = np.arange(10, dtype=np.int32)
    for s in schedules:
        np.testing.assert_allclose(ft.vmap(s)(steps), _values(s, range(10)), rtol=1e-12)


def test_sgd_with_a_schedule_uses_the_step_count():
    schedule = optim.piecewise_constant_schedule(0.1, {2: 0.5})
    history, _ = _run(optim.sgd(schedule))

    def step(t, name, p, g, slot):
        return p - (0.1 if t <= 2 else 0.05) * g
    _assert_histories(history, _run_numpy(step))


# --- clipping and chaining -----------------------------------------------------------------------

def test_clip_by_global_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}     # global norm 5
    opt = optim.clip_by_global_norm(1.0)
    clipped, _ = opt.update(grads, opt.init(grads))
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [[0.8]])
    np.testing.assert_allclose(optim.global_norm(clipped), 1.0)
    opt = optim.clip_by_global_norm(10.0)
    same, _ = opt.update(grads, opt.init(grads))
    np.testing.assert_array_equal(same["a"], grads["a"])
    zeros = {"a": np.zeros(2)}
    out, _ = opt.update(zeros, opt.init(zeros))
    np.testing.assert_array_equal(out["a"], np.zeros(2))


def test_clip_by_value():
    opt = optim.clip(0.5)
    out, _ = opt.update({"g": np.array([-2.0, 0.1, 0.7])}, opt.init(None))
    np.testing.assert_allclose(out["g"], [-0.5, 0.1, 0.5])


def test_chain_applies_transformations_in_order():
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1))

    params = {k: v.copy() for k, v in PARAMS.items()}
    state = opt.init(params)
    for t in range(3):
        grads = _gradient(t, params)
        norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
        factor = min(1.0, 1.0 / norm)
        want = {k: params[k] - 0.1 * factor * grads[k] for k in params}
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        _assert_histories([params], [want])
    assert isinstance(state, tuple) and len(state) == 2
    with pytest.raises(ValueError, match="state holds"):
        opt.update(grads, state[:1], params)
    with pytest.raises(TypeError, match="GradientTransformation"):
        optim.chain(optim.sgd(0.1), lambda g: g)


def test_apply_updates_keeps_parameter_dtypes():
    params = {"w": np.ones(2, np.float32)}
    out = optim.apply_updates(params, {"w": np.full(2, 0.5)})
    assert out["w"].dtype == np.float32
    np.testing.assert_array_equal(out["w"], [1.5, 1.5])


# --- traced updates and training -----------------------------------------------------------------

OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1, momentum=0.9),
    "adam": lambda: optim.adam(optim.warmup_cosine_decay_schedule(0.0, 0.1, 2, 10)),
    "adamw": lambda: optim.adamw(0.01, weight_decay=0.1),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "adagrad": lambda: optim.adagrad(0.1),
    "clipped": lambda: optim.chain(optim.clip_by_global_norm(0.5), optim.nesterov(0.1)),
}


def _loss(params, x, y):
    pred = fnp.add(fnp.matmul(x, params["w"]), params["b"])
    return fnp.mean(fnp.square(fnp.subtract(pred, y)))


def _make_step(opt):
    def step(params, state, x, y):
        grads = ft.grad(_loss)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state
    return step


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 2))
    y = x @ np.array([[1.5, -0.5], [0.25, 2.0]]) + np.array([0.3, -0.2])
    return x, y


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_traced_update_step_matches_eager(name):
    opt = OPTIMIZERS[name]()
    step = _make_step(opt)
    x, y = _data()
    params, state = PARAMS, opt.init(PARAMS)
    closed = ft.make_jaxpr(step)(params, state, x, y)
    for _ in range(3):
        want_params, want_state = step(params, state, x, y)
        flat = ft.tree_util.tree_leaves((params, state, x, y))
        got = eval_closed(closed, *flat)
        for g, w in zip(got, ft.tree_util.tree_leaves((want_params, want_state))):
            np.testing.assert_allclose(g, w, rtol=1e-12)
        params, state = want_params, want_state


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_jit_update_step_matches_eager(name):
    opt = OPTIMIZERS[name]()
    step = _make_step(opt)
    jitted = ft.jit(step)
    x, y = _data()
    params, state = PARAMS, opt.init(PARAMS)
    jit_params, jit_state = params, state
    for _ in range(3):
        params, state = step(params, state, x, y)
        jit_params, jit_state = jitted(jit_params, jit_state, x, y)
    assert jitted.cache_size() == 1      # step counts are int32 arrays: no retrace per step
    for g, w in zip(ft.tree_util.tree_leaves((jit_params, jit_state)),
                    ft.tree_util.tree_leaves((params, state))):
        np.testing.assert_allclose(g, w, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_fit_a_linear_regression(name):
    opt = OPTIMIZERS[name]()
    step = _make_step(opt)
    x, y = _data()
    params, state = PARAMS, opt.init(PARAMS)
    start = float(_loss(params, x, y))
    for _ in range(60):
        params, state = step(params, state, x, y)
    assert float(_loss(params, x, y)) < 0.5 * start
