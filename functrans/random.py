"""functrans.random: splittable, counter-based pseudo-random numbers with jax.random's API.

Keys and how numbers are made
  A key is a uint32 array of shape (2,): the key of the Threefry-2x32 block cipher with 20
  rounds (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
  A sampler applies the cipher to counters: element i (in row-major order) of a sample of shape
  `shape` comes from the block at the 64-bit counter i, as the pair of words (i >> 32, i mod
  2**32). There is no hidden state: a sampler is a pure function of its key and arguments,
  written with lax operations on uint32, so it gives the same numbers eagerly, inside grad,
  under vmap (mapping over a batch of keys gives, in row i, the sample drawn with keys[i]) and
  under jit.

Reproducibility
  The same key gives the same numbers on every platform, every run and every transform: the
  cipher is integer arithmetic modulo 2**32 and the conversions to floats are exact (float
  samplers then apply the usual floating-point functions: log, cos, erf). key, split, fold_in,
  bits, uniform and bernoulli follow the layout of JAX's default ("partitionable") Threefry
  implementation and give JAX's numbers bit for bit; gumbel and categorical use JAX's formulas
  (equal up to the last bit of log). normal, randint, permutation, choice and truncated_normal
  use their own transforms of the random bits.
  Never use a key twice: two samples drawn with one key are the same numbers (or strongly
  related ones). Split a key into as many keys as you need and use each once:

      key = random.key(0)
      key, sub = random.split(key)      # carry `key` forward, consume `sub`
      w = random.normal(sub, (3, 4))

  fold_in(key, i) derives the key of step i of a loop without carrying one along. A key that
  was split must not be used for sampling too (split(key)[i] and the sample's element i share a
  block of the cipher).

Dtypes
  As in JAX with 64-bit types enabled, samplers default to float64 and int64 (bits to
  uint64); pass dtype= for others. key/split/fold_in/bits/uniform/bernoulli/randint/gumbel/
  categorical give JAX's numbers bit for bit; normal and truncated_normal compute JAX's formula
  (sqrt(2)·erfinv(u)) with the erf_inv primitive (scipy's erfinv), which agrees with XLA's to
  the last bit or two; permutation and choice shuffle differently from JAX (same distribution,
  other numbers). Keys are integers, so derivatives never flow into them; samplers are
  differentiable in their floating-point parameters (minval/maxval of uniform, the bounds of
  truncated_normal), as the reparameterization trick needs.
"""
import math
import operator

import numpy as np

from . import lax
from .core import dtypes
from .core.trace import Tracer, get_aval
from .primitives.bits import nextafter, shift_left, shift_right_logical

__all__ = ["key", "PRNGKey", "split", "fold_in", "bits", "uniform", "normal", "bernoulli",
           "randint", "permutation", "choice", "categorical", "gumbel", "truncated_normal",
           "threefry_2x32"]

KEY_DTYPE = dtypes.uint32
_UINT_OF_BITS = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}
_SIGNED_OF_BITS = {32: dtypes.int32, 64: dtypes.int64}
_FLOATS = (dtypes.float16, dtypes.float32, dtypes.float64)
_INDEX_DTYPE = dtypes.int64

# Threefry-2x32's rotation distances, used by rounds 1-4 and 5-8 in turn, and the key-schedule
# parity constant it inherits from the Threefish cipher (Salmon et al.).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA


# --- the cipher ----------------------------------------------------------------------------------

def _rotate_left(x, distance):
    return lax.bitwise_or(shift_left(x, distance), shift_right_logical(x, 32 - distance))


