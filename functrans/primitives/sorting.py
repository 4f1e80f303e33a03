"""Sorting: one primitive, sort, which sorts several operands of one shape along a dimension by
the lexicographic order of the first num_keys of them (the others ride along).

Order is numpy's: ascending, NaNs last, stable (ties keep their input order; -0.0 and 0.0 tie);
complex keys order by real part, then imaginary part. is_stable=False is accepted and still
sorts stably.
The output is a permutation of the input along the dimension, so the Jacobian is a permutation;
and with its keys held fixed, sort is linear in the non-key operands. Both JVP and transpose
rest on that: the tangent of an output is the tangent of its input sorted along with the primal
keys, and the transpose applies the inverse permutation, itself a sort (of ct by the forward
permutation).
"""
import math

import numpy as np

from ..core.aval import aval_of_value
from ..core.primitive import Cost, Primitive, Zero, is_undefined
from ..core.trace import get_aval
from ..backend.lowering import impl_call
from . import _sparsity_rules as _sparsity
from ._batching import batch_size, bdim_at
from .shape import broadcasted_iota

__all__ = ["sort", "sort_key_val"]


def _sort_shape_rule(*operands, dimension, is_stable, num_keys):
    if not operands:
        raise TypeError("lax.sort needs at least one operand")
    shapes = {a.shape for a in operands}
    if len(shapes) > 1:
        raise TypeError(f"lax.sort requires operands of one shape, got "
                        f"{', '.join(a.str_short() for a in operands)}")
    ndim = operands[0].ndim
    if ndim == 0:
        raise TypeError("lax.sort does not accept rank-0 operands: there is no dimension to sort")
    if not 0 <= dimension < ndim:
        raise ValueError(f"lax.sort: dimension {dimension} is out of range for operands of rank "
                         f"{ndim}")
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f"lax.sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(operands)})")
    return list(operands)


def _permutation(keys, dimension):
    """Indices that sort `keys` (primary key first) along `dimension`, stably, NaNs last."""
    if len(keys) == 1:
        return np.argsort(keys[0], axis=dimension, kind="stable")
    # lexsort treats its *last* key as the primary one, and is stable.
    return np.lexsort(keys[::-1], axis=dimension)


def _sort_impl(*operands, dimension, is_stable, num_keys):
    operands = [np.asarray(x) for x in operands]
    # Eagerly no shape rule runs otherwise; numpy's errors would not name lax.sort.
    _sort_shape_rule(*map(aval_of_value, operands), dimension=dimension, is_stable=is_stable,
                     num_keys=num_keys)
    perm = _permutation(operands[:num_keys], dimension)
    return [np.take_along_axis(x, perm, axis=dimension) for x in operands]


sort_p = Primitive("sort", impl=_sort_impl, shape_rule=_sort_shape_rule, multiple_results=True,
                   jac_structure="permutation (of each operand along the sorted dimension)")


