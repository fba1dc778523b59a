"""Exact k-means iterations that skip distance computations with triangle-inequality bounds.

All kernels reproduce Lloyd's assignment (labels = argmin over centres) and keep the
per-cluster sums and weights *incrementally*: a row is read only when its bounds fail, and only
rows that change cluster move their weighted values between two clusters' sums. Per-block
deltas are reduced in a fixed order, so results do not depend on the number of threads.

- Hamerly (2010): one upper and one lower bound per row, O(n) memory; centres tested against a
  row are batched into gemm-computed chunks.
- Elkan (2003): one lower bound per (row, centre) and half the centre-centre distances.
- Yinyang (Ding et al., 2015): one lower bound per row and group of centres; a row that fails
  its global filter examines only the groups whose bound fails (on wide data, by partial
  distances from feature-major panels of each group's centres; in the first passes, every
  group at once by register tiles of rows by half panels).

Bounds are true (not squared) distances in float64, except Elkan's n x k lower bounds, which are
kept in the data's dtype as scikit-learn does, and Yinyang's n x groups lower bounds, kept in
float32 with each group's drift added (moving them reads them and writes nothing: see
kmix_group_bound in _fused.h). Every bound is rounded to its safe side (upper
bounds up, lower bounds down, by the rounding bounds of the distance formula that produced them:
see _common.pxd), and a row keeps its label only when its bounds hold strictly, so a centre that
could tie is always examined. Examined centres are compared by the exact assignment rule
(`closer`, `exact_closest`): the labels are exactly Lloyd's, ties to the lowest index, whatever
the CPU or BLAS.

The caller passes centre shifts rounded up and centre-centre half distances rounded down
(kmix._kmeans_algorithms does).

Hamerly and Yinyang share one search skeleton (:func:`_search_block`), each algorithm's rules
being named helpers; a pass's entry point takes the data, the centres and what moved them,
and two containers: the run's :class:`Bounds` and its ``kmix._core._lloyd.Clusters``.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt, INFINITY
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

from _common cimport (CHUNK_ROWS, GEMM_MIN_FEATURES, KMIX_PANEL, MIXED_MAX_NORM, TILE_CENTERS,
                      add_scaled, add_up, check_block_buffers, closer, direct_gamma, dist_down,
                      dist_up, exact_closest, groups_best, imin, KMIX_BOUND_SLOTS, kmix_float_up,
                      kmix_float_down, kmix_fused_argmin2_d, kmix_fused_argmin2_f, kmix_gamma,
                      kmix_group_bound_best, kmix_group_bound_store, kmix_group_floor,
                      kmix_bit_words, kmix_bits_list, kmix_bits_union4,
                      kmix_group_winner, kmix_group_winner4_f, kmix_groups_failing,
                      kmix_groups_failing_bits4, kmix_groups_min4_f, kmix_refresh_all,
                      kmix_refresh_all_base, kmix_refresh_bounds, kmix_refresh_bounds_base,
                      kmix_sqdist32_f, kmix_wide_argmin2_ok, kmix_wide_groups_d,
                      kmix_wide_groups_f, kmix_wide_rows_d, kmix_wide_rows_f,
                      partial_dists, prep_centers, reduce_blocks, row_argmin, sq_dist, sub_down,
                      sum_counts, wide_best_two, wide_pack, zero_block)
from _kmeans_pass cimport (Blocks, Centers, Clustering, MixedCenters, Moves, Rows, block_moves,
                           gemm_mixed_min_centers, make_blocks, make_centers, make_rows,
                           max_sq_norm, mixed_best_two, mixed_centers, use_mixed)


# --------------------------------------------------------------------------------------------
# The passes' state, grouped by role (Rows, Centers, Blocks, Moves: see _kmeans_pass.pxd)
# --------------------------------------------------------------------------------------------
cdef struct Search:
    # Per-thread scratch of the full search of a chunk's rows (q < CHUNK_ROWS searched rows,
    # ng groups of centres: 1 for Hamerly).
    void *D                  # CHUNK_ROWS x min(k, TILE_CENTERS) partial distances (data dtype)
    void *G                  # CHUNK_ROWS x d rows gathered for the search (data dtype)
    float *X32               # CHUNK_ROWS x d: float64 rows rounded for a float32 search
    double *best1            # CHUNK_ROWS x ng: smallest partial distance of row q in group g
    double *best2            # CHUNK_ROWS x ng: the next smallest
    Py_ssize_t *arg1         # CHUNK_ROWS x ng: where the smallest is (position in S)
    # Yinyang's full search: per group g and searched row q (at g * CHUNK_ROWS + q), the
    # smallest partial distance (data dtype), the next smallest, and where the smallest is
    # (position in S). Its group filter: the groups a row examines (ng).
    void *F1
    void *F2
    int *P1
    Py_ssize_t *glist        # 2 x ng: a union of lists, a row's list
    uint64_t *gbits          # 5 x kmix_bit_words(ng): four rows' failing groups, their union
    # Yinyang's dense search (YinyangBounds.dense; else NULL): CHUNK_ROWS x d rows laid out
    # by kmix_wide_rows, and ng x 16 floats (8 doubles) of the kernel's group minima
    void *XT
    void *GB
    Py_ssize_t idx[CHUNK_ROWS]   # the rows filtered, then those searched
    double bound[CHUNK_ROWS]     # what each filtered row's upper bound is tested against


cdef struct HamerlyBounds:
    # Hamerly's per-row state (INOUT) and what moves it (IN).
    int *labels              # n: closest centre, -1 if never assigned
    double *upper            # n: upper bound on the distance to the own centre
    double *lower            # n: lower bound on the distance to every other centre
    const double *shift      # k: how far each centre moved (rounded up)
    const double *half_sep   # k: half the distance to the nearest other centre
    Py_ssize_t shift_arg     # the centre that moved most ...
    double shift_max1        # ... how far ...
    double shift_max2        # ... and the second largest move


cdef struct YinyangBounds:
    # Yinyang's per-row state (INOUT) and its groups of centres (IN).
    int *labels              # n: closest centre, -1 if never assigned
    double *upper            # n: upper bound on the distance to the own centre
    # n x ng: lower bound on the distances to group g's centres, as stored
    # (kmix_group_bound_store: plus the group's drift then)
    float *lower
    const double *shift      # k: how far each centre moved (rounded up)
    const double *drift      # ng: each group's drift, the sum of its largest shifts (up)
    const float *drift_up    # ng: the same rounded up to float32
    const float *drift_dn    # ng: the same rounded down to float32 (the bounds' refreshes)
    # ng x KMIX_BOUND_SLOTS: for a bound tagged t, its drift then plus its group's largest net
    # move since, rounded up to float32 (kmix_group_bound_net; Bounds.net_drift)
    # (NULL: this pass reads the drift bounds only; see YINYANG_NET_MAX_LISTED)
    const float *dnet
    unsigned slot            # this pass's tag: bounds stored now carry it
    # nb x 2, per row block: the groups listed by the wide data's group filter, and the rows
    # listing them (how the pass decides whether the next reads the table)
    Py_ssize_t *listed
    const Py_ssize_t *group_of   # k: each centre's group
    const Py_ssize_t *members    # k: the centres by group (group g is gstart[g]:gstart[g+1])
    const Py_ssize_t *gstart     # ng + 1
    Py_ssize_t ng
    # Wide data: each group's centres (at most KMIX_PANEL) as one feature-major panel (group
    # g's at g * d * KMIX_PANEL) and their squared norms (padding lanes: +inf), in the data's
    # dtype, or in float32 for float64 data searched in float32 (mixed; see use_mixed).
    const void *panels
    const void *pnorm
    bint mixed
    # This pass searches the rows that fail their bounds against every group at once
    # (:func:`_yinyang_dense_rows`; wide data with AVX2+FMA, when the pass before listed
    # most groups: YINYANG_DENSE_MIN_LISTED).
    bint dense


ctypedef fused SearchBounds:
    HamerlyBounds
    YinyangBounds


cdef inline void _add_row(const Moves *mv, const floating *x, Py_ssize_t d, Py_ssize_t j,
                          double w) noexcept nogil:
    """Add the row x with weight w (negative: take it out) to the block's sums of cluster
    j; the block's first row of cluster j writes them (lazily written sums, mv.touched)."""
    cdef double *row = mv.bsum + j * d
    if mv.touched != NULL and not mv.touched[j]:
        mv.touched[j] = 1
        add_scaled(row, x, w, d, True)
        mv.bw[j] = w
        return
    add_scaled(row, x, w, d, False)
    mv.bw[j] += w


cdef inline void _move_row(const Moves *mv, const floating *x, Py_ssize_t d, Py_ssize_t old,
                           Py_ssize_t new, double wi) noexcept nogil:
    """Move a row's weighted values and weight from cluster `old` (if any) to cluster `new`
    (x w - x w' = x w + x (-w'): the same sums as subtracting)."""
    if old >= 0:
        _add_row(mv, x, d, old, -wi)
    _add_row(mv, x, d, new, wi)


cdef inline unsigned char *_lazy_sums(Blocks *blk, Py_ssize_t k) noexcept nogil:
    """With update, the blocks' sums are written by each cluster's first row instead of
    zeroed first (Blocks.touched: a bound pass moves few rows, its blocks' k x d sums cost
    more to clear and add than the moves); returns the flags to free after reduce_blocks
    (NULL without update, or out of memory: then the blocks are zeroed)."""
    blk.touched = NULL
    if blk.update:
        blk.touched = <unsigned char*>calloc(blk.nb * k, sizeof(unsigned char))
    return blk.touched


cdef inline Py_ssize_t _relabel(int *label, Py_ssize_t a, const floating *x, Py_ssize_t d,
                                double wi, const Moves *mv) noexcept nogil:
    """Give the row x (weight wi) the label a; if that changes its cluster and the pass
    updates, move it between the block's sums. Returns 1 if the label changed, else 0."""
    if label[0] == a:
        return 0
    if mv.update:
        _move_row(mv, x, d, label[0], a, wi)
    label[0] = <int>a
    return 1


cdef inline double _expansion_error(const Centers *cen, double xnorm) noexcept nogil:
    """Rounding bound of the partial distances of a row (squared norm xnorm) plus the row's
    squared norm: scale (3 cmax + x) + gamma x, as 2 (c + sqrt(x c)) <= 3 c + x (AM-GM, no
    square root per row), i.e. err0 + err1 x (see make_centers)."""
    return cen.err0 + cen.err1 * xnorm


cdef inline double _expansion_upper(const Centers *cen, double xnorm, double best,
                                    double err) noexcept nogil:
    """Upper bound on a searched row's distance to its winner from the expansion: the row's
    squared norm plus the winner's partial distance, widened by their rounding bound err
    (clamped: a rounded sum may dip below 0 where the true distance is 0)."""
    cdef double sa = xnorm + best + err
    return dist_up(sa if sa > 0 else 0.0, cen.gamma)


cdef inline const floating *_rows_to_search(const floating *X, Py_ssize_t d, Py_ssize_t s,
                                            Py_ssize_t m, const Py_ssize_t *idx,
                                            Py_ssize_t nfull, floating *G) noexcept nogil:
    """The rows a full search reads: the chunk X[s:s + m] itself when all of it failed its
    bounds (the first pass), else the failed rows idx[:nfull] copied into G."""
    cdef Py_ssize_t q
    if nfull == m:
        return X + s * d
    for q in range(nfull):
        memcpy(G + q * d, X + idx[q] * d, d * sizeof(floating))
    return G


