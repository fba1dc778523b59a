# Greedy k-means++ on small dense problems, and the draws every k-means++ kernel shares.
#
# The random numbers come from the caller, drawn in advance in the order the general kernel
# (_seeding.kmeans_plusplus) consumes them: one uniform for the first centre, then n_trials per
# further centre. No draw depends on the data, so drawing them all first leaves the stream,
# and the seeds, unchanged.
#
# On small problems (kmix._seeding.is_small_problem) the general kernel's screening (fast
# distances, pruning, rounding bounds, a deterministic recount of the close candidates) costs
# more than what it saves: :func:`kpp_small` takes every candidate's deterministic potential
# directly. The general kernel keeps the candidate whose deterministic
# potential is lowest, ties to the first (the screening only decides when its bounds prove the
# ranking), with the same per-block sums in the same order, so both give the same seeds.
from cython cimport floating
from libc.math cimport INFINITY
from libc.string cimport memcpy

from _common cimport imin, sq_dist, sum_in_order


cdef inline void first_cdf(const double *w, Py_ssize_t n, double total,
                           double *cdf) noexcept nogil:
    """The cumulative distribution of ``RandomState.choice(n, p=w / total)``'s first draw:
    numpy takes p = w / total, cdf = cumsum(p) and divides it by its last value; the same
    operations in the same order, without choice's O(n) checks and temporaries."""
    cdef Py_ssize_t i
    cdef double c = 0.0, last
    for i in range(n):
        c += w[i] / total
        cdf[i] = c
    last = cdf[n - 1]
    for i in range(n):
        cdf[i] = cdf[i] / last


