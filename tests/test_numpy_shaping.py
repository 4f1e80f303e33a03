"""fnp's shape functions against numpy, eager and traced: reshape, transpose, joining and
splitting, tiling, flipping, rolling, triangles and diagonals, sort and argsort."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import strategies as st

import functrans.numpy as fnp
from test_numpy_harness import (COMPLEX, REAL, Call, Entry, arrays, axis_args, check_call,
                                run_entry, shaped, traced)

ANY = REAL + COMPLEX


def any_array(**kw):
    return arrays(ANY, **kw)


@st.composite
def reshape_calls(draw):
    x = draw(any_array(max_dims=3, min_side=0))
    # a permutation of a factorization of the size, with maybe one -1
    dims = list(x.shape)
    draw(st.randoms()).shuffle(dims)
    if dims and draw(st.booleans()):
        merged = dims[0] * dims[1] if len(dims) > 1 else dims[0]
        dims = [merged] + dims[2:]
    if dims and draw(st.booleans()) and np.prod(dims) > 0:
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    order = draw(st.sampled_from(["C", "F"]))
    return Call((x, tuple(dims)), {"order": order})


@st.composite
def axes_call(draw, extra=None, min_dims=0):
    x = draw(any_array(min_dims=min_dims, max_dims=4))
    return x


@st.composite
def transpose_calls(draw):
    x = draw(any_array(max_dims=4))
    axes = None
    if draw(st.booleans()):
        perm = draw(st.permutations(range(x.ndim)))
        axes = tuple(a - x.ndim if draw(st.booleans()) else a for a in perm)
    return Call((x,), {"axes": axes})


@st.composite
def two_axes_calls(draw, fun_kw=("axis1", "axis2")):
    x = draw(any_array(min_dims=1, max_dims=4))
    a, b = (draw(st.integers(-x.ndim, x.ndim - 1)) for _ in range(2))
    return Call((x, a, b))


@st.composite
def moveaxis_calls(draw):
    x = draw(any_array(min_dims=1, max_dims=4))
    k = draw(st.integers(1, x.ndim))
    src = draw(st.lists(st.integers(0, x.ndim - 1), min_size=k, max_size=k, unique=True))
    dst = draw(st.lists(st.integers(0, x.ndim - 1), min_size=k, max_size=k, unique=True))
    if k == 1 and draw(st.booleans()):
        return Call((x, src[0] - x.ndim, dst[0]))
    return Call((x, tuple(src), tuple(dst)))


@st.composite
def squeeze_calls(draw):
    shape = draw(st.lists(st.sampled_from([1, 1, 2, 3]), max_size=4))
    x = draw(shaped(tuple(shape)))
    ones = [i for i, d in enumerate(shape) if d == 1]
    axis = None
    if ones and draw(st.booleans()):
        axis = tuple(draw(st.lists(st.sampled_from(ones), unique=True, min_size=1)))
    return Call((x,), {"axis": axis})


@st.composite
def expand_dims_calls(draw):
    x = draw(any_array(max_dims=3))
    n = draw(st.integers(1, 2))
    out_ndim = x.ndim + n
    axes = draw(st.lists(st.integers(-out_ndim, out_ndim - 1), min_size=n, max_size=n)
                .filter(lambda a: len({v % out_ndim for v in a}) == len(a)))
    return Call((x, tuple(axes) if n > 1 or draw(st.booleans()) else axes[0]))


@st.composite
def join_calls(draw, same_shape=False, kind="concatenate"):
    n = draw(st.integers(1, 3))
    ndim = draw(st.integers(1 if kind in ("concatenate",) else 0, 3))
    base = draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=3))
    axis = draw(st.integers(-ndim, ndim - 1)) if ndim else 0
    arrs = []
    for _ in range(n):
        shape = list(base)
        if not same_shape and ndim:
            shape[axis] = draw(st.integers(0, 3))
        arrs.append(draw(shaped(tuple(shape), ANY)))
    if kind == "stack":
        return Call((arrs,), {"axis": draw(st.integers(-ndim - 1, ndim))})
    if kind == "concatenate":
        if draw(st.booleans()) and same_shape is False:
            return Call((arrs,), {"axis": None})
        return Call((arrs,), {"axis": axis})
    return Call((arrs,))


@st.composite
def hvstack_calls(draw, which):
    """Arrays that may differ along the axis the function joins on (numpy's rules)."""
    n = draw(st.integers(1, 3))
    ndim = draw(st.integers(0, 3))
    shape = draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=3))
    joined = {"hstack": 0 if ndim == 1 else 1, "vstack": 0, "dstack": 2}[which]
    free = joined < ndim and not (which == "vstack" and ndim == 1)
    arrs = []
    for _ in range(n):
        s = list(shape)
        if free:
            s[joined] = draw(st.integers(1, 3))
        arrs.append(draw(shaped(tuple(s), ANY)))
    return Call((arrs,))