def _threefry(k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds: the key words k0, k1 (uint32 scalars) encrypt the counter
    words x0, x1 (uint32 arrays of one shape). Additions wrap modulo 2**32."""
    schedule = (k0, k1, lax.bitwise_xor(lax.bitwise_xor(k0, k1), _KEY_PARITY))
    x0, x1 = lax.add(x0, k0), lax.add(x1, k1)
    for group in range(5):      # 5 groups of 4 rounds, with a key injection after each group
        for distance in _ROTATIONS[group % 2]:
            x0 = lax.add(x0, x1)
            x1 = lax.bitwise_xor(_rotate_left(x1, distance), x0)
        x0 = lax.add(x0, schedule[(group + 1) % 3])
        x1 = lax.add(lax.add(x1, schedule[(group + 2) % 3]), group + 1)
    return x0, x1


def threefry_2x32(key, x0, x1):
    """The Threefry-2x32 block cipher (20 rounds) keyed by `key` (uint32, shape (2,)) applied to
    the counters (x0[i], x1[i]): returns the two output words, uint32 arrays of x0's shape."""
    k0, k1 = _key_words("threefry_2x32", key)
    a0, a1 = get_aval(x0), get_aval(x1)
    if a0.dtype != KEY_DTYPE or a1.dtype != KEY_DTYPE or a0.shape != a1.shape:
        raise TypeError(f"random.threefry_2x32: counters must be uint32 arrays of one shape, got "
                        f"{a0.str_short()} and {a1.str_short()}")
    return _threefry(k0, k1, x0, x1)


# --- keys ----------------------------------------------------------------------------------------

def _key_words(name, key):
    """The two uint32 words of a key, after checking that it is one."""
    try:
        aval = get_aval(key)
    except TypeError:
        aval = None
    if aval is None or aval.dtype != KEY_DTYPE or aval.shape != (2,):
        got = aval.str_short() if aval is not None else type(key).__name__
        hint = ""
        if aval is not None and aval.dtype == KEY_DTYPE and aval.ndim > 1 and \
                aval.shape[-1] == 2:
            hint = (". To sample with each key of a batch of keys, map the sampler over them "
                    "with functrans.vmap")
        raise TypeError(f"random.{name}: key must be a uint32 array of shape (2,), made by "
                        f"random.key(seed) or random.split; got {got}{hint}")
    return (lax.index_in_dim(key, 0, keepdims=False), lax.index_in_dim(key, 1, keepdims=False))


def key(seed):
    """A key from an integer seed: the seed's 64-bit pattern as two words (high, low).

    Seeds of integer dtypes narrower than 64 bits have a zero high word (their own bits form the
    low word), as in JAX; a Python int is taken as a 64-bit integer. The seed may be traced."""
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError("random.key: seed must be an integer, got a bool")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, Tracer):
        width = 64 if isinstance(seed, int) else np.dtype(type(seed)).itemsize * 8
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise ValueError(f"random.key: seed {seed} does not fit in 64 bits")
        seed %= 2 ** 64 if width == 64 else 2 ** 32
        return np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=KEY_DTYPE)
    aval = get_aval(seed)
    if aval.ndim != 0 or aval.dtype.kind not in "iu":
        raise TypeError(f"random.key: seed must be an integer scalar, got {aval.str_short()}")
    high = shift_right_logical(seed, 32) if aval.dtype.itemsize == 8 else \
        lax.full((), 0, aval.dtype)
    words = [lax.convert_element_type(w, KEY_DTYPE) for w in (high, seed)]
    return lax.concatenate([lax.reshape(w, (1,)) for w in words], 0)


PRNGKey = key


def _shape(name, shape):
    """A static sample shape: an int or a sequence of non-negative ints."""
    try:
        shape = (operator.index(shape),) if not isinstance(shape, (tuple, list)) else \
            tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"random.{name}: shape must be an int or a tuple of ints known before "
                        f"tracing, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"random.{name}: shape {shape} has a negative size")
    return shape


