"""Kernels of agglomerative clustering (kmix.AgglomerativeClustering).

Without connectivity:

- ``ward_nn_chain``: scipy's nearest-neighbour chain for Ward's linkage, run on the cluster
  centroids and sizes instead of a condensed n^2/2 distance matrix, so memory is O(n d). The
  ward distance of clusters a, b is sqrt(2 n_a n_b / (n_a + n_b)) ||c_a - c_b||, the value
  scipy's Lance-Williams update gives. The chain follows scipy's conventions exactly (the
  previous chain element is preferred on ties, else the lowest index; the merged cluster
  takes the larger index); the merges are then stably sorted by distance and relabelled
  with a union-find as scipy does (``linkage_label``).
- ``mst_prim``: scikit-learn's MST-LINKAGE-CORE (Prim) for single linkage on the vectors,
  with the same distance arithmetic (features summed in order) and the same tie-breaking.

The nearest-neighbour scans of both (``_hierarchy.h``) run over the live clusters stored in
tiles of 16 (vectorised across clusters, pruned exactly once a tile cannot win), compacted
as clusters die, in blocks over several threads when that pays; the first minimum is kept
whatever the split, so results do not depend on ``n_threads``.

With a connectivity graph: compiled ports of scikit-learn's heap algorithms
(``ward_tree`` and ``linkage_tree`` in sklearn/cluster/_agglomerative.py). The heap is a
port of CPython's heapq (same sift rules), so edges of equal weight pop in the same order.
"""
import numpy as np

from cython.parallel cimport prange
from libc.math cimport sqrt, fmax, INFINITY, NAN
from libc.stdlib cimport malloc, realloc, free

from _interrupt cimport check_interrupt, monotonic


cdef extern from "_hierarchy.h" nogil:
    enum:
        KMIX_HC_TILE
    int kmix_hc_has_avx2()
    Py_ssize_t kmix_hc_index(Py_ssize_t d, Py_ssize_t f, Py_ssize_t p)
    double kmix_ward_value(const double *V, Py_ssize_t d, const double *x, const double *s,
                           double nx, Py_ssize_t p)
    Py_ssize_t kmix_ward_scan(const double *V, Py_ssize_t d, const double *x, const double *s,
                              double nx, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t skip,
                              double bound, double *best)
    Py_ssize_t kmix_prim_scan(const double *V, Py_ssize_t d, const double *x, double *cd,
                              Py_ssize_t p0, Py_ssize_t p1, int manhattan, double *best)
    Py_ssize_t kmix_closest_row(const double *g, double xi, const double *yy, Py_ssize_t p,
                                double *row, double *dist)

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define kmix_hc_wtime() omp_get_wtime()
    #else
    #define kmix_hc_wtime() 0.0
    #endif
    """
    double kmix_hc_wtime() noexcept nogil

cdef enum:
    # Positions per parallel block of a scan (a multiple of the tile), and with
    # force_threads (many blocks on small data, to test how blocks are combined).
    SCAN_BLOCK = 2048
    TEST_BLOCK = 64
    # Below this many positions x features a scan always runs on one thread.
    PAR_MIN_WORK = 262144
    # Scans between two tries of the mode (one thread or all) that looks slower: from
    # MIN_TRY_GAP, doubled after each try that confirms it, up to MAX_TRY_GAP.
    MIN_TRY_GAP = 16
    MAX_TRY_GAP = 16384
    # Live sets smaller than this are never compacted.
    COMPACT_MIN = 512


cdef inline Py_ssize_t imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline bint is_dead(double s) noexcept nogil:
    return s != s


cdef inline Py_ssize_t _padded(Py_ssize_t m) noexcept nogil:
    """m rounded up to whole tiles."""
    return (m + KMIX_HC_TILE - 1) // KMIX_HC_TILE * KMIX_HC_TILE


def simd_enabled():
    """Whether the AVX2 scans run (CPU support, and KMIX_DISABLE_SIMD unset at first use)."""
    return bool(kmix_hc_has_avx2())


def _tiled(const double[:, ::1] X):
    """The rows of X in the tiled layout of _hierarchy.h (padding positions hold NaN)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p, f
    V_arr = np.full(_padded(n) * d, np.nan)
    cdef double[::1] V = V_arr
    with nogil:
        for p in range(n):
            for f in range(d):
                V[kmix_hc_index(d, f, p)] = X[p, f]
    return V_arr


# ---------------------------------------------------------------------------------------------
# First-argmin scans, on one thread or several
# ---------------------------------------------------------------------------------------------
ctypedef struct Scan:
    # what to scan: ward values (kind 0) or Prim distances (kind 1) from the vector x
    int kind
    const double *V       # tiled vectors of the positions
    Py_ssize_t d
    const double *x
    double *s             # ward: cluster sizes; Prim: current distances (updated)
    double nx             # ward: size of x's cluster
    Py_ssize_t skip       # ward: position of x itself
    double bound          # ward: only values below it count
    int manhattan         # Prim: L1 distances
    # blocks of a parallel scan: positions per block, best value and position of each
    Py_ssize_t block
    double *blk_best
    Py_ssize_t *blk_idx
    int n_threads
    bint force_threads    # every scan in small blocks over the threads (to test that path)
    # which mode is faster here and now: moving averages of the seconds per position of
    # one-thread (0) and threaded (1) scans, the number of scans that could use threads,
    # when to try the other mode next and the current gap between tries
    double cost[2]
    Py_ssize_t n_eligible
    Py_ssize_t next_try
    Py_ssize_t try_gap


