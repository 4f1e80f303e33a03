"""Reductions over axes (reduce_sum, reduce_prod, reduce_max, reduce_min), index reductions
(argmax, argmin) and cumulative reductions along one axis (cumsum, cumprod, cummax, cummin).

Conventions:
  * `axes` params are tuples of non-negative ints (the lax functions accept negative ones and
    normalize them); the output keeps the operand's dtype and weak type. Sums and products
    accumulate in the operand's dtype, with numpy's pairwise summation.
  * reduce_max/min at ties share the tangent equally among the maximal elements (as JAX does);
    empty reductions give the identity (-inf/+inf, or the dtype's min/max for integers).
  * argmax/argmin return the first maximal index; a NaN counts as the maximum (and the
    minimum), so the first NaN wins, as in numpy.
  * reduce_prod's JVP uses exclusive products (the product of all *other* elements, from a
    forward and a reverse exclusive cumprod), so it is exact when the input holds zeros.
  * cumprod/cummax/cummin JVPs run a log-depth (Hillis-Steele) prefix scan on
    (value, tangent) pairs, also exact with zeros. At ties, cummax/cummin pass on the tangent of
    the earliest maximal (minimal) element in scan order; tangents past a NaN are unspecified.
Batching rules only renumber axes around the batch axis: nothing is moved.
"""
import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray, aval_of_value
from ..core.primitive import Cost, Primitive, Zero
from ..core.trace import get_aval
from . import _forward
from . import _sparsity_rules as _sparsity
from .elementwise import add, convert_element_type, div, eq, ge, le, mul, select_n
from .shape import broadcast_in_dim, pad, reshape, reshape_p, transpose
from ..backend.lowering import (Reduce, highest, impl_call, lowest, nan_max, nan_min,
                                numpy_minmax, numpy_reduce, reduction_of_unit_axes)

__all__ = ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "argmax", "argmin",
           "cumsum", "cumprod", "cummax", "cummin"]

NUMBER_KINDS = "iufc"
ORDERED_KINDS = "biuf"
_KIND_WORDS = {NUMBER_KINDS: "numeric (not boolean)",
               ORDERED_KINDS: "real (boolean, integer or floating-point; not complex)"}


# --- shared pieces -------------------------------------------------------------------------------

def _check_kind(name, aval, kinds):
    if aval.dtype.kind not in kinds:
        raise TypeError(f"lax.{name} requires a {_KIND_WORDS[kinds]} operand, got "
                        f"{aval.str_short()}")


def _checked(shape_rule, fn):
    """The numpy impl, first running the shape rule: eagerly no shape rule runs otherwise, and
    numpy would accept (and promote) what lax refuses. Overflow is silent, as in JAX."""
    def impl(*args, **params):
        shape_rule(*map(aval_of_value, args), **params)
        with np.errstate(all="ignore"):
            return fn(*args, **params)

    def unchecked(*args, **params):     # for programs whose equations the rule checked
        with np.errstate(all="ignore"):
            return fn(*args, **params)
    impl.unchecked = unchecked
    unchecked.quiet_inner = fn  # for callers that hold one np.errstate around many calls
    return impl


def _kept(ndim, axes):
    """The dimensions a reduction over `axes` keeps, in order."""
    return tuple(d for d in range(ndim) if d not in axes)


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _canonical_axis(name, what, axis, ndim):
    if not _is_int(axis):
        raise TypeError(f"lax.{name}: {what} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"lax.{name}: {what} {axis} is out of range for an operand of rank "
                         f"{ndim}")
    return int(axis) % ndim


def _canonical_axes(name, axes, ndim):
    try:
        items = tuple(axes)
    except TypeError:
        raise TypeError(f"lax.{name}: axes must be a sequence of ints, got {axes!r}") from None
    out = tuple(_canonical_axis(name, "axis", a, ndim) for a in items)
    if len(set(out)) != len(out):
        raise ValueError(f"lax.{name}: axes {items} name an axis twice")
    return tuple(sorted(out))


