"""examples/cnn_digits.py in its --quick setting: the jitted CNN step trains (the full run,
30 epochs, reaches 98.3% test accuracy; see docs/convolutions.md)."""
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytest.importorskip("sklearn")


def test_cnn_digits_quick_trains(capsys):
    spec = importlib.util.spec_from_file_location("cnn_digits", ROOT / "examples" / "cnn_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    history = module.main(["--quick"])
    assert len(history) == 3
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["test"] >= 0.85
    assert "epoch   3" in capsys.readouterr().out
