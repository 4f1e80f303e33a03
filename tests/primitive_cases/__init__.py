"""Test cases for every primitive, one module per primitive family.

Each family module defines STRATEGIES: {primitive name: hypothesis strategy of Case}. The
registry-driven tests (tests/test_primitive_rules.py) walk functrans's primitive registry, draw
cases, and check the impl against the numpy reference, traced-then-evaluated against eager, the
type checker, JVPs against finite differences, transposes by the dot-product test and batching
rules against a Python loop. A registered primitive without a strategy fails the suite.
"""
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Case:
    args: tuple                          # numpy arrays (or Python scalars) passed to bind
    params: dict = field(default_factory=dict)
    reference: Callable | None = None    # numpy reference(*args, **params); None: impl only
    # Indices of args to differentiate in derivative checks (must be float64 arrays there);
    # None means every floating-point argument.
    diff_argnums: tuple | None = None
    # Indices of args that may carry a batch axis in vmap checks; None means all of them.
    batch_argnums: tuple | None = None
    # Finite differences need smooth points: a case may say its args are away from kinks.
    fd_ok: bool = True


def all_strategies():
    """STRATEGIES of every family module in this package, merged."""
    import importlib
    import pkgutil
    table = {}
    for info in pkgutil.iter_modules(__path__):
        table.update(importlib.import_module(f"{__name__}.{info.name}").STRATEGIES)
    return table
