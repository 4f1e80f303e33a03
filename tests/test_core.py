"""The IR, its printer and type checker, tracing, weak types and tracing errors."""
import threading

import numpy as np
import pytest

import functrans as ft
from functrans import lax
from functrans.core import dtypes
from functrans.core.aval import ShapedArray
from functrans.core.errors import (ConcretizationTypeError, TracerArrayConversionError,
                                   TracerBoolConversionError, TracerIntegerConversionError,
                                   UnexpectedTracerError)
from functrans.core.ir import Eqn, Literal, Program, Var, one_line
from functrans.core.staging import eval_closed
from functrans.core.typecheck import ProgramTypeError, check_program

f32 = np.float32


def test_printer_matches_jaxpr_style():
    def f(x, y):
        return lax.tanh(lax.mul(lax.add(x, y), 2.0))
    closed = ft.make_jaxpr(f)(np.ones(3, f32), np.ones(3, f32))
    assert str(closed) == (
        "{ lambda ; a:f32[3] b:f32[3]. let\n"
        "    c:f32[3] = add a b\n"
        "    d:f32[3] = mul c 2.0:f32[]\n"
        "    e:f32[3] = tanh d\n"
        "  in (e,) }")
    assert one_line(closed.program) == ("{ lambda ; a:f32[3] b:f32[3]. let c:f32[3] = add a b; "
                                        "d:f32[3] = mul c 2.0:f32[]; e:f32[3] = tanh d in (e,) }")
    check_program(closed)


def test_closed_over_arrays_become_constvars_and_scalars_literals():
    w = np.arange(3.0, dtype=f32)
    closed = ft.make_jaxpr(lambda x: lax.mul(lax.add(x, w), np.float32(3)))(np.ones(3, f32))
    assert len(closed.program.constvars) == 1 and closed.consts[0] is w
    assert str(closed).startswith("{ lambda a:f32[3] ; b:f32[3]. let")
    assert "3.0:f32[]" in str(closed)
    np.testing.assert_allclose(eval_closed(closed, np.ones(3, f32))[0], (1 + w) * 3)


def test_nested_trace_prints_one_program_of_the_derivative():
    f = lambda x: lax.mul(lax.sin(x), x)  # noqa: E731
    closed = ft.make_jaxpr(ft.grad(f))(1.0)
    check_program(closed)
    text = str(closed)
    assert "sin a" in text and "cos a" in text
    np.testing.assert_allclose(eval_closed(closed, 1.0)[0], np.cos(1.0) + np.sin(1.0))
    # A trace inside a trace: make_jaxpr of a function that itself calls make_jaxpr.
    def outer(x):
        inner = ft.make_jaxpr(lambda y: lax.exp(y))(x)
        assert len(inner.eqns) == 1
        return lax.neg(x)
    assert [e.primitive.name for e in ft.make_jaxpr(outer)(1.0).eqns] == ["neg"]


def test_sub_programs_in_params_print_nested():
    @ft.custom_jvp
    def g(x):
        return lax.sin(x)
    g.defjvp(lambda p, t: (g(*p), lax.mul(lax.cos(*p), *t)))
    text = str(ft.make_jaxpr(g)(1.0))
    assert "custom_jvp_call[fun=g jvp=g]" in text


def test_type_checker_rejects_bad_programs():
    a = Var(ShapedArray((3,), dtypes.float32))
    b = Var(ShapedArray((3,), dtypes.float32))
    add = ft.primitive_registry["add"]
    ok = Program((), (a,), (Eqn(add, (a, a), (b,), {}),), (b,))
    check_program(ok)
    with pytest.raises(ProgramTypeError, match="used before it is defined"):
        check_program(Program((), (), (Eqn(add, (a, a), (b,), {}),), (b,)))
    with pytest.raises(ProgramTypeError, match="defined twice"):
        check_program(Program((), (a, a), (), (a,)))
    wrong = Var(ShapedArray((4,), dtypes.float32))
    with pytest.raises(ProgramTypeError, match="shape rule gives f32"):
        check_program(Program((), (a,), (Eqn(add, (a, a), (wrong,), {}),), (wrong,)))
    with pytest.raises(ProgramTypeError, match="shape rule failed"):
        c = Var(ShapedArray((2,), dtypes.float32))
        check_program(Program((), (a, c), (Eqn(add, (a, c), (b,), {}),), (b,)))
    with pytest.raises(ProgramTypeError, match="not a scalar"):
        bad = Literal(np.zeros(2))
        bad.aval = ShapedArray((2,), dtypes.float64)
        check_program(Program((), (a,), (), (bad,)))


