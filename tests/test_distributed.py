"""Two processes under `mpiexec -n 2` (MPICH on loopback): collectives across processes, grad of
pmap and pmap of grad, the helpers, faults (an exception on one rank aborts both; mismatched
shapes under the debug setting), and the distributed example against a single-process run.

Each test runs a script in a subprocess with a timeout, in its own session, and checks that no
process of that session is left afterwards. Skipped, with the reason, only when MPI cannot start
here (mpi4py or mpiexec missing, or a trivial two-process job failing).
"""
import functools
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TIMEOUT = 300          # seconds per job: two processes compiling on a shared 2-core machine


def _mpiexec():
    here = pathlib.Path(sys.executable).parent / "mpiexec"   # the venv's (mpich wheel)
    return str(here) if here.exists() else shutil.which("mpiexec")


def _env(**extra):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


def _session_processes(sid):
    """Pids of live (not zombie) processes in session `sid`."""
    pids = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def run_mpi(script, n=2, timeout=TIMEOUT, env=None, args=()):
    """Run `script` (a path) on n processes; returns (returncode, stdout, stderr, seconds).
    Kills the whole session on timeout, and fails if any of its processes survive."""
    cmd = [_mpiexec(), "-n", str(n), sys.executable, str(script), *args]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env or _env(), cwd=ROOT, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mpiexec job timed out after {timeout} s (a hang?)\n{out}\n{err}")
    seconds = time.monotonic() - t0
    deadline = time.monotonic() + 10
    while _session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _session_processes(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"processes left behind after the job: {left}")
    return proc.returncode, out, err, seconds


@functools.lru_cache(maxsize=None)
def _mpi_unavailable():
    """Why MPI cannot start here, or None."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install -e '.[distributed]')"
    if _mpiexec() is None:
        return "no mpiexec on PATH (pip install mpich)"
    probe = ("from mpi4py import MPI; c = MPI.COMM_WORLD; "
             "assert c.Get_size() == 2; print('rank', c.Get_rank())")
    try:
        r = subprocess.run([_mpiexec(), "-n", "2", sys.executable, "-c", probe],
                           capture_output=True, text=True, timeout=120, env=_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"mpiexec -n 2 could not run: {e}"
    if r.returncode != 0:
        return f"mpiexec -n 2 failed (rc {r.returncode}): {r.stderr.strip()[-400:]}"
    return None


@pytest.fixture
def mpi():
    reason = _mpi_unavailable()
    if reason:
        pytest.skip(f"MPI cannot start here: {reason}")


def _script(tmp_path, body, name="job.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


COLLECTIVES = """
    import numpy as np
    import functrans as ft
    import functrans.lax as lax
    import functrans.numpy as fnp
    from functrans import distributed as dist

    dist.initialize()
    r, n = ft.process_index(), ft.process_count()
    assert n == 2 and ft.device_count() == 2 and ft.local_device_count() == 1

    def data(k):                      # process k's input, known to every process
        return (np.arange(6.0).reshape(2, 3) + 10 * k) ** 1.5 / 7
    xs = np.stack([data(k) for k in range(n)])
    x = data(r)[None]                  # this process's slice, leading axis 1
    ok = lambda got, want: np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)

    pm = lambda f, **kw: ft.pmap(f, axis_name="i", **kw)
    ok(pm(lambda v: lax.psum(v, "i"))(x), xs.sum(0)[None])
    ok(pm(lambda v: lax.pmean(v, "i"))(x), xs.mean(0)[None])
    ok(pm(lambda v: lax.pmax(-v, "i"))(x), (-xs).max(0)[None])
    ok(pm(lambda v: lax.pmin(v, "i"))(x), xs.min(0)[None])
    ok(pm(lambda v: lax.all_gather(v, "i", axis=1))(x), np.moveaxis(xs, 0, 1)[None])
    ok(pm(lambda v: lax.all_gather(v, "i", tiled=True))(x), np.concatenate(list(xs))[None])
    ok(pm(lambda v: lax.psum_scatter(v, "i"))(x), xs.sum(0)[r][None])
    ok(pm(lambda v: lax.psum_scatter(v, "i", scatter_dimension=1, tiled=False))(
        np.ones((1, 3, 2)) * (r + 1)), np.full((1, 3), 3.0))
    ok(pm(lambda v: lax.ppermute(v, "i", [(0, 1), (1, 0)]))(x), xs[1 - r][None])
    ok(pm(lambda v: lax.ppermute(v, "i", [(0, 1)]))(x), (xs[0] if r == 1 else 0 * xs[0])[None])
    assert pm(lambda v: lax.axis_index("i"))(x).tolist() == [r]
    ok(pm(lambda v, w: v * w, in_axes=(0, None))(x, 2.0), 2 * x)
    out32 = pm(lambda v: lax.psum(v.astype(np.float32), "i"))(x)
    assert out32.dtype == np.float32
    ok(out32, xs.astype(np.float32).sum(0)[None])

    # A collective in a loop of the compiled body: mixing with a neighbour, three times.
    def mix(v):
        return lax.fori_loop(0, 3, lambda i, c: 0.5 * (c + lax.ppermute(c, "i", [(0, 1), (1, 0)])), v)
    ok(pm(mix)(x), xs.mean(0)[None])
    ok(pm(lambda v: lax.scan(lambda c, row: (c + lax.psum(row, "i"), None), 0.0 * v[0], v)[0])(x),
       xs.sum((0, 1))[None])

    # grad of pmap: the backward pass (after pmap returned) runs psum's transpose over MPI.
    f = pm(lambda v: lax.psum(fnp.sin(v) * v, "i"))
    g = ft.grad(lambda v: fnp.sum(f(v)))(x)
    ok(g, (n * (np.cos(x) * x + np.sin(x))))
    # pmap of grad, then pmean of the gradients: the data-parallel pattern.
    loss = lambda w, v: fnp.sum((v @ w) ** 2)
    w = np.linspace(-1, 1, 12).reshape(3, 4)
    step = pm(lambda w, v: lax.pmean(ft.grad(loss)(w, v), "i"), in_axes=(None, 0))
    want = np.mean([2 * xs[k].T @ (xs[k] @ w) for k in range(n)], axis=0)
    ok(step(w, x), want[None])
    ok(ft.jit(step)(w, x), want[None])

    # Helpers.
    p = dist.broadcast_one_to_all({"w": np.full(3, float(r + 5))})
    ok(p["w"], np.full(3, 5.0))
    g = dist.gather_to_process_0({"acc": np.float64(r + 0.5)})
    assert (g["acc"].tolist() == [0.5, 1.5]) if r == 0 else g is None
    part = dist.shard_by_process(np.arange(7))
    assert part.tolist() == ([0, 1, 2] if r == 0 else [3, 4, 5])
    keys = dist.gather_to_process_0(np.asarray(dist.process_key(ft.random.PRNGKey(0))))
    if r == 0:
        assert not np.array_equal(keys[0], keys[1])
    import sys
    path = sys.argv[1]
    dist.save_on_process_0(path, {"w": np.full(2, float(r))})
    with np.load(path) as ck:
        ok(ck["['w']"], np.zeros(2))            # process 0's values, readable by all after it
    print(f"OK rank {r}", flush=True)
