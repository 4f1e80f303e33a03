"""Convolutions: conv_general_dilated, the one primitive behind lax.conv, conv_transpose,
conv_with_general_padding and functrans.numpy.convolve / correlate.

In the canonical layout (lhs N,C,spatial...; rhs O,I,spatial...; out N,O,spatial...), with one
spatial axis for brevity, and X = lhs dilated by lhs_dilation and padded by (low, high):

    out[n, o, i] = sum over c < C/G and k of
                   X[n, g(o)*C/G + c, i*stride + k*rhs_dilation] * rhs[o, c, k]

a cross-correlation (the kernel is not flipped), where g(o) = o // (O/G) is the feature group
of output feature o (G = feature_group_count). With batch_group_count B > 1, the lhs batch is
split into B groups instead, group-major (n = b*(N/B) + m), and output feature o of group
b = o // (O/B) reads lhs batch member b*(N/B) + m, giving an output batch of N/B.
dimension_numbers say where N, C (O, I) and the spatial axes sit in each array.

The primitive is bilinear; each of its two transposes is again a convolution (written out in
_transpose_lhs / _transpose_rhs): with respect to lhs, the cotangent convolved with the
spatially flipped kernel, whose in/out features are swapped, lhs_dilation = the strides; with
respect to rhs, lhs convolved with the cotangent acting as the kernel, the roles of batch and
feature axes exchanged. Batching folds the vmapped axis into the batch axis (a batched lhs),
into the output features (a batched rhs), or into feature groups (both batched).
"""
import math
from typing import NamedTuple

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray, aval_of_value
from ..core.primitive import Cost, Primitive, Zero, is_undefined
from ..core.trace import get_aval
from ._common import resolve_dtypes
from ._conv_kernels import conv_emitter
from . import _sparsity_rules as _sparsity
from .windowed import dilated_size, padded, padtype_to_pads, transposed_geometry, window_out_size
from ..backend.lowering import Driver
from ._batching import moveaxis
from .contraction import _out_dtype
from .elementwise import add_tangents, convert_element_type
from .shape import reshape, rev, transpose, zeros_like_aval

__all__ = ["ConvDimensionNumbers", "conv", "conv_dimension_numbers", "conv_general_dilated",
           "conv_transpose", "conv_with_general_padding"]


class ConvDimensionNumbers(NamedTuple):
    """Where each logical axis lives: lhs_spec = (batch axis, feature axis, spatial axes...),
    rhs_spec = (out-feature axis, in-feature axis, spatial axes...), out_spec like lhs_spec."""
    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


