"""GaussianMixture on dask arrays: kmix's compiled E-step + statistics pass per block.

The EM loop, the initialisations' draws and the M-step are those of in-memory
:class:`kmix.GaussianMixture` (this class derives from it); only the pass over the data
changes: each block runs the compiled statistics pass (``_core._gmm.em_statistics``, or
``initial_statistics`` for given responsibilities, through the in-memory estimator's
``_pass``) in a ``kmix-estep`` task, and the client adds the blocks' log-likelihoods and
sufficient statistics in block order. From the same initial parameters the lower bound of
every iteration equals in-memory kmix's to rounding.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._gaussian_mixture import GaussianMixture as _GaussianMixture
from .._interrupt import restores_on_interrupt
from .._mixture import _MixtureBase
from .._threads import blas_single_threaded
from ._data import (
    BlockData,
    as_dask_array,
    check_persist,
    checked_block,
    contiguous,
    prepare_fit_data,
)
from ._engine import PerBlock, blockwise, compute, new_name, ordered_sum, share, task_threads
from ._kmeans import KMeans
from ._random import block_states
from ._seeding import N_ROUNDS, OVERSAMPLING_FACTOR, kmeans_parallel, random_rows, recluster

__all__ = ["GaussianMixture"]

#: Statistics of a pass summed over the blocks.
_SUMMED = ("N", "S1", "S2", "S2g")


def _em_block(X, w, model, resp, kwargs):
    """The in-memory pass with statistics on one block: (sum w log p, entropy term, the
    statistics, the shifts they are taken about)."""
    X = contiguous(X)
    w = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
    with blas_single_threaded():
        total, out = model._pass(X, w, stats=True, resp_in=resp, **kwargs)
    return total, out


def _output_block(X, model, what):
    """Per-row outputs of the fitted model on a block, as in-memory kmix returns them:
    'resp' and 'lpn' in X's dtype, 'labels' as intp."""
    X = checked_block(X, model.reg_covar)
    dtype = np.intp if what == "labels" else X.dtype
    if X.shape[0] == 0:
        return np.empty((0, model.n_components) if what == "resp" else 0, dtype=dtype)
    with model._blas_context(X):
        return model._pass(X, None, **{what: True})[1][what].astype(dtype, copy=False)


def _one_hot(labels, k):
    resp = np.zeros((labels.shape[0], k))
    resp[np.arange(labels.shape[0]), labels] = 1
    return resp


def _random_resp(state, n, k, dtype):
    """The block's rows of in-memory ``init_params='random'``: uniforms from the random
    state at the block's start, normalised per row."""
    random_state = np.random.RandomState()
    random_state.set_state(state)
    resp = np.asarray(random_state.uniform(size=(n, k)), dtype=dtype)
    return (resp / resp.sum(axis=1)[:, None]).astype(np.float64)


def _rows_resp(n, start, indices, k):
    """Responsibilities putting component j on row indices[j] alone (the block's rows)."""
    resp = np.zeros((n, k))
    inside = (indices >= start) & (indices < start + n)
    resp[indices[inside] - start, np.flatnonzero(inside)] = 1
    return resp


