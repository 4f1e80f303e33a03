"""Second order and zero order: Hessian-vector products, Newton-CG against gradient descent, and
gradients estimated from function values alone.

1. A Hessian-vector product is forward mode over reverse mode: the JVP of the gradient,
   H v = d/dt grad f(x + t v) at t = 0. It costs a small multiple of one gradient and never
   forms H; checked here against the dense ft.hessian.
2. Newton-CG minimizes an L2-regularized logistic regression (scikit-learn's breast cancer
   data, standardized) by solving H p = -g with conjugate gradients, one HVP per CG step,
   and is compared with gradient descent at step 1/L.
3. Zero-order estimates: average (f(x + s u) - f(x - s u)) / (2 s) u over random directions u
   (Gaussian smoothing with u ~ N(0, I); SPSA with random signs), drawn with functrans.random
   keys and evaluated in one vmap; their cosine similarity with the exact gradient grows with
   the number of samples K roughly as sqrt(K / (K + d)).

    python examples/second_order.py [--quick] [--plot PATH]
"""
import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # small matrices: one BLAS thread is fastest

import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import data, nn, random  # noqa: E402


def load():
    cancer = load_breast_cancer()
    x = np.asarray(data.standardize(cancer.data).transform(cancer.data))
    y = 2.0 * cancer.target - 1.0                    # labels in {-1, +1}
    return x, y


def make_loss(x, y, l2):
    """Mean logistic loss of theta = (w, b) plus l2/2 |w|^2 (the bias is not penalized)."""
    def loss(theta):
        w, b = theta[:-1], theta[-1]
        return fnp.mean(nn.softplus(-y * (x @ w + b))) + 0.5 * l2 * fnp.sum(w * w)
    return loss


def make_hvp(loss):
    def hvp(theta, v):
        return ft.jvp(ft.grad(loss), (theta,), (v,))[1]      # forward over reverse
    return hvp


# --- 1. HVPs against the dense Hessian ---------------------------------------------------------

def check_hvp(loss, points, key, eps=1e-5, log=print):
    """hvp against the dense Hessian (the same derivative rules, assembled differently) and
    against central differences of the gradient (independent of second-derivative rules), at
    each of `points` ({name: theta})."""
    hvp = make_hvp(loss)
    grad = ft.jit(ft.grad(loss))
    result = {}
    for index, (name, theta) in enumerate(points.items()):
        dense = np.asarray(ft.hessian(loss)(theta))
        vs = np.asarray(random.normal(random.fold_in(key, index), (5, theta.size),
                                      dtype=np.float64))
        dense_error = max(np.abs(np.asarray(hvp(theta, v)) - dense @ v).max() for v in vs)
        # All d HVPs at once against the identity: H, one column per basis vector, under vmap.
        columns = np.asarray(ft.vmap(lambda v: hvp(theta, v))(np.eye(theta.size)))
        columns_error = np.abs(columns - dense).max()
        fd_error = 0.0
        for v in vs:
            fd = (np.asarray(grad(theta + eps * v)) - np.asarray(grad(theta - eps * v))) / (2 * eps)
            fd_error = max(fd_error, np.abs(np.asarray(hvp(theta, v)) - fd).max() /
                           np.abs(fd).max())
        verdict = "agrees" if fd_error < 1e-5 else "DISAGREES: the second derivatives are wrong"
        log(f"at {name}: max |H v - hvp(v)| over 5 random v = {dense_error:.1e}; vmap(hvp) over "
            f"the identity vs ft.hessian: {columns_error:.1e}")
        log(f"   hvp vs central differences of grad: relative error {fd_error:.1e} ({verdict})")
        result[name] = {"dense_error": float(dense_error), "columns_error": float(columns_error),
                        "fd_error": float(fd_error)}
    theta, v = next(iter(points.values())), vs[0]
    t_hvp = time_it(ft.jit(hvp), theta, v)
    t_grad = time_it(grad, theta)
    t_hess = time_it(ft.jit(ft.hessian(loss)), theta)
    log(f"jit-compiled: grad {t_grad * 1e6:.0f} us, hvp {t_hvp * 1e6:.0f} us "
        f"({t_hvp / t_grad:.1f}x a gradient), dense hessian {t_hess * 1e6:.0f} us")
    result["hvp_over_grad"] = t_hvp / t_grad
    return result


def time_it(fn, *args, repeats=200):
    fn(*args)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn(*args)
    return (time.perf_counter() - t0) / repeats


# --- 2. Newton-CG against gradient descent -----------------------------------------------------