def _blocks(name, key, shape):
    """The cipher's two output words for every element of `shape` (each word: uint32, of
    `shape`): element i is encrypted from the counter (i >> 32, i mod 2**32)."""
    k0, k1 = _key_words(name, key)
    size = math.prod(shape)
    if size >= 2 ** 32:
        raise ValueError(f"random.{name}: samples of 2**32 elements or more are not supported "
                         f"(shape {shape})")
    high = lax.full((size,), 0, KEY_DTYPE)     # i >> 32 is zero below 2**32 elements
    low = lax.iota(KEY_DTYPE, size)
    y0, y1 = _threefry(k0, k1, high, low)
    return lax.reshape(y0, shape), lax.reshape(y1, shape)


def split(key, num=2):
    """`num` new keys from `key` (num may be a shape): an array of shape (num, 2), or
    (*num, 2). Key i is the cipher's block at counter i, the same key as fold_in(key, i)."""
    shape = _shape("split", num)
    y0, y1 = _blocks("split", key, shape)
    last = (len(shape),)
    return lax.concatenate([lax.expand_dims(y0, last), lax.expand_dims(y1, last)], len(shape))


def fold_in(key, data):
    """A new key from `key` and an integer `data` (its low 32 bits): the key of step `data`
    of a loop, equal to split(key, n)[data] for any n > data. data may be traced."""
    k0, k1 = _key_words("fold_in", key)
    if isinstance(data, (bool, np.bool_)):
        raise TypeError("random.fold_in: data must be an integer, got a bool")
    if isinstance(data, (int, np.integer)) and not isinstance(data, Tracer):
        data = np.array([int(data) % 2 ** 32], dtype=KEY_DTYPE)
    else:
        aval = get_aval(data)
        if aval.ndim != 0 or aval.dtype.kind not in "iu":
            raise TypeError(f"random.fold_in: data must be an integer scalar, got "
                            f"{aval.str_short()}")
        data = lax.reshape(lax.convert_element_type(data, KEY_DTYPE), (1,))
    y0, y1 = _threefry(k0, k1, lax.full((1,), 0, KEY_DTYPE), data)
    return lax.concatenate([y0, y1], 0)


# --- random bits and uniform floats --------------------------------------------------------------

def bits(key, shape=(), dtype=np.uint64):
    """Uniformly random bits: an array of `shape` of an unsigned dtype (8, 16, 32 or 64 bits).

    64-bit elements take both words of their block (high, low); narrower ones the exclusive or
    of the two words, cut to the width."""
    shape = _shape("bits", shape)
    dtype = dtypes.canonicalize(dtype)
    if dtype.kind != "u":
        raise TypeError(f"random.bits: dtype must be an unsigned integer dtype, got {dtype.name}")
    y0, y1 = _blocks("bits", key, shape)
    if dtype.itemsize == 8:
        high = shift_left(lax.convert_element_type(y0, dtype), 32)
        return lax.bitwise_or(high, lax.convert_element_type(y1, dtype))
    return lax.convert_element_type(lax.bitwise_xor(y0, y1), dtype)


def _float_dtype(name, dtype):
    dtype = dtypes.canonicalize(dtype)
    if dtype not in _FLOATS:
        raise TypeError(f"random.{name}: dtype must be a floating-point dtype (float16, float32 "
                        f"or float64), got {dtype.name}")
    return dtype


def _as_dtype(value, dtype):
    if isinstance(value, Tracer):
        return lax.convert_element_type(value, dtype)
    return np.asarray(value, dtype=dtype)


def _broadcast_param(name, what, value, dtype, shape):
    """A sampler's parameter in `dtype`, broadcast (numpy's rules) to the sample's `shape`; rank-0
    parameters stay rank 0, which lax's elementwise operations broadcast."""
    value = _as_dtype(value, dtype)
    vshape = get_aval(value).shape
    try:
        ok = np.broadcast_shapes(vshape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"random.{name}: {what} of shape {vshape} does not broadcast to the "
                         f"sample shape {shape}")
    if not vshape or vshape == shape:
        return value
    dims = tuple(range(len(shape) - len(vshape), len(shape)))
    return lax.broadcast_in_dim(value, shape, dims)


