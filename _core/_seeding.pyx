"""Greedy k-means++ seeding kernels (dense and CSR).

The Python driver (kmix/_seeding.py) draws the random numbers; these kernels do the O(n) work
per centre in parallel over fixed row blocks, reduced in order (thread-count independent):

- ``pp_potentials_*``: for each candidate t, sum_i w_i * min(closest_i, ||x_i - cand_t||^2).
- ``pp_update_*``: closest_i = min(closest_i, ||x_i - c||^2) for the chosen centre, and the
  per-block sums of w_i * closest_i that ``pp_pick`` searches.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport malloc, free

from _common cimport CHUNK_ROWS, GEMM_MIN_FEATURES, partial_dists, n_blocks_for


cdef inline Py_ssize_t _imin(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


def n_blocks(Py_ssize_t n):
    """Row blocks used by the seeding kernels: fixed by n alone."""
    return n_blocks_for(n, 1)


cdef void _pp_block_dense(
    const floating *X, const double *xnorm, const double *w, Py_ssize_t start, Py_ssize_t end,
    Py_ssize_t d, const floating *cand, const floating *candT, const floating *cnorm,
    Py_ssize_t ncand, double *closest, bint update, double *out, floating *D, bint use_gemm,
) noexcept nogil:
    cdef Py_ssize_t s, m, r, i, t
    cdef double dist, acc = 0.0
    s = start
    while s < end:
        m = _imin(CHUNK_ROWS, end - s)
        partial_dists(X + s * d, m, d, cand, candT, ncand, cnorm, ncand, D, use_gemm)
        for r in range(m):
            i = s + r
            for t in range(ncand):
                dist = xnorm[i] + D[r * ncand + t]
                if dist < 0:
                    dist = 0.0
                if dist > closest[i]:
                    dist = closest[i]
                if update:
                    closest[i] = dist
                    acc += w[i] * dist
                else:
                    out[t] += w[i] * dist
        s += m
    if update:
        out[0] = acc


def _pp_dense(const floating[:, ::1] X, const double[::1] x_sq_norms,
              const double[::1] sample_weight, const floating[:, ::1] cand,
              double[::1] closest, bint update, int n_threads):
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], ncand = cand.shape[0]
    cdef Py_ssize_t nb = n_blocks_for(n, 1), bs = (n + nb - 1) // nb, b
    cdef bint use_gemm = d >= GEMM_MIN_FEATURES
    candT_arr = np.ascontiguousarray(np.asarray(cand).T)
    cnorm_arr = np.einsum("ij,ij->i", np.asarray(cand), np.asarray(cand))
    cdef const floating[:, ::1] candT = candT_arr
    cdef const floating[::1] cnorm = cnorm_arr
    out_arr = np.zeros((nb, ncand))
    cdef double[:, ::1] out = out_arr
    cdef floating *D
    with nogil, parallel(num_threads=n_threads):
        D = <floating*>malloc(CHUNK_ROWS * ncand * sizeof(floating))
        for b in prange(nb, schedule='dynamic'):
            _pp_block_dense(&X[0, 0], &x_sq_norms[0], &sample_weight[0], b * bs,
                            _imin(n, (b + 1) * bs), d, &cand[0, 0], &candT[0, 0], &cnorm[0],
                            ncand, &closest[0], update, &out[b, 0], D, use_gemm)
        free(D)
    return out_arr


def pp_potentials_dense(X, x_sq_norms, sample_weight, cand, closest, int n_threads):
    """Potential of each candidate centre (rows of ``cand``), summed over blocks in order."""
    return np.sum(_pp_dense(X, x_sq_norms, sample_weight, cand, closest, False, n_threads), axis=0)


def pp_update_dense(X, x_sq_norms, sample_weight, center, closest, int n_threads):
    """Fold one chosen centre (1 x d) into ``closest``; return the per-block potentials."""
    return _pp_dense(X, x_sq_norms, sample_weight, center, closest, True, n_threads)[:, 0].copy()


cdef void _pp_block_sparse(
    const floating *data, const int *indices, const int *indptr, const double *xnorm,
    const double *w, Py_ssize_t start, Py_ssize_t end, const floating *cand, Py_ssize_t d,
    const double *cnorm, Py_ssize_t ncand, double *closest, bint update, double *out,
) noexcept nogil:
    cdef Py_ssize_t i, t, p
    cdef double dot, dist, acc = 0.0
    cdef const floating *c
    for i in range(start, end):
        for t in range(ncand):
            c = cand + t * d
            dot = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                dot += <double>data[p] * c[indices[p]]
            dist = xnorm[i] + cnorm[t] - 2 * dot
            if dist < 0:
                dist = 0.0
            if dist > closest[i]:
                dist = closest[i]
            if update:
                closest[i] = dist
                acc += w[i] * dist
            else:
                out[t] += w[i] * dist
    if update:
        out[0] = acc


def _pp_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
               const double[::1] x_sq_norms, const double[::1] sample_weight,
               const floating[:, ::1] cand, double[::1] closest, bint update, int n_threads):
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = cand.shape[1], ncand = cand.shape[0]
    cdef Py_ssize_t nb = n_blocks_for(n, 1), bs = (n + nb - 1) // nb, b
    cdef double[::1] cnorm = np.einsum("ij,ij->i", np.asarray(cand, dtype=np.float64),
                                       np.asarray(cand, dtype=np.float64))
    out_arr = np.zeros((nb, ncand))
    cdef double[:, ::1] out = out_arr
    cdef const floating *data_p = &data[0] if data.shape[0] > 0 else NULL
    cdef const int *indices_p = &indices[0] if indices.shape[0] > 0 else NULL
    for b in prange(nb, nogil=True, schedule='dynamic', num_threads=n_threads):
        _pp_block_sparse(data_p, indices_p, &indptr[0], &x_sq_norms[0], &sample_weight[0],
                         b * bs, _imin(n, (b + 1) * bs), &cand[0, 0], d, &cnorm[0], ncand,
                         &closest[0], update, &out[b, 0])
    return out_arr


def pp_potentials_sparse(data, indices, indptr, x_sq_norms, sample_weight, cand, closest,
                         int n_threads):
    """:func:`pp_potentials_dense` for CSR data."""
    return np.sum(_pp_sparse(data, indices, indptr, x_sq_norms, sample_weight, cand, closest,
                             False, n_threads), axis=0)


def pp_update_sparse(data, indices, indptr, x_sq_norms, sample_weight, center, closest,
                     int n_threads):
    """:func:`pp_update_dense` for CSR data."""
    return _pp_sparse(data, indices, indptr, x_sq_norms, sample_weight, center, closest,
                      True, n_threads)[:, 0].copy()


def pp_pick(const double[::1] closest, const double[::1] sample_weight,
            const double[::1] block_pot, const double[::1] targets):
    """Indices i where the running sum of w * closest first reaches each target.

    Equivalent to ``searchsorted(cumsum(w * closest), targets)`` clipped to n - 1, but walks
    the per-block sums first, so each search costs O(n_blocks + block size).
    """
    cdef Py_ssize_t n = closest.shape[0], nb = block_pot.shape[0]
    cdef Py_ssize_t bs = (n + nb - 1) // nb
    cdef Py_ssize_t t, b, i, end
    cdef double run, target
    ids = np.empty(targets.shape[0], dtype=np.intp)
    cdef Py_ssize_t[::1] out = ids
    for t in range(targets.shape[0]):
        target = targets[t]
        run = 0.0
        b = 0
        while b < nb - 1 and run + block_pot[b] < target:
            run += block_pot[b]
            b += 1
        i = b * bs
        end = _imin(n, (b + 1) * bs)
        while i < end:
            run += sample_weight[i] * closest[i]
            if run >= target:
                break
            i += 1
        out[t] = i if i < n else n - 1
    return ids
