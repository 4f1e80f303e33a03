"""functrans.tree (jax.tree's short names) and the tree_util registration helpers, written from
the descriptions in JAX's pytree documentation; numbers checked against hand-computed values."""
import dataclasses

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import tree, tree_util as tu


def test_short_names_agree_with_tree_util():
    t = {"b": [1, 2], "a": (3, None, {"z": 4})}
    leaves, td = tree.flatten(t)
    assert leaves == [3, 4, 1, 2]
    assert tree.leaves(t) == leaves and tree.structure(t) == td
    assert tree.unflatten(td, [10, 20, 30, 40]) == {"b": [30, 40], "a": (10, None, {"z": 20})}
    assert tree.map(lambda x, y: x * y, t, t) == {"b": [1, 4], "a": (9, None, {"z": 16})}
    assert tree.reduce(lambda a, b: a - b, t) == ((3 - 4) - 1) - 2  # a left fold in leaf order
    assert tree.reduce(lambda a, b: a + b, t, 100) == 110
    assert tree.all([1, (True, 2.0)]) and not tree.all([1, (0, 2.0)])
    paths = [tu.keystr(p) for p, _ in tree.leaves_with_path(t)]
    assert paths == ["['a'][0]", "['a'][2]['z']", "['b'][0]", "['b'][1]"]
    pairs, td2 = tree.flatten_with_path(t)
    assert td2 == td and [v for _, v in pairs] == leaves
    assert tree.map_with_path(lambda p, x: tu.keystr(p, simple=True, separator="/") + f"={x}", [5, {"k": 6}]) \
        == ["0=5", {"k": "1/k=6"}]


def test_transpose_list_of_dicts():
    outer = tree.structure([0, 0, 0])
    inner = tree.structure({"x": 0, "y": 0})
    rows = [{"x": i, "y": 10 * i} for i in range(3)]
    assert tree.transpose(outer, inner, rows) == {"x": [0, 1, 2], "y": [0, 10, 20]}
    assert tree.transpose(outer, None, rows) == {"x": [0, 1, 2], "y": [0, 10, 20]}


def test_broadcast_repeats_prefix_leaves():
    assert tree.broadcast([1, [2, 3]], [(4, 5), [6, [7, 8]]]) == [(1, 1), [2, [3, 3]]]
    assert tree.broadcast(7, {"a": [0, 0], "b": None}) == {"a": [7, 7], "b": None}
    with pytest.raises(ValueError, match="mismatch"):
        tree.broadcast([1, 2], [1, 2, 3])


def test_reduce_associative_balanced_and_empty():
    calls = []

    def cat(a, b):
        calls.append((a, b))
        return a + b

    assert tree.reduce_associative(cat, ["a", "b", "c", "d", "e"]) == "abcde"
    # Pairwise: (ab)(cd) e -> (abcd) e -> abcde: 4 calls, the first pairs disjoint.
    assert calls[:2] == [("a", "b"), ("c", "d")] and len(calls) == 4
    assert tree.reduce_associative(cat, [], identity="") == ""
    with pytest.raises(TypeError, match="identity"):
        tree.reduce_associative(cat, [])


class Affine:
    """y = w * x + b with a static name, registered through its own methods."""

    def __init__(self, w, b, name):
        self.w, self.b, self.name = w, b, name

    def tree_flatten(self):
        return (self.w, self.b), self.name

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children, aux)

    def __call__(self, x):
        return self.w * x + self.b


tu.register_pytree_node_class(Affine)


def test_register_pytree_node_class_under_grad_jit_vmap():
    m = Affine(np.array([1.0, 2.0]), np.array(0.5), "layer")
    x = np.array([3.0, -1.0])
    loss = lambda m, x: fnp.sum(m(x) ** 2)
    g = ft.grad(loss)(m, x)
    assert isinstance(g, Affine) and g.name == "layer"
    y = m.w * x + m.b
    np.testing.assert_allclose(g.w, 2 * y * x)
    np.testing.assert_allclose(g.b, np.sum(2 * y))
    gj = ft.jit(ft.grad(loss))(m, x)
    np.testing.assert_allclose(gj.w, g.w)
    ms = Affine(np.stack([m.w, 2 * m.w]), np.array([0.5, 1.0]), "layer")
    out = ft.vmap(lambda m: m(x))(ms)
    np.testing.assert_allclose(out, [m.w * x + 0.5, 2 * m.w * x + 1.0])
    assert tree.structure(m) != tree.structure(Affine(1.0, 2.0, "other"))


