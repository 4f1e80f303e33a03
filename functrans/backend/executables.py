"""Compiled executables of programs, one per ClosedProgram (and donation pattern), kept as long
as the program lives: what the jit call primitive and compiled loops' bodies run."""
import threading
import weakref

from ..core.ir import ClosedProgram
from . import compile_program, install_lowerings

_executables = weakref.WeakKeyDictionary()      # ClosedProgram -> Executable
_compile_lock = threading.RLock()


def executable_for(program: ClosedProgram, donate=()):
    key = tuple(donate)
    per = _executables.get(program)
    if per is None or key not in per:
        with _compile_lock:
            per = _executables.setdefault(program, {})
            if key not in per:
                install_lowerings()
                per[key] = compile_program(program, donate=donate,
                                           name=_program_name(program))
    return per[key]


def _program_name(program):
    return f"program_{id(program):x}"


def clear():
    _executables.clear()
