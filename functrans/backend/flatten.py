"""Before code generation: inline calls of sub-programs (nested jit, custom_jvp, checkpoint) and
drop equations whose results are unused, giving one flat program."""
from ..core.ir import Eqn, Literal, Program, Var
from .lowering import Inline


class LoweringError(Exception):
    """A primitive has no lowering, or its lowering failed: names the primitive and equation."""


def describe_eqn(eqn) -> str:
    ins = ", ".join(a.aval.str_short() for a in eqn.inputs)
    outs = ", ".join(v.aval.str_short() for v in eqn.outputs)
    params = ", ".join(f"{k}={_short(v)}" for k, v in eqn.params.items())
    return f"`{eqn.primitive.name}`({ins}{'; ' + params if params else ''}) -> {outs}"


def _short(v):
    text = getattr(v, "__name__", None) or repr(v)
    return text if len(text) < 60 else text[:57] + "..."


def lowering_of(eqn):
    rule = eqn.primitive.lowering
    if rule is None:
        from .rules import install      # primitives registered since the last install
        install()
        rule = eqn.primitive.lowering
    if rule is None:
        raise LoweringError(
            f"jit: primitive `{eqn.primitive.name}` has no Numba lowering, in the equation "
            f"{describe_eqn(eqn)}. Declare one beside the primitive with "
            "`prim.def_lowering(...)` (see functrans.backend.lowering), or call the function "
            "without jit.")
    return rule


def flatten(closed):
    """(Program, consts): `closed` with every Inline-lowered call replaced by its body, all
    variables fresh, and dead equations removed."""
    constvars, consts, eqns = [], [], []

    def new_const(value, aval):
        v = Var(aval)
        constvars.append(v)
        consts.append(value)
        return v

    def inline(program, const_values, args):
        env = {}
        read = lambda a: a if isinstance(a, Literal) else env[a]  # noqa: E731
        for v, c in zip(program.constvars, const_values):
            env[v] = new_const(c, v.aval)
        for v, a in zip(program.invars, args):
            env[v] = a
        for eqn in program.eqns:
            ins = [read(a) for a in eqn.inputs]
            rule = lowering_of(eqn)
            if isinstance(rule, Inline):
                try:
                    sub = rule.program([a.aval for a in ins], **eqn.params)
                except Exception as e:
                    raise LoweringError(f"jit: could not inline {describe_eqn(eqn)}: "
                                        f"{type(e).__name__}: {e}") from e
                outs = inline(sub.program, sub.consts, ins)
                for v, o in zip(eqn.outputs, outs):
                    env[v] = o
                continue
            outs = [Var(v.aval) for v in eqn.outputs]
            eqns.append(Eqn(eqn.primitive, tuple(ins), tuple(outs), eqn.params))
            env.update(zip(eqn.outputs, outs))
        return [read(a) for a in program.outvars]

    invars = [Var(v.aval) for v in closed.program.invars]
    outvars = inline(closed.program, closed.consts, invars)
    program = Program(tuple(constvars), tuple(invars), tuple(eqns), tuple(outvars))
    program = eliminate_dead_code(simplify(program))
    used = _used(program)
    keep = [i for i, v in enumerate(program.constvars) if v in used]
    return (Program(tuple(program.constvars[i] for i in keep), program.invars, program.eqns,
                    program.outvars), [consts[i] for i in keep])


def _used(program):
    used = {a for a in program.outvars if isinstance(a, Var)}
    for eqn in program.eqns:
        used.update(a for a in eqn.inputs if isinstance(a, Var))
    return used


def eliminate_dead_code(program):
    live = {a for a in program.outvars if isinstance(a, Var)}
    kept = []
    for eqn in reversed(program.eqns):
        # Effectful equations (debug callbacks) have no outputs to use but must run.
        if any(v in live for v in eqn.outputs) or getattr(eqn.primitive, "effectful", False):
            kept.append(eqn)
            live.update(a for a in eqn.inputs if isinstance(a, Var))
    return Program(program.constvars, program.invars, tuple(reversed(kept)), program.outvars)


# --- simplification: identities and common subexpressions ------------------------------------

_REDUCTIONS = ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod")


