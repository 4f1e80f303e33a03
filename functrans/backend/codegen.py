"""From a program to an Executable: a generated Python driver calling Numba kernels and numpy.

Why a Python driver (measured, see benchmarks/RESULTS.md): compile time is the weak spot of Numba,
and it grows with the size of the function compiled, about 0.1 s per loop nest. An njit driver
would re-optimize every kernel it calls (Numba links callees into the caller's module), doubling
compile time, and could not share compiled kernels between programs. With a Python driver:
- each fused kernel is a small, separately cached function shared by every program that has the
  same loop nest (a training step's forward, backward and update reuse a few kernels);
- BLAS and numpy's SIMD transcendentals are called directly (they beat Numba's on float32);
- rarely used primitives (sort, gather, cumsum) simply call their numpy impl;
- the price is about 0.3-1 µs of Python per step of the driver.

The driver allocates outputs of kernels itself (a returned array costs Numba more than np.empty
plus an argument), reuses dead temporaries of the same shape and dtype, and writes numpy ufuncs
in place when their operand dies there.
"""
import time

import numpy as np
from numba import types as nbt
from numba.np.numpy_support import from_dtype

from ..core.array import writeable_input
from ..core.ir import Literal, Var
from .cache import KERNELS
from .flatten import LoweringError, describe_eqn, flatten
from .fusion import Step, plan, toposort
from .kernels import batched_source, generate
from .lowering import identity_map, scalar_ctor, typed_const


class CompileStats:
    """Where compile time went, in seconds, and what the kernels cost."""

    def __init__(self):
        self.trace_s = 0.0
        self.codegen_s = 0.0
        self.numba_s = 0.0
        self.numba_init_s = 0.0
        self.kernels = []          # CompileEvent: name, how ("compiled"/"disk"/"memory"), seconds
        self.num_eqns = 0
        self.num_steps = 0

    @property
    def compiled(self):
        return sum(1 for k in self.kernels if k.how == "compiled")

    @property
    def loaded(self):
        return sum(1 for k in self.kernels if k.how == "disk")

    @property
    def reused(self):
        return sum(1 for k in self.kernels if k.how == "memory")

    def as_dict(self):
        return dict(trace_s=self.trace_s, codegen_s=self.codegen_s, numba_s=self.numba_s,
                    numba_init_s=self.numba_init_s, num_eqns=self.num_eqns,
                    num_steps=self.num_steps, kernels_compiled=self.compiled,
                    kernels_from_disk=self.loaded, kernels_in_memory=self.reused)

    def __repr__(self):
        return (f"CompileStats(trace {self.trace_s * 1e3:.1f} ms, codegen "
                f"{self.codegen_s * 1e3:.1f} ms, numba {self.numba_s:.3f} s "
                f"[{self.compiled} compiled, {self.loaded} from disk, {self.reused} in memory], "
                f"{self.num_eqns} equations in {self.num_steps} steps)")


class Executable:
    """A compiled program: call it with the flat inputs, get a tuple of flat outputs."""

    def __init__(self, fn, driver_source, kernel_sources, stats, num_outputs):
        self.fn = fn
        self.driver_source = driver_source
        self.kernel_sources = kernel_sources
        self.stats = stats
        self.num_outputs = num_outputs

    def __call__(self, *args):
        return self.fn(*args)

    def as_text(self):
        parts = ["# driver", self.driver_source]
        for name, src in self.kernel_sources:
            parts += [f"# kernel {name}", src]
        return "\n".join(parts)


def _layout_type(aval, layout):
    if aval.ndim == 0:
        return from_dtype(aval.dtype)
    return nbt.Array(from_dtype(aval.dtype), aval.ndim, layout)


