"""The tracing machinery all transforms share: a thread-local stack of interpreters.

Every transform (jvp, vmap, staging for make_jaxpr/jit/linearize) is a Trace type whose
`process_primitive` says how to run one primitive on its own kind of Tracer. Running a transform
pushes a MainTrace on the stack; its level orders nested transforms. `bind` sends each primitive
application to the trace of the highest level among its arguments (or to the staging trace that
make_jaxpr made "dynamic", so that even operations on constants are recorded), after lifting the
other arguments into that trace. With no transform running, the bottom EvalTrace calls numpy.

A MainTrace is marked dead when its transform returns; a tracer of a dead trace that is used
again has leaked out of its transform, and bind raises UnexpectedTracerError.
"""
import threading
from contextlib import contextmanager

import numpy as np

from . import api_loader, errors
from . import array as _array
from .config import config as _config
from .array import Array, numpy_api, plain, register_tracer_type, to_array
from .aval import ShapedArray, aval_of_value
from .value_checks import check_primitive_outputs


class MainTrace:
    __slots__ = ("level", "trace_type", "global_data", "alive", "_trace")

    def __init__(self, level, trace_type, global_data):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data
        self.alive = True
        self._trace = None

    def trace(self):
        """This level's Trace object, made once (bind runs on the hot path of every transform:
        one allocation fewer per primitive application)."""
        t = self._trace
        if t is None:
            t = self._trace = self.trace_type(self)
        return t

    def __repr__(self):
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


class Trace:
    """Base of the transforms' traces. Each subclass defines:
      pure(value)        a constant (non-tracer) value as a tracer of this trace
      lift(tracer)       a tracer of a lower-level (enclosing) trace as a tracer of this trace
      process_primitive(primitive, tracers, params) -> list of outputs
    """
    __slots__ = ("main",)

    def __init__(self, main: MainTrace):
        self.main = main

    def full_raise(self, value):
        if not isinstance(value, Tracer):
            return self.pure(value)
        main = value._trace.main
        if main is self.main:
            return value
        if main.level < self.main.level:
            return self.lift(value)
        raise errors.UnexpectedTracerError(
            f"A tracer of {main} reached {self.main}, a transform it does not belong to. This "
            "happens when a traced value escapes its transform, for example through a global "
            "variable or a closure that outlives the call.")


class EvalTrace(Trace):
    """The bottom of the stack: apply primitives to concrete values with numpy."""
    __slots__ = ()

    def pure(self, value):
        return value

    lift = pure

    def process_primitive(self, primitive, values, params, impl=None):
        """`impl`: the primitive's impl without its argument checks, for a caller that knows
        they pass (transforms/replay.py)."""
        out = (impl or primitive.impl)(*[plain(v) for v in values], **params)
        # Results reach the user as read-only Arrays (JAX's semantics; see core/array.py).
        if primitive.multiple_results:
            outs = [to_array(o) if isinstance(o, np.ndarray) else o for o in out]
        elif type(out) is Array and not out.flags.writeable:
            outs = [out]
        else:
            outs = [to_array(out) if isinstance(out, np.ndarray) else out]
        if _config.checks_values:
            check_primitive_outputs(primitive, outs)
        return outs


class _TraceState(threading.local):
    def __init__(self):
        self.stack = [MainTrace(0, EvalTrace, None)]
        self.dynamic = self.stack[0]


_state = _TraceState()
_EVAL_TRACE = EvalTrace(_state.stack[0])     # stateless: one object serves every thread

# transforms/replay.py installs its recorder of whole functrans.numpy calls here when it loads
# (the core cannot import upward); functrans.numpy's traced paths call it through
# functrans.numpy._promotion.recorded while exactly one transform, a replay recording, runs.
record_call = None


@contextmanager
def new_main(trace_type, global_data=None, dynamic=False):
    """Push a transform's MainTrace for the duration of the block; it is dead afterwards."""
    if _array._numpy is None:
        api_loader.ensure()     # traced values take their operators from functrans.numpy
    stack = _state.stack
    main = MainTrace(len(stack), trace_type, global_data)
    stack.append(main)
    previous_dynamic = _state.dynamic
    if dynamic:
        _state.dynamic = main
    try:
        yield main
    finally:
        main.alive = False
        _state.dynamic = previous_dynamic
        stack.pop()


def is_eager() -> bool:
    """True when no staging transform is active: ops on plain numpy values just run numpy."""
    return _state.dynamic.level == 0


def _leak_error(tracer):
    origin = tracer._origin_str()
    return errors.UnexpectedTracerError(
        f"Encountered a leaked tracer {tracer.aval.str_short()} ({type(tracer).__name__}) "
        f"{'(' + origin + ') ' if origin else ''}whose transformation "
        f"({tracer._trace.main.trace_type.__name__}) has already finished. A function being "
        "transformed stored a traced value outside itself (a global, an attribute, a list "
        "defined outside it) and it was used afterwards. Return the value from the function "
        "instead of storing it.")


def find_top_main(args) -> MainTrace:
    top = _state.dynamic
    for x in args:
        if isinstance(x, Tracer):
            main = x._trace.main
            if not main.alive:
                raise _leak_error(x)
            if main.level > top.level:
                top = main
    return top


