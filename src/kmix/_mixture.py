"""Shared machinery of the Gaussian mixtures: validation, initialisation, the EM loop, and the
methods of a fitted mixture. Each EM iteration is one compiled pass (``_core._gmm.em_statistics``)
that computes the log-densities, the responsibilities and the M-step statistics at once;
the parameters are then derived from the k statistics in Python (small k x d x d work).
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from ._core import _gmm
from ._interrupt import restores_on_interrupt
from ._kmeans import KMeans
from ._progress import report
from ._seeding import kmeans_plusplus
from ._threads import blas_context, blas_single_threaded, effective_n_threads, threads_for
from ._typing import ArrayLike, FloatArray, IntArray, MatrixLike, Self
from ._validation import (
    check_array,
    check_choice,
    check_int,
    check_magnitude,
    check_n_threads,
    check_random_state,
    check_real,
    check_sample_weight,
    validate_fit_data,
    validate_fitted_input,
)

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
_COV_CODE = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}
_EMPTY = np.empty(0)


def weighted_mean(X, sample_weight=None):
    """Column means of X in float64, weighted (unit weights give the same bits as None)."""
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    return np.einsum("i,ij->j", w, X, dtype=np.float64) / float(np.sum(w))


def _ill_defined(component, dtype):
    # scikit-learn's message, then the first component at fault (kmix knows which).
    msg = (
        "Fitting the mixture model failed because some components have ill-defined "
        "empirical covariance (for instance caused by singleton or collapsed samples). Try to "
        "decrease the number of components, increase reg_covar, or scale the input data."
    )
    if dtype == np.float32:
        msg += (" The numerical accuracy can also be improved by passing float64 data instead "
                "of float32.")
    msg += f" (First ill-defined component: {component}.)"
    return ValueError(msg)


_UPPER_MASKS = {}


def _upper_mask(d):
    """Ones on and above the diagonal of a d x d matrix (cached)."""
    if d not in _UPPER_MASKS:
        _UPPER_MASKS[d] = np.triu(np.ones((d, d)))
    return _UPPER_MASKS[d]


def _symmetric_from_lower(L):
    """The symmetric matrices (..., d, d) whose lower triangles are those of L (upper: 0)."""
    d = L.shape[-1]
    out = L + np.swapaxes(L, -1, -2)
    idx = np.arange(d)
    out[..., idx, idx] = L[..., idx, idx]
    return out


def precision_cholesky(covariances, covariance_type, dtype=np.float64):
    """Upper-triangular U with U U^T = inverse covariance (scikit-learn's convention)."""
    if covariance_type in ("full", "tied"):
        covs = covariances[None] if covariance_type == "tied" else covariances
        d = covs.shape[-1]
        try:
            chol = np.linalg.cholesky(covs)
        except np.linalg.LinAlgError:
            for j, cov in enumerate(covs):  # name the first component that fails
                try:
                    np.linalg.cholesky(cov)
                except np.linalg.LinAlgError:
                    raise _ill_defined(j, dtype) from None
            raise
        # inverse of each lower factor, transposed (batched triangular solves)
        out = np.swapaxes(np.linalg.inv(chol), 1, 2)
        out *= _upper_mask(d)  # exact zeros below the diagonal (the inverse leaves rounding)
        return out[0] if covariance_type == "tied" else out
    covariances = np.asarray(covariances)
    bad = covariances <= 0.0
    if np.any(bad):
        # diag: one row per component; spherical: one value per component
        component = np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0]
        raise _ill_defined(int(component), dtype)
    return 1.0 / np.sqrt(covariances)


def precision_cholesky_from_precisions(precisions, covariance_type):
    """U from the precision matrices (Cholesky of the row/column-reversed precision)."""
    if covariance_type == "full":
        return np.stack([np.flipud(np.fliplr(linalg.cholesky(np.flipud(np.fliplr(p)),
                                                             lower=True)))
                         for p in precisions])
    if covariance_type == "tied":
        return np.flipud(np.fliplr(linalg.cholesky(np.flipud(np.fliplr(precisions)),
                                                   lower=True)))
    return np.sqrt(precisions)


def log_det_cholesky(prec_chol, covariance_type, n_features, n_components):
    """log det U per component (k values)."""
    if covariance_type == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.full(n_components, np.log(np.diagonal(prec_chol)).sum())
    if covariance_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    return n_features * np.log(prec_chol)


