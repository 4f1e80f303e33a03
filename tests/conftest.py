"""Test-wide settings. Under CI (the CI environment variable set) hypothesis is derandomized
and keeps no example database, so a run is reproducible; locally it explores new examples.

jit compiles on the first call in tests (and in the processes they start): most tests call a
jitted function once and compare it with the interpreter, which must check compiled code, not
the numpy interpreter that runs first calls by default. tests/test_jit_background.py tests that
mode."""
import os
import sys

os.environ["FUNCTRANS_JIT_BACKGROUND_COMPILE"] = "0"

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))     # tests import their shared helpers by name

# `import functrans` loads its modules on first use; tests that walk registries filled by module
# bodies (every primitive, every cost declaration) see them all. tests/test_lazy_import.py
# checks the lazy loading itself, in fresh processes.
import functrans  # noqa: E402

functrans.load_everything()

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="module")
def fresh_jit_cache_dir(tmp_path_factory):
    """An empty FUNCTRANS_CACHE_DIR for one test module, so jit tests compile from scratch."""
    old = os.environ.get("FUNCTRANS_CACHE_DIR")
    os.environ["FUNCTRANS_CACHE_DIR"] = str(tmp_path_factory.mktemp("jit_cache"))
    yield
    if old is None:
        os.environ.pop("FUNCTRANS_CACHE_DIR", None)
    else:
        os.environ["FUNCTRANS_CACHE_DIR"] = old
