"""Lloyd iterations, assignment and inertia for dense and CSR data.

Every kernel releases the GIL, splits the rows into a fixed number of blocks (chosen from the
problem's shape, never from the thread count), accumulates each block's partial sums in float64
and reduces the blocks in order: results are bitwise identical for any ``n_threads``.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy

from _common cimport (CHUNK_ROWS, GEMM_MIN_FEATURES, TILE_CENTERS, check_block_buffers,
                      closest_center_sparse, closest_centers, exact_closest, exact_sign,
                      expansion_error_scale, imin, kmix_cpu_has_fma, kmix_gamma, merge_tile_best2,
                      n_blocks_for, partial_dists, prep_centers, reduce_blocks, row_norm, sq_dist,
                      sq_dist_sparse, sum_counts, zero_block)
from _interrupt cimport check_interrupt, monotonic


def n_blocks(Py_ssize_t n, Py_ssize_t k, Py_ssize_t d):
    """Row blocks of the update kernels for n rows, k centres and d features."""
    return n_blocks_for(n, k * d + k)


cdef enum:
    # Centres from which float64 Lloyd passes on gemm-wide data compute their partial
    # distances in float32 (see _MixedCenters); below, the float64 gemm is cheap enough.
    MIXED_MIN_CENTERS = 128

# Rows whose squared norm, or centres whose largest squared norm, exceed this are decided in
# float64 (exact_closest): their float32 values could overflow.
cdef double MIXED_MAX_NORM = 1e30


cdef struct _MixedCenters:
    # Float64 data, float32 distances: the centres rounded to float32 (C32, k x d), transposed
    # (CT32, d x k) with their float32 squared norms (cnorm32); the float64 largest squared
    # norm of the true centres (cmax) and the error scale of the float32 partial distances
    # against the exact ones of the float64 rows and centres (scale, see _closest_mixed).
    const float *C32
    const float *CT32
    const float *cnorm32
    double cmax
    double scale


cdef double _mixed_error_scale(Py_ssize_t d) noexcept nogil:
    """gamma such that gamma * (cmax + ||x|| sqrt(cmax)) + _mixed_abs_error bounds the error
    of a float32 partial distance D'_j = fl32(||c'_j||^2 - 2 <x', c'_j>) against the exact
    D_j = ||c_j||^2 - 2 <x, c_j> of the float64 row x and centre c_j.

    x' and c'_j are x and c_j rounded to float32: x'_f = x_f (1 + a_f), c'_f = c_f (1 + b_f),
    |a_f|, |b_f| <= u = 2^-24 (normal range; subnormals: see _mixed_abs_error). Then
    |c'_f^2 - c_f^2| <= (2u + u^2) c_f^2 and |x'_f c'_f - x_f c_f| <= (2u + u^2) |x_f c_f|, so
    |D'_exact - D_j| <= gamma_2 (||c_j||^2 + 2 ||x|| ||c_j||) <= 2 gamma_2 (cmax + ||x||
    sqrt(cmax)) (gamma_2 = 2u / (1 - 2u) >= 2u + u^2). The float32 evaluation of D'_exact adds
    expansion_error_scale(d, float32) (ch. 3 of Higham, as for closest_centers) in terms of the
    rounded magnitudes, at most (1 + u)^2 <= 1 + gamma_3 times the true ones."""
    return (expansion_error_scale(d, True) + 2.0 * kmix_gamma(2, True)) * (
        1.0 + kmix_gamma(4, True))


cdef inline double _mixed_abs_error(Py_ssize_t d, double xnorm, double cmax) noexcept nogil:
    """Absolute error the relative bound of _mixed_error_scale misses: values rounded to
    float32 subnormals (absolute error <= 2^-150 each) and float32 operations that underflow
    (<= 2^-150 each, 2d + 4 of them per partial distance), taken with a wide margin
    (7.2e-43 > 2^-140)."""
    return 7.2e-43 * (d + 2) * (1.0 + 2.0 * sqrt(<double>d) * (xnorm + sqrt(cmax)))


cdef void _closest_mixed(
    const double *X, Py_ssize_t m, Py_ssize_t d, const double *C, Py_ssize_t k,
    const _MixedCenters *mc, Py_ssize_t *besti, float *X32, float *D, bint use_gemm,
) noexcept nogil:
    """closest_centers for float64 rows from float32 partial distances (m <= CHUNK_ROWS).

    IN X (m x d), C (k x d, the float64 centres), mc (their float32 forms, see _MixedCenters);
    OUT besti (m): the exact assignment rule's labels; scratch X32 (m x d), D (m x TILE_CENTERS).

    Each row's best and second-best float32 values decide when their gap exceeds twice the
    error bound of one value (_mixed_error_scale, _mixed_abs_error): the true order of the two
    centres is then the computed one, and every other centre is farther than both. Rows whose
    gap is within the bound (or NaN), and rows or centres too large for float32, are decided
    by exact_closest on the float64 values, so the labels are those of closest_centers.
    """
    cdef Py_ssize_t j0, kt, r
    cdef float bestv[CHUNK_ROWS]
    cdef float secv[CHUNK_ROWS]
    cdef double xn, bound, dist
    for r in range(m * d):
        X32[r] = <float>X[r]
    j0 = 0
    while j0 < k:
        kt = imin(TILE_CENTERS, k - j0)
        partial_dists(X32, m, d, mc.C32 + j0 * d, mc.CT32 + j0, k, mc.cnorm32 + j0, kt, D,
                      use_gemm)
        merge_tile_best2(D, m, kt, j0, bestv, secv, besti)
        j0 += kt
    for r in range(m):
        xn = row_norm(X + r * d, d)
        bound = 2.0 * (mc.scale * (mc.cmax + xn * sqrt(mc.cmax))
                       + _mixed_abs_error(d, xn, mc.cmax))
        # (centres too large for float32 never get here: _mixed_centers refuses them)
        if not (<double>secv[r] - <double>bestv[r] > bound) or xn * xn > MIXED_MAX_NORM:
            besti[r] = exact_closest(X + r * d, C, k, d, &dist)


cdef Py_ssize_t _apply_labels(
    const floating *X, Py_ssize_t s, Py_ssize_t m, Py_ssize_t d, const Py_ssize_t *besti,
    const double *w, int *labels, bint update, double *bsum, double *bw,
) noexcept nogil:
    """Store the labels of rows s .. s + m (besti) and, with update, add the rows to their
    cluster's block sums (bsum, bw); return how many labels changed."""
    cdef Py_ssize_t r, i, a, f
    cdef Py_ssize_t changed = 0
    cdef double wi
    cdef double *row
    cdef const floating *x
    for r in range(m):
        i = s + r
        a = besti[r]
        if labels[i] != a:
            changed += 1
            labels[i] = <int>a
        if update:
            wi = w[i]
            bw[a] += wi
            row = bsum + a * d
            x = X + i * d
            for f in range(d):
                row[f] += wi * x[f]
    return changed