def variance_floor(var, means):
    """Variances within the float64 resolution of the raw second moment (``|v| <= eps mu^2``)
    and not positive become ``eps mu^2``.

    scikit-learn computes diagonal variances from raw moments (E[x^2] - mu^2), which leaves a
    residue of about that size where a component collapsed on one point away from the
    origin; kmix's moments about a shift give exactly 0 there. With ``reg_covar=0`` the floor
    lets such a fit run on as scikit-learn's does (its regression test for #18216) instead
    of raising; a point at the origin still raises, as in scikit-learn. Mirrors the compiled
    M-step (``_core/_gmm.pyx``).
    """
    floor = np.finfo(np.float64).eps * (means * means)
    return np.where((var <= 0) & (var >= -floor), floor, var)


def gaussian_parameters(stats, reg_covar, covariance_type):
    """(nk, means, covariances) from the pass statistics, as scikit-learn's estimates.

    ``stats`` = (N, S1, S2, shift, S2g, gshift): weights, first and second moments about
    ``shift`` per component (tied: the total second moment S2g about ``gshift``).
    """
    N, S1, S2, shift, S2g, gshift = stats
    k, d = S1.shape
    nk = N + 10 * np.finfo(np.float64).eps
    means = (S1 + N[:, None] * shift) / nk[:, None]
    delta = means - shift
    if covariance_type == "full":
        S2 = _symmetric_from_lower(S2.reshape(k, d, d))
        cross = delta[:, :, None] * S1[:, None, :]
        covs = (S2 - cross - np.swapaxes(cross, 1, 2)
                + N[:, None, None] * delta[:, :, None] * delta[:, None, :]) / nk[:, None, None]
        covs[:, np.arange(d), np.arange(d)] += reg_covar
    elif covariance_type == "tied":
        # scikit-learn's (sum_i w x x^T - sum_k nk mu mu^T) / sum_k nk, with both sums taken
        # about the data's (weighted) mean g: sum_i w (x-g)(x-g)^T = S2g, mu = g + dg.
        # When the responsibilities of a row do not sum to 1 (single-sample starts), the
        # total weight W and sum_k nk differ, and the g terms stay.
        S2g, total_weight = S2g
        S2g = _symmetric_from_lower(S2g.reshape(d, d))
        dg = means - gshift
        covs = S2g - (dg.T * nk) @ dg
        if abs(total_weight - N.sum()) > 1e-9 * total_weight:
            # single-sample starts: the g terms of the two sums no longer cancel
            ndg = nk @ dg
            covs += ((total_weight - nk.sum()) * np.outer(gshift, gshift)
                     - np.outer(gshift, ndg) - np.outer(ndg, gshift))
        covs /= nk.sum()
        covs[np.arange(d), np.arange(d)] += reg_covar
    else:
        S2 = S2.reshape(k, d)
        var = (S2 - 2 * delta * S1 + N[:, None] * delta**2) / nk[:, None]
        if reg_covar == 0:
            var = variance_floor(var, means)
        covs = var + reg_covar
        if covariance_type == "spherical":
            covs = covs.mean(axis=1)
    return nk, means, covs


