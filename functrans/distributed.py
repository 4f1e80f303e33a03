"""Many processes, one program: MPI underneath pmap's collectives, and the helpers a
data-parallel training script needs around them.

Start a program under MPI (`mpiexec -n 4 python train.py`) and call `initialize()` first: each
process is one CPU "device" (`device_count()` = processes, `local_device_count()` = 1), and
`pmap(f, axis_name="i")` runs f on every process with collectives over "i" reduced across all of
them by MPI (functrans/primitives/collectives.py; MPI's own reductions on numpy buffers, never
pickled objects). Started without mpiexec, the world is this one process (size 1) and MPI is not
loaded at all, so the same script runs on a laptop.

`pip install "functrans[distributed]"` brings mpi4py and MPICH (the `mpich` wheel: its mpiexec
runs as root without extra flags, and mpi4py's wheels load it). Any MPI that mpi4py finds works.

Faults: initialize() installs an exception hook that prints the error and the rank that raised
it, then aborts every process (MPI_Abort), so one failing rank never leaves the others waiting
in a collective. With FUNCTRANS_DEBUG_COLLECTIVES=1 (or initialize(debug=True)) every
collective first compares the shapes and dtypes of all ranks' operands and raises a clear error
on a mismatch (one small extra message per collective; off by default).
"""
import os

import numpy as np

from . import random, tree_util
from .mpi_world import (MpiWorld, barrier, device_count, initialize, is_initialized,
                        local_device_count, process_count, process_index, shutdown, world)

__all__ = ["initialize", "is_initialized", "shutdown", "process_index", "process_count",
           "device_count", "local_device_count", "barrier", "shard_by_process",
           "broadcast_one_to_all", "gather_to_process_0", "save_on_process_0", "process_key",
           "world"]


# --- helpers around a data-parallel step ---------------------------------------------------------

def shard_by_process(data, axis=0, drop_remainder=True):
    """This process's contiguous part of every array in `data` (a pytree) along `axis`.

    Each process gets n // process_count() rows (rank r: rows r*k .. (r+1)*k - 1); the
    remainder is dropped, since every process must run the same number of equal steps.
    With drop_remainder=False the parts differ by at most one row (np.array_split)."""
    w = world()

    def part(x):
        x = np.asarray(x)
        n = x.shape[axis]
        if drop_remainder:
            k = n // w.size
            return np.take(x, np.arange(w.rank * k, (w.rank + 1) * k), axis=axis)
        return np.array_split(x, w.size, axis=axis)[w.rank]
    return tree_util.tree_map(part, data)


def broadcast_one_to_all(tree, is_source=None):
    """Every process gets process 0's values of `tree` (a pytree of arrays of equal shapes on
    every process), e.g. parameters initialized on process 0
    (jax.experimental.multihost_utils.broadcast_one_to_all)."""
    w = world()
    source = w.rank == 0 if is_source is None else bool(is_source)
    if w.size > 1:
        roots = w.comm.allgather(source) if isinstance(w, MpiWorld) else [True]
        if sum(roots) != 1:
            raise ValueError("broadcast_one_to_all: exactly one process must be the source")
        root = roots.index(True)
    else:
        root = 0

    def one(x):
        buf = np.array(x, copy=True, order="C")
        w.bcast(buf, root)
        return buf
    return tree_util.tree_map(one, tree)


def gather_to_process_0(tree):
    """Process 0 gets every process's values of `tree` stacked along a new leading axis (of
    length process_count()); the other processes get None. For metrics: loss, accuracy."""
    w = world()

    def one(x):
        x = np.asarray(x, order="C")
        recv = np.empty((w.size,) + x.shape, x.dtype) if w.rank == 0 else None
        w.gather(x, recv, 0)
        return recv
    out = tree_util.tree_map(one, tree)
    return out if w.rank == 0 else None


def save_on_process_0(path, tree):
    """Write `tree`'s arrays to `path` (an .npz, keys are the leaves' tree paths) from process 0
    only, then wait for it on every process (so no process reads a half-written file)."""
    w = world()
    if w.rank == 0:
        leaves, _ = tree_util.tree_flatten_with_path(tree)
        arrays = {tree_util.keystr(p) or "leaf": np.asarray(v) for p, v in leaves}
        tmp = f"{path}.tmp-{os.getpid()}.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    w.barrier()
    return path


def process_key(key):
    """A random key of this process's own (random.fold_in(key, process_index())): for data
    order or dropout that must differ per process; initialize parameters from the shared key."""
    return random.fold_in(key, process_index())
