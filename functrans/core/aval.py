"""Abstract values: what the IR knows about an array (shape, dtype, weak type), not its contents."""
from dataclasses import dataclass

import numpy as np

from . import dtypes


@dataclass(frozen=True, slots=True)
class ShapedArray:
    shape: tuple
    dtype: np.dtype
    weak_type: bool = False

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
        return ShapedArray(self.shape if shape is None else tuple(shape),
                           self.dtype if dtype is None else np.dtype(dtype),
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak(self) -> "ShapedArray":
        return self if not self.weak_type else ShapedArray(self.shape, self.dtype, False)

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        return f"ShapedArray({self.str_short()}{', weak' if self.weak_type else ''})"

    __str__ = str_short


def aval_of_value(x) -> ShapedArray:
    """The aval of a concrete value: a numpy array, numpy scalar or Python scalar."""
    if isinstance(x, np.ndarray):
        return ShapedArray(x.shape, dtypes.canonicalize(x.dtype), False)
    if isinstance(x, np.generic):
        return ShapedArray((), dtypes.canonicalize(x.dtype), False)
    if dtypes.is_python_scalar(x):
        d = dtypes.python_scalar_dtype(x)
        return ShapedArray((), d, d != dtypes.bool_)
    raise TypeError(f"{type(x).__name__} is not a valid functrans value: expected a numpy array, "
                    f"a numpy scalar or a Python bool/int/float/complex; got {x!r:.80}")
