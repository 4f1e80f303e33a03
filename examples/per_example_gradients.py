"""Per-example gradients with vmap(grad), and DP-SGD style training on the scikit-learn digits.

grad of a single-example loss, vmapped over the batch, gives one gradient per example in one
call. That is what differentially private SGD needs: clip each example's gradient to norm C
(so no single example moves the model by more than C), average, and add Gaussian noise of
standard deviation sigma * C / batch (drawn with a functrans.random key). The whole step is
jit-compiled.

The example checks vmap(grad) against a Python loop of grad, times both (eager and compiled),
then trains a 64-32-10 MLP three ways: plain SGD, clipping only, and clipping plus noise.
(No privacy accounting here: sigma and C are just the knobs.)

    python examples/per_example_gradients.py [--epochs N] [--quick] [--plot PATH]
"""
import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # small matrices: one BLAS thread is fastest

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import data, nn, optim, random, tree_util  # noqa: E402


def load(key):
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int32)
    (x_train, y_train), (x_test, y_test) = data.train_test_split(key, (x, y), test_fraction=0.2)
    scaler = data.standardize(x_train)
    return (np.asarray(scaler.transform(x_train)), y_train,
            np.asarray(scaler.transform(x_test)), y_test)


init_fn, apply_fn = nn.mlp([32, 10], activation="relu", w_init=nn.initializers.he_normal())


def example_loss(params, x, y):
    """The loss of ONE example: x has shape (64,), y is a class index."""
    return nn.softmax_cross_entropy(apply_fn(params, x), y)


# params are shared (None), images and labels are split along axis 0
per_example_grads = ft.vmap(ft.grad(example_loss), in_axes=(None, 0, 0))


def clipped_noisy_mean(grads, clip, noise_std, key):
    """Clip each example's gradient (a pytree with a leading batch axis) to norm `clip`, sum,
    add N(0, noise_std^2) to every coordinate (DP-SGD: noise_std = sigma * clip), and divide
    by the batch size."""
    leaves, tree = tree_util.tree_flatten(grads)
    batch = leaves[0].shape[0]
    norms = fnp.sqrt(sum(fnp.sum(g.reshape(batch, -1) ** 2, axis=1) for g in leaves))
    factors = fnp.minimum(1.0, clip / (norms + 1e-12))        # 1 for examples within the ball
    keys = random.split(key, len(leaves))
    noisy = [(fnp.tensordot(factors, g, axes=1)
              + noise_std * random.normal(k, g.shape[1:], g.dtype)) / batch
             for g, k in zip(leaves, keys)]
    return tree_util.tree_unflatten(tree, noisy), norms


