"""Small arrays (at most 8 elements) inside compiled loops live in scalar variables
(functrans/backend/loop_scalars.py): unrolled fused groups, concatenate/pad/views picking element
names, scalar carries. Every form equals the interpreter: values, gradients, vmap, float32,
integer carries, zero-trip loops, carries passed through and swapped, and the places where a
small array must be built after all (BLAS, cond branches, larger kernels)."""

import re

import numpy as np
import pytest

import functrans as ft
import functrans.lax as lax
import functrans.numpy as fnp

from test_jit_loops import P, lorenz, newton_sqrt   # Lorenz (200 Euler steps), Newton
from transform_checks import same_trees

pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")

rng = np.random.default_rng(3)


def same(got, want, tol=1e-12):
    same_trees(got, want, tol, f32_tol=2e-6)


def check(f, *args, tol=1e-12, scalar_carry=True):
    same(ft.jit(f)(*args), f(*args), tol)
    text = ft.jit(f).lower(*args).as_text()
    assert "a Python loop" not in text, text[text.find("a Python loop") - 200:][:600]
    if scalar_carry:
        assert scalar_carries(text), text    # a carry is held in scalars
    return text


def scalar_carries(text):
    return re.search(r"\bk\d+_0\b", text) is not None


S0 = np.array([1.0, 1.0, 1.05])


def test_lorenz_body_is_scalar_code():
    text = check(lorenz, P, S0)
    loop = text[text.find("# kernel"):]
    # no buffer filled, copied or passed to a kernel per step: the body is scalar statements
    assert "fill1(" not in loop and "put1(" not in loop and "h0(" not in loop, loop


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lorenz_gradients_and_vmap(dtype):
    p, s0 = P.astype(dtype), S0.astype(dtype)
    tol = 1e-9 if dtype == np.float64 else 1e-4
    check(ft.grad(lorenz), p, s0, tol=tol)
    check(ft.grad(lorenz, argnums=1), p, s0, tol=tol)
    states = (s0 + np.linspace(0, 1, 5)[:, None]).astype(dtype)
    # batched carries have 15 elements: arrays again
    check(ft.vmap(lambda s: lorenz(p, s)), states, tol=tol, scalar_carry=False)
    check(ft.vmap(lambda s: lorenz(p, s, n=7)), states[:2], tol=tol)


def test_integer_small_carries_and_mixed_ranks():
    def f(a, n):
        def body(i, c):
            v, k, w = c
            v = fnp.stack([v[1] * 3 + i, v[2] - v[0], v[0] * 2 - k]).astype(np.int32)
            return v, k + v[0], w[::-1, ::-1] * 2 - 1
        return lax.fori_loop(0, n, body, (a, np.int32(1), np.arange(6, dtype=np.int64)
                                          .reshape(2, 3)))
    a = np.array([1, -2, 7], np.int32)
    out = ft.jit(f)(a, 9)
    assert out[0].dtype == np.int32 and out[1].dtype == np.int32
    check(f, a, 9)
    check(f, a, 0)                      # zero trips: the initial carries


def test_zero_trip_loops_return_small_initial_carries():
    s0 = np.array([1.5, -2.0])

    def scan0(s):
        return lax.scan(lambda c, _: (c * 2.0 + 1.0, c), s, None, length=0)

    def while0(s):
        return lax.while_loop(lambda c: c[0] > 10.0, lambda c: c * 0.5, s)

    def fori0(s, n):
        return lax.fori_loop(0, n, lambda i, c: c[::-1] + 1.0, s)
    check(scan0, s0)
    check(while0, s0)
    check(fori0, s0, 0)
    check(fori0, s0, 3)


def test_swapped_and_passed_through_small_and_scalar_carries():
    def f(a, b, x, y):
        def body(i, c):
            a, b, x, y, z = c
            return b, a + 1.0, y, x * 2.0, z
        return lax.fori_loop(0, 5, body, (a, b, x, y, a))
    check(f, np.arange(3.0), np.ones(3), 2.0, -1.0)


def test_concatenate_pad_transpose_and_reductions_on_small_arrays():
    def f(m, v):
        def body(c, x):
            m, v = c
            row = fnp.concatenate([v[1:], v[:1] * x])                 # (3,)
            padded = lax.pad(v, 0.5, [(1, -1, 1)])                   # (5,) interior, negative
            m = fnp.concatenate([m[:, 1:], row[:2, None] + padded[1:3, None]], axis=1)
            v = fnp.sum(m, axis=0) * 0.25 + fnp.max(m.T, axis=1)[1]
            return (m, v[:3] - fnp.mean(v)), (fnp.min(m), m.T)
        return lax.scan(body, (m, v), np.linspace(0.1, 1.0, 6))
    check(f, rng.standard_normal((2, 3)), rng.standard_normal(3))
    check(ft.grad(lambda m, v: fnp.sum(f(m, v)[1][1]) + fnp.sum(f(m, v)[0][1])),
          rng.standard_normal((2, 3)), rng.standard_normal(3), tol=1e-10)


