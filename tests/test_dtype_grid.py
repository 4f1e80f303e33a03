"""Result dtypes of every functrans.numpy function against JAX's (jax_enable_x64=True).

tests/data/jax_dtypes.json records, for each jax.numpy function that functrans.numpy also has,
the dtype JAX gives on one or two arguments of every dtype and Python scalar kind (written by
tools/gen_jax_dtype_reference.py where JAX is installed; JAX is not needed to run this test).
Each function is checked eagerly (the numpy fast path), traced (eval_shape), and, for a
representative set, under jit. Promotion itself is checked against the lattice table too.
"""
import json
import os
import warnings

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.core import dtypes

_PATH = os.path.join(os.path.dirname(__file__), "data", "jax_dtypes.json")
with open(_PATH) as _fh:
    REFERENCE = json.load(_fh)["functions"]

SCALARS = {"py_bool": True, "py_int": 2, "py_float": 2.5, "py_complex": 2 + 1j}
# Deliberate differences, each documented in docs/sharp-edges.md.
KNOWN = {}


def example(kind):
    return SCALARS[kind] if kind in SCALARS else np.ones((2, 3), dtype=kind)


def _dtype_name(out):
    leaves = ft.tree_util.tree_leaves(out)
    if len(leaves) != 1 or not hasattr(leaves[0], "dtype"):
        return None
    return str(np.dtype(leaves[0].dtype))


def _eager(f, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _dtype_name(f(*args))


def _traced(f, args):
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    slots = [isinstance(a, np.ndarray) for a in args]

    def call(*arrs):
        it = iter(arrs)
        return f(*[next(it) if s else a for s, a in zip(slots, args)])
    return _dtype_name(ft.eval_shape(call, *arrays))


def _cases(name):
    entry = REFERENCE[name]
    for kind, want in entry["unary"].items():
        yield (kind,), want
    for pair, want in entry["binary"].items():
        yield tuple(pair.split(",")), want


def _mismatches(name, run):
    f = getattr(fnp, name)
    bad = []
    for kinds, want in _cases(name):
        args = [example(k) for k in kinds]
        try:
            got = run(f, args)
        except Exception:                            # noqa: BLE001
            # Calls functrans refuses where JAX computes (a bool as an axis, an index out of
            # bounds, complex logaddexp) are not dtype questions: coverage is tested elsewhere.
            continue
        if got != want and (name, kinds) not in KNOWN:
            bad.append(f"{name}{kinds}: functrans {got}, JAX {want}")
    return bad


NAMES = sorted(REFERENCE)


@pytest.mark.parametrize("name", NAMES)
def test_eager_dtypes_match_jax(name):
    bad = _mismatches(name, _eager)
    assert not bad, "\n".join(bad[:20]) + (f"\n... {len(bad)} in all" if len(bad) > 20 else "")


@pytest.mark.parametrize("name", NAMES)
def test_traced_dtypes_match_jax(name):
    bad = _mismatches(name, _traced)
    assert not bad, "\n".join(bad[:20]) + (f"\n... {len(bad)} in all" if len(bad) > 20 else "")


JIT_CASES = [("add", ("int32", "float32")), ("add", ("bool", "float16")),
             ("add", ("uint64", "int64")), ("multiply", ("int8", "py_float")),
             ("true_divide", ("int32", "int32")), ("sin", ("int16",)), ("sqrt", ("uint8",)),
             ("mean", ("int32",)), ("sum", ("int8",)), ("cumsum", ("int8",)),
             ("maximum", ("uint32", "int32")), ("minimum", ("bool", "int64")),
             ("exp", ("int64",)), ("arctan2", ("int32", "float16"))]


@pytest.mark.parametrize("name,kinds", JIT_CASES)
def test_jit_dtypes_match_jax(name, kinds):
    table = REFERENCE[name]["unary" if len(kinds) == 1 else "binary"]
    want = table[",".join(kinds)]
    args = [example(k) for k in kinds]
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    f = getattr(fnp, name)
    if len(arrays) == len(args):
        out = ft.jit(f)(*args)
    else:
        scalar = next(a for a in args if not isinstance(a, np.ndarray))
        out = ft.jit(lambda *a: f(*a, scalar) if isinstance(args[1], type(scalar)) and
                     not isinstance(args[1], np.ndarray) else f(scalar, *a))(*arrays)
    assert str(np.asarray(out).dtype) == want
    np.testing.assert_allclose(np.asarray(out, np.complex128),
                               np.asarray(f(*args), np.complex128), rtol=1e-3)


def test_promotion_lattice_matches_jax_pairwise():
    """dtypes.result_type against the binary `add` column of JAX's table, for every pair of
    dtypes and weak kinds (add is promotion itself, bool + bool aside)."""
    weak = {"py_int": (dtypes.int64, True), "py_float": (dtypes.float64, True),
            "py_complex": (dtypes.complex128, True), "py_bool": (dtypes.bool_, False)}
    for pair, want in REFERENCE["add"]["binary"].items():
        a, b = pair.split(",")
        typed = [weak[k] if k in weak else (np.dtype(k), False) for k in (a, b)]
        got = dtypes.result_type(*typed)[0]
        assert str(got) == want, f"{pair}: lattice {got}, JAX {want}"


def test_promote_types_and_result_type_are_jaxs():
    assert fnp.promote_types(np.int32, np.float32) == np.float32
    assert fnp.promote_types(np.uint64, np.int8) == np.float64
    assert fnp.promote_types(np.int64, np.float16) == np.float16
    assert fnp.result_type(np.ones(2, np.int32), 2.5) == np.float64
    assert fnp.result_type(np.ones(2, np.float32), 2.5) == np.float32
    assert fnp.result_type(np.ones(2, np.uint8), 300) == np.uint8
