"""jit: trace a function once per signature, compile its program with Numba, cache it.

`jit(f)(*args)` flattens the arguments, looks up the compiled program for their signature (tree
structure, shapes, dtypes, weak types, static values) and runs it; on a miss it traces f to a
program, lowers it (functrans.backend) and keeps the result in memory; the kernels it needs are
also cached on disk, so a new process starts warm.

Under a transform (grad(jit(f)), vmap(jit(f)), jit(jit(f)), make_jaxpr) the traced program is
bound as the call primitive `jit` instead (transforms/jit_call.py, with its rules)."""
import functools
import inspect
import logging
import threading
import time

import numpy as np

from .. import tree_util
from ..backend import clear_kernel_cache, executables
from ..backend.executables import executable_for
from ..backend.loop_runs import first_call_on_numpy_pays
from ..core import dtypes
from ..core.array import Array, wrap_outputs, writeable_input
from ..core.aval import aval_of_value
from ..core.config import config as _config
from ..core.staging import abstractify, stage
from ..core.trace import Tracer, is_eager
from ..core.value_checks import check_jit_outputs
from .jit_call import bind_jit_call, clear_derived

log = logging.getLogger("functrans.jit")


# --- signatures and the jit wrapper ------------------------------------------------------------

_PY_SCALARS = (bool, int, float, complex)


def _leaf_signature(x):
    """Hashable (shape, dtype, weak) key of a concrete leaf; None for a tracer."""
    t = type(x)
    if t is np.ndarray:
        return (x.shape, x.dtype)
    if t in _PY_SCALARS:
        return t
    if isinstance(x, Tracer):
        return None
    if isinstance(x, np.generic):
        return ((), x.dtype)
    if isinstance(x, np.ndarray):
        return (x.shape, x.dtype)
    aval_of_value(x)            # raises a clear TypeError for non-array leaves
    return t


def _signature_aval(x):
    return abstractify(x)          # tracers, arrays, scalars, ShapeDtypeStructs (for lower)


_MISS = object()


def _specialize(args, leaves, entry, name):
    """A Python function `entry(args)` for one signature: it checks the arguments' structure,
    types, shapes and dtypes with straight-line code, runs the executable and builds the output
    pytree, or returns _MISS. This is jit's dispatch fast path (a few µs); None if the arguments
    hold containers it does not inline (then the general path serves them)."""
    lines, checks, names, arrays = [], [], [], []
    g = {"_MISS": _MISS, "_nd": np.ndarray, "_ex": entry.executable, "_eager": is_eager,
         "_nds": (np.ndarray, Array), "_wi": writeable_input, "_wo": wrap_outputs}

    def const(obj):
        nm = f"_g{len(g)}"
        g[nm] = obj
        return nm

    def walk(x, expr):
        t = type(x)
        if t is tuple or t is list:
            checks.append(f"type({expr}) is {const(t)} and len({expr}) == {len(x)}")
            for i, c in enumerate(x):
                if not walk(c, f"{expr}[{i}]"):
                    return False
            return True
        if t is dict:
            checks.append(f"type({expr}) is dict and len({expr}) == {len(x)}")
            try:
                keys = sorted(x)
            except TypeError:
                return False
            for k in keys:
                if type(k) not in (str, int) or not walk(x[k], f"{expr}[{k!r}]"):
                    return False
            return True
        if x is None:
            checks.append(f"{expr} is None")
            return True
        nm = f"a{len(names)}"
        names.append(nm)
        lines.append(f"    {nm} = {expr}")
        if t is np.ndarray or t is Array:
            # functrans's own results (read-only Arrays) go in as writeable plain views, so
            # that compiled kernels have one signature for both kinds.
            checks.append(f"type({nm}) in _nds and {nm}.shape == {x.shape!r} and "
                          f"{nm}.dtype is {const(x.dtype)}")
            arrays.append(nm)
        elif t in _PY_SCALARS or isinstance(x, np.generic):
            checks.append(f"type({nm}) is {const(t)}")
        else:
            return False
        return True

    if not walk(tuple(args), "args") or len(names) != len(leaves):
        return None
    # The generated access order must be the pytree order (tree_util sorts dict keys too).
    probe = {}
    exec("def _probe(args):\n" + "\n".join(lines + ["    pass"]) +
         f"\n    return ({''.join(n + ', ' for n in names)})", g, probe)
    try:
        got = probe["_probe"](tuple(args))
    except Exception:
        return None
    if len(got) != len(leaves) or any(a is not b for a, b in zip(got, leaves)):
        return None
    out_expr = _builder(entry.out_tree, "o")
    if out_expr is None:
        g["_unflatten"] = tree_util.tree_unflatten
        g["_tree"] = entry.out_tree
        out_expr = "_unflatten(_tree, o)"
    src = ["def fast(args):", "    try:"]
    src += ["    " + ln for ln in lines] + ["        pass"]
    src += ["    except (IndexError, KeyError, TypeError):", "        return _MISS"]
    # Element access above may have read into other types than expected: the checks reject
    # those before anything runs.
    cond = " and ".join(checks) if checks else "True"
    src += [f"    if not ({cond}) or not _eager():", "        return _MISS"]
    call_args = ", ".join(f"_wi({n})" if n in arrays else n for n in names)
    src += [f"    o = _wo(_ex({call_args}))", f"    return {out_expr}"]
    ns = {}
    exec(compile("\n".join(src) + "\n", f"<functrans dispatch {name}>", "exec"), g, ns)
    return ns["fast"]


