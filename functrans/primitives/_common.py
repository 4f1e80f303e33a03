"""Shared pieces of primitive declarations: operand checks, dtype resolution, rule helpers.

Below every family: it binds convert_element_type and reduce_sum through their forward
declarations (_forward.py)."""
import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray
from ..core.primitive import Cost, Zero
from ..core.trace import Tracer, get_aval
from ._batching import align_elementwise
from ._forward import convert_element_type_p, reduce_sum_p


def resolve_dtypes(name, args):
    """Give weakly typed operands (Python scalars, weak tracers) the dtype of the strong ones, as
    lax does; strong operands of different dtypes are an error (fnp promotes, lax does not)."""
    typed = [(get_aval(a).dtype, get_aval(a).weak_type) for a in args]
    strong = {d for d, weak in typed if not weak}
    if len(strong) > 1:
        raise TypeError(f"lax.{name} requires arguments to have the same dtypes, got "
                        f"{', '.join(sorted(d.name for d in strong))}. Convert them with "
                        f"lax.convert_element_type, or use functrans.numpy, which promotes.")
    dtype, weak = dtypes.result_type(*typed)
    out = []
    for a, (d, w) in zip(args, typed):
        if d == dtype:
            out.append(a)
        elif isinstance(a, Tracer):
            out.append(convert_element_type_p.bind(a, new_dtype=dtypes.canonicalize(dtype),
                                                   weak_type=weak))
        else:
            out.append(np.asarray(a, dtype=dtype)[()])
    return out


def broadcast_shapes_scalar(name, avals):
    """Elementwise operands must share a shape, except that rank-0 operands broadcast."""
    shapes = {a.shape for a in avals if a.shape != ()}
    if len(shapes) > 1:
        raise TypeError(f"lax.{name} requires operands of equal shapes (or rank 0), got "
                        f"{', '.join(a.str_short() for a in avals)}. Use functrans.numpy for "
                        "broadcasting, or lax.broadcast_in_dim.")
    return shapes.pop() if shapes else ()


def elementwise_shape_rule(name, out_dtype=None, allowed_kinds=None):
    """Shape rule of an n-ary elementwise primitive: equal dtypes, scalar broadcasting."""
    def rule(*avals, **params):
        shape = broadcast_shapes_scalar(name, avals)
        in_dtypes = {a.dtype for a in avals}
        if len(in_dtypes) > 1:
            raise TypeError(f"lax.{name} requires operands of one dtype, got "
                            f"{', '.join(a.str_short() for a in avals)}")
        dtype = avals[0].dtype
        if allowed_kinds is not None and dtype.kind not in allowed_kinds:
            raise TypeError(f"lax.{name} does not accept {dtype.name} operands "
                            f"(accepted kinds: {allowed_kinds!r})")
        weak = all(a.weak_type for a in avals)
        if out_dtype is not None:
            return ShapedArray(shape, np.dtype(out_dtype), False)
        return ShapedArray(shape, dtype, weak)
    return rule


def elementwise_cost(flops_per_element):
    def cost(*avals, **params):
        shape = max((a.shape for a in avals), key=len)
        n = int(np.prod(shape, dtype=np.int64))
        itemsize = max(a.dtype.itemsize for a in avals)
        return Cost(flops_per_element * n, (sum(a.size for a in avals) + n) * itemsize)
    return cost


def unbroadcast(aval, ct):
    """A cotangent of an operand that was broadcast from rank 0: sum it back to a scalar."""
    if isinstance(ct, Zero) or aval.shape == get_aval(ct).shape:
        return ct
    return reduce_sum_p.bind(ct, axes=tuple(range(get_aval(ct).ndim)))


def elementwise_batch(primitive):
    """Batching rule for elementwise primitives: line all batch axes up, one application."""
    def rule(args, dims, **params):
        args, out_dim = align_elementwise(args, dims)
        return primitive.bind(*args, **params), out_dim
    return rule
