"""More of numpy's API (jax.numpy's names and x64 semantics), composed from the other fnp
functions, so that each is differentiable, batchable and jit-compilable through the primitives
those use. Eagerly (no traced argument) they compute with numpy arrays like the rest of fnp.

Functions whose result's *shape* depends on values (unique, nonzero-like, real_if_close) need
concrete values, or a static `size=` where JAX offers one; under a transform they raise the usual
concretization error otherwise.
"""
import builtins
import math
import operator

import numpy as np

from .. import lax
from ..core.trace import Tracer
from ._promotion import asarray, canonical_axis, dtype_of, eager, promote_args, shape_of

__all__ = [
    "allclose", "isclose", "array_equal", "array_equiv", "angle", "append", "c_", "r_", "s_",
    "index_exp", "cross", "diff", "ediff1d", "dsplit", "hsplit", "vsplit", "fabs", "gradient",
    "kron", "logaddexp2", "meshgrid", "nan_to_num", "pad", "partition", "argpartition",
    "real_if_close", "iscomplex", "isreal", "iscomplexobj", "isrealobj", "isscalar", "rollaxis",
    "rot90", "row_stack", "select", "sinc", "interp", "trapezoid", "histogram",
    "histogram_bin_edges", "unique", "unique_values", "unique_counts", "unique_inverse",
    "unique_all", "searchsorted", "digitize", "isneginf", "isposinf", "heaviside", "float_power",
    "ldexp", "frexp", "modf", "divmod", "logspace", "geomspace", "vander", "i0", "unwrap",
    "diagflat", "fill_diagonal", "choose", "piecewise", "permute_dims", "concat", "unstack",
    "vecdot", "matvec", "vecmat", "insert", "delete", "block", "resize", "astype", "copy",
    "sort_complex", "spacing", "isin", "bincount", "argwhere", "tril_indices", "triu_indices",
    "tril_indices_from", "triu_indices_from", "diag_indices", "diag_indices_from", "indices",
    "ix_", "mgrid", "ogrid", "unravel_index", "ravel_multi_index", "fromfunction",
    "apply_along_axis", "apply_over_axes", "vectorize", "bartlett", "blackman", "hamming",
    "hanning", "kaiser", "extract", "compress", "put_along_axis", "trim_zeros", "lexsort",
    "gcd", "lcm", "cumulative_sum", "cumulative_prod", "intersect1d", "union1d", "setdiff1d",
    "setxor1d", "iterable", "isdtype", "put", "place",
]


def _fnp():
    from ._raw import raw       # fnp's functions, without the user-facing result wrapper
    return raw


def _arr(x, name):
    return _fnp().asarray(asarray(x, name))


def _inexact(x):
    fnp = _fnp()
    return x if dtype_of(x).kind in "fc" else fnp.asarray(x, dtype=np.float64)


def _is_traced(*xs):
    return any(isinstance(x, Tracer) for x in xs)


def _concrete(x, name, why):
    """The numpy value of x; a traced x raises the concretization error with `why`."""
    if isinstance(x, Tracer):
        from ..core.errors import ConcretizationTypeError
        raise ConcretizationTypeError(
            f"fnp.{name} needs concrete values: {why}. Call it outside jit/vmap, or use the "
            f"static size= argument where there is one.")
    return np.asarray(x)


# --- comparisons ----------------------------------------------------------------------------

def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol |b| elementwise; infinities equal only to themselves."""
    fnp = _fnp()
    a, b = promote_args("isclose", a, b)
    if dtype_of(a).kind in "biu":
        return fnp.equal(a, b)
    a, b = _inexact(a), _inexact(b)
    rtol = np.asarray(rtol, _real_dtype(a))[()]
    atol = np.asarray(atol, _real_dtype(a))[()]
    finite = fnp.logical_and(fnp.isfinite(a), fnp.isfinite(b))
    with np.errstate(invalid="ignore"):
        close = fnp.less_equal(fnp.abs(fnp.subtract(a, b)),
                               fnp.add(atol, fnp.multiply(rtol, fnp.abs(b))))
    out = fnp.where(finite, close, fnp.equal(a, b))
    if equal_nan:
        out = fnp.logical_or(out, fnp.logical_and(fnp.isnan(a), fnp.isnan(b)))
    return out


def _real_dtype(x):
    d = dtype_of(x)
    return {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}.get(d, d)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element of a and b is close (a 0-d bool array, as JAX)."""
    return _fnp().all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    """True if a1 and a2 have the same shape and elements (a 0-d bool array when shapes match,
    a Python bool when they do not)."""
    fnp = _fnp()
    a1, a2 = _arr(a1, "array_equal"), _arr(a2, "array_equal")
    if shape_of(a1) != shape_of(a2):
        return np.bool_(False)
    eq = fnp.equal(a1, a2)
    if equal_nan and dtype_of(a1).kind in "fc":
        eq = fnp.logical_or(eq, fnp.logical_and(fnp.isnan(a1), fnp.isnan(a2)))
    return fnp.all(eq)


def array_equiv(a1, a2):
    """True if a1 and a2 broadcast to each other and are equal."""
    fnp = _fnp()
    a1, a2 = _arr(a1, "array_equiv"), _arr(a2, "array_equiv")
    try:
        np.broadcast_shapes(shape_of(a1), shape_of(a2))
    except ValueError:
        return np.bool_(False)
    return fnp.all(fnp.equal(a1, a2))


def iscomplex(x):
    """Elementwise: a nonzero imaginary part."""
    x = _arr(x, "iscomplex")
    fnp = _fnp()
    return fnp.not_equal(fnp.imag(x), 0) if dtype_of(x).kind == "c" else \
        fnp.zeros(shape_of(x), bool)


def isreal(x):
    """Elementwise: a zero imaginary part."""
    return _fnp().logical_not(iscomplex(x))


def iscomplexobj(x):
    """Whether x has a complex dtype (a Python bool)."""
    return dtype_of(_arr(x, "iscomplexobj")).kind == "c"


def isrealobj(x):
    """Whether x does not have a complex dtype (a Python bool)."""
    return not iscomplexobj(x)


def isscalar(element):
    """Python scalars and 0-d arrays (JAX's rule: 0-d arrays count, unlike numpy)."""
    if isinstance(element, (int, float, complex, bool, np.generic)):
        return True
    return isinstance(element, (np.ndarray, Tracer)) and len(shape_of(element)) == 0


def isneginf(x):
    fnp = _fnp()
    x = _arr(x, "isneginf")
    return fnp.logical_and(fnp.isinf(x), fnp.less(x, 0))


def isposinf(x):
    fnp = _fnp()
    x = _arr(x, "isposinf")
    return fnp.logical_and(fnp.isinf(x), fnp.greater(x, 0))


def iterable(y):
    try:
        iter(y)
    except TypeError:
        return False
    return True


def isdtype(dtype, kind):
    """The array API's dtype classification ('bool', 'signed integer', 'real floating', ...)."""
    d = np.dtype(dtype)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    table = {"bool": "b", "signed integer": "i", "unsigned integer": "u", "integral": "iu",
             "real floating": "f", "complex floating": "c", "numeric": "iufc"}
    for k in kinds:
        if isinstance(k, str):
            if k not in table:
                raise ValueError(f"fnp.isdtype: unknown kind {k!r}")
            if d.kind in table[k]:
                return True
        elif d == np.dtype(k):
            return True
    return False


# --- elementwise ----------------------------------------------------------------------------

def angle(z, deg=False):
    """The argument of complex z (arctan2(imag, real)); 0 or pi for real z."""
    fnp = _fnp()
    z = _inexact(_arr(z, "angle"))
    out = fnp.arctan2(fnp.imag(z), fnp.real(z)) if dtype_of(z).kind == "c" else \
        fnp.arctan2(fnp.zeros_like(z), z)
    return fnp.degrees(out) if deg else out


def fabs(x):
    """|x| for real x (complex raises, as numpy's fabs)."""
    x = _arr(x, "fabs")
    if dtype_of(x).kind == "c":
        raise TypeError("fnp.fabs does not accept complex arguments; use fnp.abs")
    return _fnp().abs(_inexact(x))


def logaddexp2(x1, x2):
    """log2(2**x1 + 2**x2), without overflow."""
    fnp = _fnp()
    x1, x2 = promote_args("logaddexp2", x1, x2, inexact=True)
    ln2 = np.asarray(math.log(2), dtype_of(x1))[()]
    return fnp.divide(fnp.logaddexp(fnp.multiply(x1, ln2), fnp.multiply(x2, ln2)), ln2)


def _sinc_core(x):
    fnp = _fnp()
    # Below |x| = 1e-3 the Maclaurin polynomial 1 - (pi x)^2/6 + (pi x)^4/120 is exact to
    # double precision, and differentiable to any order at 0 (sin(pi x)/(pi x) is 0/0 there).
    small = fnp.less(fnp.abs(x), 1e-3)
    px = fnp.multiply(x, np.asarray(math.pi, dtype_of(x))[()])
    safe = fnp.where(small, fnp.ones_like(px), px)
    p2 = fnp.square(px)
    series = fnp.add(fnp.subtract(1, fnp.divide(p2, 6)), fnp.divide(fnp.square(p2), 120))
    return fnp.where(small, series, fnp.divide(fnp.sin(safe), safe))


