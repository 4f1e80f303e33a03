"""functrans.numpy.fft against numpy.fft (values, dtypes), and its derivatives: finite
differences, the dot-product test on complex data, jacfwd == jacrev, vmap, jit; float32 too."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax

from transform_checks import assert_close, check_transforms

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 6))
C = X + 1j * RNG.standard_normal((4, 6))
NORMS = [None, "backward", "ortho", "forward"]

CASES = [
    ("fft", C, {}), ("fft", C, {"n": 4, "axis": 0}), ("fft", X, {"n": 9}),
    ("ifft", C, {}), ("ifft", C, {"n": 3}),
    ("rfft", X, {}), ("rfft", X, {"n": 5, "axis": 0}), ("rfft", X, {"n": 8}),
    ("irfft", C, {}), ("irfft", C, {"n": 7}), ("irfft", C, {"n": 4, "axis": 0}),
    ("hfft", C, {}), ("ihfft", X, {"n": 5}),
    ("fft2", C, {}), ("fft2", C, {"s": (3, 8)}), ("ifft2", C, {"axes": (1, 0)}),
    ("rfft2", X, {}), ("irfft2", C, {"s": (4, 9)}),
    ("fftn", C, {}), ("fftn", C[None], {"axes": (0, 2)}), ("ifftn", C, {"s": (5,), "axes": (1,)}),
    ("rfftn", X, {"axes": (1, 0)}), ("irfftn", C, {}), ("irfftn", C[None], {"axes": (0, 1)}),
]


@pytest.mark.parametrize("name,x,kw", CASES)
@pytest.mark.parametrize("norm", NORMS)
def test_values_match_numpy(name, x, kw, norm):
    want = getattr(np.fft, name)(x, norm=norm, **kw)
    assert_close(getattr(fnp.fft, name)(x, norm=norm, **kw), want, what=name)
    # under a transform too (the traced path), and in single precision
    traced = ft.jit(lambda a: getattr(fnp.fft, name)(a, norm=norm, **kw))(x)
    assert_close(traced, want, what=f"jit {name}")
    single = x.astype(np.complex64 if x.dtype.kind == "c" else np.float32)
    got32 = getattr(fnp.fft, name)(single, norm=norm, **kw)
    assert np.asarray(got32).dtype == getattr(np.fft, name)(single, norm=norm, **kw).dtype
    assert_close(got32, want, rtol=2e-5, atol=2e-5, dtype=False, what=f"{name} float32")


def test_integer_input_is_complex128_and_shift_freq():
    assert_close(fnp.fft.fft(np.arange(5)), np.fft.fft(np.arange(5.0)))
    assert_close(fnp.fft.rfft(np.arange(5)), np.fft.rfft(np.arange(5.0)))
    for axes in [None, 0, (1,), (0, 1)]:
        assert_close(fnp.fft.fftshift(X, axes), np.fft.fftshift(X, axes))
        assert_close(fnp.fft.ifftshift(X, axes), np.fft.ifftshift(X, axes))
    for n in (1, 6, 7):
        assert_close(fnp.fft.fftfreq(n, 0.25), np.fft.fftfreq(n, 0.25))
        assert_close(fnp.fft.rfftfreq(n, 3.0), np.fft.rfftfreq(n, 3.0))
    assert fnp.fft.fftfreq(4, dtype=np.float32).dtype == np.float32
    # the spacing is differentiable: d/dd (k / (n d)) = -k / (n d^2)
    g = ft.jacfwd(lambda d: fnp.fft.fftfreq(4, d))(2.0)
    assert_close(g, -np.fft.fftfreq(4) / 4.0)


def test_errors():
    with pytest.raises(TypeError, match="rfft requires a real input"):
        fnp.fft.rfft(C)
    with pytest.raises(ValueError, match="norm"):
        fnp.fft.fft(C, norm="bogus")
    with pytest.raises(ValueError, match="out of bounds"):
        fnp.fft.fft(C, axis=2)
    with pytest.raises(ValueError, match="same length"):
        fnp.fft.fftn(C, s=(2, 3), axes=(0,))
    with pytest.raises(TypeError, match="irfft"):
        lax.fft(C, "irfft", (6,))           # the trailing axis must be 6 // 2 + 1


# Real-valued functions of real inputs through every transform type (complex intermediates).
FUNCTIONS = {
    "fft": lambda x: fnp.abs(fnp.fft.fft(x * (1 + 0.5j), norm="ortho")) ** 2,
    "ifft_real": lambda x: fnp.real(fnp.fft.ifft(x + 1j * fnp.sin(x), n=7)),
    "rfft": lambda x: fnp.real(fnp.fft.rfft(x, axis=0)) + fnp.imag(fnp.fft.rfft(x, axis=0)) ** 2,
    "irfft": lambda x: fnp.fft.irfft(x[:, :4] + 1j * x[:, 2:], n=6),
    "irfft_odd": lambda x: fnp.fft.irfft(x[:, :4] - 2j * x[:, 1:5], n=7, norm="forward"),
    "rfft2_irfft2": lambda x: fnp.fft.irfft2(fnp.fft.rfft2(x) * fnp.fft.rfft2(x), s=(4, 6)),
    "fftn": lambda x: fnp.imag(fnp.fft.fftn(fnp.exp(1j * x), axes=(1, 0))),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivatives(name):
    check_transforms(FUNCTIONS[name], X)


def test_transposes_on_complex_data():
    """<u, J v> == <J^T u, v> in the real pairing Re(sum(a * b)) for each transform type."""
    rng = np.random.default_rng(5)
    for fft_type, x, lengths in [("fft", C, (4, 6)), ("ifft", C, (6,)), ("rfft", X, (6,)),
                                 ("rfft", X[:, :5], (4, 5)), ("irfft", C[:, :4], (4, 6)),
                                 ("irfft", C[:, :4], (7,))]:
        def f(a):
            return lax.fft(a, fft_type, lengths)
        y, vjp = ft.vjp(f, x)

        def rand(shape, dtype):
            r = rng.standard_normal(shape)
            return r + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else r
        v = rand(x.shape, x.dtype)
        u = rand(np.shape(y), np.asarray(y).dtype)
        _, jv = ft.jvp(f, (x,), (v,))
        (jtu,) = vjp(u)
        np.testing.assert_allclose(np.sum(u * jv).real, np.sum(jtu * v).real, rtol=1e-12,
                                   err_msg=fft_type)


def test_float32_derivatives():
    f = FUNCTIONS["rfft2_irfft2"]
    x32 = X.astype(np.float32)
    g32 = ft.grad(lambda x: fnp.sum(f(x)))(x32)
    g64 = ft.grad(lambda x: fnp.sum(f(x)))(X)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)


def test_vmap_of_primitive_moves_batch_axis():
    batch = np.stack([C, 2 * C, C ** 2], axis=1)     # batch axis 1
    got = ft.vmap(lambda a: fnp.fft.fft2(a), in_axes=1)(batch)
    want = np.stack([np.fft.fft2(batch[:, k]) for k in range(3)])
    assert_close(got, want)


def test_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    for name, x, kw in CASES:
        for norm in ("ortho", None):
            assert_close(getattr(fnp.fft, name)(x, norm=norm, **kw),
                         np.asarray(getattr(jnp.fft, name)(x, norm=norm, **kw)), what=name)
    g = ft.grad(lambda x: fnp.sum(FUNCTIONS["irfft"](x)))(X)
    gj = jax.grad(lambda x: jnp.sum(jnp.fft.irfft(x[:, :4] + 1j * x[:, 2:], n=6)))(X)
    assert_close(g, np.asarray(gj))
