"""Programs run on numpy without Numba (functrans/backend/numpy_run.py): what jit's calls run
while the kernels compile in the background. Every loop form, and the forms transforms produce
(JVP loops, transposed scans, batched while_loops), must give the interpreter's values, with
the dtypes and types compiled code returns."""
import numpy as np
import pytest

import functrans as ft
import functrans.lax as lax
import functrans.numpy as fnp
from functrans.backend import executables
from functrans.backend.numpy_run import closed_runner
from functrans.config import config

from transform_checks import same_trees

rng = np.random.default_rng(5)


def check(f, *args, tol=1e-12):
    """f's program run by executables.Interpreted (jit's calls before compiled code) equals the
    interpreter, and its outputs have the types and dtypes of the compiled program's."""
    leaves, _ = ft.tree_util.tree_flatten(args)
    closed = ft.make_jaxpr(f)(*args)
    got = executables.Interpreted(closed)(*leaves)
    compiled = executables.executable_for(closed)(*leaves)
    assert [type(g) for g in got] == [type(c) for c in compiled]
    same_trees(got, list(compiled), tol, f32_tol=2e-6)
    want = f(*args)
    got = ft.tree_util.tree_unflatten(ft.tree_util.tree_structure(want), got)
    same_trees(got, want, tol, f32_tol=2e-6)
    return got


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_forms(dtype, reverse):
    w = (rng.standard_normal((4, 4)) * 0.4).astype(dtype)
    xs = rng.standard_normal((6, 4)).astype(dtype)

    def f(h0, xs):
        def body(c, x):
            h, k = c
            h = fnp.tanh(h @ w + x)
            return (h, k + 1), fnp.sum(h)
        (h, k), ys = lax.scan(body, (h0, 0), xs, reverse=reverse)
        return h, k, ys
    check(f, rng.standard_normal(4).astype(dtype), xs)
    check(lambda h0: lax.scan(lambda c, _: (c * 0.5, c), h0, None, length=0), xs[0])
    check(lambda h0: lax.scan(lambda c, _: (c * 0.5, c[0]), h0, None, length=5)[1], xs[0])


def test_gradient_jvp_and_vmap_of_a_scan():
    """The forms transforms produce: the JVP loop, the residual-stacking loop and the
    transposed (reverse) scan of grad, and a batched scan."""
    w = rng.standard_normal((3, 3)) * 0.5

    def loss(h0, xs):
        h, ys = lax.scan(lambda h, x: (fnp.sin(h @ w) + x, h[0] * x[1]), h0, xs)
        return fnp.sum(h ** 2) + fnp.sum(ys)
    h0, xs = rng.standard_normal(3), rng.standard_normal((5, 3))
    check(ft.grad(loss, argnums=(0, 1)), h0, xs)
    check(lambda h, t: ft.jvp(lambda h: loss(h, xs), (h,), (t,)), h0, np.ones(3))
    check(ft.vmap(loss, in_axes=(0, None)), rng.standard_normal((4, 3)), xs)


def test_while_loops_fori_loops_and_conds():
    a = np.abs(rng.standard_normal(6)) + 0.5

    def newton(a):
        def cond(s):
            x, i = s
            return (fnp.max(fnp.abs(x * x - a)) > 1e-12) & (i < 50)
        x, i = lax.while_loop(cond, lambda s: ((s[0] + a / s[0]) * 0.5, s[1] + 1), (a, 0))
        return x, i
    x, i = check(newton, a)
    np.testing.assert_allclose(x, np.sqrt(a), rtol=1e-12)
    # a batched predicate: each example stops at its own count
    check(ft.vmap(lambda n: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2.0),
                                           (0, 1.0))), np.array([0, 3, 5]))
    check(lambda x: lax.fori_loop(0, 7, lambda i, c: c * 0.9 + i, x), np.ones(3))
    check(lambda x: lax.fori_loop(0, 0, lambda i, c: c * 0.9 + i, x), np.ones(3))
    branches = [lambda x: x * 2.0, lambda x: fnp.sin(x), lambda x: x - 1.0]
    for k in (-1, 0, 1, 2, 7):
        check(lambda x: lax.switch(k, branches, x), np.linspace(0, 1, 4))
    check(lambda p, x: lax.cond(p, lambda x: x + 1, lambda x: x * 3, x), True, np.int32(4))


def test_nested_loops_jit_in_bodies_and_numpy_path_primitives():
    """A scan in a fori_loop, a jitted function called in a body, and a body calling a
    primitive jit runs through numpy (sort, cumsum)."""
    inner = ft.jit(lambda v: fnp.cumsum(fnp.sort(v)) * 0.1)

    def f(x):
        def outer(i, c):
            c, _ = lax.scan(lambda c, _: (inner(c) + c * 0.5, None), c, None, length=3)
            return c
        return lax.fori_loop(0, 4, outer, x)
    check(f, rng.standard_normal(5))
    check(ft.grad(lambda x: fnp.sum(f(x) ** 2)), rng.standard_normal(5))


def test_the_runner_is_cached_and_shows_its_source():
    closed = ft.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(np.ones(3))
    run = closed_runner(closed)
    assert closed_runner(closed) is run
    assert "def run(" in run.source
    np.testing.assert_allclose(run(np.ones(3))[0], np.sin(1.0) * 2.0)


