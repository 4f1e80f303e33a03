"""Data-parallel training of the digits MLP on several processes: pmap + pmean of gradients.

    mpiexec -n 2 python examples/train_digits_distributed.py [--steps N] [--check]

Every process loads the same data and draws the same global batches; each takes its own
contiguous part of every global batch (global batch / processes rows), computes gradients on
it inside `pmap`, and `lax.pmean` averages the gradients across processes (an MPI Allreduce on
the gradient buffers), so all processes apply the same update and stay identical. The mean of
the per-process mean gradients is the gradient of the global batch's mean loss (equal parts),
so training matches a single process run on the global batch, up to float32 rounding of the
sums' order: `--check` runs that single-process reference too and compares the parameters.
Process 0 prints progress and accuracy and writes the checkpoint. Without mpiexec it runs as one
process (the world has size 1).
"""
import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # one BLAS thread per process

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import functrans as ft  # noqa: E402
from functrans import data, lax, nn, optim, random  # noqa: E402
from functrans import distributed as dist  # noqa: E402


def load(key):
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int32)
    (x_train, y_train), (x_test, y_test) = data.train_test_split(key, (x, y), test_fraction=0.2)
    scaler = data.standardize(x_train)
    return (np.asarray(scaler.transform(x_train)), y_train,
            np.asarray(scaler.transform(x_test)), y_test)


def make_step(apply_fn, optimizer, reduce):
    """One SGD step; `reduce` combines gradients and loss across processes (pmean) or not."""
    def loss_fn(params, x, y):
        return nn.softmax_cross_entropy(apply_fn(params, x), y)

    def step(params, opt_state, x, y):
        value, grads = ft.value_and_grad(loss_fn)(params, x, y)
        grads, value = reduce((grads, value))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, value
    return step


def replicate(tree):
    """A leading axis of length local_device_count() (= 1): what pmap maps over."""
    return ft.tree_util.tree_map(lambda a: np.asarray(a)[None], tree)


def unreplicate(tree):
    return ft.tree_util.tree_map(lambda a: np.asarray(a)[0], tree)


def global_batches(key, n, batch, steps):
    """The same sequence of global batches (index arrays) on every process."""
    out, epoch = [], 0
    while len(out) < steps:
        order = np.asarray(random.permutation(random.fold_in(key, epoch), n))
        out += [order[i:i + batch] for i in range(0, n - batch + 1, batch)]
        epoch += 1
    return out[:steps]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--check", action="store_true",
                        help="also train on one process with the global batch and compare")
    parser.add_argument("--checkpoint", default=None, help="an .npz written by process 0")
    args = parser.parse_args(argv)

    dist.initialize()
    rank, nproc = ft.process_index(), ft.process_count()
    log = print if rank == 0 else (lambda *a, **k: None)
    if args.global_batch % nproc:
        raise SystemExit(f"--global-batch {args.global_batch} must be a multiple of the "
                         f"{nproc} processes")
    local = args.global_batch // nproc

    data_key, init_key, order_key = random.split(random.key(0), 3)
    x_train, y_train, x_test, y_test = load(data_key)
    init_fn, apply_fn = nn.mlp(list(args.hidden) + [10], activation="relu",
                               w_init=nn.initializers.he_normal())
    _, params = init_fn(init_key, (-1, x_train.shape[1]))
    params = dist.broadcast_one_to_all(params)         # process 0's initialization everywhere
    optimizer = optim.sgd(0.05, momentum=0.9)
    opt_state = optimizer.init(params)

    p_step = ft.pmap(make_step(apply_fn, optimizer, lambda t: lax.pmean(t, "batch")),
                     axis_name="batch")
    evaluate = ft.jit(lambda p, x, y: nn.accuracy(apply_fn(p, x), y))
    batches = global_batches(order_key, x_train.shape[0], args.global_batch, args.steps)
    log(f"{nproc} process(es), global batch {args.global_batch} = {nproc} x {local}, "
        f"{args.steps} steps, MLP {'-'.join(map(str, [64, *args.hidden, 10]))}")

    rp, rs = replicate(params), replicate(opt_state)
    t0 = time.perf_counter()
    for k, idx in enumerate(batches):
        mine = idx[rank * local:(rank + 1) * local]      # this process's part of the batch
        rp, rs, loss = p_step(rp, rs, x_train[mine][None], y_train[mine][None])
        if k == 0:
            t0 = time.perf_counter()                     # the first step compiled
        if (k + 1) % max(args.steps // 5, 1) == 0:
            log(f"step {k + 1:4d}  loss {float(loss[0]):.4f}")
    seconds = time.perf_counter() - t0
    params = unreplicate(rp)
    test_acc = float(evaluate(params, x_test, y_test))
    log(f"test accuracy {test_acc:.3f}  ({(args.steps - 1) / max(seconds, 1e-9):.0f} steps/s)")

    # Metrics gathered to process 0: each process's accuracy on its share of the test set.
    shard_x, shard_y = dist.shard_by_process((x_test, y_test))
    per_process = dist.gather_to_process_0(np.float32(evaluate(params, shard_x, shard_y)))
    if rank == 0:
        log("test accuracy by process shard: " + ", ".join(f"{a:.3f}" for a in per_process))
    if args.checkpoint:
        dist.save_on_process_0(args.checkpoint, params)
        log(f"checkpoint written to {args.checkpoint}")

    result = {"params": params, "test_accuracy": test_acc}
    if args.check:
        step = ft.jit(make_step(apply_fn, optimizer, lambda t: t))
        ref = init_fn(init_key, (-1, x_train.shape[1]))[1]
        ref_state = optimizer.init(ref)
        for idx in batches:
            ref, ref_state, _ = step(ref, ref_state, x_train[idx], y_train[idx])
        diffs = ft.tree_util.tree_map(lambda a, b: float(np.max(np.abs(a - b))), params, ref)
        scale = max(float(np.max(np.abs(a))) for a in ft.tree_util.tree_leaves(ref))
        worst = max(ft.tree_util.tree_leaves(diffs))
        log(f"check: max |distributed - single process| = {worst:.3g} over parameters of "
            f"magnitude up to {scale:.3g} (float32 eps = {np.finfo(np.float32).eps:.3g})")
        result.update(max_abs_diff=worst, scale=scale)
    return result


if __name__ == "__main__":
    main()
