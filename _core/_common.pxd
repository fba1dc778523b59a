# Inline building blocks shared by the k-means kernels.
#
# Distances between a chunk of rows and a tile of centres are computed in "partial" form,
#     D[r, j] = ||c_j||^2 - 2 <x_r, c_j>,
# (add ||x_r||^2 for the squared distance): by BLAS gemm for wide data, by fused loops over
# transposed centres (vectorised across centres) for narrow data.  Callers own the buffers,
# so nothing larger than a chunk x tile block is ever formed.
from cython cimport floating
from libc.string cimport memcpy, memset
from cython.parallel cimport prange
from scipy.linalg.cython_blas cimport dgemm, sgemm

# Rows per chunk and centres per tile: a 256 x 256 float64 block is 512 KiB (half an L2 here).
cdef enum:
    CHUNK_ROWS = 256
    TILE_CENTERS = 256
    # From this many features on, gemm beats the fused loops (measured, see kmix/_kmeans_algorithms.py).
    GEMM_MIN_FEATURES = 16


cdef extern from "_fused.h" nogil:
    void kmix_fused_d(const double *X, Py_ssize_t m, Py_ssize_t d, const double *CT,
                      Py_ssize_t ldct, const double *cnorm, Py_ssize_t kt, double *D)
    void kmix_fused_f(const float *X, Py_ssize_t m, Py_ssize_t d, const float *CT,
                      Py_ssize_t ldct, const float *cnorm, Py_ssize_t kt, float *D)
    int kmix_cpu_has_fma()
    Py_ssize_t kmix_argmin_d(const double *v, Py_ssize_t n, double *best)
    Py_ssize_t kmix_argmin_f(const float *v, Py_ssize_t n, float *best)
    int kmix_has_wide_sqdist()
    double kmix_sqdist_d(const double *x, const double *c, Py_ssize_t d)
    double kmix_sqdist_f(const float *x, const float *c, Py_ssize_t d)
    void kmix_prefetch_bytes(const void *p, Py_ssize_t nbytes)


cdef inline Py_ssize_t imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


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
    cdef Py_ssize_t r
    cdef char *trans_t = 'T'
    cdef char *trans_n = 'N'
    cdef int im = <int>kt, jn = <int>m, kk = <int>d, lda = <int>d, ldc = <int>kt
    cdef floating alpha = -2.0, beta = 1.0
    if use_gemm:
        for r in range(m):
            memcpy(D + r * kt, cnorm, kt * sizeof(floating))
        # Column-major view: D^T (kt x m) = -2 C (kt x d) X^T (d x m) + D^T
        if floating is float:
            sgemm(trans_t, trans_n, &im, &jn, &kk, &alpha, <float*>C, &lda,
                  <float*>X, &lda, &beta, <float*>D, &ldc)
        else:
            dgemm(trans_t, trans_n, &im, &jn, &kk, &alpha, <double*>C, &lda,
                  <double*>X, &lda, &beta, <double*>D, &ldc)
    elif floating is float:
        kmix_fused_f(X, m, d, CT, ldct, cnorm, kt, D)
    else:
        kmix_fused_d(X, m, d, CT, ldct, cnorm, kt, D)


cdef inline Py_ssize_t row_argmin(const floating *Dr, Py_ssize_t kt, floating *best) noexcept nogil:
    """Index of the first minimum of Dr[:kt]; its value goes to best (ties to the lowest index,
    as scikit-learn's strict <). Vectorised (AVX2) where the CPU has it."""
    if floating is float:
        return kmix_argmin_f(Dr, kt, best)
    else:
        return kmix_argmin_d(Dr, kt, best)


cdef inline void closest_centers(
    const floating *X, Py_ssize_t m, Py_ssize_t d, const floating *C, const floating *CT,
    const floating *cnorm, Py_ssize_t k, Py_ssize_t *besti, floating *D, bint use_gemm,
) noexcept nogil:
    """besti[r] = the closest centre to row r of the m x d rows X (m <= CHUNK_ROWS; the first
    minimum), over tiles of TILE_CENTERS centres. CT is d x k, D holds m x TILE_CENTERS."""
    cdef Py_ssize_t j0, kt, r, a
    cdef floating bestv[CHUNK_ROWS]
    cdef floating v
    j0 = 0
    while j0 < k:
        kt = imin(TILE_CENTERS, k - j0)
        partial_dists(X, m, d, C + j0 * d, CT + j0, k, cnorm + j0, kt, D, use_gemm)
        for r in range(m):
            a = row_argmin(D + r * kt, kt, &v)
            if j0 == 0 or v < bestv[r]:
                bestv[r] = v
                besti[r] = j0 + a
        j0 += kt


cdef inline Py_ssize_t closest_center_sparse(
    const floating *data, const int *indices, Py_ssize_t p0, Py_ssize_t p1,
    const floating *CT, const floating *cnorm, Py_ssize_t k, floating *Dr,
) noexcept nogil:
    """The closest centre to one CSR row (entries p0 .. p1), from the transposed centres
    (d x k); Dr holds k partial distances."""
    cdef Py_ssize_t j, p
    cdef floating v
    cdef const floating *ct
    for j in range(k):
        Dr[j] = cnorm[j]
    for p in range(p0, p1):
        v = -2 * data[p]
        ct = CT + indices[p] * k
        for j in range(k):
            Dr[j] += v * ct[j]
    return row_argmin(Dr, k, &v)


