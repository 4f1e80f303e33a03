"""functrans.jacobian and functrans.hessian: one entry point over every way to build a Jacobian:
forward or reverse mode chosen by the cost model (mode="auto"), a coloured sparse Jacobian
(sparsity=), or the cheapest bracketing of the chain of Jacobians (mode="chain")."""
import time

import numpy as np

from .. import tree_util
from ..core.trace import Tracer, get_aval, is_eager
from .chain import chain_jacobian
from .cost_model import choose_mode, close_call, settle_by_measurement
from .jacobians import hessian as dense_hessian
from .jacobians import jacfwd, jacrev
from .jit import jit as jit_
from .sparse_jacobian import sparse_hessian, sparse_jacobian


def hessian(fun, argnums=0, has_aux=False, holomorphic=False, sparsity=None):
    """Forward-over-reverse: jacfwd(jacrev(fun)). With sparsity="auto" (or a pattern): a
    scipy.sparse.csr_array from star-coloured Hessian-vector products (sparse_jacobian.py)."""
    if sparsity is not None:
        return sparse_hessian(fun, argnums, has_aux, sparsity=sparsity)
    return dense_hessian(fun, argnums, has_aux, holomorphic)


def _signature(args):
    leaves, tree = tree_util.tree_flatten(args)
    avals = tuple((get_aval(x).shape, get_aval(x).dtype, get_aval(x).weak_type) for x in leaves)
    return tree, avals


def jacobian(fun, argnums=0, has_aux=False, mode="auto", memory_budget=None, sparsity=None,
             measure_ties=True):
    """The Jacobian of fun by forward mode ("fwd"), reverse mode ("rev"), or whichever the cost
    model says is faster ("auto"). An auto Jacobian decides once per signature (tree structure,
    shapes, dtypes, and whether it runs eagerly or is being traced by jit) and keeps the
    decision as `jac_fun.last_decision`; eager calls also record their measured time there
    (`last_decision.measured[mode]`, and `.ratio(mode)` of estimate to measurement).
    With measure_ties=True, when the two estimates are within the model's error of each other
    (cost_model.MEASURE_BAND) and the Jacobian is cheap (cost_model.MEASURE_MAX), the decision
    times both modes once (compiled, when jit traces it) and takes the faster
    (`last_decision.settled_by == "measured"`): fun runs a dozen more times then, at the first
    call of the signature."""
    if sparsity is not None or mode == "chain":
        # sparsity="auto" or a pattern: a coloured sparse Jacobian (a scipy.sparse.csr_array);
        # mode="chain": the cheapest bracketing of the chain of Jacobians (sparse_jacobian.py,
        # chain.py)
        return _sparse_or_chain(fun, argnums, has_aux, mode, sparsity)
    if mode not in ("auto", "fwd", "rev"):
        raise ValueError(f"jacobian: mode must be 'auto', 'fwd' or 'rev'; got {mode!r}")
    decisions = {}

    def jac_fun(*args):
        chosen = mode
        staged = not is_eager()
        if mode == "auto":
            key = (_signature(args), staged)
            decision = decisions.get(key)
            if decision is None:
                nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

                def of_diff(*d):
                    full = list(args)
                    for i, a in zip(nums, d):
                        full[i] = a
                    out = fun(*full)
                    return out[0] if has_aux else out
                decision = choose_mode(of_diff, *[args[i] for i in nums], jit=staged,
                                       memory_budget=memory_budget)
                if measure_ties and close_call(decision):
                    _time_both(decision, fun, argnums, has_aux, args, staged)
                decisions[key] = decision
            jac_fun.last_decision = decision
            chosen = decision.mode
        run = (jacfwd if chosen == "fwd" else jacrev)(fun, argnums, has_aux)
        if mode != "auto" or staged:
            return run(*args)
        t0 = time.perf_counter()
        out = run(*args)
        decision.measured[chosen] = time.perf_counter() - t0
        return out

    jac_fun.last_decision = None
    jac_fun.decisions = decisions
    jac_fun.__name__ = f"jacobian({getattr(fun, '__name__', 'fun')})"
    return jac_fun


def _stand_in(x):
    """A concrete value for a traced argument, to time the Jacobians on: ones for floats (no
    log(0) or 0/0 on the way), zeros otherwise (valid indices)."""
    if isinstance(x, Tracer):
        a = get_aval(x)
        return np.ones(a.shape, a.dtype) if a.dtype.kind in "fc" else np.zeros(a.shape, a.dtype)
    return x


def _time_both(decision, fun, argnums, has_aux, args, staged):
    """Settle a close decision by timing jacfwd and jacrev (jitted when jit traces the
    Jacobian) on the arguments (stand-ins for traced ones)."""
    runs = {"fwd": jacfwd(fun, argnums, has_aux), "rev": jacrev(fun, argnums, has_aux)}
    if staged:
        runs = {k: jit_(f) for k, f in runs.items()}
    settle_by_measurement(decision, runs, tree_util.tree_map(_stand_in, tuple(args)))


def _sparse_or_chain(fun, argnums, has_aux, mode, sparsity):
    """What functrans.jacobian calls when given sparsity= or mode="chain"."""
    if mode == "chain":
        if sparsity is not None:
            raise ValueError("jacobian: mode='chain' builds a dense Jacobian from the program's "
                             "cut points; it does not take sparsity= (use mode='fwd', 'rev' or "
                             "'auto' with sparsity=)")
        return chain_jacobian(fun, argnums, has_aux)
    return sparse_jacobian(fun, argnums, has_aux, sparsity=sparsity, mode=mode)
