"""How long a program's loops would run on numpy: decides whether jit's first call may run the
program on numpy while it compiles in the background (config.jit_background_compile).

A call on numpy (backend.numpy_run) pays each loop's body once per iteration, about 1-3 µs per
equation (an SGD step of 87 equations: 0.2 ms; a Lorenz step of 29 scalar equations: 40 µs),
where the compiled loop costs one compile (0.5-5 s, in the background). A program whose loops
would run more than NUMPY_FIRST_CALL_EQUATIONS equations (about a quarter of a second) is
compiled on its first call instead. A while_loop's trip count is unknown until it runs: it
counts once here, and its runner on numpy keeps to a time budget, past which it compiles
itself and goes on compiled (backend.numpy_run.LoopBudget), as does a scan whose equations
cost more than the count supposes (large arrays).
"""
NUMPY_FIRST_CALL_EQUATIONS = 100_000


def numpy_equations(program, limit=NUMPY_FIRST_CALL_EQUATIONS):
    """The number of equations a run of `program` on numpy evaluates, counting a loop's body once
    per iteration (a while_loop's, whose trip count is unknown, a cond's branch and a jit
    call's sub-program once); None when it exceeds `limit`."""
    total = 0
    for eqn in program.eqns:
        total += 1
        declared = eqn.primitive.cost_programs
        subs = declared(**eqn.params) if declared is not None else \
            [(p, 1, 0) for p in _programs(eqn.params.values())]
        for sub, times, _ in subs:
            times = 1 if times is None else times
            n = numpy_equations(sub, limit)
            if n is None:
                return None
            total += times * n
        if total > limit:
            return None
    return total


def _programs(values):
    for v in values:
        if hasattr(v, "eqns") and hasattr(v, "in_avals"):
            yield v
        elif isinstance(v, (tuple, list)):
            yield from _programs(v)


def first_call_on_numpy_pays(closed):
    """False when running the program on numpy would take longer than compiling it."""
    return numpy_equations(closed) is not None
