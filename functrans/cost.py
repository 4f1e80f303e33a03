"""This machine's rates, measured: what the forward-vs-reverse cost model turns FLOPs and bytes into.

The cost model (functrans.transforms.cost_model) costs the program a Jacobian will actually run,
equation by equation. Each equation's primitive declares its FLOPs, bytes and a *cost kind*
(core/primitive.py); this module measures, once per machine, what each kind costs here:

  eager_fixed_*, eager_eqn_*   eager jacfwd / jacrev: a fixed part per call and the Python
                               dispatch per equation of the traced Jacobian program (the vmap
                               and jvp interpreters stacked over the primitive's impl), fitted
                               on three tiny chains of different length
  impl_call                    per primitive: its numpy impl's own cost on small operands
                               (argument checks, shape rules, the numpy calls); measured the
                               first time the model meets the primitive, then kept on disk
  eval_eqn, eval_iter          one equation of a program evaluated eagerly (a loop body), and
                               the loop's own work per iteration (slicing, stacking)
  eager_loop_*                 an eager jacfwd / jacrev through a loop: the transforms' rules
                               stage the loop's body into new programs (per loop of the program)
  gemm_flops, gemm_half, gemm_bw, blas_call
                               np.matmul: FLOP/s of a square product; the smallest dimension s
                               at which a product runs at half that (BLAS runs a product whose
                               smallest dimension is s at about gemm_flops * s / (s + gemm_half));
                               bytes/s of a matrix-vector product (memory-bound), and the fixed
                               cost of a tiny product
  stream_bw, dram_bw, np_call, np_row
                               a numpy binary ufunc: bytes/s on arrays that stay in cache, and
                               on large ones (memory-bound), its fixed cost, and its cost per
                               pass of its inner loop (many passes when an operand is broadcast
                               along an outer axis and the inner run is short)
  fault_byte                   seconds per byte of fresh memory: arrays larger than the
                               allocator's largest mmap threshold (32 MiB) are mapped anew at
                               each allocation, and each page faults on its first write
  transc_elem                  seconds per element of a numpy transcendental (np.tanh)
  copy_bw, reduce_bw, reduce_row, reduce_call
                               bytes/s of a transposed copy and of np.sum, np.sum's cost per
                               output element (large when the reduced axis is short), and the
                               fixed cost of a numpy reduction (what jit's driver calls)
  jit_call, jit_step           a compiled Jacobian: fixed cost per call, and per step of its
                               driver (one Numba kernel or numpy/BLAS call), fitted on three
                               compiled chains of different length
  jit_iter, jit_loop_step, loop_call, loop_alloc, loop_gather
                               a loop under jit: run by Python calling the body's compiled
                               program, its own cost per iteration (slicing, stacking); run as
                               one njit function (backend/loops.py): the cost per body step
                               (a short against a long scan), per call of the loop from the
                               driver (what the short scan leaves unexplained), per array it
                               allocates (an allocating scan) and per element of a strided
                               array it gathers into a contiguous one (a scan whose product
                               takes its carry transposed); what else the compiled loop does,
                               its kernels, products and copies, is costed at the rates above
  fused_elem, fused_transc, fused_reduce
                               seconds per element and operation inside a fused Numba kernel
                               (arithmetic; a transcendental inlined for small arrays; a
                               reduction's accumulation, a chain of dependent adds)
  fused_access                 per element access (a load or a store) in a kernel's innermost
                               loop when that loop is short (it neither vectorizes nor amortizes
                               its start-up): measured on rows of 2, one array read, one written
  fused_div                    seconds per element of a division inside a kernel (it does not
                               pipeline like a product), measured on numpy's divide loop

Each rate is the median of its samples of this thread's CPU time. `calibrate()` measures them
and writes `calibration.json` beside the kernel cache (FUNCTRANS_CACHE_DIR); `rates()` returns
the cached figures, measuring again when the file is missing or was written by another
functrans, numpy or Numba version or on another CPU. `parts` records how long each part took:

  numpy, eager   0.1-0.3 s each (Numba is not imported: an eager-only user never waits for it,
                 and neither the cache's directory nor the key imports it)
  numba start    Numba's start in this process (its import, and scipy's BLAS it loads): paid
                 once per process by any compiled call, here or at the user's first jit
  jit            the probes: small compiled programs whose kernels the kernel cache keeps on
                 disk; loading and timing them takes a fraction of a second

The jit rates are measured the first time a jit estimate is asked for. The probes are never
compiled inside that request: when their kernels are not on disk yet (the first time on this
machine and library version; a marker file in the kernel directory says they are), a thread of
their own compiles them while the jit rates are provisional, derived from the numpy rates, and
the first request after it finished measures them. `calibrate(wait=True)` and
`wait_for_jit_rates()` compile them at once instead.
"""
import importlib.metadata
import json
import mmap
import os
import platform
import tempfile
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ._version import __version__
from . import lax, numpy as fnp
from .backend.cache_dir import default_cache_dir
from .core.ir import ClosedProgram, Literal
from .core.staging import eval_closed
from .transforms.cost_estimates import MEMORY_BYTES, PROBE_PASS, _jit_terms, compiled_loop, \
    cost_kind, jit_steps
