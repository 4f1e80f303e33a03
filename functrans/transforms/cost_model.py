"""Forward or reverse? A cost model of the program each mode runs, the decision, and reports.

For f: R^n -> R^m, jacfwd runs one program: f's primal pass with n tangents pushed through it at
once (vmap of jvp), and jacrev runs f's forward pass keeping residuals, then the transposed
linear program over m cotangents at once (vmap of the transposed linearization). Both are
traced here to the programs they will run (`make_jaxpr(jacfwd(f))`, `make_jaxpr(jacrev(f))`),
so the batch axes, the transpose's extra work and the reshapes vmap inserts are all counted,
and each program is costed the way it will execute:

  eager   one Python dispatch per equation (vmap and jvp interpreters stacked over a numpy
          call) plus the equation's numpy work
  jit     the program as jit schedules it (functrans.backend.fusion: fused Numba kernels, BLAS
          and numpy calls): a fixed cost per call, one dispatch per step, plus each step's work

Each primitive declares its FLOPs and bytes (its cost rule) and a cost kind (blas, elementwise,
transcendental, reduction, view, gather_scatter, numpy_call, control_flow, call; see
`cost_kind`); functrans.cost measures, once per machine, the rate of each kind, and this module
turns FLOPs and bytes into seconds with them. Reverse mode also keeps residuals: their bytes
are reported and, over `memory_budget`, flagged (checkpoint or forward mode avoid them).
"""
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .. import tree_util
from ..core.ir import ClosedProgram, Literal, Var
from ..core.primitive import Cost
from ..core.staging import make_jaxpr
from ..core.trace import Tracer, get_aval, is_eager

COST_KINDS = ("blas", "elementwise", "transcendental", "reduction", "view", "gather_scatter",
              "numpy_call", "control_flow", "call")


def cost_kind(prim) -> str:
    """The rate class of a primitive: declared beside its cost rule (`prim.cost_kind`), else
    read off its lowering (a fused loop, a numpy ufunc, a view, a reduction, a call)."""
    declared = getattr(prim, "cost_kind", None)
    if declared:
        return declared
    from ..backend.lowering import Elementwise, Inline, Reduce, Ufunc, View
    lowering = prim.lowering
    if isinstance(lowering, Ufunc):
        return "transcendental"
    if isinstance(lowering, Elementwise):
        return "elementwise"
    if isinstance(lowering, View):
        return "view"
    if isinstance(lowering, Reduce):
        return "reduction"
    if isinstance(lowering, Inline):
        return "call"
    return "numpy_call"


# --- FLOPs and bytes (each primitive's cost rule) -------------------------------------------------

def equation_cost(eqn) -> Cost:
    avals = [a.aval for a in eqn.inputs]
    fun = eqn.params.get("fun")
    if callable(fun) and eqn.primitive.name in ("custom_jvp_call", "custom_vjp_call",
                                                "checkpoint"):
        return program_cost(make_jaxpr(lambda *a: fun(list(a)))(*[
            np.zeros(a.shape, a.dtype) for a in avals]))
    sub = eqn.params.get("program")
    if isinstance(sub, ClosedProgram):
        return program_cost(sub)
    return eqn.primitive.estimate_cost(*avals, **eqn.params)


def program_cost(closed) -> Cost:
    total = Cost(0.0, 0.0)
    for eqn in closed.eqns:
        total = total + equation_cost(eqn)
    return total


# --- seconds: one Term per equation (eager) or per step (jit) -------------------------------------

@dataclass
class Term:
    """One line of an estimate: an equation (eager) or a jit step, and where its time comes
    from: `overhead` (dispatch) + `work` (arithmetic and memory at a measured rate)."""
    label: str
    kind: str
    flops: float
    bytes: float
    overhead: float
    work: float
    source: str

    @property
    def seconds(self):
        return self.overhead + self.work


def _rates(jit):
    from ..cost import rates
    return rates(jit=jit)


def _size(aval):
    return math.prod(aval.shape)


def _nbytes(aval):
    return _size(aval) * aval.dtype.itemsize


def _gb(x):
    return f"{x / 1e9:.3g} GB/s"


CACHE_BYTES, MEMORY_BYTES = 1 << 20, 16 << 20


