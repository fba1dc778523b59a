"""KMeans: a compiled, deterministic drop-in for :class:`sklearn.cluster.KMeans`."""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from ._core import _lloyd
from ._interrupt import restores_on_interrupt
from ._kmeans_algorithms import (
    ALGORITHMS,
    _Data,
    euclidean_to_centers,
    is_small_problem,
    kmeans_single,
    labels_inertia,
    replaces_best,
    resolve_algorithm,
    small_restarts,
)
from ._kmeans_parallel import kmeans_parallel
from ._progress import report
from ._seeding import _kmeans_plusplus, _row_sq_norms
from ._threads import blas_context, effective_n_threads, threads_for
from ._typing import ArrayLike, FloatArray, InitLike, IntArray, MatrixLike, RandomStateLike, Self
from ._validation import (
    check_choice,
    check_int,
    check_magnitude,
    check_n_samples,
    check_n_threads,
    check_random_state,
    check_real,
    check_sample_weight,
    check_seed,
    checked_float_copy,
    validate_fit_data,
    validate_fitted_input,
)

__all__ = ["KMeans"]


def _is_arraylike_not_scalar(x):
    if type(x) is np.ndarray:
        return True
    return (hasattr(x, "__len__") or hasattr(x, "shape") or hasattr(x, "__array__")) and not (
        isinstance(x, str) or np.isscalar(x)
    )


def _tolerance_sparse(X, tol):
    """Tolerance on the squared centre shift: tol times the mean feature variance of CSR X."""
    if tol == 0:
        return 0.0
    mean = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
    mean_sq = np.asarray(X.multiply(X).mean(axis=0), dtype=np.float64).ravel()
    return float(np.mean(mean_sq - mean**2) * tol)


