"""Train an MLP on the handwritten digits that ship with scikit-learn (8x8 images, 1,797
samples, no download), with a jit-compiled training step.

Two networks: 64-16-16-10, as in the classic 784-16-16-10 lesson, trained with mini-batch SGD
with momentum; and a wider 64-128-64-10 trained with Adam. Each epoch prints the loss, train and
test accuracy and training steps per second; at the end a loss-curve PNG is saved and the
forward-versus-reverse cost report of the loss is printed.

    python examples/train_digits.py [--epochs N] [--quick] [--plot PATH]
"""
import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # small matrices: one BLAS thread is fastest

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import functrans as ft  # noqa: E402
from functrans import data, nn, optim, random  # noqa: E402


def load(key):
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int32)
    (x_train, y_train), (x_test, y_test) = data.train_test_split(key, (x, y), test_fraction=0.2)
    scaler = data.standardize(x_train)               # statistics from the training split only
    return (np.asarray(scaler.transform(x_train)), y_train,
            np.asarray(scaler.transform(x_test)), y_test)


def make_model(hidden):
    init_fn, apply_fn = nn.mlp(list(hidden) + [10], activation="relu",
                               w_init=nn.initializers.he_normal())

    def loss(params, x, y):
        return nn.softmax_cross_entropy(apply_fn(params, x), y)

    return init_fn, apply_fn, loss


def train(name, hidden, optimizer, epochs, batch_size, key, splits, log=print):
    x_train, y_train, x_test, y_test = splits
    init_fn, apply_fn, loss = make_model(hidden)
    init_key, data_key = random.split(key)
    _, params = init_fn(init_key, (-1, x_train.shape[1]))
    opt_state = optimizer.init(params)

    @ft.jit
    def step(params, opt_state, x, y):
        value, grads = ft.value_and_grad(loss)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, value

    @ft.jit
    def evaluate(params, x, y):
        return nn.accuracy(apply_fn(params, x), y)

    log(f"== {name}: {'-'.join(map(str, [x_train.shape[1], *hidden, 10]))} MLP ==")
    t0 = time.perf_counter()
    step(params, opt_state, x_train[:batch_size], y_train[:batch_size])
    # (Calls run on numpy until the kernels, compiling in a worker process, are ready: the
    # first epoch's steps/s mixes both.)
    log(f"first call of the training step: {time.perf_counter() - t0:.2f} s (traced; the "
        "step runs on numpy while it compiles in the background)")
    history = []
    for epoch in range(1, epochs + 1):
        epoch_key = random.fold_in(data_key, epoch)
        losses, n_steps, t0 = [], 0, time.perf_counter()
        for xb, yb in data.batches(epoch_key, (x_train, y_train), batch_size, drop_last=True):
            params, opt_state, value = step(params, opt_state, xb, yb)
            losses.append(float(value))
            n_steps += 1
        seconds = time.perf_counter() - t0
        history.append(float(np.mean(losses)))
        train_acc = float(evaluate(params, x_train, y_train))
        test_acc = float(evaluate(params, x_test, y_test))
        log(f"epoch {epoch:3d}  loss {history[-1]:.4f}  train acc {train_acc:.3f}  "
            f"test acc {test_acc:.3f}  {n_steps / seconds:8.0f} steps/s")
    return params, history, test_acc, loss


def save_plot(histories, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, history in histories.items():
        ax.plot(range(1, len(history) + 1), history, marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.set_yscale("log")
    ax.set_title("MLP on scikit-learn digits")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="a short run, for the tests")
    parser.add_argument("--plot", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "train_digits_loss.png"))
    args = parser.parse_args(argv)
    epochs = 2 if args.quick else args.epochs

    key = random.key(0)
    data_key, key_a, key_b = random.split(key, 3)
    splits = load(data_key)
    print(f"digits: {splits[0].shape[0]} training and {splits[2].shape[0]} test images")
    histories, results = {}, {}
    configs = [("64-16-16-10, SGD + momentum", (16, 16), optim.sgd(0.05, momentum=0.9), key_a),
               ("wider, Adam", (128, 64), optim.adam(1e-3), key_b)]
    for name, hidden, optimizer, k in configs:
        params, history, test_acc, loss = train(name, hidden, optimizer, epochs,
                                                args.batch_size, k, splits)
        histories[name], results[name] = history, (test_acc, params, loss)
    save_plot(histories, args.plot)
    print(f"saved the loss curves to {args.plot}")
    for name, (acc, _, _) in results.items():
        print(f"final test accuracy, {name}: {acc:.3f}")

    # The cost report: the loss as a function of all parameters, R^n -> R^1.
    name = configs[0][0]
    _, params, loss = results[name]
    x_batch, y_batch = splits[0][:args.batch_size], splits[1][:args.batch_size]
    print(f"\nforward vs reverse mode for the gradient of the {name} loss:")
    print(ft.compare_modes(lambda p: loss(p, x_batch, y_batch), params, repeats=3))
    return results


if __name__ == "__main__":
    main()
