"""How long a program's loops would run on numpy: decides whether jit's first call may run the
program on numpy while it compiles in the background (config.jit_background_compile).

A first call on numpy pays each loop's body once per iteration, 20-50 µs per equation (a Lorenz
scan of 10,000 steps: 5 s eagerly, 13-19 s with the compile thread holding the GIL), where the
compiled loop costs one compile (0.5-1 s). A program whose loops would run more than
NUMPY_FIRST_CALL_EQUATIONS equations, or that has a while_loop (its trip count is unknown until
it runs, and may be anything), is compiled on its first call instead.
"""
NUMPY_FIRST_CALL_EQUATIONS = 5_000


def numpy_equations(program, limit=NUMPY_FIRST_CALL_EQUATIONS):
    """The number of equations a run of `program` on numpy evaluates, counting a loop's body once
    per iteration (a sub-program of a jit call or cond once); None when it exceeds `limit` or a
    loop's trip count is unknown."""
    total = 0
    for eqn in program.eqns:
        total += 1
        declared = eqn.primitive.cost_programs
        subs = declared(**eqn.params) if declared is not None else \
            [(p, 1, 0) for p in _programs(eqn.params.values())]
        for sub, times, _ in subs:
            if times is None:
                return None
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