def _reduce_shape_rule(name, kinds):
    def rule(x, *, axes):
        _check_kind(name, x, kinds)
        if not isinstance(axes, tuple) or not all(_is_int(a) for a in axes):
            raise TypeError(f"lax.{name}: axes must be a tuple of ints, got {axes!r}")
        if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"lax.{name}: axes {axes} must be distinct axes of the operand "
                             f"{x.str_short()} (in range(0, {x.ndim}))")
        return ShapedArray(tuple(x.shape[d] for d in _kept(x.ndim, axes)), x.dtype,
                           x.weak_type)
    return rule


def _reduce_batch(prim):
    def rule(args, dims, *, axes):
        (x,), (bd,) = args, dims
        new_axes = tuple(a + (a >= bd) for a in axes)
        out_dim = bd - sum(a < bd for a in axes)
        return prim.bind(x, axes=new_axes), out_dim
    prim.def_batch(rule)


def _reduce_cost(prim):
    def cost(x, *, axes):
        out = prim.shape_rule(x, axes=axes)
        # One combining operation per input element (minus one per output, ignored).
        return Cost(float(x.size), (x.size + out.size) * x.dtype.itemsize)
    prim.def_cost(cost)


def _broadcast_back(y, aval, axes):
    """The reduced value y broadcast back to the operand's shape (aval)."""
    return broadcast_in_dim(y, aval.shape, _kept(aval.ndim, axes))


# --- reduce_sum ----------------------------------------------------------------------------------

def _reduce_sum_impl(x, *, axes):
    x = np.asarray(x)
    return np.asarray(np.sum(x, axis=axes, dtype=x.dtype))


_reduce_sum_rule = _reduce_shape_rule("reduce_sum", NUMBER_KINDS)
reduce_sum_p = _forward.define(_forward.reduce_sum_p,
                               impl=_checked(_reduce_sum_rule, _reduce_sum_impl),
                               shape_rule=_reduce_sum_rule,
                               jac_structure="summation (a row of ones per output element)")


reduce_sum_p.def_sparsity(_sparsity.reduce_axes)   # each output: its group of elements


@reduce_sum_p.def_jvp
def _reduce_sum_jvp(primals, tangents, *, axes):
    return reduce_sum_p.bind(primals[0], axes=axes), reduce_sum_p.bind(tangents[0], axes=axes)


@reduce_sum_p.def_transpose
def _reduce_sum_transpose(ct, x, *, axes):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [_broadcast_back(ct, x.aval, axes)]


reduce_sum_p.def_lowering(Reduce(lambda d: 0, lambda acc, x, d: f"{acc} + {x}",
                                 numpy_reduce("add")))
reduce_sum_p.def_simplify(reduction_of_unit_axes(reshape_p))


_reduce_batch(reduce_sum_p)
_reduce_cost(reduce_sum_p)


def reduce_sum(operand, axes):
    """Sum over `axes` (jax.lax.reduce_sum)."""
    return reduce_sum_p.bind(operand, axes=_canonical_axes("reduce_sum", axes,
                                                           get_aval(operand).ndim))


# --- reduce_prod ---------------------------------------------------------------------------------

def _reduce_prod_impl(x, *, axes):
    x = np.asarray(x)
    return np.asarray(np.prod(x, axis=axes, dtype=x.dtype))


_reduce_prod_rule = _reduce_shape_rule("reduce_prod", NUMBER_KINDS)
reduce_prod_p = Primitive("reduce_prod", impl=_checked(_reduce_prod_rule, _reduce_prod_impl),
                          shape_rule=_reduce_prod_rule,
                          jac_structure="dense within each reduced group (products of the others)")


def _shift(x, axis, offset, fill, reverse):
    """x moved `offset` places along `axis` (towards the end, or the start if reverse), the
    vacated places holding `fill`: out[k] = x[k - offset] (x[k + offset] if reverse)."""
    config = [(0, 0, 0)] * get_aval(x).ndim
    config[axis] = (-offset, offset, 0) if reverse else (offset, -offset, 0)
    return pad(x, fill, config)


def _exclusive_products(x, axis):
    """For each element along `axis`, the product of all the other elements (zeros welcome)."""
    before = _shift(cumprod(x, axis), axis, 1, 1, reverse=False)
    after = _shift(cumprod(x, axis, reverse=True), axis, 1, 1, reverse=True)
    return mul(before, after)


reduce_prod_p.def_sparsity(_sparsity.reduce_axes)


