"""Loops as machine code: scan, while_loop (and the fori_loop/map built on them), with the conds
and loops nested in their bodies, become one njit function that runs every iteration.

The loop function is generated source: the body's program is flattened and fused exactly as a
jit program is (fusion.plan), and each step becomes a Numba statement instead of a line of the
Python driver:

    kernel    a call of the fused loop nest, defined in the same module (Numba links it in);
              its outputs are buffers allocated once per call (see LoopSource.alloc)
    scalar    a typed scalar expression
    ufunc     numpy's ufunc as Numba implements it (numpy ufuncs only)
    reduce    a one-member loop-nest kernel
    view      the numpy view (reshape of a contiguous copy when Numba needs one)
    driver    matrix products (np.dot: BLAS, operands as 2-D views, no copies of contiguous or
              transposed operands), dynamic_slice (a view of the closed-over array: no copy),
              and cond/scan/while_loop nested in the body (generated inline, recursively)

A body containing anything else (a primitive whose lowering calls its numpy impl from the
driver: sort, gather, scatter, cumsum, fft, linalg, ...) raises Unsupported, and the caller keeps
the Python loop that calls the body's compiled driver per iteration (docs/jit.md lists them).

The module's text depends only on the loop's structure (shapes are compiled in, never values),
and goes through the kernel cache: it is written to disk, loaded by later processes and shared
by equal loops.
"""
import numpy as np

from ..core.ir import Literal
from .flatten import flatten
from .fusion import Group, Member, Planner, Read
from .kernels import KERNEL_FLAGS, generate
from .lowering import identity_map, scalar_ctor, typed_const

# The loop allocates (per-iteration outputs, stacked ys): it needs Numba's runtime.
LOOP_FLAGS = "cache=True, nogil=True, error_model='numpy', boundscheck=False"


class Unsupported(Exception):
    """The body contains something the loop generator does not compile: keep the Python loop."""


def _dtype(aval):
    return f"np.{np.dtype(aval.dtype).name}"


