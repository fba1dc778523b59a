"""Mini-batch k-means steps and one-pass labels + inertia, for dense and CSR data.

One step on a batch of b rows costs O(b k d) for the assignment (chunked distances and argmin,
as the Lloyd kernel) and O(b d + k d) for the update: the batch rows are bucketed by label
(a counting sort in batch order) and each centre is updated from its own rows only, in
parallel over centres. Every sum runs in a fixed order (batch order within a centre, chunks
reduced in order), in float64, so a step is bitwise identical for any ``n_threads``.

The update is scikit-learn's: with per-centre weight counts N_j,
    c_j <- (c_j * N_j + sum_{i in batch, label j} w_i x_i) / (N_j + sum w_i)
accumulated in that order.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy

from libc.math cimport sqrt, INFINITY
from libc.float cimport DBL_EPSILON, FLT_EPSILON

from _common cimport (CHUNK_ROWS, GEMM_MIN_FEATURES, TILE_CENTERS, closest_center_sparse,
                      exact_closest, expansion_error_scale, within_rounding,
                      closest_centers, imin, kmix_prefetch_bytes, n_blocks_for, partial_dists,
                      prep_centers, row_argmin, sq_dist, sq_dist_sparse)


#: Rows prefetched ahead of the one being gathered: random rows of a large array each miss
#: the caches, and a few misses in flight hide most of the latency.
cdef enum:
    PREFETCH_AHEAD = 8
    # Batches of fewer values (rows x features) are folded into the centres by one thread:
    # splitting them by centre makes each thread read rows the other one assigned (from the
    # other core's cache), which costs more than it saves (measured: 1024 x 50 rows, k = 100,
    # a bounded step went from 0.21 to 0.125 ms on 2 threads).
    SERIAL_UPDATE_VALUES = 1 << 20


cdef struct seen_t:
    # What a sample remembers between the bounded steps of fit (16 bytes, one cache line).
    int first       # 1 + its closest centre at its last full assignment; 0: never assigned
    int second      # its second closest centre then
    double lower    # lower bound on its distance to all other centres, plus the drift then


cdef void _gather_rows(const floating *X, Py_ssize_t d, const Py_ssize_t *rows, Py_ssize_t m,
                       floating *out) noexcept nogil:
    """out[r] = X[rows[r]] for r < m, prefetching rows ahead."""
    cdef Py_ssize_t r, nbytes = d * sizeof(floating)
    for r in range(imin(PREFETCH_AHEAD, m)):
        kmix_prefetch_bytes(X + rows[r] * d, nbytes)
    for r in range(m):
        if r + PREFETCH_AHEAD < m:
            kmix_prefetch_bytes(X + rows[r + PREFETCH_AHEAD] * d, nbytes)
        memcpy(out + r * d, X + rows[r] * d, nbytes)


cdef inline void _assign_chunk_dense(
    const floating *B, Py_ssize_t m, Py_ssize_t d, const floating *C, const floating *CT,
    const floating *cnorm, Py_ssize_t k, int *labels, floating *D, bint use_gemm,
) noexcept nogil:
    """labels[r] = index of the closest centre to row r of the m x d rows B (first minimum)."""
    cdef Py_ssize_t r
    cdef Py_ssize_t besti[CHUNK_ROWS]
    closest_centers(B, m, d, C, CT, cnorm, k, besti, D, use_gemm)
    for r in range(m):
        labels[r] = <int>besti[r]


cdef void _bucket_by_label(const int *labels, Py_ssize_t b, Py_ssize_t k, Py_ssize_t *start,
                           Py_ssize_t *order) noexcept nogil:
    """Counting sort of batch positions by label, stable: order[start[j]:start[j+1]] are the
    positions labelled j, in batch order."""
    cdef Py_ssize_t j, r
    for j in range(k + 1):
        start[j] = 0
    for r in range(b):
        start[labels[r] + 1] += 1
    for j in range(k):
        start[j + 1] += start[j]
    for r in range(b):
        order[start[labels[r]]] = r
        start[labels[r]] += 1
    for j in range(k, 0, -1):
        start[j] = start[j - 1]
    start[0] = 0


cdef double _finish_center(floating *c, double *acc, double count, double wsum,
                           Py_ssize_t d) noexcept nogil:
    """c = acc / (count + wsum) in c's dtype; returns the squared shift of c."""
    cdef Py_ssize_t f
    cdef double alpha = 1.0 / (count + wsum), t, shift = 0.0
    cdef floating new
    for f in range(d):
        new = <floating>(acc[f] * alpha)
        t = <double>new - <double>c[f]
        shift += t * t
        c[f] = new
    return shift


