"""Cases for convolutions (functrans/primitives/convolution.py) and windowed reductions
(functrans/primitives/windowed.py).

References are written from the definitions with explicit Python loops over output positions
and window taps (no strided views, no matmul): each output element is the sum (max, min) of
the operand elements its window reads, after dilating and padding the operand element by
element. Float64 operands carry the derivative checks; float32 exercises dtype handling.
"""
import itertools
import math

import numpy as np
from hypothesis import strategies as st

from . import Case

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def _dilate_pad(x, padding, dilation, fill):
    """x (spatial axes last len(padding)) dilated and padded with fill, element by element."""
    lead = x.ndim - len(padding)
    sizes = [0 if n == 0 else (n - 1) * d + 1 for n, d in zip(x.shape[lead:], dilation)]
    full = [s + max(lo, 0) + max(hi, 0) for s, (lo, hi) in zip(sizes, padding)]
    out = np.full(x.shape[:lead] + tuple(full), fill, x.dtype)
    for idx in np.ndindex(*x.shape[lead:]):
        pos = tuple(i * d + max(lo, 0) for i, d, (lo, _) in zip(idx, dilation, padding))
        out[(Ellipsis,) + pos] = x[(Ellipsis,) + idx]
    crop = tuple(slice(max(-lo, 0), f - max(-hi, 0)) for (lo, hi), f in zip(padding, full))
    return out[(Ellipsis,) + crop]


def _n_out(n, k, s, d):
    span = (k - 1) * d + 1
    return 0 if n < span else (n - span) // s + 1


