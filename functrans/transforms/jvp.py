"""Forward mode: push a tangent through the program, J·v, one primitive's JVP rule at a time."""
from .. import tree_util
from ..core.errors import FunctransError
from ..core.primitive import Zero
from ..core.trace import Trace, Tracer, get_aval, new_main
from .ad_util import check_tangent, instantiate, lower_value


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent", "_aval")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self._aval = None

    @property
    def aval(self):
        # Computed once: shape rules and JVP rules ask for it many times per primitive.
        a = self._aval
        if a is None:
            a = self._aval = get_aval(self.primal)
        return a

    def concrete_value(self):
        p = self.primal
        return p.concrete_value() if isinstance(p, Tracer) else p

    def carries_derivative(self):
        if type(self.tangent) is not Zero and self.aval.dtype.kind in "fc":
            return True
        p = self.primal
        return isinstance(p, Tracer) and p.carries_derivative()

    def _origin_str(self):
        p = self.primal
        return p._origin_str() if isinstance(p, Tracer) else ""


class JVPTrace(Trace):
    __slots__ = ()

    def pure(self, value):
        return JVPTracer(self, value, Zero.like(value))

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(type(t) is Zero for t in tangents):
            # Nothing to differentiate: the outputs are constants of this transform.
            out = primitive.bind(*primals, **params)
            return out if primitive.multiple_results else [out]
        rule = primitive.jvp
        if rule is None:
            raise FunctransError(
                primitive.not_differentiable or
                f"Differentiation rule for '{primitive.name}' is not implemented. Wrap the "
                "computation in functrans.custom_jvp to supply one, or apply stop_gradient to "
                "its inputs if its derivative is not needed.")
        primal_out, tangent_out = rule(primals, tangents, **params)
        if not primitive.multiple_results:
            primal_out, tangent_out = [primal_out], [tangent_out]
        return [p if type(t) is Zero else JVPTracer(self, p, t)
                for p, t in zip(primal_out, tangent_out)]


def jvp_flat(flat_fun, primals, tangents):
    """Run flat_fun on JVP tracers; returns (primal outputs, tangent outputs, main)."""
    with new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = flat_fun(ins)
        primals_out, tangents_out = [], []
        for o in outs:
            o = trace.full_raise(o)
            primals_out.append(o.primal)
            tangents_out.append(o.tangent)
        return primals_out, tangents_out, main


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
    from . import replay
    if replay.applicable(flat_p) and not any(isinstance(t, Tracer) for t in flat_t):
        misses = replay.miss_counter(fun)
        if not replay.skip_after_misses(misses):
            return replay.jvp(fun, tree_p, flat_p, flat_t, has_aux, misses)
    out_tree, aux_box = [], []

    def flat_fun(ins):
        out = fun(*tree_util.tree_unflatten(tree_p, ins))
        if has_aux:
            out, aux = _split_aux(out, "jvp")
            aux_box.append(aux)
        leaves, tree = tree_util.tree_flatten(out)
        out_tree.append(tree)
        return leaves

    p_out, t_out, main = jvp_flat(flat_fun, flat_p, flat_t)
    p_out = tree_util.tree_unflatten(out_tree[0], p_out)
    t_out = tree_util.tree_unflatten(out_tree[0], [instantiate(t) for t in t_out])
    if has_aux:
        aux = tree_util.tree_map(lambda x: lower_value(x, main), aux_box[0])
        return p_out, t_out, aux
    return p_out, t_out


def _split_aux(out, name):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{name} with has_aux=True requires the function to return a pair "
                        f"(output, aux); got {type(out).__name__}")
    return out[0], out[1]