def _bandwidth(r, moved, in_cache_bw=None):
    """Bytes/s for an operation touching `moved` bytes: the in-cache rate up to 1 MiB, the
    large-array rate (memory-bound, fresh pages) from 16 MiB, geometric in between."""
    fast = r.stream_bw if in_cache_bw is None else in_cache_bw
    slow = min(r.dram_bw, fast)
    if moved <= CACHE_BYTES:
        return fast
    if moved >= MEMORY_BYTES:
        return slow
    w = math.log(moved / CACHE_BYTES) / math.log(MEMORY_BYTES / CACHE_BYTES)
    return fast ** (1 - w) * slow ** w


def _stream(r, moved, in_cache_bw=None, what=""):
    bw = _bandwidth(r, moved, in_cache_bw)
    return moved / bw, f"{what}{moved:.3g} B at {_gb(bw)}"


def _dot_shape(eqn):
    """(batch, M, K, N) of a dot_general, and whether numpy must copy an operand to get there
    (a transposed operand whose merged dimensions are not adjacent in memory)."""
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lhs, rhs = eqn.inputs[0].aval, eqn.inputs[1].aval
    lf = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rf = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    prod = lambda aval, dims: math.prod(aval.shape[d] for d in dims)  # noqa: E731
    b, m, k, n = prod(lhs, lb), prod(lhs, lf), prod(lhs, lc), prod(rhs, rf)
    copies = 0
    for aval, groups in ((lhs, (lb, lf, lc)), (rhs, (rb, rc, rf))):
        for g in groups:
            dims = [d for d in g if aval.shape[d] != 1]
            if len(dims) > 1 and list(dims) != list(range(dims[0], dims[0] + len(dims))):
                copies += _nbytes(aval)
                break
    return b, m, k, n, copies


def _gemm_work(r, eqn, call=False):
    """Seconds of a matrix product (with call=True also its fixed cost: under jit nothing else
    counts it; eagerly it is part of the impl's measured cost)."""
    b, m, k, n, copies = _dot_shape(eqn)
    itemsize = eqn.outputs[0].aval.dtype.itemsize
    flops = 2.0 * b * m * k * n
    moved = itemsize * b * (m * k + k * n + m * n)
    bw = _bandwidth(r, moved, r.gemm_bw)
    smallest = min(m, k, n)
    # BLAS is memory-bound when a dimension is 1 (matrix-vector, outer product); otherwise its
    # rate grows with the smallest dimension s, as s / (s + gemm_half) of the square rate.
    rate = r.gemm_flops if smallest <= 1 else r.gemm_flops * smallest / (smallest + r.gemm_half)
    if itemsize == 4:       # calibrated in float64; single precision fills twice the SIMD lanes
        rate *= 2.0
    compute, memory = flops / rate, moved / bw
    t = max(compute, memory) + (b if call else max(b - 1, 0)) * r.blas_call + \
        copies / _bandwidth(r, 2 * copies, r.copy_bw)
    how = (f"[{b}x]{m}x{k}x{n} GEMM: {flops:.3g} FLOP at {rate / 1e9:.3g} GFLOP/s"
           if compute >= memory else
           f"[{b}x]{m}x{k}x{n} GEMM: {moved:.3g} B at {_gb(bw)} (skinny)")
    if copies:
        how += f" + copy {copies:.3g} B"
    return t, how


def _numpy_work(r, eqn, kind, cost, execution):
    """Seconds of an equation's numpy work (its size-dependent part; the fixed cost of the call
    is in the dispatch overhead), and where the figure comes from."""
    out_elems = sum(_size(v.aval) for v in eqn.outputs)
    if kind == "blas":
        return _gemm_work(r, eqn)
    if kind == "transcendental":
        return out_elems * r.transc_elem, f"{out_elems} elements x {r.transc_elem * 1e9:.2g} ns"
    if kind == "elementwise":
        return _stream(r, cost.bytes)
    if kind == "reduction":
        t, how = _stream(r, sum(_nbytes(a.aval) for a in eqn.inputs), r.reduce_bw)
        rows = sum(_size(v.aval) for v in eqn.outputs)      # numpy's cost per output element
        return t + rows * r.reduce_row, f"{how} + {rows} rows"
    if kind == "view":
        if eqn.primitive.name in ("broadcast_in_dim", "concatenate", "pad"):
            # a fresh array written once: count the write twice (page faults, then the copy)
            return _stream(r, 2 * sum(_nbytes(v.aval) for v in eqn.outputs), what="copy ")
        return 0.0, "a numpy view"
    if kind == "control_flow":
        return _control_flow_work(r, eqn, execution)
    if kind == "call":
        sub = eqn.params.get("program")
        if isinstance(sub, ClosedProgram):
            terms = _eager_terms(r, sub, per_eqn=r.eval_eqn, execution=execution)
            return sum(t.seconds for t in terms), f"its {len(sub.eqns)}-equation program"
    return _stream(r, cost.bytes)


