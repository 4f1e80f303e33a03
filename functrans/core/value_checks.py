"""debug_nans / debug_infs: checking values for NaN and infinity as they are computed.

The eager interpreter checks each primitive's outputs, functrans.numpy each function's and
jit each call's (rerunning the program op by op to name the primitive); functrans.config
switches the checks on.
"""
import threading

import numpy as np

from . import pytree
from .config import config
from .source_info import equation_source, user_frame_summary

_rerun = threading.local()


def _bad_kind(values):
    """'nan' or 'inf' if a checked kind of bad value is in these outputs, else None."""
    for v in values:
        a = v if isinstance(v, np.ndarray) else np.asarray(v) if isinstance(
            v, (np.generic, float, complex)) else None
        if a is None or a.dtype.kind not in "fc":
            continue
        if config.debug_nans and np.isnan(a).any():
            return "nan"
        if config.debug_infs and np.isinf(a).any():
            return "inf"
    return None


def check_primitive_outputs(primitive, outs):
    """Called by the eager interpreter after each primitive when debug_nans/infs is on."""
    kind = _bad_kind(outs)
    if kind is None:
        return
    where = getattr(_rerun, "where", None) or user_frame_summary() or "an unknown location"
    raise FloatingPointError(
        f"debug_{kind}s: invalid value ({kind}) encountered in `{primitive.name}` at {where}. "
        f"It is the first primitive whose output holds a {kind}; turn the check off with "
        f"functrans.config.update('debug_{kind}s', False).")


def check_jit_outputs(outs, fun_name, rerun):
    """Under jit the compiled program's outputs are checked; on a NaN/inf the function runs
    again op by op (rerun()), where check_primitive_outputs names the primitive."""
    kind = _bad_kind(outs)
    if kind is None:
        return
    rerun()
    raise FloatingPointError(
        f"debug_{kind}s: the jit-compiled {fun_name} returned a {kind}, but running it again op "
        f"by op produced none (the compiled code's rounding or operation order differs); run "
        f"{fun_name} without jit to investigate.")


def rerun_program(closed, args):
    """Evaluate a program equation by equation, naming each equation's recorded source line
    if one produces a NaN/inf (the op-by-op rerun of a jit call inside other transforms)."""
    program = closed.program
    env = dict(zip(program.constvars, closed.consts))
    env.update(zip(program.invars, args))
    read = lambda a: env[a] if not hasattr(a, "value") else a.value  # noqa: E731
    for eqn in program.eqns:
        _rerun.where = equation_source(eqn)
        try:
            outs = eqn.primitive.bind(*[read(a) for a in eqn.inputs], **eqn.params)
        finally:
            _rerun.where = None
        env.update(zip(eqn.outputs, eqn.primitive.as_list(outs)))


def check_function_outputs(label, out):
    """Eager results of a functrans.numpy function (which computes with numpy directly, not
    through primitives) checked for NaN/inf when debug_nans/debug_infs is on."""
    leaves = [x for x in pytree.tree_leaves(out) if isinstance(x, (np.ndarray, np.generic))]
    kind = _bad_kind(leaves)
    if kind is None:
        return
    where = user_frame_summary() or "an unknown location"
    raise FloatingPointError(
        f"debug_{kind}s: invalid value ({kind}) encountered in `{label}` at {where}. Turn the "
        f"check off with functrans.config.update('debug_{kind}s', False).")
