"""jacobian(mode="auto") near a tie: estimates within the model's error of each other are
settled by timing both modes once per signature; and the cost of a short innermost loop.
Timings are not asserted beyond which of two very different functions is faster."""
import time

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import cost
from functrans.core.primitive import registry
from functrans.transforms import cost_estimates, cost_model


@pytest.fixture
def fixed_rates(monkeypatch, tmp_path):
    rates = cost.Rates(key="fixed for tests", have_jit=True,
                       impl_call={name: 2e-6 for name in registry})
    path = str(tmp_path / cost.FILE_NAME)
    monkeypatch.setattr(cost, "cache_path", lambda: path)
    monkeypatch.setattr(cost, "_cached", (path, rates))
    return rates


def square(x):                       # R^n -> R^n: both modes run near-identical programs
    return fnp.sin(x) * x


def _busy(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_close_call_needs_close_and_cheap_estimates(fixed_rates):
    d = ft.choose_mode(square, np.linspace(0, 1, 6))
    lo, hi = sorted((d.forward.seconds, d.reverse.seconds))
    assert hi <= lo * cost_model.MEASURE_BAND and cost_model.close_call(d)
    d.reverse.seconds = d.forward.seconds * cost_model.MEASURE_BAND * 1.01
    assert not cost_model.close_call(d)                      # apart: the estimate decides
    d.reverse.seconds = d.forward.seconds = cost_model.MEASURE_MAX * 1.01
    assert not cost_model.close_call(d)                      # too costly to time
    d.forward.seconds = d.reverse.seconds = 1e-4
    d.reverse.residual_bytes = d.memory_budget + 1
    assert not cost_model.close_call(d)                      # reverse ruled out by memory


def test_settle_takes_the_mode_that_measured_faster(fixed_rates):
    d = ft.choose_mode(square, np.linspace(0, 1, 6))
    before = d.decision_seconds
    runs = {"fwd": lambda x: _busy(3e-4), "rev": lambda x: _busy(3e-5)}
    cost_model.settle_by_measurement(d, runs, (np.ones(6),))
    assert d.mode == "rev" and d.settled_by == "measured"
    assert "measured" in d.reason and "timed" in d.reason
    assert d.measured_cpu["fwd"] > 3 * d.measured_cpu["rev"]
    assert set(d.measured) == {"fwd", "rev"} and d.decision_seconds > before
    runs = {"fwd": lambda x: _busy(3e-5), "rev": lambda x: _busy(3e-4)}
    assert cost_model.settle_by_measurement(d, runs, (np.ones(6),)).mode == "fwd"


def test_settle_keeps_the_estimate_when_the_jacobians_cannot_run(fixed_rates):
    d = ft.choose_mode(square, np.linspace(0, 1, 6))
    mode = d.mode

    def broken(x):
        raise RuntimeError("cannot run here")
    cost_model.settle_by_measurement(d, {"fwd": broken, "rev": broken}, (np.ones(6),))
    assert d.mode == mode and d.settled_by == "estimate"
    assert "RuntimeError" in d.reason and "the estimate decides" in d.reason


def test_auto_times_both_modes_at_a_tie_once_per_signature(fixed_rates):
    x = np.linspace(0.1, 0.9, 6)
    jac = ft.jacobian(square)
    J = jac(x)
    np.testing.assert_allclose(J, np.diag(np.cos(x) * x + np.sin(x)), rtol=1e-12)
    d = jac.last_decision
    assert d.settled_by == "measured" and set(d.measured_cpu) == {"fwd", "rev"}
    jac(x + 1.0)                                             # same signature: same decision
    assert jac.last_decision is d and len(jac.decisions) == 1
    untimed = ft.jacobian(square, measure_ties=False)
    untimed(x)
    assert untimed.last_decision.settled_by == "estimate"
    assert not untimed.last_decision.measured_cpu


def test_auto_under_jit_times_the_compiled_modes_on_a_thread(fixed_rates):
    x = np.linspace(0.1, 0.9, 6)
    jac = ft.jacobian(square)
    J = ft.jit(jac)(x)                 # decided while jit traces: the timing runs compiled
    np.testing.assert_allclose(J, np.diag(np.cos(x) * x + np.sin(x)), rtol=1e-12)
    d = jac.last_decision
    assert d.execution == "jit" and d.settled_by == "measured"
    assert all(t > 0 for t in d.measured_cpu.values())


def test_auto_with_a_closure_over_a_traced_value_falls_back_to_the_estimate(fixed_rates):
    def outer(s, x):
        return ft.jacobian(lambda y: fnp.sin(y) * s)(x)   # s is traced by jit: not runnable
    x = np.linspace(0.1, 0.9, 4)
    J = ft.jit(outer)(2.0, x)
    np.testing.assert_allclose(J, np.diag(2.0 * np.cos(x)), rtol=1e-12)
    seen = []

    def recording(s, x):
        jac = ft.jacobian(lambda y: fnp.sin(y) * s)
        seen.append(jac)
        return jac(x)
    ft.make_jaxpr(recording)(2.0, x)
    d = seen[0].last_decision
    assert d.settled_by == "estimate" and not d.measured_cpu


def test_short_innermost_loops_cost_per_access(fixed_rates):
    r = fixed_rates
    # rows of 2 with 3 arrays: 2 x 3 scalar accesses per pass
    assert cost_estimates._short_rows(r, 1000, 2, 3) == pytest.approx(500 * 2 * 3 *
                                                                       r.fused_access)
    # a row long enough to vectorize pays its start once per pass: the probe's pass of 2
    long = cost_estimates._short_rows(r, 1000, 500, 3)
    assert long == pytest.approx(2 * cost_estimates.PROBE_PASS * r.fused_access)
    # the probe itself (rows of 2, one array read, one written) is PROBE_PASS per pass
    assert cost_estimates._short_rows(r, 1000, 2, 2) == pytest.approx(
        500 * cost_estimates.PROBE_PASS * r.fused_access)

    def rows_of(inner):
        return lambda x: fnp.sum(fnp.sin(x.reshape(-1, inner)) * 2.0, axis=1)
    short = ft.choose_mode(rows_of(2), np.ones(2000), jit=True)
    wide = ft.choose_mode(rows_of(500), np.ones(2000), jit=True)
    assert "rows of 2" in short.explain(mode="rev")
    # the same elements in rows of 2 cost more than in rows of 500
    k_short = max(t.work for t in short.reverse.terms if t.kind == "fused")
    k_wide = max(t.work for t in wide.reverse.terms if t.kind == "fused")
    assert k_short > k_wide