# --------------------------------------------------------------------------------------------
# The search skeleton of Hamerly and Yinyang
# --------------------------------------------------------------------------------------------
cdef Py_ssize_t _search_block(const floating *X, const Rows *rows, const Centers *cen,
                              SearchBounds *bd, const Blocks *blk, Py_ssize_t b,
                              Search *sr) noexcept nogil:
    """Block b of a Hamerly or Yinyang pass; returns how many labels changed.

    Chunk by chunk: each row's bounds are moved with the centres and tested, then the rows
    that fail get the direct distance to their own centre and are tested again (the
    algorithm's rules, :func:`_hamerly_moved` / :func:`_yinyang_moved` and
    :func:`_hamerly_fails` / :func:`_yinyang_fails`; both filters compact the failing rows
    without a data-dependent branch, which would mispredict often); the rows that still fail
    are searched in full, against all the centres tile by tile (gemm or the fused loops),
    each tile folded into the rows' best values (:func:`_hamerly_scan` /
    :func:`_yinyang_scan`); then each searched row gets its label and new bounds
    (:func:`_hamerly_settle` / :func:`_yinyang_settle`); Yinyang's rows of wide data never
    are (its group filter examines their groups, :func:`_yinyang_wide_rows`).
    """
    cdef Py_ssize_t d = rows.d, k = cen.k
    cdef Py_ssize_t start = b * blk.size, end = imin(rows.n, (b + 1) * blk.size)
    cdef Py_ssize_t s, m, i, q, j0, kt, nmoved, nfull, ng, changed = 0
    cdef const floating *S = <const floating*>cen.S
    cdef const floating *ST = <const floating*>cen.ST
    cdef const floating *snorm = <const floating*>cen.snorm
    cdef floating *D = <floating*>sr.D
    cdef const floating *search
    cdef double u, bound
    cdef bint fails
    cdef Moves mv = block_moves(blk, b, k, d)
    cdef Py_ssize_t listed[2]
    # Local copies of the pass's descriptors: a store through the row arrays (upper, lower,
    # labels, the chunk's idx/bound) cannot alias a local whose address stays in this frame,
    # so the compiler keeps their fields in registers instead of reloading them every row.
    cdef Rows rw = rows[0]
    cdef Centers cn = cen[0]
    cdef SearchBounds bnd = bd[0]
    if SearchBounds is HamerlyBounds:
        ng = 1
    else:
        ng = bnd.ng
    listed[0] = listed[1] = 0
    s = start
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        # The bounds moved with the centres (rows without a label fail).
        # (The bound goes through a local: tested from the array it was just stored to, it
        # put a store-to-load forwarding on the loop's chain through nmoved.)
        nmoved = 0
        for i in range(s, s + m):
            if SearchBounds is HamerlyBounds:
                u = _hamerly_moved(i, &bnd, &bound)
            else:
                u = _yinyang_moved(i, &bnd, &bound)
            sr.bound[nmoved] = bound
            sr.idx[nmoved] = i
            nmoved += <Py_ssize_t>(u >= bound)
        # The direct distance to the own centre (and Yinyang's group filter).
        nfull = 0
        for q in range(nmoved):
            i = sr.idx[q]
            if SearchBounds is HamerlyBounds:
                fails = _hamerly_fails(X + i * d, i, &cn, &bnd, sr.bound[q])
            else:
                fails = _yinyang_fails(X + i * d, i, &rw, &cn, &bnd, sr, sr.bound[q], &mv,
                                       &changed)
            sr.idx[nfull] = i
            nfull += <Py_ssize_t>fails
        if nfull == 0:
            s += m
            continue
        if SearchBounds is YinyangBounds and cn.use_gemm:
            if sr.XT != NULL and nfull >= YINYANG_DENSE_MIN_ROWS:
                changed += _yinyang_dense_rows(X, &rw, &cn, &bnd, sr, s, m, nfull, &mv, listed)
            else:
                changed += _yinyang_wide_rows(X, &rw, &cn, &bnd, sr, nfull, &mv, listed)
            s += m
            continue
        search = _rows_to_search(X, d, s, m, sr.idx, nfull, <floating*>sr.G)
        _start_search(&bnd, sr, nfull, <floating*>sr.F1, <floating*>sr.F2)
        j0 = 0
        if SearchBounds is HamerlyBounds and not cn.use_gemm:
            # Narrow data: the best two of every searched row in one pass (no tiles).
            _narrow_best_two(search, nfull, d, &cn, sr)
            j0 = k
        elif SearchBounds is HamerlyBounds and floating is double and cn.S32 != NULL:
            _wide_mixed_best_two(search, nfull, d, &cn, sr)
            j0 = k
        elif SearchBounds is HamerlyBounds and cn.P != NULL and _wide_best_two(search, nfull, d,
                                                                             &cn, sr):
            j0 = k
        while j0 < k:
            kt = imin(TILE_CENTERS, k - j0)
            partial_dists(search, nfull, d, S + j0 * d, ST + j0, k, snorm + j0, kt, D,
                          cn.use_gemm)
            for q in range(nfull):
                if SearchBounds is HamerlyBounds:
                    _hamerly_scan(D + q * kt, kt, j0, &sr.best1[q], &sr.best2[q], &sr.arg1[q])
                else:
                    _yinyang_scan(D + q * kt, kt, j0, &bnd, <floating*>sr.F1 + q,
                                  <floating*>sr.F2 + q, sr.P1 + q)
            j0 += kt
        if SearchBounds is HamerlyBounds:
            for q in range(nfull):
                i = sr.idx[q]
                changed += _hamerly_settle(X + i * d, i, &rw, &cn, &bnd, sr.best1[q],
                                           sr.best2[q], sr.arg1[q], &mv)
        else:
            changed += _yinyang_settle(X, &rw, &cn, &bnd, sr, nfull, <const floating*>sr.F1,
                                       <const floating*>sr.F2, &mv)
        s += m
    if SearchBounds is YinyangBounds:
        # (written once a block: the blocks' counters share cache lines between threads)
        bnd.listed[2 * b] = listed[0]
        bnd.listed[2 * b + 1] = listed[1]
    return changed


ctypedef fused _best_t:
    # the one-pass kernels' values: the rows' dtype, or float32 for float64 rows searched so
    float
    double


cdef inline void _keep_best_two(Search *sr, const _best_t *b1, const _best_t *b2,
                                Py_ssize_t nfull) noexcept nogil:
    """The best two values of nfull rows from a one-pass kernel into sr.best1, sr.best2."""
    cdef Py_ssize_t q
    for q in range(nfull):
        sr.best1[q] = b1[q]
        sr.best2[q] = b2[q]


cdef inline void _narrow_best_two(const floating *search, Py_ssize_t nfull, Py_ssize_t d,
                                  const Centers *cen, Search *sr) noexcept nogil:
    """Hamerly's search of nfull rows on narrow data: each row's best two
    partial distances and the first closest, by the one-pass kernel (the values of
    :func:`partial_dists` and :func:`_hamerly_scan`, never stored). Float64 rows with
    cen.ST32 set are searched in float32 (rounded to float32 here; cen's error terms are
    then the mixed ones, see _kmeans_pass.use_mixed): twice the lanes of a vector."""
    cdef Py_ssize_t r
    cdef floating *f1 = <floating*>sr.F1
    cdef floating *f2 = <floating*>sr.F2
    cdef float x32[CHUNK_ROWS * GEMM_MIN_FEATURES]
    cdef float g1[CHUNK_ROWS]
    cdef float g2[CHUNK_ROWS]
    if floating is float:
        kmix_fused_argmin2_f(search, nfull, d, <const float*>cen.ST, cen.k,
                             <const float*>cen.snorm, cen.k, sr.arg1, f1, f2)
    elif cen.ST32 != NULL:
        for r in range(nfull * d):
            x32[r] = <float>search[r]
        kmix_fused_argmin2_f(x32, nfull, d, cen.ST32, cen.k, cen.snorm32, cen.k, sr.arg1, g1,
                             g2)
        _keep_best_two(sr, g1, g2, nfull)
        return
    else:
        kmix_fused_argmin2_d(search, nfull, d, <const double*>cen.ST, cen.k,
                             <const double*>cen.snorm, cen.k, sr.arg1, f1, f2)
    _keep_best_two(sr, f1, f2, nfull)


cdef inline bint _wide_best_two(const floating *search, Py_ssize_t nfull, Py_ssize_t d,
                                const Centers *cen, Search *sr) noexcept nogil:
    """Hamerly's search of nfull rows of gemm-wide data against the packed centres cen.P:
    each row's best two partial distances and the first closest by kmix_wide_argmin2 (the
    values never stored); False if it could not run (out of memory)."""
    cdef floating *f1 = <floating*>sr.F1
    cdef floating *f2 = <floating*>sr.F2
    if not wide_best_two(search, nfull, d, <const floating*>cen.P, cen.k, sr.arg1, f1, f2,
                         NULL):
        return False
    _keep_best_two(sr, f1, f2, nfull)
    return True


cdef inline void _wide_mixed_best_two(const double *search, Py_ssize_t nfull, Py_ssize_t d,
                                      const Centers *cen, Search *sr) noexcept nogil:
    """Hamerly's search of nfull float64 rows of gemm-wide data in float32 (cen.S32 set, see
    _kmeans_pass.use_mixed, whose error terms then bound the values): each row's best two
    float32 partial distances, by Lloyd's mixed_best_two."""
    cdef float g1[CHUNK_ROWS]
    cdef float g2[CHUNK_ROWS]
    mixed_best_two(search, nfull, d, cen.S32, cen.ST32, cen.snorm32, cen.P32, cen.k, True,
                   sr.X32, <float*>sr.D, g1, g2, sr.arg1)
    _keep_best_two(sr, g1, g2, nfull)


cdef inline void _start_search(SearchBounds *bd, Search *sr, Py_ssize_t nfull,
                               floating *f1, floating *f2) noexcept nogil:
    """Before the first tile: no value seen for any searched row (in any group; f1, f2:
    Yinyang's sr.F1, sr.F2)."""
    cdef Py_ssize_t q, g
    if SearchBounds is HamerlyBounds:
        for q in range(nfull):
            sr.best1[q] = INFINITY
            sr.best2[q] = INFINITY
            sr.arg1[q] = 0
    else:
        for g in range(bd.ng):
            for q in range(nfull):
                f1[g * CHUNK_ROWS + q] = INFINITY
                f2[g * CHUNK_ROWS + q] = INFINITY
                sr.P1[g * CHUNK_ROWS + q] = <int>bd.gstart[g]   # valid even if none compares


cdef void _search_pass(const floating *X, const Rows *rows, const Centers *cen,
                       SearchBounds *bd, const Blocks *blk, int n_threads) noexcept nogil:
    """All blocks of a Hamerly or Yinyang pass, in parallel (dynamic schedule), each thread
    with its own :c:type:`Search` scratch; block b's partial sums are cleared first."""
    cdef Py_ssize_t b, ng, k = cen.k, d = rows.d
    cdef Search sr
    if SearchBounds is HamerlyBounds:
        ng = 1
    else:
        ng = bd.ng
    with parallel(num_threads=n_threads):
        sr = _new_search(<floating*>malloc(CHUNK_ROWS * imin(k, TILE_CENTERS) * sizeof(floating)),
                         <floating*>malloc(CHUNK_ROWS * d * sizeof(floating)), ng)
        if cen.S32 != NULL and cen.use_gemm:
            sr.X32 = <float*>malloc(CHUNK_ROWS * d * sizeof(float))
        if SearchBounds is YinyangBounds:
            if bd.dense:
                sr.XT = malloc(CHUNK_ROWS * d * sizeof(floating))
                sr.GB = malloc(ng * 16 * sizeof(float))
                if sr.GB == NULL:
                    free(sr.XT)
                    sr.XT = NULL
        for b in prange(blk.nb, schedule='dynamic'):
            if blk.update and blk.touched == NULL:
                zero_block(blk.bsum + b * k * d, blk.bw + b * k, k, d)
            blk.bchanged[b] = _search_block(X, rows, cen, bd, blk, b, &sr)
        free(sr.D)
        free(sr.G)
        free(sr.X32)
        free(sr.best1)
        free(sr.best2)
        free(sr.arg1)
        free(sr.F1)
        free(sr.F2)
        free(sr.P1)
        free(sr.glist)
        free(sr.gbits)
        free(sr.XT)
        free(sr.GB)


cdef inline Search _new_search(floating *D, floating *G, Py_ssize_t ng) noexcept nogil:
    """A thread's search scratch around its D and G (the best values for ng groups)."""
    cdef Search sr
    sr.D = D
    sr.G = G
    sr.X32 = NULL
    sr.XT = NULL
    sr.GB = NULL
    sr.best1 = <double*>malloc(CHUNK_ROWS * ng * sizeof(double))
    sr.best2 = <double*>malloc(CHUNK_ROWS * ng * sizeof(double))
    sr.arg1 = <Py_ssize_t*>malloc(CHUNK_ROWS * ng * sizeof(Py_ssize_t))
    sr.F1 = malloc(CHUNK_ROWS * ng * sizeof(floating))
    sr.F2 = malloc(CHUNK_ROWS * ng * sizeof(floating))
    sr.P1 = <int*>malloc(CHUNK_ROWS * ng * sizeof(int))
    # Yinyang's lists of groups: a union, one row's; four rows' bitmaps and their union
    sr.glist = <Py_ssize_t*>malloc(2 * ng * sizeof(Py_ssize_t))
    sr.gbits = <uint64_t*>malloc(5 * kmix_bit_words(ng) * sizeof(uint64_t))
    return sr


# --------------------------------------------------------------------------------------------
# Hamerly (2010): one upper and one lower bound per row
# --------------------------------------------------------------------------------------------
cdef enum:
    # Centres from which Hamerly's passes on narrow float64 data search in float32
    # (_narrow_best_two; data with a row of squared norm above MIXED_MAX_NORM keeps float64).
    # china.jpg from random rows, 20 iterations, seconds, float64 / float32 search (AVX2
    # EPYC): k=8 0.040-0.043 / 0.042-0.047, k=16 0.051-0.058 / 0.052-0.055, k=32
    # 0.063-0.066 / 0.060-0.066, k=64 0.087-0.092 / 0.079-0.081. Zen 4 (AVX-512), 2026-12-04:
    # within noise up to k=64, k=128 0.115-0.127 / 0.107-0.117, k=256 0.200-0.214 /
    # 0.175-0.180 (one threshold serves both).
    HAMERLY_MIXED_MIN_CENTERS = 32


cdef inline double _hamerly_moved(Py_ssize_t i, HamerlyBounds *bd,
                                  double *bound) noexcept nogil:
    """Move row i's bounds with the centres; return its upper bound, to be tested against
    ``bound`` (its lower bound or half its centre's separation, whichever is larger). A row
    without a label returns 0 against -1: it fails."""
    cdef Py_ssize_t a = bd.labels[i]
    cdef double u, l
    if a < 0:
        bound[0] = -1.0
        return 0.0
    u = add_up(bd.upper[i], bd.shift[a])
    l = sub_down(bd.lower[i], bd.shift_max2 if a == bd.shift_arg else bd.shift_max1)
    bound[0] = l if l > bd.half_sep[a] else bd.half_sep[a]
    bd.upper[i] = u
    bd.lower[i] = l
    return u


