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
import sys
import threading

import numpy as np

__all__ = ["initialize", "is_initialized", "shutdown", "process_index", "process_count",
           "device_count", "local_device_count", "barrier", "shard_by_process",
           "broadcast_one_to_all", "gather_to_process_0", "save_on_process_0", "process_key",
           "world"]

_LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                  "MPI_LOCALNRANKS")


def launched_by_mpi() -> bool:
    """Whether an MPI launcher (mpiexec/mpirun/srun with PMI) started this process."""
    return any(v in os.environ for v in _LAUNCHER_VARS)


def _debug_default() -> bool:
    return os.environ.get("FUNCTRANS_DEBUG_COLLECTIVES", "") not in ("", "0")


# --- worlds: the processes collectives run over --------------------------------------------------

class SelfWorld:
    """The world of a process started without MPI: one member; collectives copy."""
    rank = 0
    size = 1
    kind = "single process (no MPI)"

    def __init__(self, debug=False):
        self.debug = debug

    def check_same(self, name, xs):
        pass

    def allreduce_inplace(self, buf, op):
        pass

    def allgather(self, x, recv):
        recv[0] = x

    def reduce_scatter(self, xm, recv):
        recv[...] = xm[0]

    def permute(self, x, out, dst, src):
        if src == 0:
            out[...] = x

    def bcast(self, buf, root=0):
        pass

    def gather(self, x, recv, root=0):
        recv[0] = x

    def barrier(self):
        pass

    def abort(self, code=1):
        os._exit(code)


class MpiWorld:
    """MPI_COMM_WORLD through mpi4py's buffer (uppercase) interface."""
    kind = "MPI"

    def __init__(self, comm, debug=False):
        from mpi4py import MPI
        self.MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.debug = debug
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def check_same(self, name, xs):
        """Under debug: every rank's operands must have the same shapes and dtypes (a
        mismatched MPI reduction is undefined: it may hang, truncate or read garbage)."""
        if not self.debug:
            return
        mine = tuple((x.shape, x.dtype.str) for x in xs)
        everyone = self.comm.allgather(mine)      # a tiny pickled message, debug only
        if any(o != everyone[0] for o in everyone):
            lines = "\n".join(f"  rank {r}: " + ", ".join(
                f"{np.dtype(d).name}{list(s)}" for s, d in o) for r, o in enumerate(everyone))
            raise ValueError(f"lax.{name}: the processes passed operands of different shapes "
                             f"or dtypes to the same collective (rank {self.rank} noticed):\n"
                             f"{lines}\nEvery process must call collectives with equal shapes "
                             "(e.g. shard the data set into equal parts: shard_by_process).")

    def allreduce_inplace(self, buf, op):
        if buf.dtype == np.bool_:       # MPI has no SUM of booleans: reduce as bytes
            view = buf.view(np.uint8)
            self.comm.Allreduce(self.MPI.IN_PLACE, view,
                                op=self.MPI.MAX if op in ("sum", "max") else self.MPI.MIN)
            return
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self._ops[op])

    def allgather(self, x, recv):
        self.comm.Allgather(x, recv)

    def reduce_scatter(self, xm, recv):
        self.comm.Reduce_scatter_block(xm, recv, op=self.MPI.SUM)

    def permute(self, x, out, dst, src):
        reqs = [self.comm.Isend(x, dest=dst, tag=71)] if dst is not None else []
        if src is not None:
            self.comm.Recv(out, source=src, tag=71)
        self.MPI.Request.Waitall(reqs)

    def bcast(self, buf, root=0):
        self.comm.Bcast(buf, root=root)

    def gather(self, x, recv, root=0):
        self.comm.Gather(x, recv if self.rank == root else None, root=root)

    def barrier(self):
        self.comm.Barrier()

    def abort(self, code=1):
        self.comm.Abort(code)


_lock = threading.Lock()
_world = None
_explicit = False


