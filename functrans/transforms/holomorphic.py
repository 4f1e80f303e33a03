"""Dtype checks of differentiation with complex numbers, following JAX's conventions.

JAX treats a complex number as a pair of reals. grad of a real-valued function of complex
inputs is ∂f/∂x - i·∂f/∂y (the conjugate of the steepest-ascent direction), and vjp pairs a
cotangent u with a tangent v by Re(Σ u·v), without conjugation. A complex-valued output
has no single gradient unless the function is holomorphic: then grad(f, holomorphic=True)(z)
is f'(z), which is what the vjp with cotangent 1 computes. These checks refuse the ambiguous
cases with JAX's errors instead of returning one of several possible numbers.
"""
from ..core import dtypes


def _is_complex(dtype):
    return dtypes.is_inexact(dtype) and dtype.kind == "c"


def check_holomorphic_inputs(fun_name, avals):
    for a in avals:
        if not _is_complex(a.dtype):
            raise TypeError(f"{fun_name} with holomorphic=True requires inputs with complex dtype, "
                            f"but got {a.dtype.name}.")


def check_real_inputs(fun_name, avals):
    """jacfwd pushes a basis of real tangents: complex inputs need holomorphic=True."""
    for a in avals:
        if _is_complex(a.dtype):
            raise TypeError(f"{fun_name} requires real-valued inputs (a floating dtype), but got "
                            f"{a.dtype.name}. For holomorphic differentiation, pass "
                            f"holomorphic=True. For differentiation of non-holomorphic functions "
                            f"of complex inputs, use jvp or vjp directly.")


def check_outputs(fun_name, avals, holomorphic, real_required):
    """holomorphic: outputs must be complex. Otherwise, when real_required (grad, jacrev: one
    real cotangent basis), complex outputs are refused."""
    for a in avals:
        if holomorphic:
            if not _is_complex(a.dtype):
                raise TypeError(f"{fun_name} with holomorphic=True requires outputs with complex "
                                f"dtype, but got {a.dtype.name}.")
        elif real_required and _is_complex(a.dtype):
            raise TypeError(f"{fun_name} requires real-valued outputs (a floating dtype), but got "
                            f"{a.dtype.name}. For holomorphic differentiation, pass "
                            f"holomorphic=True. For differentiation of non-holomorphic functions "
                            f"with complex outputs, use vjp directly.")
