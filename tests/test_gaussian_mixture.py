"""kmix.GaussianMixture against scikit-learn, closed forms and invariants.

References used here:
- scikit-learn's GaussianMixture started from the same initial parameters (explicit
  ``weights_init``/``means_init``/``precisions_init``) or the same ``random_state`` with every
  ``init_params``: same EM iterations, attributes and fitted-model methods,
- independent numpy/scipy computations (mixture log-density from
  ``scipy.stats.multivariate_normal``, matrix inverses, two-pass moments, a numerically
  integrated density) and closed forms (one component, parameter counts, BIC/AIC),
- invariants (monotone EM lower bound, integer weights == repeated rows, bitwise determinism
  over thread counts, inputs never modified).
"""
import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SKGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import ThreadpoolController

from kmix import GaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
INIT_PARAMS = ["kmeans", "k-means++", "random", "random_from_data"]
FITTED = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]
_THREADPOOLS = ThreadpoolController()

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def reference(fit, *args, **kwargs):
    """Run a scikit-learn reference computation with single-threaded OpenMP (speed only)."""
    with _THREADPOOLS.limit(limits=1, user_api="openmp"):
        return fit(*args, **kwargs)

# --------------------------------------------------------------------------------------------
# data and helpers
# --------------------------------------------------------------------------------------------
def blobs(n_samples=300, n_features=3, centers=4, cluster_std=2.0, random_state=0):
    """Overlapping blobs: EM needs many iterations, no component collapses."""
    X, _ = make_blobs(n_samples, n_features, centers=centers, cluster_std=cluster_std,
                      random_state=random_state)
    return X


def anisotropic(n_samples=300, random_state=1):
    """Sheared, differently scaled groups in 3-D (non-trivial full covariances)."""
    rng = np.random.RandomState(random_state)
    X = blobs(n_samples, 3, centers=3, cluster_std=1.0, random_state=random_state)
    return X @ np.array([[0.6, -0.6, 0.1], [-0.4, 0.8, 0.3], [0.0, 0.2, 2.0]]) + \
        rng.normal(scale=0.1, size=(n_samples, 3))


def uniform_cube(n_samples=300, random_state=2):
    """No cluster structure at all."""
    return np.random.RandomState(random_state).uniform(-3, 5, size=(n_samples, 3))


def init_from_sklearn(X, n_components, covariance_type, seed=0):
    """Initial parameters from a 1-iteration scikit-learn fit on float64 data, in X's dtype
    (float64 initial parameters would make scikit-learn compute a float32 fit in float64)."""
    ref = reference(SKGaussianMixture(n_components, covariance_type=covariance_type,
                                      max_iter=1, random_state=seed).fit,
                    np.asarray(X, dtype=np.float64))
    dtype = np.asarray(X).dtype
    return dict(weights_init=(ref.weights_ / ref.weights_.sum()).astype(dtype),
                means_init=ref.means_.astype(dtype),
                precisions_init=ref.precisions_.astype(dtype))


def closeness(ref, rtol):
    """(rtol, atol) for comparing an array to ``ref``: entries near 0 compared to the scale."""
    return dict(rtol=rtol, atol=rtol * float(np.max(np.abs(ref))))


def assert_same_model(gm, ref, X, *, lb_rtol, rtol, skip_first_lower_bound=False):
    """Same iterations, attributes and fitted-model methods as the scikit-learn model."""
    assert gm.n_iter_ == ref.n_iter_
    assert gm.converged_ == ref.converged_
    assert len(gm.lower_bounds_) == len(ref.lower_bounds_) == gm.n_iter_
    start = 1 if skip_first_lower_bound else 0
    assert_allclose(gm.lower_bounds_[start:], ref.lower_bounds_[start:], rtol=lb_rtol)
    assert_allclose(gm.lower_bound_, ref.lower_bound_, rtol=lb_rtol)
    for name in FITTED:
        a, b = getattr(gm, name), getattr(ref, name)
        assert a.shape == b.shape, name
        assert a.dtype == b.dtype, name
        assert_allclose(a, b, err_msg=name, **closeness(b, rtol))
    # fitted-model methods on the training data and on new data
    X_new = X[::7] * 1.1 + 0.3
    for Z in (X, X_new):
        ss, ss_ref = gm.score_samples(Z), ref.score_samples(Z)
        assert_allclose(ss, ss_ref, rtol=rtol, atol=rtol * np.abs(ss_ref).max())
        proba, proba_ref = gm.predict_proba(Z), ref.predict_proba(Z)
        assert_allclose(proba, proba_ref, atol=100 * rtol)
        labels, labels_ref = gm.predict(Z), ref.predict(Z)
        # labels may only differ where the two most likely components are (nearly) tied
        top2 = np.sort(proba_ref, axis=1)[:, -2:]
        ambiguous = top2[:, 1] - top2[:, 0] < 1000 * rtol
        assert_array_equal(labels[~ambiguous], labels_ref[~ambiguous])
        assert_allclose(gm.score(Z), ref.score(Z), rtol=rtol)
        assert_allclose(gm.bic(Z), ref.bic(Z), rtol=rtol)
        assert_allclose(gm.aic(Z), ref.aic(Z), rtol=rtol)


def full_covariances(gm):
    """Covariance matrices of each component, shape (k, d, d), in float64."""
    k, d = gm.means_.shape
    cov = np.asarray(gm.covariances_, dtype=np.float64)
    if gm.covariance_type == "full":
        return cov
    if gm.covariance_type == "tied":
        return np.broadcast_to(cov, (k, d, d))
    if gm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([c * np.eye(d) for c in cov])


def scipy_log_resp(gm, X, covs=None):
    """(log p(x), log responsibilities) of the fitted mixture, from scipy's Gaussian logpdf."""
    covs = full_covariances(gm) if covs is None else covs
    weighted = np.column_stack([
        np.log(gm.weights_[j]) + multivariate_normal(gm.means_[j], covs[j]).logpdf(X)
        for j in range(gm.n_components)])
    log_p = logsumexp(weighted, axis=1)
    return log_p, weighted - log_p[:, None]


def n_parameters(covariance_type, k, d):
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d,
           "spherical": k}[covariance_type]
    return cov + k * d + k - 1


def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def copy_fitted(source, target):
    """Copy the fitted parameters of one mixture into another (kmix <-> scikit-learn)."""
    for name in FITTED + ["converged_", "n_iter_", "lower_bound_", "n_features_in_"]:
        setattr(target, name, copy.deepcopy(getattr(source, name)))
    return target

