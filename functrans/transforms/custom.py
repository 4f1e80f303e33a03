"""User-defined derivative rules (custom_jvp, custom_vjp) and rematerialization (checkpoint).

Each is a primitive whose params hold the user's Python functions over flat argument lists, so
the same object works eagerly, under every transform, and staged in a program:
  custom_jvp_call(*args; fun, jvp)        impl runs fun; its JVP runs the user's rule.
  custom_vjp_call(*args; fun, fwd, bwd)   impl runs fun; its JVP runs fwd and emits a
                                          custom_lin equation, linear in the tangents, whose
                                          transpose runs bwd. So reverse mode (linearize then
                                          transpose) uses fwd/bwd, and forward mode is an error,
                                          as in JAX.
  checkpoint(*args; fun)                  impl runs fun; its JVP emits remat_lin, linear in the
                                          tangents and keeping only fun's inputs as residuals:
                                          its transpose recomputes fun's VJP from them.
"""
import functools

from .. import tree_util
from ..backend.lowering import impl_call, trace_impl
from ..core.errors import ConcretizationTypeError, FunctransError
from ..core.ir import Program
from ..core.primitive import Cost, Primitive
from ..core.staging import ShapeDtypeStruct, abstractify, eval_program, stage
from .tracing import eval_shape
from ..core.trace import Tracer, current_stack_depth, get_aval
from . import sparsity as _sparsity
from .ad_util import instantiate
from ..primitives._batching import bdim_at
from ..primitives._program_cost import program_cost
from .closure import closed_over_tracers
from .forward import jvp
from .reverse import vjp
from .rule_outputs import bwd_cotangents, check_primal_outputs, jvp_tangents
from .vmap import vmap


def _describe(value):
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def _out_avals_of(fun, avals):
    shapes = eval_shape(lambda *a: fun(list(a)), *[ShapeDtypeStruct(a.shape, a.dtype,
                                                                    a.weak_type) for a in avals])
    return [abstractify(s) for s in shapes]


def _expected_out_avals(flat_fun, flat_primals):
    """Output avals of flat_fun at these primals. A function that branches on its primal
    values (allowed in JAX when they are concrete) cannot be traced abstractly: run it on them."""
    try:
        return _out_avals_of(flat_fun, [get_aval(p) for p in flat_primals])
    except ConcretizationTypeError:
        return [get_aval(o) for o in flat_fun(list(flat_primals))]


def _call_shape_rule(*avals, fun, **_):
    return _out_avals_of(fun, avals)


def _call_cost(*avals, **_):
    return Cost(0, 0)   # the user's backward function or a recomputation: opaque, not counted


def _function_cost(*avals, fun, **_):
    """The cost of the function's own program, traced at the operands' avals."""
    return program_cost(stage(lambda ins: fun(list(ins)), list(avals)))


def _batch_call(primitive, fun_params):
    """Batching rule: every batch axis to 0 (broadcasting unbatched args), then vmap the
    user's functions as well."""
    def rule(args, dims, **params):
        size = next(get_aval(a).shape[d] for a, d in zip(args, dims) if d is not None)
        args = [bdim_at(a, d, size) for a, d in zip(args, dims)]
        new = {k: (_vmapped(v) if k in fun_params else v) for k, v in params.items()}
        return primitive.bind(*args, **new), [0] * len(primitive.out_avals(
            *[get_aval(a) for a in args], **new))
    return rule


def _vmapped(flat_fun):
    @functools.wraps(flat_fun)
    def batched(*lists):
        # Symbolic zeros (a bwd's None) cannot leave vmap: they become batched zeros here.
        return vmap(lambda *l: [instantiate(o) for o in flat_fun(*l)])(*lists)
    return batched


def closure_convert(flat_fun, flat_args):
    """Trace flat_fun (a list of arrays -> a list of arrays) at the avals of flat_args. Returns
    (consts, converted): the values it closes over (numpy constants, and values traced by
    enclosing transforms) and an equivalent function of (consts + args) that closes over none,
    so that transforms see every input as an operand."""
    closed = stage(flat_fun, [abstractify(a) for a in flat_args])
    prog = closed.program
    opened = Program((), prog.constvars + prog.invars, prog.eqns, prog.outvars)

    def converted(args):
        return eval_program(opened, (), list(args))
    converted.__name__ = getattr(flat_fun, "__name__", "fun")
    return list(closed.consts), converted


