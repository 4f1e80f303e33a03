"""Loop lowerings: how an operation is written inside a loop compiled as one Numba function
(functrans.backend.loops), for the primitives whose jit lowering is a driver step.

A primitive declares one with `prim.def_loop_lowering(rule)`:

    rule(src, ins, in_avals, out_avals, ind, **params) -> names of the outputs

`src` is the loop's LoopSource: the rule writes Numba statements at indentation `ind` with
src.emit, takes fresh names (src.fresh), buffers allocated once per call (src.buffer, src.alloc),
copy helpers (src.put, src.filled), and records which names hold C-contiguous arrays
(src.c_names: BLAS and reshapes need them). `ins` are the operands' names (typed constants for
literals). Control flow writes the sub-programs it runs with src.closed and keeps values across
iterations with src.init_carries / src.update_carries / src.carry. A rule raises Unsupported to
decline: the loop then stays a Python loop calling its body's compiled driver.
"""
import numpy as np

from .loop_scalars import Elems, flat_index
from .lowering import scalar_ctor


class Unsupported(Exception):
    """The body contains something the loop generator does not compile: keep the Python loop."""


def _size(aval, dims):
    return int(np.prod([aval.shape[d] for d in dims], dtype=np.int64))


def _matrix(src, x, aval, order, shape):
    """x as a 2-D operand of np.dot, with axes `order` grouped into `shape`."""
    ident = list(range(aval.ndim))
    # a strided operand is copied here: Numba's np.dot would copy it too, with a warning
    whole = x if x in src.c_names else f"np.ascontiguousarray({x})"
    if order == ident and tuple(aval.shape) == tuple(shape):
        return whole
    if aval.ndim == 2 and order == [1, 0] and tuple(shape) == tuple(aval.shape[::-1]):
        return f"{whole}.T"                   # BLAS takes it transposed, no copy
    t = x if order == ident else f"{x}.transpose({tuple(order)})"
    c = x if (order == ident and x in src.c_names) else f"np.ascontiguousarray({t})"
    return f"{c}.reshape({tuple(shape)})"


def matmul(src, ins, in_avals, out_avals, ind, *, dimension_numbers, **_):
    """dot_general as np.dot (BLAS) on 2-D views: no copies of contiguous or transposed
    operands."""
    (lc, rc), (lb, rb) = dimension_numbers
    (lhs, rhs), (out,) = in_avals, out_avals
    if lb or lhs.dtype != out.dtype or out.dtype.kind != "f" or out.dtype.itemsize < 4 \
            or lhs.ndim == 0 or rhs.ndim == 0:
        raise Unsupported("a batched, integer or mixed-type dot_general")
    lfree = [d for d in range(lhs.ndim) if d not in lc]
    rfree = [d for d in range(rhs.ndim) if d not in rc]
    m, k, n = _size(lhs, lfree), _size(lhs, lc), _size(rhs, rfree)
    x = _matrix(src, ins[0], lhs, lfree + list(lc), (m, k))
    y = _matrix(src, ins[1], rhs, list(rc) + rfree, (k, n))
    if out.ndim == 2 and tuple(out.shape) == (m, n):
        buf = src.buffer(out.shape, out.dtype)
        src.emit(ind, f"np.dot({x}, {y}, {buf})")     # BLAS writes the buffer
        return [buf]
    expr = f"np.dot({x}, {y})"
    if out.ndim == 0:
        expr = f"{scalar_ctor(out.dtype)}({expr}[0, 0])"
    elif tuple(out.shape) != (m, n):
        expr = f"{expr}.reshape({tuple(out.shape)})"
    return [src.value(expr, ind, c=out.ndim > 0)]


def _clamped_start(src, start, n, m, ind):
    b = src.fresh("b")
    # XLA's rule: the start moves into range so that the slice fits
    src.emit(ind, f"{b} = min(max(int({start}), 0), {n - m})")
    return b


