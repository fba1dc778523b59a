"""kmix.DBSCAN against scikit-learn, closed forms and invariants.

References used here:
- scikit-learn's DBSCAN on the same data (labels_, core_sample_indices_ and components_ must
  be exactly equal, cluster numbering included),
- closed forms (every point core for min_samples=1, one cluster for a huge eps, all noise for
  a tiny one, duplicates, a sample that is core by its weight alone, numbering by the first
  core sample, a border point between two clusters),
- invariants (inputs never modified, bitwise identical results for any n_threads,
  fit_predict == labels_).
kmix has one Euclidean neighbour search of its own, a grid over at most 4 (5 from 16 features)
coordinates: the data below exercise it with every coordinate in the grid (d <= 4), with
coordinates outside it (d = 5, 10, 50), and with a single cell (eps larger than the data).
Every other metric (and sparse data) takes its neighbourhoods from scikit-learn's public
NearestNeighbors: section 4b checks each metric, algorithm, dense and CSR input, with and
without weights, against scikit-learn's DBSCAN.
"""
import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.cluster import DBSCAN as SKDBSCAN
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import pairwise_distances
from sklearn.metrics.pairwise import _VALID_METRICS as SK_METRICS
from sklearn.neighbors import radius_neighbors_graph
from sklearn.utils.estimator_checks import parametrize_with_checks

import kmix
from kmix import DBSCAN
from kmix import _dbscan as kmix_dbscan


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _dense(a):
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def assert_same_as_sklearn(X, sample_weight=None, **params):
    """Fit kmix and scikit-learn on the same data: every fitted attribute exactly equal."""
    ours = DBSCAN(**params).fit(X, sample_weight=sample_weight)
    ref = SKDBSCAN(**params).fit(X, sample_weight=sample_weight)
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.labels_.dtype == ref.labels_.dtype
    assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    assert ours.components_.shape == ref.components_.shape
    assert sp.issparse(ours.components_) == sp.issparse(ref.components_)
    assert_array_equal(_dense(ours.components_), _dense(ref.components_))
    assert ours.components_.dtype == ref.components_.dtype
    assert ours.n_features_in_ == ref.n_features_in_
    return ours


def _quantile_eps(X, k, q):
    """eps near quantile q of the distance to the k-th neighbour, halfway between two distinct
    distances: no pair sits within rounding of eps (where scikit-learn's brute-force formula
    and exact distances may decide differently; exact ties are tested on integer data)."""
    kth = np.unique(np.sort(pairwise_distances(X), axis=1)[:, k])
    i = min(int(q * (len(kth) - 1)), len(kth) - 2)
    return float((kth[i] + kth[i + 1]) / 2)


def _data(kind, n, d, seed):
    rng = np.random.RandomState(seed)
    if kind == "blobs":
        return make_blobs(n, d, centers=4, cluster_std=1.0, random_state=seed)[0]
    if kind == "moons":
        X2 = make_moons(n, noise=0.08, random_state=seed)[0]
        if d == 2:
            return X2
        # the moons in the first two coordinates, small noise in the others
        return np.hstack([X2, 0.05 * rng.randn(n, d - 2)]) if d > 2 else X2[:, :1]
    return rng.uniform(-1, 1, size=(n, d))


@pytest.fixture(scope="module")
def moons():
    return make_moons(1000, noise=0.05, random_state=42)[0]


# --------------------------------------------------------------------------------------------
# 1. the issue's case and sample weights
# --------------------------------------------------------------------------------------------
def test_moons_issue_case(moons):
    ours = assert_same_as_sklearn(moons, eps=0.05, min_samples=5)
    assert ours.labels_.max() >= 1 and np.any(ours.labels_ == -1)


@pytest.mark.parametrize("kind", ["int", "float", "signed", "zeros"])
def test_moons_with_sample_weight(moons, kind):
    rng = np.random.RandomState(0)
    n = len(moons)
    weights = {
        "int": rng.randint(0, 4, n),
        "float": rng.uniform(0.1, 2.5, n),
        "signed": rng.choice([-2.0, -1.0, -0.5, 0.0, 1.0, 1.5, 2.0, 3.0], n),
        "zeros": np.where(rng.rand(n) < 0.3, 0.0, 1.0),
    }[kind]
    ours = assert_same_as_sklearn(moons, sample_weight=weights, eps=0.05, min_samples=5)
    unweighted = DBSCAN(eps=0.05, min_samples=5).fit(moons)
    assert not np.array_equal(ours.core_sample_indices_, unweighted.core_sample_indices_)


