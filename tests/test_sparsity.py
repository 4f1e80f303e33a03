"""Sparsity detection, colouring, sparse Jacobians/Hessians and chain accumulation.

Detection is checked against dense Jacobians (jacfwd) at drawn inputs: the detected pattern must
contain every nonzero, for every primitive of the registry (cases from tests/primitive_cases/)
and for control flow, jit calls and custom rules; structured programs must give their exact
pattern. Colourings are checked for validity; sparse Jacobians and Hessians against dense ones
and against central finite differences; chain Jacobians against jacfwd and jacrev.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.core.primitive import registry
from functrans.transforms import coloring
from functrans.transforms.sparsity import conservative_primitives

from primitive_cases import all_strategies

STRATEGIES = all_strategies()
SETTINGS = settings(max_examples=6, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
COVERED_BELOW = {"jit", "custom_jvp_call", "custom_vjp_call", "custom_lin", "checkpoint",
                 "remat_lin", "cond", "while_loop", "scan"}
PRIMS = sorted(n for n in registry if n not in COVERED_BELOW)

# Modules whose primitives all declare a sparsity rule; of those, only these are conservative
# (a superset: opaque user functions, custom_lin's backward function and remat_lin's
# recomputation, count as dense). Primitives of other modules without a rule get the generic
# dense fallback, which test_pattern_contains_every_nonzero checks like any rule.
RULE_MODULES = ["functrans.primitives.elementwise", "functrans.primitives.bits",
                "functrans.primitives.shape", "functrans.primitives.indexing",
                "functrans.primitives.reductions", "functrans.primitives.contraction",
                "functrans.primitives.sorting", "functrans.primitives.control_flow",
                "functrans.primitives.windowed", "functrans.primitives.convolution",
                "functrans.transforms.jit_call", "functrans.transforms.custom",
                "functrans.transforms.checkpoint_policies"]
CONSERVATIVE_BY_DESIGN = {"custom_lin", "remat_lin", "remat_saved"}


def dense_nonzeros(f, x):
    j = np.asarray(ft.jacfwd(f)(x))
    out_size = int(np.prod(j.shape[:j.ndim - np.ndim(x)], dtype=np.int64))
    return np.abs(j.reshape(out_size, np.size(x))) > 0


def assert_contains(pattern, nonzeros, what=""):
    p = pattern.toarray()
    assert p.shape == nonzeros.shape, f"{what}: pattern {p.shape} vs Jacobian {nonzeros.shape}"
    missed = np.argwhere(nonzeros & ~p)
    assert not len(missed), f"{what}: the pattern misses nonzeros at {missed[:5].tolist()}"


# --- every primitive ------------------------------------------------------------------------------

def _float_args(case):
    nums = case.diff_argnums
    if nums is None:
        nums = tuple(i for i, a in enumerate(case.args) if np.asarray(a).dtype == np.float64)
    return tuple(i for i in nums if np.asarray(case.args[i]).dtype == np.float64)


def _flat_primitive(name, case, nums):
    """x (all differentiated args raveled and concatenated) -> the float outputs concatenated."""
    shapes = [np.shape(case.args[i]) for i in nums]
    sizes = [int(np.prod(s)) for s in shapes]

    def f(x):
        args, off = list(case.args), 0
        for i, s, n in zip(nums, shapes, sizes):
            args[i] = fnp.reshape(x[off:off + n], s)
            off += n
        out = registry[name].bind(*args, **case.params)
        outs = list(out) if registry[name].multiple_results else [out]
        outs = [fnp.ravel(o) for o in outs if np.dtype(o.dtype).kind == "f"]
        return fnp.concatenate(outs) if outs else fnp.zeros(0)
    x = np.concatenate([np.asarray(case.args[i], np.float64).ravel() for i in nums])
    return f, x


@pytest.mark.parametrize("name", PRIMS)
def test_pattern_contains_every_nonzero(name):
    if name not in STRATEGIES:
        pytest.skip(f"no cases for {name}")
    prim = registry[name]

    @SETTINGS
    @given(STRATEGIES[name])
    def run(case):
        nums = _float_args(case)
        if not nums or prim.not_differentiable:
            return
        f, x = _flat_primitive(name, case, nums)
        rng = np.random.default_rng(0)
        # the drawn point and a perturbed one (drawn points may sit on zeros that hide entries)
        for point in (x, x + 0.1 * rng.standard_normal(x.shape)):
            pattern = ft.jacobian_sparsity(f)(point)
            assert pattern.dtype == np.bool_ and isinstance(pattern, sp.csr_array)
            assert_contains(pattern, dense_nonzeros(f, point), name)
    run()


# Linear primitives whose Jacobian entries are sums of ones (never cancel): the pattern must equal
# the dense Jacobian's nonzeros exactly, at any point.
EXACT_LINEAR = ["reduce_window_sum", "reduce_sum", "cumsum", "pad", "gather", "scatter_add",
                "concatenate", "broadcast_in_dim", "transpose", "slice", "rev"]


@pytest.mark.parametrize("name", EXACT_LINEAR)
def test_linear_patterns_are_exact(name):
    if name not in STRATEGIES:
        pytest.skip(f"no cases for {name}")

    @SETTINGS
    @given(STRATEGIES[name])
    def run(case):
        nums = _float_args(case)
        if not nums:
            return
        f, x = _flat_primitive(name, case, nums)
        pattern = ft.jacobian_sparsity(f)(x)
        np.testing.assert_array_equal(pattern.toarray(), dense_nonzeros(f, x), err_msg=name)
    run()


@pytest.mark.parametrize("name", ["dot_general", "conv_general_dilated", "mul", "reduce_prod"])
def test_bilinear_patterns_are_exact_at_generic_points(name):
    if name not in STRATEGIES:
        pytest.skip(f"no cases for {name}")

    @SETTINGS
    @given(STRATEGIES[name])
    def run(case):
        nums = _float_args(case)
        if not nums:
            return
        f, x = _flat_primitive(name, case, nums)
        # nonzero, generic values: no entry of the Jacobian vanishes by accident
        x = np.abs(x) + np.random.default_rng(0).uniform(0.5, 1.5, x.shape)
        np.testing.assert_array_equal(ft.jacobian_sparsity(f)(x).toarray(),
                                      dense_nonzeros(f, x), err_msg=name)
    run()


def _declared_in(module_name):
    import importlib
    from functrans.core.primitive import Primitive
    module = importlib.import_module(module_name)
    return {v.name for v in vars(module).values() if isinstance(v, Primitive)}


@pytest.mark.parametrize("module", RULE_MODULES)
def test_primitive_families_declare_sparsity_rules(module):
    names = _declared_in(module)
    assert names, f"no primitives found in {module}"
    missing = sorted(n for n in names if registry[n].sparsity is None)
    assert not missing, f"{module}: primitives without a sparsity rule: {missing}"
    conservative = {n for n in names if not registry[n].sparsity_exact}
    assert conservative <= CONSERVATIVE_BY_DESIGN, \
        f"{module}: unexpectedly conservative rules: {sorted(conservative)}"


def test_conservative_list():
    """The primitives whose patterns are supersets (reported in the issue notes)."""
    got = set(conservative_primitives())
    assert CONSERVATIVE_BY_DESIGN <= got
    assert not got & {"add", "mul", "dot_general", "gather", "reduce_sum", "scan", "sort"}


# --- exact patterns of structured programs ------------------------------------------------------

def diffusion_reaction(u):
    """1-D residual: u'' (Dirichlet zero ends) + exp(u)."""
    left = fnp.concatenate([fnp.zeros(1, u.dtype), u[:-1]])
    right = fnp.concatenate([u[1:], fnp.zeros(1, u.dtype)])
    return left - 2.0 * u + right + 0.5 * fnp.exp(u)


def stencil_2d(u):
    n = int(round(np.sqrt(u.shape[0])))
    g = lax.pad(u.reshape(n, n), 0.0, [(1, 1, 0), (1, 1, 0)])
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return (lap + fnp.sin(g[1:-1, 1:-1])).ravel()


def laplacian_1d(n):
    return sp.diags([1, 1, 1], [-1, 0, 1], shape=(n, n), dtype=bool).tocsr()


def test_tridiagonal_pattern_is_exact():
    n = 300
    p = ft.jacobian_sparsity(diffusion_reaction)(np.random.default_rng(0).random(n))
    assert (p != laplacian_1d(n)).nnz == 0


def test_five_point_stencil_pattern_is_exact():
    n = 12
    lap = sp.kron(laplacian_1d(n), sp.eye(n)) + sp.kron(sp.eye(n), laplacian_1d(n))
    p = ft.jacobian_sparsity(stencil_2d)(np.ones(n * n))
    assert (p != lap.astype(bool)).nnz == 0


@pytest.mark.parametrize("fun, expected", [
    (lambda x: fnp.cumsum(x), np.tril(np.ones((5, 5), bool))),
    (lambda x: fnp.cumsum(x[::-1])[::-1], np.triu(np.ones((5, 5), bool))),
    (lambda x: x[np.array([4, 0, 0])], np.eye(5, dtype=bool)[[4, 0, 0]]),
    (lambda x: x.reshape(5, 1).T.ravel() * 2.0, np.eye(5, dtype=bool)),
    (lambda x: fnp.sum(x) * fnp.ones(2), np.ones((2, 5), bool)),
    (lambda x: x.reshape(1, 5) @ np.eye(5), np.eye(5, dtype=bool)),   # known zeros of a constant
    (lambda x: fnp.concatenate([x[3:], fnp.zeros(2)]), np.eye(5, k=3, dtype=bool)[:4]),
    (lambda x: lax.dynamic_slice(x, (2,), (2,)), np.eye(5, k=2, dtype=bool)[:2]),
    (lambda x: fnp.zeros(5).at[np.array([1, 3])].set(x[:2]),
     np.array([[0, 0, 0, 0, 0], [1, 0, 0, 0, 0], [0] * 5, [0, 1, 0, 0, 0], [0] * 5], bool)),
    (lambda x: fnp.floor(x) + 1.0, np.zeros((5, 5), bool)),
    (lambda x: lax.stop_gradient(x) * 2.0, np.zeros((5, 5), bool)),
    (lambda x: fnp.max(x.reshape(5, 1), axis=1), np.eye(5, dtype=bool)),
    (lambda x: fnp.sort(x.reshape(5, 1), axis=1).ravel(), np.eye(5, dtype=bool)),
])
def test_structured_patterns_are_exact(fun, expected):
    p = ft.jacobian_sparsity(fun)(np.arange(1.0, 6.0))
    np.testing.assert_array_equal(p.toarray(), expected)


def test_traced_indices_fall_back_to_dense_and_still_contain():
    def f(x):
        order = fnp.argsort(x)            # indices computed from x: unknown to the pattern
        return x[order] * 2.0
    x = np.random.default_rng(3).standard_normal(6)
    p = ft.jacobian_sparsity(f)(x)
    assert_contains(p, dense_nonzeros(f, x), "argsort-gather")
    assert p.nnz == 36


def test_pytree_arguments_and_outputs():
    def f(a, b):
        return {"s": a * b[:3], "t": fnp.sum(b)}
    a, b = np.ones(3), np.ones(4)
    p = ft.jacobian_sparsity(f, argnums=(0, 1))(a, b)
    assert p.shape == (4, 7)
    want = np.zeros((4, 7), bool)
    want[:3, :3] = np.eye(3, dtype=bool)
    want[:3, 3:6] = np.eye(3, dtype=bool)
    want[3, 3:] = True
    np.testing.assert_array_equal(p.toarray(), want)
    # argnums=1 only: a is a constant
    np.testing.assert_array_equal(ft.jacobian_sparsity(f, argnums=1)(a, b).toarray(), want[:, 3:])


def test_non_differentiated_index_argument_is_used():
    f = lambda x, idx: x[idx]         # noqa: E731
    p = ft.jacobian_sparsity(f)(np.ones(4), np.array([2, 1]))
    np.testing.assert_array_equal(p.toarray(), np.eye(4, dtype=bool)[[2, 1]])
    p = ft.jacobian_sparsity(f)(np.ones(4), np.array([0, 3]))     # another value: re-detected
    np.testing.assert_array_equal(p.toarray(), np.eye(4, dtype=bool)[[0, 3]])


# --- control flow, jit, custom rules ---------------------------------------------------------------

def _check_program(f, x, exact=None, jac=ft.jacfwd):
    p = ft.jacobian_sparsity(f)(x)
    nz = np.abs(np.asarray(jac(f)(x)).reshape(-1, np.size(x))) > 0
    assert_contains(p, nz, getattr(f, "__name__", "f"))
    if exact is not None:
        np.testing.assert_array_equal(p.toarray(), exact)
    return p


def test_cond_takes_the_union_of_branches():
    def f(x):
        return lax.cond(x[0] > 0, lambda v: v * 2.0, lambda v: fnp.roll(v, 1), x)
    x = np.array([1.0, 2.0, 3.0])
    _check_program(f, x, exact=np.eye(3, dtype=bool) | np.roll(np.eye(3, dtype=bool), 1, 0))
    _check_program(f, -x)


def test_while_loop_fixed_point():
    def f(x):
        def body(c):
            i, v = c
            return i + 1, v + 0.5 * fnp.roll(v, 1)
        return lax.while_loop(lambda c: c[0] < 2, body, (0, x))[1]
    x = np.arange(1.0, 7.0)
    p = _check_program(f, x)
    assert p.nnz == 36          # any trip count: the fixed point is dense for a cyclic shift


def test_while_loop_saturates_after_a_bounded_number_of_rounds(monkeypatch):
    from functrans.transforms import sparsity
    monkeypatch.setattr(sparsity, "FIXED_POINT_ROUNDS", 1)

    def f(x, y):
        s = y[0]

        def body(c):
            i, v = c
            return i + 1, v + s * fnp.roll(v, 1)
        return lax.while_loop(lambda c: c[0] < 2, body, (0, x[:3]))[1]
    p = ft.jacobian_sparsity(f, argnums=(0, 1))(np.arange(1.0, 5.0), np.array([0.5, 2.0]))
    want = np.zeros((3, 6), bool)
    want[:, [0, 1, 2, 4]] = True        # x[:3] and y[0]; never x[3] or y[1]
    np.testing.assert_array_equal(p.toarray(), want)


def test_scan_is_followed_step_by_step():
    def f(xs):
        def body(c, x):
            return c * x, c + x
        return lax.scan(body, 1.0, xs)[1]
    _check_program(f, np.arange(1.0, 6.0), exact=np.tril(np.ones((5, 5), bool)))


def test_scan_fixed_point_for_long_scans(monkeypatch):
    from functrans.primitives import control_flow
    monkeypatch.setattr(control_flow, "SCAN_SPARSITY_UNROLL", 0)

    def f(xs):
        return lax.scan(lambda c, x: (c + x, c * x), 0.0, xs)[1]
    _check_program(f, np.arange(1.0, 6.0))


def test_fori_loop_with_static_bounds():
    def f(x):
        return lax.fori_loop(0, 2, lambda i, v: v + fnp.roll(v, 1) ** 2, x)
    x = np.arange(1.0, 7.0)
    expected = np.zeros((6, 6), bool)
    for i in range(6):
        expected[i, [i, i - 1, i - 2]] = True
    _check_program(f, x, exact=expected)


def test_jit_call_is_entered():
    inner = ft.jit(lambda v: fnp.sin(v)[::-1] * v[::-1])
    _check_program(lambda x: inner(x) + 1.0, np.arange(1.0, 5.0),
                   exact=np.eye(4, dtype=bool)[::-1])


def test_custom_jvp_and_vjp_use_the_primal_program():
    @ft.custom_jvp
    def f(x):
        return x * fnp.roll(x, 1)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), t * fnp.roll(x, 1) + x * fnp.roll(t, 1)

    @ft.custom_vjp
    def g(x):
        return fnp.sin(x)

    g.defvjp(lambda x: (fnp.sin(x), x), lambda x, ct: (fnp.cos(x) * ct,))
    x = np.arange(1.0, 5.0)
    want = np.eye(4, dtype=bool) | np.roll(np.eye(4, dtype=bool), 1, 0)
    _check_program(f, x, exact=want)
    _check_program(g, x, exact=np.eye(4, dtype=bool), jac=ft.jacrev)
    _check_program(ft.checkpoint(lambda v: fnp.exp(v) * 2.0), x, exact=np.eye(4, dtype=bool))
    _check_program(ft.checkpoint(lambda v: fnp.sin(v[::-1]) * 2.0,
                                 policy=ft.checkpoint_policies.nothing_saveable),
                   x, exact=np.eye(4, dtype=bool)[::-1])


def test_hessian_sparsity():
    def f(x):
        return fnp.sum(x[1:] * x[:-1] ** 2) + x[0] * fnp.sum(fnp.sin(x))
    x = np.random.default_rng(4).standard_normal(6)
    p = ft.hessian_sparsity(f)(x)
    h = np.abs(np.asarray(ft.hessian(f)(x))) > 0
    assert_contains(p, h, "hessian")
    np.testing.assert_array_equal(p.toarray(), p.toarray().T)
    assert not p.toarray()[2, 5]


# --- colouring -----------------------------------------------------------------------------------

def _random_pattern(seed, m, n, density):
    return sp.random(m, n, density=density, random_state=seed, format="csr").astype(bool)


@pytest.mark.parametrize("seed", range(12))
def test_colourings_are_valid(seed):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    p = _random_pattern(seed, m, n, rng.uniform(0.02, 0.5))
    for ordering in ("largest_first", "smallest_last"):
        c = coloring.color_columns(p, (ordering,))
        assert coloring.is_proper_column_coloring(p, c.colors)
        r = coloring.color_rows(p, (ordering,))
        assert coloring.is_proper_column_coloring(p.T.tocsr(), r.colors)
        sym = (p[:min(m, n), :min(m, n)] + p[:min(m, n), :min(m, n)].T).tocsr()
        s = coloring.star_color(sym, (ordering,))
        assert coloring.is_star_coloring(sym, s.colors)


def test_colouring_checks_can_fail():
    p = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1]], bool))
    assert not coloring.is_proper_column_coloring(p, np.array([0, 0, 1]))
    path = sp.csr_array(np.eye(4, k=1, dtype=bool) | np.eye(4, k=-1, dtype=bool))
    assert not coloring.is_star_coloring(path, np.array([0, 1, 0, 1]))   # two-coloured P4
    assert coloring.is_star_coloring(path, np.array([0, 1, 2, 0]))


def test_colour_counts_of_known_patterns():
    assert coloring.color_columns(laplacian_1d(1000)).n_colors == 3
    n = 30
    lap = (sp.kron(laplacian_1d(n), sp.eye(n)) + sp.kron(sp.eye(n), laplacian_1d(n))).tocsr()
    c = coloring.color_columns(lap.astype(bool))
    assert c.n_colors <= 5 and coloring.is_proper_column_coloring(lap, c.colors)
    arrow = np.eye(50, dtype=bool)
    arrow[0, :] = arrow[:, 0] = True
    assert coloring.star_color(sp.csr_array(arrow)).n_colors == 2
    assert coloring.color_columns(sp.csr_array(arrow)).n_colors == 50


# --- sparse Jacobians and Hessians ---------------------------------------------------------------

@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_jacobian_equals_dense(mode, dtype):
    x = np.random.default_rng(5).random(40).astype(dtype)
    jf = ft.jacobian(diffusion_reaction, sparsity="auto", mode=mode)
    j = jf(x)
    assert isinstance(j, sp.csr_array) and j.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(j.toarray(), np.asarray(ft.jacfwd(diffusion_reaction)(x)),
                               rtol=tol, atol=tol)
    assert jf.last_decision.mode in ("fwd", "rev")
    assert (jf.last_decision.fwd_colors or jf.last_decision.rev_colors) == 3
    assert "colour" in str(jf.last_decision)


def test_sparse_jacobian_against_finite_differences():
    x = np.random.default_rng(6).random(25)
    j = ft.jacobian(stencil_2d, sparsity="auto")(x).toarray()
    eps = 1e-6
    for k in range(25):
        e = np.zeros(25)
        e[k] = eps
        fd = (np.asarray(stencil_2d(x + e)) - np.asarray(stencil_2d(x - e))) / (2 * eps)
        np.testing.assert_allclose(j[:, k], fd, rtol=1e-6, atol=1e-8)


def test_sparse_jacobian_rectangular_pytrees_and_given_pattern():
    def f(a, b):
        return fnp.concatenate([a * b[:3], fnp.sum(b ** 2)[None], fnp.sum(a) * b])
    a, b = np.arange(1.0, 4.0), np.arange(1.0, 5.0)
    dense = np.concatenate(ft.jacfwd(f, argnums=(0, 1))(a, b), axis=1)
    for mode in ("fwd", "rev", "auto"):
        j = ft.jacobian(f, argnums=(0, 1), sparsity="auto", mode=mode)(a, b)
        np.testing.assert_allclose(j.toarray(), dense, rtol=1e-12)
    pattern = np.abs(dense) > 0
    j = ft.jacobian(f, argnums=(0, 1), sparsity=pattern)(a, b)
    np.testing.assert_allclose(j.toarray(), dense, rtol=1e-12)
    with pytest.raises(ValueError, match="sparsity pattern has shape"):
        ft.jacobian(f, argnums=(0, 1), sparsity=pattern[:, 1:])(a, b)


def test_a_given_pattern_that_misses_a_nonzero_is_refused():
    x = np.random.default_rng(10).random(12)
    too_thin = sp.eye(12, dtype=bool, format="csr")          # the off-diagonals are missing
    with pytest.raises(ValueError, match="misses nonzeros"):
        ft.jacobian(diffusion_reaction, sparsity=too_thin)(x)
    with pytest.raises(ValueError, match="misses nonzeros"):
        ft.hessian(lambda v: fnp.sum(v[1:] * v[:-1]), sparsity=too_thin)(x)
    h = ft.hessian(lambda v: fnp.sum(v[1:] * v[:-1] ** 2), sparsity=laplacian_1d(12))(x)
    np.testing.assert_allclose(
        h.toarray(), np.asarray(ft.hessian(lambda v: fnp.sum(v[1:] * v[:-1] ** 2))(x)))


def test_reverse_is_chosen_for_a_dense_row():
    def f(x):      # an arrowhead Jacobian: forward needs n colours, reverse 2
        return fnp.concatenate([fnp.sum(x)[None], x[1:] ** 2])
    x = np.arange(1.0, 31.0)
    jf = ft.jacobian(f, sparsity="auto")
    j = jf(x)
    assert jf.last_decision.mode == "rev", str(jf.last_decision)
    assert jf.last_decision.rev_colors == 2 and jf.last_decision.fwd_colors == 30
    np.testing.assert_allclose(j.toarray(), np.asarray(ft.jacfwd(f)(x)), rtol=1e-12)


def test_sparse_jacobian_has_aux_and_cache():
    calls = []

    def f(x):
        calls.append(1)
        return diffusion_reaction(x), fnp.sum(x)
    jf = ft.jacobian(f, sparsity="auto", has_aux=True)
    x = np.random.default_rng(7).random(10)
    j, aux = jf(x)
    np.testing.assert_allclose(aux, x.sum())
    n_traces = len(calls)
    j2, _ = jf(x + 1.0)
    assert len(jf.plans) == 1
    np.testing.assert_allclose(j2.toarray(), np.asarray(ft.jacfwd(diffusion_reaction)(x + 1.0)))
    assert len(calls) - n_traces < n_traces      # no new detection for the same signature


def test_sparse_jacobian_of_a_jitted_function(fresh_jit_cache_dir):
    jf = ft.jacobian(ft.jit(diffusion_reaction), sparsity="auto")
    x = np.random.default_rng(8).random(30)
    for point in (x, x * 2):
        np.testing.assert_allclose(jf(point).toarray(),
                                   np.asarray(ft.jacfwd(diffusion_reaction)(point)), rtol=1e-12)
    assert len(jf.plans) == 1


def test_sparse_jacobian_refuses_tracing():
    jf = ft.jacobian(diffusion_reaction, sparsity="auto")
    with pytest.raises(TypeError, match="cannot be traced"):
        ft.jit(lambda x: jf(x).sum())(np.ones(4))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_hessian_equals_dense(dtype):
    def f(x):      # banded plus an arrowhead
        return fnp.sum(x[1:] ** 2 * x[:-1]) + fnp.sum(fnp.cos(x[2:] * x[:-2])) + \
            x[0] * fnp.sum(x ** 2)
    x = np.random.default_rng(9).random(30).astype(dtype)
    hf = ft.hessian(f, sparsity="auto")
    h = hf(x)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(h.toarray(), np.asarray(ft.hessian(f)(x)), rtol=tol, atol=tol)
    assert hf.last_decision.mode == "star"
    n_colors = int(hf.last_decision.reason.split(":")[1].split()[0])
    assert n_colors < 10


def test_sparse_hessian_needs_a_scalar():
    with pytest.raises(TypeError, match="must return a scalar"):
        ft.hessian(lambda x: x ** 2, sparsity="auto")(np.ones(3))


# --- chain accumulation -----------------------------------------------------------------------------

def _chain_fun(dims, seed=0):
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((dims[i + 1], dims[i])) / np.sqrt(dims[i])
          for i in range(len(dims) - 1)]

    def f(x):
        for w in ws[:-1]:
            x = fnp.tanh(w @ x)
        return ws[-1] @ x
    return f


def test_chain_jacobian_matches_both_modes():
    f = _chain_fun([8, 40, 2, 40, 8])
    x = np.random.default_rng(1).standard_normal(8)
    jf = ft.jacobian(f, mode="chain")
    j = jf(x)
    np.testing.assert_allclose(j, np.asarray(ft.jacfwd(f)(x)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(j, np.asarray(ft.jacrev(f)(x)), rtol=1e-10, atol=1e-12)
    plan = jf.last_plan
    assert plan.seconds <= min(plan.fwd_seconds, plan.rev_seconds)
    assert min(c.size for c in plan.cuts) == 2
    text = str(ft.explain_chain(f)(x))
    assert "bracketing" in text and "pure forward" in text
    measured = ft.explain_chain(f, measure=True, repeats=1)(x)
    assert set(measured.measured) == {"chain", "forward", "reverse"}
    assert "measured chain" in str(measured)


def test_chain_plan_splits_at_the_bottleneck():
    f = _chain_fun([200, 2000, 10, 2000, 200])
    plan = ft.explain_chain(f)(np.ones(200))
    assert plan.seconds * 2 < min(plan.fwd_seconds, plan.rev_seconds)
    # the bracketing passes through the width-10 cut
    assert any(c.size == 10 for c in plan.cuts)
    narrow = {i for i, c in enumerate(plan.cuts) if c.size == 10}
    step = plan.steps
    assert step[0] in ("split", "pushf", "pushb") and step[2] in narrow


@pytest.mark.parametrize("fun, x", [
    (lambda x: x, np.ones(3)),
    (lambda x: fnp.zeros(2) * 1.0, np.ones(3)),
    (lambda x: fnp.sum(x ** 2), np.arange(3.0)),
    (lambda x: fnp.sin(x).reshape(2, 3) * x.reshape(2, 3)[::-1], np.arange(6.0)),
    (lambda x: lax.fori_loop(0, 3, lambda i, v: fnp.sin(v) * 1.5, x), np.arange(4.0)),
])
def test_chain_jacobian_edge_cases(fun, x):
    got = ft.jacobian(fun, mode="chain")(x)
    want = np.asarray(ft.jacfwd(fun)(x))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_chain_refuses_sparsity_and_tracing():
    with pytest.raises(ValueError, match="does not take sparsity"):
        ft.jacobian(fnp.sin, mode="chain", sparsity="auto")
    with pytest.raises(TypeError, match="cannot be"):
        ft.jit(lambda x: ft.jacobian(fnp.sin, mode="chain")(x))(np.ones(2))