cdef inline Py_ssize_t _scan_range(Scan *sc, Py_ssize_t p0, Py_ssize_t p1,
                                   double *best) noexcept nogil:
    if sc.kind == 0:
        return kmix_ward_scan(sc.V, sc.d, sc.x, sc.s, sc.nx, p0, p1, sc.skip, sc.bound, best)
    return kmix_prim_scan(sc.V, sc.d, sc.x, sc.s, p0, p1, sc.manhattan, best)


cdef Py_ssize_t _scan_threads(Scan *sc, Py_ssize_t m, double *best) noexcept nogil:
    """The scan of [0, m) in blocks over the threads; blocks are combined in order with
    strict <, so the first position of the minimum wins as in a one-thread scan."""
    cdef Py_ssize_t size = sc.block, nb = (m + sc.block - 1) // sc.block, b, bi = -1
    cdef double bv = INFINITY
    for b in prange(nb, schedule='static', num_threads=sc.n_threads):
        sc.blk_idx[b] = _scan_range(sc, b * size, imin((b + 1) * size, m), &sc.blk_best[b])
    for b in range(nb):
        if sc.blk_idx[b] >= 0 and (bi < 0 or sc.blk_best[b] < bv):
            bv = sc.blk_best[b]
            bi = sc.blk_idx[b]
    best[0] = bv if bi >= 0 else sc.blk_best[0]
    return bi


cdef Py_ssize_t _scan(Scan *sc, Py_ssize_t m, double *best) noexcept nogil:
    """First position of the minimum over [0, m) (m a multiple of the tile) and the
    minimum.

    Threads pay off only for large scans and while the cores are free: a thread waiting
    for a busy core stalls the scan (by milliseconds, against a fraction of one for the
    scan). So large scans use the mode, one thread or all, that has been faster lately,
    and now and then try the other; each try that loses doubles the wait before the next.
    Both modes give the same result."""
    cdef int mode, best_mode
    cdef double t, c
    cdef Py_ssize_t bi
    if sc.n_threads <= 1:
        return _scan_range(sc, 0, m, best)
    if sc.force_threads:
        return _scan_threads(sc, m, best)
    if m * sc.d < PAR_MIN_WORK:
        return _scan_range(sc, 0, m, best)
    sc.n_eligible += 1
    best_mode = 1 if sc.cost[1] < sc.cost[0] else 0
    mode = best_mode
    if sc.n_eligible <= 2:
        mode = <int>(sc.n_eligible - 1)
    elif sc.n_eligible >= sc.next_try:
        mode = 1 - best_mode
    t = kmix_hc_wtime()
    if mode == 1:
        bi = _scan_threads(sc, m, best)
    else:
        bi = _scan_range(sc, 0, m, best)
    c = (kmix_hc_wtime() - t) / m
    if sc.n_eligible <= 2:
        sc.cost[mode] = c
    else:
        sc.cost[mode] = 0.75 * sc.cost[mode] + 0.25 * c
    if sc.n_eligible >= sc.next_try and sc.n_eligible > 2:
        if mode != best_mode and c >= sc.cost[best_mode]:
            sc.try_gap = imin(2 * sc.try_gap, MAX_TRY_GAP)
        else:
            sc.try_gap = MIN_TRY_GAP
        sc.next_try = sc.n_eligible + sc.try_gap
    return bi


cdef void _scan_init(Scan *sc, int kind, const double *V, Py_ssize_t d, double *s,
                     double *blk_best, Py_ssize_t *blk_idx, int n_threads,
                     bint force_threads) noexcept nogil:
    sc.kind = kind
    sc.V = V
    sc.d = d
    sc.x = NULL
    sc.s = s
    sc.nx = 1.0
    sc.skip = -1
    sc.bound = INFINITY
    sc.manhattan = 0
    sc.blk_best = blk_best
    sc.blk_idx = blk_idx
    sc.n_threads = n_threads
    sc.force_threads = force_threads
    sc.block = TEST_BLOCK if force_threads else SCAN_BLOCK
    sc.cost[0] = 0.0
    sc.cost[1] = 0.0
    sc.n_eligible = 0
    sc.next_try = MIN_TRY_GAP
    sc.try_gap = MIN_TRY_GAP


cdef Py_ssize_t _compact(double *V, Py_ssize_t d, double *s, Py_ssize_t *ids, Py_ssize_t m,
                         Py_ssize_t *posmap) noexcept nogil:
    """Drop the dead positions of [0, m) (s is NaN), keeping the order; posmap[old] = new
    position. The freed positions up to the next tile become dead padding. Returns the new
    number of positions, rounded up to whole tiles."""
    cdef Py_ssize_t p, q = 0, f, end
    for p in range(m):
        if not is_dead(s[p]):
            posmap[p] = q
            if q != p:
                for f in range(d):
                    V[kmix_hc_index(d, f, q)] = V[kmix_hc_index(d, f, p)]
                s[q] = s[p]
                ids[q] = ids[p]
            q += 1
    end = _padded(q)
    for p in range(q, end):
        s[p] = NAN
        for f in range(d):
            V[kmix_hc_index(d, f, p)] = NAN
    return end