cdef Py_ssize_t _lloyd_block_dense(
    const floating *X, Py_ssize_t start, Py_ssize_t end, Py_ssize_t d,
    const floating *C, const floating *CT, const floating *cnorm, Py_ssize_t k,
    const double *w, int *labels, bint update, double *bsum, double *bw,
    floating *D, bint use_gemm, const _MixedCenters *mc, float *X32,
) noexcept nogil:
    """Assign rows start .. end (and add them to the block sums with update). mc (NULL for
    all-float64 distances) and X32 (its row scratch): see _closest_mixed."""
    cdef Py_ssize_t s, m
    cdef Py_ssize_t changed = 0
    cdef Py_ssize_t besti[CHUNK_ROWS]
    s = start
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        if floating is double and mc != NULL:
            _closest_mixed(X + s * d, m, d, C, k, mc, besti, X32, <float*>D, use_gemm)
        else:
            closest_centers(X + s * d, m, d, C, CT, cnorm, k, besti, D, use_gemm)
        changed += _apply_labels(X, s, m, d, besti, w, labels, update, bsum, bw)
        s += m
    return changed


cdef Py_ssize_t _lloyd_pass_dense(
    const floating *X, Py_ssize_t n, Py_ssize_t d, const double *w, const floating *centers,
    Py_ssize_t k, int *labels, double *sums, double *wsum, bint update, int n_threads,
    floating *CT, floating *cnorm, double *bsum, double *bw, Py_ssize_t *bchanged,
    Py_ssize_t nb,
) noexcept nogil:
    """Body of :func:`lloyd_pass_dense` on raw buffers."""
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b, kt_max = imin(k, TILE_CENTERS)
    cdef bint use_gemm = d >= GEMM_MIN_FEATURES
    cdef floating *D
    cdef float *X32 = NULL
    cdef _MixedCenters mixed
    cdef const _MixedCenters *mc = NULL
    cdef float *mbuf = NULL
    prep_centers(centers, k, d, CT, cnorm)
    if floating is double and use_gemm and k >= MIXED_MIN_CENTERS:
        mbuf = _mixed_centers(centers, k, d, &mixed)
        if mbuf != NULL:
            mc = &mixed
    with parallel(num_threads=n_threads):
        # D holds float32 values on the mixed path (half the room of a float64 D)
        D = <floating*>malloc(CHUNK_ROWS * kt_max * sizeof(floating))
        if mc != NULL:
            X32 = <float*>malloc(CHUNK_ROWS * d * sizeof(float))
        for b in prange(nb, schedule='dynamic'):
            if update:
                zero_block(bsum + b * k * d, bw + b * k, k, d)
            bchanged[b] = _lloyd_block_dense(
                X, b * bs, imin(n, (b + 1) * bs), d, centers, CT, cnorm, k, w, labels,
                update, bsum + (b * k * d if update else 0), bw + (b * k if update else 0),
                D, use_gemm, mc, X32)
        free(D)
        free(X32)
    free(mbuf)
    if update:
        reduce_blocks(bsum, bw, nb, k, d, sums, wsum, False, n_threads)
    return sum_counts(bchanged, nb)