cdef inline bint _hamerly_fails(const floating *x, Py_ssize_t i, const Centers *cen,
                                HamerlyBounds *bd, double bound) noexcept nogil:
    """Tighten the upper bound of row i, whose moved bounds failed, to its direct distance:
    whether it still fails (its label may change: the row is searched in full)."""
    cdef Py_ssize_t a = bd.labels[i]
    cdef double u = 0.0
    if a >= 0:
        u = dist_up(sq_dist(x, <const floating*>cen.C + a * cen.d, cen.d), cen.gamma)
        bd.upper[i] = u
    return u >= bound


cdef inline void _hamerly_scan(floating *Dr, Py_ssize_t kt, Py_ssize_t j0, double *b1,
                               double *b2, Py_ssize_t *j1) noexcept nogil:
    """Fold a row's partial distances Dr[:kt] to the tile of centres j0 .. j0 + kt into its
    best two values (b1, at centre j1, and b2). Two vectorised scans of the tile: its first
    minimum, then the smallest of the others (the first minimum's slot is overwritten: Dr is
    scratch)."""
    cdef Py_ssize_t j
    cdef floating f1, f2
    j = row_argmin(Dr, kt, &f1)
    if kt > 1:
        Dr[j] = INFINITY
        row_argmin(Dr, kt, &f2)
    else:
        f2 = INFINITY
    if f1 < b1[0]:
        b2[0] = b1[0] if b1[0] < f2 else f2
        b1[0] = f1
        j1[0] = j0 + j
    elif f1 < b2[0]:
        b2[0] = f1


cdef inline Py_ssize_t _hamerly_settle(const floating *x, Py_ssize_t i, const Rows *rows,
                                       const Centers *cen, HamerlyBounds *bd, double b1,
                                       double b2, Py_ssize_t a,
                                       const Moves *mv) noexcept nogil:
    """Label and bounds of a searched row i from its best two partial distances (b1 at
    centre a, b2); returns 1 if its label changed."""
    cdef Py_ssize_t d = cen.d
    cdef double sa, xn = rows.sq_norms[i]
    cdef double err = _expansion_error(cen, xn)
    if b2 - b1 <= err:
        # Within rounding: the exact rule decides; every other centre is at least as far as
        # the smallest computed value allows.
        a = exact_closest(x, <const floating*>cen.C, cen.k, d, &sa)
        bd.upper[i] = dist_up(sa, cen.gamma)
        bd.lower[i] = dist_down(xn + b1 - err, cen.gamma)
    else:
        bd.upper[i] = _expansion_upper(cen, xn, b1, err)
        bd.lower[i] = dist_down(xn + b2 - err, cen.gamma)
    return _relabel(&bd.labels[i], a, x, d, rows.weight[i], mv)


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


# --------------------------------------------------------------------------------------------
# The passes' containers
# --------------------------------------------------------------------------------------------
cdef class Bounds:
    """INOUT: the per-row bounds of a Hamerly, Elkan or Yinyang run. The arrays are the
    caller's, shared (never copied).

    Parameters
    ----------
    x_sq_norms : (n,) float64 or None, IN
        The rows' squared norms (Hamerly, Yinyang; unused by Elkan).
    upper : (n,) float64, INOUT
        Upper bound on each row's distance to its centre.
    lower : INOUT
        Hamerly: (n,) float64, a lower bound on each row's distance to every other centre;
        Elkan: (n, k) in the data's dtype, to each centre; Yinyang: (n, n_groups) float32,
        to each group's centres other than the row's own, stored with the group's drift
        when written (see kmix_group_bound in _fused.h; zeros: no bound).
    groups : (group_of, members, gstart) of intp, or None, IN
        Yinyang's groups of centres: ``group_of[j]`` is centre j's group,
        ``members[gstart[g]:gstart[g + 1]]`` lists group g.

    Attributes
    ----------
    drift : (n_groups,) float64 or None
        Yinyang's drift of each group since the bounds were created: the sum over the passes
        of the largest shift of its centres, rounded up (the passes add to it).
    passes : int
        Yinyang passes run on these bounds; a bound stored in pass p is tagged p mod
        KMIX_BOUND_SLOTS (kmix_bound_tag in _fused.h).
    net_drift : (n_groups, KMIX_BOUND_SLOTS) float32 or None
        The last Yinyang pass's table of net moves: for tag t, the drift in the last earlier
        pass p_t tagged t plus the group's largest net move of a centre since p_t, rounded
        up (a bound tagged t was stored in p_t or before: the net move since then is at most
        the one since p_t plus the drift between, so it bounds that bound's move too); the
        drift now where no earlier pass is tagged t.
    listed : float
        The share of the groups the last Yinyang pass's group filter listed, over the rows
        that went through it on wide data (1.0 before the first pass).
    ring_pass, ring_centers, ring_drift : None until the first Yinyang pass
        For each tag, the last pass tagged so (-1: none), its centres and drifts. No
        centres (None) where the copies would take more than NET_RING_BYTES: the table is
        then the drift now throughout.
    """
    cdef readonly const double[::1] x_sq_norms
    cdef readonly double[::1] upper
    cdef readonly object lower
    cdef readonly object groups
    cdef readonly object drift
    cdef readonly Py_ssize_t passes
    cdef readonly double listed
    cdef readonly object net_drift
    cdef readonly object ring_pass
    cdef readonly object ring_centers
    cdef readonly object ring_drift
    # The largest of x_sq_norms (0 without rows): whether Hamerly may search in float32.
    cdef readonly double x_max_sq_norm

    def __init__(self, x_sq_norms, double[::1] upper, lower, groups=None):
        self.x_sq_norms = np.empty(0) if x_sq_norms is None else x_sq_norms
        self.x_max_sq_norm = float(np.max(self.x_sq_norms)) if self.x_sq_norms.shape[0] else 0.0
        self.upper = upper
        self.lower = lower
        self.groups = groups
        self.drift = None if groups is None else np.zeros(len(groups[2]) - 1)
        self.passes = 0
        self.listed = 1.0
        self.net_drift = self.ring_pass = self.ring_centers = self.ring_drift = None

    cdef int check(self, Py_ssize_t n, bint norms, tuple lower_shape) except -1:
        if self.upper.shape[0] != n or (norms and self.x_sq_norms.shape[0] != n):
            raise ValueError("upper and x_sq_norms must have one value per row")
        if np.shape(self.lower) != lower_shape:
            raise ValueError(f"lower must have shape {lower_shape}, got {np.shape(self.lower)}")
        return 0


cdef Clustering _clustering(clusters, floating[:, ::1] CT, floating[::1] cnorm, Py_ssize_t n,
                            Py_ssize_t k, Py_ssize_t d, bint update,
                            const double **weight) except *:
    """The C view of a run's :class:`kmix._core._lloyd.Clusters` (read through its
    attributes: the type lives in another extension module), checked against a pass over n
    rows, k centres and d features; ``weight`` receives its sample weights. CT and cnorm are
    its workspace's, typed by the caller. The pointers stay valid while ``clusters`` lives."""
    cdef Clustering cl
    cdef const double[::1] sample_weight = clusters.sample_weight
    cdef int[::1] labels = clusters.labels
    cdef double[:, ::1] sums = clusters.sums
    cdef double[::1] wsum = clusters.weight_in_clusters
    workspace = clusters.workspace
    cdef double[:, :, ::1] bsum = workspace.bsum
    cdef double[:, ::1] bw = workspace.bw
    cdef Py_ssize_t[::1] bchanged = workspace.bchanged
    if labels.shape[0] != n or sums.shape[0] != k or sums.shape[1] != d:
        raise ValueError("the clusters do not match the data and the centres")
    check_block_buffers(bsum, bchanged.shape[0], k, d, update)
    weight[0] = &sample_weight[0]
    cl.labels = &labels[0]
    cl.sums = &sums[0, 0]
    cl.wsum = &wsum[0]
    cl.CT = &CT[0, 0]
    cl.cnorm = &cnorm[0]
    cl.blk = make_blocks(n, bchanged.shape[0], update, &bsum[0, 0, 0], &bw[0, 0], &bchanged[0])
    return cl


def hamerly_pass_dense(const floating[:, ::1] X, const floating[:, ::1] centers,
                       const double[::1] shift, const double[::1] half_sep, Bounds bounds,
                       clusters, bint update, int n_threads):
    """One Hamerly assignment pass (Hamerly, 2010): one upper and one lower bound per row;
    the rows whose bounds fail are searched in full.

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    centers : (k, d) in X's dtype, IN
        The centres of this pass.
    shift : (k,) float64, IN
        How far each centre moved since the bounds were last valid, rounded up.
    half_sep : (k,) float64, IN
        Half the distance from each centre to its nearest other centre, rounded down.
    bounds : Bounds, INOUT
        The run's bounds (rows with ``labels < 0`` get a full search).
    clusters : kmix._core._lloyd.Clusters, INOUT
        The run's labels; with ``update``, its sums and weight_in_clusters are updated
        incrementally by the rows that change cluster.
    update : bool, IN
    n_threads : int, IN

    Returns
    -------
    How many labels changed.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef floating[:, ::1] CT = clusters.workspace.CT
    cdef floating[::1] cnorm = clusters.workspace.cnorm
    cdef double[::1] lower = bounds.lower
    cdef const double *weight
    cdef unsigned char *touched = NULL
    cdef Clustering cl
    cdef Rows rows
    cdef Centers cen
    cdef HamerlyBounds bd
    cdef MixedCenters mixed
    cdef float *mbuf = NULL
    cdef floating *packed = NULL
    if n == 0:
        return 0
    bounds.check(n, True, (n,))
    cl = _clustering(clusters, CT, cnorm, n, k, d, update, &weight)
    rows = make_rows(&bounds.x_sq_norms[0], weight, n, d)
    bd.labels = cl.labels
    bd.upper = &bounds.upper[0]
    bd.lower = &lower[0]
    bd.shift = &shift[0]
    bd.half_sep = &half_sep[0]
    with nogil:
        prep_centers(&centers[0, 0], k, d, &CT[0, 0], &cnorm[0])
        _shift_summary(&shift[0], k, &bd.shift_arg, &bd.shift_max1, &bd.shift_max2)
        cen = make_centers(&centers[0, 0], &centers[0, 0], &CT[0, 0], &cnorm[0], k, d)
        # Float64 data searched in float32: narrow data from HAMERLY_MIXED_MIN_CENTERS,
        # gemm-wide data from Lloyd's threshold (_lloyd.mixed_min_centers).
        if (floating is double and bounds.x_max_sq_norm <= MIXED_MAX_NORM
                and k >= (gemm_mixed_min_centers() if cen.use_gemm
                          else HAMERLY_MIXED_MIN_CENTERS)):
            mbuf = mixed_centers(<const double*>&centers[0, 0], k, d, &mixed)
            if mbuf != NULL:
                use_mixed(&cen, &mixed)
        if cen.S32 == NULL:
            packed = wide_pack(&CT[0, 0], &cnorm[0], k, d)
            cen.P = packed
        touched = _lazy_sums(&cl.blk, k)
        _search_pass(&X[0, 0], &rows, &cen, &bd, &cl.blk, n_threads)
        free(mbuf)
        free(packed)
        if update:
            reduce_blocks(cl.blk.bsum, cl.blk.bw, cl.blk.nb, k, d, cl.sums, cl.wsum, True,
                          n_threads, touched)
        free(touched)
    return sum_counts(cl.blk.bchanged, cl.blk.nb)


cdef inline void _store_down(floating *dst, double v) noexcept nogil:
    """Store a lower bound in the data's dtype, rounded down."""
    if floating is float:
        dst[0] = <float>(v * (1.0 - 1.2e-7))
    else:
        dst[0] = v


cdef struct ElkanBounds:
    # Elkan's per-row state (INOUT) and what moves it (IN).
    int *labels              # n: closest centre, -1 if never assigned
    double *upper            # n: upper bound on the distance to the own centre
    void *lower              # n x k, data dtype: lower bound on the distance to each centre
    const double *shift      # k: how far each centre moved (rounded up)
    const double *half_sep   # k: half the distance to the nearest other centre
    const double *half_cc    # k x k: half the centre-centre distances
    # Rows of 16+ features, squared norms up to MIXED_MAX_NORM (rows and centres): the
    # distances in float32 arithmetic (f32, kmix_sqdist32_f), of float32 rows themselves or
    # of the float32 copies X32 (n x d) and C32 (k x d) of float64 rows and centres (X32 NULL
    # otherwise). Their relative error (at most g) and absolute error (at most sabs, where
    # values are subnormal; dabs on the distances, and urow ||x|| more per row for the
    # copies' rounding, see _elkan_row_abs) widen the bounds and the comparisons
    # (_elkan_closer). Without f32: sq_dist, g its bound, dabs 1e-145.
    bint f32
    double g
    double sabs
    double dabs
    const float *X32
    const float *C32
    double urow
    # n: each row's sq_dist to its final centre (OUT; NULL: not wanted), for the inertia of
    # a run's last pass without another pass over the rows.
    double *dist_out


