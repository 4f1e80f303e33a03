"""Fusion: the schedule of a flat program, with elementwise work grouped into loop kernels.

Equations whose lowering is Elementwise join a *group* that shares their iteration space (their
output shape) when they read a group member's result element by element; a Reduce joins the
group that produces its operand. Views (broadcast, transpose, slice, ...) are not computed at
all: a kernel reads their source through a composed index map. A group is only formed if it
keeps the step graph acyclic: no member may need, from outside the group, a value that itself
depends on the group. Everything else is a driver step (BLAS, numpy ufuncs, impl calls).
"""
import heapq

import numpy as np

from ..core.ir import ClosedProgram, Literal, Program, Var
from .flatten import LoweringError, describe_eqn, lowering_of
from .lowering import Driver, Elementwise, Reduce, Ufunc, View, identity_map, typed_const


_NO_NUMBA = {np.dtype(np.float16)}


class ScalarCtx:
    """What an Elementwise rule sees besides its operand expressions."""

    def __init__(self, in_avals, out_aval, params):
        self.in_avals = in_avals
        self.out_aval = out_aval
        self.params = params

    def const(self, value, dtype=None):
        return typed_const(value, self.out_aval.dtype if dtype is None else dtype)

    def index(self, k):
        return f"i{k}"


class Read:
    """An operand element: `source` (a Var in memory, or a Literal) at index map `map`."""
    __slots__ = ("source", "map")

    def __init__(self, source, map_):
        self.source = source
        self.map = map_

    def key(self):
        return (id(self.source), self.map)


class Member:
    """One equation inside a kernel."""
    __slots__ = ("index", "eqn", "kind", "expr", "reads", "rule")

    def __init__(self, index, eqn, kind, expr, reads, rule):
        self.index, self.eqn, self.kind, self.expr, self.reads, self.rule = \
            index, eqn, kind, expr, reads, rule


class Group:
    def __init__(self, shape):
        self.shape = tuple(shape)
        self.members = []          # Member, in program order
        self.mask = 0
        self.outputs = []          # member output Vars needed outside the group

    def indices(self):
        return [m.index for m in self.members]


class Step:
    """kind: kernel (a Group), driver, ufunc, scalar (rank-0 elementwise in Python), reduce
    (numpy reduction of an array in memory), view (a numpy view materialized)."""

    def __init__(self, kind, eqn=None, group=None, rule=None, expr=None, order=0):
        self.kind, self.eqn, self.group, self.rule, self.expr, self.order = \
            kind, eqn, group, rule, expr, order
        self.deps = set()

    def out_vars(self):
        return self.group.outputs if self.kind == "kernel" else list(self.eqn.outputs)


def _compose(src_map, op_map):
    """src axes in terms of operand axes, operand axes in terms of loop indices -> src axes in
    terms of loop indices."""
    out = []
    for k, s, o in src_map:
        if k is None:
            out.append((None, 0, o))
            continue
        k2, s2, o2 = op_map[k]
        out.append((None, 0, o + s * o2) if k2 is None else (k2, s * s2, o + s * o2))
    return tuple(out)