class LoopSource:
    """Builds the module: the loop function `kernel` and the fused kernels it calls."""

    def __init__(self):
        self.lines = []
        self.helpers = []
        self._helper_of = {}
        self.extra = []          # (name, value, aval): constants of bodies, passed as arguments
        self._n = 0
        self._planners = []
        self.prologue = []
        self.fresh_bufs = set()  # names of prologue buffers (written in place each iteration)
        self.c_names = set()     # names known to hold C-contiguous arrays

    def fresh(self, prefix="v"):
        self._n += 1
        return f"{prefix}{self._n}"

    def alloc(self, name, shape, dtype):
        """A buffer allocated once per call, in the function's prologue, and rewritten every
        iteration (an allocation per iteration cost more than the work on small arrays).
        Safe because each buffer has one writer, run once per iteration of its innermost
        loop, and values that outlive an iteration (carries, stacked ys) are copied out."""
        self.prologue.append(f"    {name} = np.empty({tuple(shape)}, {dtype})")
        self.c_names.add(name)
        self.fresh_bufs.add(name)

    def emit(self, ind, line):
        self.lines.append("    " * ind + line)

    def helper(self, source):
        name = self._helper_of.get(source)
        if name is None:
            name = f"h{len(self._helper_of)}"
            self._helper_of[source] = name
            self.helpers.append(source.replace("def kernel(", f"def {name}(", 1))
        return name

    def put(self, rank):
        """A helper copying src into dst[o0 + t0*i0, ...]: explicit loops compile in a tenth of
        the time of Numba's slice assignment (seconds per statement, measured)."""
        name = f"put{rank}"
        if name not in self._helper_of:
            idx = [f"i{d}" for d in range(rank)]
            args = ", ".join(f"o{d}, t{d}" for d in range(rank))
            lines = [f"def {name}(dst, src, {args}):"]
            for d in range(rank):
                lines.append("    " * (d + 1) + f"for i{d} in range(src.shape[{d}]):")
            dst_idx = ", ".join(f"o{d} + t{d} * i{d}" for d in range(rank))
            lines.append("    " * (rank + 1) + f"dst[{dst_idx}] = src[{', '.join(idx)}]")
            self._helper_of[name] = name
            self.helpers.append("\n".join(lines) + "\n")
        return name

    def fill(self, rank):
        name = f"fill{rank}"
        if name not in self._helper_of:
            lines = [f"def {name}(dst, v):"]
            for d in range(rank):
                lines.append("    " * (d + 1) + f"for i{d} in range(dst.shape[{d}]):")
            lines.append("    " * (rank + 1) +
                         f"dst[{', '.join(f'i{d}' for d in range(rank))}] = v")
            self._helper_of[name] = name
            self.helpers.append("\n".join(lines) + "\n")
        return name

    def filled(self, shape, value, dtype, ind):
        y = self.fresh("y")
        self.alloc(y, shape, dtype)
        self.emit(ind, f"{self.fill(len(shape))}({y}, {value})")
        self.c_names.add(y)
        return y

    def module_text(self, header_params):
        """The loop module's body (the cache prepends the imports and the loop's decorator)."""
        head = f"def kernel({', '.join(header_params)}):"
        parts = ["\n".join([head] + self.prologue + self.lines) + "\n"]
        for h in self.helpers:
            parts.append(f"@njit({KERNEL_FLAGS})\n{h}")
        return "\n\n".join(parts)

    # --- programs ------------------------------------------------------------------------------
    def closed(self, closed, in_names, ind):
        """Emit the statements of a ClosedProgram applied to in_names; returns its outputs."""
        program, consts = flatten(closed)
        env = {}
        for v, c in zip(program.constvars, consts):
            name = self.fresh("c")
            self.extra.append((name, c, v.aval))
            if v.aval.ndim:
                self.c_names.add(name)
            env[v] = name
        env.update(zip(program.invars, in_names))
        planner = Planner(program)
        steps, _ = planner.plan()
        self._planners.append(planner)
        try:
            for s in steps:
                if s.kind == "view":
                    # emitted where first read: a view only read element-wise by scalar
                    # steps is never built (slicing compiles slowly in Numba)
                    for v in s.eqn.outputs:
                        env[v] = _Lazy(s, ind)
                    continue
                self.step(s, env, ind)
            return [self.atom(a, env) for a in program.outvars]
        finally:
            self._planners.pop()

    def atom(self, a, env):
        if isinstance(a, Literal):
            return typed_const(a.value, a.aval.dtype)
        name = env[a]
        if isinstance(name, _Lazy):
            lazy = name
            ins = [self.atom(x, env) for x in lazy.step.eqn.inputs]
            self.view(lazy.step, lazy.step.eqn, ins, env, lazy.ind)
            name = env[a]
        return name

    def element(self, a, e, env):
        """Operand a read at the constant index e (a scalar step): through any views, from
        the array in memory they come from."""
        if e is None:
            if isinstance(a, Literal) or not isinstance(env.get(a), _Lazy):
                return self.atom(a, env)
            e = ()                       # a scalar made by views (x[1:2].reshape(()))
        src, m = self._planners[-1].resolve(a)
        if not isinstance(src, Literal) and isinstance(env.get(src), str) or \
                isinstance(env.get(src), _Lazy):
            idx = [str(o + s * e[k]) if k is not None else str(o) for k, s, o in m]
            return f"{self.atom(src, env)}[{', '.join(idx)}]" if idx else self.atom(src, env)
        return f"{self.atom(a, env)}[{', '.join(map(str, e))}]"

    def step(self, s, env, ind):
        if s.kind == "kernel":
            return self.kernel(generate(s.group), env, ind)
        eqn = s.eqn
        outs = eqn.outputs
        if s.kind == "scalar":
            expr = s.expr.format(*[self.element(a, e, env)
                                   for a, e in zip(eqn.inputs, s.element)])
            return self.assign(env, outs[0], f"{scalar_ctor(outs[0].aval.dtype)}({expr})", ind)
        ins = [self.atom(a, env) for a in eqn.inputs]
        if s.kind == "ufunc":
            f = s.rule.ufunc
            if not (isinstance(f, np.ufunc) and getattr(np, f.__name__, None) is f):
                raise Unsupported(f"`{eqn.primitive.name}` (a non-numpy ufunc)")
            from .codegen import _ufunc_result_dtype
            if _ufunc_result_dtype(f, eqn.inputs) != outs[0].aval.dtype:
                raise Unsupported(f"`{eqn.primitive.name}` changes dtype")
            expr = f"np.{f.__name__}({', '.join(ins)})"
            if outs[0].aval.ndim == 0:
                expr = f"{scalar_ctor(outs[0].aval.dtype)}({expr})"
            return self.assign(env, outs[0], expr, ind, c=outs[0].aval.ndim > 0)
        if s.kind == "reduce":
            x = eqn.inputs[0]
            if isinstance(x, Literal) or x.aval.ndim == 0:
                raise Unsupported("a reduction of a scalar")
            g = Group(x.aval.shape)
            g.members = [Member(0, eqn, "reduce", None, [Read(x, identity_map(x.aval.ndim))],
                                s.rule)]
            return self.kernel(generate(g), env, ind)
        if s.kind == "view":
            return self.view(s, eqn, ins, env, ind)
        if s.kind == "driver":
            name = eqn.primitive.name
            if name == "dot_general":
                return self.dot(eqn, ins, env, ind)
            if name == "dynamic_slice":
                return self.dynamic_slice(eqn, ins, env, ind)
            if name == "dynamic_update_slice":
                return self.dynamic_update_slice(eqn, ins, env, ind)
            if name == "concatenate" and all(a.aval.ndim for a in eqn.inputs):
                return self.concatenate(eqn, ins, env, ind)
            if name == "pad":
                return self.pad(eqn, ins, env, ind)
            if name == "cond":
                return self.cond(eqn, ins, env, ind)
            if name == "scan":
                return self.assign_many(env, outs, self.scan(eqn.params, ins, ind), ind)
            if name == "while_loop":
                return self.assign_many(env, outs, self.while_loop(eqn.params, ins, ind), ind)
            raise Unsupported(f"`{name}` (its lowering calls numpy from the driver)")
        raise Unsupported(f"a step of kind {s.kind}")

    def assign(self, env, v, expr, ind, c=False):
        name = self.fresh()
        self.emit(ind, f"{name} = {expr}")
        env[v] = name
        if c:
            self.c_names.add(name)

    def assign_many(self, env, vs, names, ind):
        for v, n in zip(vs, names):
            env[v] = n

    def kernel(self, spec, env, ind):
        h = self.helper(spec.source)
        args = [self.atom(v, env) for v in spec.inputs]
        outs = []
        for v in spec.outputs:
            name = self.fresh("y")
            self.alloc(name, v.aval.shape, _dtype(v.aval))
            self.c_names.add(name)
            env[v] = name
            outs.append(name)
        call = f"{h}({', '.join(args + outs + ([str(n) for n in spec.shape] if spec.pass_extents else []))})"
        if spec.scalar_outputs:
            names = [self.fresh("r") for _ in spec.scalar_outputs]
            self.emit(ind, f"{', '.join(names)}, = {call}")
            for v, n in zip(spec.scalar_outputs, names):
                self.assign(env, v, f"{scalar_ctor(v.aval.dtype)}({n})", ind)
        else:
            self.emit(ind, call)

    def view(self, s, eqn, ins, env, ind):
        (x,), (xa,), out = ins, [a.aval for a in eqn.inputs], eqn.outputs[0].aval
        if xa.ndim == 0 and out.ndim == 0:
            env[eqn.outputs[0]] = x
            return
        if xa.ndim == 0:
            env[eqn.outputs[0]] = self.filled(out.shape, x, _dtype(out), ind)
            return
        if out.ndim == 0:
            m = s.rule.index_map(xa, out, **eqn.params) if s.rule.index_map else None
            if m is None:
                raise Unsupported(f"`{eqn.primitive.name}` to a scalar")
            idx = ", ".join(str(o) for _, _, o in m)
            return self.assign(env, eqn.outputs[0],
                               f"{scalar_ctor(out.dtype)}({x}[{idx}])", ind)
        name = eqn.primitive.name
        if out.size == xa.size and name in ("reshape", "squeeze", "broadcast_in_dim"):
            # no data moves (a broadcast that only inserts size-1 axes is a reshape): a
            # reshape of a contiguous array, copied into a buffer first if it is strided
            # (Numba reshapes only contiguous arrays)
            if x not in self.c_names:
                buf = self.fresh("y")
                self.alloc(buf, xa.shape, _dtype(xa))
                self.emit(ind, f"{self.put(xa.ndim)}({buf}, {x}, {self.zeros(xa.ndim)})")
                x = buf
            return self.assign(env, eqn.outputs[0], f"{x}.reshape({tuple(out.shape)})", ind,
                               c=True)
        expr = s.rule.view(x, xa, out, **eqn.params)
        if ".reshape(" in expr and x not in self.c_names:
            expr = s.rule.view(f"np.ascontiguousarray({x})", xa, out, **eqn.params)
        return self.assign(env, eqn.outputs[0], expr, ind)

    def _matrix(self, x, aval, order, shape):
        ident = list(range(aval.ndim))
        if order == ident and tuple(aval.shape) == tuple(shape):
            return x
        if aval.ndim == 2 and order == [1, 0] and tuple(shape) == tuple(aval.shape[::-1]):
            return f"{x}.T"                       # BLAS takes it transposed, no copy
        t = x if order == ident else f"{x}.transpose({tuple(order)})"
        c = x if (order == ident and x in self.c_names) else f"np.ascontiguousarray({t})"
        return f"{c}.reshape({tuple(shape)})"

    def dot(self, eqn, ins, env, ind):
        from ..primitives.contraction import _free_dims
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        (lhs, rhs), out = [a.aval for a in eqn.inputs], eqn.outputs[0].aval
        if lb or lhs.dtype != out.dtype or out.dtype.kind != "f" or out.dtype.itemsize < 4 \
                or any(isinstance(a, Literal) or a.aval.ndim == 0 for a in eqn.inputs):
            raise Unsupported("a batched, integer or mixed-type dot_general")
        lfree, rfree = _free_dims(lhs.ndim, lc, lb), _free_dims(rhs.ndim, rc, rb)
        size = lambda a, dims: int(np.prod([a.shape[d] for d in dims], dtype=np.int64))  # noqa
        m, k, n = size(lhs, lfree), size(lhs, lc), size(rhs, rfree)
        x = self._matrix(ins[0], lhs, list(lfree) + list(lc), (m, k))
        y = self._matrix(ins[1], rhs, list(rc) + list(rfree), (k, n))
        if out.ndim == 2 and tuple(out.shape) == (m, n):
            buf = self.fresh("y")
            self.alloc(buf, out.shape, _dtype(out))
            self.emit(ind, f"np.dot({x}, {y}, {buf})")     # BLAS writes the buffer
            env[eqn.outputs[0]] = buf
            return
        expr = f"np.dot({x}, {y})"
        if out.ndim == 0:
            expr = f"{scalar_ctor(out.dtype)}({expr}[0, 0])"
        elif tuple(out.shape) != (m, n):
            expr = f"{expr}.reshape({tuple(out.shape)})"
        return self.assign(env, eqn.outputs[0], expr, ind, c=out.ndim > 0)

    def dynamic_slice(self, eqn, ins, env, ind):
        x, *starts = ins
        xa = eqn.inputs[0].aval
        sizes = eqn.params["slice_sizes"]
        if xa.ndim == 0:
            raise Unsupported("dynamic_slice of a scalar")
        # Trailing axes taken whole are not sliced: x[b:b + m] of a C array stays C (BLAS
        # reads it in place); slicing them too would make Numba copy it for np.dot.
        keep = len(sizes)
        while keep > 1 and sizes[keep - 1] == xa.shape[keep - 1]:
            keep -= 1
        parts = []
        for s, n, m in list(zip(starts, xa.shape, sizes))[:keep]:
            b = self.fresh("b")
            # XLA's rule: the start moves into range so that the slice fits
            self.emit(ind, f"{b} = min(max(int({s}), 0), {n - m})")
            parts.append(f"{b}:{b} + {m}")
        return self.assign(env, eqn.outputs[0], f"{x}[{', '.join(parts)}]", ind,
                           c=keep == 1 and x in self.c_names)

    def dynamic_update_slice(self, eqn, ins, env, ind):
        x, u, *starts = ins
        xa, ua = eqn.inputs[0].aval, eqn.inputs[1].aval
        if xa.ndim == 0:
            raise Unsupported("dynamic_update_slice of a scalar")
        parts = []
        for s, n, m in zip(starts, xa.shape, ua.shape):
            b = self.fresh("b")
            self.emit(ind, f"{b} = min(max(int({s}), 0), {n - m})")
            parts.append(f"{b}, 1")
        out = self.fresh("y")
        self.alloc(out, xa.shape, _dtype(xa))
        self.emit(ind, f"{self.put(xa.ndim)}({out}, {x}, {', '.join('0, 1' for _ in xa.shape)})")
        self.emit(ind, f"{self.put(xa.ndim)}({out}, {u}, {', '.join(parts)})")
        self.c_names.add(out)
        env[eqn.outputs[0]] = out

    def pad(self, eqn, ins, env, ind):
        (x, v), xa, out = ins, eqn.inputs[0].aval, eqn.outputs[0].aval
        config = eqn.params["padding_config"]
        if xa.ndim == 0 or any(lo < 0 or hi < 0 for lo, hi, _ in config) or xa.size == 0:
            raise Unsupported("pad with negative padding")
        y = self.filled(out.shape, v, _dtype(out), ind)
        offsets = ", ".join(f"{lo}, {i + 1}" for lo, _, i in config)
        self.emit(ind, f"{self.put(xa.ndim)}({y}, {x}, {offsets})")
        env[eqn.outputs[0]] = y

    def concatenate(self, eqn, ins, env, ind):
        out, axis = eqn.outputs[0].aval, eqn.params["dimension"]
        y = self.fresh("y")
        self.alloc(y, out.shape, _dtype(out))
        at = 0
        for n, a in zip(ins, eqn.inputs):
            offsets = ", ".join(f"{at if d == axis else 0}, 1" for d in range(out.ndim))
            self.emit(ind, f"{self.put(out.ndim)}({y}, {n}, {offsets})")
            at += a.aval.shape[axis]
        self.c_names.add(y)
        env[eqn.outputs[0]] = y

    def init_carries(self, ks, inits, avals, ind):
        for k, a, aval in zip(ks, inits, avals):
            if aval.ndim:
                self.alloc(k, aval.shape, _dtype(aval))
                self.fresh_bufs.discard(k)
                self.emit(ind, f"{self.put(aval.ndim)}({k}, {a}, {self.zeros(aval.ndim)})")
            else:
                self.emit(ind, f"{k} = {scalar_ctor(aval.dtype)}({a})")

    def update_carries(self, ks, results, avals, ind):
        """The carries' buffers take the iteration's results. A result that is not a buffer
        written this iteration (another carry, a view of one, an operand) is copied first:
        updating the carries one by one in place would read an overwritten carry."""
        staged = []
        for k, r, aval in zip(ks, results, avals):
            if aval.ndim and r != k and r not in self.fresh_bufs:
                t = self.fresh("t")
                self.emit(ind, f"{t} = np.ascontiguousarray({r}).copy()")
                r = t
            staged.append(r)
        for k, r, aval in zip(ks, staged, avals):
            if not aval.ndim:
                self.emit(ind, f"{k} = {scalar_ctor(aval.dtype)}({r})")
            elif r != k:
                self.emit(ind, f"{self.put(aval.ndim)}({k}, {r}, {self.zeros(aval.ndim)})")

    @staticmethod
    def zeros(rank):
        return ", ".join("0, 1" for _ in range(rank))

    def carry(self, name, aval):
        """A value kept across iterations or branches: one type on every path (C-contiguous
        arrays, typed scalars)."""
        if aval.ndim == 0:
            return f"{scalar_ctor(aval.dtype)}({name})"
        return name if name in self.c_names else f"np.ascontiguousarray({name})"

    # --- control flow ----------------------------------------------------------------------------
    def cond(self, eqn, ins, env, ind):
        index, ops = ins[0], ins[1:]
        branches = eqn.params["branches"]
        outs = [self.fresh("o") for _ in eqn.outputs]
        for i, br in enumerate(branches):
            test = "if" if i == 0 else "elif"
            if i == len(branches) - 1 and i > 0:
                self.emit(ind, "else:")
            else:
                self.emit(ind, f"{test} {index} <= {i}:" if i == 0 else f"{test} {index} == {i}:")
            res = self.closed(br, list(ops), ind + 1)
            for o, r, v in zip(outs, res, eqn.outputs):
                self.emit(ind + 1, f"{o} = {self.carry(r, v.aval)}")
            if not res:
                self.emit(ind + 1, "pass")
        for o, v in zip(outs, eqn.outputs):
            env[v] = o
            if v.aval.ndim:
                self.c_names.add(o)

    def scan(self, params, ins, ind):
        body, length = params["body"], params["length"]
        nc, nk = params["num_consts"], params["num_carry"]
        consts, carry, xs = ins[:nc], ins[nc:nc + nk], ins[nc + nk:]
        k_avals = body.out_avals[:nk]
        y_avals = body.out_avals[nk:]
        ks = [self.fresh("k") for _ in carry]
        self.init_carries(ks, carry, k_avals, ind)
        stacks = [self.fresh("s") for _ in y_avals]
        for s, a in zip(stacks, y_avals):
            self.emit(ind, f"{s} = np.empty({(length,) + tuple(a.shape)}, {_dtype(a)})")
        i = self.fresh("i")
        order = f"range({length - 1}, -1, -1)" if params["reverse"] else f"range({length})"
        self.emit(ind, f"for {i} in {order}:")
        x_in = []
        x_avals = body.in_avals[nc + nk:]
        for x, a in zip(xs, x_avals):
            name = self.fresh("x")
            self.emit(ind + 1, f"{name} = {x}[{i}]" if a.ndim else
                      f"{name} = {scalar_ctor(a.dtype)}({x}[{i}])")
            if a.ndim:
                self.c_names.add(name)     # a leading-axis slice of a C array
            x_in.append(name)
        res = self.closed(body, list(consts) + ks + x_in, ind + 1)
        # ys are stored before the carries are updated in place: a y may be a view of a
        # carry (the primal loop of a gradient stacks h.reshape(1, n) as a residual)
        for s, r, a in zip(stacks, res[nk:], y_avals):
            if a.ndim:
                self.emit(ind + 1, f"{self.put(a.ndim)}({s}[{i}], {r}, "
                                   f"{', '.join('0, 1' for _ in a.shape)})")
            else:
                self.emit(ind + 1, f"{s}[{i}] = {r}")
        self.update_carries(ks, res[:nk], k_avals, ind + 1)
        if not res:
            self.emit(ind + 1, "pass")
        return ks + stacks

    def while_loop(self, params, ins, ind):
        cp, bp = params["cond_program"], params["body_program"]
        cn, bn = params["cond_nconsts"], params["body_nconsts"]
        cc, bc, carry = ins[:cn], ins[cn:cn + bn], ins[cn + bn:]
        k_avals = bp.out_avals
        ks = [self.fresh("k") for _ in carry]
        self.init_carries(ks, carry, k_avals, ind)
        self.emit(ind, "while True:")
        (pred,) = self.closed(cp, list(cc) + ks, ind + 1)
        self.emit(ind + 1, f"if not {pred}:")
        self.emit(ind + 2, "break")
        res = self.closed(bp, list(bc) + ks, ind + 1)
        self.update_carries(ks, res, k_avals, ind + 1)
        return ks


