"""kmix.KMeans against scikit-learn, closed forms and invariants.

References used here:
- scikit-learn's KMeans started from the same initial centres (``init=array, n_init=1``),
- closed-form solutions (k = 1, n_samples = k, two obvious 1-D groups, weighted means),
- invariants (predict(X) == labels_, inertia recomputed with numpy, weights == repetition,
  bitwise determinism over thread counts, monotone Lloyd inertia).
"""
import contextlib
import io
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.cluster import KMeans as SKKMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import ThreadpoolController

import kmix
from kmix import KMeans

ALGORITHMS = ["lloyd", "elkan", "hamerly", "yinyang"]
# kmix's 'hamerly' and 'yinyang' have no scikit-learn counterpart: they must reproduce Lloyd's
# iterations.
SKLEARN_ALGORITHM = {"lloyd": "lloyd", "elkan": "elkan", "hamerly": "lloyd", "yinyang": "lloyd"}
_THREADPOOLS = ThreadpoolController()


def reference(fit, *args, **kwargs):
    """Run a scikit-learn reference computation with single-threaded OpenMP.

    The results do not depend on it; it only keeps scikit-learn's spinning OpenMP team from
    slowing the suite down when the 2 cores are shared with other processes.
    """
    with _THREADPOOLS.limit(limits=1, user_api="openmp"):
        return fit(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def numpy_sq_distances(X, centers):
    """Exact squared distances (n, k) by broadcasting, in float64."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    diff = X.astype(np.float64)[:, None, :] - np.asarray(centers, dtype=np.float64)[None, :, :]
    return np.einsum("ijk,ijk->ij", diff, diff)


def numpy_inertia(X, centers, labels, sample_weight=None):
    """sum_i w_i ||x_i - c_{labels_i}||^2 in float64."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    diff = X.astype(np.float64) - np.asarray(centers, dtype=np.float64)[labels]
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    return float(np.sum(w * np.einsum("ij,ij->i", diff, diff)))


def assert_labels_are_closest(X, centers, labels, rtol=1e-9):
    """Every sample's assigned centre is a closest centre, up to rounding of the distances."""
    d2 = numpy_sq_distances(X, centers)
    assigned = d2[np.arange(d2.shape[0]), labels]
    X = np.asarray(X, dtype=np.float64)
    scale = 1.0 + np.sum(X**2, axis=1) + np.max(np.sum(np.asarray(centers) ** 2, axis=1))
    assert np.all(assigned <= d2.min(axis=1) + rtol * scale)


def assert_same_fit(a, b, *, inertia_rtol, centers_tol):
    assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
    assert_allclose(a.inertia_, b.inertia_, rtol=inertia_rtol)
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=centers_tol, atol=centers_tol)


def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------------------------
# 1. same initial centres => same result as scikit-learn
# --------------------------------------------------------------------------------------------
SHAPES = [
    # (n_samples, n_features, n_clusters, true centres): fused loops (d < 16), gemm (d >= 16)
    pytest.param(1000, 2, 8, 12, id="n1000-d2-k8"),
    pytest.param(1000, 20, 8, 12, id="n1000-d20-k8"),
    pytest.param(1000, 40, 8, 12, id="n1000-d40-k8"),
]
# k > 256: centres are tiled by 256, on both distance paths
SHAPES_MANY_CLUSTERS = [
    pytest.param(2000, 5, 300, 400, id="n2000-d5-k300"),
    pytest.param(2000, 20, 300, 400, id="n2000-d20-k300"),
]