from .transforms.jacobians import jacfwd, jacrev
from .transforms.jit import jit
from .transforms.tracing import make_jaxpr

FILE_NAME = "calibration.json"
_lock = threading.RLock()
_cached = None      # (path, Rates) of this process
_unsaved = set()    # ids of Rates with impl timings not yet written


@dataclass
class Rates:
    eager_fixed_fwd: float = 2e-4
    eager_eqn_fwd: float = 4e-5
    eager_fixed_rev: float = 3e-4
    eager_eqn_rev: float = 5e-5
    eval_eqn: float = 4e-6
    eval_iter: float = 1e-5
    eager_loop_fwd: float = 1e-3
    eager_loop_rev: float = 1e-3
    gemm_flops: float = 2e10
    gemm_half: float = 16.0
    gemm_bw: float = 1e10
    blas_call: float = 2e-6
    stream_bw: float = 5e9
    dram_bw: float = 1e10
    fault_byte: float = 1e-10
    np_call: float = 1e-6
    np_row: float = 5e-9
    transc_elem: float = 5e-9
    copy_bw: float = 3e9
    reduce_bw: float = 8e9
    reduce_row: float = 2e-8
    reduce_call: float = 2e-6
    jit_call: float = 5e-6
    jit_step: float = 1e-6
    jit_iter: float = 5e-6
    jit_loop_step: float = 2e-7
    loop_alloc: float = 1e-7
    loop_gather: float = 3e-9
    loop_call: float = 5e-6
    fused_elem: float = 5e-10
    fused_transc: float = 1e-8
    fused_reduce: float = 1e-9
    fused_div: float = 1e-9
    fused_access: float = 5e-10
    impl_call: dict = field(default_factory=dict)   # primitive name -> seconds
    have_jit: bool = False          # were the jit rates measured (else defaults)
    jit_provisional: bool = False   # jit rates derived from the numpy ones, probes compiling
    seconds: float = 0.0            # how long the measurement took
    parts: dict = field(default_factory=dict)       # of which numpy / eager / jit (seconds)
    key: str = ""                   # library/numpy/Numba versions and CPU it was measured with

    def impl_seconds(self, eqn):
        """The fixed cost of eqn's primitive impl (see the module function)."""
        return impl_seconds(self, eqn)

    def __str__(self):
        us = lambda s: f"{s * 1e6:.2f} us"  # noqa: E731
        gb = lambda b: f"{b / 1e9:.1f} GB/s"  # noqa: E731
        return "\n".join([
            f"calibration ({self.key}; measured in {self.seconds:.2f} s"
            f"{_parts_summary(self.parts)})",
            f"  eager jacfwd: {us(self.eager_fixed_fwd)} + {us(self.eager_eqn_fwd)} per equation",
            f"  eager jacrev: {us(self.eager_fixed_rev)} + {us(self.eager_eqn_rev)} per equation",
            f"  impls on small operands: {_impl_summary(self.impl_call)}",
            f"  eager loop: {us(self.eval_iter)} per iteration + {us(self.eval_eqn)} per "
            f"equation of the body; {us(self.eager_loop_fwd)} (jacfwd), "
            f"{us(self.eager_loop_rev)} (jacrev) to transform each loop",
            f"  matmul: {self.gemm_flops / 1e9:.1f} GFLOP/s square, half that at smallest "
            f"dimension {self.gemm_half:.3g}, {gb(self.gemm_bw)} "
            f"matrix-vector, {us(self.blas_call)} per call",
            f"  numpy: {gb(self.stream_bw)} elementwise in cache, {gb(self.dram_bw)} on large "
            f"arrays, {self.fault_byte * 1e12:.0f} ps per byte of fresh memory, "
            f"{us(self.np_call)} per call + {self.np_row * 1e9:.1f} ns per inner loop, "
            f"{self.transc_elem * 1e9:.2f} ns per tanh, {gb(self.copy_bw)} transposed copy, "
            f"{gb(self.reduce_bw)} sum + {self.reduce_row * 1e9:.1f} ns per summed row + "
            f"{us(self.reduce_call)} per call",
            f"  jit{_jit_state(self)}: "
            f"{us(self.jit_call)} per call + {us(self.jit_step)} per step, "
            f"{us(self.jit_iter)} per Python loop iteration, {us(self.jit_loop_step)} per "
            f"step of a compiled loop, {us(self.loop_call)} per call of one, "
            f"{us(self.loop_alloc)} per array allocated in it, "
            f"{self.loop_gather * 1e9:.2f} ns per element gathered; "
            f"fused "
            f"{self.fused_elem * 1e9:.2f} ns per element-op, "
            f"{self.fused_transc * 1e9:.2f} ns per inlined tanh, "
            f"{self.fused_reduce * 1e9:.2f} ns per reduced element, "
            f"{self.fused_div * 1e9:.2f} ns per division, "
            f"{self.fused_access * 1e9:.2f} ns per access in a short innermost loop"])


