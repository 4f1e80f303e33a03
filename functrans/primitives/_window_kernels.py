"""jit lowerings of the windowed reductions (functrans/primitives/windowed.py).

Pooling and its gradient run as generated Numba loop nests under jit: reduce_window_max/min/sum
(max and average pooling) and select_and_scatter_add (max pooling's gradient). The numpy impls
they replace build strided window views and copy them (a reshape of a window view is a gather),
and the scatter makes one numpy pass over the operand per window position: on the digits CNN's
step the pooling gradient took a quarter of the step (benchmarks/bench_cnn.py).

Each kernel is generated for one geometry, with shapes, strides and window sizes as literals:
LLVM then unrolls the small window loops and vectorizes over the contiguous last axis. The same
loops with the geometry passed as arrays ran 20-70x slower (measured on the CNN's 2x2 pooling of
a (64, 8, 8, 32) operand: 1.3 ms against 18 µs). Kernels are cached on disk like the fused ones.

Operands are padded and base-dilated by numpy first (pooling's usual geometry has neither, and
then nothing is copied). Other operands (booleans, complex, empty arrays) and
select_and_gather_add call the numpy impl. The kernels compute what the impls compute: max/min
propagate NaN, and the selection is each window's first maximal (minimal) element or its first
NaN, in row-major window order.
"""
import numpy as np

from ..backend.lowering import _impl_caller, highest, lowest, typed_const

_IDENTITY = {"reduce_window_sum": lambda d: 0, "reduce_window_max": lowest,
             "reduce_window_min": highest}


def _index(axes, out_index, window_index, strides, dilations, sizes):
    """Source of the operand index read by output position `out_index`, window position
    `window_index`, per axis; terms that are always zero are left out."""
    terms = []
    for a in axes:
        parts = []
        if strides[a] and (sizes is None or sizes[a] > 1):
            parts.append(out_index[a] if strides[a] == 1 else f"{out_index[a]} * {strides[a]}")
        if window_index[a] is not None:
            parts.append(window_index[a] if dilations[a] == 1 else
                         f"{window_index[a]} * {dilations[a]}")
        terms.append(" + ".join(parts) or "0")
    return ", ".join(terms)


def _loops(lines, names, bounds, indent):
    """Open one `for` per axis with a bound over 1; return the new indent."""
    for name, n in zip(names, bounds):
        if n > 1:
            lines.append(" " * indent + f"for {name} in range({n}):")
            indent += 4
    return indent


class _Geometry:
    def __init__(self, operand_shape, out_shape, geometry):
        self.rank = len(operand_shape)
        self.out_shape = tuple(out_shape)
        self.wd = tuple(geometry["window_dimensions"])
        self.ws = tuple(geometry["window_strides"])
        self.wl = tuple(geometry["window_dilation"])
        self.padding = tuple(tuple(p) for p in geometry["padding"])
        self.base = tuple(geometry["base_dilation"])
        self.plain = all(p == (0, 0) for p in self.padding) and all(b == 1 for b in self.base)
        axes = range(self.rank)
        self.i = [f"i{a}" for a in axes]
        self.j = [f"j{a}" if self.wd[a] > 1 else None for a in axes]
        self.out_at = ", ".join(i if n > 1 else "0" for i, n in zip(self.i, self.out_shape))
        self.read_at = _index(axes, self.i, self.j, self.ws, self.wl, self.out_shape)
        # The window's first element (its selection's starting point).
        self.first_at = _index(axes, self.i, [None] * self.rank, self.ws, self.wl,
                               self.out_shape)

    def out_loops(self, lines):
        return _loops(lines, self.i, self.out_shape, 4)

    def window_loops(self, lines, indent):
        return _loops(lines, [j or "_" for j in self.j], self.wd, indent)


def reduce_source(name, dtype, g):
    """`def kernel(x, out)`: out[i] = the window reduction of x (padded) at output i."""
    lines = ["def kernel(x, out):"]
    ind = g.out_loops(lines)
    pad = " " * ind
    lines.append(pad + f"acc = {typed_const(_IDENTITY[name](dtype), dtype)}")
    ind2 = g.window_loops(lines, ind)
    pad2 = " " * ind2
    lines.append(pad2 + f"v = x[{g.read_at}]")
    if name == "reduce_window_sum":
        lines.append(pad2 + "acc += v")
    else:
        op = ">" if name == "reduce_window_max" else "<"
        # A NaN read replaces acc, and then no comparison is true: NaN propagates, as np.max.
        lines.append(pad2 + f"if v {op} acc or v != v:")
        lines.append(pad2 + "    acc = v")
    lines.append(pad + f"out[{g.out_at}] = acc")
    return "\n".join(lines) + "\n"