def sinc(x):
    """sin(pi x) / (pi x), 1 at 0; smooth derivatives of every order at 0."""
    return _sinc_core(_inexact(_arr(x, "sinc")))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """nan -> nan, inf -> posinf (default: the largest finite value), -inf -> neginf."""
    fnp = _fnp()
    x = _arr(x, "nan_to_num")
    kind = dtype_of(x).kind
    if kind == "c":
        return fnp.real(nan_to_num(fnp.real(x), nan=nan, posinf=posinf, neginf=neginf)) + \
            1j * nan_to_num(fnp.imag(x), nan=nan, posinf=posinf, neginf=neginf)
    if kind != "f":
        return x
    info = np.finfo(dtype_of(x))
    d = dtype_of(x)
    hi = np.asarray(info.max if posinf is None else posinf, d)[()]
    lo = np.asarray(info.min if neginf is None else neginf, d)[()]
    out = fnp.where(fnp.isnan(x), np.asarray(nan, d)[()], x)
    out = fnp.where(isposinf(out), hi, out)
    return fnp.where(isneginf(out), lo, out)


def heaviside(x1, x2):
    """0 for x1 < 0, x2 at 0, 1 for x1 > 0 (zero derivative in x1)."""
    fnp = _fnp()
    x1, x2 = promote_args("heaviside", x1, x2, inexact=True)
    zero, one = fnp.zeros_like(x1), fnp.ones_like(x1)
    return fnp.where(fnp.less(x1, 0), zero, fnp.where(fnp.greater(x1, 0), one, x2))


def float_power(x1, x2):
    """x1 ** x2 computed in float64 (complex128 for complex inputs)."""
    fnp = _fnp()
    x1, x2 = promote_args("float_power", x1, x2, inexact=True)
    d = np.complex128 if dtype_of(x1).kind == "c" else np.float64
    return fnp.power(fnp.asarray(x1, dtype=d), fnp.asarray(x2, dtype=d))


def ldexp(x1, x2):
    """x1 * 2**x2 (x2 integers)."""
    fnp = _fnp()
    x1 = _inexact(_arr(x1, "ldexp"))
    x2 = _arr(x2, "ldexp")
    if dtype_of(x2).kind not in "biu":
        raise TypeError("fnp.ldexp: x2 must hold integers")
    return fnp.multiply(x1, fnp.exp2(fnp.asarray(x2, dtype=dtype_of(x1))))


def frexp(x):
    """(mantissa, exponent) with x = mantissa * 2**exponent and 0.5 <= |mantissa| < 1; the
    mantissa's derivative is 2**-exponent, the exponent (int32) has none."""
    fnp = _fnp()
    x = _inexact(_arr(x, "frexp"))
    if eager(x):
        m, e = np.frexp(x)
        return m, e.astype(np.int32)
    a = fnp.abs(x)
    safe = fnp.where(fnp.equal(a, 0), fnp.ones_like(a), a)
    e = fnp.add(fnp.floor(fnp.log2(safe)), 1)
    # log2 rounding can be off by one at powers of two: fix the exponent up
    m = fnp.divide(a, fnp.exp2(lax.stop_gradient(e)))
    e = fnp.where(fnp.greater_equal(m, 1), fnp.add(e, 1), fnp.where(fnp.less(m, 0.5),
                                                                    fnp.subtract(e, 1), e))
    e = lax.stop_gradient(fnp.where(fnp.logical_or(fnp.equal(a, 0), fnp.logical_not(
        fnp.isfinite(a))), fnp.zeros_like(e), e))
    mant = fnp.divide(x, fnp.exp2(e))
    return mant, fnp.asarray(e, dtype=np.int32)


def modf(x):
    """(fractional part, integral part), both with x's sign."""
    fnp = _fnp()
    x = _inexact(_arr(x, "modf"))
    whole = fnp.trunc(x)
    return fnp.subtract(x, whole), whole


def divmod(x1, x2):
    """(x1 // x2, x1 % x2), numpy's floor division and remainder."""
    fnp = _fnp()
    return fnp.floor_divide(x1, x2), fnp.remainder(x1, x2)


def spacing(x):
    """The distance from x to the next float away from zero (no derivative)."""
    fnp = _fnp()
    x = _inexact(_arr(x, "spacing"))
    inf = np.asarray(np.inf, dtype_of(x))[()]
    toward = fnp.where(fnp.less(x, 0), -inf, inf)
    return lax.stop_gradient(fnp.subtract(fnp.nextafter(x, toward), x))


def i0(x):
    """The modified Bessel function of the first kind, order 0."""
    from ..scipy.special import i0 as _i0
    x = _arr(x, "i0")
    if dtype_of(x).kind == "c":
        raise TypeError("fnp.i0 does not accept complex arguments")
    return _i0(x)


def gcd(x1, x2):
    """The greatest common divisor of integers (needs concrete values)."""
    return _integer_pair("gcd", np.gcd, x1, x2)


def lcm(x1, x2):
    """The least common multiple of integers (needs concrete values)."""
    return _integer_pair("lcm", np.lcm, x1, x2)


def _integer_pair(name, np_fun, x1, x2):
    a = _concrete(x1, name, "Euclid's algorithm runs a value-dependent number of steps")
    b = _concrete(x2, name, "Euclid's algorithm runs a value-dependent number of steps")
    if np.result_type(a, b).kind not in "biu":
        raise TypeError(f"fnp.{name} requires integer arguments")
    return np_fun(a, b)


def sort_complex(a):
    """a sorted (real part, then imaginary part) as complex."""
    fnp = _fnp()
    a = _arr(a, "sort_complex")
    d = dtype_of(a)
    out_dtype = d if d.kind == "c" else (np.complex64 if d == np.float32 else np.complex128)
    a = fnp.asarray(a, dtype=out_dtype)
    order = lexsort((fnp.imag(a), fnp.real(a)))
    return fnp.take(a, order)


def lexsort(keys, axis=-1):
    """Indices that sort by the last key, then the one before, ... (stable)."""
    fnp = _fnp()
    keys = [_arr(k, "lexsort") for k in keys]
    if not keys:
        raise TypeError("fnp.lexsort needs at least one key")
    order = fnp.argsort(keys[0], axis=axis)
    for k in keys[1:]:
        sorted_k = fnp.take_along_axis(k, order, axis=axis)
        order = fnp.take_along_axis(order, fnp.argsort(sorted_k, axis=axis), axis=axis)
    return order


# --- shapes and assembly ----------------------------------------------------------------------

def append(arr, values, axis=None):
    """arr with values appended (flattened when axis is None)."""
    fnp = _fnp()
    arr, values = _arr(arr, "append"), _arr(values, "append")
    if axis is None:
        return fnp.concatenate([fnp.ravel(arr), fnp.ravel(values)])
    return fnp.concatenate([arr, values], axis=axis)


def _split_along(name, ary, indices_or_sections, axis, min_ndim):
    fnp = _fnp()
    ary = _arr(ary, name)
    if len(shape_of(ary)) < min_ndim:
        raise ValueError(f"fnp.{name} only works on arrays of {min_ndim} or more dimensions")
    return fnp.split(ary, indices_or_sections, axis=axis)


def hsplit(ary, indices_or_sections):
    """split along axis 1 (axis 0 for 1-d arrays)."""
    ary = _arr(ary, "hsplit")
    return _split_along("hsplit", ary, indices_or_sections, 1 if len(shape_of(ary)) > 1 else 0,
                        1)


def vsplit(ary, indices_or_sections):
    """split along axis 0 of an array of 2 or more dimensions."""
    return _split_along("vsplit", ary, indices_or_sections, 0, 2)


def dsplit(ary, indices_or_sections):
    """split along axis 2 of an array of 3 or more dimensions."""
    return _split_along("dsplit", ary, indices_or_sections, 2, 3)


def row_stack(tup):
    """vstack (numpy's older name)."""
    return _fnp().vstack(tup)


def concat(arrays, /, *, axis=0):
    """The array API's concatenate."""
    return _fnp().concatenate(arrays, axis=axis)


def permute_dims(a, /, axes):
    """The array API's transpose."""
    return _fnp().transpose(a, axes)


def unstack(x, /, *, axis=0):
    """The slices of x along axis, as a tuple."""
    fnp = _fnp()
    x = _arr(x, "unstack")
    axis = canonical_axis(axis, len(shape_of(x)), "unstack")
    return tuple(fnp.take(x, i, axis=axis) for i in range(shape_of(x)[axis]))


def rollaxis(a, axis, start=0):
    """Move axis to the position before start (numpy's older moveaxis)."""
    fnp = _fnp()
    a = _arr(a, "rollaxis")
    n = len(shape_of(a))
    axis = canonical_axis(axis, n, "rollaxis")
    if not -n <= start <= n:
        raise ValueError(f"fnp.rollaxis: start {start} out of range for {n} dimensions")
    start = start + n if start < 0 else start
    if axis < start:
        start -= 1
    return fnp.moveaxis(a, axis, start)


def rot90(m, k=1, axes=(0, 1)):
    """m rotated by 90 degrees k times in the plane of axes."""
    fnp = _fnp()
    m = _arr(m, "rot90")
    n = len(shape_of(m))
    a0, a1 = (canonical_axis(a, n, "rot90") for a in axes)
    if a0 == a1:
        raise ValueError("fnp.rot90: the axes must differ")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return fnp.flip(fnp.flip(m, a0), a1)
    perm = list(range(n))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return fnp.transpose(fnp.flip(m, a1), perm)
    return fnp.flip(fnp.transpose(m, perm), a1)


