"""``functrans.ad_checkpoint``: rematerialization and its tools, under jax.ad_checkpoint's names."""
from .transforms.checkpoint_policies import (  # noqa: F401
    checkpoint, checkpoint_name, checkpoint_policies, remat)
from .transforms.residuals import print_saved_residuals, saved_residuals  # noqa: F401

__all__ = ["checkpoint", "checkpoint_name", "checkpoint_policies", "remat",
           "print_saved_residuals", "saved_residuals"]
