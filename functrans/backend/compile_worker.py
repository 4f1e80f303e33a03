"""Background compiles in a process of their own.

jit's background compile (config.jit_background_compile) used to run Numba on a thread of the
calling process. Numba's compiler is Python, so that thread and the user's thread took turns on
the GIL: a call run on numpy meanwhile slowed the compile, and every LLVM call the compile made
(thousands; ctypes releases the GIL around each) waited for the GIL to come back. So the second
call of a new program waited for the compile instead.

Here the compile thread hands each kernel's source to a worker process, which compiles it into
the disk cache (the same files, locks and checksums as an in-process compile: KernelCache), and
then loads the machine code from disk (0.05-0.1 s). The user's thread keeps the GIL and the
worker runs on another core: calls made before the compile is done run on numpy
(backend.numpy_run) instead of waiting.

The worker starts on the first background compile (a Python process importing Numba: about a
second, spent in parallel) and ends when this process does: its stdin closes. Only compiles
that can use the disk cache are sent (the worker's result reaches this process through it).
If the worker cannot start or dies, compiles run on the thread again, as before.
"""
import atexit
import os
import pickle
import subprocess
import sys
import threading
from contextlib import contextmanager

_local = threading.local()
_lock = threading.Lock()
_state = {"process": None, "broken": False}


@contextmanager
def offloading():
    """Kernels compiled by this thread inside the block go to the worker process."""
    old = getattr(_local, "on", False)
    _local.on = True
    try:
        yield
    finally:
        _local.on = old


def offloaded() -> bool:
    return getattr(_local, "on", False) and not _state["broken"]


def usable() -> bool:
    """Can compiles go to a worker process (one running, or one can start)?"""
    return not _state["broken"]


def prestart():
    """Start the worker now, if it is usable and not running: its start (about a second)
    overlaps the first call's run on numpy and the code generation before the first request.
    Never waits: a request in progress holds the lock, and then the worker is running."""
    if _lock.acquire(blocking=False):
        try:
            _worker()
        finally:
            _lock.release()


def compile_remotely(cache_dir, body, signatures, flags) -> bool:
    """Compile one kernel into the disk cache under cache_dir in the worker process. False
    when the worker is unusable or failed (the caller compiles in-process and, if the source is
    at fault, raises the error there)."""
    with _lock:
        proc = _worker()
        if proc is None:
            return False
        try:
            pickle.dump((cache_dir, body, tuple(map(tuple, signatures)), flags), proc.stdin,
                        protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
            ok, _message = pickle.load(proc.stdout)
        except (OSError, EOFError, pickle.PickleError):
            _retire(proc)
            return False
        return ok


def _worker():
    proc = _state["process"]
    if proc is not None and proc.poll() is None:
        return proc
    if _state["broken"]:
        return None
    if proc is not None:           # it died: once is enough
        _retire(proc)
        return None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from functrans.backend.compile_server import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=_worker_env(), close_fds=True)
    except OSError:
        _state["broken"] = True
        return None
    _state["process"] = proc
    return proc


@atexit.register
def _stop():
    """At exit (after the compile thread, not a daemon, has finished): the worker ends when its
    stdin closes."""
    proc = _state["process"]
    if proc is None:
        return
    try:
        proc.stdin.close()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
    proc.stdout.close()


def _worker_env():
    env = dict(os.environ)
    # The worker imports functrans from where this process did (a source checkout on
    # sys.path, not installed, included).
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join([here] + [p for p in
                                                  env.get("PYTHONPATH", "").split(os.pathsep)
                                                  if p])
    return env


def _retire(proc):
    _state["broken"] = True
    _state["process"] = None
    try:
        proc.kill()
    except OSError:
        pass
