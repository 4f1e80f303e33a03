"""Transposition of linear programs: from J·v to Jᵀ·u, one transpose rule per primitive,
walking the equations backwards and accumulating cotangents (symbolic zeros skipped)."""
from ..core.errors import FunctransError
from ..core.ir import Literal
from ..core.primitive import UndefinedPrimal, Zero
from .ad_util import instantiate
from ..primitives.elementwise import add_tangents


def backward_pass(program, consts, cotangents_out):
    """Cotangents of program.invars (the linear inputs) given cotangents of its outputs.

    Equations none of whose inputs depend on the linear inputs are evaluated forward first
    (they compute from constants); all others must have transpose rules."""
    env = dict(zip(program.constvars, consts))
    linear = set(program.invars)
    linear_eqns = []
    for eqn in program.eqns:
        if any(not isinstance(a, Literal) and a in linear for a in eqn.inputs):
            linear.update(eqn.outputs)
            linear_eqns.append(eqn)
        else:
            outs = eqn.primitive.bind(*[_read(env, a) for a in eqn.inputs], **eqn.params)
            env.update(zip(eqn.outputs, eqn.primitive.as_list(outs)))

    cts = {}

    def add_ct(v, ct):
        if isinstance(v, Literal) or v not in linear or ct is None or type(ct) is Zero:
            return
        cts[v] = add_tangents(cts[v], ct) if v in cts else ct

    for v, ct in zip(program.outvars, cotangents_out):
        add_ct(v, ct)
    for eqn in reversed(linear_eqns):
        cts_out = [cts.pop(v, None) for v in eqn.outputs]
        if all(ct is None for ct in cts_out):
            continue
        prim = eqn.primitive
        if prim.transpose is None:
            raise FunctransError(
                f"Transpose rule (reverse-mode differentiation) for '{prim.name}' is not "
                "implemented: it appeared in a linear program but is not linear in its inputs, "
                "or has no transpose rule. Use forward mode (jvp/jacfwd) for this function.")
        args = [UndefinedPrimal(a.aval) if not isinstance(a, Literal) and a in linear
                else _read(env, a) for a in eqn.inputs]
        if prim.multiple_results:
            ct_arg = [Zero(v.aval) if ct is None else ct for v, ct in zip(eqn.outputs, cts_out)]
        else:
            ct_arg = cts_out[0]
        cts_in = prim.transpose(ct_arg, *args, **eqn.params)
        for a, ct in zip(eqn.inputs, cts_in):
            add_ct(a, ct)
    return [cts.get(v, Zero(v.aval)) for v in program.invars]


def _read(env, atom):
    return atom.value if isinstance(atom, Literal) else env[atom]


def transpose_program(closed, cotangents_out):
    """Jᵀ·u for the linear ClosedProgram `closed` (zeros materialized in the result)."""
    cts = backward_pass(closed.program, closed.consts, cotangents_out)
    return [instantiate(ct) for ct in cts]
