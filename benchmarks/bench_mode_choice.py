"""Forward or reverse: does the cost model's estimate match the clock, and does auto pick the
faster mode? A sweep of functions R^n -> R^m, each run eagerly and jit-compiled.

For each function and execution (eager / jit) it reports the estimated and the measured time of
jacfwd and jacrev, their ratio (estimate / measurement), the mode jacobian(mode="auto") chose,
the mode that measured faster, and how much slower auto's choice was than the faster mode.

Times are medians of interleaved samples (fwd, rev, auto in turn, so drifting load hits all
three alike; seven by default), each sample looping to at least 2 ms. The clock is this
thread's CPU time, like the calibration's (functrans.cost): the machine is shared, and wall
time would mostly measure the other processes; the wall-clock medians are reported too.

    python benchmarks/bench_mode_choice.py [--quick] [--only eager|jit] [--filter NAME]
                                           [--markdown PATH]

Targets (issue 18): every estimate within 2x of its measurement, median ratio within 1.3x; auto
picks the faster mode wherever the two differ by more than 20%, and is never more than 20%
slower than the faster mode.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # small products: one BLAS thread

import numpy as np  # noqa: E402

import functrans as ft  # noqa: E402
from functrans.backend.executables import wait_for_background_compiles  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import lax  # noqa: E402


# --- the functions ---------------------------------------------------------------------------------

def mlp(depth, width, n, m, seed=0):
    """depth hidden tanh layers of `width`, then a linear layer to m outputs: R^n -> R^m."""
    rng = np.random.default_rng(seed)
    sizes = [n] + [width] * depth + [m]
    ws = [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]

    def f(x):
        for w in ws[:-1]:
            x = fnp.tanh(w @ x)
        return ws[-1] @ x
    return f"mlp d{depth} w{width}", f, rng.standard_normal(n)


def elementwise_chain(n, length):
    def f(x):
        for k in range(length):
            x = fnp.sin(x) * (1.0 + 0.1 * k) + x * x * 0.5 - fnp.exp(-x * x)
        return x
    return f"elementwise x{length}", f, np.linspace(-1, 1, n)


def reduction(n, m):
    """Row sums of squared tanh: R^n -> R^m (m divides n)."""
    def f(x):
        return fnp.sum(fnp.tanh(x.reshape(m, n // m)) ** 2, axis=1)
    return "sum(tanh^2) rows", f, np.linspace(-1, 1, n)


def softmax(n):
    def f(x):
        e = fnp.exp(x - fnp.max(x))
        return e / fnp.sum(e)
    return "softmax", f, np.linspace(-1, 1, n)


def rnn(d, steps, all_outputs, seed=0):
    """h <- tanh(W h + x_t) over `steps` inputs x_t in R^d (a lax.scan); the final state
    (R^(steps*d) -> R^d) or every state (-> R^(steps*d))."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, d)) / np.sqrt(d)

    def f(xs):
        xs = xs.reshape(steps, d)

        def step(h, x):
            h = fnp.tanh(w @ h + x)
            return h, h
        h, hs = lax.scan(step, fnp.zeros(d), xs)
        return hs.ravel() if all_outputs else h
    return f"scan rnn d{d} T{steps}{' all' if all_outputs else ''}", f, \
        rng.standard_normal(steps * d)


