"""Sparse Jacobians by colouring, and chain accumulation, against dense Jacobians.

Cases (issue 15's targets):
  1. 1-D diffusion-reaction residual, n = 10,000: the detected pattern must be exactly the
     tridiagonal one, 3 colours; sparse against dense jacfwd (functrans's, JAX's).
  2. 2-D 5-point stencil on a 100 x 100 grid: at most 5 colours, a proper colouring (checked).
  3. Hessian of a sum of local terms (banded plus an arrowhead row, n = 5,000), star colouring,
     against the dense hessian.
  4. A chain 200 -> 2,000 -> 10 -> 2,000 -> 200 (tanh layers): mode="chain" against pure forward
     and pure reverse.
Ratios come from one process; medians of repeats; sparse times are steady state (the pattern and
colouring are cached per signature), the first call's time (detection + colouring) is shown too.
The machine is shared with other jobs: expect noise.

    python benchmarks/bench_sparse_jacobian.py [--quick]
"""
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import functrans as ft  # noqa: E402
from functrans.backend.executables import wait_for_background_compiles  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import lax  # noqa: E402
from functrans.transforms import coloring  # noqa: E402

try:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
except ImportError:        # JAX columns are optional
    jax = jnp = None


def median_time(fn, repeats):
    fn()
    wait_for_background_compiles()      # compiled code, not jit's first calls on numpy
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        if hasattr(out, "block_until_ready"):
            out.block_until_ready()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def first_time(fn):
    t0 = time.perf_counter()
    out = fn()
    if hasattr(out, "block_until_ready"):
        out.block_until_ready()
    return time.perf_counter() - t0, out


# --- the functions (one body for functrans and JAX: the numpy module is a parameter) -------------

def diffusion_reaction(u, np_mod=fnp):
    h2 = 1.0 / (u.shape[0] + 1) ** 2
    left = np_mod.concatenate([np_mod.zeros(1, u.dtype), u[:-1]])
    right = np_mod.concatenate([u[1:], np_mod.zeros(1, u.dtype)])
    return (left - 2.0 * u + right) / h2 + 2.0 * np_mod.exp(u)


def stencil_2d(u, np_mod=fnp, pad=None):
    n = int(round(np.sqrt(u.shape[0])))
    g = pad(u.reshape(n, n))
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return (lap * (n + 1) ** 2 + np_mod.exp(g[1:-1, 1:-1])).ravel()


def ft_pad(x):
    return lax.pad(x, 0.0, [(1, 1, 0), (1, 1, 0)])


def local_energy(x, np_mod=fnp):
    """Banded (width 2) plus an arrowhead row/column: local terms and one global coupling."""
    return (np_mod.sum((x[1:] - x[:-1] ** 2) ** 2) + np_mod.sum(np_mod.cos(x[2:] * x[:-2]))
            + 0.1 * x[0] * np_mod.sum(x ** 2))


def chain_weights(dims, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((dims[i + 1], dims[i])) / np.sqrt(dims[i])
            for i in range(len(dims) - 1)]


def chain(ws, np_mod=fnp):
    def f(x):
        for w in ws[:-1]:
            x = np_mod.tanh(w @ x)
        return ws[-1] @ x
    return f


# --- cases -----------------------------------------------------------------------------------------

def laplacian_1d(n):
    return sp.diags([1, 1, 1], [-1, 0, 1], shape=(n, n), dtype=bool).tocsr()


def jacobian_case(name, f, jf_jax, x, exact, max_colors, repeats, dense_repeats, rows):
    jf = ft.jacobian(f, sparsity="auto")
    first, j = first_time(lambda: jf(x))
    d = jf.last_decision
    colors = d.fwd_colors if d.mode == "fwd" else d.rev_colors
    pattern = jf.plans[next(iter(jf.plans))].pattern
    col = jf.plans[next(iter(jf.plans))].coloring
    proper = coloring.is_proper_column_coloring(
        pattern if d.mode == "fwd" else pattern.T.tocsr(), col.colors)
    is_exact = exact is None or (pattern != exact).nnz == 0
    t_sparse = median_time(lambda: jf(x), repeats)
    jit_jf = ft.jacobian(ft.jit(f), sparsity="auto")     # the batched passes compiled
    jit_jf(x)
    t_sparse_jit = median_time(lambda: jit_jf(x), repeats)
    t_dense, dense = first_time(lambda: ft.jacfwd(f)(x))
    if dense_repeats > 1:
        t_dense = min(t_dense, median_time(lambda: ft.jacfwd(f)(x), dense_repeats - 1))
    err = float(np.abs(j.toarray() - np.asarray(dense)).max())
    del dense
    row = {"case": name, "n": x.size, "nnz": j.nnz, "colors": colors, "mode": d.mode,
           "exact": is_exact, "proper": proper, "ok_colors": colors <= max_colors,
           "first": first, "sparse": t_sparse, "sparse_jit": t_sparse_jit, "dense_ft": t_dense,
           "err": err}
    if jax is not None:
        xj = jnp.asarray(x)
        for key, maker in (("jax_fwd", jax.jacfwd), ("jax_rev", jax.jacrev)):
            fn = jax.jit(maker(jf_jax))
            fn(xj).block_until_ready()
            row[key] = median_time(lambda: fn(xj), dense_repeats)
    rows.append(row)
    return row


