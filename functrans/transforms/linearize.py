"""linearize: the JVP with its primal part evaluated now and its tangent part staged.

The JVP runs over known primals and *staged* tangents: every primitive's JVP rule computes
its primal outputs on concrete values (or on an enclosing transform's tracers) and records its
tangent computation into a linear program. Values the tangent program needs from the primal
computation (cos x for sin, the other operand for mul) become that program's constants: they are
exactly the residuals that reverse mode keeps. Transposing that program gives reverse mode
("You Only Linearize Once", Radul et al. 2023).
"""
import numpy as np

from .. import tree_util
from ..core.ir import ClosedProgram
from ..core.primitive import Zero, tangent_aval
from ..core.staging import ProgramBuilder, StagingTrace, eval_closed
from ..core.trace import get_aval, new_main
from .ad_util import instantiate
from .jvp import jvp_flat
from .transpose import transpose_program


def linearize_flat(flat_fun, primals):
    """Returns (primal outputs, linear ClosedProgram from input tangents to output tangents,
    jvp main). Integer inputs get symbolic zero tangents and no program input of their own is
    used (the program still has one invar per primal, of float0 type, for uniformity)."""
    builder = ProgramBuilder()
    with new_main(StagingTrace, builder) as staging_main:
        trace = StagingTrace(staging_main)
        tangent_in = [trace.new_arg(tangent_aval(get_aval(p)), "a tangent input") for p in primals]
        tangents = [Zero(t.aval) if t.aval.dtype.kind == "V" else t for t in tangent_in]
        primals_out, tangents_out, main = jvp_flat(flat_fun, primals, tangents)
        out_tracers = [trace.full_raise(instantiate(t)) for t in tangents_out]
        program = builder.build(tangent_in, out_tracers)
    return primals_out, program, main


class LinearMap:
    """A linear map v ↦ J·v given by a linear program (from linearize), with its transpose.

    lin(v) or lin @ v applies it; lin.T is the transposed map u ↦ Jᵀ·u (a VJP); lin.matrix()
    materializes J as an (out_size, in_size) array; in_shapes/out_shapes describe it."""

    def __init__(self, program: ClosedProgram, in_tree, out_tree, transposed=False):
        self.program = program
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.transposed = transposed

    @property
    def _in_avals(self):
        return self.program.out_avals if self.transposed else self.program.in_avals

    @property
    def _out_avals(self):
        return self.program.in_avals if self.transposed else self.program.out_avals

    @property
    def in_shapes(self):
        return [a.shape for a in self._in_avals]

    @property
    def out_shapes(self):
        return [a.shape for a in self._out_avals]

    def __call__(self, *args):
        flat, tree = tree_util.tree_flatten(args if len(args) != 1 else args[0])
        if len(flat) != len(self._in_avals):
            raise ValueError(f"linear map takes {len(self._in_avals)} array(s) shaped "
                             f"{self.in_shapes}; got {len(flat)}")
        for x, a in zip(flat, self._in_avals):
            if tuple(np.shape(x)) != a.shape and a.dtype.kind != "V":
                raise ValueError(f"linear map expects inputs shaped {self.in_shapes}; got "
                                 f"{[np.shape(x) for x in flat]}")
        if self.transposed:
            outs = tree_util.tree_unflatten(self.in_tree, transpose_program(self.program, flat))
            # The map was built from fun(*primals): with one primal, return its cotangent alone.
            return outs[0] if isinstance(outs, tuple) and len(outs) == 1 else outs
        outs = eval_closed(self.program, *flat)
        return tree_util.tree_unflatten(self.out_tree, outs)

    def __matmul__(self, v):
        return self(v)

    @property
    def T(self):
        return LinearMap(self.program, self.in_tree, self.out_tree, not self.transposed)

    def matrix(self):
        """J as a dense (output size) × (input size) float array (rows: outputs, flattened)."""
        n = sum(int(np.prod(s)) for s, a in zip(self.in_shapes, self._in_avals)
                if a.dtype.kind != "V")
        cols = []
        for k in range(n):
            basis, offset = [], 0
            for a in self._in_avals:
                e = np.zeros(a.size, a.dtype)
                if a.dtype.kind != "V" and offset <= k < offset + a.size:
                    e[k - offset] = 1
                offset += a.size if a.dtype.kind != "V" else 0
                basis.append(e.reshape(a.shape))
            tree = self.out_tree if self.transposed else self.in_tree
            outs = tree_util.tree_leaves(self(tree_util.tree_unflatten(tree, basis)))
            cols.append(np.concatenate([np.ravel(o) for o in outs if np.asarray(o).dtype.kind
                                        != "V"]))
        return np.stack(cols, axis=1) if cols else np.zeros((0, 0))

    def __repr__(self):
        kind = "transposed linear map" if self.transposed else "linear map"
        fmt = lambda avals: ", ".join(a.str_short() for a in avals)  # noqa: E731
        return f"<{kind} ({fmt(self._in_avals)}) -> ({fmt(self._out_avals)})>"


def linearize(fun, *primals):
    """(fun(*primals), lin): lin is the LinearMap v ↦ J·v at primals (J evaluated once)."""
    flat, in_tree = tree_util.tree_flatten(primals)
    out_tree_box = []

    def flat_fun(ins):
        leaves, tree = tree_util.tree_flatten(fun(*tree_util.tree_unflatten(in_tree, ins)))
        out_tree_box.append(tree)
        return leaves

    primals_out, program, _ = linearize_flat(flat_fun, flat)
    out_tree = out_tree_box[0]
    return (tree_util.tree_unflatten(out_tree, primals_out),
            LinearMap(program, in_tree, out_tree))