def initialize(coordinator_address=None, num_processes=None, process_id=None, *, debug=None):
    """Join the processes of this run (jax.distributed.initialize, on MPI).

    Under mpiexec/mpirun the world is MPI_COMM_WORLD; without a launcher it is this process
    alone. coordinator_address is not needed (MPI's launcher wires the processes);
    num_processes and process_id, if given, are checked against MPI's. Installs the exception
    hook that aborts every process when one raises. Call it once, before any collective."""
    global _world, _explicit
    with _lock:
        if _explicit:
            raise RuntimeError("functrans.distributed.initialize should only be called once")
        _world = _make_world(_debug_default() if debug is None else bool(debug))
        _explicit = True
    if num_processes is not None and num_processes != _world.size:
        raise ValueError(f"initialize(num_processes={num_processes}) but the MPI world has "
                         f"{_world.size} processes (mpiexec -n {num_processes} ...)")
    if process_id is not None and process_id != _world.rank:
        raise ValueError(f"initialize(process_id={process_id}) but MPI gave this process rank "
                         f"{_world.rank}")
    _install_excepthook()
    return _world


def _make_world(debug):
    if not launched_by_mpi():
        return SelfWorld(debug)
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            "This process was started by an MPI launcher but mpi4py is not installed: "
            "pip install 'functrans[distributed]' (mpi4py and MPICH)") from e
    return MpiWorld(MPI.COMM_WORLD, debug)


def world():
    """The current world (initializing a default one if initialize() was not called)."""
    global _world
    if _world is None:
        with _lock:
            if _world is None:
                _world = _make_world(_debug_default())
    return _world


def is_initialized() -> bool:
    return _explicit


def shutdown():
    """Forget the world (MPI itself finalizes when the process exits)."""
    global _world, _explicit
    with _lock:
        if _world is not None:
            _world.barrier()
        _world, _explicit = None, False
        sys.excepthook = _previous_hook[0] or sys.__excepthook__


_previous_hook = [None]


def _install_excepthook():
    if sys.excepthook is _abort_on_exception:
        return
    _previous_hook[0] = sys.excepthook

    def chain():
        return _previous_hook[0] or sys.__excepthook__
    _abort_on_exception.chain = chain
    sys.excepthook = _abort_on_exception


def _abort_on_exception(exc_type, exc, tb):
    """An uncaught exception on one process: print it with the rank, then abort them all."""
    w = _world
    try:
        _abort_on_exception.chain()(exc_type, exc, tb)
    finally:
        if w is not None and w.size > 1:
            sys.stderr.write(f"functrans.distributed: process {w.rank} of {w.size} raised "
                             f"{exc_type.__name__}: {exc}\nfunctrans.distributed: aborting all "
                             f"{w.size} processes (MPI_Abort)\n")
            sys.stderr.flush()
            w.abort(1)


# --- JAX's process and device queries ------------------------------------------------------------

def process_index() -> int:
    """This process's index in the world (jax.process_index)."""
    return world().rank


def process_count() -> int:
    """The number of processes (jax.process_count)."""
    return world().size


def device_count() -> int:
    """All devices of all processes: one CPU device per process (jax.device_count)."""
    return world().size


def local_device_count() -> int:
    """Devices of this process: one (jax.local_device_count)."""
    return 1


def barrier():
    """Wait until every process gets here (multihost_utils.sync_global_devices in JAX)."""
    world().barrier()


# --- helpers around a data-parallel step ---------------------------------------------------------

def shard_by_process(data, axis=0, drop_remainder=True):
    """This process's contiguous part of every array in `data` (a pytree) along `axis`.

    Each process gets n // process_count() rows (rank r: rows r*k .. (r+1)*k - 1); the
    remainder is dropped, since every process must run the same number of equal steps.
    With drop_remainder=False the parts differ by at most one row (np.array_split)."""
    from . import tree_util
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
    from . import tree_util
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
    from . import tree_util
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
    from . import tree_util
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
    from . import random
    return random.fold_in(key, process_index())
