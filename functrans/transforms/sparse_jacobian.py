"""Sparse Jacobians and Hessians: detect the pattern, colour it, push one seed per colour.

jacobian(f, sparsity="auto")(x) with f: R^N -> R^M:
  1. the pattern P (M x N) from f's program (functrans.transforms.sparsity), or the one given;
  2. a colouring of P's columns (forward) and of its rows (reverse) (functrans.transforms.coloring);
  3. the mode whose colours x one pass's estimated cost is smaller; the reason is recorded in
     `jac_fun.last_decision`;
  4. one batched program: vmap of the JVP over the seed columns (J @ S, M x colours) or of the
     VJP over the seed rows (S^T @ J, colours x N);
  5. decompression into a scipy.sparse.csr_array with P's structure.
hessian(f, sparsity="auto") star-colours the symmetric pattern and pushes the seeds through the
JVP of the gradient (forward-over-reverse Hessian-vector products).

The pattern, the colourings and the mode are computed once per signature (shapes and dtypes of
the differentiated arguments, the values of the others) and cached. When f is a jit-compiled
function the batched passes are compiled too (once per signature, by jit's own cache).
"""
from dataclasses import dataclass

import numpy as np

from .. import lax, numpy as fnp, tree_util
from ..core.trace import get_aval, is_eager
from . import coloring, sparsity_detection as _sp
from ..primitives._program_cost import program_cost
from .forward import jvp
from .jit import JitFunction, jit
from .reverse import grad, vjp
from .tracing import eval_shape, make_jaxpr
from .vmap import vmap

# Colouring the columns needs the intersection graph, whose size is the sum of squared row
# lengths: above this, that mode is not coloured (it would need about as many colours as columns).
MAX_INTERSECTION_WORK = 2e8


@dataclass
class SparseDecision:
    mode: str                   # "fwd", "rev" or "star" (Hessians)
    reason: str
    shape: tuple                # (M, N)
    nnz: int
    fwd_colors: int | None      # None: not coloured (too dense, or not asked for)
    rev_colors: int | None
    fwd_pass_seconds: float | None = None
    rev_pass_seconds: float | None = None
    ordering: str = ""

    def __str__(self):
        m, n = self.shape
        lines = [f"sparse Jacobian {m} x {n}, {self.nnz} nonzeros "
                 f"({self.nnz / max(m * n, 1):.3g} of the dense matrix)"]
        for name, k, s, what in (("forward", self.fwd_colors, self.fwd_pass_seconds, "JVP"),
                                 ("reverse", self.rev_colors, self.rev_pass_seconds, "VJP")):
            if k is not None:
                est = f", about {s * 1e3:.3g} ms per {what}" if s is not None else ""
                lines.append(f"  {name}: {k} colour(s) = {k} {what}(s){est}")
        lines.append(f"choice: {self.mode} ({self.reason})")
        return "\n".join(lines)


# --- the flat function: one vector in, one vector out ---------------------------------------------

def _flat_function(fun, args, nums, has_aux):
    """f_flat(x) for x the concatenated, raveled differentiated leaves; returns the concatenated,
    raveled output leaves, and the input leaves."""
    dargs = [args[i] for i in nums]
    in_leaves, in_tree = tree_util.tree_flatten(dargs)
    avals = [get_aval(x) for x in in_leaves]

    def f_flat(x):
        leaves, offset = [], 0
        for a in avals:
            piece = x if len(avals) == 1 else lax.slice(x, (offset,), (offset + a.size,))
            if get_aval(piece).dtype != a.dtype:
                piece = lax.convert_element_type(piece, a.dtype)
            leaves.append(fnp.reshape(piece, a.shape))
            offset += a.size
        full = list(args)
        for i, d in zip(nums, tree_util.tree_unflatten(in_tree, leaves)):
            full[i] = d
        out = fun(*full)
        if has_aux:
            out = out[0]
        outs = [fnp.ravel(o) for o in tree_util.tree_leaves(out)]
        return outs[0] if len(outs) == 1 else fnp.concatenate(outs)

    x0 = (np.asarray(in_leaves[0]).ravel() if len(in_leaves) == 1 else
          np.concatenate([np.asarray(v).ravel() for v in in_leaves]))
    return f_flat, x0, in_leaves


