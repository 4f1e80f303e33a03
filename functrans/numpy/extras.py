"""More of numpy's API (jax.numpy's names and x64 semantics), composed from the other fnp
functions, so that each is differentiable, batchable and jit-compilable through the primitives
those use. Eagerly (no traced argument) they compute with numpy arrays like the rest of fnp.

Functions whose result's *shape* depends on values (unique, argwhere, real_if_close, ...) need
concrete values, or a static `size=` where JAX offers one; under a transform they raise the usual
concretization error otherwise. They live in small modules by topic, gathered here:
comparisons, more_math, differences, padding, assembly, index_tricks, sequences, searching,
setops, functional.
"""
from .comparisons import *  # noqa: F401,F403
from .more_math import *  # noqa: F401,F403
from .differences import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .assembly import *  # noqa: F401,F403
from .index_tricks import *  # noqa: F401,F403
from .sequences import *  # noqa: F401,F403
from .searching import *  # noqa: F401,F403
from .setops import *  # noqa: F401,F403
from .functional import *  # noqa: F401,F403
from . import (assembly, comparisons, differences, functional, index_tricks,  # noqa: E402
               more_math, padding, searching, sequences, setops)

__all__ = [name for module in (comparisons, more_math, differences, padding, assembly, index_tricks,
                              sequences, searching, setops, functional)
           for name in module.__all__]
