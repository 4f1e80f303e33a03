"""Windowed reductions: pooling (reduce_window_sum / _max / _min) and the select-and-gather /
select-and-scatter pair that carries max and min pooling's derivatives.

Geometry, per operand axis (the same for every primitive here, and for convolutions):

    the operand is first dilated (base_dilation - 1 holes between elements), then padded by
    (low, high) (negative amounts crop), then windows of window_dimensions elements, spaced
    window_dilation apart, start every window_strides elements:

        out[i] = reduce over k of X[i * stride + k * window_dilation]

Holes and padding hold the reduction's identity (0 for sum, -inf / the dtype's lowest for max).

Derivatives of max / min pooling follow one element per window (select-and-scatter, as XLA
does): the FIRST maximal (minimal) element of the window in row-major window order, or the
first NaN if the window holds one. With ties only that element gets the gradient: unlike
reduce_max, which spreads it evenly over ties. A window made only of padding selects a padding
position, which carries no derivative.

Every primitive here is linear in its first operand except max/min pooling; batching never
loops: the batch axis becomes one more window axis of size 1.
"""
import math

import numpy as np

from ..core.aval import ShapedArray, aval_of_value
from ..core.primitive import Cost, Primitive, Zero, is_undefined
from ..core.trace import get_aval
from . import _sparsity_rules as _sparsity
from . import elementwise as el
from . import _window_kernels    # the jit lowerings (Numba kernels, compiled on first use)
from ._batching import batch_size, bdim_at
from .elementwise import convert_element_type, select_n
from .shape import _pad_impl, broadcast_in_dim, pad, slice as lax_slice, zeros_like_aval
from ..backend.lowering import Driver, highest, lowest

__all__ = ["reduce_window", "padtype_to_pads"]


# --- geometry ------------------------------------------------------------------------------------

def dilated_size(n, dilation):
    return 0 if n == 0 else (n - 1) * dilation + 1


def window_out_size(n, k, stride, lo, hi, base_dilation, window_dilation):
    """Number of windows along one axis."""
    padded = dilated_size(n, base_dilation) + lo + hi
    span = dilated_size(k, window_dilation)
    return 0 if padded < span else (padded - span) // stride + 1


def transposed_geometry(n, k, stride, lo, base_dilation, window_dilation, n_out):
    """Per-axis (stride, (low, high), base_dilation) of the windowed operation that maps a
    cotangent of n_out windows back onto the n operand elements, with the same window
    dimension and window_dilation (and the kernel reversed, for convolutions).

    out[i] reads X[i*s + k*d] (X dilated by b, padded by lo). Transposed, operand position
    lo + j*b collects ct[i] for i*s + k*d = lo + j*b: dilate ct by s, pad it by span-1-lo on
    the low side, and read it with stride b; the high padding makes exactly n windows."""
    span = dilated_size(k, window_dilation)
    lo_t = span - 1 - lo
    hi_t = (n - 1) * base_dilation - (n_out - 1) * stride + lo
    return base_dilation, (lo_t, hi_t), stride


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """(low, high) padding per axis for 'VALID' or 'SAME' (jax.lax.padtype_to_pads): 'SAME'
    makes ceil(n / stride) windows, with the odd extra element of padding on the high side."""
    if not isinstance(padding, str):
        raise TypeError(f"padtype_to_pads: padding must be 'SAME', 'SAME_LOWER' or 'VALID', got "
                        f"{padding!r}")
    kind = padding.upper()
    if kind == "VALID":
        return tuple((0, 0) for _ in in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"padding must be 'SAME', 'SAME_LOWER' or 'VALID' (or explicit (low, "
                         f"high) pairs), got {padding!r}")
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if kind == "SAME" else (large, small))
    return tuple(pads)


def _pad_config(padding, base_dilation):
    return tuple((lo, hi, b - 1) for (lo, hi), b in zip(padding, base_dilation))


def padded(x, fill, padding, base_dilation):
    """The operand dilated and padded with `fill` (negative padding crops)."""
    if all(lo == 0 and hi == 0 for lo, hi in padding) and all(b == 1 for b in base_dilation):
        return np.asarray(x)          # nothing to do: no copy (pooling's common case)
    return _pad_impl(np.asarray(x), np.asarray(fill, np.asarray(x).dtype),
                     padding_config=_pad_config(padding, base_dilation))


