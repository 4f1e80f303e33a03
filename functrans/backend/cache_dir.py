"""Where the kernel cache (and the cost model's calibration beside it) lives: a module of its
own so that finding the directory does not import Numba."""
import os


def default_cache_dir():
    env = os.environ.get("FUNCTRANS_CACHE_DIR")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "functrans")
