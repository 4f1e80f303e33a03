"""functrans.debug (print, callback, breakpoint) and the debug_nans / debug_infs settings,
written from the descriptions in JAX's debugging documentation."""
import io

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax


@pytest.fixture
def nans_on():
    ft.config.update("debug_nans", True)
    yield
    ft.config.update("debug_nans", False)
    ft.config.update("debug_infs", False)


def _f(x):
    ft.debug.print("x = {x}", x=x)
    y = fnp.sin(x) * 2.0
    ft.debug.print("y = {}", y)
    return fnp.sum(y)


X = np.array([0.5, 2.0])


def _lines(capsys):
    return capsys.readouterr().out.strip().splitlines()


def test_print_eager_and_jit_show_actual_values_in_order(capsys):
    _f(X)
    eager = _lines(capsys)
    assert eager == [f"x = {X}", f"y = {np.sin(X) * 2}"]
    jf = ft.jit(_f)
    jf(X)
    assert _lines(capsys) == eager
    jf(X + 1)                         # compiled once, prints the new values each call
    assert _lines(capsys) == [f"x = {X + 1}", f"y = {np.sin(X + 1) * 2}"]


def test_print_under_vmap_prints_each_member(capsys):
    xs = np.stack([X, 2 * X, 3 * X])
    for fn in (ft.vmap(_f), ft.jit(ft.vmap(_f))):
        fn(xs)
        assert _lines(capsys) == [f"x = {x}" for x in xs] + [f"y = {np.sin(x) * 2}" for x in xs]


def test_print_under_grad_shows_primal_values(capsys):
    for fn in (ft.grad(_f), ft.jit(ft.grad(_f))):
        g = fn(X)
        np.testing.assert_allclose(g, 2 * np.cos(X))
        assert _lines(capsys) == [f"x = {X}", f"y = {np.sin(X) * 2}"]
    # jvp and jacfwd: the primal values once, not the tangents.
    ft.jvp(_f, (X,), (np.ones(2),))
    assert _lines(capsys) == [f"x = {X}", f"y = {np.sin(X) * 2}"]


def test_print_inside_loops_every_iteration(capsys):
    def body(i, c):
        ft.debug.print("i={} c={}", i, c)
        return c * 2.0

    want = [f"i={i} c={float(2 ** i)}" for i in range(3)]
    assert lax.fori_loop(0, 3, body, 1.0) == 8.0
    assert _lines(capsys) == want
    assert ft.jit(lambda n: lax.fori_loop(0, n, body, 1.0), static_argnums=0)(3) == 8.0
    assert _lines(capsys) == want
    assert ft.jit(lambda n: lax.fori_loop(0, n, body, 1.0))(3) == 8.0      # a while loop
    assert _lines(capsys) == want

    def scan_body(c, x):
        ft.debug.print("x={}", x)
        return c + x, c
    total, _ = ft.jit(lambda xs: lax.scan(scan_body, 0.0, xs))(np.array([1.0, 2.0]))
    assert total == 3.0 and _lines(capsys) == ["x=1.0", "x=2.0"]


def test_print_of_an_unused_value_is_not_dropped_and_is_staged(capsys):
    def f(x):
        ft.debug.print("hidden {}", x * 3.0)     # its input is otherwise unused
        return x

    ft.jit(f)(np.float64(2.0))
    assert _lines(capsys) == ["hidden 6.0"]
    text = str(ft.make_jaxpr(f)(1.0))
    assert "debug_callback" in text and "= debug_callback" not in text


def test_callback_receives_pytrees_of_numpy_values():
    seen = []
    ft.jit(lambda d: ft.debug.callback(lambda t: seen.append(t), d))({"a": X, "b": (1.0,)})
    assert len(seen) == 1 and isinstance(seen[0]["a"], np.ndarray)
    np.testing.assert_array_equal(seen[0]["a"], X)
    assert float(seen[0]["b"][0]) == 1.0


def test_breakpoint_opens_pdb_with_the_actual_locals():
    out = io.StringIO()

    def f(x):
        y = x * 2.0
        ft.debug.breakpoint(stdin=io.StringIO("p y\nc\n"), stdout=out)
        return y

    ft.jit(f)(np.array([1.0, 2.5]))
    text = out.getvalue()
    assert "functrans.debug.breakpoint at" in text and "array([2., 5.])" in text


# --- debug_nans ------------------------------------------------------------------------------

def _nan_at_log(x):
    y = fnp.sin(x)
    z = fnp.log(y - 2.0)                 # line with the first NaN
    return fnp.sum(z)


_LOG_LINE = _nan_at_log.__code__.co_firstlineno + 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_debug_nans_eager_names_the_function_and_line(nans_on):
    with pytest.raises(FloatingPointError, match=rf"`fnp.log` at .*test_debug.py:{_LOG_LINE}"):
        _nan_at_log(np.array([1.0]))
    with pytest.raises(FloatingPointError, match=r"nan\) encountered in `log`"):
        lax.log(np.array([-1.0]))
    fnp.log(np.array([1.0]))                             # no NaN: no error


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_debug_nans_under_jit_reruns_op_by_op(nans_on):
    with pytest.raises(FloatingPointError, match=rf"test_debug.py:{_LOG_LINE}"):
        ft.jit(_nan_at_log)(np.array([1.0]))
    # Differentiation: the primitive that produced the NaN is named.
    with pytest.raises(FloatingPointError, match=rf"`log` at .*test_debug.py:{_LOG_LINE}"):
        ft.grad(_nan_at_log)(np.array([1.0]))
    with pytest.raises(FloatingPointError, match="`log`"):
        ft.grad(ft.jit(_nan_at_log))(np.array([1.0]))
    np.testing.assert_allclose(ft.jit(fnp.sin)(np.array([1.0])), np.sin([1.0]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_debug_nans_off_returns_nan_and_infs_setting():
    assert np.isnan(_nan_at_log(np.array([1.0])))
    assert np.isnan(ft.jit(_nan_at_log)(np.array([1.0])))
    ft.config.update("jax_debug_infs", True)
    try:
        assert ft.config.jax_debug_infs and ft.config.read("debug_infs")
        with pytest.raises(FloatingPointError, match=r"\(inf\) encountered in `fnp.true_divide`"):
            fnp.true_divide(np.array([1.0]), 0.0)
    finally:
        ft.config.update("debug_infs", False)
    with ft.debug_nans(True):
        with pytest.raises(FloatingPointError):
            fnp.log(np.array([-1.0]))
    assert not ft.config.debug_nans


def test_config_rejects_unknown_settings_and_x64_off():
    with pytest.raises(AttributeError, match="unknown setting"):
        ft.config.update("debug_nan", True)
    with pytest.raises(NotImplementedError, match="enable_x64"):
        ft.config.update("jax_enable_x64", False)
    ft.config.update("jax_enable_x64", True)