def _check_eager(name):
    if not is_eager():
        raise TypeError(f"{name} with sparsity= returns a scipy.sparse matrix, which cannot be "
                        f"traced (inside jit, vmap or grad). Call it outside, and jit the "
                        f"function it differentiates instead: {name}(jit(f), sparsity='auto').")


def _given_pattern(pattern, shape, name):
    import scipy.sparse as sp
    p = sp.csr_array(pattern if sp.issparse(pattern) else np.asarray(pattern), dtype=bool)
    if p.shape != shape:
        raise ValueError(f"{name}: the sparsity pattern has shape {p.shape}, but the Jacobian "
                         f"is {shape[0]} x {shape[1]} (outputs x inputs, flattened row-major)")
    p.eliminate_zeros()
    p.sort_indices()
    return p


# --- pass costs ----------------------------------------------------------------------------------

def _seconds(closed):
    """A rough roofline time of one program (only the ratio of two such estimates is used)."""
    c = program_cost(closed)
    return max(c.flops / 2e10, c.bytes / 1e10)


def _pass_seconds(f_flat, x0, m):
    """Estimated seconds of one JVP and one VJP beyond the primal computation."""
    primal = _seconds(make_jaxpr(f_flat)(x0))
    fwd = _seconds(make_jaxpr(lambda x, t: jvp(f_flat, (x,), (t,))[1])(x0, x0))
    ct = np.zeros(m, eval_shape(f_flat, x0).dtype)
    rev = _seconds(make_jaxpr(lambda x, u: vjp(f_flat, x)[1](u)[0])(x0, ct))
    return max(fwd - primal, 1e-12), max(rev - primal, 1e-12)


# --- compressed evaluation and decompression ----------------------------------------------------

def _maybe_jit(fun, build):
    return jit(build) if isinstance(fun, JitFunction) else build


def _forward_pass(f_flat):

    def compressed(x, seeds):          # seeds: (colours, N) -> (colours, M)
        return vmap(lambda s: jvp(f_flat, (x,), (s,))[1])(seeds)
    return compressed


def _reverse_pass(f_flat):

    def compressed(x, seeds):          # seeds: (colours, M) -> (colours, N)
        _, pullback = vjp(f_flat, x)
        return vmap(lambda u: pullback(u)[0])(seeds)
    return compressed


def _rows_cols(p):
    rows = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
    return rows, p.indices


def _with_values(p, values):
    import scipy.sparse as sp
    return sp.csr_array((np.asarray(values), p.indices.copy(), p.indptr.copy()), shape=p.shape)


def decompress_columns(pattern, colors, compressed):
    """J from B = J @ S (M x colours): J[i, j] = B[i, colour(j)]."""
    rows, cols = _rows_cols(pattern)
    return _with_values(pattern, compressed[rows, colors[cols]])


def decompress_rows(pattern, colors, compressed):
    """J from B = S^T @ J (colours x N): J[i, j] = B[colour(i), j]."""
    rows, cols = _rows_cols(pattern)
    return _with_values(pattern, compressed[colors[rows], cols])


def decompress_star(pattern, colors, compressed):
    """H from B = H @ S (N x colours) under a star colouring: each H[i, j] read where it is the
    only entry of its colour group (at (i, colour(j)) if j is i's only neighbour of that colour,
    else at (j, colour(i)))."""
    import scipy.sparse as sp
    rows, cols = _rows_cols(pattern)
    n, k = pattern.shape[0], int(colors.max(initial=-1)) + 1
    off = rows != cols
    adj = sp.csr_array((np.ones(int(off.sum())), (rows[off], cols[off])), shape=(n, n))
    onehot = sp.csr_array((np.ones(n), (np.arange(n), colors)), shape=(n, max(k, 1)))
    counts = (adj @ onehot).toarray()            # neighbours of i of each colour
    alone = counts[rows, colors[cols]] == 1
    values = np.where(alone | ~off, compressed[rows, colors[cols]],
                      compressed[cols, colors[rows]])
    return _with_values(pattern, values)


# --- the cached plan ------------------------------------------------------------------------------

@dataclass
class _Plan:
    pattern: object
    coloring: object
    decision: SparseDecision
    run: object                 # (x, seeds) -> compressed
    seeds: object = None        # (colours, N or M), in the dtype the pass takes