def _unit_interval(key, shape, dtype):
    """Uniform floats in [0, 1) of `dtype`: the top nmant bits of each element's random bits,
    times 2**-nmant (exact: every such float has a mantissa of nmant bits)."""
    info = np.finfo(dtype)
    raw = bits(key, shape, _UINT_OF_BITS[info.bits])
    mantissa = shift_right_logical(raw, info.bits - info.nmant)
    return lax.mul(lax.convert_element_type(mantissa, dtype), 2.0 ** -info.nmant)


def uniform(key, shape=(), dtype=np.float64, minval=0.0, maxval=1.0):
    """Uniform floats in [minval, maxval) (default dtype float64). minval and maxval broadcast
    to `shape`, and the sample is differentiable in them (x = minval + u·(maxval - minval)).

    u takes the values k·2**-p (p = 23 for float32, 52 for float64). Where rounding in the
    affine map would reach maxval, the result is the float just below it."""
    shape = _shape("uniform", shape)
    dtype = _float_dtype("uniform", dtype)
    minval = _broadcast_param("uniform", "minval", minval, dtype, shape)
    maxval = _broadcast_param("uniform", "maxval", maxval, dtype, shape)
    _key_words("uniform", key)
    unit = _unit_interval(key, shape, dtype)
    out = lax.add(lax.mul(unit, lax.sub(maxval, minval)), minval)
    return lax.max(minval, lax.min(out, nextafter(maxval, minval)))


def normal(key, shape=(), dtype=np.float64):
    """Standard normal samples (default dtype float64) by inverting the normal CDF, as JAX
    does: sqrt(2)·erfinv(u) for u uniform in (-1, 1)."""
    shape = _shape("normal", shape)
    dtype = _float_dtype("normal", dtype)
    _key_words("normal", key)
    lowest = np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype))
    u = uniform(key, shape, dtype, minval=lowest, maxval=1.0)
    return lax.mul(math.sqrt(2.0), lax.erf_inv(u))


def _param_dtype(value):
    """The float dtype a sampler computes in: its parameter's if that is a strongly typed float
    (an array), else float64."""
    if dtypes.is_python_scalar(value):
        return dtypes.float64
    aval = get_aval(value if isinstance(value, Tracer) else np.asarray(value))
    return aval.dtype if aval.dtype in _FLOATS and not aval.weak_type else dtypes.float64


def bernoulli(key, p=0.5, shape=None):
    """Booleans that are True with probability p (p broadcasts to `shape`; shape defaults to
    p's shape). Computed as uniform(key, shape, dtype) < p, in p's float dtype (float64 for a
    Python float)."""
    dtype = _param_dtype(p)
    pshape = get_aval(_as_dtype(p, dtype)).shape
    shape = pshape if shape is None else _shape("bernoulli", shape)
    p = _broadcast_param("bernoulli", "p", p, dtype, shape)
    return lax.lt(uniform(key, shape, dtype), p)


def gumbel(key, shape=(), dtype=np.float64):
    """Standard Gumbel samples -log(-log(u)), u uniform in [tiny, 1) (default dtype float64)."""
    shape = _shape("gumbel", shape)
    dtype = _float_dtype("gumbel", dtype)
    u = uniform(key, shape, dtype, minval=np.finfo(dtype).tiny, maxval=1.0)
    return lax.neg(lax.log(lax.neg(lax.log(u))))


# --- integers ------------------------------------------------------------------------------------