cdef float *_mixed_centers(const double *centers, Py_ssize_t k, Py_ssize_t d,
                           _MixedCenters *mc) noexcept nogil:
    """Fill mc for the float64 centres; return the buffer to free (NULL: out of memory, or
    centres too large for float32 distances: the pass then stays in float64)."""
    cdef Py_ssize_t j, f
    cdef double s, cmax = 0.0
    cdef float *buf
    for j in range(k):
        s = 0.0
        for f in range(d):
            s += centers[j * d + f] * centers[j * d + f]
        if not s <= cmax:
            cmax = s
    if not cmax <= MIXED_MAX_NORM:
        return NULL
    buf = <float*>malloc((2 * k * d + k) * sizeof(float))
    if buf == NULL:
        return NULL
    for j in range(k * d):
        buf[j] = <float>centers[j]
    prep_centers(buf, k, d, buf + k * d, buf + 2 * k * d)
    mc.C32 = buf
    mc.CT32 = buf + k * d
    mc.cnorm32 = buf + 2 * k * d
    mc.cmax = cmax * (1.0 + kmix_gamma(d + 1, False))
    mc.scale = _mixed_error_scale(d)
    return buf


def lloyd_pass_dense(const floating[:, ::1] X, const double[::1] sample_weight,
                     const floating[:, ::1] centers, int[::1] labels,
                     double[:, ::1] sums, double[::1] weight_in_clusters,
                     bint update, int n_threads, floating[:, ::1] CT, floating[::1] cnorm,
                     double[:, :, ::1] bsum, double[:, ::1] bw, Py_ssize_t[::1] bchanged):
    """Assign every row to its closest centre; optionally sum rows per cluster.

    Writes ``labels`` in place and, when ``update``, the per-cluster weighted sums of rows
    (``sums``, k x d) and weights (``weight_in_clusters``). Returns how many labels changed.
    ``CT`` (d x k), ``cnorm`` (k), ``bsum`` (nb x k x d, or any shape without ``update``),
    ``bw`` (nb x k) and ``bchanged`` (nb) are scratch buffers owned by the caller; nb, the
    number of row blocks, is ``bchanged.shape[0]``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t changed
    if n == 0:
        return 0
    check_block_buffers(bsum, bchanged.shape[0], k, d, update)
    with nogil:
        changed = _lloyd_pass_dense(&X[0, 0], n, d, &sample_weight[0], &centers[0, 0], k,
                                    &labels[0], &sums[0, 0], &weight_in_clusters[0], update,
                                    n_threads, &CT[0, 0], &cnorm[0], &bsum[0, 0, 0], &bw[0, 0],
                                    &bchanged[0], bchanged.shape[0])
    return changed


cdef Py_ssize_t _lloyd_block_sparse(
    const floating *data, const int *indices, const int *indptr,
    Py_ssize_t start, Py_ssize_t end, Py_ssize_t d, const floating *C,
    const floating *CT, const floating *cnorm, Py_ssize_t k,
    const double *w, int *labels, bint update, double *bsum, double *bw, floating *Dr,
) noexcept nogil:
    cdef Py_ssize_t i, p, a
    cdef Py_ssize_t changed = 0
    cdef double wi
    for i in range(start, end):
        a = closest_center_sparse(data, indices, indptr[i], indptr[i + 1], C, CT, cnorm, k, d,
                                  Dr)
        if labels[i] != a:
            changed += 1
            labels[i] = <int>a
        if update:
            wi = w[i]
            bw[a] += wi
            for p in range(indptr[i], indptr[i + 1]):
                bsum[a * d + indices[p]] += wi * data[p]
    return changed


def lloyd_pass_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                      Py_ssize_t n_features, const double[::1] sample_weight,
                      const floating[:, ::1] centers, int[::1] labels,
                      double[:, ::1] sums, double[::1] weight_in_clusters,
                      bint update, int n_threads, floating[:, ::1] CT, floating[::1] cnorm,
                      double[:, :, ::1] bsum, double[:, ::1] bw, Py_ssize_t[::1] bchanged):
    """:func:`lloyd_pass_dense` for a CSR matrix given by its three arrays."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = n_features, k = centers.shape[0]
    cdef Py_ssize_t nb = bchanged.shape[0]
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b
    cdef const floating *data_p = &data[0] if data.shape[0] > 0 else NULL
    cdef const int *indices_p = &indices[0] if indices.shape[0] > 0 else NULL
    cdef floating *Dr
    if n == 0:
        return 0
    check_block_buffers(bsum, nb, k, d, update)
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        with parallel(num_threads=n_threads):
            Dr = <floating*>calloc(k + d, sizeof(floating))
            for b in prange(nb, schedule='dynamic'):
                if update:
                    zero_block(&bsum[b, 0, 0], &bw[b, 0], k, d)
                bchanged[b] = _lloyd_block_sparse(
                    data_p, indices_p, &indptr[0], b * bs, imin(n, (b + 1) * bs), d,
                    &centers[0, 0], &CT[0, 0], &cnorm[0], k, &sample_weight[0], &labels[0], update,
                    &bsum[b if update else 0, 0, 0], &bw[b if update else 0, 0], Dr)
            free(Dr)
        if update:
            reduce_blocks(&bsum[0, 0, 0], &bw[0, 0], nb, k, d, &sums[0, 0],
                          &weight_in_clusters[0], False, n_threads)
    return sum_counts(&bchanged[0], nb)


