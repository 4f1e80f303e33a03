"""functrans.random: the cipher against published test vectors, keys, the samplers' distributions
(with fixed keys, so every statistic is a fixed number checked against a bound several standard
errors wide), and the same numbers eagerly, traced, under vmap and under jit."""
import math

import numpy as np
import pytest
import scipy.stats

import functrans as ft
from functrans import lax
from functrans import random
from functrans.core.staging import eval_closed
from functrans.core.typecheck import check_program

U32 = np.uint32


# --- the cipher ----------------------------------------------------------------------------------

# Random123's known-answer vectors for threefry2x32 with 20 rounds: (key, counter, output).
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff), (0x1cb996fc, 0xbb002be7)),
    ((0x13198a2e, 0x03707344), (0x243f6a88, 0x85a308d3), (0xc4923a9c, 0x483df7a0)),
]


@pytest.mark.parametrize("key_words, counter, expected", KNOWN_ANSWERS)
def test_threefry_known_answers(key_words, counter, expected):
    key = np.array(key_words, U32)
    y0, y1 = random.threefry_2x32(key, np.array([counter[0]], U32), np.array([counter[1]], U32))
    assert (int(y0[0]), int(y1[0])) == expected


def test_threefry_is_elementwise_over_counters_and_traceable():
    keys = np.array([k for k, _, _ in KNOWN_ANSWERS], U32)
    x0 = np.array([c[0] for _, c, _ in KNOWN_ANSWERS], U32)
    x1 = np.array([c[1] for _, c, _ in KNOWN_ANSWERS], U32)
    y0, y1 = ft.vmap(random.threefry_2x32)(keys, x0, x1)
    assert [(int(a), int(b)) for a, b in zip(y0, y1)] == [e for _, _, e in KNOWN_ANSWERS]
    closed = ft.make_jaxpr(random.threefry_2x32)(keys[2], x0, x1)
    check_program(closed)
    y0, y1 = eval_closed(closed, keys[2], x0, x1)
    assert (int(y0[2]), int(y1[2])) == KNOWN_ANSWERS[2][2]


def test_threefry_checks_its_counters():
    with pytest.raises(TypeError, match="counters must be uint32"):
        random.threefry_2x32(random.key(0), np.zeros(2, np.int32), np.zeros(2, np.int32))


# --- keys ----------------------------------------------------------------------------------------

def test_key_is_the_seeds_64_bit_pattern():
    assert random.key(0).dtype == U32 and random.key(0).shape == (2,)
    np.testing.assert_array_equal(random.key(42), [0, 42])
    np.testing.assert_array_equal(random.key(2 ** 40 + 5), [256, 5])
    np.testing.assert_array_equal(random.key(-1), [2 ** 32 - 1, 2 ** 32 - 1])
    np.testing.assert_array_equal(random.key(np.int32(-7)), [0, 2 ** 32 - 7])  # as in JAX
    np.testing.assert_array_equal(random.PRNGKey(3), random.key(3))


def test_key_from_traced_seeds_matches_eager():
    seeds = np.array([0, 1, 2 ** 40 + 5, -1], np.int64)
    np.testing.assert_array_equal(ft.vmap(random.key)(seeds),
                                  np.stack([random.key(int(s)) for s in seeds]))
    small = np.array([3, -7], np.int32)
    np.testing.assert_array_equal(ft.vmap(random.key)(small),
                                  np.stack([random.key(s) for s in small]))


def test_key_rejects_bad_seeds():
    with pytest.raises(TypeError, match="random.key"):
        random.key(1.5)
    with pytest.raises(TypeError, match="random.key"):
        random.key(True)
    with pytest.raises(ValueError, match="64 bits"):
        random.key(2 ** 64)


def test_split_gives_distinct_reproducible_keys():
    key = random.key(0)
    keys = random.split(key, 8)
    assert keys.shape == (8, 2) and keys.dtype == U32
    assert len({tuple(k) for k in keys.tolist()} | {tuple(key.tolist())}) == 9
    np.testing.assert_array_equal(keys, random.split(random.key(0), 8))
    assert random.split(key).shape == (2, 2)
    assert random.split(key, (2, 3)).shape == (2, 3, 2)
    np.testing.assert_array_equal(random.split(key, (2, 3)).reshape(6, 2),
                                  random.split(key, 6))
    # Splitting again gives new keys again: a tree of keys never repeats on these small cases.
    grand = np.concatenate([random.split(k, 8) for k in keys])
    assert len({tuple(k) for k in grand.tolist()} | {tuple(k) for k in keys.tolist()}) == 72