def dynamic_slice(src, ins, in_avals, out_avals, ind, *, slice_sizes):
    """A view of the operand: no copy."""
    x, *starts = ins
    xa = in_avals[0]
    if xa.ndim == 0:
        raise Unsupported("dynamic_slice of a scalar")
    # Trailing axes taken whole are not sliced: x[b:b + m] of a C array stays C (BLAS
    # reads it in place); slicing them too would make Numba copy it for np.dot.
    keep = len(slice_sizes)
    while keep > 1 and slice_sizes[keep - 1] == xa.shape[keep - 1]:
        keep -= 1
    parts = []
    for s, n, m in list(zip(starts, xa.shape, slice_sizes))[:keep]:
        b = _clamped_start(src, s, n, m, ind)
        parts.append(f"{b}:{b} + {m}")
    return [src.value(f"{x}[{', '.join(parts)}]", ind, c=keep == 1 and x in src.c_names)]


def dynamic_update_slice(src, ins, in_avals, out_avals, ind):
    x, u, *starts = ins
    xa, ua = in_avals[0], in_avals[1]
    if xa.ndim == 0:
        raise Unsupported("dynamic_update_slice of a scalar")
    parts = [f"{_clamped_start(src, s, n, m, ind)}, 1"
             for s, n, m in zip(starts, xa.shape, ua.shape)]
    out = src.buffer(xa.shape, xa.dtype)
    src.emit(ind, f"{src.put(xa.ndim)}({out}, {x}, {src.zeros(xa.ndim)})")
    src.emit(ind, f"{src.put(xa.ndim)}({out}, {u}, {', '.join(parts)})")
    return [out]


def _pad_elements(xs, in_avals, out_avals, *, padding_config):
    (x, (v,)), xa, out = xs, in_avals[0], out_avals[0]
    names = []
    for idx in np.ndindex(*out.shape):
        at = []
        for i, (lo, _, interior), n in zip(idx, padding_config, xa.shape):
            q, r = divmod(i - lo, interior + 1)
            if r or not 0 <= q < n:
                break
            at.append(q)
        names.append(x[flat_index(at, xa.shape)] if len(at) == xa.ndim else v)
    return [names]


def pad(src, ins, in_avals, out_avals, ind, *, padding_config):
    (x, v), xa, out = ins, in_avals[0], out_avals[0]
    if xa.ndim == 0 or any(lo < 0 or hi < 0 for lo, hi, _ in padding_config) or xa.size == 0:
        raise Unsupported("pad with negative padding")
    y = src.filled(out.shape, v, scalar_ctor(out.dtype), ind)
    offsets = ", ".join(f"{lo}, {i + 1}" for lo, _, i in padding_config)
    src.emit(ind, f"{src.put(xa.ndim)}({y}, {x}, {offsets})")
    return [y]


def _concatenate_elements(xs, in_avals, out_avals, *, dimension):
    starts = np.cumsum([0] + [a.shape[dimension] for a in in_avals])
    names = []
    for idx in np.ndindex(*out_avals[0].shape):
        j = int(np.searchsorted(starts, idx[dimension], side="right")) - 1
        at = list(idx)
        at[dimension] -= int(starts[j])
        names.append(xs[j][flat_index(at, in_avals[j].shape)])
    return [names]


def concatenate(src, ins, in_avals, out_avals, ind, *, dimension):
    out = out_avals[0]
    if not all(a.ndim for a in in_avals):
        raise Unsupported("concatenate of scalars")
    y = src.buffer(out.shape, out.dtype)
    at = 0
    for n, a in zip(ins, in_avals):
        offsets = ", ".join(f"{at if d == dimension else 0}, 1" for d in range(out.ndim))
        src.emit(ind, f"{src.put(out.ndim)}({y}, {n}, {offsets})")
        at += a.shape[dimension]
    return [y]


# --- control flow, generated inline (recursively) -------------------------------------------

