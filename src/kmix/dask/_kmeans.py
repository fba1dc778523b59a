"""KMeans on dask arrays: kmix's compiled Lloyd pass per block, reduced on the client."""
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from .._interrupt import restores_on_interrupt
from .._kmeans import KMeans as _KMeans
from .._kmeans import _is_arraylike_not_scalar
from .._kmeans_algorithms import resolve_algorithm
from .._validation import check_int, check_n_samples, check_random_state, check_real
from . import _kmeans_blocks
from ._data import as_dask_array, as_dask_weights, check_persist, prepare_fit_data
from ._engine import PerBlock, blockwise, compute, new_name, ordered_sum, task_threads
from ._lloyd import kmeans_run, same_clustering
from ._seeding import kmeans_parallel, random_rows, recluster

__all__ = ["KMeans"]


class DaskCentres:
    """The fitted-model methods of the dask k-means estimators (lazy where they can be)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _training_data(self, X, sample_weight):
        """The parameters checked, then the training data validated, persisted when they fit
        and summarised (:func:`kmix.dask._data.prepare_fit_data`)."""
        self._check_params()
        return prepare_fit_data(self, X, sample_weight, persist=self.persist,
                                check_n_samples=lambda n: check_n_samples(n, self.n_clusters))

    def _check_test_data(self, X):
        return as_dask_array(self, X, reset=False)

    def _map_blocks(self, kind, func, X, **kwargs):
        return X.map_blocks(func, name=new_name(kind), **kwargs)

    def predict(self, X):
        """Index of the closest centre of each sample: a lazy dask array (int32)."""
        check_is_fitted(self)
        X = self._check_test_data(X)
        return self._map_blocks("predict", _kmeans_blocks.predict, X,
                                centers=self.cluster_centers_, dtype=np.int32, drop_axis=1)

    def transform(self, X):
        """Euclidean distances to the centres: a lazy dask array (n_samples, n_clusters)."""
        check_is_fitted(self)
        X = self._check_test_data(X)
        return self._map_blocks("transform", _kmeans_blocks.transform, X,
                                centers=self.cluster_centers_, dtype=X.dtype,
                                chunks=(X.chunks[0], (self.n_clusters,)))

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of X on the fitted centres (computed)."""
        check_is_fitted(self)
        X = self._check_test_data(X)
        weights = as_dask_weights(sample_weight, X)
        w_blocks = (PerBlock([None] * X.numblocks[0]) if weights is None
                    else PerBlock(weights.to_delayed().ravel()))
        tasks = blockwise("score", _kmeans_blocks.score, PerBlock(X.to_delayed().ravel()),
                          w_blocks, self.cluster_centers_, n_blocks=X.numblocks[0])
        return -ordered_sum(compute(tasks))