def _jit_state(r):
    if r.have_jit:
        return ""
    if r.jit_provisional:
        return " (provisional, derived from the numpy rates while the probes compile)"
    return " (defaults, not measured yet)"


def _parts_summary(parts):
    return ": " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()) if parts else ""


def _impl_summary(table):
    if not table:
        return "none measured yet"
    shown = sorted(table.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v * 1e6:.1f} us" for k, v in shown[:6]) + \
        (f" (+{len(shown) - 6} more)" if len(shown) > 6 else "")


def machine_key():
    """What invalidates a calibration: the library, numpy and Numba versions and the CPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"functrans {__version__}, numpy {np.__version__}, numba {_numba_version()}, "
            f"{cpu}, {os.cpu_count()} cpus")


def _numba_version():
    """Numba's version from its installed metadata: importing Numba (half a second) is left to
    the first jit."""
    try:
        return importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        import numba
        return numba.__version__


def cache_path():
    return os.path.join(default_cache_dir(), FILE_NAME)


# --- timing --------------------------------------------------------------------------------------

# The clock is this thread's CPU time: the machines this runs on are shared, and other
# processes' load would otherwise leak into the rates (BLAS runs on this thread: one BLAS
# thread is what small products use). On an idle machine it equals wall time.
clock = time.thread_time


# Of the samples the median is kept: the estimates predict the typical time of a call, and a
# machine shared with other processes slows some samples by bursts that the median ignores.
def _typical(samples):
    return float(np.median(samples))


def _seconds(fn, samples=5, min_seconds=1e-4):
    """Seconds per call: the median of `samples` samples, each looping long enough to be above
    the timer's resolution (a call that long on its own is its own first sample)."""
    fn()
    t0 = clock()
    fn()
    once = clock() - t0
    loops = max(1, int(min_seconds / max(once, 1e-8)))
    out = [once] if loops == 1 else []
    for _ in range(samples - len(out)):
        t0 = clock()
        for _ in range(loops):
            fn()
        out.append((clock() - t0) / loops)
    return _typical(out)


def _interleaved(fns, samples=7, min_seconds=1e-4):
    """Seconds of each function (median), sampled in turn so that drifting load hits all
    alike; each sample loops for at least min_seconds (a single short call after a long one
    runs with cold caches and measured up to 10x its time in a loop)."""
    loops = []
    for fn in fns:
        fn()
        t0 = clock()
        fn()
        loops.append(max(1, int(min_seconds / max(clock() - t0, 1e-8))))
    out = [[] for _ in fns]
    for _ in range(samples):
        for i, fn in enumerate(fns):
            t0 = clock()
            for _ in range(loops[i]):
                fn()
            out[i].append((clock() - t0) / loops[i])
    return [_typical(o) for o in out]


def _fit(points):
    """(fixed, slope): the least-squares line through (count, seconds) points, with the fixed
    part at least zero and the slope at least a tenth of the mean seconds per count (a noisy
    sample must not make either absurd)."""
    x = np.array([p[0] for p in points], float)
    t = np.array([p[1] for p in points], float)
    slope, fixed = np.polyfit(x, t, 1)
    floor = 0.1 * float(np.mean(t / x))
    if slope < floor or fixed < 0:
        slope = max(slope, floor)
        fixed = max(float(np.mean(t - slope * x)), 0.0)
    return float(fixed), float(slope)


def _chain(k, width=4):
    """A tiny MLP-like chain: k layers of tanh(W @ x); mostly dispatch, little arithmetic."""
    w = np.random.default_rng(k).standard_normal((width, width)) / 2

    def f(x):
        for _ in range(k):
            x = fnp.tanh(w @ x) * 0.5 + x
        return fnp.sum(x * x) * np.ones(2)
    return f, np.linspace(0.1, 0.9, width)


