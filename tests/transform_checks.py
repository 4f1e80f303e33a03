"""Shared numeric checks for the function-library tests (fft, numpy extras, scipy.special/stats).

`check_transforms(f, *args)` runs, for a function of float64 arrays with real outputs:
forward mode against central finite differences and reverse mode by the dot-product test
(functrans.test_util.check_grads, first order), jacfwd == jacrev, vmap over a stack of
perturbed arguments against a Python loop, and jit against the interpreter.
"""
import numpy as np

import functrans as ft


def assert_close(got, want, rtol=1e-10, atol=1e-12, dtype=True, what=""):
    got_a, want_a = np.asarray(got), np.asarray(want)
    assert got_a.shape == want_a.shape, f"{what}: shape {got_a.shape} != {want_a.shape}"
    if dtype:
        assert got_a.dtype == want_a.dtype, f"{what}: dtype {got_a.dtype} != {want_a.dtype}"
    if got_a.dtype.kind in "fc":
        np.testing.assert_allclose(got_a, want_a, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=what)
    else:
        np.testing.assert_array_equal(got_a, want_a, err_msg=what)


def same_trees(got, want, tol, f32_tol):
    """Two pytrees of one structure, leaves of one shape and dtype, floats within tol (float32:
    at least f32_tol), other leaves equal."""
    lg, tg = ft.tree_util.tree_flatten(got)
    lw, tw = ft.tree_util.tree_flatten(want)
    assert len(lg) == len(lw) and tg == tw
    for g, w in zip(lg, lw):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if w.dtype.kind in "fc":
            t = max(tol, f32_tol) if w.dtype == np.float32 else tol
            np.testing.assert_allclose(g, w, rtol=t, atol=t)
        else:
            np.testing.assert_array_equal(g, w)


def check_transforms(f, *args, argnums=None, fd=True, jit=True, vmap=True, rtol=1e-6,
                     atol=1e-8, order=1):
    args = tuple(np.asarray(a) if not np.isscalar(a) else a for a in args)
    nums = tuple(range(len(args))) if argnums is None else tuple(argnums)

    def g(*diff):
        full = list(args)
        for i, d in zip(nums, diff):
            full[i] = d
        return f(*full)
    x = tuple(np.asarray(args[i], np.float64) for i in nums)
    if fd:
        ft.test_util.check_grads(g, x, order=order, atol=1e-5, rtol=1e-5)
    for i in range(len(x)):
        jf = ft.jacfwd(g, argnums=i)(*x)
        jr = ft.jacrev(g, argnums=i)(*x)
        for a, b in zip(ft.tree_util.tree_leaves(jf), ft.tree_util.tree_leaves(jr)):
            assert_close(a, b, rtol=1e-9, atol=1e-10, what="jacfwd vs jacrev")
    if vmap:
        rng = np.random.default_rng(3)
        members = [tuple(a + 0.01 * k * rng.standard_normal(a.shape) for a in x)
                   for k in range(3)]
        stacked = tuple(np.stack([m[i] for m in members]) for i in range(len(x)))
        got = ft.vmap(g)(*stacked)
        want = [g(*m) for m in members]
        for j, leaf in enumerate(ft.tree_util.tree_leaves(got)):
            ref = np.stack([np.asarray(ft.tree_util.tree_leaves(w)[j]) for w in want])
            assert_close(leaf, ref, rtol=rtol, atol=atol, what="vmap vs loop")
    if jit:
        got = ft.jit(g)(*x)
        want = g(*x)
        for a, b in zip(ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(want)):
            assert_close(a, b, rtol=1e-12, atol=1e-12, what="jit vs interpreter")
