"""einsum: Einstein summation, lowered to diagonals, sums, dot_general and a final transpose.

Each operand first loses its repeated labels (a diagonal per repeat: "ii" -> "i") and the
labels no other operand and not the output use (summed). Operands are then contracted left to
right with one dot_general each: shared labels still needed later are batch dimensions, the
others are contracted. A transpose puts the output labels in order. An ellipsis stands for the
same broadcast dimensions in every operand; a size-1 dimension meeting a larger one broadcasts
(the operand is constant along it, so the dimension is dropped).
"""
import string

import numpy as np

from .. import lax
from ._promotion import asarray, dtype_of, promote, shape_of
from .creation import asarray as with_dtype
from .reductions import sum as sum_
from .shaping import diagonal

__all__ = ["einsum"]

_LETTERS = string.ascii_letters


def einsum(subscripts, *operands, dtype=None, optimize=None):
    """Evaluate the Einstein summation convention on the operands, e.g. einsum("ij,jk->ik", a,
    b) is a matrix product; without "->" the output holds the labels that appear once, in
    alphabetical order. `optimize` is accepted and ignored: operands are contracted left to
    right."""
    if not isinstance(subscripts, str):
        subscripts, operands = _from_operand_lists((subscripts,) + operands)
    if not operands:
        raise ValueError("fnp.einsum: needs at least one operand")
    ops = [asarray(x, "einsum") for x in operands]
    ops = promote(*(np.asarray(x) if not hasattr(x, "shape") else x for x in ops))
    if dtype is not None:
        ops = [with_dtype(x, dtype) for x in ops]
    inputs, output = _parse(subscripts.replace(" ", ""), [shape_of(x) for x in ops])

    sizes = {}
    for labels, x in zip(inputs, ops):
        for c, n in zip(labels, shape_of(x)):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ValueError(f"fnp.einsum: size of label {c!r} is {sizes[c]} in one operand "
                                 f"and {n} in another")
            sizes[c] = max(sizes.get(c, 1), n)

    terms = []
    for k, (labels, x) in enumerate(zip(inputs, ops)):
        labels = list(labels)
        # A size-1 axis where the label is larger elsewhere broadcasts: drop it.
        drop = [i for i, c in enumerate(labels) if shape_of(x)[i] == 1 and sizes[c] > 1]
        if drop:
            x = lax.reshape(x, tuple(n for i, n in enumerate(shape_of(x)) if i not in drop))
            labels = [c for i, c in enumerate(labels) if i not in drop]
        # Repeated labels: the diagonal, which diagonal() puts last.
        while len(set(labels)) != len(labels):
            c = next(c for c in labels if labels.count(c) > 1)
            i = labels.index(c)
            j = labels.index(c, i + 1)
            if shape_of(x)[i] != shape_of(x)[j]:
                raise ValueError(f"fnp.einsum: repeated label {c!r} of operand {k} needs equal "
                                 f"sizes, got {shape_of(x)[i]} and {shape_of(x)[j]}")
            x = diagonal(x, 0, i, j)
            labels = [e for n, e in enumerate(labels) if n not in (i, j)] + [c]
        elsewhere = set(output).union(*(set(s) for n, s in enumerate(inputs) if n != k))
        summed = [i for i, c in enumerate(labels) if c not in elsewhere]
        if summed:
            x = sum_(x, axis=tuple(summed), dtype=dtype_of(x))   # numpy keeps the dtype
            labels = [c for i, c in enumerate(labels) if i not in summed]
        terms.append((labels, x))

    labels, x = terms[0]
    for k, (other_labels, y) in enumerate(terms[1:], start=1):
        later = set(output).union(*(set(t[0]) for t in terms[k + 1:]))
        shared = [c for c in labels if c in other_labels]
        batch = [c for c in shared if c in later]
        contract = [c for c in shared if c not in later]
        x = lax.dot_general(x, y, ((tuple(labels.index(c) for c in contract),
                                    tuple(other_labels.index(c) for c in contract)),
                                   (tuple(labels.index(c) for c in batch),
                                    tuple(other_labels.index(c) for c in batch))))
        labels = batch + [c for c in labels if c not in shared] + \
            [c for c in other_labels if c not in shared]
    # Labels of the output that every operand broadcast (all size 1) were dropped: restore.
    missing = [c for c in output if c not in labels]
    if missing:
        x = lax.reshape(x, shape_of(x) + (1,) * len(missing))
        labels = labels + missing
    perm = tuple(labels.index(c) for c in output)
    return lax.transpose(x, perm) if perm != tuple(range(len(perm))) else x