def kron(a, b):
    """The Kronecker product: blocks a[i, j] * b."""
    fnp = _fnp()
    a, b = _arr(a, "kron"), _arr(b, "kron")
    nd = builtins.max(len(shape_of(a)), len(shape_of(b)))
    a = fnp.reshape(a, (1,) * (nd - len(shape_of(a))) + shape_of(a))
    b = fnp.reshape(b, (1,) * (nd - len(shape_of(b))) + shape_of(b))
    # interleave axes: a's i-th axis, then b's i-th axis
    a_exp = fnp.reshape(a, tuple(x for s in shape_of(a) for x in (s, 1)))
    b_exp = fnp.reshape(b, tuple(x for s in shape_of(b) for x in (1, s)))
    out = fnp.multiply(a_exp, b_exp)
    return fnp.reshape(out, tuple(p * q for p, q in zip(shape_of(a), shape_of(b))))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 2- or 3-component vectors along the given axes."""
    fnp = _fnp()
    a, b = _arr(a, "cross"), _arr(b, "cross")
    if axis is not None:
        axisa = axisb = axisc = axis
    a = fnp.moveaxis(a, axisa, -1)
    b = fnp.moveaxis(b, axisb, -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("fnp.cross: incompatible dimensions for cross product (dimension "
                         "must be 2 or 3)")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    a2 = a[..., 2] if na == 3 else None
    b2 = b[..., 2] if nb == 3 else None
    z = fnp.subtract(fnp.multiply(a0, b1), fnp.multiply(a1, b0))
    if na == 2 and nb == 2:
        return z
    a2 = fnp.zeros_like(a0) if a2 is None else a2
    b2 = fnp.zeros_like(b0) if b2 is None else b2
    x = fnp.subtract(fnp.multiply(a1, b2), fnp.multiply(a2, b1))
    y = fnp.subtract(fnp.multiply(a2, b0), fnp.multiply(a0, b2))
    return fnp.moveaxis(fnp.stack(fnp.broadcast_arrays(x, y, z), axis=-1), -1, axisc)


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The n-th discrete difference along axis (booleans: not_equal)."""
    fnp = _fnp()
    a = _arr(a, "diff")
    if len(shape_of(a)) == 0:
        raise ValueError("fnp.diff requires an input of at least one dimension")
    axis = canonical_axis(axis, len(shape_of(a)), "diff")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"fnp.diff: order must be non-negative, got {n}")

    def edge(e):
        e = _arr(e, "diff")
        shape = list(shape_of(a))
        shape[axis] = 1 if len(shape_of(e)) == 0 else shape_of(e)[axis]
        return fnp.broadcast_to(e, tuple(shape))
    pieces = ([edge(prepend)] if prepend is not None else []) + [a] + \
        ([edge(append)] if append is not None else [])
    if len(pieces) > 1:
        a = fnp.concatenate(pieces, axis=axis)
    is_bool = dtype_of(a).kind == "b"
    for _ in range(n):
        hi, lo = _slice(a, 1, None, axis), _slice(a, 0, -1, axis)
        a = fnp.not_equal(hi, lo) if is_bool else fnp.subtract(hi, lo)
    return a


