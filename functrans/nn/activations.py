"""Activation functions and friends (jax.nn's names), written with functrans.numpy and lax.

softmax, log_softmax and logsumexp subtract the maximum along the reduced axes before
exponentiating, so large inputs do not overflow. The maximum goes through stop_gradient, as in
JAX: the functions do not depend on the shift mathematically, and cutting it out of the
derivative avoids the tie-splitting derivative of max.
"""
import math
import operator

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..numpy._promotion import asarray, canonical_axes, shape_of, to_inexact

__all__ = ["relu", "relu6", "sigmoid", "log_sigmoid", "softplus", "silu", "swish", "gelu",
           "tanh", "leaky_relu", "elu", "softmax", "log_softmax", "logsumexp", "one_hot"]


def _float(x, name):
    return to_inexact(asarray(x, name))


def relu(x):
    """max(x, 0), with derivative 0 at x = 0 (as in JAX)."""
    x = asarray(x, "relu")
    return fnp.where(fnp.greater(x, 0), x, fnp.zeros_like(x))


def relu6(x):
    """min(max(x, 0), 6), with derivative 0 at both kinks."""
    x = asarray(x, "relu6")
    inside = fnp.logical_and(fnp.greater(x, 0), fnp.less(x, 6))
    return fnp.where(inside, x, fnp.where(fnp.greater_equal(x, 6), fnp.full_like(x, 6),
                                          fnp.zeros_like(x)))


def sigmoid(x):
    """1 / (1 + exp(-x)) (the logistic function)."""
    return lax.logistic(_float(x, "sigmoid"))


def softplus(x):
    """log(1 + exp(x)) = logaddexp(x, 0): never overflows, and its derivatives of every order
    are right at 0 (softplus''(0) = 1/4)."""
    x = _float(x, "softplus")
    return fnp.logaddexp(x, fnp.zeros((), fnp.result_type(x)))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return fnp.negative(softplus(fnp.negative(_float(x, "log_sigmoid"))))


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    x = _float(x, "silu")
    return fnp.multiply(x, sigmoid(x))


swish = silu


def gelu(x, approximate=True):
    """The Gaussian error linear unit x * Phi(x); approximate=True uses JAX's default tanh
    approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))."""
    x = _float(x, "gelu")
    if approximate:
        inner = fnp.multiply(math.sqrt(2 / math.pi),
                             fnp.add(x, fnp.multiply(0.044715, fnp.power(x, 3))))
        return fnp.multiply(fnp.multiply(0.5, x), fnp.add(1, fnp.tanh(inner)))
    return fnp.multiply(fnp.multiply(0.5, x),
                        fnp.add(1, lax.erf(fnp.divide(x, math.sqrt(2)))))


def tanh(x):
    """Hyperbolic tangent."""
    return fnp.tanh(x)


def leaky_relu(x, negative_slope=0.01):
    """x for x >= 0, negative_slope * x below."""
    x = _float(x, "leaky_relu")
    return fnp.where(fnp.greater_equal(x, 0), x, fnp.multiply(negative_slope, x))


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) below."""
    x = _float(x, "elu")
    safe = fnp.where(fnp.greater(x, 0), fnp.zeros_like(x), x)    # no overflow in exp
    return fnp.where(fnp.greater(x, 0), x, fnp.multiply(alpha, fnp.expm1(safe)))


def _shifted(x, axis, name):
    """x minus its maximum over axis (kept), the maximum without gradient."""
    x = _float(x, name)
    peak = lax.stop_gradient(fnp.max(x, axis=axis, keepdims=True))
    return fnp.subtract(x, peak)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) over axis (an int or a tuple), computed as exp(x - max) / sum."""
    unnormalized = fnp.exp(_shifted(x, axis, "softmax"))
    return fnp.divide(unnormalized, fnp.sum(unnormalized, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    """x - logsumexp(x) over axis, computed as (x - max) - log(sum(exp(x - max)))."""
    shifted = _shifted(x, axis, "log_softmax")
    return fnp.subtract(shifted, fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True)))


def logsumexp(a, axis=None, b=None, keepdims=False):
    """log(sum(b * exp(a))) over axis (all axes by default), shifted by the maximum so that it
    neither overflows nor underflows; all -inf inputs give -inf."""
    a = _float(a, "logsumexp")
    axes = canonical_axes(axis, len(shape_of(a)), "logsumexp")
    peak = fnp.max(a, axis=axes, keepdims=True)
    # An infinite maximum (all -inf, or +inf somewhere) must not be subtracted (inf - inf).
    peak = lax.stop_gradient(fnp.where(fnp.isfinite(peak), peak, fnp.zeros_like(peak)))
    terms = fnp.exp(fnp.subtract(a, peak))
    if b is not None:
        terms = fnp.multiply(b, terms)
    out = fnp.add(fnp.log(fnp.sum(terms, axis=axes, keepdims=True)), peak)
    return out if keepdims else fnp.squeeze(out, axis=axes)


def one_hot(x, num_classes, *, dtype=np.float64, axis=-1):
    """A one-hot encoding of the integers x along a new axis of length num_classes (rows of
    out-of-range entries are all zeros)."""
    num_classes = operator.index(num_classes)
    x = asarray(x, "one_hot")
    n = len(shape_of(x)) + 1
    axis = canonical_axes(axis, n, "one_hot")[0]
    classes = fnp.reshape(fnp.arange(num_classes), [-1 if d == axis else 1 for d in range(n)])
    return fnp.asarray(fnp.equal(fnp.expand_dims(x, axis), classes), dtype=dtype)
