"""The module import graph of functrans, counting imports inside functions.

Run `python tools/import_graph.py` for the strongly connected components (import cycles) and
the edges that close them; tests/test_import_graph.py asserts the graph is acyclic.
"""
import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "functrans"


def module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(current, is_package, node, modules):
    """The functrans modules an import statement needs: `from X import a` needs the module
    X.a when there is one, X itself otherwise (a package's parents are not counted)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = current if is_package else current.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    if node.level == 0:
        base = node.module or ""
    elif node.module:
        base = f"{base}.{node.module}"
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
            for alias in node.names]


def import_graph():
    """{module: {imported functrans module: [(line, inside_function)]}}."""
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p): p for p in paths}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        edges = graph.setdefault(name, {})
        is_package = path.name == "__init__.py"

        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                nested = in_function or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in _resolve(name, is_package, child, modules):
                        if target in modules and target != name:
                            edges.setdefault(target, []).append((child.lineno, in_function))
                visit(child, nested)

        visit(tree, False)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def connect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return result


def main():
    graph = import_graph()
    n_edges = sum(len(e) for e in graph.values())
    n_lazy = sum(1 for e in graph.values() for sites in e.values() for _, f in sites if f)
    found = cycles(graph)
    print(f"{len(graph)} modules, {n_edges} module edges, {n_lazy} imports inside functions")
    print(f"{len(found)} cycles; largest spans {max((len(c) for c in found), default=0)} modules")
    for component in found:
        members = set(component)
        print(f"\ncycle of {len(component)}:")
        for v in component:
            for w, sites in sorted(graph[v].items()):
                if w in members:
                    where = ", ".join(f"{line}{'(fn)' if f else ''}" for line, f in sites)
                    print(f"  {v} -> {w}  [{where}]")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
