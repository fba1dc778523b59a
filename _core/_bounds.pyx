"""Exact k-means iterations that skip distance computations with triangle-inequality bounds.

All kernels reproduce Lloyd's assignment (labels = argmin over centres) and keep the per-cluster
sums and weights *incrementally*: a row is read only when its bounds fail, and only rows that change cluster
move their weighted values between two clusters' sums. Per-block deltas are reduced in a fixed
order, so results do not depend on the number of threads.

- Hamerly (2010): one upper and one lower bound per row, O(n) memory; centres tested against a
  row are batched into gemm-computed chunks.
- Elkan (2003): one lower bound per (row, centre) and half the centre-centre distances.

Bounds are true (not squared) distances in float64, except Elkan's n x k lower bounds, which are
kept in the data's dtype as scikit-learn does. Every bound is rounded to its safe side (upper
bounds up, lower bounds down, by the rounding bounds of the distance formula that produced them:
see _common.pxd), and a row keeps its label only when its bounds hold strictly, so a centre that
could tie is always examined. Examined centres are compared by the exact assignment rule
(`closer`, `exact_closest`): the labels are exactly Lloyd's, ties to the lowest index, whatever
the CPU or BLAS.

The caller passes centre shifts rounded up and centre-centre half distances rounded down
(kmix._kmeans_algorithms does).
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt, INFINITY
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

from _common cimport (CHUNK_ROWS, GEMM_MIN_FEATURES, TILE_CENTERS, add_up, check_block_buffers,
                      closer, direct_gamma, dist_down, dist_up, exact_closest,
                      expansion_error_scale, imin, max_value, partial_dists, prep_centers,
                      reduce_blocks, row_argmin, sq_dist, sub_down, sum_counts, zero_block)


cdef inline void _move_row(double *bsum, double *bw, const floating *x, Py_ssize_t d,
                           Py_ssize_t old, Py_ssize_t new, double wi) noexcept nogil:
    """Move a row's weighted values and weight from cluster `old` (if any) to cluster `new`."""
    cdef Py_ssize_t f
    cdef double *dst = bsum + new * d
    cdef double *src
    if old >= 0:
        src = bsum + old * d
        for f in range(d):
            src[f] -= wi * x[f]
        bw[old] -= wi
    for f in range(d):
        dst[f] += wi * x[f]
    bw[new] += wi


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
    cdef Py_ssize_t nmoved
    cdef double b1v[CHUNK_ROWS]
    cdef double b2v[CHUNK_ROWS]
    cdef double bound_of[CHUNK_ROWS]
    cdef double u, l, bound, sa, err
    cdef double g = direct_gamma(d)
    cdef double cmax = max_value(cnorm, k)
    cdef double scale = expansion_error_scale(d, floating is float)
    cdef double err0 = 3.0 * scale * cmax, err1 = scale + g
    cdef floating f1, f2
    cdef floating *Dw
    cdef const floating *rows
    s = start
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        # Two branch-free filters (the outcome of each test is data-dependent, a branch on it
        # mispredicts often): the moved bounds, then the direct distance to the own centre
        # for the rows whose moved bounds fail. Rows without a label fail both.
        nmoved = 0
        for r in range(m):
            i = s + r
            a = labels[i]
            u = 0.0
            bound = -1.0
            if a >= 0:
                u = add_up(upper[i], shift[a])
                l = sub_down(lower[i], shift_max2 if a == shift_arg else shift_max1)
                bound = l if l > half_sep[a] else half_sep[a]
                upper[i] = u
                lower[i] = l
            idx[nmoved] = i
            bound_of[nmoved] = bound
            nmoved += <Py_ssize_t>(u >= bound)
        nfull = 0
        for q in range(nmoved):
            i = idx[q]
            a = labels[i]
            u = 0.0
            if a >= 0:
                u = dist_up(sq_dist(X + i * d, C + a * d, d), g)
                upper[i] = u
            idx[nfull] = i
            nfull += <Py_ssize_t>(u >= bound_of[q])
        if nfull > 0:
            # Rows to search: the chunk itself when all of it fails (first pass), else a copy.
            rows = X + s * d if nfull == m else G
            for q in range(nfull):
                if nfull < m:
                    memcpy(G + q * d, X + idx[q] * d, d * sizeof(floating))
                b1v[q] = INFINITY
                b2v[q] = INFINITY
                b1i[q] = 0
            j0 = 0
            while j0 < k:
                kt = imin(TILE_CENTERS, k - j0)
                partial_dists(rows, nfull, d, C + j0 * d, CT + j0, k, cnorm + j0, kt, D,
                              use_gemm)
                for q in range(nfull):
                    # Two vectorised scans of the tile: its first minimum, then the smallest
                    # of the others (the first minimum's slot is overwritten: D is scratch).
                    Dw = D + q * kt
                    j = row_argmin(Dw, kt, &f1)
                    if kt > 1:
                        Dw[j] = INFINITY
                        row_argmin(Dw, kt, &f2)
                    else:
                        f2 = INFINITY
                    if f1 < b1v[q]:
                        b2v[q] = b1v[q] if b1v[q] < f2 else f2
                        b1v[q] = f1
                        b1i[q] = j0 + j
                    elif f1 < b2v[q]:
                        b2v[q] = f1
                j0 += kt
            for q in range(nfull):
                i = idx[q]
                a = b1i[q]
                # Rounding of the partial distances and of the row's squared norm:
                # scale (3 cmax + x) + g x, as 2 (c + sqrt(x c)) <= 3 c + x (no square root)
                err = err0 + err1 * xnorm[i]
                if b2v[q] - b1v[q] <= err:
                    # Within rounding: the exact rule decides; every other centre is at
                    # least as far as the smallest computed value allows.
                    a = exact_closest(X + i * d, C, k, d, &sa)
                    upper[i] = dist_up(sa, g)
                    lower[i] = dist_down(xnorm[i] + b1v[q] - err, g)
                else:
                    # The expansion's values widened by their rounding bound (clamped: a
                    # rounded sum may dip below 0 where the true distance is 0).
                    sa = xnorm[i] + b1v[q] + err
                    upper[i] = dist_up(sa if sa > 0 else 0.0, g)
                    lower[i] = dist_down(xnorm[i] + b2v[q] - err, g)
                if labels[i] != a:
                    changed += 1
                    if update:
                        _move_row(bsum, bw, X + i * d, d, labels[i], a, w[i])
                    labels[i] = <int>a
        s += m
    return changed


