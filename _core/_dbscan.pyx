"""DBSCAN kernels: neighbour counts, core-core components and border labels.

Two neighbour sources, neither holding per-point lists:

* a uniform grid (Euclidean data): points sorted by cell, cells of side >= eps over a few
  chosen dimensions, so every neighbour of a point lies in one of the 3^g adjacent cells.
  Three passes recompute the distances instead of storing the edges: weighted neighbour
  counts (parallel over cells), a concurrent union-find over core-core pairs, and the label
  of each border point. Memory is O(n d) plus, per cell, its adjacent points as at most
  3^(g-1) runs of sorted positions;
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
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free

from _common cimport sq_dist

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
    # scikit-learn's KD-tree serves up to 15 features; from 16 on it uses brute force.
    WIDE_FEATURES = 16
    # Cells handed to a thread at a time (cells differ widely in size: dynamic schedule).
    CELL_CHUNK = 16


cdef inline bint _within(const double *x, const double *y, Py_ssize_t d,
                         double eps2) noexcept nogil:
    """||x - y||^2 <= eps2, the squares summed in feature order (as scikit-learn's KD-tree
    does); partial sums only grow, so stopping once they exceed eps2 changes no answer.
    Written out for d <= 3 (same order of operations). From WIDE_FEATURES on (where
    scikit-learn's brute force sums in another order anyway), kmix's vectorised sq_dist."""
    cdef double s, t, u, v
    cdef Py_ssize_t f
    if d == 2:
        t = x[0] - y[0]
        u = x[1] - y[1]
        return t * t + u * u <= eps2
    if d == 3:
        t = x[0] - y[0]
        u = x[1] - y[1]
        v = x[2] - y[2]
        return (t * t + u * u) + v * v <= eps2
    if d == 1:
        t = x[0] - y[0]
        return t * t <= eps2
    if d >= WIDE_FEATURES:
        return sq_dist(x, y, d) <= eps2
    s = 0.0
    for f in range(d):
        t = x[f] - y[f]
        s = s + t * t
        if (f & 7) == 7 and s > eps2:
            return False
    return s <= eps2


# --------------------------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------------------------
cdef inline Py_ssize_t _gallop(const int64_t *keys, Py_ssize_t lo, Py_ssize_t hi,
                               int64_t key) noexcept nogil:
    """First position in keys[lo:hi] (sorted) whose key is >= key, by a galloping search
    from lo (cheap when it is near: the adjacent cells are looked up in ascending order)."""
    cdef Py_ssize_t step = 1, mid
    while lo + step < hi and keys[lo + step] < key:
        lo += step
        step *= 2
    if keys[lo] >= key:
        return lo
    # keys[lo] < key <= keys[hi'] with hi' = min(lo + step, hi)
    hi = lo + step if lo + step < hi else hi
    lo += 1
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef Py_ssize_t _adjacent_runs(const int64_t *keys, const Py_ssize_t *start, Py_ssize_t ncells,
                               Py_ssize_t c, const int64_t *offsets, Py_ssize_t m,
                               Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """The points of the non-empty cells at key(c) + offsets, as runs [lo, hi) of sorted
    positions (adjacent cells with consecutive keys are contiguous: one run); NULL lo/hi only
    counts the runs. The offsets come in ascending triples o - 1, o, o + 1 (the first grid
    dimension has stride 1): one search per triple."""
    cdef Py_ssize_t j, t, pos = 0, cnt = 0, last = -2
    cdef int64_t key
    for j in range(0, m, 3):
        key = keys[c] + offsets[j]
        if pos >= ncells:
            break
        pos = _gallop(keys, pos, ncells, key)
        for t in range(3):
            if pos >= ncells or keys[pos] > key + t:
                continue
            # keys[pos] == key + t
            if pos == last + 1:
                if hi != NULL:
                    hi[cnt - 1] = start[pos + 1]
            else:
                if lo != NULL:
                    lo[cnt] = start[pos]
                    hi[cnt] = start[pos + 1]
                cnt += 1
            last = pos
            pos += 1
    return cnt


def cell_runs(const int64_t[::1] keys, const Py_ssize_t[::1] start,
              const int64_t[::1] offsets, int n_threads):
    """For each cell, the points of its adjacent non-empty cells (itself included) as runs of
    sorted positions, ascending: (run_ptr, run_lo, run_hi), runs of cell c at
    run_ptr[c]:run_ptr[c + 1]. keys: the sorted distinct cell keys; start: the cell starts;
    offsets: the ascending key offsets of the 3^g neighbouring cells."""
    cdef Py_ssize_t ncells = keys.shape[0], m = offsets.shape[0], c, j
    cdef Py_ssize_t[::1] ptr = np.zeros(ncells + 1, dtype=np.intp)
    if start.shape[0] != ncells + 1:
        raise ValueError("start must have one entry per cell, plus one")
    for c in prange(ncells, nogil=True, schedule='static', num_threads=n_threads):
        ptr[c + 1] = _adjacent_runs(&keys[0], &start[0], ncells, c, &offsets[0], m, NULL, NULL)
    for c in range(ncells):
        ptr[c + 1] += ptr[c]
    cdef Py_ssize_t[::1] lo = np.empty(ptr[ncells], dtype=np.intp)
    cdef Py_ssize_t[::1] hi = np.empty(ptr[ncells], dtype=np.intp)
    for c in prange(ncells, nogil=True, schedule='static', num_threads=n_threads):
        j = _adjacent_runs(&keys[0], &start[0], ncells, c, &offsets[0], m, &lo[ptr[c]],  # no-cython-lint
                           &hi[ptr[c]])
    return np.asarray(ptr), np.asarray(lo), np.asarray(hi)


ctypedef struct GridC:
    const double *X           # n x d points, sorted by cell
    const Py_ssize_t *start   # ncells + 1 cell starts
    const Py_ssize_t *run_ptr  # runs of cell c: run_ptr[c] .. run_ptr[c + 1]
    const Py_ssize_t *run_lo   # a run: the sorted positions run_lo[k] .. run_hi[k]
    const Py_ssize_t *run_hi
    Py_ssize_t n, d, ncells
    double eps2


cdef class Grid:
    """Points sorted by cell (float64 rows), the cell starts and the runs of adjacent points.

    Holds the arrays (kept alive here) and a struct of raw pointers for the nogil passes.
    """
    cdef const double[:, ::1] X
    cdef const Py_ssize_t[::1] start, run_ptr, run_lo, run_hi
    cdef GridC c

    def __init__(self, const double[:, ::1] X, const Py_ssize_t[::1] start,
                 const Py_ssize_t[::1] run_ptr, const Py_ssize_t[::1] run_lo,
                 const Py_ssize_t[::1] run_hi, double eps2):
        cdef Py_ssize_t ncells = start.shape[0] - 1
        if X.shape[0] == 0 or ncells < 1 or start[ncells] != X.shape[0]:
            raise ValueError("cell starts do not cover the points")
        if run_ptr.shape[0] != ncells + 1 or run_ptr[ncells] != run_lo.shape[0] \
                or run_lo.shape[0] != run_hi.shape[0] or run_lo.shape[0] == 0:
            raise ValueError("runs do not match the cells")
        self.X = X
        self.start = start
        self.run_ptr = run_ptr
        self.run_lo = run_lo
        self.run_hi = run_hi
        self.c.X = &X[0, 0]
        self.c.start = &start[0]
        self.c.run_ptr = &run_ptr[0]
        self.c.run_lo = &run_lo[0]
        self.c.run_hi = &run_hi[0]
        self.c.n = X.shape[0]
        self.c.d = X.shape[1]
        self.c.ncells = ncells
        self.c.eps2 = eps2


cdef void _count_cell(const GridC *g, Py_ssize_t c, const double *w,
                      double *counts) noexcept nogil:
    """counts[p] = sum of w[q] over the neighbours q of each point p of cell c (p included),
    in ascending order of q; the number of neighbours if w is NULL."""
    cdef Py_ssize_t p, q, k, m, d = g.d
    cdef double acc
    cdef const double *X = g.X
    for p in range(g.start[c], g.start[c + 1]):
        acc = 0.0
        m = 0
        for k in range(g.run_ptr[c], g.run_ptr[c + 1]):
            if w == NULL:
                for q in range(g.run_lo[k], g.run_hi[k]):
                    m += _within(X + p * d, X + q * d, d, g.eps2)
            else:
                for q in range(g.run_lo[k], g.run_hi[k]):
                    # adding 0.0 leaves the sum unchanged: no branch to mispredict
                    acc = acc + (w[q] if _within(X + p * d, X + q * d, d, g.eps2) else 0.0)
        counts[p] = acc if w != NULL else <double>m


def grid_counts(Grid grid, const double[::1] w, double[::1] counts, int n_threads):
    """Weighted neighbour counts of every (sorted) point; plain counts if w is None."""
    cdef Py_ssize_t c
    cdef const GridC *g = &grid.c
    cdef const double *wp = NULL
    if counts.shape[0] != g.n or (w is not None and w.shape[0] != g.n):
        raise ValueError("w and counts must have one entry per point")
    if w is not None:
        wp = &w[0]
    for c in prange(g.ncells, nogil=True, schedule='dynamic', chunksize=CELL_CHUNK,
                    num_threads=n_threads):
        _count_cell(g, c, wp, &counts[0])


cdef void _union_cell(const GridC *g, Py_ssize_t c, const unsigned char *core,
                      Py_ssize_t *parent) noexcept nogil:
    """Union each core point p of cell c with its core neighbours q < p (each pair once: the
    adjacent points before p are those of the adjacent cells <= c)."""
    cdef Py_ssize_t p, q, k, qend, rp, d = g.d
    cdef const double *X = g.X
    for p in range(g.start[c], g.start[c + 1]):
        if not core[p]:
            continue
        rp = kmix_uf_find(parent, p)
        for k in range(g.run_ptr[c], g.run_ptr[c + 1]):
            if g.run_lo[k] >= p:
                break
            qend = g.run_hi[k] if g.run_hi[k] < p else p
            for q in range(g.run_lo[k], qend):
                # most core neighbours are already joined: compare roots before distances
                if core[q] and kmix_uf_find(parent, q) != rp and \
                        _within(X + p * d, X + q * d, d, g.eps2):
                    kmix_uf_union(parent, p, q)
                    rp = kmix_uf_find(parent, p)


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
    cdef Py_ssize_t p, q, k, best, d = g.d
    cdef const double *X = g.X
    for p in range(g.start[c], g.start[c + 1]):
        if core[p]:
            continue
        best = -1
        for k in range(g.run_ptr[c], g.run_ptr[c + 1]):
            for q in range(g.run_lo[k], g.run_hi[k]):
                if core[q] and (best < 0 or labels[q] < best) and \
                        _within(X + p * d, X + q * d, d, g.eps2):
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


cdef inline Py_ssize_t _reach(Py_ssize_t j, Py_ssize_t k, const unsigned char *core,
                              Py_ssize_t *labels, Py_ssize_t *stack,
                              Py_ssize_t top) noexcept nogil:
    """Point j, unlabelled and a neighbour, joins cluster k; a core point is pushed to be
    expanded. Returns the new stack top."""
    labels[j] = k
    if core[j]:
        stack[top] = j
        top += 1
    return top


cdef inline Py_ssize_t _expand(const floating *values, const int64_t *indices,
                               const int64_t *indptr, Py_ssize_t n, double thr,
                               const unsigned char *core, Py_ssize_t *labels) except -1:
    """scikit-learn's cluster expansion over a neighbourhood graph; returns the cluster count.

    The graph is dense distance rows (``indptr`` NULL: ``values`` is n x n) or CSR (``values``
    the stored distances, ``indices`` and ``indptr`` their columns and row ranges); an edge
    exists where the distance is <= thr. Depth-first from each unlabelled core point in index
    order; a point joins the cluster when first reached and only core points are expanded.
    The set each cluster gets (everything reachable through unlabelled core points) is the one
    of scikit-learn's stack, which labels on pop: the order of discovery changes nothing.
    """
    cdef Py_ssize_t i, j, p, v, top, k = 0
    cdef const floating *row
    cdef Py_ssize_t *stack = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
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
                if indptr == NULL:
                    row = values + v * n
                    for j in range(n):
                        if labels[j] == -1 and row[j] <= thr:
                            top = _reach(j, k, core, labels, stack, top)
                else:
                    for p in range(indptr[v], indptr[v + 1]):
                        j = indices[p]
                        if labels[j] == -1 and values[p] <= thr:
                            top = _reach(j, k, core, labels, stack, top)
            k += 1
    free(stack)
    return k


def dense_expand(const floating[:, ::1] D, double thr, const unsigned char[::1] core,
                 Py_ssize_t[::1] labels):
    """scikit-learn's cluster expansion on dense distance rows (see :func:`_expand`).

    Parameters
    ----------
    D : (n, n) float32 or float64, IN
        Distances between the points.
    thr : float, IN
        The largest distance that makes two points neighbours.
    core : (n,) uint8, IN
        Whether each point is a core point.
    labels : (n,) intp, OUT
        The cluster of each point, -1 for noise.

    Returns
    -------
    The number of clusters.
    """
    cdef Py_ssize_t n = D.shape[0]
    if core.shape[0] != n or labels.shape[0] != n:
        raise ValueError("core and labels must have one entry per row")
    if n == 0:
        return 0
    return _expand(&D[0, 0], NULL, NULL, n, thr, &core[0], &labels[0])


def csr_expand(const floating[::1] data, const int64_t[::1] indices,
               const int64_t[::1] indptr, double thr, const unsigned char[::1] core,
               Py_ssize_t[::1] labels):
    """scikit-learn's cluster expansion over the stored entries <= thr of CSR rows (see
    :func:`_expand`).

    Parameters
    ----------
    data, indices, indptr : CSR arrays of an (n, n) matrix, IN
        The stored distances (float32 or float64), their columns and the rows' ranges
        (int64). Unstored pairs are not neighbours.
    thr, core, labels : IN, IN, OUT
        As for :func:`dense_expand`.

    Returns
    -------
    The number of clusters.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    if core.shape[0] != n or labels.shape[0] != n:
        raise ValueError("core and labels must have one entry per row")
    if n == 0:
        return 0
    return _expand(&data[0] if data.shape[0] > 0 else NULL,
                   &indices[0] if indices.shape[0] > 0 else NULL, &indptr[0], n, thr,
                   &core[0], &labels[0])
