# Inline building blocks shared by the k-means kernels.
#
# Distances between a chunk of rows and a tile of centres are computed in "partial" form,
#     D[r, j] = ||c_j||^2 - 2 <x_r, c_j>,
# (add ||x_r||^2 for the squared distance): by BLAS gemm for wide data, by fused loops over
# transposed centres (vectorised across centres) for narrow data.  Callers own the buffers,
# so nothing larger than a chunk x tile block is ever formed.
from cython cimport floating
from libc.string cimport memcpy
from scipy.linalg.cython_blas cimport dgemm, sgemm

# Rows per chunk and centres per tile: a 256 x 256 float64 block is 512 KiB (half an L2 here).
cdef enum:
    CHUNK_ROWS = 256
    TILE_CENTERS = 256
    # From this many features on, gemm beats the fused loops (measured, see kmix/_kmeans_algorithms.py).
    GEMM_MIN_FEATURES = 16


cdef inline void partial_dists(
    const floating *X,        # m x d rows, C-contiguous
    Py_ssize_t m,
    Py_ssize_t d,
    const floating *C,        # kt x d centres of the tile, C-contiguous
    const floating *CT,       # first column of the tile in the d x ldct transposed centres
    Py_ssize_t ldct,
    const floating *cnorm,    # kt squared norms of the tile's centres
    Py_ssize_t kt,
    floating *D,              # m x kt output
    bint use_gemm,
) noexcept nogil:
    cdef Py_ssize_t r, f, j
    cdef floating xf
    cdef floating *Dr
    cdef const floating *ct
    cdef char *trans_t = 'T'
    cdef char *trans_n = 'N'
    cdef int im = <int>kt, jn = <int>m, kk = <int>d, lda = <int>d, ldc = <int>kt
    cdef floating alpha = -2.0, beta = 1.0
    for r in range(m):
        memcpy(D + r * kt, cnorm, kt * sizeof(floating))
    if use_gemm:
        # Column-major view: D^T (kt x m) = -2 C (kt x d) X^T (d x m) + D^T
        if floating is float:
            sgemm(trans_t, trans_n, &im, &jn, &kk, &alpha, <float*>C, &lda,
                  <float*>X, &lda, &beta, <float*>D, &ldc)
        else:
            dgemm(trans_t, trans_n, &im, &jn, &kk, &alpha, <double*>C, &lda,
                  <double*>X, &lda, &beta, <double*>D, &ldc)
    else:
        for r in range(m):
            Dr = D + r * kt
            for f in range(d):
                xf = -2 * X[r * d + f]
                ct = CT + f * ldct
                for j in range(kt):
                    Dr[j] += xf * ct[j]


cdef inline Py_ssize_t row_argmin(const floating *Dr, Py_ssize_t kt, floating *best) noexcept nogil:
    """Index of the first minimum of Dr[:kt]; its value goes to best (strict <, as scikit-learn)."""
    cdef Py_ssize_t j, arg = 0
    cdef floating v = Dr[0]
    for j in range(1, kt):
        if Dr[j] < v:
            v = Dr[j]
            arg = j
    best[0] = v
    return arg


cdef inline double sq_dist(const floating *x, const floating *c, Py_ssize_t d) noexcept nogil:
    """Exact squared distance, accumulated in float64."""
    cdef Py_ssize_t f
    cdef double t, s = 0.0
    for f in range(d):
        t = <double>x[f] - <double>c[f]
        s += t * t
    return s


cdef inline Py_ssize_t n_blocks_for(Py_ssize_t n, Py_ssize_t per_block_doubles) noexcept nogil:
    """Fixed number of row blocks whose partial sums are reduced in order.

    Depends only on the problem's shape (never on the thread count), so reductions are
    bitwise reproducible; bounded so the partial-sum buffers stay under ~64 MiB.
    """
    cdef Py_ssize_t n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef Py_ssize_t cap = (8 * 1024 * 1024) // (per_block_doubles if per_block_doubles > 0 else 1)
    cdef Py_ssize_t nb = 64
    if cap < nb:
        nb = cap
    if n_chunks < nb:
        nb = n_chunks
    if nb < 1:
        nb = 1
    return nb
