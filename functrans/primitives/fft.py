"""The fft primitive: discrete Fourier transforms over an array's trailing axes (jax.lax.fft).

One primitive with a `fft_type` parameter, as in JAX:
  "fft"    complex -> complex, exp(-2 pi i jk/n), unnormalized
  "ifft"   complex -> complex, exp(+2 pi i jk/n) / n
  "rfft"   real -> complex, the last axis keeps its n//2 + 1 non-negative frequencies
  "irfft"  complex (last axis n//2 + 1) -> real of the given lengths: the inverse of rfft
`fft_lengths` are the sizes of the transformed trailing axes (for irfft, of the real output).
numpy.fft computes it (from the jit driver too); float32/complex64 stay single precision.

The transform is linear, so its JVP applies it to the tangent. Transposes are with respect to
the real pairing Re(sum(x * y)) used throughout (functrans/primitives/elementwise.py):
  fft, ifft    the DFT matrix is symmetric: each is its own transpose.
  rfft         y = R x with R the first n//2+1 rows of F; the transpose is Re(R^T ct): an
               irfft of conj(ct) with weights 1/2 strictly inside (0, n/2), times the size.
  irfft        y_j = (1/N) sum_k w_k Re(x_k exp(+2 pi i j.k/n)) with w = 1 at frequencies 0 and
               n/2 (whose imaginary parts irfft ignores) and 2 between, so the cotangent of x
               is w * ifft(ct) restricted to the kept frequencies (real at 0 and n/2: the
               ignored imaginary parts get no cotangent).
"""
import enum
import math

import numpy as np

from ..core.aval import ShapedArray
from ..core.primitive import Cost, Primitive, Zero, tangent_aval
from ..core.trace import get_aval
from ..backend.lowering import impl_call
from . import _sparsity_rules as _sparsity
from ._batching import moveaxis
from .elementwise import conj, convert_element_type, mul
from .shape import broadcast_in_dim, slice as lax_slice

__all__ = ["fft", "FftType"]


class FftType(enum.Enum):
    """The kinds of transform (jax.lax.FftType)."""
    FFT = "fft"
    IFFT = "ifft"
    RFFT = "rfft"
    IRFFT = "irfft"


_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}
_REAL_OF = {c: r for r, c in _COMPLEX_OF.items()}


