"""One compiled pass of EM for Gaussian mixtures: log-densities, responsibilities, statistics.

For every chunk of rows (converted to float64 once), the pass computes the log-density of each
component (``full``: (x - mu_k) U_k by a triangular multiply with the precision's Cholesky
factor; ``tied``: x U once, then distances to the whitened means; ``diag``/``spherical``:
direct weighted squared differences), adds the log-weights, takes a log-sum-exp per row and
turns it into responsibilities, then accumulates the sufficient statistics of the M-step:
N_k = sum w r, and the first and second moments about a shift (``full``: sum w r z and
sum w r z z^T about each component's current mean, by a rank-m update per component;
``diag``/``spherical``: sum w r z and sum w r z^2 about the data's mean, two gemms per chunk;
``tied``: sum w r z, and once the total sum w z z^T). Shifting keeps the moments accurate
where raw moments (scikit-learn's ``diag``/``tied`` formulas) would cancel.

Rows are split into a fixed number of blocks (set by the shape, never by the thread count);
each block accumulates in its own float64 buffers, reduced in block order: results are
bitwise identical for any ``n_threads``. No n x k array is formed unless asked for.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport fabs, log, sqrt
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, dgemv, dsyrk, dtrmm
from scipy.linalg.cython_lapack cimport dpotrf, dtrtri

from _common cimport CHUNK_ROWS, blocks_for, imin
from _interrupt cimport check_interrupt, monotonic

cdef enum:
    FULL = 0
    TIED = 1
    DIAG = 2
    SPHERICAL = 3
    # At most this many row blocks (each with its own statistics buffers).
    MAX_BLOCKS = 16

cdef double LOG_2PI = 1.8378770664093453


cdef inline Py_ssize_t chunk_rows(Py_ssize_t d, Py_ssize_t k) noexcept nogil:
    """Rows per chunk: as many as keep a chunk's d x rows and k x rows doubles near 512 KiB
    (few BLAS calls per pass on narrow data), between 256 and 2048, a multiple of 16."""
    cdef Py_ssize_t r = 65536 // (d if d > k else k)
    if r > 2048:
        r = 2048
    if r < CHUNK_ROWS:
        r = CHUNK_ROWS
    return r - r % 16


cdef inline Py_ssize_t n_blocks(Py_ssize_t n, Py_ssize_t per_block_doubles) noexcept nogil:
    """Row blocks of a pass: <= 16 of >= 1024 rows, fewer for large statistics (<= ~16 MiB)."""
    return blocks_for(n, per_block_doubles, 1024, MAX_BLOCKS, 2 * 1024 * 1024)


cdef extern from "_gmm.h" nogil:
    void kmix_gmm_sqdist(const double *XT, Py_ssize_t m, Py_ssize_t d, const double *mu,
                         const double *p, Py_ssize_t k, double *LT)
    void kmix_gmm_colsumsq(const double *ZT, Py_ssize_t m, Py_ssize_t d, double *out)
    void kmix_gmm_lse(double *LT, Py_ssize_t m, Py_ssize_t k, double dlog2pi,
                      const double *logdet, const double *logw, double *mx, double *s,
                      double *lpn, int *best, double *ent, double *tmp, int normalize)
    void kmix_gmm_exp_array(double *v, Py_ssize_t n)
    void kmix_gmm_log_array(double *v, Py_ssize_t n)
    void kmix_gmm_times_upper_small(const double *U, double *ZT, Py_ssize_t m, Py_ssize_t d)
    void kmix_gmm_gram_small(const double *ZT, double *C, Py_ssize_t m, Py_ssize_t d)
    void kmix_gmm_colsums_small(const double *ZT, const double *v, double *y, Py_ssize_t m,
                                Py_ssize_t d)
    void kmix_gmm_weighted_moments_small(const double *ZT, const double *v, double *S1,
                                         double *S2, Py_ssize_t m, Py_ssize_t d, double *tmp)

cdef enum:
    # Below this many features the pass uses its own loops instead of BLAS calls.
    SMALL_D = 12

#: Features from which a pass without statistics (score_samples, predict) calls BLAS
#: (full and tied covariances only).
BLAS_MIN_FEATURES = SMALL_D


def exp_array(double[::1] v):
    """v <- e^v in place with the kernel's exponential (for v in (-700, 0]; 0 below)."""
    if v.shape[0]:
        kmix_gmm_exp_array(&v[0], v.shape[0])