class _Lazy:
    __slots__ = ("step", "ind")

    def __init__(self, step, ind):
        self.step, self.ind = step, ind


def _layout_type(aval):
    from numba import types as nbt
    from numba.np.numpy_support import from_dtype
    if aval.ndim == 0:
        return from_dtype(aval.dtype)
    return nbt.Array(from_dtype(aval.dtype), aval.ndim, "C")


def compile_loop(ctx, kind, args, params):
    """The driver expression running a scan or while_loop equation as one njit function, or
    None when its body has something the generator does not compile (the caller then keeps
    the Python loop). The module's text is shown by lower().as_text()."""
    from .cache import KERNELS
    src = LoopSource()
    names = [f"a{i}" for i in range(len(args))]
    avals = ctx.in_avals
    for n, a in zip(names, avals):
        if a.ndim:
            src.c_names.add(n)
    try:
        outs = src.scan(params, names, 1) if kind == "scan" else \
            src.while_loop(params, names, 1)
    except Unsupported as e:
        ctx.note(f"# {kind}: a Python loop over the body's compiled driver ({e})")
        return None
    if any(np.dtype(a.dtype) == np.float16 for a in avals) or \
            any(np.dtype(a.aval.dtype) == np.float16 for _, _, a in src.extra):
        ctx.note(f"# {kind}: a Python loop over the body's compiled driver (float16)")
        return None
    src.emit(1, f"return ({''.join(o + ', ' for o in outs)})")
    extra_names = [n for n, _, _ in src.extra]
    text = src.module_text(names + extra_names)
    sig = tuple(_layout_type(a) for a in avals) + \
        tuple(_layout_type(a) for _, _, a in src.extra)
    try:
        disp, event = KERNELS.kernel(text, [sig], flags=LOOP_FLAGS)
    except Exception as e:     # Numba could not type it: the Python loop is still right
        ctx.note(f"# {kind}: a Python loop over the body's compiled driver (Numba could not "
                 f"compile the loop: {type(e).__name__}: {str(e).splitlines()[0][:200]})")
        return None
    ctx.record(event, text)
    # A small Python wrapper: contiguous arguments, typed scalars (Numba returns a float32 as a
    # Python float), the body's constants as arguments (Numba would copy global arrays into
    # the machine code), the tuple of results.
    scope = {"np": np, "loop": disp}
    call_args = []
    for n, a in zip(names, avals):
        call_args.append(f"{scalar_ctor(a.dtype)}({n})" if a.ndim == 0 else
                         f"np.ascontiguousarray({n})")
    for name, value, a in src.extra:
        scope[name] = np.asarray(value, a.dtype)[()] if a.ndim == 0 else \
            np.ascontiguousarray(value)
        call_args.append(name)
    fix = [f"{scalar_ctor(a.dtype)}(r[{j}])" if a.ndim == 0 else f"r[{j}]"
           for j, a in enumerate(ctx.out_avals)]
    fn_src = (f"def {kind}_njit({', '.join(names)}):\n"
              f"    r = loop({', '.join(call_args)})\n"
              f"    return ({''.join(x + ', ' for x in fix)})\n")
    exec(compile(fn_src, f"<functrans {kind}_njit>", "exec"), scope)
    wrapper = scope[f"{kind}_njit"]
    wrapper.source = fn_src + "\n# the compiled loop\n" + text     # what runs, for inspection
    return f"{ctx.bind_global(wrapper, kind + '_njit')}({', '.join(args)})"
