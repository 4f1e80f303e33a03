"""How the core reaches functrans.numpy without importing upward.

functrans.numpy gives traced values and Arrays their operators and methods (numpy/_tracer_methods,
core/array.install_numpy_api). `import functrans` loads its modules on first use, so a program
may start a transform or compute with an Array before anything imported functrans.numpy (for
example after `from functrans.transforms.reverse import grad`). functrans/__init__.py sets
`load` to a function that imports it; the core calls `ensure()` where it needs the operators:
when a transform starts (core/trace.new_main) and when an Array operator finds no namespace."""

load = None


def ensure():
    if load is not None:
        load()
