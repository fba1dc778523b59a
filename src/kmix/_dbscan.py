"""DBSCAN: a compiled, deterministic drop-in for :class:`sklearn.cluster.DBSCAN`."""
from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import validate_data

from ._core import _dbscan
from ._threads import effective_n_threads
from ._typing import ArrayLike, IntArray, MatrixLike, Self
from ._validation import (
    check_choice,
    check_int,
    check_magnitude,
    check_n_threads,
    check_real,
    check_sample_weight,
    check_squarable,
)

__all__ = ["DBSCAN"]

#: The metric names scikit-learn's DBSCAN accepts (``sklearn.metrics.pairwise._VALID_METRICS``
#: of scikit-learn 1.9, and 'precomputed'); callables are accepted too. Whether the neighbour
#: search supports a metric with the chosen algorithm, or on sparse data, is then decided by
#: :class:`sklearn.neighbors.NearestNeighbors`, with its errors.
METRICS = (
    "braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine", "dice",
    "euclidean", "hamming", "haversine", "jaccard", "l1", "l2", "mahalanobis", "manhattan",
    "matching", "minkowski", "nan_euclidean", "rogerstanimoto", "russellrao", "seuclidean",
    "sokalsneath", "sqeuclidean", "wminkowski", "yule", "precomputed",
)
ALGORITHMS = ("auto", "ball_tree", "kd_tree", "brute")

#: At most this many coordinates define the grid cells (3^g adjacent cells per cell), the
#: ones cut into the most cells; the other coordinates only enter the distances. Measured on
#: blobs (single thread, eps at the 30%/70% quantile of the 10th-neighbour distance): in
#: d = 5 and 10, 4 grid dimensions beat 2, 3, 5 and 6 (by up to 2x over 2); in d = 50, 5 beat
#: 4 by 1.2-1.5x; every choice beat scipy's cKDTree radius counts alone by 2-4x.
GRID_MAX_DIMS = 4
GRID_MAX_DIMS_WIDE = 5
WIDE_FEATURES = 16
#: Cells are eps * (1 + CELL_SLACK) wide, so that two points within eps of each other are in
#: adjacent cells even after the rounding of (x - min) / side ...
CELL_SLACK = 1e-6
#: ... which holds while the cell coordinate (x - min) / side stays below 2^30 (its rounding
#: error, 2^-22 at most, is then far below the slack); wider dimensions get wider cells.
MAX_CELLS_PER_DIM = 2**30
#: A dimension split into fewer cells prunes nothing (every cell is adjacent to the others).
MIN_CELLS_PER_DIM = 3
#: Below this many samples one thread does it all (waking a team costs more).
MIN_SAMPLES_PER_THREAD = 2000


