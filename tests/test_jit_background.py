"""jit's first calls on numpy while the kernels compile in the background
(config.jit_background_compile, on by default; conftest turns it off for the other tests so that
they check compiled code). The first call's results must equal the compiled code's (up to float
rounding) and the interpreter's, with the same dtypes and types; the next call runs compiled
code; errors surface as without the background compile."""
import os
import shutil

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.backend import LoweringError, executables
from functrans.backend.cache_dir import default_cache_dir
from functrans.config import config

pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")


@pytest.fixture
def background():
    # Programs compiled by earlier tests leave markers that make their first call compile
    # (executables.loads_quickly): each test starts without them.
    shutil.rmtree(os.path.join(default_cache_dir(), "programs"), ignore_errors=True)
    old = config.jit_background_compile
    config.update("jit_background_compile", True)
    yield
    executables.wait_for_background_compiles()
    config.update("jit_background_compile", old)


rng = np.random.default_rng(0)


def mlp_step(params, x, y):
    def loss(p):
        h = x
        for w, b in p[:-1]:
            h = fnp.maximum(h @ w + b, 0.0)
        w, b = p[-1]
        logits = h @ w + b
        shifted = logits - fnp.max(logits, axis=1, keepdims=True)
        logz = fnp.log(fnp.sum(fnp.exp(shifted), axis=1, keepdims=True))
        return -fnp.mean(fnp.sum(y * (shifted - logz), axis=1))
    g = ft.grad(loss)(params)
    return [(w - 0.1 * gw, b - 0.1 * gb) for (w, b), (gw, gb) in zip(params, g)]


def mlp_args(dtype):
    sizes = (6, 5, 4, 3)
    params = [(rng.standard_normal((m, n)).astype(dtype), np.zeros(n, dtype))
              for m, n in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((7, 6)).astype(dtype)
    y = np.eye(3, dtype=dtype)[rng.integers(0, 3, 7)]
    return params, x, y


def assert_same(a, b, rtol):
    la, lb = ft.tree_util.tree_leaves(a), ft.tree_util.tree_leaves(b)
    assert ft.tree_util.tree_structure(a) == ft.tree_util.tree_structure(b)
    for x, y in zip(la, lb):
        assert type(x) is type(y)
        assert np.asarray(x).dtype == np.asarray(y).dtype
        assert np.shape(x) == np.shape(y)
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=rtol)


