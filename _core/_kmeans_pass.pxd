# The arguments of the k-means passes (Lloyd in _lloyd.pyx; Hamerly, Elkan and Yinyang in
# _bounds.pyx), grouped by role in C structs, and the inline helpers that fill them.
#
# Arrays in the data's dtype (float or double) are held untyped (const void *) and read
# through typed pointers by the fused kernels; the entry points fill the structs from typed
# memoryviews, so the dtype always matches.
from cython cimport floating
from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport malloc

from _common cimport (GEMM_MIN_FEATURES, MIXED_MAX_NORM, TILE_CENTERS, direct_gamma,
                      expansion_error_scale, imin, kmix_cpu_has_avx512f, kmix_gamma,
                      kmix_wide_pack_f, kmix_wide_packed_size, max_value, merge_tile_best2,
                      mixed_abs_unit, mixed_error_scale, partial_dists, prep_centers,
                      wide_best_two, wide_fused)


cdef struct Rows:
    # IN: what goes with the n x d rows X of a pass (X itself, in the data's dtype, is passed
    # as a typed pointer).
    const double *sq_norms   # n squared row norms (float64); NULL where a pass needs none
    const double *weight     # n sample weights
    Py_ssize_t n
    Py_ssize_t d
    # NULL, or the rows laid out once for the wide kernel (kmix_wide_rows) by groups of
    # LABEL_GROUP rows: the rows from s (a multiple of LABEL_GROUP) at xt + s * d values; see
    # _lloyd's _lay_out_rows
    const void *xt
    bint xt_mixed            # xt holds float64 rows rounded to float32 (the mixed path's)


cdef struct Centers:
    # IN: the k centres of a pass.
    const void *C            # k x d: labels index these, direct distances are taken to them
    const void *S            # k x d: the centres in search order (Yinyang: sorted by group)
    const void *ST           # d x k: S transposed (prep_centers)
    const void *snorm        # k: squared norms of S
    const void *P            # S packed for kmix_wide_argmin2 (wide_pack; NULL: gemm tiles)
    Py_ssize_t k
    Py_ssize_t d
    bint use_gemm            # partial distances by gemm (wide data), else the fused loops
    double gamma             # rounding bound of a direct distance (direct_gamma)
    double scale             # rounding bound of a partial distance (expansion_error_scale)
    # err0 + err1 x bounds the rounding of a row's partial distances plus its squared norm x
    # (_bounds._expansion_error): 3 scale cmax and scale + gamma, cmax the centres' largest
    # squared norm.
    double err0
    double err1
    # Hamerly's float64 passes searched in float32 (see use_mixed): S, its transpose and
    # squared norms in float32 (S32 for gemm-wide data); NULL otherwise.
    const float *S32
    const float *ST32
    const float *snorm32
    const float *P32         # S32 packed for kmix_wide_argmin2 (wide_pack; NULL: gemm tiles)


cdef struct Blocks:
    # The fixed row blocks of a pass (set by the shape, never by the thread count) and their
    # partial sums, reduced in block order afterwards.
    Py_ssize_t nb            # number of blocks: block b is rows b * size .. (b + 1) * size
    Py_ssize_t size
    bint update              # whether the pass updates the clusters' sums
    double *bsum             # OUT nb x k x d: per-block sums (or changes of the sums)
    double *bw               # OUT nb x k: per-block weights (or changes of the weights)
    Py_ssize_t *bchanged     # OUT nb: labels changed per block
    # nb x k, or NULL: whether block b wrote cluster j's sums (not NULL: the blocks' sums are
    # not zeroed before the pass, a cluster's first row writes them, and reduce_blocks skips
    # the clusters a block never wrote); NULL: bsum and bw are zeroed before each block
    unsigned char *touched


cdef struct Moves:
    # OUT: where one block accumulates (with update only).
    double *bsum             # k x d
    double *bw               # k
    bint update
    unsigned char *touched   # k, or NULL (see Blocks.touched)


cdef inline Centers make_centers(const floating *C, const floating *S, const floating *ST,
                                 const floating *snorm, Py_ssize_t k,
                                 Py_ssize_t d) noexcept nogil:
    """The :c:type:`Centers` of a pass, once S's transpose ST and norms snorm are prepared
    (prep_centers); S is C in search order (C itself but for Yinyang)."""
    cdef Centers cen
    cen.C = C
    cen.S = S
    cen.ST = ST
    cen.snorm = snorm
    cen.P = NULL
    cen.k = k
    cen.d = d
    cen.use_gemm = d >= GEMM_MIN_FEATURES
    cen.gamma = direct_gamma(d)
    cen.scale = expansion_error_scale(d, floating is float)
    cen.err0 = 3.0 * cen.scale * max_value(snorm, k)
    cen.err1 = cen.scale + cen.gamma
    cen.S32 = NULL
    cen.ST32 = NULL
    cen.snorm32 = NULL
    cen.P32 = NULL
    return cen


