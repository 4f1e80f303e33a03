"""Test-wide settings. Under CI (the CI environment variable set) hypothesis is derandomized
and keeps no example database, so a run is reproducible; locally it explores new examples."""
import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))     # tests import their shared helpers by name

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
