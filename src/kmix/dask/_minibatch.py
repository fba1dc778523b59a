"""MiniBatchKMeans on dask arrays: the compiled mini-batch step runs on the worker holding the
batch; the small model state (centres, counts, random state) moves from block to block."""
import copy

import numpy as np

from .._core._minibatch import StepBuffers
from .._interrupt import restores_on_interrupt
from .._kmeans_algorithms import _NO_WEIGHTS
from .._minibatch import MiniBatchKMeans as _MiniBatchKMeans
from .._threads import blas_context
from .._validation import check_random_state
from ._data import as_dask_array, as_dask_weights, check_persist, contiguous
from ._engine import PerBlock, chain, compute, task_threads
from ._kmeans import DaskCentres
from ._lloyd import final_assignment

__all__ = ["MiniBatchKMeans"]

#: Fitted attributes that stay with the dask estimator (not handed to the in-memory model).
_CLIENT_ONLY = ("labels_", "feature_names_in_")


def _partial_fit_block(model, X, w):
    """In-memory ``partial_fit`` on one block (a copy of the model; tasks never modify their
    inputs)."""
    model = copy.deepcopy(model)
    return model.partial_fit(contiguous(X), sample_weight=w)


def _block_cdf(w):
    cdf = np.cumsum(np.asarray(w, dtype=np.float64) / float(np.sum(w)))
    cdf /= cdf[-1]
    return cdf


def _steps_block(state, X, w, first, count, n_steps, n_samples, n_threads):
    """Mini-batch steps ``first .. first + count - 1`` on batches drawn from one block.

    ``state`` = (in-memory model, centres, random state, last step, stopped, batch inertia);
    returns it updated (a copy)."""
    model, centers, random_state, last, stopped, batch_inertia = state
    if stopped or count == 0:
        return state
    model, centers, random_state = copy.deepcopy((model, centers, random_state))
    X = contiguous(X)
    cdf = _NO_WEIGHTS if w is None else _block_cdf(w)
    buf = StepBuffers(model._batch_size, model.n_clusters, X.shape[1], X.dtype, True)
    with blas_context(X):
        last, stopped, batch_inertia = model._run_steps(
            X, None, cdf, centers, random_state, range(first, first + count), n_steps,
            n_samples, buf, n_threads)
    return model, centers, random_state, last, stopped, batch_inertia