LOOP_LENGTH = 16


def _gather_loop(rows=128, width=4, length=16 * LOOP_LENGTH):
    """A scan whose product takes its carry transposed (as a reverse-mode body does): the
    compiled loop gathers it into a contiguous array every iteration."""
    w = np.random.default_rng(0).standard_normal((width, width)) / 2

    def g(h, xs):                      # little else per iteration: the gather dominates
        def body(c, x):
            y = lax.dot_general(c.reshape(rows, width, 1), w, (((1,), (0,)), ((), ())))
            return y.reshape(rows, width) * 0.5 + x, x
        return lax.scan(body, h, xs)
    return g, np.full((rows, width), 0.1), np.ones((length, width))


def _loop(width=4, length=LOOP_LENGTH, allocating=False):
    """A small recurrence as a lax.scan: per-iteration costs of loops. allocating=True: the
    product's result is a 3-D array, which a compiled loop allocates at each iteration (a
    matrix result goes to a buffer allocated once)."""
    w = np.random.default_rng(0).standard_normal((width, width)) / 2

    def product(c):
        if allocating:
            return lax.dot_general(w, c.reshape(width, 1, 1), (((1,), (0,)), ((), ()))
                                   ).reshape(width)
        return w @ c

    def g(h, xs):
        return lax.scan(lambda c, x: (fnp.tanh(product(c) + x), c), h, xs)
    return g, np.linspace(0.1, 0.9, width), np.ones((length, width))


# --- the measurements ----------------------------------------------------------------------------