def _slice(a, start, stop, axis):
    """a[start:stop] along axis (static bounds)."""
    return lax.slice_in_dim(a, start, stop, axis=axis)


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of consecutive elements of the flattened array, with optional ends."""
    fnp = _fnp()
    flat = fnp.ravel(_arr(ary, "ediff1d"))
    d = diff(flat) if shape_of(flat)[0] else flat
    parts = []
    if to_begin is not None:
        parts.append(fnp.ravel(fnp.asarray(_arr(to_begin, "ediff1d"), dtype=dtype_of(d))))
    parts.append(d)
    if to_end is not None:
        parts.append(fnp.ravel(fnp.asarray(_arr(to_end, "ediff1d"), dtype=dtype_of(d))))
    return fnp.concatenate(parts) if len(parts) > 1 else d


def gradient(f, *varargs, axis=None, edge_order=1):
    """The gradient by second-order central differences inside and one-sided differences at
    the edges (edge_order 1 or 2); spacings are scalars or coordinate arrays per axis."""
    fnp = _fnp()
    f = _inexact(_arr(f, "gradient"))
    n = len(shape_of(f))
    axes = tuple(range(n)) if axis is None else tuple(
        canonical_axis(a, n, "gradient") for a in ((axis,) if isinstance(axis, int) else axis))
    if edge_order not in (1, 2):
        raise ValueError("fnp.gradient: edge_order must be 1 or 2")
    if not varargs:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError("fnp.gradient: give one spacing, or one per axis")
    outs = []
    for ax, h in zip(axes, spacings):
        m = shape_of(f)[ax]
        if m < edge_order + 1:
            raise ValueError("fnp.gradient: each dimension must have at least edge_order + 1 "
                             "elements")
        outs.append(_gradient_axis(fnp, f, ax, h, edge_order))
    return outs[0] if len(outs) == 1 else outs


def _gradient_axis(fnp, f, ax, h, edge_order):
    n = len(shape_of(f))
    m = shape_of(f)[ax]

    def shape_line(v):
        s = [1] * n
        s[ax] = -1
        return fnp.reshape(v, s)
    f0, f1, f2 = _slice(f, 0, -2, ax), _slice(f, 1, -1, ax), _slice(f, 2, None, ax)
    if np.ndim(h) == 0 and not (isinstance(h, Tracer) and shape_of(h)):
        # a Python spacing stays a weak scalar (float32 data stays float32)
        two_h = 2 * h if isinstance(h, (int, float)) else fnp.multiply(2, h)
        interior = fnp.divide(fnp.subtract(f2, f0), two_h)
        first = fnp.take(f, [1], axis=ax) - fnp.take(f, [0], axis=ax)
        last = fnp.take(f, [m - 1], axis=ax) - fnp.take(f, [m - 2], axis=ax)
        if edge_order == 1:
            first, last = fnp.divide(first, h), fnp.divide(last, h)
        else:
            g = [fnp.take(f, [i], axis=ax) for i in (0, 1, 2, m - 3, m - 2, m - 1)]
            first = fnp.divide(-1.5 * g[0] + 2 * g[1] - 0.5 * g[2], h)
            last = fnp.divide(0.5 * g[3] - 2 * g[4] + 1.5 * g[5], h)
        return fnp.concatenate([first, interior, last], axis=ax)
    x = _inexact(_arr(h, "gradient"))
    if shape_of(x) != (m,):
        raise ValueError("fnp.gradient: coordinate arrays must match the axis length")
    dx = fnp.subtract(x[1:], x[:-1])
    d1, d2 = shape_line(dx[:-1]), shape_line(dx[1:])
    # nonuniform second-order central differences
    a = fnp.divide(fnp.negative(d2), fnp.multiply(d1, fnp.add(d1, d2)))
    b = fnp.divide(fnp.subtract(d2, d1), fnp.multiply(d1, d2))
    c = fnp.divide(d1, fnp.multiply(d2, fnp.add(d1, d2)))
    interior = fnp.add(fnp.add(fnp.multiply(a, f0), fnp.multiply(b, f1)), fnp.multiply(c, f2))
    if edge_order == 1:
        first = fnp.divide(fnp.take(f, [1], axis=ax) - fnp.take(f, [0], axis=ax), dx[0])
        last = fnp.divide(fnp.take(f, [m - 1], axis=ax) - fnp.take(f, [m - 2], axis=ax),
                          dx[-1])
    else:
        h1, h2 = dx[0], dx[1]
        fa, fb, fc = (fnp.take(f, [i], axis=ax) for i in (0, 1, 2))
        first = (-(2 * h1 + h2) / (h1 * (h1 + h2)) * fa + (h1 + h2) / (h1 * h2) * fb
                 - h1 / (h2 * (h1 + h2)) * fc)
        h1, h2 = dx[-2], dx[-1]
        fa, fb, fc = (fnp.take(f, [i], axis=ax) for i in (m - 3, m - 2, m - 1))
        last = (h2 / (h1 * (h1 + h2)) * fa - (h2 + h1) / (h1 * h2) * fb
                + (2 * h2 + h1) / (h2 * (h1 + h2)) * fc)
    return fnp.concatenate([first, interior, last], axis=ax)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-d coordinate vectors ('xy': Cartesian, 'ij': matrix)."""
    fnp = _fnp()
    if indexing not in ("xy", "ij"):
        raise ValueError(f"fnp.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xi = [fnp.ravel(_arr(x, "meshgrid")) for x in xi]
    n = len(xi)
    shapes = [shape_of(x)[0] for x in xi]
    if indexing == "xy" and n >= 2:
        shapes[0], shapes[1] = shapes[1], shapes[0]
    out = []
    for i, x in enumerate(xi):
        pos = i
        if indexing == "xy" and n >= 2 and i < 2:
            pos = 1 - i
        s = [1] * n
        s[pos] = -1
        v = fnp.reshape(x, s)
        out.append(v if sparse else fnp.broadcast_to(v, tuple(shapes)))
    return out


def select(condlist, choicelist, default=0):
    """choicelist[i] where condlist[i] is the first true condition, else default."""
    fnp = _fnp()
    if len(condlist) != len(choicelist):
        raise ValueError("fnp.select: condlist and choicelist must have the same length")
    if not condlist:
        raise ValueError("fnp.select: condlist must be non-empty")
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        cond = _arr(cond, "select")
        if dtype_of(cond).kind != "b":
            raise TypeError("fnp.select: condlist entries must be boolean arrays")
        out = fnp.where(cond, choice, out)
    return out


def choose(a, choices, out=None, mode="raise"):
    """choices[a[i]][i] (a broadcast with the choices); mode 'clip' or 'wrap' for indices
    out of range ('raise' needs concrete indices)."""
    fnp = _fnp()
    if out is not None:
        raise NotImplementedError("fnp.choose: out= is not supported (arrays are immutable)")
    a = _arr(a, "choose")
    n = len(choices)
    if mode == "raise":
        values = _concrete(a, "choose", "mode='raise' checks index values") \
            if isinstance(a, Tracer) else np.asarray(a)
        if values.size and (values.min() < 0 or values.max() >= n):
            raise ValueError("fnp.choose: invalid entry in choice array")
    elif mode == "wrap":
        a = fnp.remainder(a, n)
    elif mode == "clip":
        a = fnp.clip(a, 0, n - 1)
    else:
        raise ValueError(f"fnp.choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    stacked = fnp.stack(fnp.broadcast_arrays(*choices, a)[:-1])
    shape = shape_of(stacked)[1:]
    idx = fnp.broadcast_to(a, shape)
    return fnp.take_along_axis(stacked, fnp.expand_dims(idx, 0), axis=0)[0]


def piecewise(x, condlist, funclist, *args, **kw):
    """funclist[i](x) where condlist[i] holds (later conditions win, as numpy); one extra
    function is the default; constants in funclist are values."""
    fnp = _fnp()
    x = _arr(x, "piecewise")
    if isinstance(condlist, (np.ndarray, Tracer)) and len(shape_of(condlist)) == len(
            shape_of(x)):
        condlist = [condlist]
    condlist = list(condlist)
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        raise ValueError("fnp.piecewise: give one function per condition, plus an optional "
                         "default")

    def value(f):
        return f(x, *args, **kw) if callable(f) else fnp.full_like(x, f)
    out = value(funclist[n]) if len(funclist) == n + 1 else fnp.zeros_like(x)
    for cond, f in zip(condlist, funclist[:n]):
        out = fnp.where(cond, fnp.asarray(value(f), dtype=dtype_of(x)), out)
    return out


def pad(array, pad_width, mode="constant", **kwargs):
    """numpy.pad with modes constant (constant_values), edge, reflect and symmetric
    (reflect_type 'even'), wrap, linear_ramp (end_values), maximum/minimum/mean/median
    (stat_length None) and empty (zeros); or a callable mode is refused."""
    fnp = _fnp()
    array = _arr(array, "pad")
    n = len(shape_of(array))
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(
        (-1, 2) if np.ndim(pad_width) else (1, 1)), (n, 2)) if n else np.zeros((0, 2), int)
    if np.any(widths < 0):
        raise ValueError("fnp.pad: pad widths must be non-negative")
    if callable(mode):
        raise NotImplementedError("fnp.pad: a callable mode is not supported (it mutates "
                                  "arrays in place); pad with a named mode")
    if kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError("fnp.pad: reflect_type='odd' is not supported")
    if kwargs.get("stat_length") is not None:
        raise NotImplementedError("fnp.pad: stat_length is not supported")
    if mode == "constant":
        values = np.broadcast_to(np.asarray(kwargs.get("constant_values", 0)).reshape(
            (-1, 2) if np.ndim(kwargs.get("constant_values", 0)) else (1, 1)), (n, 2)) \
            if not _is_traced(kwargs.get("constant_values", 0)) else None
        if values is None:
            raise NotImplementedError("fnp.pad: traced constant_values are not supported")
        out = array
        for ax in range(n):
            lo, hi = widths[ax]
            if lo == 0 and hi == 0:
                continue
            config = [(0, 0, 0)] * n
            config[ax] = (int(lo), 0, 0)
            out = _lax_pad(out, values[ax][0], config)
            config[ax] = (0, int(hi), 0)
            out = _lax_pad(out, values[ax][1], config)
        return out
    if mode == "empty":
        return pad(array, pad_width)
    out = array
    for ax in range(n):
        lo, hi = (int(w) for w in widths[ax])
        if lo == 0 and hi == 0:
            continue
        out = _pad_axis(fnp, out, ax, lo, hi, mode, kwargs)
    return out


def _lax_pad(x, value, config):
    value = np.asarray(value).astype(dtype_of(x))[()]
    if _is_traced(x):
        return lax.pad(x, value, config)
    return np.pad(x, [(c[0], c[1]) for c in config], constant_values=value)


def _pad_axis(fnp, x, ax, lo, hi, mode, kwargs):
    m = shape_of(x)[ax]
    if mode in ("edge", "reflect", "symmetric", "wrap"):
        if m == 0:
            raise ValueError(f"fnp.pad: can't extend an empty axis with mode {mode!r}")
        idx = np.arange(-lo, m + hi)
        if mode == "edge":
            idx = np.clip(idx, 0, m - 1)
        elif mode == "wrap":
            idx = idx % m
        elif mode == "reflect":
            period = 2 * (m - 1) if m > 1 else 1
            idx = np.abs(idx) % period if m > 1 else np.zeros_like(idx)
            idx = np.where(idx >= m, period - idx, idx)
        else:   # symmetric
            period = 2 * m
            idx = idx % period
            idx = np.where(idx >= m, period - 1 - idx, idx)
        return fnp.take(x, idx, axis=ax)
    if mode in ("maximum", "minimum", "mean", "median"):
        stat = {"maximum": fnp.max, "minimum": fnp.min, "mean": fnp.mean,
                "median": _median_fn()}[mode]
        v = stat(x, axis=ax, keepdims=True)
        if mode in ("mean", "median") and dtype_of(x).kind in "iu":
            v = fnp.asarray(fnp.round(v), dtype=dtype_of(x))
        parts = [fnp.repeat(v, lo, axis=ax), x, fnp.repeat(v, hi, axis=ax)]
        return fnp.concatenate(parts, axis=ax)
    if mode == "linear_ramp":
        ends = np.broadcast_to(np.asarray(kwargs.get("end_values", 0), dtype=np.float64)
                               .reshape(-1, 2) if np.ndim(kwargs.get("end_values", 0)) else
                               np.zeros((1, 2)) + kwargs.get("end_values", 0), (1, 2))[0]
        first = fnp.take(x, [0], axis=ax)
        last = fnp.take(x, [m - 1], axis=ax)
        shape = [1] * len(shape_of(x))
        shape[ax] = -1
        ramp_lo = np.arange(lo, dtype=np.float64) / builtins.max(lo, 1)
        ramp_hi = np.arange(1, hi + 1, dtype=np.float64) / builtins.max(hi, 1)
        d = dtype_of(x)
        left = fnp.add(ends[0], fnp.multiply(fnp.subtract(first, ends[0]),
                                             np.reshape(ramp_lo, shape)))
        right = fnp.add(last, fnp.multiply(fnp.subtract(ends[1], last),
                                           np.reshape(ramp_hi, shape)))
        if d.kind in "iu":
            left, right = fnp.asarray(fnp.trunc(left), dtype=d), fnp.asarray(fnp.trunc(right),
                                                                               dtype=d)
        else:
            left, right = fnp.asarray(left, dtype=d), fnp.asarray(right, dtype=d)
        return fnp.concatenate([left, x, right], axis=ax)
    raise ValueError(f"fnp.pad: mode {mode!r} is not supported")


def _median_fn():
    from .statistics import median
    return median


def partition(a, kth, axis=-1):
    """a with its kth element where sorting would put it, smaller ones before and larger ones
    after (computed as a full sort, a valid partition)."""
    return _fnp().sort(a, axis=axis)


def argpartition(a, kth, axis=-1):
    """Indices that partition a (a stable argsort, a valid argpartition), int32 as JAX."""
    return _fnp().asarray(_fnp().argsort(a, axis=axis), dtype=np.int32)


def real_if_close(a, tol=100):
    """The real part of complex a if every imaginary part is within tol machine epsilons of 0
    (needs concrete values: the result's dtype depends on them)."""
    fnp = _fnp()
    a = _arr(a, "real_if_close")
    if dtype_of(a).kind != "c":
        return a
    values = _concrete(a, "real_if_close", "the result's dtype depends on the values")
    eps = np.finfo(_real_dtype(a)).eps
    limit = tol * eps if tol > 1 else tol
    if np.all(np.abs(values.imag) < limit):
        return fnp.real(a)
    return a


def diagflat(v, k=0):
    """A 2-d array with the flattened v on its k-th diagonal."""
    fnp = _fnp()
    return fnp.diag(fnp.ravel(_arr(v, "diagflat")), k)


def fill_diagonal(a, val, wrap=False, *, inplace=True):
    """a with val on its main diagonal (JAX's form: inplace=False is required)."""
    fnp = _fnp()
    if inplace:
        raise ValueError("fnp.fill_diagonal: arrays are immutable; pass inplace=False and use "
                         "the returned array")
    a = _arr(a, "fill_diagonal")
    shape = shape_of(a)
    if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
        raise ValueError("fnp.fill_diagonal: a must be 2-d, or have equal dimensions")
    if wrap:
        raise NotImplementedError("fnp.fill_diagonal: wrap=True is not supported")
    n = builtins.min(shape)
    mask = np.zeros(shape, bool)
    mask[(np.arange(n),) * len(shape)] = True
    vals = fnp.ravel(fnp.asarray(_arr(val, "fill_diagonal"), dtype=dtype_of(a)))
    count = shape_of(vals)[0]
    diag_vals = fnp.take(vals, np.arange(n) % count) if count else vals
    # the values laid on the diagonal of a zero array: a one-hot contraction (no scatter)
    onehot = np.zeros(shape + (n,), dtype_of(a) if dtype_of(a).kind != "b" else np.int8)
    onehot[(np.arange(n),) * len(shape) + (np.arange(n),)] = 1
    filled = fnp.sum(fnp.multiply(onehot, diag_vals), axis=-1) if dtype_of(a).kind != "b" \
        else fnp.not_equal(fnp.sum(fnp.multiply(onehot, diag_vals), axis=-1), 0)
    return fnp.where(mask, fnp.asarray(filled, dtype=dtype_of(a)), a)


def put_along_axis(arr, indices, values, axis, inplace=True, mode=None):
    """arr with values written at indices along axis (JAX's form: inplace=False)."""
    fnp = _fnp()
    if inplace:
        raise ValueError("fnp.put_along_axis: arrays are immutable; pass inplace=False")
    arr = _arr(arr, "put_along_axis")
    indices = _arr(indices, "put_along_axis")
    n = len(shape_of(arr))
    if axis is None:
        flat = fnp.ravel(arr)
        return fnp.reshape(put_along_axis(flat, fnp.ravel(indices), fnp.ravel(values), 0,
                                          inplace=False), shape_of(arr))
    axis = canonical_axis(axis, n, "put_along_axis")
    shape = np.broadcast_shapes(shape_of(indices), tuple(
        1 if d == axis else s for d, s in enumerate(shape_of(arr))))
    grids = list(np.indices(shape, sparse=True))
    grids[axis] = fnp.broadcast_to(indices, shape)
    vals = fnp.broadcast_to(fnp.asarray(_arr(values, "put_along_axis"), dtype=dtype_of(arr)),
                            shape)
    if not _is_traced(arr, indices, vals):
        out = np.array(arr)
        out[tuple(np.broadcast_arrays(*grids))] = vals
        return out
    from .indexing import update
    return update(arr, tuple(grids), vals, "set")


def put(a, ind, v, mode=None, *, inplace=True):
    """a with the flat positions ind set to v (cycled); mode 'clip' or 'wrap' (None: 'wrap'
    for traced indices, as JAX's fill); JAX's form: inplace=False."""
    fnp = _fnp()
    if inplace:
        raise ValueError("fnp.put: arrays are immutable; pass inplace=False and use the "
                         "returned array")
    a = _arr(a, "put")
    flat = fnp.ravel(a)
    n = shape_of(flat)[0]
    ind = fnp.ravel(_arr(ind, "put"))
    if mode in (None, "wrap"):
        ind = fnp.remainder(ind, n)
    elif mode == "clip":
        ind = fnp.clip(ind, 0, n - 1)
    else:
        raise ValueError(f"fnp.put: mode must be None, 'wrap' or 'clip', got {mode!r}")
    v = fnp.ravel(fnp.asarray(_arr(v, "put"), dtype=dtype_of(a)))
    k = shape_of(ind)[0]
    v = fnp.take(v, np.arange(k) % builtins.max(shape_of(v)[0], 1)) if k else v[:0]
    return fnp.reshape(put_along_axis(flat, ind, v, 0, inplace=False), shape_of(a))


def place(arr, mask, vals, *, inplace=True):
    """arr with the positions where mask is true filled by vals, cycled in order (JAX's form:
    inplace=False)."""
    fnp = _fnp()
    if inplace:
        raise ValueError("fnp.place: arrays are immutable; pass inplace=False and use the "
                         "returned array")
    arr = _arr(arr, "place")
    mask = fnp.asarray(_arr(mask, "place"), dtype=bool)
    vals = fnp.ravel(fnp.asarray(_arr(vals, "place"), dtype=dtype_of(arr)))
    m = shape_of(vals)[0]
    if m == 0:
        return arr
    # the i-th true position takes vals[i % m]
    order = fnp.remainder(fnp.cumsum(fnp.asarray(fnp.ravel(mask), dtype=np.int64)) - 1, m)
    fill = fnp.reshape(fnp.take(vals, order), shape_of(arr))
    return fnp.where(mask, fill, arr)


def insert(arr, obj, values, axis=None):
    """values inserted before the indices obj along axis (flattened when None); obj static."""
    fnp = _fnp()
    arr = _arr(arr, "insert")
    if axis is None:
        arr, axis = fnp.ravel(arr), 0
    axis = canonical_axis(axis, len(shape_of(arr)), "insert")
    m = shape_of(arr)[axis]
    if isinstance(obj, slice):
        obj = np.arange(m)[obj]
    obj_v = _concrete(obj, "insert", "the insertion positions set the result's shape")
    scalar = np.ndim(obj_v) == 0
    positions = np.atleast_1d(obj_v).astype(np.int64)
    positions = np.where(positions < 0, positions + m, positions)
    if np.any((positions < 0) | (positions > m)):
        raise IndexError(f"fnp.insert: index out of bounds for axis {axis} of size {m}")
    values = fnp.asarray(_arr(values, "insert"), dtype=dtype_of(arr))
    if scalar:
        vshape = list(shape_of(arr))
        vshape[axis] = 1
        if len(shape_of(values)) == len(shape_of(arr)):
            vals = values
        else:
            vals = fnp.expand_dims(fnp.broadcast_to(values, tuple(
                s for d, s in enumerate(shape_of(arr)) if d != axis)), axis)
        k = shape_of(vals)[axis]
        positions = np.repeat(positions, k)
    else:
        k = len(positions)
        vshape = list(shape_of(arr))
        vshape[axis] = k
        vals = fnp.broadcast_to(values, tuple(vshape))
    # an inserted value at position p goes before original element p (ties: originals after)
    keys = np.concatenate([np.arange(m, dtype=np.float64), positions - 0.5])
    order = np.argsort(keys, kind="stable")
    joined = fnp.concatenate([arr, vals], axis=axis)
    return fnp.take(joined, order, axis=axis)


def delete(arr, obj, axis=None, *, assume_unique_indices=False):
    """arr without the entries obj (static indices, a slice, or a boolean mask) along axis."""
    fnp = _fnp()
    arr = _arr(arr, "delete")
    if axis is None:
        arr, axis = fnp.ravel(arr), 0
    axis = canonical_axis(axis, len(shape_of(arr)), "delete")
    m = shape_of(arr)[axis]
    if isinstance(obj, slice):
        drop = np.arange(m)[obj]
    else:
        values = _concrete(obj, "delete", "the deleted positions set the result's shape")
        if values.dtype == bool:
            if values.shape != (m,):
                raise ValueError("fnp.delete: a boolean mask must match the axis length")
            drop = np.flatnonzero(values)
        else:
            drop = np.atleast_1d(values).astype(np.int64)
            if np.any((drop < -m) | (drop >= m)):
                raise IndexError(f"fnp.delete: index out of bounds for axis {axis} of size {m}")
            drop = np.where(drop < 0, drop + m, drop)
    keep = np.setdiff1d(np.arange(m), drop)
    return fnp.take(arr, keep, axis=axis)


def block(arrays):
    """An array assembled from nested lists of blocks (numpy.block)."""
    fnp = _fnp()

    def depth(x):
        return 1 + depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list)
                                                                    else 0)
    list_depth = depth(arrays)
    if list_depth == 0:
        return _arr(arrays, "block")
    result_ndim = builtins.max(list_depth, _max_ndim(arrays))

    def assemble(x, level):
        if not isinstance(x, list):
            a = _arr(x, "block")
            return fnp.reshape(a, (1,) * (result_ndim - len(shape_of(a))) + shape_of(a))
        parts = [assemble(item, level + 1) for item in x]
        return fnp.concatenate(parts, axis=-(list_depth - level))
    return assemble(arrays, 0)


