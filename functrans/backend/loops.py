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
    driver    the loop lowering its primitive declares (functrans.backend.loop_lowering):
              matrix products on BLAS, dynamic_slice as a view of the closed-over array,
              cond/scan/while_loop nested in the body generated inline, recursively

A body containing anything else (a driver step whose primitive declares no loop lowering: sort,
gather, scatter, cumsum, fft, linalg, ...) raises Unsupported, and the caller keeps the Python
loop that calls the body's compiled driver per iteration (docs/jit.md lists them).

The module's text depends only on the loop's structure (shapes are compiled in, never values),
and goes through the kernel cache: it is written to disk, loaded by later processes and shared
by equal loops.
"""
import re

import numpy as np

from ..core.ir import Literal, Var
from .flatten import flatten
from .fusion import Group, Member, Planner, Read
from .kernels import KERNEL_FLAGS, generate
from .loop_lowering import Unsupported
from .loop_scalars import Elems, ScalarArrays, flat_index, small, source_index
from .lowering import (identity_map, only_unit_axes_moved, scalar_ctor, typed_const,
                       view_moves_no_data)

# The loop allocates (per-iteration outputs, stacked ys): it needs Numba's runtime.
LOOP_FLAGS = ("cache=True, nogil=True, error_model='numpy', boundscheck=False, no_rewrites=True, "
              "no_cfunc_wrapper=True")


class LoopSource(ScalarArrays):
    """Builds the module: the loop function `kernel` and the fused kernels it calls."""

    def __init__(self):
        self.lines = []
        self.helpers = []
        self._helper_of = {}
        self.extra = []          # (name, value, aval): constants of bodies, passed as arguments
        self._n = 0
        self._planners = []
        self._slots = []         # per program: kernel output Var -> its slot in a concatenation
        self._placed = []        # per program: id(concatenate eqn) -> (buffer, pieces placed)
        self.prologue = []
        self.fresh_bufs = set()  # names of prologue buffers (written in place each iteration)
        self.c_names = set()     # names known to hold C-contiguous arrays
        self.elems_of = {}       # buffer name -> the Elems it was materialized from

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
            # called only from the loop function: no wrapper for calls from Python
            parts.append(f"@njit({KERNEL_FLAGS}, no_cpython_wrapper=True)\n{h}")
        return "\n\n".join(parts)

    # --- programs ------------------------------------------------------------------------------
    def closed(self, closed, in_names, ind, elements=False):
        """Emit the statements of a ClosedProgram applied to in_names (names, or Elems);
        returns its outputs (names; with elements=True small arrays may stay Elems)."""
        program, consts = flatten(closed)
        env = {}
        for v, c in zip(program.constvars, consts):
            name = self.fresh("c")
            self.extra.append((name, c, v.aval))
            if v.aval.ndim:
                self.c_names.add(name)
            env[v] = name
        env.update((v, Elems(n.names, n.aval, ind) if isinstance(n, Elems) else n)
                   for v, n in zip(program.invars, in_names))
        planner = _LoopPlanner(program)
        steps, _ = planner.plan()
        self._planners.append(planner)
        self._slots.append({})
        self._placed.append({})
        self.place_pieces(steps, planner)
        try:
            for s in steps:
                if s.kind == "view":
                    # emitted where first read: a view only read element-wise by scalar
                    # steps is never built (slicing compiles slowly in Numba)
                    for v in s.eqn.outputs:
                        env[v] = _Lazy(s, ind)
                    continue
                self.step(s, env, ind)
            if elements:
                return [self.result(a, env, ind) for a in program.outvars]
            return [self.atom(a, env) for a in program.outvars]
        finally:
            self._planners.pop()
            self._slots.pop()
            self._placed.pop()

    def place_pieces(self, steps, planner):
        """Pieces of a concatenation that fused kernels compute are written by those kernels
        straight into their slot of the concatenation's buffer (a strided view), instead of
        into a buffer of their own copied afterwards (a batched ODE step concatenates the
        columns of its new state)."""
        slots, placed = self._slots[-1], self._placed[-1]
        for s in steps:
            if s.kind != "driver" or s.eqn.primitive.name != "concatenate" or \
                    small(s.eqn.outputs[0].aval):
                continue
            out, dim = s.eqn.outputs[0].aval, s.eqn.params["dimension"]
            buf, js, at = None, set(), 0
            for j, a in enumerate(s.eqn.inputs):
                n = a.aval.shape[dim]
                src = None if isinstance(a, Literal) else planner.resolve(a)[0]
                g = None if src is None or isinstance(src, Literal) else \
                    planner.group_of.get(planner.producer.get(src))
                # (a small group's results are scalars: built by the copy below)
                if g is not None and not small(_Shape(g.shape)) and src in g.outputs and \
                        src not in slots and \
                        src.aval.dtype == out.dtype and \
                        only_unit_axes_moved(src.aval, a.aval, planner.resolve(a)[1]):
                    if buf is None:
                        buf = self.buffer(out.shape, out.dtype)
                    piece = f"{buf}[{', '.join(f'{at}:{at + n}' if d == dim else ':' for d in range(out.ndim))}]"
                    view = _unit_axes_view(piece, a.aval, src.aval)
                    if view is not None:
                        slots[src] = view
                        js.add(j)
                at += n
            if js:
                placed[id(s.eqn)] = (buf, js)

    def concatenate_placed(self, eqn, env, ind):
        """A concatenation whose placed pieces are written already: copy the others."""
        buf, js = self._placed[-1][id(eqn)]
        out, dim, at = eqn.outputs[0].aval, eqn.params["dimension"], 0
        for j, a in enumerate(eqn.inputs):
            if j not in js:
                offsets = ", ".join(f"{at if d == dim else 0}, 1" for d in range(out.ndim))
                self.emit(ind, f"{self.put(out.ndim)}({buf}, {self.atom(a, env)}, {offsets})")
            at += a.aval.shape[dim]
        env[eqn.outputs[0]] = buf

    def result(self, a, env, ind):
        if not isinstance(a, Literal) and small(a.aval):
            names = self.elements(a, env, ind)
            if names is not None:
                return Elems(names, a.aval, ind)
        return self.atom(a, env)

    def atom(self, a, env):
        if isinstance(a, Literal):
            return typed_const(a.value, a.aval.dtype)
        name = env[a]
        if isinstance(name, Elems):
            name = env[a] = self.materialize(name)
            self.c_names.add(name)
        if isinstance(name, _Lazy):
            lazy = name
            if a.aval.ndim == 0:
                # a scalar picked from a small array: no view of the array is built
                names = self.elements(a, env, lazy.ind)
                if names is not None:
                    env[a] = names[0]
                    return names[0]
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
        held = None if isinstance(src, Literal) else env.get(src)
        if isinstance(held, str):
            held = self.elems_of.get(held)
        if isinstance(held, Elems):
            return held.names[flat_index(source_index(m, e), src.aval.shape)]
        if not isinstance(src, Literal) and isinstance(env.get(src), str) or \
                isinstance(env.get(src), _Lazy):
            idx = [str(o + s * e[k]) if k is not None else str(o) for k, s, o in m]
            return f"{self.atom(src, env)}[{', '.join(idx)}]" if idx else self.atom(src, env)
        return f"{self.atom(a, env)}[{', '.join(map(str, e))}]"

    def step(self, s, env, ind):
        if s.kind == "kernel":
            if small(_Shape(s.group.shape)):
                return self.small_kernel(s.group, env, ind)
            return self.kernel(generate(s.group), env, ind)
        eqn = s.eqn
        if s.kind == "driver" and self.element_rule(eqn, env, ind):
            return
        if s.kind == "driver" and id(eqn) in self._placed[-1]:
            return self.concatenate_placed(eqn, env, ind)
        outs = eqn.outputs
        if s.kind == "scalar":
            expr = s.expr.format(*[self.element(a, e, env)
                                   for a, e in zip(eqn.inputs, s.element)])
            return self.assign(env, outs[0], f"{scalar_ctor(outs[0].aval.dtype)}({expr})", ind)
        ins = [self.atom(a, env) for a in eqn.inputs]
        if s.kind == "ufunc":
            return self.ufunc(s, ins, env, ind)
        if s.kind == "reduce":
            x = eqn.inputs[0]
            if isinstance(x, Literal) or x.aval.ndim == 0:
                raise Unsupported("a reduction of a scalar")
            g = Group(x.aval.shape)
            g.members = [Member(0, eqn, "reduce", None, [Read(x, identity_map(x.aval.ndim))],
                                s.rule)]
            if small(x.aval):
                g.outputs = list(outs)
                return self.small_kernel(g, env, ind)
            return self.kernel(generate(g), env, ind)
        if s.kind == "view":
            return self.view(s, eqn, ins, env, ind)
        if s.kind == "driver":
            return self.equation(eqn, ins, env, ind)
        raise Unsupported(f"a step of kind {s.kind}")

    def element_rule(self, eqn, env, ind):
        """A driver step on small arrays by its loop lowering's element rule (picking element
        names: concatenate, pad); False when it has none or an operand is not small."""
        rule = getattr(eqn.primitive.loop_lowering, "elements", None)
        if rule is None or not all(small(v.aval) for v in eqn.outputs):
            return False
        xs = [self.elements(a, env, ind) for a in eqn.inputs]
        if any(x is None for x in xs):
            return False
        outs = rule(xs, [a.aval for a in eqn.inputs], [v.aval for v in eqn.outputs],
                    **eqn.params)
        for v, names in zip(eqn.outputs, outs):
            env[v] = Elems(names, v.aval, ind)
        return True

    def equation(self, eqn, ins, env, ind):
        """A driver step, by the primitive's loop lowering."""
        rule = eqn.primitive.loop_lowering
        if rule is None:
            raise Unsupported(f"`{eqn.primitive.name}` (its lowering calls numpy from the driver)")
        names = rule(self, ins, [a.aval for a in eqn.inputs], [v.aval for v in eqn.outputs],
                     ind, **eqn.params)
        env.update(zip(eqn.outputs, names))

    def ufunc(self, s, ins, env, ind):
        eqn, out = s.eqn, s.eqn.outputs[0]
        f = s.rule.ufunc
        if not (isinstance(f, np.ufunc) and getattr(np, f.__name__, None) is f):
            raise Unsupported(f"`{eqn.primitive.name}` (a non-numpy ufunc)")
        if s.rule.result_dtype([a.aval for a in eqn.inputs]) != out.aval.dtype:
            raise Unsupported(f"`{eqn.primitive.name}` changes dtype")
        expr = f"np.{f.__name__}({', '.join(ins)})"
        if out.aval.ndim == 0:
            expr = f"{scalar_ctor(out.aval.dtype)}({expr})"
        return self.assign(env, out, expr, ind, c=out.aval.ndim > 0)

    def value(self, expr, ind, c=False):
        """A fresh name bound to expr (c: it holds a C-contiguous array)."""
        name = self.fresh()
        self.emit(ind, f"{name} = {expr}")
        if c:
            self.c_names.add(name)
        return name

    def assign(self, env, v, expr, ind, c=False):
        env[v] = self.value(expr, ind, c)

    def buffer(self, shape, dtype):
        """A fresh name for a buffer of this shape and dtype, allocated once per call."""
        name = self.fresh("y")
        self.alloc(name, shape, scalar_ctor(dtype))
        return name

    def kernel(self, spec, env, ind):
        h = self.helper(_static_extents(_early_exit(spec), spec.shape))
        args = [self.atom(v, env) for v in spec.inputs]
        outs = []
        for v in spec.outputs:
            slot = self._slots[-1].get(v) if self._slots else None
            name = self.buffer(v.aval.shape, v.aval.dtype) if slot is None else \
                self.value(slot, ind)
            env[v] = name
            outs.append(name)
        extents = [str(n) for n in spec.shape] if spec.pass_extents else []
        call = f"{h}({', '.join(args + outs + extents)})"
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
            env[eqn.outputs[0]] = self.filled(out.shape, x, scalar_ctor(out.dtype), ind)
            return
        if out.ndim == 0:
            m = s.rule.index_map(xa, out, **eqn.params) if s.rule.index_map else None
            if m is None:
                raise Unsupported(f"`{eqn.primitive.name}` to a scalar")
            idx = ", ".join(str(o) for _, _, o in m)
            return self.assign(env, eqn.outputs[0],
                               f"{scalar_ctor(out.dtype)}({x}[{idx}])", ind)
        if s.rule.reshape or (x in self.c_names and
                              view_moves_no_data(s.rule, xa, out, eqn.params)):
            # a reshape of a contiguous array, copied into a buffer first if it is strided
            # (Numba reshapes only contiguous arrays)
            if x not in self.c_names and _unit_axes_view(x, xa, out) is not None:
                # only axes of size 1 change: an indexing view, no copy
                return self.assign(env, eqn.outputs[0], _unit_axes_view(x, xa, out), ind)
            if x not in self.c_names:
                buf = self.buffer(xa.shape, xa.dtype)
                self.emit(ind, f"{self.put(xa.ndim)}({buf}, {x}, {self.zeros(xa.ndim)})")
                x = buf
            return self.assign(env, eqn.outputs[0], f"{x}.reshape({tuple(out.shape)})", ind,
                               c=True)
        expr = s.rule.view(x, xa, out, **eqn.params)
        if ".reshape(" in expr and x not in self.c_names:
            expr = s.rule.view(f"np.ascontiguousarray({x})", xa, out, **eqn.params)
        return self.assign(env, eqn.outputs[0], expr, ind)

    def init_carries(self, ks, inits, avals, ind):
        """The carries' variables set from their initial values: a buffer per array carry,
        scalar variables for rank-0 and small carries (Elems)."""
        out = []
        for k, a, aval in zip(ks, inits, avals):
            if small(aval):
                out.append(self.scalar_carry(k, a, aval, ind))
                continue
            out.append(k)
            if aval.ndim:
                self.alloc(k, aval.shape, scalar_ctor(aval.dtype))
                self.fresh_bufs.discard(k)
                self.emit(ind, f"{self.put(aval.ndim)}({k}, {a}, {self.zeros(aval.ndim)})")
            else:
                self.emit(ind, f"{k} = {scalar_ctor(aval.dtype)}({a})")
        return out

    def update_carries(self, ks, results, avals, ind):
        """The carries' buffers take the iteration's results. A result that is not a buffer
        written this iteration (another carry, a view of one, an operand) is copied first:
        updating the carries one by one in place would read an overwritten carry."""
        staged = []
        for k, r, aval in zip(ks, results, avals):
            if isinstance(k, Elems) or not aval.ndim:
                pass
            elif isinstance(r, Elems):
                r = self.materialize(r, ind)
            elif r != k and r not in self.fresh_bufs:
                t = self.fresh("t")
                self.emit(ind, f"{t} = np.ascontiguousarray({r}).copy()")
                r = t
            staged.append(r)
        # Scalar carries in one tuple assignment: a carry's new value may be another's old one.
        lhs, rhs = [], []
        for k, r, aval in zip(ks, staged, avals):
            ctor = scalar_ctor(aval.dtype)
            if isinstance(k, Elems):
                lhs += k.names
                rhs += [f"{ctor}({v})" for v in self.result_elements(r, aval, ind)]
            elif not aval.ndim:
                lhs.append(k)
                rhs.append(f"{ctor}({r})")
        if lhs:
            self.emit(ind, f"{', '.join(lhs)}, = {', '.join(rhs)},")
        # A result written into its own buffer this iteration trades buffers with its carry
        # (the old carry's buffer is rewritten next iteration) instead of being copied.
        names = {k for k in ks if isinstance(k, str)}
        for k, r, aval in zip(ks, staged, avals):
            if not aval.ndim or isinstance(k, Elems) or r == k:
                continue
            if r in self.fresh_bufs and r not in names and staged.count(r) == 1:
                self.emit(ind, f"{k}, {r} = {r}, {k}")
            else:
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


