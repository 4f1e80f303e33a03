"""What every fnp function shares: the eager test, array-likes, NumPy 2 promotion, broadcasting
and axis arguments.

fnp functions have two paths. With no staging transform active and no traced argument they call
numpy directly (`eager(...)` is True), which is what users of plain arrays want: no dispatch
cost. Otherwise they are built from functrans.lax, which is strict (one dtype, no broadcasting),
so fnp first promotes dtypes as JAX does (its type lattice; weak Python scalars) and broadcasts
shapes. The eager path converts its operands first where numpy's promotion would differ.
Both paths must agree in value, shape and dtype; the tests check that they do.
"""
import operator

import numpy as np

from .. import lax
from ..core import dtypes, errors
from ..core import trace as _trace
from ..core.trace import Tracer, _state, get_aval, is_eager

__all__ = []


def eager(*args) -> bool:
    """True when numpy can compute the result directly: nothing is being staged and no argument
    (nor an element of a list/tuple argument) is a traced value. A numpy argument of a dtype
    functrans does not support (float128, strings) raises here, as JAX's functions do, before
    numpy could compute something the traced path cannot."""
    return is_eager() and _all_concrete(args)


def _all_concrete(values) -> bool:
    for v in values:
        if isinstance(v, (np.ndarray, np.generic)):
            if v.dtype not in dtypes.SUPPORTED:
                dtypes.canonicalize(v.dtype)        # raises TypeError naming the dtype
        elif isinstance(v, Tracer) or (type(v) in (list, tuple) and not _all_concrete(v)):
            return False
    return True


def _any_tracer(values) -> bool:
    for v in values:
        if isinstance(v, Tracer) or (type(v) in (list, tuple) and _any_tracer(v)):
            return True
    return False


def recorded(fn, args, statics=()):
    """fn(*args, *statics): the traced path of a functrans.numpy function whose recorded
    primitives depend only on the kinds, shapes and dtypes of `args` (traced values, arrays,
    Python scalars, whose values count too) and on the hashable `statics` (axes, flags). Under
    the un-jitted gradient's recording (transforms/replay.py) the primitives one call records
    are kept per such signature and later calls evaluate them directly, skipping promotion,
    dispatch and bind (same primitives, values and errors; see replay.templated_call)."""
    hook = _trace.record_call
    if hook is not None and len(_state.stack) == 2:
        return hook(fn, args, statics)
    return fn(*args, *statics)


# --- array-likes ---------------------------------------------------------------------------------

def asarray(x, name="fnp"):
    """x as something lax accepts: a tracer, a numpy array or scalar, or a Python scalar (kept
    as is, so that it stays weakly typed). Nested lists holding tracers are stacked."""
    if isinstance(x, (Tracer, np.ndarray, np.generic)) or dtypes.is_python_scalar(x):
        return x
    if isinstance(x, (list, tuple)):
        if _any_tracer(x):
            return stack_operands(join_operands([asarray(e, name) for e in x], "stack"))
        return _checked_numpy(np.asarray(x), name)
    if x is None:
        raise TypeError(f"fnp.{name}: None is not an array")
    return _checked_numpy(np.asarray(x), name)


def join_operands(arrays, name):
    """A sequence of array-likes as operands of one dtype, for joining them. Python scalars
    count as arrays of their default dtype, as numpy converts each element before joining."""
    if not isinstance(arrays, (list, tuple)):
        arrays = list(arrays)       # an array: its sub-arrays along the first axis
    if not arrays:
        raise ValueError(f"fnp.{name}: need at least one array")
    ops = [asarray(x, name) for x in arrays]
    return promote(*(np.asarray(x) if dtypes.is_python_scalar(x) else x for x in ops))


def stack_operands(ops, axis=0):
    """Operands of one dtype and one shape (join_operands) joined along a new axis."""
    shapes = {shape_of(x) for x in ops}
    if len(shapes) > 1:
        raise ValueError(f"fnp.stack: all input arrays must have the same shape, got "
                         f"{[shape_of(x) for x in ops]}")
    axis = canonical_axis(axis, len(shapes.pop()) + 1, "stack")
    return lax.concatenate([lax.expand_dims(x, (axis,)) for x in ops], axis)


def _checked_numpy(a, name):
    if a.dtype.kind not in "biufc":
        raise TypeError(f"fnp.{name}: cannot make an array of {a.dtype} values from the given "
                        "argument; expected numbers, arrays or traced values")
    if a.dtype not in dtypes.SUPPORTED:
        a = a.astype(dtypes.float64 if a.dtype.kind == "f" else dtypes.complex128)
    return a


def shape_of(x) -> tuple:
    return get_aval(x).shape


def dtype_of(x) -> np.dtype:
    return get_aval(x).dtype


# --- dtypes ---------------------------------------------------------------------------------------