def _max_ndim(x):
    if isinstance(x, list):
        return builtins.max((_max_ndim(i) for i in x), default=0)
    return len(shape_of(_arr(x, "block")))


def resize(a, new_shape):
    """a repeated (flattened, cycled) to fill new_shape."""
    fnp = _fnp()
    a = fnp.ravel(_arr(a, "resize"))
    shape = (new_shape,) if isinstance(new_shape, int) else tuple(new_shape)
    total = int(np.prod(shape, dtype=np.int64))
    size = shape_of(a)[0]
    if size == 0:
        return fnp.zeros(shape, dtype_of(a))
    return fnp.reshape(fnp.take(a, np.arange(total) % size), shape)


def astype(x, dtype, /, *, copy=False, device=None):
    """x converted to dtype (the array API's function form of x.astype)."""
    return _fnp().asarray(_arr(x, "astype"), dtype=dtype)


def copy(a, order=None):
    """A copy of a (values are immutable under transforms, so the same value)."""
    a = _arr(a, "copy")
    return np.array(a) if not isinstance(a, Tracer) else a


def trim_zeros(filt, trim="fb"):
    """filt without its leading ('f') and/or trailing ('b') zeros (needs concrete values)."""
    values = _concrete(filt, "trim_zeros", "the result's length depends on the values")
    nz = np.flatnonzero(values)
    if nz.size == 0:
        return _arr(filt, "trim_zeros")[:0]
    lo = nz[0] if "f" in trim.lower() else 0
    hi = nz[-1] + 1 if "b" in trim.lower() else len(values)
    return _arr(filt, "trim_zeros")[lo:hi]


# --- index helpers ----------------------------------------------------------------------------

def tril_indices(n, k=0, m=None):
    return tuple(np.asarray(i, np.int64) for i in np.tril_indices(n, k, m))


def triu_indices(n, k=0, m=None):
    return tuple(np.asarray(i, np.int64) for i in np.triu_indices(n, k, m))


def tril_indices_from(arr, k=0):
    s = shape_of(_arr(arr, "tril_indices_from"))
    return tril_indices(s[-2], k, s[-1])


def triu_indices_from(arr, k=0):
    s = shape_of(_arr(arr, "triu_indices_from"))
    return triu_indices(s[-2], k, s[-1])