def test_split_is_the_cipher_at_counter_i_and_fold_in_agrees():
    key = random.key(7)
    k0, k1 = key
    keys = random.split(key, 5)
    for i in range(5):
        y0, y1 = random.threefry_2x32(key, np.array([0], U32), np.array([i], U32))
        np.testing.assert_array_equal(keys[i], [y0[0], y1[0]])
        np.testing.assert_array_equal(random.fold_in(key, i), keys[i])
    assert not np.array_equal(random.fold_in(key, 1), random.fold_in(random.key(8), 1))
    np.testing.assert_array_equal(random.fold_in(key, 2 ** 32 + 3), random.fold_in(key, 3))


def test_fold_in_with_traced_data():
    key = random.key(1)
    got = ft.vmap(lambda i: random.fold_in(key, i))(np.arange(4))
    np.testing.assert_array_equal(got, np.stack([random.fold_in(key, i) for i in range(4)]))


def test_bad_keys_are_named_in_errors():
    with pytest.raises(TypeError, match=r"random.uniform: key must be a uint32 array"):
        random.uniform(np.zeros(2, np.float32))
    with pytest.raises(TypeError, match=r"random.normal: key must be .* got u32\[3\]"):
        random.normal(np.zeros(3, U32))
    with pytest.raises(TypeError, match="vmap"):
        random.uniform(random.split(random.key(0), 3), (2,))
    with pytest.raises(TypeError, match="random.split: key"):
        random.split([0, 0])


# --- JAX's numbers -------------------------------------------------------------------------------

@pytest.fixture
def jax_x64():
    """JAX with 64-bit types, functrans's reference, restored afterwards."""
    jax = pytest.importorskip("jax")
    if not jax.config.jax_threefry_partitionable:
        pytest.skip("this JAX uses the older, non-partitionable threefry layout")
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", previous)


def test_same_numbers_as_jax(jax_x64):
    import jax.numpy as jnp
    import jax.random as jr
    key, jkey = random.key(42), jr.PRNGKey(42)
    same = np.testing.assert_array_equal
    same(random.split(key, 5), np.asarray(jr.split(jkey, 5)))
    same(random.fold_in(key, 7), np.asarray(jr.fold_in(jkey, 7)))
    for dtype in (None, np.uint8, np.uint16, np.uint32, np.uint64):
        ours = random.bits(key, (3, 4)) if dtype is None else random.bits(key, (3, 4), dtype)
        theirs = np.asarray(jr.bits(jkey, (3, 4)) if dtype is None else
                            jr.bits(jkey, (3, 4), dtype))
        same(ours, theirs)
        assert ours.dtype == theirs.dtype
    for dtype in (None, np.float32, np.float64):
        kw = {} if dtype is None else {"dtype": dtype}
        ours = random.uniform(key, (100,), minval=-3.0, maxval=5.0, **kw)
        theirs = np.asarray(jr.uniform(jkey, (100,), minval=-3.0, maxval=5.0, **kw))
        same(ours, theirs)
        assert ours.dtype == theirs.dtype
        # gumbel: -log(-log(u)) of the same u; XLA's float32 log may differ in the last bit
        np.testing.assert_allclose(random.gumbel(key, (20,), **kw),
                                   np.asarray(jr.gumbel(jkey, (20,), **kw)),
                                   rtol=8 * np.finfo(dtype or np.float64).eps,
                                   atol=4 * np.finfo(dtype or np.float64).eps)
        # normal/truncated_normal: JAX's formula, scipy's erfinv (XLA's differs in the last bits)
        np.testing.assert_allclose(random.normal(key, (200,), **kw),
                                   np.asarray(jr.normal(jkey, (200,), **kw)),
                                   rtol=16 * np.finfo(dtype or np.float64).eps, atol=0)
        np.testing.assert_allclose(random.truncated_normal(key, -1.5, 2.0, (50,), **kw),
                                   np.asarray(jr.truncated_normal(jkey, -1.5, 2.0, (50,), **kw)),
                                   rtol=16 * np.finfo(dtype or np.float64).eps, atol=0)
    same(random.bernoulli(key, 0.3, (100,)), np.asarray(jr.bernoulli(jkey, 0.3, (100,))))
    for dtype in (None, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64):
        kw = {} if dtype is None else {"dtype": dtype}
        for lo, hi in ((0, 100), (-5, 7), (3, 3), (9, 2), (0, 2 ** 7)):
            if dtype is not None and np.dtype(dtype).kind == "u" and lo < 0:
                continue
            ours = random.randint(key, (40,), lo, hi, **kw)
            theirs = np.asarray(jr.randint(jkey, (40,), lo, hi, **kw))
            same(ours, theirs)
            assert ours.dtype == theirs.dtype
    logits = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    same(random.categorical(key, logits, shape=(3, 4)),
         np.asarray(jr.categorical(jkey, logits, shape=(3, 4))))
    same(random.key(2 ** 40 + 5), np.asarray(jr.key_data(jr.PRNGKey(2 ** 40 + 5))))