def canonical_dtype(dtype, name="fnp"):
    """A user's dtype argument (np.float32, 'int32', float, ...) as a supported np.dtype."""
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"fnp.{name}: {dtype!r} is not a dtype") from None
    return dtypes.canonicalize(d)


def typed(x) -> tuple:
    aval = get_aval(x)
    return aval.dtype, aval.weak_type


def result_type(*args) -> tuple:
    """(dtype, weak) of JAX's promotion of the arguments; Python scalars are weak."""
    return dtypes.result_type(*(typed(a) for a in args))


_PYTHON_TYPES = {dtypes.bool_: bool, dtypes.int64: int, dtypes.float64: float,
                 dtypes.complex128: complex}


def cast(x, dtype, weak=False):
    """x converted to dtype: a convert_element_type for traced values, numpy otherwise."""
    dtype = np.dtype(dtype)
    if isinstance(x, Tracer):
        return lax.convert_element_type(x, dtype, weak_type=weak)
    if dtypes.is_python_scalar(x):
        if weak and dtype in _PYTHON_TYPES:
            return _PYTHON_TYPES[dtype](x)      # still a weak Python scalar, of the new kind
        if weak:
            return lax.convert_element_type(x, dtype, weak_type=True)
        return np.asarray(x, dtype=dtype)[()]
    x = np.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


def promote(*args, inexact=False):
    """The arguments converted to their common dtype (JAX's lattice). With inexact=True, a
    non-float result becomes the float dtype JAX's float-only functions (exp, sqrt,
    true_divide) compute it in (dtypes.to_inexact)."""
    dtype, weak = result_type(*args)
    if inexact and not dtypes.is_inexact(dtype):
        dtype = dtypes.to_inexact(dtype, weak)
    return [a if typed(a) == (dtype, weak) or (not weak and dtype_of(a) == dtype)
            else cast(a, dtype, weak) for a in args]


def to_inexact(x):
    """x itself if float or complex, else x in the float dtype JAX computes it in."""
    d, weak = typed(x)
    return x if dtypes.is_inexact(d) else cast(x, dtypes.to_inexact(d, weak), weak)


# --- shapes ---------------------------------------------------------------------------------------

def shape_arg(shape, name) -> tuple:
    """A shape argument as a tuple of Python ints. A traced entry raises the concretization
    error of Tracer.__index__, which explains why shapes must be static."""
    if isinstance(shape, (list, tuple)):
        dims = tuple(operator.index(d) for d in shape)
    else:
        dims = (operator.index(shape),)
    if any(d < 0 for d in dims):
        raise ValueError(f"fnp.{name}: negative dimensions are not allowed, got shape {dims}")
    return dims


