"""The README's main example: trains to >= 95% test accuracy with a jit-compiled step."""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_example():
    spec = importlib.util.spec_from_file_location("train_digits",
                                                  ROOT / "examples" / "train_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_digits_reaches_95_percent(tmp_path, capsys):
    results = load_example().main(["--plot", str(tmp_path / "loss.png")])
    out = capsys.readouterr().out
    accuracies = {name: acc for name, (acc, _, _) in results.items()}
    assert all(acc >= 0.95 for acc in accuracies.values()), accuracies
    assert (tmp_path / "loss.png").stat().st_size > 10_000
    assert "steps/s" in out and "choice: rev" in out and "first call of the training step" in out
