"""Pytrees: nested containers whose leaves are the values transformations act on.

Names and semantics follow ``jax.tree_util``. A tree is flattened into a list of
leaves plus a ``PyTreeDef`` describing its shape; the treedef is immutable and
hashable so that jit can use it as part of a cache key.

Built-in nodes: ``None`` (no children), tuple, list, dict (children in sorted-key
order), namedtuple, ``collections.OrderedDict`` (insertion order), and
``collections.defaultdict`` (sorted keys). Everything else is a leaf unless it is
registered with ``register_pytree_node`` / ``register_dataclass``.

Internally a treedef is a nested tuple ``(type, aux_data, children)`` with the
plain value ``None`` standing for a leaf. Nested tuples give structural ``==`` and
``hash`` implemented in C, which is what makes treedefs cheap cache keys.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from operator import itemgetter
from typing import Any, Callable, Iterable, NamedTuple

__all__ = [
    "PyTreeDef",
    "tree_flatten",
    "tree_unflatten",
    "tree_leaves",
    "tree_structure",
    "tree_map",
    "tree_transpose",
    "tree_all",
    "tree_reduce",
    "treedef_is_leaf",
    "all_leaves",
    "register_pytree_node",
    "register_dataclass",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static",
    "tree_broadcast",
    "tree_reduce_associative",
    "treedef_children",
    "treedef_tuple",
    "flatten_one_level",
    "is_tree_node",
    "tree_flatten_with_path",
    "tree_leaves_with_path",
    "tree_map_with_path",
    "keystr",
    "DictKey",
    "SequenceKey",
    "GetAttrKey",
    "FlattenedIndexKey",
    "Partial",
]


# --------------------------------------------------------------------------
# Key entries (used by the *_with_path functions)
# --------------------------------------------------------------------------


class DictKey(NamedTuple):
    """Path entry for a mapping child; ``str`` gives the ``['key']`` form."""

    key: Any

    def __str__(self):
        return f"[{self.key!r}]"


class SequenceKey(NamedTuple):
    """Path entry for a tuple/list child."""

    idx: int

    def __str__(self):
        return f"[{self.idx}]"


class GetAttrKey(NamedTuple):
    """Path entry for an attribute-like child (namedtuple/dataclass field)."""

    name: str

    def __str__(self):
        return f".{self.name}"


class FlattenedIndexKey(NamedTuple):
    """Path entry for a child of a custom node that does not name its children."""

    key: int

    def __str__(self):
        return f"[<flat index {self.key}>]"


# Key entries are NamedTuples (cheap, hashable, comparable) but must not be
# treated as pytree nodes themselves, or a path stored in a tree would be
# flattened away. They are registered as leaves below via _LEAF_TYPES.


def keystr(keys: Iterable[Any], *, simple: bool = False, separator: str = "") -> str:
    """Render a key path, e.g. ``"['a'][0].x"``.

    With ``simple=True`` only the bare key values are joined by ``separator``
    (useful for building flat parameter names such as ``"a/0/x"``).
    """
    if not simple:
        return separator.join(str(k) for k in keys)
    return separator.join(str(k[0]) for k in keys)


# --------------------------------------------------------------------------
# Node kinds and the registry
# --------------------------------------------------------------------------


class _NodeKind:
    """How to take apart and rebuild one node type.

    flatten(x) -> (children, aux); unflatten(aux, children_list) -> x;
    keys(aux, n) -> path entries of the n children; show(aux, kid_strs) -> str.
    flatten_with_keys(x) -> (((key, child), ...), aux), only for nodes registered with
    keys (register_pytree_with_keys): their keys depend on the value, not only on aux.
    """

    __slots__ = ("type", "flatten", "unflatten", "keys", "show", "flatten_with_keys")

    def __init__(self, type_, flatten, unflatten, keys, show, flatten_with_keys=None):
        self.type = type_
        self.flatten = flatten
        self.unflatten = unflatten
        self.keys = keys
        self.show = show
        self.flatten_with_keys = flatten_with_keys


# Explicitly registered node types; never contains derived entries.
_registry: dict[type, _NodeKind] = {}


class _KindCache(dict):
    """Every type seen so far -> its _NodeKind, or None for "leaf".

    This is the dict looked up on the hot path. Namedtuple detection (an
    issubclass plus a hasattr) runs once per type in __missing__, not once per
    value, so dispatch stays a single dict lookup.
    """

    def __missing__(self, tp):
        kind = _registry.get(tp)
        if kind is None and tp not in _LEAF_TYPES and issubclass(tp, tuple) and hasattr(tp, "_fields"):
            kind = _namedtuple_kind(tp)
        self[tp] = kind
        if kind is None:
            _leaf_types.add(tp)
        return kind


_cache = _KindCache()
_kind_of = _cache.__getitem__  # type -> _NodeKind | None

# Types already known to be leaves. One C-level ``issuperset`` over a node's
# child types then decides "all children are leaves" with no Python loop.
_leaf_types: set[type] = set()


def _seq_keys(aux, n):
    return [SequenceKey(i) for i in range(n)]


def _flat_index_keys(aux, n):
    return [FlattenedIndexKey(i) for i in range(n)]


def _show_items(keys, kids):
    return ", ".join(f"{k!r}: {s}" for k, s in zip(keys, kids))


def _unsortable(d, err) -> TypeError:
    # Sorted order is what makes {'a':..,'b':..} and {'b':..,'a':..} the same
    # structure, so there is no sensible fallback order to use instead.
    return TypeError(
        f"Cannot flatten a {type(d).__name__} whose keys are not mutually "
        f"sortable (keys: {list(d)!r}); pytree dict children are ordered by "
        f"sorted key. Original error: {err}"
    )


def _dict_flatten(d):
    try:
        keys = sorted(d)
    except TypeError as e:
        raise _unsortable(d, e) from None
    # itemgetter fetches every value in one C call, but returns a bare value
    # (not a tuple) for a single key, hence the small-dict branch.
    values = itemgetter(*keys)(d) if len(keys) > 1 else [d[k] for k in keys]
    return values, tuple(keys)


def _ordereddict_flatten(d):
    return list(d.values()), tuple(d)


def _defaultdict_flatten(d):
    values, keys = _dict_flatten(d)
    return values, (d.default_factory, keys)


def _defaultdict_unflatten(aux, kids):
    factory, keys = aux
    return collections.defaultdict(factory, zip(keys, kids))


def _show_tuple(aux, kids):
    return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"


def _show_defaultdict(aux, kids):
    factory, keys = aux
    name = getattr(factory, "__name__", repr(factory))
    return f"defaultdict({name}, {{{_show_items(keys, kids)}}})"


def _namedtuple_kind(cls) -> _NodeKind:
    fields = cls._fields
    attr_keys = [GetAttrKey(f) for f in fields]
    return _NodeKind(
        cls,
        lambda x: (x, None),  # a namedtuple is already an iterable of its children
        lambda aux, kids: cls(*kids),
        lambda aux, n: attr_keys,
        lambda aux, kids: f"{cls.__name__}(" + ", ".join(f"{f}={s}" for f, s in zip(fields, kids)) + ")",
    )


def _custom_kind(nodetype, flatten_func, unflatten_func) -> _NodeKind:
    name = getattr(nodetype, "__name__", repr(nodetype))

    def flatten(x):
        # _flatten walks the children twice, so a generator must be materialised.
        children, aux = flatten_func(x)
        if type(children) is not list and type(children) is not tuple:
            children = list(children)
        return children, aux

    return _NodeKind(
        nodetype,
        flatten,
        # Custom unflatteners get an immutable sequence, as they might keep it.
        lambda aux, kids: unflatten_func(aux, tuple(kids)),
        _flat_index_keys,
        lambda aux, kids: f"CustomNode({name}[{aux!r}], [{', '.join(kids)}])",
    )


def _install(kind: _NodeKind) -> None:
    if kind.type in _registry:
        raise ValueError(f"Duplicate pytree registration for type {kind.type!r}.")
    _registry[kind.type] = kind
    # Override a "leaf" verdict cached before the type was registered.
    _cache[kind.type] = kind
    _leaf_types.discard(kind.type)


# Types that look like nodes (tuple subclasses with _fields) but must stay leaves.
_LEAF_TYPES = frozenset({DictKey, SequenceKey, GetAttrKey, FlattenedIndexKey})

_install(_NodeKind(type(None), lambda x: ((), None), lambda aux, kids: None, _seq_keys, lambda aux, kids: "None"))
_install(_NodeKind(tuple, lambda x: (x, None), lambda aux, kids: tuple(kids), _seq_keys, _show_tuple))
# _unflatten hands over a fresh list, so a list node can adopt it as is.
_install(_NodeKind(list, lambda x: (x, None), lambda aux, kids: kids, _seq_keys,
                   lambda aux, kids: "[" + ", ".join(kids) + "]"))
_install(_NodeKind(dict, _dict_flatten, lambda keys, kids: dict(zip(keys, kids)),
                   lambda keys, n: [DictKey(k) for k in keys],
                   lambda keys, kids: "{" + _show_items(keys, kids) + "}"))
_install(_NodeKind(collections.OrderedDict, _ordereddict_flatten,
                   lambda keys, kids: collections.OrderedDict(zip(keys, kids)),
                   lambda keys, n: [DictKey(k) for k in keys],
                   lambda keys, kids: "OrderedDict({" + _show_items(keys, kids) + "})"))
_install(_NodeKind(collections.defaultdict, _defaultdict_flatten, _defaultdict_unflatten,
                   lambda aux, n: [DictKey(k) for k in aux[1]], _show_defaultdict))


# --------------------------------------------------------------------------
# Registration API
# --------------------------------------------------------------------------


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable) -> None:
    """Make ``nodetype`` a pytree node.

    ``flatten_func(x) -> (children, aux_data)``; ``unflatten_func(aux_data,
    children) -> x``. ``aux_data`` becomes part of the treedef, so it must be
    hashable and comparable by value for jit caching to work.
    """
    _install(_custom_kind(nodetype, flatten_func, unflatten_func))


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: ``cls`` flattens with its method ``tree_flatten() -> (children, aux)``
    and rebuilds with its classmethod ``tree_unflatten(aux, children)``. Returns ``cls``."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_pytree_with_keys(nodetype: type, flatten_with_keys: Callable, unflatten_func: Callable,
                              flatten_func: Callable | None = None) -> None:
    """Like ``register_pytree_node`` but ``flatten_with_keys(x) -> (((key, child), ...), aux)``
    also names each child, so ``*_with_path`` and ``keystr`` show those keys."""
    if flatten_func is None:
        def flatten_func(x):
            pairs, aux = flatten_with_keys(x)
            return [c for _, c in pairs], aux

    kind = _custom_kind(nodetype, flatten_func, unflatten_func)

    def keyed(x):
        pairs, aux = flatten_with_keys(x)
        return list(pairs), aux

    kind.flatten_with_keys = keyed
    _install(kind)


def register_pytree_with_keys_class(cls: type) -> type:
    """Class decorator: ``cls.tree_flatten_with_keys()`` and classmethod ``tree_unflatten``."""
    flatten = getattr(cls, "tree_flatten", None)
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              None if flatten is None else (lambda x: x.tree_flatten()))
    return cls


def register_static(cls: type) -> type:
    """Make instances of ``cls`` nodes without children: the whole value is aux data (part of
    the treedef, so jit treats it as static). Instances must be hashable and define ``==``."""
    register_pytree_node(cls, lambda x: ((), x), lambda aux, kids: aux)
    return cls


def register_dataclass(nodetype: type | None = None, data_fields=None, meta_fields=None):
    """Register a (data)class whose ``data_fields`` are children and ``meta_fields`` aux data.

    Usable as ``register_dataclass(C, data_fields=[...], meta_fields=[...])``,
    as ``@register_dataclass`` on a dataclass (fields declared with
    ``field(metadata=dict(static=True))`` become meta fields, the rest data),
    or as ``@register_dataclass(data_fields=..., meta_fields=...)``.
    Instances are rebuilt with ``nodetype(**fields)``. Returns ``nodetype``.
    """
    if nodetype is None:
        return lambda cls: register_dataclass(cls, data_fields, meta_fields)

    if data_fields is None and meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(
                f"register_dataclass: {nodetype.__name__} is not a dataclass, so "
                "data_fields and meta_fields must be given explicitly."
            )
        init_fields = [f for f in dataclasses.fields(nodetype) if f.init]
        data_fields = [f.name for f in init_fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in init_fields if f.metadata.get("static", False)]
    elif data_fields is None or meta_fields is None:
        raise TypeError("register_dataclass: give both data_fields and meta_fields, or neither.")

    data_fields = tuple(data_fields)
    meta_fields = tuple(meta_fields)
    overlap = set(data_fields) & set(meta_fields)
    if overlap:
        raise ValueError(f"register_dataclass: fields {sorted(overlap)} are both data and meta fields.")
    if dataclasses.is_dataclass(nodetype):
        # Rebuilding calls __init__, so every init field must be accounted for.
        init_names = {f.name for f in dataclasses.fields(nodetype) if f.init}
        given = set(data_fields) | set(meta_fields)
        if given != init_names:
            raise ValueError(
                f"register_dataclass: data_fields + meta_fields {sorted(given)} must equal the "
                f"init fields of {nodetype.__name__} {sorted(init_names)}."
            )

    def flatten(x):
        return [getattr(x, n) for n in data_fields], tuple([getattr(x, n) for n in meta_fields])

    def unflatten(meta, kids):
        return nodetype(**dict(zip(meta_fields, meta)), **dict(zip(data_fields, kids)))

    attr_keys = [GetAttrKey(n) for n in data_fields]
    name = nodetype.__name__
    _install(_NodeKind(
        nodetype, flatten, unflatten,
        lambda aux, n: attr_keys,
        lambda aux, kids: f"CustomNode({name}[{aux!r}], [{', '.join(kids)}])",
    ))
    return nodetype


# --------------------------------------------------------------------------
# PyTreeDef
# --------------------------------------------------------------------------


def _count_leaves(node) -> int:
    if node is None:
        return 1
    return sum([_count_leaves(c) for c in node[2]])


def _count_nodes(node) -> int:
    if node is None:
        return 1
    return 1 + sum([_count_nodes(c) for c in node[2]])


def _show(node) -> str:
    if node is None:
        return "*"
    typ, aux, children = node
    return _kind_of(typ).show(aux, [_show(c) for c in children])


class PyTreeDef:
    """Immutable description of a pytree's structure (everything but the leaves)."""

    __slots__ = ("_node", "_num_leaves")

    def __init__(self, *args, **kwargs):
        raise TypeError("PyTreeDef cannot be constructed directly; use tree_structure / tree_flatten.")

    def __setattr__(self, name, value):
        raise AttributeError("PyTreeDef is immutable")

    __delattr__ = __setattr__

    @property
    def num_leaves(self) -> int:
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        return _count_nodes(self._node)

    def children(self) -> list[PyTreeDef]:
        if self._node is None:
            return []
        return [_make_treedef(c, _count_leaves(c)) for c in self._node[2]]

    def node_data(self):
        """``(node_type, aux_data)`` of the root, or ``None`` for a leaf."""
        if self._node is None:
            return None
        return self._node[0], self._node[1]

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        return tree_unflatten(self, leaves)

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """Leaves of ``tree`` cut at this structure: one subtree per leaf of ``self``."""
        out: list[Any] = []
        try:
            _flatten_up_to(self._node, tree, out)
        except _Mismatch as m:
            where = keystr(reversed(m.path)) or "the root"
            try:
                got = repr(tree_structure(tree))
            except Exception:  # the tree itself may not even be flattenable
                got = f"<unflattenable {type(tree).__name__}>"
            raise ValueError(
                f"Tree structure mismatch at {where}: {m.detail}.\n"
                f"  expected structure (prefix): {self!r}\n"
                f"  got structure:               {got}"
            ) from None
        return out

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """The treedef of this structure with every leaf replaced by ``inner``."""
        def sub(node):
            if node is None:
                return inner._node
            typ, aux, children = node
            return (typ, aux, tuple([sub(c) for c in children]))

        return _make_treedef(sub(self._node), self._num_leaves * inner._num_leaves)

    def __eq__(self, other):
        if self is other:
            return True
        if type(other) is not PyTreeDef:
            return NotImplemented
        return self._num_leaves == other._num_leaves and self._node == other._node

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        # Not cached: jit hashes a freshly flattened treedef once per call, so
        # a cache would cost a store on every construction and rarely hit.
        try:
            return hash(self._node)
        except TypeError:
            # Some aux data is not hashable (a dict of options, say). As in JAX, treedefs
            # still compare aux data by ==, so hash a skeleton that leaves such aux out:
            # equal treedefs get equal hashes, and == settles the rest.
            return hash(_hash_skeleton(self._node))

    def __repr__(self):
        return f"PyTreeDef({_show(self._node)})"

    def __reduce__(self):
        return _make_treedef, (self._node, self._num_leaves)