class _Driver:
    """Builds the driver's source line by line."""

    def __init__(self, program, consts):
        self.program = program
        self.lines = []
        self.globals = {"np": np}
        self.names = {}
        self.counter = 0
        self.c_layout = set()      # Vars known to be C-contiguous arrays in the driver
        self.owned = set()         # Vars whose buffer only this call holds (reusable)
        self.ws_names = set()      # driver names bound to workspace buffers
        self.kernel_sources = []
        self.stats = None
        self.numba_s = 0.0         # seconds Numba spent on this driver's kernels
        self._global_ids = {}
        self.shared = {}           # what the lowerings of this program share (ConvCall's)
        self._defs = None
        for k, (v, c) in enumerate(zip(program.constvars, consts)):
            if v.aval.ndim == 0:
                c = np.asarray(c, dtype=v.aval.dtype)[()]
            else:
                c = np.ascontiguousarray(c)
                c = writeable_input(c)      # a read-only functrans Array: see there
                self.c_layout.add(v)
            self.names[v] = self.bind_global(c, "c")

    def bind_global(self, obj, prefix="g"):
        key = id(obj)
        if key in self._global_ids and prefix != "c":
            return self._global_ids[key]
        name = f"{prefix}{len(self.globals)}"
        self.globals[name] = obj
        self._global_ids[key] = name
        return name

    def defining_eqn(self, var):
        """The equation of this program that computes `var` (None for inputs and constants)."""
        if self._defs is None:
            self._defs = {v: e for e in self.program.eqns for v in e.outputs}
        return self._defs.get(var)

    def fresh(self, v):
        name = f"t{self.counter}"
        self.counter += 1
        self.names[v] = name
        return name

    def name(self, atom):
        if isinstance(atom, Literal):
            return typed_const(atom.value, atom.aval.dtype)
        return self.names[atom]


def compile_program(closed, donate=(), name="program") -> Executable:
    """Compile a ClosedProgram (its consts baked in) to an Executable taking its invars."""
    stats = CompileStats()
    init_before = KERNELS.numba_init_seconds
    t0 = time.perf_counter()
    program, consts = flatten(closed)
    steps, _ = plan(program)
    steps = _batch_kernels(program, steps, set(donate))
    stats.num_eqns = len(program.eqns)
    stats.num_steps = len(steps)
    d = _Driver(program, consts)
    d.stats = stats
    _emit(d, program, steps, set(donate))
    numba_time = stats.numba_s = d.numba_s
    stats.numba_init_s = KERNELS.numba_init_seconds or 0.0
    source = "\n".join(d.lines) + "\n"
    code = compile(source, f"<functrans driver {name}>", "exec")
    exec(code, d.globals)
    init_here = (KERNELS.numba_init_seconds or 0.0) if init_before is None else 0.0
    stats.codegen_s = time.perf_counter() - t0 - numba_time - init_here
    return Executable(d.globals["driver"], source, d.kernel_sources, stats,
                      len(program.outvars))


def _step_reads(s):
    if s.kind == "kernel":
        return [r.source for m in s.group.members for r in m.reads]
    if s.kind == "batch":
        return [a for t in s.members for a in _step_reads(t)]
    return list(s.eqn.inputs)


def _predict_layouts(program, steps):
    """Vars that will be C-contiguous arrays in the driver (kernels are compiled for them)."""
    c = {v for v in program.invars if v.aval.ndim} | \
        {v for v in program.constvars if v.aval.ndim}
    for s in steps:
        if s.kind == "kernel":
            c.update(s.group.outputs)
        elif s.kind in ("ufunc", "reduce") or (s.kind == "driver" and s.rule.fresh_result):
            c.update(v for v in s.eqn.outputs if v.aval.ndim)
        elif s.kind == "view" and s.rule.reshape and s.eqn.inputs[0] in c:
            c.add(s.eqn.outputs[0])
    return c


def _kernel_signature(spec, c_layout):
    sig = [_layout_type(v.aval, "C" if v in c_layout else "A") for v in spec.inputs]
    sig += [_layout_type(v.aval, "C") for v in spec.outputs]
    if spec.pass_extents:
        sig += [nbt.int64] * len(spec.shape)
    return tuple(sig)


