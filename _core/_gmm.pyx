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

Entry points, one per job: :func:`em_statistics` (the E-step pass and its statistics),
:func:`initial_statistics` (statistics of given responsibilities), :func:`log_density`,
:func:`responsibilities` and :func:`most_likely` (scoring passes), :func:`em_run` (all the
iterations of GaussianMixture) and :func:`m_step`. Their arguments come grouped:
:class:`Components` (the parameters a pass reads), :class:`Statistics` (what a statistics
pass writes), :class:`Parameters` (what em_run updates); inside, the C structs Model, RowIO,
StatsSpec, Blocks and Scratch.
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


# --------------------------------------------------------------------------------------------
# A pass, grouped by role
# --------------------------------------------------------------------------------------------
cdef struct Model:
    # IN: a mixture's parameters as a pass reads them (k components, d features, float64).
    int cov_type             # FULL, TIED, DIAG or SPHERICAL
    Py_ssize_t k
    Py_ssize_t d
    const double *means      # k x d
    # the precision's Cholesky factors: full k x d x d (upper triangular), tied d x d, diag
    # k x d, spherical k
    const double *prec
    const double *wmeans     # tied: the whitened means mu_k U (k x d); unused otherwise
    const double *log_det    # k: log det of each factor (plus any per-component term)
    const double *log_weights    # k


cdef struct RowIO:
    # What a pass reads and writes per row; NULL where not given or not wanted.
    const double *weight     # IN n sample weights (NULL: all ones)
    const double *resp_in    # IN n x k responsibilities used instead of the model's
    double *resp             # OUT n x k responsibilities
    double *lpn              # OUT n log-densities log p(x)
    int *label               # OUT n most likely components


cdef struct StatsSpec:
    # IN: which statistics the pass accumulates, and about which origins.
    bint stats               # N (k), S1 (k x d) and S2 (s2_size doubles)
    bint second              # also S2g (d x d), the total second moment about gshift (tied)
    const double *shift      # k x d: origin of each component's moments (full)
    const double *gshift     # d: origin of the other types' moments
    Py_ssize_t s2_size


cdef struct Blocks:
    # The fixed row blocks of a pass (never set by the thread count) and their partial sums.
    Py_ssize_t nb            # number of blocks
    Py_ssize_t per           # doubles of a block's statistics: N, S1, S2, S2g (+1)
    double *bufs             # OUT nb x per
    double *part             # OUT nb: sum w log p per block
    double *part_ent         # OUT nb: sum w r log r per block
    bint entropy             # whether part_ent is wanted


cdef struct Scratch:
    # Per-thread scratch of a chunk of up to `rows` rows (chunk_rows).
    double *XT               # d x rows: the chunk transposed, in float64
    double *ZT               # d x rows: the chunk shifted or whitened
    double *LT               # k x rows: log-densities, then responsibilities
    double *work             # 5 x rows
    int *best                # rows


cdef inline double _weight(const double *w, Py_ssize_t r) noexcept nogil:
    return w[r] if w != NULL else 1.0


cdef void _log_densities(const double *XT, Py_ssize_t m, const Model *mo, double *ZT,
                         double *LT) noexcept nogil:
    """LT (k x m) = each row's squared Mahalanobis distance to each component (the chunk
    transposed in XT, d x m; ZT is scratch)."""
    cdef Py_ssize_t r, c, f, k = mo.k, d = mo.d
    cdef double t
    cdef double *lt
    if mo.cov_type == FULL:
        for c in range(k):
            _shifted(XT, mo.means + c * d, ZT, m, d)
            _times_upper(mo.prec + c * d * d, ZT, m, d)
            kmix_gmm_colsumsq(ZT, m, d, LT + c * m)
    elif mo.cov_type == TIED:
        for f in range(d * m):
            ZT[f] = XT[f]
        _times_upper(mo.prec, ZT, m, d)
        kmix_gmm_sqdist(ZT, m, d, mo.wmeans, NULL, k, LT)
    elif mo.cov_type == DIAG:
        kmix_gmm_sqdist(XT, m, d, mo.means, mo.prec, k, LT)
    else:
        kmix_gmm_sqdist(XT, m, d, mo.means, NULL, k, LT)
        for c in range(k):
            t = mo.prec[c] * mo.prec[c]
            lt = LT + c * m
            for r in range(m):
                lt[r] = lt[r] * t