def _static_extents(source, shape):
    """The kernel's loop extents as constants (a loop's shapes are compiled in): LLVM unrolls
    and vectorizes loops of a known trip count (a batch of 3-element states)."""
    names = ", ".join(f"n{d}" for d in range(len(shape)))
    values = ", ".join(str(int(n)) for n in shape)
    return re.sub(rf"^    {names},? = y\d+\.shape$", f"    {names}, = {values},", source, count=1,
                  flags=re.M)


def _early_exit(spec):
    """The kernel's source, stopping at the first True of an `any` (the first False of an
    `all`) when that boolean is all the kernel computes: a while_loop's condition
    `any(not converged)` then reads as far as the first element not converged, as a hand
    loop does. The elements after it cannot change the result."""
    if spec.outputs or len(spec.scalar_outputs) != 1:
        return spec.source
    out = spec.scalar_outputs[0]
    reductions = [e for e in spec.eqns if e.primitive.name.startswith(("reduce_", "arg"))]
    if out.aval.dtype != np.bool_ or len(reductions) != 1 or \
            reductions[0].outputs[0] is not out or \
            reductions[0].primitive.name not in ("reduce_max", "reduce_min"):
        return spec.source
    lines = spec.source.rstrip("\n").split("\n")
    acc = lines[-1].strip()[len("return "):].rstrip(",").strip()
    op = "max" if reductions[0].primitive.name == "reduce_max" else "min"
    update = re.compile(rf"^(\s+){acc} = np\.bool\({op}\({acc}, ")
    at = [j for j, ln in enumerate(lines) if update.match(ln)]
    if len(at) != 1 or not re.fullmatch(r"a\d+", acc):
        return spec.source
    pad = update.match(lines[at[0]]).group(1)
    stop = acc if op == "max" else f"not {acc}"
    lines[at[0] + 1:at[0] + 1] = [f"{pad}if {stop}:", f"{pad}    break"]
    return "\n".join(lines) + "\n"


