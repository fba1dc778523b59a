"""Per-sample sums of Euclidean distances to every cluster: the reduction behind silhouettes.

S[i, c] = sum over samples j with label c of ||x_i - x_j||, for all i, in O(n^2 d) time and
O(n k) memory: rows are taken in blocks, columns in tiles gathered in label order (so each
tile is a few runs of one label), distances computed as scikit-learn does
(sqrt(max(||x||^2 + ||y||^2 - 2 x.y, 0)) with gemm, in float64, 0 for i == j), and each run
summed into S. No n x n matrix, and no tile larger than ROW_BLOCK x COL_TILE doubles. Each
S[i, :] is summed by one thread in a fixed order: results do not depend on ``n_threads``.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport malloc, free

from _common cimport imin, partial_dists


cdef extern from "_silhouette.h" nogil:
    void kmix_sil_row(double *g, Py_ssize_t m, double an, Py_ssize_t self,
                      const Py_ssize_t *run_start, const int *run_label, Py_ssize_t nruns,
                      double *S_row)

cdef enum:
    ROW_BLOCK = 128
    COL_TILE = 1024
    SYM_BLOCK = 256
    # Fixed number of accumulation lanes of the symmetric reduction (never the thread count).
    LANES = 4


cdef struct Labelled:
    # IN: the n samples (d features) in label order, for k labels.
    Py_ssize_t n
    Py_ssize_t d
    Py_ssize_t k
    const Py_ssize_t *order      # n: the samples in label order (stable)
    const Py_ssize_t *position   # n: each sample's place in that order (one-sided sums only)
    const int *sorted_labels     # n: the labels in that order


cdef struct Tiles:
    # Per-thread scratch of a tile: up to `rows` rows against up to `cols` columns.
    double *A                # rows x d: the rows, in float64
    double *an               # rows: their squared norms
    double *B                # cols x d: the columns
    double *bn               # cols
    double *G                # rows x cols: partial distances, then distances
    double *colacc           # cols: column sums of one run of rows (symmetric sums)
    Py_ssize_t *rows_i       # rows: the rows' sample indices (one-sided sums)
    Py_ssize_t *runs_i       # rows + 1: label runs of the rows ...
    int *lab_i               # rows: ... and their labels
    Py_ssize_t *runs_j       # cols + 1: label runs of the columns ...
    int *lab_j               # cols: ... and their labels


cdef inline Tiles _new_tiles(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t d) noexcept nogil:
    cdef Tiles t
    t.A = <double*>malloc(rows * d * sizeof(double))
    t.an = <double*>malloc(rows * sizeof(double))
    t.B = <double*>malloc(cols * d * sizeof(double))
    t.bn = <double*>malloc(cols * sizeof(double))
    t.G = <double*>malloc(rows * cols * sizeof(double))
    t.colacc = <double*>malloc(cols * sizeof(double))
    t.rows_i = <Py_ssize_t*>malloc(rows * sizeof(Py_ssize_t))
    t.runs_i = <Py_ssize_t*>malloc((rows + 1) * sizeof(Py_ssize_t))
    t.lab_i = <int*>malloc(rows * sizeof(int))
    t.runs_j = <Py_ssize_t*>malloc((cols + 1) * sizeof(Py_ssize_t))
    t.lab_j = <int*>malloc(cols * sizeof(int))
    return t


cdef inline void _free_tiles(Tiles *t) noexcept nogil:
    free(t.A)
    free(t.an)
    free(t.B)
    free(t.bn)
    free(t.G)
    free(t.colacc)
    free(t.rows_i)
    free(t.runs_i)
    free(t.lab_i)
    free(t.runs_j)
    free(t.lab_j)


cdef void _load_rows(const floating *X, Py_ssize_t d, const Py_ssize_t *rows, Py_ssize_t m,
                     double *out, double *norms) noexcept nogil:
    """out (m x d, float64) = X[rows]; norms = squared norms."""
    cdef Py_ssize_t r, f
    cdef double v, s
    for r in range(m):
        s = 0.0
        for f in range(d):
            v = X[rows[r] * d + f]
            out[r * d + f] = v
            s += v * v
        norms[r] = s


cdef Py_ssize_t _runs(const int *sorted_labels, Py_ssize_t p0, Py_ssize_t m,
                      Py_ssize_t *run_start, int *run_label) noexcept nogil:
    """Label runs of sorted positions p0 .. p0 + m (starts relative to p0; a final end)."""
    cdef Py_ssize_t c, nruns = 0
    for c in range(m):
        if c == 0 or sorted_labels[p0 + c] != sorted_labels[p0 + c - 1]:
            run_start[nruns] = c
            run_label[nruns] = sorted_labels[p0 + c]
            nruns += 1
    run_start[nruns] = m
    return nruns


cdef void _block(const floating *X, const Labelled *lab, Py_ssize_t i0, Py_ssize_t mi,
                 double *S, Tiles *t) noexcept nogil:
    """S rows of samples i0 .. i0 + mi (in original order): sums over all column tiles."""
    cdef Py_ssize_t r, j0, mj, nruns, n = lab.n, d = lab.d, k = lab.k
    for r in range(mi):
        t.rows_i[r] = i0 + r
    _load_rows(X, d, t.rows_i, mi, t.A, t.an)
    for r in range(mi * k):
        S[i0 * k + r] = 0.0
    j0 = 0
    while j0 < n:
        mj = imin(COL_TILE, n - j0)
        _load_rows(X, d, lab.order + j0, mj, t.B, t.bn)
        # G (mi x mj) = ||b||^2 - 2 A B^T by gemm (measured faster than the fused loops here)
        partial_dists(t.A, mi, d, t.B, t.B, mj, t.bn, mj, t.G, True)
        # label runs of the tile (the columns are in label order)
        nruns = _runs(lab.sorted_labels, j0, mj, t.runs_j, t.lab_j)
        for r in range(mi):
            kmix_sil_row(t.G + r * mj, mj, t.an[r], lab.position[i0 + r] - j0, t.runs_j,
                         t.lab_j, nruns, S + (i0 + r) * k)
        j0 += mj


def _label_order(labels):
    """The samples in label order (stable) and their labels in that order."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable").astype(np.intp)
    return order, np.ascontiguousarray(labels[order], dtype=np.int32)