def test_core_by_weight_alone_and_suppressed_by_negative_weight():
    # 0 and 10 are isolated; 20, 20.1 and 20.2 are a group of three
    X = np.array([[0.0], [10.0], [20.0], [20.1], [20.2]])
    w = np.array([5.0, 4.0, 1.0, 1.0, 1.0])
    ours = assert_same_as_sklearn(X, sample_weight=w, eps=0.5, min_samples=5)
    assert_array_equal(ours.core_sample_indices_, [0])     # weight 5 alone is enough, 4 is not
    assert_array_equal(ours.labels_, [0, -1, -1, -1, -1])
    ours = assert_same_as_sklearn(X, sample_weight=[1, 1, 1, 1, 1], eps=0.5, min_samples=3)
    assert_array_equal(ours.labels_, [-1, -1, 0, 0, 0])
    # a negative weight inside the group keeps all three below min_samples
    ours = assert_same_as_sklearn(X, sample_weight=[1, 1, 1, -1, 1], eps=0.5, min_samples=3)
    assert_array_equal(ours.labels_, [-1] * 5)
    assert ours.components_.shape == (0, 1)


def test_integer_weights_equal_repeated_rows(moons):
    rng = np.random.RandomState(3)
    w = rng.randint(1, 4, len(moons))
    weighted = DBSCAN(eps=0.05, min_samples=6).fit(moons, sample_weight=w)
    repeated = DBSCAN(eps=0.05, min_samples=6).fit(np.repeat(moons, w, axis=0))
    assert_array_equal(np.repeat(weighted.labels_, w), repeated.labels_)


# --------------------------------------------------------------------------------------------
# 2. random data in 1 to 50 dimensions
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2, 3, 5, 10, 50])
@pytest.mark.parametrize("kind", ["blobs", "moons", "uniform"])
def test_random_data_matches_sklearn(kind, d):
    X = _data(kind, 400, d, seed=d)
    for k, q in [(4, 0.2), (9, 0.6)]:
        eps = _quantile_eps(X, k, q)
        assert_same_as_sklearn(X, eps=eps, min_samples=k + 1)
    assert_same_as_sklearn(X, eps=_quantile_eps(X, 2, 0.5), min_samples=3,
                           sample_weight=np.random.RandomState(d).randint(-1, 4, len(X)))


@pytest.mark.parametrize("d", [1, 2, 3, 5, 10, 50])
def test_min_samples_one_every_point_is_core(d):
    X = _data("blobs", 300, d, seed=1)
    ours = assert_same_as_sklearn(X, eps=_quantile_eps(X, 1, 0.5), min_samples=1)
    assert_array_equal(ours.core_sample_indices_, np.arange(len(X)))
    assert np.all(ours.labels_ >= 0)


@pytest.mark.parametrize("d", [1, 2, 5, 50])
def test_huge_eps_one_cluster(d):
    X = _data("uniform", 300, d, seed=2)
    ours = assert_same_as_sklearn(X, eps=1e3, min_samples=10)
    assert_array_equal(ours.labels_, np.zeros(len(X), dtype=np.intp))


@pytest.mark.parametrize("d", [1, 2, 5, 50])
def test_tiny_eps_all_noise(d):
    X = _data("uniform", 300, d, seed=3)
    ours = assert_same_as_sklearn(X, eps=1e-9, min_samples=2)
    assert_array_equal(ours.labels_, -np.ones(len(X), dtype=np.intp))
    assert ours.components_.shape == (0, d)


@pytest.mark.parametrize("d", [1, 3, 12])
def test_duplicate_points(d):
    rng = np.random.RandomState(4)
    base = rng.uniform(0, 10, size=(60, d))
    reps = rng.randint(1, 5, len(base))
    X = np.repeat(base, reps, axis=0)[rng.permutation(reps.sum())]
    ours = assert_same_as_sklearn(X, eps=1e-9, min_samples=3)
    # at a tiny eps, a point is core iff it has >= 3 copies; each group of copies a cluster
    _, inverse, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    assert_array_equal(ours.core_sample_indices_, np.flatnonzero(counts[inverse] >= 3))
    assert_same_as_sklearn(X, eps=1.5, min_samples=4)


def test_numbering_follows_first_core_sample():
    # groups appear in the order C, A, B by their first core sample
    A = [0.0, 0.1, 0.2]
    B = [5.0, 5.1, 5.2]
    C = [9.0, 9.1, 9.2]
    X = np.array([C[0], A[0], 20.0, B[0], A[1], C[1], B[1], A[2], B[2], C[2]])[:, None]
    ours = assert_same_as_sklearn(X, eps=0.15, min_samples=2)
    assert_array_equal(ours.labels_, [0, 1, -1, 2, 1, 0, 2, 1, 2, 0])


def test_border_point_joins_the_lower_numbered_cluster():
    # 1.0 is within eps of 0.6 (cluster 1) and 1.4 (cluster 0) but has only 3 neighbours
    X = np.array([1.4, 1.5, 1.6, 1.7, 1.0, 0.3, 0.4, 0.5, 0.6])[:, None]
    ours = assert_same_as_sklearn(X, eps=0.41, min_samples=4)
    assert 4 not in ours.core_sample_indices_
    assert_array_equal(ours.labels_, [0, 0, 0, 0, 0, 1, 1, 1, 1])


