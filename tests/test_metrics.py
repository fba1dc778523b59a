"""kmix.metrics against scikit-learn, a brute-force numpy reference and invariants.

References used here:
- ``sklearn.metrics`` (silhouette_samples / silhouette_score / calinski_harabasz_score /
  davies_bouldin_score) on the same data and labels,
- exact per-cluster distance sums from a dense numpy pairwise-distance matrix (small n), for
  both compiled kernels (one-sided and symmetric) called directly,
- invariants: bitwise identical results for 1 and 2 threads, float32 data == its float64
  upcast, inputs left untouched, bounded memory (tracemalloc).
- every other metric of pairwise_distances (names, kwds, callables), sparse X and precomputed
  matrices (dense in every dtype/layout, sparse) against scikit-learn, with its errors.
"""
import itertools
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist
from sklearn import metrics as skm
from sklearn.datasets import make_blobs
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import pairwise_distances
from threadpoolctl import ThreadpoolController

from kmix import metrics
from kmix._core import _silhouette
from kmix._threads import blas_single_threaded

_THREADPOOLS = ThreadpoolController()
ATOL = 1e-9          # float64, against scikit-learn
ATOL32 = 1e-5        # float32 data: scikit-learn keeps float32 distances


def reference(fn, *args, **kwargs):
    """Run a scikit-learn reference with single-threaded OpenMP/BLAS (results do not depend
    on it; it only keeps the 2 shared cores from being oversubscribed)."""
    with _THREADPOOLS.limit(limits=1):
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def numpy_cluster_sums(X, labels, k):
    """S[i, c] = sum_{j: labels[j] == c} ||x_i - x_j||, exact (broadcast differences)."""
    X = np.asarray(X, dtype=np.float64)
    diff = X[:, None, :] - X[None, :, :]
    D = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    S = np.zeros((X.shape[0], k))
    for c in range(k):
        S[:, c] = D[:, labels == c].sum(axis=1)
    return S


def numpy_silhouette(X, labels):
    """Silhouette from the definition, exact distances, any label type."""
    _, enc = np.unique(np.asarray(labels), return_inverse=True)
    enc = enc.ravel()
    k = int(enc.max()) + 1
    S = numpy_cluster_sums(X, enc, k)
    counts = np.bincount(enc, minlength=k)
    n = len(enc)
    out = np.zeros(n)
    for i in range(n):
        if counts[enc[i]] == 1:
            continue
        a = S[i, enc[i]] / (counts[enc[i]] - 1)
        b = min(S[i, c] / counts[c] for c in range(k) if c != enc[i])
        m = max(a, b)
        out[i] = 0.0 if m == 0 else (b - a) / m
    return out


def numpy_davies_bouldin(X, labels):
    """Davies-Bouldin from the definition with exact (broadcast) distances."""
    X = np.asarray(X, dtype=np.float64)
    _, enc = np.unique(np.asarray(labels), return_inverse=True)
    enc = enc.ravel()
    k = int(enc.max()) + 1
    cent = np.array([X[enc == c].mean(axis=0) for c in range(k)])
    scatter = np.array([np.linalg.norm(X[enc == c] - cent[c], axis=1).mean()
                        for c in range(k)])
    cd = np.linalg.norm(cent[:, None, :] - cent[None, :, :], axis=-1)
    if np.allclose(scatter, 0) or np.allclose(cd, 0):
        return 0.0
    ratios = [max((scatter[i] + scatter[j]) / cd[i, j]
                  for j in range(k) if j != i and cd[i, j] > 0) for i in range(k)]
    return float(np.mean(ratios))


def call_kernel(kernel, X, labels, k, n_threads):
    S = np.full((X.shape[0], k), np.nan)
    with blas_single_threaded():
        kernel(X, np.ascontiguousarray(labels, dtype=np.int32), k, S, n_threads)
    return S


KERNELS = {
    "one_sided": _silhouette.cluster_distance_sums,
    "symmetric": _silhouette.cluster_distance_sums_symmetric,
}


def assert_all_metrics_match(X, labels, atol=ATOL, ch_rtol=1e-9):
    """silhouette_samples / score, Calinski-Harabasz, Davies-Bouldin == scikit-learn's."""
    expected = reference(skm.silhouette_samples, X, labels)
    got = metrics.silhouette_samples(X, labels)
    assert got.shape == (np.asarray(X).shape[0],)
    assert_allclose(got, expected, rtol=0, atol=atol)
    assert metrics.silhouette_score(X, labels) == pytest.approx(
        reference(skm.silhouette_score, X, labels), rel=0, abs=atol)
    # CH is a ratio of sums of squares (values in the thousands): relative tolerance
    assert metrics.calinski_harabasz_score(X, labels) == pytest.approx(
        reference(skm.calinski_harabasz_score, X, labels), rel=ch_rtol, abs=atol)
    # scikit-learn measures distances to the centroids with the gemm formula: a singleton's
    # distance to its own centroid comes out as sqrt(rounding noise) (~1e-7) instead of 0, so
    # compare loosely to it there, and tightly to the exact definition always.
    db = metrics.davies_bouldin_score(X, labels)
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    db_atol = atol if counts.min() > 1 else max(atol, 1e-5)
    assert db == pytest.approx(reference(skm.davies_bouldin_score, X, labels), rel=0,
                               abs=db_atol)
    assert db == pytest.approx(numpy_davies_bouldin(X, labels), rel=0, abs=atol)


# --------------------------------------------------------------------------------------------
# values == scikit-learn
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, d, k",
    [
        (3, 2, 2), (4, 1, 2), (5, 3, 2), (5, 2, 4),
        (127, 2, 3), (129, 1, 2), (255, 7, 5), (257, 3, 2),
        (1023, 40, 4), (1025, 2, 3), (1300, 17, 6), (2600, 5, 2), (5000, 3, 7),
    ],
)
def test_blobs_match_sklearn(n, d, k):
    X, y = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=1.5,
                      random_state=n + d)
    if len(np.unique(y)) < 2 or len(np.unique(y)) >= n:
        y = np.arange(n) % 2
    assert_all_metrics_match(X, y)


@pytest.mark.parametrize("d", [1, 2, 3, 11, 40])
def test_dimensions_match_sklearn(d):
    X, y = make_blobs(n_samples=600, n_features=d, centers=4, cluster_std=3.0, random_state=d)
    assert_all_metrics_match(X, y)


def test_many_clusters_match_sklearn():
    X, y = make_blobs(n_samples=3000, n_features=8, centers=50, cluster_std=2.0,
                      random_state=5)
    assert len(np.unique(y)) == 50
    assert_all_metrics_match(X, y)