def _int_bound(name, what, value, dtype):
    """An integer bound clipped into dtype's range and converted to dtype, with a flag that says
    whether it was above dtype's maximum (a bool, or a traced bool)."""
    info = np.iinfo(dtype)
    if isinstance(value, Tracer):
        aval = get_aval(value)
        if aval.dtype.kind not in "iu":
            raise TypeError(f"random.{name}: {what} must be an integer, got {aval.str_short()}")
        own = np.iinfo(aval.dtype)
        low, high = max(info.min, own.min), min(info.max, own.max)
        above = lax.gt(value, high) if high < own.max else False
        if low > own.min or high < own.max:
            value = lax.clamp(np.asarray(low, aval.dtype), value, np.asarray(high, aval.dtype))
        return lax.convert_element_type(value, dtype), above
    array = np.asarray(value)
    if array.dtype.kind not in "iu" and not (array.dtype == object and
                                             all(isinstance(v, int) for v in array.flat)):
        raise TypeError(f"random.{name}: {what} must be an integer or an integer array, got "
                        f"{value!r}")
    values = np.array([min(max(int(v), int(info.min)), int(info.max)) for v in array.flat],
                      dtype=dtype).reshape(array.shape)
    above = np.array([int(v) > int(info.max) for v in array.flat]).reshape(array.shape)
    return values, above


def randint(key, shape, minval, maxval, dtype=np.int64):
    """Integers uniform in [minval, maxval) (default dtype int64); minval and maxval broadcast
    to `shape` and are clipped into dtype's range (a maxval past the range's end includes its
    largest value). Where maxval <= minval the result is minval.

    JAX's algorithm, so the numbers are JAX's: two words of random bits of the dtype's width
    (from the two halves of split(key)), hi and lo, give the offset
    ((hi mod span)·(2**width mod span) + lo mod span) mod span, a bias of at most
    span / 2**width."""
    shape = _shape("randint", shape)
    dtype = dtypes.canonicalize(dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"random.randint: dtype must be an integer dtype, got {dtype.name}")
    # Narrow dtypes draw 32-bit words, as JAX does (so int8 and int32 give the same numbers).
    width = max(dtype.itemsize * 8, 32)
    unsigned = _UINT_OF_BITS[width]
    minval, _ = _int_bound("randint", "minval", minval, dtype)
    maxval, above = _int_bound("randint", "maxval", maxval, dtype)
    minval = _broadcast_param("randint", "minval", minval, dtype, shape)
    maxval = _broadcast_param("randint", "maxval", maxval, dtype, shape)
    above = _broadcast_param("randint", "maxval", above, dtypes.bool_, shape)
    wide_min, wide_max = (lax.convert_element_type(v, _SIGNED_OF_BITS[width] if dtype.kind == "i"
                                                   else unsigned) for v in (minval, maxval))
    k1, k2 = split(key, 2)
    higher, lower = bits(k1, shape, unsigned), bits(k2, shape, unsigned)
    # maxval - minval modulo 2**width is the true span whenever maxval > minval.
    span = lax.sub(lax.convert_element_type(wide_max, unsigned),
                   lax.convert_element_type(wide_min, unsigned))
    span = lax.select_n(lax.le(maxval, minval), span, lax.full_like(span, 1))
    # A maxval past the dtype's range includes its largest value: one more in the span.
    span = lax.select_n(lax.bitwise_and(above, lax.gt(maxval, minval)), span,
                        lax.add(span, lax.full_like(span, 1)))
    half = np.asarray(2 ** (width // 2), unsigned)
    multiplier = _rem(lax.full_like(span, half), span)
    multiplier = _rem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(_rem(higher, span), multiplier), _rem(lower, span))
    offset = _rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


def _rem(x, span):
    """x mod span, where a span of 0 (the whole 2**width range, wrapped) leaves x as it is."""
    safe = lax.max(span, lax.full_like(span, 1))
    return lax.select_n(lax.eq(span, lax.full_like(span, 0)), lax.rem(x, safe), x)


def _move_axis(x, src, dst):
    ndim = get_aval(x).ndim
    if src == dst:
        return x
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return lax.transpose(x, tuple(perm))


def _take(x, indices, axis):
    """x with axis `axis` replaced by x's slices at `indices` (int, shape (k,))."""
    moved = _move_axis(x, axis, 0)
    taken = lax.gather(moved, lax.expand_dims(indices, (1,)))
    return _move_axis(taken, 0, axis)


def _permutation_indices(name, key, n):
    """A uniformly random permutation of range(n) (int32): iota sorted by 64-bit random keys
    (ties, of probability about n**2 / 2**65, keep the index order)."""
    if n == 0:
        _key_words(name, key)
        return np.zeros((0,), _INDEX_DTYPE)
    sort_keys = bits(key, (n,), dtypes.uint64)
    _, perm = lax.sort_key_val(sort_keys, lax.iota(_INDEX_DTYPE, n))
    return perm


def _static_int(x):
    """x as a Python int if it is a concrete integer scalar, else None."""
    if isinstance(x, (bool, np.bool_)) or isinstance(x, Tracer):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iu":
        return int(x)
    return None


def _normalize_axis(name, axis, ndim):
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"random.{name}: axis {axis} is out of range for an array of rank "
                         f"{ndim}")
    return axis % ndim


