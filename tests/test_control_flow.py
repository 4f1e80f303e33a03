"""Control flow (cond, switch, while_loop, fori_loop, scan, map): each against a Python-loop
reference, under every transform (jvp, grad to second order, vmap, jit) and their compositions,
plus the programs they make (one loop equation, nested sub-programs, linear-only linear programs,
per-iteration residuals)."""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.core.errors import FunctransError
from functrans.core.ir import ClosedProgram
from functrans.core.typecheck import check_program
from functrans.primitives.control_flow import (cond, fori_loop, map, scan, switch,
                                               while_loop)
from functrans.test_util import check_grads

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape)


def all_eqns(closed):
    """Every equation of a program, those of its sub-programs included."""
    for eqn in closed.eqns:
        yield eqn
        for p in eqn.params.values():
            for sub in (p if isinstance(p, tuple) else (p,)):
                if isinstance(sub, ClosedProgram):
                    yield from all_eqns(sub)


def primitive_names(closed):
    return [e.primitive.name for e in all_eqns(closed)]


def generated_loops(jitted, *args):
    """Sources of the loop/branch functions the jit driver of jitted(*args) calls."""
    exe = jitted.lower(*args).compile()
    return [g.source for g in exe.fn.__globals__.values()
            if callable(g) and isinstance(getattr(g, "source", None), str)]


def rnn_step(W, U, h, x):
    return fnp.tanh(W @ h + U @ x)


# --- forward semantics against Python references -------------------------------------------------

def test_cond_picks_the_branch_and_passes_pytrees():
    ops = ({"a": rand(3)}, rand(2))
    out = cond(True, lambda d, b: (d["a"] * 2, b + 1), lambda d, b: (d["a"], b), *ops)
    np.testing.assert_allclose(out[0], ops[0]["a"] * 2)
    np.testing.assert_allclose(out[1], ops[1] + 1)
    out = cond(np.float64(0.0), lambda d, b: (d["a"] * 2, b + 1), lambda d, b: (d["a"], b), *ops)
    np.testing.assert_allclose(out[0], ops[0]["a"])
    assert cond(3, lambda: 1.0, lambda: 2.0) == 1.0      # numbers: nonzero is true


def test_switch_clamps_the_index():
    branches = [lambda x: x, lambda x: x * 2, lambda x: -x]
    for i, want in [(-5, 3.0), (0, 3.0), (1, 6.0), (2, -3.0), (7, -3.0)]:
        assert switch(i, branches, 3.0) == want
        assert ft.jit(lambda i: switch(i, branches, 3.0))(i) == want
    assert switch(4, [lambda x: x + 1], 1.0) == 2.0