def _batch_kernels(program, steps, donate):
    """Independent kernel steps with the same source and argument types become one call of a
    batched kernel that loops over them (arguments passed as tuples): one dispatch instead of
    several, e.g. an optimizer's update of every weight matrix, whatever their shapes."""
    c_layout = _predict_layouts(program, steps)
    donated = {program.invars[k] for k in donate if k < len(program.invars)}
    key_of = {}
    for s in steps:
        if s.kind != "kernel":
            continue
        spec = generate(s.group)
        if spec.pass_extents or spec.scalar_outputs or not spec.outputs or \
                any(v in donated for v in spec.inputs):
            continue
        s.spec = spec
        key_of[id(s)] = (spec.source, _kernel_signature(spec, c_layout))
    if len(key_of) < 2:
        return steps
    index = {id(s): i for i, s in enumerate(steps)}
    anc = [0] * len(steps)
    for i, s in enumerate(steps):
        for dep in s.deps:
            j = index[dep]
            anc[i] |= (1 << j) | anc[j]
    batches = []           # lists of step indices
    for i, s in enumerate(steps):
        key = key_of.get(id(s))
        if key is None:
            continue
        for b in batches:
            if key_of[id(steps[b[0]])] == key and \
                    all(not (anc[i] >> j) & 1 for j in b) and \
                    _acyclic_with(steps, index, batches, b, i):
                b.append(i)
                break
        else:
            batches.append([i])
    batches = [b for b in batches if len(b) > 1]
    if not batches:
        return steps
    merged, owner = [], {}
    for b in batches:
        members = [steps[j] for j in b]
        step = Step("batch", order=members[0].order)
        step.members = members
        step.key = key_of[id(members[0])]
        for m in members:
            owner[id(m)] = step
        merged.append(step)
    out = [s for s in steps if id(s) not in owner] + merged
    by_id = {id(s): s for s in steps}
    raw = {id(s): (set().union(*(m.deps for m in s.members)) if s.kind == "batch" else s.deps)
           for s in out}
    for s in out:
        s.deps = set()
        for dep in raw[id(s)]:
            target = owner.get(dep, by_id[dep])
            if target is not s:
                s.deps.add(id(target))
    return toposort(out)


def _acyclic_with(steps, index, batches, batch, i):
    """Would adding step i to batch keep the graph of steps (with every batch contracted to
    one node) acyclic?"""
    group = {}
    for b in batches:
        for j in (b + [i] if b is batch else b):
            group[j] = id(b)
    node = lambda j: group.get(j, j)  # noqa: E731
    edges = {}
    for j, s in enumerate(steps):
        for dep in s.deps:
            a, b_ = node(index[dep]), node(j)
            if a != b_:
                edges.setdefault(a, set()).add(b_)
    color = {}

    def visit(u):
        color[u] = 1
        for w in edges.get(u, ()):
            c = color.get(w, 0)
            if c == 1 or (c == 0 and not visit(w)):
                return False
        color[u] = 2
        return True
    return all(visit(u) for u in list(edges) if color.get(u, 0) == 0)


def _last_uses(program, steps):
    last = {}
    for k, s in enumerate(steps):
        for a in _step_reads(s):
            if isinstance(a, Var):
                last[a] = k
    for a in program.outvars:
        if isinstance(a, Var):
            last[a] = len(steps)
    return last