def make_step(optimizer):
    @ft.jit
    def step(params, opt_state, x, y, clip, noise_std, key):
        grads, norms = clipped_noisy_mean(per_example_grads(params, x, y), clip, noise_std, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, norms
    return step


@ft.jit
def evaluate(params, x, y):
    logits = apply_fn(params, x)
    return nn.softmax_cross_entropy(logits, y), nn.accuracy(logits, y)


def median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def compare_with_loop(params, x, y, repeats):
    """vmap(grad) against a Python loop of grad: the same numbers, and how long each takes."""
    batched = per_example_grads(params, x, y)
    looped = [ft.grad(example_loss)(params, x[i], y[i]) for i in range(len(x))]
    stacked = tree_util.tree_map(lambda *g: np.stack(g), *looped)
    error = max(float(np.abs(np.asarray(a) - b).max()) for a, b in
                zip(tree_util.tree_leaves(batched), tree_util.tree_leaves(stacked)))
    print(f"vmap(grad) vs a Python loop of grad over {len(x)} examples: max difference "
          f"{error:.1e}")
    grad_jit, vmap_jit = ft.jit(ft.grad(example_loss)), ft.jit(per_example_grads)
    times = {
        "loop of grad": median_time(lambda: [ft.grad(example_loss)(params, x[i], y[i])
                                             for i in range(len(x))], max(1, repeats // 3)),
        "vmap(grad)": median_time(lambda: per_example_grads(params, x, y), repeats),
        "loop of jit(grad)": median_time(lambda: [grad_jit(params, x[i], y[i])
                                                  for i in range(len(x))], repeats),
        "jit(vmap(grad))": median_time(lambda: vmap_jit(params, x, y), repeats)}
    for name, seconds in times.items():
        print(f"  {name:20s} {seconds * 1e3:9.3f} ms per batch")
    print(f"vmap(grad) is {times['loop of grad'] / times['vmap(grad)']:.0f}x faster than the "
          f"loop eagerly, {times['loop of jit(grad)'] / times['jit(vmap(grad))']:.0f}x compiled")
    return error, times


def train(name, splits, epochs, batch_size, clip, noise, key, lr):
    x_train, y_train, x_test, y_test = splits
    init_key, data_key, noise_key = random.split(key, 3)
    _, params = init_fn(init_key, (-1, x_train.shape[1]))
    optimizer = optim.sgd(lr, momentum=0.9)
    opt_state = optimizer.init(params)
    step = make_step(optimizer)
    # Traced scalars (not static): one compiled step serves every setting. Without clipping
    # (clip = inf) there is no noise either.
    clip_arg, noise_arg = np.float32(clip), np.float32(noise * clip if noise else 0.0)
    print(f"== {name}: clip C = {clip:g}, noise sigma = {noise:g} ==")
    t0 = time.perf_counter()
    step(params, opt_state, x_train[:batch_size], y_train[:batch_size], clip_arg, noise_arg,
         noise_key)
    print(f"compiled the step in {time.perf_counter() - t0:.2f} s")
    initial_norms = np.asarray(per_example_grads_norms(params, x_train, y_train))
    accuracies, n_step = [], 0
    for epoch in range(1, epochs + 1):
        clipped, seen, t0 = 0, 0, time.perf_counter()
        for xb, yb in data.batches(random.fold_in(data_key, epoch), (x_train, y_train),
                                   batch_size, drop_last=True):
            params, opt_state, norms = step(params, opt_state, xb, yb, clip_arg, noise_arg,
                                            random.fold_in(noise_key, n_step))
            norms = np.asarray(norms)
            clipped += int(np.sum(norms > clip))
            seen += len(norms)
            n_step += 1
        seconds = time.perf_counter() - t0
        loss, acc = (float(v) for v in evaluate(params, x_test, y_test))
        accuracies.append(acc)
        print(f"epoch {epoch:3d}  test loss {loss:.4f}  test acc {acc:.3f}  clipped "
              f"{clipped / seen:6.1%} of examples  {n_step / epoch / seconds:6.0f} steps/s")
    final_norms = np.asarray(per_example_grads_norms(params, x_train, y_train))
    return {"accuracy": accuracies[-1], "accuracies": accuracies,
            "initial_norms": initial_norms, "final_norms": final_norms}


@ft.jit
def per_example_grads_norms(params, x, y):
    leaves = tree_util.tree_leaves(per_example_grads(params, x, y))
    return fnp.sqrt(sum(fnp.sum(g.reshape(x.shape[0], -1) ** 2, axis=1) for g in leaves))


def save_plot(runs, clip, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    lo, hi = 1e-4, 1e2
    bins = np.logspace(np.log10(lo), np.log10(hi), 49)
    curves = {"at initialization": next(iter(runs.values()))["initial_norms"]}
    curves.update({f"after {name}": run["final_norms"] for name, run in runs.items()})
    for label, norms in curves.items():         # the ends of the range collect the outliers
        ax1.hist(np.clip(norms, lo, hi), bins=bins, histtype="step", lw=1.5, label=label)
    ax1.axvline(clip, color="k", ls="--", label=f"clip norm C = {clip:g}")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("per-example gradient norm")
    ax1.set_ylabel("training examples")
    ax1.set_title("per-example gradient norms (vmap(grad))")
    ax1.legend(fontsize=8, loc="upper left")
    for name, run in runs.items():
        ax2.plot(range(1, len(run["accuracies"]) + 1), run["accuracies"], marker="o", label=name)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("test accuracy")
    ax2.set_title("64-32-10 MLP on the digits")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="two epochs, few timing repeats")
    parser.add_argument("--plot", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "per_example_gradients.png"))
    args = parser.parse_args(argv)
    epochs = 2 if args.quick else args.epochs

    key = random.key(0)
    data_key, init_key, train_key = random.split(key, 3)
    splits = load(data_key)
    print(f"digits: {splits[0].shape[0]} training and {splits[2].shape[0]} test images")
    _, params = init_fn(init_key, (-1, splits[0].shape[1]))
    xb, yb = splits[0][:args.batch_size], splits[1][:args.batch_size]
    error, times = compare_with_loop(params, xb, yb, repeats=3 if args.quick else 7)

    runs = {}
    for name, clip, noise in (("plain SGD", np.inf, 0.0),
                              ("clipped", args.clip, 0.0),
                              ("clipped + noise (DP-SGD)", args.clip, args.noise)):
        print()
        runs[name] = train(name, splits, epochs, args.batch_size, clip, noise, train_key, args.lr)
    print()
    for name, run in runs.items():
        print(f"final test accuracy, {name}: {run['accuracy']:.3f}")
    save_plot(runs, args.clip, args.plot)
    print(f"saved the plots to {args.plot}")
    return {"loop_error": error, "times": times,
            "accuracy": {name: run["accuracy"] for name, run in runs.items()}, "runs": runs}


if __name__ == "__main__":
    main()