# ---------------------------------------------------------------------------------------------
# Ward: nearest-neighbour chain on centroids
# ---------------------------------------------------------------------------------------------
cdef Py_ssize_t _nearest(Scan *sc, double *cx, Py_ssize_t m, const Py_ssize_t *chain,
                         Py_ssize_t length, double *cur) noexcept nogil:
    """Nearest cluster to the one on top of the chain, and its ward value in cur; the
    previous element of the chain wins ties (scipy's rule, which prevents cycles)."""
    cdef Py_ssize_t x = chain[length - 1], y = -1, p, f
    cdef double v
    for f in range(sc.d):
        cx[f] = sc.V[kmix_hc_index(sc.d, f, x)]
    sc.x = cx
    sc.nx = sc.s[x]
    sc.skip = x
    sc.bound = INFINITY
    if length > 1:
        # only clusters strictly closer than the previous element can replace it
        y = chain[length - 2]
        sc.bound = kmix_ward_value(sc.V, sc.d, cx, sc.s, sc.nx, y)
    cur[0] = sc.bound
    p = _scan(sc, m, &v)
    if p >= 0:
        cur[0] = v
        y = p
    return y


cdef void _ward_merge(double *V, Py_ssize_t d, double *s, Py_ssize_t x,
                      Py_ssize_t y) noexcept nogil:
    """Cluster y becomes the union of x and y; x dies (NaN size and centroid). The centroid
    moves from the larger cluster's towards the smaller one's, so merging equal centroids
    leaves them exact."""
    cdef Py_ssize_t f, iy, ib, i_s, big = y, small = x
    cdef double total = s[x] + s[y], w
    if s[x] > s[y]:
        big = x
        small = y
    w = s[small] / total
    for f in range(d):
        iy = kmix_hc_index(d, f, y)
        ib = kmix_hc_index(d, f, big)
        i_s = kmix_hc_index(d, f, small)
        V[iy] = V[ib] + (V[i_s] - V[ib]) * w
        V[kmix_hc_index(d, f, x)] = NAN
    s[y] = total
    s[x] = NAN


cdef int _ward_chain(Scan *sc, double *V, Py_ssize_t n, Py_ssize_t d, double *s,
                     Py_ssize_t *ids, double *Z, Py_ssize_t *chain, char *in_chain,
                     Py_ssize_t *posmap, double *cx) except -2 nogil:
    """scipy's nn_chain (method='ward') on the centroids; writes the unsorted (n-1) x 4
    linkage (original indices x < y, distance, size) to Z. Returns -1 if a value is not
    finite; handles pending signals between merges (Ctrl-C raises KeyboardInterrupt)."""
    cdef Py_ssize_t m = _padded(n), dead = 0, length = 0, k, i, x, y, t
    cdef double cur, last_check = monotonic()
    cdef bint mutual
    for k in range(n - 1):
        check_interrupt(&last_check)
        if length == 0:
            x = 0
            while is_dead(s[x]):
                x += 1
            chain[0] = x
            in_chain[x] = 1
            length = 1
        while True:
            x = chain[length - 1]
            y = _nearest(sc, cx, m, chain, length, &cur)
            if y < 0:
                return -1
            mutual = length > 1 and y == chain[length - 2]
            if mutual or in_chain[y]:
                # (in the chain but not mutual: a cycle, impossible in exact arithmetic;
                # merge and restart rather than loop)
                break
            chain[length] = y
            in_chain[y] = 1
            length += 1
        if mutual:
            length -= 2
            in_chain[x] = 0
            in_chain[y] = 0
        else:
            for i in range(length):
                in_chain[chain[i]] = 0
            length = 0
        if x > y:
            t = x
            x = y
            y = t
        Z[4 * k] = ids[x]
        Z[4 * k + 1] = ids[y]
        Z[4 * k + 2] = sqrt(cur)
        Z[4 * k + 3] = s[x] + s[y]
        _ward_merge(V, d, s, x, y)
        dead += 1
        if m >= COMPACT_MIN and 4 * dead > m:
            m = _compact(V, d, s, ids, m, posmap)
            dead = 0
            for i in range(length):
                in_chain[chain[i]] = 0
                chain[i] = posmap[chain[i]]
            for i in range(length):
                in_chain[chain[i]] = 1
    return 0