cdef double _posteriors(Py_ssize_t s, Py_ssize_t m, const Model *mo, const RowIO *io,
                        bint normalize, double *entropy, Scratch *sc) noexcept nogil:
    """Rows s .. s + m from their squared distances in sc.LT: log-densities, most likely
    components and (with ``normalize``) responsibilities in sc.LT, the wanted per-row
    outputs written; adds sum w r log r to entropy[0] (unless NULL). Returns sum w log p."""
    cdef Py_ssize_t r, c, k = mo.k
    cdef double acc = 0.0
    cdef double *LT = sc.LT
    cdef double *lpn = sc.work + 2 * m
    cdef double *ent = sc.work + 3 * m if entropy != NULL else NULL
    cdef const double *w = io.weight + s if io.weight != NULL else NULL
    kmix_gmm_lse(LT, m, k, mo.d * LOG_2PI, mo.log_det, mo.log_weights, sc.work,
                 sc.work + m, lpn, sc.best, ent, sc.work + 4 * m, normalize)
    for r in range(m):
        acc += _weight(w, r) * lpn[r]
    if entropy != NULL:
        for r in range(m):
            entropy[0] += _weight(w, r) * ent[r]
    if io.lpn != NULL:
        for r in range(m):
            io.lpn[s + r] = lpn[r]
    if io.label != NULL:
        for r in range(m):
            io.label[s + r] = sc.best[r]
    if io.resp != NULL:
        for r in range(m):
            for c in range(k):
                io.resp[(s + r) * k + c] = LT[c * m + r]
    return acc


cdef void _accumulate(Py_ssize_t m, const Model *mo, const double *w, const StatsSpec *st,
                      double *B, Scratch *sc) noexcept nogil:
    """Add a chunk's M-step statistics to a block's buffer B (N, S1, S2, S2g), from the
    chunk's responsibilities in sc.LT (turned into w r in place) and the chunk in sc.XT."""
    cdef Py_ssize_t r, c, f, k = mo.k, d = mo.d
    cdef double t
    cdef double *lt
    cdef double *XT = sc.XT
    cdef double *ZT = sc.ZT
    cdef double *LT = sc.LT
    cdef double *tmp = sc.work + m
    cdef double *N = B
    cdef double *S1 = B + k
    cdef double *S2 = B + k + k * d
    cdef double *S2g = B + k + k * d + st.s2_size
    for c in range(k):
        lt = LT + c * m
        if w != NULL:
            for r in range(m):
                lt[r] = lt[r] * w[r]
        t = 0.0
        for r in range(m):
            t += lt[r]
        N[c] += t
    if mo.cov_type == FULL:
        # per component, about its own shift (its current mean): z z^T by a rank-m update
        # (small d: sum_r (w r z_f) z_g by dot products, without square roots)
        for c in range(k):
            lt = LT + c * m
            _shifted(XT, st.shift + c * d, ZT, m, d)
            if d < SMALL_D:
                kmix_gmm_weighted_moments_small(ZT, lt, S1 + c * d, S2 + c * d * d, m, d, tmp)
                continue
            _add_weighted_columns(ZT, lt, S1 + c * d, m, d)
            for r in range(m):
                tmp[r] = sqrt(lt[r])
            for f in range(d):
                for r in range(m):
                    ZT[f * m + r] = ZT[f * m + r] * tmp[r]
            _gram_update(ZT, S2 + c * d * d, m, d)
    else:
        # all components about the data's mean: two gemms (k x m x d) per chunk
        _shifted(XT, st.gshift, ZT, m, d)
        _weighted_sums(LT, ZT, S1, m, d, k)
        if mo.cov_type != TIED:
            for f in range(d * m):
                XT[f] = ZT[f] * ZT[f]
            _weighted_sums(LT, XT, S2, m, d, k)
        elif st.second:
            # tied: the total second moment (constant over iterations)
            if w != NULL:
                for r in range(m):
                    tmp[r] = sqrt(w[r])
                for f in range(d):
                    for r in range(m):
                        ZT[f * m + r] = ZT[f * m + r] * tmp[r]
            _gram_update(ZT, S2g, m, d)


