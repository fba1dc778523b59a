"""kmix.AgglomerativeClustering against scikit-learn, scipy, closed forms and invariants.

References used here:
- scikit-learn's AgglomerativeClustering on the same data and parameters: labels_ (same
  numbering), n_clusters_, children_, n_leaves_, n_connected_components_ and distances_
  must be equal (bitwise, except ward without connectivity, where kmix computes the ward
  distance from centroids instead of scipy's Lance-Williams updates: rtol 1e-10),
- scipy.cluster.hierarchy.ward (the linkage matrix itself),
- closed forms (three points on a line, two points),
- invariants (ward distances non-decreasing, every node merged once, O(n d) memory,
  bitwise determinism over thread counts and SIMD/baseline kernels, inputs untouched).
"""
import os
import subprocess
import sys
import textwrap
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.cluster import hierarchy
from sklearn.base import clone
from sklearn.cluster import AgglomerativeClustering as SKAgglomerative
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import kneighbors_graph
from sklearn.utils.estimator_checks import parametrize_with_checks

import kmix
from kmix import AgglomerativeClustering
from kmix._core import _hierarchy

LINKAGES = ["ward", "complete", "average", "single"]
NON_WARD = ["complete", "average", "single"]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def three_groups(n=150, d=3, seed=0):
    """Three Gaussian groups far apart (a 5-NN graph on them has several components)."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    X[: n // 3, 0] += 40.0
    X[n // 3: 2 * n // 3, 0] -= 40.0
    return X


def connectivity_for(X, kind):
    if kind == "none":
        return None
    if kind == "knn":  # one component
        return kneighbors_graph(X, 30, include_self=False)
    return kneighbors_graph(X, 4, include_self=False)  # "split": several components


def fit_both(X, **params):
    """Fit kmix and scikit-learn with the same parameters (warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SKAgglomerative(**params).fit(X)
        km = AgglomerativeClustering(**params).fit(X)
    return km, sk


def assert_same_fit(km, sk, exact=True):
    """Every fitted attribute of kmix equals scikit-learn's (distances exactly or to
    rtol 1e-10)."""
    assert_array_equal(km.labels_, sk.labels_)
    assert km.n_clusters_ == sk.n_clusters_
    assert km.n_leaves_ == sk.n_leaves_
    assert km.n_connected_components_ == sk.n_connected_components_
    assert km.children_.shape == sk.children_.shape
    assert_array_equal(km.children_, sk.children_)
    assert hasattr(km, "distances_") == hasattr(sk, "distances_")
    if hasattr(sk, "distances_"):
        if exact:
            assert_array_equal(km.distances_, sk.distances_)
        else:
            assert_allclose(km.distances_, sk.distances_, rtol=1e-10, atol=0)


def exact_for(linkage, connectivity):
    """kmix reproduces scikit-learn's arithmetic except for unstructured ward."""
    return not (linkage == "ward" and connectivity is None)


def check_tree(children, n_leaves):
    """children_ is a valid merge tree: each merge joins two existing, unmerged nodes."""
    merged = np.zeros(n_leaves + len(children), dtype=bool)
    for i, (a, b) in enumerate(children):
        assert a != b
        for node in (a, b):
            assert 0 <= node < n_leaves + i
            assert not merged[node]
            merged[node] = True


# --------------------------------------------------------------------------------------------
# equality with scikit-learn
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["n_clusters", "threshold", "distances", "partial"])
@pytest.mark.parametrize("connectivity", ["none", "knn", "split"])
@pytest.mark.parametrize("linkage", LINKAGES)
def test_matches_sklearn(linkage, connectivity, mode):
    X = three_groups()
    C = connectivity_for(X, connectivity)
    params = dict(linkage=linkage, connectivity=C)
    if mode == "n_clusters":
        params.update(n_clusters=5)
    elif mode == "distances":
        params.update(n_clusters=5, compute_distances=True)
    elif mode == "partial":
        # stop the tree early (only with connectivity; without, the full tree is built)
        params.update(n_clusters=20, compute_full_tree=False, compute_distances=True)
    else:
        full = fit_both(X, n_clusters=2, compute_distances=True, **params)[1]
        threshold = float(np.quantile(full.distances_, 0.95))
        params.update(n_clusters=None, distance_threshold=threshold)
    km, sk = fit_both(X, **params)
    assert_same_fit(km, sk, exact=exact_for(linkage, C))
    if connectivity == "split":
        assert km.n_connected_components_ > 1
    if mode == "partial" and C is not None and linkage != "single":
        assert km.children_.shape == (X.shape[0] - 20, 2)
    check_tree(km.children_, km.n_leaves_)


