"""Small arrays inside compiled loops kept as scalar variables, one per element.

A loop body over a state of three numbers (an ODE step) spends its time on the machinery of
arrays, not on arithmetic: a kernel call per fused group over 3 elements, a buffer filled per
broadcast scalar, a copy per concatenated piece and per carry. Arrays of at most SMALL elements
are therefore kept as `Elems`, the list of the scalar names holding their elements (row-major):
fused groups over them are unrolled into scalar statements, views, concatenations and pads of
them only pick names, loop carries of their shape are scalar variables, and stacked outputs are
stored element by element. Where an operation needs the array itself (BLAS, a kernel over a
larger shape, a numpy-path rule) it is materialized into a buffer, once per program.

The arithmetic is the kernels' (the same expressions, the same casts, reductions in the same
row-major order), so results equal the array path exactly.
"""
import re

import numpy as np

from ..core.ir import Literal
from .lowering import scalar_ctor, typed_const

SMALL = 8


class Elems:
    """An array held in scalar variables: `names[k]` is the k-th element (row-major), defined at
    indentation `ind` of the program that made it."""
    __slots__ = ("names", "aval", "ind")

    def __init__(self, names, aval, ind):
        self.names, self.aval, self.ind = list(names), aval, ind


def small(aval):
    return aval.ndim > 0 and 0 < aval.size <= SMALL and np.dtype(aval.dtype) != np.float16


def flat_index(idx, shape):
    k = 0
    for i, n in zip(idx, shape):
        k = k * n + i
    return k


def source_index(m, e):
    """The source element an index map reads at loop indices e."""
    return tuple(o if k is None else o + s * e[k] for k, s, o in m)


_LOOP_INDEX = re.compile(r"\bi(\d+)\b")


class ScalarArrays:
    """The LoopSource methods for Elems (mixed into functrans.backend.loops.LoopSource)."""

    def materialize(self, e, ind=None):
        """A buffer holding e's elements, written where e is defined."""
        buf = self.buffer(e.aval.shape, e.aval.dtype)
        for idx in np.ndindex(*e.aval.shape):
            self.emit(e.ind if ind is None else ind,
                      f"{buf}[{', '.join(map(str, idx))}] = {e.names[flat_index(idx, e.aval.shape)]}")
        self.elems_of[buf] = e
        return buf

    def elements(self, a, env, ind):
        """The element names of a small (or rank-0) operand, without building it as an array;
        None when it is not available that way."""
        if isinstance(a, Literal):
            v = np.broadcast_to(np.asarray(a.value, a.aval.dtype), a.aval.shape)
            return [typed_const(x, a.aval.dtype) for x in v.ravel()]
        held = env.get(a)
        if isinstance(held, Elems):
            return held.names
        if not (a.aval.ndim == 0 or small(a.aval)):
            return None
        if not hasattr(held, "step"):
            return [self.atom(a, env)] if a.aval.ndim == 0 else self.loaded(held, a.aval, ind)
        step = held.step                                       # a view not built yet
        x, xa, out = step.eqn.inputs[0], step.eqn.inputs[0].aval, a.aval
        xs = self.elements(x, env, ind) if xa.ndim == 0 or small(xa) else None
        if xs is None:
            return None
        if xa.ndim == 0:
            return xs * out.size
        m = step.rule.index_map(xa, out, **step.eqn.params) if step.rule.index_map else None
        if m is None:
            return None
        return [xs[flat_index(source_index(m, e), xa.shape)] for e in np.ndindex(*out.shape)]

    def loaded(self, name, aval, ind):
        """The elements of the array `name`: its Elems if it was materialized from some, else
        loaded into scalars now (a later in-place update of the array must not change them)."""
        e = self.elems_of.get(name)
        if e is not None:
            return e.names
        names = []
        for idx in np.ndindex(*aval.shape):
            v = self.fresh("e")
            self.emit(ind, f"{v} = {name}[{', '.join(map(str, idx))}]")
            names.append(v)
        return names

    def small_kernel(self, group, env, ind):
        """A fused group over a small shape, unrolled: one scalar statement per member and
        element, in the kernel's order."""
        shape = group.shape
        cells = list(np.ndindex(*shape))
        value = {}                    # member output Var -> element names
        memory = {}                   # operand Var -> element names, or its array name

        def operand(r, e):
            src = r.source
            if isinstance(src, Literal):
                return typed_const(src.value, src.aval.dtype)
            if src in value:
                return value[src][flat_index(e, shape)]
            if src.aval.ndim == 0:
                return self.atom(src, env)
            if src not in memory:
                memory[src] = self.elements(src, env, ind) if small(src.aval) else None
                if memory[src] is None:
                    memory[src] = self.atom(src, env)
            at = source_index(r.map, e)
            held = memory[src]
            if isinstance(held, str):
                return f"{held}[{', '.join(map(str, at))}]"
            return held[flat_index(at, src.aval.shape)]

        for m in group.members:
            out = m.eqn.outputs[0]
            ctor = scalar_ctor(out.aval.dtype)
            if m.kind == "elementwise":
                names = []
                for e in cells:
                    expr = _LOOP_INDEX.sub(lambda g: str(e[int(g.group(1))]), m.expr)
                    expr = expr.format(*[operand(r, e) for r in m.reads])
                    names.append(self.value(f"{ctor}({expr})", ind))
                value[out] = names
                continue
            axes = set(m.eqn.params["axes"])
            kept = [d for d in range(len(shape)) if d not in axes]
            dtype = out.aval.dtype
            acc = {}
            for e in cells:
                key = tuple(e[d] for d in kept)
                prev = acc.get(key, typed_const(m.rule.identity(dtype), dtype))
                x = operand(m.reads[0], e)
                acc[key] = self.value(f"{ctor}({m.rule.combine(prev, x, dtype)})", ind)
            value[out] = [acc[k] for k in np.ndindex(*[shape[d] for d in kept])]
        for v in group.outputs:
            env[v] = value[v][0] if v.aval.ndim == 0 else Elems(value[v], v.aval, ind)

    # --- carries -------------------------------------------------------------------------------
    def scalar_carry(self, k, init, aval, ind):
        """A carry of a small shape as scalar variables k_0, k_1, ..., set from the array init."""
        names = [f"{k}_{j}" for j in range(aval.size)]
        ctor = scalar_ctor(aval.dtype)
        vals = init.names if isinstance(init, Elems) else \
            [f"{init}[{', '.join(map(str, idx))}]" for idx in np.ndindex(*aval.shape)]
        self.emit(ind, f"{', '.join(names)}, = {', '.join(f'{ctor}({v})' for v in vals)},")
        return Elems(names, aval, ind)

    def result_elements(self, r, aval, ind):
        """The element names of a body result for a scalarized carry or a stacked output."""
        if isinstance(r, Elems):
            return r.names
        if aval.ndim == 0:
            return [r]
        if r.startswith("np."):         # a typed constant broadcast
            return [r] * aval.size
        return self.loaded(r, aval, ind)
