"""Contractions: dot_general, the one primitive behind matmul, dot, einsum and tensordot.

dot_general(lhs, rhs, ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))) pairs the
listed dimensions of the two operands; its output lays out the batch dimensions first (in the
order given), then the remaining dimensions of lhs, then those of rhs, each in ascending order
(as XLA and JAX do). It is bilinear, so its JVP and both transposes are dot_generals again.
"""
import math

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray, aval_of_value
from ..core.primitive import Cost, Primitive, Zero, is_undefined
from ..core.trace import get_aval
from ._common import resolve_dtypes
from . import _sparsity_rules as _sparsity
from ..backend import loop_lowering
from ..backend.lowering import Driver, Elementwise, transposed_product
from .elementwise import add_tangents, convert_element_type
from .shape import transpose, transpose_p

__all__ = ["dot_general", "dot"]


def _free_dims(ndim, contracting, batch):
    """The dimensions of an operand that are neither contracted nor batch: kept, in order."""
    taken = set(contracting) | set(batch)
    return tuple(d for d in range(ndim) if d not in taken)


def _check_dims(name, which, dims, ndim):
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"lax.dot_general: {name} dimensions of {which} must be ints, got "
                            f"{dims}")
        if not 0 <= d < ndim:
            raise ValueError(f"lax.dot_general: {name} dimensions {tuple(dims)} of {which} are "
                             f"out of range for an operand of rank {ndim}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"lax.dot_general: {name} dimensions {tuple(dims)} of {which} repeat a "
                         "dimension")


def _out_dtype(lhs, rhs, preferred_element_type):
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"lax.dot_general requires operands of one dtype, got "
                        f"{lhs.str_short()} and {rhs.str_short()}")
    if preferred_element_type is None:
        return lhs.dtype
    pref = dtypes.canonicalize(preferred_element_type)
    # Accumulating in a wider type of the same family is what preferred_element_type is for;
    # silently turning integers into floats (or narrowing) is not.
    if not np.can_cast(lhs.dtype, pref, "safe") or \
            (lhs.dtype.kind in "biu" and pref.kind in "fc"):
        raise TypeError(f"lax.dot_general: preferred_element_type {pref.name} is incompatible "
                        f"with operands of dtype {lhs.dtype.name} (it must be the same kind and "
                        "at least as wide)")
    return pref


def _dot_general_shape_rule(lhs, rhs, *, dimension_numbers, precision,
                            preferred_element_type):
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise TypeError("lax.dot_general: dimension_numbers must be ((lhs_contracting, "
                        "rhs_contracting), (lhs_batch, rhs_batch)), got "
                        f"{dimension_numbers!r}") from None
    _check_dims("contracting", "lhs", lc, lhs.ndim)
    _check_dims("contracting", "rhs", rc, rhs.ndim)
    _check_dims("batch", "lhs", lb, lhs.ndim)
    _check_dims("batch", "rhs", rb, rhs.ndim)
    if set(lc) & set(lb) or set(rc) & set(rb):
        raise ValueError(f"lax.dot_general: a dimension is both contracting and batch in "
                         f"dimension_numbers {dimension_numbers}")
    for kind, ld, rd in (("contracting", lc, rc), ("batch", lb, rb)):
        if len(ld) != len(rd):
            raise TypeError(f"lax.dot_general: lhs and rhs must have as many {kind} dimensions, "
                            f"got {tuple(ld)} and {tuple(rd)}")
        lsizes = tuple(lhs.shape[d] for d in ld)
        rsizes = tuple(rhs.shape[d] for d in rd)
        if lsizes != rsizes:
            raise TypeError(f"lax.dot_general: {kind} dimensions must have equal sizes, got "
                            f"{lsizes} (lhs {lhs.str_short()}, dims {tuple(ld)}) and {rsizes} "
                            f"(rhs {rhs.str_short()}, dims {tuple(rd)})")
    dtype = _out_dtype(lhs, rhs, preferred_element_type)
    shape = (tuple(lhs.shape[d] for d in lb)
             + tuple(lhs.shape[d] for d in _free_dims(lhs.ndim, lc, lb))
             + tuple(rhs.shape[d] for d in _free_dims(rhs.ndim, rc, rb)))
    weak = lhs.weak_type and rhs.weak_type and preferred_element_type is None
    return ShapedArray(shape, dtype, weak)