def cluster_distance_sums(const floating[:, ::1] X, const int[::1] labels, Py_ssize_t k,
                          double[:, ::1] S, int n_threads):
    """S[i, c] = sum of ||X[i] - X[j]|| over the samples j labelled c (labels in 0..k-1).

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    labels : (n,) int32, IN
    k : int, IN
    S : (n, k) float64, OUT
    n_threads : int, IN
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK, blk
    cdef Labelled lab
    cdef Tiles t
    order_arr, sorted_arr = _label_order(labels)
    position_arr = np.empty_like(order_arr)
    position_arr[order_arr] = np.arange(n, dtype=np.intp)
    cdef const Py_ssize_t[::1] order = order_arr
    cdef const Py_ssize_t[::1] position = position_arr
    cdef const int[::1] sorted_labels = sorted_arr
    if S.shape[0] != n or S.shape[1] != k:
        raise ValueError("S must have shape (n_samples, n_clusters)")
    if n == 0:
        return
    lab = _labelled(n, d, k, &order[0], &position[0], &sorted_labels[0])
    with nogil, parallel(num_threads=n_threads):
        t = _new_tiles(ROW_BLOCK, COL_TILE, d)
        for blk in prange(n_blocks, schedule='dynamic'):
            _block(&X[0, 0], &lab, blk * ROW_BLOCK, imin(ROW_BLOCK, n - blk * ROW_BLOCK),
                   &S[0, 0], &t)
        _free_tiles(&t)


cdef inline Labelled _labelled(Py_ssize_t n, Py_ssize_t d, Py_ssize_t k,
                               const Py_ssize_t *order, const Py_ssize_t *position,
                               const int *sorted_labels) noexcept nogil:
    cdef Labelled lab
    lab.n = n
    lab.d = d
    lab.k = k
    lab.order = order
    lab.position = position
    lab.sorted_labels = sorted_labels
    return lab


cdef void _lane(const floating *X, const Labelled *lab, Py_ssize_t lane, double *S, double *T,
                Tiles *t) noexcept nogil:
    """Blocks I = lane, lane + LANES, ... in order; for each, the pairs (I, J >= I):
    row sums into S (rows of I), column sums into this lane's T (rows of J)."""
    cdef Py_ssize_t n = lab.n, d = lab.d, k = lab.k
    cdef Py_ssize_t nb = (n + SYM_BLOCK - 1) // SYM_BLOCK, bi, bj, p0, q0, mi, mj, r, c, q
    cdef Py_ssize_t nr_i, nr_j, a, b
    bi = lane
    while bi < nb:
        p0 = bi * SYM_BLOCK
        mi = imin(SYM_BLOCK, n - p0)
        _load_rows(X, d, lab.order + p0, mi, t.A, t.an)
        nr_i = _runs(lab.sorted_labels, p0, mi, t.runs_i, t.lab_i)
        for bj in range(bi, nb):
            q0 = bj * SYM_BLOCK
            mj = imin(SYM_BLOCK, n - q0)
            _load_rows(X, d, lab.order + q0, mj, t.B, t.bn)
            nr_j = _runs(lab.sorted_labels, q0, mj, t.runs_j, t.lab_j)
            partial_dists(t.A, mi, d, t.B, t.B, mj, t.bn, mj, t.G, True)
            for r in range(mi):
                kmix_sil_row(t.G + r * mj, mj, t.an[r], r if bj == bi else -1, t.runs_j,
                             t.lab_j, nr_j, S + (p0 + r) * k)
            if bj == bi:
                continue
            for q in range(nr_i):
                a = t.runs_i[q]
                b = t.runs_i[q + 1]
                for c in range(mj):
                    t.colacc[c] = 0.0
                for r in range(a, b):
                    for c in range(mj):
                        t.colacc[c] += t.G[r * mj + c]
                for c in range(mj):
                    T[(q0 + c) * k + t.lab_i[q]] += t.colacc[c]
        bi += LANES


