"""AgglomerativeClustering: a compiled drop-in for
:class:`sklearn.cluster.AgglomerativeClustering`.

Which algorithm builds the tree (each gives scikit-learn's ``children_``, ``distances_`` and
``labels_``):

=========== ===================================== ==========================================
linkage     without connectivity                  with a connectivity graph
=========== ===================================== ==========================================
ward        compiled nearest-neighbour chain on   compiled port of scikit-learn's heap
            centroids, O(n d) memory              algorithm (``ward_tree``)
complete,   ``scipy.cluster.hierarchy.linkage``   compiled port of scikit-learn's heap
average     (what scikit-learn calls)             algorithm (``linkage_tree``)
single      compiled Prim on the vectors          scipy's minimum spanning tree (as
            (euclidean, manhattan); scipy for     scikit-learn)
            cosine and precomputed distances
=========== ===================================== ==========================================
"""
from __future__ import annotations

import heapq
import math
import warnings
from collections.abc import Callable
from itertools import chain

import numpy as np
import scipy.sparse as sp
from scipy.cluster import hierarchy
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial.distance import cdist, squareform
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_array, check_memory, validate_data

from ._core import _hierarchy
from ._interrupt import restores_on_interrupt
from ._threads import effective_n_threads
from ._typing import ArrayLike, IntArray, MatrixLike, Self
from ._validation import check_choice, check_int, check_magnitude, check_n_threads, check_real

__all__ = ["AgglomerativeClustering"]

LINKAGES = ("ward", "complete", "average", "single")
METRICS = ("euclidean", "l2", "l1", "manhattan", "cityblock", "cosine", "precomputed")
#: scipy's names of the metrics (scipy.spatial.distance.pdist).
_SCIPY_METRIC = {"euclidean": "euclidean", "l2": "euclidean", "l1": "cityblock",
                 "manhattan": "cityblock", "cityblock": "cityblock", "cosine": "cosine"}
_MANHATTAN = ("l1", "manhattan", "cityblock")


# ---------------------------------------------------------------------------------------------
# Distances, computed as scikit-learn's pairwise/paired distances compute them
# ---------------------------------------------------------------------------------------------
def _float_dtype(A):
    return np.float32 if A.dtype == np.float32 else np.float64


def _row_sq_norms(A):
    return np.einsum("ij,ij->i", A, A)


def _normalize(A):
    """Rows scaled to unit L2 norm (rows of norm below 10 eps are left as they are)."""
    A = np.array(A, dtype=_float_dtype(A), copy=True)
    norms = np.sqrt(_row_sq_norms(A))
    norms[norms < 10 * np.finfo(norms.dtype).eps] = 1.0
    A /= norms[:, None]
    return A


def _euclidean_upcast(A, B):
    """float32 euclidean distances computed on float64 chunks (scikit-learn's batches)."""
    n_a, n_b, d = A.shape[0], B.shape[0], A.shape[1]
    out = np.empty((n_a, n_b), dtype=np.float32)
    maxmem = max(((n_a + n_b) * d + n_a * n_b) / 10, 10 * 2**17)
    tmp = 2 * d
    batch = max(int((-tmp + math.sqrt(tmp**2 + 4 * maxmem)) / 2), 1)
    for i in range(0, n_a, batch):
        a = A[i:i + batch].astype(np.float64)
        aa = _row_sq_norms(a)[:, None]
        for j in range(0, n_b, batch):
            b = B[j:j + batch].astype(np.float64)
            block = -2 * (a @ b.T)
            block += aa
            block += _row_sq_norms(b)[None, :]
            out[i:i + batch, j:j + batch] = block.astype(np.float32, copy=False)
    return out


