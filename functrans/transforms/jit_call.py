"""The jit call primitive: `jit` binds a traced program as one equation whose params are
`program`, a ClosedProgram, and `name`; its impl runs the compiled program.

Constants the function closes over stay in the ClosedProgram's consts, except values traced by
an enclosing transform, which become leading operands of the call (so the enclosing transform
sees them). Its rules stage a transformed copy of the sub-program and call `jit` on it again
(derived programs are cached per program and pattern of symbolic zeros / batch axes):

  jvp        the JVP program; under linearize it is split by partial evaluation into a known
             program (primal outputs and residuals, run now) and a linear program (residuals and
             tangents to tangent outputs, staged), so that transposition sees only linear work
  transpose  the backward pass of the linear sub-program
  batch      vmap of the sub-program
  cost       the sum of the sub-program's costs
"""
import weakref

from ..backend.executables import executable_for
from ..backend.lowering import Inline
from ..core.array import writeable_input
from ..core.config import config as _config
from ..core.ir import ClosedProgram, Program
from ..core.primitive import Cost, Primitive, Zero, is_undefined, tangent_aval
from ..core.staging import StagingTracer, eval_closed, stage
from ..core.trace import Tracer, new_main
from ..core.value_checks import check_jit_outputs, rerun_program
from . import sparsity as _sparsity
from .partial_eval import partial_eval_program
from ..primitives._batching import batch_size
from .jvp import jvp_flat
from .transpose import backward_pass
from .vmap import BatchTrace, BatchTracer, inherited_axis_name


def _jit_impl(*args, program, name):
    outs = list(executable_for(program)(*map(writeable_input, args)))
    if _config.checks_values:
        check_jit_outputs(outs, name, lambda: rerun_program(program, args))
    return outs


def _jit_shape_rule(*avals, program, name):
    want = program.in_avals
    if len(avals) != len(want) or any(a.shape != w.shape or a.dtype != w.dtype
                                      for a, w in zip(avals, want)):
        got = ", ".join(a.str_short() for a in avals)
        exp = ", ".join(a.str_short() for a in want)
        raise TypeError(f"jit call of {name}: operands ({got}) do not match the program's "
                        f"inputs ({exp})")
    return list(program.out_avals)


jit_p = Primitive("jit", impl=_jit_impl, shape_rule=_jit_shape_rule, multiple_results=True,
                  jac_structure="that of the called program (a product of its equations' "
                                "Jacobians)")


def bind_jit_call(closed, args, name):
    """Call `closed` on args through jit_p. Constants that are tracers of an enclosing transform
    become leading operands (the program keeps only concrete constants)."""
    prog = closed.program
    traced = [i for i, c in enumerate(closed.consts) if isinstance(c, Tracer)]
    if not traced:
        return jit_p.bind(*args, program=closed, name=name)
    keep = [i for i in range(len(closed.consts)) if i not in traced]
    new = ClosedProgram(Program(tuple(prog.constvars[i] for i in keep),
                                tuple(prog.constvars[i] for i in traced) + prog.invars,
                                prog.eqns, prog.outvars),
                        tuple(closed.consts[i] for i in keep))
    return jit_p.bind(*[closed.consts[i] for i in traced], *args, program=new, name=name)


# Derived programs, cached per sub-program and pattern (a weak key: they die with it).
_derived = weakref.WeakKeyDictionary()


def clear_derived():
    _derived.clear()


def _cached(program, key, build):
    per = _derived.get(program)
    if per is None:
        per = _derived[program] = {}
    hit = per.get(key)
    if hit is None:
        hit = per[key] = build()
    return hit


def _jvp_program(program, nonzero):
    """(primals..., nonzero tangents...) -> (primal outs..., nonzero tangent outs...)."""
    def build():
        n = len(program.in_avals)
        box = []

        def flat(ins):
            primals, it = ins[:n], iter(ins[n:])
            tangents = [next(it) if nz else Zero(tangent_aval(a))
                        for a, nz in zip(program.in_avals, nonzero)]
            p_out, t_out, _ = jvp_flat(lambda xs: eval_closed(program, *xs), primals, tangents)
            box.append(tuple(type(t) is not Zero for t in t_out))
            return list(p_out) + [t for t in t_out if type(t) is not Zero]

        t_avals = [tangent_aval(a) for a, nz in zip(program.in_avals, nonzero) if nz]
        closed = stage(flat, list(program.in_avals) + t_avals)
        return closed, box[0]
    return _cached(program, ("jvp", nonzero), build)


def _jvp_split(program, nonzero):
    jp, out_nz = _jvp_program(program, nonzero)

    def build():
        n = len(program.in_avals)
        return partial_eval_program(jp, [True] * n + [False] * sum(nonzero))
    return jp, out_nz, _cached(program, ("jvp_split", nonzero), build)


def _level(x):
    return x._trace.main.level if isinstance(x, Tracer) else -1