def _builder(tree, o):
    """Python source rebuilding the output pytree from the flat tuple `o` (None if it holds
    node types other than tuple, list, dict and None)."""
    n = tree.num_leaves
    sample = tree_util.tree_unflatten(tree, [_Leaf(i) for i in range(n)])

    def build(x):
        t = type(x)
        if t is _Leaf:
            return f"{o}[{x.i}]"
        if x is None:
            return "None"
        if t is tuple:
            parts = [build(c) for c in x]
            return None if None in parts else f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
        if t is list:
            parts = [build(c) for c in x]
            return None if None in parts else f"[{', '.join(parts)}]"
        if t is dict and all(type(k) in (str, int) for k in x):
            parts = [(k, build(v)) for k, v in x.items()]
            return None if any(p is None for _, p in parts) else \
                "{" + ", ".join(f"{k!r}: {p}" for k, p in parts) + "}"
        return None
    return build(sample)


class _Leaf:
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


class _Entry:
    __slots__ = ("closed", "out_tree", "executable", "trace_s", "donate", "background",
                 "interpreted")

    def __init__(self, closed, out_tree, trace_s, donate):
        self.closed = closed
        self.out_tree = out_tree
        self.executable = None
        self.trace_s = trace_s
        self.donate = donate
        self.background = None       # its executables.BackgroundCompile, once started
        self.interpreted = None      # its executables.Interpreted, while calls run on numpy


