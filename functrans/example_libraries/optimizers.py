"""Optimizers as (init_fun, update_fun, get_params) triples (jax.example_libraries.optimizers).

    opt_init, opt_update, get_params = optimizers.adam(1e-3)
    opt_state = opt_init(params)
    opt_state = opt_update(step, grads, opt_state)     # step: the iteration index i
    params = get_params(opt_state)

Each optimizer is written for one array (init(x0) -> state, update(i, g, state) -> state,
get_params(state) -> x); the @optimizer decorator lifts it to pytrees of parameters, with an
OptimizerState that is itself a pytree (so a jitted step takes and returns it).
step_size may be a number or a schedule i -> step size.

Where functrans.optim already holds the math, it is used: momentum and nesterov are
optim.trace, adam is optim.scale_by_adam, and exponential_decay is optim's schedule. The others
follow the update rules stated in each docstring.
"""
import functools
from typing import Any, Callable, NamedTuple

import numpy as np

from .. import numpy as fnp
from .. import optim
from .. import tree_util

__all__ = ["OptimizerState", "Optimizer", "optimizer", "sgd", "momentum", "nesterov", "adagrad",
           "rmsprop", "rmsprop_momentum", "adam", "adamax", "sm3", "constant",
           "exponential_decay", "inverse_time_decay", "polynomial_decay", "piecewise_constant",
           "make_schedule", "l2_norm", "clip_grads", "unpack_optimizer_state",
           "pack_optimizer_state", "JoinPoint"]


class OptimizerState(NamedTuple):
    """Per-parameter states, flattened: packed_state[k] is the tuple of state arrays of the
    k-th parameter leaf; tree_def is the parameters' structure, subtree_defs each leaf's state
    structure (static)."""
    packed_state: Any
    tree_def: Any
    subtree_defs: Any


tree_util.register_pytree_node(
    OptimizerState,
    lambda s: ((s.packed_state,), (s.tree_def, s.subtree_defs)),
    lambda aux, kids: OptimizerState(kids[0], aux[0], aux[1]))


class Optimizer(NamedTuple):
    init_fn: Callable
    update_fn: Callable
    params_fn: Callable


def optimizer(opt_maker):
    """Lift an optimizer written for one array to one over pytrees of arrays."""
    @functools.wraps(opt_maker)
    def tree_opt_maker(*args, **kwargs):
        init, update, get_params = opt_maker(*args, **kwargs)

        def tree_init(x0_tree):
            leaves, tree = tree_util.tree_flatten(x0_tree)
            states = [init(x0) for x0 in leaves]
            flat, subtrees = [], []
            for s in states:
                sl, sd = tree_util.tree_flatten(s)
                flat.append(tuple(sl))
                subtrees.append(sd)
            return OptimizerState(tuple(flat), tree, tuple(subtrees))

        def tree_update(i, grad_tree, opt_state):
            packed, tree, subtrees = opt_state
            grads, grad_tree_def = tree_util.tree_flatten(grad_tree)
            if grad_tree_def != tree:
                raise TypeError(f"optimizers: the gradient's tree structure {grad_tree_def} "
                                f"differs from the parameters' {tree} (the state was made by "
                                "init_fun on other parameters)")
            states = [tree_util.tree_unflatten(sd, leaves) for sd, leaves in zip(subtrees, packed)]
            new = [update(i, g, s) for g, s in zip(grads, states)]
            return OptimizerState(tuple(tuple(tree_util.tree_leaves(s)) for s in new), tree,
                                  subtrees)

        def tree_get_params(opt_state):
            packed, tree, subtrees = opt_state
            states = [tree_util.tree_unflatten(sd, leaves) for sd, leaves in zip(subtrees, packed)]
            return tree_util.tree_unflatten(tree, [get_params(s) for s in states])
        return Optimizer(tree_init, tree_update, tree_get_params)
    return tree_opt_maker


# --- schedules -----------------------------------------------------------------------------------

def constant(step_size):
    def schedule(i):
        return step_size
    return schedule


def exponential_decay(step_size, decay_steps, decay_rate):
    """step_size · decay_rate ** (i / decay_steps)."""
    return optim.exponential_decay(step_size, decay_steps, decay_rate)


def inverse_time_decay(step_size, decay_steps, decay_rate, staircase=False):
    """step_size / (1 + decay_rate · i / decay_steps), the ratio floored if staircase."""
    def schedule(i):
        t = fnp.divide(fnp.asarray(i, dtype=np.float64), decay_steps)
        if staircase:
            t = fnp.floor(t)
        return fnp.divide(step_size, fnp.add(1.0, fnp.multiply(decay_rate, t)))
    return schedule


def polynomial_decay(step_size, decay_steps, final_step_size, power=1.0):
    """(step_size - final) · (1 - min(i, decay_steps) / decay_steps) ** power + final."""
    def schedule(i):
        t = fnp.minimum(fnp.asarray(i, dtype=np.float64), decay_steps)
        frac = fnp.subtract(1.0, fnp.divide(t, decay_steps))
        return fnp.add(fnp.multiply(step_size - final_step_size, fnp.power(frac, power)),
                       final_step_size)
    return schedule