def log_array(double[::1] v):
    """v <- log v in place with the kernel's logarithm (as libm's to < 1 ulp; log 0 = -inf)."""
    if v.shape[0]:
        kmix_gmm_log_array(&v[0], v.shape[0])


cdef inline void _times_upper(const double *U, double *ZT, Py_ssize_t m, Py_ssize_t d) noexcept nogil:
    """Z <- Z U in place, for Z (m x d) stored transposed (ZT, d x m) and U (d x d, row-major)
    upper triangular."""
    if d < SMALL_D:
        kmix_gmm_times_upper_small(U, ZT, m, d)
        return
    cdef char side = b'R', uplo = b'L', trans = b'T', diag = b'N'
    cdef int dd = <int>d, mm = <int>m
    cdef double one = 1.0
    # Column-major: Z (m x d, ld m) <- Z A^T with A = U^T (the row-major U read column-major).
    dtrmm(&side, &uplo, &trans, &diag, &mm, &dd, &one, <double*>U, &dd, ZT, &mm)


cdef inline void _gram_update(const double *ZT, double *C, Py_ssize_t m, Py_ssize_t d) noexcept nogil:
    """C (d x d) += Z^T Z for Z (m x d) stored transposed; fills C's lower triangle (row-major)."""
    if d < SMALL_D:
        kmix_gmm_gram_small(ZT, C, m, d)
        return
    cdef char uplo = b'U', trans = b'T'
    cdef int dd = <int>d, mm = <int>m
    cdef double one = 1.0
    dsyrk(&uplo, &trans, &dd, &mm, &one, <double*>ZT, &mm, &one, C, &dd)


cdef inline void _add_weighted_columns(const double *ZT, const double *v, double *y,
                                       Py_ssize_t m, Py_ssize_t d) noexcept nogil:
    """y (d) += Z^T v for Z (m x d) stored transposed."""
    if d < SMALL_D:
        kmix_gmm_colsums_small(ZT, v, y, m, d)
        return
    cdef char trans = b'T'
    cdef int dd = <int>d, mm = <int>m, inc = 1
    cdef double one = 1.0
    dgemv(&trans, &mm, &dd, &one, <double*>ZT, &mm, <double*>v, &inc, &one, y, &inc)


cdef inline void _weighted_sums(const double *LT, const double *ZT, double *S, Py_ssize_t m,
                                Py_ssize_t d, Py_ssize_t k) noexcept nogil:
    """S (k x d) += R Z for R (k x m, the weighted responsibilities) and Z (m x d) stored
    transposed (ZT, d x m): S[c, f] += sum_r R[c, r] Z[r, f]."""
    cdef char ta = b'T', tb = b'N'
    cdef int dd = <int>d, mm = <int>m, kk = <int>k
    cdef double one = 1.0
    # Column-major: S^T (d x k) += Z^T (d x m) R^T (m x k).
    dgemm(&ta, &tb, &dd, &kk, &mm, &one, <double*>ZT, &mm, <double*>LT, &mm, &one, S, &dd)


cdef inline void _shifted(const double *XT, const double *s, double *ZT, Py_ssize_t m,
                          Py_ssize_t d) noexcept nogil:
    """ZT[f, r] = XT[f, r] - s[f]."""
    cdef Py_ssize_t f, r
    cdef double a
    for f in range(d):
        a = s[f]
        for r in range(m):
            ZT[f * m + r] = XT[f * m + r] - a


