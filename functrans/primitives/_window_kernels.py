"""jit lowerings of the windowed reductions (functrans/primitives/windowed.py)."""
from ..backend.lowering import _impl_caller


def emitter(prim):
    """Driver rule: the primitive's numpy impl (strided window views, one numpy reduction)."""
    def emit(ctx, args, **params):
        f = ctx.bind_global(_impl_caller(prim.impl, params), f"impl_{prim.name}")
        return f"{f}({', '.join(args)})"
    return emit