def bind(primitive, *args, **params):
    # The hot path of every transform: find_top_main and full_raise inlined (same checks).
    main = _state.dynamic
    for x in args:
        if isinstance(x, Tracer):
            m = x._trace.main
            if not m.alive:
                raise _leak_error(x)
            if m.level > main.level:
                main = m
    if main.level == 0:
        outs = _EVAL_TRACE.process_primitive(primitive, args, params)
    else:
        trace = main.trace()
        tracers = [a if isinstance(a, Tracer) and a._trace.main is main else trace.full_raise(a)
                   for a in args]
        outs = trace.process_primitive(primitive, tracers, params)
    return outs if primitive.multiple_results else outs[0]


def get_aval(x) -> ShapedArray:
    if isinstance(x, Tracer):
        return x.aval
    return aval_of_value(x)


class Tracer:
    """A value flowing through a transform. Behaves like an array: operators and methods map to
    functrans.numpy (installed by that module, which owns the numpy semantics)."""
    __slots__ = ("_trace",)
    __array_priority__ = 1000

    aval: ShapedArray

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def ndim(self):
        return self.aval.ndim

    @property
    def size(self):
        return self.aval.size

    @property
    def weak_type(self):
        return self.aval.weak_type

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a rank-0 traced value)")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a rank-0 traced value")
        return (self[i] for i in range(self.aval.shape[0]))

    def __repr__(self):
        return f"{type(self).__name__}<{self.aval.str_short()}>"

    def __hash__(self):
        raise TypeError(f"unhashable type: traced value {self.aval.str_short()}; traced values "
                        "cannot be dict keys or set members (use them as values instead)")

    # --- concrete values: only available while tracing over known values (e.g. jvp, grad) ----
    def concrete_value(self):
        """The concrete numpy value behind this tracer, or None if it has none (a staging or
        batch tracer); callers that need one raise ConcretizationTypeError."""
        return None

    def carries_derivative(self) -> bool:
        """True if a derivative flows through this value (a JVP tracer with a tangent that is
        not a symbolic zero, at any level). Converting such a value to a Python number or a
        numpy array would drop that derivative, so float(), .item() and __array__ refuse."""
        return False

    def _origin_str(self) -> str:
        return ""

    def concrete_or_raise(self, what, kind, error):
        """The concrete value, or raise `error` (a ConcretizationTypeError subclass) saying
        what needed it (`what`, e.g. "Attempted int() conversion") and of which `kind`."""
        value = self.concrete_value()
        if value is None:
            raise error(errors.concretization_message(self, what, kind))
        return value

    def _derivative_free_value(self, what, error=errors.ConcretizationTypeError):
        """The concrete value, for conversions that would drop a derivative (float, complex,
        item, tolist, __array__): they raise when one flows through the value."""
        if self.carries_derivative():
            raise error(errors.concretization_message(self, what, "derivative"))
        return self.concrete_or_raise(what, "float", error)

    def __bool__(self):
        return bool(self.concrete_or_raise(
            "Attempted boolean conversion (e.g. `if x:`, `while x:`, `and`/`or`)", "bool",
            errors.TracerBoolConversionError))

    def __int__(self):
        return int(self.concrete_or_raise("Attempted int() conversion", "int",
                                           errors.TracerIntegerConversionError))

    def __index__(self):
        return int(self.concrete_or_raise(
            "Attempted to use as a Python integer (e.g. a shape, a size, an index bound)", "int",
            errors.TracerIntegerConversionError))

    def __float__(self):
        return float(self._derivative_free_value("Attempted float() conversion"))

    def __complex__(self):
        return complex(self._derivative_free_value("Attempted complex() conversion"))

    def item(self, *index):
        return np.asarray(self._derivative_free_value("Attempted .item()")).item(*index)

    def tolist(self):
        return np.asarray(self._derivative_free_value("Attempted .tolist()")).tolist()

    def __array__(self, dtype=None, copy=None):
        value = None if self.carries_derivative() else self.concrete_value()
        if value is None:
            origin = self._origin_str()
            why = ("a derivative flows through it, and a numpy array would silently drop it"
                   if self.carries_derivative() else
                   "numpy functions cannot see inside a traced program")
            raise errors.TracerArrayConversionError(
                f"The numpy.ndarray conversion method __array__() was called on a traced value "
                f"{self.aval.str_short()}{' (' + origin + ')' if origin else ''}: {why}. Use "
                "functrans.numpy (fnp) instead of numpy (np) inside functions you transform "
                "(np.asarray(x) -> fnp.asarray(x)).")
        return np.asarray(value, dtype=dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """numpy ufuncs on traced values (np.sin(x), and ndarray + x, which numpy turns into
        np.add) run as the functrans.numpy function of the same name."""
        fn = getattr(numpy_api(), ufunc.__name__, None) \
            if method == "__call__" and not kwargs else None
        if fn is None:
            raise errors.TracerArrayConversionError(
                f"numpy's {ufunc.__name__}.{method} cannot be applied to the traced value "
                f"{self.aval.str_short()}{' with keyword arguments' if kwargs else ''}; use "
                "the functrans.numpy (fnp) function instead inside functions you transform.")
        return fn(*inputs)

    def __setitem__(self, index, value):
        raise errors.InPlaceUpdateError(
            f"Traced values are immutable: in-place assignment x[idx] = y on "
            f"{self.aval.str_short()} is not supported. Use the functional update "
            "x = x.at[idx].set(y) (or .add, .multiply, .min, .max), which returns a new array.")


def current_stack_depth() -> int:
    return len(_state.stack)


register_tracer_type(Tracer)
