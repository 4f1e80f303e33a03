"""Every primitive's derivative and batching rules in float32, generated from the registry.

Rules written with a strongly typed float64 constant (`np.sqrt(np.pi)`, `np.float64(2)`) pass
every float64 test and break in float32: either lax refuses the mixed dtypes, or the constant
silently promotes the tangent to float64. So each float64 case of tests/primitive_cases/ is cast
to float32 (complex128 to complex64) and:
- the JVP and the VJP must run, keep float32, and agree with the float64 rule to float32
  accuracy;
- the dot-product test <u, J v> = <J^T u, v> must hold in float32;
- vmap must match a Python loop in float32.
"""
import numpy as np
import pytest
from hypothesis import given

import functrans as ft
from functrans.core.primitive import registry

from primitive_cases import Case
from test_primitive_rules import PRIMS, SETTINGS, STRATEGIES, _assert_same, _diff_argnums, \
    _with, apply

_NARROW = {np.dtype(np.float64): np.float32, np.dtype(np.complex128): np.complex64}


def _narrow(a):
    arr = np.asarray(a)
    target = _NARROW.get(arr.dtype)
    if target is None or isinstance(a, (bool, int, float, complex)):
        return a        # Python scalars stay weakly typed
    return arr.astype(target)


def _float32_case(case):
    """The case with float64 arguments as float32, or None if the primitive does not accept
    them (its params fix a float64 dtype, for instance)."""
    args = tuple(_narrow(a) for a in case.args)
    try:
        apply_out = apply(case.name, args, case.params)
    except (TypeError, ValueError):
        return None, None
    return Case(args, case.params, diff_argnums=case.diff_argnums,
                batch_argnums=case.batch_argnums, fd_ok=case.fd_ok), apply_out


def _tol(ref):
    scale = max(1.0, float(np.max(np.abs(ref)))) if np.size(ref) else 1.0
    return dict(rtol=5e-3, atol=5e-3 * scale)


def _check32(name, check):
    if name not in STRATEGIES:
        pytest.skip(f"no cases for {name}")

    @SETTINGS
    @given(STRATEGIES[name])
    def run(case):
        case.name = name
        c32, primal = _float32_case(case)
        if c32 is None:
            return
        with np.errstate(all="ignore"):
            ref = [np.asarray(o) for o in apply(name, case.args, case.params)]
        if not all(np.all(np.isfinite(np.asarray(p, np.complex128)))
                   for p in primal if np.asarray(p).dtype.kind in "fc"):
            return      # overflow in float32 (exp(100)): nothing to compare
        check(name, case, c32, ref)
    run()


def _diff32(case, c32):
    nums = _diff_argnums(case)
    return tuple(i for i in nums if np.asarray(c32.args[i]).dtype == np.float32)


@pytest.mark.parametrize("name", PRIMS)
def test_jvp_in_float32(name):
    def check(name, case, c32, ref):
        nums = _diff32(case, c32)
        if not nums or not case.fd_ok or registry[name].not_differentiable:
            return
        rng = np.random.default_rng(0)
        v64 = [rng.standard_normal(np.shape(case.args[i])) for i in nums]
        x64 = [np.asarray(case.args[i]) for i in nums]
        f64 = lambda *d: apply(name, _with(case.args, nums, d), case.params)  # noqa: E731
        f32 = lambda *d: apply(name, _with(c32.args, nums, d), c32.params)  # noqa: E731
        _, t64 = ft.jvp(f64, tuple(x64), tuple(v64))
        outs, t32 = ft.jvp(f32, tuple(np.asarray(c32.args[i]) for i in nums),
                           tuple(v.astype(np.float32) for v in v64))
        for o, t, want in zip(outs, t32, t64):
            o, t = np.asarray(o), np.asarray(t)
            if o.dtype.kind not in "fc":
                continue
            assert t.dtype == o.dtype, f"{name}: float32 JVP gives a {t.dtype} tangent for a " \
                                       f"{o.dtype} output"
            if np.all(np.isfinite(want)):
                np.testing.assert_allclose(t, want, err_msg=f"{name}: float32 JVP", **_tol(want))
    _check32(name, check)


@pytest.mark.parametrize("name", PRIMS)
def test_vjp_in_float32(name):
    def check(name, case, c32, ref):
        nums = _diff32(case, c32)
        if not nums or registry[name].not_differentiable:
            return
        rng = np.random.default_rng(1)
        x = [np.asarray(c32.args[i]) for i in nums]
        f = lambda *d: apply(name, _with(c32.args, nums, d), c32.params)  # noqa: E731
        v = [rng.standard_normal(a.shape).astype(np.float32) for a in x]
        outs, jv = ft.jvp(f, tuple(x), tuple(v))
        outs, vjp_fn = ft.vjp(f, *x)
        u = [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype)
             if np.asarray(o).dtype.kind == "f" else np.zeros(
                 np.shape(o), np.asarray(o).dtype if np.asarray(o).dtype.kind == "c" else ft.float0)
             for o in outs]
        jtu = vjp_fn(u)
        for g, xi in zip(jtu, x):
            assert np.asarray(g).dtype == xi.dtype, \
                f"{name}: float32 VJP gives a {np.asarray(g).dtype} cotangent for a {xi.dtype} input"
        lhs = sum(np.vdot(ui.astype(np.float64), np.asarray(ji, np.float64))
                  for ui, ji, o in zip(u, jv, outs) if np.asarray(o).dtype.kind == "f")
        rhs = sum(np.vdot(np.asarray(g, np.float64), vi.astype(np.float64))
                  for g, vi in zip(jtu, v))
        if np.isfinite(lhs) and np.isfinite(rhs):
            scale = 1.0 + sum(float(np.sum(np.abs(np.asarray(ji, np.float64))))
                              for ji, o in zip(jv, outs) if np.asarray(o).dtype.kind == "f") * 3
            np.testing.assert_allclose(lhs, rhs, rtol=1e-3, atol=1e-4 * scale,
                                       err_msg=f"{name}: float32 <u, Jv> != <J^T u, v>")
    _check32(name, check)


@pytest.mark.parametrize("name", PRIMS)
def test_vmap_in_float32(name):
    def check(name, case, c32, ref):
        if registry[name].not_batchable or not c32.args:
            return
        nums = c32.batch_argnums
        if nums is None:
            nums = tuple(range(len(c32.args)))
        size = 3
        members = []
        for k in range(size):
            member = list(c32.args)
            for i in nums:
                a = np.asarray(c32.args[i])
                member[i] = (a * (1 + 0.125 * k)).astype(a.dtype) if a.dtype.kind == "f" else a
            members.append(member)
        batched, in_axes = list(c32.args), [None] * len(c32.args)
        for i in nums:
            batched[i] = np.stack([np.asarray(m[i]) for m in members])
            in_axes[i] = 0
        f = lambda *a: apply(name, a, c32.params)  # noqa: E731
        try:
            want = [f(*m) for m in members]
        except (TypeError, ValueError):
            return      # a scaled member left the primitive's domain (an integer exponent)
        got = ft.vmap(f, in_axes=tuple(in_axes))(*batched)
        for o in range(len(got)):
            _assert_same(got[o], np.stack([np.asarray(w[o]) for w in want]),
                         what=f"{name}: float32 vmap vs loop")
    _check32(name, check)