def _pairwise_distances(A, B, metric):
    """Distances between the rows of A and of B (scikit-learn's ``pairwise_distances``)."""
    dtype = _float_dtype(A)
    A = np.asarray(A, dtype=dtype)
    B = np.asarray(B, dtype=dtype)
    if metric in _MANHATTAN:
        return cdist(A, B, "cityblock")
    if metric == "cosine":
        S = _normalize(A) @ _normalize(B).T
        S *= -1
        S += 1
        return np.clip(S, 0.0, 2.0)
    if dtype == np.float32:
        D = _euclidean_upcast(A, B)
    else:
        D = -2 * (A @ B.T)
        D += _row_sq_norms(A)[:, None]
        D += _row_sq_norms(B)[None, :]
    np.maximum(D, 0, out=D)
    return np.sqrt(D, out=D)


def _paired_distances(A, B, metric):
    """Distances between A[i] and B[i] (scikit-learn's ``paired_distances``)."""
    if metric in _MANHATTAN:
        return np.sum(np.abs(A - B), axis=-1)
    if metric == "cosine":
        diff = _normalize(A) - _normalize(B)
        return 0.5 * _row_sq_norms(diff)
    diff = A - B
    return np.sqrt(_row_sq_norms(diff))


# ---------------------------------------------------------------------------------------------
# Connectivity graphs
# ---------------------------------------------------------------------------------------------
#: Entries of the dot-product blocks of ``_closest_pair`` (16 MiB; smaller blocks mean
#: more, smaller gemm calls, slower with a threaded BLAS).
_PAIR_BLOCK = 1 << 21


