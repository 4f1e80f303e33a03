"""Replay: un-jitted grad without re-deriving the gradient program on every call.

Deriving a gradient (JVP rules staging the linear program, then transposing it) costs several
primitive applications per primitive of the function. Most training loops call grad on the same
computation again and again. The replay path runs the user's function on every call, as always
(Python side effects, closures and control flow on values behave exactly as without it), but
under a cheap RecordTrace that only evaluates each primitive with numpy and records it. The
recorded program P is the computation this call performed, and its structure (primitives,
parameters, wiring, shapes, dtypes, Python scalar literals) is the cache key:

  - first sight of a structure: differentiate P at this call's values the ordinary way
    (linearize + transpose of P, exactly what grad does on the function itself);
  - second sight: stage the gradient of P once, as a program of (inputs, P's constants,
    output cotangents), and keep it;
  - afterwards: evaluate that staged gradient program with numpy.

Python control flow on values under grad keeps working: a branch taken differently records a
different P, hence another key. Nothing is keyed on the function's identity, so lambdas made per
call and closures over rebound globals are safe: P's constants are read on each call.

Values differ from the ordinary path in one respect only, and not in their numbers: a value
whose tangent is symbolically zero (x > 0, floor(x)) is a traced value here where the ordinary
path already returns a concrete array. Conversions that consult a derivative (float(), .item(),
__array__) are answered exactly by asking the JVP of the recorded prefix. (One exception in the
numbers: a gradient of a gradient differentiates the recorded inner gradient program, whose sums
can associate differently: the ordinary path's values to about an ulp, not bit for bit.)

Under the recording, functrans.numpy calls are recorded whole per signature ("templates", see
`templated_call`): the first call with given argument kinds, shapes, dtypes and static
arguments keeps the equations it appended, later ones append the same equations evaluating the
impls directly. `templates(False)` turns that off.

`fast_paths(False)` (a context manager) turns the replay off, for comparison and debugging.
"""
import keyword
import marshal
import re
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from ..config import config as _config
from ..core import dtypes
from ..core.ir import Eqn, Literal, Program, Var
from ..core.primitive import Primitive, Zero, tangent_aval
from ..core.array import Array, plain, to_array
from ..core.staging import eval_program, stage
from ..core import trace as _trace_module
from ..core.trace import _EVAL_TRACE, Trace, Tracer, _state, get_aval, new_main
from .. import tree_util
from ..backend.numpy_run import call_line
from .ad_util import instantiate
from .jvp import flat_fun_of, jvp_flat
from .linearize import linearize_flat
from .transpose import transpose_program

__all__ = ["fast_paths", "fast_paths_enabled", "cache_info", "clear_cache"]

_settings = {"replay": True}
_MAX_ENTRIES = 256
# A grad function whose recorded structure has not repeated in this many calls in a row
# (cond/scan bodies or jit'd lambdas made anew per call give each call its own key) goes back
# to the ordinary path: recording would only add to its cost.
MAX_MISSES_IN_A_ROW = 4
REPROBE_EVERY = 64


@contextmanager
def fast_paths(enabled=True):
    """Turn the un-jitted gradient fast path (program replay) on or off inside the block."""
    old = _settings["replay"]
    _settings["replay"] = bool(enabled)
    try:
        yield
    finally:
        _settings["replay"] = old


def fast_paths_enabled() -> bool:
    return _settings["replay"]