def test_exact_distance_eps_is_a_neighbour():
    # integer lattice: distances exactly eps in every direction
    X = np.array([[0, 0], [1, 0], [0, 1], [3, 0], [3, 1], [5, 5]], dtype=float)
    ours = assert_same_as_sklearn(X, eps=1.0, min_samples=3)
    assert_array_equal(ours.labels_, [0, 0, 0, -1, -1, -1])
    ours = assert_same_as_sklearn(X, eps=1.0, min_samples=2)
    assert_array_equal(ours.labels_, [0, 0, 0, 1, 1, -1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 3)),
                elements=st.integers(-4, 4).map(float)),
       eps=st.sampled_from([0.5, 1.0, 1.5, 2.0, np.sqrt(2.0), 3.0]),
       min_samples=st.integers(1, 6))
def test_lattice_data_with_ties_matches_sklearn(X, eps, min_samples):
    """Small integer data: many exact duplicates and distances exactly eps."""
    assert_same_as_sklearn(X, eps=eps, min_samples=min_samples)


def test_extreme_coordinates():
    rng = np.random.RandomState(5)
    X = rng.uniform(0, 1, size=(300, 3))
    X[:, 1] *= 1e12          # far more than 2^30 cells of side eps: wider cells
    X[:5, 2] = [1e308, -1e308, 1e308, 0.0, 0.0]   # its spread overflows: not a grid dimension
    assert_same_as_sklearn(X, eps=0.2, min_samples=2)
    assert_same_as_sklearn(X[:, [0, 2]], eps=0.05, min_samples=3)


# --------------------------------------------------------------------------------------------
# 3. dtypes and layouts
# --------------------------------------------------------------------------------------------
def test_float32_input(moons):
    X32 = moons.astype(np.float32)
    ours = assert_same_as_sklearn(X32, eps=0.05, min_samples=5)
    assert ours.components_.dtype == np.float32
    assert_same_as_sklearn(X32, sample_weight=np.arange(len(X32)) % 3, eps=0.05, min_samples=5)


@pytest.mark.parametrize("layout", ["fortran", "strided", "int64", "int32", "list"])
def test_layouts_and_integer_input(layout):
    rng = np.random.RandomState(6)
    base = rng.randint(0, 30, size=(400, 6))
    X = {
        "fortran": np.asfortranarray(base.astype(float) / 7),
        "strided": (base.astype(float) / 7)[:, ::2],
        "int64": base.astype(np.int64),
        "int32": base.astype(np.int32),
        "list": (base[:, :3] / 7).tolist(),
    }[layout]
    assert_same_as_sklearn(X, eps=4.5 if "int" in layout else 0.7, min_samples=4)


# --------------------------------------------------------------------------------------------
# 4. precomputed distances and sparse data
# --------------------------------------------------------------------------------------------
def test_precomputed_dense(moons):
    D = pairwise_distances(moons[:500])
    ours = assert_same_as_sklearn(D, eps=0.06, min_samples=4, metric="precomputed")
    # the same clustering as the Euclidean metric on the points
    assert_array_equal(ours.labels_, DBSCAN(eps=0.06, min_samples=4).fit(moons[:500]).labels_)
    assert_same_as_sklearn(D, sample_weight=np.arange(500) % 4 - 1, eps=0.06, min_samples=4,
                           metric="precomputed")
    assert_same_as_sklearn(D.astype(np.float32), eps=0.06, min_samples=4, metric="precomputed")


def test_precomputed_non_symmetric():
    """scikit-learn expands cluster rows as given; kmix follows it, also off symmetry."""
    rng = np.random.RandomState(7)
    D = rng.uniform(0, 1, size=(200, 200))
    np.fill_diagonal(D, 0.0)
    for eps, min_samples in [(0.05, 4), (0.1, 12), (0.03, 1)]:
        assert_same_as_sklearn(D, eps=eps, min_samples=min_samples, metric="precomputed")


def test_precomputed_float32_compares_as_sklearn():
    # float32(0.1) > 0.1: scikit-learn compares float32 distances with a Python float eps in
    # float32 (a neighbour) and with a NumPy float64 eps in float64 (not a neighbour)
    v = np.float32(0.1)
    D = np.array([[0, v, 1], [v, 0, 1], [1, 1, 0]], dtype=np.float32)
    for X in (D, sp.csr_matrix(D)):
        ours = assert_same_as_sklearn(X, eps=0.1, min_samples=2, metric="precomputed")
        assert_array_equal(ours.labels_, [0, 0, -1])
        ours = assert_same_as_sklearn(X, eps=np.float64(0.1), min_samples=2,
                                      metric="precomputed")
        assert_array_equal(ours.labels_, [-1, -1, -1])