cdef double _chunk(const floating *X, Py_ssize_t s, Py_ssize_t m, const Model *mo,
                   const RowIO *io, const StatsSpec *st, double *B, double *entropy,
                   Scratch *sc) noexcept nogil:
    """Rows s .. s + m of X: their densities and wanted outputs (:func:`_posteriors`), or the
    given responsibilities, then (when wanted) their statistics added to the block's buffer
    B (:func:`_accumulate`). Returns sum w log p (0 with given responsibilities)."""
    cdef Py_ssize_t r, c, k = mo.k
    cdef double acc = 0.0
    _transpose_rows(X + s * mo.d, m, mo.d, sc.XT)
    if io.resp_in != NULL:
        for c in range(k):
            for r in range(m):
                sc.LT[c * m + r] = io.resp_in[(s + r) * k + c]
    else:
        _log_densities(sc.XT, m, mo, sc.ZT, sc.LT)
        acc = _posteriors(s, m, mo, io, st.stats or io.resp != NULL, entropy, sc)
    if st.stats:
        _accumulate(m, mo, io.weight + s if io.weight != NULL else NULL, st, B, sc)
    return acc


cdef inline Scratch _new_scratch(Py_ssize_t rows, Py_ssize_t d, Py_ssize_t k) noexcept nogil:
    """A thread's scratch for chunks of up to ``rows`` rows."""
    cdef Scratch sc
    sc.XT = <double*>malloc(rows * d * sizeof(double))
    sc.ZT = <double*>malloc(rows * d * sizeof(double))
    sc.LT = <double*>malloc(rows * k * sizeof(double))
    sc.work = <double*>malloc(5 * rows * sizeof(double))
    sc.best = <int*>malloc(rows * sizeof(int))
    return sc


cdef void _pass_blocks(const floating *X, Py_ssize_t n, const Model *mo, const RowIO *io,
                       const StatsSpec *st, const Blocks *blk, int n_threads) noexcept nogil:
    """The pass over the blk.nb fixed row blocks: block b's statistics in blk.bufs[b *
    per:], its log-likelihood in blk.part[b] (and entropy in blk.part_ent[b]). The blocks'
    buffers are zeroed here."""
    cdef Py_ssize_t rows = chunk_rows(mo.d, mo.k)
    cdef Py_ssize_t bs = (n + blk.nb - 1) // blk.nb
    cdef Py_ssize_t b, s, e, mm
    cdef Scratch sc
    cdef double acc
    memset(blk.bufs, 0, blk.nb * blk.per * sizeof(double))
    memset(blk.part, 0, blk.nb * sizeof(double))
    memset(blk.part_ent, 0, blk.nb * sizeof(double))
    with parallel(num_threads=n_threads):
        sc = _new_scratch(rows, mo.d, mo.k)
        for b in prange(blk.nb, schedule='dynamic'):
            acc = 0.0
            s = b * bs
            e = imin(n, s + bs)
            while s < e:
                mm = imin(rows, e - s)
                acc = acc + _chunk(X, s, mm, mo, io, st, blk.bufs + b * blk.per,
                                   blk.part_ent + b if blk.entropy else NULL, &sc)
                s = s + mm
            blk.part[b] = acc
        free(sc.XT)
        free(sc.ZT)
        free(sc.LT)
        free(sc.work)
        free(sc.best)


cdef void _reduce_blocks(const double *bufs, Py_ssize_t nb, Py_ssize_t per,
                         double *out) noexcept nogil:
    """out (per) = sum of the block buffers in block order (bitwise reproducible)."""
    cdef Py_ssize_t b, i
    memset(out, 0, per * sizeof(double))
    for b in range(nb):
        for i in range(per):
            out[i] += bufs[b * per + i]