cdef enum:
    # Centres from which float64 passes on gemm-wide data (Lloyd's, Hamerly's full searches)
    # compute their partial distances in float32 (MixedCenters); below, the float64 gemm is
    # cheap enough. The crossover depends on the CPU: _lloyd.mixed_min_centers.
    MIXED_MIN_CENTERS_AVX2 = 128
    MIXED_MIN_CENTERS_AVX512 = 16


cdef inline Py_ssize_t gemm_mixed_min_centers() noexcept nogil:
    return MIXED_MIN_CENTERS_AVX512 if kmix_cpu_has_avx512f() else MIXED_MIN_CENTERS_AVX2


# Rows whose squared norm, or centres whose largest squared norm, exceed this are decided in
# float64 (exact_closest): their float32 values could overflow.
cdef struct MixedCenters:
    # Float64 data, float32 distances: the centres rounded to float32 (C32, k x d), transposed
    # (CT32, d x k) with their float32 squared norms (cnorm32); the float64 largest squared
    # norm of the true centres (cmax) and the error scale of the float32 partial distances
    # against the exact ones of the float64 rows and centres (scale: mixed_error_scale, with
    # mixed_abs_error for the values near float32's underflow).
    const float *C32
    const float *CT32
    const float *cnorm32
    const float *P32         # packed for kmix_wide_argmin2 (NULL: gemm tiles; see wide_pack)
    double cmax
    double scale


cdef inline double max_sq_norm(const floating *C, Py_ssize_t k, Py_ssize_t d) noexcept nogil:
    """The largest float64 squared norm of the k rows of C (inf if one is NaN)."""
    cdef Py_ssize_t j, f
    cdef double s, m = 0.0
    for j in range(k):
        s = 0.0
        for f in range(d):
            s += <double>C[j * d + f] * <double>C[j * d + f]
        if not s <= m:
            m = s if s == s else INFINITY
    return m


cdef inline float *mixed_centers(const double *centers, Py_ssize_t k, Py_ssize_t d,
                                 MixedCenters *mc) noexcept nogil:
    """Fill mc for the float64 centres; return the buffer to free (NULL: out of memory, or
    centres too large for float32 distances: the pass then stays in float64)."""
    cdef Py_ssize_t j
    cdef double cmax = max_sq_norm(centers, k, d)
    cdef float *buf
    if not cmax <= MIXED_MAX_NORM:
        return NULL
    cdef bint wide = wide_fused(d, k)
    buf = <float*>malloc((2 * k * d + k + (kmix_wide_packed_size(d, k) if wide else 0))
                         * sizeof(float))
    if buf == NULL:
        return NULL
    for j in range(k * d):
        buf[j] = <float>centers[j]
    prep_centers(buf, k, d, buf + k * d, buf + 2 * k * d)
    mc.C32 = buf
    mc.CT32 = buf + k * d
    mc.cnorm32 = buf + 2 * k * d
    mc.P32 = NULL
    if wide:
        kmix_wide_pack_f(mc.CT32, k, mc.cnorm32, k, d, buf + 2 * k * d + k)
        mc.P32 = buf + 2 * k * d + k
    mc.cmax = cmax * (1.0 + kmix_gamma(d + 1, False))
    mc.scale = mixed_error_scale(d)
    return buf


