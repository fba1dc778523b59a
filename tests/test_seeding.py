"""kmix.kmeans_plusplus: greedy k-means++ seeding."""
import numpy as np
import pytest
import scipy.sparse as sp
from _reference import sq_dists_float
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

import kmix
from kmix import KMeans, kmeans_plusplus


def _as_dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(600, 4, centers=8, cluster_std=2.0, random_state=0)
    return X


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_clusters", [1, 5, 40])
def test_centres_are_rows_at_distinct_indices(blobs, sparse, dtype, n_clusters):
    X = blobs.astype(dtype)
    Xin = sp.csr_matrix(X) if sparse else X
    centers, indices = kmeans_plusplus(Xin, n_clusters, random_state=0)
    assert centers.shape == (n_clusters, 4)
    assert centers.dtype == dtype
    assert indices.shape == (n_clusters,)
    assert np.issubdtype(indices.dtype, np.integer)
    assert np.unique(indices).size == n_clusters
    assert np.all((indices >= 0) & (indices < X.shape[0]))
    assert_array_equal(centers, X[indices])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_reproducible_with_random_state(blobs, sparse):
    Xin = sp.csr_matrix(blobs) if sparse else blobs
    c1, i1 = kmeans_plusplus(Xin, 6, random_state=3)
    c2, i2 = kmeans_plusplus(Xin, 6, random_state=3)
    c3, i3 = kmeans_plusplus(Xin, 6, random_state=np.random.RandomState(3))
    assert_array_equal(i1, i2)
    assert_array_equal(i1, i3)
    assert_array_equal(c1, c2)
    # a different seed gives a different draw
    draws = {tuple(kmeans_plusplus(Xin, 6, random_state=s)[1]) for s in range(5)}
    assert len(draws) > 1


def test_dense_and_sparse_agree(blobs):
    for seed in range(5):
        cd, idx_d = kmeans_plusplus(blobs, 7, random_state=seed)
        cs, idx_s = kmeans_plusplus(sp.csr_matrix(blobs), 7, random_state=seed)
        assert_array_equal(idx_d, idx_s)
        assert_array_equal(cd, cs)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_same_draws_as_sklearn(blobs, sparse, weighted):
    """Same random numbers and the same greedy rule as scikit-learn: the same indices."""
    Xin = sp.csr_matrix(blobs) if sparse else blobs
    w = np.random.RandomState(1).uniform(0.5, 2.0, size=600) if weighted else None
    for seed in range(4):
        ours = kmeans_plusplus(Xin, 8, sample_weight=w, random_state=seed)
        with threadpool_limits(1, user_api="openmp"):
            ref = sk_kmeans_plusplus(Xin, 8, sample_weight=w, random_state=seed)
        assert_array_equal(ours[1], ref[1])
        assert_allclose(ours[0], ref[0])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_zero_weight_rows_are_never_picked(blobs, sparse):
    Xin = sp.csr_matrix(blobs) if sparse else blobs
    w = np.ones(600)
    w[::2] = 0.0  # half of every blob has no weight
    w[np.abs(blobs[:, 0]) > 9] = 0.0  # and so do the extreme rows, the likeliest picks
    for seed in range(10):
        _, indices = kmeans_plusplus(Xin, 20, sample_weight=w, random_state=seed)
        assert np.all(w[indices] > 0), indices[w[indices] == 0]


def test_heavy_weight_is_picked_first(blobs):
    w = np.full(600, 1e-9)
    w[123] = 1.0
    firsts = [kmeans_plusplus(blobs, 3, sample_weight=w, random_state=s)[1][0] for s in range(5)]
    assert firsts == [123] * 5