def test_precomputed_sparse_radius_graph(moons):
    X = moons[:600]
    G = radius_neighbors_graph(X, 0.08, mode="distance")
    ours = assert_same_as_sklearn(G, eps=0.06, min_samples=4, metric="precomputed")
    assert_array_equal(ours.labels_, DBSCAN(eps=0.06, min_samples=4).fit(X).labels_)
    assert_same_as_sklearn(G, sample_weight=np.arange(600) % 3, eps=0.08, min_samples=5,
                           metric="precomputed")
    for fmt in ("csc", "coo", "lil"):
        assert_same_as_sklearn(G.asformat(fmt), eps=0.06, min_samples=4, metric="precomputed")


def test_precomputed_sparse_diagonal_and_explicit_entries():
    # row 0 stores its diagonal above eps (not its own neighbour); row 1 stores an explicit
    # zero to 2; rows 3 and 4 store nothing (each is still its own neighbour); row 5 stores a
    # duplicate entry (counted twice, as by scikit-learn)
    data = np.array([5.0, 0.05, 0.05, 0.0, 0.0, 0.05, 0.05, 0.05])
    indices = np.array([0, 1, 0, 2, 1, 1, 1, 2])
    indptr = np.array([0, 2, 4, 5, 5, 5, 7, 8])
    G = sp.csr_matrix((data, indices, indptr), shape=(7, 7))
    for min_samples in (1, 2, 3):
        assert_same_as_sklearn(G, eps=0.1, min_samples=min_samples, metric="precomputed")
    ours = DBSCAN(eps=0.1, min_samples=3, metric="precomputed").fit(G)
    assert_array_equal(ours.core_sample_indices_, [1, 5])


def test_sparse_euclidean_data():
    rng = np.random.RandomState(8)
    X = sp.random(400, 30, density=0.15, format="csr", random_state=rng)
    X.data *= 3
    for eps, min_samples in [(1.0, 3), (1.6, 8), (1e-9, 2)]:
        assert_same_as_sklearn(X, eps=eps, min_samples=min_samples)
    assert_same_as_sklearn(X.astype(np.float32), eps=1.6, min_samples=8)
    assert_same_as_sklearn(X, sample_weight=np.arange(400) % 3, eps=1.6, min_samples=8)
    # the same clustering as on the dense array
    ours = DBSCAN(eps=1.6, min_samples=8).fit(X)
    assert_array_equal(ours.labels_, DBSCAN(eps=1.6, min_samples=8).fit(X.toarray()).labels_)


# --------------------------------------------------------------------------------------------
# 4b. every metric of scikit-learn's neighbour search, its algorithms, dense and CSR data
# --------------------------------------------------------------------------------------------
ALGORITHMS = ["auto", "ball_tree", "kd_tree", "brute"]
TREES = ["auto", "ball_tree", "brute"]       # the metrics the KD tree does not support
BRUTE = ["auto", "brute"]                     # the metrics no tree supports


def manhattan_callable(x, y):
    return float(np.abs(x - y).sum())


def _metric_data(kind, seed=0):
    """Three blobs; 'haversine': (latitude, longitude) in radians."""
    X = make_blobs(240, 2 if kind == "haversine" else 3, centers=3, cluster_std=1.0,
                   random_state=seed)[0]
    if kind == "haversine":
        return X * 0.05 + np.array([0.6, -1.2])
    return X + 8.0  # positive coordinates: cosine distances spread out too


def _with_zeros(X, seed=1):
    """X with a quarter of its entries set to 0 (no row left all zero), for CSR input."""
    rng = np.random.RandomState(seed)
    Z = np.where(rng.rand(*X.shape) < 0.25, 0.0, X)
    Z[np.all(Z == 0, axis=1), 0] = X[np.all(Z == 0, axis=1), 0]
    return Z


_W = np.array([1.0, 0.5, 2.0])
_VI = np.linalg.inv(np.cov(_metric_data("blobs").T))

#: id -> (data kind, DBSCAN parameters, pairwise_distances parameters for eps, algorithms
#: scikit-learn allows, whether scikit-learn's sparse neighbour search supports it)
METRIC_CASES = {
    "manhattan": ("blobs", dict(metric="manhattan"), dict(metric="manhattan"),
                  ALGORITHMS, True),
    "chebyshev": ("blobs", dict(metric="chebyshev"), dict(metric="chebyshev"),
                  ALGORITHMS, False),
    "minkowski-p1": ("blobs", dict(metric="minkowski", p=1), dict(metric="manhattan"),
                     ALGORITHMS, True),
    "minkowski-p2": ("blobs", dict(metric="minkowski", p=2), dict(metric="euclidean"),
                     ALGORITHMS, True),
    "minkowski-p3": ("blobs", dict(metric="minkowski", p=3), dict(metric="minkowski", p=3),
                     ALGORITHMS, False),
    "euclidean": ("blobs", dict(metric="euclidean"), dict(metric="euclidean"),
                  ALGORITHMS, True),
    "l2": ("blobs", dict(metric="l2"), dict(metric="euclidean"), ALGORITHMS, True),
    "cosine": ("blobs", dict(metric="cosine"), dict(metric="cosine"), BRUTE, True),
    "haversine": ("haversine", dict(metric="haversine"), dict(metric="haversine"),
                  TREES, False),
    "canberra": ("blobs", dict(metric="canberra"), dict(metric="canberra"), TREES, False),
    "callable": ("blobs", dict(metric=manhattan_callable), dict(metric="manhattan"),
                 TREES, False),
    "minkowski-w": ("blobs", dict(metric="minkowski", p=3, metric_params={"w": _W}),
                    dict(metric="minkowski", p=3, w=_W), TREES, False),
    "mahalanobis": ("blobs", dict(metric="mahalanobis", metric_params={"VI": _VI}),
                    dict(metric="mahalanobis", VI=_VI), TREES, False),
}