cdef inline void mixed_best_two(const double *X, Py_ssize_t m, Py_ssize_t d, const float *C32,
                               const float *CT32, const float *cnorm32, const float *P32,
                               Py_ssize_t k, bint use_gemm, float *X32, float *D, float *bestv,
                               float *secv, Py_ssize_t *besti,
                               const float *xt32=NULL) noexcept nogil:
    """Each of m float64 rows' best two float32 partial distances to k centres (bestv at
    centre besti, secv; a tied minimum counts twice), from the rows rounded to float32 (into
    X32, m x d) and the centres' float32 forms (C32, k x d; CT32, d x k; cnorm32: a
    MixedCenters'), tile by tile (D: m x TILE_CENTERS scratch) by merge_tile_best2, or with
    the packed P32 (not NULL) by kmix_wide_argmin2, which reads the rounded rows already laid
    out when xt32 is not NULL (X then unread). The float64
    decisions are the caller's (Lloyd's _closest_mixed, Hamerly's _wide_mixed_best_two)."""
    cdef Py_ssize_t r, kt, j0 = 0
    if xt32 != NULL and P32 != NULL and wide_best_two(X32, m, d, P32, k, besti, bestv, secv,
                                                      xt32):
        return
    for r in range(m * d):
        X32[r] = <float>X[r]
    if P32 != NULL and wide_best_two(X32, m, d, P32, k, besti, bestv, secv, NULL):
        return
    while j0 < k:
        kt = imin(TILE_CENTERS, k - j0)
        partial_dists(X32, m, d, C32 + j0 * d, CT32 + j0, k, cnorm32 + j0, kt, D, use_gemm)
        merge_tile_best2(D, m, kt, j0, bestv, secv, besti)
        j0 += kt


cdef inline void use_mixed(Centers *cen, const MixedCenters *mc) noexcept nogil:
    """Search cen's centres (S = C) in float32 by mc, rows of squared norm at most
    MIXED_MAX_NORM: err0 + err1 x then bounds twice a float32 partial distance's error
    against the exact float64 one plus the rounding of the row's squared norm x, as
    make_centers' terms bound it for the data's dtype. One value is off by at most
    scale (c + |x| sqrt(c)) + a (1 + 2 sqrt(d) (|x| + sqrt(c))) (mixed_error_scale,
    mixed_abs_error; a = mixed_abs_unit(d), c = mc.cmax), and with |x| sqrt(c) <= (x + c) / 2
    and |x| + sqrt(c) <= 1 + (x + c) / 2 (AM-GM, |x|^2 = x) twice that is at most
    3 scale c + 2 a (1 + 2 sqrt(d) + sqrt(d) c) + (scale + 2 a sqrt(d)) x."""
    cdef double a = mixed_abs_unit(cen.d), rd = sqrt(<double>cen.d)
    cen.S32 = mc.C32
    cen.ST32 = mc.CT32
    cen.snorm32 = mc.cnorm32
    cen.P32 = mc.P32
    cen.err0 = 3.0 * mc.scale * mc.cmax + 2.0 * a * (1.0 + 2.0 * rd + rd * mc.cmax)
    cen.err1 = mc.scale + 2.0 * a * rd + cen.gamma


cdef inline Rows make_rows(const double *sq_norms, const double *weight, Py_ssize_t n,
                           Py_ssize_t d) noexcept nogil:
    cdef Rows rows
    rows.sq_norms = sq_norms
    rows.weight = weight
    rows.n = n
    rows.d = d
    rows.xt = NULL
    rows.xt_mixed = False
    return rows


cdef inline Blocks make_blocks(Py_ssize_t n, Py_ssize_t nb, bint update, double *bsum,
                               double *bw, Py_ssize_t *bchanged) noexcept nogil:
    """The nb row blocks of a pass over n rows."""
    cdef Blocks blk
    blk.nb = nb
    blk.size = (n + nb - 1) // nb
    blk.update = update
    blk.bsum = bsum
    blk.bw = bw
    blk.bchanged = bchanged
    blk.touched = NULL
    return blk


cdef inline Moves block_moves(const Blocks *blk, Py_ssize_t b, Py_ssize_t k,
                              Py_ssize_t d) noexcept nogil:
    """Where block b accumulates (its slices of bsum and bw)."""
    cdef Moves mv
    mv.update = blk.update
    mv.bsum = blk.bsum + (b * k * d if blk.update else 0)
    mv.bw = blk.bw + (b * k if blk.update else 0)
    mv.touched = blk.touched + b * k if blk.update and blk.touched != NULL else NULL
    return mv


cdef struct Clustering:
    # The C view of a run's clusters (kmix._core._lloyd.Clusters): what a pass writes.
    int *labels              # INOUT n: each row's centre (-1: not assigned yet)
    double *sums             # OUT/INOUT k x d: weighted sums of each cluster's rows
    double *wsum             # OUT/INOUT k: the clusters' weights
    void *CT                 # scratch d x k, data dtype: the (searched) centres transposed
    void *cnorm              # scratch k, data dtype: their squared norms
    Blocks blk               # the pass's row blocks and their partial sums