def conjugate_gradient(matvec, b, tol, max_steps):
    """Solve A p = b for symmetric positive definite A given only p -> A p."""
    p = np.zeros_like(b)
    r = b.copy()
    d = r.copy()
    rr = r @ r
    for step in range(1, max_steps + 1):
        ad = np.asarray(matvec(d))
        alpha = rr / (d @ ad)
        p += alpha * d
        r -= alpha * ad
        rr, rr_old = r @ r, rr
        if np.sqrt(rr) <= tol:
            break
        d = r + (rr / rr_old) * d
    return p, step


def newton_cg(loss, theta, tol, max_iters, log=print):
    value_and_grad = ft.jit(ft.value_and_grad(loss))
    hvp = ft.jit(make_hvp(loss))
    evaluate = ft.jit(loss)
    history, hvps = [], 0
    for it in range(max_iters + 1):
        value, g = value_and_grad(theta)
        history.append(float(value))
        gnorm = float(np.linalg.norm(g))
        if gnorm <= tol or it == max_iters:
            break
        # Solve H p = -g inexactly: a looser CG tolerance far from the optimum (Eisenstat-Walker
        # style forcing term) saves HVPs where an exact Newton step is not worth it.
        p, steps = conjugate_gradient(lambda v: hvp(theta, v), -np.asarray(g),
                                      tol=min(0.5, np.sqrt(gnorm)) * gnorm, max_steps=theta.size)
        hvps += steps
        t = 1.0                                      # backtracking (Armijo) on the Newton step
        while float(evaluate(theta + t * p)) > value + 1e-4 * t * float(np.dot(g, p)):
            t *= 0.5
        theta = theta + t * p
        log(f"  newton {it:2d}: loss {float(value):.10f}  |grad| {gnorm:.2e}  "
            f"CG steps {steps:2d}  step size {t:g}")
    return theta, history, {"iterations": it, "hvps": hvps, "gradients": it + 1,
                            "grad_norm": gnorm}


def gradient_descent(loss, theta, lr, tol, max_iters, log=print, every=1000):
    value_and_grad = ft.jit(ft.value_and_grad(loss))
    history = []
    for it in range(max_iters + 1):
        value, g = value_and_grad(theta)
        history.append(float(value))
        gnorm = float(np.linalg.norm(g))
        if gnorm <= tol or it == max_iters:
            break
        if it % every == 0:
            log(f"  gd {it:6d}: loss {float(value):.10f}  |grad| {gnorm:.2e}")
        theta = theta - lr * np.asarray(g)
    log(f"  gd {it:6d}: loss {history[-1]:.10f}  |grad| {gnorm:.2e}"
        f"{'  (stopped: iteration limit)' if gnorm > tol else ''}")
    return theta, history, {"iterations": it, "gradients": it + 1, "grad_norm": gnorm}


# --- 3. zero-order gradient estimates ----------------------------------------------------------

def zero_order_gradient(loss, theta, key, samples, kind, sigma=1e-4):
    """Average of (f(theta + s u) - f(theta - s u)) / (2 s) u over `samples` directions."""
    if kind == "gaussian":
        u = random.normal(key, (samples, theta.size), dtype=np.float64)
    else:                                            # SPSA: independent random signs
        u = 2.0 * random.bernoulli(key, 0.5, (samples, theta.size)).astype(np.float64) - 1.0
    u = np.asarray(u)
    batched = ft.vmap(loss)                          # all 2K function values in one call
    slopes = (np.asarray(batched(theta + sigma * u)) - np.asarray(batched(theta - sigma * u))) \
        / (2 * sigma)
    return slopes @ u / samples


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def zero_order_study(loss, theta, key, sample_counts, trials, log=print):
    exact = np.asarray(ft.grad(loss)(theta))
    d = theta.size
    log(f"{'K':>6s} {'gaussian cos':>13s} {'SPSA cos':>9s} {'sqrt(K/(K+d))':>14s}  "
        f"(mean over {trials} keys, d = {d})")
    rows = []
    for k_index, samples in enumerate(sample_counts):
        cos = {}
        for kind in ("gaussian", "spsa"):
            keys = random.split(random.fold_in(key, k_index), trials)
            cos[kind] = float(np.mean([cosine(zero_order_gradient(loss, theta, keys[t], samples,
                                                                  kind), exact)
                                       for t in range(trials)]))
        predicted = np.sqrt(samples / (samples + d))
        log(f"{samples:6d} {cos['gaussian']:13.3f} {cos['spsa']:9.3f} {predicted:14.3f}")
        rows.append({"samples": samples, **cos, "predicted": float(predicted)})
    return rows