cdef inline double sq_dist(const floating *x, const floating *c, Py_ssize_t d) noexcept nogil:
    """Squared distance in float64.

    From 16 features on, with AVX2 + FMA over eight lanes where the CPU has them; otherwise
    four terms at a time (scikit-learn's order of summation for its Elkan distances, and four
    independent products per dependent add)."""
    cdef Py_ssize_t f, n4 = d // 4
    cdef double t0, t1, t2, t3, s = 0.0
    if d >= 16 and kmix_has_wide_sqdist():
        if floating is float:
            return kmix_sqdist_f(x, c, d)
        else:
            return kmix_sqdist_d(x, c, d)
    for f in range(n4):
        t0 = <double>x[0] - <double>c[0]
        t1 = <double>x[1] - <double>c[1]
        t2 = <double>x[2] - <double>c[2]
        t3 = <double>x[3] - <double>c[3]
        s += t0 * t0 + t1 * t1 + t2 * t2 + t3 * t3
        x += 4
        c += 4
    for f in range(d - 4 * n4):
        t0 = <double>x[f] - <double>c[f]
        s += t0 * t0
    return s


cdef inline Py_ssize_t blocks_for(Py_ssize_t n, Py_ssize_t per_block_doubles,
                                  Py_ssize_t rows_per_block, Py_ssize_t max_blocks,
                                  Py_ssize_t budget_doubles) noexcept nogil:
    """Fixed number of row blocks whose partial sums are reduced in order.

    Depends only on the problem's shape (never on the thread count), so reductions are
    bitwise reproducible: one block per ``rows_per_block`` rows, at most ``max_blocks``, and
    fewer when the blocks' partial sums (``per_block_doubles`` each) would exceed
    ``budget_doubles`` in all; at least one.
    """
    cdef Py_ssize_t n_chunks = (n + rows_per_block - 1) // rows_per_block
    cdef Py_ssize_t cap = budget_doubles // (per_block_doubles if per_block_doubles > 0 else 1)
    cdef Py_ssize_t nb = max_blocks
    if cap < nb:
        nb = cap
    if n_chunks < nb:
        nb = n_chunks
    if nb < 1:
        nb = 1
    return nb


cdef inline Py_ssize_t n_blocks_for(Py_ssize_t n, Py_ssize_t per_block_doubles) noexcept nogil:
    """Row blocks of the k-means kernels: one per CHUNK_ROWS rows, at most 64 (enough to
    balance 2-16 threads with dynamic scheduling), partial sums within ~64 MiB in all."""
    return blocks_for(n, per_block_doubles, CHUNK_ROWS, 64, 8 * 1024 * 1024)


cdef inline void prep_centers(const floating *C, Py_ssize_t k, Py_ssize_t d, floating *CT,
                              floating *cnorm) noexcept nogil:
    """Transposed centres (d x k) and their squared norms, in the centres' dtype."""
    cdef Py_ssize_t j, f
    cdef floating s
    for j in range(k):
        s = 0
        for f in range(d):
            CT[f * k + j] = C[j * d + f]
            s += C[j * d + f] * C[j * d + f]
        cnorm[j] = s


cdef inline void reduce_blocks(const double *bsum, const double *bw, Py_ssize_t nb,
                               Py_ssize_t k, Py_ssize_t d, double *sums, double *wsum,
                               bint accumulate, int n_threads) noexcept nogil:
    """sums (+)= sum over blocks of bsum and wsum (+)= sum over blocks of bw, in block order.

    Small reductions run on one thread: waking a team costs more than they do."""
    cdef Py_ssize_t j, f, b
    cdef double acc
    if nb * k * d < 1 << 19:
        n_threads = 1
    for j in prange(k, schedule='static', num_threads=n_threads):
        for f in range(d):
            acc = 0.0
            for b in range(nb):
                acc = acc + bsum[(b * k + j) * d + f]
            if accumulate:
                sums[j * d + f] += acc
            else:
                sums[j * d + f] = acc
        acc = 0.0
        for b in range(nb):
            acc = acc + bw[b * k + j]
        if accumulate:
            wsum[j] += acc
        else:
            wsum[j] = acc


cdef inline Py_ssize_t sum_counts(const Py_ssize_t *c, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, s = 0
    for i in range(n):
        s += c[i]
    return s


cdef inline int check_block_buffers(double[:, :, ::1] bsum, Py_ssize_t nb, Py_ssize_t k,
                                    Py_ssize_t d, bint update) except -1:
    """The per-block partial sums must be (>= nb) x k x d when a pass updates the centres."""
    if update and (bsum.shape[0] < nb or bsum.shape[1] != k or bsum.shape[2] != d):
        raise ValueError(f"bsum must have shape ({nb}, {k}, {d}), got {tuple(bsum.shape)}")
    return 0


cdef inline void zero_block(double *bsum, double *bw, Py_ssize_t k, Py_ssize_t d) noexcept nogil:
    """Clear one block's partial sums (k x d) and weights (k) before the block accumulates."""
    memset(bsum, 0, k * d * sizeof(double))
    memset(bw, 0, k * sizeof(double))


cdef inline double sq_dist_sparse(const floating *data, const int *indices, Py_ssize_t p0,
                                  Py_ssize_t p1, const floating *c, double cnorm) noexcept nogil:
    """Exact ||x - c||^2 for a CSR row: the stored entries, then the rest of the centre's norm."""
    cdef Py_ssize_t p
    cdef double t, cv, s = cnorm
    for p in range(p0, p1):
        cv = c[indices[p]]
        t = <double>data[p] - cv
        s += t * t - cv * cv
    return s if s > 0 else 0.0
