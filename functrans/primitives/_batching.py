"""Helpers that batching rules share: moving and creating batch axes.

They bind transpose and broadcast_in_dim through their forward declarations (see _forward.py),
so that shape.py, which defines those primitives, can use them in its own batching rules."""
from ..core.trace import get_aval
from ._forward import broadcast_in_dim_p, transpose_p


def moveaxis(x, src: int, dst: int):
    """Move axis src of x to position dst (a transpose; a no-op if already there)."""
    ndim = get_aval(x).ndim
    src, dst = src % ndim, dst % ndim
    if src == dst:
        return x
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return transpose_p.bind(x, permutation=tuple(perm))


def _broadcast(x, shape, dims):
    # Every caller adds an axis, so lax.broadcast_in_dim's no-op shortcut never applies.
    return broadcast_in_dim_p.bind(x, shape=tuple(shape), broadcast_dimensions=tuple(dims))


def bdim_at(x, dim, size: int, at: int = 0):
    """x with its batch axis at position `at`: moved there, or created by broadcasting if x is
    not batched (dim is None)."""
    if dim is None:
        aval = get_aval(x)
        shape = list(aval.shape)
        shape.insert(at, size)
        dims = tuple(i if i < at else i + 1 for i in range(aval.ndim))
        return _broadcast(x, shape, dims)
    return moveaxis(x, dim, at)


def batch_size(args, dims) -> int:
    for x, d in zip(args, dims):
        if d is not None:
            return get_aval(x).shape[d]
    raise ValueError("no batched argument")


def align_elementwise(args, dims):
    """Operands of an elementwise primitive with their batch axes lined up.

    If every batched operand has the same shape and batch axis and the unbatched ones are
    scalars, nothing moves and the output keeps that axis; otherwise batch axes go to the front
    and operands of lower rank are broadcast up. Returns (args, out_dim)."""
    avals = [get_aval(x) for x in args]
    batched = [(a, d) for a, d in zip(avals, dims) if d is not None]
    first_aval, first_dim = batched[0]
    if all(a.shape == first_aval.shape and d == first_dim for a, d in batched) and \
            all(a.ndim == 0 for a, d in zip(avals, dims) if d is None):
        return list(args), first_dim
    size = first_aval.shape[first_dim]
    unbatched_shapes = [a.shape[:d] + a.shape[d + 1:] if d is not None else a.shape
                        for a, d in zip(avals, dims)]
    common = max(unbatched_shapes, key=len)
    target = (size,) + common
    out = []
    for x, a, d in zip(args, avals, dims):
        if d is None:
            out.append(x if a.ndim == 0 else _broadcast(x, target, range(1, a.ndim + 1)))
        elif a.ndim == 1 and common:      # a batched scalar meeting full-rank operands
            out.append(_broadcast(x, target, (0,)))
        else:
            out.append(moveaxis(x, d, 0))
    return out, 0
