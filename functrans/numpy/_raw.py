"""`raw`: functrans.numpy's functions without the user-facing result wrapper (_outputs.py), for
the fnp modules that are built from other fnp functions (extras, statistics, polynomial, fft,
functrans.scipy): internal calls skip the wrapper, as the rest of fnp's internal calls do."""
import functools


class _Raw:
    def __getattr__(self, name):
        from .. import numpy as fnp
        obj = getattr(fnp, name)
        obj = getattr(obj, "__wrapped_fnp__", obj)
        if name in ("linalg", "fft"):
            obj = _RawModule(obj)
        setattr(self, name, obj)        # resolved once
        return obj


class _RawModule:
    def __init__(self, module):
        self._module = module

    @functools.lru_cache(maxsize=None)
    def __getattr__(self, name):
        obj = getattr(self._module, name)
        return getattr(obj, "__wrapped_fnp__", obj)


raw = _Raw()
