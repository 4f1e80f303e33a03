"""fnp's elementwise functions against numpy, eager and traced, from one table.

Arguments are drawn with mixed dtypes, broadcastable shapes and weak Python scalars, so the
table also checks promotion and broadcasting. Values are compared with numpy's; dtypes follow
JAX (checked exactly in test_dtype_grid.py): float-only functions give float32 for integers up
to 32 bits, where numpy gives float16/float32/float64.
"""
import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from test_numpy_harness import (BOOL, COMPLEX, FLOATS, INTS, NUMERIC, REAL, Call, Entry,
                                arrays, check_call, elements, run_entry)


def _float64_if_exact(x):
    """The float-only rule: integer/boolean arguments are computed in float64."""
    if isinstance(x, (bool, int)):
        return float(x)
    x = np.asarray(x)
    return x if x.dtype.kind in "fc" else x.astype(np.float64)


def float_ref(np_fun):
    def ref(*args):
        common = np.result_type(*args)
        if common.kind not in "fc":
            args = [_float64_if_exact(a) for a in args]
        return np_fun(*args)
    return ref


def unary(dtypes, lo=-10, hi=10, nonzero=False, special=False):
    el_arrays = arrays(dtypes, lo=lo, hi=hi, nonzero=nonzero or lo > 0)
    if special:
        el_arrays = st.one_of(el_arrays, arrays(FLOATS).flatmap(_with_specials))
    return el_arrays.map(lambda x: Call((x,)))


def _with_specials(x):
    """x with some entries replaced by nan, inf or -inf."""
    if x.size == 0:
        return st.just(x)
    return st.lists(st.sampled_from([np.nan, np.inf, -np.inf, -0.0]), min_size=x.size,
                    max_size=x.size).flatmap(
        lambda vals: st.lists(st.booleans(), min_size=x.size, max_size=x.size).map(
            lambda mask: np.where(np.reshape(mask, x.shape),
                                  np.reshape(vals, x.shape).astype(x.dtype), x)))


def _scalar(kinds, lo, hi, nonzero):
    options = []
    if "b" in kinds:
        options.append(st.just(True) if nonzero else st.booleans())
    if "i" in kinds:
        options.append(st.integers(math.ceil(lo), math.floor(hi)).filter(
            lambda v: v != 0 or not nonzero))
    if "f" in kinds:
        options.append(st.floats(lo, hi, allow_nan=False).map(
            lambda v: float(np.float16(v))).filter(lambda v: v != 0 or not nonzero))
    return st.one_of(options)


def binary(dtypes1, dtypes2=None, lo=-10, hi=10, nonzero2=False, scalars=True, n=2,
           special=False):
    """Calls with n broadcastable operands of independently drawn dtypes; sometimes one of
    them (not the first) is a weakly typed Python scalar."""
    dtypes2 = dtypes1 if dtypes2 is None else dtypes2

    @st.composite
    def draw(draw_):
        shapes = draw_(hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=3, max_side=3))
        args = []
        for k, s in enumerate(shapes.input_shapes):
            dts = dtypes1 if k == 0 else dtypes2
            nonzero = nonzero2 and k == 1
            dtype = draw_(st.sampled_from(dts))
            arr = draw_(hnp.arrays(dtype, s, elements=elements(dtype, lo, hi, nonzero)))
            if special and dtype.kind == "f" and draw_(st.booleans()):
                arr = draw_(_with_specials(arr))
            args.append(arr)
        if scalars and n > 1 and draw_(st.booleans()):
            k = draw_(st.integers(1, n - 1))
            kinds = "".join(sorted({d.kind for d in dtypes2}))
            # numpy refuses negative Python ints next to unsigned arrays
            low = 0 if any(a.dtype.kind == "u" for a in args) else lo
            args[k] = draw_(_scalar(kinds, low, hi, nonzero2 and k == 1))
        if draw_(st.booleans()) and n == 2 and not nonzero2 and dtypes1 == dtypes2:
            args.reverse()      # the scalar on the left exercises the reflected order
        return Call(tuple(args))
    return draw()


ANY = REAL + COMPLEX
TABLE = {}


def _add(name, np_fun, calls, fun=None, **kw):
    TABLE[name] = Entry(fun or getattr(fnp, name), np_fun, calls, **kw)