def windows(x, fill, window_dimensions, window_strides, padding, base_dilation,
            window_dilation):
    """A read-only view of shape (*out_shape, *window_dimensions) of the windows of x."""
    xp = padded(x, fill, padding, base_dilation)
    spans = tuple(dilated_size(k, d) for k, d in zip(window_dimensions, window_dilation))
    if any(p < s for p, s in zip(xp.shape, spans)):
        # No window fits: an empty result (reductions of it are never taken).
        out = tuple(window_out_size(n, k, s, lo, hi, b, d) for n, k, s, (lo, hi), b, d in
                    zip(np.shape(x), window_dimensions, window_strides, padding, base_dilation,
                        window_dilation))
        return np.zeros(out + tuple(window_dimensions), xp.dtype)
    view = np.lib.stride_tricks.sliding_window_view(xp, spans)
    steps = tuple(slice(None, None, s) for s in window_strides) + \
        tuple(slice(None, None, d) for d in window_dilation)
    return view[steps]


# --- parameters: checked once, shared by every primitive here -----------------------------------

GEOMETRY = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")


def _check_geometry(name, aval, window_dimensions, window_strides, padding, base_dilation,
                    window_dilation):
    nd = aval.ndim
    for what, v in (("window_dimensions", window_dimensions), ("window_strides", window_strides),
                    ("base_dilation", base_dilation), ("window_dilation", window_dilation)):
        if len(v) != nd:
            raise TypeError(f"lax.{name}: {what} {tuple(v)} needs one entry per axis of the "
                            f"operand {aval.str_short()}")
        if any(int(e) < 1 for e in v):
            raise ValueError(f"lax.{name}: {what} must be positive, got {tuple(v)}")
    if len(padding) != nd or any(len(p) != 2 for p in padding):
        raise TypeError(f"lax.{name}: padding {tuple(padding)} needs one (low, high) pair per "
                        f"axis of the operand {aval.str_short()}")
    return tuple(window_out_size(n, k, s, lo, hi, b, d) for n, k, s, (lo, hi), b, d in
                 zip(aval.shape, window_dimensions, window_strides, padding, base_dilation,
                     window_dilation))


def _pool_cost(x, **geometry):
    out = _check_geometry("reduce_window", x, **geometry)
    n_out = math.prod(out)
    return Cost(float(n_out * math.prod(geometry["window_dimensions"])),
                (x.size + n_out) * x.dtype.itemsize)


def _add_window_axis(geometry, at):
    """The geometry with a size-1 window axis at position `at` (a batch axis: each window
    sees one batch member)."""
    g = dict(geometry)
    for key, unit in (("window_dimensions", 1), ("window_strides", 1), ("base_dilation", 1),
                      ("window_dilation", 1), ("padding", (0, 0))):
        v = list(g[key])
        v.insert(at, unit)
        g[key] = tuple(v)
    return g


def _transpose_geometry(operand_shape, out_shape, geometry):
    g = {"window_dimensions": geometry["window_dimensions"],
         "window_dilation": geometry["window_dilation"]}
    strides, pads, base = [], [], []
    for n, k, s, (lo, _), b, d, m in zip(operand_shape, geometry["window_dimensions"],
                                         geometry["window_strides"], geometry["padding"],
                                         geometry["base_dilation"], geometry["window_dilation"],
                                         out_shape):
        st, p, bd = transposed_geometry(n, k, s, lo, b, d, m)
        strides.append(st)
        pads.append(p)
        base.append(bd)
    g.update(window_strides=tuple(strides), padding=tuple(pads), base_dilation=tuple(base))
    return g


def _window_axes(ndim):
    return tuple(range(ndim, 2 * ndim))


# --- reduce_window_sum / max / min ---------------------------------------------------------------

def _pool_rule(name, kinds):
    def rule(x, **geometry):
        if x.dtype.kind not in kinds:
            raise TypeError(f"lax.{name} does not accept {x.dtype.name} operands")
        return ShapedArray(_check_geometry(name, x, **geometry), x.dtype, x.weak_type)
    return rule


def _pool_impl(rule, reduce, fill):
    def impl(x, **geometry):
        x = np.asarray(x)
        rule(aval_of_value(x), **geometry)   # eager calls check their parameters too
        w = windows(x, fill(x.dtype), **geometry)
        return np.asarray(reduce(w, axis=_window_axes(x.ndim), dtype=x.dtype) if
                          reduce is np.sum else reduce(w, axis=_window_axes(x.ndim)),
                          dtype=x.dtype)
    return impl


def _pool_batch(prim):
    def batch(args, dims, **geometry):
        (x,), (d,) = args, dims
        return prim.bind(x, **_add_window_axis(geometry, d)), d
    prim.def_batch(batch)
    prim.def_cost(_pool_cost)


