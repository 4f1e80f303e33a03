"""Convolutions and pooling: lax.conv_general_dilated and its wrappers, lax.reduce_window,
fnp.convolve / correlate.

Values are checked against scipy.signal.correlate and explicit loops (the registry cases in
primitive_cases/convolution.py add random geometries); derivatives against central finite
differences, jacfwd against jacrev, transposes by the dot-product test, vmap against a loop and
jit against the interpreter, in float64 and float32. JAX is compared only where installed.
"""
import itertools

import numpy as np
import pytest
import scipy.signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from functrans import lax

from primitive_cases.convolution import conv_reference

SETTINGS = settings(max_examples=10, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-10) if np.dtype(dtype) == np.float64 else \
        dict(rtol=2e-5, atol=2e-5)


# --- values ---------------------------------------------------------------------------------------

def test_conv_valid_matches_scipy_correlate():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    got = lax.conv(x, w, (1, 1), "VALID")
    want = np.zeros((2, 4, 5, 5))
    for n, o in itertools.product(range(2), range(4)):
        want[n, o] = sum(scipy.signal.correlate(x[n, c], w[o, c], mode="valid")
                         for c in range(3))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv_same_nhwc_matches_scipy_and_strides_subsample():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 6, 6, 2))              # NHWC
    w = rng.standard_normal((3, 3, 2, 5))              # HWIO
    dn = ("NHWC", "HWIO", "NHWC")
    same = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)
    want = np.stack([sum(scipy.signal.correlate(x[0, :, :, c], w[:, :, c, o], mode="same")
                         for c in range(2)) for o in range(5)], -1)[None]
    np.testing.assert_allclose(same, want, rtol=1e-12, atol=1e-12)
    # Stride 2 on 6: 3 windows, padding (0, 1) (the odd element goes high), so its windows
    # are the stride-1 windows centred at 1, 3, 5.
    strided = lax.conv_general_dilated(x, w, (2, 2), "SAME", dimension_numbers=dn)
    np.testing.assert_allclose(strided, want[:, 1::2, 1::2], rtol=1e-12, atol=1e-12)


def test_dilations_and_groups_match_loops():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((6, 2, 2, 3))
    params = dict(window_strides=(2, 1), padding=((1, 0), (-1, 2)), lhs_dilation=(2, 1),
                  rhs_dilation=(1, 2), feature_group_count=2)
    got = lax.conv_general_dilated(x, w, **params)
    iota = tuple(range(4))
    want = conv_reference(x, w, dimension_numbers=(iota, iota, iota), batch_group_count=1,
                          **params)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_batch_group_count_splits_the_batch_group_major():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 5))
    w = rng.standard_normal((6, 3, 2))
    got = lax.conv_general_dilated(x, w, (1,), "VALID", batch_group_count=2)
    # Output feature block b (3 features each) reads lhs members b*2 + m.
    for b, m in itertools.product(range(2), range(2)):
        one = lax.conv_general_dilated(x[b * 2 + m][None], w[b * 3:(b + 1) * 3], (1,), "VALID")
        np.testing.assert_allclose(got[m, b * 3:(b + 1) * 3], one[0], rtol=1e-12)


