"""Reverse mode: vjp = transpose ∘ linearize; grad and value_and_grad on top of vjp."""
import numpy as np

from .. import tree_util
from ..core import dtypes
from ..core.primitive import FLOAT0, tangent_aval
from ..core.trace import get_aval
from . import replay
from .ad_util import check_inexact_inputs, strip_tracers
from .holomorphic import check_holomorphic_inputs, check_outputs
from .jvp import flat_fun_of
from .linearize import linearize_flat
from .transpose import transpose_program


def _checked_cotangent(ct, out_aval, i):
    """A cotangent must have its output's shape and tangent dtype (float0 for integer outputs);
    a Python scalar takes the output's dtype. Anything else is the caller's mistake, reported
    here rather than as a dtype error deep inside the transposed program."""
    want = tangent_aval(out_aval)
    aval = get_aval(ct)
    if aval.shape != want.shape:
        raise ValueError(f"vjp function: the cotangent for output {i} has shape {aval.shape}, "
                         f"but that output is {out_aval.str_short()}; cotangents must have "
                         "their output's shape")
    if aval.dtype == want.dtype:
        return ct
    if want.dtype == FLOAT0:
        return ct           # integer outputs carry no cotangent; zeros of any kind will do
    if aval.weak_type and dtypes.is_inexact(want.dtype) and aval.dtype.kind in "biuf":
        return np.asarray(ct, want.dtype)
    raise TypeError(f"vjp function: the cotangent for output {i} has dtype {aval.dtype.name}, "
                    f"but that output is {out_aval.str_short()}, so its cotangent must be "
                    f"{want.dtype.name}; convert it with .astype({want.dtype.name})")


class VJPFunction:
    """u ↦ Jᵀ·u at the primals vjp was called with; returns a tuple, one entry per primal."""

    def __init__(self, program, in_tree, out_tree, out_avals):
        self.program = program
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.out_avals = out_avals

    def __call__(self, cotangent):
        flat, tree = tree_util.tree_flatten(cotangent)
        if tree != self.out_tree:
            raise ValueError(f"vjp function: the cotangent must have the structure of the "
                             f"function's output, {self.out_tree}; got {tree}")
        flat = [_checked_cotangent(ct, a, i) for i, (ct, a) in
                enumerate(zip(flat, self.out_avals))]
        return tree_util.tree_unflatten(self.in_tree, self._transpose(flat))

    def _transpose(self, flat_cts):
        return transpose_program(self.program, flat_cts)

    def __repr__(self):
        return f"<vjp function of {self.program.in_avals} -> {self.out_avals}>"


def vjp(fun, *primals, has_aux=False):
    """(fun(*primals), vjp_fn[, aux]): vjp_fn(u) is Jᵀ·u, a tuple with one cotangent per primal.

    The forward pass runs once; vjp_fn keeps only the residuals its linear program needs."""
    flat, in_tree = tree_util.tree_flatten(primals)
    out_tree_box, aux_box = [], ([] if has_aux else None)
    primals_out, program, main = linearize_flat(
        flat_fun_of(fun, in_tree, out_tree_box, aux_box), flat)
    out_tree = out_tree_box[0]
    vjp_fn = VJPFunction(program, in_tree, out_tree, [get_aval(p) for p in primals_out])
    out = tree_util.tree_unflatten(out_tree, primals_out)
    if has_aux:
        return out, vjp_fn, tree_util.tree_map(lambda x: strip_tracers(x, main), aux_box[0])
    return out, vjp_fn


class _ReplayedVJPFunction(VJPFunction):
    """The VJP of a call recorded by the replay fast path (see replay.py): `program` is the
    ReplayedVJP that evaluates the cached gradient program, or derives it the ordinary way."""

    def _transpose(self, flat_cts):
        return self.program(flat_cts)


