"""Write tests/data/jax_dtypes.json: the result dtype JAX (jax_enable_x64=True) gives for every
jax.numpy function that functrans.numpy also has, called on one or two arguments of every
dtype and Python scalar kind. tests/test_dtype_grid.py checks functrans against it.

Run where JAX is installed (it is not a dependency): python tools/gen_jax_dtype_reference.py
"""
import json
import os
import warnings

import numpy as np

import functrans.numpy as fnp

DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64", "complex64", "complex128"]
SCALARS = {"py_bool": True, "py_int": 2, "py_float": 2.5, "py_complex": 2 + 1j}
# Names whose arguments are not arrays of numbers (shapes, dtypes, callables, strings) or that
# are not array functions at all: calling them with arrays says nothing about promotion.
SKIP = {"array_equal", "array_equiv", "can_cast", "dtype", "finfo", "iinfo", "issubdtype",
        "promote_types", "result_type", "isdtype", "iscomplexobj", "isrealobj", "isscalar",
        "ndim", "shape", "size", "einsum", "einsum_path", "vectorize", "frompyfunc",
        "load", "save", "savez", "fromfile", "fromstring", "frombuffer", "fromfunction",
        "fromiter", "from_dlpack", "piecewise", "apply_along_axis", "apply_over_axes",
        "printoptions", "set_printoptions", "get_printoptions", "iterable", "ufunc",
        "array_repr", "array_str", "ones", "zeros", "empty", "full", "eye", "identity",
        "arange", "linspace", "logspace", "geomspace", "tri", "indices", "mask_indices",
        "tril_indices", "triu_indices", "diag_indices", "unravel_index", "ravel_multi_index",
        "broadcast_shapes", "set_printoptions", "bool_", "complex_", "float_", "int_",
        "uint", "ndarray", "generic", "number"}


def example(kind):
    if kind in SCALARS:
        return SCALARS[kind]
    return np.ones((2, 3), dtype=kind)


def result_dtype(f, *args):
    """The dtype f's result would have, from tracing alone (jax.eval_shape compiles nothing)."""
    import jax
    arrays = [a for a in args if not isinstance(a, (bool, int, float, complex))]
    positions = [i for i, a in enumerate(args) if not isinstance(a, (bool, int, float, complex))]

    def call(*arrs):
        full = list(args)
        for i, a in zip(positions, arrs):
            full[i] = a
        return f(*full)
    leaves = jax.tree_util.tree_leaves(jax.eval_shape(call, *arrays))
    if len(leaves) != 1 or not hasattr(leaves[0], "dtype"):
        return None
    return str(leaves[0].dtype)


def main():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    warnings.simplefilter("ignore")
    names = sorted(n for n in dir(fnp) if not n.startswith("_") and n not in SKIP
                   and hasattr(jnp, n) and callable(getattr(jnp, n))
                   and not isinstance(getattr(jnp, n), type))
    kinds = DTYPES + list(SCALARS)
    table = {}
    for name in names:
        f = getattr(jnp, name)
        unary, binary = {}, {}
        for a in kinds:
            try:
                d = result_dtype(f, example(a))
            except Exception:
                continue
            if d is not None:
                unary[a] = d
        for a in kinds:
            for b in kinds:
                try:
                    d = result_dtype(f, example(a), example(b))
                except Exception:
                    continue
                if d is not None:
                    binary[f"{a},{b}"] = d
        if unary or binary:
            table[name] = {"unary": unary, "binary": binary}
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "jax_dtypes.json")
    with open(path, "w") as fh:
        json.dump({"jax_version": jax.__version__, "functions": table}, fh, indent=0,
                  sort_keys=True)
    print(f"wrote {len(table)} functions to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
