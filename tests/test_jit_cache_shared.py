"""A disk cache shared with other users: files that exist but cannot be read or written by this
user, and lock paths that are directories, must not make jit fail. The kernel is compiled in
memory instead, with one warning. (Tests run as root, which ignores permission bits, so the
unreadable files are simulated by making open() refuse them, and the lock by a directory.)"""
import builtins
import hashlib
import os
import warnings

import numba
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.backend.cache import HEADER, KERNELS
from functrans.backend.kernels import KERNEL_FLAGS


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNCTRANS_CACHE_DIR", str(tmp_path))
    KERNELS.clear(disk=False)
    monkeypatch.setattr(KERNELS, "_warned", False)
    yield tmp_path
    KERNELS.clear(disk=False)


def _name(body):
    text = f"{HEADER}@njit({KERNEL_FLAGS})\n{body}"
    return "k_" + hashlib.sha256(text.encode()).hexdigest()[:24]


def _body(c):
    return f"def kernel(x0):\n    return x0 * {c!r} + 1.0\n"


def _caught(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def test_lock_path_that_is_a_directory(cache_dir):
    bodies = [_body(3.25), _body(4.5)]
    for b in bodies:
        os.makedirs(cache_dir / "kernels" / (_name(b) + ".lock"))
    (disp, _), msgs = _caught(lambda: KERNELS.kernel(bodies[0], [(numba.float64,)]))
    assert disp(2.0) == 7.5
    assert len(msgs) == 1 and "cannot use the disk cache" in msgs[0]
    # a second kernel in the same state: compiled, no second warning
    (disp, _), msgs = _caught(lambda: KERNELS.kernel(bodies[1], [(numba.float64,)]))
    assert disp(2.0) == 10.0 and msgs == []


def test_new_signature_when_the_lock_became_unusable(cache_dir):
    body = _body(1.75)
    disp, _ = KERNELS.kernel(body, [(numba.float64,)])
    lock = cache_dir / "kernels" / (_name(body) + ".lock")
    os.remove(lock)
    os.makedirs(lock)
    (disp, _), msgs = _caught(lambda: KERNELS.kernel(body, [(numba.float32,)]))
    assert disp(np.float32(2.0)) == np.float32(4.5)
    assert len(msgs) == 1 and "compiled in memory" in msgs[0]


def test_files_of_another_user(cache_dir, monkeypatch):
    def f(x):
        return fnp.sum(fnp.tanh(x * 1.5) + x, axis=0)
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    want = f(x)
    np.testing.assert_allclose(ft.jit(f)(x), want, rtol=1e-12)      # the files now exist
    ft.clear_cache(disk=False)
    kdir = str(cache_dir / "kernels")
    assert any(n.endswith(".py") for n in os.listdir(kdir))

    # Now every file already there is another user's: unreadable and unwritable, locks
    # included (new files, such as the directory's writability probe, can still be made).
    real_open, real_os_open = builtins.open, os.open
    theirs = {os.path.join(d, n) for d, _, names in os.walk(kdir) for n in names}

    def refuse(path):
        return os.path.abspath(str(path)) in theirs

    def guarded_open(path, *a, **k):
        if isinstance(path, (str, os.PathLike)) and refuse(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    def guarded_os_open(path, *a, **k):
        if refuse(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_os_open(path, *a, **k)
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    got, msgs = _caught(lambda: ft.jit(f)(x))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(msgs) == 1 and "cannot use the disk cache" in msgs[0], msgs
