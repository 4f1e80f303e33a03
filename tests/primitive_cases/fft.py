"""Cases for the fft primitive (functrans/primitives/fft.py).

The reference multiplies by explicit DFT matrices exp(-+2 pi i jk/n) axis by axis (no numpy.fft).
The registry's derivative checks need float64 operands with real outputs, which no fft type has
(complex operands or complex outputs): the derivatives of all four are checked in tests/test_fft.py
by finite differences and the dot-product test on complex data.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import Case

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
COMPLEX = {F32: np.dtype(np.complex64), F64: np.dtype(np.complex128)}


def _dft(x, axis, n, sign, inverse):
    """The DFT of x along `axis` by an explicit n x n matrix (x already has length n there)."""
    k = np.arange(n)
    m = np.exp(sign * 2j * np.pi * np.outer(k, k) / n)
    out = np.moveaxis(np.tensordot(m, np.moveaxis(x, axis, 0), axes=(1, 0)), 0, axis)
    return out / n if inverse else out


def reference(x, *, fft_type, fft_lengths):
    x = np.asarray(x)
    out_dtype = {"fft": x.dtype, "ifft": x.dtype, "rfft": COMPLEX.get(x.dtype),
                 "irfft": {v: k for k, v in COMPLEX.items()}.get(x.dtype)}[fft_type]
    y = x.astype(np.complex128)
    axes = range(x.ndim - len(fft_lengths), x.ndim)
    if fft_type == "irfft":
        # Rebuild the full Hermitian spectrum of the last axis, then an inverse DFT everywhere.
        n = fft_lengths[-1]
        first = y[..., : n // 2 + 1].copy()
        first[..., 0] = first[..., 0].real        # irfft ignores these imaginary parts...
        if n % 2 == 0:
            first[..., -1] = first[..., -1].real  # ...and the Nyquist one's
        rest = np.conj(first[..., 1:(n + 1) // 2][..., ::-1])
        # other axes: the mirrored frequency -k is (n - k) mod n
        for a in list(axes)[:-1]:
            rest = np.roll(np.flip(rest, axis=a), 1, axis=a)
        y = np.concatenate([first, rest], axis=-1)
        for a, n in zip(axes, fft_lengths):
            y = _dft(y, a, n, +1, True)
        return y.real.astype(out_dtype)
    sign, inverse = (+1, True) if fft_type == "ifft" else (-1, False)
    for a, n in zip(axes, fft_lengths):
        y = _dft(y, a, n, sign, inverse)
    if fft_type == "rfft":
        y = y[..., : fft_lengths[-1] // 2 + 1]
    return y.astype(out_dtype)


@st.composite
def _fft(draw):
    fft_type = draw(st.sampled_from(["fft", "ifft", "rfft", "irfft"]))
    real = draw(st.sampled_from([F32, F64]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    k = draw(st.integers(1, len(shape)))
    lengths = tuple(shape[len(shape) - k:])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if fft_type == "irfft":
        shape = shape[:-1] + (lengths[-1] // 2 + 1,)
    x = rng.standard_normal(shape)
    if fft_type != "rfft":
        x = (x + 1j * rng.standard_normal(shape)).astype(COMPLEX[real])
    else:
        x = x.astype(real)
    # Complex outputs or operands: derivatives are checked in tests/test_fft.py.
    return Case((x,), {"fft_type": fft_type, "fft_lengths": lengths}, reference,
                diff_argnums=())


STRATEGIES = {"fft": _fft()}