def ward_nn_chain(const double[:, ::1] X, int n_threads, bint force_threads=False):
    """Ward linkage matrix of X (scipy's format, shape (n-1, 4)) in O(n d) memory.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64, C-contiguous
    n_threads : int
        Threads of the nearest-neighbour scans (the result does not depend on it).
    force_threads : bool, default=False
        Split every scan in small blocks over the threads (to test that path).

    Returns
    -------
    Z : ndarray of shape (n_samples - 1, 4)
        As ``scipy.cluster.hierarchy.ward(X)``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], cap = _padded(X.shape[0])
    if n < 2:
        raise ValueError("ward_nn_chain needs at least 2 samples")
    cdef double[::1] V = _tiled(X)
    s_arr = np.full(cap, np.nan)
    s_arr[:n] = 1.0
    cdef double[::1] s = s_arr
    cdef Py_ssize_t[::1] ids = np.arange(cap, dtype=np.intp)
    Z_arr = np.empty((n - 1, 4))
    cdef double[:, ::1] Z = Z_arr
    cdef Py_ssize_t[::1] chain = np.empty(n, dtype=np.intp)
    cdef char[::1] in_chain = np.zeros(cap, dtype=np.int8)
    cdef Py_ssize_t[::1] posmap = np.empty(cap, dtype=np.intp)
    cdef double[::1] cx = np.empty(d)
    cdef Py_ssize_t nb = cap // TEST_BLOCK + 1
    cdef double[::1] blk_best = np.empty(nb)
    cdef Py_ssize_t[::1] blk_idx = np.empty(nb, dtype=np.intp)
    cdef int status
    cdef Scan sc
    with nogil:
        _scan_init(&sc, 0, &V[0], d, &s[0], &blk_best[0], &blk_idx[0], n_threads,
                   force_threads)
        status = _ward_chain(&sc, &V[0], n, d, &s[0], &ids[0], &Z[0, 0], &chain[0],
                             &in_chain[0], &posmap[0], &cx[0])
    if status != 0:
        raise ValueError("Ward linkage failed: the data must be finite (no overflow).")
    Z_arr = Z_arr[np.argsort(Z_arr[:, 2], kind="mergesort")]
    linkage_label(Z_arr)
    return Z_arr


def linkage_label(double[:, ::1] Z):
    """Relabel, in place, a linkage matrix whose rows name clusters by any of their original
    points (scipy's ``label`` after nn_chain): rows become (smaller id, larger id, distance,
    size) with the ids of merged clusters numbered n, n+1, ... in row order."""
    cdef Py_ssize_t n = Z.shape[0] + 1, i, x, y, xr, yr
    cdef Py_ssize_t[::1] parent = np.arange(2 * n - 1, dtype=np.intp)
    cdef Py_ssize_t[::1] size = np.ones(2 * n - 1, dtype=np.intp)
    with nogil:
        for i in range(n - 1):
            x = <Py_ssize_t>Z[i, 0]
            y = <Py_ssize_t>Z[i, 1]
            xr = _find_root(&parent[0], x)
            yr = _find_root(&parent[0], y)
            if xr < yr:
                Z[i, 0] = xr
                Z[i, 1] = yr
            else:
                Z[i, 0] = yr
                Z[i, 1] = xr
            parent[xr] = n + i
            parent[yr] = n + i
            size[n + i] = size[xr] + size[yr]
            Z[i, 3] = size[n + i]


cdef inline Py_ssize_t _find_root(Py_ssize_t *parent, Py_ssize_t x) noexcept nogil:
    """Root of x in a forest where roots are their own parent, compressing the path."""
    cdef Py_ssize_t r = x, nxt
    while parent[r] != r:
        r = parent[r]
    while parent[x] != r:
        nxt = parent[x]
        parent[x] = r
        x = nxt
    return r


# ---------------------------------------------------------------------------------------------
# Single linkage: Prim on the vectors, and the MST -> linkage labelling
# ---------------------------------------------------------------------------------------------
cdef int _prim(Scan *sc, const double *X, double *V, Py_ssize_t n, Py_ssize_t d,
               double *cd, Py_ssize_t *ids, double *out, Py_ssize_t *posmap) except -1 nogil:
    """Prim's steps (pending signals handled between them: Ctrl-C raises KeyboardInterrupt)."""
    cdef Py_ssize_t m = _padded(n), dead = 0, i, cur = 0, p
    cdef double v, last_check = monotonic()
    for i in range(n - 1):
        check_interrupt(&last_check)
        cd[cur] = NAN
        dead += 1
        sc.x = X + ids[cur] * d
        p = _scan(sc, m, &v)
        if p < 0:
            # every remaining distance is infinite (overflow): take the first remaining point
            p = 0
            while is_dead(cd[p]):
                p += 1
        out[3 * i] = ids[cur]
        out[3 * i + 1] = ids[p]
        out[3 * i + 2] = v
        cur = p
        if m >= COMPACT_MIN and 4 * dead > m:
            m = _compact(V, d, cd, ids, m, posmap)
            cur = posmap[cur]
            dead = 0
    return 0


