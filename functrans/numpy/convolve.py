"""fnp.convolve and fnp.correlate (numpy's and jax.numpy's 1-d versions), on
lax.conv_general_dilated: the full correlation is one convolution of `a` padded by len(v) - 1
on both sides; 'same' and 'valid' are slices of it, at numpy's offsets."""
import numpy as np

from .. import lax
from ._promotion import promote, result_type
from .elementwise import conj

__all__ = ["convolve", "correlate"]


def _full_correlation(name, a, v):
    a, v = promote(a, v)
    for what, x in (("a", a), ("v", v)):
        if np.ndim(x) != 1:
            raise ValueError(f"fnp.{name}: {what} must be 1-d, got shape {np.shape(x)}")
        if np.shape(x)[0] == 0:
            raise ValueError(f"fnp.{name}: {what} cannot be empty")
    if result_type(a)[0].kind == "b":
        raise TypeError(f"fnp.{name}: bool operands are not supported; convert them to int")
    nv = np.shape(v)[0]
    out = lax.conv_general_dilated(lax.reshape(a, (1, 1, np.shape(a)[0])),
                                   lax.reshape(v, (1, 1, nv)), (1,), [(nv - 1, nv - 1)])
    return lax.reshape(out, (np.shape(out)[2],))


def _mode_slice(name, full, na, nv, mode, reverse_same):
    lo, hi = min(na, nv), max(na, nv)
    if mode == "full":
        return full
    if mode == "valid":
        return lax.slice(full, (lo - 1,), (hi,))
    if mode == "same":
        # numpy centres the 'same' window on the full result; when v is the longer operand
        # correlate's alignment is mirrored (it swaps the operands and reverses the result).
        start = (lo - 1) // 2 if not reverse_same else lo // 2
        return lax.slice(full, (start,), (start + hi,))
    raise ValueError(f"fnp.{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def correlate(a, v, mode="valid", *, precision=None, preferred_element_type=None):
    """c[k] = sum_n a[n + k] * conj(v[n]) (numpy.correlate), k over the mode's range."""
    na, nv = np.shape(a)[0] if np.ndim(a) else 0, np.shape(v)[0] if np.ndim(v) else 0
    if result_type(a, v)[0].kind == "c":
        v = conj(v)
    full = _full_correlation("correlate", a, v)
    return _mode_slice("correlate", full, na, nv, mode, reverse_same=nv > na)


def convolve(a, v, mode="full", *, precision=None, preferred_element_type=None):
    """c[k] = sum_n a[n] * v[k - n] (numpy.convolve): the correlation with v reversed."""
    na, nv = np.shape(a)[0] if np.ndim(a) else 0, np.shape(v)[0] if np.ndim(v) else 0
    if np.ndim(v) == 1 and nv:
        v = lax.rev(promote(a, v)[1], (0,))
    full = _full_correlation("convolve", a, v)
    return _mode_slice("convolve", full, na, nv, mode, reverse_same=False)
