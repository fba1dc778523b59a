"""One compiled pass of EM for Gaussian mixtures: log-densities, responsibilities, statistics.

For every chunk of rows (converted to float64 once), the pass computes the log-density of each
component (``full``: (x - mu_k) U_k by a triangular multiply with the precision's Cholesky
factor; ``tied``: x U once, then distances to the whitened means; ``diag``/``spherical``:
direct weighted squared differences), adds the log-weights, takes a log-sum-exp per row and
turns it into responsibilities, then accumulates the sufficient statistics of the M-step:
N_k = sum w r, S1_k = sum w r (x - s_k) and the second moments about the shifts s_k
(``full``: sum w r z z^T by a rank-m update; ``diag``/``spherical``: sum w r z^2). Shifting by
the current means keeps the moments accurate where raw moments would cancel.

Rows are split into a fixed number of blocks (set by the shape, never by the thread count);
each block accumulates in its own float64 buffers, reduced in block order: results are
bitwise identical for any ``n_threads``. No n x k array is formed unless asked for.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport exp, log, sqrt, INFINITY
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dsyrk, dtrmm

from _common cimport CHUNK_ROWS, imin

cdef enum:
    FULL = 0
    TIED = 1
    DIAG = 2
    SPHERICAL = 3
    # At most this many row blocks (each with its own statistics buffers).
    MAX_BLOCKS = 16

cdef double LOG_2PI = 1.8378770664093453


def n_blocks(Py_ssize_t n, Py_ssize_t per_block_doubles):
    """Row blocks of a pass: <= 16, fewer for small n or large statistics (<= ~16 MiB)."""
    cdef Py_ssize_t n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef Py_ssize_t cap = (2 * 1024 * 1024) // (per_block_doubles if per_block_doubles > 0 else 1)
    cdef Py_ssize_t nb = MAX_BLOCKS
    if cap < nb:
        nb = cap
    if n_chunks < nb:
        nb = n_chunks
    return nb if nb > 0 else 1


cdef inline void _upper_times(const double *U, double *Z, Py_ssize_t m, Py_ssize_t d) noexcept nogil:
    """Z (m x d, row-major) <- Z U for an upper-triangular U (d x d, row-major), in place."""
    cdef char side = b'L', uplo = b'L', trans = b'N', diag = b'N'
    cdef int dd = <int>d, mm = <int>m
    cdef double one = 1.0
    # Column-major view: Z^T (d x m) <- U^T Z^T, U^T lower triangular.
    dtrmm(&side, &uplo, &trans, &diag, &dd, &mm, &one, <double*>U, &dd, Z, &dd)


cdef inline void _gram_update(const double *G, double *C, Py_ssize_t m, Py_ssize_t d) noexcept nogil:
    """C (d x d) += G^T G for G (m x d, row-major); fills C's lower triangle (row-major)."""
    cdef char uplo = b'U', trans = b'N'
    cdef int dd = <int>d, mm = <int>m
    cdef double one = 1.0
    # Column-major: C (upper) += A A^T with A = G^T (d x m).
    dsyrk(&uplo, &trans, &dd, &mm, &one, <double*>G, &dd, &one, C, &dd)