class _MixtureBase(DensityMixin, BaseEstimator):
    """EM driver and fitted-model methods of GaussianMixture and BayesianGaussianMixture."""

    #: Whether the lower bound needs sum w r log r from the pass (variational mixtures).
    _uses_entropy = False

    # -- hooks of the subclasses --------------------------------------------------------------
    def _check_params(self):
        """Validate the constructor parameters (raise ValueError/TypeError naming the bad one)."""
        raise NotImplementedError(f"{type(self).__name__} must define _check_params")

    def _check_init_params(self, X, sample_weight=None):
        """Validate the data-dependent parameters against the validated X (n x d) and weights
        before the fit, and store what the initialisation needs from them."""
        raise NotImplementedError(f"{type(self).__name__} must define _check_init_params")

    def _initialize_parameters(self, X, sample_weight, random_state):
        """Set the starting parameters of one initialisation (its responsibilities come from
        :meth:`_initial_resp`, their statistics from :meth:`_initial_stats`)."""
        raise NotImplementedError(f"{type(self).__name__} must define _initialize_parameters")

    def _estimate_log_weights(self):
        """The k log-weights added to the components' log-densities in a pass."""
        raise NotImplementedError(f"{type(self).__name__} must define _estimate_log_weights")

    def _m_step(self, stats):
        """Update the parameters from a pass's statistics (see :func:`gaussian_parameters`
        for the tuple ``stats``)."""
        raise NotImplementedError(f"{type(self).__name__} must define _m_step")

    def _lower_bound(self, log_prob_norm, entropy):
        """The bound EM maximises, from the mean log-likelihood of the last pass and (when
        ``_uses_entropy``) its sum w r log r."""
        raise NotImplementedError(f"{type(self).__name__} must define _lower_bound")

    def _get_parameters(self):
        """The fitted parameters as a tuple (kept for the best initialisation)."""
        raise NotImplementedError(f"{type(self).__name__} must define _get_parameters")

    def _set_parameters(self, params):
        """Restore the parameters from :meth:`_get_parameters`'s tuple, with what derives from
        them (weights, precisions)."""
        raise NotImplementedError(f"{type(self).__name__} must define _set_parameters")

    # -- validation ---------------------------------------------------------------------------
    def _check_common_params(self):
        check_int("n_components", self.n_components, low=1)
        check_choice("covariance_type", self.covariance_type, COVARIANCE_TYPES)
        check_real("tol", self.tol, low=0)
        check_real("reg_covar", self.reg_covar, low=0)
        check_int("max_iter", self.max_iter, low=0)
        check_int("n_init", self.n_init, low=1)
        check_choice("init_params", self.init_params, INIT_PARAMS)
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise TypeError(f"warm_start must be a bool, got {self.warm_start!r}.")
        check_int("verbose", int(self.verbose) if isinstance(self.verbose, bool) else self.verbose,
                  low=0)
        check_int("verbose_interval", self.verbose_interval, low=1)
        check_n_threads(self.n_threads)

    def _validate_fit_data(self, X, reset=True):
        """Validated X and its sum of squares (None where not computed)."""
        X, _, squares = validate_fit_data(self, X, dtype=[np.float64, np.float32],
                                          order="C", ensure_min_samples=2, reset=reset)
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {self.n_components}, n_samples = {X.shape[0]}"
            )
        return X, squares

    def _check_test_data(self, X):
        return validate_fitted_input(self, X, reg_covar=self.reg_covar,
                                     dtype=[np.float64, np.float32], order="C")

    # -- one compiled pass --------------------------------------------------------------------
    def _pass(self, X, sample_weight, *, stats=False, resp_in=None, shift=None,
              second=None, resp=False, lpn=False, labels=False, entropy=False):
        """One compiled pass with the current parameters (or the given responsibilities
        ``resp_in``): the statistics of EM (``stats``: moments about ``shift``, full, or the
        data's mean; ``second``: also the tied total second moment), or one per-row output
        (``resp``, ``lpn`` or ``labels``).

        Returns (sum w log p, outputs dict); the dict also has "entropy" = sum_i w_i sum_k
        r_ik log r_ik when asked for (0 otherwise)."""
        n, d = X.shape
        k = self.n_components
        cov = self.covariance_type
        n_threads = self._pass_threads(n, d)
        weights = _EMPTY if sample_weight is None else sample_weight
        total = 0.0
        out = {"entropy": 0.0}
        # Callers hold single-threaded BLAS (the kernel calls BLAS from every thread).
        if stats:
            # the kernel takes every moment of the other types about the data's mean
            shift = (np.ascontiguousarray(shift, dtype=np.float64) if cov == "full"
                     else np.tile(self._data_mean, (k, 1)))
            st = _gmm.Statistics(_COV_CODE[cov], shift, self._data_mean, bool(second))
            if resp_in is not None:
                _gmm.initial_statistics(X, weights, resp_in, st, n_threads)
            else:
                total, out["entropy"] = _gmm.em_statistics(X, weights, self._components(d), st,
                                                           entropy, n_threads)
            out.update(N=st.N, S1=st.S1, S2=st.S2, shift=st.shift, gshift=st.gshift)
            if second:
                out["S2g"] = st.S2g
        elif resp:
            out["resp"] = np.empty((n, k))
            _gmm.responsibilities(X, self._components(d), out["resp"], n_threads)
        elif lpn:
            out["lpn"] = np.empty(n)
            _gmm.log_density(X, self._components(d), out["lpn"], n_threads)
        elif labels:
            out["labels"] = np.empty(n, dtype=np.int32)
            _gmm.most_likely(X, self._components(d), out["labels"], n_threads)
        return total, out

    def _components(self, n_features):
        """The current parameters as the compiled passes read them (float64)."""
        k, cov = self.n_components, self.covariance_type
        means = np.ascontiguousarray(self.means_, dtype=np.float64)
        prec = np.ascontiguousarray(self.precisions_cholesky_, dtype=np.float64).ravel()
        log_det = log_det_cholesky(self.precisions_cholesky_, cov, n_features,
                                   k).astype(np.float64)
        log_weights = np.ascontiguousarray(self._estimate_log_weights(), dtype=np.float64)
        log_det = log_det + self._log_prob_offset(n_features)
        return _gmm.Components(_COV_CODE[cov], means, prec, log_det, log_weights)

    def _pass_threads(self, n_samples, n_features):
        """Threads worth using for one pass: the one rule (``threads_for``) with the pass's
        work per (row, component), d^2 with full and tied matrices, d otherwise."""
        d = n_features
        work = d * (d if self.covariance_type in ("full", "tied") else 1)
        return threads_for(effective_n_threads(self.n_threads), n_samples, self.n_components,
                           work)

    def _set_precisions(self):
        """precisions_ = U U^T from precisions_cholesky_ (U)."""
        pc = self.precisions_cholesky_
        if self.covariance_type == "full":
            self.precisions_ = np.matmul(pc, np.swapaxes(pc, 1, 2))
        elif self.covariance_type == "tied":
            self.precisions_ = pc @ pc.T
        else:
            self.precisions_ = pc**2

    def _log_prob_offset(self, n_features):
        """Per-component term added to the Gaussian log-density (0 for GaussianMixture)."""
        return 0.0

    def _stats(self, out):
        if "S2g" in out:
            # tied: the total second moment does not change between passes; keep it
            self._tied_second = ((out["S2g"], self._total_weight), self._data_mean)
        second = self._tied_second or (None, None)
        return (out["N"], out["S1"], out["S2"], out["shift"]) + tuple(second)

    # -- initialisation -----------------------------------------------------------------------
    def _initial_resp(self, X, sample_weight, random_state):
        """Responsibilities of the initialisation (n x k), as scikit-learn draws them."""
        n_samples = X.shape[0]
        k = self.n_components
        resp = np.zeros((n_samples, k))
        if self.init_params == "kmeans":
            # scikit-learn's KMeans(n_init=1, random_state=random_state).fit(X).labels_
            weights = np.ones(n_samples) if sample_weight is None else sample_weight
            kmeans = KMeans(n_clusters=k, n_init=1, n_threads=self.n_threads)
            if self._kmeans_data is None:  # prepared once for all initialisations
                self._kmeans_data = kmeans._prepare(X)
            labels = kmeans._fit_prepared(self._kmeans_data, weights, random_state).labels_
            resp[np.arange(n_samples), labels] = 1
        elif self.init_params == "random":
            resp = np.asarray(random_state.uniform(size=(n_samples, k)), dtype=X.dtype)
            resp = (resp / resp.sum(axis=1)[:, None]).astype(np.float64)
        elif self.init_params == "random_from_data":
            indices = random_state.choice(n_samples, size=k, replace=False)
            resp[indices, np.arange(k)] = 1
        else:
            _, indices = kmeans_plusplus(X, k, random_state=random_state,
                                         n_threads=self.n_threads)
            resp[indices, np.arange(k)] = 1
        return np.ascontiguousarray(resp)

    def _initial_stats(self, X, sample_weight, resp):
        """Statistics of the initial responsibilities, about the data mean."""
        shift = np.tile(self._data_mean, (self.n_components, 1))
        _, out = self._pass(X, sample_weight, stats=True, resp_in=resp, shift=shift,
                            second=self._second_wanted())
        return self._stats(out)

    def _second_wanted(self):
        """Whether a pass must also sum the tied total second moment (not known yet)."""
        return self.covariance_type == "tied" and self._tied_second is None

    # -- EM -----------------------------------------------------------------------------------
    def _em_iteration(self, X, sample_weight):
        """One pass with the current parameters, then the M-step; returns the lower bound."""
        total, out = self._pass(X, sample_weight, stats=True, shift=self.means_,
                                second=self._second_wanted(), entropy=self._uses_entropy)
        log_prob_norm = total / self._total_weight
        self._m_step(self._stats(out))
        return self._lower_bound(log_prob_norm, out["entropy"])

    def _data_moments(self, X, sample_weight):
        """(weighted column means in float64, total weight) of the training data."""
        total = float(X.shape[0] if sample_weight is None else np.sum(sample_weight))
        return weighted_mean(X, sample_weight), total

    def _em_loop(self, X, sample_weight, lower_bound):
        """EM iterations from the current parameters until the bound changes by < tol.

        Returns (lower_bound, n_iter, converged, lower_bounds)."""
        lower_bounds = []
        converged = False
        for n_iter in range(1, self.max_iter + 1):
            prev_lower_bound = lower_bound
            lower_bound = self._em_iteration(X, sample_weight)
            lower_bounds.append(lower_bound)
            report("iteration", n_iter, self.max_iter)
            change = lower_bound - prev_lower_bound
            if self.verbose >= 1 and n_iter % self.verbose_interval == 0:
                print(f"  Iteration {n_iter}\t change {change:.5f}")
            if abs(change) < self.tol:
                converged = True
                break
        return lower_bound, n_iter, converged, lower_bounds

    def _fit(self, X, sample_weight):
        """scikit-learn's fit loop (n_init restarts, warm start, convergence); returns labels."""
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        max_lower_bound = -np.inf
        best_lower_bounds = []
        self.converged_ = False
        random_state = check_random_state(self.random_state)
        self._data_mean, self._total_weight = self._data_moments(X, sample_weight)
        self._tied_second = None
        self._kmeans_data = None
        for init in range(n_init):
            if self.verbose:
                print(f"Initialization {init}")
            if do_init:
                self._initialize_parameters(X, sample_weight, random_state)
            lower_bound = -np.inf if do_init else self.lower_bound_
            current_lower_bounds = []
            if self.max_iter == 0:
                best_params = self._get_parameters()
                best_n_iter = 0
            else:
                lower_bound, n_iter, converged, current_lower_bounds = self._em_loop(
                    X, sample_weight, lower_bound)
                if self.verbose:
                    print(f"Initialization {'converged' if converged else 'did not converge'}. "
                          f"lower bound: {lower_bound:.5f}")
                if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                    max_lower_bound = lower_bound
                    best_params = self._get_parameters()
                    best_n_iter = n_iter
                    best_lower_bounds = current_lower_bounds
                    self.converged_ = converged
            report("init", init + 1, n_init)
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=4,
            )
        self._kmeans_data = None  # a centred copy of X: not kept with the model
        self._set_parameters(best_params)
        self.n_iter_ = best_n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = best_lower_bounds
        # A last pass, so that fit_predict(X) == fit(X).predict(X).
        return self._pass(X, None, labels=True)[1]["labels"].astype(np.intp)

    def fit(self, X: MatrixLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> Self:
        """Estimate the parameters with EM (``n_init`` restarts, the best lower bound kept).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in every sum of EM: a weight of 2 is the sample
            repeated. (scikit-learn's mixtures have no sample weights.)

        Returns
        -------
        self
        """
        self.fit_predict(X, y, sample_weight=sample_weight)
        return self

    @restores_on_interrupt
    def fit_predict(self, X: MatrixLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> IntArray:
        """Fit, then return the most likely component of each sample."""
        self._check_params()
        X, squares = self._validate_fit_data(X)
        if sample_weight is not None:
            # as n_samples >= max(2, n_components) without weights
            sample_weight = check_sample_weight(
                sample_weight, X.shape[0], min_nonzero=max(2, self.n_components),
                what=f"{type(self).__name__} with n_components={self.n_components}")
        check_magnitude(X, sample_weight=sample_weight, reg_covar=self.reg_covar,
                        squares=squares)
        self._check_init_params(X, sample_weight)
        # One BLAS thread throughout: the pass calls BLAS from every OpenMP thread, and the
        # M-step's small factorisations are slower threaded (idle BLAS threads spin on the
        # cores the pass needs).
        with blas_single_threaded():
            return self._fit(X, sample_weight)

    # -- fitted model -------------------------------------------------------------------------
    def _blas_context(self, X):
        """Single-threaded BLAS where a pass without statistics calls it (full and tied
        covariances, wide data); otherwise nothing (entering the limit costs ~20 us)."""
        wide = self.covariance_type in ("full", "tied")
        return blas_context(X, _gmm.BLAS_MIN_FEATURES if wide else None)

    def score_samples(self, X: MatrixLike) -> FloatArray:
        """Log of the mixture density at each sample."""
        check_is_fitted(self, "means_")
        X = self._check_test_data(X)
        with self._blas_context(X):
            lpn = self._pass(X, None, lpn=True)[1]["lpn"]
        return lpn.astype(X.dtype, copy=False)  # in X's dtype, as scikit-learn

    def score(self, X: MatrixLike, y: object = None) -> float:
        """Mean log-likelihood of X."""
        return float(np.mean(self.score_samples(X)))

    def predict(self, X: MatrixLike) -> IntArray:
        """Most likely component of each sample."""
        check_is_fitted(self, "means_")
        X = self._check_test_data(X)
        with self._blas_context(X):
            return self._pass(X, None, labels=True)[1]["labels"].astype(np.intp)

    def predict_proba(self, X: MatrixLike) -> FloatArray:
        """Posterior probability of each component for each sample, shape (n, k)."""
        check_is_fitted(self, "means_")
        X = self._check_test_data(X)
        with self._blas_context(X):
            resp = self._pass(X, None, resp=True)[1]["resp"]
        return resp.astype(X.dtype, copy=False)

    def sample(self, n_samples: int = 1) -> tuple[FloatArray, IntArray]:
        """Draw samples from the fitted mixture, grouped by component (scikit-learn's draws).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            The component of each sample.
        """
        check_is_fitted(self, "means_")
        if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, numbers.Integral):
            raise TypeError(f"n_samples must be an int, got {n_samples!r}.")
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling requires at "
                "least one sample."
            )
        _, n_features = self.means_.shape
        rng = check_random_state(self.random_state)
        n_samples_comp = rng.multinomial(n_samples, self.weights_)
        if self.covariance_type == "full":
            X = np.vstack([rng.multivariate_normal(mean, cov, int(s))
                           for mean, cov, s in zip(self.means_, self.covariances_,
                                                   n_samples_comp)])
        elif self.covariance_type == "tied":
            X = np.vstack([rng.multivariate_normal(mean, self.covariances_, int(s))
                           for mean, s in zip(self.means_, n_samples_comp)])
        else:
            X = np.vstack([mean + rng.standard_normal(size=(s, n_features)) * np.sqrt(cov)
                           for mean, cov, s in zip(self.means_, self.covariances_,
                                                   n_samples_comp)])
        y = np.concatenate([np.full(int(s), j, dtype=np.int64)
                            for j, s in enumerate(n_samples_comp)])
        return X, y