cdef inline Py_ssize_t _factor_size(int cov_type, Py_ssize_t k, Py_ssize_t d) noexcept nogil:
    """Values of the precision factors (and covariances) of a type, flattened."""
    if cov_type == FULL:
        return k * d * d
    if cov_type == TIED:
        return d * d
    return k * d if cov_type == DIAG else k


cdef inline Py_ssize_t _s2_size(int cov_type, Py_ssize_t k, Py_ssize_t d) noexcept nogil:
    if cov_type == FULL:
        return k * d * d
    if cov_type == DIAG or cov_type == SPHERICAL:
        return k * d
    return 0


# --------------------------------------------------------------------------------------------
# The passes' containers
# --------------------------------------------------------------------------------------------
cdef class Components:
    """IN: a mixture's parameters as the passes read them (k components, d features).

    Parameters
    ----------
    cov_type : int
        0 full, 1 tied, 2 diag, 3 spherical.
    means : (k, d) float64, C order
    prec : float64, flat
        The precision's Cholesky factors: full k*d*d upper-triangular factors, tied d*d,
        diag k*d, spherical k.
    log_det : (k,) float64
        log det of each factor, plus any per-component term of the log-density.
    log_weights : (k,) float64

    The arrays are the caller's (not copied); tied mixtures also get their whitened means
    mu_k U, computed once here.
    """
    cdef readonly int cov_type
    cdef readonly const double[:, ::1] means
    cdef readonly const double[::1] prec
    cdef readonly const double[::1] log_det
    cdef readonly const double[::1] log_weights
    cdef double[:, ::1] wmeans

    def __init__(self, int cov_type, const double[:, ::1] means, const double[::1] prec,
                 const double[::1] log_det, const double[::1] log_weights):
        cdef Py_ssize_t k = means.shape[0], d = means.shape[1], j, e, s
        cdef double acc
        if cov_type not in (FULL, TIED, DIAG, SPHERICAL):
            raise ValueError(f"cov_type must be 0, 1, 2 or 3, got {cov_type}")
        if k == 0 or prec.shape[0] != _factor_size(cov_type, k, d):
            raise ValueError(f"prec must have {_factor_size(cov_type, k, d)} values, got "
                             f"{prec.shape[0]}")
        if log_det.shape[0] != k or log_weights.shape[0] != k:
            raise ValueError("log_det and log_weights must have one value per component")
        self.cov_type = cov_type
        self.means = means
        self.prec = prec
        self.log_det = log_det
        self.log_weights = log_weights
        self.wmeans = np.zeros((k if cov_type == TIED else 1, d))
        if cov_type == TIED:
            # whitened means mu_k U, once per pass
            for j in range(k):
                for e in range(d):
                    acc = 0.0
                    for s in range(e + 1):
                        acc = acc + means[j, s] * prec[s * d + e]
                    self.wmeans[j, e] = acc

    cdef Model model(self):
        cdef Model mo
        mo.cov_type = self.cov_type
        mo.k = self.means.shape[0]
        mo.d = self.means.shape[1]
        mo.means = &self.means[0, 0]
        mo.prec = &self.prec[0]
        mo.wmeans = &self.wmeans[0, 0]
        mo.log_det = &self.log_det[0]
        mo.log_weights = &self.log_weights[0]
        return mo


