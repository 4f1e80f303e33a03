"""The on-disk kernel cache: a new process starts warm; corrupt or foreign entries are rebuilt,
never trusted; concurrent compilation is safe; an unwritable directory degrades to memory."""
import glob
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r"""
import json, sys, warnings
import numpy as np
import functrans as ft, functrans.numpy as fnp
def f(x, w):
    return fnp.sum(fnp.maximum(x @ w + 0.25, 0.0) * 3.0, axis=0)
x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
w = np.linspace(-2, 2, 12, dtype=np.float32).reshape(4, 3)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    s = ft.jit(f).lower(x, w).stats
    out = ft.jit(f)(x, w)
print(json.dumps({"out": np.asarray(out).tolist(), "compiled": s.compiled, "disk": s.loaded,
                  "warnings": [str(w.message) for w in caught]}))
"""


def expected():
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
    w = np.linspace(-2, 2, 12, dtype=np.float32).reshape(4, 3)
    return (np.maximum(x @ w + np.float32(0.25), 0) * np.float32(3)).sum(0)


def run(cache_dir, wait=True):
    env = dict(os.environ, FUNCTRANS_CACHE_DIR=str(cache_dir),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return finish(proc) if wait else proc


def finish(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    np.testing.assert_allclose(result["out"], expected(), rtol=1e-5)
    return result


def kernel_files(cache_dir, pattern):
    return glob.glob(os.path.join(str(cache_dir), "kernels", pattern))


def test_new_process_starts_warm(tmp_path):
    cold = run(tmp_path)
    assert cold["compiled"] >= 1 and cold["disk"] == 0
    assert kernel_files(tmp_path, "k_*.py") and kernel_files(tmp_path, "__pycache__/*.nbc")
    warm = run(tmp_path)
    assert warm["compiled"] == 0 and warm["disk"] == cold["compiled"]


TWO_SIGNATURES = r"""
import json
import numpy as np
import functrans as ft, functrans.numpy as fnp
def f(x):
    return fnp.sin(x) * x + x
events = []
# float64 then float32: one kernel source, two signatures; then a transposed (Fortran-ordered)
# operand, for which Numba compiles another signature by itself when the driver calls it.
for x in [np.linspace(0, 1, 12), np.linspace(0, 1, 12, dtype=np.float32),
          np.linspace(0, 1, 12).reshape(3, 4).T]:
    events += [(k.name, k.how) for k in ft.jit(f).lower(x).stats.kernels]
    np.testing.assert_allclose(ft.jit(f)(x), np.sin(x) * x + x, rtol=1e-6)
print(json.dumps(events))
"""


def test_kernel_with_a_second_signature_loads_from_disk_in_a_new_process(tmp_path):
    # Every cache entry Numba adds for a kernel already loaded must enter its manifest, or the
    # next process distrusts the kernel's files and recompiles it.
    env = dict(os.environ, FUNCTRANS_CACHE_DIR=str(tmp_path),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def events():
        proc = subprocess.run([sys.executable, "-c", TWO_SIGNATURES], env=env, text=True,
                              capture_output=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    cold = events()
    names = {name for name, _ in cold}
    assert len(names) < len(cold), f"expected one kernel with two signatures, got {cold}"
    assert all(how == "compiled" for _, how in cold)
    warm = events()
    assert [how for _, how in warm] == ["disk"] * len(warm), warm


@pytest.mark.parametrize("target", ["k_*.py", "__pycache__/*.nbc", "__pycache__/*.nbi"])
def test_corrupt_entry_is_rebuilt(tmp_path, target):
    run(tmp_path)
    for path in kernel_files(tmp_path, target):
        with open(path, "r+b") as fh:
            data = fh.read()
            fh.seek(len(data) // 2)
            fh.write(b"\x00garbage\x00" * 8)
    again = run(tmp_path)
    assert again["compiled"] >= 1, "a corrupt entry must be rebuilt, not loaded"
    assert run(tmp_path)["compiled"] == 0, "the rebuilt entry is used afterwards"


def test_concurrent_compilation(tmp_path):
    procs = [run(tmp_path, wait=False) for _ in range(2)]
    results = [finish(p) for p in procs]
    assert sum(r["compiled"] for r in results) >= 1
    assert run(tmp_path)["compiled"] == 0


def test_unwritable_directory_falls_back_to_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FUNCTRANS_CACHE_DIR", str(blocker / "cache"))
    g = ft.jit(lambda x: fnp.maximum(x * 1.2345, -0.5))
    x = np.linspace(-1, 1, 7)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = g(x)
    np.testing.assert_allclose(out, np.maximum(x * 1.2345, -0.5))
    assert any("not writable" in str(w.message) for w in caught)


def test_clear_cache_removes_disk_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNCTRANS_CACHE_DIR", str(tmp_path))
    g = ft.jit(lambda x: fnp.minimum(x * 0.75 + 0.125, 2.0))
    g(np.ones(5))
    assert kernel_files(tmp_path, "k_*.py")
    ft.clear_cache()
    assert not kernel_files(tmp_path, "k_*.py")
    np.testing.assert_allclose(g(np.ones(5)), np.full(5, 0.875))
