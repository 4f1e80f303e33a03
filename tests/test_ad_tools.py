"""AD tools JAX users reach for: linear_transpose, complex and holomorphic differentiation,
checkpoint policies and checkpoint_name, print_saved_residuals, custom_jvp rules with Python
control flow on primal values, closure_convert. Programs written from the descriptions in
JAX's documentation; numbers checked against finite differences and hand derivations."""
import functools
import io
from contextlib import redirect_stdout

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import ad_checkpoint
from functrans.core.errors import ConcretizationTypeError

rng = np.random.default_rng(0)


# --- linear_transpose -----------------------------------------------------------------------

def test_linear_transpose_is_the_matrix_transpose():
    A = rng.normal(size=(3, 4))
    B = rng.normal(size=(3, 2))
    f = lambda x, y: {"s": A @ x - 2.0 * B @ y, "t": fnp.sum(x) + 0.0 * y[0]}  # noqa: E731
    ft_ = ft.linear_transpose(f, np.zeros(4), np.zeros(2))
    u = {"s": rng.normal(size=3), "t": 0.7}
    gx, gy = ft_(u)
    np.testing.assert_allclose(gx, A.T @ u["s"] + 0.7, rtol=1e-12)
    np.testing.assert_allclose(gy, -2.0 * B.T @ u["s"], rtol=1e-12)
    # Dot-product test against the forward map.
    v = (rng.normal(size=4), rng.normal(size=2))
    fv = f(*v)
    lhs = u["s"] @ fv["s"] + u["t"] * fv["t"]
    assert np.isclose(lhs, gx @ v[0] + gy @ v[1], rtol=1e-12)


def test_linear_transpose_float32_shapes_and_jit():
    x = np.zeros((2, 3), np.float32)
    f = lambda x: fnp.transpose(x)[::-1] * np.float32(3)  # noqa: E731
    t = ft.linear_transpose(f, x)
    ct = rng.normal(size=(3, 2)).astype(np.float32)
    (g,) = t(ct)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 3 * ct[::-1].T, rtol=1e-6)
    (gj,) = ft.jit(t)(ct)
    np.testing.assert_allclose(gj, g, rtol=1e-6)


def test_linear_transpose_of_complex_maps_uses_the_unconjugated_pairing():
    c = 1.0 + 2.0j
    z = np.zeros(2, np.complex128)
    u = np.array([0.5 - 1.0j, 2.0 + 0.25j])
    v = np.array([1.5 + 0.5j, -0.3 + 2.0j])
    for f in [lambda z: c * z, fnp.conj, lambda z: fnp.real(z) + 0j, lambda z: 1j * fnp.imag(z)]:
        (g,) = ft.linear_transpose(f, z)(u)
        # <u, f v> = Re(sum(u * f(v))) must equal <f^T u, v> = Re(sum(g * v)).
        assert np.isclose(np.real(np.sum(u * f(v))), np.real(np.sum(g * v)), rtol=1e-12)


def test_linear_transpose_errors():
    with pytest.raises(TypeError, match="not linear"):
        ft.linear_transpose(lambda x: x * x, 1.0)(1.0)
    with pytest.raises(TypeError, match="not linear"):
        ft.linear_transpose(fnp.sin, 1.0)(1.0)
    with pytest.raises(TypeError, match="float or complex"):
        ft.linear_transpose(lambda i: 2 * i, np.arange(3))
    t = ft.linear_transpose(lambda x: 2 * x, np.zeros(3))
    with pytest.raises(TypeError, match="cotangent of type"):
        t(np.zeros(4))


# --- complex differentiation ----------------------------------------------------------------

def _fd_grad_real_of_complex(f, z, h=1e-6):
    """∂f/∂x - i ∂f/∂y elementwise, by central differences (JAX's convention for grad)."""
    out = np.zeros_like(z)
    for k in range(z.size):
        e = np.zeros_like(z)
        e.flat[k] = 1
        dx = (f(z + h * e) - f(z - h * e)) / (2 * h)
        dy = (f(z + 1j * h * e) - f(z - 1j * h * e)) / (2 * h)
        out.flat[k] = dx - 1j * dy
    return out


COMPLEX_FUNS = {
    "abs2": lambda z: fnp.sum(fnp.abs(z) ** 2),
    "re_of_square": lambda z: fnp.sum(fnp.real(z * z)),
    "log_abs": lambda z: fnp.sum(fnp.log(fnp.abs(fnp.exp(z) + 1.0))),
    "im_sin_conj": lambda z: fnp.sum(fnp.imag(fnp.sin(z) * fnp.conj(z))),
    "matvec": lambda z: fnp.sum(fnp.abs(np.array([[1, 2j], [3, -1j]]) @ z) ** 2),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_FUNS))