def test_explicit_norms_and_trials(blobs):
    norms = np.einsum("ij,ij->i", blobs, blobs)
    c1, i1 = kmeans_plusplus(blobs, 5, random_state=0)
    c2, i2 = kmeans_plusplus(blobs, 5, random_state=0, x_squared_norms=norms)
    assert_array_equal(i1, i2)
    # the default number of local trials is 2 + int(log(k))
    c3, i3 = kmeans_plusplus(blobs, 5, random_state=0, n_local_trials=2 + int(np.log(5)))
    assert_array_equal(i1, i3)
    ref = sk_kmeans_plusplus(blobs, 5, random_state=0, n_local_trials=1)
    c4, i4 = kmeans_plusplus(blobs, 5, random_state=0, n_local_trials=1)
    assert_array_equal(i4, ref[1])


def test_inputs_not_modified(blobs):
    X = blobs.copy()
    w = np.linspace(0.1, 1, 600)
    w_copy = w.copy()
    Xs = sp.csr_matrix(X)
    data, ind, ptr = Xs.data.copy(), Xs.indices.copy(), Xs.indptr.copy()
    kmeans_plusplus(X, 5, sample_weight=w, random_state=0)
    kmeans_plusplus(Xs, 5, sample_weight=w, random_state=0)
    assert_array_equal(X, blobs)
    assert_array_equal(w, w_copy)
    assert_array_equal(Xs.data, data)
    assert_array_equal(Xs.indices, ind)
    assert_array_equal(Xs.indptr, ptr)


def test_read_only_input(blobs):
    X = blobs.copy()
    X.setflags(write=False)
    c, i = kmeans_plusplus(X, 5, random_state=0)
    assert_array_equal(i, kmeans_plusplus(blobs, 5, random_state=0)[1])


def _well_separated_blobs(n_blobs=6, per_blob=100, seed=0):
    rng = np.random.RandomState(seed)
    centres = np.array([[20.0 * i, (-1) ** i * 10.0 * (i % 3)] for i in range(n_blobs)])
    X = np.vstack([c + rng.normal(scale=0.5, size=(per_blob, 2)) for c in centres])
    y = np.repeat(np.arange(n_blobs), per_blob)
    return X, y, centres


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_without_stored_entries(dtype):
    # all rows zero: no stored entry, the norms must still be float64 zeros
    X = sp.csr_matrix((4, 3), dtype=dtype)
    centers, indices = kmeans_plusplus(X, 2, random_state=0)
    assert centers.dtype == dtype
    assert_array_equal(centers, np.zeros((2, 3)))
    assert len(set(indices)) == 2
    km = kmix.MiniBatchKMeans(1, batch_size=1, max_iter=1, random_state=0).fit(X[:1])
    assert_array_equal(km.cluster_centers_, np.zeros((1, 3)))


def test_one_centre_per_well_separated_blob():
    X, y, centres = _well_separated_blobs()
    hits = 0
    potentials = []
    for seed in range(20):
        _, indices = kmeans_plusplus(X, 6, random_state=seed)
        hits += np.unique(y[indices]).size == 6
        c = X[indices]
        d2 = ((X[:, None, :] - c[None]) ** 2).sum(-1).min(axis=1)
        potentials.append(d2.sum())
    # greedy k-means++ finds every blob in most seeds ...
    assert hits >= 18
    # ... and its potential is then within a small factor of the optimum's
    optimum = sum(((X[y == j] - X[y == j].mean(0)) ** 2).sum() for j in range(6))
    assert np.median(potentials) < 4 * optimum


def test_seeding_through_kmeans_finds_the_blobs():
    X, y, centres = _well_separated_blobs()
    km = KMeans(6, random_state=0).fit(X)
    # every true blob is one cluster
    for j in range(6):
        assert np.unique(km.labels_[y == j]).size == 1
    assert np.unique(km.labels_).size == 6
    found = np.sort(km.cluster_centers_[:, 0])
    assert_allclose(found, np.sort(centres[:, 0]), atol=0.2)