def hessian_case(n, repeats, dense_repeats, rows):
    x = np.random.default_rng(2).random(n) * 0.5
    hf = ft.hessian(local_energy, sparsity="auto")
    first, h = first_time(lambda: hf(x))
    jit_hf = ft.hessian(ft.jit(local_energy), sparsity="auto")
    jit_hf(x)
    t_sparse_jit = median_time(lambda: jit_hf(x), repeats)
    plan = next(iter(hf.plans.values()))
    n_colors = plan.coloring.n_colors
    t_sparse = median_time(lambda: hf(x), repeats)
    t_dense, dense = first_time(lambda: ft.hessian(local_energy)(x))
    if dense_repeats > 1:
        t_dense = min(t_dense, median_time(lambda: ft.hessian(local_energy)(x),
                                           dense_repeats - 1))
    err = float(np.abs(h.toarray() - np.asarray(dense)).max() / np.abs(dense).max())
    del dense
    band = sp.diags([1] * 5, [-2, -1, 0, 1, 2], shape=(n, n), dtype=bool).tolil()
    band[0, :] = True
    band[:, 0] = True
    row = {"case": "Hessian banded+arrowhead", "n": n, "nnz": h.nnz, "colors": n_colors,
           "mode": "star", "exact": (plan.pattern != band.tocsr()).nnz == 0,
           "proper": coloring.is_star_coloring(
               plan.pattern, plan.coloring.colors), "ok_colors": True, "first": first,
           "sparse": t_sparse, "sparse_jit": t_sparse_jit, "dense_ft": t_dense, "err": err}
    if jax is not None:
        xj = jnp.asarray(x)
        fn = jax.jit(jax.hessian(lambda v: local_energy(v, jnp)))
        fn(xj).block_until_ready()
        row["jax_fwd"] = median_time(lambda: fn(xj), dense_repeats)
    rows.append(row)
    return row


def chain_case(repeats, rows):
    dims = [200, 2000, 10, 2000, 200]
    ws = chain_weights(dims)
    f = chain(ws)
    x = np.random.default_rng(3).standard_normal(dims[0])
    jc = ft.jacobian(f, mode="chain")
    first, j = first_time(lambda: jc(x))
    t_chain = median_time(lambda: jc(x), repeats)
    t_fwd = median_time(lambda: ft.jacfwd(f)(x), repeats)
    t_rev = median_time(lambda: ft.jacrev(f)(x), repeats)
    err = float(np.abs(j - np.asarray(ft.jacfwd(f)(x))).max())
    row = {"case": "chain 200-2000-10-2000-200", "chain": t_chain, "fwd": t_fwd, "rev": t_rev,
           "first": first, "err": err, "plan": jc.last_plan}
    if jax is not None:
        fj = chain([jnp.asarray(w) for w in ws], jnp)
        xj = jnp.asarray(x)
        for key, maker in (("jax_fwd", jax.jacfwd), ("jax_rev", jax.jacrev)):
            fn = jax.jit(maker(fj))
            fn(xj).block_until_ready()
            row[key] = median_time(lambda: fn(xj), repeats)
    rows.append(row)
    return row


def main(quick=False):
    n1 = 2_000 if quick else 10_000
    side = 30 if quick else 100
    nh = 1_000 if quick else 5_000
    repeats, dense_repeats = (3, 1) if quick else (7, 1)
    rows = []
    x1 = np.random.default_rng(0).random(n1) * 0.1
    jacobian_case("1-D diffusion-reaction", diffusion_reaction,
                  lambda u: diffusion_reaction(u, jnp), x1, laplacian_1d(n1), 3, repeats,
                  dense_repeats, rows)
    x2 = np.random.default_rng(1).random(side * side) * 0.1
    lap = (sp.kron(laplacian_1d(side), sp.eye(side)) +
           sp.kron(sp.eye(side), laplacian_1d(side))).tocsr().astype(bool)
    jacobian_case(f"2-D 5-point stencil {side}x{side}", lambda u: stencil_2d(u, fnp, ft_pad),
                  (lambda u: stencil_2d(u, jnp, lambda g: jnp.pad(g, 1)) if jax else None),
                  x2, lap, 5, repeats, dense_repeats, rows)
    hessian_case(nh, repeats, dense_repeats, rows)
    chain_row = chain_case(repeats, rows)
    report(rows, chain_row)


def _ms(t):
    return f"{t * 1e3:,.1f}" if t is not None else "-"


def report(rows, chain_row):
    print("| case | n | nnz | colours | mode | exact pattern | valid colouring | first call ms "
          "| sparse ms | sparse, jit(f) ms | dense ms (functrans) | speed-up | JAX jit(jacfwd) ms "
          "| JAX jit(jacrev) ms | max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "sparse" not in r:
            continue
        print(f"| {r['case']} | {r['n']:,} | {r['nnz']:,} | {r['colors']} | {r['mode']} | "
              f"{r['exact']} | {r['proper']} | {_ms(r['first'])} | {_ms(r['sparse'])} | "
              f"{_ms(r['sparse_jit'])} | "
              f"{_ms(r['dense_ft'])} | {r['dense_ft'] / r['sparse']:,.0f}x | "
              f"{_ms(r.get('jax_fwd'))} | {_ms(r.get('jax_rev'))} | {r['err']:.1e} |")
    c = chain_row
    print()
    print("| case | chain ms | jacfwd ms | jacrev ms | chain vs better pure mode | first call ms "
          "| JAX jit(jacfwd) ms | JAX jit(jacrev) ms | max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {c['case']} | {_ms(c['chain'])} | {_ms(c['fwd'])} | {_ms(c['rev'])} | "
          f"{min(c['fwd'], c['rev']) / c['chain']:.1f}x | {_ms(c['first'])} | "
          f"{_ms(c.get('jax_fwd'))} | {_ms(c.get('jax_rev'))} | {c['err']:.1e} |")
    print()
    print("chain plan:")
    print(c["plan"])


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
