"""Layers in the stax style: a layer is a pair (init_fn, apply_fn) of pure functions.

    init_fn(key, input_shape) -> (output_shape, params)
    apply_fn(params, x, **kwargs) -> y

Shapes may use -1 for a size not known at initialization (the batch). `serial` chains layers;
its params are a tuple of the layers' params, and it hands each layer its own subkey of the
`key` keyword and passes the other keywords (such as `train`) to every layer. Layers ignore
keywords they do not use.

`mlp` builds a whole multilayer perceptron whose params are a plain list of {"w", "b"} dicts,
one per dense layer, convenient to inspect and to hand to functrans.optim.

Dropout note: `dropout(rate)` takes the probability of *dropping* a unit (as in PyTorch, Keras
and Flax), not stax's keep probability.
"""
import operator

import numpy as np

from .. import numpy as fnp
from .. import random
from . import activations, initializers

__all__ = ["dense", "serial", "elementwise", "dropout", "mlp", "flatten",
           "Relu", "Tanh", "Sigmoid", "Gelu", "Softmax", "LogSoftmax", "Identity"]


def dense(out_dim, w_init=None, b_init=initializers.zeros, dtype=np.float32):
    """A fully connected layer y = x @ w + b; params {"w": (in_dim, out_dim), "b": (out_dim,)}.

    w_init defaults to glorot_normal() (as stax's Dense); b_init to zeros."""
    out_dim = operator.index(out_dim)
    w_init = initializers.glorot_normal() if w_init is None else w_init

    def init_fn(key, input_shape):
        input_shape = tuple(input_shape)
        if not input_shape or input_shape[-1] < 0:
            raise ValueError(f"nn.layers.dense: the input's last axis (features) must have a "
                             f"known size, got input_shape {input_shape}")
        w_key, b_key = random.split(key)
        params = {"w": w_init(w_key, (input_shape[-1], out_dim), dtype),
                  "b": b_init(b_key, (out_dim,), dtype)}
        return input_shape[:-1] + (out_dim,), params

    def apply_fn(params, x, **kwargs):
        return fnp.add(fnp.matmul(x, params["w"]), params["b"])

    return init_fn, apply_fn


def elementwise(fn, **fn_kwargs):
    """A parameterless layer applying fn(x, **fn_kwargs)."""
    def init_fn(key, input_shape):
        return tuple(input_shape), ()

    def apply_fn(params, x, **kwargs):
        return fn(x, **fn_kwargs)

    return init_fn, apply_fn


Relu = elementwise(activations.relu)
Tanh = elementwise(activations.tanh)
Sigmoid = elementwise(activations.sigmoid)
Gelu = elementwise(activations.gelu)
Softmax = elementwise(activations.softmax, axis=-1)
LogSoftmax = elementwise(activations.log_softmax, axis=-1)
Identity = elementwise(lambda x: x)


def flatten():
    """A layer reshaping each example to a vector: (batch, d1, d2, ...) -> (batch, d1*d2*...)."""
    def init_fn(key, input_shape):
        input_shape = tuple(input_shape)
        if any(d < 0 for d in input_shape[1:]):
            raise ValueError(f"nn.layers.flatten: all axes but the batch axis must have known "
                             f"sizes, got input_shape {input_shape}")
        return (input_shape[0], int(np.prod(input_shape[1:], dtype=np.int64))), ()

    def apply_fn(params, x, **kwargs):
        return fnp.reshape(x, (fnp.shape(x)[0], -1))

    return init_fn, apply_fn


def serial(*layers):
    """Layers applied one after another; params is a tuple of each layer's params.

    apply_fn(params, x, key=None, **kwargs): `key`, if given, is split into one subkey per
    layer; the other keywords reach every layer."""
    if not layers:
        raise ValueError("nn.layers.serial: needs at least one layer")
    init_fns, apply_fns = zip(*layers)

    def init_fn(key, input_shape):
        params = []
        shape = tuple(input_shape)
        for init, layer_key in zip(init_fns, random.split(key, len(layers))):
            shape, p = init(layer_key, shape)
            params.append(p)
        return shape, tuple(params)

    def apply_fn(params, x, key=None, **kwargs):
        if len(params) != len(apply_fns):
            raise ValueError(f"nn.layers.serial: got params for {len(params)} layers, the "
                             f"network has {len(apply_fns)}")
        keys = random.split(key, len(apply_fns)) if key is not None else [None] * len(apply_fns)
        for apply, p, layer_key in zip(apply_fns, params, keys):
            x = apply(p, x, key=layer_key, **kwargs)
        return x

    return init_fn, apply_fn