cdef inline void _transpose_rows(const floating *X, Py_ssize_t m, Py_ssize_t d,
                                 double *XT) noexcept nogil:
    """XT (d x m, float64) = X (m x d) transposed, eight rows at a time: each feature's eight
    values fill one cache line of XT (a row-by-row transpose writes d lines per row)."""
    cdef Py_ssize_t r0, r, f, r1
    r0 = 0
    while r0 < m:
        r1 = imin(m, r0 + 8)
        for f in range(d):
            for r in range(r0, r1):
                XT[f * m + r] = X[r * d + f]
        r0 = r1


cdef double _chunk(
    const floating *X, Py_ssize_t m, Py_ssize_t d, Py_ssize_t k, int cov_type,
    const double *w, const double *means, const double *prec, const double *wmeans,
    const double *log_det, const double *log_weights, const double *resp_in,
    const double *shift, bint want_stats, bint want_second, const double *gshift,
    double *N, double *S1, double *S2, double *S2g,
    double *resp_out, double *lpn_out, int *label_out, double *entropy,
    double *XT, double *ZT, double *LT, double *work, int *best,
) noexcept nogil:
    """One chunk of m rows; returns sum_r w_r log p(x_r). The chunk is transposed (XT, d x m);
    LT (k x m) ends as the weighted responsibilities w_r r_rc when statistics are wanted."""
    cdef Py_ssize_t r, c, f
    cdef double t, acc = 0.0
    cdef double *lt
    cdef double *mx = work
    cdef double *sc = work + m
    cdef double *lpn = work + 2 * m
    cdef double *ent = work + 3 * m if entropy != NULL else NULL
    cdef double *tmp = work + 4 * m
    _transpose_rows(X, m, d, XT)
    if resp_in != NULL:
        for c in range(k):
            for r in range(m):
                LT[c * m + r] = resp_in[r * k + c]
    else:
        if cov_type == FULL:
            for c in range(k):
                _shifted(XT, means + c * d, ZT, m, d)
                _times_upper(prec + c * d * d, ZT, m, d)
                kmix_gmm_colsumsq(ZT, m, d, LT + c * m)
        elif cov_type == TIED:
            for f in range(d * m):
                ZT[f] = XT[f]
            _times_upper(prec, ZT, m, d)
            kmix_gmm_sqdist(ZT, m, d, wmeans, NULL, k, LT)
        elif cov_type == DIAG:
            kmix_gmm_sqdist(XT, m, d, means, prec, k, LT)
        else:
            kmix_gmm_sqdist(XT, m, d, means, NULL, k, LT)
            for c in range(k):
                t = prec[c] * prec[c]
                lt = LT + c * m
                for r in range(m):
                    lt[r] = lt[r] * t
        kmix_gmm_lse(LT, m, k, d * LOG_2PI, log_det, log_weights, mx, sc, lpn, best, ent, tmp,
                     want_stats or resp_out != NULL)
        for r in range(m):
            acc += (w[r] if w != NULL else 1.0) * lpn[r]
        if entropy != NULL:
            for r in range(m):
                entropy[0] += (w[r] if w != NULL else 1.0) * ent[r]
        if lpn_out != NULL:
            for r in range(m):
                lpn_out[r] = lpn[r]
        if label_out != NULL:
            for r in range(m):
                label_out[r] = best[r]
        if resp_out != NULL:
            for r in range(m):
                for c in range(k):
                    resp_out[r * k + c] = LT[c * m + r]
    if not want_stats:
        return acc
    for c in range(k):
        lt = LT + c * m
        if w != NULL:
            for r in range(m):
                lt[r] = lt[r] * w[r]
        t = 0.0
        for r in range(m):
            t += lt[r]
        N[c] += t
    if cov_type == FULL:
        # per component, about its own shift (its current mean): z z^T by a rank-m update
        # (small d: sum_r (w r z_f) z_g by dot products, without square roots)
        for c in range(k):
            lt = LT + c * m
            _shifted(XT, shift + c * d, ZT, m, d)
            if d < SMALL_D:
                kmix_gmm_weighted_moments_small(ZT, lt, S1 + c * d, S2 + c * d * d, m, d, sc)
                continue
            _add_weighted_columns(ZT, lt, S1 + c * d, m, d)
            for r in range(m):
                sc[r] = sqrt(lt[r])
            for f in range(d):
                for r in range(m):
                    ZT[f * m + r] = ZT[f * m + r] * sc[r]
            _gram_update(ZT, S2 + c * d * d, m, d)
    else:
        # all components about the data's mean: two gemms (k x m x d) per chunk
        _shifted(XT, gshift, ZT, m, d)
        _weighted_sums(LT, ZT, S1, m, d, k)
        if cov_type != TIED:
            for f in range(d * m):
                XT[f] = ZT[f] * ZT[f]
            _weighted_sums(LT, XT, S2, m, d, k)
        elif want_second:
            # tied: the total second moment (constant over iterations)
            if w != NULL:
                for r in range(m):
                    sc[r] = sqrt(w[r])
                for f in range(d):
                    for r in range(m):
                        ZT[f * m + r] = ZT[f * m + r] * sc[r]
            _gram_update(ZT, S2g, m, d)
    return acc


