"""k-means|| seeding (Bahmani et al., "Scalable k-means++", VLDB 2012).

A few passes over the data instead of k: each round samples every row independently with
probability min(1, l w_i D_i^2 / phi) (l = oversampling * n_clusters, D_i the distance to the
closest candidate so far, phi = sum_i w_i D_i^2), then the candidates, weighted by the sample
weight of the rows closest to them, are reduced to n_clusters centres by kmix's weighted greedy
k-means++ followed by weighted Lloyd iterations on the candidates.

The same candidates on every machine: the closest candidate of a row follows kmix's exact
assignment rule, D_i^2 is the deterministic float64 distance (``sq_dist``: the same bits on every
CPU), a row keeps its earlier candidate unless a new one is strictly closer, and phi is reduced
over fixed row blocks in order.
"""
import numpy as np

from ._kmeans_algorithms import _Data, labels_inertia
from ._threads import threads_for

__all__ = ["kmeans_parallel"]

#: Sampling rounds after the first centre (Bahmani et al. find 5 rounds enough in practice).
N_ROUNDS = 5
#: Expected candidates per round, as a multiple of n_clusters (their l = 2k).
OVERSAMPLING = 2.0
#: Weighted Lloyd iterations on the candidates after their k-means++ seeding.
RECLUSTER_ITER = 30


def _fold_candidates(data, new_centers, closest, owner, offset):
    """Make every row's closest candidate the nearest of the old ones and ``new_centers``.

    ``closest`` (deterministic squared distances) and ``owner`` (candidate index) are updated
    in place; a new candidate (numbered from ``offset``) wins only when strictly closer.
    """
    labels, _ = labels_inertia(data.X, new_centers, None, data.n_threads)
    d2 = data.sq_dist_to_assigned(new_centers, labels)
    closer = d2 < closest
    closest[closer] = d2[closer]
    owner[closer] = labels[closer] + offset


def _potential(closest, sample_weight, data):
    from ._core import _lloyd

    n, d = data.X.shape
    return _lloyd.weighted_sum_ordered(closest, sample_weight,
                                       threads_for(data.n_threads, n, 1, d))


def _recluster(candidates, weights, n_clusters, random_state, n_threads):
    """n_clusters centres from the weighted candidates: k-means++ then weighted Lloyd."""
    from ._kmeans_algorithms import kmeans_single
    from ._seeding import _kmeans_plusplus, _row_sq_norms

    norms = _row_sq_norms(candidates)
    seeds, _ = _kmeans_plusplus(candidates, n_clusters, norms, weights, random_state,
                                n_threads=1)
    _, _, centers, _ = kmeans_single(_Data(candidates, 1), weights, seeds, algorithm="lloyd",
                                     max_iter=RECLUSTER_ITER, tol=0.0, verbose=0,
                                     x_squared_norms=norms)
    return centers


def kmeans_parallel(X, n_clusters, sample_weight, random_state, n_threads=1,
                    n_rounds=N_ROUNDS, oversampling=OVERSAMPLING):
    """Initial centres by k-means|| on validated input.

    Parameters
    ----------
    X : ndarray (C-contiguous) or CSR matrix of shape (n_samples, n_features), float32/float64
    n_clusters : int
    sample_weight : ndarray of shape (n_samples,), float64, non-negative
    random_state : numpy.random.RandomState
    n_threads : int
    n_rounds : int
        Sampling rounds after the first centre.
    oversampling : float
        Expected number of candidates drawn per round, as a multiple of ``n_clusters``.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
    """
    import scipy.sparse as sp

    n = X.shape[0]
    data = _Data(X, n_threads)
    total = float(np.sum(sample_weight))
    first = random_state.choice(n, p=sample_weight / total)
    chosen = [np.array([first])]
    closest = np.full(n, np.inf)
    owner = np.zeros(n, dtype=np.intp)
    rows = lambda idx: (X[idx].toarray() if sp.issparse(X) else X[idx])  # noqa: E731
    _fold_candidates(data, np.ascontiguousarray(rows(chosen[0]), dtype=X.dtype), closest,
                     owner, 0)
    n_candidates = 1
    expected = oversampling * n_clusters
    for _ in range(n_rounds):
        phi = _potential(closest, sample_weight, data)
        if phi == 0.0:
            break
        p = expected * sample_weight * closest / phi
        new = np.flatnonzero(random_state.uniform(size=n) < p)
        if new.size == 0:
            continue
        _fold_candidates(data, np.ascontiguousarray(rows(new), dtype=X.dtype), closest, owner,
                         n_candidates)
        chosen.append(new)
        n_candidates += new.size
    idx = np.concatenate(chosen)
    weights = np.bincount(owner, weights=sample_weight, minlength=n_candidates)
    candidates = np.ascontiguousarray(rows(idx), dtype=X.dtype)
    if np.count_nonzero(weights) < n_clusters:
        # Too few distinct candidates (data with fewer distinct rows than the oversampling
        # reaches): greedy k-means++ on all the data decides.
        from ._seeding import _kmeans_plusplus, _row_sq_norms

        return _kmeans_plusplus(X, n_clusters, _row_sq_norms(X), sample_weight, random_state,
                                n_threads=n_threads)[0]
    return _recluster(candidates, weights, n_clusters, random_state, n_threads)
