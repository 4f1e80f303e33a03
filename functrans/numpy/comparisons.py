"""Comparisons and predicates: isclose, allclose, array_equal, iscomplex, isneginf, ... (numpy's
names, JAX's results).

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
import numpy as np

from ..core.trace import Tracer
from . import _base as fnp
from ._composed import _arr, _inexact, _real_dtype
from ._promotion import dtype_of, promote_args, shape_of

__all__ = ["allclose", "isclose", "array_equal", "array_equiv", "iscomplex", "isreal",
           "iscomplexobj", "isrealobj", "isscalar", "isneginf", "isposinf", "iterable", "isdtype"]


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol |b| elementwise; infinities equal only to themselves."""
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


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element of a and b is close (a 0-d bool array, as JAX)."""
    return fnp.all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    """True if a1 and a2 have the same shape and elements (a 0-d bool array when shapes match,
    a Python bool when they do not)."""
    a1, a2 = _arr(a1, "array_equal"), _arr(a2, "array_equal")
    if shape_of(a1) != shape_of(a2):
        return np.bool_(False)
    eq = fnp.equal(a1, a2)
    if equal_nan and dtype_of(a1).kind in "fc":
        eq = fnp.logical_or(eq, fnp.logical_and(fnp.isnan(a1), fnp.isnan(a2)))
    return fnp.all(eq)


def array_equiv(a1, a2):
    """True if a1 and a2 broadcast to each other and are equal."""
    a1, a2 = _arr(a1, "array_equiv"), _arr(a2, "array_equiv")
    try:
        np.broadcast_shapes(shape_of(a1), shape_of(a2))
    except ValueError:
        return np.bool_(False)
    return fnp.all(fnp.equal(a1, a2))


def iscomplex(x):
    """Elementwise: a nonzero imaginary part."""
    x = _arr(x, "iscomplex")
    return fnp.not_equal(fnp.imag(x), 0) if dtype_of(x).kind == "c" else \
        fnp.zeros(shape_of(x), bool)


def isreal(x):
    """Elementwise: a zero imaginary part."""
    return fnp.logical_not(iscomplex(x))


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
    x = _arr(x, "isneginf")
    return fnp.logical_and(fnp.isinf(x), fnp.less(x, 0))


def isposinf(x):
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