class JitFunction:
    """A function compiled per input signature. Call it like the function; `.lower(*args)`
    gives the program, generated source and compile statistics; `.explain_cache_miss()` says
    what changed the last time it had to trace again."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), donate_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self._name = getattr(fun, "__name__", "fun")
        try:
            self._params = list(inspect.signature(fun).parameters)
        except (TypeError, ValueError):
            self._params = []
        nums = _as_tuple(static_argnums, "static_argnums")
        names = tuple(_as_tuple(static_argnames, "static_argnames"))
        # JAX's convention: a static position also makes its name static, and vice versa.
        names += tuple(self._params[i] for i in nums if 0 <= i < len(self._params))
        nums += tuple(self._params.index(n) for n in names if n in self._params)
        _check_static_args(fun, self._name, nums, names)
        self.static_argnums = tuple(sorted(set(nums)))
        self.static_argnames = tuple(sorted(set(names)))
        self.donate_argnums = tuple(sorted(set(_as_tuple(donate_argnums, "donate_argnums"))))
        self._cache = {}
        self._last_miss = None
        self._lock = threading.RLock()
        # Dispatch fast paths, one per recently used signature (see _specialize).
        self._fast_entries = []
        self._specializable = not self.static_argnums and not self.static_argnames

    def __repr__(self):
        return f"<jit-compiled function {self._name}>"

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    # --- calling -------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not kwargs and not _config.checks_values:
            for fast in self._fast_entries:
                out = fast(args)
                if out is not _MISS:
                    return out
        return self._call_slow(args, kwargs)

    def _split(self, args, kwargs):
        n = len(args)
        static_pos = set()
        for i in self.static_argnums:
            j = i + n if i < 0 else i
            if 0 <= j < n:
                static_pos.add(j)
        static = tuple((i, _hashable(args[i], self._name, f"argument {i}"))
                       for i in sorted(static_pos))
        static_kw = tuple((k, _hashable(kwargs[k], self._name, f"argument {k!r}"))
                          for k in sorted(kwargs) if k in self.static_argnames)
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static_pos)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        return static + static_kw, static_pos, dyn_args, dyn_kwargs

    def _call_slow(self, args, kwargs):
        static, static_pos, dyn_args, dyn_kwargs = self._split(args, kwargs)
        if dyn_kwargs:
            leaves, tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        else:
            leaves, tree = tree_util.tree_flatten(dyn_args)
        try:
            sig = tuple(map(_leaf_signature, leaves))
        except TypeError:
            raise _non_array_argument(self._name, self._params, static_pos, dyn_args,
                                      dyn_kwargs) from None
        key = (static, tree, sig)
        traced = any(s is None for s in sig) or not is_eager()
        entry = self._entry(key, args, kwargs, static_pos, dyn_args, dyn_kwargs, leaves, tree)
        # A function closing over an enclosing transform's tracer must be seen by it: bind.
        traced = traced or any(isinstance(c, Tracer) for c in entry.closed.consts)
        if traced:
            outs = bind_jit_call(entry.closed, leaves, self._name)
        else:
            if entry.executable is None and self._on_numpy(entry):
                if entry.interpreted is None:
                    executables.prestart_worker(entry.closed, entry.donate)
                    entry.interpreted = executables.Interpreted(entry.closed)
                outs = wrap_outputs(entry.interpreted(*leaves))
                if entry.background is None:
                    entry.background = executables.compile_in_background(entry.closed,
                                                                         entry.donate)
            else:
                if entry.executable is None:
                    # (After calls on numpy: waits for a background compile still running
                    # on this process's thread.)
                    entry.executable = self._compile(entry)
                    entry.interpreted = None
                    if self._specializable and not kwargs:
                        fast = _specialize(args, leaves, entry, self._name)
                        if fast is not None:
                            self._fast_entries.insert(0, fast)
                            del self._fast_entries[8:]
                outs = wrap_outputs(entry.executable(*map(writeable_input, leaves)))
            if _config.checks_values:
                # As JAX does: on a NaN in the outputs, run the function again op by op.
                check_jit_outputs(outs, self._name, lambda: self.fun(*args, **kwargs))
        return tree_util.tree_unflatten(entry.out_tree, outs)

    def _entry(self, key, args, kwargs, static_pos, dyn_args, dyn_kwargs, leaves, tree):
        entry = self._cache.get(key)
        if entry is not None:
            return entry
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                return entry
            self._explain(key)
            t0 = time.perf_counter()
            closed, out_tree = self._trace(args, kwargs, static_pos, dyn_kwargs, leaves, tree)
            trace_s = time.perf_counter() - t0
            donate = self._flat_donate(args, static_pos, dyn_args, leaves)
            entry = _Entry(closed, out_tree, trace_s, donate)
            # A program that captured an enclosing transform's tracers is only valid inside
            # that transform's current run: never reuse it.
            if not any(isinstance(c, Tracer) for c in closed.consts):
                self._cache[key] = entry
            return entry

    def _trace(self, args, kwargs, static_pos, dyn_kwargs, leaves, tree):
        has_kwargs = bool(dyn_kwargs)
        out_tree_box = []
        static_kwargs = {k: v for k, v in kwargs.items() if k in self.static_argnames}

        def flat_fun(ins):
            rebuilt = tree_util.tree_unflatten(tree, ins)
            d_args, d_kwargs = rebuilt if has_kwargs else (rebuilt, {})
            it = iter(d_args)
            full = [a if i in static_pos else next(it) for i, a in enumerate(args)]
            out = self.fun(*full, **d_kwargs, **static_kwargs)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            _check_outputs(self._name, out)
            out_tree_box.append(out_tree)
            return out_leaves

        avals = [_signature_aval(x) for x in leaves]
        origins = [f"an argument of the jitted function {self._name}"] * len(avals)
        closed = stage(flat_fun, avals, origins, dynamic=True)
        return closed, out_tree_box[0]

    def _flat_donate(self, args, static_pos, dyn_args, leaves):
        if not self.donate_argnums:
            return ()
        out, offset = [], 0
        for i, a in enumerate(args):
            if i in static_pos:
                continue
            n = len(tree_util.tree_leaves(a))
            if i in self.donate_argnums:
                out += range(offset, offset + n)
            offset += n
        return tuple(out)

    def _compile(self, entry):
        ex = executable_for(entry.closed, entry.donate)
        ex.stats.trace_s = entry.trace_s
        return ex

    @staticmethod
    def _on_numpy(entry):
        """config.jit_background_compile: a new program's first call runs on numpy, then its
        kernels compile in the background. Their compile runs in a worker process
        (backend.compile_worker) where the disk cache allows: calls run on numpy until it is
        done. A compile on this process's thread makes the next call wait for it instead
        (calls on numpy meanwhile would take the GIL from the compile: a loop of them measured
        7x slower to reach compiled code). Not for a program whose loops would run long on
        numpy (backend.loop_runs), nor for one compiled before in a process where Numba has
        started (its kernels load from the disk cache at once): it compiles on its first
        call."""
        if not _config.jit_background_compile:
            return False
        job = entry.background
        if job is not None:
            # (compiled already: by the job, or by lower(...).compile() meanwhile)
            return job.offloaded and not job.done() and \
                executables.compiled(entry.closed, entry.donate) is None
        return executables.compiled(entry.closed, entry.donate) is None and \
            first_call_on_numpy_pays(entry.closed) and \
            not executables.loads_quickly(entry.closed, entry.donate)

    # --- cache misses --------------------------------------------------------------------------
    def _explain(self, key):
        if not self._cache:
            self._last_miss = None
            return
        best = min(reversed(list(self._cache)), key=lambda k: _distance(k, key))  # recent
        self._last_miss = _difference(self._name, best, key, self._params)
        log.info(self._last_miss)

    def explain_cache_miss(self):
        """Why the last call traced again (None if it never had to retrace)."""
        return self._last_miss

    def cache_size(self):
        return len(self._cache)

    def clear_cache(self):
        self._cache.clear()
        self._fast_entries.clear()
        self._last_miss = None

    # --- inspection ----------------------------------------------------------------------------
    def lower(self, *args, **kwargs):
        """The traced program for these arguments (abstract ShapeDtypeStructs allowed), with
        `.as_text()` (generated source), `.compile()` and `.stats`."""
        static, static_pos, dyn_args, dyn_kwargs = self._split(args, kwargs)
        leaves, tree = tree_util.tree_flatten((dyn_args, dyn_kwargs) if dyn_kwargs
                                              else dyn_args)
        t0 = time.perf_counter()
        closed, out_tree = self._trace(args, kwargs, static_pos, dyn_kwargs, leaves, tree)
        donate = self._flat_donate(args, static_pos, dyn_args, leaves)
        return Lowered(self._name, closed, out_tree, time.perf_counter() - t0, donate)


class Lowered:
    """A traced program and its compiled form: `.program` (the IR), `.as_text()` (the IR, the
    generated driver and kernel source), `.compile()` (an Executable), `.stats`."""

    def __init__(self, name, closed, out_tree, trace_s, donate=()):
        self.name = name
        self.program = closed
        self.out_tree = out_tree
        self.trace_s = trace_s
        self.donate = donate
        self._executable = None

    def compile(self):
        if self._executable is None:
            self._executable = executable_for(self.program, self.donate)
            self._executable.stats.trace_s = self.trace_s
        return self._executable

    @property
    def stats(self):
        return self.compile().stats

    def as_text(self):
        ex = self.compile()
        return f"# program {self.name}\n{self.program}\n\n{ex.as_text()}"

    def __repr__(self):
        return f"<Lowered {self.name}: {len(self.program.eqns)} equations>"


def _as_tuple(x, what):
    if x is None:
        return ()
    if isinstance(x, (int, str)):
        return (x,)
    try:
        return tuple(x)
    except TypeError:
        raise TypeError(f"jit: {what} must be an int/str or a sequence of them, got {x!r}") \
            from None


def _check_static_args(fun, name, nums, names):
    """static_argnums/argnames that can never match an argument are mistakes: say so now
    (JAX raises too) instead of silently tracing the argument."""
    try:
        params = inspect.signature(fun).parameters.values()
    except (TypeError, ValueError):
        return
    kinds = {p.kind for p in params}
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                        p.POSITIONAL_OR_KEYWORD)]
    if inspect.Parameter.VAR_POSITIONAL not in kinds:
        bad = [i for i in nums if not -len(positional) <= i < len(positional)]
        if bad:
            raise ValueError(f"jit of {name}: static_argnums={tuple(nums)} names position(s) "
                             f"{bad}, but {name} takes {len(positional)} positional "
                             f"argument(s) {tuple(positional)}")
    if inspect.Parameter.VAR_KEYWORD not in kinds:
        known = {p.name for p in params if p.kind != p.POSITIONAL_ONLY}
        bad = sorted(set(names) - known)
        if bad:
            raise ValueError(f"jit of {name}: static_argnames names {bad}, which {name} does "
                             f"not take; its parameters are {tuple(p.name for p in params)}")


def _is_array_leaf(x):
    return isinstance(x, (Tracer, np.ndarray, np.generic)) or type(x) in _PY_SCALARS


def _non_array_argument(fun_name, params, static_pos, dyn_args, dyn_kwargs):
    """The TypeError for an argument jit cannot trace (a str, an object), naming it and
    pointing to static_argnums."""
    positions = [i for i in range(len(dyn_args) + len(static_pos)) if i not in static_pos]
    candidates = [(i, a) for i, a in zip(positions, dyn_args)] + list(dyn_kwargs.items())
    for where, value in candidates:
        for path, leaf in tree_util.tree_flatten_with_path(value)[0]:
            if _is_array_leaf(leaf):
                continue
            if isinstance(where, int):
                pname = params[where] if where < len(params) else None
                what = f"argument {where}" + (f" ({pname!r})" if pname else "")
                fix = f"static_argnums=({where},)" + (
                    f" or static_argnames=({pname!r},)" if pname else "")
            else:
                what, fix = f"keyword argument {where!r}", f"static_argnames=({where!r},)"
            return TypeError(
                f"jit of {fun_name}: {what}{tree_util.keystr(path)} is a "
                f"{type(leaf).__name__} ({leaf!r:.40}), not an array, so it cannot be traced. "
                f"If it configures the function rather than being data, mark it static: "
                f"jit({fun_name}, {fix}); otherwise pass an array.")
    return TypeError(f"jit of {fun_name}: an argument is not an array")


def _check_outputs(fun_name, out):
    for path, leaf in tree_util.tree_flatten_with_path(out)[0]:
        if not _is_array_leaf(leaf):
            raise TypeError(
                f"jit of {fun_name} returned a {type(leaf).__name__} ({leaf!r:.40}) at output "
                f"{tree_util.keystr(path) or '(the whole output)'}; a jitted function returns "
                "arrays (or pytrees of arrays). Return other values from a function that calls "
                "the jitted one.")


def _hashable(value, fun_name, where):
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"jit of {fun_name}: static {where} must be hashable (it is part of "
                        f"the cache key), got {type(value).__name__} {value!r:.60}. Use a tuple "
                        "instead of a list, or make the argument non-static.") from None
    return value


def _distance(a, b):
    (sa, ta, ga), (sb, tb, gb) = a, b
    d = 0 if sa == sb else 1
    d += 0 if ta == tb else 10
    d += sum(x != y for x, y in zip(ga, gb)) + abs(len(ga) - len(gb))
    return d


def _sig_str(s):
    if s is None:
        return "traced"
    if isinstance(s, type):
        return f"Python {s.__name__} (weakly typed)"
    shape, dtype = s
    return f"{dtypes.short_name(dtype)}[{','.join(map(str, shape))}]"


def _difference(name, old, new, params):
    (so, to, go), (sn, tn, gn) = old, new
    lines = []
    if so != sn:
        od, nd = dict(so), dict(sn)
        for k in sorted(set(od) | set(nd), key=str):
            if od.get(k, "<absent>") != nd.get(k, "<absent>"):
                label = params[k] if isinstance(k, int) and k < len(params) else k
                lines.append(f"static argument {label!r} changed from {od.get(k, '<absent>')!r} "
                             f"to {nd.get(k, '<absent>')!r}")
    if to != tn:
        lines.append(f"the argument tree structure changed from {to} to {tn}")
    elif go != gn:
        for i, (a, b) in enumerate(zip(go, gn)):
            if a != b:
                lines.append(f"argument leaf {i} changed from {_sig_str(a)} to {_sig_str(b)}")
    text = "; ".join(lines) if lines else "a new signature"
    return f"jit of {name} traced again: {text}."


def jit(fun=None, *, static_argnums=(), static_argnames=(), donate_argnums=()):
    """Compile fun with Numba, once per input signature (jax.jit's interface).

    Usable as `jit(f)`, `@jit` or `@jit(static_argnums=...)`. donate_argnums lets the compiled
    program overwrite those arguments' arrays with its outputs (their contents are lost)."""
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames, donate_argnums=donate_argnums)
    if not callable(fun):
        raise TypeError(f"jit expects a callable, got {type(fun).__name__}")
    return JitFunction(fun, static_argnums, static_argnames, donate_argnums)


def clear_cache(disk=True):
    """Forget compiled programs and kernels in memory; with disk=True also delete the kernel
    cache directory's contents (FUNCTRANS_CACHE_DIR)."""
    executables.clear()
    clear_derived()
    clear_kernel_cache(disk=disk)