@pytest.fixture(scope="module")
def large_blobs():
    X, _ = make_blobs(100_000, 20, centers=15, cluster_std=3.0, random_state=1)
    return X


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [5, 20], ids=["d5", "d20"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_bitwise_identical_across_threads(large_blobs, dtype, n_features, sparse):
    X = np.ascontiguousarray(large_blobs[:, :n_features], dtype=dtype)
    if sparse:
        X[np.abs(X) < 3] = 0.0
        X = sp.csr_matrix(X)
    assert X.shape[0] >= 100_000
    runs = [kmeans_plusplus(X, 16, random_state=7, n_threads=t) for t in (1, 2, 2)]
    for centers, indices in runs[1:]:
        assert_array_equal(indices, runs[0][1])
        assert centers.tobytes() == runs[0][0].tobytes()


def test_n_threads_values_agree(blobs):
    ref = kmeans_plusplus(blobs, 5, random_state=0, n_threads=1)[1]
    for n_threads in (None, -1, 2, 5):
        assert_array_equal(kmeans_plusplus(blobs, 5, random_state=0, n_threads=n_threads)[1],
                           ref)
    assert kmix.effective_n_threads(None) >= 1


def _small_problems():
    """Small dense problems (n k d <= 100k terms), many of them full of exact ties."""
    for seed in range(120):
        rng = np.random.RandomState(seed)
        n, d = rng.randint(2, 500), rng.randint(1, 12)
        k = rng.randint(1, min(n, 25) + 1)
        kind = seed % 4
        if kind == 0:                        # a few distinct values: ties and duplicates
            X = rng.randint(0, 3, (n, d)).astype(float)
        elif kind == 1:
            X = rng.standard_normal((n, d))
        elif kind == 2:                      # far from the origin, on a grid
            X = np.round(rng.standard_normal((n, d)) * 4) / 4 + 1e6
        else:
            X = rng.standard_normal((n, d)) * 1e-3
        w = np.ones(n) if seed % 3 else rng.uniform(0, 3, n) * (rng.rand(n) > 0.2)
        w[0] += 1.0                          # some weight
        yield seed, X, k, w


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_problem_path_gives_the_general_kernels_seeds(dtype):
    """Small dense problems are seeded by _kpp.kpp_small (deterministic potentials of every
    candidate); the general kernel screens by fast distances and bounds. Same draws, same
    rule: the same seeds bit for bit, ties included."""
    from kmix._seeding import _kmeans_plusplus, _row_sq_norms

    for seed, X, k, w in _small_problems():
        X = np.ascontiguousarray(X, dtype=dtype)
        norms = _row_sq_norms(X)
        small = _kmeans_plusplus(X, k, norms, w, np.random.RandomState(seed), small=True)
        general = _kmeans_plusplus(X, k, norms, w, np.random.RandomState(seed), small=False)
        assert_array_equal(small[1], general[1])
        assert_array_equal(small[0], general[0])


@pytest.mark.parametrize("n_features", [2, 20], ids=["small", "general"])
def test_draws_leave_the_random_state_as_sklearn_does(n_features):
    """kmix takes all of a seeding's draws first: the same numbers as scikit-learn's draws
    one centre at a time, so the RandomState ends in the same state, and the next seeding
    from it picks the same rows."""
    X, _ = make_blobs(400, n_features, centers=6, random_state=3)
    ours, ref = np.random.RandomState(7), np.random.RandomState(7)
    for _ in range(3):
        i_ours = kmeans_plusplus(X, 6, random_state=ours)[1]
        with threadpool_limits(1, user_api="openmp"):
            i_ref = sk_kmeans_plusplus(X, 6, random_state=ref)[1]
        assert_array_equal(i_ours, i_ref)
    assert ours.random_sample() == ref.random_sample()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d", "k", "trials"),
                         [(3000, 3, 40, None), (2500, 40, 30, None), (1300, 20, 1100, None),
                          (1500, 200, 30, None), (1200, 24, 20, 3), (1200, 33, 20, 13),
                          (1200, 17, 20, 16)],
                         ids=["narrow-fused", "wide-5-candidates", "wide-9-candidates",
                              "wider-than-panel", "wide-3-candidates", "wide-13-candidates",
                              "wide-16-candidates"])