"""


def test_collectives_across_two_processes(mpi, tmp_path):
    rc, out, err, _ = run_mpi(_script(tmp_path, COLLECTIVES), args=[str(tmp_path / "c.npz")])
    assert rc == 0, err[-3000:]
    assert "OK rank 0" in out and "OK rank 1" in out, out + err[-3000:]


def test_an_exception_on_one_rank_aborts_all(mpi, tmp_path):
    script = _script(tmp_path, """
        import numpy as np, functrans as ft, functrans.lax as lax
        ft.distributed.initialize()
        r = ft.process_index()
        f = ft.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
        f(np.ones((1, 2)))
        if r == 1:
            raise RuntimeError("boom on purpose")
        while True:                      # rank 0 waits in a collective that never completes
            f(np.ones((1, 2)))
    """)
    rc, out, err, seconds = run_mpi(script, timeout=240)
    assert rc != 0
    assert "RuntimeError: boom on purpose" in err
    assert "process 1 of 2 raised RuntimeError" in err and "aborting all 2 processes" in err


def test_mismatched_shapes_are_a_clear_error_under_debug(mpi, tmp_path):
    script = _script(tmp_path, """
        import numpy as np, functrans as ft, functrans.lax as lax
        ft.distributed.initialize()
        r = ft.process_index()
        f = ft.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
        f(np.ones((1, 3 + r)))
    """)
    rc, out, err, _ = run_mpi(script, env=_env(FUNCTRANS_DEBUG_COLLECTIVES="1"), timeout=240)
    assert rc != 0
    assert "different shapes or dtypes" in err, err[-3000:]
    assert "rank 0: float64[3]" in err and "rank 1: float64[4]" in err, err[-3000:]


def test_distributed_example_equals_a_single_process_run(mpi, tmp_path):
    ck = tmp_path / "params.npz"
    rc, out, err, _ = run_mpi(ROOT / "examples" / "train_digits_distributed.py",
                              args=["--steps", "40", "--hidden", "32", "32", "--check",
                                    "--checkpoint", str(ck)])
    assert rc == 0, err[-3000:]
    assert out.count("2 process(es)") == 1, out           # printed by process 0 only
    m = re.search(r"check: max \|distributed - single process\| = (\S+) over parameters of "
                  r"magnitude up to (\S+)", out)
    assert m, out
    diff, scale = float(m.group(1)), float(m.group(2))
    # float32 rounding of differently ordered sums, compounded over 40 steps: far below the
    # size of one update, far above zero-or-nothing agreement
    assert diff <= 1e-5 * max(scale, 1.0), (diff, scale)
    acc = float(re.search(r"^test accuracy (\S+)", out, re.M).group(1))
    assert acc > 0.85, out
    assert ck.exists()