@st.composite
def column_stack_calls(draw):
    n = draw(st.integers(1, 3))
    rows = draw(st.integers(1, 3))
    arrs = [draw(shaped((rows,) if draw(st.booleans()) else (rows, draw(st.integers(1, 2))),
                        ANY)) for _ in range(n)]
    return Call((arrs,))


@st.composite
def split_calls(draw, even):
    x = draw(any_array(min_dims=1, max_dims=3, max_side=6))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[axis]
    if draw(st.booleans()):
        divisors = [d for d in range(1, n + 1) if n % d == 0] if even else list(range(1, 5))
        return Call((x, draw(st.sampled_from(divisors or [1]))), {"axis": axis})
    cuts = sorted(draw(st.lists(st.integers(-n - 1, n + 2), max_size=3)))
    return Call((x, cuts), {"axis": axis})


@st.composite
def tile_calls(draw):
    x = draw(any_array(max_dims=3))
    reps = draw(st.lists(st.integers(0, 3), min_size=0, max_size=4))
    return Call((x, tuple(reps) if len(reps) != 1 or draw(st.booleans()) else reps[0]))


@st.composite
def repeat_calls(draw):
    x = draw(any_array(max_dims=3))
    axis = draw(st.none() | (st.integers(-x.ndim, x.ndim - 1) if x.ndim else st.none()))
    n = x.size if axis is None else x.shape[axis]
    if draw(st.booleans()):
        repeats = draw(st.integers(0, 3))
    else:
        repeats = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return Call((x, repeats), {"axis": axis})


@st.composite
def broadcast_to_calls(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=4, max_side=3))
    x = draw(shaped(shapes.input_shapes[0], ANY))
    return Call((x, shapes.result_shape))


@st.composite
def broadcast_arrays_calls(draw):
    n = draw(st.integers(1, 3))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=3, max_side=3))
    return Call(tuple(draw(shaped(s, ANY)) for s in shapes.input_shapes))


@st.composite
def flip_calls(draw):
    x = draw(any_array(max_dims=4))
    return Call((x,), {"axis": draw(axis_args(x.ndim))})


@st.composite
def roll_calls(draw):
    x = draw(any_array(max_dims=3, min_side=0))
    if x.ndim == 0 or draw(st.booleans()):
        return Call((x, draw(st.integers(-7, 7))), {"axis": None})
    k = draw(st.integers(1, 3))
    axes = tuple(draw(st.integers(-x.ndim, x.ndim - 1)) for _ in range(k))
    shifts = tuple(draw(st.integers(-7, 7)) for _ in range(k))
    if k == 1:
        return Call((x, shifts[0]), {"axis": axes[0]})
    return Call((x, shifts), {"axis": axes})


@st.composite
def triangle_calls(draw):
    x = draw(any_array(min_dims=1, max_dims=4))
    return Call((x,), {"k": draw(st.integers(-4, 4))})


@st.composite
def diagonal_calls(draw):
    x = draw(any_array(min_dims=2, max_dims=4, max_side=5))
    a, b = draw(st.lists(st.integers(0, x.ndim - 1), min_size=2, max_size=2, unique=True))
    return Call((x,), {"offset": draw(st.integers(-5, 5)), "axis1": a - x.ndim * (a % 2),
                       "axis2": b})


@st.composite
def diag_calls(draw):
    x = draw(any_array(min_dims=1, max_dims=2, max_side=5))
    return Call((x,), {"k": draw(st.integers(-5, 5))})


@st.composite
def sort_calls(draw):
    x = draw(arrays(ANY, max_dims=3, lo=-3, hi=3))     # small range: many ties
    if x.dtype.kind == "f" and x.size and draw(st.booleans()):
        x = x.copy()
        x.flat[0] = np.nan
    axis = draw(st.none() | (st.integers(-x.ndim, x.ndim - 1) if x.ndim else st.none()))
    return Call((x,), {"axis": axis})


def _with_shape_query(fun):
    return lambda x: np.asarray(fun(x))