def test_default_dtypes_are_jax_x64s():
    key = random.key(0)
    assert random.uniform(key).dtype == np.float64
    assert random.normal(key, (2,)).dtype == np.float64
    assert random.gumbel(key).dtype == np.float64
    assert random.truncated_normal(key, -1.0, 1.0).dtype == np.float64
    assert random.randint(key, (2,), 0, 5).dtype == np.int64
    assert random.bits(key).dtype == np.uint64
    assert random.permutation(key, 5).dtype == np.int64
    assert random.choice(key, 5, (2,)).dtype == np.int64
    assert random.categorical(key, np.zeros(3)).dtype == np.int64
    # Explicit dtypes are kept.
    assert random.normal(key, (2,), np.float32).dtype == np.float32
    assert random.randint(key, (2,), 0, 5, np.int32).dtype == np.int32


# --- distributions -------------------------------------------------------------------------------

N = 100_000


def _z(sample_mean, mean, var, n):
    """How many standard errors a sample mean is from its expectation."""
    return abs(sample_mean - mean) / math.sqrt(var / n)


def test_uniform_range_dtype_and_moments():
    u = random.uniform(random.key(0), (N,))
    assert u.dtype == np.float64 and u.shape == (N,)
    assert u.min() >= 0 and u.max() < 1
    assert _z(u.mean(), 0.5, 1 / 12, N) < 5
    assert _z(((u - 0.5) ** 2).mean(), 1 / 12, 1 / 180, N) < 5      # var of (u-1/2)^2 is 1/180
    assert scipy.stats.kstest(u, "uniform").pvalue > 1e-4
    v = random.uniform(random.key(1), (N,), np.float64, minval=-2.0, maxval=3.0)
    assert v.dtype == np.float64 and v.min() >= -2 and v.max() < 3
    assert scipy.stats.kstest(v, scipy.stats.uniform(-2, 5).cdf).pvalue > 1e-4
    # float64 samples use 52 random bits: far more distinct values than float32's 2**23.
    assert len(np.unique(v)) == N
    assert random.uniform(random.key(0), (), np.float16).dtype == np.float16


def test_uniform_with_array_bounds_broadcasts():
    lo = np.array([0.0, 10.0, -5.0])
    hi = np.array([1.0, 20.0, -4.0])
    u = random.uniform(random.key(3), (1000, 3), np.float64, lo, hi)
    assert np.all(u >= lo) and np.all(u < hi)
    standard_errors = np.sqrt((hi - lo) ** 2 / 12 / 1000)
    assert np.all(np.abs(u.mean(0) - (lo + hi) / 2) < 5 * standard_errors)
    with pytest.raises(ValueError, match="does not broadcast"):
        random.uniform(random.key(0), (4,), minval=np.zeros(3))


def test_uniform_stays_below_maxval_where_rounding_would_reach_it():
    lo = np.float32(1.0)
    hi = np.nextafter(np.nextafter(lo, np.float32(2)), np.float32(2))   # two floats above 1
    u = random.uniform(random.key(0), (1000,), np.float32, lo, hi)
    assert set(np.unique(u).tolist()) == {1.0, float(np.nextafter(lo, np.float32(2)))}


def test_normal_moments_and_distribution():
    for seed, dtype in ((0, np.float32), (1, np.float64)):
        z = random.normal(random.key(seed), (N,), dtype)
        assert z.dtype == dtype and z.shape == (N,)
        assert _z(z.mean(), 0, 1, N) < 5
        assert _z((z ** 2).mean(), 1, 2, N) < 5
        assert _z((z ** 3).mean(), 0, 15, N) < 5
        assert _z((z ** 4).mean(), 3, 96, N) < 5
        assert scipy.stats.kstest(z, "norm").pvalue > 1e-4
    assert random.normal(random.key(0)).shape == ()
    assert random.normal(random.key(0), (2, 3)).shape == (2, 3)


