"""Chain accumulation: the Jacobian of f = f_K o ... o f_1 in the cheapest bracketing.

A *cut point* of a program is a value through which everything flows: after some equation, the
only live value that depends on the input. Consecutive cut points c_0 = x, c_1, ..., c_K = y
split f into segments with Jacobians J_K ... J_1 (J_i of size |c_i| x |c_{i-1}|). Pure forward
mode pushes |x| tangents through all of them, pure reverse mode |y| cotangents; when a narrow
cut sits in the middle (200 -> 2000 -> 10 -> 2000 -> 200) both are far from the best.

For every pair of cuts a < b, a dynamic program (the matrix-chain DP, widened) finds the
cheapest way to get J(a, b):
  fwd          push |c_a| tangents through the segments a..b (vmap of the JVP)
  rev          pull |c_b| cotangents back through them (vmap of the VJP)
  split at k   J(k, b) @ J(a, k), a matrix product of |c_b| x |c_k| x |c_a|
  push at k    J(a, k) first, then its |c_a| columns forward through k..b (or J(k, b) first,
               then its |c_b| rows back through a..k)
Costs come from the primitives' cost rules, per equation: a batch of c tangents costs
max(c * FLOPs / PEAK, (constant bytes + c * varying bytes) / BANDWIDTH) plus a fixed dispatch
overhead: a weight matrix is read once per batch, not once per tangent, which is why pushing a
block of tangents through a dot is a matrix product.
"""
from dataclasses import dataclass, field

import numpy as np

from .. import tree_util
from ..core.ir import Literal, Var
from ..core.trace import is_eager
from ..primitives._program_cost import equation_cost
from .forward import jvp
from .jacobians import jacfwd, jacrev
from .reverse import vjp
from .sparse_jacobian import _flat_function
from .sparsity_detection import _argnums, signature_key
from .tracing import eval_shape, make_jaxpr
from .vmap import vmap

PEAK_FLOPS = 2e10        # FLOP/s: BLAS-bound work on one core (only ratios matter)
BANDWIDTH = 1e10         # bytes/s
DISPATCH = 1e-5          # seconds per equation per batched pass (eager interpretation)
MAX_CUTS = 40            # candidates kept for the O(K^3) DP (narrowest first)


@dataclass
class Cut:
    position: int            # after equation `position` (-1: the input)
    var: object
    size: int
    label: str


@dataclass
class ChainPlan:
    cuts: list
    steps: object            # nested tuples: ("fwd"|"rev", a, b) | ("split"|"pushf"|"pushb", a, k, b)
    seconds: float
    fwd_seconds: float
    rev_seconds: float
    n_inputs: int
    n_outputs: int
    measured: dict = field(default_factory=dict)

    def expression(self, step=None):
        step = self.steps if step is None else step
        kind = step[0]
        if kind in ("fwd", "rev"):
            return f"{kind}[{step[1]}..{step[2]}]"
        a, k, b = step[1:]
        left, right = self._sub(k, b), self._sub(a, k)
        if kind == "split":
            return f"({left} @ {right})"
        if kind == "pushf":
            return f"jvp[{k}..{b}]({right})"
        return f"vjp[{a}..{k}]({left})"

    def _sub(self, a, b):
        return self.expression(self._table[(a, b)])

    def __str__(self):
        lines = [f"Jacobian of R^{self.n_inputs} -> R^{self.n_outputs} as a chain of "
                 f"{len(self.cuts) - 1} segment(s); cut points:"]
        for i, c in enumerate(self.cuts):
            lines.append(f"  c{i}: {c.label:40.40s} size {c.size}")
        lines.append(f"bracketing: {self.expression()}")
        lines.append(f"estimated: chain {self.seconds * 1e3:.4g} ms, pure forward "
                     f"{self.fwd_seconds * 1e3:.4g} ms, pure reverse {self.rev_seconds * 1e3:.4g} ms")
        for k, v in self.measured.items():
            lines.append(f"measured {k}: {v * 1e3:.4g} ms")
        return "\n".join(lines)

    __repr__ = __str__


