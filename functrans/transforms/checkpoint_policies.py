"""checkpoint(fun, policy=...): rematerialization that keeps what a policy calls saveable.

Plain `checkpoint` (functrans.transforms.custom) keeps only fun's inputs for reverse mode and
recomputes everything else. With a policy, the JVP of the call is split the way linearize
splits any function, but symbolically:

  K: inputs -> (outputs, residuals)     the primal ("known") program, staged at the input avals
  L: (residuals, tangents) -> tangents  the linear program whose constants are the residuals

Each equation of K is asked `policy(primitive, *input_avals, **params)`. Residuals made by a
saveable equation are kept (they ride as operands of the `remat_saved` equation, so
saved_residuals lists them); the others are recomputed in the backward pass by R, the part of
K that produces them from the inputs and the saved values. Values are identical under every
policy; only memory and recomputation differ.

`checkpoint_name(x, name)` tags a value (an identity primitive) so that name-based policies
(save_only_these_names, save_any_names_but_these, ...) can refer to it.
"""
import functools
import types

from .. import tree_util
from ..core.ir import Literal, Program
from ..core.primitive import Cost, Primitive
from ..core.staging import abstractify, eval_program, stage
from ..core.trace import get_aval
from .ad_util import instantiate
from .custom import (_FlatArgs, _batch_call, _call_cost, _call_shape_rule, _out_avals_of,
                     checkpoint as _checkpoint_recompute_all, closure_convert)
from .transpose import backward_pass
from ..primitives import _sparsity_rules
from ..transforms import sparsity as _sparsity
from ..backend.lowering import Elementwise, trace_impl
from .forward import jvp
from .linearize import linearize_flat


# --- checkpoint_name: an identity that names a value ------------------------------------------

def _identity(x, *, name):
    return x


checkpoint_name_p = Primitive("checkpoint_name", impl=_identity, shape_rule=_identity,
                              jac_structure="identity")


@checkpoint_name_p.def_jvp
def _checkpoint_name_jvp(primals, tangents, *, name):
    # The primal keeps its name (policies look at the primal program); the tangent needs none.
    return checkpoint_name_p.bind(primals[0], name=name), tangents[0]


@checkpoint_name_p.def_transpose
def _checkpoint_name_transpose(ct, x, *, name):
    return [ct]


@checkpoint_name_p.def_batch
def _checkpoint_name_batch(args, dims, *, name):
    return checkpoint_name_p.bind(args[0], name=name), dims[0]


checkpoint_name_p.def_cost(lambda aval, *, name: Cost(0, 0))
checkpoint_name_p.def_sparsity(_sparsity_rules.elementwise)


def _install_lowering():
    checkpoint_name_p.def_lowering(Elementwise(lambda a, ctx, name: a[0]))


_install_lowering()


def checkpoint_name(x, name):
    """x unchanged, tagged `name` for checkpoint policies (works on pytrees of arrays)."""
    return tree_util.tree_map(lambda v: checkpoint_name_p.bind(v, name=name), x)


# --- policies: (primitive, *input_avals, **params) -> whether its outputs may be saved ---------

def everything_saveable(prim, *avals, **params):
    return True


def nothing_saveable(prim, *avals, **params):
    return False


def dots_saveable(prim, *avals, **params):
    return prim.name == "dot_general"


def dots_with_no_batch_dims_saveable(prim, *avals, **params):
    if prim.name != "dot_general":
        return False
    (_, _), (lhs_batch, _) = params["dimension_numbers"]
    return not lhs_batch


def save_only_these_names(*names):
    names = frozenset(names)

    def policy(prim, *avals, **params):
        return prim is checkpoint_name_p and params["name"] in names
    return policy


def save_any_names_but_these(*names):
    names = frozenset(names)

    def policy(prim, *avals, **params):
        return prim is checkpoint_name_p and params["name"] not in names
    return policy