TABLE = {
    "reshape": Entry(fnp.reshape, np.reshape, reshape_calls()),
    "ravel": Entry(fnp.ravel, np.ravel, any_array().map(lambda x: Call((x,)))),
    "transpose": Entry(fnp.transpose, np.transpose, transpose_calls()),
    "swapaxes": Entry(fnp.swapaxes, np.swapaxes, two_axes_calls()),
    "matrix_transpose": Entry(fnp.matrix_transpose, lambda x: np.swapaxes(x, -1, -2),
                              any_array(min_dims=2).map(lambda x: Call((x,)))),
    "moveaxis": Entry(fnp.moveaxis, np.moveaxis, moveaxis_calls()),
    "squeeze": Entry(fnp.squeeze, np.squeeze, squeeze_calls()),
    "expand_dims": Entry(fnp.expand_dims, np.expand_dims, expand_dims_calls()),
    "atleast_1d": Entry(fnp.atleast_1d, np.atleast_1d,
                        any_array(max_dims=3).map(lambda x: Call((x,)))),
    "atleast_2d": Entry(fnp.atleast_2d, np.atleast_2d,
                        st.lists(any_array(max_dims=3), min_size=1, max_size=2).map(
                            lambda xs: Call(tuple(xs)))),
    "atleast_3d": Entry(fnp.atleast_3d, np.atleast_3d,
                        any_array(max_dims=4).map(lambda x: Call((x,)))),
    "concatenate": Entry(fnp.concatenate, np.concatenate, join_calls()),
    "stack": Entry(fnp.stack, np.stack, join_calls(same_shape=True, kind="stack")),
    "hstack": Entry(fnp.hstack, np.hstack, hvstack_calls("hstack")),
    "vstack": Entry(fnp.vstack, np.vstack, hvstack_calls("vstack")),
    "dstack": Entry(fnp.dstack, np.dstack, hvstack_calls("dstack")),
    "column_stack": Entry(fnp.column_stack, np.column_stack, column_stack_calls()),
    "split": Entry(fnp.split, np.split, split_calls(even=True)),
    "array_split": Entry(fnp.array_split, np.array_split, split_calls(even=False)),
    "tile": Entry(fnp.tile, np.tile, tile_calls()),
    "repeat": Entry(fnp.repeat, np.repeat, repeat_calls()),
    "broadcast_to": Entry(fnp.broadcast_to, np.broadcast_to, broadcast_to_calls()),
    "broadcast_arrays": Entry(fnp.broadcast_arrays, np.broadcast_arrays,
                              broadcast_arrays_calls()),
    "flip": Entry(fnp.flip, np.flip, flip_calls()),
    "fliplr": Entry(fnp.fliplr, np.fliplr, any_array(min_dims=2).map(lambda x: Call((x,)))),
    "flipud": Entry(fnp.flipud, np.flipud, any_array(min_dims=1).map(lambda x: Call((x,)))),
    "roll": Entry(fnp.roll, np.roll, roll_calls()),
    "tril": Entry(fnp.tril, np.tril, triangle_calls()),
    "triu": Entry(fnp.triu, np.triu, triangle_calls()),
    "diagonal": Entry(fnp.diagonal, np.diagonal, diagonal_calls()),
    "diag": Entry(fnp.diag, np.diag, diag_calls()),
    "trace": Entry(fnp.trace, np.trace, diagonal_calls()),
    "sort": Entry(fnp.sort, lambda x, axis: np.sort(x, axis=axis, kind="stable"),
                  sort_calls()),
    "argsort": Entry(fnp.argsort, lambda x, axis: np.argsort(x, axis=axis, kind="stable"),
                     sort_calls()),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_shaping_matches_numpy(name):
    run_entry(name, TABLE[name])


def test_every_shaping_function_is_in_the_table():
    from functrans.numpy import shaping, sorting
    queries = {"ndim", "shape", "size", "broadcast_shapes"}     # tested below
    missing = sorted((set(shaping.__all__) | set(sorting.__all__)) - set(TABLE) - queries)
    assert not missing, f"no test entry for {missing}"


def test_shape_queries_work_on_traced_values():
    x = np.ones((2, 3, 4))

    def f(a):
        assert fnp.ndim(a) == 3 and fnp.shape(a) == (2, 3, 4) and fnp.size(a) == 24
        assert fnp.size(a, -1) == 4 and a.ndim == 3 and a.size == 24
        return a
    traced(f, (x,), {})
    assert fnp.shape([[1, 2, 3]]) == (1, 3) and fnp.ndim(2.0) == 0 and fnp.size(x) == 24
    assert fnp.broadcast_shapes((2, 1), (3,)) == np.broadcast_shapes((2, 1), (3,))


def test_reshape_errors():
    with pytest.raises(ValueError, match="cannot reshape"):
        traced(lambda a: fnp.reshape(a, (4, -1)), (np.ones(6),), {})
    with pytest.raises(ValueError, match="one unknown dimension"):
        traced(lambda a: fnp.reshape(a, (-1, -1)), (np.ones(6),), {})


def test_reshape_accepts_varargs_and_tuples_as_a_method():
    x = np.arange(6.0)
    check_call(lambda a: a.reshape(2, 3) if not isinstance(a, np.ndarray) else a.reshape(2, 3),
               lambda a: a.reshape(2, 3), Call((x,)), name="reshape method")
    out = traced(lambda a: (a.reshape((3, 2)), a.reshape(-1, 1), a.flatten(), a.ravel()),
                 (x,), {})
    assert [o.shape for o in out] == [(3, 2), (6, 1), (6,), (6,)]


def test_split_needs_equal_division():
    with pytest.raises(ValueError, match="equal division"):
        traced(lambda a: fnp.split(a, 4), (np.ones(6),), {})