def _control_flow_work(r, eqn, execution):
    """A loop runs its body `length` times (a while loop's trip count is unknown: once); a cond
    runs its most expensive branch. Eagerly each body equation pays eval_eqn; under jit each
    iteration is a call of the body's compiled program."""
    p = eqn.params
    name = eqn.primitive.name
    if name == "scan":
        bodies, times = [p["body"]], p["length"]
    elif name == "while_loop":
        bodies, times = [p["cond_program"], p["body_program"]], 1
    elif name == "cond":
        bodies, times = [max(p["branches"], key=lambda b: len(b.eqns))], 1
    else:
        return _stream(r, equation_cost(eqn).bytes)
    compiled = execution == "jit" and compiled_loop(eqn)
    per = 0.0 if compiled else r.jit_iter if execution == "jit" else r.eval_iter
    for body in bodies:
        if compiled:        # one njit function: no Python between the body's steps, and
            # its products call BLAS directly (without numpy's call overhead); each iteration
            # copies the body's results into the carry and the stacked outputs
            per += sum(t.work - (r.blas_call if t.kind == "blas" else 0.0) +
                       r.jit_loop_step * (0.5 if t.kind == "view" else 1.0)
                       for t in _jit_terms(r, body))
            per += _stream(r, 2 * sum(_nbytes(a) for a in body.out_avals))[0]
        elif execution == "jit":
            per += sum(t.seconds for t in _jit_terms(r, body))
        else:
            per += sum(t.seconds for t in _eager_terms(r, body, per_eqn=r.eval_eqn,
                                                       execution=execution))
    note = "" if name != "while_loop" else " (trip count unknown: one iteration)"
    if execution == "jit":
        note += ", compiled loop" if compiled else ", Python loop over the compiled body"
    return times * per, f"{times} x body {per * 1e6:.3g} us{note}"


def compiled_loop(eqn):
    """Will jit run this scan / while_loop as one njit function (functrans.backend.loops), or
    as a Python loop calling the body's compiled program? Asked of the loop generator itself
    (it generates source only; nothing is compiled)."""
    from ..backend.loops import compiles_as_loop
    return compiles_as_loop(eqn)


def _eager_terms(r, closed, per_eqn, execution="eager", loop=0.0):
    """Per equation: the interpreters' dispatch plus the impl's own fixed cost (overhead), and
    the work that grows with the operands."""
    from ..cost import impl_seconds
    terms = []
    for eqn in closed.eqns:
        kind = cost_kind(eqn.primitive)
        cost = equation_cost(eqn)
        work, how = _numpy_work(r, eqn, kind, cost, execution)
        overhead = per_eqn + impl_seconds(r, eqn)
        if kind == "control_flow":
            overhead += loop              # eagerly, the transforms staged its body anew
        terms.append(Term(_eqn_label(eqn), kind, cost.flops, cost.bytes, overhead, work, how))
    return terms


def _eqn_label(eqn):
    ins = ", ".join(a.aval.str_short() for a in eqn.inputs)
    return f"{eqn.primitive.name}({ins})"


def jit_steps(closed):
    """The steps jit will run for a program (fused kernels, BLAS/numpy calls, views), planned
    without compiling anything."""
    from ..backend import install_lowerings
    from ..backend.flatten import flatten
    from ..backend.fusion import plan
    install_lowerings()
    program, _ = flatten(closed)
    steps, _ = plan(program)
    return steps


