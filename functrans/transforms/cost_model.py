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
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .. import cost, tree_util
from ..core.ir import ClosedProgram, Literal
from ..core.primitive import Cost
from .tracing import make_jaxpr
from ..core.trace import Tracer, get_aval
from ..primitives._program_cost import equation_cost, program_cost
from .cost_estimates import Term, _eager_terms, _jit_terms, _numpy_work, basis_seconds, \
    cost_kind, peak_bytes
from ..backend.executables import wait_for_background_compiles
from ..backend.flatten import LoweringError
from .jacobians import jacfwd, jacrev
from .jit import jit as jit_
from .linearize import linearize

def _rates(jit):
    return cost.rates(jit=jit)


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
            if not isinstance(e, LoweringError):
                raise
            execution = "eager"
        else:
            return [Term("call of the compiled program", "call", 0.0, 0.0, r.jit_call, 0.0,
                         "argument checks, signature lookup, driver entry")] + steps
    fixed = getattr(r, f"eager_fixed_{mode}")
    per = getattr(r, f"eager_eqn_{mode}")
    n = sum(a.size for a in closed.in_avals)
    outs = sum(a.size for a in closed.out_avals)
    size = n if mode == "fwd" else outs // max(n, 1)
    dtype = (closed.in_avals if mode == "fwd" else closed.out_avals or closed.in_avals)
    basis, how = basis_seconds(r, size, dtype[0].dtype) if dtype else (0.0, "")
    return [Term(f"{'jacfwd' if mode == 'fwd' else 'jacrev'} set-up", "call", 0.0, 0.0, fixed,
                 basis, "bases, flattening, tracing set-up" + (f"; {how}" if how else ""))] + \
        _eager_terms(r, closed, per, execution, getattr(r, f"eager_loop_{mode}"))


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
    # how the mode was settled: "estimate", or "measured" (the estimates were within the
    # model's error of each other and the Jacobian cheap: both modes were timed once)
    settled_by: str = "estimate"

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
    # Within TIE of each other the estimates cannot tell the modes apart. Eagerly forward mode
    # then, which keeps no residuals; compiled, reverse mode, which measured faster in 37 of
    # the 38 near-ties of four sweeps (bench_mode_choice.py) that went to the slower mode.
    tied = max(fwd.seconds, rev.seconds) <= min(fwd.seconds, rev.seconds) * (1 + TIE)
    if tied:
        mode = "rev" if jit else "fwd"
    else:
        mode = "fwd" if fwd.seconds < rev.seconds else "rev"
    warnings = []
    if residual > budget:
        warnings.append(
            f"reverse mode keeps {residual / 2**20:.1f} MiB of residuals, over the memory "
            f"budget of {budget / 2**20:.1f} MiB: wrap layers in ft.checkpoint to recompute "
            f"them in the backward pass, or use forward mode, which keeps none")
    ratio = max(fwd.seconds, rev.seconds) / max(min(fwd.seconds, rev.seconds), 1e-30)
    tie = "" if not tied else " (within 5%: compiled, reverse mode measures faster at a tie)" \
        if jit else " (within 5%: forward mode keeps no residuals)"
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
                  f"JVP(s) of forward mode ({ratio:.2g}x){tie}, keeping {residual} bytes of "
                  f"residuals")
    cost.save()                  # impl timings measured on the way are kept for the next process
    return ModeDecision(mode, reason, n, m, fwd, rev, {}, execution, warnings, budget,
                        time.thread_time() - t0)


# Two estimates closer than MEASURE_BAND are within the model's error between the modes (in
# two sweeps of bench_mode_choice.py, the estimated fwd/rev ratio was within 1.32-1.61x of the
# measured one in 90% of the runs): there jacobian(mode="auto") times both modes once per
# signature instead of trusting the estimates, when that is cheap (the larger estimate at most
# MEASURE_MAX seconds: six calls of each then, under 0.4 s in all).
MEASURE_BAND = 1.5
MEASURE_MAX = 0.03


def close_call(decision) -> bool:
    """Are decision's estimates too close to tell the faster mode, and the Jacobian cheap
    enough to time both once? (Not when reverse mode is ruled out by its residuals, nor for a
    function closing over traced values.)"""
    lo, hi = sorted((decision.forward.seconds, decision.reverse.seconds))
    over_budget = decision.reverse.residual_bytes > decision.memory_budget
    return not over_budget and hi <= lo * MEASURE_BAND and hi <= MEASURE_MAX and \
        not _closes_over_tracers(decision)


def _closes_over_tracers(decision):
    """Does the function close over values an enclosing transform traces? It cannot run on
    its own then (nor on another thread)."""
    return any(isinstance(c, Tracer) for e in (decision.forward, decision.reverse)
               if e.program is not None for c in e.program.consts)