def test_reverse_scan_with_small_xs_and_ys():
    def f(s, xs):
        def body(c, x):
            c = fnp.stack([c[0] * x[1] + x[0], fnp.sin(c[1]) + c[0]])
            return c, (c * 2.0, x[::-1])
        return lax.scan(body, s, xs, reverse=True)
    check(f, np.array([0.3, -0.2]), rng.standard_normal((8, 2)))
    check(ft.grad(lambda s, xs: fnp.sum(f(s, xs)[1][0] ** 2)), np.array([0.3, -0.2]),
          rng.standard_normal((8, 2)), tol=1e-10)


def test_while_loop_small_state_and_batched_predicate():
    a = np.array([2.0, 9.0, 1e4, 0.25])
    check(newton_sqrt, a)
    check(ft.vmap(newton_sqrt), np.array([[2.0, 3.0], [1e6, 5.0], [7.0, 0.5]]))


def test_small_arrays_built_for_blas_conds_and_larger_kernels():
    w = rng.standard_normal((3, 3)) * 0.5
    big = rng.standard_normal((4, 3))

    def f(s, w, big):
        def body(i, s):
            t = w @ s                                                # BLAS reads the array
            t = lax.cond(t[0] > 0, lambda u: u * 2.0, lambda u: u[::-1] - 1.0, t)
            g = fnp.tanh(big + s)                                    # a 12-element kernel
            return t * 0.5 + fnp.sum(g, axis=0) * 0.1
        return lax.fori_loop(0, 6, body, s)
    check(f, np.array([0.2, -0.4, 0.9]), w, big)


@pytest.mark.parametrize("n", [8, 9])
def test_the_size_limit(n):
    def f(s):
        return lax.fori_loop(0, 4, lambda i, c: fnp.roll(c, 1) * 0.9 + c[0], s)
    text = check(f, np.linspace(0.0, 1.0, n), scalar_carry=n <= 8)
    assert scalar_carries(text) == (n <= 8)


def test_array_carries_trade_buffers_with_fresh_results():
    # results written into their own buffers become the carries without a copy (the buffers
    # are swapped); a result shared by two carries, or a carry passed through, is copied
    def f(a, b, c):
        def body(i, s):
            a, b, c, d = s
            t = fnp.tanh(a) * 0.5
            return b + 1.0, t, t, lax.cond(i % 2 == 0, lambda u: u * 2.0, lambda u: u, a)
        return lax.fori_loop(0, 7, body, (a, b, c, c))
    text = check(f, rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                 rng.standard_normal((3, 4)), scalar_carry=False)
    assert re.search(r"\bk\d+, y\d+ = y\d+, k\d+", text), text


def test_strided_column_stacked_without_a_copy():
    def f(m):
        def body(c, _):
            c = c * 0.5 + fnp.roll(c, 1, axis=0)
            return c, c[:, 1:2].reshape(-1)
        return lax.scan(body, m, None, length=5)
    text = check(f, rng.standard_normal((6, 3)), scalar_carry=False)
    assert "[:, 0]" in text, text


def test_concatenated_pieces_written_in_place_by_their_kernels():
    # kernel results placed in their slot of a concatenation: read elsewhere too (a strided
    # view), concatenated twice, returned as a carry, beside pieces that are not kernel results
    def f(m, w):
        def body(c, _):
            a, b = c
            u = fnp.sin(a[:, 0]) * 0.5                                  # (6,)
            v = a[:, 1] * a[:, 2] - 0.1                                 # (6,)
            cat = fnp.concatenate([u[:, None], v[:, None], b[:, None]], axis=1)
            both = fnp.concatenate([u, v, u])                           # u in two concats
            a = cat * 0.9 + a * 0.1
            return (a, v + both[6:12] @ w), (both, u @ w)
        return lax.scan(body, (m, m[:, 0]), None, length=5)
    check(f, rng.standard_normal((6, 3)), rng.standard_normal((6, 6)), scalar_carry=False,
          tol=1e-10)
    text = check(ft.vmap(lambda m: f(m, np.eye(6))), rng.standard_normal((2, 6, 3)),
                 scalar_carry=False, tol=1e-10)
    assert re.search(r"\]\[(:, )+0\]", text), text      # a kernel writes into a slot


def test_lorenz_vmap_runs_as_two_kernels_per_step():
    states = S0 + np.linspace(0, 1, 16)[:, None]
    text = check(ft.vmap(lambda s: lorenz(P, s)), states, scalar_carry=False)
    loop = text[text.find("# kernel"):]
    body = loop[loop.find("for i"):loop.find("return")]
    assert len(re.findall(r"\bh\d+\(", body)) == 2 and "put2" not in body, body


def test_scalar_carries_swapped_unchanged():
    # (x, y) -> (y, x): every scalar carry takes its new value in one assignment
    def f(x, y, v):
        return lax.fori_loop(0, 3, lambda i, c: (c[1], c[0], c[2][::-1]), (x, y, v))
    check(f, 2.0, -1.0, np.arange(3.0))
