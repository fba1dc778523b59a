"""Cluster metrics: silhouette (per sample and mean), Calinski-Harabasz, Davies-Bouldin.

Same values, signatures and validation as :mod:`sklearn.metrics` (any label type; a sample
alone in its cluster has a silhouette of 0). Silhouettes accept every metric of
:func:`sklearn.metrics.pairwise_distances` (names, callables, ``**kwds``), sparse X and
precomputed distance matrices (dense or sparse). Memory stays O(n k) beyond the input whatever
the metric: no n x n matrix is formed unless the caller passed one.

- ``'euclidean'`` on dense X: the O(n^2 d) distance sums run in the compiled core in tiles.
- ``'precomputed'`` dense: a compiled per-row, per-cluster sum over the given matrix.
- any other metric, and sparse X: scikit-learn computes the distances in blocks of rows
  (:func:`sklearn.metrics.pairwise_distances_chunked`) and the compiled core sums each block
  per cluster before the next is computed.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.metrics import pairwise_distances_chunked
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_array, check_random_state, check_X_y

from ._core import _silhouette
from ._threads import blas_single_threaded, effective_n_threads, threads_for
from ._typing import ArrayLike, FloatArray, MatrixLike, RandomStateLike
from ._validation import check_magnitude, check_n_threads

try:  # the metric names pairwise_distances accepts (they depend on the SciPy version)
    from sklearn.metrics.pairwise import _VALID_METRICS
except ImportError:  # pragma: no cover - private name moved: let pairwise_distances decide
    _VALID_METRICS = None

#: The symmetric reduction keeps 4 accumulators of n x k doubles; beyond this many bytes the
#: one-sided reduction (no extra memory, twice the distances) runs instead.
_SYMMETRIC_LANES = 4
_SYMMETRIC_MAX_BYTES = 64 * 1024 * 1024

#: Largest block of distances (MiB) the chunked paths hold at once: rows of the distance matrix
#: are computed (or converted) this many bytes at a time, then reduced per cluster.
_CHUNK_MIB = 16

#: Metrics scikit-learn computes in float32 for float32 data: kmix computes them in float64
#: (a float32 copy of X upcast; silhouettes returned in float32, as scikit-learn's).
_FLOAT32_METRICS = frozenset({"euclidean", "l2", "cosine", "nan_euclidean"})

#: Keywords of the distance computation that do not change the distances.
_NEUTRAL_KWDS = frozenset({"n_jobs", "working_memory"})

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
    _check_number_of_labels(n_labels, X.shape[0])
    return X, encoded.astype(np.int32), n_labels


def _check_number_of_labels(n_labels, n_samples):
    if not 1 < n_labels < n_samples:
        raise ValueError(
            f"Number of labels is {n_labels}. Valid values are 2 to n_samples - 1 (inclusive)"
        )


def _check_metric(metric, caller):
    """A name :func:`sklearn.metrics.pairwise_distances` knows, 'precomputed' or a callable."""
    if callable(metric):
        return metric
    if not isinstance(metric, str):
        raise TypeError(f"The 'metric' parameter of {caller} must be a str or a callable, "
                        f"got {metric!r} of type {type(metric).__name__}.")
    if _VALID_METRICS is not None and metric not in _VALID_METRICS and metric != "precomputed":
        names = ", ".join(sorted(set(_VALID_METRICS) | {"precomputed"}))
        raise ValueError(f"The 'metric' parameter of {caller} must be one of {names} or a "
                         f"callable. Got {metric!r} instead.")
    return metric


def _check_random_state(random_state, caller):
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return random_state
    if (isinstance(random_state, numbers.Integral)
            and not isinstance(random_state, (bool, np.bool_))
            and 0 <= random_state <= np.iinfo(np.uint32).max):
        return random_state
    raise ValueError(f"The 'random_state' parameter of {caller} must be an int in the range "
                     f"[0, 4294967295], a numpy.random.RandomState instance or None. Got "
                     f"{random_state!r} instead.")


def _chunk_rows(n_columns):
    """Rows of ``n_columns`` float64 distances that fit in the chunk budget (at least 1)."""
    return max(1, int(_CHUNK_MIB * 2**20) // (8 * max(n_columns, 1)))


def _float_dtype(dtype):
    """The dtype scikit-learn computes distances in: float32 stays, anything else float64."""
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def _dense_block_sums(D, labels, k, S, n_threads):
    """S = per-cluster sums of the rows of the dense block D (no copy if it is C-ordered
    float32/float64); returns D's smallest entry if negative, else 0."""
    if D.dtype not in (np.float32, np.float64) or not D.flags.c_contiguous:
        D = np.ascontiguousarray(D, dtype=_float_dtype(D.dtype))
    threads = threads_for(n_threads, D.shape[0], D.shape[1], 1)
    return _silhouette.cluster_sums_from_distances(D, labels, k, S, threads)