def test_while_loop_matches_python_loop():
    def collatz_steps(n):
        return while_loop(lambda c: c[0] != 1,
                          lambda c: (fnp.where(c[0] % 2 == 0, c[0] // 2, 3 * c[0] + 1),
                                     c[1] + 1), (n, 0))[1]

    def reference(n):
        k = 0
        while n != 1:
            n, k = (n // 2 if n % 2 == 0 else 3 * n + 1), k + 1
        return k
    for n in (1, 6, 27):
        assert collatz_steps(n) == reference(n)


def test_fori_loop_static_and_traced_bounds():
    def body(i, x):
        return x * 1.5 + i

    def reference(lo, hi, x):
        for i in range(lo, hi):
            x = x * 1.5 + i
        return x
    for lo, hi in [(0, 5), (2, 7), (3, 3), (5, 2)]:
        np.testing.assert_allclose(fori_loop(lo, hi, body, 1.0), reference(lo, hi, 1.0))
        np.testing.assert_allclose(ft.jit(lambda a, b: fori_loop(a, b, body, 1.0))(lo, hi),
                                   reference(lo, hi, 1.0))
    static = ft.make_jaxpr(lambda x: fori_loop(0, 5, body, x))(1.0)
    traced = ft.make_jaxpr(lambda n, x: fori_loop(0, n, body, x))(5, 1.0)
    assert "scan" in primitive_names(static) and "while_loop" in primitive_names(traced)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(length=st.integers(0, 6), reverse=st.booleans(), width=st.integers(1, 3))
def test_scan_matches_python_loop(length, reverse, width):
    xs = {"u": rand(length, width), "v": rand(length)}
    init = (rand(width), np.float64(0.5))

    def f(carry, x):
        h, s = carry
        h = fnp.sin(h) * x["u"] + s
        return (h, s * 0.9 + x["v"]), {"h": h, "total": fnp.sum(h)}

    (h, s), ys = scan(f, init, xs, reverse=reverse)
    carry, hs, totals = init, [], []
    for i in (reversed(range(length)) if reverse else range(length)):
        carry, y = f(carry, {"u": xs["u"][i], "v": xs["v"][i]})
        hs.append(y["h"])
        totals.append(y["total"])
    if reverse:
        hs, totals = hs[::-1], totals[::-1]
    np.testing.assert_allclose(h, carry[0])
    np.testing.assert_allclose(s, carry[1])
    assert ys["h"].shape == (length, width)
    np.testing.assert_allclose(ys["h"], np.array(hs).reshape(length, width))
    np.testing.assert_allclose(ys["total"], np.array(totals).reshape(length))


def test_scan_without_xs_and_without_ys():
    carry, ys = scan(lambda c, _: (c * 2, None), 1.0, None, length=5)
    assert carry == 32.0 and ys is None
    with pytest.raises(ValueError, match="no values to scan over"):
        scan(lambda c, x: (c, x), 0.0)
    with pytest.raises(ValueError, match="disagrees"):
        scan(lambda c, x: (c, x), 0.0, rand(3), length=4)


def test_map_with_and_without_batch_size():
    xs = rand(7, 3)
    want = np.stack([np.sin(x) * np.sum(x) for x in xs])
    for batch_size in (None, 1, 3, 7, 10):
        got = map(lambda x: fnp.sin(x) * fnp.sum(x), xs, batch_size=batch_size)
        np.testing.assert_allclose(got, want)


def test_weakly_typed_carry_takes_the_body_dtype():
    xs = rand(4, 2).astype(np.float32)
    carry, _ = scan(lambda c, x: (c + x[0], None), 0.0, xs)
    assert carry.dtype == np.float32
    assert fori_loop(0, 3, lambda i, c: c + i, np.float32(0)).dtype == np.float32
    assert cond(True, lambda: np.float32(1), lambda: 2.0).dtype == np.float32


# --- the programs --------------------------------------------------------------------------------

def test_loops_stay_one_equation_with_nested_programs():
    W = rand(3, 3)
    for length in (4, 40):
        closed = ft.make_jaxpr(lambda h, xs: scan(lambda h, x: (rnn_step(W, W, h, x), None), h,
                                                  xs)[0])(rand(3), rand(length, 3))
        check_program(closed)
        assert [e.primitive.name for e in closed.eqns] == ["scan"]
        assert "body={ lambda" in str(closed)
    text = str(ft.make_jaxpr(lambda p, x: cond(p, fnp.sin, fnp.cos, x))(True, 1.0))
    assert "branches=({ lambda" in text and "sin" in text and "cos" in text
    text = str(ft.make_jaxpr(lambda x: while_loop(lambda c: c < 5.0, lambda c: c * 2, x))(1.0))
    assert "cond_program={ lambda" in text and "body_program={ lambda" in text


def test_closed_over_values_become_operands():
    W = rand(3, 3)
    closed = ft.make_jaxpr(lambda h, xs: scan(lambda h, x: (W @ h + x, None), h, xs)[0])(
        rand(3), rand(5, 3))
    (eqn,) = closed.eqns
    assert eqn.params["num_consts"] == 1 and not eqn.params["body"].consts
    # A closed-over tracer of an enclosing transform: its tangent reaches the loop.
    xs = rand(4)
    check_grads(lambda w: scan(lambda c, x: (c * w + x, None), 0.0, xs)[0], (0.7,), order=2)


def test_carry_type_errors_show_both_types():
    with pytest.raises(TypeError, match=r"enters as f64\[3\] and leaves as f32\[3\]") as e:
        scan(lambda c, x: (c.astype(np.float32), None), rand(3), rand(2, 3))
    assert "input carry:  f64[3]" in str(e.value) and "output carry: f32[3]" in str(e.value)
    with pytest.raises(TypeError, match="same pytree structure") as e:
        while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1,), (0, 1.0))
    assert "(i64[](weak), f64[](weak))" in str(e.value)
    with pytest.raises(TypeError, match=r"carry component \['b'\] enters as f64\[2\]"):
        fori_loop(0, 3, lambda i, c: {"a": c["a"], "b": c["b"][:1]}, {"a": 1.0, "b": rand(2)})
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
        while_loop(lambda c: c, lambda c: c + 1, 0)
    with pytest.raises(TypeError, match=r"(?s)false_fun returns f32.*true_fun returns f64"):
        cond(True, lambda x: x, lambda x: x.astype(np.float32), np.float64(1.0))
    with pytest.raises(TypeError, match="pred must be a scalar"):
        cond(np.array([True, False]), lambda: 1.0, lambda: 2.0)


