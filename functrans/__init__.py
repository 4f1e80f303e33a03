"""functrans: composable function transformations (jvp, grad, vmap, jit) on numpy, with Numba.

`import functrans` loads only this module, the version and the settings: every other public name
(ft.grad, ft.jit, ft.numpy, ft.lax, ...) is loaded on first use through the module
`__getattr__` below (PEP 562), and is then an ordinary attribute. A name that is not a
submodule also loads functrans.numpy first, which gives traced values and Arrays their operators
and methods, so `ft.grad(lambda x: x * 2)(1.0)` works with nothing else imported.
"""
from ._version import __version__  # noqa: F401
from .config import config, debug_nans_context as debug_nans  # noqa: F401
from .core import api_loader as _api_loader


def _load_numpy_api():
    import importlib
    importlib.import_module(f"{__name__}.numpy")


_api_loader.load = _load_numpy_api

# Public name -> (module, attribute); attribute None means the module itself.
_LAZY = {
    "Array": ("core.array", "Array"),
    "ShapedArray": ("core.aval", "ShapedArray"),
    "ClosedProgram": ("core.ir", "ClosedProgram"),
    "Program": ("core.ir", "Program"),
    "primitive_registry": ("core.primitive", "registry"),
    "float0": ("core.primitive", "FLOAT0"),
    "ShapeDtypeStruct": ("core.staging", "ShapeDtypeStruct"),
    "check_program": ("core.typecheck", "check_program"),
    "eval_shape": ("transforms.tracing", "eval_shape"),
    "make_jaxpr": ("transforms.tracing", "make_jaxpr"),
    "jacfwd": ("transforms.jacobians", "jacfwd"),
    "jacrev": ("transforms.jacobians", "jacrev"),
    "jvp": ("transforms.forward", "jvp"),
    "LinearMap": ("transforms.linearize", "LinearMap"),
    "linearize": ("transforms.linearize", "linearize"),
    "grad": ("transforms.reverse", "grad"),
    "value_and_grad": ("transforms.reverse", "value_and_grad"),
    "vjp": ("transforms.reverse", "vjp"),
    "vmap": ("transforms.vmap", "vmap"),
    "choose_mode": ("transforms.cost_model", "choose_mode"),
    "compare_modes": ("transforms.cost_model", "compare_modes"),
    "explain": ("transforms.cost_model", "explain"),
    "hessian": ("transforms.jacobian_api", "hessian"),
    "jacobian": ("transforms.jacobian_api", "jacobian"),
    "custom_jvp": ("transforms.custom", "custom_jvp"),
    "custom_vjp": ("transforms.custom", "custom_vjp"),
    "checkpoint": ("transforms.checkpoint_policies", "checkpoint"),
    "checkpoint_policies": ("transforms.checkpoint_policies", "checkpoint_policies"),
    "remat": ("transforms.checkpoint_policies", "remat"),
    "closure_convert": ("transforms.closure", "closure_convert"),
    "linear_transpose": ("transforms.linear_transpose", "linear_transpose"),
    "print_saved_residuals": ("transforms.residuals", "print_saved_residuals"),
    "saved_residuals": ("transforms.residuals", "saved_residuals"),
    "clear_cache": ("transforms.jit", "clear_cache"),
    "jit": ("transforms.jit", "jit"),
    "pmap": ("transforms.pmap", "pmap"),
    "device_count": ("distributed", "device_count"),
    "local_device_count": ("distributed", "local_device_count"),
    "process_count": ("distributed", "process_count"),
    "process_index": ("distributed", "process_index"),
    "hessian_sparsity": ("transforms.sparsity_detection", "hessian_sparsity"),
    "jacobian_sparsity": ("transforms.sparsity_detection", "jacobian_sparsity"),
    "explain_chain": ("transforms.chain", "explain_chain"),
}
# Public submodules, loaded on first use as attributes (`import functrans.X` works as always).
_SUBMODULES = ("lax", "tree", "tree_util", "ad_checkpoint", "distributed", "numpy", "data", "nn",
               "optim", "random", "scipy", "debug", "test_util", "cost", "example_libraries")
# The package's inner layers, also reachable as attributes (not part of __all__).
_INTERNAL = ("core", "primitives", "transforms", "backend", "lax_linalg", "mpi_world")

__all__ = sorted(["__version__", "config", "debug_nans", *_LAZY, *_SUBMODULES])


def __getattr__(name):
    import importlib
    if name in _SUBMODULES or name in _INTERNAL:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name in _LAZY:
        # Traced values and Arrays take their operators from functrans.numpy: load it first.
        importlib.import_module(f"{__name__}.numpy")
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    if name == "primitive_registry":
        load_everything()   # the whole table: modules declare their primitives when imported
    return value


def load_everything():
    """Import every public module and name now (what `import functrans` did before it was lazy),
    so that registries filled by module bodies (primitives, pytree nodes, cost declarations) are
    complete: for tools and tests that walk them."""
    for name in (*_SUBMODULES, *_LAZY):
        if name not in globals():
            __getattr__(name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
