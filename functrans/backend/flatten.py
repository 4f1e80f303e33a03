"""Before code generation: inline calls of sub-programs (nested jit, custom_jvp, checkpoint),
apply the simplifications primitives declare, and drop equations whose results are unused, giving
one flat program."""
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


# --- simplification: the rules primitives declare, and common subexpressions ------------------

class _SimplifyCtx:
    """What a simplification rule may ask about the program around its equation."""

    def __init__(self, program):
        self.uses = {}
        for a in [a for e in program.eqns for a in e.inputs] + list(program.outvars):
            if isinstance(a, Var):
                self.uses[a] = self.uses.get(a, 0) + 1
        self.defined = {}         # Var -> the (simplified) equation computing it

    def producer(self, atom):
        if isinstance(atom, Var) and self.uses.get(atom) == 1:
            return self.defined.get(atom)
        return None

    def alias(self, v, target):
        """v is replaced by target everywhere: target gains v's uses."""
        if isinstance(target, Var):
            self.uses[target] = self.uses.get(target, 0) + self.uses.get(v, 0)


def _passes_through(eqn, atom):
    out = eqn.outputs[0].aval
    return not eqn.primitive.multiple_results and len(eqn.outputs) == 1 and \
        atom.aval.shape == out.shape and atom.aval.dtype == out.dtype


def _rewrite(eqn, ctx):
    """Apply the primitives' rules until none applies: an atom the equation passes through,
    or the equation to compute."""
    for _ in range(8):        # a rule may hand the equation to another primitive's rules
        for rule in eqn.primitive.simplifications:
            result = rule(eqn, ctx)
            if isinstance(result, Eqn):
                eqn = result
                break
            if result is not None and _passes_through(eqn, result):
                return result
        else:
            return eqn
    return eqn


def _cse_key(eqn, read):
    ins = tuple(("lit", a.aval.dtype, a.value.item()) if isinstance(a, Literal) else id(read(a))
                for a in eqn.inputs)
    key = (eqn.primitive, ins, tuple(sorted(eqn.params.items())))
    hash(key)
    return key


def simplify(program):
    """Apply the simplification rules primitives declare (dropping equations that pass a value
    through, cheaper equivalents) and compute repeated equations once: transforms produce
    all of these."""
    ctx = _SimplifyCtx(program)
    env = {}
    read = lambda a: a if isinstance(a, Literal) else env.get(a, a)  # noqa: E731
    seen, eqns = {}, []
    for original in program.eqns:
        eqn = _rewrite(Eqn(original.primitive, tuple(read(a) for a in original.inputs),
                           original.outputs, original.params), ctx)
        if not isinstance(eqn, Eqn):               # passed through: its output is that atom
            env[original.outputs[0]] = eqn
            ctx.alias(original.outputs[0], eqn)
            continue
        try:
            key = _cse_key(eqn, read)
        except TypeError:
            key = None
        if key is not None and key in seen:
            for v, w in zip(eqn.outputs, seen[key].outputs):
                env[v] = w
                ctx.alias(v, w)
            continue
        if key is not None:
            seen[key] = eqn
        eqns.append(eqn)
        ctx.defined.update((v, eqn) for v in eqn.outputs)
    return Program(program.constvars, program.invars, tuple(eqns),
                   tuple(read(a) for a in program.outvars))
