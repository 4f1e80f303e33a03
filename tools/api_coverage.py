"""Build docs/api-coverage.md: JAX's public names (docs/jax_names.json) against functrans's.

    python tools/api_coverage.py > docs/api-coverage.md

tests/test_api_coverage.py regenerates the page and fails if the committed one differs, so the
page stays true as functions are added. The name list comes from tools/refresh_jax_names.py
(run where JAX is installed). Coverage of jax.numpy is reported over all of its functions and
over its *differentiable* functions: the ones whose outputs are floating-point values of
floating-point inputs (NOT_DIFFERENTIABLE lists the others: predicates, index/integer results,
dtype and I/O utilities).
"""
import importlib
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAMES = ROOT / "docs" / "jax_names.json"

TARGETS = {"jax.numpy": "functrans.numpy", "jax.numpy.linalg": "functrans.numpy.linalg",
           "jax.numpy.fft": "functrans.numpy.fft", "jax.scipy.special": "functrans.scipy.special",
           "jax.scipy.linalg": "functrans.scipy.linalg", "jax.scipy.stats": "functrans.scipy.stats",
           "jax.nn": "functrans.nn"}

# jax.numpy functions with integer, boolean or non-array results, or about dtypes, printing and
# I/O: present or not, they have no derivative to cover.
NOT_DIFFERENTIABLE = set("""
all allclose any argmax argmin argpartition argsort argwhere array_equal array_equiv
array_repr array_str bincount bitwise_and bitwise_count bitwise_invert bitwise_left_shift
bitwise_not bitwise_or bitwise_right_shift bitwise_xor can_cast count_nonzero diag_indices
diag_indices_from digitize equal flatnonzero from_dlpack frombuffer fromfile fromiter
frompyfunc fromstring gcd get_printoptions greater greater_equal histogram_bin_edges indices
invert isclose iscomplex iscomplexobj isdtype isfinite isin isinf isnan isneginf isposinf
isreal isrealobj isscalar issubdtype iterable lcm left_shift less less_equal lexsort load
logical_and logical_not logical_or logical_xor mask_indices nanargmax nanargmin ndim nonzero
not_equal packbits printoptions promote_types ravel_multi_index result_type right_shift save
savez searchsorted set_printoptions shape signbit size tril_indices tril_indices_from
triu_indices triu_indices_from unpackbits unravel_index einsum_path
""".split())

# Names functrans leaves out on purpose, with the reason shown on the page.
OMITTED = {
    "jax.numpy": {
        "load": "file I/O: use numpy.load and fnp.asarray",
        "save": "file I/O: use numpy.save", "savez": "file I/O: use numpy.savez",
        "fromfile": "file I/O: use numpy.fromfile", "frombuffer": "buffers: use numpy",
        "fromstring": "parsing: use numpy", "fromiter": "iterators: use numpy.fromiter",
        "from_dlpack": "DLPack exchange: numpy arrays are the interchange format",
        "frompyfunc": "jnp.ufunc objects are not provided (use fnp.vectorize)",
        "ufunc": "jnp.ufunc objects are not provided (use fnp.vectorize)",
        "get_printoptions": "printing is numpy's (use numpy.get_printoptions)",
        "set_printoptions": "printing is numpy's", "printoptions": "printing is numpy's",
        "array_repr": "printing is numpy's", "array_str": "printing is numpy's",
        "packbits": "bit packing: not provided", "unpackbits": "bit packing: not provided",
        "bitwise_count": "population count: not provided",
        "mask_indices": "takes a mask function of arrays: use fnp.nonzero on the mask",
        "einsum_path": "einsum contracts left to right; no path optimizer",
        "ComplexWarning": "a warning class", "bfloat16": "dtype not supported by numpy/Numba",
        "float4_e2m1fn": "ML float format not supported", "float6_e2m3fn":
        "ML float format not supported", "float6_e3m2fn": "ML float format not supported",
        "float8_e3m4": "ML float format not supported", "float8_e4m3":
        "ML float format not supported", "float8_e4m3b11fnuz": "ML float format not supported",
        "float8_e4m3fn": "ML float format not supported", "float8_e4m3fnuz":
        "ML float format not supported", "float8_e5m2": "ML float format not supported",
        "float8_e5m2fnuz": "ML float format not supported", "float8_e8m0fnu":
        "ML float format not supported", "int1": "sub-byte integers not supported",
        "int2": "sub-byte integers not supported", "int4": "sub-byte integers not supported",
        "uint1": "sub-byte integers not supported", "uint2": "sub-byte integers not supported",
        "uint4": "sub-byte integers not supported", "object_": "object arrays not supported",
        "flexible": "string/void dtypes not supported", "character":
        "string dtypes not supported",
    },
    "jax.scipy.special": {
        "wofz": "complex Faddeeva function: complex-valued special functions not provided",
        "sph_harm_y": "spherical harmonics: not provided",
    },
    "jax.scipy.stats": {
        "gaussian_kde": "a kernel density estimator class: not provided (write the sum of "
                        "norm.pdf terms)",
    },
    "jax.scipy.stats.poisson": {
        "entropy": "an infinite series: not provided",
    },
    "jax.nn": {
        "get_scaled_dot_general_config": "microscaled (MX) quantized matmul: accelerator-only",
        "scaled_dot_general": "microscaled (MX) quantized matmul: accelerator-only",
        "scaled_matmul": "microscaled (MX) quantized matmul: accelerator-only",
    },
}