def test_bernoulli_frequencies():
    b = random.bernoulli(random.key(0), 0.3, (N,))
    assert b.dtype == np.bool_
    assert _z(b.mean(), 0.3, 0.21, N) < 5
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    b = random.bernoulli(random.key(1), p, (20_000, 5))
    assert b[:, 0].sum() == 0 and b[:, 4].all()
    np.testing.assert_allclose(b.mean(0), p, atol=5 * 0.5 / math.sqrt(20_000))
    assert random.bernoulli(random.key(2), p).shape == (5,)
    assert random.bernoulli(random.key(2)).shape == ()


def test_randint_is_uniform_over_its_range():
    r = random.randint(random.key(0), (N,), 3, 10)
    assert r.dtype == np.int64 and r.min() == 3 and r.max() == 9
    counts = np.bincount(r - 3, minlength=7)
    assert scipy.stats.chisquare(counts).pvalue > 1e-4
    r = random.randint(random.key(1), (N,), -5, 5, np.int8)
    assert r.dtype == np.int8 and r.min() == -5 and r.max() == 4


def test_randint_edges_of_the_dtype():
    # maxval one past the dtype's range includes its largest value (as in JAX).
    r = random.randint(random.key(0), (5000,), 0, 256, np.uint8)
    assert r.min() == 0 and r.max() == 255
    info = np.iinfo(np.int64)
    r = random.randint(random.key(1), (2000,), info.min, info.max, np.int64)
    assert r.dtype == np.int64 and (r < 0).any() and (r > 0).any()
    assert _z(r.astype(np.float64).mean(), 0, (2.0 ** 64) ** 2 / 12, 2000) < 5
    assert np.all(random.randint(random.key(2), (10,), 5, 5) == 5)   # empty range: minval
    assert np.all(random.randint(random.key(2), (10,), 5, 2) == 5)
    lo, hi = np.array([0, 100]), np.array([2, 103])
    r = random.randint(random.key(3), (1000, 2), lo, hi)
    assert set(r[:, 0].tolist()) == {0, 1} and set(r[:, 1].tolist()) == {100, 101, 102}
    with pytest.raises(TypeError, match="integer dtype"):
        random.randint(random.key(0), (2,), 0, 3, np.float32)


def test_randint_with_traced_bounds():
    f = lambda hi: random.randint(random.key(4), (6,), 0, hi)  # noqa: E731
    his = np.array([1, 5, 1000], np.int64)
    np.testing.assert_array_equal(ft.vmap(f)(his), np.stack([f(int(h)) for h in his]))


def test_permutation_is_a_uniform_permutation():
    perm = random.permutation(random.key(0), 10)
    assert perm.dtype == np.int64 and sorted(perm.tolist()) == list(range(10))
    # All 6 permutations of 3 elements, over 6000 keys, appear equally often.
    keys = random.split(random.key(1), 6000)
    perms = ft.vmap(lambda k: random.permutation(k, 3))(keys)
    codes = perms[:, 0] * 9 + perms[:, 1] * 3 + perms[:, 2]
    _, counts = np.unique(codes, return_counts=True)
    assert len(counts) == 6 and scipy.stats.chisquare(counts).pvalue > 1e-4


def test_permutation_of_an_array_along_an_axis():
    x = np.arange(12.0).reshape(3, 4)
    p = random.permutation(random.key(2), x, axis=1)
    assert p.shape == (3, 4)
    np.testing.assert_array_equal(np.sort(p, axis=1), x)
    np.testing.assert_array_equal(p - p[:1], x - x[:1])     # whole columns move
    p0 = random.permutation(random.key(2), x)
    assert sorted(map(tuple, p0.tolist())) == sorted(map(tuple, x.tolist()))
    assert random.permutation(random.key(0), 0).shape == (0,)
    with pytest.raises(TypeError, match="random.permutation"):
        random.permutation(random.key(0), np.float64(3.0))


