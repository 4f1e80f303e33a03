"""Options functrans does not support raise a clear error naming the function and the option
(never a silent wrong result)."""
import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import nn

X = np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("call, message", [
    (lambda: fnp.max(X, out=np.empty(3)), "fnp.max: the out argument"),
    (lambda: fnp.quantile(X, 0.5, out=np.empty(())), "fnp.quantile: out="),
    (lambda: fnp.nanquantile(X, 0.5, out=np.empty(())), "fnp.nanquantile: out="),
    (lambda: fnp.ravel_multi_index((np.array([1]), np.array([2])), (2, 3), order="F"),
     "order='C'"),
    (lambda: nn.standardize(X, where=X > 1), "nn.standardize: where="),
    (lambda: ft.linear_transpose(lambda x: 2 * x, 1.0, reduce_axes=("i",)),
     "reduce_axes"),
    (lambda: fnp.nanprod(X, initial=2.0), "fnp.nanprod: out=, initial= and where="),
    (lambda: fnp.polyfit(X[0], X[1], 1, full=True), "fnp.polyfit: full=True"),
    (lambda: fnp.histogram(X, bins="auto"), "fnp.histogram: string bin rules"),
    (lambda: nn.logmeanexp(X, where=X > 1), "nn.logmeanexp: where="),
    (lambda: nn.dot_product_attention(np.ones((2, 1, 4)), np.ones((2, 1, 4)),
                                      np.ones((2, 1, 4)), local_window_size=(1, 1)),
     "nn.dot_product_attention: sequence lengths and local windows"),
    (lambda: nn.dot_product_attention(np.ones((2, 1, 4)), np.ones((2, 1, 4)),
                                      np.ones((2, 1, 4)), implementation="cudnn"),
     "nn.dot_product_attention: implementation 'cudnn'"),
    (lambda: ft.pmap(lambda x: x, devices=["cpu:0"]), "pmap of <lambda>: devices="),
])
def test_unsupported_option_names_function_and_option(call, message):
    with pytest.raises(NotImplementedError, match=message):
        call()
