"""jit: compositions with the other transforms (checked against the interpreter), pytrees and
Python scalars, static and donated arguments, cache misses, inspection and lowering errors."""

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.backend import LoweringError
from functrans.core.primitive import Primitive, registry
from functrans.core.typecheck import check_program


pytestmark = pytest.mark.usefixtures("fresh_jit_cache_dir")


rng = np.random.default_rng(0)
X = rng.standard_normal((5, 3))
W = rng.standard_normal((3, 4))
XB = rng.standard_normal((6, 5, 3))


def f(x, w):
    h = x @ w
    return fnp.sum(fnp.tanh(h) * 2.0 + fnp.maximum(h, 0.0) - fnp.exp(-h * h))


def close(a, b, tol=1e-10):
    """Same tree structure, same number of leaves, and each leaf the same shape, dtype and
    values (NaN != NaN: no test here expects a NaN)."""
    la, ta = ft.tree_util.tree_flatten(a)
    lb, tb = ft.tree_util.tree_flatten(b)
    assert len(la) == len(lb), f"{len(la)} leaves != {len(lb)} leaves"
    assert ta == tb, f"tree structure {ta} != {tb}"
    for u, v in zip(la, lb):
        u, v = np.asarray(u), np.asarray(v)
        assert u.shape == v.shape, f"shape {u.shape} != {v.shape}"
        assert u.dtype == v.dtype, f"dtype {u.dtype} != {v.dtype}"
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


def test_close_compares_leaf_counts_shapes_and_dtypes():
    with pytest.raises(AssertionError):
        close((np.ones(2),), (np.ones(2), np.ones(2)))
    with pytest.raises(AssertionError):
        close(np.ones(1), np.float64(1.0))
    with pytest.raises(AssertionError):
        close(np.ones(2, np.float32), np.ones(2))


# --- compositions, against the interpreter -----------------------------------------------------

def test_jit_value():
    close(ft.jit(f)(X, W), f(X, W))


def test_grad_of_jit():
    close(ft.grad(ft.jit(f), argnums=(0, 1))(X, W), ft.grad(f, argnums=(0, 1))(X, W))


def test_jit_of_grad():
    close(ft.jit(ft.grad(f, argnums=(0, 1)))(X, W), ft.grad(f, argnums=(0, 1))(X, W))


def test_jit_of_grad_of_jit():
    close(ft.jit(ft.grad(ft.jit(f), argnums=1))(X, W), ft.grad(f, argnums=1)(X, W))


def test_vmap_of_jit_and_jit_of_vmap():
    g = lambda x, w: fnp.tanh(x @ w) * fnp.sum(x)  # noqa: E731
    want = ft.vmap(g, in_axes=(0, None))(XB, W)
    close(ft.vmap(ft.jit(g), in_axes=(0, None))(XB, W), want)
    close(ft.jit(ft.vmap(g, in_axes=(0, None)))(XB, W), want)
    close(ft.vmap(ft.jit(g), in_axes=(1, None), out_axes=1)(XB.transpose(1, 0, 2), W),
          want.transpose(1, 0, 2))


def test_per_example_gradients():
    want = ft.vmap(ft.grad(f, argnums=1), in_axes=(0, None))(XB, W)
    close(ft.jit(ft.vmap(ft.grad(f, argnums=1), in_axes=(0, None)))(XB, W), want)
    close(ft.vmap(ft.grad(ft.jit(f), argnums=1), in_axes=(0, None))(XB, W), want)


def test_nested_jit():
    inner = ft.jit(f)
    outer = ft.jit(lambda x, w: inner(x, w) * 2.0 + inner(x * 2.0, w))
    close(outer(X, W), f(X, W) * 2.0 + f(X * 2.0, W))
    close(ft.grad(outer)(X, W), ft.grad(lambda x, w: f(x, w) * 2.0 + f(x * 2.0, w))(X, W))


def test_jvp_and_linearize_of_jit():
    t = (np.ones_like(X), np.ones_like(W))
    close(ft.jvp(ft.jit(f), (X, W), t), ft.jvp(f, (X, W), t))
    y, lin = ft.linearize(ft.jit(f), X, W)
    y0, lin0 = ft.linearize(f, X, W)
    close(lin(*t), lin0(*t))
    close(lin.T(np.float64(1.5)), lin0.T(np.float64(1.5)))


def test_hessian_of_jit():
    g = lambda w: f(X, w)  # noqa: E731
    close(ft.hessian(ft.jit(g))(W), ft.hessian(g)(W), tol=1e-8)