cdef class Statistics:
    """OUT: the M-step statistics of a pass, about given origins (float64 numpy arrays).

    Parameters
    ----------
    cov_type : int
        0 full, 1 tied, 2 diag, 3 spherical.
    shift : (k, d) float64, C order, IN
        The origin of each component's moments (full; the other types use ``gshift``).
    gshift : (d,) float64, IN
        The origin of the other types' moments (the data's mean).
    second : bool
        Whether to sum the total second moment S2g too (tied, once per fit).

    Attributes (written by a pass)
    ------------------------------
    N : (k,) sum of w r per component
    S1 : (k, d) sum of w r z, z = x minus the origin
    S2 : full (k*d*d,) lower triangles of sum w r z z^T; diag/spherical (k*d,) sum w r z^2;
        tied (0,)
    S2g : (d*d,) lower triangle of sum w z z^T about gshift (with ``second``), else (0,)
    shift, gshift : the origins, as given
    """
    cdef readonly int cov_type
    cdef readonly object N, S1, S2, S2g, shift, gshift

    def __init__(self, int cov_type, shift, gshift, bint second):
        cdef const double[:, ::1] shift_v = shift
        cdef const double[::1] gshift_v = gshift
        cdef Py_ssize_t k = shift_v.shape[0], d = shift_v.shape[1]
        if gshift_v.shape[0] != d:
            raise ValueError("gshift must have n_features entries")
        self.cov_type = cov_type
        self.shift = shift
        self.gshift = gshift
        self.N = np.zeros(k)
        self.S1 = np.zeros((k, d))
        self.S2 = np.zeros(_s2_size(cov_type, k, d))
        self.S2g = np.zeros(d * d if second else 0)