def piecewise_constant(boundaries, values):
    """values[k] for the k-th interval: values[0] while i <= boundaries[0], values[1] while
    i <= boundaries[1], ... (len(values) == len(boundaries) + 1)."""
    boundaries = np.asarray(boundaries)
    values = np.asarray(values)
    if values.shape[0] != boundaries.shape[0] + 1:
        raise ValueError(f"optimizers.piecewise_constant: needs one more value than boundaries, "
                         f"got {values.shape[0]} values and {boundaries.shape[0]} boundaries")

    def schedule(i):
        return fnp.asarray(values)[fnp.sum(fnp.greater(i, boundaries))]
    return schedule


def make_schedule(scalar_or_schedule):
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if np.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise TypeError(f"optimizers: step_size must be a number or a schedule (a function of the "
                    f"step), got {type(scalar_or_schedule).__name__}")


def _lr(step_size, i, like):
    """The step size at step i, in the dtype of `like` (float32 parameters stay float32)."""
    return fnp.asarray(step_size(i), dtype=optim._base.dtype_of(like))


# --- optimizers ----------------------------------------------------------------------------------

@optimizer
def sgd(step_size):
    """x <- x - step_size(i) · g."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0

    def update(i, g, x):
        return fnp.subtract(x, fnp.multiply(_lr(step_size, i, x), g))

    def get_params(x):
        return x
    return init, update, get_params


def _trace_optimizer(step_size, mass, nesterov):
    step_size = make_schedule(step_size)
    direction = optim.trace(mass, nesterov=nesterov)

    def init(x0):
        return x0, direction.init(x0).trace

    def update(i, g, state):
        x, velocity = state
        upd, new = direction.update(g, optim.TraceState(velocity))
        return fnp.subtract(x, fnp.multiply(_lr(step_size, i, x), upd)), new.trace

    def get_params(state):
        return state[0]
    return init, update, get_params


@optimizer
def momentum(step_size, mass):
    """v <- mass · v + g; x <- x - step_size(i) · v."""
    return _trace_optimizer(step_size, mass, nesterov=False)


@optimizer
def nesterov(step_size, mass):
    """v <- mass · v + g; x <- x - step_size(i) · (mass · v + g)."""
    return _trace_optimizer(step_size, mass, nesterov=True)


def _inv_sqrt_or_zero(s):
    safe = fnp.where(fnp.greater(s, 0), s, 1)
    return fnp.where(fnp.greater(s, 0), fnp.divide(1, fnp.sqrt(safe)), 0)


@optimizer
def adagrad(step_size, momentum=0.9):
    """s <- s + g²; m <- (1 - momentum) · g / sqrt(s) + momentum · m (0 where s = 0);
    x <- x - step_size(i) · m."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, g_sq, m = state
        g_sq = fnp.add(g_sq, fnp.square(g))
        scaled = fnp.multiply(g, _inv_sqrt_or_zero(g_sq))
        m = fnp.add(fnp.multiply(1.0 - momentum, scaled), fnp.multiply(momentum, m))
        return fnp.subtract(x, fnp.multiply(_lr(step_size, i, x), m)), g_sq, m

    def get_params(state):
        return state[0]
    return init, update, get_params


@optimizer
def rmsprop(step_size, gamma=0.9, eps=1e-8):
    """a <- gamma · a + (1 - gamma) · g²; x <- x - step_size(i) · g / sqrt(a + eps)."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0)

    def update(i, g, state):
        x, avg = state
        avg = fnp.add(fnp.multiply(avg, gamma), fnp.multiply(fnp.square(g), 1.0 - gamma))
        step = fnp.divide(g, fnp.sqrt(fnp.add(avg, eps)))
        return fnp.subtract(x, fnp.multiply(_lr(step_size, i, x), step)), avg

    def get_params(state):
        return state[0]
    return init, update, get_params


@optimizer
def rmsprop_momentum(step_size, gamma=0.9, eps=1e-8, momentum=0.9):
    """a <- gamma · a + (1 - gamma) · g²; m <- momentum · m + step_size(i) · g / sqrt(a + eps);
    x <- x - m."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, avg, mom = state
        avg = fnp.add(fnp.multiply(avg, gamma), fnp.multiply(fnp.square(g), 1.0 - gamma))
        mom = fnp.add(fnp.multiply(momentum, mom),
                      fnp.multiply(_lr(step_size, i, x), fnp.divide(g, fnp.sqrt(
                          fnp.add(avg, eps)))))
        return fnp.subtract(x, mom), avg, mom

    def get_params(state):
        return state[0]
    return init, update, get_params


