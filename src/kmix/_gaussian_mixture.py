"""GaussianMixture: a compiled, deterministic drop-in for
:class:`sklearn.mixture.GaussianMixture`."""
from __future__ import annotations

import numpy as np

from ._core import _gmm
from ._mixture import (
    _COV_CODE,
    _EMPTY,
    _ill_defined,
    _MixtureBase,
    check_means,
    check_precisions,
    check_weights,
    covariance_shape,
    gaussian_parameters,
    precision_cholesky,
    precision_cholesky_from_precisions,
)
from ._progress import report
from ._typing import ArrayLike, MatrixLike, RandomStateLike

__all__ = ["GaussianMixture"]


class GaussianMixture(_MixtureBase):
    """Gaussian mixture fitted by EM, one compiled pass per iteration.

    Same parameters, attributes and results as :class:`sklearn.mixture.GaussianMixture`: from
    the same initial parameters, kmix and scikit-learn follow the same EM iterations (lower
    bounds equal to ~1e-12 in float64). Each iteration is one multi-threaded pass over the
    data computing the log-densities, responsibilities and the M-step's sufficient statistics
    (in float64 for float32 data too); results are bitwise identical for any ``n_threads``.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Convergence threshold on the change of the lower bound (mean log-likelihood).
    reg_covar : float, default=1e-6
        Added to the diagonal of the covariances.
    max_iter : int, default=100
    n_init : int, default=1
        Initialisations; the one with the best lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        Initial responsibilities ('kmeans' runs :class:`kmix.KMeans` with ``n_init=1``, which
        draws the same seeds as scikit-learn's KMeans).
    weights_init, means_init, precisions_init : array-like, default=None
        Initial parameters (when all three are given no initialisation runs).
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Start the next ``fit`` from the current parameters (``n_init`` is then ignored).
    verbose : int, default=0
    verbose_interval : int, default=10
    n_threads : int, default=None
        Threads of the compiled pass; None uses all cores. (kmix only.)

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
    lower_bounds_ : list of float
    n_features_in_ : int
    """

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full",
                 tol: float = 1e-3, reg_covar: float = 1e-6, max_iter: int = 100,
                 n_init: int = 1, init_params: str = "kmeans",
                 weights_init: ArrayLike | None = None, means_init: ArrayLike | None = None,
                 precisions_init: ArrayLike | None = None,
                 random_state: RandomStateLike = None, warm_start: bool = False,
                 verbose: int = 0, verbose_interval: int = 10,
                 n_threads: int | None = None) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads

    def _check_params(self):
        self._check_common_params()

    def _check_init_params(self, X, sample_weight=None):
        n_features = X.shape[1]
        k = self.n_components
        self._weights_init = None if self.weights_init is None else check_weights(
            self.weights_init, k)
        self._means_init = None if self.means_init is None else check_means(
            self.means_init, k, n_features)
        self._precisions_init = None if self.precisions_init is None else check_precisions(
            self.precisions_init, self.covariance_type, k, n_features)

    # -- parameters ---------------------------------------------------------------------------
    def _initialize_parameters(self, X, sample_weight, random_state):
        self._dtype = X.dtype
        given = (self._weights_init, self._means_init, self._precisions_init)
        weights = means = covariances = prec_chol = None
        if any(p is None for p in given):
            resp = self._initial_resp(X, sample_weight, random_state)
            stats = self._initial_stats(X, sample_weight, resp)
            if self._precisions_init is None and self.covariance_type != "tied":
                # compiled: the parameters and their precision factors in one call
                weights, means, covariances, prec_chol = self._compiled_parameters(stats)
            else:
                weights, means, covariances = gaussian_parameters(
                    stats, self.reg_covar, self.covariance_type)
            if self._weights_init is None:
                weights = weights / self._total_weight  # n_samples or the total weight
        self.weights_ = np.asarray(weights if self._weights_init is None
                                   else self._weights_init, dtype=np.float64)
        self.means_ = np.asarray(means if self._means_init is None else self._means_init,
                                 dtype=np.float64)
        if self._precisions_init is None:
            self.covariances_ = covariances
            self.precisions_cholesky_ = (
                prec_chol if prec_chol is not None
                else precision_cholesky(covariances, self.covariance_type, X.dtype))
        else:
            self.precisions_cholesky_ = precision_cholesky_from_precisions(
                np.asarray(self._precisions_init, dtype=np.float64), self.covariance_type)

    def _compiled_parameters(self, stats):
        """(nk, means, covariances, precision Cholesky factors) from the initial statistics
        by the compiled M-step (full, diag, spherical), as :func:`gaussian_parameters` and
        :func:`precision_cholesky` give them."""
        N, S1, S2, shift = stats[:4]
        nk, means, covs, prec, bad = _gmm.m_step(N, S1, S2, np.ascontiguousarray(shift),
                                                 _COV_CODE[self.covariance_type],
                                                 self.reg_covar)
        if bad >= 0:
            raise _ill_defined(bad, self._dtype)
        shape = covariance_shape(self.covariance_type, *S1.shape)
        return nk, means, covs.reshape(shape), prec.reshape(shape)

    def _em_loop(self, X, sample_weight, lower_bound):
        """All EM iterations of one initialisation in one compiled call (full, diag and
        spherical covariances, without per-iteration printing); the same iterations as the
        Python loop of the base class, which runs the other cases."""
        if self.covariance_type == "tied" or self.verbose:
            return super()._em_loop(X, sample_weight, lower_bound)
        n, d = X.shape
        cov = self.covariance_type
        weights = np.array(self.weights_, dtype=np.float64)
        means = np.array(self.means_, dtype=np.float64, order="C")
        prec = np.array(self.precisions_cholesky_, dtype=np.float64).ravel()
        covs = np.empty(prec.shape[0])
        lower_bounds = np.empty(self.max_iter)
        settings = dict(reg_covar=self.reg_covar, tol=self.tol, max_iter=self.max_iter,
                        total_weight=self._total_weight, lower_bound=lower_bound)
        n_iter, converged, lower_bound, bad = _gmm.em_run(
            X, _EMPTY if sample_weight is None else sample_weight,
            _gmm.Parameters(_COV_CODE[cov], weights, means, covs, prec), settings,
            np.ascontiguousarray(self._data_mean, dtype=np.float64), lower_bounds,
            self._pass_threads(n, d))
        if bad >= 0:
            raise _ill_defined(bad, self._dtype)
        report("iteration", n_iter, self.max_iter)       # the compiled block of iterations
        shape = covariance_shape(cov, self.n_components, d)
        self.weights_, self.means_ = weights, means
        self.covariances_ = covs.reshape(shape)
        self.precisions_cholesky_ = prec.reshape(shape)
        return lower_bound, n_iter, converged, lower_bounds[:n_iter].tolist()

    def _m_step(self, stats):
        weights, self.means_, self.covariances_ = gaussian_parameters(
            stats, self.reg_covar, self.covariance_type)
        self.weights_ = weights / weights.sum()
        self.precisions_cholesky_ = precision_cholesky(self.covariances_, self.covariance_type,
                                                       self._dtype)

    def _lower_bound(self, log_prob_norm, entropy):
        return log_prob_norm

    def _estimate_log_weights(self):
        return np.log(self.weights_)

    def _get_parameters(self):
        return (self.weights_, self.means_, getattr(self, "covariances_", None),
                self.precisions_cholesky_)

    def _set_parameters(self, params):
        (self.weights_, self.means_, self.covariances_, self.precisions_cholesky_) = params
        self._set_output_dtype()
        self._set_precisions()

    def _set_output_dtype(self):
        """Fitted arrays in the data's dtype, as scikit-learn returns them."""
        dtype = getattr(self, "_dtype", np.float64)
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, np.asarray(value).astype(dtype, copy=False))

    # -- model selection ----------------------------------------------------------------------
    def _n_parameters(self):
        """Number of free parameters of the model."""
        _, n_features = self.means_.shape
        k = self.n_components
        if self.covariance_type == "full":
            cov_params = k * n_features * (n_features + 1) / 2.0
        elif self.covariance_type == "diag":
            cov_params = k * n_features
        elif self.covariance_type == "tied":
            cov_params = n_features * (n_features + 1) / 2.0
        else:
            cov_params = k
        return int(cov_params + n_features * k + k - 1)

    def bic(self, X: MatrixLike) -> float:
        """Bayesian information criterion on X (lower is better)."""
        X = self._check_test_data(X)
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0])

    def aic(self, X: MatrixLike) -> float:
        """Akaike information criterion on X (lower is better)."""
        X = self._check_test_data(X)
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()