def test_random_labels_match_sklearn():
    """Labels unrelated to the geometry (negative silhouettes, many label runs per tile)."""
    rng = np.random.RandomState(3)
    X = rng.randn(1500, 6)
    y = rng.randint(0, 9, size=1500)
    assert_all_metrics_match(X, y)
    assert np.any(metrics.silhouette_samples(X, y) < 0)


def test_unbalanced_clusters_match_sklearn():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(2000, 4), rng.randn(3, 4) + 8, rng.randn(40, 4) - 5,
                   rng.randn(2, 4) * 0.1 + [0, 9, 0, 0]])
    y = np.repeat([0, 1, 2, 3], [2000, 3, 40, 2])
    perm = rng.permutation(len(y))  # interleave the clusters
    assert_all_metrics_match(X[perm], y[perm])


def test_singletons_have_zero_silhouette():
    rng = np.random.RandomState(1)
    X = rng.randn(300, 3)
    y = rng.randint(0, 4, size=300)
    singles = [7, 150, 299]
    y[singles] = [10, 11, 12]
    s = metrics.silhouette_samples(X, y)
    assert_array_equal(s[singles], 0.0)
    assert np.all(s[np.setdiff1d(np.arange(300), singles)] != 0.0)
    assert_all_metrics_match(X, y)


def test_duplicate_points_match_sklearn():
    """Repeated rows (zero distances between different samples). Integer coordinates make
    every squared distance exact, so both libraries see exact zeros."""
    rng = np.random.RandomState(2)
    base = rng.randint(-5, 6, size=(60, 3)).astype(np.float64)
    X = np.repeat(base, 5, axis=0)[rng.permutation(300)]
    y = rng.randint(0, 4, size=300)
    assert_all_metrics_match(X, y)
    assert_allclose(metrics.silhouette_samples(X, y), numpy_silhouette(X, y), rtol=0,
                    atol=1e-12)


def test_duplicate_points_random_coordinates_close_to_exact():
    """Duplicated non-integer rows: zero distances are computed as sqrt(rounding noise) by both
    libraries (scikit-learn's formula), so only compare to the exact value loosely."""
    rng = np.random.RandomState(4)
    X = np.repeat(rng.randn(80, 3), 3, axis=0)
    y = rng.randint(0, 3, size=240)
    exact = numpy_silhouette(X, y)
    assert_allclose(metrics.silhouette_samples(X, y), exact, rtol=0, atol=1e-6)
    assert_allclose(reference(skm.silhouette_samples, X, y), exact, rtol=0, atol=1e-6)


def test_all_points_identical_within_clusters():
    """Each cluster is a single repeated point: a == 0 -> silhouette 1; CH intra == 0 -> 1.0."""
    X = np.repeat(np.array([[0.0, 0.0], [3.0, 4.0], [-6.0, 8.0]]), [4, 5, 6], axis=0)
    y = np.repeat([0, 1, 2], [4, 5, 6])
    assert_array_equal(metrics.silhouette_samples(X, y), 1.0)
    assert_all_metrics_match(X, y)


def test_coinciding_centroids_davies_bouldin():
    """Two clusters with the same centroid (distance 0 is ignored, as scikit-learn does)."""
    X = np.array([[-1.0, 0], [1, 0], [-2, 0], [2, 0], [10, 0], [11, 0], [12, 0]])
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    assert metrics.davies_bouldin_score(X, y) == pytest.approx(
        skm.davies_bouldin_score(X, y), rel=0, abs=ATOL)
    assert np.isfinite(metrics.davies_bouldin_score(X, y))
    # all centroids equal -> 0.0
    X2 = np.array([[-1.0], [1], [-2], [2]])
    y2 = np.array([0, 0, 1, 1])
    assert metrics.davies_bouldin_score(X2, y2) == skm.davies_bouldin_score(X2, y2) == 0.0


@pytest.mark.parametrize(
    "make_labels",
    [
        pytest.param(lambda y: np.array([f"c{v}" for v in y]), id="str"),
        pytest.param(lambda y: np.array([3, 17, -1])[y], id="noncontiguous_int"),
        pytest.param(lambda y: np.array([2.5, -7.0, 1e6])[y], id="float"),
        pytest.param(lambda y: [int(v) for v in y], id="list"),
        pytest.param(lambda y: ["b" if v else "a" for v in y], id="list_str"),
        pytest.param(lambda y: np.array([-1, 3, 17])[y].astype(np.int8), id="int8"),
        pytest.param(lambda y: np.array(["x", "y", "z"], dtype=object)[y], id="object"),
    ],
)
def test_label_types_match_sklearn(make_labels):
    X, y = make_blobs(n_samples=400, n_features=3, centers=3, random_state=7)
    labels = make_labels(y)
    assert_all_metrics_match(X, labels)
    # same values as with the plain 0..k-1 codes
    _, codes = np.unique(np.asarray(labels), return_inverse=True)
    assert_array_equal(metrics.silhouette_samples(X, labels),
                       metrics.silhouette_samples(X, codes.ravel()))


def test_bool_labels_match_sklearn():
    X, y = make_blobs(n_samples=300, n_features=2, centers=2, random_state=11)
    labels = y.astype(bool)
    assert labels.dtype == bool
    assert_all_metrics_match(X, labels)


def test_list_X_and_integer_X_match_sklearn():
    rng = np.random.RandomState(8)
    Xi = rng.randint(-20, 20, size=(150, 4))
    y = rng.randint(0, 3, size=150)
    assert_all_metrics_match(Xi, y)
    assert_all_metrics_match(Xi.tolist(), y.tolist())


def test_l2_metric_alias():
    X, y = make_blobs(n_samples=200, n_features=3, centers=3, random_state=0)
    assert_allclose(metrics.silhouette_samples(X, y, metric="l2"),
                    skm.silhouette_samples(X, y, metric="l2"), rtol=0, atol=ATOL)


@pytest.mark.parametrize("n, d, k", [(5, 1, 2), (300, 4, 3), (1300, 9, 5)])
def test_float32_matches_sklearn(n, d, k):
    X, y = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=2.0, random_state=n)
    X32 = X.astype(np.float32)
    assert_allclose(metrics.silhouette_samples(X32, y),
                    reference(skm.silhouette_samples, X32, y), rtol=0, atol=ATOL32)
    assert metrics.silhouette_score(X32, y) == pytest.approx(
        reference(skm.silhouette_score, X32, y), rel=0, abs=ATOL32)
    assert metrics.calinski_harabasz_score(X32, y) == pytest.approx(
        skm.calinski_harabasz_score(X32, y), rel=ATOL32)
    assert metrics.davies_bouldin_score(X32, y) == pytest.approx(
        skm.davies_bouldin_score(X32, y), rel=0, abs=ATOL32)