# float32's unit roundoff and its smallest subnormal (the bounds of Elkan's float32 distances).
cdef double _FLOAT32_UNIT = 2.0 ** -24
cdef double _FLOAT32_TRUE_MIN = 1.401298464324817e-45


cdef inline double _elkan_dist(const floating *x, const floating *C, Py_ssize_t i,
                               Py_ssize_t j, Py_ssize_t d, const ElkanBounds *bd) noexcept nogil:
    """Squared distance of row i (x) to centre j of C: where bd.f32, kmix_sqdist32_f of the
    float32 rows or of the float32 copies of float64 rows and centres; else sq_dist."""
    if bd.f32:
        if floating is float:
            return kmix_sqdist32_f(x, C + j * d, d)
        else:
            return kmix_sqdist32_f(bd.X32 + i * d, bd.C32 + j * d, d)
    return sq_dist(x, C + j * d, d)


cdef inline double _elkan_row_abs(const Rows *rows, Py_ssize_t i,
                                  const ElkanBounds *bd) noexcept nogil:
    """The absolute error term of row i's distances: bd.dabs, plus for float32 copies of
    float64 rows the rounding of the row, ||x' - x|| <= u ||x|| (urow: u widened for the
    float64 square root of the row's squared norm)."""
    if bd.X32 != NULL:
        return bd.dabs + bd.urow * sqrt(rows.sq_norms[i])
    return bd.dabs


cdef inline double _elkan_up(double s, const ElkanBounds *bd, double dabs) noexcept nogil:
    """An upper bound on the true distance whose squared distance _elkan_dist gave as s
    (dabs: the row's absolute error term, _elkan_row_abs)."""
    return sqrt(s) * (1.0 + bd.g) + dabs


cdef inline double _elkan_down(double s, const ElkanBounds *bd, double dabs) noexcept nogil:
    """A lower bound (>= 0) on the true distance whose squared distance was s."""
    cdef double v = sqrt(s) * (1.0 - bd.g) - dabs
    return v if v > 0 else 0.0


cdef inline bint _elkan_closer(const floating *x, const floating *C, Py_ssize_t d, Py_ssize_t j,
                               double sj, Py_ssize_t a, double sa, const ElkanBounds *bd,
                               double g, double dabs) noexcept nogil:
    """Whether centre j wins over centre a for row x under the exact assignment rule, from
    their _elkan_dist values sj, sa: on the float32 paths as computed when their distances'
    bounds do not overlap, otherwise by :func:`closer` on their sq_dist values (g: its
    bound; exact_sign when those are within rounding too)."""
    if bd.f32:
        if _elkan_up(sj, bd, dabs) < _elkan_down(sa, bd, dabs):
            return True
        if _elkan_down(sj, bd, dabs) > _elkan_up(sa, bd, dabs):
            return False
        return closer(x, C, d, j, sq_dist(x, C + j * d, d), a, sq_dist(x, C + a * d, d), g)
    return closer(x, C, d, j, sj, a, sa, g)


cdef Py_ssize_t _elkan_block(const floating *X, const Rows *rows, const Centers *cen,
                             ElkanBounds *bd, const Blocks *blk, Py_ssize_t b) noexcept nogil:
    """Block b of an Elkan pass: each row's bounds move with the centres, and only the centres
    that they do not rule out get a direct distance. Returns how many labels changed."""
    cdef Py_ssize_t i, j, a, old, d = rows.d, k = cen.k
    cdef Py_ssize_t changed = 0
    cdef double u, sa, sj, dabs
    cdef double g = cen.gamma
    cdef bint tight
    cdef const floating *C = <const floating*>cen.C
    cdef const double *half_cc = bd.half_cc
    cdef const floating *x
    cdef floating *lb
    cdef Moves mv = block_moves(blk, b, k, d)
    for i in range(b * blk.size, imin(rows.n, (b + 1) * blk.size)):
        x = X + i * d
        dabs = _elkan_row_abs(rows, i, bd)
        lb = <floating*>bd.lower + i * k
        old = bd.labels[i]
        a = old
        if a < 0:
            a = 0
            sa = _elkan_dist(x, C, i, 0, d, bd)
            u = _elkan_up(sa, bd, dabs)
            _store_down(&lb[0], _elkan_down(sa, bd, dabs))
            for j in range(1, k):
                # Centre j is strictly farther than a when half their distance exceeds u.
                if u >= half_cc[a * k + j]:
                    sj = _elkan_dist(x, C, i, j, d, bd)
                    _store_down(&lb[j], _elkan_down(sj, bd, dabs))
                    if _elkan_closer(x, C, d, j, sj, a, sa, bd, g, dabs):
                        a = j
                        sa = sj
                        u = _elkan_up(sj, bd, dabs)
                else:
                    lb[j] = 0
        else:
            u = add_up(bd.upper[i], bd.shift[a])
            for j in range(k):
                _store_down(&lb[j], sub_down(lb[j], bd.shift[j]))
            if u >= bd.half_sep[a]:
                tight = False
                for j in range(k):
                    if j != a and u >= lb[j] and u >= half_cc[a * k + j]:
                        if not tight:
                            sa = _elkan_dist(x, C, i, a, d, bd)
                            u = _elkan_up(sa, bd, dabs)
                            _store_down(&lb[a], _elkan_down(sa, bd, dabs))
                            tight = True
                            if not (u >= lb[j] and u >= half_cc[a * k + j]):
                                continue
                        sj = _elkan_dist(x, C, i, j, d, bd)
                        _store_down(&lb[j], _elkan_down(sj, bd, dabs))
                        if _elkan_closer(x, C, d, j, sj, a, sa, bd, g, dabs):
                            a = j
                            sa = sj
                            u = _elkan_up(sj, bd, dabs)
        bd.upper[i] = u
        if bd.dist_out != NULL:
            bd.dist_out[i] = sq_dist(x, C + a * d, d)
        changed += _relabel(&bd.labels[i], a, x, d, rows.weight[i], &mv)
    return changed