def _hash_skeleton(node):
    if node is None:
        return None
    typ, aux, children = node
    try:
        hash(aux)
    except TypeError:
        # A dict's keys are usually what distinguishes configurations; hash them if they can be.
        aux = type(aux)
    return (typ, aux, tuple([_hash_skeleton(c) for c in children]))


# Construction bypasses __init__/__setattr__ through the slot descriptors:
# cheaper than object.__setattr__ and keeps the public class immutable.
_new_treedef = object.__new__
_set_node = PyTreeDef._node.__set__
_set_num_leaves = PyTreeDef._num_leaves.__set__


def _make_treedef(node, num_leaves: int) -> PyTreeDef:
    td = _new_treedef(PyTreeDef)
    _set_node(td, node)
    _set_num_leaves(td, num_leaves)
    return td


_LEAF_TREEDEF = _make_treedef(None, 1)


# --------------------------------------------------------------------------
# Flatten / unflatten
# --------------------------------------------------------------------------


def _flatten(x, kind: _NodeKind, leaves: list):
    """Flatten node ``x`` (already known to be of ``kind``) into ``leaves``."""
    children, aux = kind.flatten(x)  # always a list or tuple
    if _leaf_types.issuperset(map(type, children)):
        # All children are leaves (the usual case at the bottom of a tree):
        # classify and copy them in C without a Python-level loop.
        leaves.extend(children)
        return (kind.type, aux, (None,) * len(children))
    nodes = []
    for c in children:
        k = _kind_of(type(c))
        if k is None:
            leaves.append(c)
            nodes.append(None)
        else:
            nodes.append(_flatten(c, k, leaves))
    return (kind.type, aux, tuple(nodes))


