"""BayesianGaussianMixture: variational Gaussian mixture with the compiled EM pass.

The expensive part of each variational iteration (expected log-densities, responsibilities,
their entropy and the sufficient statistics) is the same compiled pass as GaussianMixture's;
the variational updates of the priors' posteriors are scikit-learn's formulas on k-sized
statistics.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.special import betaln, digamma, gammaln

from ._mixture import (
    _check_shape,
    _MixtureBase,
    gaussian_parameters,
    log_det_cholesky,
    precision_cholesky,
    weighted_mean,
)
from ._typing import ArrayLike, RandomStateLike
from ._validation import check_array, check_choice, check_real

__all__ = ["BayesianGaussianMixture"]

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


def _log_dirichlet_norm(concentration):
    return gammaln(np.sum(concentration)) - np.sum(gammaln(concentration))


def _log_wishart_norm(dof, log_det_precisions_chol, n_features):
    return -(dof * log_det_precisions_chol + dof * n_features * 0.5 * math.log(2.0)
             + np.sum(gammaln(0.5 * (dof - np.arange(n_features)[:, np.newaxis])), 0))


class BayesianGaussianMixture(_MixtureBase):
    """Variational Bayesian Gaussian mixture, one compiled pass per iteration.

    Same parameters, attributes and results as
    :class:`sklearn.mixture.BayesianGaussianMixture` (plus ``n_threads`` and ``sample_weight``
    in ``fit``): a Dirichlet-process (or Dirichlet-distribution) prior on the weights lets the
    fit switch off components the data do not need.

    Parameters
    ----------
    n_components : int, default=1
        Upper bound on the number of components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol, reg_covar, max_iter, n_init, init_params, random_state, warm_start, verbose,
    verbose_interval : as :class:`kmix.GaussianMixture`.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
            default='dirichlet_process'
    weight_concentration_prior : float, default=None
        1 / n_components when None.
    mean_precision_prior : float, default=None
        1 when None.
    mean_prior : array-like of shape (n_features,), default=None
        The data's mean when None.
    degrees_of_freedom_prior : float, default=None
        n_features when None; must exceed n_features - 1.
    covariance_prior : float or array-like, default=None
        The data's covariance (its shape per covariance type) when None.
    n_threads : int, default=None
        Threads of the compiled pass. (kmix only.)

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
    weight_concentration_prior_, weight_concentration_ : float, array or tuple
    mean_precision_prior_, mean_precision_ : float, ndarray
    mean_prior_ : ndarray of shape (n_features,)
    degrees_of_freedom_prior_, degrees_of_freedom_ : float, ndarray
    covariance_prior_ : float or ndarray
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_
    """

    _uses_entropy = True

    def __init__(self, *, n_components: int = 1, covariance_type: str = "full",
                 tol: float = 1e-3, reg_covar: float = 1e-6, max_iter: int = 100,
                 n_init: int = 1, init_params: str = "kmeans",
                 weight_concentration_prior_type: str = "dirichlet_process",
                 weight_concentration_prior: float | None = None,
                 mean_precision_prior: float | None = None,
                 mean_prior: ArrayLike | None = None,
                 degrees_of_freedom_prior: float | None = None,
                 covariance_prior: float | ArrayLike | None = None,
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
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads

    # -- validation and priors ----------------------------------------------------------------
    def _check_params(self):
        self._check_common_params()
        check_choice("weight_concentration_prior_type", self.weight_concentration_prior_type,
                     PRIOR_TYPES)
        check_real("weight_concentration_prior", self.weight_concentration_prior,
                   low=0, low_inclusive=False, allow_none=True)
        check_real("mean_precision_prior", self.mean_precision_prior, low=0,
                   low_inclusive=False, allow_none=True)
        check_real("degrees_of_freedom_prior", self.degrees_of_freedom_prior, allow_none=True)

    def _check_init_params(self, X, sample_weight=None):
        n, d = X.shape
        w = np.ones(n) if sample_weight is None else sample_weight
        total = float(w.sum())
        self.weight_concentration_prior_ = (1.0 / self.n_components
                                            if self.weight_concentration_prior is None
                                            else float(self.weight_concentration_prior))
        self.mean_precision_prior_ = (1.0 if self.mean_precision_prior is None
                                      else float(self.mean_precision_prior))
        if self.mean_prior is None:
            self.mean_prior_ = weighted_mean(X, sample_weight).astype(X.dtype)
        else:
            self.mean_prior_ = check_array(self.mean_prior, dtype=[np.float64, np.float32],
                                           ensure_2d=False, input_name="mean_prior")
            _check_shape(self.mean_prior_, (d,), "mean_prior")
        if self.degrees_of_freedom_prior is None:
            self.degrees_of_freedom_prior_ = d
        elif self.degrees_of_freedom_prior > d - 1.0:
            self.degrees_of_freedom_prior_ = self.degrees_of_freedom_prior
        else:
            raise ValueError(
                f"The parameter 'degrees_of_freedom_prior' should be greater than {d - 1}, "
                f"but got {self.degrees_of_freedom_prior:.3f}."
            )
        if self.covariance_prior is None:
            # the weighted (frequency) covariance with ddof=1, as np.cov on repeated rows
            mean = weighted_mean(X, sample_weight)
            centred = (X - mean) * np.sqrt(w)[:, None]
            if self.covariance_type in ("full", "tied"):
                self.covariance_prior_ = np.atleast_2d(centred.T @ centred / (total - 1))
            else:
                var = (np.einsum("ij,ij->j", centred, centred) / (total - 1)).astype(X.dtype)
                self.covariance_prior_ = var if self.covariance_type == "diag" else var.mean()
        elif self.covariance_type in ("full", "tied"):
            name = f"{self.covariance_type} covariance_prior"
            prior = check_array(self.covariance_prior, dtype=[np.float64, np.float32],
                                ensure_2d=False, input_name="covariance_prior")
            _check_shape(prior, (d, d), name)
            if not (np.allclose(prior, prior.T) and np.all(np.linalg.eigvalsh(prior) > 0.0)):
                raise ValueError(f"'{name}' should be symmetric, positive-definite")
            self.covariance_prior_ = prior
        elif self.covariance_type == "diag":
            self.covariance_prior_ = self._check_diag_prior(d)
        else:
            if (isinstance(self.covariance_prior, (bool, np.bool_))
                    or not isinstance(self.covariance_prior, numbers.Real)):
                raise TypeError("covariance_prior must be a positive float for "
                                "covariance_type='spherical'.")
            if not self.covariance_prior > 0:
                raise ValueError("'spherical covariance_prior' should be positive")
            self.covariance_prior_ = float(self.covariance_prior)

    def _check_diag_prior(self, d):
        prior = check_array(self.covariance_prior, dtype=[np.float64, np.float32],
                            ensure_2d=False, input_name="covariance_prior")
        _check_shape(prior, (d,), "diag covariance_prior")
        if np.any(prior <= 0):
            raise ValueError("'diag covariance_prior' should be positive")
        return prior

    # -- variational updates ------------------------------------------------------------------
    def _initialize_parameters(self, X, sample_weight, random_state):
        resp = self._initial_resp(X, sample_weight, random_state)
        self._dtype = X.dtype
        self._update(gaussian_parameters(self._initial_stats(X, sample_weight, resp),
                                         self.reg_covar, self.covariance_type))

    def _m_step(self, stats):
        self._update(gaussian_parameters(stats, self.reg_covar, self.covariance_type))

    def _update(self, parameters):
        nk, xk, sk = parameters
        k = self.n_components
        if self.weight_concentration_prior_type == "dirichlet_process":
            self.weight_concentration_ = (
                1.0 + nk,
                self.weight_concentration_prior_ + np.hstack((np.cumsum(nk[::-1])[-2::-1], 0)),
            )
        else:
            self.weight_concentration_ = self.weight_concentration_prior_ + nk
        self.mean_precision_ = self.mean_precision_prior_ + nk
        self.means_ = ((self.mean_precision_prior_ * self.mean_prior_ + nk[:, None] * xk)
                       / self.mean_precision_[:, None])
        diff = xk - self.mean_prior_
        beta0, betak = self.mean_precision_prior_, self.mean_precision_
        if self.covariance_type == "full":
            self.degrees_of_freedom_ = self.degrees_of_freedom_prior_ + nk
            covs = (self.covariance_prior_ + nk[:, None, None] * sk
                    + (nk * beta0 / betak)[:, None, None] * diff[:, :, None] * diff[:, None, :])
            self.covariances_ = covs / self.degrees_of_freedom_[:, None, None]
        elif self.covariance_type == "tied":
            self.degrees_of_freedom_ = self.degrees_of_freedom_prior_ + nk.sum() / k
            covs = (self.covariance_prior_ + sk * nk.sum() / k
                    + beta0 / k * np.dot((nk / betak) * diff.T, diff))
            self.covariances_ = covs / self.degrees_of_freedom_
        elif self.covariance_type == "diag":
            self.degrees_of_freedom_ = self.degrees_of_freedom_prior_ + nk
            covs = self.covariance_prior_ + nk[:, None] * (
                sk + (beta0 / betak)[:, None] * np.square(diff))
            self.covariances_ = covs / self.degrees_of_freedom_[:, None]
        else:
            self.degrees_of_freedom_ = self.degrees_of_freedom_prior_ + nk
            covs = self.covariance_prior_ + nk * (
                sk + beta0 / betak * np.mean(np.square(diff), 1))
            self.covariances_ = covs / self.degrees_of_freedom_
        self.precisions_cholesky_ = precision_cholesky(self.covariances_, self.covariance_type,
                                                       getattr(self, "_dtype", np.float64))

    def _estimate_log_weights(self):
        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = self.weight_concentration_
            digamma_sum = digamma(a + b)
            return (digamma(a) - digamma_sum
                    + np.hstack((0, np.cumsum(digamma(b) - digamma_sum)[:-1])))
        return digamma(self.weight_concentration_) - digamma(np.sum(self.weight_concentration_))

    def _log_prob_offset(self, n_features):
        """The variational terms added to each component's Gaussian log-density."""
        dof = self.degrees_of_freedom_
        log_lambda = n_features * np.log(2.0) + np.sum(
            digamma(0.5 * (dof - np.arange(0, n_features)[:, np.newaxis])), 0)
        return (-0.5 * n_features * np.log(dof)
                + 0.5 * (log_lambda - n_features / self.mean_precision_))

    def _lower_bound(self, log_prob_norm, entropy):
        d = self.mean_prior_.shape[0]
        log_det = log_det_cholesky(self.precisions_cholesky_, self.covariance_type, d,
                                   self.n_components)
        if self.covariance_type == "tied":
            log_det = log_det[0]
        log_det = log_det - 0.5 * d * np.log(self.degrees_of_freedom_)
        if self.covariance_type == "tied":
            log_wishart = self.n_components * float(
                np.sum(_log_wishart_norm(self.degrees_of_freedom_, log_det, d)))
        else:
            log_wishart = np.sum(_log_wishart_norm(self.degrees_of_freedom_, log_det, d))
        if self.weight_concentration_prior_type == "dirichlet_process":
            log_norm_weight = -np.sum(betaln(*self.weight_concentration_))
        else:
            log_norm_weight = _log_dirichlet_norm(self.weight_concentration_)
        return float(-entropy - log_wishart - log_norm_weight
                     - 0.5 * d * np.sum(np.log(self.mean_precision_)))

    def _get_parameters(self):
        return (self.weight_concentration_, self.mean_precision_, self.means_,
                self.degrees_of_freedom_, self.covariances_, self.precisions_cholesky_)

    def _set_parameters(self, params):
        (self.weight_concentration_, self.mean_precision_, self.means_,
         self.degrees_of_freedom_, self.covariances_, self.precisions_cholesky_) = params
        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = self.weight_concentration_
            tmp = b / (a + b)
            weights = a / (a + b) * np.hstack((1, np.cumprod(tmp[:-1])))
            self.weights_ = weights / np.sum(weights)
        else:
            self.weights_ = self.weight_concentration_ / np.sum(self.weight_concentration_)
        self._set_precisions()
