"""What users get when numpy habits meet traced values: each error's type and message."""
import numpy as np
import pytest

import functrans.numpy as fnp
from functrans.core import errors
from functrans.numpy.indexing import NonConcreteBooleanIndexError
from test_numpy_harness import checked_jaxpr

X = np.array([1.0, -2.0, 3.0])


def jaxpr(f, *args):
    return checked_jaxpr(f, *args)


def test_python_if_on_a_traced_comparison():
    def f(x):
        if x[0] > 0:
            return x
        return -x
    with pytest.raises(errors.TracerBoolConversionError, match="boolean conversion") as info:
        jaxpr(f, X)
    assert "lax.cond" in str(info.value) and "fnp.where" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_float_and_item_of_traced_values():
    with pytest.raises(errors.ConcretizationTypeError, match="float\\(\\) conversion"):
        jaxpr(lambda x: float(fnp.sum(x)), X)
    with pytest.raises(errors.ConcretizationTypeError, match="item"):
        jaxpr(lambda x: x.sum().item(), X)
    with pytest.raises(errors.TracerIntegerConversionError, match="int\\(\\)"):
        jaxpr(lambda x: int(x[0]), X)


@pytest.mark.parametrize("make", [
    lambda n: fnp.zeros(n), lambda n: fnp.ones((2, n)), lambda n: fnp.full(n, 1.0),
    lambda n: fnp.eye(n), lambda n: fnp.arange(n), lambda n: fnp.linspace(0, 1, n),
    lambda n: fnp.reshape(fnp.ones(4), (n, -1)), lambda n: fnp.broadcast_to(1.0, (n,)),
    lambda n: fnp.ones(3)[:n], lambda n: fnp.tile(fnp.ones(2), n),
])
def test_traced_value_as_a_shape(make):
    with pytest.raises(errors.TracerIntegerConversionError) as info:
        jaxpr(lambda n: make(n), np.int64(3))
    assert "shape" in str(info.value) or "concrete" in str(info.value)
    assert "static_argnums" in str(info.value)


def test_traced_values_as_shapes_work_when_static():
    closed = checked_jaxpr(lambda n: fnp.zeros(n), 3, static_argnums=0)
    assert closed.out_avals[0].shape == (3,)


def test_in_place_assignment():
    def f(x):
        x[0] = 1.0
        return x
    with pytest.raises(errors.InPlaceUpdateError, match="at\\[idx\\].set") as info:
        jaxpr(f, X)
    assert isinstance(info.value, TypeError)
    # the suggested form works
    closed = jaxpr(lambda x: x.at[0].set(1.0), X)
    from functrans.core.staging import eval_closed
    np.testing.assert_array_equal(eval_closed(closed, X)[0], [1.0, -2.0, 3.0])


def test_traced_boolean_mask():
    with pytest.raises(NonConcreteBooleanIndexError, match="fnp.where") as info:
        jaxpr(lambda x: x[x > 0], X)
    assert isinstance(info.value, IndexError) and "concrete" in str(info.value)
    with pytest.raises(NonConcreteBooleanIndexError):
        jaxpr(lambda x: fnp.sum(x[fnp.isfinite(x)]), X)


def test_leaked_tracer():
    leaked = []

    def f(x):
        leaked.append(x * 2)
        return x
    jaxpr(f, X)
    with pytest.raises(errors.UnexpectedTracerError, match="leaked") as info:
        fnp.sin(leaked[0])
    assert "Return the value" in str(info.value)
    with pytest.raises(errors.UnexpectedTracerError):
        leaked[0] + 1.0
    with pytest.raises(errors.UnexpectedTracerError):
        leaked[0][0]


GLOBAL = {}


def test_leaked_tracer_through_a_global():
    def f(x):
        GLOBAL["y"] = fnp.exp(x)
        return x
    jaxpr(f, X)
    with pytest.raises(errors.UnexpectedTracerError, match="leaked"):
        jaxpr(lambda x: x + GLOBAL["y"], X)


def test_numpy_functions_on_traced_values():
    with pytest.raises(errors.TracerArrayConversionError, match="functrans.numpy"):
        jaxpr(lambda x: np.asarray(x), X)
    # numpy ufuncs dispatch to the fnp function of the same name
    assert [e.primitive.name for e in jaxpr(lambda x: np.sin(x), X).eqns] == ["sin"]
    with pytest.raises(errors.TracerArrayConversionError, match="fnp"):
        jaxpr(lambda x: np.sin(x, dtype=np.float32), X)


def test_hash_of_traced_value():
    with pytest.raises(TypeError, match="unhashable"):
        jaxpr(lambda x: {x: 1}, X)


def test_lax_is_strict_where_fnp_promotes():
    from functrans import lax
    with pytest.raises(TypeError, match="fnp|functrans.numpy|same dtypes|one dtype"):
        jaxpr(lambda x: lax.add(x, np.ones(3, np.float32)), X)
    closed = jaxpr(lambda x: fnp.add(x, np.ones(3, np.float32)), X)
    assert closed.out_avals[0].dtype == np.float64


def test_broadcasting_error_names_the_function_and_shapes():
    with pytest.raises(ValueError, match=r"fnp\.add.*\(3,\).*\(2,\)"):
        jaxpr(lambda x: fnp.add(x, np.ones(2)), X)
