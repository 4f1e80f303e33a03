"""``functrans.tree_util``: pytrees under ``jax.tree_util``'s names.

The implementation lives in ``functrans/core/pytree.py`` (the core traces functions of pytrees,
and core imports nothing above it); this module is its public name.
"""
from .core.pytree import *  # noqa: F401,F403
from .core.pytree import __all__  # noqa: F401