def check_weights(weights, n_components):
    weights = check_array(weights, dtype=[np.float64, np.float32], ensure_2d=False,
                          input_name="weights_init")
    _check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max value "
            f"{np.max(weights):.5f}, min value {np.min(weights):.5f}"
        )
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if not abs(1.0 - float(np.sum(weights))) <= atol:
        raise ValueError(
            "The parameter 'weights' should be normalized, but got sum(weights) = "
            f"{float(np.sum(weights)):.5f}"
        )
    return weights


def check_means(means, n_components, n_features):
    means = check_array(means, dtype=[np.float64, np.float32], ensure_2d=False,
                        input_name="means_init")
    _check_shape(means, (n_components, n_features), "means")
    return check_magnitude(means, underflow=False, what="means_init")


def covariance_shape(covariance_type, n_components, n_features):
    """Shape of the covariances (and precisions, and their Cholesky factors) of a type."""
    return {"full": (n_components, n_features, n_features),
            "tied": (n_features, n_features),
            "diag": (n_components, n_features),
            "spherical": (n_components,)}[covariance_type]


def check_precisions(precisions, covariance_type, n_components, n_features):
    precisions = check_array(precisions, dtype=[np.float64, np.float32], ensure_2d=False,
                             allow_nd=covariance_type == "full", input_name="precisions_init")
    _check_shape(precisions, covariance_shape(covariance_type, n_components, n_features),
                 f"{covariance_type} precision")
    if covariance_type in ("full", "tied"):
        mats = precisions if covariance_type == "full" else precisions[None]
        for j, p in enumerate(mats):
            if not (np.allclose(p, p.T) and np.all(np.linalg.eigvalsh(p) > 0.0)):
                raise ValueError(f"'{covariance_type} precision' should be symmetric, "
                                 f"positive-definite (component {j} is not).")
    elif np.any(np.less_equal(precisions, 0.0)):
        raise ValueError(f"'{covariance_type} precision' should be positive")
    return precisions


def _check_shape(param, param_shape, name):
    if param.shape != param_shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {param_shape}, but got "
            f"{param.shape}"
        )


