"""Operators, properties and methods of traced values, installed on functrans's Tracer class.

They map to functrans.numpy functions, so `x + 1`, `x[i]`, `x.sum(axis=0)` and `x.at[i].set(v)`
mean what they mean for numpy arrays (and JAX arrays). functrans.numpy calls install() when it
is imported.
"""
import numpy as np

from ..core import dtypes
from ..core.trace import Tracer
from . import elementwise as ew
from . import _at_modes, indexing, linalg, reductions, shaping, sorting
from .creation import asarray as _asarray

__all__ = []


def _array_like(x) -> bool:
    return isinstance(x, (Tracer, np.ndarray, np.generic, list, tuple)) or \
        dtypes.is_python_scalar(x)


def _binary(fun, reflected=False):
    def op(self, other):
        if not _array_like(other):
            return NotImplemented
        return fun(other, self) if reflected else fun(self, other)
    op.__name__ = fun.__name__
    return op


_OPERATORS = {
    "add": ew.add, "sub": ew.subtract, "mul": ew.multiply, "truediv": ew.true_divide,
    "floordiv": ew.floor_divide, "mod": ew.remainder, "pow": ew.power, "matmul": linalg.matmul,
    "and": ew.bitwise_and, "or": ew.bitwise_or, "xor": ew.bitwise_xor,
}
_COMPARISONS = {"eq": ew.equal, "ne": ew.not_equal, "lt": ew.less, "le": ew.less_equal,
                "gt": ew.greater, "ge": ew.greater_equal}


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return shaping.reshape(self, shape, order=order)


def _transpose(self, *axes):
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return shaping.transpose(self, axes or None)


def _astype(self, dtype, copy=True):
    return _asarray(self, dtype)


def _copy(self):
    return self        # traced values are immutable: a copy is the value itself


def _clip(self, min=None, max=None):
    return ew.clip(self, min, max)


def _round(self, decimals=0):
    return ew.round(self, decimals)


def _flatten(self, order="C"):
    return shaping.ravel(self, order)


_METHODS = {
    "sum": reductions.sum, "prod": reductions.prod, "mean": reductions.mean,
    "var": reductions.var, "std": reductions.std, "max": reductions.max, "min": reductions.min,
    "argmax": reductions.argmax, "argmin": reductions.argmin, "all": reductions.all,
    "any": reductions.any, "cumsum": reductions.cumsum, "cumprod": reductions.cumprod,
    "reshape": _reshape, "transpose": _transpose, "astype": _astype, "ravel": shaping.ravel,
    "flatten": _flatten, "squeeze": shaping.squeeze, "swapaxes": shaping.swapaxes,
    "clip": _clip, "dot": linalg.dot, "round": _round, "conj": ew.conjugate,
    "conjugate": ew.conjugate, "copy": _copy, "diagonal": shaping.diagonal,
    "trace": shaping.trace, "repeat": shaping.repeat, "take": indexing.take,
    "sort": sorting.sort, "argsort": sorting.argsort, "nonzero": indexing.nonzero,
}

_PROPERTIES = {
    "T": lambda self: shaping.transpose(self),
    "mT": lambda self: shaping.matrix_transpose(self),
    "at": lambda self: _at_modes._IndexUpdateHelper(self),
    "real": lambda self: ew.real(self),
    "imag": lambda self: ew.imag(self),
}


def install(cls=Tracer):
    for name, fun in _OPERATORS.items():
        setattr(cls, f"__{name}__", _binary(fun))
        setattr(cls, f"__r{name}__", _binary(fun, reflected=True))
    for name, fun in _COMPARISONS.items():
        setattr(cls, f"__{name}__", _binary(fun))
    cls.__neg__ = lambda self: ew.negative(self)
    cls.__pos__ = lambda self: ew.positive(self)
    cls.__abs__ = lambda self: ew.absolute(self)
    cls.__invert__ = lambda self: ew.invert(self)
    cls.__getitem__ = lambda self, idx: indexing.getitem(self, idx)
    for name, fun in _METHODS.items():
        setattr(cls, name, fun)
    for name, getter in _PROPERTIES.items():
        setattr(cls, name, property(getter))
