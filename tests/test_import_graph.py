"""The module import graph, counting imports inside functions, is acyclic, and its layers only
import downward (docs/architecture.md, "Layers"). tools/import_graph.py prints the offending
edges with line numbers."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tools"))
from import_graph import cycles, import_graph  # noqa: E402

GRAPH = import_graph()


def _edges_from(prefix):
    return [(v, w, [line for line, _ in sites])
            for v, targets in sorted(GRAPH.items()) if v == prefix or v.startswith(prefix + ".")
            for w, sites in sorted(targets.items())]


def test_the_graph_covers_the_package():
    assert len(GRAPH) > 100
    assert "functrans.core.trace" in GRAPH["functrans.core.staging"]
    lazy = [w for w, sites in GRAPH["functrans.backend"].items() if any(f for _, f in sites)]
    assert lazy, "imports inside functions must be counted"


def test_no_import_cycles():
    found = cycles(GRAPH)
    assert not found, "import cycles (run tools/import_graph.py for the edges):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_core_imports_nothing_outside_core():
    bad = [e for e in _edges_from("functrans.core") if not e[1].startswith("functrans.core")]
    assert not bad, bad


def test_the_lowering_vocabulary_sits_below_the_primitives():
    bad = [e for e in _edges_from("functrans.backend.lowering")
           if not e[1].startswith("functrans.core")]
    assert not bad, bad


def test_primitives_import_no_api_module():
    api = ("functrans.numpy", "functrans.scipy", "functrans.lax", "functrans.nn",
           "functrans.optim", "functrans.example_libraries")
    bad = [e for e in _edges_from("functrans.primitives")
           if e[1] == "functrans" or e[1].startswith(api)]
    assert not bad, bad


def test_import_functrans_loads_neither_numba_nor_scipy():
    """Numba (about 0.3 s to import) loads on the first compile and scipy on first use: a
    script that only differentiates never pays for them."""
    import subprocess
    code = ("import sys, functrans, functrans.numpy as fnp; functrans.grad(fnp.sin)(1.0); "
            "print(sorted(m for m in ('numba', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=pathlib.Path(__file__).resolve().parent.parent, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