def test_float32_computed_in_float64():
    """The kernels compute distances in float64: float32 data give its exact float64 upcast's
    silhouettes, returned in float32 (as scikit-learn returns X's dtype)."""
    X, y = make_blobs(n_samples=900, n_features=5, centers=4, random_state=2)
    X32 = X.astype(np.float32)
    result = metrics.silhouette_samples(X32, y)
    assert result.dtype == np.float32
    assert_array_equal(result,
                       metrics.silhouette_samples(X32.astype(np.float64), y).astype(np.float32))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(3, 40),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    n_labels=st.integers(2, 6),
)
def test_property_small_integer_data_matches_sklearn(n, d, seed, n_labels):
    rng = np.random.RandomState(seed)
    X = rng.randint(-3, 4, size=(n, d)).astype(np.float64)  # many duplicates, exact distances
    y = rng.randint(0, n_labels, size=n)
    if not 1 < len(np.unique(y)) < n:
        y = np.arange(n) % 2
    got = metrics.silhouette_samples(X, y)
    assert_allclose(got, skm.silhouette_samples(X, y), rtol=0, atol=ATOL)
    assert_allclose(got, numpy_silhouette(X, y), rtol=0, atol=ATOL)


# --------------------------------------------------------------------------------------------
# the compiled kernels
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n, d, k", [(1, 2, 1), (3, 1, 2), (129, 3, 4), (700, 5, 3),
                                     (1100, 2, 7)])