class _Cache:
    """structure key -> None (seen once) or the staged gradient program (or _FAILED)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = OrderedDict()
        self.hits = self.misses = self.builds = 0


_cache = _Cache()
_FAILED = object()


def cache_info():
    """(hits, misses, gradient programs built, entries) of the replay cache."""
    return _cache.hits, _cache.misses, _cache.builds, len(_cache.entries)


def clear_cache():
    with _cache.lock:
        _cache.entries.clear()
        _cache.hits = _cache.misses = _cache.builds = 0


_miss_counters = weakref.WeakKeyDictionary()


def miss_counter(fun):
    """[calls in a row without a reusable gradient program] for the user's function, shared
    by every grad(fun) made of it (grad(f)(x) in a loop makes a new grad function each time)."""
    # Keyed by the code: a lambda made anew on each call is still the same function.
    owner = getattr(fun, "__code__", fun)
    try:
        counter = _miss_counters.get(owner)
        if counter is None:
            counter = _miss_counters[owner] = [0]
        return counter
    except TypeError:           # not weakly referenceable: one counter per grad function
        return [0]


def skip_after_misses(misses) -> bool:
    """After MAX_MISSES_IN_A_ROW calls without reuse, take the ordinary path, trying the
    replay again every REPROBE_EVERY calls (the structure may settle after a warm-up)."""
    if misses is None or misses[0] < MAX_MISSES_IN_A_ROW:
        return False
    misses[0] += 1
    return misses[0] % REPROBE_EVERY != 0


def applicable(flat_primals) -> bool:
    """The replay path serves calls on concrete values, at top level or inside another replay
    (grad inside a function that jvp or grad records: the inner gradient program is then
    recorded by the outer replay). Inside any other transform the ordinary path composes with
    it. It stays off under debug_nans/infs, whose reports name the user's line of each
    primitive."""
    if not _settings["replay"] or _state.dynamic.level != 0 or _config.checks_values:
        return False
    stack = _state.stack
    for m in stack[1:]:
        if m.trace_type is not RecordTrace:
            return False
    top = stack[-1]
    for x in flat_primals:
        if isinstance(x, Tracer) and x._trace.main is not top:
            return False
    return True


# --- recording ----------------------------------------------------------------------------------

class RecordTracer(Tracer):
    __slots__ = ("aval", "value", "atom", "ref", "dep")

    def __init__(self, trace, aval, value, atom, ref, dep):
        self._trace = trace
        self.aval = aval
        self.value = value        # the concrete value (computed as the program is recorded)
        self.atom = atom          # its Var or Literal in the recorded program
        self.ref = ref            # its name in the structure key
        self.dep = dep            # depends on a differentiated input?

    def concrete_value(self):
        self._trace.main.global_data.reads += 1
        return self.value

    def carries_derivative(self):
        self._trace.main.global_data.reads += 1
        if not self.dep or self.aval.dtype.kind not in "fc":
            return False
        return self._trace.main.global_data.carries_derivative(self)


_AVALS = {}            # (type, shape, dtype) -> (ShapedArray, its key part), for values
# (primitive, parameters key, input avals) whose impl's argument checks passed. Parameters
# holding arrays or unhashable objects (compared by identity) are never entered.
_CHECKED = set()


def _aval_and_key(value):
    """A concrete value's aval, interned, and a plain-tuple stand-in for it in structure keys
    (hashed in C; ShapedArray's dataclass hash and equality run Python code, and a key holds
    one per recorded value)."""
    try:
        k = (type(value), value.shape, value.dtype)
    except AttributeError:           # a Python scalar
        aval = get_aval(value)
        return aval, _aval_key(aval)
    hit = _AVALS.get(k)
    if hit is None:
        if len(_AVALS) > 4096:
            _AVALS.clear()
        aval = get_aval(value)
        hit = _AVALS[k] = (aval, _aval_key(aval))
    return hit


def _aval_key(aval):
    return (aval.shape, aval.dtype, aval.weak_type)


class Recorder:
    def __init__(self, values):
        self.values = values
        self.raw_eqns = []
        self.key = []
        self.keep = []                # objects whose id() is in the key: kept alive
        self.invars = [Var(_aval_and_key(v)[0]) for v in values]
        self.constvars, self.consts, self.const_ids = [], [], {}
        self.var_values = list(values)    # by variable number: inputs, then eqn outputs
        self.reads = 0                    # concrete values (or derivative flags) consulted

    def eqns(self):
        return tuple(Eqn(*e) for e in self.raw_eqns)

    def carries_derivative(self, tracer):
        """Exactly what the ordinary path's JVP tracer would say: is the tangent of this value
        symbolically nonzero? (The JVP of the recorded prefix answers; rare: float() and
        friends on differentiated values.)"""
        prefix = Program(tuple(self.constvars), tuple(self.invars), self.eqns(),
                         (tracer.atom,))
        tangents = [np.zeros(np.shape(v), tangent_aval(get_aval(v)).dtype)
                    if get_aval(v).dtype.kind in "fc" else Zero(tangent_aval(get_aval(v)))
                    for v in self.values]
        consts = list(self.consts)
        _, touts, _ = jvp_flat(lambda xs: eval_program(prefix, consts, xs), list(self.values),
                               tangents)
        return type(touts[0]) is not Zero


class RecordTrace(Trace):
    __slots__ = ()

    def pure(self, value):
        rec = self.main.global_data
        if not isinstance(value, Tracer) and dtypes.is_python_scalar(value):
            # Python scalars stay Python scalars (weak types), and their values are in the key.
            lit = Literal(value)
            lit.value = value
            # repr tells 0.0 from -0.0 (equal, and equally hashed, as floats).
            return RecordTracer(self, lit.aval, value, lit, ("l", type(value), repr(value)),
                                False)
        k = rec.const_ids.get(id(value))
        if k is None:
            aval, aval_key = _aval_and_key(value)
            k = rec.const_ids[id(value)] = len(rec.consts)
            rec.consts.append(value)
            rec.constvars.append(Var(aval))
            rec.key.append(("c", aval_key))
        var = rec.constvars[k]
        return RecordTracer(self, var.aval, value, var, ("c", k), False)

    # A value recorded by an enclosing replay (a nested grad's closure) is a constant here.
    lift = pure

    def process_primitive(self, primitive, tracers, params):
        main = self.main
        rec = main.global_data
        keep = rec.keep
        n_keep = len(keep)
        params_key = _params_key(params, keep)
        dep = False
        ins, refs, values = [], [], []
        for t in tracers:
            ins.append(t.atom)
            refs.append(t.ref)
            values.append(t.value)
            if t.dep:
                dep = True
        if main.level == 1:
            # What bind would do with these concrete values (no staging is active below this
            # trace, or bind would not have come here): the eager interpreter. An impl's
            # argument checks (its shape rule on the arguments' avals) passed before for the
            # same primitive, parameters and avals are not run again.
            unchecked = getattr(primitive.impl, "unchecked", None)
            check_key = None
            if unchecked is not None and len(keep) == n_keep:
                check_key = (primitive, params_key,
                             tuple([(a.shape, a.dtype, a.weak_type)
                                    for a in [t.aval for t in tracers]]))
                if check_key in _CHECKED:
                    check_key = None
                else:
                    unchecked = None
            outs = _EVAL_TRACE.process_primitive(primitive, values, params, unchecked)
            if check_key is not None:
                if len(_CHECKED) > 8192:
                    _CHECKED.clear()
                _CHECKED.add(check_key)
        else:       # inside an enclosing replay, whose recording tracers these values are
            out = primitive.bind(*values, **params)
            outs = primitive.as_list(out)
        if not outs and getattr(primitive, "effectful", False):
            # A host side effect (debug.print) happens here, once, as on the ordinary path; it
            # has nothing to differentiate, and the recorded program must not repeat it.
            del rec.keep[n_keep:]
            return []
        result, atoms, out_keys = [], [], []
        values = rec.var_values
        for o in outs:
            aval, aval_key = _aval_and_key(o)
            var = Var(aval)
            result.append(RecordTracer(self, aval, o, var, len(values), dep))
            atoms.append(var)
            out_keys.append(aval_key)
            values.append(o)
        # Kept as a plain tuple: Eqn objects are made only if this structure needs deriving.
        rec.raw_eqns.append((primitive, tuple(ins), tuple(atoms), params))
        rec.key.append((primitive, params_key, tuple(refs), tuple(out_keys)))
        return result


class _Ident:
    """A key part equal only to itself (unhashable or array-valued parameters)."""
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _Ident and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


_MARSHALLED = object()        # marks a key made of marshal bytes (never equal to the others)
_marshal_dumps = marshal.dumps
_BUILTIN_SCALARS = frozenset((int, bool, float, complex, str, type(None)))
_BUILTINS_AND_TUPLES = _BUILTIN_SCALARS | {tuple}


def _builtins_only(values) -> bool:
    """Whether a tuple holds only exact builtin scalars and tuples of them, at any depth."""
    types = set(map(type, values))
    if types <= _BUILTIN_SCALARS:
        return True
    if types <= _BUILTINS_AND_TUPLES:
        for x in values:
            if type(x) is tuple and not _builtins_only(x):
                return False
        return True
    return False

# Values equal only when they act the same, given their type (dtypes: each dtype class).
_PLAIN = frozenset((bool, int, str, type(None), np.dtype) +
                   tuple(type(np.dtype(c)) for c in "?bhilqpBHILQPefdgFDGMm"))
_INT = {int}


def _params_key(v, keep):
    """A hashable stand-in for primitive parameters, equal only when they act the same."""
    t = type(v)
    if t is dict:
        # Parameters made of exact Python builtins only (ints, bools, floats, complex, None,
        # strings, tuples of them: most primitives'): their marshal bytes, which encode every
        # value's exact type (True is not 1, -0.0 is not 0.0; format 2 writes no
        # back-references), so equal bytes mean equal types and values. Anything else (arrays
        # and numpy scalars, which marshal would write as their raw bytes, dtypes, subclasses
        # such as enums and named tuples) takes the general walk below.
        if _builtins_only(tuple(v.values())):
            return (_MARSHALLED, _marshal_dumps(sorted(v.items()), 2))
        out = []
        for k in sorted(v):
            x = v[k]
            tx = type(x)
            # The common parameters (dtypes, flags, axes, shapes) as they are; the 3-tuple
            # cannot equal the 2-tuple of the general case.
            if tx in _PLAIN or (tx is tuple and (not x or set(map(type, x)) == _INT)):
                out.append((k, tx, x))
            else:
                out.append((k, _params_key(x, keep)))
        return tuple(out)
    if t in _PLAIN:
        return (t, v)
    if t is tuple or t is list:
        return (t, tuple([_params_key(x, keep) for x in v]))
    if t is float or t is complex:
        return (t, repr(v))         # 0.0 and -0.0 are equal floats but not the same parameter
    if isinstance(v, type):
        return (t, v)
    if isinstance(v, (np.ndarray, np.generic)):
        keep.append(v)
        return _Ident(v)
    try:
        hash(v)
    except TypeError:
        keep.append(v)
        return _Ident(v)
    return (t, v)


def record(flat_fun, values, differentiated=None):
    """Run flat_fun on recording tracers over `values`: (recorder, output values, output
    atoms, main); the recorder's key is complete once the outputs are added to it.
    `differentiated` says which inputs carry a nonzero tangent (all by default)."""
    rec = Recorder(values)
    diff = [True] * len(values) if differentiated is None else list(differentiated)
    with new_main(RecordTrace, rec) as main:
        trace = RecordTrace(main)
        ins = [RecordTracer(trace, var.aval, v, var, i, d)
               for i, (var, v, d) in enumerate(zip(rec.invars, values, diff))]
        outs = [trace.full_raise(o) for o in flat_fun(ins)]
        rec.key.append(("out", tuple([o.ref for o in outs])))
    return rec, [o.value for o in outs], [o.atom for o in outs], main


def lower_aux(x, main):
    """An auxiliary output's recorded values as concrete values."""
    if isinstance(x, RecordTracer) and x._trace.main is main:
        return x.value
    return x