def _kernel_term(r, step):
    group = step.group
    elems = math.prod(group.shape)
    per_elem, names = 0.0, []
    for m in group.members:
        names.append(m.eqn.primitive.name)
        if m.kind == "reduce" or cost_kind(m.eqn.primitive) == "reduction":
            per_elem += r.fused_reduce       # a chain of dependent adds: latency, not SIMD
        elif cost_kind(m.eqn.primitive) == "transcendental":
            per_elem += r.fused_transc
        elif cost_kind(m.eqn.primitive) != "view":
            per_elem += r.fused_elem
    produced = {id(v) for m in group.members for v in m.eqn.outputs}
    sources = {id(rd.source): rd.source for m in group.members for rd in m.reads
               if isinstance(rd.source, Var) and id(rd.source) not in produced}
    moved = sum(_nbytes(v.aval) for v in sources.values()) + \
        sum(_nbytes(v.aval) for v in group.outputs)
    inner = group.shape[-1] if group.shape else 1
    passes = elems // max(inner, 1)           # starts of the innermost loop
    compute = elems * per_elem + passes * r.fused_row
    memory, how = _stream(r, moved)
    if compute >= memory:
        how = f"{elems} elements x {per_elem * 1e9:.2g} ns + {passes} rows"
    cost = sum((equation_cost(m.eqn) for m in group.members), Cost(0.0, 0.0))
    label = f"kernel[{', '.join(names)}] over {tuple(group.shape)}"
    return Term(label, "fused", cost.flops, cost.bytes, r.jit_step, max(compute, memory), how)


def _jit_terms(r, closed):
    terms = []
    for step in jit_steps(closed):
        if step.kind == "kernel":
            terms.append(_kernel_term(r, step))
            continue
        eqn = step.eqn
        kind = cost_kind(eqn.primitive)
        cost = equation_cost(eqn)
        if step.kind == "view":
            terms.append(Term(_eqn_label(eqn), "view", 0.0, 0.0, r.jit_step / 2, 0.0,
                              "a numpy view in the driver"))
            continue
        if step.kind == "scalar":
            terms.append(Term(_eqn_label(eqn), kind, cost.flops, cost.bytes, r.jit_step, 0.0,
                              "a Python scalar operation"))
            continue
        if step.kind == "ufunc":
            kind = "transcendental"
        if kind == "blas":
            work, how = _gemm_work(r, eqn, call=True)
        else:
            work, how = _numpy_work(r, eqn, kind, cost, "jit")
        terms.append(Term(_eqn_label(eqn), kind, cost.flops, cost.bytes, r.jit_step, work, how))
    return terms


def estimate_terms(closed, execution="eager", mode="fwd"):
    """The estimate of running `closed` (a whole-Jacobian program of `mode`, "fwd" or "rev"),
    eagerly or compiled: a fixed term, then one Term per equation (eager) or step (jit)."""
    if execution not in ("eager", "jit"):
        raise ValueError(f"execution must be 'eager' or 'jit'; got {execution!r}")
    r = _rates(jit=execution == "jit")
    if execution == "jit":
        try:
            steps = _jit_terms(r, closed)
        except Exception as e:      # a program jit cannot lower: it would run eagerly
            from ..backend.flatten import LoweringError
            if not isinstance(e, LoweringError):
                raise
            execution = "eager"
        else:
            return [Term("call of the compiled program", "call", 0.0, 0.0, r.jit_call, 0.0,
                         "argument checks, signature lookup, driver entry")] + steps
    fixed = getattr(r, f"eager_fixed_{mode}")
    per = getattr(r, f"eager_eqn_{mode}")
    return [Term(f"{'jacfwd' if mode == 'fwd' else 'jacrev'} set-up", "call", 0.0, 0.0, fixed,
                 0.0, "bases, flattening, tracing set-up")] + \
        _eager_terms(r, closed, per, execution, getattr(r, f"eager_loop_{mode}"))


def estimated_seconds(closed, execution="eager", mode="fwd") -> float:
    return sum(t.seconds for t in estimate_terms(closed, execution, mode))


def peak_bytes(closed) -> int:
    """The most bytes live at once while the program runs (inputs and constants throughout)."""
    program = closed.program
    last = {}
    for i, eqn in enumerate(program.eqns):
        for a in eqn.inputs:
            if isinstance(a, Var):
                last[a] = i
    for a in program.outvars:
        if isinstance(a, Var):
            last[a] = len(program.eqns)
    base = sum(_nbytes(v.aval) for v in (*program.invars, *program.constvars))
    live, peak = 0, 0
    for i, eqn in enumerate(program.eqns):
        live += sum(_nbytes(v.aval) for v in eqn.outputs)
        peak = max(peak, live)
        for a in set(a for a in eqn.inputs if isinstance(a, Var)):
            if last.get(a) == i and a not in program.invars and a not in program.constvars:
                live -= _nbytes(a.aval)
    return base + peak