def _metric_eps(X, k, q, **pairwise):
    """eps halfway between two distinct k-th neighbour distances near quantile q (no pair
    within rounding of it, whatever formula the search uses)."""
    kth = np.unique(np.sort(pairwise_distances(X, **pairwise), axis=1)[:, k])
    i = min(int(q * (len(kth) - 1)), len(kth) - 2)
    return float((kth[i] + kth[i + 1]) / 2)


@pytest.mark.parametrize("case, algorithm", [
    (case, algorithm) for case, spec in METRIC_CASES.items() for algorithm in spec[3]])
def test_metrics_match_sklearn(case, algorithm):
    kind, params, pairwise, _, sparse_ok = METRIC_CASES[case]
    X = _metric_data(kind)
    inputs = [X]
    if sparse_ok and algorithm in BRUTE:  # scikit-learn searches sparse data by brute force
        inputs.append(sp.csr_matrix(_with_zeros(X)))
    rng = np.random.RandomState(5)
    weights = rng.choice([-1.0, 0.0, 0.5, 1.0, 2.5], len(X))  # sums exact in any order
    for data in inputs:
        eps = _metric_eps(_dense(data), 5, 0.5, **pairwise)
        for w in (None, weights):
            ours = assert_same_as_sklearn(data, sample_weight=w, eps=eps, min_samples=6,
                                          algorithm=algorithm, **params)
            # a clustering worth comparing: several clusters, border or noise samples
            assert ours.labels_.max() >= 1
            assert len(ours.core_sample_indices_) < len(X)


def test_every_sklearn_metric_name_is_accepted():
    assert set(kmix_dbscan.METRICS) == set(SK_METRICS) | {"precomputed"}
    X = _metric_data("blobs")
    for metric in ("braycurtis", "correlation", "sqeuclidean", "cityblock", "l1"):
        assert_same_as_sklearn(X, eps=_metric_eps(X, 5, 0.5, metric=metric), min_samples=6,
                               metric=metric)


def test_dense_euclidean_uses_the_grid(monkeypatch):
    """'euclidean', 'l2' and 'minkowski' with p None or 2 on dense data never build a
    neighbour graph (the grid's speed and memory), whatever the algorithm."""
    def no_search(*args, **kwargs):
        raise AssertionError("the neighbour search was called")

    monkeypatch.setattr(kmix_dbscan, "NearestNeighbors", no_search)
    X = _metric_data("blobs")
    expected = SKDBSCAN(eps=1.0, min_samples=6).fit(X).labels_
    for params in (dict(), dict(metric="l2"), dict(metric="minkowski"),
                   dict(metric="minkowski", p=2.0), dict(metric_params={}),
                   dict(algorithm="ball_tree", leaf_size=5), dict(n_jobs=2)):
        assert_array_equal(DBSCAN(eps=1.0, min_samples=6, **params).fit(X).labels_, expected)
    with pytest.raises(AssertionError, match="neighbour search"):
        DBSCAN(eps=1.0, metric="minkowski", p=1).fit(X)


def test_minkowski_p_none_means_two():
    """p=None is 2, as scikit-learn documents: also on sparse data and with a weight w, where
    scikit-learn 1.9's own search fails on p=None (kmix gives its p=2 result)."""
    X = _metric_data("blobs")
    Xs = sp.csr_matrix(_with_zeros(X))
    eps = _metric_eps(_with_zeros(X), 5, 0.5)
    ours = DBSCAN(eps=eps, min_samples=6, metric="minkowski").fit(Xs)
    ref = SKDBSCAN(eps=eps, min_samples=6, metric="minkowski", p=2).fit(Xs)
    assert_array_equal(ours.labels_, ref.labels_)
    with pytest.raises(ValueError, match="not valid for sparse input"):
        SKDBSCAN(eps=eps, min_samples=6, metric="minkowski").fit(Xs)
    eps = _metric_eps(X, 5, 0.5, metric="minkowski", p=2, w=_W)
    ours = DBSCAN(eps=eps, min_samples=6, metric="minkowski", metric_params={"w": _W}).fit(X)
    ref = SKDBSCAN(eps=eps, min_samples=6, metric="minkowski", p=2,
                   metric_params={"w": _W}).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
    assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    assert ours.labels_.max() >= 1