def sq_dist_to_assigned_dense(const floating[:, ::1] X, const floating[:, ::1] centers,
                              const int[::1] labels, double[::1] out, int n_threads):
    """out[i] = ||X[i] - centers[labels[i]]||^2, exactly (float64)."""
    cdef Py_ssize_t i, n = X.shape[0], d = X.shape[1]
    for i in prange(n, nogil=True, schedule='static', num_threads=n_threads):
        out[i] = sq_dist(&X[i, 0], &centers[labels[i], 0], d)


def sq_dist_to_assigned_sparse(const floating[::1] data, const int[::1] indices,
                               const int[::1] indptr, const floating[:, ::1] centers,
                               const int[::1] labels, double[::1] out, int n_threads):
    """:func:`sq_dist_to_assigned_dense` for CSR data."""
    cdef Py_ssize_t i, j, f, n = indptr.shape[0] - 1, k = centers.shape[0], d = centers.shape[1]
    cdef double[::1] cnorm = np.zeros(k)
    cdef const floating *data_p = &data[0] if data.shape[0] > 0 else NULL
    cdef const int *indices_p = &indices[0] if indices.shape[0] > 0 else NULL
    for j in range(k):
        for f in range(d):
            cnorm[j] += <double>centers[j, f] * <double>centers[j, f]
    for i in prange(n, nogil=True, schedule='static', num_threads=n_threads):
        out[i] = sq_dist_sparse(data_p, indices_p, indptr[i], indptr[i + 1],
                                 &centers[labels[i], 0], cnorm[labels[i]])