def _target(namespace):
    if namespace.startswith("jax.scipy.stats."):
        return "functrans.scipy.stats." + namespace.rsplit(".", 1)[1]
    return TARGETS[namespace]


def _present(module, name):
    return module is not None and hasattr(module, name)


def _module(path):
    try:
        return importlib.import_module(path)
    except ImportError:
        return None


def coverage(table=None):
    """{namespace: [(name, kind, present, note)]} and the jax.numpy summary numbers."""
    table = table or json.loads(NAMES.read_text())
    rows = {}
    for ns, names in table["namespaces"].items():
        mod = _module(_target(ns))
        out = []
        for name, kind in sorted(names.items()):
            present = _present(mod, name)
            note = "" if present else OMITTED.get(ns, {}).get(name, "")
            out.append((name, kind, present, note))
        rows[ns] = out
    return table["jax_version"], rows


def _pct(a, b):
    return f"{100 * a / b:.1f}%" if b else "-"


def markdown():
    version, rows = coverage()
    numpy_fns = [r for r in rows["jax.numpy"] if r[1] == "function"]
    diff = [r for r in numpy_fns if r[0] not in NOT_DIFFERENTIABLE]
    lines = ["# API coverage against JAX", "",
             f"JAX's public names (JAX {version}, from `docs/jax_names.json`, refreshed by "
             "`python tools/refresh_jax_names.py`) against functrans's. Generated by "
             "`python tools/api_coverage.py > docs/api-coverage.md`; "
             "`tests/test_api_coverage.py` keeps it true.", "",
             "## Summary", "",
             "| JAX namespace | functrans | names | present | functions | functions present |",
             "| --- | --- | --- | --- | --- | --- |"]
    for ns, rs in rows.items():
        fns = [r for r in rs if r[1] == "function"]
        lines.append(f"| `{ns}` | `{_target(ns)}` | {len(rs)} | "
                     f"{sum(r[2] for r in rs)} ({_pct(sum(r[2] for r in rs), len(rs))}) | "
                     f"{len(fns)} | {sum(r[2] for r in fns)} "
                     f"({_pct(sum(r[2] for r in fns), len(fns))}) |")
    n_diff = sum(r[2] for r in diff)
    lines += ["", f"**jax.numpy's differentiable functions: {n_diff} of {len(diff)} present "
              f"({_pct(n_diff, len(diff))}).** All of jax.numpy's functions: "
              f"{sum(r[2] for r in numpy_fns)} of {len(numpy_fns)} "
              f"({_pct(sum(r[2] for r in numpy_fns), len(numpy_fns))}). A function counts as "
              "differentiable unless its result is boolean, integer or index-valued, or it is a "
              "dtype, printing or I/O utility (`NOT_DIFFERENTIABLE` in tools/api_coverage.py).",
              ""]
    for ns, rs in rows.items():
        missing = [r for r in rs if not r[2]]
        lines += [f"## `{ns}`", ""]
        if not missing:
            lines += [f"Every name is present in `{_target(ns)}`.", ""]
        else:
            lines += ["| missing name | kind | reason |", "| --- | --- | --- |"]
            for name, kind, _, note in missing:
                lines.append(f"| `{name}` | {kind} | {note or 'not yet implemented'} |")
            lines.append("")
        present = [f"`{r[0]}`" for r in rs if r[2]]
        if present:
            lines += [f"Present ({len(present)}): " + ", ".join(present), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