cdef void _pass_blocks(
    const floating *X, Py_ssize_t n, Py_ssize_t d, Py_ssize_t k, int cov_type,
    const double *w, const double *means, const double *prec, const double *wmeans,
    const double *log_det, const double *log_weights, const double *resp_in,
    const double *shift, bint want_stats, bint want_second, const double *gshift,
    double *bufs, Py_ssize_t per, Py_ssize_t s2_size, Py_ssize_t nb,
    double *part, double *part_ent, bint want_entropy,
    double *resp_out, double *lpn_out, int *label_out, int n_threads,
) noexcept nogil:
    """The pass over nb fixed row blocks: block b's statistics in bufs[b * per:], its
    log-likelihood in part[b] (and entropy in part_ent[b]). Buffers are zeroed here."""
    cdef Py_ssize_t rows = chunk_rows(d, k)
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t blk, s, e, mm
    cdef double *XT
    cdef double *ZT
    cdef double *LT
    cdef double *work
    cdef int *best
    cdef double *B
    cdef double acc
    memset(bufs, 0, nb * per * sizeof(double))
    memset(part, 0, nb * sizeof(double))
    memset(part_ent, 0, nb * sizeof(double))
    with parallel(num_threads=n_threads):
        XT = <double*>malloc(rows * d * sizeof(double))
        ZT = <double*>malloc(rows * d * sizeof(double))
        LT = <double*>malloc(rows * k * sizeof(double))
        work = <double*>malloc(5 * rows * sizeof(double))
        best = <int*>malloc(rows * sizeof(int))
        for blk in prange(nb, schedule='dynamic'):
            B = bufs + blk * per
            acc = 0.0
            s = blk * bs
            e = imin(n, s + bs)
            while s < e:
                mm = imin(rows, e - s)
                acc = acc + _chunk(
                    X + s * d, mm, d, k, cov_type,
                    w + s if w != NULL else NULL,
                    means, prec, wmeans, log_det, log_weights,
                    resp_in + s * k if resp_in != NULL else NULL, shift, want_stats,
                    want_second, gshift,
                    B, B + k, B + k + k * d, B + k + k * d + s2_size,
                    resp_out + s * k if resp_out != NULL else NULL,
                    lpn_out + s if lpn_out != NULL else NULL,
                    label_out + s if label_out != NULL else NULL,
                    part_ent + blk if want_entropy else NULL,
                    XT, ZT, LT, work, best)
                s = s + mm
            part[blk] = acc
        free(XT)
        free(ZT)
        free(LT)
        free(work)
        free(best)


cdef void _reduce_blocks(const double *bufs, Py_ssize_t nb, Py_ssize_t per,
                         double *out) noexcept nogil:
    """out (per) = sum of the block buffers in block order (bitwise reproducible)."""
    cdef Py_ssize_t b, i
    memset(out, 0, per * sizeof(double))
    for b in range(nb):
        for i in range(per):
            out[i] += bufs[b * per + i]