def weighted_sum_ordered(const double[::1] values, const double[::1] weights, int n_threads):
    """sum(values * weights) over fixed blocks reduced in order (thread-count independent)."""
    cdef Py_ssize_t n = values.shape[0]
    cdef Py_ssize_t nb = n_blocks_for(n, 1), bs, b, i
    cdef double[::1] part = np.zeros(nb)
    cdef double acc
    bs = (n + nb - 1) // nb
    for b in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        acc = 0.0
        for i in range(b * bs, imin(n, (b + 1) * bs)):
            acc = acc + values[i] * weights[i]
        part[b] = acc
    acc = 0.0
    for b in range(nb):
        acc += part[b]
    return acc


def exact_labels(const floating[:, ::1] X, const floating[:, ::1] centers, int[::1] labels):
    """labels[i] = the closest centre to X[i] by the exact assignment rule alone (no fast
    path: O(k d) per row); returns nothing. For tests of the rule itself."""
    cdef Py_ssize_t i, n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef double dist
    if k == 0 or X.shape[1] != centers.shape[1]:
        raise ValueError("centers must be non-empty with X's number of features")
    with nogil:
        for i in range(n):
            labels[i] = <int>exact_closest(&X[i, 0], &centers[0, 0], k, d, &dist)


def exact_sign_of(const floating[::1] x, const floating[::1] a, const floating[::1] b):
    """sign(||x - a||^2 - ||x - b||^2) by exact arithmetic: -1, 0 or 1 (for tests)."""
    if not (x.shape[0] == a.shape[0] == b.shape[0]) or x.shape[0] == 0:
        raise ValueError("x, a and b must be non-empty and of one length")
    return exact_sign(&x[0], &a[0], &b[0], x.shape[0])


def simd_enabled():
    """Whether the AVX2/FMA kernels run (CPU support, and KMIX_DISABLE_SIMD unset at import)."""
    return bool(kmix_cpu_has_fma())


cdef double _centers_from_sums(const double *sums, const double *wsum, Py_ssize_t k,
                               Py_ssize_t d, const floating *centers_old, floating *centers_new,
                               double *center_shift, bint allow_empty) noexcept nogil:
    """Body of :func:`centers_from_sums` on raw buffers."""
    cdef Py_ssize_t j, f, big = 0
    cdef double c, t, s, tot = 0.0
    for j in range(k):
        if wsum[j] == 0 and not allow_empty:
            return -1.0
        if wsum[j] > wsum[big]:
            big = j
    for j in range(k):
        s = 0.0
        for f in range(d):
            if wsum[j] > 0:
                c = sums[j * d + f] * (1.0 / wsum[j])
            else:
                c = sums[big * d + f] * (1.0 / wsum[big])
            centers_new[j * d + f] = <floating>c
            t = <double>centers_new[j * d + f] - <double>centers_old[j * d + f]
            s += t * t
        center_shift[j] = sqrt(s)
        tot += s
    return tot


def centers_from_sums(const double[:, ::1] sums, const double[::1] weight_in_clusters,
                      const floating[:, ::1] centers_old, floating[:, ::1] centers_new,
                      double[::1] center_shift, bint allow_empty):
    """centers_new = sums / weights and each centre's shift; returns the total squared shift.

    Returns -1 without writing anything when a cluster has zero weight, unless
    ``allow_empty`` (then such a centre is the centre of the heaviest cluster, the first
    one on a tie, as scikit-learn places it).
    """
    return _centers_from_sums(&sums[0, 0], &weight_in_clusters[0], sums.shape[0],
                              sums.shape[1], &centers_old[0, 0], &centers_new[0, 0],
                              &center_shift[0], allow_empty)


cdef enum:
    _RUN_STRICT = 0
    _RUN_TOL = 1
    _RUN_MAX_ITER = 2
    _RUN_EMPTY = 3

