"""Checks of the elementwise primitives' rules, driven by tests/primitive_cases/elementwise.py.

impl against the reference, staged programs against eager results and the type checker, JVPs
against central finite differences in float64 (first and second order), transposes by the
dot-product test, batching against a Python loop over the batch; plus complex derivatives and
the conventions documented in functrans/primitives/elementwise.py.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrans as ft
from functrans import lax
from functrans.core import primitive as core
from functrans.core.aval import aval_of_value
from functrans.core.staging import eval_closed
from functrans.core.typecheck import check_program
from functrans.primitives import elementwise as E

from primitive_cases.elementwise import STRATEGIES

NAMES = sorted(STRATEGIES)
SETTINGS = settings(max_examples=int(os.environ.get("ELEMENTWISE_EXAMPLES", 40)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _prim(name):
    return core.registry[name]


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if np.dtype(dtype) in (np.float32, np.complex64) \
        else dict(rtol=1e-10, atol=1e-12)


def _assert_close(actual, expected, dtype):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, equal_nan=True, **_tol(dtype))


def _diff_argnums(case):
    if case.diff_argnums is not None:
        return case.diff_argnums
    return tuple(i for i, a in enumerate(case.args) if np.asarray(a).dtype.kind == "f")


def _some_argnums(data, case):
    """A non-empty subset of the differentiable arguments: differentiating one operand only
    leaves the other's tangent a symbolic Zero, which the rules must handle (rank-0 operands
    included)."""
    nums = _diff_argnums(case)
    subset = tuple(i for i in nums if data.draw(st.booleans()))
    return subset or nums


def _float64_case(case):
    nums = _diff_argnums(case)
    return nums and all(np.asarray(case.args[i]).dtype == np.float64 for i in nums)


def _closure(name, case, nums):
    prim = _prim(name)

    def f(*diff_args):
        args = list(case.args)
        for i, a in zip(nums, diff_args):
            args[i] = a
        return prim.bind(*args, **case.params)
    return f


def _diff_output(name, case):
    out = _prim(name).bind(*case.args, **case.params)
    return np.asarray(out).dtype.kind in "fc"


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_impl_staging_and_shape_rule(name, data):
    case = data.draw(STRATEGIES[name])
    prim = _prim(name)
    out = prim.bind(*case.args, **case.params)
    expected = prim.shape_rule(*map(aval_of_value, case.args), **case.params)
    assert np.asarray(out).dtype == expected.dtype
    assert np.shape(out) == expected.shape
    _assert_close(out, case.reference(*case.args, **case.params), expected.dtype)
    program = ft.make_jaxpr(lambda *a: prim.bind(*a, **case.params))(*case.args)
    check_program(program)
    staged = eval_closed(program, *case.args)[0]
    _assert_close(staged, out, expected.dtype)
    cost = prim.estimate_cost(*map(aval_of_value, case.args), **case.params)
    assert cost.flops >= 0 and cost.bytes >= 0


def _fd(f, xs, ts, eps=1e-6):
    plus = f(*[x + eps * t for x, t in zip(xs, ts)])
    minus = f(*[x - eps * t for x, t in zip(xs, ts)])
    return (np.asarray(plus, np.float64) - np.asarray(minus, np.float64)) / (2 * eps)


def _random_like(rng, xs):
    return [rng.standard_normal(np.shape(x)).astype(np.asarray(x).dtype) for x in xs]


def _check_fd(f, xs, ts, tangent, what):
    fd = _fd(f, xs, ts)
    scale = 1 + np.max(np.abs(fd), initial=0)
    np.testing.assert_allclose(np.asarray(tangent, np.float64), fd, rtol=1e-5,
                               atol=1e-5 * scale, err_msg=what)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_jvp_against_finite_differences(name, data, seed):
    case = data.draw(STRATEGIES[name])
    if not (case.fd_ok and _float64_case(case) and _diff_output(name, case)):
        return
    nums = _some_argnums(data, case)
    f = _closure(name, case, nums)
    xs = [case.args[i] for i in nums]
    rng = np.random.default_rng(seed)
    ts = _random_like(rng, xs)
    out, t_out = ft.jvp(f, tuple(xs), tuple(ts))
    _assert_close(out, f(*xs), np.float64)
    _check_fd(f, xs, ts, t_out, f"jvp of {name}")
    # Second order: the JVP rule is itself differentiable (written with lax functions).
    ws = _random_like(rng, xs)

    def directional(*ys):
        return ft.jvp(f, tuple(ys), tuple(ts))[1]
    _, tt = ft.jvp(directional, tuple(xs), tuple(ws))
    fd2 = _fd(directional, xs, ws)
    scale = 1 + np.max(np.abs(fd2), initial=0)
    np.testing.assert_allclose(np.asarray(tt, np.float64), fd2, rtol=1e-4, atol=1e-4 * scale,
                               err_msg=f"second-order jvp of {name}")


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_transpose_dot_product(name, data, seed):
    case = data.draw(STRATEGIES[name])
    if not (_float64_case(case) and _diff_output(name, case)):
        return
    nums = _some_argnums(data, case)
    f = _closure(name, case, nums)
    xs = [case.args[i] for i in nums]
    rng = np.random.default_rng(seed)
    vs = _random_like(rng, xs)
    out, f_jvp = ft.linearize(f, *xs)
    u = rng.standard_normal(np.shape(out))
    _, f_vjp = ft.vjp(f, *xs)
    cts = f_vjp(u)
    assert len(cts) == len(xs)
    for ct, x in zip(cts, xs):
        assert np.shape(ct) == np.shape(x)
    lhs = np.sum(np.asarray(f_jvp(*vs)) * u)
    rhs = sum(np.sum(np.asarray(ct) * v) for ct, v in zip(cts, vs))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9 * (1 + abs(lhs)))


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**31 - 1), size=st.integers(1, 3))
def test_vmap_against_loop(name, data, seed, size):
    case = data.draw(STRATEGIES[name])
    prim = _prim(name)
    rng = np.random.default_rng(seed)
    batchable = case.batch_argnums if case.batch_argnums is not None else \
        range(len(case.args))
    in_axes = [None] * len(case.args)
    for i in batchable:
        if data.draw(st.booleans()):
            in_axes[i] = data.draw(st.integers(0, np.ndim(case.args[i])))
    if all(a is None for a in in_axes):
        i = data.draw(st.sampled_from(list(batchable)))
        in_axes[i] = 0
    # Batch members: the case's elements permuted, so they stay in the case's domain.
    members = [[a if k == 0 or ax is None else
                rng.permutation(np.ravel(a)).reshape(np.shape(a)).astype(np.asarray(a).dtype)
                for k in range(size)] for a, ax in zip(case.args, in_axes)]
    batched = [np.stack(m, axis=ax) if ax is not None else m[0]
               for m, ax in zip(members, in_axes)]
    out = ft.vmap(lambda *a: prim.bind(*a, **case.params), in_axes=tuple(in_axes))(*batched)
    expected = np.stack([np.asarray(prim.bind(*[m[k] for m in members], **case.params))
                         for k in range(size)])
    _assert_close(out, expected, expected.dtype)


# --- complex derivatives (the shared cases leave them out) ---------------------------------------

def _cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape) + 0.5


COMPLEX_FUNCS = {
    "real": (lax.real, "c"), "imag": (lax.imag, "c"), "conj": (lax.conj, "c"),
    "abs": (lax.abs, "c"), "exp": (lax.exp, "c"), "sin": (lax.sin, "c"),
    "sqrt": (lax.sqrt, "c"), "log": (lax.log, "c"), "mul": (lax.mul, "cc"),
    "add": (lax.add, "cc"), "div": (lax.div, "cc"), "complex": (lax.complex, "ff"),
    "convert_to_real": (lambda z: lax.convert_element_type(z, np.float64), "c"),
    "convert_to_complex": (lambda x: lax.convert_element_type(x, np.complex128), "f"),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_FUNCS))
@pytest.mark.parametrize("scalar_second", [False, True])
def test_complex_jvp_and_transpose(name, scalar_second):
    fn, kinds = COMPLEX_FUNCS[name]
    rng = np.random.default_rng(0)
    shapes = [(3, 2), () if scalar_second else (3, 2)][:len(kinds)]
    xs = [_cplx(rng, s) if k == "c" else rng.standard_normal(s) for k, s in zip(kinds, shapes)]
    ts = [_cplx(rng, s) if k == "c" else rng.standard_normal(s) for k, s in zip(kinds, shapes)]
    out, t_out = ft.jvp(fn, tuple(xs), tuple(ts))
    eps = 1e-6
    fd = (np.asarray(fn(*[x + eps * t for x, t in zip(xs, ts)])) -
          np.asarray(fn(*[x - eps * t for x, t in zip(xs, ts)]))) / (2 * eps)
    np.testing.assert_allclose(t_out, fd, rtol=1e-6, atol=1e-6)
    # Transposes pair with Re(sum(a * b)): Re<J v, u> = Re<v, J^T u>.
    _, f_jvp = ft.linearize(fn, *xs)
    u = _cplx(rng, np.shape(out)) if np.iscomplexobj(out) else rng.standard_normal(np.shape(out))
    cts = ft.vjp(fn, *xs)[1](u)
    lhs = np.real(np.sum(np.asarray(f_jvp(*ts)) * u))
    rhs = sum(np.real(np.sum(np.asarray(c) * t)) for c, t in zip(cts, ts))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


# --- documented conventions and errors ----------------------------------------------------------

def _d(f, x, *rest):
    return ft.jvp(lambda v: f(v, *rest), (x,), (np.ones_like(x),))[1]


def test_derivative_conventions():
    zero = np.array([0.0, 1.0])
    np.testing.assert_array_equal(_d(lax.abs, zero), [0.0, 1.0])
    np.testing.assert_array_equal(_d(lax.sqrt, zero)[0], np.inf)
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 1.0, 5.0])
    np.testing.assert_array_equal(_d(lax.max, x, y), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(_d(lax.min, x, y), [0.5, 0.0, 1.0])
    assert ft.grad(lambda v: lax.max(v, v))(2.0) == 1.0
    for f in (lax.sign, lax.floor, lax.ceil, lax.round, lax.stop_gradient):
        t = _d(f, x)
        assert isinstance(t, np.ndarray) and not np.any(t), f
    np.testing.assert_array_equal(_d(lambda b: lax.pow(lax.mul(0.0, b), b), np.array([2.0])), [0.0])
    np.testing.assert_array_equal(_d(lambda a: lax.pow(a, 0.0), np.array([0.0])), [0.0])
    assert ft.grad(lambda v: lax.clamp(0.0, v, 1.0))(0.5) == 1.0
    assert ft.grad(lambda v: lax.clamp(0.0, v, 1.0))(2.0) == 0.0
    assert ft.grad(lambda v: lax.mul(lax.stop_gradient(v), v))(3.0) == 3.0


def test_float_only_functions_reject_integers():
    for f in (lax.exp, lax.log, lax.sin, lax.sqrt, lax.tanh, lax.erf, lax.logistic):
        with pytest.raises(TypeError, match="floating-point"):
            f(np.arange(3))
        with pytest.raises(TypeError, match="floating-point"):
            ft.make_jaxpr(f)(np.arange(3))


def test_weak_scalars_and_shape_errors():
    x = np.ones(3, np.float32)
    assert lax.mul(x, 2.0).dtype == np.float32
    assert lax.gt(x, 1).dtype == np.bool_
    with pytest.raises(TypeError, match="lax.add"):
        ft.make_jaxpr(lax.add)(x, np.ones(3))
    with pytest.raises(TypeError, match="lax.add"):
        ft.make_jaxpr(lax.add)(x, np.ones(4, np.float32))
    with pytest.raises(TypeError, match="select_n"):
        ft.make_jaxpr(lambda w, a: lax.select_n(w, a, a))(np.array([1, 0], np.int64), x[:2])
    with pytest.raises(TypeError, match="integer_pow"):
        ft.make_jaxpr(lambda a: lax.integer_pow(a, -1))(np.arange(3))


def test_rounding_and_integer_division():
    v = np.array([0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994])
    np.testing.assert_array_equal(lax.round(v), [1, -1, 2, 3, -3, 0])
    np.testing.assert_array_equal(lax.round(v, lax.RoundingMethod.TO_NEAREST_EVEN),
                                  [0, -0, 2, 2, -2, 0])
    a, b = np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2])
    np.testing.assert_array_equal(lax.div(a, b), [3, -3, -3, 3])
    np.testing.assert_array_equal(lax.rem(a, b), [1, -1, 1, -1])


def test_every_elementwise_primitive_has_rules():
    for name in NAMES:
        prim = _prim(name)
        assert prim.jvp is not None and prim.batch is not None and prim.cost is not None, name
        assert prim.jac_structure, name
    for name in ("neg", "add", "sub", "mul", "div", "convert_element_type", "select_n",
                 "real", "imag", "conj", "complex"):
        assert _prim(name).transpose is not None, name
    assert set(E.__all__) <= set(dir(lax))
    declared = {p.name for p in vars(E).values() if isinstance(p, core.Primitive)}
    assert declared == set(NAMES)