def test_weak_types_follow_jax_promotion():
    assert dtypes.result_type((dtypes.float32, False), (dtypes.float64, True)) == \
        (dtypes.float32, False)
    # JAX's lattice: an int array meeting a Python float gives a *weak* float64.
    assert dtypes.result_type((dtypes.int32, False), (dtypes.float64, True)) == \
        (dtypes.float64, True)
    assert dtypes.result_type((dtypes.int32, False), (dtypes.float32, False)) == \
        (dtypes.float32, False)
    assert dtypes.result_type((dtypes.int8, False), (dtypes.int64, True)) == (dtypes.int8, False)
    assert dtypes.result_type((dtypes.float64, True), (dtypes.int64, True)) == \
        (dtypes.float64, True)
    closed = ft.make_jaxpr(lambda x: lax.mul(x, 2.0))(np.ones(2, f32))
    assert closed.out_avals[0].dtype == f32
    # A Python scalar argument is traced as a weakly typed value.
    closed = ft.make_jaxpr(lambda x: x)(2.0)
    assert closed.in_avals[0].weak_type and closed.in_avals[0].dtype == np.float64


def test_static_argnums_and_pytrees():
    def f(x, n, d):
        for _ in range(n):               # Python control flow on a static value
            x = lax.mul(x, d["scale"])
        return {"out": x, "n": n}
    closed = ft.make_jaxpr(f, static_argnums=1)(np.ones(2), 3, {"scale": np.full(2, 2.0)})
    assert [e.primitive.name for e in closed.eqns] == ["mul"] * 3
    assert len(closed.in_avals) == 2


def test_eval_shape():
    out = ft.eval_shape(lambda x, y: {"s": lax.add(x, y), "t": (lax.exp(x),)},
                        ft.ShapeDtypeStruct((2, 3), np.float32), np.ones((2, 3), np.float32))
    assert out["s"] == ft.ShapeDtypeStruct((2, 3), np.float32)
    assert out["t"][0].shape == (2, 3)


def test_python_control_flow_on_traced_value_raises_with_origin_and_fix():
    def f(x):
        if lax.gt(x, 0.0):
            return x
        return lax.neg(x)
    with pytest.raises(TracerBoolConversionError) as e:
        ft.make_jaxpr(f)(1.0)
    msg = str(e.value)
    assert "`gt`" in msg and "test_core.py" in msg and "lax.cond" in msg
    # Under grad alone the value is concrete, so Python control flow works, as in JAX.
    assert ft.grad(f)(2.0) == 1.0 and ft.grad(f)(-2.0) == -1.0


def test_concretization_errors_name_the_argument():
    with pytest.raises(ConcretizationTypeError, match="argument 'x'"):
        ft.make_jaxpr(lambda x: float(x))(1.0)
    with pytest.raises(ConcretizationTypeError, match=r"\.item\(\)"):
        ft.make_jaxpr(lambda x: x.item())(1.0)
    with pytest.raises(TracerIntegerConversionError, match="shape"):
        ft.make_jaxpr(lambda n: list(range(n)))(3)
    with pytest.raises(TracerArrayConversionError, match="functrans.numpy"):
        ft.make_jaxpr(lambda x: np.asarray(x))(np.ones(2))


def test_in_place_assignment_points_to_at():
    def f(x):
        x[0] = 1.0
        return x
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set"):
        ft.make_jaxpr(f)(np.ones(3))


def test_leaked_tracer_is_detected():
    leaked = []

    def f(x):
        leaked.append(x)
        return x
    ft.make_jaxpr(f)(1.0)
    with pytest.raises(UnexpectedTracerError, match="leaked tracer"):
        lax.add(leaked[0], 1.0)
    ft.jvp(f, (1.0,), (1.0,))
    with pytest.raises(UnexpectedTracerError, match="already finished"):
        lax.exp(leaked[1])


def test_tracing_state_is_thread_local():
    barrier = threading.Barrier(2)
    results = {}

    def work(name, fn):
        def f(x):
            barrier.wait(timeout=10)       # both threads are inside a trace at once
            return fn(x)
        results[name] = str(ft.make_jaxpr(f)(np.ones(2)))

    threads = [threading.Thread(target=work, args=("sin", lax.sin)),
               threading.Thread(target=work, args=("exp", lax.exp))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "sin" in results["sin"] and "exp" not in results["sin"]
    assert "exp" in results["exp"] and "sin" not in results["exp"]


def test_eager_lax_runs_numpy_without_tracing():
    x = np.linspace(0.1, 1, 4, dtype=f32)
    out = lax.tanh(lax.mul(x, 2.0))
    assert isinstance(out, np.ndarray) and out.dtype == f32
    np.testing.assert_allclose(out, np.tanh(2 * x), rtol=1e-6)
