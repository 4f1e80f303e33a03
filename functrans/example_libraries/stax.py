"""stax: neural networks as pairs of pure functions (jax.example_libraries.stax's API).

A layer is a pair (init_fun, apply_fun):

    init_fun(rng, input_shape) -> (output_shape, params)
    apply_fun(params, inputs, **kwargs) -> outputs

Combinators (serial, parallel, FanOut, FanInSum, FanInConcat, shape_dependent) build layers of
layers. Shapes may use -1 for the batch size. The math comes from functrans.nn (activations,
initializers), functrans.lax (convolutions, reduce_window pooling) and functrans.random.

As in JAX's stax (and unlike functrans.nn.layers.dropout), Dropout's `rate` is the probability
of KEEPING a unit, and apply needs `rng=` in train mode. Default parameter dtypes follow JAX
with 64-bit enabled: float64; pass initializers with another dtype for float32 networks.
"""
import functools
import operator

import numpy as np

from .. import lax
from .. import numpy as fnp
from .. import random
from ..nn import activations
from ..nn import initializers as init

__all__ = ["serial", "parallel", "FanOut", "FanInSum", "FanInConcat", "shape_dependent",
           "Dense", "GeneralConv", "Conv", "Conv1D", "GeneralConvTranspose", "ConvTranspose",
           "Conv1DTranspose", "BatchNorm", "Dropout", "MaxPool", "AvgPool", "SumPool",
           "Flatten", "Identity", "elementwise", "Relu", "Tanh", "Sigmoid", "Softplus", "Gelu",
           "Elu", "LeakyRelu", "Selu", "Exp", "LogSoftmax", "Softmax"]

F64 = np.float64


def glorot(out_axis=-1, in_axis=-2, dtype=F64):
    """stax's default weight initializer: Glorot (fan-average) normal."""
    return init.glorot_normal(in_axis=in_axis, out_axis=out_axis, dtype=dtype)


def _normal(stddev=1e-2, dtype=F64):
    return init.normal(stddev, dtype=dtype)


# --- layers with parameters ---------------------------------------------------------------------

def Dense(out_dim, W_init=None, b_init=None):
    """y = x @ W + b, params (W (in_dim, out_dim), b (out_dim,))."""
    W_init = W_init or glorot()
    b_init = b_init or _normal()

    def init_fun(rng, input_shape):
        k1, k2 = random.split(rng)
        W = W_init(k1, (input_shape[-1], out_dim))
        b = b_init(k2, (out_dim,))
        return tuple(input_shape[:-1]) + (out_dim,), (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return fnp.add(fnp.matmul(inputs, W), b)
    return init_fun, apply_fun


def _conv_shapes(dimension_numbers, input_shape, filter_shape, out_chan):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    kernel_shape = [out_chan if c == "O" else input_shape[lhs_spec.index("C")] if c == "I"
                    else filter_shape[[s for s in rhs_spec if s not in "IO"].index(c)]
                    for c in rhs_spec]
    return kernel_shape


def GeneralConv(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID",
                W_init=None, b_init=None):
    """A convolution layer with any layout: dimension_numbers is a triple of strings such as
    ('NHWC', 'HWIO', 'NHWC'); params (W, b), b broadcast along the output's feature axis."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    one = (1,) * len(filter_shape)
    strides = strides or one
    W_init = W_init or glorot(rhs_spec.index("O"), rhs_spec.index("I"))
    b_init = b_init or _normal(1e-6)

    def init_fun(rng, input_shape):
        kernel_shape = _conv_shapes(dimension_numbers, input_shape, filter_shape, out_chan)
        k1, k2 = random.split(rng)
        W = W_init(k1, tuple(kernel_shape))
        out_shape = _conv_output_shape(input_shape, kernel_shape, strides, padding,
                                       dimension_numbers)
        bias_shape = tuple(out_chan if c == "C" else 1 for c in out_spec)
        b = b_init(k2, bias_shape)
        return out_shape, (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return fnp.add(lax.conv_general_dilated(inputs, W, strides, padding, one, one,
                                                dimension_numbers=dimension_numbers), b)
    return init_fun, apply_fun


def _conv_output_shape(input_shape, kernel_shape, strides, padding, dimension_numbers):
    """The output shape from shapes alone (a -1 batch stays -1)."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    batch = input_shape[lhs_spec.index("N")]
    probe = [1 if i == lhs_spec.index("N") else d for i, d in enumerate(input_shape)]
    out = lax.conv_general_dilated(np.zeros(probe), np.zeros(kernel_shape), strides, padding,
                                   dimension_numbers=dimension_numbers)
    shape = [int(d) for d in np.shape(out)]
    shape[out_spec.index("N")] = batch
    return tuple(shape)


Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))
Conv1D = functools.partial(GeneralConv, ("NWC", "WIO", "NWC"))


