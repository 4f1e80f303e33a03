"""Gradient transformations: the building blocks optimizers are chained from (optax's names).

Each returns a GradientTransformation; formulas use g for the incoming updates (gradients, at
the start of a chain) and t = 1, 2, ... for the step being taken."""
from typing import Any, NamedTuple

import numpy as np

from .. import numpy as fnp
from .. import tree_util
from ._base import (EmptyState, GradientTransformation, dtype_of, global_norm, increment,
                    scale_leaf, step_count, zeros_like_tree)

__all__ = ["scale", "scale_by_schedule", "scale_by_learning_rate", "trace", "scale_by_adam",
           "scale_by_rms", "scale_by_rss", "add_decayed_weights", "clip", "clip_by_global_norm"]


class ScaleByScheduleState(NamedTuple):
    count: Any          # int32 array: steps taken so far


class TraceState(NamedTuple):
    trace: Any


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any             # first moment estimates, one per parameter
    nu: Any             # second moment estimates


class ScaleByRmsState(NamedTuple):
    nu: Any


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


def _tree_map(fn, *trees):
    return tree_util.tree_map(fn, *trees)


def scale(step_size):
    """g · step_size."""
    def init(params):
        return EmptyState()

    def update(grads, state, params=None):
        return _tree_map(lambda g: scale_leaf(g, step_size), grads), state
    return GradientTransformation(init, update)


def scale_by_schedule(schedule):
    """g · schedule(count), count the number of steps taken before this one."""
    def init(params):
        return ScaleByScheduleState(step_count())

    def update(grads, state, params=None):
        factor = schedule(state.count)
        updates = _tree_map(lambda g: scale_leaf(g, factor), grads)
        return updates, ScaleByScheduleState(increment(state.count))
    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate, flip_sign=True):
    """g · -learning_rate (descent); learning_rate is a number or a schedule step -> value."""
    sign = -1.0 if flip_sign else 1.0
    if callable(learning_rate):
        return scale_by_schedule(lambda count: fnp.multiply(sign, learning_rate(count)))
    return scale(sign * learning_rate)


def trace(decay, nesterov=False):
    """Momentum: v_t = g + decay · v_{t-1} (v_0 = 0); updates are v_t, or g + decay · v_t with
    nesterov=True (Sutskever et al.'s formulation)."""
    def init(params):
        return TraceState(zeros_like_tree(params))

    def update(grads, state, params=None):
        new_trace = _tree_map(lambda g, v: fnp.add(g, scale_leaf(v, decay)), grads, state.trace)
        updates = _tree_map(lambda g, v: fnp.add(g, scale_leaf(v, decay)), grads, new_trace) \
            if nesterov else new_trace
        return updates, TraceState(new_trace)
    return GradientTransformation(init, update)


def _bias_correction(decay, count):
    """1 - decay ** t, in float64."""
    return fnp.subtract(1.0, fnp.power(decay, fnp.asarray(count, dtype=np.float64)))


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """Adam's direction (Kingma & Ba, Algorithm 1): m_t = b1 m + (1 - b1) g,
    v_t = b2 v + (1 - b2) g², updates m̂ / (sqrt(v̂ + eps_root) + eps) with the bias-corrected
    m̂ = m_t / (1 - b1**t), v̂ = v_t / (1 - b2**t)."""
    def init(params):
        return ScaleByAdamState(step_count(), zeros_like_tree(params), zeros_like_tree(params))

    def update(grads, state, params=None):
        count = increment(state.count)
        mu = _tree_map(lambda g, m: fnp.add(scale_leaf(m, b1), scale_leaf(g, 1 - b1)),
                       grads, state.mu)
        nu = _tree_map(lambda g, v: fnp.add(scale_leaf(v, b2), scale_leaf(fnp.square(g), 1 - b2)),
                       grads, state.nu)
        c1, c2 = _bias_correction(b1, count), _bias_correction(b2, count)

        def direction(m, v):
            m_hat = fnp.divide(m, fnp.asarray(c1, dtype=dtype_of(m)))
            v_hat = fnp.divide(v, fnp.asarray(c2, dtype=dtype_of(v)))
            return fnp.divide(m_hat, fnp.add(fnp.sqrt(fnp.add(v_hat, eps_root)), eps))
        return _tree_map(direction, mu, nu), ScaleByAdamState(count, mu, nu)
    return GradientTransformation(init, update)


def scale_by_rms(decay=0.9, eps=1e-8, initial_scale=0.0):
    """RMSProp's direction (Tieleman & Hinton): v_t = decay · v + (1 - decay) g², updates
    g / (sqrt(v_t) + eps), with v_0 = initial_scale."""
    def init(params):
        return ScaleByRmsState(_tree_map(lambda p: fnp.full_like(p, initial_scale), params))

    def update(grads, state, params=None):
        nu = _tree_map(lambda g, v: fnp.add(scale_leaf(v, decay),
                                            scale_leaf(fnp.square(g), 1 - decay)),
                       grads, state.nu)
        updates = _tree_map(lambda g, v: fnp.divide(g, fnp.add(fnp.sqrt(v), eps)), grads, nu)
        return updates, ScaleByRmsState(nu)
    return GradientTransformation(init, update)


def scale_by_rss(initial_accumulator_value=0.1, eps=1e-7):
    """Adagrad's direction (Duchi et al.): s_t = s + g² (s_0 = initial_accumulator_value),
    updates g / (sqrt(s_t) + eps)."""
    def init(params):
        return ScaleByRssState(_tree_map(lambda p: fnp.full_like(p, initial_accumulator_value),
                                         params))

    def update(grads, state, params=None):
        sums = _tree_map(lambda g, s: fnp.add(s, fnp.square(g)), grads, state.sum_of_squares)
        updates = _tree_map(lambda g, s: fnp.divide(g, fnp.add(fnp.sqrt(s), eps)), grads, sums)
        return updates, ScaleByRssState(sums)
    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay=0.0, mask=None):
    """g + weight_decay · params (decoupled weight decay, when chained before the learning
    rate). mask: a pytree of bools like params (or a function params -> such a tree) choosing
    the parameters that decay; None decays all."""
    def init(params):
        return EmptyState()

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("optim.add_decayed_weights (and adamw) needs the parameters: call "
                             "update(grads, state, params)")
        chosen = mask(params) if callable(mask) else mask
        if chosen is None:
            return _tree_map(lambda g, p: fnp.add(g, scale_leaf(p, weight_decay)),
                             grads, params), state
        return _tree_map(lambda g, p, m: fnp.add(g, scale_leaf(p, weight_decay)) if m else g,
                         grads, params, chosen), state
    return GradientTransformation(init, update)


def clip(max_delta):
    """Each element of g clipped to [-max_delta, max_delta]."""
    def init(params):
        return EmptyState()

    def update(grads, state, params=None):
        return _tree_map(lambda g: fnp.clip(g, -max_delta, max_delta), grads), state
    return GradientTransformation(init, update)


def clip_by_global_norm(max_norm):
    """g scaled by max_norm / ||g|| when the global norm ||g|| of all leaves together exceeds
    max_norm (Pascanu et al.); unchanged otherwise."""
    def init(params):
        return EmptyState()

    def update(grads, state, params=None):
        norm = global_norm(grads)
        # The where keeps the division away from norm = 0 (in value and in derivative).
        factor = fnp.where(fnp.greater(norm, max_norm),
                           fnp.divide(max_norm, fnp.maximum(norm, max_norm)), 1.0)
        return _tree_map(lambda g: scale_leaf(g, factor), grads), state
    return GradientTransformation(init, update)
