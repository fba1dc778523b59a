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
from scipy.linalg.cython_blas cimport dgemm

from _common cimport imin

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
                 Py_ssize_t *rows_i) noexcept nogil:
    """S rows of samples i0 .. i0 + mi (in original order): sums over all column tiles."""
    cdef Py_ssize_t r, c, j0, mj, a, b, f
    cdef double v, s0, s1
    cdef double *g
    cdef char ta = b'T', tb = b'N'
    cdef int im, jn, kk = <int>d
    cdef double alpha = -2.0, beta = 0.0
    for r in range(mi):
        rows_i[r] = i0 + r
    _load_rows(X, d, rows_i, mi, A, an)
    for r in range(mi * k):
        S[i0 * k + r] = 0.0
    j0 = 0
    while j0 < n:
        mj = imin(COL_TILE, n - j0)
        _load_rows(X, d, order + j0, mj, B, bn)
        # G (mi x mj, row-major) = -2 A B^T; column-major: G^T (mj x mi) = -2 B A^T
        im = <int>mj
        jn = <int>mi
        dgemm(&ta, &tb, &im, &jn, &kk, &alpha, B, &kk, A, &kk, &beta, G, &im)
        for r in range(mi):
            g = G + r * mj
            for c in range(mj):
                v = g[c] + an[r] + bn[c]
                g[c] = sqrt(v) if v > 0 else 0.0
            # the sample's distance to itself is 0 (scikit-learn zeroes the diagonal)
            c = position[i0 + r] - j0
            if 0 <= c < mj:
                g[c] = 0.0
            a = 0
            while a < mj:
                b = a + 1
                while b < mj and sorted_labels[j0 + b] == sorted_labels[j0 + a]:
                    b += 1
                s0 = 0.0
                s1 = 0.0
                c = a
                while c + 1 < b:
                    s0 += g[c]
                    s1 += g[c + 1]
                    c += 2
                if c < b:
                    s0 += g[c]
                S[(i0 + r) * k + sorted_labels[j0 + a]] += s0 + s1
                a = b
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
        for blk in prange(n_blocks, schedule='dynamic'):
            _block(&X[0, 0], n, d, &order[0], &position[0], &sorted_labels[0], k, blk * ROW_BLOCK,
                   imin(ROW_BLOCK, n - blk * ROW_BLOCK), &S[0, 0], A, an, B, bn, G, rows_i)
        free(A)
        free(an)
        free(B)
        free(bn)
        free(G)
        free(rows_i)
