"""FLOPs and bytes of a program: the sum of its equations' costs, each one its primitive's
declared cost rule (call primitives: the cost of the program they call). Cost rules of
primitives that hold sub-programs (control flow, jit) use it; transforms/cost_model.py turns
these counts into seconds."""
from ..core.ir import ClosedProgram
from ..core.primitive import Cost


def equation_cost(eqn) -> Cost:
    avals = [a.aval for a in eqn.inputs]
    sub = eqn.params.get("program")
    if isinstance(sub, ClosedProgram):
        return program_cost(sub)
    return eqn.primitive.estimate_cost(*avals, **eqn.params)


def program_cost(closed) -> Cost:
    total = Cost(0.0, 0.0)
    for eqn in closed.eqns:
        total = total + equation_cost(eqn)
    return total