@sort_p.def_jvp
def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    params = dict(dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    outs = sort_p.bind(*primals, **params)
    live = [i for i, t in enumerate(tangents) if not isinstance(t, Zero)]
    # Each live tangent rides along with the primal keys: that applies the same permutation.
    sorted_tangents = sort_p.bind(*primals[:num_keys], *(tangents[i] for i in live),
                                  **params)[num_keys:]
    tangents_out = [Zero.like(o) for o in outs]
    for i, t in zip(live, sorted_tangents):
        tangents_out[i] = t
    return outs, tangents_out


def _iota_along(shape, dimension):
    index_dtype = np.int32 if shape[dimension] < 2 ** 31 else np.int64
    return broadcasted_iota(index_dtype, shape, dimension)


@sort_p.def_transpose
def _sort_transpose(cts, *operands, dimension, is_stable, num_keys):
    if any(is_undefined(k) for k in operands[:num_keys]):
        raise ValueError("lax.sort is linear only in its non-key operands: its transpose needs "
                         "the keys to be known")
    undefined = [i for i, x in enumerate(operands) if is_undefined(x)]
    out = [None] * len(operands)
    live = []
    for i in undefined:
        if isinstance(cts[i], Zero):
            out[i] = Zero(operands[i].aval)
        else:
            live.append(i)
    if live:
        params = dict(dimension=dimension, is_stable=is_stable)
        keys = operands[:num_keys]
        shape = get_aval(keys[0]).shape
        perm = sort_p.bind(*keys, _iota_along(shape, dimension), num_keys=num_keys,
                           **params)[-1]
        # Output position j holds input position perm[j]; sorting the cotangents by perm sends
        # each one back to where its element came from.
        unsorted = sort_p.bind(perm, *(cts[i] for i in live), num_keys=1, **params)[1:]
        for i, ct in zip(live, unsorted):
            out[i] = ct
    return out


@sort_p.def_batch
def _sort_batch(args, dims, *, dimension, is_stable, num_keys):
    size = batch_size(args, dims)
    # Line every operand's batch axis up with the first batched one's (moving as little as
    # possible); unbatched operands get a broadcast batch axis there.
    at = next(d for d in dims if d is not None)
    args = [x if d == at else bdim_at(x, d, size, at) for x, d in zip(args, dims)]
    new_dimension = dimension + (dimension >= at)
    outs = sort_p.bind(*args, dimension=new_dimension, is_stable=is_stable, num_keys=num_keys)
    return outs, [at] * len(outs)


@sort_p.def_cost
def _sort_cost(*operands, dimension, is_stable, num_keys):
    n = operands[0].shape[dimension]
    size = operands[0].size
    compares = size * max(1.0, math.log2(max(n, 1))) * num_keys
    moved = 2 * sum(a.size * a.dtype.itemsize for a in operands)
    return Cost(compares, moved)


sort_p.def_lowering(impl_call(sort_p))


@sort_p.def_sparsity
def _sort_sparsity(ins, out_avals, *, dimension, is_stable, num_keys):
    # Known keys fix the permutation (a selection); traced keys could move any element of a
    # line to any place along it (each output depends on its operand's whole line).
    if all(d.value is not None for d in ins[:num_keys]):
        perm = _permutation([np.asarray(d.value) for d in ins[:num_keys]], dimension)
        return _sparsity.selection(
            ins, lambda *xs: [np.take_along_axis(x, perm, axis=dimension) for x in xs],
            range(len(ins)), out_avals)
    return _sparsity.along_axis(ins, out_avals, dimension, lower=False)


def _canonical_dimension(dimension, ndim):
    if isinstance(dimension, bool) or not isinstance(dimension, (int, np.integer)):
        raise TypeError(f"lax.sort: dimension must be an int, got {dimension!r}")
    if not -ndim <= dimension < ndim:
        raise ValueError(f"lax.sort: dimension {dimension} is out of range for operands of rank "
                         f"{ndim}")
    return int(dimension) % ndim


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """Sort one array, or a sequence of arrays by their first num_keys (jax.lax.sort).

    Returns an array for an array, a tuple for a sequence. NaNs sort last, as in numpy."""
    single = not isinstance(operand, (tuple, list))
    operands = [operand] if single else list(operand)
    if not operands:
        raise TypeError("lax.sort needs at least one operand")
    if isinstance(num_keys, bool) or not isinstance(num_keys, (int, np.integer)):
        raise TypeError(f"lax.sort: num_keys must be an int, got {num_keys!r}")
    ndim = get_aval(operands[0]).ndim
    if ndim == 0:
        raise TypeError("lax.sort does not accept rank-0 operands: there is no dimension to sort")
    outs = sort_p.bind(*operands, dimension=_canonical_dimension(dimension, ndim),
                       is_stable=bool(is_stable), num_keys=int(num_keys))
    return outs[0] if single else tuple(outs)


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """Sort keys and reorder values the same way (jax.lax.sort_key_val): returns both."""
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