def _blas_single_threaded():
    return any(os.environ.get(v) == "1" for v in
               ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")) or \
        os.cpu_count() == 1


def _blas_time(fn, samples=7):
    """Seconds of a matrix product: this thread's CPU time when BLAS runs on it alone, else the
    best wall time (several BLAS threads: this thread's CPU time would not see the others)."""
    if _blas_single_threaded():
        return _seconds(fn, samples)
    fn()
    best = float("inf")
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# bytes of each operand of the large-array probe: three of them overflow the last-level cache
MEMORY_PROBE = max(16 << 20, MEMORY_BYTES // 2)
FRESH_PROBE = 40 << 20       # bytes of the page-fault probe's array (above 32 MiB)
PAGE = mmap.PAGESIZE


def _measure_numpy(r):
    # each probe is as small as keeps it in its regime: the whole part takes about 0.1 s
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256))
    r.gemm_flops = 2 * 256 ** 3 / _blas_time(lambda: a @ a)
    thin = rng.standard_normal((256, 4))
    rate = 2 * 256 * 256 * 4 / _blas_time(lambda: a @ thin)
    r.gemm_half = float(np.clip(4 * (r.gemm_flops / rate - 1), 0.5, 1000))
    m, v = rng.standard_normal((400, 400)), rng.standard_normal(400)
    r.gemm_bw = 8 * (400 * 400 + 800) / _blas_time(lambda: m @ v)
    s = rng.standard_normal((4, 4))
    r.blas_call = _seconds(lambda: s @ s)
    big = rng.standard_normal(100_000)
    out = np.empty_like(big)
    r.stream_bw = 3 * big.nbytes / _seconds(lambda: np.multiply(big, big, out=out))
    large, other = np.full(MEMORY_PROBE // 8, 1.5), np.full(MEMORY_PROBE // 8, 0.5)
    r.dram_bw = 3 * large.nbytes / _seconds(lambda: np.multiply(large, other), samples=3)
    del large, other
    r.fault_byte = _seconds(_touch_fresh_pages, samples=2) / FRESH_PROBE
    tiny = np.ones(4)
    r.np_call = _seconds(lambda: np.multiply(tiny, tiny))
    # numpy's cost per pass of its inner loop: a broadcast row of 2 leaves passes of 2
    rows2, row, out2 = big.reshape(-1, 2), np.array([1.5, 0.5]), out.reshape(-1, 2)
    r.np_row = max(_seconds(lambda: np.multiply(rows2, row, out=out2)) -
                   2 * big.nbytes / r.stream_bw, 0.0) / rows2.shape[0]
    part, part_out = big[:20_000], out[:20_000]
    r.transc_elem = _seconds(lambda: np.tanh(part, out=part_out)) / part.size
    # a division's throughput (numpy's loop is the one a fused kernel compiles to)
    r.fused_div = _seconds(lambda: np.divide(part, 1.5, out=part_out)) / part.size
    sq = big.reshape(250, 400)
    r.copy_bw = 2 * sq.nbytes / _seconds(lambda: np.ascontiguousarray(sq.T))
    r.reduce_bw = big.nbytes / _seconds(lambda: np.sum(big))
    r.reduce_call = _seconds(lambda: np.maximum.reduce(tiny, axis=(0,), initial=-np.inf))
    pairs = big[:20_000].reshape(-1, 2)
    r.reduce_row = max(_seconds(lambda: np.sum(pairs, axis=1)) - pairs.nbytes / r.reduce_bw,
                       0.0) / pairs.shape[0]


def _touch_fresh_pages():
    """Write one element per page of a fresh array larger than the allocator's largest mmap
    threshold: numpy maps such arrays anew at every allocation, and each page faults."""
    np.empty(FRESH_PROBE // 8)[::PAGE // 8].fill(0.0)


SMALL_OPERANDS = 4096      # elements: an impl timed on operands this small shows its fixed cost


def impl_seconds(r, eqn):
    """The fixed cost of eqn's primitive impl (measured on first sight when its operands are
    small; until then the median of the primitives measured so far)."""
    name = eqn.primitive.name
    t = r.impl_call.get(name)
    if t is None and not _holds_programs(eqn):
        t = _time_impl(eqn)
        if t is not None:
            with _lock:
                r.impl_call[name] = t
                _unsaved.add(id(r))
    if t is None:
        t = float(np.median(list(r.impl_call.values()))) if r.impl_call else 3 * r.np_call
    return t


def _holds_programs(eqn):
    """Control flow and calls: costed through the programs they run, not their impl's."""
    return cost_kind(eqn.primitive) in ("control_flow", "call") or any(
        isinstance(v, ClosedProgram) or
        (isinstance(v, (tuple, list)) and any(isinstance(b, ClosedProgram) for b in v))
        for v in eqn.params.values())


def _time_impl(eqn):
    if sum(a.aval.size for a in eqn.inputs) > SMALL_OPERANDS:
        return None
    args = [a.value if isinstance(a, Literal) else np.ones(a.aval.shape, a.aval.dtype)
            for a in eqn.inputs]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _seconds(lambda: eqn.primitive.impl(*args, **eqn.params), samples=5,
                           min_seconds=1e-4)
    except Exception:       # operands of ones may be invalid (indices): keep the default
        return None


def _impls(r, closed):
    return sum(impl_seconds(r, e) for e in closed.eqns)


def _measure_eager(r):
    # the shortest chain pins the fixed part, the longest the part per equation; what the
    # impls cost themselves is measured per primitive and taken out. Both modes are sampled in
    # turn: a burst of load from other processes then shifts both alike, not the choice
    # between them. (Two chains and five samples, tried to save 0.1 s, gave fits that moved
    # by 3x under load.)
    chains = [_chain(k) for k in (0, 1, 3)]
    runs = [(name, jac, f, x, make_jaxpr(jac(f))(x))
            for name, jac in (("fwd", jacfwd), ("rev", jacrev)) for f, x in chains]
    for *_, program in runs:
        _impls(r, program)                  # impls first timed here, not inside the samples
    times = _interleaved([lambda jac=jac, f=f, x=x: jac(f)(x) for _, jac, f, x, _ in runs],
                         samples=7)
    for name in ("fwd", "rev"):
        fixed, per = _fit([(len(p.eqns), t - _impls(r, p))
                           for (m, *_, p), t in zip(runs, times) if m == name])
        setattr(r, f"eager_fixed_{name}", fixed)
        setattr(r, f"eager_eqn_{name}", per)
    f, x = _chain(4)
    closed = make_jaxpr(f)(x)
    t = _seconds(lambda: eval_closed(closed, x))
    r.eval_eqn = max(t - _impls(r, closed), 0.1 * t) / len(closed.eqns)
    g, h, xs = _loop()
    loop = make_jaxpr(g)(h, xs)
    body = [e for e in loop.eqns if e.primitive.name == "scan"][0].params["body"]
    per_iter = _seconds(lambda: eval_closed(loop, h, xs)) / LOOP_LENGTH
    in_body = len(body.eqns) * r.eval_eqn + _impls(r, body)
    r.eval_iter = max(per_iter - in_body, 0.1 * per_iter)
    # what is left of an eager Jacobian through the loop is the staging of transformed bodies
    for name, jac in (("fwd", jacfwd), ("rev", jacrev)):
        program = make_jaxpr(jac(g))(h, xs)
        loops = [e for e in program.eqns if e.primitive.name == "scan"]
        t = _seconds(lambda: jac(g)(h, xs), samples=3, min_seconds=0)
        known = getattr(r, f"eager_fixed_{name}") + \
            len(program.eqns) * getattr(r, f"eager_eqn_{name}") + sum(
            impl_seconds(r, e) for e in program.eqns if e.primitive.name != "scan") + sum(
            LOOP_LENGTH * (r.eval_iter + len(e.params["body"].eqns) * r.eval_eqn +
                           _impls(r, e.params["body"])) for e in loops)
        setattr(r, f"eager_loop_{name}", max(t - known, 0.0) / max(len(loops), 1))


def _poly(x):
    """One kernel of 16 operations."""
    for c in (1.5, 0.5, 0.25, 2.0, 0.75, 1.25, 0.125, 3.0):
        x = x * c + 0.5
    return x


def _jit_probes():
    """The programs the jit rates are measured on: {name: (jitted function, arguments)}.
    Building them compiles nothing; their kernels come from the disk cache once
    `_compile_probes` (or a first measurement) has compiled them on this machine."""
    tiny = np.ones(4)
    small, mid, thin = np.linspace(0.0, 1.0, 200), np.linspace(0.0, 1.0, 20_000), \
        np.linspace(0.0, 1.0, 4000)
    flat = np.linspace(0.0, 1.0, 100_000)     # 50,000 rows of 2: well above the call's noise
    poly, th = jit(_poly), jit(lambda x: fnp.tanh(x) * 2.0)   # tanh inlined below numpy's cutoff
    axpy, sq = jit(lambda x: x * 1.5 + 0.5), jit(lambda x: fnp.sum(x * x))
    probes = {"one": (jit(lambda x: x * 2.0), (tiny,)),          # one kernel: call + one step
              "poly_small": (poly, (small,)), "poly_mid": (poly, (mid,)),
              "tanh_small": (th, (small,)), "tanh_thin": (th, (thin,)),
              "axpy_flat": (axpy, (flat,)), "axpy_rows": (axpy, (flat.reshape(-1, 2),)),
              "sum_small": (sq, (small,)), "sum_mid": (sq, (mid,))}
    for k in (2, 8):                 # chains of products and kernels: the cost per step
        f, x = _chain(k)
        probes[f"chain{k}"] = (jit(f), (x,))
    for name, length, allocating in (("loop_short", LOOP_LENGTH, False),
                                     ("loop_long", 16 * LOOP_LENGTH, False),
                                     ("loop_alloc", 16 * LOOP_LENGTH, True)):
        g, h, xs = _loop(length=length, allocating=allocating)
        probes[name] = (jit(g), (h, xs))
    g, h, xs = _gather_loop()
    probes["loop_gather"] = (jit(g), (h, xs))
    return probes


def _probe_marker():
    """A file in the kernel directory saying that the probes' kernels are compiled there for
    this machine key (clearing the kernel cache removes it with them)."""
    return os.path.join(default_cache_dir(), "kernels", "calibration-probes.txt")


PROBE_SET = 5       # bump when _jit_probes changes: the marker then no longer matches


def _probe_key():
    return f"probe set {PROBE_SET}; {machine_key()}"


def _probes_ready():
    try:
        with open(_probe_marker()) as f:
            return f.read() == _probe_key()
    except OSError:
        return False


def _mark_probes_ready():
    try:
        path = _probe_marker()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".probes-")
        with os.fdopen(fd, "w") as f:
            f.write(_probe_key())
        os.replace(tmp, path)
    except OSError:
        pass


def _compile_probes(stop=None):
    """Compile (or load) every probe's kernels now; stop early (returning False) once `stop`,
    an Event, is set."""
    for fn, args in _jit_probes().values():
        if stop is not None and stop.is_set():
            return False
        fn.lower(*args).compile()
    _mark_probes_ready()
    return True


class _ProbeCompile:
    """The probes' compile on a thread of its own, started at most once per process. At exit
    it finishes the kernel it is compiling and stops (the next process compiles the rest,
    finding the finished ones in the kernel cache): a script never waits for all of them."""
    def __init__(self):
        import atexit
        self.event = threading.Event()
        self.stopping = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, name="functrans-calibration-probes",
                                       daemon=True)
        self.thread.start()
        atexit.register(self._at_exit)

    def _run(self):
        try:
            if not _compile_probes(self.stopping):
                self.error = RuntimeError("stopped at exit")
        except Exception as e:  # noqa: BLE001  (the rates stay provisional; said in rates())
            self.error = e
        finally:
            self.event.set()

    def _at_exit(self):
        self.stopping.set()
        self.thread.join()

    def done(self):
        return self.event.is_set()


