"""Jacobian sparsity detection: which inputs each output element depends on, read off the program.

Every value in the program carries its *dependence pattern*: a boolean scipy.sparse CSR matrix of
shape (value.size, N), row r holding the set of the N (flattened) differentiated inputs that
element r of the value depends on. The differentiated inputs start as rows of the identity;
constants and non-differentiated arguments start empty. Each primitive's sparsity rule (declared
beside its other rules with `Primitive.def_sparsity`) maps its operands' patterns to its outputs'
patterns, and the pattern of the program's outputs *is* the sparsity pattern of the Jacobian.

This module is the interpreter; the public jacobian_sparsity / hessian_sparsity are in
sparsity_detection.py. Rules are built (primitives/_sparsity_rules.py) from a handful of shapes
of dependence, all of them sparse matrix products or row selections, so propagation costs about
the number of nonzeros:

  elementwise  output element k depends on element k of each operand (union; rank 0 broadcasts)
  selection    output element k *is* one operand element (or none): reshape, transpose, slice,
               broadcast, pad, concatenate, gather/scatter with known indices ... computed by
               running the primitive's own impl on arrays of (1-based) element numbers
  groups       output element k depends on a group of one operand's elements (reductions)
  local        any other structure, as a local Jacobian pattern L: out = L @ in
  dense        the conservative fallback: every output depends on everything any operand does

Values that depend only on constants are also computed (constant folding), so that indices that
are constants in the program give exact gather/scatter/dynamic_slice patterns. Integer and bool
values carry empty patterns: their tangents are zero by definition.

The result is a *global* pattern (valid for every input value): a data-dependent choice (select,
max, sort, a loop's trip count) counts every operand that could be chosen.
"""
import numpy as np

from ..core.ir import Literal
from ..core.primitive import registry
from ..core.staging import eval_closed
from .tracing import make_jaxpr
from ..primitives._sparsity_rules import (Deps, any_row, broadcast_rows, dense, empty, is_float,
                                          union)

# --- the interpreter ------------------------------------------------------------------------------

def _known_value(eqn, values):
    """Evaluate an equation whose operands are all known constants (constant folding)."""
    prim = eqn.primitive
    if not eqn.outputs:       # an effect (a debug callback): never run it while detecting
        return None
    try:
        if prim.name == "jit":      # interpret the called program: no Numba compile for this
            return list(eval_closed(eqn.params["program"], *values))
        with np.errstate(all="ignore"):
            out = prim.impl(*values, **eqn.params)
    except Exception:   # a value we cannot fold stays unknown: rules then treat it as traced
        return None
    return prim.as_list(out)


def _literal_deps(lit, n):
    return Deps(lit.aval, empty(lit.aval.size, n), np.asarray(lit.value))


def propagate(closed, ins):
    """Dependence patterns of closed's outputs from those of its inputs (a list of Deps)."""
    n = ins[0].n_inputs if ins else 0
    return _propagate(closed, ins, n)


def _propagate(closed, ins, n):
    prog = closed.program
    env = {}
    for v, c in zip(prog.constvars, closed.consts):
        env[v] = Deps(v.aval, empty(v.aval.size, n), np.asarray(c))
    for v, d in zip(prog.invars, ins):
        env[v] = d

    def read(a):
        return _literal_deps(a, n) if isinstance(a, Literal) else env[a]

    for eqn in prog.eqns:
        in_deps = [read(a) for a in eqn.inputs]
        out_avals = [v.aval for v in eqn.outputs]
        outs = equation_deps(eqn, in_deps, out_avals, n)
        for v, d in zip(eqn.outputs, outs):
            env[v] = d
    return [read(a) for a in prog.outvars]


def equation_deps(eqn, in_deps, out_avals, n):
    prim = eqn.primitive
    if all(d.pattern.nnz == 0 for d in in_deps):
        values = None
        if all(d.value is not None for d in in_deps):
            values = _known_value(eqn, [d.value for d in in_deps])
        return [Deps(a, empty(a.size, n), None if values is None else np.asarray(v))
                for a, v in zip(out_avals, values or [None] * len(out_avals))]
    rule = prim.sparsity if prim.sparsity is not None else dense
    if in_deps:
        pats = rule(in_deps, out_avals, **eqn.params)
    else:
        pats = [empty(a.size, n) for a in out_avals]
    outs = []
    for a, p in zip(out_avals, pats):
        if not is_float(a):
            p = empty(a.size, n)
        elif p.shape != (a.size, n):
            raise AssertionError(f"sparsity rule of {prim.name} returned a {p.shape} pattern for "
                                 f"an output of {a.size} elements and {n} inputs")
        outs.append(Deps(a, p, None))
    return outs


def conservative_primitives():
    """Names of registered primitives whose sparsity is a superset (no rule, or a rule declared
    exact=False): their whole affected block counts as dense."""
    return sorted(name for name, p in registry.items()
                  if p.sparsity is None or not p.sparsity_exact)


# --- sub-programs (rules of control flow, jit and custom derivatives use these) -----------------

def program_deps(closed, ins, n):
    """Patterns of closed's outputs given Deps of its inputs (for rules of call primitives)."""
    return [d.pattern for d in _propagate(closed, ins, n)]


def callable_deps(fun, ins, n):
    """Patterns of fun(list_of_arrays)'s outputs: trace it at the operands' avals first (the
    custom_jvp/custom_vjp/checkpoint primitives hold the primal function, not a program)."""
    closed = make_jaxpr(lambda *a: fun(list(a)))(*[np.zeros(d.aval.shape, d.aval.dtype)
                                                     for d in ins])
    return program_deps(closed, ins, n)


# Rounds of a loop's fixed point before it saturates (a dependence that spreads one step per
# iteration, as a stencil applied in a loop, would otherwise take as many rounds as elements).
FIXED_POINT_ROUNDS = 64


def fixed_point(step, carry, n, inflow=()):
    """Iterate carry <- carry ∪ step(carry) until no pattern grows (loops' carries). After
    FIXED_POINT_ROUNDS rounds, saturate: every carry element depends on everything that flows
    into the loop (`inflow`: the patterns of its other operands) or its carry, which is a fixed
    point because no rule makes an output depend on more than its operands do."""
    for _ in range(FIXED_POINT_ROUNDS):
        new = step(carry)
        grown = [union([c, s], c.shape[0], n) for c, s in zip(carry, new)]
        if all(g.nnz == c.nnz for g, c in zip(grown, carry)):
            return grown
        carry = grown
    row = any_row(list(carry) + list(inflow), n)
    return [broadcast_rows(row, c.shape[0]) for c in carry]
