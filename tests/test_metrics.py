"""kmix.metrics against scikit-learn, a brute-force numpy reference and invariants.

References used here:
- ``sklearn.metrics`` (silhouette_samples / silhouette_score / calinski_harabasz_score /
  davies_bouldin_score) on the same data and labels,
- exact per-cluster distance sums from a dense numpy pairwise-distance matrix (small n), for
  both compiled kernels (one-sided and symmetric) called directly,
- invariants: bitwise identical results for 1 and 2 threads, float32 data == its float64
  upcast, inputs left untouched, bounded memory (tracemalloc).
"""
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import metrics as skm
from sklearn.datasets import make_blobs
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
        pytest.param(lambda y: np.array(["c%d" % v for v in y]), id="str"),
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
@pytest.mark.parametrize("metric", ["cityblock", "manhattan", "cosine", "precomputed",
                                    "sqeuclidean", "Euclidean"])
def test_unsupported_metric_raises(fn, metric):
    X, y = make_blobs(n_samples=30, n_features=2, centers=2, random_state=0)
    with pytest.raises(ValueError):
        fn(X, y, metric=metric)


def test_sample_size_path_validates_X_and_metric():
    X, y = make_blobs(n_samples=30, n_features=2, centers=2, random_state=0)
    Xb = X.copy()
    Xb[0, 0] = np.nan
    with pytest.raises(ValueError):
        metrics.silhouette_score(Xb, y, sample_size=10, random_state=0)
    with pytest.raises(ValueError):
        metrics.silhouette_score(X, y, sample_size=10, random_state=0, metric="cosine")


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
