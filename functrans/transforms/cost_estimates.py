"""What running a program costs: FLOPs and bytes (each primitive's cost rule), the steps jit
will run (planned, not compiled), and seconds at a machine's measured rates.

Every function that returns seconds takes the rates `r` (a functrans.cost.Rates) as an argument:
functrans.cost measures them with these same functions (its jit calibration fits the model's
per-step cost), and transforms/cost_model.py asks for them, so this module imports neither.
Each primitive declares its FLOPs and bytes (its cost rule) and a cost kind (blas, elementwise,
divide, transcendental, reduction, view, gather_scatter, numpy_call, control_flow, call, copy;
see `cost_kind`).
"""
import math
import weakref
from dataclasses import dataclass

import numpy as np


from ..core.ir import ClosedProgram, Var
from ..core.primitive import Cost
from ..primitives._program_cost import equation_cost
from ..backend.flatten import flatten
from ..backend.fusion import plan
from ..backend.loops import compiles_as_loop
from ..backend.lowering import (Elementwise, Inline, Reduce, Ufunc, View,
                                view_moves_no_data)

COST_KINDS = ("blas", "elementwise", "divide", "transcendental", "reduction", "view",
              "gather_scatter", "numpy_call", "control_flow", "call", "copy")


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


def _last_level_cache(default=8 << 20):
    """Bytes of the CPU's last-level cache (Linux sysfs), or `default`."""
    best = 0
    for index in range(8):
        try:
            with open(f"/sys/devices/system/cpu/cpu0/cache/index{index}/size") as f:
                text = f.read().strip()
        except OSError:
            continue
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        try:
            best = max(best, int(text[:-1]) * units[text[-1]] if text[-1] in units
                       else int(text))
        except (ValueError, IndexError):
            continue
    return best or default


# Arrays a call touches that fit in a quarter of the last-level cache stay there from call to
# call (weights, and buffers the allocator hands out again): they stream at the in-cache rates;
# beyond the whole cache at the large-array rate, and geometrically in between.
MEMORY_BYTES = max(_last_level_cache(), 4 << 20)
CACHE_BYTES = MEMORY_BYTES // 4
SMALL_BASIS = 1 << 20      # an eager Jacobian's basis this small is in its calibrated fixed cost
# glibc's largest mmap threshold: arrays above it are fresh pages at every allocation
FRESH_BYTES = 32 << 20


def _fresh(r, avals):
    """Seconds of first-touch page faults of freshly allocated arrays of these avals."""
    return sum(_nbytes(a) for a in avals if _nbytes(a) > FRESH_BYTES) * r.fault_byte


def _bandwidth(r, moved, in_cache_bw=None):
    """Bytes/s for an operation touching `moved` bytes: the in-cache rate up to CACHE_BYTES,
    the large-array rate (memory-bound) from MEMORY_BYTES, geometric in between."""
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
    if kind in ("elementwise", "divide"):
        t, how = _stream(r, cost.bytes)
        return _with_rows(r, t, how, _broadcast_passes(eqn))
    if kind == "reduction":
        t, how = _stream(r, sum(_nbytes(a.aval) for a in eqn.inputs), r.reduce_bw)
        rows = sum(_size(v.aval) for v in eqn.outputs)      # numpy's cost per output element
        return t + rows * r.reduce_row, f"{how} + {rows} rows"
    if kind == "copy":
        # a fresh array written once: count the write twice (first touch, then the copy)
        t, how = _stream(r, 2 * sum(_nbytes(v.aval) for v in eqn.outputs), what="copy ")
        return _with_rows(r, t, how, _broadcast_passes(eqn))
    if kind == "view":
        return 0.0, "a numpy view"
    if kind == "control_flow":
        return _control_flow_work(r, eqn, execution)
    if kind == "call":
        sub = eqn.params.get("program")
        if isinstance(sub, ClosedProgram):
            terms = _eager_terms(r, sub, per_eqn=r.eval_eqn, execution=execution)
            return sum(t.seconds for t in terms), f"its {len(sub.eqns)}-equation program"
    return _stream(r, cost.bytes)


