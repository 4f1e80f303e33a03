"""linear_transpose: the transpose of a function that is linear in its arguments.

`linear_transpose(f, *primals)` traces f at the shapes and dtypes of primals (their values are
not used) and returns ct ↦ Jᵀ·ct, with J the matrix of f. It is the same backward pass reverse
mode runs on a linearized program, here on f's own program: every equation that depends on f's
inputs must be linear in them (have a transpose rule); equations on constants alone run forward.
"""
import numpy as np

from .. import tree_util
from ..core import dtypes
from ..core.errors import FunctransError
from ..core.staging import abstractify, stage
from ..core.trace import get_aval
from .ad_util import instantiate
from .transpose import backward_pass


def linear_transpose(fun, *primals, reduce_axes=()):
    """A function ct -> tuple of cotangents, one per primal, computing Jᵀ·ct for the linear fun.

    primals give shapes and dtypes only (arrays or ShapeDtypeStruct). Inputs and outputs must
    be float or complex; the cotangent must have fun's output structure, shapes and dtypes."""
    if reduce_axes:
        raise NotImplementedError("linear_transpose: reduce_axes (named-axis reductions) is not "
                                  "supported; call it without reduce_axes.")
    name = getattr(fun, "__name__", "fun")
    flat, in_tree = tree_util.tree_flatten(primals)
    in_avals = [abstractify(p) for p in flat]
    for a in in_avals:
        if not dtypes.is_inexact(a.dtype):
            raise TypeError(f"linear_transpose of {name}: every input must be float or complex "
                            f"(a linear function of integers has no transpose); got {a.str_short()}")
    out_tree_box = []

    def flat_fun(ins):
        leaves, tree = tree_util.tree_flatten(fun(*tree_util.tree_unflatten(in_tree, ins)))
        out_tree_box.append(tree)
        return leaves

    closed = stage(flat_fun, in_avals)
    out_tree = out_tree_box[0]
    out_avals = closed.out_avals
    for a in out_avals:
        if not dtypes.is_inexact(a.dtype):
            raise TypeError(f"linear_transpose of {name}: every output must be float or complex; "
                            f"got {a.str_short()}")

    def transposed(out_cotangent):
        cts, tree = tree_util.tree_flatten(out_cotangent)
        if tree != out_tree:
            raise TypeError(f"linear_transpose of {name}: the cotangent has structure {tree}, "
                            f"but {name} returns {out_tree}")
        for ct, a in zip(cts, out_avals):
            got = get_aval(ct)
            if got.shape != a.shape or (got.dtype != a.dtype and not got.weak_type):
                raise TypeError(f"linear_transpose of {name}: cotangent of type "
                                f"{got.str_short()} for an output of type {a.str_short()}")
        cts = [np.asarray(ct, a.dtype) if not hasattr(ct, "aval") and get_aval(ct).dtype != a.dtype
               else ct for ct, a in zip(cts, out_avals)]
        try:
            outs = backward_pass(closed.program, closed.consts, cts)
        except FunctransError as e:
            raise TypeError(f"linear_transpose of {name}: {name} is not linear in its inputs "
                            f"(or uses a primitive without a transpose rule): {e}") from None
        return tree_util.tree_unflatten(in_tree, [instantiate(c) for c in outs])

    transposed.__name__ = f"transpose({name})"
    return transposed
