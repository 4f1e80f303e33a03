"""How a primitive becomes code: the kinds of lowering rule a primitive can declare.

`jit` lowers a program to a Python *driver* function that calls small Numba kernels (one per
fused loop nest) and numpy (BLAS, numpy's SIMD transcendentals, rarely used operations). A
primitive declares one of these, with `prim.def_lowering(rule)`:

  Elementwise(scalar)      fused into loop kernels; `scalar(args, ctx)` returns the Numba
                           expression of one output element, given its operands' element
                           expressions (strings). May return None to decline for some dtypes:
                           then `fallback` (default: the impl, called by the driver) is used.
  Ufunc(np_function)       a numpy ufunc called by the driver, in place when an operand buffer
                           is dead. numpy's SIMD exp/tanh/log beat Numba's scalar libm calls
                           3-10x on float32 (see the backend notes), so transcendentals use it.
  View(index_map, view)    an index remapping (broadcast, transpose, slice, rev, squeeze): kernels
                           read the operand through `index_map(in_aval, out_aval, **params)`
                           (None declines); the driver materializes it as the numpy view
                           `view(x, in_aval, out_aval, **params)` (a Python expression over
                           the name x). reshape=True: the view is x.reshape(out shape), so of a
                           C-contiguous operand it is C-contiguous; read_only=True: the view
                           cannot be written (np.broadcast_to), so a program result made by it
                           is copied.
  Reduce(identity, combine, numpy)
                           an associative reduction over params["axes"]: fused at the end of a
                           loop nest (accumulator `identity(dtype)`, step `combine(acc, x)`), or
                           the numpy expression `numpy(x, axes)` when its operand is in memory.
  Driver(emit)             anything else: `emit(ctx, args, **params)` returns a Python
                           expression (names of the operands in `args`) for the driver.
                           `Driver.impl(prim)` calls the primitive's own numpy impl.
                           ctx.in_avals/out_avals describe the equation; ctx.bind_global(obj)
                           names a Python object for the driver; ctx.output_buffer() gives a
                           buffer to write the result into (or None); ctx.subprogram(closed) names
                           a compiled callable of a sub-program (control flow: a cond's
                           branches, a loop's body), called with arrays, returning a tuple.
                           fresh_result=True: the expression returns a new C-contiguous array
                           that nothing else holds (the driver may reuse its buffer later).
  Inline(program)          a call of a sub-program (jit, custom_jvp_call, checkpoint):
                           `program(in_avals, **params)` gives the ClosedProgram to inline.

Beside its lowering a primitive may declare, on the Primitive:

  prim.def_simplify(rule)  a rewrite jit applies before lowering: `rule(eqn, ctx)` returns None
                           (no change), an operand atom equal to the single output (the
                           equation passes it through: it must have the output's shape and
                           dtype, else the answer is ignored), or an Eqn with the same outputs
                           that computes them more cheaply. ctx.producer(atom) is the equation
                           that computes atom when this equation is its only use, else None.
  prim.def_loop_lowering(rule)
                           its code inside a loop compiled as one Numba function (see
                           functrans.backend.loop_lowering); without one, a loop whose body
                           has the primitive as a driver step stays a Python loop.

An index map describes, for each axis of an operand, which element a kernel iteration reads:
a tuple with one entry per operand axis, each (k, scale, offset) for `offset + scale * i_k`
(i_k the k-th loop index) or (None, 0, c) for the constant c.
"""
import numpy as np

from ..core.ir import Eqn, Literal
from ..core.staging import stage


class Lowering:
    kind = "?"

    def __repr__(self):
        return f"<{type(self).__name__} lowering>"


class Elementwise(Lowering):
    kind = "elementwise"

    def __init__(self, scalar, fallback=None, index_maps=None):
        self.scalar = scalar
        self.fallback = fallback
        # For operations whose operands are not simply the output's shape (dot_general without
        # contracting dims is an outer product): index_maps(in_avals, out_aval, **params).
        self.index_maps = index_maps


class Ufunc(Lowering):
    kind = "ufunc"
    # Below this many elements a call costs more than numpy's faster loop saves: then the
    # operation is fused into the kernel as `scalar` (a format string over {0}, {1}, {one}).
    FUSE_BELOW = 8192

    def __init__(self, ufunc, scalar=None):
        # A function, or "module:name" imported on first use (scipy.special is slow to import).
        self._ufunc = ufunc
        self.scalar = scalar

    @property
    def ufunc(self):
        if isinstance(self._ufunc, str):
            import importlib
            module, name = self._ufunc.split(":")
            self._ufunc = getattr(importlib.import_module(module), name)
        return self._ufunc

    def result_dtype(self, in_avals):
        """The dtype the ufunc returns for operands of these avals (None if the probe fails):
        scipy's special functions have no float16 loop, for one."""
        try:
            probe = [np.ones((), a.dtype) for a in in_avals]
            with np.errstate(all="ignore"):
                return np.asarray(self.ufunc(*probe)).dtype
        except Exception:
            return None