def test_metric_params_p_overrides_p_with_sklearns_warning():
    X = _metric_data("blobs")
    eps = _metric_eps(X, 5, 0.5, metric="manhattan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = DBSCAN(eps=eps, min_samples=6, metric="minkowski",
                       metric_params={"p": 1}).fit(X)
    with pytest.warns(SyntaxWarning, match="Parameter p is found in metric_params"):
        loud = DBSCAN(eps=eps, min_samples=6, metric="minkowski", metric_params={"p": 1},
                      p=3).fit(X)
    manhattan = DBSCAN(eps=eps, min_samples=6, metric="manhattan").fit(X)
    for model in (quiet, loud):
        assert_array_equal(model.labels_, manhattan.labels_)
        assert_array_equal(model.core_sample_indices_, manhattan.core_sample_indices_)


def test_sparse_64bit_indices():
    """64-bit sparse indices (on which scikit-learn's own sparse Manhattan search fails):
    the result of the same matrix with 32-bit indices; the input keeps its index dtype."""
    X = sp.csr_matrix(_with_zeros(_metric_data("blobs")))
    X64 = X.copy()
    X64.indices = X64.indices.astype(np.int64)
    X64.indptr = X64.indptr.astype(np.int64)
    for metric in ("manhattan", "cosine", "euclidean"):
        eps = _metric_eps(X.toarray(), 5, 0.5, metric=metric)
        ours = DBSCAN(eps=eps, min_samples=6, metric=metric).fit(X64)
        ref = SKDBSCAN(eps=eps, min_samples=6, metric=metric).fit(X)
        assert_array_equal(ours.labels_, ref.labels_)
        assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    assert X64.indices.dtype == np.int64 and X64.indptr.dtype == np.int64


def test_sparse_and_dense_agree_for_graph_metrics():
    X = _with_zeros(_metric_data("blobs"))
    for metric in ("manhattan", "cosine"):
        eps = _metric_eps(X, 5, 0.5, metric=metric)
        dense = DBSCAN(eps=eps, min_samples=6, metric=metric).fit(X)
        sparse = DBSCAN(eps=eps, min_samples=6, metric=metric).fit(sp.csr_matrix(X))
        assert_array_equal(dense.labels_, sparse.labels_)
        assert_array_equal(dense.core_sample_indices_, sparse.core_sample_indices_)


def test_signature_matches_sklearn():
    ours = inspect.signature(DBSCAN).parameters
    theirs = inspect.signature(SKDBSCAN).parameters
    assert list(ours)[-1] == "n_threads"
    assert [(p.name, p.kind, p.default) for p in ours.values() if p.name != "n_threads"] == \
        [(p.name, p.kind, p.default) for p in theirs.values()]
    assert ours["n_threads"].default is None
    assert ours["n_threads"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("n_jobs", [None, 1, 2, -1])
def test_n_jobs_accepted_and_changes_nothing(n_jobs):
    X = _metric_data("blobs")
    for params in (dict(), dict(metric="manhattan", algorithm="ball_tree"),
                   dict(metric="cosine")):
        eps = _metric_eps(X, 5, 0.5, metric=params.get("metric", "euclidean"))
        ours = DBSCAN(eps=eps, min_samples=6, n_jobs=n_jobs, **params).fit(X)
        ref = SKDBSCAN(eps=eps, min_samples=6, **params).fit(X)
        assert_array_equal(ours.labels_, ref.labels_)


@pytest.mark.parametrize("n_jobs, n_threads, expected", [
    (None, None, None), (2, None, 2), (-1, None, -1), (2, 1, 1), (None, 3, 3)])
def test_n_jobs_is_the_thread_count_unless_n_threads_is_set(monkeypatch, n_jobs, n_threads,
                                                            expected):
    asked = []
    real = kmix_dbscan.effective_n_threads

    def record(n):
        asked.append(n)
        return real(n)

    monkeypatch.setattr(kmix_dbscan, "effective_n_threads", record)
    DBSCAN(n_jobs=n_jobs, n_threads=n_threads).fit(_metric_data("blobs"))
    assert asked == [expected]


# --------------------------------------------------------------------------------------------
# 5. bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, error, match", [
    (dict(eps=0.0), ValueError, "eps must be > 0"),
    (dict(eps=-1.0), ValueError, "eps must be > 0"),
    (dict(eps=np.nan), ValueError, "eps must be finite"),
    (dict(eps=np.inf), ValueError, "eps must be finite"),
    (dict(eps="0.5"), TypeError, "eps must be a real number"),
    (dict(min_samples=0), ValueError, "min_samples must be >= 1"),
    (dict(min_samples=2.5), TypeError, "min_samples must be an int"),
    (dict(min_samples=True), TypeError, "min_samples must be an int"),
    (dict(metric="manhatan"), ValueError, "metric must be one of .* or a callable"),
    (dict(metric=None), TypeError, "metric must be a string or a callable"),
    (dict(metric_params=[("p", 1)]), TypeError, "metric_params must be a dict"),
    (dict(algorithm="fast"), ValueError, "algorithm must be one of"),
    (dict(algorithm=None), ValueError, "algorithm must be one of"),
    (dict(leaf_size=0), ValueError, "leaf_size must be >= 1"),
    (dict(leaf_size=2.5), TypeError, "leaf_size must be an int"),
    (dict(p=-1), ValueError, "p must be >= 0"),
    (dict(p=np.nan), ValueError, "p must be >= 0"),
    (dict(p="2"), TypeError, "p must be a real number"),
    (dict(n_jobs=0), ValueError, "n_jobs must be None"),
    (dict(n_jobs=1.5), TypeError, "n_jobs must be an int"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(n_threads=1.5), TypeError, "n_threads must be an int"),
    # scikit-learn's neighbour search's own errors
    (dict(metric="cosine", algorithm="kd_tree"), ValueError, "Metric 'cosine' not valid"),
    (dict(metric=manhattan_callable, algorithm="kd_tree"), ValueError,
     "kd_tree does not support callable"),
    (dict(metric="minkowski", p=0.5, algorithm="kd_tree"), ValueError, "p"),
])
def test_bad_parameters(params, error, match):
    X = np.random.RandomState(0).rand(20, 2)
    with pytest.raises(error, match=match):
        DBSCAN(**params).fit(X)


