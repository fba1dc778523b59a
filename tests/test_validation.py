"""Every bad input raises ValueError (TypeError for a wrong type) naming the problem."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

import kmix
from kmix import KMeans


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
        ({"init": 3}, ValueError, "init must be 'k-means\\+\\+', 'random', a callable or an "
                                  "array"),
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
