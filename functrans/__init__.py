"""functrans: composable function transformations (jvp, grad, vmap, jit) on numpy, with Numba."""
from ._version import __version__  # noqa: F401

from . import lax, tree, tree_util  # noqa: E402
from .config import config, debug_nans_context as debug_nans  # noqa: E402,F401
from .core.array import Array  # noqa: E402,F401
from .core.aval import ShapedArray  # noqa: E402
from .core.ir import ClosedProgram, Program  # noqa: E402
from .core.primitive import registry as primitive_registry  # noqa: E402
from .core.staging import ShapeDtypeStruct  # noqa: E402
from .transforms.tracing import eval_shape, make_jaxpr  # noqa: E402
from .core.typecheck import check_program  # noqa: E402
from .transforms.jacobians import jacfwd, jacrev  # noqa: E402
from .transforms.forward import jvp  # noqa: E402
from .transforms.linearize import LinearMap, linearize  # noqa: E402
from .transforms.reverse import grad, value_and_grad, vjp  # noqa: E402
from .transforms.vmap import vmap  # noqa: E402
from .core.primitive import FLOAT0 as float0  # noqa: E402
from .transforms.cost_model import choose_mode, compare_modes, explain  # noqa: E402
from .transforms.jacobian_api import hessian, jacobian  # noqa: E402
from .transforms.custom import custom_jvp, custom_vjp  # noqa: E402
from .transforms.checkpoint_policies import checkpoint, checkpoint_policies, remat  # noqa: E402
from .transforms.closure import closure_convert  # noqa: E402
from .transforms.linear_transpose import linear_transpose  # noqa: E402
from . import ad_checkpoint  # noqa: E402,F401
from .transforms.residuals import print_saved_residuals, saved_residuals  # noqa: E402
from .transforms.jit import clear_cache, jit  # noqa: E402
from .transforms.pmap import pmap  # noqa: E402
from . import distributed  # noqa: E402,F401
from .distributed import (device_count, local_device_count, process_count,  # noqa: E402
                          process_index)
from .transforms.sparsity_detection import hessian_sparsity, jacobian_sparsity  # noqa: E402
from .transforms.chain import explain_chain  # noqa: E402
from . import numpy  # noqa: E402,F401  (also gives traced values their operators and methods)
from . import data, nn, optim, random  # noqa: E402,F401
from . import scipy  # noqa: E402,F401  (functrans.scipy after `import functrans`, as jax.scipy)
from . import debug  # noqa: E402,F401
from . import test_util  # noqa: E402,F401
from . import cost  # noqa: E402,F401  (calibrate(): this machine's rates for the cost model)
