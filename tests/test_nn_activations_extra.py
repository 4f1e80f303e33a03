"""The jax.nn activations added for issue 12: values against numpy formulas, derivatives
(finite differences, dot-product test, jacfwd == jacrev, vmap, jit), float32, and JAX."""
import math

import numpy as np
import pytest

import functrans as ft
import functrans.nn as nn

from transform_checks import assert_close, check_transforms

X = np.array([-3.2, -1.5, -0.4, 0.3, 0.9, 1.7, 4.0])     # away from every kink
SIG = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
ALPHA, SCALE = 1.6732632423543772, 1.0507009873554805

REFERENCES = {
    "identity": lambda v: v,
    "celu": lambda v: np.where(v > 0, v, 1.0 * np.expm1(v)),
    "selu": lambda v: SCALE * np.where(v > 0, v, ALPHA * np.expm1(v)),
    "soft_sign": lambda v: v / (np.abs(v) + 1),
    "hard_tanh": lambda v: np.clip(v, -1, 1),
    "hard_sigmoid": lambda v: np.clip(v + 3, 0, 6) / 6,
    "hard_silu": lambda v: v * np.clip(v + 3, 0, 6) / 6,
    "mish": lambda v: v * np.tanh(np.log1p(np.exp(v))),
    "sparse_plus": lambda v: np.where(v <= -1, 0, np.where(v >= 1, v, (v + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda v: np.clip((v + 1) / 2, 0, 1),
    "squareplus": lambda v: (v + np.sqrt(v * v + 4)) / 2,
}
# every name this module tests (tests/test_nn_activations.py checks that each activation is
# tested somewhere)
TESTED = set(REFERENCES) | {"hard_swish", "log1mexp", "glu", "logmeanexp", "standardize",
                            "dot_product_attention"}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_values_and_derivatives(name):
    f = getattr(nn, name)
    assert_close(f(X), REFERENCES[name](X), rtol=1e-12, atol=1e-14, what=name)
    out32 = f(X.astype(np.float32))
    assert out32.dtype == np.float32, name
    np.testing.assert_allclose(out32, REFERENCES[name](X), rtol=1e-5, atol=1e-6)
    check_transforms(f, X)


def test_other_functions():
    pos = np.abs(X) + 0.05
    assert_close(nn.log1mexp(pos), np.log(1 - np.exp(-pos)), rtol=1e-12)
    check_transforms(nn.log1mexp, pos)
    a = np.arange(12.0).reshape(3, 4) / 5
    assert_close(nn.glu(a), a[:, :2] * SIG(a[:, 2:]), rtol=1e-12)
    assert_close(nn.glu(a, axis=0) if a.shape[0] % 2 == 0 else nn.glu(a.T, axis=0),
                 a.T[:2] * SIG(a.T[2:]), rtol=1e-12)
    check_transforms(nn.glu, a)
    assert_close(nn.logmeanexp(a, axis=1), np.log(np.mean(np.exp(a), axis=1)), rtol=1e-12)
    check_transforms(lambda v: nn.logmeanexp(v, axis=0), a)
    mu, var = a.mean(-1, keepdims=True), a.var(-1, keepdims=True)
    assert_close(nn.standardize(a), (a - mu) / np.sqrt(var + 1e-5), rtol=1e-10)
    check_transforms(nn.standardize, a)
    with pytest.raises(ValueError, match="glu"):
        nn.glu(np.ones(3))


def _attention_reference(q, k, v, mask=None, causal=False):
    rep = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, rep, axis=2), np.repeat(v, rep, axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, k) / math.sqrt(q.shape[-1])
    keep = np.ones(logits.shape, bool) if mask is None else np.broadcast_to(mask, logits.shape)
    if causal:
        keep = keep & np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(keep, logits, -np.inf)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", w, v)


def test_dot_product_attention():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 5, 4, 3))
    k = rng.standard_normal((2, 6, 2, 3))
    v = rng.standard_normal((2, 6, 2, 3))
    mask = rng.uniform(size=(2, 4, 5, 6)) > 0.3
    mask[..., 0] = True
    assert_close(nn.dot_product_attention(q, k, v, mask=mask),
                 _attention_reference(q, k, v, mask), rtol=1e-10)
    assert_close(nn.dot_product_attention(q[0], k[0, :5], v[0, :5], is_causal=True),
                 _attention_reference(q[:1], k[:1, :5], v[:1, :5], causal=True)[0], rtol=1e-10)
    check_transforms(lambda q, k, v: nn.dot_product_attention(q, k, v, is_causal=True),
                     q[:1, :, :2], k[:1, :5, :1], v[:1, :5, :1])


def test_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.nn as jn
    for name in REFERENCES:
        np.testing.assert_allclose(getattr(nn, name)(X), getattr(jn, name)(X), rtol=1e-12,
                                   err_msg=name)
        g = ft.vmap(ft.grad(getattr(nn, name)))(X)
        gj = jax.vmap(jax.grad(getattr(jn, name)))(X)
        np.testing.assert_allclose(g, gj, rtol=1e-10, atol=1e-14, err_msg=f"grad {name}")
