"""Control-flow primitives (cond, while_loop, scan) carry sub-programs in their params, so the
registry-driven harness cannot draw them from arrays alone; test_primitive_rules.py skips them
by name and tests/test_control_flow.py checks every rule against Python-loop references."""

STRATEGIES = {}
