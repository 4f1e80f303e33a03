"""x.at[idx]: JAX's functional updates of traced arrays, their out-of-bounds modes (JAX's
`mode=` and `fill_value=`) and `.apply`. The updates themselves are indexing.update.

Without a mode, a static index out of bounds raises IndexError (numpy's rule; see
docs/sharp-edges.md) and a traced one is clamped (get) or dropped (updates). With an explicit
mode the JAX semantics hold for static indices too:
  "fill" / "drop"            get returns fill_value where out of bounds; updates are dropped
  "clip" / "promise_in_bounds"   indices are clamped into range
The static integer parts of the index are staged as traced values (make_jaxpr) and the small
program is evaluated at once, so the traced path's mode handling applies to them unchanged.
"""
import numpy as np

from .. import lax
from ..core.array import to_array
from ..core.staging import eval_closed
from ..transforms.tracing import make_jaxpr
from ..core.trace import Tracer
from ._promotion import asarray, cast, dtype_of, shape_of
from .elementwise import maximum, negative, power, reciprocal, where
from .indexing import _positions, getitem, update as _update

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
    static = [k for k, p in enumerate(parts) if _is_static_int(p)]
    if not static:
        return fn(array, index, *rest)
    ints = [np.asarray(parts[k]) for k in static]

    def staged(arr, *args):
        new = list(parts)
        for k, v in zip(static, args[:len(static)]):
            new[k] = v
        idx = tuple(new) if isinstance(index, tuple) else new[0]
        return fn(arr, idx, *args[len(static):])

    closed = make_jaxpr(staged)(array, *ints, *rest)
    (out,) = eval_closed(closed, array, *ints, *rest)
    return out


def get(array, index, mode, fill_value):
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
        return where(positions < 0, fill, values)
    return with_staged_ints(filled, array, index)


def update(array, index, values, op, mode):
    mode = mode_name(mode)
    if mode is None:
        return _update(array, index, values, op)
    inner = "clip" if mode == "clip" else "drop"
    return with_staged_ints(lambda a, i, v: _update(a, i, v, op, inner), array, index, values)


def apply(array, index, func, mode):
    """x with func applied at x[idx], once per occurrence of a position (repeated indices
    apply it repeatedly, as in JAX)."""
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
        flat = lax.fori_loop(0, n, body, flat)
        return lax.reshape(flat, shape)
    if mode is None:
        return applied(x, index)
    return with_staged_ints(applied, x, index)


class _IndexUpdateHelper:
    """x.at: x.at[idx] gives an _IndexUpdateRef whose methods return updated copies of x."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.array, idx)

    def __repr__(self):
        return f"_IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """The functional form of x[idx] = v, x[idx] += v, ...: each method returns a new array.
    Repeated indices accumulate for add/multiply/min/max (set keeps the last)."""
    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    # mode: None (static out-of-bounds indices raise IndexError; traced ones are clamped for
    # get and dropped for updates), "fill"/"drop", "clip"/"promise_in_bounds": see the module docstring.
    # indices_are_sorted / unique_indices are JAX's performance hints, accepted and unused.
    def get(self, mode=None, fill_value=None, indices_are_sorted=False, unique_indices=False):
        return get(self.array, self.index, mode, fill_value)

    def set(self, values, mode=None, indices_are_sorted=False, unique_indices=False):
        return update(self.array, self.index, values, "set", mode)

    def add(self, values, mode=None, indices_are_sorted=False, unique_indices=False):
        return update(self.array, self.index, values, "add", mode)

    def subtract(self, values, mode=None, indices_are_sorted=False, unique_indices=False):
        return update(self.array, self.index, negative(values), "add", mode)

    def multiply(self, values, mode=None, indices_are_sorted=False, unique_indices=False):
        return update(self.array, self.index, values, "multiply", mode)

    mul = multiply

    def divide(self, values, mode=None, indices_are_sorted=False, unique_indices=False):
        return update(self.array, self.index, reciprocal(values), "multiply", mode)

    def power(self, values, mode=None, indices_are_sorted=False, unique_indices=False):
        current = get(self.array, self.index, mode, None)
        return update(self.array, self.index, power(current, values), "set", mode)

    def min(self, values, mode=None, indices_are_sorted=False, unique_indices=False):
        return update(self.array, self.index, values, "min", mode)

    def max(self, values, mode=None, indices_are_sorted=False, unique_indices=False):
        return update(self.array, self.index, values, "max", mode)

    def apply(self, func, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with func (a unary function of arrays) applied at x[idx]; a position named k
        times gets func applied k times, as in JAX."""
        return apply(self.array, self.index, func, mode)
