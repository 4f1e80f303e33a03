"""Cases for the special-function primitives (functrans/primitives/special.py).

References are computed one element at a time with mpmath at 30 digits (independent of the
scipy.special code the impls call); where mpmath is missing, Python's math module covers lgamma
and erfc, and the others fall back to scipy.special. Shape parameters (polygamma's order, the
incomplete gamma/beta functions' a and b) are not differentiated: their derivatives raise.
"""
import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import Case

try:
    import mpmath
    mpmath.mp.dps = 30
except ImportError:     # pragma: no cover - mpmath comes with sympy on most machines
    mpmath = None

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
FLOATS = (F32, F64)
shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4)


def _floats(dtype, lo, hi):
    if dtype == F32:    # bounds representable in float32, rounded inward
        lo = float(np.nextafter(np.float32(lo), np.float32(np.inf)))
        hi = float(np.nextafter(np.float32(hi), np.float32(-np.inf)))
    return st.floats(lo, hi, width=32 if dtype == F32 else 64, allow_nan=False,
                     allow_infinity=False, exclude_min=True, exclude_max=True)


def _pointwise(mp_fn, fallback):
    """A reference applying mp_fn (mpmath) or fallback (float) to every element tuple."""
    def ref(*args):
        arrays = np.broadcast_arrays(*map(np.asarray, args))
        dtype = np.result_type(*args)
        out = np.empty(arrays[0].shape, np.float64)
        for idx in np.ndindex(out.shape):
            vals = [float(a[idx]) for a in arrays]
            out[idx] = float(mp_fn(*vals)) if mpmath is not None else float(fallback(*vals))
        return out.astype(dtype)
    return ref


def _scipy(name):
    def call(*vals):
        import scipy.special
        return getattr(scipy.special, name)(*vals)
    return call


def _case(ranges, reference, diff_argnums=None, batch_argnums=None, integer_args=(),
          fd_ok=lambda *args: True):
    """Operands of one dtype: each is the drawn shape or rank 0 (rank 0 broadcasts)."""
    @st.composite
    def strategy(draw):
        dtype = draw(st.sampled_from(FLOATS))
        shape = draw(shapes)
        args = []
        for i, (lo, hi) in enumerate(ranges):
            s = shape if i == len(ranges) - 1 else draw(st.sampled_from([shape, ()]))
            if i in integer_args:
                a = np.asarray(draw(hnp.arrays(np.int64, s, elements=st.integers(lo, hi))),
                               dtype)
            else:
                a = draw(hnp.arrays(dtype, s, elements=_floats(dtype, lo, hi)))
            args.append(a)
        return Case(tuple(args), {}, reference, diff_argnums=diff_argnums,
                    batch_argnums=batch_argnums, fd_ok=fd_ok(*args))
    return strategy()


def _mp(name):
    return (lambda *v: getattr(mpmath, name)(*v)) if mpmath is not None else None


def _i0e(x):
    return mpmath.exp(-abs(x)) * mpmath.besseli(0, x)


def _i1e(x):
    return mpmath.exp(-abs(x)) * mpmath.besseli(1, x)


STRATEGIES = {
    "lgamma": _case([(0.1, 6.0)], _pointwise(lambda x: mpmath.log(abs(mpmath.gamma(x))),
                                             math.lgamma)),
    "digamma": _case([(0.2, 6.0)], _pointwise(lambda x: mpmath.psi(0, x), _scipy("psi"))),
    "polygamma": _case([(0, 3), (0.5, 5.0)],
                       _pointwise(lambda m, x: mpmath.psi(int(m), x), _scipy("polygamma")),
                       diff_argnums=(1,), batch_argnums=(1,), integer_args=(0,)),
    "erfc": _case([(-3.0, 3.0)], _pointwise(lambda x: mpmath.erfc(x), math.erfc)),
    "erf_inv": _case([(-0.95, 0.95)], _pointwise(lambda x: mpmath.erfinv(x), _scipy("erfinv"))),
    "ndtri": _case([(0.02, 0.98)],
                   _pointwise(lambda p: mpmath.sqrt(2) * mpmath.erfinv(2 * mpmath.mpf(p) - 1),
                              _scipy("ndtri"))),
    "log_ndtr": _case([(-8.0, 5.0)], _pointwise(lambda x: mpmath.log(mpmath.ncdf(x)),
                                                _scipy("log_ndtr"))),
    # i0e has a kink at 0 (the exp(-|x|) factor): finite differences only away from it.
    "bessel_i0e": _case([(-4.0, 4.0)], _pointwise(_i0e, _scipy("i0e")),
                        fd_ok=lambda x: bool(np.all(np.abs(x) > 0.05))),
    "bessel_i1e": _case([(-4.0, 4.0)], _pointwise(_i1e, _scipy("i1e"))),
    "igamma": _case([(0.5, 4.0), (0.1, 6.0)],
                    _pointwise(lambda a, x: mpmath.gammainc(a, 0, x, regularized=True),
                               _scipy("gammainc")), diff_argnums=(1,), batch_argnums=(1,)),
    "igammac": _case([(0.5, 4.0), (0.1, 6.0)],
                     _pointwise(lambda a, x: mpmath.gammainc(a, x, mpmath.inf, regularized=True),
                                _scipy("gammaincc")), diff_argnums=(1,), batch_argnums=(1,)),
    "regularized_incomplete_beta": _case(
        [(0.5, 4.0), (0.5, 4.0), (0.05, 0.95)],
        _pointwise(lambda a, b, x: mpmath.betainc(a, b, 0, x, regularized=True),
                   _scipy("betainc")), diff_argnums=(2,), batch_argnums=(2,)),
}