def _refuse_closed_over_tracers(kind, name, flat_fun, flat_args):
    """Custom rules are the user's Python functions: a traced value they close over would
    escape the rule's derivative. Refuse it loudly rather than return a wrong derivative."""
    if current_stack_depth() == 1:
        return      # no transform running: nothing can be traced
    try:
        consts, _ = closure_convert(flat_fun, flat_args)
    except ConcretizationTypeError:
        # fun branches on its primal values, which JAX allows (custom rules run on concrete
        # primals when they are concrete): it cannot be traced abstractly, so look for traced
        # values in its closure cells instead.
        consts = closed_over_tracers(flat_fun, skip=(_FlatArgs,))
    for c in consts:
        if isinstance(c, Tracer):
            origin = c._origin_str()
            raise TypeError(
                f"The {kind} function {name} closes over a traced value {c.aval.str_short()}"
                f"{' (' + origin + ')' if origin else ''}. A function with custom derivative "
                "rules must receive every value that is being transformed as an argument: add "
                "a parameter for it and pass it explicitly.")


class _FlatArgs:
    """A call's arguments split into static ones (nondiff_argnums, static_argnums) and the flat
    array leaves of the others, with the way back to a full argument list."""

    def __init__(self, args, static_argnums):
        n = len(args)
        static = {i % n for i in static_argnums}
        self.args = args
        self.dyn_nums = [i for i in range(n) if i not in static]
        self.static_values = [args[i] for i in sorted(static)]
        self.flat, self.in_tree = tree_util.tree_flatten([args[i] for i in self.dyn_nums])
        self.out_tree = None

    def unflatten(self, flat):
        return tree_util.tree_unflatten(self.in_tree, flat)

    def full(self, flat):
        full = list(self.args)
        for i, a in zip(self.dyn_nums, self.unflatten(flat)):
            full[i] = a
        return full

    def flatten_out(self, out):
        leaves, self.out_tree = tree_util.tree_flatten(out)
        return leaves

    def flat_fun(self, fun, name):
        """fun over the full arguments as a function of the flat leaves (list -> list)."""
        def flat(flat_args):
            return self.flatten_out(fun(*self.full(flat_args)))
        flat.__name__ = name
        return flat


# --- custom_jvp ----------------------------------------------------------------------------------

custom_jvp_call_p = Primitive("custom_jvp_call", impl=lambda *a, fun, jvp: fun(list(a)),
                              shape_rule=_call_shape_rule, multiple_results=True,
                              jac_structure="user-defined (custom_jvp rule)")
custom_jvp_call_p.def_cost(_function_cost)
# Under jit a call of the user's function is inlined: its impl, traced, is a program.
custom_jvp_call_p.def_lowering(trace_impl(custom_jvp_call_p))
# Custom rules differentiate the primal function: its program's pattern is theirs.
custom_jvp_call_p.def_sparsity(lambda ins, outs, *, fun, **params:
                               _sparsity.callable_deps(fun, ins, ins[0].n_inputs))


@custom_jvp_call_p.def_jvp
def _custom_jvp_call_jvp(primals, tangents, *, fun, jvp):
    outs, t_outs = jvp(list(primals), [instantiate(t) for t in tangents])
    return list(outs), list(t_outs)


custom_jvp_call_p.def_batch(_batch_call(custom_jvp_call_p, ("fun", "jvp")))


class custom_jvp:
    """A function with a user-supplied JVP rule: `f.defjvp(rule)` with
    rule(primals, tangents) -> (primal_out, tangent_out), or `f.defjvps(*fns)` with one
    fn(tangent_i, primal_out, *primals) per argument."""

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None

    def defjvp(self, jvp):
        self.jvp = jvp
        return jvp

    def defjvps(self, *tangent_fns):
        def rule(primals, tangents):
            out = self.fun(*primals)
            t_out = None
            for fn, t in zip(tangent_fns, tangents):
                if fn is None:
                    continue
                contribution = fn(t, out, *primals)
                t_out = contribution if t_out is None else tree_util.tree_map(
                    lambda a, b: a + b, t_out, contribution)
            return out, t_out
        self.jvp = rule

    def __call__(self, *args):
        if self.jvp is None:
            raise FunctransError(f"custom_jvp function {self.__name__} has no JVP rule: call "
                                 ".defjvp(rule) or .defjvps(...) before using it")
        call = _FlatArgs(args, self.nondiff_argnums)
        flat_fun = call.flat_fun(self.fun, self.__name__)

        def flat_jvp(flat_primals, flat_tangents):
            primals = tuple(call.unflatten(flat_primals))
            tangents = tuple(call.unflatten(flat_tangents))
            want_avals = _expected_out_avals(flat_fun, flat_primals)
            want_tree = call.out_tree
            result = self.jvp(*call.static_values, primals, tangents)
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise TypeError(f"custom_jvp rule of {self.__name__} must return a pair "
                                f"(primal_out, tangent_out); got {_describe(result)}")
            out, t_out = result
            outs = call.flatten_out(out)
            check_primal_outputs("custom_jvp rule", self.__name__, want_tree, want_avals,
                                 call.out_tree, outs)
            t_outs = jvp_tangents(self.__name__, outs, call.out_tree, t_out)
            return outs, [instantiate(t) for t in t_outs]

        flat_jvp.__name__ = self.__name__
        _refuse_closed_over_tracers("custom_jvp", self.__name__, flat_fun, call.flat)
        outs = custom_jvp_call_p.bind(*call.flat, fun=flat_fun, jvp=flat_jvp)
        return tree_util.tree_unflatten(call.out_tree, outs)


