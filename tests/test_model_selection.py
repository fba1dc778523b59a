"""Scans over k: the chapter's conclusions, equality with separate fits, tables, bad input."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import silhouette_score as sk_silhouette_score

import kmix
from kmix.datasets import chapter_blobs, chapter_mixture
from kmix.model_selection import GMMScan, KMeansScan, elbow, scan_gmm, scan_kmeans


@pytest.fixture(scope="module")
def blobs():
    return chapter_blobs(2000, random_state=7)[0]


@pytest.fixture(scope="module")
def mixture_data():
    return chapter_mixture()[0]


@pytest.mark.parametrize("k_range", [range(1, 10), range(2, 10), range(2, 12)])
def test_scan_kmeans_reaches_the_chapters_conclusions(blobs, k_range):
    scan = scan_kmeans(blobs, k_range, random_state=42)
    assert scan.elbow_k == 4
    assert scan.best_silhouette_k == 4


def test_scan_kmeans_equals_separate_fits(blobs):
    ks = [1, 3, 5, 8]
    scan = scan_kmeans(blobs, ks, random_state=0, n_init=3)
    assert isinstance(scan, KMeansScan)
    assert_array_equal(scan.k, ks)
    for i, k in enumerate(ks):
        model = kmix.KMeans(k, random_state=0, n_init=3).fit(blobs)
        assert_array_equal(scan.models[i].labels_, model.labels_)
        assert scan.inertia[i] == model.inertia_
        if k == 1:
            assert np.isnan(scan.silhouette[i])
        else:
            assert_allclose(scan.silhouette[i], sk_silhouette_score(blobs, model.labels_),
                            rtol=0, atol=1e-9)


def test_scan_kmeans_without_silhouette_and_table(blobs):
    scan = scan_kmeans(blobs, [2, 3, 4], random_state=0, silhouette=False)
    assert scan.silhouette is None and scan.best_silhouette_k is None
    table = scan.as_table()
    assert set(table) == {"k", "inertia"}
    frame = scan.to_frame()
    assert list(frame["k"]) == [2, 3, 4]
    assert_allclose(frame["inertia"], scan.inertia)
    # fewer than three k: no elbow
    assert scan_kmeans(blobs, [2, 3], random_state=0, silhouette=False).elbow_k is None


def test_scan_kmeans_verbose_prints_a_line_per_k(blobs, capsys):
    scan_kmeans(blobs, [2, 3], random_state=0, verbose=1)
    out = capsys.readouterr().out
    assert out.count("[scan_kmeans]") == 2


def test_elbow_rule_on_closed_form_curves():
    # a sharp bend: steep to k=4, flat after
    ks = np.arange(1, 10)
    inertia = np.where(ks <= 4, 100.0 - 24.0 * (ks - 1), 28.0 - 1.0 * (ks - 4))
    assert elbow(ks, inertia) == 4
    # order of the input does not matter
    perm = np.random.RandomState(0).permutation(ks.size)
    assert elbow(ks[perm], inertia[perm]) == 4
    with pytest.raises(ValueError, match="three"):
        elbow([1, 2], [3.0, 1.0])


def test_scan_gmm_reaches_the_chapters_conclusion(mixture_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = scan_gmm(mixture_data, range(1, 7), n_init=3, random_state=42)
    assert isinstance(scan, GMMScan)
    assert scan.best_k == 3
    assert scan.best_covariance_type == "full"
    best = int(np.argmin(scan.bic))
    assert scan.best_model is scan.models[best]
    assert len(scan.k) == 4 * 6


def test_scan_gmm_equals_separate_fits_and_aic(mixture_data):
    scan = scan_gmm(mixture_data, [2, 3], covariance_types=("diag", "tied"), criterion="aic",
                    random_state=0)
    assert list(scan.covariance_type) == ["diag", "diag", "tied", "tied"]
    for i, (cov, k) in enumerate(zip(scan.covariance_type, scan.k)):
        model = kmix.GaussianMixture(int(k), covariance_type=cov, random_state=0).fit(
            mixture_data)
        assert scan.bic[i] == pytest.approx(model.bic(mixture_data), rel=1e-12)
        assert scan.aic[i] == pytest.approx(model.aic(mixture_data), rel=1e-12)
    best = int(np.argmin(scan.aic))
    assert (scan.best_k, scan.best_covariance_type) == (scan.k[best], scan.covariance_type[best])
    frame = scan.to_frame()
    assert list(frame.columns) == ["covariance_type", "k", "bic", "aic"]


@pytest.mark.parametrize("k_range, error", [([], ValueError), ([0, 2], ValueError),
                                             ([2, 2], ValueError), ([2.5], TypeError),
                                             ([2, 10_000], ValueError)])
def test_scans_reject_bad_k_range(blobs, k_range, error):
    with pytest.raises(error):
        scan_kmeans(blobs, k_range)
    with pytest.raises(error):
        scan_gmm(blobs, k_range)


def test_scans_reject_bad_input(blobs):
    bad = blobs.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        scan_kmeans(bad, [2, 3])
    with pytest.raises(ValueError, match="criterion"):
        scan_gmm(blobs, [2], criterion="likelihood")
    with pytest.raises(ValueError, match="covariance_types"):
        scan_gmm(blobs, [2], covariance_types=("full", "round"))
    with pytest.raises(ValueError):
        scan_gmm(blobs, [2], covariance_types=())


def test_scan_silhouettes_same_with_and_without_the_reused_distances(blobs, monkeypatch):
    import kmix.model_selection as ms

    X = blobs[:700]
    with_matrix = scan_kmeans(X, [2, 4, 7], random_state=1)
    monkeypatch.setattr(ms, "_SCAN_DISTANCES_MAX_BYTES", 0)
    without = scan_kmeans(X, [2, 4, 7], random_state=1)
    assert_allclose(with_matrix.silhouette, without.silhouette, rtol=0, atol=1e-12)
    for model, value in zip(without.models, without.silhouette):
        assert_allclose(value, sk_silhouette_score(X, model.labels_), rtol=0, atol=1e-9)


def test_cluster_sums_from_distances_matches_numpy_and_threads():
    from kmix._core import _silhouette

    rng = np.random.RandomState(0)
    D = np.abs(rng.normal(size=(300, 300)))
    labels = rng.randint(0, 7, 300).astype(np.int32)
    ref = np.stack([D[:, labels == c].sum(axis=1) for c in range(7)], axis=1)
    out = {}
    for n_threads in (1, 2):
        S = np.empty((300, 7))
        _silhouette.cluster_sums_from_distances(D, labels, 7, S, n_threads)
        assert_allclose(S, ref, rtol=1e-12)
        out[n_threads] = S
    assert out[1].tobytes() == out[2].tobytes()


def test_elbow_ignores_a_fit_that_ended_above_a_smaller_k():
    """Four clear blobs scanned with one start per k: k=8 may end above k=7 (a worse local
    optimum). That rising step must not make k=7 the elbow (it did: a rising step counted as a
    flat one, and k=7's ratio became huge)."""
    ks = np.arange(1, 9)
    inertia = np.array([1000.0, 600.0, 250.0, 40.0, 36.0, 33.0, 31.0, 31.5])
    assert elbow(ks, inertia) == 4
    # a flat tail after a late, small drop does not win either
    inertia = np.array([1000.0, 600.0, 250.0, 40.0, 36.0, 33.0, 31.0, 31.0])
    assert elbow(ks, inertia) == 4
