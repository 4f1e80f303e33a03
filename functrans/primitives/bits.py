"""Bit-level primitives: shifts of integers and nextafter of floats.

The shifts follow XLA's (and jax.lax's) semantics, which unlike C leave nothing undefined:
  shift_left(x, y)              x · 2**y, wrapping modulo 2**bits; 0 once y >= bits
  shift_right_logical(x, y)     the bit pattern of x moved right, zeros shifted in; 0 once
                                y >= bits (a signed x is shifted as its unsigned pattern)
  shift_right_arithmetic(x, y)  copies of the sign bit shifted in; once y >= bits the result
                                is all sign bits (0 or -1 as a signed value)
The shift amount y is read as an unsigned number, so a negative y counts as a huge shift. Both
operands are integers of one dtype (or rank-0 Python ints, which take the other's dtype). The
outputs are integers, so the tangents are zero.

nextafter(x1, x2) is the floating-point number next to x1 in the direction of x2 (x2 itself if
they are equal). It moves x1 by one unit in the last place, so its derivative is taken as 1 in
x1 and 0 in x2: a float's neighbour moves with it. functrans.random uses it to keep samples
strictly below an upper bound.
"""
import numpy as np

from ..backend.lowering import Elementwise
from ..core.primitive import Primitive, Zero
from ..core.trace import get_aval
from . import _sparsity_rules as _sparsity
from ._common import elementwise_batch, elementwise_cost, elementwise_shape_rule, resolve_dtypes
from .shape import broadcast_in_dim

__all__ = ["shift_left", "shift_right_logical", "shift_right_arithmetic", "nextafter"]

_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_SIGNED = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


def _checked_shape_rule(name, kinds, words):
    base = elementwise_shape_rule(name)

    def rule(*avals):
        for a in avals:
            if a.dtype.kind not in kinds:
                raise TypeError(f"lax.{name} requires {words} operands, got "
                                f"{', '.join(b.str_short() for b in avals)}")
        return base(*avals)
    return rule


def _as_bits(x, table):
    """x as a numpy array of the same-width dtype from `table` (a view of its bit pattern)."""
    x = np.asarray(x)
    return x.view(table[x.dtype.itemsize])


def _shift_impl(name, shift_fn):
    """The numpy impl of a shift: checks the operands (eagerly no shape rule runs), reads y as
    unsigned, and computes on the unsigned pattern of x, where numpy's shifts are well defined."""
    rule = _checked_shape_rule(name, "iu", "integer")

    def impl(x, y):
        rule(get_aval(x), get_aval(y))
        dtype = np.asarray(x).dtype
        bits = dtype.itemsize * 8
        ux, uy = _as_bits(x, _UNSIGNED), _as_bits(y, _UNSIGNED)
        in_range = uy < bits
        # numpy (like C) leaves shifts by >= bits machine-dependent: shift by 0 there instead,
        # then put the defined result in place.
        safe = np.where(in_range, uy, 0).astype(ux.dtype)
        out = shift_fn(ux, safe, in_range, bits)
        return np.asarray(out, dtype=ux.dtype).view(dtype)[()]
    impl.__name__ = f"{name}_impl"
    return impl, rule


def _left(ux, y, in_range, bits):
    return np.where(in_range, np.left_shift(ux, y), 0)


def _right_logical(ux, y, in_range, bits):
    return np.where(in_range, np.right_shift(ux, y), 0)


def _right_arithmetic(ux, y, in_range, bits):
    sx = ux.view(_SIGNED[ux.dtype.itemsize])
    # Shifting a signed value by bits - 1 leaves only copies of the sign bit: that is also the
    # defined result of any larger shift.
    out = np.right_shift(sx, np.where(in_range, y, bits - 1).astype(sx.dtype))
    return np.asarray(out).view(ux.dtype)


# Numba lowerings: one element's expression, on the same unsigned/signed reinterpretations as
# the impls. Constants are typed with the operands' width, because Numba computes a uint64
# mixed with a Python int in float64. Narrower integers are promoted to 64 bits by Numba, and
# the store into the output's dtype truncates, which is the wrap-around lax specifies.

def _bits_expr(x, kind, ctx):
    """x reinterpreted as the signed ("int") or unsigned ("uint") integer of its width."""
    d = ctx.in_avals[0].dtype
    want = f"{kind}{d.itemsize * 8}"
    return x if d.name == want else f"np.{want}({x})"


def _typed(value, kind, ctx):
    return f"np.{kind}{ctx.in_avals[0].dtype.itemsize * 8}({value})"


