"""Learning-rate schedules: functions step -> value, with optax's names and meanings.

`step` is the number of updates made so far (0 for the first), a Python int or an int array
(traced inside jit). Values are float64 scalars; optimizers cast them to each parameter's
dtype."""
import math

import numpy as np

from .. import numpy as fnp

__all__ = ["constant_schedule", "piecewise_constant_schedule", "step_decay_schedule",
           "exponential_decay", "linear_schedule", "cosine_decay_schedule",
           "warmup_cosine_decay_schedule"]


def _steps(step):
    return fnp.asarray(step, dtype=np.float64)


def _positive_int(name, what, value):
    value = int(value)
    if value <= 0:
        raise ValueError(f"optim.{name}: {what} must be a positive int, got {value}")
    return value


def constant_schedule(value):
    """value at every step."""
    def schedule(step):
        return fnp.full_like(_steps(step), value)
    return schedule


def piecewise_constant_schedule(init_value, boundaries_and_scales=None):
    """init_value, multiplied by scales[b] once step reaches each boundary b (a dict
    {boundary: scale}): {100: 0.1, 200: 0.1} divides the value by 10 at step 100 and again at
    200."""
    items = sorted((boundaries_and_scales or {}).items())

    def schedule(step):
        t = _steps(step)
        value = fnp.full_like(t, init_value)
        for boundary, scale in items:
            value = fnp.where(fnp.greater_equal(t, boundary), fnp.multiply(value, scale), value)
        return value
    return schedule


def step_decay_schedule(init_value, step_size, decay_rate):
    """Staircase decay: init_value · decay_rate ** floor(step / step_size) (PyTorch's StepLR)."""
    step_size = _positive_int("step_decay_schedule", "step_size", step_size)

    def schedule(step):
        return fnp.multiply(init_value,
                            fnp.power(decay_rate, fnp.floor(fnp.divide(_steps(step), step_size))))
    return schedule


def exponential_decay(init_value, transition_steps, decay_rate, transition_begin=0,
                      staircase=False, end_value=None):
    """init_value · decay_rate ** ((step - transition_begin) / transition_steps) after
    transition_begin (init_value before); staircase floors the exponent; end_value bounds the
    value (below if decaying, above if growing)."""
    transition_steps = _positive_int("exponential_decay", "transition_steps", transition_steps)

    def schedule(step):
        t = fnp.maximum(fnp.subtract(_steps(step), transition_begin), 0.0)
        exponent = fnp.divide(t, transition_steps)
        if staircase:
            exponent = fnp.floor(exponent)
        value = fnp.multiply(init_value, fnp.power(decay_rate, exponent))
        if end_value is not None:
            bound = fnp.maximum if decay_rate < 1 else fnp.minimum
            value = bound(value, end_value)
        return value
    return schedule


def linear_schedule(init_value, end_value, transition_steps, transition_begin=0):
    """From init_value to end_value linearly over transition_steps steps starting at
    transition_begin; constant before and after."""
    transition_steps = _positive_int("linear_schedule", "transition_steps", transition_steps)

    def schedule(step):
        t = fnp.clip(fnp.subtract(_steps(step), transition_begin), 0.0, transition_steps)
        fraction = fnp.divide(t, transition_steps)
        return fnp.add(init_value, fnp.multiply(end_value - init_value, fraction))
    return schedule


def cosine_decay_schedule(init_value, decay_steps, alpha=0.0):
    """Cosine decay (Loshchilov & Hutter's SGDR without restarts): init_value ·
    ((1 - alpha) · (1 + cos(π · min(step, decay_steps) / decay_steps)) / 2 + alpha), reaching
    alpha · init_value at decay_steps and staying there."""
    decay_steps = _positive_int("cosine_decay_schedule", "decay_steps", decay_steps)

    def schedule(step):
        fraction = fnp.divide(fnp.minimum(_steps(step), decay_steps), decay_steps)
        cosine = fnp.multiply(0.5, fnp.add(1.0, fnp.cos(fnp.multiply(math.pi, fraction))))
        return fnp.multiply(init_value, fnp.add(fnp.multiply(1 - alpha, cosine), alpha))
    return schedule


def warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps,
                                 end_value=0.0):
    """Linear warmup from init_value to peak_value over warmup_steps, then cosine decay to
    end_value, reached at step decay_steps (which counts the warmup, as in optax)."""
    warmup_steps = int(warmup_steps)
    decay_steps = int(decay_steps)
    if not 0 <= warmup_steps < decay_steps:
        raise ValueError(f"optim.warmup_cosine_decay_schedule: needs 0 <= warmup_steps < "
                         f"decay_steps, got {warmup_steps} and {decay_steps}")
    warmup = linear_schedule(init_value, peak_value, max(warmup_steps, 1))
    alpha = end_value / peak_value if peak_value else 0.0
    cosine = cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha)

    def schedule(step):
        t = _steps(step)
        return fnp.where(fnp.less(t, warmup_steps), warmup(t),
                         cosine(fnp.subtract(t, warmup_steps)))
    return schedule
