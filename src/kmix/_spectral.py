"""SpectralClustering: a drop-in for :class:`sklearn.cluster.SpectralClustering`."""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, qr, svd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import validate_data

from ._kmeans import KMeans
from ._spectral_affinity import AFFINITIES, affinity_matrix, check_symmetric, kernel_params
from ._spectral_embedding import EIGEN_SOLVERS, spectral_embedding
from ._threads import effective_n_threads
from ._typing import IntArray, MatrixLike, RandomStateLike, Self
from ._validation import (
    check_choice,
    check_int,
    check_magnitude,
    check_n_samples,
    check_n_threads,
    check_random_state,
    check_real,
)

__all__ = ["SpectralClustering", "cluster_qr", "discretize"]

ASSIGN_LABELS = ("kmeans", "discretize", "cluster_qr")
PRECOMPUTED = ("precomputed", "precomputed_nearest_neighbors")
#: Affinities kmix builds exactly symmetric, so the embedding skips the symmetry check.
SYMMETRIC_BY_CONSTRUCTION = ("rbf", "nearest_neighbors", "precomputed_nearest_neighbors")


# --------------------------------------------------------------------------------------------
# label assignment in the embedding
# --------------------------------------------------------------------------------------------
def cluster_qr(vectors):
    """Labels from the embedding by column-pivoted QR (Damle, Minden and Ying, 2019).

    Parameters
    ----------
    vectors : ndarray of shape (n_samples, n_clusters)
        The spectral embedding.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    """
    k = vectors.shape[1]
    _, _, piv = qr(vectors.T, pivoting=True)
    ut, _, v = svd(vectors[piv[:k], :].T)
    return np.abs(vectors @ (ut @ v.conj())).argmax(axis=1)


def _normalized_for_discretize(vectors):
    """Columns scaled to norm sqrt(n) and turned so that their first entry is negative, then
    rows scaled to unit norm (Yu and Shi's partition-matrix space)."""
    n_samples = vectors.shape[0]
    vectors = np.array(vectors, dtype=np.float64, copy=True)
    norm_ones = np.sqrt(n_samples)
    for i in range(vectors.shape[1]):
        vectors[:, i] = (vectors[:, i] / np.linalg.norm(vectors[:, i])) * norm_ones
        if vectors[0, i] != 0:
            vectors[:, i] = -1 * vectors[:, i] * np.sign(vectors[0, i])
    norms = np.sqrt((vectors**2).sum(axis=1))
    norms[norms == 0] = 1.0  # a zero row (a sample the embedding misses) stays zero, not NaN
    return vectors / norms[:, np.newaxis]


def _initial_rotation(vectors, random_state):
    """A random row, then rows as orthogonal as possible to the rows already picked."""
    n_samples, n_components = vectors.shape
    rotation = np.zeros((n_components, n_components))
    rotation[:, 0] = vectors[random_state.randint(n_samples), :].T
    c = np.zeros(n_samples)
    for j in range(1, n_components):
        c += np.abs(np.dot(vectors, rotation[:, j - 1]))
        rotation[:, j] = vectors[c.argmin(), :].T
    return rotation


def discretize(vectors, *, max_svd_restarts=30, n_iter_max=20, random_state=None):
    """Labels from the embedding by Yu and Shi's multiclass discretisation (2003).

    Alternates the closest partition matrix to the rotated embedding and the best rotation
    for that partition (an SVD) until the normalised-cut value stops changing.

    Parameters
    ----------
    vectors : ndarray of shape (n_samples, n_clusters)
        The spectral embedding (not modified).
    max_svd_restarts : int, default=30
        Restarts from a new random rotation when an SVD does not converge.
    n_iter_max : int, default=20
        Iterations of one run.
    random_state : int, RandomState instance or None, default=None
        Draws the first row of the initial rotation.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    """
    random_state = check_random_state(random_state)
    vectors = _normalized_for_discretize(vectors)
    n_samples, n_components = vectors.shape
    eps = np.finfo(float).eps
    for _ in range(max_svd_restarts):
        rotation = _initial_rotation(vectors, random_state)
        last_objective_value = 0.0
        n_iter = 0
        while True:
            n_iter += 1
            labels = np.dot(vectors, rotation).argmax(axis=1)
            t_svd = np.zeros((n_components, n_components))
            np.add.at(t_svd, labels, vectors)  # partition matrix^T @ vectors
            try:
                U, S, Vh = np.linalg.svd(t_svd)
            except LinAlgError:
                warnings.warn("SVD did not converge, randomizing and trying again",
                              RuntimeWarning, stacklevel=2)
                break
            ncut_value = 2.0 * (n_samples - S.sum())
            if abs(ncut_value - last_objective_value) < eps or n_iter > n_iter_max:
                return labels
            last_objective_value = ncut_value
            rotation = np.dot(Vh.T, U.T)
    raise LinAlgError("SVD did not converge")


