"""Optimizers: chains of transformations ending in the (negated) learning rate.

learning_rate is a number or a schedule (a function step -> value, see optim.schedules)."""
from ._base import chain, identity
from .transforms import (add_decayed_weights, scale_by_adam, scale_by_learning_rate,
                         scale_by_rms, scale_by_rss, trace)

__all__ = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


def sgd(learning_rate, momentum=None, nesterov=False):
    """Stochastic gradient descent: -lr · g, or with momentum -lr · v_t (v_t = g + momentum ·
    v_{t-1}; nesterov: -lr · (g + momentum · v_t))."""
    if nesterov and not momentum:
        raise ValueError("optim.sgd: nesterov=True needs a momentum")
    direction = trace(momentum, nesterov) if momentum else identity()
    return chain(direction, scale_by_learning_rate(learning_rate))


def momentum(learning_rate, momentum=0.9):
    """SGD with (heavy-ball) momentum."""
    return sgd(learning_rate, momentum)


def nesterov(learning_rate, momentum=0.9):
    """SGD with Nesterov momentum."""
    return sgd(learning_rate, momentum, nesterov=True)


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7):
    """Adagrad: -lr · g / (sqrt(s_t) + eps), s_t the running sum of squared gradients."""
    return chain(scale_by_rss(initial_accumulator_value, eps),
                 scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, momentum=None,
            nesterov=False):
    """RMSProp: -lr · g / (sqrt(v_t) + eps), v_t a moving average of squared gradients; with
    momentum, the momentum applies to that scaled direction."""
    steps = [scale_by_rms(decay, eps, initial_scale)]
    if momentum:
        steps.append(trace(momentum, nesterov))
    return chain(*steps, scale_by_learning_rate(learning_rate))


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """Adam (Kingma & Ba, 2015): -lr · m̂ / (sqrt(v̂) + eps)."""
    return chain(scale_by_adam(b1, b2, eps, eps_root), scale_by_learning_rate(learning_rate))


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, weight_decay=1e-4,
          mask=None):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay,
    -lr · (m̂ / (sqrt(v̂) + eps) + weight_decay · params). update needs params."""
    return chain(scale_by_adam(b1, b2, eps, eps_root), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))
