"""The type checker: every program a transform produces must pass it (tests run it everywhere)."""
from .ir import ClosedProgram, Literal, Program, Var


class ProgramTypeError(Exception):
    pass


def _same_type(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def check_program(program) -> None:
    """Raise ProgramTypeError unless: every var is defined once before use, every equation's
    output avals equal its primitive's shape rule, and sub-programs in params check too."""
    closed = program if isinstance(program, ClosedProgram) else None
    program = program.program if closed else program
    if closed is not None and len(closed.consts) != len(program.constvars):
        raise ProgramTypeError(f"{len(closed.consts)} const values for "
                               f"{len(program.constvars)} constvars")
    defined = set()

    def define(v, where):
        if not isinstance(v, Var):
            raise ProgramTypeError(f"{where}: binder {v!r} is not a Var")
        if v in defined:
            raise ProgramTypeError(f"{where}: variable {v!r} is defined twice")
        defined.add(v)

    def read(a, where):
        if isinstance(a, Literal):
            if a.aval.shape != ():
                raise ProgramTypeError(f"{where}: literal {a!r} is not a scalar")
            return a.aval
        if a not in defined:
            raise ProgramTypeError(f"{where}: variable {a!r} is used before it is defined")
        return a.aval

    for v in program.constvars:
        define(v, "constvars")
    for v in program.invars:
        define(v, "invars")
    for i, eqn in enumerate(program.eqns):
        where = f"equation {i} ({eqn.primitive.name})"
        in_avals = [read(a, where) for a in eqn.inputs]
        try:
            expected = eqn.primitive.out_avals(*in_avals, **eqn.params)
        except Exception as e:   # the shape rule itself rejects the inputs
            raise ProgramTypeError(f"{where}: shape rule failed: {e}") from e
        if len(expected) != len(eqn.outputs):
            raise ProgramTypeError(f"{where}: {len(eqn.outputs)} outputs, rule gives "
                                   f"{len(expected)}")
        for v, aval in zip(eqn.outputs, expected):
            if not _same_type(v.aval, aval):
                raise ProgramTypeError(f"{where}: output {v.aval.str_short()} but the shape rule "
                                       f"gives {aval.str_short()}")
            define(v, where)
        for p in eqn.params.values():
            for sub in (p if isinstance(p, (tuple, list)) else (p,)):
                if isinstance(sub, (Program, ClosedProgram)):
                    check_program(sub)
    for a in program.outvars:
        read(a, "outvars")
