"""Data utilities for training loops: shuffled mini-batches, train/test splits, standardization.

These run on the host, on concrete numpy arrays, between (jitted) training steps. Shuffles take
a functrans.random key, so an epoch's order is a pure function of its key: pass
random.fold_in(key, epoch) for a new order every epoch that is still reproducible.
"""
import math
from typing import Callable, NamedTuple

import numpy as np

from . import numpy as fnp
from . import random, tree_util
from .core.trace import Tracer

__all__ = ["batches", "num_batches", "train_test_split", "standardize", "Standardizer"]


def _leaves_and_length(name, arrays):
    leaves, treedef = tree_util.tree_flatten(arrays)
    if not leaves:
        raise ValueError(f"data.{name}: arrays holds no arrays")
    for x in leaves:
        if isinstance(x, Tracer):
            raise TypeError(f"data.{name} runs on concrete arrays between training steps, not "
                            "inside a transformed function")
    leaves = [np.asarray(x) for x in leaves]
    lengths = {x.shape[0] if x.ndim else None for x in leaves}
    if None in lengths or len(lengths) != 1:
        raise ValueError(f"data.{name}: every array needs the same leading (example) axis, got "
                         f"shapes {[x.shape for x in leaves]}")
    return leaves, treedef, lengths.pop()


def num_batches(n, batch_size, drop_last=False):
    """How many batches `batches` yields for n examples."""
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def batches(key, arrays, batch_size, drop_last=False):
    """Yield mini-batches of `arrays`: a pytree of arrays sharing their first axis (a tuple
    (x, y), a dict, or one array); each batch has the same structure.

    The examples are shuffled with `key` (a permutation drawn by random.permutation), so the
    same key gives the same batches; key=None keeps the original order. The last batch is
    smaller when batch_size does not divide the number of examples, unless drop_last."""
    batch_size = int(batch_size)
    if batch_size <= 0:
        raise ValueError(f"data.batches: batch_size must be positive, got {batch_size}")
    leaves, treedef, n = _leaves_and_length("batches", arrays)
    order = np.arange(n) if key is None else np.asarray(random.permutation(key, n))
    for b in range(num_batches(n, batch_size, drop_last)):
        idx = order[b * batch_size:(b + 1) * batch_size]
        yield tree_util.tree_unflatten(treedef, [x[idx] for x in leaves])


def train_test_split(key, arrays, test_fraction=0.2):
    """Shuffle the examples of `arrays` (a pytree of arrays sharing their first axis) with key
    and split them: returns (train, test), each with the structure of arrays; the test split
    has round(test_fraction · n) examples."""
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"data.train_test_split: test_fraction must be in [0, 1], got "
                         f"{test_fraction}")
    leaves, treedef, n = _leaves_and_length("train_test_split", arrays)
    order = np.asarray(random.permutation(key, n))
    n_test = int(round(test_fraction * n))
    test_idx, train_idx = order[:n_test], order[n_test:]
    return (tree_util.tree_unflatten(treedef, [x[train_idx] for x in leaves]),
            tree_util.tree_unflatten(treedef, [x[test_idx] for x in leaves]))


class Standardizer(NamedTuple):
    """Per-feature statistics from the training data, and the map x -> (x - mean) / std
    (usable on numpy arrays and inside transformed functions)."""
    mean: np.ndarray
    std: np.ndarray
    transform: Callable


def standardize(train):
    """Fit a standardization on the training data only: the mean and standard deviation of
    each feature over the examples (axis 0), with std replaced by 1 for constant features so
    that they map to 0. Returns Standardizer(mean, std, transform); mean and std have the shape
    of one example, so transform applies to a batch or to a single example. Apply it to the
    training, validation and test data alike: no statistic comes from held-out data."""
    if isinstance(train, Tracer):
        raise TypeError("data.standardize fits on concrete arrays, not inside a transformed "
                        "function")
    train = np.asarray(train)
    dtype = train.dtype if train.dtype.kind == "f" else np.dtype(np.float64)
    data = train.astype(dtype, copy=False)
    if data.ndim == 0 or data.shape[0] == 0:
        raise ValueError(f"data.standardize: needs at least one training example (along axis "
                         f"0), got an array of shape {data.shape}")
    # A constant feature is detected exactly (max == min): its computed mean and std carry
    # rounding residues (a std of 1e-17 rather than 0 would blow its values up), so it gets
    # its own value as mean and 1 as std, and maps to exactly 0.
    low = data.min(axis=0)
    constant = data.max(axis=0) == low
    mean = np.where(constant, low, data.mean(axis=0)).astype(dtype)
    std = np.where(constant, 1, data.std(axis=0)).astype(dtype)

    def transform(x):
        return fnp.divide(fnp.subtract(x, mean), std)

    return Standardizer(mean, std, transform)