def _flatten_is_leaf(x, is_leaf: Callable, leaves: list):
    """Slow twin of ``_flatten`` that consults ``is_leaf`` on every subtree."""
    if is_leaf(x):
        leaves.append(x)
        return None
    kind = _kind_of(type(x))
    if kind is None:
        leaves.append(x)
        return None
    children, aux = kind.flatten(x)
    return (kind.type, aux, tuple([_flatten_is_leaf(c, is_leaf, leaves) for c in children]))


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list[Any], PyTreeDef]:
    """Return ``(leaves, treedef)``; ``is_leaf(x)`` True stops descent at ``x``."""
    leaves: list[Any] = []
    if is_leaf is None:
        kind = _kind_of(type(tree))
        if kind is None:
            return [tree], _LEAF_TREEDEF
        node = _flatten(tree, kind, leaves)
    else:
        node = _flatten_is_leaf(tree, is_leaf, leaves)
    return leaves, _make_treedef(node, len(leaves))


def _unflatten(node, leaves: list, start: int):
    """Rebuild ``node`` from ``leaves[start:]``; returns (value, next start)."""
    typ, aux, children = node
    if not any(children):
        # Only leaf children: take them with one slice instead of a loop.
        end = start + len(children)
        return _kind_of(typ).unflatten(aux, leaves[start:end]), end
    kids = []
    for c in children:
        if c is None:
            kids.append(leaves[start])
            start += 1
        else:
            kid, start = _unflatten(c, leaves, start)
            kids.append(kid)
    return _kind_of(typ).unflatten(aux, kids), start


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a tree of shape ``treedef`` from ``leaves`` (in flatten order)."""
    if type(treedef) is not PyTreeDef:
        raise TypeError(f"tree_unflatten expects a PyTreeDef, got {type(treedef).__name__}")
    if type(leaves) is not list:
        # A list, because list nodes adopt the slice they are given.
        leaves = list(leaves)
    if len(leaves) != treedef._num_leaves:
        raise ValueError(
            f"Wrong number of leaves for {treedef!r}: expected {treedef._num_leaves}, got {len(leaves)}."
        )
    node = treedef._node
    if node is None:
        return leaves[0]
    return _unflatten(node, leaves, 0)[0]


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    return tree_flatten(tree, is_leaf)[1]


class _Mismatch(Exception):
    """Internal: carries the failing path outwards so the message can name it."""

    def __init__(self, detail: str):
        self.detail = detail
        self.path: list[Any] = []  # innermost key first; reversed when shown


def _type_name(tp) -> str:
    return "None" if tp is type(None) else tp.__name__


def _flatten_up_to(node, x, out: list) -> None:
    if node is None:
        out.append(x)
        return
    typ, aux, children = node
    if type(x) is not typ:
        raise _Mismatch(f"expected a {_type_name(typ)} node, got a value of type {_type_name(type(x))}")
    kind = _kind_of(typ)
    kids, x_aux = kind.flatten(x)
    kids = list(kids)
    if len(kids) != len(children):
        raise _Mismatch(f"expected a {_type_name(typ)} with {len(children)} children, got {len(kids)}")
    if x_aux != aux:
        raise _Mismatch(f"{_type_name(typ)} node data differs: expected {aux!r}, got {x_aux!r}")
    for key, c, k in zip(kind.keys(aux, len(kids)), children, kids):
        try:
            _flatten_up_to(c, k, out)
        except _Mismatch as m:
            m.path.append(key)
            raise


# --------------------------------------------------------------------------
# Mapping and reductions
# --------------------------------------------------------------------------


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` leafwise. Each tree in ``rest`` must have ``tree``'s structure
    as a prefix; its matching subtrees are passed to ``f`` as extra arguments."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return tree_unflatten(treedef, [f(x) for x in leaves])
    columns = [leaves] + [treedef.flatten_up_to(r) for r in rest]
    return tree_unflatten(treedef, [f(*xs) for xs in zip(*columns)])


_NO_INITIALIZER = object()


def tree_reduce(function: Callable[[Any, Any], Any], tree: Any, initializer: Any = _NO_INITIALIZER,
                is_leaf: Callable[[Any], bool] | None = None) -> Any:
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INITIALIZER:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    return all(tree_leaves(tree, is_leaf))


def tree_reduce_associative(operation: Callable[[Any, Any], Any], tree: Any, *,
                            identity: Any = _NO_INITIALIZER,
                            is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Reduce the leaves with an associative ``operation`` pairwise (a balanced tree of calls,
    depth log2(n)), so the grouping may differ from ``tree_reduce``'s left fold."""
    items = tree_leaves(tree, is_leaf)
    if not items:
        if identity is _NO_INITIALIZER:
            raise TypeError("tree_reduce_associative: the tree has no leaves; pass identity= "
                            "to reduce an empty tree.")
        return identity
    while len(items) > 1:
        paired = [operation(a, b) for a, b in zip(items[::2], items[1::2])]
        if len(items) % 2:
            paired.append(items[-1])
        items = paired
    return items[0]


