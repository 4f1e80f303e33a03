"""The out-of-bounds modes of x.at[idx] (JAX's `mode=` and `fill_value=`) and `.apply`.

Without a mode, a static index out of bounds raises IndexError (numpy's rule; see
docs/sharp-edges.md) and a traced one is clamped (get) or dropped (updates). With an explicit
mode the JAX semantics hold for static indices too:
  "fill" / "drop"            get returns fill_value where out of bounds; updates are dropped
  "clip" / "promise_in_bounds"   indices are clamped into range
The static integer parts of the index are staged as traced values (make_jaxpr) and the small
program is evaluated at once, so the traced path's mode handling applies to them unchanged.
"""
import numpy as np

from ..core import dtypes
from ..core.trace import Tracer

__all__ = []

_FILL = ("fill", "drop", "fill_or_drop")
_CLIP = ("clip", "promise_in_bounds")


def mode_name(mode):
    if mode is None:
        return None
    name = str(getattr(mode, "name", mode)).lower()
    if name not in _FILL + _CLIP:
        raise ValueError(f"x.at[...]: mode must be one of 'promise_in_bounds', 'clip', 'drop', "
                         f"'fill', got {mode!r}")
    return "clip" if name in _CLIP else "fill"


def default_fill_value(dtype):
    """JAX's default: NaN (inexact), the most negative (signed), the largest (unsigned), True."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind == "b":
        return True
    info = np.iinfo(dtype)
    return info.min if dtype.kind == "i" else info.max


def _is_static_int(p):
    if isinstance(p, Tracer) or isinstance(p, bool) or isinstance(p, np.bool_):
        return False
    if isinstance(p, (int, np.integer)):
        return True
    return isinstance(p, (np.ndarray, list)) and np.asarray(p).dtype.kind in "iu"


def with_staged_ints(fn, array, index, *rest):
    """fn(array, index, *rest) with the static integer parts of index traced, so that
    out-of-range entries follow the traced path's mode instead of raising IndexError."""
    parts = index if isinstance(index, tuple) else (index,)
    where = [k for k, p in enumerate(parts) if _is_static_int(p)]
    if not where:
        return fn(array, index, *rest)
    from ..core.staging import eval_closed
    from ..transforms.tracing import make_jaxpr
    ints = [np.asarray(parts[k]) for k in where]

    def staged(arr, *args):
        new = list(parts)
        for k, v in zip(where, args[:len(where)]):
            new[k] = v
        idx = tuple(new) if isinstance(index, tuple) else new[0]
        return fn(arr, idx, *args[len(where):])

    closed = make_jaxpr(staged)(array, *ints, *rest)
    (out,) = eval_closed(closed, array, *ints, *rest)
    return out


def get(array, index, mode, fill_value):
    from .indexing import _positions, getitem
    from .elementwise import where as fnp_where
    from ._promotion import dtype_of, shape_of
    mode = mode_name(mode)
    if mode is None:
        return getitem(array, index)
    if mode == "clip":
        return with_staged_ints(lambda a, i: getitem(a, i, mode="clip"), array, index)
    dtype = dtype_of(array)
    fill = default_fill_value(dtype) if fill_value is None else fill_value
    fill = np.asarray(fill).astype(dtype)

    def filled(a, i):
        values = getitem(a, i, mode="fill")
        positions = _positions(shape_of(a), i, "fill_or_drop")
        return fnp_where(positions < 0, fill, values)
    return with_staged_ints(filled, array, index)


def update(array, index, values, op, mode):
    from .indexing import update as _update
    mode = mode_name(mode)
    if mode is None:
        return _update(array, index, values, op)
    inner = "clip" if mode == "clip" else "drop"
    return with_staged_ints(lambda a, i, v: _update(a, i, v, op, inner), array, index, values)


def apply(array, index, func, mode):
    """x with func applied at x[idx], once per occurrence of a position (repeated indices
    apply it repeatedly, as in JAX)."""
    from .. import lax
    from .indexing import _positions
    from ._promotion import asarray, cast, dtype_of, shape_of
    from .elementwise import maximum, where
    from ..core.array import to_array
    mode = mode_name(mode)
    x = asarray(array, "at")
    shape, dtype = shape_of(x), dtype_of(x)
    size = int(np.prod(shape, dtype=np.int64))

    def applied(a, i):
        positions = _positions(shape, i, "clip" if mode == "clip" else "fill_or_drop")
        if isinstance(positions, Tracer):
            pos = lax.reshape(positions, (int(np.prod(shape_of(positions), dtype=np.int64)),))
        else:       # an Array, so that the loop's traced counter can index it
            pos = to_array(np.asarray(positions).reshape(-1))
        flat = lax.reshape(a, (size,))
        n = shape_of(pos)[0]

        def body(k, flat):
            p = pos[k]
            safe = maximum(p, 0)          # -1 marks a dropped (out-of-bounds) position
            old = flat[safe]
            return flat.at[safe].set(where(p >= 0, cast(func(old), dtype), old))
        from ..lax import fori_loop
        flat = fori_loop(0, n, body, flat)
        return lax.reshape(flat, shape)
    if mode is None:
        return applied(x, index)
    return with_staged_ints(applied, x, index)