#: Outcomes of :func:`lloyd_run_dense`.
RUN_STRICT = _RUN_STRICT
RUN_TOL = _RUN_TOL
RUN_MAX_ITER = _RUN_MAX_ITER
RUN_EMPTY = _RUN_EMPTY


def lloyd_run_dense(const floating[:, ::1] X, const double[::1] sample_weight,
                    floating[:, ::1] centers, floating[:, ::1] centers_new, int[::1] labels,
                    double[:, ::1] sums, double[::1] weight_in_clusters,
                    double[::1] center_shift, int max_iter, double tol, int n_threads,
                    floating[:, ::1] CT, floating[::1] cnorm, double[:, :, ::1] bsum,
                    double[:, ::1] bw, Py_ssize_t[::1] bchanged):
    """Up to ``max_iter`` Lloyd iterations in one call (scikit-learn's stopping rules).

    Each iteration: a pass with update, the new centres, then a stop on unchanged labels
    (RUN_STRICT) or a total squared shift <= ``tol`` (RUN_TOL); ``centers`` holds the
    current centres throughout (``centers_new`` is scratch). When a cluster ends empty the
    run stops with RUN_EMPTY before finishing that iteration: its pass has updated
    ``labels``, ``sums`` and ``weight_in_clusters``, the centres are unchanged, and the
    caller relocates (see ``kmix._kmeans_algorithms``). Returns (iterations completed,
    labels changed by the last pass, outcome). Pending signals are handled between
    iterations: Ctrl-C raises KeyboardInterrupt (the buffers then hold a partial run).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t nb = bchanged.shape[0], it = 0, changed = 0
    cdef double shift_tot, last_check = monotonic()
    cdef int outcome = _RUN_MAX_ITER
    if n == 0 or max_iter < 1:
        raise ValueError("lloyd_run_dense needs samples and max_iter >= 1")
    check_block_buffers(bsum, nb, k, d, True)
    with nogil:
        while it < max_iter:
            if it > 0:
                check_interrupt(&last_check)
            changed = _lloyd_pass_dense(&X[0, 0], n, d, &sample_weight[0], &centers[0, 0], k,
                                        &labels[0], &sums[0, 0], &weight_in_clusters[0], True,
                                        n_threads, &CT[0, 0], &cnorm[0], &bsum[0, 0, 0],
                                        &bw[0, 0], &bchanged[0], nb)
            shift_tot = _centers_from_sums(&sums[0, 0], &weight_in_clusters[0], k, d,
                                           &centers[0, 0], &centers_new[0, 0],
                                           &center_shift[0], False)
            if shift_tot < 0:
                outcome = _RUN_EMPTY
                break
            memcpy(&centers[0, 0], &centers_new[0, 0], k * d * sizeof(floating))
            it += 1
            if changed == 0:
                outcome = _RUN_STRICT
                break
            if shift_tot <= tol:
                outcome = _RUN_TOL
                break
    return it, changed, outcome


def row_norms_variance(const floating[:, ::1] X, double[::1] row_sq_norms, int n_threads):
    """Squared row norms of X (float64, into ``row_sq_norms``) and the mean of its
    per-feature variances, reading X in place (no copy).

    Two passes over fixed row blocks reduced in order (results do not depend on
    ``n_threads``): the column sums with the row norms, then the squares about the means.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t nb = n_blocks_for(n, d), bs = (n + nb - 1) // nb, b, i, f
    cdef double[:, ::1] bsum = np.zeros((nb, d))
    cdef double[::1] mean = np.zeros(d)
    cdef double v, s, total = 0.0
    if n == 0 or d == 0:
        return 0.0
    for b in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        for i in range(b * bs, imin(n, (b + 1) * bs)):
            s = 0.0
            for f in range(d):
                v = X[i, f]
                bsum[b, f] += v
                s = s + v * v
            row_sq_norms[i] = s
    for f in range(d):
        for b in range(nb):
            mean[f] += bsum[b, f]
            bsum[b, f] = 0.0
        mean[f] /= n
    for b in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        for i in range(b * bs, imin(n, (b + 1) * bs)):
            for f in range(d):
                v = X[i, f] - mean[f]
                bsum[b, f] += v * v
    for f in range(d):
        s = 0.0
        for b in range(nb):
            s += bsum[b, f]
        total += s / n
    return total / d