def test_grad_of_real_function_of_complex_input_matches_fd(name):
    f = COMPLEX_FUNS[name]
    z = np.array([0.3 + 0.4j, -1.1 + 0.2j])
    g = ft.grad(f)(z)
    assert g.dtype == np.complex128
    np.testing.assert_allclose(g, _fd_grad_real_of_complex(lambda w: float(f(w)), z), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(ft.jit(ft.grad(f))(z), g, rtol=1e-12)


def test_grad_abs_squared_is_twice_the_conjugate():
    # The documented example: f(z) = |z|^2 at 3+4j has gradient 2*conj(z) = 6-8j.
    assert ft.grad(lambda z: fnp.abs(z) ** 2)(3.0 + 4.0j) == 6.0 - 8.0j


def test_holomorphic_grad_is_the_complex_derivative():
    z = 0.7 - 0.3j
    for f, df in [(lambda z: z ** 3, lambda z: 3 * z ** 2), (fnp.exp, np.exp),
                  (lambda z: fnp.sin(z) / (z + 2.0), lambda z: np.cos(z) / (z + 2) - np.sin(z) / (z + 2) ** 2)]:
        g = ft.grad(f, holomorphic=True)(z)
        assert np.isclose(g, df(z), rtol=1e-12)
        h = 1e-6   # a holomorphic derivative is the same along every direction
        assert np.isclose(g, (f(z + h) - f(z - h)) / (2 * h), rtol=1e-7)
        assert np.isclose(g, (f(z + 1j * h) - f(z - 1j * h)) / (2j * h), rtol=1e-7)
    zs = np.array([0.5 + 1j, -1 + 0.25j])
    np.testing.assert_allclose(ft.jacfwd(lambda z: z ** 2, holomorphic=True)(zs), np.diag(2 * zs))
    np.testing.assert_allclose(ft.jacrev(lambda z: z ** 2, holomorphic=True)(zs), np.diag(2 * zs))
    np.testing.assert_allclose(ft.hessian(lambda z: fnp.sum(z ** 3), holomorphic=True)(zs),
                               np.diag(6 * zs))


def test_complex_dtype_errors_follow_jax():
    with pytest.raises(TypeError, match="holomorphic=True"):
        ft.grad(lambda z: z * z)(1.0 + 1.0j)
    with pytest.raises(TypeError, match="requires inputs with complex dtype"):
        ft.grad(lambda x: x * x, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match="requires outputs with complex dtype"):
        ft.grad(lambda z: fnp.abs(z), holomorphic=True)(1.0 + 1j)
    with pytest.raises(TypeError, match="real-valued inputs"):
        ft.jacfwd(lambda z: z * z)(np.array([1j]))
    with pytest.raises(TypeError, match="real-valued outputs"):
        ft.jacrev(lambda z: z * z)(np.array([1j]))
    # jacrev of a real function of complex inputs is allowed (rows are gradients).
    np.testing.assert_allclose(ft.jacrev(fnp.abs)(np.array([3.0 + 4.0j])), [[0.6 - 0.8j]])


def test_complex_jvp_and_vjp_of_a_non_holomorphic_function():
    f = lambda z: fnp.conj(z) * fnp.exp(z) + fnp.abs(z)  # noqa: E731
    z = np.array([0.2 + 0.5j, -0.7 + 0.1j])
    t = np.array([1.0 - 0.5j, 0.3 + 2.0j])
    h = 1e-6
    _, jt = ft.jvp(f, (z,), (t,))
    np.testing.assert_allclose(jt, (f(z + h * t) - f(z - h * t)) / (2 * h), rtol=1e-6)
    u = np.array([0.4 + 0.9j, -1.2 + 0.3j])
    (g,) = ft.vjp(f, z)[1](u)
    # vjp is the transpose under Re(sum(a * b)).
    assert np.isclose(np.real(np.sum(u * jt)), np.real(np.sum(g * t)), rtol=1e-9)


# --- checkpoint policies ----------------------------------------------------------------------

W1, W2 = rng.normal(size=(5, 4)), rng.normal(size=(3, 5))
X = rng.normal(size=4)


def mlp(W1, W2, x):
    h = fnp.tanh(ad_checkpoint.checkpoint_name(W1 @ x, "hidden"))
    return fnp.sum(fnp.sin(W2 @ h) ** 2)


def _hand_grad(W1, W2, x):
    a = W1 @ x
    h = np.tanh(a)
    b = W2 @ h
    db = 2 * np.sin(b) * np.cos(b)
    dh = W2.T @ db
    da = dh * (1 - h ** 2)
    return np.outer(da, x), np.outer(db, h), W1.T @ da


P = ft.checkpoint_policies
POLICIES = {
    "none": None, "nothing": P.nothing_saveable, "everything": P.everything_saveable,
    "dots": P.dots_saveable, "dots_no_batch": P.dots_with_no_batch_dims_saveable,
    "only_hidden": P.save_only_these_names("hidden"), "names_but_hidden":
    P.save_any_names_but_these("hidden"), "all_but_hidden": P.save_anything_except_these_names("hidden"),
    "both": P.save_from_both_policies(P.dots_saveable, P.save_only_these_names("hidden")),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_checkpoint_policy_gradients_match_hand_derivation(name):
    f = ft.checkpoint(mlp, policy=POLICIES[name])
    want = _hand_grad(W1, W2, X)
    for got in [ft.grad(f, argnums=(0, 1, 2))(W1, W2, X),
                ft.jit(ft.grad(f, argnums=(0, 1, 2)))(W1, W2, X)]:
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def _saved_shapes(f):
    return sorted(r.aval.shape for r in ft.ad_checkpoint.saved_residuals(f, W1, W2, X))


def test_checkpoint_policies_decide_what_is_saved():
    inputs = sorted([(5, 4), (3, 5), (4,)])
    assert _saved_shapes(ft.checkpoint(mlp)) == inputs
    assert _saved_shapes(ft.checkpoint(mlp, policy=P.nothing_saveable)) == inputs
    # dots: the two matmul outputs (5 and 3 elements) are kept, nothing else.
    dots = _saved_shapes(ft.checkpoint(mlp, policy=P.dots_saveable))
    assert len(dots) == 5 and sorted(int(np.prod(s)) for s in dots) == [3, 4, 5, 15, 20]
    # Only the named value is kept.
    only = _saved_shapes(ft.checkpoint(mlp, policy=P.save_only_these_names("hidden")))
    assert only == sorted(inputs + [(5,)])
    assert _saved_shapes(ft.checkpoint(mlp, policy=P.save_only_these_names("other"))) == inputs
    everything = _saved_shapes(ft.checkpoint(mlp, policy=P.everything_saveable))
    assert len(everything) > len(dots)
    out = io.StringIO()
    with redirect_stdout(out):
        ad_checkpoint.print_saved_residuals(ft.checkpoint(mlp, policy=P.dots_saveable), W1, W2, X)
    text = out.getvalue()
    assert "saved by a checkpoint policy" in text and "dot_general" in text
    assert "total:" in text


def test_dots_with_no_batch_dims_policy_skips_batched_matmuls():
    A = rng.normal(size=(2, 3, 4))
    B = rng.normal(size=(2, 4, 5))
    f = lambda A, B: fnp.sum(fnp.tanh(fnp.einsum("bij,bjk->bik", A, B)))  # noqa: E731
    nobatch = ft.checkpoint(f, policy=P.dots_with_no_batch_dims_saveable)
    dots = ft.checkpoint(f, policy=P.dots_saveable)
    assert len(ft.ad_checkpoint.saved_residuals(nobatch, A, B)) == 2
    assert len(ft.ad_checkpoint.saved_residuals(dots, A, B)) == 3
    for fc in (nobatch, dots):
        for g, w in zip(ft.grad(fc, argnums=(0, 1))(A, B), ft.grad(f, argnums=(0, 1))(A, B)):
            np.testing.assert_allclose(g, w, rtol=1e-12)


def test_checkpoint_policy_composes_with_vmap_hessian_and_jacfwd():
    f = ft.checkpoint(mlp, policy=P.dots_saveable)
    xs = rng.normal(size=(3, 4))
    got = ft.vmap(ft.grad(f, argnums=2), in_axes=(None, None, 0))(W1, W2, xs)
    np.testing.assert_allclose(got, np.stack([_hand_grad(W1, W2, x)[2] for x in xs]), rtol=1e-10)
    np.testing.assert_allclose(ft.hessian(f, argnums=2)(W1, W2, X),
                               ft.hessian(mlp, argnums=2)(W1, W2, X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ft.jacfwd(f, argnums=2)(W1, W2, X), _hand_grad(W1, W2, X)[2],
                               rtol=1e-10)
    # As a decorator with arguments, and float32.
    g32 = ft.grad(ft.checkpoint(policy=P.dots_saveable)(mlp), argnums=2)(
        W1.astype(np.float32), W2.astype(np.float32), X.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, _hand_grad(W1, W2, X)[2], rtol=2e-5, atol=1e-6)


def test_checkpoint_name_is_an_identity_with_a_plain_derivative():
    f = lambda x: ad_checkpoint.checkpoint_name(fnp.sin(x), "s") * 2.0  # noqa: E731
    x = np.array([0.1, 0.5])
    np.testing.assert_allclose(f(x), 2 * np.sin(x))
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(x), 2 * np.cos(x))
    assert "checkpoint_name" in str(ft.make_jaxpr(f)(x))
    np.testing.assert_allclose(ft.jit(f)(x), 2 * np.sin(x))


# --- custom_jvp rules with Python control flow on primal values --------------------------------

@ft.custom_jvp
def piecewise(x):
    if x > 0:       # allowed: custom rules (and the function) see concrete primals under grad
        return fnp.sin(x)
    return x ** 3


@piecewise.defjvp
def _piecewise_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    if x > 0:
        return piecewise(x), fnp.cos(x) * t
    return piecewise(x), 3 * x ** 2 * t


@pytest.mark.parametrize("x", [0.8, -0.6])
def test_custom_jvp_rule_with_python_branches(x):
    d1 = np.cos(x) if x > 0 else 3 * x ** 2
    d2 = -np.sin(x) if x > 0 else 6 * x
    assert np.isclose(ft.grad(piecewise)(x), d1)
    assert np.isclose(ft.jvp(piecewise, (x,), (2.0,))[1], 2 * d1)
    assert np.isclose(ft.jacfwd(piecewise)(x), d1) and np.isclose(ft.jacrev(piecewise)(x), d1)
    assert np.isclose(ft.grad(ft.grad(piecewise))(x), d2)
    assert np.isclose(ft.grad(lambda x: piecewise(x) * x)(x), d1 * x + piecewise(x))


def test_custom_jvp_python_branches_under_jit_raise_like_jax():
    with pytest.raises(ConcretizationTypeError):
        ft.jit(ft.grad(piecewise))(0.5)


def test_closure_over_a_traced_value_is_still_refused_when_branching():
    def outer(w, x):
        @ft.custom_jvp
        def g(x):
            return x * w if x > 0 else x

        g.defjvp(lambda p, t: (g(p[0]), t[0]))
        return g(x)

    with pytest.raises(TypeError, match="closes over a traced value"):
        ft.grad(outer)(2.0, 1.0)


# --- closure_convert -------------------------------------------------------------------------

@functools.partial(ft.custom_vjp, nondiff_argnums=(0,))
def _call_with_custom_vjp(fn, x, *args):
    return fn(x, *args)


def _call_fwd(fn, x, *args):
    return fn(x, *args), (x, args)


def _call_bwd(fn, res, g):
    x, args = res
    _, pullback = ft.vjp(fn, x, *args)
    return pullback(g)


_call_with_custom_vjp.defvjp(_call_fwd, _call_bwd)


def test_closure_convert_hoists_closed_over_values_for_custom_vjp():
    def outer(w, x):
        inner = lambda x: fnp.sin(w * x) + fnp.arange(3) * 0.0  # noqa: E731  (int const stays)
        converted, consts = ft.closure_convert(inner, x)
        assert len(consts) == 1      # w (traced): hoisted; the integer arange is not
        return fnp.sum(_call_with_custom_vjp(converted, x, *consts))

    w, x = 0.7, 1.3
    gw, gx = ft.grad(outer, argnums=(0, 1))(w, x)
    assert np.isclose(gw, 3 * x * np.cos(w * x)) and np.isclose(gx, 3 * w * np.cos(w * x))

    def unconverted(w, x):
        return fnp.sum(_call_with_custom_vjp(lambda x: fnp.sin(w * x), x))

    with pytest.raises(TypeError, match="closes over a traced value"):
        ft.grad(unconverted)(w, x)


def test_closure_convert_eager_values_and_arguments():
    a = np.array([1.0, 2.0])
    f = lambda x, y: a * x + y  # noqa: E731
    converted, consts = ft.closure_convert(f, 1.0, 2.0)
    assert len(consts) == 1 and np.array_equal(consts[0], a)
    np.testing.assert_allclose(converted(3.0, 1.0, *consts), a * 3 + 1)
    np.testing.assert_allclose(converted(3.0, 1.0, np.array([5.0, 6.0])), [16.0, 19.0])
    with pytest.raises(TypeError, match="hoisted"):
        converted(3.0, 1.0)