class GaussianMixture(_GaussianMixture):
    """Gaussian mixture fitted by EM on a dask array or DataFrame, one distributed pass per
    iteration.

    Same parameters and attributes as :class:`kmix.GaussianMixture` (all four covariance
    types). Each EM iteration runs kmix's compiled E-step and sufficient-statistics pass on
    every block where it lives (tasks ``kmix-estep-*``) and adds the blocks' statistics on the
    client in block order; the M-step is in-memory kmix's. From the same initial parameters
    the lower bound of every iteration equals in-memory kmix's to ~1e-14 relative, whatever the
    chunking and the workers. ``init_params``: 'random' and 'random_from_data' draw as in
    memory (the same initial responsibilities); 'kmeans' runs :class:`kmix.dask.KMeans`
    (k-means|| initialisation) and 'k-means++' takes the rows that k-means||'s weighted
    k-means++ picks. ``predict``, ``predict_proba`` and ``score_samples`` return lazy dask
    arrays; ``score``, ``bic`` and ``aic`` compute.

    Parameters
    ----------
    n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params, \
weights_init, means_init, precisions_init, random_state, warm_start, verbose, verbose_interval
        As :class:`kmix.GaussianMixture` (``verbose``: a line every ``verbose_interval``
        iterations).
    n_threads : int, default=None
        Threads of the compiled pass within one task; None: 1.
    persist : 'auto' or bool, default='auto'
        Keep X in the workers' memory during the fit ('auto': when it takes at most half of
        their total memory limit). (kmix.dask only.)
    """

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None,
                 means_init=None, precisions_init=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, n_threads=None, persist="auto"):
        super().__init__(n_components, covariance_type=covariance_type, tol=tol,
                         reg_covar=reg_covar, max_iter=max_iter, n_init=n_init,
                         init_params=init_params, weights_init=weights_init,
                         means_init=means_init, precisions_init=precisions_init,
                         random_state=random_state, warm_start=warm_start, verbose=verbose,
                         verbose_interval=verbose_interval, n_threads=n_threads)
        self.persist = persist

    def _check_params(self):
        super()._check_params()
        check_persist(self.persist)

    @restores_on_interrupt
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most likely component of each sample (a lazy dask array)."""
        self._check_params()
        k = self.n_components

        def check_n_samples(n):
            if n < 2:
                raise ValueError(f"Found array with {n} sample(s) (shape={X.shape}) while a "
                                 "minimum of 2 is required.")
            if n < k:
                raise ValueError("Expected n_samples >= n_components but got "
                                 f"n_components = {k}, n_samples = {n}")

        data = prepare_fit_data(
            self, X, sample_weight, check_n_samples=check_n_samples, persist=self.persist,
            min_nonzero=max(2, k), what=f"{type(self).__name__} with n_components={k}",
            reg_covar=self.reg_covar)
        self._check_init_params(data.X)
        with blas_single_threaded():
            return self._fit(data, data.weights)

    def _data_moments(self, data, sample_weight):
        return data.summary.weighted_mean, data.summary.total_weight

    def _em_loop(self, X, sample_weight, lower_bound):
        # the Python loop of the base class, one distributed pass per iteration
        return _MixtureBase._em_loop(self, X, sample_weight, lower_bound)

    def _m_step(self, stats):
        """The in-memory fit's M-step: compiled for full, diag and spherical covariances."""
        if self.covariance_type == "tied":
            return super()._m_step(stats)
        nk, self.means_, self.covariances_, self.precisions_cholesky_ = (
            self._compiled_parameters(stats))
        self.weights_ = nk / np.cumsum(nk)[-1]  # summed in order, as the compiled loop

    # -- the passes over the data -------------------------------------------------------------
    def _model(self):
        """An in-memory GaussianMixture with the current parameters (shipped to the tasks)."""
        model = _GaussianMixture(self.n_components, covariance_type=self.covariance_type,
                                 reg_covar=self.reg_covar, n_threads=task_threads(self.n_threads))
        for name in ("weights_", "means_", "precisions_cholesky_", "_data_mean"):
            if hasattr(self, name):
                setattr(model, name, getattr(self, name))
        return model

    def _pass(self, X, sample_weight, *, stats=False, resp_in=None, shift=None, second=None,
              resp=False, lpn=False, labels=False, entropy=False):
        """The in-memory ``_pass`` over the blocks: with ``stats``, computed and reduced in block
        order (``X``: BlockData); otherwise the per-row outputs as lazy dask arrays."""
        if not stats:
            return np.nan, self._lazy_outputs(X.X if isinstance(X, BlockData) else X,
                                              resp=resp, lpn=lpn, labels=labels)
        kwargs = {"shift": shift, "second": second, "entropy": entropy}
        parts = compute(X.map("estep", _em_block, share(self._model(), "model"), resp_in,
                              kwargs))
        out = dict(parts[0][1])
        for name in _SUMMED:
            if name in out:
                out[name] = ordered_sum([p[1][name] for p in parts])
        out["entropy"] = ordered_sum([p[1]["entropy"] for p in parts])
        return ordered_sum([p[0] for p in parts]), out

    def _lazy_outputs(self, X, **wanted):
        """The wanted per-row outputs ('resp', 'lpn', 'labels') as lazy dask arrays."""
        model = self._model()
        specs = {"resp": ("predict-proba", X.dtype, {"chunks": (X.chunks[0],
                                                                (self.n_components,))}),
                 "lpn": ("score-samples", X.dtype, {"drop_axis": 1}),
                 "labels": ("predict", np.intp, {"drop_axis": 1})}
        return {what: X.map_blocks(_output_block, model=model, what=what, dtype=specs[what][1],
                                   name=new_name(specs[what][0]),
                                   **specs[what][2])
                for what, want in wanted.items() if want}

    # -- initialisation -----------------------------------------------------------------------
    def _initial_resp(self, data, sample_weight, random_state):
        """The initial responsibilities of each block (lazy), drawn as in memory."""
        k = self.n_components
        sizes, starts = data.sizes, data.starts
        if self.init_params == "kmeans":
            kmeans = KMeans(n_clusters=k, n_init=1, n_threads=self.n_threads)
            labels = kmeans._fit_data(data, random_state).labels_
            blocks = labels.to_delayed().ravel()
            resp = PerBlock(blockwise("init-resp", _one_hot, PerBlock(blocks), k,
                                      n_blocks=len(blocks)))
            resp.labels = labels  # holds the labels' futures until the responsibilities are used
            return resp
        if self.init_params == "random":
            states = block_states(random_state, sizes, k)
            return PerBlock(blockwise("init-resp", _random_resp, PerBlock(states),
                                      PerBlock(sizes), k, data.dtype, n_blocks=len(sizes)))
        if self.init_params == "random_from_data":
            indices = random_state.choice(data.shape[0], size=k, replace=False)
        else:  # 'k-means++': the rows k-means||'s weighted k-means++ picks
            candidates, index, weights = kmeans_parallel(
                data, k, random_state, oversampling_factor=OVERSAMPLING_FACTOR,
                n_rounds=N_ROUNDS, n_threads=task_threads(self.n_threads))
            if candidates.shape[0] < k:
                extra = random_rows(data, k - candidates.shape[0], random_state)[1]
                indices = np.concatenate([index, extra])
            else:
                indices = index[recluster(candidates, weights, k, random_state,
                                          task_threads(self.n_threads), lloyd=False)[1]]
        return PerBlock(blockwise("init-resp", _rows_resp, PerBlock(sizes), PerBlock(starts),
                                  np.asarray(indices), k, n_blocks=len(sizes)))

    # -- the fitted model ---------------------------------------------------------------------
    def _check_test_data(self, X):
        return as_dask_array(self, X, reset=False)

    def _lazy(self, X, what):
        check_is_fitted(self, "means_")
        return self._lazy_outputs(self._check_test_data(X), **{what: True})[what]

    def predict(self, X):
        """Most likely component of each sample: a lazy dask array."""
        return self._lazy(X, "labels")

    def predict_proba(self, X):
        """Posterior probability of each component, (n_samples, n_components): lazy."""
        return self._lazy(X, "resp")

    def score_samples(self, X):
        """Log of the mixture density at each sample: a lazy dask array."""
        return self._lazy(X, "lpn")

    def score(self, X, y=None):
        """Mean log-likelihood of X (computed)."""
        return float(self.score_samples(X).mean().compute())
