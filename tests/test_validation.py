"""Every bad input raises ValueError (TypeError for a wrong type) naming the problem."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

import kmix
from kmix import KMeans, metrics, model_selection


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(20, 3))


@pytest.fixture(scope="module")
def fitted(X):
    return KMeans(2, random_state=0).fit(X)


def _with(X, i, j, value):
    X = X.copy()
    X[i, j] = value
    return X


# --------------------------------------------------------------------------------------------
# X
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("value, match", [(np.nan, "Input X contains NaN"),
                                          (np.inf, "Input X contains infinity"),
                                          (-np.inf, "Input X contains infinity")],
                         ids=["nan", "inf", "-inf"])
def test_non_finite_X(X, sparse, value, match):
    bad = _with(X, 3, 1, value)
    bad = sp.csr_matrix(bad) if sparse else bad
    with pytest.raises(ValueError, match=match):
        KMeans(2).fit(bad)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_non_finite_X_after_fit(X, fitted, method):
    with pytest.raises(ValueError, match="Input X contains NaN"):
        getattr(fitted, method)(_with(X, 0, 0, np.nan))


def test_empty_X():
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        KMeans(2).fit(np.empty((0, 3)))


def test_zero_features():
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        KMeans(2).fit(np.empty((5, 0)))


def test_fewer_samples_than_clusters(X):
    with pytest.raises(ValueError, match=r"n_samples=20 should be >= n_clusters=25"):
        KMeans(25).fit(X)


def test_one_dimensional_X(X):
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        KMeans(2).fit(X[:, 0])


def test_three_dimensional_X(X):
    with pytest.raises(ValueError, match="Found array with dim 3"):
        KMeans(2).fit(X[:, :, None])


@pytest.mark.parametrize("dtype", [None, object])
def test_string_X(dtype):
    bad = np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=dtype)
    with pytest.raises(ValueError, match="could not convert string to float"):
        KMeans(2).fit(bad)


def test_complex_X(X):
    with pytest.raises(ValueError, match="Complex data not supported"):
        KMeans(2).fit(X + 1j)


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"n_clusters": 0}, ValueError, "n_clusters must be >= 1, got 0"),
        ({"n_clusters": -1}, ValueError, "n_clusters must be >= 1, got -1"),
        ({"n_clusters": 1.5}, TypeError, "n_clusters must be an int"),
        ({"n_clusters": "a"}, TypeError, "n_clusters must be an int"),
        ({"n_clusters": None}, TypeError, "n_clusters must be an int"),
        ({"n_clusters": True}, TypeError, "n_clusters must be an int"),
        ({"max_iter": 0}, ValueError, "max_iter must be >= 1, got 0"),
        ({"max_iter": -3}, ValueError, "max_iter must be >= 1"),
        ({"max_iter": 2.5}, TypeError, "max_iter must be an int"),
        ({"tol": -1}, ValueError, "tol must be >= 0"),
        ({"tol": np.nan}, ValueError, "tol must be finite"),
        ({"tol": "small"}, TypeError, "tol must be a real number"),
        ({"n_init": 0}, ValueError, "n_init must be >= 1, got 0"),
        ({"n_init": -2}, ValueError, "n_init must be >= 1"),
        ({"n_init": "bogus"}, TypeError, "n_init must be an int"),
        ({"algorithm": "bogus"}, ValueError, "algorithm must be one of .*'bogus'"),
        ({"algorithm": None}, ValueError, "algorithm must be one of"),
        ({"init": "bogus"}, ValueError, "init must be one of .*'bogus'"),
        ({"init": 3}, ValueError,
         "init must be 'k-means\\+\\+', 'k-means\\|\\|', 'random', a callable or an array"),
        ({"n_threads": 0}, ValueError, "n_threads must be None, a positive int or a negative "
                                       "int; got 0"),
        ({"n_threads": 1.5}, TypeError, "n_threads must be an int"),
        ({"verbose": -1}, ValueError, "verbose must be >= 0"),
        ({"copy_x": "yes"}, TypeError, "copy_x must be a bool"),
        ({"random_state": "seed"}, ValueError, "cannot be used to seed"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else "",
)
def test_bad_parameters(X, params, error, match):
    with pytest.raises(error, match=match):
        KMeans(**({"n_clusters": 2} | params)).fit(X)


@pytest.mark.parametrize("method", ["fit", "fit_predict", "fit_transform"])
def test_bad_parameters_rejected_by_every_fit_method(X, method):
    with pytest.raises(ValueError, match="n_clusters must be >= 1"):
        getattr(KMeans(0), method)(X)


@pytest.mark.parametrize(
    "init, match",
    [
        (np.zeros((3, 3)), r"shape of the initial centers \(3, 3\) does not match the number "
                           r"of clusters 2"),
        (np.zeros((2, 4)), r"shape of the initial centers \(2, 4\) does not match the number "
                           r"of features of the data 3"),
        (np.zeros(3), "Expected 2D array, got 1D array"),
        (np.array([[0.0, np.nan, 0.0], [1.0, 1.0, 1.0]]), "Input init contains NaN"),
        (np.array([[0.0, np.inf, 0.0], [1.0, 1.0, 1.0]]), "Input init contains infinity"),
    ],
    ids=["too-many-rows", "too-many-columns", "1d", "nan", "inf"],
)
def test_bad_init_array(X, init, match):
    with pytest.raises(ValueError, match=match):
        KMeans(2, init=init).fit(X)


def test_callable_init_returning_wrong_shape(X):
    def init(X, n_clusters, random_state):
        return X[: n_clusters + 1]

    with pytest.raises(ValueError, match="does not match the number of clusters"):
        KMeans(2, init=init, n_init=1).fit(X)


# --------------------------------------------------------------------------------------------
# sample_weight
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sample_weight, match",
    [
        (np.ones(19), r"sample_weight.shape == \(19,\), expected \(20,\)"),
        (np.ones(21), r"sample_weight.shape == \(21,\), expected \(20,\)"),
        (-np.ones(20), "Negative values in sample_weight"),
        (np.r_[np.ones(19), np.nan], "sample_weight contains NaN"),
        (np.r_[np.ones(19), np.inf], "sample_weight contains NaN or infinity"),
        (np.ones((20, 1)), "sample_weight must be 1D"),
        (np.ones((20, 2)), "sample_weight must be 1D"),
        (["a"] * 20, "sample_weight must be numeric"),
        (np.zeros(20), "sample_weight"),
    ],
    ids=["short", "long", "negative", "nan", "inf", "column", "2d", "strings", "all-zero"],
)
def test_bad_sample_weight(X, sample_weight, match):
    with pytest.raises(ValueError, match=match):
        KMeans(2).fit(X, sample_weight=sample_weight)


def test_bad_sample_weight_in_score(X, fitted):
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(20,\)"):
        fitted.score(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="Negative values in sample_weight"):
        fitted.score(X, sample_weight=-np.ones(20))


def test_random_init_needs_enough_positive_weights(X):
    w = np.r_[np.zeros(18), 1.0, 1.0]
    with pytest.raises(ValueError, match="non-zero weight"):
        KMeans(3, init="random").fit(X, sample_weight=w)


# --------------------------------------------------------------------------------------------
# the fitted model
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["predict", "transform", "score"])
@pytest.mark.parametrize("n_features", [2, 4])
def test_wrong_number_of_features(X, fitted, method, n_features):
    other = np.random.RandomState(1).normal(size=(5, n_features))
    with pytest.raises(ValueError, match=f"X has {n_features} features, but KMeans is "
                                         "expecting 3 features"):
        getattr(fitted, method)(other)
    with pytest.raises(ValueError, match=f"X has {n_features} features"):
        getattr(fitted, method)(sp.csr_matrix(other))


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_unfitted_model(X, method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(KMeans(2), method)(X)


def test_unfitted_feature_names_out():
    with pytest.raises(NotFittedError):
        KMeans(2).get_feature_names_out()


def test_failed_fit_leaves_model_unfitted(X):
    km = KMeans(2, tol=-1)
    with pytest.raises(ValueError):
        km.fit(X)
    with pytest.raises(NotFittedError):
        km.predict(X)


# --------------------------------------------------------------------------------------------
# kmeans_plusplus
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_clusters": 25}, ValueError, r"n_samples=20 should be >= n_clusters=25"),
        ({"n_clusters": 0}, ValueError, "n_clusters must be >= 1"),
        ({"n_clusters": 2.5}, TypeError, "n_clusters must be an int"),
        ({"n_clusters": 2, "sample_weight": np.ones(3)}, ValueError,
         r"sample_weight.shape == \(3,\), expected \(20,\)"),
        ({"n_clusters": 2, "sample_weight": -np.ones(20)}, ValueError,
         "Negative values in sample_weight"),
        ({"n_clusters": 2, "x_squared_norms": np.ones(3)}, ValueError,
         r"x_squared_norms must have shape \(20,\)"),
        ({"n_clusters": 2, "n_local_trials": 0}, ValueError, "n_local_trials must be >= 1"),
        ({"n_clusters": 2, "n_threads": 0}, ValueError, "n_threads"),
        ({"n_clusters": 2, "n_threads": 1.5}, TypeError, "n_threads must be an int"),
    ],
    ids=["too-many-clusters", "zero-clusters", "float-clusters", "weight-length",
         "negative-weight", "norms-shape", "zero-trials", "zero-threads", "float-threads"],
)
def test_kmeans_plusplus_bad_input(X, kwargs, error, match):
    kwargs = dict(kwargs)
    n_clusters = kwargs.pop("n_clusters")
    with pytest.raises(error, match=match):
        kmix.kmeans_plusplus(X, n_clusters, random_state=0, **kwargs)


@pytest.mark.parametrize("bad, match", [(np.nan, "contains NaN"), (np.inf, "infinity")])
def test_kmeans_plusplus_non_finite(X, bad, match):
    with pytest.raises(ValueError, match=match):
        kmix.kmeans_plusplus(_with(X, 2, 2, bad), 2, random_state=0)


def test_kmeans_plusplus_one_dimensional(X):
    with pytest.raises(ValueError, match="Expected 2D array"):
        kmix.kmeans_plusplus(X[:, 0], 2, random_state=0)


def test_validate_fitted_input_shortcut_agrees_with_validate_data():
    """The shortcut for plain float arrays returns X itself; everything else gets
    validate_data's conversion, errors and warnings."""
    import pandas as pd
    from sklearn.utils.validation import validate_data

    from kmix import GaussianMixture
    from kmix._validation import validate_fitted_input

    X = np.random.RandomState(0).normal(size=(50, 3))
    gm = GaussianMixture(2, random_state=0).fit(X)
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        assert validate_fitted_input(gm, Xd) is Xd
    kwargs = dict(dtype=[np.float64, np.float32], order="C")
    for bad in (X[:, :2], np.where(X > 1, np.nan, X), np.where(X > 1, np.inf, X)):
        with pytest.raises(ValueError) as ours:
            validate_fitted_input(gm, bad, **kwargs)
        with pytest.raises(ValueError) as theirs:
            validate_data(gm, bad, reset=False, **kwargs)
        assert str(ours.value) == str(theirs.value)
    # non-contiguous, integer and list input are converted as validate_data converts them
    for other in (np.asfortranarray(X), X[::2], X.astype(int), X.tolist()):
        out = validate_fitted_input(gm, other, **kwargs)
        np.testing.assert_array_equal(out, validate_data(gm, other, reset=False, **kwargs))
        assert out.flags.c_contiguous
    # a model fitted with feature names still warns about an array without them
    named = GaussianMixture(2, random_state=0).fit(pd.DataFrame(X, columns=list("abc")))
    with pytest.warns(UserWarning, match="feature names"):
        validate_fitted_input(named, X, **kwargs)