@reduce_prod_p.def_jvp
def _reduce_prod_jvp(primals, tangents, *, axes):
    (x,), (t,) = primals, tangents
    out = reduce_prod_p.bind(x, axes=axes)
    aval = get_aval(x)
    if not axes:
        return out, t
    if any(aval.shape[a] == 0 for a in axes):   # empty products are the constant 1
        return out, Zero.like(out)
    if len(axes) > 1:
        # Gather the reduced axes into one trailing axis, so each group is a single line.
        kept = _kept(aval.ndim, axes)
        perm = kept + tuple(axes)
        line = tuple(aval.shape[d] for d in kept) + (int(np.prod([aval.shape[a] for a in axes])),)
        x = reshape(transpose(x, perm), line)
        t = reshape(transpose(t, perm), line)
        axes = (len(line) - 1,)
    # d prod = sum_i t_i * prod_{j != i} x_j: linear in t, with weights from the primal only.
    return out, reduce_sum_p.bind(mul(t, _exclusive_products(x, axes[0])), axes=axes)


reduce_prod_p.def_lowering(Reduce(lambda d: 1, lambda acc, x, d: f"{acc} * {x}",
                                  numpy_reduce("multiply")))
reduce_prod_p.def_simplify(reduction_of_unit_axes(reshape_p))


_reduce_batch(reduce_prod_p)
_reduce_cost(reduce_prod_p)


def reduce_prod(operand, axes):
    """Product over `axes` (jax.lax.reduce_prod)."""
    return reduce_prod_p.bind(operand, axes=_canonical_axes("reduce_prod", axes,
                                                            get_aval(operand).ndim))


# --- reduce_max, reduce_min ----------------------------------------------------------------------

def _minmax_impl(ufunc, identity):
    def impl(x, *, axes):
        x = np.asarray(x)
        # The identity as `initial` makes empty reductions well defined (as in XLA).
        return np.asarray(ufunc.reduce(x, axis=axes, initial=identity(x.dtype)), dtype=x.dtype)
    return impl


def _declare_minmax(name, ufunc, identity):
    rule = _reduce_shape_rule(name, ORDERED_KINDS)
    prim = Primitive(name, impl=_checked(rule, _minmax_impl(ufunc, identity)), shape_rule=rule,
                     jac_structure="selection (of the extremal element, averaged over ties)")

    @prim.def_jvp
    def jvp(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axes=axes)
        aval = get_aval(x)
        # Weights 1/count on the elements equal to the extremum, 0 elsewhere: computed from the
        # primal only, so the tangent is linear in t.
        hits = convert_element_type(eq(x, _broadcast_back(out, aval, axes)), aval.dtype)
        counts = reduce_sum_p.bind(hits, axes=axes)
        weights = div(hits, _broadcast_back(counts, aval, axes))
        return out, reduce_sum_p.bind(mul(t, weights), axes=axes)

    # Any element of a group may be the extremum: the whole group (a global pattern).
    prim.def_sparsity(_sparsity.reduce_axes)
    _reduce_batch(prim)
    _reduce_cost(prim)
    return prim


reduce_max_p = _declare_minmax("reduce_max", np.maximum, lowest)
reduce_max_p.def_lowering(Reduce(
    lowest, lambda acc, x, d: nan_max(x, acc) if d.kind == "f" else f"max({acc}, {x})",
    numpy_minmax("maximum", lowest)))
reduce_max_p.def_simplify(reduction_of_unit_axes(reshape_p))
reduce_min_p = _declare_minmax("reduce_min", np.minimum, highest)
reduce_min_p.def_lowering(Reduce(
    highest, lambda acc, x, d: nan_min(x, acc) if d.kind == "f" else f"min({acc}, {x})",
    numpy_minmax("minimum", highest)))
reduce_min_p.def_simplify(reduction_of_unit_axes(reshape_p))


def reduce_max(operand, axes):
    """Maximum over `axes` (jax.lax.reduce_max); NaN propagates."""
    return reduce_max_p.bind(operand, axes=_canonical_axes("reduce_max", axes,
                                                           get_aval(operand).ndim))


def reduce_min(operand, axes):
    """Minimum over `axes` (jax.lax.reduce_min); NaN propagates."""
    return reduce_min_p.bind(operand, axes=_canonical_axes("reduce_min", axes,
                                                           get_aval(operand).ndim))


