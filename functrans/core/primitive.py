"""Primitives: the unit of the library. A primitive's whole meaning sits in one place.

Each primitive is declared once, in its family's module under functrans/primitives/ (the
primitives a transform creates to hold a user's function or a program, such as the jit call and
custom_jvp/custom_vjp calls, beside that transform in functrans/transforms/), with:

  impl(*args, **params)                       numpy implementation; args are numpy arrays or
                                              Python scalars; returns an array (a list of arrays
                                              if multiple_results)
  shape_rule(*avals, **params)                output ShapedArray(s) from input avals
  jvp(primals, tangents, **params)            -> (primal_out, tangent_out); a tangent may be a
                                              symbolic Zero, and so may tangent_out
  transpose(cotangent, *args, **params)       for primitives linear in some inputs: args holds
                                              an UndefinedPrimal for each linear input and a
                                              value for the others; returns one cotangent per
                                              arg (None for non-linear args, Zero allowed)
  batch(args, dims, **params)                 -> (out, out_dim); dims[i] is the batch axis of
                                              args[i] or None (not batched)
  cost(*avals, **params)                      -> Cost(flops, bytes) of one application
  cost_kind                                   which measured rate turns that cost into time
                                              (functrans.cost): "blas", "elementwise",
                                              "transcendental", "reduction", "view",
                                              "gather_scatter", "numpy_call", "control_flow",
                                              "call", "copy"; None reads it off the
                                              lowering
  cost_programs(**params)                     for control flow: [(program, times, carries)],
                                              the sub-programs one application runs, how often
                                              (None: unknown until it runs) and how many of
                                              their results it keeps across iterations
  jac_structure                               the structure of its local Jacobian, in words
                                              ("diagonal", "dense", "permutation", ...)
  lowering                                    its Numba code generation (see functrans.backend)
  simplifications, loop_lowering              jit's rewrites of its equations, and its code
                                              inside a compiled loop (functrans.backend.lowering)
  sparsity(ins, out_avals, **params)          which input elements each output element depends
                                              on: ins are primitives._sparsity_rules.Deps
                                              (aval, pattern, value); returns one pattern per
                                              output (see that module); `sparsity_exact` says
                                              whether the rule is exact or a superset

For multiple_results primitives, primal_out/tangent_out/out are lists and out_dim a list.
Rules are written with functrans.lax functions, so they work under any enclosing transform.
Primitives that cannot support a rule say so with `not_differentiable` / `not_batchable`
markers carrying the reason users see, instead of leaving the rule out.
"""
from dataclasses import dataclass

import numpy as np

from . import dtypes
from .aval import ShapedArray
from .trace import bind as _bind, get_aval

registry: dict[str, "Primitive"] = {}


@dataclass(frozen=True)
class Cost:
    flops: float
    bytes: float

    def __add__(self, other):
        return Cost(self.flops + other.flops, self.bytes + other.bytes)

    def scale(self, k):
        return Cost(self.flops * k, self.bytes * k)


def default_cost(*avals, out_avals=(), flops_per_element=0.0):
    moved = sum(a.size * a.dtype.itemsize for a in (*avals, *out_avals))
    out_size = sum(a.size for a in out_avals)
    return Cost(flops_per_element * out_size, moved)


class Primitive:
    def __init__(self, name, *, impl, shape_rule, multiple_results=False, jac_structure="dense",
                 doc=""):
        if name in registry:
            raise ValueError(f"primitive {name!r} is declared twice")
        self.name = name
        self.impl = impl
        self.shape_rule = shape_rule
        self.multiple_results = multiple_results
        self.jac_structure = jac_structure
        self.doc = doc
        self.jvp = None
        self.transpose = None
        self.batch = None
        self.cost = None
        self.cost_kind = None            # see the module docstring; set beside the cost rule
        self.cost_programs = None        # control flow: the sub-programs it runs, how often
        self.lowering = None
        self.simplifications = []        # jit's rewrites of its equations (backend.lowering)
        self.loop_lowering = None        # its code inside a compiled loop (backend.loop_lowering)
        self.sparsity = None
        self.sparsity_exact = True
        self.not_differentiable = None   # a reason string: differentiating raises it
        self.not_batchable = None
        registry[name] = self

    def __repr__(self):
        return f"Primitive({self.name})"

    def bind(self, *args, **params):
        return _bind(self, *args, **params)

    def as_list(self, out) -> list:
        """What this primitive's bind, impl or a rule returned, as a list of outputs: a
        multiple_results primitive returns a sequence, any other one value."""
        return list(out) if self.multiple_results else [out]

    def out_avals(self, *avals, **params) -> list[ShapedArray]:
        return self.as_list(self.shape_rule(*avals, **params))

    # Decorators that attach a rule right below the primitive's declaration.
    def def_jvp(self, rule):
        self.jvp = rule
        return rule

    def def_transpose(self, rule):
        self.transpose = rule
        return rule

    def def_batch(self, rule):
        self.batch = rule
        return rule

    def def_cost(self, rule):
        self.cost = rule
        return rule

    def def_lowering(self, rule):
        self.lowering = rule
        return rule

    def def_simplify(self, rule):
        self.simplifications.append(rule)
        return rule

    def def_loop_lowering(self, rule):
        self.loop_lowering = rule
        return rule

    def def_sparsity(self, rule=None, *, exact=True):
        """@p.def_sparsity, or @p.def_sparsity(exact=False) for a rule that may report
        dependences that are not there (a conservative superset, never a subset)."""
        def attach(r):
            self.sparsity, self.sparsity_exact = r, exact
            return r
        return attach if rule is None else attach(rule)

    def estimate_cost(self, *avals, **params) -> Cost:
        if self.cost is not None:
            return self.cost(*avals, **params)
        return default_cost(*avals, out_avals=self.out_avals(*avals, **params))


# --- the two kinds of placeholder that JVP and transpose rules meet ------------------------------

class Zero:
    """A symbolic zero tangent or cotangent of a known aval: never materialized."""
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"

    @staticmethod
    def like(x):
        return Zero(tangent_aval(get_aval(x)))


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    """Tangents of float values have the same aval; ints and bools get float0-like zeros."""
    if aval.dtype.kind in "fc":
        return aval.strip_weak()
    return ShapedArray(aval.shape, np.dtype(FLOAT0), False)


FLOAT0 = dtypes.float0


class UndefinedPrimal:
    """In a transpose rule: the linear input whose cotangent is being computed."""
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x) -> bool:
    return type(x) is UndefinedPrimal