# --------------------------------------------------------------------------------------------
# magnitude: squared distances (and their sums) must neither overflow nor underflow
# --------------------------------------------------------------------------------------------
def _blobs(scale=1.0, dtype=np.float64):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(60, 3, centers=3, random_state=0)
    return (X * scale).astype(dtype)


_LABELS = np.arange(60) % 3
_FITS = {
    **{f"KMeans-{a}": (lambda a: lambda X: KMeans(3, algorithm=a, random_state=0).fit(X))(a)
       for a in ("lloyd", "elkan", "hamerly", "yinyang")},
    "MiniBatchKMeans": lambda X: kmix.MiniBatchKMeans(3, random_state=0).fit(X),
    "MiniBatchKMeans.partial_fit": lambda X: kmix.MiniBatchKMeans(3).partial_fit(X),
    "fit_batches": lambda X: kmix.fit_batches([X, X], kmix.MiniBatchKMeans(3), n_init=1),
    "kmeans_plusplus": lambda X: kmix.kmeans_plusplus(X, 3, random_state=0),
    **{f"GaussianMixture-{c}": (lambda c: lambda X: kmix.GaussianMixture(
        3, covariance_type=c, random_state=0).fit(X))(c)
       for c in ("full", "tied", "diag", "spherical")},
    "BayesianGaussianMixture": lambda X: kmix.BayesianGaussianMixture(
        n_components=3, random_state=0).fit(X),
    "MixtureOutlierDetector": lambda X: kmix.MixtureOutlierDetector().fit(X),
    "SpectralClustering-rbf": lambda X: kmix.SpectralClustering(3, random_state=0).fit(X),
    "SpectralClustering-nn": lambda X: kmix.SpectralClustering(
        3, affinity="nearest_neighbors", random_state=0).fit(X),
    "AgglomerativeClustering": lambda X: kmix.AgglomerativeClustering(3).fit(X),
    "AgglomerativeClustering-l1": lambda X: kmix.AgglomerativeClustering(
        3, linkage="average", metric="l1").fit(X),
    "silhouette_score": lambda X: metrics.silhouette_score(X, _LABELS),
    "silhouette_samples": lambda X: metrics.silhouette_samples(X, _LABELS),
    "calinski_harabasz_score": lambda X: metrics.calinski_harabasz_score(X, _LABELS),
    "davies_bouldin_score": lambda X: metrics.davies_bouldin_score(X, _LABELS),
    "scan_kmeans": lambda X: model_selection.scan_kmeans(X, [1, 2]),
    "scan_gmm": lambda X: model_selection.scan_gmm(X, [1, 2]),
}


