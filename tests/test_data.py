"""functrans.data: shuffled mini-batches, train/test splits and standardization."""
import numpy as np
import pytest

import functrans as ft
from functrans import data, random


def _examples(n=10):
    x = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    y = np.arange(n)
    return x, y


def test_batches_cover_every_example_once_in_a_shuffled_order():
    x, y = _examples(10)
    batches = list(data.batches(random.key(0), (x, y), 4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    order = np.concatenate([b[1] for b in batches])
    assert sorted(order.tolist()) == list(range(10))
    assert order.tolist() != list(range(10))
    np.testing.assert_array_equal(order, random.permutation(random.key(0), 10))
    for bx, by in batches:          # rows stay paired with their labels
        np.testing.assert_array_equal(bx, x[by])


def test_batches_are_deterministic_per_key():
    x, y = _examples(12)
    first = [b[1].tolist() for b in data.batches(random.key(3), (x, y), 5)]
    again = [b[1].tolist() for b in data.batches(random.key(3), (x, y), 5)]
    other = [b[1].tolist() for b in data.batches(random.key(4), (x, y), 5)]
    assert first == again and first != other
    epochs = [[b.tolist() for b in data.batches(random.fold_in(random.key(3), e), y, 12)]
              for e in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]


def test_batches_drop_last_and_no_shuffle():
    x, y = _examples(10)
    kept = list(data.batches(None, (x, y), 4, drop_last=True))
    assert [b[1].tolist() for b in kept] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert data.num_batches(10, 4) == 3 and data.num_batches(10, 4, drop_last=True) == 2
    assert len(list(data.batches(None, y, 20, drop_last=True))) == 0
    assert [b.tolist() for b in data.batches(None, y, 20)] == [list(range(10))]


def test_batches_keep_the_structure_of_the_arrays():
    x, y = _examples(6)
    for batch in data.batches(random.key(1), {"x": x, "y": y}, 4):
        assert set(batch) == {"x", "y"}
        np.testing.assert_array_equal(batch["x"], x[batch["y"]])
    single = next(data.batches(random.key(1), y, 3))
    assert isinstance(single, np.ndarray) and single.shape == (3,)


def test_batches_errors():
    x, y = _examples(6)
    with pytest.raises(ValueError, match="same leading"):
        next(data.batches(random.key(0), (x, y[:5]), 2))
    with pytest.raises(ValueError, match="batch_size"):
        next(data.batches(random.key(0), (x, y), 0))
    with pytest.raises(ValueError, match="no arrays"):
        next(data.batches(random.key(0), (), 2))


def test_train_test_split():
    x, y = _examples(20)
    (train_x, train_y), (test_x, test_y) = data.train_test_split(random.key(0), (x, y), 0.25)
    assert len(test_y) == 5 and len(train_y) == 15
    assert sorted(np.concatenate([train_y, test_y]).tolist()) == list(range(20))
    np.testing.assert_array_equal(train_x, x[train_y])
    again = data.train_test_split(random.key(0), (x, y), 0.25)
    np.testing.assert_array_equal(again[1][1], test_y)


def test_standardize_fits_on_the_training_split_only():
    rng = np.random.default_rng(0)
    train = rng.normal([5.0, -2.0, 0.0], [2.0, 0.5, 1.0], size=(200, 3))
    train[:, 2] = 7.0                                  # a constant feature
    test = rng.normal([5.0, -2.0, 0.0], [2.0, 0.5, 1.0], size=(50, 3))
    fitted = data.standardize(train)
    mean, std, transform = fitted
    assert mean.shape == std.shape == (3,)
    np.testing.assert_allclose(mean[:2], train[:, :2].mean(0))
    np.testing.assert_allclose(std[:2], train[:, :2].std(0))
    assert mean[2] == 7.0 and std[2] == 1.0     # constant: std 1, maps to 0
    z = np.asarray(transform(train))
    np.testing.assert_allclose(z[:, :2].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, :2].std(0), 1, rtol=1e-12)
    np.testing.assert_array_equal(z[:, 2], 0)
    # The test split uses the training statistics, not its own.
    np.testing.assert_allclose(transform(test), (test - mean) / std, rtol=1e-12)
    assert abs(np.asarray(transform(test))[:, 0].mean()) > 1e-6


def test_standardize_constant_feature_with_rounding_residue():
    train = np.full((3, 1), 0.1)           # its mean computes to 0.10000000000000002
    np.testing.assert_array_equal(np.asarray(data.standardize(train).transform(train)), 0)


def test_standardize_keeps_float32_and_works_inside_transforms():
    train = np.random.default_rng(1).standard_normal((30, 4)).astype(np.float32) * 3 + 1
    fitted = data.standardize(train)
    assert fitted.mean.dtype == np.float32 and fitted.std.dtype == np.float32
    assert np.asarray(fitted.transform(train)).dtype == np.float32
    rows = ft.vmap(fitted.transform)(train)
    np.testing.assert_allclose(rows, fitted.transform(train), rtol=1e-6)
    np.testing.assert_allclose(fitted.transform(train[0]), fitted.transform(train)[0])
    ints = data.standardize(np.arange(12).reshape(6, 2))
    assert ints.mean.dtype == np.float64
    with pytest.raises(ValueError, match="at least one training example"):
        data.standardize(np.zeros((0, 3)))