def _sliced(name, arg, x, axis):
    """x (not an int) as an array of rank >= 1, its aval and the axis whose slices are drawn."""
    x = x if isinstance(x, Tracer) else np.asarray(x)
    aval = get_aval(x)
    if aval.ndim == 0:
        raise TypeError(f"random.{name}: {arg} must be an int known before tracing or an array "
                        f"of rank >= 1, got {aval.str_short()}")
    return x, aval, _normalize_axis(name, axis, aval.ndim)


def permutation(key, x, axis=0):
    """A random permutation of range(x) (int32) if x is an int, else of x's slices along axis.
    Every permutation is equally likely."""
    n = _static_int(x)
    if n is not None:
        if n < 0:
            raise ValueError(f"random.permutation: x must be a non-negative int, got {n}")
        return _permutation_indices("permutation", key, n)
    x, aval, axis = _sliced("permutation", "x", x, axis)
    perm = _permutation_indices("permutation", key, aval.shape[axis])
    return _take(x, perm, axis)


def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Random elements of range(a) (if a is an int) or slices of the array a along axis.

    shape: the shape of the sample (it replaces a's axis in the result). replace=False draws
    distinct elements. p: probabilities of the n candidates (normalized here); with
    replacement the sample inverts their cumulative sum, without replacement it takes the
    largest log(p) + Gumbel noise (the Gumbel top-k trick), as JAX does."""
    shape = _shape("choice", shape)
    n = _static_int(a)
    if n is None:
        a, aval, axis = _sliced("choice", "a", a, axis)
        n = aval.shape[axis]
    elif n < 0:
        raise ValueError(f"random.choice: a must be a non-negative int, got {n}")
    k = math.prod(shape)
    if k > 0 and n == 0:
        raise ValueError("random.choice: cannot take a non-empty sample from an empty set")
    if not replace and k > n:
        raise ValueError(f"random.choice: cannot take {k} distinct elements (shape {shape}) "
                         f"from {n} without replacement")
    if p is None:
        if replace:
            flat = randint(key, (k,), 0, n, _INDEX_DTYPE)
        else:
            flat = lax.slice_in_dim(_permutation_indices("choice", key, n), 0, k)
    else:
        flat = _weighted_choice(key, p, n, k, replace)
    if _static_int(a) is not None:
        return lax.reshape(flat, shape)
    taken = _take(a, flat, axis)
    in_shape = get_aval(a).shape
    return lax.reshape(taken, in_shape[:axis] + shape + in_shape[axis + 1:])


def _weighted_choice(key, p, n, k, replace):
    dtype = _param_dtype(p)
    p = _as_dtype(p, dtype)
    if get_aval(p).shape != (n,):
        raise ValueError(f"random.choice: p must have shape ({n},), one probability per "
                         f"candidate, got {get_aval(p).shape}")
    if replace:
        cumulative = lax.cumsum(p, axis=0)
        total = lax.index_in_dim(cumulative, n - 1, keepdims=False)
        # r is uniform in (0, total]; the chosen index is the number of partial sums below r,
        # so candidates of probability 0 are never chosen.
        r = lax.mul(total, lax.sub(1.0, uniform(key, (k,), dtype)))
        below = lax.lt(lax.broadcast_in_dim(cumulative, (k, n), (1,)),
                       lax.broadcast_in_dim(r, (k, n), (0,)))
        return lax.reduce_sum(lax.convert_element_type(below, _INDEX_DTYPE), (1,))
    scores = lax.add(lax.log(p), gumbel(key, (n,), dtype))
    _, order = lax.sort_key_val(lax.neg(scores), lax.iota(_INDEX_DTYPE, n))
    return lax.slice_in_dim(order, 0, k)


def categorical(key, logits, axis=-1, shape=None):
    """Indices (int32) drawn with probabilities softmax(logits) along `axis`, by the Gumbel-max
    trick: argmax(logits + Gumbel noise).

    shape: the output shape; the logits' other axes (their batch shape) broadcast to its
    trailing axes. Defaults to the batch shape: one draw per distribution."""
    logits = logits if isinstance(logits, Tracer) else np.asarray(logits)
    aval = get_aval(logits)
    if aval.dtype not in _FLOATS:
        raise TypeError(f"random.categorical: logits must be floating-point, got "
                        f"{aval.str_short()}")
    if aval.ndim == 0:
        raise TypeError("random.categorical: logits must have rank >= 1 (one axis of "
                        "categories)")
    axis = _normalize_axis("categorical", axis, aval.ndim)
    batch_shape = aval.shape[:axis] + aval.shape[axis + 1:]
    shape = batch_shape if shape is None else _shape("categorical", shape)
    try:
        ok = len(shape) >= len(batch_shape) and \
            np.broadcast_shapes(shape, batch_shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"random.categorical: the logits' batch shape {batch_shape} does not "
                         f"broadcast to shape {shape}")
    prefix = shape[:len(shape) - len(batch_shape)]
    noise_shape = list(shape[len(prefix):])
    noise_shape.insert(axis, aval.shape[axis])
    noise_shape = prefix + tuple(noise_shape)
    logits = lax.broadcast_in_dim(logits, noise_shape, tuple(range(len(prefix), len(noise_shape))))
    noise = gumbel(key, noise_shape, aval.dtype)
    return lax.argmax(lax.add(logits, noise), len(prefix) + axis, _INDEX_DTYPE)


# --- truncated normal ----------------------------------------------------------------------------

def truncated_normal(key, lower, upper, shape=None, dtype=np.float64):
    """Standard normal samples conditioned on lower < x < upper (default dtype float64), by
    inverting the normal CDF: x = sqrt(2)·erfinv(u), u uniform between erf(lower/sqrt(2)) and
    erf(upper/sqrt(2)). lower and upper broadcast to `shape` (default: their broadcast shape)."""
    dtype = _float_dtype("truncated_normal", dtype)
    lower, upper = _as_dtype(lower, dtype), _as_dtype(upper, dtype)
    bounds_shape = np.broadcast_shapes(get_aval(lower).shape, get_aval(upper).shape)
    shape = bounds_shape if shape is None else _shape("truncated_normal", shape)
    lower = _broadcast_param("truncated_normal", "lower", lower, dtype, shape)
    upper = _broadcast_param("truncated_normal", "upper", upper, dtype, shape)
    root2 = math.sqrt(2.0)
    low, high = lax.erf(lax.div(lower, root2)), lax.erf(lax.div(upper, root2))
    u = uniform(key, shape, dtype, minval=low, maxval=high)
    x = lax.mul(root2, lax.erf_inv(u))
    # Rounding can leave x at (or past) a bound: keep it strictly inside.
    inside_low = nextafter(lower, np.asarray(np.inf, dtype))
    inside_high = nextafter(upper, np.asarray(-np.inf, dtype))
    return lax.max(inside_low, lax.min(x, inside_high))