def _identity_of(eqn):
    """The input an equation merely passes through, or None."""
    name, p = eqn.primitive.name, eqn.params
    x = eqn.inputs[0] if eqn.inputs else None
    if x is None or eqn.primitive.multiple_results:
        return None
    out = eqn.outputs[0].aval
    if out.shape != x.aval.shape or out.dtype != x.aval.dtype:
        return None
    if name in ("reshape", "squeeze", "broadcast_in_dim", "convert_element_type",
                "stop_gradient") or (name in _REDUCTIONS and not p.get("axes")):
        return x
    if name == "transpose" and tuple(p["permutation"]) == tuple(range(out.ndim)):
        return x
    if name == "mul":
        for a, b in ((eqn.inputs[0], eqn.inputs[1]), (eqn.inputs[1], eqn.inputs[0])):
            if isinstance(b, Literal) and b.value == 1 and a.aval.shape == out.shape and \
                    a.aval.dtype == out.dtype:
                return a
    if name == "select_n" and len(eqn.inputs) == 2:
        return eqn.inputs[1]
    return None


def _as_reshape(eqn):
    """A reduction over axes of size 1 only moves no data: a reshape."""
    if eqn.primitive.name not in _REDUCTIONS:
        return eqn
    x = eqn.inputs[0]
    if isinstance(x, Literal) or any(x.aval.shape[d] != 1 for d in eqn.params["axes"]):
        return eqn
    from ..core.primitive import registry
    out = eqn.outputs[0]
    return Eqn(registry["reshape"], (x,), (out,), {"new_sizes": tuple(out.aval.shape)})


def _cse_key(eqn, read):
    ins = tuple(("lit", a.aval.dtype, a.value.item()) if isinstance(a, Literal) else id(read(a))
                for a in eqn.inputs)
    key = (eqn.primitive.name, ins, tuple(sorted(eqn.params.items())))
    hash(key)
    return key


def _swap_transposed_products(program):
    """transpose(dot_general(a, b)) that swaps the two operands' free axes is
    dot_general(b, a): reverse mode produces these (a weight gradient computed as (gᵀx)ᵀ); the
    swapped product writes the wanted layout directly, so nothing reads it strided later."""
    uses = {}
    for eqn in program.eqns:
        for a in eqn.inputs:
            if isinstance(a, Var):
                uses[a] = uses.get(a, 0) + 1
    for a in program.outvars:
        if isinstance(a, Var):
            uses[a] = uses.get(a, 0) + 1
    producer = {eqn.outputs[0]: eqn for eqn in program.eqns
                if eqn.primitive.name == "dot_general"}
    replaced, eqns = set(), []
    for eqn in program.eqns:
        dot = producer.get(eqn.inputs[0]) if eqn.primitive.name == "transpose" else None
        if dot is not None and uses.get(eqn.inputs[0]) == 1:
            (lc, rc), (lb, rb) = dot.params["dimension_numbers"]
            lhs, rhs = dot.inputs
            n_l = lhs.aval.ndim - len(lc)
            n_r = rhs.aval.ndim - len(rc)
            swap = tuple(range(n_l, n_l + n_r)) + tuple(range(n_l))
            if not lb and tuple(eqn.params["permutation"]) == swap:
                params = dict(dot.params, dimension_numbers=((rc, lc), ((), ())))
                eqns.append(Eqn(dot.primitive, (rhs, lhs), eqn.outputs, params))
                replaced.add(id(dot))
                continue
        eqns.append(eqn)
    eqns = [e for e in eqns if id(e) not in replaced]
    return Program(program.constvars, program.invars, tuple(eqns), program.outvars)


def simplify(program):
    """Drop equations that pass a value through unchanged, turn reductions over size-1 axes
    into reshapes, compute repeated equations once (transforms produce all three), and fold
    transposes of matrix products into the products."""
    program = _swap_transposed_products(program)
    env = {}
    read = lambda a: a if isinstance(a, Literal) else env.get(a, a)  # noqa: E731
    seen, eqns = {}, []
    for eqn in program.eqns:
        eqn = Eqn(eqn.primitive, tuple(read(a) for a in eqn.inputs), eqn.outputs, eqn.params)
        same = _identity_of(eqn)
        if same is not None:
            env[eqn.outputs[0]] = same
            continue
        eqn = _as_reshape(eqn)
        try:
            key = _cse_key(eqn, read)
        except TypeError:
            key = None
        if key is not None and key in seen:
            for v, w in zip(eqn.outputs, seen[key].outputs):
                env[v] = w
            continue
        if key is not None:
            seen[key] = eqn
        eqns.append(eqn)
    return Program(program.constvars, program.invars, tuple(eqns),
                   tuple(read(a) for a in program.outvars))
