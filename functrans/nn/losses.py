"""Loss functions, penalties and metrics, written with functrans.numpy (differentiable, jittable).

Classification losses take logits (scores) with the classes on the last axis, of shape
(..., n_classes), and labels that are either integer class indices of shape (...) or
distributions over the classes (one-hot rows, or soft labels) of the logits' shape. Losses are
averaged over all the leading (batch) axes.
"""
import numpy as np

from .. import numpy as fnp
from .. import tree_util
from ..core import dtypes
from .activations import log_softmax, one_hot, relu, softplus

__all__ = ["softmax_cross_entropy", "sigmoid_binary_cross_entropy", "mse",
           "multiclass_hinge_loss", "l1_penalty", "l2_penalty", "accuracy"]


def _shape(x):
    return tuple(fnp.shape(x))


def _label_distributions(name, logits, labels):
    """labels as rows of class weights with the logits' shape and float dtype."""
    logit_shape, label_shape = _shape(logits), _shape(labels)
    if not logit_shape:
        raise ValueError(f"nn.losses.{name}: logits must have a class axis, got a scalar")
    label_dtype = fnp.result_type(labels)
    if dtypes.is_integer(label_dtype):
        if label_shape != logit_shape[:-1]:
            raise ValueError(f"nn.losses.{name}: integer labels must have the logits' shape "
                             f"without the class axis, {logit_shape[:-1]}, got {label_shape}")
        return one_hot(labels, logit_shape[-1], dtype=fnp.result_type(logits))
    if label_shape != logit_shape:
        raise ValueError(f"nn.losses.{name}: labels must be integer classes of shape "
                         f"{logit_shape[:-1]} or class distributions of shape {logit_shape}, "
                         f"got shape {label_shape} ({np.dtype(label_dtype).name})")
    return labels


def softmax_cross_entropy(logits, labels):
    """The mean over examples of -sum_c labels[c] · log_softmax(logits)[c].

    Computed from log_softmax (logits minus their logsumexp), so large logits do not overflow.
    Integer labels are class indices; float labels are distributions over the classes."""
    targets = _label_distributions("softmax_cross_entropy", logits, labels)
    per_example = fnp.negative(fnp.sum(fnp.multiply(targets, log_softmax(logits, axis=-1)),
                                       axis=-1))
    return fnp.mean(per_example)


def sigmoid_binary_cross_entropy(logits, labels):
    """The mean of -[y log σ(z) + (1 - y) log(1 - σ(z))] over all elements, computed stably as
    softplus(z) - y·z."""
    return fnp.mean(fnp.subtract(softplus(logits), fnp.multiply(labels, logits)))


def mse(predictions, targets):
    """The mean squared error: mean((predictions - targets)²) over all elements."""
    return fnp.mean(fnp.square(fnp.subtract(predictions, targets)))


def multiclass_hinge_loss(scores, labels, margin=1.0):
    """The multiclass SVM loss of Weston and Watkins (as in CS231n): for each example,
    sum over classes j other than the label y of max(0, s_j - s_y + margin); averaged over
    examples. labels: integer classes, or one-hot rows."""
    targets = _label_distributions("multiclass_hinge_loss", scores, labels)
    true_score = fnp.sum(fnp.multiply(targets, scores), axis=-1, keepdims=True)
    margins = relu(fnp.add(fnp.subtract(scores, true_score), margin))
    # The true class's own term is max(0, margin) = margin: leave it out.
    others = fnp.multiply(margins, fnp.subtract(1, targets))
    return fnp.mean(fnp.sum(others, axis=-1))


def _float_leaves(params):
    return [x for x in tree_util.tree_leaves(params) if dtypes.is_inexact(fnp.result_type(x))]


def l1_penalty(params):
    """sum |x| over every floating-point leaf of the pytree params."""
    return sum((fnp.sum(fnp.abs(x)) for x in _float_leaves(params)), 0.0)


def l2_penalty(params):
    """sum x² over every floating-point leaf of the pytree params (its gradient is 2·params;
    multiply by a coefficient λ, or by λ/2 for a gradient of λ·params)."""
    return sum((fnp.sum(fnp.square(x)) for x in _float_leaves(params)), 0.0)


def accuracy(logits, labels):
    """The fraction of examples whose largest logit is at the label (integer classes, or one-hot
    rows, whose argmax is taken). Not differentiable."""
    predicted = fnp.argmax(logits, axis=-1)
    if not dtypes.is_integer(fnp.result_type(labels)):
        labels = fnp.argmax(labels, axis=-1)
    if _shape(labels) != _shape(predicted):
        raise ValueError(f"nn.losses.accuracy: labels of shape {_shape(labels)} do not match "
                         f"logits of shape {_shape(logits)}")
    return fnp.mean(fnp.equal(predicted, labels))