cdef double _chunk(
    const floating *X, Py_ssize_t m, Py_ssize_t d, Py_ssize_t k, int cov_type,
    const double *w, const double *means, const double *prec, const double *wmeans,
    const double *log_det, const double *log_weights, const double *resp_in,
    const double *shift, bint want_stats, bint want_second, const double *gshift,
    double *N, double *S1, double *S2, double *S2g,
    double *resp_out, double *lpn_out, int *label_out,
    double *Xc, double *Z, double *L,
) noexcept nogil:
    """One chunk of m rows; returns sum_r w_r * log p(x_r). L (m x k) ends as responsibilities."""
    cdef Py_ssize_t r, c, f, g, best
    cdef double t, s, mx, lpn, wr, nr, acc = 0.0
    cdef const double *mu
    cdef const double *p
    cdef double *Lr
    cdef double *z
    for r in range(m):
        for f in range(d):
            Xc[r * d + f] = X[r * d + f]
    if resp_in != NULL:
        for r in range(m):
            for c in range(k):
                L[r * k + c] = resp_in[r * k + c]
    else:
        if cov_type == FULL:
            for c in range(k):
                mu = means + c * d
                for r in range(m):
                    for f in range(d):
                        Z[r * d + f] = Xc[r * d + f] - mu[f]
                _upper_times(prec + c * d * d, Z, m, d)
                for r in range(m):
                    s = 0.0
                    for f in range(d):
                        s += Z[r * d + f] * Z[r * d + f]
                    L[r * k + c] = s
        elif cov_type == TIED:
            for r in range(m):
                for f in range(d):
                    Z[r * d + f] = Xc[r * d + f]
            _upper_times(prec, Z, m, d)
            for r in range(m):
                z = Z + r * d
                for c in range(k):
                    mu = wmeans + c * d
                    s = 0.0
                    for f in range(d):
                        t = z[f] - mu[f]
                        s += t * t
                    L[r * k + c] = s
        elif cov_type == DIAG:
            for r in range(m):
                for c in range(k):
                    mu = means + c * d
                    p = prec + c * d
                    s = 0.0
                    for f in range(d):
                        t = (Xc[r * d + f] - mu[f]) * p[f]
                        s += t * t
                    L[r * k + c] = s
        else:
            for r in range(m):
                for c in range(k):
                    mu = means + c * d
                    s = 0.0
                    for f in range(d):
                        t = Xc[r * d + f] - mu[f]
                        s += t * t
                    L[r * k + c] = s * prec[c] * prec[c]
        for r in range(m):
            Lr = L + r * k
            mx = -INFINITY
            best = 0
            for c in range(k):
                Lr[c] = -0.5 * (d * LOG_2PI + Lr[c]) + log_det[c] + log_weights[c]
                if Lr[c] > mx:
                    mx = Lr[c]
                    best = c
            s = 0.0
            for c in range(k):
                s += exp(Lr[c] - mx)
            lpn = mx + log(s)
            wr = w[r] if w != NULL else 1.0
            acc += wr * lpn
            if lpn_out != NULL:
                lpn_out[r] = lpn
            if label_out != NULL:
                label_out[r] = <int>best
            for c in range(k):
                Lr[c] = exp(Lr[c] - lpn)
            if resp_out != NULL:
                for c in range(k):
                    resp_out[r * k + c] = Lr[c]
    if not want_stats:
        return acc
    for c in range(k):
        mu = shift + c * d
        for r in range(m):
            wr = w[r] if w != NULL else 1.0
            nr = wr * L[r * k + c]
            N[c] += nr
            z = Z + r * d
            for f in range(d):
                z[f] = Xc[r * d + f] - mu[f]
                S1[c * d + f] += nr * z[f]
            if cov_type == DIAG or cov_type == SPHERICAL:
                for f in range(d):
                    S2[c * d + f] += nr * z[f] * z[f]
            elif cov_type == FULL:
                t = sqrt(nr)
                for f in range(d):
                    z[f] *= t
        if cov_type == FULL:
            _gram_update(Z, S2 + c * d * d, m, d)
    if want_second:
        # tied: the total second moment about the global shift (constant over iterations)
        for r in range(m):
            t = sqrt(w[r]) if w != NULL else 1.0
            for f in range(d):
                Z[r * d + f] = (Xc[r * d + f] - gshift[f]) * t
        _gram_update(Z, S2g, m, d)
    return acc