# --- custom_vjp ----------------------------------------------------------------------------------

custom_vjp_call_p = Primitive("custom_vjp_call", impl=lambda *a, fun, fwd, bwd: fun(list(a)),
                              shape_rule=lambda *avals, fun, fwd, bwd: _out_avals_of(fun, avals),
                              multiple_results=True, jac_structure="user-defined (custom_vjp rule)")
custom_vjp_call_p.def_cost(_function_cost)
custom_vjp_call_p.def_lowering(trace_impl(custom_vjp_call_p))
custom_vjp_call_p.def_sparsity(lambda ins, outs, *, fun, **params:
                               _sparsity.callable_deps(fun, ins, ins[0].n_inputs))


@custom_vjp_call_p.def_jvp
def _custom_vjp_call_jvp(primals, tangents, *, fun, fwd, bwd):
    outs, residuals = fwd(list(primals))
    out_avals = [get_aval(o) for o in outs]
    t_outs = custom_lin_p.bind(*residuals, *[instantiate(t) for t in tangents],
                               num_res=len(residuals), bwd=bwd, out_avals=tuple(out_avals))
    return list(outs), list(t_outs)


custom_vjp_call_p.def_batch(_batch_call(custom_vjp_call_p, ("fun", "fwd", "bwd")))


def _custom_lin_impl(*args, num_res, bwd, out_avals):
    raise FunctransError(
        f"Forward-mode differentiation (jvp/jacfwd) of the custom_vjp function "
        f"{getattr(bwd, '__name__', '')} is not supported: custom_vjp defines only reverse "
        "mode. Use grad/vjp/jacrev, or define the function with custom_jvp instead.")


custom_lin_p = Primitive("custom_lin", impl=_custom_lin_impl, multiple_results=True,
                         shape_rule=lambda *avals, num_res, bwd, out_avals: list(out_avals),
                         jac_structure="user-defined (custom_vjp backward function)")
custom_lin_p.def_jvp(lambda primals, tangents, **params: _custom_lin_impl(**params))
custom_lin_p.def_cost(_call_cost)
# Its impl raises the error that forward mode of a custom_vjp function gets.
custom_lin_p.def_lowering(impl_call(custom_lin_p))
# The user's backward function is opaque: each output may depend on every operand.
custom_lin_p.def_sparsity(_sparsity.dense, exact=False)


@custom_lin_p.def_transpose
def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    residuals = args[:num_res]
    cts_in = bwd(list(residuals), [instantiate(c) for c in cts])
    return [None] * num_res + list(cts_in)


@custom_lin_p.def_batch
def _custom_lin_batch(args, dims, *, num_res, bwd, out_avals):
    size = next(get_aval(a).shape[d] for a, d in zip(args, dims) if d is not None)
    args = [bdim_at(a, d, size) for a, d in zip(args, dims)]
    new_avals = tuple(a.update(shape=(size,) + a.shape) for a in out_avals)
    return custom_lin_p.bind(*args, num_res=num_res, bwd=_vmapped(bwd),
                             out_avals=new_avals), [0] * len(out_avals)


