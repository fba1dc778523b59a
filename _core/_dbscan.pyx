"""DBSCAN kernels: neighbour counts, core-core components and border labels.

Two neighbour sources, neither holding per-point lists:

* a uniform grid (Euclidean data): points sorted by cell, cells of side >= eps over a few
  chosen dimensions, so every neighbour of a point lies in one of the 3^g adjacent cells.
  Three passes recompute the distances instead of storing the edges: weighted neighbour
  counts (parallel over cells), a concurrent union-find over core-core pairs, and the label
  of each border point. Memory is O(n d + cells x 3^g);
* a neighbourhood graph (precomputed distances, dense rows or CSR): weighted counts per row
  (parallel), then the cluster expansion of scikit-learn's ``dbscan_inner`` (exactly its
  semantics, also for non-symmetric graphs) with one stack of at most n entries.

Clusters come out as scikit-learn numbers them: by the smallest core index of each
component; a border point takes the lowest-numbered cluster among its core neighbours.
Every value depends only on the inputs, never on the thread count: each count is summed by
one thread in a fixed order, the union-find yields the same partition in any order, and
labels are minima.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free

cdef extern from *:
    """
    /* Concurrent union-find (link the larger root under the smaller, by CAS). Parents only
     * ever point to smaller indices, so the root of a component is its smallest member and
     * path halving by plain atomic stores is safe under concurrent links. */
    static inline Py_ssize_t kmix_uf_find(Py_ssize_t *parent, Py_ssize_t x) {
        Py_ssize_t p = __atomic_load_n(&parent[x], __ATOMIC_RELAXED);
        while (p != x) {
            Py_ssize_t g = __atomic_load_n(&parent[p], __ATOMIC_RELAXED);
            if (g != p) __atomic_store_n(&parent[x], g, __ATOMIC_RELAXED);
            x = p;
            p = g;
        }
        return x;
    }
    static inline void kmix_uf_union(Py_ssize_t *parent, Py_ssize_t a, Py_ssize_t b) {
        for (;;) {
            a = kmix_uf_find(parent, a);
            b = kmix_uf_find(parent, b);
            if (a == b) return;
            if (a < b) { Py_ssize_t t = a; a = b; b = t; }
            Py_ssize_t expected = a;
            if (__atomic_compare_exchange_n(&parent[a], &expected, b, 0,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return;
        }
    }
    """
    Py_ssize_t kmix_uf_find(Py_ssize_t *parent, Py_ssize_t x) noexcept nogil
    void kmix_uf_union(Py_ssize_t *parent, Py_ssize_t a, Py_ssize_t b) noexcept nogil


cdef enum:
    # Cells handed to a thread at a time (cells differ widely in size: dynamic schedule).
    CELL_CHUNK = 16


cdef inline bint _within(const double *x, const double *y, Py_ssize_t d,
                         double eps2) noexcept nogil:
    """||x - y||^2 <= eps2, the squares summed in feature order (as scikit-learn's KD-tree
    does); partial sums only grow, so stopping once they exceed eps2 changes no answer."""
    cdef double s = 0.0, t
    cdef Py_ssize_t f
    for f in range(d):
        t = x[f] - y[f]
        s = s + t * t
        if (f & 7) == 7 and s > eps2:
            return False
    return s <= eps2


# --------------------------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------------------------
cdef inline Py_ssize_t _lower_bound(const int64_t *keys, Py_ssize_t lo, Py_ssize_t hi,
                                    int64_t key) noexcept nogil:
    """First position in keys[lo:hi] (sorted) whose key is >= key."""
    cdef Py_ssize_t mid
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef Py_ssize_t _adjacent(const int64_t *keys, Py_ssize_t ncells, Py_ssize_t c,
                          const int64_t *offsets, Py_ssize_t m, int *out) noexcept nogil:
    """The non-empty cells at key(c) + offsets (ascending), written to out; their count."""
    cdef Py_ssize_t j, pos = 0, cnt = 0
    cdef int64_t key
    for j in range(m):
        key = keys[c] + offsets[j]
        pos = _lower_bound(keys, pos, ncells, key)
        if pos == ncells:
            break
        if keys[pos] == key:
            out[cnt] = <int>pos
            cnt += 1
    return cnt


def cell_adjacency(const int64_t[::1] keys, const int64_t[::1] offsets, int n_threads):
    """CSR lists (indptr, cells) of the non-empty cells adjacent to each cell (itself included),
    in ascending cell order. keys: the sorted distinct cell keys; offsets: the ascending key
    offsets of the 3^g neighbouring cells."""
    cdef Py_ssize_t ncells = keys.shape[0], m = offsets.shape[0], c, j
    cdef Py_ssize_t[::1] indptr = np.zeros(ncells + 1, dtype=np.intp)
    cdef int *buf
    with nogil, parallel(num_threads=n_threads):
        buf = <int*>malloc(m * sizeof(int))
        for c in prange(ncells, schedule='static'):
            indptr[c + 1] = _adjacent(&keys[0], ncells, c, &offsets[0], m, buf)
        free(buf)
    for c in range(ncells):
        indptr[c + 1] += indptr[c]
    cdef int[::1] cells = np.empty(indptr[ncells], dtype=np.int32)
    with nogil:
        for c in prange(ncells, schedule='static', num_threads=n_threads):
            j = _adjacent(&keys[0], ncells, c, &offsets[0], m, &cells[indptr[c]])
    return np.asarray(indptr), np.asarray(cells)


ctypedef struct GridC:
    const double *X          # n x d points, sorted by cell
    const Py_ssize_t *start  # ncells + 1 cell starts
    const Py_ssize_t *adj_ptr
    const int *adj           # adjacent non-empty cells of each cell, ascending
    Py_ssize_t n, d, ncells
    double eps2


cdef class Grid:
    """Points sorted by cell (float64 rows), the cell starts and the adjacent-cell lists.

    Holds the arrays (kept alive here) and a struct of raw pointers for the nogil passes.
    """
    cdef const double[:, ::1] X
    cdef const Py_ssize_t[::1] start
    cdef const Py_ssize_t[::1] adj_ptr
    cdef const int[::1] adj
    cdef GridC c

    def __init__(self, const double[:, ::1] X, const Py_ssize_t[::1] start,
                 const Py_ssize_t[::1] adj_ptr, const int[::1] adj, double eps2):
        cdef Py_ssize_t ncells = start.shape[0] - 1
        if X.shape[0] == 0 or ncells < 1 or start[ncells] != X.shape[0]:
            raise ValueError("cell starts do not cover the points")
        if adj_ptr.shape[0] != ncells + 1 or adj_ptr[ncells] != adj.shape[0]:
            raise ValueError("adjacency does not match the cells")
        self.X = X
        self.start = start
        self.adj_ptr = adj_ptr
        self.adj = adj
        self.c.X = &X[0, 0]
        self.c.start = &start[0]
        self.c.adj_ptr = &adj_ptr[0]
        self.c.adj = &adj[0] if adj.shape[0] > 0 else NULL
        self.c.n = X.shape[0]
        self.c.d = X.shape[1]
        self.c.ncells = ncells
        self.c.eps2 = eps2


cdef void _count_cell(const GridC *g, Py_ssize_t c, const double *w,
                      double *counts) noexcept nogil:
    """counts[p] = sum of w[q] over the neighbours q of each point p of cell c (p included),
    in ascending order of q."""
    cdef Py_ssize_t p, q, k, b
    cdef double acc
    cdef const double *X = g.X
    for p in range(g.start[c], g.start[c + 1]):
        acc = 0.0
        for k in range(g.adj_ptr[c], g.adj_ptr[c + 1]):
            b = g.adj[k]
            for q in range(g.start[b], g.start[b + 1]):
                if _within(X + p * g.d, X + q * g.d, g.d, g.eps2):
                    acc = acc + w[q]
        counts[p] = acc


def grid_counts(Grid grid, const double[::1] w, double[::1] counts, int n_threads):
    """Weighted neighbour counts of every (sorted) point."""
    cdef Py_ssize_t c
    cdef const GridC *g = &grid.c
    if w.shape[0] != g.n or counts.shape[0] != g.n:
        raise ValueError("w and counts must have one entry per point")
    for c in prange(g.ncells, nogil=True, schedule='dynamic', chunksize=CELL_CHUNK,
                    num_threads=n_threads):
        _count_cell(g, c, &w[0], &counts[0])


cdef void _union_cell(const GridC *g, Py_ssize_t c, const unsigned char *core,
                      Py_ssize_t *parent) noexcept nogil:
    """Union the core points of cell c with their core neighbours in cells <= c (each pair
    once)."""
    cdef Py_ssize_t p, q, k, b, qend
    cdef const double *X = g.X
    for p in range(g.start[c], g.start[c + 1]):
        if not core[p]:
            continue
        for k in range(g.adj_ptr[c], g.adj_ptr[c + 1]):
            b = g.adj[k]
            if b > c:
                break
            qend = p if b == c else g.start[b + 1]
            for q in range(g.start[b], qend):
                if core[q] and _within(X + p * g.d, X + q * g.d, g.d, g.eps2):
                    kmix_uf_union(parent, p, q)


def grid_union(Grid grid, const unsigned char[::1] core, Py_ssize_t[::1] parent,
               int n_threads):
    """Connected components of the core-core neighbour graph, into the union-find forest
    ``parent`` (over sorted positions; initialised by the caller to the identity)."""
    cdef Py_ssize_t c
    cdef const GridC *g = &grid.c
    if core.shape[0] != g.n or parent.shape[0] != g.n:
        raise ValueError("core and parent must have one entry per point")
    for c in prange(g.ncells, nogil=True, schedule='dynamic', chunksize=CELL_CHUNK,
                    num_threads=n_threads):
        _union_cell(g, c, &core[0], &parent[0])


cdef void _border_cell(const GridC *g, Py_ssize_t c, const unsigned char *core,
                       Py_ssize_t *labels) noexcept nogil:
    """Non-core points of cell c: the smallest label of their core neighbours, or -1."""
    cdef Py_ssize_t p, q, k, b, best
    cdef const double *X = g.X
    for p in range(g.start[c], g.start[c + 1]):
        if core[p]:
            continue
        best = -1
        for k in range(g.adj_ptr[c], g.adj_ptr[c + 1]):
            b = g.adj[k]
            for q in range(g.start[b], g.start[b + 1]):
                if core[q] and (best < 0 or labels[q] < best) and \
                        _within(X + p * g.d, X + q * g.d, g.d, g.eps2):
                    best = labels[q]
        labels[p] = best


def grid_borders(Grid grid, const unsigned char[::1] core, Py_ssize_t[::1] labels,
                 int n_threads):
    """Labels of the non-core points, from the labels of the core points (sorted positions).
    Core labels are only read, non-core ones only written: no two threads touch one entry."""
    cdef Py_ssize_t c
    cdef const GridC *g = &grid.c
    if core.shape[0] != g.n or labels.shape[0] != g.n:
        raise ValueError("core and labels must have one entry per point")
    for c in prange(g.ncells, nogil=True, schedule='dynamic', chunksize=CELL_CHUNK,
                    num_threads=n_threads):
        _border_cell(g, c, &core[0], &labels[0])


def component_labels(Py_ssize_t[::1] parent, const unsigned char[::1] core,
                     const Py_ssize_t[::1] order, Py_ssize_t[::1] labels):
    """labels[p] (sorted positions) of the core points: their component's number, components
    numbered by their smallest original index ``order[p]``; -1 for the others."""
    cdef Py_ssize_t n = parent.shape[0], p, r, i, k = 0
    cdef Py_ssize_t[::1] first = np.full(n, n, dtype=np.intp)
    cdef Py_ssize_t[::1] root_of = np.full(n, -1, dtype=np.intp)
    if core.shape[0] != n or order.shape[0] != n or labels.shape[0] != n:
        raise ValueError("parent, core, order and labels must have the same length")
    with nogil:
        for p in range(n):
            if core[p]:
                r = kmix_uf_find(&parent[0], p)
                if order[p] < first[r]:
                    first[r] = order[p]
        for r in range(n):
            if first[r] < n:
                root_of[first[r]] = r
        for i in range(n):
            if root_of[i] >= 0:
                first[root_of[i]] = k      # reuse: the root's cluster number
                k += 1
        for p in range(n):
            labels[p] = first[kmix_uf_find(&parent[0], p)] if core[p] else -1
    return k


# --------------------------------------------------------------------------------------------
# a precomputed neighbourhood graph
# --------------------------------------------------------------------------------------------
def dense_counts(const floating[:, ::1] D, double thr, const double[::1] w,
                 double[::1] counts, int n_threads):
    """counts[i] = sum of w[j] over j with D[i, j] <= thr (in column order)."""
    cdef Py_ssize_t n = D.shape[0], i, j
    cdef double acc
    if D.shape[1] != n or w.shape[0] != n or counts.shape[0] != n:
        raise ValueError("D must be square, w and counts of its size")
    for i in prange(n, nogil=True, schedule='static', num_threads=n_threads):
        acc = 0.0
        for j in range(n):
            if D[i, j] <= thr:
                acc = acc + w[j]
        counts[i] = acc


def csr_counts(const floating[::1] data, const int64_t[::1] indices,
               const int64_t[::1] indptr, double thr, bint implicit_diagonal,
               const double[::1] w, double[::1] counts, int n_threads):
    """counts[i] = sum of w[j] over the stored entries (i, j) of row i with value <= thr (a
    duplicate entry counts each time), plus w[i] if implicit_diagonal and (i, i) is not
    stored (scikit-learn makes every point its own neighbour at distance 0)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, i, k
    cdef double acc
    cdef bint has_diag
    if w.shape[0] != n or counts.shape[0] != n:
        raise ValueError("w and counts must have one entry per row")
    for i in prange(n, nogil=True, schedule='static', num_threads=n_threads):
        acc = 0.0
        has_diag = False
        for k in range(indptr[i], indptr[i + 1]):
            if indices[k] == i:
                has_diag = True
            if data[k] <= thr:
                acc = acc + w[indices[k]]
        if implicit_diagonal and not has_diag:
            acc = acc + w[i]
        counts[i] = acc


def dense_expand(const floating[:, ::1] D, double thr, const unsigned char[::1] core,
                 Py_ssize_t[::1] labels):
    """scikit-learn's cluster expansion on dense distance rows; returns the cluster count."""
    cdef Py_ssize_t n = D.shape[0], i, j, v, top, k = 0
    cdef Py_ssize_t *stack
    if core.shape[0] != n or labels.shape[0] != n:
        raise ValueError("core and labels must have one entry per row")
    stack = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    if stack == NULL:
        raise MemoryError()
    with nogil:
        for i in range(n):
            labels[i] = -1
        for i in range(n):
            if labels[i] != -1 or not core[i]:
                continue
            labels[i] = k
            stack[0] = i
            top = 1
            while top > 0:
                top -= 1
                v = stack[top]
                for j in range(n):
                    if labels[j] == -1 and D[v, j] <= thr:
                        labels[j] = k
                        if core[j]:
                            stack[top] = j
                            top += 1
            k += 1
    free(stack)
    return k


def csr_expand(const floating[::1] data, const int64_t[::1] indices,
               const int64_t[::1] indptr, double thr, const unsigned char[::1] core,
               Py_ssize_t[::1] labels):
    """scikit-learn's cluster expansion over the stored entries <= thr of CSR rows.

    Depth-first from each unlabelled core point in index order; a point joins the cluster when
    first reached and only core points are expanded. The set each cluster gets (everything
    reachable through unlabelled core points) is the one of scikit-learn's stack, which labels
    on pop: the order of discovery changes nothing. Returns the cluster count.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, i, j, v, p, top, k = 0
    cdef Py_ssize_t *stack
    if core.shape[0] != n or labels.shape[0] != n:
        raise ValueError("core and labels must have one entry per row")
    stack = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    if stack == NULL:
        raise MemoryError()
    with nogil:
        for i in range(n):
            labels[i] = -1
        for i in range(n):
            if labels[i] != -1 or not core[i]:
                continue
            labels[i] = k
            stack[0] = i
            top = 1
            while top > 0:
                top -= 1
                v = stack[top]
                for p in range(indptr[v], indptr[v + 1]):
                    j = indices[p]
                    if labels[j] == -1 and data[p] <= thr:
                        labels[j] = k
                        if core[j]:
                            stack[top] = j
                            top += 1
            k += 1
    free(stack)
    return k
