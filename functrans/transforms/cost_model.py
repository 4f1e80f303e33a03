"""Forward or reverse? A cost model on the IR, the decision it implies, and reports.

For f: R^n -> R^m with program P, linearize gives the linear program L (one JVP's worth of
tangent work, with P's residuals as constants) and transposing L gives L^T (one VJP). Then

    forward (jacfwd):  cost(P) + n * cost(L)      memory: n tangents of every live value
    reverse (jacrev):  cost(P) + m * cost(L^T)    memory: residuals of L (kept for the
                                                  backward pass) + m cotangents

where cost = FLOPs and bytes moved, summed over equations from each primitive's cost rule.
Under vmap the n (or m) JVPs (VJPs) run as one batched program, so this counts total work, not
Python calls. The model turns FLOPs and bytes into a time estimate with a roofline:
time = max(flops / PEAK_FLOPS, bytes / BANDWIDTH) per equation; "auto" picks the smaller
estimate. The constants are rough figures for one core of the machines we run on; only
their ratio matters for the choice.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from .. import tree_util
from ..core.ir import ClosedProgram, Literal
from ..core.primitive import Cost
from ..core.staging import make_jaxpr
from ..core.trace import get_aval

PEAK_FLOPS = 2e10        # FLOP/s: one core, vectorized, BLAS-bound work
BANDWIDTH = 1e10         # bytes/s: streaming through cache/memory


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


def estimated_seconds(closed) -> float:
    total = 0.0
    for eqn in closed.eqns:
        c = equation_cost(eqn)
        total += max(c.flops / PEAK_FLOPS, c.bytes / BANDWIDTH)
    return total


@dataclass
class ModeEstimate:
    flops: float
    bytes: float
    seconds: float
    residual_bytes: int
    passes: int            # number of JVPs (forward) or VJPs (reverse) in the full Jacobian


@dataclass
class ModeDecision:
    mode: str                       # "fwd" or "rev"
    reason: str
    n_inputs: int
    n_outputs: int
    forward: ModeEstimate
    reverse: ModeEstimate
    measured: dict = field(default_factory=dict)    # mode -> median seconds, when measured

    def __str__(self):
        return format_decision(self)


def _sizes(leaves):
    return sum(get_aval(x).size for x in leaves)


def _programs(fun, args):
    """Primal, linear and transposed-linear programs of fun at args (flat)."""
    from .linearize import linearize
    primal = make_jaxpr(fun)(*args)
    out, lin = linearize(fun, *args)
    out_leaves = tree_util.tree_leaves(out)
    lin_prog = lin.program
    cts = [np.zeros(get_aval(o).shape, get_aval(o).dtype) for o in out_leaves]
    transposed = make_jaxpr(lambda *c: lin.T(tree_util.tree_unflatten(lin.out_tree, list(c))))(
        *cts)
    return primal, lin_prog, transposed, out_leaves


def choose_mode(fun, *args) -> ModeDecision:
    """Estimate both ways of building fun's full Jacobian at args and pick the cheaper one."""
    primal, lin, lin_t, out_leaves = _programs(fun, args)
    n = _sizes(tree_util.tree_leaves(args))
    m = _sizes(out_leaves)
    p_cost, l_cost, t_cost = program_cost(primal), program_cost(lin), program_cost(lin_t)
    p_sec, l_sec, t_sec = estimated_seconds(primal), estimated_seconds(lin), \
        estimated_seconds(lin_t)
    residual_bytes = int(sum(np.asarray(getattr(c, "nbytes", 0)) for c in lin.consts))
    fwd = ModeEstimate(p_cost.flops + n * l_cost.flops, p_cost.bytes + n * l_cost.bytes,
                       p_sec + n * l_sec, 0, n)
    rev = ModeEstimate(p_cost.flops + m * t_cost.flops, p_cost.bytes + m * t_cost.bytes,
                       p_sec + m * t_sec, residual_bytes, m)
    mode = "fwd" if fwd.seconds <= rev.seconds else "rev"
    if mode == "fwd":
        reason = (f"forward mode: {n} JVP(s) (one per input) cost about {fwd.seconds / max(rev.seconds, 1e-30):.2g}x "
                  f"the {m} VJP(s) (one per output) of reverse mode, and keep no residuals")
    else:
        reason = (f"reverse mode: {m} VJP(s) (one per output) cost about "
                  f"{rev.seconds / max(fwd.seconds, 1e-30):.2g}x the {n} JVP(s) (one per input) "
                  f"of forward mode, at the price of {residual_bytes} bytes of residuals")
    return ModeDecision(mode, reason, n, m, fwd, rev)