def _check_given_pattern(matrix, push, x0, name):
    """A given pattern that misses a nonzero would silently drop it: compare the result with
    one JVP in a random direction (a missed entry shows with probability 1)."""
    v = np.random.default_rng(0).standard_normal(matrix.shape[1]).astype(x0.dtype)
    want = np.asarray(push(x0, v))
    got = matrix @ v
    tol = 1e-6 if np.finfo(x0.dtype).bits >= 64 else 1e-3
    bad = ~np.isclose(got, want, rtol=tol, atol=tol * (np.abs(want).max(initial=0.0) + 1.0))
    if bad.any():
        raise ValueError(f"{name}: the given sparsity pattern misses nonzeros: rows "
                         f"{np.flatnonzero(bad)[:10].tolist()} of the result differ from a JVP "
                         f"check. Pass a pattern that contains every nonzero of the Jacobian "
                         f"(for every input value), or sparsity='auto' to detect it.")


def _plan_jacobian(fun, f_flat, x0, m, pattern, mode, orderings):
    n = len(x0)
    nnz = pattern.nnz
    fwd = rev = None
    if mode in ("fwd", "auto") and coloring.intersection_work(pattern) <= MAX_INTERSECTION_WORK:
        fwd = coloring.color_columns(pattern, orderings)
    if mode in ("rev", "auto") and coloring.intersection_work(pattern.T.tocsr()) <= \
            MAX_INTERSECTION_WORK:
        rev = coloring.color_rows(pattern, orderings)
    if mode == "fwd" and fwd is None:
        fwd = coloring.Coloring(np.arange(n), n, "identity", "column")
    if mode == "rev" and rev is None:
        rev = coloring.Coloring(np.arange(m), m, "identity", "row")
    fs = rs = None
    if mode == "auto":
        fwd_k = fwd.n_colors if fwd is not None else n
        rev_k = rev.n_colors if rev is not None else m
        fs, rs = _pass_seconds(f_flat, x0, m)
        chosen = "fwd" if fwd_k * fs <= rev_k * rs else "rev"
        if chosen == "fwd" and fwd is None:
            fwd = coloring.Coloring(np.arange(n), n, "identity", "column")
        if chosen == "rev" and rev is None:
            rev = coloring.Coloring(np.arange(m), m, "identity", "row")
        reason = (f"{fwd_k} JVP(s) x {fs * 1e3:.3g} ms = {fwd_k * fs * 1e3:.3g} ms estimated, "
                  f"against {rev_k} VJP(s) x {rs * 1e3:.3g} ms = {rev_k * rs * 1e3:.3g} ms")
    else:
        chosen = mode
        reason = "as asked (mode=" + repr(mode) + ")"
    col = fwd if chosen == "fwd" else rev
    decision = SparseDecision(chosen, reason, (m, n), nnz,
                              None if fwd is None else fwd.n_colors,
                              None if rev is None else rev.n_colors, fs, rs, col.ordering)
    build = _forward_pass(f_flat) if chosen == "fwd" else _reverse_pass(f_flat)
    return _Plan(pattern, col, decision, _maybe_jit(fun, build))


def sparse_jacobian(fun, argnums=0, has_aux=False, sparsity="auto", mode="auto",
                    orderings=("largest_first", "smallest_last")):
    """The Jacobian of fun as a scipy.sparse.csr_array (output size x input size, leaves
    flattened row-major and concatenated), by colouring: one JVP (mode "fwd") or VJP ("rev")
    per colour, or whichever costs less ("auto"). sparsity: "auto" (detect it from the program)
    or a pattern (anything scipy.sparse.csr_array accepts) that must contain every nonzero."""
    if mode not in ("auto", "fwd", "rev"):
        raise ValueError(f"jacobian: with sparsity=, mode must be 'auto', 'fwd' or 'rev'; got "
                         f"{mode!r}")
    plans = {}

    def jac_fun(*args):
        _check_eager("jacobian")
        nums = _sp._argnums(argnums, len(args), "jacobian")
        key = _sp.signature_key(args, nums)
        f_flat, x0, in_leaves = _flat_function(fun, args, nums, has_aux)
        if key not in plans:
            closed, _, _ = _sp.flat_program(
                (lambda *a: fun(*a)[0]) if has_aux else fun, args, nums, "jacobian")
            m = sum(a.size for a in closed.out_avals)
            pattern = (_sp.pattern_of(closed, in_leaves) if _is_auto(sparsity) else
                       _given_pattern(sparsity, (m, len(x0)), "jacobian"))
            pattern.sort_indices()
            plan = _plan_jacobian(fun, f_flat, x0, m, pattern, mode, orderings)
            dtype = x0.dtype if plan.decision.mode == "fwd" else _out_dtype(plan, f_flat, x0)
            plan.seeds = np.ascontiguousarray(plan.coloring.seeds().T.astype(dtype))
            checked = _is_auto(sparsity)
        else:
            plan, checked = plans[key], True
        jac_fun.last_decision = plan.decision
        compressed = np.asarray(plan.run(x0, plan.seeds))
        if plan.decision.mode == "fwd":
            jac = decompress_columns(plan.pattern, plan.coloring.colors, compressed.T)
        else:
            jac = decompress_rows(plan.pattern, plan.coloring.colors, compressed)
        if not checked:
            _check_given_pattern(jac, lambda x, v: jvp(f_flat, (x,), (v,))[1], x0, "jacobian")
        plans[key] = plan
        if has_aux:
            return jac, fun(*args)[1]
        return jac

    jac_fun.last_decision = None
    jac_fun.plans = plans
    jac_fun.__name__ = f"jacobian({getattr(fun, '__name__', 'fun')}, sparse)"
    return jac_fun


