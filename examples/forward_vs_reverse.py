"""Forward or reverse mode? Measured Jacobians of f: R^n -> R^m over a sweep of n and m.

f(x) = tanh(W2 tanh(W1 x)) with W1 (h, n) and W2 (m, h). Forward mode (jacfwd) pushes one
tangent per input dimension, reverse mode (jacrev) pulls one cotangent per output dimension,
so forward should win when n < m and reverse when n > m. jacobian(mode="auto") decides from
the cost model before running; this example checks its choice, and the model's estimated
times, against the clock: the plot draws the estimated and the measured curves of both modes on
the same axes, so the crossover the model predicts sits beside the one measured.

All three are jit-compiled (ft.jit(ft.jacfwd(f)), ...), so the times are steady-state compiled
code rather than Python dispatch; the eager times at one setting are printed for contrast, with
their estimates. Times are medians of this thread's CPU time (the calibration's clock: on a
shared machine, other processes' load would otherwise dominate wall time).

    python examples/forward_vs_reverse.py [--quick] [--hidden H] [--plot PATH]
"""
import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # small matrices: one BLAS thread is fastest

import numpy as np  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans.backend.executables import wait_for_background_compiles  # noqa: E402


def make_function(key, n, m, hidden):
    rng = np.random.default_rng(key)
    w1 = rng.standard_normal((hidden, n)) / np.sqrt(n)
    w2 = rng.standard_normal((m, hidden)) / np.sqrt(hidden)

    def f(x):
        return fnp.tanh(w2 @ fnp.tanh(w1 @ x))
    return f, rng.standard_normal(n)


def median_time(fn, repeats):
    """Median CPU seconds per call; each sample loops long enough (>= 2 ms) to be above timer
    noise, since a compiled small Jacobian takes tens of microseconds."""
    fn()
    t0 = time.thread_time()
    fn()
    loops = max(1, int(2e-3 / max(time.thread_time() - t0, 1e-7)))
    samples = []
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(loops):
            fn()
        samples.append((time.thread_time() - t0) / loops)
    return float(np.median(samples))


def measure(n, m, hidden, repeats):
    f, x = make_function(1000 * n + m, n, m, hidden)
    auto = ft.jacobian(f, mode="auto")
    variants = {"fwd": ft.jit(ft.jacfwd(f)), "rev": ft.jit(ft.jacrev(f)), "auto": ft.jit(auto)}
    jacobians = {name: np.asarray(jac(x)) for name, jac in variants.items()}
    wait_for_background_compiles()     # time compiled code, not the calls on numpy meanwhile
    for name, jac in jacobians.items():
        np.testing.assert_allclose(jac, jacobians["fwd"], rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name} Jacobian differs from jacfwd at n={n} m={m}")
    times = {name: median_time(lambda: jac(x), repeats) for name, jac in variants.items()}
    faster = "fwd" if times["fwd"] <= times["rev"] else "rev"
    decision = auto.last_decision              # costed as compiled: auto ran under ft.jit
    return {"n": n, "m": m, **times, "choice": decision.mode, "faster": faster,
            "est_fwd": decision.forward.seconds, "est_rev": decision.reverse.seconds,
            "settled_by": decision.settled_by,
            "ratio": max(times["fwd"], times["rev"]) / min(times["fwd"], times["rev"]),
            "shape": jacobians["fwd"].shape}


def print_row(r):
    verdict = "yes" if r["choice"] == r["faster"] else (
        "no, within 20%" if r["ratio"] < 1.2 else "NO")
    print(f"{r['n']:6d} {r['m']:6d} {r['est_fwd'] * 1e6:8.1f} {r['fwd'] * 1e6:8.1f} "
          f"{r['est_rev'] * 1e6:8.1f} {r['rev'] * 1e6:8.1f} {r['auto'] * 1e6:8.1f}   "
          f"{r['choice']:>4s}   {r['faster']:>4s} {r['ratio']:6.1f}x   {verdict}")