class View(Lowering):
    kind = "view"

    def __init__(self, index_map, view, reshape=False, read_only=False):
        self.index_map = index_map
        self.view = view
        self.reshape = reshape
        self.read_only = read_only


class Reduce(Lowering):
    kind = "reduce"

    def __init__(self, identity, combine, numpy):
        self.identity = identity
        self.combine = combine
        self.numpy = numpy


class Driver(Lowering):
    kind = "driver"

    def __init__(self, emit, fresh_result=False):
        self.emit = emit
        self.fresh_result = fresh_result

    @staticmethod
    def impl(prim):
        """Call the primitive's numpy impl from the driver (what the interpreter does), without
        the argument checks eager calls run (`unchecked`, shape.checked_primitive): tracing
        checked this equation's shapes already."""
        def emit(ctx, args, **params):
            impl = getattr(prim.impl, "unchecked", prim.impl)
            f = ctx.bind_global(_impl_caller(impl, params), f"impl_{prim.name}")
            return f"{f}({', '.join(args)})"
        return Driver(emit)


class Inline(Lowering):
    kind = "inline"

    def __init__(self, program):
        self.program = program


def _impl_caller(impl, params):
    if not params:
        return impl

    def call(*args):
        return impl(*args, **params)
    return call


# --- helpers rules share ----------------------------------------------------------------------

def identity_map(ndim):
    return tuple((k, 1, 0) for k in range(ndim))


def scalar_ctor(dtype) -> str:
    """The Numba/numpy constructor of a scalar of `dtype`, e.g. np.float32."""
    return f"np.{np.dtype(dtype).name}"


def typed_const(value, dtype) -> str:
    """A constant as Numba source, typed: a bare Python float would make float32 code float64."""
    d = np.dtype(dtype)
    v = np.asarray(value, dtype=d)[()]
    if d.kind == "b":
        return "True" if v else "False"
    if d.kind == "f":
        f = float(v)
        if np.isnan(f):
            return f"np.{d.name}(np.nan)"
        if np.isinf(f):
            return f"np.{d.name}({'-' if f < 0 else ''}np.inf)"
        return f"np.{d.name}({f!r})"
    if d.kind == "c":
        # parts through the float branch: nan/inf have no Python literal
        return (f"np.{d.name}(complex({typed_const(v.real, np.float64)}, "
                f"{typed_const(v.imag, np.float64)}))")
    return f"np.{d.name}({int(v)})"


# --- building blocks of rules ---------------------------------------------------------------

def unary(template):
    """An Elementwise rule from a format string over the operand ({0})."""
    return Elementwise(lambda a, ctx: template.format(*a))


def binary(op):
    return Elementwise(lambda a, ctx: f"{a[0]} {op} {a[1]}")


def float_only(template):
    """For floating operands only (integer semantics differ: the impl handles those). The
    template may use {one}, a typed 1."""
    def scalar(a, ctx):
        if ctx.out_aval.dtype.kind not in "fc":
            return None
        return template.format(*a, one=ctx.const(1))
    return Elementwise(scalar)


def nan_max(a, b):
    """numpy's maximum: NaN from either side wins (`a != a` only for NaN)."""
    return f"({a} if ({a} > {b} or {a} != {a}) else {b})"


def nan_min(a, b):
    return f"({a} if ({a} < {b} or {a} != {a}) else {b})"


def minmax(which):
    pick = nan_max if which == "max" else nan_min

    def scalar(a, ctx):
        kind = ctx.in_avals[0].dtype.kind
        if kind == "c":
            return None       # numpy orders complex numbers lexicographically: the impl does
        return pick(a[0], a[1]) if kind == "f" else f"{which}({a[0]}, {a[1]})"
    return Elementwise(scalar)


def numpy_ufunc(name):
    """numpy's ufunc np.<name>, fused as the same function on small arrays."""
    return Ufunc(getattr(np, name), f"np.{name}({{0}})")


def impl_call(prim):
    return Driver.impl(prim)


