"""FLOPs and bytes of a program: the sum of its equations' costs, each one its primitive's
declared cost rule (call primitives: the cost of the program they call). Cost rules of
primitives that hold sub-programs (control flow, jit) use it; transforms/cost_model.py turns
these counts into seconds."""
import numpy as np

from ..core.ir import ClosedProgram
from ..core.primitive import Cost
from ..core.staging import make_jaxpr


def equation_cost(eqn) -> Cost:
    avals = [a.aval for a in eqn.inputs]
    fun = eqn.params.get("fun")
    if callable(fun) and eqn.primitive.name in ("custom_jvp_call", "custom_vjp_call",
                                                "checkpoint"):
        return program_cost(make_jaxpr(lambda *a: fun(list(a)))(*[
            np.zeros(a.shape, a.dtype) for a in avals]))
    sub = eqn.params.get("program")
    if isinstance(sub, ClosedProgram):
        return program_cost(sub)
    return eqn.primitive.estimate_cost(*avals, **eqn.params)


def program_cost(closed) -> Cost:
    total = Cost(0.0, 0.0)
    for eqn in closed.eqns:
        total = total + equation_cost(eqn)
    return total