# --- whole functrans.numpy calls, recorded per signature ----------------------------------------
#
# Recording `h @ w + b` primitive by primitive runs functrans.numpy's promotion and broadcasting,
# lax's dtype checks, bind, and this trace's bookkeeping for each primitive: 10-30 µs for what
# numpy does in 1-3. But which primitives an fnp function records, with which parameters and
# wiring, depends only on its arguments' kinds, shapes and dtypes (Python scalars: their
# values too) and on its static arguments (axes, flags), for the functions that call
# `_promotion.recorded`. So the first call with a signature runs the function and keeps what it
# recorded (a _Template); later calls with that signature evaluate the kept primitives' numpy
# impls directly and record the same equations. A function that consulted a concrete value
# (bool(), int(), a derivative flag) or recorded anything else gets no template: it always
# takes the ordinary path. Errors (wrong shapes, dtypes) come from the ordinary path: a call
# that raises records no template.

_settings["templates"] = True
_TEMPLATES = {}                 # signature -> _Template, or _NO_TEMPLATE
_MAX_TEMPLATES = 4096
_NO_TEMPLATE = object()
_STATIC_TYPES = frozenset((int, bool, str, type(None)))
_NUMPY_SCALARS = frozenset(np.dtype(c).type for c in "?bhilqpBHILQPefdgFDG")


@contextmanager
def templates(enabled=True):
    """Turn the recording of whole functrans.numpy calls per signature on or off inside the
    block (for comparison: the ordinary recording then records primitive by primitive)."""
    old = _settings["templates"]
    _settings["templates"] = bool(enabled)
    try:
        yield
    finally:
        _settings["templates"] = old


