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
                      closest_center_sparse, closest_centers, exact_closest, exact_sign, imin,
                      kmix_cpu_has_fma, n_blocks_for, prep_centers, reduce_blocks, sq_dist,
                      sq_dist_sparse, sum_counts, zero_block)
from _interrupt cimport check_interrupt, monotonic


def n_blocks(Py_ssize_t n, Py_ssize_t k, Py_ssize_t d):
    """Row blocks of the update kernels for n rows, k centres and d features."""
    return n_blocks_for(n, k * d + k)


cdef Py_ssize_t _lloyd_block_dense(
    const floating *X, Py_ssize_t start, Py_ssize_t end, Py_ssize_t d,
    const floating *C, const floating *CT, const floating *cnorm, Py_ssize_t k,
    const double *w, int *labels, bint update, double *bsum, double *bw,
    floating *D, bint use_gemm,
) noexcept nogil:
    cdef Py_ssize_t s, m, r, i, a, f
    cdef Py_ssize_t changed = 0
    cdef Py_ssize_t besti[CHUNK_ROWS]
    cdef double wi
    cdef double *row
    cdef const floating *x
    s = start
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        closest_centers(X + s * d, m, d, C, CT, cnorm, k, besti, D, use_gemm)
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
    prep_centers(centers, k, d, CT, cnorm)
    with parallel(num_threads=n_threads):
        D = <floating*>malloc(CHUNK_ROWS * kt_max * sizeof(floating))
        for b in prange(nb, schedule='dynamic'):
            if update:
                zero_block(bsum + b * k * d, bw + b * k, k, d)
            bchanged[b] = _lloyd_block_dense(
                X, b * bs, imin(n, (b + 1) * bs), d, centers, CT, cnorm, k, w, labels,
                update, bsum + (b * k * d if update else 0), bw + (b * k if update else 0),
                D, use_gemm)
        free(D)
    if update:
        reduce_blocks(bsum, bw, nb, k, d, sums, wsum, False, n_threads)
    return sum_counts(bchanged, nb)


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
