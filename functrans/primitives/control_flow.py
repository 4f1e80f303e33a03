"""Control flow that stays control flow in the IR: cond/switch, while_loop/fori_loop, scan/map.

Each is a higher-order primitive whose branches or bodies are sub-programs (ClosedPrograms
without constants) in its params. Values the user's functions close over are hoisted to
explicit leading operands, so that every transform sees them as inputs (a closed-over tracer of
an enclosing jvp must carry its tangent into the loop).

  cond(index, *operands; branches)              branches[clamp(index)](*operands)
  while_loop(*cond_consts, *body_consts, *carry; cond_program, body_program, cond_nconsts,
             body_nconsts)                      while cond_program(*cond_consts, *carry):
                                                    carry = body_program(*body_consts, *carry)
  scan(*consts, *carry, *xs; body, length, reverse, num_consts, num_carry, unroll)
                                                for i in range(length) (backwards if reverse):
                                                    carry, ys[i] = body(*consts, *carry, *xs[i])

Differentiation. A JVP rule stages the JVP of the body (or branches) as a new sub-program; which
loop carries get tangents is found by a fixed point, and those carries' tangents are always
materialized so carry types stay fixed. When the tangents are staging tracers (linearize, or a
JVP program that a call primitive will split), one loop computing primals and tangents would put
primal work into the linear program. So the JVP program is split by partial evaluation: a primal
loop computes the outputs plus per-iteration residuals, and a second loop, linear in the
tangents, maps residuals and tangents to tangent outputs. Residuals that do not change across
iterations (functions of the loop constants) are computed once, outside, and passed as
constants; only the others are stacked. A linear scan transposes to a scan running the other
way over the transposed body, a linear cond to a cond over transposed branches. while_loop has
no transpose: its trip count is unknown until it runs, so no residuals can be laid out for it.

Under jit each becomes a generated Python function with a real for/while/if that calls its
body or branches, each compiled once as its own Executable: compile time does not grow with
the trip count, as it would if loops were unrolled.
"""
import builtins
import operator

import numpy as np

from .. import tree_util
from ..backend import loop_lowering, numpy_run
from ..backend.executables import executable_for
from ..backend.lowering import Driver
from ..core import dtypes
from ..core.aval import ShapedArray
from ..core.errors import FunctransError
from ..core.ir import ClosedProgram, Program, Var
from ..core.primitive import Primitive, Zero, is_undefined, tangent_aval
from ..core.staging import StagingTracer, eval_closed, eval_program, stage
from ..core.trace import Tracer, get_aval, new_main
from ..transforms.ad_util import instantiate, zeros_of
from ..transforms.jvp import jvp_flat
from ..transforms.partial_eval import partial_eval_program
from ..transforms.sparsity import fixed_point, program_deps
from ..transforms.transpose import backward_pass
from ..transforms.vmap import BatchTrace, BatchTracer, vmap
from . import _sparsity_rules as _sparsity
from ._batching import batch_size, bdim_at, moveaxis
from ._common import resolve_dtypes
from ._program_cost import program_cost
from .elementwise import (add, add_tangents, clamp, convert_element_type, eq, lt, ne, select_n,
                          stop_gradient)
from .reductions import reduce_max
from .shape import broadcast_in_dim, concatenate, reshape, slice_in_dim

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map"]


# --- programs as values: hoisting, reordering, pruning ------------------------------------------

def _hoist(closed):
    """(program whose constvars became its leading invars, the const values)."""
    p = closed.program
    return (ClosedProgram(Program((), p.constvars + p.invars, p.eqns, p.outvars), ()),
            list(closed.consts))


def _trace(flat_fun, in_avals, origins=None):
    """Stage flat_fun (list of values -> list of values); constants become leading inputs."""
    return _hoist(stage(flat_fun, list(in_avals), origins))


def _program(invars, eqns, outvars):
    return ClosedProgram(Program((), tuple(invars), tuple(eqns), tuple(outvars)), ())


def _reorder(closed, in_order, out_order=None):
    p = closed.program
    outvars = p.outvars if out_order is None else [p.outvars[i] for i in out_order]
    return _program([p.invars[i] for i in in_order], p.eqns, outvars)