def only_unit_axes_moved(src, piece, m):
    """Is the view `piece` of `src` (avals; m: the index map, src axes in terms of piece axes)
    only src with axes of size 1 added or removed, its elements in row-major order?"""
    if src.size != piece.size:
        return False
    axes = []
    for (k, scale, offset), n in zip(m, src.shape):
        if n == 1:
            continue
        if k is None or scale != 1 or offset != 0 or piece.shape[k] != n:
            return False
        axes.append(k)
    return axes == sorted(set(axes))


def view_moves_no_data(rule, xa, out, params):
    """Does a View rule keep its operand's elements in row-major order (only adding or
    dropping axes of size 1), so that a contiguous operand gives a contiguous view?"""
    if xa.size != out.size or rule.index_map is None:
        return False
    m = rule.index_map(xa, out, **params)
    return m is not None and only_unit_axes_moved(xa, out, m)


def unit_axes_map(x, out):
    """Reshapes that only insert or remove size-1 axes keep an index map; others do not."""
    xs = [(i, n) for i, n in enumerate(x.shape) if n != 1]
    os_ = [(k, n) for k, n in enumerate(out.shape) if n != 1]
    if [n for _, n in xs] != [n for _, n in os_]:
        return None
    m = [(None, 0, 0)] * x.ndim
    for (i, _), (k, _) in zip(xs, os_):
        m[i] = (k, 1, 0)
    return tuple(m)


def reshape_view(x, xa, oa, **params):
    return f"{x}.reshape({tuple(oa.shape)})"


def lowest(dtype):
    """The identity of max: the smallest value of dtype (-inf for floats)."""
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def highest(dtype):
    """The identity of min: the largest value of dtype (inf for floats)."""
    if dtype.kind == "f":
        return np.inf
    if dtype.kind == "b":
        return True
    return np.iinfo(dtype).max


def numpy_reduce(ufunc):
    """ufunc.reduce called directly: np.sum's Python wrapper costs µs on small arrays."""
    return lambda x, axes, dtype: f"np.{ufunc}.reduce({x}, {tuple(axes)}, np.{dtype.name})"


def numpy_minmax(ufunc, identity):
    return lambda x, axes, dtype: (f"np.{ufunc}.reduce({x}, axis={tuple(axes)}, "
                                   f"initial={typed_const(identity(dtype), dtype)})")


def trace_impl(prim):
    """Inline a call-like primitive by tracing its impl (written with lax functions)."""
    def program(in_avals, **params):

        def flat(ins):
            out = prim.impl(*ins, **params)
            return prim.as_list(out)
        return stage(flat, list(in_avals))
    return Inline(program)


# --- simplification rules (prim.def_simplify) -------------------------------------------------

def same_aval_identity(eqn, ctx):
    """The equation passes its operand through when the output has the operand's shape and
    dtype (a reshape, squeeze or broadcast to the same shape, a conversion to the same dtype)."""
    return eqn.inputs[0]


def literal_identity(value):
    """op(x, c) is x for the literal c (x * 1)."""
    def rule(eqn, ctx):
        for a, b in ((eqn.inputs[0], eqn.inputs[1]), (eqn.inputs[1], eqn.inputs[0])):
            if isinstance(b, Literal) and b.value == value:
                return a
        return None
    return rule


def reduction_of_unit_axes(reshape):
    """A reduction over no axes passes its operand through; over axes of size 1 only it moves
    no data: the `reshape` primitive's equation."""
    def rule(eqn, ctx):
        x, axes = eqn.inputs[0], eqn.params["axes"]
        if not axes:
            return x
        if isinstance(x, Literal) or any(x.aval.shape[d] != 1 for d in axes):
            return None
        out = eqn.outputs[0]
        return Eqn(reshape, (x,), (out,), {"new_sizes": tuple(out.aval.shape)})
    return rule


def transposed_product(dot):
    """For the transpose primitive: transpose(dot(a, b)) that swaps the two operands' free axes
    is dot(b, a) (`dot` is dot_general). Reverse mode produces these (a weight gradient computed
    as (gᵀx)ᵀ); the swapped product writes the wanted layout directly, so nothing reads it
    strided later."""
    def rule(eqn, ctx):
        product = ctx.producer(eqn.inputs[0])
        if product is None or product.primitive is not dot:
            return None
        (lc, rc), (lb, rb) = product.params["dimension_numbers"]
        lhs, rhs = product.inputs
        n_l, n_r = lhs.aval.ndim - len(lc), rhs.aval.ndim - len(rc)
        if lb or tuple(eqn.params["permutation"]) != tuple(range(n_l, n_l + n_r)) + \
                tuple(range(n_l)):
            return None
        params = dict(product.params, dimension_numbers=((rc, lc), ((), ())))
        return Eqn(dot, (rhs, lhs), eqn.outputs, params)
    return rule
