# Inline building blocks shared by the k-means kernels.
#
# Distances between a chunk of rows and a tile of centres are computed in "partial" form,
#     D[r, j] = ||c_j||^2 - 2 <x_r, c_j>,
# (add ||x_r||^2 for the squared distance): by BLAS gemm for wide data, by fused loops over
# transposed centres (vectorised across centres) for narrow data.  Callers own the buffers,
# so nothing larger than a chunk x tile block is ever formed.
from cython cimport floating
from libc.math cimport sqrt
from libc.stdlib cimport malloc
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset
from cython.parallel cimport prange
from scipy.linalg.cython_blas cimport dgemm, sgemm

cdef extern from *:
    """
    /* Float64 data screened by float32 distances (Lloyd's mixed passes, the seeding's
     * screen): rows and centres of squared norm above this stay in float64 (their float32
     * values could overflow). */
    #define KMIX_MIXED_MAX_NORM 1e30
    """
    const double MIXED_MAX_NORM "KMIX_MIXED_MAX_NORM"


# The kernels' shared constants: this enum is their one home (_constants.pyx exposes the values
# to the Python layer, which never repeats them).
# Rows per chunk and centres per tile. A tile of 1024 centres (a 256 x 1024 float32 block of
# partial distances is 1 MiB, float64 2 MiB: beyond L2, which the scans of its rows stream)
# beat 256 and 2048 (AVX2 EPYC, alternating builds, Lloyd from the same random rows):
# normal 100k x 32 k=1000 float32 1.23-1.24 s (256: 1.34-1.58, 2048: 1.26-1.32), float64
# 1.26-1.30 s; 200k x 64 k=4096 over 5 iterations 4.74-4.89 s (256: 5.27-5.45). One tile
# packs each chunk of rows once and takes each row's best two from one scan. On a Zen 4
# (AVX-512, 1 MiB L2; 2026-12-04, builds alternated in separate processes): k=1000 the same
# within noise for 512, 1024 and 2048 (float32 1.00-1.11 s), k=4096 float32 512: 4.03-4.14,
# 1024: 4.52-4.63, 2048: 4.32-4.41 s. 512 was not measured on the AVX2 machine: measure it
# there before changing the tile.
cdef enum:
    CHUNK_ROWS = 256
    TILE_CENTERS = 1024
    # From this many features on, gemm beats the fused loops (measured, see kmix/_kmeans_algorithms.py).
    GEMM_MIN_FEATURES = 16