def _spec_from_string(lhs, rhs, out):
    """Axis permutations from strings such as ('NHWC', 'HWIO', 'NHWC'). The spatial axes are
    matched by letter and ordered as they appear in the rhs string."""
    for s, need in ((lhs, "NC"), (rhs, "OI"), (out, "NC")):
        if not isinstance(s, str) or any(s.count(c) != 1 for c in need) or len(set(s)) != len(s):
            raise ValueError(f"conv dimension_numbers: {s!r} must name each axis once, with "
                             f"{need[0]} and {need[1]} among them")
    spatial = [c for c in rhs if c not in "OI"]
    for s in (lhs, out):
        if sorted(c for c in s if c not in "NC") != sorted(spatial):
            raise ValueError(f"conv dimension_numbers: {s!r} and {rhs!r} must name the same "
                             "spatial axes")
    return ConvDimensionNumbers(
        (lhs.index("N"), lhs.index("C")) + tuple(lhs.index(c) for c in spatial),
        (rhs.index("O"), rhs.index("I")) + tuple(rhs.index(c) for c in spatial),
        (out.index("N"), out.index("C")) + tuple(out.index(c) for c in spatial))


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers):
    """ConvDimensionNumbers from None (NCHW / OIHW / NCHW), a triple of strings, or a
    ConvDimensionNumbers (jax.lax.conv_dimension_numbers)."""
    nd = len(lhs_shape)
    if len(rhs_shape) != nd:
        raise TypeError(f"lax.conv_general_dilated: lhs and rhs must have the same rank, got "
                        f"shapes {tuple(lhs_shape)} and {tuple(rhs_shape)}")
    if nd < 2:
        raise TypeError(f"lax.conv_general_dilated: operands need a batch and a feature axis "
                        f"(rank >= 2), got shapes {tuple(lhs_shape)} and {tuple(rhs_shape)}")
    if dimension_numbers is None:
        iota = tuple(range(nd))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        dn = ConvDimensionNumbers(*(tuple(int(d) for d in s) for s in dimension_numbers))
    else:
        try:
            lhs, rhs, out = dimension_numbers
        except (TypeError, ValueError):
            raise TypeError("lax.conv_general_dilated: dimension_numbers must be None, a "
                            "ConvDimensionNumbers or three strings such as ('NHWC', 'HWIO', "
                            f"'NHWC'), got {dimension_numbers!r}") from None
        if all(isinstance(s, str) for s in (lhs, rhs, out)):
            dn = _spec_from_string(lhs, rhs, out)
        else:
            dn = ConvDimensionNumbers(*(tuple(int(d) for d in s) for s in (lhs, rhs, out)))
    for spec in dn:
        if sorted(spec) != list(range(nd)):
            raise ValueError(f"lax.conv_general_dilated: dimension_numbers {tuple(dn)} must "
                             f"hold permutations of range({nd})")
    return dn


# --- geometry and the shape rule -----------------------------------------------------------------

def _inverse(perm):
    return tuple(int(i) for i in np.argsort(perm))


def _canonical_shapes(lhs, rhs, dn):
    return (tuple(lhs.shape[d] for d in dn.lhs_spec), tuple(rhs.shape[d] for d in dn.rhs_spec))