cdef double _update_center_dense(const floating *B, Py_ssize_t d, const Py_ssize_t *rows,
                                 const Py_ssize_t *members, Py_ssize_t n_members,
                                 const double *weights, floating *c, double *count,
                                 double *acc) noexcept nogil:
    """c <- (c * count + sum of w x over its members) / (count + sum w); returns the squared
    shift. Members are batch positions r, summed in batch order; their rows are B[rows[r]]
    (B[r] when rows is NULL)."""
    cdef Py_ssize_t q, f, r
    cdef double wr, wsum = 0.0
    cdef const floating *x
    if n_members == 0:
        return 0.0
    for f in range(d):
        acc[f] = <double>c[f] * count[0]
    for q in range(n_members):
        r = members[q]
        wr = weights[r] if weights != NULL else 1.0
        wsum += wr
        x = B + (rows[r] if rows != NULL else r) * d
        for f in range(d):
            acc[f] += x[f] * wr
    if wsum == 0:
        return 0.0
    wr = _finish_center(c, acc, count[0], wsum, d)
    count[0] += wsum
    return wr


cdef double _update_center_sparse(const floating *data, const int *indices, const int *indptr,
                                  const Py_ssize_t *rows, Py_ssize_t d,
                                  const Py_ssize_t *members, Py_ssize_t n_members,
                                  const double *weights, floating *c, double *count,
                                  double *acc) noexcept nogil:
    """:func:`_update_center_dense` for CSR rows (``rows[r]``, or r when rows is NULL)."""
    cdef Py_ssize_t q, f, r, i, p
    cdef double wr, wsum = 0.0
    if n_members == 0:
        return 0.0
    for f in range(d):
        acc[f] = <double>c[f] * count[0]
    for q in range(n_members):
        r = members[q]
        i = rows[r] if rows != NULL else r
        wr = weights[r] if weights != NULL else 1.0
        wsum += wr
        for p in range(indptr[i], indptr[i + 1]):
            acc[indices[p]] += data[p] * wr
    if wsum == 0:
        return 0.0
    wr = _finish_center(c, acc, count[0], wsum, d)
    count[0] += wsum
    return wr


cdef void _update_centers_dense(const floating *B, Py_ssize_t d, const Py_ssize_t *rows,
                                const Py_ssize_t *order, const Py_ssize_t *start,
                                const double *weights, floating *centers, double *counts,
                                double *shifts, Py_ssize_t k, Py_ssize_t b,
                                int n_threads) noexcept nogil:
    """Every centre from its own (bucketed) batch rows; shifts[j] = its squared move. Small
    batches on one thread (SERIAL_UPDATE_VALUES)."""
    cdef Py_ssize_t j
    cdef double *acc
    with parallel(num_threads=n_threads if b * d > SERIAL_UPDATE_VALUES else 1):
        acc = <double*>malloc(d * sizeof(double))
        for j in prange(k, schedule='static'):
            shifts[j] = _update_center_dense(B, d, rows, &order[start[j]], start[j + 1] - start[j],
                                             weights, centers + j * d, &counts[j], acc)
        free(acc)