def _broadcast_passes(eqn):
    """How many passes numpy's inner loop makes over an equation's output: one when every
    operand is whole (numpy then runs over the array as one flat run), else one per run of
    the trailing axes up to the last one an operand is broadcast along (a (500, 500, 2) result
    from a (500, 1, 2) operand: 250,000 passes of 2). Operands align on trailing axes, as in
    numpy; a broadcast_in_dim names the output axes its operand covers."""
    out = eqn.outputs[0].aval
    if not out.ndim or _size(out) == 0:
        return 1
    dims = eqn.params.get("broadcast_dimensions")
    if dims is not None:                    # broadcast_in_dim: operand axis i -> output dims[i]
        shape = eqn.inputs[0].aval.shape
        covered = {d: shape[i] for i, d in enumerate(dims)}
        broadcast = [d for d in range(out.ndim) if out.shape[d] > 1 and covered.get(d, 1) == 1]
    else:
        broadcast = []
        for a in eqn.inputs:
            shape = a.aval.shape
            if not shape or tuple(shape) == tuple(out.shape):
                continue
            lead = out.ndim - len(shape)
            broadcast += [d for d in range(out.ndim) if out.shape[d] > 1 and
                          (d < lead or shape[d - lead] == 1)]
    if not broadcast:
        return 1
    run = math.prod(out.shape[max(broadcast) + 1:])
    return _size(out) // max(run, 1)


def _with_rows(r, t, how, passes):
    if passes <= 1:
        return t, how
    return t + passes * r.np_row, f"{how} + {passes} inner loops (broadcast)"


def _control_flow_work(r, eqn, execution):
    """A loop runs its body `times` times, a cond its most expensive branch (as the primitive
    declares: `cost_programs`; a trip count unknown until it runs counts once). Eagerly each
    body equation pays eval_eqn; under jit each iteration is a call of the body's compiled
    program, or a pass of a loop compiled as one njit function."""
    declared = eqn.primitive.cost_programs
    if declared is None:
        return _stream(r, equation_cost(eqn).bytes)
    programs = declared(**eqn.params)
    times = {t for _, t, _ in programs}
    times = programs[0][1] if len(times) == 1 and None not in times else 1
    compiled = execution == "jit" and compiled_loop(eqn)
    loop = any(carries for _, _, carries in programs) or times != 1
    per = 0.0 if compiled or not loop else r.jit_iter if execution == "jit" else r.eval_iter
    for body, _, carries in programs:
        if compiled:        # one njit function: no Python between the body's steps, and
            # its products call BLAS directly (without numpy's call overhead); each iteration
            # copies the body's results into the carry and the stacked outputs
            layout = {}
            per += sum(t.work - (r.blas_call if t.kind == "blas" else 0.0) +
                       r.jit_loop_step * (0.5 if t.kind == "view" else 1.0)
                       for t in _jit_terms(r, body, in_loop=True, layout=layout))
            per += _loop_results(r, layout, carries)
        elif execution == "jit":
            per += sum(t.seconds for t in _jit_terms(r, body))
        else:
            per += sum(t.seconds for t in _eager_terms(r, body, per_eqn=r.eval_eqn,
                                                       execution=execution))
    note = " (trip count unknown: one iteration)" if any(t is None for _, t, _ in programs) \
        else ""
    if execution == "jit" and loop:
        note += ", compiled loop" if compiled else ", Python loop over the compiled body"
    return times * per, f"{times} x body {per * 1e6:.3g} us{note}"


_loop_answers = weakref.WeakKeyDictionary()     # equation -> compiles_as_loop(equation)


def compiled_loop(eqn):
    """Will jit run this scan / while_loop as one njit function (functrans.backend.loops), or
    as a Python loop calling the body's compiled program? Asked of the loop generator itself
    (it generates source only; nothing is compiled), once per equation."""
    try:
        answer = _loop_answers.get(eqn)
    except TypeError:                       # an equation that cannot be weakly referenced
        return compiles_as_loop(eqn)
    if answer is None:
        answer = _loop_answers[eqn] = compiles_as_loop(eqn)
    return answer