def diag_indices(n, ndim=2):
    return np.diag_indices(n, ndim)


def diag_indices_from(arr):
    s = shape_of(_arr(arr, "diag_indices_from"))
    if len(s) < 2 or len(set(s)) != 1:
        raise ValueError("fnp.diag_indices_from: all dimensions of arr must be equal")
    return np.diag_indices(s[0], len(s))


def indices(dimensions, dtype=np.int64, sparse=False):
    return np.indices(dimensions, dtype=dtype, sparse=sparse)


def ix_(*args):
    """Open meshes of index vectors for cross-product indexing."""
    fnp = _fnp()
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = _arr(a, "ix_")
        if len(shape_of(a)) != 1:
            raise ValueError("fnp.ix_: cross index must be 1-dimensional")
        s = [1] * n
        s[i] = shape_of(a)[0]
        out.append(fnp.reshape(a, s))
    return tuple(out)


def unravel_index(indices, shape):
    """Tuple of coordinate arrays of flat indices in an array of the given shape (clipped)."""
    fnp = _fnp()
    idx = _arr(indices, "unravel_index")
    shape = tuple(operator.index(s) for s in shape)
    total = int(np.prod(shape, dtype=np.int64))
    idx = fnp.clip(idx, -total, total - 1)
    idx = fnp.where(fnp.less(idx, 0), fnp.add(idx, total), idx)
    out = []
    for s in reversed(shape):
        out.append(fnp.remainder(idx, s))
        idx = fnp.floor_divide(idx, s)
    return tuple(reversed(out))


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat indices of coordinate arrays (mode 'clip' or 'wrap'; 'raise' needs concrete)."""
    fnp = _fnp()
    if order != "C":
        raise NotImplementedError("fnp.ravel_multi_index: only order='C' is supported")
    dims = tuple(operator.index(d) for d in dims)
    out = 0
    for idx, d in zip(multi_index, dims):
        idx = _arr(idx, "ravel_multi_index")
        if mode == "clip":
            idx = fnp.clip(idx, 0, d - 1)
        elif mode == "wrap":
            idx = fnp.remainder(idx, d)
        else:
            v = _concrete(idx, "ravel_multi_index", "mode='raise' checks index values")
            if np.any((v < 0) | (v >= d)):
                raise ValueError("fnp.ravel_multi_index: invalid entry in coordinates array")
        out = fnp.add(fnp.multiply(out, d), idx)
    return out


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """function(*coordinate arrays) over a grid of the given shape."""
    coords = np.indices(shape, dtype=dtype)
    return function(*coords, **kwargs)


class _GridMaker:
    """mgrid / ogrid: index-expression construction of dense or open grids."""

    def __init__(self, sparse):
        self.sparse = sparse

    def __getitem__(self, key):
        if isinstance(key, slice):
            return _slice_values(key)
        axes = [_slice_values(k) for k in key]
        common = np.result_type(*axes)          # one dtype for every axis, as numpy
        axes = [a.astype(common) for a in axes]
        grids = np.meshgrid(*axes, indexing="ij", sparse=self.sparse)
        if self.sparse:
            return list(grids)
        return np.stack(grids)


def _slice_values(s):
    step = 1 if s.step is None else s.step
    start = 0 if s.start is None else s.start
    if isinstance(step, complex):
        return np.linspace(start, s.stop, int(abs(step)))
    out = np.arange(start, s.stop, step)
    return out


mgrid = _GridMaker(sparse=False)
ogrid = _GridMaker(sparse=True)


class _IndexExpression:
    def __init__(self, maketuple):
        self.maketuple = maketuple

    def __getitem__(self, item):
        if self.maketuple and not isinstance(item, tuple):
            return (item,)
        return item


s_ = _IndexExpression(maketuple=False)
index_exp = _IndexExpression(maketuple=True)


class _Concatenator:
    """r_ and c_: concatenation by index expressions (slices become ranges, complex steps
    linspaces; a leading string 'axis[,ndmin[,trans1d]]' or 'r'/'c' sets the layout)."""

    def __init__(self, axis, ndmin, trans1d):
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        fnp = _fnp()
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        matrix = None
        if items and isinstance(items[0], str):
            spec, items = items[0], items[1:]
            if spec in ("r", "c"):
                matrix = spec
                ndmin = 2
            else:
                fields = [int(f) for f in spec.split(",")]
                axis = fields[0]
                if len(fields) > 1:
                    ndmin = fields[1]
                if len(fields) > 2:
                    trans1d = fields[2]
        parts = []
        for item in items:
            if isinstance(item, slice):
                a = np.asarray(_slice_values(item))
            else:
                a = _arr(item, "r_")
            nd = len(shape_of(a))
            if nd < ndmin:
                shape = shape_of(a)
                extra = ndmin - nd
                if trans1d < 0:
                    trans = trans1d + ndmin
                else:
                    trans = trans1d
                new = [1] * ndmin
                # numpy puts the original axes starting at position trans (of the padded ones)
                start = trans if trans <= extra else extra
                for j, s in enumerate(shape):
                    new[start + j] = s
                a = fnp.reshape(a, new)
            parts.append(a)
        if not parts:
            return np.array([])
        dtype = np.result_type(*[np.empty((), dtype_of(p)) for p in parts])
        parts = [fnp.asarray(p, dtype=dtype) for p in parts]
        out = fnp.concatenate(parts, axis=axis)
        if matrix == "c":
            out = fnp.transpose(out)
        return out

    def __len__(self):
        return 0


r_ = _Concatenator(axis=0, ndmin=1, trans1d=-1)
c_ = _Concatenator(axis=-1, ndmin=2, trans1d=0)


# --- sequences, grids, windows ----------------------------------------------------------------

def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """base ** linspace(start, stop, num)."""
    fnp = _fnp()
    exps = fnp.linspace(start, stop, num, endpoint=endpoint, axis=axis)
    out = fnp.power(np.asarray(base, dtype_of(exps))[()] if np.ndim(base) == 0 else base, exps)
    return out if dtype is None else fnp.asarray(out, dtype=dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """A geometric progression from start to stop (same signs)."""
    fnp = _fnp()
    start, stop = promote_args("geomspace", start, stop, inexact=True)
    sign = fnp.sign(start)
    exps = fnp.linspace(fnp.log10(fnp.abs(start)), fnp.log10(fnp.abs(stop)), num,
                        endpoint=endpoint, axis=axis)
    out = fnp.multiply(fnp.expand_dims(sign, axis) if len(shape_of(sign)) else sign,
                       fnp.power(10.0, exps))
    return out if dtype is None else fnp.asarray(out, dtype=dtype)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-d x: columns x ** (N-1), ..., x ** 0."""
    fnp = _fnp()
    x = _arr(x, "vander")
    if len(shape_of(x)) != 1:
        raise ValueError("fnp.vander: x must be one-dimensional")
    n = shape_of(x)[0] if N is None else operator.index(N)
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    cols = [fnp.power(x, int(p)) if p else fnp.ones_like(x) for p in powers]
    return fnp.stack(cols, axis=1) if cols else fnp.zeros((shape_of(x)[0], 0), dtype_of(x))


def _window(np_fun):
    def fun(M, *args):
        return np.asarray(np_fun(operator.index(M), *args), np.float64)
    fun.__name__ = np_fun.__name__
    fun.__doc__ = f"numpy.{np_fun.__name__} (a constant window; float64)."
    return fun


bartlett, blackman, hamming, hanning = (_window(f) for f in (np.bartlett, np.blackman,
                                                               np.hamming, np.hanning))


def kaiser(M, beta):
    """The Kaiser window (float64), differentiable in beta."""
    fnp = _fnp()
    M = operator.index(M)
    if M == 1:
        return np.ones(1)
    n = np.arange(M)
    alpha = (M - 1) / 2.0
    r = np.sqrt(np.clip(1 - ((n - alpha) / alpha) ** 2, 0, None))
    beta = fnp.asarray(_inexact(_arr(beta, "kaiser")), dtype=np.float64)
    return fnp.divide(i0(fnp.multiply(beta, r)), i0(beta))


def unwrap(p, discont=None, axis=-1, period=2 * math.pi):
    """p with jumps larger than max(discont, period/2) between neighbours removed by adding
    multiples of period."""
    fnp = _fnp()
    p = _inexact(_arr(p, "unwrap"))
    axis = canonical_axis(axis, len(shape_of(p)), "unwrap")
    d = diff(p, axis=axis)
    half = period / 2
    discont = half if discont is None else builtins.max(discont, half)
    ddmod = fnp.subtract(fnp.remainder(fnp.add(d, half), period), half)
    ddmod = fnp.where(fnp.logical_and(fnp.equal(ddmod, -half), fnp.greater(d, 0)),
                      fnp.full_like(ddmod, half), ddmod)
    correction = fnp.where(fnp.less(fnp.abs(d), discont), fnp.zeros_like(d),
                           fnp.subtract(ddmod, d))
    correction = lax.stop_gradient(correction)
    first = fnp.take(p, [0], axis=axis)
    return fnp.concatenate([first, fnp.add(fnp.take(p, np.arange(1, shape_of(p)[axis]),
                                                    axis=axis),
                                           fnp.cumsum(correction, axis=axis))], axis=axis)


# --- vector products --------------------------------------------------------------------------

def vecdot(x1, x2, /, *, axis=-1):
    """sum(conj(x1) * x2) over axis, broadcasting the others."""
    fnp = _fnp()
    x1, x2 = _arr(x1, "vecdot"), _arr(x2, "vecdot")
    if dtype_of(x1).kind == "c":
        x1 = fnp.conj(x1)
    return fnp.sum(fnp.multiply(x1, x2), axis=axis)