def test_cost_of_scan_is_length_times_body():
    from functrans.transforms.cost_model import program_cost
    W = rand(4, 4)
    body = ft.make_jaxpr(lambda h, x: rnn_step(W, W, h, x))(rand(4), rand(4))
    loop = ft.make_jaxpr(lambda h, xs: scan(lambda h, x: (rnn_step(W, W, h, x), None), h,
                                            xs)[0])(rand(4), rand(10, 4))
    assert program_cost(loop).flops == pytest.approx(10 * program_cost(body).flops)


# --- differentiation -----------------------------------------------------------------------------

def test_check_grads_through_cond_and_switch_second_order():
    def f(x, y):
        return cond(fnp.sum(x) > 0, lambda a, b: fnp.sin(a) * b, lambda a, b: fnp.cos(a) + b,
                    x, y)
    x, y = rand(3), rand(3)
    check_grads(f, (np.abs(x), y), order=2)
    check_grads(f, (-np.abs(x), y), order=2)

    def g(i, x):
        return switch(i, [fnp.sin, lambda x: x ** 3, lambda x: fnp.exp(x) * x], x)
    for i in range(3):
        check_grads(lambda x: g(i, x), (x,), order=2)


def test_check_grads_through_scan_and_fori_loop_second_order():
    W, U, h0, xs = rand(3, 3) * 0.5, rand(3, 3) * 0.5, rand(3), rand(6, 3)

    def rnn(W, U, h0, xs):
        h, ys = scan(lambda h, x: (rnn_step(W, U, h, x), fnp.sum(h * x)), h0, xs)
        return fnp.sum(h) + fnp.sum(ys)
    check_grads(rnn, (W, U, h0, xs), order=2)
    check_grads(lambda x: scan(lambda c, x: (fnp.sin(c) * x, c), x[0], x, reverse=True)[1],
                (rand(4),), order=2)
    check_grads(lambda x: fori_loop(1, 4, lambda i, c: fnp.sin(c) * x + i, x), (rand(3),),
                order=2)


def test_jvp_through_while_loop_and_reverse_mode_error():
    def f(x):
        return while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, fnp.sin(c[1]) * x),
                          (0, x))[1]
    x = rand(3)
    check_grads(f, (x,), order=2, modes=("fwd",))
    np.testing.assert_allclose(ft.jacfwd(f)(x), ft.jacfwd(
        lambda x: fori_loop(0, 4, lambda i, c: fnp.sin(c) * x, x))(x))
    with pytest.raises(FunctransError, match="Reverse-mode differentiation does not work for "
                                              "lax.while_loop.*scan.*fori_loop"):
        ft.grad(lambda x: fnp.sum(f(x)))(x)
    with pytest.raises(FunctransError, match="Reverse-mode"):
        ft.jit(ft.grad(lambda x, n: fori_loop(0, n, lambda i, c: c * x, x)))(1.5, 3)
    # With bounds known at trace time, fori_loop is a scan and reverse mode works.
    np.testing.assert_allclose(ft.grad(lambda x: fori_loop(0, 3, lambda i, c: c * x, x))(1.5),
                               4 * 1.5 ** 3)


