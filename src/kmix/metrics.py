"""Cluster metrics: silhouette (per sample and mean), Calinski-Harabasz, Davies-Bouldin.

Same values as :mod:`sklearn.metrics` (any label type; a sample alone in its cluster has a
silhouette of 0). The silhouette's O(n^2 d) distance sums run in the compiled core in chunks:
memory stays O(n k) beyond X, whatever n.
"""
import numbers

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_array, check_random_state

from ._core import _silhouette
from ._threads import blas_single_threaded, effective_n_threads, threads_for
from ._validation import check_magnitude, check_n_threads

#: The symmetric reduction keeps 4 accumulators of n x k doubles; beyond this many bytes the
#: one-sided reduction (no extra memory, twice the distances) runs instead.
_SYMMETRIC_LANES = 4
_SYMMETRIC_MAX_BYTES = 64 * 1024 * 1024

__all__ = ["silhouette_samples", "silhouette_score", "calinski_harabasz_score",
           "davies_bouldin_score"]


def _check_X_labels(X, labels):
    X = check_magnitude(check_array(X, dtype=[np.float64, np.float32], order="C"))
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-dimensional, got shape {labels.shape}.")
    if labels.shape[0] != X.shape[0]:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, "
            f"{labels.shape[0]}]"
        )
    encoded = LabelEncoder().fit_transform(labels)
    n_labels = int(encoded.max()) + 1 if encoded.size else 0
    if not 1 < n_labels < X.shape[0]:
        raise ValueError(
            f"Number of labels is {n_labels}. Valid values are 2 to n_samples - 1 (inclusive)"
        )
    return X, encoded.astype(np.int32), n_labels


def silhouette_samples(X, labels, *, metric="euclidean", n_threads=None):
    """Silhouette coefficient of every sample: (b - a) / max(a, b).

    a: mean distance to the other samples of its cluster; b: smallest mean distance to the
    samples of another cluster. 0 for a sample alone in its cluster.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    labels : array-like of shape (n_samples,)
        Cluster labels (any type).
    metric : {'euclidean'}, default='euclidean'
    n_threads : int, default=None
        Threads of the compiled reduction (None: all cores).

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    if metric not in ("euclidean", "l2"):
        raise ValueError(f"metric must be 'euclidean', got {metric!r}.")
    X, labels, k = _check_X_labels(X, labels)
    n = X.shape[0]
    n_threads = threads_for(effective_n_threads(check_n_threads(n_threads)), n, n,
                            max(1, X.shape[1]))
    sums = np.empty((n, k))
    with blas_single_threaded():
        if _SYMMETRIC_LANES * n * k * 8 <= _SYMMETRIC_MAX_BYTES:
            # each distance once (half the work), with 4 extra n x k accumulators
            _silhouette.cluster_distance_sums_symmetric(X, labels, k, sums, n_threads)
        else:
            _silhouette.cluster_distance_sums(X, labels, k, sums, n_threads)
    return _silhouette_from_sums(sums, labels, k).astype(X.dtype, copy=False)


def _silhouette_from_sums(sums, labels, k):
    """Silhouettes from S[i, c] = sum of distances from i to the samples of cluster c."""
    n = labels.shape[0]
    counts = np.bincount(labels, minlength=k)
    own = sums[np.arange(n), labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = own / (counts[labels] - 1)
        means = sums / counts
        means[np.arange(n), labels] = np.inf
        b = means.min(axis=1)
        s = (b - a) / np.maximum(a, b)
    return np.nan_to_num(s)


def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None,
                     n_threads=None):
    """Mean silhouette coefficient (on a random subset of ``sample_size`` samples if given)."""
    if sample_size is not None:
        # lengths checked on the full data, labels on the subset (as scikit-learn)
        X = check_array(X, dtype=[np.float64, np.float32])
        labels = np.asarray(labels)
        if labels.shape[:1] != X.shape[:1]:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{X.shape[0]}, {labels.shape[0] if labels.ndim else 1}]"
            )
        if (isinstance(sample_size, (bool, np.bool_))
                or not isinstance(sample_size, numbers.Integral) or sample_size < 1):
            raise ValueError(f"sample_size must be a positive int, got {sample_size!r}.")
        indices = check_random_state(random_state).permutation(X.shape[0])[:sample_size]
        X, labels = X[indices], labels[indices]
    return float(np.mean(silhouette_samples(X, labels, metric=metric, n_threads=n_threads)))


def _centroids(X, labels, k):
    """Cluster sizes and centroids of float64 X for labels 0..k-1."""
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, X)
    return counts, sums / counts[:, None]


def calinski_harabasz_score(X, labels):
    """Ratio of between-cluster to within-cluster dispersion (higher is better)."""
    X, labels, k = _check_X_labels(X, labels)
    X = X.astype(np.float64, copy=False)
    n = X.shape[0]
    mean = X.mean(axis=0)
    counts, centroids = _centroids(X, labels, k)
    extra = float(np.sum(counts * np.sum((centroids - mean) ** 2, axis=1)))
    intra = float(np.sum((X - centroids[labels]) ** 2))
    return float(1.0 if intra == 0.0 else extra * (n - k) / (intra * (k - 1.0)))


def davies_bouldin_score(X, labels):
    """Mean, over clusters, of the largest (s_i + s_j) / d(c_i, c_j) (lower is better)."""
    X, labels, k = _check_X_labels(X, labels)
    X = X.astype(np.float64, copy=False)
    counts, centroids = _centroids(X, labels, k)
    dist = np.sqrt(np.sum((X - centroids[labels]) ** 2, axis=1))
    intra = np.bincount(labels, weights=dist, minlength=k) / counts
    diff = centroids[:, None, :] - centroids[None, :, :]
    centroid_distances = np.sqrt(np.sum(diff**2, axis=-1))
    if np.allclose(intra, 0) or np.allclose(centroid_distances, 0):
        return 0.0
    centroid_distances[centroid_distances == 0] = np.inf
    combined = intra[:, None] + intra
    scores = np.max(combined / centroid_distances, axis=1)
    return float(np.mean(scores))