class Planner:
    def __init__(self, program):
        self.program = program
        self.eqns = program.eqns
        self.producer = {v: i for i, e in enumerate(self.eqns) for v in e.outputs}
        self.anc = []
        for i, e in enumerate(self.eqns):
            bits = 0
            for a in e.inputs:
                p = self.producer.get(a) if isinstance(a, Var) else None
                if p is not None:
                    bits |= (1 << p) | self.anc[p]
            self.anc.append(bits)
        self.users = [[] for _ in self.eqns]      # eqn index -> indices of its consumers
        for i, e in enumerate(self.eqns):
            for p in {self.producer.get(a) for a in e.inputs if isinstance(a, Var)}:
                if p is not None:
                    self.users[p].append(i)
        self.view_maps = {}        # eqn index -> index map of a view that kernels can read
        self._resolved = {}
        self.group_of = {}
        self.groups = []
        self.singles = {}          # eqn index -> Step for non-kernel equations

    # --- reads -------------------------------------------------------------------------------
    def resolve(self, atom):
        """(source, map): the value in memory that `atom` is a view of, and the index map of
        the source's axes in terms of atom's axes."""
        if isinstance(atom, Literal):
            return atom, ()
        hit = self._resolved.get(atom)
        if hit is not None:
            return hit
        p = self.producer.get(atom)
        if p is not None and p in self.view_maps:
            src, m = self.resolve(self.eqns[p].inputs[0])
            result = (src, _compose(m, self.view_maps[p]))
        else:
            result = (atom, identity_map(atom.aval.ndim))
        self._resolved[atom] = result
        return result

    def read(self, atom, op_map):
        src, m = self.resolve(atom)
        if isinstance(src, Literal):
            return Read(src, ())
        return Read(src, _compose(m, op_map))

    # --- grouping ----------------------------------------------------------------------------
    def _valid(self, members, mask, shape):
        ident = identity_map(len(shape))
        outside = set()
        for m in members:
            for r in m.reads:
                p = self.producer.get(r.source) if isinstance(r.source, Var) else None
                if p is None:
                    continue
                if (mask >> p) & 1:
                    # Inside the group a result is only readable element by element, and a
                    # reduction's result only after the loops.
                    inner = next(x for x in members if x.index == p)
                    if inner.kind != "elementwise" or r.map != ident or \
                            r.source.aval.shape != shape:
                        return False
                elif self.anc[p] & mask:
                    return False
                else:
                    outside.add(p)
        return not outside or not self._reaches(mask, outside)

    def _reaches(self, mask, targets):
        """Would the candidate group (the equations in mask) feed one of its own operands
        (targets, equations outside it) once every existing group runs as one step? Fusing
        makes dependencies coarser: a group's consumers wait for all of it, so a path that
        leaves the candidate, enters another group at one member and leaves it from another
        (or through several groups) can come back, although no path of single equations does
        (a Hessian-vector product builds exactly that: two groups joined by matrix products in
        both directions). The search walks forward from the candidate over equations placed
        so far, a group counting as one node. Later equations cannot lead back: every member
        precedes them."""
        top = max(k for k in range(mask.bit_length()) if (mask >> k) & 1)
        reached = set()
        stack = [k for k in range(top + 1) if (mask >> k) & 1]
        while stack:
            e = stack.pop()
            for u in self.users[e]:
                if u >= top or (mask >> u) & 1 or u in reached:
                    continue
                g = self.group_of.get(u)
                for w in ([m.index for m in g.members] if g is not None else [u]):
                    if w in reached:
                        continue
                    if w in targets:
                        return True
                    reached.add(w)
                    stack.append(w)
        return False

    def _try_join(self, member, shape, candidates):
        """Put member in the union of candidate groups if valid, else in one of them, else in
        a new group."""
        shape = tuple(shape)
        options = []
        if len(candidates) > 1:
            options.append(candidates)
        options += [[g] for g in sorted(candidates, key=lambda g: -len(g.members))]
        for option in options:
            members = [m for g in option for m in g.members] + [member]
            mask = 0
            for m in members:
                mask |= 1 << m.index
            if self._valid(members, mask, shape):
                target = option[0]
                for g in option[1:]:
                    target.members += g.members
                    target.mask |= g.mask
                    for m in g.members:
                        self.group_of[m.index] = target
                    self.groups.remove(g)
                target.members.append(member)
                target.members.sort(key=lambda m: m.index)
                target.mask |= 1 << member.index
                self.group_of[member.index] = target
                return True
        return False

    def _new_group(self, member, shape):
        g = Group(shape)
        g.members.append(member)
        g.mask = 1 << member.index
        self.groups.append(g)
        self.group_of[member.index] = g

    def _candidates(self, reads, shape):
        found = []
        for r in reads:
            p = self.producer.get(r.source) if isinstance(r.source, Var) else None
            g = self.group_of.get(p)
            if g is not None and g.shape == tuple(shape) and g not in found and \
                    r.map == identity_map(len(shape)) and r.source.aval.shape == tuple(shape):
                found.append(g)
        return found

    def plan(self):
        for i, eqn in enumerate(self.eqns):
            rule = lowering_of(eqn)
            try:
                self._place(i, eqn, rule)
            except LoweringError:
                raise
            except Exception as e:
                raise LoweringError(f"jit: lowering failed for the equation {describe_eqn(eqn)}"
                                    f" (equation {i}): {type(e).__name__}: {e}") from e
        return self._schedule()

    def _place(self, i, eqn, rule):
        in_avals = [a.aval for a in eqn.inputs]
        if isinstance(rule, (Elementwise, Reduce)) and \
                any(a.dtype in _NO_NUMBA for a in in_avals + [v.aval for v in eqn.outputs]):
            # Numba has no float16: such equations run on numpy in the driver.
            self.singles[i] = Step("driver", eqn, rule=Driver.impl(eqn.primitive), order=i)
            return
        if isinstance(rule, View):
            m = rule.index_map(in_avals[0], eqn.outputs[0].aval, **eqn.params) \
                if rule.index_map is not None else None
            if m is not None:
                self.view_maps[i] = m
            else:
                self.singles[i] = Step("view", eqn, rule=rule, order=i)
            return
        if isinstance(rule, Elementwise):
            out = eqn.outputs[0].aval
            expr = rule.scalar([f"{{{k}}}" for k in range(len(in_avals))],
                               ScalarCtx(in_avals, out, eqn.params), **eqn.params)
            if expr is None:
                fallback = rule.fallback or Driver.impl(eqn.primitive)
                self.singles[i] = Step("driver", eqn, rule=fallback, order=i)
                return
            maps = rule.index_maps(in_avals, out, **eqn.params) if rule.index_maps else \
                [identity_map(out.ndim) if a.ndim else () for a in in_avals]
            if out.ndim == 0:
                # A rank-0 result can still read array operands (a dot_general contracting
                # size-1 axes, (1,)·(1,) -> ()): each is read at its one element, never used
                # whole (that would give the operand's shape, not the rule's).
                step = Step("scalar", eqn, rule=rule, expr=expr, order=i)
                step.element = [tuple(o for _, _, o in mp) if a.ndim else None
                                for a, mp in zip(in_avals, maps)]
                self.singles[i] = step
                return
            reads = [self.read(a, mp) for a, mp in zip(eqn.inputs, maps)]
            member = Member(i, eqn, "elementwise", expr, reads, rule)
            if not self._try_join(member, out.shape, self._candidates(reads, out.shape)):
                self._new_group(member, out.shape)
            return
        if isinstance(rule, Reduce):
            x = eqn.inputs[0]
            shape = x.aval.shape
            r = self.read(x, identity_map(len(shape)))
            member = Member(i, eqn, "reduce", None, [r], rule)
            if len(shape) and self._try_join(member, shape, self._candidates([r], shape)):
                return
            in_memory = isinstance(r.source, Var) and r.source is x
            if in_memory or not len(shape) or isinstance(r.source, Literal):
                self.singles[i] = Step("reduce", eqn, rule=rule, order=i)
            else:
                self._new_group(member, shape)
            return
        if isinstance(rule, Ufunc):
            out = eqn.outputs[0].aval
            if rule.scalar is not None and out.size < Ufunc.FUSE_BELOW and \
                    out.dtype.kind in "fc":
                fused = Elementwise(lambda a, ctx: rule.scalar.format(*a, one=ctx.const(1)))
                return self._place(i, eqn, fused)
            self.singles[i] = Step("ufunc", eqn, rule=rule, order=i)
            return
        if isinstance(rule, Driver):
            if any(a.dtype in _NO_NUMBA for a in in_avals + [v.aval for v in eqn.outputs]) \
                    and not _has_subprograms(eqn):
                # A driver rule may call Numba code, which has no float16: the impl (what the
                # interpreter runs) is right by definition. Loops and conds keep their rules:
                # they compile their bodies, whose float16 equations come back here.
                rule = Driver.impl(eqn.primitive)
            self.singles[i] = Step("driver", eqn, rule=rule, order=i)
            return
        raise LoweringError(f"jit: unknown lowering {rule!r} for the equation "
                            f"{describe_eqn(eqn)}")

    # --- scheduling --------------------------------------------------------------------------
    def _schedule(self):
        """Steps in a valid order, each with the Vars it needs in memory."""
        program = self.program
        steps = list(self.singles.values())
        for g in self.groups:
            steps.append(Step("kernel", group=g, order=g.members[0].index))
        needed = set()

        def need(atom):
            """atom must exist in memory: materialize views on the way."""
            if not isinstance(atom, Var) or atom in needed:
                return
            needed.add(atom)
            p = self.producer.get(atom)
            if p is not None and p in self.view_maps and p not in self.singles:
                view_eqn = self.eqns[p]
                step = Step("view", view_eqn, rule=lowering_of(view_eqn), order=p)
                self.singles[p] = step
                steps.append(step)
                need(view_eqn.inputs[0])

        for a in program.outvars:
            need(a)
        for s in list(steps):
            if s.kind == "kernel":
                for m in s.group.members:
                    for r in m.reads:
                        p = self.producer.get(r.source) if isinstance(r.source, Var) else None
                        if p is None or not (s.group.mask >> p) & 1:
                            need(r.source)
            else:
                for a in s.eqn.inputs:
                    need(a)
        # steps appended by need() (views) need their operands too: handled inside need().
        step_of = {}
        for s in steps:
            if s.kind == "kernel":
                for m in s.group.members:
                    for v in m.eqn.outputs:
                        step_of[v] = s
                s.group.outputs = [v for m in s.group.members for v in m.eqn.outputs
                                   if v in needed]
            else:
                for v in s.eqn.outputs:
                    step_of[v] = s
        for s in steps:
            if s.kind == "kernel":
                srcs = [r.source for m in s.group.members for r in m.reads]
            else:
                srcs = list(s.eqn.inputs)
            for a in srcs:
                t = step_of.get(a) if isinstance(a, Var) else None
                if t is not None and t is not s:
                    s.deps.add(id(t))
        return toposort(steps), needed


def _has_subprograms(eqn):
    kinds = (ClosedProgram, Program)
    return any(isinstance(v, kinds) or (isinstance(v, (tuple, list)) and
                                        any(isinstance(u, kinds) for u in v))
               for v in eqn.params.values())


def toposort(steps):
    by_id = {id(s): s for s in steps}
    users = {id(s): [] for s in steps}
    indeg = {}
    for s in steps:
        indeg[id(s)] = len(s.deps)
        for d in s.deps:
            users[d].append(s)
    heap = [(s.order, id(s)) for s in steps if indeg[id(s)] == 0]
    heapq.heapify(heap)
    out = []
    while heap:
        _, sid = heapq.heappop(heap)
        s = by_id[sid]
        out.append(s)
        for u in users[sid]:
            indeg[id(u)] -= 1
            if indeg[id(u)] == 0:
                heapq.heappush(heap, (u.order, id(u)))
    if len(out) != len(steps):
        raise LoweringError("jit: internal error: the fused schedule has a cycle")
    return out


def plan(program):
    """(steps in execution order, set of Vars that live in memory)."""
    return Planner(program).plan()