class _LoopPlanner(Planner):
    """The fusion plan of a loop body. Beside a group producing its operands, an equation
    may join a group of its iteration space that reads the same operands: in a loop the
    saved pass and call repeat every iteration (the columns of a batched ODE step are three
    such siblings)."""

    def _candidates(self, reads, shape):
        found = super()._candidates(reads, shape)
        srcs = {id(r.source) for r in reads if isinstance(r.source, Var)}
        for g in self.groups:
            if g.shape == tuple(shape) and g not in found and \
                    any(id(r.source) in srcs for m in g.members for r in m.reads):
                found.append(g)
        return found


class _Shape:
    """An iteration space seen as an aval (for `small`)."""
    dtype = np.dtype(np.float64)

    def __init__(self, shape):
        self.ndim, self.size = len(shape), int(np.prod(shape, dtype=np.int64))


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


def _generate(rule, in_avals, out_avals, params, names=None):
    """The loop's LoopSource, its operands' names (a{i}; given: an operand passed twice has one
    name) and the names of its results."""
    src = LoopSource()
    names = names or [f"a{i}" for i in range(len(in_avals))]
    src.c_names.update(n for n, a in zip(names, in_avals) if a.ndim)
    outs = rule(src, names, in_avals, out_avals, 1, **params)
    return src, names, outs