def test_linear_program_of_scan_is_linear():
    W, h0, xs = rand(3, 3) * 0.5, rand(3), rand(6, 3)

    def f(W):
        return fnp.sum(scan(lambda h, x: (fnp.tanh(W @ h + x), fnp.sin(h)), h0, xs)[1])
    _, lin = ft.linearize(f, W)
    check_program(lin.program)
    names = primitive_names(lin.program)
    assert "scan" in names and "tanh" not in names and "sin" not in names
    v = rand(3, 3)
    np.testing.assert_allclose(lin(v), ft.jvp(f, (W,), (v,))[1])
    u = 1.7
    np.testing.assert_allclose(lin.T(u), ft.vjp(f, W)[1](u)[0])
    transposed = ft.make_jaxpr(lambda u: lin.T(u))(u)
    check_program(transposed)
    assert [e.params["reverse"] for e in transposed.eqns if e.primitive.name == "scan"] == [True]


def test_reverse_mode_stores_per_iteration_residuals_and_checkpoint_reduces_them():
    L, H = 50, 16
    W, xs = rand(H, H) * 0.3, rand(L, H)

    def cell(W, h, x):
        a = fnp.tanh(W @ h + x)
        b = fnp.tanh(W @ a + x)
        return fnp.sin(b) * a

    def loss(W, remat):
        c = ft.checkpoint(cell) if remat else cell
        return fnp.sum(scan(lambda h, x: (c(W, h, x),) * 2, np.zeros(H), xs)[1])
    plain = ft.saved_residuals(lambda W: loss(W, False), W)
    remat = ft.saved_residuals(lambda W: loss(W, True), W)
    per_iteration = [r for r in plain if r.aval.shape[:1] == (L,)]
    assert len(per_iteration) >= 4 and all(r.aval.size <= L * H for r in plain)
    assert sum(r.nbytes for r in remat) < sum(r.nbytes for r in plain) / 2
    np.testing.assert_allclose(ft.grad(lambda W: loss(W, True))(W),
                               ft.grad(lambda W: loss(W, False))(W), rtol=1e-10)