@pytest.mark.parametrize("linkage", LINKAGES)
def test_auto_partial_tree_with_many_clusters(linkage):
    # compute_full_tree='auto' stops early when n_clusters >= max(100, 0.02 n)
    X = np.random.RandomState(3).standard_normal((400, 4))
    C = kneighbors_graph(X, 8, include_self=False)
    km, sk = fit_both(X, linkage=linkage, connectivity=C, n_clusters=120,
                      compute_distances=True)
    assert_same_fit(km, sk)
    assert len(np.unique(km.labels_)) == 120


@pytest.mark.parametrize("connectivity", ["none", "knn"])
@pytest.mark.parametrize("metric", ["l1", "manhattan", "cityblock", "cosine", "l2",
                                    "euclidean", "precomputed"])
@pytest.mark.parametrize("linkage", NON_WARD)
def test_metrics_match_sklearn(linkage, metric, connectivity):
    X = np.random.RandomState(1).standard_normal((200, 10))
    C = connectivity_for(X, connectivity)
    Xin = pairwise_distances(X, metric="cosine") if metric == "precomputed" else X
    km, sk = fit_both(Xin, linkage=linkage, metric=metric, connectivity=C, n_clusters=6,
                      compute_distances=True)
    assert_same_fit(km, sk)


@pytest.mark.parametrize("n_features", [1, 2, 10, 50])
@pytest.mark.parametrize("linkage", LINKAGES)
def test_dimensions_match_sklearn(linkage, n_features):
    X = np.random.RandomState(n_features).standard_normal((400, n_features))
    for C in (None, kneighbors_graph(X, 10, include_self=False)):
        km, sk = fit_both(X, linkage=linkage, connectivity=C, n_clusters=7,
                          compute_distances=True)
        assert_same_fit(km, sk, exact=exact_for(linkage, C))


@pytest.mark.parametrize("linkage,n_samples,connectivity", [
    ("ward", 3000, False), ("single", 3000, False), ("average", 2000, False),
    ("complete", 1500, True), ("ward", 1500, True), ("average", 1500, True),
])
def test_larger_data_matches_sklearn(linkage, n_samples, connectivity):
    X = np.random.RandomState(5).standard_normal((n_samples, 10))
    C = kneighbors_graph(X, 10, include_self=False) if connectivity else None
    km, sk = fit_both(X, linkage=linkage, connectivity=C, n_clusters=12,
                      compute_distances=True)
    assert_same_fit(km, sk, exact=exact_for(linkage, C))


@pytest.mark.parametrize("linkage", LINKAGES)
def test_float32_matches_sklearn(linkage):
    X = three_groups(n=180, d=5, seed=2).astype(np.float32)
    for kind in ("none", "knn", "split"):
        km, sk = fit_both(X, linkage=linkage, connectivity=connectivity_for(X, kind),
                          n_clusters=4, compute_distances=True)
        assert_same_fit(km, sk, exact=exact_for(linkage, connectivity_for(X, kind)))


@pytest.mark.parametrize("linkage", LINKAGES)
def test_ties_and_duplicates_match_sklearn(linkage):
    # Points on a 4 x 4 integer grid: many exact duplicates and many equal distances.
    # scipy's chain prefers the previous chain element, then the lowest index, and sorts
    # the merges stably; kmix follows the same rules (and keeps the centroid of merged
    # duplicates exact), so even the tie-breaking agrees.
    X = np.random.RandomState(0).randint(0, 4, size=(300, 2)).astype(float)
    for C in (None, kneighbors_graph(X, 8, include_self=False)):
        km, sk = fit_both(X, linkage=linkage, connectivity=C, n_clusters=5,
                          compute_distances=True)
        assert_same_fit(km, sk, exact=exact_for(linkage, C))
        km, sk = fit_both(X, linkage=linkage, connectivity=C, n_clusters=None,
                          distance_threshold=0.5)
        assert_same_fit(km, sk, exact=exact_for(linkage, C))