def cond(src, ins, in_avals, out_avals, ind, *, branches):
    index, ops = ins[0], ins[1:]
    outs = [src.fresh("o") for _ in out_avals]
    for i, br in enumerate(branches):
        if i == len(branches) - 1 and i > 0:
            src.emit(ind, "else:")
        else:
            src.emit(ind, f"if {index} <= {i}:" if i == 0 else f"elif {index} == {i}:")
        res = src.closed(br, list(ops), ind + 1)
        for o, r, a in zip(outs, res, out_avals):
            src.emit(ind + 1, f"{o} = {src.carry(r, a)}")
        if not res:
            src.emit(ind + 1, "pass")
    src.c_names.update(o for o, a in zip(outs, out_avals) if a.ndim)
    return outs


def scan(src, ins, in_avals, out_avals, ind, *, body, length, reverse, num_consts, num_carry,
         unroll=1):
    nc, nk = num_consts, num_carry
    consts, carry, xs = ins[:nc], ins[nc:nc + nk], ins[nc + nk:]
    k_avals, y_avals = body.out_avals[:nk], body.out_avals[nk:]
    ks = src.init_carries([src.fresh("k") for _ in carry], carry, k_avals, ind)
    stacks = [src.fresh("s") for _ in y_avals]
    for s, a in zip(stacks, y_avals):
        src.emit(ind, f"{s} = np.empty({(length,) + tuple(a.shape)}, {scalar_ctor(a.dtype)})")
    i = src.fresh("i")
    order = f"range({length - 1}, -1, -1)" if reverse else f"range({length})"
    src.emit(ind, f"for {i} in {order}:")
    x_in = []
    for x, a in zip(xs, body.in_avals[nc + nk:]):
        name = src.fresh("x")
        src.emit(ind + 1, f"{name} = {x}[{i}]" if a.ndim else
                 f"{name} = {scalar_ctor(a.dtype)}({x}[{i}])")
        if a.ndim:
            src.c_names.add(name)     # a leading-axis slice of a C array
        x_in.append(name)
    res = src.closed(body, list(consts) + ks + x_in, ind + 1, elements=True)
    # ys are stored before the carries are updated in place: a y may be a view of a
    # carry (the primal loop of a gradient stacks h.reshape(1, n) as a residual)
    for s, r, a in zip(stacks, res[nk:], y_avals):
        if isinstance(r, Elems):
            for idx, name in zip(np.ndindex(*a.shape), r.names):
                src.emit(ind + 1, f"{s}[{', '.join(map(str, (i,) + idx))}] = {name}")
        elif a.ndim:
            src.emit(ind + 1, f"{src.put(a.ndim)}({s}[{i}], {r}, {src.zeros(a.ndim)})")
        else:
            src.emit(ind + 1, f"{s}[{i}] = {r}")
    src.update_carries(ks, res[:nk], k_avals, ind + 1)
    if not res:
        src.emit(ind + 1, "pass")
    return ks + stacks


def while_loop(src, ins, in_avals, out_avals, ind, *, cond_program, body_program,
               cond_nconsts, body_nconsts):
    cn, bn = cond_nconsts, body_nconsts
    cc, bc, carry = ins[:cn], ins[cn:cn + bn], ins[cn + bn:]
    k_avals = body_program.out_avals
    ks = src.init_carries([src.fresh("k") for _ in carry], carry, k_avals, ind)
    src.emit(ind, "while True:")
    (pred,) = src.closed(cond_program, list(cc) + ks, ind + 1)
    src.emit(ind + 1, f"if not {pred}:")
    src.emit(ind + 2, "break")
    res = src.closed(body_program, list(bc) + ks, ind + 1, elements=True)
    src.update_carries(ks, res, k_avals, ind + 1)
    return ks


# Element rules: the operation on small arrays held in scalar variables (loop_scalars).
concatenate.elements = _concatenate_elements
pad.elements = _pad_elements
