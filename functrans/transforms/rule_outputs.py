"""Checks on what user-written derivative rules return (custom_jvp rules, custom_vjp fwd/bwd).

A rule is the user's Python code, so its outputs are checked against the types the transform
needs before they are used: a cotangent of the wrong shape would otherwise be broadcast or
zipped with the wrong argument and give a silently wrong derivative. Every error names the
function, the rule, the argument (by its pytree path) and both types.
"""
from .. import tree_util
from ..core import dtypes
from ..core.primitive import Zero, tangent_aval
from ..core.trace import get_aval
from ..primitives.elementwise import convert_element_type


def _is_none(x):
    return x is None


def _leaves_keeping_none(tree):
    """Leaves and structure of tree, with None counted as a leaf (a zero in JAX's rules)."""
    return tree_util.tree_flatten(tree, is_leaf=_is_none)


def _cast_weak(value, want, describe):
    """A rule's output with the dtype its primal's tangent space has. Weakly typed values (Python
    scalars, values computed only from them) take that dtype, as JAX lets them; a strongly
    typed value of another dtype is an error, since it would change the program's dtypes."""
    aval = get_aval(value)
    if aval.dtype == want.dtype:
        return value
    if aval.weak_type and aval.dtype.kind in "biufc" and want.dtype.kind in "fc":
        return convert_element_type(value, want.dtype)
    raise TypeError(f"{describe()} has dtype {aval.dtype.name}, but the value it belongs to "
                    f"needs {want.dtype.name} ({want.str_short()}); convert it with "
                    f".astype({want.dtype.name})")


def checked_leaf(value, primal_aval, describe):
    """One tangent or cotangent leaf checked against its primal's aval: None becomes a
    symbolic zero, integer primals take none (float0), shapes must match exactly."""
    want = tangent_aval(primal_aval)
    if value is None or type(value) is Zero:
        return Zero(want)
    aval = get_aval(value)
    if want.dtype == dtypes.float0:
        # Integer and boolean values have no tangent space: whatever zeros the rule gave.
        if aval.shape != primal_aval.shape and aval.shape != ():
            raise ValueError(f"{describe()} has shape {aval.shape}, but the integer value it "
                             f"belongs to has shape {primal_aval.shape}")
        return Zero(want)
    if aval.shape != want.shape:
        raise ValueError(f"{describe()} has shape {aval.shape} ({aval.str_short()}), but the "
                         f"value it belongs to is {primal_aval.str_short()}; shapes must be "
                         "equal (no broadcasting)")
    if aval.dtype.kind not in "biufc":
        raise TypeError(f"{describe()} is a {type(value).__name__}, not an array")
    return _cast_weak(value, want, describe)


def match_tree(values, primal_tree, describe_whole):
    """values (a pytree that may use None for a zero subtree or leaf) flattened against the
    structure of primal_tree; returns one entry per primal leaf (None where zero)."""
    if values is None:
        return [None] * primal_tree.num_leaves
    try:
        return primal_tree.flatten_up_to(values)
    except (ValueError, TypeError) as e:
        # flatten_up_to does not accept None leaves: retry with None as a leaf.
        leaves, tree = _leaves_keeping_none(values)
        p_leaves_tree = _leaves_keeping_none(tree_util.tree_unflatten(
            primal_tree, [0] * primal_tree.num_leaves))[1]
        if tree == p_leaves_tree:
            return leaves
        raise TypeError(f"{describe_whole} has structure {tree_util.tree_structure(values)}, but "
                        f"it must match {primal_tree} ({e})") from None


def bwd_cotangents(fun_name, cts_in, arg_trees, arg_avals, arg_names=None):
    """A custom_vjp bwd's result (one cotangent pytree per differentiable argument, None for a
    zero) as one checked cotangent (or Zero) per flat input leaf."""
    if not isinstance(cts_in, (tuple, list)) or len(cts_in) != len(arg_trees):
        got = (f"a {type(cts_in).__name__} of length {len(cts_in)}"
               if isinstance(cts_in, (tuple, list)) else f"a {type(cts_in).__name__}")
        raise TypeError(f"custom_vjp bwd of {fun_name} must return a tuple with one cotangent "
                        f"per differentiable argument ({len(arg_trees)}, None for a zero); got "
                        f"{got}")
    out, avals = [], iter(arg_avals)
    for i, (ct, tree) in enumerate(zip(cts_in, arg_trees)):
        arg = arg_names[i] if arg_names else f"argument {i}"
        leaves = match_tree(ct, tree, f"custom_vjp bwd of {fun_name}: the cotangent for {arg}")
        paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(
            tree_util.tree_unflatten(tree, [0] * tree.num_leaves))[0]]
        for leaf, path in zip(leaves, paths):
            primal = next(avals)
            out.append(checked_leaf(leaf, primal, lambda: (
                f"custom_vjp bwd of {fun_name}: the cotangent for {arg}{path}")))
    return out


def jvp_tangents(fun_name, primal_outs, out_tree, t_out):
    """A custom_jvp rule's tangent output checked against its primal output: same structure,
    and per leaf the primal's shape and tangent dtype. Returns one tangent (or Zero) per leaf."""
    leaves = match_tree(t_out, out_tree, f"custom_jvp rule of {fun_name}: the tangent output")
    paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(
        tree_util.tree_unflatten(out_tree, [0] * out_tree.num_leaves))[0]]
    return [checked_leaf(t, get_aval(p), lambda path=path: (
        f"custom_jvp rule of {fun_name}: the tangent output{path or ''}"))
        for t, p, path in zip(leaves, primal_outs, paths)]


def check_primal_outputs(kind, fun_name, want_tree, want_avals, got_tree, got_leaves):
    """The primal outputs a rule returns (custom_jvp rule, custom_vjp fwd) must have the
    function's own output structure, shapes and dtypes."""
    if got_tree != want_tree:
        raise TypeError(f"{kind} of {fun_name} returned primal outputs with structure "
                        f"{got_tree}, but {fun_name} itself returns {want_tree}")
    for i, (w, g) in enumerate(zip(want_avals, got_leaves)):
        g = get_aval(g)
        if g.shape != w.shape or (g.dtype != w.dtype and not g.weak_type):
            raise TypeError(f"{kind} of {fun_name} returned primal output {i} of type "
                            f"{g.str_short()}, but {fun_name} returns {w.str_short()} there")

