"""Discrete differences: diff, ediff1d, gradient (static slices, so differentiable).

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import operator

import numpy as np

from .. import lax
from ..core.trace import Tracer
from . import _base as fnp
from ._composed import _arr, _inexact
from ._promotion import canonical_axis, dtype_of, shape_of

__all__ = ["diff", "ediff1d", "gradient"]


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The n-th discrete difference along axis (booleans: not_equal)."""
    a = _arr(a, "diff")
    if len(shape_of(a)) == 0:
        raise ValueError("fnp.diff requires an input of at least one dimension")
    axis = canonical_axis(axis, len(shape_of(a)), "diff")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"fnp.diff: order must be non-negative, got {n}")

    def edge(e):
        e = _arr(e, "diff")
        shape = list(shape_of(a))
        shape[axis] = 1 if len(shape_of(e)) == 0 else shape_of(e)[axis]
        return fnp.broadcast_to(e, tuple(shape))
    pieces = ([edge(prepend)] if prepend is not None else []) + [a] + \
        ([edge(append)] if append is not None else [])
    if len(pieces) > 1:
        a = fnp.concatenate(pieces, axis=axis)
    is_bool = dtype_of(a).kind == "b"
    for _ in range(n):
        hi, lo = _slice(a, 1, None, axis), _slice(a, 0, -1, axis)
        a = fnp.not_equal(hi, lo) if is_bool else fnp.subtract(hi, lo)
    return a


def _slice(a, start, stop, axis):
    """a[start:stop] along axis (static bounds)."""
    return lax.slice_in_dim(a, start, stop, axis=axis)


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of consecutive elements of the flattened array, with optional ends."""
    flat = fnp.ravel(_arr(ary, "ediff1d"))
    d = diff(flat) if shape_of(flat)[0] else flat
    parts = []
    if to_begin is not None:
        parts.append(fnp.ravel(fnp.asarray(_arr(to_begin, "ediff1d"), dtype=dtype_of(d))))
    parts.append(d)
    if to_end is not None:
        parts.append(fnp.ravel(fnp.asarray(_arr(to_end, "ediff1d"), dtype=dtype_of(d))))
    return fnp.concatenate(parts) if len(parts) > 1 else d


def gradient(f, *varargs, axis=None, edge_order=1):
    """The gradient by second-order central differences inside and one-sided differences at
    the edges (edge_order 1 or 2); spacings are scalars or coordinate arrays per axis."""
    f = _inexact(_arr(f, "gradient"))
    n = len(shape_of(f))
    axes = tuple(range(n)) if axis is None else tuple(
        canonical_axis(a, n, "gradient") for a in ((axis,) if isinstance(axis, int) else axis))
    if edge_order not in (1, 2):
        raise ValueError("fnp.gradient: edge_order must be 1 or 2")
    if not varargs:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError("fnp.gradient: give one spacing, or one per axis")
    outs = []
    for ax, h in zip(axes, spacings):
        m = shape_of(f)[ax]
        if m < edge_order + 1:
            raise ValueError("fnp.gradient: each dimension must have at least edge_order + 1 "
                             "elements")
        outs.append(_gradient_axis(fnp, f, ax, h, edge_order))
    return outs[0] if len(outs) == 1 else outs


def _gradient_axis(fnp, f, ax, h, edge_order):
    n = len(shape_of(f))
    m = shape_of(f)[ax]

    def shape_line(v):
        s = [1] * n
        s[ax] = -1
        return fnp.reshape(v, s)
    f0, f1, f2 = _slice(f, 0, -2, ax), _slice(f, 1, -1, ax), _slice(f, 2, None, ax)
    if np.ndim(h) == 0 and not (isinstance(h, Tracer) and shape_of(h)):
        # a Python spacing stays a weak scalar (float32 data stays float32)
        two_h = 2 * h if isinstance(h, (int, float)) else fnp.multiply(2, h)
        interior = fnp.divide(fnp.subtract(f2, f0), two_h)
        first = fnp.take(f, [1], axis=ax) - fnp.take(f, [0], axis=ax)
        last = fnp.take(f, [m - 1], axis=ax) - fnp.take(f, [m - 2], axis=ax)
        if edge_order == 1:
            first, last = fnp.divide(first, h), fnp.divide(last, h)
        else:
            g = [fnp.take(f, [i], axis=ax) for i in (0, 1, 2, m - 3, m - 2, m - 1)]
            first = fnp.divide(-1.5 * g[0] + 2 * g[1] - 0.5 * g[2], h)
            last = fnp.divide(0.5 * g[3] - 2 * g[4] + 1.5 * g[5], h)
        return fnp.concatenate([first, interior, last], axis=ax)
    x = _inexact(_arr(h, "gradient"))
    if shape_of(x) != (m,):
        raise ValueError("fnp.gradient: coordinate arrays must match the axis length")
    dx = fnp.subtract(x[1:], x[:-1])
    d1, d2 = shape_line(dx[:-1]), shape_line(dx[1:])
    # nonuniform second-order central differences
    a = fnp.divide(fnp.negative(d2), fnp.multiply(d1, fnp.add(d1, d2)))
    b = fnp.divide(fnp.subtract(d2, d1), fnp.multiply(d1, d2))
    c = fnp.divide(d1, fnp.multiply(d2, fnp.add(d1, d2)))
    interior = fnp.add(fnp.add(fnp.multiply(a, f0), fnp.multiply(b, f1)), fnp.multiply(c, f2))
    if edge_order == 1:
        first = fnp.divide(fnp.take(f, [1], axis=ax) - fnp.take(f, [0], axis=ax), dx[0])
        last = fnp.divide(fnp.take(f, [m - 1], axis=ax) - fnp.take(f, [m - 2], axis=ax),
                          dx[-1])
    else:
        h1, h2 = dx[0], dx[1]
        fa, fb, fc = (fnp.take(f, [i], axis=ax) for i in (0, 1, 2))
        first = (-(2 * h1 + h2) / (h1 * (h1 + h2)) * fa + (h1 + h2) / (h1 * h2) * fb
                 - h1 / (h2 * (h1 + h2)) * fc)
        h1, h2 = dx[-2], dx[-1]
        fa, fb, fc = (fnp.take(f, [i], axis=ax) for i in (m - 3, m - 2, m - 1))
        last = (h2 / (h1 * (h1 + h2)) * fa - (h2 + h1) / (h1 * h2) * fb
                + (2 * h2 + h1) / (h2 * (h1 + h2)) * fc)
    return fnp.concatenate([first, interior, last], axis=ax)