@pytest.mark.parametrize("name, dtype", [
    (name, dtype) for name in _FITS for dtype in (np.float64, np.float32)
    if not (name.startswith("Spectral") and dtype == np.float32)])  # computes in float64
@pytest.mark.parametrize("huge", [True, False], ids=["overflow", "underflow"])
def test_magnitude_rejected_by_every_fit(name, dtype, huge):
    """Data whose squared distances overflow (or underflow) the dtype are rejected in kmix's
    words, not fitted into NaN/inf or a crash; L1 data only when their sums would."""
    l1 = name.endswith("-l1")
    float32 = dtype == np.float32
    scale = ((1e37 if l1 else 1e18) if float32 else (1e306 if l1 else 1e160)) if huge else (
        (1e-40 if l1 else 1e-21) if float32 else (1e-310 if l1 else 1e-160))
    kind = "sums of the values" if l1 else "squared distances"
    dtype_name = np.dtype(dtype).name
    if huge:
        match = f"X has values of magnitude up to .*: {kind} overflow {dtype_name}"
    else:
        match = f"X has values of magnitude at most .*: {kind} underflow {dtype_name}"
    with pytest.raises(ValueError, match=match + r".*rescale X \(e.g. StandardScaler\)"):
        _FITS[name](_blobs(scale, dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [5e153, 1e160])
def test_magnitude_of_initial_centres(dtype, scale):
    """Initial centres whose squared distances would overflow are rejected by name, whether
    the sum of their squares is finite (5e153: the quick check's sum is reused, and its bound
    fails) or not (1e160); float32 data cast such centres to infinity (check_array's error)."""
    X = _blobs(1.0, dtype)
    init = np.full((3, X.shape[1]), scale)
    if dtype == np.float32:
        match = "init"
    else:
        match = "init has values of magnitude up to .*: squared distances overflow float64"
    with pytest.raises(ValueError, match=match):
        KMeans(3, init=init, n_init=1).fit(X)


@pytest.mark.parametrize("cls", [KMeans, kmix.MiniBatchKMeans, kmix.DBSCAN,
                                 kmix.SpectralClustering])
def test_magnitude_of_sparse_X(cls):
    X = sp.csr_matrix(_blobs(1e200))
    with pytest.raises(ValueError, match="magnitude up to .*: squared distances overflow"):
        cls().fit(X)


@pytest.mark.parametrize("eps, match", [(1e160, "eps=1e\\+160 is too large: its square "
                                                "overflows float64"),
                                        (1e-160, "eps=1e-160 is too small: its square "
                                                 "underflows float64")])
def test_dbscan_eps_whose_square_is_not_normal(eps, match):
    """DBSCAN's grid compares squared distances with eps^2: right for any data (even huge
    coordinates, see test_dbscan), but not when eps^2 itself overflows or underflows."""
    X = _blobs()
    with pytest.raises(ValueError, match=match + r".*rescale X and eps"):
        kmix.DBSCAN(eps=eps).fit(X)
    labels = kmix.DBSCAN(eps=eps, min_samples=2, metric="precomputed").fit(
        np.zeros((4, 4))).labels_
    assert np.all(labels == 0)  # no squares with precomputed distances


@pytest.mark.parametrize("fit", [lambda X: KMeans(1, random_state=0).fit(X),
                                 lambda X: kmix.GaussianMixture(1).fit(X),
                                 lambda X: kmix.DBSCAN().fit(X),
                                 lambda X: kmix.AgglomerativeClustering(1).fit(X)])
def test_all_zero_X_still_fits(fit):
    model = fit(np.zeros((10, 2)))
    assert np.all(model.labels_ == 0) if hasattr(model, "labels_") else np.all(
        model.means_ == 0)


def test_check_magnitude_bounds():
    """The bound: 4 * n_features * n_samples * M**2 (times min(1, reg_covar)) below the
    dtype's max; M**2 above its tiny; sparse data by their stored values."""
    from kmix._validation import check_magnitude

    for dtype in (np.float64, np.float32):
        info = np.finfo(dtype)
        n, d = 5, 2
        limit = np.sqrt(float(info.max) / (4 * n * d))
        for factor, ok in ((0.99, True), (1.01, False)):
            X = np.full((n, d), limit * factor, dtype=dtype)
            for data in (X, sp.csr_matrix(X)):
                if ok:
                    assert check_magnitude(data) is data
                else:
                    with pytest.raises(ValueError, match="overflow"):
                        check_magnitude(data)
        low = np.sqrt(float(info.tiny))
        assert check_magnitude(np.full((n, d), low * 1.01, dtype=dtype)) is not None
        with pytest.raises(ValueError, match="underflow"):
            check_magnitude(np.full((n, d), low * 0.99, dtype=dtype))
    X = np.full((5, 2), 1e151)
    check_magnitude(X)
    with pytest.raises(ValueError, match="reg_covar=1e-06"):
        check_magnitude(X, reg_covar=1e-6)
    with pytest.raises(ValueError, match="a total sample weight of 1e\\+10"):
        check_magnitude(X, sample_weight=np.full(5, 2e9))


_FITTED_METHODS = [("KMeans", m) for m in ("predict", "transform", "score")] + [
    ("GaussianMixture", m) for m in ("predict", "predict_proba", "score_samples", "score",
                                     "bic", "aic")] + [
    ("BayesianGaussianMixture", "score_samples"), ("MixtureOutlierDetector", "predict"),
    ("MiniBatchKMeans", "predict")]


@pytest.mark.parametrize("name, method", _FITTED_METHODS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_magnitude_rejected_by_fitted_methods(name, method, dtype):
    """New data of huge magnitude (which the shortcut of validate_fitted_input must send on
    to the full check) are rejected by a model fitted on ordinary data."""
    X = _blobs(1.0, dtype)
    params = {"n_components": 3} if "Mixture" in name and name != "MixtureOutlierDetector" \
        else {}
    model = getattr(kmix, name)(**params).fit(X)
    huge = (X * (1e18 if dtype == np.float32 else 1e160)).astype(dtype)
    with pytest.raises(ValueError, match="magnitude up to .*: squared distances overflow"):
        getattr(model, method)(huge)
    assert np.all(np.isfinite(np.asarray(getattr(model, method)(X), dtype=float)))


@pytest.mark.parametrize("name, method", _FITTED_METHODS)
def test_new_data_close_to_zero_are_no_underflow(name, method):
    """Points near 0 are measured against a fitted model of ordinary scale: accepted (only
    fitting on them is rejected); so are initial centres near 0."""
    X = _blobs()
    params = {"n_components": 3} if "Mixture" in name and name != "MixtureOutlierDetector" \
        else {}
    model = getattr(kmix, name)(**params).fit(X)
    tiny = np.array([[1e-200, 0.0, -1e-250], [0.0, 0.0, 0.0]])
    assert np.all(np.isfinite(np.asarray(getattr(model, method)(tiny), dtype=float)))
    init = np.vstack([X[:2], [[1e-200, 0.0, 0.0]]])
    assert KMeans(3, init=init, n_init=1).fit(X).n_iter_ >= 1
    later = kmix.MiniBatchKMeans(3, random_state=0).partial_fit(X).partial_fit(tiny)
    assert np.all(np.isfinite(later.cluster_centers_))


@pytest.mark.parametrize("cls", [kmix.GaussianMixture, kmix.BayesianGaussianMixture])
@pytest.mark.parametrize("n_components, n_nonzero", [(3, 1), (3, 2), (1, 1)])
def test_mixtures_need_enough_nonzero_weights(cls, n_components, n_nonzero):
    """As n_samples >= max(2, n_components) without weights: fewer samples with non-zero
    weight leave the components undefined (the fit used to return NaN)."""
    X = _blobs()
    w = np.zeros(len(X))
    w[:n_nonzero] = 1.0
    with pytest.raises(ValueError, match=f"sample_weight has {n_nonzero} non-zero weight"
                       rf"\(s\); {cls.__name__} with n_components={n_components} needs at "
                       f"least {max(2, n_components)} samples with non-zero weight"):
        cls(n_components=n_components, random_state=0).fit(X, sample_weight=w)
    w[:max(2, n_components)] = 1.0
    model = cls(n_components=n_components, random_state=0).fit(X, sample_weight=w)
    assert np.all(np.isfinite(model.means_)) and np.all(np.isfinite(model.covariances_))


def test_kmeans_with_fewer_nonzero_weights_than_clusters():
    """As in scikit-learn, a fit (not an error): the weighted sample is a centre, the
    inertia 0 and every centre finite."""
    X = _blobs()
    w = np.zeros(len(X))
    w[7] = 2.0
    for cls in (KMeans, kmix.MiniBatchKMeans):
        model = cls(3, random_state=0, n_init=1).fit(X, sample_weight=w)
        assert np.all(np.isfinite(model.cluster_centers_))
        np.testing.assert_allclose(model.cluster_centers_[model.labels_[7]], X[7])
        assert model.inertia_ == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize("cls", [KMeans, kmix.MiniBatchKMeans, kmix.GaussianMixture])
def test_huge_sample_weights(cls):
    """Weights whose total overflows, or whose weighted inertia would, are rejected."""
    X = _blobs()
    with pytest.raises(ValueError, match="sample_weight sums to infinity"):
        cls(3).fit(X, sample_weight=np.full(len(X), 1e307))
    if cls is not kmix.GaussianMixture:
        X = X * 1e150
        cls(3, random_state=0).fit(X)  # fine with unit weights
        with pytest.raises(ValueError, match="a total sample weight of .*or sample_weight"):
            cls(3).fit(X, sample_weight=np.full(len(X), 1e20))


@pytest.mark.parametrize("scale, match", [(1e307, "up to .*: sums of the values overflow"),
                                          (1e-320, "at most .*: sums of the values underflow")])
def test_magnitude_of_a_precomputed_affinity(scale, match):
    """The degrees of a precomputed affinity sum its values: their overflow (or subnormal
    values) gave a garbage embedding, then an error about 'X' from the inner KMeans."""
    A = np.random.RandomState(0).rand(20, 20)
    A = (A + A.T) / 2
    model = kmix.SpectralClustering(3, affinity="precomputed", random_state=0)
    labels = model.fit(A).labels_
    # scale-free, when representable
    np.testing.assert_array_equal(model.fit(A * 1e300).labels_, labels)
    with pytest.raises(ValueError, match=f"the affinity matrix X has values of magnitude "
                                         f"{match} float64.*rescale the affinity matrix X"):
        model.fit(A * scale)


def test_validate_fit_data_shortcut_agrees_with_validate_data():
    """The fit-time shortcut returns a plain float array itself with validate_data's
    attributes; every other input gets validate_data's conversion, errors and resets."""
    import pandas as pd
    from sklearn.utils.validation import validate_data

    from kmix._validation import validate_fit_data

    X = np.random.RandomState(0).normal(size=(50, 3))
    kwargs = dict(dtype=[np.float64, np.float32], order="C")
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        km = KMeans(2)
        assert validate_fit_data(km, Xd, **kwargs)[0] is Xd
        assert km.n_features_in_ == 3
    # refitting on an array forgets the feature names of a DataFrame fit, as sklearn does
    km = KMeans(2).fit(pd.DataFrame(X, columns=list("abc")))
    assert list(km.feature_names_in_) == list("abc")
    assert validate_fit_data(km, X, **kwargs)[0] is X
    assert not hasattr(km, "feature_names_in_")
    # partial_fit style (reset=False) still checks the number of features
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3"):
        validate_fit_data(km, X[:, :2].copy(), reset=False, **kwargs)
    bad_inputs = [np.where(X > 1, np.nan, X), np.where(X > 1, np.inf, X),
                  np.where(X > 1, -np.inf, X), np.full((1, 3), 1e200)[:0]]
    for bad in bad_inputs:
        with pytest.raises(ValueError) as ours:
            validate_fit_data(KMeans(2), bad, **kwargs)
        with pytest.raises(ValueError) as theirs:
            validate_data(KMeans(2), bad, **kwargs)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="minimum of 2 is required") as ours:
        validate_fit_data(KMeans(2), X[:1], ensure_min_samples=2, **kwargs)
    # non-contiguous, integer, list and float16 input are converted as validate_data does
    for other in (np.asfortranarray(X), X[::2], X.astype(int), X.tolist(),
                  X.astype(np.float16)):
        out = validate_fit_data(KMeans(2), other, **kwargs)[0]
        assert_equal = np.testing.assert_array_equal
        assert_equal(out, validate_data(KMeans(2), other, **kwargs))
        assert out.flags.c_contiguous and out.dtype in (np.float64, np.float32)
    # a single accepted dtype: other float dtypes are converted
    out = validate_fit_data(KMeans(2), X.astype(np.float32), dtype=np.float64)[0]
    assert out.dtype == np.float64


def test_checked_float_copy_agrees_with_check_array():
    """Initial centres: always a new C-contiguous array of the data's dtype, the values of
    check_array's copy, and check_array's error for NaN, infinity or a cast that
    overflows."""
    from sklearn.utils.validation import check_array

    from kmix._validation import checked_float_copy

    C = np.random.RandomState(1).normal(size=(4, 3)) * 1e3
    for src in (C, C.astype(np.float32), np.asfortranarray(C), C.tolist()):
        for dtype in (np.float64, np.float32):
            out, squares = checked_float_copy(src, dtype, "init")
            ref = check_array(src, dtype=dtype, order="C", copy=True, input_name="init")
            assert out.dtype == dtype and out.flags.c_contiguous
            np.testing.assert_array_equal(out, ref)
            assert not np.shares_memory(out, C)
            if squares is not None:   # the direct path's sum, for check_magnitude
                assert squares == pytest.approx(float(np.sum(out.astype(np.float64) ** 2)),
                                                rel=1e-12)
    for bad, dtype in ((_with(C, 1, 2, np.nan), np.float64), (_with(C, 0, 0, np.inf), np.float64),
                       (_with(C, 3, 1, 1e39), np.float32)):
        with pytest.raises(ValueError) as ours:
            checked_float_copy(bad, dtype, "init")
        with pytest.raises(ValueError) as theirs:
            check_array(bad, dtype=dtype, order="C", copy=True, input_name="init")
        assert str(ours.value) == str(theirs.value)
        assert "init" in str(ours.value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_values", [1, 7, 1000])
def test_check_magnitude_shortcut_never_changes_the_verdict(dtype, n_values):
    """check_magnitude's one-dot-product shortcut accepts only data the exact rule accepts
    (largest magnitude M: 4 d n M**2 within the dtype's max, M**2 at least its tiny):
    data made of one value M among zeros, or of n copies of M, on both sides of each limit."""
    from kmix._validation import check_magnitude

    info = np.finfo(dtype)
    n, d = n_values, 2
    limit = np.sqrt(float(info.max) / (4 * n * d))
    low = np.sqrt(float(info.tiny))
    for M in [limit * f for f in (0.001, 0.01, 0.03, 0.3, 0.5, 0.7, 0.71, 0.72, 0.99,
                                           0.999, 1.001, 1.01, 2.0)] + [
            low * f for f in (0.5, 0.99, 1.001, 1.01, 1.5, 3.0, 100.0)]:
        M = float(dtype(M))
        accepted = (M <= limit) and not (0 < M * M < float(info.tiny))
        for X in (np.full((n, d), M, dtype=dtype),
                  np.concatenate([np.zeros((n - 1, d)), [[0.0, -M]]]).astype(dtype)):
            if accepted:
                assert check_magnitude(X) is X
            else:
                with pytest.raises(ValueError, match="overflow|underflow"):
                    check_magnitude(X)


@pytest.mark.parametrize("fit, squares, norms", [
    # one pass gives the row norms, their sum serves both checks; KMeans uses the norms
    (lambda X: KMeans(3, n_init=1, max_iter=2, tol=0, random_state=0).fit(X), 0, 1),
    (lambda X: kmix.MiniBatchKMeans(3, n_init=1, max_iter=2, random_state=0).fit(X), 0, 1),
    # (its k-means initialisation reads the norms and variance once more)
    (lambda X: kmix.GaussianMixture(2, max_iter=50, random_state=0).fit(X), 0, 2),
])
def test_fit_reads_X_once_for_validation(fit, squares, norms, monkeypatch):
    """validate_fit_data's pass over X (the rows' squared norms) serves check_magnitude
    too (each of those checks was a pass over all of X); KMeans takes the row norms it
    needs from that pass."""
    from kmix._core import _lloyd
    X = np.random.RandomState(0).normal(size=(500, 4))
    calls = {"squares": 0, "norms": 0}
    real_squares, real_norms = _lloyd.sum_of_squares, _lloyd.row_norms_variance

    def counting_squares(values, *args):
        calls["squares"] += values.shape[0] == X.size
        return real_squares(values, *args)

    def counting_norms(values, *args):
        calls["norms"] += values.shape == X.shape
        return real_norms(values, *args)

    monkeypatch.setattr(_lloyd, "sum_of_squares", counting_squares)
    monkeypatch.setattr(_lloyd, "row_norms_variance", counting_norms)
    fit(X)
    assert calls["squares"] == squares
    assert calls["norms"] == norms


def test_validate_fit_data_returns_the_sum_of_squares():
    """The rows' squared norms and their sum for a C-contiguous float array, None where the
    general path converted the input."""
    from kmix._validation import validate_fit_data
    X = np.random.RandomState(1).normal(size=(300, 5))
    out, norms, squares = validate_fit_data(KMeans(), X, dtype=[np.float64])
    assert out is X
    assert_allclose = np.testing.assert_allclose
    assert_allclose(norms, np.einsum("ij,ij->i", X, X), rtol=1e-13)
    assert squares == pytest.approx(float(np.sum(X**2)), rel=1e-12)
    out, norms, squares = validate_fit_data(KMeans(), X.tolist(), dtype=[np.float64])
    assert norms is None and squares is None
    np.testing.assert_array_equal(out, X)


def test_kmeans_plusplus_reads_X_once_before_seeding(monkeypatch):
    """kmeans_plusplus on a C-contiguous float array: one compiled pass gives the rows'
    squared norms and, by their sum, the finiteness and magnitude checks (no separate sum
    of squares); other inputs take check_array's path and seed the same."""
    from kmix._core import _lloyd
    X = np.random.RandomState(2).normal(size=(400, 6))
    norms_calls, squares_calls = [], []
    real_norms, real_squares = _lloyd.row_norms_variance, _lloyd.sum_of_squares

    def counting_norms(values, *args):
        norms_calls.append(values.shape)
        return real_norms(values, *args)

    def counting_squares(values, *args):
        squares_calls.append(values.shape)
        return real_squares(values, *args)

    monkeypatch.setattr(_lloyd, "row_norms_variance", counting_norms)
    monkeypatch.setattr(_lloyd, "sum_of_squares", counting_squares)
    centers, indices = kmix.kmeans_plusplus(X, 5, random_state=0)
    assert norms_calls == [X.shape]
    assert squares_calls == []
    centers_list, indices_list = kmix.kmeans_plusplus(X.tolist(), 5, random_state=0)
    np.testing.assert_array_equal(indices_list, indices)
    np.testing.assert_array_equal(centers_list, centers)
