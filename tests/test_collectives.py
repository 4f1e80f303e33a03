"""Collectives under vmap(axis_name=...): values against numpy, derivatives (finite differences,
jacfwd == jacrev, the dot-product test), jit against the interpreter, control flow, errors; and
pmap in this test process's one-process world. Many processes: tests/test_distributed.py."""
import numpy as np
import pytest

import functrans as ft
import functrans.lax as lax
import functrans.numpy as fnp

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-5)}
DTYPES = [np.float64, np.float32]


def _x(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def close(got, want, dtype=np.float64):
    got = np.asarray(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, **TOL[dtype])


# --- values under vmap against numpy ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_over_the_mapped_axis(dtype):
    x = _x((4, 3), dtype)
    n = x.shape[0]
    cases = [(lax.psum, x.sum(0)), (lax.pmean, x.mean(0)), (lax.pmax, x.max(0)),
             (lax.pmin, x.min(0))]
    for fn, want in cases:
        out = ft.vmap(lambda v: fn(v, "i"), axis_name="i")(x)
        assert out.dtype == dtype
        close(out, np.broadcast_to(want, (n, 3)), dtype)
        # The result is the same for every member: out_axes=None returns it once.
        close(ft.vmap(lambda v: fn(v, "i"), axis_name="i", out_axes=None)(x), want, dtype)


def test_unbatched_operands_and_pytrees():
    x = _x((5, 2))
    # A constant is held by every member: psum multiplies by the axis size.
    out = ft.vmap(lambda v: lax.psum(np.float64(2.0), "i") + 0 * v, axis_name="i")(x)
    close(out, np.full((5, 2), 10.0))
    out = ft.vmap(lambda v: lax.pmean({"a": v, "b": 3.0 * v}, "i"), axis_name="i")(x)
    close(out["a"], np.broadcast_to(x.mean(0), x.shape))
    close(out["b"], np.broadcast_to(3 * x.mean(0), x.shape))
    assert ft.vmap(lambda v: lax.axis_size("i") + 0 * v, axis_name="i")(x)[0, 0] == 5


def test_axis_index_and_ppermute():
    x = _x((4, 3))
    idx = ft.vmap(lambda v: lax.axis_index("i"), axis_name="i")(x)
    assert idx.dtype == np.int32 and idx.tolist() == [0, 1, 2, 3]
    perm = [(0, 1), (1, 2), (2, 3), (3, 0)]          # a ring shift
    close(ft.vmap(lambda v: lax.ppermute(v, "i", perm), axis_name="i")(x), np.roll(x, 1, 0))
    partial = [(0, 2), (3, 1)]                        # members 0 and 3 receive nothing
    want = np.zeros_like(x)
    want[2], want[1] = x[0], x[3]
    close(ft.vmap(lambda v: lax.ppermute(v, "i", partial), axis_name="i")(x), want)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_all_gather(axis):
    x = _x((3, 2, 4))
    out = ft.vmap(lambda v: lax.all_gather(v, "i", axis=axis), axis_name="i")(x)
    want = np.moveaxis(x, 0, axis)
    close(out, np.broadcast_to(want, (3,) + want.shape))
    if axis < 2:
        tiled = ft.vmap(lambda v: lax.all_gather(v, "i", axis=axis, tiled=True),
                        axis_name="i")(x)
        want = np.concatenate(list(x), axis=axis)
        close(tiled, np.broadcast_to(want, (3,) + want.shape))


def test_psum_scatter():
    x = _x((3, 3, 2))
    out = ft.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")(x)
    close(out, x.sum(0))                              # member k keeps row k of the sum
    y = _x((3, 2, 6))
    out = ft.vmap(lambda v: lax.psum_scatter(v, "i", scatter_dimension=1, tiled=True),
                  axis_name="i")(y)
    s = y.sum(0)
    close(out, np.stack([s[:, 2 * k:2 * k + 2] for k in range(3)]))


def test_nested_axes_and_tuples():
    x = _x((2, 3, 4))
    both = ft.vmap(ft.vmap(lambda v: lax.psum(v, ("i", "j")), axis_name="j"), axis_name="i")
    close(both(x), np.broadcast_to(x.sum((0, 1)), x.shape))
    outer = ft.vmap(ft.vmap(lambda v: lax.psum(v, "i"), axis_name="j"), axis_name="i")
    close(outer(x), np.broadcast_to(x.sum(0), x.shape))
    inner = ft.vmap(ft.vmap(lambda v: lax.pmax(v, "j"), axis_name="j"), axis_name="i")
    close(inner(x), np.broadcast_to(x.max(1, keepdims=True), x.shape))
    # An unnamed inner vmap leaves the outer axis's collectives to the outer vmap.
    unnamed = ft.vmap(ft.vmap(lambda v: lax.psum(v, "i")), axis_name="i")
    close(unnamed(x), np.broadcast_to(x.sum(0), x.shape))
    idx = ft.vmap(ft.vmap(lambda v: lax.axis_index(("i", "j")), axis_name="j"),
                  axis_name="i")(x)
    assert idx.tolist() == [[0, 1, 2], [3, 4, 5]]
    # The same name inside shadows the outer one.
    shadow = ft.vmap(ft.vmap(lambda v: lax.psum(v, "i"), axis_name="i"), axis_name="i")
    close(shadow(x), np.broadcast_to(x.sum(1, keepdims=True), x.shape))


def test_unbound_axis_name_is_a_clear_error():
    with pytest.raises(NameError, match="unbound axis name: 'i'"):
        lax.psum(np.ones(3), "i")
    with pytest.raises(NameError, match=r"'k'.*bound here are \['i'\]"):
        ft.vmap(lambda v: lax.pmean(v, "k"), axis_name="i")(np.ones(3))
    with pytest.raises(NameError, match="unbound axis name: 'i'"):
        ft.jit(lambda v: lax.axis_index("i"))(np.ones(3))
    with pytest.raises(NameError, match="unbound axis name"):
        ft.vmap(lambda v: lax.all_gather(v, "i"))(np.ones(3))


# --- derivatives ---------------------------------------------------------------------------------

def _model(v):
    """Every collective once, in a smooth function of one member's value (a length-3 row)."""
    s = lax.psum(fnp.sin(v), "i")
    g = lax.all_gather(v * v, "i")                            # (n, 3)
    r = lax.psum_scatter(fnp.tanh(g), "i", scatter_dimension=0)     # (3,)
    p = lax.ppermute(v * s, "i", [(0, 1), (1, 2), (2, 3), (3, 0)])
    m = lax.pmean(v ** 3, "i")
    return s * r + p + m + fnp.sum(g) * v


def _central_jvp(f, x, t, eps=1e-6):
    return (f(x + eps * t) - f(x - eps * t)) / (2 * eps)


def test_jvp_matches_finite_differences():
    f = ft.vmap(_model, axis_name="i")
    x, t = _x((4, 3), seed=1), _x((4, 3), seed=2)
    y, jt = ft.jvp(f, (x,), (t,))
    close(y, f(x))
    np.testing.assert_allclose(jt, _central_jvp(f, x, t), rtol=1e-6, atol=1e-7)


def test_jacfwd_equals_jacrev():
    f = ft.vmap(_model, axis_name="i")
    x = _x((4, 3), seed=3)
    np.testing.assert_allclose(ft.jacfwd(f)(x), ft.jacrev(f)(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["psum", "pmean", "all_gather", "all_gather_tiled",
                                  "psum_scatter", "psum_scatter_tiled", "ppermute"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_by_the_dot_product_test(name, dtype):
    """<u, J v> == <J^T u, v> over the stacked members: transposes of the linear collectives."""
    fns = {"psum": lambda v: lax.psum(v, "i"),
           "pmean": lambda v: lax.pmean(v, "i"),
           "all_gather": lambda v: lax.all_gather(v, "i", axis=1),
           "all_gather_tiled": lambda v: lax.all_gather(v, "i", axis=0, tiled=True),
           "psum_scatter": lambda v: lax.psum_scatter(v, "i", scatter_dimension=1),
           "psum_scatter_tiled": lambda v: lax.psum_scatter(v, "i", tiled=True),
           "ppermute": lambda v: lax.ppermute(v, "i", [(0, 2), (2, 3), (3, 0)])}
    f = ft.vmap(fns[name], axis_name="i")
    v = _x((4, 8, 4), dtype, seed=4)
    y, vjp = ft.vjp(f, v)
    u = _x(y.shape, dtype, seed=5)
    (jt_u,) = vjp(u)
    assert jt_u.dtype == dtype
    lhs, rhs = np.vdot(u, f(v)), np.vdot(jt_u, v)      # f is linear: J v = f(v)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_psum_transposes_to_psum_as_in_jax():
    """The documented decision: grad of a mapped function is the gradient of the sum over
    members of its outputs, so grad(psum) is the axis size for each member (JAX's answer)."""
    x = np.arange(3.0)
    close(ft.vmap(ft.grad(lambda v: lax.psum(v, "i")), axis_name="i")(x), [3.0, 3.0, 3.0])
    close(ft.vmap(ft.grad(lambda v: lax.psum(v ** 2, "i")), axis_name="i")(x), 6 * x)
    close(ft.vmap(ft.grad(lambda v: lax.pmean(v ** 2, "i")), axis_name="i")(x), 2 * x)
    # grad outside vmap: the same numbers (a reduce_sum, transposed to a broadcast).
    close(ft.grad(lambda v: ft.vmap(lambda w: lax.psum(w ** 2, "i"), axis_name="i")(v)
                  .sum())(x), 6 * x)


def test_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x = _x((3,), seed=6)
    for ours, theirs in [
            (lambda v: lax.psum(v ** 2, "i"), lambda v: jax.lax.psum(v ** 2, "i")),
            (lambda v: lax.pmean(fnp.sin(v), "i"),
             lambda v: jax.lax.pmean(jax.numpy.sin(v), "i")),
            (lambda v: lax.all_gather(v, "i")[1] * v,
             lambda v: jax.lax.all_gather(v, "i")[1] * v)]:
        close(ft.vmap(ft.grad(ours), axis_name="i")(x),
              np.asarray(jax.vmap(jax.grad(theirs), axis_name="i")(x)))


def test_pmax_jvp_shares_ties():
    # pmax's tangent (JAX has none): shared equally among the members attaining the maximum.
    x = np.array([1.0, 3.0, 3.0])
    t = np.array([0.5, 1.0, 2.0])
    _, jt = ft.jvp(ft.vmap(lambda v: lax.pmax(v, "i"), axis_name="i"), (x,), (t,))
    close(jt, [1.5, 1.5, 1.5])
    x = _x((4, 3), seed=7)
    f = ft.vmap(lambda v: lax.pmin(fnp.sin(v), "i") * v, axis_name="i")
    np.testing.assert_allclose(ft.jvp(f, (x,), (t[:3] * np.ones((4, 3)),))[1],
                               _central_jvp(f, x, t[:3] * np.ones((4, 3))), rtol=1e-6,
                               atol=1e-7)


# --- jit and control flow ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_jit_matches_the_interpreter(dtype):
    x = _x((4, 3), dtype, seed=8)
    f = ft.vmap(_model, axis_name="i")
    want = f(x)
    close(ft.jit(f)(x), want, dtype)
    close(ft.vmap(ft.jit(_model), axis_name="i")(x), want, dtype)
    close(ft.jit(ft.grad(lambda v: fnp.sum(f(v))))(x), ft.grad(lambda v: fnp.sum(f(v)))(x),
          dtype)


def test_jit_with_unbatched_operands_still_reduces():
    # No operand of the jitted call is batched, but its psum depends on the axis size.
    g = ft.jit(lambda c: lax.psum(c, "i"))
    out = ft.vmap(lambda v: g(np.ones(2)) + 0 * v, axis_name="i")(np.zeros((3, 2)))
    close(out, np.full((3, 2), 3.0))
    gather = ft.jit(lambda c: lax.all_gather(c, "i", axis=1))
    stacked = ft.vmap(lambda v: gather(np.ones(2)) + 0 * v, axis_name="i")(np.zeros((3, 2, 3)))
    close(stacked, np.ones((3, 2, 3)))


def test_collectives_inside_control_flow():
    x = _x((4, 3), seed=9)

    def body(i, c):
        return 0.5 * lax.pmean(c, "i") + 0.5 * c

    f = ft.vmap(lambda v: lax.fori_loop(0, 3, body, v), axis_name="i")
    want = x.copy()
    for _ in range(3):
        want = 0.5 * want.mean(0) + 0.5 * want
    close(f(x), want)
    close(ft.jit(f)(x), want)

    g = ft.vmap(lambda v: lax.cond(v[0] > 0, lambda w: lax.psum(w, "i"), lambda w: -w, v),
                axis_name="i")
    want = np.where(x[:, :1] > 0, x.sum(0), -x)
    close(g(x), want)

    def step(c, row):
        return c + lax.psum(row, "i"), c
    h = ft.vmap(lambda v: lax.scan(step, 0.0, v)[0], axis_name="i")
    close(h(x), np.full(4, x.sum()))


# --- pmap in a one-process world -----------------------------------------------------------------

def test_pmap_in_a_single_process_world():
    assert ft.process_count() == 1 and ft.process_index() == 0
    assert ft.device_count() == 1 and ft.local_device_count() == 1
    x = _x((1, 3), seed=10)
    f = ft.pmap(lambda v: lax.psum(v ** 2, "i") + lax.axis_index("i"), axis_name="i")
    close(f(x), x ** 2)
    close(ft.grad(lambda v: fnp.sum(f(v)))(x), 2 * x)
    close(ft.pmap(ft.grad(lambda v: lax.pmean(fnp.sum(v ** 2), "i")), axis_name="i")(x), 2 * x)
    close(ft.pmap(lambda a, k: a * k, axis_name="i", in_axes=(0, None))(x, 3.0), 3 * x)
    close(ft.pmap(lambda a, k: a * k, static_broadcasted_argnums=1)(x, 2.0), 2 * x)
    close(ft.pmap(lambda a: a.T, axis_name="i", in_axes=1, out_axes=1)(x.T), x.T)
    with pytest.raises(ValueError, match="local_device_count"):
        f(np.ones((2, 3)))


def test_pmap_mpi_equations_in_the_program():
    x = np.ones((1, 2))
    text = str(ft.make_jaxpr(ft.pmap(lambda v: lax.psum(v, "i"), axis_name="i"))(x))
    assert "psum" in text and "mpi=True" in text


def test_distributed_helpers_in_one_process(tmp_path):
    d = ft.distributed
    data = {"x": np.arange(10).reshape(5, 2), "y": np.arange(5)}
    part = d.shard_by_process(data)
    assert part["x"].shape == (5, 2) and part["y"].tolist() == list(range(5))
    p = {"w": np.ones((2, 2)), "b": np.zeros(2)}
    out = d.broadcast_one_to_all(p)
    close(out["w"], p["w"])
    g = d.gather_to_process_0({"loss": np.float64(1.5)})
    assert g["loss"].shape == (1,) and g["loss"][0] == 1.5
    path = d.save_on_process_0(str(tmp_path / "ckpt.npz"), p)
    with np.load(path) as f:
        close(f["['w']"], p["w"])
    k = ft.random.PRNGKey(0)
    np.testing.assert_array_equal(d.process_key(k), ft.random.fold_in(k, 0))


def test_jit_with_unbatched_operands_per_member_results_are_an_error():
    g = ft.jit(lambda c: lax.axis_index("i") + c)
    with pytest.raises(ValueError, match="differs from member to member"):
        ft.vmap(lambda v: g(np.int32(1)) + v, axis_name="i")(np.zeros(3, np.int32))
    # With a batched operand the same function works.
    out = ft.vmap(lambda v: g(v), axis_name="i")(np.zeros(3, np.int32))
    assert out.tolist() == [0, 1, 2]


def test_a_jitted_function_under_named_and_unnamed_inner_vmaps():
    """The same jitted program batched once by an unnamed vmap inside vmap(axis_name="i") and
    once by vmap(axis_name="i") inside an unnamed one: two different programs."""
    x = _x((3, 3, 2), seed=11)
    g = ft.jit(lambda v: lax.psum(v, "i"))
    outer = ft.vmap(lambda rows: ft.vmap(g)(rows), axis_name="i")
    inner = ft.vmap(lambda rows: ft.vmap(g, axis_name="i")(rows))
    for _ in range(2):
        close(outer(x), np.broadcast_to(x.sum(0), x.shape))
        close(inner(x), np.broadcast_to(x.sum(1, keepdims=True), x.shape))
    loop = ft.vmap(lambda rows: ft.vmap(
        lambda v: lax.fori_loop(0, 2, lambda i, c: lax.pmean(c, "i") + 1.0, v))(rows),
        axis_name="i")
    close(loop(x), np.broadcast_to(x.mean(0) + 2.0, x.shape))