def rollout(d, steps, seed=0):
    """A scan driven by its initial state alone: R^d -> R^(steps*d) (tall)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, d)) / np.sqrt(d)

    def f(h0):
        def step(h, _):
            h = fnp.tanh(w @ h)
            return h, h
        return lax.scan(step, h0, None, length=steps)[1].ravel()
    return f"scan rollout d{d} T{steps}", f, rng.standard_normal(d)


def suite(quick=False):
    cases = [
        # MLPs: depth 1-4, widths 8-1000, lopsided and square
        mlp(1, 8, 8, 8), mlp(1, 64, 64, 10), mlp(1, 1000, 100, 10), mlp(1, 16, 5000, 1),
        mlp(2, 64, 512, 4), mlp(2, 64, 4, 512), mlp(2, 256, 1000, 1), mlp(2, 16, 1, 5000),
        mlp(3, 100, 1, 1000), mlp(3, 32, 2000, 2), mlp(4, 32, 32, 32), mlp(4, 8, 1, 1),
        mlp(4, 200, 50, 50), mlp(2, 1000, 1, 1), mlp(3, 500, 20, 3),
        # near the crossover (n and m within 20% of each other, or of where the modes meet)
        mlp(2, 64, 100, 100), mlp(2, 64, 100, 120), mlp(2, 64, 120, 100),
        mlp(1, 128, 200, 180), mlp(1, 128, 180, 200), mlp(3, 64, 48, 40), mlp(3, 64, 40, 48),
        mlp(2, 300, 300, 300), mlp(2, 32, 24, 20), mlp(1, 500, 1000, 900),
        # elementwise chains (R^n -> R^n) and reductions
        elementwise_chain(10, 3), elementwise_chain(100, 3), elementwise_chain(500, 6),
        elementwise_chain(2000, 2), reduction(10, 1), reduction(1000, 1), reduction(5000, 1),
        reduction(1000, 10), reduction(1000, 500), softmax(50), softmax(500),
        # scans
        rnn(8, 20, False), rnn(16, 20, True), rnn(32, 10, False), rollout(4, 50),
        rollout(16, 30),
    ]
    if quick:
        cases = cases[::6]
    return cases


# --- measuring -------------------------------------------------------------------------------------

def interleaved(fns, samples):
    """Median CPU and wall seconds per call of each function, sampled in turn; each sample loops
    to at least 2 ms of CPU time."""
    loops = []
    for fn in fns:
        fn()
        t0 = time.thread_time()
        fn()
        loops.append(max(1, int(2e-3 / max(time.thread_time() - t0, 1e-7))))
    cpu = [[] for _ in fns]
    wall = [[] for _ in fns]
    for _ in range(samples):
        for i, fn in enumerate(fns):
            c0, w0 = time.thread_time(), time.perf_counter()
            for _ in range(loops[i]):
                fn()
            cpu[i].append((time.thread_time() - c0) / loops[i])
            wall[i].append((time.perf_counter() - w0) / loops[i])
    return [float(np.median(c)) for c in cpu], [float(np.median(w)) for w in wall]


def run_case(name, f, x, execution, samples):
    n, m = x.size, int(np.size(ft.eval_shape(f, x)))
    chooser = ft.jacobian(f, mode="auto")
    fwd, rev, auto = ft.jacfwd(f), ft.jacrev(f), chooser
    if execution == "jit":
        fwd, rev, auto = ft.jit(fwd), ft.jit(rev), ft.jit(chooser)
    ref = np.asarray(fwd(x))
    np.testing.assert_allclose(np.asarray(rev(x)), ref, rtol=1e-8, atol=1e-10,
                               err_msg=f"{name}: jacrev differs from jacfwd")
    np.testing.assert_allclose(np.asarray(auto(x)), ref, rtol=1e-8, atol=1e-10)
    decision = chooser.last_decision          # decided at the first call, kept for the rest
    wait_for_background_compiles()            # compiled code, not calls on numpy meanwhile
    cpu, wall = interleaved([lambda: fwd(x), lambda: rev(x), lambda: auto(x)], samples)
    est = {"fwd": decision.forward.seconds, "rev": decision.reverse.seconds}
    meas = {"fwd": cpu[0], "rev": cpu[1]}
    faster = min(meas, key=meas.get)
    return {"name": name, "n": n, "m": m, "execution": execution, "est": est, "meas": meas,
            "wall": {"fwd": wall[0], "rev": wall[1]}, "auto": cpu[2], "auto_wall": wall[2],
            "choice": decision.mode, "faster": faster, "settled_by": decision.settled_by,
            "gap": max(meas.values()) / min(meas.values()),
            "loss": meas[decision.mode] / meas[faster] - 1,
            "decision_s": decision.decision_seconds}


def fmt_row(r):
    ratio = {k: r["est"][k] / r["meas"][k] for k in ("fwd", "rev")}
    ok = "yes" if r["choice"] == r["faster"] else (
        "close" if r["loss"] <= 0.2 else "NO")
    return (f"| {r['name']} | {r['n']} | {r['m']} | {r['execution']} | "
            f"{_t(r['est']['fwd'])} | {_t(r['meas']['fwd'])} | {ratio['fwd']:.2f} | "
            f"{_t(r['est']['rev'])} | {_t(r['meas']['rev'])} | {ratio['rev']:.2f} | "
            f"{r['choice']}{'*' if r['settled_by'] == 'measured' else ''} | {r['faster']} | "
            f"{r['gap']:.2f} | {ok} |")


def _t(s):
    return f"{s * 1e3:.3f}"


HEADER = ("| function | n | m | run | fwd est ms | fwd meas ms | ratio | rev est ms | "
          "rev meas ms | ratio | auto | faster | gap | auto ok |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def summarize(rows):
    ratios = np.array([r["est"][k] / r["meas"][k] for r in rows for k in ("fwd", "rev")])
    fold = np.maximum(ratios, 1 / ratios)
    wall_ratios = np.array([r["est"][k] / r["wall"][k] for r in rows for k in ("fwd", "rev")])
    wall_fold = np.maximum(wall_ratios, 1 / wall_ratios)
    clear = [r for r in rows if r["gap"] > 1.2]
    right_clear = sum(r["choice"] == r["faster"] for r in clear)
    worst = max(rows, key=lambda r: r["loss"])
    lines = [
        f"{len(rows)} runs ({len({r['name'] + str(r['n']) + str(r['m']) for r in rows})} "
        f"functions x eager/jit), {len(ratios)} estimates",
        f"estimate / measurement (CPU time): median {np.median(ratios):.2f}, median fold "
        f"{np.median(fold):.2f}x, worst fold {fold.max():.2f}x, within 2x: "
        f"{int((fold <= 2).sum())}/{len(fold)}",
        f"estimate / measurement (wall time): median {np.median(wall_ratios):.2f}, within 2x: "
        f"{int((wall_fold <= 2).sum())}/{len(wall_fold)}",
        f"auto picked the faster mode in {sum(r['choice'] == r['faster'] for r in rows)}/"
        f"{len(rows)} runs; where the modes differ by > 20%: {right_clear}/{len(clear)}",
        f"auto's choice vs the faster mode: worst {worst['loss'] * 100:.0f}% slower "
        f"({worst['name']} n={worst['n']} m={worst['m']} {worst['execution']}); over 20% "
        f"slower in {sum(r['loss'] > 0.2 for r in rows)} runs",
        f"auto decided by timing both modes (estimates within the model's error, marked *): "
        f"{sum(r['settled_by'] == 'measured' for r in rows)} runs; of the rest, right where the "
        f"modes differ by > 20%: "
        f"{sum(r['choice'] == r['faster'] for r in clear if r['settled_by'] != 'measured')}/"
        f"{sum(r['settled_by'] != 'measured' for r in clear)}",
        *[_split_line(rows, ex) for ex in ("eager", "jit")],
        f"decision cost (once per signature): median "
        f"{np.median([r['decision_s'] for r in rows]) * 1e3:.1f} ms"]
    return "\n".join(lines)


def _split_line(rows, execution):
    rows = [r for r in rows if r["execution"] == execution]
    if not rows:
        return f"{execution}: no runs"
    ratios = np.array([r["est"][k] / r["meas"][k] for r in rows for k in ("fwd", "rev")])
    fold = np.maximum(ratios, 1 / ratios)
    clear = [r for r in rows if r["gap"] > 1.2]
    worst = max(rows, key=lambda r: r["loss"])
    return (f"{execution}: within 2x {int((fold <= 2).sum())}/{len(fold)}, median ratio "
            f"{np.median(ratios):.2f}, worst fold {fold.max():.2f}x; auto right where > 20%: "
            f"{sum(r['choice'] == r['faster'] for r in clear)}/{len(clear)}, > 20% slower in "
            f"{sum(r['loss'] > 0.2 for r in rows)} (worst {worst['loss'] * 100:.0f}%, "
            f"{worst['name']} {worst['n']}->{worst['m']})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every sixth function")
    parser.add_argument("--only", choices=("eager", "jit"))
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--filter", help="only the functions whose name contains this")
    parser.add_argument("--markdown", help="write the table and summary to this file")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rates = ft.cost.calibrate(wait=True)   # the jit rates measured, not provisional
    print(rates, "\n")
    print(HEADER)
    rows = []
    for name, f, x in suite(args.quick):
        if args.filter and args.filter not in name:
            continue
        for execution in ("eager", "jit"):
            if args.only not in (None, execution):
                continue
            rows.append(run_case(name, f, x, execution, args.samples))
            print(fmt_row(rows[-1]), flush=True)
    summary = summarize(rows)
    print("\n" + summary)
    print(f"\nsweep took {time.perf_counter() - t0:.0f} s")
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(HEADER + "\n" + "\n".join(fmt_row(r) for r in rows) + "\n\n" + summary +
                     "\n")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