@pytest.mark.parametrize("linkage", LINKAGES)
def test_repeated_rows_match_sklearn(linkage):
    A = np.random.RandomState(4).standard_normal((60, 3))
    X = np.vstack([A, A[::-1], A[:10]])
    km, sk = fit_both(X, linkage=linkage, n_clusters=8, compute_distances=True)
    assert_same_fit(km, sk, exact=exact_for(linkage, None))
    assert_array_equal(km.distances_[:70], 0.0)  # the 70 duplicates merge first, at 0


@pytest.mark.parametrize("kind", ["dense", "csr", "coo", "lil", "csc", "callable"])
def test_connectivity_formats(kind):
    X = three_groups(n=120, d=2, seed=6)
    G = kneighbors_graph(X, 6, include_self=False)
    C = {"dense": G.toarray(), "csr": G.tocsr(), "coo": G.tocoo(), "lil": G.tolil(),
         "csc": G.tocsc(),
         "callable": lambda Z: kneighbors_graph(Z, 6, include_self=False)}[kind]
    for linkage in LINKAGES:
        km, sk = fit_both(X, linkage=linkage, connectivity=C, n_clusters=3,
                          compute_distances=True)
        assert_same_fit(km, sk)


def test_closest_pair_matches_sklearn_pairwise_distances(monkeypatch):
    # the edge joining two components: the first smallest of scikit-learn's distances,
    # also across several blocks of dot products and with ties (rounded data)
    from kmix import _agglomerative

    rng = np.random.RandomState(19)
    monkeypatch.setattr(_agglomerative, "_PAIR_BLOCK", 2000)
    for trial in range(12):
        A = rng.standard_normal((rng.randint(1, 400), rng.randint(1, 30)))
        B = rng.standard_normal((rng.randint(1, 300), A.shape[1]))
        if trial % 3 == 0:
            B[len(B) // 2] = A[-1]
        if trial % 4 == 1:
            A, B = np.round(A), np.round(B)
        for metric in ("euclidean", "manhattan", "cosine"):
            D = pairwise_distances(A, B, metric=metric)
            expected = np.unravel_index(D.argmin(axis=None), D.shape)
            got = _agglomerative._closest_pair(A, B, metric)
            assert (int(got[0]), int(got[1])) == (int(expected[0]), int(expected[1]))


def test_scipy_ward_linkage_matrix():
    X = np.random.RandomState(8).standard_normal((700, 6))
    Z = _hierarchy.ward_nn_chain(X, 1)
    ref = hierarchy.ward(X)
    assert_array_equal(Z[:, [0, 1, 3]], ref[:, [0, 1, 3]])
    assert_allclose(Z[:, 2], ref[:, 2], rtol=1e-10)


def test_distance_threshold_zero_and_n_clusters_equal_n_samples():
    X = np.random.RandomState(9).standard_normal((40, 3))
    C = kneighbors_graph(X, 5, include_self=False)
    for linkage in LINKAGES:
        km, sk = fit_both(X, linkage=linkage, n_clusters=None, distance_threshold=0.0)
        assert_same_fit(km, sk, exact=exact_for(linkage, None))
        assert km.n_clusters_ == 40
        km, sk = fit_both(X, linkage=linkage, n_clusters=40)
        assert_same_fit(km, sk)
        # a partial tree with no merge at all: every sample its own cluster, in order
        # (scikit-learn's ward gives a 1-D empty children_, its complete and average raise
        # an IndexError; kmix keeps the (0, 2) shape)
        params = dict(linkage=linkage, n_clusters=40, connectivity=C, compute_full_tree=False)
        km = AgglomerativeClustering(**params).fit(X)
        assert_array_equal(km.labels_, np.arange(40))
        if linkage == "single":  # the full tree, as scikit-learn
            assert_same_fit(km, fit_both(X, **params)[1])
        else:
            assert km.children_.shape == (0, 2)


# --------------------------------------------------------------------------------------------
# closed forms and invariants
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("linkage,second", [
    ("ward", 9.5 * np.sqrt(4.0 / 3.0)), ("complete", 10.0), ("average", 9.5),
    ("single", 9.0),
])
def test_three_points_closed_form(linkage, second):
    # 0 and 1 merge first (distance 1), then {0, 1} joins 10: ward
    # sqrt(2 * 2 * 1 / 3) * |0.5 - 10|, complete 10, average (10 + 9) / 2, single 9.
    # Cutting at 2 clusters, scikit-learn's heap of negated node ids holds [-3, -2]: node 3
    # ({0, 1}) is cluster 0, sample 2 cluster 1. Single linkage keeps the MST edge's order
    # (from the tree {0, 1} to the new node 2), the others put the smaller id first.
    X = np.array([[0.0], [1.0], [10.0]])
    model = AgglomerativeClustering(linkage=linkage, n_clusters=2,
                                    compute_distances=True).fit(X)
    assert_array_equal(model.children_, [[0, 1], [3, 2] if linkage == "single" else [2, 3]])
    assert_allclose(model.distances_, [1.0, second], rtol=1e-14)
    assert_array_equal(model.labels_, [0, 0, 1])


def test_two_samples():
    X = np.array([[0.0, 0.0], [3.0, 4.0]])
    for linkage in LINKAGES:
        model = AgglomerativeClustering(linkage=linkage, n_clusters=None,
                                        distance_threshold=4.0).fit(X)
        assert_allclose(model.distances_, [5.0])
        assert model.n_clusters_ == 2
        assert_array_equal(model.children_, [[0, 1]])


@pytest.mark.parametrize("linkage", ["ward", "single"])
def test_distances_non_decreasing_and_tree_valid(linkage):
    X = np.random.RandomState(10).standard_normal((2000, 8))
    model = AgglomerativeClustering(linkage=linkage, n_clusters=3,
                                    compute_distances=True).fit(X)
    assert np.all(np.diff(model.distances_) >= 0)
    check_tree(model.children_, 2000)
    assert np.bincount(model.labels_).sum() == 2000


def test_ward_memory_is_linear():
    n, d = 5000, 10
    X = np.random.RandomState(11).standard_normal((n, d))
    model = AgglomerativeClustering(n_clusters=5)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        model.fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    condensed = n * (n - 1) // 2 * 8  # scipy's (and scikit-learn's) distance matrix
    assert peak < condensed / 40, (peak, condensed)
    assert peak < 40 * n * d * 8


# --------------------------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("linkage", LINKAGES)
def test_n_threads_bitwise_identical(linkage):
    X = np.random.RandomState(12).standard_normal((3000, 100))
    fits = [AgglomerativeClustering(linkage=linkage, n_clusters=6, compute_distances=True,
                                    n_threads=t).fit(X) for t in (1, 2)]
    assert fits[0].children_.tobytes() == fits[1].children_.tobytes()
    assert fits[0].distances_.tobytes() == fits[1].distances_.tobytes()
    assert fits[0].labels_.tobytes() == fits[1].labels_.tobytes()


@pytest.mark.parametrize("n_features", [3, 40])
def test_threaded_scans_bitwise_identical(n_features):
    # force every scan through the blocks-over-threads path, however small
    X = np.random.RandomState(13).standard_normal((1200, n_features))
    assert (_hierarchy.ward_nn_chain(X, 1).tobytes()
            == _hierarchy.ward_nn_chain(X, 2, True).tobytes())
    for manhattan in (False, True):
        assert (_hierarchy.mst_prim(X, manhattan, 1).tobytes()
                == _hierarchy.mst_prim(X, manhattan, 2, True).tobytes())


BASELINE_SCRIPT = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    from kmix._core import _hierarchy
    assert _hierarchy.simd_enabled() == {simd}
    out = []
    for d in (3, 40):
        X = np.random.RandomState(14).standard_normal((1500, d))
        out.append(_hierarchy.ward_nn_chain(X, 1))
        out.append(_hierarchy.mst_prim(X, False, 1))
        out.append(_hierarchy.mst_prim(X, True, 1))
    print(hashlib.sha256(b"".join(a.tobytes() for a in out)).hexdigest())
    """
)


def test_baseline_kernels_bitwise_identical_to_simd():
    if not _hierarchy.simd_enabled():
        pytest.skip("this CPU runs the baseline kernels only")
    digests = []
    for simd in (True, False):
        env = dict(os.environ)
        env.pop("KMIX_DISABLE_SIMD", None)
        if not simd:
            env["KMIX_DISABLE_SIMD"] = "1"
        result = subprocess.run([sys.executable, "-c", BASELINE_SCRIPT.format(simd=simd)],
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        digests.append(result.stdout.strip())
    assert digests[0] == digests[1]


# --------------------------------------------------------------------------------------------
# inputs, parameters, errors
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("linkage", LINKAGES)
def test_inputs_not_modified(linkage):
    X = three_groups(n=120, d=3, seed=15)
    X32 = X.astype(np.float32)
    G = kneighbors_graph(X, 4, include_self=False)
    copies = [X.copy(), X32.copy(), G.copy()]
    for data in (X, X32):
        for C in (None, G):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                AgglomerativeClustering(linkage=linkage, connectivity=C,
                                        compute_distances=True).fit(data)
    assert_array_equal(X, copies[0])
    assert_array_equal(X32, copies[1])
    assert (G != copies[2]).nnz == 0
    assert_array_equal(G.indices, copies[2].indices)
    assert_array_equal(G.indptr, copies[2].indptr)


def test_several_components_warn():
    X = three_groups(n=90, d=2, seed=16)
    C = kneighbors_graph(X, 3, include_self=False)
    with pytest.warns(UserWarning, match="connected components"):
        model = AgglomerativeClustering(connectivity=C).fit(X)
    assert model.n_connected_components_ >= 3


BAD_PARAMS = [
    (dict(n_clusters=0), ValueError, "n_clusters"),
    (dict(n_clusters=-2), ValueError, "n_clusters"),
    (dict(n_clusters=2.5), TypeError, "n_clusters"),
    (dict(n_clusters=None), ValueError, "Exactly one"),
    (dict(n_clusters=3, distance_threshold=1.0), ValueError, "Exactly one"),
    (dict(n_clusters=None, distance_threshold=-1.0), ValueError, "distance_threshold"),
    (dict(n_clusters=None, distance_threshold=np.inf), ValueError, "distance_threshold"),
    (dict(n_clusters=None, distance_threshold="far"), TypeError, "distance_threshold"),
    (dict(n_clusters=None, distance_threshold=1.0, compute_full_tree=False), ValueError,
     "compute_full_tree"),
    (dict(compute_full_tree="yes"), ValueError, "compute_full_tree"),
    (dict(linkage="centroid"), ValueError, "linkage"),
    (dict(linkage="average", metric="minkowski"), ValueError, "metric"),
    (dict(linkage="average", metric=lambda a, b: 0.0), ValueError, "metric"),
    (dict(linkage="ward", metric="manhattan"), ValueError, "Ward"),
    (dict(linkage="ward", metric="cosine"), ValueError, "Ward"),
    (dict(compute_distances="yes"), TypeError, "compute_distances"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(memory=3), ValueError, "memory"),
    (dict(connectivity="knn"), TypeError, "connectivity"),
]


@pytest.mark.parametrize("params,error,match", BAD_PARAMS)
def test_bad_parameters(params, error, match):
    X = np.random.RandomState(0).standard_normal((20, 2))
    with pytest.raises(error, match=match):
        AgglomerativeClustering(**params).fit(X)


def test_bad_inputs():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((20, 3))
    model = AgglomerativeClustering()
    for bad, match in [
        (np.where(np.arange(60).reshape(20, 3) == 7, np.nan, X), "NaN"),
        (np.where(np.arange(60).reshape(20, 3) == 7, np.inf, X), "infinity"),
        (X[:, 0], "2D array"),
        (X[:1], "minimum of 2"),
        (np.empty((0, 3)), "minimum of 2"),
        (np.empty((5, 0)), "feature"),
    ]:
        with pytest.raises(ValueError, match=match):
            model.fit(bad)
    with pytest.raises(TypeError, match="[Ss]parse"):
        model.fit(sp.csr_matrix(X))
    with pytest.raises(ValueError, match="more clusters than samples"):
        AgglomerativeClustering(n_clusters=21).fit(X)
    with pytest.raises(ValueError, match="square"):
        AgglomerativeClustering(linkage="average", metric="precomputed").fit(X)
    Z = X.copy()
    Z[4] = 0.0
    with pytest.raises(ValueError, match="zero vectors"):
        AgglomerativeClustering(linkage="complete", metric="cosine").fit(Z)
    with pytest.raises(ValueError, match="Wrong shape for connectivity"):
        AgglomerativeClustering(connectivity=np.eye(19)).fit(X)
    C = np.eye(20)
    C[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AgglomerativeClustering(connectivity=C).fit(X)
    for linkage in ("ward", "single"):
        with pytest.raises(ValueError, match="overflow|finite"):
            AgglomerativeClustering(linkage=linkage).fit(
                np.array([[1e308, 0.0], [-1e308, 0.0], [0.0, 1.0], [0.0, 2.0]]))


def test_memory_cache(tmp_path):
    X = np.random.RandomState(17).standard_normal((100, 3))
    ref = AgglomerativeClustering(n_clusters=4, compute_distances=True).fit(X)
    for _ in range(2):
        cached = AgglomerativeClustering(n_clusters=4, compute_distances=True,
                                         memory=str(tmp_path)).fit(X)
        assert_array_equal(cached.children_, ref.children_)
        assert_array_equal(cached.distances_, ref.distances_)
        assert_array_equal(cached.labels_, ref.labels_)
    assert any(tmp_path.iterdir())


def test_clone_params_and_fit_predict():
    model = AgglomerativeClustering(n_clusters=3, linkage="average", metric="l1", n_threads=1)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert set(model.get_params()) == set(SKAgglomerative().get_params()) | {"n_threads"}
    twin.set_params(linkage="complete")
    assert twin.linkage == "complete" and model.linkage == "average"
    X = three_groups(n=60, d=2)
    labels = model.fit_predict(X)
    assert_array_equal(labels, model.labels_)
    assert len(np.unique(labels)) == 3
    assert "AgglomerativeClustering" in repr(model)
    assert kmix.AgglomerativeClustering is AgglomerativeClustering
    assert "AgglomerativeClustering" in kmix.__all__


def test_refit_without_distances_drops_them():
    X = np.random.RandomState(18).standard_normal((30, 2))
    model = AgglomerativeClustering(compute_distances=True).fit(X)
    assert hasattr(model, "distances_")
    model.set_params(compute_distances=False).fit(X)
    assert not hasattr(model, "distances_")


@parametrize_with_checks([AgglomerativeClustering(), AgglomerativeClustering(linkage="single"),
                          AgglomerativeClustering(linkage="average", metric="manhattan")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@pytest.mark.parametrize("connectivity", [False, True])
@pytest.mark.parametrize("linkage", LINKAGES)
def test_benchmark_size_matches_sklearn(linkage, connectivity):
    # the benchmark's data: 20000 blobs in 10 dimensions (scikit-learn's unstructured ward
    # and average hold a 1.6 GB distance matrix)
    from sklearn.datasets import make_blobs

    X = make_blobs(20_000, n_features=10, centers=10, random_state=0)[0]
    C = kneighbors_graph(X, 10, include_self=False) if connectivity else None
    km, sk = fit_both(X, linkage=linkage, connectivity=C, n_clusters=10,
                      compute_distances=True)
    assert_same_fit(km, sk, exact=exact_for(linkage, C))
