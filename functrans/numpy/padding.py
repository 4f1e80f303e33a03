"""numpy.pad's modes on functrans arrays: constant, edge, reflect, symmetric, wrap, maximum,
minimum, mean, median, linear_ramp, empty.

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import builtins

import numpy as np

from .. import lax
from . import _base as fnp
from ._composed import _arr, _is_traced
from ._promotion import dtype_of, shape_of
from .statistics import median

__all__ = ["pad"]


def pad(array, pad_width, mode="constant", **kwargs):
    """numpy.pad with modes constant (constant_values), edge, reflect and symmetric
    (reflect_type 'even'), wrap, linear_ramp (end_values), maximum/minimum/mean/median
    (stat_length None) and empty (zeros); or a callable mode is refused."""
    array = _arr(array, "pad")
    n = len(shape_of(array))
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(
        (-1, 2) if np.ndim(pad_width) else (1, 1)), (n, 2)) if n else np.zeros((0, 2), int)
    if np.any(widths < 0):
        raise ValueError("fnp.pad: pad widths must be non-negative")
    if callable(mode):
        raise NotImplementedError("fnp.pad: a callable mode is not supported (it mutates "
                                  "arrays in place); pad with a named mode")
    if kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError("fnp.pad: reflect_type='odd' is not supported")
    if kwargs.get("stat_length") is not None:
        raise NotImplementedError("fnp.pad: stat_length is not supported")
    if mode == "constant":
        values = np.broadcast_to(np.asarray(kwargs.get("constant_values", 0)).reshape(
            (-1, 2) if np.ndim(kwargs.get("constant_values", 0)) else (1, 1)), (n, 2)) \
            if not _is_traced(kwargs.get("constant_values", 0)) else None
        if values is None:
            raise NotImplementedError("fnp.pad: traced constant_values are not supported")
        out = array
        for ax in range(n):
            lo, hi = widths[ax]
            if lo == 0 and hi == 0:
                continue
            config = [(0, 0, 0)] * n
            config[ax] = (int(lo), 0, 0)
            out = _lax_pad(out, values[ax][0], config)
            config[ax] = (0, int(hi), 0)
            out = _lax_pad(out, values[ax][1], config)
        return out
    if mode == "empty":
        return pad(array, pad_width)
    out = array
    for ax in range(n):
        lo, hi = (int(w) for w in widths[ax])
        if lo == 0 and hi == 0:
            continue
        out = _pad_axis(fnp, out, ax, lo, hi, mode, kwargs)
    return out


def _lax_pad(x, value, config):
    value = np.asarray(value).astype(dtype_of(x))[()]
    if _is_traced(x):
        return lax.pad(x, value, config)
    return np.pad(x, [(c[0], c[1]) for c in config], constant_values=value)


def _pad_axis(fnp, x, ax, lo, hi, mode, kwargs):
    m = shape_of(x)[ax]
    if mode in ("edge", "reflect", "symmetric", "wrap"):
        if m == 0:
            raise ValueError(f"fnp.pad: can't extend an empty axis with mode {mode!r}")
        idx = np.arange(-lo, m + hi)
        if mode == "edge":
            idx = np.clip(idx, 0, m - 1)
        elif mode == "wrap":
            idx = idx % m
        elif mode == "reflect":
            period = 2 * (m - 1) if m > 1 else 1
            idx = np.abs(idx) % period if m > 1 else np.zeros_like(idx)
            idx = np.where(idx >= m, period - idx, idx)
        else:   # symmetric
            period = 2 * m
            idx = idx % period
            idx = np.where(idx >= m, period - 1 - idx, idx)
        return fnp.take(x, idx, axis=ax)
    if mode in ("maximum", "minimum", "mean", "median"):
        stat = {"maximum": fnp.max, "minimum": fnp.min, "mean": fnp.mean,
                "median": _median_fn()}[mode]
        v = stat(x, axis=ax, keepdims=True)
        if mode in ("mean", "median") and dtype_of(x).kind in "iu":
            v = fnp.asarray(fnp.round(v), dtype=dtype_of(x))
        parts = [fnp.repeat(v, lo, axis=ax), x, fnp.repeat(v, hi, axis=ax)]
        return fnp.concatenate(parts, axis=ax)
    if mode == "linear_ramp":
        ends = np.broadcast_to(np.asarray(kwargs.get("end_values", 0), dtype=np.float64)
                               .reshape(-1, 2) if np.ndim(kwargs.get("end_values", 0)) else
                               np.zeros((1, 2)) + kwargs.get("end_values", 0), (1, 2))[0]
        first = fnp.take(x, [0], axis=ax)
        last = fnp.take(x, [m - 1], axis=ax)
        shape = [1] * len(shape_of(x))
        shape[ax] = -1
        ramp_lo = np.arange(lo, dtype=np.float64) / builtins.max(lo, 1)
        ramp_hi = np.arange(1, hi + 1, dtype=np.float64) / builtins.max(hi, 1)
        d = dtype_of(x)
        left = fnp.add(ends[0], fnp.multiply(fnp.subtract(first, ends[0]),
                                             np.reshape(ramp_lo, shape)))
        right = fnp.add(last, fnp.multiply(fnp.subtract(ends[1], last),
                                           np.reshape(ramp_hi, shape)))
        if d.kind in "iu":
            left, right = fnp.asarray(fnp.trunc(left), dtype=d), fnp.asarray(fnp.trunc(right),
                                                                               dtype=d)
        else:
            left, right = fnp.asarray(left, dtype=d), fnp.asarray(right, dtype=d)
        return fnp.concatenate([left, x, right], axis=ax)
    raise ValueError(f"fnp.pad: mode {mode!r} is not supported")


def _median_fn():
    return median