# --- finding the cuts -----------------------------------------------------------------------------

def _dependent(prog):
    dep = set(prog.invars)
    for eqn in prog.eqns:
        if any(isinstance(a, Var) and a in dep for a in eqn.inputs):
            dep.update(eqn.outputs)
    return dep


def find_cuts(closed):
    """Cut points of a one-input, one-output program: positions after which exactly one float
    value that depends on the input is still needed."""
    prog = closed.program
    dep = _dependent(prog)
    (x,), (y,) = prog.invars, prog.outvars
    last_use = {}
    for i, eqn in enumerate(prog.eqns):
        for a in eqn.inputs:
            if isinstance(a, Var):
                last_use[a] = i
    end = len(prog.eqns)
    if isinstance(y, Var):
        last_use[y] = end
    cuts = [Cut(-1, x, x.aval.size, f"input {x.aval.str_short()}")]
    live = {x} if last_use.get(x, -1) >= 0 else set()
    for i, eqn in enumerate(prog.eqns):
        for v in eqn.outputs:
            if v in dep and last_use.get(v, -1) > i:
                live.add(v)
        live = {v for v in live if last_use.get(v, -1) > i}
        if len(live) == 1 and i < end - 1:
            (v,) = live
            if v.aval.dtype.kind in "fc" and v is not cuts[-1].var:
                cuts.append(Cut(i, v, v.aval.size,
                                f"after {eqn.primitive.name} -> {v.aval.str_short()}"))
    if isinstance(y, Var) and y in dep:
        if y is cuts[-1].var:
            cuts[-1].label = f"output {y.aval.str_short()}"
        else:
            cuts.append(Cut(end - 1, y, y.aval.size, f"output {y.aval.str_short()}"))
    return cuts


def _thin(cuts):
    """At most MAX_CUTS cut points: the ends and the narrowest of the rest (order kept)."""
    if len(cuts) <= MAX_CUTS:
        return cuts
    inner = sorted(range(1, len(cuts) - 1), key=lambda i: (cuts[i].size, i))[:MAX_CUTS - 2]
    return [cuts[0]] + [cuts[i] for i in sorted(inner)] + [cuts[-1]]


# --- costs -----------------------------------------------------------------------------------------

def _equation_terms(eqn, dep):
    """(FLOPs, constant bytes, varying bytes) of one equation per tangent."""
    c = equation_cost(eqn)
    varying = sum(a.aval.size * a.aval.dtype.itemsize for a in (*eqn.inputs, *eqn.outputs)
                  if not isinstance(a, Literal) and a in dep)
    constant = max(c.bytes - varying, 0.0)
    return c.flops, constant, float(varying)


def _segment_tables(closed, cuts, dep):
    """Per elementary segment (between consecutive cuts) the arrays of per-equation terms."""
    prog = closed.program
    tables = []
    for a, b in zip(cuts, cuts[1:]):
        eqns = [e for e in prog.eqns[a.position + 1:b.position + 1]
                if any(v in dep for v in e.outputs)]
        terms = np.array([_equation_terms(e, dep) for e in eqns]).reshape(-1, 3)
        tables.append((terms, eqns))
    return tables


def _batch_seconds(terms, c):
    if not len(terms):
        return 0.0
    f, const, var = terms[:, 0], terms[:, 1], terms[:, 2]
    return float(np.sum(np.maximum(c * f / PEAK_FLOPS, (const + c * var) / BANDWIDTH))
                 + DISPATCH * len(terms))


def _matmul_seconds(p, q, r):
    return max(2.0 * p * q * r / PEAK_FLOPS, 8.0 * (p * q + q * r + p * r) / BANDWIDTH) + DISPATCH


