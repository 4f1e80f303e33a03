"""The loop function's helpers (fused kernels, copies, fills) written inline, as source.

Numba compiles each @njit function it calls as a library of its own: type inference, lowering
and an LLVM optimisation of that function, then again of the caller with the library linked in.
A training-loop body of a dozen kernels paid 0.2-0.3 s per helper that way, most of its first
call. Written into the loop function, the same statements are typed and optimised once, with
the rest of the loop.

Each call statement `h3(a, b, y1)` or `r, = h3(...)` becomes the helper's body, its parameters
bound to the call's arguments and every other name the body binds renamed apart (`v0` of the
third inlined call is `v0_3`); the helper's `return X` becomes `r, = X`. The statements and
their order are the helper's, so results equal the called helper's exactly.
"""
import ast
import copy
import re

_CALL = re.compile(r"^(\s*)(?:([\w, ]+?)\s*=\s*)?([A-Za-z_]\w*)\((.*)\)\s*$")


def inline(lines, helpers):
    """The loop function's lines with each statement that calls one of `helpers`
    (name -> `def name(...)` source) replaced by its body."""
    parsed = {name: _Helper(src) for name, src in helpers.items()}
    out, n = [], 0
    for line in lines:
        m = _CALL.match(line)
        if m is None or m.group(3) not in parsed:
            out.append(line)
            continue
        n += 1
        pad, targets, name, _ = m.groups()
        call = ast.parse(line.strip()).body[0]
        call = call.value if isinstance(call, (ast.Expr, ast.Assign)) else None
        args = [ast.unparse(a) for a in call.args]
        out += parsed[name].body(pad, args, targets, f"_{n}")
    return out


class _Helper:
    def __init__(self, source):
        fn = ast.parse(source).body[0]
        self.name = fn.name
        self.params = [a.arg for a in fn.args.args]
        self.stmts = fn.body
        bound = set(self.params)
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
        self.bound = bound

    def body(self, pad, args, targets, suffix):
        if len(args) != len(self.params):
            raise ValueError(f"inlining: {len(args)} arguments for {self.params}")
        rename = {b: b + suffix for b in self.bound}
        lines = [f"{pad}# {self.name}"]
        lines += [f"{pad}{rename[p]} = {a}" for p, a in zip(self.params, args)]
        for st in self.stmts:
            st = _Rename(rename).visit(copy.deepcopy(st))
            if isinstance(st, ast.Return):
                if targets is None:
                    continue
                st = ast.Assign(targets=[ast.parse(targets, mode="eval").body],
                                value=st.value, lineno=0)
            text = ast.unparse(ast.fix_missing_locations(st))
            lines += [pad + t for t in text.split("\n")]
        return lines


class _Rename(ast.NodeTransformer):
    def __init__(self, rename):
        self.rename = rename

    def visit_Name(self, node):
        if node.id in self.rename:
            node.id = self.rename[node.id]
        return node