cdef void _shift_summary(const double *shift, Py_ssize_t k, Py_ssize_t *arg, double *m1,
                        double *m2) noexcept nogil:
    """Largest shift, its centre, and the second largest."""
    cdef Py_ssize_t j
    arg[0] = 0
    m1[0] = 0.0
    m2[0] = 0.0
    for j in range(k):
        if shift[j] > m1[0]:
            m2[0] = m1[0]
            m1[0] = shift[j]
            arg[0] = j
        elif shift[j] > m2[0]:
            m2[0] = shift[j]


def hamerly_pass_dense(const floating[:, ::1] X, const double[::1] x_sq_norms,
                       const double[::1] sample_weight, const floating[:, ::1] centers,
                       const double[::1] shift, const double[::1] half_sep,
                       int[::1] labels, double[::1] upper, double[::1] lower,
                       double[:, ::1] sums, double[::1] weight_in_clusters,
                       bint update, int n_threads, floating[:, ::1] CT, floating[::1] cnorm,
                       double[:, :, ::1] bsum, double[:, ::1] bw, Py_ssize_t[::1] bchanged):
    """One Hamerly assignment pass against ``centers``.

    ``shift[j]`` is how far centre j moved since the bounds were last valid; ``half_sep[j]`` is
    half the distance from centre j to its nearest other centre. Rows with ``labels < 0`` get a
    full search. When ``update``, ``sums`` (k x d) and ``weight_in_clusters`` (k) are updated
    incrementally by the rows that change cluster. Returns how many labels changed.
    Scratch buffers as :func:`kmix._core._lloyd.lloyd_pass_dense`.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t nb = bchanged.shape[0]
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b, kt_max = imin(k, TILE_CENTERS)
    cdef bint use_gemm = d >= GEMM_MIN_FEATURES
    cdef Py_ssize_t shift_arg
    cdef double shift_max1, shift_max2
    cdef floating *D
    cdef floating *G
    if n == 0:
        return 0
    check_block_buffers(bsum, nb, k, d, update)
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        _shift_summary(&shift[0], k, &shift_arg, &shift_max1, &shift_max2)
        with parallel(num_threads=n_threads):
            D = <floating*>malloc(CHUNK_ROWS * kt_max * sizeof(floating))
            G = <floating*>malloc(CHUNK_ROWS * d * sizeof(floating))
            for b in prange(nb, schedule='dynamic'):
                if update:
                    zero_block(&bsum[b, 0, 0], &bw[b, 0], k, d)
                bchanged[b] = _hamerly_block(
                    &X[0, 0], &x_sq_norms[0], b * bs, imin(n, (b + 1) * bs), d,
                    &centers[0, 0], &CT[0, 0], &cnorm[0], k,
                    &shift[0], shift_arg, shift_max1, shift_max2, &half_sep[0],
                    &sample_weight[0], &labels[0], &upper[0], &lower[0], update,
                    &bsum[b if update else 0, 0, 0], &bw[b if update else 0, 0], D, G, use_gemm)
            free(D)
            free(G)
        if update:
            reduce_blocks(&bsum[0, 0, 0], &bw[0, 0], nb, k, d, &sums[0, 0],
                          &weight_in_clusters[0], True, n_threads)
    return sum_counts(&bchanged[0], nb)


cdef inline void _store_down(floating *dst, double v) noexcept nogil:
    """Store a lower bound in the data's dtype, rounded down."""
    if floating is float:
        dst[0] = <float>(v * (1.0 - 1.2e-7))
    else:
        dst[0] = v


