"""How compiled loops are compiled and called: kernels with their extents compiled in, any/all
conditions stopping at the first deciding element,
an operand passed twice as one parameter, and jit's first call compiling a program whose loops
would run long on numpy (functrans/backend/loop_runs.py). Each form equals the interpreter."""
import re

import numpy as np
import pytest

import functrans as ft
import functrans.lax as lax
import functrans.numpy as fnp
from functrans.backend import executables
from functrans.backend.loop_runs import numpy_equations
from functrans.config import config

from transform_checks import same_trees

pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")

rng = np.random.default_rng(11)


def check(f, *args, tol=1e-12):
    same_trees(ft.jit(f)(*args), f(*args), tol, f32_tol=2e-6)
    text = ft.jit(f).lower(*args).as_text()
    assert "a Python loop" not in text, text
    return text[text.find("# kernel"):]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_with_constant_extents(dtype):
    """A body of kernels over 12 elements, one returning a reduction: their loop extents are
    constants; values and gradients equal the interpreter's, and a zero-trip scan's."""
    w = rng.standard_normal((12, 12)).astype(dtype) * 0.3

    def f(x, w):
        def body(c, _):
            h, s = c
            u = fnp.tanh(h @ w) * 0.5 + h * 0.25
            v = fnp.tanh(u @ w) * 0.5 + u * 0.25
            return (v, s + fnp.sum(v * v)), fnp.max(u)
        (h, s), ys = lax.scan(body, (x, fnp.zeros((), x.dtype)), None, length=4)
        return fnp.sum(h) + s + fnp.sum(ys)
    x = rng.standard_normal(12).astype(dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    loop = check(f, x, w, tol=tol)
    assert re.search(r"n0, = 12,", loop) and not re.search(r"= y\d+\.shape", loop), loop
    check(ft.grad(f, argnums=(0, 1)), x, w, tol=tol)
    check(lambda x, w: lax.scan(lambda c, _: (c, c), x, None, length=0)[1], x, w)


@pytest.mark.parametrize("reduce, stop", [(fnp.any, "if a"), (fnp.all, "if not a")])
def test_any_all_condition_stops_early(reduce, stop):
    a = np.linspace(0.5, 50.0, 24)

    def newton(a, tol):
        def cond(s):
            bad = fnp.abs(s[0] * s[0] - a) > tol * a
            return reduce(bad) if reduce is fnp.any else ~reduce(~bad)
        return lax.while_loop(cond, lambda s: (0.5 * (s[0] + a / s[0]), s[1] + 1), (a, 0))
    for tol in (1e-10, 1e3):         # many iterations; zero iterations
        loop = check(newton, a, tol)
        assert re.search(rf"{stop}\d+(_\d+)?:\n\s+break", loop), loop
    # 2-D: the inner loop stops, the result is the same
    a2 = a.reshape(4, 6)
    check(newton, a2, 1e-10)


def test_any_with_other_outputs_scans_everything():
    """A kernel computing more than the boolean (here the array it tests too) never stops
    early: the other outputs need every element."""
    def f(x):
        def body(c):
            y = c * 0.5
            return y
        def cond(c):
            return fnp.any(c > 1.0)
        return lax.while_loop(cond, body, x)
    x = np.abs(rng.standard_normal(16)) * 10
    check(f, x)


def test_operand_passed_twice_is_one_parameter():
    a = rng.random(20) + 1.0

    def f(a):
        return lax.while_loop(lambda s: fnp.sum(s) < 100.0 * fnp.sum(a),
                              lambda s: s * 2.0 + a, a)
    text = check(f, a)
    assert re.search(r"def kernel\(a0\):", text), text


def test_numpy_equations_counts_loop_bodies():
    def scan_of(n):
        return ft.make_jaxpr(lambda x: lax.scan(lambda c, _: (c * 2.0 + 1.0, c), x, None,
                                                length=n))(1.0)
    small, big = numpy_equations(scan_of(10)), numpy_equations(scan_of(100_000))
    assert small is not None and small >= 10 and big is None
    w = ft.make_jaxpr(lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c + 1.0, x))(1.0)
    assert numpy_equations(w) == 3        # the loop, its condition and its body once
    assert numpy_equations(ft.make_jaxpr(lambda x: fnp.sin(x) * 2)(1.0)) == 2


def test_first_call_compiles_a_long_loop():
    """With the background compile on, a short loop's first call runs on numpy; a long one's
    compiles first: on numpy, its iterations would cost far more. A while_loop's trip count is
    unknown: it runs on numpy, within its runner's time budget (tests/test_numpy_run.py)."""
    old = config.jit_background_compile
    config.update("jit_background_compile", True)
    try:
        for n, compiled_first in ((3, False), (100_000, True)):
            f = ft.jit(lambda x: lax.fori_loop(0, n, lambda i, c: c * 0.5 + 1.0, x))
            out = f(np.ones(4))
            (entry,) = f._cache.values()
            assert (entry.executable is not None) == compiled_first
            np.testing.assert_allclose(out, f(np.ones(4)), rtol=1e-12)
            np.testing.assert_allclose(out, np.full(4, 2.0 - 2.0 ** -n), rtol=1e-12)
        w = ft.jit(lambda x: lax.while_loop(lambda c: c[0] < 50.0, lambda c: c * 2.0, x))
        np.testing.assert_allclose(w(np.ones(3)), np.full(3, 64.0))
        (entry,) = w._cache.values()
        assert entry.executable is None and entry.interpreted is not None
    finally:
        executables.wait_for_background_compiles()
        config.update("jit_background_compile", old)