def test_conv_dimension_numbers_from_strings():
    dn = lax.conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def test_conv_transpose_is_the_gradient_of_a_strided_conv():
    """conv_transpose(..., transpose_kernel=True) computes the lhs-gradient of conv: <y, conv(x,
    w)> = <conv_transpose(y, w), x> with matching padding ('VALID' both ways here)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 9, 9, 2))
    w = rng.standard_normal((3, 3, 2, 4))
    dn = ("NHWC", "HWIO", "NHWC")
    y = lax.conv_general_dilated(x, w, (2, 2), "VALID", dimension_numbers=dn)
    u = rng.standard_normal(y.shape)
    back = lax.conv_transpose(u, w, (2, 2), "VALID", dimension_numbers=dn,
                              transpose_kernel=True)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(u, y), np.vdot(back, x), rtol=1e-10)
    assert lax.conv_transpose(u, np.ones((3, 3, 4, 2)), (2, 2), "SAME").shape == (1, 8, 8, 2)


def test_reduce_window_pooling_values():
    x = np.arange(24.0).reshape(4, 6)
    mx = lax.reduce_window(x, -np.inf, lax.max, (2, 2), (2, 2), "VALID")
    np.testing.assert_array_equal(mx, [[7, 9, 11], [19, 21, 23]])
    mn = lax.reduce_window(x, np.inf, lax.min, (2, 3), (2, 3), "VALID")
    np.testing.assert_array_equal(mn, [[0, 3], [12, 15]])
    sm = lax.reduce_window(x, 0.0, lax.add, (1, 3), (1, 1), "SAME")
    np.testing.assert_array_equal(sm[0], [1, 3, 6, 9, 12, 9])
    # A non-identity init is combined once per window; padding does not count.
    np.testing.assert_array_equal(lax.reduce_window(np.ones(3), 1.5, lax.add, (2,), (1,),
                                                    ((1, 1),)), [2.5, 3.5, 3.5, 2.5])
    # Any binary function works (folded over the window's positions).
    prod = lax.reduce_window(np.arange(1.0, 7.0), 1.0, lax.mul, (3,), (3,), "VALID")
    np.testing.assert_array_equal(prod, [6.0, 120.0])


def test_max_pool_gradient_goes_to_the_first_maximum_of_each_window():
    x = np.array([[1.0, 3.0, 3.0, 0.0],
                  [2.0, 3.0, 5.0, 5.0]])
    g = ft.grad(lambda x: lax.reduce_window(x, -np.inf, lax.max, (2, 2), (2, 2),
                                            "VALID").sum())(x)
    # Window 1 has ties at (0, 1) and (1, 1): the first in row-major order wins.
    np.testing.assert_array_equal(g, [[0, 1, 0, 0], [0, 0, 1, 0]])


def test_errors_name_the_function_and_argument():
    x, w = np.ones((1, 2, 5)), np.ones((3, 3, 2))
    with pytest.raises(TypeError, match="conv_general_dilated.*feature"):
        lax.conv_general_dilated(x, w, (1,), "VALID")
    with pytest.raises(ValueError, match="lhs_dilation"):
        lax.conv_general_dilated(x, np.ones((3, 2, 2)), (1,), "SAME", lhs_dilation=(2,))
    with pytest.raises(ValueError, match="feature_group_count.*batch_group_count"):
        lax.conv_general_dilated(np.ones((2, 2, 5)), np.ones((4, 1, 2)), (1,), "VALID",
                                 feature_group_count=2, batch_group_count=2)
    with pytest.raises(TypeError, match="reduce_window.*window_dimensions"):
        lax.reduce_window(np.ones((3, 3)), 0.0, lax.add, (2,), (1, 1), "VALID")


# --- derivatives, vmap, jit over many parameter combinations ------------------------------------

@st.composite
def conv_setups(draw, layouts=("canonical", "channels_last")):
    nsp = draw(st.sampled_from([1, 2]))
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float32]))
    ks = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    lhs_dil = tuple(draw(st.sampled_from([1, 2])) for _ in range(nsp))
    rhs_dil = tuple(draw(st.sampled_from([1, 2])) for _ in range(nsp))
    padding = draw(st.sampled_from(["SAME", "VALID", "pairs"]))
    if padding != "pairs":
        lhs_dil = (1,) * nsp
    else:
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(-1, 2))) for _ in range(nsp))
    g = draw(st.sampled_from([1, 1, 2]))
    sp = tuple(draw(st.integers(4, 6)) for _ in range(nsp))
    layout = draw(st.sampled_from(layouts))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    x = rng.uniform(-1, 1, (2, 2 * g) + sp).astype(dtype)
    w = rng.uniform(-1, 1, (2 * g, 2) + ks).astype(dtype)
    dn = None
    if layout == "channels_last":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))       # channels-last in memory too
        w = np.ascontiguousarray(np.moveaxis(np.moveaxis(w, 0, -1), 0, -2))  # (spatial.., I, O)
        dn = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}[nsp]

    def f(x, w):
        return lax.conv_general_dilated(x, w, strides, padding, lhs_dilation=lhs_dil,
                                        rhs_dilation=rhs_dil, dimension_numbers=dn,
                                        feature_group_count=g)
    return f, x, w


@SETTINGS
@given(conv_setups())
def test_conv_derivatives_vmap_and_jit(setup):
    f, x, w = setup
    tol = _tol(x.dtype)
    y = f(x, w)
    rng = np.random.default_rng(0)
    # jit against the interpreter.
    np.testing.assert_allclose(ft.jit(f)(x, w), y, **tol)
    # Dot-product test of both transposes: <u, J v> = <J^T u, v>.
    vx, vw = rng.standard_normal(x.shape).astype(x.dtype), rng.standard_normal(w.shape).astype(
        x.dtype)
    u = rng.standard_normal(y.shape).astype(x.dtype)
    _, jv = ft.jvp(f, (x, w), (vx, vw))
    _, pullback = ft.vjp(f, x, w)
    gx, gw = pullback(u)
    assert gx.dtype == x.dtype and gw.dtype == w.dtype
    lhs, rhs = np.vdot(u, jv), np.vdot(gx, vx) + np.vdot(gw, vw)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9 if x.dtype == np.float64 else 1e-4)
    if x.dtype == np.float64:
        # Central finite differences (exact up to rounding: the map is bilinear).
        eps = 1e-6
        fd = (f(x + eps * vx, w + eps * vw) - f(x - eps * vx, w - eps * vw)) / (2 * eps)
        np.testing.assert_allclose(jv, fd, rtol=1e-6, atol=1e-8)
        # jacfwd == jacrev, with respect to the kernel.
        np.testing.assert_allclose(ft.jacfwd(f, 1)(x, w), ft.jacrev(f, 1)(x, w), rtol=1e-10,
                                   atol=1e-12)
    # vmap against a loop: batched lhs, batched rhs, both.
    xs = np.stack([x, (x * 0.5)[...]])
    ws = np.stack([w, (w - 0.25).astype(w.dtype)])
    for in_axes, args in (((0, None), (xs, w)), ((None, 0), (x, ws)), ((0, 0), (xs, ws))):
        got = ft.vmap(f, in_axes=in_axes)(*args)
        want = np.stack([f(*[a[k] if ax == 0 else a for a, ax in zip(args, in_axes)])
                         for k in range(2)])
        np.testing.assert_allclose(got, want, **tol)


@st.composite
def pool_setups(draw):
    kind = draw(st.sampled_from(["max", "min", "sum", "avg"]))
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float32]))
    shape = (2, draw(st.integers(3, 6)), draw(st.integers(3, 6)), 2)
    window = (1, draw(st.integers(1, 3)), draw(st.integers(1, 3)), 1)
    strides = (1, draw(st.integers(1, 2)), draw(st.integers(1, 2)), 1)
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    n = int(np.prod(shape))
    order = np.array(draw(st.permutations(range(n))), np.float64)
    x = (0.5 * order - 0.25 * n).reshape(shape).astype(dtype)   # distinct: no ties

    def f(x):
        if kind == "avg":
            s = lax.reduce_window(x, 0.0, lax.add, window, strides, padding)
            counts = lax.reduce_window(np.ones(shape), 0.0, lax.add, window, strides, padding)
            return s / counts.astype(dtype)
        init, op = {"max": (-np.inf, lax.max), "min": (np.inf, lax.min),
                    "sum": (0.0, lax.add)}[kind]
        return lax.reduce_window(x, init, op, window, strides, padding)
    return f, x


@SETTINGS
@given(pool_setups())
def test_pooling_derivatives_vmap_and_jit(setup):
    f, x = setup
    tol = _tol(x.dtype)
    y = f(x)
    np.testing.assert_allclose(ft.jit(f)(x), y, **tol)
    np.testing.assert_allclose(ft.jit(ft.grad(lambda x: (f(x) ** 2).sum()))(x),
                               ft.grad(lambda x: (f(x) ** 2).sum())(x), **tol)
    rng = np.random.default_rng(1)
    v = rng.standard_normal(x.shape).astype(x.dtype)
    u = rng.standard_normal(y.shape).astype(x.dtype)
    _, jv = ft.jvp(f, (x,), (v,))
    (jtu,) = ft.vjp(f, x)[1](u)
    np.testing.assert_allclose(np.vdot(u, jv), np.vdot(jtu, v),
                               rtol=1e-9 if x.dtype == np.float64 else 1e-4)
    if x.dtype == np.float64:
        eps = 1e-4      # values are 0.5 apart: the argmax does not move
        fd = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
        np.testing.assert_allclose(jv, fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(ft.jacfwd(f)(x), ft.jacrev(f)(x), rtol=1e-12, atol=1e-12)
    xs = np.stack([x, x[:, ::-1]])
    np.testing.assert_allclose(ft.vmap(f)(xs), np.stack([f(xs[0]), f(xs[1])]), **tol)


def test_second_derivatives_of_conv_and_pool():
    """grad of grad through a conv + max pool: the Hessian-vector product matches finite
    differences of the gradient."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 6, 6, 1))
    w = rng.standard_normal((3, 3, 1, 2))

    def loss(w):
        y = lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        p = lax.reduce_window(fnp.tanh(y), -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return fnp.sum(p ** 2)
    v = rng.standard_normal(w.shape)
    hv = ft.jvp(ft.grad(loss), (w,), (v,))[1]
    eps = 1e-6
    fd = (ft.grad(loss)(w + eps * v) - ft.grad(loss)(w - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


# --- fnp.convolve / fnp.correlate ----------------------------------------------------------------

@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_and_correlate_match_numpy(mode):
    rng = np.random.default_rng(6)
    for na, nv in itertools.product(range(1, 6), range(1, 6)):
        a = rng.standard_normal(na) + 1j * rng.standard_normal(na)
        v = rng.standard_normal(nv) + 1j * rng.standard_normal(nv)
        for x, y in ((a, v), (a.real, v.real)):
            np.testing.assert_allclose(fnp.convolve(x, y, mode), np.convolve(x, y, mode),
                                       rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(fnp.correlate(x, y, mode), np.correlate(x, y, mode),
                                       rtol=1e-12, atol=1e-12)
    ints = fnp.convolve(np.arange(4), np.array([1, 2]), mode)
    np.testing.assert_array_equal(ints, np.convolve(np.arange(4), np.array([1, 2]), mode))


def test_convolve_under_transforms():
    a, v = np.arange(5.0), np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(ft.jit(lambda a, v: fnp.convolve(a, v, "same"))(a, v),
                               np.convolve(a, v, "same"))
    # d/da sum(correlate(a, v, 'valid')) = how often each a[n] meets each v[k], times v[k].
    np.testing.assert_allclose(ft.grad(lambda a: fnp.correlate(a, v).sum())(a),
                               [1, 3, 6, 5, 3])
    with pytest.raises(ValueError, match="convolve.*empty"):
        fnp.convolve(np.ones(3), np.ones(0))


# --- against JAX, where installed -----------------------------------------------------------------

def test_matches_jax_where_installed():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 7, 6, 4))
    w = rng.standard_normal((3, 2, 2, 6))
    kw = dict(window_strides=(2, 1), padding=((1, 2), (0, 1)), lhs_dilation=(1, 2),
              rhs_dilation=(2, 1), dimension_numbers=("NHWC", "HWIO", "NHWC"),
              feature_group_count=2)
    u = rng.standard_normal(np.shape(jax.lax.conv_general_dilated(x, w, **kw)))
    np.testing.assert_allclose(lax.conv_general_dilated(x, w, **kw),
                               jax.lax.conv_general_dilated(x, w, **kw), rtol=1e-10)
    ours = ft.grad(lambda x, w: (lax.conv_general_dilated(x, w, **kw) * u).sum(), (0, 1))(x, w)
    theirs = jax.grad(lambda x, w: (jax.lax.conv_general_dilated(x, w, **kw) * u).sum(),
                      (0, 1))(x, w)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for strides, pad in (((2, 2), "SAME"), ((3, 1), "VALID")):
        np.testing.assert_allclose(
            lax.conv_transpose(x, np.moveaxis(w, 3, 2)[..., :4, :], strides, pad),
            jax.lax.conv_transpose(x, np.moveaxis(w, 3, 2)[..., :4, :], strides, pad),
            rtol=1e-10)
    np.testing.assert_allclose(
        lax.reduce_window(x, -np.inf, lax.max, (1, 3, 2, 1), (1, 2, 2, 1), "SAME"),
        jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, 3, 2, 1), (1, 2, 2, 1), "SAME"))


