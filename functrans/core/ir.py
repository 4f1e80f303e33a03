"""The IR: a small, typed, immutable program of equations, printed like a jaxpr.

    { lambda a:f32[4] ; b:f32[3,4]. let c:f32[3] = dot_general[...] b a; d:f32[3] = tanh c in (d,) }

Vars are identified by object identity and carry their aval; names are assigned only when
printing. Constants that are not scalars are hoisted to constvars (their values live beside the
program in a ClosedProgram); scalars appear inline as Literals. Sub-programs (loop bodies, branches,
called functions) are ClosedPrograms held in an equation's params.
"""
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .aval import ShapedArray, aval_of_value


class Var:
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Var({self.aval.str_short()})"


class Literal:
    """A scalar constant written inline in the program."""
    __slots__ = ("value", "aval")

    def __init__(self, value, aval: ShapedArray | None = None):
        self.aval = aval_of_value(value) if aval is None else aval
        self.value = np.asarray(value, dtype=self.aval.dtype)

    def __repr__(self):
        return f"Literal({self.value!r})"


Atom = Var | Literal


@dataclass(frozen=True, eq=False)
class Eqn:
    primitive: Any            # a functrans.core.primitive.Primitive
    inputs: tuple             # of Atom
    outputs: tuple            # of Var
    params: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Program:
    constvars: tuple
    invars: tuple
    eqns: tuple
    outvars: tuple            # of Atom

    @property
    def in_avals(self):
        return [v.aval for v in self.invars]

    @property
    def out_avals(self):
        return [v.aval for v in self.outvars]

    def __str__(self):
        return pretty_print(self)

    __repr__ = __str__


@dataclass(frozen=True, eq=False)
class ClosedProgram:
    """A Program with the values of its constvars: what make_jaxpr returns."""
    program: Program
    consts: tuple

    @property
    def in_avals(self):
        return self.program.in_avals

    @property
    def out_avals(self):
        return self.program.out_avals

    @property
    def eqns(self):
        return self.program.eqns

    def __str__(self):
        return pretty_print(self.program)

    __repr__ = __str__


# --- printing -----------------------------------------------------------------------------------

def _var_names():
    """a, b, ..., z, ba, bb, ...: short names in order of first appearance, as jaxprs use."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        k, s = n, ""
        while True:
            s = letters[k % 26] + s
            k //= 26
            if k == 0:
                break
        n += 1
        yield s


class _Namer:
    def __init__(self):
        self.names = {}
        self.gen = _var_names()

    def __call__(self, v) -> str:
        if isinstance(v, Literal):
            return _literal_str(v)
        if v not in self.names:
            self.names[v] = next(self.gen)
        return self.names[v]

    def binder(self, v) -> str:
        return f"{self(v)}:{v.aval.str_short()}"


def _literal_str(lit: Literal) -> str:
    v = lit.value
    text = repr(v.item()) if v.dtype.kind != "b" else str(bool(v))
    return f"{text}:{lit.aval.str_short()}"


def _param_str(value, namer, indent) -> str:
    if isinstance(value, ClosedProgram):
        value = value.program
    if isinstance(value, Program):
        return _print(value, _Namer(), indent + 2)
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, (tuple, list)) and any(isinstance(x, (Program, ClosedProgram)) for x in value):
        return "(" + ", ".join(_param_str(x, namer, indent) for x in value) + ")"
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)


def _print(prog: Program, namer: _Namer, indent: int = 0) -> str:
    consts = " ".join(namer.binder(v) for v in prog.constvars)
    ins = " ".join(namer.binder(v) for v in prog.invars)
    head = f"{{ lambda {consts}{' ' if consts else ''}; {ins}. let"
    pad = " " * (indent + 4)
    lines = [head]
    for eqn in prog.eqns:
        outs = " ".join(namer.binder(v) for v in eqn.outputs)
        params = ""
        if eqn.params:
            params = "[" + " ".join(f"{k}={_param_str(v, namer, indent + 4)}"
                                    for k, v in eqn.params.items()) + "]"
        args = " ".join(namer(a) for a in eqn.inputs)
        binders = f"{outs} = " if eqn.outputs else ""     # effects (debug callbacks) bind none
        lines.append(f"{pad}{binders}{eqn.primitive.name}{params} {args}".rstrip())
    outs = ", ".join(namer(v) for v in prog.outvars)
    lines.append(" " * (indent + 2) + f"in ({outs}{',' if len(prog.outvars) == 1 else ''}) }}")
    return "\n".join(lines)


def pretty_print(prog: Program) -> str:
    return _print(prog, _Namer())


def one_line(prog: Program) -> str:
    """The program on a single line, as in docs and error messages."""
    text = pretty_print(prog)
    lines = [ln.strip() for ln in text.splitlines()]
    return lines[0] + " " + "; ".join(lines[1:-1]) + (" " if len(lines) > 2 else "") + lines[-1]
