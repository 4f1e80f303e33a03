"""Reproducers of silent wrong numbers (issue 10, item 1), each now a right number or a clear
error. Expected values are JAX's (jax_enable_x64=True) or the calculus, stated per test."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.core.errors import ConcretizationTypeError, TracerArrayConversionError


# --- conversions that would drop a tangent raise -------------------------------------------------

def test_float_of_a_differentiated_value_raises():
    with pytest.raises(ConcretizationTypeError, match="derivative would silently be lost"):
        ft.grad(lambda x: float(x) * x)(3.0)
    with pytest.raises(ConcretizationTypeError, match="float"):
        ft.jvp(lambda x: float(x) * x, (3.0,), (1.0,))


@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda x: np.asarray(x, np.float64)])
def test_numpy_array_of_a_differentiated_value_raises(convert):
    with pytest.raises(TracerArrayConversionError, match="fnp.asarray"):
        ft.grad(lambda x: fnp.sum(convert(x) * 2.0))(np.ones(3))


def test_item_and_tolist_of_a_differentiated_value_raise():
    with pytest.raises(ConcretizationTypeError, match=r"\.item\(\)"):
        ft.grad(lambda x: x.item() * x)(3.0)
    with pytest.raises(ConcretizationTypeError, match="tolist"):
        ft.grad(lambda x: fnp.sum(fnp.asarray(x.tolist()) * x))(np.ones(2))


def test_conversions_that_lose_nothing_still_work():
    # bool/int stay concrete under grad (Python control flow on values), as in JAX.
    assert ft.grad(lambda x: x * 2 if x > 0 else x)(3.0) == 2.0
    assert ft.grad(lambda x: int(x) * x)(3.0) == 3.0
    # stop_gradient says the derivative is not wanted: float() of it is allowed (JAX: 3.0).
    assert ft.grad(lambda x: float(lax.stop_gradient(x)) * x)(3.0) == 3.0
    # An integer argument carries no derivative: float() of it is fine (JAX: 2.0).
    assert ft.grad(lambda x, n: x * float(n))(3.0, 2) == 2.0
    # Outside differentiation, concrete values convert as before.
    assert float(fnp.sum(fnp.ones(3))) == 3.0


# --- custom_vjp bwd returning None ---------------------------------------------------------------

def _passthrough_with_none():
    f = ft.custom_vjp(lambda a, x: x)
    f.defvjp(lambda a, x: (x, None), lambda r, g: (None, 2.0 * g))
    return f


def test_custom_vjp_none_cotangent_keeps_the_others():
    f = _passthrough_with_none()
    assert ft.grad(f, argnums=1)(1.0, 3.0) == 2.0              # JAX: 2.0 (was 0.0)
    assert ft.grad(f, argnums=0)(1.0, 3.0) == 0.0              # None means zero
    ga, gx = ft.grad(f, argnums=(0, 1))(1.0, 3.0)
    assert (ga, gx) == (0.0, 2.0)
    np.testing.assert_array_equal(ft.vmap(ft.grad(f, argnums=1))(np.ones(3), np.ones(3)),
                                  [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(ft.jit(ft.grad(f, argnums=1))(1.0, 3.0), 2.0)


def test_custom_vjp_none_inside_a_pytree_cotangent():
    f = ft.custom_vjp(lambda p: p["w"] * p["b"])
    f.defvjp(lambda p: (p["w"] * p["b"], p), lambda p, g: ({"w": g * p["b"], "b": None},))
    g = ft.grad(f)({"w": 2.0, "b": 3.0})
    assert g["w"] == 3.0 and g["b"] == 0.0


# --- checks of what custom rules return ----------------------------------------------------------

def test_custom_vjp_bwd_wrong_shape_names_rule_argument_and_types():
    g = ft.custom_vjp(lambda x: x * 2)
    g.defvjp(lambda x: (x * 2, None), lambda r, ct: (fnp.ones(2),))
    with pytest.raises(ValueError, match=r"custom_vjp bwd of <lambda>: the cotangent for "
                                         r"argument 0 has shape \(2,\).*f64\[3\]"):
        ft.grad(lambda x: g(x).sum())(np.ones(3))


def test_custom_vjp_bwd_wrong_dtype_and_count():
    g = ft.custom_vjp(lambda x: x * 2)
    g.defvjp(lambda x: (x * 2, None), lambda r, ct: (ct.astype(np.float32),))
    with pytest.raises(TypeError, match="dtype float32.*needs float64"):
        ft.grad(lambda x: g(x).sum())(np.ones(3))
    g.defvjp(lambda x: (x * 2, None), lambda r, ct: (ct, ct))
    with pytest.raises(TypeError, match="one cotangent per differentiable argument"):
        ft.grad(lambda x: g(x).sum())(np.ones(3))
    # A Python scalar cotangent is weakly typed: it takes the argument's dtype (as in JAX).
    h = ft.custom_vjp(lambda x: x * 2)
    h.defvjp(lambda x: (x * 2, None), lambda r, ct: (2.0,))
    assert ft.grad(h)(np.float32(1.0)).dtype == np.float32


def test_custom_vjp_fwd_must_return_a_pair():
    g = ft.custom_vjp(lambda x: x * 2)
    g.defvjp(lambda x: x * 2, lambda r, ct: (ct,))
    with pytest.raises(TypeError, match=r"fwd of <lambda> must return a pair \(output, "
                                        r"residuals\)"):
        ft.grad(g)(1.0)


def test_custom_vjp_fwd_output_must_match_the_function():
    g = ft.custom_vjp(lambda x: x * 2)
    g.defvjp(lambda x: ((x * 2, x), None), lambda r, ct: (ct,))
    with pytest.raises(TypeError, match="returned primal outputs with structure"):
        ft.grad(g)(1.0)


def test_custom_jvp_rule_outputs_are_checked():
    h = ft.custom_jvp(lambda x: fnp.sin(x))
    h.defjvp(lambda p, t: (fnp.sin(p[0]), fnp.ones(2)))
    with pytest.raises(ValueError, match=r"custom_jvp rule of <lambda>: the tangent output has "
                                         r"shape \(2,\)"):
        ft.grad(lambda x: h(x).sum())(np.ones(3))
    h.defjvp(lambda p, t: (fnp.sin(p[0]), t[0].astype(np.float32)))
    with pytest.raises(TypeError, match="dtype float32.*needs float64"):
        ft.jvp(h, (np.ones(3),), (np.ones(3),))
    h.defjvp(lambda p, t: ((fnp.sin(p[0]),), t[0]))
    with pytest.raises(TypeError, match="structure"):
        ft.jvp(h, (np.ones(3),), (np.ones(3),))
    h.defjvp(lambda p, t: fnp.sin(p[0]))
    with pytest.raises(TypeError, match=r"must return a pair \(primal_out, tangent_out\)"):
        ft.jvp(h, (np.ones(3),), (np.ones(3),))


def test_custom_jvp_right_rules_still_work():
    h = ft.custom_jvp(lambda x: fnp.sin(x))
    h.defjvp(lambda p, t: (fnp.sin(p[0]), fnp.cos(p[0]) * t[0]))
    np.testing.assert_allclose(ft.grad(lambda x: h(x).sum())(np.ones(3)), np.cos(np.ones(3)))
    k = ft.custom_jvp(lambda x: x ** 2)
    k.defjvp(lambda p, t: (p[0] ** 2, 0.0))   # a Python zero tangent takes the output's dtype
    out, t = ft.jvp(k, (np.float32(3.0),), (np.float32(1.0),))
    assert t == 0.0 and np.asarray(t).dtype == np.float32


# --- batched cond: the untaken branch sends no cotangent ------------------------------------------

def _safe_sqrt(x):
    return lax.cond(x < 1e-3, lambda _: 1e-3, lambda _: fnp.sqrt(x), ())


@pytest.mark.parametrize("compose", ["grad_of_vmap", "vmap_of_grad", "jit_grad_vmap",
                                     "grad_jit_vmap"])
def test_batched_cond_gradient_ignores_the_untaken_branch(compose):
    x = np.array([0.0, 4.0])
    total = lambda x: ft.vmap(_safe_sqrt)(x).sum()  # noqa: E731
    fun = {"grad_of_vmap": lambda: ft.grad(total)(x),
           "vmap_of_grad": lambda: ft.vmap(ft.grad(_safe_sqrt))(x),
           "jit_grad_vmap": lambda: ft.jit(ft.grad(total))(x),
           "grad_jit_vmap": lambda: ft.grad(ft.jit(total))(x)}[compose]
    np.testing.assert_array_equal(fun(), [0.0, 0.25])           # JAX: [0, 0.25]


def test_batched_cond_closed_over_unbatched_value():
    # w is not batched; only members taking the sqrt branch may contribute to its gradient.
    def f(w, xs):
        return ft.vmap(lambda x: lax.cond(x > 0, lambda _: fnp.sqrt(w) * x,
                                          lambda _: x, ()))(xs).sum()
    assert ft.grad(f)(0.0, np.array([-1.0, -2.0])) == 0.0
    np.testing.assert_allclose(ft.grad(f)(4.0, np.array([1.0, -2.0, 3.0])), 0.25 * 4.0)


def test_batched_cond_gradient_matches_finite_differences():
    def f(x):
        return ft.vmap(lambda v: lax.cond(v > 0.5, lambda _: fnp.sin(v) * v,
                                          lambda _: fnp.exp(v), ()))(x).sum()
    x = np.array([0.1, 0.9, 0.3, 2.0])
    eps = 1e-6
    fd = np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(ft.grad(f)(x), fd, rtol=1e-6)


# --- vmap out_axes out of range ------------------------------------------------------------------

def test_vmap_out_axes_out_of_bounds_raises():
    with pytest.raises(ValueError, match="out_axes=2 is out of bounds for an output of rank 1"):
        ft.vmap(lambda x: x, out_axes=2)(np.ones(3))
    with pytest.raises(ValueError, match="out_axes=-3"):
        ft.vmap(lambda x: x, out_axes=-3)(np.ones((3, 2)))
    assert ft.vmap(lambda x: x, out_axes=-1)(np.ones((3, 2))).shape == (2, 3)
