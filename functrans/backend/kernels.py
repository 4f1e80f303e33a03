"""Kernel source: one fused group as a loop nest in a small Numba function.

The source depends only on the group's structure (operations, ranks, index maps, dtypes of
constants), never on sizes or variable identities, so equal groups in different programs, or
several times in one program, share one compiled (and disk-cached) kernel.

    def kernel(x0, x1, y0):              # inputs, then preallocated outputs
        n0, n1 = y0.shape
        for i0 in range(n0):
            for i1 in range(n1):
                r0 = x0[i0, i1]
                r1 = x1[i1]
                v0 = np.float32(r0 + r1)
                v1 = np.float32(v0 if (v0 > np.float32(0.0) or v0 != v0) else np.float32(0.0))
                y0[i0, i1] = v1

Values are cast to their dtype at every step (Numba would otherwise widen float32 arithmetic
with Python literals to float64, or int32 to int64). Loads and computations sit at the
shallowest loop level whose indices they use, so a broadcast column is read once per row.
"""
from ..core.ir import Literal
from .lowering import scalar_ctor, typed_const

# Kernels allocate nothing (the driver passes output buffers), so they need neither Numba's
# reference-counting runtime nor array-expression rewrites, and are never called from C: turning
# those off cuts about a quarter of each kernel's compile time.
KERNEL_FLAGS = ("cache=True, nogil=True, error_model='numpy', boundscheck=False, _nrt=False, "
                "no_rewrites=True, no_cfunc_wrapper=True")


class KernelSpec:
    """What the driver needs to call a kernel: its source and how to pass values."""

    def __init__(self, source, inputs, outputs, scalar_outputs, pass_extents, shape, eqns):
        self.source = source
        self.inputs = inputs              # Vars passed as arguments, in order
        self.outputs = outputs            # Vars of the arrays the driver allocates, in order
        self.scalar_outputs = scalar_outputs   # rank-0 results the kernel returns
        self.pass_extents = pass_extents  # loop extents passed as trailing int arguments
        self.shape = shape
        self.eqns = eqns


def _index_expr(entry):
    k, s, o = entry
    if k is None:
        return str(o)
    term = f"i{k}" if s == 1 else f"{s} * i{k}"
    return term if o == 0 else f"{o} + {term}"