cdef tuple _statistics_pass(const floating[:, ::1] X, const RowIO *io, const Model *mo,
                            Statistics stats, bint want_entropy, int n_threads):
    """The statistics pass of :func:`em_statistics` (or, with io.resp_in, of
    :func:`initial_statistics`): returns (sum w log p, sum w r log r)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = mo.k, j
    cdef const double[:, ::1] shift = stats.shift
    cdef const double[::1] gshift = stats.gshift
    cdef double[::1] reduced
    cdef double total = 0.0, total_ent = 0.0
    cdef StatsSpec st
    cdef Blocks blk
    if shift.shape[0] != k or shift.shape[1] != d or stats.cov_type != mo.cov_type:
        raise ValueError("statistics do not match the mixture and the data")
    st.stats = True
    st.second = stats.S2g.shape[0] > 0
    st.shift = &shift[0, 0]
    st.gshift = &gshift[0]
    st.s2_size = stats.S2.shape[0]
    _arrays = _new_blocks(&blk, n, k + k * d + st.s2_size + (d * d if st.second else 0) + 1,
                         want_entropy)
    with nogil:
        _pass_blocks(&X[0, 0], n, mo, io, &st, &blk, n_threads)
    for j in range(blk.nb):
        total += blk.part[j]
        total_ent += blk.part_ent[j]
    reduced_arr = np.empty(blk.per)
    reduced = reduced_arr
    _reduce_blocks(blk.bufs, blk.nb, blk.per, &reduced[0])
    stats.N[:] = reduced_arr[:k]
    stats.S1[:, :] = reduced_arr[k:k + k * d].reshape(k, d)
    if st.s2_size:
        stats.S2[:] = reduced_arr[k + k * d:k + k * d + st.s2_size]
    if st.second:
        stats.S2g[:] = reduced_arr[k + k * d + st.s2_size:k + k * d + st.s2_size + d * d]
    return total, total_ent


cdef tuple _new_blocks(Blocks *blk, Py_ssize_t n, Py_ssize_t per, bint entropy):
    """Fill blk for a pass over n rows whose blocks hold ``per`` doubles of statistics each;
    returns the arrays behind it (to keep alive while blk is in use)."""
    cdef double[:, ::1] bufs = np.empty((n_blocks(n, per), per))
    cdef double[::1] part = np.empty(bufs.shape[0])
    cdef double[::1] part_ent = np.empty(bufs.shape[0])
    blk.nb = bufs.shape[0]
    blk.per = per
    blk.bufs = &bufs[0, 0]
    blk.part = &part[0]
    blk.part_ent = &part_ent[0]
    blk.entropy = entropy
    return bufs, part, part_ent


cdef void _set_rows(RowIO *io, const double[::1] weight, const double[:, ::1] resp_in,
                    double[:, ::1] resp, double[::1] lpn, int[::1] label):
    """Per-row pointers; an empty or None array is not given / not wanted (NULL)."""
    io.weight = &weight[0] if weight is not None and weight.shape[0] > 0 else NULL
    io.resp_in = &resp_in[0, 0] if resp_in is not None and resp_in.shape[0] > 0 else NULL
    io.resp = &resp[0, 0] if resp is not None else NULL
    io.lpn = &lpn[0] if lpn is not None else NULL
    io.label = &label[0] if label is not None else NULL


cdef int _scoring_pass(const floating[:, ::1] X, Components model, const RowIO *io,
                       Py_ssize_t out_rows, int n_threads) except -1:
    """One scoring pass with the model's parameters, writing the wanted outputs of io (of
    ``out_rows`` rows)."""
    cdef Py_ssize_t n = X.shape[0]
    cdef Model mo = model.model()
    cdef StatsSpec st
    cdef Blocks blk
    if X.shape[1] != mo.d:
        raise ValueError(f"X has {X.shape[1]} features, the mixture {mo.d}")
    if out_rows != n:
        raise ValueError("the output must have one row per sample")
    if n == 0:
        return 0
    st.stats = False
    st.second = False
    st.s2_size = 0
    _arrays = _new_blocks(&blk, n, 1, False)
    with nogil:
        _pass_blocks(&X[0, 0], n, &mo, io, &st, &blk, n_threads)
    return 0


# --------------------------------------------------------------------------------------------
# Entry points: one per job
# --------------------------------------------------------------------------------------------
def em_statistics(const floating[:, ::1] X, const double[::1] sample_weight,
                  Components model, Statistics stats, bint want_entropy, int n_threads):
    """The E-step pass of EM: responsibilities under ``model`` and their M-step statistics.

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
        The samples (each chunk converted to float64 once).
    sample_weight : (n,) float64, IN
        Empty: all ones.
    model : Components, IN
        The current parameters.
    stats : Statistics, OUT
        Receives N, S1, S2 (and S2g if it was made with ``second``).
    want_entropy : bool, IN
        Whether to sum w r log r too (variational mixtures).
    n_threads : int, IN

    Returns
    -------
    (sum_i w_i log p(x_i), sum_i w_i sum_k r_ik log r_ik) ; the second is 0 without
    ``want_entropy``.
    """
    cdef Model mo = model.model()
    cdef RowIO io
    if X.shape[1] != mo.d:
        raise ValueError(f"X has {X.shape[1]} features, the mixture {mo.d}")
    if X.shape[0] == 0:
        return 0.0, 0.0
    _set_rows(&io, sample_weight, None, None, None, None)
    return _statistics_pass(X, &io, &mo, stats, want_entropy, n_threads)


def initial_statistics(const floating[:, ::1] X, const double[::1] sample_weight,
                       const double[:, ::1] resp, Statistics stats, int n_threads):
    """The M-step statistics of given responsibilities (an initialisation's).

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    sample_weight : (n,) float64, IN
        Empty: all ones.
    resp : (n, k) float64, C order, IN
        The responsibilities.
    stats : Statistics, OUT
        As for :func:`em_statistics` (its cov_type says which moments).
    n_threads : int, IN
    """
    cdef Model mo
    cdef RowIO io
    cdef Py_ssize_t n = X.shape[0]
    if resp.shape[0] != n or resp.shape[1] != stats.N.shape[0]:
        raise ValueError("resp must have shape (n_samples, n_components)")
    if n == 0:
        return
    mo.cov_type = stats.cov_type
    mo.k = resp.shape[1]
    mo.d = X.shape[1]
    mo.means = mo.prec = mo.wmeans = mo.log_det = mo.log_weights = NULL
    _set_rows(&io, sample_weight, resp, None, None, None)
    _statistics_pass(X, &io, &mo, stats, False, n_threads)


def log_density(const floating[:, ::1] X, Components model, double[::1] out, int n_threads):
    """out[i] = log p(x_i) under ``model``.

    X : (n, d) IN; model : Components IN; out : (n,) float64 OUT; n_threads : int IN.
    """
    cdef RowIO io
    _set_rows(&io, None, None, None, out, None)
    _scoring_pass(X, model, &io, out.shape[0], n_threads)


def responsibilities(const floating[:, ::1] X, Components model, double[:, ::1] out,
                     int n_threads):
    """out[i, c] = the posterior probability of component c for x_i under ``model``.

    X : (n, d) IN; model : Components IN; out : (n, k) float64 C order OUT; n_threads : int
    IN.
    """
    cdef RowIO io
    if out.shape[1] != model.means.shape[0]:
        raise ValueError("out must have one column per component")
    _set_rows(&io, None, None, out, None, None)
    _scoring_pass(X, model, &io, out.shape[0], n_threads)


def most_likely(const floating[:, ::1] X, Components model, int[::1] out, int n_threads):
    """out[i] = the most likely component of x_i under ``model`` (the first on a tie).

    X : (n, d) IN; model : Components IN; out : (n,) int32 OUT; n_threads : int IN.
    """
    cdef RowIO io
    _set_rows(&io, None, None, None, None, out)
    _scoring_pass(X, model, &io, out.shape[0], n_threads)


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


cdef class Parameters:
    """INOUT: the parameters :func:`em_run` iterates on (float64, C order, the caller's
    arrays, updated in place).

    Parameters
    ----------
    cov_type : int
        0 full, 2 diag or 3 spherical (tied mixtures iterate in Python).
    weights : (k,) float64
    means : (k, d) float64
    covariances : float64, flat
        full k*d*d, diag k*d, spherical k values (written by the M-step).
    prec : float64, flat
        The precision's Cholesky factors, flattened as for :class:`Components`.
    """
    cdef readonly int cov_type
    cdef readonly double[::1] weights
    cdef readonly double[:, ::1] means
    cdef readonly double[::1] covariances
    cdef readonly double[::1] prec

    def __init__(self, int cov_type, double[::1] weights, double[:, ::1] means,
                 double[::1] covariances, double[::1] prec):
        cdef Py_ssize_t k = means.shape[0], d = means.shape[1]
        cdef Py_ssize_t size = _factor_size(cov_type, k, d)
        if cov_type not in (FULL, DIAG, SPHERICAL):
            raise ValueError("em_run handles full, diag and spherical covariances")
        if weights.shape[0] != k or covariances.shape[0] != size or prec.shape[0] != size:
            raise ValueError("em_run parameters have wrong shapes")
        self.cov_type = cov_type
        self.weights = weights
        self.means = means
        self.covariances = covariances
        self.prec = prec


cdef struct EMSettings:
    # IN: scikit-learn's EM loop settings (a dict with these keys converts to it).
    double reg_covar         # added to the covariances' diagonals
    double tol               # stop when the lower bound changes by less
    int max_iter             # at most this many iterations
    double total_weight      # sum of the sample weights (the bound is a mean)
    double lower_bound       # the bound to improve on: -inf, or a warm start's


cdef double _em_iteration(const floating *X, Py_ssize_t n, const Model *mo, const RowIO *io,
                          StatsSpec *st, const Blocks *blk, double *stats, double *shift,
                          int n_threads) noexcept nogil:
    """The pass of one EM iteration with the current parameters (moments about each
    component's current mean, full, or the data's mean); its statistics reduced into
    ``stats``. Returns sum w log p."""
    cdef Py_ssize_t c, a, k = mo.k, d = mo.d
    cdef double total = 0.0
    for c in range(k):
        for a in range(d):
            shift[c * d + a] = mo.means[c * d + a] if mo.cov_type == FULL else st.gshift[a]
    st.shift = shift
    _pass_blocks(X, n, mo, io, st, blk, n_threads)
    for c in range(blk.nb):
        total += blk.part[c]
    _reduce_blocks(blk.bufs, blk.nb, blk.per, stats)
    return total


cdef void _next_constants(const Model *mo, double *weights, double *log_det,
                          double *log_weights) noexcept nogil:
    """weights = nk / sum(nk) after an M-step, then the per-component constants of the next
    pass (from the new precision factors mo.prec)."""
    cdef Py_ssize_t c
    cdef double nk_total = 0.0
    for c in range(mo.k):
        nk_total += weights[c]
    for c in range(mo.k):
        weights[c] = weights[c] / nk_total
    _log_terms(mo.prec, weights, mo.k, mo.d, mo.cov_type, log_det, log_weights)


def em_run(const floating[:, ::1] X, const double[::1] sample_weight, Parameters params,
           EMSettings settings, const double[::1] gshift, double[::1] lower_bounds,
           int n_threads):
    """EM iterations of GaussianMixture (full, diag or spherical) in one compiled call.

    Repeats scikit-learn's loop from the parameters given: a pass (lower bound = sum w log p /
    total_weight, statistics), the M-step, and a stop when the bound changed by less than
    ``tol`` (from ``lower_bound``), at most ``max_iter`` times.

    Parameters
    ----------
    X : (n, d) float32 or float64, C order, IN
    sample_weight : (n,) float64, IN
        Empty: all ones.
    params : Parameters, INOUT
        The starting parameters, updated in place (covariances written by the M-step).
    settings : EMSettings (a dict of reg_covar, tol, max_iter, total_weight, lower_bound), IN
    gshift : (d,) float64, IN
        The origin of the diag and spherical moments (the data's mean).
    lower_bounds : (>= max_iter,) float64, OUT
        The bound after each iteration.
    n_threads : int, IN

    Returns
    -------
    (n_iter, converged, lower_bound, bad_component): bad_component >= 0 means the M-step of
    the last iteration found that component's covariance not positive definite (the
    parameters are then partly updated and must be discarded). Pending signals are handled
    between iterations: Ctrl-C raises KeyboardInterrupt (the parameters are then partly
    updated too).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = params.means.shape[0]
    cdef Py_ssize_t it = 0, bad = -1
    cdef double lb = settings.lower_bound, prev, last_check = monotonic()
    cdef bint converged = False
    cdef Model mo
    cdef RowIO io
    cdef StatsSpec st
    cdef Blocks blk
    if n == 0 or settings.max_iter < 1:
        raise ValueError("em_run needs samples and max_iter >= 1")
    if lower_bounds.shape[0] < settings.max_iter or gshift.shape[0] != d:
        raise ValueError("em_run buffers have wrong shapes")
    st.stats = True
    st.second = False
    st.gshift = &gshift[0]
    st.s2_size = _s2_size(params.cov_type, k, d)
    _arrays = _new_blocks(&blk, n, k + k * d + st.s2_size + 1, False)
    _set_rows(&io, sample_weight, None, None, None, None)
    cdef double[::1] stats = np.empty(blk.per)
    cdef double[:, ::1] shift = np.empty((k, d))
    cdef double[::1] log_det = np.empty(k)
    cdef double[::1] log_weights = np.empty(k)
    cdef double[::1] work = np.empty(d + d * d)
    cdef double *weights = &params.weights[0]
    cdef double *means = &params.means[0, 0]
    cdef double *covariances = &params.covariances[0]
    cdef double *prec = &params.prec[0]
    # the passes read the parameters (updated in place) and their constants through a model
    cdef Components current = Components(params.cov_type, params.means, params.prec, log_det,
                                         log_weights)
    mo = current.model()
    with nogil:
        _log_terms(prec, weights, k, d, mo.cov_type, &log_det[0], &log_weights[0])
        while it < settings.max_iter:
            if it > 0:
                check_interrupt(&last_check)
            it += 1
            prev = lb
            lb = _em_iteration(&X[0, 0], n, &mo, &io, &st, &blk, &stats[0], &shift[0, 0],
                               n_threads) / settings.total_weight
            lower_bounds[it - 1] = lb
            bad = _m_step(&stats[0], &shift[0, 0], k, d, mo.cov_type, settings.reg_covar,
                          weights, means, covariances, prec, &work[0])
            if bad >= 0:
                break
            _next_constants(&mo, weights, &log_det[0], &log_weights[0])
            if fabs(lb - prev) < settings.tol:
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
    size = _factor_size(cov_type, k, d)
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
