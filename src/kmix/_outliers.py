"""Anomaly detection by a density threshold on a fitted Gaussian mixture."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from ._gaussian_mixture import GaussianMixture
from ._mixture import _MixtureBase
from ._typing import FloatArray, IntArray, MatrixLike, Self
from ._validation import check_magnitude, check_real

__all__ = ["MixtureOutlierDetector"]


class MixtureOutlierDetector(OutlierMixin, BaseEstimator):
    """Flag the lowest-density samples of a Gaussian mixture as outliers.

    The chapter's recipe: fit a mixture, take the density below which the given fraction
    (``contamination``) of the training samples lie, and call anything less dense an
    anomaly. Follows scikit-learn's outlier API.

    Parameters
    ----------
    mixture : GaussianMixture or BayesianGaussianMixture, default=None
        The density model. A fitted mixture is used as it is (``fit`` only sets the
        threshold on X); an unfitted one is cloned and fitted on X. None means
        ``GaussianMixture()``.
    contamination : float in (0, 0.5], default=0.04
        Fraction of the training samples below the threshold.

    Attributes
    ----------
    mixture_ : the fitted mixture.
    threshold_ : float
        Log-density at the ``contamination`` percentile of the training samples.
    offset_ : float
        Same as ``threshold_`` (scikit-learn's name: decision_function = score_samples -
        offset_).
    n_features_in_ : int
    """

    def __init__(self, mixture: _MixtureBase | None = None, *,
                 contamination: float = 0.04) -> None:
        self.mixture = mixture
        self.contamination = contamination

    def _fitted_mixture(self, X):
        mixture = GaussianMixture() if self.mixture is None else self.mixture
        if not isinstance(mixture, _MixtureBase):
            raise TypeError("mixture must be a kmix GaussianMixture or "
                            f"BayesianGaussianMixture, got {mixture!r}.")
        try:
            check_is_fitted(mixture)
            return mixture
        except NotFittedError:
            return clone(mixture).fit(X)

    def fit(self, X: MatrixLike, y: object = None) -> Self:
        """Fit the mixture if needed and set the threshold from the training densities."""
        contamination = check_real("contamination", self.contamination, low=0,
                                   low_inclusive=False)
        if contamination > 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got {contamination}.")
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        # the bound of the mixture's own fit (None: GaussianMixture's default reg_covar)
        check_magnitude(X, reg_covar=getattr(self.mixture, "reg_covar",
                                              GaussianMixture().reg_covar))
        self.mixture_ = self._fitted_mixture(X)
        if self.mixture_.n_features_in_ != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but the fitted mixture expects "
                f"{self.mixture_.n_features_in_}."
            )
        self.threshold_ = float(np.percentile(self.mixture_.score_samples(X),
                                              100.0 * contamination))
        self.offset_ = self.threshold_
        return self

    def score_samples(self, X: MatrixLike) -> FloatArray:
        """Log-density of each sample under the mixture (lower is more anomalous)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self.mixture_.score_samples(X)

    def decision_function(self, X: MatrixLike) -> FloatArray:
        """score_samples - threshold_: negative for outliers."""
        return self.score_samples(X) - self.threshold_

    def predict(self, X: MatrixLike) -> IntArray:
        """1 for inliers, -1 for outliers (density below the threshold)."""
        return np.where(self.decision_function(X) < 0, -1, 1)
