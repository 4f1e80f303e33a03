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
from dataclasses import dataclass

import numpy as np

from .. import tree_util
from ..core.ir import ClosedProgram, Literal
from ..core.trace import get_aval

# A rule that would build more than this many (row, column) pairs of a local Jacobian falls back
# to the dense block instead (still a superset, never a miss).
MAX_LOCAL_NNZ = 50_000_000


def _sp():
    import scipy.sparse as sp
    return sp


@dataclass
class Deps:
    """What sparsity rules see of one operand: its aval, its dependence pattern (CSR bool,
    (size, N)) and its value when it is a known constant (else None)."""
    aval: object
    pattern: object
    value: object = None

    @property
    def n_inputs(self):
        return self.pattern.shape[1]


def empty(size, n):
    sp = _sp()
    return sp.csr_array((np.zeros(0, bool), np.zeros(0, np.int32), np.zeros(size + 1, np.int64)),
                        shape=(size, n))


def _csr(p):
    sp = _sp()
    p = sp.csr_array(p)
    if p.dtype != np.bool_:
        p = p.astype(bool)
    p.sum_duplicates()
    return p


def union(patterns, size, n):
    """Elementwise union of patterns of equal shape."""
    out = None
    for p in patterns:
        if p.nnz == 0:
            continue
        out = p if out is None else out + p
    return empty(size, n) if out is None else _csr(out)


def take_rows(pattern, idx):
    """Rows idx - 1 of pattern (idx is 1-based; 0 gives an empty row). Vectorized CSR gather."""
    idx = np.asarray(idx, np.int64).ravel()
    n = pattern.shape[1]
    ptr, ind = pattern.indptr.astype(np.int64), pattern.indices
    rows = idx - 1
    valid = rows >= 0
    r = np.where(valid, rows, 0)
    lengths = np.where(valid, ptr[r + 1] - ptr[r], 0)
    new_ptr = np.zeros(len(idx) + 1, np.int64)
    np.cumsum(lengths, out=new_ptr[1:])
    total = int(new_ptr[-1])
    if total == 0:
        return empty(len(idx), n)
    # position j of the output belongs to output row o, and copies ind[ptr[r[o]] + (j - new_ptr[o])]
    owner = np.repeat(np.arange(len(idx)), lengths)
    src = ptr[r][owner] + (np.arange(total) - new_ptr[owner])
    sp = _sp()
    return sp.csr_array((np.ones(total, bool), ind[src], new_ptr), shape=(len(idx), n))


def broadcast_rows(pattern, size):
    """A rank-0 operand's single row, repeated for every element of a size-`size` output."""
    if pattern.shape[0] == size:
        return pattern
    return take_rows(pattern, np.ones(size, np.int64))


def stack(patterns, n):
    sp = _sp()
    if not patterns:
        return empty(0, n)
    if len(patterns) == 1:
        return patterns[0]
    return _csr(sp.vstack(patterns, format="csr"))


def numbers(aval, offset=0):
    """1-based element numbers of a value, shaped like it: what selection rules move around."""
    return (np.arange(aval.size, dtype=np.int64) + 1 + offset).reshape(aval.shape)


def any_row(patterns, n):
    """The union of every row of every pattern: one (1, n) row."""
    cols = [p.indices for p in patterns if p.nnz]
    sp = _sp()
    if not cols:
        return empty(1, n)
    c = np.unique(np.concatenate(cols))
    return sp.csr_array((np.ones(len(c), bool), c, np.array([0, len(c)])), shape=(1, n))


# --- the rule shapes ------------------------------------------------------------------------------

def zero(ins, out_avals, **params):
    """Outputs do not depend (differentiably) on anything: piecewise-constant functions."""
    n = _n(ins)
    return [empty(a.size, n) for a in out_avals]


def dense(ins, out_avals, **params):
    """The conservative fallback: each output element depends on every input that any operand
    element depends on."""
    n = _n(ins)
    row = any_row([d.pattern for d in ins], n)
    return [broadcast_rows(row, a.size) if _is_float(a) else empty(a.size, n) for a in out_avals]


def elementwise(ins, out_avals, **params):
    """Output element k depends on element k of every operand (rank-0 operands broadcast).
    With several outputs, one per operand (as collectives over a list of operands), output j
    pairs with operand j."""
    n = _n(ins)
    if len(out_avals) > 1 and len(ins) == len(out_avals):
        return [elementwise([d], [a])[0] for d, a in zip(ins, out_avals)]
    size = out_avals[0].size
    pats = [broadcast_rows(d.pattern, size) for d in ins if d.pattern.nnz]
    return [union(pats, size, n)] * len(out_avals)


def elementwise_of(*operands):
    """An elementwise rule that counts only the named operands (the others have a zero
    derivative, as nextafter's second argument)."""
    def rule(ins, out_avals, **params):
        return elementwise([ins[i] for i in operands], out_avals)
    return rule