def _left_expr(a, ctx):
    x, y = _bits_expr(a[0], "uint", ctx), _bits_expr(a[1], "uint", ctx)
    bits = ctx.in_avals[0].dtype.itemsize * 8
    return f"(({x} << {y}) if {y} < {_typed(bits, 'uint', ctx)} else {_typed(0, 'uint', ctx)})"


def _right_logical_expr(a, ctx):
    x, y = _bits_expr(a[0], "uint", ctx), _bits_expr(a[1], "uint", ctx)
    bits = ctx.in_avals[0].dtype.itemsize * 8
    return f"(({x} >> {y}) if {y} < {_typed(bits, 'uint', ctx)} else {_typed(0, 'uint', ctx)})"


def _right_arithmetic_expr(a, ctx):
    x, y = _bits_expr(a[0], "int", ctx), _bits_expr(a[1], "uint", ctx)
    bits = ctx.in_avals[0].dtype.itemsize * 8
    amount = f"({y} if {y} < {_typed(bits, 'uint', ctx)} else {_typed(bits - 1, 'uint', ctx)})"
    return f"({x} >> {_typed(amount, 'int', ctx)})"     # numpy refuses int >> uint


def _declare_shift(name, shift_fn, scalar_expr):
    impl, rule = _shift_impl(name, shift_fn)
    prim = Primitive(name, impl=impl, shape_rule=rule,
                     jac_structure="zero (integer output)")
    prim.def_lowering(Elementwise(scalar_expr))

    @prim.def_jvp
    def jvp(primals, tangents):
        out = prim.bind(*primals)
        return out, Zero.like(out)

    prim.def_batch(elementwise_batch(prim))
    prim.def_cost(elementwise_cost(1))
    prim.def_sparsity(_sparsity.zero)
    return prim


shift_left_p = _declare_shift("shift_left", _left, _left_expr)
shift_right_logical_p = _declare_shift("shift_right_logical", _right_logical,
                                       _right_logical_expr)
shift_right_arithmetic_p = _declare_shift("shift_right_arithmetic", _right_arithmetic,
                                          _right_arithmetic_expr)


def shift_left(x, y):
    """x shifted left by y bits, wrapping; 0 for y >= the bit width (jax.lax.shift_left)."""
    return shift_left_p.bind(*resolve_dtypes("shift_left", (x, y)))


def shift_right_logical(x, y):
    """x's bit pattern shifted right by y bits with zeros shifted in; 0 for y >= the bit width
    (jax.lax.shift_right_logical)."""
    return shift_right_logical_p.bind(*resolve_dtypes("shift_right_logical", (x, y)))


def shift_right_arithmetic(x, y):
    """x shifted right by y bits with copies of the sign bit shifted in (for unsigned x, of its
    top bit); all sign bits for y >= the bit width (jax.lax.shift_right_arithmetic)."""
    return shift_right_arithmetic_p.bind(*resolve_dtypes("shift_right_arithmetic", (x, y)))


# --- nextafter -----------------------------------------------------------------------------------

_nextafter_rule = _checked_shape_rule("nextafter", "f", "floating-point")


def _nextafter_impl(x1, x2):
    _nextafter_rule(get_aval(x1), get_aval(x2))
    out = np.nextafter(x1, x2)
    d = np.asarray(x1).dtype
    return out if np.asarray(out).dtype == d else np.asarray(out, d)[()]


nextafter_p = Primitive("nextafter", impl=_nextafter_impl, shape_rule=_nextafter_rule,
                        jac_structure="diagonal (identity in x1, zero in x2)")
nextafter_p.def_lowering(Elementwise(lambda a, ctx: f"np.nextafter({a[0]}, {a[1]})"))


@nextafter_p.def_jvp
def _nextafter_jvp(primals, tangents):
    (x1, x2), (t1, _) = primals, tangents
    out = nextafter(x1, x2)
    shape = get_aval(out).shape
    if isinstance(t1, Zero):
        return out, Zero.like(out)
    if get_aval(t1).shape != shape:      # x1 was rank 0 and broadcast against x2
        t1 = broadcast_in_dim(t1, shape, ())
    return out, t1


nextafter_p.def_batch(elementwise_batch(nextafter_p))
nextafter_p.def_cost(elementwise_cost(1))
nextafter_p.def_sparsity(_sparsity.elementwise_of(0))    # zero derivative in x2


def nextafter(x1, x2):
    """The floating-point number next to x1 in the direction of x2 (jax.lax.nextafter)."""
    return nextafter_p.bind(*resolve_dtypes("nextafter", (x1, x2)))
