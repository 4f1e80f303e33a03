"""functrans.optim: optimizers as pure gradient transformations (optax's API and meanings).

    opt = optim.adam(1e-3)                     # or optim.chain(optim.clip_by_global_norm(1.0),
    state = opt.init(params)                   #                optim.adam(schedule))
    grads = functrans.grad(loss)(params, batch)
    updates, state = opt.update(grads, state, params)
    params = optim.apply_updates(params, updates)

Everything is a function of its inputs: states are pytrees of arrays (step counts are int32
arrays), so a whole training step can be jitted and runs without retracing from step to step.
"""
from ._base import (EmptyState, GradientTransformation, apply_updates, chain,  # noqa: F401
                    global_norm, identity)
from .optimizers import adagrad, adam, adamw, momentum, nesterov, rmsprop, sgd  # noqa: F401
from .schedules import (constant_schedule, cosine_decay_schedule, exponential_decay,  # noqa: F401
                        linear_schedule, piecewise_constant_schedule, step_decay_schedule,
                        warmup_cosine_decay_schedule)
from .transforms import (ScaleByAdamState, ScaleByRmsState, ScaleByRssState,  # noqa: F401
                         ScaleByScheduleState, TraceState, add_decayed_weights, clip,
                         clip_by_global_norm, scale, scale_by_adam, scale_by_learning_rate,
                         scale_by_rms, scale_by_rss, scale_by_schedule, trace)
