"""functrans.jvp: forward mode on pytrees, through the replay fast path when it applies
(transforms/replay.py) and the JVP interpreter (transforms/jvp.py) otherwise."""
from .. import tree_util
from ..core.trace import Tracer
from . import replay
from .ad_util import check_tangent, instantiate, strip_tracers
from .jvp import flat_fun_of, jvp_flat


def jvp(fun, primals, tangents, has_aux=False):
    """(fun(*primals), J·tangents): forward-mode derivative along `tangents`.

    primals and tangents are tuples (or lists) of pytrees of the same structure; integer inputs
    take float0 tangents. With has_aux, fun returns (output, aux) and jvp returns
    (output, tangent, aux)."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, one entry per "
                        f"argument of {getattr(fun, '__name__', 'fun')}; got "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    flat_p, tree_p = tree_util.tree_flatten(tuple(primals))
    flat_t, tree_t = tree_util.tree_flatten(tuple(tangents))
    if tree_p != tree_t:
        raise ValueError(f"jvp: primal and tangent arguments must have the same tree structure;"
                         f" got {tree_p} and {tree_t}")
    flat_t = [check_tangent(p, t, "jvp") for p, t in zip(flat_p, flat_t)]
    if replay.applicable(flat_p) and not any(isinstance(t, Tracer) for t in flat_t):
        misses = replay.miss_counter(fun)
        if not replay.skip_after_misses(misses):
            return replay.jvp(fun, tree_p, flat_p, flat_t, has_aux, misses)
    out_tree, aux_box = [], []
    flat_fun = flat_fun_of(fun, tree_p, out_tree, aux_box if has_aux else None, "jvp")
    p_out, t_out, main = jvp_flat(flat_fun, flat_p, flat_t)
    p_out = tree_util.tree_unflatten(out_tree[0], p_out)
    t_out = tree_util.tree_unflatten(out_tree[0], [instantiate(t) for t in t_out])
    if has_aux:
        aux = tree_util.tree_map(lambda x: strip_tracers(x, main), aux_box[0])
        return p_out, t_out, aux
    return p_out, t_out
