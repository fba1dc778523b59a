"""Initial centres: greedy k-means++ (compiled candidate evaluation) and random rows."""
import numpy as np
import scipy.sparse as sp

from ._core import _seeding
from ._threads import effective_n_threads
from ._validation import (as_csr_arrays, check_array, check_int, check_n_samples,
                          check_random_state, check_sample_weight)

__all__ = ["kmeans_plusplus"]


def _row_sq_norms(X):
    """Squared row norms in float64, without a float64 copy of X."""
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def _rows(X, ids):
    rows = X[ids]
    if sp.issparse(rows):
        rows = rows.toarray()
    return np.ascontiguousarray(rows, dtype=X.dtype)


def _kmeans_plusplus(X, n_clusters, x_squared_norms, sample_weight, random_state,
                     n_local_trials=None, n_threads=1):
    """Greedy k-means++ on validated input (C-contiguous dense or CSR, float32/float64).

    At each step ``n_local_trials`` candidates are drawn with probability proportional to
    w * D(x)^2 and the one that lowers the potential most is kept (Arthur & Vassilvitskii,
    2007; greedy variant as scikit-learn). The O(n) work per step runs in the compiled core.
    """
    n_samples, n_features = X.shape
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    indices = np.full(n_clusters, -1, dtype=np.intp)

    if sp.issparse(X):
        data, ind, ptr = as_csr_arrays(X)

        def potentials(cand, closest):
            return _seeding.pp_potentials_sparse(data, ind, ptr, x_squared_norms, sample_weight,
                                                 cand, closest, n_threads)

        def update(center, closest):
            return _seeding.pp_update_sparse(data, ind, ptr, x_squared_norms, sample_weight,
                                             center, closest, n_threads)
    else:
        def potentials(cand, closest):
            return _seeding.pp_potentials_dense(X, x_squared_norms, sample_weight, cand,
                                                closest, n_threads)

        def update(center, closest):
            return _seeding.pp_update_dense(X, x_squared_norms, sample_weight, center,
                                            closest, n_threads)

    first = random_state.choice(n_samples, p=sample_weight / sample_weight.sum())
    centers[0] = _rows(X, [first])[0]
    indices[0] = first
    closest = np.full(n_samples, np.inf)
    block_pot = update(centers[0:1], closest)
    for c in range(1, n_clusters):
        targets = random_state.uniform(size=n_local_trials) * block_pot.sum()
        cand_ids = _seeding.pp_pick(closest, sample_weight, block_pot, targets)
        cand = _rows(X, cand_ids)
        best = int(np.argmin(potentials(cand, closest)))
        centers[c] = cand[best]
        indices[c] = cand_ids[best]
        block_pot = update(cand[best:best + 1], closest)
    return centers, indices


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None,
                    random_state=None, n_local_trials=None, n_threads=None):
    """Initial centres by greedy k-means++, as :func:`sklearn.cluster.kmeans_plusplus`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data to pick seeds from.
    n_clusters : int
        Number of centres.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the samples in the sampling probabilities and potentials.
    x_squared_norms : array-like of shape (n_samples,), default=None
        Squared Euclidean norms of the rows of X (computed when None).
    random_state : int, RandomState instance or None, default=None
        Seed of the random draws.
    n_local_trials : int, default=None
        Candidates per step; ``2 + int(log(n_clusters))`` when None.
    n_threads : int, default=None
        Threads of the compiled kernels (None: all cores).

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
        Row of X each centre was taken from.
    """
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C")
    n_clusters = check_int("n_clusters", n_clusters, low=1)
    check_n_samples(X.shape[0], n_clusters)
    n_local_trials = check_int("n_local_trials", n_local_trials, low=1, allow_none=True)
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    if x_squared_norms is None:
        x_squared_norms = _row_sq_norms(X)
    else:
        x_squared_norms = check_array(x_squared_norms, dtype=np.float64, ensure_2d=False)
        if x_squared_norms.shape != (X.shape[0],):
            raise ValueError(
                f"x_squared_norms must have shape ({X.shape[0]},), got {x_squared_norms.shape}."
            )
    return _kmeans_plusplus(X, n_clusters, x_squared_norms, sample_weight,
                            check_random_state(random_state), n_local_trials,
                            effective_n_threads(n_threads))