# --- the decision ---------------------------------------------------------------------------------

def default_memory_budget():
    """A quarter of physical memory (FUNCTRANS_MEMORY_BUDGET, in bytes, overrides it)."""
    env = os.environ.get("FUNCTRANS_MEMORY_BUDGET")
    if env:
        return int(float(env))
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 << 30


@dataclass
class ModeEstimate:
    flops: float
    bytes: float
    seconds: float
    residual_bytes: int
    passes: int            # number of JVPs (forward) or VJPs (reverse) in the full Jacobian
    overhead_seconds: float = 0.0     # dispatch: per equation (eager) or per step (jit)
    work_seconds: float = 0.0         # arithmetic and memory at the measured rates
    peak_bytes: int = 0               # live memory of the Jacobian program at its peak
    terms: list = field(default_factory=list, repr=False)
    program: ClosedProgram = field(default=None, repr=False)


@dataclass
class ModeDecision:
    mode: str                       # "fwd" or "rev"
    reason: str
    n_inputs: int
    n_outputs: int
    forward: ModeEstimate
    reverse: ModeEstimate
    measured: dict = field(default_factory=dict)    # mode -> median wall seconds, if measured
    execution: str = "eager"        # how the Jacobian runs: "eager" or "jit"
    warnings: list = field(default_factory=list)    # e.g. residuals over the memory budget
    memory_budget: int = 0
    decision_seconds: float = 0.0   # what building this decision cost (CPU seconds)
    # mode -> median CPU seconds of the measuring thread: the clock the calibration uses, so
    # that other processes' load on a shared machine does not count (equal to wall time on an
    # idle machine with one BLAS thread)
    measured_cpu: dict = field(default_factory=dict)

    def ratio(self, mode, clock="wall"):
        """estimate / measurement for mode ("fwd" or "rev") on the "wall" or "cpu" clock, or
        None if not measured."""
        t = (self.measured if clock == "wall" else self.measured_cpu).get(mode)
        if not t:
            return None
        return (self.forward if mode == "fwd" else self.reverse).seconds / t

    def explain(self, mode=None, top=None):
        """Where the estimate comes from: one line per equation (eager) or step (jit)."""
        return format_terms(self, mode, top)

    def __str__(self):
        return format_decision(self)


def _sizes(leaves):
    return sum(get_aval(x).size for x in leaves)


def _concrete(x):
    """A value of x's shape and dtype to trace with (x itself unless it is a tracer)."""
    if isinstance(x, Tracer):
        a = get_aval(x)
        return np.zeros(a.shape, a.dtype)
    return x


def _residual_bytes(fun, args, known):
    """Bytes reverse mode keeps for the backward pass: the linear program's constants that are
    not arguments or constants the program holds anyway (`known`: ids)."""
    from .linearize import linearize
    _, lin = linearize(fun, *args)
    skip = known | {id(x) for x in tree_util.tree_leaves(args)}
    return int(sum(getattr(c, "nbytes", 0) for c in lin.program.consts if id(c) not in skip))


def _estimate(closed, passes, execution, mode, residual):
    terms = estimate_terms(closed, execution, mode)
    # eagerly the terms are the equations, with their costs; under jit, count the equations
    cost = Cost(sum(t.flops for t in terms), sum(t.bytes for t in terms)) \
        if execution == "eager" else program_cost(closed)
    return ModeEstimate(cost.flops, cost.bytes, sum(t.seconds for t in terms), residual,
                        passes, sum(t.overhead for t in terms), sum(t.work for t in terms),
                        peak_bytes(closed), terms, closed)


TIE = 0.05