def template_info():
    """(signatures with a template, signatures refused) of the per-call recording."""
    n_no = sum(1 for t in _TEMPLATES.values() if t is _NO_TEMPLATE)
    return len(_TEMPLATES) - n_no, n_no


class _Template:
    """What one fnp call records for a signature. `sources`: per input slot, where its
    value comes from: (0, i) the traced argument i; (1, i) argument i (an array) made a
    constant of the recording; (2, (Literal, value)) a literal; (3, value) a constant the
    function made (from the signature alone). `steps`: per equation (impl, params, input
    slots, multiple_results, the outputs' aval keys, primitive); output slots follow the
    sources in order. `result`: the slot of the returned value."""
    __slots__ = ("sources", "steps", "result", "run", "__weakref__")

    def __init__(self, sources, steps, result):
        self.sources, self.steps, self.result = sources, steps, result
        self.run = _compile_template(self)


def _wrap_output(out):
    """An impl's single output as the eager interpreter hands it on (EvalTrace)."""
    if type(out) is Array and not out.flags.writeable:
        return out
    return to_array(out) if isinstance(out, np.ndarray) else out


def _compile_template(tpl):
    """The function that records one template's call, as Python source: (trace, record,
    arguments): the same steps in the same order, without the loops over its tables."""
    g = {"_plain": plain, "_wrap": _wrap_output, "_wrap_list": _wrap_outputs,
         "_avk": _aval_and_key, "_Var": Var, "_RT": RecordTracer, "_tpl": tpl}

    def glob(obj):
        k = f"_g{len(g)}"
        g[k] = obj
        return k

    lines = ["def run(trace, rec, args):"]
    val, atom, tracer_srcs = [], [], []
    for i, (kind, x) in enumerate(tpl.sources):
        if kind == 2:
            val.append(glob(x[1]))
            atom.append(glob(x[0]))
            continue
        if kind == 0:
            lines.append(f"    s{i} = args[{x}]")
        elif kind == 1:
            lines.append(f"    s{i} = trace.pure(args[{x}])")
        else:
            lines.append(f"    s{i} = trace.pure({glob(x)})")
        tracer_srcs.append(f"s{i}")
        val.append(f"s{i}.value")
        atom.append(f"s{i}.atom")
    n_src = len(tpl.sources)
    body, record = [], []
    j = n_src
    for impl, params, ins, multi, out_keys, prim in tpl.steps:
        kw = []
        for k, v in params.items():
            if not _IDENT.match(k) or keyword.iskeyword(k):
                kw = None
                break
            kw.append(f"{k}={glob(v)}")
        args = ", ".join([f"_plain({val[i]})" for i in ins] +
                         (kw if kw is not None else [f"**{glob(params)}"]))
        outs = list(range(j, j + len(out_keys)))
        j += len(out_keys)
        if multi:
            names = ", ".join(f"o{k}" for k in outs)
            body.append(f"    {names}{',' if len(outs) == 1 else ''} = "
                        f"_wrap_list({glob(impl)}({args}))")
        else:
            body.append(f"    o{outs[0]} = _wrap({glob(impl)}({args}))")
        for k, key in zip(outs, out_keys):
            body.append(f"    a{k}, k{k} = _avk(o{k})")
            kg = glob(key)
            body.append(f"    if k{k} is not {kg} and k{k} != {kg}: return None")
            val.append(f"o{k}")
            atom.append(f"x{k}")
        for k in outs:
            record.append(f"    n{k} = len(vv); vv.append(o{k}); x{k} = _Var(a{k})")
        ins_atoms = "".join(f"{atom[i]}, " for i in ins)
        outs_atoms = "".join(f"x{k}, " for k in outs)
        record.append(f"    raw(({glob(prim)}, ({ins_atoms}), ({outs_atoms}), {glob(params)}))")
    lines += body
    lines.append("    vv = rec.var_values")
    lines.append("    raw = rec.raw_eqns.append")
    lines += record
    refs = "".join(f"{t}.ref, " for t in tracer_srcs)
    lines.append(f"    rec.key.append(('t', _tpl, ({refs})))")
    r = tpl.result
    if r < n_src:
        lines.append(f"    return s{r}")
    else:
        dep = " or ".join(f"{t}.dep" for t in tracer_srcs) or "False"
        lines.append(f"    return _RT(trace, a{r}, o{r}, x{r}, n{r}, bool({dep}))")
    exec(compile("\n".join(lines) + "\n", "<functrans template>", "exec"), g)
    return g["run"]


def _wrap_outputs(out):
    return [to_array(o) if isinstance(o, np.ndarray) else o for o in out]


def _static_part(x):
    """A static argument in a signature: itself with its type, or None when it is not
    hashable as a plain value (then the call takes the ordinary path)."""
    t = type(x)
    if t in _STATIC_TYPES or t is np.dtype or isinstance(x, np.dtype) or t is type:
        return (t, x)
    if t is tuple and set(map(type, x)) <= _INT:
        return (t, x)
    return None


