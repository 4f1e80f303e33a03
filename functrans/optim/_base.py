"""The GradientTransformation protocol, chain, and applying updates to parameters."""
from typing import Callable, NamedTuple

import numpy as np

from .. import numpy as fnp
from .. import tree_util


class GradientTransformation(NamedTuple):
    """A pure optimizer step as a pair of functions (optax's protocol):

    init(params) -> state
    update(grads, state, params=None) -> (updates, new_state)

    `updates` has the structure of grads and is *added* to the parameters (apply_updates), so
    a descent step returns negative multiples of the gradient. States are pytrees of arrays
    (step counts are int32 arrays), so an update step can be jitted once and reused."""
    init: Callable
    update: Callable


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none."""


def identity():
    """Updates = grads."""
    def init(params):
        return EmptyState()

    def update(grads, state, params=None):
        return grads, state
    return GradientTransformation(init, update)


def chain(*transforms):
    """Apply transformations in order, each to the previous one's updates; the state is the
    tuple of their states."""
    transforms = tuple(transforms)
    for t in transforms:
        if not isinstance(t, GradientTransformation):
            raise TypeError(f"optim.chain: expected GradientTransformations, got {t!r:.80}")

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None):
        if len(state) != len(transforms):
            raise ValueError(f"optim.chain: the state holds {len(state)} entries for "
                             f"{len(transforms)} transformations (was it made by this chain's "
                             "init?)")
        new_state = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)
    return GradientTransformation(init, update)


def dtype_of(x):
    return np.dtype(fnp.result_type(x))


def apply_updates(params, updates):
    """params + updates, leaf by leaf; each result keeps its parameter's dtype."""
    return tree_util.tree_map(
        lambda p, u: fnp.asarray(fnp.add(p, u), dtype=dtype_of(p)), params, updates)


def global_norm(tree):
    """The Euclidean norm of all leaves together: sqrt(sum of every element squared)."""
    leaves = tree_util.tree_leaves(tree)
    return fnp.sqrt(sum((fnp.sum(fnp.square(x)) for x in leaves), 0.0))


def zeros_like_tree(tree):
    return tree_util.tree_map(fnp.zeros_like, tree)


def scale_leaf(x, factor):
    """x · factor, with factor (a number or a traced scalar) cast to x's dtype, so that a
    float64 learning rate does not promote float32 updates."""
    return fnp.multiply(x, fnp.asarray(factor, dtype=dtype_of(x)))


def step_count():
    """A fresh step counter: an int32 array (an array, so a jitted step sees no new constant)."""
    return np.zeros((), np.int32)


def increment(count):
    return fnp.add(count, np.int32(1))