@pytest.mark.parametrize("n_samples, n_features, n_clusters, n_true", SHAPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_matches_sklearn_from_same_init(overlapping_blobs, init_rows, n_samples, n_features,
                                        n_clusters, n_true, algorithm, dtype, sparse,
                                        weighted):
    _check_matches_sklearn(overlapping_blobs, init_rows, n_samples, n_features, n_clusters,
                           n_true, algorithm, dtype, sparse, weighted)


@pytest.mark.parametrize("n_samples, n_features, n_clusters, n_true", SHAPES_MANY_CLUSTERS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse, weighted", [(False, False), (True, True)],
                         ids=["dense-unweighted", "csr-weighted"])
def test_matches_sklearn_from_same_init_many_clusters(overlapping_blobs, init_rows, n_samples,
                                                      n_features, n_clusters, n_true,
                                                      algorithm, dtype, sparse, weighted):
    _check_matches_sklearn(overlapping_blobs, init_rows, n_samples, n_features, n_clusters,
                           n_true, algorithm, dtype, sparse, weighted)


def _check_matches_sklearn(overlapping_blobs, init_rows, n_samples, n_features, n_clusters,
                           n_true, algorithm, dtype, sparse, weighted):
    X, _ = overlapping_blobs(n_samples, n_features, n_true)
    X = X.astype(dtype)
    init = init_rows(X, n_clusters, seed=1)
    sample_weight = (np.random.RandomState(2).uniform(0.5, 2.0, size=n_samples)
                     if weighted else None)
    Xfit = sp.csr_matrix(X) if sparse else X

    ref = reference(SKKMeans(n_clusters, init=init, n_init=1,
                             algorithm=SKLEARN_ALGORITHM[algorithm]).fit,
                    Xfit, sample_weight=sample_weight)
    km = KMeans(n_clusters, init=init, n_init=1, algorithm=algorithm).fit(
        Xfit, sample_weight=sample_weight)

    # The data must exercise several iterations for the comparison to mean anything.
    assert ref.n_iter_ >= 3
    assert km.cluster_centers_.dtype == dtype
    assert km.labels_.shape == (n_samples,)
    if dtype == np.float64:
        assert_same_fit(km, ref, inertia_rtol=1e-6, centers_tol=1e-8)
    else:
        assert_same_fit(km, ref, inertia_rtol=1e-4, centers_tol=1e-4)
    # inertia_ is what it claims to be
    assert_allclose(km.inertia_, numpy_inertia(X, km.cluster_centers_, km.labels_,
                                               sample_weight),
                    rtol=1e-9 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_sklearn_on_truly_sparse_data(algorithm, dtype):
    X = sp.random(600, 50, density=0.1, format="csr", random_state=3, dtype=np.float64)
    X = X.astype(dtype)
    init = X[np.random.RandomState(0).choice(600, 6, replace=False)].toarray()
    w = np.random.RandomState(1).randint(1, 4, size=600).astype(float)
    ref = reference(SKKMeans(6, init=init, n_init=1, algorithm=SKLEARN_ALGORITHM[algorithm]).fit,
                    X, sample_weight=w)
    km = KMeans(6, init=init, n_init=1, algorithm=algorithm).fit(X, sample_weight=w)
    assert ref.n_iter_ >= 3
    tol = 1e-6 if dtype == np.float64 else 1e-4
    assert_same_fit(km, ref, inertia_rtol=tol, centers_tol=tol)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_empty_cluster_relocation_matches_sklearn(algorithm, dtype, sparse, weighted):
    X, _ = make_blobs(500, 2, centers=6, cluster_std=1.5, random_state=3)
    X = X.astype(dtype)
    # Two duplicate centres and two far-away ones: three clusters are empty after the first
    # assignment and must be relocated to the farthest samples.
    init = np.array([X[0], X[0], X[1], [100.0, 100.0], [-100.0, 50.0], X[2]])
    w = np.random.RandomState(0).uniform(0.5, 2, size=500) if weighted else None
    Xfit = sp.csr_matrix(X) if sparse else X

    first = KMeans(6, init=init, n_init=1, algorithm=algorithm, max_iter=1).fit(
        Xfit, sample_weight=w)
    # after one iteration with relocation no centre is left far away
    assert np.abs(first.cluster_centers_).max() < 50
    ref = reference(SKKMeans(6, init=init, n_init=1, algorithm=SKLEARN_ALGORITHM[algorithm]).fit,
                    Xfit, sample_weight=w)
    km = KMeans(6, init=init, n_init=1, algorithm=algorithm).fit(Xfit, sample_weight=w)
    assert np.unique(km.labels_).size == 6
    tol = 1e-6 if dtype == np.float64 else 1e-4
    assert_same_fit(km, ref, inertia_rtol=tol, centers_tol=tol)


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_matches_sklearn_with_same_random_state(init, random_state):
    """kmix draws the same random numbers as scikit-learn: same seeds, same result."""
    X, _ = make_blobs(200, 3, centers=6, cluster_std=1.5, random_state=3)
    ref = reference(SKKMeans(6, init=init, random_state=random_state).fit, X)
    km = KMeans(6, init=init, random_state=random_state).fit(X)
    assert_same_fit(km, ref, inertia_rtol=1e-9, centers_tol=1e-9)


# --------------------------------------------------------------------------------------------
# 2. Lloyd, Elkan and Hamerly agree label for label
# --------------------------------------------------------------------------------------------
def _datasets():
    rng = np.random.RandomState(0)
    out = {}
    X, _ = make_blobs(800, 2, centers=10, cluster_std=2.0, random_state=0)
    out["blobs-d2-k7"] = (X, 7)
    X, _ = make_blobs(800, 20, centers=10, cluster_std=4.0, random_state=1)
    out["blobs-d20-k7"] = (X, 7)
    out["uniform-d3-k12"] = (rng.uniform(-1, 1, size=(700, 3)), 12)
    out["normal-d17-k5"] = (rng.normal(size=(500, 17)), 5)
    X, _ = make_blobs(1500, 4, centers=350, cluster_std=0.8, random_state=2)
    out["blobs-d4-k290"] = (X, 290)
    return out


DATASETS = _datasets()


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tol, max_iter", [(1e-4, 300), (0.0, 300), (0.0, 3), (1e-4, 2)],
                         ids=["default", "tol0", "tol0-maxiter3", "maxiter2"])
def test_algorithms_agree(name, dtype, tol, max_iter):
    X, k = DATASETS[name]
    X = X.astype(dtype)
    init = X[np.random.RandomState(5).choice(X.shape[0], k, replace=False)]
    fits = {a: KMeans(k, init=init, n_init=1, algorithm=a, tol=tol, max_iter=max_iter).fit(X)
            for a in ALGORITHMS}
    lloyd = fits["lloyd"]
    if max_iter < 10:
        assert lloyd.n_iter_ == max_iter  # the limit is really hit
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    for algorithm, km in fits.items():
        assert_array_equal(km.labels_, lloyd.labels_, err_msg=algorithm)
        assert km.n_iter_ == lloyd.n_iter_, algorithm
        assert_allclose(km.inertia_, lloyd.inertia_, rtol=rtol, err_msg=algorithm)
        assert_allclose(km.cluster_centers_, lloyd.cluster_centers_, rtol=rtol * 10,
                        atol=rtol * 10, err_msg=algorithm)
        # final labels belong to the final centres, even when the iteration limit was hit
        assert_array_equal(km.predict(X), km.labels_, err_msg=algorithm)


@pytest.mark.parametrize("alias", ["auto", "full"])
def test_algorithm_aliases_give_lloyd_result(alias):
    X, k = DATASETS["blobs-d2-k7"]
    a = KMeans(k, algorithm="lloyd", random_state=0).fit(X)
    b = KMeans(k, algorithm=alias, random_state=0).fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
    assert_allclose(a.inertia_, b.inertia_, rtol=1e-12)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tol0_converged_centres_are_cluster_means(algorithm):
    """With tol=0, convergence is strict: centres are the weighted means of their clusters."""
    X, _ = make_blobs(400, 3, centers=5, cluster_std=2.0, random_state=4)
    w = np.random.RandomState(0).uniform(0.1, 3.0, size=400)
    km = KMeans(5, tol=0, random_state=0, algorithm=algorithm).fit(X, sample_weight=w)
    assert km.n_iter_ < km.max_iter
    for j in range(5):
        mask = km.labels_ == j
        assert mask.any()
        assert_allclose(km.cluster_centers_[j],
                        np.average(X[mask], axis=0, weights=w[mask]), rtol=1e-10, atol=1e-10)
    assert_allclose(km.inertia_, numpy_inertia(X, km.cluster_centers_, km.labels_, w),
                    rtol=1e-10)
    assert_labels_are_closest(X, km.cluster_centers_, km.labels_)


# --------------------------------------------------------------------------------------------
# closed-form cases
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_two_obvious_groups_closed_form(algorithm, sparse):
    X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    w = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 4.0])
    Xfit = sp.csr_matrix(X) if sparse else X
    km = KMeans(2, init=np.array([[0.0], [12.0]]), algorithm=algorithm).fit(Xfit,
                                                                            sample_weight=w)
    assert_array_equal(km.labels_, [0, 0, 0, 1, 1, 1])
    c0 = (0 * 1 + 1 * 2 + 2 * 1) / 4.0
    c1 = (10 * 1 + 11 * 1 + 12 * 4) / 6.0
    assert_allclose(km.cluster_centers_, [[c0], [c1]], rtol=1e-12)
    expected = (1 * c0**2 + 2 * (1 - c0) ** 2 + 1 * (2 - c0) ** 2
                + (10 - c1) ** 2 + (11 - c1) ** 2 + 4 * (12 - c1) ** 2)
    assert_allclose(km.inertia_, expected, rtol=1e-12)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_single_cluster_is_weighted_mean(algorithm, dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4)).astype(dtype)
    w = rng.uniform(0.1, 2, size=300)
    km = KMeans(1, algorithm=algorithm, random_state=0).fit(X, sample_weight=w)
    mean = np.average(X.astype(np.float64), axis=0, weights=w)
    assert_allclose(km.cluster_centers_[0], mean, rtol=1e-5, atol=1e-6)
    assert_array_equal(km.labels_, np.zeros(300))
    expected = np.sum(w * np.sum((X.astype(np.float64) - mean) ** 2, axis=1))
    assert_allclose(km.inertia_, expected, rtol=1e-9 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_as_many_clusters_as_samples(algorithm):
    X = np.random.RandomState(0).normal(size=(6, 3))
    km = KMeans(6, algorithm=algorithm, random_state=0).fit(X)
    assert km.inertia_ == pytest.approx(0.0, abs=1e-20)
    assert sorted(km.labels_) == list(range(6))
    assert_allclose(km.cluster_centers_[km.labels_], X, atol=1e-12)


# --------------------------------------------------------------------------------------------
# 3. float32 stays float32, close to float64
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("n_features", [3, 20])
def test_float32_keeps_dtype_and_matches_float64(algorithm, sparse, n_features):
    X64, _ = make_blobs(800, n_features, centers=6, cluster_std=1.0, random_state=0)
    X32 = X64.astype(np.float32)
    init = X64[np.random.RandomState(0).choice(800, 6, replace=False)]
    wrap = sp.csr_matrix if sparse else np.asarray
    km64 = KMeans(6, init=init, algorithm=algorithm).fit(wrap(X64))
    km32 = KMeans(6, init=init, algorithm=algorithm).fit(wrap(X32))
    assert km64.cluster_centers_.dtype == np.float64
    assert km32.cluster_centers_.dtype == np.float32
    assert km32.transform(wrap(X32)).dtype == np.float32
    assert km32.fit_transform(wrap(X32)).dtype == np.float32
    assert isinstance(km32.inertia_, float)
    assert np.mean(km32.labels_ == km64.labels_) > 0.99
    assert_allclose(km32.inertia_, km64.inertia_, rtol=1e-4)
    assert_allclose(km32.cluster_centers_, km64.cluster_centers_, rtol=1e-4, atol=1e-4)
    assert_array_equal(km32.predict(wrap(X32)), km32.labels_)


# --------------------------------------------------------------------------------------------
# 4. integer weights == repeated rows
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("n_features", [3, 20])
def test_integer_weights_equal_repeated_rows(overlapping_blobs, algorithm, sparse, n_features):
    X, _ = overlapping_blobs(400, n_features, 8)
    counts = np.random.RandomState(0).randint(1, 5, size=400)
    X_rep = np.repeat(X, counts, axis=0)
    init = X[np.random.RandomState(1).choice(400, 6, replace=False)]
    wrap = sp.csr_matrix if sparse else np.asarray
    weighted = KMeans(6, init=init, algorithm=algorithm).fit(wrap(X),
                                                             sample_weight=counts.astype(float))
    repeated = KMeans(6, init=init, algorithm=algorithm).fit(wrap(X_rep))
    assert weighted.n_iter_ >= 3
    assert weighted.n_iter_ == repeated.n_iter_
    assert_array_equal(np.repeat(weighted.labels_, counts), repeated.labels_)
    assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-10,
                    atol=1e-10)
    assert_allclose(weighted.inertia_, repeated.inertia_, rtol=1e-10)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_zero_weights_equal_removed_rows(algorithm):
    X, _ = make_blobs(300, 2, centers=5, cluster_std=1.5, random_state=0)
    w = np.ones(300)
    w[::3] = 0.0
    init = X[1:11:2][:4]
    full = KMeans(4, init=init, algorithm=algorithm).fit(X, sample_weight=w)
    kept = KMeans(4, init=init, algorithm=algorithm).fit(X[w > 0])
    assert_allclose(full.cluster_centers_, kept.cluster_centers_, rtol=1e-10, atol=1e-10)
    assert_allclose(full.inertia_, kept.inertia_, rtol=1e-10)
    assert_array_equal(full.labels_[w > 0], kept.labels_)
    assert full.n_iter_ == kept.n_iter_


