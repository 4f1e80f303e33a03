"""functrans.lax: the primitives as functions, with JAX's names and signatures (jax.lax).

Unlike functrans.numpy, lax does not promote dtypes or broadcast shapes implicitly (except that
weakly typed Python scalars take their partner's dtype and rank-0 operands broadcast)."""
from .primitives.contraction import *  # noqa: F401,F403
from .primitives.elementwise import *  # noqa: F401,F403
from .primitives.indexing import *  # noqa: F401,F403
from .primitives.reductions import *  # noqa: F401,F403
from .primitives.shape import *  # noqa: F401,F403
from .primitives.sorting import *  # noqa: F401,F403
from .primitives.bits import *  # noqa: F401,F403
from .primitives.control_flow import *  # noqa: F401,F403
from .primitives.special import *  # noqa: F401,F403
from .primitives.fft import *  # noqa: F401,F403
from .primitives.convolution import *  # noqa: F401,F403
from .primitives.windowed import *  # noqa: F401,F403
from .primitives.collectives import *  # noqa: F401,F403

# functrans.lax.linalg (jax.lax.linalg), importable as a module too.
import sys as _sys  # noqa: E402

from . import lax_linalg as linalg  # noqa: E402,F401

_sys.modules[__name__ + ".linalg"] = linalg
