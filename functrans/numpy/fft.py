"""functrans.numpy.fft: numpy.fft's functions (jax.numpy.fft) on the lax.fft primitive.

Each transform moves its axes to the end, crops or zero-pads them to the requested lengths (n /
s, as numpy does), applies one fft primitive and moves the axes back. Integer and boolean inputs
become complex128 (float64 for rfft), float32 stays single precision. norm is "backward"
(default: the inverse divides by n), "ortho" (both divide by sqrt(n)) or "forward".
"""
import functools
import math
import operator

import numpy as np

from .. import lax
from ..core import dtypes
from . import _base as fnp
from ._promotion import asarray, cast, dtype_of, eager, shape_of

__all__ = ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
           "rfftn", "irfftn", "hfft", "ihfft", "fftshift", "ifftshift", "fftfreq", "rfftfreq"]

_NORMS = (None, "backward", "ortho", "forward")



def _complex(x, name):
    d = dtype_of(x)
    if d.kind == "c":
        return x
    return cast(x, dtypes.complex64 if d == dtypes.float32 else dtypes.complex128)


def _real(x, name):
    d = dtype_of(x)
    if d.kind == "c":
        raise TypeError(f"fnp.fft.{name} requires a real input, got {d.name} (numpy would "
                        "drop the imaginary part; take fnp.real(x) explicitly)")
    return x if d.kind == "f" else cast(x, dtypes.float64)


def _axes_and_sizes(name, x, s, axes, default_all):
    ndim = len(shape_of(x))
    if axes is None:
        if s is None:
            axes = tuple(range(ndim)) if default_all else (ndim - 1,)
        else:
            axes = tuple(range(ndim - len(s), ndim))
    else:
        axes = tuple(operator.index(a) for a in np.atleast_1d(axes))
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"fnp.fft.{name}: axis {a} is out of bounds for an array of "
                             f"dimension {ndim}")
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"fnp.fft.{name}: repeated axes {axes}")
    if s is not None:
        s = tuple(operator.index(n) for n in np.atleast_1d(s))
        if len(s) != len(axes):
            raise ValueError(f"fnp.fft.{name}: s {s} and axes {axes} must have the same length")
        if any(n < 1 for n in s):
            raise ValueError(f"fnp.fft.{name}: invalid number of data points {s}")
    return axes, s


def _resize(x, axis, n):
    """x cropped or zero-padded to length n along axis (numpy's n / s)."""
    m = shape_of(x)[axis]
    if m == n:
        return x
    if m > n:
        return lax.slice_in_dim(x, 0, n, axis=axis)
    config = [(0, 0, 0)] * len(shape_of(x))
    config[axis] = (0, n - m, 0)
    return lax.pad(x, np.zeros((), dtype_of(x))[()], config)


def _real_dtype(d):
    return np.dtype(np.float32) if d in (np.dtype(np.float32), np.dtype(np.complex64)) \
        else np.dtype(np.float64)


def _apply(x, axes, fft_type, lengths):
    """Move axes to the end, one fft primitive, move them back."""
    k = len(axes)
    ndim = len(shape_of(x))
    moved = fnp.moveaxis(x, axes, tuple(range(ndim - k, ndim)))
    y = lax.fft(moved, fft_type, lengths)
    return fnp.moveaxis(y, tuple(range(ndim - k, ndim)), axes)


def _resized(name, x, s, axes, default_all):
    """x cut or zero-padded to the sizes s along axes (their lengths if s is None)."""
    axes, s = _axes_and_sizes(name, x, s, axes, default_all)
    if s is None:
        s = tuple(shape_of(x)[a] for a in axes)
    for a, n in zip(axes, s):
        x = _resize(x, a, n)
    return x, s, axes


def _c2c(name, a, s, axes, norm, inverse, default_all):
    x, s, axes = _resized(name, _complex(asarray(a, name), name), s, axes, default_all)
    if not axes:
        return x
    # "backward" is what the primitive computes; other norms rescale (ifft's 1/n is built in).
    y = _apply(x, axes, "ifft" if inverse else "fft", s)
    return _rescale(y, math.prod(s), norm, inverse, name)


