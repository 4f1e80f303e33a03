"""Graph colouring for sparse Jacobians and Hessians.

Forward mode computes J @ S for a seed matrix S. If columns j and k of J never have a nonzero in
the same row, one tangent (e_j + e_k) gives both columns at once: every row of J @ (e_j + e_k)
holds an entry of column j or of column k, never a sum of both. So colour the columns so that no
two columns sharing a row get one colour (a distance-1 colouring of the *column intersection
graph*), push one seed per colour (the sum of its columns' unit vectors) and read each nonzero
J[i, j] off the compressed product at (i, colour(j)). Reverse mode does the same with rows.

For a symmetric Hessian a *star colouring* of the adjacency graph needs fewer colours: adjacent
vertices get different colours, and every path on four vertices uses at least three colours. Then
each off-diagonal H[i, j] can be read where it stands alone: either j is i's only neighbour of
colour(j) (read (H S)[i, colour(j)]) or i is j's only neighbour of colour(i) (read
(H S)[j, colour(i)]); symmetry gives the other.

Greedy colouring visits vertices in an order and gives each the smallest colour its coloured
neighbours leave free. The order matters: largest-first (by degree) and smallest-last
(repeatedly remove a vertex of least degree; colour in reverse removal order) are tried, and
the fewer colours win. The loops run in Numba: a dense row makes the intersection graph dense,
and Python would take minutes where compiled loops take milliseconds.
"""
import functools
from dataclasses import dataclass

import numpy as np


def _compiled(fn):
    """fn compiled with Numba on its first call: importing Numba costs about 0.3 s, which
    `import functrans` should not pay for colourings few programs ask for."""
    compiled = None

    @functools.wraps(fn)
    def call(*args):
        nonlocal compiled
        if compiled is None:
            import numba
            compiled = numba.njit(cache=True)(fn)
        return compiled(*args)
    return call


@dataclass
class Coloring:
    colors: np.ndarray      # colour of each column (forward), row (reverse) or vertex (star)
    n_colors: int
    ordering: str
    kind: str               # "column", "row" or "star"

    def seeds(self):
        """The seed matrix S: (number of vertices, n_colors), S[j, colour(j)] = 1."""
        s = np.zeros((len(self.colors), self.n_colors))
        s[np.arange(len(self.colors)), self.colors] = 1.0
        return s


def _csr_parts(p):
    p = p.tocsr() if hasattr(p, "tocsr") else p
    return p.indptr.astype(np.int64), p.indices.astype(np.int64)


# --- graphs ---------------------------------------------------------------------------------------

@_compiled
def _intersection_graph(n_cols, row_ptr, row_idx, col_ptr, col_idx):
    """Adjacency (CSR, no self loops) of the column intersection graph of a pattern given as
    CSR (rows) and CSC (columns)."""
    mark = np.full(n_cols, -1, np.int64)
    counts = np.zeros(n_cols + 1, np.int64)
    for j in range(n_cols):
        mark[j] = j
        for a in range(col_ptr[j], col_ptr[j + 1]):
            i = col_idx[a]
            for b in range(row_ptr[i], row_ptr[i + 1]):
                k = row_idx[b]
                if mark[k] != j:
                    mark[k] = j
                    counts[j + 1] += 1
    for j in range(n_cols):
        counts[j + 1] += counts[j]
    adj = np.empty(counts[n_cols], np.int64)
    mark[:] = -1
    for j in range(n_cols):
        mark[j] = j
        pos = counts[j]
        for a in range(col_ptr[j], col_ptr[j + 1]):
            i = col_idx[a]
            for b in range(row_ptr[i], row_ptr[i + 1]):
                k = row_idx[b]
                if mark[k] != j:
                    mark[k] = j
                    adj[pos] = k
                    pos += 1
    return counts, adj


def intersection_graph(pattern):
    """The column intersection graph of a pattern (columns adjacent when they share a row)."""
    p = pattern.tocsr()
    row_ptr, row_idx = _csr_parts(p)
    col_ptr, col_idx = _csr_parts(p.tocsc().T.tocsr()) if p.nnz else \
        (np.zeros(p.shape[1] + 1, np.int64), np.zeros(0, np.int64))
    if not p.nnz:
        return np.zeros(p.shape[1] + 1, np.int64), np.zeros(0, np.int64)
    return _intersection_graph(p.shape[1], row_ptr, row_idx, col_ptr, col_idx)


def adjacency_graph(pattern):
    """The adjacency graph of a symmetric pattern (vertex i ~ j when H[i, j] may be nonzero,
    i != j)."""
    import scipy.sparse as sp
    p = sp.csr_array(pattern, dtype=bool)
    p = (p + p.T).tocoo()
    keep = p.row != p.col
    g = sp.csr_array((np.ones(int(keep.sum()), bool), (p.row[keep], p.col[keep])), shape=p.shape)
    g.sort_indices()
    return g.indptr.astype(np.int64), g.indices.astype(np.int64)


# --- orderings ------------------------------------------------------------------------------------

def largest_first(ptr, adj):
    degree = np.diff(ptr)
    return np.argsort(-degree, kind="stable")