def plan_chain(closed):
    cuts = _thin(find_cuts(closed))
    dep = _dependent(closed.program)
    tables = _segment_tables(closed, cuts, dep)
    sizes = [c.size for c in cuts]
    k_cuts = len(cuts)
    widths = sorted(set(sizes))
    # seg[c][i]: seconds of a batch of width c through elementary segment i; prefix sums.
    prefix = {}
    for w in widths:
        per = [_batch_seconds(t, w) for t, _ in tables]
        prefix[w] = np.concatenate([[0.0], np.cumsum(per)])

    def seg(a, b, w):
        return prefix[w][b] - prefix[w][a]

    best, table = {}, {}
    for span in range(1, k_cuts):
        for a in range(0, k_cuts - span):
            b = a + span
            options = [(seg(a, b, sizes[a]), ("fwd", a, b)), (seg(a, b, sizes[b]), ("rev", a, b))]
            for k in range(a + 1, b):
                options.append((best[(a, k)] + best[(k, b)] +
                                _matmul_seconds(sizes[b], sizes[k], sizes[a]), ("split", a, k, b)))
                options.append((best[(a, k)] + seg(k, b, sizes[a]), ("pushf", a, k, b)))
                options.append((best[(k, b)] + seg(a, k, sizes[b]), ("pushb", a, k, b)))
            best[(a, b)], table[(a, b)] = min(options, key=lambda o: o[0])
    last = k_cuts - 1
    if last == 0:       # the output is the input, or does not depend on it: nothing to chain
        best[(0, 0)], table[(0, 0)] = 0.0, ("fwd", 0, 0)
    plan = ChainPlan(cuts, table[(0, last)], best[(0, last)], seg(0, last, sizes[0]),
                     seg(0, last, sizes[last]), sizes[0], sizes[last])
    plan._table = table
    plan._tables = tables
    return plan


# --- running the plan ------------------------------------------------------------------------------

def _values(closed, x):
    """Every value of the program at input x (one eager pass)."""
    prog = closed.program
    env = dict(zip(prog.constvars, closed.consts))
    env[prog.invars[0]] = x

    def read(a):
        return a.value if isinstance(a, Literal) else env[a]
    for eqn in prog.eqns:
        outs = eqn.primitive.bind(*[read(a) for a in eqn.inputs], **eqn.params)
        outs = eqn.primitive.as_list(outs)
        env.update(zip(eqn.outputs, outs))
    return env


def _segment_function(plan, env, a, b):
    """c_b as a function of c_a, the other values held at their computed values."""
    cuts = plan.cuts
    eqns = [e for t in plan._tables[a:b] for e in t[1]]
    src, dst = cuts[a].var, cuts[b].var

    def g(v):
        local = {src: v}

        def read(x):
            if isinstance(x, Literal):
                return x.value
            return local[x] if x in local else env[x]
        for eqn in eqns:
            outs = eqn.primitive.bind(*[read(x) for x in eqn.inputs], **eqn.params)
            outs = eqn.primitive.as_list(outs)
            local.update(zip(eqn.outputs, outs))
        return read(dst)
    return g


def _push_forward(plan, env, a, b, columns):
    """J(a, b) @ columns, columns of shape (|c_a|, w)."""
    g = _segment_function(plan, env, a, b)
    va = env[plan.cuts[a].var]
    shape_a = np.shape(va)
    seeds = np.asarray(columns).T.reshape((-1,) + shape_a).astype(np.asarray(va).dtype)
    out = vmap(lambda s: jvp(g, (va,), (s,))[1])(seeds)
    return np.asarray(out).reshape(seeds.shape[0], -1).T


def _pull_back(plan, env, a, b, rows):
    """rows @ J(a, b), rows of shape (w, |c_b|)."""
    g = _segment_function(plan, env, a, b)
    va, vb = env[plan.cuts[a].var], env[plan.cuts[b].var]
    _, pullback = vjp(g, va)
    seeds = np.asarray(rows).reshape((-1,) + np.shape(vb)).astype(np.asarray(vb).dtype)
    out = vmap(lambda u: pullback(u)[0])(seeds)
    return np.asarray(out).reshape(seeds.shape[0], -1)


