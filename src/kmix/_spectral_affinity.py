"""Affinity matrices of spectral clustering: kernels, k-nearest-neighbour graphs, checks.

Each kernel is computed as :mod:`sklearn.metrics.pairwise` computes it (same formulas, same
order of operations), without calling scikit-learn. The RBF kernel, the hot one, is a Gram
matrix (one BLAS call) turned into the affinity in place by one compiled pass and ``np.exp``:
one n x n array, where scikit-learn allocates several.
"""
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from ._core import _affinity
from ._core._constants import GEMM_MIN_FEATURES
from ._threads import PASS_ENTRIES_PER_THREAD, blas_single_threaded, threads_for

__all__ = ["KERNEL_PARAMS", "AFFINITIES", "affinity_matrix", "check_symmetric",
           "knn_connectivity", "precomputed_knn_connectivity"]

#: Kernel names and the parameters each uses (scikit-learn's ``KERNEL_PARAMS``).
KERNEL_PARAMS = {
    "additive_chi2": (),
    "chi2": ("gamma",),
    "cosine": (),
    "linear": (),
    "poly": ("gamma", "degree", "coef0"),
    "polynomial": ("gamma", "degree", "coef0"),
    "rbf": ("gamma",),
    "laplacian": ("gamma",),
    "sigmoid": ("gamma", "coef0"),
}
GRAPH_AFFINITIES = ("nearest_neighbors", "precomputed", "precomputed_nearest_neighbors")
AFFINITIES = tuple(KERNEL_PARAMS) + GRAPH_AFFINITIES

#: np.allclose(A, A.T, atol=SYMMETRY_TOL) decides whether an affinity is symmetric.
SYMMETRY_TOL = 1e-10
#: Rows of the brute-force neighbour and chi2 blocks (a block holds rows x n_samples doubles).
BLOCK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
def _gram(X):
    """X X^T as a C-contiguous float64 array (numpy uses syrk: exactly symmetric).

    With few features the product is memory-bound: BLAS threads only add wake-up and
    contention costs (measured 0.5 ms on one thread, 8 ms on two, n = 1000, d = 2)."""
    if not sp.issparse(X) and X.shape[1] < GEMM_MIN_FEATURES:
        with blas_single_threaded():
            return np.ascontiguousarray(X @ X.T, dtype=np.float64)
    G = X @ X.T
    if sp.issparse(G):
        G = G.toarray()
    return np.ascontiguousarray(G, dtype=np.float64)


def _row_sq_norms(X):
    """Squared row norms as scikit-learn's row_norms: einsum, or for CSR each row's stored
    entries squared and summed in order."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        sq = np.zeros(X.shape[0])
        np.add.at(sq, rows, X.data * X.data)
        return sq
    return np.einsum("ij,ij->i", X, X)


def rbf_affinity(X, gamma, n_threads):
    """exp(-gamma ||x_i - x_j||^2) with scikit-learn's distances, in one n x n array."""
    K = _gram(X)
    _affinity.rbf_exponent_from_gram(K, _row_sq_norms(X), float(gamma),
                                     threads_for(n_threads, K.shape[0], K.shape[0], 1,
                                                 work_per_thread=PASS_ENTRIES_PER_THREAD))
    np.exp(K, out=K)
    return K


def _l2_normalized_rows(X):
    """Rows divided by their Euclidean norms (zero rows unchanged), in a copy."""
    if sp.issparse(X):
        X = sp.csr_matrix(X, copy=True)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        norms[norms == 0.0] = 1.0
        X.data /= np.repeat(norms, np.diff(X.indptr))
        return X
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    norms[norms == 0.0] = 1.0
    return X / norms[:, None]


