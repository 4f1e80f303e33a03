"""The vocabulary of sparsity rules: the dependence-pattern operations that primitives' sparsity
rules (declared beside their other rules with `Primitive.def_sparsity`) are built from.

A rule maps its operands' `Deps` (aval, boolean CSR dependence pattern of shape (size, N), known
value) to its outputs' patterns; transforms/sparsity.py walks programs with these rules and
explains the patterns. Rule shapes offered here: zero, dense, elementwise, selection, groups,
pairs/apply_local (a local Jacobian pattern), reduce_axes and along_axis.
"""
from dataclasses import dataclass

import numpy as np


# A rule that would build more than this many (row, column) pairs of a local Jacobian falls back
# to the dense block instead (still a superset, never a miss).
MAX_LOCAL_NNZ = 50_000_000


def scipy_sparse():
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
    sp = scipy_sparse()
    return sp.csr_array((np.zeros(0, bool), np.zeros(0, np.int32), np.zeros(size + 1, np.int64)),
                        shape=(size, n))


def as_csr(p):
    sp = scipy_sparse()
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
    return empty(size, n) if out is None else as_csr(out)


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
    sp = scipy_sparse()
    return sp.csr_array((np.ones(total, bool), ind[src], new_ptr), shape=(len(idx), n))


def broadcast_rows(pattern, size):
    """A rank-0 operand's single row, repeated for every element of a size-`size` output."""
    if pattern.shape[0] == size:
        return pattern
    return take_rows(pattern, np.ones(size, np.int64))


def stack(patterns, n):
    sp = scipy_sparse()
    if not patterns:
        return empty(0, n)
    if len(patterns) == 1:
        return patterns[0]
    return as_csr(sp.vstack(patterns, format="csr"))


def numbers(aval, offset=0):
    """1-based element numbers of a value, shaped like it: what selection rules move around."""
    return (np.arange(aval.size, dtype=np.int64) + 1 + offset).reshape(aval.shape)


def any_row(patterns, n):
    """The union of every row of every pattern: one (1, n) row."""
    cols = [p.indices for p in patterns if p.nnz]
    sp = scipy_sparse()
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
    return [broadcast_rows(row, a.size) if is_float(a) else empty(a.size, n) for a in out_avals]


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
    sp = scipy_sparse()
    local = sp.csr_array((np.ones(int(keep.sum()), bool), (g[keep], np.flatnonzero(keep))),
                         shape=(n_groups, len(g)))
    return apply_local(local, pattern)


def pairs(pattern, rows, cols, n_out):
    """out = L @ in, L given as the (output element, input element) pairs where it may be
    nonzero."""
    sp = scipy_sparse()
    rows, cols = np.asarray(rows).ravel(), np.asarray(cols).ravel()
    local = sp.csr_array((np.ones(len(rows), bool), (rows, cols)),
                         shape=(n_out, pattern.shape[0]))
    return apply_local(local, pattern)


def apply_local(local, pattern):
    """out = L @ in for a local Jacobian pattern L (boolean product)."""
    if pattern.nnz == 0 or local.nnz == 0:
        return empty(local.shape[0], pattern.shape[1])
    return as_csr(as_csr(local) @ pattern)


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
        if d.pattern.nnz == 0 or not is_float(out):
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
        sp = scipy_sparse()
        local = sp.csr_array((np.ones(len(rows), bool), (rows, cols)),
                             shape=(out.size, d.aval.size))
        outs.append(apply_local(local, d.pattern))
    return outs


def _n(ins):
    for d in ins:
        return d.n_inputs
    raise ValueError("a sparsity rule needs at least one operand")


def is_float(aval):
    return aval.dtype.kind in "fc"