def scatter_source(select, g):
    """`def kernel(s, x, grid)`: grid (zeros, x's padded shape) += s at each window's selected
    element of x."""
    rank = g.rank
    lines = ["def kernel(s, x, grid):"]
    ind = g.out_loops(lines)
    pad = " " * ind
    q, p, r = ([f"{c}{a}" for a in range(rank)] for c in "qpr")
    lines.append(pad + f"{', '.join(q)} = {g.first_at}")
    lines.append(pad + f"best = x[{', '.join(q)}]")
    lines.append(pad + f"{', '.join(p)} = {', '.join(q)}")
    ind2 = g.window_loops(lines, ind)
    pad2 = " " * ind2
    lines.append(pad2 + f"{', '.join(r)} = {g.read_at}")
    lines.append(pad2 + f"v = x[{', '.join(r)}]")
    op = ">" if select == "max" else "<"
    # The first maximal (minimal) element, or the first NaN, which then stays selected.
    lines.append(pad2 + f"if best == best and (v != v or v {op} best):")
    lines.append(pad2 + "    best = v")
    lines.append(pad2 + f"    {', '.join(p)} = {', '.join(r)}")
    lines.append(pad + f"grid[{', '.join(p)}] += s[{g.out_at}]")
    return "\n".join(lines) + "\n"


class ReduceWindowCall:
    def __init__(self, kernel, g, dtype, fill, padded):
        self.kernel, self.g, self.dtype, self.fill, self._padded = kernel, g, dtype, fill, padded

    def __call__(self, x):
        g = self.g
        xp = x if g.plain else self._padded(x, self.fill, g.padding, g.base)
        out = np.empty(g.out_shape, self.dtype)
        self.kernel(np.ascontiguousarray(xp), out)
        return out


class SelectAndScatterAddCall:
    def __init__(self, kernel, g, dtype, fill, padded, unpad):
        self.kernel, self.g, self.dtype, self.fill = kernel, g, dtype, fill
        self._padded, self._unpad = padded, unpad

    def __call__(self, s, x):
        g = self.g
        xp = x if g.plain else self._padded(x, self.fill, g.padding, g.base)
        grid = np.zeros(xp.shape, self.dtype)
        self.kernel(np.ascontiguousarray(s), np.ascontiguousarray(xp), grid)
        return grid if g.plain else self._unpad(grid, g.padding, g.base)


def emitter(prim, padded, unpad):
    """Driver rule of a windowed primitive: a generated kernel where one applies, else the
    numpy impl. `padded(x, fill, padding, base_dilation)` pads and dilates an operand;
    `unpad(grid, padding, base_dilation)` undoes it (windowed.py's helpers)."""
    def emit(ctx, args, **params):
        x_aval = ctx.in_avals[-1]
        dtype = x_aval.dtype
        compiled = x_aval.ndim >= 1 and dtype.kind in "iuf" and x_aval.size > 0 and \
            ctx.out_aval.size > 0
        if prim.name in _IDENTITY and compiled:
            g = _Geometry(x_aval.shape, ctx.out_aval.shape, params)
            fill = np.asarray(_IDENTITY[prim.name](dtype), dtype)
            call = ReduceWindowCall(ctx.kernel(reduce_source(prim.name, dtype, g)), g, dtype,
                                    fill, padded)
        elif prim.name == "select_and_scatter_add" and compiled and dtype.kind == "f":
            geometry = {k: v for k, v in params.items() if k != "select"}
            g = _Geometry(x_aval.shape, ctx.in_avals[0].shape, geometry)
            select = params["select"]
            fill = np.asarray(lowest(dtype) if select == "max" else highest(dtype), dtype)
            call = SelectAndScatterAddCall(ctx.kernel(scatter_source(select, g)), g, dtype,
                                           fill, padded, unpad)
        else:
            call = _impl_caller(prim.impl, params)
        f = ctx.bind_global(call, prim.name)
        return f"{f}({', '.join(args)})"
    return emit