def _additive_chi2(X):
    """-sum_k (x_k - y_k)^2 / (x_k + y_k) over the features with x_k + y_k != 0."""
    if sp.issparse(X):
        raise TypeError("The 'chi2' and 'additive_chi2' affinities need dense data; got a "
                        "sparse matrix.")
    if np.any(X < 0):
        raise ValueError("X contains negative values: the 'chi2' and 'additive_chi2' "
                         "affinities are defined for non-negative features only.")
    n, d = X.shape
    K = np.empty((n, n))
    rows = max(1, BLOCK_ELEMENTS // max(1, n * d))
    for start in range(0, n, rows):
        block = X[start:start + rows, None, :]
        num = (block - X[None, :, :]) ** 2
        den = block + X[None, :, :]
        nonzero = den != 0
        np.divide(num, den, out=num, where=nonzero)
        num[~nonzero] = 0.0
        K[start:start + rows] = -num.sum(axis=2)
    return K


def _callable_affinity(X, metric, params):
    """scikit-learn's pairwise_kernels for a callable: metric on the pairs i < j, mirrored,
    then on the diagonal."""
    from sklearn.gaussian_process.kernels import Kernel

    if isinstance(metric, Kernel):
        return np.asarray(metric(X, X, **params), dtype=np.float64)
    n = X.shape[0]

    def row(i):
        return X[[i], :] if sp.issparse(X) else X[i]

    K = np.zeros((n, n))
    for i in range(n):
        xi = row(i)
        for j in range(i + 1, n):
            K[i, j] = metric(xi, row(j), **params)
    K = K + K.T
    for i in range(n):
        K[i, i] = metric(row(i), row(i), **params)
    return K


def kernel_affinity(X, metric, params, n_threads):
    """The kernel ``metric`` (a name of :data:`KERNEL_PARAMS` or a callable) between the rows
    of X, as a dense float64 array; ``params`` holds gamma, degree, coef0 and kernel_params."""
    if callable(metric):
        return _callable_affinity(X, metric, params)
    gamma = params.get("gamma")
    if metric == "rbf":
        return rbf_affinity(X, gamma, n_threads)
    if metric in ("additive_chi2", "chi2"):
        K = _additive_chi2(X)
        if metric == "chi2":
            K *= gamma
            np.exp(K, out=K)
        return K
    if metric == "laplacian":
        K = cdist(X.toarray() if sp.issparse(X) else X, X.toarray() if sp.issparse(X) else X,
                  "cityblock")
        K *= -gamma
        np.exp(K, out=K)
        return K
    if metric == "cosine":
        Xn = _l2_normalized_rows(X)
        return _gram(Xn)
    K = _gram(X)
    if metric in ("poly", "polynomial"):
        K *= gamma
        K += params.get("coef0")
        K **= params.get("degree")
    elif metric == "sigmoid":
        K *= gamma
        K += params.get("coef0")
        np.tanh(K, out=K)
    return K


# --------------------------------------------------------------------------------------------
# nearest-neighbour graphs
# --------------------------------------------------------------------------------------------
def _connectivity(indices, n_cols):
    """CSR connectivity (ones) with the given (n_rows, k) column indices."""
    n_rows, k = indices.shape
    indptr = np.arange(0, n_rows * k + 1, k)
    C = sp.csr_matrix((np.ones(n_rows * k), indices.ravel(), indptr), shape=(n_rows, n_cols))
    C.sort_indices()
    return C


def _first_k_by_distance(dist, candidates, k):
    """The k candidates of smallest distance, the lowest index first among equal distances."""
    order = np.lexsort((candidates, dist))
    return candidates[order[:k]]


def _knn_tree(X, k, n_threads):
    """Indices (n, k) of the k nearest rows of dense X (itself included), by a k-d tree.

    The tree finds k + 1 neighbours; where the (k + 1)-th is as close as the k-th (a tie at the
    boundary), the row is redone exactly: every row within that distance, sorted by (squared
    distance, index). Ties are thus broken towards the lowest index, as a stable brute-force
    search would; scikit-learn breaks them in the order its own tree visits the points.
    """
    n = X.shape[0]
    tree = cKDTree(X)
    q = min(k + 1, n)
    dist, ind = tree.query(X, k=q, workers=n_threads)
    dist = dist.reshape(n, q)
    ind = ind.reshape(n, q)
    if q == k:  # k == n: every row is everybody's neighbour
        return np.sort(ind, axis=1)
    tied = np.flatnonzero(dist[:, k] <= dist[:, k - 1] * (1.0 + 1e-12))
    ind = ind[:, :k].copy()
    if tied.size == 0:
        return ind
    radius = dist[tied, k - 1] * (1.0 + 1e-9) + 1e-300
    # all tied rows at once: 2k + 8 neighbours hold every point within the radius unless
    # the last of them is still inside it (then that row is redone alone, below)
    q2 = min(n, 2 * k + 8)
    d2, cand = tree.query(X[tied], k=q2, workers=n_threads)
    d2 = d2.reshape(tied.size, q2)
    cand = cand.reshape(tied.size, q2)
    complete = (d2[:, -1] > radius) | (q2 == n)
    rows, cand = tied[complete], cand[complete]
    diff = X[cand] - X[rows][:, None, :]
    sq = np.einsum("rqf,rqf->rq", diff, diff)
    order = np.lexsort((cand, sq), axis=-1)[:, :k]
    ind[rows] = np.take_along_axis(cand, order, axis=1)
    for i, r in zip(tied[~complete], radius[~complete]):
        ball = np.asarray(tree.query_ball_point(X[i], r), dtype=np.intp)
        diff = X[ball] - X[i]
        ind[i] = _first_k_by_distance(np.einsum("ij,ij->i", diff, diff), ball, k)
    return ind


def _k_smallest(D, k):
    """Column indices (n_rows, k) of the k smallest entries of each row of D, the lowest index
    first among equal values."""
    kth = np.partition(D, k - 1, axis=1)[:, k - 1][:, None]
    below = D < kth
    # of the entries equal to the k-th value, the lowest-indexed ones that complete k
    need = k - below.sum(axis=1, keepdims=True)
    tied = D == kth
    chosen = below | (tied & (np.cumsum(tied, axis=1) <= need))
    # (distance, index) order within each row, as _first_k_by_distance gives it
    cols = np.nonzero(chosen)[1].reshape(D.shape[0], k)
    order = np.argsort(np.take_along_axis(D, cols, axis=1), axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1).astype(np.intp)


def _knn_brute_sparse(X, k):
    """Indices (n, k) of the k nearest rows of sparse X (itself included), by blocks of
    squared distances ||x||^2 - 2 x.y + ||y||^2 (0 to itself); ties to the lowest index."""
    n = X.shape[0]
    X = sp.csr_matrix(X)
    sq = _row_sq_norms(X)
    out = np.empty((n, k), dtype=np.intp)
    rows = max(1, BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        D = (X[start:stop] @ X.T).toarray()
        D *= -2.0
        D += sq[start:stop, None]
        D += sq[None, :]
        np.maximum(D, 0.0, out=D)
        D[np.arange(stop - start), np.arange(start, stop)] = 0.0
        out[start:stop] = _k_smallest(D, k)
    return out


def knn_connectivity(X, n_neighbors, n_threads):
    """kneighbors_graph(X, n_neighbors, include_self=True) as a CSR matrix of ones."""
    if sp.issparse(X):
        ind = _knn_brute_sparse(X, n_neighbors)
    else:
        ind = _knn_tree(np.ascontiguousarray(X), n_neighbors, n_threads)
    return _connectivity(ind, X.shape[0])


def precomputed_knn_connectivity(D, n_neighbors):
    """Connectivity of the n_neighbors smallest distances of each row of the precomputed
    distance matrix D (the diagonal included), ties to the lowest column index.

    For a sparse D only stored entries count, as in scikit-learn: each row needs at least
    n_neighbors of them.
    """
    n = D.shape[0]
    if sp.issparse(D):
        D = sp.csr_matrix(D, copy=True)
        D.sum_duplicates()
        if D.data.size and D.data.min() < 0:
            raise ValueError("Negative values in data passed to precomputed distance matrix.")
        counts = np.diff(D.indptr)
        if counts.min() < n_neighbors:
            raise ValueError(
                f"{n_neighbors} neighbors per samples are required, but some samples have "
                f"only {counts.min()} neighbors in precomputed graph matrix. Decrease number "
                "of neighbors used or recompute the graph with more neighbors."
            )
        # every row's entries sorted by (distance, column) in one sort; rows stay in place
        rows = np.repeat(np.arange(n), counts)
        order = np.lexsort((D.indices, D.data, rows))
        first = D.indptr[:-1, None] + np.arange(n_neighbors)
        ind = D.indices[order][first].astype(np.intp)
        return _connectivity(ind, n)
    if np.any(D < 0):
        raise ValueError("Negative values in data passed to precomputed distance matrix.")
    rows = max(1, BLOCK_ELEMENTS // max(n, 1))
    ind = np.concatenate([_k_smallest(D[start:start + rows], n_neighbors)
                          for start in range(0, n, rows)])
    return _connectivity(ind, n)


# --------------------------------------------------------------------------------------------
# the affinity of the estimator
# --------------------------------------------------------------------------------------------
def check_symmetric(A):
    """A if it is symmetric (``np.allclose(A, A.T, atol=1e-10)``, or all stored entries of
    A - A^T below 1e-10 in absolute value when sparse); otherwise (A + A^T) / 2 with a warning,
    as scikit-learn's ``check_symmetric``."""
    if sp.issparse(A):
        diff = A - A.T
        if diff.format not in ("csr", "csc", "coo"):
            diff = diff.tocsr()
        symmetric = bool(np.all(np.abs(diff.data) < SYMMETRY_TOL))
    else:
        symmetric = _affinity.is_symmetric(np.ascontiguousarray(A), 1e-5, SYMMETRY_TOL)
    if symmetric:
        return A
    warnings.warn("Array is not symmetric, and will be converted to symmetric by average "
                  "with its transpose.", UserWarning, stacklevel=4)
    if sp.issparse(A):
        return getattr(0.5 * (A + A.T), "to" + A.format)()
    return 0.5 * (A + A.T)


def kernel_params(affinity, gamma, degree, coef0, extra):
    """The keyword arguments of the kernel: scikit-learn's ``filter_params=True`` rule."""
    params = dict(extra) if extra is not None else {}
    if callable(affinity):
        return params
    if affinity not in KERNEL_PARAMS:
        return {}
    params.update(gamma=gamma, degree=degree, coef0=coef0)
    return {key: value for key, value in params.items() if key in KERNEL_PARAMS[affinity]}


def affinity_matrix(X, affinity, *, n_neighbors, params, n_threads):
    """The affinity of validated float64 data X, as SpectralClustering stores it.

    rbf and the other kernels: a dense symmetric array; 'nearest_neighbors' and
    'precomputed_nearest_neighbors': 0.5 * (C + C^T) of the kNN connectivity C (CSR);
    'precomputed': X itself (never modified; the embedding symmetrises a copy if needed).
    """
    if affinity == "nearest_neighbors":
        C = knn_connectivity(X, n_neighbors, n_threads)
        return 0.5 * (C + C.T)
    if affinity == "precomputed_nearest_neighbors":
        C = precomputed_knn_connectivity(X, n_neighbors)
        return 0.5 * (C + C.T)
    if affinity == "precomputed":
        return X
    K = kernel_affinity(X, affinity, params, n_threads)
    if not np.all(np.isfinite(K)):
        name = affinity if isinstance(affinity, str) else getattr(affinity, "__name__", affinity)
        raise ValueError(f"The affinity {name!r} gave NaN or infinite values on this data "
                         "(check its parameters).")
    return K
