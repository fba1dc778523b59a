"""init='k-means||' (src/kmix/_kmeans_parallel.py)."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_blobs

import kmix
from kmix._kmeans_algorithms import _Data
from kmix._kmeans_parallel import _fold_candidates, kmeans_parallel


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(6000, n_features=5, centers=30, cluster_std=1.5, random_state=3)[0]


def test_fold_candidates_matches_direct_float64_distances():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((500, 7))
    old, new = X[:4].copy(), rng.standard_normal((6, 7))
    data = _Data(X, 1)
    closest = np.full(500, np.inf)
    owner = np.zeros(500, dtype=np.intp)
    _fold_candidates(data, old, closest, owner, 0)
    _fold_candidates(data, new, closest, owner, 4)
    allc = np.vstack([old, new])
    D = ((X[:, None, :] - allc[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(closest, D.min(axis=1), rtol=1e-13, atol=1e-300)
    gap = np.sort(D, axis=1)[:, 1] - D.min(axis=1)
    clear = gap > 1e-9
    assert clear.sum() > 450
    np.testing.assert_array_equal(owner[clear], D.argmin(axis=1)[clear])
    assert np.all(closest[:4] == 0.0) and np.array_equal(owner[:4], np.arange(4))


def test_a_new_candidate_only_takes_rows_it_is_strictly_closer_to():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    data = _Data(X, 1)
    closest = np.full(3, np.inf)
    owner = np.zeros(3, dtype=np.intp)
    _fold_candidates(data, X[:1].copy(), closest, owner, 0)
    _fold_candidates(data, X[1:2].copy(), closest, owner, 1)
    # Row 2 is at distance 1 from both candidates: the earlier one keeps it.
    assert owner.tolist() == [0, 1, 0]
    assert closest.tolist() == [0.0, 0.0, 1.0]


def test_same_seed_same_centres_for_any_thread_count(blobs):
    a = kmix.KMeans(30, init="k-means||", n_init=1, max_iter=1, random_state=7,
                    n_threads=1).fit(blobs)
    b = kmix.KMeans(30, init="k-means||", n_init=1, max_iter=1, random_state=7,
                    n_threads=2).fit(blobs)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    c = kmix.KMeans(30, init="k-means||", n_init=1, max_iter=1, random_state=8).fit(blobs)
    assert not np.array_equal(a.cluster_centers_, c.cluster_centers_)


@pytest.mark.parametrize("dataset", ["blobs", "digits"])
def test_inertia_after_lloyd_within_one_percent_of_kmeans_plusplus(dataset, blobs):
    X, k = (blobs, 30) if dataset == "blobs" else (load_digits().data, 50)

    def mean_inertia(init):
        return np.mean([kmix.KMeans(k, init=init, n_init=1, random_state=s).fit(X).inertia_
                        for s in range(5)])

    assert mean_inertia("k-means||") <= 1.01 * mean_inertia("k-means++")


def test_zero_weight_rows_are_never_candidates(blobs):
    far = np.full((20, blobs.shape[1]), 1e4)
    X = np.vstack([blobs, far])
    w = np.r_[np.ones(len(blobs)), np.zeros(20)]
    centers = kmeans_parallel(X, 30, w, np.random.RandomState(0), n_threads=1)
    assert centers.shape == (30, X.shape[1])
    assert np.abs(centers).max() < 100


def test_sparse_and_float32_inputs(blobs):
    X32 = blobs.astype(np.float32)
    m = kmix.KMeans(30, init="k-means||", n_init=1, random_state=0).fit(X32)
    assert m.cluster_centers_.dtype == np.float32
    ref = kmix.KMeans(30, init="k-means||", n_init=1, random_state=0).fit(blobs)
    assert m.inertia_ <= 1.01 * ref.inertia_
    ms = kmix.KMeans(30, init="k-means||", n_init=1, random_state=0).fit(sp.csr_matrix(blobs))
    assert ms.inertia_ <= 1.01 * ref.inertia_


def test_fewer_distinct_rows_than_oversampling_reaches_falls_back_to_kmeans_plusplus():
    X = np.repeat(np.arange(6.0)[:, None], 50, axis=0)
    with pytest.warns(Warning, match="distinct clusters"):
        m = kmix.KMeans(8, init="k-means||", n_init=1, random_state=0).fit(X)
    assert m.inertia_ == 0.0


def test_minibatch_accepts_kmeans_parallel(blobs):
    m = kmix.MiniBatchKMeans(30, init="k-means||", random_state=0, n_init=1).fit(blobs)
    ref = kmix.MiniBatchKMeans(30, random_state=0, n_init=1).fit(blobs)
    assert m.inertia_ <= 1.05 * ref.inertia_


def test_unknown_init_names_the_choices():
    with pytest.raises(ValueError, match=r"k-means\|\|"):
        kmix.KMeans(3, init="k-means+++").fit(np.random.rand(20, 2))