cdef extern from "_fused.h" nogil:
    void kmix_fused_d(const double *X, Py_ssize_t m, Py_ssize_t d, const double *CT,
                      Py_ssize_t ldct, const double *cnorm, Py_ssize_t kt, double *D)
    void kmix_fused_f(const float *X, Py_ssize_t m, Py_ssize_t d, const float *CT,
                      Py_ssize_t ldct, const float *cnorm, Py_ssize_t kt, float *D)
    void kmix_fused_argmin2_d(const double *X, Py_ssize_t m, Py_ssize_t d, const double *CT,
                              Py_ssize_t ldct, const double *cnorm, Py_ssize_t kt,
                              Py_ssize_t *besti, double *bestv, double *secv)
    void kmix_fused_argmin2_f(const float *X, Py_ssize_t m, Py_ssize_t d, const float *CT,
                              Py_ssize_t ldct, const float *cnorm, Py_ssize_t kt,
                              Py_ssize_t *besti, float *bestv, float *secv)
    int kmix_wide_argmin2_d(const double *X, Py_ssize_t m, Py_ssize_t d, const double *P,
                            Py_ssize_t kt, Py_ssize_t *besti, double *bestv, double *secv,
                            const double *XT)
    int kmix_wide_argmin2_f(const float *X, Py_ssize_t m, Py_ssize_t d, const float *P,
                            Py_ssize_t kt, Py_ssize_t *besti, float *bestv, float *secv,
                            const float *XT)
    void kmix_wide_pack_d(const double *CT, Py_ssize_t ldct, const double *cnorm,
                          Py_ssize_t kt, Py_ssize_t d, double *P)
    void kmix_wide_pack_f(const float *CT, Py_ssize_t ldct, const float *cnorm,
                          Py_ssize_t kt, Py_ssize_t d, float *P)
    Py_ssize_t kmix_wide_packed_size(Py_ssize_t d, Py_ssize_t kt)
    Py_ssize_t kmix_wide_nc(Py_ssize_t kt)
    void kmix_wide_rows_f(const float *X, Py_ssize_t m, Py_ssize_t d, float *xt)
    void kmix_wide_rows_d(const double *X, Py_ssize_t m, Py_ssize_t d, double *xt)
    bint kmix_wide_argmin2_ok(Py_ssize_t d, Py_ssize_t kt)
    int kmix_wide_groups_f(const float *xt, Py_ssize_t m, Py_ssize_t d, const float *P,
                           const float *pnorm, Py_ssize_t ng, float *gmin, Py_ssize_t ldg,
                           Py_ssize_t *besti, float *bestv, float *secv, float *gbuf)
    int kmix_wide_groups_d(const double *xt, Py_ssize_t m, Py_ssize_t d, const double *P,
                           const double *pnorm, Py_ssize_t ng, double *gmin, Py_ssize_t ldg,
                           Py_ssize_t *besti, double *bestv, double *secv, double *gbuf)
    int kmix_cpu_has_fma()
    int kmix_cpu_has_avx512f()
    Py_ssize_t kmix_argmin_d(const double *v, Py_ssize_t n, double *best)
    Py_ssize_t kmix_argmin_f(const float *v, Py_ssize_t n, float *best)
    double kmix_sqdist_d(const double *x, const double *c, Py_ssize_t d)
    double kmix_sqdist_f(const float *x, const float *c, Py_ssize_t d)
    double kmix_sqdist32_f(const float *x, const float *c, Py_ssize_t d)
    double kmix_sqnorm_d(const double *x, Py_ssize_t d)
    double kmix_sqnorm_f(const float *x, Py_ssize_t d)
    void kmix_add_scaled_d(double *row, const double *x, double w, Py_ssize_t d, int set)
    void kmix_block_sums_d(const double *X, Py_ssize_t m, Py_ssize_t d, const Py_ssize_t *lab,
                           const double *w, double *bsum, double *bw, unsigned char *touched,
                           Py_ssize_t k)
    void kmix_block_sums_f(const float *X, Py_ssize_t m, Py_ssize_t d, const Py_ssize_t *lab,
                           const double *w, double *bsum, double *bw, unsigned char *touched,
                           Py_ssize_t k)
    void kmix_add_scaled_f(double *row, const float *x, double w, Py_ssize_t d, int set)
    void kmix_prefetch_bytes(const void *p, Py_ssize_t nbytes)
    Py_ssize_t kmix_argmin2_d(const double *v, Py_ssize_t n, double *best, double *second)
    Py_ssize_t kmix_argmin2_f(const float *v, Py_ssize_t n, float *best, float *second)
    void kmix_few_dots_d(const double *X, const Py_ssize_t *idx, Py_ssize_t m, Py_ssize_t d,
                         const double *C, Py_ssize_t nt, const double *cnorm, double *D)
    void kmix_few_dots_f(const float *X, const Py_ssize_t *idx, Py_ssize_t m, Py_ssize_t d,
                         const float *C, Py_ssize_t nt, const float *cnorm, float *D)
    int KMIX_PANEL
    ctypedef struct kmix_group_winner:
        Py_ssize_t t
        int lane
        double second
        double others
    void kmix_groups_best_d(const double *x, Py_ssize_t d, const double *P,
                            const Py_ssize_t *glist, Py_ssize_t ng, const double *pnorm,
                            double *m1, kmix_group_winner *w)
    void kmix_groups_best_f(const float *x, Py_ssize_t d, const float *P,
                            const Py_ssize_t *glist, Py_ssize_t ng, const float *pnorm,
                            float *m1, kmix_group_winner *w)
    float kmix_group_bound(float stored, float du)
    float kmix_group_bound_best(float stored, float du, const float *dn, Py_ssize_t g)
    float kmix_group_bound_store(double v, double D, unsigned slot)
    enum: KMIX_BOUND_SLOTS
    float kmix_float_up(double v)
    float kmix_group_floor(const float *lb, const float *du, Py_ssize_t ng)
    Py_ssize_t kmix_groups_failing(const float *lb, const float *du, const float *dn,
                                   Py_ssize_t ng, float u, Py_ssize_t ga, Py_ssize_t *glist)
    Py_ssize_t kmix_bit_words(Py_ssize_t ng)
    void kmix_groups_failing_bits4(const float *const *lb, const float *du, const float *dn,
                                   Py_ssize_t ng, const float *u, const Py_ssize_t *ga,
                                   uint64_t *bits)
    Py_ssize_t kmix_bits_union4(const uint64_t *bits, Py_ssize_t nw, uint64_t *un,
                                Py_ssize_t *counts)
    Py_ssize_t kmix_bits_list(const uint64_t *bits, Py_ssize_t ng, Py_ssize_t *glist)
    void kmix_groups_min4_f(const float *const *xs, Py_ssize_t d, const float *P,
                            const Py_ssize_t *glist, Py_ssize_t ng, const float *pnorm,
                            float *m1, Py_ssize_t ldm)
    void kmix_group_winner4_f(const float *const *xs, Py_ssize_t d, const float *P,
                              const Py_ssize_t *glist, Py_ssize_t ng, const float *pnorm,
                              const float *m1, Py_ssize_t ldm, kmix_group_winner *w)
    void kmix_refresh_bounds(const float *m1, Py_ssize_t ne, const Py_ssize_t *glist,
                             Py_ssize_t tw, double second, double xn, double err, double gamma,
                             const float *dd, unsigned slot, float *lb)
    void kmix_refresh_all(const float *m1, Py_ssize_t ng, Py_ssize_t tw, double second,
                          double xn, double err, double gamma, const float *dd,
                          unsigned slot, float *lb)
    float kmix_float_down(double v)
    void kmix_refresh_bounds_base(const float *m1, Py_ssize_t ne, const Py_ssize_t *glist,
                                  Py_ssize_t tw, double second, double xn, double err,
                                  double gamma, const float *dd, unsigned slot, float *lb)
    void kmix_refresh_all_base(const float *m1, Py_ssize_t ng, Py_ssize_t tw, double second,
                               double xn, double err, double gamma, const float *dd,
                               unsigned slot, float *lb)