def elkan_pass_dense(const floating[:, ::1] X, const floating[:, ::1] centers,
                     const double[::1] shift, const double[::1] half_sep,
                     const double[:, ::1] half_cc, Bounds bounds, clusters, bint update,
                     int n_threads, const float[:, ::1] X32=None, double[::1] sq_dists=None):
    """One Elkan assignment pass (Elkan, 2003): one lower bound per (row, centre), kept in the
    data's dtype as scikit-learn does, moved with ``shift`` inside the pass; only the centres
    that the bounds and half the centre-centre distances do not rule out get a distance.

    Parameters as :func:`hamerly_pass_dense`, and ``half_cc`` : (k, k) float64, IN, half the
    centre-centre distances rounded down; ``X32`` : (n, d) float32 or None, IN, float64 X
    rounded to float32: its distances, in float32 arithmetic, then drive the bounds (their
    error widens them; see ElkanBounds), where X has 16+ features and rows and centres of
    squared norms up to MIXED_MAX_NORM (the bounds need ``bounds.x_sq_norms``);
    ``sq_dists`` : (n,) float64 or None, OUT, each row's squared distance to its centre after
    the pass, as :func:`kmix._core._lloyd.sq_dist_to_assigned_dense` gives it (the inertia of
    a run's last pass, without another pass over X).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0], b
    cdef floating[:, ::1] CT = clusters.workspace.CT
    cdef floating[::1] cnorm = clusters.workspace.cnorm
    cdef floating[:, ::1] lower = bounds.lower
    cdef const double *weight
    cdef unsigned char *touched = NULL
    cdef Clustering cl
    cdef Rows rows
    cdef Centers cen
    cdef ElkanBounds bd
    cdef float[:, ::1] C32
    cdef double cmax
    if n == 0:
        return 0
    bounds.check(n, False, (n, k))
    cl = _clustering(clusters, CT, cnorm, n, k, d, update, &weight)
    rows = make_rows(&bounds.x_sq_norms[0] if bounds.x_sq_norms.shape[0] == n else NULL,
                     weight, n, d)
    cen.C = &centers[0, 0]
    cen.k = k
    cen.d = d
    cen.gamma = direct_gamma(d)
    cmax = max_sq_norm(&centers[0, 0], k, d)
    bd.f32 = (d >= GEMM_MIN_FEATURES and (floating is float or X32 is not None)
              and bounds.x_sq_norms.shape[0] == n and bounds.x_max_sq_norm <= MIXED_MAX_NORM
              and cmax <= MIXED_MAX_NORM)
    bd.g = cen.gamma
    bd.sabs = 0.0
    bd.dabs = 1e-145
    bd.X32 = NULL
    bd.urow = 0.0
    if bd.f32:
        # float32 distances: relative error gamma_{d+2} (float32), widened as direct_gamma
        # widens sq_dist's for the square root and product of the bounds; subnormal terms
        # and sums off by at most 2^-150 each, d + 32 of them.
        bd.g = kmix_gamma(d + 6, True)
        bd.sabs = (d + 64) * _FLOAT32_TRUE_MIN
        bd.dabs = sqrt(bd.sabs) + 1e-145
    if floating is double and bd.f32:
        if X32.shape[0] != n or X32.shape[1] != d:
            raise ValueError("X32 must be X in float32")
        # ||x - c|| differs from ||x' - c'|| by at most ||x' - x|| + ||c' - c|| <= u (||x|| +
        # ||c||) for the float32 roundings x', c' (plus sqrt(d) 2^-149 each for subnormals);
        # ||x' - c'|| is taken in float32 arithmetic as for float32 rows (g, sabs).
        C32 = np.asarray(centers, dtype=np.float32)
        bd.X32 = &X32[0, 0]
        bd.C32 = &C32[0, 0]
        bd.urow = _FLOAT32_UNIT * (1.0 + 1e-6)
        bd.dabs = (sqrt(bd.sabs) + bd.urow * sqrt(cmax)
                   + 2.0 * sqrt(<double>d) * _FLOAT32_TRUE_MIN + 1e-145)
    bd.labels = cl.labels
    bd.upper = &bounds.upper[0]
    bd.lower = &lower[0, 0]
    bd.shift = &shift[0]
    bd.half_sep = &half_sep[0]
    bd.half_cc = &half_cc[0, 0]
    bd.dist_out = NULL
    if sq_dists is not None:
        if sq_dists.shape[0] != n:
            raise ValueError("sq_dists must have one value per row of X")
        bd.dist_out = &sq_dists[0]
    with nogil:
        touched = _lazy_sums(&cl.blk, k)
        for b in prange(cl.blk.nb, schedule='dynamic', num_threads=n_threads):
            if update and touched == NULL:
                zero_block(cl.blk.bsum + b * k * d, cl.blk.bw + b * k, k, d)
            cl.blk.bchanged[b] = _elkan_block(&X[0, 0], &rows, &cen, &bd, &cl.blk, b)
        if update:
            reduce_blocks(cl.blk.bsum, cl.blk.bw, cl.blk.nb, k, d, cl.sums, cl.wsum, True,
                          n_threads, touched)
        free(touched)
    return sum_counts(cl.blk.bchanged, cl.blk.nb)


# --------------------------------------------------------------------------------------------
# Yinyang (Ding et al., 2015): one lower bound per row and group of centres
# --------------------------------------------------------------------------------------------
cdef inline double _yinyang_moved(Py_ssize_t i, YinyangBounds *bd,
                                  double *glob) noexcept nogil:
    """The global filter for row i: move its upper bound with its centre and return it, to
    be tested against ``glob``, the smallest of its group bounds now (moved by reading them
    against the groups' drifts, kmix_group_floor). A row without a label returns 0 against
    -1: it fails."""
    cdef Py_ssize_t a = bd.labels[i]
    cdef double u
    if a < 0:
        glob[0] = -1.0
        return 0.0
    u = add_up(bd.upper[i], bd.shift[a])
    bd.upper[i] = u
    glob[0] = kmix_group_floor(bd.lower + i * bd.ng, bd.drift_up, bd.ng)
    return u


cdef bint _yinyang_fails(const floating *x, Py_ssize_t i, const Rows *rows,
                         const Centers *cen, YinyangBounds *bd, Search *sr, double glob,
                         const Moves *mv, Py_ssize_t *changed) noexcept nogil:
    """Row i failed the global filter (``glob``: its smallest group bound): tighten its upper
    bound to the direct distance and test again. On narrow data a row that still fails goes
    through the group filter here, by exact distances (:func:`_yinyang_examine`; a changed
    label counts in ``changed``). Whether the row is to be searched further: on narrow data
    its rows without a label (in full), on wide data every row that still fails (its upper
    bound stored; by the groups' panels, :func:`_yinyang_wide_rows`)."""
    cdef Py_ssize_t a = bd.labels[i], best, d = cen.d
    cdef double u = INFINITY, sa
    cdef float *lb = bd.lower + i * bd.ng
    if a < 0:
        return True
    sa = sq_dist(x, <const floating*>cen.C + a * d, d)
    u = dist_up(sa, cen.gamma)
    bd.upper[i] = u
    if u < glob:
        return False
    if cen.use_gemm:
        return True
    # Distances are cheap: examine only the groups whose bound fails (the group filter)
    # instead of a full search.
    best = _yinyang_examine(x, cen, bd, sr, a, u, sa, lb, &u)
    changed[0] += _relabel(&bd.labels[i], best, x, d, rows.weight[i], mv)
    bd.upper[i] = u
    return False


cdef Py_ssize_t _yinyang_examine(const floating *x, const Centers *cen,
                                 const YinyangBounds *bd, Search *sr, Py_ssize_t a, double u,
                                 double sa, float *lb, double *u_out) noexcept nogil:
    """Yinyang's group filter for one row: search the groups whose bound (lb[g] as stored)
    does not exceed u (an upper bound on the distance to the current centre a, whose squared
    distance is sa), refresh their bounds and return the closest centre by the exact
    assignment rule; an upper bound on its distance goes to u_out. Uses the first ng entries
    of the search scratch."""
    cdef Py_ssize_t g, jj, j, j1, best = a, d = cen.d
    cdef const floating *C = <const floating*>cen.C
    cdef double gam = cen.gamma
    cdef double *gm1 = sr.best1
    cdef double *gm2 = sr.best2
    cdef Py_ssize_t *gj1 = sr.arg1
    cdef double v, m1, m2, bestv = sa
    for g in range(bd.ng):
        if kmix_group_bound_best(lb[g], bd.drift_up[g], bd.dnet, g) > u:
            gm1[g] = -1.0   # not examined
            continue
        m1 = INFINITY
        m2 = INFINITY
        j1 = -1
        for jj in range(bd.gstart[g], bd.gstart[g + 1]):
            j = bd.members[jj]
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
    for g in range(bd.ng):
        if gm1[g] >= 0:
            # The winner of a group need not have its smallest computed value (exact ties).
            v = gm2[g] if gj1[g] == best else (gm1[g] if gm1[g] < gm2[g] else gm2[g])
            lb[g] = kmix_group_bound_store(dist_down(v, gam), bd.drift[g], bd.slot)
    # The old centre becomes one of its group's other centres: the group's bound is stored
    # again now, the least of its bound now and the distance to the old centre. (Never kept
    # as stored: its net moves count from the pass that stored it, when the old centre was
    # not among those it bounds. An unexamined group's bound now exceeds u, itself at least
    # that distance, so in practice the distance is stored.)
    g = bd.group_of[a]
    if best != a and gm1[g] < 0:
        v = dist_down(sa, gam)
        m1 = kmix_group_bound_best(lb[g], bd.drift_up[g], bd.dnet, g)
        lb[g] = kmix_group_bound_store(v if v < m1 else (m1 if m1 > 0 else 0.0), bd.drift[g],
                                       bd.slot)
    u_out[0] = dist_up(bestv, gam)
    return best


cdef inline void _yinyang_scan(const floating *Dr, Py_ssize_t kt, Py_ssize_t j0,
                               const YinyangBounds *bd, floating *r1, floating *r2,
                               int *rj) noexcept nogil:
    """Fold a row's partial distances Dr[:kt] to the tile of centres j0 .. j0 + kt (in search
    order: sorted by group, so the tile is a few runs of one group each) into its best two
    values per group (r1[g * CHUNK_ROWS] at position rj[g * CHUNK_ROWS], r2[g * CHUNK_ROWS]);
    ties to the lower centre index (the narrow data's full search; wide data's is
    :func:`group_fold`)."""
    cdef Py_ssize_t j = 0, jj, g, seg_end, jb
    cdef const Py_ssize_t *members = bd.members
    cdef floating v, m1, m2
    while j < kt:
        g = bd.group_of[members[j0 + j]]
        seg_end = imin(bd.gstart[g + 1] - j0, kt)
        m1 = r1[g * CHUNK_ROWS]
        m2 = r2[g * CHUNK_ROWS]
        jb = rj[g * CHUNK_ROWS]
        for jj in range(j, seg_end):
            v = Dr[jj]
            if v < m1 or (v == m1 and members[j0 + jj] < members[jb]):
                m2 = m1
                m1 = v
                jb = j0 + jj
            elif v < m2:
                m2 = v
        r1[g * CHUNK_ROWS] = m1
        r2[g * CHUNK_ROWS] = m2
        rj[g * CHUNK_ROWS] = <int>jb
        j = seg_end


cdef Py_ssize_t _yinyang_settle(const floating *X, const Rows *rows, const Centers *cen,
                                YinyangBounds *bd, const Search *sr, Py_ssize_t nfull,
                                const floating *F1, const floating *F2,
                                const Moves *mv) noexcept nogil:
    """Labels and group bounds of the nfull searched rows sr.idx[:nfull] from their best two
    partial distances per group (F1 = sr.F1 at positions sr.P1, F2 = sr.F2, group-major);
    returns how many labels changed. Group by group across the rows (loops the compiler
    vectorises): each row's smallest value over the groups and the next; a row whose two
    are within the expansion's rounding bound (exact ties among the groups' values included,
    so that the strict < here never has to choose between equal values) is decided by the
    exact rule, and its group bounds come from each group's smallest value (which bounds all
    its centres); the others' from the values without the winner's."""
    cdef const int *P1 = sr.P1
    cdef const floating *C = <const floating*>cen.C
    cdef double bv[CHUNK_ROWS]
    cdef double sv[CHUNK_ROWS]
    cdef double er[CHUNK_ROWS]
    cdef double xq[CHUNK_ROWS]
    cdef int jbq[CHUNK_ROWS]
    cdef int ex[CHUNK_ROWS]
    cdef Py_ssize_t q, g, o, i, best, ng = bd.ng, changed = 0, d = cen.d
    cdef double v, f1, sa, gam = cen.gamma
    cdef bint lt
    for q in range(nfull):
        bv[q] = F1[q]
        sv[q] = F2[q]
        jbq[q] = P1[q]
    for g in range(1, ng):
        o = g * CHUNK_ROWS
        for q in range(nfull):
            f1 = F1[o + q]
            lt = f1 < bv[q]
            v = F2[o + q] if lt else f1
            sv[q] = (bv[q] if bv[q] < v else v) if lt else (sv[q] if sv[q] < v else v)
            jbq[q] = P1[o + q] if lt else jbq[q]
            bv[q] = f1 if lt else bv[q]
    for q in range(nfull):
        i = sr.idx[q]
        xq[q] = rows.sq_norms[i]
        er[q] = _expansion_error(cen, xq[q])
        ex[q] = sv[q] - bv[q] <= er[q]
        if ex[q]:
            best = exact_closest(X + i * d, C, cen.k, d, &sa)
            bd.upper[i] = dist_up(sa, gam)
        else:
            best = bd.members[jbq[q]]
            bd.upper[i] = _expansion_upper(cen, xq[q], bv[q], er[q])
        changed += _relabel(&bd.labels[i], best, X + i * d, d, rows.weight[i], mv)
    for g in range(ng):
        o = g * CHUNK_ROWS
        for q in range(nfull):
            v = F2[o + q] if (P1[o + q] == jbq[q] and not ex[q]) else F1[o + q]
            bd.lower[sr.idx[q] * ng + g] = kmix_group_bound_store(
                dist_down(xq[q] + v - er[q], gam), bd.drift[g], bd.slot)
    return changed


cdef enum:
    # Four rows share one group filter (kmix_groups_min4_f over the union of their failing
    # groups) when their own lists hold more than this many times the union's groups, over 2
    # (a group costs the four rows together about twice what it costs one row alone:
    # measured 5.4 against 10.6 ns per row and group, 32 features, Zen 4).
    YINYANG_SHARED_GROUPS_X2 = 4


cdef inline void _group_test(const YinyangBounds *bd, Py_ssize_t i, float *u32,
                             Py_ssize_t *ga) noexcept nogil:
    """What row i's group bounds are tested against (kmix_groups_failing): its upper bound
    rounded up to float32 and its centre's group, which it always examines (+inf and -1 for
    a row without a label: every group)."""
    cdef Py_ssize_t a = bd.labels[i]
    u32[0] = kmix_float_up(bd.upper[i]) if a >= 0 else INFINITY
    ga[0] = bd.group_of[a] if a >= 0 else -1


cdef Py_ssize_t _yinyang_wide_rows(const floating *X, const Rows *rows, const Centers *cen,
                                   YinyangBounds *bd, Search *sr, Py_ssize_t nfull,
                                   const Moves *mv, Py_ssize_t *listed) noexcept nogil:
    """Yinyang's group filter for the rows sr.idx[:nfull] of wide data that failed their
    bounds (upper bounds tightened); returns how many labels changed. Four at a time, the
    rows examine the union of their failing groups together (:func:`kmix_groups_min4_f`:
    each panel loaded once for the four) when that union is small enough against their own
    lists (YINYANG_SHARED_GROUPS_X2), in float32 (float32 data, or float64 data searched so);
    the others, and the last nfull mod 4, alone (:func:`_yinyang_wide_row`). A row that
    examines groups beyond its own gets their exact values: its bounds only tighten. The
    groups the rows list (their own lists) and the rows are added to listed[0], listed[1]."""
    cdef Py_ssize_t q = 0, r, i, ne, f, d = cen.d, changed = 0
    cdef Py_ssize_t nw = kmix_bit_words(bd.ng)
    cdef const float *lbs[4]
    cdef const float *xs[4]
    cdef float u32[4]
    cdef Py_ssize_t ga[4]
    cdef Py_ssize_t counts[4]
    cdef float *m1 = <float*>sr.F1
    cdef kmix_group_winner w[4]
    cdef bint shared = floating is float or bd.mixed
    while q < nfull:
        if shared and q + 4 <= nfull:
            for r in range(4):
                i = sr.idx[q + r]
                lbs[r] = bd.lower + i * bd.ng
                _group_test(bd, i, &u32[r], &ga[r])
            if ga[0] < 0 and ga[1] < 0 and ga[2] < 0 and ga[3] < 0:
                # four rows without a label: every group
                for f in range(bd.ng):
                    sr.glist[f] = f
                ne = counts[0] = counts[1] = counts[2] = counts[3] = bd.ng
            else:
                kmix_groups_failing_bits4(lbs, bd.drift_up, bd.dnet, bd.ng, u32, ga, sr.gbits)
                ne = kmix_bits_union4(sr.gbits, nw, sr.gbits + 4 * nw, counts)
            listed[0] += counts[0] + counts[1] + counts[2] + counts[3]
            listed[1] += 4
            if 2 * (counts[0] + counts[1] + counts[2] + counts[3]) > YINYANG_SHARED_GROUPS_X2 * ne:
                if ga[0] >= 0 or ga[1] >= 0 or ga[2] >= 0 or ga[3] >= 0:
                    kmix_bits_list(sr.gbits + 4 * nw, bd.ng, sr.glist)
                for r in range(4):
                    i = sr.idx[q + r]
                    if floating is float:
                        xs[r] = <const float*>X + i * d
                    else:
                        for f in range(d):
                            sr.X32[r * d + f] = <float>X[i * d + f]
                        xs[r] = sr.X32 + r * d
                kmix_groups_min4_f(xs, d, <const float*>bd.panels, sr.glist, ne,
                                   <const float*>bd.pnorm, m1, bd.ng)
                kmix_group_winner4_f(xs, d, <const float*>bd.panels, sr.glist, ne,
                                     <const float*>bd.pnorm, m1, bd.ng, w)
                for r in range(4):
                    i = sr.idx[q + r]
                    changed += _yinyang_wide_settle(X + i * d, i, rows, cen, bd, sr.glist, ne,
                                                    <const float*>(m1 + r * bd.ng), &w[r], mv)
            else:
                # each row alone, over its own list
                for r in range(4):
                    i = sr.idx[q + r]
                    kmix_bits_list(sr.gbits + r * nw, bd.ng, sr.glist + bd.ng)
                    changed += _yinyang_wide_row(X + i * d, i, rows, cen, bd, sr,
                                                 sr.glist + bd.ng, counts[r], mv)
            q += 4
            continue
        for r in range(imin(4, nfull - q)):
            i = sr.idx[q + r]
            _group_test(bd, i, &u32[0], &ga[0])
            ne = kmix_groups_failing(bd.lower + i * bd.ng, bd.drift_up, bd.dnet, bd.ng, u32[0],
                                     ga[0], sr.glist + bd.ng)
            listed[0] += ne
            listed[1] += 1
            changed += _yinyang_wide_row(X + i * d, i, rows, cen, bd, sr, sr.glist + bd.ng,
                                         ne, mv)
        q += 4
    return changed


cdef enum:
    # A Yinyang pass on wide data searches the rows that fail their bounds against every
    # group at once (kmix_wide_groups: the register tiles of Lloyd's wide kernel, twice the
    # multiply-adds per cycle of the group kernels) when the pass before listed at least
    # this many hundredths of the groups, and a chunk holds at least YINYANG_DENSE_MIN_ROWS
    # such rows. Normal 100k x 32, k = 1000, float32, Zen 4 (2026-12-05), min of 3 fits,
    # alternating with the commit before: passes 0-3 66-73, 60-63, 49-55, 34-37 ms -> 59-66,
    # 52-53, 51-53, 26-28 (passes 0-2 dense: the last listed 89% of the groups; its bounds,
    # all refreshed, leave pass 3 fewer to list: 19% instead of 27%); fit 0.61-0.65 s ->
    # 0.54-0.59 s. At 50, a pass 2 that listed 50.1% of the groups (with the bounds another
    # group filter left) made pass 3 dense: 47 ms instead of 25-28.
    YINYANG_DENSE_MIN_LISTED = 70
    YINYANG_DENSE_MIN_ROWS = 32


cdef Py_ssize_t _yinyang_dense_rows(const floating *X, const Rows *rows, const Centers *cen,
                                    YinyangBounds *bd, Search *sr, Py_ssize_t s, Py_ssize_t m,
                                    Py_ssize_t nfull, const Moves *mv,
                                    Py_ssize_t *listed) noexcept nogil:
    """Yinyang's dense search of the rows sr.idx[:nfull] of wide data that failed their
    bounds (upper bounds tightened; all the chunk X[s:s + m] when nfull == m): every group's
    smallest value and each row's best two over all the centres by kmix_wide_groups (in
    float32 when bd.mixed), then each row settled as by the group filter over every group
    (:func:`_yinyang_wide_settle`; the winning group's bound from the row's second smallest
    value, which bounds the others of that group too). Returns how many labels changed. The
    groups the rows' bounds fail (kmix_groups_failing; every group for a row without a
    label) and the rows are added to listed[0], listed[1], as the group filter counts them.
    """
    cdef Py_ssize_t q, f, i, p, ng = bd.ng, d = cen.d
    cdef Py_ssize_t besti[CHUNK_ROWS]
    cdef floating bv[CHUNK_ROWS]
    cdef floating sv[CHUNK_ROWS]
    cdef float bv32[CHUNK_ROWS]
    cdef float sv32[CHUNK_ROWS]
    cdef float u32
    cdef Py_ssize_t ga
    cdef const floating *src = X + s * d
    for q in range(nfull):
        i = sr.idx[q]
        _group_test(bd, i, &u32, &ga)
        if ga < 0:
            listed[0] += ng
        else:
            listed[0] += kmix_groups_failing(bd.lower + i * ng, bd.drift_up, bd.dnet, ng, u32,
                                             ga, sr.glist + ng)
    listed[1] += nfull
    for p in range(ng):
        sr.glist[p] = p
    if floating is double and bd.mixed:
        for q in range(nfull):
            i = sr.idx[q]
            for f in range(d):
                sr.X32[q * d + f] = <float>X[i * d + f]
        kmix_wide_rows_f(sr.X32, nfull, d, <float*>sr.XT)
        kmix_wide_groups_f(<const float*>sr.XT, nfull, d, <const float*>bd.panels,
                           <const float*>bd.pnorm, ng, <float*>sr.F1, ng, besti, bv32, sv32,
                           <float*>sr.GB)
        return _dense_settle(X, rows, cen, bd, sr, nfull, besti, sv32, mv)
    if nfull != m:
        src = _rows_to_search(X, d, s, m, sr.idx, nfull, <floating*>sr.G)
    if floating is float:
        kmix_wide_rows_f(src, nfull, d, <float*>sr.XT)
        kmix_wide_groups_f(<const float*>sr.XT, nfull, d, <const float*>bd.panels,
                           <const float*>bd.pnorm, ng, <float*>sr.F1, ng, besti, bv, sv,
                           <float*>sr.GB)
    else:
        kmix_wide_rows_d(src, nfull, d, <double*>sr.XT)
        kmix_wide_groups_d(<const double*>sr.XT, nfull, d, <const double*>bd.panels,
                           <const double*>bd.pnorm, ng, <double*>sr.F1, ng, besti, bv, sv,
                           <double*>sr.GB)
    return _dense_settle(X, rows, cen, bd, sr, nfull, besti, sv, mv)


cdef Py_ssize_t _dense_settle(const floating *X, const Rows *rows, const Centers *cen,
                              YinyangBounds *bd, Search *sr, Py_ssize_t nfull,
                              const Py_ssize_t *besti, const _best_t *sv,
                              const Moves *mv) noexcept nogil:
    """The rows sr.idx[:nfull] settled from the dense search's values (each group's smallest
    in sr.F1, row q's at q * ng; besti: the panel position of the first minimum; sv: the
    second smallest) as by the group filter over every group (sr.glist: the identity)."""
    cdef Py_ssize_t q, i, p, ng = bd.ng, d = cen.d, changed = 0
    cdef kmix_group_winner w
    for q in range(nfull):
        i = sr.idx[q]
        p = besti[q]
        w.t = p // KMIX_PANEL
        w.lane = <int>(p % KMIX_PANEL)
        w.second = sv[q]
        w.others = INFINITY
        changed += _yinyang_wide_settle(X + i * d, i, rows, cen, bd, sr.glist, ng,
                                        <const _best_t*>sr.F1 + q * ng, &w, mv)
    return changed


cdef Py_ssize_t _yinyang_wide_row(const floating *x, Py_ssize_t i, const Rows *rows,
                                  const Centers *cen, YinyangBounds *bd, Search *sr,
                                  const Py_ssize_t *glist, Py_ssize_t ne,
                                  const Moves *mv) noexcept nogil:
    """Yinyang's group filter for row i (x) of wide data alone, over its failing groups
    glist[:ne] (kmix_groups_failing: those whose bound does not exceed its upper bound, and
    its own centre's; every group without a label), each examined by its panel
    (:func:`groups_best`: each group's smallest partial distance, and the winning group's
    lane and second value; float64 rows in float32 when bd.mixed), then settled by
    :func:`_yinyang_wide_settle`. Returns 1 if the label changed. Uses the first ng entries
    of sr.F1 (and d of sr.X32 when mixed)."""
    cdef Py_ssize_t f, d = cen.d
    cdef kmix_group_winner w
    if floating is double:
        if bd.mixed:
            for f in range(d):
                sr.X32[f] = <float>x[f]
            groups_best(sr.X32, d, <const float*>bd.panels, glist, ne,
                        <const float*>bd.pnorm, <float*>sr.F1, &w)
            return _yinyang_wide_settle(x, i, rows, cen, bd, glist, ne, <const float*>sr.F1,
                                        &w, mv)
    groups_best(x, d, <const floating*>bd.panels, glist, ne, <const floating*>bd.pnorm,
                <floating*>sr.F1, &w)
    return _yinyang_wide_settle(x, i, rows, cen, bd, glist, ne, <const floating*>sr.F1, &w,
                                mv)


cdef Py_ssize_t _yinyang_wide_settle(const floating *x, Py_ssize_t i, const Rows *rows,
                                     const Centers *cen, YinyangBounds *bd,
                                     const Py_ssize_t *glist, Py_ssize_t ne, const _best_t *m1,
                                     const kmix_group_winner *w,
                                     const Moves *mv) noexcept nogil:
    """Row i's label, upper bound and examined groups' bounds from the group filter's values
    (m1[t]: group glist[t]'s smallest, w: the winner). The smallest wins when no other
    value is within the expansion's rounding bound of it; otherwise the exact rule decides
    over all the centres (the winner is always in an examined group: every other centre is
    farther than the upper bound). Each examined group's bound comes from its smallest value,
    the winner's from its second (all from the smallest when the exact rule decided: the
    smallest bounds the group's centres). Returns 1 if the label changed."""
    cdef Py_ssize_t t, g, jb = -1, best, d = cen.d
    cdef float *lb = bd.lower + i * bd.ng
    cdef double xn = rows.sq_norms[i], bestv = INFINITY, secv = INFINITY, err, sb, v, u
    cdef bint exact
    if w.t >= 0:
        jb = bd.gstart[glist[w.t]] + w.lane
        bestv = m1[w.t]
        # (An exact tie between groups goes to the exact rule.)
        secv = w.second if w.second < w.others else w.others
    err = _expansion_error(cen, xn)
    # (A NaN or infinite gap from overflowed values also goes to the exact rule.)
    exact = jb < 0 or not (secv - bestv > err)
    if exact:
        best = exact_closest(x, <const floating*>cen.C, cen.k, d, &sb)
        u = dist_up(sb, cen.gamma)
    else:
        best = bd.members[jb]
        u = _expansion_upper(cen, xn, bestv, err)
    if _best_t is float and ne == bd.ng:   # (glist: every group in order)
        kmix_refresh_all(m1, ne, -1 if exact else w.t, w.second, xn, err, cen.gamma,
                         bd.drift_dn, bd.slot, lb)
    elif _best_t is float:
        kmix_refresh_bounds(m1, ne, glist, -1 if exact else w.t, w.second, xn, err,
                            cen.gamma, bd.drift_dn, bd.slot, lb)
    else:
        for t in range(ne):
            v = w.second if (t == w.t and not exact) else m1[t]
            g = glist[t]
            lb[g] = kmix_group_bound_store(dist_down(xn + v - err, cen.gamma), bd.drift[g],
                                           bd.slot)
    bd.upper[i] = u
    return _relabel(&bd.labels[i], best, x, d, rows.weight[i], mv)


cdef void _fill_panels(const floating *S, const floating *snorm, Py_ssize_t d,
                       const Py_ssize_t *gstart, Py_ssize_t ng, floating *panels,
                       floating *pnorm) noexcept nogil:
    """Each group's centres (S: in search order, squared norms snorm; at most KMIX_PANEL per
    group) as one feature-major panel (:func:`groups_best`); padding lanes stay as given
    (zeros), with squared norms +inf (no padding lane is ever a group's best)."""
    cdef Py_ssize_t g, jj, t, f
    for g in range(ng):
        for t in range(KMIX_PANEL):
            jj = gstart[g] + t
            if jj < gstart[g + 1]:
                for f in range(d):
                    panels[(g * d + f) * KMIX_PANEL + t] = S[jj * d + f]
                pnorm[g * KMIX_PANEL + t] = snorm[jj]
            else:
                pnorm[g * KMIX_PANEL + t] = INFINITY


cdef enum:
    # A Yinyang pass on wide data reads the table of net moves (a gather of eight entries per
    # eight groups where a drift bound fails) only when the pass before listed at most this
    # many hundredths of the groups, the rows' bounds then tight enough for the table to
    # drop groups from the lists. Measured on normal 100k x 32, k = 1000, Zen 4: the first
    # passes list 50-100% of the groups, where the gathers cost more than they save.
    YINYANG_NET_MAX_LISTED = 30


#: Yinyang keeps each tag's last centres (KMIX_BOUND_SLOTS copies, for the net moves) while
#: they take at most this many bytes: 4 MB at k = 1000, 32 float64 features.
NET_RING_BYTES = 64 << 20


cdef void _net_drifts(const floating *C, const floating *ring, const Py_ssize_t *ring_pass,
                      const double *ring_drift, const float *drift_up,
                      const YinyangBounds *bd, Py_ssize_t k, Py_ssize_t d, double *nets,
                      float *dnet, int n_threads) noexcept nogil:
    """The pass's table of net moves (Bounds.net_drift) into dnet (ng x KMIX_BOUND_SLOTS),
    from the centres now (C, k x d) and each tag's last ones (ring, KMIX_BOUND_SLOTS x k x d,
    or NULL: the drifts now throughout). A centre's net move is the square root of a float64
    direct sum over d terms, rounded up by 4 gamma_{d+6} as the shifts are (bound_shifts;
    float32 centres' differences are exact in float64), a group's the largest of its
    centres', added to the drift then rounded up (add_up), then rounded up to float32. nets:
    scratch of KMIX_BOUND_SLOTS x k."""
    cdef Py_ssize_t s, j, f, g, jj, ng = bd.ng
    cdef double acc, diff, m
    cdef double nu = (d + 6) * 2.0 ** -53
    cdef double up = 1.0 + 4.0 * (1.0625 * nu / (1.0 - nu))
    if ring != NULL:
        for j in prange(k, schedule='static', num_threads=n_threads):
            for s in range(KMIX_BOUND_SLOTS):
                if ring_pass[s] >= 0:
                    acc = 0.0
                    for f in range(d):
                        diff = <double>C[j * d + f] - <double>ring[(s * k + j) * d + f]
                        acc = acc + diff * diff
                    nets[s * k + j] = sqrt(acc) * up
    for g in range(ng):
        for s in range(KMIX_BOUND_SLOTS):
            if ring == NULL or ring_pass[s] < 0:
                dnet[g * KMIX_BOUND_SLOTS + s] = drift_up[g]
                continue
            m = 0.0
            for jj in range(bd.gstart[g], bd.gstart[g + 1]):
                if nets[s * k + bd.members[jj]] > m:
                    m = nets[s * k + bd.members[jj]]
            dnet[g * KMIX_BOUND_SLOTS + s] = kmix_float_up(add_up(ring_drift[s * ng + g], m))


cdef int _start_net_ring(Bounds bounds, Py_ssize_t ng, Py_ssize_t k, Py_ssize_t d,
                         dtype) except -1:
    """Bounds' net-move table and ring (see Bounds), before its first Yinyang pass; after it,
    a check that the centres have the shape and dtype of the passes before."""
    if bounds.net_drift is not None:
        if np.shape(bounds.net_drift) != (ng, KMIX_BOUND_SLOTS) or (
                bounds.ring_centers is not None
                and (np.shape(bounds.ring_centers) != (KMIX_BOUND_SLOTS, k, d)
                     or bounds.ring_centers.dtype != dtype)):
            raise ValueError("these bounds were used with centres of another shape or dtype")
        return 0
    bounds.net_drift = np.empty((ng, KMIX_BOUND_SLOTS), dtype=np.float32)
    bounds.ring_pass = np.full(KMIX_BOUND_SLOTS, -1, dtype=np.intp)
    bounds.ring_drift = np.zeros((KMIX_BOUND_SLOTS, ng))
    if KMIX_BOUND_SLOTS * k * d * np.dtype(dtype).itemsize <= NET_RING_BYTES:
        bounds.ring_centers = np.empty((KMIX_BOUND_SLOTS, k, d), dtype=dtype)
    return 0


def yinyang_pass_dense(const floating[:, ::1] X, const floating[:, ::1] centers,
                       const double[::1] shift, Bounds bounds, clusters, bint update,
                       int n_threads):
    """One Yinyang assignment pass (Ding et al., 2015).

    The centres are split into groups (``bounds.groups``); ``bounds.lower[i, g]`` bounds the
    distance from row i to every centre of group g other than its own. A row is searched
    again only when its upper bound reaches the smallest group bound (the global filter).
    Then only the groups whose bound fails, and the row's own centre's group, are searched
    (the group filter): on narrow data with exact distances (rows without a label are
    searched against all the centres), on wide data (GEMM_MIN_FEATURES+ features, groups of
    at most KMIX_PANEL centres) with partial distances from each group's panel of centres
    (every group, for a row without a label). Ties go to the lowest centre index, as in
    Lloyd. On wide data, while the passes list most groups (the first ones, from centres
    far from their final places), the rows that fail are searched against every group at
    once instead (:func:`_yinyang_dense_rows`, where the CPU has AVX2 and FMA): the same
    labels, every group bound of those rows refreshed.

    A group bound is moved with the centres in two ways, the better one counting: by the
    group's drift (the sum of its largest shift over the passes since the bound was
    stored), and by its centres' net moves since then, the tag of the stored bound telling
    which pass that was (``Bounds.net_drift``). On normal 100k x 32 data with k = 1000 the
    net moves halve the groups a row examines in the later passes (passes 9 and 21: 24.6
    and 13.0 with the drift alone, 14.7 and 5.0 with both); on wide data a pass reads them
    only when the pass before listed few groups (YINYANG_NET_MAX_LISTED).

    Parameters as :func:`hamerly_pass_dense` (without ``half_sep``).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef floating[:, ::1] CT = clusters.workspace.CT
    cdef floating[::1] cnorm = clusters.workspace.cnorm
    cdef const Py_ssize_t[::1] group_of, members, gstart
    if bounds.groups is None:
        raise ValueError("a Yinyang pass needs the groups of centres (Bounds.groups)")
    group_of, members, gstart = bounds.groups
    cdef Py_ssize_t ng = gstart.shape[0] - 1
    cdef Py_ssize_t g, jj
    cdef float[:, ::1] lower = bounds.lower
    cdef double[::1] drift = bounds.drift
    cdef float[::1] drift_up = np.empty(ng, dtype=np.float32)
    cdef float[::1] drift_dn = np.empty(ng, dtype=np.float32)
    cdef double gshift
    cdef floating[:, ::1] Cp = np.ascontiguousarray(np.asarray(centers)[np.asarray(members)])
    cdef floating[::1] panels, pnorm
    cdef float[::1] panels32, pnorm32
    cdef float *mbuf = NULL
    cdef MixedCenters mixed
    cdef bint try_mixed = (floating is double and d >= GEMM_MIN_FEATURES
                           and bounds.x_max_sq_norm <= MIXED_MAX_NORM)
    cdef const double *weight
    cdef unsigned char *touched = NULL
    cdef Clustering cl
    cdef Rows rows
    cdef Centers cen
    cdef YinyangBounds bd
    cdef float[:, ::1] dnet
    cdef Py_ssize_t[::1] ring_pass
    cdef double[:, ::1] ring_drift
    cdef floating[:, :, ::1] ring
    cdef const floating *ring_ptr = NULL
    cdef double *nets = NULL
    cdef Py_ssize_t[::1] listed
    cdef Py_ssize_t nlisted = 0, nrows = 0, b
    cdef Py_ssize_t p = bounds.passes, slot = bounds.passes % KMIX_BOUND_SLOTS
    if n == 0:
        return 0
    bounds.check(n, True, (n, ng))
    if group_of.shape[0] != k or members.shape[0] != k:
        raise ValueError("every centre must be in one group")
    if d >= GEMM_MIN_FEATURES and np.diff(gstart).max() > KMIX_PANEL:
        raise ValueError(f"on data of {GEMM_MIN_FEATURES} or more features a group holds at most "
                         f"{KMIX_PANEL} centres")
    cl = _clustering(clusters, CT, cnorm, n, k, d, update, &weight)
    rows = make_rows(&bounds.x_sq_norms[0], weight, n, d)
    _start_net_ring(bounds, ng, k, d, np.asarray(centers).dtype)
    dnet = bounds.net_drift
    ring_pass = bounds.ring_pass
    ring_drift = bounds.ring_drift
    if bounds.ring_centers is not None:
        ring = bounds.ring_centers
        ring_ptr = &ring[0, 0, 0]
    bd.labels = cl.labels
    bd.upper = &bounds.upper[0]
    bd.lower = &lower[0, 0]
    bd.shift = &shift[0]
    bd.drift = &drift[0]
    bd.drift_up = &drift_up[0]
    bd.drift_dn = &drift_dn[0]
    bd.group_of = &group_of[0]
    bd.members = &members[0]
    bd.gstart = &gstart[0]
    bd.ng = ng
    listed = np.zeros(2 * cl.blk.nb, dtype=np.intp)
    bd.listed = &listed[0]
    # (Narrow data's filter tests a group's bounds one at a time: always both.)
    bd.dnet = (&dnet[0, 0] if d < GEMM_MIN_FEATURES
               or 100.0 * bounds.listed <= YINYANG_NET_MAX_LISTED else NULL)
    bd.slot = <unsigned>slot
    bd.mixed = False
    bd.dense = (d >= GEMM_MIN_FEATURES and kmix_wide_argmin2_ok(d, k)
                and 100.0 * bounds.listed >= YINYANG_DENSE_MIN_LISTED)
    if d >= GEMM_MIN_FEATURES:
        # The groups' panels for the wide data's group filter.
        panels = np.zeros(ng * d * KMIX_PANEL, dtype=np.asarray(centers).dtype)
        pnorm = np.empty(ng * KMIX_PANEL, dtype=np.asarray(centers).dtype)
        bd.panels = &panels[0]
        bd.pnorm = &pnorm[0]
    if try_mixed:
        panels32 = np.zeros(ng * d * KMIX_PANEL, dtype=np.float32)
        pnorm32 = np.empty(ng * KMIX_PANEL, dtype=np.float32)
    with nogil:
        prep_centers(&Cp[0, 0], k, d, &CT[0, 0], &cnorm[0])
        cen = make_centers(&centers[0, 0], &Cp[0, 0], &CT[0, 0], &cnorm[0], k, d)
        if try_mixed:
            # Float64 rows searched in float32 (the group kernel's loads halved; the error
            # terms of use_mixed bound the values, the exact rule decides the close calls).
            mbuf = mixed_centers(<const double*>&Cp[0, 0], k, d, &mixed)
        if mbuf != NULL:
            use_mixed(&cen, &mixed)
            _fill_panels(mixed.C32, mixed.cnorm32, d, &gstart[0], ng, &panels32[0],
                         &pnorm32[0])
            bd.panels = &panels32[0]
            bd.pnorm = &pnorm32[0]
            bd.mixed = True
        elif d >= GEMM_MIN_FEATURES:
            _fill_panels(&Cp[0, 0], &cnorm[0], d, &gstart[0], ng, &panels[0], &pnorm[0])
        # Each group's drift grows by its largest shift (rounded up: its bounds move by it).
        for g in range(ng):
            gshift = 0.0
            for jj in range(gstart[g], gstart[g + 1]):
                if shift[members[jj]] > gshift:
                    gshift = shift[members[jj]]
            drift[g] = add_up(drift[g], gshift)
            drift_up[g] = kmix_float_up(drift[g])
            drift_dn[g] = kmix_float_down(drift[g])
        # The net moves since each tag's last pass, then this pass's centres and drifts in
        # its tag's place.
        if ring_ptr != NULL:
            nets = <double*>malloc(KMIX_BOUND_SLOTS * k * sizeof(double))
        _net_drifts(&centers[0, 0], ring_ptr if nets != NULL else NULL, &ring_pass[0],
                    &ring_drift[0, 0], &drift_up[0], &bd, k, d, nets, &dnet[0, 0], n_threads)
        free(nets)
        if ring_ptr != NULL:
            memcpy(<void*>(ring_ptr + slot * k * d), &centers[0, 0], k * d * sizeof(floating))
        memcpy(&ring_drift[slot, 0], &drift[0], ng * sizeof(double))
        ring_pass[slot] = p
        touched = _lazy_sums(&cl.blk, k)
        _search_pass(&X[0, 0], &rows, &cen, &bd, &cl.blk, n_threads)
        free(mbuf)
        if update:
            reduce_blocks(cl.blk.bsum, cl.blk.bw, cl.blk.nb, k, d, cl.sums, cl.wsum, True,
                          n_threads, touched)
        free(touched)
        for b in range(cl.blk.nb):
            nlisted += listed[2 * b]
            nrows += listed[2 * b + 1]
    bounds.passes = p + 1
    bounds.listed = nlisted / <double>(nrows * ng) if nrows > 0 else 0.0
    return sum_counts(cl.blk.bchanged, cl.blk.nb)


def group_sums(const double[:, ::1] c, const Py_ssize_t[::1] group_of, Py_ssize_t n_groups):
    """The sums of the rows of c in each of n_groups groups (group_of: each row's group),
    each summed in row order (``numpy.add.at``'s values, without its per-element dispatch),
    and each group's count of rows."""
    cdef Py_ssize_t k = c.shape[0], d = c.shape[1], j, f, g
    cdef double[:, ::1] sums = np.zeros((n_groups, d))
    cdef Py_ssize_t[::1] counts = np.zeros(n_groups, dtype=np.intp)
    if group_of.shape[0] != k:
        raise ValueError("one group per row")
    if k and (np.min(group_of) < 0 or np.max(group_of) >= n_groups):
        raise ValueError(f"groups must be in [0, {n_groups})")
    for j in range(k):
        g = group_of[j]
        counts[g] += 1
        for f in range(d):
            sums[g, f] += c[j, f]
    return np.asarray(sums), np.asarray(counts)


def greedy_groups(const double[:, ::1] d2, const Py_ssize_t[::1] order, Py_ssize_t size,
                  Py_ssize_t n_groups):
    """Yinyang's balanced groups (``kmix._kmeans_algorithms.center_groups_of_size``): the
    centres in ``order``, each to its nearest group (the least of its row of d2, first on a
    tie) of fewer than ``size`` centres; when every group of d2's columns is full, to the
    least filled of the n_groups groups (the first of them). Returns each centre's group."""
    cdef Py_ssize_t k = d2.shape[0], m = d2.shape[1], jj, j, g, best
    cdef double bv
    cdef Py_ssize_t[::1] group_of = np.zeros(k, dtype=np.intp)
    cdef Py_ssize_t[::1] count = np.zeros(max(n_groups, 1), dtype=np.intp)
    cdef unsigned char[::1] full = np.zeros(max(m, 1), dtype=np.uint8)
    if order.shape[0] != k or n_groups < m or size < 1:
        raise ValueError("one place in order per centre, n_groups >= d2's columns, size >= 1")
    for jj in range(k):
        j = order[jj]
        if j < 0 or j >= k:
            raise ValueError("order must hold row indices of d2")
        best = -1
        bv = INFINITY
        for g in range(m):
            if not full[g] and d2[j, g] < bv:
                bv = d2[j, g]
                best = g
        if best < 0:
            best = 0
            for g in range(1, n_groups):
                if count[g] < count[best]:
                    best = g
        group_of[j] = best
        count[best] += 1
        if count[best] == size and best < m:
            full[best] = 1
    return np.asarray(group_of)


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


def sqdist32(const float[::1] x, const float[::1] c):
    """For the kernel tests: ``kmix_sqdist32_f(x, c)``, the squared distance of two float32
    vectors in float32 arithmetic that Elkan's float32 paths take (16+ features)."""
    if x.shape[0] != c.shape[0] or x.shape[0] < 1:
        raise ValueError("sqdist32 needs two non-empty vectors of one length")
    return kmix_sqdist32_f(&x[0], &c[0], x.shape[0])


def group_best(const floating[::1] x, const floating[:, ::1] S,
               const Py_ssize_t[::1] gstart, const Py_ssize_t[::1] glist):
    """The wide-data Yinyang kernel on one row x and centres S (in search order, group g
    being S[gstart[g]:gstart[g + 1]], at most KMIX_PANEL centres), for the kernel tests:
    :func:`groups_best` over the groups glist. Returns each listed group's smallest partial
    distance, and the winner: its place in glist (-1 if none), the position in S of its
    first minimum, its second value and the least of the other groups' values."""
    cdef Py_ssize_t d = S.shape[1], ng = gstart.shape[0] - 1, ne = glist.shape[0]
    cdef object dtype = np.asarray(S).dtype
    cdef floating[::1] snorm = (np.asarray(S, dtype=np.float64) ** 2).sum(axis=1).astype(dtype)
    cdef floating[::1] panels = np.zeros(ng * d * KMIX_PANEL, dtype=dtype)
    cdef floating[::1] pnorm = np.empty(ng * KMIX_PANEL, dtype=dtype)
    cdef floating[::1] m1 = np.empty(max(ne, 1), dtype=dtype)
    cdef kmix_group_winner w
    if np.diff(gstart).max() > KMIX_PANEL:
        raise ValueError(f"a group holds at most {KMIX_PANEL} centres")
    if ne and (np.min(glist) < 0 or np.max(glist) >= ng):
        raise ValueError("glist must list groups of gstart")
    _fill_panels(&S[0, 0], &snorm[0], d, &gstart[0], ng, &panels[0], &pnorm[0])
    groups_best(&x[0], d, &panels[0], &glist[0] if ne else NULL, ne, &pnorm[0], &m1[0], &w)
    pos = gstart[glist[w.t]] + w.lane if w.t >= 0 else -1
    return np.asarray(m1)[:ne], w.t, pos, w.second, w.others


def dense_group_search(const floating[:, ::1] X, const floating[:, ::1] S,
                       const Py_ssize_t[::1] gstart):
    """For the kernel tests, on at most CHUNK_ROWS rows X and the centres S as in
    :func:`group_best`: Yinyang's dense search (kmix_wide_groups, where the CPU has AVX2 and
    FMA) and the partial distances D of the fused stored-values kernel (``partial_dists``
    without gemm) that it must reproduce. Returns each row's smallest value in every group
    (m x ng), the position in S of its first minimum over all the centres, that minimum and
    the next smallest value (a tied minimum counting twice), and D (m x len(S))."""
    cdef Py_ssize_t m = X.shape[0], d = X.shape[1], k = S.shape[0], ng = gstart.shape[0] - 1
    cdef Py_ssize_t r, p
    dtype = np.asarray(S).dtype
    S64 = np.asarray(S, dtype=np.float64)
    cdef floating[::1] snorm = np.einsum("ij,ij->i", S64, S64).astype(dtype)
    cdef floating[:, ::1] ST = np.ascontiguousarray(np.asarray(S).T)
    cdef floating[:, ::1] D = np.empty((m, k), dtype=dtype)
    cdef floating[::1] panels = np.zeros(ng * d * KMIX_PANEL, dtype=dtype)
    cdef floating[::1] pnorm = np.empty(ng * KMIX_PANEL, dtype=dtype)
    cdef floating[:, ::1] xt = np.zeros((CHUNK_ROWS, d), dtype=dtype)
    cdef floating[:, ::1] gmin = np.empty((CHUNK_ROWS, ng), dtype=dtype)
    cdef floating[::1] gbuf = np.empty(ng * 16, dtype=dtype)
    cdef floating[::1] bestv = np.empty(m, dtype=dtype)
    cdef floating[::1] secv = np.empty(m, dtype=dtype)
    cdef Py_ssize_t[::1] besti = np.empty(m, dtype=np.intp)
    cdef int ran
    if not (0 < m <= CHUNK_ROWS and GEMM_MIN_FEATURES <= d and kmix_wide_argmin2_ok(d, k)
            and ng > 0 and np.diff(gstart).min() > 0 and np.diff(gstart).max() <= KMIX_PANEL
            and gstart[0] == 0 and gstart[ng] == k):
        raise ValueError("dense_group_search: shape, groups or CPU outside the kernel's range")
    with nogil:
        partial_dists(&X[0, 0], m, d, &S[0, 0], &ST[0, 0], k, &snorm[0], k, &D[0, 0], False)
        _fill_panels(&S[0, 0], &snorm[0], d, &gstart[0], ng, &panels[0], &pnorm[0])
        if floating is float:
            kmix_wide_rows_f(&X[0, 0], m, d, &xt[0, 0])
            ran = kmix_wide_groups_f(&xt[0, 0], m, d, &panels[0], &pnorm[0], ng, &gmin[0, 0],
                                     ng, &besti[0], &bestv[0], &secv[0], &gbuf[0])
        else:
            kmix_wide_rows_d(&X[0, 0], m, d, &xt[0, 0])
            ran = kmix_wide_groups_d(&xt[0, 0], m, d, &panels[0], &pnorm[0], ng, &gmin[0, 0],
                                     ng, &besti[0], &bestv[0], &secv[0], &gbuf[0])
    if ran != 0:
        raise ValueError("dense_group_search: the CPU lacks AVX2 and FMA")
    for r in range(m):
        p = besti[r]
        besti[r] = gstart[p // KMIX_PANEL] + p % KMIX_PANEL
    return (np.asarray(gmin)[:m].copy(), np.asarray(besti), np.asarray(bestv),
            np.asarray(secv), np.asarray(D))


def group_best4(const float[:, ::1] X4, const float[:, ::1] S, const Py_ssize_t[::1] gstart,
                const Py_ssize_t[::1] glist):
    """For the kernel tests: the four-row group filter (kmix_groups_min4_f, then
    kmix_group_winner4_f) of the float32 rows X4 (4 x d) over the groups glist, with
    the centres S as in :func:`group_best`. Returns, per row, what group_best returns."""
    cdef Py_ssize_t d = S.shape[1], ng = gstart.shape[0] - 1, ne = glist.shape[0], r
    cdef float[::1] snorm = (np.asarray(S, dtype=np.float64) ** 2).sum(axis=1).astype(np.float32)
    cdef float[::1] panels = np.zeros(ng * d * KMIX_PANEL, dtype=np.float32)
    cdef float[::1] pnorm = np.empty(ng * KMIX_PANEL, dtype=np.float32)
    cdef float[:, ::1] m1 = np.empty((4, max(ne, 1)), dtype=np.float32)
    cdef const float *xs[4]
    cdef kmix_group_winner w[4]
    if X4.shape[0] != 4 or X4.shape[1] != d or ne < 1:
        raise ValueError("four rows of S's width, and at least one group")
    if np.diff(gstart).max() > KMIX_PANEL or np.min(glist) < 0 or np.max(glist) >= ng:
        raise ValueError(f"groups of at most {KMIX_PANEL} centres, glist within them")
    _fill_panels(&S[0, 0], &snorm[0], d, &gstart[0], ng, &panels[0], &pnorm[0])
    for r in range(4):
        xs[r] = &X4[r, 0]
    kmix_groups_min4_f(xs, d, &panels[0], &glist[0], ne, &pnorm[0], &m1[0, 0], ne)
    kmix_group_winner4_f(xs, d, &panels[0], &glist[0], ne, &pnorm[0], &m1[0, 0], ne, w)
    out = []
    for r in range(4):
        pos = gstart[glist[w[r].t]] + w[r].lane if w[r].t >= 0 else -1
        out.append((np.asarray(m1[r]).copy(), w[r].t, pos, w[r].second, w[r].others))
    return out


def _net_table(drift_up, dnet):
    """The kernel tests' table of net moves: dnet, or the drifts for every tag."""
    if dnet is None:
        return np.repeat(np.asarray(drift_up)[:, None], KMIX_BOUND_SLOTS, axis=1)
    return dnet


def group_bounds4(const float[:, ::1] stored, const float[::1] drift_up, const double[::1] u,
                  const Py_ssize_t[::1] ga, dnet=None):
    """For the kernel tests: kmix_groups_failing_bits4 on four rows' stored group bounds
    (4 x ng) against their upper bounds u (rounded up to float32) and own groups ga, then
    kmix_bits_union4 and kmix_bits_list: the union of their failing groups, and each row's
    list. dnet: the table of net moves (ng x KMIX_BOUND_SLOTS; None: the drifts for every
    tag)."""
    cdef Py_ssize_t r, ng = stored.shape[1], ne, nw = kmix_bit_words(stored.shape[1])
    cdef const float[:, ::1] dn = _net_table(drift_up, dnet)
    cdef uint64_t[::1] bits = np.empty(5 * nw, dtype=np.uint64)
    cdef const float *lbs[4]
    cdef float u32[4]
    cdef Py_ssize_t[::1] glist = np.empty(ng, dtype=np.intp)
    cdef Py_ssize_t[:, ::1] rlists = np.empty((4, ng), dtype=np.intp)
    cdef Py_ssize_t[::1] counts = np.empty(4, dtype=np.intp)
    if (stored.shape[0] != 4 or drift_up.shape[0] != ng or u.shape[0] != 4 or ga.shape[0] != 4
            or dn.shape[0] != ng or dn.shape[1] != KMIX_BOUND_SLOTS):
        raise ValueError("four rows of bounds, one drift and table row per group, four u and ga")
    for r in range(4):
        lbs[r] = &stored[r, 0]
        u32[r] = kmix_float_up(u[r])
    kmix_groups_failing_bits4(lbs, &drift_up[0], &dn[0, 0], ng, u32, &ga[0], &bits[0])
    ne = kmix_bits_union4(&bits[0], nw, &bits[4 * nw], &counts[0])
    if kmix_bits_list(&bits[4 * nw], ng, &glist[0]) != ne:
        raise AssertionError("the union's count and list disagree")
    for r in range(4):
        if kmix_bits_list(&bits[r * nw], ng, &rlists[r, 0]) != counts[r]:
            raise AssertionError("a row's count and list disagree")
    return (np.asarray(glist)[:ne].copy(),
            [np.asarray(rlists[r])[:counts[r]].copy() for r in range(4)])


def group_bounds(const float[::1] stored, const float[::1] drift_up, double u,
                 Py_ssize_t ga, dnet=None):
    """For the kernel tests: one row's group bounds now (the better of the two,
    ``kmix_group_bound_best``, with dnet the table of net moves as in group_bounds4), the
    smallest of the drift bounds (``kmix_group_floor``) and the groups that fail against u,
    plus group ga (``kmix_groups_failing``)."""
    cdef Py_ssize_t g, ng = stored.shape[0]
    cdef const float[:, ::1] dn = _net_table(drift_up, dnet)
    cdef float[::1] now = np.empty(ng, dtype=np.float32)
    cdef Py_ssize_t[::1] glist = np.empty(ng, dtype=np.intp)
    cdef Py_ssize_t ne
    if drift_up.shape[0] != ng or ng < 1 or dn.shape[0] != ng or dn.shape[1] != KMIX_BOUND_SLOTS:
        raise ValueError("one drift and table row per group, and at least one group")
    for g in range(ng):
        now[g] = kmix_group_bound_best(stored[g], drift_up[g], &dn[0, 0], g)
    floor = kmix_group_floor(&stored[0], &drift_up[0], ng)
    ne = kmix_groups_failing(&stored[0], &drift_up[0], &dn[0, 0], ng, kmix_float_up(u), ga,
                             &glist[0])
    return np.asarray(now), floor, np.asarray(glist)[:ne].copy()


def refresh_bounds(const float[::1] m1, const Py_ssize_t[::1] glist, Py_ssize_t tw,
                   double second, double xn, double err, double gamma, const double[::1] drift,
                   unsigned slot, bint portable=False):
    """For the kernel tests: a row's group bounds refreshed from the values m1 of the groups
    glist (kmix_refresh_bounds; kmix_refresh_all where glist lists every group in order),
    the drifts rounded down to float32 as a pass does. Returns the ng bounds, NaN where
    unlisted. portable: the portable versions, whatever the CPU."""
    cdef Py_ssize_t ng = drift.shape[0], ne = glist.shape[0], g
    cdef float[::1] dd = np.empty(max(ng, 1), dtype=np.float32)
    cdef float[::1] lb = np.full(max(ng, 1), np.nan, dtype=np.float32)
    if m1.shape[0] != ne or (ne and (np.min(glist) < 0 or np.max(glist) >= ng)):
        raise ValueError("one value per listed group, groups of drift")
    if slot >= KMIX_BOUND_SLOTS:
        raise ValueError(f"a tag is below {KMIX_BOUND_SLOTS}")
    for g in range(ng):
        dd[g] = kmix_float_down(drift[g])
    if ne == ng and ne and np.array_equal(glist, np.arange(ng)):
        if portable:
            kmix_refresh_all_base(&m1[0], ng, tw, second, xn, err, gamma, &dd[0], slot, &lb[0])
        else:
            kmix_refresh_all(&m1[0], ng, tw, second, xn, err, gamma, &dd[0], slot, &lb[0])
    elif ne:
        if portable:
            kmix_refresh_bounds_base(&m1[0], ne, &glist[0], tw, second, xn, err, gamma, &dd[0],
                                     slot, &lb[0])
        else:
            kmix_refresh_bounds(&m1[0], ne, &glist[0], tw, second, xn, err, gamma, &dd[0],
                                slot, &lb[0])
    return np.asarray(lb)[:ng]


def group_bound_store(double v, double drift, unsigned slot=0):
    """For the kernel tests: ``kmix_group_bound_store(v, drift, slot)`` and
    ``kmix_float_up(drift)``."""
    if slot >= KMIX_BOUND_SLOTS:
        raise ValueError(f"a tag is below {KMIX_BOUND_SLOTS}")
    return kmix_group_bound_store(v, drift, slot), kmix_float_up(drift)