def _loop_results(r, layout, num_carry):
    """Seconds per iteration of a compiled loop keeping its body's results: each is copied
    into its carry or its row of the stacked outputs; a carry that no step of this iteration
    wrote into a buffer of its own (a product's result, a view, an operand) is first copied
    into a fresh array, twice when it is a strided view."""
    t = 0.0
    for i, v in enumerate(layout["outvars"]):
        aval = v.aval
        t += _loop_copy(r, aval)
        if i < num_carry and aval.ndim and v not in layout["fresh"]:
            t += _loop_copy(r, aval) + _loop_alloc(r, aval)
            if v in layout["strided"]:            # made contiguous first: a gather
                t += _loop_gather(r, aval) + _loop_alloc(r, aval)
    return t


def _loop_alloc(r, aval):
    """Seconds of an allocation inside a compiled loop: Numba's allocator and the array's
    header (loop_alloc, fitted on a probe), and the page faults of an array mapped afresh."""
    return r.loop_alloc + _fresh(r, [aval])


def _loop_gather(r, aval):
    """Seconds of Numba copying an array it types as non-contiguous (a transposed or sliced
    view, as np.ascontiguousarray makes it contiguous for BLAS or a reshape) inside a compiled
    loop: an element-by-element walk at loop_gather per element (fitted on a probe), several
    times a contiguous copy's cost."""
    return _size(aval) * r.loop_gather if aval.ndim else 0.0


def _loop_copy(r, aval, order=None):
    """Seconds of copying an array (its axes in `order`) inside a compiled loop: a loop nest
    over its elements, limited by memory or by the start of each innermost pass."""
    if not aval.ndim:
        return 0.0
    elems = _size(aval)
    shape = [aval.shape[d] for d in (order or range(aval.ndim)) if aval.shape[d] != 1]
    inner = shape[-1] if shape else 1
    return max(elems * r.fused_elem + _short_rows(r, elems, inner, 2),
               _stream(r, 2 * _nbytes(aval), r.copy_bw)[0])


# An innermost loop shorter than this does not run one 4-lane float64 vector iteration: each
# of its element accesses is a scalar load or store.
SHORT_ROW = 4
# The calibration's probe: passes of 2 elements, one array read and one written (4 accesses).
PROBE_PASS = 2 * 2


def _short_rows(r, elems, inner, arrays):
    """Seconds of a loop nest's innermost passes: `elems` elements in passes of `inner`, each
    element reading or writing `arrays` arrays. A short pass (inner < SHORT_ROW) is scalar code
    at fused_access per element access (measured on rows of 2); a longer one vectorizes, and
    pays for its start what the probe's pass of 2 costs (PROBE_PASS accesses)."""
    passes = elems // max(inner, 1)
    per_pass = inner * arrays if inner < SHORT_ROW else PROBE_PASS
    return passes * per_pass * r.fused_access


def basis_seconds(r, size, dtype):
    """Eagerly, jacfwd and jacrev build the identity basis of their tangents (size x size) at
    every call: np.eye, then a copy into the zeroed block; large ones are fresh memory."""
    nbytes = size * size * np.dtype(dtype).itemsize
    if nbytes <= SMALL_BASIS:
        return 0.0, ""                  # part of the calibrated fixed cost
    fresh = 2 * nbytes * r.fault_byte if nbytes > FRESH_BYTES else 0.0
    t, how = _stream(r, 2 * nbytes)
    return t + fresh, f"{size}x{size} identity: {how}" + (" + page faults" if fresh else "")


def _eager_terms(r, closed, per_eqn, execution="eager", loop=0.0):
    """Per equation: the interpreters' dispatch plus the impl's own fixed cost (overhead), and
    the work that grows with the operands."""
    terms = []
    for eqn in closed.eqns:
        kind = cost_kind(eqn.primitive)
        cost = equation_cost(eqn)
        work, how = _numpy_work(r, eqn, kind, cost, execution)
        if kind not in ("view", "control_flow", "call"):
            faults = _fresh(r, [v.aval for v in eqn.outputs])
            if faults:
                work += faults
                how += " + page faults of a fresh output"
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
    return _planned(closed)[1]