def templated_call(fn, args, statics):
    """fn(*args, *statics) for functrans.numpy (see _promotion.recorded), called while
    exactly one transform runs: a replay recording evaluates its template."""
    main = _state.stack[1]
    if main.trace_type is not RecordTrace or _state.dynamic.level != 0 or \
            not _settings["templates"] or _config.checks_values:
        return fn(*args, *statics)
    sig = [fn]
    values_known = True             # every argument's value is in the signature or traced
    same = None                     # what each traced or array argument is (see below)
    for a in args:
        t = type(a)
        if t is RecordTracer:
            if a._trace.main is not main:
                return fn(*args, *statics)
            aval = a.aval
            sig.append((aval.shape, aval.dtype, aval.weak_type))
            if same is None:
                same = [id(a.atom)]
            else:
                same.append(id(a.atom))
        elif t is float or t is complex:
            sig.append((t, repr(a)))        # repr tells -0.0 from 0.0
        elif t is int or t is bool:
            sig.append((t, a))
        elif t is np.ndarray or t is Array or t in _NUMPY_SCALARS:
            sig.append((t, a.shape, a.dtype))
            values_known = False
            # An array already made a constant of this recording is that constant's variable
            # (the one a traced argument made from it would have).
            k = main.global_data.const_ids.get(id(a))
            key = id(a) if k is None else id(main.global_data.constvars[k])
            if same is None:
                same = [key]
            else:
                same.append(key)
        else:
            return fn(*args, *statics)
    if same is not None and len(same) > 1:
        # Which arguments are the same value (x @ x, then r @ x with the same avals): the
        # template wires each equation input to the first argument that is that value.
        sig.append(tuple([same.index(k) for k in same]))
    for x in statics:
        part = _static_part(x)
        if part is None:
            return fn(*args, *statics)
        sig.append(part)
    sig = tuple(sig)
    tpl = _TEMPLATES.get(sig)
    if tpl is None:
        return _new_template(sig, fn, args, statics, main, values_known)
    if tpl is not _NO_TEMPLATE:
        out = tpl.run(main.trace(), main.global_data, args)
        if out is not None:
            return out
        _TEMPLATES[sig] = _NO_TEMPLATE      # an output's aval differed (never expected)
    return fn(*args, *statics)


def _new_template(sig, fn, args, statics, main, values_known):
    rec = main.global_data
    marks = (len(rec.raw_eqns), len(rec.key), len(rec.consts), len(rec.var_values),
             len(rec.keep), rec.reads)
    out = fn(*args, *statics)
    tpl = _capture(rec, main, args, out, marks, values_known)
    if len(_TEMPLATES) >= _MAX_TEMPLATES:
        _TEMPLATES.clear()
    _TEMPLATES[sig] = _NO_TEMPLATE if tpl is None else tpl
    return out


def _capture(rec, main, args, out, marks, values_known):
    """The template of the call that just recorded rec.raw_eqns[n_eq:] and returned `out`,
    rewriting its part of the structure key into the template's entry; None (key untouched)
    when the call's recording does not depend on its signature alone."""
    n_eq, n_key, n_const, n_var, n_keep, reads = marks
    if rec.reads != reads or len(rec.keep) != n_keep or type(out) is not RecordTracer or \
            out._trace.main is not main:
        return None
    new_keys = rec.key[n_key:]
    const_entries = []
    for e in new_keys:
        head = e[0]
        if type(head) is str:
            if head == "c":
                const_entries.append(e)
            elif head != "t":
                return None
        elif not isinstance(head, Primitive):
            return None
    where = {}                      # id(atom) -> ("s", source number) or ("o", output number)
    sources, src_tracer_atoms = [], []
    for i, a in enumerate(args):
        if type(a) is RecordTracer and id(a.atom) not in where:
            where[id(a.atom)] = ("s", len(sources))
            sources.append((0, i))
            src_tracer_atoms.append(a.atom)
    arg_ids = {}
    for i, a in enumerate(args):
        if type(a) is not RecordTracer:
            arg_ids.setdefault(id(a), i)
    const_index = {id(v): k for k, v in enumerate(rec.constvars)}
    n_new_consts = 0
    raw_steps = []
    n_out = 0
    for prim, ins, outs, params in rec.raw_eqns[n_eq:]:
        if getattr(prim, "effectful", False):
            return None
        in_refs = []
        for a in ins:
            w = where.get(id(a))
            if w is None:
                if type(a) is Literal:
                    src = (2, (a, a.value))
                else:
                    k = const_index.get(id(a))
                    if k is None:
                        return None     # a value from outside the arguments
                    value = rec.consts[k]
                    if id(value) in arg_ids:
                        src = (1, arg_ids[id(value)])
                    elif k >= n_const and values_known:
                        src = (3, value)
                    else:
                        return None
                    if k >= n_const:
                        n_new_consts += 1
                w = where[id(a)] = ("s", len(sources))
                sources.append(src)
                src_tracer_atoms.append(a)
            in_refs.append(w)
        for v in outs:
            where[id(v)] = ("o", n_out)
            n_out += 1
        raw_steps.append((prim, in_refs, outs, params))
    if n_new_consts != len(const_entries):
        return None
    w = where.get(id(out.atom))
    if w is None or (w[0] == "s" and sources[w[1]][0] == 2):
        return None
    n_src = len(sources)

    def slot(w):
        return w[1] if w[0] == "s" else n_src + w[1]

    # The outputs' values were recorded in order: their interned aval keys (compared by
    # identity first when the template runs).
    out_values = iter(rec.var_values[n_var:])
    steps = []
    for prim, in_refs, outs, params in raw_steps:
        impl = getattr(prim.impl, "unchecked", prim.impl)
        out_keys = tuple(_aval_and_key(next(out_values))[1] for _ in outs)
        if out_keys != tuple(_aval_key(v.aval) for v in outs):
            return None
        steps.append((impl, params, tuple(slot(w) for w in in_refs), prim.multiple_results,
                      out_keys, prim))
    tpl = _Template(tuple(sources), tuple(steps), slot(w))
    # This call's key entries become the ones a replay of the template appends: the
    # constants it made, then the template with its sources (literals are the template's).
    refs = []
    for (kind, x), atom in zip(sources, src_tracer_atoms):
        if kind == 0:
            refs.append(args[x].ref)
        elif kind != 2:
            refs.append(("c", const_index[id(atom)]))
    rec.key[n_key:] = const_entries + [("t", tpl, tuple(refs))]
    return tpl


