"""The MLP of the benchmarks: ReLU hidden layers, softmax cross-entropy, an SGD step (float32)."""
import numpy as np


def init_params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((m, n)).astype(np.float32) / np.float32(np.sqrt(m)),
             np.zeros(n, np.float32)) for m, n in zip(sizes[:-1], sizes[1:])]


def make_batch(sizes, batch, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], batch)
    y = np.eye(sizes[-1], dtype=np.float32)[labels]          # one-hot
    return x, y


def make_step(np_mod, grad, lr=0.1):
    """loss and SGD step written against a numpy-like module (functrans.numpy, jax.numpy)."""
    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = np_mod.maximum(h @ w + b, 0.0)
        w, b = params[-1]
        logits = h @ w + b
        m = np_mod.max(logits, axis=1, keepdims=True)
        shifted = logits - m
        logz = np_mod.log(np_mod.sum(np_mod.exp(shifted), axis=1, keepdims=True))
        return -np_mod.mean(np_mod.sum(y * (shifted - logz), axis=1))

    def step(params, x, y):
        grads = grad(loss)(params, x, y)
        return [(w - lr * gw, b - lr * gb) for (w, b), (gw, gb) in zip(params, grads)]

    return loss, step


def numpy_step(params, x, y, lr=np.float32(0.1)):
    """Hand-written numpy backprop of the same step."""
    hs, acts = [], [x]
    h = x
    for w, b in params[:-1]:
        z = h @ w + b
        hs.append(z)
        h = np.maximum(z, 0)
        acts.append(h)
    w, b = params[-1]
    logits = h @ w + b
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    g = (p - y) / np.float32(x.shape[0])
    new = []
    for i in range(len(params) - 1, -1, -1):
        w, b = params[i]
        gw = acts[i].T @ g
        gb = g.sum(axis=0)
        if i > 0:
            g = (g @ w.T) * (hs[i - 1] > 0)
        new.append((w - lr * gw, b - lr * gb))
    return new[::-1]


def matmuls_only(params, x, y):
    """The step's matrix products alone (the BLAS floor)."""
    acts = [x]
    h = x
    for w, b in params[:-1]:
        h = h @ w
        acts.append(h)
    g = h @ params[-1][0]
    for i in range(len(params) - 1, -1, -1):
        acts[i].T @ g
        if i > 0:
            g = g @ params[i][0].T