@tu.register_dataclass
@dataclasses.dataclass
class Params:
    w: np.ndarray
    scale: float = dataclasses.field(metadata=dict(static=True))


def test_register_dataclass_with_jit_retraces_on_static_field():
    traces = []

    @ft.jit
    def f(p):
        traces.append(1)
        return p.w * p.scale

    np.testing.assert_allclose(f(Params(np.ones(2), 2.0)), [2.0, 2.0])
    np.testing.assert_allclose(f(Params(np.ones(2) * 3, 2.0)), [6.0, 6.0])
    assert len(traces) == 1
    np.testing.assert_allclose(f(Params(np.ones(2), 5.0)), [5.0, 5.0])
    assert len(traces) == 2
    assert [tu.keystr(p) for p, _ in tree.leaves_with_path(Params(1.0, 2.0))] == [".w"]


class Config:
    """A node whose aux data is a dict: unhashable, compared by ==."""

    def __init__(self, x, opts):
        self.x, self.opts = x, opts


tu.register_pytree_node(Config, lambda c: ((c.x,), c.opts), lambda opts, kids: Config(kids[0], opts))


def test_unhashable_aux_data_works_with_jit():
    traces = []

    @ft.jit
    def f(c):
        traces.append(1)
        return c.x * c.opts["scale"] + (1.0 if c.opts["shift"] else 0.0)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(f(Config(x, {"scale": 3.0, "shift": False})), [3.0, 6.0])
    # An equal (not identical) dict reuses the compiled program.
    np.testing.assert_allclose(f(Config(x + 1, {"shift": False, "scale": 3.0})), [6.0, 9.0])
    assert len(traces) == 1
    np.testing.assert_allclose(f(Config(x, {"scale": 3.0, "shift": True})), [4.0, 7.0])
    assert len(traces) == 2
    td1 = tree.structure(Config(0, {"a": [1]}))
    td2 = tree.structure(Config(0, {"a": [1]}))
    assert td1 == td2 and hash(td1) == hash(td2)
    assert td1 != tree.structure(Config(0, {"a": [2]}))
    g = ft.grad(lambda c: fnp.sum(c.x ** 2) * c.opts["scale"])(Config(x, {"scale": 2.0}))
    np.testing.assert_allclose(g.x, 4 * x)
    assert g.opts == {"scale": 2.0}


class Named:
    def __init__(self, a, b):
        self.a, self.b = a, b


tu.register_pytree_with_keys(
    Named,
    lambda n: (((tu.GetAttrKey("a"), n.a), (tu.GetAttrKey("b"), n.b)), None),
    lambda aux, kids: Named(*kids))


def test_register_pytree_with_keys_names_paths():
    n = Named(1.0, [2.0, 3.0])
    assert tree.leaves(n) == [1.0, 2.0, 3.0]
    assert [tu.keystr(p) for p, _ in tree.leaves_with_path(n)] == [".a", ".b[0]", ".b[1]"]
    m = tree.map(lambda v: v * 2, n)
    assert isinstance(m, Named) and m.b == [4.0, 6.0]


@tu.register_static
class Mode:
    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, Mode) and other.name == self.name

    def __hash__(self):
        return hash(self.name)


def test_register_static_is_a_childless_node():
    assert tree.leaves([Mode("a"), 1.0]) == [1.0]
    assert tree.structure([Mode("a"), 1.0]) != tree.structure([Mode("b"), 1.0])
    f = ft.jit(lambda m, x: x * (2.0 if m.name == "double" else 3.0))
    assert float(f(Mode("double"), 1.5)) == 3.0 and float(f(Mode("triple"), 1.5)) == 4.5


def test_treedef_helpers():
    a, b = tree.structure([0, 0]), tree.structure({"k": 0})
    td = tu.treedef_tuple([a, b])
    assert td == tree.structure(([0, 0], {"k": 0})) and td.num_leaves == 3
    assert tu.treedef_children(td) == [a, b]
    assert tu.flatten_one_level({"b": 1, "a": 2}) == ([2, 1], ("a", "b"))
    assert tu.is_tree_node([1]) and not tu.is_tree_node(np.ones(2))
    with pytest.raises(ValueError, match="leaf"):
        tu.flatten_one_level(3.0)
