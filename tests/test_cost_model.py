"""The forward-vs-reverse cost model: calibration cache, estimates by execution, decisions per
signature, the residual budget and the reports. No timing is asserted (the machines are
shared): estimates are checked against fixed rates, and measurements only for their presence."""
import json
import os

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import cost, lax
from functrans.core.primitive import registry
from functrans.transforms import cost_estimates, cost_model, jacobian_api


def mlp(n, width, m, seed=0):
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((width, n)) / np.sqrt(n)
    w2 = rng.standard_normal((m, width)) / np.sqrt(width)
    return lambda x: w2 @ fnp.tanh(w1 @ x)


IMPL = 2e-6


@pytest.fixture
def fixed_rates(monkeypatch, tmp_path):
    """Deterministic rates (the dataclass defaults, jit included, every impl IMPL seconds)
    instead of measured ones, kept in a file of their own."""
    rates = cost.Rates(key="fixed for tests", have_jit=True,
                       impl_call={name: IMPL for name in registry})
    path = str(tmp_path / cost.FILE_NAME)
    monkeypatch.setattr(cost, "cache_path", lambda: path)
    monkeypatch.setattr(cost, "_cached", (path, rates))
    return rates


# --- calibration ---------------------------------------------------------------------------------

def test_calibration_measures_positive_rates(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNCTRANS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cost, "_cached", None)
    r = cost.calibrate(jit=False)
    for name in ("eager_eqn_fwd", "eager_eqn_rev", "eval_eqn", "gemm_flops", "gemm_bw",
                 "stream_bw", "dram_bw", "transc_elem", "reduce_bw", "copy_bw", "fault_byte"):
        assert getattr(r, name) > 0, name
    assert not r.have_jit and r.key == cost.machine_key()
    assert "per equation" in str(r)


def test_calibration_cache_written_reused_and_refreshed(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNCTRANS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cost, "_cached", None)
    calls = []

    def fake(r):                         # the measurements are replaced: only the cache logic
        calls.append(r)
        r.gemm_flops = 1e9 + len(calls)
    monkeypatch.setattr(cost, "_measure_numpy", fake)
    monkeypatch.setattr(cost, "_measure_eager", lambda r: None)
    monkeypatch.setattr(cost, "_measure_jit", lambda r: setattr(r, "have_jit", True))

    first = cost.rates()                                 # nothing on disk: measured, written
    path = tmp_path / cost.FILE_NAME
    assert len(calls) == 1 and path.exists()
    on_disk = json.loads(path.read_text())
    assert on_disk["gemm_flops"] == first.gemm_flops and on_disk["key"] == cost.machine_key()

    cost.forget()                                        # a new process: read, not measured
    again = cost.rates()
    assert len(calls) == 1 and again.gemm_flops == first.gemm_flops

    assert not again.have_jit                            # jit rates measured when first needed
    monkeypatch.setattr(cost, "_probes_ready", lambda: True)     # the probes' kernels on disk
    assert cost.rates(jit=True).have_jit and json.loads(path.read_text())["have_jit"]

    monkeypatch.setattr(cost, "__version__", "999.0")    # another library version: measured
    cost.forget()
    refreshed = cost.rates()
    assert len(calls) == 2 and refreshed.gemm_flops != first.gemm_flops
    assert "functrans 999.0" in json.loads(path.read_text())["key"]

    path.write_text("{not json")                         # a corrupt file: measured again
    cost.forget()
    cost.rates()
    assert len(calls) == 3

    cost.calibrate(jit=False)                            # calibrate() always measures
    assert len(calls) == 4