cdef inline Py_ssize_t _s2_size(int cov_type, Py_ssize_t k, Py_ssize_t d) noexcept nogil:
    if cov_type == FULL:
        return k * d * d
    if cov_type == DIAG or cov_type == SPHERICAL:
        return k * d
    return 0


def em_pass(const floating[:, ::1] X, const double[::1] sample_weight, int cov_type,
            const double[:, ::1] means, const double[::1] prec, const double[::1] log_det,
            const double[::1] log_weights, const double[:, ::1] resp_in,
            const double[:, ::1] shift, bint want_stats, const double[::1] gshift,
            double[::1] N_out, double[:, ::1] S1_out, double[::1] S2_out, double[::1] S2g_out,
            double[:, ::1] resp_out, double[::1] lpn_out, int[::1] label_out,
            bint want_entropy, int n_threads):
    """One pass over X; returns (sum_i w_i log p(x_i), sum_i w_i sum_k r_ik log r_ik) (zeros
    when ``resp_in`` is given; the second only with ``want_entropy``).

    Parameters (k components, d features; empty arrays mean "not given"/"not wanted"):
    sample_weight (n), cov_type (0 full, 1 tied, 2 diag, 3 spherical), means (k x d),
    prec: the precision's Cholesky factor flattened (full k*d*d upper-triangular factors,
    tied d*d, diag k*d, spherical k), log_det (k) of those factors, log_weights (k);
    resp_in (n x k): use these responsibilities instead of computing them (initialisation);
    shift (k x d): origin of each component's moments (full); gshift (d): the origin of all
    moments of the other types; want_stats: accumulate into N_out (k), S1_out (k x d) and
    S2_out (full k*d*d, lower triangles; diag/spherical k*d); S2g_out (d*d): also the total
    second moment about gshift (tied);
    resp_out (n x k), lpn_out (n) and label_out (n): per-row responsibilities, log-density
    and most likely component.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef bint given_resp = resp_in.shape[0] > 0
    cdef bint want_second = S2g_out.shape[0] > 0
    cdef Py_ssize_t s2_size = _s2_size(cov_type, k, d)
    cdef Py_ssize_t per = k + k * d + s2_size + (d * d if want_second else 0) + 1
    cdef Py_ssize_t nb = n_blocks(n, per if want_stats else 1)
    cdef Py_ssize_t s, e, j
    if not want_stats:
        per = 1
    cdef double[:, ::1] bufs = np.empty((nb, per))
    cdef double[::1] part = np.empty(nb)
    cdef double[::1] part_ent = np.empty(nb)
    cdef double[::1] stats_v
    cdef double[:, ::1] wmeans = np.zeros((k if cov_type == TIED else 1, d))
    cdef double acc, total = 0.0, total_ent = 0.0
    if n == 0:
        return 0.0, 0.0
    if given_resp and (resp_in.shape[0] != n or resp_in.shape[1] != k):
        raise ValueError("resp_in must have shape (n_samples, n_components)")
    if want_stats and (S2_out.shape[0] != s2_size or S1_out.shape[0] != k
                       or S1_out.shape[1] != d or N_out.shape[0] != k):
        raise ValueError("statistics buffers have wrong shapes")
    if want_second and S2g_out.shape[0] != d * d:
        raise ValueError("second-moment buffer has a wrong shape")
    if want_stats and cov_type != FULL and gshift.shape[0] != d:
        raise ValueError("gshift must have n_features entries")
    if cov_type == TIED and not given_resp:
        # whitened means mu_k U, once per pass
        for j in range(k):
            for e in range(d):
                acc = 0.0
                for s in range(e + 1):
                    acc = acc + means[j, s] * prec[s * d + e]
                wmeans[j, e] = acc
    with nogil:
        _pass_blocks(&X[0, 0], n, d, k, cov_type,
                     &sample_weight[0] if sample_weight.shape[0] > 0 else NULL,
                     &means[0, 0], &prec[0], &wmeans[0, 0], &log_det[0], &log_weights[0],
                     &resp_in[0, 0] if given_resp else NULL, &shift[0, 0], want_stats,
                     want_second, &gshift[0] if gshift.shape[0] > 0 else NULL,
                     &bufs[0, 0], per, s2_size, nb, &part[0], &part_ent[0], want_entropy,
                     &resp_out[0, 0] if resp_out.shape[0] > 0 else NULL,
                     &lpn_out[0] if lpn_out.shape[0] > 0 else NULL,
                     &label_out[0] if label_out.shape[0] > 0 else NULL, n_threads)
    for j in range(nb):
        total += part[j]
        total_ent += part_ent[j]
    if want_stats:
        stats = np.empty(per)
        stats_v = stats
        _reduce_blocks(&bufs[0, 0], nb, per, &stats_v[0])
        np.asarray(N_out)[:] = stats[:k]
        np.asarray(S1_out)[:, :] = stats[k:k + k * d].reshape(k, d)
        if s2_size:
            np.asarray(S2_out)[:] = stats[k + k * d:k + k * d + s2_size]
        if want_second:
            np.asarray(S2g_out)[:] = stats[k + k * d + s2_size:k + k * d + s2_size + d * d]
    return total, total_ent


cdef extern from "float.h":
    double DBL_EPSILON


cdef void _log_terms(const double *prec, const double *weights, Py_ssize_t k, Py_ssize_t d,
                     int cov_type, double *log_det, double *log_weights) noexcept nogil:
    """log-determinants of the precision factors (full, diag, spherical) and log-weights:
    the per-component constants of a pass."""
    cdef Py_ssize_t c, a
    cdef double acc
    for c in range(k):
        log_weights[c] = log(weights[c])
        acc = 0.0
        if cov_type == FULL:
            for a in range(d):
                acc += log(prec[c * d * d + a * d + a])
        elif cov_type == DIAG:
            for a in range(d):
                acc += log(prec[c * d + a])
        else:
            acc = d * log(prec[c])
        log_det[c] = acc


cdef inline double _variance_floor(double v, double mean) noexcept nogil:
    """A variance within the float64 resolution of the raw second moment (|v| <= eps mean^2)
    and not positive becomes eps mean^2: what scikit-learn's raw-moment formula leaves there
    (kmix's moments about a shift give exactly 0 for a component collapsed on one point away
    from the origin), so that such a fit with reg_covar=0 runs on as scikit-learn's does.
    Mirrors ``kmix._mixture.variance_floor``."""
    cdef double floor = DBL_EPSILON * (mean * mean)
    if v <= 0 and v >= -floor:
        return floor
    return v


cdef Py_ssize_t _m_step(const double *stats, const double *shift, Py_ssize_t k, Py_ssize_t d,
                        int cov_type, double reg_covar, double *weights, double *means,
                        double *covs, double *prec, double *work) noexcept nogil:
    """M-step of GaussianMixture from a pass's statistics (N, S1, S2 about ``shift``), with
    the formulas of ``kmix._mixture.gaussian_parameters`` (full, diag, spherical), and the
    precision's Cholesky factors as ``kmix._mixture.precision_cholesky`` gives them.
    ``weights`` receives nk = N + 10 eps (unnormalised).

    Returns -1, or the first component whose covariance is not positive definite."""
    cdef const double *N = stats
    cdef const double *S1 = stats + k
    cdef const double *S2 = stats + k + k * d
    cdef Py_ssize_t c, a, b
    cdef double nk, dlt_a, v, acc
    cdef double *dl = work
    cdef double *cov
    cdef double *L
    cdef double *U
    cdef char uplo = b'U', diag = b'N'
    cdef int dd = <int>d, info
    for c in range(k):
        nk = N[c] + 10 * DBL_EPSILON
        weights[c] = nk
        for a in range(d):
            means[c * d + a] = (S1[c * d + a] + N[c] * shift[c * d + a]) / nk
            dl[a] = means[c * d + a] - shift[c * d + a]
        if cov_type == FULL:
            cov = covs + c * d * d
            for a in range(d):
                dlt_a = dl[a]
                for b in range(a + 1):
                    v = ((S2[c * d * d + a * d + b] - dlt_a * S1[c * d + b])
                         - S1[c * d + a] * dl[b] + (N[c] * dlt_a) * dl[b]) / nk
                    cov[a * d + b] = v
                    cov[b * d + a] = v
                cov[a * d + a] += reg_covar
        else:
            acc = 0.0
            for a in range(d):
                v = ((S2[c * d + a] - 2 * dl[a] * S1[c * d + a]) + N[c] * (dl[a] * dl[a])) / nk
                if reg_covar == 0:
                    v = _variance_floor(v, means[c * d + a])
                v = v + reg_covar
                if cov_type == DIAG:
                    covs[c * d + a] = v
                else:
                    acc += v
            if cov_type == SPHERICAL:
                covs[c] = acc / d
    if cov_type == FULL:
        for c in range(k):
            # Row-major lower Cholesky factor L (LAPACK's upper factor read column-major),
            # then L^-1 in place; the precision's factor U = (L^-1)^T.
            L = work + d
            for a in range(d * d):
                L[a] = covs[c * d * d + a]
            dpotrf(&uplo, &dd, L, &dd, &info)
            if info != 0:
                return c
            dtrtri(&uplo, &diag, &dd, L, &dd, &info)
            if info != 0:
                return c
            U = prec + c * d * d
            for a in range(d):
                for b in range(d):
                    U[a * d + b] = L[b * d + a] if b >= a else 0.0
    else:
        # diag: k x d variances; spherical: k
        for c in range(k * d if cov_type == DIAG else k):
            if covs[c] <= 0.0:
                return c // d if cov_type == DIAG else c
            prec[c] = 1.0 / sqrt(covs[c])
    return -1


def em_run(const floating[:, ::1] X, const double[::1] sample_weight, int cov_type,
           double[::1] weights, double[:, ::1] means, double[::1] covs, double[::1] prec,
           double reg_covar, double tol, int max_iter, double total_weight,
           const double[::1] gshift, double lower_bound, double[::1] lower_bounds,
           int n_threads):
    """EM iterations of GaussianMixture (full, diag or spherical) in one compiled call.

    Starts from ``weights`` (k), ``means`` (k x d) and ``prec`` (the precision's Cholesky
    factors, flattened as for :func:`em_pass`) and repeats scikit-learn's loop: a pass (lower
    bound = sum w log p / total_weight, statistics), the M-step, and a stop when the bound
    changed by less than ``tol`` (from ``lower_bound``: -inf, or the previous fit's bound for
    a warm start), at most ``max_iter`` times. The parameters are updated in
    place (``covs``: k*d*d, k*d or k values) and the bounds written to ``lower_bounds``.

    Returns (n_iter, converged, lower_bound, bad_component): bad_component >= 0 means the
    M-step of the last iteration found that component's covariance not positive definite
    (the parameters are then partly updated and must be discarded). Pending signals are
    handled between iterations: Ctrl-C raises KeyboardInterrupt (the parameters are then
    partly updated too).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef Py_ssize_t s2_size = _s2_size(cov_type, k, d)
    cdef Py_ssize_t per = k + k * d + s2_size + 1
    cdef Py_ssize_t nb = n_blocks(n, per)
    cdef Py_ssize_t it = 0, c, a, bad = -1
    cdef double lb = lower_bound, prev, total, nk_total, last_check = monotonic()
    cdef bint converged = False
    if cov_type == TIED:
        raise ValueError("em_run does not handle tied covariances")
    if n == 0 or max_iter < 1:
        raise ValueError("em_run needs samples and max_iter >= 1")
    if lower_bounds.shape[0] < max_iter or weights.shape[0] != k or gshift.shape[0] != d:
        raise ValueError("em_run buffers have wrong shapes")
    cdef double[:, ::1] bufs = np.empty((nb, per))
    cdef double[::1] part = np.empty(nb)
    cdef double[::1] part_ent = np.empty(nb)
    cdef double[::1] stats = np.empty(per)
    cdef double[:, ::1] shift = np.empty((k, d))
    cdef double[::1] log_det = np.empty(k)
    cdef double[::1] log_weights = np.empty(k)
    cdef double[::1] work = np.empty(d + d * d)
    cdef double[:, ::1] wmeans = np.zeros((1, d))
    with nogil:
        _log_terms(&prec[0], &weights[0], k, d, cov_type, &log_det[0], &log_weights[0])
        while it < max_iter:
            if it > 0:
                check_interrupt(&last_check)
            it += 1
            # moments about each component's current mean (full) or the data's mean
            for c in range(k):
                for a in range(d):
                    shift[c, a] = means[c, a] if cov_type == FULL else gshift[a]
            _pass_blocks(&X[0, 0], n, d, k, cov_type,
                         &sample_weight[0] if sample_weight.shape[0] > 0 else NULL,
                         &means[0, 0], &prec[0], &wmeans[0, 0], &log_det[0], &log_weights[0],
                         NULL, &shift[0, 0], True, False, &gshift[0],
                         &bufs[0, 0], per, s2_size, nb, &part[0], &part_ent[0], False,
                         NULL, NULL, NULL, n_threads)
            total = 0.0
            for c in range(nb):
                total += part[c]
            _reduce_blocks(&bufs[0, 0], nb, per, &stats[0])
            prev = lb
            lb = total / total_weight
            lower_bounds[it - 1] = lb
            bad = _m_step(&stats[0], &shift[0, 0], k, d, cov_type, reg_covar, &weights[0],
                          &means[0, 0], &covs[0], &prec[0], &work[0])
            if bad >= 0:
                break
            # weights = nk / sum(nk), then the constants of the next pass
            nk_total = 0.0
            for c in range(k):
                nk_total += weights[c]
            for c in range(k):
                weights[c] = weights[c] / nk_total
            _log_terms(&prec[0], &weights[0], k, d, cov_type, &log_det[0], &log_weights[0])
            if fabs(lb - prev) < tol:
                converged = True
                break
    return it, converged, lb, bad