def test_rnn_50_steps_gradient_through_time_against_finite_differences():
    H, L = 8, 50
    W, U = rand(H, H) / np.sqrt(H), rand(H, H) / np.sqrt(H)
    xs, targets = rand(L, H), rand(L, H)

    def loss(W, U):
        _, hs = scan(lambda h, x: (rnn_step(W, U, h, x),) * 2, np.zeros(H), xs)
        return fnp.mean((hs - targets) ** 2)

    gW, gU = ft.grad(loss, (0, 1))(W, U)
    eps = 1e-6
    for g, which in ((gW, 0), (gU, 1)):
        for idx in [(0, 0), (3, 5), (7, 2)]:
            plus, minus = [W.copy(), U.copy()], [W.copy(), U.copy()]
            plus[which][idx] += eps
            minus[which][idx] -= eps
            fd = (loss(*plus) - loss(*minus)) / (2 * eps)
            np.testing.assert_allclose(g[idx], fd, rtol=1e-5, atol=1e-9)

    def unrolled(W, U):
        h, total = np.zeros(H), 0.0
        for t in range(L):
            h = rnn_step(W, U, h, xs[t])
            total = total + fnp.sum((h - targets[t]) ** 2)
        return total / (L * H)
    for a, b in zip((gW, gU), ft.grad(unrolled, (0, 1))(W, U)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    for a, b in zip((gW, gU), ft.jit(ft.grad(loss, (0, 1)))(W, U)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_nested_control_flow_under_reverse_mode():
    x, xs = rand(3), rand(4, 3)

    def scan_in_scan(h):
        def outer(c, x):
            c2, _ = scan(lambda d, y: (fnp.sin(d) * y + c, None), c, xs)
            return c2 * x, fnp.sum(c2)
        return scan(outer, h, xs)[1]

    def cond_in_scan(h):
        return scan(lambda c, x: (cond(fnp.sum(x) > 0, lambda c: fnp.sin(c) * x,
                                       lambda c: c * c, c), c), h, xs)
    check_grads(scan_in_scan, (x,), order=2)
    check_grads(cond_in_scan, (x,), order=2)
    check_grads(lambda x: cond(x[0] > 0, lambda x: scan(lambda c, y: (c * y, c), x, xs)[1],
                               lambda x: xs * x, x), (x,), order=2)


def test_jit_inside_a_scan_body_under_reverse_mode():
    g = ft.jit(lambda h, x: fnp.sin(h) * x)
    xs = rand(4, 3)
    check_grads(lambda h: fnp.sum(scan(lambda c, x: (g(c, x), c), h, xs)[1]), (rand(3),), 1)


# --- vmap ----------------------------------------------------------------------------------------

def _loop(f, *args, axes):
    n = next(a.shape[ax] for a, ax in zip(args, axes) if ax is not None)
    outs = [f(*[a if ax is None else np.take(a, i, ax) for a, ax in zip(args, axes)])
            for i in range(n)]
    return ft.tree_util.tree_map(lambda *o: np.stack(o), *outs)


def _assert_tree_close(a, b):
    for x, y in zip(ft.tree_util.tree_leaves(a), ft.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("axes", [(0, None, None), (None, 0, None), (None, None, 1),
                                  (1, 0, 2), (None, None, 0)])
def test_vmap_scan(axes):
    W, h0, xs = rand(3, 3) * 0.5, rand(3), rand(6, 3)
    args = [np.stack([a] * 4, ax) if ax is not None else a for a, ax in zip((W, h0, xs), axes)]
    args = [a + 0.1 * rand(*a.shape) for a in args]

    def f(W, h0, xs):
        return scan(lambda h, x: (fnp.tanh(W @ h + x), fnp.sum(h)), h0, xs)
    _assert_tree_close(ft.vmap(f, in_axes=axes)(*args), _loop(f, *args, axes=axes))


def test_vmap_cond_and_switch():
    p, x = rand(6), rand(6, 2)

    def f(p, x):
        return cond(p > 0, lambda x: fnp.sin(x), lambda x: x * 2.0, x)
    _assert_tree_close(ft.vmap(f)(p, x), _loop(f, p, x, axes=(0, 0)))
    _assert_tree_close(ft.vmap(f, in_axes=(None, 0))(p[0], x), _loop(f, p[0], x, axes=(None, 0)))
    closed = ft.make_jaxpr(ft.vmap(f))(p, x)
    assert "cond" not in primitive_names(closed) and "select_n" in primitive_names(closed)
    idx = np.array([-1, 0, 1, 2, 3, 9], np.int32)

    def s(i, x):
        return switch(i, [lambda x: x, lambda x: x * 2, fnp.sin], x)
    _assert_tree_close(ft.vmap(s)(idx, x), _loop(s, idx, x, axes=(0, 0)))


def test_vmap_while_loop_with_batched_predicate_freezes_finished_members():
    n, x = np.array([0, 3, 1, 5, 2]), rand(5, 2)

    def f(n, x):
        return while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.5 + 1), (0, x))
    _assert_tree_close(ft.vmap(f)(n, x), _loop(f, n, x, axes=(0, 0)))
    _assert_tree_close(ft.vmap(f, in_axes=(None, 0))(3, x), _loop(f, 3, x, axes=(None, 0)))

    def g(n, x):
        return fori_loop(0, n, lambda i, c: c * 1.5 + i, x)
    _assert_tree_close(ft.vmap(g)(n, x), _loop(g, n, x, axes=(0, 0)))
    _assert_tree_close(ft.jit(ft.vmap(g))(n, x), _loop(g, n, x, axes=(0, 0)))


def test_vmap_map_and_static_fori_loop():
    xs = rand(4, 5, 2)

    def f(xs):
        return map(lambda x: fnp.sin(x) * fnp.sum(x), xs)
    _assert_tree_close(ft.vmap(f)(xs), _loop(f, xs, axes=(0,)))
    _assert_tree_close(ft.vmap(f, in_axes=1)(xs), _loop(f, xs, axes=(1,)))

    def g(x):
        return fori_loop(0, 3, lambda i, c: fnp.sin(c) * x + i, x)
    _assert_tree_close(ft.vmap(g)(xs[0]), _loop(g, xs[0], axes=(0,)))


def test_vmap_of_grad_and_grad_of_vmap():
    W, xs = rand(4, 3, 3) * 0.5, rand(6, 3)

    def loss(W):
        return fnp.sum(scan(lambda h, x: (fnp.tanh(W @ h + x), fnp.sum(h)), np.zeros(3), xs)[1])
    _assert_tree_close(ft.vmap(ft.grad(loss))(W), _loop(ft.grad(loss), W, axes=(0,)))
    _assert_tree_close(ft.grad(lambda W: fnp.sum(ft.vmap(loss)(W)))(W),
                       _loop(ft.grad(loss), W, axes=(0,)))
    p, x = rand(5), rand(5, 3)

    def f(p, x):
        return fnp.sum(cond(p > 0, lambda x: fnp.sin(x) * p, lambda x: x * x * p, x))
    _assert_tree_close(ft.vmap(ft.grad(f, (0, 1)))(p, x), _loop(ft.grad(f, (0, 1)), p, x,
                                                                  axes=(0, 0)))


# --- jit -----------------------------------------------------------------------------------------

def test_jit_of_each_runs_real_loops_and_branches():
    W, h0, xs = rand(3, 3) * 0.5, rand(3), rand(6, 3)

    def rnn(W, h0, xs):
        return scan(lambda h, x: (fnp.tanh(W @ h + x), fnp.sum(h)), h0, xs)
    # Loops are njit functions (backend/loops.py: `for i7 in range(6)`, `while True:`); a cond
    # outside loops is a Python `if` over its branches' compiled drivers.
    cases = [
        (rnn, (W, h0, xs), r"for i\d* in range\(6\)"),
        (lambda p, x: cond(p, fnp.sin, fnp.cos, x), (True, xs), "if index <= 0"),
        (lambda p, x: cond(p, fnp.sin, fnp.cos, x), (False, xs), "if index <= 0"),
        (lambda n, x: while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 2), (0, x)),
         (5, h0), "while True:"),
        (lambda x: fori_loop(0, 4, lambda i, c: c * 2 + i, x), (h0,), r"for i\d* in range\(4\)"),
        (lambda x: map(fnp.sin, x), (xs,), r"for i\d* in range\(6\)"),
    ]
    for f, args, loop in cases:
        _assert_tree_close(ft.jit(f)(*args), f(*args))
        assert any(re.search(loop, src) for src in generated_loops(ft.jit(f), *args))
    g = ft.grad(lambda W: fnp.sum(rnn(W, h0, xs)[1]))
    _assert_tree_close(ft.jit(g)(W), g(W))
    _assert_tree_close(ft.grad(ft.jit(lambda W: fnp.sum(rnn(W, h0, xs)[1])))(W), g(W))
    assert any("range(5, -1, -1)" in src for src in generated_loops(ft.jit(g), W))


