"""Compiled programs in memory: one Executable per ClosedProgram (and set of donated inputs),
compiled once under a lock. The jit call primitive and the loops of control flow run them."""
import threading
import weakref

_executables = weakref.WeakKeyDictionary()      # ClosedProgram -> {donate: Executable}
_compile_lock = threading.RLock()


def executable_for(program, donate=()):
    key = tuple(donate)
    per = _executables.get(program)
    if per is None or key not in per:
        with _compile_lock:
            per = _executables.setdefault(program, {})
            if key not in per:
                from .codegen import compile_program     # loads Numba: on first compile only
                per[key] = compile_program(program, donate=donate,
                                           name=_program_name(program))
    return per[key]


def _program_name(program):
    return f"program_{id(program):x}"


def clear():
    _executables.clear()
