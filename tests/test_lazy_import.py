"""`import functrans` loads its modules on first use (functrans/__init__.py, PEP 562). Checked
in fresh processes, by the set of modules loaded (no timing): the bare import loads neither
numpy, Numba nor scipy; each public name resolves to the object its module defines; traced
values and Arrays have their operators whichever module a program imports first."""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_functrans_loads_only_the_settings():
    mods = _run("import sys, json, functrans; "
                "print(json.dumps(sorted(m for m in sys.modules if m.startswith('functrans') "
                "or m.split('.')[0] in ('numpy', 'numba', 'scipy'))))")
    assert mods == ["functrans", "functrans._version", "functrans.config", "functrans.core",
                    "functrans.core.api_loader", "functrans.core.config"], mods


def test_grad_and_numpy_load_neither_numba_nor_scipy_nor_the_cost_model():
    mods = _run("import sys, json, functrans as ft, functrans.numpy as fnp; "
                "print(ft.grad(lambda x: fnp.sum(fnp.sin(x) * 2.0))(fnp.ones(3)).sum(), "
                "file=sys.stderr); "
                "print(json.dumps(sorted(m for m in sys.modules)))")
    for heavy in ("numba", "scipy", "functrans.cost", "functrans.transforms.cost_model",
                  "functrans.scipy", "functrans.example_libraries"):
        assert heavy not in mods, heavy


def test_every_public_name_resolves_lazily_to_its_module_object():
    code = """
import importlib, json, functrans
names = {}
for name in functrans.__all__:
    value = getattr(functrans, name)
    if name in functrans._LAZY:
        module, attribute = functrans._LAZY[name]
        same = value is getattr(importlib.import_module("functrans." + module), attribute)
    elif name in functrans._SUBMODULES:
        same = value is importlib.import_module("functrans." + name)
    else:
        same = value is not None
    names[name] = same
print(json.dumps([sorted(names), all(names.values()),
                  set(functrans.__all__) | {"load_everything"} <= set(dir(functrans))]))
"""
    names, same, dir_ok = _run(code)
    assert same and dir_ok
    for name in ("grad", "jit", "vmap", "numpy", "lax", "scipy", "Array", "config", "cost",
                 "primitive_registry", "hessian", "pmap", "example_libraries"):
        assert name in names


def test_unknown_attribute_raises_attribute_error():
    assert _run("import json, functrans; print(json.dumps(hasattr(functrans, 'no_such_name')))") \
        is False


def test_operators_work_whichever_module_is_imported_first():
    # Tracers: a transform imported from its module; Arrays: functrans.random alone.
    out = _run("import json; from functrans.transforms.reverse import grad; "
               "print(json.dumps(float(grad(lambda x: x * 2.0 + x ** 2)(1.0))))")
    assert out == 4.0
    out = _run("import json; import functrans.random as r; "
               "k = r.PRNGKey(0); x = r.uniform(k, (3,)); "
               "print(json.dumps(bool(((x + 1) - 1 == x).all())))")
    assert out is True


def test_primitive_registry_is_complete_when_asked_for():
    """ft.primitive_registry loads every module that declares primitives, as the eager import
    did: the same table as after loading everything explicitly."""
    code = """
import json, functrans
n = len(functrans.primitive_registry)
functrans.load_everything()
names = sorted(functrans.primitive_registry)
print(json.dumps([n, names]))
"""
    n, names = _run(code)
    assert n == len(names)
    for name in ("add", "dot_general", "scan", "while_loop", "cond", "custom_jvp_call",
                 "debug_callback", "psum", "fft", "conv_general_dilated"):
        assert name in names, name