# --- differentiating the recorded program ---------------------------------------------------

class _GradientProgram:
    """The staged u ↦ Jᵀu of a recorded structure: a program of (inputs, constants, the
    recorded values it reuses, u); `saved` numbers those recorded values."""
    __slots__ = ("program", "consts", "saved", "run", "_run_all", "_block")

    def __init__(self, program, consts, saved):
        self.program, self.consts, self.saved = program, consts, saved
        self.run = _straight_line(program)
        self._run_all = self._block = None

    def __call__(self, args):
        stack = _state.stack
        if len(stack) == 1:
            if not any(isinstance(a, Tracer) for a in args):
                return self.run(*self.consts, *args)
        elif len(stack) == 2 and stack[1].trace_type is RecordTrace and \
                _state.dynamic.level == 0:
            # Inside the recording of an enclosing jvp or grad (a Hessian-vector product):
            # record the whole program at once.
            main = stack[1]
            if all(not isinstance(a, Tracer) or a._trace.main is main for a in args):
                return self._record(main, args)
        return eval_program(self.program, self.consts, args)

    def _record(self, main, args):
        """What evaluating the program through the enclosing RecordTrace records, equation
        by equation (the same equations, atoms, values and avals; constants and literals
        become the recording's constants in the same order), without a bind per equation:
        the values come from the generated function, and the structure key holds the
        program itself (this object, kept alive by the key) and how its inputs are wired."""
        prog = self.program
        if self._block is None:
            self._run_all = _straight_line(prog, all_outputs=True)
            self._block = _block_plan(prog)
            if self._block is None:
                return eval_program(prog, self.consts, args)
        in_slots, eqn_plan, out_plan = self._block
        trace = main.trace()
        rec = main.global_data
        atoms, refs, dep = [], [], False
        ins = []
        for kind, x in in_slots:
            if kind == "c":                  # the program's constants, then its inputs
                t = trace.full_raise(self.consts[x])
            elif kind == "i":
                t = trace.full_raise(args[x])
            else:                            # a literal, which bind would make a constant
                t = trace.pure(x)
            ins.append(t)
            atoms.append(t.atom)
            refs.append(t.ref)
            if t.dep:
                dep = True
        n_in = len(self.consts) + len(args)
        values = self._run_all(*[t.value for t in ins[:n_in]])
        var_values = rec.var_values
        raw_eqns = rec.raw_eqns
        k = 0
        tracers = {}
        for prim, in_idx, params, n_out, out_pos in eqn_plan:
            outs = []
            for j in range(n_out):
                v = values[k]
                k += 1
                var = Var(_aval_and_key(v)[0])
                outs.append(var)
                if out_pos[j] is not None:
                    for pos in out_pos[j]:
                        tracers[pos] = RecordTracer(trace, var.aval, v, var, len(var_values),
                                                    dep)
                atoms.append(var)
                var_values.append(v)
            raw_eqns.append((prim, tuple([atoms[i] for i in in_idx]), tuple(outs), params))
        rec.key.append(("program", self, tuple(refs)))
        return [tracers[i] if i in tracers else ins[src] for i, src in enumerate(out_plan)]


def _block_plan(program):
    """How _GradientProgram._record wires a program: (the slots read from outside, in order:
    constants, inputs, literals), per equation (primitive, input slots, params, number of
    outputs, which program outputs each output is), and per program output the slot of the
    input or literal it is (-1: an equation's output). None if an equation has a host side
    effect, which evaluating it must perform in order."""
    slot, in_slots = {}, []
    for i, v in enumerate(program.constvars):
        slot[v] = len(in_slots)
        in_slots.append(("c", i))
    for i, v in enumerate(program.invars):
        slot[v] = len(in_slots)
        in_slots.append(("i", i))
    literal_slots = {}
    out_positions = {}
    for pos, a in enumerate(program.outvars):
        if type(a) is Var:
            out_positions.setdefault(a, []).append(pos)

    def read(a):
        if type(a) is Literal:
            if id(a) not in literal_slots:
                literal_slots[id(a)] = len(in_slots)
                in_slots.append(("l", a.value))
            return literal_slots[id(a)]
        return slot[a]

    # Literals first, in the order the equations read them: bind would make each a
    # constant of the recording at its first use, before the equation is recorded, and
    # the order of constants is part of the key.
    for e in program.eqns:
        if getattr(e.primitive, "effectful", False):
            return None
        for a in e.inputs:
            if type(a) is Literal:
                read(a)
    for a in program.outvars:
        if type(a) is Literal:
            read(a)
    eqn_plan = []
    n = len(in_slots)
    for e in program.eqns:
        ins = tuple(read(a) for a in e.inputs)
        for v in e.outputs:
            slot[v] = n
            n += 1
        eqn_plan.append((e.primitive, ins, e.params, len(e.outputs),
                         tuple(out_positions.get(v) for v in e.outputs)))
    n_in = len(in_slots)
    out_plan = [-1 if slot_of >= n_in else slot_of
                for slot_of in (read(a) for a in program.outvars)]
    return tuple(in_slots), eqn_plan, out_plan


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _straight_line(program, all_outputs=False):
    """The program as one generated Python function of (constants, inputs) that calls each
    primitive's numpy impl directly: what the eager interpreter does for each equation (plain
    ndarrays in, read-only Arrays out), with the interpreter's per-equation work (finding
    the trace, a dict of variables, wrapping every intermediate, checking arguments) done
    once here instead of on every call. The values are the interpreter's, bit for bit: the
    same numpy code on the same inputs."""
    g = {"_plain": plain, "_wrap": to_array, "_nd": np.ndarray}
    names = {}

    def name(a):
        if type(a) is Literal:
            return glob(a.value)
        return names[a]

    def glob(obj):
        k = f"_g{len(g)}"
        g[k] = obj
        return k

    def fresh(v):
        names[v] = f"v{len(names)}"
        return names[v]

    params_in = [fresh(v) for v in tuple(program.constvars) + tuple(program.invars)]
    lines = [f"def run({', '.join(params_in)}):"]
    lines += [f"    {n} = _plain({n})" for n in params_in]
    body = []
    quiet = False
    for e in program.eqns:
        # The program was staged, so every shape rule has run on exactly these avals: the
        # impls' own argument checks (`unchecked`, where an impl has them) would pass.
        impl = e.primitive.impl
        impl = getattr(impl, "unchecked", impl)
        # Impls that silence numpy's floating-point warnings each in an np.errstate of their
        # own (log, div, reductions, ...) run inside one around the whole body instead
        # (entering one costs about as much as a small reduction). Values are the same; what
        # changes is that the program's other impls do not warn either (nor raise, under a
        # user's np.seterr(all="raise")), as JAX's programs never warn.
        inner = getattr(impl, "quiet_inner", None)
        if inner is not None:
            impl, quiet = inner, True
        fn = glob(impl)
        kw = []
        for k, v in e.params.items():
            if not _IDENT.match(k) or keyword.iskeyword(k):
                kw = None
                break
            kw.append(f"{k}={glob(v)}")
        args = ", ".join([name(a) for a in e.inputs] +
                         (kw if kw is not None else [f"**{glob(e.params)}"]))
        body.append(call_line(e, fn, args, [fresh(v) for v in e.outputs]))
    if quiet:
        g["_errstate"] = np.errstate
        lines.append("    with _errstate(all='ignore'):")
        lines += [f"        {line}" for line in body]
    else:
        lines += [f"    {line}" for line in body]
    results = []
    for a in ([v for e in program.eqns for v in e.outputs] if all_outputs
              else program.outvars):
        n = name(a)
        # As the interpreter returns them: numpy arrays as read-only Arrays, others as they are.
        results.append(f"(_wrap({n}) if isinstance({n}, _nd) else {n})")
    lines.append(f"    return [{', '.join(results)}]")
    exec(compile("\n".join(lines) + "\n", "<functrans replay>", "exec"), g)
    return g["run"]


