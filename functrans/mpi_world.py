"""The MPI world under pmap's collectives: which processes there are, and MPI's reductions on
their numpy buffers (functrans/distributed.py is the user-facing module; see its docstring).
Started without mpiexec, the world is this one process and MPI is not loaded at all."""
import os
import sys
import threading

import numpy as np


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