@optimizer
def adam(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """Adam: m, v the moving averages of g and g², bias-corrected by 1 - b ** (i + 1);
    x <- x - step_size(i) · m̂ / (sqrt(v̂) + eps)."""
    step_size = make_schedule(step_size)
    direction = optim.scale_by_adam(b1, b2, eps)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, m, v = state
        # scale_by_adam counts the step itself: starting from i it corrects with b ** (i + 1).
        count = fnp.asarray(i, dtype=np.int32)
        upd, new = direction.update(g, optim.ScaleByAdamState(count, m, v))
        return fnp.subtract(x, fnp.multiply(_lr(step_size, i, x), upd)), new.mu, new.nu

    def get_params(state):
        return state[0]
    return init, update, get_params


@optimizer
def adamax(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """AdaMax: m <- (1 - b1) · g + b1 · m; u <- max(b2 · u, |g|);
    x <- x - step_size(i) / (1 - b1 ** (i + 1)) · m / (u + eps)."""
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, fnp.zeros_like(x0), fnp.zeros_like(x0)

    def update(i, g, state):
        x, m, u = state
        m = fnp.add(fnp.multiply(1 - b1, g), fnp.multiply(b1, m))
        u = fnp.maximum(fnp.multiply(b2, u), fnp.abs(g))
        dt = optim._base.dtype_of(x)
        correction = fnp.subtract(1.0, fnp.power(fnp.asarray(b1, dt),
                                                 fnp.add(fnp.asarray(i, dt), 1)))
        lr = fnp.divide(_lr(step_size, i, x), correction)
        return fnp.subtract(x, fnp.multiply(lr, fnp.divide(m, fnp.add(u, eps)))), m, u

    def get_params(state):
        return state[0]
    return init, update, get_params


@optimizer
def sm3(step_size, momentum=0.9):
    """SM3 (Anil et al. 2019): one accumulator per axis of the parameter (a vector along that
    axis); each step, acc = min over axes of the accumulators (broadcast) + g²,
    m <- (1 - momentum) · g / sqrt(acc) + momentum · m (0 where acc = 0), x <- x - step_size(i)
    · m, and each axis's accumulator becomes acc's maximum over the other axes."""
    step_size = make_schedule(step_size)

    def init(x0):
        shape = np.shape(x0)
        x = fnp.atleast_1d(x0)
        vs = tuple(fnp.zeros(fnp.shape(x)[k], dtype=optim._base.dtype_of(x))
                   for k in range(fnp.ndim(x)))
        return x, fnp.zeros_like(x), vs, np.zeros(shape + (0,))

    def update(i, g, state):
        x, m, vs, shape_marker = state
        g = fnp.reshape(g, fnp.shape(x))
        nd = fnp.ndim(x)

        def along(v, k):
            return fnp.reshape(v, tuple(-1 if j == k else 1 for j in range(nd)))
        acc = functools.reduce(fnp.minimum, [along(v, k) for k, v in enumerate(vs)])
        acc = fnp.add(acc, fnp.square(g))
        m = fnp.add(fnp.multiply(1.0 - momentum, fnp.multiply(g, _inv_sqrt_or_zero(acc))),
                    fnp.multiply(momentum, m))
        x = fnp.subtract(x, fnp.multiply(_lr(step_size, i, x), m))
        vs = tuple(fnp.max(acc, axis=tuple(j for j in range(nd) if j != k)) if nd > 1 else acc
                   for k in range(nd))
        return x, m, vs, shape_marker

    def get_params(state):
        x, _, _, shape_marker = state
        return fnp.reshape(x, np.shape(shape_marker)[:-1])
    return init, update, get_params


# --- utilities ------------------------------------------------------------------------------------

def l2_norm(tree):
    """The Euclidean norm of all leaves together."""
    return optim.global_norm(tree)


def clip_grads(grad_tree, max_norm):
    """Scale the gradients down so their joint l2 norm is at most max_norm."""
    norm = l2_norm(grad_tree)

    def clip(g):
        return fnp.where(fnp.less(norm, max_norm), g,
                         fnp.multiply(g, fnp.divide(max_norm, norm)))
    return tree_util.tree_map(clip, grad_tree)


class JoinPoint:
    """Marks where a parameter's own state tree joins the parameters' tree in an unpacked
    optimizer state (a leaf of the outer tree)."""

    def __init__(self, subtree):
        self.subtree = subtree

    def __repr__(self):
        return f"JoinPoint({self.subtree!r})"


def unpack_optimizer_state(opt_state):
    """An OptimizerState as a nested structure of plain Python containers and arrays (to save
    it, e.g. with pickle): the parameters' tree with a JoinPoint of each parameter's state."""
    packed, tree, subtrees = opt_state
    states = [JoinPoint(tree_util.tree_unflatten(sd, list(leaves)))
              for sd, leaves in zip(subtrees, packed)]
    return tree_util.tree_unflatten(tree, states)


def pack_optimizer_state(marked_pytree):
    """The inverse of unpack_optimizer_state."""
    joins, tree = tree_util.tree_flatten(marked_pytree,
                                         is_leaf=lambda x: isinstance(x, JoinPoint))
    if not all(isinstance(j, JoinPoint) for j in joins):
        raise TypeError("optimizers.pack_optimizer_state: expected the output of "
                        "unpack_optimizer_state (every leaf a JoinPoint)")
    flat, subtrees = [], []
    for j in joins:
        leaves, sd = tree_util.tree_flatten(j.subtree)
        flat.append(tuple(leaves))
        subtrees.append(sd)
    return OptimizerState(tuple(flat), tree, tuple(subtrees))