def _fft_shape_rule(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    if k < 1 or k > x.ndim:
        raise TypeError(f"lax.fft: fft_lengths {fft_lengths} must name 1 to {x.ndim} trailing "
                        f"axes of the operand {x.str_short()}")
    trailing = x.shape[x.ndim - k:]
    lead = x.shape[:x.ndim - k]
    if fft_type in ("fft", "ifft"):
        if x.dtype.kind != "c":
            raise TypeError(f"lax.fft: {fft_type} requires a complex operand, got "
                            f"{x.dtype.name}")
        if trailing != tuple(fft_lengths):
            raise TypeError(f"lax.fft: {fft_type} of {x.str_short()} with fft_lengths "
                            f"{fft_lengths}: the trailing axes must equal the lengths")
        return ShapedArray(x.shape, x.dtype, False)
    if fft_type == "rfft":
        if x.dtype not in _COMPLEX_OF:
            raise TypeError(f"lax.fft: rfft requires a float32 or float64 operand, got "
                            f"{x.dtype.name}")
        if trailing != tuple(fft_lengths):
            raise TypeError(f"lax.fft: rfft of {x.str_short()} with fft_lengths "
                            f"{fft_lengths}: the trailing axes must equal the lengths")
        return ShapedArray(lead + trailing[:-1] + (fft_lengths[-1] // 2 + 1,),
                           _COMPLEX_OF[x.dtype], False)
    if fft_type == "irfft":
        if x.dtype not in _REAL_OF:
            raise TypeError(f"lax.fft: irfft requires a complex operand, got {x.dtype.name}")
        want = tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
        if trailing != want:
            raise TypeError(f"lax.fft: irfft of {x.str_short()} with fft_lengths {fft_lengths}:"
                            f" the trailing axes must be {want}")
        return ShapedArray(lead + tuple(fft_lengths), _REAL_OF[x.dtype], False)
    raise ValueError(f"lax.fft: unknown fft_type {fft_type!r}")


def _fft_impl(x, *, fft_type, fft_lengths):
    x = np.asarray(x)
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == "fft":
        out = np.fft.fftn(x, axes=axes)
    elif fft_type == "ifft":
        out = np.fft.ifftn(x, axes=axes)
    elif fft_type == "rfft":
        out = np.fft.rfftn(x, axes=axes)
    else:
        out = np.fft.irfftn(x, s=fft_lengths, axes=axes)
    # numpy keeps single precision; cast anyway so the result always has the shape rule's dtype
    want = _fft_shape_rule(ShapedArray(x.shape, x.dtype, False), fft_type=fft_type,
                           fft_lengths=fft_lengths).dtype
    return out if out.dtype == want else out.astype(want)


fft_p = Primitive("fft", impl=_fft_impl, shape_rule=_fft_shape_rule,
                  jac_structure="dense (a discrete Fourier matrix over the transformed axes)")


@fft_p.def_jvp
def _fft_jvp(primals, tangents, *, fft_type, fft_lengths):
    (x,), (t,) = primals, tangents
    out = fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths)
    if isinstance(t, Zero):
        return out, Zero(tangent_aval(get_aval(out)))
    return out, fft_p.bind(t, fft_type=fft_type, fft_lengths=fft_lengths)


@fft_p.def_transpose
def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    if fft_type in ("fft", "ifft"):
        return [fft_p.bind(ct, fft_type=fft_type, fft_lengths=fft_lengths)]
    aval = get_aval(ct)
    if fft_type == "rfft":
        # Re(R^T ct)_j = Re(sum_k conj(ct_k) exp(+2 pi i j.k/n)) over the kept half: an irfft
        # of conj(ct), with the weights 1/2 that undo irfft's doubling of the frequencies
        # strictly between 0 and n/2, times the number of points (half a complex fft's work).
        n, m = fft_lengths[-1], fft_lengths[-1] // 2 + 1
        weights = np.full(m, 0.5, aval.dtype)       # complex, as ct
        weights[0] = 1.0
        if n % 2 == 0:
            weights[-1] = 1.0
        halved = mul(conj(ct), _broadcast_last(weights * math.prod(fft_lengths), aval.shape))
        return [fft_p.bind(halved, fft_type="irfft", fft_lengths=fft_lengths)]
    # irfft
    n, m = fft_lengths[-1], fft_lengths[-1] // 2 + 1
    spectrum = fft_p.bind(convert_element_type(ct, x.aval.dtype), fft_type="ifft",
                          fft_lengths=fft_lengths)
    kept = lax_slice(spectrum, (0,) * aval.ndim, _spectrum_shape(aval.shape, m))
    weights = np.full(m, 2.0, x.aval.dtype)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    return [mul(kept, _broadcast_last(weights, get_aval(kept).shape))]


def _spectrum_shape(shape, m):
    return tuple(shape[:-1]) + (m,)


def _broadcast_last(v, shape):
    return broadcast_in_dim(v, tuple(shape), (len(shape) - 1,))


@fft_p.def_batch
def _fft_batch(args, dims, *, fft_type, fft_lengths):
    # The transform acts on trailing axes: a batch axis in front is just one more leading axis.
    (x,), (d,) = args, dims
    return fft_p.bind(moveaxis(x, d, 0), fft_type=fft_type, fft_lengths=fft_lengths), 0


@fft_p.def_cost
def _fft_cost(x, *, fft_type, fft_lengths):
    out = _fft_shape_rule(x, fft_type=fft_type, fft_lengths=fft_lengths)
    n = math.prod(fft_lengths)
    transforms = max(x.size, out.size) // max(n, 1)
    # A radix-2 complex FFT of n points costs about 5 n log2 n flops; real ones about half.
    flops = 5.0 * n * max(math.log2(max(n, 2)), 1.0) * transforms
    if fft_type in ("rfft", "irfft"):
        flops /= 2
    return Cost(flops, x.size * x.dtype.itemsize + out.size * out.dtype.itemsize)


fft_p.def_lowering(impl_call(fft_p))    # numpy's pocketfft from the driver


@fft_p.def_sparsity
def _fft_sparsity(ins, out_avals, *, fft_type, fft_lengths):
    # Dense within each transform (every frequency mixes every sample), independent across the
    # leading axes: group the operand's elements by leading index, give each output its group.
    (x,), out = ins, out_avals[0]
    k = len(fft_lengths)
    lead = math.prod(x.aval.shape[:x.aval.ndim - k])
    in_block = x.aval.size // max(lead, 1)
    out_block = out.size // max(lead, 1)
    by_lead = _sparsity.groups(x.pattern, np.repeat(np.arange(lead), in_block), lead)
    return [_sparsity.take_rows(by_lead, np.repeat(np.arange(1, lead + 1), out_block))]


def fft(x, fft_type, fft_lengths):
    """The fft_type transform of x over its len(fft_lengths) trailing axes (jax.lax.fft).
    fft_type is a FftType or its name ("fft", "ifft", "rfft", "irfft", any case)."""
    if isinstance(fft_type, FftType):
        fft_type = fft_type.value
    elif isinstance(fft_type, str) and fft_type.lower() in {t.value for t in FftType}:
        fft_type = fft_type.lower()
    else:
        raise ValueError(f"lax.fft: fft_type must be a FftType or one of 'fft', 'ifft', "
                         f"'rfft', 'irfft', got {fft_type!r}")
    lengths = tuple(int(n) for n in np.atleast_1d(fft_lengths))
    if get_aval(x).dtype.kind in "biu":
        raise TypeError(f"lax.fft requires a floating-point or complex operand, got "
                        f"{get_aval(x).dtype.name}; convert it first")
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=lengths)

