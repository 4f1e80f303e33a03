"""jacobian_sparsity and hessian_sparsity: the Jacobian's (Hessian's) sparsity pattern of a
function, read off its program by the sparsity interpreter (transforms/sparsity.py), cached per
signature. sparse_jacobian and chain share the signature and tracing helpers here."""
import hashlib

import numpy as np

from .. import tree_util
from .tracing import make_jaxpr
from ..core.trace import get_aval
from ..primitives._sparsity_rules import Deps, as_csr, scipy_sparse, stack
from .ad_util import check_inexact_inputs
from .reverse import grad
from .sparsity import propagate


def _argnums(argnums, nargs, name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{name}: argnums {argnums} out of range for {nargs} arguments")
    return tuple(i % nargs for i in nums)


def _value_key(x):
    """A hashable stand-in for a non-differentiated argument's value (patterns may depend on it,
    e.g. an index array)."""
    if isinstance(x, (int, float, bool, complex, str, type(None))):
        return (type(x).__name__, x)
    a = np.asarray(x)
    return (a.shape, a.dtype.str, hashlib.blake2b(np.ascontiguousarray(a).tobytes(),
                                                  digest_size=16).hexdigest())


def signature_key(args, nums):
    leaves, tree = tree_util.tree_flatten(args)
    return (tree, tuple(nums), tuple(
        (get_aval(x).shape, get_aval(x).dtype) for x in tree_util.tree_leaves(
            [args[i] for i in nums])),
        tuple(_value_key(x) for i, a in enumerate(args) if i not in nums
              for x in tree_util.tree_leaves(a)))


def flat_program(fun, args, nums, name):
    """Trace fun with the differentiated arguments as inputs (the others closed over, as jacfwd
    does): (closed program, input leaves, output tree)."""
    dargs = [args[i] for i in nums]
    in_leaves, in_tree = tree_util.tree_flatten(dargs)
    check_inexact_inputs(name, in_leaves, allow_int=False)
    out_tree = []

    def flat(*leaves):
        full = list(args)
        for i, d in zip(nums, tree_util.tree_unflatten(in_tree, list(leaves))):
            full[i] = d
        out = fun(*full)
        out_leaves, tree = tree_util.tree_flatten(out)
        out_tree.append(tree)
        return out_leaves
    closed = make_jaxpr(flat)(*in_leaves)
    return closed, in_leaves, out_tree[0]


def input_deps(in_leaves):
    """Deps of the differentiated inputs: consecutive rows of the N x N identity."""
    sp = scipy_sparse()
    avals = [get_aval(x) for x in in_leaves]
    n = sum(a.size for a in avals)
    out, offset = [], 0
    for a in avals:
        rows = np.arange(a.size)
        p = sp.csr_array((np.ones(a.size, bool), (rows, rows + offset)), shape=(a.size, n))
        out.append(Deps(a.strip_weak() if hasattr(a, "strip_weak") else a, as_csr(p)))
        offset += a.size
    return out


def pattern_of(closed, in_leaves):
    outs = propagate(closed, input_deps(in_leaves))
    n = sum(get_aval(x).size for x in in_leaves)
    return stack([d.pattern for d in outs], n)


def jacobian_sparsity(fun, argnums=0):
    """jacobian_sparsity(f, argnums)(*args): the sparsity pattern of f's Jacobian at args'
    shapes, as a boolean scipy.sparse.csr_array of shape (output size, input size), the outputs'
    and the differentiated inputs' leaves flattened row-major and concatenated in pytree order.
    The pattern is found from f's program, is valid for every input value (a superset of the
    nonzeros at any point), and is cached per signature."""
    cache = {}

    def sparsity_fun(*args):
        nums = _argnums(argnums, len(args), "jacobian_sparsity")
        key = signature_key(args, nums)
        if key not in cache:
            closed, in_leaves, _ = flat_program(fun, args, nums, "jacobian_sparsity")
            cache[key] = pattern_of(closed, in_leaves)
        return cache[key].copy()

    sparsity_fun.__name__ = f"jacobian_sparsity({getattr(fun, '__name__', 'fun')})"
    return sparsity_fun


def hessian_sparsity(fun, argnums=0):
    """hessian_sparsity(f, argnums)(*args): the pattern of f's Hessian (f scalar-valued), found
    as the Jacobian sparsity of f's gradient program (symmetrized)."""

    def sparsity_fun(*args):
        nums = _argnums(argnums, len(args), "hessian_sparsity")
        p = jacobian_sparsity(grad(fun, argnums=nums), argnums=nums)(*args)
        return as_csr(p + p.T)

    sparsity_fun.__name__ = f"hessian_sparsity({getattr(fun, '__name__', 'fun')})"
    return sparsity_fun