class _BaseKMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin,
                  BaseEstimator):
    """Validation, seeding and the fitted-model methods of KMeans and MiniBatchKMeans."""

    #: Restarts of n_init='auto' for 'random' and callable inits (scikit-learn's values).
    _default_n_init = 10
    #: The init methods named by a string.
    _init_methods = ("k-means++", "k-means||", "random")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- validation ---------------------------------------------------------------------------
    def _check_common_params(self):
        """Validate the parameters KMeans and MiniBatchKMeans share."""
        check_int("n_clusters", self.n_clusters, low=1)
        if isinstance(self.init, str):
            check_choice("init", self.init, self._init_methods)
        elif not (callable(self.init) or _is_arraylike_not_scalar(self.init)):
            names = ", ".join(repr(m) for m in self._init_methods)
            raise ValueError(
                f"init must be {names}, a callable or an array of shape "
                f"(n_clusters, n_features); got {self.init!r}."
            )
        if not (isinstance(self.n_init, str) and self.n_init == "auto"):
            check_int("n_init", self.n_init, low=1)
        check_int("max_iter", self.max_iter, low=1)
        check_real("tol", self.tol, low=0)
        check_int("verbose", int(self.verbose) if isinstance(self.verbose, bool) else self.verbose,
                  low=0)
        check_n_threads(self.n_threads)

    def _n_init_effective(self):
        if self.n_init == "auto":
            if isinstance(self.init, str) and self.init == "random" or callable(self.init):
                return self._default_n_init
            return 1
        if _is_arraylike_not_scalar(self.init) and self.n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"{self.__class__.__name__} instead of n_init={self.n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            return 1
        return self.n_init

    def _check_centers(self, centers, X, what="init"):
        centers, squares = checked_float_copy(centers, X.dtype, what)
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number "
                f"of clusters {self.n_clusters}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number "
                f"of features of the data {X.shape[1]}."
            )
        return check_magnitude(centers, underflow=False, what=what, squares=squares)

    def _check_test_data(self, X):
        return validate_fitted_input(self, X, accept_sparse="csr",
                                     dtype=[np.float64, np.float32], order="C",
                                     accept_large_sparse=False)

    def _init_centroids(self, X, x_squared_norms, init, random_state, sample_weight, n_threads):
        n_samples = X.shape[0]
        if isinstance(init, str) and init == "k-means++":
            centers, _ = _kmeans_plusplus(X, self.n_clusters, x_squared_norms, sample_weight,
                                          random_state, n_threads=n_threads,
                                          verbose=self.verbose)
        elif isinstance(init, str) and init == "k-means||":
            centers = kmeans_parallel(X, self.n_clusters, sample_weight, random_state,
                                      n_threads=n_threads)
        elif isinstance(init, str) and init == "random":
            if np.count_nonzero(sample_weight) < self.n_clusters:
                raise ValueError(
                    "init='random' needs at least n_clusters samples with non-zero weight."
                )
            seeds = random_state.choice(n_samples, size=self.n_clusters, replace=False,
                                        p=sample_weight / sample_weight.sum())
            centers = X[seeds]
        elif callable(init):
            centers = self._check_centers(init(X, self.n_clusters, random_state=random_state), X)
        else:
            centers = init
        if sp.issparse(centers):
            centers = centers.toarray()
        return np.ascontiguousarray(centers, dtype=X.dtype)

    def fit_predict(self, X: MatrixLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> IntArray:
        """Fit and return ``labels_`` (the attribute itself)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X: MatrixLike, y: object = None,
                      sample_weight: ArrayLike | None = None) -> FloatArray:
        """Fit and return the distances of X to the centres."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    # -- using the fitted model ----------------------------------------------------------------
    def _labels_inertia(self, X, sample_weight=None):
        """Labels of validated X on the fitted centres and its weighted inertia."""
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)
        return labels_inertia(X, centers, sample_weight, effective_n_threads(self.n_threads))

    def predict(self, X: MatrixLike) -> IntArray:
        """Index of the closest centre for each sample."""
        check_is_fitted(self)
        return self._labels_inertia(self._check_test_data(X))[0]

    def transform(self, X: MatrixLike) -> FloatArray:
        """Euclidean distances of X to every centre, shape (n_samples, n_clusters)."""
        check_is_fitted(self)
        X = self._check_test_data(X)
        return self._transform(X)

    def _transform(self, X):
        return euclidean_to_centers(X, self.cluster_centers_)

    def score(self, X: MatrixLike, y: object = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Opposite of the inertia of X on the fitted centres."""
        check_is_fitted(self)
        X = self._check_test_data(X)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
            check_magnitude(X, sample_weight=sample_weight, underflow=False)
        return -self._labels_inertia(X, sample_weight)[1]



class _Prepared(NamedTuple):
    """Validated data and what comes with it (see :meth:`KMeans._prepare`)."""

    X: object
    x_squared_norms: np.ndarray
    mean_variance: object   # mean feature variance of dense X (None: sparse, or not computed)
    data: _Data


class KMeans(_BaseKMeans):
    """K-means clustering with compiled, multi-threaded, deterministic kernels.

    Same parameters, attributes and results as :class:`sklearn.cluster.KMeans`: from the same
    initial centres, kmix and scikit-learn give the same labels, ``n_iter_`` and inertia.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {'k-means++', 'k-means||', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        'k-means++': greedy k-means++ with ``2 + int(ln k)`` candidates per centre;
        'k-means||': scalable k-means++ (Bahmani et al. 2012): 5 sampling passes over the
        data drawing about 2k candidates each, reduced to k centres by weighted k-means++ and
        Lloyd on the candidates (for data too large for k passes);
        'random': ``n_clusters`` distinct rows drawn with probability proportional to
        ``sample_weight``; an array: the initial centres; a callable ``init(X, n_clusters,
        random_state)`` returning them (called on X as given: kmix does not centre it).
    n_init : 'auto' or int, default='auto'
        Runs with different seeds; the result with the lowest inertia is kept. 'auto' is 1 for
        'k-means++' and explicit centres, 10 for 'random' and callables.
    max_iter : int, default=300
        Maximum number of iterations of one run.
    tol : float, default=1e-4
        Convergence tolerance on the squared centre shift, relative to the mean variance of
        the features.
    verbose : int, default=0
        Print the k-means++ progress (about every tenth of the centres or every second) and
        the inertia per iteration.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation. The same seed gives bitwise-identical results for any
        ``n_threads``.
    copy_x : bool, default=True
        Accepted for compatibility. kmix never modifies X and makes no centred copy of it:
        dense data is used as given (scikit-learn centres a copy; see the README's
        differences).
    algorithm : {'lloyd', 'elkan', 'hamerly', 'yinyang', 'auto', 'full'}, default='auto'
        'lloyd': chunked distance + argmin passes; 'elkan', 'hamerly' and 'yinyang': exact
        bound algorithms that skip most distance computations and update the sums
        incrementally; 'auto' picks the fastest for the shape of the data and max_iter
        (measured);
        'full' is an alias of 'lloyd'. All give the same labels: the exact assignment rule's
        (closest centre in exact arithmetic, ties to the lowest index). scikit-learn's default is
        'lloyd'; kmix defaults to 'auto' because it is the same computation, faster. On
        sparse input every algorithm runs the Lloyd kernel.
    n_threads : int, default=None
        Threads of the compiled kernels; None uses all cores. (kmix only.)

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
    inertia_ : float
        Sum of weighted squared distances of samples to their closest centre.
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has feature names that are all strings.
    """

    def __init__(self, n_clusters: int = 8, *, init: InitLike = "k-means++",
                 n_init: int | str = "auto", max_iter: int = 300, tol: float = 1e-4,
                 verbose: int = 0, random_state: RandomStateLike = None, copy_x: bool = True,
                 algorithm: str = "auto", n_threads: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.n_threads = n_threads

    def _restarts(self, data, x_squared_norms, sample_weight, random_state, init, algorithm,
                  n_init, tol):
        """The ``n_init`` runs of a fit one by one (seeding, then :func:`kmeans_single`);
        returns (labels, inertia, centres, iterations) of the best."""
        best_inertia = best_labels = None
        for restart in range(n_init):
            centers_init = self._init_centroids(data.X, x_squared_norms, init, random_state,
                                                sample_weight, data.n_threads)
            if self.verbose:
                print("Initialization complete")
            labels, run_inertia, centers, n_iter = kmeans_single(
                data, sample_weight, centers_init, algorithm=algorithm,
                max_iter=self.max_iter, tol=tol, verbose=self.verbose,
                x_squared_norms=x_squared_norms)
            if replaces_best(run_inertia, labels, best_inertia, best_labels, self.n_clusters):
                best_labels, best_centers = labels, centers
                best_inertia, best_n_iter = run_inertia, n_iter
            report("restart", restart + 1, n_init)
        return best_labels, best_inertia, best_centers, best_n_iter

    def _check_params(self):
        self._check_common_params()
        check_choice("algorithm", self.algorithm, ALGORITHMS)
        if not isinstance(self.copy_x, (bool, np.bool_)):
            raise TypeError(f"copy_x must be a bool, got {self.copy_x!r}.")

    @restores_on_interrupt
    def fit(self, X: MatrixLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> Self:
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (CSR for sparse). Never modified.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in seeding, centre updates and inertia.

        Returns
        -------
        self : KMeans
        """
        self._check_params()
        # one pass over a dense X: the row norms the fit needs, and from their sum the
        # validation's and check_magnitude's checks
        X, norms, squares = validate_fit_data(
            self, X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
            accept_large_sparse=False)
        check_n_samples(X.shape[0], self.n_clusters)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        check_magnitude(X, sample_weight=sample_weight, squares=squares)
        # Centres given as an array: the fit draws nothing, so the generator is not built.
        given = _is_arraylike_not_scalar(self.init) and not callable(self.init)
        return self._fit_validated(X, sample_weight, (check_seed if given else
                                                      check_random_state)(self.random_state),
                                   norms)

    def _fit_validated(self, X, sample_weight, random_state, x_squared_norms=None):
        """fit on validated data (C-contiguous float array or CSR, float64 weights);
        ``x_squared_norms``: the rows' squared norms when the caller has them."""
        return self._fit_prepared(self._prepare(X, x_squared_norms), sample_weight,
                                  random_state)

    def _prepare(self, X, x_squared_norms=None):
        """What every fit on X computes first (reusable across fits on the same X).

        X is used as given, never centred: scikit-learn centres dense data (in a copy) for the
        accuracy of its distance expansion, but kmix's exact assignment rule decides every
        label by exact arithmetic on the samples themselves (a centred copy would round some
        of them, and with them the exact ties), so the copy would buy nothing. The row norms
        and the mean feature variance behind ``tol`` (only when ``tol`` is not 0) are computed
        here (the norms only when not given: :func:`quick_row_sq_norms`' values, the same
        function as here)."""
        n_samples, n_features = X.shape
        n_threads = effective_n_threads(self.n_threads)
        if sp.issparse(X):
            x_squared_norms = _row_sq_norms(X)
            mean_variance = None
        elif x_squared_norms is not None and self.tol == 0:
            mean_variance = None
        else:
            norms = np.empty(n_samples)
            mean_variance = _lloyd.row_norms_variance(
                X, norms, threads_for(n_threads, n_samples, 1, n_features), self.tol != 0)
            x_squared_norms = norms if x_squared_norms is None else x_squared_norms
        return _Prepared(X, x_squared_norms, mean_variance, _Data(X, n_threads))

    def _fit_prepared(self, prepared, sample_weight, random_state):
        """fit on the output of :meth:`_prepare`."""
        X, x_squared_norms = prepared.X, prepared.x_squared_norms
        data = prepared.data
        n_samples, n_features = X.shape
        n_init = self._n_init_effective()
        if self.tol == 0:
            tol = 0.0
        elif sp.issparse(X):
            tol = _tolerance_sparse(X, self.tol)
        else:
            mean_variance = prepared.mean_variance
            if mean_variance is None:   # prepared by an estimator with tol=0
                mean_variance = _lloyd.row_norms_variance(X, np.empty(n_samples), 1)
            tol = float(mean_variance * self.tol)

        init = self.init
        init_is_array = _is_arraylike_not_scalar(init) and not callable(init)
        if init_is_array:
            init = self._check_centers(init, X)
        algorithm = resolve_algorithm(self.algorithm, n_samples, n_features, self.n_clusters,
                                      sp.issparse(X), self.max_iter)

        with blas_context(X):
            if (algorithm == "lloyd" and isinstance(init, str) and init == "k-means++"
                    and not sp.issparse(X) and not self.verbose
                    and is_small_problem(n_samples, self.n_clusters, n_features)):
                # every restart in one compiled call: the same runs, without their overheads
                best_labels, best_inertia, best_centers, best_n_iter = small_restarts(
                    data, sample_weight, self.n_clusters, n_init, random_state,
                    max_iter=self.max_iter, tol=tol)
                for restart in range(n_init):
                    report("restart", restart + 1, n_init)
            else:
                best_labels, best_inertia, best_centers, best_n_iter = self._restarts(
                    data, x_squared_norms, sample_weight, random_state, init, algorithm,
                    n_init, tol)

        distinct = np.count_nonzero(np.bincount(best_labels, minlength=self.n_clusters))
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = best_centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = best_labels
        self.inertia_ = float(best_inertia)
        self.n_iter_ = int(best_n_iter)
        return self
