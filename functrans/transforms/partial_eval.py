"""Partial evaluation of a program: split it into what can run now and what must wait.

Given which inputs are known, an equation is known iff all its inputs are; known equations go to
the known program, the rest to the unknown program. Known values that unknown equations use are
residuals: outputs of the known program and leading inputs of the unknown one. Call primitives
(jit, control flow) use this to split their JVP into a primal part and a linear tangent part, so
that linearize stages only linear work.

Known equations computed from constants alone (a broadcast zero, an iota) are copied into the
unknown program where it uses them, rather than passing their possibly large results as
residuals.
"""
from dataclasses import dataclass

from ..core.ir import ClosedProgram, Eqn, Literal, Program, Var


@dataclass
class PartialEvalResult:
    known: ClosedProgram        # known inputs -> (known outputs..., residuals...)
    unknown: ClosedProgram      # (residuals..., unknown inputs...) -> unknown outputs
    num_residuals: int
    out_known: list             # per original output: computed by the known program?


def partial_eval_program(closed: ClosedProgram, known_inputs, instantiate=False):
    """Split `closed` by which of its inputs are known. `instantiate` (a bool or one per output)
    forces outputs to come from the unknown program even when they are known (their values then
    travel as residuals)."""
    program = closed.program
    n_out = len(program.outvars)
    force = [instantiate] * n_out if isinstance(instantiate, bool) else list(instantiate)
    known_vars = set(program.constvars) | {v for v, k in zip(program.invars, known_inputs) if k}
    from_consts = set(program.constvars)     # known without any input: replicable
    producer = {}
    known_eqns, unknown_eqns = [], []
    for eqn in program.eqns:
        if all(isinstance(a, Literal) or a in known_vars for a in eqn.inputs):
            known_eqns.append(eqn)
            known_vars.update(eqn.outputs)
            if all(isinstance(a, Literal) or a in from_consts for a in eqn.inputs):
                from_consts.update(eqn.outputs)
                for v in eqn.outputs:
                    producer[v] = eqn
        else:
            unknown_eqns.append(eqn)

    def is_known(atom):
        return isinstance(atom, Literal) or atom in known_vars

    out_known = [is_known(v) and not f for v, f in zip(program.outvars, force)]
    residuals, seen, copied = [], set(), {}

    def copy_const_eqn(v):
        eqn = producer[v]
        if id(eqn) not in copied:
            for a in eqn.inputs:
                if isinstance(a, Var) and a in producer:
                    copy_const_eqn(a)
            copied[id(eqn)] = eqn

    def need(atom):
        if isinstance(atom, Var) and atom in known_vars and atom not in seen \
                and atom not in program.constvars:
            seen.add(atom)
            if atom in producer:
                copy_const_eqn(atom)
            else:
                residuals.append(atom)

    for eqn in unknown_eqns:
        for a in eqn.inputs:
            need(a)
    for v, k in zip(program.outvars, out_known):
        if not k:
            need(v)

    known_invars = tuple(v for v, k in zip(program.invars, known_inputs) if k)
    known_outs = tuple(v for v, k in zip(program.outvars, out_known) if k) + tuple(residuals)
    known_prog = _closed(program, closed.consts, known_invars, known_eqns, known_outs)

    # The unknown program reads residuals through fresh variables of the same avals.
    res_vars = [Var(r.aval) for r in residuals]
    rename = dict(zip(residuals, res_vars))
    unknown_invars = tuple(res_vars) + tuple(v for v, k in zip(program.invars, known_inputs)
                                             if not k)
    order = {id(e): i for i, e in enumerate(program.eqns)}
    replicated = sorted(copied.values(), key=lambda e: order[id(e)])
    unknown_eqns = [_rename_eqn(e, rename) for e in replicated + unknown_eqns]
    unknown_outs = tuple(rename.get(v, v) if isinstance(v, Var) else v
                         for v, k in zip(program.outvars, out_known) if not k)
    unknown_prog = _closed(program, closed.consts, unknown_invars, unknown_eqns, unknown_outs)
    return PartialEvalResult(known_prog, unknown_prog, len(residuals), out_known)


def _rename_eqn(eqn, rename):
    if not any(isinstance(a, Var) and a in rename for a in eqn.inputs):
        return eqn
    return Eqn(eqn.primitive, tuple(rename.get(a, a) if isinstance(a, Var) else a
                                    for a in eqn.inputs), eqn.outputs, eqn.params)


def _closed(program, consts, invars, eqns, outvars):
    """A ClosedProgram keeping only the constvars that `eqns`/`outvars` use."""
    used = {a for e in eqns for a in e.inputs if isinstance(a, Var)}
    used |= {v for v in outvars if isinstance(v, Var)}
    pairs = [(v, c) for v, c in zip(program.constvars, consts) if v in used]
    return ClosedProgram(Program(tuple(v for v, _ in pairs), tuple(invars), tuple(eqns),
                                 tuple(outvars)), tuple(c for _, c in pairs))
