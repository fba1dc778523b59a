"""Lloyd iterations, assignment and inertia for dense and CSR data.

Every kernel releases the GIL, splits the rows into a fixed number of blocks (chosen from the
problem's shape, never from the thread count), accumulates each block's partial sums in float64
and reduces the blocks in order: results are bitwise identical for any ``n_threads``.

The passes of a run (here and in _bounds.pyx) write into a :class:`Clusters` container (labels,
per-cluster sums and weights) with its :class:`Workspace` scratch.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy

from _common cimport (CHUNK_ROWS, GEMM_MIN_FEATURES, MIXED_MAX_NORM, TILE_CENTERS,
                      add_scaled, check_block_buffers, closest_center_sparse, closest_centers,
                      exact_closest, exact_sign, float32_rows, imin, kmix_cpu_has_fma,
                      kmix_block_sums_d, kmix_block_sums_f, kmix_fused_argmin2_d,
                      kmix_fused_argmin2_f, kmix_wide_nc, kmix_wide_rows_d, kmix_wide_rows_f,
                      mixed_abs_error, n_blocks_for, partial_dists, prep_centers,
                      reduce_blocks, reduce_cluster_touched, row_argmin2, row_norm, sq_dist,
                      sq_dist_sparse, sq_norm, sum_counts, sum_in_order, wide_best_two,
                      wide_fused, wide_pack, zero_block)
from _kmeans_pass cimport (Blocks, Centers, Clustering, MixedCenters, Moves, Rows, block_moves,
                           gemm_mixed_min_centers, make_blocks, make_centers, make_rows,
                           mixed_best_two, mixed_centers)
from _interrupt cimport check_interrupt, monotonic
from _kpp cimport first_cdf, kpp_small, kpp_small_dist_rows


# --------------------------------------------------------------------------------------------
# The passes' containers
# --------------------------------------------------------------------------------------------
cdef class Workspace:
    """Scratch of the k-means passes over n rows with k centres of d features: allocated
    once, reused by every pass of that shape (the kernels own its contents).

    Parameters
    ----------
    n, k, d : int
    dtype : float32 or float64
        The data's.
    update : bool
        Whether the passes will update the clusters' sums (they then need per-block sums).

    Attributes
    ----------
    CT : (d, k) in the data's dtype: the centres transposed
    cnorm : (k,) in the data's dtype: their squared norms
    bsum : (nb, k, d) float64: per-block sums ((1, 1, 1) without ``update``)
    bw : (nb, k) float64: per-block weights ((1, 1) without ``update``)
    bchanged : (nb,) intp: labels changed per block; nb, the number of row blocks, is set by
        the shape, never by the thread count
    """
    cdef readonly object CT
    cdef readonly object cnorm
    cdef readonly double[:, :, ::1] bsum
    cdef readonly double[:, ::1] bw
    cdef readonly Py_ssize_t[::1] bchanged

    def __init__(self, Py_ssize_t n, Py_ssize_t k, Py_ssize_t d, dtype, bint update):
        cdef Py_ssize_t nb = n_blocks_for(n, k * d + k if update else 0)
        self.CT = np.empty((d, k), dtype=dtype)
        self.cnorm = np.empty(k, dtype=dtype)
        if update:
            self.bsum = np.empty((nb, k, d))
            self.bw = np.empty((nb, k))
        else:
            self.bsum = np.empty((1, 1, 1))
            self.bw = np.empty((1, 1))
        self.bchanged = np.empty(nb, dtype=np.intp)


cdef class Clusters:
    """INOUT: the rows' clusters as the passes of one k-means run keep them. The arrays are
    the caller's, shared (never copied): it reads and adjusts them between passes.

    Parameters
    ----------
    sample_weight : (n,) float64, IN
        Each row's weight in the sums.
    labels : (n,) int32, INOUT
        Each row's centre; -1: not assigned yet.
    sums : (k, d) float64, OUT (Lloyd) or INOUT (Hamerly, Elkan, Yinyang: updated by the
        rows that change cluster)
        Weighted sum of each cluster's rows.
    weight_in_clusters : (k,) float64, like ``sums``
        Each cluster's weight.
    workspace : Workspace
        The passes' scratch, for n rows, k centres and d features.
    """
    cdef readonly const double[::1] sample_weight
    cdef readonly int[::1] labels
    cdef readonly double[:, ::1] sums
    cdef readonly double[::1] weight_in_clusters
    cdef readonly Workspace workspace

    def __init__(self, const double[::1] sample_weight, int[::1] labels, double[:, ::1] sums,
                 double[::1] weight_in_clusters, Workspace workspace):
        cdef Py_ssize_t n = labels.shape[0], k = sums.shape[0], d = sums.shape[1]
        if sample_weight.shape[0] != n or weight_in_clusters.shape[0] != k:
            raise ValueError("sample_weight must have one value per row and "
                             "weight_in_clusters one per cluster")
        if workspace.CT.shape != (d, k):
            raise ValueError(f"the workspace is for {workspace.CT.shape[1]} centres of "
                             f"{workspace.CT.shape[0]} features, not {k} of {d}")
        self.sample_weight = sample_weight
        self.labels = labels
        self.sums = sums
        self.weight_in_clusters = weight_in_clusters
        self.workspace = workspace

    cdef Clustering view(self, floating[:, ::1] CT, floating[::1] cnorm, bint update) except *:
        """The C view for a pass (CT and cnorm: the workspace's, typed by the caller)."""
        cdef Clustering cl
        cdef Workspace ws = self.workspace
        check_block_buffers(ws.bsum, ws.bchanged.shape[0], self.sums.shape[0],
                            self.sums.shape[1], update)
        cl.labels = &self.labels[0]
        cl.sums = &self.sums[0, 0]
        cl.wsum = &self.weight_in_clusters[0]
        cl.CT = &CT[0, 0]
        cl.cnorm = &cnorm[0]
        cl.blk = make_blocks(self.labels.shape[0], ws.bchanged.shape[0], update,
                             &ws.bsum[0, 0, 0], &ws.bw[0, 0], &ws.bchanged[0])
        return cl


# --------------------------------------------------------------------------------------------
# Float64 rows, float32 partial distances: the mixed path of the dense Lloyd passes
# --------------------------------------------------------------------------------------------
def mixed_min_centers():
    """Centres from which float64 Lloyd passes on data of GEMM_MIN_FEATURES+ features screen
    in float32, on this CPU. Measured on 2-core AMD EPYCs, 20 iterations from random rows,
    seconds, float64 / mixed passes: on AVX-512 (Zen 4, 2026-12-04) normal 100k x 32 k=8
    0.053-0.057 / 0.081-0.082, k=16 0.086-0.088 / 0.070-0.071, k=64 0.18-0.21 / 0.13-0.17;
    blobs 200k x 50 k=8 0.14-0.17 / 0.18, k=16 0.22-0.26 / 0.17-0.19, k=64 0.51-0.60 /
    0.34-0.38; blobs 30k x 784 k=8 0.44-0.45 / 0.33-0.34 (the same with OpenBLAS's Haswell
    kernels). On AVX2 (Zen 3) 128 was set with the mixed path (1.75x less CPU at k=1000); its
    crossover below that was not measured. Hamerly's full searches on such data take the
    same threshold (_bounds.hamerly_pass_dense)."""
    return gemm_mixed_min_centers()


cdef void _closest_mixed(
    const double *X, Py_ssize_t m, Py_ssize_t d, const double *C, Py_ssize_t k,
    const MixedCenters *mc, Py_ssize_t *besti, float *X32, float *D, bint use_gemm,
    const float *xt32=NULL, const double *xnorms=NULL,
) noexcept nogil:
    """closest_centers for float64 rows from float32 partial distances (m <= CHUNK_ROWS).

    IN X (m x d), C (k x d, the float64 centres), mc (their float32 forms, see MixedCenters);
    OUT besti (m): the exact assignment rule's labels; scratch X32 (m x d), D (m x TILE_CENTERS).
    Optional: xt32, the rows rounded to float32 and laid out for the wide kernel
    (_lay_out_rows); xnorms, their squared norms (:func:`sq_norm`'s; else taken here).

    Each row's best and second-best float32 values decide when their gap exceeds twice the
    error bound of one value (mixed_error_scale, mixed_abs_error): the true order of the two
    centres is then the computed one, and every other centre is farther than both. Rows whose
    gap is within the bound (or NaN), and rows or centres too large for float32, are decided
    by exact_closest on the float64 values, so the labels are those of closest_centers.
    """
    cdef Py_ssize_t r
    cdef float bestv[CHUNK_ROWS]
    cdef float secv[CHUNK_ROWS]
    cdef double xn, bound, dist
    mixed_best_two(X, m, d, mc.C32, mc.CT32, mc.cnorm32, mc.P32, k, use_gemm, X32, D, bestv,
                   secv, besti, xt32)
    for r in range(m):
        xn = sqrt(xnorms[r]) if xnorms != NULL else row_norm(X + r * d, d)
        bound = 2.0 * (mc.scale * (mc.cmax + xn * sqrt(mc.cmax))
                       + mixed_abs_error(d, xn, mc.cmax))
        # (centres too large for float32 never get here: mixed_centers refuses them)
        if not (<double>secv[r] - <double>bestv[r] > bound) or xn * xn > MIXED_MAX_NORM:
            besti[r] = exact_closest(X + r * d, C, k, d, &dist)


# --------------------------------------------------------------------------------------------
# Lloyd passes
# --------------------------------------------------------------------------------------------
cdef struct Scratch:
    # A thread's scratch in a dense Lloyd pass.
    # CHUNK_ROWS x min(k, TILE_CENTERS) partial distances (data dtype; float32 on the mixed path)
    void *D
    float *X32               # CHUNK_ROWS x d: the chunk's rows in float32 (mixed path, else NULL)


cdef inline Scratch _new_scratch(void *D, float *X32) noexcept nogil:
    cdef Scratch sc
    sc.D = D
    sc.X32 = X32
    return sc


cdef inline void _block_sums(const floating *X, const Rows *rows, Py_ssize_t s, Py_ssize_t m,
                             const Py_ssize_t *lab, const Moves *mv, Py_ssize_t k) noexcept nogil:
    """Rows s .. s + m (labels lab, GEMM_MIN_FEATURES+ features) into their clusters' block
    sums by kmix_block_sums."""
    cdef Py_ssize_t d = rows.d
    if floating is float:
        kmix_block_sums_f(<const float*>X + s * d, m, d, lab, rows.weight + s, mv.bsum, mv.bw,
                          mv.touched, k)
    else:
        kmix_block_sums_d(<const double*>X + s * d, m, d, lab, rows.weight + s, mv.bsum,
                          mv.bw, mv.touched, k)


cdef inline Py_ssize_t _store_labels(int *labels, const Py_ssize_t *besti,
                                     Py_ssize_t m) noexcept nogil:
    """labels[:m] = besti[:m]; returns how many changed."""
    cdef Py_ssize_t r, changed = 0
    for r in range(m):
        if labels[r] != besti[r]:
            changed += 1
            labels[r] = <int>besti[r]
    return changed


cdef Py_ssize_t _apply_labels(const floating *X, const Rows *rows, Py_ssize_t s, Py_ssize_t m,
                              const Py_ssize_t *besti, int *labels, const Moves *mv,
                              Py_ssize_t k) noexcept nogil:
    """Store the labels of rows s .. s + m (besti, of k centres) and, with update, add the
    rows to their cluster's block sums (mv; rows of GEMM_MIN_FEATURES+ features by
    kmix_block_sums, each cluster's rows together, the same sums; narrower rows here, one by
    one: kmix_block_sums made the chapter's 2000 x 2 blobs fit, k=5 n_init=10, 7% slower);
    return how many labels changed."""
    cdef Py_ssize_t r, i, a, d = rows.d
    cdef Py_ssize_t changed = _store_labels(labels + s, besti, m)
    cdef double wi
    if not mv.update:
        return changed
    if d >= GEMM_MIN_FEATURES:
        _block_sums(X, rows, s, m, besti, mv, k)
        return changed
    for r in range(m):
        i = s + r
        a = besti[r]
        wi = rows.weight[i]
        if mv.touched != NULL and not mv.touched[a]:
            # the block's first row of cluster a writes its sums (not zeroed)
            mv.touched[a] = 1
            mv.bw[a] = wi
            add_scaled(mv.bsum + a * d, X + i * d, wi, d, True)
        else:
            mv.bw[a] += wi
            add_scaled(mv.bsum + a * d, X + i * d, wi, d, False)
    return changed


cdef Py_ssize_t _lloyd_block_dense(const floating *X, const Rows *rows, const Centers *cen,
                                   const MixedCenters *mc, const Blocks *blk, Py_ssize_t b,
                                   int *labels, Scratch *sc) noexcept nogil:
    """Block b of a dense Lloyd pass: each row's closest centre, chunk by chunk; with update
    every row adds its weighted values to its cluster's block sums. mc: the float32 centres of
    the mixed path (NULL: all-float64 distances, see _closest_mixed). Returns how many labels
    changed."""
    cdef Py_ssize_t d = rows.d, k = cen.k
    cdef Py_ssize_t s = b * blk.size, end = imin(rows.n, (b + 1) * blk.size)
    cdef Py_ssize_t m
    cdef Py_ssize_t changed = 0
    cdef Py_ssize_t besti[CHUNK_ROWS]
    cdef Moves mv = block_moves(blk, b, k, d)
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        if floating is double and mc != NULL:
            _closest_mixed(X + s * d, m, d, <const double*>cen.C, k, mc, besti, sc.X32,
                           <float*>sc.D, cen.use_gemm)
        else:
            closest_centers(X + s * d, m, d, <const floating*>cen.C, <const floating*>cen.ST,
                            <const floating*>cen.snorm, k, besti, <floating*>sc.D,
                            cen.use_gemm, <const floating*>cen.P,
                            rows.sq_norms + s if rows.sq_norms != NULL else NULL, NULL)
        changed += _apply_labels(X, rows, s, m, besti, labels, &mv, k)
        s += m
    return changed


cdef enum:
    # The rows of the wide kernel's row groups (16 float32 rows, 8 float64): where its label
    # chunks start, and how _lay_out_rows lays the rows out.
    LABEL_GROUP = 16


cdef inline Py_ssize_t _label_chunks(Py_ssize_t n, int n_threads) noexcept nogil:
    """How many label chunks a pass over laid-out rows takes: the n rows' groups of
    LABEL_GROUP shared evenly (chunk q: groups q * groups // nq .. (q + 1) * groups // nq),
    at most CHUNK_ROWS rows a chunk, a multiple of n_threads chunks where there are groups
    enough (every thread the same share). The row blocks of the sums are not multiples of
    the groups: run by block, the kernel padded a group a block (digits: 225-row blocks,
    6.7% of its work)."""
    cdef Py_ssize_t groups = (n + LABEL_GROUP - 1) // LABEL_GROUP
    cdef Py_ssize_t per = CHUNK_ROWS // LABEL_GROUP
    cdef Py_ssize_t nq = (groups + per - 1) // per
    nq = (nq + n_threads - 1) // n_threads * n_threads
    return imin(nq, groups)


cdef Py_ssize_t _label_chunk(const floating *X, const Rows *rows, const Centers *cen,
                             const MixedCenters *mc, Py_ssize_t s, Py_ssize_t end,
                             int *labels, Scratch *sc) noexcept nogil:
    """Labels of the laid-out rows s .. end (s a multiple of LABEL_GROUP, at most
    CHUNK_ROWS rows) by the wide kernel (mc: the float32 centres of the mixed path, whose
    rows are laid out rounded to float32, or NULL); returns how many changed."""
    cdef Py_ssize_t d = rows.d, m = end - s
    cdef Py_ssize_t besti[CHUNK_ROWS]
    cdef const double *xnorms = rows.sq_norms + s if rows.sq_norms != NULL else NULL
    if floating is double and mc != NULL:
        _closest_mixed(X + s * d, m, d, <const double*>cen.C, cen.k, mc, besti, sc.X32,
                       <float*>sc.D, cen.use_gemm, <const float*>rows.xt + s * d, xnorms)
    else:
        closest_centers(X + s * d, m, d, <const floating*>cen.C, <const floating*>cen.ST,
                        <const floating*>cen.snorm, cen.k, besti, <floating*>sc.D,
                        cen.use_gemm, <const floating*>cen.P, xnorms,
                        <const floating*>rows.xt + s * d)
    return _store_labels(labels + s, besti, m)


cdef void _sum_block(const floating *X, const Rows *rows, const Blocks *blk, Py_ssize_t b,
                     const int *labels, Py_ssize_t k) noexcept nogil:
    """Block b's rows added to their clusters' block sums (rows of GEMM_MIN_FEATURES+
    features; chunk by chunk, each chunk's rows in row order: the sums of _apply_labels)."""
    cdef Py_ssize_t d = rows.d, r
    cdef Py_ssize_t s = b * blk.size, end = imin(rows.n, (b + 1) * blk.size), m
    cdef Py_ssize_t lab[CHUNK_ROWS]
    cdef Moves mv = block_moves(blk, b, k, d)
    if mv.touched == NULL:
        zero_block(mv.bsum, mv.bw, k, d)
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        for r in range(m):
            lab[r] = labels[s + r]
        _block_sums(X, rows, s, m, lab, &mv, k)
        s += m


cdef Py_ssize_t _lloyd_pass(const floating *X, const Rows *rows, const floating *centers,
                            Py_ssize_t k, Clustering *cl, int n_threads,
                            floating *centers_new=NULL, double *shift_sq=NULL,
                            bint *centred=NULL) noexcept nogil:
    """A dense Lloyd pass on raw buffers (:func:`lloyd_pass_dense`). With centers_new (and
    shift_sq, centred), a pass that updates may also take each non-empty cluster's new
    centre and its squared shift (_center_from_sums) as its threads reduce the cluster's
    sums; centred[0] then says whether it did."""
    cdef Py_ssize_t b, j, d = rows.d
    cdef floating *CT = <floating*>cl.CT
    cdef floating *cnorm = <floating*>cl.cnorm
    cdef Centers cen
    cdef Scratch sc
    cdef MixedCenters mixed
    cdef const MixedCenters *mc = NULL
    cdef float *mbuf = NULL
    cdef floating *packed = NULL
    prep_centers(centers, k, d, CT, cnorm)
    cen = make_centers(centers, centers, CT, cnorm, k, d)
    if floating is double and cen.use_gemm and k >= gemm_mixed_min_centers():
        mbuf = mixed_centers(centers, k, d, &mixed)
        if mbuf != NULL:
            mc = &mixed
    if mc == NULL:
        packed = wide_pack(CT, cnorm, k, d)
        cen.P = packed
    # The blocks' sums are written by each cluster's first row instead of zeroed first
    # (k x d doubles a block: 6% of a digits fit's time; see Blocks.touched).
    cdef unsigned char *touched = NULL
    if cl.blk.update:
        touched = <unsigned char*>calloc(cl.blk.nb * k, sizeof(unsigned char))
    cl.blk.touched = touched
    # Rows laid out for the wide kernel: labels by chunks of whole row groups, then the sums
    # by block (X read there, as the fused path reads it); else both by block. (Rows laid
    # out rounded to float32 serve the mixed path only: a pass whose centres it refuses
    # stays in float64, by block.)
    cdef bint by_groups = rows.xt != NULL and (
        packed != NULL and not rows.xt_mixed if mc == NULL
        else rows.xt_mixed and mc.P32 != NULL)
    cdef Py_ssize_t nq = _label_chunks(rows.n, n_threads) if by_groups else 0, q
    cdef Py_ssize_t *qchanged = NULL
    cdef Py_ssize_t groups = (rows.n + LABEL_GROUP - 1) // LABEL_GROUP, changed = 0
    if by_groups:
        qchanged = <Py_ssize_t*>malloc(nq * sizeof(Py_ssize_t))
        by_groups = qchanged != NULL
    with parallel(num_threads=n_threads):
        # D holds float32 values on the mixed path (half the room of a float64 D)
        sc = _new_scratch(malloc(CHUNK_ROWS * imin(k, TILE_CENTERS) * sizeof(floating)),
                          <float*>malloc(CHUNK_ROWS * d * sizeof(float)) if mc != NULL else NULL)
        if by_groups:
            for q in prange(nq, schedule='dynamic'):
                qchanged[q] = _label_chunk(X, rows, &cen, mc, q * groups // nq * LABEL_GROUP,
                                           imin(rows.n, (q + 1) * groups // nq * LABEL_GROUP),
                                           cl.labels, &sc)
            if cl.blk.update:
                for b in prange(cl.blk.nb, schedule='dynamic'):
                    _sum_block(X, rows, &cl.blk, b, cl.labels, k)
        else:
            for b in prange(cl.blk.nb, schedule='dynamic'):
                if cl.blk.update and touched == NULL:
                    zero_block(cl.blk.bsum + b * k * d, cl.blk.bw + b * k, k, d)
                cl.blk.bchanged[b] = _lloyd_block_dense(X, rows, &cen, mc, &cl.blk, b,
                                                        cl.labels, &sc)
        free(sc.D)
        free(sc.X32)
        if touched != NULL:
            # the blocks' sums reduced by the same threads, cluster by cluster (no team to
            # wake, none of it serial)
            for j in prange(k, schedule='static'):
                reduce_cluster_touched(cl.blk.bsum, cl.blk.bw, cl.blk.nb, k, d, cl.sums,
                                       cl.wsum, touched, j)
                if centers_new != NULL and cl.wsum[j] > 0:
                    shift_sq[j] = _center_from_sums(cl.sums + j * d, cl.wsum[j], d,
                                                    centers + j * d, centers_new + j * d)
    free(mbuf)
    free(packed)
    cl.blk.touched = NULL
    if cl.blk.update and touched == NULL:
        reduce_blocks(cl.blk.bsum, cl.blk.bw, cl.blk.nb, k, d, cl.sums, cl.wsum, False,
                      n_threads)
    if centred != NULL:
        centred[0] = centers_new != NULL and touched != NULL
    free(touched)
    if by_groups:
        changed = sum_counts(qchanged, nq)
        free(qchanged)
        return changed
    return sum_counts(cl.blk.bchanged, cl.blk.nb)


def lloyd_pass_dense(const floating[:, ::1] X, const floating[:, ::1] centers,
                     Clusters clusters, bint update, int n_threads):
    """Assign every row to its closest centre; optionally sum the rows per cluster.

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    centers : (k, d) in X's dtype, IN
    clusters : Clusters, INOUT
        Its labels are written; with ``update`` its sums and weight_in_clusters too (the
        weighted sums of each cluster's rows and weights).
    update : bool, IN
    n_threads : int, IN

    Returns
    -------
    How many labels changed.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef floating[:, ::1] CT = clusters.workspace.CT
    cdef floating[::1] cnorm = clusters.workspace.cnorm
    cdef Clustering cl
    cdef Rows rows
    cdef Py_ssize_t changed
    if n == 0:
        return 0
    cl = clusters.view(CT, cnorm, update)
    rows = make_rows(NULL, &clusters.sample_weight[0], n, d)
    with nogil:
        changed = _lloyd_pass(&X[0, 0], &rows, &centers[0, 0], k, &cl, n_threads)
    return changed


cdef Py_ssize_t _lloyd_block_sparse(const floating *data, const int *indices,
                                    const int *indptr, const Rows *rows, const Centers *cen,
                                    const Blocks *blk, Py_ssize_t b, int *labels,
                                    floating *Dr) noexcept nogil:
    """:func:`_lloyd_block_dense` for CSR rows (Dr: k + d scratch values, the last d zero)."""
    cdef Py_ssize_t d = rows.d, k = cen.k
    cdef Py_ssize_t i, p, a
    cdef Py_ssize_t changed = 0
    cdef double wi
    cdef Moves mv = block_moves(blk, b, k, d)
    for i in range(b * blk.size, imin(rows.n, (b + 1) * blk.size)):
        a = closest_center_sparse(data, indices, indptr[i], indptr[i + 1],
                                  <const floating*>cen.C, <const floating*>cen.ST,
                                  <const floating*>cen.snorm, k, d, Dr)
        if labels[i] != a:
            changed += 1
            labels[i] = <int>a
        if mv.update:
            wi = rows.weight[i]
            mv.bw[a] += wi
            for p in range(indptr[i], indptr[i + 1]):
                mv.bsum[a * d + indices[p]] += wi * data[p]
    return changed


def lloyd_pass_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                      const floating[:, ::1] centers, Clusters clusters, bint update,
                      int n_threads):
    """:func:`lloyd_pass_dense` for a CSR matrix given by its three arrays (IN; its number of
    features is the centres')."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = centers.shape[1], k = centers.shape[0]
    cdef floating[:, ::1] CT = clusters.workspace.CT
    cdef floating[::1] cnorm = clusters.workspace.cnorm
    cdef Py_ssize_t b
    cdef const floating *data_p = &data[0] if data.shape[0] > 0 else NULL
    cdef const int *indices_p = &indices[0] if indices.shape[0] > 0 else NULL
    cdef floating *Dr
    cdef Clustering cl
    cdef Centers cen
    cdef Rows rows
    if n == 0:
        return 0
    cl = clusters.view(CT, cnorm, update)
    rows = make_rows(NULL, &clusters.sample_weight[0], n, d)
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        cen = make_centers(&centers[0, 0], &centers[0, 0], &CT[0, 0], &cnorm[0], k, d)
        with parallel(num_threads=n_threads):
            Dr = <floating*>calloc(k + d, sizeof(floating))
            for b in prange(cl.blk.nb, schedule='dynamic'):
                if update:
                    zero_block(cl.blk.bsum + b * k * d, cl.blk.bw + b * k, k, d)
                cl.blk.bchanged[b] = _lloyd_block_sparse(data_p, indices_p, &indptr[0], &rows,
                                                         &cen, &cl.blk, b, cl.labels, Dr)
            free(Dr)
        if update:
            reduce_blocks(cl.blk.bsum, cl.blk.bw, cl.blk.nb, k, d, cl.sums, cl.wsum, False,
                          n_threads)
    return sum_counts(cl.blk.bchanged, cl.blk.nb)


cdef void _sq_dist_to_assigned(const floating *X, const floating *centers, const int *labels,
                               Py_ssize_t n, Py_ssize_t d, double *out,
                               int n_threads) noexcept nogil:
    """out[i] = ||X[i] - centers[labels[i]]||^2 (:func:`sq_dist`)."""
    cdef Py_ssize_t i
    for i in prange(n, schedule='static', num_threads=n_threads):
        out[i] = sq_dist(X + i * d, centers + labels[i] * d, d)


def sq_dist_to_assigned_dense(const floating[:, ::1] X, const floating[:, ::1] centers,
                              const int[::1] labels, double[::1] out, int n_threads):
    """out[i] = ||X[i] - centers[labels[i]]||^2, exactly (float64)."""
    if X.shape[0] == 0:
        return
    with nogil:
        _sq_dist_to_assigned(&X[0, 0], &centers[0, 0], &labels[0], X.shape[0], X.shape[1],
                             &out[0], n_threads)


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


cdef double _weighted_sum_ordered(const double *values, const double *weights, Py_ssize_t n,
                                  double *part, int n_threads) noexcept nogil:
    """sum(values * weights) over the fixed blocks n_blocks_for(n, 1) (partial sums in part),
    reduced in order."""
    cdef Py_ssize_t nb = n_blocks_for(n, 1), bs = (n + nb - 1) // nb, b, i
    cdef double acc
    for b in prange(nb, schedule='static', num_threads=n_threads):
        acc = 0.0
        for i in range(b * bs, imin(n, (b + 1) * bs)):
            acc = acc + values[i] * weights[i]
        part[b] = acc
    return sum_in_order(part, nb)


def weighted_sum_ordered(const double[::1] values, const double[::1] weights, int n_threads):
    """sum(values * weights) over fixed blocks reduced in order (thread-count independent)."""
    cdef Py_ssize_t n = values.shape[0]
    cdef double[::1] part = np.zeros(n_blocks_for(n, 1))
    if n == 0:
        return 0.0
    cdef double total
    with nogil:
        total = _weighted_sum_ordered(&values[0], &weights[0], n, &part[0], n_threads)
    return total


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


cdef inline double _center_from_sums(const double *sums, double w, Py_ssize_t d,
                                     const floating *old, floating *new) noexcept nogil:
    """new = sums / w (d values, rounded to the dtype); returns its squared shift from old."""
    cdef Py_ssize_t f
    cdef double c, t, s = 0.0
    for f in range(d):
        c = sums[f] * (1.0 / w)
        new[f] = <floating>c
        t = <double>new[f] - <double>old[f]
        s += t * t
    return s


cdef double _centers_from_sums(const double *sums, const double *wsum, Py_ssize_t k,
                               Py_ssize_t d, const floating *centers_old, floating *centers_new,
                               double *center_shift, bint allow_empty) noexcept nogil:
    """Body of :func:`centers_from_sums` on raw buffers."""
    cdef Py_ssize_t j, big = 0, src
    cdef double s, tot = 0.0
    for j in range(k):
        if wsum[j] == 0 and not allow_empty:
            return -1.0
        if wsum[j] > wsum[big]:
            big = j
    for j in range(k):
        src = j if wsum[j] > 0 else big
        s = _center_from_sums(sums + src * d, wsum[src], d, centers_old + j * d,
                              centers_new + j * d)
        center_shift[j] = sqrt(s)
        tot += s
    return tot


cdef double _shift_total(const double *wsum, const double *shift_sq, Py_ssize_t k,
                         double *center_shift) noexcept nogil:
    """What _centers_from_sums returns (without allow_empty) when the centres were computed
    cluster by cluster (shift_sq: their squared shifts): -1 if a cluster is empty, else
    the total squared shift, each centre's shift in center_shift."""
    cdef Py_ssize_t j
    cdef double tot = 0.0
    for j in range(k):
        if wsum[j] == 0:
            return -1.0
    for j in range(k):
        center_shift[j] = sqrt(shift_sq[j])
        tot += shift_sq[j]
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


cdef struct RunLimits:
    # IN: when lloyd_run_dense stops (a dict with these keys converts to it).
    int max_iter             # at most this many iterations
    double tol               # a total squared centre shift <= tol ends the run


cdef enum:
    # Lloyd's compiled runs lay the rows out for the wide kernel once (instead of each pass
    # copying them) up to this many bytes. Digits k=50 float32 (11 passes), min of 400 fits,
    # alternating processes: the run 1.12-1.14 -> 1.09 ms, the fit 1.33-1.34 -> 1.29-1.30.
    LAID_OUT_MAX_BYTES = 1 << 24


cdef void _lay_out_rows(const floating *X, Rows *rows, Py_ssize_t k,
                        int n_threads) noexcept nogil:
    """Set rows.xt to the rows laid out once for the wide kernel (kmix_wide_rows) by groups
    of LABEL_GROUP rows (the rows from s, a multiple of LABEL_GROUP, at xt + s * d), where
    its passes run it (gemm-wide data) and the copy fits in LAID_OUT_MAX_BYTES; float64 rows
    from the mixed path's centres on are laid out rounded to float32, as its passes round
    them (rows.xt_mixed). Else (or out of memory) leave it NULL. The caller frees rows.xt."""
    cdef Py_ssize_t d = rows.d, n = rows.n, q, s, m, r
    cdef Py_ssize_t size = (n + LABEL_GROUP - 1) // LABEL_GROUP * LABEL_GROUP * d
    cdef bint mixed = floating is double and k >= gemm_mixed_min_centers()
    cdef Py_ssize_t item = sizeof(float) if mixed else sizeof(floating)
    cdef void *xt
    cdef float *x32 = NULL
    rows.xt = NULL
    rows.xt_mixed = mixed
    if not wide_fused(d, k) or size * item > LAID_OUT_MAX_BYTES:
        return
    xt = malloc(size * item)
    if mixed:
        x32 = <float*>malloc(n * d * sizeof(float))
    if xt == NULL or (mixed and x32 == NULL):
        free(xt)
        free(x32)
        return
    for q in prange((n + CHUNK_ROWS - 1) // CHUNK_ROWS, schedule='static',
                    num_threads=n_threads):
        s = q * CHUNK_ROWS
        m = imin(CHUNK_ROWS, n - s)
        if floating is float:
            kmix_wide_rows_f(<const float*>X + s * d, m, d, <float*>xt + s * d)
        elif mixed:
            # (rounded to nearest, as mixed_best_two rounds them)
            for r in range(s * d, (s + m) * d):
                x32[r] = <float>X[r]
            kmix_wide_rows_f(x32 + s * d, m, d, <float*>xt + s * d)
        else:
            kmix_wide_rows_d(<const double*>X + s * d, m, d, <double*>xt + s * d)
    free(x32)
    rows.xt = xt


cdef void _run_rows(const floating *X, Rows *rows, double *xnorms, bint norms_known,
                    Py_ssize_t k, int n_threads) noexcept nogil:
    """What a compiled run takes once for all its passes: the rows' squared norms (into
    xnorms, unless norms_known; the passes' rounding bounds read them) and the rows laid out
    for the wide kernel (_lay_out_rows; the caller frees rows.xt)."""
    cdef Py_ssize_t i
    if not norms_known:
        for i in prange(rows.n, schedule='static', num_threads=n_threads):
            xnorms[i] = sq_norm(X + i * rows.d, rows.d)
    _lay_out_rows(X, rows, k, n_threads)


cdef double _run_end(const floating *X, const Rows *rows, const floating *centers,
                     Py_ssize_t k, Clustering *cl_labels, int outcome, double *dists,
                     double *part, int n_threads) noexcept nogil:
    """The end of a run that did not empty a cluster, as kmeans_single takes it: the labels
    of the final centres (a pass without update, unless the labels converged) and the
    inertia (sq_dist_to_assigned, weighted_sum_ordered; dists: n, part: n_blocks_for(n, 1)
    doubles of scratch), returned."""
    if outcome != _RUN_STRICT:
        # the labels of the final centres, so that predict(X) == labels_
        _lloyd_pass(X, rows, centers, k, cl_labels, n_threads)
    _sq_dist_to_assigned(X, centers, cl_labels.labels, rows.n, rows.d, dists, n_threads)
    return _weighted_sum_ordered(dists, rows.weight, rows.n, part, n_threads)


cdef int _lloyd_iterations(const floating *X, const Rows *rows, floating *centers,
                           floating *centers_new, double *center_shift, Py_ssize_t k,
                           Clustering *cl, RunLimits limits, int n_threads, double *last_check,
                           Py_ssize_t *n_run, Py_ssize_t *changed,
                           double *shift_sq) except -1 nogil:
    """The iterations of :func:`lloyd_run_dense` on raw buffers: returns the outcome, with
    the iterations completed in n_run and the labels changed by the last pass in changed.
    shift_sq: k doubles of scratch (the passes' squared centre shifts)."""
    cdef Py_ssize_t d = rows.d
    cdef double shift_tot
    cdef bint centred = False
    n_run[0] = 0
    while n_run[0] < limits.max_iter:
        if n_run[0] > 0:
            check_interrupt(last_check)
        changed[0] = _lloyd_pass(X, rows, centers, k, cl, n_threads, centers_new, shift_sq,
                                 &centred)
        if centred:
            shift_tot = _shift_total(cl.wsum, shift_sq, k, center_shift)
        else:
            shift_tot = _centers_from_sums(cl.sums, cl.wsum, k, d, centers, centers_new,
                                           center_shift, False)
        if shift_tot < 0:
            return _RUN_EMPTY
        memcpy(centers, centers_new, k * d * sizeof(floating))
        n_run[0] += 1
        if changed[0] == 0:
            return _RUN_STRICT
        if shift_tot <= limits.tol:
            return _RUN_TOL
    return _RUN_MAX_ITER


def lloyd_run_dense(const floating[:, ::1] X, floating[:, ::1] centers,
                    floating[:, ::1] centers_new, double[::1] center_shift, Clusters clusters,
                    RunLimits limits, int n_threads, const double[::1] x_sq_norms=None,
                    bint finish=False):
    """Up to ``limits.max_iter`` Lloyd iterations in one call (scikit-learn's stopping rules).

    Each iteration: a pass with update, the new centres, then a stop on unchanged labels
    (RUN_STRICT) or a total squared shift <= ``limits.tol`` (RUN_TOL). When a cluster ends
    empty the run stops with RUN_EMPTY before finishing that iteration: its pass has updated
    the clusters, the centres are unchanged, and the caller relocates (see
    ``kmix._kmeans_algorithms``). Pending signals are handled between iterations: Ctrl-C
    raises KeyboardInterrupt (the buffers then hold a partial run).

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    centers : (k, d) in X's dtype, INOUT
        The current centres throughout.
    centers_new : (k, d) in X's dtype, scratch
    center_shift : (k,) float64, OUT
        Each centre's move in the last iteration.
    clusters : Clusters, INOUT
        Labels, sums and weights of the last pass.
    limits : RunLimits (a dict of max_iter and tol), IN
    n_threads : int, IN
    x_sq_norms : (n,) float64, IN, optional
        The rows' squared norms as :c:func:`sq_norm` gives them (``row_norms_variance``'s),
        when the caller has them; else the run computes them.
    finish : bool, IN
        Unless a cluster ended empty, end the run as ``kmix._kmeans_algorithms.kmeans_single``
        ends it: the labels of the final centres (a pass without update, unless the labels
        converged) and the inertia (:func:`sq_dist_to_assigned_dense`, then
        :func:`weighted_sum_ordered`: the same values).

    Returns
    -------
    (iterations completed, labels changed by the last pass, outcome, inertia): the inertia
    with ``finish`` and an outcome other than RUN_EMPTY, else None.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef floating[:, ::1] CT = clusters.workspace.CT
    cdef floating[::1] cnorm = clusters.workspace.cnorm
    cdef Py_ssize_t it = 0, changed = 0
    cdef double last_check = monotonic()
    cdef int outcome = _RUN_MAX_ITER
    cdef double value = 0.0
    cdef Clustering cl, cl_labels
    cdef Rows rows
    if n == 0 or limits.max_iter < 1:
        raise ValueError("lloyd_run_dense needs samples and max_iter >= 1")
    if x_sq_norms is not None and x_sq_norms.shape[0] != n:
        raise ValueError("x_sq_norms must have one value per row")
    cdef bint known = x_sq_norms is not None
    cdef double[::1] xnorms = x_sq_norms if known else np.empty(n)
    cdef double[::1] dists = np.empty(n if finish else 1)
    cdef double[::1] shift_sq = np.empty(k)
    cdef double[::1] part = np.empty(n_blocks_for(n, 1) if finish else 1)
    cl = clusters.view(CT, cnorm, True)
    if finish:
        cl_labels = clusters.view(CT, cnorm, False)
    rows = make_rows(&xnorms[0], &clusters.sample_weight[0], n, d)
    try:
        with nogil:
            _run_rows(&X[0, 0], &rows, &xnorms[0], known, k, n_threads)
            outcome = _lloyd_iterations(&X[0, 0], &rows, &centers[0, 0], &centers_new[0, 0],
                                        &center_shift[0], k, &cl, limits, n_threads,
                                        &last_check, &it, &changed, &shift_sq[0])
            if finish and outcome != _RUN_EMPTY:
                value = _run_end(&X[0, 0], &rows, &centers[0, 0], k, &cl_labels, outcome,
                                 &dists[0], &part[0], n_threads)
    finally:
        free(<void*>rows.xt)
    return it, changed, outcome, (value if finish and outcome != _RUN_EMPTY else None)


cdef inline void _add_values(double *acc, const floating *x, Py_ssize_t d) noexcept nogil:
    """acc[f] += x[f] for every feature (a loop the compiler vectorises)."""
    cdef Py_ssize_t f
    for f in range(d):
        acc[f] += x[f]


cdef inline void _add_squares_about(double *acc, const floating *x, const double *mu,
                                    Py_ssize_t d) noexcept nogil:
    """acc[f] += (x[f] - mu[f])**2 for every feature (a loop the compiler vectorises)."""
    cdef Py_ssize_t f
    cdef double v
    for f in range(d):
        v = x[f] - mu[f]
        acc[f] += v * v


#: Values per block of :func:`sum_of_squares` (blocks fixed by the size, not the threads).
cdef Py_ssize_t _SQUARES_BLOCK = 1 << 18


def sum_of_squares(const floating[::1] values, int n_threads=1):
    """Sum of the squares of ``values`` in float64: each block of ``_SQUARES_BLOCK`` values
    by :c:func:`sq_norm`'s eight lanes, the blocks' sums added in order (the same bits with
    any ``n_threads``). The validation's quick checks: kmix's own OpenMP team rather than
    numpy's dot, which would wake its BLAS threads, whose spinning then slows the fit's
    team."""
    cdef Py_ssize_t n = values.shape[0], b
    cdef Py_ssize_t nb = (n + _SQUARES_BLOCK - 1) // _SQUARES_BLOCK
    cdef double[::1] part
    if n == 0:
        return 0.0
    part = np.empty(nb)
    if nb == 1:
        n_threads = 1
    for b in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        part[b] = sq_norm(&values[b * _SQUARES_BLOCK],
                          imin(n, (b + 1) * _SQUARES_BLOCK) - b * _SQUARES_BLOCK)
    return sum_in_order(&part[0], nb)


def float32_copy(const double[:, ::1] X, int n_threads):
    """X rounded to float32 (to nearest, as ``X.astype(np.float32)``), written on n_threads
    threads (numpy's cast runs on one: 40 ms for 60k x 784). The caller keeps X's values
    inside float32's range."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef float[:, ::1] out = np.empty((n, d), dtype=np.float32)
    if n > 0 and d > 0:
        with nogil:
            float32_rows(&X[0, 0], n, d, &out[0, 0], n_threads)
    return np.asarray(out)


def row_norms_variance(const floating[:, ::1] X, double[::1] row_sq_norms, int n_threads,
                       bint with_variance=True):
    """Squared row norms of X (float64, into ``row_sq_norms``, by :c:func:`sq_norm`) and the
    mean of its per-feature variances (None when ``with_variance`` is false), reading X in
    place (no copy).

    Two passes over fixed row blocks reduced in order (results do not depend on
    ``n_threads``): the column sums with the row norms, then the squares about the means.
    The per-feature loops are small functions on pointers, which the compiler vectorises
    across features (each feature's sum still adds the rows in order).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t nb = n_blocks_for(n, d), bs = (n + nb - 1) // nb, b, i, f
    cdef double[:, ::1] bsum = np.zeros((nb, d))
    cdef double[::1] mean = np.zeros(d)
    cdef double s, total = 0.0
    cdef double *acc
    cdef const double *mu
    cdef const floating *x
    if n == 0 or d == 0:
        return 0.0 if with_variance else None
    for b in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        acc = &bsum[b, 0]
        for i in range(b * bs, imin(n, (b + 1) * bs)):
            x = &X[i, 0]
            row_sq_norms[i] = sq_norm(x, d)
            if with_variance:
                _add_values(acc, x, d)
    if not with_variance:
        return None
    for f in range(d):
        for b in range(nb):
            mean[f] += bsum[b, f]
            bsum[b, f] = 0.0
        mean[f] /= n
    mu = &mean[0]
    for b in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        acc = &bsum[b, 0]
        for i in range(b * bs, imin(n, (b + 1) * bs)):
            _add_squares_about(acc, &X[i, 0], mu, d)
    for f in range(d):
        s = 0.0
        for b in range(nb):
            s += bsum[b, f]
        total += s / n
    return total / d


cdef bint _same_clustering(const int *labels1, const int *labels2, Py_ssize_t n,
                           int *seen) noexcept nogil:
    """Whether labels2 is a function of labels1 (the same clustering up to a renaming).
    seen: scratch of k ints (k > every label)."""
    cdef Py_ssize_t i, a
    cdef bint same = True
    for i in range(n):
        seen[labels1[i]] = -1
    for i in range(n):
        a = labels1[i]
        if seen[a] == -1:
            seen[a] = labels2[i]
        elif seen[a] != labels2[i]:
            same = False
            break
    return same


def small_restarts_dense(const floating[:, ::1] X, Clusters clusters,
                         double total_weight, const double[:, ::1] draws, Py_ssize_t n_trials,
                         Py_ssize_t first,
                         RunLimits limits, floating[:, ::1] seeds, floating[:, ::1] centers,
                         floating[:, ::1] best_centers, int[::1] best_labels,
                         double[::1] best, int n_threads):
    """Restarts ``first``, ``first + 1``, ... of a small k-means fit, in one call: each
    seeded by greedy k-means++ (:func:`_kpp.kpp_small`, from its row of ``draws``), then run by
    Lloyd's iterations as :func:`lloyd_run_dense`, its final labels and inertia taken as
    ``kmix._kmeans_algorithms.kmeans_single`` takes them, and kept when it is the best so far
    (as ``KMeans.fit`` keeps it).

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    clusters : Clusters, scratch
        Its sample_weight are the rows' weights.
    total_weight : float, IN
        Their sum, as numpy sums them (the first centre's draw depends on it).
    draws : (n_init, 1 + (k - 1) n_trials) float64, IN
        The uniform draws of each restart's seeding (``kmix._seeding.kpp_draws``).
    n_trials : int, IN
        Candidates per seeding step.
    first : int, IN
        The restart to start from.
    limits : RunLimits (a dict of max_iter and tol), IN
    seeds, centers : (k, d) in X's dtype, OUT
        The seeds of the last restart run; scratch.
    best_centers : (k, d) in X's dtype, best_labels : (n,) int32, INOUT
        The best run so far.
    best : (3,) float64, INOUT
        Its inertia, its iterations and whether there is one (1.0) or not yet (0.0).
    n_threads : int, IN

    Returns
    -------
    The number of restarts (all run), or the first restart whose Lloyd iterations emptied a
    cluster: it is left for the caller to run with relocation, from ``seeds``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t n_init = draws.shape[0], r = first, i, it, changed
    cdef floating[:, ::1] CT = clusters.workspace.CT
    cdef floating[::1] cnorm = clusters.workspace.cnorm
    cdef floating[:, ::1] centers_new = np.empty_like(centers)
    cdef double[::1] center_shift = np.empty(k)
    cdef double[::1] shift_sq = np.empty(k)
    cdef const double *w = &clusters.sample_weight[0]
    cdef Py_ssize_t nb = n_blocks_for(n, 1)
    cdef double[::1] cdf = np.empty(n)
    cdef double[::1] closest = np.empty(n)
    cdef double[:, ::1] dist = np.empty((kpp_small_dist_rows(n_trials), n))
    cdef double[::1] block_pot = np.empty(nb)
    cdef double[::1] pot = np.empty(n_trials)
    cdef Py_ssize_t[::1] ids = np.empty(n_trials, dtype=np.intp)
    cdef Py_ssize_t[::1] chosen = np.empty(k, dtype=np.intp)
    cdef int[::1] seen = np.empty(k, dtype=np.int32)
    cdef double value, last_check = monotonic()
    cdef int outcome = _RUN_MAX_ITER
    cdef Clustering cl, cl_labels
    cdef Rows rows
    if draws.shape[1] != 1 + (k - 1) * n_trials or n == 0 or limits.max_iter < 1:
        raise ValueError("small_restarts_dense needs samples, max_iter >= 1 and "
                         "1 + (k - 1) * n_trials draws per restart")
    cdef double[::1] xnorms = np.empty(n)
    cl = clusters.view(CT, cnorm, True)
    cl_labels = clusters.view(CT, cnorm, False)
    rows = make_rows(&xnorms[0], w, n, d)
    try:
        with nogil:
            _run_rows(&X[0, 0], &rows, &xnorms[0], False, k, n_threads)
            first_cdf(w, n, total_weight, &cdf[0])
            for r in range(first, n_init):
                check_interrupt(&last_check)
                kpp_small(&X[0, 0], n, d, w, &cdf[0], k, n_trials, nb, &draws[r, 0],
                          &seeds[0, 0], &chosen[0], &closest[0], &dist[0, 0], &block_pot[0],
                          &pot[0], &ids[0])
                memcpy(&centers[0, 0], &seeds[0, 0], k * d * sizeof(floating))
                for i in range(n):
                    cl.labels[i] = -1
                outcome = _lloyd_iterations(&X[0, 0], &rows, &centers[0, 0], &centers_new[0, 0],
                                            &center_shift[0], k, &cl, limits, n_threads,
                                            &last_check, &it, &changed, &shift_sq[0])
                if outcome == _RUN_EMPTY:
                    break
                value = _run_end(&X[0, 0], &rows, &centers[0, 0], k, &cl_labels, outcome,
                                 &closest[0], &block_pot[0], n_threads)
                if best[2] == 0.0 or (value < best[0] and not _same_clustering(
                        cl.labels, &best_labels[0], n, &seen[0])):
                    memcpy(&best_labels[0], cl.labels, n * sizeof(int))
                    memcpy(&best_centers[0, 0], &centers[0, 0], k * d * sizeof(floating))
                    best[0] = value
                    best[1] = it
                    best[2] = 1.0
    finally:
        free(<void*>rows.xt)
    return r if outcome == _RUN_EMPTY else n_init


def best_two_of_rows(const floating[:, ::1] D):
    """For the kernel tests: (first position of the minimum, minimum, second smallest value
    with a tied minimum counting twice) of every row of D by ``row_argmin2``, the scan of
    the stored partial distances (AVX2 where the CPU has it)."""
    cdef Py_ssize_t m = D.shape[0], k = D.shape[1], r
    dtype = np.asarray(D).dtype
    cdef floating[::1] bestv = np.empty(m, dtype=dtype)
    cdef floating[::1] secv = np.empty(m, dtype=dtype)
    cdef Py_ssize_t[::1] besti = np.empty(m, dtype=np.intp)
    if k < 1:
        raise ValueError("best_two_of_rows: rows of at least one value")
    with nogil:
        for r in range(m):
            besti[r] = row_argmin2(&D[r, 0], k, &bestv[r], &secv[r])
    return np.asarray(besti), np.asarray(bestv), np.asarray(secv)


def wide_tile_width(Py_ssize_t k):
    """For the kernel tests: how many centres a register tile of the wide one-pass kernel
    takes for k centres (``kmix_wide_nc``: 4, 5 or 6)."""
    return kmix_wide_nc(k)


def one_pass_best_two(const floating[:, ::1] X, const floating[:, ::1] C):
    """For the kernel tests, on at most CHUNK_ROWS rows: (besti, bestv, secv) of the one-pass
    kernel of the data's width (each row's closest centre by its partial distances, first on
    a tie, and best two values, never storing them) and the partial distances D of the fused
    stored-values kernel (``partial_dists`` without gemm: the same chain of multiply-adds per
    value) that it must reproduce. Narrow data (fewer than GEMM_MIN_FEATURES features):
    ``kmix_fused_argmin2``; gemm-wide data up to KMIX_WIDE_MAX_D features, where the CPU has
    AVX2 and FMA: ``kmix_wide_argmin2`` on the centres packed by ``wide_pack``."""
    cdef Py_ssize_t m = X.shape[0], d = X.shape[1], k = C.shape[0]
    dtype = np.asarray(X).dtype
    C64 = np.asarray(C, dtype=np.float64)
    cdef floating[::1] cnorm = np.einsum("ij,ij->i", C64, C64).astype(dtype)
    cdef floating[:, ::1] CT = np.ascontiguousarray(np.asarray(C).T)
    cdef floating[:, ::1] D = np.empty((m, k), dtype=dtype)
    cdef floating[::1] bestv = np.empty(m, dtype=dtype)
    cdef floating[::1] secv = np.empty(m, dtype=dtype)
    cdef Py_ssize_t[::1] besti = np.empty(m, dtype=np.intp)
    cdef floating *P = NULL
    cdef bint narrow = 0 < d < GEMM_MIN_FEATURES, ran = True
    if not (0 < m <= CHUNK_ROWS and k > 0 and (narrow or wide_fused(d, k))):
        raise ValueError("one_pass_best_two: shape or CPU outside the one-pass kernels' range")
    with nogil:
        partial_dists(&X[0, 0], m, d, &C[0, 0], &CT[0, 0], k, &cnorm[0], k, &D[0, 0], False)
        if not narrow:
            P = wide_pack(&CT[0, 0], &cnorm[0], k, d)
            ran = P != NULL and wide_best_two(&X[0, 0], m, d, P, k, &besti[0], &bestv[0],
                                              &secv[0], NULL)
            free(P)
        elif floating is float:
            kmix_fused_argmin2_f(&X[0, 0], m, d, &CT[0, 0], k, &cnorm[0], k, &besti[0],
                                 &bestv[0], &secv[0])
        else:
            kmix_fused_argmin2_d(&X[0, 0], m, d, &CT[0, 0], k, &cnorm[0], k, &besti[0],
                                 &bestv[0], &secv[0])
    if not ran:
        raise MemoryError("one_pass_best_two")
    return np.asarray(besti), np.asarray(bestv), np.asarray(secv), np.asarray(D)