def _vjp_for_grad(fun, primals, has_aux, misses=None, flattened=None):
    """vjp for grad and value_and_grad: the replay fast path at top level on concrete values
    (same values; see replay.py), the ordinary vjp otherwise. `misses` counts this grad
    function's calls in a row that found no cached gradient program: a function whose
    structure never repeats (sub-programs made anew each call) stops paying for recording.
    `flattened`: tree_flatten(primals), when the caller has it."""
    flat, in_tree = flattened or tree_util.tree_flatten(primals)
    if not replay.applicable(flat) or replay.skip_after_misses(misses):
        return vjp(fun, *primals, has_aux=has_aux)
    out_tree_box, aux_box = [], ([] if has_aux else None)
    rec, outs, out_atoms, main = replay.record(
        flat_fun_of(fun, in_tree, out_tree_box, aux_box), flat,
        [get_aval(x).dtype.kind in "fc" for x in flat])
    out_tree = out_tree_box[0]
    out_avals = [get_aval(o) for o in outs]
    vjp_fn = _ReplayedVJPFunction(replay.ReplayedVJP(rec, out_atoms, out_avals, misses),
                                  in_tree, out_tree, out_avals)
    out = tree_util.tree_unflatten(out_tree, outs)
    if has_aux:
        return out, vjp_fn, tree_util.tree_map(lambda x: replay.lower_aux(x, main), aux_box[0])
    return out, vjp_fn


def _argnums_tuple(argnums, nargs, name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{name}: argnums {argnums} out of range for a function called with "
                             f"{nargs} positional arguments")
    return tuple(i % nargs for i in nums)


def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """Returns a function computing (fun(*args), gradient of fun w.r.t. args[argnums]).

    With complex inputs and a real output the gradient is ∂f/∂x - i·∂f/∂y, as in JAX; a
    complex output needs holomorphic=True (complex inputs and output; the result is f'(z))."""
    name = getattr(fun, "__name__", "fun")
    misses = replay.miss_counter(fun)

    def value_and_grad_fun(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args), "grad")
        diff_args = tuple(args[i] for i in nums)
        flattened = tree_util.tree_flatten(diff_args)
        check_inexact_inputs("grad", flattened[0], allow_int)
        if holomorphic:
            check_holomorphic_inputs("grad", [get_aval(x) for x in flattened[0]])

        def partial_fun(*dargs):
            full = list(args)
            for i, a in zip(nums, dargs):
                full[i] = a
            return fun(*full, **kwargs)

        res = _vjp_for_grad(partial_fun, diff_args, has_aux, misses, flattened)
        out, vjp_fn = res[0], res[1]
        leaves = tree_util.tree_leaves(out)
        aval = get_aval(leaves[0]) if len(leaves) == 1 else None
        if aval is None or aval.shape != ():
            shapes = [get_aval(x).str_short() for x in leaves]
            raise TypeError(f"grad requires a scalar output of {name}, but it returned "
                            f"{shapes if len(shapes) != 1 else shapes[0]}. Use jacrev or vjp "
                            "for non-scalar outputs (or reduce the output, e.g. with .sum()).")
        if not dtypes.is_inexact(aval.dtype):
            raise TypeError(f"grad requires a real- or complex-valued output of {name}, but it "
                            f"returned {aval.str_short()}. Integer outputs have no gradient; "
                            "convert to float inside the function if that is intended.")
        check_outputs("grad", [aval], holomorphic, real_required=True)
        # The one cotangent, of the output's dtype: what vjp_fn's checks would let through.
        grads = tree_util.tree_unflatten(vjp_fn.in_tree,
                                         vjp_fn._transpose([np.ones((), aval.dtype)]))
        if allow_int:       # otherwise every input is inexact (checked above)
            grads = tuple(_float0_for_ints(g, a) for g, a in zip(grads, diff_args))
        g = grads[0] if isinstance(argnums, int) else grads
        return ((out, res[2]), g) if has_aux else (out, g)

    value_and_grad_fun.__name__ = f"value_and_grad({name})"
    return value_and_grad_fun


def _float0_for_ints(g, arg):
    return tree_util.tree_map(
        lambda gi, ai: np.zeros(np.shape(ai), FLOAT0) if not dtypes.is_inexact(get_aval(ai).dtype)
        else gi, g, arg)


def grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """The gradient of a scalar-valued fun with respect to args[argnums] (a pytree like it)."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    def grad_fun(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    grad_fun.__name__ = f"grad({getattr(fun, '__name__', 'fun')})"
    return grad_fun
