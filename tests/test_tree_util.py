"""Tests for functrans.tree_util (pytree flatten/unflatten and friends)."""

import collections
import dataclasses
import functools
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functrans import tree_util as tu
from functrans.tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    Partial,
    PyTreeDef,
    SequenceKey,
)

Point = collections.namedtuple("Point", ["x", "y"])


class Triple(collections.namedtuple("_Triple", "a b c")):
    """A namedtuple subclass: still a node, keyed by its own class."""


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def assert_same_tree(a, b):
    """Exact structural equality: same container types, key order and leaves."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        if isinstance(a, collections.defaultdict):
            assert a.default_factory is b.default_factory
        for k in a:
            assert_same_tree(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_tree(x, y)
    else:
        assert a == b


def canonical(tree):
    """What unflatten(flatten(tree)) should give: plain dicts come back key-sorted."""
    if type(tree) is dict:
        return {k: canonical(tree[k]) for k in sorted(tree)}
    if type(tree) is collections.OrderedDict:
        return collections.OrderedDict((k, canonical(v)) for k, v in tree.items())
    if type(tree) in (Point, Triple):
        return type(tree)(*map(canonical, tree))
    if type(tree) in (list, tuple):
        return type(tree)(map(canonical, tree))
    return tree


# --------------------------------------------------------------------------
# hypothesis strategies
# --------------------------------------------------------------------------

array_leaves = st.builds(
    lambda shape, dtype, seed: np.random.default_rng(seed).standard_normal(shape).astype(dtype),
    st.lists(st.integers(0, 3), max_size=2).map(tuple),
    st.sampled_from([np.float32, np.float64, np.int32]),
    st.integers(0, 2**16),
)
scalar_leaves = st.one_of(st.integers(-5, 5), st.floats(-1e3, 1e3, allow_nan=False), st.booleans(), st.text(max_size=3))
leaves = st.one_of(array_leaves, scalar_leaves)
keys = st.text(alphabet="abcdefgh", min_size=1, max_size=3)


def extend(children):
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(keys, children, max_size=4).map(lambda d: collections.OrderedDict(reversed(list(d.items())))),
        st.builds(Point, children, children),
        st.builds(Triple, children, children, children),
    )


trees = st.recursive(st.one_of(leaves, st.none()), extend, max_leaves=20)


def count_leaves(tree):
    if tree is None:
        return 0
    if isinstance(tree, dict):
        return sum(count_leaves(v) for v in tree.values())
    if type(tree) in (list, tuple, Point, Triple):
        return sum(count_leaves(v) for v in tree)
    return 1


# --------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(trees)
def test_roundtrip_hypothesis(tree):
    leaves_, treedef = tu.tree_flatten(tree)
    assert treedef.num_leaves == len(leaves_) == count_leaves(tree)
    rebuilt = tu.tree_unflatten(treedef, leaves_)
    assert_same_tree(rebuilt, canonical(tree))
    # Leaves are passed through, not copied.
    for a, b in zip(tu.tree_leaves(rebuilt), leaves_):
        assert a is b
    # Structure is a function of shape only: equal treedefs, equal hashes.
    again = tu.tree_structure(rebuilt)
    assert again == treedef and hash(again) == hash(treedef)
    assert tu.tree_structure(tu.tree_map(lambda x: 0, tree)) == treedef
    assert tu.tree_leaves(tu.tree_map(lambda x: 7, tree)) == [7] * len(leaves_)


@settings(max_examples=100, deadline=None)
@given(trees)
def test_paths_agree_with_flatten_hypothesis(tree):
    pairs, treedef = tu.tree_flatten_with_path(tree)
    leaves_, treedef2 = tu.tree_flatten(tree)
    assert treedef == treedef2
    assert len(pairs) == len(leaves_)
    assert all(a is b for (_, a), b in zip(pairs, leaves_))
    assert len({p for p, _ in pairs}) == len(pairs)  # paths are unique


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, leaves, min_size=1, max_size=6), st.randoms())
def test_dict_insertion_order_is_irrelevant(d, rnd):
    items = list(d.items())
    rnd.shuffle(items)
    shuffled = dict(items)
    l1, t1 = tu.tree_flatten(d)
    l2, t2 = tu.tree_flatten(shuffled)
    assert t1 == t2 and hash(t1) == hash(t2)
    assert all(a is b for a, b in zip(l1, l2))
    assert list(tu.tree_unflatten(t2, l2)) == sorted(d)


# --------------------------------------------------------------------------
# built-in node types
# --------------------------------------------------------------------------


def test_dict_children_in_sorted_key_order():
    leaves_, treedef = tu.tree_flatten({"b": 1, "c": 3, "a": 2})
    assert leaves_ == [2, 1, 3]
    rebuilt = tu.tree_unflatten(treedef, [10, 20, 30])
    assert rebuilt == {"a": 10, "b": 20, "c": 30}
    assert list(rebuilt) == ["a", "b", "c"]
    assert tu.tree_leaves({3: "x", 1: "y", 2: "z"}) == ["y", "z", "x"]


def test_dict_with_unsortable_keys_raises_type_error():
    with pytest.raises(TypeError, match="not mutually sortable"):
        tu.tree_flatten({"a": 1, 2: 3})
    with pytest.raises(TypeError, match="not mutually sortable"):
        tu.tree_leaves(collections.defaultdict(list, {"a": 1, 2: 3}))


def test_none_is_a_node_without_children():
    assert tu.tree_leaves(None) == []
    leaves_, treedef = tu.tree_flatten(None)
    assert leaves_ == [] and treedef.num_leaves == 0 and treedef.num_nodes == 1
    assert tu.tree_unflatten(treedef, []) is None
    assert repr(treedef) == "PyTreeDef(None)"
    assert tu.tree_leaves([None, 1, (None, 2)]) == [1, 2]
    assert tu.tree_map(lambda x: x * 10, {"a": None, "b": 2}) == {"a": None, "b": 20}
    assert tu.tree_structure(None) != tu.tree_structure(5)


def test_leaves_include_arrays_scalars_and_arbitrary_objects():
    class Thing:
        pass

    class MyDict(dict):  # subclasses of registered types are not nodes
        pass

    thing, arr, md = Thing(), np.arange(3), MyDict(a=1)
    leaves_, treedef = tu.tree_flatten([thing, arr, 1.5, "s", md])
    assert leaves_[0] is thing and leaves_[1] is arr and leaves_[4] is md
    assert leaves_[2:4] == [1.5, "s"]
    assert treedef.num_leaves == 5
    leaves_, treedef = tu.tree_flatten(arr)
    assert leaves_[0] is arr and tu.treedef_is_leaf(treedef)
    assert repr(treedef) == "PyTreeDef(*)"


def test_namedtuple_rebuilt_as_same_class():
    p = Point(x=1, y=(2, 3))
    leaves_, treedef = tu.tree_flatten(p)
    assert leaves_ == [1, 2, 3]
    out = tu.tree_unflatten(treedef, [4, 5, 6])
    assert type(out) is Point and out == Point(4, (5, 6))
    assert treedef != tu.tree_structure((1, (2, 3)))
    assert type(tu.tree_map(str, Triple(1, 2, 3))) is Triple
    assert repr(treedef) == "PyTreeDef(Point(x=*, y=(*, *)))"


def test_ordereddict_keeps_insertion_order_as_structure():
    od1 = collections.OrderedDict([("b", 1), ("a", 2)])
    od2 = collections.OrderedDict([("a", 2), ("b", 1)])
    assert tu.tree_leaves(od1) == [1, 2]
    assert tu.tree_leaves(od2) == [2, 1]
    assert tu.tree_structure(od1) != tu.tree_structure(od2)
    assert tu.tree_structure(od1) != tu.tree_structure({"b": 1, "a": 2})
    out = tu.tree_map(lambda x: -x, od1)
    assert type(out) is collections.OrderedDict and list(out.items()) == [("b", -1), ("a", -2)]


def test_defaultdict_sorted_keys_and_factory_kept():
    dd = collections.defaultdict(list, {"z": 1, "a": 2})
    leaves_, treedef = tu.tree_flatten(dd)
    assert leaves_ == [2, 1]
    out = tu.tree_unflatten(treedef, [20, 10])
    assert type(out) is collections.defaultdict and out.default_factory is list
    assert dict(out) == {"a": 20, "z": 10}
    assert out["missing"] == []
    assert treedef != tu.tree_structure(collections.defaultdict(int, {"z": 1, "a": 2}))
    assert treedef == tu.tree_structure(collections.defaultdict(list, {"a": 0, "z": 0}))
    assert repr(treedef) == "PyTreeDef(defaultdict(list, {'a': *, 'z': *}))"


def test_list_and_tuple_are_distinct_structures():
    assert tu.tree_structure([1, 2]) != tu.tree_structure((1, 2))
    assert tu.tree_structure([1, 2]) != tu.tree_structure([1, 2, 3])
    out = tu.tree_unflatten(tu.tree_structure([1, (2,)]), ["a", "b"])
    assert out == ["a", ("b",)] and type(out[1]) is tuple


# --------------------------------------------------------------------------
# PyTreeDef
# --------------------------------------------------------------------------


def test_treedef_repr():
    assert repr(tu.tree_structure({"a": 1, "b": (2, 3)})) == "PyTreeDef({'a': *, 'b': (*, *)})"
    assert repr(tu.tree_structure([1, (2,), None, ()])) == "PyTreeDef([*, (*,), None, ()])"
    od = collections.OrderedDict([("b", 1), ("a", [2])])
    assert repr(tu.tree_structure(od)) == "PyTreeDef(OrderedDict({'b': *, 'a': [*]}))"


def test_treedef_equality_and_hash_by_value():
    t1 = tu.tree_structure({"a": np.zeros(3), "b": [1, 2]})
    t2 = tu.tree_structure({"b": [np.ones(2), "x"], "a": 7.0})
    assert t1 is not t2
    assert t1 == t2 and not (t1 != t2)
    assert hash(t1) == hash(t2)
    cache = {t1: "hit"}
    assert cache[t2] == "hit"
    assert t1 != tu.tree_structure({"a": 1, "b": [1, 2, 3]})
    assert t1 != tu.tree_structure({"a": 1, "c": [1, 2]})
    assert t1 != "not a treedef"
    assert len({tu.tree_structure(x) for x in [(1,), [1], {"a": 1}, None, 1, (1,)]}) == 5


def test_treedef_is_immutable_and_not_constructible():
    treedef = tu.tree_structure((1, 2))
    with pytest.raises(AttributeError, match="immutable"):
        treedef._node = None
    with pytest.raises(AttributeError, match="immutable"):
        treedef.num_leaves = 3
    with pytest.raises(TypeError):
        PyTreeDef()
    assert treedef.num_leaves == 2


def test_treedef_pickle_roundtrip():
    treedef = tu.tree_structure({"a": Point(1, 2), "b": [None, (3,)]})
    clone = pickle.loads(pickle.dumps(treedef))
    assert clone == treedef and hash(clone) == hash(treedef)
    assert clone.unflatten([1, 2, 3]) == {"a": Point(1, 2), "b": [None, (3,)]}


def test_treedef_properties():
    treedef = tu.tree_structure({"a": 1, "b": (2, None, [3, 4])})
    assert treedef.num_leaves == 4
    # dict, leaf a, tuple, leaf, None, list, leaf, leaf
    assert treedef.num_nodes == 8
    kids = treedef.children()
    assert [repr(k) for k in kids] == ["PyTreeDef(*)", "PyTreeDef((*, None, [*, *]))"]
    assert [k.num_leaves for k in kids] == [1, 3]
    assert treedef.node_data() == (dict, ("a", "b"))
    assert kids[0].node_data() is None
    assert kids[0].children() == []
    assert treedef.unflatten("wxyz") == {"a": "w", "b": ("x", None, ["y", "z"])}


def test_compose():
    outer = tu.tree_structure([0, 0])
    inner = tu.tree_structure({"a": 0, "b": 0})
    composed = outer.compose(inner)
    assert composed == tu.tree_structure([{"a": 1, "b": 2}, {"a": 3, "b": 4}])
    assert composed.num_leaves == 4


def test_treedef_is_leaf_and_all_leaves():
    assert tu.treedef_is_leaf(tu.tree_structure(1))
    assert tu.treedef_is_leaf(tu.tree_structure(None))  # as in JAX: counts nodes
    assert not tu.treedef_is_leaf(tu.tree_structure((1,)))
    assert tu.all_leaves([1, np.zeros(2), "s"])
    assert not tu.all_leaves([1, (2,)])
    assert not tu.all_leaves([None])
    assert tu.all_leaves([1, (2,)], is_leaf=lambda x: isinstance(x, tuple))


# --------------------------------------------------------------------------
# tree_unflatten / flatten_up_to errors
# --------------------------------------------------------------------------


def test_unflatten_wrong_number_of_leaves():
    treedef = tu.tree_structure((1, 2, 3))
    with pytest.raises(ValueError, match=r"expected 3, got 2"):
        tu.tree_unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match=r"expected 3, got 4"):
        treedef.unflatten([1, 2, 3, 4])
    with pytest.raises(TypeError, match="expects a PyTreeDef"):
        tu.tree_unflatten((1, 2), [1, 2])
    # Any iterable of leaves is accepted.
    assert tu.tree_unflatten(treedef, iter("abc")) == ("a", "b", "c")


def test_flatten_up_to_returns_subtrees():
    treedef = tu.tree_structure({"a": 0, "b": (0, 0)})
    tree = {"a": [1, 2], "b": ({"x": 3}, None)}
    assert treedef.flatten_up_to(tree) == [[1, 2], {"x": 3}, None]
    assert tu.tree_structure(5).flatten_up_to({"any": "thing"}) == [{"any": "thing"}]


def test_flatten_up_to_mismatches():
    treedef = tu.tree_structure({"a": 0, "b": (0, 0)})
    with pytest.raises(ValueError) as e:
        treedef.flatten_up_to({"a": 1, "b": (1, 2, 3)})
    msg = str(e.value)
    assert "at ['b']" in msg and "tuple with 2 children, got 3" in msg
    assert "PyTreeDef({'a': *, 'b': (*, *)})" in msg
    assert "PyTreeDef({'a': *, 'b': (*, *, *)})" in msg

    with pytest.raises(ValueError, match=r"expected \('a', 'b'\), got \('a', 'c'\)"):
        treedef.flatten_up_to({"a": 1, "c": (1, 2)})
    with pytest.raises(ValueError, match=r"at \['b'\]: expected a tuple node, got a value of type list"):
        treedef.flatten_up_to({"a": 1, "b": [1, 2]})
    with pytest.raises(ValueError, match="at the root: expected a dict node, got a value of type int"):
        treedef.flatten_up_to(3)
    with pytest.raises(ValueError, match="expected a None node"):
        tu.tree_structure([None]).flatten_up_to([1])


# --------------------------------------------------------------------------
# tree_map & reductions
# --------------------------------------------------------------------------


def test_tree_map_single_and_multiple_trees():
    a = {"x": np.array([1.0, 2.0]), "y": (1, 2)}
    b = {"x": np.array([10.0, 20.0]), "y": (3, 4)}
    c = {"x": 100.0, "y": (5, 6)}
    out = tu.tree_map(lambda p, q, r: p + q + r, a, b, c)
    np.testing.assert_array_equal(out["x"], [111.0, 122.0])
    assert out["y"] == (9, 12)
    assert tu.tree_map(lambda v: v * 2, [1, (2, 3)]) == [2, (4, 6)]


def test_tree_map_with_prefix_tree():
    # The first tree's leaves line up with whole subtrees of the second.
    out = tu.tree_map(lambda scale, sub: tu.tree_map(lambda v: v * scale, sub), (2, 10), ([1, 2], {"a": 3}))
    assert out == ([2, 4], {"a": 30})


def test_tree_map_mismatch_shows_both_structures():
    with pytest.raises(ValueError) as e:
        tu.tree_map(lambda p, q: p + q, {"a": 1, "b": 2}, {"a": 1, "c": 2})
    msg = str(e.value)
    assert "PyTreeDef({'a': *, 'b': *})" in msg
    assert "PyTreeDef({'a': *, 'c': *})" in msg
    with pytest.raises(ValueError, match=r"at \[1\]: expected a list with 2 children, got 1"):
        tu.tree_map(lambda p, q: p, [1, [2, 3]], [1, [2]])


def test_tree_map_is_leaf():
    tree = {"a": (1, 2), "b": [(3, 4), 5]}
    out = tu.tree_map(lambda t: sum(t) if isinstance(t, tuple) else t, tree, is_leaf=lambda x: isinstance(x, tuple))
    assert out == {"a": 3, "b": [7, 5]}
    leaves_, treedef = tu.tree_flatten(tree, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves_ == [(1, 2), (3, 4), 5]
    assert repr(treedef) == "PyTreeDef({'a': *, 'b': [*, *]})"
    # is_leaf applies to the root too.
    assert tu.tree_leaves(tree, is_leaf=lambda x: isinstance(x, dict)) == [tree]
    # With is_leaf, None can be a leaf.
    assert tu.tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]


def test_tree_all_and_reduce():
    assert tu.tree_all({"a": True, "b": [1, np.True_]})
    assert not tu.tree_all({"a": True, "b": [1, 0]})
    assert tu.tree_all(None)  # no leaves
    assert tu.tree_reduce(lambda a, b: a + b, {"a": 1, "b": [2, 3]}) == 6
    assert tu.tree_reduce(lambda a, b: a + [b], (1, 2), []) == [1, 2]
    assert tu.tree_reduce(lambda a, b: a + b, [], 0) == 0
    with pytest.raises(TypeError):
        tu.tree_reduce(lambda a, b: a + b, [])


def test_tree_transpose():
    outer = tu.tree_structure([0, 0, 0])
    inner = tu.tree_structure((0, 0))
    assert tu.tree_transpose(outer, inner, [(1, 2), (3, 4), (5, 6)]) == ([1, 3, 5], [2, 4, 6])
    # inner structure inferred when None.
    assert tu.tree_transpose(tu.tree_structure({"a": 0, "b": 0}), None,
                             {"a": [1, 2], "b": [3, 4]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    with pytest.raises(TypeError, match="structure mismatch"):
        tu.tree_transpose(outer, inner, [(1, 2), (3, 4), (5, 6, 7)])


# --------------------------------------------------------------------------
# custom nodes
# --------------------------------------------------------------------------


class Box:
    """Custom node: children are the contents, label is aux data."""

    def __init__(self, label, *contents):
        self.label = label
        self.contents = contents


tu.register_pytree_node(
    Box,
    lambda b: (b.contents, b.label),
    lambda label, children: Box(label, *children),
)


class Lazy:
    """Custom node whose flatten returns a generator of children."""

    def __init__(self, items):
        self.items = items


tu.register_pytree_node(Lazy, lambda z: ((v for v in z.items), None), lambda _, kids: Lazy(list(kids)))


def test_register_pytree_node():
    b = Box("lbl", 1, [2, 3])
    leaves_, treedef = tu.tree_flatten(b)
    assert leaves_ == [1, 2, 3]
    out = tu.tree_unflatten(treedef, [10, 20, 30])
    assert type(out) is Box and out.label == "lbl" and out.contents == (10, [20, 30])
    assert treedef == tu.tree_structure(Box("lbl", 0, [0, 0]))
    assert treedef != tu.tree_structure(Box("other", 0, [0, 0]))
    assert repr(treedef) == "PyTreeDef(CustomNode(Box['lbl'], [*, [*, *]]))"
    assert treedef.node_data() == (Box, "lbl")
    mapped = tu.tree_map(lambda v: v + 1, {"k": b})
    assert mapped["k"].contents == (2, [3, 4])


def test_custom_flatten_may_return_generator():
    z = Lazy([1, (2, 3)])
    assert tu.tree_leaves(z) == [1, 2, 3]
    assert tu.tree_map(lambda v: v * 2, z).items == [2, (4, 6)]


def test_duplicate_registration_is_rejected():
    with pytest.raises(ValueError, match="Duplicate pytree registration"):
        tu.register_pytree_node(Box, lambda b: ((), None), lambda a, c: Box(a))
    with pytest.raises(ValueError, match="Duplicate pytree registration"):
        tu.register_pytree_node(dict, lambda b: ((), None), lambda a, c: {})


def test_registering_a_type_already_seen_as_leaf():
    class Late:
        def __init__(self, v):
            self.v = v

    x = Late(1)
    assert tu.tree_leaves([x]) == [x]  # cached as a leaf type
    tu.register_pytree_node(Late, lambda o: ((o.v,), None), lambda _, kids: Late(*kids))
    assert tu.tree_leaves([x]) == [1]
    assert tu.all_leaves([1]) and not tu.all_leaves([x])


@tu.register_dataclass
@dataclasses.dataclass
class Params:
    w: object
    b: object
    name: str = dataclasses.field(default="p", metadata=dict(static=True))


@dataclasses.dataclass(frozen=True)
class Frozen:
    x: object
    y: object
    tag: str


tu.register_dataclass(Frozen, data_fields=["x", "y"], meta_fields=["tag"])


def test_register_dataclass_decorator_infers_fields():
    p = Params(w=np.ones(2), b=3.0, name="layer1")
    leaves_, treedef = tu.tree_flatten(p)
    assert leaves_[0] is p.w and leaves_[1] == 3.0 and len(leaves_) == 2
    assert treedef.node_data() == (Params, ("layer1",))
    out = tu.tree_unflatten(treedef, [1, 2])
    assert out == Params(w=1, b=2, name="layer1")
    # Differing only in a static field means different structure.
    assert treedef != tu.tree_structure(Params(w=np.ones(2), b=3.0, name="layer2"))
    assert treedef == tu.tree_structure(Params(w=0, b=0, name="layer1"))
    assert hash(treedef) == hash(tu.tree_structure(Params(w=0, b=0, name="layer1")))


def test_register_dataclass_explicit_fields():
    f = Frozen(x=1, y=[2, 3], tag="t")
    assert tu.tree_leaves(f) == [1, 2, 3]
    out = tu.tree_map(lambda v: v * 10, f)
    assert out == Frozen(x=10, y=[20, 30], tag="t")
    assert tu.tree_structure(f) != tu.tree_structure(Frozen(1, [2, 3], "u"))
    paths = [tu.keystr(p) for p, _ in tu.tree_flatten_with_path(f)[0]]
    assert paths == [".x", ".y[0]", ".y[1]"]


def test_register_dataclass_validation():
    @dataclasses.dataclass
    class D:
        a: int
        b: int

    with pytest.raises(TypeError, match="both data_fields and meta_fields, or neither"):
        tu.register_dataclass(D, data_fields=["a", "b"])
    with pytest.raises(ValueError, match=r"must equal the init fields of D \['a', 'b'\]"):
        tu.register_dataclass(D, data_fields=["a"], meta_fields=[])

    class NotDC:
        pass

    with pytest.raises(TypeError, match="NotDC is not a dataclass"):
        tu.register_dataclass(NotDC)

    # Non-dataclasses work with explicit fields; the decorator-with-args form.
    @tu.register_dataclass(data_fields=["v"], meta_fields=[])
    class Plain:
        def __init__(self, v):
            self.v = v

    assert tu.tree_map(lambda t: t + 1, Plain(1)).v == 2


# --------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------


def test_tree_flatten_with_path_and_keystr():
    tree = {"a": [1, (2, 3)], "b": Point(x=4, y=None), "c": Box("l", 5)}
    pairs, treedef = tu.tree_flatten_with_path(tree)
    assert [x for _, x in pairs] == [1, 2, 3, 4, 5]
    assert treedef == tu.tree_structure(tree)
    paths = [p for p, _ in pairs]
    assert paths[0] == (DictKey("a"), SequenceKey(0))
    assert paths[2] == (DictKey("a"), SequenceKey(1), SequenceKey(1))
    assert paths[3] == (DictKey("b"), GetAttrKey("x"))
    assert paths[4] == (DictKey("c"), FlattenedIndexKey(0))
    assert [tu.keystr(p) for p in paths] == [
        "['a'][0]", "['a'][1][0]", "['a'][1][1]", "['b'].x", "['c'][<flat index 0>]",
    ]
    assert tu.keystr(paths[2], simple=True, separator="/") == "a/1/1"
    assert tu.keystr(()) == ""
    assert tu.tree_leaves_with_path(7) == [((), 7)]


def test_tree_map_with_path():
    tree = {"w": 1, "b": [2, 3]}
    out = tu.tree_map_with_path(lambda p, x: f"{tu.keystr(p)}={x}", tree)
    assert out == {"b": ["['b'][0]=2", "['b'][1]=3"], "w": "['w']=1"}
    out = tu.tree_map_with_path(lambda p, x, y: (len(p), x + y), tree, {"w": 10, "b": [20, 30]})
    assert out == {"w": (1, 11), "b": [(2, 22), (2, 33)]}
    with pytest.raises(ValueError, match="expected a list with 2 children"):
        tu.tree_map_with_path(lambda p, x, y: x, tree, {"w": 10, "b": [20]})


def test_key_entries_are_leaves_not_nodes():
    path = (DictKey("a"), SequenceKey(1))
    assert tu.tree_leaves([path]) == list(path)
    assert tu.tree_leaves(GetAttrKey("x")) == [GetAttrKey("x")]


# --------------------------------------------------------------------------
# Partial
# --------------------------------------------------------------------------


def _affine(x, scale, shift=0.0):
    return x * scale + shift


def test_partial_is_a_pytree():
    p = Partial(_affine, np.float64(2.0), shift=1.0)
    assert p(3.0) == 7.0
    leaves_, treedef = tu.tree_flatten(p)
    assert leaves_ == [2.0, 1.0]
    assert treedef.node_data()[1] is _affine
    q = tu.tree_map(lambda v: v * 10, p)
    assert isinstance(q, Partial) and q.func is _affine
    assert q.args == (20.0,) and q.keywords == {"shift": 10.0}
    assert q(1.0) == 30.0
    # Same function and arg structure -> same treedef; other function -> different.
    assert tu.tree_structure(Partial(_affine, 5.0, shift=0.0)) == treedef
    assert tu.tree_structure(Partial(max, 5.0, shift=0.0)) != treedef
    assert tu.tree_structure(Partial(_affine, 5.0)) != treedef


def test_partial_nesting_flattens_to_underlying_function():
    inner = Partial(_affine, 2.0)
    outer = Partial(inner, shift=3.0)
    assert outer.func is _affine and outer.args == (2.0,) and outer.keywords == {"shift": 3.0}
    assert outer(1.0) == 5.0
    assert tu.tree_leaves(outer) == [2.0, 3.0]
    assert isinstance(outer, functools.partial)
