"""What reverse mode keeps: the residuals (constants of the linear program) at given arguments."""
from dataclasses import dataclass

from .. import tree_util
from ..core.trace import get_aval
from .linearize import linearize


@dataclass
class Residual:
    aval: object
    nbytes: int
    source: str       # "argument x[...]" or "an intermediate used by `prim`"

    def __str__(self):
        return f"{self.aval.str_short():20s} {self.nbytes:12d} B  {self.source}"


def saved_residuals(fun, *args):
    """The arrays reverse-mode differentiation of fun at args keeps for its backward pass."""
    _, lin = linearize(fun, *args)
    program = lin.program.program
    users, policy_saved = {}, {}
    for eqn in program.eqns:
        for a in eqn.inputs:
            users.setdefault(a, eqn.primitive.name)
        if eqn.primitive.name == "remat_saved":     # checkpoint(policy=...) kept these
            k = eqn.params["n_x"]
            for a, src in zip(eqn.inputs[k:k + eqn.params["n_saved"]], eqn.params["sources"]):
                policy_saved.setdefault(a, src)
    arg_ids = {id(x): i for i, x in enumerate(tree_util.tree_leaves(args))}
    out = []
    for var, value in zip(program.constvars, lin.program.consts):
        aval = get_aval(value)
        nbytes = aval.size * aval.dtype.itemsize
        if id(value) in arg_ids:
            source = f"argument leaf {arg_ids[id(value)]} of {getattr(fun, '__name__', 'fun')}"
        elif var in policy_saved:
            source = f"the output of `{policy_saved[var]}`, saved by a checkpoint policy"
        else:
            source = f"an intermediate used by `{users.get(var, '?')}` in the backward pass"
        out.append(Residual(aval, nbytes, source))
    return out


def print_saved_residuals(fun, *args):
    res = saved_residuals(fun, *args)
    for r in res:
        print(r)
    print(f"total: {sum(r.nbytes for r in res)} bytes in {len(res)} residual(s)")
