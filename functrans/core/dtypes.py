"""Dtypes and type promotion.

functrans follows NumPy 2 promotion (NEP 50): Python scalars are *weakly typed*, so they take the
dtype of the array they meet (`x_f32 * 2.0` stays float32) unless their kind is higher
(`x_i32 * 2.5` is float64, NumPy's default float). A traced value that came from a Python scalar
keeps that weakness in its aval (`weak_type=True`) until it meets a strongly typed value.
"""
import numpy as np

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

# Integer and boolean values have a tangent space of dimension zero. JAX calls its dtype float0;
# numpy's void of size 0 serves the same purpose here: arrays of it take no memory.
float0 = np.dtype([])

SUPPORTED = frozenset([float0, bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
                       float16, float32, float64, complex64, complex128])

# Short names used by the IR printer, as in jaxprs: f32[3,4].
SHORT_NAMES = {bool_: "bool", int8: "i8", int16: "i16", int32: "i32", int64: "i64",
               uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
               float16: "f16", float32: "f32", float64: "f64", complex64: "c64", complex128: "c128"}

# The Python type whose weak promotion a weakly typed value of this kind mimics.
_WEAK_PROXY = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}
_PYTHON_SCALAR_DTYPE = {bool: bool_, int: int64, float: float64, complex: complex128}


def canonicalize(dtype) -> np.dtype:
    """The np.dtype for `dtype`; raises TypeError for dtypes functrans does not support."""
    d = np.dtype(dtype)
    if d not in SUPPORTED:
        raise TypeError(f"functrans does not support dtype {d}; use one of "
                        f"{sorted(str(s) for s in SUPPORTED)}")
    return d


def is_python_scalar(x) -> bool:
    return type(x) in _PYTHON_SCALAR_DTYPE or isinstance(x, (bool, int, float, complex)) and \
        not isinstance(x, np.generic)


def python_scalar_dtype(x) -> np.dtype:
    for t in (bool, int, float, complex):   # bool before int: True is an int too
        if isinstance(x, t):
            return _PYTHON_SCALAR_DTYPE[t]
    raise TypeError(f"not a Python scalar: {x!r}")


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def is_inexact(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def is_integer(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def is_differentiable(dtype) -> bool:
    """Only floating and complex values carry tangents; ints and bools get float0 zeros."""
    return is_inexact(dtype)


def result_type(*typed) -> tuple[np.dtype, bool]:
    """Promote (dtype, weak_type) pairs as NumPy 2 would; returns (dtype, weak_type).

    A weak entry promotes like a Python scalar of its kind; the result is weak only if every
    entry is weak.
    """
    if not typed:
        raise ValueError("result_type needs at least one argument")
    proxies = [(_WEAK_PROXY[d.kind] if weak else d) for d, weak in typed]
    if all(weak for _, weak in typed):
        # NumPy's result for Python scalars alone is its default dtype of the highest kind;
        # keep the widest dtype actually present instead, so f32 weak * f32 weak stays f32.
        kinds = "buifc"
        top = max(typed, key=lambda t: (kinds.index(t[0].kind), t[0].itemsize))[0]
        return top, True
    return canonicalize(np.result_type(*proxies)), False


def default_float(dtype=None) -> np.dtype:
    """The float dtype that an int or bool input is promoted to by float-only functions."""
    return float64 if dtype is None or not is_inexact(dtype) else np.dtype(dtype)


def short_name(dtype) -> str:
    d = np.dtype(dtype)
    return SHORT_NAMES.get(d) or ("float0" if d.kind == "V" and d.itemsize == 0 else d.name)


def finfo_eps(dtype) -> float:
    return float(np.finfo(dtype).eps)