_plans = weakref.WeakKeyDictionary()      # ClosedProgram -> (flattened program, steps)


def _planned(closed):
    """The flattened program and jit's plan of it (kept while the program lives: a decision
    and the calibration's fits cost the same program several times)."""
    planned = _plans.get(closed)
    if planned is None:
        program, _ = flatten(closed)
        steps, _ = plan(program)
        planned = _plans[closed] = (program, steps)
    return planned


def _kernel_term(r, step):
    group = step.group
    elems = math.prod(group.shape)
    inner = group.shape[-1] if group.shape else 1
    per_elem, names = 0.0, []
    for m in group.members:
        names.append(m.eqn.primitive.name)
        if m.kind == "reduce" or cost_kind(m.eqn.primitive) == "reduction":
            # a chain of dependent adds: latency, not SIMD; in short innermost passes the
            # chains are short and independent (the CPU overlaps them), counted per access
            per_elem += r.fused_reduce if inner >= SHORT_ROW else r.fused_elem
        elif cost_kind(m.eqn.primitive) == "transcendental":
            per_elem += r.fused_transc
        elif cost_kind(m.eqn.primitive) == "divide":
            per_elem += r.fused_div         # a division's throughput, not a product's
        elif cost_kind(m.eqn.primitive) not in ("view", "copy"):   # an index map
            per_elem += r.fused_elem
    produced = {id(v) for m in group.members for v in m.eqn.outputs}
    sources = {id(rd.source): rd.source for m in group.members for rd in m.reads
               if isinstance(rd.source, Var) and id(rd.source) not in produced}
    moved = sum(_nbytes(v.aval) for v in sources.values()) + \
        sum(_nbytes(v.aval) for v in group.outputs)
    passes = elems // max(inner, 1)           # starts of the innermost loop
    # arrays each element reads or writes (a reduction's result is written once per pass)
    arrays = len(sources) + sum(_size(v.aval) == elems for v in group.outputs)
    compute = elems * per_elem + _short_rows(r, elems, inner, arrays)
    memory, how = _stream(r, moved)
    if compute >= memory:
        how = f"{elems} elements x {per_elem * 1e9:.2g} ns + {passes} rows of {inner} x " \
            f"{arrays} arrays"
    cost = sum((equation_cost(m.eqn) for m in group.members), Cost(0.0, 0.0))
    label = f"kernel[{', '.join(names)}] over {tuple(group.shape)}"
    faults = _fresh(r, [v.aval for v in group.outputs])
    return Term(label, "fused", cost.flops, cost.bytes, r.jit_step,
                max(compute, memory) + faults, how)