@SETTINGS
@given(conv_setups(layouts=("channels_last",)))
def test_jitted_gradients_match_the_interpreter(setup):
    # Under jit the weight gradient of a channels-last convolution takes the transposed-columns
    # path of the lowering (_conv_kernels.ConvCall._transposed_columns); the interpreter runs
    # the numpy impl.
    f, x, w = setup
    u = np.random.default_rng(1).standard_normal(f(x, w).shape).astype(x.dtype)

    def pulled(x, w):
        return ft.vjp(f, x, w)[1](u)
    for got, want in zip(ft.jit(pulled)(x, w), pulled(x, w)):
        np.testing.assert_allclose(got, want, **_tol(x.dtype))


@SETTINGS
@given(nsp=st.sampled_from([1, 2]), strides=st.integers(1, 2), rhs_dil=st.integers(1, 2),
       lhs_dil=st.integers(1, 2), lo=st.integers(0, 2), hi=st.integers(-1, 2),
       seed=st.integers(0, 1000))
def test_transposed_columns_path_matches_the_impl(nsp, strides, rhs_dil, lhs_dil, lo, hi, seed):
    from functrans.core.aval import ShapedArray
    from functrans.primitives._conv_kernels import ConvCall
    from functrans.primitives.convolution import conv_general_dilated_p
    rng = np.random.default_rng(seed)
    sp = (5,) * nsp
    # Operands with the batch (lhs) and the output feature (rhs) innermost in memory.
    lhs = np.moveaxis(rng.standard_normal((4,) + sp + (3,)), -1, 0)      # (N=3, C=4, S...)
    rhs = np.moveaxis(rng.standard_normal((4,) + (2,) * nsp + (6,)), -1, 0)  # (O=6, C=4, K...)
    spec = {1: ("NCW", "OIW", "NCW"), 2: ("NCHW", "OIHW", "NCHW")}[nsp]
    params = dict(window_strides=(strides,) * nsp, padding=((lo, hi),) * nsp,
                  lhs_dilation=(lhs_dil,) * nsp, rhs_dilation=(rhs_dil,) * nsp,
                  dimension_numbers=lax.conv_dimension_numbers(lhs.shape, rhs.shape, spec),
                  feature_group_count=1, batch_group_count=1, precision=None,
                  preferred_element_type=None)
    want = conv_general_dilated_p.impl(np.ascontiguousarray(lhs), np.ascontiguousarray(rhs),
                                       **params)
    aval = lambda a: ShapedArray(a.shape, a.dtype, False)   # noqa: E731
    call = ConvCall(aval(lhs), aval(rhs), aval(want), params)
    assert call._batch_innermost(lhs, rhs)
    np.testing.assert_allclose(call(lhs, rhs), want, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(nsp=st.sampled_from([1, 2]), strides=st.integers(1, 2), rhs_dil=st.integers(1, 2),
       lhs_dil=st.integers(1, 2), lo=st.integers(0, 2), hi=st.integers(-1, 2),
       groups=st.sampled_from([(1, 1), (2, 1), (1, 2)]), transposed=st.booleans(),
       chunked=st.booleans(), seed=st.integers(0, 1000))
def test_column_chunks_and_reused_buffers_match_the_impl(nsp, strides, rhs_dil, lhs_dil, lo, hi,
                                                         groups, transposed, chunked, seed):
    # ConvCall reuses its padded operand and column buffers between calls, and copies and
    # multiplies the columns in chunks when they are large (forced here by tiny thresholds):
    # two calls with different operands must both equal the impl.
    from functrans.core.aval import ShapedArray
    from functrans.primitives import _conv_kernels
    from functrans.primitives.convolution import conv_general_dilated_p
    g, b = groups if not transposed else (1, 1)
    rng = np.random.default_rng(seed)
    sp = (5,) * nsp
    spec = {1: ("NCW", "OIW", "NCW"), 2: ("NCHW", "OIHW", "NCHW")}[nsp]

    def operands():
        if transposed:      # batch (lhs) and output feature (rhs) innermost in memory
            lhs = np.moveaxis(rng.standard_normal((4,) + sp + (3,)), -1, 0)
            rhs = np.moveaxis(rng.standard_normal((4,) + (2,) * nsp + (6,)), -1, 0)
        else:
            lhs = rng.standard_normal((3 * b, 2 * g) + sp)
            rhs = rng.standard_normal((2 * g * b, 2) + (2,) * nsp)
        return lhs, rhs
    lhs, rhs = operands()
    params = dict(window_strides=(strides,) * nsp, padding=((lo, hi),) * nsp,
                  lhs_dilation=(lhs_dil,) * nsp, rhs_dilation=(rhs_dil,) * nsp,
                  dimension_numbers=lax.conv_dimension_numbers(lhs.shape, rhs.shape, spec),
                  feature_group_count=g, batch_group_count=b, precision=None,
                  preferred_element_type=None)

    def impl(lhs, rhs):
        return conv_general_dilated_p.impl(np.ascontiguousarray(lhs), np.ascontiguousarray(rhs),
                                           **params)
    want = impl(lhs, rhs)
    aval = lambda a: ShapedArray(a.shape, a.dtype, False)   # noqa: E731
    call = _conv_kernels.ConvCall(aval(lhs), aval(rhs), aval(want), params)
    assert call._batch_innermost(lhs, rhs) == transposed
    lhs2, rhs2 = operands()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_conv_kernels, "COLUMNS_WHOLE_BYTES", 0 if chunked else 1 << 40)
        mp.setattr(_conv_kernels, "COLUMNS_CHUNK_BYTES", 1)       # one item per chunk
        first = call(lhs, rhs)
        np.testing.assert_allclose(first, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(call(lhs2, rhs2), impl(lhs2, rhs2), rtol=1e-12, atol=1e-12)
    # The first result is the caller's own array, not a buffer the second call overwrote.
    np.testing.assert_allclose(first, want, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(nsp=st.sampled_from([1, 2]), strides=st.integers(1, 2), rhs_dil=st.integers(1, 2),
       lhs_dil=st.integers(1, 2), lo=st.integers(-1, 2), hi=st.integers(-1, 2),
       out_features=st.integers(1, 15), layout=st.sampled_from(["canonical", "channels_last"]),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 1000))
def test_taps_product_strategy_matches_the_interpreter(nsp, strides, rhs_dil, lhs_dil, lo, hi,
                                                       out_features, layout, dtype, seed):
    # With at least 16 input features and fewer output features (an input gradient's shape),
    # jit multiplies every input position by every tap's kernel matrix and sums the taps in a
    # generated kernel (ConvCall._taps_product) instead of copying im2col columns.
    rng = np.random.default_rng(seed)
    sp = (5,) * nsp
    x = rng.uniform(-1, 1, (2, 16) + sp).astype(dtype)
    w = rng.uniform(-1, 1, (out_features, 16) + (2,) * nsp).astype(dtype)
    dn = None
    if layout == "channels_last":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        w = np.ascontiguousarray(np.moveaxis(np.moveaxis(w, 0, -1), 0, -2))
        dn = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}[nsp]

    def f(x, w):
        return lax.conv_general_dilated(x, w, (strides,) * nsp, ((lo, hi),) * nsp,
                                        lhs_dilation=(lhs_dil,) * nsp,
                                        rhs_dilation=(rhs_dil,) * nsp, dimension_numbers=dn)
    jitted = ft.jit(f)
    assert "def kernel(y, out)" in jitted.lower(x, w).as_text()
    np.testing.assert_allclose(jitted(x, w), f(x, w), **_tol(x.dtype))
    x2 = rng.uniform(-1, 1, x.shape).astype(dtype)         # buffers reused: a second call
    np.testing.assert_allclose(jitted(x2, w), f(x2, w), **_tol(x.dtype))


