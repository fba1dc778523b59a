"""Spectral embedding of an affinity matrix: eigenvectors of its normalised Laplacian.

The same computation as scikit-learn's ``_spectral_embedding(norm_laplacian=True,
drop_first=False)``, which SpectralClustering uses: scipy's ``laplacian(normed=True)``, the
eigenvectors of the smallest eigenvalues (ARPACK in shift-invert mode around -1e-5 with
``v0 = random_state.uniform(-1, 1, n)``, LOBPCG, or LOBPCG with an AMG preconditioner),
divided by the square roots of the degrees, each flipped so that its largest entry in absolute
value is positive.

For a dense affinity kmix builds the shifted Laplacian L + 1e-5 I in one compiled pass into a
single n x n buffer, factorises it in place by Cholesky (it is symmetric positive definite),
and gives ARPACK the triangular solves as its shift-invert operator. scikit-learn copies the
affinity twice (Laplacian, shifted copy) and factorises by LU, twice the flops of Cholesky.
ARPACK's iterations then converge to the same eigenvectors.
"""
import warnings
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh, lapack
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import LinearOperator, eigsh, lobpcg

from ._core import _affinity
from ._threads import PASS_ENTRIES_PER_THREAD, blas_single_threaded, threads_for

__all__ = ["EIGEN_SOLVERS", "spectral_embedding", "graph_is_connected"]

EIGEN_SOLVERS = ("arpack", "lobpcg", "amg")
#: scikit-learn's shift: ARPACK finds the eigenvalues of L nearest to it.
ARPACK_SIGMA = -1e-5
#: Up to this many nodes the Cholesky factorisation (n^3 / 3 flops, 0.3 GFLOP at n = 1000) and
#: the solves run on one BLAS thread: a second thread saves little there, and on the shared
#: 2-core machine a BLAS team waiting for a busy core made one n = 1000 factorisation 10-100x
#: slower. The choice depends on n only, never on n_threads.
SINGLE_THREAD_BLAS_MAX_NODES = 2048
#: scikit-learn's shift of the Laplacian while pyamg builds its preconditioner.
AMG_SHIFT = 1e-5


# --------------------------------------------------------------------------------------------
# graph and Laplacian
# --------------------------------------------------------------------------------------------
def graph_is_connected(A):
    """Whether the graph of the non-zero entries of the (symmetric) affinity is connected."""
    if not sp.issparse(A):
        return _affinity.is_connected(A)
    return connected_components(A, directed=True, connection="weak")[0] == 1


def _check_degrees(w):
    """(dd, isolated) from the degrees w: square roots, 1 for isolated nodes."""
    if np.any(w < 0):
        raise ValueError(
            "The affinity matrix has rows with a negative sum (degree): the normalised "
            "Laplacian needs non-negative degrees."
        )
    isolated = w == 0
    return np.where(isolated, 1.0, np.sqrt(w)), isolated


def degrees(A, n_threads):
    """(dd, isolated): square roots of the degrees (column sums without the diagonal; 1 for
    isolated nodes), as scipy's ``laplacian(normed=True, return_diag=True)`` returns them."""
    if sp.issparse(A):
        return _check_degrees(np.asarray(A.sum(axis=0), dtype=np.float64).ravel()
                              - A.diagonal())
    n = A.shape[0]
    w = np.empty(n)
    _affinity.column_degrees(
        A, w, threads_for(n_threads, n, n, 1, work_per_thread=PASS_ENTRIES_PER_THREAD))
    return _check_degrees(w)


def dense_laplacian(A, dd, diagonal, n_threads):
    """The normalised Laplacian of dense A with the given diagonal, in a new C array."""
    L = np.empty_like(A)
    diagonal = np.ascontiguousarray(np.broadcast_to(diagonal, (A.shape[0],)), dtype=np.float64)
    n = A.shape[0]
    n_threads = threads_for(n_threads, n, n, 1, work_per_thread=PASS_ENTRIES_PER_THREAD)
    _affinity.normalized_laplacian(A, dd, diagonal, L, n_threads)
    return L


def sparse_laplacian(A, dd, diagonal):
    """scipy's ``laplacian(normed=True)`` of sparse A (rows, then columns divided), with the
    given diagonal, as CSR."""
    L = sp.coo_matrix(A, dtype=np.float64, copy=True)
    L.sum_duplicates()
    L.data /= dd[L.row]
    L.data /= dd[L.col]
    L.data *= -1
    L.setdiag(diagonal)
    return L.tocsr()


def laplacian(A, dd, isolated, n_threads, unit_diagonal=True):
    """The normalised Laplacian of A, dense or sparse as A.

    The diagonal is 1 - isolated (scipy's), or 1 everywhere with ``unit_diagonal``
    (scikit-learn's ``_set_diag`` before ARPACK and LOBPCG).
    """
    diagonal = 1.0 if unit_diagonal else 1.0 - isolated
    if sp.issparse(A):
        return sparse_laplacian(A, dd, diagonal)
    return dense_laplacian(A, dd, diagonal, n_threads)


def _dense(L):
    return L.toarray() if sp.issparse(L) else L


# --------------------------------------------------------------------------------------------
# eigensolvers: each returns the eigenvectors as columns (n, >= n_components)
# --------------------------------------------------------------------------------------------
def _cholesky_shift_invert(A, dd, n_components, v0, tol, n_threads):
    """ARPACK on (L - sigma I)^-1 through an in-place Cholesky factor; None if L - sigma I is
    not positive definite (an affinity with negative entries)."""
    n = A.shape[0]
    shifted = dense_laplacian(A, dd, 1.0 - ARPACK_SIGMA, n_threads)
    blas = blas_single_threaded() if n <= SINGLE_THREAD_BLAS_MAX_NODES else nullcontext()
    with blas:
        return _arpack_on_factor(shifted, n_components, v0, tol)