def choose_mode(fun, *args, jit=False, memory_budget=None) -> ModeDecision:
    """Estimate both ways of building fun's full Jacobian at args, run eagerly (jit=False) or
    compiled (jit=True), and pick the faster one; reverse mode is ruled out when its residuals
    exceed memory_budget bytes (default: default_memory_budget()) and forward mode fits."""
    from .jacobians import jacfwd, jacrev
    t0 = time.thread_time()
    execution = "jit" if jit else "eager"
    budget = default_memory_budget() if memory_budget is None else int(memory_budget)
    args = tuple(tree_util.tree_map(_concrete, a) for a in args)
    argnums = tuple(range(len(args)))
    n = _sizes(tree_util.tree_leaves(args))
    fwd_prog = make_jaxpr(jacfwd(fun, argnums))(*args)
    rev_prog = make_jaxpr(jacrev(fun, argnums))(*args)
    # jacfwd's outputs hold one (output leaf x input leaf) block each: m * n numbers in all
    m = sum(a.size for a in fwd_prog.out_avals) // max(n, 1) if n else \
        sum(a.size for a in make_jaxpr(fun)(*args).out_avals)
    known = {id(c) for c in (*fwd_prog.consts, *rev_prog.consts)}
    residual = _residual_bytes(fun, args, known)
    fwd = _estimate(fwd_prog, n, execution, "fwd", 0)
    rev = _estimate(rev_prog, m, execution, "rev", residual)
    # Within TIE of each other the estimates cannot tell the modes apart: forward mode then,
    # which keeps no residuals (and measures slightly faster on square problems).
    mode = "fwd" if fwd.seconds <= rev.seconds * (1 + TIE) else "rev"
    warnings = []
    if residual > budget:
        warnings.append(
            f"reverse mode keeps {residual / 2**20:.1f} MiB of residuals, over the memory "
            f"budget of {budget / 2**20:.1f} MiB: wrap layers in ft.checkpoint to recompute "
            f"them in the backward pass, or use forward mode, which keeps none")
    ratio = max(fwd.seconds, rev.seconds) / max(min(fwd.seconds, rev.seconds), 1e-30)
    tie = " (within 5%: forward mode keeps no residuals)" if ratio < 1 + TIE else ""
    if mode == "rev" and residual > budget and fwd.peak_bytes <= budget:
        mode = "fwd"
        reason = (f"forward mode: reverse mode would be {ratio:.2g}x faster but its "
                  f"residuals exceed the memory budget")
    elif mode == "fwd":
        reason = (f"forward mode ({execution}): {n} JVP(s) (one per input) in one batched "
                  f"program, estimated {_ms(fwd.seconds)} vs {_ms(rev.seconds)} for the {m} "
                  f"VJP(s) of reverse mode ({ratio:.2g}x){tie}; no residuals kept")
    else:
        reason = (f"reverse mode ({execution}): {m} VJP(s) (one per output) in one batched "
                  f"program, estimated {_ms(rev.seconds)} vs {_ms(fwd.seconds)} for the {n} "
                  f"JVP(s) of forward mode ({ratio:.2g}x), keeping {residual} bytes of "
                  f"residuals")
    from ..cost import save
    save()                  # impl timings measured on the way are kept for the next process
    return ModeDecision(mode, reason, n, m, fwd, rev, {}, execution, warnings, budget,
                        time.thread_time() - t0)


def _ms(s):
    return f"{s * 1e3:.3g} ms"


def measure_medians(fns, repeats=5):
    """{name: (median wall seconds, median CPU seconds of this thread)} per call of each
    function, sampled in turn (so that drifting load hits all alike); each sample loops to at
    least 2 ms so that fast compiled Jacobians are above timer noise."""
    loops = {}
    for name, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        loops[name] = max(1, int(2e-3 / max(time.perf_counter() - t0, 1e-7)))
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            w0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(loops[name]):
                fn()
            cpu[name].append((time.thread_time() - c0) / loops[name])
            wall[name].append((time.perf_counter() - w0) / loops[name])
    return {name: (float(np.median(wall[name])), float(np.median(cpu[name]))) for name in fns}