def save_plot(sweeps, fixed, hidden, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, (swept, rows) in zip(axes, sweeps.items()):
        sizes = [r[swept] for r in rows]
        for name, color in (("fwd", "C0"), ("rev", "C1")):
            ax.plot(sizes, [r[name] * 1e6 for r in rows], "o-", color=color,
                    label=f"jit({name}) measured")
            ax.plot(sizes, [r[f"est_{name}"] * 1e6 for r in rows], "--", color=color,
                    label=f"jit({name}) estimated")
        ax.plot(sizes, [r["auto"] * 1e6 for r in rows], "kx", label="auto measured")
        ax.axvline(fixed, color="gray", lw=0.8, ls=":", label="n = m")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        other = "m" if swept == "n" else "n"
        ax.set_xlabel(f"{swept} ({'inputs' if swept == 'n' else 'outputs'}), {other} = {fixed}")
        ax.set_title(f"Jacobian time vs {swept}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("time per Jacobian (us): measured median, estimated")
    axes[0].legend()
    fig.suptitle(f"f(x) = tanh(W2 tanh(W1 x)), hidden {hidden}: estimated (dashed) and "
                 f"measured (solid) Jacobian times")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--fixed", type=int, default=32,
                        help="m while n is swept, and n while m is swept")
    parser.add_argument("--quick", action="store_true", help="three sizes, few repeats")
    parser.add_argument("--plot", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "forward_vs_reverse.png"))
    args = parser.parse_args(argv)
    sizes = [4, 32, 256] if args.quick else [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    repeats = 3 if args.quick else 7

    if not args.quick:       # estimates from measured jit rates, not provisional ones
        ft.cost.wait_for_jit_rates()
    f, x = make_function(0, 256, 4, args.hidden)
    eager = {"fwd": median_time(lambda: ft.jacfwd(f)(x), repeats),
             "rev": median_time(lambda: ft.jacrev(f)(x), repeats)}
    estimate = ft.choose_mode(f, x)
    jitted = {"fwd": ft.jit(ft.jacfwd(f)), "rev": ft.jit(ft.jacrev(f))}
    compiled = {name: median_time(lambda: j(x), repeats) for name, j in jitted.items()}
    print(f"R^256 -> R^4, hidden {args.hidden}: eager jacfwd {eager['fwd'] * 1e3:.2f} ms "
          f"(estimated {estimate.forward.seconds * 1e3:.2f}), jacrev {eager['rev'] * 1e3:.2f} ms "
          f"(estimated {estimate.reverse.seconds * 1e3:.2f}); jit(jacfwd) "
          f"{compiled['fwd'] * 1e3:.3f} ms, jit(jacrev) {compiled['rev'] * 1e3:.3f} ms")
    print("eager times are mostly Python dispatch (one vmapped pass either way); under jit the "
          "work itself shows.\n")

    sweeps = {}
    for swept in ("n", "m"):
        print(f"sweep of {swept}, {'m' if swept == 'n' else 'n'} = {args.fixed}, "
              f"hidden {args.hidden}; median us per Jacobian, jit-compiled")
        print(f"{'':13s} {'jacfwd (us)':>17s} {'jacrev (us)':>17s}")
        print(f"{'n':>6s} {'m':>6s} {'est':>8s} {'meas':>8s} {'est':>8s} {'meas':>8s} "
              f"{'auto':>8s}   {'auto chose':>4s} {'faster':>4s}  ratio   auto right?")
        rows = []
        for size in sizes:
            n, m = (size, args.fixed) if swept == "n" else (args.fixed, size)
            rows.append(measure(n, m, args.hidden, repeats))
            print_row(rows[-1])
        sweeps[swept] = rows
        print()
    everything = [r for rows in sweeps.values() for r in rows]
    right = sum(r["choice"] == r["faster"] for r in everything)
    close = sum(r["choice"] != r["faster"] and r["ratio"] < 1.2 for r in everything)
    print(f"auto picked the faster mode in {right} of {len(everything)} settings"
          f"{f'; in the other {close} the two modes were within 20%' if close else ''}")
    ratios = [r[f"est_{k}"] / r[k] for r in everything for k in ("fwd", "rev")]
    print(f"estimate / measurement: median {np.median(ratios):.2f}, range "
          f"{min(ratios):.2f} to {max(ratios):.2f}")
    save_plot(sweeps, args.fixed, args.hidden, args.plot)
    print(f"saved the crossover plot to {args.plot}")
    return {"eager": eager, "jit": compiled, "sweeps": sweeps, "auto_right": right,
            "auto_close": close, "settings": len(everything), "eager_estimate": estimate,
            "estimate_ratios": ratios}


if __name__ == "__main__":
    main()