class custom_vjp:
    """A function with user-supplied reverse mode: `f.defvjp(fwd, bwd)`, fwd(*args) ->
    (output, residuals), bwd(residuals, output_cotangent) -> one cotangent per argument."""

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        if self.fwd is None:
            raise FunctransError(f"custom_vjp function {self.__name__} has no VJP rule: call "
                                 ".defvjp(fwd, bwd) before using it")
        call = _FlatArgs(args, self.nondiff_argnums)
        flat_fun = call.flat_fun(self.fun, self.__name__)
        res_tree = []

        in_avals = [get_aval(x) for x in call.flat]
        arg_trees = call.in_tree.children()
        arg_names = [f"argument {i}" for i in call.dyn_nums]

        def flat_fwd(flat_args):
            want_avals = _out_avals_of(flat_fun, [get_aval(a) for a in flat_args])
            want_tree = call.out_tree
            result = self.fwd(*call.full(flat_args))
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise TypeError(f"custom_vjp fwd of {self.__name__} must return a pair "
                                f"(output, residuals); got {_describe(result)}")
            out, res = result
            res_leaves, tree = tree_util.tree_flatten(res)
            res_tree[:] = [tree]
            outs = call.flatten_out(out)
            check_primal_outputs("custom_vjp fwd", self.__name__, want_tree, want_avals,
                                 call.out_tree, outs)
            return outs, res_leaves

        def flat_bwd(res_leaves, cts):
            res = tree_util.tree_unflatten(res_tree[0], res_leaves)
            ct = tree_util.tree_unflatten(call.out_tree, cts)
            cts_in = self.bwd(*call.static_values, res, ct)
            return bwd_cotangents(self.__name__, cts_in, arg_trees, in_avals, arg_names)

        flat_fwd.__name__ = flat_bwd.__name__ = self.__name__
        _refuse_closed_over_tracers("custom_vjp", self.__name__, flat_fun, call.flat)
        outs = custom_vjp_call_p.bind(*call.flat, fun=flat_fun, fwd=flat_fwd, bwd=flat_bwd)
        return tree_util.tree_unflatten(call.out_tree, outs)


# --- checkpoint (remat) --------------------------------------------------------------------------

checkpoint_p = Primitive("checkpoint", impl=lambda *a, fun: fun(list(a)),
                         shape_rule=_call_shape_rule, multiple_results=True,
                         jac_structure="that of the checkpointed function")
checkpoint_p.def_cost(_function_cost)
checkpoint_p.def_lowering(trace_impl(checkpoint_p))
checkpoint_p.def_sparsity(lambda ins, outs, *, fun, **params:
                          _sparsity.callable_deps(fun, ins, ins[0].n_inputs))


@checkpoint_p.def_jvp
def _checkpoint_jvp(primals, tangents, *, fun):
    outs = fun(list(primals))
    t_outs = remat_lin_p.bind(*primals, *[instantiate(t) for t in tangents], fun=fun)
    return list(outs), list(t_outs)


checkpoint_p.def_batch(_batch_call(checkpoint_p, ("fun",)))


def _remat_lin_impl(*args, fun):
    n = len(args) // 2
    return list(jvp(lambda *p: fun(list(p)), tuple(args[:n]), tuple(args[n:]))[1])


remat_lin_p = Primitive("remat_lin", impl=_remat_lin_impl, multiple_results=True,
                        shape_rule=lambda *avals, fun: _out_avals_of(fun, avals[:len(avals) // 2]),
                        jac_structure="that of the checkpointed function (recomputed)")
remat_lin_p.def_cost(_call_cost)
remat_lin_p.def_lowering(trace_impl(remat_lin_p))
# A recomputed linearization (it appears in gradient programs): counted as dense.
remat_lin_p.def_sparsity(_sparsity.dense, exact=False)


@remat_lin_p.def_jvp
def _remat_lin_jvp(primals, tangents, *, fun):
    inner = lambda *a: _remat_lin_impl(*a, fun=fun)  # noqa: E731
    return jvp(inner, tuple(primals), tuple(instantiate(t) for t in tangents))


@remat_lin_p.def_transpose
def _remat_lin_transpose(cts, *args, fun):
    n = len(args) // 2
    _, vjp_fn = vjp(lambda *p: fun(list(p)), *args[:n])   # recompute the forward pass here
    return [None] * n + list(vjp_fn([instantiate(c) for c in cts]))


remat_lin_p.def_batch(_batch_call(remat_lin_p, ("fun",)))


def checkpoint(fun, *, prevent_cse=True, static_argnums=()):
    """fun with rematerialization: reverse mode stores only its inputs and recomputes its
    intermediates during the backward pass (memory for compute). Also known as remat."""
    @functools.wraps(fun)
    def remat_fun(*args):
        call = _FlatArgs(args, static_argnums)
        flat_fun = call.flat_fun(fun, getattr(fun, "__name__", "fun"))
        # Closed-over values become operands, so derivatives flow through them too.
        consts, converted = closure_convert(flat_fun, call.flat)
        outs = checkpoint_p.bind(*consts, *call.flat, fun=converted)
        return tree_util.tree_unflatten(call.out_tree, outs)
    return remat_fun


remat = checkpoint
