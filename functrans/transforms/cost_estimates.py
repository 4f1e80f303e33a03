"""What running a program costs: FLOPs and bytes (each primitive's cost rule), the steps jit
will run (planned, not compiled), and seconds at a machine's measured rates.

Every function that returns seconds takes the rates `r` (a functrans.cost.Rates) as an argument:
functrans.cost measures them with these same functions (its jit calibration fits the model's
per-step cost), and transforms/cost_model.py asks for them, so this module imports neither.
Each primitive declares its FLOPs and bytes (its cost rule) and a cost kind (blas, elementwise,
transcendental, reduction, view, gather_scatter, numpy_call, control_flow, call; see
`cost_kind`).
"""
import math
from dataclasses import dataclass


from ..core.ir import ClosedProgram, Var
from ..core.primitive import Cost
from ..primitives._program_cost import equation_cost
from ..backend.flatten import flatten
from ..backend.fusion import plan
from ..backend.loops import compiles_as_loop
from ..backend.lowering import Elementwise, Inline, Reduce, Ufunc, View

COST_KINDS = ("blas", "elementwise", "transcendental", "reduction", "view", "gather_scatter",
              "numpy_call", "control_flow", "call")


def cost_kind(prim) -> str:
    """The rate class of a primitive: declared beside its cost rule (`prim.cost_kind`), else
    read off its lowering (a fused loop, a numpy ufunc, a view, a reduction, a call)."""
    declared = getattr(prim, "cost_kind", None)
    if declared:
        return declared
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
    return compiles_as_loop(eqn)


def _eager_terms(r, closed, per_eqn, execution="eager", loop=0.0):
    """Per equation: the interpreters' dispatch plus the impl's own fixed cost (overhead), and
    the work that grows with the operands."""
    terms = []
    for eqn in closed.eqns:
        kind = cost_kind(eqn.primitive)
        cost = equation_cost(eqn)
        work, how = _numpy_work(r, eqn, kind, cost, execution)
        overhead = per_eqn + r.impl_seconds(eqn)
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
