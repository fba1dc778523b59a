"""kmix.BayesianGaussianMixture against scikit-learn, closed forms and invariants.

References used here:
- scikit-learn's BayesianGaussianMixture with the same parameters and random_state (same
  initialisation draws, so the same variational iterations): lower bounds per iteration,
  fitted and prior attributes, score_samples / predict_proba / predict / sample,
- the closed form of a one-component model (the responsibilities are all 1, so the
  variational posterior is the conjugate update of the priors),
- invariants: the variational lower bound never decreases, unit weights == no weights
  bitwise, integer weights == repeated rows (from identical parameters, through warm_start),
  bitwise determinism over thread counts.
"""
import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import BayesianGaussianMixture as SKBayesianGaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import ThreadpoolController

from kmix import BayesianGaussianMixture
from kmix.datasets import chapter_mixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
INIT_PARAMS = ["kmeans", "k-means++", "random", "random_from_data"]
FITTED = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
          "mean_precision_", "degrees_of_freedom_"]
PRIORS = ["weight_concentration_prior_", "mean_precision_prior_", "mean_prior_",
          "degrees_of_freedom_prior_", "covariance_prior_"]
_THREADPOOLS = ThreadpoolController()

# Non-convergence within a deliberately small max_iter is expected in many tests here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

def reference(fit, *args, **kwargs):
    """Run a scikit-learn reference computation with single-threaded OpenMP (speed only)."""
    with _THREADPOOLS.limit(limits=1, user_api="openmp"):
        return fit(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def blobs(n_samples=300, n_features=3, centers=4, cluster_std=1.5, random_state=0):
    X, _ = make_blobs(n_samples, n_features, centers=centers, cluster_std=cluster_std,
                      random_state=random_state)
    return X


def sk_lower_bounds(model):
    """scikit-learn's per-iteration lower bounds as floats ('tied' gives shape-(1,) arrays)."""
    return np.array([float(np.sum(v)) for v in model.lower_bounds_])


def _close(actual, desired, rtol, name):
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape, name
    scale = max(float(np.max(np.abs(desired))), 1e-300) if desired.size else 1.0
    # atol relative to the array's scale: off-diagonal precisions can be ~0
    assert_allclose(actual, desired, rtol=rtol, atol=rtol * 1e-2 * scale, err_msg=name)


def assert_same_as_sklearn(km, sk, X, *, rtol, attr_rtol=None, predict_mismatch=0):
    """Iterations, lower bounds (rtol), fitted/prior attributes and predictions (attr_rtol)."""
    attr_rtol = rtol if attr_rtol is None else attr_rtol
    assert km.n_iter_ == sk.n_iter_
    assert km.converged_ == sk.converged_
    assert len(km.lower_bounds_) == len(sk.lower_bounds_)
    assert_allclose(km.lower_bounds_, sk_lower_bounds(sk), rtol=rtol)
    assert_allclose(km.lower_bound_, float(np.sum(sk.lower_bound_)), rtol=rtol)
    for name in FITTED + PRIORS:
        _close(getattr(km, name), getattr(sk, name), attr_rtol, name)
    if sk.weight_concentration_prior_type == "dirichlet_process":
        assert isinstance(km.weight_concentration_, tuple)
        assert len(km.weight_concentration_) == 2
        for a, b in zip(km.weight_concentration_, sk.weight_concentration_):
            _close(a, b, attr_rtol, "weight_concentration_")
    else:
        _close(km.weight_concentration_, sk.weight_concentration_, attr_rtol,
               "weight_concentration_")
    assert km.n_features_in_ == sk.n_features_in_
    assert_allclose(km.score_samples(X), sk.score_samples(X), rtol=attr_rtol,
                    atol=attr_rtol * np.max(np.abs(sk.score_samples(X))))
    assert_allclose(km.predict_proba(X), sk.predict_proba(X), atol=max(attr_rtol, 1e-9))
    mismatch = np.sum(km.predict(X) != sk.predict(X))
    assert mismatch <= predict_mismatch


# --------------------------------------------------------------------------------------------
# 1. same parameters and random_state => same result as scikit-learn
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_matches_sklearn_float64(covariance_type, prior_type, init_params):
    X = blobs()
    params = dict(n_components=5, covariance_type=covariance_type,
                  weight_concentration_prior_type=prior_type, init_params=init_params,
                  random_state=0, max_iter=60)
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    # several iterations (the tied one-hot starts settle after 2 on these data)
    assert sk.n_iter_ >= 2
    assert_same_as_sklearn(km, sk, X, rtol=1e-8)
    assert km.means_.dtype == np.float64


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_matches_sklearn_wide_data_with_several_inits(covariance_type, prior_type):
    # d = 20 (the pass's gemm path) and n_init = 2 (the best initialisation is kept)
    X = blobs(400, 20, centers=5, cluster_std=4.0, random_state=1)
    params = dict(n_components=4, covariance_type=covariance_type, n_init=2,
                  weight_concentration_prior_type=prior_type, random_state=3, max_iter=40)
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    assert_same_as_sklearn(km, sk, X, rtol=1e-8)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_tied_one_hot_init_matches_sklearn_on_centred_data(init_params):
    # 'k-means++' and 'random_from_data' start from one-hot responsibilities on k rows only
    # (rows whose responsibilities do not sum to 1); scikit-learn's tied covariance is then
    # (X^T X - sum_k N_k m_k m_k^T) / sum_k N_k, which is not translation invariant. Centred
    # and uncentred data (next test) must both agree with it.
    X = blobs()
    X = X - X.mean(axis=0)
    params = dict(n_components=5, covariance_type="tied", init_params=init_params,
                  random_state=0, max_iter=60)
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    assert_same_as_sklearn(km, sk, X, rtol=1e-8)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_tied_one_hot_init_matches_sklearn_first_iteration(init_params, prior_type):
    # Regression test (kmix <= 4336b54 computed this covariance about the data mean as if
    # every row's responsibilities summed to 1): the first iteration on uncentred data.
    X = np.random.RandomState(0).randn(100, 2) + [5.0, -3.0]
    params = dict(n_components=3, covariance_type="tied", init_params=init_params,
                  weight_concentration_prior_type=prior_type, random_state=0, max_iter=1)
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    assert_allclose(km.covariances_, sk.covariances_, rtol=1e-8)
    assert_allclose(km.lower_bounds_, sk_lower_bounds(sk), rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_matches_sklearn_float32(covariance_type, prior_type, init_params):
    X = blobs().astype(np.float32)
    params = dict(n_components=5, covariance_type=covariance_type,
                  weight_concentration_prior_type=prior_type, init_params=init_params,
                  random_state=0, max_iter=20)
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    # both sides work in float32 here: lower bounds to ~1e-4, derived arrays to ~1e-3
    assert_same_as_sklearn(km, sk, X, rtol=1e-4, attr_rtol=1e-3, predict_mismatch=1)
    for name in FITTED:
        assert np.asarray(getattr(km, name)).dtype == np.asarray(getattr(sk, name)).dtype, name


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_matches_sklearn_with_shared_random_state_and_restarts(covariance_type, init_params):
    # a RandomState instance is consumed across the n_init restarts in the same order
    X = blobs()
    params = dict(n_components=4, covariance_type=covariance_type, init_params=init_params,
                  n_init=3, reg_covar=1e-2, tol=1e-4, max_iter=40)
    sk = reference(SKBayesianGaussianMixture(**params, random_state=np.random.RandomState(5)).fit,
                   X)
    km = BayesianGaussianMixture(**params, random_state=np.random.RandomState(5)).fit(X)
    assert_same_as_sklearn(km, sk, X, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_max_iter_zero_matches_sklearn(covariance_type):
    # no iteration: the parameters are those of the initialisation
    X = blobs()
    params = dict(n_components=4, covariance_type=covariance_type, random_state=0, max_iter=0)
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    assert km.n_iter_ == 0 and km.lower_bounds_ == [] and km.lower_bound_ == -np.inf
    assert_same_as_sklearn(km, sk, X, rtol=1e-8)


def _user_priors(covariance_type, n_features, rng):
    A = rng.randn(n_features, n_features)
    full = A @ A.T + n_features * np.eye(n_features)
    return {"full": full, "tied": full, "diag": rng.uniform(0.5, 2.0, n_features),
            "spherical": 1.7}[covariance_type]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_user_priors_match_sklearn(covariance_type, prior_type):
    X = blobs()
    rng = np.random.RandomState(3)
    params = dict(n_components=5, covariance_type=covariance_type,
                  weight_concentration_prior_type=prior_type, random_state=0, max_iter=60,
                  weight_concentration_prior=0.3, mean_precision_prior=2.5,
                  mean_prior=np.array([1.0, -2.0, 0.5]), degrees_of_freedom_prior=4.5,
                  covariance_prior=_user_priors(covariance_type, 3, rng))
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    assert_same_as_sklearn(km, sk, X, rtol=1e-8)
    # the given priors are the ones used
    assert km.weight_concentration_prior_ == 0.3
    assert km.mean_precision_prior_ == 2.5
    assert km.degrees_of_freedom_prior_ == 4.5
    assert_array_equal(km.mean_prior_, params["mean_prior"])
    assert_array_equal(km.covariance_prior_, params["covariance_prior"])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues_like_sklearn(covariance_type):
    X = blobs()
    params = dict(n_components=5, covariance_type=covariance_type, random_state=0, max_iter=3)
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    reference(sk.set_params(warm_start=True, max_iter=7).fit, X)
    km.set_params(warm_start=True, max_iter=7).fit(X)
    assert_same_as_sklearn(km, sk, X, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_predict_and_sample_match_sklearn(covariance_type):
    X = blobs()
    params = dict(n_components=5, covariance_type=covariance_type, random_state=0, max_iter=10)
    labels_sk = reference(SKBayesianGaussianMixture(**params).fit_predict, X)
    km = BayesianGaussianMixture(**params)
    labels_km = km.fit_predict(X)
    assert_array_equal(labels_km, labels_sk)
    assert_array_equal(labels_km, km.predict(X))
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    Xs_km, ys_km = km.sample(60)
    Xs_sk, ys_sk = sk.sample(60)
    assert_array_equal(ys_km, ys_sk)
    assert_allclose(Xs_km, Xs_sk, rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------------------------
# 2. the chapter's example
# --------------------------------------------------------------------------------------------
def test_chapter_keeps_three_effective_components():
    X, y = chapter_mixture()
    bgm = BayesianGaussianMixture(n_components=10, n_init=10, random_state=42).fit(X)
    effective = np.flatnonzero(bgm.weights_ > 0.01)
    assert effective.size == 3
    assert_allclose(np.sort(bgm.weights_[effective]), [0.2, 0.4, 0.4], atol=0.01)
    assert_allclose(bgm.weights_.sum(), 1.0, rtol=1e-12)
    # each effective component sits on one true cluster (means of the generating labels)
    true_means = np.array([X[y == c].mean(axis=0) for c in range(3)])
    d = np.linalg.norm(bgm.means_[effective][:, None, :] - true_means[None], axis=2)
    assert sorted(np.argmin(d, axis=1)) == [0, 1, 2]
    assert np.all(d.min(axis=1) < 0.1)
    # the three clusters are recovered by predict (up to a relabelling)
    labels = bgm.predict(X)
    assert set(np.unique(labels)) <= set(effective)
    for c in range(3):
        counts = np.bincount(labels[y == c], minlength=10)
        assert counts.max() >= 0.95 * counts.sum()


def test_chapter_matches_sklearn():
    X, _ = chapter_mixture()
    params = dict(n_components=10, n_init=10, random_state=42)
    sk = reference(SKBayesianGaussianMixture(**params).fit, X)
    km = BayesianGaussianMixture(**params).fit(X)
    assert_same_as_sklearn(km, sk, X, rtol=1e-8)
    assert_array_equal(km.weights_ > 0.01, sk.weights_ > 0.01)


# --------------------------------------------------------------------------------------------
# 3. closed form and invariants
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_one_component_is_the_conjugate_update(covariance_type, prior_type):
    # One component: every responsibility is 1, so after any iteration the posterior is the
    # conjugate Normal-Wishart update of the priors with the data's moments.
    X = blobs(200, 3, random_state=5)
    n, d = X.shape
    rng = np.random.RandomState(0)
    beta0, nu0, alpha0, m0 = 2.0, 5.5, 0.7, np.array([0.3, -1.0, 2.0])
    prior = _user_priors(covariance_type, d, rng)
    reg = 1e-4
    bgm = BayesianGaussianMixture(
        n_components=1, covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type, weight_concentration_prior=alpha0,
        mean_precision_prior=beta0, mean_prior=m0,
        degrees_of_freedom_prior=nu0, covariance_prior=prior, reg_covar=reg, max_iter=3,
        tol=0, random_state=0).fit(X)
    xbar = X.mean(axis=0)
    S = np.cov(X.T, bias=True) + reg * np.eye(d)
    diff = xbar - m0
    betak = beta0 + n
    nuk = nu0 + n
    assert_allclose(bgm.weights_, [1.0], rtol=1e-14)
    assert_allclose(bgm.mean_precision_, [betak], rtol=1e-12)
    assert_allclose(bgm.means_, ((beta0 * m0 + n * xbar) / betak)[None], rtol=1e-12)
    assert_allclose(np.ravel(bgm.degrees_of_freedom_), [nuk], rtol=1e-12)
    if covariance_type == "full":
        expected = (prior + n * S + n * beta0 / betak * np.outer(diff, diff)) / nuk
        assert_allclose(bgm.covariances_, expected[None], rtol=1e-10)
    elif covariance_type == "tied":
        expected = (prior + n * S + n * beta0 / betak * np.outer(diff, diff)) / nuk
        assert_allclose(bgm.covariances_, expected, rtol=1e-10)
    elif covariance_type == "diag":
        expected = (prior + n * (np.diag(S) + beta0 / betak * diff**2)) / nuk
        assert_allclose(bgm.covariances_, expected[None], rtol=1e-10)
    else:
        expected = (prior + n * (np.mean(np.diag(S)) + beta0 / betak * np.mean(diff**2))) / nuk
        assert_allclose(bgm.covariances_, [expected], rtol=1e-10)
    if prior_type == "dirichlet_process":
        a, b = bgm.weight_concentration_
        assert_allclose(a, [1.0 + n], rtol=1e-12)
        assert_allclose(b, [alpha0], rtol=1e-12)
    else:
        assert_allclose(bgm.weight_concentration_, [alpha0 + n], rtol=1e-12)
    # the fixed point is reached at once: all lower bounds but the first are equal
    assert_allclose(bgm.lower_bounds_[1:], bgm.lower_bounds_[-1], rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fitted_model_is_self_consistent(covariance_type):
    X = blobs()
    bgm = BayesianGaussianMixture(n_components=4, covariance_type=covariance_type,
                                  random_state=0, max_iter=20)
    labels = bgm.fit_predict(X)
    assert_array_equal(labels, bgm.predict(X))
    proba = bgm.predict_proba(X)
    assert proba.shape == (X.shape[0], 4)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(np.argmax(proba, axis=1), labels)
    assert_allclose(bgm.score(X), np.mean(bgm.score_samples(X)), rtol=1e-14)
    assert_allclose(bgm.weights_.sum(), 1.0, rtol=1e-14)
    pc, prec, cov = bgm.precisions_cholesky_, bgm.precisions_, bgm.covariances_
    if covariance_type == "full":
        assert_allclose(prec, pc @ np.swapaxes(pc, 1, 2), rtol=1e-12)
        for p, c in zip(prec, cov):
            assert_allclose(p @ c, np.eye(3), atol=1e-10)
    elif covariance_type == "tied":
        assert_allclose(prec, pc @ pc.T, rtol=1e-12)
        assert_allclose(prec @ cov, np.eye(3), atol=1e-10)
    else:
        assert_allclose(prec, 1.0 / cov, rtol=1e-12)
        assert_allclose(prec, pc**2, rtol=1e-12)
    # a point far from the data is less likely than every training point
    far = X.mean(axis=0) + 100 * X.std(axis=0)
    assert bgm.score_samples(far[None])[0] < bgm.score_samples(X).min()


DATASETS = {
    "blobs": lambda: blobs(400, 3, centers=5, cluster_std=2.0, random_state=1),
    "chapter": lambda: chapter_mixture()[0],
    "anisotropic": lambda: (make_blobs(300, 2, centers=3, random_state=3)[0]
                            @ np.array([[0.6, -0.6], [-0.4, 0.8]]) * 20),
}


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_lower_bound_never_decreases(dataset, covariance_type, prior_type):
    X = DATASETS[dataset]()
    for init_params in ("kmeans", "random"):
        bgm = BayesianGaussianMixture(n_components=6, covariance_type=covariance_type,
                                      weight_concentration_prior_type=prior_type, tol=0,
                                      max_iter=35, init_params=init_params,
                                      random_state=0).fit(X)
        lb = np.asarray(bgm.lower_bounds_)
        assert lb.shape == (35,)
        assert np.all(np.isfinite(lb))
        assert np.all(np.diff(lb) >= -1e-10 * np.abs(lb[1:])), init_params
        assert lb[-1] > lb[0]


# --------------------------------------------------------------------------------------------
# 4. sample weights
# --------------------------------------------------------------------------------------------
def _state(model):
    wc = model.weight_concentration_
    wc = list(wc) if isinstance(wc, tuple) else [wc]
    return [np.asarray(getattr(model, name)) for name in FITTED + PRIORS] + wc + [
        np.asarray(model.lower_bounds_)]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_unit_weights_equal_no_weights_bitwise(covariance_type, init_params):
    X = blobs(200)
    params = dict(n_components=5, covariance_type=covariance_type, init_params=init_params,
                  random_state=0, max_iter=10, tol=0)
    a = BayesianGaussianMixture(**params).fit(X)
    b = BayesianGaussianMixture(**params).fit(X, sample_weight=np.ones(X.shape[0]))
    for x, y in zip(_state(a), _state(b)):
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
    assert a.score_samples(X).tobytes() == b.score_samples(X).tobytes()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_integer_weights_equal_repeated_rows_from_same_state(covariance_type, prior_type,
                                                             init_params):
    # The initialisation draws depend on n (seeds, random responsibilities), so weighted and
    # repeated data cannot be compared from scratch. Instead: fit once on the weighted data
    # (max_iter=1), copy the model, then continue both copies with warm_start for 6 more
    # iterations -- one on the weighted rows, one on the rows repeated w_i times (w_i = 0
    # removes the row). The priors are recomputed by each fit (weighted mean / weighted
    # covariance with ddof=1 vs. the repeated rows'), and every iteration must agree.
    X = blobs(200)
    w = np.random.RandomState(1).randint(0, 4, size=X.shape[0]).astype(np.float64)
    assert np.any(w == 0) and np.any(w == 3)
    X_rep = np.repeat(X, w.astype(int), axis=0)
    params = dict(n_components=5, covariance_type=covariance_type,
                  weight_concentration_prior_type=prior_type, init_params=init_params,
                  random_state=0, max_iter=1, tol=0)
    weighted = BayesianGaussianMixture(**params).fit(X, sample_weight=w)
    repeated = copy.deepcopy(weighted)
    weighted.set_params(warm_start=True, max_iter=6).fit(X, sample_weight=w)
    repeated.set_params(warm_start=True, max_iter=6).fit(X_rep)
    assert len(weighted.lower_bounds_) == 6
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-12)
    for x, y in zip(_state(weighted), _state(repeated)):
        assert_allclose(x, y, rtol=1e-11, atol=1e-13 * np.max(np.abs(y)))
    assert_allclose(weighted.score_samples(X), repeated.score_samples(X), rtol=1e-11)
    # and the parameters did move during those iterations
    first = BayesianGaussianMixture(**params).fit(X, sample_weight=w)
    assert not np.allclose(first.means_, weighted.means_, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_priors_from_weights_equal_sklearn_on_repeated_rows(covariance_type):
    X = blobs(200)
    w = np.random.RandomState(2).randint(0, 4, size=X.shape[0])
    X_rep = np.repeat(X, w, axis=0)
    params = dict(n_components=3, covariance_type=covariance_type, random_state=0, max_iter=1)
    km = BayesianGaussianMixture(**params).fit(X, sample_weight=w.astype(np.float64))
    sk = reference(SKBayesianGaussianMixture(**params).fit, X_rep)
    for name in PRIORS:
        _close(getattr(km, name), getattr(sk, name), 1e-11, name)


@pytest.mark.parametrize("sample_weight, match", [
    (-np.ones(50), "[Nn]egative"),
    (np.ones(49), "sample_weight"),
    (np.zeros(50), "sample_weight"),
    (np.r_[np.ones(49), np.nan], "sample_weight"),
])
def test_invalid_sample_weight(sample_weight, match):
    X = blobs(50)
    with pytest.raises(ValueError, match=match):
        BayesianGaussianMixture(n_components=2).fit(X, sample_weight=sample_weight)


# --------------------------------------------------------------------------------------------
# 5. validation
# --------------------------------------------------------------------------------------------
INVALID = [
    pytest.param({"weight_concentration_prior_type": "dirichlet"}, ValueError,
                 "weight_concentration_prior_type", id="prior-type-invalid"),
    pytest.param({"weight_concentration_prior_type": None}, ValueError,
                 "weight_concentration_prior_type", id="prior-type-none"),
    pytest.param({"weight_concentration_prior": 0.0}, ValueError,
                 "weight_concentration_prior", id="wcp-zero"),
    pytest.param({"weight_concentration_prior": -1.0}, ValueError,
                 "weight_concentration_prior", id="wcp-negative"),
    pytest.param({"weight_concentration_prior": "a"}, TypeError,
                 "weight_concentration_prior", id="wcp-str"),
    pytest.param({"mean_precision_prior": 0.0}, ValueError, "mean_precision_prior",
                 id="mpp-zero"),
    pytest.param({"mean_precision_prior": -2}, ValueError, "mean_precision_prior",
                 id="mpp-negative"),
    pytest.param({"degrees_of_freedom_prior": 2.0}, ValueError, "degrees_of_freedom_prior",
                 id="dof-equal-d-minus-1"),
    pytest.param({"degrees_of_freedom_prior": 0.5}, ValueError, "degrees_of_freedom_prior",
                 id="dof-small"),
    pytest.param({"mean_prior": np.zeros(2)}, ValueError, "mean_prior",
                 id="mean-prior-shape"),
    pytest.param({"mean_prior": np.zeros((1, 3))}, ValueError, "mean_prior",
                 id="mean-prior-2d"),
    pytest.param({"mean_prior": [np.nan, 0.0, 0.0]}, ValueError, "mean_prior",
                 id="mean-prior-nan"),
    pytest.param({"covariance_prior": np.eye(2)}, ValueError, "covariance_prior",
                 id="full-cov-prior-shape"),
    pytest.param({"covariance_prior": -np.eye(3)}, ValueError, "covariance_prior",
                 id="full-cov-prior-not-pd"),
    pytest.param({"covariance_type": "tied", "covariance_prior": np.eye(4)}, ValueError,
                 "covariance_prior",
                 id="tied-cov-prior-shape"),
    pytest.param({"covariance_type": "tied",
                  "covariance_prior": np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0],
                                                [0.0, 0.0, 1.0]])},
                 ValueError, "covariance_prior",
                 id="tied-cov-prior-indefinite"),
    pytest.param({"covariance_type": "diag", "covariance_prior": np.ones(2)}, ValueError,
                 "covariance_prior", id="diag-cov-prior-shape"),
    pytest.param({"covariance_type": "diag", "covariance_prior": np.array([1.0, 0.0, 1.0])},
                 ValueError, "covariance_prior", id="diag-cov-prior-zero"),
    pytest.param({"covariance_type": "diag", "covariance_prior": np.array([1.0, -1.0, 1.0])},
                 ValueError, "covariance_prior", id="diag-cov-prior-negative"),
    pytest.param({"covariance_type": "spherical", "covariance_prior": 0.0}, ValueError,
                 "covariance_prior", id="spherical-cov-prior-zero"),
    pytest.param({"covariance_type": "spherical", "covariance_prior": -1.0}, ValueError,
                 "covariance_prior", id="spherical-cov-prior-negative"),
    pytest.param({"covariance_type": "spherical", "covariance_prior": np.ones(3)},
                 (TypeError, ValueError), "covariance_prior", id="spherical-cov-prior-array"),
    pytest.param({"n_components": 51}, ValueError, "n_components", id="more-components"),
    pytest.param({"covariance_type": "round"}, ValueError, "covariance_type",
                 id="covariance-type"),
    pytest.param({"init_params": "kmeans++"}, ValueError, "init_params", id="init-params"),
]


@pytest.mark.parametrize("params, error, match", INVALID)
def test_invalid_parameters(params, error, match):
    X = blobs(50, 3)
    with pytest.raises(error, match=match):
        BayesianGaussianMixture(**{"n_components": 2, **params}).fit(X)


def test_boundary_values_are_accepted():
    X = blobs(50, 3)
    bgm = BayesianGaussianMixture(n_components=2, degrees_of_freedom_prior=2.0 + 1e-6,
                                  random_state=0).fit(X)
    assert bgm.degrees_of_freedom_prior_ == 2.0 + 1e-6
    assert np.all(np.isfinite(bgm.score_samples(X)))
    # n_samples == n_components is allowed
    bgm = BayesianGaussianMixture(n_components=3, random_state=0).fit(X[:3])
    assert bgm.means_.shape == (3, 3)


def test_nan_and_inf_input_rejected():
    X = blobs(50, 3)
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 1] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            BayesianGaussianMixture(n_components=2).fit(Xb)
    bgm = BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    Xb = X.copy()
    Xb[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        bgm.predict(Xb)
    with pytest.raises(ValueError, match="features"):
        bgm.score_samples(X[:, :2])


def test_not_fitted():
    X = blobs(50, 3)
    bgm = BayesianGaussianMixture(n_components=2)
    for method in (bgm.predict, bgm.predict_proba, bgm.score_samples, bgm.score):
        with pytest.raises(NotFittedError):
            method(X)


# --------------------------------------------------------------------------------------------
# 6. determinism over threads
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def large_data():
    X, _ = make_blobs(20000, 6, centers=8, cluster_std=3.0, random_state=0)
    return X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_bitwise_deterministic_across_threads(large_data, covariance_type, weighted):
    X = large_data
    w = (np.random.RandomState(0).uniform(0.5, 2.0, X.shape[0]) if weighted else None)
    results = []
    for n_threads in (1, 2):
        bgm = BayesianGaussianMixture(n_components=6, covariance_type=covariance_type,
                                      random_state=0, max_iter=15, tol=0,
                                      n_threads=n_threads).fit(X, sample_weight=w)
        results.append(_state(bgm) + [bgm.score_samples(X), bgm.predict_proba(X),
                                      bgm.predict(X)])
    for a, b in zip(*results):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------------------------
# 7. scikit-learn's estimator checks
# --------------------------------------------------------------------------------------------
def _expected_failed_checks(estimator):
    # With a random initialisation (k-means seeds, random responsibilities), weighting a row
    # by 2 draws different initial parameters than repeating it. The deterministic version
    # of the property is test_integer_weights_equal_repeated_rows_from_same_state.
    reason = "sample_weight is not equivalent to removing/repeating samples (random init)."
    return {"check_sample_weight_equivalence_on_dense_data": reason}


@parametrize_with_checks([BayesianGaussianMixture(n_components=3, random_state=0)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
