"""fnp functions under the transforms: derivatives against finite differences (jvp) and the
dot-product test (vjp), and vmap against a Python loop. fnp is built from primitives only, so
these hold whenever the primitives' rules do; the table makes sure every kind of lowering
(promotion, broadcasting, indexing, updates, contractions, reductions) is exercised."""
import numpy as np
import pytest

import functrans as ft
import functrans.nn as nn
import functrans.numpy as fnp
from functrans.core.staging import eval_closed
from functrans.test_util import check_jvp, check_vjp
from test_numpy_harness import checked_jaxpr

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 5))
V = RNG.standard_normal(4)
SQUARE = RNG.standard_normal((4, 4))
IDX = np.array([2, 0, 2])


def staged(f):
    """f traced even when called on numpy arrays (as the finite differences do): `.at` exists
    on traced values only."""
    def run(*args):
        return eval_closed(checked_jaxpr(f, *args), *args)[0]
    return run


FUNCTIONS = {
    "broadcast_arith": (lambda a, v: (a * v - 2) / (1 + a ** 2) + v // 1, (A, V)),
    "int_promotion": (lambda a: fnp.exp(a) * np.arange(4, dtype=np.int8) + True, (A,)),
    "power_and_sqrt": (lambda a: fnp.sqrt(a ** 2 + 1) + fnp.power(fnp.abs(a) + 1, a), (A,)),
    "floor_div_mod": (lambda a: fnp.remainder(a * 3, 1.7) + fnp.floor_divide(a, 0.3), (A,)),
    "where_clip": (lambda a: fnp.where(a > 0, a * 2, fnp.clip(a, -0.5, 0.5)), (A,)),
    "reductions": (lambda a: fnp.var(a, axis=0) + fnp.mean(a, axis=1, keepdims=True).sum()
                   + fnp.max(a) + fnp.prod(a[:, :2], axis=1).sum(), (A,)),
    "std_cumsum": (lambda a: fnp.std(a, axis=1, ddof=1) + fnp.cumsum(a, axis=1)[:, -1], (A,)),
    "basic_indexing": (lambda a: a[1:, ::-2] * a[0, None, 1:3], (A,)),
    "advanced_indexing": (lambda a, v: a[IDX, 1:] + a[[0, 1, 2], [3, 1, 0], None], (A, V)),
    "at_set_add": (staged(lambda a, v: a.at[0, 1:].set(v[:3]).at[IDX].add(v)), (A, V)),
    "at_mul_max": (staged(lambda a: a.at[IDX, 0].multiply(a[0, 0]).at[:, 1].max(0.1)), (A,)),
    "matmul_family": (lambda a, b: a @ b + fnp.dot(a, b) - fnp.tensordot(a, b, 1), (A, B)),
    "einsum": (lambda a, b, s: fnp.einsum("ij,jk,kk->ik", a, b[:, :4], s), (A, B, SQUARE)),
    "einsum_trace": (lambda s: fnp.einsum("ii->", s) + fnp.trace(s) + fnp.diag(s, 1).sum(),
                     (SQUARE,)),
    "shapes": (lambda a: fnp.concatenate([fnp.roll(a, 1, 0), fnp.tile(a[:1], (2, 1))])
               .reshape(-1, 2).T @ fnp.ones(10), (A,)),
    "stack_split": (lambda a: fnp.stack(fnp.split(a, 2, axis=1), axis=-1).sum(axis=-1), (A,)),
    "triangles": (lambda s: fnp.triu(s, 1) - fnp.tril(s) * 2 + fnp.diagonal(s, -1).sum(),
                  (SQUARE,)),
    "sort": (lambda a: fnp.sort(a, axis=1) * fnp.arange(4.0), (A,)),
    "norm": (lambda a, v: fnp.linalg.norm(a) + fnp.linalg.norm(v, 1)
             + fnp.linalg.norm(a, np.inf, axis=1), (A, V)),
    "linspace": (lambda v: fnp.linspace(v[0], v[1], 5) * v[2], (V,)),
    "nn": (lambda a: nn.log_softmax(a) + nn.logsumexp(a, axis=0) + nn.gelu(a), (A,)),
    "hyperbolic": (lambda a: fnp.arcsinh(a) + fnp.arctan(a) + fnp.hypot(a, 1.5)
                   + fnp.logaddexp(a, -a), (A,)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivatives(name):
    f, args = FUNCTIONS[name]
    check_jvp(f, args)
    check_vjp(f, args)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_vmap_matches_a_loop(name):
    f, args = FUNCTIONS[name]
    batched = tuple(np.stack([a, a * 0.5 + 0.1, -a]) for a in args)
    out = ft.vmap(f)(*batched)
    for k in range(3):
        np.testing.assert_allclose(out[k], f(*(b[k] for b in batched)), rtol=1e-10,
                                   atol=1e-12)


def test_vmap_with_batched_indices():
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 3], [2, 2], [1, 0]])
    out = ft.vmap(lambda row, i: row[i])(x, idx)
    np.testing.assert_array_equal(out, np.take_along_axis(x, idx, 1))
    out = ft.vmap(lambda row, i: row.at[i].add(1.0))(x, idx)
    want = x.copy()
    for r in range(3):
        np.add.at(want[r], idx[r], 1.0)
    np.testing.assert_array_equal(out, want)
