"""The JVP interpreter: push a tangent through the program, J·v, one primitive's JVP rule at a
time (the public functrans.jvp is in forward.py)."""
from .. import tree_util
from ..core.errors import FunctransError
from ..core.primitive import Zero
from ..core.trace import Trace, Tracer, get_aval, new_main


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
            return primitive.as_list(primitive.bind(*primals, **params))
        rule = primitive.jvp
        if rule is None:
            raise FunctransError(
                primitive.not_differentiable or
                f"Differentiation rule for '{primitive.name}' is not implemented. Wrap the "
                "computation in functrans.custom_jvp to supply one, or apply stop_gradient to "
                "its inputs if its derivative is not needed.")
        primal_out, tangent_out = rule(primals, tangents, **params)
        primal_out, tangent_out = primitive.as_list(primal_out), primitive.as_list(tangent_out)
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


def _split_aux(out, name):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{name} with has_aux=True requires the function to return a pair "
                        f"(output, aux); got {type(out).__name__}")
    return out[0], out[1]


def flat_fun_of(fun, in_tree, out_tree_box, aux_box=None, name="vjp"):
    """fun of pytrees as a function of flat lists: its output tree goes into out_tree_box and,
    with aux_box given (has_aux), its auxiliary output into aux_box."""
    def flat_fun(ins):
        out = fun(*tree_util.tree_unflatten(in_tree, ins))
        if aux_box is not None:
            out, aux = _split_aux(out, name)
            aux_box.append(aux)
        leaves, tree = tree_util.tree_flatten(out)
        out_tree_box.append(tree)
        return leaves
    return flat_fun
