"""functrans.nn: neural-network building blocks as plain functions (mirrors jax.nn)."""
from .activations import *  # noqa: F401,F403
from .activations import __all__  # noqa: F401
from . import initializers, layers, losses  # noqa: F401,E402
from .layers import (Gelu, Identity, LogSoftmax, Relu, Sigmoid, Softmax, Tanh,  # noqa: F401,E402
                     dense, dropout, elementwise, flatten, mlp, serial)
from .losses import (accuracy, l1_penalty, l2_penalty, mse, multiclass_hinge_loss,  # noqa: F401,E402
                     sigmoid_binary_cross_entropy, softmax_cross_entropy)