def _closest_pair(A, B, metric):
    """(i, j) of the first smallest distance between the rows of A and of B, the distances
    computed as scikit-learn's ``pairwise_distances`` computes them. float64 euclidean
    distances go through blocks of dot products (numpy's gemm) and one compiled pass."""
    if metric in ("euclidean", "l2") and A.dtype == np.float64:
        best = (np.inf, 0, 0)
        bb = _row_sq_norms(B)
        rows = max(1, _PAIR_BLOCK // B.shape[0])
        for r0 in range(0, A.shape[0], rows):
            a = A[r0:r0 + rows]
            i, j, v = _hierarchy.closest_euclidean(np.ascontiguousarray(a @ B.T),
                                                   _row_sq_norms(a), bb)
            if v < best[0] or r0 == 0:
                best = (v, r0 + i, j)
        return best[1], best[2]
    D = _pairwise_distances(A, B, metric)
    return np.unravel_index(D.argmin(axis=None), D.shape)


def _connect_components(X, graph, n_components, labels, metric):
    """Join the components of the LIL graph: for each pair of components, an edge between
    their closest samples (scikit-learn's ``_fix_connected_components``)."""
    members = [np.flatnonzero(labels == c) for c in range(n_components)]
    parts = [None if metric == "precomputed" else np.ascontiguousarray(X[idx])
             for idx in members]
    for i in range(n_components):
        idx_i = members[i]
        for j in range(i):
            idx_j = members[j]
            if metric == "precomputed":
                D = X[np.ix_(idx_i, idx_j)]
                ii, jj = np.unravel_index(D.argmin(axis=None), D.shape)
            else:
                ii, jj = _closest_pair(parts[i], parts[j], metric)
            graph[idx_i[ii], idx_j[jj]] = 1
            graph[idx_j[jj], idx_i[ii]] = 1
    return graph


def _fix_connectivity(X, connectivity, metric):
    """Symmetrised LIL connectivity with one connected component, and the number of
    components it had (with a warning when it had several)."""
    n_samples = X.shape[0]
    if connectivity.shape[0] != n_samples or connectivity.shape[1] != n_samples:
        raise ValueError(
            f"Wrong shape for connectivity matrix: {connectivity.shape} when X is {X.shape}."
        )
    connectivity = connectivity + connectivity.T
    if not sp.issparse(connectivity):
        connectivity = sp.lil_array(connectivity)
    if connectivity.format != "lil":
        connectivity = connectivity.tolil()
    n_components, labels = connected_components(connectivity)
    if n_components > 1:
        warnings.warn(
            f"the number of connected components of the connectivity matrix is "
            f"{n_components} > 1. Completing it to avoid stopping the tree early.",
            stacklevel=4,
        )
        connectivity = _connect_components(X, connectivity, n_components, labels, metric)
    return connectivity, n_components


def _lil_structure(lil):
    """(indptr, indices) of a LIL matrix's rows, as intp arrays."""
    lengths = np.fromiter((len(r) for r in lil.rows), dtype=np.intp, count=lil.shape[0])
    indptr = np.zeros(lil.shape[0] + 1, dtype=np.intp)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.fromiter(chain.from_iterable(lil.rows), dtype=np.intp, count=indptr[-1])
    return indptr, indices


def _graph_distances(X, lil, metric):
    """COO (row, col, distance) of the off-diagonal edges of the graph, in COO order."""
    coo = lil.tocoo()
    off_diagonal = coo.row != coo.col
    row, col = coo.row[off_diagonal], coo.col[off_diagonal]
    if metric == "precomputed":
        dist = X[row, col].astype(np.float64, copy=False)
    else:
        dist = _paired_distances(X[row], X[col], metric)
    return row, col, dist


def _n_nodes(n_samples, n_clusters):
    return 2 * n_samples - 1 if n_clusters is None else 2 * n_samples - n_clusters


# ---------------------------------------------------------------------------------------------
# Tree builders: (children, n_connected_components, n_leaves, parents, distances)
# ---------------------------------------------------------------------------------------------
def _from_linkage_matrix(Z, n_samples):
    if not np.all(np.isfinite(Z[:, 2])):
        raise ValueError("The linkage distances overflow: the data are too large to cluster "
                         "in float64 (rescale them).")
    children = Z[:, :2].astype(np.intp)
    return children, 1, n_samples, None, Z[:, 2].copy()


def _ward_tree(X, connectivity, n_clusters, n_threads):
    n_samples = X.shape[0]
    X64 = np.ascontiguousarray(X, dtype=np.float64)
    if connectivity is None:
        return _from_linkage_matrix(_hierarchy.ward_nn_chain(X64, n_threads), n_samples)
    lil, n_components = _fix_connectivity(X, connectivity, "euclidean")
    indptr, indices = _lil_structure(lil)
    children, parents, distances = _hierarchy.ward_tree_connectivity(
        X64, indptr, indices, _n_nodes(n_samples, n_clusters))
    return children, n_components, n_samples, parents, distances


def _unstructured_linkage(X, linkage, metric, n_threads):
    n_samples = X.shape[0]
    if linkage == "single" and metric in _SCIPY_METRIC and metric != "cosine":
        # scikit-learn's MST-LINKAGE-CORE, compiled; the labelling keeps its edge order
        mst = _hierarchy.mst_prim(np.ascontiguousarray(X, dtype=np.float64),
                                  metric in _MANHATTAN, n_threads)
        mst = mst[np.argsort(mst[:, 2], kind="mergesort")]
        return _from_linkage_matrix(_hierarchy.single_linkage_label(mst), n_samples)
    if metric == "precomputed":
        y = squareform(X, checks=False)
        Z = hierarchy.linkage(y, method=linkage)
    else:
        Z = hierarchy.linkage(X, method=linkage, metric=_SCIPY_METRIC[metric])
    return _from_linkage_matrix(Z, n_samples)


def _single_linkage_graph(n_samples, row, col, dist, n_clusters):
    """Single linkage on the graph: scipy's minimum spanning tree, labelled (scikit-learn's
    ``_single_linkage_tree``). children and distances always describe the full tree."""
    data = dist.astype(np.float64)
    eps = np.finfo(np.float64).eps
    data[data == 0] = eps
    graph = sp.coo_array((data, (row, col)), shape=(n_samples, n_samples))
    mst = minimum_spanning_tree(graph.tocsr()).tocoo()
    weights = mst.data
    weights[weights == eps] = 0
    edges = np.vstack([mst.row, mst.col, weights]).T
    edges = np.ascontiguousarray(edges[np.argsort(edges[:, 2], kind="mergesort")])
    Z = _hierarchy.single_linkage_label(edges)
    children = Z[:, :2].astype(np.intp)
    n_nodes = _n_nodes(n_samples, n_clusters)
    parents = np.arange(n_nodes, dtype=np.intp)
    rows = children[: n_nodes - n_samples]
    merged = np.arange(n_samples, n_nodes, dtype=np.intp)
    for side in range(2):
        inside = rows[:, side] < n_nodes
        parents[rows[inside, side]] = merged[inside]
    return children, parents, Z[:, 2].copy()


def _linkage_tree(X, connectivity, n_clusters, linkage, metric, n_threads):
    n_samples = X.shape[0]
    if connectivity is None:
        return _unstructured_linkage(X, linkage, metric, n_threads)
    lil, n_components = _fix_connectivity(X, connectivity, metric)
    row, col, dist = _graph_distances(X, lil, metric)
    if linkage == "single":
        children, parents, distances = _single_linkage_graph(n_samples, row, col, dist,
                                                             n_clusters)
    else:
        graph = sp.csr_array((dist.astype(np.float64), (row, col)),
                             shape=(n_samples, n_samples))
        graph.sum_duplicates()
        children, parents, distances = _hierarchy.linkage_tree_connectivity(
            n_samples, graph.indptr.astype(np.intp), graph.indices.astype(np.intp),
            np.ascontiguousarray(graph.data, dtype=np.float64),
            _n_nodes(n_samples, n_clusters), linkage == "average")
    return children, n_components, n_samples, parents, distances


def _build_tree(X, connectivity, n_clusters, linkage, metric, n_threads):
    """The merge tree; module-level so that ``memory`` can cache it."""
    if linkage == "ward":
        return _ward_tree(X, connectivity, n_clusters, n_threads)
    return _linkage_tree(X, connectivity, n_clusters, linkage, metric, n_threads)


# ---------------------------------------------------------------------------------------------
# Flat clusters from the tree
# ---------------------------------------------------------------------------------------------
def _hc_cut(n_clusters, children, n_leaves):
    """Labels of the n_clusters top nodes of the tree, numbered as scikit-learn's ``_hc_cut``
    numbers them (by their position in its heap of negated node ids)."""
    if n_clusters > n_leaves:
        raise ValueError(
            "Cannot extract more clusters than samples: "
            f"{n_clusters} clusters were given for a tree with {n_leaves} leaves."
        )
    nodes = [-(max(children[-1]) + 1)]
    for _ in range(n_clusters - 1):
        these_children = children[-nodes[0] - n_leaves]
        heapq.heappush(nodes, -these_children[0])
        heapq.heappushpop(nodes, -these_children[1])
    node_label = np.full(n_leaves + children.shape[0], -1, dtype=np.intp)
    for i, node in enumerate(nodes):
        node_label[-node] = i
    return _hierarchy.propagate_labels(np.ascontiguousarray(children, dtype=np.intp),
                                       n_leaves, node_label)


def _labels_from_parents(parents, n_samples):
    """Labels of a partial tree: the heads of the forest, renumbered in increasing order."""
    heads = np.array(parents, dtype=np.intp)
    _hierarchy.hc_get_heads(heads)
    heads = heads[:n_samples]
    return np.searchsorted(np.unique(heads), heads)


class AgglomerativeClustering(ClusterMixin, BaseEstimator):
    """Agglomerative (hierarchical) clustering with compiled tree builders.

    Same parameters, attributes and results as
    :class:`sklearn.cluster.AgglomerativeClustering`: the same ``children_``, ``distances_``
    (up to rounding for ward without connectivity) and ``labels_`` (same numbering).
    Ward without connectivity runs a nearest-neighbour chain on the cluster centroids in
    O(n_samples * n_features) memory, where scikit-learn (scipy) stores all n^2/2 pairwise
    distances.

    Parameters
    ----------
    n_clusters : int or None, default=2
        Number of clusters; must be None when ``distance_threshold`` is set.
    metric : {'euclidean', 'l2', 'l1', 'manhattan', 'cityblock', 'cosine', 'precomputed'}, \
            default='euclidean'
        Distance between samples. 'ward' accepts only 'euclidean' and 'l2'. With
        'precomputed', X is the (n_samples, n_samples) matrix of distances (its upper
        triangle is used without connectivity).
    memory : str or object with the joblib.Memory interface, default=None
        Caches the tree (a path or a Memory object); None caches nothing.
    connectivity : array-like, sparse matrix or callable, default=None
        Connectivity graph (n_samples, n_samples) allowing only merges along its edges, or a
        callable returning it from X (e.g. a k-nearest-neighbours graph). It is symmetrised;
        when it has several connected components they are joined by their closest pairs of
        samples, with a warning.
    compute_full_tree : 'auto' or bool, default='auto'
        With connectivity, stop building the tree at ``n_clusters`` when False. 'auto' is
        True when ``distance_threshold`` is set or ``n_clusters < max(100, 0.02 n_samples)``.
        Must be True when ``distance_threshold`` is set. Without connectivity the full tree
        is always built.
    linkage : {'ward', 'complete', 'average', 'single'}, default='ward'
        Distance between clusters: increase of within-cluster variance ('ward'), maximum,
        average or minimum distance between their samples.
    distance_threshold : float or None, default=None
        Linkage distance at or above which clusters are not merged; ``n_clusters`` must
        then be None.
    compute_distances : bool, default=False
        Store ``distances_`` even without ``distance_threshold``.
    n_threads : int, default=None
        Threads of the nearest-neighbour scans (ward and single linkage without
        connectivity); None uses all cores. Results do not depend on it. (kmix only.)

    Attributes
    ----------
    n_clusters_ : int
        Number of clusters found.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each sample.
    n_leaves_ : int
        Number of leaves of the tree.
    n_connected_components_ : int
        Number of connected components of the connectivity graph (1 without one).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has feature names that are all strings.
    children_ : ndarray of shape (n_merges, 2)
        The children of each merge: node ``n_samples + i`` is the union of
        ``children_[i, 0]`` and ``children_[i, 1]`` (values below n_samples are samples).
    distances_ : ndarray of shape (n_merges,)
        Linkage distance of each merge; only with ``distance_threshold`` or
        ``compute_distances=True``.
    """

    def __init__(self, n_clusters: int | None = 2, *, metric: str = "euclidean",
                 memory: str | object | None = None,
                 connectivity: MatrixLike | Callable[..., MatrixLike] | None = None,
                 compute_full_tree: bool | str = "auto", linkage: str = "ward",
                 distance_threshold: float | None = None, compute_distances: bool = False,
                 n_threads: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.memory = memory
        self.connectivity = connectivity
        self.compute_full_tree = compute_full_tree
        self.linkage = linkage
        self.distance_threshold = distance_threshold
        self.compute_distances = compute_distances
        self.n_threads = n_threads

    # -- validation ---------------------------------------------------------------------------
    def _check_params(self):
        check_int("n_clusters", self.n_clusters, low=1, allow_none=True)
        check_real("distance_threshold", self.distance_threshold, low=0, allow_none=True)
        if (self.n_clusters is None) == (self.distance_threshold is None):
            raise ValueError(
                "Exactly one of n_clusters and distance_threshold has to be set, and the "
                "other needs to be None."
            )
        check_choice("linkage", self.linkage, LINKAGES)
        if callable(self.metric) and not isinstance(self.metric, str):
            raise ValueError(
                f"metric must be one of {', '.join(map(repr, METRICS))}; callables are not "
                "supported by kmix."
            )
        check_choice("metric", self.metric, METRICS)
        if self.linkage == "ward" and self.metric not in ("euclidean", "l2"):
            raise ValueError(
                f"{self.metric} was provided as metric. Ward can only work with euclidean "
                "distances (i.e. 'euclidean' and 'l2')."
            )
        if not (isinstance(self.compute_full_tree, (bool, np.bool_))
                or (isinstance(self.compute_full_tree, str)
                    and self.compute_full_tree == "auto")):
            raise ValueError(
                f"compute_full_tree must be 'auto' or a bool, got {self.compute_full_tree!r}."
            )
        if self.distance_threshold is not None and not self.compute_full_tree:
            raise ValueError("compute_full_tree must be True if distance_threshold is set.")
        if not isinstance(self.compute_distances, (bool, np.bool_)):
            raise TypeError(
                f"compute_distances must be a bool, got {self.compute_distances!r}."
            )
        connectivity = self.connectivity
        if isinstance(connectivity, str):
            raise TypeError("connectivity must be an array, a sparse matrix, a callable or None.")
        check_n_threads(self.n_threads)

    def _check_inputs(self, X):
        """Checks of the data that depend on the parameters."""
        if self.n_clusters is not None and self.n_clusters > X.shape[0]:
            raise ValueError(
                f"Cannot extract more clusters than samples: n_clusters={self.n_clusters} "
                f"for {X.shape[0]} samples."
            )
        if self.metric == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(f"Distance matrix should be square, got matrix of shape {X.shape}")
        if (self.linkage != "ward" and self.metric == "cosine"
                and np.any(~np.any(X, axis=1))):
            raise ValueError("Cosine affinity cannot be used when X contains zero vectors")

    def _connectivity(self, X):
        connectivity = self.connectivity
        if connectivity is None:
            return None
        if callable(connectivity):
            connectivity = connectivity(X)
        return check_array(connectivity, accept_sparse=["csr", "coo", "lil"],
                           input_name="connectivity")

    def _full_tree(self, n_samples):
        if self.connectivity is None:
            return True
        if isinstance(self.compute_full_tree, str):  # 'auto'
            if self.distance_threshold is not None:
                return True
            return self.n_clusters < max(100, 0.02 * n_samples)
        return bool(self.compute_full_tree)

    # -- fitting -------------------------------------------------------------------------------
    @restores_on_interrupt
    def fit(self, X: ArrayLike, y: object = None) -> Self:
        """Build the merge tree of X and cut it into clusters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
            Samples, or distances between samples with ``metric='precomputed'``. At least 2
            samples, finite values. Never modified.
        y : Ignored

        Returns
        -------
        self : AgglomerativeClustering
        """
        self._check_params()
        memory = check_memory(self.memory)
        X = validate_data(self, X, ensure_min_samples=2, dtype=[np.float64, np.float32])
        if self.metric != "precomputed":
            check_magnitude(X, squared=self.metric not in _MANHATTAN)
        self._check_inputs(X)
        full_tree = self._full_tree(X.shape[0])
        children, n_components, n_leaves, parents, distances = memory.cache(_build_tree)(
            X, self._connectivity(X), None if full_tree else self.n_clusters, self.linkage,
            self.metric, effective_n_threads(self.n_threads))
        self._set_tree(children, n_components, n_leaves, distances)
        if full_tree:
            self.labels_ = _hc_cut(self.n_clusters_, children, n_leaves)
        else:
            self.labels_ = _labels_from_parents(parents, X.shape[0])
        return self

    def _set_tree(self, children, n_components, n_leaves, distances):
        """The tree's attributes and the number of clusters it is cut into."""
        self.children_ = children
        self.n_connected_components_ = n_components
        self.n_leaves_ = n_leaves
        if self.distance_threshold is not None or self.compute_distances:
            self.distances_ = distances
        elif hasattr(self, "distances_"):  # from an earlier fit
            del self.distances_
        if self.distance_threshold is not None:
            self.n_clusters_ = int(np.count_nonzero(distances >= self.distance_threshold)) + 1
        else:
            self.n_clusters_ = self.n_clusters

    def fit_predict(self, X: ArrayLike, y: object = None) -> IntArray:
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
        y : Ignored

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X).labels_