# --------------------------------------------------------------------------------------------
# Euclidean data: the grid
# --------------------------------------------------------------------------------------------
def _grid_dims(X, eps):
    """Grid dimensions (most cells first), their cell sides, origins and cell counts."""
    lo = X.min(axis=0)
    hi = X.max(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = hi - lo
    side0 = eps * (1.0 + CELL_SLACK)
    sides = np.maximum(side0, spread / MAX_CELLS_PER_DIM)
    with np.errstate(over="ignore", invalid="ignore"):
        cells = np.floor(spread / sides) + 1
    usable = np.isfinite(spread) & np.isfinite(cells) & (cells >= MIN_CELLS_PER_DIM)
    max_dims = GRID_MAX_DIMS_WIDE if X.shape[1] >= WIDE_FEATURES else GRID_MAX_DIMS
    dims, total = [], 1
    for k in np.argsort(-np.where(usable, cells, 0), kind="stable"):
        if not usable[k] or len(dims) == max_dims:
            break
        padded = int(cells[k]) + 2  # coordinates 1..cells, neighbours 0..cells + 1
        if total * padded >= 2**62:
            break
        dims.append(int(k))
        total *= padded
    dims = np.asarray(dims, dtype=np.intp)
    return dims, sides[dims], lo[dims], cells[dims].astype(np.int64)


def _cell_keys(X, eps):
    """Linear cell key of every row and the key offsets of the 3^g adjacent cells."""
    dims, sides, origins, cells = _grid_dims(X, eps)
    strides = np.cumprod(np.concatenate(([1], cells[:-1] + 2))).astype(np.int64)
    keys = np.zeros(X.shape[0], dtype=np.int64)
    for k, f in enumerate(dims):
        coord = np.floor((X[:, f] - origins[k]) / sides[k]).astype(np.int64)
        np.clip(coord, 0, cells[k] - 1, out=coord)
        keys += (coord + 1) * strides[k]
    steps = np.array(list(itertools.product((-1, 0, 1), repeat=len(dims))), dtype=np.int64)
    if len(dims):
        offsets = np.sort(steps.reshape(-1, len(dims)) @ strides)
    else:  # one cell: the kernels take the offsets as triples around 0
        offsets = np.array([-1, 0, 1], dtype=np.int64)
    return keys, np.ascontiguousarray(offsets, dtype=np.int64)


def _build_grid(X, eps, n_threads):
    """Sort the rows by cell: (grid, order) with ``order[p]`` the row at sorted position p."""
    keys, offsets = _cell_keys(X, eps)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    bounds = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    start = np.concatenate(([0], bounds, [X.shape[0]])).astype(np.intp)
    cell_keys = np.ascontiguousarray(sorted_keys[start[:-1]])
    runs = _dbscan.cell_runs(cell_keys, start, offsets, n_threads)
    Xs = np.ascontiguousarray(X[order], dtype=np.float64)
    return _dbscan.Grid(Xs, start, *runs, eps * eps), order


def _euclidean_dense(X, weights, eps, min_samples, n_threads):
    """(core mask, labels) of dense rows under the Euclidean metric, by the grid."""
    n = X.shape[0]
    grid, order = _build_grid(X, eps, n_threads)
    counts = np.empty(n)
    sorted_weights = None if weights is None else np.ascontiguousarray(weights[order])
    _dbscan.grid_counts(grid, sorted_weights, counts, n_threads)
    core = (counts >= min_samples).view(np.uint8)
    parent = np.arange(n, dtype=np.intp)
    _dbscan.grid_union(grid, core, parent, n_threads)
    sorted_labels = np.empty(n, dtype=np.intp)
    _dbscan.component_labels(parent, core, order.astype(np.intp, copy=False), sorted_labels)
    _dbscan.grid_borders(grid, core, sorted_labels, n_threads)
    labels = np.empty(n, dtype=np.intp)
    labels[order] = sorted_labels
    is_core = np.empty(n, dtype=bool)
    is_core[order] = core.view(bool)
    return is_core, labels


# --------------------------------------------------------------------------------------------
# neighbourhood graphs: precomputed distances and sparse Euclidean data
# --------------------------------------------------------------------------------------------
def _threshold(values_dtype, eps):
    """eps as scikit-learn's ``distances <= eps`` compares it: in NumPy's result type of the
    distances and eps (float32 distances with a Python float eps compare in float32)."""
    dtype = np.result_type(values_dtype, eps)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.float64
    return float(np.asarray(eps).astype(dtype))


def _float_values(a):
    """float32 and float64 arrays as they are, any other dtype as float64 (C-contiguous)."""
    dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(a, dtype=dtype)


def _graph_clusters(counts_fn, expand_fn, weights, min_samples, n):
    """(core mask, labels) from a graph's weighted counts and cluster expansion."""
    counts = np.empty(n)
    counts_fn(np.ones(n) if weights is None else weights, counts)
    core = (counts >= min_samples).view(np.uint8)
    labels = np.empty(n, dtype=np.intp)
    expand_fn(core, labels)
    return core.view(bool), labels


def _precomputed_dense(D, weights, eps, min_samples, n_threads):
    D = _float_values(D)
    thr = _threshold(D.dtype, eps)
    return _graph_clusters(
        lambda w, c: _dbscan.dense_counts(D, thr, w, c, n_threads),
        lambda core, labels: _dbscan.dense_expand(D, thr, core, labels),
        weights, min_samples, D.shape[0])


def _csr_clusters(data, indices, indptr, thr, implicit_diagonal, weights, min_samples,
                  n_threads):
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    return _graph_clusters(
        lambda w, c: _dbscan.csr_counts(data, indices, indptr, thr, implicit_diagonal, w, c,
                                        n_threads),
        lambda core, labels: _dbscan.csr_expand(data, indices, indptr, thr, core, labels),
        weights, min_samples, indptr.shape[0] - 1)


def _precomputed_sparse(G, weights, eps, min_samples, n_threads):
    data = _float_values(G.data)
    return _csr_clusters(data, G.indices, G.indptr, _threshold(data.dtype, eps), True,
                         weights, min_samples, n_threads)


def _is_euclidean(metric, p, metric_params):
    """Whether the metric is the plain Euclidean distance, the grid's: 'euclidean', 'l2', or
    'minkowski' with p None or 2 (as scikit-learn's neighbour search reads them), without
    metric_params."""
    if metric_params:
        return False
    if isinstance(metric, str) and metric in ("euclidean", "l2"):
        return True
    return isinstance(metric, str) and metric == "minkowski" and (p is None or p == 2)


def _radius_graph_clusters(X, weights, eps, min_samples, n_threads, **search):
    """(core mask, labels) from scikit-learn's radius neighbourhoods (every metric, callables,
    sparse data): ``NearestNeighbors(radius=eps, **search)`` finds, for each sample, the
    samples within eps, itself included (the neighbourhoods scikit-learn's DBSCAN uses);
    kmix's kernels count them (weighted) and expand the clusters over that graph."""
    if sp.issparse(X) and X.indices.dtype != np.int32 and max(X.nnz, *X.shape) < 2**31:
        # scikit-learn's sparse Manhattan kernel takes only 32-bit indices (its own DBSCAN
        # fails on 64-bit ones): the same matrix with 32-bit indices (a new one; X is kept)
        X = type(X)((X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)),
                    shape=X.shape)
    graph = NearestNeighbors(radius=eps, **search).fit(X).radius_neighbors_graph(
        X, mode="distance")
    # every stored entry is a neighbour, whatever its distance: threshold +inf, and the
    # diagonal is stored (explicitly, as 0 or the sample's distance to itself)
    return _csr_clusters(_float_values(graph.data), graph.indices, graph.indptr, np.inf,
                         False, weights, min_samples, n_threads)


