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
           "tanh", "leaky_relu", "elu", "softmax", "log_softmax", "logsumexp", "one_hot",
           "identity", "celu", "selu", "soft_sign", "hard_tanh", "hard_sigmoid", "hard_silu",
           "hard_swish", "glu", "log1mexp", "logmeanexp", "mish", "sparse_plus",
           "sparse_sigmoid", "squareplus", "standardize", "dot_product_attention"]


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


# --- more of jax.nn's activations (issue 12) ------------------------------------------------------

def identity(x):
    """x itself."""
    return asarray(x, "identity")


def celu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x / alpha) - 1) below (continuously differentiable elu)."""
    x = _float(x, "celu")
    safe = fnp.where(fnp.greater(x, 0), fnp.zeros_like(x), x)
    return fnp.where(fnp.greater(x, 0), x, fnp.multiply(alpha, fnp.expm1(fnp.divide(safe,
                                                                                     alpha))))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al. (2017)."""
    return fnp.multiply(_SELU_SCALE, elu(x, _SELU_ALPHA))


def soft_sign(x):
    """x / (|x| + 1)."""
    x = _float(x, "soft_sign")
    return fnp.divide(x, fnp.add(fnp.abs(x), 1))


def hard_tanh(x):
    """x clipped to [-1, 1] (derivative 0 outside, and at the kinks)."""
    x = _float(x, "hard_tanh")
    inside = fnp.logical_and(fnp.greater(x, -1), fnp.less(x, 1))
    return fnp.where(inside, x, fnp.where(fnp.greater_equal(x, 1), fnp.ones_like(x),
                                          fnp.full_like(x, -1)))


def hard_sigmoid(x):
    """relu6(x + 3) / 6."""
    x = _float(x, "hard_sigmoid")
    return fnp.divide(relu6(fnp.add(x, 3)), 6)


def hard_silu(x):
    """x * hard_sigmoid(x) (also called hard_swish)."""
    x = _float(x, "hard_silu")
    return fnp.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def glu(x, axis=-1):
    """Gated linear unit: the first half of x along axis times sigmoid of the second half."""
    x = _float(x, "glu")
    n = shape_of(x)[canonical_axes(axis, len(shape_of(x)), "glu")[0]]
    if n % 2:
        raise ValueError(f"nn.glu: axis {axis} has odd size {n}; it must split in two halves")
    a, b = fnp.split(x, 2, axis=axis)
    return fnp.multiply(a, sigmoid(b))


def log1mexp(x):
    """log(1 - exp(-x)) for x > 0, accurate near 0 and for large x."""
    x = _float(x, "log1mexp")
    near = fnp.less(x, math.log(2))
    safe_near = fnp.where(near, x, fnp.ones_like(x))
    safe_far = fnp.where(near, fnp.ones_like(x), x)
    return fnp.where(near, fnp.log(fnp.negative(fnp.expm1(fnp.negative(safe_near)))),
                     fnp.log1p(fnp.negative(fnp.exp(fnp.negative(safe_far)))))


def logmeanexp(x, axis=None, where=None, keepdims=False):
    """log(mean(exp(x))) over axis = logsumexp(x) - log(n), without overflow."""
    if where is not None:
        raise NotImplementedError("nn.logmeanexp: where= is not supported")
    x = _float(x, "logmeanexp")
    axes = canonical_axes(axis, len(shape_of(x)), "logmeanexp")
    n = int(np.prod([shape_of(x)[a] for a in axes], dtype=np.int64))
    return fnp.subtract(logsumexp(x, axis=axes, keepdims=keepdims), math.log(n))


def mish(x):
    """x * tanh(softplus(x))."""
    x = _float(x, "mish")
    return fnp.multiply(x, fnp.tanh(softplus(x)))


def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 on (-1, 1), x for x >= 1 (a smooth-ish relu)."""
    x = _float(x, "sparse_plus")
    middle = fnp.divide(fnp.square(fnp.add(x, 1)), 4)
    return fnp.where(fnp.less_equal(x, -1), fnp.zeros_like(x),
                     fnp.where(fnp.greater_equal(x, 1), x, middle))


def sparse_sigmoid(x):
    """clip((x + 1) / 2, 0, 1), the derivative of sparse_plus."""
    x = _float(x, "sparse_sigmoid")
    return fnp.multiply(0.5, fnp.clip(fnp.add(x, 1), 0, 2))


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2, a smooth relu."""
    x = _float(x, "squareplus")
    return fnp.divide(fnp.add(x, fnp.sqrt(fnp.add(fnp.square(x), b))), 2)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None):
    """(x - mean) / sqrt(variance + epsilon) over axis; mean and variance default to x's
    (variance as mean(x^2) - mean(x)^2, as jax.nn)."""
    if where is not None:
        raise NotImplementedError("nn.standardize: where= is not supported")
    x = _float(x, "standardize")
    if mean is None:
        mean = fnp.mean(x, axis=axis, keepdims=True)
    if variance is None:
        variance = fnp.subtract(fnp.mean(fnp.square(x), axis=axis, keepdims=True),
                                fnp.square(mean))
    return fnp.multiply(fnp.subtract(x, mean), lax.rsqrt(fnp.add(variance, epsilon)))


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal=False, query_seq_lengths=None, key_value_seq_lengths=None,
                          local_window_size=None, implementation=None):
    """softmax(q k^T * scale + bias, masked) v per head. Shapes (B, T, N, H) for the query and
    (B, S, K, H) for key and value (K divides N: grouped heads), or the same without B; mask
    is boolean (True keeps), broadcastable to (B, N, T, S)."""
    if query_seq_lengths is not None or key_value_seq_lengths is not None or \
            local_window_size is not None:
        raise NotImplementedError("nn.dot_product_attention: sequence lengths and local "
                                  "windows are not supported; pass a boolean mask")
    if implementation not in (None, "xla"):
        raise NotImplementedError(f"nn.dot_product_attention: implementation "
                                  f"{implementation!r} is not available on CPU")
    q, k, v = (fnp.asarray(a) for a in (query, key, value))
    unbatched = len(shape_of(q)) == 3
    if unbatched:
        q, k, v = q[None], k[None], v[None]
    n_heads, kv_heads = shape_of(q)[2], shape_of(k)[2]
    if n_heads % kv_heads:
        raise ValueError(f"nn.dot_product_attention: {n_heads} query heads are not a multiple "
                         f"of {kv_heads} key/value heads")
    if kv_heads != n_heads:
        k = fnp.repeat(k, n_heads // kv_heads, axis=2)
        v = fnp.repeat(v, n_heads // kv_heads, axis=2)
    scale = 1 / math.sqrt(shape_of(q)[-1]) if scale is None else scale
    logits = fnp.multiply(fnp.einsum("btnh,bsnh->bnts", q, k), scale)
    if bias is not None:
        logits = fnp.add(logits, bias)
    t, s = shape_of(logits)[-2:]
    keep = None
    if mask is not None:
        keep = fnp.asarray(mask, dtype=bool)
    if is_causal:
        causal = np.tril(np.ones((t, s), bool))
        keep = causal if keep is None else fnp.logical_and(keep, causal)
    if keep is not None:
        lowest = np.finfo(fnp.result_type(logits)).min
        logits = fnp.where(keep, logits, lowest)
    weights = softmax(logits, axis=-1)
    out = fnp.einsum("bnts,bsnh->btnh", weights, v)
    return out[0] if unbatched else out