def em_pass(const floating[:, ::1] X, const double[::1] sample_weight, int cov_type,
            const double[:, ::1] means, const double[::1] prec, const double[::1] log_det,
            const double[::1] log_weights, const double[:, ::1] resp_in,
            const double[:, ::1] shift, bint want_stats, const double[::1] gshift,
            double[::1] N_out, double[:, ::1] S1_out, double[::1] S2_out, double[::1] S2g_out,
            double[:, ::1] resp_out, double[::1] lpn_out, int[::1] label_out, int n_threads):
    """One pass over X; returns sum_i w_i log p(x_i) (0 when ``resp_in`` is given).

    Parameters (k components, d features; empty arrays mean "not given"/"not wanted"):
    sample_weight (n), cov_type (0 full, 1 tied, 2 diag, 3 spherical), means (k x d),
    prec: the precision's Cholesky factor flattened (full k*d*d upper-triangular factors,
    tied d*d, diag k*d, spherical k), log_det (k) of those factors, log_weights (k);
    resp_in (n x k): use these responsibilities instead of computing them (initialisation);
    shift (k x d): origin of each component's moments; want_stats: accumulate into N_out (k),
    S1_out (k x d) and S2_out (full k*d*d, lower triangles; diag/spherical k*d); gshift (d)
    with S2g_out (d*d): also the total second moment about gshift (tied);
    resp_out (n x k), lpn_out (n) and label_out (n): per-row responsibilities, log-density
    and most likely component.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = means.shape[0]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef bint given_resp = resp_in.shape[0] > 0
    cdef bint want_second = S2g_out.shape[0] > 0
    cdef Py_ssize_t s2_size = k * d * d if cov_type == FULL else (
        k * d if cov_type == DIAG or cov_type == SPHERICAL else 0)
    cdef Py_ssize_t per = k + k * d + s2_size + (d * d if want_second else 0) + 1
    cdef Py_ssize_t nb = n_blocks(n, per if want_stats else 1)
    cdef Py_ssize_t bs, blk, s, e, mm, j
    cdef double[:, ::1] bufs = np.zeros((nb, per if want_stats else 1))
    cdef double[::1] part = np.zeros(nb)
    cdef double[:, ::1] wmeans = np.zeros((k if cov_type == TIED else 1, d))
    cdef double *Xc
    cdef double *Z
    cdef double *L
    cdef double *B
    cdef double acc, total = 0.0
    if n == 0:
        return 0.0
    if given_resp and (resp_in.shape[0] != n or resp_in.shape[1] != k):
        raise ValueError("resp_in must have shape (n_samples, n_components)")
    if want_stats and (S2_out.shape[0] != s2_size or S1_out.shape[0] != k
                       or S1_out.shape[1] != d or N_out.shape[0] != k):
        raise ValueError("statistics buffers have wrong shapes")
    if want_second and (S2g_out.shape[0] != d * d or gshift.shape[0] != d):
        raise ValueError("second-moment buffers have wrong shapes")
    if cov_type == TIED and not given_resp:
        # whitened means mu_k U, once per pass
        for j in range(k):
            for e in range(d):
                acc = 0.0
                for s in range(e + 1):
                    acc = acc + means[j, s] * prec[s * d + e]
                wmeans[j, e] = acc
    bs = (n + nb - 1) // nb
    with nogil, parallel(num_threads=n_threads):
        Xc = <double*>malloc(CHUNK_ROWS * d * sizeof(double))
        Z = <double*>malloc(CHUNK_ROWS * d * sizeof(double))
        L = <double*>malloc(CHUNK_ROWS * k * sizeof(double))
        for blk in prange(nb, schedule='dynamic'):
            B = &bufs[blk, 0]
            acc = 0.0
            s = blk * bs
            e = imin(n, s + bs)
            while s < e:
                mm = imin(CHUNK_ROWS, e - s)
                acc = acc + _chunk(
                    &X[s, 0], mm, d, k, cov_type,
                    &sample_weight[s] if weighted else NULL,
                    &means[0, 0], &prec[0], &wmeans[0, 0], &log_det[0], &log_weights[0],
                    &resp_in[s, 0] if given_resp else NULL, &shift[0, 0], want_stats,
                    want_second, &gshift[0] if want_second else NULL,
                    B, B + k, B + k + k * d, B + k + k * d + s2_size,
                    &resp_out[s, 0] if resp_out.shape[0] > 0 else NULL,
                    &lpn_out[s] if lpn_out.shape[0] > 0 else NULL,
                    &label_out[s] if label_out.shape[0] > 0 else NULL,
                    Xc, Z, L)
                s = s + mm
            part[blk] = acc
        free(Xc)
        free(Z)
        free(L)
    for blk in range(nb):
        total += part[blk]
    if want_stats:
        stats = np.asarray(bufs).sum(axis=0) if nb == 1 else _ordered_sum(bufs)
        np.asarray(N_out)[:] = stats[:k]
        np.asarray(S1_out)[:, :] = stats[k:k + k * d].reshape(k, d)
        if s2_size:
            np.asarray(S2_out)[:] = stats[k + k * d:k + k * d + s2_size]
        if want_second:
            np.asarray(S2g_out)[:] = stats[k + k * d + s2_size:k + k * d + s2_size + d * d]
    return total


cdef _ordered_sum(double[:, ::1] bufs):
    """Sum of the block buffers in block order (bitwise reproducible)."""
    cdef Py_ssize_t nb = bufs.shape[0], per = bufs.shape[1], b, i
    out = np.zeros(per)
    cdef double[::1] o = out
    for b in range(nb):
        for i in range(per):
            o[i] += bufs[b, i]
    return out
