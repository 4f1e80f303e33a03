"""Jacobian sparsity detection: which inputs each output element depends on, read off the program.

Every value in the program carries its *dependence pattern*: a boolean scipy.sparse CSR matrix of
shape (value.size, N), row r holding the set of the N (flattened) differentiated inputs that
element r of the value depends on. The differentiated inputs start as rows of the identity;
constants and non-differentiated arguments start empty. Each primitive's sparsity rule (declared
beside its other rules with `Primitive.def_sparsity`) maps its operands' patterns to its outputs'
patterns, and the pattern of the program's outputs *is* the sparsity pattern of the Jacobian.

Rules are built from a handful of shapes of dependence, all of them sparse matrix products or
row selections, so propagation costs about the number of nonzeros:

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

from .. import tree_util
from ..core.ir import Literal
from ..core.trace import get_aval
from ..primitives._sparsity_rules import (Deps, any_row, as_csr, broadcast_rows, dense, empty,
                                          is_float, scipy_sparse, stack, union)

# --- the interpreter ------------------------------------------------------------------------------

def _known_value(eqn, values):
    """Evaluate an equation whose operands are all known constants (constant folding)."""
    prim = eqn.primitive
    if not eqn.outputs:       # an effect (a debug callback): never run it while detecting
        return None
    try:
        if prim.name == "jit":      # interpret the called program: no Numba compile for this
            from ..core.staging import eval_closed
            return list(eval_closed(eqn.params["program"], *values))
        with np.errstate(all="ignore"):
            out = prim.impl(*values, **eqn.params)
    except Exception:   # a value we cannot fold stays unknown: rules then treat it as traced
        return None
    return list(out) if prim.multiple_results else [out]


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
    from ..core.primitive import registry
    return sorted(name for name, p in registry.items()
                  if p.sparsity is None or not p.sparsity_exact)


# --- sub-programs (rules of control flow, jit and custom derivatives use these) -----------------

def program_deps(closed, ins, n):
    """Patterns of closed's outputs given Deps of its inputs (for rules of call primitives)."""
    return [d.pattern for d in _propagate(closed, ins, n)]


def callable_deps(fun, ins, n):
    """Patterns of fun(list_of_arrays)'s outputs: trace it at the operands' avals first (the
    custom_jvp/custom_vjp/checkpoint primitives hold the primal function, not a program)."""
    from ..core.staging import make_jaxpr
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


# --- public API -----------------------------------------------------------------------------------

def _argnums(argnums, nargs, name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{name}: argnums {argnums} out of range for {nargs} arguments")
    return tuple(i % nargs for i in nums)


def _value_key(x):
    """A hashable stand-in for a non-differentiated argument's value (patterns may depend on it,
    e.g. an index array)."""
    import hashlib
    if isinstance(x, (int, float, bool, complex, str, type(None))):
        return (type(x).__name__, x)
    a = np.asarray(x)
    return (a.shape, a.dtype.str, hashlib.blake2b(np.ascontiguousarray(a).tobytes(),
                                                  digest_size=16).hexdigest())


def signature_key(args, nums):
    leaves, tree = tree_util.tree_flatten(args)
    return (tree, tuple(nums), tuple(
        (get_aval(x).shape, get_aval(x).dtype) for x in tree_util.tree_leaves(
            [args[i] for i in nums])),
        tuple(_value_key(x) for i, a in enumerate(args) if i not in nums
              for x in tree_util.tree_leaves(a)))


def flat_program(fun, args, nums, name):
    """Trace fun with the differentiated arguments as inputs (the others closed over, as jacfwd
    does): (closed program, input leaves, output tree)."""
    from ..core.staging import make_jaxpr
    from .ad_util import check_inexact_inputs
    dargs = [args[i] for i in nums]
    in_leaves, in_tree = tree_util.tree_flatten(dargs)
    check_inexact_inputs(name, in_leaves, allow_int=False)
    out_tree = []

    def flat(*leaves):
        full = list(args)
        for i, d in zip(nums, tree_util.tree_unflatten(in_tree, list(leaves))):
            full[i] = d
        out = fun(*full)
        out_leaves, tree = tree_util.tree_flatten(out)
        out_tree.append(tree)
        return out_leaves
    closed = make_jaxpr(flat)(*in_leaves)
    return closed, in_leaves, out_tree[0]


def input_deps(in_leaves):
    """Deps of the differentiated inputs: consecutive rows of the N x N identity."""
    sp = scipy_sparse()
    avals = [get_aval(x) for x in in_leaves]
    n = sum(a.size for a in avals)
    out, offset = [], 0
    for a in avals:
        rows = np.arange(a.size)
        p = sp.csr_array((np.ones(a.size, bool), (rows, rows + offset)), shape=(a.size, n))
        out.append(Deps(a.strip_weak() if hasattr(a, "strip_weak") else a, as_csr(p)))
        offset += a.size
    return out


def pattern_of(closed, in_leaves):
    outs = propagate(closed, input_deps(in_leaves))
    n = sum(get_aval(x).size for x in in_leaves)
    return stack([d.pattern for d in outs], n)


def jacobian_sparsity(fun, argnums=0):
    """jacobian_sparsity(f, argnums)(*args): the sparsity pattern of f's Jacobian at args'
    shapes, as a boolean scipy.sparse.csr_array of shape (output size, input size), the outputs'
    and the differentiated inputs' leaves flattened row-major and concatenated in pytree order.
    The pattern is found from f's program, is valid for every input value (a superset of the
    nonzeros at any point), and is cached per signature."""
    cache = {}

    def sparsity_fun(*args):
        nums = _argnums(argnums, len(args), "jacobian_sparsity")
        key = signature_key(args, nums)
        if key not in cache:
            closed, in_leaves, _ = flat_program(fun, args, nums, "jacobian_sparsity")
            cache[key] = pattern_of(closed, in_leaves)
        return cache[key].copy()

    sparsity_fun.__name__ = f"jacobian_sparsity({getattr(fun, '__name__', 'fun')})"
    return sparsity_fun


def hessian_sparsity(fun, argnums=0):
    """hessian_sparsity(f, argnums)(*args): the pattern of f's Hessian (f scalar-valued), found
    as the Jacobian sparsity of f's gradient program (symmetrized)."""
    from .reverse import grad

    def sparsity_fun(*args):
        nums = _argnums(argnums, len(args), "hessian_sparsity")
        p = jacobian_sparsity(grad(fun, argnums=nums), argnums=nums)(*args)
        return as_csr(p + p.T)

    sparsity_fun.__name__ = f"hessian_sparsity({getattr(fun, '__name__', 'fun')})"
    return sparsity_fun