def test_constant_weight_scales_inertia_only():
    X, _ = make_blobs(300, 3, centers=4, random_state=0)
    a = KMeans(4, random_state=0).fit(X)
    b = KMeans(4, random_state=0).fit(X, sample_weight=np.full(300, 3.0))
    assert_array_equal(a.labels_, b.labels_)
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert_allclose(b.inertia_, 3.0 * a.inertia_, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# 5. bitwise determinism across thread counts (>= 100k samples)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def large_blobs():
    X, _ = make_blobs(100_000, 20, centers=20, cluster_std=3.0, random_state=0)
    return X


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [5, 20], ids=["d5-fused", "d20-gemm"])
def test_bitwise_deterministic_across_threads(large_blobs, algorithm, dtype, n_features):
    X = np.ascontiguousarray(large_blobs[:, :n_features], dtype=dtype)
    assert X.shape[0] >= 100_000

    def run(n_threads):
        # default init: k-means++ seeding runs in the compiled, threaded kernels too
        return KMeans(12, random_state=0, algorithm=algorithm, n_threads=n_threads,
                      max_iter=10).fit(X)

    one, two, two_again = run(1), run(2), run(2)
    assert one.n_iter_ >= 3  # several update passes, not just the seeding
    for other in (two, two_again):
        assert bitwise_equal(one.cluster_centers_, other.cluster_centers_)
        assert bitwise_equal(one.labels_, other.labels_)
        assert one.inertia_ == other.inertia_
        assert one.n_iter_ == other.n_iter_


def test_bitwise_deterministic_across_threads_sparse(large_blobs):
    X = large_blobs.copy()
    X[np.abs(X) < 4.0] = 0.0
    X = sp.csr_matrix(X)
    assert X.shape[0] >= 100_000 and X.nnz < 0.8 * X.shape[0] * X.shape[1]
    runs = [KMeans(10, random_state=1, n_threads=t, max_iter=10).fit(X) for t in (1, 2, 2)]
    for other in runs[1:]:
        assert bitwise_equal(runs[0].cluster_centers_, other.cluster_centers_)
        assert bitwise_equal(runs[0].labels_, other.labels_)
        assert runs[0].inertia_ == other.inertia_


def test_bitwise_deterministic_with_several_inits(large_blobs):
    X = np.ascontiguousarray(large_blobs[:, :3])
    runs = [KMeans(8, init="random", n_init=3, random_state=4, n_threads=t, max_iter=10).fit(X)
            for t in (1, 2)]
    assert bitwise_equal(runs[0].cluster_centers_, runs[1].cluster_centers_)
    assert bitwise_equal(runs[0].labels_, runs[1].labels_)
    assert runs[0].inertia_ == runs[1].inertia_


