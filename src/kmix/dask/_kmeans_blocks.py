"""The per-block work of the distributed k-means: kmix's compiled kernels on one block.

These functions run in Dask tasks, on numpy blocks (rows of X, their weights). Every label is
the exact assignment rule's (the Lloyd kernel's), and every sum over a block is computed by the
kernels over fixed row blocks in order, so a block's results depend on its rows only.
"""
import hashlib

import numpy as np

from .._core import _bounds, _lloyd, _minibatch
from .._kmeans_algorithms import _NO_WEIGHTS, euclidean_to_centers, farthest_samples
from .._seeding import _row_sq_norms
from .._threads import blas_context
from ._data import checked_block as _checked
from ._data import contiguous

__all__ = ["lloyd_step", "hamerly_step", "cluster_weights", "assigned_inertia", "final_labels",
           "farthest", "predict", "transform", "label_pairs"]


def _weights(w):
    return _NO_WEIGHTS if w is None else np.ascontiguousarray(w, dtype=np.float64)


def _unit_weights(w, n):
    return np.ones(n) if w is None else np.ascontiguousarray(w, dtype=np.float64)


def _assign(X, centers, n_threads):
    """Labels (int32) and the exact squared distances to the assigned centres (float64)."""
    labels = np.empty(X.shape[0], dtype=np.int32)
    d2 = np.empty(X.shape[0])
    with blas_context(X):
        _minibatch.labels_inertia_dense(X, _NO_WEIGHTS, centers, labels, n_threads)
    _lloyd.sq_dist_to_assigned_dense(X, centers, labels, d2, n_threads)
    return labels, d2


def _inertia(X, w, centers, labels, n_threads):
    """The weighted inertia of the block's rows on their labelled centres (w: float64 weights
    of every row), summed in row order."""
    d2 = np.empty(X.shape[0])
    _lloyd.sq_dist_to_assigned_dense(X, centers, labels, d2, n_threads)
    return _lloyd.weighted_sum_ordered(d2, w, n_threads)


def lloyd_step(X, w, centers, with_inertia, n_threads):
    """One Lloyd pass over a block: (weighted sums of the rows per cluster (k x d), weights
    per cluster, inertia on ``centers`` (None unless ``with_inertia``: it takes another pass
    over the block, and only ``verbose`` prints it), digest of the labels).

    The digest (BLAKE2b of the labels) tells the client whether the block's labels changed
    since the previous pass without the labels leaving the worker."""
    X = contiguous(X)
    n, d = X.shape
    k = centers.shape[0]
    w = _unit_weights(w, n)
    labels = np.full(n, -1, dtype=np.int32)
    sums = np.zeros((k, d))
    wsum = np.zeros(k)
    clusters = _lloyd.Clusters(w, labels, sums, wsum, _lloyd.Workspace(n, k, d, X.dtype, True))
    with blas_context(X):
        _lloyd.lloyd_pass_dense(X, centers, clusters, True, n_threads)
    inertia = _inertia(X, w, centers, labels, n_threads) if with_inertia else None
    digest = hashlib.blake2b(labels.tobytes(), digest_size=16).digest()
    return sums, wsum, inertia, digest


def hamerly_step(X, w, previous, centers, shift, half_sep, n_threads):
    """One Hamerly pass over a block, its per-sample state kept where the block lives.

    ``previous`` is this function's result for the block's previous pass (None before the
    first): its state is the block's (labels, upper bounds, lower bounds, squared row norms)
    (the whole result is taken, not a task extracting the state: one task less per block and
    iteration, which the scheduler's overhead makes worth it); ``shift`` (how far each centre
    moved, rounded up) and ``half_sep`` are those of in-memory kmix's Hamerly pass.

    Returns (the new state, (changes of the per-cluster weighted sums (k x d) and weights, how
    many labels changed)); before the first pass the changes are the block's sums themselves.
    The previous state is copied, never modified: Dask may run a task again (a lost worker)
    from the same inputs."""
    X = contiguous(X)
    n, d = X.shape
    k = centers.shape[0]
    w = _unit_weights(w, n)
    if previous is None:
        labels = np.full(n, -1, dtype=np.int32)
        upper, lower = np.zeros(n), np.zeros(n)
        norms = _row_sq_norms(X)
    else:
        state = previous[0]
        labels, upper, lower = (a.copy() for a in state[:3])
        norms = state[3]
    sums = np.zeros((k, d))
    wsum = np.zeros(k)
    clusters = _lloyd.Clusters(w, labels, sums, wsum, _lloyd.Workspace(n, k, d, X.dtype, True))
    with blas_context(X):
        changed = _bounds.hamerly_pass_dense(X, centers, shift, half_sep,
                                             _bounds.Bounds(norms, upper, lower), clusters,
                                             True, n_threads)
    return (labels, upper, lower, norms), (sums, wsum, int(changed))


def cluster_weights(X, w, result, n_clusters):
    """The weight of each cluster among a block's rows, from its labels (its
    :func:`hamerly_step` result), summed in row order."""
    return np.bincount(result[0][0], weights=_unit_weights(w, X.shape[0]),
                       minlength=n_clusters)


def assigned_inertia(X, w, result, centers, n_threads):
    """The weighted inertia of a block's labels (from its :func:`hamerly_step` result) on
    ``centers``."""
    X = contiguous(X)
    return _inertia(X, _unit_weights(w, X.shape[0]), centers, result[0][0], n_threads)


def final_labels(X, w, centers, n_threads):
    """(labels, inertia, number of samples per cluster) of a block on the final centres; the
    inertia summed as ``kmix._kmeans_algorithms.inertia`` sums it."""
    X = contiguous(X)
    labels, d2 = _assign(X, centers, n_threads)
    inertia = _lloyd.weighted_sum_ordered(d2, _unit_weights(w, X.shape[0]), n_threads)
    return labels, inertia, np.bincount(labels, minlength=centers.shape[0])


def farthest(X, w, centers, n, start, n_threads):
    """The block's n samples farthest from their closest centre (the farthest first, ties to
    the lowest index): (squared distances, global indices, rows as float64, weights, labels)
    for the relocation of empty clusters."""
    X = contiguous(X)
    labels, d2 = _assign(X, centers, n_threads)
    far = farthest_samples(d2, n)
    return (d2[far], start + far, X[far].astype(np.float64),
            _unit_weights(w, X.shape[0])[far], labels[far])


def predict(X, centers):
    """Labels of a block on the centres (map_blocks)."""
    X = _checked(X)
    if X.shape[0] == 0:
        return np.empty(0, dtype=np.int32)
    return _assign(X, np.ascontiguousarray(centers, dtype=X.dtype), 1)[0]


def transform(X, centers):
    """Euclidean distances of a block to the centres (map_blocks)."""
    X = _checked(X)
    return euclidean_to_centers(X, centers)


def score(X, w, centers):
    """The weighted inertia of a block on the centres."""
    X = _checked(X)
    if X.shape[0] == 0:
        return 0.0
    w = _unit_weights(w, X.shape[0])
    if not np.all(np.isfinite(w)) or w.min() < 0:
        raise ValueError("sample_weight must be finite and non-negative.")
    labels, d2 = _assign(X, np.ascontiguousarray(centers, dtype=X.dtype), 1)
    return _lloyd.weighted_sum_ordered(d2, w, 1)


def label_pairs(labels_a, labels_b, n_clusters):
    """The distinct (a, b) label pairs of a block, as a * n_clusters + b, and the distinct a."""
    return (np.unique(labels_a.astype(np.int64) * n_clusters + labels_b),
            np.unique(labels_a))