def _out_dtype(plan, f_flat, x0):
    return eval_shape(f_flat, x0).dtype


def _is_auto(s):
    return isinstance(s, str) and s == "auto"


def sparse_hessian(fun, argnums=0, has_aux=False, sparsity="auto",
                   orderings=("largest_first", "smallest_last")):
    """The Hessian of a scalar fun as a scipy.sparse.csr_array (input size x input size), by a
    star colouring of its symmetric pattern: one Hessian-vector product (forward over reverse)
    per colour. sparsity: "auto" (the pattern of the gradient's Jacobian) or a pattern."""
    plans = {}

    def hess_fun(*args):
        _check_eager("hessian")
        nums = _sp._argnums(argnums, len(args), "hessian")
        key = _sp.signature_key(args, nums)
        f_flat, x0, in_leaves = _flat_function(fun, args, nums, has_aux)
        n = len(x0)
        if key not in plans:
            if eval_shape(f_flat, x0).size != 1:
                raise TypeError(f"hessian: {getattr(fun, '__name__', 'fun')} must return a "
                                f"scalar, got {eval_shape(f_flat, x0).size} elements")
            if _is_auto(sparsity):
                closed, _, _ = _sp.flat_program(_grad_tree(fun, nums, has_aux), args, nums,
                                                "hessian")
                p = _sp.pattern_of(closed, in_leaves)
                pattern = _given_pattern(p + p.T, (n, n), "hessian")
            else:
                pattern = _given_pattern(sparsity, (n, n), "hessian")
                pattern = _given_pattern(pattern + pattern.T, (n, n), "hessian")
            col = coloring.star_color(pattern, orderings)
            g = grad(lambda x: f_flat(x).reshape(()))

            def compressed(x, seeds):     # (colours, N) Hessian-vector products
                return vmap(lambda s: jvp(g, (x,), (s,))[1])(seeds)
            decision = SparseDecision(
                "star", f"star colouring: {col.n_colors} Hessian-vector product(s) instead of "
                        f"{n}", (n, n), pattern.nnz, None, None, ordering=col.ordering)
            plan = _Plan(pattern, col, decision, _maybe_jit(fun, compressed),
                         np.ascontiguousarray(col.seeds().T.astype(x0.dtype)))
            checked = _is_auto(sparsity)
        else:
            plan, checked = plans[key], True
        hess_fun.last_decision = plan.decision
        b = np.asarray(plan.run(x0, plan.seeds)).T
        h = decompress_star(plan.pattern, plan.coloring.colors, b)
        if not checked:
            g = grad(lambda x: f_flat(x).reshape(()))
            _check_given_pattern(h, lambda x, v: jvp(g, (x,), (v,))[1], x0, "hessian")
        plans[key] = plan
        return (h, fun(*args)[1]) if has_aux else h

    hess_fun.last_decision = None
    hess_fun.plans = plans
    hess_fun.__name__ = f"hessian({getattr(fun, '__name__', 'fun')}, sparse)"
    return hess_fun


def _grad_tree(fun, nums, has_aux):
    return grad(fun, argnums=nums, has_aux=has_aux) if not has_aux else \
        (lambda *a: grad(fun, argnums=nums, has_aux=True)(*a)[0])