def _rescale(y, n, norm, inverse, name):
    if norm not in _NORMS:
        raise ValueError(f'fnp.fft.{name}: norm must be "backward", "ortho" or "forward", '
                         f"got {norm!r}")
    norm = norm or "backward"
    if norm == "backward":
        return y
    d = dtype_of(y)
    if norm == "ortho":
        factor = math.sqrt(n) if inverse else 1 / math.sqrt(n)
    else:   # forward: the forward transform divides by n, the inverse does not
        factor = n if inverse else 1 / n
    return lax.mul(y, np.asarray(factor, _real_dtype(d)).astype(d)[()])


def _r2c(name, a, s, axes, norm, default_all):
    x, s, axes = _resized(name, _real(asarray(a, name), name), s, axes, default_all)
    y = _apply(x, axes, "rfft", s)
    return _rescale(y, math.prod(s), norm, False, name)


def _c2r(name, a, s, axes, norm, default_all):
    x = _complex(asarray(a, name), name)
    axes, s = _axes_and_sizes(name, x, s, axes, default_all)
    if s is None:
        s = tuple(shape_of(x)[a] for a in axes[:-1]) + (2 * (shape_of(x)[axes[-1]] - 1),)
    if s[-1] < 1:
        raise ValueError(f"fnp.fft.{name}: invalid number of data points {s[-1]}; give n")
    for a, n in zip(axes[:-1], s[:-1]):
        x = _resize(x, a, n)
    x = _resize(x, axes[-1], s[-1] // 2 + 1)
    y = _apply(x, axes, "irfft", s)
    return _rescale(y, math.prod(s), norm, True, name)


def _numpy(name, a, real_input, **kwargs):
    """Eagerly, with the default norm, numpy.fft itself (the primitive's impl calls the same
    pocketfft routines, so values agree): None where the traced path must run instead."""
    if kwargs.get("norm") not in (None, "backward") or not eager(a):
        return None
    arr = np.asarray(a)
    if arr.dtype not in _FAST_DTYPES or (real_input and arr.dtype.kind == "c"):
        return None
    sizes, axes = kwargs.get("s"), kwargs.get("axes")
    if sizes is not None and axes is not None and np.size(sizes) != np.size(axes):
        return None      # fnp's own error message
    named = [kwargs["axis"]] if "axis" in kwargs else list(np.atleast_1d(axes if axes is not
                                                                     None else []))
    if any(not -arr.ndim <= int(ax) < arr.ndim for ax in named):
        return None      # fnp's own error message (numpy's differs between versions)
    return getattr(np.fft, name)(arr, **kwargs)


_FAST_DTYPES = {np.dtype(d) for d in (np.bool_, np.int8, np.int16, np.int32, np.int64,
                                      np.uint8, np.uint16, np.uint32, np.uint64, np.float32,
                                      np.float64, np.complex64, np.complex128)}


def _one_axis(name, traced, real_input, doc):
    """fnp.fft.<name> over one axis: numpy.fft eagerly with the default norm, else traced."""
    def transform(a, n=None, axis=-1, norm=None):
        fast = _numpy(name, a, real_input, n=n, axis=axis, norm=norm)
        if fast is not None:
            return fast
        return traced(name, a, None if n is None else (n,), (axis,), norm, default_all=False)
    return _named(transform, name, doc)


def _many_axes(name, traced, real_input, doc, default_axes=None):
    """fnp.fft.<name> over several axes (all by default, or default_axes)."""
    def transform(a, s=None, axes=default_axes, norm=None):
        fast = _numpy(name, a, real_input, s=s, axes=axes, norm=norm)
        if fast is not None:
            return fast
        return traced(name, a, s, axes, norm, default_all=True)
    return _named(transform, name, doc)


def _named(fun, name, doc):
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = doc
    return fun


_forward, _inverse = functools.partial(_c2c, inverse=False), functools.partial(_c2c, inverse=True)

fft = _one_axis("fft", _forward, False,
                "The one-dimensional discrete Fourier transform along axis (numpy.fft.fft).")
ifft = _one_axis("ifft", _inverse, False, "The inverse of fft along axis (numpy.fft.ifft).")
rfft = _one_axis("rfft", _r2c, True, "The fft of a real input, keeping the n//2 + 1 "
                 "non-negative frequencies (numpy.fft.rfft).")
irfft = _one_axis("irfft", _c2r, False, "The inverse of rfft: a real signal of length n "
                  "(default 2 (m - 1)) (numpy.fft.irfft).")
fftn = _many_axes("fftn", _forward, False,
                  "The n-dimensional discrete Fourier transform (numpy.fft.fftn).")
ifftn = _many_axes("ifftn", _inverse, False, "The inverse of fftn (numpy.fft.ifftn).")
rfftn = _many_axes("rfftn", _r2c, True, "fftn of a real input; the last axis keeps its "
                   "non-negative frequencies (numpy.fft.rfftn).")
irfftn = _many_axes("irfftn", _c2r, False, "The inverse of rfftn (numpy.fft.irfftn).")
fft2 = _many_axes("fft2", _forward, False, "fftn over two axes (numpy.fft.fft2).", (-2, -1))
ifft2 = _many_axes("ifft2", _inverse, False, "ifftn over two axes (numpy.fft.ifft2).", (-2, -1))
rfft2 = _many_axes("rfft2", _r2c, True, "rfftn over two axes (numpy.fft.rfft2).", (-2, -1))
irfft2 = _many_axes("irfft2", _c2r, False, "irfftn over two axes (numpy.fft.irfft2).", (-2, -1))


def hfft(a, n=None, axis=-1, norm=None):
    """The fft of a Hermitian-symmetric signal given by its first half: a real spectrum
    (numpy.fft.hfft), irfft of the conjugate with the opposite normalization."""
    flipped = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}
    if norm not in flipped:
        _rescale(a, 1, norm, False, "hfft")     # raises the norm error
    return irfft(fnp.conj(_complex(asarray(a, "hfft"), "hfft")), n, axis, flipped[norm])