# float-only unary functions: (numpy function, domain, complex allowed)
for name, np_fun, lo, hi, cplx in [
        ("exp", np.exp, -5, 5, True), ("expm1", np.expm1, -5, 5, True),
        ("log", np.log, 0.1, 20, True), ("log1p", np.log1p, -0.5, 20, False),
        ("sqrt", np.sqrt, 0, 20, True), ("cbrt", np.cbrt, -20, 20, False),
        ("sin", np.sin, -10, 10, True), ("cos", np.cos, -10, 10, True),
        ("tan", np.tan, -1.5, 1.5, True), ("arcsin", np.arcsin, -1, 1, False),
        ("arccos", np.arccos, -1, 1, False), ("arctan", np.arctan, -10, 10, False),
        ("asin", np.arcsin, -1, 1, False), ("acos", np.arccos, -1, 1, False),
        ("atan", np.arctan, -10, 10, False),
        ("sinh", np.sinh, -5, 5, True), ("cosh", np.cosh, -5, 5, True),
        ("tanh", np.tanh, -5, 5, True), ("rint", np.rint, -10, 10, True),
        ("deg2rad", np.deg2rad, -400, 400, False), ("rad2deg", np.rad2deg, -7, 7, False),
        ("radians", np.radians, -400, 400, False), ("degrees", np.degrees, -7, 7, False),
        ("reciprocal", np.reciprocal, -10, 10, True),
        ("arcsinh", np.arcsinh, -20, 20, False), ("asinh", np.arcsinh, -20, 20, False),
        ("arccosh", np.arccosh, 1, 20, False), ("acosh", np.arccosh, 1, 20, False),
        ("arctanh", np.arctanh, -0.99, 0.99, False), ("atanh", np.arctanh, -0.99, 0.99, False)]:
    _add(name, float_ref(np_fun),
         unary(REAL + (COMPLEX if cplx else []), lo, hi, nonzero=name == "reciprocal"))

# derived (log(x)/log(2) and friends): within an ulp or so of numpy's own
for name, np_fun, lo, hi in [("log2", np.log2, 0.1, 50), ("log10", np.log10, 0.1, 50),
                             ("exp2", np.exp2, -10, 10)]:
    _add(name, float_ref(np_fun), unary(REAL, lo, hi))


for name in ("negative", "positive", "sign"):
    _add(name, getattr(np, name), unary(NUMERIC + COMPLEX))
for name in ("abs", "absolute", "square"):
    _add(name, getattr(np, "absolute" if name == "abs" else name), unary(ANY))
for name in ("floor", "ceil", "trunc", "fix"):
    _add(name, getattr(np, name), unary(REAL, special=True))
_add("isfinite", np.isfinite, unary(ANY, special=True))
_add("isnan", np.isnan, unary(ANY, special=True))
_add("isinf", np.isinf, unary(ANY, special=True))
_add("signbit", np.signbit, unary(NUMERIC, special=True))
_add("logical_not", np.logical_not, unary(ANY))
for name in ("invert", "bitwise_not", "bitwise_invert"):
    _add(name, np.invert, unary(BOOL + INTS))
_add("real", np.real, unary(ANY))
_add("imag", np.imag, unary(ANY))
for name in ("conj", "conjugate"):
    _add(name, lambda x: np.conjugate(x) if np.iscomplexobj(x) else np.array(x),
         unary(ANY))


def _round_ref(a, decimals=0):
    a = np.asarray(a)
    return np.array(a) if a.dtype.kind == "b" else np.round(a, decimals)


for name in ("round", "around"):
    _add(name, _round_ref, st.tuples(arrays(REAL + COMPLEX, lo=-500, hi=500),
                                     st.integers(-2, 3)).map(
        lambda t: Call((t[0],), {"decimals": t[1]})))

# binary arithmetic
_add("add", np.add, binary(ANY))
_add("subtract", np.subtract, binary(NUMERIC + COMPLEX))
_add("multiply", np.multiply, binary(ANY))
for name in ("divide", "true_divide"):
    _add(name, float_ref(np.true_divide), binary(ANY, nonzero2=True))
for name in ("floor_divide", "remainder", "mod", "fmod"):
    np_name = {"mod": "remainder"}.get(name, name)
    _add(name, getattr(np, np_name), binary(REAL, nonzero2=True, lo=-30, hi=30))
for name in ("maximum", "minimum", "fmax", "fmin"):
    _add(name, getattr(np, name), binary(REAL, special=True))
