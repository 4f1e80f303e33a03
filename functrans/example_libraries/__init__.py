"""JAX's example libraries on functrans: stax (layers as (init_fun, apply_fun) pairs) and
optimizers ((init_fun, update_fun, get_params) triples)."""
from . import optimizers, stax  # noqa: F401