# --------------------------------------------------------------------------------------------
# 6. property tests
# --------------------------------------------------------------------------------------------
@st.composite
def small_problems(draw):
    """Small data sets with distinct rows (duplicate points: see the explicit tests below)."""
    n = draw(st.integers(6, 60))
    d = draw(st.integers(1, 4))
    k = draw(st.integers(1, min(6, n)))
    X = draw(arrays(np.float64, (n, d), unique=True,
                    elements=st.floats(-100, 100, allow_nan=False, allow_infinity=False,
                                       allow_subnormal=False)))
    weighted = draw(st.booleans())
    w = (draw(arrays(np.float64, n, elements=st.floats(0.1, 10.0))) if weighted else None)
    seed = draw(st.integers(0, 2**31 - 1))
    return X, w, k, seed


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=25, deadline=None)
@given(problem=small_problems())
def test_inertia_never_increases_with_iterations(algorithm, problem):
    X, w, k, seed = problem
    init = X[np.random.RandomState(seed).choice(X.shape[0], k, replace=False)]
    inertias = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for max_iter in range(1, 9):
            km = KMeans(k, init=init, n_init=1, max_iter=max_iter, tol=0.0,
                        algorithm=algorithm).fit(X, sample_weight=w)
            # the reported inertia is the exact inertia of the reported labels and centres
            assert km.inertia_ == pytest.approx(
                numpy_inertia(X, km.cluster_centers_, km.labels_, w), rel=1e-9, abs=1e-9)
            inertias.append(km.inertia_)
    for before, after in zip(inertias, inertias[1:]):
        assert after <= before * (1 + 1e-9) + 1e-9


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_labels_match_centres_when_duplicates_force_relocation(algorithm, weighted):
    """Duplicate points, more clusters than distinct points, tol=0.

    From init [1, 1, 0] the second cluster is empty and gets relocated in every iteration.
    When the labels stop changing in an iteration whose relocation still moved a centre, the
    run must not end with labels_ that belong to the previous centres: labels_ must be
    predict(X), and the inertia (0 after one iteration) must not rise with more iterations.
    (scikit-learn 1.9 has the same flaw; kmix documents predict(X) == labels_.)
    """
    X = np.array([[1.0], [0.0], [1.0], [1.0], [1.0], [1.0]])
    w = np.full(6, 0.375) if weighted else None
    init = np.array([[1.0], [1.0], [0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = KMeans(3, init=init, tol=0, max_iter=1, algorithm=algorithm).fit(
            X, sample_weight=w)
        full = KMeans(3, init=init, tol=0, algorithm=algorithm).fit(X, sample_weight=w)
    assert one.inertia_ == pytest.approx(0.0, abs=1e-12)
    assert_array_equal(full.predict(X), full.labels_)
    assert_labels_are_closest(X, full.cluster_centers_, full.labels_)
    assert full.inertia_ <= one.inertia_ + 1e-12


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(problem=small_problems())
def test_predict_of_centres_is_arange(problem):
    X, w, k, seed = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(k, n_init=1, random_state=seed % 1000).fit(X, sample_weight=w)
    C = km.cluster_centers_
    if k > 1:
        gaps = numpy_sq_distances(C, C)[~np.eye(k, dtype=bool)]
        assume(gaps.min() > 1e-6 * (1.0 + np.max(np.sum(C**2, axis=1))))
    assert_array_equal(km.predict(C), np.arange(k))
    # labels_ are closest centres (exact ties may be broken either way)
    assert_labels_are_closest(X, C, km.labels_)


# --------------------------------------------------------------------------------------------
# 7. scikit-learn API compliance
# --------------------------------------------------------------------------------------------
def _expected_failed_checks(estimator):
    # scikit-learn declares exactly these as expected failures of its own KMeans: with a
    # random initialisation, weighting a row by 2 draws different seeds than repeating it.
    # (The deterministic version of the property is test_integer_weights_equal_repeated_rows.)
    reason = "sample_weight is not equivalent to removing/repeating samples (random seeding)."
    return {
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    }


@parametrize_with_checks([KMeans(n_clusters=3)], expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_and_grid_search_match_sklearn():
    X, y = make_blobs(150, 4, centers=3, cluster_std=2.5, random_state=0)

    def search(kmeans):
        pipe = Pipeline([("scale", StandardScaler()), ("kmeans", kmeans),
                         ("clf", LogisticRegression())])
        grid = GridSearchCV(pipe, {"kmeans__n_clusters": [2, 3, 6]}, cv=3)
        return grid.fit(X, y)

    ours = search(KMeans(random_state=0))
    ref = reference(search, SKKMeans(random_state=0))
    assert isinstance(ours.best_estimator_.named_steps["kmeans"], KMeans)
    assert ours.best_estimator_.named_steps["kmeans"].n_clusters == \
        ours.best_params_["kmeans__n_clusters"]
    assert ours.best_score_ > 0.8
    # same seeds, same centres, same features: the same cross-validation scores
    assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"])
    assert ours.best_params_ == ref.best_params_
    assert ours.score(X, y) == pytest.approx(ref.score(X, y))


def test_params_match_sklearn_defaults_and_round_trip():
    ours = KMeans().get_params()
    ref = SKKMeans().get_params()
    assert set(ref) <= set(ours)
    # Every default is scikit-learn's except the algorithm: kmix picks the fastest exact one.
    assert ours["algorithm"] == "auto" and ref["algorithm"] == "lloyd"
    assert {key: ours[key] for key in ref if key != "algorithm"} == {
        key: value for key, value in ref.items() if key != "algorithm"}
    assert set(ours) - set(ref) == {"n_threads"}

    km = KMeans(4, init="random", n_init=3, max_iter=50, tol=1e-3, random_state=5,
                algorithm="elkan", n_threads=1)
    cloned = clone(km)
    assert cloned is not km
    assert cloned.get_params() == km.get_params()
    assert km.set_params(n_clusters=7, algorithm="hamerly") is km
    assert km.n_clusters == 7 and km.algorithm == "hamerly"
    assert cloned.n_clusters == 4
    # a clone of a fitted model is unfitted
    X = np.random.RandomState(0).normal(size=(50, 2))
    km.fit(X)
    assert not hasattr(clone(km), "cluster_centers_")
    # set_params then fit behaves like constructing with those params
    a = KMeans().set_params(n_clusters=3, random_state=0).fit(X)
    b = KMeans(3, random_state=0).fit(X)
    assert_array_equal(a.labels_, b.labels_)


# --------------------------------------------------------------------------------------------
# 8. methods and attributes
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_blobs():
    X, _ = make_blobs(300, 5, centers=4, cluster_std=1.5, random_state=0)
    return X


def test_fit_predict_returns_labels_attribute(small_blobs):
    km = KMeans(4, random_state=0)
    labels = km.fit_predict(small_blobs)
    assert labels is km.labels_
    assert labels.dtype == np.int32
    assert_array_equal(KMeans(4, random_state=0).fit(small_blobs).labels_, labels)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_transform_is_euclidean_distance(small_blobs, sparse):
    km = KMeans(4, random_state=0).fit(small_blobs)
    X_new = np.random.RandomState(1).normal(scale=5, size=(40, 5))
    Xin = sp.csr_matrix(X_new) if sparse else X_new
    D = km.transform(Xin)
    assert D.shape == (40, 4)
    assert_allclose(D, np.sqrt(numpy_sq_distances(X_new, km.cluster_centers_)), rtol=1e-10,
                    atol=1e-8)
    # predict is the argmin of transform (no near ties in continuous random data)
    assert_array_equal(km.predict(Xin), np.argmin(D, axis=1))


def test_predict_new_data_matches_sklearn(small_blobs):
    init = small_blobs[:4]
    km = KMeans(4, init=init).fit(small_blobs)
    ref = reference(SKKMeans(4, init=init, n_init=1).fit, small_blobs)
    X_new = np.random.RandomState(3).normal(scale=6, size=(200, 5))
    assert_array_equal(km.predict(X_new), ref.predict(X_new))
    assert_allclose(km.transform(X_new), ref.transform(X_new), rtol=1e-9)
    assert_allclose(km.score(X_new), ref.score(X_new), rtol=1e-9)


@pytest.mark.parametrize(
    "as_input",
    [lambda X: X, lambda X: X.astype(np.float32), sp.csr_matrix,
     lambda X: np.round(X).astype(np.int64), lambda X: X.tolist()],
    ids=["float64", "float32", "csr", "int64", "list"])
def test_fit_transform_equals_fit_then_transform(small_blobs, as_input):
    Xin = as_input(small_blobs)
    km = KMeans(4, random_state=0)
    Xt = km.fit_transform(Xin)
    expected = KMeans(4, random_state=0).fit(Xin).transform(Xin)
    assert Xt.dtype == expected.dtype
    assert_allclose(Xt, expected, rtol=1e-12)
    assert_allclose(Xt, km.transform(Xin), rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_score_is_minus_inertia_on_training_data(small_blobs, weighted):
    w = np.random.RandomState(0).uniform(0.5, 2, size=300) if weighted else None
    km = KMeans(4, random_state=0).fit(small_blobs, sample_weight=w)
    assert km.score(small_blobs, sample_weight=w) == pytest.approx(-km.inertia_, rel=1e-10)
    X_new = small_blobs[:50] + 0.5
    assert km.score(X_new) == pytest.approx(
        -numpy_inertia(X_new, km.cluster_centers_, km.predict(X_new)), rel=1e-10)


def test_feature_names_out_and_n_features_in(small_blobs):
    km = KMeans(4, random_state=0).fit(small_blobs)
    assert km.n_features_in_ == 5
    assert list(km.get_feature_names_out()) == ["kmeans0", "kmeans1", "kmeans2", "kmeans3"]
    assert not hasattr(km, "feature_names_in_")
    assert isinstance(km.n_iter_, int)
    assert isinstance(km.inertia_, float)
    assert km.cluster_centers_.shape == (4, 5)


def test_feature_names_in_with_pandas(small_blobs):
    pd = pytest.importorskip("pandas")
    columns = [f"col{i}" for i in range(5)]
    df = pd.DataFrame(small_blobs, columns=columns)
    km = KMeans(4, random_state=0).fit(df)
    assert list(km.feature_names_in_) == columns
    ref = KMeans(4, random_state=0).fit(small_blobs)
    assert_array_equal(km.labels_, ref.labels_)
    assert_array_equal(km.predict(df), ref.labels_)
    assert_allclose(km.transform(df), ref.transform(small_blobs))
    assert list(km.get_feature_names_out()) == ["kmeans0", "kmeans1", "kmeans2", "kmeans3"]


def test_fit_transform_with_pandas_dataframe(small_blobs):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(small_blobs, columns=[f"col{i}" for i in range(5)])
    ref = KMeans(4, random_state=0).fit(small_blobs)
    Xt = KMeans(4, random_state=0).fit_transform(df)
    assert_allclose(Xt, ref.transform(small_blobs), rtol=1e-12)


def _count_inits(**params):
    """Number of initialisations of one fit, from verbose output."""
    X, _ = make_blobs(200, 2, centers=4, random_state=0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        KMeans(4, verbose=1, random_state=0, **params).fit(X)
    return out.getvalue().count("Initialization complete")


@pytest.mark.parametrize("n_features, n_clusters, dtype, expected", [
    (3, 8, np.float64, "hamerly"), (3, 64, np.float64, "hamerly"),
    (3, 64, np.float32, "hamerly"), (3, 600, np.float32, "hamerly"),
    (50, 100, np.float32, "hamerly"), (300, 10, np.float64, "elkan"),
    (32, 600, np.float64, "yinyang"), (32, 600, np.float32, "yinyang"),
])
def test_auto_algorithm_follows_the_measured_rule(monkeypatch, n_features, n_clusters, dtype,
                                                  expected):
    """'auto' resolves by shape and dtype as resolve_algorithm's measurements say (narrow
    data runs Hamerly whatever the number of centres and dtype; wide data Yinyang from 500
    centres when max_iter allows YINYANG_MIN_ITER iterations, Lloyd for fewer)."""
    from kmix._kmeans_algorithms import YINYANG_MIN_ITER
    X = np.random.RandomState(0).normal(size=(max(6000, 2 * n_clusters), n_features))
    assert _algorithms_run(monkeypatch, X.astype(dtype), n_clusters,
                           max_iter=YINYANG_MIN_ITER) == [expected]
    if expected == "yinyang":
        assert _algorithms_run(monkeypatch, X.astype(dtype), n_clusters,
                               max_iter=YINYANG_MIN_ITER - 1) == ["lloyd"]


def test_auto_keeps_lloyd_where_yinyang_bounds_would_not_fit():
    """'auto' runs Yinyang at 500+ centres on wide data only while its float32 group bounds
    (n x ceil(k / 8)) fit in YINYANG_MAX_BOUND_BYTES; beyond, Lloyd (no per-row state)."""
    from kmix._kmeans_algorithms import YINYANG_MAX_BOUND_BYTES, resolve_algorithm
    fits = YINYANG_MAX_BOUND_BYTES // (4 * 125)
    assert resolve_algorithm("auto", fits, 32, 1000, False) == "yinyang"
    assert resolve_algorithm("auto", fits + 1, 32, 1000, False) == "lloyd"
    assert resolve_algorithm("yinyang", fits + 1, 32, 1000, False) == "yinyang"


def _algorithms_run(monkeypatch, X, n_clusters, max_iter=2):
    """The algorithms that a default KMeans fit on X runs (one start)."""
    import kmix._kmeans as km_module
    ran = []
    run = km_module.kmeans_single

    def spy(*args, algorithm, **kwargs):
        ran.append(algorithm)
        return run(*args, algorithm=algorithm, **kwargs)

    monkeypatch.setattr(km_module, "kmeans_single", spy)
    KMeans(n_clusters, n_init=1, max_iter=max_iter, random_state=0).fit(X)
    return ran


def test_n_init_auto():
    X, _ = make_blobs(200, 2, centers=4, random_state=0)
    calls = []

    def init(X, n_clusters, random_state):
        calls.append(X.copy())
        return X[random_state.choice(X.shape[0], n_clusters, replace=False)]

    KMeans(4, init=init, random_state=0).fit(X)
    assert len(calls) == 10
    # the callable sees X itself (scikit-learn passes its mean-centred copy; kmix's exact
    # assignment rule works on the samples as given, README: Differences from scikit-learn)
    assert_array_equal(calls[0], X)
    calls.clear()
    KMeans(4, init=init, n_init=3, random_state=0).fit(X)
    assert len(calls) == 3

    assert _count_inits() == 1                      # 'k-means++'
    assert _count_inits(init="random") == 10
    assert _count_inits(init=X[:4]) == 1
    assert _count_inits(init="random", n_init=4) == 4
    # 'auto' for 'random' is the same fit as n_init=10
    a = KMeans(4, init="random", random_state=3).fit(X)
    b = KMeans(4, init="random", n_init=10, random_state=3).fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_


def test_callable_init_matches_sklearn():
    X, _ = make_blobs(300, 3, centers=5, cluster_std=2.0, random_state=1)

    def init(X, n_clusters, random_state):
        return X[random_state.permutation(X.shape[0])[:n_clusters]]

    km = KMeans(5, init=init, n_init=2, random_state=0).fit(X)
    ref = reference(SKKMeans(5, init=init, n_init=2, random_state=0).fit, X)
    assert_same_fit(km, ref, inertia_rtol=1e-9, centers_tol=1e-9)


def test_n_init_keeps_lowest_inertia():
    X, _ = make_blobs(300, 2, centers=6, cluster_std=1.0, random_state=2)
    best = KMeans(6, init="random", n_init=8, random_state=0).fit(X)
    # the 8 runs use consecutive draws of one RandomState; every single run is no better
    rs = np.random.RandomState(0)
    singles = [KMeans(6, init="random", n_init=1, random_state=rs).fit(X).inertia_
               for _ in range(8)]
    assert best.inertia_ == pytest.approx(min(singles), rel=1e-12)


def test_init_array_with_n_init_warns():
    X, _ = make_blobs(100, 2, centers=3, random_state=0)
    with pytest.warns(RuntimeWarning, match="Explicit initial center position passed"):
        km = KMeans(3, init=X[:3], n_init=5).fit(X)
    ref = KMeans(3, init=X[:3], n_init=1).fit(X)
    assert_array_equal(km.labels_, ref.labels_)
    # no warning with n_init=1 or 'auto'
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        KMeans(3, init=X[:3], n_init=1).fit(X)
        KMeans(3, init=X[:3]).fit(X)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_convergence_warning_with_duplicate_points(algorithm):
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]]), 10, axis=0)
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(3\) found "
                                                r"smaller than n_clusters \(5\)"):
        km = KMeans(5, random_state=0, algorithm=algorithm).fit(X)
    assert np.unique(km.labels_).size == 3
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)


