"""Small pieces forward and reverse mode share: zeros, tangent avals, argument checks."""
import numpy as np

from ..core import dtypes
from ..core.primitive import FLOAT0, Zero, tangent_aval
from ..core.trace import Tracer, get_aval, is_eager
from ..primitives.shape import broadcast_in_dim


def zeros_of(aval):
    """A materialized zero of `aval`: a plain numpy array when eager, a staged broadcast of a
    scalar literal otherwise (so programs never carry big constant zeros)."""
    if aval.dtype == FLOAT0 or is_eager():
        return np.zeros(aval.shape, aval.dtype)
    return broadcast_in_dim(np.zeros((), aval.dtype)[()], aval.shape, ())


def instantiate(t):
    return zeros_of(t.aval) if isinstance(t, Zero) else t


def check_tangent(primal, tangent, fun_name):
    """A tangent must match its primal's shape, and its dtype's tangent space (float0 for ints)."""
    p_aval = get_aval(primal)
    want = tangent_aval(p_aval)
    t_aval = get_aval(tangent)
    if t_aval.shape != want.shape:
        raise ValueError(f"{fun_name}: primal {p_aval.str_short()} has a tangent of shape "
                         f"{t_aval.shape}; tangents must match their primal's shape")
    if want.dtype == FLOAT0:
        if t_aval.dtype != FLOAT0 and not (isinstance(tangent, np.ndarray) and
                                           not np.any(tangent)):
            raise TypeError(f"{fun_name}: primal {p_aval.str_short()} is an integer or boolean "
                            f"value, so its tangent must be a float0 zero "
                            f"(np.zeros(shape, functrans.float0)); got {t_aval.str_short()}")
        return Zero(want)
    if t_aval.dtype != want.dtype:
        raise TypeError(f"{fun_name}: primal {p_aval.str_short()} has a tangent of dtype "
                        f"{t_aval.dtype.name}; tangent dtypes must equal their primal's")
    return tangent


def check_inexact_inputs(fun_name, leaves, allow_int):
    for x in leaves:
        d = get_aval(x).dtype
        if not dtypes.is_inexact(d) and not allow_int:
            raise TypeError(f"{fun_name} requires real- or complex-valued inputs (a floating "
                            f"dtype), but got {d.name}. Convert the input with "
                            f".astype(float) if you want its derivative, pass allow_int=True to "
                            f"get float0 zeros for it, or differentiate with respect to other "
                            f"arguments (argnums).")


def strip_tracers(x, main):
    """Strip this transform's tracers from an auxiliary output (has_aux values)."""
    if isinstance(x, Tracer) and x._trace.main is main:
        return strip_tracers(x.primal, main)
    return x
