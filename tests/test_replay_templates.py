"""Recording whole functrans.numpy calls per signature under the un-jitted gradient's replay
(replay.templated_call): the values, dtypes, errors and structure keys are those of recording
primitive by primitive, including where a signature must not be reused (Python scalars that
differ only in sign or type, array arguments whose values change, functions that consult a
concrete value). Each case runs with the fast path off, then templates off, then on."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.numpy._promotion import recorded
from functrans.transforms import replay

from test_fast_paths import both_ways


# Each case: the fast path off, then templates off, then on; identical values, sign bits too.
three_ways = both_ways


rng = np.random.default_rng(3)


def test_mlp_uses_templates_and_matches_bit_for_bit():
    w1 = rng.standard_normal((6, 5)).astype(np.float32)
    b1 = np.zeros(5, np.float32)
    w2 = rng.standard_normal((5, 3)).astype(np.float32)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 2, 1, 0]]

    def loss(p, x, y):
        w1, b1, w2 = p
        h = fnp.maximum(x @ w1 + b1, 0.0)
        logits = h @ w2
        m = fnp.max(logits, axis=1, keepdims=True)
        z = logits - m
        logz = fnp.log(fnp.sum(fnp.exp(z), axis=1, keepdims=True))
        return -fnp.mean(fnp.sum(y * (z - logz), axis=1)) + 0.1 * fnp.sum(fnp.square(w2))

    replay.clear_cache()
    before = replay.template_info()[0]
    v, g = three_ways(lambda: ft.value_and_grad(loss)((w1, b1, w2), x, y))
    assert replay.template_info()[0] > before
    assert v.dtype == np.float32 and all(gi.dtype == np.float32 for gi in g)
    # The gradient program was built and reused on the templated recordings.
    hits, _, builds, _ = replay.cache_info()
    assert hits >= 1 and builds >= 1
    # Against finite differences (float64 copy).
    p64 = [a.astype(np.float64) for a in (w1, b1, w2)]
    f64 = lambda p: float(loss(p, x.astype(np.float64), y.astype(np.float64)))  # noqa: E731
    e = np.zeros_like(p64[2])
    e[1, 2] = 1e-6
    fd = (f64([p64[0], p64[1], p64[2] + e]) - f64([p64[0], p64[1], p64[2] - e])) / 2e-6
    assert g[2][1, 2] == pytest.approx(fd, rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("c", [0.0, -0.0, 2, True, np.float64(1.5), np.float32(-0.0)])
def test_python_and_numpy_scalars_of_every_kind_and_sign(c):
    x = -np.ones(3, np.float32)

    def f(x):
        # 1 / (x * 0 + c): +inf or -inf at zero by the sign of c; c's type sets the dtype.
        return fnp.sum(fnp.maximum(x * 0.0 + c, -1.0) + 1.0 / (x * 0.0 + c + 1.0)) + \
            fnp.sum(fnp.exp(x * c))

    three_ways(lambda: ft.value_and_grad(f)(x))


def test_closure_scalars_rebound_between_calls_are_not_confused():
    x = -np.linspace(0.5, 2, 4).astype(np.float32)
    state = {"c": 0.0}

    def f(x):
        # x * 0.0 is -0.0; adding c = 0.0 gives +0.0 and c = -0.0 gives -0.0, whose
        # reciprocals are +inf and -inf: the gradient is +pi/2 or -pi/2.
        return fnp.sum(fnp.arctan(1.0 / (x * 0.0 + state["c"])) * x + x * state["c"])

    for c in (0.0, -0.0, 0.0, 3, 3.0, -0.0, 1e-30):
        state["c"] = c
        three_ways(lambda: ft.value_and_grad(f)(x), calls=2)


def test_array_arguments_whose_values_change_are_read_every_call():
    x = rng.standard_normal((2, 3)).astype(np.float32)
    box = {}

    def f(x):
        # float64 and int arrays are converted inside the call: a value derived from the
        # argument, never kept in a template.
        return fnp.sum(x * box["a64"] + box["i"]) + fnp.sum((x @ box["m"]) ** 2)

    for k in range(4):
        box["a64"] = np.full(3, 1.0 + k, np.float64)
        box["i"] = np.arange(3) * (k - 1)
        box["m"] = np.full((3, 2), 0.5 * k, np.float32)
        v, g = three_ways(lambda: ft.value_and_grad(f)(x), calls=2)
        assert v.dtype == np.float64


def test_functions_that_read_a_concrete_value_get_no_template():
    def branchy(x):
        return x * 2.0 if float(fnp.sum(x) > 0) else x * 3.0

    def f(x):
        return fnp.sum(recorded(branchy, (x,)))

    before = replay.template_info()
    for sign in (1, -1, 1, -1):
        x = sign * np.ones(3, np.float32)
        g = three_ways(lambda: ft.grad(f)(x), calls=2)
        np.testing.assert_array_equal(g, np.full(3, 2.0 if sign > 0 else 3.0, np.float32))
    assert replay.template_info()[1] > before[1]


def test_errors_are_the_same_and_a_failing_signature_keeps_no_template():
    x, y = np.ones(3, np.float32), np.ones(4, np.float32)

    def bad(x):
        return fnp.sum(x + y)

    messages = []
    for templates in (False, True, True):
        with replay.templates(templates):
            with pytest.raises(ValueError) as info:
                ft.grad(bad)(x)
            messages.append(str(info.value))
    with replay.fast_paths(False):
        with pytest.raises(ValueError) as info:
            ft.grad(bad)(x)
    assert set(messages) == {str(info.value)}
    three_ways(lambda: ft.grad(lambda x: fnp.sum(x + y[:3]))(x))
    with pytest.raises(TypeError, match="subtract"):
        ft.grad(lambda x: fnp.sum(x) + fnp.sum(fnp.subtract(x > 0, x > 1)))(x)


def test_shapes_axes_and_statics_tell_templates_apart():
    a = rng.standard_normal((3, 4)).astype(np.float32)

    def f(a, axis, keepdims, shape):
        s = fnp.sum(a * a, axis=axis, keepdims=keepdims)
        m = fnp.max(a, axis=axis, keepdims=keepdims)
        r = fnp.reshape(a, shape)
        t = fnp.transpose(a, (1, 0))
        return fnp.sum(s * m) + fnp.mean(r ** 2) + fnp.sum(fnp.squeeze(
            fnp.expand_dims(t, 0), 0)[0]) + fnp.sum(-a)

    for axis, keepdims, shape in [(0, False, (4, 3)), (1, True, (12,)), (None, False, (2, 6)),
                                  ((0, 1), True, (-1, 4)), (-1, True, (4, 3))]:
        three_ways(lambda: ft.value_and_grad(f)(a, axis, keepdims, shape), calls=2)


def test_mixed_dtypes_promote_as_on_the_ordinary_path():
    x32 = rng.standard_normal(4).astype(np.float32)
    x64 = rng.standard_normal(4)
    i32 = np.arange(4, dtype=np.int32)

    def f(x32, x64):
        return fnp.sum(x32 * i32 + x64 * x32 + fnp.tanh(x32) * 2 + x32 / 3) + \
            fnp.sum(fnp.matmul(x32, x64))

    v, g = three_ways(lambda: ft.value_and_grad(f, argnums=(0, 1))(x32, x64))
    assert v.dtype == np.float64 and g[0].dtype == np.float32 and g[1].dtype == np.float64


def test_jvp_hessian_and_vmap_compose_with_templates():
    w = rng.standard_normal(4)

    def f(w):
        return fnp.sum(fnp.tanh(w) ** 2 * fnp.exp(-w))

    three_ways(lambda: ft.jvp(f, (w,), (np.ones(4),)))
    three_ways(lambda: ft.jvp(ft.grad(f), (w,), (np.ones(4),)))
    three_ways(lambda: ft.hessian(f)(w))
    three_ways(lambda: ft.vmap(ft.grad(f))(np.stack([w, 2 * w])))
    # Grad of grad: the replay differentiates the recorded inner gradient program, whose sums
    # can associate differently from the ordinary path's (so before templates too, measured on
    # the session 5 code): equal to about an ulp, not bit for bit.
    def grad_of_grad():
        return ft.grad(lambda v: fnp.sum(ft.grad(f)(v) ** 2))(w)
    with replay.fast_paths(False):
        ref = grad_of_grad()
    for enabled in (False, True):
        with replay.templates(enabled):
            for _ in range(3):
                np.testing.assert_allclose(grad_of_grad(), ref, rtol=1e-14, atol=1e-16)


def test_arguments_that_are_the_same_value_are_part_of_the_signature():
    # x @ x, then r @ x with the same avals (repeated squaring), and x * x then x * y: a
    # template made where both arguments were one value must not serve distinct ones.
    a = rng.standard_normal((3, 3))
    v = rng.standard_normal((3, 3))
    for n in (2, 3, 5, 6):
        three_ways(lambda: ft.jvp(lambda m: fnp.linalg.matrix_power(m, n), (a,), (v,)))
        three_ways(lambda: ft.grad(lambda m: fnp.sum(fnp.linalg.matrix_power(m, n)))(a))
    x, y = rng.standard_normal(4), rng.standard_normal(4)

    def f(x, y):
        return fnp.sum(x * x + x * y + y * y - (x - x) * y + fnp.maximum(y, y) * x)

    v, g = three_ways(lambda: ft.value_and_grad(f, argnums=(0, 1))(x, y))
    np.testing.assert_allclose(g[0], 2 * x + 2 * y, rtol=1e-12)
    np.testing.assert_allclose(g[1], x + 2 * y + x, rtol=1e-12)


def test_power_absolute_and_where():
    x = rng.standard_normal(5).astype(np.float32)
    k = np.arange(5, dtype=np.int32)

    def f(x, p):
        a = x ** 2 + fnp.abs(x) ** 0.5 + 2.0 ** x + x ** p + fnp.power(x, k)
        b = fnp.where(x > 0, x * 3.0, fnp.absolute(x)) + fnp.where(k > 2, 1.0, x)
        return fnp.sum(a * b) + fnp.sum(fnp.where(x > 0, 0.0, -0.0) * x)

    for p in (3, 3.0, 2, -1):
        three_ways(lambda: ft.value_and_grad(f)(x, p), calls=2)
    for _ in range(3):
        with pytest.raises(ValueError, match="negative integer powers"):
            ft.grad(lambda x: fnp.sum(x + (x > 0).astype(np.int32) ** -1))(x)