def test_verbose_prints_each_iteration(capsys):
    X, _ = make_blobs(200, 2, centers=4, cluster_std=2.0, random_state=0)
    km = KMeans(4, verbose=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert out.count("Iteration ") == km.n_iter_
    assert "Converged at iteration" in out


def test_negative_and_large_n_threads_give_same_result(small_blobs):
    ref = KMeans(4, random_state=0).fit(small_blobs)
    for n_threads in (-1, 1, 7):
        km = KMeans(4, random_state=0, n_threads=n_threads).fit(small_blobs)
        assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
    assert kmix.effective_n_threads(1) == 1 or not kmix.openmp_enabled()
    assert kmix.effective_n_threads(-1) == kmix.effective_n_threads()
    assert kmix.effective_n_threads() >= 1


# --------------------------------------------------------------------------------------------
# 9. inputs are never modified; layouts and dtypes
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("copy_x", [True, False])
def test_inputs_not_modified(small_blobs, algorithm, sparse, dtype, copy_x):
    X = small_blobs.astype(dtype)
    X = sp.csr_matrix(X) if sparse else X
    w = np.random.RandomState(0).uniform(0.5, 2, size=300)
    init = small_blobs[:4].astype(dtype)
    saved = (X.copy(), w.copy(), init.copy())
    km = KMeans(4, init=init, algorithm=algorithm, copy_x=copy_x)
    km.fit(X, sample_weight=w)
    km.fit_predict(X, sample_weight=w)
    km.fit_transform(X, sample_weight=w)
    km.predict(X)
    km.transform(X)
    km.score(X, sample_weight=w)
    if sparse:
        for attr in ("data", "indices", "indptr"):
            assert_array_equal(getattr(X, attr), getattr(saved[0], attr))
            assert getattr(X, attr).dtype == getattr(saved[0], attr).dtype
    else:
        assert_array_equal(X, saved[0])
    assert_array_equal(w, saved[1])
    assert_array_equal(init, saved[2])
    assert km.init is init
    # the fitted centres do not alias the init array
    assert not np.shares_memory(km.cluster_centers_, init)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_read_only_memmap_input(tmp_path, small_blobs, algorithm):
    path = tmp_path / "X.npy"
    np.save(path, small_blobs)
    Xm = np.load(path, mmap_mode="r")
    assert not Xm.flags.writeable
    np.save(tmp_path / "w.npy", np.linspace(0.5, 2, 300))
    wm = np.load(tmp_path / "w.npy", mmap_mode="r")
    np.save(tmp_path / "init.npy", small_blobs[:4])
    im = np.load(tmp_path / "init.npy", mmap_mode="r")
    ref = KMeans(4, init=small_blobs[:4], algorithm=algorithm).fit(
        small_blobs, sample_weight=np.linspace(0.5, 2, 300))
    km = KMeans(4, init=im, algorithm=algorithm).fit(Xm, sample_weight=wm)
    assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(km.labels_, ref.labels_)
    assert km.inertia_ == ref.inertia_
    assert_array_equal(km.predict(Xm), ref.labels_)
    assert_allclose(km.transform(Xm), ref.transform(small_blobs))
    assert_array_equal(Xm, small_blobs)


@pytest.mark.parametrize("layout", ["fortran", "strided-columns", "strided-rows", "read-only",
                                    "int32", "int64", "list"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_layouts_and_integer_input_give_same_result(layout, algorithm):
    rng = np.random.RandomState(0)
    X = np.round(rng.normal(scale=20, size=(200, 3)) + np.repeat(
        rng.uniform(-60, 60, size=(4, 3)), 50, axis=0))  # integer-valued floats
    if layout == "fortran":
        Xin = np.asfortranarray(X)
    elif layout == "strided-columns":
        wide = np.zeros((200, 6))
        wide[:, ::2] = X
        Xin = wide[:, ::2]
        assert not Xin.flags.c_contiguous
    elif layout == "strided-rows":
        Xin = np.repeat(X, 2, axis=0)[::2]
        assert not Xin.flags.c_contiguous
    elif layout == "read-only":
        Xin = X.copy()
        Xin.setflags(write=False)
    elif layout in ("int32", "int64"):
        Xin = X.astype(layout)
    else:
        Xin = X.tolist()
    ref = KMeans(4, random_state=0, algorithm=algorithm).fit(X)
    km = KMeans(4, random_state=0, algorithm=algorithm).fit(Xin)
    assert km.cluster_centers_.dtype == np.float64
    assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(km.labels_, ref.labels_)
    assert km.inertia_ == ref.inertia_
    assert_array_equal(km.predict(Xin), ref.labels_)
    assert_allclose(km.transform(Xin), ref.transform(X), rtol=1e-12)
    assert km.score(Xin) == pytest.approx(ref.score(X), rel=1e-12)


@pytest.mark.parametrize("fmt", ["csc", "coo", "csr_array"])
def test_other_sparse_formats_give_csr_result(small_blobs, fmt):
    Xs = sp.csr_matrix(small_blobs)
    converted = {"csc": sp.csc_matrix, "coo": sp.coo_matrix, "csr_array": sp.csr_array}[fmt](
        small_blobs)
    ref = KMeans(4, random_state=0).fit(Xs)
    km = KMeans(4, random_state=0).fit(converted)
    assert_array_equal(km.labels_, ref.labels_)
    assert km.inertia_ == ref.inertia_


def test_sparse_and_dense_agree(small_blobs):
    init = small_blobs[:4]
    dense = KMeans(4, init=init).fit(small_blobs)
    sparse = KMeans(4, init=init).fit(sp.csr_matrix(small_blobs))
    assert_same_fit(dense, sparse, inertia_rtol=1e-10, centers_tol=1e-10)
    assert_array_equal(dense.predict(sp.csr_matrix(small_blobs)), dense.labels_)


# -- drop-in details (issue 12) ---------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["lloyd", "elkan", "hamerly", "yinyang"])
@pytest.mark.parametrize("sparse", [False, True])
def test_more_centres_than_distinct_points_stops_on_data_points(algorithm, sparse):
    # Every sample sits on a centre and one centre is a duplicate: relocating the empty
    # cluster is pointless, so the run stops after one iteration and every centre is a row
    # of X (scikit-learn places an empty cluster at the heaviest cluster's centre).
    X = np.array([[0, 0], [1, 1], [1, 1], [1, 0], [0, 1]], dtype=float)
    km = KMeans(n_clusters=5, init=X, n_init=1, algorithm=algorithm)
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(4\)"):
        km.fit(sp.csr_matrix(X) if sparse else X)
    assert km.n_iter_ == 1
    assert_array_equal(km.labels_, [0, 1, 1, 3, 4])
    assert_array_equal(km.cluster_centers_, X[[0, 1, 1, 3, 4]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_cluster_goes_to_the_heaviest_cluster_when_nothing_can_move(dtype):
    # Three copies of one point and one of another, four centres: two clusters stay empty.
    X = np.array([[2.0, 2.0]] * 3 + [[5.0, 5.0]], dtype=dtype)
    init = np.array([[2.0, 2.0], [5.0, 5.0], [9.0, 9.0], [8.0, 8.0]], dtype=dtype)
    with pytest.warns(ConvergenceWarning):
        km = KMeans(n_clusters=4, init=init, n_init=1, algorithm="lloyd").fit(X)
    assert_array_equal(km.cluster_centers_, [[2, 2], [5, 5], [2, 2], [2, 2]])
    assert km.cluster_centers_.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_transform_is_exactly_zero_on_a_centre_and_accurate_far_from_the_origin(dtype, sparse):
    # Data far from the origin relative to its spread: the gemm expansion alone cancels
    # (float32: ~1e-3 for a sample on a centre); the direct differences do not.
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(600, 6)) + 1e3).astype(dtype)
    km = KMeans(n_clusters=7, random_state=0, n_init=1).fit(X)
    on_centres = km.cluster_centers_
    T = km.transform(sp.csr_matrix(on_centres) if sparse else on_centres)
    assert T.dtype == dtype
    assert_array_equal(np.diag(T), 0)
    T = km.transform(sp.csr_matrix(X) if sparse else X)
    X64 = X.astype(np.float64)
    C64 = km.cluster_centers_.astype(np.float64)
    direct = np.sqrt(((X64[:, None, :] - C64[None, :, :]) ** 2).sum(-1))
    assert_allclose(T, direct, rtol=2e-7 if dtype == np.float32 else 1e-9)


def test_elkan_with_one_cluster_warns_and_runs_lloyd():
    X, _ = make_blobs(200, centers=3, random_state=0)
    with pytest.warns(RuntimeWarning, match="single cluster"):
        km = KMeans(n_clusters=1, algorithm="elkan", random_state=0, n_init=1).fit(X)
    ref = KMeans(n_clusters=1, algorithm="lloyd", random_state=0, n_init=1).fit(X)
    assert_array_equal(km.cluster_centers_, ref.cluster_centers_)
    assert km.n_iter_ == ref.n_iter_


def _fit_one_by_one(monkeypatch, params, X, sample_weight=None):
    """The fit with its restarts run one by one (seeding, then kmeans_single), as for
    problems that are not small."""
    with monkeypatch.context() as m:
        m.setattr(kmix._kmeans, "is_small_problem", lambda *shape: False)
        return KMeans(**params).fit(X, sample_weight=sample_weight)


def test_small_problems_run_all_restarts_in_one_call_with_the_same_result(monkeypatch):
    """A small dense k-means++ fit runs every restart in one compiled call; a restart whose
    iterations empty a cluster comes back to kmeans_single, which relocates. Both give the
    fit of the restarts run one by one, bit for bit."""
    import kmix._kmeans_algorithms as algorithms

    fallbacks = []
    run_single = algorithms.kmeans_single

    def counted(*args, **kwargs):
        fallbacks.append(1)
        return run_single(*args, **kwargs)

    for seed in range(60):
        rng = np.random.RandomState(seed)
        n, d = rng.randint(3, 600), rng.randint(1, 6)
        k = rng.randint(1, min(n, 10) + 1)
        kind = seed % 3
        if kind == 0:                    # duplicates: empty clusters, exact ties
            X = rng.randint(0, 3, (n, d)).astype(float)
        elif kind == 1:
            X = rng.standard_normal((n, d))
        else:
            X = np.round(rng.standard_normal((n, d)) * 4) / 4 + 1e3
        w = rng.uniform(0, 3, n) if seed % 2 else None
        params = dict(n_clusters=k, n_init=int(rng.randint(1, 5)), random_state=seed,
                      max_iter=int(rng.choice([2, 300])), tol=float(rng.choice([0, 1e-4])))
        for dtype in (np.float64, np.float32):
            Xd = X.astype(dtype)
            with monkeypatch.context() as m, warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                m.setattr(algorithms, "kmeans_single", counted)
                one_call = KMeans(**params).fit(Xd, sample_weight=w)
                m.undo()
                one_by_one = _fit_one_by_one(monkeypatch, params, Xd, w)
            assert_array_equal(one_call.labels_, one_by_one.labels_)
            assert one_call.labels_.dtype == one_by_one.labels_.dtype
            assert_array_equal(one_call.cluster_centers_, one_by_one.cluster_centers_)
            assert one_call.cluster_centers_.dtype == dtype
            assert one_call.inertia_ == one_by_one.inertia_
            assert one_call.n_iter_ == one_by_one.n_iter_
    assert fallbacks, "no restart emptied a cluster: the relocation path went untested"


def test_kmeans_plusplus_n_init_keeps_the_lowest_inertia_of_consecutive_draws():
    """The n_init k-means++ runs of a small fit take consecutive draws of one RandomState:
    the best of them is the lowest of the single runs from that RandomState, the first one
    reaching it."""
    X, _ = make_blobs(500, 2, centers=7, cluster_std=2.5, random_state=4)
    best = KMeans(7, n_init=8, random_state=0).fit(X)
    rs = np.random.RandomState(0)
    singles = [KMeans(7, n_init=1, random_state=rs).fit(X) for _ in range(8)]
    inertias = [s.inertia_ for s in singles]
    assert len(set(inertias)) > 1                    # the restarts differ
    first_best = singles[int(np.argmin(inertias))]
    assert best.inertia_ == first_best.inertia_
    assert_array_equal(best.labels_, first_best.labels_)
    assert best.n_iter_ == first_best.n_iter_


def test_given_centres_draw_nothing_but_the_seed_is_still_checked():
    """With centres given as an array the fit draws no random numbers (scikit-learn's
    KMeans neither): a RandomState passed in is left as it was; an invalid random_state still
    raises scikit-learn's error."""
    from sklearn.cluster import KMeans as SkKMeans
    X, _ = make_blobs(300, 3, centers=4, random_state=0)
    init = X[:4].copy()
    for Estimator in (KMeans, SkKMeans):
        rs = np.random.RandomState(0)
        before = rs.get_state()[1].copy()
        Estimator(4, init=init, n_init=1, random_state=rs).fit(X)
        assert_array_equal(rs.get_state()[1], before)
        with pytest.raises(ValueError, match="random_state|cannot be used to seed"):
            Estimator(4, init=init, n_init=1, random_state="seed").fit(X)


def test_data_prepared_without_tol_still_give_the_tolerance():
    """A fit with tol=0 skips the mean feature variance behind tol; a later fit with tol > 0
    on the same prepared data (GaussianMixture's k-means init reuses it) computes it: the
    same iterations and centres as a fit from scratch."""
    X, _ = make_blobs(3000, 4, centers=6, random_state=3)
    km = KMeans(6, tol=0, random_state=0)
    prepared = km._prepare(X)
    assert prepared.mean_variance is None
    km.set_params(tol=0.05)
    km._fit_prepared(prepared, np.ones(len(X)), np.random.RandomState(0))
    fresh = KMeans(6, tol=0.05, random_state=0).fit(X)
    full = KMeans(6, tol=0, random_state=0).fit(X)
    assert km.n_iter_ == fresh.n_iter_ < full.n_iter_
    np.testing.assert_array_equal(km.cluster_centers_, fresh.cluster_centers_)


@pytest.mark.parametrize("n_samples, expected", [(1797, "lloyd"), (3000, "lloyd"),
                                                 (3200, "hamerly")])
def test_auto_runs_lloyd_on_small_wide_problems(monkeypatch, n_samples, expected):
    """Wide data below LLOYD_MAX_TERMS_WIDE terms n k d (digits: 1797 x 64, k=50) run Lloyd,
    whose iterations take one compiled call; above, the bound algorithms."""
    from kmix._kmeans_algorithms import LLOYD_MAX_TERMS_WIDE
    assert 3000 * 64 * 50 < LLOYD_MAX_TERMS_WIDE <= 3200 * 64 * 50
    X = np.random.RandomState(0).normal(size=(n_samples, 64))
    assert _algorithms_run(monkeypatch, X, 50) == [expected]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_elkan_last_pass_gives_the_inertia_of_its_own_pass(dtype, weighted):
    """An Elkan run that stops on max_iter or tol takes its inertia from the distances of its
    last (labelling) pass: the same value, to the bit, as a separate pass over the final
    labels and centres (sq_dist_to_assigned, then the ordered weighted sum), on float32 rows
    and on float64 rows searched through their float32 copy (24 features)."""
    from kmix._core import _lloyd
    rng = np.random.RandomState(3)
    X = (rng.normal(size=(3000, 24)) + rng.randint(0, 4, size=(3000, 1)) * 3.0).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=3000) if weighted else np.ones(3000)
    for max_iter, tol in ((3, 0.0), (300, 1e-2)):
        km = KMeans(6, init="random", n_init=1, max_iter=max_iter, tol=tol, random_state=1,
                    algorithm="elkan").fit(X, sample_weight=w if weighted else None)
        assert_array_equal(km.labels_, km.predict(X))
        d2 = np.empty(3000)
        _lloyd.sq_dist_to_assigned_dense(X, km.cluster_centers_, km.labels_, d2, 1)
        assert km.inertia_ == _lloyd.weighted_sum_ordered(d2, w, 1)
        assert km.inertia_ == pytest.approx(numpy_inertia(X, km.cluster_centers_, km.labels_,
                                                          w), rel=1e-9)


@pytest.mark.parametrize("k", [1, 7, 8, 9, 100, 1000])
def test_center_groups_of_size_is_a_partition_into_panels(k):
    """Yinyang's groups on wide data: every centre in exactly one group, ceil(k / 8) groups
    of 1 to 8 centres (one panel each), members listed by group in increasing centre index,
    group_of and gstart consistent, the same groups from the same centres (duplicated centres
    included)."""
    from kmix._core._constants import KMIX_PANEL
    from kmix._kmeans_algorithms import center_groups_of_size
    rng = np.random.RandomState(k)
    C = rng.normal(size=(k, 32))
    C[k // 2:k // 2 + 3] = C[0]
    group_of, members, gstart = center_groups_of_size(C, KMIX_PANEL)
    sizes = np.diff(gstart)
    assert len(sizes) == -(-k // KMIX_PANEL)
    assert sizes.min() >= 1 and sizes.max() <= KMIX_PANEL
    assert_array_equal(np.sort(members), np.arange(k))
    for g in range(len(sizes)):
        own = members[gstart[g]:gstart[g + 1]]
        assert np.all(np.diff(own) > 0)
        assert np.all(group_of[own] == g)
    for a, b in zip((group_of, members, gstart), center_groups_of_size(C, KMIX_PANEL)):
        assert_array_equal(a, b)


@pytest.mark.parametrize("k", [9, 20, 100])
def test_center_groups_of_size_of_identical_centres(k):
    """Identical centres (a degenerate start: every centre ties with every group): the
    groups still partition them into ceil(k / 8) panels of at most 8, the groups the
    grouping of nearby centres left being filled first, then new ones."""
    from kmix._core._constants import KMIX_PANEL
    from kmix._kmeans_algorithms import center_groups_of_size
    C = np.ones((k, 32))
    group_of, members, gstart = center_groups_of_size(C, KMIX_PANEL)
    sizes = np.diff(gstart)
    assert len(sizes) == -(-k // KMIX_PANEL)
    assert sizes.max() <= KMIX_PANEL
    assert_array_equal(np.sort(members), np.arange(k))
    assert_array_equal(np.bincount(group_of), sizes)


def _greedy_groups_reference(d2, order, size, n_groups):
    """center_groups_of_size's greedy assignment in Python: each centre in order to the
    first least of its row of d2 among the groups not yet full; when all are full, to the
    first least filled of the n_groups."""
    full = np.zeros(d2.shape[1])
    count = [0] * n_groups
    group_of = [0] * d2.shape[0]
    for j in order:
        masked = d2[j] + full
        g = int(np.argmin(masked))
        if masked[g] == np.inf:
            g = count.index(min(count))
        group_of[j] = g
        count[g] += 1
        if count[g] == size and g < d2.shape[1]:
            full[g] = np.inf
    return np.array(group_of)


@pytest.mark.parametrize(("k", "m", "n_groups", "size"), [(50, 7, 7, 8), (50, 4, 7, 8),
                                                          (17, 3, 3, 8), (40, 10, 10, 4),
                                                          (1, 1, 1, 8)])
def test_greedy_groups_match_the_python_loop(k, m, n_groups, size):
    """The compiled greedy assignment of center_groups_of_size gives the Python loop's
    groups: ties (integer distances) to the first group, full groups skipped, and, where
    d2 has fewer columns than groups, the least filled group once every column is full."""
    from kmix._core import _bounds
    rng = np.random.RandomState(k + m)
    for d2 in (rng.normal(size=(k, m)), rng.randint(0, 3, size=(k, m)).astype(float)):
        order = np.argsort(d2.min(axis=1), kind="stable").astype(np.intp)
        got = _bounds.greedy_groups(d2, order, size, n_groups)
        assert_array_equal(got, _greedy_groups_reference(d2, order, size, n_groups))
        assert np.bincount(got, minlength=n_groups).max() <= size


def test_group_sums_are_numpys_row_order_sums():
    from kmix._core import _bounds
    rng = np.random.RandomState(3)
    c = rng.normal(size=(300, 5)) * 10.0 ** rng.randint(-8, 8, size=(300, 1))
    group_of = rng.randint(0, 9, size=300).astype(np.intp)
    group_of[group_of == 4] = 5                      # a group without rows
    sums, counts = _bounds.group_sums(c, group_of, 9)
    want = np.zeros((9, 5))
    np.add.at(want, group_of, c)
    assert sums.tobytes() == want.tobytes()
    assert_array_equal(counts, np.bincount(group_of, minlength=9))


def test_group_helpers_refuse_bad_input():
    from kmix._core import _bounds
    c = np.zeros((4, 2))
    with pytest.raises(ValueError, match="one group per row"):
        _bounds.group_sums(c, np.zeros(3, dtype=np.intp), 2)
    with pytest.raises(ValueError, match=r"groups must be in \[0, 2\)"):
        _bounds.group_sums(c, np.array([0, 1, 2, 0], dtype=np.intp), 2)
    d2 = np.zeros((4, 3))
    order = np.arange(4, dtype=np.intp)
    with pytest.raises(ValueError, match="one place in order per centre"):
        _bounds.greedy_groups(d2, order[:3], 8, 3)
    with pytest.raises(ValueError, match="n_groups >= d2's columns"):
        _bounds.greedy_groups(d2, order, 8, 2)
    with pytest.raises(ValueError, match="order must hold row indices"):
        _bounds.greedy_groups(d2, np.array([0, 1, 2, 7], dtype=np.intp), 8, 3)
