"""Mini-batch k-means steps and one-pass labels + inertia, for dense and CSR data.

One step on a batch of b rows costs O(b k d) for the assignment (chunked distances and argmin,
as the Lloyd kernel) and O(b d + k d) for the update: the batch rows are bucketed by label
(a counting sort in batch order) and each centre is updated from its own rows only, in
parallel over centres. Every sum runs in a fixed order (batch order within a centre, chunks
reduced in order), in float64, so a step is bitwise identical for any ``n_threads``.

The update is scikit-learn's: with per-centre weight counts N_j,
    c_j <- (c_j * N_j + sum_{i in batch, label j} w_i x_i) / (N_j + sum w_i)
accumulated in that order.

A step takes the data, its batch, the centres and their counts, and two containers: its
:class:`StepBuffers` scratch and, for the bounded steps of ``fit``, the :class:`SeenState`
the samples keep between steps.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy

from libc.math cimport sqrt, INFINITY
from libc.float cimport DBL_EPSILON, FLT_EPSILON

from _common cimport (CHUNK_ROWS, TILE_CENTERS, closest_center_sparse, closest_centers,
                      exact_closest, imin, kmix_prefetch_bytes, n_blocks_for, partial_dists,
                      prep_centers, rounding_terms, row_argmin, sq_dist, sq_dist_sparse,
                      sum_in_order, wide_pack, within_rounding)
from _kmeans_pass cimport Centers, make_centers


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


#: The layout of seen_t as a numpy dtype.
SEEN_DTYPE = np.dtype([("first", np.int32), ("second", np.int32), ("lower", np.float64)])


# --------------------------------------------------------------------------------------------
# The steps' containers
# --------------------------------------------------------------------------------------------
cdef class StepBuffers:
    """Scratch of the compiled steps for batches of up to b rows (allocated once per fit).

    Parameters
    ----------
    b, n_clusters, n_features : int
    dtype : float32 or float64
        The data's.
    dense_batch : bool
        Whether dense batches are gathered (into ``batch``).

    Attributes
    ----------
    CT : (n_features, n_clusters), cnorm : (n_clusters,) in the data's dtype
        The centres transposed and their squared norms.
    batch : (b, n_features) in the data's dtype ((1, n_features) without ``dense_batch``)
    order : (b,) intp, start : (n_clusters + 1,) intp
        The batch bucketed by label.
    chunk_inertia : (one per CHUNK_ROWS rows,) float64
    shifts : (n_clusters,) float64
    labels : (b,) int32
        The batch's labels (with the centres before the step).
    """
    cdef readonly object CT
    cdef readonly object cnorm
    cdef readonly object batch
    cdef readonly Py_ssize_t[::1] order
    cdef readonly Py_ssize_t[::1] start
    cdef readonly double[::1] chunk_inertia
    cdef readonly double[::1] shifts
    cdef readonly int[::1] labels

    def __init__(self, Py_ssize_t b, Py_ssize_t n_clusters, Py_ssize_t n_features, dtype,
                 bint dense_batch):
        self.CT = np.empty((n_features, n_clusters), dtype=dtype)
        self.cnorm = np.empty(n_clusters, dtype=dtype)
        self.batch = np.empty((b if dense_batch else 1, n_features), dtype=dtype)
        self.order = np.empty(b, dtype=np.intp)
        self.start = np.empty(n_clusters + 1, dtype=np.intp)
        self.chunk_inertia = np.empty((b + CHUNK_ROWS - 1) // CHUNK_ROWS)
        self.shifts = np.empty(n_clusters)
        self.labels = np.empty(b, dtype=np.int32)

    cdef int check(self, Py_ssize_t b, Py_ssize_t k, Py_ssize_t d) except -1:
        """The buffers must hold a batch of b rows for k centres of d features."""
        if (self.chunk_inertia.shape[0] < (b + CHUNK_ROWS - 1) // CHUNK_ROWS
                or self.order.shape[0] < b or self.labels.shape[0] < b
                or self.start.shape[0] < k + 1 or self.shifts.shape[0] < k
                or self.CT.shape != (d, k)):
            raise ValueError("scratch buffers too small")
        return 0


cdef class SeenState:
    """INOUT: what the samples remember between the bounded steps of a fit (see
    :func:`step_dense_bounded`).

    Attributes
    ----------
    seen : (n_samples,) SEEN_DTYPE
        Per sample: 1 + its closest centre at its last full assignment (0: never assigned),
        its second closest centre then, and a lower bound on its distance to every other
        centre plus the drift total of that time.
    new_seen : (batch_size,) SEEN_DTYPE
        Scratch.
    drift : (1,) float64
        The drift total: accumulates, step after step, the largest move of any centre (the
        caller adds the moves of reassigned centres).
    """
    cdef readonly object seen
    cdef readonly object new_seen
    cdef readonly object drift

    def __init__(self, Py_ssize_t n_samples, Py_ssize_t batch_size):
        # Zeroed: first == 0 means never assigned (pages are only touched when drawn).
        self.seen = np.zeros(n_samples, dtype=SEEN_DTYPE)
        self.new_seen = np.zeros(batch_size, dtype=SEEN_DTYPE)
        self.drift = np.zeros(1)


cdef struct Batch:
    # IN: a step's batch of b rows, bucketed by label.
    const Py_ssize_t *rows   # b: where each batch row is in the rows read (NULL: row r is r)
    const double *weights    # b: the rows' sample weights (NULL: all ones)
    Py_ssize_t b
    const Py_ssize_t *order  # b: batch positions by label, in batch order within a label
    const Py_ssize_t *start  # k + 1: order[start[j]:start[j + 1]] are labelled j


cdef struct Update:
    # INOUT: the centres a step moves.
    void *centers            # k x d, data dtype
    double *counts           # k: each centre's weight so far
    double *shifts           # OUT k: each centre's squared move
    Py_ssize_t k
    Py_ssize_t d


cdef inline Batch _batch(const Py_ssize_t *rows, const double *weights, Py_ssize_t b,
                         StepBuffers buf):
    cdef Batch bt
    bt.rows = rows
    bt.weights = weights
    bt.b = b
    bt.order = &buf.order[0]
    bt.start = &buf.start[0]
    return bt


cdef inline Update _update(floating[:, ::1] centers, double[::1] counts, StepBuffers buf):
    cdef Update up
    up.centers = &centers[0, 0]
    up.counts = &counts[0]
    up.shifts = &buf.shifts[0]
    up.k = centers.shape[0]
    up.d = centers.shape[1]
    return up


# --------------------------------------------------------------------------------------------
# Assignment and update
# --------------------------------------------------------------------------------------------
cdef inline void _assign_chunk_dense(const floating *B, Py_ssize_t m, const Centers *cen,
                                     int *labels, floating *D) noexcept nogil:
    """labels[r] = index of the closest centre to row r of the m x d rows B (exact rule)."""
    cdef Py_ssize_t r
    cdef Py_ssize_t besti[CHUNK_ROWS]
    closest_centers(B, m, cen.d, <const floating*>cen.C, <const floating*>cen.ST,
                    <const floating*>cen.snorm, cen.k, besti, D, cen.use_gemm,
                    <const floating*>cen.P, NULL, NULL)
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


cdef double _update_center_dense(const floating *B, const Batch *bt, Py_ssize_t j,
                                 const Update *up, double *acc) noexcept nogil:
    """Centre j <- (c_j * count + sum of w x over its members) / (count + sum w); returns its
    squared shift. Its members are the batch positions r labelled j, summed in batch order;
    their rows are B[bt.rows[r]] (B[r] when bt.rows is NULL)."""
    cdef Py_ssize_t q, f, r, d = up.d
    cdef double wr, wsum = 0.0
    cdef floating *c = <floating*>up.centers + j * d
    cdef double *count = &up.counts[j]
    cdef const floating *x
    if bt.start[j + 1] == bt.start[j]:
        return 0.0
    for f in range(d):
        acc[f] = <double>c[f] * count[0]
    for q in range(bt.start[j], bt.start[j + 1]):
        r = bt.order[q]
        wr = bt.weights[r] if bt.weights != NULL else 1.0
        wsum += wr
        x = B + (bt.rows[r] if bt.rows != NULL else r) * d
        for f in range(d):
            acc[f] += x[f] * wr
    if wsum == 0:
        return 0.0
    wr = _finish_center(c, acc, count[0], wsum, d)
    count[0] += wsum
    return wr


cdef double _update_center_sparse(const floating *data, const int *indices, const int *indptr,
                                  const Batch *bt, Py_ssize_t j, const Update *up,
                                  double *acc) noexcept nogil:
    """:func:`_update_center_dense` for CSR rows (``bt.rows[r]``, or r when NULL)."""
    cdef Py_ssize_t q, f, r, i, p, d = up.d
    cdef double wr, wsum = 0.0
    cdef floating *c = <floating*>up.centers + j * d
    cdef double *count = &up.counts[j]
    if bt.start[j + 1] == bt.start[j]:
        return 0.0
    for f in range(d):
        acc[f] = <double>c[f] * count[0]
    for q in range(bt.start[j], bt.start[j + 1]):
        r = bt.order[q]
        i = bt.rows[r] if bt.rows != NULL else r
        wr = bt.weights[r] if bt.weights != NULL else 1.0
        wsum += wr
        for p in range(indptr[i], indptr[i + 1]):
            acc[indices[p]] += data[p] * wr
    if wsum == 0:
        return 0.0
    wr = _finish_center(c, acc, count[0], wsum, d)
    count[0] += wsum
    return wr


cdef double _update_centers(const floating *B, const int *indices, const int *indptr,
                            const Batch *bt, const Update *up, int n_threads) noexcept nogil:
    """Every centre from its own (bucketed) batch rows, dense (indptr NULL: B holds the rows)
    or CSR (B, indices, indptr: the data's arrays); up.shifts[j] = centre j's squared move.
    Small batches on one thread (SERIAL_UPDATE_VALUES). Returns the total squared move."""
    cdef Py_ssize_t j
    cdef double *acc
    cdef double shift = 0.0
    with parallel(num_threads=n_threads if bt.b * up.d > SERIAL_UPDATE_VALUES else 1):
        acc = <double*>malloc(up.d * sizeof(double))
        for j in prange(up.k, schedule='static'):
            if indptr == NULL:
                up.shifts[j] = _update_center_dense(B, bt, j, up, acc)
            else:
                up.shifts[j] = _update_center_sparse(B, indices, indptr, bt, j, up, acc)
        free(acc)
    for j in range(up.k):
        shift += up.shifts[j]
    return shift


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------
def step_dense(const floating[:, ::1] X, const Py_ssize_t[::1] rows, const double[::1] weights,
               floating[:, ::1] centers, double[::1] counts, StepBuffers buffers,
               int n_threads):
    """One mini-batch step on dense rows (scikit-learn's update, in a fixed order).

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    rows : (b,) intp, IN
        The batch: rows of X (gathered into ``buffers.batch``); empty: the whole of X.
    weights : (b,) float64, IN
        The batch's sample weights; empty: all ones.
    centers : (k, d) in X's dtype, INOUT
        Updated in place.
    counts : (k,) float64, INOUT
        Each centre's weight so far.
    buffers : StepBuffers, scratch and OUT
        ``labels[:b]`` receives the batch's labels (computed with the centres before the
        update).
    n_threads : int, IN

    Returns
    -------
    (inertia, squared_shift): the batch's weighted inertia on the old centres and the total
    squared move of the centres.
    """
    cdef Py_ssize_t d = X.shape[1], k = centers.shape[0]
    cdef bint gather = rows.shape[0] > 0
    cdef Py_ssize_t b = rows.shape[0] if gather else X.shape[0]
    cdef Py_ssize_t n_chunks = (b + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef const double *w = &weights[0] if weights.shape[0] > 0 else NULL
    cdef floating[:, ::1] CT = buffers.CT
    cdef floating[::1] cnorm = buffers.cnorm
    cdef floating[:, ::1] batch = buffers.batch
    cdef Py_ssize_t c, s, m, r
    cdef const floating *B
    cdef floating *D
    cdef double part, inertia, shift
    cdef Centers cen
    cdef floating *packed
    cdef Batch bt
    cdef Update up
    if b == 0:
        return 0.0, 0.0
    buffers.check(b, k, d)
    cdef int *labels = &buffers.labels[0]
    cdef double *chunk_inertia = &buffers.chunk_inertia[0]
    if gather and batch.shape[0] < b:
        raise ValueError("batch buffer too small")
    B = <const floating*>&batch[0, 0] if gather else &X[0, 0]
    bt = _batch(NULL, w, b, buffers)   # the update reads B, the gathered batch, in order
    up = _update(centers, counts, buffers)
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        cen = make_centers(&centers[0, 0], &centers[0, 0], &CT[0, 0], &cnorm[0], k, d)
        packed = wide_pack(&CT[0, 0], &cnorm[0], k, d)
        cen.P = packed
        with parallel(num_threads=n_threads):
            D = <floating*>malloc(CHUNK_ROWS * imin(k, TILE_CENTERS) * sizeof(floating))
            for c in prange(n_chunks, schedule='static'):
                s = c * CHUNK_ROWS
                m = imin(CHUNK_ROWS, b - s)
                if gather:
                    _gather_rows(&X[0, 0], d, &rows[s], m, <floating*>B + s * d)
                _assign_chunk_dense(B + s * d, m, &cen, labels + s, D)
                part = 0.0
                for r in range(s, s + m):
                    part = part + (w[r] if w != NULL else 1.0) * sq_dist(
                        B + r * d, &centers[labels[r], 0], d)
                chunk_inertia[c] = part
            free(D)
        free(packed)
        inertia = sum_in_order(chunk_inertia, n_chunks)
        _bucket_by_label(labels, b, k, <Py_ssize_t*>bt.start, <Py_ssize_t*>bt.order)
        shift = _update_centers(B, NULL, NULL, &bt, &up, n_threads)
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


cdef void _assign_chunk_dense3(const floating *G, Py_ssize_t m, const Centers *cen,
                               Py_ssize_t *top_idx, floating *top_val,
                               floating *D) noexcept nogil:
    """The three smallest partial distances (||c||^2 - 2 <x, c>) of each row of G and the
    indices of the first two: top_val[3 r : 3 r + 3], top_idx[2 r : 2 r + 2]. The first is the
    first minimum of the partial distances; missing entries are +inf."""
    cdef Py_ssize_t j0, kt, r, a, a2, k = cen.k
    cdef floating v1, v2, v3, keep1, keep2
    cdef floating *Dr
    cdef floating *val
    cdef Py_ssize_t *idx
    j0 = 0
    while j0 < k:
        kt = imin(TILE_CENTERS, k - j0)
        partial_dists(G, m, cen.d, <const floating*>cen.C + j0 * cen.d,
                      <const floating*>cen.ST + j0, k, <const floating*>cen.snorm + j0, kt, D,
                      cen.use_gemm)
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


cdef struct BoundedStep:
    # What the chunks of a bounded step share (b batch rows).
    const Py_ssize_t *rows   # IN b: the batch's rows of X
    const seen_t *seen       # IN n: what each sample remembers
    seen_t *new_seen         # OUT b: new state of the rows assigned in full or switched
    int *labels              # OUT b
    double M                 # the drift total now
    double cmax              # the largest centre norm, rounded up
    double coef              # a certain label's margin, relative to (||x|| + ||c||)^2


cdef inline bint _remembered_label(const floating *x, seen_t mem, const Centers *cen,
                                   const BoundedStep *st, int *label, seen_t *new,
                                   double *d2) noexcept nogil:
    """Whether a sample's remembered two closest centres still decide its label: the bound
    on the other centres (``mem.lower`` less the drift since) and the difference of their
    exact distances both exceed the rounding of the distance kernel. If so its label, its
    squared distance and (when it switched) its new state are set."""
    cdef Py_ssize_t a = mem.first - 1, a2 = mem.second, d = cen.d
    cdef const floating *C = <const floating*>cen.C
    cdef double da, db, t, slack, lcur
    if a < 0:
        return False
    da = sq_dist(x, C + a * d, d)
    db = sq_dist(x, C + a2 * d, d)
    # ||x|| <= sqrt(da) + cmax bounds the rounding margin without the row's norm.
    t = sqrt(da) + 2 * st.cmax
    slack = st.coef * t * t
    lcur = (mem.lower - st.M) - 4 * DBL_EPSILON * mem.lower
    if not (lcur > 0 and (da if da < db else db) + slack < lcur * lcur
            and (da - db > slack or db - da > slack)):
        return False
    if db < da:
        # The second closest centre is now the closest.
        label[0] = <int>a2
        d2[0] = db
        new.first = <int>a2 + 1
        new.second = <int>a
        new.lower = mem.lower
    else:
        label[0] = <int>a
        d2[0] = da
    return True


cdef void _full_labels(const floating *X, const Centers *cen, const BoundedStep *st,
                       Py_ssize_t s, const Py_ssize_t *full_r, Py_ssize_t nfull,
                       const floating *G, floating *D, double *d2) noexcept nogil:
    """Labels, squared distances and new states of the chunk's rows s + full_r[q] (their
    rows gathered in G) by a full search, as :func:`_assign_chunk_dense` labels them."""
    cdef Py_ssize_t q, r, f, a, a2, d = cen.d, k = cen.k
    cdef const floating *C = <const floating*>cen.C
    cdef const floating *x
    cdef double t, xn, c1, c2sq
    cdef Py_ssize_t top_idx[2 * CHUNK_ROWS]
    cdef floating top_val[3 * CHUNK_ROWS]
    rounding_terms(cen.scale, st.cmax * st.cmax, &c1, &c2sq)
    _assign_chunk_dense3(G, nfull, cen, top_idx, top_val, D)
    for q in range(nfull):
        r = full_r[q]
        a = top_idx[2 * q]
        a2 = top_idx[2 * q + 1]
        x = X + st.rows[s + r] * d
        xn = 0.0
        for f in range(d):
            xn += <double>x[f] * <double>x[f]
        if within_rounding(<double>top_val[3 * q + 1] - <double>top_val[3 * q], c1, c2sq, xn):
            # The exact assignment rule decides; the remembered pair stays valid when the
            # winner is one of the two closest by the kernel.
            a = exact_closest(x, C, k, d, &t)
            if a == a2:
                a2 = top_idx[2 * q]
            elif a != top_idx[2 * q]:
                a2 = -1
        st.labels[s + r] = <int>a
        d2[r] = sq_dist(x, C + a * d, d)
        if a2 < 0:
            continue
        t = sqrt(xn) + st.cmax
        t = <double>top_val[3 * q + 2] + xn - st.coef * t * t
        st.new_seen[s + r].first = <int>a + 1
        st.new_seen[s + r].second = <int>a2
        st.new_seen[s + r].lower = (sqrt(t) if t > 0 else 0.0) + st.M


cdef double _bounded_chunk(const floating *X, const Centers *cen, const BoundedStep *st,
                           Py_ssize_t s, Py_ssize_t m, floating *G, floating *D) noexcept nogil:
    """Rows s .. s + m of a bounded step's batch: labelled from memory where it decides
    (:func:`_remembered_label`), else gathered and searched in full (:func:`_full_labels`);
    ``new_seen.first`` = 0 for the rows whose state stays. Returns the chunk's inertia."""
    cdef Py_ssize_t r, i, nfull = 0, d = cen.d, nbytes = cen.d * sizeof(floating)
    cdef const Py_ssize_t *rows = st.rows + s
    cdef const floating *x
    cdef Py_ssize_t full_r[CHUNK_ROWS]
    cdef double d2[CHUNK_ROWS]
    cdef double part = 0.0
    # Rows and states are random accesses: prefetched a few rows ahead.
    for r in range(imin(PREFETCH_AHEAD, m)):
        kmix_prefetch_bytes(X + rows[r] * d, nbytes)
        kmix_prefetch_bytes(st.seen + rows[r], sizeof(seen_t))
    for r in range(m):
        if r + PREFETCH_AHEAD < m:
            kmix_prefetch_bytes(X + rows[r + PREFETCH_AHEAD] * d, nbytes)
            kmix_prefetch_bytes(st.seen + rows[r + PREFETCH_AHEAD], sizeof(seen_t))
        i = rows[r]
        x = X + i * d
        st.new_seen[s + r].first = 0
        if _remembered_label(x, st.seen[i], cen, st, &st.labels[s + r], &st.new_seen[s + r],
                             &d2[r]):
            continue
        memcpy(G + nfull * d, x, nbytes)
        full_r[nfull] = r
        nfull += 1
    if nfull > 0:
        _full_labels(X, cen, st, s, full_r, nfull, G, D, d2)
    for r in range(m):
        part += d2[r]
    return part