_sum_rule = _pool_rule("reduce_window_sum", "iufc")
reduce_window_sum_p = Primitive(
    "reduce_window_sum", impl=_pool_impl(_sum_rule, np.sum, lambda d: 0), shape_rule=_sum_rule,
    jac_structure="0/1 banded (each output sums the operand elements of its window)")


@reduce_window_sum_p.def_jvp
def _reduce_window_sum_jvp(primals, tangents, **geometry):
    (x,), (t,) = primals, tangents
    out = reduce_window_sum_p.bind(x, **geometry)
    return out, (Zero.like(out) if isinstance(t, Zero) else
                 reduce_window_sum_p.bind(t, **geometry))


@reduce_window_sum_p.def_transpose
def _reduce_window_sum_transpose(ct, x, **geometry):
    aval = x.aval
    if isinstance(ct, Zero):
        return [Zero(aval)]
    out_shape = get_aval(ct).shape
    if aval.size == 0 or math.prod(out_shape) == 0:
        return [zeros_like_aval(aval)]
    # The transpose sums, for each operand element, the cotangents of the windows holding it:
    # the same windowed sum over the cotangent, with strides and base dilation swapped.
    return [reduce_window_sum_p.bind(ct, **_transpose_geometry(aval.shape, out_shape,
                                                               geometry))]


_pool_batch(reduce_window_sum_p)


def _declare_extremum(name, ufunc, fill, select):
    rule = _pool_rule(name, "iufb")
    prim = Primitive(name, impl=_pool_impl(rule, ufunc, fill), shape_rule=rule,
                     jac_structure=f"selection (the window's first {select}imal element)")

    @prim.def_jvp
    def jvp(primals, tangents, **geometry):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, **geometry)
        if isinstance(t, Zero):
            return out, Zero.like(out)
        return out, select_and_gather_add_p.bind(t, x, select=select, **geometry)

    _pool_batch(prim)
    return prim


reduce_window_max_p = _declare_extremum("reduce_window_max", np.max, lowest, "max")
reduce_window_min_p = _declare_extremum("reduce_window_min", np.min, highest, "min")


# --- select_and_gather_add / select_and_scatter_add ---------------------------------------------

def _selection(x, select, geometry):
    """For each window: the flat (row-major) position in the window of its first maximal
    (minimal) element, or of its first NaN."""
    x = np.asarray(x)
    fill = lowest(x.dtype) if select == "max" else highest(x.dtype)
    w = windows(x, fill, **geometry)
    out_shape = w.shape[:x.ndim]
    flat = w.reshape(out_shape + (-1,))
    pick = np.argmax if select == "max" else np.argmin
    return pick(flat, axis=-1) if flat.shape[-1] else np.zeros(out_shape, np.intp)


def _select_and_gather_add_impl(t, x, *, select, **geometry):
    t = np.asarray(t)
    idx = _selection(x, select, geometry)
    wt = windows(t, 0, **geometry)
    flat = wt.reshape(idx.shape + (-1,))
    return np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0].astype(t.dtype)


def _select_and_scatter_add_impl(s, x, *, select, **geometry):
    s, x = np.asarray(s), np.asarray(x)
    idx = _selection(x, select, geometry)
    grid = np.zeros(padded(x, 0, geometry["padding"], geometry["base_dilation"]).shape, s.dtype)
    # Each window position k adds, at the strided slice of the padded grid that position reads,
    # the cotangents of the windows that selected it: one numpy add per window position.
    for flat_k, k in enumerate(np.ndindex(*geometry["window_dimensions"])):
        if not idx.size:
            break
        part = np.where(idx == flat_k, s, 0).astype(s.dtype)
        start = [kk * d for kk, d in zip(k, geometry["window_dilation"])]
        region = tuple(slice(b, b + (m - 1) * st + 1, st) for b, m, st in
                       zip(start, idx.shape, geometry["window_strides"]))
        grid[region] += part
    return unpadded(grid, geometry["padding"], geometry["base_dilation"])


def unpadded(grid, padding, base_dilation):
    """Back from a padded, dilated grid to the operand: undo the padding, skip the holes."""
    cropped = _pad_impl(grid, np.zeros((), grid.dtype),
                        padding_config=tuple((-lo, -hi, 0) for lo, hi in padding))
    return np.ascontiguousarray(cropped[tuple(slice(None, None, b) for b in base_dilation)])