class _Buffers:
    """Which buffer each array result of the driver is written into. A dead temporary of the
    same shape and dtype is reused; a value that never reaches the caller lives in a workspace
    kept between calls, so large temporaries are not allocated (and page-faulted) again on
    every call; the others get fresh arrays."""

    def __init__(self, d, program, steps, donated):
        self.d = d
        self.last = _last_uses(program, steps)
        self.donated = donated
        self.free = {}                # (shape, dtype) -> names of dead buffers
        self.slots = []               # (shape, dtype) of each workspace buffer
        d.owned.update(v for v in donated if v.aval.ndim > 0)
        for v in donated:
            if v.aval.ndim > 0 and v not in self.last:   # donated and unused: free from the start
                self._free(v)
        # buffers that a view or an impl's result may alias
        self.pinned = {a for s in steps if s.kind in ("view", "driver")
                       for a in s.eqn.inputs if isinstance(a, Var)}
        # Values that reach the caller: outputs, and what views or impl results of outputs alias.
        self.escaping = {a for a in program.outvars if isinstance(a, Var)}
        for s in reversed(steps):
            if s.kind in ("view", "driver") and any(v in self.escaping for v in s.eqn.outputs):
                self.escaping.update(a for a in s.eqn.inputs if isinstance(a, Var))

    def _free(self, v):
        self.free.setdefault((v.aval.shape, v.aval.dtype), []).append(self.d.names[v])

    def alloc(self, v, avoid=()):
        """The name of a buffer for v's value, none of the names in avoid."""
        d = self.d
        for i, cand in enumerate(self.free.get((v.aval.shape, v.aval.dtype), ())):
            if cand not in avoid and (v not in self.escaping or cand not in d.ws_names):
                return self.free[(v.aval.shape, v.aval.dtype)].pop(i)
        if v not in self.escaping:
            self.slots.append((tuple(v.aval.shape), np.dtype(v.aval.dtype)))
            buf = f"ws[{len(self.slots) - 1}]"
            d.ws_names.add(buf)
            return buf
        shape = d.bind_global(tuple(v.aval.shape), "s")
        dtype = d.bind_global(np.dtype(v.aval.dtype), "d")
        return f"np.empty({shape}, {dtype})"

    def dies_here(self, a, k):
        """Is a an array whose buffer only this call holds, last read by step k?"""
        return isinstance(a, Var) and self.last.get(a) == k and a in self.d.owned and \
            a not in self.pinned and a.aval.ndim > 0

    def overwritable(self, a, k, out):
        """Can step k write its result `out` into operand a's buffer?"""
        return self.dies_here(a, k) and a.aval.shape == out.aval.shape and \
            a.aval.dtype == out.aval.dtype and \
            (out not in self.escaping or self.d.names[a] not in self.d.ws_names)

    def release(self, k, reads):
        for a in dict.fromkeys(reads):      # in order: the same source on every run
            if self.dies_here(a, k):
                self._free(a)


def _emit(d, program, steps, donate):
    """The driver's source, in d.lines: one statement or a few per step."""
    args = [f"a{k}" for k in range(len(program.invars))]
    d.names.update(zip(program.invars, args))
    d.lines.append(f"def driver({', '.join(args)}):")
    body_start = len(d.lines)
    batched = {a for s in steps if s.kind == "batch" for a in _step_reads(s)}
    for v, a in zip(program.invars, args):
        if v.aval.ndim == 0:
            d.lines.append(f"    {a} = {scalar_ctor(v.aval.dtype)}({a})")
        else:
            # Kernels are compiled for C-contiguous inputs; Numba's dispatcher compiles another
            # specialization (once) if a caller passes a strided array. A batched kernel
            # cannot: its tuple of arrays must be of one type, so its inputs are made
            # contiguous (no copy when they are).
            if v in batched:
                d.lines.append(f"    {a} = np.ascontiguousarray({a})")
            d.c_layout.add(v)
    bufs = _Buffers(d, program, steps,
                    {program.invars[k] for k in donate if k < len(program.invars)})
    for k, s in enumerate(steps):
        _STEP_EMITTERS[s.kind](d, bufs, s, k)
        bufs.release(k, _step_reads(s))
    outs = [_result(d, steps, a) for a in program.outvars]
    if bufs.slots:
        slots = bufs.slots
        d.globals["_wspool"] = []
        d.globals["_new_ws"] = lambda: [np.empty(shape, dtype) for shape, dtype in slots]
        # Taken from a pool (not shared), so concurrent or re-entrant calls stay correct.
        d.lines.insert(body_start, "    ws = _wspool.pop() if _wspool else _new_ws()")
        d.lines.append("    _wspool.append(ws)")
    d.lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    if len(d.lines) == body_start:
        d.lines.append("    pass")