def selection(ins, fn, sources, out_avals):
    """Output element k is one element of the operands in `sources` (or none): fn receives, for
    each source operand, its 1-based element numbers (offset so that they are distinct across
    sources) and, for every other operand, its known value; it returns the numbers the outputs
    hold (0 = no dependence). An unknown non-source value (a traced index) falls back to dense."""
    n = _n(ins)
    if any(i not in sources and d.value is None for i, d in enumerate(ins)):
        return dense(ins, out_avals)
    args, offset, pats = [], 0, []
    for i, d in enumerate(ins):
        if i in sources:
            args.append(numbers(d.aval, offset))
            offset += d.aval.size
            pats.append(d.pattern)
        else:
            args.append(d.value)
    out = fn(*args)
    outs = out if isinstance(out, (list, tuple)) else [out]
    stacked = stack(pats, n)
    return [take_rows(stacked, o) for o in outs]


def selection_rule(prim, sources=None):
    """The sparsity rule of a primitive that moves elements around: run its own impl on element
    numbers (sources: the operands whose elements it moves; default all)."""
    def rule(ins, out_avals, **params):
        src = range(len(ins)) if sources is None else sources
        return selection(ins, lambda *a: prim.impl(*a, **params), src, out_avals)
    rule.__name__ = f"{prim.name}_sparsity"
    return rule


def groups(pattern, group_of, n_groups):
    """Output k depends on the union of the input rows whose group_of is k (group_of < 0: none)."""
    g = np.asarray(group_of, np.int64).ravel()
    keep = g >= 0
    sp = _sp()
    local = sp.csr_array((np.ones(int(keep.sum()), bool), (g[keep], np.flatnonzero(keep))),
                         shape=(n_groups, len(g)))
    return apply_local(local, pattern)


def pairs(pattern, rows, cols, n_out):
    """out = L @ in, L given as the (output element, input element) pairs where it may be
    nonzero."""
    sp = _sp()
    rows, cols = np.asarray(rows).ravel(), np.asarray(cols).ravel()
    local = sp.csr_array((np.ones(len(rows), bool), (rows, cols)),
                         shape=(n_out, pattern.shape[0]))
    return apply_local(local, pattern)


def apply_local(local, pattern):
    """out = L @ in for a local Jacobian pattern L (boolean product)."""
    if pattern.nnz == 0 or local.nnz == 0:
        return empty(local.shape[0], pattern.shape[1])
    return _csr(_csr(local) @ pattern)


def reduce_axes(ins, out_avals, axes, **params):
    """Reductions over `axes`: each output depends on its group of operand elements."""
    (x,), out = ins, out_avals[0]
    kept = [i for i in range(x.aval.ndim) if i not in axes]
    ids = np.arange(out.size, dtype=np.int64).reshape([x.aval.shape[i] for i in kept])
    ids = np.expand_dims(ids, tuple(sorted(axes))) if axes else ids
    ids = np.broadcast_to(ids, x.aval.shape)
    return [groups(x.pattern, ids, out.size)] * len(out_avals)


def along_axis(ins, out_avals, axis, lower=True, reverse=False, **params):
    """Cumulative (lower=True: element k of a line depends on elements <= k of it, >= k if
    reverse) or whole-line (lower=False: sort) dependence along `axis`, per operand."""
    outs = []
    for d, out in zip(ins, out_avals):
        shape = d.aval.shape
        m = shape[axis] if shape else 1
        if d.pattern.nnz == 0 or not _is_float(out):
            outs.append(empty(out.size, d.n_inputs))
            continue
        if d.aval.size * m > MAX_LOCAL_NNZ:
            outs.append(dense([d], [out])[0])
            continue
        ids = np.arange(d.aval.size, dtype=np.int64).reshape(shape)
        lines = np.moveaxis(ids, axis, -1).reshape(-1, m)          # (lines, m)
        i, j = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
        mask = (j >= i if reverse else j <= i) if lower else np.ones((m, m), bool)
        ii, jj = np.nonzero(mask)
        rows = lines[:, ii].ravel()
        cols = lines[:, jj].ravel()
        sp = _sp()
        local = sp.csr_array((np.ones(len(rows), bool), (rows, cols)), shape=(out.size, d.aval.size))
        outs.append(apply_local(local, d.pattern))
    return outs


def _n(ins):
    for d in ins:
        return d.n_inputs
    raise ValueError("a sparsity rule needs at least one operand")


def _is_float(aval):
    return aval.dtype.kind in "fc"


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
        if not _is_float(a):
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
    from .tracing import make_jaxpr
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
    from .tracing import make_jaxpr
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
    sp = _sp()
    avals = [get_aval(x) for x in in_leaves]
    n = sum(a.size for a in avals)
    out, offset = [], 0
    for a in avals:
        rows = np.arange(a.size)
        p = sp.csr_array((np.ones(a.size, bool), (rows, rows + offset)), shape=(a.size, n))
        out.append(Deps(a.strip_weak() if hasattr(a, "strip_weak") else a, _csr(p)))
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
        return _csr(p + p.T)

    sparsity_fun.__name__ = f"hessian_sparsity({getattr(fun, '__name__', 'fun')})"
    return sparsity_fun