def compare_modes(fun, *args, repeats=5, measure=True, jit=False,
                  memory_budget=None) -> ModeDecision:
    """The cost report: sizes, estimated time (and FLOPs, bytes, residual memory) of forward and
    reverse accumulation of fun's Jacobian at args, eager or under jit, beside the measured
    median time of each (jacfwd/jacrev, jit-compiled with jit=True) and their ratio, and which
    is faster and why. Print it; `.explain()` shows where each estimate comes from."""
    from .jacobians import jacfwd, jacrev
    decision = choose_mode(fun, *args, jit=jit, memory_budget=memory_budget)
    if measure:
        argnums = tuple(range(len(args)))
        runs = {"fwd": jacfwd(fun, argnums), "rev": jacrev(fun, argnums)}
        if jit:
            from .jit import jit as jit_
            runs = {k: jit_(v) for k, v in runs.items()}
        times = measure_medians({k: (lambda f=f: f(*args)) for k, f in runs.items()}, repeats)
        decision.measured = {k: w for k, (w, _) in times.items()}
        decision.measured_cpu = {k: c for k, (_, c) in times.items()}
    return decision


def format_decision(d: ModeDecision) -> str:
    def timed(t, ratio):
        if t is None:
            return f"{'-':>13s} {'-':>7s}"
        return f"{t * 1e3:10.3f} ms {ratio:7.2f}"

    def row(name, key, e):
        return (f"  {name:8s} {e.passes:7d} {e.flops:10.3g} {e.bytes:10.3g} "
                f"{e.residual_bytes:10d} {e.peak_bytes:10.3g} {e.seconds * 1e3:10.3f} ms "
                f"{timed(d.measured.get(key), d.ratio(key))} "
                f"{timed(d.measured_cpu.get(key), d.ratio(key, 'cpu'))}")
    lines = [f"Jacobian of R^{d.n_inputs} -> R^{d.n_outputs}, {d.execution}",
             f"  {'mode':8s} {'passes':>7s} {'FLOPs':>10s} {'bytes':>10s} "
             f"{'residual B':>10s} {'peak B':>10s} {'estimate':>13s} {'measured':>13s} "
             f"{'est/meas':>7s} {'CPU time':>13s} {'est/CPU':>7s}",
             row("forward", "fwd", d.forward),
             row("reverse", "rev", d.reverse),
             f"choice: {d.mode} ({d.reason})"]
    lines += [f"warning: {w}" for w in d.warnings]
    if len(d.measured) == 2:
        faster = min(d.measured, key=d.measured.get)
        lines.append(f"measured: {faster} was faster "
                     f"({max(d.measured.values()) / max(min(d.measured.values()), 1e-12):.2f}x)")
    return "\n".join(lines)


def format_terms(d: ModeDecision, mode=None, top=None) -> str:
    lines = []
    for key, e in (("fwd", d.forward), ("rev", d.reverse)):
        if mode not in (None, key):
            continue
        lines.append(f"{'forward' if key == 'fwd' else 'reverse'} mode, {d.execution}: "
                     f"{_ms(e.seconds)} = {_ms(e.overhead_seconds)} dispatch + "
                     f"{_ms(e.work_seconds)} work, {len(e.terms) - 1} "
                     f"{'steps' if d.execution == 'jit' else 'equations'}")
        terms = e.terms if top is None else sorted(e.terms, key=lambda t: -t.seconds)[:top]
        lines.append(f"  {'us':>9s} {'dispatch':>9s} {'kind':14s} {'what':52s} from")
        for t in terms:
            lines.append(f"  {t.seconds * 1e6:9.2f} {t.overhead * 1e6:9.2f} {t.kind:14s} "
                         f"{t.label:52.52s} {t.source}")
    return "\n".join(lines)


# --- the program as a chain of Jacobians ---------------------------------------------------------

@dataclass
class JacobianStep:
    index: int
    primitive: str
    in_shapes: list
    out_shapes: list
    jacobian_shapes: list      # one (out size, in size) per (output, non-literal input) pair
    structure: str
    flops: float
    bytes: float
    kind: str = ""             # the cost kind its rate comes from
    seconds: float = 0.0       # estimated eager seconds of one application (work only)
    source: str = ""           # how that figure was computed