def _result(d, steps, a):
    if isinstance(a, Literal):
        return d.bind_global(np.asarray(a.value, a.aval.dtype)[()], "lit")
    view = next((s for s in steps if s.kind == "view" and s.eqn.outputs[0] is a), None)
    return f"{d.names[a]}.copy()" if view is not None and view.rule.read_only else d.names[a]


def _scalar_suffix(v):
    """A rank-0 result as a numpy scalar, not a 0-d array."""
    return "" if v.aval.ndim else "[()]"


def _emit_scalar(d, bufs, s, k):
    eqn = s.eqn
    out = eqn.outputs[0]
    expr = s.expr.format(*[d.name(a) if e is None else f"{d.name(a)}[{e}]"
                           for a, e in zip(eqn.inputs, s.element)])
    d.lines.append(f"    {d.fresh(out)} = {scalar_ctor(out.aval.dtype)}({expr})")


def _emit_ufunc(d, bufs, s, k):
    eqn = s.eqn
    out = eqn.outputs[0]
    f = d.bind_global(s.rule.ufunc, "u")
    target = None
    if out.aval.ndim:
        dying = next((a for a in eqn.inputs if bufs.overwritable(a, k, out)), None)
        if dying is not None:
            target = d.names[dying]
            d.owned.discard(dying)      # its buffer now belongs to the output
        elif out not in bufs.escaping:
            target = bufs.alloc(out)
    call = f"{f}({', '.join(d.name(a) for a in eqn.inputs)}{', out=' + target if target else ''})"
    if not target and s.rule.result_dtype([a.aval for a in eqn.inputs]) != out.aval.dtype:
        # scipy's special functions have no float16 loop (they return float32 or float64);
        # the shape rule's dtype is what the program promised.
        call = f"{call}.astype(np.{out.aval.dtype.name})"
    nm = d.fresh(out)
    d.lines.append(f"    {nm} = {call}{_scalar_suffix(out)}")
    if target in d.ws_names:
        d.ws_names.add(nm)
    if out.aval.ndim:
        d.owned.add(out)
        d.c_layout.add(out)


def _emit_reduce(d, bufs, s, k):
    eqn = s.eqn
    out = eqn.outputs[0]
    expr = s.rule.numpy(d.name(eqn.inputs[0]), tuple(eqn.params["axes"]), out.aval.dtype)
    d.lines.append(f"    {d.fresh(out)} = {expr}{_scalar_suffix(out)}")
    if out.aval.ndim:
        d.owned.add(out)
        d.c_layout.add(out)


def _emit_view(d, bufs, s, k):
    eqn = s.eqn
    x, out = eqn.inputs[0], eqn.outputs[0]
    if x.aval.ndim == 0 and out.aval.ndim == 0:
        expr = d.name(x)
    elif x.aval.ndim == 0:
        expr = f"np.broadcast_to({d.name(x)}, {tuple(out.aval.shape)})"
    else:
        expr = s.rule.view(d.name(x), x.aval, out.aval, **eqn.params) + _scalar_suffix(out)
    d.lines.append(f"    {d.fresh(out)} = {expr}")
    if s.rule.reshape and x in d.c_layout:
        d.c_layout.add(out)