# --- argmax, argmin ------------------------------------------------------------------------------

def _arg_shape_rule(name):
    def rule(x, *, axis, index_dtype):
        _check_kind(name, x, ORDERED_KINDS)
        if not _is_int(axis) or not 0 <= axis < x.ndim:
            raise ValueError(f"lax.{name}: axis {axis!r} is not an axis of the operand "
                             f"{x.str_short()}")
        if x.shape[axis] == 0:
            raise ValueError(f"lax.{name}: the operand {x.str_short()} is empty along axis "
                             f"{axis}, which has no {name[3:]}imum")
        if not dtypes.is_integer(index_dtype):
            raise TypeError(f"lax.{name}: index_dtype must be an integer dtype, got "
                            f"{np.dtype(index_dtype).name}")
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], np.dtype(index_dtype), False)
    return rule


def _declare_arg(name, np_fn):
    def impl(x, *, axis, index_dtype):
        return np.asarray(np_fn(np.asarray(x), axis=axis)).astype(index_dtype)

    rule = _arg_shape_rule(name)
    prim = Primitive(name, impl=_checked(rule, impl), shape_rule=rule,
                     jac_structure="zero (integer output)")

    @prim.def_jvp
    def jvp(primals, tangents, **params):
        out = prim.bind(primals[0], **params)
        return out, Zero.like(out)

    prim.def_sparsity(_sparsity.zero)

    @prim.def_batch
    def batch(args, dims, *, axis, index_dtype):
        (x,), (bd,) = args, dims
        new_axis = axis + (axis >= bd)
        return prim.bind(x, axis=new_axis, index_dtype=index_dtype), bd - (new_axis < bd)

    @prim.def_cost
    def cost(x, *, axis, index_dtype):
        out_size = x.size // max(x.shape[axis], 1)
        return Cost(float(x.size), x.size * x.dtype.itemsize +
                    out_size * np.dtype(index_dtype).itemsize)

    def lax_fn(operand, axis, index_dtype):
        ndim = get_aval(operand).ndim
        return prim.bind(operand, axis=_canonical_axis(name, "axis", axis, ndim),
                         index_dtype=dtypes.canonicalize(index_dtype))
    return prim, lax_fn


# numpy's argmax/argmin already return the first NaN (NaN compares as the extremum there).
argmax_p, argmax = _declare_arg("argmax", np.argmax)
argmax_p.def_lowering(impl_call(argmax_p))
argmin_p, argmin = _declare_arg("argmin", np.argmin)
argmin_p.def_lowering(impl_call(argmin_p))
argmax.__doc__ = "Index of the first maximum along `axis` (jax.lax.argmax); NaN wins."
argmin.__doc__ = "Index of the first minimum along `axis` (jax.lax.argmin); NaN wins."


# --- cumulative reductions -----------------------------------------------------------------------

def _cumulative_shape_rule(name, kinds):
    def rule(x, *, axis, reverse):
        _check_kind(name, x, kinds)
        if not _is_int(axis) or not 0 <= axis < x.ndim:
            raise ValueError(f"lax.{name}: axis {axis!r} is not an axis of the operand "
                             f"{x.str_short()}")
        return x
    return rule


def _cumulative_impl(accumulate):
    def impl(x, *, axis, reverse):
        x = np.asarray(x)
        if reverse:
            return np.flip(accumulate(np.flip(x, axis), axis), axis)
        return accumulate(x, axis)
    return impl


def _declare_cumulative(name, accumulate, kinds, jac_structure):
    rule = _cumulative_shape_rule(name, kinds)
    prim = Primitive(name, impl=_checked(rule, _cumulative_impl(accumulate)), shape_rule=rule,
                     jac_structure=jac_structure)

    @prim.def_batch
    def batch(args, dims, *, axis, reverse):
        (x,), (bd,) = args, dims
        return prim.bind(x, axis=axis + (axis >= bd), reverse=reverse), bd

    # Element k of a line depends on the elements up to k (from k, if reverse): for cummax and
    # cummin, any of them may be the running extremum.
    prim.def_sparsity(_sparsity.along_axis)

    @prim.def_cost
    def cost(x, *, axis, reverse):
        return Cost(float(x.size), 2 * x.size * x.dtype.itemsize)

    def lax_fn(operand, axis=0, reverse=False):
        ndim = get_aval(operand).ndim
        if ndim == 0:
            raise TypeError(f"lax.{name} does not accept rank-0 operands")
        return prim.bind(operand, axis=_canonical_axis(name, "axis", axis, ndim),
                         reverse=bool(reverse))
    lax_fn.__name__ = name
    return prim, lax_fn