def _sparse_block_sums(D, labels, k, S, n_threads):
    """S = per-cluster sums of the stored entries of each row of the CSR block D (absent
    entries are distances of 0), in float64 by the compiled core; returns D's smallest stored
    entry if negative, else 0."""
    data = D.data
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    indptr, indices = D.indptr, D.indices
    if indptr.dtype != indices.dtype or indices.dtype not in (np.int32, np.int64):
        indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
    threads = threads_for(n_threads, D.shape[0], max(1, D.nnz // max(D.shape[0], 1)), 1)
    return _silhouette.cluster_sums_from_csr(np.ascontiguousarray(data),
                                             np.ascontiguousarray(indices),
                                             np.ascontiguousarray(indptr), labels, k, S,
                                             threads)


def _precomputed_sums(D, labels, k, n_threads, finite=True):
    """Per-cluster distance sums from a precomputed matrix (validated by check_X_y, CSR if
    sparse), checked as scikit-learn checks it: square and non-negative; and finite, if
    ``finite`` is False (a dense C-ordered float matrix whose check was left to this pass)."""
    n = D.shape[0]
    if D.shape[1] != n:
        raise ValueError(f"Precomputed metric requires shape (n_queries, n_indexed). Got "
                         f"({D.shape[0]}, {D.shape[1]}) for {n} indexed.")
    negative = ValueError("Negative values in data passed to silhouette_samples: a precomputed "
                          "distance matrix must have non-negative values.")
    sums = np.empty((n, k))
    if sp.issparse(D):
        if _sparse_block_sums(D, labels, k, sums, n_threads) < 0:
            raise negative
    elif D.dtype in (np.float32, np.float64) and D.flags.c_contiguous:
        lowest = _dense_block_sums(D, labels, k, sums, n_threads)
        # a NaN or +inf entry makes its row's sums non-finite, a -inf one the lowest entry
        if not finite and not (np.isfinite(lowest) and np.isfinite(sums).all()):
            _check_finite(D)  # raises, unless finite entries only overflowed the sums
        if lowest < 0:
            raise negative
    else:  # other dtypes / layouts: converted a block of rows at a time, never all at once
        step = _chunk_rows(n)
        for i0 in range(0, n, step):
            if _dense_block_sums(D[i0:i0 + step], labels, k, sums[i0:i0 + step],
                                 n_threads) < 0:
                raise negative
    return sums, _float_dtype(D.dtype)


def _chunked_sums(X, labels, k, metric, n_threads, kwds):
    """Per-cluster distance sums for any metric of pairwise_distances: scikit-learn computes
    the distances a block of rows at a time, each block is reduced before the next."""
    n = X.shape[0]
    sums = np.empty((n, k))
    dtype = []
    working_memory = kwds.pop("working_memory", None)
    if working_memory is None:
        working_memory = min(_CHUNK_MIB, get_config()["working_memory"])

    def reduce(D_chunk, start):
        block = sums[start:start + D_chunk.shape[0]]
        if sp.issparse(D_chunk):
            _sparse_block_sums(D_chunk.tocsr(), labels, k, block, n_threads)
        else:
            _dense_block_sums(np.asarray(D_chunk), labels, k, block, n_threads)
        if not dtype:
            dtype.append(_float_dtype(D_chunk.dtype))
        return block

    for _ in pairwise_distances_chunked(X, reduce_func=reduce, metric=metric,
                                        working_memory=working_memory, **kwds):
        pass
    return sums, dtype[0]


def _euclidean_sums(X, labels, k, n_threads):
    """Per-cluster Euclidean distance sums of dense X by the compiled tiled kernels."""
    X = check_array(X, dtype=[np.float64, np.float32], order="C")
    n = X.shape[0]
    n_threads = threads_for(n_threads, n, n, max(1, X.shape[1]))
    sums = np.empty((n, k))
    with blas_single_threaded():
        if _SYMMETRIC_LANES * n * k * 8 <= _SYMMETRIC_MAX_BYTES:
            # each distance once (half the work), with 4 extra n x k accumulators
            _silhouette.cluster_distance_sums_symmetric(X, labels, k, sums, n_threads)
        else:
            _silhouette.cluster_distance_sums(X, labels, k, sums, n_threads)
    return sums, X.dtype


def silhouette_samples(X: MatrixLike, labels: ArrayLike, *,
                       metric: str | Callable[..., float] = "euclidean",
                       n_threads: int | None = None, **kwds: object) -> FloatArray:
    """Compute the silhouette coefficient of every sample: (b - a) / max(a, b).

    a: mean distance to the other samples of its cluster; b: smallest mean distance to the
    samples of another cluster. 0 for a sample alone in its cluster. Same values, validation
    and errors as :func:`sklearn.metrics.silhouette_samples`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_samples) if metric == \
            'precomputed' or (n_samples, n_features) otherwise
        Feature array, or pairwise distances between samples (with zeros on the diagonal) if
        ``metric='precomputed'``.
    labels : array-like of shape (n_samples,)
        Cluster labels (any type); 2 to n_samples - 1 distinct values.
    metric : str or callable, default='euclidean'
        Any metric :func:`sklearn.metrics.pairwise_distances` accepts, or 'precomputed'.
        'euclidean' on dense X and 'precomputed' on a dense matrix run in the compiled core;
        the others are computed by scikit-learn a block of rows at a time and reduced per
        block (memory O(n k) plus one block, whatever n).
    n_threads : int, default=None
        Threads of the compiled reductions (None: all cores). Results do not depend on it.
    **kwds
        Passed to the distance function (e.g. ``p`` for 'minkowski', ``n_jobs``,
        ``working_memory`` in MiB for the block size); ignored with 'precomputed'.

    Returns
    -------
    silhouette : ndarray of shape (n_samples,)
        float32 where scikit-learn returns float32 (float32 X with 'euclidean', 'l2',
        'cosine' or a callable returning float32, float32 precomputed matrix), float64
        otherwise. Distances of float32 X are computed in float64 (except by callables, which
        get X as given) and the sums are always accumulated in float64.

    Raises
    ------
    ValueError
        For an unknown metric, inconsistent lengths, a number of labels outside
        [2, n_samples - 1], non-finite values, or a precomputed matrix that is not square,
        has non-zero diagonal entries or negative entries.
    TypeError
        For a metric that is neither a str nor a callable, or a SciPy metric on sparse X.
    """
    metric = _check_metric(metric, "silhouette_samples")
    n_threads = effective_n_threads(check_n_threads(n_threads))
    # A dense float precomputed matrix is read once: the compiled reduction also reveals
    # non-finite entries (non-finite sums); scikit-learn's check then only reports them.
    deferred = (metric == "precomputed" and isinstance(X, np.ndarray) and X.ndim == 2
                and X.dtype in (np.float32, np.float64) and X.flags.c_contiguous)
    X, labels = check_X_y(X, labels, accept_sparse=["csr"], ensure_all_finite=not deferred)
    if metric != "precomputed":
        # Euclidean and other metrics square or sum the values (see check_magnitude);
        # a precomputed matrix holds the distances themselves.
        X = check_magnitude(X, squared=metric in ("euclidean", "l2", "sqeuclidean")
                            or not isinstance(metric, str))
    try:
        return _silhouette_samples(X, labels, metric, n_threads, kwds, not deferred)
    except ValueError:
        if deferred:  # report non-finite values first, as scikit-learn
            _check_finite(X)
        raise


def _check_finite(X):
    """scikit-learn's error for NaN or infinite entries of X (None if all finite)."""
    check_array(X, accept_sparse=True, dtype=None, ensure_all_finite=True, input_name="X")


def _silhouette_samples(X, labels, metric, n_threads, kwds, finite):
    """silhouette_samples on validated X and labels (``finite``: X known to be finite)."""
    if metric == "precomputed":
        error = ValueError("The precomputed distance matrix contains non-zero elements on the "
                           "diagonal. Use np.fill_diagonal(X, 0).")
        diagonal = X.diagonal()
        if X.dtype.kind == "f":
            if np.any(np.abs(diagonal) > np.finfo(X.dtype).eps * 100):
                raise error
        elif np.any(diagonal != 0):
            raise error

    encoder = LabelEncoder()
    encoded = encoder.fit_transform(labels).astype(np.int32)
    k = len(encoder.classes_)
    _check_number_of_labels(k, encoded.shape[0])

    if metric == "precomputed":
        sums, dtype = _precomputed_sums(X, encoded, k, n_threads, finite)
    elif metric in ("euclidean", "l2") and not sp.issparse(X) and set(kwds) <= _NEUTRAL_KWDS:
        sums, dtype = _euclidean_sums(X, encoded, k, n_threads)
    elif isinstance(metric, str) and metric in _FLOAT32_METRICS and X.dtype == np.float32:
        # distances in float64 (as the compiled Euclidean path), silhouettes in float32
        sums, _ = _chunked_sums(X.astype(np.float64), encoded, k, metric, n_threads,
                                dict(kwds))
        dtype = np.float32
    else:
        sums, dtype = _chunked_sums(X, encoded, k, metric, n_threads, dict(kwds))
    return _silhouette_from_sums(sums, encoded, k).astype(dtype, copy=False)


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


def silhouette_score(X: MatrixLike, labels: ArrayLike, *,
                     metric: str | Callable[..., float] = "euclidean",
                     sample_size: int | None = None, random_state: RandomStateLike = None,
                     n_threads: int | None = None, **kwds: object) -> float:
    """Compute the mean silhouette coefficient of all samples (or of a random subset).

    Same values, validation and errors as :func:`sklearn.metrics.silhouette_score`; see
    :func:`silhouette_samples` for the per-sample values.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_samples) if metric == \
            'precomputed' or (n_samples, n_features) otherwise
        Feature array, or pairwise distances between samples if ``metric='precomputed'``.
    labels : array-like of shape (n_samples,)
        Cluster labels (any type).
    metric : str or callable, default='euclidean'
        Any metric :func:`sklearn.metrics.pairwise_distances` accepts, or 'precomputed'.
    sample_size : int, default=None
        Score a random subset of this many samples (the same subset as scikit-learn's for
        the same ``random_state``; with 'precomputed', the matching rows and columns).
    random_state : int, RandomState instance or None, default=None
        Draws the subset when ``sample_size`` is given.
    n_threads : int, default=None
        Threads of the compiled reductions (None: all cores). Results do not depend on it.
    **kwds
        Passed to the distance function (see :func:`silhouette_samples`).

    Returns
    -------
    silhouette : float
        Mean silhouette coefficient.
    """
    metric = _check_metric(metric, "silhouette_score")
    random_state = _check_random_state(random_state, "silhouette_score")
    if sample_size is not None:
        if (isinstance(sample_size, (bool, np.bool_))
                or not isinstance(sample_size, numbers.Integral) or sample_size < 1):
            raise ValueError(f"The 'sample_size' parameter of silhouette_score must be an int "
                             f"in the range [1, inf) or None. Got {sample_size!r} instead.")
        # lengths checked on the full data, the number of labels on the subset (as scikit-learn)
        X, labels = check_X_y(X, labels, accept_sparse=["csc", "csr"])
        indices = check_random_state(random_state).permutation(X.shape[0])[:sample_size]
        if metric == "precomputed":
            X = X[indices][:, indices] if sp.issparse(X) else X[np.ix_(indices, indices)]
        else:
            X = X[indices]
        labels = labels[indices]
    return float(np.mean(silhouette_samples(X, labels, metric=metric, n_threads=n_threads,
                                            **kwds)))


def _centroids(X, labels, k):
    """Cluster sizes and centroids of float64 X for labels 0..k-1."""
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, X)
    return counts, sums / counts[:, None]


def calinski_harabasz_score(X: ArrayLike, labels: ArrayLike) -> float:
    """Ratio of between-cluster to within-cluster dispersion (higher is better)."""
    X, labels, k = _check_X_labels(X, labels)
    X = X.astype(np.float64, copy=False)
    n = X.shape[0]
    mean = X.mean(axis=0)
    counts, centroids = _centroids(X, labels, k)
    extra = float(np.sum(counts * np.sum((centroids - mean) ** 2, axis=1)))
    intra = float(np.sum((X - centroids[labels]) ** 2))
    return float(1.0 if intra == 0.0 else extra * (n - k) / (intra * (k - 1.0)))


def davies_bouldin_score(X: ArrayLike, labels: ArrayLike) -> float:
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