def _jit_terms(r, closed, in_loop=False, layout=None):
    """One Term per step jit runs for `closed`: in the Python driver, or (in_loop) as a
    statement of a loop compiled as one njit function. `layout`, a dict, receives the
    flattened program's outputs ("outvars") and the values written into buffers ("fresh")."""
    terms = []
    strided = set()          # Vars whose elements are not in row-major order in memory
    fresh = set()            # Vars a step wrote into a buffer of its own (kernels, products)
    program, steps = _planned(closed)
    if layout is not None:
        layout.update(outvars=program.outvars, fresh=fresh, strided=strided)
    for step in steps:
        if step.kind == "kernel":
            terms.append(_kernel_term(r, step))
            fresh.update(step.group.outputs)
            continue
        eqn = step.eqn
        kind = cost_kind(eqn.primitive)
        cost = equation_cost(eqn)
        if step.kind == "view":
            copied = _view_layout(step, strided)
            if copied and in_loop:
                work = _loop_gather(r, copied) + _loop_alloc(r, copied)
                how = f"reshape of a strided view: a copy of {_nbytes(copied):.3g} B"
            elif copied:
                work, how = _stream(r, 2 * _nbytes(copied), r.copy_bw,
                                    "reshape of a strided view: copy ")
            else:
                work, how = 0.0, "a numpy view" + ("" if in_loop else " in the driver")
            terms.append(Term(_eqn_label(eqn), "view", 0.0, 0.0, r.jit_step / 2, work, how))
            continue
        if step.kind == "scalar":
            terms.append(Term(_eqn_label(eqn), kind, cost.flops, cost.bytes, r.jit_step, 0.0,
                              "a Python scalar operation"))
            continue
        if step.kind == "ufunc":
            kind = "transcendental"
        if kind == "blas":
            work, how = _gemm_work(r, eqn, call=True)
            work += _fresh(r, [v.aval for v in eqn.outputs])
            if in_loop:
                extra, allocs = _loop_product_copies(r, eqn, strided)
                work += extra + allocs
                if eqn.outputs[0].aval.ndim == 2:
                    fresh.add(eqn.outputs[0])
                if extra:
                    how += f" + operand copy {extra * 1e6:.3g} us"
        else:
            work, how = _numpy_work(r, eqn, kind, cost, "jit")
            if step.kind == "reduce":            # the driver calls numpy's reduction
                work += r.reduce_call
                how += " + numpy's call"
            if kind != "control_flow":
                work += _fresh(r, [v.aval for v in eqn.outputs])
            if kind == "control_flow" and compiled_loop(eqn):
                # calling the njit loop from the driver (Numba's dispatch on its arguments,
                # the loop's set-up and its outputs' allocation): loop_call, fitted on a probe
                work += r.loop_call
                how += " + its call"
                # the compiled loop takes C-contiguous operands: strided ones are copied
                moved = sum(_nbytes(a.aval) for a in eqn.inputs
                            if isinstance(a, Var) and a in strided)
                if moved:
                    t, _ = _stream(r, 2 * moved, r.copy_bw)
                    work += t
                    how += f" + copy {moved:.3g} B of strided operands"
        terms.append(Term(_eqn_label(eqn), kind, cost.flops, cost.bytes, r.jit_step, work, how))
    return terms


def _view_layout(step, strided):
    """Track which values are strided views (a transpose, a broadcast, a slice) and return the
    aval a view step copies, if it does (numpy reshapes a strided view by copying it)."""
    eqn = step.eqn
    x, out = eqn.inputs[0], eqn.outputs[0]
    xa = x.aval
    x_strided = isinstance(x, Var) and x in strided
    keeps_order = view_moves_no_data(step.rule, xa, out.aval, eqn.params)
    if getattr(step.rule, "reshape", False):
        if x_strided and not keeps_order and xa.ndim and out.aval.size > 1:
            return out.aval                    # a copy: contiguous from here on
        if x_strided:
            strided.add(out)
        return None
    if (x_strided or not keeps_order) and out.aval.ndim and out.aval.size > 1:
        strided.add(out)
    return None


def _loop_product_copies(r, eqn, strided):
    """(seconds of copies, seconds of allocations) of a matrix product inside a compiled
    loop: BLAS takes a contiguous 2-D operand or a transposed matrix in place; any other
    operand is gathered into a fresh array (np.ascontiguousarray of a view Numba types as
    strided), and a product whose result is not a 2-D matrix allocates it."""
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    copied, allocs = 0, 0
    for a, contracting, first in ((eqn.inputs[0], lc, False), (eqn.inputs[1], rc, True)):
        aval = a.aval
        free = [d for d in range(aval.ndim) if d not in contracting]
        order = list(contracting) + free if first else free + list(contracting)
        contiguous = not (isinstance(a, Var) and a in strided)
        in_place = order == sorted(order) and contiguous
        transposed = aval.ndim == 2 and order == [1, 0] and contiguous
        if not (in_place or transposed):
            copied += _loop_gather(r, aval)
            allocs += _loop_alloc(r, aval)
    out = eqn.outputs[0].aval
    if out.ndim != 2:
        allocs += _loop_alloc(r, out)
    return copied, allocs


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
