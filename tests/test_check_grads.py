"""check_grads itself: it must catch wrong rules, and reverse mode alone must not use forward
mode (a custom_vjp function has none)."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.test_util import check_grads


def _sin_with_bwd(scale):
    f = ft.custom_vjp(lambda x: fnp.sin(x))
    f.defvjp(lambda x: (fnp.sin(x), fnp.cos(x)), lambda c, g: (scale * c * g,))
    return f


def test_reverse_only_check_does_not_need_forward_mode():
    x = np.array([0.3, 0.5, -1.1])
    check_grads(_sin_with_bwd(1.0), (x,), order=1, modes=("rev",))
    check_grads(_sin_with_bwd(1.0), (x,), order=2, modes=("rev",))


def test_reverse_only_check_catches_a_wrong_bwd():
    with pytest.raises(AssertionError, match="J\\^T u"):
        check_grads(_sin_with_bwd(2.0), (np.array([0.3, 0.5]),), order=1, modes=("rev",))


def test_forward_check_catches_a_wrong_jvp():
    f = ft.custom_jvp(lambda x: fnp.sin(x))
    f.defjvp(lambda p, t: (fnp.sin(p[0]), 1.01 * fnp.cos(p[0]) * t[0]))
    with pytest.raises(AssertionError, match="finite differences"):
        check_grads(f, (np.array([0.3, 0.5]),), order=1, modes=("fwd",))


def test_both_modes_on_a_plain_function_in_float32_and_float64():
    for dtype in (np.float32, np.float64):
        x = np.array([0.3, 0.5, -1.1], dtype)
        check_grads(lambda x: fnp.tanh(x) * fnp.exp(x), (x,), order=2)