def broadcast_shapes(*shapes, name="broadcast_shapes"):
    """NumPy's broadcasting of shapes; raises ValueError naming the function and the shapes."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i} - {1}
        if len(sizes) > 1:
            raise ValueError(f"fnp.{name}: shapes {', '.join(map(str, shapes))} cannot be "
                             "broadcast together")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_to(x, shape, name="broadcast_to"):
    """x broadcast to shape with numpy's rules (x's dims line up with the trailing ones)."""
    shape = tuple(shape)
    x_shape = shape_of(x)
    if x_shape == shape:
        return x
    lead = len(shape) - len(x_shape)
    if lead < 0 or any(d not in (1, t) for d, t in zip(x_shape, shape[lead:])):
        raise ValueError(f"fnp.{name}: cannot broadcast an array of shape {x_shape} to shape "
                         f"{shape}")
    # Size-1 dims that grow are dropped first, so broadcast_in_dim only adds dimensions.
    keep = [i for i, (d, t) in enumerate(zip(x_shape, shape[lead:])) if d == t]
    if len(keep) != len(x_shape):
        x = lax.reshape(x, tuple(x_shape[i] for i in keep))
    return lax.broadcast_in_dim(x, shape, tuple(lead + i for i in keep))


def broadcast_args(name, *args):
    """Arguments broadcast to their common shape; rank-0 ones are left as they are, since lax's
    elementwise functions broadcast those themselves."""
    shape = broadcast_shapes(*(shape_of(a) for a in args), name=name)
    return [a if shape_of(a) == () else broadcast_to(a, shape, name) for a in args]


def promote_args(name, *args, inexact=False):
    """Array-likes converted, promoted to one dtype and broadcast to one shape.

    The decisions (which arguments to cast to what, which to broadcast, to which shape) depend
    only on each argument's kind, shape, dtype and weakness: they are made once per such
    signature and kept (`_plan`); the casts and broadcasts themselves run on every call."""
    key = [name, inexact]
    for a in args:
        t = type(a)
        if t in _SCALAR_KEY_TYPES:
            key.append(t)
        elif isinstance(a, Tracer):
            aval = a.aval
            key.append((aval.shape, aval.dtype, aval.weak_type))
        elif isinstance(a, np.ndarray):
            key.append((t, a.shape, a.dtype))
        else:               # lists, other array-likes: converted as asarray says, every time
            return _promote_args(name, args, inexact)
    key = tuple(key)
    plan = _PLANS.get(key)
    if plan is None:
        out = _promote_args(name, args, inexact)     # raises for what it refuses: no plan
        if len(_PLANS) > 4096:
            _PLANS.clear()
        _PLANS[key] = _plan(name, args, inexact)
        return out
    shape, steps = plan
    # All casts, then all broadcasts: the order (and so the staged program) of the full path.
    out = [a if dtype is None else cast(a, dtype, weak)
           for a, (dtype, weak, _) in zip(args, steps)]
    for i, (_, _, grow) in enumerate(steps):
        if grow:
            out[i] = broadcast_to(out[i], shape, name)
    return out


# Python scalars: the type alone decides how they promote (np.generic: their dtype).
_SCALAR_KEY_TYPES = frozenset((bool, int, float, complex) + tuple(
    type(np.dtype(c).type(0)) for c in "?bhilqBHILQefdFD"))
_PLANS = {}


def _promote_args(name, args, inexact):
    args = [asarray(a, name) for a in args]
    return broadcast_args(name, *promote(*args, inexact=inexact))


def _plan(name, args, inexact):
    """(shape, per argument (dtype to cast to or None, its weakness, broadcast?)): what
    promote and broadcast_args do to arguments of these kinds, shapes and dtypes."""
    dtype, weak = result_type(*args)
    if inexact and not dtypes.is_inexact(dtype):
        dtype = dtypes.to_inexact(dtype, weak)
    casts = [None if typed(a) == (dtype, weak) or (not weak and dtype_of(a) == dtype)
             else dtype for a in args]
    shape = broadcast_shapes(*(shape_of(a) for a in args), name=name)
    return shape, tuple((c, weak, shape_of(a) not in ((), shape))
                        for a, c in zip(args, casts))


# --- axes -----------------------------------------------------------------------------------------

def canonical_axis(axis, ndim, name) -> int:
    """One axis argument in [0, ndim), negative counted from the end."""
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(f"fnp.{name}: axis must be an integer, got {axis!r}") from None
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(f"fnp.{name}: axis {a} is out of bounds for an array of "
                                      f"dimension {ndim}")
    return a % ndim


def canonical_axes(axis, ndim, name) -> tuple:
    """An axis argument (None, an int or a tuple of ints) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = tuple(canonical_axis(a, ndim, name) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"fnp.{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


# --- the eager path ------------------------------------------------------------------------------

def numpy_operand(x):
    """An eager argument as numpy sees it: lists become arrays, scalars stay as they are."""
    if isinstance(x, (np.ndarray, np.generic)) or dtypes.is_python_scalar(x):
        return x
    return _checked_numpy(np.asarray(x), "fnp")


def _eager_typed(x):
    """(dtype, weak) of an eager operand, without building an aval (this is the hot path)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype, False
    return dtypes.python_scalar_dtype(x), True


def numpy_promote(*args, inexact=False):
    """Eager operands converted so that numpy computes in the dtype JAX's promotion gives
    (numpy's own table widens int32 + float32 to float64; JAX gives float32). Python scalars
    stay Python scalars, weakly typed for numpy too."""
    args = [numpy_operand(a) for a in args]
    typed_args = [_eager_typed(a) for a in args]
    dtype, weak = dtypes.result_type(*typed_args)
    if inexact and not dtypes.is_inexact(dtype):
        dtype = dtypes.to_inexact(dtype, weak)
    if weak:
        # Only Python scalars (and weak values) take part: compute in Python's own kind.
        py = _PYTHON_TYPES.get(dtype)
        return [py(a) if py is not None and dtypes.is_python_scalar(a) else
                np.asarray(a, dtype) for a in args]
    # Python scalars become arrays of the result dtype: numpy would make a scalar that comes
    # first (np.clip(2, f16_array)) a strong int64 array and widen the result.
    return [a if t == dtype and not w else np.asarray(a, dtype)
            for a, (t, w) in zip(args, typed_args)]


def numpy_inexact(*args):
    """Eager arguments for a float-only function, converted as the traced path's
    promote(inexact=True) converts them."""
    return numpy_promote(*args, inexact=True)


def concrete(x, name):
    """The concrete value of an argument that fixes a shape or a size (arange's bounds, a
    boolean mask): a traced value raises TracerIntegerConversionError saying why."""
    if not isinstance(x, Tracer):
        return x
    return x.concrete_or_raise(
        f"fnp.{name} needs concrete arguments, which fix the shape of its result; it was given "
        "the value", "int", errors.TracerIntegerConversionError)
