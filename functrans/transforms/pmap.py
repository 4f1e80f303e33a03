"""pmap: run a function on every process of an MPI world, collectives reduced across them.

JAX's multi-process meaning, with one CPU device per process: every process calls the pmapped
function with *its own* arguments, each mapped argument having a leading axis (in_axes) of
length local_device_count() = 1; the function runs once per process on that slice, and
collectives over `axis_name` (lax.psum, pmean, all_gather, ...) combine the values of all
processes through MPI. Outputs get the mapped axis back (out_axes).

The body is jit-compiled (traced once per signature, run as compiled code afterwards), and it
is traced with `axis_name` bound to the MPI world, so each collective in the program carries
`mpi=True` and lowers to a driver call of MPI on the operands' buffers. That flag travels with
the equations, so grad(pmap(f)) works: the backward pass, run after pmap returned, transposes
psum into psum over MPI again. pmap(grad(f)) works as any function does.

A collective inside a loop (fori_loop, scan, while_loop) in the body runs in the loop's Python
driver, since MPI calls are Python calls: such a loop is not one compiled Numba loop.
"""
import contextlib
import functools

import numpy as np

from .. import mpi_world, tree_util
from ..core.trace import Tracer, get_aval
from ..primitives.collectives import mpi_axis
from ..primitives.shape import expand_dims, squeeze
from .jit import jit
from .vmap import _broadcast_prefix

__all__ = ["pmap"]


def pmap(fun, axis_name=None, *, in_axes=0, out_axes=0, static_broadcasted_argnums=(),
         devices=None, backend=None, axis_size=None, donate_argnums=()):
    """Map fun over the processes of the MPI world (jax.pmap, multi-process semantics)."""
    name = getattr(fun, "__name__", "fun")
    if devices is not None:
        raise NotImplementedError(f"pmap of {name}: devices= is not supported; functrans "
                                  "has one CPU device per process (run more processes)")
    if backend not in (None, "cpu"):
        raise ValueError(f"pmap of {name}: backend {backend!r} is not available; only 'cpu'")
    static = static_broadcasted_argnums
    static = (static,) if isinstance(static, int) else tuple(static)
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    body = jit(fun, static_argnums=static, donate_argnums=donate_argnums)

    def pmapped(*args, **kwargs):
        w = mpi_world.world()
        n = len(args)
        static_pos = {i % n for i in static if -n <= i < n}
        if isinstance(in_axes, tuple) and len(in_axes) != n:
            raise ValueError(f"pmap in_axes must be an int, None, or a tuple with one entry per "
                             f"positional argument of {name}: got {len(in_axes)} entries for "
                             f"{n} arguments")
        if axis_size is not None and axis_size != mpi_world.local_device_count():
            raise ValueError(f"pmap of {name}: axis_size={axis_size} but this process has "
                             f"{mpi_world.local_device_count()} device")
        local = []
        for i, a in enumerate(args):
            if i in static_pos:
                local.append(a)
                continue
            spec = in_axes[i] if isinstance(in_axes, tuple) else in_axes
            local.append(_unmap(a, spec, name, f"argument {i}"))
        local_kw = {k: _unmap(v, 0, name, f"argument {k!r}") for k, v in kwargs.items()}
        scope = mpi_axis(axis_name, w) if axis_name is not None else contextlib.nullcontext()
        with scope:
            out = body(*local, **local_kw)
        return _remap(out, out_axes, name)

    functools.update_wrapper(pmapped, fun)
    pmapped.__name__ = f"pmap({name})"
    pmapped.__wrapped__ = fun
    return pmapped


def _prefix_leaves(spec, tree, name, what):
    try:
        return _broadcast_prefix(spec, tree, what)
    except (ValueError, TypeError) as e:
        raise type(e)(f"pmap of {name}: {e}") from None


def _unmap(arg, spec, name, what):
    """The argument without its mapped axis (of length local_device_count() = 1)."""
    leaves, tree = tree_util.tree_flatten(arg)
    axes = _prefix_leaves(spec, arg, name, "in_axes")
    out = []
    for x, axis in zip(leaves, axes):
        if axis is None:
            out.append(x)
            continue
        aval = get_aval(x)
        if not -aval.ndim <= axis < aval.ndim:
            raise ValueError(f"pmap of {name}: in_axes {axis} is out of range for {what} of "
                             f"shape {aval.shape}")
        axis %= aval.ndim
        if aval.shape[axis] != 1:
            raise ValueError(
                f"pmap of {name}: {what} has length {aval.shape[axis]} along its mapped axis "
                f"{axis}, but each process maps over its local devices, "
                "local_device_count() = 1 (one CPU device per process). Pass this process's "
                "slice with a leading axis of length 1 (x[None]); to use more devices, run more "
                "processes (mpiexec -n N).")
        if isinstance(x, Tracer):
            out.append(squeeze(x, (axis,)))
        else:
            out.append(np.asarray(x)[(slice(None),) * axis + (0,)])
    return tree_util.tree_unflatten(tree, out)


def _remap(out, out_axes, name):
    leaves, tree = tree_util.tree_flatten(out)
    axes = _prefix_leaves(out_axes, out, name, "out_axes")
    res = []
    for x, axis in zip(leaves, axes):
        if axis is None:
            res.append(x)
            continue
        ndim = get_aval(x).ndim + 1
        if not -ndim <= axis < ndim:
            raise ValueError(f"pmap of {name}: out_axes={axis} is out of bounds for an output "
                             f"of rank {ndim - 1}")
        if isinstance(x, Tracer):
            res.append(expand_dims(x, (axis % ndim,)))
        else:
            res.append(np.expand_dims(np.asarray(x), axis % ndim))
    return tree_util.tree_unflatten(tree, res)