@_compiled
def smallest_last(ptr, adj):
    """Repeatedly remove a vertex of least remaining degree; colour in reverse removal order."""
    n = len(ptr) - 1
    degree = np.empty(n, np.int64)
    max_deg = 0
    for v in range(n):
        degree[v] = ptr[v + 1] - ptr[v]
        if degree[v] > max_deg:
            max_deg = degree[v]
    # Bucket queue: doubly linked lists of vertices per degree.
    head = np.full(max_deg + 1, -1, np.int64)
    nxt = np.full(n, -1, np.int64)
    prv = np.full(n, -1, np.int64)
    for v in range(n):
        d = degree[v]
        nxt[v] = head[d]
        if head[d] != -1:
            prv[head[d]] = v
        head[d] = v
    removed = np.zeros(n, np.bool_)
    order = np.empty(n, np.int64)
    low = 0
    for step in range(n):
        while head[low] == -1:
            low += 1
        v = head[low]
        head[low] = nxt[v]
        if nxt[v] != -1:
            prv[nxt[v]] = -1
        removed[v] = True
        order[n - 1 - step] = v
        for a in range(ptr[v], ptr[v + 1]):
            w = adj[a]
            if removed[w]:
                continue
            d = degree[w]
            # unlink w from bucket d, push it onto bucket d - 1
            if prv[w] != -1:
                nxt[prv[w]] = nxt[w]
            else:
                head[d] = nxt[w]
            if nxt[w] != -1:
                prv[nxt[w]] = prv[w]
            degree[w] = d - 1
            prv[w] = -1
            nxt[w] = head[d - 1]
            if head[d - 1] != -1:
                prv[head[d - 1]] = w
            head[d - 1] = w
        if low > 0:
            low -= 1
    return order


ORDERINGS = {"largest_first": largest_first, "smallest_last": smallest_last}


# --- colourings -----------------------------------------------------------------------------------

@_compiled
def _greedy(ptr, adj, order):
    n = len(ptr) - 1
    color = np.full(n, -1, np.int64)
    forbidden = np.full(n + 1, -1, np.int64)
    for v in order:
        for a in range(ptr[v], ptr[v + 1]):
            c = color[adj[a]]
            if c >= 0:
                forbidden[c] = v
        c = 0
        while forbidden[c] == v:
            c += 1
        color[v] = c
    return color


@_compiled
def _star(ptr, adj, order):
    """Greedy star colouring (Gebremedhin, Manne and Pothen 2005, their first algorithm): a
    colour is forbidden for v if a neighbour has it, if a vertex two steps away has it through an
    uncoloured middle vertex, or if taking it would close a two-coloured path on four vertices."""
    n = len(ptr) - 1
    color = np.full(n, -1, np.int64)
    forbidden = np.full(n + 1, -1, np.int64)
    for v in order:
        for a in range(ptr[v], ptr[v + 1]):
            w = adj[a]
            if color[w] >= 0:
                forbidden[color[w]] = v
        for a in range(ptr[v], ptr[v + 1]):
            w = adj[a]
            for b in range(ptr[w], ptr[w + 1]):
                x = adj[b]
                if x == v or color[x] < 0:
                    continue
                if color[w] < 0:
                    forbidden[color[x]] = v
                else:
                    for c in range(ptr[x], ptr[x + 1]):
                        y = adj[c]
                        if y != w and color[y] == color[w]:
                            forbidden[color[x]] = v
                            break
        c = 0
        while forbidden[c] == v:
            c += 1
        color[v] = c
    return color


def _best(ptr, adj, colour_fn, orderings, kind):
    best = None
    for name in orderings:
        if name not in ORDERINGS:
            raise ValueError(f"colouring: unknown ordering {name!r}; choose from "
                             f"{sorted(ORDERINGS)}")
        colors = colour_fn(ptr, adj, np.asarray(ORDERINGS[name](ptr, adj), np.int64))
        k = int(colors.max()) + 1 if len(colors) else 0
        if best is None or k < best.n_colors:
            best = Coloring(colors, k, name, kind)
    return best


def color_columns(pattern, orderings=("largest_first", "smallest_last")):
    """A distance-1 colouring of the column intersection graph: columns sharing a row differ."""
    ptr, adj = intersection_graph(pattern)
    return _best(ptr, adj, _greedy, orderings, "column")


def color_rows(pattern, orderings=("largest_first", "smallest_last")):
    """Rows sharing a column get different colours (the columns of the transpose)."""
    c = color_columns(pattern.T.tocsr(), orderings)
    c.kind = "row"
    return c


def star_color(pattern, orderings=("largest_first", "smallest_last")):
    """A star colouring of a symmetric pattern's adjacency graph."""
    ptr, adj = adjacency_graph(pattern)
    return _best(ptr, adj, _star, orderings, "star")


def intersection_work(pattern):
    """Work (pairs visited) of building the intersection graph: sum of squared row lengths."""
    lengths = np.diff(pattern.tocsr().indptr).astype(np.float64)
    return float(lengths @ lengths)


# --- checks (used by tests and benchmarks) --------------------------------------------------------

def is_proper_column_coloring(pattern, colors):
    """No row has two nonzeros in columns of one colour."""
    p = pattern.tocoo()
    key = p.row.astype(np.int64) * (int(np.max(colors, initial=0)) + 1) + colors[p.col]
    return len(np.unique(key)) == len(key)


def is_star_coloring(pattern, colors):
    """Distance-1 proper, and no path on four vertices uses only two colours."""
    ptr, adj = adjacency_graph(pattern)
    return bool(_is_star(ptr, adj, np.asarray(colors, np.int64)))


@_compiled
def _is_star(ptr, adj, color):
    n = len(ptr) - 1
    for w in range(n):
        for a in range(ptr[w], ptr[w + 1]):
            x = adj[a]
            if color[x] == color[w]:
                return False
            # path v - w - x - y with color(v) == color(x) and color(y) == color(w)
            has_v = False
            for b in range(ptr[w], ptr[w + 1]):
                v = adj[b]
                if v != x and color[v] == color[x]:
                    has_v = True
                    break
            if not has_v:
                continue
            for c in range(ptr[x], ptr[x + 1]):
                y = adj[c]
                if y != w and color[y] == color[w]:
                    return False
    return True