def ihfft(a, n=None, axis=-1, norm=None):
    """The inverse of hfft (numpy.fft.ihfft): the conjugate of rfft, opposite normalization."""
    flipped = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}
    if norm not in flipped:
        _rescale(a, 1, norm, False, "ihfft")
    return fnp.conj(rfft(a, n, axis, flipped[norm]))


def _shift(name, x, axes, sign):
    x = asarray(x, name)
    shape = shape_of(x)
    if axes is None:
        axes = tuple(range(len(shape)))
    axes = tuple(operator.index(a) for a in np.atleast_1d(axes))
    shifts = tuple(sign * (shape[a] // 2) for a in axes)
    return fnp.roll(x, shifts, axes)


def fftshift(x, axes=None):
    """Move the zero frequency to the center (numpy.fft.fftshift)."""
    return _shift("fftshift", x, axes, +1)


def ifftshift(x, axes=None):
    """The inverse of fftshift (numpy.fft.ifftshift)."""
    return _shift("ifftshift", x, axes, -1)


def _freq_dtype(dtype):
    return dtypes.float64 if dtype is None else dtypes.canonicalize(np.dtype(dtype))


def fftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an n-point fft with sample spacing d (numpy.fft.fftfreq)."""
    n = operator.index(n)
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return lax.div(np.asarray(k, _freq_dtype(dtype)), _spacing(n, d, dtype))


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an n-point rfft (numpy.fft.rfftfreq)."""
    n = operator.index(n)
    return lax.div(np.arange(0, n // 2 + 1).astype(_freq_dtype(dtype)), _spacing(n, d, dtype))


def _spacing(n, d, dtype):
    # n * d, in the result dtype (d may be traced: frequencies are differentiable in it)
    d = asarray(d, "fftfreq")
    if isinstance(d, (int, float)):
        return np.asarray(n * d, _freq_dtype(dtype))[()]
    return lax.mul(cast(d, _freq_dtype(dtype)), np.asarray(n, _freq_dtype(dtype))[()])