def _as_matmul(lhs, rhs, lc, rc, lb, rb):
    """(a, c) such that matmul(a, c) is this dot_general, when numpy can take the operands as
    they are (transposed views of matrices included); None otherwise."""
    nb = len(lb)
    if lhs.dtype != rhs.dtype or len(lc) != 1:
        return None
    if nb == 0:
        if lhs.ndim not in (1, 2) or rhs.ndim not in (1, 2) or not 0 <= lc[0] < lhs.ndim or \
                not 0 <= rc[0] < rhs.ndim or lhs.shape[lc[0]] != rhs.shape[rc[0]]:
            return None
        # A matrix contracted on its other dimension is the transposed view (no copy).
        return (lhs if lc[0] == lhs.ndim - 1 else lhs.T), (rhs if rc[0] == 0 else rhs.T)
    # matmul would broadcast size-1 batch dims; dot_general needs them equal.
    if lc == (lhs.ndim - 1,) and rc == (nb,) and lb == rb == tuple(range(nb)) and \
            lhs.ndim == rhs.ndim == nb + 2 and lhs.shape[:nb] == rhs.shape[:nb] and \
            lhs.shape[-1] == rhs.shape[nb]:
        return lhs, rhs
    return None


def _dot_general_impl(lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    if preferred_element_type is None:
        pair = _as_matmul(lhs, rhs, tuple(lc), tuple(rc), tuple(lb), tuple(rb))
        if pair is not None:
            # The common cases (eager products, and most of grad's) go straight to BLAS.
            return np.asarray(np.matmul(*pair))
    # Eagerly no shape rule runs otherwise; numpy's errors would not name lax.dot_general.
    out_dtype = _dot_general_shape_rule(
        aval_of_value(lhs), aval_of_value(rhs), dimension_numbers=dimension_numbers,
        precision=precision, preferred_element_type=preferred_element_type).dtype
    if lhs.dtype != out_dtype:   # accumulate in the preferred type, as asked
        lhs, rhs = lhs.astype(out_dtype), rhs.astype(out_dtype)
    lf = _free_dims(lhs.ndim, lc, lb)
    rf = _free_dims(rhs.ndim, rc, rb)
    batch_shape = tuple(lhs.shape[d] for d in lb)
    lf_shape = tuple(lhs.shape[d] for d in lf)
    rf_shape = tuple(rhs.shape[d] for d in rf)
    # One batched matmul: lhs as (B, M, K), rhs as (B, K, N). Transposes are views, and so are
    # the reshapes when each group is a single dimension (matmul takes the strides as they are).
    k = math.prod(lhs.shape[d] for d in lc)
    b, m, n = math.prod(batch_shape), math.prod(lf_shape), math.prod(rf_shape)
    a = lhs.transpose(tuple(lb) + lf + tuple(lc)).reshape(b, m, k)
    c = rhs.transpose(tuple(rb) + tuple(rc) + rf).reshape(b, k, n)
    return np.matmul(a, c).reshape(batch_shape + lf_shape + rf_shape)


dot_general_p = Primitive("dot_general", impl=_dot_general_impl,
                          shape_rule=_dot_general_shape_rule, jac_structure="dense (bilinear)")



@dot_general_p.def_sparsity
def _dot_general_sparsity(ins, out_avals, *, dimension_numbers, **params):
    """out[b, m, n] = sum_k lhs[b, m, k] rhs[b, k, n] depends on lhs[b, m, k] for each k where
    rhs[b, k, n] may be nonzero (every k, unless rhs is a known constant), and symmetrically."""
    (lc, rc), (lb, rb) = dimension_numbers
    lhs, rhs = ins
    lf, rf = _free_dims(lhs.aval.ndim, lc, lb), _free_dims(rhs.aval.ndim, rc, rb)
    shape_l, shape_r = lhs.aval.shape, rhs.aval.shape
    b = math.prod(shape_l[d] for d in lb)
    k = math.prod(shape_l[d] for d in lc)
    m, n = math.prod(shape_l[d] for d in lf), math.prod(shape_r[d] for d in rf)
    if b * m * n * k > _sparsity.MAX_LOCAL_NNZ:
        return _sparsity.dense(ins, out_avals)
    perm_l, perm_r = tuple(lb) + lf + tuple(lc), tuple(rb) + tuple(rc) + rf
    ids_l = np.arange(lhs.aval.size).reshape(shape_l).transpose(perm_l).reshape(b, m, k)
    ids_r = np.arange(rhs.aval.size).reshape(shape_r).transpose(perm_r).reshape(b, k, n) + \
        lhs.aval.size
    nonzero_l = (np.ones((b, m, k), bool) if lhs.value is None else
                 (np.asarray(lhs.value) != 0).transpose(perm_l).reshape(b, m, k))
    nonzero_r = (np.ones((b, k, n), bool) if rhs.value is None else
                 (np.asarray(rhs.value) != 0).transpose(perm_r).reshape(b, k, n))
    out_ids = np.arange(b * m * n).reshape(b, m, n)
    rows, cols = [], []
    if lhs.pattern.nnz:     # pairs (out[b, m, n], lhs[b, m, k]) where rhs[b, k, n] != 0
        bb, kk, nn = np.nonzero(nonzero_r)
        rows.append(out_ids[bb, :, nn].T)
        cols.append(ids_l[bb, :, kk].T)
    if rhs.pattern.nnz:     # pairs (out[b, m, n], rhs[b, k, n]) where lhs[b, m, k] != 0
        bb, mm, kk = np.nonzero(nonzero_l)
        rows.append(out_ids[bb, mm, :].T)
        cols.append(ids_r[bb, kk, :].T)
    stacked = _sparsity.stack([lhs.pattern, rhs.pattern], lhs.n_inputs)
    return [_sparsity.pairs(stacked, np.concatenate([r.ravel() for r in rows]),
                            np.concatenate([c.ravel() for c in cols]), b * m * n)]


@dot_general_p.def_jvp
def _dot_general_jvp(primals, tangents, **params):
    (lhs, rhs), (t_lhs, t_rhs) = primals, tangents
    out = dot_general_p.bind(lhs, rhs, **params)
    from_lhs = Zero.like(out) if isinstance(t_lhs, Zero) else dot_general_p.bind(t_lhs, rhs,
                                                                                 **params)
    from_rhs = Zero.like(out) if isinstance(t_rhs, Zero) else dot_general_p.bind(lhs, t_rhs,
                                                                                 **params)
    return out, add_tangents(from_lhs, from_rhs)


def _transpose_one_side(ct, other, x_aval, x_is_lhs, dimension_numbers, precision):
    """Cotangent of one operand x: contract ct with the other operand over the other's free
    dimensions, then permute the result into x's layout."""
    (lc, rc), (lb, rb) = dimension_numbers
    xc, xb, oc, ob = (lc, lb, rc, rb) if x_is_lhs else (rc, rb, lc, lb)
    other_aval = get_aval(other)
    nb = len(lb)
    lhs_ndim = x_aval.ndim if x_is_lhs else other_aval.ndim
    n_lhs_free = len(_free_dims(lhs_ndim, lc, lb))
    ct_ndim = get_aval(ct).ndim
    lhs_free_pos = tuple(range(nb, nb + n_lhs_free))
    rhs_free_pos = tuple(range(nb + n_lhs_free, ct_ndim))
    ct_other_free = rhs_free_pos if x_is_lhs else lhs_free_pos
    other_free = _free_dims(other_aval.ndim, oc, ob)
    # The product is computed in the cotangent's dtype (the output's, which may be a wider
    # preferred_element_type), then brought back to x's dtype.
    ct_dtype = get_aval(ct).dtype
    if other_aval.dtype != ct_dtype:
        other = convert_element_type(other, ct_dtype)
    new = dot_general_p.bind(ct, other, dimension_numbers=((ct_other_free, other_free),
                                                           (tuple(range(nb)), tuple(ob))),
                             precision=precision, preferred_element_type=None)
    # new's layout: batch dims, then x's free dims (ascending), then the other operand's
    # contracting dims in ascending order, each paired with one of x's contracting dims.
    x_free = _free_dims(x_aval.ndim, xc, xb)
    source = {}
    for i, d in enumerate(xb):
        source[d] = i
    for j, d in enumerate(x_free):
        source[d] = nb + j
    for m, d in enumerate(sorted(oc)):
        source[xc[list(oc).index(d)]] = nb + len(x_free) + m
    perm = tuple(source[d] for d in range(x_aval.ndim))
    if perm != tuple(range(x_aval.ndim)):
        new = transpose(new, perm)
    if ct_dtype != x_aval.dtype:
        new = convert_element_type(new, x_aval.dtype)
    return new


@dot_general_p.def_transpose
def _dot_general_transpose(ct, lhs, rhs, *, dimension_numbers, precision,
                           preferred_element_type):
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("lax.dot_general is bilinear, not linear: its transpose needs one "
                         "operand to be known")
    if isinstance(ct, Zero):
        return [Zero(lhs.aval) if is_undefined(lhs) else None,
                Zero(rhs.aval) if is_undefined(rhs) else None]
    if is_undefined(lhs):
        return [_transpose_one_side(ct, rhs, lhs.aval, True, dimension_numbers, precision), None]
    return [None, _transpose_one_side(ct, lhs, rhs.aval, False, dimension_numbers, precision)]


def _shift_dims(dims, bdim):
    """Dimensions of an unbatched operand, renumbered for the operand with its batch axis."""
    return tuple(d + (d >= bdim) for d in dims)


@dot_general_p.def_batch
def _dot_general_batch(args, dims, *, dimension_numbers, precision, preferred_element_type):
    (lhs, rhs), (ld, rd) = args, dims
    (lc, rc), (lb, rb) = dimension_numbers
    params = dict(precision=precision, preferred_element_type=preferred_element_type)
    if ld is not None and rd is not None:
        # Both batched: the vmapped axis is one more batch dimension (the first of the output).
        new_dn = ((_shift_dims(lc, ld), _shift_dims(rc, rd)),
                  ((ld,) + _shift_dims(lb, ld), (rd,) + _shift_dims(rb, rd)))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=new_dn, **params), 0
    if ld is not None:
        # Only lhs batched: its batch axis is one more free dimension of lhs; the output keeps
        # lhs's free dims in ascending order, after the batch dims.
        new_lc, new_lb = _shift_dims(lc, ld), _shift_dims(lb, ld)
        new_dn = ((new_lc, rc), (new_lb, rb))
        out_dim = len(lb) + _free_dims(get_aval(lhs).ndim, new_lc, new_lb).index(ld)
        return dot_general_p.bind(lhs, rhs, dimension_numbers=new_dn, **params), out_dim
    new_rc, new_rb = _shift_dims(rc, rd), _shift_dims(rb, rd)
    new_dn = ((lc, new_rc), (lb, new_rb))
    n_lhs_free = len(_free_dims(get_aval(lhs).ndim, lc, lb))
    out_dim = len(lb) + n_lhs_free + _free_dims(get_aval(rhs).ndim, new_rc, new_rb).index(rd)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=new_dn, **params), out_dim