def step_dense(const floating[:, ::1] X, const Py_ssize_t[::1] rows,
               const double[::1] weights, floating[:, ::1] centers, double[::1] counts,
               int[::1] labels, floating[:, ::1] batch, floating[:, ::1] CT, floating[::1] cnorm,
               Py_ssize_t[::1] order, Py_ssize_t[::1] start, double[::1] chunk_inertia,
               double[::1] shifts, int n_threads):
    """One mini-batch step on dense rows; centres and counts are updated in place.

    The batch is ``X[rows]`` (gathered into ``batch``, b x d) or, when ``rows`` is empty, the
    whole of X. ``weights`` are the batch's sample weights (empty: all ones). Writes the batch
    labels (computed with the centres before the update) and returns
    ``(inertia, squared_shift)``: the batch's weighted inertia on the old centres and the
    total squared move of the centres. Scratch: CT (d x k), cnorm (k), order (b),
    start (k + 1), chunk_inertia (chunks of CHUNK_ROWS rows), shifts (k).
    """
    cdef Py_ssize_t d = X.shape[1], k = centers.shape[0]
    cdef bint gather = rows.shape[0] > 0
    cdef Py_ssize_t b = rows.shape[0] if gather else X.shape[0]
    cdef Py_ssize_t n_chunks = (b + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef bint weighted = weights.shape[0] > 0
    cdef bint use_gemm = d >= GEMM_MIN_FEATURES
    cdef Py_ssize_t c, s, m, r, j
    cdef const floating *B
    cdef floating *D
    cdef double wr, part, inertia = 0.0, shift = 0.0
    if b == 0:
        return 0.0, 0.0
    if gather and batch.shape[0] < b:
        raise ValueError("batch buffer too small")
    if chunk_inertia.shape[0] < n_chunks or order.shape[0] < b or start.shape[0] < k + 1:
        raise ValueError("scratch buffers too small")
    B = <const floating*>&batch[0, 0] if gather else &X[0, 0]
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        with parallel(num_threads=n_threads):
            D = <floating*>malloc(CHUNK_ROWS * imin(k, TILE_CENTERS) * sizeof(floating))
            for c in prange(n_chunks, schedule='static'):
                s = c * CHUNK_ROWS
                m = imin(CHUNK_ROWS, b - s)
                if gather:
                    _gather_rows(&X[0, 0], d, &rows[s], m, <floating*>B + s * d)
                _assign_chunk_dense(B + s * d, m, d, &centers[0, 0], &CT[0, 0], &cnorm[0], k,
                                    &labels[s], D, use_gemm)
                part = 0.0
                for r in range(s, s + m):
                    wr = weights[r] if weighted else 1.0
                    part = part + wr * sq_dist(B + r * d, &centers[labels[r], 0], d)
                chunk_inertia[c] = part
            free(D)
        for c in range(n_chunks):
            inertia += chunk_inertia[c]
        _bucket_by_label(&labels[0], b, k, &start[0], &order[0])
        _update_centers_dense(B, d, NULL, &order[0], &start[0],
                              &weights[0] if weighted else NULL, &centers[0, 0], &counts[0],
                              &shifts[0], k, b, n_threads)
        for j in range(k):
            shift += shifts[j]
    return inertia, shift


cdef inline void _insert3(floating v, Py_ssize_t j, floating *val, Py_ssize_t *idx) noexcept nogil:
    """Insert (v, j) into the sorted three smallest (val, idx); ties keep the earlier entry."""
    if v < val[0]:
        val[2] = val[1]
        val[1] = val[0]
        idx[1] = idx[0]
        val[0] = v
        idx[0] = j
    elif v < val[1]:
        val[2] = val[1]
        val[1] = v
        idx[1] = j
    elif v < val[2]:
        val[2] = v


cdef void _assign_chunk_dense3(
    const floating *G, Py_ssize_t m, Py_ssize_t d, const floating *C, const floating *CT,
    const floating *cnorm, Py_ssize_t k, Py_ssize_t *top_idx, floating *top_val, floating *D,
    bint use_gemm,
) noexcept nogil:
    """The three smallest partial distances (||c||^2 - 2 <x, c>) of each row of G and the
    indices of the first two: top_val[3 r : 3 r + 3], top_idx[2 r : 2 r + 2]. The first is the
    argmin of :func:`_assign_chunk_dense` (the first minimum); missing entries are +inf."""
    cdef Py_ssize_t j0, kt, r, a, a2
    cdef floating v1, v2, v3, keep1, keep2
    cdef floating *Dr
    cdef floating *val
    cdef Py_ssize_t *idx
    j0 = 0
    while j0 < k:
        kt = imin(TILE_CENTERS, k - j0)
        partial_dists(G, m, d, C + j0 * d, CT + j0, k, cnorm + j0, kt, D, use_gemm)
        for r in range(m):
            Dr = D + r * kt
            val = top_val + 3 * r
            idx = top_idx + 2 * r
            # Three vectorised argmin scans, masking the minima found (D is scratch).
            a = row_argmin(Dr, kt, &v1)
            v2 = INFINITY
            v3 = INFINITY
            a2 = a
            if kt > 1:
                keep1 = Dr[a]
                Dr[a] = INFINITY
                a2 = row_argmin(Dr, kt, &v2)
                if kt > 2:
                    keep2 = Dr[a2]
                    Dr[a2] = INFINITY
                    row_argmin(Dr, kt, &v3)
                    Dr[a2] = keep2
                Dr[a] = keep1
            if j0 == 0:
                val[0] = v1
                val[1] = v2
                val[2] = v3
                idx[0] = a
                idx[1] = a2
            else:
                _insert3(v1, j0 + a, val, idx)
                _insert3(v2, j0 + a2, val, idx)
                _insert3(v3, j0, val, idx)
        j0 += kt


cdef double _bounded_chunk(
    const floating *X, Py_ssize_t d, const Py_ssize_t *rows, Py_ssize_t m,
    const floating *C, const floating *CT, const floating *cnorm, Py_ssize_t k,
    const seen_t *seen, double M, double cmax, double coef, int *labels, seen_t *new_seen,
    floating *G, floating *D, bint use_gemm,
) noexcept nogil:
    """One chunk of :func:`step_dense_bounded`: label the rows ``rows[:m]`` of X, fill the
    new state of the rows assigned in full or switched (``first`` = 0 elsewhere); returns
    the chunk's inertia."""
    cdef Py_ssize_t r, f, i, a, a2, q, nfull = 0, nbytes = d * sizeof(floating)
    cdef double t, xn, slack, lcur, da, db, part, lower
    cdef double scale = expansion_error_scale(d, floating is float)
    cdef const floating *x
    cdef Py_ssize_t full_r[CHUNK_ROWS]
    cdef Py_ssize_t top_idx[2 * CHUNK_ROWS]
    cdef floating top_val[3 * CHUNK_ROWS]
    cdef double d2[CHUNK_ROWS]
    # Rows and states are random accesses: prefetched a few rows ahead.
    for r in range(imin(PREFETCH_AHEAD, m)):
        kmix_prefetch_bytes(X + rows[r] * d, nbytes)
        kmix_prefetch_bytes(seen + rows[r], sizeof(seen_t))
    for r in range(m):
        if r + PREFETCH_AHEAD < m:
            kmix_prefetch_bytes(X + rows[r + PREFETCH_AHEAD] * d, nbytes)
            kmix_prefetch_bytes(seen + rows[r + PREFETCH_AHEAD], sizeof(seen_t))
        i = rows[r]
        x = X + i * d
        new_seen[r].first = 0
        a = seen[i].first - 1
        if a >= 0:
            a2 = seen[i].second
            lower = seen[i].lower
            da = sq_dist(x, C + a * d, d)
            db = sq_dist(x, C + a2 * d, d)
            # ||x|| <= sqrt(da) + cmax bounds the rounding margin without the row's norm.
            t = sqrt(da) + 2 * cmax
            slack = coef * t * t
            lcur = (lower - M) - 4 * DBL_EPSILON * lower
            if (lcur > 0 and (da if da < db else db) + slack < lcur * lcur
                    and (da - db > slack or db - da > slack)):
                if db < da:
                    # The second closest centre is now the closest.
                    labels[r] = <int>a2
                    d2[r] = db
                    new_seen[r].first = <int>a2 + 1
                    new_seen[r].second = <int>a
                    new_seen[r].lower = lower
                else:
                    labels[r] = <int>a
                    d2[r] = da
                continue
        memcpy(G + nfull * d, x, nbytes)
        full_r[nfull] = r
        nfull += 1
    if nfull > 0:
        _assign_chunk_dense3(G, nfull, d, C, CT, cnorm, k, top_idx, top_val, D, use_gemm)
        for q in range(nfull):
            r = full_r[q]
            a = top_idx[2 * q]
            a2 = top_idx[2 * q + 1]
            x = X + rows[r] * d
            xn = 0.0
            for f in range(d):
                xn += <double>x[f] * <double>x[f]
            if within_rounding(<double>top_val[3 * q + 1] - <double>top_val[3 * q], scale,
                               cmax * cmax, sqrt(xn)):
                # The exact assignment rule decides; the remembered pair stays valid when
                # the winner is one of the two closest by the kernel.
                a = exact_closest(x, C, k, d, &t)
                if a == a2:
                    a2 = top_idx[2 * q]
                elif a != top_idx[2 * q]:
                    a2 = -1
            labels[r] = <int>a
            d2[r] = sq_dist(x, C + a * d, d)
            if a2 < 0:
                continue
            t = sqrt(xn) + cmax
            t = <double>top_val[3 * q + 2] + xn - coef * t * t
            new_seen[r].first = <int>a + 1
            new_seen[r].second = <int>a2
            new_seen[r].lower = (sqrt(t) if t > 0 else 0.0) + M
    part = 0.0
    for r in range(m):
        part += d2[r]
    return part


def step_dense_bounded(const floating[:, ::1] X, const Py_ssize_t[::1] rows,
                       floating[:, ::1] centers, double[::1] counts, int[::1] labels,
                       floating[:, ::1] CT, floating[::1] cnorm,
                       Py_ssize_t[::1] order, Py_ssize_t[::1] start, double[::1] chunk_inertia,
                       double[::1] shifts, seen_t[::1] seen, seen_t[::1] new_seen,
                       double[::1] drift, int n_threads):
    """:func:`step_dense` for ``fit`` (rows of X, unit weights) that skips certain labels.

    Samples are drawn again and again over the epochs. Each remembers, from its last full
    assignment, its two closest centres (``seen[i] = (1 + first, second)``, first = -1 if
    never assigned) and a lower bound on its distance to every other centre
    (``seen_lower[i]``, stored plus the drift total ``drift[0]`` of that time). ``drift[0]``
    accumulates, step after step, the largest move of any centre, so
    ``seen_lower[i] - drift[0]`` bounds those distances now. The exact distances to the two
    remembered centres (one is needed for the inertia anyway) then decide the label when both
    the bound and their difference exceed the rounding of the distance kernel; otherwise the
    row is assigned in full (chunked gemm, as :func:`step_dense`), so the labels are those of
    :func:`step_dense`. Requires k >= 3. State is written back serially in batch order (a
    sample may be drawn twice in a batch): results do not depend on ``n_threads``.
    ``new_seen`` (b x 2) and ``new_lower`` (b) are scratch.
    """
    cdef Py_ssize_t d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t b = rows.shape[0]
    cdef Py_ssize_t n_chunks = (b + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef bint use_gemm = d >= GEMM_MIN_FEATURES
    cdef Py_ssize_t c, s, r, j
    cdef floating *D
    cdef floating *G
    cdef double M = drift[0], cmax = 0.0, coef
    cdef double inertia = 0.0, shift = 0.0, move, max_move = 0.0
    if b == 0:
        return 0.0, 0.0
    if k < 3:
        raise ValueError("step_dense_bounded needs at least 3 centres")
    if (chunk_inertia.shape[0] < n_chunks or order.shape[0] < b or start.shape[0] < k + 1
            or new_seen.shape[0] < b):
        raise ValueError("scratch buffers too small")
    # Twice the rounding bound of a partial distance plus the row norm, relative to
    # (||x|| + ||c||)^2: a margin this wide makes a certain label the kernel's argmin too.
    coef = (d + 8) * (FLT_EPSILON if floating is float else DBL_EPSILON)
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        for j in range(k):
            if cnorm[j] > cmax:
                cmax = cnorm[j]
        cmax = sqrt(cmax) * (1 + 1e-6)
        with parallel(num_threads=n_threads):
            D = <floating*>malloc(CHUNK_ROWS * imin(k, TILE_CENTERS) * sizeof(floating))
            G = <floating*>malloc(CHUNK_ROWS * d * sizeof(floating))
            for c in prange(n_chunks, schedule='static'):
                s = c * CHUNK_ROWS
                chunk_inertia[c] = _bounded_chunk(
                    &X[0, 0], d, &rows[s], imin(CHUNK_ROWS, b - s), &centers[0, 0],
                    &CT[0, 0], &cnorm[0], k, &seen[0], M, cmax, coef, &labels[s],
                    &new_seen[s], G, D, use_gemm)
            free(G)
            free(D)
        for c in range(n_chunks):
            inertia += chunk_inertia[c]
        # State written back in batch order: the last assignment of a sample wins.
        for r in range(b):
            if new_seen[r].first > 0:
                seen[rows[r]] = new_seen[r]
        _bucket_by_label(&labels[0], b, k, &start[0], &order[0])
        _update_centers_dense(&X[0, 0], d, &rows[0], &order[0], &start[0], NULL,
                              &centers[0, 0], &counts[0], &shifts[0], k, b, n_threads)
        for j in range(k):
            shift += shifts[j]
            move = sqrt(shifts[j])
            if move > max_move:
                max_move = move
        # Rounded up: the drift total must never under-state how far centres moved.
        drift[0] = (M + max_move) * (1 + 4 * DBL_EPSILON)
    return inertia, shift


def step_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                const Py_ssize_t[::1] rows, const double[::1] weights,
                floating[:, ::1] centers, double[::1] counts, int[::1] labels,
                floating[:, ::1] CT, floating[::1] cnorm, Py_ssize_t[::1] order,
                Py_ssize_t[::1] start, double[::1] chunk_inertia, double[::1] shifts,
                int n_threads):
    """:func:`step_dense` for a CSR matrix given by its arrays (rows read in place)."""
    cdef Py_ssize_t d = centers.shape[1], k = centers.shape[0]
    cdef bint gather = rows.shape[0] > 0
    cdef Py_ssize_t b = rows.shape[0] if gather else indptr.shape[0] - 1
    cdef Py_ssize_t n_chunks = (b + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef bint weighted = weights.shape[0] > 0
    cdef Py_ssize_t c, s, r, i, j, f
    cdef const floating *data_p = &data[0] if data.shape[0] > 0 else NULL
    cdef const int *indices_p = &indices[0] if indices.shape[0] > 0 else NULL
    cdef floating *Dr
    cdef double *acc
    cdef double *cn2
    cdef double wr, part, inertia = 0.0, shift = 0.0
    if b == 0:
        return 0.0, 0.0
    if chunk_inertia.shape[0] < n_chunks or order.shape[0] < b or start.shape[0] < k + 1:
        raise ValueError("scratch buffers too small")
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        cn2 = <double*>malloc(k * sizeof(double))
        for j in range(k):
            cn2[j] = 0.0
            for f in range(d):
                cn2[j] += <double>centers[j, f] * <double>centers[j, f]
        with parallel(num_threads=n_threads):
            Dr = <floating*>calloc(k + d, sizeof(floating))
            for c in prange(n_chunks, schedule='static'):
                s = c * CHUNK_ROWS
                part = 0.0
                for r in range(s, imin(b, s + CHUNK_ROWS)):
                    i = rows[r] if gather else r
                    labels[r] = <int>closest_center_sparse(data_p, indices_p, indptr[i],
                                                           indptr[i + 1], &centers[0, 0],
                                                           &CT[0, 0], &cnorm[0], k, d, Dr)
                    wr = weights[r] if weighted else 1.0
                    part = part + wr * sq_dist_sparse(data_p, indices_p, indptr[i],
                                                       indptr[i + 1], &centers[labels[r], 0],
                                                       cn2[labels[r]])
                chunk_inertia[c] = part
            free(Dr)
        free(cn2)
        for c in range(n_chunks):
            inertia += chunk_inertia[c]
        _bucket_by_label(&labels[0], b, k, &start[0], &order[0])
        with parallel(num_threads=n_threads if b * d > SERIAL_UPDATE_VALUES else 1):
            acc = <double*>malloc(d * sizeof(double))
            for j in prange(k, schedule='static'):
                shifts[j] = _update_center_sparse(
                    data_p, indices_p, &indptr[0], &rows[0] if gather else NULL, d,
                    &order[start[j]], start[j + 1] - start[j], &weights[0] if weighted else NULL,
                    &centers[j, 0], &counts[j], acc)
            free(acc)
        for j in range(k):
            shift += shifts[j]
    return inertia, shift


def labels_inertia_dense(const floating[:, ::1] X, const double[::1] weights,
                         const floating[:, ::1] centers, int[::1] labels, int n_threads):
    """Closest centre of every row (into ``labels``) and the exact weighted inertia.

    One pass in chunks; nothing of size n other than ``labels`` is allocated. ``weights``
    empty means all ones. The inertia is reduced over fixed row blocks in order.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t nb = n_blocks_for(n, 1), bs, blk, s, e, m, r
    cdef bint weighted = weights.shape[0] > 0
    cdef bint use_gemm = d >= GEMM_MIN_FEATURES
    cdef floating[:, ::1] CT = np.empty((d, k), dtype=np.asarray(centers).dtype)
    cdef floating[::1] cnorm = np.empty(k, dtype=np.asarray(centers).dtype)
    cdef double[::1] part = np.zeros(nb)
    cdef floating *D
    cdef double acc, wr, total = 0.0
    if n == 0:
        return 0.0
    bs = (n + nb - 1) // nb
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        with parallel(num_threads=n_threads):
            D = <floating*>malloc(CHUNK_ROWS * imin(k, TILE_CENTERS) * sizeof(floating))
            for blk in prange(nb, schedule='dynamic'):
                acc = 0.0
                s = blk * bs
                e = imin(n, s + bs)
                while s < e:
                    m = imin(CHUNK_ROWS, e - s)
                    _assign_chunk_dense(&X[s, 0], m, d, &centers[0, 0], &CT[0, 0], &cnorm[0],
                                        k, &labels[s], D, use_gemm)
                    for r in range(s, s + m):
                        wr = weights[r] if weighted else 1.0
                        acc = acc + wr * sq_dist(&X[r, 0], &centers[labels[r], 0], d)
                    s = s + m
                part[blk] = acc
            free(D)
        for blk in range(nb):
            total += part[blk]
    return total


def labels_inertia_sparse(const floating[::1] data, const int[::1] indices,
                          const int[::1] indptr, const double[::1] weights,
                          const floating[:, ::1] centers, int[::1] labels, int n_threads):
    """:func:`labels_inertia_dense` for a CSR matrix given by its arrays."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = centers.shape[1], k = centers.shape[0]
    cdef Py_ssize_t nb = n_blocks_for(n, 1), bs, blk, r, j, f
    cdef bint weighted = weights.shape[0] > 0
    cdef floating[:, ::1] CT = np.empty((d, k), dtype=np.asarray(centers).dtype)
    cdef floating[::1] cnorm = np.empty(k, dtype=np.asarray(centers).dtype)
    cdef double[::1] cn2 = np.zeros(k)
    cdef double[::1] part = np.zeros(nb)
    cdef const floating *data_p = &data[0] if data.shape[0] > 0 else NULL
    cdef const int *indices_p = &indices[0] if indices.shape[0] > 0 else NULL
    cdef floating *Dr
    cdef double acc, wr, total = 0.0
    if n == 0:
        return 0.0
    bs = (n + nb - 1) // nb
    for j in range(k):
        for f in range(d):
            cn2[j] += <double>centers[j, f] * <double>centers[j, f]
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        with parallel(num_threads=n_threads):
            Dr = <floating*>calloc(k + d, sizeof(floating))
            for blk in prange(nb, schedule='dynamic'):
                acc = 0.0
                for r in range(blk * bs, imin(n, (blk + 1) * bs)):
                    labels[r] = <int>closest_center_sparse(data_p, indices_p, indptr[r],
                                                           indptr[r + 1], &centers[0, 0],
                                                           &CT[0, 0], &cnorm[0], k, d, Dr)
                    wr = weights[r] if weighted else 1.0
                    acc = acc + wr * sq_dist_sparse(data_p, indices_p, indptr[r], indptr[r + 1],
                                                     &centers[labels[r], 0], cn2[labels[r]])
                part[blk] = acc
            free(Dr)
        for blk in range(nb):
            total += part[blk]
    return total


def column_mean_variance(const floating[:, ::1] X, int n_threads):
    """Mean of the per-feature variances of X (float64, two passes over fixed row blocks).

    Reads X in place: no copy of a memory-mapped array is made.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t nb = n_blocks_for(n, d), bs, blk, i, f
    cdef double[:, ::1] bsum = np.zeros((nb, d))
    cdef double[::1] mean = np.zeros(d)
    cdef double t, total = 0.0
    if n == 0 or d == 0:
        return 0.0
    bs = (n + nb - 1) // nb
    for blk in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        for i in range(blk * bs, imin(n, (blk + 1) * bs)):
            for f in range(d):
                bsum[blk, f] += X[i, f]
    for f in range(d):
        for blk in range(nb):
            mean[f] += bsum[blk, f]
            bsum[blk, f] = 0.0
        mean[f] /= n
    for blk in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        for i in range(blk * bs, imin(n, (blk + 1) * bs)):
            for f in range(d):
                t = X[i, f] - mean[f]
                bsum[blk, f] += t * t
    for f in range(d):
        t = 0.0
        for blk in range(nb):
            t += bsum[blk, f]
        total += t / n
    return total / d


def sample_rows(const double[::1] uniform, Py_ssize_t n, const double[::1] cdf,
                Py_ssize_t[::1] rows):
    """rows[r] = the row drawn by uniform[r]: numpy's ``choice(n, p=...)`` inverse transform.

    With ``cdf`` (the normalised cumulative weights), the first index whose cdf exceeds the
    draw (``searchsorted(side='right')``, O(log n)); without (empty), ``floor(u * n)``, which
    is that index for equal weights. O(batch) per step, never O(n).
    """
    cdef Py_ssize_t r, lo, hi, mid, b = uniform.shape[0]
    cdef double u
    cdef bint weighted = cdf.shape[0] > 0
    with nogil:
        for r in range(b):
            u = uniform[r]
            if weighted:
                lo = 0
                hi = cdf.shape[0]
                while lo < hi:
                    mid = (lo + hi) // 2
                    if cdf[mid] <= u:
                        lo = mid + 1
                    else:
                        hi = mid
                rows[r] = lo if lo < n else n - 1
            else:
                lo = <Py_ssize_t>(u * n)
                rows[r] = lo if lo < n else n - 1


def count_below(const double[::1] counts, double ratio):
    """How many counts are below ``ratio`` times the largest (the centres to reassign)."""
    cdef Py_ssize_t j, k = counts.shape[0], low = 0
    cdef double top = 0.0
    for j in range(k):
        if counts[j] > top:
            top = counts[j]
    top *= ratio
    for j in range(k):
        if counts[j] < top:
            low += 1
    return low
