"""Greedy k-means++ seeding (dense and CSR), the whole loop over centres compiled.

The random numbers are drawn by the caller from its ``numpy.random.RandomState`` before the
loop (``choice``'s single uniform draw for the first centre, ``n_trials`` uniforms per further
centre: no draw depends on the data). The O(n) work per centre runs
in parallel over fixed row blocks whose partial sums are reduced in order, so the seeds do not
depend on the number of threads:

- candidates are drawn with probability w_i * closest_i (closest_i: squared distance to the
  nearest chosen centre) by walking per-block sums, then the rows of one block;
- each candidate's potential sum_i w_i * min(closest_i, ||x_i - cand||^2) is evaluated for all
  candidates in one pass (rows read in place, AVX2 along the features, for wide data), and
  the lowest is kept.

Rows that no candidate can improve are skipped with the triangle inequality (each row remembers
its nearest chosen centre), which makes seeding clustered data several times cheaper.

The same seeds on every machine: the distances that are kept (closest_i), the pruning bounds
and the potentials that decide between candidates are defined by machine-independent float64
arithmetic (``sq_dist``'s direct differences in its documented order, no FMA; blocks reduced
in order). The
fast distances of the candidates (in-place dot products or the fused FMA loops, in the data's
dtype) only screen:
a row's closest_i is recomputed the deterministic way when the fast value could be below it
(within the kernel's rounding bound, see _common.pxd), and when two candidates' fast potentials
are within their accumulated rounding bounds of each other, their deterministic potentials decide
(ties to the first candidate).
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from _common cimport (CHUNK_ROWS, GEMM_MIN_FEATURES, MIXED_MAX_NORM, expansion_error_scale,
                      few_partial_dists, float32_rows, imin, kmix_gamma, kmix_prefetch_bytes, mixed_abs_unit,
                      mixed_error_scale, n_blocks_for, partial_dists, prep_centers, sq_dist,
                      sq_dist_sparse, sum_in_order)
from _kpp cimport draw_first, first_cdf, kpp_small, kpp_small_dist_rows, pick, weight_of
from _interrupt cimport check_interrupt, monotonic


cdef extern from "_kpp_sums.h" nogil:
    void kmix_kpp_sums_d(const Py_ssize_t *idx, Py_ssize_t m, const double *D, Py_ssize_t nt,
                         const double *xnorm, const double *closest, const double *w,
                         const double *ct, double scale, double g, const double *cu,
                         double abs0, unsigned int *mask, double *acc, double *ecc)
    void kmix_kpp_sums_f(const Py_ssize_t *idx, Py_ssize_t m, const float *D, Py_ssize_t nt,
                         const double *xnorm, const double *closest, const double *w,
                         const double *ct, double scale, double g, const double *cu,
                         double abs0, unsigned int *mask, double *acc, double *ecc)

cdef enum:
    # Rows prefetched ahead of the one whose deterministic distance is computed (_block_update).
    _UPDATE_PREFETCH = 8
    # Float64 data of this many values is screened on a float32 copy (_Screen32): from a
    # size where it pays (blobs 500k x 50, k=100: 1.63 s against 1.96 s) to one where the
    # copy (4 bytes a value) could strain memory.
    SCREEN32_MIN_VALUES = 1 << 20
    SCREEN32_MAX_VALUES = 1 << 28
    # _block_potentials evaluates every row of a chunk, read in order, when at least this
    # percentage of them is needed (wide rows, read in place by few_partial_dists; narrow
    # rows, by the fused loops) and a row is at most _STREAM_MAX_ROW_BYTES long. Measured on
    # the Zen 4, k-means++ with k=100 on blobs (median of 3-5 processes): 500k x 50 float64
    # (screened on 200-byte float32 rows) 0.89 s by index against 0.80 s at 35% (0.85 s at
    # 50%), 300k x 64 0.66 against 0.55 s; 200k x 128 (512-byte rows, where the kernel's
    # arithmetic per row is no longer hidden behind the memory) 0.76 against 0.95 s, and
    # 60k x 784 no faster; narrow rows (china.jpg, k=64) the same from 50% on.
    _STREAM_MAX_ROW_BYTES = 256
    _STREAM_WIDE_PERCENT = 35
    _STREAM_NARROW_PERCENT = 50


cdef struct _Screen32:
    # Float64 rows screened by float32 distances (wide dense data, see kmeans_plusplus): the
    # float32 copy of the rows (X32, n x d; NULL: the data's dtype screens), the candidates in
    # float32 (cand, T x d) with their float32 squared norms (cnorm), and the absolute error
    # term of the screen's bound (abs0; 0 without it).
    const float *X32
    const float *cand
    const float *cnorm
    double abs0


cdef inline double _det_row(const floating[:, ::1] X, const floating[::1] data,
                            const int[::1] indices, const int[::1] indptr, bint sparse,
                            Py_ssize_t i, const floating *c, double cn2,
                            Py_ssize_t d) noexcept nogil:
    """The deterministic squared distance from row i to centre c (cn2: its float64 squared
    norm, used for CSR rows): sq_dist and sq_dist_sparse have the same bits on every CPU."""
    if sparse:
        return sq_dist_sparse(&data[0], &indices[0], indptr[i], indptr[i + 1], c, cn2)
    return sq_dist(&X[i, 0], c, d)


ctypedef fused _dist_t:
    # the screen's values: the data's dtype, or float32 for float64 rows screened so
    float
    double


cdef inline void _front_rows(_dist_t *D, const Py_ssize_t *idx, Py_ssize_t nneed,
                             Py_ssize_t s, Py_ssize_t nt) noexcept nogil:
    """Row idx[q] - s of D (nt values a row; rows s, s + 1, ... evaluated) moved to row q,
    for q < nneed (idx increasing from s: each row moves down or stays, so a forward copy
    reads every value before it is overwritten; a loop, not a memmove call per row)."""
    cdef Py_ssize_t q, t, src
    for q in range(nneed):
        src = (idx[q] - s) * nt
        for t in range(nt):
            D[q * nt + t] = D[src + t]


cdef void _block_potentials(
    const floating[:, ::1] X, const floating[::1] data, const int[::1] indices,
    const int[::1] indptr, bint sparse, const double *xnorm, const double *w,
    Py_ssize_t start, Py_ssize_t end, Py_ssize_t d, const floating *cand, const floating *candT,
    const floating *cnorm, Py_ssize_t ncand, const double *closest, const int *assign,
    const double *minprune, const double *cu, double *out, double *err, unsigned int *mask,
    floating *G, floating *D, bint wide, double scale, double g, const double *ct,
    const _Screen32 *sc, float *D32,
) noexcept nogil:
    """out[t] = sum over rows [start, end) of w * min(closest, ||x - cand_t||^2), and err[t] a
    bound on how far that sum of fast distances can be from the deterministic one: only rows
    whose fast distance could be below their closest_i contribute (their fast value's error
    bound, see _block_update, and the deterministic value's relative error g). ct[t] is
    candidate t's part of that error bound, 1.5 scale cnorm[t] + sc.abs0.

    Bit t of mask[i] tells the update whether the fast squared distance of row i to cand_t
    could be below closest_i (the test of _block_update, with cu[t] = 1.5 times the
    candidate's float64 squared norm): one word per row instead of ncand distances. A row is
    skipped (mask not written: the update skips it by the same test) when, for each t, a
    quarter of the squared distance from its nearest chosen centre to cand_t
    (prune[assign, t] in kmeans_plusplus) is at least closest: then ||x - cand_t|| >=
    ||x - c_assign|| by the triangle inequality; tested as minprune[assign] (the smallest over
    t) >= closest.
    Other rows are evaluated against all candidates at once: in place by
    :func:`few_partial_dists` for wide dense data (on the float32 copy of float64 rows when
    sc.X32 is set: scale and sc.abs0 are then the mixed-precision bounds), else by the fused
    loops (the rows gathered first). Dense chunks of short rows where many rows are needed
    are evaluated whole, read in order, and only their needed rows' values summed (see
    _STREAM_MAX_ROW_BYTES); pruned rows count their closest_i once, whichever way.
    """
    cdef Py_ssize_t s, m, r, i, t, q, p, nneed
    cdef Py_ssize_t idx[CHUNK_ROWS]
    cdef Py_ssize_t allr[CHUNK_ROWS]
    cdef Py_ssize_t *rid
    cdef Py_ssize_t nrows
    cdef bint whole
    cdef double dist, dot
    cdef double e, v, xt, lim, acc, ecc, pruned = 0.0
    cdef unsigned int bit
    cdef bint need
    # The share of a chunk's rows from which the whole chunk is evaluated (0: never).
    cdef Py_ssize_t row_bytes = d * (sizeof(float) if sc.X32 != NULL else sizeof(floating))
    cdef Py_ssize_t stream_pct = 0
    if not sparse and row_bytes <= _STREAM_MAX_ROW_BYTES:
        stream_pct = _STREAM_WIDE_PERCENT if wide else _STREAM_NARROW_PERCENT
    for t in range(ncand):
        out[t] = 0.0
        err[t] = 0.0
    s = start
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        # Without a data-dependent branch (which mispredicts whenever the pruned rows do not
        # repeat a pattern): every row is written to idx and counted if needed; a needed row
        # adds an exact 0.0 to pruned. Its closest may be infinite, so it is multiplied by 0
        # only through min(closest, minprune), finite, which is closest for a pruned row (a
        # select, 0.0 if need else v, compiled to a branch that mispredicted half the rows).
        nneed = 0
        for r in range(m):
            i = s + r
            lim = minprune[assign[i]]
            need = lim < closest[i]
            idx[nneed] = i
            nneed += need
            v = closest[i] if closest[i] < lim else lim     # minsd, no branch
            pruned += weight_of(w, i) * v * <double>(1 - need)
        if nneed == 0:
            s += m
            continue
        # Dense chunks of short rows where many are needed: every row of the chunk evaluated,
        # read in order (streamed, where rows picked by index wait on memory), then the
        # needed rows' values moved to the front of D.
        whole = stream_pct > 0 and nneed * 100 >= m * stream_pct
        rid = idx
        nrows = nneed
        if whole:
            for r in range(m):
                allr[r] = s + r
            rid = allr
            nrows = m
        if wide and sc.X32 != NULL:
            # Float64 rows screened in float32: half the memory traffic.
            few_partial_dists(sc.X32, rid, nrows, d, sc.cand, ncand, sc.cnorm, D32)
            if whole:
                _front_rows(D32, idx, nneed, s, ncand)
        elif wide:
            # A few candidates on wide rows: each needed row read in place (gemm would gather
            # the rows, then pack them, to multiply a few columns).
            few_partial_dists(&X[0, 0], rid, nrows, d, cand, ncand, cnorm, D)
            if whole:
                _front_rows(D, idx, nneed, s, ncand)
        elif not sparse:
            if whole:
                partial_dists(&X[s, 0], m, d, cand, candT, ncand, cnorm, ncand, D, False)
                _front_rows(D, idx, nneed, s, ncand)
            else:
                for q in range(nneed):
                    memcpy(G + q * d, &X[idx[q], 0], d * sizeof(floating))
                partial_dists(G, nneed, d, cand, candT, ncand, cnorm, ncand, D, False)
        if not sparse:
            # The candidates' sums over the chunk (_kpp_sums.h: the candidates in vector
            # lanes, the rows in order).
            if sc.X32 != NULL:
                kmix_kpp_sums_f(idx, nneed, D32, ncand, xnorm, closest, w, ct, scale, g, cu,
                                sc.abs0, mask, out, err)
            elif floating is float:
                kmix_kpp_sums_f(idx, nneed, D, ncand, xnorm, closest, w, ct, scale, g, cu,
                                sc.abs0, mask, out, err)
            else:
                kmix_kpp_sums_d(idx, nneed, D, ncand, xnorm, closest, w, ct, scale, g, cu,
                                sc.abs0, mask, out, err)
            s += m
            continue
        # CSR rows: the same sums, candidate by candidate, the chunk's rows in order (each
        # candidate's sums run in registers through the same additions in the same order as
        # a running sum over the rows).
        for q in range(nneed):
            mask[idx[q]] = 0
        for t in range(ncand):
            acc = out[t]
            ecc = err[t]
            bit = _mask_bit(t)
            for q in range(nneed):
                i = idx[q]
                dot = 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    dot += <double>data[p] * cand[t * d + indices[p]]
                dist = xnorm[i] + cnorm[t] - 2 * dot
                dist = dist if dist > 0 else 0.0
                if (dist - scale * (cu[t] + 0.5 * xnorm[i]) - g * xnorm[i] - sc.abs0) * (
                        1.0 - g) < closest[i]:
                    mask[i] |= bit
                # The error bound of row i and candidate t is e = ct + xt (2 sqrt(x c) <=
                # x + c: no square root); a row counts in err[t] when (dist - e)(1 - g) <
                # closest_i, tested as dist < closest_i (1 + 2 g) + e (a little wider, so
                # still a bound).
                xt = (0.5 * scale + g) * xnorm[i]
                lim = closest[i] * (1.0 + 2.0 * g) + xt
                # not branched on: v (finite) times 1 or 0 adds v or an exact 0.0
                e = ct[t] + xt
                v = weight_of(w, i) * (e + g * (dist + e))
                ecc += v * <double>(dist < lim + ct[t])
                acc += weight_of(w, i) * (dist if dist < closest[i] else closest[i])
            out[t] = acc
            err[t] = ecc
        s += m
    for t in range(ncand):
        out[t] += pruned


cdef double _block_update(
    const floating[:, ::1] X, const floating[::1] data, const int[::1] indices,
    const int[::1] indptr, bint sparse, const unsigned int *mask, unsigned int bit,
    const double *w, Py_ssize_t start, Py_ssize_t end,
    const floating *c, double cn2, Py_ssize_t d, const double *prune, Py_ssize_t pstride,
    Py_ssize_t center_id, double *closest, int *assign,
) noexcept nogil:
    """Fold the new centre c into closest/assign for rows [start, end); return their potential.

    mask[i] & bit (bit = 0: no screen) tells whether the fast squared distance of row i to c
    could be below closest_i (not written, and not read, where the row was pruned:
    prune[assign_i * pstride] >= closest_i): the fast value is off by at most scale (cn2 + ||x_i|| sqrt(cn2)) +
    g xnorm_i <= scale (1.5 cn2 + 0.5 xnorm_i) + g xnorm_i (see
    _common.expansion_error_scale), plus abs0 (float32 screening, see _Screen32), and the
    bit is set when (fast - that bound) (1 - g) < closest_i (see _kpp_sums.h). Such a row
    gets the deterministic distance (relative error below g), which replaces closest_i when
    smaller. prune[assign_i * pstride] is the pruning bound of c against the row's nearest
    chosen centre (see _block_potentials).

    Per chunk of rows: first the rows that need the deterministic distance (no data-dependent
    branch), then their distances with the rows a few ahead prefetched (they are scattered
    over data long out of cache: without it every distance waits on memory), then the
    potential in row order."""
    cdef Py_ssize_t s, m, r, q, i
    cdef Py_ssize_t idx[CHUNK_ROWS]
    cdef Py_ssize_t nneed
    cdef double acc = 0.0, e
    cdef bint need, no_bit = bit == 0
    s = start
    while s < end:
        m = imin(CHUNK_ROWS, end - s)
        # Without a data-dependent branch (see _block_potentials).
        nneed = 0
        for r in range(m):
            i = s + r
            need = (prune[assign[i] * pstride] < closest[i]) & (no_bit | ((mask[i] & bit) != 0))
            idx[nneed] = i
            nneed += <Py_ssize_t>need
        if not sparse:
            for q in range(imin(nneed, _UPDATE_PREFETCH)):
                kmix_prefetch_bytes(&X[idx[q], 0], d * sizeof(floating))
        for q in range(nneed):
            if not sparse and q + _UPDATE_PREFETCH < nneed:
                kmix_prefetch_bytes(&X[idx[q + _UPDATE_PREFETCH], 0], d * sizeof(floating))
            i = idx[q]
            e = _det_row(X, data, indices, indptr, sparse, i, c, cn2, d)
            if e < closest[i]:
                closest[i] = e
                assign[i] = <int>center_id
        for r in range(m):
            acc += weight_of(w, s + r) * closest[s + r]
        s += m
    return acc


cdef double _block_det_potential(
    const floating[:, ::1] X, const floating[::1] data, const int[::1] indices,
    const int[::1] indptr, bint sparse, const double *w, Py_ssize_t start, Py_ssize_t end,
    const floating *c, double cn2, Py_ssize_t d, const double *prune, Py_ssize_t pstride,
    const double *closest, const int *assign,
) noexcept nogil:
    """The deterministic potential of candidate c over rows [start, end):
    sum of w_i min(closest_i, ||x_i - c||^2), rows pruned for c counting closest_i."""
    cdef Py_ssize_t i
    cdef double acc = 0.0, e
    for i in range(start, end):
        e = closest[i]
        if prune[assign[i] * pstride] < e:
            e = _det_row(X, data, indices, indptr, sparse, i, c, cn2, d)
            if e > closest[i]:
                e = closest[i]
        acc += weight_of(w, i) * e
    return acc


cdef void _gather_rows(const floating[:, ::1] X, const floating[::1] data, const int[::1] indices,
                       const int[::1] indptr, bint sparse, const Py_ssize_t *ids, Py_ssize_t m,
                       floating *out, Py_ssize_t d) noexcept nogil:
    cdef Py_ssize_t q, p
    for q in range(m):
        if sparse:
            memset(out + q * d, 0, d * sizeof(floating))
            for p in range(indptr[ids[q]], indptr[ids[q] + 1]):
                out[q * d + indices[p]] = data[p]
        else:
            memcpy(out + q * d, &X[ids[q], 0], d * sizeof(floating))


cdef void _screen_candidates(const floating *cand, Py_ssize_t T, Py_ssize_t d,
                             const _Screen32 *sc, float *cand32, float *candT32,
                             float *cnorm32) noexcept nogil:
    """The candidates rounded to float32 with their float32 squared norms, for the float32
    screen (nothing without it)."""
    cdef Py_ssize_t j
    if sc.X32 == NULL:
        return
    for j in range(T * d):
        cand32[j] = <float>cand[j]
    prep_centers(cand32, T, d, candT32, cnorm32)


cdef void _cand_norms(const floating *cand, Py_ssize_t T, Py_ssize_t d,
                      double *cn2) noexcept nogil:
    """Float64 squared norms of the T candidates (for the deterministic CSR distances)."""
    cdef Py_ssize_t t, f
    for t in range(T):
        cn2[t] = 0.0
        for f in range(d):
            cn2[t] += <double>cand[t * d + f] * <double>cand[t * d + f]


cdef inline unsigned int _mask_bit(Py_ssize_t t) noexcept nogil:
    """Candidate t's bit in the rows' masks (see _block_potentials); 0 past the 32nd
    candidate, which has none: the update then takes the deterministic distance of every
    row that its pruning bound keeps."""
    return (<unsigned int>1) << t if t < 32 else 0


cdef void _cand_terms(const floating *cnorm, const double *cn2, Py_ssize_t T, double scale,
                      double abs0, double *ct, double *cu) noexcept nogil:
    """Per candidate: ct, its term of the fast distances' error bound (1.5 scale cnorm + abs0,
    see _block_potentials), and cu, 1.5 times its float64 squared norm (the update's test,
    see _block_update)."""
    cdef Py_ssize_t t
    for t in range(T):
        ct[t] = 1.5 * scale * cnorm[t] + abs0
        cu[t] = 1.5 * cn2[t]


cdef inline _Screen32 _no_screen(const float *cand32, const float *cnorm32) noexcept nogil:
    """A _Screen32 that does not screen yet (X32 NULL), its candidates' float32 room set
    (cand32, T x d; cnorm32, T) for when it does (_screen_float32)."""
    cdef _Screen32 sc
    sc.X32 = NULL
    sc.cand = cand32
    sc.cnorm = cnorm32
    sc.abs0 = 0.0
    return sc


cdef inline void _prepare_candidates(const floating *cand, Py_ssize_t T, Py_ssize_t d,
                                     floating *candT, floating *cnorm, double *cn2,
                                     double scale, const _Screen32 *sc, double *ct,
                                     double *cu, float *cand32, float *candT32,
                                     float *cnorm32) noexcept nogil:
    """What a round needs of its T candidates (cand, T x d): their transpose and norms in
    the data's dtype (candT, cnorm), float64 squared norms (cn2), error-bound terms (ct, cu:
    see _cand_terms) and, under the float32 screen, their float32 forms (cand32, candT32,
    cnorm32: the room sc points to)."""
    prep_centers(cand, T, d, candT, cnorm)
    _cand_norms(cand, T, d, cn2)
    _cand_terms(cnorm, cn2, T, scale, sc.abs0, ct, cu)
    _screen_candidates(cand, T, d, sc, cand32, candT32, cnorm32)


cdef void _potentials(
    const floating[:, ::1] X, const floating[::1] data, const int[::1] indices,
    const int[::1] indptr, bint sparse, Py_ssize_t n, Py_ssize_t d, const double[::1] xnorm,
    const double *w, floating[:, ::1] cand, floating[:, ::1] candT, floating[::1] cnorm,
    Py_ssize_t ncand, double[::1] closest, int[::1] assign, double[::1] minprune,
    double[:, ::1] block_out, unsigned int *mask, const double *cu, bint wide, int n_threads,
    double scale, double g, const double *ct, const _Screen32 *sc,
) noexcept nogil:
    """Per-block potentials of the first ncand candidates (block_out) and each row's mask of
    the candidates that could bring it closer (w: the rows' weights, NULL when all are 1)."""
    cdef Py_ssize_t nb = block_out.shape[0], bs = (n + nb - 1) // nb, b
    cdef Py_ssize_t T = block_out.shape[1] // 2
    cdef floating *G
    cdef floating *D
    cdef float *D32
    with parallel(num_threads=n_threads):
        G = <floating*>malloc(CHUNK_ROWS * d * sizeof(floating))
        D = <floating*>malloc(CHUNK_ROWS * ncand * sizeof(floating))
        D32 = <float*>malloc(CHUNK_ROWS * ncand * sizeof(float)) if sc.X32 != NULL else NULL
        for b in prange(nb, schedule='dynamic'):
            _block_potentials(X, data, indices, indptr, sparse, &xnorm[0], w, b * bs,
                              imin(n, (b + 1) * bs), d, &cand[0, 0], &candT[0, 0], &cnorm[0],
                              ncand, &closest[0], &assign[0], &minprune[0], cu,
                              &block_out[b, 0], &block_out[b, T], mask, G, D, wide, scale, g,
                              ct, sc, D32)
        free(G)
        free(D)
        free(D32)


cdef void _progress(Py_ssize_t done, Py_ssize_t k, double start, double *last_time,
                    Py_ssize_t *last_done):
    """Print "Seeding: done/k centres (t s)" when done crosses a tenth of k or a second has
    passed since the last line (last_time, last_done: that line's time and count)."""
    cdef double now = monotonic()
    if done * 10 // k == last_done[0] * 10 // k and now - last_time[0] < 1.0:
        return
    last_time[0] = now
    last_done[0] = done
    print(f"Seeding: {done}/{k} centres ({now - start:.1f} s)", flush=True)


cdef void _seed_small(const floating[:, ::1] X, const double[::1] w, const double[::1] cdf,
                      Py_ssize_t k, Py_ssize_t T, Py_ssize_t nb, const double[::1] draws,
                      floating[:, ::1] centers, Py_ssize_t[::1] chosen):
    """:func:`_kpp.kpp_small` into centers and chosen, with its scratch."""
    cdef Py_ssize_t n = X.shape[0]
    cdef double[::1] closest = np.empty(n)
    cdef double[:, ::1] dist = np.empty((kpp_small_dist_rows(T), n))
    cdef double[::1] block_pot = np.empty(nb)
    cdef double[::1] pot = np.empty(T)
    cdef Py_ssize_t[::1] ids = np.empty(T, dtype=np.intp)
    with nogil:
        kpp_small(&X[0, 0], n, X.shape[1], &w[0], &cdf[0], k, T, nb, &draws[0],
                  &centers[0, 0], &chosen[0], &closest[0], &dist[0, 0], &block_pot[0],
                  &pot[0], &ids[0])


cdef object _screen_float32(const floating[:, ::1] X, Py_ssize_t n, Py_ssize_t d,
                            int n_threads, _Screen32 *sc, double *scale):
    """The float32 copy of float64 rows X that screens them (returned: the caller keeps it
    alive while sc.X32 points into it), with the screen's bounds in scale and sc.abs0 (see
    kmeans_plusplus). None, sc untouched, for float32 data."""
    if floating is float:
        return None
    cdef float[:, ::1] X32 = np.empty((n, d), dtype=np.float32)
    with nogil:
        float32_rows(<const double*>&X[0, 0], n, d, &X32[0, 0], n_threads)
    sc.X32 = &X32[0, 0]
    scale[0] = (mixed_error_scale(d) * (1.0 + kmix_gamma(d + 1, False))
                + 4.0 * mixed_abs_unit(d) * sqrt(<double>d))
    sc.abs0 = mixed_abs_unit(d) * (1.0 + 4.0 * sqrt(<double>d))
    return np.asarray(X32)


cdef Py_ssize_t _fast_potentials(const double[:, ::1] block_out, Py_ssize_t T, double gn,
                                 double *pots, double *bound) noexcept nogil:
    """The T candidates' fast potentials (pots: their blocks' sums, in block order) and how
    far each can be from the deterministic one (bound: the rows' distance errors and the
    two sums' rounding, gn the relative error of a float64 sum over the rows and blocks);
    returns the first candidate of the lowest fast potential."""
    cdef Py_ssize_t nb = block_out.shape[0], t, b, best = 0
    cdef double p, e
    for t in range(T):
        p = 0.0
        e = 0.0
        for b in range(nb):
            p += block_out[b, t]
            e += block_out[b, T + t]
        pots[t] = p
        bound[t] = e * (1.0 + 4.0 * gn) + 4.0 * gn * p
        if p < pots[best]:
            best = t
    return best


def kmeans_plusplus(const floating[:, ::1] X, const floating[::1] data, const int[::1] indices,
                    const int[::1] indptr, bint sparse, Py_ssize_t n_features,
                    const double[::1] x_sq_norms, const double[::1] sample_weight,
                    Py_ssize_t n_clusters, Py_ssize_t n_trials, const double[::1] draws,
                    int n_threads, int verbose=0, bint small=False):
    """Greedy k-means++ centres and the rows they were taken from.

    Dense data is ``X``; CSR data is (``data``, ``indices``, ``indptr``) with ``sparse`` set
    (the other representation may be a dummy of the right dtype). ``draws`` holds the
    1 + (n_clusters - 1) * n_trials uniform numbers in [0, 1) of the random draws, in order
    (``RandomState.random_sample``: the first centre's, then n_trials per further centre).
    Returns (centers, indices).

    ``small`` (dense data only) runs :func:`_kpp.kpp_small` instead of the screened passes:
    the same seeds (the caller chooses it for small problems, ``kmix._seeding``).
    Pending signals are handled between centres (Ctrl-C raises KeyboardInterrupt within
    ~0.1 s of the current centre); ``verbose`` > 0 prints the progress about every tenth of
    the centres or every second, whichever comes first.
    """
    cdef Py_ssize_t n = x_sq_norms.shape[0], d = n_features, T = n_trials
    cdef Py_ssize_t nb = n_blocks_for(n, 1), bs = (n + nb - 1) // nb
    cdef Py_ssize_t b, c, t, j, best
    # Wide dense rows: the candidates' distances by few_partial_dists, in place.
    cdef bint wide = d >= GEMM_MIN_FEATURES and not sparse
    if draws.shape[0] != 1 + (n_clusters - 1) * T:
        raise ValueError("draws must hold 1 + (n_clusters - 1) * n_trials uniform numbers")
    if small and sparse:
        raise ValueError("the small-problem path takes dense data")
    dtype = np.float32 if floating is float else np.float64
    centers_arr = np.empty((n_clusters, d), dtype=dtype)
    chosen_arr = np.full(n_clusters, -1, dtype=np.intp)
    cdef floating[:, ::1] centers = centers_arr
    cdef Py_ssize_t[::1] chosen = chosen_arr
    # The first draw's distribution (see _kpp.first_cdf).
    cdef double[::1] cdf = np.empty(n)
    first_cdf(&sample_weight[0], n, float(np.sum(sample_weight)), &cdf[0])
    # The weights as the general path reads them: NULL when every one is 1 (the default),
    # which saves reading them twice a centre (multiplying by 1 changes no value).
    cdef const double *wp = &sample_weight[0]
    if np.all(np.asarray(sample_weight) == 1.0):
        wp = NULL
    if small:
        _seed_small(X, sample_weight, cdf, n_clusters, T, nb, draws, centers, chosen)
        return centers_arr, chosen_arr
    cdef floating[:, ::1] cand = np.zeros((T, d), dtype=dtype)
    cdef floating[:, ::1] candT = np.zeros((d, T), dtype=dtype)
    cdef floating[::1] cnorm = np.zeros(T, dtype=dtype)
    cdef double[::1] closest = np.full(n, INFINITY)
    cdef int[::1] assign = np.zeros(n, dtype=np.int32)
    # prune[j, t]: a quarter of the squared distance from chosen centre j to candidate t.
    cdef double[:, ::1] prune = np.zeros((n_clusters, T))
    # minprune[j]: the smallest of prune[j, :] (a row of centre j is needed when below it).
    cdef double[::1] minprune = np.zeros(n_clusters)
    # Per block: the T candidates' fast potentials, then their error bounds.
    cdef double[:, ::1] block_out = np.zeros((nb, 2 * T))
    # Per row, bit t: whether candidate t could bring the row closer (see _block_potentials;
    # not written where pruned).
    cdef unsigned int[::1] mask = np.zeros(n, dtype=np.uint32)
    cdef double[::1] block_pot = np.zeros(nb)
    cdef double[::1] pots = np.zeros(T)
    cdef Py_ssize_t[::1] ids = np.zeros(T, dtype=np.intp)
    cdef double total, p

    cdef double[::1] cn2 = np.zeros(T)
    # Per candidate: the error-bound terms of its fast distances (see _cand_terms).
    cdef double[::1] ct = np.zeros(T)
    cdef double[::1] cu = np.zeros(T)
    cdef double[::1] bound = np.zeros(T)
    cdef double[:, ::1] block_det = np.zeros((nb, T))
    cdef Py_ssize_t[::1] amb = np.zeros(T, dtype=np.intp)
    cdef Py_ssize_t namb, q
    # Rounding bounds: of the fast distances (in the data's dtype) and of float64 sums.
    cdef double scale = expansion_error_scale(d, floating is float)
    cdef double g = kmix_gamma(d + 6, 0)
    # Wide float64 rows of moderate norms are screened on a float32 copy: the screen reads half
    # the bytes. Its error against the exact partial distance (mixed_error_scale,
    # mixed_abs_error) is scale_m (c + |x| sqrt(c)) + a (1 + 2 sqrt(d) (|x| + sqrt(c))), with
    # a = mixed_abs_unit(d), c the candidate's squared norm (its float64 value: the factor
    # 1 + gamma_{d+1}) and t <= 1 + t^2 for |x| and sqrt(c): at most (scale_m (1 + gamma_{d+1})
    # + 4 a sqrt(d)) (1.5 c + 0.5 |x|^2) + abs0, abs0 = a (1 + 4 sqrt(d)).
    cdef _Screen32 sc
    X32 = None
    cdef float[:, ::1] cand32 = np.zeros((T, d), dtype=np.float32)
    cdef float[:, ::1] candT32 = np.zeros((d, T), dtype=np.float32)
    cdef float[::1] cnorm32 = np.zeros(T, dtype=np.float32)
    sc = _no_screen(&cand32[0, 0], &cnorm32[0])
    if (floating is double and wide and SCREEN32_MIN_VALUES <= n * d <= SCREEN32_MAX_VALUES
            and np.max(x_sq_norms) <= MIXED_MAX_NORM):
        X32 = _screen_float32(X, n, d, n_threads, &sc, &scale)
    cdef double gn = kmix_gamma(n + nb + 2, 0)
    cdef double start = monotonic(), last_check = start, last_print = start
    cdef Py_ssize_t last_done = 0

    ids[0] = draw_first(&cdf[0], n, draws[0])
    with nogil:
        _gather_rows(X, data, indices, indptr, sparse, &ids[0], 1, &cand[0, 0], d)
        memcpy(&centers[0, 0], &cand[0, 0], d * sizeof(floating))
        chosen[0] = ids[0]
        _cand_norms(&cand[0, 0], 1, d, &cn2[0])
        # The first centre is every row's closest: no screen (bit 0), the deterministic
        # distance of every row (prune is 0, closest infinite).
        for b in prange(nb, schedule='dynamic', num_threads=n_threads):
            block_pot[b] = _block_update(X, data, indices, indptr, sparse, &mask[0],
                                         0, wp, b * bs,
                                         imin(n, (b + 1) * bs), &cand[0, 0], cn2[0], d,
                                         &prune[0, 0], T, 0, &closest[0], &assign[0])
    if verbose > 0:
        _progress(1, n_clusters, start, &last_print, &last_done)
    for c in range(1, n_clusters):
        check_interrupt(&last_check)
        with nogil:
            total = sum_in_order(&block_pot[0], nb)
            for t in range(T):
                ids[t] = pick(&closest[0], wp, &block_pot[0], n, nb,
                              draws[1 + (c - 1) * T + t] * total)
            _gather_rows(X, data, indices, indptr, sparse, &ids[0], T, &cand[0, 0], d)
            _prepare_candidates(&cand[0, 0], T, d, &candT[0, 0], &cnorm[0], &cn2[0], scale,
                                &sc, &ct[0], &cu[0], &cand32[0, 0], &candT32[0, 0],
                                &cnorm32[0])
            # A quarter of the squared centre-candidate distances, rounded down (by 4 g: the
            # deterministic distances' relative error is below g) so that a pruned row is
            # one the candidate cannot bring closer.
            for j in prange(c, schedule='static', num_threads=n_threads):
                for t in range(T):
                    prune[j, t] = 0.25 * sq_dist(&centers[j, 0], &cand[t, 0], d) * (1.0 - 4.0 * g)
                minprune[j] = prune[j, 0]
                for t in range(1, T):
                    if prune[j, t] < minprune[j]:
                        minprune[j] = prune[j, t]
            _potentials(X, data, indices, indptr, sparse, n, d, x_sq_norms, wp,
                        cand, candT, cnorm, T, closest, assign, minprune, block_out,
                        &mask[0], &cu[0], wide, n_threads, scale, g, &ct[0], &sc)
            best = _fast_potentials(block_out, T, gn, &pots[0], &bound[0])
            # Candidates the rounding could rank first: decided by deterministic potentials.
            namb = 0
            for t in range(T):
                if t == best or pots[t] - pots[best] <= bound[best] + bound[t]:
                    amb[namb] = t
                    namb += 1
            if namb > 1:
                for b in prange(nb, schedule='dynamic', num_threads=n_threads):
                    for q in range(namb):
                        block_det[b, amb[q]] = _block_det_potential(
                            X, data, indices, indptr, sparse, wp, b * bs,
                            imin(n, (b + 1) * bs), &cand[amb[q], 0], cn2[amb[q]], d,
                            &prune[0, amb[q]], T, &closest[0], &assign[0])
                for q in range(namb):
                    p = 0.0
                    for b in range(nb):
                        p += block_det[b, amb[q]]
                    pots[amb[q]] = p
                best = amb[0]
                for q in range(1, namb):
                    if pots[amb[q]] < pots[best]:
                        best = amb[q]
            memcpy(&centers[c, 0], &cand[best, 0], d * sizeof(floating))
            chosen[c] = ids[best]
            for b in prange(nb, schedule='dynamic', num_threads=n_threads):
                block_pot[b] = _block_update(X, data, indices, indptr, sparse, &mask[0],
                                             _mask_bit(best), wp, b * bs,
                                             imin(n, (b + 1) * bs), &cand[best, 0], cn2[best],
                                             d, &prune[0, best], T, c, &closest[0],
                                             &assign[0])
        if verbose > 0:
            _progress(c + 1, n_clusters, start, &last_print, &last_done)
    return centers_arr, chosen_arr


def few_partial_dists_of_rows(const floating[:, ::1] X, const Py_ssize_t[::1] idx,
                              const floating[:, ::1] C, const floating[::1] cnorm):
    """D[q, t] = cnorm[t] - 2 <X[idx[q]], C[t]> by the seeding's few-candidate kernel
    (:func:`few_partial_dists`), for the kernel tests."""
    cdef Py_ssize_t m = idx.shape[0], nt = C.shape[0], d = X.shape[1]
    cdef floating[:, ::1] D = np.empty((m, nt), dtype=np.asarray(X).dtype)
    if m and nt:
        with nogil:
            few_partial_dists(&X[0, 0], &idx[0], m, d, &C[0, 0], nt, &cnorm[0], &D[0, 0])
    return np.asarray(D)


def kpp_chunk_sums(const Py_ssize_t[::1] idx, const floating[:, ::1] D, const double[::1] xnorm,
                   const double[::1] closest, const double[::1] w, const double[::1] ct,
                   double scale, double g, const double[::1] cu, double abs0, double[::1] acc,
                   double[::1] ecc):
    """The candidates' sums over one chunk of rows (``_kpp_sums.h``, for the kernel tests):
    acc and ecc (one per candidate) are added to in place; returns the rows' masks (0 where
    no row of idx wrote)."""
    cdef Py_ssize_t m = idx.shape[0], nt = D.shape[1], n = xnorm.shape[0]
    if (D.shape[0] != m or ct.shape[0] != nt or cu.shape[0] != nt or acc.shape[0] != nt
            or ecc.shape[0] != nt):
        raise ValueError("D must be len(idx) x nt, ct, cu, acc and ecc of length nt")
    cdef unsigned int[::1] mask = np.zeros(n, dtype=np.uint32)
    if m and nt:
        with nogil:
            if floating is float:
                kmix_kpp_sums_f(&idx[0], m, &D[0, 0], nt, &xnorm[0], &closest[0], &w[0],
                                &ct[0], scale, g, &cu[0], abs0, &mask[0], &acc[0], &ecc[0])
            else:
                kmix_kpp_sums_d(&idx[0], m, &D[0, 0], nt, &xnorm[0], &closest[0], &w[0],
                                &ct[0], scale, g, &cu[0], abs0, &mask[0], &acc[0], &ecc[0])
    return np.asarray(mask)


def candidate_potentials(const floating[:, ::1] X, const floating[:, ::1] centers,
                         floating[:, ::1] cand, const double[::1] w, int n_threads=1,
                         bint screen32=False):
    """One round of the general seeding on dense X, for the tests: given the chosen centres
    (their rows' closest values and nearest centres by the deterministic distances) and the
    candidates ``cand`` (T x d), the candidates' fast potentials and the bounds on how far
    each can be from sum_i w_i min(closest_i, ||x_i - cand_t||^2), as the round's choice
    uses them (rows pruned, chunks evaluated by index or whole). ``w`` None: unit weights,
    passed as the general path passes them (NULL). ``screen32``: float64 rows screened on
    their float32 copy. Returns (pots, bounds)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0], T = cand.shape[0]
    cdef Py_ssize_t nb = n_blocks_for(n, 1), i, j, t
    cdef bint wide = d >= GEMM_MIN_FEATURES
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] dummy = np.zeros(1, dtype=dtype)
    cdef int[::1] idummy = np.zeros(1, dtype=np.int32)
    cdef double[::1] xnorm = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    cdef double[::1] closest = np.full(n, INFINITY)
    cdef int[::1] assign = np.zeros(n, dtype=np.int32)
    cdef double[::1] minprune = np.full(k, INFINITY)
    cdef double e, g = kmix_gamma(d + 6, 0), scale = expansion_error_scale(d, floating is float)
    for i in range(n):
        for j in range(k):
            e = sq_dist(&X[i, 0], &centers[j, 0], d)
            if e < closest[i]:
                closest[i] = e
                assign[i] = <int>j
    for j in range(k):
        for t in range(T):
            e = 0.25 * sq_dist(&centers[j, 0], &cand[t, 0], d) * (1.0 - 4.0 * g)
            if e < minprune[j]:
                minprune[j] = e
    cdef floating[:, ::1] candT = np.zeros((d, T), dtype=dtype)
    cdef floating[::1] cnorm = np.zeros(T, dtype=dtype)
    cdef double[::1] cn2 = np.zeros(T)
    cdef double[::1] ct = np.zeros(T)
    cdef double[::1] cu = np.zeros(T)
    cdef float[:, ::1] cand32 = np.zeros((T, d), dtype=np.float32)
    cdef float[:, ::1] candT32 = np.zeros((d, T), dtype=np.float32)
    cdef float[::1] cnorm32 = np.zeros(T, dtype=np.float32)
    cdef _Screen32 sc
    sc = _no_screen(&cand32[0, 0], &cnorm32[0])
    X32 = _screen_float32(X, n, d, n_threads, &sc, &scale) if screen32 and wide else None
    cdef double[:, ::1] block_out = np.zeros((nb, 2 * T))
    cdef unsigned int[::1] mask = np.zeros(n, dtype=np.uint32)
    pots = np.zeros(T)
    bounds = np.zeros(T)
    cdef double[::1] pv = pots
    cdef double[::1] bv = bounds
    _prepare_candidates(&cand[0, 0], T, d, &candT[0, 0], &cnorm[0], &cn2[0], scale, &sc,
                        &ct[0], &cu[0], &cand32[0, 0], &candT32[0, 0], &cnorm32[0])
    _potentials(X, dummy, idummy, idummy, False, n, d, xnorm, &w[0] if w is not None else NULL,
                cand, candT, cnorm, T,
                closest, assign, minprune, block_out, &mask[0], &cu[0], wide, n_threads,
                scale, g, &ct[0], &sc)
    _fast_potentials(block_out, T, kmix_gamma(n + nb + 2, 0), &pv[0], &bv[0])
    del X32
    return pots, bounds
