"""MiniBatchKMeans: scikit-learn's mini-batch k-means with O(batch) steps, and out-of-core fits.

A step draws its batch in O(batch) (uniform indices, or a binary search in the cumulative
weights computed once), then one compiled call assigns the batch (chunked distances and
argmin, the Lloyd kernel's building blocks) and updates each centre from its own rows: O(b k d)
for the assignment, O(b d + k d) for the update, nothing of size n per step. Random draws,
update formula, low-count reassignment and early stopping follow scikit-learn 1.9, draw for
draw: from the same ``random_state`` both libraries sample the same batches.
"""
from __future__ import annotations

import numbers
from collections import namedtuple
from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from ._core import _lloyd, _minibatch
from ._interrupt import restores_on_interrupt
from ._kmeans import _BaseKMeans, _tolerance_sparse
from ._kmeans_algorithms import _NO_WEIGHTS, labels_inertia
from ._progress import report
from ._seeding import _row_sq_norms
from ._threads import blas_context, effective_n_threads, threads_for
from ._typing import ArrayLike, InitLike, MatrixLike, RandomStateLike, Self
from ._validation import (
    as_csr_arrays,
    check_int,
    check_magnitude,
    check_n_samples,
    check_random_state,
    check_real,
    check_sample_weight,
    validate_fit_data,
)

__all__ = ["MiniBatchKMeans", "fit_batches", "BatchFit"]

_NO_ROWS = np.empty(0, dtype=np.intp)


#: The bounded steps keep per-sample state only when it is at most this fraction of the data.
_BOUNDS_MAX_STATE_FRACTION = 0.1


def _use_bounds(X, n_steps, batch_size, n_clusters):
    """Whether fit remembers per-sample labels and bounds across steps.

    It pays when samples are drawn again (at least two epochs of draws) and the state is a
    small fraction of the data (dense rows of 160+ bytes: 20+ float64 or 40+ float32
    features); the kernel needs 3+ centres.
    """
    if sp.issparse(X) or n_steps * batch_size < 2 * X.shape[0] or n_clusters < 3:
        return False
    row_bytes = X.shape[1] * X.dtype.itemsize
    return _minibatch.SEEN_DTYPE.itemsize <= _BOUNDS_MAX_STATE_FRACTION * row_bytes


#: Scratch of the compiled steps, and the per-sample state of the bounded steps.
_StepBuffers = _minibatch.StepBuffers
_Bounds = _minibatch.SeenState


def _step(X, csr, rows, weights, centers, counts, buf, n_threads, bounds=None):
    """One compiled step on X[rows] (or all of X when rows is empty): (inertia, shift)."""
    if bounds is not None:
        return _minibatch.step_dense_bounded(X, rows, centers, counts, buf, bounds, n_threads)
    if csr is not None:
        return _minibatch.step_sparse(*csr, rows, weights, centers, counts, buf, n_threads)
    return _minibatch.step_dense(X, rows, weights, centers, counts, buf, n_threads)