def _emit_driver(d, bufs, s, k):
    eqn = s.eqn
    try:
        ctx = _EmitCtx(d, eqn)
        single = not eqn.primitive.multiple_results and eqn.outputs[0].aval.ndim > 0
        if single and eqn.outputs[0] not in bufs.escaping:
            avoid = frozenset(d.name(a) for a in eqn.inputs if isinstance(a, Var))
            ctx._alloc = lambda: bufs.alloc(eqn.outputs[0], avoid)
        expr = s.rule.emit(ctx, [d.name(a) for a in eqn.inputs], **eqn.params)
    except Exception as e:
        raise LoweringError(f"jit: lowering failed for the equation "
                            f"{describe_eqn(eqn)}: {type(e).__name__}: {e}") from e
    outs = eqn.outputs
    if eqn.primitive.multiple_results and not outs:      # a debug callback
        d.lines.append(f"    {expr}")
    elif eqn.primitive.multiple_results:
        names = [d.fresh(v) for v in outs]
        d.lines.append(f"    {', '.join(names)}{',' if len(names) == 1 else ''} = {expr}")
        d.lines += [f"    {nm} = {nm}[()]" for v, nm in zip(outs, names) if v.aval.ndim == 0]
    else:
        out = outs[0]
        nm = d.fresh(out)
        d.lines.append(f"    {nm} = {expr}{_scalar_suffix(out)}")
        if ctx.out_buffer in d.ws_names:
            d.ws_names.add(nm)
        if (s.rule.fresh_result or ctx.out_buffer is not None) and out.aval.ndim:
            d.owned.add(out)
            d.c_layout.add(out)


class _EmitCtx:
    """What a Driver lowering sees: the equation's avals and a way to bind Python objects."""

    def __init__(self, d, eqn):
        self._d = d
        self.eqn = eqn
        self.in_avals = [a.aval for a in eqn.inputs]
        self.out_avals = [v.aval for v in eqn.outputs]
        self.out_aval = self.out_avals[0] if self.out_avals else None   # None: effects only

        self.out_buffer = None
        self._alloc = None

    def bind_global(self, obj, prefix="g"):
        return self._d.bind_global(obj, prefix)

    @property
    def shared(self):
        """A dict the lowerings of one program share (read and written in program order)."""
        return self._d.shared

    def defining_eqn(self, var):
        """The equation of the program that computes `var`, or None (an input, a constant)."""
        return self._d.defining_eqn(var)

    def output_buffer(self):
        """A buffer of the output's shape and dtype to write the result into (np.matmul's
        out=), or None when the result must be a fresh array (it reaches the caller)."""
        if self.out_buffer is None and self._alloc is not None:
            self.out_buffer = self._alloc()
        return self.out_buffer

    @property
    def stats(self):
        return self._d.stats

    def kernel(self, body):
        """A generated kernel (`def kernel(...)` source with its geometry as literals) compiled
        through the kernel cache (on disk, shared between programs); counted in the stats and
        shown by lower().as_text()."""
        disp, event = KERNELS.kernel(body)
        self._d.numba_s += event.seconds
        self.record(event, body)
        return disp

    def record(self, event, source):
        """A compiled module (a loop) this step calls: counted in the stats, shown by
        lower().as_text()."""
        self._d.stats.kernels.append(event)
        if not any(n == event.name for n, _ in self._d.kernel_sources):
            self._d.kernel_sources.append((event.name, source))

    def note(self, text):
        """A remark shown by lower().as_text() (why a loop stays a Python loop)."""
        self._d.kernel_sources.append(("note", text))

    def subprogram(self, closed):
        """The name of a compiled callable for a sub-program (a ClosedProgram): what control-flow
        lowerings call (a branch of cond, the body of a loop); it returns a tuple."""
        ex = compile_program(closed, name=f"{self.eqn.primitive.name}_body")
        self._d.stats.kernels += ex.stats.kernels
        return self._d.bind_global(ex.fn, "sub")


def _inplace_outputs(group, donated_dead):
    """Outputs of a kernel that can overwrite a dying donated operand: one read only element
    by element, of the output's shape and dtype."""
    inplace = {}
    if not donated_dead:
        return inplace
    reads = {}
    for m in group.members:
        for r in m.reads:
            reads.setdefault(r.source, set()).add(r.map)
    ident = identity_map(len(group.shape))
    taken = set()
    for m in group.members:
        v = m.eqn.outputs[0]
        if m.kind != "elementwise" or v not in group.outputs:
            continue
        for src in donated_dead:
            if src not in taken and reads.get(src) == {ident} and \
                    src.aval.shape == v.aval.shape and src.aval.dtype == v.aval.dtype:
                inplace[v] = src
                taken.add(src)
                break
    return inplace