def compiles_as_loop(eqn):
    """Will jit run this equation as one njit function, or as a Python loop calling its body's
    compiled program? Asked of the loop generator itself (source only; nothing is compiled)."""
    rule = eqn.primitive.loop_lowering
    if rule is None or any(a.aval.dtype == np.float16 for a in eqn.inputs):
        return False
    try:
        _generate(rule, [a.aval for a in eqn.inputs], [v.aval for v in eqn.outputs],
                  eqn.params)
    except Exception:           # Unsupported, or anything else: it would fall back too
        return False
    return True


def compile_loop(ctx, kind, args, params):
    """The driver expression running a loop equation (a scan, a while_loop: `kind`) as one njit
    function, or None when its body has something the generator does not compile (the caller
    then keeps the Python loop). The module's text is shown by lower().as_text()."""
    from .cache import KERNELS
    # An operand passed more than once (a while_loop's condition, body and initial carry all
    # reading the same array) is one parameter: each costs a conversion and an unboxing per call.
    first = {}
    names = [first.setdefault(a, f"a{i}") for i, a in enumerate(args)]
    unique = list(first.values())
    try:
        src, names, outs = _generate(ctx.eqn.primitive.loop_lowering, ctx.in_avals,
                                     ctx.out_avals, params, names)
    except Unsupported as e:
        ctx.note(f"# {kind}: a Python loop over the body's compiled driver ({e})")
        return None
    avals = [ctx.in_avals[int(n[1:])] for n in unique]
    if any(np.dtype(a.dtype) == np.float16 for a in avals) or \
            any(np.dtype(a.aval.dtype) == np.float16 for _, _, a in src.extra):
        ctx.note(f"# {kind}: a Python loop over the body's compiled driver (float16)")
        return None
    outs = [src.materialize(o, 1) if isinstance(o, Elems) else o for o in outs]
    src.emit(1, f"return ({''.join(o + ', ' for o in outs)})")
    text = src.module_text(unique + [n for n, _, _ in src.extra])
    sig = tuple(_layout_type(a) for a in avals) + \
        tuple(_layout_type(a) for _, _, a in src.extra)
    try:
        disp, event = KERNELS.kernel(text, [sig], flags=LOOP_FLAGS)
    except Exception as e:     # Numba could not type it: the Python loop is still right
        ctx.note(f"# {kind}: a Python loop over the body's compiled driver (Numba could not "
                 f"compile the loop: {type(e).__name__}: {str(e).splitlines()[0][:200]})")
        return None
    ctx.record(event, text)
    wrapper = _wrapper(kind, disp, unique, avals, ctx.out_avals, src.extra)
    wrapper.source += "\n# the compiled loop\n" + text     # what runs, for inspection
    call_args = [args[int(n[1:])] for n in unique]
    return f"{ctx.bind_global(wrapper, kind + '_njit')}({', '.join(call_args)})"


