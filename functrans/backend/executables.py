"""Compiled programs in memory: one Executable per ClosedProgram (and set of donated inputs),
compiled once under a lock. The jit call primitive and the loops of control flow run them.

A jitted function's first call need not wait for Numba (0.3 s to start in a new process, then
0.1-0.2 s per new kernel, seconds for a training loop): `Interpreted` runs the flattened program
on numpy (backend.numpy_run), and `compile_in_background` queues its compile on a thread, which
hands the kernels to a worker process (backend.compile_worker) where the disk cache allows. The
thread is not a daemon: a short script waits for its compiles at exit, so that the next process
finds them in the disk cache."""
import hashlib
import os
import sys
import threading
import weakref

import numpy as np

from . import compile_worker
from .flatten import flatten
from .fusion import plan
from .numpy_run import program_runner, run_started

_executables = weakref.WeakKeyDictionary()      # ClosedProgram -> {donate: Executable}
_compile_lock = threading.RLock()


def executable_for(program, donate=()):
    key = tuple(donate)
    per = _executables.get(program)
    if per is None or key not in per:
        with _compile_lock:
            per = _executables.setdefault(program, {})
            if key not in per:
                from .codegen import compile_program     # loads Numba: on first compile only
                per[key] = compile_program(program, donate=donate,
                                           name=_program_name(program))
                _remember(program, donate)
    return per[key]


# A program compiled once leaves a marker in the disk cache: a later first call of it, in a
# process where Numba has started, compiles right away (its kernels load from disk in a
# fraction of a second) rather than running on numpy. Where Numba has not started (0.3-1 s),
# running on numpy is the quicker first call. Only a hint: a marker without kernels compiles
# them, on the first call.

def loads_quickly(program, donate=()) -> bool:
    """Would compiling `program` now only load its kernels from disk, with Numba started?"""
    # (The module may be half-imported by the compile thread: no KERNELS yet.)
    kernels = getattr(sys.modules.get(__package__ + ".cache"), "KERNELS", None)
    return kernels is not None and kernels.numba_init_seconds is not None and \
        os.path.exists(_marker(program, donate))


def _remember(program, donate):
    path = _marker(program, donate)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w"):
            pass
    except OSError:          # an unwritable cache: later processes run first calls on numpy
        pass


_marker_names = weakref.WeakKeyDictionary()     # ClosedProgram -> {donate: its marker's name}


def _marker(program, donate):
    from .cache_dir import default_cache_dir
    per = _marker_names.setdefault(program, {})
    name = per.get(tuple(donate))
    if name is None:
        from .._version import __version__
        from ..core.ir import pretty_print
        text = f"{__version__}\n{tuple(donate)}\n{pretty_print(program.program)}"
        name = per[tuple(donate)] = hashlib.sha256(text.encode()).hexdigest()[:24]
    return os.path.join(default_cache_dir(), "programs", name)


def compiled(program, donate=()):
    """The Executable if it is already compiled, else None (never compiles)."""
    per = _executables.get(program)
    return None if per is None else per.get(tuple(donate))


def _program_name(program):
    return f"program_{id(program):x}"


def clear():
    _executables.clear()


# --- first calls on numpy, compiles in the background ------------------------------------------

class Interpreted:
    """A ClosedProgram flattened as jit flattens it (sub-program calls inlined, the primitives'
    simplifications applied) and run by numpy as generated Python (backend.numpy_run), loops as
    Python loops. Making one runs jit's checks that need no Numba (every equation has a
    lowering), so a program jit cannot lower fails on its first call, as it does when compiled
    right away."""

    def __init__(self, closed):
        self.program, self.consts = flatten(closed)
        plan(self.program)
        self.out_avals = [v.aval for v in self.program.outvars]
        self.run = program_runner(self.program, self.consts)

    def __call__(self, *args):
        run_started()
        outs = self.run(*args)
        # As compiled code returns them: rank-0 outputs as numpy scalars, others as arrays of
        # the output's dtype (a Literal or an input passed through comes back as given here).
        return [np.asarray(o, a.dtype)[()] if not a.shape else
                o if isinstance(o, np.ndarray) and o.dtype == a.dtype else np.asarray(o, a.dtype)
                for o, a in zip(outs, self.out_avals)]


class BackgroundCompile:
    """A queued compile of one program. A compile error stays here: the next call compiles the
    program again in its own thread, which raises it there. `offloaded`: its kernels compile in
    the worker process (backend.compile_worker), so the calling thread is free to run the
    program on numpy until it is done; otherwise the next call waits for it (calls on numpy
    would take the GIL from the compile)."""
    __slots__ = ("program", "donate", "event", "error", "offloaded")

    def __init__(self, program, donate):
        self.program, self.donate = program, tuple(donate)
        self.event = threading.Event()
        self.error = None
        self.offloaded = compile_worker.usable()     # (until _run finds no disk cache)

    def done(self):
        return self.event.is_set()

    def wait(self, timeout=None):
        return self.event.wait(timeout)

    def _run(self):
        try:
            self.offloaded = self.offloaded and _disk_cache_usable()
            if self.offloaded:
                with compile_worker.offloading():
                    executable_for(self.program, self.donate)
            else:
                executable_for(self.program, self.donate)
        except Exception as e:   # noqa: BLE001
            self.error = e
        finally:
            self.event.set()


def prestart_worker(program, donate=()):
    """Start the compile worker for a program about to run on numpy, unless its kernels are on
    disk already (compiled before: they only load)."""
    if compile_worker.usable() and not os.path.exists(_marker(program, donate)):
        compile_worker.prestart()


def _disk_cache_usable():
    from .cache import KERNELS
    return KERNELS.disk_enabled()


_queue = []
_queue_lock = threading.Lock()
_worker = [None]


def compile_in_background(program, donate=()) -> BackgroundCompile:
    job = BackgroundCompile(program, donate)
    with _queue_lock:
        _queue.append(job)
        if _worker[0] is None:
            _worker[0] = threading.Thread(target=_drain, name="functrans-jit-compile")
            _worker[0].start()
    return job


def _drain():
    while True:
        with _queue_lock:
            if not _queue:
                _worker[0] = None
                return
            job = _queue.pop(0)
        job._run()


def wait_for_background_compiles(timeout=None):
    """Block until every queued compile has finished (tests; a benchmark's steady state)."""
    while True:
        with _queue_lock:
            worker = _worker[0]
        if worker is None:
            return
        worker.join(timeout)
        if timeout is not None:
            return