class KMeans(DaskCentres, _KMeans):
    """K-means on a dask array or DataFrame, with kmix's compiled kernels on every block.

    Same parameters, attributes and results as :class:`kmix.KMeans` (and
    :class:`sklearn.cluster.KMeans`), for data that live on a Dask cluster: each iteration
    ships the centres once, runs the compiled assignment and per-cluster sums on every block
    where it lives (tasks ``kmix-assign-*``) and adds the blocks' sums on the client in block
    order. The result does not depend on the number of workers or threads, nor on which worker
    ran which block; from the same initial centres the labels and ``n_iter_`` are those of
    :class:`kmix.KMeans` on the concatenated data and the centres agree to rounding (~1e-15
    relative). X is persisted on the workers when it fits in half their memory, otherwise each
    iteration reads every block once from its source.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {'k-means||', 'random'}, callable or array-like of shape (n_clusters, \
            n_features), default='k-means||'
        'k-means||': scalable k-means++ (Bahmani et al., 2012), weighted; ``init_rounds``
        passes drawing about ``oversampling_factor * n_clusters`` candidates each, reclustered
        on the client by kmix's weighted k-means++ and a weighted Lloyd run. 'random':
        ``n_clusters`` distinct rows drawn with probability proportional to ``sample_weight``.
        An array: the initial centres. A callable ``init(X, n_clusters, random_state)`` is
        given the dask array X. (k-means++ itself is sequential over the whole data and not
        offered.)
    n_init : 'auto' or int, default='auto'
        'auto': 1 for 'k-means||' and arrays, 10 for 'random' and callables.
    max_iter : int, default=300
    tol : float, default=1e-4
        Tolerance on the squared centre shift, relative to the mean feature variance.
    verbose : int, default=0
        Print one line per iteration (the inertia) and the convergence.
    random_state : int, RandomState instance or None, default=None
        The same seed gives the same result whatever the chunking, the workers and threads.
    copy_x : bool, default=True
        Accepted for compatibility (X is never modified).
    algorithm : {'lloyd', 'elkan', 'hamerly', 'yinyang', 'auto', 'full'}, default='auto'
        Every algorithm gives the same labels and iterations. 'lloyd' (and 'full') runs
        Lloyd's pass on every block; the others run Hamerly's, each block keeping its labels
        and two bounds per sample on its worker between iterations (20 bytes per sample; the
        k bounds per sample of Elkan, or Yinyang's groups, would cost too much worker memory),
        and skipping the distances the bounds rule out. 'auto' picks as in memory
        (:class:`kmix.KMeans`), running Hamerly wherever in-memory kmix would run Hamerly or
        Elkan, and Lloyd where it would run Yinyang (500+ centres on wide data, where
        Hamerly's one bound prunes too little to pay).
    n_threads : int, default=None
        Threads of the compiled kernels within one task; None: 1 (Dask runs one task per
        worker thread).
    oversampling_factor : float, default=2.0
        k-means||: expected candidates per round, in units of ``n_clusters``. (kmix.dask only.)
    init_rounds : int, default=5
        k-means||: rounds of sampling, each one pass over the data. (kmix.dask only.)
    persist : 'auto' or bool, default='auto'
        Keep X in the workers' memory during the fit: 'auto' when it takes at most half of the
        workers' total memory limit. (kmix.dask only.)

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : dask.array.Array of shape (n_samples,)
        The labels, persisted on the workers.
    inertia_ : float
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X is a DataFrame whose column names are all strings.
    """

    _init_methods = ("k-means||", "random")

    def __init__(self, n_clusters=8, *, init="k-means||", n_init="auto", max_iter=300,
                 tol=1e-4, verbose=0, random_state=None, copy_x=True, algorithm="auto",
                 n_threads=None, oversampling_factor=2.0, init_rounds=5, persist="auto"):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state, copy_x=copy_x,
                         algorithm=algorithm, n_threads=n_threads)
        self.oversampling_factor = oversampling_factor
        self.init_rounds = init_rounds
        self.persist = persist

    def _check_params(self):
        super()._check_params()
        check_real("oversampling_factor", self.oversampling_factor, low=0, low_inclusive=False)
        check_int("init_rounds", self.init_rounds, low=1)
        check_persist(self.persist)

    @restores_on_interrupt
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
            Training data, chunked by rows (any chunk sizes; the columns are rechunked to one
            chunk). In-memory arrays are accepted too. Never modified.
        y : Ignored
        sample_weight : array-like or dask array of shape (n_samples,), default=None

        Returns
        -------
        self : KMeans
        """
        data = self._training_data(X, sample_weight)
        return self._fit_data(data, check_random_state(self.random_state))

    def _fit_data(self, data, random_state):
        """fit on prepared data (:func:`kmix.dask._data.prepare_fit_data`)."""
        n_threads = task_threads(self.n_threads)
        tol = float(data.summary.mean_variance * self.tol)
        init = self.init
        algorithm = resolve_algorithm(self.algorithm, *data.X.shape, self.n_clusters, False,
                                      self.max_iter)
        if self.algorithm == "auto" and algorithm == "yinyang":
            algorithm = "lloyd"
        algorithm = "lloyd" if algorithm == "lloyd" else "hamerly"
        if _is_arraylike_not_scalar(init) and not callable(init):
            init = self._check_centers(init, data.X)
        best = None
        for _ in range(self._n_init_effective()):
            centers = self._initial_centers(data, init, random_state, n_threads)
            if self.verbose:
                print("Initialization complete")
            run = kmeans_run(data, centers, max_iter=self.max_iter, tol=tol,
                             verbose=self.verbose, n_threads=n_threads, algorithm=algorithm)
            if best is None or (run.inertia < best.inertia and not same_clustering(
                    run.labels, best.labels, self.n_clusters)):
                best = run
        distinct = np.count_nonzero(best.counts)
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning, stacklevel=3)
        self.cluster_centers_ = best.centers
        self._n_features_out = self.n_clusters
        self.labels_ = best.labels
        self.inertia_ = float(best.inertia)
        self.n_iter_ = int(best.n_iter)
        return self

    def _initial_centers(self, data, init, random_state, n_threads):
        k = self.n_clusters
        if isinstance(init, str) and init == "k-means||":
            candidates, _, weights = kmeans_parallel(
                data, k, random_state, oversampling_factor=self.oversampling_factor,
                n_rounds=self.init_rounds, n_threads=n_threads)
            if candidates.shape[0] < k:  # fewer distinct rows than clusters
                extra = random_rows(data, k - candidates.shape[0], random_state)[0]
                centers = np.concatenate([candidates, extra])
            else:
                centers = recluster(candidates, weights, k, random_state, n_threads)[0]
        elif isinstance(init, str):
            centers = random_rows(data, k, random_state)[0]
        elif callable(init):
            centers = self._check_centers(init(data.X, k, random_state=random_state), data.X)
        else:
            centers = init
        return np.ascontiguousarray(centers, dtype=data.dtype)