def _gradient_program(program, n_in, n_const, ct_avals):
    """Stage u ↦ Jᵀu of the recorded program, then let it read the forward values the call
    already computed instead of recomputing them."""

    def flat_fun(flat):
        ins, consts, cts = flat[:n_in], flat[n_in:n_in + n_const], flat[n_in + n_const:]
        _, lin, _ = linearize_flat(lambda xs: eval_program(program, consts, xs), list(ins))
        return transpose_program(lin, list(cts))

    closed = stage(flat_fun, [v.aval for v in program.invars] +
                   [v.aval for v in program.constvars] + list(ct_avals))
    return _reuse_forward(closed, program, n_in, n_const)


def _literal_key(lit):
    return ("l", lit.aval.dtype, lit.aval.weak_type, repr(np.asarray(lit.value).item()))


def _reuse_forward(closed, recorded, n_in, n_const):
    """Drop the staged equations that recompute a recorded equation (same primitive, same
    parameters, same inputs: the JVP rules re-apply each primal primitive), reading the
    recorded value instead; then drop what no output needs."""
    prog = closed.program
    number = {v: i for i, v in enumerate(recorded.invars)}
    for e in recorded.eqns:
        for v in e.outputs:
            number[v] = len(number)
    index = {}
    for e in recorded.eqns:
        refs = tuple(_literal_key(a) if type(a) is Literal else a for a in e.inputs)
        index.setdefault((e.primitive, _params_key(e.params, []), refs), e.outputs)
    to_rec = dict(zip(prog.invars[:n_in + n_const],
                      list(recorded.invars) + list(recorded.constvars)))
    kept = []
    for e in prog.eqns:
        refs = []
        for a in e.inputs:
            r = _literal_key(a) if type(a) is Literal else to_rec.get(a)
            if r is None:
                break
            refs.append(r)
        else:
            outs = index.get((e.primitive, _params_key(e.params, []), tuple(refs)))
            if outs is not None and len(outs) == len(e.outputs) and all(
                    o.aval.shape == r.aval.shape and o.aval.dtype == r.aval.dtype
                    for o, r in zip(e.outputs, outs)):
                to_rec.update(zip(e.outputs, outs))
                continue
        kept.append(e)
    # Recorded values the remaining equations (or the outputs) read become inputs.
    direct = set(prog.invars)
    saved_in, saved = {}, []

    def atom(a):
        if type(a) is Literal or a in direct or a not in to_rec:
            return a
        if a not in saved_in:
            saved_in[a] = Var(a.aval)
            saved.append(number[to_rec[a]])
        return saved_in[a]

    kept = [Eqn(e.primitive, tuple(atom(a) for a in e.inputs), e.outputs, e.params)
            for e in kept]
    outvars = tuple(atom(a) for a in prog.outvars)
    live = {a for a in outvars if type(a) is Var}
    needed = []
    for e in reversed(kept):
        if getattr(e.primitive, "effectful", False) or any(o in live for o in e.outputs):
            needed.append(e)
            live.update(a for a in e.inputs if type(a) is Var)
    needed.reverse()
    n_direct = n_in + n_const
    invars = prog.invars[:n_direct] + tuple(saved_in.values()) + prog.invars[n_direct:]
    program = Program(prog.constvars, invars, tuple(needed), outvars)
    return _GradientProgram(program, closed.consts, tuple(saved))


