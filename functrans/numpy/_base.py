"""The fnp families built directly on lax (creation, einsum, elementwise, indexing, reductions,
shaping, sorting, matmul), gathered in one namespace for the modules composed from them (the
topics of extras.py, statistics, polynomial, fft), which call them as `fnp.name`.

These are the plain functions: the package adds its user-facing result wrapper (_outputs.py) to
its own names only, so calls between fnp modules skip it. Star imports in the package's order, so
that each name means what fnp.name means.
"""
from .creation import *  # noqa: F401,F403
from ._einsum import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .linalg import matmul  # noqa: F401
from .reductions import *  # noqa: F401,F403
from .shaping import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