def generate(group, inplace=None) -> KernelSpec:
    """inplace maps output Vars to input Vars whose buffer they overwrite (donated arrays read
    only element by element): the kernel stores into that argument. Writing through the same
    name (not an aliased second argument) keeps LLVM's vectorizer: with two names it must
    assume overlap and falls back to scalar code, twice as slow."""
    inplace = inplace or {}
    shape = group.shape
    n = len(shape)
    members = group.members
    member_out = {m.eqn.outputs[0]: m for m in members}
    levels_pre = [[] for _ in range(n + 1)]
    levels_post = [[] for _ in range(n + 1)]
    inputs, arg_of = [], {}
    value_of = {}          # (source id, map) or member Var -> (name, level)
    counter = {"r": 0, "v": 0, "a": 0}

    def fresh(prefix):
        name = f"{prefix}{counter[prefix]}"
        counter[prefix] += 1
        return name

    def arg(var):
        if id(var) not in arg_of:
            arg_of[id(var)] = f"x{len(inputs)}"
            inputs.append(var)
        return arg_of[id(var)]

    def read(r):
        src = r.source
        if isinstance(src, Literal):
            return typed_const(src.value, src.aval.dtype), 0
        m = member_out.get(src)
        if m is not None and m.kind == "elementwise":
            return value_of[src]
        key = (id(src), r.map)
        if key in value_of:
            return value_of[key]
        a = arg(src)
        if src.aval.ndim == 0:
            value_of[key] = (a, 0)
            return value_of[key]
        level = max((k + 1 for k, _, _ in r.map if k is not None), default=0)
        name = fresh("r")
        idx = ", ".join(_index_expr(e) for e in r.map)
        levels_pre[level].append(f"{name} = {a}[{idx}]")
        value_of[key] = (name, level)
        return value_of[key]

    outputs, scalar_outputs, returns, stores = [], [], [], []
    out_names = {}
    for v in group.outputs:
        if member_out[v].kind == "elementwise":
            if v in inplace:
                out_names[v] = arg(inplace[v])
                continue
            out_names[v] = f"y{len(outputs)}"
            outputs.append(v)

    for m in members:
        out = m.eqn.outputs[0]
        ctor = scalar_ctor(out.aval.dtype)
        if m.kind == "elementwise":
            ops = [read(r) for r in m.reads]
            level = max([lv for _, lv in ops] + [_index_level(m.expr)])
            name = fresh("v")
            expr = m.expr.format(*[nm for nm, _ in ops])
            # Numba keeps float32 and float64 arithmetic in the operands' type (constants are
            # typed): a cast is only needed where types change, or for narrow integers, which
            # Numba widens. Fewer casts, less to compile.
            same = out.aval.dtype.kind == "f" and _index_level(m.expr) == 0 and \
                all(r.source.aval.dtype == out.aval.dtype for r in m.reads)
            levels_pre[level].append(f"{name} = {expr}" if same else f"{name} = {ctor}({expr})")
            value_of[out] = (name, level)
            if out in out_names:
                idx = ", ".join(f"i{k}" for k in range(n))
                # Stores come after every load of the iteration (an in-place output may
                # overwrite an operand that a later member reads).
                stores.append(f"{out_names[out]}[{idx}] = {name}")
            continue
        # a reduction over params["axes"] of the loop nest
        (x, _), axes = read(m.reads[0]), tuple(sorted(m.eqn.params["axes"]))
        dtype = out.aval.dtype
        ident = typed_const(m.rule.identity(dtype), dtype)
        kept = [k for k in range(n) if k not in axes]
        kept_idx = ", ".join(f"i{k}" for k in kept)
        suffix = axes == tuple(range(n - len(axes), n))
        if suffix and axes:
            d = n - len(axes)
            acc = fresh("a")
            levels_pre[d].insert(0, f"{acc} = {ident}")
            step = m.rule.combine(acc, x, dtype)
            levels_pre[n].append(f"{acc} = {step}" if dtype.kind == "f" and
                                 m.reads[0].source.aval.dtype == dtype else
                                 f"{acc} = {ctor}({step})")
            if d == 0:
                returns.append(acc)
                scalar_outputs.append(out)
            else:
                y = f"y{len(outputs)}"
                outputs.append(out)
                levels_post[d].append(f"{y}[{kept_idx}] = {acc}")
        else:
            y = f"y{len(outputs)}"
            outputs.append(out)
            if axes:
                levels_pre[0].insert(0, f"{y}[...] = {ident}")
                cell = f"{y}[{kept_idx}]"
                levels_pre[n].append(f"{cell} = {ctor}({m.rule.combine(cell, x, dtype)})")
            else:
                idx = ", ".join(f"i{k}" for k in range(n))
                levels_pre[n].append(f"{y}[{idx}] = {ctor}({m.rule.combine(ident, x, dtype)})")

    levels_pre[n] += stores
    full = [v for v in outputs if v.aval.shape == shape and n > 0]
    pass_extents = not full
    params = [arg_of[id(v)] for v in inputs] + [f"y{k}" for k in range(len(outputs))]
    lines = [f"def kernel({', '.join(params + ([f'n{k}' for k in range(n)] if pass_extents else []))}):"]
    if n and not pass_extents:
        y = f"y{outputs.index(full[0])}"
        lines.append(f"    {', '.join(f'n{k}' for k in range(n))}{',' if n == 1 else ''} = {y}.shape")
    for d in range(n + 1):
        pad = "    " * (d + 1)
        lines += [pad + s for s in levels_pre[d]]
        if d < n:
            lines.append(f"{pad}for i{d} in range(n{d}):")
            if not levels_pre[d + 1] and d + 1 == n:
                lines.append(pad + "    pass")
    for d in range(n - 1, -1, -1):
        pad = "    " * (d + 1)
        lines += [pad + s for s in levels_post[d]]
    if returns:
        lines.append(f"    return {', '.join(returns)}{',' if len(returns) == 1 else ''}")
    source = "\n".join(lines) + "\n"
    spec = KernelSpec(source, inputs, outputs, scalar_outputs, pass_extents, shape,
                      [m.eqn for m in members])
    spec.inplace = {v: inplace[v] for v in group.outputs if v in inplace}
    return spec


def _index_level(expr):
    """Expressions that use loop indices directly (iota) sit at the level of the deepest one."""
    import re
    found = [int(k) for k in re.findall(r"\bi(\d+)\b", expr)]
    return max(found) + 1 if found else 0


def batched_source(spec):
    """The kernel looping over several instances: each argument becomes a tuple (all instances
    share argument types; their shapes may differ)."""
    head, body = spec.source.split("\n", 1)
    params = head[len("def kernel("):-2].split(", ")
    lines = [f"def kernel({', '.join(p.upper() for p in params)}):",
             f"    for b in range(len({params[0].upper()})):"]
    lines += [f"        {p} = {p.upper()}[b]" for p in params]
    lines += ["    " + ln if ln else ln for ln in body.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"