_probe_job = [None]


def _provisional_jit(r):
    """jit rates before the probes are compiled, from this machine's numpy rates: a compiled
    call and a driver step are Python-level work (in proportion to numpy's call); the kernels'
    rates keep the defaults, a transcendental costs about what numpy's does."""
    r.jit_call = 12 * r.np_call
    r.jit_step = 1.2 * r.np_call
    r.jit_iter = 5 * r.np_call
    r.fused_transc = 1.3 * r.transc_elem
    r.jit_provisional = True


def _measure_jit(r):
    """The jit rates, measured on the probes (loading Numba first: timed as its own part)."""
    from .backend.cache import KERNELS       # Numba: imported when jit rates are first needed
    t0 = time.perf_counter()
    KERNELS.numba_init()
    r.parts["numba start"] = time.perf_counter() - t0
    probes = _jit_probes()
    run = {name: (lambda fn=fn, args=args: fn(*args)) for name, (fn, args) in probes.items()}
    from .core.config import config          # first calls compile (or load) at once, instead
    background = config.jit_background_compile   # of running on numpy while a thread does
    config.jit_background_compile = False
    try:
        for call in run.values():
            call()
    finally:
        config.jit_background_compile = background
    _mark_probes_ready()
    # counted as the model counts them: a view is half a step, a product also pays blas_call
    units, blas = [], []
    for k in (2, 8):
        f, x = _chain(k)
        steps = jit_steps(make_jaxpr(f)(x))
        units.append(sum(0.5 if s.kind == "view" else 1.0 for s in steps))
        blas.append(r.blas_call * sum(s.kind == "driver" and cost_kind(s.eqn.primitive) ==
                                      "blas" for s in steps))
    t_one, t_short, t_long = _interleaved([run["one"], run["chain2"], run["chain8"]])
    r.jit_step = max(((t_long - blas[1]) - (t_short - blas[0])) / max(units[1] - units[0], 1),
                     0.05 * t_one)
    r.jit_call = max(t_one - r.jit_step, 0.0)
    # differences between a large and a small operand: the call overheads cancel
    small, mid, thin = (probes[n][1][0].size for n in ("poly_small", "poly_mid", "tanh_thin"))
    t_small, t_mid, t_th_small, t_th = _interleaved(
        [run["poly_small"], run["poly_mid"], run["tanh_small"], run["tanh_thin"]], samples=7)
    r.fused_elem = max(t_mid - t_small, 1e-9) / (16 * (mid - small))
    r.fused_transc = max((t_th - t_th_small) / (thin - small) - r.fused_elem, r.fused_elem)
    rows = probes["axpy_rows"][1][0].shape[0]           # the same elements in rows of 2
    t_flat, t_rows = _interleaved([run["axpy_flat"], run["axpy_rows"]], samples=7)
    # rows of 2, one array read and one written: the model counts
    # _short_rows(r, elements, 2, 2) = rows * PROBE_PASS accesses
    r.fused_access = max((t_rows - t_flat) / (rows * PROBE_PASS), 0.0)
    t_small, t_mid = _interleaved([run["sum_small"], run["sum_mid"]], samples=7)
    r.fused_reduce = max((t_mid - t_small) / (mid - small) - r.fused_elem, r.fused_elem)
    # the loops last: their estimates use the kernel rates measured above
    _measure_loops(r, probes)
    r.have_jit, r.jit_provisional = True, False


