"""docs/api-coverage.md is generated from docs/jax_names.json and functrans's namespaces: it
must match what tools/api_coverage.py produces now (regenerate it with
`python tools/api_coverage.py > docs/api-coverage.md` after adding functions)."""
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import api_coverage  # noqa: E402


def test_coverage_page_is_current():
    page = (ROOT / "docs" / "api-coverage.md").read_text()
    assert page == api_coverage.markdown(), (
        "docs/api-coverage.md is stale: run `python tools/api_coverage.py > "
        "docs/api-coverage.md`")


def test_jax_numpy_differentiable_coverage_target():
    _, rows = api_coverage.coverage()
    fns = [r for r in rows["jax.numpy"] if r[1] == "function"
           and r[0] not in api_coverage.NOT_DIFFERENTIABLE]
    present = sum(r[2] for r in fns)
    assert present / len(fns) >= 0.9, f"{present} of {len(fns)} differentiable functions"


def test_omissions_name_real_jax_names_and_are_absent():
    table = json.loads(api_coverage.NAMES.read_text())
    _, rows = api_coverage.coverage(table)
    for ns, omitted in api_coverage.OMITTED.items():
        present = {name for name, _, p, _ in rows[ns] if p}
        for name in omitted:
            assert name in table["namespaces"][ns], f"{ns}.{name} is not a JAX name"
            assert name not in present, f"{ns}.{name} is listed as omitted but exists"


def test_name_list_matches_installed_jax():
    jax = pytest.importorskip("jax")
    table = json.loads(api_coverage.NAMES.read_text())
    if table["jax_version"] != jax.__version__:
        pytest.skip(f"name list is from JAX {table['jax_version']}, installed "
                    f"{jax.__version__}: refresh with tools/refresh_jax_names.py")
    import jax.numpy as jnp
    assert set(table["namespaces"]["jax.numpy"]) == {n for n in dir(jnp)
                                                     if not n.startswith("_")}
