"""Newton's method with a sparse Jacobian: the 2-D Bratu problem on an N x N grid.

    -Δu = λ exp(u) on the unit square, u = 0 on the boundary,

discretized with the 5-point stencil on the N x N interior points, is the residual

    F(u)[i, j] = (4 u[i,j] - u[i-1,j] - u[i+1,j] - u[i,j-1] - u[i,j+1]) / h² - λ exp(u[i,j]).

Its Jacobian has N² rows and at most 5 nonzeros per row. functrans finds that pattern from the
program of F, colours its columns (columns that share no row can share a tangent: 5 colours for
the stencil, whatever N is), pushes 5 tangents through one vmapped JVP and decompresses them
into a scipy.sparse matrix, which scipy.sparse.linalg.spsolve factors. Dense forward mode would
push N² tangents instead.

The pictures (saved as PNGs beside this file): the sparsity pattern of J for a small grid, and
the colouring drawn on the grid (each point's colour is the tangent that carries its column).

    python examples/sparse_newton.py [--quick] [--n N] [--plot-dir DIR]
"""
import argparse
import os
import pathlib
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import lax  # noqa: E402

LAMBDA = 6.0          # below the fold at λ* ≈ 6.81, where the lower branch ends


def bratu_residual(u_flat, n, lam=LAMBDA):
    h = 1.0 / (n + 1)
    u = u_flat.reshape(n, n)
    g = lax.pad(u, 0.0, [(1, 1, 0), (1, 1, 0)])          # the zero boundary
    lap = 4.0 * u - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return (lap / h ** 2 - lam * fnp.exp(u)).ravel()


def newton(n, tol=1e-10, max_iter=20, verbose=True):
    """Newton's method from u = 0; returns (u, history of residual norms, jacobian function)."""
    residual = lambda u: bratu_residual(u, n)      # noqa: E731
    jac = ft.jacobian(residual, sparsity="auto")
    u = np.zeros(n * n)
    history = []
    for it in range(max_iter):
        f = np.asarray(residual(u))
        norm = float(np.linalg.norm(f) / n)
        history.append(norm)
        if verbose:
            print(f"  iteration {it}: |F(u)| / N = {norm:.3e}")
        if norm < tol:
            break
        j = jac(u)
        u = u + spla.spsolve(j.tocsc(), -f)
    return u, history, jac


def plot(n_small, u, n, directory):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from functrans.transforms import coloring
    directory = pathlib.Path(directory)
    pattern = ft.jacobian_sparsity(lambda v: bratu_residual(v, n_small))(np.zeros(n_small ** 2))
    col = coloring.color_columns(pattern)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5))
    axes[0].spy(pattern.toarray(), markersize=2)
    axes[0].set_title(f"Jacobian pattern, {n_small}x{n_small} grid ({pattern.nnz} nonzeros)")
    grid = col.colors.reshape(n_small, n_small)
    im = axes[1].imshow(grid, cmap="tab10", vmin=0, vmax=9)
    for (i, j), c in np.ndenumerate(grid):
        axes[1].text(j, i, str(c), ha="center", va="center", fontsize=7, color="white")
    axes[1].set_title(f"column colouring: {col.n_colors} colours ({col.ordering})")
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    axes[2].imshow(u.reshape(n, n), origin="lower", extent=(0, 1, 0, 1))
    axes[2].set_title(f"Bratu solution, λ = {LAMBDA}, {n}x{n}")
    fig.tight_layout()
    path = directory / "sparse_newton.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small grid (for the tests)")
    parser.add_argument("--n", type=int, default=None, help="grid points per side")
    parser.add_argument("--plot-dir", default=str(pathlib.Path(__file__).parent),
                        help="where to save the PNG (empty: no plot)")
    args = parser.parse_args(argv)
    n = args.n or (16 if args.quick else 100)
    print(f"Bratu problem, λ = {LAMBDA}, {n} x {n} interior points ({n * n} unknowns)")
    t0 = time.perf_counter()
    u, history, jac = newton(n)
    elapsed = time.perf_counter() - t0
    d = jac.last_decision
    print(d)
    print(f"Newton: {len(history) - 1} iterations in {elapsed:.2f} s, max u = {u.max():.4f}")
    results = {"n": n, "history": history, "u": u, "decision": d,
               "colors": d.fwd_colors if d.mode == "fwd" else d.rev_colors}
    if args.plot_dir:
        results["plot"] = plot(16, u, n, args.plot_dir)
        print(f"saved {results['plot']}")
    return results


if __name__ == "__main__":
    main()