def _fit_rate(r, name, measured, model):
    """Set the rate `name` so that the model's estimate (linear in it) matches the measured
    seconds; at least zero."""
    setattr(r, name, 0.0)
    without = model()
    setattr(r, name, 1e-6)
    count = (model() - without) / 1e-6          # how many times the model counts the rate
    setattr(r, name, max(measured - without, 0.0) / count if count > 1e-3 else 0.0)


def _measure_loops(r, probes):
    """A loop under jit: the difference between a short and a long small scan gives the cost
    per step of a loop compiled as one njit function (or per iteration of a Python loop over
    the body's compiled program), without the call's; the difference between the long scan and
    one whose product returns a 3-D array (which the compiled loop allocates every iteration)
    gives what an allocation in a compiled loop costs."""
    # long loops: a call's own cost and a burst of load are small beside 256 iterations
    names = ("loop_short", "loop_long", "loop_alloc", "loop_gather")
    programs = [make_jaxpr(probes[n][0].fun)(*probes[n][1]) for n in names]
    scan_eqn = [e for e in programs[0].eqns if e.primitive.name == "scan"][0]
    loop = compiled_loop(scan_eqn)
    runs = [lambda fn=probes[n][0], a=probes[n][1]: fn(*a) for n in names]
    t_short, t_long, t_alloc, t_gather = _interleaved(
        runs if loop else runs[:2] + [lambda: None] * 2)
    r.loop_alloc = 0.0
    model = [lambda p=p: _jit_total(r, p) for p in programs]
    if not loop:
        _fit_rate(r, "jit_iter", t_long - t_short, lambda: model[1]() - model[0]())
        return
    _fit_rate(r, "jit_loop_step", t_long - t_short, lambda: model[1]() - model[0]())
    # what the model does not explain of the short loop is calling it from the driver
    _fit_rate(r, "loop_call", t_short, model[0])
    _fit_rate(r, "loop_alloc", t_alloc - t_long, lambda: model[2]() - model[1]())
    # what the model does not yet explain of the gathering loop is its gathers
    _fit_rate(r, "loop_gather", t_gather, model[3])