def _owens_t(h, a):
    f = lambda t: mpmath.exp(-h * h * (1 + t * t) / 2) / (1 + t * t)  # noqa: E731
    return mpmath.quad(f, [0, a]) / (2 * mpmath.pi)


STRATEGIES.update({
    "erfcx": _case([(-2.0, 4.0)], _pointwise(lambda x: mpmath.exp(x * x) * mpmath.erfc(x),
                                             _scipy("erfcx"))),
    "dawsn": _case([(-3.0, 3.0)], _pointwise(
        lambda x: mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-x * x) * mpmath.erfi(x),
        _scipy("dawsn"))),
    "exp1": _case([(0.1, 5.0)], _pointwise(lambda x: mpmath.e1(x), _scipy("exp1"))),
    "expi": _case([(0.1, 4.0)], _pointwise(lambda x: mpmath.ei(x), _scipy("expi"))),
    "spence": _case([(0.1, 3.0)], _pointwise(lambda z: mpmath.polylog(2, 1 - mpmath.mpf(z)),
                                             _scipy("spence"))),
    "fresnel_sin": _case([(-3.0, 3.0)], _pointwise(lambda x: mpmath.fresnels(x),
                                                   lambda x: _scipy("fresnel")(x)[0])),
    "fresnel_cos": _case([(-3.0, 3.0)], _pointwise(lambda x: mpmath.fresnelc(x),
                                                   lambda x: _scipy("fresnel")(x)[1])),
    "sine_integral": _case([(-5.0, 5.0)], _pointwise(lambda x: mpmath.si(x),
                                                     lambda x: _scipy("sici")(x)[0])),
    "cosine_integral": _case([(0.1, 5.0)], _pointwise(lambda x: mpmath.ci(x),
                                                      lambda x: _scipy("sici")(x)[1])),
    "expn": _case([(0, 3), (0.2, 4.0)], _pointwise(lambda n, x: mpmath.expint(int(n), x),
                                                   _scipy("expn")),
                  diff_argnums=(1,), batch_argnums=(1,), integer_args=(0,)),
    "zeta": _case([(1.5, 4.0), (0.5, 3.0)], _pointwise(lambda x, q: mpmath.zeta(x, q),
                                                       _scipy("zeta")),
                  diff_argnums=(1,), batch_argnums=(1,)),
    "hyp1f1": _case([(0.5, 2.0), (0.5, 2.0), (-2.0, 2.0)],
                    _pointwise(lambda a, b, x: mpmath.hyp1f1(a, b, x), _scipy("hyp1f1")),
                    diff_argnums=(2,), batch_argnums=(2,)),
    "hyp2f1": _case([(0.5, 2.0), (0.5, 2.0), (0.5, 2.0), (-0.8, 0.8)],
                    _pointwise(lambda a, b, c, x: mpmath.hyp2f1(a, b, c, x), _scipy("hyp2f1")),
                    diff_argnums=(3,), batch_argnums=(3,)),
    "owens_t": _case([(-3.0, 3.0), (-2.0, 2.0)], _pointwise(_owens_t, _scipy("owens_t"))),
    "bessel_jv": _case([(0.0, 3.0), (0.1, 6.0)], _pointwise(lambda v, z: mpmath.besselj(v, z),
                                                            _scipy("jv")),
                       diff_argnums=(1,), batch_argnums=(1,)),
})