def _conv_shape_rule(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                     dimension_numbers, feature_group_count, batch_group_count, precision,
                     preferred_element_type):
    name = "lax.conv_general_dilated"
    dn = dimension_numbers
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise TypeError(f"{name}: lhs {lhs.str_short()} and rhs {rhs.str_short()} must have "
                        "one rank, at least 2")
    (n, c, *sp), (o, i, *ks) = _canonical_shapes(lhs, rhs, dn)
    nsp = lhs.ndim - 2
    for what, v in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                    ("rhs_dilation", rhs_dilation)):
        if len(v) != nsp or any(e < 1 for e in v):
            raise ValueError(f"{name}: {what} {tuple(v)} needs {nsp} positive entries (one per "
                             "spatial axis)")
    if len(padding) != nsp:
        raise ValueError(f"{name}: padding {tuple(padding)} needs {nsp} (low, high) pairs")
    g, b = feature_group_count, batch_group_count
    if g < 1 or b < 1:
        raise ValueError(f"{name}: feature_group_count and batch_group_count must be >= 1, got "
                         f"{g} and {b}")
    if g > 1 and b > 1:
        raise ValueError(f"{name}: feature_group_count ({g}) and batch_group_count ({b}) cannot "
                         "both exceed 1")
    if c % g or c // g != i:
        raise TypeError(f"{name}: lhs feature size {c} must be feature_group_count ({g}) times "
                        f"the rhs input feature size {i}")
    if o % (g * b):
        raise TypeError(f"{name}: rhs output feature size {o} must be a multiple of "
                        f"feature_group_count * batch_group_count = {g * b}")
    if n % b:
        raise TypeError(f"{name}: lhs batch size {n} must be a multiple of batch_group_count "
                        f"({b})")
    if any(k < 1 for k in ks):
        raise TypeError(f"{name}: the kernel's spatial sizes {tuple(ks)} must be positive")
    out_sp = [window_out_size(s, k, st, lo, hi, ld, rd) for s, k, st, (lo, hi), ld, rd in
              zip(sp, ks, window_strides, padding, lhs_dilation, rhs_dilation)]
    canon = (n // b, o, *out_sp)
    shape = [0] * lhs.ndim
    for k, d in enumerate(dn.out_spec):
        shape[d] = canon[k]
    dtype = _out_dtype(lhs, rhs, preferred_element_type)
    if dtype.kind == "b":
        raise TypeError(f"{name} does not accept bool operands")
    return ShapedArray(tuple(shape), dtype, False)


# --- the numpy impl: windows as strided views, then one batched matmul (im2col + BLAS) -----------

def conv_canonical(x, w, strides, padding, lhs_dilation, rhs_dilation, g, b):
    """The convolution of x (N, C, S...) with w (O, C/G, K...) into (N/B, O, S'...)."""
    nsp = x.ndim - 2
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    ks = w.shape[2:]
    q = g * b                                   # number of groups (one of g, b is 1)
    nb, oq = n // b, o // q
    xp = padded(x, 0, ((0, 0), (0, 0)) + tuple(padding), (1, 1) + tuple(lhs_dilation))
    out_sp = tuple(window_out_size(s, k, st, lo, hi, ld, rd) for s, k, st, (lo, hi), ld, rd in
                   zip(x.shape[2:], ks, strides, padding, lhs_dilation, rhs_dilation))
    if math.prod(out_sp) == 0 or n == 0 or o == 0:
        return np.zeros((nb, o) + out_sp, x.dtype)
    spans = tuple(dilated_size(k, d) for k, d in zip(ks, rhs_dilation))
    view = np.lib.stride_tricks.sliding_window_view(xp, spans, axis=tuple(range(2, 2 + nsp)))
    view = view[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)
                + tuple(slice(None, None, d) for d in rhs_dilation)]
    # view: (N, C, *out_sp, *ks) -> columns (Q, Nb * prod(out_sp), Cg * prod(ks)).
    view = view.reshape((b, nb, g, cg) + view.shape[2:])
    perm = (0, 2, 1) + tuple(range(4, 4 + nsp)) + (3,) + tuple(range(4 + nsp, 4 + 2 * nsp))
    cols = view.transpose(perm).reshape(q, nb * math.prod(out_sp), cg * math.prod(ks))
    wm = w.reshape(q, oq, cg * math.prod(ks)).transpose(0, 2, 1)
    res = np.matmul(cols, wm)                   # (Q, Nb * prod(out_sp), Oq)
    res = res.reshape((q, nb) + out_sp + (oq,))
    res = res.transpose((1, 0, 2 + nsp) + tuple(range(2, 2 + nsp)))
    return res.reshape((nb, o) + out_sp)


def _conv_impl(lhs, rhs, **params):
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    out = _conv_shape_rule(aval_of_value(lhs), aval_of_value(rhs), **params)
    dn = params["dimension_numbers"]
    x, w = lhs.transpose(dn.lhs_spec), rhs.transpose(dn.rhs_spec)
    if x.dtype != out.dtype:       # accumulate in preferred_element_type, as asked
        x, w = x.astype(out.dtype), w.astype(out.dtype)
    res = conv_canonical(x, w, params["window_strides"], params["padding"],
                         params["lhs_dilation"], params["rhs_dilation"],
                         params["feature_group_count"], params["batch_group_count"])
    return np.ascontiguousarray(res.transpose(_inverse(dn.out_spec)))


conv_general_dilated_p = Primitive(
    "conv_general_dilated", impl=_conv_impl, shape_rule=_conv_shape_rule,
    jac_structure="dense (bilinear; block-Toeplitz along the spatial axes)")


# --- rules, written in the canonical layout: transposes into it, one conv, transposes back -----