def mst_prim(const double[:, ::1] X, bint manhattan, int n_threads, bint force_threads=False):
    """Minimum spanning tree edges of X in Prim's order (scikit-learn's mst_linkage_core).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64, C-contiguous
    manhattan : bool
        Manhattan (L1) distances instead of Euclidean ones.
    n_threads : int
    force_threads : bool, default=False
        Split every scan in small blocks over the threads (to test that path).

    Returns
    -------
    mst : ndarray of shape (n_samples - 1, 3)
        Rows (node in the tree, new node, distance), unsorted.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], cap = _padded(X.shape[0])
    if n < 2:
        raise ValueError("mst_prim needs at least 2 samples")
    cdef double[::1] V = _tiled(X)
    cd_arr = np.full(cap, np.nan)
    cd_arr[:n] = np.inf
    cdef double[::1] cd = cd_arr
    cdef Py_ssize_t[::1] ids = np.arange(cap, dtype=np.intp)
    out_arr = np.empty((n - 1, 3))
    cdef double[:, ::1] out = out_arr
    cdef Py_ssize_t[::1] posmap = np.empty(cap, dtype=np.intp)
    cdef Py_ssize_t nb = cap // TEST_BLOCK + 1
    cdef double[::1] blk_best = np.empty(nb)
    cdef Py_ssize_t[::1] blk_idx = np.empty(nb, dtype=np.intp)
    cdef Scan sc
    with nogil:
        _scan_init(&sc, 1, &V[0], d, &cd[0], &blk_best[0], &blk_idx[0], n_threads,
                   force_threads)
        sc.manhattan = manhattan
        _prim(&sc, &X[0, 0], &V[0], n, d, &cd[0], &ids[0], &out[0, 0], &posmap[0])
    return out_arr


def single_linkage_label(const double[:, ::1] L):
    """Linkage matrix (n-1, 4) from MST edges sorted by weight (scikit-learn's
    ``_single_linkage_label``: rows keep the (left, right) order of the edges)."""
    cdef Py_ssize_t n = L.shape[0] + 1, i, a, b, ar, br, nxt = n
    out_arr = np.zeros((n - 1, 4))
    cdef double[:, ::1] out = out_arr
    cdef Py_ssize_t[::1] parent = np.arange(2 * n - 1, dtype=np.intp)
    cdef Py_ssize_t[::1] size = np.zeros(2 * n - 1, dtype=np.intp)
    size[:n] = 1
    with nogil:
        for i in range(n - 1):
            a = <Py_ssize_t>L[i, 0]
            b = <Py_ssize_t>L[i, 1]
            ar = _find_root(&parent[0], a)
            br = _find_root(&parent[0], b)
            out[i, 0] = ar
            out[i, 1] = br
            out[i, 2] = L[i, 2]
            out[i, 3] = size[ar] + size[br]
            parent[ar] = nxt
            parent[br] = nxt
            size[nxt] = size[ar] + size[br]
            nxt += 1
    return out_arr


# ---------------------------------------------------------------------------------------------
# A port of CPython's heapq on (weight, a, b) edges
# ---------------------------------------------------------------------------------------------
cdef extern from *:
    """
    #if defined(__GNUC__)
    #define kmix_prefetch(p) __builtin_prefetch(p)
    #else
    #define kmix_prefetch(p) ((void)0)
    #endif
    """
    void kmix_prefetch(const void *p) noexcept nogil

ctypedef struct Edge:
    double w
    int a
    int b

ctypedef struct Heap:
    # entries data[0 .. size); data[-1] starts a 64-byte line, so the four grandchildren
    # 4i+3 .. 4i+6 of entry i share one cache line (prefetched while sifting)
    Edge *data
    void *raw
    Py_ssize_t size
    Py_ssize_t cap
    # True: compare (w, a, b) as Python tuples (ward_tree); False: weights only
    # (scikit-learn's WeightedEdge, linkage_tree).
    bint lexico


cdef inline bint _lt(const Edge *x, const Edge *y, bint lexico) noexcept nogil:
    if not lexico or x.w != y.w:
        return x.w < y.w
    if x.a != y.a:
        return x.a < y.a
    return x.b < y.b


cdef void _siftdown(Heap *h, Py_ssize_t startpos, Py_ssize_t pos) noexcept nogil:
    cdef Edge newitem = h.data[pos]
    cdef Py_ssize_t parentpos
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        if _lt(&newitem, &h.data[parentpos], h.lexico):
            h.data[pos] = h.data[parentpos]
            pos = parentpos
            continue
        break
    h.data[pos] = newitem


cdef void _siftup(Heap *h, Py_ssize_t pos) noexcept nogil:
    cdef Py_ssize_t endpos = h.size, startpos = pos, childpos, limit = h.size >> 1
    cdef Edge newitem = h.data[pos]
    while pos < limit:
        childpos = 2 * pos + 1
        kmix_prefetch(&h.data[4 * pos + 3])
        if childpos + 1 < endpos and not _lt(&h.data[childpos], &h.data[childpos + 1],
                                             h.lexico):
            childpos += 1
        h.data[pos] = h.data[childpos]
        pos = childpos
    h.data[pos] = newitem
    _siftdown(h, startpos, pos)


cdef void _heapify(Heap *h) noexcept nogil:
    cdef Py_ssize_t i
    for i in range((h.size >> 1) - 1, -1, -1):
        _siftup(h, i)


cdef int _heap_reserve(Heap *h, Py_ssize_t cap) noexcept nogil:
    """Room for cap entries (the entries move to a new, aligned block)."""
    cdef char *raw
    cdef Edge *data
    cdef Py_ssize_t i
    if cap <= h.cap:
        return 0
    raw = <char*>malloc((cap + 1) * sizeof(Edge) + 64)
    if raw == NULL:
        return -1
    data = <Edge*>(raw + (64 - (<size_t>raw) % 64) % 64) + 1
    for i in range(h.size):
        data[i] = h.data[i]
    free(h.raw)
    h.raw = raw
    h.data = data
    h.cap = cap
    return 0


cdef void _heap_init(Heap *h, bint lexico) noexcept nogil:
    h.data = NULL
    h.raw = NULL
    h.size = 0
    h.cap = 0
    h.lexico = lexico


cdef int _heap_append(Heap *h, double w, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """Append an edge at the end of the heap's list (no sift: list.append)."""
    if h.size == h.cap and _heap_reserve(h, 2 * h.cap + 16) != 0:
        return -1
    h.data[h.size].w = w
    h.data[h.size].a = <int>a
    h.data[h.size].b = <int>b
    h.size += 1
    return 0


