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
    k = _KernelBuilder(group, inplace or {})
    for m in group.members:
        if m.kind == "elementwise":
            k.elementwise(m)
        else:
            k.reduction(m)
    spec = KernelSpec(k.source(), k.inputs, k.outputs, k.scalar_outputs, k.pass_extents(),
                      group.shape, [m.eqn for m in group.members])
    spec.inplace = {v: k.inplace[v] for v in group.outputs if v in k.inplace}
    return spec


class _KernelBuilder:
    """The statements of one kernel, by loop level: `pre[d]` run at the start of level d's body
    (loads, computations, accumulator resets), `post[d]` after its inner loop (stores of
    reductions)."""

    def __init__(self, group, inplace):
        self.shape = group.shape
        self.n = n = len(group.shape)
        self.inplace = inplace
        self.member_out = {m.eqn.outputs[0]: m for m in group.members}
        self.pre = [[] for _ in range(n + 1)]
        self.post = [[] for _ in range(n + 1)]
        self.inputs, self.arg_of = [], {}
        self.value_of = {}          # (source id, map) or member Var -> (name, level)
        self.counter = {"r": 0, "v": 0, "a": 0}
        self.outputs, self.scalar_outputs, self.returns, self.stores = [], [], [], []
        self.out_names = {}
        for v in group.outputs:
            if self.member_out[v].kind != "elementwise":
                continue
            if v in inplace:
                self.out_names[v] = self.arg(inplace[v])
            else:
                self.out_names[v] = self.new_output(v)

    def fresh(self, prefix):
        name = f"{prefix}{self.counter[prefix]}"
        self.counter[prefix] += 1
        return name

    def arg(self, var):
        if id(var) not in self.arg_of:
            self.arg_of[id(var)] = f"x{len(self.inputs)}"
            self.inputs.append(var)
        return self.arg_of[id(var)]

    def new_output(self, v):
        """The name of a new output array argument, for v."""
        self.outputs.append(v)
        return f"y{len(self.outputs) - 1}"

    def all_indices(self):
        return ", ".join(f"i{k}" for k in range(self.n))

    def read(self, r):
        """(name, level) of an operand element: loaded once, at the shallowest level whose
        indices it uses."""
        src = r.source
        if isinstance(src, Literal):
            return typed_const(src.value, src.aval.dtype), 0
        m = self.member_out.get(src)
        if m is not None and m.kind == "elementwise":
            return self.value_of[src]
        key = (id(src), r.map)
        if key not in self.value_of:
            a = self.arg(src)
            if src.aval.ndim == 0:
                self.value_of[key] = (a, 0)
            else:
                level = max((k + 1 for k, _, _ in r.map if k is not None), default=0)
                name = self.fresh("r")
                self.pre[level].append(f"{name} = {a}[{', '.join(map(_index_expr, r.map))}]")
                self.value_of[key] = (name, level)
        return self.value_of[key]

    def elementwise(self, m):
        out = m.eqn.outputs[0]
        ops = [self.read(r) for r in m.reads]
        level = max([lv for _, lv in ops] + [_index_level(m.expr)])
        name = self.fresh("v")
        expr = m.expr.format(*[nm for nm, _ in ops])
        # Numba keeps float32 and float64 arithmetic in the operands' type (constants are
        # typed): a cast is only needed where types change, or for narrow integers, which
        # Numba widens. Fewer casts, less to compile.
        same = out.aval.dtype.kind == "f" and _index_level(m.expr) == 0 and \
            all(r.source.aval.dtype == out.aval.dtype for r in m.reads)
        self.pre[level].append(f"{name} = {expr}" if same else
                               f"{name} = {scalar_ctor(out.aval.dtype)}({expr})")
        self.value_of[out] = (name, level)
        if out in self.out_names:
            # Stores come after every load of the iteration (an in-place output may
            # overwrite an operand that a later member reads).
            self.stores.append(f"{self.out_names[out]}[{self.all_indices()}] = {name}")

    def reduction(self, m):
        """A reduction over params["axes"] of the loop nest: into an accumulator when the axes
        are the innermost ones, else into the output array, cell by cell."""
        n, out = self.n, m.eqn.outputs[0]
        (x, _), axes = self.read(m.reads[0]), tuple(sorted(m.eqn.params["axes"]))
        dtype = out.aval.dtype
        ctor = scalar_ctor(dtype)
        ident = typed_const(m.rule.identity(dtype), dtype)
        kept_idx = ", ".join(f"i{k}" for k in range(n) if k not in axes)
        if axes and axes == tuple(range(n - len(axes), n)):
            d = n - len(axes)
            acc = self.fresh("a")
            self.pre[d].insert(0, f"{acc} = {ident}")
            step = m.rule.combine(acc, x, dtype)
            same = dtype.kind == "f" and m.reads[0].source.aval.dtype == dtype
            self.pre[n].append(f"{acc} = {step}" if same else f"{acc} = {ctor}({step})")
            if d == 0:
                self.returns.append(acc)
                self.scalar_outputs.append(out)
            else:
                self.post[d].append(f"{self.new_output(out)}[{kept_idx}] = {acc}")
            return
        y = self.new_output(out)
        if axes:
            self.pre[0].insert(0, f"{y}[...] = {ident}")
            cell = f"{y}[{kept_idx}]"
            self.pre[n].append(f"{cell} = {ctor}({m.rule.combine(cell, x, dtype)})")
        else:
            self.pre[n].append(f"{y}[{self.all_indices()}] = "
                               f"{ctor}({m.rule.combine(ident, x, dtype)})")

    def full_outputs(self):
        return [v for v in self.outputs if v.aval.shape == self.shape and self.n > 0]

    def pass_extents(self):
        """Loop extents are trailing arguments when no output array has the loop's shape."""
        return not self.full_outputs()

    def source(self):
        n = self.n
        self.pre[n] += self.stores
        params = [self.arg_of[id(v)] for v in self.inputs] + \
            [f"y{k}" for k in range(len(self.outputs))]
        if self.pass_extents():
            params += [f"n{k}" for k in range(n)]
        lines = [f"def kernel({', '.join(params)}):"]
        if n and not self.pass_extents():
            y = f"y{self.outputs.index(self.full_outputs()[0])}"
            lines.append(f"    {', '.join(f'n{k}' for k in range(n))}{',' if n == 1 else ''} "
                         f"= {y}.shape")
        for d in range(n + 1):
            pad = "    " * (d + 1)
            lines += [pad + s for s in self.pre[d]]
            if d < n:
                lines.append(f"{pad}for i{d} in range(n{d}):")
                if not self.pre[d + 1] and d + 1 == n:
                    lines.append(pad + "    pass")
        for d in range(n - 1, -1, -1):
            lines += ["    " * (d + 1) + s for s in self.post[d]]
        if self.returns:
            lines.append(f"    return {', '.join(self.returns)}"
                         f"{',' if len(self.returns) == 1 else ''}")
        return "\n".join(lines) + "\n"


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