def test_calls_run_on_numpy_until_the_worker_has_compiled(fresh_jit_cache_dir):
    """With the background compile, the first calls of a loop run on numpy while a worker
    process compiles it; then compiled code runs. A later process (here: the in-memory
    executables dropped) finds the program compiled before and compiles on its first call,
    loading the kernels from disk."""
    old = config.jit_background_compile
    config.update("jit_background_compile", True)
    try:
        def train(w, x):
            return lax.fori_loop(0, 50, lambda i, w: w - 0.01 * x.T @ (x @ w - 1.0), w)
        w, x = rng.standard_normal((4, 2)), rng.standard_normal((8, 4))
        want = train(w, x)
        f = ft.jit(train)
        first, second = f(w, x), f(w, x)
        (entry,) = f._cache.values()
        assert entry.background is not None and entry.background.offloaded
        entry.background.wait()
        assert entry.background.error is None
        third = f(w, x)
        assert entry.executable is not None and entry.interpreted is None
        for got in (first, second, third):
            np.testing.assert_allclose(got, want, rtol=1e-12)
        executables.clear()
        g = ft.jit(train)
        np.testing.assert_allclose(g(w, x), want, rtol=1e-12)
        (entry,) = g._cache.values()
        assert entry.background is None and entry.executable is not None
    finally:
        executables.wait_for_background_compiles()
        config.update("jit_background_compile", old)


def test_loops_over_their_time_budget_finish_compiled(monkeypatch):
    """A while_loop running long on numpy goes on compiled from the carry it reached; a scan
    over the budget runs compiled from its start. Later runs of the same loop run compiled at
    once. Values equal the interpreter's."""
    from functrans.backend import numpy_run
    monkeypatch.setattr(numpy_run, "LOOP_BUDGET_SECONDS", 0.02)
    compiles = []
    compile_loop = numpy_run.LoopBudget.compile
    monkeypatch.setattr(numpy_run.LoopBudget, "compile",
                        lambda self, avals: compiles.append(self.prim.name) or
                        compile_loop(self, avals))

    def count(x):
        return lax.while_loop(lambda c: c[0] < 20_000, lambda c: (c[0] + 1, c[1] * 0.9999 + 1.0),
                              (0, x))
    closed = ft.make_jaxpr(count)(1.0)
    run = executables.Interpreted(closed)
    want = count(1.0)
    for _ in range(2):
        got = run(1.0)
        assert int(got[0]) == 20_000
        np.testing.assert_allclose(got[1], want[1], rtol=1e-10)
    assert compiles == ["while_loop"]

    def heavy(x):
        return lax.scan(lambda c, _: (fnp.tanh(c @ c.T) * 0.5, fnp.sum(c)), x, None,
                        length=3000)
    x = rng.standard_normal((60, 60)) * 0.1
    closed = ft.make_jaxpr(heavy)(x)
    run = executables.Interpreted(closed)
    want = heavy(x)
    for _ in range(2):
        got = run(x)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)
    assert compiles == ["while_loop", "scan"]


def test_a_dead_worker_falls_back_to_compiling_on_the_thread(fresh_jit_cache_dir, monkeypatch):
    """A worker process that dies: the compile it was asked for runs on the thread instead, and
    later compiles too; the values are the same."""
    from functrans.backend import compile_worker
    monkeypatch.setitem(compile_worker._state, "broken", False)
    monkeypatch.setitem(compile_worker._state, "process", None)
    old = config.jit_background_compile
    config.update("jit_background_compile", True)
    try:
        compile_worker.prestart()
        proc = compile_worker._state["process"]
        proc.kill()
        proc.wait()
        f = ft.jit(lambda x: lax.fori_loop(0, 5, lambda i, c: fnp.cos(c) + 0.25 * i, x))
        x = rng.standard_normal(3)
        first = f(x)
        executables.wait_for_background_compiles()
        (entry,) = f._cache.values()
        assert entry.background.error is None
        assert compile_worker._state["broken"]
        np.testing.assert_allclose(f(x), first, rtol=1e-12)
        assert entry.executable is not None
    finally:
        executables.wait_for_background_compiles()
        config.update("jit_background_compile", old)
        proc = compile_worker._state["process"]
        if proc is not None:
            proc.kill()


# --- every primitive, from the registry -----------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402

from functrans.core.primitive import registry  # noqa: E402
from primitive_cases import all_strategies  # noqa: E402

STRATEGIES = all_strategies()
SUB_PROGRAMS = {"jit", "custom_jvp_call", "custom_vjp_call", "custom_lin", "checkpoint",
                "remat_lin", "checkpoint_policy", "remat_saved", "cond", "while_loop", "scan"}


def _apply(name, args, params):
    out = registry[name].bind(*args, **params)
    return list(out) if registry[name].multiple_results else [out]


@pytest.mark.parametrize("name", sorted(n for n in registry if n not in SUB_PROGRAMS))
def test_every_primitive_on_numpy_matches_the_interpreter(name):
    """Each primitive's unchecked impl in the generated function (inside one errstate) gives
    the interpreter's values and dtypes. No Numba compile: many cases are cheap."""
    if name not in STRATEGIES:
        pytest.skip(f"no cases for {name}")

    @settings(max_examples=8, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(STRATEGIES[name])
    def run(case):
        want = _apply(name, case.args, case.params)
        closed = ft.make_jaxpr(lambda *a: _apply(name, a, case.params))(*case.args)
        got = executables.Interpreted(closed)(*ft.tree_util.tree_leaves(case.args))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            g, w = np.asarray(g), np.asarray(w)
            assert g.shape == w.shape and g.dtype == w.dtype, (name, g.dtype, w.dtype)
            if w.dtype.kind in "fc":
                np.testing.assert_allclose(g, w, rtol=1e-12, atol=0, equal_nan=True)
            else:
                np.testing.assert_array_equal(g, w)
    run()