# --------------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------------
class SpectralClustering(ClusterMixin, BaseEstimator):
    """Spectral clustering: k-means (or another assignment) on the eigenvectors of the
    normalised Laplacian of an affinity matrix.

    Same parameters, attributes and results as :class:`sklearn.cluster.SpectralClustering`:
    the affinity matrix is scikit-learn's (computed here, without calling scikit-learn), the
    embedding the same eigenvectors, and ``random_state`` is consumed in the same order (ARPACK
    start vector, then the k-means seeds), so the same seed gives scikit-learn's labels.
    Faster: the RBF affinity and the normalised Laplacian are built in place by compiled
    passes (two n x n arrays in all), the shift-invert eigensolver factorises by Cholesky,
    and the labels come from :class:`kmix.KMeans`.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    eigen_solver : {'arpack', 'lobpcg', 'amg'} or None, default=None
        None means 'arpack' (shift-invert around -1e-5). 'amg' needs pyamg and a sparse
        affinity (it falls back to 'arpack' otherwise, with a warning, as scikit-learn).
    n_components : int or None, default=None
        Number of eigenvectors; None means ``n_clusters``.
    random_state : int, RandomState instance or None, default=None
        Seeds the eigensolver's start vector and the label assignment.
    n_init : int, default=10
        k-means restarts (``assign_labels='kmeans'`` only).
    gamma : float, default=1.0
        Kernel coefficient of 'rbf', 'poly', 'sigmoid', 'laplacian' and 'chi2'; must be > 0.
    affinity : str or callable, default='rbf'
        'rbf' (exp(-gamma ||x - y||^2)), 'nearest_neighbors' (0.5 (C + C^T) of the
        connectivity C of the n_neighbors nearest neighbours, each point included),
        'precomputed' (X is the affinity), 'precomputed_nearest_neighbors' (X holds
        distances), one of scikit-learn's kernel names ('linear', 'poly', 'polynomial',
        'sigmoid', 'cosine', 'laplacian', 'chi2', 'additive_chi2'), or a callable
        ``f(x, y, **kernel_params) -> float`` applied to pairs of rows.
    n_neighbors : int, default=10
        Neighbours of the nearest-neighbour affinities. On exact distance ties at the
        n_neighbors-th neighbour kmix keeps the lowest sample indices.
    eigen_tol : float or 'auto', default='auto'
        Eigensolver tolerance; 'auto' is 0 (machine precision) for ARPACK and LOBPCG's own
        default otherwise.
    assign_labels : {'kmeans', 'discretize', 'cluster_qr'}, default='kmeans'
        How labels are drawn from the embedding.
    degree : float, default=3
        Degree of the polynomial kernel.
    coef0 : float, default=1
        Zero coefficient of the polynomial and sigmoid kernels.
    kernel_params : dict or None, default=None
        Extra keyword arguments of a callable affinity (and of named kernels, where they
        name one of their parameters other than gamma, degree and coef0).
    n_jobs : int, default=None
        scikit-learn's parameter (parallel jobs of its nearest-neighbours affinity). kmix
        computes that affinity with its own compiled pass, so ``n_jobs`` is the thread count
        of kmix's kernels (the affinity passes, the embedding and k-means) when
        ``n_threads`` is None: None then means all cores, negative counts as joblib. A set
        ``n_threads`` wins. Results do not depend on it.
    verbose : bool or int, default=False
        Print the progress of the label assignment.
    n_threads : int, default=None
        Threads of the compiled passes and of k-means; None uses ``n_jobs``, and all cores if
        that is None too. Results do not depend on it. (kmix only.)

    Attributes
    ----------
    affinity_matrix_ : ndarray or sparse matrix of shape (n_samples, n_samples)
        The affinity used (X itself for 'precomputed').
    labels_ : ndarray of shape (n_samples,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has feature names that are all strings.
    """

    def __init__(self, n_clusters: int = 8, *, eigen_solver: str | None = None,
                 n_components: int | None = None, random_state: RandomStateLike = None,
                 n_init: int = 10, gamma: float = 1.0,
                 affinity: str | Callable[..., object] = "rbf", n_neighbors: int = 10,
                 eigen_tol: float | str = "auto", assign_labels: str = "kmeans",
                 degree: float = 3, coef0: float = 1, kernel_params: dict | None = None,
                 n_jobs: int | None = None, verbose: bool = False,
                 n_threads: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.eigen_solver = eigen_solver
        self.n_components = n_components
        self.random_state = random_state
        self.n_init = n_init
        self.gamma = gamma
        self.affinity = affinity
        self.n_neighbors = n_neighbors
        self.eigen_tol = eigen_tol
        self.assign_labels = assign_labels
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = self._precomputed()
        return tags

    def _precomputed(self):
        return isinstance(self.affinity, str) and self.affinity in PRECOMPUTED

    def _check_params(self):
        check_int("n_clusters", self.n_clusters, low=1)
        if self.eigen_solver is not None:
            check_choice("eigen_solver", self.eigen_solver, EIGEN_SOLVERS)
        check_int("n_components", self.n_components, low=1, allow_none=True)
        check_int("n_init", self.n_init, low=1)
        check_real("gamma", self.gamma, low=0, low_inclusive=False)
        if not callable(self.affinity):
            check_choice("affinity", self.affinity, AFFINITIES)
        check_int("n_neighbors", self.n_neighbors, low=1)
        if not (isinstance(self.eigen_tol, str) and self.eigen_tol == "auto"):
            check_real("eigen_tol", self.eigen_tol, low=0)
        check_choice("assign_labels", self.assign_labels, ASSIGN_LABELS)
        check_real("degree", self.degree, low=0)
        check_real("coef0", self.coef0)
        if self.kernel_params is not None and not isinstance(self.kernel_params, dict):
            raise TypeError(f"kernel_params must be a dict or None, got {self.kernel_params!r}.")
        check_int("verbose", int(self.verbose) if isinstance(self.verbose, (bool, np.bool_))
                  else self.verbose, low=0)
        check_int("n_jobs", self.n_jobs, allow_none=True)
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be None, a positive int or a negative int; got 0.")
        check_n_threads(self.n_threads)

    def _thread_count(self):
        """The kernels' thread count as asked for: n_threads, else n_jobs (None: all cores)."""
        return self.n_jobs if self.n_threads is None else self.n_threads

    def _check_data(self, X):
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64,
                          ensure_min_samples=2)
        n_samples = X.shape[0]
        if self._precomputed():
            if X.shape[1] != n_samples:
                raise ValueError(f"affinity={self.affinity!r} needs a square matrix of shape "
                                 f"(n_samples, n_samples); got shape {X.shape}.")
        elif X.shape[1] == n_samples:
            warnings.warn("The spectral clustering API has changed. ``fit``now constructs an "
                          "affinity matrix from data. To use a custom affinity matrix, set "
                          "``affinity=precomputed``.", UserWarning, stacklevel=3)
        if not self._precomputed():
            check_magnitude(X)
        elif self.affinity == "precomputed":  # the degrees sum the affinities
            check_magnitude(X, squared=False, what="the affinity matrix X")
        check_n_samples(n_samples, self.n_clusters)
        check_n_samples(n_samples, self._n_components(), "n_components")
        if isinstance(self.affinity, str) and self.affinity.endswith("nearest_neighbors"):
            check_n_samples(n_samples, self.n_neighbors, "n_neighbors")
        return X

    def _n_components(self):
        return self.n_clusters if self.n_components is None else self.n_components

    def fit(self, X: MatrixLike, y: object = None) -> Self:
        """Compute the affinity, its spectral embedding and the labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                (n_samples, n_samples)
            Samples, or an affinity ('precomputed') or distance
            ('precomputed_nearest_neighbors') matrix. Never modified.
        y : Ignored

        Returns
        -------
        self : SpectralClustering
        """
        self._check_params()
        X = self._check_data(X)
        n_threads = effective_n_threads(self._thread_count())
        params = kernel_params(self.affinity, self.gamma, self.degree, self.coef0,
                               self.kernel_params)
        self.affinity_matrix_ = affinity_matrix(X, self.affinity, n_neighbors=self.n_neighbors,
                                                params=params, n_threads=n_threads)
        random_state = check_random_state(self.random_state)
        maps = spectral_embedding(self._symmetric_affinity(), self._n_components(),
                                  eigen_solver=self.eigen_solver, random_state=random_state,
                                  eigen_tol=self.eigen_tol, n_threads=n_threads)
        if self.verbose:
            print(f"Computing label assignment using {self.assign_labels}")
        self.labels_ = self._assign_labels(maps, random_state)
        return self

    def _symmetric_affinity(self):
        """The affinity as the embedding needs it: symmetric, dense arrays C-contiguous."""
        A = self.affinity_matrix_
        if not (isinstance(self.affinity, str) and self.affinity in SYMMETRIC_BY_CONSTRUCTION):
            A = check_symmetric(A)
        return A if sp.issparse(A) else np.ascontiguousarray(A, dtype=np.float64)

    def _assign_labels(self, maps, random_state):
        if self.assign_labels == "kmeans":
            kmeans = KMeans(self.n_clusters, n_init=self.n_init, random_state=random_state,
                            verbose=int(self.verbose), algorithm="lloyd",
                            n_threads=self._thread_count())
            return kmeans.fit(maps).labels_
        if self.assign_labels == "cluster_qr":
            return cluster_qr(maps)
        return discretize(maps, random_state=random_state)

    def fit_predict(self, X: MatrixLike, y: object = None) -> IntArray:
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                (n_samples, n_samples)
        y : Ignored

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X).labels_

