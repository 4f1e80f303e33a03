"""``functrans.config``: run-time settings under JAX's names (see functrans/core/config.py,
where the core's hot paths read them)."""
from .core.config import *  # noqa: F401,F403
from .core.config import Config, __all__  # noqa: F401
