"""Whole Jacobians: vmap of jvp over a basis of input tangents (jacfwd, one column per input
dimension) or vmap of a vjp over a basis of output cotangents (jacrev, one row per output
dimension). Shapes follow JAX: each entry is shaped (*output_shape, *input_shape)."""
import numpy as np

from .. import tree_util
from ..core.trace import get_aval
from ..primitives import shape as shape_ops
from .ad_util import check_inexact_inputs
from .holomorphic import check_holomorphic_inputs, check_outputs, check_real_inputs
from .forward import jvp
from .reverse import _argnums_tuple, vjp
from .vmap import vmap


def _basis(leaves):
    """Rows of the identity split per leaf: leaf i gets shape (N, *leaf_shape)."""
    avals = [get_aval(x) for x in leaves]
    n = sum(a.size for a in avals)
    out, offset = [], 0
    for a in avals:
        block = np.zeros((n, a.size), a.dtype)
        block[offset:offset + a.size] = np.eye(a.size, dtype=a.dtype)
        out.append(block.reshape((n,) + a.shape))
        offset += a.size
    return out


def _split_rows(batched, leaves):
    """Split an array with leading axis N (= total size of leaves) into one block per leaf."""
    out, offset = [], 0
    for x in leaves:
        a = get_aval(x)
        shape = get_aval(batched).shape
        block = batched if len(leaves) == 1 else shape_ops.slice(
            batched, (offset,) + (0,) * (len(shape) - 1), (offset + a.size,) + shape[1:])
        out.append(shape_ops.reshape(block, a.shape + get_aval(batched).shape[1:]))
        offset += a.size
    return out


def _to_jax_layout(col_major, out_shape, in_shape):
    """(N_in..., *out_shape) from vmap over inputs -> (*out_shape, *in_shape)."""
    k = len(in_shape)
    perm = tuple(range(k, k + len(out_shape))) + tuple(range(k))
    return shape_ops.transpose(col_major, perm) if perm != tuple(range(len(perm))) else col_major


def _diff_args(fun, args, argnums, name, holomorphic=False):
    nums = _argnums_tuple(argnums, len(args), name)
    dargs = tuple(args[i] for i in nums)

    def partial_fun(*d):
        full = list(args)
        for i, a in zip(nums, d):
            full[i] = a
        return fun(*full)

    check_inexact_inputs(name, tree_util.tree_leaves(dargs), allow_int=False)
    avals = [get_aval(x) for x in tree_util.tree_leaves(dargs)]
    if holomorphic:
        check_holomorphic_inputs(name, avals)
    elif name == "jacfwd":
        check_real_inputs(name, avals)
    return partial_fun, dargs


def jacfwd(fun, argnums=0, has_aux=False, holomorphic=False):
    """Jacobian by forward mode: one JVP per input dimension, all at once under vmap.
    Complex inputs need holomorphic=True (then the entries are complex derivatives)."""
    def jac_fun(*args):
        partial_fun, dargs = _diff_args(fun, args, argnums, "jacfwd", holomorphic)
        in_leaves, in_tree = tree_util.tree_flatten(dargs)
        basis = _basis(in_leaves)

        def push(*tangent_leaves):
            res = jvp(partial_fun, dargs, tree_util.tree_unflatten(in_tree, tangent_leaves),
                      has_aux=has_aux)
            return (res[0], res[1], res[2] if has_aux else None)

        # The primal output and aux do not depend on the batched tangents: out_axes None.
        y, jac_cols, aux = vmap(push, out_axes=(None, 0, None))(*basis)
        out_leaves, out_tree = tree_util.tree_flatten(y)
        check_outputs("jacfwd", [get_aval(o) for o in out_leaves], holomorphic, real_required=False)
        col_leaves = tree_util.tree_leaves(jac_cols)
        per_out = []
        for o, cols in zip(out_leaves, col_leaves):
            blocks = _split_rows(cols, in_leaves)     # each (*in_shape, *out_shape)
            blocks = [_to_jax_layout(b, get_aval(o).shape, get_aval(x).shape)
                      for b, x in zip(blocks, in_leaves)]
            per_out.append(_select_argnums(tree_util.tree_unflatten(in_tree, blocks), argnums))
        jac = tree_util.tree_unflatten(out_tree, per_out)
        return (jac, aux) if has_aux else jac

    jac_fun.__name__ = f"jacfwd({getattr(fun, '__name__', 'fun')})"
    return jac_fun


def jacrev(fun, argnums=0, has_aux=False, holomorphic=False):
    """Jacobian by reverse mode: one VJP per output dimension, all at once under vmap.
    Complex outputs need holomorphic=True."""
    def jac_fun(*args):
        partial_fun, dargs = _diff_args(fun, args, argnums, "jacrev", holomorphic)
        res = vjp(partial_fun, *dargs, has_aux=has_aux)
        y, vjp_fn = res[0], res[1]
        out_leaves, out_tree = tree_util.tree_flatten(y)
        check_outputs("jacrev", [get_aval(o) for o in out_leaves], holomorphic, real_required=True)
        in_leaves, in_tree = tree_util.tree_flatten(dargs)
        basis = _basis(out_leaves)
        rows = vmap(lambda *cts: vjp_fn(tree_util.tree_unflatten(out_tree, cts)))(*basis)
        row_leaves = tree_util.tree_leaves(rows)       # per input leaf: (M, *in_shape)
        per_in = [_split_rows(r, out_leaves) for r in row_leaves]   # [in][out] (*out, *in)
        per_out = []
        for j in range(len(out_leaves)):
            blocks = [per_in[i][j] for i in range(len(in_leaves))]
            per_out.append(_select_argnums(tree_util.tree_unflatten(in_tree, blocks), argnums))
        jac = tree_util.tree_unflatten(out_tree, per_out)
        return (jac, res[2]) if has_aux else jac

    jac_fun.__name__ = f"jacrev({getattr(fun, '__name__', 'fun')})"
    return jac_fun


def _select_argnums(per_arg_tuple, argnums):
    return per_arg_tuple[0] if isinstance(argnums, int) else per_arg_tuple


def hessian(fun, argnums=0, has_aux=False, holomorphic=False):
    """Forward-over-reverse: jacfwd(jacrev(fun)), dense (functrans.hessian also takes
    sparsity=; see jacobian_api.py)."""
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)
