"""Lowering rules of primitives declared outside functrans/primitives' six core families
(custom derivative and rematerialization calls). Every other primitive
declares its lowering beside its other rules with `prim.def_lowering(...)`; `install()`
attaches these to the primitives below if they have none of their own.
"""
from .lowering import impl_call, trace_impl

# Calls of user functions: inlined into the caller (their impl, traced, is a program).
INLINED = ("custom_jvp_call", "custom_vjp_call", "checkpoint", "remat_lin")
# custom_lin's impl raises the error that forward mode of a custom_vjp function gets.
IMPL_CALLS = ("custom_lin",)


def install():
    from ..core.primitive import registry
    for name, prim in registry.items():
        if prim.lowering is not None:
            continue
        if name in INLINED:
            prim.def_lowering(trace_impl(prim))
        elif name in IMPL_CALLS:
            prim.def_lowering(impl_call(prim))