def save_plot(histories, best, zero_order, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (history, marker) in histories.items():
        gap = np.maximum(np.asarray(history) - best, 1e-16)
        ax1.plot(range(len(history)), gap, marker=marker, markersize=3, label=name)
    ax1.set_xscale("symlog", linthresh=10)
    ax1.set_yscale("log")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("loss - best loss")
    ax1.set_title("L2 logistic regression, breast cancer data")
    ax1.legend()
    ks = [r["samples"] for r in zero_order]
    ax2.plot(ks, [r["gaussian"] for r in zero_order], "o-", label="Gaussian smoothing")
    ax2.plot(ks, [r["spsa"] for r in zero_order], "s-", label="SPSA (random signs)")
    ax2.plot(ks, [r["predicted"] for r in zero_order], "k:", label="sqrt(K / (K + d))")
    ax2.set_xscale("log")
    ax2.set_ylim(0, 1.02)
    ax2.set_xlabel("samples K (2K function evaluations)")
    ax2.set_ylabel("cosine with the exact gradient")
    ax2.set_title("zero-order gradient estimates")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--tol", type=float, default=1e-6, help="stop when |grad| <= tol")
    parser.add_argument("--quick", action="store_true", help="fewer GD steps and samples")
    parser.add_argument("--plot", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "second_order.png"))
    args = parser.parse_args(argv)
    gd_iters = 2000 if args.quick else 50_000
    sample_counts = [1, 8, 64] if args.quick else [1, 4, 16, 64, 256, 1024]
    trials = 5 if args.quick else 20

    key = random.key(0)
    hvp_key, zo_key = random.split(key)
    x, y = load()
    loss = make_loss(x, y, args.l2)
    d = x.shape[1] + 1
    print(f"breast cancer: {x.shape[0]} samples, {x.shape[1]} standardized features (+ bias), "
          f"l2 = {args.l2}")

    print("\n== 1. Hessian-vector products: jvp of grad ==")
    theta0 = np.zeros(d)                      # where both optimizers start
    hvp_result = check_hvp(loss, {"a random theta": np.asarray(random.normal(
        hvp_key, (d,), dtype=np.float64)), "theta = 0": theta0}, hvp_key)

    print("\n== 2. Newton-CG vs gradient descent ==")
    h0 = np.asarray(ft.hessian(loss)(theta0))
    # Step 1/L with L = max eigenvalue of the Hessian's bound X^T X / (4 N) + l2 (logistic
    # curvature is at most 1/4), which makes gradient descent monotone.
    features = np.c_[x, np.ones(len(x))]
    lipschitz = np.linalg.eigvalsh(features.T @ features / (4 * len(x))).max() + args.l2
    print(f"at theta = 0: Hessian condition number {np.linalg.cond(h0):.0f}; "
          f"gradient descent step 1/L = {1 / lipschitz:.3f}")
    t0 = time.perf_counter()
    theta_n, hist_n, newton = newton_cg(loss, theta0, args.tol, max_iters=50)
    newton["seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    theta_g, hist_g, gd = gradient_descent(loss, theta0, 1 / lipschitz, args.tol, gd_iters)
    gd["seconds"] = time.perf_counter() - t0
    h_star = np.asarray(ft.hessian(loss)(theta_n))
    accuracy = float(np.mean(np.sign(x @ theta_n[:-1] + theta_n[-1]) == y))
    print(f"Newton-CG: {newton['iterations']} iterations, {newton['hvps']} HVPs, final loss "
          f"{hist_n[-1]:.10f}, |grad| {newton['grad_norm']:.1e}, {newton['seconds']:.2f} s")
    print(f"gradient descent: {gd['iterations']} iterations, final loss {hist_g[-1]:.10f}, "
          f"|grad| {gd['grad_norm']:.1e}, {gd['seconds']:.2f} s")
    print(f"Hessian condition number at the optimum {np.linalg.cond(h_star):.0f}; "
          f"training accuracy {accuracy:.3f}")

    print("\n== 3. zero-order gradient estimates at theta = 0 ==")
    zero_order = zero_order_study(loss, theta0, zo_key, sample_counts, trials)

    best = min(hist_n[-1], hist_g[-1])
    save_plot({"Newton-CG": (hist_n, "o"), "gradient descent": (hist_g, None)}, best,
              zero_order, args.plot)
    print(f"\nsaved the plots to {args.plot}")
    return {"hvp": hvp_result, "newton": {**newton, "loss": hist_n[-1]},
            "gd": {**gd, "loss": hist_g[-1]}, "accuracy": accuracy, "zero_order": zero_order}


if __name__ == "__main__":
    main()