cdef Py_ssize_t _elkan_block(
    const floating *X, Py_ssize_t start, Py_ssize_t end, Py_ssize_t d,
    const floating *C, Py_ssize_t k, const double *shift, const double *half_sep,
    const double *half_cc, const double *w, int *labels, double *upper, floating *lower,
    bint update, double *bsum, double *bw,
) noexcept nogil:
    cdef Py_ssize_t i, j, a, old
    cdef Py_ssize_t changed = 0
    cdef double u, sa, sj
    cdef double g = direct_gamma(d)
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
            sa = sq_dist(x, C, d)
            u = dist_up(sa, g)
            _store_down(&lb[0], dist_down(sa, g))
            for j in range(1, k):
                # Centre j is strictly farther than a when half their distance exceeds u.
                if u >= half_cc[a * k + j]:
                    sj = sq_dist(x, C + j * d, d)
                    _store_down(&lb[j], dist_down(sj, g))
                    if closer(x, C, d, j, sj, a, sa, g):
                        a = j
                        sa = sj
                        u = dist_up(sj, g)
                else:
                    lb[j] = 0
        else:
            u = add_up(upper[i], shift[a])
            for j in range(k):
                _store_down(&lb[j], sub_down(lb[j], shift[j]))
            if u >= half_sep[a]:
                tight = False
                for j in range(k):
                    if j != a and u >= lb[j] and u >= half_cc[a * k + j]:
                        if not tight:
                            sa = sq_dist(x, C + a * d, d)
                            u = dist_up(sa, g)
                            _store_down(&lb[a], dist_down(sa, g))
                            tight = True
                            if not (u >= lb[j] and u >= half_cc[a * k + j]):
                                continue
                        sj = sq_dist(x, C + j * d, d)
                        _store_down(&lb[j], dist_down(sj, g))
                        if closer(x, C, d, j, sj, a, sa, g):
                            a = j
                            sa = sj
                            u = dist_up(sj, g)
        upper[i] = u
        if a != old:
            changed += 1
            if update:
                _move_row(bsum, bw, x, d, old, a, w[i])
            labels[i] = <int>a
    return changed


