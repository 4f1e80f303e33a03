"""functrans.scipy: scipy's API on functrans primitives (mirrors jax.scipy).

    import functrans.scipy.linalg as fsl

Each submodule is imported here, one line each."""
from . import linalg  # noqa: F401
from . import special  # noqa: F401
from . import stats  # noqa: F401
