"""Indexing traced values (x[idx]) and functional updates (x.at[idx].op(v)) against numpy, on
random index expressions: integers, slices with any step, None, Ellipsis, integer arrays
(static or traced, broadcast together, adjacent or not) and concrete boolean masks."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from functrans.numpy.indexing import NonConcreteBooleanIndexError
from test_numpy_harness import (COMPLEX, REAL, SETTINGS, Call, arrays, assert_close,
                                assert_identical,
                                check_call, elements, traced)


@st.composite
def index_exprs(draw, shape, arrays_ok=True):
    """A random numpy index for an array of `shape`."""
    ndim = len(shape)
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    items, axis, has_ellipsis, has_mask, has_array = [], 0, False, False, False
    while axis < ndim:
        if draw(st.integers(0, 6)) == 0:
            items.append(None)
        kinds = ["int", "slice", "slice", "stop"] if not has_ellipsis else ["int", "slice"]
        if arrays_ok and not has_mask:
            kinds += ["array", "list"]
        if arrays_ok and not has_array and not has_mask:
            kinds.append("mask")
        if not has_ellipsis:
            kinds.append("ellipsis")
        kind = draw(st.sampled_from(kinds))
        n = shape[axis]
        if kind == "stop":
            break
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
            axis += 1
        elif kind == "slice":
            bound = st.none() | st.integers(-n - 2, n + 2)
            step = draw(st.none() | st.sampled_from([-3, -2, -1, 1, 2, 3]))
            items.append(slice(draw(bound), draw(bound), step))
            axis += 1
        elif kind in ("array", "list"):
            s = tuple(d if draw(st.booleans()) else 1 for d in batch)
            s = s[draw(st.integers(0, len(s))):]
            arr = draw(hnp.arrays(np.int64, s, elements=st.integers(-n, n - 1)))
            arr = arr.astype(draw(st.sampled_from([np.int64, np.int32, np.uint8]))) \
                if (arr >= 0).all() else arr
            items.append(arr.tolist() if kind == "list" and arr.ndim == 1 else arr)
            has_array = True
            axis += 1
        elif kind == "mask":
            k = draw(st.integers(1, min(2, ndim - axis)))
            items.append(draw(hnp.arrays(np.bool_, shape[axis:axis + k])))
            has_mask = True
            axis += k
        else:
            items.append(Ellipsis)
            has_ellipsis = True
            axis += draw(st.integers(0, ndim - axis))
    if draw(st.integers(0, 5)) == 0:
        items.append(None)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


MANY = settings(SETTINGS, max_examples=150)


@st.composite
def indexed(draw, arrays_ok=True):
    x = draw(arrays(REAL + COMPLEX, min_dims=draw(st.sampled_from([0, 1, 2, 2, 3])),
                    max_dims=4, max_side=4))
    return x, draw(index_exprs(x.shape, arrays_ok))


def _traced_arrays(idx):
    """The integer-array items of an index (to pass as traced inputs) and a function that
    rebuilds the index from them."""
    items = idx if isinstance(idx, tuple) else (idx,)
    where = [i for i, it in enumerate(items)
             if isinstance(it, np.ndarray) and it.dtype.kind in "iu"]

    def rebuild(values):
        out = list(items)
        for i, v in zip(where, values):
            out[i] = v
        return tuple(out) if isinstance(idx, tuple) else out[0]
    return [items[i] for i in where], rebuild


@MANY
@given(indexed())
def test_getitem_with_static_index(case):
    x, idx = case
    check_call(lambda a: a[idx], lambda a: a[idx], Call((x,)), name=f"x[{idx!r}]")


@MANY
@given(indexed())
def test_getitem_with_traced_integer_arrays(case):
    x, idx = case
    ints, rebuild = _traced_arrays(idx)
    check_call(lambda a, *i: a[rebuild(i)], lambda a, *i: a[rebuild(i)], Call((x, *ints)),
               name=f"x[{idx!r}] traced")


def _at_reference(x, idx, v, op):
    """numpy's answer, through flat positions computed by numpy's own indexing."""
    out = np.array(x)
    pos = np.arange(x.size).reshape(x.shape)[idx]
    flat = out.reshape(-1)
    vals = np.broadcast_to(np.asarray(v).astype(x.dtype), pos.shape).reshape(-1)
    pos = pos.reshape(-1)
    if op == "set":
        flat[pos] = vals
    elif op == "get":
        return x[idx]
    else:
        ufunc = {"add": np.add, "multiply": np.multiply, "min": np.minimum,
                 "max": np.maximum, "subtract": np.subtract}[op]
        ufunc.at(flat, pos, vals)
    return out


@st.composite
def at_cases(draw):
    x, idx = draw(indexed())
    op = draw(st.sampled_from(["set", "add", "subtract", "multiply", "min", "max", "get"]))
    if op in ("min", "max"):
        x = x.real.copy() if x.dtype.kind == "c" else x
    shape = x[idx].shape
    vshape = shape[draw(st.integers(0, len(shape))):]
    v = draw(hnp.arrays(x.dtype, vshape, elements=elements(x.dtype, -3, 3)))
    if x.dtype.kind == "b" and op in ("add", "subtract", "multiply"):
        op = "set"
    return x, idx, v, op


def _apply_at(a, idx, v, op):
    ref = a.at[idx]
    return ref.get() if op == "get" else getattr(ref, op)(v)


@MANY
@given(at_cases())
def test_at_updates_match_numpy(case):
    x, idx, v, op = case
    want = _at_reference(x, idx, v, op)
    # Repeated indices multiply their updates together first (numpy multiplies one at a time):
    # the same product, rounded differently.
    same = assert_close if op == "multiply" else assert_identical
    got, = traced(lambda a, b: _apply_at(a, idx, b, op), (x, v), {})
    same(got, want, what=f"x.at[{idx!r}].{op}")
    ints, rebuild = _traced_arrays(idx)
    if ints:     # the same with the index arrays traced
        got, = traced(lambda a, b, *i: _apply_at(a, rebuild(i), b, op), (x, v, *ints), {})
        same(got, want, what=f"x.at[{idx!r}].{op} traced")


def test_repeated_indices_accumulate():
    x = np.arange(5.0)
    i = np.array([1, 1, 3, 1])
    for op, ufunc in (("add", np.add), ("multiply", np.multiply), ("min", np.minimum),
                      ("max", np.maximum)):
        want = x.copy()
        ufunc.at(want, i, np.array([2.0, 3.0, -1.0, 0.5]))
        for traced_index in (False, True):
            args = (x, np.array([2.0, 3.0, -1.0, 0.5])) + ((i,) if traced_index else ())
            got, = traced(lambda a, v, *j: getattr(a.at[j[0] if j else i], op)(v), args, {})
            np.testing.assert_array_equal(got, want, err_msg=op)


def test_traced_out_of_range_indices_clamp_on_read_and_drop_on_update():
    x = np.arange(5.0)
    i = np.array([7, -9, 2])
    got, = traced(lambda a, j: a[j], (x, i), {})
    np.testing.assert_array_equal(got, [4.0, 0.0, 2.0])
    got, = traced(lambda a, j: a.at[j].set(-1.0), (x, i), {})
    np.testing.assert_array_equal(got, [0.0, 1.0, -1.0, 3.0, 4.0])
    got, = traced(lambda a, j: a.at[j].add(10.0, mode="clip"), (x, i), {})
    np.testing.assert_array_equal(got, [10.0, 1.0, 12.0, 3.0, 14.0])


def test_static_index_errors_match_numpy():
    x = np.ones((3, 4))
    for idx, match in ((5, "out of bounds"), ((0, 0, 0), "too many indices"),
                       (np.array([0, 4]), "out of bounds"), ((Ellipsis, Ellipsis), "ellipsis"),
                       (1.5, "valid indices"), (np.ones((2, 2), bool), "boolean index")):
        with pytest.raises(IndexError, match=match):
            traced(lambda a: a[idx], (x,), {})
        with pytest.raises(IndexError):
            x[idx]


def test_traced_boolean_mask_raises_and_points_to_where():
    x = np.arange(4.0)
    with pytest.raises(NonConcreteBooleanIndexError, match="fnp.where") as info:
        traced(lambda a: a[a > 1], (x,), {})
    assert isinstance(info.value, IndexError) and isinstance(info.value, TypeError)
    with pytest.raises(NonConcreteBooleanIndexError):
        traced(lambda a: a.at[a > 1].set(0.0), (x,), {})
    got, = traced(lambda a: fnp.where(a > 1, a, 0.0), (x,), {})
    np.testing.assert_array_equal(got, [0.0, 0.0, 2.0, 3.0])


def test_concrete_mask_under_jvp_and_numpy_mask_when_tracing():
    x = np.arange(6.0).reshape(2, 3)
    mask = np.array([True, False, True])
    check_call(lambda a: a[:, mask], lambda a: a[:, mask], Call((x,)), name="mask")
    out, tangent = ft.jvp(lambda a: a[a > 2.5], (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(out, x[x > 2.5])


TAKE_CASES = [
    Call((np.arange(12.0).reshape(3, 4), np.array([[0, 2], [1, 1]])), {"axis": 1}),
    Call((np.arange(12.0).reshape(3, 4), np.array([5, 0, 11])), {"axis": None}),
    Call((np.arange(12).reshape(3, 4), np.array([-1, 0])), {"axis": 0}),
]


@pytest.mark.parametrize("call", TAKE_CASES)
def test_take(call):
    check_call(fnp.take, np.take, call, name="take")


def test_take_along_axis_applies_argsort():
    x = np.array([[3.0, 1.0, 2.0], [0.5, -1.0, 4.0]])
    idx = np.argsort(x, axis=1)
    check_call(fnp.take_along_axis, np.take_along_axis, Call((x, idx), {"axis": 1}),
               name="take_along_axis")
    got, = traced(lambda a: fnp.take_along_axis(a, fnp.argsort(a, axis=0), axis=0), (x,), {})
    np.testing.assert_array_equal(got, np.sort(x, axis=0))


def test_nonzero_and_where_need_concrete_input():
    x = np.array([[0, 1], [2, 0]])
    for f in (fnp.nonzero, fnp.flatnonzero, lambda a: fnp.where(a)):
        np.testing.assert_equal(f(x), np.nonzero(x) if f is not fnp.flatnonzero
                                else np.flatnonzero(x))
    from functrans.core.errors import ConcretizationTypeError
    for f in (fnp.nonzero, lambda a: fnp.where(a)):
        with pytest.raises(ConcretizationTypeError, match="concrete"):
            traced(f, (x,), {})


def test_iteration_and_len_of_traced_values():
    x = np.arange(6.0).reshape(3, 2)
    rows = traced(lambda a: [r * 2 for r in a] + [len(a) * a[0]], (x,), {})
    np.testing.assert_array_equal(rows[:3], [r * 2 for r in x])
    np.testing.assert_array_equal(rows[3], 3 * x[0])
