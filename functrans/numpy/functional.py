"""apply_along_axis, apply_over_axes and vectorize, by vmap.

Composed from other fnp functions; functrans/numpy/extras.py gathers these modules.
"""
from ..transforms.vmap import vmap
from . import _base as fnp
from ._composed import _arr
from ._promotion import canonical_axis, shape_of

__all__ = ["apply_along_axis", "apply_over_axes", "vectorize"]


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """func1d applied to every 1-d slice along axis (vmapped over the other axes); the
    result's axes replace axis, as numpy's."""
    arr = _arr(arr, "apply_along_axis")
    n = len(shape_of(arr))
    axis = canonical_axis(axis, n, "apply_along_axis")
    moved = fnp.moveaxis(arr, axis, -1)         # (*others, m)
    f = lambda x: func1d(x, *args, **kwargs)  # noqa: E731
    for _ in range(n - 1):
        f = vmap(f)
    out = fnp.asarray(f(moved))                # (*others, *result)
    k = len(shape_of(out)) - (n - 1)
    return fnp.moveaxis(out, list(range(n - 1, n - 1 + k)), list(range(axis, axis + k)))


def apply_over_axes(func, a, axes):
    """func(a, axis) applied for each axis in turn, keeping dimensions."""
    a = _arr(a, "apply_over_axes")
    for axis in ([axes] if isinstance(axes, int) else axes):
        b = func(a, axis)
        if len(shape_of(b)) == len(shape_of(a)) - 1:
            b = fnp.expand_dims(b, axis)
        a = b
    return a


def vectorize(pyfunc, *, excluded=frozenset(), signature=None):
    """pyfunc applied elementwise by vmap over broadcast arguments (signature=None only)."""
    if signature is not None:
        raise NotImplementedError("fnp.vectorize: signature= is not supported; use vmap")

    def wrapped(*args, **kwargs):
        keep = [i for i in range(len(args)) if i not in excluded]
        arrays = fnp.broadcast_arrays(*[_arr(args[i], "vectorize") for i in keep])
        shape = shape_of(arrays[0]) if arrays else ()

        def scalar_fn(*xs):
            full = list(args)
            for i, x in zip(keep, xs):
                full[i] = x
            return pyfunc(*full, **kwargs)
        f = scalar_fn
        for _ in shape:
            f = vmap(f)
        return f(*arrays)
    wrapped.__name__ = getattr(pyfunc, "__name__", "vectorized")
    wrapped.__doc__ = getattr(pyfunc, "__doc__", None)
    return wrapped
