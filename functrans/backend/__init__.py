"""The Numba backend of jit: flatten -> fuse -> generate kernels and a driver -> compile.

    lowering.py   the kinds of lowering rule a primitive declares, and its simplification
                  rules (imported by the primitive modules: it depends on functrans.core alone)
    loop_lowering.py
                  the loop lowerings primitives declare: their code inside a compiled loop
    flatten.py    inline sub-program calls, apply the primitives' simplifications, drop dead
                  equations
    fusion.py     group elementwise work into loop nests; schedule the rest
    kernels.py    a fused group as the source of a small Numba function
    cache.py      compiled kernels in memory and on disk (FUNCTRANS_CACHE_DIR; cache_dir.py
                  finds that directory without importing Numba)
    codegen.py    the Python driver that calls kernels, BLAS and numpy; compile statistics
    loops.py      a scan or while_loop (with the loops and conds in its body) as one njit
                  function
    loop_scalars.py
                  small arrays inside compiled loops as scalar variables
    executables.py
                  compiled programs in memory; jit's calls on numpy and background compiles
    numpy_run.py  a program on numpy as generated Python (loops as Python loops)
    compile_worker.py, compile_server.py
                  the background compile's worker process: its client and its loop

The modules that import Numba load on first use, so importing functrans.lax stays cheap.
"""
import importlib

_LAZY = {
    "KERNELS": ".cache", "default_cache_dir": ".cache_dir",
    "CompileStats": ".codegen", "Executable": ".codegen", "compile_program": ".codegen",
    "LoweringError": ".flatten",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'functrans.backend' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def clear_kernel_cache(disk=True):
    from .cache import KERNELS
    KERNELS.clear(disk=disk)


__all__ = ["KERNELS", "CompileStats", "Executable", "LoweringError", "compile_program",
           "default_cache_dir", "install_lowerings", "clear_kernel_cache"]
