"""Misuses that used to fail inside the library (or silently) now raise errors that name the
cause and the fix (issue 10, item 6). JAX raises for each of these too."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp


def test_vjp_cotangent_of_the_wrong_dtype_or_shape():
    _, pullback = ft.vjp(lambda x: x * 2, np.ones(3))
    with pytest.raises(TypeError, match="cotangent for output 0 has dtype float32.*must be "
                                        "float64"):
        pullback(np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"cotangent for output 0 has shape \(2,\)"):
        pullback(np.ones(2))
    # A Python scalar is weakly typed and takes the output's dtype.
    _, pullback32 = ft.vjp(lambda x: (x * 2).sum(), np.ones(3, np.float32))
    (g,) = pullback32(1.0)
    assert g.dtype == np.float32 and np.all(g == 2)


def test_jit_string_argument_names_it_and_suggests_static_argnums():
    with pytest.raises(TypeError, match=r"argument 1 \('s'\) is a str.*static_argnums=\(1,\)"):
        ft.jit(lambda x, s: x)(1.0, "a")
    with pytest.raises(TypeError, match=r"keyword argument 'mode'.*static_argnames"):
        ft.jit(lambda x, mode=None: x)(1.0, mode="fast")
    assert ft.jit(lambda x, s: x * len(s), static_argnums=1)(2.0, "ab") == 4.0


def test_jit_string_output_is_an_error_naming_the_output():
    with pytest.raises(TypeError, match=r"returned a str \('a'\)"):
        ft.jit(lambda x: "a")(1.0)
    with pytest.raises(TypeError, match=r"at output \['name'\]"):
        ft.jit(lambda x: {"name": "a", "x": x})(1.0)


def test_static_argnums_and_argnames_that_match_nothing():
    with pytest.raises(ValueError, match=r"static_argnums=\(3,\).*takes 1 positional"):
        ft.jit(lambda x: x, static_argnums=(3,))
    with pytest.raises(ValueError, match=r"static_argnames names \['y'\]"):
        ft.jit(lambda x: x, static_argnames=("y",))
    # Functions with *args / **kwargs cannot be checked ahead of the call: accepted.
    ft.jit(lambda *a: a[0], static_argnums=(3,))
    ft.jit(lambda x, **kw: x, static_argnames=("y",))


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_extremum_of_an_empty_array_raises(name):
    f = getattr(fnp, name)
    with pytest.raises(ValueError, match="zero-size array"):
        f(np.zeros((0,)))
    with pytest.raises(ValueError, match="zero-size array.*initial="):
        ft.jit(f)(np.zeros((0,)))
    with pytest.raises(ValueError, match="zero-size array"):
        ft.jit(lambda x: f(x, axis=0))(np.zeros((0, 3)))
    assert ft.jit(lambda x: f(x, axis=1))(np.zeros((0, 3))).shape == (0,)
    assert ft.jit(lambda x: f(x, initial=-1.0))(np.zeros((0,))) == -1.0


def test_max_with_initial_and_where_matches_numpy():
    x = np.array([[0.1, 0.7, 0.3], [0.9, -0.2, 0.4]])
    mask = x > 0.35
    for f, npf in ((fnp.max, np.max), (fnp.min, np.min)):
        want = npf(x, axis=1, initial=0.5, where=mask)
        np.testing.assert_array_equal(f(x, axis=1, initial=0.5, where=mask), want)
        np.testing.assert_array_equal(
            ft.jit(lambda x: f(x, axis=1, initial=0.5, where=x > 0.35))(x), want)
    with pytest.raises(ValueError, match="needs initial="):
        fnp.max(x, where=mask)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_extremum_of_an_empty_array_raises(name):
    with pytest.raises(ValueError, match="empty sequence"):
        ft.jit(getattr(fnp, name))(np.zeros((0,)))