def test_jit_appears_as_a_call_in_the_program():
    closed = ft.make_jaxpr(lambda x, w: ft.jit(f)(x, w) + 1.0)(X, W)
    check_program(closed)
    assert [e.primitive.name for e in closed.eqns][0] == "jit"
    text = str(closed)
    assert "jit[" in text and "tanh" in text          # the sub-program is printed nested
    closed = ft.make_jaxpr(ft.grad(ft.jit(f)))(X, W)
    check_program(closed)


def test_jit_under_linearize_stages_only_linear_work():
    # The linear program of grad(jit(f)) must call only the tangent part: no tanh in it.
    _, lin = ft.linearize(ft.jit(f), X, W)
    inner = [e for e in lin.program.eqns if e.primitive.name == "jit"]
    assert inner, "the tangent computation is a jit call"
    sub = str(inner[0].params["program"])
    assert "tanh" not in sub and "exp" not in sub


def test_closure_over_outer_tracer():
    def outer(a):
        return ft.jit(lambda x: fnp.sum(x * a))(X)
    close(ft.grad(outer)(2.0), np.sum(X))


def test_custom_jvp_and_checkpoint_inside_jit():
    @ft.custom_jvp
    def softplus(x):
        return fnp.log1p(fnp.exp(x))

    @softplus.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t / (1.0 + fnp.exp(-x))

    g = lambda x: fnp.sum(ft.checkpoint(lambda y: softplus(y) * y)(x))  # noqa: E731
    close(ft.jit(g)(X), g(X))
    close(ft.jit(ft.grad(g))(X), ft.grad(g)(X))


# --- contractions to a scalar: the shape rule's shape, usable further inside jit ------------

CONTRACTIONS = {
    "dot": lambda v, w: fnp.dot(v, w),
    "vdot": lambda v, w: fnp.vdot(v, w),
    "inner": lambda v, w: fnp.inner(v, w),
    "tensordot": lambda v, w: fnp.tensordot(v, w, 1),
    "einsum": lambda v, w: fnp.einsum("i,i->", v, w),
    "matrix_einsum": lambda v, w: fnp.einsum("ij,ij->", v[None], w[None]),
}


@pytest.mark.parametrize("name", sorted(CONTRACTIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 3])
def test_contraction_to_a_scalar_keeps_its_shape(name, dtype, n):
    c = CONTRACTIONS[name]
    v = np.arange(3.0, 3.0 + n, dtype=dtype)
    w = np.arange(-1.0, -1.0 + n, dtype=dtype) * 0.5
    tol = 1e-6 if dtype == np.float32 else 1e-12
    want = c(v, w)
    assert np.shape(want) == ()
    close(ft.jit(c)(v, w), want, tol)

    # used further inside jit: with arrays, scalars and a reduction
    def more(v, w):
        s = c(v, w)
        return s * v + fnp.sin(s), fnp.sum(s * w) + s
    close(ft.jit(more)(v, w), more(v, w), tol)
    close(ft.jit(ft.grad(lambda v: c(v, v)))(v), ft.grad(lambda v: c(v, v))(v), tol)


# --- arguments and results -----------------------------------------------------------------------

def test_pytrees_scalars_kwargs_and_constants():
    const = rng.standard_normal(4)

    @ft.jit
    def h(params, x, scale=1.0):
        return {"y": (x @ params["w"] + params["b"]) * scale + const, "n": [fnp.sum(x), 3.0]}

    params = {"w": W, "b": np.ones(4)}
    out = h(params, X, scale=2.0)
    want = (X @ W + 1.0) * 2.0 + const
    close(out["y"], want)
    close(out["n"][0], X.sum())
    assert set(out) == {"y", "n"} and isinstance(out["n"], list)
    close(h(params, X)["y"], X @ W + 1.0 + const)


def test_float32_stays_float32():
    x = rng.standard_normal((4, 4)).astype(np.float32)
    out = ft.jit(lambda x: fnp.maximum(x * 0.5 + 1.0, 0.0) / 3.0)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.maximum(x * np.float32(0.5) + np.float32(1), 0)
                               / np.float32(3), rtol=1e-6)
    assert "np.float32(0.5)" in ft.jit(lambda x: x * 0.5).lower(x).as_text()


def test_python_scalar_arguments_are_weak():
    g = ft.jit(lambda x, s: x * s)
    x = np.ones(3, np.float32)
    assert g(x, 2.0).dtype == np.float32
    assert g(x, 2).dtype == np.float32
    close(g(x, 2.5), x * 2.5)