cdef inline Py_ssize_t draw_first(const double *cdf, Py_ssize_t n, double u) noexcept nogil:
    """The row ``choice`` draws for its uniform draw ``u``: searchsorted(cdf, u,
    side='right'), the first i with u < cdf[i] (n - 1 when none)."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if u < cdf[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo if lo < n else n - 1


cdef inline double weight_of(const double *w, Py_ssize_t i) noexcept nogil:
    """Row i's weight: w[i], or 1 where w is NULL (the general seeding's unit weights)."""
    return w[i] if w != NULL else 1.0


cdef inline Py_ssize_t pick(const double *closest, const double *w, const double *block_pot,
                            Py_ssize_t n, Py_ssize_t nb, double target) noexcept nogil:
    """First i where the running sum of w * closest reaches target (clipped to n - 1): walk
    the block sums, then the rows of one block (as searchsorted on the cumulative sum); w
    NULL: unit weights."""
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b = 0, i, end
    cdef double run = 0.0
    while b < nb - 1 and run + block_pot[b] < target:
        run += block_pot[b]
        b += 1
    i = b * bs
    end = imin(n, (b + 1) * bs)
    while i < end:
        run += weight_of(w, i) * closest[i]
        if run >= target:
            break
        i += 1
    return i if i < n else n - 1


cdef inline Py_ssize_t kpp_small_dist_rows(Py_ssize_t n_trials) noexcept nogil:
    """Rows of :func:`kpp_small`'s dist scratch: n_trials rounded up to a multiple of four."""
    return 4 * ((n_trials + 3) // 4)


cdef inline void _fold_closest(const double *dist, double *closest, const double *w,
                               Py_ssize_t n, Py_ssize_t nb, double *block_pot) noexcept nogil:
    """closest = min(closest, dist) row by row, and block_pot[b] = the block's sum of
    w * closest, its rows in order."""
    cdef Py_ssize_t bs = (n + nb - 1) // nb, b, i
    cdef double acc
    for b in range(nb):
        acc = 0.0
        for i in range(b * bs, imin(n, (b + 1) * bs)):
            if dist[i] < closest[i]:
                closest[i] = dist[i]
            acc += w[i] * closest[i]
        block_pot[b] = acc


cdef inline void _potentials4(
    const floating *X, Py_ssize_t n, Py_ssize_t d, const double *w, Py_ssize_t nb,
    const double *closest, const floating *c0, const floating *c1, const floating *c2,
    const floating *c3, double *dist, double *pot,
) noexcept nogil:
    """The potentials of four candidates c0 .. c3 (pot[0 .. 3]) and their squared distances
    to the rows (dist: four runs of n): each summed per block of rows in order, then over the
    blocks in order, in four independent running sums."""
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t b, i
    cdef const floating *x
    cdef double a0, a1, a2, a3, e0, e1, e2, e3, cl, wi
    pot[0] = pot[1] = pot[2] = pot[3] = 0.0
    for b in range(nb):
        a0 = a1 = a2 = a3 = 0.0
        for i in range(b * bs, imin(n, (b + 1) * bs)):
            x = X + i * d
            cl = closest[i]
            wi = w[i]
            e0 = sq_dist(x, c0, d)
            e1 = sq_dist(x, c1, d)
            e2 = sq_dist(x, c2, d)
            e3 = sq_dist(x, c3, d)
            dist[i] = e0
            dist[n + i] = e1
            dist[2 * n + i] = e2
            dist[3 * n + i] = e3
            a0 += wi * (e0 if e0 < cl else cl)
            a1 += wi * (e1 if e1 < cl else cl)
            a2 += wi * (e2 if e2 < cl else cl)
            a3 += wi * (e3 if e3 < cl else cl)
        pot[0] += a0
        pot[1] += a1
        pot[2] += a2
        pot[3] += a3


cdef inline void kpp_small(
    const floating *X, Py_ssize_t n, Py_ssize_t d, const double *w, const double *cdf,
    Py_ssize_t k, Py_ssize_t n_trials, Py_ssize_t nb, const double *u,
    floating *centers, Py_ssize_t *chosen,
    double *closest, double *dist, double *block_pot, double *pot, Py_ssize_t *ids,
) noexcept nogil:
    """Greedy k-means++ on dense rows X (n x d), the deterministic distances throughout.

    IN w (n weights), cdf (:func:`first_cdf` of w), u (1 + (k - 1) n_trials uniform draws),
    nb (the row blocks of the general kernel: n_blocks_for(n, 1)). OUT centers (k x d),
    chosen (k rows). Scratch: closest (n), dist (:func:`kpp_small_dist_rows` x n), block_pot
    (nb), pot and ids (n_trials each).

    A potential is sum_i w_i min(closest_i, ||x_i - c||^2) (closest_i: the squared distance,
    by :func:`sq_dist`, from row i to its nearest chosen centre), summed per block of rows in
    order and then over the blocks in order, as the general kernel sums it; the candidate of
    lowest potential is kept, ties to the first.
    """
    cdef Py_ssize_t i, c, t, q, best
    cdef double pot4[4]
    cdef double total
    chosen[0] = draw_first(cdf, n, u[0])
    memcpy(centers, X + chosen[0] * d, d * sizeof(floating))
    for i in range(n):
        dist[i] = sq_dist(X + i * d, centers, d)
        closest[i] = INFINITY
    _fold_closest(dist, closest, w, n, nb, block_pot)
    for c in range(1, k):
        total = sum_in_order(block_pot, nb)
        for t in range(n_trials):
            ids[t] = pick(closest, w, block_pot, n, nb, u[1 + (c - 1) * n_trials + t] * total)
        # Four candidates at a time: four independent running sums per block of rows.
        for t in range(0, n_trials, 4):
            _potentials4(X, n, d, w, nb, closest, X + ids[t] * d,
                         X + ids[imin(t + 1, n_trials - 1)] * d,
                         X + ids[imin(t + 2, n_trials - 1)] * d,
                         X + ids[imin(t + 3, n_trials - 1)] * d, dist + t * n, pot4)
            for q in range(imin(4, n_trials - t)):
                pot[t + q] = pot4[q]
        best = 0
        for t in range(1, n_trials):
            if pot[t] < pot[best]:
                best = t
        chosen[c] = ids[best]
        memcpy(centers + c * d, X + ids[best] * d, d * sizeof(floating))
        _fold_closest(dist + best * n, closest, w, n, nb, block_pot)