def test_metric_not_supported_on_sparse_data():
    X = sp.csr_matrix(np.random.RandomState(0).rand(20, 2))
    for params in (dict(metric="chebyshev"), dict(metric="minkowski", p=3)):
        with pytest.raises(ValueError, match="not valid for sparse input"):
            DBSCAN(**params).fit(X)
        with pytest.raises(ValueError, match="not valid for sparse input"):
            SKDBSCAN(**params).fit(X)


@pytest.mark.parametrize("X, match", [
    (np.array([[0.0, 1.0], [np.nan, 0.0]]), "NaN"),
    (np.array([[0.0, 1.0], [np.inf, 0.0]]), "infinity"),
    (np.zeros(5), "Expected 2D array"),
    (np.zeros((2, 2, 2)), "dim 3"),
    (np.zeros((0, 3)), "0 sample"),
    (np.zeros((3, 0)), "0 feature"),
    (np.array([["a", "b"], ["c", "d"]]), "[Ss]tring|could not convert"),
])
def test_bad_data(X, match):
    with pytest.raises(ValueError, match=match):
        DBSCAN().fit(X)


@pytest.mark.parametrize("sample_weight, match", [
    (np.ones(19), "sample_weight.shape"),
    (np.ones((20, 1)), "1D"),
    (np.r_[np.nan, np.ones(19)], "NaN"),
    (np.zeros(20), "all zero"),
    (["a"] * 20, "numeric"),
])
def test_bad_sample_weight(sample_weight, match):
    X = np.random.RandomState(0).rand(20, 2)
    with pytest.raises(ValueError, match=match):
        DBSCAN().fit(X, sample_weight=sample_weight)


@pytest.mark.parametrize("X, match", [
    (np.zeros((3, 4)), "square"),
    (sp.csr_matrix(np.zeros((3, 4))), "square"),
    (np.array([[0.0, -1.0], [1.0, 0.0]]), "Negative values"),
    (sp.csr_matrix(np.array([[0.0, -1.0], [1.0, 0.0]])), "Negative values"),
])
def test_bad_precomputed(X, match):
    with pytest.raises(ValueError, match=match):
        DBSCAN(metric="precomputed").fit(X)


# --------------------------------------------------------------------------------------------
# 6. invariants
# --------------------------------------------------------------------------------------------
def test_inputs_not_modified(moons):
    rng = np.random.RandomState(9)
    inputs = [
        (moons.copy(), dict()),
        (moons.astype(np.float32), dict()),
        (pairwise_distances(moons[:300]), dict(metric="precomputed")),
        (radius_neighbors_graph(moons[:300], 0.1, mode="distance"), dict(metric="precomputed")),
        (sp.random(200, 10, density=0.3, format="csr", random_state=rng), dict()),
        (moons[:300].copy(), dict(metric="manhattan", algorithm="kd_tree")),
        (moons[:300].copy(), dict(metric="mahalanobis", metric_params={"VI": np.eye(2)})),
        (moons[:100].copy(), dict(metric=manhattan_callable)),
        (sp.random(200, 10, density=0.3, format="csr", random_state=rng),
         dict(metric="cosine")),
    ]
    for X, params in inputs:
        w = rng.uniform(-1, 3, X.shape[0])
        X_before, w_before = X.copy(), w.copy()
        DBSCAN(eps=0.08, min_samples=3, **params).fit(X, sample_weight=w)
        assert_array_equal(_dense(X), _dense(X_before))
        assert X.dtype == X_before.dtype
        if sp.issparse(X):
            for attr in ("data", "indices", "indptr"):
                assert_array_equal(getattr(X, attr), getattr(X_before, attr))
        assert_array_equal(w, w_before)