def elkan_pass_dense(const floating[:, ::1] X, const double[::1] sample_weight,
                     const floating[:, ::1] centers, const double[::1] shift,
                     const double[::1] half_sep, const double[:, ::1] half_cc,
                     int[::1] labels, double[::1] upper, floating[:, ::1] lower,
                     double[:, ::1] sums, double[::1] weight_in_clusters,
                     bint update, int n_threads,
                     double[:, :, ::1] bsum, double[:, ::1] bw, Py_ssize_t[::1] bchanged):
    """One Elkan assignment pass; same contract as :func:`hamerly_pass_dense`.

    ``half_cc`` holds half the centre-centre distances and ``lower`` (n x k) the per-centre
    lower bounds, both updated for ``shift`` inside the pass.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t nb = bchanged.shape[0]
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b
    if n == 0:
        return 0
    check_block_buffers(bsum, nb, k, d, update)
    with nogil:
        for b in prange(nb, schedule='dynamic', num_threads=n_threads):
            if update:
                zero_block(&bsum[b, 0, 0], &bw[b, 0], k, d)
            bchanged[b] = _elkan_block(
                &X[0, 0], b * bs, imin(n, (b + 1) * bs), d, &centers[0, 0], k,
                &shift[0], &half_sep[0], &half_cc[0, 0], &sample_weight[0], &labels[0],
                &upper[0], &lower[0, 0], update,
                &bsum[b if update else 0, 0, 0], &bw[b if update else 0, 0])
        if update:
            reduce_blocks(&bsum[0, 0, 0], &bw[0, 0], nb, k, d, &sums[0, 0],
                          &weight_in_clusters[0], True, n_threads)
    return sum_counts(&bchanged[0], nb)


cdef Py_ssize_t _yinyang_examine(
    const floating *x, Py_ssize_t d, const floating *C, Py_ssize_t a, double u, double sa,
    double gam, const Py_ssize_t *group_of, const Py_ssize_t *members, const Py_ssize_t *gstart,
    Py_ssize_t ng, double *lb, double *gm1, double *gm2, Py_ssize_t *gj1, double *u_out,
) noexcept nogil:
    """Yinyang's group filter for one row: search the groups whose bound does not exceed u
    (an upper bound on the distance to the current centre a, whose squared distance is sa),
    refresh their bounds and return the closest centre by the exact assignment rule; an
    upper bound on its distance goes to u_out."""
    cdef Py_ssize_t g, jj, j, j1, best = a
    cdef double v, m1, m2, bestv = sa
    for g in range(ng):
        if lb[g] > u:
            gm1[g] = -1.0   # not examined
            continue
        m1 = INFINITY
        m2 = INFINITY
        j1 = -1
        for jj in range(gstart[g], gstart[g + 1]):
            j = members[jj]
            v = sq_dist(x, C + j * d, d)
            if j1 < 0 or closer(x, C, d, j, v, j1, m1, gam):
                m2 = m1 if m1 < m2 else m2
                m1 = v
                j1 = j
            elif v < m2:
                m2 = v
        gm1[g] = m1
        gm2[g] = m2
        gj1[g] = j1
        if j1 >= 0 and j1 != best and closer(x, C, d, j1, m1, best, bestv, gam):
            bestv = m1
            best = j1
    for g in range(ng):
        if gm1[g] >= 0:
            # The winner of a group need not have its smallest computed value (exact ties).
            v = gm2[g] if gj1[g] == best else (gm1[g] if gm1[g] < gm2[g] else gm2[g])
            lb[g] = dist_down(v, gam)
    # The old centre becomes one of its group's other centres.
    if best != a and gm1[group_of[a]] < 0:
        v = dist_down(sa, gam)
        if v < lb[group_of[a]]:
            lb[group_of[a]] = v
    u_out[0] = dist_up(bestv, gam)
    return best


cdef Py_ssize_t _yinyang_block(
    const floating *X, const double *xnorm, Py_ssize_t start, Py_ssize_t end, Py_ssize_t d,
    const floating *C, const floating *Cp, const floating *CTp, const floating *cnormp,
    Py_ssize_t k, const Py_ssize_t *group_of, const Py_ssize_t *members,
    const Py_ssize_t *gstart, Py_ssize_t ng, const double *shift, const double *gshift,
    const double *w, int *labels, double *upper, double *lower,
    bint update, double *bsum, double *bw, floating *D, floating *G, double *gm1,
    double *gm2, Py_ssize_t *gj1, bint use_gemm,
) noexcept nogil:
    cdef Py_ssize_t s, m, r, q, i, a, j, jj, g, j0, kt, seg_end, nfull, jb, best
    cdef Py_ssize_t changed = 0
    cdef Py_ssize_t idx[CHUNK_ROWS]
    cdef Py_ssize_t nmoved
    cdef double glob_of[CHUNK_ROWS]
    cdef double u, glob, v, m1, m2, bestv, secv, sa, err
    cdef double gam = direct_gamma(d)
    cdef double cmax = max_value(cnormp, k)
    cdef double scale = expansion_error_scale(d, floating is float)
    cdef double err0 = 3.0 * scale * cmax, err1 = scale + gam
    cdef bint exact
    cdef double *lb
    cdef double *r1
    cdef double *r2
    cdef Py_ssize_t *rj
    cdef const floating *Dr
    cdef const floating *rows
    s = start
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        # Global filter: a row keeps its centre while its upper bound is below every group's
        # lower bound (after the bounds moved with the centres). Branch-free (the outcome is
        # data-dependent, a branch on it mispredicts often); rows without a label fail it.
        nmoved = 0
        for r in range(m):
            i = s + r
            a = labels[i]
            u = 0.0
            glob = -1.0
            if a >= 0:
                lb = lower + i * ng
                u = add_up(upper[i], shift[a])
                upper[i] = u
                glob = INFINITY
                for g in range(ng):
                    v = sub_down(lb[g], gshift[g])
                    lb[g] = v
                    glob = v if v < glob else glob
            idx[nmoved] = i
            glob_of[nmoved] = glob
            nmoved += <Py_ssize_t>(u >= glob)
        # The rows that fail it: the direct distance to their own centre, then (narrow data,
        # where distances are cheap) Yinyang's group filter or (wide data) a full search.
        nfull = 0
        for q in range(nmoved):
            i = idx[q]
            a = labels[i]
            if a < 0:
                idx[nfull] = i
                nfull += 1
                continue
            sa = sq_dist(X + i * d, C + a * d, d)
            u = dist_up(sa, gam)
            upper[i] = u
            if u < glob_of[q]:
                continue
            if use_gemm:
                idx[nfull] = i
                nfull += 1
                continue
            best = _yinyang_examine(X + i * d, d, C, a, u, sa, gam, group_of, members,
                                    gstart, ng, lower + i * ng, gm1, gm2, gj1, &u)
            if best != a:
                changed += 1
                if update:
                    _move_row(bsum, bw, X + i * d, d, a, best, w[i])
                labels[i] = <int>best
            upper[i] = u
        if nfull == 0:
            s += m
            continue
        # Rows to search: the chunk itself when all of it fails (first pass), else a copy.
        if nfull == m:
            rows = X + s * d
        else:
            rows = G
            for q in range(nfull):
                memcpy(G + q * d, X + idx[q] * d, d * sizeof(floating))
        # Full search of the remaining rows (gemm for wide data) against the centres sorted
        # by group: per group the two smallest partial distances and the closest centre.
        for q in range(nfull):
            for g in range(ng):
                gm1[q * ng + g] = INFINITY
                gm2[q * ng + g] = INFINITY
                gj1[q * ng + g] = gstart[g]   # a valid index even if no value compares
        j0 = 0
        while j0 < k:
            kt = imin(TILE_CENTERS, k - j0)
            partial_dists(rows, nfull, d, Cp + j0 * d, CTp + j0, k, cnormp + j0, kt, D,
                          use_gemm)
            for q in range(nfull):
                Dr = D + q * kt
                r1 = gm1 + q * ng
                r2 = gm2 + q * ng
                rj = gj1 + q * ng
                j = 0
                while j < kt:
                    g = group_of[members[j0 + j]]
                    seg_end = imin(gstart[g + 1] - j0, kt)
                    m1 = r1[g]
                    m2 = r2[g]
                    jb = rj[g]
                    for jj in range(j, seg_end):
                        v = Dr[jj]
                        if v < m1 or (v == m1 and members[j0 + jj] < members[jb]):
                            m2 = m1
                            m1 = v
                            jb = j0 + jj
                        elif v < m2:
                            m2 = v
                    r1[g] = m1
                    r2[g] = m2
                    rj[g] = jb
                    j = seg_end
            j0 += kt
        for q in range(nfull):
            i = idx[q]
            r1 = gm1 + q * ng
            r2 = gm2 + q * ng
            rj = gj1 + q * ng
            # The smallest partial distance (ties to the lower centre index) and the next.
            jb = rj[0]
            bestv = r1[0]
            secv = r2[0]
            for g in range(1, ng):
                if r1[g] < bestv or (r1[g] == bestv and members[rj[g]] < members[jb]):
                    secv = bestv if bestv < r2[g] else r2[g]
                    bestv = r1[g]
                    jb = rj[g]
                elif r1[g] < secv:
                    secv = r1[g]
            best = members[jb]
            lb = lower + i * ng
            err = err0 + err1 * xnorm[i]   # scale (3 cmax + x) + gam x: AM-GM, no sqrt
            exact = secv - bestv <= err
            if exact:
                # Within rounding: the exact rule decides, and each group's bound comes from
                # its smallest computed value (which bounds all its centres).
                best = exact_closest(X + i * d, C, k, d, &sa)
                upper[i] = dist_up(sa, gam)
            else:
                # The expansion's value widened by its rounding bound (clamped: a rounded
                # sum may dip below 0 where the true distance is 0).
                sa = xnorm[i] + bestv + err
                upper[i] = dist_up(sa if sa > 0 else 0.0, gam)
            for g in range(ng):
                v = r2[g] if (rj[g] == jb and not exact) else r1[g]
                lb[g] = dist_down(xnorm[i] + v - err, gam)
            if labels[i] != best:
                changed += 1
                if update:
                    _move_row(bsum, bw, X + i * d, d, labels[i], best, w[i])
                labels[i] = <int>best
        s += m
    return changed


def yinyang_pass_dense(const floating[:, ::1] X, const double[::1] x_sq_norms,
                       const double[::1] sample_weight, const floating[:, ::1] centers,
                       const Py_ssize_t[::1] group_of, const Py_ssize_t[::1] members,
                       const Py_ssize_t[::1] gstart, const double[::1] shift,
                       int[::1] labels, double[::1] upper, double[:, ::1] lower,
                       double[:, ::1] sums, double[::1] weight_in_clusters,
                       bint update, int n_threads, floating[:, ::1] CT, floating[::1] cnorm,
                       double[:, :, ::1] bsum, double[:, ::1] bw, Py_ssize_t[::1] bchanged):
    """One Yinyang assignment pass (Ding et al., 2015).

    The centres are split into groups (``group_of[j]``; ``members[gstart[g]:gstart[g+1]]``
    lists group g); ``lower[i, g]`` bounds the distance from row i to every centre of group g
    other than its own. A row is searched again only when its upper bound reaches the smallest
    group bound (the global filter). On narrow data only the groups whose bound fails are
    searched, with exact distances (the group filter); on wide data the search is a gemm
    against all centres (sorted by group) that refreshes every group bound. Ties go to the
    lowest centre index, as in Lloyd. Same contract otherwise as :func:`hamerly_pass_dense`.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t ng = gstart.shape[0] - 1
    cdef Py_ssize_t nb = bchanged.shape[0]
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b, g, jj, kt_max = imin(k, TILE_CENTERS)
    cdef bint use_gemm = d >= GEMM_MIN_FEATURES
    cdef double[::1] gshift = np.zeros(ng)
    cdef floating[:, ::1] Cp = np.ascontiguousarray(np.asarray(centers)[np.asarray(members)])
    cdef floating *D
    cdef floating *G
    cdef double *gm1
    cdef double *gm2
    cdef Py_ssize_t *gj1
    if n == 0:
        return 0
    check_block_buffers(bsum, nb, k, d, update)
    if lower.shape[0] != n or lower.shape[1] != ng:
        raise ValueError("lower must have shape (n_samples, n_groups)")
    with nogil:
        prep_centers(&Cp[0, 0], k, d, &CT[0, 0], &cnorm[0])
        for g in range(ng):
            for jj in range(gstart[g], gstart[g + 1]):
                if shift[members[jj]] > gshift[g]:
                    gshift[g] = shift[members[jj]]
        with parallel(num_threads=n_threads):
            D = <floating*>malloc(CHUNK_ROWS * kt_max * sizeof(floating))
            G = <floating*>malloc(CHUNK_ROWS * d * sizeof(floating))
            gm1 = <double*>malloc(CHUNK_ROWS * ng * sizeof(double))
            gm2 = <double*>malloc(CHUNK_ROWS * ng * sizeof(double))
            gj1 = <Py_ssize_t*>malloc(CHUNK_ROWS * ng * sizeof(Py_ssize_t))
            for b in prange(nb, schedule='dynamic'):
                if update:
                    zero_block(&bsum[b, 0, 0], &bw[b, 0], k, d)
                bchanged[b] = _yinyang_block(
                    &X[0, 0], &x_sq_norms[0], b * bs, imin(n, (b + 1) * bs), d,
                    &centers[0, 0], &Cp[0, 0], &CT[0, 0], &cnorm[0], k, &group_of[0],
                    &members[0], &gstart[0], ng, &shift[0], &gshift[0], &sample_weight[0],
                    &labels[0], &upper[0], &lower[0, 0], update,
                    &bsum[b if update else 0, 0, 0], &bw[b if update else 0, 0], D, G, gm1,
                    gm2, gj1, use_gemm)
            free(D)
            free(G)
            free(gm1)
            free(gm2)
            free(gj1)
        if update:
            reduce_blocks(&bsum[0, 0, 0], &bw[0, 0], nb, k, d, &sums[0, 0],
                          &weight_in_clusters[0], True, n_threads)
    return sum_counts(&bchanged[0], nb)


def half_center_distances(const floating[:, ::1] centers, double[:, ::1] half_cc,
                          double[::1] half_sep):
    """half_cc[i, j] = ||c_i - c_j|| / 2 (exact, float64) and half_sep[i] = min over j != i.

    Direct pairwise distances: cheaper than a gemm for the small centre sets the bound
    algorithms see every iteration (the caller uses BLAS for large ones).
    """
    cdef Py_ssize_t i, j, k = centers.shape[0], d = centers.shape[1]
    cdef double v
    with nogil:
        for i in range(k):
            half_cc[i, i] = 0.0
            half_sep[i] = INFINITY
        for i in range(k):
            for j in range(i + 1, k):
                v = 0.5 * sqrt(sq_dist(&centers[i, 0], &centers[j, 0], d))
                half_cc[i, j] = v
                half_cc[j, i] = v
                if v < half_sep[i]:
                    half_sep[i] = v
                if v < half_sep[j]:
                    half_sep[j] = v