def _program(f, *args):
    (entry,) = f._cache.values()
    return entry


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_first_call_on_numpy_then_compiled(background, dtype):
    args = mlp_args(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    f = ft.jit(mlp_step)
    first = f(*args)
    entry = _program(f)
    assert entry.executable is None and entry.background is not None
    entry.background.wait()
    assert entry.background.error is None
    assert executables.compiled(entry.closed, entry.donate) is not None
    second = f(*args)
    assert entry.executable is not None
    assert_same(first, second, rtol)
    assert_same(first, mlp_step(*args), rtol)
    config.update("jit_background_compile", False)
    assert_same(first, ft.jit(mlp_step)(*args), rtol)


def test_second_call_runs_on_numpy_while_the_worker_compiles(background):
    args = mlp_args(np.float64)
    f = ft.jit(mlp_step)
    first = f(*args)
    entry = _program(f)
    assert entry.background.offloaded
    second = f(*args)           # on numpy unless the worker process has finished already
    assert (entry.executable is None) == (entry.interpreted is not None)
    entry.background.wait()
    third = f(*args)
    assert entry.executable is not None and entry.interpreted is None
    assert_same(first, second, 1e-12)
    assert_same(first, third, 1e-12)


def test_second_call_waits_for_a_compile_on_the_thread(background, monkeypatch):
    """Without the worker process (it cannot start), the compile runs on a thread of this
    process and the second call waits for it."""
    from functrans.backend import compile_worker
    monkeypatch.setitem(compile_worker._state, "broken", True)
    args = mlp_args(np.float64)
    f = ft.jit(mlp_step)
    first = f(*args)
    entry = _program(f)
    assert not entry.background.offloaded
    second = f(*args)
    assert entry.executable is not None
    assert_same(first, second, 1e-12)


def test_output_types_match_compiled_code(background):
    """Outputs that are literals, inputs passed through, scalars and integer results come back
    with the types and dtypes compiled code gives them."""
    def fun(x, n):
        return x, 2.0, fnp.sum(x), n * 2, x.astype(np.int32), fnp.float32(1.5) * x
    x = rng.standard_normal((3, 2)).astype(np.float32)
    f = ft.jit(fun)
    first = f(x, 3)
    second = f(x, 3)
    assert_same(first, second, 1e-6)
    config.update("jit_background_compile", False)
    assert_same(first, ft.jit(fun)(x, 3), 1e-6)


def test_donated_inputs_and_static_arguments(background):
    def fun(x, k):
        return x * k + 1.0
    f = ft.jit(fun, static_argnums=1, donate_argnums=0)
    x = rng.standard_normal(5)
    expect = x * 3 + 1.0
    np.testing.assert_allclose(f(x.copy(), 3), expect, rtol=1e-12)
    np.testing.assert_allclose(f(x.copy(), 3), expect, rtol=1e-12)
    np.testing.assert_allclose(f(x.copy(), 4), x * 4 + 1.0, rtol=1e-12)


def test_a_program_jit_cannot_lower_fails_on_its_first_call(background, monkeypatch):
    """Lowering errors (no Numba needed to find them) are raised by the first call, as when it
    compiles right away."""
    from functrans.primitives.elementwise import sin_p
    monkeypatch.setattr(sin_p, "lowering", None)
    with pytest.raises(LoweringError, match="sin"):
        ft.jit(lambda x: fnp.sin(x) * 2)(np.ones(3))


def test_a_background_compile_error_is_raised_by_the_next_call(background, monkeypatch):
    from functrans.backend import codegen

    def broken(*a, **k):
        raise RuntimeError("numba failed")
    monkeypatch.setattr(codegen, "compile_program", broken)
    f = ft.jit(lambda x: x * 3.0 + 1.0)
    np.testing.assert_allclose(f(np.ones(2)), [4.0, 4.0])
    _program(f).background.wait()
    assert isinstance(_program(f).background.error, RuntimeError)
    with pytest.raises(RuntimeError, match="numba failed"):
        f(np.ones(2))


def test_off_compiles_on_the_first_call():
    assert not config.jit_background_compile       # conftest's setting
    f = ft.jit(lambda x: x * 2.0 - 1.0)
    f(np.ones(4))
    entry = _program(f)
    assert entry.background is None and entry.executable is not None


def test_under_transforms_and_nested_jit(background):
    """grad of a jitted function and a jit inside a jit: only the outer eager call runs on
    numpy; derivatives and values agree with the compiled path."""
    inner = ft.jit(lambda x: fnp.tanh(x) * x)
    f = ft.jit(lambda x: fnp.sum(inner(x) ** 2))
    x = rng.standard_normal(6)
    first, g_first = f(x), ft.grad(f)(x)
    second, g_second = f(x), ft.grad(f)(x)
    np.testing.assert_allclose(first, second, rtol=1e-12)
    np.testing.assert_allclose(g_first, g_second, rtol=1e-12)
    np.testing.assert_allclose(first, np.sum((np.tanh(x) * x) ** 2), rtol=1e-12)


def _programs():
    from functrans import lax, random
    x = rng.standard_normal((4, 3))
    return [
        ("random", lambda k: (random.bits(k, (4,)), random.uniform(k, (3,)),
                              random.normal(k, (2, 2))), (random.PRNGKey(3),)),
        ("fori_loop", lambda v: lax.fori_loop(0, 4, lambda i, c: fnp.tanh(c) * 1.5 + i, v),
         (x,)),
        ("scan", lambda v: lax.scan(lambda c, r: (c + r, c * r), fnp.zeros(3), v), (x,)),
        ("while", lambda v: lax.while_loop(lambda c: fnp.sum(c) < 100.0,
                                           lambda c: c * 2.0 + 1.0, v), (fnp.abs(x),)),
        ("cond", lambda v: lax.cond(fnp.sum(v) > 0, lambda a: a * 2, lambda a: -a, v), (x,)),
        ("sort_argmax_int", lambda v: (fnp.sort(v, axis=0), fnp.argmax(v, axis=1),
                                       (v * 10).astype(np.int32) // 3), (x,)),
        ("complex_float32", lambda v: (fnp.exp(1j * v.astype(np.complex64)),
                                       fnp.sum(v.astype(np.float32) ** 2, axis=0)), (x,)),
        ("vmap_grad", ft.vmap(ft.grad(lambda r: fnp.sum(fnp.sin(r) * r))), (x,)),
    ]


@pytest.mark.parametrize("name", [n for n, _, _ in _programs()])
def test_first_call_matches_compiled_code(background, name):
    """Loops, conditionals, random bits, integers, complex and float32 values: the first call
    (numpy) and the second (compiled code) agree in values, dtypes and types."""
    (fun, args), = [(f, a) for n, f, a in _programs() if n == name]
    f = ft.jit(fun)
    first = f(*args)
    executables.wait_for_background_compiles()
    second = f(*args)
    assert _program(f).executable is not None
    assert_same(first, second, 1e-5)
    la, lb = ft.tree_util.tree_leaves(first), ft.tree_util.tree_leaves(second)
    for a, b in zip(la, lb):
        if np.asarray(a).dtype.kind in "iub":
            np.testing.assert_array_equal(a, b)    # random bits, integers: exactly
