"""kmix.MixtureOutlierDetector against the chapter's recipe, scikit-learn and closed forms.

References used here:
- the chapter's recipe computed by hand: ``densities = gm.score_samples(X)``,
  ``threshold = np.percentile(densities, 4)``, anomalies = ``X[densities < threshold]``, with
  kmix's and with scikit-learn's GaussianMixture,
- a one-component mixture is the maximum-likelihood Gaussian (scipy's multivariate_normal),
- scikit-learn's outlier API (predict in {1, -1}, decision_function = score_samples - offset_)
  and its estimator checks.
"""
import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SKGaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

from kmix import BayesianGaussianMixture, GaussianMixture, KMeans, MixtureOutlierDetector
from kmix.datasets import chapter_mixture

_THREADPOOLS = ThreadpoolController()


def reference(fit, *args, **kwargs):
    """Run a scikit-learn reference computation with single-threaded OpenMP (speed only)."""
    with _THREADPOOLS.limit(limits=1, user_api="openmp"):
        return fit(*args, **kwargs)


@pytest.fixture(scope="module")
def X():
    return chapter_mixture()[0]


@pytest.fixture(scope="module")
def fitted_gm(X):
    return GaussianMixture(3, n_init=10, random_state=42).fit(X)


def _params(mixture):
    return [np.array(getattr(mixture, name), copy=True)
            for name in ("weights_", "means_", "covariances_", "precisions_cholesky_")]


# --------------------------------------------------------------------------------------------
# 1. the chapter's recipe
# --------------------------------------------------------------------------------------------
def test_threshold_is_the_percentile_of_training_densities(X, fitted_gm):
    det = MixtureOutlierDetector(fitted_gm, contamination=0.04).fit(X)
    densities = fitted_gm.score_samples(X)
    threshold = np.percentile(densities, 4)
    assert_allclose(det.threshold_, threshold, rtol=1e-15)
    assert det.offset_ == det.threshold_
    assert_array_equal(det.score_samples(X), densities)
    assert_allclose(det.decision_function(X), densities - det.threshold_, rtol=0, atol=0)
    pred = det.predict(X)
    assert set(np.unique(pred)) == {-1, 1}
    assert_array_equal(pred == -1, densities < det.threshold_)
    # linear interpolation at 4% of 1250 samples puts exactly 50 samples below
    n_out = int(np.sum(pred == -1))
    assert abs(n_out - 0.04 * X.shape[0]) <= 1
    assert_array_equal(det.fit_predict(X), pred)


def test_anomalies_match_the_recipe_with_sklearn(X, fitted_gm):
    # The textbook: gm = GaussianMixture(3, n_init=10, random_state=42).fit(X); densities =
    # gm.score_samples(X); density_threshold = np.percentile(densities, 4); anomalies =
    # X[densities < density_threshold].
    sk = reference(SKGaussianMixture(3, n_init=10, random_state=42).fit, X)
    densities = sk.score_samples(X)
    threshold = np.percentile(densities, 4)
    anomalies = X[densities < threshold]
    det = MixtureOutlierDetector(GaussianMixture(3, n_init=10, random_state=42)).fit(X)
    assert_allclose(det.threshold_, threshold, rtol=1e-10)
    assert_array_equal(X[det.predict(X) == -1], anomalies)
    assert_allclose(det.score_samples(X), densities, rtol=1e-10)


@pytest.mark.parametrize("contamination", [0.01, 0.04, 0.1, 0.25, 0.5])
def test_fraction_of_outliers_is_contamination(X, fitted_gm, contamination):
    det = MixtureOutlierDetector(fitted_gm, contamination=contamination).fit(X)
    assert_allclose(det.threshold_,
                    np.percentile(fitted_gm.score_samples(X), 100 * contamination),
                    rtol=1e-15)
    fraction = np.mean(det.predict(X) == -1)
    assert abs(fraction - contamination) <= 1.0 / X.shape[0]
    # a larger contamination never lowers the threshold
    smaller = MixtureOutlierDetector(fitted_gm, contamination=contamination / 2).fit(X)
    assert smaller.threshold_ <= det.threshold_


