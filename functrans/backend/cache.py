"""The kernel cache: compiled kernels in memory, and their source and machine code on disk.

Each kernel is a module file `kernels/k_<sha256>.py` in the cache directory (FUNCTRANS_CACHE_DIR,
default `$XDG_CACHE_HOME/functrans` or `~/.cache/functrans`), named by the hash of its full text,
which includes the functrans and Numba versions. Numba's `cache=True` keeps the machine code in
`kernels/__pycache__`, so a new process loads kernels instead of compiling them. Every rule
below answers a known trap (see shared/NUMBA-FACTS.md):

- a file is written atomically (temporary file + os.replace) and compared with the expected
  text before use: a corrupt source is rewritten, and its machine code discarded;
- the module is registered in sys.modules before it runs (else Numba's cache entries name the
  module '<dynamic>' and crash later loads);
- Numba's cache files are trusted only if they match the checksums functrans wrote after
  compiling them (`k_<hash>.sum`, rewritten whenever Numba saves an entry for another
  signature); otherwise they are deleted and the kernel recompiled;
- an exclusive file lock per kernel serializes compilation across processes;
- a cache directory that cannot be written degrades to in-memory compilation, with a warning.
"""
import fcntl
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
import time
import types
import warnings

import numba

from .._version import __version__
from . import compile_worker
from .cache_dir import default_cache_dir
from .kernels import KERNEL_FLAGS


HEADER = (f"# functrans {__version__} kernel (numba {numba.__version__}); generated, "
          "do not edit\nimport math\n\nimport numpy as np\nfrom numba import njit\n\n\n")


class CompileEvent:
    __slots__ = ("name", "how", "seconds")

    def __init__(self, name, how, seconds):
        self.name, self.how, self.seconds = name, how, seconds