cdef double _new_drift(double M, const double *shifts, Py_ssize_t k) noexcept nogil:
    """The drift total after a step whose centres moved by sqrt(shifts): M plus the largest
    move, rounded up (the drift total must never under-state how far centres moved)."""
    cdef Py_ssize_t j
    cdef double move, max_move = 0.0
    for j in range(k):
        move = sqrt(shifts[j])
        if move > max_move:
            max_move = move
    return (M + max_move) * (1 + 4 * DBL_EPSILON)


cdef double _bounded_labels(const floating *X, const Centers *cen, const BoundedStep *st,
                           Py_ssize_t b, double *chunk_inertia, int n_threads) noexcept nogil:
    """The labels of a bounded step's b batch rows, chunk by chunk in parallel
    (:func:`_bounded_chunk`, each thread with its own gathered rows and distances); returns
    the batch's inertia, the chunks' summed in order."""
    cdef Py_ssize_t c, s, n_chunks = (b + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef floating *D
    cdef floating *G
    with parallel(num_threads=n_threads):
        D = <floating*>malloc(CHUNK_ROWS * imin(cen.k, TILE_CENTERS) * sizeof(floating))
        G = <floating*>malloc(CHUNK_ROWS * cen.d * sizeof(floating))
        for c in prange(n_chunks, schedule='static'):
            s = c * CHUNK_ROWS
            chunk_inertia[c] = _bounded_chunk(X, cen, st, s, imin(CHUNK_ROWS, b - s), G, D)
        free(G)
        free(D)
    return sum_in_order(chunk_inertia, n_chunks)


def step_dense_bounded(const floating[:, ::1] X, const Py_ssize_t[::1] rows,
                       floating[:, ::1] centers, double[::1] counts, StepBuffers buffers,
                       SeenState state, int n_threads):
    """:func:`step_dense` for ``fit`` (rows of X, unit weights) that skips certain labels.

    Samples are drawn again and again over the epochs. Each remembers (``state.seen``), from
    its last full assignment, its two closest centres and a lower bound on its distance to
    every other centre, stored plus the drift total ``state.drift[0]`` of that time; the
    drift total accumulates, step after step, the largest move of any centre, so the stored
    bound minus the drift total now bounds those distances now. The exact distances to the
    two remembered centres (one is needed for the inertia anyway) then decide the label when
    both the bound and their difference exceed the rounding of the distance kernel;
    otherwise the row is assigned in full (chunked gemm, as :func:`step_dense`), so the
    labels are those of :func:`step_dense`. Requires k >= 3. State is written back serially
    in batch order (a sample may be drawn twice in a batch): results do not depend on
    ``n_threads``.

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    rows : (b,) intp, IN
        The batch's rows of X.
    centers : (k, d) in X's dtype, INOUT
    counts : (k,) float64, INOUT
    buffers : StepBuffers, scratch and OUT (labels)
    state : SeenState, INOUT
    n_threads : int, IN

    Returns
    -------
    (inertia, squared_shift) as :func:`step_dense`.
    """
    cdef Py_ssize_t d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t b = rows.shape[0]
    cdef floating[:, ::1] CT = buffers.CT
    cdef floating[::1] cnorm = buffers.cnorm
    cdef seen_t[::1] seen = state.seen
    cdef seen_t[::1] new_seen = state.new_seen
    cdef double[::1] drift = state.drift
    cdef Py_ssize_t r, j
    cdef double cmax = 0.0, inertia, shift
    cdef Centers cen
    cdef BoundedStep st
    cdef Batch bt
    cdef Update up
    if b == 0:
        return 0.0, 0.0
    if k < 3:
        raise ValueError("step_dense_bounded needs at least 3 centres")
    buffers.check(b, k, d)
    if new_seen.shape[0] < b:
        raise ValueError("scratch buffers too small")
    st.rows = &rows[0]
    st.seen = &seen[0]
    st.new_seen = &new_seen[0]
    st.labels = &buffers.labels[0]
    st.M = drift[0]
    # Twice the rounding bound of a partial distance plus the row norm, relative to
    # (||x|| + ||c||)^2: a margin this wide makes a certain label the kernel's argmin too.
    st.coef = (d + 8) * (FLT_EPSILON if floating is float else DBL_EPSILON)
    bt = _batch(&rows[0], NULL, b, buffers)
    up = _update(centers, counts, buffers)
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        for j in range(k):
            if cnorm[j] > cmax:
                cmax = cnorm[j]
        st.cmax = sqrt(cmax) * (1 + 1e-6)
        cen = make_centers(&centers[0, 0], &centers[0, 0], &CT[0, 0], &cnorm[0], k, d)
        inertia = _bounded_labels(&X[0, 0], &cen, &st, b, &buffers.chunk_inertia[0], n_threads)
        # State written back in batch order: the last assignment of a sample wins.
        for r in range(b):
            if new_seen[r].first > 0:
                seen[rows[r]] = new_seen[r]
        _bucket_by_label(st.labels, b, k, <Py_ssize_t*>bt.start, <Py_ssize_t*>bt.order)
        shift = _update_centers(&X[0, 0], NULL, NULL, &bt, &up, n_threads)
        drift[0] = _new_drift(st.M, up.shifts, k)
    return inertia, shift


def step_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                const Py_ssize_t[::1] rows, const double[::1] weights,
                floating[:, ::1] centers, double[::1] counts, StepBuffers buffers,
                int n_threads):
    """:func:`step_dense` for a CSR matrix given by its arrays (IN; rows read in place)."""
    cdef Py_ssize_t d = centers.shape[1], k = centers.shape[0]
    cdef bint gather = rows.shape[0] > 0
    cdef Py_ssize_t b = rows.shape[0] if gather else indptr.shape[0] - 1
    cdef Py_ssize_t n_chunks = (b + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef const double *w = &weights[0] if weights.shape[0] > 0 else NULL
    cdef floating[:, ::1] CT = buffers.CT
    cdef floating[::1] cnorm = buffers.cnorm
    cdef Py_ssize_t c, s, r, i, j, f
    cdef const floating *data_p = &data[0] if data.shape[0] > 0 else NULL
    cdef const int *indices_p = &indices[0] if indices.shape[0] > 0 else NULL
    cdef floating *Dr
    cdef double *cn2
    cdef double part, inertia, shift
    cdef Batch bt
    cdef Update up
    if b == 0:
        return 0.0, 0.0
    buffers.check(b, k, d)
    cdef int *labels = &buffers.labels[0]
    cdef double *chunk_inertia = &buffers.chunk_inertia[0]
    bt = _batch(&rows[0] if gather else NULL, w, b, buffers)
    up = _update(centers, counts, buffers)
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
                    part = part + (w[r] if w != NULL else 1.0) * sq_dist_sparse(
                        data_p, indices_p, indptr[i], indptr[i + 1], &centers[labels[r], 0],
                        cn2[labels[r]])
                chunk_inertia[c] = part
            free(Dr)
        free(cn2)
        inertia = sum_in_order(chunk_inertia, n_chunks)
        _bucket_by_label(labels, b, k, <Py_ssize_t*>bt.start, <Py_ssize_t*>bt.order)
        shift = _update_centers(data_p, indices_p, &indptr[0], &bt, &up, n_threads)
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
    cdef floating[:, ::1] CT = np.empty((d, k), dtype=np.asarray(centers).dtype)
    cdef floating[::1] cnorm = np.empty(k, dtype=np.asarray(centers).dtype)
    cdef double[::1] part = np.zeros(nb)
    cdef floating *D
    cdef double acc, wr, total = 0.0
    cdef Centers cen
    cdef floating *packed
    if n == 0:
        return 0.0
    bs = (n + nb - 1) // nb
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        cen = make_centers(&centers[0, 0], &centers[0, 0], &CT[0, 0], &cnorm[0], k, d)
        packed = wide_pack(&CT[0, 0], &cnorm[0], k, d)
        cen.P = packed
        with parallel(num_threads=n_threads):
            D = <floating*>malloc(CHUNK_ROWS * imin(k, TILE_CENTERS) * sizeof(floating))
            for blk in prange(nb, schedule='dynamic'):
                acc = 0.0
                s = blk * bs
                e = imin(n, s + bs)
                while s < e:
                    m = imin(CHUNK_ROWS, e - s)
                    _assign_chunk_dense(&X[s, 0], m, &cen, &labels[s], D)
                    for r in range(s, s + m):
                        wr = weights[r] if weighted else 1.0
                        acc = acc + wr * sq_dist(&X[r, 0], &centers[labels[r], 0], d)
                    s = s + m
                part[blk] = acc
            free(D)
        free(packed)
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