cdef extern from "_exact.h" nogil:
    int kmix_exact_sign_d(const double *x, const double *a, const double *b, Py_ssize_t d)
    int kmix_exact_sign_f(const float *x, const float *a, const float *b, Py_ssize_t d)
    Py_ssize_t kmix_exact_closest_d(const double *x, const double *C, Py_ssize_t k,
                                    Py_ssize_t d, double *dist)
    Py_ssize_t kmix_exact_closest_f(const float *x, const float *C, Py_ssize_t k,
                                    Py_ssize_t d, double *dist)
    Py_ssize_t kmix_exact_closest_among_d(const double *x, const double *C, Py_ssize_t k,
                                          Py_ssize_t d, const double *Dr, double limit,
                                          double *dist)
    Py_ssize_t kmix_exact_closest_among_f(const float *x, const float *C, Py_ssize_t k,
                                          Py_ssize_t d, const float *Dr, double limit,
                                          double *dist)
    double kmix_gamma(Py_ssize_t n, int is_float32)


cdef inline Py_ssize_t imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline void add_minus2_dots(const floating *A, Py_ssize_t na, const floating *B,
                                 Py_ssize_t nb, Py_ssize_t d, floating *out) noexcept nogil:
    """out[i * na + a] += -2 <A_a, B_i> for the na x d rows A and the nb x d rows B (both
    C-contiguous; out: nb x na, C-contiguous), by one BLAS gemm."""
    cdef char *trans_t = 'T'
    cdef char *trans_n = 'N'
    cdef int im = <int>na, jn = <int>nb, kk = <int>d, lda = <int>d, ldc = <int>na
    cdef floating alpha = -2.0, beta = 1.0
    # Column-major view: out^T (na x nb) = -2 A (na x d) B^T (d x nb) + out^T
    if floating is float:
        sgemm(trans_t, trans_n, &im, &jn, &kk, &alpha, <float*>A, &lda,
              <float*>B, &lda, &beta, <float*>out, &ldc)
    else:
        dgemm(trans_t, trans_n, &im, &jn, &kk, &alpha, <double*>A, &lda,
              <double*>B, &lda, &beta, <double*>out, &ldc)


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
    if use_gemm:
        for r in range(m):
            memcpy(D + r * kt, cnorm, kt * sizeof(floating))
        add_minus2_dots(C, kt, X, m, d, D)
    elif floating is float:
        kmix_fused_f(X, m, d, CT, ldct, cnorm, kt, D)
    else:
        kmix_fused_d(X, m, d, CT, ldct, cnorm, kt, D)


cdef inline void groups_best(const floating *x, Py_ssize_t d, const floating *P,
                             const Py_ssize_t *glist, Py_ssize_t ng, const floating *pnorm,
                             floating *m1, kmix_group_winner *w) noexcept nogil:
    """Yinyang's group filter on wide data: the smallest of pnorm[l] - 2 <x, c_l> in each
    group glist[t] (t < ng) of at most KMIX_PANEL centres, one feature-major panel each
    (group g's at P + g * d * KMIX_PANEL; padding lanes' pnorm +inf), to m1[t]; the winning
    group (the first with the least), its first minimum's lane and second value, and the
    least of the other groups' values, to w; see _fused.h kmix_groups_best."""
    if floating is float:
        kmix_groups_best_f(x, d, P, glist, ng, pnorm, m1, w)
    else:
        kmix_groups_best_d(x, d, P, glist, ng, pnorm, m1, w)


cdef inline void few_partial_dists(const floating *X, const Py_ssize_t *idx, Py_ssize_t m,
                                   Py_ssize_t d, const floating *C, Py_ssize_t nt,
                                   const floating *cnorm, floating *D) noexcept nogil:
    """D[q * nt + t] = cnorm[t] - 2 <X[idx[q]], C[t]>: the partial distances of a few centres
    (C: nt x d) to rows of X picked by index, read in place
    (AVX2 along the features, eight centres at a time; see _fused.h)."""
    if floating is float:
        kmix_few_dots_f(X, idx, m, d, C, nt, cnorm, D)
    else:
        kmix_few_dots_d(X, idx, m, d, C, nt, cnorm, D)


cdef inline Py_ssize_t row_argmin(const floating *Dr, Py_ssize_t kt, floating *best) noexcept nogil:
    """Index of the first minimum of Dr[:kt]; its value goes to best (ties to the lowest index,
    as scikit-learn's strict <). Vectorised (AVX2) where the CPU has it."""
    if floating is float:
        return kmix_argmin_f(Dr, kt, best)
    else:
        return kmix_argmin_d(Dr, kt, best)