def test_components_are_copies(moons):
    model = DBSCAN(eps=0.05, min_samples=5).fit(moons)
    assert not np.shares_memory(model.components_, moons)


@pytest.mark.parametrize("case", ["moons", "moons_weighted", "d10", "precomputed", "sparse"])
def test_n_threads_bitwise_identical(case):
    """Sizes above the single-thread threshold, so that both runs really differ in threads."""
    rng = np.random.RandomState(10)
    X = make_moons(20000, noise=0.05, random_state=0)[0]
    w, params = None, dict(eps=0.02, min_samples=8)
    if case == "moons_weighted":
        w = rng.uniform(-0.5, 2.0, len(X))
    elif case == "d10":
        X = make_blobs(5000, 10, centers=5, random_state=0)[0]
        params = dict(eps=2.5, min_samples=10)
    elif case == "precomputed":
        X = pairwise_distances(X[:2500])
        params = dict(eps=0.05, min_samples=8, metric="precomputed")
    elif case == "sparse":
        X = sp.random(2500, 20, density=0.2, format="csr", random_state=rng)
        params = dict(eps=0.6, min_samples=4)
    one = DBSCAN(n_threads=1, **params).fit(X, sample_weight=w)
    two = DBSCAN(n_threads=2, **params).fit(X, sample_weight=w)
    assert_array_equal(one.labels_, two.labels_)
    assert_array_equal(one.core_sample_indices_, two.core_sample_indices_)
    assert one.labels_.max() >= 1


@pytest.mark.slow
@pytest.mark.parametrize("n_threads", [1, 2])
def test_benchmark_moons_matches_sklearn(n_threads):
    """The issue's benchmark data (200k moons, eps=0.01, min_samples=10): identical results."""
    X = make_moons(200_000, noise=0.05, random_state=0)[0]
    ours = DBSCAN(eps=0.01, min_samples=10, n_threads=n_threads).fit(X)
    ref = SKDBSCAN(eps=0.01, min_samples=10).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
    assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    assert_array_equal(ours.components_, ref.components_)


def test_fit_predict_equals_labels(moons):
    model = DBSCAN(eps=0.05, min_samples=5)
    w = np.arange(len(moons)) % 3
    labels = model.fit_predict(moons, sample_weight=w)
    assert_array_equal(labels, model.labels_)
    assert_array_equal(labels, DBSCAN(eps=0.05, min_samples=5).fit(moons, sample_weight=w).labels_)


def test_refit_and_clone():
    X = make_blobs(300, 2, centers=3, random_state=0)[0]
    model = DBSCAN(eps=0.4, min_samples=4, n_threads=1)
    first = model.fit(X).labels_.copy()
    assert_array_equal(model.fit(X).labels_, first)
    copy = clone(model)
    assert copy.get_params() == {"eps": 0.4, "min_samples": 4, "metric": "euclidean",
                                 "metric_params": None, "algorithm": "auto", "leaf_size": 30,
                                 "p": None, "n_jobs": None, "n_threads": 1}
    assert not hasattr(copy, "labels_")
    copy.set_params(eps=0.3, metric="precomputed")
    assert copy.eps == 0.3 and copy.metric == "precomputed"
    assert_array_equal(copy.fit(pairwise_distances(X)).labels_,
                       DBSCAN(eps=0.3, min_samples=4).fit(X).labels_)


def test_exported():
    assert kmix.DBSCAN is DBSCAN
    assert "DBSCAN" in kmix.__all__


# --------------------------------------------------------------------------------------------
# 7. scikit-learn API compliance
# --------------------------------------------------------------------------------------------
def _expected_failed_checks(estimator):
    # check_clustering fits the raw (50, 2) feature matrix, ignoring the pairwise tag;
    # scikit-learn's own DBSCAN(metric='precomputed') fails it too (it rejects the negative
    # values), kmix rejects the non-square matrix first.
    if estimator.metric == "precomputed":
        reason = "check_clustering passes features, not a square distance matrix."
        return {"check_clustering": reason}
    return {}


@parametrize_with_checks([DBSCAN(), DBSCAN(metric="precomputed"),
                          DBSCAN(metric="manhattan", algorithm="ball_tree")],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_bool_X_is_float():
    """Boolean data are clustered as their 0/1 float64 values (as scikit-learn does)."""
    Xb = np.random.RandomState(0).rand(60, 3) > 0.5
    ours = DBSCAN(eps=1.1, min_samples=4).fit(Xb)
    ref = DBSCAN(eps=1.1, min_samples=4).fit(Xb.astype(np.float64))
    assert_array_equal(ours.labels_, ref.labels_)
    assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    assert_array_equal(ours.components_, ref.components_)
    assert_array_equal(ours.labels_, SKDBSCAN(eps=1.1, min_samples=4).fit(Xb).labels_)
