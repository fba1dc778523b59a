"""Dense affinity and normalised-Laplacian passes of spectral clustering.

Each pass reads and writes an n x n float64 matrix once, in place where it can, instead of the
chain of whole-matrix numpy temporaries scikit-learn builds (distances, +norms, clamp, scale,
copy for the Laplacian, column and row divisions). Every entry is computed with the same
operations, in the same order, as scikit-learn and scipy do, so results match theirs; each entry
(and each degree) is computed by one thread in a fixed order, so results do not depend on
``n_threads``.
"""
import numpy as np

from cython.parallel cimport prange
from libc.math cimport fabs

from _common cimport imin

cdef enum:
    # Square tiles of the symmetric passes: two 64 x 64 float64 tiles (64 KiB) stay in L2.
    TILE = 64
    # Columns per task of the degree pass (rows are read as contiguous runs of this length).
    DEGREE_COLS = 256


cdef void _rbf_tile(double *K, Py_ssize_t n, const double *xx, double gamma,
                    Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """Entries (i, j), i0 <= i < i1, max(j0, i + 1) <= j < j1, of the upper triangle; each is
    also written to (j, i)."""
    cdef Py_ssize_t i, j, start
    cdef double d
    for i in range(i0, i1):
        start = j0 if j0 > i + 1 else i + 1
        for j in range(start, j1):
            # scikit-learn's euclidean_distances: (-2 <x_i, x_j> + ||x_i||^2) + ||x_j||^2,
            # clamped at 0, then times -gamma (rbf_kernel)
            d = (-2.0 * K[i * n + j] + xx[i]) + xx[j]
            if d < 0.0:
                d = 0.0
            d = d * -gamma
            K[i * n + j] = d
            K[j * n + i] = d


def rbf_exponent_from_gram(double[:, ::1] K, const double[::1] xx, double gamma, int n_threads):
    """Turn the Gram matrix K = X X^T into -gamma * ||x_i - x_j||^2, in place.

    Reads the upper triangle of K only and writes both triangles (the result is exactly
    symmetric), with a zero distance on the diagonal, as scikit-learn's ``rbf_kernel`` computes
    its exponent. ``np.exp(K, out=K)`` then gives the RBF affinity.
    """
    cdef Py_ssize_t n = K.shape[0], nt, bi, bj, i
    if K.shape[1] != n or xx.shape[0] != n:
        raise ValueError("K must be square and xx must have one entry per row of K")
    if n == 0:
        return
    nt = (n + TILE - 1) // TILE
    with nogil:
        for bi in prange(nt, schedule='dynamic', num_threads=n_threads):
            for bj in range(bi, nt):
                _rbf_tile(&K[0, 0], n, &xx[0], gamma, bi * TILE, imin(n, bi * TILE + TILE),
                          bj * TILE, imin(n, bj * TILE + TILE))
        for i in range(n):
            K[i, i] = 0.0 * -gamma


def column_degrees(const double[:, ::1] A, double[::1] w, int n_threads):
    """w[j] = sum over i != j of A[i, j], summed over i in increasing order.

    That is scipy's ``laplacian`` degree (diagonal zeroed, ``sum(axis=0)``), bit for bit.
    """
    cdef Py_ssize_t n = A.shape[0], nb, b, j0, j1, i, j
    if A.shape[1] != n or w.shape[0] != n:
        raise ValueError("A must be square and w must have one entry per row of A")
    nb = (n + DEGREE_COLS - 1) // DEGREE_COLS
    for b in prange(nb, nogil=True, schedule='static', num_threads=n_threads):
        j0 = b * DEGREE_COLS
        j1 = imin(n, j0 + DEGREE_COLS)
        for j in range(j0, j1):
            w[j] = 0.0
        for i in range(n):
            for j in range(j0, j1):
                if j != i:
                    w[j] = w[j] + A[i, j]
                else:
                    w[j] = w[j] + 0.0


def normalized_laplacian(const double[:, ::1] A, const double[::1] dd, const double[::1] diag,
                         double[:, ::1] L, int n_threads):
    """L[i, j] = -((A[i, j] / dd[j]) / dd[i]) off the diagonal, L[i, i] = diag[i].

    scipy's ``laplacian(normed=True)`` divides the columns, then the rows, then negates, in
    this order; so does this pass. L may be A itself (in place).
    """
    cdef Py_ssize_t n = A.shape[0], i, j
    cdef double di
    if A.shape[1] != n or L.shape[0] != n or L.shape[1] != n or dd.shape[0] != n \
            or diag.shape[0] != n:
        raise ValueError("A and L must be n x n, dd and diag of length n")
    for i in prange(n, nogil=True, schedule='static', num_threads=n_threads):
        di = dd[i]
        for j in range(n):
            L[i, j] = -((A[i, j] / dd[j]) / di)
        L[i, i] = diag[i]


def is_symmetric(const double[:, ::1] A, double rtol, double atol):
    """``np.allclose(A, A.T, rtol=rtol, atol=atol)`` without forming A.T or a boolean matrix.

    Every pair is checked both ways round (|a - b| <= atol + rtol * |b| is not symmetric in
    a and b), tile by tile, stopping at the first failure.
    """
    cdef Py_ssize_t n = A.shape[0], nt, ti, tj, i, j, i0, i1, j0, j1, start
    cdef double a, b, d
    cdef bint ok = True
    if A.shape[1] != n:
        raise ValueError("A must be square")
    nt = (n + TILE - 1) // TILE
    with nogil:
        for ti in range(nt):
            i0 = ti * TILE
            i1 = imin(n, i0 + TILE)
            for tj in range(ti, nt):
                j0 = tj * TILE
                j1 = imin(n, j0 + TILE)
                for i in range(i0, i1):
                    start = j0 if j0 > i + 1 else i + 1
                    for j in range(start, j1):
                        a = A[i, j]
                        b = A[j, i]
                        d = fabs(a - b)
                        if d > atol + rtol * fabs(b) or d > atol + rtol * fabs(a):
                            ok = False
                if not ok:
                    break
            if not ok:
                break
    return ok


def is_connected(const double[:, ::1] A):
    """Whether every node is reached from node 0 along non-zero entries of A's rows
    (breadth-first, O(n^2) reads, O(n) memory: no sparse copy of a dense graph)."""
    cdef Py_ssize_t n = A.shape[0], head = 0, tail = 1, i, j
    if A.shape[1] != n:
        raise ValueError("A must be square")
    if n == 0:
        return True
    queue_arr = np.empty(n, dtype=np.intp)
    seen_arr = np.zeros(n, dtype=np.uint8)
    cdef Py_ssize_t[::1] queue = queue_arr
    cdef unsigned char[::1] seen = seen_arr
    queue[0] = 0
    seen[0] = 1
    with nogil:
        while head < tail and tail < n:  # stop as soon as every node has been reached
            i = queue[head]
            head += 1
            for j in range(n):
                if A[i, j] != 0.0 and not seen[j]:
                    seen[j] = 1
                    queue[tail] = j
                    tail += 1
    return tail == n