class KernelCache:
    def __init__(self):
        self._lock = threading.RLock()
        self._kernels = {}           # source hash -> Numba dispatcher
        self._dir = None             # resolved on first use (the env var may change in tests)
        self._disk = None
        self.numba_init_seconds = None
        self._warned = False         # the one warning about an unusable shared cache

    # --- location ------------------------------------------------------------------------------
    def directory(self):
        d = default_cache_dir()
        if d != self._dir:
            self._dir, self._disk = d, None
        return self._dir

    def _kernel_dir(self):
        return os.path.join(self.directory(), "kernels")

    def disk_enabled(self):
        self.directory()
        if self._disk is None:
            self._disk = self._check_writable(self._kernel_dir())
        return self._disk

    @staticmethod
    def _check_writable(path):
        try:
            os.makedirs(path, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path, prefix=".probe")
            os.close(fd)
            os.remove(tmp)
            os.makedirs(os.path.join(path, "__pycache__"), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.join(path, "__pycache__"), prefix=".probe")
            os.close(fd)
            os.remove(tmp)
            return True
        except OSError as e:
            warnings.warn(f"functrans: the kernel cache directory {path} is not writable "
                          f"({e.strerror or e}); compiled kernels are kept in memory only and "
                          "recompiled in each process. Set FUNCTRANS_CACHE_DIR to a writable "
                          "directory to keep them.", RuntimeWarning, stacklevel=4)
            return False

    # --- kernels ---------------------------------------------------------------------------------
    def numba_init(self):
        """Numba's once-per-process start-up (about 0.3-1 s), timed apart from kernels: the
        first call of a trivial function, itself cached on disk like the kernels."""
        if self.numba_init_seconds is None:
            t0 = time.perf_counter()
            self.numba_init_seconds = 0.0     # (re-entry below must not recurse)
            self._load("k_init", f"{HEADER}@njit({KERNEL_FLAGS})\ndef kernel(x0):\n"
                       "    return x0\n", [(numba.float64,)])
            self.numba_init_seconds = time.perf_counter() - t0
        return self.numba_init_seconds

    def kernel(self, body, signatures=(), flags=KERNEL_FLAGS):
        """The compiled kernel for `body` (a `def kernel(...)` source, possibly followed by
        the functions it calls), compiled for each given signature (tuples of Numba types)
        now. Returns (dispatcher, CompileEvent)."""
        text = f"{HEADER}@njit({flags})\n{body}"
        digest = hashlib.sha256(text.encode()).hexdigest()[:24]
        name = f"k_{digest}"
        with self._lock:
            disp = self._kernels.get(digest)
            if disp is not None and all(tuple(s) in disp.overloads for s in signatures):
                return disp, CompileEvent(name, "memory", 0.0)
            self.numba_init()
            t0 = time.perf_counter()
            if disp is None:
                if signatures and compile_worker.offloaded() and self.disk_enabled() and \
                        not self._on_disk(name, text):
                    # A background compile: the worker process compiles it into the disk
                    # cache, and the load below reads it from there.
                    compile_worker.compile_remotely(self.directory(), body, signatures, flags)
                disp, how = self._load(name, text, signatures)
            else:
                how = self._add_signatures(name, disp, signatures)
            self._kernels[digest] = disp
            return disp, CompileEvent(name, how, time.perf_counter() - t0)

    def _on_disk(self, name, text):
        kdir = self._kernel_dir()
        return _read(os.path.join(kdir, name + ".py")) == text and \
            bool(_numba_files(kdir, name)) and _verify_manifest(kdir, name)

    def _load(self, name, text, signatures):
        if self.disk_enabled():
            try:
                return self._load_from_disk(name, text, signatures)
            except (_CacheUnusable, OSError) as e:
                # A cache shared with other users: their files (kernel sources, Numba's
                # index, lock files) may be unreadable or unwritable to us, or a lock path may
                # be a directory. The kernel is still compiled, in memory.
                _sys_modules_drop(name)
                self._warn_once(f"functrans: kernel {name} cannot use the disk cache in "
                                f"{self._kernel_dir()} ({type(e).__name__}: {e}); compiling "
                                "in memory. Kernels that cannot use it are recompiled in "
                                "each process (set FUNCTRANS_CACHE_DIR to a private "
                                "directory to keep them); this warning is shown once.")
        module = types.ModuleType(f"functrans_kernels_mem.{name}")
        exec(compile(text.replace("cache=True", "cache=False"), f"<functrans {name}>", "exec"),
             module.__dict__)
        disp = module.kernel
        return disp, self._compile(disp, signatures, None)

    def _load_from_disk(self, name, text, signatures):
        kdir = self._kernel_dir()
        path = os.path.join(kdir, name + ".py")
        with _FileLock(os.path.join(kdir, name + ".lock")):
            existing = _read(path)
            if existing != text:
                if existing is not None:      # corrupt or foreign: never trusted
                    _purge_numba_files(kdir, name)
                _atomic_write(path, text)
            if not _verify_manifest(kdir, name):
                _purge_numba_files(kdir, name)
            modname = f"functrans_kernels.{name}"
            spec = importlib.util.spec_from_file_location(modname, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            try:
                spec.loader.exec_module(module)
            except RuntimeError as e:          # Numba found no place to write its cache
                sys.modules.pop(modname, None)
                raise _CacheUnusable(str(e)) from e
            disp = module.kernel
            _record_new_entries(disp, kdir, name)
            how = self._compile(disp, signatures, (kdir, name))
            _write_manifest(kdir, name)
            return disp, how

    def _add_signatures(self, name, disp, signatures):
        """Compile new signatures for a kernel already loaded, under its file lock (the
        manifest follows through _record_new_entries)."""
        source = disp.py_func.__code__.co_filename
        if os.path.basename(source) != name + ".py":      # an in-memory kernel: no files
            return self._compile(disp, signatures, None)
        kdir = os.path.dirname(source)   # where it was loaded from, even if the directory moved
        try:
            with _FileLock(os.path.join(kdir, name + ".lock")):
                return self._compile(disp, signatures, (kdir, name))
        except OSError as e:
            self._warn_once(f"functrans: kernel {name} cannot use the disk cache in {kdir} "
                            f"({type(e).__name__}: {e}); its new signatures are compiled in "
                            "memory; this warning is shown once.")
            _detach_disk_cache(disp)
            return self._compile(disp, signatures, None)

    def _warn_once(self, message):
        if not self._warned:
            self._warned = True
            warnings.warn(message, RuntimeWarning, stacklevel=6)

    @staticmethod
    def _compile(disp, signatures, disk):
        """Compile (or load from Numba's cache) each signature; says which happened."""
        how = "compiled"
        for sig in signatures:
            if tuple(sig) in disp.overloads:
                continue
            try:
                disp.compile(tuple(sig))
            except Exception:
                if disk is None:
                    raise
                # A cache entry Numba cannot read (truncated, foreign) is rebuilt, not trusted.
                _purge_numba_files(*disk)
                disp._cache.flush()
                disp.compile(tuple(sig))
        hits = sum(disp.stats.cache_hits.values()) if hasattr(disp, "stats") else 0
        misses = sum(disp.stats.cache_misses.values()) if hasattr(disp, "stats") else 0
        if signatures and hits and not misses:
            how = "disk"
        return how

    def clear(self, disk=True):
        with self._lock:
            self._kernels.clear()
            if disk:
                shutil.rmtree(self._kernel_dir(), ignore_errors=True)
            self._disk = None


class _CacheUnusable(Exception):
    pass


def _record_new_entries(disp, kdir, name):
    """Make the manifest follow every cache entry Numba saves for this kernel: a signature
    added by KernelCache.kernel, or one Numba compiles by itself when the driver calls the kernel
    with argument types not compiled yet. Otherwise the next process finds files functrans did
    not record, distrusts them and recompiles the kernel. The entry and the manifest are written
    together under the kernel's file lock."""
    cache = disp._cache
    save = cache.save_overload
    lock = os.path.join(kdir, name + ".lock")

    def save_and_record(sig, data):
        try:
            with _FileLock(lock):
                save(sig, data)
                _write_manifest(kdir, name)
        except OSError as e:
            # Called while the driver runs (Numba compiling a new argument layout): the
            # compiled code is fine, only keeping it failed. Stop saving this kernel.
            KERNELS._warn_once(f"functrans: kernel {name} could not be saved in the disk "
                               f"cache {kdir} ({type(e).__name__}: {e}); it stays in "
                               "memory; this warning is shown once.")
            _detach_disk_cache(disp)
    cache.save_overload = save_and_record


def _detach_disk_cache(disp):
    """Compile this dispatcher's further signatures without reading or writing Numba's cache."""
    from numba.core.caching import NullCache
    disp._cache = NullCache()


def _sys_modules_drop(name):
    sys.modules.pop(f"functrans_kernels.{name}", None)


class _FileLock:
    """An exclusive lock across processes (flock) and threads, re-entrant within a thread: a
    kernel compiled under its lock saves its cache entry under the same lock (flock on a second
    descriptor of the file would wait for the first forever)."""
    _held = {}                       # path -> [threading.RLock, fd, depth]
    _guard = threading.Lock()

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        with self._guard:
            entry = self._held.setdefault(self.path, [threading.RLock(), None, 0])
        entry[0].acquire()
        if entry[2] == 0:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except BaseException:       # another user's lock file, or a directory
                entry[0].release()
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                entry[0].release()
                raise
            entry[1] = fd
        entry[2] += 1
        return self

    def __exit__(self, *exc):
        entry = self._held[self.path]
        entry[2] -= 1
        if entry[2] == 0:
            fd, entry[1] = entry[1], None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        entry[0].release()


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def _atomic_write(path, text, mode="w"):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _numba_files(kdir, name):
    pyc = os.path.join(kdir, "__pycache__")
    try:
        entries = os.listdir(pyc)
    except OSError:
        return []
    return sorted(os.path.join(pyc, e) for e in entries
                  if e.startswith(name + ".") and e.endswith((".nbi", ".nbc")))


def _purge_numba_files(kdir, name):
    for p in _numba_files(kdir, name):
        try:
            os.remove(p)
        except OSError:
            pass
    try:
        os.remove(os.path.join(kdir, name + ".sum"))
    except OSError:
        pass


def _digest_files(paths):
    lines = []
    for p in paths:
        with open(p, "rb") as f:
            lines.append(f"{hashlib.sha256(f.read()).hexdigest()} {os.path.basename(p)}")
    return "\n".join(lines) + "\n"


def _verify_manifest(kdir, name):
    """True if Numba's files for this kernel are exactly those functrans recorded (or there
    are none); False means they must not be trusted."""
    files = _numba_files(kdir, name)
    recorded = _read(os.path.join(kdir, name + ".sum"))
    if not files:
        return True
    if recorded is None:
        return False
    try:
        return _digest_files(files) == recorded
    except OSError:
        return False


def _write_manifest(kdir, name):
    files = _numba_files(kdir, name)
    if files:
        _atomic_write(os.path.join(kdir, name + ".sum"), _digest_files(files))


KERNELS = KernelCache()