def tree_broadcast(prefix_tree: Any, full_tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Repeat each leaf of ``prefix_tree`` over the subtree of ``full_tree`` it stands for;
    the result has ``full_tree``'s structure."""
    prefix_leaves, prefix_def = tree_flatten(prefix_tree, is_leaf)
    subtrees = prefix_def.flatten_up_to(full_tree)
    return tree_unflatten(prefix_def, [tree_map(lambda _, v=v: v, sub, is_leaf=is_leaf)
                                       for v, sub in zip(prefix_leaves, subtrees)])


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    return treedef.children()


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The treedef of a tuple whose children have the given structures."""
    treedefs = tuple(treedefs)
    return _make_treedef((tuple, None, tuple([t._node for t in treedefs])),
                         sum(t._num_leaves for t in treedefs))


def is_tree_node(x: Any) -> bool:
    """True if ``x`` is a pytree node (flattens into children), False for a leaf."""
    return _kind_of(type(x)) is not None


def flatten_one_level(tree: Any) -> tuple[list[Any], Any]:
    """``(children, aux_data)`` of the root node; ValueError for a leaf."""
    kind = _kind_of(type(tree))
    if kind is None:
        raise ValueError(f"flatten_one_level: {type(tree).__name__} is a leaf, not a pytree node.")
    children, aux = kind.flatten(tree)
    return list(children), aux


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    # As in JAX this counts nodes, so childless nodes like None and () are
    # "leaves" here even though they contribute no leaves when flattened.
    return treedef.num_nodes == 1


def all_leaves(iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True if every element is a leaf (would flatten to itself)."""
    if is_leaf is None:
        return all(_kind_of(type(x)) is None for x in iterable)
    return all(is_leaf(x) or _kind_of(type(x)) is None for x in iterable)


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: Any) -> Any:
    """Turn an outer-of-inner tree into an inner-of-outer tree.

    ``inner_treedef=None`` infers it from the first outer-level subtree.
    """
    if inner_treedef is None:
        firsts = outer_treedef.flatten_up_to(pytree_to_transpose)
        inner_treedef = tree_structure(firsts[0]) if firsts else _LEAF_TREEDEF
    flat, treedef = tree_flatten(pytree_to_transpose)
    expected = outer_treedef.compose(inner_treedef)
    if treedef != expected:
        raise TypeError(f"tree_transpose: structure mismatch:\n  got      {treedef!r}\n  expected {expected!r}")
    n_in, n_out = inner_treedef.num_leaves, outer_treedef.num_leaves
    rows = [flat[i * n_in:(i + 1) * n_in] for i in range(n_out)]
    cols = [tree_unflatten(outer_treedef, [row[j] for row in rows]) for j in range(n_in)]
    return tree_unflatten(inner_treedef, cols)