def test_jit_rates_are_provisional_until_the_probes_compile(tmp_path, monkeypatch):
    """Without the probes' kernels on disk, calibration compiles nothing: the jit rates are
    derived from the numpy ones while a thread compiles the probes; the first request after it
    finished measures them (from the kernels it compiled) and writes them."""
    monkeypatch.setenv("FUNCTRANS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cost, "_cached", None)
    monkeypatch.setattr(cost, "_probe_job", [None])
    monkeypatch.setattr(cost, "_measure_numpy", lambda r: setattr(r, "np_call", 1e-6))
    monkeypatch.setattr(cost, "_measure_eager", lambda r: None)
    measured = []
    monkeypatch.setattr(cost, "_measure_jit", lambda r: (
        measured.append(r), setattr(r, "have_jit", True), setattr(r, "jit_provisional", False)))
    started = []

    class Job:                               # stands for the compile thread
        def __init__(self):
            started.append(self)
            self.finished, self.error = False, None

        def done(self):
            return self.finished
    monkeypatch.setattr(cost, "_ProbeCompile", Job)
    monkeypatch.setattr(cost, "_probes_ready", lambda: False)

    r = cost.calibrate()
    assert r.jit_provisional and not r.have_jit and not measured and len(started) == 1
    assert r.jit_call == pytest.approx(12e-6) and "provisional" in str(r)
    assert cost.rates(jit=True) is r and not measured and len(started) == 1   # still compiling
    started[0].finished = True
    assert cost.rates(jit=True).have_jit and measured == [r] and len(started) == 1
    on_disk = json.loads((tmp_path / cost.FILE_NAME).read_text())
    assert on_disk["have_jit"] and not on_disk["jit_provisional"]
    cost.calibrate(wait=True)                # waits for (here: has) the kernels, measures
    assert len(measured) == 2 and len(started) == 1


def test_eager_calibration_and_its_cache_do_not_load_numba(tmp_path):
    """An eager-only user (jacobian(mode="auto") without jit) never pays Numba's import: the
    cache directory and the calibration key are found without it."""
    import pathlib
    import subprocess
    import sys
    code = ("import sys, functrans as ft; ft.cost.calibrate(jit=False); ft.cost.forget(); "
            "ft.cost.rates(); print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=pathlib.Path(__file__).resolve().parent.parent, check=True,
                         env={**os.environ, "FUNCTRANS_CACHE_DIR": str(tmp_path)})
    assert out.stdout.strip() == "False", out.stdout + out.stderr
    assert os.path.exists(tmp_path / cost.FILE_NAME)


def test_machine_key_names_versions_and_cpu():
    key = cost.machine_key()
    assert f"functrans {ft.__version__}" in key and "numpy" in key and "numba" in key


# --- cost kinds ------------------------------------------------------------------------------------

def test_every_primitive_has_a_known_cost_kind():
    kinds = {name: cost_estimates.cost_kind(p) for name, p in registry.items()}
    assert set(kinds.values()) <= set(cost_estimates.COST_KINDS)
    assert kinds["dot_general"] == "blas"
    assert kinds["tanh"] == "transcendental" and kinds["add"] == "elementwise"
    assert kinds["reduce_sum"] == "reduction" and kinds["reshape"] == "view"
    assert kinds["scan"] == kinds["cond"] == kinds["while_loop"] == "control_flow"
    assert kinds["gather"] == kinds["scatter_add"] == "gather_scatter"
    assert kinds["broadcast_in_dim"] == "copy"       # eagerly a fresh array


def test_control_flow_declares_the_programs_it_runs():
    w = np.eye(3) * 0.5
    scan = ft.make_jaxpr(lambda xs: lax.scan(lambda h, x: (w @ h + x, h), np.zeros(3), xs))(
        np.ones((7, 3))).eqns[-1]
    [(body, times, carries)] = scan.primitive.cost_programs(**scan.params)
    assert body is scan.params["body"] and times == 7 and carries == 1
    loop = ft.make_jaxpr(lambda x: lax.while_loop(lambda c: c[0] < 5.0,
                                                  lambda c: c * 2.0, x))(np.ones(2)).eqns[-1]
    (cond, t1, k1), (body, t2, k2) = loop.primitive.cost_programs(**loop.params)
    assert (t1, k1, t2, k2) == (None, 0, None, 1)       # trip count unknown until it runs
    branch = ft.make_jaxpr(lambda p, x: lax.cond(p, lambda v: fnp.sin(fnp.cos(v)),
                                                 lambda v: v, x))(True, 1.0).eqns[-1]
    [(taken, times, carries)] = branch.primitive.cost_programs(**branch.params)
    assert len(taken.eqns) == 2 and (times, carries) == (1, 0)


# --- estimates -------------------------------------------------------------------------------------

def test_estimates_differ_eager_and_jit(fixed_rates):
    f, x = mlp(6, 8, 5), np.linspace(0, 1, 6)
    eager = ft.choose_mode(f, x)
    jitted = ft.choose_mode(f, x, jit=True)
    assert eager.execution == "eager" and jitted.execution == "jit"
    for e, j in ((eager.forward, jitted.forward), (eager.reverse, jitted.reverse)):
        # the same program; eagerly each equation pays Python dispatch, compiled each step less
        assert e.flops == j.flops
        assert e.seconds > 5 * j.seconds
    # the eager estimate is the set-up plus one dispatch per equation plus the work
    fwd = eager.forward
    assert len(fwd.terms) == len(fwd.program.eqns) + 1
    expected = fixed_rates.eager_fixed_fwd + \
        (fixed_rates.eager_eqn_fwd + IMPL) * len(fwd.program.eqns)
    assert fwd.overhead_seconds == pytest.approx(expected)
    assert fwd.seconds == pytest.approx(fwd.overhead_seconds + fwd.work_seconds)
    # under jit: one call plus one dispatch per scheduled step (fewer steps than equations)
    steps = cost_estimates.jit_steps(jitted.forward.program)
    assert len(jitted.forward.terms) == len(steps) + 1 < len(fwd.terms)


def test_estimate_counts_the_batched_work(fixed_rates):
    """Forward mode over n tangents is one program whose products have n columns: its FLOPs
    grow with n, while its number of equations does not."""
    small = ft.choose_mode(mlp(10, 50, 2), np.ones(10), jit=True)
    large = ft.choose_mode(mlp(400, 50, 2), np.ones(400), jit=True)
    assert len(small.forward.program.eqns) == len(large.forward.program.eqns)
    assert large.forward.flops > 30 * small.forward.flops
    assert large.forward.seconds > large.reverse.seconds and large.mode == "rev"
    tall = ft.choose_mode(mlp(2, 50, 400), np.ones(2), jit=True)
    assert tall.mode == "fwd"


def test_gemm_terms_say_where_their_time_comes_from(fixed_rates):
    d = ft.choose_mode(mlp(300, 64, 3), np.ones(300), jit=True)
    text = d.explain()
    assert "forward mode, jit" in text and "reverse mode, jit" in text
    assert "GEMM" in text and "GFLOP/s" in text and "kernel[" in text
    gemms = [t for t in d.forward.terms if t.kind == "blas"]
    assert gemms and all(t.work > 0 and t.overhead == fixed_rates.jit_step for t in gemms)
    assert d.explain(mode="rev", top=3).count("\n") == 4      # title, header, three rows


def test_scan_is_costed_per_iteration(fixed_rates):
    w = np.eye(3) * 0.5

    def f(xs):
        return lax.scan(lambda h, x: (fnp.tanh(w @ h + x), None), np.zeros(3), xs)[0]
    short = ft.choose_mode(f, np.ones((5, 3)))
    long = ft.choose_mode(f, np.ones((50, 3)))
    loops = [t for t in long.reverse.terms if t.kind == "control_flow"]
    assert loops and "50 x body" in loops[0].source
    assert long.reverse.work_seconds > 5 * short.reverse.work_seconds
    # under jit the loop is costed as the backend will run it (one njit loop, or Python's)
    compiled = ft.choose_mode(f, np.ones((50, 3)), jit=True)
    loops = [t for t in compiled.reverse.terms if t.kind == "control_flow"]
    assert loops and "50 x body" in loops[0].source and "loop" in loops[0].source.split(",")[-1]
    scan_eqn = [e for e in compiled.reverse.program.eqns if e.primitive.name == "scan"][0]
    assert cost_estimates.compiled_loop(scan_eqn) in (True, False)


def test_reshape_of_a_strided_view_is_costed_as_a_copy(fixed_rates):
    # numpy reshapes a transposed array by copying it; a contiguous one stays a view
    x = np.ones((300, 200))
    strided = cost_estimates._jit_terms(fixed_rates,
                                        ft.make_jaxpr(lambda a: a.T.reshape(-1))(x))
    plain = cost_estimates._jit_terms(fixed_rates, ft.make_jaxpr(lambda a: a.reshape(-1))(x))
    copies = [t for t in strided if "copy" in t.source]
    assert len(copies) == 1 and copies[0].work == pytest.approx(
        2 * x.nbytes / cost_estimates._bandwidth(fixed_rates, 2 * x.nbytes,
                                                 fixed_rates.copy_bw))
    assert all(t.work == 0.0 for t in plain)


def test_jit_driver_reduction_pays_numpys_call(fixed_rates):
    terms = cost_estimates._jit_terms(fixed_rates,
                                      ft.make_jaxpr(lambda a: fnp.max(a))(np.ones(50)))
    reductions = [t for t in terms if "numpy's call" in t.source]
    assert len(reductions) == 1
    assert reductions[0].work == pytest.approx(
        fixed_rates.reduce_call + 400 / fixed_rates.reduce_bw + fixed_rates.reduce_row)


def test_compiled_loop_copies_strided_operands_and_results(fixed_rates):
    w = np.eye(16) * 0.5

    def f(xs):             # xs.T: the compiled loop takes a transposed (strided) operand
        return lax.scan(lambda h, x: (fnp.tanh(w @ h + x), h), np.zeros(16), xs.T)
    closed = ft.make_jaxpr(f)(np.ones((16, 40)))
    scan = [e for e in closed.eqns if e.primitive.name == "scan"][0]
    if not cost_estimates.compiled_loop(scan):
        pytest.skip("this loop runs as a Python loop here")
    [term] = [t for t in cost_estimates._jit_terms(fixed_rates, closed)
              if t.kind == "control_flow"]
    assert "copy 5.12e+03 B of strided operands" in term.source
    # per iteration: the body's steps plus copying the carry (16) and the stacked output (16)
    layout = {}
    body = cost_estimates._jit_terms(fixed_rates, scan.params["body"], in_loop=True,
                                     layout=layout)
    results = cost_estimates._loop_results(fixed_rates, layout, 1)
    assert results >= 2 * cost_estimates._loop_copy(fixed_rates, scan.params["body"].out_avals[0])
    per = sum(t.work - (fixed_rates.blas_call if t.kind == "blas" else 0.0) +
              fixed_rates.jit_loop_step * (0.5 if t.kind == "view" else 1.0) for t in body)
    moved = 2 * 40 * 16 * 8
    copy = moved / cost_estimates._bandwidth(fixed_rates, moved, fixed_rates.copy_bw)
    # and calling the njit loop from the driver costs loop_call
    assert term.work == pytest.approx(40 * (per + results) + copy + fixed_rates.loop_call)


def test_compiled_loop_gathers_a_transposed_operand(fixed_rates):
    """A product taking the carry transposed makes Numba gather it into a contiguous array
    every iteration: loop_gather per element, beside the allocation."""
    w = np.eye(4) * 0.5

    def f(h0):
        def body(c, _):
            y = lax.dot_general(c.reshape(8, 4, 1), w, (((1,), (0,)), ((), ())))
            return fnp.tanh(y.reshape(8, 4)), None
        return lax.scan(body, h0, None, length=5)[0]
    closed = ft.make_jaxpr(f)(np.ones((8, 4)))
    scan = [e for e in closed.eqns if e.primitive.name == "scan"][0]
    if not cost_estimates.compiled_loop(scan):
        pytest.skip("this loop runs as a Python loop here")
    body = scan.params["body"]
    [product] = [e for e in body.eqns if e.primitive.name == "dot_general"]
    copied, allocs = cost_estimates._loop_product_copies(fixed_rates, product, set())
    assert copied == pytest.approx(32 * fixed_rates.loop_gather)
    assert allocs == pytest.approx(2 * fixed_rates.loop_alloc)      # the gather, the result


def test_loop_allocations_pay_a_fixed_cost_and_faults_when_mapped(fixed_rates):
    from functrans.core.aval import ShapedArray
    alloc = cost_estimates._loop_alloc
    small, big = (ShapedArray(s, np.dtype(np.float64)) for s in ((100,), (5000, 1000)))
    assert alloc(fixed_rates, small) == fixed_rates.loop_alloc
    assert alloc(fixed_rates, big) == pytest.approx(
        fixed_rates.loop_alloc + 5000 * 1000 * 8 * fixed_rates.fault_byte)


def test_large_bases_and_arrays_pay_page_faults(fixed_rates):
    r = fixed_rates
    assert cost_estimates.basis_seconds(r, 100, np.float64)[0] == 0.0     # in the fixed part
    nbytes = 4000 * 4000 * 8                                               # above 32 MiB
    t, how = cost_estimates.basis_seconds(r, 4000, np.float64)
    large_rate = cost_estimates._bandwidth(r, 2 * nbytes)     # the large-array rate
    assert large_rate == min(r.dram_bw, r.stream_bw)
    assert t == pytest.approx(2 * nbytes / large_rate + 2 * nbytes * r.fault_byte)
    assert "4000x4000 identity" in how and "page faults" in how
    from functrans.core.aval import ShapedArray
    small, big = (ShapedArray(s, np.dtype(np.float64)) for s in ((1000, 1000), (5000, 1000)))
    assert cost_estimates._fresh(r, [small]) == 0.0
    assert cost_estimates._fresh(r, [small, big]) == pytest.approx(big.size * 8 * r.fault_byte)


def test_eager_estimate_includes_the_basis(fixed_rates):
    f = lambda x: fnp.sum(fnp.tanh(x))            # noqa: E731  R^n -> R
    x = np.linspace(0, 1, 2100)                    # a 2100 x 2100 basis: 35 MB
    d = ft.choose_mode(f, x)
    setup = d.forward.terms[0]
    assert setup.work == pytest.approx(
        cost_estimates.basis_seconds(fixed_rates, 2100, np.float64)[0]) and setup.work > 0
    assert d.reverse.terms[0].work == 0.0          # jacrev's basis: 1 x 1


def test_fit_rate_matches_the_model_to_the_measurement():
    r = cost.Rates()
    cost._fit_rate(r, "loop_alloc", 7e-6, lambda: 3 * r.loop_alloc + 1e-6)
    assert r.loop_alloc == pytest.approx(2e-6)
    cost._fit_rate(r, "loop_alloc", 0.5e-6, lambda: 3 * r.loop_alloc + 1e-6)
    assert r.loop_alloc == 0.0                   # never negative


# --- the decision ----------------------------------------------------------------------------------

def test_auto_decides_once_per_signature(fixed_rates, monkeypatch):
    calls = []
    real = cost_model.choose_mode

    def counting(*args, **kwargs):
        calls.append(kwargs.get("jit"))
        return real(*args, **kwargs)
    monkeypatch.setattr(jacobian_api, "choose_mode", counting)
    f = mlp(1000, 64, 2)                  # forward mode's products are 500x larger
    jac = ft.jacobian(f)
    x = np.linspace(0, 1, 1000)
    for _ in range(3):
        J = jac(x)
    assert calls == [False]
    np.testing.assert_allclose(J, ft.jacfwd(f)(x), rtol=1e-10, atol=1e-14)
    d = jac.last_decision
    assert d.mode == "rev" and "fwd" not in d.measured and d.measured["rev"] > 0
    assert d.ratio("rev") == pytest.approx(d.reverse.seconds / d.measured["rev"])
    jac(x.astype(np.float32))                               # another dtype: another decision
    assert calls == [False, False]
    jac(x + 1.0)                                            # same signature, new values
    assert calls == [False, False]
    compiled = ft.jit(jac)                                  # traced by jit: costed as compiled
    np.testing.assert_allclose(compiled(x), J, rtol=1e-10, atol=1e-14)
    compiled(x)
    assert calls == [False, False, True]
    assert jac.last_decision.execution == "jit"
    assert len(jac.decisions) == 3


def test_residual_budget_is_flagged(fixed_rates):
    def deep(x):
        for _ in range(6):
            x = fnp.sin(x)
        return fnp.sum(x)
    x = np.ones(500)
    roomy = ft.choose_mode(deep, x)
    assert roomy.reverse.residual_bytes >= 6 * 500 * 8 - 500 * 8 and not roomy.warnings
    assert roomy.forward.residual_bytes == 0
    tight = ft.choose_mode(deep, x, memory_budget=1000)
    assert tight.warnings and "checkpoint" in tight.warnings[0]
    assert "forward mode" in tight.warnings[0] and "warning:" in str(tight)
    # neither mode fits 1000 bytes: the faster one stays chosen, with the warning
    assert tight.mode == roomy.mode == "rev"
    # a budget the residuals exceed but forward mode's whole program fits: forward is chosen
    budget = roomy.reverse.residual_bytes - 1
    if roomy.forward.peak_bytes <= budget:
        assert ft.choose_mode(deep, x, memory_budget=budget).mode == "fwd"


def test_residual_budget_switches_to_forward(fixed_rates):
    """R^2 -> R^1 through a wide intermediate: reverse keeps the wide residuals, while forward
    mode's two tangents of the intermediate are about as large; with a budget between the two,
    forward mode is chosen and says why."""
    v = np.linspace(0, 1, 3000)

    def f(x):
        h = fnp.sin(x[0] * v) * fnp.cos(x[1] * v)
        h = fnp.tanh(h) * fnp.exp(-h)
        return fnp.sum(fnp.sin(h))
    x = np.array([0.3, 0.7])
    roomy = ft.choose_mode(f, x, memory_budget=1 << 40)
    res, peak = roomy.reverse.residual_bytes, roomy.forward.peak_bytes
    assert res > 0
    if peak < res:
        d = ft.choose_mode(f, x, memory_budget=(peak + res) // 2)
        assert d.mode == "fwd" and "memory budget" in d.reason and d.warnings


def test_default_memory_budget_env(monkeypatch):
    monkeypatch.setenv("FUNCTRANS_MEMORY_BUDGET", "12345")
    assert cost_model.default_memory_budget() == 12345
    monkeypatch.delenv("FUNCTRANS_MEMORY_BUDGET")
    assert cost_model.default_memory_budget() > 1 << 20


# --- reports ---------------------------------------------------------------------------------------

def test_compare_modes_reports_estimate_measurement_and_ratio(fixed_rates):
    f, x = mlp(30, 16, 3), np.linspace(0, 1, 30)
    d = ft.compare_modes(f, x, repeats=2)
    assert set(d.measured) == {"fwd", "rev"} and all(t > 0 for t in d.measured.values())
    for mode, e in (("fwd", d.forward), ("rev", d.reverse)):
        assert d.ratio(mode) == pytest.approx(e.seconds / d.measured[mode])
        assert e.seconds > 0 and e.peak_bytes > 0 and e.terms and e.program is not None
    assert d.forward.passes == 30 and d.reverse.passes == 3
    text = str(d)
    assert "R^30 -> R^3, eager" in text and "est/meas" in text and "measured:" in text
    assert f"{d.ratio('fwd'):.2f}" in text
    assert d.decision_seconds > 0
    compiled = ft.compare_modes(f, x, repeats=2, jit=True)
    assert compiled.execution == "jit" and "R^30 -> R^3, jit" in str(compiled)
    unmeasured = ft.compare_modes(f, x, measure=False)
    assert unmeasured.measured == {} and unmeasured.ratio("fwd") is None


def test_explain_shows_kinds_and_sources(fixed_rates):
    report = ft.explain(mlp(4, 3, 2))(np.ones(4))
    kinds = [s.kind for s in report.steps]
    assert "blas" in kinds and "transcendental" in kinds
    text = str(report)
    assert "GEMM" in text and "dense" in text
    assert all(s.seconds >= 0 and s.source for s in report.steps)


def test_pytree_and_multiple_arguments(fixed_rates):
    def f(p, x):
        return fnp.tanh(p["w"] @ x + p["b"])
    p = {"w": np.ones((3, 4)) * 0.1, "b": np.zeros(3)}
    x = np.ones(4)
    d = ft.choose_mode(f, p, x)
    assert d.n_inputs == 12 + 3 + 4 and d.n_outputs == 3 and d.mode == "rev"
    jac = ft.jacobian(f, argnums=(0, 1))
    J = jac(p, x)
    ref = ft.jacfwd(f, argnums=(0, 1))(p, x)
    np.testing.assert_allclose(J[0]["w"], ref[0]["w"], rtol=1e-12)
    np.testing.assert_allclose(J[1], ref[1], rtol=1e-12)
    assert jac.last_decision.n_inputs == 12 + 3 + 4


def test_mode_argument_is_checked():
    with pytest.raises(ValueError, match="mode must be 'auto', 'fwd' or 'rev'"):
        ft.jacobian(lambda x: x, mode="both")
    with pytest.raises(ValueError, match="execution must be"):
        cost_model.estimate_terms(ft.make_jaxpr(lambda x: x * 2)(1.0), execution="gpu")


def test_cache_file_lives_beside_the_kernel_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("FUNCTRANS_CACHE_DIR", str(tmp_path))
    from functrans.backend import default_cache_dir
    assert os.path.dirname(cost.cache_path()) == default_cache_dir() == str(tmp_path)


def test_near_ties_go_forward_eagerly_and_reverse_compiled(fixed_rates, monkeypatch):
    """Estimates within 5% cannot tell the modes apart: eagerly forward mode (no residuals),
    compiled reverse mode (measured faster at near-ties under jit); outside 5%, the faster."""
    seconds = {}
    real = cost_model._estimate

    def fixed(closed, passes, execution, mode, residual):
        e = real(closed, passes, execution, mode, residual)
        e.seconds = seconds[mode]
        return e
    monkeypatch.setattr(cost_model, "_estimate", fixed)
    f, x = (lambda v: fnp.sin(v) * 2.0), np.linspace(0, 1, 5)
    seconds.update(fwd=1.03e-5, rev=1.0e-5)
    assert ft.choose_mode(f, x).mode == "fwd"
    d = ft.choose_mode(f, x, jit=True)
    assert d.mode == "rev" and "within 5%" in d.reason
    seconds.update(fwd=1.0e-5, rev=1.1e-5)                  # 10% apart: the faster
    assert ft.choose_mode(f, x, jit=True).mode == "fwd"
    seconds.update(fwd=1.1e-5, rev=1.0e-5)
    assert ft.choose_mode(f, x).mode == "rev"


def test_numpy_pays_an_inner_loop_per_broadcast_run(fixed_rates):
    """Eagerly, an operand broadcast along an outer axis leaves numpy short inner loops: one
    pass per run of the trailing axes after the last broadcast one, np_row each."""
    def f(a, b):
        return lax.broadcast_in_dim(a, (50, 40, 2), (0, 2)) * b
    closed = ft.make_jaxpr(f)(np.ones((50, 2)), np.ones((50, 40, 2)))
    bcast, mul = closed.eqns
    assert cost_estimates._broadcast_passes(bcast) == 50 * 40          # runs of 2
    assert cost_estimates._broadcast_passes(mul) == 1                  # both whole
    column = ft.make_jaxpr(lambda a: lax.broadcast_in_dim(a, (40, 30), (0,)))(
        np.ones(40)).eqns[0]
    assert cost_estimates._broadcast_passes(column) == 40 * 30         # runs of 1
    rows = ft.make_jaxpr(lambda a: lax.broadcast_in_dim(a, (40, 30), (1,)))(
        np.ones(30)).eqns[0]
    assert cost_estimates._broadcast_passes(rows) == 40                # runs of 30
    t, how = cost_estimates._numpy_work(fixed_rates, bcast, "copy",
                                        cost_estimates.equation_cost(bcast), "eager")
    plain, _ = cost_estimates._stream(fixed_rates, 2 * 50 * 40 * 2 * 8)
    assert t == pytest.approx(plain + 2000 * fixed_rates.np_row) and "inner loops" in how
