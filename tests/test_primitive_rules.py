"""Every primitive's rules, checked numerically, generated from the registry.

For each registered primitive, hypothesis draws cases from tests/primitive_cases/ and checks:
the impl against an independent numpy reference; the shape rule against the impl; the traced
program (type-checked) against eager evaluation; the JVP against central finite differences in
float64; reverse mode by the dot-product test <u, J v> = <J^T u, v>; vmap against a Python loop.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrans as ft
from functrans.core.aval import aval_of_value
from functrans.core.primitive import registry
from functrans.core.staging import eval_closed
from functrans.core.typecheck import check_program

from primitive_cases import all_strategies

STRATEGIES = all_strategies()
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
# Primitives exercised by other test modules (they need sub-programs or keys to build a case).
COVERED_ELSEWHERE = {"jit", "custom_jvp_call", "custom_vjp_call", "custom_lin", "checkpoint",
                     "remat_lin", "checkpoint_policy", "remat_saved", "cond",
                     "while_loop", "scan"}
PRIMS = sorted(n for n in registry if n not in COVERED_ELSEWHERE)


def apply(name, args, params):
    out = registry[name].bind(*args, **params)
    return list(out) if registry[name].multiple_results else [out]


def test_every_primitive_has_cases_and_rules():
    missing_cases = [n for n in PRIMS if n not in STRATEGIES]
    assert not missing_cases, f"primitives without test cases: {missing_cases}"
    for name, prim in registry.items():
        assert prim.jvp is not None or prim.not_differentiable, f"{name}: no JVP rule"
        assert prim.batch is not None or prim.not_batchable or not _has_inputs(name), \
            f"{name}: no batching rule"
        assert prim.jac_structure, f"{name}: no Jacobian structure"


def _has_inputs(name):
    return name not in ("iota",)


def _assert_same(got, want, rtol=1e-6, atol=1e-6, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if got.dtype.kind in "fc":
        tol = dict(rtol=rtol, atol=atol) if got.dtype.itemsize >= 8 else dict(rtol=2e-5,
                                                                                 atol=2e-5)
        np.testing.assert_allclose(got, want, equal_nan=True, err_msg=what, **tol)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _check(name, check):
    if name not in STRATEGIES:
        pytest.skip(f"no cases for {name} (reported by test_every_primitive_has_cases_and_rules)")

    @SETTINGS
    @given(STRATEGIES[name])
    def run(case):
        check(name, case)
    run()


@pytest.mark.parametrize("name", PRIMS)
def test_impl_matches_reference_and_shape_rule(name):
    def check(name, case):
        outs = apply(name, case.args, case.params)
        avals = registry[name].out_avals(*map(aval_of_value, case.args), **case.params)
        for o, a in zip(outs, avals):
            assert np.shape(o) == a.shape and np.asarray(o).dtype == a.dtype, \
                f"{name}: impl gives {np.asarray(o).dtype}{np.shape(o)}, shape rule {a}"
        if case.reference is not None:
            ref = case.reference(*case.args, **case.params)
            ref = list(ref) if registry[name].multiple_results else [ref]
            for o, r in zip(outs, ref):
                _assert_same(o, np.asarray(r).astype(np.asarray(o).dtype)
                             if np.asarray(r).dtype != np.asarray(o).dtype and
                             np.asarray(r).dtype.kind == np.asarray(o).dtype.kind else r,
                             what=f"{name} vs numpy reference")
    _check(name, check)


@pytest.mark.parametrize("name", PRIMS)
def test_traced_program_matches_eager(name):
    def check(name, case):
        f = lambda *a: apply(name, a, case.params)  # noqa: E731
        closed = ft.make_jaxpr(f)(*case.args)
        check_program(closed)
        assert any(e.primitive.name == name for e in closed.eqns) or not closed.eqns
        for got, want in zip(eval_closed(closed, *case.args), f(*case.args)):
            _assert_same(got, want, what=f"{name} traced vs eager")
    _check(name, check)


def _diff_argnums(case):
    nums = case.diff_argnums
    if nums is None:
        nums = tuple(i for i, a in enumerate(case.args) if np.asarray(a).dtype == np.float64)
    return tuple(i for i in nums if np.asarray(case.args[i]).dtype == np.float64)


def _with(args, nums, values):
    args = list(args)
    for i, v in zip(nums, values):
        args[i] = v
    return args


@pytest.mark.parametrize("name", PRIMS)
def test_jvp_matches_finite_differences(name):
    def check(name, case):
        nums = _diff_argnums(case)
        if not nums or not case.fd_ok or registry[name].not_differentiable:
            return
        rng = np.random.default_rng(0)
        x = [np.asarray(case.args[i], np.float64) for i in nums]
        v = [rng.standard_normal(a.shape) for a in x]
        f = lambda *d: apply(name, _with(case.args, nums, d), case.params)  # noqa: E731
        _, tangents = ft.jvp(f, tuple(x), tuple(v))
        eps = 1e-6
        plus = f(*[a + eps * t for a, t in zip(x, v)])
        minus = f(*[a - eps * t for a, t in zip(x, v)])
        for t, p, m in zip(tangents, plus, minus):
            if np.asarray(p).dtype.kind != "f":
                continue
            fd = (np.asarray(p) - np.asarray(m)) / (2 * eps)
            np.testing.assert_allclose(t, fd, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name}: jvp vs finite differences")
    _check(name, check)


@pytest.mark.parametrize("name", PRIMS)
def test_vjp_dot_product(name):
    def check(name, case):
        nums = _diff_argnums(case)
        if not nums or registry[name].not_differentiable:
            return
        rng = np.random.default_rng(1)
        x = [np.asarray(case.args[i], np.float64) for i in nums]
        f = lambda *d: apply(name, _with(case.args, nums, d), case.params)  # noqa: E731
        v = [rng.standard_normal(a.shape) for a in x]
        outs, jv = ft.jvp(f, tuple(x), tuple(v))
        outs, vjp_fn = ft.vjp(f, *x)
        u = [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype)
             if np.asarray(o).dtype.kind == "f"
             else np.zeros(np.shape(o), np.asarray(o).dtype if np.asarray(o).dtype.kind == "c"
                          else ft.float0) for o in outs]
        jtu = vjp_fn(u)
        lhs = sum(np.vdot(ui, ji) for ui, ji, o in zip(u, jv, outs)
                  if np.asarray(o).dtype.kind == "f")
        rhs = sum(np.vdot(g, vi) for g, vi in zip(jtu, v))
        exact = all(np.asarray(o).dtype != np.float32 for o in outs)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-9 if exact else 1e-5, atol=1e-9,
                                   err_msg=f"{name}: <u, Jv> != <J^T u, v>")
    _check(name, check)


@pytest.mark.parametrize("name", PRIMS)
def test_vmap_matches_loop(name):
    def check(name, case):
        if registry[name].not_batchable or not case.args:
            return
        rng = np.random.default_rng(2)
        nums = case.batch_argnums
        if nums is None:
            nums = tuple(range(len(case.args)))
        size = 3
        batched, in_axes = list(case.args), [None] * len(case.args)
        members = []
        for k in range(size):
            member = list(case.args)
            for i in nums:
                a = np.asarray(case.args[i])
                # Perturb floats per member so a wrong batch axis shows; keep ints/bools as is.
                member[i] = (a + 0.25 * k * rng.standard_normal(a.shape)).astype(a.dtype) \
                    if a.dtype.kind == "f" else a
            members.append(member)
        for j, i in enumerate(nums):
            a = np.asarray(case.args[i])
            axis = int(rng.integers(0, a.ndim + 1))
            batched[i] = np.stack([m[i] for m in members], axis=axis)
            in_axes[i] = axis if j % 2 == 0 or a.ndim == 0 else axis - a.ndim - 1
        f = lambda *a: apply(name, a, case.params)  # noqa: E731
        got = ft.vmap(f, in_axes=tuple(in_axes))(*batched)
        want = [f(*m) for m in members]
        for o in range(len(got)):
            _assert_same(got[o], np.stack([np.asarray(w[o]) for w in want]),
                         what=f"{name}: vmap vs loop (in_axes={in_axes})")
    _check(name, check)
