"""Every lowering keeps the shape rule's dtype: each primitive of the registry under jit, with its
floating operands cast to float16, float32, float64 and to the integer (int32, uint32) and
bool dtypes it accepts (those the interpreter accepts), compared with the interpreter: values, shape, dtype."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import functrans as ft
from functrans.core.primitive import registry

from primitive_cases import all_strategies

STRATEGIES = all_strategies()
SETTINGS = settings(max_examples=1, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
COVERED_ELSEWHERE = {"jit", "custom_jvp_call", "custom_vjp_call", "custom_lin", "checkpoint",
                     "remat_lin", "cond", "while_loop", "scan"}
PRIMS = sorted(n for n in registry if n not in COVERED_ELSEWHERE and n in STRATEGIES)
# int32 and uint32 rather than int64 alone: Numba widens narrow integers (int32 * 2 -> int64),
# the kind of mismatch this test exists to catch; each dtype costs a compile per primitive.
DTYPES = [np.float16, np.float32, np.float64, np.int32, np.uint32, np.bool_]
TOL = {np.dtype(np.float16): 4e-3, np.dtype(np.float32): 3e-6, np.dtype(np.float64): 1e-12}

pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")


def _cast(x, dtype):
    """A floating operand as `dtype`: small integers (so shifts, powers and products stay in
    range) or signs for bool; other operands (indices, keys) are kept."""
    if not isinstance(x, (np.ndarray, np.generic)) or np.asarray(x).dtype.kind != "f":
        return x
    x = np.asarray(x)
    d = np.dtype(dtype)
    if d.kind == "f":
        return x.astype(d)
    if d.kind == "b":
        return x > 0
    v = np.clip(np.round(x * 2), -4, 4)
    return (np.abs(v) if d.kind == "u" else v).astype(d)


def _apply(name, args, params):
    out = registry[name].bind(*args, **params)
    return list(out) if registry[name].multiple_results else [out]


@pytest.mark.parametrize("name", PRIMS)
def test_jit_keeps_dtypes(name):
    tried = []

    @SETTINGS
    @given(STRATEGIES[name])
    def run(case):
        for dtype in DTYPES:
            args = tuple(_cast(a, dtype) for a in case.args)
            try:
                with np.errstate(all="ignore"):
                    want = _apply(name, args, case.params)
                # jit traces: the shape rule must accept the dtype too (eager calls skip it)
                ft.make_jaxpr(lambda *a: _apply(name, a, case.params))(*args)
            except Exception:          # this dtype is not accepted: so may jit reject it
                continue
            tried.append(dtype)
            with np.errstate(all="ignore"):
                got = ft.jit(lambda *a: _apply(name, a, case.params))(*args)
            what = f"{name} on {np.dtype(dtype).name} operands, params {case.params}"
            assert len(got) == len(want), what
            for k, (g, w) in enumerate(zip(got, want)):
                g, w = np.asarray(g), np.asarray(w)
                assert g.shape == w.shape, f"{what}: output {k} shape {g.shape} != {w.shape}"
                assert g.dtype == w.dtype, f"{what}: output {k} dtype {g.dtype} != {w.dtype}"
                if w.dtype.kind in "fc":
                    tol = TOL.get(np.dtype(w.dtype.char.lower() if w.dtype.kind == "c"
                                           else w.dtype), 3e-6)
                    # NaN == NaN here: operands cast to small integers meet log(0), 0/0 and
                    # the like, where both sides must produce the same NaN or inf.
                    np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True,
                                               err_msg=what)
                else:
                    np.testing.assert_array_equal(g, w, err_msg=what)
    run()
    assert tried, f"{name}: no dtype was accepted by the interpreter"