cdef inline Py_ssize_t row_argmin2(const floating *Dr, Py_ssize_t kt, floating *best,
                                   floating *second) noexcept nogil:
    """:func:`row_argmin`, and the second smallest value (a tied minimum counts twice)."""
    if floating is float:
        return kmix_argmin2_f(Dr, kt, best, second)
    else:
        return kmix_argmin2_d(Dr, kt, best, second)


cdef inline Py_ssize_t exact_closest(const floating *x, const floating *C, Py_ssize_t k,
                                     Py_ssize_t d, double *dist) noexcept nogil:
    """The exact assignment rule for one row (see _exact.h): the closest of the k centres C
    by exact arithmetic, the lowest index on an exact tie; its float64 squared distance to
    dist. O(k d): for the rows a fast path finds within its rounding bound."""
    if floating is float:
        return kmix_exact_closest_f(x, C, k, d, dist)
    else:
        return kmix_exact_closest_d(x, C, k, d, dist)


cdef inline Py_ssize_t exact_closest_among(const floating *x, const floating *C, Py_ssize_t k,
                                           Py_ssize_t d, const floating *Dr, double bestv,
                                           double bound, double *dist) noexcept nogil:
    """:func:`exact_closest` given the row's k computed partial distances Dr, of smallest
    value bestv, each within bound / 2 of its true value (the two-value misorder bound of
    :func:`within_rounding`): only the centres whose value is within bound of bestv can be
    the closest, so only they are computed (in index order, keeping ties to the lowest
    index). The bound is doubled against the rounding of bestv + bound."""
    if floating is float:
        return kmix_exact_closest_among_f(x, C, k, d, Dr, bestv + 2.0 * bound, dist)
    else:
        return kmix_exact_closest_among_d(x, C, k, d, Dr, bestv + 2.0 * bound, dist)


cdef inline int exact_sign(const floating *x, const floating *a, const floating *b,
                           Py_ssize_t d) noexcept nogil:
    """sign(||x - a||^2 - ||x - b||^2) by exact arithmetic (see _exact.h)."""
    if floating is float:
        return kmix_exact_sign_f(x, a, b, d)
    else:
        return kmix_exact_sign_d(x, a, b, d)


cdef inline void add_scaled(double *row, const floating *x, double w, Py_ssize_t d,
                            bint set) noexcept nogil:
    """row[f] = w x[f] (set) or row[f] += w x[f] for every feature, in float64, each product
    and sum rounded once (:c:func:`kmix_add_scaled_d`: four lanes from 16 features on)."""
    cdef Py_ssize_t f
    if d >= GEMM_MIN_FEATURES:
        if floating is float:
            kmix_add_scaled_f(<double*>row, <const float*>x, w, d, set)
        else:
            kmix_add_scaled_d(<double*>row, <const double*>x, w, d, set)
    elif set:
        for f in range(d):
            row[f] = w * x[f]
    else:
        for f in range(d):
            row[f] += w * x[f]


cdef inline double sq_norm(const floating *x, Py_ssize_t d) noexcept nogil:
    """||x||^2 in float64 (eight lanes from 16 features on, :c:func:`kmix_sqnorm_d`)."""
    cdef Py_ssize_t f
    cdef double s = 0.0
    if d >= 16:
        return kmix_sqnorm_f(<const float*>x, d) if floating is float else kmix_sqnorm_d(
            <const double*>x, d)
    for f in range(d):
        s += <double>x[f] * <double>x[f]
    return s


cdef inline double row_norm(const floating *x, Py_ssize_t d) noexcept nogil:
    """||x|| in float64."""
    return sqrt(sq_norm(x, d))