def save_anything_except_these_names(*names):
    names = frozenset(names)

    def policy(prim, *avals, **params):
        return not (prim is checkpoint_name_p and params["name"] in names)
    return policy


def save_from_both_policies(policy_1, policy_2):
    def policy(prim, *avals, **params):
        return policy_1(prim, *avals, **params) or policy_2(prim, *avals, **params)
    return policy


checkpoint_policies = types.SimpleNamespace(
    everything_saveable=everything_saveable,
    nothing_saveable=nothing_saveable,
    dots_saveable=dots_saveable,
    checkpoint_dots=dots_saveable,
    dots_with_no_batch_dims_saveable=dots_with_no_batch_dims_saveable,
    checkpoint_dots_with_no_batch_dims=dots_with_no_batch_dims_saveable,
    save_only_these_names=save_only_these_names,
    save_any_names_but_these=save_any_names_but_these,
    save_anything_except_these_names=save_anything_except_these_names,
    save_from_both_policies=save_from_both_policies,
)


# --- the split: known program, saved values, recompute program, linear program ---------------

class _Split:
    """K, L, the saved vars and R for one call of a checkpointed function at given avals."""

    def __init__(self, fun, in_avals, policy):
        lin_box = []

        def known(xs):
            outs, lin, _ = linearize_flat(fun, xs)
            lin_box.append(lin)
            return list(outs) + list(lin.consts)

        K = stage(known, in_avals)
        L = lin_box[0]
        prog = K.program
        n_out = len(prog.outvars) - len(L.consts)
        residual_vars = prog.outvars[n_out:]
        producer = {}
        for eqn in prog.eqns:
            for v in eqn.outputs:
                producer[v] = eqn
        available = set(prog.invars) | set(prog.constvars)
        saved, recompute, seen = [], set(), set()

        def need(a):
            if isinstance(a, Literal) or a in available or a in seen:
                return
            seen.add(a)
            eqn = producer[a]
            if policy(eqn.primitive, *[x.aval for x in eqn.inputs], **eqn.params):
                saved.append(a)
            else:
                recompute.add(id(eqn))
                for x in eqn.inputs:
                    need(x)

        for v in residual_vars:
            need(v)
        self.K_fwd = Program(prog.constvars, prog.invars, prog.eqns,
                             tuple(prog.outvars[:n_out]) + tuple(saved))
        self.R = Program(prog.constvars, tuple(prog.invars) + tuple(saved),
                         tuple(e for e in prog.eqns if id(e) in recompute), tuple(residual_vars))
        self.consts = K.consts
        self.L = L.program
        self.n_out = n_out
        self.saved_avals = [v.aval for v in saved]
        # Which primitive produced each saved value, for saved_residuals' report.
        self.saved_sources = tuple(producer[v].primitive.name +
                                   (f" '{producer[v].params['name']}'"
                                    if producer[v].primitive is checkpoint_name_p else "")
                                   for v in saved)


def _make_rule_functions(split):
    """recompute(xs + saved) -> residuals; lin(residuals, ts) -> output tangents;
    lin_t(residuals, cts) -> tangent cotangents. Functions of lists, so that batching can
    vmap them like the other call primitives' functions."""
    R, consts, L = split.R, split.consts, split.L

    def recompute(xs_and_saved):
        return eval_program(R, consts, list(xs_and_saved))

    def lin(residuals, ts):
        return eval_program(L, list(residuals), list(ts))

    def lin_t(residuals, cts):
        return [instantiate(c) for c in backward_pass(L, list(residuals), list(cts))]

    return recompute, lin, lin_t


# --- the call primitive and its linear part ------------------------------------------------------

checkpoint_policy_p = Primitive("checkpoint_policy", impl=lambda *a, fun, policy: fun(list(a)),
                                shape_rule=_call_shape_rule, multiple_results=True,
                                jac_structure="that of the checkpointed function")