def _prefix_scan(combine, x, t, axis, reverse, fill):
    """Inclusive scan of (value, tangent) pairs along `axis` in log2(n) steps: at step s each
    position combines with the partial result s places earlier (in scan order). `fill` is the
    (value, tangent) pair that stands in before the start; combine must treat it as identity.
    Returns the scanned tangents (the values are the primitive's own output)."""
    n = get_aval(x).shape[axis]
    s = 1
    while s < n:
        earlier = (_shift(x, axis, s, fill[0], reverse), _shift(t, axis, s, fill[1], reverse))
        x, t = combine(earlier, (x, t))
        s *= 2
    return t


def _cumprod_combine(earlier, later):
    (a, da), (b, db) = earlier, later
    return mul(a, b), add(mul(da, b), mul(a, db))


def _extremum_combine(earlier_wins):
    def combine(earlier, later):
        (a, da), (b, db) = earlier, later
        # The fill value is NaN, which never wins a comparison: it acts as the identity.
        pick = earlier_wins(a, b)
        return select_n(pick, b, a), select_n(pick, db, da)
    return combine


def _cummax_combine(earlier, later):
    return _extremum_combine(ge)(earlier, later)


def _cummin_combine(earlier, later):
    return _extremum_combine(le)(earlier, later)


def _scan_jvp(prim, combine, fill):
    @prim.def_jvp
    def jvp(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axis=axis, reverse=reverse)
        return out, _prefix_scan(combine, x, t, axis, reverse, fill)


def _cumsum_accumulate(x, axis):
    return np.cumsum(x, axis=axis, dtype=x.dtype)


def _cumprod_accumulate(x, axis):
    return np.cumprod(x, axis=axis, dtype=x.dtype)


cumsum_p, cumsum = _declare_cumulative("cumsum", _cumsum_accumulate, NUMBER_KINDS,
                                       "lower triangular ones (upper if reverse)")
cumsum.__doc__ = "Cumulative sum along `axis` (jax.lax.cumsum); reverse sums from the end."


@cumsum_p.def_jvp
def _cumsum_jvp(primals, tangents, *, axis, reverse):
    return (cumsum_p.bind(primals[0], axis=axis, reverse=reverse),
            cumsum_p.bind(tangents[0], axis=axis, reverse=reverse))


@cumsum_p.def_transpose
def _cumsum_transpose(ct, x, *, axis, reverse):
    # The transpose of a lower triangular matrix of ones is an upper triangular one.
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


cumsum_p.def_lowering(impl_call(cumsum_p))


cumprod_p, cumprod = _declare_cumulative("cumprod", _cumprod_accumulate, NUMBER_KINDS,
                                         "lower triangular (upper if reverse)")
cumprod_p.def_lowering(impl_call(cumprod_p))
cumprod.__doc__ = "Cumulative product along `axis` (jax.lax.cumprod)."
_scan_jvp(cumprod_p, _cumprod_combine, (1, 0))

cummax_p, cummax = _declare_cumulative("cummax", np.maximum.accumulate, ORDERED_KINDS,
                                       "selection (each output picks one input)")
cummax_p.def_lowering(impl_call(cummax_p))
cummax.__doc__ = "Running maximum along `axis` (jax.lax.cummax); NaN propagates."
_scan_jvp(cummax_p, _cummax_combine, (np.nan, 0))

cummin_p, cummin = _declare_cumulative("cummin", np.minimum.accumulate, ORDERED_KINDS,
                                       "selection (each output picks one input)")
cummin_p.def_lowering(impl_call(cummin_p))
cummin.__doc__ = "Running minimum along `axis` (jax.lax.cummin); NaN propagates."
_scan_jvp(cummin_p, _cummin_combine, (np.nan, 0))