def _compiled(d, source, sig, what, eqns):
    """The name of the compiled kernel of `source` for the argument types `sig`."""
    try:
        disp, event = KERNELS.kernel(source, [sig])
    except Exception as e:
        listed = "; ".join(describe_eqn(e_) for e_ in eqns)
        raise LoweringError(f"jit: Numba could not compile the {what} for the equations "
                            f"[{listed}]: {type(e).__name__}: {e}\nKernel source:\n"
                            f"{source}") from e
    d.stats.kernels.append(event)
    d.numba_s += event.seconds
    if not any(n == event.name for n, _ in d.kernel_sources):
        d.kernel_sources.append((event.name, source))
    return d.bind_global(disp, "k")


def _output_buffer(d, bufs, v, avoid):
    """A new name for v, bound to the buffer its kernel writes."""
    buf = bufs.alloc(v, avoid)
    nm = d.fresh(v)
    d.lines.append(f"    {nm} = {buf}")
    if buf in d.ws_names:
        d.ws_names.add(nm)
    d.owned.add(v)
    d.c_layout.add(v)
    return nm


def _emit_kernel(d, bufs, step, k):
    reads = [r.source for m in step.group.members for r in m.reads]
    dying = [a for a in dict.fromkeys(reads) if isinstance(a, Var) and a in bufs.donated
             and a in d.owned and bufs.last.get(a) == k]
    spec = generate(step.group, _inplace_outputs(step.group, dying))
    kname = _compiled(d, spec.source, _kernel_signature(spec, d.c_layout), "fused kernel",
                      spec.eqns)
    in_names = [d.name(v) for v in spec.inputs]
    for v, src in spec.inplace.items():
        d.names[v] = d.names[src]
        d.owned.discard(src)
        d.owned.add(v)
        d.c_layout.add(v)
    out_names = [_output_buffer(d, bufs, v, set(in_names)) for v in spec.outputs]
    extents = [str(n) for n in spec.shape] if spec.pass_extents else []
    call = f"{kname}({', '.join(in_names + out_names + extents)})"
    if spec.scalar_outputs:
        names = [d.fresh(v) for v in spec.scalar_outputs]
        d.lines.append(f"    {', '.join(names)}, = {call}")
        for v, nm in zip(spec.scalar_outputs, names):
            d.lines.append(f"    {nm} = {scalar_ctor(v.aval.dtype)}({nm})")
    else:
        d.lines.append(f"    {call}")


def _emit_batch(d, bufs, step, k):
    """One call of the batched kernel for several independent instances of one kernel."""
    first = step.members[0].spec
    sig = tuple(nbt.UniTuple(t, len(step.members)) for t in step.key[1])
    kname = _compiled(d, batched_source(first), sig, "batched kernel", first.eqns)
    specs = [m.spec for m in step.members]
    avoid = {d.name(v) for sp in specs for v in sp.inputs}
    columns_in = [[d.name(sp.inputs[j]) for sp in specs] for j in range(len(first.inputs))]
    columns_out = [[_output_buffer(d, bufs, sp.outputs[j], avoid) for sp in specs]
                   for j in range(len(first.outputs))]
    args = ", ".join("(" + ", ".join(col) + ",)" for col in columns_in + columns_out)
    d.lines.append(f"    {kname}({args})")


_STEP_EMITTERS = {"kernel": _emit_kernel, "batch": _emit_batch, "scalar": _emit_scalar,
                  "ufunc": _emit_ufunc, "reduce": _emit_reduce, "view": _emit_view,
                  "driver": _emit_driver}
