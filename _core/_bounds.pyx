"""Exact k-means iterations that skip distance computations with triangle-inequality bounds.

Both kernels reproduce Lloyd's assignment (labels = argmin over centres) and keep the per-cluster
sums *incrementally*: a row is read only when its bounds fail, and only rows that change cluster
move their weighted values between two clusters' sums. Per-block deltas are reduced in a fixed
order, so results do not depend on the number of threads.

- Hamerly (2010): one upper and one lower bound per row, O(n) memory; centres tested against a
  row are batched into gemm-computed chunks.
- Elkan (2003): one lower bound per (row, centre) and half the centre-centre distances.

Bounds are true (not squared) distances in float64, except Elkan's n x k lower bounds, which are
kept in the data's dtype as scikit-learn does.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt, INFINITY
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

from kmix._core._lloyd import block_buffers

from _common cimport (CHUNK_ROWS, TILE_CENTERS, GEMM_MIN_FEATURES, partial_dists,
                      sq_dist, n_blocks_for)


cdef inline Py_ssize_t _imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline void _move_row(double *bsum, const floating *x, Py_ssize_t d, Py_ssize_t old,
                           Py_ssize_t new, double wi) noexcept nogil:
    """Move a row's weighted values from cluster `old` (if any) to cluster `new`."""
    cdef Py_ssize_t f
    cdef double *dst = bsum + new * d
    cdef double *src
    if old >= 0:
        src = bsum + old * d
        for f in range(d):
            src[f] -= wi * x[f]
    for f in range(d):
        dst[f] += wi * x[f]


cdef Py_ssize_t _hamerly_block(
    const floating *X, const double *xnorm, Py_ssize_t start, Py_ssize_t end, Py_ssize_t d,
    const floating *C, const floating *CT, const floating *cnorm, Py_ssize_t k,
    const double *shift, Py_ssize_t shift_arg, double shift_max1, double shift_max2,
    const double *half_sep, const double *w, int *labels, double *upper, double *lower,
    bint update, double *bsum, double *bw, floating *D, floating *G, bint use_gemm,
) noexcept nogil:
    cdef Py_ssize_t s, m, r, q, i, a, j, j0, kt, nfull
    cdef Py_ssize_t changed = 0
    cdef Py_ssize_t idx[CHUNK_ROWS]
    cdef Py_ssize_t b1i[CHUNK_ROWS]
    cdef double b1v[CHUNK_ROWS]
    cdef double b2v[CHUNK_ROWS]
    cdef double u, l, bound, v
    cdef const floating *Dr
    s = start
    while s < end:
        m = _imin(CHUNK_ROWS, end - s)
        nfull = 0
        for r in range(m):
            i = s + r
            a = labels[i]
            if a >= 0:
                u = upper[i] + shift[a]
                l = lower[i] - (shift_max2 if a == shift_arg else shift_max1)
                bound = l if l > half_sep[a] else half_sep[a]
                if u > bound:
                    u = sqrt(sq_dist(X + i * d, C + a * d, d))
                    if u > bound:
                        idx[nfull] = i
                        nfull += 1
                upper[i] = u
                lower[i] = l
            else:
                idx[nfull] = i
                nfull += 1
        if nfull > 0:
            for q in range(nfull):
                memcpy(G + q * d, X + idx[q] * d, d * sizeof(floating))
                b1v[q] = INFINITY
                b2v[q] = INFINITY
                b1i[q] = 0
            j0 = 0
            while j0 < k:
                kt = _imin(TILE_CENTERS, k - j0)
                partial_dists(G, nfull, d, C + j0 * d, CT + j0, k, cnorm + j0, kt, D, use_gemm)
                for q in range(nfull):
                    Dr = D + q * kt
                    for j in range(kt):
                        v = Dr[j]
                        if v < b1v[q]:
                            b2v[q] = b1v[q]
                            b1v[q] = v
                            b1i[q] = j0 + j
                        elif v < b2v[q]:
                            b2v[q] = v
                j0 += kt
            for q in range(nfull):
                i = idx[q]
                a = b1i[q]
                v = xnorm[i] + b1v[q]
                upper[i] = sqrt(v) if v > 0 else 0.0
                v = xnorm[i] + b2v[q]
                lower[i] = sqrt(v) if v > 0 else 0.0
                if labels[i] != a:
                    changed += 1
                    if update:
                        _move_row(bsum, X + i * d, d, labels[i], a, w[i])
                    labels[i] = <int>a
        if update:
            for r in range(m):
                bw[labels[s + r]] += w[s + r]
        s += m
    return changed