@jit_p.def_jvp
def _jit_jvp(primals, tangents, *, program, name):
    nonzero = tuple(type(t) is not Zero for t in tangents)
    live = [t for t in tangents if type(t) is not Zero]
    n_out = len(program.out_avals)
    primal_level = max((_level(p) for p in primals), default=-1)
    if max((_level(t) for t in live), default=-1) > primal_level or \
            any(isinstance(t, StagingTracer) for t in live):
        # Staged tangents (under linearize, or inside a loop body's JVP program, where primals
        # are staged at the same level) go to a program that partial evaluation must split
        # later: keep the known part and the linear part in separate equations.
        jp, out_nz, pe = _jvp_split(program, nonzero)
        known = bind_jit_call(pe.known, list(primals), f"{name}")
        n_known = sum(pe.out_known)
        known_outs, residuals = known[:n_known], known[n_known:]
        unknown = bind_jit_call(pe.unknown, list(residuals) + live, f"lin({name})") \
            if len(pe.unknown.program.outvars) else []
        outs, ki, ui = [], iter(known_outs), iter(unknown)
        for k in pe.out_known:
            outs.append(next(ki) if k else next(ui))
    else:
        jp, out_nz = _jvp_program(program, nonzero)
        outs = bind_jit_call(jp, list(primals) + live, f"jvp({name})")
    p_out, t_iter = outs[:n_out], iter(outs[n_out:])
    t_out = [next(t_iter) if nz else Zero(tangent_aval(a))
             for a, nz in zip(program.out_avals, out_nz)]
    return p_out, t_out


def _transpose_program(program, undefined, ct_nonzero):
    """(defined operands..., nonzero cotangents...) -> nonzero cotangents of the undefined
    operands."""
    def build():
        prog = program.program
        defined = [v for v, u in zip(prog.invars, undefined) if not u]
        linear = [v for v, u in zip(prog.invars, undefined) if u]
        ct_avals = [a.strip_weak() for a in program.out_avals]
        box = []

        def flat(ins):
            vals, it = ins[:len(defined)], iter(ins[len(defined):])
            cts = [next(it) if nz else Zero(a) for a, nz in zip(ct_avals, ct_nonzero)]
            as_linear = Program(prog.constvars + tuple(defined), tuple(linear), prog.eqns,
                                prog.outvars)
            res = backward_pass(as_linear, list(program.consts) + list(vals), cts)
            box.append(tuple(type(r) is not Zero for r in res))
            return [r for r in res if type(r) is not Zero]

        in_avals = [v.aval for v in defined] + [a for a, nz in zip(ct_avals, ct_nonzero) if nz]
        closed = stage(flat, in_avals)
        return closed, box[0]
    return _cached(program, ("transpose", undefined, ct_nonzero), build)


@jit_p.def_transpose
def _jit_transpose(cts, *args, program, name):
    undefined = tuple(is_undefined(a) for a in args)
    ct_nonzero = tuple(type(c) is not Zero for c in cts)
    if not any(ct_nonzero):
        return [Zero(a.aval) if u else None for a, u in zip(args, undefined)]
    tp, out_nz = _transpose_program(program, undefined, ct_nonzero)
    defined = [a for a in args if not is_undefined(a)]
    outs = iter(bind_jit_call(tp, defined + [c for c in cts if type(c) is not Zero],
                      f"transpose({name})"))
    result, k = [], 0
    for a, u in zip(args, undefined):
        if not u:
            result.append(None)
            continue
        result.append(next(outs) if out_nz[k] else Zero(a.aval))
        k += 1
    return result


def _batch_program(program, dims, size):
    def build():
        box = []

        def flat(ins):
            with new_main(BatchTrace, size) as main:
                trace = BatchTrace(main)
                xs = [x if d is None else BatchTracer(trace, x, d) for x, d in zip(ins, dims)]
                outs = [trace.full_raise(o) for o in eval_closed(program, *xs)]
                box.append(tuple(o.bdim for o in outs))
                return [o.val for o in outs]

        in_avals = []
        for a, d in zip(program.in_avals, dims):
            if d is None:
                in_avals.append(a)
            else:
                shape = list(a.shape)
                shape.insert(d, size)
                in_avals.append(a.update(shape=shape))
        closed = stage(flat, in_avals)
        return closed, box[0]
    # A vmap with axis_name batching this call makes the batch trace take its name (collectives
    # over it reduce): a different program from an unnamed batching of the same call.
    return _cached(program, ("batch", dims, size, inherited_axis_name()), build)


@jit_p.def_batch
def _jit_batch(args, dims, *, program, name):
    size = batch_size(args, dims)
    bp, out_dims = _batch_program(program, tuple(dims), size)
    return bind_jit_call(bp, list(args), f"vmap({name})"), list(out_dims)


@jit_p.def_cost
def _jit_cost(*avals, program, name):
    total = Cost(0.0, 0.0)
    for eqn in program.eqns:
        total = total + eqn.primitive.estimate_cost(*[a.aval for a in eqn.inputs], **eqn.params)
    return total


jit_p.def_lowering(Inline(lambda in_avals, *, program, name: program))
jit_p.def_sparsity(lambda ins, outs, *, program, **params:
                   _sparsity.program_deps(program, ins, ins[0].n_inputs))
