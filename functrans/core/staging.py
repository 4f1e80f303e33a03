"""Staging: recording primitive applications into a Program (make_jaxpr, jit, linearize; the
user-facing make_jaxpr and eval_shape are in transforms/tracing.py).

A StagingTrace owns a ProgramBuilder. Each primitive applied to its tracers becomes an equation;
values from outside (numpy arrays, or tracers of enclosing transforms) become constvars, and
scalars become inline literals.
"""

import numpy as np

from . import dtypes
from .aval import ShapedArray, aval_of_value
from .ir import ClosedProgram, Eqn, Literal, Program, Var
from .source_info import format_where, record_equation_source, user_frame_location
from .trace import Trace, Tracer, new_main


class StagingTracer(Tracer):
    __slots__ = ("aval", "atom", "origin", "source")

    def __init__(self, trace, aval, atom, origin="", source=""):
        self._trace = trace
        self.aval = aval
        self.atom = atom
        self.origin = origin      # how this value was made
        self.source = source      # the traced argument it derives from, if any

    def _origin_str(self):
        origin = self.origin
        if type(origin) is tuple:        # (primitive name, (file, line)): formatted on demand
            origin = f"the output of `{origin[0]}` at {format_where(origin[1])}"
        if self.source and self.source not in origin:
            return f"{origin}, {self.source}"
        return origin


class ProgramBuilder:
    def __init__(self):
        self.eqns = []
        self.const_tracers = {}     # id(value) -> tracer of its constvar
        self.const_values = []      # (tracer, value); values kept alive so ids stay unique

    def new_const(self, trace, value, aval):
        tracer = self.const_tracers.get(id(value))
        if tracer is None:
            tracer = StagingTracer(trace, aval, Var(aval), "a constant captured by the function")
            self.const_tracers[id(value)] = tracer
            self.const_values.append((tracer, value))
        return tracer

    def build(self, in_tracers, out_tracers) -> ClosedProgram:
        invars = tuple(t.atom for t in in_tracers)
        outvars = tuple(t.atom for t in out_tracers)
        program = Program((), invars, tuple(self.eqns), outvars)
        used = used_vars(program)
        consts = [(t.atom, v) for t, v in self.const_values if t.atom in used]
        program = Program(tuple(a for a, _ in consts), invars, program.eqns, outvars)
        return ClosedProgram(program, tuple(v for _, v in consts))


def used_vars(program: Program) -> set:
    used = {v for v in program.outvars if isinstance(v, Var)}
    for eqn in program.eqns:
        used.update(a for a in eqn.inputs if isinstance(a, Var))
    return used


class StagingTrace(Trace):
    __slots__ = ()

    @property
    def builder(self) -> ProgramBuilder:
        return self.main.global_data

    def pure(self, value):
        aval = aval_of_value(value)
        if aval.shape == ():
            return StagingTracer(self, aval, Literal(value, aval), "a literal constant")
        return self.builder.new_const(self, value, aval)

    def lift(self, tracer):
        return self.builder.new_const(self, tracer, tracer.aval)

    def new_arg(self, aval, origin=""):
        return StagingTracer(self, aval, Var(aval), origin, origin)

    def process_primitive(self, primitive, tracers, params):
        out_avals = primitive.out_avals(*[t.aval for t in tracers], **params)
        # Where the user applied it, kept as (file, line) and formatted only when an error or
        # debug_nans asks (formatting on every staged equation was a hot-path cost).
        where = user_frame_location()
        origin = (primitive.name, where)
        source = ""
        for t in tracers:
            if t.source:
                source = t.source
                break
        outs = [StagingTracer(self, a, Var(a), origin, source) for a in out_avals]
        eqn = Eqn(primitive, tuple([t.atom for t in tracers]), tuple([o.atom for o in outs]),
                  params)
        record_equation_source(eqn, where)
        self.builder.eqns.append(eqn)
        return outs


def stage(flat_fun, in_avals, origins=None, dynamic=True):
    """Trace flat_fun (list of values -> list of values) to a ClosedProgram."""
    builder = ProgramBuilder()
    with new_main(StagingTrace, builder, dynamic=dynamic) as main:
        trace = StagingTrace(main)
        origins = origins or [""] * len(in_avals)
        in_tracers = [trace.new_arg(a, o) for a, o in zip(in_avals, origins)]
        outs = flat_fun(in_tracers)
        out_tracers = [trace.full_raise(o) for o in outs]
        return builder.build(in_tracers, out_tracers)


# --- evaluating a program ------------------------------------------------------------------------

def eval_program(program: Program, consts, args):
    """Run a program by binding each equation's primitive: under a transform, this transforms it."""
    env = {}

    def read(atom):
        return atom.value if type(atom) is Literal else env[atom]

    for v, x in zip(program.constvars, consts):
        env[v] = x
    for v, x in zip(program.invars, args):
        env[v] = x
    for eqn in program.eqns:
        outs = eqn.primitive.bind(*map(read, eqn.inputs), **eqn.params)
        env.update(zip(eqn.outputs, eqn.primitive.as_list(outs)))
    return [read(v) for v in program.outvars]


def eval_closed(closed: ClosedProgram, *args):
    return eval_program(closed.program, closed.consts, args)


# --- abstract arguments ----------------------------------------------------------------

class ShapeDtypeStruct:
    """A shape and dtype standing for an array: an argument of eval_shape, or its result."""
    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtypes.canonicalize(dtype)
        self.weak_type = weak_type

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self):
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}" + \
            (", weak_type=True)" if self.weak_type else ")")

    def __eq__(self, other):
        return isinstance(other, ShapeDtypeStruct) and (self.shape, self.dtype, self.weak_type) \
            == (other.shape, other.dtype, other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))


def abstractify(x) -> ShapedArray:
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    if isinstance(x, Tracer):
        return x.aval
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(tuple(x.shape), dtypes.canonicalize(x.dtype))
    if isinstance(x, (list, tuple)) or x is None:
        raise TypeError(f"{x!r:.60} is not an array")
    return aval_of_value(x if isinstance(x, (np.ndarray, np.generic)) or
                         dtypes.is_python_scalar(x) else np.asarray(x))