def _pruned(invars, eqns, outvars):
    """A program keeping only the equations that outvars need."""
    live = {v for v in outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(eqns):
        if any(v in live for v in eqn.outputs):
            kept.append(eqn)
            live.update(a for a in eqn.inputs if isinstance(a, Var))
    return _program(invars, reversed(kept), outvars)


def _split(xs, *sizes):
    """xs cut into consecutive lists of the given sizes, plus the rest."""
    out, i = [], 0
    for s in sizes:
        out.append(list(xs[i:i + s]))
        i += s
    out.append(list(xs[i:]))
    return out


def _same_type(a, b):
    return a.shape == b.shape and a.dtype == b.dtype


def _all_same(avals, others):
    return len(avals) == len(others) and all(_same_type(a, b) for a, b in zip(avals, others))


def _join_consts(traced):
    """Branch programs [(program, consts)] that all take every branch's consts, then their own
    inputs: (programs, all consts). Each branch ignores the others' consts."""
    programs, consts = [], []
    for prog, cs in traced:
        consts += cs
    for i, (prog, cs) in enumerate(traced):
        own, rest = _split(prog.program.invars, len(cs))
        invars = []
        for j, (other, other_cs) in enumerate(traced):
            invars += own if i == j else [Var(v.aval) for v in
                                          other.program.invars[:len(other_cs)]]
        p = prog.program
        programs.append(_program(invars + rest, p.eqns, p.outvars))
    return tuple(programs), consts


# --- differentiation helpers ---------------------------------------------------------------------

def _jvp_program(closed, nonzero, instantiate_out):
    """The JVP of `closed` as a program: (primals..., tangents of the `nonzero` inputs...) ->
    (primal outputs..., nonzero output tangents...). Output tangents flagged in instantiate_out
    are materialized (zeros) if symbolically zero, unless their dtype has no tangent space.
    Returns (program, consts to pass first, which output tangents are nonzero)."""
    avals = closed.in_avals
    n = len(avals)
    out_nz = []

    def fun(args):
        it = iter(args[n:])
        tangents = [next(it) if nz else Zero(tangent_aval(a)) for a, nz in zip(avals, nonzero)]
        p_out, t_out, _ = jvp_flat(lambda ins: eval_closed(closed, *ins), list(args[:n]),
                                   tangents)
        t_out = [Zero.like(p) if not dtypes.is_differentiable(get_aval(p).dtype) else
                 instantiate(t) if inst else t
                 for p, t, inst in zip(p_out, t_out, instantiate_out)]
        out_nz[:] = [not isinstance(t, Zero) for t in t_out]
        return list(p_out) + [t for t in t_out if not isinstance(t, Zero)]

    t_avals = [tangent_aval(a) for a, nz in zip(avals, nonzero) if nz]
    prog, consts = _trace(fun, avals + t_avals)
    return prog, consts, list(out_nz)


def _split_jvp(jvp_prog, n_known_in, n_primal_out):
    """Partial evaluation of a JVP program whose first n_known_in inputs (primals) are known and
    the rest (tangents) unknown. Returns (known: known inputs -> primal outputs + residuals,
    the residual vars of the known program, linear: residuals + tangents -> tangent outputs).
    Tangent outputs computable without tangents (materialized zeros) travel as residuals too,
    so that the linear program produces every tangent output."""
    n_in = len(jvp_prog.program.invars)
    pe = partial_eval_program(jvp_prog, [True] * n_known_in + [False] * (n_in - n_known_in))
    known, unknown = pe.known.program, pe.unknown.program
    if not all(pe.out_known[:n_primal_out]):
        raise FunctransError(
            "reverse mode through control flow: an equation in a loop body or branch computes "
            "primal outputs together with tangents (a call primitive whose JVP was not split "
            "into primal and linear parts), so the linear part cannot be separated")
    n_known_out = sum(pe.out_known)
    n_res = len(known.outvars) - n_known_out
    res_known = list(known.outvars[n_known_out:])
    res_linear = list(unknown.invars[:n_res])
    known_outs = iter(known.outvars[n_primal_out:n_known_out])
    unknown_outs = iter(unknown.outvars)
    tangent_outs = []
    for k in pe.out_known[n_primal_out:]:
        atom = next(known_outs) if k else next(unknown_outs)
        if k and isinstance(atom, Var):
            res_known.append(atom)
            res_linear.append(Var(atom.aval))
            atom = res_linear[-1]
        tangent_outs.append(atom)
    known_prog = _pruned(known.invars, known.eqns,
                         list(known.outvars[:n_primal_out]) + res_known)
    linear = _program(res_linear + list(unknown.invars[n_res:]), unknown.eqns, tangent_outs)
    return known_prog, res_known, linear


def _staged_apart(tangents):
    """Whether the tangents are being staged (linearize, or the JVP program of a call that will
    be split): then primal and tangent work must go to separate equations, or the primal loop
    would land in the linear program."""
    return any(isinstance(t, StagingTracer) for t in tangents if not isinstance(t, Zero))


def _invariant_vars(program, invariant_inputs):
    """Vars of program computed from invariant_inputs and literals alone."""
    inv = set(invariant_inputs)
    for eqn in program.eqns:
        if all(not isinstance(a, Var) or a in inv for a in eqn.inputs):
            inv.update(eqn.outputs)
    return inv


def _linear_and_rest(program, linear_mask):
    """The program with its non-linear inputs as constvars and its linear ones as invars: the
    form backward_pass transposes."""
    nl = [v for v, lin in zip(program.invars, linear_mask) if not lin]
    lin = [v for v, is_lin in zip(program.invars, linear_mask) if is_lin]
    return Program(tuple(nl), tuple(lin), program.eqns, program.outvars)


def _zero_for(aval):
    """A zero tangent for a value of this aval."""
    return zeros_of(tangent_aval(aval))


def _zeros(aval):
    return zeros_of(aval.strip_weak())


# --- batching helper -----------------------------------------------------------------------------

def _batch_program(closed, batched, size, force_out):
    """`closed` with a batch axis (at 0) on the `batched` inputs. Outputs are batched at 0 where
    the computation makes them so or force_out says so. Returns (program, consts, which outputs
    are batched)."""
    out_batched = []

    def fun(args):
        with new_main(BatchTrace, size) as main:
            trace = BatchTrace(main)
            ins = [BatchTracer(trace, x, 0) if b else x for x, b in zip(args, batched)]
            outs = [trace.full_raise(o) for o in eval_closed(closed, *ins)]
            out_batched[:] = [o.bdim is not None or f for o, f in zip(outs, force_out)]
            return [bdim_at(o.val, o.bdim, size, 0) if b else o.val
                    for o, b in zip(outs, out_batched)]

    in_avals = [a.update(shape=(size,) + a.shape) if b else a
                for a, b in zip(closed.in_avals, batched)]
    prog, consts = _trace(fun, in_avals)
    return prog, consts, list(out_batched)


# --- lowering helpers: loops and branches in the generated driver -------------------------------
# jit's driver is generated Python that calls Numba kernels; a loop becomes a generated Python
# function with a real `for`/`while`/`if`, calling its body compiled once as its own Executable
# (so compile time does not grow with the trip count). Bound as a global of the driver.

def compile_loop(ctx, kind, args, params):
    from ..backend.loops import compile_loop as compile_
    return compile_(ctx, kind, args, params)


def _generated(ctx, name, lines, env):
    source = "\n".join(lines) + "\n"
    scope = {"np": np, **env}
    exec(compile(source, f"<functrans {name}>", "exec"), scope)
    fn = scope[name]
    fn.source = source      # for inspection: the loop as it runs
    return ctx.bind_global(fn, name)


def _contiguous(names, avals, indent):
    """Lines making array operands C-contiguous (a no-op when they are): compiled bodies are
    specialized for C-contiguous inputs, and a strided one (a broadcast zero, a transposed
    view) would make Numba compile another specialization when the loop first runs."""
    return [f"{' ' * indent}{n} = np.ascontiguousarray({n})"
            for n, a in zip(names, avals) if a.ndim]


def _assign(names):
    return "".join(n + ", " for n in names) + "= " if names else ""


def _tuple(names):
    return "(" + "".join(n + ", " for n in names) + ")"


# --- tracing the user's functions ----------------------------------------------------------------

class _Shown:
    """A leaf that prints as a type, to show a pytree of types in errors."""
    __slots__ = ("text",)

    def __init__(self, aval):
        self.text = aval.str_short() + ("(weak)" if aval.weak_type else "")

    def __repr__(self):
        return self.text


def _types(tree, avals, part=None):
    shown = tree_util.tree_unflatten(tree, [_Shown(a) for a in avals])
    return repr(shown if part is None else shown[part])


def _trace_user(fun, in_avals, origins, casts):
    """Stage fun (list of tracers -> (list of output leaves, any info)); outputs i with
    casts[i] = (dtype, weak) are converted. Returns (program, consts, info)."""
    info = []

    def flat(tracers):
        leaves, extra = fun(tracers)
        info[:] = [extra]
        return [convert_element_type(x, *casts[i]) if i in casts else x
                for i, x in enumerate(leaves)]

    prog, consts = _trace(flat, in_avals, origins)
    return prog, consts, info[0]


def _trace_loop_body(label, fun, carry_tree, carry_avals, other_avals, origins):
    """Stage a loop body fun(carry tracers, other tracers) -> (carry leaves, out tree of the
    carry, extra) until its output carry has the input carry's types. A weakly typed input
    carry (from a Python scalar) takes the output's dtype; a weakly typed output carry is
    converted to the input's. label is (lax function, what the body is called, None or which
    element of a tuple carry is the user's, for messages). Returns (program, consts, carry
    avals, extra)."""
    name, what, part = label
    carry_avals, casts = list(carry_avals), {}
    nk = len(carry_avals)
    for _ in range(4):
        prog, consts, (tree, extra) = _trace_user(
            lambda t: fun(t[:nk], t[nk:]), carry_avals + list(other_avals), origins, casts)
        outs = prog.out_avals[:tree.num_leaves]
        both = (f"\n  input carry:  {_types(carry_tree, carry_avals, part)}"
                f"\n  output carry: {_types(tree, outs, part)}")
        if tree != carry_tree:
            raise TypeError(f"lax.{name}: {what} must return a carry of the same pytree "
                            f"structure as its input carry.{both}")
        changed = False
        for i, (a, o) in enumerate(zip(carry_avals, outs)):
            if a.shape == o.shape and a.dtype == o.dtype and not (a.weak_type and
                                                                  not o.weak_type):
                continue
            target, weak = dtypes.result_type((a.dtype, a.weak_type), (o.dtype, o.weak_type))
            if a.shape == o.shape and a.weak_type and (target, weak) != (a.dtype, True):
                # A Python scalar's carry takes the dtype the body gives it.
                carry_avals[i], changed = ShapedArray(a.shape, target, weak), True
            elif a.shape == o.shape and o.weak_type and target == a.dtype:
                casts[i], changed = (a.dtype, a.weak_type), True
            else:
                keys = tree_util.tree_flatten_with_path(
                    tree_util.tree_unflatten(carry_tree, list(range(nk))))[0][i][0]
                path = tree_util.keystr(keys if part is None else keys[1:])
                where = f"carry component {path}" if path else "carry"
                raise TypeError(
                    f"lax.{name}: {what} must return a carry of the same types as its input "
                    f"carry, but the {where} enters as {a.str_short()} and leaves as "
                    f"{o.str_short()}.{both}")
        if not changed:
            return prog, consts, carry_avals, extra
    raise TypeError(f"lax.{name}: the carry types of {what} do not settle: input "
                    f"{_types(carry_tree, carry_avals, part)}")


def _coerce(x, aval):
    a = get_aval(x)
    if a.dtype == aval.dtype and a.weak_type == aval.weak_type:
        return x
    return convert_element_type(x, aval.dtype, aval.weak_type)


def _check_callable(name, **funs):
    for arg, f in funs.items():
        if not callable(f):
            raise TypeError(f"lax.{name}: {arg} must be callable, got {type(f).__name__}")


# --- scan ----------------------------------------------------------------------------------------

def _scan_shape_rule(*avals, body, length, reverse, num_consts, num_carry, unroll):
    want = body.in_avals
    if len(avals) != len(want):
        raise TypeError(f"lax.scan: {len(avals)} operands for a body with {len(want)} inputs")
    for i, (a, w) in enumerate(zip(avals, want)):
        role = "constant" if i < num_consts else "carry" if i < num_consts + num_carry else "xs"
        expected = w.update(shape=(length,) + w.shape) if role == "xs" else w
        if not _same_type(a, expected):
            raise TypeError(f"lax.scan: {role} operand {i} is {a.str_short()}, but the body "
                            f"expects {expected.str_short()}")
    outs = body.out_avals
    for i, (a, o) in enumerate(zip(want[num_consts:num_consts + num_carry], outs)):
        if not _same_type(a, o):
            raise TypeError(f"lax.scan: carry {i} enters the body as {a.str_short()} but "
                            f"leaves it as {o.str_short()}")
    return list(outs[:num_carry]) + [o.update(shape=(length,) + o.shape)
                                     for o in outs[num_carry:]]


def _scan_impl(*args, body, length, reverse, num_consts, num_carry, unroll):
    consts, carry, xs = _split(args, num_consts, num_carry)
    ys = []
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        out = eval_closed(body, *consts, *carry, *[x[i] for x in xs])
        carry = out[:num_carry]
        ys.append(out[num_carry:])
    if reverse:
        ys.reverse()
    avals = body.out_avals
    carry = [np.asarray(c, a.dtype) for c, a in zip(carry, avals)]
    stacked = [np.stack([np.asarray(y[j], a.dtype) for y in ys]) if ys else
               np.zeros((0,) + a.shape, a.dtype) for j, a in enumerate(avals[num_carry:])]
    return carry + stacked


scan_p = Primitive("scan", impl=_scan_impl, shape_rule=_scan_shape_rule, multiple_results=True,
                   jac_structure="the body's, composed over the iterations (block lower-triangular "
                            "in time)")


def _bind_scan(consts, carry, xs, body, length, reverse, unroll):
    return scan_p.bind(*consts, *carry, *xs, body=body, length=length, reverse=reverse,
                       num_consts=len(consts), num_carry=len(carry), unroll=unroll)


@scan_p.def_jvp
def _scan_jvp(primals, tangents, *, body, length, reverse, num_consts, num_carry, unroll):
    nc, nk = num_consts, num_carry
    ny = len(body.out_avals) - nk
    c_nz, k_nz, x_nz = _split([not isinstance(t, Zero) for t in tangents], nc, nk)
    while True:     # carries whose tangent becomes nonzero after some iteration
        jprog, jconsts, out_nz = _jvp_program(body, c_nz + k_nz + x_nz, k_nz + [False] * ny)
        grown = [a or b for a, b in zip(k_nz, out_nz[:nk])]
        if grown == k_nz:
            break
        k_nz = grown
    consts, carry, xs = _split(primals, nc, nk)
    c_t, k_t, x_t = _split(tangents, nc, nk)
    c_t = [t for t, nz in zip(c_t, c_nz) if nz]
    k_t = [instantiate(t) for t, nz in zip(k_t, k_nz) if nz]
    x_t = [t for t, nz in zip(x_t, x_nz) if nz]
    y_nz = out_nz[nk:]
    nh, nx = len(jconsts), len(xs)
    nct, nkt, nxt, nyt = len(c_t), len(k_t), len(x_t), sum(y_nz)
    params = dict(length=length, reverse=reverse, unroll=unroll)
    if not _staged_apart(tangents):
        # One loop over primals and tangents: jprog's inputs are (H, C, K, X, Ct, Kt, Xt).
        h, c, k, x, ct, kt, xt = _split(range(nh + nc + nk + nx + nct + nkt + nxt),
                                        nh, nc, nk, nx, nct, nkt)
        kp, yp, ktp, ytp = _split(range(nk + ny + nkt + nyt), nk, ny, nkt)
        loop = _reorder(jprog, h + c + ct + k + kt + x + xt, kp + ktp + yp + ytp)
        outs = _bind_scan(jconsts + consts + c_t, carry + k_t, xs + x_t, loop, **params)
        carry_out, kt_out, ys, yt = _split(outs, nk, nkt, ny)
    else:
        carry_out, ys, kt_out, yt = _scan_jvp_split(
            jprog, jconsts + consts, carry, xs, c_t, k_t, x_t, nk, ny, params)
    kt_it, yt_it = iter(kt_out), iter(yt)
    t_out = [next(kt_it) if nz else Zero.like(p) for p, nz in zip(carry_out, k_nz)] + \
            [next(yt_it) if nz else Zero.like(p) for p, nz in zip(ys, y_nz)]
    return carry_out + ys, t_out


def _scan_jvp_split(jprog, consts, carry, xs, c_t, k_t, x_t, nk, ny, params):
    """A primal scan (outputs and stacked residuals), then a scan linear in the tangents."""
    nc, nx = len(consts), len(xs)
    known, residuals, linear = _split_jvp(jprog, nc + nk + nx, nk + ny)
    kp, lp = known.program, linear.program
    res_linear = lp.invars[:len(residuals)]
    position = {v: i for i, v in enumerate(kp.invars)}
    invariant = _invariant_vars(kp, kp.invars[:nc])
    groups = {"invariant": [], "const": [], "stacked": [], "x": []}
    for j, r in enumerate(residuals):
        i = position.get(r)
        if i is None:
            groups["invariant" if r in invariant else "stacked"].append(j)
        elif i < nc:
            groups["const"].append(j)
        elif i < nc + nk:
            groups["stacked"].append(j)     # the carry at each iteration
        else:
            groups["x"].append(j)
    inv_vals = eval_program(_pruned(kp.invars[:nc], kp.eqns,
                                    [residuals[j] for j in groups["invariant"]]).program, (),
                            consts)
    primal_body = _pruned(kp.invars, kp.eqns, list(kp.outvars[:nk + ny]) +
                          [residuals[j] for j in groups["stacked"]])
    outs = _bind_scan(consts, carry, xs, primal_body, **params)
    carry_out, ys, stacked = _split(outs, nk, ny)
    nct, nkt = len(c_t), len(k_t)
    if not lp.outvars:
        return carry_out, ys, [], []
    ct_vars, kt_vars, xt_vars = _split(lp.invars[len(residuals):], nct, nkt)
    lin_consts = [res_linear[j] for j in groups["invariant"] + groups["const"]] + ct_vars
    lin_xs = [res_linear[j] for j in groups["stacked"] + groups["x"]] + xt_vars
    lin_body = _program(lin_consts + kt_vars + lin_xs, lp.eqns, lp.outvars)
    const_vals = [consts[position[residuals[j]]] for j in groups["const"]]
    x_vals = [xs[position[residuals[j]] - nc - nk] for j in groups["x"]]
    outs = _bind_scan(list(inv_vals) + const_vals + c_t, k_t, stacked + x_vals + x_t, lin_body,
                      **params)
    return carry_out, ys, outs[:nkt], outs[nkt:]


@scan_p.def_transpose
def _scan_transpose(cts, *args, body, length, reverse, num_consts, num_carry, unroll):
    # Linear in the carries and in the undefined consts and xs; the defined consts and xs are
    # residuals. The transposed loop runs the other way, carrying the carry cotangent and an
    # accumulator for each linear const's cotangent, and emits the xs cotangents.
    consts, carry, xs = _split(args, num_consts, num_carry)
    c_lin = [is_undefined(c) for c in consts]
    x_lin = [is_undefined(x) for x in xs]
    ct_carry = [instantiate(c) for c in cts[:num_carry]]
    ct_ys = [c for c in cts[num_carry:] if not isinstance(c, Zero)]
    y_nz = [not isinstance(c, Zero) for c in cts[num_carry:]]
    tbody, tconsts = _transposed_scan_body(body, num_consts, num_carry, c_lin, x_lin, y_nz)
    nl_consts = [c for c, lin in zip(consts, c_lin) if not lin]
    nl_xs = [x for x, lin in zip(xs, x_lin) if not lin]
    acc = [_zero_for(c.aval) for c, lin in zip(consts, c_lin) if lin]
    outs = _bind_scan(tconsts + nl_consts, acc + ct_carry, nl_xs + ct_ys, tbody, length,
                      not reverse, unroll)
    ct_consts, ct_init, ct_xs = _split(outs, len(acc), num_carry)
    c_it, x_it = iter(ct_consts), iter(ct_xs)
    return ([next(c_it) if lin else None for lin in c_lin] +
            [ct if is_undefined(k) else None for k, ct in zip(carry, ct_init)] +
            [next(x_it) if lin else None for lin in x_lin])


def _transposed_scan_body(body, nc, nk, c_lin, x_lin, y_nz):
    p = body.program
    n_x = len(p.invars) - nc - nk
    linear = _linear_and_rest(p, c_lin + [True] * nk + x_lin)
    avals = body.in_avals
    c_avals, k_avals, x_avals = _split(avals, nc, nk)
    y_avals = body.out_avals[nk:]
    n_lc, n_lx = sum(c_lin), sum(x_lin)
    in_avals = ([a for a, lin in zip(c_avals, c_lin) if not lin] +
                [tangent_aval(a) for a, lin in zip(c_avals, c_lin) if lin] +
                [tangent_aval(a) for a in k_avals] +
                [a for a, lin in zip(x_avals, x_lin) if not lin] +
                [tangent_aval(a) for a, nz in zip(y_avals, y_nz) if nz])

    def fun(args):
        nl_c, acc, ct_k, nl_x, ct_y = _split(args, nc - n_lc, n_lc, nk, n_x - n_lx)
        it = iter(ct_y)
        cts_out = ct_k + [next(it) if nz else Zero(tangent_aval(a))
                          for a, nz in zip(y_avals, y_nz)]
        ct_c, ct_kin, ct_x = _split(backward_pass(linear, nl_c + nl_x, cts_out), n_lc, nk)
        return ([add_tangents(a, c) for a, c in zip(acc, ct_c)] +
                [instantiate(c) for c in ct_kin] + [instantiate(c) for c in ct_x])

    return _trace(fun, in_avals)


@scan_p.def_batch
def _scan_batch(args, dims, *, body, length, reverse, num_consts, num_carry, unroll):
    size = batch_size(args, dims)
    nc, nk = num_consts, num_carry
    ny = len(body.out_avals) - nk
    c_b, k_b, x_b = _split([d is not None for d in dims], nc, nk)
    while True:     # carries that become batched after some iteration
        prog, pconsts, out_b = _batch_program(body, c_b + k_b + x_b, size, k_b + [False] * ny)
        grown = [a or b for a, b in zip(k_b, out_b[:nk])]
        if grown == k_b:
            break
        k_b = grown
    consts, carry, xs = _split(args, nc, nk)
    c_d, k_d, x_d = _split(dims, nc, nk)
    consts = [c if d is None else moveaxis(c, d, 0) for c, d in zip(consts, c_d)]
    carry = [bdim_at(c, d, size, 0) if b else c for c, d, b in zip(carry, k_d, k_b)]
    xs = [x if d is None else moveaxis(x, d, 1) for x, d in zip(xs, x_d)]
    outs = _bind_scan(pconsts + consts, carry, xs, prog, length, reverse, unroll)
    return outs, [0 if b else None for b in k_b] + [1 if b else None for b in out_b[nk:]]


# Scans up to this many body equations in all are followed iteration by iteration (exact);
# longer ones take the carry's fixed point and the union of the xs slices (a superset).
SCAN_SPARSITY_UNROLL = 20_000


@scan_p.def_sparsity
def _scan_sparsity(ins, out_avals, *, body, length, reverse, num_consts, num_carry, unroll):
    consts, carry, xs = _split(ins, num_consts, num_carry)
    n = ins[0].n_inputs
    ys_avals = body.out_avals[num_carry:]
    carry = [c.pattern for c in carry]

    def run(carry_pats, xs_deps):
        deps = consts + [_sparsity.Deps(a, p) for a, p in
                         zip(body.in_avals[num_consts:num_consts + num_carry], carry_pats)]
        return program_deps(body, deps + xs_deps, n)

    def rows(d, t):      # the Deps of slice t of an xs operand
        size = d.aval.size // max(length, 1)
        pat = _sparsity.take_rows(d.pattern, np.arange(t * size, (t + 1) * size) + 1)
        return _sparsity.Deps(d.aval.update(shape=d.aval.shape[1:]), pat,
                              None if d.value is None else np.asarray(d.value)[t])

    if length * max(len(body.eqns), 1) <= SCAN_SPARSITY_UNROLL:
        ys = [[None] * length for _ in ys_avals]
        for t in (range(length - 1, -1, -1) if reverse else range(length)):
            out = run(carry, [rows(d, t) for d in xs])
            carry = out[:num_carry]
            for j, y in enumerate(out[num_carry:]):
                ys[j][t] = y
        return carry + [_sparsity.stack(y, n) if length else _sparsity.empty(0, n) for y in ys]
    # Every iteration sees some slice of xs: let each see the union of all of them.
    merged = []
    for d in xs:
        size = d.aval.size // length
        pat = _sparsity.groups(d.pattern, np.arange(d.aval.size) % size, size)
        merged.append(_sparsity.Deps(d.aval.update(shape=d.aval.shape[1:]), pat))
    carry = fixed_point(lambda c: run(c, merged)[:num_carry], carry, n,
                                  [d.pattern for d in consts + merged])
    ys = run(carry, merged)[num_carry:]
    return carry + [_sparsity.take_rows(y, np.tile(np.arange(y.shape[0]) + 1, length))
                    for y in ys]


@scan_p.def_cost
def _scan_cost(*avals, body, length, **params):
    return program_cost(body).scale(length)


scan_p.cost_kind = "control_flow"     # the cost model times its body, length times
scan_p.cost_programs = lambda *, body, length, num_carry, **_: [(body, length, num_carry)]


scan_p.def_loop_lowering(loop_lowering.scan)


def _scan_numpy_run(runner, **params):
    """The scan as a Python loop over its body's numpy function (backend.numpy_run); compiled
    once a run goes over the loop budget."""
    body, length, num_consts, num_carry = (params[k] for k in
                                           ("body", "length", "num_consts", "num_carry"))
    run, avals = runner(body), body.out_avals
    y_avals = avals[num_carry:]
    order = range(length - 1, -1, -1) if params["reverse"] else range(length)
    budget = numpy_run.LoopBudget(scan_p, params, executable_for)
    in_avals = list(body.in_avals[:num_consts + num_carry]) + \
        [a.update(shape=(length,) + a.shape) for a in body.in_avals[num_consts + num_carry:]]

    def scan(*args):
        if budget.compiled is not None:
            return budget.compiled(*args)
        consts, carry, xs = _split(args, num_consts, num_carry)
        ys = [np.empty((length,) + a.shape, a.dtype) for a in y_avals]
        for n, i in enumerate(order):
            out = run(*consts, *carry, *[x[i] for x in xs])
            carry = out[:num_carry]
            for y, o in zip(ys, out[num_carry:]):
                y[i] = o
            if n & 15 == 15 and budget.over():
                return budget.compile(in_avals)(*args)     # (from its start: the xs)
        return numpy_run.typed(carry, avals) + ys
    return scan


scan_p.numpy_run = _scan_numpy_run


@scan_p.def_lowering
@Driver
def _scan_lowering(ctx, args, *, body, length, reverse, num_consts, num_carry, unroll):
    # One njit function running every iteration (functrans/backend/loops.py); a Python loop
    # over the body's compiled driver when the body has primitives it cannot compile.
    fast = compile_loop(ctx, "scan", args, dict(body=body, length=length, reverse=reverse,
                                                num_consts=num_consts, num_carry=num_carry))
    if fast is not None:
        return fast
    # unroll does not change the driver loop: each iteration's cost is the body's call.
    names = [f"a{i}" for i in range(len(args))]
    c, k, x = _split(names, num_consts, num_carry)
    y_avals = body.out_avals[num_carry:]
    y, stacks = [f"y{j}" for j in range(len(y_avals))], [f"s{j}" for j in range(len(y_avals))]
    order = f"range({length - 1}, -1, -1)" if reverse else f"range({length})"
    avals = ctx.in_avals
    lines = [f"def scan_loop({', '.join(names)}):"] + _contiguous(names, avals, 4)
    lines += [f"    {s} = np.empty(shape{j}, dtype{j})" for j, s in enumerate(stacks)]
    lines += [f"    for i in {order}:",
              f"        {_assign(k + y)}body({', '.join(c + k + [n + '[i]' for n in x])})"]
    lines += _contiguous(k, body.out_avals[:num_carry], 8)
    lines += [f"        {s}[i] = {v}" for s, v in zip(stacks, y)]
    lines += [f"    return {_tuple(k + stacks)}"]
    env = {"body": executable_for(body)}
    for j, a in enumerate(y_avals):
        env[f"shape{j}"], env[f"dtype{j}"] = (length,) + a.shape, a.dtype
    return f"{_generated(ctx, 'scan_loop', lines, env)}({', '.join(args)})"


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Loop f(carry, x) -> (carry, y) over the leading axis of xs (jax.lax.scan): returns the
    final carry and the ys stacked. Stays one loop in the program; reverse mode keeps only
    per-iteration residuals."""
    _check_callable("scan", f=f)
    return _scan(f, init, xs, length, reverse, unroll, ("scan", "the scanned function f", None))


def _scan(f, init, xs, length, reverse, unroll, label):
    x_leaves, x_tree = tree_util.tree_flatten(xs)
    x_avals = [get_aval(x) for x in x_leaves]
    for a in x_avals:
        if a.ndim == 0:
            raise ValueError(f"lax.scan got value with no leading axis to scan over: "
                             f"{a.str_short()} in xs={_types(x_tree, x_avals)}")
    sizes = sorted({a.shape[0] for a in x_avals})
    if length is not None:
        length = operator.index(length)
        if sizes and sizes != [length]:
            raise ValueError(f"lax.scan got `length` argument of {length} which disagrees with "
                             f"leading axis sizes {sizes} of xs={_types(x_tree, x_avals)}")
    elif not sizes:
        raise ValueError("lax.scan got no values to scan over and `length` not provided")
    elif len(sizes) > 1:
        raise ValueError(f"lax.scan got values with different leading axis sizes: "
                         f"xs={_types(x_tree, x_avals)}")
    else:
        length = sizes[0]
    if length < 0:
        raise ValueError(f"lax.scan: length must be nonnegative, got {length}")
    if isinstance(unroll, bool):
        unroll = builtins.max(length, 1) if unroll else 1
    unroll = operator.index(unroll)
    if unroll < 1:
        raise ValueError(f"lax.scan: unroll must be a positive int or a bool, got {unroll}")
    c_leaves, c_tree = tree_util.tree_flatten(init)
    nk = len(c_leaves)

    def body(carry, x):
        out = f(tree_util.tree_unflatten(c_tree, carry), tree_util.tree_unflatten(x_tree, x))
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"lax.scan: f must return a pair (carry, y), got "
                            f"{type(out).__name__}")
        new_leaves, new_tree = tree_util.tree_flatten(out[0])
        y_leaves, y_tree = tree_util.tree_flatten(out[1])
        return new_leaves + y_leaves, (new_tree, y_tree)

    x_slices = [a.update(shape=a.shape[1:]) for a in x_avals]
    origins = ([f"the loop carry of lax.{label[0]}"] * nk +
               [f"a slice of xs in lax.{label[0]}"] * len(x_avals))
    prog, consts, c_avals, y_tree = _trace_loop_body(
        label, body, c_tree, [get_aval(c) for c in c_leaves], x_slices, origins)
    outs = _bind_scan(consts, [_coerce(c, a) for c, a in zip(c_leaves, c_avals)], x_leaves,
                      prog, length, bool(reverse), unroll)
    return (tree_util.tree_unflatten(c_tree, outs[:nk]),
            tree_util.tree_unflatten(y_tree, outs[nk:]))


def map(f, xs, *, batch_size=None):
    """[f(x) for x in xs] along the leading axis, as a scan (jax.lax.map); with batch_size,
    vmap(f) over batches of that many elements."""
    _check_callable("map", f=f)
    if batch_size is None:
        return scan(lambda _, x: ((), f(x)), (), xs)[1]
    leaves = tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError("lax.map: xs has no arrays to map over")
    n = get_aval(leaves[0]).shape[0]
    batches, rest = divmod(n, operator.index(batch_size))
    parts = []
    if batches:
        grouped = tree_util.tree_map(
            lambda x: reshape(slice_in_dim(x, 0, batches * batch_size),
                              (batches, batch_size) + get_aval(x).shape[1:]), xs)
        ys = scan(lambda _, x: ((), vmap(f)(x)), (), grouped)[1]
        parts.append(tree_util.tree_map(
            lambda y: reshape(y, (batches * batch_size,) + get_aval(y).shape[2:]), ys))
    if rest:
        parts.append(vmap(f)(tree_util.tree_map(lambda x: slice_in_dim(x, n - rest, n), xs)))
    if len(parts) == 1:
        return parts[0]
    return tree_util.tree_map(lambda a, b: concatenate([a, b], 0), *parts)


# --- cond (and switch) ---------------------------------------------------------------------------

def _cond_shape_rule(index, *ops, branches):
    if index.shape != () or index.dtype != dtypes.int32:
        raise TypeError(f"lax.cond: the branch index must be an int32 scalar, got "
                        f"{index.str_short()}")
    outs = branches[0].out_avals
    for i, br in enumerate(branches):
        if not _all_same(br.in_avals, ops):
            raise TypeError(f"lax.cond: branch {i} takes "
                            f"({', '.join(a.str_short() for a in br.in_avals)}) but the "
                            f"operands are ({', '.join(a.str_short() for a in ops)})")
        if not _all_same(br.out_avals, outs):
            raise TypeError(f"lax.cond: branch {i} returns "
                            f"({', '.join(a.str_short() for a in br.out_avals)}) but branch 0 "
                            f"returns ({', '.join(a.str_short() for a in outs)})")
    return [ShapedArray(a.shape, a.dtype, all(br.out_avals[j].weak_type for br in branches))
            for j, a in enumerate(outs)]


def _cond_impl(index, *ops, branches):
    branch = branches[builtins.min(builtins.max(int(index), 0), len(branches) - 1)]
    return [np.asarray(o, a.dtype) for o, a in zip(eval_closed(branch, *ops),
                                                   branch.out_avals)]


cond_p = Primitive("cond", impl=_cond_impl, shape_rule=_cond_shape_rule,
                   multiple_results=True,
                   jac_structure="the taken branch's (a selection among the branches' Jacobians); "
                            "zero in the index")


@cond_p.def_jvp
def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    nz = [not isinstance(t, Zero) for t in tangents[1:]]
    n_out = len(branches[0].out_avals)
    jvps = [_jvp_program(br, nz, [False] * n_out) for br in branches]
    out_nz = [builtins.any(j[2][i] for j in jvps) for i in range(n_out)]
    jvps = [j if j[2] == out_nz else _jvp_program(br, nz, out_nz)
            for j, br in zip(jvps, branches)]
    progs, hoisted = _join_consts([(p, c) for p, c, _ in jvps])
    t_in = [t for t, z in zip(tangents[1:], nz) if z]
    if not _staged_apart(tangents):
        outs = cond_p.bind(index, *hoisted, *ops, *t_in, branches=progs)
        p_out, t_nz = outs[:n_out], outs[n_out:]
    else:
        p_out, t_nz = _cond_jvp_split(index, progs, hoisted + list(ops), t_in, n_out)
    it = iter(t_nz)
    return p_out, [next(it) if z else Zero.like(p) for p, z in zip(p_out, out_nz)]


def _cond_jvp_split(index, progs, known_ops, t_in, n_out):
    """A cond computing primal outputs and the taken branch's residuals (other branches'
    residual slots filled with zeros), then a cond linear in the tangents."""
    splits = [_split_jvp(p, len(known_ops), n_out) for p in progs]
    slots, slot_of, op_of, needed = [], [], [], set()
    for known, residuals, _ in splits:
        position = {v: i for i, v in enumerate(known.program.invars)}
        used, assign, ops_at = set(), {}, {}
        for k, r in enumerate(residuals):
            if r in position:       # an operand: pass it to the linear cond directly
                ops_at[k] = position[r]
                needed.add(position[r])
                continue
            j = next((j for j, a in enumerate(slots) if j not in used and _same_type(a, r.aval)),
                     None)
            if j is None:
                j = len(slots)
                slots.append(r.aval)
            used.add(j)
            assign[k] = j
        slot_of.append(assign)
        op_of.append(ops_at)
    needed = sorted(needed)

    def known_branch(known, residuals, assign):
        def fun(args):
            outs = eval_closed(known, *args)
            values = [None] * len(slots)
            for k, v in enumerate(outs[n_out:]):
                if k in assign:
                    values[assign[k]] = v
            return outs[:n_out] + [_zeros(a) if v is None else v
                                   for a, v in zip(slots, values)]
        return fun

    known_avals = [get_aval(x) for x in known_ops]
    traced = [_trace(known_branch(k, r, a), known_avals)
              for (k, r, _), a in zip(splits, slot_of)]
    known_progs, kconsts = _join_consts(traced)
    outs = cond_p.bind(index, *kconsts, *known_ops, branches=known_progs)
    p_out, slot_vals = outs[:n_out], outs[n_out:]

    def linear_branch(residuals, linear, assign, ops_at):
        def fun(args):
            slot_args, op_args, tans = _split(args, len(slots), len(needed))
            ops = dict(zip(needed, op_args))
            res = [slot_args[assign[k]] if k in assign else ops[ops_at[k]]
                   for k in range(len(residuals))]
            return eval_closed(linear, *res, *tans)
        return fun

    lin_avals = list(slots) + [known_avals[i] for i in needed] + [get_aval(t) for t in t_in]
    traced = [_trace(linear_branch(r, lin, a, o), lin_avals)
              for (_, r, lin), a, o in zip(splits, slot_of, op_of)]
    lin_progs, lconsts = _join_consts(traced)
    if not lin_progs[0].program.outvars:
        return p_out, []
    t_out = cond_p.bind(index, *lconsts, *slot_vals, *[known_ops[i] for i in needed], *t_in,
                        branches=lin_progs)
    return p_out, t_out


@cond_p.def_transpose
def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise FunctransError("lax.cond is not linear in its branch index")
    lin = [is_undefined(o) for o in ops]
    ct_nz = [not isinstance(c, Zero) for c in cts]
    nl_avals = [a for a, is_lin in zip(branches[0].in_avals, lin) if not is_lin]
    ct_avals = [tangent_aval(a) for a, nz in zip(branches[0].out_avals, ct_nz) if nz]
    n_nl = len(nl_avals)

    def transposed(branch):
        linear = _linear_and_rest(branch.program, lin)

        def fun(args):
            it = iter(args[n_nl:])
            cts_out = [next(it) if nz else Zero(tangent_aval(a))
                       for a, nz in zip(branch.out_avals, ct_nz)]
            return [instantiate(c) for c in backward_pass(linear, args[:n_nl], cts_out)]
        return fun

    progs, consts = _join_consts([_trace(transposed(br), nl_avals + ct_avals)
                                  for br in branches])
    outs = cond_p.bind(index, *consts, *[o for o, is_lin in zip(ops, lin) if not is_lin],
                       *[c for c in cts if not isinstance(c, Zero)], branches=progs)
    it = iter(outs)
    return [None] + [next(it) if is_lin else None for is_lin in lin]


@cond_p.def_batch
def _cond_batch(args, dims, *, branches):
    size = batch_size(args, dims)
    (index, *ops), (i_dim, *o_dims) = args, dims
    n_out = len(branches[0].out_avals)
    if i_dim is not None:
        # Members take different branches: run every branch on the whole batch and select.
        which = clamp(np.int32(0), moveaxis(index, i_dim, 0), np.int32(len(branches) - 1))
        outs = []
        for i, br in enumerate(branches):
            masked = [_untaken_without_derivative(o, d, which, i, size)
                      for o, d in zip(ops, o_dims)]
            in_axes = tuple(0 if m is not o else d for m, o, d in zip(masked, ops, o_dims))
            outs.append(vmap(lambda *o, br=br: eval_closed(br, *o), in_axes=in_axes,
                             axis_size=size)(*masked))
        return [select_n(broadcast_in_dim(which, get_aval(cases[0]).shape, (0,)), *cases)
                for cases in zip(*outs)], [0] * n_out
    batched = [d is not None for d in o_dims]
    traced = [_batch_program(br, batched, size, [False] * n_out) for br in branches]
    out_b = [builtins.any(t[2][i] for t in traced) for i in range(n_out)]
    traced = [t if t[2] == out_b else _batch_program(br, batched, size, out_b)
              for t, br in zip(traced, branches)]
    progs, consts = _join_consts([(p, c) for p, c, _ in traced])
    ops = [o if d is None else moveaxis(o, d, 0) for o, d in zip(ops, o_dims)]
    outs = cond_p.bind(index, *consts, *ops, branches=progs)
    return outs, [0 if b else None for b in out_b]


def _untaken_without_derivative(x, dim, which, i, size):
    """x as branch i sees it when members of a batch take different branches: every member
    runs every branch, so for the members that do not take branch i its operands are replaced
    by stop_gradient of themselves. The values are the same, but no derivative flows back
    through an untaken branch: without this, a branch that is singular where it is not taken
    (sqrt at 0 behind `x > 0`) would send 0 * inf = NaN into the gradient."""
    if not dtypes.is_inexact(get_aval(x).dtype):
        return x
    x = bdim_at(x, dim, size)
    taken = broadcast_in_dim(eq(which, np.int32(i)), get_aval(x).shape, (0,))
    return select_n(taken, stop_gradient(x), x)


@cond_p.def_sparsity
def _cond_sparsity(ins, out_avals, *, branches):
    # A known index takes one branch; a traced one could take any: the union of the branches'.
    index, ops = ins[0], ins[1:]
    n = index.n_inputs
    taken = branches if index.value is None else \
        [branches[int(np.clip(index.value, 0, len(branches) - 1))]]
    per_branch = [program_deps(b, ops, n) for b in taken]
    return [_sparsity.union(list(ps), a.size, n) for a, ps in zip(out_avals, zip(*per_branch))]


cond_p.cost_kind = "control_flow"
# the most expensive branch, as far as its length says
cond_p.cost_programs = lambda *, branches: [(max(branches, key=lambda b: len(b.eqns)), 1, 0)]


@cond_p.def_cost
def _cond_cost(*avals, branches):
    # The costliest branch: an upper bound for whichever one runs.
    return builtins.max((program_cost(br) for br in branches),
                        key=lambda c: (c.flops, c.bytes))


cond_p.def_loop_lowering(loop_lowering.cond)


def _cond_numpy_run(runner, *, branches):
    runs = [runner(br) for br in branches]

    def cond(index, *ops):
        i = builtins.min(builtins.max(int(index), 0), len(runs) - 1)
        return numpy_run.typed(runs[i](*ops), branches[i].out_avals)
    return cond


cond_p.numpy_run = _cond_numpy_run


@cond_p.def_lowering
@Driver
def _cond_lowering(ctx, args, *, branches):
    ops = [f"a{i}" for i in range(1, len(args))]
    call = [f"return b{i}({', '.join(ops)})" for i in range(len(branches))]
    lines = [f"def cond_branch({', '.join(['index'] + ops)}):"]
    lines += _contiguous(ops, ctx.in_avals[1:], 4) + ["    if index <= 0:", f"        {call[0]}"]
    for i in range(1, len(branches) - 1):
        lines += [f"    if index == {i}:", f"        {call[i]}"]
    lines.append(f"    {call[-1]}")
    env = {f"b{i}": executable_for(br) for i, br in enumerate(branches)}
    return f"{_generated(ctx, 'cond_branch', lines, env)}({', '.join(args)})"


def _cond(index, funs, names, operands, name):
    leaves, in_tree = tree_util.tree_flatten(tuple(operands))
    avals = [get_aval(x) for x in leaves]
    origins = [f"an operand of lax.{name}"] * len(leaves)

    def traced(f, casts):
        def flat(tracers):
            out_leaves, tree = tree_util.tree_flatten(f(*tree_util.tree_unflatten(in_tree,
                                                                                 tracers)))
            return out_leaves, tree
        return _trace_user(flat, avals, origins, casts)

    results = [traced(f, {}) for f in funs]
    trees = [t for _, _, t in results]
    outs = [p.out_avals for p, _, _ in results]
    casts = [{} for _ in funs]
    for i in range(1, len(funs)):
        if trees[i] != trees[0] or any(a.shape != b.shape for a, b in zip(outs[0], outs[i])):
            raise TypeError(f"lax.{name}: {names[0]} and {names[i]} must return the same "
                            f"pytree structure and shapes, but {names[0]} returns "
                            f"{_types(trees[0], outs[0])} and {names[i]} returns "
                            f"{_types(trees[i], outs[i])}")
    for j in range(len(outs[0])):
        col = [o[j] for o in outs]
        if len({a.dtype for a in col}) == 1:
            continue
        target, weak = dtypes.result_type(*[(a.dtype, a.weak_type) for a in col])
        strong = {a.dtype for a in col if not a.weak_type}
        if strong and strong != {target}:
            shown = "\n".join(f"  {n} returns {_types(t, o)}" for n, t, o in
                              zip(names, trees, outs))
            raise TypeError(f"lax.{name}: the branches must return the same types (output "
                            f"{j} differs: {', '.join(a.str_short() for a in col)})\n{shown}")
        for i, a in enumerate(col):
            if a.dtype != target:
                casts[i][j] = (target, weak)
    results = [traced(f, c) if c else r for f, c, r in zip(funs, casts, results)]
    branches, consts = _join_consts([(p, c) for p, c, _ in results])
    out = cond_p.bind(index, *consts, *leaves, branches=branches)
    return tree_util.tree_unflatten(trees[0], out)


def cond(pred, true_fun, false_fun, *operands):
    """true_fun(*operands) if pred else false_fun(*operands) (jax.lax.cond): both branches are
    staged into the program, one runs. Under vmap with a batched pred both run and the results
    are selected."""
    _check_callable("cond", true_fun=true_fun, false_fun=false_fun)
    if pred is None or isinstance(pred, (tuple, list)):
        raise TypeError(f"lax.cond: pred must be a scalar, got {pred!r:.60}")
    aval = get_aval(pred)
    if aval.shape != ():
        raise TypeError(f"lax.cond: pred must be a scalar, got {aval.str_short()}")
    if aval.dtype.kind in "iuf":
        pred = ne(pred, 0)
    elif aval.dtype.kind != "b":
        raise TypeError(f"lax.cond: pred type must be either boolean or number, got "
                        f"{aval.str_short()}")
    index = convert_element_type(pred, dtypes.int32)
    return _cond(index, (false_fun, true_fun), ("false_fun", "true_fun"), operands, "cond")


def switch(index, branches, *operands):
    """branches[clamp(index, 0, len(branches) - 1)](*operands) (jax.lax.switch)."""
    branches = tuple(branches)
    if not branches:
        raise ValueError("lax.switch: branches must be a non-empty sequence of functions")
    _check_callable("switch", **{f"branches[{i}]": b for i, b in enumerate(branches)})
    aval = get_aval(index)
    if aval.shape != () or not dtypes.is_integer(aval.dtype):
        raise TypeError(f"lax.switch: index must be an integer scalar, got {aval.str_short()}")
    index = clamp(np.int32(0), convert_element_type(index, dtypes.int32),
                  np.int32(len(branches) - 1))
    if len(branches) == 1:
        return branches[0](*operands)
    return _cond(index, branches, [f"branches[{i}]" for i in range(len(branches))], operands,
                 "switch")


# --- while_loop ----------------------------------------------------------------------------------

def _while_shape_rule(*avals, cond_program, body_program, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(avals, cond_nconsts, body_nconsts)
    for name, prog, ins in (("cond", cond_program, cc + carry),
                            ("body", body_program, bc + carry)):
        if not _all_same(prog.in_avals, ins):
            raise TypeError(f"lax.while_loop: the {name} program takes "
                            f"({', '.join(a.str_short() for a in prog.in_avals)}) but gets "
                            f"({', '.join(a.str_short() for a in ins)})")
    pred = cond_program.out_avals
    if len(pred) != 1 or pred[0].shape != () or pred[0].dtype != dtypes.bool_:
        raise TypeError(f"lax.while_loop: the cond program must return a bool scalar, got "
                        f"({', '.join(a.str_short() for a in pred)})")
    outs = body_program.out_avals
    if not _all_same(outs, carry):
        raise TypeError(f"lax.while_loop: the body maps the carry "
                        f"({', '.join(a.str_short() for a in carry)}) to "
                        f"({', '.join(a.str_short() for a in outs)})")
    return list(outs)


def _while_impl(*args, cond_program, body_program, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    while eval_closed(cond_program, *cc, *carry)[0]:
        carry = eval_closed(body_program, *bc, *carry)
    return [np.asarray(c, a.dtype) for c, a in zip(carry, body_program.out_avals)]


while_loop_p = Primitive("while_loop", impl=_while_impl, shape_rule=_while_shape_rule,
                         multiple_results=True,
                         jac_structure="the body's, composed over the iterations taken; zero "
                                  "through the loop condition")


@while_loop_p.def_jvp
def _while_jvp(primals, tangents, *, cond_program, body_program, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(primals, cond_nconsts, body_nconsts)
    _, bc_t, k_t = _split(tangents, cond_nconsts, body_nconsts)
    b_nz = [not isinstance(t, Zero) for t in bc_t]
    k_nz = [not isinstance(t, Zero) for t in k_t]
    nk = len(carry)
    while True:
        jprog, jconsts, out_nz = _jvp_program(body_program, b_nz + k_nz, k_nz)
        grown = [a or b for a, b in zip(k_nz, out_nz)]
        if grown == k_nz:
            break
        k_nz = grown
    bc_t = [t for t, nz in zip(bc_t, b_nz) if nz]
    k_t = [instantiate(t) for t, nz in zip(k_t, k_nz) if nz]
    h, b, k, bt, kt = _split(range(len(jprog.in_avals)), len(jconsts), len(bc), nk, len(bc_t))
    body = _reorder(jprog, h + b + bt + k + kt)
    n_cond = len(cond_program.in_avals)
    cond, cconsts = _trace(lambda args: eval_closed(cond_program, *args[:n_cond]),
                           cond_program.in_avals + [get_aval(t) for t in k_t])
    outs = while_loop_p.bind(*cconsts, *cc, *jconsts, *bc, *bc_t, *carry, *k_t,
                             cond_program=cond, body_program=body,
                             cond_nconsts=len(cconsts) + len(cc),
                             body_nconsts=len(jconsts) + len(bc) + len(bc_t))
    p_out, kt_out = outs[:nk], outs[nk:]
    if _staged_apart(tangents):
        # The loop above lands in the linear program (and has no transpose: reverse mode
        # fails there, as in JAX); the primal outputs must come from a primal loop.
        p_out = while_loop_p.bind(*primals, cond_program=cond_program,
                                  body_program=body_program, cond_nconsts=cond_nconsts,
                                  body_nconsts=body_nconsts)
    it = iter(kt_out)
    return p_out, [next(it) if nz else Zero.like(p) for p, nz in zip(p_out, k_nz)]


@while_loop_p.def_transpose
def _while_transpose(cts, *args, **params):
    raise FunctransError(
        "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with a "
        "trip count that is not known at trace time (dynamic lower/upper bounds): no residuals "
        "can be stored for an unknown number of iterations. Use lax.scan, or lax.fori_loop "
        "with Python int (static) bounds, which becomes a scan; forward mode (jvp, jacfwd) "
        "works with while_loop.")


@while_loop_p.def_batch
def _while_batch(args, dims, *, cond_program, body_program, cond_nconsts, body_nconsts):
    size = batch_size(args, dims)
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    cc_d, bc_d, k_d = _split(dims, cond_nconsts, body_nconsts)
    cc_b, bc_b = [d is not None for d in cc_d], [d is not None for d in bc_d]
    k_b = [d is not None for d in k_d]
    while True:
        _, _, pred_b = _batch_program(cond_program, cc_b + k_b, size, [False])
        if pred_b[0]:       # members stop at different times: every carry is per member
            k_b = [True] * len(carry)
        body, bconsts, out_b = _batch_program(body_program, bc_b + k_b, size, k_b)
        grown = [a or b for a, b in zip(k_b, out_b)]
        if grown == k_b:
            break
        k_b = grown
    cond, cconsts, _ = _batch_program(cond_program, cc_b + k_b, size, [False])
    cc = cconsts + [c if d is None else moveaxis(c, d, 0) for c, d in zip(cc, cc_d)]
    bc = bconsts + [c if d is None else moveaxis(c, d, 0) for c, d in zip(bc, bc_d)]
    carry = [bdim_at(c, d, size, 0) if b else c for c, d, b in zip(carry, k_d, k_b)]
    if not pred_b[0]:
        outs = while_loop_p.bind(*cc, *bc, *carry, cond_program=cond, body_program=body,
                                 cond_nconsts=len(cc), body_nconsts=len(bc))
        return outs, [0 if b else None for b in k_b]
    # Loop while any member goes on; a member that is done keeps its carry.
    n_cc, n_bc = len(cc), len(bc)
    carry_avals = [get_aval(c) for c in carry]
    cc_avals, bc_avals = [get_aval(c) for c in cc], [get_aval(c) for c in bc]
    any_cond, ac = _trace(lambda a: [reduce_max(eval_closed(cond, *a)[0], (0,))],
                          cc_avals + carry_avals)

    def select_body(a):
        c_args, b_args, old = _split(a, n_cc, n_bc)
        going = eval_closed(cond, *c_args, *old)[0]
        new = eval_closed(body, *b_args, *old)
        return [select_n(broadcast_in_dim(going, get_aval(o).shape, (0,)), o, n)
                for o, n in zip(old, new)]

    sel_body, sc = _trace(select_body, cc_avals + bc_avals + carry_avals)
    outs = while_loop_p.bind(*ac, *cc, *sc, *cc, *bc, *carry, cond_program=any_cond,
                             body_program=sel_body, cond_nconsts=len(ac) + n_cc,
                             body_nconsts=len(sc) + n_cc + n_bc)
    return outs, [0] * len(outs)


@while_loop_p.def_sparsity
def _while_sparsity(ins, out_avals, *, cond_program, body_program, cond_nconsts, body_nconsts):
    # Any number of iterations may run: the carry's fixed point under the body (the condition
    # only decides when to stop, with zero derivative).
    _, body_consts, carry = _split(ins, cond_nconsts, body_nconsts)
    n = ins[0].n_inputs

    def step(pats):
        return program_deps(body_program, body_consts + [
            _sparsity.Deps(c.aval, p) for c, p in zip(carry, pats)], n)
    return fixed_point(step, [c.pattern for c in carry], n,
                                 [d.pattern for d in body_consts])


while_loop_p.cost_kind = "control_flow"
while_loop_p.cost_programs = lambda *, cond_program, body_program, **_: [
    (cond_program, None, 0), (body_program, None, len(body_program.out_avals))]


@while_loop_p.def_cost
def _while_cost(*avals, cond_program, body_program, **params):
    # The trip count is unknown until the loop runs: this is the cost of one iteration.
    return program_cost(cond_program) + program_cost(body_program)


while_loop_p.def_loop_lowering(loop_lowering.while_loop)


def _while_numpy_run(runner, **params):
    """The while_loop as a Python loop over its condition's and body's numpy functions; once
    over the loop budget, it goes on compiled from the carry it has reached."""
    cond_program, body_program = params["cond_program"], params["body_program"]
    cond_nconsts, body_nconsts = params["cond_nconsts"], params["body_nconsts"]
    test, step = runner(cond_program), runner(body_program)
    budget = numpy_run.LoopBudget(while_loop_p, params, executable_for)
    in_avals = list(cond_program.in_avals[:cond_nconsts]) + list(body_program.in_avals)

    def while_loop(*args):
        if budget.compiled is not None:
            return budget.compiled(*args)
        cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
        n = 0
        while test(*cc, *carry)[0]:
            carry = step(*bc, *carry)
            n += 1
            if n & 15 == 0 and budget.over():
                return budget.compile(in_avals)(*cc, *bc, *carry)
        return numpy_run.typed(carry, body_program.out_avals)
    return while_loop


while_loop_p.numpy_run = _while_numpy_run


@while_loop_p.def_lowering
@Driver
def _while_lowering(ctx, args, *, cond_program, body_program, cond_nconsts, body_nconsts):
    fast = compile_loop(ctx, "while_loop", args, dict(
        cond_program=cond_program, body_program=body_program, cond_nconsts=cond_nconsts,
        body_nconsts=body_nconsts))
    if fast is not None:
        return fast
    names = [f"a{i}" for i in range(len(args))]
    cc, bc, k = _split(names, cond_nconsts, body_nconsts)
    lines = [f"def while_loop({', '.join(names)}):"] + _contiguous(names, ctx.in_avals, 4)
    lines += [f"    while cond({', '.join(cc + k)})[0]:",
              f"        {_assign(k)}body({', '.join(bc + k)})"]
    lines += _contiguous(k, body_program.out_avals, 8) + [f"    return {_tuple(k)}"]
    env = {"cond": executable_for(cond_program), "body": executable_for(body_program)}
    return f"{_generated(ctx, 'while_loop', lines, env)}({', '.join(args)})"


def while_loop(cond_fun, body_fun, init_val):
    """while cond_fun(val): val = body_fun(val), as one loop in the program
    (jax.lax.while_loop). Forward mode only: use scan/fori_loop for reverse mode."""
    _check_callable("while_loop", cond_fun=cond_fun, body_fun=body_fun)
    return _while_loop(cond_fun, body_fun, init_val, ("while_loop", "body_fun", None))


def _while_loop(cond_fun, body_fun, init_val, label):
    leaves, tree = tree_util.tree_flatten(init_val)
    nk = len(leaves)

    def body(carry, _):
        new_leaves, new_tree = tree_util.tree_flatten(
            body_fun(tree_util.tree_unflatten(tree, carry)))
        return new_leaves, (new_tree, None)

    origins = [f"the loop carry of lax.{label[0]}"] * nk
    body_prog, body_consts, avals, _ = _trace_loop_body(
        label, body, tree, [get_aval(x) for x in leaves], [], origins)

    def pred(carry):
        out = tree_util.tree_leaves(cond_fun(tree_util.tree_unflatten(tree, carry)))
        return out, None

    cond_prog, cond_consts, _ = _trace_user(pred, avals, origins, {})
    out = cond_prog.out_avals
    if len(out) != 1 or out[0].shape != () or out[0].dtype != dtypes.bool_:
        raise TypeError(f"lax.while_loop: cond_fun must return a boolean scalar, but got "
                        f"output type(s) [{', '.join(a.str_short() for a in out)}]")
    outs = while_loop_p.bind(*cond_consts, *body_consts,
                             *[_coerce(x, a) for x, a in zip(leaves, avals)],
                             cond_program=cond_prog, body_program=body_prog,
                             cond_nconsts=len(cond_consts), body_nconsts=len(body_consts))
    return tree_util.tree_unflatten(tree, outs)


def _concrete_int(x):
    if isinstance(x, Tracer):
        x = x.concrete_value()
        if x is None:
            return None
    return int(np.asarray(x))


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """for i in range(lower, upper): val = body_fun(i, val) (jax.lax.fori_loop). With bounds
    known at trace time it is a scan (reverse mode works); otherwise a while_loop."""
    _check_callable("fori_loop", body_fun=body_fun)
    for name, v in (("lower", lower), ("upper", upper)):
        a = get_aval(v)
        if a.shape != () or not dtypes.is_integer(a.dtype):
            raise TypeError(f"lax.fori_loop: {name} must be an integer scalar, got "
                            f"{a.str_short()}")
    lo, hi = _concrete_int(lower), _concrete_int(upper)
    lower, upper = resolve_dtypes("fori_loop", [lower, upper])
    if lo is not None and hi is not None:
        def step(carry, _):
            i, x = carry
            return (add(i, 1), body_fun(i, x)), None
        (_, out), _ = _scan(step, (lower, init_val), None, builtins.max(hi - lo, 0), False,
                            1 if unroll is None else unroll, ("fori_loop", "body_fun", 1))
        return out
    if unroll is not None:
        raise ValueError("lax.fori_loop: unroll needs lower and upper known at trace time "
                         "(Python ints), which make the loop a scan")
    _, out = _while_loop(lambda c: lt(c[0], upper),
                         lambda c: (add(c[0], 1), body_fun(c[0], c[1])), (lower, init_val),
                         ("fori_loop", "body_fun", 1))
    return out