def _check_precomputed(X):
    """A precomputed distance matrix must be square and non-negative."""
    if X.shape[0] != X.shape[1]:
        raise ValueError(
            f"With metric='precomputed', X must be a square distance matrix; got shape "
            f"{X.shape}.")
    values = X.data if sp.issparse(X) else X
    if values.size and np.min(values) < 0:
        raise ValueError("Negative values in data passed to the precomputed distance matrix X.")


# --------------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------------
class DBSCAN(ClusterMixin, BaseEstimator):
    """Density-based clustering (DBSCAN) with compiled, multi-threaded, deterministic kernels.

    Same results as :class:`sklearn.cluster.DBSCAN`: the same core samples and the same labels,
    with scikit-learn's cluster numbering. A point is a core sample when the (weighted) number
    of samples within ``eps`` of it, itself included, is at least ``min_samples``; clusters
    are the connected groups of core samples (numbered in the order of their first core
    sample) with the non-core samples within ``eps`` of one of their core samples (a sample
    near several clusters joins the lowest-numbered one); the other samples are noise (-1).

    Dense Euclidean data (metric 'euclidean', 'l2', or 'minkowski' with p None or 2, no
    metric_params) never go through a neighbour search: kmix finds the neighbours on a grid of
    cells of side ``eps`` over at most 4 coordinates (5 from 16 features; points sorted by
    cell, the remaining coordinates only enter the distances), without storing the
    neighbourhoods: memory stays O(n_samples x n_features). Distances are summed in float64
    in feature order and compared as ``d^2 <= eps^2``, as scikit-learn's KD and ball trees do
    (its brute force, which it uses for ``algorithm='brute'`` and from 16 features with
    'auto', computes ``|x|^2 - 2 x.y + |y|^2`` instead: pairs within rounding of ``eps`` may
    then differ). Every other metric, and sparse data, go through scikit-learn's public
    :class:`sklearn.neighbors.NearestNeighbors` with ``radius=eps`` and this estimator's
    ``metric``, ``p``, ``metric_params``, ``algorithm``, ``leaf_size`` and ``n_jobs`` (the
    neighbourhoods scikit-learn's DBSCAN uses, so the same results, and the same errors for
    a metric the chosen algorithm or sparse data do not support); kmix's compiled kernels
    then count the neighbours and expand the clusters.

    Parameters
    ----------
    eps : float, default=0.5
        Neighbourhood radius: samples at distance <= eps are neighbours. Must be > 0.
    min_samples : int, default=5
        (Weighted) neighbourhood size, the sample itself included, that makes a core sample.
    metric : str or callable, default='euclidean'
        A metric of scikit-learn's neighbour search (any name of
        :func:`sklearn.metrics.pairwise_distances` that it supports, e.g. 'manhattan',
        'chebyshev', 'minkowski', 'cosine', 'haversine', 'mahalanobis'), a callable
        ``f(x, y, **metric_params) -> float`` on pairs of rows, or 'precomputed': X is then a
        square matrix of distances, dense, or sparse where only the stored entries are
        neighbours (and each sample is its own neighbour unless its diagonal entry is stored
        and larger than eps), as in scikit-learn.
    metric_params : dict, default=None
        Extra keyword arguments of the metric (e.g. ``{'w': w}`` for a weighted 'minkowski',
        ``{'VI': VI}`` for 'mahalanobis'; a 'p' here overrides ``p``, with scikit-learn's
        warning when ``p`` is also set).
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        scikit-learn's neighbour-search algorithm, for the metrics that go through it (see
        above); unused for dense Euclidean data and 'precomputed'.
    leaf_size : int, default=30
        Leaf size of the ball or KD tree, as in scikit-learn (speed and memory only).
    p : float, default=None
        Power of the Minkowski metric; None means 2 (Euclidean), 1 is Manhattan, inf
        Chebyshev. Only used with metric='minkowski'. (scikit-learn 1.9 raises for p=None
        with sparse data or a weight ``w`` in metric_params; kmix uses 2 there too.)
    n_jobs : int, default=None
        scikit-learn's parameter: parallel jobs of the neighbour search (None means 1 unless
        in a joblib context, -1 all processors). When ``n_threads`` is None, kmix also runs
        its own kernels on ``n_jobs`` threads (then None means all cores, negative counts as
        joblib); a set ``n_threads`` wins for kmix's kernels. Results do not depend on it.
    n_threads : int, default=None
        Threads of the compiled kernels; None uses ``n_jobs``, and all cores if that is None
        too. Results do not depend on it. (kmix only.)

    Attributes
    ----------
    core_sample_indices_ : ndarray of shape (n_core_samples,)
        Indices of the core samples, ascending.
    components_ : ndarray of shape (n_core_samples, n_features)
        A copy of each core sample (rows of X, in X's dtype; sparse if X is sparse).
    labels_ : ndarray of shape (n_samples,)
        Cluster of each sample; -1 for noise.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has feature names that are all strings.
    """

    def __init__(self, eps: float = 0.5, *, min_samples: int = 5,
                 metric: str | Callable[..., float] = "euclidean",
                 metric_params: dict | None = None, algorithm: str = "auto",
                 leaf_size: int = 30, p: float | None = None, n_jobs: int | None = None,
                 n_threads: int | None = None) -> None:
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.metric_params = metric_params
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.n_jobs = n_jobs
        self.n_threads = n_threads

    def _check_params(self):
        check_real("eps", self.eps, low=0.0, low_inclusive=False)
        check_int("min_samples", self.min_samples, low=1)
        if not callable(self.metric):
            if not isinstance(self.metric, str):
                raise TypeError(f"metric must be a string or a callable, got {self.metric!r} "
                                f"of type {type(self.metric).__name__}.")
            if self.metric not in METRICS:
                options = ", ".join(repr(m) for m in METRICS)
                raise ValueError(f"metric must be one of {options}, or a callable; "
                                 f"got {self.metric!r}.")
        if self.metric_params is not None and not isinstance(self.metric_params, dict):
            raise TypeError(f"metric_params must be a dict or None, got {self.metric_params!r}.")
        check_choice("algorithm", self.algorithm, ALGORITHMS)
        check_int("leaf_size", self.leaf_size, low=1)
        if self.p is not None:
            if isinstance(self.p, (bool, np.bool_)) or not isinstance(self.p, numbers.Real):
                raise TypeError(f"p must be a real number or None, got {self.p!r}.")
            if not self.p >= 0:  # NaN too; +inf is Chebyshev, as in scikit-learn
                raise ValueError(f"p must be >= 0 or None, got {self.p}.")
        check_int("n_jobs", self.n_jobs, allow_none=True)
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be None, a positive int or a negative int; got 0.")
        check_n_threads(self.n_threads)

    def _thread_count(self):
        """The kernels' thread count as asked for: n_threads, else n_jobs (None: all cores)."""
        return self.n_jobs if self.n_threads is None else self.n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        # distances are non-negative: negative ones are rejected
        tags.input_tags.positive_only = self.metric == "precomputed"
        tags.input_tags.sparse = True
        return tags

    def fit(self, X: MatrixLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> Self:
        """Perform DBSCAN clustering from features or a distance matrix.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                (n_samples, n_samples)
            Samples, or distances between samples if ``metric='precomputed'``. Sparse input
            is converted to CSR. Never modified.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in its neighbours' counts: a sample with weight at least
            ``min_samples`` is a core sample by itself, a negative weight may keep a neighbour
            from being one. Weights are absolute; all zero is rejected.

        Returns
        -------
        self : DBSCAN
        """
        self._check_params()
        # bool and integer data as float64 (as scikit-learn's neighbour searches take them)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32])
        if self.metric != "precomputed":
            # The grid compares squared distances with eps^2 (right even when they overflow
            # or underflow, as long as eps^2 does neither); sparse rows expand the squares.
            check_squarable("eps", self.eps)
            if sp.issparse(X):
                check_magnitude(X)
        n_samples = X.shape[0]
        weights = None
        if sample_weight is not None:
            weights = check_sample_weight(sample_weight, n_samples, allow_negative=True)
        n_threads = effective_n_threads(self._thread_count())
        if n_samples < MIN_SAMPLES_PER_THREAD:
            n_threads = 1
        is_core, labels = self._cluster(X, weights, n_threads)
        self.core_sample_indices_ = np.flatnonzero(is_core)
        self.labels_ = labels
        if len(self.core_sample_indices_):
            self.components_ = X[self.core_sample_indices_].copy()
        else:
            self.components_ = np.empty((0, X.shape[1]))
        return self

    def _cluster(self, X, weights, n_threads):
        """(core mask, labels) of validated X."""
        if isinstance(self.metric, str) and self.metric == "precomputed":
            _check_precomputed(X)
            if sp.issparse(X):
                return _precomputed_sparse(X, weights, self.eps, self.min_samples, n_threads)
            return _precomputed_dense(X, weights, self.eps, self.min_samples, n_threads)
        if not sp.issparse(X) and _is_euclidean(self.metric, self.p, self.metric_params):
            return _euclidean_dense(X, weights, float(self.eps), self.min_samples, n_threads)
        p = self.p
        if (p is None and isinstance(self.metric, str) and self.metric == "minkowski"
                and "p" not in (self.metric_params or {})):
            # p=None means 2, as documented by scikit-learn, whose neighbour search passes
            # None on (and then fails on sparse data and with a 'w' in metric_params)
            p = 2
        return _radius_graph_clusters(
            X, weights, self.eps, self.min_samples, n_threads, algorithm=self.algorithm,
            leaf_size=self.leaf_size, metric=self.metric, p=p,
            metric_params=self.metric_params, n_jobs=self.n_jobs)

    def fit_predict(self, X: MatrixLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> IntArray:
        """Cluster X and return ``labels_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                (n_samples, n_samples)
            As in :meth:`fit`.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster of each sample; -1 for noise.
        """
        return self.fit(X, sample_weight=sample_weight).labels_
