"""Programs run on numpy, without Numba: jit's first calls while the kernels compile elsewhere.

A flattened program becomes one generated Python function that calls each equation's numpy
impl directly (plain ndarrays in and out, the impls' argument checks skipped: tracing ran every
shape rule already). Loops run as Python loops over their bodies' generated functions: a
primitive holding sub-programs declares `numpy_run(runner, **params)`, which builds its
callable from `runner(closed)` (the body's function) instead of binding each equation of the
body on every iteration. That is what makes a first call on numpy cheap enough for loops:

    eval_program (bind per equation, Arrays, checks)     13-50 µs per equation
    the generated function                                ~1-2 µs per equation (numpy's own)

A primitive with sub-programs and no `numpy_run` runs its impl, which evaluates them by
binding: slower, the same values.

jit decides to run a program on numpy by counting the equations a run evaluates
(backend.loop_runs), which knows neither a while_loop's trip count nor what each equation costs
on large arrays. So a loop's runner keeps to a budget: once the run on numpy it is part of has
taken more than LOOP_BUDGET_SECONDS, it compiles its loop alone (one equation, synchronously)
and finishes there: a while_loop from the carry it has reached, a scan from its start (its ys
are stacked from the xs). From then on that loop runs compiled. (Projecting a scan's remaining
iterations from the first ones was tried: numpy's cold paths and a compile thread taking the
GIL made the first iterations 5-10x slower than the rest, and projections wrong.)

Values are those of the eager interpreter (the same numpy impls on the same inputs) except that
numpy's floating-point warnings are silenced, as compiled code never warns.
"""
import keyword
import re
import threading
import time
import weakref

import numpy as np

from ..core.ir import ClosedProgram, Eqn, Literal, Program, Var
from .flatten import flatten

# A loop's compile takes 0.5-5 s: up to a second on numpy is the quicker way to its results.
LOOP_BUDGET_SECONDS = 1.0

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_closed_runners = weakref.WeakKeyDictionary()     # ClosedProgram -> its run function


def closed_runner(closed):
    """The numpy function of a ClosedProgram: (inputs...) -> list of outputs (cached)."""
    run = _closed_runners.get(closed)
    if run is None:
        program, consts = flatten(closed)
        run = _closed_runners[closed] = program_runner(program, consts)
    return run


def program_runner(program, consts):
    """A flattened Program with its constants bound: (inputs...) -> list of outputs."""
    g = {"np": np}
    names = {}

    def glob(obj):
        k = f"_g{len(g)}"
        g[k] = obj
        return k

    def name(a):
        return glob(a.value) if type(a) is Literal else names[a]

    def fresh(v):
        names[v] = f"v{len(names)}"
        return names[v]

    const_names = [fresh(v) for v in program.constvars]
    for n, c in zip(const_names, consts):
        g[n] = c
    params_in = [fresh(v) for v in program.invars]
    body = []
    for e in program.eqns:
        fn = glob(_numpy_callable(e))
        args = ", ".join(name(a) for a in e.inputs)
        body.append(call_line(e, fn, args, [fresh(v) for v in e.outputs]))
    results = ", ".join(name(a) for a in program.outvars)
    # One errstate around the body: impls that would each enter one (log, div, reductions)
    # run their inner function (`quiet_inner`), as compiled kernels never warn.
    lines = [f"def run({', '.join(params_in)}):", "    with np.errstate(all='ignore'):"]
    lines += [f"        {line}" for line in body or ["pass"]]   # (all simplified away)
    lines.append(f"    return [{results}]")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<functrans numpy run>", "exec"), g)
    run = g["run"]
    run.source = source
    return run


def call_line(eqn, fn, args, outs):
    """The generated statement applying `fn` (a name) to `args` (source) for this equation,
    binding its outputs' names."""
    if eqn.primitive.multiple_results:
        target = ", ".join(outs) + ("," if len(outs) == 1 else "")
        return f"{target or '_'} = {fn}({args})"
    return f"{outs[0]} = {fn}({args})"


def _numpy_callable(eqn):
    prim, params = eqn.primitive, eqn.params
    build = getattr(prim, "numpy_run", None)
    if build is not None:
        return build(closed_runner, **params)
    impl = getattr(prim.impl, "unchecked", prim.impl)
    impl = getattr(impl, "quiet_inner", impl)
    if not params:
        return impl
    if all(_IDENT.match(k) and not keyword.iskeyword(k) for k in params):
        return _bound(impl, params)

    def call(*args):
        return impl(*args, **params)
    return call


def _bound(impl, params):
    """impl with its parameters bound as keyword defaults of a generated function: one call,
    no dict built per call (functools.partial builds one)."""
    g = {"_impl": impl}
    for k, v in params.items():
        g[f"_p_{k}"] = v
    kws = ", ".join(f"{k}=_p_{k}" for k in params)
    exec(compile(f"def call(*args):\n    return _impl(*args, {kws})\n",
                 "<functrans numpy call>", "exec"), g)
    return g["call"]


def typed(values, avals):
    """Loop results as the impls return them: arrays of each aval's dtype."""
    return [np.asarray(v, a.dtype) for v, a in zip(values, avals)]


_run = threading.local()        # when the current top-level run on numpy started


def run_started():
    """Mark the start of a top-level run on numpy (executables.Interpreted): loop budgets count
    from here."""
    _run.started = time.perf_counter()


class LoopBudget:
    """A loop's runner's budget: the time since its top-level run started plus the loop's
    projected remainder, against LOOP_BUDGET_SECONDS; and the loop's compiled form once over it
    (see the module docstring)."""
    __slots__ = ("compiled", "prim", "params", "executable_for")

    def __init__(self, prim, params, executable_for):
        """executable_for: backend.executables' (ClosedProgram -> compiled callable)."""
        self.compiled, self.prim, self.params = None, prim, params
        self.executable_for = executable_for

    @staticmethod
    def over():
        started = getattr(_run, "started", None)
        return started is not None and time.perf_counter() - started > LOOP_BUDGET_SECONDS

    def compile(self, in_avals):
        """The loop alone, compiled: (operands...) -> list of results."""
        ins = [Var(a) for a in in_avals]
        outs = [Var(a) for a in self.prim.out_avals(*in_avals, **self.params)]
        eqn = Eqn(self.prim, tuple(ins), tuple(outs), self.params)
        run = self.executable_for(ClosedProgram(Program((), tuple(ins), (eqn,), tuple(outs)), ()))
        self.compiled = lambda *args: list(run(*args))
        return self.compiled