def _arpack_on_factor(shifted, n_components, v0, tol):
    n = shifted.shape[0]
    # The Fortran view of the C array: the factor overwrites it, no copy.
    factor, info = lapack.dpotrf(shifted.T, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        return None

    def solve(b):
        return lapack.dpotrs(factor, b, lower=0)[0]

    def unused(b):  # ARPACK's shift-invert mode only applies OPinv
        raise NotImplementedError

    op_inv = LinearOperator((n, n), matvec=solve, dtype=np.float64)
    shape_only = LinearOperator((n, n), matvec=unused, dtype=np.float64)
    _, vectors = eigsh(shape_only, k=n_components, sigma=ARPACK_SIGMA, which="LM", tol=tol,
                       v0=v0, OPinv=op_inv)
    return vectors


def _arpack(A, dd, isolated, n_components, random_state, eigen_tol, n_threads):
    n = A.shape[0]
    tol = 0 if eigen_tol == "auto" else eigen_tol
    v0 = random_state.uniform(-1, 1, n)
    if n_components >= n:  # scipy's eigsh falls back to a full eigh (for dense L)
        return eigh(_dense(laplacian(A, dd, isolated, n_threads)))[1]
    if not sp.issparse(A):
        vectors = _cholesky_shift_invert(A, dd, n_components, v0, tol, n_threads)
        if vectors is not None:
            return vectors
        # not positive definite: scipy's LU shift-invert, as scikit-learn
    L = laplacian(A, dd, isolated, n_threads)
    return eigsh(L, k=n_components, sigma=ARPACK_SIGMA, which="LM", tol=tol, v0=v0)[1]


def _lobpcg(A, dd, isolated, n_components, random_state, eigen_tol, n_threads):
    n = A.shape[0]
    if n < 5 * n_components + 1:  # LOBPCG needs more nodes: a full eigh, as scikit-learn
        L = laplacian(A, dd, isolated, n_threads, unit_diagonal=False)
        return eigh(_dense(L), check_finite=False)[1]
    L = laplacian(A, dd, isolated, n_threads)
    X0 = random_state.standard_normal(size=(n, n_components + 1))
    X0[:, 0] = dd
    tol = None if eigen_tol == "auto" else eigen_tol
    return lobpcg(L, X0, tol=tol, largest=False, maxiter=2000)[1]


def _amg(A, dd, n_components, random_state, eigen_tol):
    from pyamg import aggregation, smoothed_aggregation_solver

    n = A.shape[0]
    L = sparse_laplacian(A, dd, 1.0)
    shift = AMG_SHIFT * sp.identity(n, format="csr")
    matrix = sp.csr_array if hasattr(aggregation.aggregation, "csr_array") else sp.csr_matrix
    # scikit-learn adds the shift in place and subtracts it again: the same rounding here
    L = L + shift
    ml = smoothed_aggregation_solver(matrix(L))
    L = L - shift
    X0 = random_state.standard_normal(size=(n, n_components + 1))
    X0[:, 0] = dd
    tol = None if eigen_tol == "auto" else eigen_tol
    return lobpcg(L, X0, M=ml.aspreconditioner(), tol=tol, largest=False)[1]


def _require_pyamg():
    try:
        import pyamg  # noqa: F401
    except ImportError as exc:
        raise ValueError(
            "The eigen_solver was set to 'amg', but pyamg is not available: install pyamg "
            "or use eigen_solver='arpack' or 'lobpcg'."
        ) from exc


def _resolve_solver(eigen_solver, A, n_components):
    """scikit-learn's choice: None is 'arpack'; 'amg' falls back to 'arpack' on small graphs
    and on dense affinities, with a warning."""
    if eigen_solver is None:
        return "arpack"
    if eigen_solver == "amg":
        _require_pyamg()
        if A.shape[0] < 5 * n_components:
            warnings.warn("AMG solver does not work well with small graphs, using ARPACK "
                          "instead.", RuntimeWarning, stacklevel=4)
            return "arpack"
        if not sp.issparse(A):
            warnings.warn("AMG solver does not work well with dense matrices, using ARPACK "
                          "instead.", RuntimeWarning, stacklevel=4)
            return "arpack"
    return eigen_solver


def _sign_flip(u):
    """Flip each row of u so that its entry of largest absolute value is positive."""
    rows = np.arange(u.shape[0])
    signs = np.sign(u[rows, np.argmax(np.abs(u), axis=1)])
    u *= signs[:, None]
    return u


def spectral_embedding(A, n_components, *, eigen_solver, random_state, eigen_tol, n_threads):
    """Embedding (n_samples, n_components) of the symmetric affinity A (dense C array or
    sparse), consuming ``random_state`` as scikit-learn does."""
    solver = _resolve_solver(eigen_solver, A, n_components)
    if not graph_is_connected(A):
        warnings.warn("Graph is not fully connected, spectral embedding may not work as "
                      "expected.", UserWarning, stacklevel=3)
    dd, isolated = degrees(A, n_threads)
    if solver == "arpack":
        try:
            vectors = _arpack(A, dd, isolated, n_components, random_state, eigen_tol,
                              n_threads)
        except RuntimeError:
            warnings.warn("ARPACK has failed, falling back to LOBPCG.", RuntimeWarning,
                          stacklevel=3)
            solver = "lobpcg"
    if solver == "amg":
        vectors = _amg(A, dd, n_components, random_state, eigen_tol)
    elif solver == "lobpcg":
        vectors = _lobpcg(A, dd, isolated, n_components, random_state, eigen_tol, n_threads)
    embedding = vectors.T[:n_components] / dd
    return _sign_flip(embedding).T