def test_choice_with_and_without_replacement():
    c = random.choice(random.key(0), 5, (N,))
    assert c.dtype == np.int64 and c.shape == (N,)
    assert scipy.stats.chisquare(np.bincount(c, minlength=5)).pvalue > 1e-4
    d = random.choice(random.key(1), 10, (10,), replace=False)
    assert sorted(d.tolist()) == list(range(10))
    a = np.arange(30.0).reshape(10, 3)
    rows = random.choice(random.key(2), a, (2, 2), replace=False)
    assert rows.shape == (2, 2, 3)
    assert len({tuple(r) for r in rows.reshape(4, 3).tolist()}) == 4
    cols = random.choice(random.key(2), a, (5,), axis=1)
    assert cols.shape == (10, 5) and set(cols[0].tolist()) <= {0.0, 1.0, 2.0}
    with pytest.raises(ValueError, match="without replacement"):
        random.choice(random.key(0), 3, (4,), replace=False)


def test_choice_with_probabilities():
    p = np.array([0.1, 0.0, 0.2, 0.7])
    c = random.choice(random.key(0), 4, (N,), p=p)
    freq = np.bincount(c, minlength=4) / N
    assert freq[1] == 0
    np.testing.assert_allclose(freq, p, atol=5 * 0.5 / math.sqrt(N))
    # Without replacement (Gumbel top-k): first draws follow p; zero-probability items come last.
    keys = random.split(random.key(1), 20_000)
    firsts = ft.vmap(lambda k: random.choice(k, 4, (3,), replace=False, p=p))(keys)
    assert np.all(firsts != 1)
    np.testing.assert_allclose(np.bincount(firsts[:, 0], minlength=4) / 20_000, p,
                               atol=5 * 0.5 / math.sqrt(20_000))
    with pytest.raises(ValueError, match="p must have shape"):
        random.choice(random.key(0), 4, (2,), p=np.ones(3) / 3)