def test_training_epoch_as_one_jit_compiled_function():
    N, D, C, B = 256, 6, 3, 32
    X, Y = rand(N, D), np.eye(C)[RNG.integers(0, C, N)]
    params = {"w": rand(D, C) * 0.1, "b": np.zeros(C)}

    def loss(p, x, y):
        logits = x @ p["w"] + p["b"]
        logp = logits - fnp.log(fnp.sum(fnp.exp(logits), axis=1, keepdims=True))
        return -fnp.mean(fnp.sum(logp * y, axis=1))

    def sgd_step(p, x, y):
        g = ft.grad(loss)(p, x, y)
        return ft.tree_util.tree_map(lambda a, b: a - 0.5 * b, p, g)

    def epoch(p, X, Y):
        def body(i, p):
            return sgd_step(p, lax.dynamic_slice_in_dim(X, i * B, B),
                            lax.dynamic_slice_in_dim(Y, i * B, B))
        return fori_loop(0, N // B, body, p)

    want = params
    for i in range(N // B):
        want = sgd_step(want, X[i * B:(i + 1) * B], Y[i * B:(i + 1) * B])
    jitted = ft.jit(epoch)
    closed = jitted.lower(params, X, Y).program
    assert [e.primitive.name for e in closed.eqns] == ["scan"]
    got = jitted(params, X, Y)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6)
    assert loss(got, X, Y) < loss(params, X, Y)