cdef int _heappush(Heap *h, double w, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    if _heap_append(h, w, a, b) != 0:
        return -1
    _siftdown(h, 0, h.size - 1)
    return 0


cdef Edge _heappop(Heap *h) noexcept nogil:
    """Pop the smallest edge (the caller checks that the heap is not empty)."""
    cdef Edge last = h.data[h.size - 1], top
    h.size -= 1
    if h.size == 0:
        return last
    top = h.data[0]
    h.data[0] = last
    _siftup(h, 0)
    return top


# ---------------------------------------------------------------------------------------------
# Growable per-node lists (keys sorted when built as scikit-learn's IntFloatDict)
# ---------------------------------------------------------------------------------------------
ctypedef struct NodeList:
    Py_ssize_t *key
    double *val
    Py_ssize_t len
    Py_ssize_t cap


cdef int _reserve(NodeList *L, Py_ssize_t cap, bint with_values) noexcept nogil:
    cdef Py_ssize_t *k
    cdef double *v
    if cap <= L.cap:
        return 0
    k = <Py_ssize_t*>realloc(L.key, cap * sizeof(Py_ssize_t))
    if k == NULL:
        return -1
    L.key = k
    if with_values:
        v = <double*>realloc(L.val, cap * sizeof(double))
        if v == NULL:
            return -1
        L.val = v
    L.cap = cap
    return 0


cdef int _append(NodeList *L, Py_ssize_t key, double val, bint with_values) noexcept nogil:
    if L.len == L.cap and _reserve(L, 2 * L.cap + 4, with_values) != 0:
        return -1
    L.key[L.len] = key
    if with_values:
        L.val[L.len] = val
    L.len += 1
    return 0


cdef void _release(NodeList *L) noexcept nogil:
    free(L.key)
    free(L.val)
    L.key = NULL
    L.val = NULL
    L.len = 0
    L.cap = 0


cdef NodeList* _new_lists(Py_ssize_t n_nodes) noexcept nogil:
    cdef NodeList *A = <NodeList*>malloc(n_nodes * sizeof(NodeList))
    cdef Py_ssize_t i
    if A != NULL:
        for i in range(n_nodes):
            A[i].key = NULL
            A[i].val = NULL
            A[i].len = 0
            A[i].cap = 0
    return A


cdef void _free_lists(NodeList *A, Py_ssize_t n_nodes) noexcept nogil:
    cdef Py_ssize_t i
    if A != NULL:
        for i in range(n_nodes):
            _release(&A[i])
        free(A)


# ---------------------------------------------------------------------------------------------
# Ward with connectivity (scikit-learn's ward_tree)
# ---------------------------------------------------------------------------------------------
cdef double _ward_inertia(const double *m1, const double *m2, Py_ssize_t d, Py_ssize_t row,
                          Py_ssize_t col) noexcept nogil:
    """scikit-learn's compute_ward_dist for one pair, same operations."""
    cdef double n = (m1[row] * m1[col]) / (m1[row] + m1[col]), pa = 0.0, t
    cdef Py_ssize_t f
    for f in range(d):
        t = m2[row * d + f] / m1[row] - m2[col * d + f] / m1[col]
        pa += t * t
    return pa * n


ctypedef struct WardTree:
    # The tree scikit-learn's ward_tree builds over n samples of d features (n_nodes nodes:
    # samples first, then merges).
    Py_ssize_t n
    Py_ssize_t d
    Py_ssize_t n_nodes
    double *m1               # INOUT n_nodes: each node's size (the samples' set to 1)
    double *m2               # INOUT n_nodes x d: each node's sum of samples
    Py_ssize_t *children     # OUT (n_nodes - n) x 2: the nodes merged by each merge
    Py_ssize_t *parent       # OUT n_nodes: each node's parent (itself at first)
    double *dist             # OUT n_nodes - n: each merge's inertia increase
    Py_ssize_t *root         # scratch n_nodes: each node's current head (union-find)
    Py_ssize_t *stamp        # scratch n_nodes (-1): the last merge that visited a head


cdef int _ward_initial_pairs(const WardTree *t, const Py_ssize_t *indptr,
                             const Py_ssize_t *indices, NodeList *A, Heap *h) noexcept nogil:
    """The samples' neighbour lists (the graph's rows) and the heap of their pairs (ind, col)
    with col < ind, in row order. Returns -1 when out of memory."""
    cdef Py_ssize_t ind, p
    for ind in range(t.n):
        if _reserve(&A[ind], indptr[ind + 1] - indptr[ind], False) != 0:
            return -1
        for p in range(indptr[ind], indptr[ind + 1]):
            A[ind].key[A[ind].len] = indices[p]
            A[ind].len += 1
            if indices[p] < ind:
                if _heappush(h, _ward_inertia(t.m1, t.m2, t.d, ind, indices[p]), ind,
                             indices[p]) != 0:
                    return -1
    return 0


cdef int _ward_connectivity(WardTree *t, const Py_ssize_t *indptr, const Py_ssize_t *indices,
                            NodeList *A, Heap *h) noexcept nogil:
    """scikit-learn's ward_tree loop: merge the closest pair of current heads (by Ward's
    inertia) until n_nodes nodes exist. Returns 0, -1 when out of memory, -2 when the graph
    ran out of edges."""
    cdef Py_ssize_t p, k, i, j, c, node, r, f, n = t.n, d = t.d
    cdef char *used = <char*>malloc(t.n_nodes)
    cdef Edge e
    if used == NULL:
        return -1
    for i in range(t.n_nodes):
        used[i] = 1
    if _ward_initial_pairs(t, indptr, indices, A, h) != 0:
        free(used)
        return -1
    for k in range(n, t.n_nodes):
        while True:
            if h.size == 0:
                free(used)
                return -2
            e = _heappop(h)
            if used[e.a] and used[e.b]:
                break
        i = e.a
        j = e.b
        t.parent[i] = k
        t.parent[j] = k
        t.root[i] = k
        t.root[j] = k
        t.children[2 * (k - n)] = j
        t.children[2 * (k - n) + 1] = i
        used[i] = 0
        used[j] = 0
        t.dist[k - n] = e.w
        t.m1[k] = t.m1[i] + t.m1[j]
        for f in range(d):
            t.m2[k * d + f] = t.m2[i * d + f] + t.m2[j * d + f]
        # heads of the neighbours of i then j, first-visit order
        t.stamp[k] = k
        for c in range(2):
            node = i if c == 0 else j
            for p in range(A[node].len):
                r = _find_root(t.root, A[node].key[p])
                if t.stamp[r] != k:
                    t.stamp[r] = k
                    if _append(&A[k], r, 0.0, False) != 0:
                        free(used)
                        return -1
        for p in range(A[k].len):
            c = A[k].key[p]
            if _append(&A[c], k, 0.0, False) != 0:
                free(used)
                return -1
            if _heappush(h, _ward_inertia(t.m1, t.m2, d, k, c), k, c) != 0:
                free(used)
                return -1
        # i and j are no longer heads: their lists are never read again
        _release(&A[i])
        _release(&A[j])
    free(used)
    return 0


def ward_tree_connectivity(const double[:, ::1] X, const Py_ssize_t[::1] indptr,
                           const Py_ssize_t[::1] indices, Py_ssize_t n_nodes):
    """scikit-learn's ``ward_tree`` with a connectivity graph, compiled.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    indptr, indices : CSR structure of the (symmetric, connected) connectivity graph, each
        row's columns in increasing order (as in scikit-learn's LIL rows).
    n_nodes : int
        2 n_samples - 1 for the full tree, 2 n_samples - n_clusters to stop early.

    Returns
    -------
    children : ndarray of shape (n_nodes - n_samples, 2)
    parent : ndarray of shape (n_nodes,)
    distances : ndarray of shape (n_nodes - n_samples,)
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], n_merges = n_nodes - n
    _check_n_nodes(n_nodes)
    cdef double[::1] m1 = np.zeros(n_nodes)
    m2_arr = np.zeros((n_nodes, d))
    m2_arr[:n] = X
    m1[:n] = 1.0
    cdef double[:, ::1] m2 = m2_arr
    children_arr = np.empty((n_merges, 2), dtype=np.intp)
    cdef Py_ssize_t[:, ::1] children = children_arr
    parent_arr = np.arange(n_nodes, dtype=np.intp)
    cdef Py_ssize_t[::1] parent = parent_arr
    cdef Py_ssize_t[::1] root = np.arange(n_nodes, dtype=np.intp)
    cdef Py_ssize_t[::1] stamp = np.full(n_nodes, -1, dtype=np.intp)
    dist_arr = np.empty(n_merges)
    cdef double[::1] dist = dist_arr
    cdef NodeList *A = _new_lists(n_nodes)
    cdef Heap h
    cdef WardTree t
    cdef int status
    if A == NULL:
        raise MemoryError()
    _heap_init(&h, True)
    t.n = n
    t.d = d
    t.n_nodes = n_nodes
    t.m1 = &m1[0]
    t.m2 = &m2[0, 0] if d > 0 else NULL
    t.children = &children[0, 0] if n_merges > 0 else NULL
    t.parent = &parent[0]
    t.dist = &dist[0] if n_merges > 0 else NULL
    t.root = &root[0]
    t.stamp = &stamp[0]
    with nogil:
        status = _ward_connectivity(&t, &indptr[0], &indices[0], A, &h)
        _free_lists(A, n_nodes)
        free(h.raw)
    _raise_for_status(status)
    return children_arr, parent_arr, np.sqrt(2.0 * dist_arr)


cdef _check_n_nodes(Py_ssize_t n_nodes):
    if n_nodes >= 2**31 - 1:
        raise ValueError("too many samples for the connectivity algorithms (2**30 at most)")


cdef _raise_for_status(int status):
    if status == -1:
        raise MemoryError()
    if status == -2:
        raise ValueError("the connectivity graph ran out of edges before the tree was built")


# ---------------------------------------------------------------------------------------------
# Complete / average with connectivity (scikit-learn's linkage_tree)
# ---------------------------------------------------------------------------------------------
cdef int _merge_lists(const NodeList *a, const NodeList *b, const Py_ssize_t *used,
                      Py_ssize_t n_a, Py_ssize_t n_b, bint average, NodeList *out) noexcept nogil:
    """scikit-learn's max_merge / average_merge of two key-sorted lists into out."""
    cdef Py_ssize_t ia = 0, ib = 0, ka, kb
    cdef double n_out = <double>(n_a + n_b), v
    if _reserve(out, a.len + b.len, True) != 0:
        return -1
    while ia < a.len or ib < b.len:
        ka = a.key[ia] if ia < a.len else -1
        kb = b.key[ib] if ib < b.len else -1
        if kb < 0 or (ka >= 0 and ka < kb):
            if used[ka]:
                out.key[out.len] = ka
                out.val[out.len] = a.val[ia]
                out.len += 1
            ia += 1
        elif ka < 0 or kb < ka:
            if used[kb]:
                out.key[out.len] = kb
                out.val[out.len] = b.val[ib]
                out.len += 1
            ib += 1
        else:
            if used[ka]:
                if average:
                    v = (n_a * a.val[ia] + n_b * b.val[ib]) / n_out
                else:
                    v = fmax(a.val[ia], b.val[ib])
                out.key[out.len] = ka
                out.val[out.len] = v
                out.len += 1
            ia += 1
            ib += 1
    return 0


cdef int _linkage_connectivity(Py_ssize_t n, Py_ssize_t n_nodes, const Py_ssize_t *indptr,
                               const Py_ssize_t *indices, const double *data, bint average,
                               Py_ssize_t *children, Py_ssize_t *parent, double *dist,
                               Py_ssize_t *used, NodeList *A, Heap *h) noexcept nogil:
    cdef Py_ssize_t ind, p, k, i, j, n_i, n_j, c
    cdef Edge e
    for ind in range(n):
        if _reserve(&A[ind], indptr[ind + 1] - indptr[ind], True) != 0:
            return -1
        for p in range(indptr[ind], indptr[ind + 1]):
            A[ind].key[A[ind].len] = indices[p]
            A[ind].val[A[ind].len] = data[p]
            A[ind].len += 1
            # the list is built in row order and heapified, as scikit-learn does
            if indices[p] < ind and _heap_append(h, data[p], ind, indices[p]) != 0:
                return -1
    _heapify(h)
    for k in range(n, n_nodes):
        while True:
            if h.size == 0:
                return -2
            e = _heappop(h)
            if used[e.a] and used[e.b]:
                break
        i = e.a
        j = e.b
        dist[k - n] = e.w
        parent[i] = k
        parent[j] = k
        children[2 * (k - n)] = j
        children[2 * (k - n) + 1] = i
        n_i = used[i]
        n_j = used[j]
        used[k] = n_i + n_j
        used[i] = 0
        used[j] = 0
        if _merge_lists(&A[i], &A[j], used, n_i, n_j, average, &A[k]) != 0:
            return -1
        for p in range(A[k].len):
            c = A[k].key[p]
            if _append(&A[c], k, A[k].val[p], True) != 0:
                return -1
            if _heappush(h, A[k].val[p], k, c) != 0:
                return -1
        _release(&A[i])
        _release(&A[j])
    return 0


def linkage_tree_connectivity(Py_ssize_t n, const Py_ssize_t[::1] indptr,
                              const Py_ssize_t[::1] indices, const double[::1] data,
                              Py_ssize_t n_nodes, bint average):
    """scikit-learn's ``linkage_tree`` with a connectivity graph ('complete' or 'average').

    Parameters
    ----------
    n : int
        Number of samples.
    indptr, indices, data : CSR graph of the distances between connected samples (no
        diagonal, each row's columns in increasing order).
    n_nodes : int
        2 n - 1 for the full tree, 2 n - n_clusters to stop early.
    average : bool
        Average linkage (else complete).

    Returns
    -------
    children : ndarray of shape (n_nodes - n, 2)
    parent : ndarray of shape (n_nodes,)
    distances : ndarray of shape (n_nodes - n,)
    """
    cdef Py_ssize_t n_merges = n_nodes - n, nnz = indices.shape[0]
    _check_n_nodes(n_nodes)
    children_arr = np.empty((n_merges, 2), dtype=np.intp)
    cdef Py_ssize_t[:, ::1] children = children_arr
    parent_arr = np.arange(n_nodes, dtype=np.intp)
    cdef Py_ssize_t[::1] parent = parent_arr
    cdef Py_ssize_t[::1] used = np.ones(n_nodes, dtype=np.intp)
    dist_arr = np.empty(n_merges)
    cdef double[::1] dist = dist_arr
    cdef NodeList *A = _new_lists(n_nodes)
    cdef Heap h
    cdef int status
    if A == NULL:
        raise MemoryError()
    _heap_init(&h, False)
    if _heap_reserve(&h, nnz // 2 + 16) != 0:
        _free_lists(A, n_nodes)
        raise MemoryError()
    with nogil:
        status = _linkage_connectivity(n, n_nodes, &indptr[0],
                                       &indices[0] if nnz > 0 else NULL,
                                       &data[0] if nnz > 0 else NULL, average,
                                       &children[0, 0] if n_merges > 0 else NULL,
                                       &parent[0], &dist[0] if n_merges > 0 else NULL,
                                       &used[0], A, &h)
        _free_lists(A, n_nodes)
        free(h.raw)
    _raise_for_status(status)
    return children_arr, parent_arr, dist_arr


def hc_get_heads(Py_ssize_t[::1] parents):
    """Replace, in place, each node's parent by the head (root) of its tree
    (scikit-learn's ``hc_get_heads`` with copy=False)."""
    cdef Py_ssize_t size = parents.shape[0], node0, node, parent
    with nogil:
        for node0 in range(size - 1, -1, -1):
            node = node0
            parent = parents[node]
            while parent != node:
                parents[node0] = parent
                node = parent
                parent = parents[node]


def propagate_labels(const Py_ssize_t[:, ::1] children, Py_ssize_t n_leaves,
                     Py_ssize_t[::1] node_label):
    """Give every descendant of a labelled node its label, top-down (children of node
    n_leaves + i are children[i], always smaller ids). Unlabelled nodes hold -1; leaves
    left unlabelled get 0. Returns the leaves' labels."""
    cdef Py_ssize_t node, lab, c
    with nogil:
        for node in range(n_leaves + children.shape[0] - 1, n_leaves - 1, -1):
            lab = node_label[node]
            if lab >= 0:
                for c in range(2):
                    node_label[children[node - n_leaves, c]] = lab
        for node in range(n_leaves):
            if node_label[node] < 0:
                node_label[node] = 0
    return np.asarray(node_label[:n_leaves]).copy()


def closest_euclidean(const double[:, ::1] G, const double[::1] xx, const double[::1] yy):
    """First (row-major) position of the minimum of
    sqrt(max((-2 G[i, j] + xx[i]) + yy[j], 0)), scikit-learn's euclidean_distances from the
    dot products G. Returns (i, j, value)."""
    cdef Py_ssize_t m = G.shape[0], p = G.shape[1], i, j, bi = 0, bj = 0
    cdef double best = INFINITY, v
    cdef double[::1] row = np.empty(p)
    if m == 0 or p == 0:
        raise ValueError("empty block")
    with nogil:
        for i in range(m):
            j = kmix_closest_row(&G[i, 0], xx[i], &yy[0], p, &row[0], &v)
            if v < best:
                best = v
                bi = i
                bj = j
    return bi, bj, best