def _tangent_program(program, n_in, n_const, t_avals):
    """Stage the JVP (inputs, constants, tangents) ↦ output tangents of the recorded program,
    reading the forward values the call already computed. A float0 tangent (integer input) is
    a symbolic zero, as jvp makes it."""

    def flat_fun(flat):
        ins, consts, ts = flat[:n_in], flat[n_in:n_in + n_const], flat[n_in + n_const:]
        ts = [Zero(a) if a.dtype == dtypes.float0 else t for t, a in zip(ts, t_avals)]
        _, touts, _ = jvp_flat(lambda xs: eval_program(program, consts, xs), list(ins), ts)
        return [instantiate(t) for t in touts]

    closed = stage(flat_fun, [v.aval for v in program.invars] +
                   [v.aval for v in program.constvars] + list(t_avals))
    return _reuse_forward(closed, program, n_in, n_const)


class _Replayed:
    """A derivative of one recorded call: the cached derivative program of its structure, or
    the ordinary derivative of the recorded computation when the structure is new.
    Subclasses give `_extra_avals()`, `_stage(n_in, n_const, extra_avals)` and
    `_ordinary(extra)`; `extra` are the output cotangents (reverse mode) or the input
    tangents (forward mode)."""

    def __init__(self, rec, outvars, out_avals, misses=None):
        self.rec = rec
        self.misses = misses
        self.outvars = tuple(outvars)
        self.out_avals = out_avals
        self.key = (tuple([_aval_key(v.aval) for v in rec.invars]), tuple(rec.key))

    @property
    def program(self):
        """The recorded call as a Program (made when a derivative must be derived)."""
        rec = self.rec
        return Program(tuple(rec.constvars), tuple(rec.invars), rec.eqns(), self.outvars)

    def __call__(self, cts):
        ct_avals = self._extra_avals()
        key = (type(self), self.key, tuple([_aval_key(a) for a in ct_avals]))
        entries = _cache.entries
        with _cache.lock:
            seen = key in entries
            entry = entries.get(key)
            if seen:
                entries.move_to_end(key)
            else:
                entries[key] = None
                while len(entries) > _MAX_ENTRIES:
                    entries.popitem(last=False)
        if seen and entry is None:
            entry = self._build(key, ct_avals)
        hit = entry is not None and entry is not _FAILED
        if self.misses is not None:
            self.misses[0] = 0 if hit else self.misses[0] + 1
        if hit:
            _cache.hits += 1
            rec = self.rec
            values = rec.var_values
            return entry(list(rec.values) + list(rec.consts) +
                         [values[i] for i in entry.saved] + list(cts))
        _cache.misses += 1
        return self._ordinary(cts)

    def _build(self, key, ct_avals):
        rec = self.rec
        try:
            closed = self._stage(len(rec.values), len(rec.consts), ct_avals)
        except Exception:   # noqa: BLE001 -- a rule that needs concrete values: stay ordinary
            closed = _FAILED
        with _cache.lock:
            if key in _cache.entries:
                _cache.entries[key] = closed
            _cache.builds += 1
        return closed



class ReplayedVJP(_Replayed):
    """Jᵀu for one recorded call (reverse mode: grad, value_and_grad)."""

    def _extra_avals(self):
        return [tangent_aval(a) for a in self.out_avals]

    def _stage(self, n_in, n_const, ct_avals):
        return _gradient_program(self.program, n_in, n_const, ct_avals)

    def _ordinary(self, cts):
        consts = list(self.rec.consts)
        _, lin, _ = linearize_flat(lambda xs: eval_program(self.program, consts, xs),
                                   list(self.rec.values))
        return transpose_program(lin, list(cts))


class ReplayedJVP(_Replayed):
    """J·v for one recorded call (forward mode: jvp, and so Hessian-vector products)."""

    def __init__(self, rec, outvars, out_avals, tangents, misses=None):
        super().__init__(rec, outvars, out_avals, misses)
        self.tangent_avals = [t.aval if type(t) is Zero else tangent_aval(get_aval(t))
                              for t in tangents]

    def _extra_avals(self):
        return self.tangent_avals

    def _stage(self, n_in, n_const, t_avals):
        return _tangent_program(self.program, n_in, n_const, t_avals)

    def __call__(self, tangents):
        # Symbolic zeros travel as float0 zeros of the staged program's inputs.
        return super().__call__([np.zeros(t.aval.shape, dtypes.float0) if type(t) is Zero
                                 else t for t in tangents])

    def _ordinary(self, tangents):
        consts = list(self.rec.consts)
        ts = [Zero(a) if a.dtype == dtypes.float0 else t
              for t, a in zip(tangents, self.tangent_avals)]
        _, touts, _ = jvp_flat(lambda xs: eval_program(self.program, consts, xs),
                               list(self.rec.values), ts)
        return [instantiate(t) for t in touts]


def jvp(fun, in_tree, flat_primals, flat_tangents, has_aux, misses):
    """jvp(fun, primals, tangents) by recording fun and replaying its tangent program (the
    arguments were checked by transforms.jvp)."""
    out_tree, aux_box = [], []
    flat_fun = flat_fun_of(fun, in_tree, out_tree, aux_box if has_aux else None, "jvp")

    rec, outs, out_atoms, main = record(flat_fun, flat_primals,
                                        [type(t) is not Zero for t in flat_tangents])
    replayed = ReplayedJVP(rec, out_atoms, [get_aval(o) for o in outs], flat_tangents, misses)
    t_out = replayed(flat_tangents)
    p_out = tree_util.tree_unflatten(out_tree[0], outs)
    t_out = tree_util.tree_unflatten(out_tree[0], t_out)
    if has_aux:
        return p_out, t_out, tree_util.tree_map(lambda x: lower_aux(x, main), aux_box[0])
    return p_out, t_out


_trace_module.record_call = templated_call