def test_kernel_sums_match_numpy(kernel, dtype, n_threads, n, d, k):
    rng = np.random.RandomState(n + k)
    X = (rng.randn(n, d) * 3).astype(dtype)
    labels = rng.randint(0, k, size=n).astype(np.int32)
    X_before = X.copy()
    S = call_kernel(KERNELS[kernel], X, labels, k, n_threads)
    assert_array_equal(X, X_before)
    expected = numpy_cluster_sums(X, labels, k)
    assert_allclose(S, expected, rtol=1e-11, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, d, k", [(257, 3, 2), (1025, 4, 5), (2049, 2, 3), (600, 40, 50)])
def test_kernels_agree_and_are_thread_independent(dtype, n, d, k):
    rng = np.random.RandomState(n)
    X = rng.randn(n, d).astype(dtype)
    # sorted-ish labels with a few strays: long runs plus run boundaries inside tiles
    labels = np.sort(rng.randint(0, k, size=n)).astype(np.int32)
    labels[rng.choice(n, n // 20, replace=False)] = rng.randint(0, k, size=n // 20)
    one_1 = call_kernel(KERNELS["one_sided"], X, labels, k, 1)
    one_2 = call_kernel(KERNELS["one_sided"], X, labels, k, 2)
    sym_1 = call_kernel(KERNELS["symmetric"], X, labels, k, 1)
    sym_2 = call_kernel(KERNELS["symmetric"], X, labels, k, 2)
    assert_array_equal(one_1, one_2)
    assert_array_equal(sym_1, sym_2)
    assert_allclose(one_1, sym_1, rtol=1e-12, atol=1e-10)
    # totals: sum_i S[i, c] counts every pair of clusters twice, symmetric in (c, c')
    pair = np.array([one_1[labels == c].sum(axis=0) for c in range(k)])
    assert_allclose(pair, pair.T, rtol=1e-10)


def test_kernel_missing_cluster_gives_zero_column():
    """A cluster id with no sample: its column of sums is 0 (both kernels)."""
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    labels = rng.choice([0, 2], size=300).astype(np.int32)
    for kernel in KERNELS.values():
        S = call_kernel(kernel, X, labels, 3, 2)
        assert_array_equal(S[:, 1], 0.0)
        assert_allclose(S, numpy_cluster_sums(X, labels, 3), rtol=1e-11, atol=1e-10)


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_kernel_rejects_wrong_output_shape(kernel):
    X = np.random.RandomState(0).randn(10, 2)
    labels = (np.arange(10) % 2).astype(np.int32)
    with pytest.raises(ValueError):
        KERNELS[kernel](X, labels, 2, np.zeros((10, 3)), 1)
    with pytest.raises(ValueError):
        KERNELS[kernel](X, labels, 2, np.zeros((9, 2)), 1)


@pytest.mark.parametrize("force_one_sided", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_silhouette_thread_count_bitwise(monkeypatch, force_one_sided, dtype):
    if force_one_sided:
        monkeypatch.setattr(metrics, "_SYMMETRIC_MAX_BYTES", 0)
    X, y = make_blobs(n_samples=2300, n_features=6, centers=5, cluster_std=3.0,
                      random_state=4)
    X = X.astype(dtype)
    s1 = metrics.silhouette_samples(X, y, n_threads=1)
    s2 = metrics.silhouette_samples(X, y, n_threads=2)
    assert_array_equal(s1, s2)
    assert metrics.silhouette_score(X, y, n_threads=1) == metrics.silhouette_score(
        X, y, n_threads=2)
    tol = ATOL if dtype == np.float64 else ATOL32
    assert_allclose(s1, reference(skm.silhouette_samples, X, y), rtol=0, atol=tol)


@pytest.mark.parametrize("n, d, k", [(3, 1, 2), (300, 40, 50), (1500, 3, 4)])
def test_one_sided_path_matches_sklearn(monkeypatch, n, d, k):
    monkeypatch.setattr(metrics, "_SYMMETRIC_MAX_BYTES", 0)
    X, y = make_blobs(n_samples=n, n_features=d, centers=k, random_state=n)
    if not 1 < len(np.unique(y)) < n:
        y = np.arange(n) % 2
    assert_allclose(metrics.silhouette_samples(X, y),
                    reference(skm.silhouette_samples, X, y), rtol=0, atol=ATOL)


def test_kernel_choice_follows_memory_threshold(monkeypatch):
    """Symmetric kernel iff 4 * n * k * 8 bytes <= _SYMMETRIC_MAX_BYTES."""
    calls = []

    class Spy:
        def cluster_distance_sums(self, *args):
            calls.append("one_sided")
            return _silhouette.cluster_distance_sums(*args)

        def cluster_distance_sums_symmetric(self, *args):
            calls.append("symmetric")
            return _silhouette.cluster_distance_sums_symmetric(*args)

    monkeypatch.setattr(metrics, "_silhouette", Spy())
    X, y = make_blobs(n_samples=100, n_features=2, centers=3, random_state=0)
    need = 4 * 100 * 3 * 8
    for limit, expected in [(need, "symmetric"), (need - 1, "one_sided"),
                            (64 * 1024 * 1024, "symmetric")]:
        monkeypatch.setattr(metrics, "_SYMMETRIC_MAX_BYTES", limit)
        calls.clear()
        s = metrics.silhouette_samples(X, y)
        assert calls == [expected]
        assert_allclose(s, skm.silhouette_samples(X, y), rtol=0, atol=ATOL)


# --------------------------------------------------------------------------------------------
# silhouette_score with sample_size
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sample_size", [2, 50, 333, 1000, 5000])
@pytest.mark.parametrize("random_state", [0, 42])
def test_sample_size_matches_sklearn(sample_size, random_state):
    X, y = make_blobs(n_samples=1000, n_features=4, centers=4, cluster_std=2.5,
                      random_state=1)
    try:
        expected = reference(skm.silhouette_score, X, y, sample_size=sample_size,
                             random_state=random_state)
    except ValueError:  # the subset has a single label (tiny sample sizes)
        with pytest.raises(ValueError):
            metrics.silhouette_score(X, y, sample_size=sample_size, random_state=random_state)
        return
    got = metrics.silhouette_score(X, y, sample_size=sample_size, random_state=random_state)
    assert got == pytest.approx(expected, rel=0, abs=ATOL)
    if sample_size < 1000:  # really a subset: differs from the full score
        assert got != pytest.approx(metrics.silhouette_score(X, y), rel=0, abs=1e-12)


def test_sample_size_random_state_instance_and_np_int():
    X, y = make_blobs(n_samples=500, n_features=3, centers=3, random_state=3)
    labels = np.array(["p", "q", "r"])[y]
    got = metrics.silhouette_score(X, labels, sample_size=np.int64(120),
                                   random_state=np.random.RandomState(9))
    expected = skm.silhouette_score(X, labels, sample_size=np.int64(120),
                                    random_state=np.random.RandomState(9))
    assert got == pytest.approx(expected, rel=0, abs=ATOL)
    # None: draws from numpy's global RandomState, like scikit-learn
    np.random.seed(5)
    got = metrics.silhouette_score(X, labels, sample_size=120, random_state=None)
    np.random.seed(5)
    expected = skm.silhouette_score(X, labels, sample_size=120, random_state=None)
    assert got == pytest.approx(expected, rel=0, abs=ATOL)


@pytest.mark.parametrize("sample_size", [0, -3, 2.5, 10.0, "10", True, [10]])
def test_sample_size_invalid(sample_size):
    X, y = make_blobs(n_samples=60, n_features=2, centers=2, random_state=0)
    with pytest.raises(ValueError):
        metrics.silhouette_score(X, y, sample_size=sample_size, random_state=0)


@pytest.mark.parametrize("n_labels", [30, 20])
def test_sample_size_labels_length_mismatch(n_labels):
    X = np.random.RandomState(0).randn(25, 2)
    labels = np.arange(n_labels) % 3
    with pytest.raises(ValueError):
        skm.silhouette_score(X, labels, sample_size=10, random_state=0)
    with pytest.raises(ValueError):
        metrics.silhouette_score(X, labels, sample_size=10, random_state=0)


# --------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------
def _peak_bytes(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_60k():
    """60k x 10, k = 10: an n x n distance matrix would be 28.8 GB; kmix stays O(n k)."""
    X, y = make_blobs(n_samples=60_000, n_features=10, centers=10, random_state=0)
    out = {}
    peak = _peak_bytes(lambda: out.setdefault("s", metrics.silhouette_samples(X, y)))
    assert peak < 100e6
    s = out["s"]
    assert s.shape == (60_000,)
    # spot-check a few samples against the definition (exact distances to all samples)
    rows = np.random.RandomState(0).choice(60_000, 5, replace=False)
    counts = np.bincount(y)
    for i in rows:
        dist = np.sqrt(((X - X[i]) ** 2).sum(axis=1))
        sums = np.bincount(y, weights=dist, minlength=10)
        a = sums[y[i]] / (counts[y[i]] - 1)
        b = np.min(np.delete(sums / counts, y[i]))
        assert s[i] == pytest.approx((b - a) / max(a, b), rel=0, abs=1e-9)


@pytest.mark.parametrize("force_one_sided", [False, True])
def test_memory_20k(monkeypatch, force_one_sided):
    if force_one_sided:
        monkeypatch.setattr(metrics, "_SYMMETRIC_MAX_BYTES", 0)
    X, y = make_blobs(n_samples=20_000, n_features=10, centers=10, random_state=1)
    peak = _peak_bytes(lambda: metrics.silhouette_samples(X, y))
    assert peak < 40e6


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
ALL_METRICS = [metrics.silhouette_samples, metrics.silhouette_score,
               metrics.calinski_harabasz_score, metrics.davies_bouldin_score]


@pytest.mark.parametrize("fn", ALL_METRICS, ids=lambda f: f.__name__)
def test_bad_input_raises(fn):
    rng = np.random.RandomState(0)
    X = rng.randn(10, 3)
    y = np.arange(10) % 3
    with pytest.raises(ValueError, match="Number of labels"):
        fn(X, np.zeros(10, dtype=int))                      # one label
    with pytest.raises(ValueError, match="Number of labels"):
        fn(X, np.arange(10))                                # n distinct labels
    with pytest.raises(ValueError, match="Number of labels"):
        fn(X[:2], ["a", "b"])                               # n = 2: always n distinct labels
    with pytest.raises(ValueError):
        fn(X[:1], [0])                                      # n = 1
    with pytest.raises(ValueError):
        fn(X, y[:9])                                        # length mismatch
    with pytest.raises(ValueError):
        fn(X, np.append(y, 0))
    with pytest.raises(ValueError):
        fn(X, y.reshape(5, 2))                              # 2-D labels
    with pytest.raises(ValueError):
        fn(X, np.stack([y, y], axis=1))
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[4, 1] = bad
        with pytest.raises(ValueError):
            fn(Xb, y)
        with pytest.raises(ValueError):
            fn(Xb.astype(np.float32), y)
    with pytest.raises(ValueError):
        fn(X[:, 0], y)                                      # 1-D X
    with pytest.raises(ValueError):
        fn(np.empty((0, 3)), np.empty(0))


@pytest.mark.parametrize("fn", [metrics.silhouette_samples, metrics.silhouette_score],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("metric, error", [("Euclidean", ValueError), ("l3", ValueError),
                                           ("", ValueError), (3, TypeError),
                                           (None, TypeError), (["cosine"], TypeError)])
def test_unknown_metric_raises(fn, metric, error):
    """Names pairwise_distances does not know (case matters) and non-callables are refused,
    by scikit-learn too."""
    X, y = make_blobs(n_samples=30, n_features=2, centers=2, random_state=0)
    with pytest.raises(error, match="'metric' parameter"):
        fn(X, y, metric=metric)
    with pytest.raises(error):
        getattr(skm, fn.__name__)(X, y, metric=metric)


def test_sample_size_path_validates_X_and_metric():
    X, y = make_blobs(n_samples=30, n_features=2, centers=2, random_state=0)
    Xb = X.copy()
    Xb[0, 0] = np.nan
    with pytest.raises(ValueError):
        metrics.silhouette_score(Xb, y, sample_size=10, random_state=0)
    with pytest.raises(ValueError, match="'metric' parameter"):
        metrics.silhouette_score(X, y, sample_size=10, random_state=0, metric="cosinus")
    with pytest.raises(ValueError, match="'random_state' parameter"):
        metrics.silhouette_score(X, y, sample_size=10, random_state="0")


@pytest.mark.parametrize("n_threads", [0, 1.5, "2"])
def test_bad_n_threads_raises(n_threads):
    X, y = make_blobs(n_samples=30, n_features=2, centers=2, random_state=0)
    with pytest.raises((ValueError, TypeError)):
        metrics.silhouette_samples(X, y, n_threads=n_threads)


# --------------------------------------------------------------------------------------------
# inputs are not modified
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_inputs_not_modified(dtype, order):
    X, y = make_blobs(n_samples=400, n_features=4, centers=3, random_state=6)
    X = np.asarray(X, dtype=dtype, order=order)
    for labels in (y.copy(), np.array(["u", "v", "w"])[y], y[::-1].copy()[::-1]):
        X0, labels0 = X.copy(), labels.copy()
        metrics.silhouette_samples(X, labels)
        metrics.silhouette_score(X, labels)
        metrics.silhouette_score(X, labels, sample_size=100, random_state=0)
        metrics.calinski_harabasz_score(X, labels)
        metrics.davies_bouldin_score(X, labels)
        assert_array_equal(X, X0)
        assert X.dtype == X0.dtype and X.flags.f_contiguous == (order == "F")
        assert_array_equal(labels, labels0)
        assert labels.dtype == labels0.dtype


def test_list_inputs_not_modified():
    X = [[0.0, 1.0], [0.5, 1.0], [4.0, 4.0], [4.5, 4.0], [9.0, 0.0]]
    y = [1, 1, 2, 2, 2]
    X0 = [row[:] for row in X]
    y0 = list(y)
    metrics.silhouette_samples(X, y)
    metrics.calinski_harabasz_score(X, y)
    metrics.davies_bouldin_score(X, y)
    assert X == X0 and y == y0


# --------------------------------------------------------------------------------------------
# every metric, sparse X, precomputed distances
# --------------------------------------------------------------------------------------------
RTOL = 1e-10         # float64 paths that scikit-learn computes the same way


def euclid(a, b):
    """A callable metric (Euclidean, written out)."""
    return np.sqrt(np.sum((a - b) ** 2))


def assert_silhouettes_match(X, y, metric, rtol=RTOL, atol=1e-12, **kwds):
    """silhouette_samples / score == scikit-learn's, same dtype; returns kmix's samples."""
    expected = reference(skm.silhouette_samples, X, y, metric=metric, **kwds)
    got = metrics.silhouette_samples(X, y, metric=metric, **kwds)
    assert got.dtype == expected.dtype
    assert_allclose(got, expected, rtol=rtol, atol=atol)
    assert metrics.silhouette_score(X, y, metric=metric, **kwds) == pytest.approx(
        reference(skm.silhouette_score, X, y, metric=metric, **kwds), rel=rtol, abs=atol)
    return got


def mixed_data(n, d=4, k=3, seed=0, dtype=np.float64):
    """Blobs plus labels with a few strays (negative silhouettes, several label runs)."""
    X, y = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=2.0, random_state=seed)
    rng = np.random.RandomState(seed)
    y[rng.choice(n, n // 10, replace=False)] = rng.randint(0, k, size=n // 10)
    return X.astype(dtype), y


@pytest.mark.parametrize("small_chunks", [False, True], ids=["one_chunk", "many_chunks"])
@pytest.mark.parametrize("metric, kwds", [
    ("manhattan", {}), ("cityblock", {}), ("cosine", {}), ("chebyshev", {}),
    ("minkowski", {"p": 3}), ("sqeuclidean", {}), ("canberra", {}),
    # data-derived parameters: computed once on the whole X, not per chunk
    ("seuclidean", {}), ("mahalanobis", {}),
    # kwds that change Euclidean distances leave the compiled path
    ("euclidean", {"squared": True}),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_metric_matches_sklearn(monkeypatch, metric, kwds, dtype, small_chunks):
    if small_chunks:  # ~20 rows per block instead of the whole matrix
        monkeypatch.setattr(metrics, "_CHUNK_MIB", 20 * 300 * 8 / 2**20)
    X, y = mixed_data(300, dtype=dtype, seed=3)
    # SciPy metrics compute in float64 (so do kmix's); cosine/euclidean: scikit-learn keeps
    # float32 distances and float32 sums, kmix float64 throughout
    float32_sklearn = dtype == np.float32 and metric in ("cosine", "euclidean")
    got = assert_silhouettes_match(X, y, metric, rtol=1e-5 if float32_sklearn else RTOL,
                                   atol=ATOL32 if float32_sklearn else 1e-12, **kwds)
    if float32_sklearn:  # float32 data: its float64 upcast's values, returned in float32
        assert_array_equal(got, metrics.silhouette_samples(
            X.astype(np.float64), y, metric=metric, **kwds).astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_callable_metric_matches_sklearn(monkeypatch, dtype):
    monkeypatch.setattr(metrics, "_CHUNK_MIB", 30 * 80 * 8 / 2**20)  # 3 blocks
    X, y = mixed_data(80, d=3, dtype=dtype, seed=5)
    tol = ATOL32 if dtype == np.float32 else 1e-12
    got = assert_silhouettes_match(X, y, euclid, rtol=RTOL, atol=tol)
    # the callable gets X's rows as they are: float32 distances, float32 silhouettes
    assert got.dtype == dtype
    assert_allclose(got, metrics.silhouette_samples(X, y), rtol=0, atol=tol)


def test_callable_metric_kwds_are_passed():
    X, y = mixed_data(60, d=3, seed=6)
    weighted = lambda a, b, w: np.sum(w * np.abs(a - b))  # noqa: E731
    w = np.array([1.0, 5.0, 0.5])
    got = assert_silhouettes_match(X, y, weighted, w=w)
    assert_allclose(got, metrics.silhouette_samples(X * w, y, metric="manhattan"),
                    rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
@pytest.mark.parametrize("metric", ["euclidean", "l2", "manhattan", "cosine"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_X_matches_sklearn_and_dense(monkeypatch, fmt, metric, dtype):
    monkeypatch.setattr(metrics, "_CHUNK_MIB", 50 * 250 * 8 / 2**20)  # 5 blocks
    X, y = mixed_data(250, d=6, dtype=dtype, seed=7)
    X[np.abs(X) < 3] = 0.0                                       # ~half the entries
    Xs = sp.csr_matrix(X).asformat(fmt)
    if dtype == np.float32 and metric != "manhattan":
        # scikit-learn: float32 distances and sums; kmix: float64, as for dense X
        got = metrics.silhouette_samples(Xs, y, metric=metric)
        assert got.dtype == np.float32
        assert_allclose(got, reference(skm.silhouette_samples, Xs, y, metric=metric),
                        rtol=0, atol=ATOL32)
    else:
        got = assert_silhouettes_match(Xs, y, metric)
    # same values as the dense input (the compiled Euclidean path for 'euclidean')
    assert_allclose(got, metrics.silhouette_samples(X, y, metric=metric), rtol=1e-9,
                    atol=1e-9 if dtype == np.float64 else 1e-6)


def test_sparse_X_scipy_metric_raises_as_sklearn():
    X, y = mixed_data(40, seed=1)
    with pytest.raises(TypeError, match="sparse"):
        skm.silhouette_samples(sp.csr_matrix(X), y, metric="chebyshev")
    with pytest.raises(TypeError, match="sparse"):
        metrics.silhouette_samples(sp.csr_matrix(X), y, metric="chebyshev")


@pytest.mark.parametrize("source_metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_precomputed_dense_matches_sklearn(monkeypatch, source_metric, dtype, order):
    monkeypatch.setattr(metrics, "_CHUNK_MIB", 40 * 400 * 8 / 2**20)  # F order: 10 blocks
    X, y = mixed_data(400, seed=8)
    D = np.asarray(pairwise_distances(X, metric=source_metric), dtype=dtype, order=order)
    # scikit-learn sums float32 distances in float32, kmix in float64
    tol = dict(rtol=RTOL, atol=1e-12) if dtype == np.float64 else dict(rtol=0, atol=ATOL32)
    got = assert_silhouettes_match(D, y, "precomputed", **tol)
    assert_allclose(got, metrics.silhouette_samples(X.astype(dtype), y, metric=source_metric),
                    rtol=0, atol=1e-9 if dtype == np.float64 else ATOL32)
    # float32 distances: exactly their float64 upcast's silhouettes, returned in float32
    assert_array_equal(got, metrics.silhouette_samples(D.astype(np.float64), y,
                                                       metric="precomputed").astype(dtype))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, bool])
def test_precomputed_integer_and_bool_matrices(monkeypatch, dtype):
    """Integer distances (e.g. Hamming counts): converted a block of rows at a time."""
    monkeypatch.setattr(metrics, "_CHUNK_MIB", 16 * 150 * 8 / 2**20)
    rng = np.random.RandomState(9)
    codes = rng.randint(0, 2, size=(150, 12))
    D = np.rint(pairwise_distances(codes, metric="hamming") * 12).astype(np.int64)
    if dtype is bool:
        D = D > 5
    D = D.astype(dtype)
    y = rng.randint(0, 4, size=150)
    got = assert_silhouettes_match(D, y, "precomputed")
    assert got.dtype == np.float64
    assert_array_equal(got, metrics.silhouette_samples(D.astype(np.float64), y,
                                                       metric="precomputed"))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dok"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_precomputed_sparse_matches_sklearn(fmt, dtype):
    """A sparse matrix of distances: absent entries are distances of 0 (as scikit-learn)."""
    X, y = mixed_data(300, seed=10)
    D = pairwise_distances(X).astype(dtype)
    D[D > np.median(D)] = 0.0                         # keep only the shorter half
    Ds = sp.csr_matrix(D).asformat(fmt)
    tol = dict(rtol=RTOL, atol=1e-12) if dtype == np.float64 else dict(rtol=0, atol=ATOL32)
    got = assert_silhouettes_match(Ds, y, "precomputed", **tol)
    assert_allclose(got, metrics.silhouette_samples(D, y, metric="precomputed"),
                    rtol=RTOL, atol=1e-12)


def test_precomputed_sparse_explicit_zeros_and_duplicates():
    """Stored zeros count as zeros, duplicate entries add up (scipy's CSR semantics)."""
    X, y = mixed_data(60, seed=11)
    D = pairwise_distances(X)
    coo = sp.coo_matrix(D)
    # split every entry in two stored halves, plus explicit zeros on the diagonal
    rows = np.concatenate([coo.row, coo.row, np.arange(60)])
    cols = np.concatenate([coo.col, coo.col, np.arange(60)])
    data = np.concatenate([coo.data / 2, coo.data / 2, np.zeros(60)])
    Ds = sp.csr_matrix((data, (rows, cols)), shape=D.shape)
    Ds.has_canonical_format = False
    Ds = sp.csr_matrix((Ds.data, Ds.indices, Ds.indptr), shape=D.shape)
    got = assert_silhouettes_match(Ds, y, "precomputed")
    assert_allclose(got, metrics.silhouette_samples(D, y, metric="precomputed"),
                    rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_precomputed_thread_count_bitwise(dtype):
    X, y = mixed_data(1500, seed=12)
    D = pairwise_distances(X, metric="manhattan").astype(dtype)
    s1 = metrics.silhouette_samples(D, y, metric="precomputed", n_threads=1)
    s2 = metrics.silhouette_samples(D, y, metric="precomputed", n_threads=2)
    assert s1.tobytes() == s2.tobytes()
    labels = np.unique(y, return_inverse=True)[1].astype(np.int32)
    S1, S2 = np.empty((1500, 3)), np.empty((1500, 3))
    _silhouette.cluster_sums_from_distances(D, labels, 3, S1, 1)
    _silhouette.cluster_sums_from_distances(D, labels, 3, S2, 2)
    assert S1.tobytes() == S2.tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_kernel_row_block_sums_and_lowest_entry(dtype, n_threads):
    """cluster_sums_from_distances on an m x n block of rows: float64 sums per cluster, and
    the smallest entry returned when negative (0.0 otherwise)."""
    rng = np.random.RandomState(13)
    labels = rng.randint(0, 5, size=403).astype(np.int32)
    D = rng.rand(37, 403).astype(dtype)
    expected = np.stack([D[:, labels == c].astype(np.float64).sum(axis=1) for c in range(5)],
                        axis=1)
    S = np.full((37, 5), np.nan)
    assert _silhouette.cluster_sums_from_distances(D, labels, 5, S, n_threads) == 0.0
    assert_allclose(S, expected, rtol=1e-13)
    D[20, 401] = -0.25
    D[3, 7] = -0.5
    assert _silhouette.cluster_sums_from_distances(D, labels, 5, S, n_threads) == -0.5
    with pytest.raises(ValueError, match="shapes"):
        _silhouette.cluster_sums_from_distances(D, labels[:-1], 5, S, n_threads)
    with pytest.raises(ValueError, match="shapes"):
        _silhouette.cluster_sums_from_distances(D, labels, 5, S[:-1], n_threads)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csr_kernel_sums_threads_and_checks(index_dtype, dtype):
    """cluster_sums_from_csr: float64 per-cluster sums of the stored entries (duplicates add,
    empty rows give 0), bitwise the same for 1 and 2 threads, lowest negative entry returned,
    inconsistent arrays refused."""
    rng = np.random.RandomState(23)
    M = sp.random(500, 400, density=0.1, format="csr", random_state=rng, dtype=np.float64)
    M = M.astype(dtype)
    M.data[M.indptr[7]:M.indptr[8]] = 0.0        # an empty row
    M.eliminate_zeros()
    labels = rng.randint(0, 6, size=400).astype(np.int32)
    data = M.data
    indices, indptr = M.indices.astype(index_dtype), M.indptr.astype(index_dtype)
    expected = np.stack([M.toarray()[:, labels == c].astype(np.float64).sum(axis=1)
                         for c in range(6)], axis=1)
    out = {}
    for n_threads in (1, 2):
        S = np.full((500, 6), np.nan)
        assert _silhouette.cluster_sums_from_csr(data, indices, indptr, labels, 6, S,
                                                 n_threads) == 0.0
        assert_allclose(S, expected, rtol=1e-13, atol=0)
        out[n_threads] = S
    assert out[1].tobytes() == out[2].tobytes()
    assert_array_equal(out[1][7], 0.0)
    neg = data.copy()
    neg[[3, 50]] = [-1.5, -0.5]
    S = np.empty((500, 6))
    assert _silhouette.cluster_sums_from_csr(neg, indices, indptr, labels, 6, S, 2) == -1.5
    with pytest.raises(ValueError, match="out of range"):
        _silhouette.cluster_sums_from_csr(data, indices, indptr, labels[:300], 6, S, 1)
    with pytest.raises(ValueError, match="do not match"):
        _silhouette.cluster_sums_from_csr(data, indices, indptr, labels, 6, S[:-1], 1)
    with pytest.raises(ValueError, match="do not match"):
        _silhouette.cluster_sums_from_csr(data[:-1], indices, indptr, labels, 6, S, 1)
    bad_ptr = indptr.copy()
    bad_ptr[10] = bad_ptr[11] + 1
    with pytest.raises(ValueError, match="non-decreasing"):
        _silhouette.cluster_sums_from_csr(data, indices, bad_ptr, labels, 6, S, 1)


def test_memory_precomputed_sparse():
    """A sparse precomputed matrix is reduced in place: no copy of its entries."""
    X, y = mixed_data(2000, seed=24)
    Ds = sp.csr_matrix(pairwise_distances(X))            # 48 MB of stored entries
    peak = _peak_bytes(lambda: metrics.silhouette_samples(Ds, y, metric="precomputed"))
    assert peak < 2e6


@pytest.mark.parametrize("metric", ["precomputed", "manhattan"])
def test_sample_size_other_metrics_match_sklearn(metric):
    X, y = mixed_data(500, seed=14)
    inputs = [X] if metric != "precomputed" else [
        pairwise_distances(X), np.asfortranarray(pairwise_distances(X)),
        sp.csr_matrix(pairwise_distances(X)), sp.csc_matrix(pairwise_distances(X))]
    for data in inputs:
        for random_state in (0, 7):
            got = metrics.silhouette_score(data, y, metric=metric, sample_size=150,
                                           random_state=random_state)
            assert got == pytest.approx(
                reference(skm.silhouette_score, data, y, metric=metric, sample_size=150,
                          random_state=random_state), rel=RTOL, abs=1e-12)
            # the subset's silhouette is that of the matching rows and columns
            idx = np.random.RandomState(random_state).permutation(500)[:150]
            assert got == pytest.approx(
                metrics.silhouette_score(X[idx], y[idx], metric="euclidean"
                                         if metric == "precomputed" else metric),
                rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n_jobs", [None, 1, 2])
def test_n_jobs_and_working_memory_kwds(n_jobs):
    """pairwise_distances' own keywords: accepted on every path, never change the values."""
    X, y = mixed_data(200, seed=15)
    D = pairwise_distances(X)
    base = metrics.silhouette_samples(X, y)
    for metric, data in (("euclidean", X), ("precomputed", D), ("manhattan", X)):
        expected = metrics.silhouette_samples(data, y, metric=metric)
        for extra in ({"n_jobs": n_jobs}, {"working_memory": 0.01}, {"n_jobs": n_jobs,
                                                                  "working_memory": 1}):
            assert_allclose(metrics.silhouette_samples(data, y, metric=metric, **extra),
                            expected, rtol=1e-12, atol=1e-12)
    assert_allclose(metrics.silhouette_samples(D, y, metric="precomputed"), base, rtol=0,
                    atol=1e-12)


# bad input -----------------------------------------------------------------------------------
def _both(fn_name, *args, error=ValueError, match=None, **kwargs):
    """kmix and scikit-learn both raise ``error`` (kmix with a message matching ``match``)."""
    with pytest.raises(error, match=match):
        getattr(metrics, fn_name)(*args, **kwargs)
    with pytest.raises(error):
        getattr(skm, fn_name)(*args, **kwargs)


@pytest.mark.parametrize("fn", ["silhouette_samples", "silhouette_score"])
@pytest.mark.parametrize("container", ["dense", "F", "csr", "int"])
def test_precomputed_bad_matrices_raise(fn, container):
    X, y = mixed_data(30, seed=16)
    D = np.rint(pairwise_distances(X) * 10)

    def make(M):
        if container == "F":
            return np.asfortranarray(M)
        if container == "csr":
            return sp.csr_matrix(M)
        if container == "int":
            return M.astype(np.int64)
        return M

    diag = D.copy()
    diag[4, 4] = 1.0
    _both(fn, make(diag), y, metric="precomputed", match="non-zero elements on the diagonal")
    negative = D.copy()
    negative[3, 17] = -2.0
    _both(fn, make(negative), y, metric="precomputed", match="Negative values")
    _both(fn, make(D[:, :29]), y, metric="precomputed", match="requires shape")
    _both(fn, make(D[:29]), y, metric="precomputed", match="inconsistent numbers of samples")
    _both(fn, make(D), y[:29], metric="precomputed", match="inconsistent numbers of samples")
    _both(fn, make(D), np.zeros(30), metric="precomputed", match="Number of labels is 1")
    _both(fn, make(D), np.arange(30), metric="precomputed", match="Number of labels is 30")
    if container != "int":
        bad = D.copy()
        bad[2, 5] = np.nan
        _both(fn, make(bad), y, metric="precomputed", match="NaN")
        bad[2, 5] = np.inf
        _both(fn, make(bad), y, metric="precomputed", match="infinity")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precomputed_non_finite_reported_first(dtype):
    """A dense float matrix is checked for NaN/inf by the reduction itself: scikit-learn's
    error, before any other (diagonal, labels, negative), and none when finite entries only
    overflow the sums."""
    X, y = mixed_data(40, seed=25)
    D = pairwise_distances(X).astype(dtype)
    for (i, j), value in itertools.product([(3, 8), (39, 0), (5, 5)], [np.nan, np.inf, -np.inf]):
        bad = D.copy()
        bad[i, j] = value
        match = "NaN" if np.isnan(value) else "infinity"
        _both("silhouette_samples", bad, y, metric="precomputed", match=match)
        _both("silhouette_samples", bad, np.zeros(40), metric="precomputed", match=match)
        bad[1, 1] = 1.0                          # also a non-zero diagonal
        _both("silhouette_score", bad, y, metric="precomputed", match=match)
    if dtype == np.float64:  # (float32 entries never overflow the float64 sums)
        huge = D * (np.finfo(dtype).max / D.max() / 2)  # finite; row sums overflow
        assert np.all(np.isfinite(huge))
        with np.errstate(over="ignore", invalid="ignore"):
            expected = reference(skm.silhouette_samples, huge, y, metric="precomputed")
            got = metrics.silhouette_samples(huge, y, metric="precomputed")
        assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precomputed_diagonal_tolerance(dtype):
    """Diagonal entries up to 100 eps of the matrix's dtype pass, as in scikit-learn."""
    X, y = mixed_data(20, seed=17)
    D = pairwise_distances(X).astype(dtype)
    D[2, 2] = np.finfo(dtype).eps * 10
    assert_silhouettes_match(D, y, "precomputed",
                             **({} if dtype == np.float64 else dict(rtol=0, atol=ATOL32)))
    D[2, 2] = np.finfo(dtype).eps * 1000
    _both("silhouette_samples", D, y, metric="precomputed", match="non-zero elements")


@pytest.mark.parametrize("metric", ["manhattan", "cosine", euclid])
def test_other_metrics_bad_labels_raise(metric):
    X, y = mixed_data(20, seed=18)
    _both("silhouette_samples", X, y[:19], metric=metric,
          match="inconsistent numbers of samples")
    _both("silhouette_score", X, np.append(y, 0), metric=metric,
          match="inconsistent numbers of samples")
    _both("silhouette_samples", X, np.zeros(20), metric=metric, match="Number of labels is 1")
    _both("silhouette_score", X, np.arange(20), metric=metric, match="Number of labels is 20")
    _both("silhouette_samples", X, np.stack([y, y], axis=1), metric=metric, match="1d array")


def test_column_vector_labels_accepted_with_warning():
    """As scikit-learn: labels of shape (n, 1) are raveled, with a DataConversionWarning."""
    X, y = mixed_data(50, seed=19)
    with pytest.warns(DataConversionWarning):
        got = metrics.silhouette_samples(X, y[:, None], metric="manhattan")
    assert_array_equal(got, metrics.silhouette_samples(X, y, metric="manhattan"))


# inputs unmodified ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inputs_not_modified_other_paths(dtype):
    X, y = mixed_data(120, seed=20, dtype=dtype)
    labels = np.array(["u", "v", "w"])[y]
    D = pairwise_distances(X).astype(dtype)
    cases = [(X, "manhattan"), (X, "cosine"), (X, euclid), (sp.csr_matrix(X), "euclidean"),
             (D, "precomputed"), (np.asfortranarray(D), "precomputed"),
             (sp.csr_matrix(D), "precomputed")]
    for data, metric in cases:
        before = data.copy() if sp.issparse(data) else data.copy(order="K")
        labels0 = labels.copy()
        metrics.silhouette_samples(data, labels, metric=metric)
        metrics.silhouette_score(data, labels, metric=metric, sample_size=60, random_state=0)
        if sp.issparse(data):
            assert data.dtype == before.dtype and data.format == before.format
            assert_array_equal(data.toarray(), before.toarray())
        else:
            assert data.dtype == before.dtype
            assert data.flags.f_contiguous == before.flags.f_contiguous
            assert_array_equal(data, before)
        assert_array_equal(labels, labels0)


# memory --------------------------------------------------------------------------------------
def test_memory_chunked_metric_6000():
    """Manhattan on 6000 samples: the n x n distances would take 288 MB; kmix holds a 16 MiB
    block of them at a time."""
    X, y = mixed_data(6000, d=5, k=4, seed=21)
    out = {}
    with warnings.catch_warnings():
        peak = _peak_bytes(lambda: out.setdefault(
            "s", metrics.silhouette_samples(X, y, metric="manhattan")))
    assert peak < 6000 * 6000 * 8 / 6  # 48 MB
    # spot-check rows against the definition
    s = out["s"]
    counts = np.bincount(y)
    for i in np.random.RandomState(0).choice(6000, 4, replace=False):
        dist = cdist(X[i:i + 1], X, metric="cityblock")[0]
        sums = np.bincount(y, weights=dist, minlength=4)
        a = sums[y[i]] / (counts[y[i]] - 1)
        b = np.min(np.delete(sums / counts, y[i]))
        assert s[i] == pytest.approx((b - a) / max(a, b), rel=1e-10, abs=1e-12)


def test_memory_precomputed_converted_in_blocks():
    """An int32 matrix is converted to float64 a block of rows at a time, not as a whole."""
    rng = np.random.RandomState(22)
    n = 2500
    D = rng.randint(1, 50, size=(n, n)).astype(np.int32)
    D = D + D.T
    np.fill_diagonal(D, 0)
    y = rng.randint(0, 3, size=n)
    out = {}
    peak = _peak_bytes(lambda: out.setdefault(
        "s", metrics.silhouette_samples(D, y, metric="precomputed")))
    assert peak < n * n * 8 / 2  # the float64 copy would be 50 MB
    expected = metrics.silhouette_samples(D[:, :].astype(np.float64), y, metric="precomputed")
    assert_allclose(out["s"], expected, rtol=1e-12, atol=1e-14)