checkpoint_policy_p.def_cost(_call_cost)
# Checkpointing changes what is stored, not what depends on what: the function's own pattern.
checkpoint_policy_p.def_sparsity(lambda ins, outs, *, fun, **params:
                                 _sparsity.callable_deps(fun, ins, ins[0].n_inputs))


@checkpoint_policy_p.def_jvp
def _checkpoint_policy_jvp(primals, tangents, *, fun, policy):
    split = _Split(fun, [abstractify(get_aval(p)) for p in primals], policy)
    fwd = eval_program(split.K_fwd, split.consts, list(primals))
    outs, saved = fwd[:split.n_out], fwd[split.n_out:]
    recompute, lin, lin_t = _make_rule_functions(split)
    t_outs = remat_saved_p.bind(*primals, *saved, *[instantiate(t) for t in tangents],
                                n_x=len(primals), n_saved=len(saved), recompute=recompute,
                                lin=lin, lin_t=lin_t, sources=split.saved_sources)
    return list(outs), list(t_outs)


checkpoint_policy_p.def_batch(_batch_call(checkpoint_policy_p, ("fun",)))


def _remat_saved_impl(*args, n_x, n_saved, recompute, lin, lin_t, sources):
    k = n_x + n_saved
    return list(lin(recompute(list(args[:k])), list(args[k:])))


remat_saved_p = Primitive(
    "remat_saved", impl=_remat_saved_impl, multiple_results=True,
    shape_rule=lambda *avals, **params: _out_avals_of(
        lambda a: _remat_saved_impl(*a, **params), avals),
    jac_structure="that of the checkpointed function (recomputed from the saved values)")
remat_saved_p.def_cost(_call_cost)
# A recomputed linearization (in gradient programs): counted as dense, as remat_lin is.
remat_saved_p.def_sparsity(_sparsity.dense, exact=False)


@remat_saved_p.def_jvp
def _remat_saved_jvp(primals, tangents, **params):
    inner = lambda *a: _remat_saved_impl(*a, **params)  # noqa: E731
    return jvp(inner, tuple(primals), tuple(instantiate(t) for t in tangents))


@remat_saved_p.def_transpose
def _remat_saved_transpose(cts, *args, n_x, n_saved, recompute, lin, lin_t, sources):
    k = n_x + n_saved
    residuals = recompute(list(args[:k]))      # the backward pass's recomputation
    return [None] * k + list(lin_t(residuals, [instantiate(c) for c in cts]))


remat_saved_p.def_batch(_batch_call(remat_saved_p, ("recompute", "lin", "lin_t")))


def _install_call_lowerings():
    checkpoint_policy_p.def_lowering(trace_impl(checkpoint_policy_p))
    remat_saved_p.def_lowering(trace_impl(remat_saved_p))


_install_call_lowerings()


# --- the user-facing function --------------------------------------------------------------------

def checkpoint(fun=None, *, prevent_cse=True, policy=None, static_argnums=()):
    """fun with rematerialization (also known as remat): reverse mode keeps fun's inputs and the
    values `policy` calls saveable, and recomputes the rest in the backward pass. Without a
    policy nothing but the inputs is kept. Usable as a decorator, with or without arguments."""
    if fun is None:
        return functools.partial(checkpoint, prevent_cse=prevent_cse, policy=policy,
                                 static_argnums=static_argnums)
    if policy is None:
        return _checkpoint_recompute_all(fun, prevent_cse=prevent_cse,
                                         static_argnums=static_argnums)

    @functools.wraps(fun)
    def remat_fun(*args):
        call = _FlatArgs(args, static_argnums)
        flat_fun = call.flat_fun(fun, getattr(fun, "__name__", "fun"))
        consts, converted = closure_convert(flat_fun, call.flat)
        outs = checkpoint_policy_p.bind(*consts, *call.flat, fun=converted, policy=policy)
        return tree_util.tree_unflatten(call.out_tree, outs)
    return remat_fun


remat = checkpoint
