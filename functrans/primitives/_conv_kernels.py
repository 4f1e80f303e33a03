"""jit lowering of conv_general_dilated (functrans/primitives/convolution.py)."""
from ..backend.lowering import _impl_caller


def emit_conv(ctx, args, **params):
    from .convolution import conv_general_dilated_p
    f = ctx.bind_global(_impl_caller(conv_general_dilated_p.impl, params), "conv")
    return f"{f}({', '.join(args)})"