# --------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------


def _flatten_with_path(x, path: tuple, is_leaf, out: list):
    if is_leaf is not None and is_leaf(x):
        out.append((path, x))
        return None
    kind = _kind_of(type(x))
    if kind is None:
        out.append((path, x))
        return None
    if kind.flatten_with_keys is not None:
        pairs, aux = kind.flatten_with_keys(x)
        keys = [k for k, _ in pairs]
        children = [c for _, c in pairs]
    else:
        children, aux = kind.flatten(x)
        children = list(children)
        keys = kind.keys(aux, len(children))
    return (kind.type, aux, tuple([_flatten_with_path(c, path + (k,), is_leaf, out)
                                   for k, c in zip(keys, children)]))


def tree_flatten_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                           ) -> tuple[list[tuple[tuple, Any]], PyTreeDef]:
    """Like ``tree_flatten`` but each leaf comes as ``(key_path, leaf)``."""
    out: list[tuple[tuple, Any]] = []
    node = _flatten_with_path(tree, (), is_leaf, out)
    return out, _make_treedef(node, len(out))


def tree_leaves_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[tuple[tuple, Any]]:
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Like ``tree_map`` but calls ``f(key_path, leaf, *other_leaves)``."""
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    columns = [treedef.flatten_up_to(r) for r in rest]
    return tree_unflatten(treedef, [f(p, x, *xs) for (p, x), *xs in zip(pairs, *columns)])


# --------------------------------------------------------------------------
# Partial
# --------------------------------------------------------------------------


class Partial(functools.partial):
    """A ``functools.partial`` that is a pytree: bound args/kwargs are children,
    ``func`` is aux data (so it must be hashable; distinct functions give
    distinct treedefs). Lets a closure-with-arrays cross a jit boundary."""

    def __new__(cls, func, /, *args, **kwargs):
        # Merge nested Partials so that aux data is always the underlying
        # callable rather than a Partial object holding leaves.
        if isinstance(func, Partial):
            args = func.args + args
            kwargs = {**func.keywords, **kwargs}
            func = func.func
        return super().__new__(cls, func, *args, **kwargs)


_install(_NodeKind(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, kids: Partial(func, *kids[0], **kids[1]),
    lambda aux, n: [GetAttrKey("args"), GetAttrKey("keywords")],
    lambda func, kids: f"Partial({getattr(func, '__name__', repr(func))}, {kids[0]}, {kids[1]})",
))