cdef inline double max_value(const floating *v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef double m = 0.0
    for j in range(n):
        if v[j] > m:
            m = v[j]
    return m


cdef inline double expansion_error_scale(Py_ssize_t d, bint is_float32) noexcept nogil:
    """gamma such that gamma * (cnorm_max + ||x|| sqrt(cnorm_max)) bounds |fl(D_j) - D_j|.

    D_j = ||c_j||^2 - 2 <x, c_j> is formed in the data's dtype from the centre's squared norm
    (a sum of d squares) and the dot product (gemm or the fused loops, any summation order,
    FMA or not), one more rounding adding them: with u the dtype's unit roundoff the error is
    at most gamma_{d+2} (||c_j||^2 + 2 sum_f |x_f c_jf|) <= gamma_{d+2} (||c_j||^2 + 2 ||x||
    ||c_j||) (Higham, Accuracy and Stability of Numerical Algorithms, ch. 3), which is at most
    2 gamma_{d+2} (cnorm_max + ||x|| sqrt(cnorm_max)). The factor (1 + gamma_{d+2}) covers the
    rounding of the computed cnorm_max, gamma_{d+4} the float64 norms of x.
    """
    return 2.0 * kmix_gamma(d + 4, is_float32) * (1.0 + kmix_gamma(d + 2, is_float32))


cdef inline double mixed_error_scale(Py_ssize_t d) noexcept nogil:
    """gamma such that gamma * (cmax + ||x|| sqrt(cmax)) + mixed_abs_error bounds the error
    of a float32 partial distance D'_j = fl32(||c'_j||^2 - 2 <x', c'_j>) against the exact
    D_j = ||c_j||^2 - 2 <x, c_j> of the float64 row x and centre c_j.

    x' and c'_j are x and c_j rounded to float32: x'_f = x_f (1 + a_f), c'_f = c_f (1 + b_f),
    |a_f|, |b_f| <= u = 2^-24 (normal range; subnormals: see mixed_abs_error). Then
    |c'_f^2 - c_f^2| <= (2u + u^2) c_f^2 and |x'_f c'_f - x_f c_f| <= (2u + u^2) |x_f c_f|, so
    |D'_exact - D_j| <= gamma_2 (||c_j||^2 + 2 ||x|| ||c_j||) <= 2 gamma_2 (cmax + ||x||
    sqrt(cmax)) (gamma_2 = 2u / (1 - 2u) >= 2u + u^2). The float32 evaluation of D'_exact adds
    expansion_error_scale(d, float32) (ch. 3 of Higham, as for closest_centers) in terms of the
    rounded magnitudes, at most (1 + u)^2 <= 1 + gamma_3 times the true ones."""
    return (expansion_error_scale(d, True) + 2.0 * kmix_gamma(2, True)) * (
        1.0 + kmix_gamma(4, True))


cdef inline double mixed_abs_unit(Py_ssize_t d) noexcept nogil:
    """The unit of :func:`mixed_abs_error`: 2d + 4 float32 roundings to subnormals or
    underflows per partial distance, each off by at most 2^-150, with a wide margin
    (7.2e-43 > 2^-140)."""
    return 7.2e-43 * (d + 2)


cdef inline double mixed_abs_error(Py_ssize_t d, double xnorm, double cmax) noexcept nogil:
    """Absolute error the relative bound of mixed_error_scale misses: values rounded to
    float32 subnormals and float32 operations that underflow (:func:`mixed_abs_unit`)."""
    return mixed_abs_unit(d) * (1.0 + 2.0 * sqrt(<double>d) * (xnorm + sqrt(cmax)))


cdef inline void rounding_terms(double scale, double cnorm_max, double *c1,
                               double *c2sq) noexcept nogil:
    """The terms of :func:`within_rounding`'s test for centres of largest squared norm
    cnorm_max: two partial distances are each off by at most scale * (cnorm_max + ||x||
    sqrt(cnorm_max)) (:func:`expansion_error_scale`), so they may be misordered when their gap
    is within c1 + c2 ||x||, c1 = 2 scale cnorm_max and c2 = 2 scale sqrt(cnorm_max); c2sq is
    c2^2 widened by 1e-9 relative (far above the few roundings of either side of the test)."""
    c1[0] = 2.0 * scale * cnorm_max
    c2sq[0] = 4.0 * scale * scale * cnorm_max * (1.0 + 1e-9)


cdef inline bint within_rounding(double gap, double c1, double c2sq, double x2) noexcept nogil:
    """Whether two partial distances ``gap`` apart may be misordered (or tied) by rounding,
    for a row of squared norm x2 (c1, c2sq: :func:`rounding_terms`): gap - c1 <= 0, or
    (gap - c1)^2 <= c2sq x2, without a square root. NaN gaps (overflowed data) are not."""
    gap -= c1
    return gap <= 0 or gap * gap <= c2sq * x2


cdef inline bint row_within_rounding(double gap, double c1, double c2sq, const floating *x,
                                     Py_ssize_t d, double *x2) noexcept nogil:
    """:func:`within_rounding` for dense row x of d features whose squared norm x2 holds if
    known (else a negative value): the norm is computed only when the gap alone does not
    decide and it is not known (then stored to x2)."""
    if gap - c1 <= 0:
        return True
    if x2[0] < 0:
        x2[0] = sq_norm(x, d)
    return within_rounding(gap, c1, c2sq, x2[0])


cdef inline double direct_gamma(Py_ssize_t d) noexcept nogil:
    """Relative error bound g of :func:`sq_dist` (float64 direct differences, nonnegative
    terms, any summation order; gamma_{d+2}), widened so that the distances of
    :func:`dist_up`/:func:`dist_down` (a square root and a product more) stay bounds."""
    return kmix_gamma(d + 6, 0)


cdef inline double dist_up(double s, double g) noexcept nogil:
    """An upper bound on the true distance whose squared distance was computed as s."""
    return sqrt(s) * (1.0 + g) + 1e-145


cdef inline double dist_down(double s, double g) noexcept nogil:
    """A lower bound (>= 0) on the true distance whose squared distance was computed as s."""
    cdef double v = sqrt(s) * (1.0 - g) - 1e-145
    return v if v > 0 else 0.0


cdef inline double add_up(double a, double b) noexcept nogil:
    """a + b rounded up: an upper bound moved by b stays an upper bound."""
    return (a + b) * (1.0 + 4.5e-16)


cdef inline double sub_down(double a, double b) noexcept nogil:
    """max(a - b, 0) rounded down: a lower bound moved by b stays a lower bound."""
    cdef double v = (a - b) * (1.0 - 4.5e-16)
    return v if v > 0 else 0.0


cdef inline bint closer(const floating *x, const floating *C, Py_ssize_t d, Py_ssize_t j,
                        double sj, Py_ssize_t a, double sa, double g) noexcept nogil:
    """Whether centre j wins over centre a for row x under the exact assignment rule, given
    their squared distances sj, sa from :func:`sq_dist` (relative error <= g/2 each, see
    :func:`direct_gamma`): as computed when they differ by more than the rounding can,
    otherwise by :func:`exact_sign` (a tie goes to the lower index)."""
    cdef double tol = 4.0 * g * (sj if sj > sa else sa) + 1e-290
    cdef int sgn
    if sj < sa - tol:
        return True
    if sj > sa + tol:
        return False
    sgn = exact_sign(x, C + j * d, C + a * d, d)
    return sgn < 0 or (sgn == 0 and j < a)


cdef inline void merge_tile_best2(const floating *D, Py_ssize_t m, Py_ssize_t kt,
                                  Py_ssize_t j0, floating *bestv, floating *secv,
                                  Py_ssize_t *besti) noexcept nogil:
    """Fold a tile of centres j0 .. j0 + kt into each row's best value and index and
    second-best value (a tied minimum counts twice); the first tile (j0 == 0) initialises.

    IN D (m x kt partial distances of the tile); INOUT bestv, secv, besti (m each)."""
    cdef Py_ssize_t r, a
    cdef floating v, v2
    for r in range(m):
        a = row_argmin2(D + r * kt, kt, &v, &v2)
        if j0 == 0:
            bestv[r] = v
            secv[r] = v2
            besti[r] = a
        elif v < bestv[r]:
            secv[r] = bestv[r] if bestv[r] < v2 else v2
            bestv[r] = v
            besti[r] = j0 + a
        elif v < secv[r]:
            secv[r] = v


cdef inline bint wide_fused(Py_ssize_t d, Py_ssize_t k) noexcept nogil:
    """Whether the partial distances of gemm-wide rows to k centres and their best two are
    taken by kmix_wide_argmin2 (_fused.h) rather than gemm tiles and a scan."""
    return d >= GEMM_MIN_FEATURES and kmix_wide_argmin2_ok(d, k)


cdef inline floating *wide_pack(const floating *CT, const floating *cnorm, Py_ssize_t k,
                                Py_ssize_t d) noexcept nogil:
    """The k centres (CT: d x k transposed, cnorm: squared norms) packed for
    kmix_wide_argmin2, in a buffer for the caller to free; NULL where wide_fused says no (or
    out of memory): the passes then take gemm tiles."""
    cdef floating *P
    if not wide_fused(d, k):
        return NULL
    P = <floating*>malloc(kmix_wide_packed_size(d, k) * sizeof(floating))
    if P != NULL:
        if floating is float:
            kmix_wide_pack_f(CT, k, cnorm, k, d, P)
        else:
            kmix_wide_pack_d(CT, k, cnorm, k, d, P)
    return P


cdef inline bint wide_best_two(const floating *X, Py_ssize_t m, Py_ssize_t d,
                               const floating *P, Py_ssize_t k, Py_ssize_t *besti,
                               floating *bestv, floating *secv,
                               const floating *xt) noexcept nogil:
    """kmix_wide_argmin2 of the m x d rows X (or, xt not NULL, the same rows laid out by
    kmix_wide_rows) against the k packed centres P (wide_pack); False if it could not run
    (out of memory; nothing written)."""
    if floating is float:
        return kmix_wide_argmin2_f(X, m, d, P, k, besti, bestv, secv, xt) == 0
    else:
        return kmix_wide_argmin2_d(X, m, d, P, k, besti, bestv, secv, xt) == 0


cdef inline void closest_centers(
    const floating *X, Py_ssize_t m, Py_ssize_t d, const floating *C, const floating *CT,
    const floating *cnorm, Py_ssize_t k, Py_ssize_t *besti, floating *D, bint use_gemm,
    const floating *P, const double *xnorms, const floating *xt,
) noexcept nogil:
    """besti[r] = the closest centre to row r of the m x d rows X (m <= CHUNK_ROWS), by the
    exact assignment rule (ties to the lowest index), over tiles of TILE_CENTERS centres.
    CT is d x k, D holds m x TILE_CENTERS; P: the centres packed by :func:`wide_pack` (gemm-wide
    data; NULL: gemm tiles); xnorms: the rows' squared norms (:func:`sq_norm`), or NULL
    (each taken when a row's bound needs it); xt: the rows laid out for the wide kernel
    (kmix_wide_rows), or NULL (the kernel lays them out).

    The rows are decided by their partial distances (gemm or fused loops); a row whose best
    and second-best values are within the expansion's rounding bound
    (:func:`expansion_error_scale`) is decided again by :func:`exact_closest`.
    """
    cdef Py_ssize_t j0, kt, r
    cdef floating bestv[CHUNK_ROWS]
    cdef floating secv[CHUNK_ROWS]
    cdef double dist, c1, c2sq, x2
    cdef bint fused = True
    if not use_gemm:
        # Narrow data: the values never leave the registers (no tiles).
        if floating is float:
            kmix_fused_argmin2_f(X, m, d, CT, k, cnorm, k, besti, bestv, secv)
        else:
            kmix_fused_argmin2_d(X, m, d, CT, k, cnorm, k, besti, bestv, secv)
    elif P != NULL and wide_best_two(X, m, d, P, k, besti, bestv, secv, xt):
        pass   # gemm-wide data, packed centres: the values never leave the registers either
    elif k <= TILE_CENTERS:
        fused = False
        # One tile (the usual case): each row's best and second straight from its scan.
        partial_dists(X, m, d, C, CT, k, cnorm, k, D, use_gemm)
        for r in range(m):
            besti[r] = row_argmin2(D + r * k, k, &bestv[r], &secv[r])
    else:
        fused = False
        j0 = 0
        while j0 < k:
            kt = imin(TILE_CENTERS, k - j0)
            partial_dists(X, m, d, C + j0 * d, CT + j0, k, cnorm + j0, kt, D, use_gemm)
            merge_tile_best2(D, m, kt, j0, bestv, secv, besti)
            j0 += kt
    if k < 2:
        return
    rounding_terms(expansion_error_scale(d, floating is float), max_value(cnorm, k), &c1, &c2sq)
    for r in range(m):
        x2 = xnorms[r] if xnorms != NULL else -1.0
        if not row_within_rounding(<double>secv[r] - <double>bestv[r], c1, c2sq, X + r * d, d,
                                   &x2):
            continue
        if k > TILE_CENTERS or fused:
            besti[r] = exact_closest(X + r * d, C, k, d, &dist)
        else:
            # D still holds the row's k values: only those within the misorder bound of
            # the best can win.
            if x2 < 0:
                x2 = sq_norm(X + r * d, d)
            besti[r] = exact_closest_among(X + r * d, C, k, d, D + r * k, bestv[r],
                                           c1 + sqrt(c2sq * x2), &dist)


cdef inline Py_ssize_t closest_center_sparse(
    const floating *data, const int *indices, Py_ssize_t p0, Py_ssize_t p1,
    const floating *C, const floating *CT, const floating *cnorm, Py_ssize_t k, Py_ssize_t d,
    floating *Dr,
) noexcept nogil:
    """The closest centre to one CSR row (entries p0 .. p1) by the exact assignment rule, from
    the transposed centres (d x k). Dr is scratch of k + d values whose last d must be zero
    (they are left zero): k partial distances, then the row made dense when its decision is
    within the rounding bound of :func:`closest_centers` and goes to :func:`exact_closest`."""
    cdef Py_ssize_t j, p, a
    cdef floating v, v2
    cdef double xnorm = 0.0, dist, c1, c2sq
    cdef const floating *ct
    cdef floating *xd = Dr + k
    for j in range(k):
        Dr[j] = cnorm[j]
    for p in range(p0, p1):
        v = -2 * data[p]
        xnorm += <double>data[p] * <double>data[p]
        ct = CT + indices[p] * k
        for j in range(k):
            Dr[j] += v * ct[j]
    a = row_argmin2(Dr, k, &v, &v2)
    if k < 2:
        return a
    rounding_terms(expansion_error_scale(d, floating is float), max_value(cnorm, k), &c1, &c2sq)
    if within_rounding(<double>v2 - <double>v, c1, c2sq, xnorm):
        for p in range(p0, p1):
            xd[indices[p]] = data[p]
        a = exact_closest(xd, C, k, d, &dist)
        for p in range(p0, p1):
            xd[indices[p]] = 0
    return a


cdef inline double sq_dist(const floating *x, const floating *c, Py_ssize_t d) noexcept nogil:
    """Squared distance in float64, with the same bits on every CPU.

    From 16 features on, over eight lanes (AVX2 where the CPU has it; the portable version
    performs the same operations, see _fused.h); below, four terms at a time (scikit-learn's
    order of summation for its Elkan distances, and four independent products per add)."""
    cdef Py_ssize_t f, n4 = d // 4
    cdef double t0, t1, t2, t3, s = 0.0
    if d >= 16:
        if floating is float:
            return kmix_sqdist_f(x, c, d)
        else:
            return kmix_sqdist_d(x, c, d)
    for f in range(n4):  # no-cython-lint (f counts the four-term steps)
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


cdef enum:
    # The most row blocks of the k-means kernels (n_blocks_for; add_cluster_touched lists a
    # cluster's on its stack)
    MAX_ROW_BLOCKS = 64


cdef inline Py_ssize_t n_blocks_for(Py_ssize_t n, Py_ssize_t per_block_doubles) noexcept nogil:
    """Row blocks of the k-means kernels: one per CHUNK_ROWS rows, at most MAX_ROW_BLOCKS
    (enough to balance 2-16 threads with dynamic scheduling), partial sums within ~64 MiB in
    all."""
    return blocks_for(n, per_block_doubles, CHUNK_ROWS, MAX_ROW_BLOCKS, 8 * 1024 * 1024)


cdef inline void prep_centers(const floating *C, Py_ssize_t k, Py_ssize_t d, floating *CT,
                              floating *cnorm) noexcept nogil:
    """Transposed centres (d x k) and their squared norms, in the centres' dtype (each norm
    summed over the features in order; from CT's rows, so that the compiler runs the centres
    in the vector lanes)."""
    cdef Py_ssize_t j, f
    for j in range(k):
        for f in range(d):
            CT[f * k + j] = C[j * d + f]
        cnorm[j] = 0
    for f in range(d):
        for j in range(k):
            cnorm[j] += CT[f * k + j] * CT[f * k + j]


cdef inline void reduce_cluster_touched(const double *bsum, const double *bw, Py_ssize_t nb,
                                       Py_ssize_t k, Py_ssize_t d, double *sums, double *wsum,
                                       const unsigned char *touched,
                                       Py_ssize_t j) noexcept nogil:
    """Cluster j's part of :func:`reduce_blocks` with touched and without accumulate: its
    sums and weight set to the blocks' that hold it, added in block order (for a pass's own
    threads to share the clusters between them)."""
    cdef Py_ssize_t b, f
    cdef const double *src
    cdef double *dst = sums + j * d
    for f in range(d):
        dst[f] = 0.0
    wsum[j] = 0.0
    for b in range(nb):
        if touched[b * k + j]:
            src = bsum + (b * k + j) * d
            for f in range(d):
                dst[f] = dst[f] + src[f]
            wsum[j] = wsum[j] + bw[b * k + j]


cdef inline void add_cluster_touched(const double *bsum, const double *bw, Py_ssize_t nb,
                                     Py_ssize_t k, Py_ssize_t d, double *sums, double *wsum,
                                     const unsigned char *touched,
                                     Py_ssize_t j) noexcept nogil:
    """Cluster j's part of :func:`reduce_blocks` with touched and accumulate (nb at most
    MAX_ROW_BLOCKS: a pass's blocks are its Workspace's, counted by n_blocks_for): the
    blocks that hold it listed once, then each feature's sum over them in block order added
    to its sums. The values of testing every block's flag for every feature, without those
    tests (a pass of a bound algorithm moves few rows, and the tests were most of its
    reduction: normal 100k x 32, k = 1000, 64 blocks, Zen 4: 18 ms of a 0.52 s Yinyang
    fit)."""
    cdef Py_ssize_t held[MAX_ROW_BLOCKS]
    cdef Py_ssize_t b, f, t, nt = 0
    cdef double acc
    for b in range(nb):
        held[nt] = b
        nt += touched[b * k + j] != 0
    if nt == 0:
        return
    for f in range(d):
        acc = 0.0
        for t in range(nt):
            acc = acc + bsum[(held[t] * k + j) * d + f]
        sums[j * d + f] += acc
    acc = 0.0
    for t in range(nt):
        acc = acc + bw[held[t] * k + j]
    wsum[j] += acc


cdef inline void reduce_blocks(const double *bsum, const double *bw, Py_ssize_t nb,
                               Py_ssize_t k, Py_ssize_t d, double *sums, double *wsum,
                               bint accumulate, int n_threads,
                               const unsigned char *touched=NULL) noexcept nogil:
    """sums (+)= sum over blocks of bsum and wsum (+)= sum over blocks of bw, in block order.

    touched (nb x k): the blocks' sums were not zeroed, and block b holds cluster j's only
    where touched[b * k + j]; the others are skipped. A skipped block would add 0.0, which
    changes no sum (the running sums start at +0.0, so none is -0.0), and the blocks that
    count are added in the same order: the same bits. With accumulate, the blocks' sum of a
    cluster no block touched is 0.0 and the cluster is left as it is. Small reductions run
    on one thread: waking a team costs more than they do."""
    cdef Py_ssize_t j, f, b
    cdef double acc
    if nb * k * d < 1 << 19:
        n_threads = 1
    if touched != NULL and accumulate:
        for j in prange(k, schedule='static', num_threads=n_threads):
            add_cluster_touched(bsum, bw, nb, k, d, sums, wsum, touched, j)
        return
    if touched != NULL:
        for j in prange(k, schedule='static', num_threads=n_threads):
            reduce_cluster_touched(bsum, bw, nb, k, d, sums, wsum, touched, j)
        return
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


cdef inline void float32_rows(const double *X, Py_ssize_t n, Py_ssize_t d, float *out,
                              int n_threads) noexcept nogil:
    """out = X rounded to float32 (to nearest, as numpy's astype), n rows of d values, over
    row blocks on n_threads threads (each thread also takes the first touch of its part of
    a fresh out). The caller keeps the values inside float32's range."""
    cdef Py_ssize_t b, i, nb = n_blocks_for(n, 1), bs = (n + nb - 1) // nb
    for b in prange(nb, schedule='static', num_threads=n_threads):
        for i in range(b * bs * d, imin(n, (b + 1) * bs) * d):
            out[i] = <float>X[i]


cdef inline double sum_in_order(const double *v, Py_ssize_t n) noexcept nogil:
    """v[0] + v[1] + ... + v[n - 1], added in that order."""
    cdef Py_ssize_t i
    cdef double s = 0.0
    for i in range(n):
        s += v[i]
    return s


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