class MiniBatchKMeans(_BaseKMeans):
    """Mini-batch k-means with compiled, multi-threaded, deterministic steps.

    Same parameters, attributes and random draws as :class:`sklearn.cluster.MiniBatchKMeans`;
    a step costs O(batch_size) to sample and O(batch_size + n_clusters) to update (scikit-learn
    1.9: O(n_samples) and O(batch_size * n_clusters)). ``fit`` reads X in place: a memory-mapped
    array is never copied.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {'k-means++', 'k-means||', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        Seeding, run on ``init_size`` rows drawn at random (see :class:`kmix.KMeans`).
    max_iter : int, default=100
        Maximum number of passes over the data: ``fit`` runs at most
        ``max_iter * n_samples // batch_size`` steps.
    batch_size : int, default=1024
        Rows per mini-batch.
    verbose : int, default=0
        Print the k-means++ progress and the batch inertia per step.
    compute_labels : bool, default=True
        Compute ``labels_`` and ``inertia_`` on the full data (``fit``) or the batch
        (``partial_fit``) once the centres are fitted.
    random_state : int, RandomState instance or None, default=None
        Seed of the seeding, batch sampling and reassignments. The same seed gives
        bitwise-identical results for any ``n_threads``.
    tol : float, default=0.0
        Stop when the squared move of the centres in one step is within ``tol`` times the
        mean feature variance (0 disables it).
    max_no_improvement : int or None, default=10
        Stop after this many steps without improvement of the smoothed (exponentially
        weighted) batch inertia; None disables it.
    init_size : int, default=None
        Rows drawn to seed (and to compare the ``n_init`` seedings on); ``3 * batch_size``
        (at least ``3 * n_clusters``) when None.
    n_init : 'auto' or int, default='auto'
        Seedings compared by inertia on a held-out draw of ``init_size`` rows; the best one
        is trained. 'auto' is 1 for 'k-means++' and explicit centres, 3 otherwise.
    reassignment_ratio : float, default=0.01
        Centres whose count falls below this fraction of the largest count are moved to
        random rows of the batch.
    n_threads : int, default=None
        Threads of the compiled kernels; None uses all cores. (kmix only.)

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
        Labels of the training data (of the last batch after ``partial_fit``).
    inertia_ : float
        With ``compute_labels``: the weighted inertia of the training data (of the last
        batch after ``partial_fit``) on the fitted centres. Without: ``fit`` sets the smoothed
        batch inertia scaled to the data's total weight, ``partial_fit`` the last batch's
        inertia on the centres before its update.
    counts_ : ndarray of shape (n_clusters,)
        Total sample weight each centre has absorbed (its learning rate is ``w / counts_``).
    n_iter_ : int
        Passes over the data (``ceil(n_steps_ * batch_size / n_samples)``).
    n_steps_ : int
        Mini-batch steps run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has feature names that are all strings.
    """

    _default_n_init = 3

    def __init__(self, n_clusters: int = 8, *, init: InitLike = "k-means++",
                 max_iter: int = 100, batch_size: int = 1024, verbose: int = 0,
                 compute_labels: bool = True, random_state: RandomStateLike = None,
                 tol: float = 0.0, max_no_improvement: int | None = 10,
                 init_size: int | None = None, n_init: int | str = "auto",
                 reassignment_ratio: float = 0.01, n_threads: int | None = None) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.n_threads = n_threads

    # -- validation ---------------------------------------------------------------------------
    def _check_params(self):
        self._check_common_params()
        check_int("batch_size", self.batch_size, low=1)
        if not isinstance(self.compute_labels, (bool, np.bool_)):
            raise TypeError(f"compute_labels must be a bool, got {self.compute_labels!r}.")
        check_int("max_no_improvement", self.max_no_improvement, low=0, allow_none=True)
        check_int("init_size", self.init_size, low=1, allow_none=True)
        check_real("reassignment_ratio", self.reassignment_ratio, low=0)

    def _check_params_vs_input(self, X):
        """Batch and seeding sizes for X, as scikit-learn derives them."""
        n_samples = X.shape[0]
        check_n_samples(n_samples, self.n_clusters)
        self._batch_size = min(self.batch_size, n_samples)
        init_size = self.init_size
        if init_size is None:
            init_size = 3 * self._batch_size
            if init_size < self.n_clusters:
                init_size = 3 * self.n_clusters
        elif init_size < self.n_clusters:
            import warnings

            warnings.warn(
                f"init_size={init_size} should be larger than n_clusters={self.n_clusters}. "
                "Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning,
                stacklevel=3,
            )
            init_size = 3 * self.n_clusters
        self._init_size = min(init_size, n_samples)
        self._tol = self._tolerance(X)

    def _tolerance(self, X):
        if self.tol == 0:
            return 0.0
        if sp.issparse(X):
            return _tolerance_sparse(X, self.tol)
        n_threads = threads_for(effective_n_threads(self.n_threads), X.shape[0], 1, X.shape[1])
        # the mean of the per-feature variances (the row norms are a by-product)
        return _lloyd.row_norms_variance(X, np.empty(X.shape[0]), n_threads) * float(self.tol)

    def _validate(self, X, reset):
        """Validated X and its sum of squares (None where not computed)."""
        X, _, squares = validate_fit_data(self, X, accept_sparse="csr",
                                          dtype=[np.float64, np.float32], order="C",
                                          accept_large_sparse=False, reset=reset)
        return X, squares

    # -- seeding ------------------------------------------------------------------------------
    def _seed(self, X, init, random_state, sample_weight, n_threads):
        """Initial centres from ``init_size`` rows drawn with replacement (scikit-learn's
        draws)."""
        n_samples = X.shape[0]
        if self._init_size < n_samples:
            rows = random_state.randint(0, n_samples, self._init_size)
            X = X[rows]
            sample_weight = None if sample_weight is None else sample_weight[rows]
        if sample_weight is None:
            sample_weight = np.ones(X.shape[0])
        norms = _row_sq_norms(X) if isinstance(init, str) and init == "k-means++" else None
        with blas_context(X):
            centers = self._init_centroids(X, norms, init, random_state, sample_weight,
                                           n_threads)
        return np.array(centers, dtype=X.dtype, order="C", copy=True)

    def _rows(self, X, sample_weight, rows):
        """X[rows] and their weights (None without weights)."""
        return X[rows], None if sample_weight is None else sample_weight[rows]

    def _best_seeding(self, X, sample_weight, init, n_init, random_state, n_threads):
        """The best of ``n_init`` seedings, compared by inertia on one held-out draw of
        ``init_size`` rows (scikit-learn's draws)."""
        valid_rows = random_state.randint(0, X.shape[0], self._init_size)
        X_valid, w_valid = self._rows(X, sample_weight, valid_rows)
        best_inertia = None
        for init_idx in range(n_init):
            if self.verbose:
                print(f"Init {init_idx + 1}/{n_init} with method {init}")
            centers = self._seed(X, init, random_state, sample_weight, n_threads)
            inertia = labels_inertia(X_valid, centers, w_valid, n_threads)[1]
            if self.verbose:
                print(f"Inertia for init {init_idx + 1}/{n_init}: {inertia}")
            if best_inertia is None or inertia < best_inertia:
                best_centers, best_inertia = centers, inertia
        return best_centers

    def _checked_init(self, X):
        init = self.init
        if not isinstance(init, str) and not callable(init):
            init = self._check_centers(init, X)
        return init

    # -- steps --------------------------------------------------------------------------------
    def _start_steps(self, n_clusters):
        self.counts_ = np.zeros(n_clusters)
        self._n_since_last_reassign = 0
        self._ewa_inertia = None
        self._ewa_inertia_min = None
        self._no_improvement = 0

    def _random_reassign(self):
        """Whether this step may reassign low-count centres (scikit-learn's schedule)."""
        self._n_since_last_reassign += self._batch_size
        if self._n_since_last_reassign >= 10 * self.n_clusters or not self.counts_.all():
            self._n_since_last_reassign = 0
            return True
        return False

    def _reassign(self, centers, batch_rows, batch_size, random_state, bounds=None):
        """Move centres with a count below reassignment_ratio * max to random batch rows.

        ``batch_rows(indices)`` returns those rows of the batch as a dense array. At most half
        the batch is used; the moved centres' counts become the smallest remaining count.
        With ``bounds``, the largest jump is added to their drift total.
        """
        counts = self.counts_
        if not _minibatch.count_below(counts, self.reassignment_ratio):
            return
        to_reassign = counts < self.reassignment_ratio * counts.max()
        if to_reassign.sum() > 0.5 * batch_size:
            keep = np.argsort(counts)[int(0.5 * batch_size):]
            to_reassign[keep] = False
        n_reassigns = int(to_reassign.sum())
        if n_reassigns:
            new_rows = random_state.choice(batch_size, replace=False, size=n_reassigns)
            if self.verbose:
                print(f"[MiniBatchKMeans] Reassigning {n_reassigns} cluster centers.")
            new_centers = batch_rows(new_rows)
            if bounds is not None:
                jumps = new_centers.astype(np.float64) - centers[to_reassign]
                bounds.drift[0] += float(np.sqrt(np.einsum("ij,ij->i", jumps, jumps).max()))
            centers[to_reassign] = new_centers
        counts[to_reassign] = np.min(counts[~to_reassign])

    def _converged(self, step, n_steps, n_samples, squared_shift, batch_inertia):
        """scikit-learn's early stopping on the smoothed batch inertia and the centre moves."""
        batch_inertia /= self._batch_size
        step += 1
        if step == 1:
            if self.verbose:
                print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}")
            return False
        if self._ewa_inertia is None:
            self._ewa_inertia = batch_inertia
        else:
            alpha = min(self._batch_size * 2.0 / (n_samples + 1), 1)
            self._ewa_inertia = self._ewa_inertia * (1 - alpha) + batch_inertia * alpha
        if self.verbose:
            print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}, "
                  f"ewa inertia: {self._ewa_inertia}")
        if self._tol > 0.0 and squared_shift <= self._tol:
            if self.verbose:
                print(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self._ewa_inertia_min is None or self._ewa_inertia < self._ewa_inertia_min:
            self._no_improvement = 0
            self._ewa_inertia_min = self._ewa_inertia
        else:
            self._no_improvement += 1
        if self.max_no_improvement is not None and self._no_improvement >= self.max_no_improvement:
            if self.verbose:
                print(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            return True
        return False

    def _run_steps(self, X, csr, cdf, centers, random_state, steps, n_steps, n_samples, buf,
                   n_threads, bounds=None):
        """The mini-batch steps numbered ``steps`` (a range) on batches drawn from X.

        Each step draws ``batch_size`` rows of X (with the normalised cumulative weights
        ``cdf``; empty: uniformly), updates ``centers`` and ``counts_`` in place, reassigns
        low-count centres on scikit-learn's schedule and checks early stopping (``n_steps``
        and ``n_samples``: the whole fit's). Returns (index of the last step run, whether
        early stopping fired, that step's batch inertia).
        """
        batch_size = self._batch_size
        rows = np.empty(batch_size, dtype=np.intp)

        def batch_rows(positions):
            picked = X[rows[positions]]
            return picked.toarray() if csr is not None else picked

        i, batch_inertia = steps.start - 1, 0.0
        for i in steps:
            # The draws of numpy's choice(n, b, p=w / sum(w)): b uniforms, then the inverse
            # of the cumulative weights (the identity scaled by n for unit ones).
            _minibatch.sample_rows(random_state.random_sample(batch_size), X.shape[0], cdf,
                                   rows)
            reassign = self._random_reassign()
            batch_inertia, squared_shift = _step(X, csr, rows, _NO_WEIGHTS, centers,
                                                 self.counts_, buf, n_threads, bounds)
            if reassign and self.reassignment_ratio > 0:
                self._reassign(centers, batch_rows, batch_size, random_state, bounds)
            report("step", i + 1, n_steps)
            if self._converged(i, n_steps, n_samples, squared_shift, batch_inertia):
                return i, True, batch_inertia
        return i, False, batch_inertia

    # -- fitting ------------------------------------------------------------------------------
    @restores_on_interrupt
    def fit(self, X: MatrixLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> Self:
        """Fit the centres on mini-batches drawn from X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (CSR for sparse). Read in place, never modified: C-contiguous
            float32/float64 arrays, including ``np.memmap`` and ``np.load(mmap_mode='r')``
            arrays, are not copied.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Batches are drawn with probability proportional to the weights (then count with
            unit weight), as in scikit-learn; seeding and ``inertia_`` use them too.

        Returns
        -------
        self : MiniBatchKMeans
        """
        self._check_params()
        X, squares = self._validate(X, reset=True)
        n_samples, n_features = X.shape
        self._check_params_vs_input(X)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, n_samples)
        check_magnitude(X, sample_weight=sample_weight, squares=squares)
        random_state = check_random_state(self.random_state)
        n_threads = effective_n_threads(self.n_threads)
        n_init = self._n_init_effective()
        init = self._checked_init(X)
        batch_size = self._batch_size
        csr = as_csr_arrays(X) if sp.issparse(X) else None

        centers = self._best_seeding(X, sample_weight, init, n_init, random_state, n_threads)
        self._start_steps(self.n_clusters)
        n_steps = (self.max_iter * n_samples) // batch_size
        if sample_weight is None:
            cdf = _NO_WEIGHTS
            total_weight = float(n_samples)
        else:
            total_weight = float(np.sum(sample_weight))
            cdf = np.cumsum(sample_weight / total_weight)
            cdf /= cdf[-1]
        step_threads = threads_for(n_threads, batch_size, self.n_clusters, n_features)
        bounds = _Bounds(n_samples, batch_size) if _use_bounds(
            X, n_steps, batch_size, self.n_clusters) else None
        buf = _StepBuffers(batch_size, self.n_clusters, n_features, X.dtype,
                           csr is None and bounds is None)
        with blas_context(X):
            i, _, batch_inertia = self._run_steps(X, csr, cdf, centers, random_state,
                                                  range(n_steps), n_steps, n_samples, buf,
                                                  step_threads, bounds)

        self.cluster_centers_ = centers
        self._n_features_out = self.n_clusters
        self.n_steps_ = i + 1
        self.n_iter_ = int(np.ceil(((i + 1) * batch_size) / n_samples))
        if self.compute_labels:
            labels, inertia = labels_inertia(X, centers, sample_weight, n_threads)
            self.labels_ = labels
            self.inertia_ = float(inertia)
        else:
            ewa = self._ewa_inertia if self._ewa_inertia is not None else (
                batch_inertia / batch_size if n_steps else 0.0)
            self.inertia_ = float(ewa * total_weight)
        return self

    def partial_fit(self, X: MatrixLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> Self:
        """Update the centres with one mini-batch.

        The first call seeds the centres on this batch (``init_size`` rows of it).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The mini-batch (CSR for sparse).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the batch's samples in the update (and the seeding).

        Returns
        -------
        self : MiniBatchKMeans
        """
        has_centers = hasattr(self, "cluster_centers_")
        if not has_centers:
            self._check_params()
        X, squares = self._validate(X, reset=not has_centers)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        # later batches are measured against the centres (tiny values are no underflow)
        check_magnitude(X, sample_weight=sample_weight, underflow=not has_centers,
                        squares=squares)
        self._random_state = getattr(self, "_random_state", None) or check_random_state(
            self.random_state)
        self.n_steps_ = getattr(self, "n_steps_", 0)
        n_threads = effective_n_threads(self.n_threads)
        if not has_centers:
            self._check_params_vs_input(X)
            init = self._checked_init(X)
            centers = self._seed(X, init, self._random_state, sample_weight, n_threads)
            self._start_steps(self.n_clusters)
        else:
            centers = self.cluster_centers_
            if centers.dtype != X.dtype:
                centers = centers.astype(X.dtype)
            centers = np.array(centers, order="C", copy=True)
        n_samples, n_features = X.shape
        csr = as_csr_arrays(X) if sp.issparse(X) else None
        buf = _StepBuffers(n_samples, self.n_clusters, n_features, X.dtype, False)
        weights = _NO_WEIGHTS if sample_weight is None else sample_weight
        reassign = self._random_reassign()
        with blas_context(X):
            batch_inertia, _ = _step(X, csr, _NO_ROWS, weights, centers, self.counts_, buf,
                                     threads_for(n_threads, n_samples, self.n_clusters,
                                                 n_features))
        if reassign and self.reassignment_ratio > 0:
            def batch_rows(positions):
                rows = X[positions]
                return rows.toarray() if sp.issparse(rows) else rows

            self._reassign(centers, batch_rows, n_samples, self._random_state)
        self.cluster_centers_ = centers
        self._n_features_out = self.n_clusters
        if self.compute_labels:
            self.labels_, inertia = labels_inertia(X, centers, sample_weight, n_threads)
            self.inertia_ = float(inertia)
        else:
            self.inertia_ = float(batch_inertia)
        self.n_steps_ += 1
        return self


BatchFit = namedtuple("BatchFit", ["estimator", "holdout_inertia", "holdout_inertias"])
BatchFit.__doc__ = """Result of :func:`fit_batches`.

estimator : the fitted MiniBatchKMeans with the lowest held-out inertia.
holdout_inertia : its inertia on the held-out data.
holdout_inertias : list of the held-out inertia of every initialisation, in order.
"""


def _split_batch(batch):
    if isinstance(batch, tuple):
        if len(batch) != 2:
            raise ValueError("a batch must be an array or a tuple (X, sample_weight); got a "
                             f"tuple of length {len(batch)}.")
        return batch
    return batch, None


def _epochs(batches, n_epochs):
    """An iterator over the batches for each epoch."""
    if callable(batches):
        for _ in range(n_epochs):
            yield iter(batches())
        return
    if n_epochs > 1 and iter(batches) is batches:
        raise ValueError(
            "batches is a one-shot iterator (e.g. a generator) and can be read only once; "
            "pass a callable returning a fresh iterator, or a list, for n_epochs > 1."
        )
    for _ in range(n_epochs):
        yield iter(batches)


def fit_batches(batches: Iterable[MatrixLike] | Callable[[], Iterable[MatrixLike]],
                estimator: MiniBatchKMeans | None = None, *, n_init: int = 3,
                n_epochs: int = 1, holdout: int = 1,
                random_state: RandomStateLike = None) -> BatchFit:
    """Fit mini-batch k-means on a stream of batches, keeping the best of several seedings.

    The out-of-core recipe: every batch is read once per epoch and fed to ``n_init``
    independently seeded copies of ``estimator`` (``partial_fit``; each seeds itself on its
    first batch); the copy with the lowest inertia on held-out data is returned. Only one
    batch (plus the held-out ones) is in memory at a time.

    Parameters
    ----------
    batches : iterable or callable
        Batches as arrays / CSR matrices of shape (n_rows, n_features), or tuples
        ``(X, sample_weight)``: a list, a generator (e.g. reading files one at a time), or a
        callable returning a fresh iterable (needed for ``n_epochs > 1`` when batches come
        from a generator).
    estimator : MiniBatchKMeans, default=None
        Template of the fits (``MiniBatchKMeans()`` when None); cloned ``n_init`` times with
        ``random_state`` set to seeds drawn from ``random_state``.
    n_init : int, default=3
        Independently seeded fits.
    n_epochs : int, default=1
        Passes over the batches.
    holdout : int or array-like or sparse matrix, default=1
        An int: the first ``holdout`` batches are held out (never trained on) and score the
        fits. An array (or ``(X, sample_weight)`` tuple): held-out data given directly, every
        batch is trained on.
    random_state : int, RandomState instance or None, default=None
        Seed of the per-fit seeds; the estimator's own ``random_state`` when None.

    Returns
    -------
    BatchFit
        ``(estimator, holdout_inertia, holdout_inertias)``: the best fitted copy, its
        held-out inertia, and every copy's held-out inertia.

    Examples
    --------
    >>> import numpy as np
    >>> from kmix import MiniBatchKMeans, fit_batches
    >>> rng = np.random.RandomState(0)
    >>> def read_batches():      # e.g. one file per batch
    ...     for _ in range(20):
    ...         yield rng.normal(size=(500, 2)) + rng.choice([-5, 5], size=(500, 1))
    >>> best = fit_batches(read_batches(), MiniBatchKMeans(2, n_init=1), n_init=3,
    ...                    random_state=0)
    >>> best.estimator.cluster_centers_.shape
    (2, 2)
    """
    if estimator is None:
        estimator = MiniBatchKMeans()
    if not isinstance(estimator, MiniBatchKMeans):
        raise TypeError(f"estimator must be a kmix.MiniBatchKMeans, got {estimator!r}.")
    n_init = check_int("n_init", n_init, low=1)
    n_epochs = check_int("n_epochs", n_epochs, low=1)
    if isinstance(holdout, numbers.Integral) and not isinstance(holdout, (bool, np.bool_)):
        n_holdout = check_int("holdout", holdout, low=0)
        held_out = []
    elif holdout is None or isinstance(holdout, (bool, np.bool_, str)):
        raise TypeError(f"holdout must be an int or held-out data, got {holdout!r}.")
    else:
        n_holdout = 0
        held_out = [_split_batch(holdout)]
    if n_holdout == 0 and not held_out:
        raise ValueError("no held-out data: pass holdout >= 1 or held-out data.")
    seeds_from = random_state if random_state is not None else estimator.random_state
    seeds = check_random_state(seeds_from).randint(np.iinfo(np.int32).max, size=n_init)
    models = [clone(estimator).set_params(random_state=int(s)) for s in seeds]

    n_trained = 0
    for epoch, stream in enumerate(_epochs(batches, n_epochs)):
        for position, batch in enumerate(stream):
            X, w = _split_batch(batch)
            if position < n_holdout:
                if epoch == 0:
                    held_out.append((X, w))
                continue
            for model in models:
                model.partial_fit(X, sample_weight=w)
            n_trained += 1
    if n_trained == 0:
        raise ValueError(
            f"no batch to train on: the stream had no batches beyond the {n_holdout} held out."
        )
    if not held_out:
        raise ValueError(f"no held-out data: the stream had fewer than {n_holdout} batches.")

    scores = [sum(-model.score(X, sample_weight=w) for X, w in held_out) for model in models]
    best = int(np.argmin(scores))
    return BatchFit(models[best], float(scores[best]), [float(s) for s in scores])
