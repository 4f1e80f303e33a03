"""``functrans.config``: run-time settings under JAX's names.

    functrans.config.update("debug_nans", True)     # or "jax_debug_nans", as in JAX
    functrans.config.debug_nans                      # read a setting

Settings:
  debug_nans   stop at the first primitive that produces a NaN, naming it and the line of user
               code that applied it (FloatingPointError). Eagerly every primitive's output is
               checked; under jit the compiled program's outputs are checked, and on a NaN the
               function is run again op by op, as JAX does, to find the primitive.
  debug_infs   the same for infinities.
  enable_x64   always True: functrans follows JAX with jax_enable_x64=True. Setting it False
               raises (32-bit defaults are not implemented).
  jit_background_compile
               True (the default; the environment variable FUNCTRANS_JIT_BACKGROUND_COMPILE=0
               sets False): a jitted function's first calls with a new signature run its
               program on numpy while its kernels compile in a background thread, and later
               calls run the compiled code (values equal up to float rounding). False: the
               first call compiles, then runs compiled code.

This module is read by the core's hot paths: it must stay free of other imports.
"""
import contextlib
import os

__all__ = ["config", "update", "debug_nans_context"]


class Config:
    """The settings object (also importable as functrans.config.config)."""

    _NAMES = ("debug_nans", "debug_infs", "enable_x64", "jit_background_compile")

    def __init__(self):
        self.debug_nans = False
        self.debug_infs = False
        self.enable_x64 = True
        self.jit_background_compile = \
            os.environ.get("FUNCTRANS_JIT_BACKGROUND_COMPILE", "1").strip().lower() \
            not in ("0", "false", "no", "off")

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name in ("debug_nans", "debug_infs"):
            # One attribute for the eager hot paths to test instead of two.
            object.__setattr__(self, "checks_values", bool(getattr(self, "debug_nans", False)
                                                           or getattr(self, "debug_infs", False)))

    @classmethod
    def _canonical(cls, name):
        for prefix in ("jax_", "functrans_"):
            if name.startswith(prefix):
                name = name[len(prefix):]
        if name not in cls._NAMES:
            raise AttributeError(f"functrans.config: unknown setting {name!r}; known settings: "
                                 f"{', '.join(cls._NAMES)}")
        return name

    def update(self, name, value):
        name = self._canonical(name)
        if name == "enable_x64" and not value:
            raise NotImplementedError(
                "functrans.config: enable_x64 cannot be turned off: functrans follows JAX with "
                "jax_enable_x64=True (64-bit defaults). Use explicit float32 dtypes instead.")
        setattr(self, name, bool(value))

    def read(self, name):
        return getattr(self, self._canonical(name))

    def __getattr__(self, name):          # jax_debug_nans and friends, read as attributes
        if name.startswith(("jax_", "functrans_")):
            return getattr(self, self._canonical(name))
        raise AttributeError(name)

    def __repr__(self):
        return "functrans.config(" + ", ".join(f"{n}={getattr(self, n)}" for n in self._NAMES) + ")"


config = Config()
update = config.update


def __getattr__(name):                   # functrans.config.debug_nans reads the setting
    if name in Config._NAMES or name.startswith(("jax_", "functrans_")):
        return config.read(name)
    raise AttributeError(f"module 'functrans.config' has no attribute {name!r}")


@contextlib.contextmanager
def debug_nans_context(enabled=True):
    """Context manager form (functrans.debug_nans, like jax.debug_nans):
    `with functrans.debug_nans(True): ...`."""
    old = config.debug_nans
    config.debug_nans = bool(enabled)
    try:
        yield
    finally:
        config.debug_nans = old
