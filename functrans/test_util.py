"""Numerical checks of derivatives, for users' functions as for the library's own tests."""
import numpy as np

from . import tree_util
from .transforms.forward import jvp
from .transforms.reverse import vjp

_DEFAULT_TOL = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 2e-2,
                np.dtype(np.complex128): 1e-5, np.dtype(np.complex64): 2e-2}
_DEFAULT_EPS = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 2e-3}


def _random_like(rng, x):
    x = np.asarray(x)
    return rng.standard_normal(x.shape).astype(x.dtype)


def _vdot(xs, ys):
    return sum(np.vdot(np.asarray(a, np.float64), np.asarray(b, np.float64)).real
               for a, b in zip(tree_util.tree_leaves(xs), tree_util.tree_leaves(ys)))


def _tolerance(leaves, given, table):
    if given is not None:
        return given
    return max((table.get(np.asarray(x).dtype, 1e-5) for x in leaves), default=1e-5)


def check_jvp(f, args, atol=None, rtol=None, eps=None, rng=None):
    """Forward mode against central finite differences: f'(x)·v ≈ (f(x+εv) - f(x-εv)) / 2ε."""
    rng = rng or np.random.default_rng(0)
    leaves = tree_util.tree_leaves(args)
    eps = _tolerance(leaves, eps, _DEFAULT_EPS)
    atol = _tolerance(leaves, atol, _DEFAULT_TOL)
    rtol = _tolerance(leaves, rtol, _DEFAULT_TOL)
    v = tree_util.tree_map(lambda x: _random_like(rng, x), tuple(args))
    _, tangent = jvp(f, tuple(args), v)
    shifted = lambda s: f(*tree_util.tree_map(lambda x, t: x + s * eps * t, tuple(args), v))  # noqa
    fd = tree_util.tree_map(lambda p, m: (np.asarray(p) - np.asarray(m)) / (2 * eps),
                            shifted(1), shifted(-1))
    for t, d in zip(tree_util.tree_leaves(tangent), tree_util.tree_leaves(fd)):
        np.testing.assert_allclose(np.asarray(t), d, atol=atol, rtol=rtol,
                                   err_msg="JVP does not match central finite differences")


def _finite_difference_jvp(f, args, v, eps):
    """(f(args), (f(x+εv) - f(x-εv)) / 2ε): J·v without forward mode."""
    shifted = lambda s: f(*tree_util.tree_map(lambda x, t: x + s * eps * t, args, v))  # noqa
    fd = tree_util.tree_map(lambda p, m: (np.asarray(p, np.float64) - np.asarray(m, np.float64))
                            / (2 * eps), shifted(1), shifted(-1))
    return f(*args), fd


def check_vjp(f, args, atol=None, rtol=None, rng=None, eps=None, use_jvp=True):
    """Reverse mode by the dot-product test: <u, J·v> = <Jᵀ·u, v> for random u, v. J·v comes
    from forward mode (an exact test of the transpose), or with use_jvp=False from central
    finite differences, so functions without forward mode (custom_vjp) can be checked."""
    rng = rng or np.random.default_rng(1)
    leaves = tree_util.tree_leaves(args)
    atol = _tolerance(leaves, atol, _DEFAULT_TOL)
    rtol = _tolerance(leaves, rtol, _DEFAULT_TOL)
    v = tree_util.tree_map(lambda x: _random_like(rng, x), tuple(args))
    if use_jvp:
        out, jv = jvp(f, tuple(args), v)
    else:
        out, jv = _finite_difference_jvp(f, tuple(args), v, _tolerance(leaves, eps,
                                                                        _DEFAULT_EPS))
    out2, vjp_fn = vjp(f, *args)
    u = tree_util.tree_map(lambda x: _random_like(rng, x), out2)
    jtu = vjp_fn(u)
    lhs, rhs = _vdot(u, jv), _vdot(jtu, v)
    scale = max(abs(lhs), abs(rhs), 1.0)
    np.testing.assert_allclose(lhs, rhs, atol=atol * scale, rtol=rtol,
                               err_msg="<u, J v> != <J^T u, v>: the VJP is not the transpose "
                                       "of the JVP")
    for a, b in zip(tree_util.tree_leaves(out), tree_util.tree_leaves(out2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=rtol)


def check_grads(f, args, order, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Check f's derivatives up to `order`: forward mode against finite differences, reverse
    mode by the dot-product test; higher orders check the derivative functions themselves."""
    args = tuple(args)
    for mode in modes:
        if mode not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {mode!r}; use 'fwd' and/or 'rev'")
    rng = np.random.default_rng(42)
    if "fwd" in modes:
        check_jvp(f, args, atol, rtol, eps, rng)
    if "rev" in modes:
        # Reverse mode alone must not need forward mode (custom_vjp functions have none).
        check_vjp(f, args, atol, rtol, rng, eps, use_jvp="fwd" in modes)
    if order > 1:
        v = tree_util.tree_map(lambda x: _random_like(rng, x), args)
        if "fwd" in modes:
            check_grads(lambda *a: jvp(f, a, v)[1], args, order - 1, modes, atol, rtol, eps)
        if "rev" in modes:
            u = tree_util.tree_map(lambda x: _random_like(rng, x), f(*args))
            check_grads(lambda *a: vjp(f, *a)[1](u), args, order - 1, modes, atol, rtol, eps)