def _median_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def compare_modes(fun, *args, repeats=5, measure=True) -> ModeDecision:
    """The cost report: sizes, estimated FLOPs/bytes/residual memory of forward and reverse
    accumulation of fun's Jacobian at args, measured times of jacfwd and jacrev (median of
    `repeats`), and which is cheaper and why. Print it."""
    from .jacobians import jacfwd, jacrev
    decision = choose_mode(fun, *args)
    if measure:
        argnums = tuple(range(len(args)))
        decision.measured = {
            "fwd": _median_time(lambda: jacfwd(fun, argnums)(*args), repeats),
            "rev": _median_time(lambda: jacrev(fun, argnums)(*args), repeats)}
    return decision


def format_decision(d: ModeDecision) -> str:
    def row(name, e, t):
        measured = f"{t * 1e3:10.3f} ms" if t is not None else "         -"
        return (f"  {name:8s} {e.passes:8d} {e.flops:14.4g} {e.bytes:14.4g} "
                f"{e.residual_bytes:14d} {e.seconds * 1e3:12.4f} ms {measured}")
    lines = [f"Jacobian of R^{d.n_inputs} -> R^{d.n_outputs}",
             f"  {'mode':8s} {'passes':>8s} {'FLOPs':>14s} {'bytes moved':>14s} "
             f"{'residual B':>14s} {'estimate':>15s} {'measured':>13s}",
             row("forward", d.forward, d.measured.get("fwd")),
             row("reverse", d.reverse, d.measured.get("rev")),
             f"choice: {d.mode} ({d.reason})"]
    if d.measured:
        faster = min(d.measured, key=d.measured.get)
        lines.append(f"measured: {faster} was faster "
                     f"({max(d.measured.values()) / max(min(d.measured.values()), 1e-12):.2f}x)")
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


@dataclass
class ChainReport:
    program: ClosedProgram
    steps: list

    def __str__(self):
        lines = [f"{'#':>3s}  {'equation':44s} {'local Jacobian':20s} {'structure':30s} "
                 f"{'FLOPs':>10s}"]
        for s in self.steps:
            eq = f"{s.primitive}({', '.join(s.in_shapes)}) -> {', '.join(s.out_shapes)}"
            jac = ", ".join(f"{o}x{i}" for o, i in s.jacobian_shapes) or "-"
            lines.append(f"{s.index:3d}  {eq:44.44s} {jac:20.20s} {s.structure:30.30s} "
                         f"{s.flops:10.4g}")
        lines.append("J = J_k ... J_1: forward mode multiplies from the right (J_1 first), "
                     "reverse mode from the left (J_k first).")
        return "\n".join(lines)

    __repr__ = __str__


def explain(fun, static_argnums=()):
    """explain(f)(*args): f's program as a chain of local Jacobians, one row per equation."""
    def report(*args):
        closed = make_jaxpr(fun, static_argnums=static_argnums)(*args)
        steps = []
        for i, eqn in enumerate(closed.eqns):
            ins = [a for a in eqn.inputs if not isinstance(a, Literal)]
            cost = equation_cost(eqn)
            steps.append(JacobianStep(
                i, eqn.primitive.name, [a.aval.str_short() for a in eqn.inputs],
                [v.aval.str_short() for v in eqn.outputs],
                [(o.aval.size, a.aval.size) for o in eqn.outputs for a in ins
                 if a.aval.dtype.kind in "fc" and o.aval.dtype.kind in "fc"],
                eqn.primitive.jacobian, cost.flops, cost.bytes))
        return ChainReport(closed, steps)
    return report


def jacobian(fun, argnums=0, has_aux=False, mode="auto", sparsity=None):
    """The Jacobian of fun by forward mode ("fwd"), reverse mode ("rev"), or whichever the cost
    model says is cheaper ("auto"; the choice is cached per argument shapes and available as
    `jac_fun.last_decision`)."""
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
        if mode == "auto":
            key = tuple((get_aval(x).shape, get_aval(x).dtype) for x in
                        tree_util.tree_leaves(args)), tree_util.tree_structure(args)
            if key not in decisions:
                nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

                def of_diff(*d):
                    full = list(args)
                    for i, a in zip(nums, d):
                        full[i] = a
                    out = fun(*full)
                    return out[0] if has_aux else out
                decisions[key] = choose_mode(of_diff, *[args[i] for i in nums])
            jac_fun.last_decision = decisions[key]
            chosen = decisions[key].mode
        return (jacfwd if chosen == "fwd" else jacrev)(fun, argnums, has_aux)(*args)

    jac_fun.last_decision = None
    jac_fun.__name__ = f"jacobian({getattr(fun, '__name__', 'fun')})"
    return jac_fun