@SETTINGS
@given(conv_setups())
def test_jitted_value_and_grad_match_the_interpreter(setup):
    # jit(value_and_grad) holds the forward convolution and its weight gradient in one program:
    # the weight gradient multiplies the forward's im2col columns where the geometry pairs them
    # (_conv_kernels._share_columns), else copies its own.
    f, x, w = setup
    u = np.random.default_rng(2).standard_normal(f(x, w).shape).astype(x.dtype)

    def loss(x, w):
        return fnp.sum(fnp.tanh(f(x, w)) * u)
    g = ft.value_and_grad(loss, argnums=(0, 1))
    for got, want in zip(ft.tree_util.tree_leaves(ft.jit(g)(x, w)),
                         ft.tree_util.tree_leaves(g(x, w))):
        np.testing.assert_allclose(got, want, **_tol(x.dtype))


@pytest.mark.parametrize("strides,rhs_dil,padding", [((1, 1), (1, 1), "SAME"),
                                                      ((2, 1), (1, 2), ((1, 0), (2, 1)))])
def test_weight_gradient_reads_the_forward_columns(strides, rhs_dil, padding, monkeypatch):
    from functrans.primitives import _conv_kernels
    used = []
    original = _conv_kernels.ConvCall._from_forward_columns

    def counted(self, cols, rhs):
        used.append(cols.shape)
        return original(self, cols, rhs)
    monkeypatch.setattr(_conv_kernels.ConvCall, "_from_forward_columns", counted)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 5, 4))       # NHWC
    w = rng.standard_normal((3, 2, 4, 5))        # HWIO

    def loss(w, x):
        y = lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=rhs_dil,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return fnp.sum(fnp.sin(y) * y)
    g = ft.value_and_grad(loss)
    got, want = ft.jit(g)(w, x), g(w, x)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-10)
    assert used            # the weight gradient took the forward's columns
    x2 = rng.standard_normal(x.shape)    # new columns on the next call
    np.testing.assert_allclose(ft.jit(g)(w, x2)[1], g(w, x2)[1], rtol=1e-10, atol=1e-10)