def _select_rule(name, out_is_operand):
    def rule(t, x, *, select, **geometry):
        if select not in ("max", "min"):
            raise ValueError(f"lax.{name}: select must be 'max' or 'min', got {select!r}")
        if t.dtype != x.dtype or t.dtype.kind not in "f":
            raise TypeError(f"lax.{name}: needs floating operands of one dtype, got "
                            f"{t.str_short()} and {x.str_short()}")
        out = _check_geometry(name, x, **geometry)
        want = x.shape if out_is_operand else out
        if t.shape != (out if out_is_operand else x.shape):
            raise TypeError(f"lax.{name}: first operand {t.str_short()} must have shape "
                            f"{out if out_is_operand else x.shape}")
        return ShapedArray(want, t.dtype, False)
    return rule


select_and_gather_add_p = Primitive(
    "select_and_gather_add", impl=_select_and_gather_add_impl,
    shape_rule=_select_rule("select_and_gather_add", False),
    jac_structure="selection in t (one element per window, chosen by x's extremum); zero in x")
select_and_scatter_add_p = Primitive(
    "select_and_scatter_add", impl=_select_and_scatter_add_impl,
    shape_rule=_select_rule("select_and_scatter_add", True),
    jac_structure="0/1 scatter in s (transpose of select_and_gather_add); zero in x")


def _declare_select_rules(prim, partner):
    @prim.def_jvp
    def jvp(primals, tangents, **params):
        # Linear in the first operand; the selection is piecewise constant in x, so x's
        # tangent contributes nothing.
        (t, x), (tt, _) = primals, tangents
        out = prim.bind(t, x, **params)
        return out, (Zero.like(out) if isinstance(tt, Zero) else prim.bind(tt, x, **params))

    @prim.def_transpose
    def transpose(ct, t, x, **params):
        if is_undefined(x):
            raise ValueError(f"lax.{prim.name} is linear in its first operand only")
        if isinstance(ct, Zero):
            return [Zero(t.aval), None]
        return [partner().bind(ct, x, **params), None]

    @prim.def_batch
    def batch(args, dims, *, select, **geometry):
        size = batch_size(args, dims)
        t, x = (bdim_at(a, d, size, 0) for a, d in zip(args, dims))
        return prim.bind(t, x, select=select, **_add_window_axis(geometry, 0)), 0

    @prim.def_cost
    def cost(t, x, *, select, **geometry):
        out = _check_geometry(prim.name, x, **geometry)
        n_out = math.prod(out)
        return Cost(float(n_out * math.prod(geometry["window_dimensions"])),
                    (2 * x.size + 2 * n_out) * x.dtype.itemsize)


_declare_select_rules(select_and_gather_add_p, lambda: select_and_scatter_add_p)
_declare_select_rules(select_and_scatter_add_p, lambda: select_and_gather_add_p)


# --- sparsity: each output depends on the operand elements of its window ------------------------

def _window_pairs(operand_aval, geometry):
    """(window, operand element) pairs: the windows of the operand's 1-based element numbers
    (padding and dilation holes hold 0, no element)."""
    w = windows(_sparsity.numbers(operand_aval), 0, **geometry)
    flat = w.reshape(-1, math.prod(geometry["window_dimensions"]))
    rows, k = np.nonzero(flat)
    return rows, flat[rows, k] - 1, flat.shape[0]


def _pool_sparsity(ins, out_avals, select=None, **geometry):
    # Any element of a window may be its extremum: the whole window (a global pattern). For
    # select_and_gather_add the selector x has a zero derivative: t's window.
    rows, cols, n_out = _window_pairs(ins[0].aval, geometry)
    return [_sparsity.pairs(ins[0].pattern, rows, cols, n_out)]


def _scatter_window_sparsity(ins, out_avals, *, select, **geometry):
    # The transpose: an operand position gathers the source of every window that holds it.
    windows_of, positions, _ = _window_pairs(out_avals[0], geometry)
    return [_sparsity.pairs(ins[0].pattern, positions, windows_of, out_avals[0].size)]


for _p in (reduce_window_sum_p, reduce_window_max_p, reduce_window_min_p,
           select_and_gather_add_p):
    _p.def_sparsity(_pool_sparsity)
select_and_scatter_add_p.def_sparsity(_scatter_window_sparsity)


# --- jit lowerings ---------------------------------------------------------------------------

for _p in (reduce_window_sum_p, reduce_window_max_p, reduce_window_min_p,
           select_and_gather_add_p, select_and_scatter_add_p):
    _p.def_lowering(Driver(_window_kernels.emitter(_p, padded, unpadded)))


# --- the lax function ----------------------------------------------------------------------------

def _int_tuple(name, what, v, n):
    if v is None:
        return (1,) * n
    try:
        out = tuple(int(e) for e in v)
    except TypeError:
        raise TypeError(f"lax.{name}: {what} must be a sequence of ints, got {v!r}") from None
    if len(out) != n:
        raise TypeError(f"lax.{name}: {what} {out} needs {n} entries (one per operand axis)")
    return out