def conv_reference(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, **_):
    ls, rs, os_ = dimension_numbers
    x = np.transpose(lhs, ls).astype(np.float64 if lhs.dtype.kind == "f" else lhs.dtype)
    w = np.transpose(rhs, rs).astype(x.dtype)
    xp = _dilate_pad(x, padding, lhs_dilation, 0)
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    ks = w.shape[2:]
    g, b = feature_group_count, batch_group_count
    out_sp = [_n_out(p, k, s, d) for p, k, s, d in zip(xp.shape[2:], ks, window_strides,
                                                        rhs_dilation)]
    out = np.zeros((n // b, o) + tuple(out_sp), x.dtype)
    per_group = o // (g * b)
    for m, f in itertools.product(range(n // b), range(o)):
        grp = f // per_group
        member = (grp * (n // b) + m) if b > 1 else m
        chans = range(grp * cg, (grp + 1) * cg) if g > 1 else range(cg)
        for pos in np.ndindex(*out_sp):
            total = 0
            for ci, ch in enumerate(chans):
                for tap in np.ndindex(*ks):
                    at = tuple(p * s + t * d for p, s, t, d in zip(pos, window_strides, tap,
                                                                   rhs_dilation))
                    total += xp[(member, ch) + at] * w[(f, ci) + tap]
            out[(m, f) + pos] = total
    return np.transpose(out, np.argsort(os_)).astype(lhs.dtype)


def _geometry(draw, nsp, max_k=3):
    ks = tuple(draw(st.integers(1, max_k)) for _ in range(nsp))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    lhs_dil = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(nsp))
    rhs_dil = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(nsp))
    pads = tuple((draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in range(nsp))
    return ks, strides, lhs_dil, rhs_dil, pads


@st.composite
def _conv(draw):
    from functrans.lax import ConvDimensionNumbers
    nsp = draw(st.sampled_from([1, 2, 2]))
    dtype = draw(st.sampled_from([F64, F64, F64, F32]))
    ks, strides, lhs_dil, rhs_dil, pads = _geometry(draw, nsp)
    groups = draw(st.sampled_from(["none", "none", "feature", "batch"]))
    g = 2 if groups == "feature" else 1
    b = 2 if groups == "batch" else 1
    n = b * draw(st.integers(1, 2))
    cg = draw(st.integers(1, 2))
    o = g * b * draw(st.integers(1, 2))
    # Spatial sizes large enough that at least one window fits.
    sp = []
    for k, s, ld, rd, (lo, hi) in zip(ks, strides, lhs_dil, rhs_dil, pads):
        need = (k - 1) * rd + 1 - lo - hi
        size = max(1, -(-(need - 1) // ld) + 1) + draw(st.integers(0, 3))
        sp.append(size)
    nd = nsp + 2
    perms = [tuple(draw(st.permutations(range(nd)))) for _ in range(3)]
    dn = ConvDimensionNumbers(*perms)
    canon_x = (n, g * cg) + tuple(sp)
    canon_w = (o, cg) + ks
    x_shape = [0] * nd
    w_shape = [0] * nd
    for k, d in enumerate(dn.lhs_spec):
        x_shape[d] = canon_x[k]
    for k, d in enumerate(dn.rhs_spec):
        w_shape[d] = canon_w[k]
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    x = rng.uniform(-1, 1, x_shape).astype(dtype)
    w = rng.uniform(-1, 1, w_shape).astype(dtype)
    params = dict(window_strides=strides, padding=pads, lhs_dilation=lhs_dil,
                  rhs_dilation=rhs_dil, dimension_numbers=dn, feature_group_count=g,
                  batch_group_count=b, precision=None, preferred_element_type=None)
    return Case((x, w), params, conv_reference)


# --- windowed reductions ----------------------------------------------------------------------

def _window_params(draw, shape):
    nd = len(shape)
    wd = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    ws = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    bd = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(nd))
    wdil = tuple(draw(st.sampled_from([1, 1, 2])) for _ in range(nd))
    pads = tuple((draw(st.integers(0, 1)), draw(st.integers(0, 1))) for _ in range(nd))
    return dict(window_dimensions=wd, window_strides=ws, padding=pads, base_dilation=bd,
                window_dilation=wdil)


def _window_operand(draw, dtype, distinct):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(2, 4)) for _ in range(nd))
    if distinct:
        # Pairwise 0.5 apart: no ties, so finite differences of max/min are valid.
        order = np.array(draw(st.permutations(range(math.prod(shape)))), np.float64)
        return (0.5 * order - 0.25 * order.size).reshape(shape).astype(dtype)
    grid = [-1.0, 0.0, 0.5, 1.0]
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    return rng.choice(grid, shape).astype(dtype)


def _window_fits(shape, p):
    return all(_n_out(n, k, s, d) > 0 for n, k, s, d in zip(
        [(m - 1) * b + 1 + lo + hi for m, b, (lo, hi) in zip(shape, p["base_dilation"],
                                                            p["padding"])],
        p["window_dimensions"], p["window_strides"], p["window_dilation"]))


def _each_window(x, fill, p):
    """(out index, list of the window's values in row-major window order) for each window."""
    xp = _dilate_pad(x, p["padding"], p["base_dilation"], fill)
    out_shape = [_n_out(n, k, s, d) for n, k, s, d in zip(
        xp.shape, p["window_dimensions"], p["window_strides"], p["window_dilation"])]
    for pos in np.ndindex(*out_shape):
        values, where = [], []
        for tap in np.ndindex(*p["window_dimensions"]):
            at = tuple(q * s + t * d for q, s, t, d in zip(pos, p["window_strides"], tap,
                                                           p["window_dilation"]))
            values.append(xp[at])
            where.append(at)
        yield pos, values, where, out_shape, xp.shape


def _pool_reference(kind):
    def reference(x, **p):
        fill = {"sum": 0, "max": -np.inf, "min": np.inf}[kind]
        out = None
        for pos, values, _, out_shape, _ in _each_window(x.astype(np.float64), fill, p):
            if out is None:
                out = np.zeros(out_shape)
            out[pos] = {"sum": sum, "max": max, "min": min}[kind](values)
        return out.astype(x.dtype)
    return reference


def _pool(kind):
    @st.composite
    def strategy(draw):
        dtype = draw(st.sampled_from([F64, F64, F64, F32]))
        x = _window_operand(draw, dtype, distinct=kind == "sum" or draw(st.booleans()))
        p = _window_params(draw, x.shape)
        if not _window_fits(x.shape, p):
            p["padding"] = tuple((1, 2) for _ in x.shape)
        # Finite differences of max/min need distinct values and no window of only padding.
        fd_ok = len(np.unique(x)) == x.size and all(
            any(np.isfinite(v) for v in values)
            for _, values, _, _, _ in _each_window(x.astype(np.float64), np.inf, p))
        return Case((x,), p, _pool_reference(kind), fd_ok=fd_ok or kind == "sum")
    return strategy()


def _first_selected(values, select):
    best = 0
    for i, v in enumerate(values):
        if v != v:
            return i if values[best] == values[best] else best
        if (v > values[best]) if select == "max" else (v < values[best]):
            best = i
    return best


def _gather_reference(t, x, *, select, **p):
    fill = -np.inf if select == "max" else np.inf
    tw = list(_each_window(t.astype(np.float64), 0.0, p))
    out = np.zeros(tw[0][3]) if tw else None
    for (pos, tvals, _, _, _), (_, xvals, _, _, _) in zip(
            tw, _each_window(x.astype(np.float64), fill, p)):
        out[pos] = tvals[_first_selected(xvals, select)]
    return out.astype(t.dtype)


def _scatter_reference(s, x, *, select, **p):
    fill = -np.inf if select == "max" else np.inf
    grid = None
    for pos, xvals, where, _, grid_shape in _each_window(x.astype(np.float64), fill, p):
        if grid is None:
            grid = np.zeros(grid_shape)
        grid[where[_first_selected(xvals, select)]] += s[pos]
    # Positions of the operand's elements in the dilated, padded grid.
    out = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        at = tuple(i * b + lo for i, b, (lo, _) in zip(idx, p["base_dilation"], p["padding"]))
        out[idx] = grid[at]
    return out.astype(s.dtype)


def _select(scatter):
    @st.composite
    def strategy(draw):
        dtype = draw(st.sampled_from([F64, F64, F32]))
        x = _window_operand(draw, dtype, distinct=draw(st.booleans()))
        p = _window_params(draw, x.shape)
        if not _window_fits(x.shape, p):
            p["padding"] = tuple((1, 2) for _ in x.shape)
        p["select"] = draw(st.sampled_from(["max", "min"]))
        out_shape = next(_each_window(x, 0.0, p))[3]
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
        first = rng.uniform(-1, 1, out_shape if scatter else x.shape).astype(dtype)
        return Case((first, x), p, _scatter_reference if scatter else _gather_reference,
                    diff_argnums=(0,))
    return strategy()


STRATEGIES = {
    "conv_general_dilated": _conv(),
    "reduce_window_sum": _pool("sum"),
    "reduce_window_max": _pool("max"),
    "reduce_window_min": _pool("min"),
    "select_and_gather_add": _select(False),
    "select_and_scatter_add": _select(True),
}