for name, np_fun in (("arctan2", np.arctan2), ("atan2", np.arctan2),
                     ("copysign", np.copysign)):
    _add(name, float_ref(np_fun), binary(REAL, special=name == "copysign"))
for name in ("logaddexp", "hypot"):
    _add(name, float_ref(getattr(np, name)), binary(REAL, special=True))
for name in ("equal", "not_equal"):
    _add(name, getattr(np, name), binary(ANY, special=True))
for name in ("less", "less_equal", "greater", "greater_equal"):
    _add(name, getattr(np, name), binary(REAL, special=True))
for name in ("logical_and", "logical_or", "logical_xor"):
    _add(name, getattr(np, name), binary(ANY, lo=-2, hi=2))
for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    _add(name, getattr(np, name), binary(BOOL + INTS, lo=-100, hi=100))
for name in ("left_shift", "right_shift", "bitwise_left_shift", "bitwise_right_shift"):
    _add(name, getattr(np, name), binary(BOOL + INTS, BOOL + INTS, lo=0, hi=70))
_add("nextafter", float_ref(np.nextafter), binary(FLOATS, special=True))


@st.composite
def power_calls(draw):
    kind = draw(st.sampled_from(["int_exponent", "int_arrays", "float_arrays"]))
    if kind == "int_exponent":
        base = draw(arrays(REAL + COMPLEX, lo=-4, hi=4))
        low = -3 if base.dtype.kind in "fc" else 0
        return Call((base, draw(st.integers(low, 4))))
    if kind == "int_arrays":
        (b, e) = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                        max_side=3)).input_shapes
        bd, ed = draw(st.sampled_from(INTS + BOOL)), draw(st.sampled_from(INTS + BOOL))
        return Call((draw(hnp.arrays(bd, b, elements=elements(bd, -5, 5))),
                     draw(hnp.arrays(ed, e, elements=elements(ed, 0, 9)))))
    call = draw(binary(FLOATS, REAL, lo=0.1, hi=4))
    return call


for name in ("power", "pow"):
    _add(name, np.power, power_calls())


@st.composite
def where_calls(draw):
    call = draw(binary(ANY, n=3))
    cond = call.args[0]
    return Call((cond,) + call.args[1:])


_add("where", np.where, where_calls())


@st.composite
def clip_calls(draw):
    a = draw(arrays(REAL, lo=-10, hi=10))
    lo = draw(st.one_of(st.none(), st.integers(-5, 0), st.floats(-5, 0, width=16),
                        arrays(NUMERIC, shape=a.shape[-1:] if a.ndim else (), lo=-5, hi=0)))
    hi = draw(st.one_of(st.integers(1, 5), st.floats(0.5, 5, width=16),
                        arrays(NUMERIC, shape=a.shape[-1:] if a.ndim else (), lo=1, hi=5)))
    if lo is None and draw(st.booleans()):
        hi = None
    return Call((a, lo, hi))


def _clip_ref(a, lo, hi):
    if lo is None and hi is None:
        return np.array(a)
    return np.clip(a, lo, hi)


_add("clip", _clip_ref, clip_calls())


@pytest.mark.parametrize("name", sorted(TABLE))
def test_elementwise_matches_numpy(name):
    run_entry(name, TABLE[name])


def test_every_elementwise_function_is_in_the_table():
    from functrans.numpy import elementwise
    missing = sorted(set(elementwise.__all__) - set(TABLE))
    assert not missing, f"no test entry for {missing}"


@pytest.mark.parametrize("x1, x2, want", [
    (np.ones(3, np.float32), 2.0, np.float32),            # weak float keeps float32
    (np.ones(3, np.int8), 2, np.int8),                    # weak int keeps int8
    (np.ones(3, np.int8), 2.5, np.float64),               # int meets weak float: float64
    (np.ones(3, np.float16), np.int32(2), np.float16),    # strong int meets float: the float
    (np.ones(3, np.int32), np.ones(3, np.float32), np.float32),   # JAX: float32 (numpy: f64)
    (np.ones(3, np.int64), np.ones(3, np.float16), np.float16),   # JAX: float16 (numpy: f64)
    (np.ones(3, np.uint64), np.ones(3, np.int8), np.float64),
    (np.ones(3, np.int32), np.ones(3, np.complex64), np.complex64),
    (np.ones(3, np.uint8), np.ones(3, np.int8), np.int16),
    (np.ones(3, np.bool_), 1, np.int64),
    (np.ones(3, np.float32), 1j, np.complex64),
])
def test_promotion_with_weak_scalars(x1, x2, want):
    check_call(fnp.multiply, np.multiply, Call((x1, x2)), name="multiply")
    assert fnp.multiply(x1, x2).dtype == want