def _run(plan, env, step):
    kind = step[0]
    if kind == "fwd":
        a, b = step[1:]
        return _push_forward(plan, env, a, b, np.eye(plan.cuts[a].size))
    if kind == "rev":
        a, b = step[1:]
        return _pull_back(plan, env, a, b, np.eye(plan.cuts[b].size))
    a, k, b = step[1:]
    if kind == "split":
        return _run(plan, env, plan._table[(k, b)]) @ _run(plan, env, plan._table[(a, k)])
    if kind == "pushf":
        return _push_forward(plan, env, k, b, _run(plan, env, plan._table[(a, k)]))
    return _pull_back(plan, env, a, k, _run(plan, env, plan._table[(k, b)]))


# --- public ---------------------------------------------------------------------------------------

def _prepare(fun, args, argnums, has_aux, name, trace=True):
    nums = _argnums(argnums, len(args), name)
    f_flat, x0, in_leaves = _flat_function(fun, args, nums, has_aux)
    closed = make_jaxpr(f_flat)(x0) if trace else None
    return f_flat, x0, in_leaves, closed, nums


def chain_jacobian(fun, argnums=0, has_aux=False):
    """The Jacobian of fun by chain accumulation (see the module docstring). One array argument
    and one array output give JAX's layout (*out_shape, *in_shape); otherwise the result is the
    (output size, input size) matrix of the flattened, concatenated leaves. The plan is made
    once per signature; `jac_fun.last_plan` shows it."""
    plans = {}

    def jac_fun(*args):
        if not is_eager():
            raise TypeError("jacobian(mode='chain') evaluates segments eagerly and cannot be "
                            "traced (inside jit, vmap or grad); use mode='fwd'/'rev'/'auto' there")
        nums = _argnums(argnums, len(args), "jacobian")
        key = signature_key(args, nums)
        _, x0, in_leaves, closed, _ = _prepare(fun, args, argnums, has_aux, "jacobian",
                                               trace=key not in plans)
        if key not in plans:      # the plan names the program's values: keep both
            shape = eval_shape(fun, *args)
            out_shapes = [o.shape for o in tree_util.tree_leaves(shape[0] if has_aux else shape)]
            plans[key] = closed, plan_chain(closed), out_shapes
        closed, plan, out_shapes = plans[key]
        jac_fun.last_plan = plan
        m = closed.out_avals[0].size
        if closed.program.outvars[0] is closed.program.invars[0]:
            jac = np.eye(m, dtype=closed.out_avals[0].dtype)
        elif len(plan.cuts) < 2:        # the output does not depend on the input
            jac = np.zeros((m, len(x0)), closed.out_avals[0].dtype)
        else:
            env = _values(closed, x0)
            jac = _run(plan, env, plan.steps)
        if len(in_leaves) == 1 and len(out_shapes) == 1:
            jac = jac.reshape(tuple(out_shapes[0]) + np.shape(in_leaves[0]))
        return (jac, fun(*args)[1]) if has_aux else jac

    jac_fun.last_plan = None
    jac_fun.__name__ = f"jacobian({getattr(fun, '__name__', 'fun')}, chain)"
    return jac_fun


def explain_chain(fun, argnums=0, has_aux=False, measure=False, repeats=3):
    """explain_chain(f)(*args): f's program as a chain of cut points, the bracketing the DP
    chose, and its estimated cost beside pure forward and pure reverse accumulation; with
    measure=True also the measured times (medians of `repeats`) of the three."""
    def report(*args):
        *_, closed, _ = _prepare(fun, args, argnums, has_aux, "explain_chain")
        plan = plan_chain(closed)
        if measure:
            import time
            runs = {"chain": chain_jacobian(fun, argnums, has_aux),
                    "forward": jacfwd(fun, argnums, has_aux),
                    "reverse": jacrev(fun, argnums, has_aux)}
            for name, run in runs.items():
                run(*args)         # the chain plan and any compile happen once, untimed
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    run(*args)
                    times.append(time.perf_counter() - t0)
                plan.measured[name] = float(np.median(times))
        return plan
    return report