def _canon_conv(x, w, *, strides, padding, lhs_dilation, rhs_dilation, g=1, b=1,
                precision=None):
    nd = get_aval(x).ndim
    iota = tuple(range(nd))
    return conv_general_dilated_p.bind(
        x, w, window_strides=tuple(strides), padding=tuple(tuple(p) for p in padding),
        lhs_dilation=tuple(lhs_dilation), rhs_dilation=tuple(rhs_dilation),
        dimension_numbers=ConvDimensionNumbers(iota, iota, iota), feature_group_count=g,
        batch_group_count=b, precision=precision, preferred_element_type=None)


def _to_canonical(x, spec):
    return x if tuple(spec) == tuple(range(len(spec))) else transpose(x, tuple(spec))


def _from_canonical(x, spec):
    inv = _inverse(spec)
    return x if inv == tuple(range(len(spec))) else transpose(x, inv)


def _split_axis(x, axis, first):
    """Reshape axis `axis` of size first*rest into two axes (first, rest)."""
    shape = get_aval(x).shape
    return reshape(x, shape[:axis] + (first, shape[axis] // first) + shape[axis + 1:])


def _merge_axes(x, axis):
    """Merge axes axis and axis+1 into one."""
    shape = get_aval(x).shape
    return reshape(x, shape[:axis] + (shape[axis] * shape[axis + 1],) + shape[axis + 2:])


def _swap01(x):
    nd = get_aval(x).ndim
    return transpose(x, (1, 0) + tuple(range(2, nd)))


@conv_general_dilated_p.def_jvp
def _conv_jvp(primals, tangents, **params):
    (lhs, rhs), (t_lhs, t_rhs) = primals, tangents
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    from_lhs = Zero.like(out) if isinstance(t_lhs, Zero) else \
        conv_general_dilated_p.bind(t_lhs, rhs, **params)
    from_rhs = Zero.like(out) if isinstance(t_rhs, Zero) else \
        conv_general_dilated_p.bind(lhs, t_rhs, **params)
    return out, add_tangents(from_lhs, from_rhs)


def _transpose_lhs(ct, w, lhs_aval, p):
    """Cotangent of lhs (canonical): the cotangent convolved with the flipped kernel."""
    nsp = lhs_aval.ndim - 2
    g, b = p["feature_group_count"], p["batch_group_count"]
    o, cg = get_aval(w).shape[:2]
    q = g * b
    # Kernel (O, Cg, K) -> (Q*Cg, O/Q, K): for each group, in and out features swap.
    wt = _split_axis(w, 0, q)                                   # (Q, O/Q, Cg, K)
    wt = transpose(wt, (0, 2, 1) + tuple(range(3, 3 + nsp)))   # (Q, Cg, O/Q, K)
    wt = _merge_axes(wt, 0)                                     # (Q*Cg, O/Q, K)
    wt = rev(wt, tuple(range(2, 2 + nsp)))
    sp = lhs_aval.shape[2:]
    out_sp = get_aval(ct).shape[2:]
    strides, pads, dil = [], [], []
    for s, k, st, (lo, _), ld, rd, m in zip(sp, get_aval(w).shape[2:], p["window_strides"],
                                           p["padding"], p["lhs_dilation"], p["rhs_dilation"],
                                           out_sp):
        a, pad_, bd = transposed_geometry(s, k, st, lo, ld, rd, m)
        strides.append(a)
        pads.append(pad_)
        dil.append(bd)
    y = _canon_conv(ct, wt, strides=strides, padding=pads, lhs_dilation=dil,
                    rhs_dilation=p["rhs_dilation"], g=q, precision=p["precision"])
    if b > 1:
        # (N/B, B*C, S) -> (N, C, S): batch group b's features belong to lhs members b*N/B + m.
        y = _split_axis(y, 1, b)                                # (N/B, B, C, S)
        y = transpose(y, (1, 0) + tuple(range(2, 3 + nsp)))     # (B, N/B, C, S)
        y = _merge_axes(y, 0)
    return y


def _transpose_rhs(ct, x, rhs_aval, p):
    """Cotangent of rhs (canonical): lhs convolved with the cotangent as the kernel."""
    g, b = p["feature_group_count"], p["batch_group_count"]
    sp = get_aval(x).shape[2:]
    out_sp = get_aval(ct).shape[2:]
    pads = []
    for s, k, st, (lo, hi), ld, rd, m in zip(sp, rhs_aval.shape[2:], p["window_strides"],
                                             p["padding"], p["lhs_dilation"],
                                             p["rhs_dilation"], out_sp):
        # Trim the high padding that no window of the forward conv reached.
        excess = dilated_size(s, ld) + lo + hi - (m - 1) * st - 1 - (k - 1) * rd
        pads.append((lo, hi - excess))
    # lhs (N, C, S) read as (C, N, S): its batch axis becomes the contracted feature axis;
    # the cotangent (N/B, O, S') read as a kernel (O, N/B, S').
    y = _canon_conv(_swap01(x), _swap01(ct), strides=p["rhs_dilation"], padding=pads,
                    lhs_dilation=p["lhs_dilation"], rhs_dilation=p["window_strides"],
                    g=b, b=g, precision=p["precision"])
    return _swap01(y)                                            # (C/G, O, K) -> (O, C/G, K)


@conv_general_dilated_p.def_transpose
def _conv_transpose_rule(ct, lhs, rhs, **p):
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("lax.conv_general_dilated is bilinear, not linear: its transpose "
                         "needs one operand to be known")
    undefined = lhs if is_undefined(lhs) else rhs
    if isinstance(ct, Zero):
        return [Zero(lhs.aval) if is_undefined(lhs) else None,
                Zero(rhs.aval) if is_undefined(rhs) else None]
    if get_aval(ct).size == 0 or undefined.aval.size == 0:
        z = zeros_like_aval(undefined.aval)
        return [z, None] if is_undefined(lhs) else [None, z]
    dn = p["dimension_numbers"]
    ct_dtype = get_aval(ct).dtype
    ct_c = _to_canonical(ct, dn.out_spec)
    if is_undefined(lhs):
        w = rhs if get_aval(rhs).dtype == ct_dtype else convert_element_type(rhs, ct_dtype)
        w = _to_canonical(w, dn.rhs_spec)
        canon_aval = ShapedArray(tuple(lhs.aval.shape[d] for d in dn.lhs_spec), ct_dtype)
        res = _from_canonical(_transpose_lhs(ct_c, w, canon_aval, p), dn.lhs_spec)
        target = lhs.aval
    else:
        x = lhs if get_aval(lhs).dtype == ct_dtype else convert_element_type(lhs, ct_dtype)
        x = _to_canonical(x, dn.lhs_spec)
        canon_aval = ShapedArray(tuple(rhs.aval.shape[d] for d in dn.rhs_spec), ct_dtype)
        res = _from_canonical(_transpose_rhs(ct_c, x, canon_aval, p), dn.rhs_spec)
        target = rhs.aval
    if get_aval(res).dtype != target.dtype:
        res = convert_element_type(res, target.dtype)
    return [res, None] if is_undefined(lhs) else [None, res]


@conv_general_dilated_p.def_batch
def _conv_batch(args, dims, **p):
    (lhs, rhs), (dl, dr) = args, dims
    dn = p["dimension_numbers"]
    g, b = p["feature_group_count"], p["batch_group_count"]
    nd = get_aval(lhs).ndim - (dl is not None)
    nsp = nd - 2
    geometry = dict(strides=p["window_strides"], padding=p["padding"],
                    lhs_dilation=p["lhs_dilation"], rhs_dilation=p["rhs_dilation"],
                    precision=p["precision"])
    pref = p["preferred_element_type"]

    def canon(x, d, spec):   # batched operand -> (V, canonical axes...)
        x = moveaxis(x, d, 0)
        return transpose(x, (0,) + tuple(1 + s for s in spec))

    if dl is not None:
        x = canon(lhs, dl, dn.lhs_spec)                      # (V, N, C, S)
        v = get_aval(x).shape[0]
    if dr is not None:
        w = canon(rhs, dr, dn.rhs_spec)                      # (V, O, I, K)
        v = get_aval(w).shape[0]
    if dl is not None and dr is None:
        wc = _to_canonical(rhs, dn.rhs_spec)
        x = _split_axis(x, 1, b)                             # (V, B, Nb, C, S)
        x = transpose(x, (1, 0) + tuple(range(2, 4 + nsp)))  # (B, V, Nb, C, S)
        x = _merge_axes(_merge_axes(x, 1), 0)               # (B*V*Nb, C, S)
        y = _canon_conv(*_same_dtype(x, wc, pref), g=g, b=b, **geometry)   # (V*Nb, O, S')
        y = _split_axis(y, 0, v)                             # (V, Nb, O, S')
    elif dl is None:
        xc = _to_canonical(lhs, dn.lhs_spec)
        q = g * b
        w = _split_axis(w, 1, q)                             # (V, Q, Oq, I, K)
        w = transpose(w, (1, 0) + tuple(range(2, 4 + nsp)))  # (Q, V, Oq, I, K)
        w = _merge_axes(_merge_axes(w, 1), 0)               # (Q*V*Oq, I, K)
        y = _canon_conv(*_same_dtype(xc, w, pref), g=g, b=b, **geometry)   # (Nb, Q*V*Oq, S')
        y = _split_axis(_split_axis(y, 1, q), 2, v)          # (Nb, Q, V, Oq, S')
        y = transpose(y, (2, 0, 1, 3) + tuple(range(4, 4 + nsp)))          # (V, Nb, Q, Oq, S')
        y = _merge_axes(y, 2)                                # (V, Nb, O, S')
    else:
        if b == 1:
            # Each batch member's features form their own group(s): V*G feature groups.
            x = _merge_axes(_swap01(x), 1)                   # (N, V*C, S)
            w = _merge_axes(w, 0)                            # (V*O, I, K)
            y = _canon_conv(*_same_dtype(x, w, pref), g=v * g, **geometry)  # (N, V*O, S')
        else:
            # Batch groups: V*B of them, member-major in both the lhs batch and rhs features.
            x = _merge_axes(x, 0)                            # (V*N, C, S)
            w = _merge_axes(w, 0)                            # (V*O, I, K)
            y = _canon_conv(*_same_dtype(x, w, pref), b=v * b, **geometry)  # (Nb, V*O, S')
        y = _swap01(_split_axis(y, 1, v))                    # (V, Nb, O, S')
    out = transpose(y, (0,) + tuple(1 + s for s in _inverse(dn.out_spec)))
    return out, 0


def _same_dtype(x, w, preferred):
    """Operands converted to preferred_element_type (the canonical convs of the batching rule
    carry no preferred type of their own)."""
    if preferred is None:
        return x, w
    return convert_element_type(x, preferred), convert_element_type(w, preferred)


@conv_general_dilated_p.def_cost
def _conv_cost(lhs, rhs, **p):
    out = _conv_shape_rule(lhs, rhs, **p)
    dn = p["dimension_numbers"]
    _, (o, cg, *ks) = _canonical_shapes(lhs, rhs, dn)
    # A multiply and an add per (output element, input feature of its group, kernel tap).
    moved = (lhs.size + rhs.size) * lhs.dtype.itemsize + out.size * out.dtype.itemsize
    return Cost(2.0 * out.size * cg * math.prod(ks), moved)


@conv_general_dilated_p.def_sparsity
def _conv_sparsity(ins, out_avals, **p):
    """out[n, o, s] depends on the input elements of its window in o's group (not on padding or
    dilation holes), and on the kernel entries w[o, k] that meet them. The windows come from the
    impl itself: convolving the input's element numbers with one-hot kernels (one per group and
    window position) copies each window's numbers into the output (im2col on numbers)."""
    lhs, rhs = ins
    dn = p["dimension_numbers"]
    x = _sparsity.numbers(lhs.aval).transpose(dn.lhs_spec)          # canonical (N, C, S...)
    w_shape = tuple(rhs.aval.shape[i] for i in dn.rhs_spec)           # canonical (O, Cg, K...)
    out = out_avals[0]
    q = p["feature_group_count"] * p["batch_group_count"]
    taps, oq = math.prod(w_shape[1:]), w_shape[0] // q
    if out.size * taps > _sparsity.MAX_LOCAL_NNZ:
        return _sparsity.dense(ins, out_avals)
    one_hot = np.zeros((q * taps, taps), np.int64)
    one_hot[np.arange(q * taps), np.arange(q * taps) % taps] = 1
    windows_of = conv_canonical(x, one_hot.reshape((q * taps,) + w_shape[1:]),
                                p["window_strides"], p["padding"], p["lhs_dilation"],
                                p["rhs_dilation"], p["feature_group_count"],
                                p["batch_group_count"])                # (Nb, Q * taps, *S')
    nb, out_sp = windows_of.shape[0], windows_of.shape[2:]
    windows_of = windows_of.reshape((nb, q, 1, taps, -1))             # (Nb, Q, 1, taps, S')
    canonical_out = tuple(out.shape[i] for i in dn.out_spec)          # (Nb, O, *S')
    out_ids = np.arange(out.size).reshape(out.shape).transpose(dn.out_spec)
    out_ids = out_ids.reshape(nb, q, oq, 1, -1)                       # (Nb, Q, Oq, 1, S')
    w_ids = np.arange(rhs.aval.size).reshape(rhs.aval.shape).transpose(dn.rhs_spec)
    w_ids = w_ids.reshape(1, q, oq, taps, 1) + lhs.aval.size          # (1, Q, Oq, taps, 1)
    full = (nb, q, oq, taps, math.prod(out_sp))
    assert canonical_out == (nb, q * oq) + tuple(out_sp)
    hit = np.broadcast_to(windows_of > 0, full)
    rows = np.broadcast_to(out_ids, full)[hit]
    cols = []
    if lhs.pattern.nnz:
        cols.append((rows, np.broadcast_to(windows_of - 1, full)[hit]))
    if rhs.pattern.nnz:
        cols.append((rows, np.broadcast_to(w_ids, full)[hit]))
    stacked = _sparsity.stack([lhs.pattern, rhs.pattern], lhs.n_inputs)
    return [_sparsity.pairs(stacked, np.concatenate([r for r, _ in cols]),
                            np.concatenate([c for _, c in cols]), out.size)]


# The jit lowering: Numba kernels + BLAS (_conv_kernels.py).
conv_general_dilated_p.def_lowering(Driver(conv_emitter(conv_general_dilated_p)))


# --- the lax functions ---------------------------------------------------------------------------

def _ints(name, what, v, n, default=1):
    if v is None:
        return (default,) * n
    try:
        out = tuple(int(e) for e in v)
    except TypeError:
        raise TypeError(f"lax.{name}: {what} must be a sequence of ints, got {v!r}") from None
    if len(out) != n:
        raise ValueError(f"lax.{name}: {what} {out} needs {n} entries (one per spatial axis)")
    return out


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
    """General n-d convolution (jax.lax.conv_general_dilated); see the module docstring.

    padding: 'SAME', 'SAME_LOWER', 'VALID', or a (low, high) pair per spatial axis (negative
    values crop). lhs_dilation > 1 is a transposed ("fractionally strided") convolution;
    rhs_dilation > 1 is an atrous (dilated) one."""
    lhs, rhs = resolve_dtypes("conv_general_dilated", (lhs, rhs))
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    nsp = la.ndim - 2
    name = "conv_general_dilated"
    strides = _ints(name, "window_strides", window_strides, nsp)
    lhs_dil = _ints(name, "lhs_dilation", lhs_dilation, nsp)
    rhs_dil = _ints(name, "rhs_dilation", rhs_dilation, nsp)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dil):
            raise ValueError("lax.conv_general_dilated: string padding is not defined for "
                             "lhs_dilation > 1 (a transposed convolution); pass explicit (low, "
                             "high) pairs or use lax.conv_transpose")
        sp = [la.shape[d] for d in dn.lhs_spec[2:]]
        ks = [dilated_size(ra.shape[d], r) for d, r in zip(dn.rhs_spec[2:], rhs_dil)]
        pads = padtype_to_pads(sp, ks, strides, padding)
    else:
        try:
            pads = tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise TypeError("lax.conv_general_dilated: padding must be 'SAME', 'VALID' or a "
                            f"sequence of (low, high) pairs, got {padding!r}") from None
        if len(pads) != nsp:
            raise ValueError(f"lax.conv_general_dilated: padding {pads} needs {nsp} pairs")
    for what, v in (("feature_group_count", feature_group_count),
                    ("batch_group_count", batch_group_count)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"lax.conv_general_dilated: {what} must be an int, got {v!r}")
    if preferred_element_type is not None:
        preferred_element_type = dtypes.canonicalize(preferred_element_type)
        if preferred_element_type == la.dtype:
            preferred_element_type = None
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=strides, padding=pads, lhs_dilation=lhs_dil,
        rhs_dilation=rhs_dil, dimension_numbers=dn, feature_group_count=int(feature_group_count),
        batch_group_count=int(batch_group_count), precision=precision,
        preferred_element_type=preferred_element_type)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """NCHW / OIHW convolution without dilation (jax.lax.conv)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    """NCHW / OIHW convolution with dilations (jax.lax.conv_with_general_padding)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k, s, padding):
    """(low, high) padding of the dilated-lhs convolution that conv_transpose computes, for
    'SAME' (output size in * stride), 'VALID' (in * stride + max(k - stride, 0)) or pairs."""
    if padding == "SAME":
        pad_len = k + s - 2
        lo = -(-pad_len // 2) if s <= k - 1 else k - 1
    elif padding == "VALID":
        pad_len = k + s - 2 + max(k - s, 0)
        lo = k - 1
    else:
        raise ValueError(f"lax.conv_transpose: padding must be 'SAME', 'VALID' or (low, high) "
                         f"pairs, got {padding!r}")
    return lo, pad_len - lo


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel=False, precision=None, preferred_element_type=None):
    """Transposed convolution (jax.lax.conv_transpose): the lhs dilated by the strides, then a
    stride-1 convolution. With transpose_kernel=True the kernel is flipped spatially and its
    in/out features swapped: the exact transpose (gradient) of conv_general_dilated."""
    la, ra = get_aval(lhs), get_aval(rhs)
    nsp = la.ndim - 2
    if dimension_numbers is None:
        dimension_numbers = {3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"),
                             5: ("NHWDC", "HWDIO", "NHWDC")}.get(la.ndim)
        if dimension_numbers is None:
            raise ValueError("lax.conv_transpose: pass dimension_numbers for operands of rank "
                             f"{la.ndim} (defaults exist for ranks 3 to 5)")
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    strides = _ints("conv_transpose", "strides", strides, nsp)
    rhs_dil = _ints("conv_transpose", "rhs_dilation", rhs_dilation, nsp)
    ks = [dilated_size(ra.shape[d], r) for d, r in zip(dn.rhs_spec[2:], rhs_dil)]
    if isinstance(padding, str):
        pads = tuple(_conv_transpose_padding(k, s, padding.upper())
                     for k, s in zip(ks, strides))
    else:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    if transpose_kernel:
        rhs = rev(rhs, tuple(dn.rhs_spec[2:]))
        perm = list(range(ra.ndim))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = dn.rhs_spec[1], dn.rhs_spec[0]
        rhs = transpose(rhs, tuple(perm))
    return conv_general_dilated(lhs, rhs, (1,) * nsp, pads, lhs_dilation=strides,
                                rhs_dilation=rhs_dil, dimension_numbers=dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)