def _dropout_mask_apply(x, rate, key, name):
    """Inverted dropout: each element kept with probability 1 - rate and scaled by 1/(1 - rate),
    so that the expectation of the output is x."""
    if key is None:
        raise ValueError(f"nn.layers.{name}: training-mode dropout needs a random key: call "
                         "apply_fn(params, x, key=key), or pass train=False to evaluate")
    keep_prob = 1.0 - rate
    x = fnp.asarray(x)
    keep = random.bernoulli(key, keep_prob, fnp.shape(x))
    scaled = fnp.divide(x, keep_prob)
    return fnp.where(keep, scaled, fnp.zeros_like(scaled))


def _check_rate(name, rate):
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"nn.layers.{name}: rate (the probability of dropping a unit) must be "
                         f"in [0, 1), got {rate}")
    return rate


def dropout(rate, mode="train"):
    """Inverted dropout: in training, each unit is zeroed with probability `rate` and the kept
    ones are scaled by 1 / (1 - rate), so the expected output equals the input; at evaluation
    it is the identity.

    apply_fn(params, x, key=None, train=None): train=None follows `mode` ("train" or "eval");
    training needs a key."""
    rate = _check_rate("dropout", rate)
    if mode not in ("train", "eval"):
        raise ValueError(f"nn.layers.dropout: mode must be 'train' or 'eval', got {mode!r}")

    def init_fn(key, input_shape):
        return tuple(input_shape), ()

    def apply_fn(params, x, key=None, train=None, **kwargs):
        training = (mode == "train") if train is None else bool(train)
        if not training or rate == 0.0:
            return x
        return _dropout_mask_apply(x, rate, key, "dropout")

    return init_fn, apply_fn


def _activation(name, activation):
    if callable(activation):
        return activation
    fn = getattr(activations, str(activation), None)
    if fn is None or str(activation) not in activations.__all__:
        raise ValueError(f"nn.layers.{name}: unknown activation {activation!r}; use a callable "
                         f"or one of {sorted(activations.__all__)}")
    return fn


def mlp(sizes, activation="relu", w_init=None, b_init=initializers.zeros, dtype=np.float32,
        final_activation=None, dropout_rate=0.0):
    """A multilayer perceptron: dense layers of the widths in `sizes` (hidden layers, then the
    output; the input width comes from init_fn's input_shape), `activation` (a name from
    functrans.nn.activations or a callable) after every layer but the last, and
    `final_activation` (None: none) after the last.

    Returns (init_fn, apply_fn); params is a list of {"w", "b"} dicts, one per layer.
    apply_fn(params, x, key=None, train=False): with dropout_rate > 0 and train=True, inverted
    dropout follows each hidden activation (it needs a key)."""
    sizes = [operator.index(s) for s in sizes]
    if not sizes or any(s <= 0 for s in sizes):
        raise ValueError(f"nn.layers.mlp: sizes must be a non-empty list of positive widths, "
                         f"got {sizes}")
    act = _activation("mlp", activation)
    final = None if final_activation is None else _activation("mlp", final_activation)
    dropout_rate = _check_rate("mlp", dropout_rate)
    layers = [dense(s, w_init, b_init, dtype) for s in sizes]

    def init_fn(key, input_shape):
        shape = tuple(input_shape)
        params = []
        for (init, _), layer_key in zip(layers, random.split(key, len(layers))):
            shape, p = init(layer_key, shape)
            params.append(p)
        return shape, params

    def apply_fn(params, x, key=None, train=False, **kwargs):
        if len(params) != len(layers):
            raise ValueError(f"nn.layers.mlp: got params for {len(params)} layers, the network "
                             f"has {len(layers)}")
        use_dropout = train and dropout_rate > 0
        keys = random.split(key, len(layers)) if use_dropout and key is not None else None
        for i, ((_, apply), p) in enumerate(zip(layers, params)):
            x = apply(p, x)
            if i < len(layers) - 1:
                x = act(x)
                if use_dropout:
                    x = _dropout_mask_apply(x, dropout_rate, None if keys is None else keys[i],
                                            "mlp")
        return x if final is None else final(x)

    return init_fn, apply_fn
