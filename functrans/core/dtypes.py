"""Dtypes and type promotion: JAX's type lattice, with 64-bit types enabled.

Promotion is the least upper bound in a lattice (JAX's, with jax_enable_x64=True), not NumPy's
table. The differences users meet: an integer or boolean array combined with a float array takes
the float's dtype (int32 + float32 is float32, int64 + float16 is float16, where NumPy widens),
and uint64 with a signed integer gives a weakly typed float64. Python scalars are *weakly typed*:
they take the dtype of the array they meet (`x_f32 * 2.0` stays float32) unless their kind is
higher (`x_i32 * 2.5` is a weak float64). A traced value that came from a Python scalar keeps
that weakness in its aval (`weak_type=True`) until it meets a strongly typed value.

Float-only functions (sin, sqrt, true division, mean) turn integers into floats as JAX does:
bool and integers of up to 32 bits give float32, 64-bit integers float64, weak ints a weak
float64 (`to_inexact`).
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


def is_inexact(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def is_integer(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def is_differentiable(dtype) -> bool:
    """Only floating and complex values carry tangents; ints and bools get float0 zeros."""
    return is_inexact(dtype)


# --- JAX's type lattice ---------------------------------------------------------------------------
# Nodes are dtypes plus the weak kinds "i*", "f*", "c*" (Python int, float and complex scalars);
# an edge a -> b means a promotes to b. The result of promoting several types is their least
# upper bound. Weak kinds materialize as the 64-bit type of their kind, still weakly typed.
_LATTICE_EDGES = {
    bool_: ["i*"],
    "i*": [uint8, int8],
    uint8: [uint16, int16], uint16: [uint32, int32], uint32: [uint64, int64], uint64: ["f*"],
    int8: [int16], int16: [int32], int32: [int64], int64: ["f*"],
    "f*": [float16, "c*"], float16: [float32], float32: [float64, complex64],
    float64: [complex128],
    "c*": [complex64], complex64: [complex128], complex128: [],
}
_WEAK_NODE = {"i": "i*", "u": "i*", "f": "f*", "c": "c*"}
_WEAK_MATERIAL = {"i*": int64, "f*": float64, "c*": complex128}


def _upward_closures():
    closure = {}

    def up(node):
        if node not in closure:
            closure[node] = {node}.union(*(up(n) for n in _LATTICE_EDGES[node]))
        return closure[node]
    for node in _LATTICE_EDGES:
        up(node)
    return closure


_UP = _upward_closures()


def _least_upper_bound(nodes):
    common = set.intersection(*(_UP[n] for n in nodes))
    # The least element of the common upper bounds: the one all the others are above.
    return next(c for c in common if all(o in _UP[c] for o in common))


_JOIN_CACHE = {}


def _node(dtype, weak):
    return _WEAK_NODE.get(dtype.kind, dtype) if weak else dtype


def result_type(*typed) -> tuple[np.dtype, bool]:
    """Promote (dtype, weak_type) pairs as JAX does; returns (dtype, weak_type).

    A weak entry promotes as the weak kind of its dtype (a Python scalar); if every entry is
    weak, the strong dtypes are promoted and the result is weak (weak f32 * weak f32 stays
    f32)."""
    if not typed:
        raise ValueError("result_type needs at least one argument")
    key = tuple(typed)
    hit = _JOIN_CACHE.get(key)
    if hit is not None:
        return hit
    if all(weak for _, weak in typed):
        out = (_least_upper_bound({d for d, _ in typed}), True)
    else:
        top = _least_upper_bound({_node(d, w) for d, w in typed})
        out = (_WEAK_MATERIAL[top], True) if top in _WEAK_MATERIAL else (top, False)
    _JOIN_CACHE[key] = out
    return out


def promote_types(a, b) -> np.dtype:
    """JAX's promote_types: the least upper bound of two (strong) dtypes."""
    return result_type((canonicalize(a), False), (canonicalize(b), False))[0]


# Float-only functions (sin, sqrt, true_divide, mean) compute integers and booleans in this
# float dtype, as JAX does with 64-bit types on: 32-bit floats up to 32-bit integers.
_INEXACT_OF = {bool_: float32, int8: float32, int16: float32, int32: float32, int64: float64,
               uint8: float32, uint16: float32, uint32: float32, uint64: float64}


def to_inexact(dtype, weak=False) -> np.dtype:
    """The dtype a float-only function computes `dtype` in (itself if already inexact)."""
    dtype = np.dtype(dtype)
    if is_inexact(dtype):
        return dtype
    return float64 if weak and dtype.kind != "b" else _INEXACT_OF[dtype]


def short_name(dtype) -> str:
    d = np.dtype(dtype)
    return SHORT_NAMES.get(d) or ("float0" if d.kind == "V" and d.itemsize == 0 else d.name)