def _epoch_schedule(block_weights, order, epoch, n_epochs, n_steps):
    """(first step, number of steps) of each block of an epoch visiting blocks in ``order``:
    the steps are shared in proportion to the blocks' weights, n_steps over all epochs."""
    fractions = np.cumsum(block_weights[order]) / float(np.sum(block_weights))
    fractions[-1] = 1.0
    ends = np.floor(n_steps * (epoch + fractions) / n_epochs).astype(np.int64)
    starts = np.concatenate([[n_steps * epoch // n_epochs], ends[:-1]])
    return starts, ends - starts


class MiniBatchKMeans(DaskCentres, _MiniBatchKMeans):
    """Mini-batch k-means on a dask array or DataFrame, the compiled step on the workers.

    Same parameters and attributes as :class:`kmix.MiniBatchKMeans`. ``fit`` visits the blocks
    in a random order each pass (epoch) and runs, on the worker holding a block, the steps whose
    batches are drawn from that block (their number proportional to the block's weight,
    ``max_iter * n_samples // batch_size`` in all); the model (centres, counts, random state)
    is what moves between workers, never the data. Seeding draws ``init_size`` rows as in
    memory and seeds on the client. ``partial_fit(X)`` feeds the blocks of X, in order, as
    batches: the same result as in-memory ``partial_fit`` called on each block.

    Parameters
    ----------
    n_clusters, init, max_iter, batch_size, verbose, compute_labels, random_state, tol, \
max_no_improvement, init_size, n_init, reassignment_ratio
        As :class:`kmix.MiniBatchKMeans` (``verbose``: one line per pass over the data).
    n_threads : int, default=None
        Threads of the compiled kernels within one task; None: 1.
    persist : 'auto' or bool, default='auto'
        Keep X in the workers' memory during ``fit`` ('auto': when it takes at most half of
        their total memory limit). (kmix.dask only.)

    Attributes
    ----------
    cluster_centers_, counts_, inertia_, n_iter_, n_steps_, n_features_in_
        As :class:`kmix.MiniBatchKMeans`.
    labels_ : dask.array.Array (``fit``) or ndarray (``partial_fit``: the last block's)
    """

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=100, batch_size=1024,
                 verbose=0, compute_labels=True, random_state=None, tol=0.0,
                 max_no_improvement=10, init_size=None, n_init="auto",
                 reassignment_ratio=0.01, n_threads=None, persist="auto"):
        super().__init__(n_clusters, init=init, max_iter=max_iter, batch_size=batch_size,
                         verbose=verbose, compute_labels=compute_labels,
                         random_state=random_state, tol=tol,
                         max_no_improvement=max_no_improvement, init_size=init_size,
                         n_init=n_init, reassignment_ratio=reassignment_ratio,
                         n_threads=n_threads)
        self.persist = persist

    def _check_params(self):
        super()._check_params()
        check_persist(self.persist)

    def _tolerance(self, data):
        """tol times the mean feature variance (from the data's summary)."""
        return 0.0 if self.tol == 0 else data.summary.mean_variance * float(self.tol)

    def _rows(self, data, sample_weight, rows):
        """The rows of the data (and their weights), taken to the client."""
        return data.take(rows)

    def _seed(self, data, init, random_state, sample_weight, n_threads):
        """In-memory seeding on ``init_size`` rows drawn as in memory, taken to the client."""
        n_samples = data.shape[0]
        if self._init_size < n_samples:
            rows = random_state.randint(0, n_samples, self._init_size)
        else:
            rows = np.arange(n_samples)
        X_rows, w_rows = self._rows(data, None, rows)
        return super()._seed(X_rows, init, random_state, w_rows, n_threads)

    def _in_memory_model(self, n_threads):
        """An in-memory MiniBatchKMeans with these parameters and this fitted state."""
        params = {name: getattr(self, name) for name in _MiniBatchKMeans._get_param_names()}
        params.update(verbose=0, n_threads=n_threads)
        model = _MiniBatchKMeans(**params)
        for name, value in vars(self).items():
            if name not in params and name != "persist" and name not in _CLIENT_ONLY:
                setattr(model, name, value)
        return model

    def _adopt(self, model):
        """Take the fitted state of an in-memory model."""
        for name, value in vars(model).items():
            if name not in self.get_params() and name != "feature_names_in_":
                setattr(self, name, value)

    @restores_on_interrupt
    def fit(self, X, y=None, sample_weight=None):
        """Fit the centres on mini-batches drawn from the blocks of X.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Batches are drawn with probability proportional to the weights.

        Returns
        -------
        self : MiniBatchKMeans
        """
        data = self._training_data(X, sample_weight)
        n_samples = data.shape[0]
        self._check_params_vs_input(data)
        random_state = check_random_state(self.random_state)
        n_threads = task_threads(self.n_threads)
        init = self._checked_init(data.X)

        best_centers = self._best_seeding(data, None, init, self._n_init_effective(),
                                          random_state, n_threads)
        self._start_steps(self.n_clusters)
        n_steps = (self.max_iter * n_samples) // self._batch_size
        orders = np.random.RandomState(random_state.randint(np.iinfo(np.int32).max))
        state = (self._in_memory_model(n_threads), best_centers, random_state, -1, False, 0.0)
        weights = data.summary.block_weights
        for epoch in range(self.max_iter):
            order = orders.permutation(data.n_blocks)
            firsts, counts = _epoch_schedule(weights, order, epoch, self.max_iter, n_steps)
            last = chain("steps", _steps_block, state, PerBlock(data.blocks[i] for i in order),
                         PerBlock(data.weight_blocks[i] for i in order), PerBlock(firsts),
                         PerBlock(counts), n_steps, n_samples, n_threads,
                         n_links=data.n_blocks)
            state = compute([last])[0]
            model, _, _, i, stopped, batch_inertia = state
            if self.verbose:
                print(f"Pass {epoch + 1}/{self.max_iter}: step {i + 1}/{n_steps}, "
                      f"ewa inertia {model._ewa_inertia}")
            if stopped or i + 1 >= n_steps:
                break
        model, centers, _, i, _, batch_inertia = state
        self._adopt(model)
        self.cluster_centers_ = centers
        self._n_features_out = self.n_clusters
        self.n_steps_ = i + 1
        self.n_iter_ = int(np.ceil(((i + 1) * self._batch_size) / n_samples))
        if self.compute_labels:
            self.labels_, self.inertia_, _ = final_assignment(data, centers, n_threads)
            self.inertia_ = float(self.inertia_)
        else:
            ewa = self._ewa_inertia if self._ewa_inertia is not None else (
                batch_inertia / self._batch_size if n_steps else 0.0)
            self.inertia_ = float(ewa * data.summary.total_weight)
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centres with each block of X in turn, as in-memory ``partial_fit``
        called on every block (the first call seeds on the first block).

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like or dask array of shape (n_samples,), default=None

        Returns
        -------
        self : MiniBatchKMeans
        """
        has_centers = hasattr(self, "cluster_centers_")
        if not has_centers:
            self._check_params()
        X = as_dask_array(self, X, reset=not has_centers)
        weights = as_dask_weights(sample_weight, X)
        keep = [i for i, size in enumerate(X.chunks[0]) if size > 0]
        x_blocks = X.to_delayed().ravel()
        w_blocks = [None] * len(x_blocks) if weights is None else weights.to_delayed().ravel()
        last = chain("partial-fit", _partial_fit_block,
                     self._in_memory_model(task_threads(self.n_threads)),
                     PerBlock(x_blocks[i] for i in keep), PerBlock(w_blocks[i] for i in keep),
                     n_links=len(keep))
        self._adopt(compute([last])[0])
        return self
