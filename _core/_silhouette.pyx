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
from libc.math cimport sqrt
from libc.stdlib cimport malloc, free

from _common cimport imin, partial_dists


cdef extern from "_silhouette.h" nogil:
    void kmix_sil_row(double *g, Py_ssize_t m, double an, Py_ssize_t self,
                      const Py_ssize_t *run_start, const int *run_label, Py_ssize_t nruns,
                      double *S_row)

cdef enum:
    ROW_BLOCK = 128
    COL_TILE = 1024


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


cdef void _block(const floating *X, Py_ssize_t n, Py_ssize_t d, const Py_ssize_t *order,
                 const Py_ssize_t *position, const int *sorted_labels, Py_ssize_t k,
                 Py_ssize_t i0, Py_ssize_t mi,
                 double *S, double *A, double *an, double *B, double *bn, double *G,
                 Py_ssize_t *rows_i, Py_ssize_t *run_start, int *run_label) noexcept nogil:
    """S rows of samples i0 .. i0 + mi (in original order): sums over all column tiles."""
    cdef Py_ssize_t r, c, j0, mj, nruns
    for r in range(mi):
        rows_i[r] = i0 + r
    _load_rows(X, d, rows_i, mi, A, an)
    for r in range(mi * k):
        S[i0 * k + r] = 0.0
    j0 = 0
    while j0 < n:
        mj = imin(COL_TILE, n - j0)
        _load_rows(X, d, order + j0, mj, B, bn)
        # G (mi x mj) = ||b||^2 - 2 A B^T by gemm (measured faster than the fused loops here)
        partial_dists(A, mi, d, B, B, mj, bn, mj, G, True)
        # label runs of the tile (the columns are in label order)
        nruns = 0
        for c in range(mj):
            if c == 0 or sorted_labels[j0 + c] != sorted_labels[j0 + c - 1]:
                run_start[nruns] = c
                run_label[nruns] = sorted_labels[j0 + c]
                nruns += 1
        run_start[nruns] = mj
        for r in range(mi):
            kmix_sil_row(G + r * mj, mj, an[r], position[i0 + r] - j0, run_start,
                         run_label, nruns, S + (i0 + r) * k)
        j0 += mj


def cluster_distance_sums(const floating[:, ::1] X, const int[::1] labels, Py_ssize_t k,
                          double[:, ::1] S, int n_threads):
    """S[i, c] = sum of ||X[i] - X[j]|| over the samples j labelled c (labels in 0..k-1)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK, blk
    cdef double *A
    cdef double *an
    cdef double *B
    cdef double *bn
    cdef double *G
    cdef Py_ssize_t *rows_i
    cdef Py_ssize_t *run_start
    cdef int *run_label
    order_arr = np.argsort(np.asarray(labels), kind="stable").astype(np.intp)
    sorted_arr = np.ascontiguousarray(np.asarray(labels)[order_arr], dtype=np.int32)
    position_arr = np.empty_like(order_arr)
    position_arr[order_arr] = np.arange(n, dtype=np.intp)
    cdef const Py_ssize_t[::1] order = order_arr
    cdef const Py_ssize_t[::1] position = position_arr
    cdef const int[::1] sorted_labels = sorted_arr
    if S.shape[0] != n or S.shape[1] != k:
        raise ValueError("S must have shape (n_samples, n_clusters)")
    if n == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        A = <double*>malloc(ROW_BLOCK * d * sizeof(double))
        an = <double*>malloc(ROW_BLOCK * sizeof(double))
        B = <double*>malloc(COL_TILE * d * sizeof(double))
        bn = <double*>malloc(COL_TILE * sizeof(double))
        G = <double*>malloc(ROW_BLOCK * COL_TILE * sizeof(double))
        rows_i = <Py_ssize_t*>malloc(ROW_BLOCK * sizeof(Py_ssize_t))
        run_start = <Py_ssize_t*>malloc((COL_TILE + 1) * sizeof(Py_ssize_t))
        run_label = <int*>malloc(COL_TILE * sizeof(int))
        for blk in prange(n_blocks, schedule='dynamic'):
            _block(&X[0, 0], n, d, &order[0], &position[0], &sorted_labels[0], k, blk * ROW_BLOCK,
                   imin(ROW_BLOCK, n - blk * ROW_BLOCK), &S[0, 0], A, an, B, bn, G, rows_i,
                   run_start, run_label)
        free(A)
        free(an)
        free(B)
        free(bn)
        free(G)
        free(rows_i)
        free(run_start)
        free(run_label)