# Binary functions reduce_window recognizes as a sum, max or min (one primitive instead of an
# unrolled fold). Layers above lax (functrans.numpy) add their own with register_monoid.
_MONOIDS = {el.add: ("sum", 0), el.max: ("max", None), el.min: ("min", None)}


def register_monoid(computation, kind):
    """Let reduce_window treat `computation` as the 'sum', 'max' or 'min' monoid."""
    _MONOIDS[computation] = {"sum": ("sum", 0), "max": ("max", None), "min": ("min", None)}[kind]


def _known_computation(computation):
    return _MONOIDS.get(computation)


def reduce_window(operand, init_value, computation, window_dimensions, window_strides=None,
                  padding="VALID", base_dilation=None, window_dilation=None):
    """Reduce each window of `operand` with `computation` (jax.lax.reduce_window).

    `computation` is a binary function, e.g. lax.add, lax.max or lax.min (these, with their
    identity as init_value, bind one primitive with derivatives that are windowed operations
    themselves); any other binary function of functrans operations works too, unrolled over the
    window's positions. As in XLA, padding and dilation holes hold init_value, and init_value
    is combined into every window once. padding: 'SAME', 'VALID' or one (low, high) pair per
    axis."""
    if isinstance(operand, (tuple, list)):
        raise TypeError("lax.reduce_window: functrans takes one operand array, not a pytree of "
                        "operands; reduce each operand separately")
    aval = get_aval(operand)
    nd = aval.ndim
    wd = _int_tuple("reduce_window", "window_dimensions", window_dimensions, nd)
    ws = _int_tuple("reduce_window", "window_strides", window_strides, nd)
    bd = _int_tuple("reduce_window", "base_dilation", base_dilation, nd)
    wdil = _int_tuple("reduce_window", "window_dilation", window_dilation, nd)
    if isinstance(padding, str):
        if any(b != 1 for b in bd):
            raise ValueError("lax.reduce_window: string padding with base_dilation is not "
                             "defined; pass explicit (low, high) pairs")
        pads = padtype_to_pads(aval.shape, [dilated_size(k, d) for k, d in zip(wd, wdil)], ws,
                               padding)
    else:
        try:
            pads = tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise TypeError(f"lax.reduce_window: padding must be 'SAME', 'VALID' or (low, high) "
                            f"pairs, got {padding!r}") from None
    geometry = dict(window_dimensions=wd, window_strides=ws, padding=pads, base_dilation=bd,
                    window_dilation=wdil)
    known = _known_computation(computation)
    init = np.asarray(init_value) if not hasattr(init_value, "aval") else None
    if known is not None and init is not None and init.ndim == 0:
        kind, _ = known
        prim = {"sum": reduce_window_sum_p, "max": reduce_window_max_p,
                "min": reduce_window_min_p}[kind]
        dtype = aval.dtype
        identity = {"sum": 0, "max": lowest(dtype), "min": highest(dtype)}[kind]
        if init.astype(dtype) == np.asarray(identity, dtype):
            return prim.bind(operand, **geometry)
        if kind != "sum":
            # max/min are idempotent: padding with init and combining it once are the same as
            # padding with the identity and combining init once.
            return computation(prim.bind(operand, **geometry), convert_element_type(init, dtype))
    # As JAX computes it, padding and dilation holes are skipped (they act as the identity)
    # and init_value is combined into each window once.
    init = convert_element_type(init_value, aval.dtype)
    out_shape = _check_geometry("reduce_window", aval, **geometry)
    if known is not None and known[0] == "sum":
        return computation(reduce_window_sum_p.bind(operand, **geometry), init)
    # Any other computation: fold the window's positions one at a time, each a strided slice
    # of the padded operand, skipping (by a static mask) positions that fall on padding.
    x = pad(operand, init, [(lo, hi, b - 1) for (lo, hi), b in zip(pads, bd)])
    real = windows(np.ones(aval.shape, bool), False, **geometry)
    acc = broadcast_in_dim(init, out_shape, ())
    for k in np.ndindex(*wd):
        start = [kk * d for kk, d in zip(k, wdil)]
        limit = [s0 + (m - 1) * s + 1 if m else s0 for s0, m, s in zip(start, out_shape, ws)]
        step = computation(acc, lax_slice(x, start, limit, ws))
        mask = np.ascontiguousarray(real[(Ellipsis,) + k])
        acc = step if mask.all() else select_n(mask, acc, step)
    return acc
