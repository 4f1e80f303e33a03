"""Cases for the collectives (functrans/primitives/collectives.py) as bound under pmap
(`mpi=True`), run in this test process's world: one process, no MPI. There every collective has
its one-member meaning (psum, pmax, pmin copy; all_gather adds a length-1 axis; psum_scatter
keeps the only slice; ppermute copies or gives zeros; axis_index is 0), which the references
below compute independently; the registry tests then check JVPs, transposes (the dot-product
test), batching under a vmap of *another* axis, and jit on the MPI code path.

The many-member meanings are tested in tests/test_collectives.py (vmap with axis_name) and
tests/test_distributed.py (mpiexec -n 2).
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import Case

F32, F64, I32 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32)
MPI = dict(axis_name="i", mpi=True)


def _array(draw, shape, dtype):
    if dtype.kind == "i":
        return draw(hnp.arrays(dtype, shape, elements=st.integers(-5, 5)))
    return draw(hnp.arrays(dtype, shape, elements=st.floats(-2, 2, width=dtype.itemsize * 8)))


def _shape(draw, min_dims=0):
    return tuple(draw(st.lists(st.sampled_from([1, 2, 3]), min_size=min_dims, max_size=3)))


@st.composite
def _reduction(draw):
    dtype = draw(st.sampled_from([F64, F64, F32, I32]))
    n = draw(st.integers(1, 3))
    args = tuple(_array(draw, _shape(draw), dtype) for _ in range(n))
    return Case(args, dict(MPI), reference=lambda *xs, **p: [np.asarray(x) for x in xs])


@st.composite
def _all_gather(draw):
    dtype = draw(st.sampled_from([F64, F64, F32, I32]))
    tiled = draw(st.booleans())
    x = _array(draw, _shape(draw, 1 if tiled else 0), dtype)
    axis = draw(st.integers(0, x.ndim - 1 if tiled else x.ndim))

    def ref(x, *, axis, tiled, **p):
        return x if tiled else np.expand_dims(x, axis)
    return Case((x,), dict(MPI, axis_size=1, axis=axis, tiled=tiled), reference=ref)


@st.composite
def _psum_scatter(draw):
    dtype = draw(st.sampled_from([F64, F64, F32, I32]))
    tiled = draw(st.booleans())
    shape = list(_shape(draw, 1))
    d = draw(st.integers(0, len(shape) - 1))
    if not tiled:
        shape[d] = 1
    x = _array(draw, tuple(shape), dtype)

    def ref(x, *, scatter_dimension, tiled, **p):
        return x if tiled else np.squeeze(x, scatter_dimension)
    return Case((x,), dict(MPI, axis_size=1, scatter_dimension=d, tiled=tiled), reference=ref)


@st.composite
def _ppermute(draw):
    dtype = draw(st.sampled_from([F64, F64, F32, I32]))
    x = _array(draw, _shape(draw), dtype)
    perm = draw(st.sampled_from([((0, 0),), ()]))

    def ref(x, *, perm, **p):
        return np.array(x) if perm else np.zeros_like(x)
    return Case((x,), dict(MPI, perm=perm), reference=ref)


STRATEGIES = {
    "psum": _reduction(),
    "pmax": _reduction(),
    "pmin": _reduction(),
    "all_gather": _all_gather(),
    "psum_scatter": _psum_scatter(),
    "ppermute": _ppermute(),
    "axis_index": st.just(Case((), dict(MPI), reference=lambda **p: np.int32(0))),
}
