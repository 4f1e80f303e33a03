"""Parameter initializers with jax.nn.initializers' conventions.

An initializer is a function init(key, shape, dtype=float32) -> array. zeros and ones are
initializers themselves; the others are factories that take their settings and return one:

    w = he_normal()(key, (fan_in, fan_out))

The variance-scaling family draws weights of variance scale / fan, where fan is fan_in,
fan_out or their average, computed from the shape: the in_axis and out_axis sizes times the
product of the other axes (the receptive field of a convolution kernel).

    initializer           scale  fan      JAX's default distribution
    glorot / xavier       1      fan_avg  truncated normal (glorot_normal), uniform
    he / kaiming          2      fan_in   truncated normal (he_normal), uniform
    lecun                 1      fan_in   truncated normal (lecun_normal), uniform

"truncated_normal" draws a normal truncated to two standard deviations, with its standard
deviation corrected so that the variance is still scale / fan (as JAX does). The default dtype
is float32, as for functrans.random's samplers.
"""
import math

import numpy as np

from .. import lax
from .. import random
from ..core import dtypes

__all__ = ["zeros", "ones", "constant", "normal", "uniform", "truncated_normal",
           "variance_scaling", "glorot_normal", "glorot_uniform", "xavier_normal",
           "xavier_uniform", "he_normal", "he_uniform", "kaiming_normal", "kaiming_uniform",
           "lecun_normal", "lecun_uniform"]

DEFAULT_DTYPE = np.float32

# The standard deviation of a standard normal truncated to (-2, 2): 1 - 2·2·φ(2) / P(|z| < 2).
_TRUNCATED_STD = math.sqrt(1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(math.sqrt(2)))


def _shape(name, shape):
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"nn.initializers.{name}: shape must be a tuple of ints, got "
                        f"{shape!r}") from None


def _float_dtype(name, dtype):
    dtype = dtypes.canonicalize(dtype)
    if dtype.kind != "f":
        raise TypeError(f"nn.initializers.{name}: dtype must be a floating-point dtype, got "
                        f"{dtype.name}")
    return dtype


def zeros(key, shape, dtype=DEFAULT_DTYPE):
    """An array of zeros (the key is not used)."""
    return np.zeros(_shape("zeros", shape), dtypes.canonicalize(dtype))


def ones(key, shape, dtype=DEFAULT_DTYPE):
    """An array of ones (the key is not used)."""
    return np.ones(_shape("ones", shape), dtypes.canonicalize(dtype))


def constant(value, dtype=DEFAULT_DTYPE):
    """An initializer that fills every element with `value`."""
    def init(key, shape, dtype=dtype):
        return np.full(_shape("constant", shape), value, dtypes.canonicalize(dtype))
    return init


def normal(stddev=1e-2, dtype=DEFAULT_DTYPE):
    """An initializer drawing from a normal distribution of mean 0 and standard deviation
    `stddev`."""
    def init(key, shape, dtype=dtype):
        dtype = _float_dtype("normal", dtype)
        return lax.mul(random.normal(key, _shape("normal", shape), dtype), stddev)
    return init


def uniform(scale=1e-2, dtype=DEFAULT_DTYPE):
    """An initializer drawing uniformly from [0, scale)."""
    def init(key, shape, dtype=dtype):
        dtype = _float_dtype("uniform", dtype)
        return random.uniform(key, _shape("uniform", shape), dtype, 0.0, scale)
    return init


def truncated_normal(stddev=1e-2, dtype=DEFAULT_DTYPE, lower=-2.0, upper=2.0):
    """An initializer drawing stddev · z, z a standard normal truncated to (lower, upper)."""
    def init(key, shape, dtype=dtype):
        dtype = _float_dtype("truncated_normal", dtype)
        z = random.truncated_normal(key, lower, upper, _shape("truncated_normal", shape), dtype)
        return lax.mul(z, stddev)
    return init


def _fans(name, shape, in_axis, out_axis):
    if len(shape) < 2:
        raise ValueError(f"nn.initializers.{name}: needs a weight shape of rank >= 2 (it reads "
                         f"fan_in and fan_out from axes {in_axis} and {out_axis}), got {shape}")
    n = len(shape)
    in_axis, out_axis = in_axis % n, out_axis % n
    receptive_field = math.prod(d for i, d in enumerate(shape) if i not in (in_axis, out_axis))
    return shape[in_axis] * receptive_field, shape[out_axis] * receptive_field


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, dtype=DEFAULT_DTYPE):
    """An initializer of variance scale / fan (fan by `mode`: fan_in, fan_out or fan_avg),
    drawn from `distribution`: truncated_normal, normal or uniform."""
    if mode not in _MODES:
        raise ValueError(f"nn.initializers.variance_scaling: mode must be one of {_MODES}, got "
                         f"{mode!r}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"nn.initializers.variance_scaling: distribution must be one of "
                         f"{_DISTRIBUTIONS}, got {distribution!r}")

    def init(key, shape, dtype=dtype):
        shape = _shape("variance_scaling", shape)
        dtype = _float_dtype("variance_scaling", dtype)
        fan_in, fan_out = _fans("variance_scaling", shape, in_axis, out_axis)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        variance = scale / max(fan, 1)
        if distribution == "truncated_normal":
            z = random.truncated_normal(key, -2.0, 2.0, shape, dtype)
            return lax.mul(z, math.sqrt(variance) / _TRUNCATED_STD)
        if distribution == "normal":
            return lax.mul(random.normal(key, shape, dtype), math.sqrt(variance))
        # uniform on (-a, a) has variance a² / 3
        return random.uniform(key, shape, dtype, -math.sqrt(3 * variance),
                              math.sqrt(3 * variance))
    return init


def glorot_normal(in_axis=-2, out_axis=-1, dtype=DEFAULT_DTYPE):
    """Glorot & Bengio (2010): variance 2 / (fan_in + fan_out), truncated normal."""
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, dtype)


def glorot_uniform(in_axis=-2, out_axis=-1, dtype=DEFAULT_DTYPE):
    """Glorot & Bengio (2010): uniform on ±sqrt(6 / (fan_in + fan_out))."""
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, dtype)


def he_normal(in_axis=-2, out_axis=-1, dtype=DEFAULT_DTYPE):
    """He et al. (2015), for ReLU networks: variance 2 / fan_in, truncated normal."""
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis, dtype)


def he_uniform(in_axis=-2, out_axis=-1, dtype=DEFAULT_DTYPE):
    """He et al. (2015): uniform on ±sqrt(6 / fan_in) (variance 2 / fan_in)."""
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, dtype)


def lecun_normal(in_axis=-2, out_axis=-1, dtype=DEFAULT_DTYPE):
    """LeCun et al. (1998): variance 1 / fan_in, truncated normal."""
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis, dtype)


def lecun_uniform(in_axis=-2, out_axis=-1, dtype=DEFAULT_DTYPE):
    """LeCun et al. (1998): uniform on ±sqrt(3 / fan_in) (variance 1 / fan_in)."""
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, dtype)


xavier_normal, xavier_uniform = glorot_normal, glorot_uniform
kaiming_normal, kaiming_uniform = he_normal, he_uniform