def test_result_type_of_traced_values_follows_numpy():
    from test_numpy_harness import traced
    cases = [(np.ones(2, np.float32), 2.0), (np.ones(2, np.int8), np.ones(2, np.uint8)),
             (np.ones(2, np.int16), 1.5), (np.ones(2, np.bool_), 3)]
    for a, b in cases:
        seen = []
        traced(lambda x: seen.append(fnp.result_type(x, b)) or x, (a,), {})
        assert seen[0] == np.result_type(a, b) == fnp.result_type(a, b)
    assert fnp.result_type(np.float32, np.int16) == np.float32


def test_float_only_functions_give_jaxs_float_for_ints():
    # JAX (x64): float32 for bool and integers up to 32 bits, float64 for 64-bit integers.
    for dtype, want in ((np.int8, np.float32), (np.uint16, np.float32), (np.int32, np.float32),
                        (np.bool_, np.float32), (np.int64, np.float64), (np.uint64, np.float64)):
        x = np.arange(4).astype(dtype)
        for f in (fnp.exp, fnp.sqrt, fnp.sin, fnp.log1p, fnp.reciprocal):
            assert f(x).dtype == want, (f.__name__, dtype)
            assert ft.jit(f)(x).dtype == want, (f.__name__, dtype)
        assert fnp.true_divide(x, x).dtype == want
    assert fnp.exp(np.ones(2, np.float32)).dtype == np.float32
    assert fnp.exp(2).dtype == np.float64


def test_floor_divide_and_remainder_follow_numpy_signs():
    a = np.array([7.0, -7.0, 7.0, -7.0, 1.0, -0.0, 0.0, 5.5])
    b = np.array([2.0, 2.0, -2.0, -2.0, 0.1, 3.0, -3.0, 0.0])
    with np.errstate(all="ignore"):
        check_call(fnp.floor_divide, np.floor_divide, Call((a, b)), name="floor_divide")
        check_call(fnp.remainder, np.remainder, Call((a, b)), name="remainder")
    ints = np.array([7, -7, 7, -7, 0, 1]), np.array([2, 2, -2, -2, 3, -5])
    check_call(fnp.floor_divide, np.floor_divide, Call(ints), name="floor_divide")
    check_call(fnp.remainder, np.remainder, Call(ints), name="remainder")


def test_round_is_half_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.125, 2.675])
    check_call(fnp.round, np.round, Call((x,)), name="round")
    check_call(fnp.round, np.round, Call((x, 2)), name="round2")
    assert list(fnp.round(np.array([15, 25, -15]), -1)) == [20, 20, -20]


def test_boolean_arithmetic_as_numpy():
    t = np.array([True, False, True])
    assert fnp.add(t, t).dtype == np.bool_
    assert fnp.multiply(t, t).dtype == np.bool_
    with pytest.raises(TypeError):
        fnp.subtract(t, t)
    from test_numpy_harness import traced
    with pytest.raises(TypeError, match="boolean"):
        traced(fnp.subtract, (t, t), {})
    with pytest.raises(TypeError, match="boolean"):
        traced(fnp.negative, (t,), {})


def test_integer_to_negative_power_raises():
    from test_numpy_harness import traced
    with pytest.raises(ValueError, match="negative integer powers"):
        traced(lambda x: fnp.power(x, -1), (np.arange(3),), {})


def test_constants_and_dtype_names():
    assert fnp.pi == math.pi and fnp.e == math.e and fnp.inf == math.inf
    assert math.isnan(fnp.nan) and fnp.newaxis is None
    assert np.dtype(fnp.float32) == np.float32 and np.dtype(fnp.int32) == np.int32
    assert fnp.ones(2).astype(fnp.int8).dtype == np.int8


@pytest.mark.parametrize("op", ["isfinite", "isnan", "isinf"])
def test_classification_of_special_values(op):
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, complex(np.nan, 1)])
    check_call(getattr(fnp, op), getattr(np, op), Call((x,)), name=op)