def _wrapper(kind, loop, names, avals, out_avals, extra):
    """A small Python function calling the compiled loop: contiguous arguments, typed scalars
    (Numba returns a float32 as a Python float), the body's constants as arguments (Numba
    would copy global arrays into the machine code), the tuple of results."""
    scope = {"np": np, "loop": loop}
    call_args = []
    for n, a in zip(names, avals):
        call_args.append(f"{scalar_ctor(a.dtype)}({n})" if a.ndim == 0 else
                         f"np.ascontiguousarray({n})")
    for name, value, a in extra:
        scope[name] = np.asarray(value, a.dtype)[()] if a.ndim == 0 else \
            np.ascontiguousarray(value)
        call_args.append(name)
    fix = [f"{scalar_ctor(a.dtype)}(r[{j}])" if a.ndim == 0 else f"r[{j}]"
           for j, a in enumerate(out_avals)]
    fn_src = (f"def {kind}_njit({', '.join(names)}):\n"
              f"    r = loop({', '.join(call_args)})\n"
              f"    return ({''.join(x + ', ' for x in fix)})\n")
    exec(compile(fn_src, f"<functrans {kind}_njit>", "exec"), scope)
    wrapper = scope[f"{kind}_njit"]
    wrapper.source = fn_src
    return wrapper


def _unit_axes_view(x, xa, out):
    """x reshaped by dropping and inserting axes of size 1, as indexing (a view of any
    layout: x[:, 0] then [None, :]), or None when the reshape moves elements."""
    kept = [n for n in xa.shape if n != 1]
    if not kept or kept != [n for n in out.shape if n != 1]:
        return None
    expr = x
    if len(kept) < xa.ndim:
        expr += f"[{', '.join(':' if n != 1 else '0' for n in xa.shape)}]"
    if len(kept) < out.ndim:
        expr += f"[{', '.join(':' if n != 1 else 'None' for n in out.shape)}]"
    return expr