dot_general_p.cost_kind = "blas"      # its time comes from the measured matmul rates


@dot_general_p.def_cost
def _dot_general_cost(lhs, rhs, *, dimension_numbers, **params):
    out = _dot_general_shape_rule(lhs, rhs, dimension_numbers=dimension_numbers, **params)
    (lc, _), _ = dimension_numbers
    k = math.prod(lhs.shape[d] for d in lc)
    # One multiply and one add per (output element, contracted index) pair: 2*M*N*K (times B).
    moved = lhs.size * lhs.dtype.itemsize + rhs.size * rhs.dtype.itemsize + \
        out.size * out.dtype.itemsize
    return Cost(2.0 * out.size * k, moved)


# Lowering: one np.matmul (BLAS) on (batch, M, K) x (batch, K, N) views of the operands (BLAS
# takes transposed operands as they are); with no contracting dims, or only size-1 ones (vmap
# of a vector-matrix product gives those), it is an outer product: a fused multiply.

def _dot_general_index_maps(in_avals, out_aval, *, dimension_numbers, precision,
                            preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    lhs, rhs = in_avals
    nb = len(lb)
    lfree = _free_dims(lhs.ndim, lc, lb)
    rfree = _free_dims(rhs.ndim, rc, rb)
    lm, rm = [(None, 0, 0)] * lhs.ndim, [(None, 0, 0)] * rhs.ndim
    for k, (dl, dr) in enumerate(zip(lb, rb)):
        lm[dl], rm[dr] = (k, 1, 0), (k, 1, 0)
    for j, d in enumerate(lfree):
        lm[d] = (nb + j, 1, 0)
    for j, d in enumerate(rfree):
        rm[d] = (nb + len(lfree) + j, 1, 0)
    return [tuple(lm), tuple(rm)]


def _dot_general_scalar(a, ctx, *, dimension_numbers, **_):
    (lc, _), _ = dimension_numbers
    if any(ctx.in_avals[0].shape[d] != 1 for d in lc) or \
            ctx.in_avals[0].dtype != ctx.out_aval.dtype:
        return None
    return f"{a[0]} * {a[1]}"


def _dot_general_matmul(ctx, args, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    (lhs, rhs), out = ctx.in_avals, ctx.out_aval
    x, y = args
    if lhs.dtype != out.dtype:
        x, y = f"{x}.astype(np.{out.dtype.name})", f"{y}.astype(np.{out.dtype.name})"
    if not lb and lhs.ndim == 1 and rhs.ndim == 1:
        return f"np.dot({x}, {y})"
    lfree, rfree = _free_dims(lhs.ndim, lc, lb), _free_dims(rhs.ndim, rc, rb)
    size = lambda aval, dims: int(np.prod([aval.shape[d] for d in dims], dtype=np.int64))  # noqa
    b = (size(lhs, lb),) if lb else ()
    m, k, n = size(lhs, lfree), size(lhs, lc), size(rhs, rfree)
    x = _as_matrix(x, lhs, list(lb) + list(lfree) + list(lc), b + (m, k))
    y = _as_matrix(y, rhs, list(rb) + list(rc) + list(rfree), b + (k, n))
    if tuple(out.shape) != b + (m, n):
        return f"np.matmul({x}, {y}).reshape({tuple(out.shape)})"
    buf = ctx.output_buffer()          # a reused buffer: no allocation, no page faults
    return f"np.matmul({x}, {y}{', out=' + buf if buf else ''})"


def _as_matrix(x, aval, order, shape):
    if order != list(range(aval.ndim)):
        x = f"{x}.transpose({tuple(order)})"
    if tuple(aval.shape[d] for d in order) != tuple(shape):
        x = f"{x}.reshape({tuple(shape)})"
    return x


dot_general_p.def_lowering(Elementwise(_dot_general_scalar,
                                       fallback=Driver(_dot_general_matmul, fresh_result=True),
                                       index_maps=_dot_general_index_maps))
dot_general_p.def_loop_lowering(loop_lowering.matmul)
transpose_p.def_simplify(transposed_product(dot_general_p))


def _canonical_dims(dims, ndim, which, name):
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"lax.dot_general: {name} dimensions of {which} must be ints, got "
                            f"{tuple(dims)}")
        out.append(int(d) + ndim if -ndim <= d < 0 else int(d))
    return tuple(out)


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """General tensor contraction (jax.lax.dot_general)."""
    lhs, rhs = resolve_dtypes("dot_general", (lhs, rhs))
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise TypeError("lax.dot_general: dimension_numbers must be ((lhs_contracting, "
                        "rhs_contracting), (lhs_batch, rhs_batch)), got "
                        f"{dimension_numbers!r}") from None
    ln, rn = get_aval(lhs).ndim, get_aval(rhs).ndim
    dn = ((_canonical_dims(lc, ln, "lhs", "contracting"),
           _canonical_dims(rc, rn, "rhs", "contracting")),
          (_canonical_dims(lb, ln, "lhs", "batch"), _canonical_dims(rb, rn, "rhs", "batch")))
    if preferred_element_type is not None:
        preferred_element_type = dtypes.canonicalize(preferred_element_type)
        if preferred_element_type == get_aval(lhs).dtype:
            preferred_element_type = None
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, precision=precision,
                              preferred_element_type=preferred_element_type)


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Vector/matrix product (jax.lax.dot): contracts lhs's last dimension with rhs's first."""
    ln, rn = get_aval(lhs).ndim, get_aval(rhs).ndim
    if ln not in (1, 2) or rn not in (1, 2):
        raise TypeError(f"lax.dot expects operands of rank 1 or 2, got ranks {ln} and {rn}; use "
                        "lax.dot_general for other ranks")
    return dot_general(lhs, rhs, (((ln - 1,), (0,)), ((), ())), precision=precision,
                       preferred_element_type=preferred_element_type)