def cluster_distance_sums_symmetric(const floating[:, ::1] X, const int[::1] labels,
                                    Py_ssize_t k, double[:, ::1] S, int n_threads):
    """:func:`cluster_distance_sums` computing each pair's distance once.

    Works in label order; row block I is paired with the blocks J >= I; the sums for the rows
    of I go to S, those for the rows of J to the accumulator of I's lane (I mod LANES), and
    the lanes are added in order at the end, so results do not depend on ``n_threads``.
    Needs LANES x n x k extra doubles. Arguments as :func:`cluster_distance_sums`.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], lane, p, c
    cdef Labelled lab
    cdef Tiles t
    order_arr, sorted_arr = _label_order(labels)
    cdef const Py_ssize_t[::1] order = order_arr
    cdef const int[::1] sorted_labels = sorted_arr
    cdef double[:, ::1] Ss = np.zeros((n, k))
    cdef double[:, :, ::1] T = np.zeros((LANES, n, k))
    if S.shape[0] != n or S.shape[1] != k:
        raise ValueError("S must have shape (n_samples, n_clusters)")
    if n == 0:
        return
    lab = _labelled(n, d, k, &order[0], NULL, &sorted_labels[0])
    with nogil, parallel(num_threads=n_threads):
        t = _new_tiles(SYM_BLOCK, SYM_BLOCK, d)
        for lane in prange(LANES, schedule='dynamic'):
            _lane(&X[0, 0], &lab, lane, &Ss[0, 0], &T[lane, 0, 0], &t)
        _free_tiles(&t)
    with nogil:
        for p in range(n):
            for c in range(k):
                S[order[p], c] = (((Ss[p, c] + T[0, p, c]) + T[1, p, c]) + T[2, p, c]) + T[3, p, c]


cdef void _row_cluster_sums(const floating *d, const int *labels, Py_ssize_t n, Py_ssize_t k,
                            double *acc, double *out, double *row_min) noexcept nogil:
    """out[c] = sum of d[j] over j labelled c, in float64: columns j = 4m + l go to lane l of
    acc (4 x k), so consecutive additions rarely wait on the same memory; lanes added in order.
    row_min = the smallest d[j] (the loop is memory-bound: the comparison is free)."""
    cdef Py_ssize_t j, c, n4 = n - n % 4
    cdef double v0, v1, v2, v3, mn = 0.0
    for c in range(4 * k):
        acc[c] = 0.0
    j = 0
    while j < n4:
        v0 = d[j]
        v1 = d[j + 1]
        v2 = d[j + 2]
        v3 = d[j + 3]
        acc[labels[j]] += v0
        acc[k + labels[j + 1]] += v1
        acc[2 * k + labels[j + 2]] += v2
        acc[3 * k + labels[j + 3]] += v3
        if v0 < mn:
            mn = v0
        if v1 < mn:
            mn = v1
        if v2 < mn:
            mn = v2
        if v3 < mn:
            mn = v3
        j += 4
    while j < n:
        v0 = d[j]
        acc[labels[j]] += v0
        if v0 < mn:
            mn = v0
        j += 1
    for c in range(k):
        out[c] = ((acc[c] + acc[k + c]) + acc[2 * k + c]) + acc[3 * k + c]
    row_min[0] = mn


def cluster_sums_from_distances(const floating[:, ::1] D, const int[::1] labels, Py_ssize_t k,
                                double[:, ::1] S, int n_threads):
    """S[i, c] = sum of D[i, j] over the columns j labelled c (labels in 0..k-1), from rows of
    a precomputed distance matrix (float32 or float64; sums in float64).

    D may be a block of rows (m x n, labels of length n, S of shape m x k): callers that hold
    no n x n matrix reduce it chunk by chunk. Each row is summed by one thread in a fixed
    order (four interleaved partial sums): results do not depend on ``n_threads``.

    Returns
    -------
    float
        The smallest entry of D if it is negative, else 0.0 (so callers can reject negative
        distances without another pass over D).
    """
    cdef Py_ssize_t m = D.shape[0], n = D.shape[1], i
    cdef double *acc
    cdef double lowest = 0.0
    if labels.shape[0] != n or S.shape[0] != m or S.shape[1] != k:
        raise ValueError("shapes of D, labels and S do not match")
    if m == 0 or k == 0:
        return lowest
    if n == 0:
        S[:, :] = 0.0
        return lowest
    mins_arr = np.zeros(m)
    cdef double[::1] mins = mins_arr
    with nogil, parallel(num_threads=n_threads):
        acc = <double*>malloc(4 * k * sizeof(double))
        for i in prange(m, schedule='static'):
            _row_cluster_sums(&D[i, 0], &labels[0], n, k, acc, &S[i, 0], &mins[i])
        free(acc)
    with nogil:
        for i in range(m):
            if mins[i] < lowest:
                lowest = mins[i]
    return lowest


ctypedef fused index_t:
    int
    long long


def cluster_sums_from_csr(const floating[::1] data, const index_t[::1] indices,
                          const index_t[::1] indptr, const int[::1] labels, Py_ssize_t k,
                          double[:, ::1] S, int n_threads):
    """S[i, c] = sum of the stored entries of row i of a CSR matrix (data, indices, indptr)
    in the columns labelled c, in float64 (absent entries count as 0, duplicates add up).

    Each row is summed by one thread in storage order: results do not depend on
    ``n_threads``. No temporary beyond O(k) per thread.

    Returns
    -------
    float
        The smallest stored entry if it is negative, else 0.0.
    """
    cdef Py_ssize_t m = indptr.shape[0] - 1, n = labels.shape[0], i, c, p
    cdef double v, mn, lowest = 0.0
    cdef bint bad = False
    if m < 0 or S.shape[0] != m or S.shape[1] != k or data.shape[0] != indices.shape[0]:
        raise ValueError("shapes of the CSR arrays, labels and S do not match")
    if m == 0:
        return lowest
    if indptr[0] != 0 or indptr[m] > data.shape[0]:
        raise ValueError("indptr does not match data")
    for i in range(m):
        if indptr[i + 1] < indptr[i]:
            raise ValueError("indptr must be non-decreasing")
    mins_arr = np.zeros(m)
    cdef double[::1] mins = mins_arr
    with nogil:
        for p in range(indptr[m]):
            if indices[p] < 0 or indices[p] >= n:
                bad = True
                break
    if bad:
        raise ValueError("column indices out of range for labels")
    for i in prange(m, nogil=True, schedule='static', num_threads=n_threads):
        for c in range(k):
            S[i, c] = 0.0
        mn = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            S[i, labels[indices[p]]] += v
            if v < mn:
                mn = v
        mins[i] = mn
    with nogil:
        for i in range(m):
            if mins[i] < lowest:
                lowest = mins[i]
    return lowest