def test_far_away_points_are_outliers(X, fitted_gm):
    det = MixtureOutlierDetector(fitted_gm).fit(X)
    span = X.max(axis=0) - X.min(axis=0)
    far = np.array([X.max(axis=0) + 5 * span, X.min(axis=0) - 5 * span,
                     [X[:, 0].max() + 10 * span[0], X[:, 1].mean()]])
    assert_array_equal(det.predict(far), [-1, -1, -1])
    assert np.all(det.decision_function(far) < 0)
    # the densest training point is an inlier
    assert det.predict(X[[np.argmax(fitted_gm.score_samples(X))]])[0] == 1


# --------------------------------------------------------------------------------------------
# 2. fitted and unfitted mixtures
# --------------------------------------------------------------------------------------------
def test_fitted_mixture_is_used_as_is(X, fitted_gm):
    before = _params(fitted_gm)
    n_iter = fitted_gm.n_iter_
    # threshold on other data than the mixture was fitted on: the mixture must not be refit
    X_other = X[::2] + 0.1
    det = MixtureOutlierDetector(fitted_gm).fit(X_other)
    assert det.mixture_ is fitted_gm
    assert fitted_gm.n_iter_ == n_iter
    for a, b in zip(before, _params(fitted_gm)):
        assert a.tobytes() == b.tobytes()
    assert_allclose(det.threshold_, np.percentile(fitted_gm.score_samples(X_other), 4),
                    rtol=1e-15)
    # a refit would have moved the parameters
    refit = clone(fitted_gm).fit(X_other)
    assert not np.allclose(refit.means_, fitted_gm.means_, rtol=1e-6)


def test_unfitted_mixture_is_cloned_and_fitted(X):
    gm = GaussianMixture(3, n_init=10, random_state=42)
    det = MixtureOutlierDetector(gm).fit(X)
    assert det.mixture_ is not gm
    assert det.mixture is gm
    with pytest.raises(NotFittedError):
        check_is_fitted(gm)
    assert not hasattr(gm, "means_")
    assert det.mixture_.get_params() == gm.get_params()
    own = GaussianMixture(3, n_init=10, random_state=42).fit(X)
    for a, b in zip(_params(own), _params(det.mixture_)):
        assert a.tobytes() == b.tobytes()
    assert det.threshold_ == float(np.percentile(own.score_samples(X), 4))


def test_default_mixture_is_one_gaussian(X):
    # mixture=None: one Gaussian, i.e. the maximum-likelihood normal (+ reg_covar)
    det = MixtureOutlierDetector(contamination=0.1).fit(X)
    assert det.mixture is None
    assert isinstance(det.mixture_, GaussianMixture)
    assert det.mixture_.n_components == 1
    mean = X.mean(axis=0)
    cov = np.cov(X.T, bias=True) + 1e-6 * np.eye(2)
    logpdf = multivariate_normal(mean, cov).logpdf(X)
    assert_allclose(det.score_samples(X), logpdf, rtol=1e-10)
    assert_allclose(det.threshold_, np.percentile(logpdf, 10), rtol=1e-10)


@pytest.mark.parametrize("prior_type", ["dirichlet_process", "dirichlet_distribution"])
def test_bayesian_mixture_as_the_density(X, prior_type):
    bgm = BayesianGaussianMixture(n_components=6, weight_concentration_prior_type=prior_type,
                                  random_state=0, max_iter=200)
    det = MixtureOutlierDetector(bgm, contamination=0.05).fit(X)
    assert isinstance(det.mixture_, BayesianGaussianMixture)
    assert det.mixture_ is not bgm and not hasattr(bgm, "means_")
    own = clone(bgm).fit(X)
    densities = own.score_samples(X)
    assert_allclose(det.score_samples(X), densities, rtol=1e-12)
    assert_allclose(det.threshold_, np.percentile(densities, 5), rtol=1e-12)
    assert_array_equal(det.predict(X) == -1, densities < det.threshold_)
    # a fitted BayesianGaussianMixture is used as is
    det2 = MixtureOutlierDetector(own, contamination=0.05).fit(X)
    assert det2.mixture_ is own
    assert det2.threshold_ == det.threshold_


def test_float32_input(X, fitted_gm):
    X32 = X.astype(np.float32)
    det = MixtureOutlierDetector(GaussianMixture(3, n_init=3, random_state=0)).fit(X32)
    densities = det.mixture_.score_samples(X32)
    assert_allclose(det.threshold_, np.percentile(densities, 4), rtol=1e-12)
    assert_array_equal(det.predict(X32) == -1, densities < det.threshold_)
    det64 = MixtureOutlierDetector(GaussianMixture(3, n_init=3, random_state=0)).fit(X)
    assert_allclose(det.threshold_, det64.threshold_, rtol=1e-4)