def _jit_total(r, closed):
    return r.jit_call + sum(t.seconds for t in _jit_terms(r, closed))


# --- the cache -----------------------------------------------------------------------------------

def _write(path, r):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".calibration-")
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(r), f, indent=1)
        os.replace(tmp, path)
    except OSError:
        pass                         # an unwritable cache: keep the figures in memory only


def _read(path, key):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    names = {f.name for f in fields(Rates)}
    if not isinstance(data, dict) or data.get("key") != key or set(data) != names:
        return None
    return Rates(**data)


def _timed(r, part, measure):
    """Run one part of the calibration, recording its wall seconds."""
    t0 = time.perf_counter()
    measure(r)
    r.parts[part] = time.perf_counter() - t0 - r.parts.get("numba start", 0.0) * (part == "jit")
    r.seconds = sum(r.parts.values())
    return r.parts[part]


def _jit_part(r, wait):
    """Measure the jit rates now if the probes' kernels are compiled (on disk, or by this
    process), or with wait=True (compiling them first). Otherwise set provisional rates and
    compile the probes on a thread of their own, once per process: a later call measures.
    Returns whether the rates were measured."""
    if not wait and not _probes_ready():
        job = _probe_job[0]
        if job is None:
            _probe_job[0] = job = _ProbeCompile()
        if not job.done() or job.error is not None:
            if not r.jit_provisional:
                _provisional_jit(r)
            return False
    _timed(r, "jit", _measure_jit)
    return True


def calibrate(jit=True, wait=False) -> Rates:
    """Measure this machine's rates now (numpy, eager dispatch and, with jit=True, compiled
    kernels), write them beside the kernel cache and use them from now on. The jit rates are
    measured on probe programs whose kernels the kernel cache keeps: until they are compiled
    on this machine (on a thread of their own, started here) the jit rates are provisional,
    derived from the numpy rates; wait=True compiles them now instead."""
    global _cached
    with _lock:
        r = Rates(key=machine_key())
        _timed(r, "numpy", _measure_numpy)
        _timed(r, "eager", _measure_eager)
        if jit:
            _jit_part(r, wait)
        path = cache_path()
        _write(path, r)
        _cached = (path, r)
        return r


def rates(jit=False) -> Rates:
    """The calibration in use: this process's, else the one on disk if it was measured with
    this library version and CPU, else a fresh one. jit=True also needs the jit rates
    (provisional until the probes' kernels are compiled: see calibrate)."""
    global _cached
    with _lock:
        path = cache_path()
        if _cached is None or _cached[0] != path:
            r = _read(path, machine_key())
            _cached = (path, r) if r is not None else None
        if _cached is None:
            return calibrate(jit=jit)
        r = _cached[1]
        if jit and not r.have_jit and _jit_part(r, wait=False):
            _write(path, r)
        return r


def wait_for_jit_rates(timeout=None) -> Rates:
    """The calibration with its jit rates measured: waits (at most `timeout` seconds) for the
    probes' compile if they are not compiled yet."""
    r = rates(jit=True)
    job = _probe_job[0]
    if not r.have_jit and job is not None:
        job.event.wait(timeout)
        r = rates(jit=True)
    return r


def save():
    """Write impl timings measured since the calibration was last written."""
    with _lock:
        if _cached is not None and id(_cached[1]) in _unsaved:
            _unsaved.discard(id(_cached[1]))
            _write(_cached[0], _cached[1])


def forget():
    """Drop this process's copy (the next rates() reads the disk again)."""
    global _cached
    with _lock:
        _cached = None
