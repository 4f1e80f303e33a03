"""Refresh docs/jax_names.json: the public names of the JAX namespaces that functrans mirrors.

    python tools/refresh_jax_names.py

Needs JAX installed (it is not a functrans dependency); the JSON it writes is committed, so the
coverage page (docs/api-coverage.md, built by tools/api_coverage.py and checked by
tests/test_api_coverage.py) needs no JAX. Each name is recorded with its kind: "function"
(callables that are not classes), "type" (classes, dtypes), "module" or "constant".
"""
import importlib
import inspect
import json
import pathlib
import sys

NAMESPACES = ["jax.numpy", "jax.numpy.linalg", "jax.numpy.fft", "jax.scipy.special",
              "jax.scipy.linalg", "jax.scipy.stats", "jax.nn"]
OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "jax_names.json"


def kind(obj):
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "type"
    if callable(obj):
        # dtype scalar types of jax.numpy (jnp.float32 ...) are callable classes-like objects
        if type(obj).__name__ in ("_ScalarMeta",) or hasattr(obj, "dtype") and \
                not inspect.isfunction(obj) and not hasattr(obj, "__wrapped__"):
            return "type"
        return "function"
    return "constant"


def names_of(module_name):
    mod = importlib.import_module(module_name)
    out = {}
    for name in sorted(dir(mod)):
        if name.startswith("_"):
            continue
        out[name] = kind(getattr(mod, name))
    return out


def main():
    import jax
    table = {"jax_version": jax.__version__, "namespaces": {}}
    for ns in NAMESPACES:
        table["namespaces"][ns] = names_of(ns)
    stats = importlib.import_module("jax.scipy.stats")
    for name, k in table["namespaces"]["jax.scipy.stats"].items():
        if k == "module":
            table["namespaces"][f"jax.scipy.stats.{name}"] = names_of(f"jax.scipy.stats.{name}")
    del stats
    OUT.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    total = sum(len(v) for v in table["namespaces"].values())
    print(f"wrote {OUT} ({total} names, JAX {jax.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