def matvec(x1, x2, /):
    """Matrix-vector products over the last axes, broadcasting the others."""
    fnp = _fnp()
    return fnp.matmul(x1, fnp.expand_dims(x2, -1))[..., 0]


def vecmat(x1, x2, /):
    """conj(vector)-matrix products over the last axes, broadcasting the others."""
    fnp = _fnp()
    x1 = _arr(x1, "vecmat")
    if dtype_of(x1).kind == "c":
        x1 = fnp.conj(x1)
    return fnp.matmul(fnp.expand_dims(x1, -2), x2)[..., 0, :]


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """cumsum along axis (required unless x is 1-d), optionally starting with a 0."""
    return _cumulative("cumulative_sum", "cumsum", 0, x, axis, dtype, include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """cumprod along axis (required unless x is 1-d), optionally starting with a 1."""
    return _cumulative("cumulative_prod", "cumprod", 1, x, axis, dtype, include_initial)


def _cumulative(name, fname, initial, x, axis, dtype, include_initial):
    fnp = _fnp()
    x = _arr(x, name)
    if axis is None:
        if len(shape_of(x)) > 1:
            raise ValueError(f"fnp.{name}: axis must be given for arrays of more than one "
                             "dimension")
        axis = 0
    out = getattr(fnp, fname)(x, axis=axis, dtype=dtype)
    if include_initial:
        shape = list(shape_of(out))
        axis = canonical_axis(axis, len(shape), name)
        shape[axis] = 1
        out = fnp.concatenate([fnp.full(tuple(shape), initial, dtype_of(out)), out], axis=axis)
    return out


# --- searching, binning, polynomials, integration ---------------------------------------------

def searchsorted(a, v, side="left", sorter=None, *, method="compare_all"):
    """Insertion points of v in the sorted 1-d a (int32, as JAX): each v compared with all of
    a (O(len(a) len(v)) work, no value-dependent control flow)."""
    fnp = _fnp()
    a = _arr(a, "searchsorted")
    if len(shape_of(a)) != 1:
        raise ValueError("fnp.searchsorted: a must be one-dimensional")
    if side not in ("left", "right"):
        raise ValueError(f"fnp.searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        a = fnp.take(a, sorter)
    v = _arr(v, "searchsorted")
    common = np.result_type(dtype_of(a), dtype_of(v))
    a_, v_ = fnp.asarray(a, dtype=common), fnp.asarray(v, dtype=common)
    cmp = fnp.less if side == "left" else fnp.less_equal
    hits = cmp(a_, fnp.expand_dims(v_, -1))
    return lax.stop_gradient(fnp.asarray(fnp.sum(hits, axis=-1), dtype=np.int32))


def digitize(x, bins, right=False):
    """Indices of the bins x falls in (bins increasing or decreasing), int32 as JAX."""
    fnp = _fnp()
    bins = _arr(bins, "digitize")
    if len(shape_of(bins)) != 1:
        raise ValueError("fnp.digitize: bins must be one-dimensional")
    side = "left" if right else "right"
    n = shape_of(bins)[0]
    increasing = searchsorted(bins, x, side=side)
    if n < 2:
        return increasing
    decreasing = fnp.asarray(n - searchsorted(fnp.flip(bins), x, side=side), dtype=np.int32)
    # the direction is a value of the bins: decided by a select, so traced bins work too
    return fnp.where(fnp.less(bins[-1], bins[0]), decreasing, increasing)


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing); differentiable in x,
    xp and fp."""
    fnp = _fnp()
    x, xp, fp = _arr(x, "interp"), _arr(xp, "interp"), _arr(fp, "interp")
    if len(shape_of(xp)) != 1 or shape_of(xp) != shape_of(fp):
        raise ValueError("fnp.interp: xp and fp must be 1-d sequences of the same length")
    d = np.result_type(np.float64 if dtype_of(x).kind in "biu" else dtype_of(x),
                       dtype_of(xp) if dtype_of(xp).kind in "fc" else np.float64)
    x, xp = fnp.asarray(x, dtype=d), fnp.asarray(xp, dtype=d)
    fp = _inexact(fp)
    if period is not None:
        period = abs(period)
        x = fnp.remainder(x, period)
        xp = fnp.remainder(xp, period)
        order = fnp.argsort(xp)
        xp, fp = fnp.take(xp, order), fnp.take(fp, order)
        xp = fnp.concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = fnp.concatenate([fp[-1:], fp, fp[:1]])
    n = shape_of(xp)[0]
    i = fnp.clip(searchsorted(xp, x, side="right"), 1, n - 1)
    x0, x1 = fnp.take(xp, i - 1), fnp.take(xp, i)
    f0, f1 = fnp.take(fp, i - 1), fnp.take(fp, i)
    dx = fnp.subtract(x1, x0)
    t = fnp.divide(fnp.subtract(x, x0), fnp.where(fnp.equal(dx, 0), fnp.ones_like(dx), dx))
    out = fnp.add(f0, fnp.multiply(t, fnp.subtract(f1, f0)))
    out = fnp.where(fnp.equal(dx, 0), f1, out)
    if period is None:
        lo = fp[0] if left is None else left
        hi = fp[-1] if right is None else right
        out = fnp.where(fnp.less(x, xp[0]), lo, out)
        out = fnp.where(fnp.greater(x, xp[-1]), hi, out)
    return out


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of y by the trapezoidal rule along axis (sample points x or spacing dx)."""
    fnp = _fnp()
    y = _inexact(_arr(y, "trapezoid"))
    axis = canonical_axis(axis, len(shape_of(y)), "trapezoid")
    m = shape_of(y)[axis]
    y_lo = fnp.take(y, np.arange(0, builtins.max(m - 1, 0)), axis=axis)
    y_hi = fnp.take(y, np.arange(1, m), axis=axis)
    if x is None:
        widths = dx
    else:
        x = _arr(x, "trapezoid")
        if len(shape_of(x)) == 1:
            widths = diff(x)
            shape = [1] * len(shape_of(y))
            shape[axis] = -1
            widths = fnp.reshape(widths, shape)
        else:
            widths = diff(x, axis=axis)
    return fnp.sum(fnp.multiply(widths, fnp.add(y_lo, y_hi)), axis=axis) * 0.5


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The edges of histogram(a, bins, range): bins + 1 equal-width edges, or the given
    edges."""
    fnp = _fnp()
    a = _arr(a, "histogram_bin_edges")
    if np.ndim(bins) == 1 or isinstance(bins, (Tracer, list, tuple)):
        return _inexact(_arr(bins, "histogram_bin_edges"))
    if isinstance(bins, str):
        raise NotImplementedError("fnp.histogram: string bin rules are not supported; give "
                                  "a number of bins or the edges")
    bins = operator.index(bins)
    d = np.float64 if dtype_of(a).kind in "biu" else dtype_of(a)
    if range is None:
        lo = fnp.asarray(fnp.min(a), dtype=d)
        hi = fnp.asarray(fnp.max(a), dtype=d)
    else:
        lo, hi = (fnp.asarray(r, dtype=d) for r in range)
    # equal ends get numpy's +-0.5 widening
    same = fnp.equal(lo, hi)
    lo = fnp.where(same, fnp.subtract(lo, 0.5), lo)
    hi = fnp.where(same, fnp.add(hi, 0.5), hi)
    return fnp.linspace(lo, hi, bins + 1)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """(counts, edges): counts per bin (the last bin includes its right edge), float64 as
    JAX; differentiable in weights (and, with density, through the edges)."""
    fnp = _fnp()
    a = fnp.ravel(_arr(a, "histogram"))
    edges = histogram_bin_edges(a, bins, range)
    nb = shape_of(edges)[0] - 1
    idx = searchsorted(edges, a, side="right")
    # the right edge itself belongs to the last bin; outside [first, last] counts nothing
    idx = fnp.where(fnp.equal(a, edges[-1]), nb, idx)
    w = fnp.ones_like(fnp.asarray(a, dtype=np.float64)) if weights is None else \
        _inexact(fnp.ravel(_arr(weights, "histogram")))
    onehot = fnp.equal(fnp.expand_dims(idx, -1), np.arange(1, nb + 1))
    counts = fnp.sum(fnp.where(onehot, fnp.expand_dims(w, -1), fnp.zeros((), dtype_of(w))),
                     axis=0)
    if density:
        widths = diff(edges)
        counts = fnp.divide(fnp.divide(counts, widths), fnp.sum(counts))
    return counts, edges


def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts of each non-negative integer in x (int64; the weights' dtype with weights); the
    length is static: length=, or max(x) + 1 from concrete values."""
    fnp = _fnp()
    x = _arr(x, "bincount")
    if dtype_of(x).kind not in "biu":
        raise TypeError("fnp.bincount: x must hold non-negative integers")
    if length is None:
        values = _concrete(x, "bincount", "the result's length is max(x) + 1; give length=")
        if values.size and values.min() < 0:
            raise ValueError("fnp.bincount: x must be non-negative")
        length = builtins.max(int(values.max()) + 1 if values.size else 0, minlength)
    onehot = fnp.equal(fnp.expand_dims(x, -1), np.arange(length))
    if weights is None:
        return fnp.sum(onehot, axis=0, dtype=np.int64)
    w = _arr(weights, "bincount")
    return fnp.sum(fnp.where(onehot, fnp.expand_dims(w, -1), fnp.zeros((), dtype_of(w))),
                   axis=0)


def argwhere(a, *, size=None, fill_value=None):
    """The coordinates of the nonzero elements, shape (count, ndim) (int64); under a transform
    give size= (padding with fill_value, default 0)."""
    fnp = _fnp()
    a = _arr(a, "argwhere")
    if size is None:
        values = _concrete(a, "argwhere", "the result's length depends on the values; give "
                           "size=")
        return np.argwhere(values).astype(np.int64)
    flat = fnp.ravel(fnp.not_equal(a, 0))
    n = shape_of(flat)[0]
    pos = _compact_positions(fnp, flat, size)
    coords = np.stack(np.unravel_index(np.arange(n), shape_of(a)), axis=-1) if n else \
        np.zeros((0, len(shape_of(a))), np.int64)
    found = fnp.take(coords, fnp.clip(pos, 0, builtins.max(n - 1, 0)), axis=0)
    valid = fnp.less(fnp.arange(size), fnp.sum(flat))
    fill = 0 if fill_value is None else fill_value
    return fnp.where(fnp.expand_dims(valid, -1), found, fill)


def _compact_positions(fnp, mask, size):
    """Indices of the first `size` true entries of the 1-d mask (padded arbitrarily)."""
    n = shape_of(mask)[0]
    rank = fnp.cumsum(fnp.asarray(mask, dtype=np.int64)) - 1       # rank of each true entry
    slots = np.arange(size)
    hit = fnp.logical_and(fnp.expand_dims(mask, 0),
                          fnp.equal(fnp.expand_dims(rank, 0), slots[:, None]))
    return fnp.sum(fnp.where(hit, np.arange(n)[None, :], 0), axis=1)


def extract(condition, arr, *, size=None, fill_value=0):
    """arr's elements where condition is true (flattened); size= under transforms."""
    fnp = _fnp()
    cond = fnp.ravel(fnp.asarray(_arr(condition, "extract"), dtype=bool))
    arr = fnp.ravel(_arr(arr, "extract"))
    if size is None:
        mask = _concrete(cond, "extract", "the result's length depends on the condition; "
                         "give size=")
        return fnp.take(arr, np.flatnonzero(mask))
    pos = _compact_positions(fnp, cond, size)
    out = fnp.take(arr, pos)
    return fnp.where(fnp.less(np.arange(size), fnp.sum(cond)), out, fill_value)


def compress(condition, a, axis=None, *, size=None, fill_value=0):
    """The slices of a along axis where the 1-d condition is true (concrete condition)."""
    fnp = _fnp()
    a = _arr(a, "compress")
    if axis is None:
        a, axis = fnp.ravel(a), 0
    mask = _concrete(condition, "compress", "the result's shape depends on the condition")
    keep = np.flatnonzero(np.asarray(mask, bool))
    keep = keep[keep < shape_of(a)[axis]]
    return fnp.take(a, keep, axis=axis)


def isin(element, test_elements, assume_unique=False, invert=False, *, method="compare_all"):
    """Whether each element occurs in test_elements (compares with all of them)."""
    fnp = _fnp()
    element = _arr(element, "isin")
    tests = fnp.ravel(_arr(test_elements, "isin"))
    hit = fnp.any(fnp.equal(fnp.expand_dims(element, -1), tests), axis=-1)
    return fnp.logical_not(hit) if invert else hit


# --- unique and set operations ----------------------------------------------------------------

def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None, sorted=True):
    """The sorted unique elements of ar (flattened; axis=None only under transforms), with
    optional first indices, inverse (int64) and counts. Under a transform give size= (the
    number of outputs): missing entries are fill_value (default: the smallest element), index
    fill 0, count fill 0."""
    fnp = _fnp()
    ar = _arr(ar, "unique")
    if size is None:
        if _is_traced(ar):
            _concrete(ar, "unique", "the number of unique values depends on the values; give "
                      "size=")
        res = np.unique(np.asarray(ar), return_index, return_inverse, return_counts, axis=axis,
                        equal_nan=equal_nan)
        if not isinstance(res, tuple):
            return res
        res = list(res)
        if return_inverse:
            k = 1 + int(return_index)
            inv = res[k].astype(np.int64)
            res[k] = inv.reshape(np.shape(ar)) if axis is None else inv
        return tuple(res)
    if axis is not None:
        raise NotImplementedError("fnp.unique: axis= with size= is not supported")
    size = operator.index(size)
    flat = fnp.ravel(ar)
    n = shape_of(flat)[0]
    order = fnp.argsort(flat)
    srt = fnp.take(flat, order)
    if n:
        differs = fnp.not_equal(srt[1:], srt[:-1])
        if equal_nan and dtype_of(srt).kind in "fc":
            differs = fnp.logical_and(differs, fnp.logical_not(
                fnp.logical_and(fnp.isnan(srt[1:]), fnp.isnan(srt[:-1]))))
        first = fnp.concatenate([fnp.ones((1,), bool), differs])
    else:
        first = fnp.zeros((0,), bool)
    group = fnp.cumsum(fnp.asarray(first, dtype=np.int64)) - 1     # group id of each sorted
    n_unique = fnp.sum(first)
    pos = _compact_positions(fnp, first, size)
    valid = fnp.less(np.arange(size), n_unique)
    values = fnp.take(srt, fnp.clip(pos, 0, builtins.max(n - 1, 0)))
    fill = srt[0] if fill_value is None and n else (0 if fill_value is None else fill_value)
    values = fnp.where(valid, values, fill)
    out = [values]
    if return_index:
        idx = fnp.take(order, fnp.clip(pos, 0, builtins.max(n - 1, 0)))
        out.append(fnp.where(valid, idx, 0))
    if return_inverse:
        inverse = fnp.zeros((n,), np.int64)
        inv_sorted = group
        # inverse[order[j]] = group[j]: apply the inverse permutation of order
        inverse = fnp.take(inv_sorted, fnp.argsort(order))
        out.append(fnp.reshape(inverse, shape_of(ar)))
    if return_counts:
        counts = fnp.sum(fnp.equal(fnp.expand_dims(group, 0), np.arange(size)[:, None]),
                         axis=1, dtype=np.int64)
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