def test_categorical_frequencies_follow_softmax():
    logits = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], np.float32))
    draws = random.categorical(random.key(0), logits, shape=(N // 2, 2))
    assert draws.dtype == np.int64 and draws.shape == (N // 2, 2)
    for row in range(2):
        freq = np.bincount(draws[:, row], minlength=3) / (N // 2)
        np.testing.assert_allclose(freq, np.exp(logits[row]), atol=5 * 0.5 / math.sqrt(N // 2))
    assert random.categorical(random.key(1), logits).shape == (2,)
    along0 = random.categorical(random.key(1), logits.T, axis=0)
    assert along0.shape == (2,)
    with pytest.raises(ValueError, match="does not broadcast"):
        random.categorical(random.key(0), logits, shape=(3,))


def test_gumbel_moments():
    g = random.gumbel(random.key(0), (N,), np.float64)
    assert np.all(np.isfinite(g))
    assert _z(g.mean(), np.euler_gamma, np.pi ** 2 / 6, N) < 5
    assert scipy.stats.kstest(g, "gumbel_r").pvalue > 1e-4


def test_truncated_normal_bounds_and_distribution():
    t = random.truncated_normal(random.key(0), -1.0, 2.0, (N,), np.float64)
    assert t.min() > -1 and t.max() < 2
    assert scipy.stats.kstest(t, scipy.stats.truncnorm(-1, 2).cdf).pvalue > 1e-4
    t32 = random.truncated_normal(random.key(1), -2.0, 2.0, (N,), np.float32)
    assert t32.dtype == np.float32 and t32.min() > -2 and t32.max() < 2
    assert _z(t32.var(), scipy.stats.truncnorm(-2, 2).var(), 2, N) < 5
    lower = np.array([-1.0, 0.0])
    assert random.truncated_normal(random.key(2), lower, 1.0).shape == (2,)


def test_normal_is_standard_normal():
    for dtype in (np.float32, np.float64):
        z = random.normal(random.key(3), (N,), dtype)
        assert z.dtype == dtype and np.all(np.isfinite(z))
        assert scipy.stats.kstest(z.astype(np.float64), "norm").pvalue > 1e-4


def test_bits_dtypes():
    key = random.key(0)
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        b = random.bits(key, (1000,), dtype)
        assert b.dtype == dtype
        top = np.iinfo(dtype).max
        assert _z(b.astype(np.float64).mean() / top, 0.5, 1 / 12, 1000) < 5
    with pytest.raises(TypeError, match="unsigned"):
        random.bits(key, (2,), np.int32)


def test_samplers_reject_bad_dtypes_and_shapes():
    key = random.key(0)
    with pytest.raises(TypeError, match="random.uniform: dtype"):
        random.uniform(key, (2,), np.int32)
    with pytest.raises(TypeError, match="random.normal: dtype"):
        random.normal(key, (2,), np.complex64)
    with pytest.raises(ValueError, match="negative"):
        random.normal(key, (-1,))
    with pytest.raises(TypeError, match="random.uniform: shape"):
        random.uniform(key, (2.5,))


def test_same_key_same_numbers_different_keys_different_numbers():
    a = random.normal(random.key(0), (5,))
    np.testing.assert_array_equal(a, random.normal(random.key(0), (5,)))
    assert not np.array_equal(a, random.normal(random.key(1), (5,)))
    k1, k2 = random.split(random.key(0))
    assert not np.array_equal(random.uniform(k1, (5,)), random.uniform(k2, (5,)))
    # Element i does not depend on the sample's shape: prefixes agree.
    np.testing.assert_array_equal(random.uniform(k1, (10,))[:5], random.uniform(k1, (5,)))


# --- transforms ----------------------------------------------------------------------------------

_LOGITS = np.random.default_rng(0).standard_normal((3, 5))
SAMPLERS = {
    "split": lambda k: random.split(k, 3),
    "fold_in": lambda k: random.fold_in(k, 5),
    "bits": lambda k: random.bits(k, (4,), np.uint64),
    "uniform": lambda k: random.uniform(k, (2, 3), minval=-1.0, maxval=2.0),
    "normal": lambda k: random.normal(k, (5,), np.float64),
    "bernoulli": lambda k: random.bernoulli(k, np.array([0.2, 0.5, 0.9])),
    "randint": lambda k: random.randint(k, (6,), -3, 7),
    "permutation": lambda k: random.permutation(k, np.arange(12.0).reshape(3, 4), axis=1),
    "choice": lambda k: random.choice(k, np.arange(20.0).reshape(10, 2), (3,), replace=False),
    "choice_p": lambda k: random.choice(k, 4, (5,), p=np.array([0.1, 0.2, 0.3, 0.4])),
    "categorical": lambda k: random.categorical(k, _LOGITS, axis=0, shape=(2, 5)),
    "gumbel": lambda k: random.gumbel(k, (3,)),
    "truncated_normal": lambda k: random.truncated_normal(k, -1.0, 2.0, (4,), np.float64),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_vmap_over_keys_matches_one_key_at_a_time(name):
    sampler = SAMPLERS[name]
    keys = random.split(random.key(3), 4)
    got = ft.vmap(sampler)(keys)
    want = np.stack([sampler(k) for k in keys])
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_traced_program_matches_eager(name):
    sampler = SAMPLERS[name]
    key = random.key(5)
    closed = ft.make_jaxpr(sampler)(key)
    check_program(closed)
    np.testing.assert_array_equal(eval_closed(closed, key)[0], sampler(key))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_jit_matches_eager(name):
    sampler = SAMPLERS[name]
    key = random.key(6)
    np.testing.assert_array_equal(ft.jit(sampler)(key), sampler(key))


def test_grad_through_uniform_bounds_is_the_reparameterization():
    key = random.key(0)
    u = random.uniform(key, (10,), np.float64)

    def total(lo, hi):
        return lax.reduce_sum(random.uniform(key, (10,), np.float64, lo, hi), (0,))
    g_lo, g_hi = ft.grad(total, argnums=(0, 1))(0.5, 2.0)
    np.testing.assert_allclose([g_lo, g_hi], [10 - u.sum(), u.sum()], rtol=1e-12)


def test_grad_of_a_loss_with_noise_treats_the_key_as_constant():
    key = random.key(1)
    noise = random.normal(key, (4,), np.float64)

    def loss(w):
        return lax.reduce_sum(lax.mul(w, random.normal(key, (4,), np.float64)), (0,))
    np.testing.assert_allclose(ft.grad(loss)(np.ones(4)), noise)


def test_grad_through_truncated_normal_bounds_matches_finite_differences():
    key = random.key(2)

    def mean(lower):
        return lax.reduce_sum(random.truncated_normal(key, lower, 1.5, (8,), np.float64), (0,))
    g = ft.grad(mean)(-0.5)
    eps = 1e-6
    fd = (mean(-0.5 + eps) - mean(-0.5 - eps)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-5)