def m_step(const double[::1] N, const double[:, ::1] S1, const double[::1] S2,
           const double[:, ::1] shift, int cov_type, double reg_covar):
    """The compiled M-step of :func:`em_run` on given statistics (full, diag, spherical).

    Returns (nk, means, covariances, precision Cholesky factors, bad_component), nk = N + 10
    eps unnormalised, the last two flat; bad_component >= 0 names a covariance that is not
    positive definite."""
    cdef Py_ssize_t k = S1.shape[0], d = S1.shape[1]
    cdef Py_ssize_t s2_size = _s2_size(cov_type, k, d), size, bad
    if cov_type == TIED:
        raise ValueError("m_step does not handle tied covariances")
    if N.shape[0] != k or S2.shape[0] != s2_size or shift.shape[0] != k or shift.shape[1] != d:
        raise ValueError("m_step statistics have wrong shapes")
    size = k * d * d if cov_type == FULL else (k * d if cov_type == DIAG else k)
    stats_arr = np.concatenate([N, np.asarray(S1).ravel(), S2])
    nk = np.empty(k)
    means = np.empty((k, d))
    covs = np.empty(size)
    prec = np.empty(size)
    cdef double[::1] st = stats_arr, w = nk, c = covs, p = prec
    cdef double[:, ::1] mu = means
    cdef double[::1] work = np.empty(d + d * d)
    bad = _m_step(&st[0], &shift[0, 0], k, d, cov_type, reg_covar, &w[0], &mu[0, 0], &c[0],
                  &p[0], &work[0])
    return nk, means, covs, prec, bad