def unique_values(x, /, *, size=None, fill_value=None):
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x, /, *, size=None, fill_value=None):
    return unique(x, return_counts=True, size=size, fill_value=fill_value)


def unique_inverse(x, /, *, size=None, fill_value=None):
    return unique(x, return_inverse=True, size=size, fill_value=fill_value)


def unique_all(x, /, *, size=None, fill_value=None):
    return unique(x, return_index=True, return_inverse=True, return_counts=True, size=size,
                  fill_value=fill_value)


def _set_op(name, np_fun, *arrays, **kw):
    values = [_concrete(a, name, "the result's length depends on the values") for a in arrays]
    return np_fun(*values, **kw)


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False):
    return _set_op("intersect1d", np.intersect1d, ar1, ar2, assume_unique=assume_unique,
                   return_indices=return_indices)


def union1d(ar1, ar2):
    return _set_op("union1d", np.union1d, ar1, ar2)


def setdiff1d(ar1, ar2, assume_unique=False):
    return _set_op("setdiff1d", np.setdiff1d, ar1, ar2, assume_unique=assume_unique)


def setxor1d(ar1, ar2, assume_unique=False):
    return _set_op("setxor1d", np.setxor1d, ar1, ar2, assume_unique=assume_unique)


# --- functional helpers -----------------------------------------------------------------------

def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """func1d applied to every 1-d slice along axis (vmapped over the other axes); the
    result's axes replace axis, as numpy's."""
    from ..transforms.vmap import vmap
    fnp = _fnp()
    arr = _arr(arr, "apply_along_axis")
    n = len(shape_of(arr))
    axis = canonical_axis(axis, n, "apply_along_axis")
    moved = fnp.moveaxis(arr, axis, -1)         # (*others, m)
    f = lambda x: func1d(x, *args, **kwargs)  # noqa: E731
    for _ in range(n - 1):
        f = vmap(f)
    out = fnp.asarray(f(moved))                # (*others, *result)
    k = len(shape_of(out)) - (n - 1)
    return fnp.moveaxis(out, list(range(n - 1, n - 1 + k)), list(range(axis, axis + k)))


def apply_over_axes(func, a, axes):
    """func(a, axis) applied for each axis in turn, keeping dimensions."""
    fnp = _fnp()
    a = _arr(a, "apply_over_axes")
    for axis in ([axes] if isinstance(axes, int) else axes):
        b = func(a, axis)
        if len(shape_of(b)) == len(shape_of(a)) - 1:
            b = fnp.expand_dims(b, axis)
        a = b
    return a


def vectorize(pyfunc, *, excluded=frozenset(), signature=None):
    """pyfunc applied elementwise by vmap over broadcast arguments (signature=None only)."""
    if signature is not None:
        raise NotImplementedError("fnp.vectorize: signature= is not supported; use vmap")
    from ..transforms.vmap import vmap

    def wrapped(*args, **kwargs):
        fnp = _fnp()
        keep = [i for i in range(len(args)) if i not in excluded]
        arrays = fnp.broadcast_arrays(*[_arr(args[i], "vectorize") for i in keep])
        shape = shape_of(arrays[0]) if arrays else ()

        def scalar_fn(*xs):
            full = list(args)
            for i, x in zip(keep, xs):
                full[i] = x
            return pyfunc(*full, **kwargs)
        f = scalar_fn
        for _ in shape:
            f = vmap(f)
        return f(*arrays)
    wrapped.__name__ = getattr(pyfunc, "__name__", "vectorized")
    wrapped.__doc__ = getattr(pyfunc, "__doc__", None)
    return wrapped