# --------------------------------------------------------------------------------------------
# 1. same initial parameters => the same EM iterations as scikit-learn
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_sklearn_from_given_parameters(covariance_type, dtype):
    X = blobs().astype(dtype)
    init = init_from_sklearn(X, 4, covariance_type)
    params = dict(covariance_type=covariance_type, tol=0, max_iter=15, **init)
    ref = reference(SKGaussianMixture(4, **params).fit, X)
    gm = GaussianMixture(4, **params).fit(X)
    assert gm.n_iter_ == 15
    if dtype == np.float64:
        assert_same_model(gm, ref, X, lb_rtol=1e-8, rtol=1e-7)
    else:
        assert_same_model(gm, ref, X, lb_rtol=1e-5, rtol=1e-4)


def _cov_init_cases():
    for covariance_type in COVARIANCE_TYPES:
        for init_params in INIT_PARAMS:
            yield pytest.param(covariance_type, init_params,
                               id=f"{covariance_type}-{init_params}")


@pytest.mark.parametrize("covariance_type, init_params", list(_cov_init_cases()))
def test_matches_sklearn_from_same_random_state(covariance_type, init_params):
    X = blobs()
    params = dict(covariance_type=covariance_type, init_params=init_params, tol=0,
                  max_iter=15, random_state=0)
    ref = reference(SKGaussianMixture(4, **params).fit, X)
    gm = GaussianMixture(4, **params).fit(X)
    # k-means++ and random_from_data start from k single samples, each with covariance
    # reg_covar * I: the first lower bound is dominated by 1/reg_covar times distances and
    # scikit-learn's one-pass variance (E[x^2] - E[x]^2) of a single sample is off by
    # ~1e-13 absolute (~1e-7 of reg_covar); compare that first bound loosely.
    single_sample_start = init_params in ("k-means++", "random_from_data")
    assert_same_model(gm, ref, X, lb_rtol=1e-8, rtol=1e-7,
                      skip_first_lower_bound=single_sample_start)
    assert_allclose(gm.lower_bounds_[0], ref.lower_bounds_[0], rtol=1e-5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_matches_sklearn_from_same_random_state_float32(covariance_type, init_params):
    # (scikit-learn's float32 one-pass variances of k-means++/random_from_data's single-sample
    # starts are dominated by rounding; those are tested against float64 below.)
    X = blobs().astype(np.float32)
    params = dict(covariance_type=covariance_type, init_params=init_params, tol=0,
                  max_iter=15, random_state=0)
    ref = reference(SKGaussianMixture(4, **params).fit, X)
    gm = GaussianMixture(4, **params).fit(X)
    assert_same_model(gm, ref, X, lb_rtol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_tied_initial_covariance_matches_sklearn(init_params):
    X = blobs()
    params = dict(covariance_type="tied", init_params=init_params, max_iter=0,
                  random_state=0)
    ref = reference(SKGaussianMixture(4, **params).fit, X)
    gm = GaussianMixture(4, **params).fit(X)
    assert_allclose(gm.means_, ref.means_, rtol=1e-12)
    assert_allclose(gm.covariances_, ref.covariances_, **closeness(ref.covariances_, 1e-8))


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_single_sample_start_is_exact(covariance_type, dtype):
    # random_from_data: component j starts at sample idx[j] with covariance reg_covar exactly
    # (two-pass moments); kmix accumulates in float64, so this holds for float32 data too.
    X = (blobs() + 50.0).astype(dtype)
    idx = np.random.RandomState(0).choice(X.shape[0], size=4, replace=False)
    gm = GaussianMixture(4, covariance_type=covariance_type, init_params="random_from_data",
                         max_iter=0, random_state=0, reg_covar=1e-6).fit(X)
    assert_allclose(gm.means_, X[idx], rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert_allclose(gm.weights_, np.full(4, 1 / X.shape[0]), rtol=1e-6)
    expected = {"full": np.broadcast_to(1e-6 * np.eye(3), (4, 3, 3)),
                "diag": np.full((4, 3), 1e-6), "spherical": np.full(4, 1e-6)}[covariance_type]
    # moments about the data mean: rounding ~ eps(float64) * |x - mean|^2, whatever the dtype
    # (float32 one-pass moments would be off by ~ eps(float32) * |x|^2 ~ 1e-4 >> reg_covar)
    assert_allclose(gm.covariances_, expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_large_offset_stays_accurate(covariance_type):
    # Data far from the origin: kmix's float32 fit matches scikit-learn's float64 fit on the
    # same values (one-pass float32 moments E[x^2] - E[x]^2 would cancel; scikit-learn's own
    # float32 fit may even fail here), and the diag/spherical variances stay positive.
    X, _ = make_blobs(500, 3, centers=3, cluster_std=0.5, random_state=0)
    X32 = (X + 1e4).astype(np.float32)
    params = dict(covariance_type=covariance_type, init_params="random", max_iter=20, tol=0,
                  random_state=0)
    gm = GaussianMixture(3, **params).fit(X32)
    ref = reference(SKGaussianMixture(3, **params).fit, X32.astype(np.float64))
    assert gm.covariances_.dtype == np.float32
    if covariance_type in ("diag", "spherical"):
        assert np.all(gm.covariances_ > 0)
    else:
        assert np.all(np.linalg.eigvalsh(full_covariances(gm)) > 0)
    assert_allclose(gm.covariances_, ref.covariances_, **closeness(ref.covariances_, 1e-4))
    assert_allclose(gm.means_, ref.means_, rtol=1e-6)
    assert_allclose(gm.lower_bounds_, ref.lower_bounds_, rtol=1e-5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_init_matches_sklearn(covariance_type):
    X = blobs(200, 2, centers=5, random_state=3)
    params = dict(covariance_type=covariance_type, n_init=3, init_params="random",
                  max_iter=30, random_state=1)
    ref = reference(SKGaussianMixture(5, **params).fit, X)
    gm = GaussianMixture(5, **params).fit(X)
    assert_same_model(gm, ref, X, lb_rtol=1e-8, rtol=1e-7)
    # the kept initialisation is the best one: a single-init fit cannot do better
    single = GaussianMixture(5, **{**params, "n_init": 1}).fit(X)
    assert gm.lower_bound_ >= single.lower_bound_


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_tol_convergence_matches_sklearn(covariance_type):
    X = blobs()
    ref = reference(SKGaussianMixture(4, covariance_type=covariance_type, random_state=0).fit,
                    X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
    assert gm.converged_ and ref.converged_
    assert gm.n_iter_ == ref.n_iter_ > 2
    # converged: the last change of the lower bound is below tol, the previous ones are not
    changes = np.abs(np.diff(gm.lower_bounds_))
    assert changes[-1] < gm.tol <= changes[:-1].min()
    assert_same_model(gm, ref, X, lb_rtol=1e-8, rtol=1e-7)


def test_non_convergence_warns_like_sklearn():
    X = blobs()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm = GaussianMixture(4, max_iter=2, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_max_iter_zero_returns_initialisation(covariance_type, init_params):
    X = blobs()
    params = dict(covariance_type=covariance_type, init_params=init_params, max_iter=0,
                  random_state=0)
    ref = reference(SKGaussianMixture(4, **params).fit, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # no warning without iterations
        gm = GaussianMixture(4, **params).fit(X)
    assert gm.n_iter_ == 0 and not gm.converged_
    assert gm.lower_bounds_ == [] and gm.lower_bound_ == -np.inf
    assert_allclose(gm.weights_, ref.weights_, rtol=1e-12)
    assert_allclose(gm.means_, ref.means_, rtol=1e-12)
    if covariance_type == "tied" and init_params in ("k-means++", "random_from_data"):
        return  # see test_tied_initial_covariance_matches_sklearn
    # single-sample starts: covariances are reg_covar up to scikit-learn's rounding
    rtol = 1e-6 if init_params in ("k-means++", "random_from_data") else 1e-10
    for name in ("covariances_", "precisions_", "precisions_cholesky_"):
        ref_value = getattr(ref, name)
        assert_allclose(getattr(gm, name), ref_value, err_msg=name,
                        **closeness(ref_value, rtol))
    assert_array_equal(gm.predict(X), ref.predict(X))


def test_max_iter_zero_with_given_parameters():
    X = blobs()
    init = init_from_sklearn(X, 4, "diag")
    gm = GaussianMixture(4, covariance_type="diag", max_iter=0, **init).fit(X)
    assert_allclose(gm.weights_, init["weights_init"], rtol=1e-15)
    assert_allclose(gm.means_, init["means_init"], rtol=1e-15)
    assert_allclose(gm.precisions_, init["precisions_init"], rtol=1e-13)
    # (scikit-learn itself fails here: it never sets covariances_ from precisions_init)
    covs = np.stack([np.diag(1.0 / p) for p in init["precisions_init"]])
    log_p, log_resp = scipy_log_resp(gm, X, covs)
    assert_allclose(gm.score_samples(X), log_p, rtol=1e-12)
    assert_allclose(gm.predict_proba(X), np.exp(log_resp), atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues_like_sklearn(covariance_type):
    X = blobs()
    params = dict(covariance_type=covariance_type, warm_start=True, max_iter=4, tol=0,
                  random_state=0, n_init=3)
    gm = GaussianMixture(4, **params)
    ref = SKGaussianMixture(4, **params)
    first = list(gm.fit(X).lower_bounds_)
    reference(ref.fit, X)
    second = list(gm.fit(X).lower_bounds_)
    reference(ref.fit, X)
    assert_same_model(gm, ref, X, lb_rtol=1e-8, rtol=1e-7)
    # the second fit continues the first: same as one cold fit with twice the iterations
    assert second[0] >= first[-1] - 1e-12 * abs(first[-1])
    assert_allclose(second, ref.lower_bounds_, rtol=1e-8)
    assert not np.allclose(first, second)
    # a warm fit (one initialisation) continues the first: the same as one cold fit with
    # twice the iterations
    one = {**params, "n_init": 1}
    warm = GaussianMixture(4, **one)
    first = list(warm.fit(X).lower_bounds_)
    second = list(warm.fit(X).lower_bounds_)
    cold = GaussianMixture(4, **{**one, "warm_start": False, "max_iter": 8}).fit(X)
    assert_allclose(first + second, cold.lower_bounds_, rtol=1e-12)
    assert_allclose(warm.means_, cold.means_, rtol=1e-10)
    assert_allclose(warm.covariances_, cold.covariances_, rtol=1e-10)


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_prints(capsys, verbose):
    X = blobs()
    gm = GaussianMixture(4, verbose=verbose, verbose_interval=2, max_iter=7, tol=0, n_init=2,
                         random_state=0).fit(X)
    out = capsys.readouterr().out
    assert out.strip()
    assert "Initialization 0" in out and "Initialization 1" in out
    # one line per verbose_interval iterations, per initialisation (as scikit-learn)
    assert sum("Iteration" in line for line in out.splitlines()) == 2 * (7 // 2)
    reference(SKGaussianMixture(4, verbose=verbose, verbose_interval=2, max_iter=7, tol=0,
                                n_init=2, random_state=0).fit, X)
    ref_out = capsys.readouterr().out
    assert (sum("Iteration" in line for line in out.splitlines())
            == sum("Iteration" in line for line in ref_out.splitlines()))
    assert gm.n_iter_ == 7
    GaussianMixture(4, verbose=0, random_state=0).fit(X)
    assert capsys.readouterr().out == ""

# --------------------------------------------------------------------------------------------
# 2. invariants and closed forms
# --------------------------------------------------------------------------------------------
DATASETS = {"blobs": blobs, "anisotropic": anisotropic, "uniform": uniform_cube}


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_lower_bound_never_decreases(dataset, covariance_type, init_params):
    # Without regularisation every EM iteration is exact EM: the log-likelihood of the
    # previous parameters (the lower bound reported) can only increase.
    X = DATASETS[dataset]()
    gm = GaussianMixture(4, covariance_type=covariance_type, init_params=init_params,
                         reg_covar=0.0, tol=0, max_iter=30, random_state=0).fit(X)
    lb = np.asarray(gm.lower_bounds_)
    assert lb.size == 30 and np.all(np.isfinite(lb))
    assert np.all(np.diff(lb) >= -1e-12 * np.abs(lb[:-1]))
    assert lb[-1] > lb[0]
    # the lower bound is the mean log-likelihood of the parameters before the last M-step:
    # one more iteration from the fitted parameters gives at least as much
    assert gm.score(X) >= lb[-1] - 1e-12 * abs(lb[-1])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("k, d", [(1, 1), (3, 2), (4, 5)])
def test_n_parameters_closed_form(covariance_type, k, d):
    X = blobs(120, d, centers=k, random_state=k + d)
    gm = GaussianMixture(k, covariance_type=covariance_type, random_state=0).fit(X)
    expected = n_parameters(covariance_type, k, d)
    assert gm._n_parameters() == expected
    assert isinstance(gm._n_parameters(), int)
    # bic/aic are the closed forms over the mean log-likelihood
    n = X.shape[0]
    log_p, _ = scipy_log_resp(gm, X)
    assert_allclose(gm.bic(X), -2 * log_p.sum() + expected * np.log(n), rtol=1e-10)
    assert_allclose(gm.aic(X), -2 * log_p.sum() + 2 * expected, rtol=1e-10)
    assert_allclose(gm.bic(X), -2 * gm.score(X) * n + expected * np.log(n), rtol=1e-14)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_precisions_and_cholesky_factors_are_consistent(covariance_type, dtype):
    X = anisotropic().astype(dtype)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    cov = gm.covariances_.astype(np.float64)
    prec = gm.precisions_.astype(np.float64)
    pc = gm.precisions_cholesky_.astype(np.float64)
    if covariance_type in ("full", "tied"):
        covs, precs, pcs = (a if covariance_type == "full" else a[None] for a in (cov, prec, pc))
        for c, p, u in zip(covs, precs, pcs):
            assert_allclose(p, np.linalg.inv(c), **closeness(p, rtol))
            assert_allclose(u @ u.T, p, **closeness(p, rtol))
            assert_array_equal(u, np.triu(u))  # scikit-learn's upper-triangular convention
            assert np.all(np.diag(u) > 0)
            assert_allclose(c, c.T, **closeness(c, 1e-14))
    else:
        assert_allclose(prec, 1.0 / cov, rtol=rtol)
        assert_allclose(pc**2, prec, rtol=rtol)
        assert np.all(pc > 0)
    assert_allclose(gm.weights_.sum(), 1.0, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_samples_and_proba_match_scipy(covariance_type):
    X = anisotropic()
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    X_new = np.random.RandomState(5).uniform(-6, 6, size=(50, 3))
    for Z in (X, X_new):
        log_p, log_resp = scipy_log_resp(gm, Z)
        assert_allclose(gm.score_samples(Z), log_p, rtol=1e-10)
        assert_allclose(gm.predict_proba(Z), np.exp(log_resp), atol=1e-10)
        assert_allclose(gm.score(Z), log_p.mean(), rtol=1e-10)
        proba = gm.predict_proba(Z)
        assert proba.shape == (Z.shape[0], 3)
        assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        assert np.all((proba >= 0) & (proba <= 1))
        assert_array_equal(gm.predict(Z), np.argmax(proba, axis=1))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_density_integrates_to_one(covariance_type):
    X = blobs(300, 2, centers=3, cluster_std=1.5, random_state=4)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    # a grid reaching 8 standard deviations beyond every component
    sd = np.sqrt(np.max(np.linalg.eigvalsh(full_covariances(gm))))
    lo = gm.means_.min(axis=0) - 8 * sd
    hi = gm.means_.max(axis=0) + 8 * sd
    gx, gy = np.linspace(lo[0], hi[0], 400), np.linspace(lo[1], hi[1], 400)
    grid = np.column_stack([a.ravel() for a in np.meshgrid(gx, gy)])
    density = np.exp(gm.score_samples(grid)).reshape(400, 400)
    mass = np.trapezoid(np.trapezoid(density, gx, axis=1), gy)
    assert mass == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("max_iter", [1, 100])
def test_fit_predict_equals_fit_then_predict(covariance_type, max_iter):
    # also when EM has not converged (max_iter=1): a final pass labels the data
    X = blobs()
    params = dict(covariance_type=covariance_type, max_iter=max_iter, random_state=0)
    labels = GaussianMixture(4, **params).fit_predict(X)
    gm = GaussianMixture(4, **params).fit(X)
    assert labels.shape == (X.shape[0],)
    assert np.issubdtype(labels.dtype, np.integer)
    assert_array_equal(labels, gm.predict(X))
    assert_array_equal(labels, reference(SKGaussianMixture(4, **params).fit_predict, X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_single_component_closed_form(covariance_type):
    # k = 1: the maximum-likelihood Gaussian (biased covariance) + reg_covar, reached at once
    X = anisotropic()
    gm = GaussianMixture(1, covariance_type=covariance_type, reg_covar=1e-3, tol=1e-10,
                         max_iter=10).fit(X)
    assert gm.converged_ and gm.n_iter_ == 2
    assert_allclose(gm.weights_, [1.0], rtol=1e-14)
    assert_allclose(gm.means_, X.mean(axis=0)[None], rtol=1e-12)
    cov = np.cov(X, rowvar=False, bias=True)
    expected = {"full": (cov + 1e-3 * np.eye(3))[None], "tied": cov + 1e-3 * np.eye(3),
                "diag": (np.diag(cov) + 1e-3)[None],
                "spherical": np.array([np.diag(cov).mean() + 1e-3])}[covariance_type]
    assert_allclose(gm.covariances_, expected, **closeness(expected, 1e-12))
    ref = multivariate_normal(X.mean(axis=0), full_covariances(gm)[0]).logpdf(X)
    assert_allclose(gm.score_samples(X), ref, rtol=1e-12)
    assert_allclose(gm.lower_bound_, ref.mean(), rtol=1e-12)
    assert_array_equal(gm.predict(X), 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fitted_attributes_follow_data_dtype(dtype):
    X = blobs().astype(dtype)
    gm = GaussianMixture(3, random_state=0).fit(X)
    ref = reference(SKGaussianMixture(3, random_state=0).fit, X)
    for name in FITTED:
        assert getattr(gm, name).dtype == getattr(ref, name).dtype == dtype, name
    assert gm.n_features_in_ == 3
    assert isinstance(gm.lower_bound_, float)
    assert gm.lower_bound_ == gm.lower_bounds_[-1]
    # data in another dtype, order or container is converted, not rejected
    for Z in (X.astype(np.float64 if dtype == np.float32 else np.float32),
              np.asfortranarray(X), X.tolist()):
        assert_array_equal(gm.predict(Z), gm.predict(X))
    assert_array_equal(GaussianMixture(3, random_state=0).fit(np.asfortranarray(X)).means_,
                       gm.means_)

# --------------------------------------------------------------------------------------------
# 3. sample weights
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_integer_weights_equal_repeated_rows(covariance_type, dtype):
    X = blobs().astype(dtype)
    w = np.random.RandomState(0).randint(0, 4, size=X.shape[0])  # zeros remove rows
    X_rep = np.repeat(X, w, axis=0)
    # explicit initial parameters: no initialisation depends on the number of rows
    params = dict(covariance_type=covariance_type, tol=0, max_iter=15,
                  **init_from_sklearn(X, 4, covariance_type))
    weighted = GaussianMixture(4, **params).fit(X, sample_weight=w.astype(np.float64))
    repeated = GaussianMixture(4, **params).fit(X_rep)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert weighted.n_iter_ == repeated.n_iter_ == 15
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=rtol)
    for name in FITTED:
        b = getattr(repeated, name)
        assert_allclose(getattr(weighted, name), b, err_msg=name, **closeness(b, rtol))
    # integer weights as ints, and fit_predict with weights labels like predict
    labels = GaussianMixture(4, **params).fit_predict(X, sample_weight=w)
    assert_array_equal(labels, weighted.predict(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_scaling_all_weights_changes_nothing(covariance_type):
    X = anisotropic()
    w = np.random.RandomState(1).uniform(0.1, 3.0, size=X.shape[0])
    params = dict(covariance_type=covariance_type, tol=0, max_iter=10, init_params="random",
                  random_state=0)
    a = GaussianMixture(3, **params).fit(X, sample_weight=w)
    b = GaussianMixture(3, **params).fit(X, sample_weight=0.37 * w)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)
    for name in FITTED:
        assert_allclose(getattr(a, name), getattr(b, name), err_msg=name,
                        **closeness(getattr(b, name), 1e-10))
    # and weights do change the fit
    c = GaussianMixture(3, **params).fit(X)
    assert not np.allclose(a.means_, c.means_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
@pytest.mark.parametrize("dtype", [
    np.float64, np.float32])
def test_unit_weights_are_bitwise_no_weights(covariance_type, init_params, dtype):
    X = blobs().astype(dtype)
    params = dict(covariance_type=covariance_type, init_params=init_params, tol=0,
                  max_iter=10, random_state=0)
    a = GaussianMixture(4, **params).fit(X)
    b = GaussianMixture(4, **params).fit(X, sample_weight=np.ones(X.shape[0]))
    assert a.lower_bounds_ == b.lower_bounds_
    for name in FITTED:
        assert bitwise_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize("sample_weight, match", [
    (-np.ones(50), "[Nn]egative"),
    (np.r_[np.nan, np.ones(49)], "NaN"),
    (np.r_[np.inf, np.ones(49)], "NaN or inf"),
    (np.ones(49), "shape|length|49"),
    (np.ones(51), "shape|length|51"),
    (np.zeros(50), "zero sum"),
    (np.ones((50, 1)), "1D|shape"),
], ids=["negative", "nan", "inf", "short", "long", "zero-sum", "2d"])
def test_invalid_sample_weight_raises(sample_weight, match):
    X = blobs(50, 2, centers=2)
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(X, sample_weight=sample_weight)
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit_predict(X, sample_weight=sample_weight)

# --------------------------------------------------------------------------------------------
# 4. sampling
# --------------------------------------------------------------------------------------------
# numpy's multivariate_normal checks symmetry exactly: float32 covariances rounded from
# float64 ones (scikit-learn's too) may trigger its warning
@pytest.mark.filterwarnings("ignore:covariance is not symmetric:RuntimeWarning")
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_matches_sklearn(covariance_type, dtype):
    X = anisotropic().astype(dtype)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=7).fit(X)
    Xs, ys = gm.sample(500)
    assert Xs.shape == (500, 3) and ys.shape == (500,)
    assert np.all(np.diff(ys) >= 0)  # grouped by component
    assert set(np.unique(ys)) <= {0, 1, 2}
    # same parameters and random_state in scikit-learn's estimator: the same draws
    sk = copy_fitted(gm, SKGaussianMixture(3, covariance_type=covariance_type,
                                           random_state=7))
    Xr, yr = sk.sample(500)
    assert_array_equal(ys, yr)
    assert_array_equal(Xs, Xr)
    assert Xs.dtype == Xr.dtype
    # and the other way round: scikit-learn's fitted parameters in kmix's estimator
    ref = reference(SKGaussianMixture(3, covariance_type=covariance_type,
                                      random_state=3).fit, X)
    ours = copy_fitted(ref, GaussianMixture(3, covariance_type=covariance_type,
                                            random_state=3))
    assert_array_equal(ours.sample(37)[0], ref.sample(37)[0])


def test_sample_is_reproducible_and_follows_the_model():
    X = blobs(400, 2, centers=3, cluster_std=1.0, random_state=0)
    gm = GaussianMixture(3, random_state=0).fit(X)
    a, ya = gm.sample(20000)
    b, yb = gm.sample(20000)
    assert_array_equal(a, b)
    assert_array_equal(ya, yb)
    other = clone(gm).set_params(random_state=1).fit(X)
    assert not np.array_equal(other.sample(20)[0], a[:20])
    # component frequencies, means and covariances of the draws (statistical, ~5 sigma)
    counts = np.bincount(ya, minlength=3)
    assert_allclose(counts / 20000, gm.weights_, atol=5 * np.sqrt(0.25 / 20000))
    for j in range(3):
        draws = a[ya == j]
        sd = np.sqrt(np.diag(gm.covariances_[j]))
        assert np.all(np.abs(draws.mean(axis=0) - gm.means_[j]) < 5 * sd / np.sqrt(len(draws)))
        assert_allclose(np.cov(draws, rowvar=False), gm.covariances_[j],
                        atol=10 * sd.max() ** 2 / np.sqrt(len(draws)))
    assert gm.sample(1)[0].shape == (1, 2)


@pytest.mark.parametrize("n_samples, error", [(0, ValueError), (-3, ValueError),
                                               (2.5, (TypeError, ValueError))])
def test_sample_invalid_n_samples(n_samples, error):
    gm = GaussianMixture(2, random_state=0).fit(blobs(50, 2, centers=2))
    with pytest.raises(error, match="n_samples"):
        gm.sample(n_samples)

# --------------------------------------------------------------------------------------------
# 5. determinism over thread counts
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_blobs():
    return blobs(20000, 8, centers=5, cluster_std=3.0, random_state=0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bitwise_identical_for_any_n_threads(big_blobs, covariance_type):
    X = big_blobs
    params = dict(covariance_type=covariance_type, tol=0, max_iter=8, random_state=0)
    fits = [GaussianMixture(5, n_threads=t, **params).fit(X) for t in (1, 2, None)]
    one = fits[0]
    assert len(one.lower_bounds_) == 8
    for other in fits[1:]:
        assert other.lower_bounds_ == one.lower_bounds_
        for name in FITTED:
            assert bitwise_equal(getattr(other, name), getattr(one, name)), name
        for method in ("score_samples", "predict_proba", "predict"):
            assert bitwise_equal(getattr(other, method)(X), getattr(one, method)(X)), method
    # the weighted pass too
    w = np.random.RandomState(0).uniform(0.5, 2, size=X.shape[0])
    a = GaussianMixture(5, n_threads=1, **params).fit(X, sample_weight=w)
    b = GaussianMixture(5, n_threads=2, **params).fit(X, sample_weight=w)
    assert a.lower_bounds_ == b.lower_bounds_
    assert bitwise_equal(a.covariances_, b.covariances_)
    # and the fit is still scikit-learn's
    ref = reference(SKGaussianMixture(5, **params).fit, X)
    assert_allclose(one.lower_bounds_, ref.lower_bounds_, rtol=1e-8)

# --------------------------------------------------------------------------------------------
# 6. errors
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    return blobs(50, 2, centers=2, random_state=0)


@pytest.mark.parametrize("param, value, error, match", [
    ("n_components", 0, ValueError, "n_components"),
    ("n_components", -1, ValueError, "n_components"),
    ("n_components", 1.5, TypeError, "n_components"),
    ("n_components", "2", TypeError, "n_components"),
    ("n_components", None, TypeError, "n_components"),
    ("tol", -1e-3, ValueError, "tol"),
    ("tol", np.nan, ValueError, "tol"),
    ("tol", "small", TypeError, "tol"),
    ("reg_covar", -1e-6, ValueError, "reg_covar"),
    ("reg_covar", None, TypeError, "reg_covar"),
    ("max_iter", -1, ValueError, "max_iter"),
    ("max_iter", 10.5, TypeError, "max_iter"),
    ("n_init", 0, ValueError, "n_init"),
    ("n_init", 2.0, TypeError, "n_init"),
    ("init_params", "kmean", ValueError, "init_params"),
    ("init_params", None, ValueError, "init_params"),
    ("covariance_type", "ful", ValueError, "covariance_type"),
    ("covariance_type", None, ValueError, "covariance_type"),
    ("verbose_interval", 0, ValueError, "verbose_interval"),
    ("verbose_interval", 1.5, TypeError, "verbose_interval"),
    ("verbose", -1, ValueError, "verbose"),
    ("warm_start", 1, TypeError, "warm_start"),
    ("warm_start", "yes", TypeError, "warm_start"),
    ("n_threads", 0, ValueError, "n_threads"),
    ("n_threads", 1.5, TypeError, "n_threads"),
    ("n_threads", "2", TypeError, "n_threads"),
])
def test_invalid_parameters_raise(small, param, value, error, match):
    gm = GaussianMixture(**{"n_components": 2, param: value})
    with pytest.raises(error, match=match):
        gm.fit(small)
    with pytest.raises(error, match=match):
        gm.fit_predict(small)
    assert not hasattr(gm, "means_")


@pytest.mark.parametrize("bad, match", [("nan", "NaN"), ("inf", "infinity")])
def test_non_finite_data_raises(small, bad, match):
    X = small.copy()
    X[3, 1] = np.nan if bad == "nan" else np.inf
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(X)
    gm = GaussianMixture(2, random_state=0).fit(small)
    for method in ("predict", "predict_proba", "score_samples", "score", "bic", "aic"):
        with pytest.raises(ValueError, match=match):
            getattr(gm, method)(X)


def test_bad_shapes_and_sizes_raise(small):
    with pytest.raises(ValueError, match="2D array"):
        GaussianMixture(2).fit(small[:, 0])
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(3).fit(small[:2])
    with pytest.raises(ValueError, match="minimum of 2"):
        GaussianMixture(1).fit(small[:1])
    with pytest.raises(ValueError, match="0 feature"):
        GaussianMixture(1).fit(np.empty((5, 0)))
    gm = GaussianMixture(2, random_state=0).fit(small)
    for method in ("predict", "predict_proba", "score_samples", "score", "bic", "aic"):
        with pytest.raises(ValueError, match="3 features"):
            getattr(gm, method)(np.zeros((4, 3)))


@pytest.mark.parametrize("covariance_type, params, match", [
    ("full", dict(weights_init=[0.5, 0.6]), "normalized"),
    ("full", dict(weights_init=[-0.5, 1.5]), "range"),
    ("full", dict(weights_init=[0.2, 0.3, 0.5]), "shape"),
    ("full", dict(weights_init=[np.nan, 0.5]), "NaN"),
    ("full", dict(means_init=np.zeros((3, 2))), "'means'.*shape"),
    ("full", dict(means_init=np.zeros((2, 3))), "'means'.*shape"),
    ("full", dict(precisions_init=np.stack([np.eye(2), -np.eye(2)])), "positive-definite"),
    ("full", dict(precisions_init=np.stack([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]])),
     "symmetric"),
    ("full", dict(precisions_init=np.eye(2)), "shape"),
    ("tied", dict(precisions_init=-np.eye(2)), "positive-definite"),
    ("tied", dict(precisions_init=np.array([[1.0, 0.3], [-0.3, 1.0]])), "symmetric"),
    ("tied", dict(precisions_init=np.eye(3)), "shape"),
    ("tied", dict(precisions_init=np.stack([np.eye(2)] * 2)), "dim 3"),
    ("diag", dict(precisions_init=np.array([[1.0, 1.0], [0.0, 1.0]])), "positive"),
    ("diag", dict(precisions_init=np.array([[1.0, 1.0], [1.0, -2.0]])), "positive"),
    ("diag", dict(precisions_init=np.ones((2, 3))), "shape"),
    ("spherical", dict(precisions_init=np.array([1.0, -1.0])), "positive"),
    ("spherical", dict(precisions_init=np.array([1.0, 0.0])), "positive"),
    ("spherical", dict(precisions_init=np.ones((1, 2))), "shape"),
])
def test_invalid_initial_parameters_raise(small, covariance_type, params, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, covariance_type=covariance_type, **params).fit(small)
    # scikit-learn rejects them too
    with pytest.raises(ValueError):
        reference(SKGaussianMixture(2, covariance_type=covariance_type, **params).fit, small)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_collapsed_component_raises(covariance_type):
    # A duplicated sample at the data mean, isolated by a very sharp component: without
    # regularisation its covariance is exactly 0.
    X = np.array([[-5.0, -5.0], [-5.5, -4.0], [-4.5, -6.0], [0.0, 0.0], [0.0, 0.0],
                  [5.0, 5.0], [5.5, 4.0], [4.5, 6.0]])
    sharp = {"full": np.stack([np.eye(2), 1e6 * np.eye(2), np.eye(2)]),
             "diag": np.array([[1.0, 1.0], [1e6, 1e6], [1.0, 1.0]]),
             "spherical": np.array([1.0, 1e6, 1.0])}[covariance_type]
    params = dict(covariance_type=covariance_type, weights_init=np.full(3, 1 / 3),
                  means_init=np.array([[-5.0, -5.0], [0.0, 0.0], [5.0, 5.0]]),
                  precisions_init=sharp, max_iter=5)
    with pytest.raises(ValueError, match=r"reg_covar.*ill-defined component: 1\b"):
        GaussianMixture(3, reg_covar=0.0, **params).fit(X)
    with pytest.raises(ValueError, match="ill-defined"):
        reference(SKGaussianMixture(3, reg_covar=0.0, **params).fit, X)
    # regularised, the same start fits; the component keeps the duplicated pair
    gm = GaussianMixture(3, reg_covar=1e-6, **params).fit(X)
    assert_allclose(gm.means_[1], [0.0, 0.0], atol=1e-12)
    assert_array_equal(gm.predict(X), [0, 0, 0, 1, 1, 2, 2, 2])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_constant_data_without_regularisation_raises(covariance_type, dtype):
    X = np.ones((6, 2), dtype=dtype)
    with pytest.raises(ValueError, match=r"ill-defined .*reg_covar.*component: \d"):
        GaussianMixture(2, covariance_type=covariance_type, reg_covar=0.0,
                        random_state=0).fit(X)
    # with the default regularisation: one Gaussian of variance reg_covar at the point
    gm = GaussianMixture(1, covariance_type=covariance_type, random_state=0).fit(X)
    assert_allclose(gm.means_, [[1.0, 1.0]])
    assert_allclose(full_covariances(gm)[0], 1e-6 * np.eye(2), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score",
                                    "bic", "aic", "sample"])
def test_methods_before_fit_raise_not_fitted(small, method):
    gm = GaussianMixture(2)
    with pytest.raises(NotFittedError):
        getattr(gm, method)() if method == "sample" else getattr(gm, method)(small)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_inputs_are_never_modified(covariance_type):
    X = anisotropic()
    w = np.random.RandomState(0).uniform(0.5, 2, size=X.shape[0])
    init = init_from_sklearn(X, 3, covariance_type)
    saved = [a.copy() for a in (X, w, *init.values())]
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=5, **init)
    gm.fit(X, sample_weight=w)
    gm.fit_predict(X, sample_weight=w)
    for method in ("predict", "predict_proba", "score_samples", "score", "bic", "aic"):
        getattr(gm, method)(X)
    gm.sample(10)
    for before, after in zip(saved, (X, w, *init.values())):
        assert bitwise_equal(before, after)
    # the initial parameters stay the given objects (not replaced by validated copies)
    for name, value in init.items():
        assert getattr(gm, name) is value
    # max_iter=0 with warm_start: later fits do not write into the initial arrays either
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=0, warm_start=True,
                         **init).fit(X)
    gm.set_params(max_iter=3).fit(X)
    for before, after in zip(saved[2:], init.values()):
        assert bitwise_equal(before, after)
    X32 = X.astype(np.float32)
    saved32 = X32.copy()
    GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X32)
    assert bitwise_equal(X32, saved32)

# --------------------------------------------------------------------------------------------
# 7. scikit-learn API compliance
# --------------------------------------------------------------------------------------------
def _expected_failed_checks(estimator):
    # scikit-learn's own GaussianMixture takes no sample_weight, so the check does not run
    # on it. kmix's does: with n_components > 1 the initialisation (KMeans seeding) draws
    # differently for a weight of 2 than for a repeated row, which can permute or move the
    # components (the deterministic property is test_integer_weights_equal_repeated_rows).
    if estimator.n_components == 1:
        return {}
    reason = "sample_weight is not equivalent to repeating samples (random initialisation)."
    return {"check_sample_weight_equivalence_on_dense_data": reason}


@parametrize_with_checks(
    [GaussianMixture(n_init=2, max_iter=5),  # scikit-learn's test settings
     GaussianMixture(n_components=3, random_state=0)],
    expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_get_params_and_pipeline():
    X = anisotropic()
    gm = GaussianMixture(3, covariance_type="diag", n_threads=1, random_state=0,
                         reg_covar=1e-4)
    params = gm.get_params()
    ref_params = SKGaussianMixture().get_params()
    assert set(params) == set(ref_params) | {"n_threads"}
    assert params["n_threads"] == 1 and params["reg_covar"] == 1e-4
    fitted = clone(gm).fit(X)
    c = clone(fitted)
    assert c.get_params() == params
    assert not hasattr(c, "means_")
    pipe = Pipeline([("scale", StandardScaler()), ("gmm", clone(gm))]).fit(X)
    Xs = StandardScaler().fit_transform(X)
    direct = clone(gm).fit(Xs)
    assert_allclose(pipe.score_samples(X), direct.score_samples(Xs), rtol=1e-12)
    assert_array_equal(pipe.predict(X), direct.predict(Xs))
    assert_allclose(pipe.score(X), direct.score(Xs), rtol=1e-12)
    ref = reference(Pipeline([("scale", StandardScaler()),
                              ("gmm", SKGaussianMixture(3, covariance_type="diag",
                                                        random_state=0,
                                                        reg_covar=1e-4))]).fit, X)
    assert_allclose(pipe.score(X), ref.score(X), rtol=1e-8)


def test_grid_search_over_n_components_matches_sklearn():
    X = blobs(240, 2, centers=3, cluster_std=1.0, random_state=0)

    def search(gm):
        return GridSearchCV(gm, {"n_components": [1, 2, 3, 5],
                                 "covariance_type": ["full", "spherical"]}, cv=3).fit(X)

    ours = search(GaussianMixture(random_state=0))
    ref = reference(search, SKGaussianMixture(random_state=0))
    assert isinstance(ours.best_estimator_, GaussianMixture)
    # default score: the mean log-likelihood of the held-out fold
    assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                    rtol=1e-8)
    assert ours.best_params_ == ref.best_params_
    assert ours.best_params_["n_components"] >= 3
    assert ours.best_estimator_.n_components == ours.best_params_["n_components"]


# --------------------------------------------------------------------------------------------
# compiled EM loop and M-step == the Python loop of the base class
# --------------------------------------------------------------------------------------------
class _PythonLoopGaussianMixture(GaussianMixture):
    """GaussianMixture forced onto the base class's per-iteration Python loop and numpy
    M-step (the reference for the compiled loop)."""

    def _em_loop(self, X, sample_weight, lower_bound):
        return super(GaussianMixture, self)._em_loop(X, sample_weight, lower_bound)

    def _compiled_parameters(self, stats):
        from kmix._mixture import gaussian_parameters, precision_cholesky
        nk, means, covs = gaussian_parameters(stats, self.reg_covar, self.covariance_type)
        return nk, means, covs, precision_cholesky(covs, self.covariance_type)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_features", [2, 13])
def test_compiled_em_loop_equals_python_loop(covariance_type, dtype, weighted, n_features):
    X = blobs(400, n_features, centers=4).astype(dtype)
    w = np.random.RandomState(3).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    params = dict(covariance_type=covariance_type, n_init=3, tol=1e-6, max_iter=60,
                  random_state=1)
    fast = GaussianMixture(4, **params).fit(X, sample_weight=w)
    slow = _PythonLoopGaussianMixture(4, **params).fit(X, sample_weight=w)
    assert fast.n_iter_ == slow.n_iter_
    assert fast.converged_ == slow.converged_
    assert len(fast.lower_bounds_) == len(slow.lower_bounds_) == fast.n_iter_
    assert_allclose(fast.lower_bounds_, slow.lower_bounds_, rtol=1e-12)
    for name in FITTED:
        assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-9, atol=1e-12)
    assert_array_equal(fast.predict(X), slow.predict(X))


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_compiled_em_loop_warm_start_and_max_iter(covariance_type):
    X = blobs(300, 3)
    fast = GaussianMixture(4, covariance_type=covariance_type, max_iter=3, warm_start=True,
                           tol=0, random_state=0)
    slow = _PythonLoopGaussianMixture(4, covariance_type=covariance_type, max_iter=3,
                                      warm_start=True, tol=0, random_state=0)
    for _ in range(3):  # each fit continues from the last one's parameters and bound
        fast.fit(X)
        slow.fit(X)
        assert fast.n_iter_ == slow.n_iter_ == 3
        assert_allclose(fast.lower_bounds_, slow.lower_bounds_, rtol=1e-12)
        assert_allclose(fast.means_, slow.means_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_compiled_em_loop_names_the_collapsing_component(covariance_type):
    # component 1 starts on a single repeated point: EM shrinks its covariance to 0 without
    # regularisation, and the compiled M-step must name it as the Python M-step does
    X = np.vstack([blobs(200, 2, centers=2), np.full((5, 2), 40.0)])
    precisions = {"full": np.tile(np.eye(2), (3, 1, 1)), "diag": np.ones((3, 2)),
                  "spherical": np.ones(3)}[covariance_type]
    params = dict(covariance_type=covariance_type, reg_covar=0.0, max_iter=50,
                  weights_init=[0.45, 0.1, 0.45],
                  means_init=np.array([[0.0, 0.0], [40.0, 40.0], [5.0, 5.0]]),
                  precisions_init=precisions)
    if covariance_type != "full":
        # diag/spherical: the collapsed variances are floored at the float64 resolution of
        # mu^2 (40^2 here), as scikit-learn's raw-moment residue does: the fit runs on, as
        # scikit-learn's does (its residue's size depends on rounding, so its iteration count
        # is not compared), and both M-steps agree
        fast = GaussianMixture(3, **params).fit(X)
        slow = _PythonLoopGaussianMixture(3, **params).fit(X)
        assert_array_equal(fast.covariances_, slow.covariances_)
        assert 0 < np.max(fast.covariances_[1]) <= 8 * np.finfo(np.float64).eps * 40.0**2
        SKGaussianMixture(3, **params).fit(X)
        return
    with pytest.raises(ValueError, match=r"ill-defined empirical covariance .*First "
                                         r"ill-defined component: 1\.") as fast:
        GaussianMixture(3, **params).fit(X)
    with pytest.raises(ValueError) as slow:
        _PythonLoopGaussianMixture(3, **params).fit(X)
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_component_collapsed_away_from_the_origin_runs_on_without_regularisation(
        covariance_type):
    # One component starts sharp on the single point (3, 7), far from the others: its
    # responsibilities elsewhere underflow to 0, so its variance is exactly 0 about its
    # mean. scikit-learn's raw-moment formula leaves ~eps mu^2 there and runs on; kmix
    # floors the variance at eps mu^2 (per feature) and does the same. At the origin the
    # floor is 0 and the fit raises, as scikit-learn's does (test_collapsed_component_raises).
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(40, 2)) * 0.3 - 4.0, [[3.0, 7.0]]])
    sharp = {"diag": np.array([[1.0, 1.0], [1e8, 1e8]]),
             "spherical": np.array([1.0, 1e8])}[covariance_type]
    params = dict(covariance_type=covariance_type, reg_covar=0.0, max_iter=1,
                  weights_init=[40 / 41, 1 / 41], means_init=[[-4.0, -4.0], [3.0, 7.0]],
                  precisions_init=sharp)
    fast = GaussianMixture(2, **params).fit(X)
    slow = _PythonLoopGaussianMixture(2, **params).fit(X)
    assert_array_equal(fast.covariances_, slow.covariances_)
    # the collapsed component's variances are positive and at the rounding level of mu^2
    floor = np.finfo(np.float64).eps * np.array([9.0, 49.0])
    bound = 8 * floor if covariance_type == "diag" else 8 * floor.mean()
    assert np.all(fast.covariances_[1] > 0) and np.all(fast.covariances_[1] <= bound)
    assert np.all(np.isfinite(fast.precisions_cholesky_))
    assert not fast.converged_
