"""Every Python code block in README.md and docs/ runs (blocks of one page share a namespace,
in order, as a reader would run them)."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # examples that write files write them here
    namespace = {"__name__": f"doc_{page.stem}"}
    for i, block in enumerate(BLOCK.findall(page.read_text())):
        try:
            exec(compile(block, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as e:  # noqa: BLE001 - report which block failed
            raise AssertionError(f"{page.name}, code block {i} failed: {e!r}\n{block}") from e


def test_primitive_table_is_generated_from_the_registry():
    from functrans.primitive_docs import primitive_table_markdown
    page = (ROOT / "docs" / "primitives.md").read_text()
    assert page == primitive_table_markdown(), \
        "docs/primitives.md is stale: run `python -m functrans.primitive_docs > docs/primitives.md`"


def test_docs_build_strictly(tmp_path):
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                             str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
