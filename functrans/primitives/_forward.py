"""Primitive objects declared ahead of the family module that defines them.

The first-order families import one another in one order only: shape, then elementwise, then
reductions, then the others (contraction, indexing, ...), each importing only families before
it. A few rules of a lower family (and the helpers all families share) must nevertheless bind a
primitive of a higher one: shape's transposes sum with reduce_sum and subtract with sub, pad's
batching rule selects with select_n, dtype resolution converts with convert_element_type, and the
batch-axis helpers and zeros every family uses move and create axes with transpose and
broadcast_in_dim. Those primitives are created here, bare; the family module that owns each one
completes it with `define` and attaches every one of its rules beside it, so a primitive's whole
meaning still lives in its family module. Rules only run after the package has imported every
family, so a bare object is never bound.

(Ordering the families and forward-declaring six objects was chosen over moving rules out of
their primitive's module, or looking primitives up by name at run time.)
"""
from ..core.primitive import Primitive


def _bare(name):
    return Primitive(name, impl=None, shape_rule=None)


# Defined in shape.py.
broadcast_in_dim_p = _bare("broadcast_in_dim")
transpose_p = _bare("transpose")
# Defined in elementwise.py.
convert_element_type_p = _bare("convert_element_type")
select_n_p = _bare("select_n")
sub_p = _bare("sub")
# Defined in reductions.py.
reduce_sum_p = _bare("reduce_sum")


def define(prim, *, impl, shape_rule, jac_structure):
    """Give a primitive declared above what Primitive(...) would have received: called once,
    by the family module that owns it, right where its rules follow."""
    prim.impl, prim.shape_rule = impl, shape_rule
    prim.jac_structure = jac_structure
    return prim