def _from_operand_lists(args):
    """numpy's other form, einsum(a, [0, 1], b, [1, 2], [0, 2]): operands each followed by a
    list of integer labels (or Ellipsis), then optionally the output's list. Returns the
    equivalent subscripts string and the operands."""
    pairs, output = list(args), None
    if len(pairs) % 2 == 1:
        output = pairs.pop()
    operands, terms = pairs[0::2], pairs[1::2]

    def letters(sublist):
        out = []
        for label in sublist:
            if label is Ellipsis:
                out.append("...")
                continue
            try:
                k = int(label)
            except (TypeError, ValueError):
                raise TypeError(f"fnp.einsum: subscript lists hold integers in [0, 52) or "
                                f"Ellipsis, got {label!r}") from None
            if not 0 <= k < len(_LETTERS):
                raise ValueError(f"fnp.einsum: subscript {k} is out of range [0, 52)")
            out.append(_LETTERS[k])
        return "".join(out)
    if any(isinstance(t, str) or not hasattr(t, "__iter__") for t in terms):
        raise TypeError("fnp.einsum: give subscripts as a string ('ij,jk->ik', a, b) or as "
                        "lists after each operand (a, [0, 1], b, [1, 2])")
    subscripts = ",".join(letters(t) for t in terms)
    if output is not None:
        subscripts += "->" + letters(output)
    return subscripts, tuple(operands)


def _parse(subscripts, shapes):
    """(input label strings, output label string) with every ellipsis replaced by labels of its
    own, aligned from the right across operands as broadcasting aligns dimensions."""
    if "->" in subscripts:
        lhs, output = subscripts.split("->")
        if "->" in output:
            raise ValueError("fnp.einsum: subscripts may contain '->' only once")
    else:
        lhs, output = subscripts, None
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"fnp.einsum: {len(inputs)} operand subscripts for {len(shapes)} "
                         "operands")
    used = set(subscripts) - set(".,->")
    bad = [c for c in used if c not in _LETTERS]
    if bad:
        raise ValueError(f"fnp.einsum: invalid subscript {bad[0]!r}: labels must be letters")
    spare = [c for c in _LETTERS if c not in used]
    n_ellipsis = 0
    for spec, shape in zip(inputs, shapes):
        if "..." in spec:
            n_ellipsis = max(n_ellipsis, len(shape) - len(spec.replace("...", "")))
    ellipsis_labels = "".join(spare[:n_ellipsis])
    expanded = []
    for spec, shape in zip(inputs, shapes):
        if spec.count("...") > 1 or "." in spec.replace("...", ""):
            raise ValueError(f"fnp.einsum: invalid subscripts {spec!r}")
        if "..." in spec:
            n = len(shape) - len(spec.replace("...", ""))
            spec = spec.replace("...", ellipsis_labels[n_ellipsis - n:] if n else "")
        if len(spec) != len(shape):
            raise ValueError(f"fnp.einsum: subscripts {spec!r} do not match an operand of rank "
                             f"{len(shape)}")
        expanded.append(spec)
    if output is None:
        counts = {}
        for spec in expanded:
            for c in spec:
                counts[c] = counts.get(c, 0) + 1
        singles = sorted(c for c, n in counts.items() if n == 1 and c not in ellipsis_labels)
        output = ellipsis_labels + "".join(singles)
    else:
        if output.count("...") > 1 or "." in output.replace("...", ""):
            raise ValueError(f"fnp.einsum: invalid output subscripts {output!r}")
        if ellipsis_labels and "..." not in output:
            raise ValueError("fnp.einsum: the inputs have dimensions under '...' but the "
                             "output has no '...' to put them in")
        output = output.replace("...", ellipsis_labels)
        if len(set(output)) != len(output):
            raise ValueError(f"fnp.einsum: output subscripts {output!r} repeat a label")
        present = set("".join(expanded))
        absent = [c for c in output if c not in present]
        if absent:
            raise ValueError(f"fnp.einsum: output label {absent[0]!r} does not appear in the "
                             "inputs")
    return expanded, output
