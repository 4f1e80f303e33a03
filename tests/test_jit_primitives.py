"""jit against the interpreter for every primitive, walking the registry with the hypothesis
cases of tests/primitive_cases/; and every primitive must declare a lowering."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import functrans as ft
from functrans.core.primitive import registry

from primitive_cases import all_strategies

STRATEGIES = all_strategies()
# Few examples per primitive: each new dtype/rank signature costs a Numba compile.
SETTINGS = settings(max_examples=3, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
COVERED_ELSEWHERE = {"jit", "custom_jvp_call", "custom_vjp_call", "custom_lin", "checkpoint",
                     "remat_lin", "checkpoint_policy", "remat_saved", "cond", "while_loop", "scan"}
PRIMS = sorted(n for n in registry if n not in COVERED_ELSEWHERE)


pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")


def test_every_primitive_has_a_lowering():
    missing = [name for name, prim in registry.items() if prim.lowering is None]
    assert not missing, f"primitives without a Numba lowering: {missing}"


def _apply(name, args, params):
    out = registry[name].bind(*args, **params)
    return list(out) if registry[name].multiple_results else [out]


def _same(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if got.dtype.kind in "fc":
        tol = 1e-9 if got.dtype.itemsize >= 8 and got.dtype.kind == "f" else 3e-5
        if got.dtype == np.float16:
            tol = 2e-3
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


@pytest.mark.parametrize("name", PRIMS)
def test_jit_matches_interpreter(name):
    if name not in STRATEGIES:
        pytest.skip(f"no cases for {name}")

    @SETTINGS
    @given(STRATEGIES[name])
    def run(case):
        want = _apply(name, case.args, case.params)
        got = ft.jit(lambda *a: _apply(name, a, case.params))(*case.args)
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{name} output {k} with params {case.params}")
    run()