def GeneralConvTranspose(dimension_numbers, out_chan, filter_shape, strides=None,
                         padding="VALID", W_init=None, b_init=None):
    """A transposed convolution layer (lax.conv_transpose), params (W, b)."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    one = (1,) * len(filter_shape)
    strides = strides or one
    W_init = W_init or glorot(rhs_spec.index("O"), rhs_spec.index("I"))
    b_init = b_init or _normal(1e-6)

    def init_fun(rng, input_shape):
        kernel_shape = _conv_shapes(dimension_numbers, input_shape, filter_shape, out_chan)
        k1, k2 = random.split(rng)
        W = W_init(k1, tuple(kernel_shape))
        batch = input_shape[lhs_spec.index("N")]
        probe = [1 if i == lhs_spec.index("N") else d for i, d in enumerate(input_shape)]
        out = lax.conv_transpose(np.zeros(probe), np.zeros(kernel_shape), strides, padding,
                                 dimension_numbers=dimension_numbers)
        out_shape = [int(d) for d in np.shape(out)]
        out_shape[out_spec.index("N")] = batch
        b = b_init(k2, tuple(out_chan if c == "C" else 1 for c in out_spec))
        return tuple(out_shape), (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return fnp.add(lax.conv_transpose(inputs, W, strides, padding,
                                          dimension_numbers=dimension_numbers), b)
    return init_fun, apply_fun


ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))
Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NWC", "WIO", "NWC"))


def BatchNorm(axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True, beta_init=None,
              gamma_init=None):
    """Normalize over `axis` with the batch's own statistics (no running averages, as in
    stax); params (beta, gamma) over the remaining axes."""
    beta_init = beta_init or init.zeros
    gamma_init = gamma_init or init.ones
    axis = (axis,) if np.isscalar(axis) else tuple(axis)

    def init_fun(rng, input_shape):
        nd = len(input_shape)
        axes = tuple(a % nd for a in axis)
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axes)
        k1, k2 = random.split(rng)
        beta = beta_init(k1, shape, F64) if center else ()
        gamma = gamma_init(k2, shape, F64) if scale else ()
        return tuple(input_shape), (beta, gamma)

    def apply_fun(params, x, **kwargs):
        beta, gamma = params
        nd = fnp.ndim(x)
        axes = tuple(a % nd for a in axis)
        mean = fnp.mean(x, axis=axes, keepdims=True)
        var = fnp.var(x, axis=axes, keepdims=True)
        z = fnp.divide(fnp.subtract(x, mean), fnp.sqrt(fnp.add(var, epsilon)))
        kept = tuple(None if i in axes else slice(None) for i in range(nd))
        if scale:
            z = fnp.multiply(z, fnp.asarray(gamma)[kept])
        if center:
            z = fnp.add(z, fnp.asarray(beta)[kept])
        return z
    return init_fun, apply_fun


def Dropout(rate, mode="train"):
    """Keep each unit with probability `rate` and scale kept units by 1/rate in train mode
    (apply needs rng=); the identity in any other mode."""
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.get("rng", None)
        if mode != "train":
            return inputs
        if rng is None:
            raise ValueError("stax.Dropout: apply_fun needs a PRNG key as the rng= keyword in "
                             "train mode, e.g. apply_fun(params, x, rng=key); use "
                             "Dropout(rate, mode='test') for evaluation")
        keep = random.bernoulli(rng, rate, fnp.shape(inputs))
        return fnp.where(keep, fnp.divide(inputs, rate), 0)
    return init_fun, apply_fun


# --- pooling -------------------------------------------------------------------------------------

def _pooling_layer(reducer, init_val, rescale=None):
    def PoolingLayer(window_shape, strides=None, padding="VALID", spec=None):
        strides = strides or (1,) * len(window_shape)
        if spec is None:
            non_spatial = (0, -1)   # NHWC-like: batch first, features last
        else:
            non_spatial = tuple(i for i, c in enumerate(spec) if c in "NC")

        def geometry(ndim):
            axes = tuple(a % ndim for a in non_spatial)
            dims, stride = list(window_shape), list(strides)
            for a in sorted(axes):
                dims.insert(a, 1)
                stride.insert(a, 1)
            return tuple(dims), tuple(stride)

        def init_fun(rng, input_shape):
            dims, stride = geometry(len(input_shape))
            probe = [1 if d == -1 else d for d in input_shape]
            out = lax.reduce_window(np.zeros(probe), init_val, reducer, dims, stride, padding)
            shape = tuple(-1 if d == -1 else int(s) for d, s in zip(input_shape, np.shape(out)))
            return shape, ()

        def apply_fun(params, inputs, **kwargs):
            dims, stride = geometry(fnp.ndim(inputs))
            out = lax.reduce_window(inputs, init_val, reducer, dims, stride, padding)
            return rescale(out, inputs, dims, stride, padding) if rescale else out
        return init_fun, apply_fun
    return PoolingLayer


def _average(out, inputs, dims, strides, padding):
    """Divide window sums by the number of operand elements in each window (padding excluded).
    The counts come from the shapes alone, but like JAX's stax they are computed with lax:
    under jit every lax call is staged, constant operands or not."""
    ones = np.ones(fnp.shape(inputs), out.dtype)
    return fnp.divide(out, lax.reduce_window(ones, 0.0, lax.add, dims, strides, padding))


MaxPool = _pooling_layer(lax.max, -np.inf)
SumPool = _pooling_layer(lax.add, 0.0)
AvgPool = _pooling_layer(lax.add, 0.0, _average)


# --- layers without parameters --------------------------------------------------------------------

def Flatten():
    """Reshape (batch, ...) to (batch, prod(...))."""
    def init_fun(rng, input_shape):
        return (input_shape[0], functools.reduce(operator.mul, input_shape[1:], 1)), ()

    def apply_fun(params, inputs, **kwargs):
        return fnp.reshape(inputs, (fnp.shape(inputs)[0], -1))
    return init_fun, apply_fun


Flatten = Flatten()


def Identity():
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return inputs
    return init_fun, apply_fun


Identity = Identity()


def elementwise(fun, **fun_kwargs):
    """A layer applying fun(x, **fun_kwargs) elementwise."""
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return fun(inputs, **fun_kwargs)
    return init_fun, apply_fun


Tanh = elementwise(fnp.tanh)
Relu = elementwise(activations.relu)
Exp = elementwise(fnp.exp)
LogSoftmax = elementwise(activations.log_softmax, axis=-1)
Softmax = elementwise(activations.softmax, axis=-1)
Softplus = elementwise(activations.softplus)
Sigmoid = elementwise(activations.sigmoid)
Elu = elementwise(activations.elu)
LeakyRelu = elementwise(activations.leaky_relu)
Gelu = elementwise(activations.gelu)


def _selu(x):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return fnp.multiply(scale, activations.elu(x, alpha))


Selu = elementwise(_selu)


# --- combinators ---------------------------------------------------------------------------------

def serial(*layers):
    """Layers in sequence; params are the tuple of the layers' params. apply's rng= keyword is
    split into one key per layer; other keywords reach every layer."""
    n = len(layers)
    init_funs, apply_funs = zip(*layers) if layers else ((), ())

    def init_fun(rng, input_shape):
        params = []
        for f in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, p = f(layer_rng, input_shape)
            params.append(p)
        return input_shape, tuple(params)

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, n) if rng is not None else (None,) * n
        for f, p, r in zip(apply_funs, params, rngs):
            inputs = f(p, inputs, rng=r, **kwargs)
        return inputs
    return init_fun, apply_fun


def parallel(*layers):
    """Layers side by side: input and output are sequences, one entry per layer."""
    n = len(layers)
    init_funs, apply_funs = zip(*layers) if layers else ((), ())

    def init_fun(rng, input_shape):
        rngs = random.split(rng, n)
        pairs = [f(r, s) for f, r, s in zip(init_funs, rngs, input_shape)]
        return [s for s, _ in pairs], tuple(p for _, p in pairs)

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, n) if rng is not None else (None,) * n
        return [f(p, x, rng=r, **kwargs) for f, p, x, r in zip(apply_funs, params, inputs, rngs)]
    return init_fun, apply_fun


def FanOut(num):
    """One input copied into a list of `num`."""
    def init_fun(rng, input_shape):
        return [input_shape] * num, ()

    def apply_fun(params, inputs, **kwargs):
        return [inputs] * num
    return init_fun, apply_fun


def FanInSum():
    """A list of inputs summed."""
    def init_fun(rng, input_shape):
        return input_shape[0], ()

    def apply_fun(params, inputs, **kwargs):
        return functools.reduce(fnp.add, inputs)
    return init_fun, apply_fun


FanInSum = FanInSum()


def FanInConcat(axis=-1):
    """A list of inputs concatenated along `axis`."""
    def init_fun(rng, input_shape):
        ax = axis % len(input_shape[0])
        size = sum(s[ax] for s in input_shape)
        return tuple(input_shape[0][:ax]) + (size,) + tuple(input_shape[0][ax + 1:]), ()

    def apply_fun(params, inputs, **kwargs):
        return fnp.concatenate(inputs, axis)
    return init_fun, apply_fun


def shape_dependent(make_layer):
    """A layer built from the input shape: make_layer(input_shape) -> (init_fun, apply_fun)."""
    def init_fun(rng, input_shape):
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params, inputs, **kwargs):
        return make_layer(fnp.shape(inputs))[1](params, inputs, **kwargs)
    return init_fun, apply_fun
