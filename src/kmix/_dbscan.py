"""DBSCAN: a compiled, deterministic drop-in for :class:`sklearn.cluster.DBSCAN`."""
import itertools

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import validate_data

from ._core import _dbscan
from ._threads import effective_n_threads
from ._validation import (check_choice, check_int, check_magnitude, check_n_threads,
                          check_real, check_sample_weight, check_squarable)

__all__ = ["DBSCAN"]

METRICS = ("euclidean", "precomputed")

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
#: Rows per block of the brute-force pass over sparse Euclidean data: ~2^22 dense distances.
SPARSE_BLOCK_ENTRIES = 1 << 22


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


def _sparse_euclidean_graph(X, eps):
    """CSR graph of the pairs at squared distance <= eps^2 (||x||^2 + ||y||^2 - 2 x.y, as
    scikit-learn's brute force on sparse data; 0 on the diagonal), by blocks of rows."""
    X = X.astype(np.float64)
    n = X.shape[0]
    sq = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    XT = X.T.tocsc()
    block = max(1, SPARSE_BLOCK_ENTRIES // n)
    eps2 = eps * eps
    rows, cols, vals = [], [], []
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        d2 = np.asarray((X[b0:b1] @ XT).todense())
        d2 *= -2.0
        d2 += sq[b0:b1, None]
        d2 += sq[None, :]
        np.maximum(d2, 0.0, out=d2)
        d2[np.arange(b1 - b0), np.arange(b0, b1)] = 0.0
        r, c = np.nonzero(d2 <= eps2)
        rows.append(r + b0)
        cols.append(c)
        vals.append(d2[r, c])
    rows, cols, vals = (np.concatenate(a) for a in (rows, cols, vals))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n))))
    return vals, cols, indptr, eps2


def _sparse_euclidean(X, weights, eps, min_samples, n_threads):
    data, indices, indptr, thr = _sparse_euclidean_graph(X, eps)
    return _csr_clusters(data, indices, indptr, thr, False, weights, min_samples, n_threads)


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

    Euclidean neighbours are found on a grid of cells of side ``eps`` over at most three
    coordinates (points sorted by cell; the remaining coordinates only enter the distances),
    without storing the neighbourhoods: memory stays O(n_samples x n_features).
    Distances are summed in float64 in feature order and compared as ``d^2 <= eps^2``, as
    scikit-learn's KD-tree does (for more than 15 features scikit-learn uses a less exact
    brute-force formula: pairs within rounding of ``eps`` may then differ).

    Parameters
    ----------
    eps : float, default=0.5
        Neighbourhood radius: samples at distance <= eps are neighbours. Must be > 0.
    min_samples : int, default=5
        (Weighted) neighbourhood size, the sample itself included, that makes a core sample.
    metric : {'euclidean', 'precomputed'}, default='euclidean'
        'precomputed': X is a square matrix of distances, dense, or sparse where only the
        stored entries are neighbours (and each sample is its own neighbour unless its
        diagonal entry is stored and larger than eps), as in scikit-learn.
    n_threads : int, default=None
        Threads of the compiled kernels; None uses all cores. Results do not depend on it.
        (kmix only.)

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

    def __init__(self, eps=0.5, *, min_samples=5, metric="euclidean", n_threads=None):
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.n_threads = n_threads

    def _check_params(self):
        check_real("eps", self.eps, low=0.0, low_inclusive=False)
        check_int("min_samples", self.min_samples, low=1)
        check_choice("metric", self.metric, METRICS)
        check_n_threads(self.n_threads)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        # distances are non-negative: negative ones are rejected
        tags.input_tags.positive_only = self.metric == "precomputed"
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y=None, sample_weight=None):
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
        n_threads = effective_n_threads(self.n_threads)
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
        eps = float(self.eps)
        if self.metric == "precomputed":
            _check_precomputed(X)
            if sp.issparse(X):
                return _precomputed_sparse(X, weights, self.eps, self.min_samples, n_threads)
            return _precomputed_dense(X, weights, self.eps, self.min_samples, n_threads)
        if sp.issparse(X):
            return _sparse_euclidean(X, weights, eps, self.min_samples, n_threads)
        return _euclidean_dense(X, weights, eps, self.min_samples, n_threads)

    def fit_predict(self, X, y=None, sample_weight=None):
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