def settle_by_measurement(decision, runs, args):
    """Time both modes (`runs`: {"fwd": callable, "rev": callable} of `args`, compiled for a jit
    decision) and make decision.mode the one that measured faster in CPU time. Runs on a thread
    of its own: a decision made while jit traces must run the Jacobians, not stage them (the
    trace state is per thread). If they cannot run there (a function closing over values of an
    enclosing transform), the estimate's choice stands. Returns the decision."""
    t0 = time.thread_time()
    out = {}

    def work():
        c0 = time.thread_time()
        try:
            out["times"] = _time_pair(runs, args)
        except Exception as e:  # noqa: BLE001   (the estimate's choice stands; said in reason)
            out["error"] = e
        out["thread_cpu"] = time.thread_time() - c0
    thread = threading.Thread(target=work, name="functrans-jacobian-mode-timing")
    thread.start()
    thread.join()
    times = out.get("times")
    decision.decision_seconds += time.thread_time() - t0 + out.get("thread_cpu", 0.0)
    if times is None:
        decision.reason += (f"; the estimates are close, but timing both modes failed "
                            f"({type(out['error']).__name__}): the estimate decides")
        return decision
    decision.measured_cpu = {k: c for k, (c, _) in times.items()}
    decision.measured = {k: w for k, (_, w) in times.items()}
    faster = min(decision.measured_cpu, key=decision.measured_cpu.get)
    slower = "rev" if faster == "fwd" else "fwd"
    gap = decision.measured_cpu[slower] / max(decision.measured_cpu[faster], 1e-12)
    est = {"fwd": decision.forward.seconds, "rev": decision.reverse.seconds}
    decision.reason = (
        f"{'forward' if faster == 'fwd' else 'reverse'} mode ({decision.execution}), measured: "
        f"the estimates ({_ms(est['fwd'])} forward, {_ms(est['rev'])} reverse) are within "
        f"{MEASURE_BAND:g}x, the model's error between the modes, so both were timed once: "
        f"{_ms(decision.measured_cpu['fwd'])} forward, {_ms(decision.measured_cpu['rev'])} "
        f"reverse ({gap:.2f}x)")
    decision.mode = faster
    decision.settled_by = "measured"
    return decision


def _time_pair(runs, args, min_seconds=3e-3):
    """{mode: (median CPU seconds of this thread, median wall seconds)} per call, sampled in
    turn, each sample looping to at least min_seconds. Calls first until a jitted Jacobian runs
    compiled code: the first runs on numpy while its kernels compile, the next waits. Seven
    samples, three for calls over 10 ms (three samples of single 3.5 ms calls, and five of
    single 1-1.4 ms calls, each once picked a mode that measured 30-48% slower in a sweep)."""
    calls = {k: (lambda f=f: f(*args)) for k, f in runs.items()}
    loops, once = {}, {}
    for k, call in calls.items():
        call()
        wait_for_background_compiles()      # compiled code, not calls on numpy meanwhile
        call()
        c0 = time.thread_time()
        call()
        once[k] = time.thread_time() - c0
        loops[k] = max(1, int(min_seconds / max(once[k], 1e-7)))
    samples = 7 if max(once.values()) <= 1e-2 else 3
    cpu = {k: [] for k in calls}
    wall = {k: [] for k in calls}
    for _ in range(samples):
        for k, call in calls.items():
            c0, w0 = time.thread_time(), time.perf_counter()
            for _ in range(loops[k]):
                call()
            cpu[k].append((time.thread_time() - c0) / loops[k])
            wall[k].append((time.perf_counter() - w0) / loops[k])
    return {k: (float(np.median(cpu[k])), float(np.median(wall[k]))) for k in calls}


def _ms(s):
    return f"{s * 1e3:.3g} ms"


def measure_medians(fns, repeats=5):
    """{name: (median wall seconds, median CPU seconds of this thread)} per call of each
    function, sampled in turn (so that drifting load hits all alike); each sample loops to at
    least 2 ms so that fast compiled Jacobians are above timer noise. Calls come first until a
    jitted function runs compiled code: the first runs on numpy while its kernels compile (in a
    worker process; later calls too, until the compile is done), and the first compiled call
    loads them (timing that one made a 70 us Jacobian loop once per sample, each call cold
    after the other mode: 250 us)."""
    loops = {}
    for name, fn in fns.items():
        fn()
        wait_for_background_compiles()      # compiled code, not calls on numpy meanwhile
        fn()
        t0 = time.thread_time()
        fn()
        loops[name] = max(1, int(2e-3 / max(time.thread_time() - t0, 1e-7)))
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
    decision = choose_mode(fun, *args, jit=jit, memory_budget=memory_budget)
    if measure:
        argnums = tuple(range(len(args)))
        runs = {"fwd": jacfwd(fun, argnums), "rev": jacrev(fun, argnums)}
        if jit:
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
        rows = [(f"{s.primitive}({', '.join(s.in_shapes)}) -> {', '.join(s.out_shapes)}",
                 ", ".join(f"{o}x{i}" for o, i in s.jacobian_shapes) or "-", s.structure, s)
                for s in self.steps]
        # Columns as wide as their longest entry: a structure or shape is never cut short.
        we, wj, ws = (max([len(head)] + [len(r[k]) for r in rows]) for k, head in
                      enumerate(("equation", "local Jacobian", "structure")))
        lines = [f"{'#':>3s}  {'equation':{we}s} {'local Jacobian':{wj}s} {'structure':{ws}s} "
                 f"{'FLOPs':>9s} {'kind':14s} {'work us':>8s}  from"]
        for eq, jac, structure, s in rows:
            lines.append(f"{s.index:3d}  {eq:{we}s} {jac:{wj}s} {structure:{ws}s} "
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
                eqn.primitive.jac_structure, cost.flops, cost.bytes, kind, work, how))
        return ChainReport(closed, steps)
    return report