@dataclass
class ChainReport:
    program: ClosedProgram
    steps: list

    def __str__(self):
        lines = [f"{'#':>3s}  {'equation':40s} {'local Jacobian':16s} {'structure':24s} "
                 f"{'FLOPs':>9s} {'kind':14s} {'work us':>8s}  from"]
        for s in self.steps:
            eq = f"{s.primitive}({', '.join(s.in_shapes)}) -> {', '.join(s.out_shapes)}"
            jac = ", ".join(f"{o}x{i}" for o, i in s.jacobian_shapes) or "-"
            lines.append(f"{s.index:3d}  {eq:40.40s} {jac:16.16s} {s.structure:24.24s} "
                         f"{s.flops:9.3g} {s.kind:14s} {s.seconds * 1e6:8.2f}  {s.source}")
        lines.append("J = J_k ... J_1: forward mode multiplies from the right (J_1 first), "
                     "reverse mode from the left (J_k first). compare_modes(f, x).explain() "
                     "costs the Jacobian programs themselves.")
        return "\n".join(lines)

    __repr__ = __str__


def explain(fun, static_argnums=()):
    """explain(f)(*args): f's program as a chain of local Jacobians, one row per equation, with
    its FLOPs, cost kind and estimated eager work at this machine's measured rates."""
    def report(*args):
        closed = make_jaxpr(fun, static_argnums=static_argnums)(*args)
        r = _rates(jit=False)
        steps = []
        for i, eqn in enumerate(closed.eqns):
            ins = [a for a in eqn.inputs if not isinstance(a, Literal)]
            cost = equation_cost(eqn)
            kind = cost_kind(eqn.primitive)
            work, how = _numpy_work(r, eqn, kind, cost, "eager")
            steps.append(JacobianStep(
                i, eqn.primitive.name, [a.aval.str_short() for a in eqn.inputs],
                [v.aval.str_short() for v in eqn.outputs],
                [(o.aval.size, a.aval.size) for o in eqn.outputs for a in ins
                 if a.aval.dtype.kind in "fc" and o.aval.dtype.kind in "fc"],
                eqn.primitive.jacobian, cost.flops, cost.bytes, kind, work, how))
        return ChainReport(closed, steps)
    return report


# --- jacobian(mode=...) ---------------------------------------------------------------------------

def _signature(args):
    leaves, tree = tree_util.tree_flatten(args)
    avals = tuple((get_aval(x).shape, get_aval(x).dtype, get_aval(x).weak_type) for x in leaves)
    return tree, avals


def jacobian(fun, argnums=0, has_aux=False, mode="auto", memory_budget=None, sparsity=None):
    """The Jacobian of fun by forward mode ("fwd"), reverse mode ("rev"), or whichever the cost
    model says is faster ("auto"). An auto Jacobian decides once per signature (tree structure,
    shapes, dtypes, and whether it runs eagerly or is being traced by jit) and keeps the
    decision as `jac_fun.last_decision`; eager calls also record their measured time there
    (`last_decision.measured[mode]`, and `.ratio(mode)` of estimate to measurement)."""
    if sparsity is not None or mode == "chain":
        # sparsity="auto" or a pattern: a coloured sparse Jacobian (a scipy.sparse.csr_array);
        # mode="chain": the cheapest bracketing of the chain of Jacobians (sparse_jacobian.py,
        # chain.py)
        from .sparse_jacobian import dispatch_jacobian
        return dispatch_jacobian(fun, argnums, has_aux, mode, sparsity)
    from .jacobians import jacfwd, jacrev
    if mode not in ("auto", "fwd", "rev"):
        raise ValueError(f"jacobian: mode must be 'auto', 'fwd' or 'rev'; got {mode!r}")
    decisions = {}

    def jac_fun(*args):
        chosen = mode
        staged = not is_eager()
        if mode == "auto":
            key = (_signature(args), staged)
            decision = decisions.get(key)
            if decision is None:
                nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

                def of_diff(*d):
                    full = list(args)
                    for i, a in zip(nums, d):
                        full[i] = a
                    out = fun(*full)
                    return out[0] if has_aux else out
                decision = choose_mode(of_diff, *[args[i] for i in nums], jit=staged,
                                       memory_budget=memory_budget)
                decisions[key] = decision
            jac_fun.last_decision = decision
            chosen = decision.mode
        run = (jacfwd if chosen == "fwd" else jacrev)(fun, argnums, has_aux)
        if mode != "auto" or staged:
            return run(*args)
        t0 = time.perf_counter()
        out = run(*args)
        decision.measured[chosen] = time.perf_counter() - t0
        return out

    jac_fun.last_decision = None
    jac_fun.decisions = decisions
    jac_fun.__name__ = f"jacobian({getattr(fun, '__name__', 'fun')})"
    return jac_fun