def _shift_summary(const double[::1] shift):
    cdef Py_ssize_t j, arg = 0
    cdef double m1 = 0.0, m2 = 0.0
    for j in range(shift.shape[0]):
        if shift[j] > m1:
            m2 = m1
            m1 = shift[j]
            arg = j
        elif shift[j] > m2:
            m2 = shift[j]
    return arg, m1, m2


def hamerly_pass_dense(const floating[:, ::1] X, const double[::1] x_sq_norms,
                       const double[::1] sample_weight, const floating[:, ::1] centers,
                       const double[::1] shift, const double[::1] half_sep,
                       int[::1] labels, double[::1] upper, double[::1] lower,
                       double[:, ::1] sums, double[::1] weight_in_clusters,
                       bint update, int n_threads):
    """One Hamerly assignment pass against ``centers``.

    ``shift[j]`` is how far centre j moved since the bounds were last valid; ``half_sep[j]`` is
    half the distance from centre j to its nearest other centre. Rows with ``labels < 0`` get a
    full search. When ``update``, ``sums`` (k x d) is updated incrementally by the rows that
    change cluster and ``weight_in_clusters`` is recomputed. Returns how many labels changed.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t nb = n_blocks_for(n, (k * d + k) if update else 1)
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b, kt_max = _imin(k, TILE_CENTERS)
    cdef bint use_gemm = d >= GEMM_MIN_FEATURES
    ct_arr = np.ascontiguousarray(np.asarray(centers).T)
    cnorm_arr = np.einsum("ij,ij->i", np.asarray(centers), np.asarray(centers))
    cdef const floating[:, ::1] CT = ct_arr
    cdef const floating[::1] cnorm = cnorm_arr
    bsum_arr, bw_arr = block_buffers(nb, k, d, update)
    cdef double[:, :, ::1] bsum = bsum_arr
    cdef double[:, ::1] bw = bw_arr
    cdef Py_ssize_t[::1] bchanged = np.zeros(nb, dtype=np.intp)
    arg, m1, m2 = _shift_summary(shift)
    cdef Py_ssize_t shift_arg = arg
    cdef double shift_max1 = m1, shift_max2 = m2
    cdef floating *D
    cdef floating *G
    if n == 0:
        return 0
    with nogil, parallel(num_threads=n_threads):
        D = <floating*>malloc(CHUNK_ROWS * kt_max * sizeof(floating))
        G = <floating*>malloc(CHUNK_ROWS * d * sizeof(floating))
        for b in prange(nb, schedule='dynamic'):
            bchanged[b] = _hamerly_block(
                &X[0, 0], &x_sq_norms[0], b * bs, _imin(n, (b + 1) * bs), d,
                &centers[0, 0], &CT[0, 0], &cnorm[0], k,
                &shift[0], shift_arg, shift_max1, shift_max2, &half_sep[0],
                &sample_weight[0], &labels[0], &upper[0], &lower[0], update,
                &bsum[b if update else 0, 0, 0], &bw[b if update else 0, 0], D, G, use_gemm)
        free(D)
        free(G)
    if update:
        np.add(np.asarray(sums), np.sum(bsum_arr, axis=0), out=np.asarray(sums))
        np.sum(bw_arr, axis=0, out=np.asarray(weight_in_clusters))
    return int(np.sum(bchanged))


cdef Py_ssize_t _elkan_block(
    const floating *X, Py_ssize_t start, Py_ssize_t end, Py_ssize_t d,
    const floating *C, Py_ssize_t k, const double *shift, const double *half_sep,
    const double *half_cc, const double *w, int *labels, double *upper, floating *lower,
    bint update, double *bsum, double *bw,
) noexcept nogil:
    cdef Py_ssize_t i, j, a, old
    cdef Py_ssize_t changed = 0
    cdef double u, dj, lj
    cdef bint tight
    cdef const floating *x
    cdef floating *lb
    for i in range(start, end):
        x = X + i * d
        lb = lower + i * k
        old = labels[i]
        a = old
        if a < 0:
            a = 0
            u = sqrt(sq_dist(x, C, d))
            lb[0] = <floating>u
            for j in range(1, k):
                if u > half_cc[a * k + j]:
                    dj = sqrt(sq_dist(x, C + j * d, d))
                    lb[j] = <floating>dj
                    if dj < u:
                        u = dj
                        a = j
                else:
                    lb[j] = 0
        else:
            u = upper[i] + shift[a]
            for j in range(k):
                lj = lb[j] - shift[j]
                lb[j] = <floating>(lj if lj > 0 else 0.0)
            if u > half_sep[a]:
                tight = False
                for j in range(k):
                    if j != a and u > lb[j] and u > half_cc[a * k + j]:
                        if not tight:
                            u = sqrt(sq_dist(x, C + a * d, d))
                            lb[a] = <floating>u
                            tight = True
                            if not (u > lb[j] and u > half_cc[a * k + j]):
                                continue
                        dj = sqrt(sq_dist(x, C + j * d, d))
                        lb[j] = <floating>dj
                        if dj < u:
                            u = dj
                            a = j
        upper[i] = u
        if a != old:
            changed += 1
            if update:
                _move_row(bsum, x, d, old, a, w[i])
            labels[i] = <int>a
        if update:
            bw[a] += w[i]
    return changed


def elkan_pass_dense(const floating[:, ::1] X, const double[::1] sample_weight,
                     const floating[:, ::1] centers, const double[::1] shift,
                     const double[::1] half_sep, const double[:, ::1] half_cc,
                     int[::1] labels, double[::1] upper, floating[:, ::1] lower,
                     double[:, ::1] sums, double[::1] weight_in_clusters,
                     bint update, int n_threads):
    """One Elkan assignment pass; same contract as :func:`hamerly_pass_dense`.

    ``half_cc`` holds half the centre-centre distances and ``lower`` (n x k) the per-centre
    lower bounds, both updated for ``shift`` inside the pass.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t nb = n_blocks_for(n, (k * d + k) if update else 1)
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b
    bsum_arr, bw_arr = block_buffers(nb, k, d, update)
    cdef double[:, :, ::1] bsum = bsum_arr
    cdef double[:, ::1] bw = bw_arr
    cdef Py_ssize_t[::1] bchanged = np.zeros(nb, dtype=np.intp)
    if n == 0:
        return 0
    for b in prange(nb, nogil=True, schedule='dynamic', num_threads=n_threads):
        bchanged[b] = _elkan_block(
            &X[0, 0], b * bs, _imin(n, (b + 1) * bs), d, &centers[0, 0], k,
            &shift[0], &half_sep[0], &half_cc[0, 0], &sample_weight[0], &labels[0],
            &upper[0], &lower[0, 0], update,
            &bsum[b if update else 0, 0, 0], &bw[b if update else 0, 0])
    if update:
        np.add(np.asarray(sums), np.sum(bsum_arr, axis=0), out=np.asarray(sums))
        np.sum(bw_arr, axis=0, out=np.asarray(weight_in_clusters))
    return int(np.sum(bchanged))