def test_refit_replaces_state(X, fitted_gm):
    det = MixtureOutlierDetector(GaussianMixture(2, random_state=0)).fit(X[:, :1])
    assert det.n_features_in_ == 1
    det.fit(X)
    assert det.n_features_in_ == 2
    assert det.mixture_.n_features_in_ == 2
    assert_allclose(det.threshold_, np.percentile(det.mixture_.score_samples(X), 4),
                    rtol=1e-15)


# --------------------------------------------------------------------------------------------
# 3. validation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("contamination, error", [
    (0, ValueError), (0.0, ValueError), (-0.1, ValueError), (0.5000001, ValueError),
    (0.6, ValueError), (1.0, ValueError), (np.nan, ValueError), (np.inf, ValueError),
    ("0.1", TypeError), (None, TypeError), (True, TypeError), ([0.1], TypeError),
])
def test_invalid_contamination(X, fitted_gm, contamination, error):
    det = MixtureOutlierDetector(fitted_gm, contamination=contamination)
    with pytest.raises(error, match="contamination"):
        det.fit(X)
    assert not hasattr(det, "threshold_")


def test_contamination_boundary_and_numpy_scalars(X, fitted_gm):
    det = MixtureOutlierDetector(fitted_gm, contamination=0.5).fit(X)
    assert_allclose(det.threshold_, np.median(fitted_gm.score_samples(X)), rtol=1e-15)
    det = MixtureOutlierDetector(fitted_gm, contamination=np.float32(0.25)).fit(X)
    assert_allclose(det.threshold_,
                    np.percentile(fitted_gm.score_samples(X), 100 * float(np.float32(0.25))),
                    rtol=1e-15)


@pytest.mark.parametrize("mixture", [object(), "gmm", 3, KMeans(3), SKGaussianMixture(3)],
                         ids=["object", "str", "int", "kmix-KMeans", "sklearn-GM"])
def test_non_mixture_rejected(X, mixture):
    with pytest.raises(TypeError, match="mixture"):
        MixtureOutlierDetector(mixture).fit(X)


def test_fitted_mixture_with_other_n_features_rejected(X, fitted_gm):
    X3 = np.c_[X, X[:, :1]]
    with pytest.raises(ValueError, match="features"):
        MixtureOutlierDetector(fitted_gm).fit(X3)


def test_predict_with_other_n_features_rejected(X, fitted_gm):
    det = MixtureOutlierDetector(fitted_gm).fit(X)
    for method in (det.predict, det.score_samples, det.decision_function):
        with pytest.raises(ValueError, match="features"):
            method(np.c_[X, X])


def test_not_fitted(X, fitted_gm):
    det = MixtureOutlierDetector(fitted_gm)
    for method in (det.predict, det.score_samples, det.decision_function):
        with pytest.raises(NotFittedError):
            method(X)


def test_nan_input_rejected(X, fitted_gm):
    Xn = X.copy()
    Xn[5, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MixtureOutlierDetector(fitted_gm).fit(Xn)
    det = MixtureOutlierDetector(fitted_gm).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        det.predict(Xn)


def test_clone_and_get_params(fitted_gm):
    det = MixtureOutlierDetector(fitted_gm, contamination=0.1)
    assert det.get_params(deep=False) == {"mixture": fitted_gm, "contamination": 0.1}
    cloned = clone(det)
    assert cloned.contamination == 0.1
    assert isinstance(cloned.mixture, GaussianMixture)
    assert cloned.mixture.get_params() == fitted_gm.get_params()
    det_copy = copy.deepcopy(det)
    assert det_copy.mixture is not fitted_gm


# --------------------------------------------------------------------------------------------
# 4. scikit-learn's estimator checks
# --------------------------------------------------------------------------------------------
@parametrize_with_checks([
    MixtureOutlierDetector(),
    MixtureOutlierDetector(GaussianMixture(2, random_state=0), contamination=0.1),
    MixtureOutlierDetector(BayesianGaussianMixture(n_components=2, random_state=0)),
])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