def test_static_argnums_argnames_and_decorator_forms():
    @ft.jit(static_argnums=1)
    def power(x, n):
        for _ in range(n - 1):
            x = x * x
        return x
    close(power(X, 3), X ** 4)
    close(power(X, 2), X ** 2)

    @ft.jit(static_argnames="axis")
    def total(x, axis):
        return fnp.sum(x, axis=axis)
    close(total(X, axis=0), X.sum(0))
    close(total(X, axis=1), X.sum(1))
    with pytest.raises(TypeError, match="hashable"):
        ft.jit(lambda x, l: x, static_argnums=1)(X, [1])


def test_donate_argnums_reuses_the_buffer():
    w = np.ones((64, 64), np.float32)
    g = np.full((64, 64), 2.0, np.float32)
    step = ft.jit(lambda w, g: w - 0.5 * g, donate_argnums=0)
    out = step(w, g)
    np.testing.assert_array_equal(out, np.zeros((64, 64), np.float32))
    assert np.shares_memory(out, w), "the donated buffer holds the result"


def test_cache_reuse_and_miss_explanation():
    g = ft.jit(lambda x: ft.tree_util.tree_map(lambda a: a * 2.0, x))
    g(np.ones(3))
    g(np.ones(3))
    assert g.cache_size() == 1 and g.explain_cache_miss() is None
    g(np.ones(4))
    assert "f64[3] to f64[4]" in g.explain_cache_miss()
    g(np.ones(4, np.float32))
    assert "f64[4] to f32[4]" in g.explain_cache_miss()
    g(2.0)
    assert "Python float" in g.explain_cache_miss()
    g({"a": np.ones(3)})
    assert "tree structure" in g.explain_cache_miss()
    assert g.cache_size() == 5
    s = ft.jit(lambda x, k: x * k, static_argnums=1)
    s(np.ones(2), 2)
    s(np.ones(2), 3)
    assert "static argument 'k' changed from 2 to 3" in s.explain_cache_miss()


def test_no_retracing_for_the_same_signature():
    count = []

    @ft.jit
    def g(x):
        count.append(1)
        return x + 1.0
    for _ in range(3):
        g(np.ones(5))
    assert len(count) == 1


# --- inspection and errors -------------------------------------------------------------------------

def test_lower_shows_program_source_and_stats():
    x = rng.standard_normal((8, 4)).astype(np.float32)
    lowered = ft.jit(lambda x, w: fnp.maximum(x @ w + 1.0, 0.0)).lower(x, W.T.astype(np.float32)[:, :3].T.copy().T)
    text = lowered.as_text()
    assert "dot_general" in text and "def driver" in text and "def kernel" in text
    stats = lowered.stats
    assert stats.trace_s >= 0 and stats.codegen_s > 0 and stats.num_eqns >= 3
    assert set(stats.as_dict()) >= {"trace_s", "codegen_s", "numba_s", "numba_init_s"}


def test_elementwise_chains_fuse_into_one_kernel():
    x = np.ones((16, 16), np.float32)
    text = ft.jit(lambda x: fnp.maximum(x * 2.0 - 1.0, 0.0) * x + fnp.abs(x)).lower(x).as_text()
    assert text.count("def kernel") == 1


def test_lowering_error_names_the_primitive_and_equation():
    p = Primitive("test_no_lowering", impl=lambda x: x, shape_rule=lambda x: x)
    try:
        with pytest.raises(LoweringError, match="test_no_lowering.*f64\\[3\\]"):
            ft.jit(lambda x: p.bind(x))(np.ones(3))
    finally:
        del registry["test_no_lowering"]


def test_clear_cache():
    g = ft.jit(lambda x: x - 1.0)
    g(np.ones(2))
    ft.clear_cache(disk=False)
    np.testing.assert_array_equal(g(np.ones(2)), np.zeros(2))


def test_results_survive_later_calls_and_threads():
    # Temporaries live in a workspace reused between calls; results never do.
    g = ft.jit(lambda x: (fnp.tanh(x @ x.T) * 2.0, fnp.sum(x * x, axis=0)))
    a, b = np.ones((40, 30)), np.full((40, 30), 2.0)
    first = g(a)
    keep = [np.copy(r) for r in first]
    g(b)
    for r, k in zip(first, keep):
        np.testing.assert_array_equal(r, k)

    import threading
    want = [g(np.full((40, 30), float(i))) for i in range(4)]
    errors = []

    def work(i):
        for _ in range(20):
            got = g(np.full((40, 30), float(i)))
            if not all(np.array_equal(u, v) for u, v in zip(got, want[i])):
                errors.append(i)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