def test_screened_kernel_keeps_the_deterministic_potentials_choice(dtype, n, d, k, trials):
    """The general kernel screens candidates by fast distances (fused loops on narrow data;
    on wide data the few-candidate dot products: for 5-16 candidates and up to 128 features
    rows against one feature-major panel of the candidates, several rows at a time, else
    along the features in groups of 8 candidates) and prunes rows; forced on any data,
    kpp_small takes every candidate's deterministic potential. The same seeds, bit for bit,
    on every path."""
    from kmix._seeding import _kmeans_plusplus, _row_sq_norms

    X, _ = make_blobs(n, d, centers=max(2, k // 3), cluster_std=3.0, random_state=k)
    X = np.ascontiguousarray(X, dtype=dtype)
    norms = _row_sq_norms(X)
    # random weights, then unit weights (which the general path does not read)
    for seed, w in enumerate([np.random.RandomState(2).uniform(0.2, 2.0, n), np.ones(n)]):
        small = _kmeans_plusplus(X, k, norms, w, np.random.RandomState(seed), trials,
                                 small=True)
        general = _kmeans_plusplus(X, k, norms, w, np.random.RandomState(seed), trials,
                                   small=False, n_threads=2)
        assert_array_equal(general[1], small[1])
        assert_array_equal(general[0], small[0])


@pytest.mark.parametrize("scale", [1.0, 2.0 ** -80, 2.0 ** 40], ids=["unit", "tiny", "large"])
def test_float32_screen_of_float64_rows_keeps_the_deterministic_choice(scale):
    """Float64 data of 2^20 values and more is screened on a float32 copy: the same seeds as
    kpp_small's deterministic potentials, bit for bit, on ordinary values, on values whose
    float32 products underflow (2^-80: the screen's absolute error term must send the rows to
    the deterministic distances) and on large ones. Scaling by a power of two is exact in
    float64, so the three data sets have the same seeds."""
    from kmix._seeding import _kmeans_plusplus, _row_sq_norms

    X, _ = make_blobs(16400, 64, centers=10, cluster_std=3.0, random_state=5)
    assert X.size >= 2 ** 20
    X = np.ascontiguousarray(X * scale)
    w = np.random.RandomState(2).uniform(0.2, 2.0, X.shape[0])
    norms = _row_sq_norms(X)
    small = _kmeans_plusplus(X, 12, norms, w, np.random.RandomState(0), None, small=True)
    general = _kmeans_plusplus(X, 12, norms, w, np.random.RandomState(0), None, small=False,
                               n_threads=2)
    assert_array_equal(general[1], small[1])
    assert_array_equal(general[0], small[0])
    unit = _kmeans_plusplus(X / scale, 12, _row_sq_norms(X / scale), w,
                            np.random.RandomState(0), None, small=True)
    assert_array_equal(general[1], unit[1])


def test_float32_screen_on_clustered_rows_keeps_the_deterministic_choice():
    """Clustered float64 data screened on a float32 copy, where most rows are pruned once the
    blobs have centres (30 separated blobs, k=40): the seeds stay kpp_small's, bit for bit,
    with one thread and two, with random weights and with unit ones (not read by the
    general path)."""
    from kmix._seeding import _kmeans_plusplus, _row_sq_norms

    X, _ = make_blobs(20000, 56, centers=30, cluster_std=1.0, center_box=(-30, 30),
                      random_state=3)
    assert X.size >= 2 ** 20
    norms = _row_sq_norms(X)
    for w in (np.random.RandomState(4).uniform(0.5, 1.5, X.shape[0]), np.ones(X.shape[0])):
        small = _kmeans_plusplus(X, 40, norms, w, np.random.RandomState(1), None, small=True)
        for n_threads in (1, 2):
            general = _kmeans_plusplus(X, 40, norms, w, np.random.RandomState(1), None,
                                       small=False, n_threads=n_threads)
            assert_array_equal(general[1], small[1])
            assert_array_equal(general[0], small[0])


@pytest.mark.parametrize("sparse", [False, True])
def test_more_than_32_trials_per_centre_keep_the_deterministic_choice(sparse):
    """n_local_trials past the rows' 32 mask bits (as scikit-learn allows): the candidates
    without a bit send their rows to the deterministic distances, and the seeds stay
    kpp_small's, bit for bit, dense and CSR, with one thread and two."""
    from kmix._seeding import _kmeans_plusplus, _row_sq_norms

    X, _ = make_blobs(3000, 20, centers=6, cluster_std=2.0, random_state=7)
    w = np.random.RandomState(8).uniform(0.5, 1.5, X.shape[0])
    norms = _row_sq_norms(X)
    small = _kmeans_plusplus(X, 8, norms, w, np.random.RandomState(3), 40, small=True)
    data = sp.csr_matrix(X) if sparse else X
    for n_threads in (1, 2):
        general = _kmeans_plusplus(data, 8, norms, w, np.random.RandomState(3), 40,
                                   small=False, n_threads=n_threads)
        assert_array_equal(general[1], small[1])
        assert_array_equal(general[0], small[0])


@pytest.mark.parametrize("weighted", [True, False], ids=["weighted", "unit-weights"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("covered", [0.25, 0.85], ids=["most-rows-needed", "few-rows-needed"])
@pytest.mark.parametrize(("dtype", "d", "screen32"),
                         [(np.float32, 40, False), (np.float64, 40, False),
                          (np.float64, 40, True), (np.float64, 3, False),
                          (np.float32, 3, False)],
                         ids=["float32-wide", "float64-wide", "float64-screened",
                              "float64-narrow", "float32-narrow"])
def test_candidate_potentials_are_within_their_bounds(dtype, d, screen32, covered, n_threads,
                                                     weighted):
    """One round of the seeding on separated blobs where the chosen centres cover a share of
    the blobs: the rows of covered blobs are pruned, the others needed, so chunks are
    evaluated row by row by index (few needed) or whole, their needed rows' values moved to
    the front (most needed). Each candidate's fast potential is within its bound of
    sum w min(closest, ||x - c||^2) computed by direct differences in float64 (which is
    within 1e-12 of the deterministic one). A pruned row counted twice, or a needed row's
    value taken from another row, moves the potential by far more."""
    from kmix._core._seeding import candidate_potentials

    n_blobs = 20
    X, y = make_blobs(6000, d, centers=n_blobs, cluster_std=1.0, center_box=(-40, 40),
                      random_state=11)
    X = np.ascontiguousarray(X, dtype=dtype)
    rng = np.random.RandomState(12)
    w = rng.uniform(0.5, 1.5, X.shape[0]) if weighted else np.ones(X.shape[0])
    n_cov = int(round(covered * n_blobs))
    centers = np.ascontiguousarray(X[[np.flatnonzero(y == b)[0] for b in range(n_cov)]])
    cand = np.ascontiguousarray(X[rng.choice(X.shape[0], 6, replace=False)])
    closest = sq_dists_float(X, centers).min(axis=1)
    ref = (w[:, None] * np.minimum(closest[:, None], sq_dists_float(X, cand))).sum(axis=0)
    # the share of rows no candidate can be closer to than their centre (all pruned rows
    # are among them): the test sees both kinds of chunk
    assert 0.1 < np.mean(sq_dists_float(X, cand).min(axis=1) >= closest) < 0.9
    # unit weights: the general path's NULL weights
    pots, bounds = candidate_potentials(X, centers, cand.copy(), w if weighted else None,
                                        n_threads=n_threads, screen32=screen32)
    assert np.all(bounds < 1e-3 * ref)
    assert np.all(np.abs(pots - ref) <= bounds + 1e-12 * ref)
