"""kmix.SpectralClustering against scikit-learn, closed forms and invariants.

References used here:
- scikit-learn's SpectralClustering with the same parameters and random_state (affinity
  matrices, labels), its pairwise kernels, kneighbors_graph, spectral_embedding, scipy's
  csgraph Laplacian, and scikit-learn's discretize / cluster_qr on the same embeddings,
- closed forms (the lowest-index k-nearest-neighbour rule by brute force, block-diagonal
  affinities whose components are the clusters),
- invariants (fit_predict == labels_, bitwise determinism over thread counts and repeated
  fits, inputs never modified).

Labels are compared exactly (same numbers, not only the same partition) wherever scikit-learn
and kmix solve the same well-conditioned problem; the places where only the partition is
defined, and compared, say why (``assert_same_partition``).
"""
import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse.csgraph import laplacian as csgraph_laplacian
from sklearn.base import clone
from sklearn.cluster import SpectralClustering as SKSpectralClustering
from sklearn.cluster._spectral import cluster_qr as sk_cluster_qr
from sklearn.cluster._spectral import discretize as sk_discretize
from sklearn.datasets import make_blobs, make_moons
from sklearn.manifold import spectral_embedding as sk_spectral_embedding
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.pairwise import euclidean_distances, pairwise_kernels, rbf_kernel
from sklearn.neighbors import kneighbors_graph
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import ThreadpoolController

from kmix import SpectralClustering
from kmix._core import _affinity
from kmix._spectral import cluster_qr, discretize
from kmix._spectral_affinity import kernel_affinity, knn_connectivity
from kmix._spectral_embedding import degrees, dense_laplacian, laplacian, spectral_embedding

_THREADPOOLS = ThreadpoolController()


def reference(fit, *args, **kwargs):
    """Run a scikit-learn reference computation with single-threaded OpenMP (the results do
    not depend on it; it keeps the suite fast on the shared 2 cores)."""
    with _THREADPOOLS.limit(limits=1, user_api="openmp"):
        return fit(*args, **kwargs)


def sk_fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reference(SKSpectralClustering(**params).fit, X)


def km_fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SpectralClustering(**params).fit(X)


#: Affinities are compared with rtol=1e-12 above the subnormal range (exp(-gamma d^2) of far
#: pairs can be subnormal: fewer significant digits there, so an absolute 1e-300).
TINY = 1e-300


def assert_rbf_equal(K, ref, X, gamma):
    """K equals scikit-learn's rbf_kernel result ref.

    scikit-learn computes entry (i, j) as exp(-gamma ((-2 x_i.x_j + ||x_i||^2) + ||x_j||^2));
    kmix computes the upper triangle so and mirrors it (an exactly symmetric K). So the upper
    triangle is bitwise scikit-learn's, and the lower one differs from it by the rounding of
    the two additions, amplified by exp (relative error <= gamma * 4 eps (||x_i||^2 +
    ||x_j||^2)), plus the rounding of exp itself (2 eps).
    """
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    upper = np.triu_indices(K.shape[0])
    assert bitwise_equal(K[upper], ref[upper])
    sq = np.einsum("ij,ij->i", X, X)
    eps = np.finfo(np.float64).eps
    bound = gamma * 4 * eps * (sq[:, None] + sq[None, :]) + 2 * eps
    assert np.all(np.abs(K - ref) <= bound * ref + TINY)


def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def assert_same_partition(a, b):
    """a and b group the samples alike: the same partition, the clusters possibly numbered
    otherwise (the contingency table is a permutation matrix)."""
    a, b = np.asarray(a), np.asarray(b)
    pairs = set(zip(a.tolist(), b.tolist()))
    assert len(pairs) == len(set(a.tolist())) == len(set(b.tolist())), "different partitions"


# PARTITION_ONLY: why a partition, not its numbering, is compared on the blobs' kNN graphs
# and rbf affinity with assign_labels='kmeans': the graph has (nearly, for rbf: eigenvalues
# ~1e-14 and ~1e-10) three components of equal size and degree, so eigenvalue 0 is (nearly)
# triple and any rotation of its eigenvectors is a solution, and the eigensolver returns one
# that rounding decides. The embedding maps each component to (nearly) one point, the three
# points nearly equidistant, so k-means finds the partition from every start, but which
# cluster gets which number depends on the point k-means++ picks next among nearly
# equidistant ones, i.e. on rounding: with OpenBLAS's Haswell/Zen kernels (a Zen 3 CPU, or
# OPENBLAS_CORETYPE=Haswell) the numbers differ from scikit-learn's, with its SkylakeX ones
# they agree.


def assert_sparse_equal(a, b):
    assert a.shape == b.shape
    assert (sp.csr_matrix(a) != sp.csr_matrix(b)).nnz == 0


@pytest.fixture(scope="module")
def moons():
    return make_moons(1000, noise=0.05, random_state=42)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(240, centers=3, n_features=3, cluster_std=1.5, random_state=7)
    return X, y


@pytest.fixture(scope="module")
def positive_data():
    return np.random.RandomState(0).uniform(0.0, 1.0, size=(60, 4))


# --------------------------------------------------------------------------------------------
# 1. the case: two moons, gamma=100
# --------------------------------------------------------------------------------------------
def test_moons_gamma_100_matches_sklearn_and_truth(moons):
    X, y = moons
    km = km_fit(X, n_clusters=2, gamma=100, random_state=0)
    sk = sk_fit(X, n_clusters=2, gamma=100, random_state=0)
    assert_rbf_equal(km.affinity_matrix_, sk.affinity_matrix_, X, 100)
    assert_allclose(km.affinity_matrix_, sk.affinity_matrix_, rtol=1e-12, atol=TINY)
    assert adjusted_rand_score(y, km.labels_) == 1.0
    assert_array_equal(km.labels_, sk.labels_)


def test_moons_other_seeds_and_label_methods(moons):
    X, y = moons
    for seed, assign in [(1, "kmeans"), (2, "discretize"), (3, "cluster_qr")]:
        km = km_fit(X, n_clusters=2, gamma=100, random_state=seed, assign_labels=assign)
        sk = sk_fit(X, n_clusters=2, gamma=100, random_state=seed, assign_labels=assign)
        assert adjusted_rand_score(y, km.labels_) == 1.0
        assert_array_equal(km.labels_, sk.labels_)


# --------------------------------------------------------------------------------------------
# 2. affinity matrices equal scikit-learn's
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.05, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_rbf_affinity_matches_sklearn(blobs, gamma, dtype, sparse):
    # scaled so that even gamma=100 leaves a connected graph (a fast eigenproblem)
    X = (blobs[0] / 10).astype(dtype)
    X = sp.csr_matrix(X) if sparse else X
    km = km_fit(X, n_clusters=3, gamma=gamma, random_state=0)
    # scikit-learn's SpectralClustering converts X to float64 before its rbf_kernel
    expected = rbf_kernel(X.astype(np.float64), gamma=gamma)
    assert km.affinity_matrix_.dtype == np.float64
    assert_rbf_equal(km.affinity_matrix_, expected, X, gamma)
    assert_array_equal(km.affinity_matrix_, km.affinity_matrix_.T)
    assert_array_equal(np.diag(km.affinity_matrix_), 1.0)


def test_rbf_affinity_equals_sklearn_estimator_attribute(blobs):
    X = blobs[0]
    km = km_fit(X, n_clusters=3, gamma=0.3, random_state=0)
    sk = sk_fit(X, n_clusters=3, gamma=0.3, random_state=0)
    assert_allclose(km.affinity_matrix_, sk.affinity_matrix_, rtol=1e-12, atol=TINY)
    assert_array_equal(km.labels_, sk.labels_)


@pytest.mark.parametrize("kernel", ["linear", "poly", "polynomial", "sigmoid", "cosine",
                                    "laplacian", "chi2", "additive_chi2"])
def test_other_kernels_match_sklearn(positive_data, kernel):
    X = positive_data
    params = dict(gamma=0.7, degree=2, coef0=0.5)
    expected = pairwise_kernels(X, metric=kernel, filter_params=True, **params)
    if kernel == "additive_chi2":
        # its affinities are <= 0: the degrees are negative, there is no normalised
        # Laplacian (scikit-learn takes square roots of them and runs on NaNs)
        assert_allclose(kernel_affinity(X, kernel, {}, 1), expected, rtol=1e-12, atol=1e-15)
        with pytest.raises(ValueError, match="negative sum"):
            SpectralClustering(2, affinity=kernel).fit(X)
        return
    km = km_fit(X, n_clusters=2, affinity=kernel, random_state=0, **params)
    assert_allclose(km.affinity_matrix_, expected, rtol=1e-12, atol=1e-15)
    sk = sk_fit(X, n_clusters=2, affinity=kernel, random_state=0, **params)
    assert_array_equal(km.labels_, sk.labels_)


@pytest.mark.parametrize("kernel", ["linear", "poly", "sigmoid", "cosine", "laplacian"])
def test_other_kernels_on_sparse_data_match_dense(positive_data, kernel):
    X = positive_data.copy()
    X[X < 0.4] = 0.0
    dense = km_fit(X, n_clusters=2, affinity=kernel, random_state=0, gamma=0.7)
    sparse = km_fit(sp.csr_matrix(X), n_clusters=2, affinity=kernel, random_state=0,
                    gamma=0.7)
    expected = pairwise_kernels(sp.csr_matrix(X), metric=kernel, filter_params=True,
                                gamma=0.7, degree=3, coef0=1)
    assert_allclose(sparse.affinity_matrix_, expected, rtol=1e-12, atol=1e-15)
    assert_allclose(sparse.affinity_matrix_, dense.affinity_matrix_, rtol=1e-12, atol=1e-15)


def test_callable_affinity_with_kernel_params_matches_sklearn(positive_data):
    X = positive_data[:30]

    def kernel(x, y, scale):
        return np.exp(-scale * np.abs(x - y).sum())

    params = {"scale": 2.0}
    saved = dict(params)
    km = km_fit(X, n_clusters=2, affinity=kernel, kernel_params=params, random_state=0)
    sk = sk_fit(X, n_clusters=2, affinity=kernel, kernel_params=dict(params), random_state=0)
    assert_allclose(km.affinity_matrix_, sk.affinity_matrix_, rtol=1e-14)
    assert_array_equal(km.labels_, sk.labels_)
    assert params == saved  # scikit-learn adds gamma/degree/coef0 to the dict; kmix does not


def test_kernel_params_dict_is_not_modified(positive_data):
    params = {"gamma": 5.0}
    km = km_fit(positive_data, n_clusters=2, affinity="rbf", gamma=0.5, kernel_params=params)
    assert params == {"gamma": 5.0}
    # as in scikit-learn, the gamma parameter wins over a gamma in kernel_params
    assert_allclose(km.affinity_matrix_, rbf_kernel(positive_data, gamma=0.5), rtol=1e-12)


@pytest.mark.parametrize("n_neighbors", [1, 3, 10, 40, 150])
def test_nearest_neighbors_affinity_equals_sklearn(n_neighbors):
    X = np.random.RandomState(n_neighbors).normal(size=(150, 3))
    km = km_fit(X, n_clusters=3, affinity="nearest_neighbors", n_neighbors=n_neighbors,
                random_state=0)
    C = kneighbors_graph(X, n_neighbors=n_neighbors, include_self=True)
    assert sp.issparse(km.affinity_matrix_)
    assert_sparse_equal(km.affinity_matrix_, 0.5 * (C + C.T))
    if n_neighbors >= 10:  # a connected graph: the labels too
        sk = sk_fit(X, n_clusters=3, affinity="nearest_neighbors", n_neighbors=n_neighbors,
                    random_state=0)
        assert_sparse_equal(km.affinity_matrix_, sk.affinity_matrix_)
        assert_array_equal(km.labels_, sk.labels_)


def test_nearest_neighbors_on_sparse_data_equals_sklearn():
    X = sp.random(120, 30, density=0.2, random_state=0, format="csr")
    km = km_fit(X, n_clusters=2, affinity="nearest_neighbors", n_neighbors=8, random_state=0)
    C = kneighbors_graph(X, n_neighbors=8, include_self=True)
    assert_sparse_equal(km.affinity_matrix_, 0.5 * (C + C.T))


def _lowest_index_knn(X, k):
    """Brute force: the k rows of smallest (squared distance, index)."""
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    idx = np.broadcast_to(np.arange(X.shape[0]), d2.shape)
    return np.lexsort((idx, d2), axis=1)[:, :k]


@pytest.mark.parametrize("k", [2, 4, 5, 9])
def test_knn_ties_go_to_the_lowest_index(k):
    # A grid has exact distance ties at most neighbour ranks; duplicates tie at distance 0.
    grid = np.array([[i, j] for i in range(9) for j in range(7)], dtype=np.float64)
    X = np.vstack([grid, grid[:5]])
    C = knn_connectivity(X, k, 2)
    expected = _lowest_index_knn(X, k)
    for i in range(X.shape[0]):
        assert_array_equal(C[[i]].indices, np.sort(expected[i]))
    # scikit-learn breaks ties in the order its tree visits the points, so only the distances
    # of the neighbours are the same as kmix's.
    S = kneighbors_graph(X, k, include_self=True)
    D = euclidean_distances(X)
    for i in range(X.shape[0]):
        assert_allclose(np.sort(D[i, C[[i]].indices]), np.sort(D[i, S[[i]].indices]),
                        rtol=0, atol=1e-12)


def test_precomputed_dense_and_sparse_match_sklearn(blobs):
    X = blobs[0]
    A = rbf_kernel(X, gamma=0.5)
    C = kneighbors_graph(X, 12, include_self=True)
    S = (0.5 * (C + C.T)).tocsr()
    for affinity in (A, S):
        for assign in ("kmeans", "discretize", "cluster_qr"):
            km = km_fit(affinity, n_clusters=3, affinity="precomputed", random_state=0,
                        assign_labels=assign)
            sk = sk_fit(affinity, n_clusters=3, affinity="precomputed", random_state=0,
                        assign_labels=assign)
            assert km.affinity_matrix_ is affinity or bitwise_equal(
                km.affinity_matrix_, affinity)
            if assign == "kmeans":
                assert_same_partition(km.labels_, sk.labels_)  # PARTITION_ONLY
            else:
                assert_array_equal(km.labels_, sk.labels_)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_precomputed_sparse_formats_give_the_same_labels(blobs, fmt):
    X = blobs[0]
    C = kneighbors_graph(X, 12, include_self=True)
    S = 0.5 * (C + C.T)
    ref = km_fit(S.tocsr(), n_clusters=3, affinity="precomputed", random_state=0)
    km = km_fit(S.asformat(fmt), n_clusters=3, affinity="precomputed", random_state=0)
    assert_array_equal(km.labels_, ref.labels_)


def test_precomputed_nearest_neighbors_matches_sklearn(blobs):
    X = blobs[0]
    D = euclidean_distances(X)
    Dsparse = kneighbors_graph(X, 20, mode="distance", include_self=False)
    for distances in (D, Dsparse):
        km = km_fit(distances, n_clusters=3, affinity="precomputed_nearest_neighbors",
                    n_neighbors=10, random_state=0)
        sk = sk_fit(distances, n_clusters=3, affinity="precomputed_nearest_neighbors",
                    n_neighbors=10, random_state=0)
        assert_sparse_equal(km.affinity_matrix_, sk.affinity_matrix_)
        assert_same_partition(km.labels_, sk.labels_)  # PARTITION_ONLY: 3 kNN components


# --------------------------------------------------------------------------------------------
# 3. labels equal scikit-learn's on blobs, every affinity x assignment
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("assign_labels", ["kmeans", "discretize", "cluster_qr"])
@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors", "precomputed"])
@pytest.mark.parametrize("seed", [0, 1])
def test_labels_equal_sklearn_on_blobs(affinity, assign_labels, seed):
    X, y = make_blobs(200, centers=[[0, 0], [6, 0], [0, 6], [6, 6]], cluster_std=1.0,
                      random_state=seed)
    data = rbf_kernel(X, gamma=0.5) if affinity == "precomputed" else X
    params = dict(n_clusters=4, affinity=affinity, assign_labels=assign_labels,
                  random_state=seed, gamma=0.5, n_neighbors=10)
    km = km_fit(data, **params)
    sk = sk_fit(data, **params)
    assert_array_equal(km.labels_, sk.labels_)
    assert adjusted_rand_score(y, km.labels_) > 0.9


@pytest.mark.parametrize("eigen_solver", ["arpack", "lobpcg"])
@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors"])
def test_eigen_solvers_match_sklearn(blobs, eigen_solver, affinity):
    X = blobs[0]
    params = dict(n_clusters=3, affinity=affinity, eigen_solver=eigen_solver, random_state=3,
                  gamma=0.2)
    assert_array_equal(km_fit(X, **params).labels_, sk_fit(X, **params).labels_)


def test_lobpcg_small_graph_uses_eigh_like_sklearn():
    # n < 5 * n_components + 1: scikit-learn's LOBPCG path is a full eigh
    X, _ = make_blobs(20, centers=4, random_state=0)
    params = dict(n_clusters=4, eigen_solver="lobpcg", random_state=0, gamma=0.5)
    assert_array_equal(km_fit(X, **params).labels_, sk_fit(X, **params).labels_)


def test_as_many_components_as_samples_matches_sklearn():
    # k >= n: scipy's eigsh falls back to a full eigh; kmix does the same
    X, _ = make_blobs(12, centers=3, random_state=0)
    params = dict(n_clusters=3, n_components=12, random_state=0, gamma=0.5)
    assert_array_equal(km_fit(X, **params).labels_, sk_fit(X, **params).labels_)


def test_n_components_larger_than_n_clusters_matches_sklearn(blobs):
    X = blobs[0]
    params = dict(n_clusters=3, n_components=6, random_state=0, gamma=0.3)
    assert_array_equal(km_fit(X, **params).labels_, sk_fit(X, **params).labels_)


def test_not_positive_definite_laplacian_falls_back_and_matches_sklearn(blobs):
    # Negative affinities with positive degrees: L + 1e-5 I is indefinite, so the Cholesky
    # shift-invert cannot be used and kmix runs scipy's LU shift-invert, as scikit-learn.
    X = blobs[0]
    A = rbf_kernel(X, gamma=0.02) - 0.005
    np.fill_diagonal(A, 1.0)
    dd, _ = degrees(A, 1)
    L = dense_laplacian(A, dd, 1.0, 1)
    assert np.linalg.eigvalsh(L)[0] < -1e-5
    params = dict(n_clusters=3, affinity="precomputed", random_state=0)
    assert_array_equal(km_fit(A, **params).labels_, sk_fit(A, **params).labels_)


def test_amg_matches_sklearn(blobs):
    pytest.importorskip("pyamg")  # optional dependency, as in scikit-learn
    X = blobs[0]
    params = dict(n_clusters=3, affinity="nearest_neighbors", eigen_solver="amg",
                  random_state=0)
    np.random.seed(0)  # pyamg draws from numpy's global generator
    km = km_fit(X, **params)
    np.random.seed(0)
    sk = sk_fit(X, **params)
    assert_array_equal(km.labels_, sk.labels_)


def test_amg_without_pyamg_is_a_clear_error(blobs, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyamg", None)
    with pytest.raises(ValueError, match="pyamg is not available"):
        SpectralClustering(3, eigen_solver="amg").fit(blobs[0])


# --------------------------------------------------------------------------------------------
# 4. building blocks against scipy / scikit-learn
# --------------------------------------------------------------------------------------------
def test_laplacian_and_degrees_equal_scipy(blobs):
    A = rbf_kernel(blobs[0], gamma=0.3)
    L_ref, dd_ref = csgraph_laplacian(A, normed=True, return_diag=True)
    dd, isolated = degrees(A, 2)
    assert not isolated.any()
    assert_array_equal(dd, dd_ref)
    L = dense_laplacian(A, dd, 1.0, 2)
    assert_array_equal(L, L_ref)


def test_isolated_node_laplacian_equals_scipy():
    A = rbf_kernel(np.random.RandomState(0).normal(size=(10, 2)), gamma=0.5)
    A[3, :] = A[:, 3] = 0.0
    L_ref, dd_ref = csgraph_laplacian(A, normed=True, return_diag=True)
    dd, isolated = degrees(A, 1)
    assert_array_equal(isolated, np.arange(10) == 3)
    assert_array_equal(dd, dd_ref)
    assert_array_equal(dense_laplacian(A, dd, 1.0 - isolated, 1), L_ref)


@pytest.mark.parametrize("eigen_solver", ["arpack", "lobpcg"])
def test_embedding_matches_sklearn(moons, eigen_solver):
    A = rbf_kernel(moons[0][:400], gamma=30)
    ref = sk_spectral_embedding(A, n_components=3, eigen_solver=eigen_solver, random_state=0,
                                drop_first=False)
    maps = spectral_embedding(A, 3, eigen_solver=eigen_solver,
                              random_state=np.random.RandomState(0), eigen_tol="auto",
                              n_threads=2)
    assert_allclose(maps, ref, rtol=0, atol=1e-9 * np.abs(ref).max())


def test_discretize_and_cluster_qr_match_sklearn():
    rng = np.random.RandomState(0)
    for n_components in (2, 3, 5):
        centers = rng.normal(size=(n_components, n_components)) * 3
        vectors = centers[rng.randint(n_components, size=150)] + rng.normal(size=(150,
                                                                             n_components))
        saved = vectors.copy()
        assert_array_equal(discretize(vectors, random_state=4),
                           sk_discretize(vectors, random_state=4))
        assert_array_equal(cluster_qr(vectors), sk_cluster_qr(vectors))
        assert_array_equal(vectors, saved)


def test_connectivity_check_equals_sklearns():
    from sklearn.manifold._spectral_embedding import _graph_is_connected

    rng = np.random.RandomState(0)
    seen = set()
    for _ in range(60):
        n = rng.randint(1, 25)
        A = (rng.uniform(size=(n, n)) < rng.uniform(0, 0.3)).astype(np.float64)
        A = A + A.T
        expected = _graph_is_connected(A)
        seen.add(expected)
        assert _affinity.is_connected(A) == expected
        assert _affinity.is_connected(A) == _graph_is_connected(sp.csr_matrix(A))
    assert seen == {True, False}


def test_sparse_laplacian_equals_scipy(blobs):
    C = kneighbors_graph(blobs[0], 8, include_self=True)
    A = (0.5 * (C + C.T)).tocsr()
    L_ref, dd_ref = csgraph_laplacian(A, normed=True, return_diag=True)
    dd, isolated = degrees(A, 1)
    assert_array_equal(dd, dd_ref)
    L = laplacian(A, dd, isolated, 1, unit_diagonal=False)
    assert sp.issparse(L)
    assert_array_equal(L.toarray(), L_ref.toarray())


def test_symmetry_check_is_allclose():
    rng = np.random.RandomState(0)
    A = rng.uniform(size=(70, 70))
    A = A + A.T
    assert _affinity.is_symmetric(A, 1e-5, 1e-10)
    for delta in (1e-3, 1e-9):
        B = A.copy()
        B[5, 60] += delta * B[5, 60]
        assert _affinity.is_symmetric(B, 1e-5, 1e-10) == np.allclose(B, B.T, atol=1e-10)


def test_non_symmetric_precomputed_is_symmetrised_like_sklearn(blobs):
    A = rbf_kernel(blobs[0], gamma=0.5)
    A[0, 1:10] *= 1.5
    params = dict(n_clusters=3, affinity="precomputed", random_state=0)
    with pytest.warns(UserWarning, match="not symmetric"):
        km = SpectralClustering(**params).fit(A)
    assert km.affinity_matrix_ is A  # the attribute is X, as in scikit-learn
    assert_array_equal(km.labels_, sk_fit(A, **params).labels_)


def test_block_diagonal_affinity_gives_its_components():
    # Closed form: a graph of 3 complete components is clustered into its components.
    sizes = [7, 11, 5]
    A = sp.block_diag([np.ones((s, s)) for s in sizes]).toarray()
    truth = np.repeat(np.arange(3), sizes)
    with pytest.warns(UserWarning, match="not fully connected"):
        km = SpectralClustering(3, affinity="precomputed", random_state=0).fit(A)
    assert adjusted_rand_score(truth, km.labels_) == 1.0


# --------------------------------------------------------------------------------------------
# 5. bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, error, match", [
    (dict(n_clusters=0), ValueError, "n_clusters must be >= 1"),
    (dict(n_clusters=-2), ValueError, "n_clusters must be >= 1"),
    (dict(n_clusters=2.5), TypeError, "n_clusters must be an int"),
    (dict(n_clusters=True), TypeError, "n_clusters must be an int"),
    (dict(affinity="euclidean"), ValueError, "affinity must be one of"),
    (dict(affinity=3), ValueError, "affinity must be one of"),
    (dict(assign_labels="kmedoids"), ValueError, "assign_labels must be one of"),
    (dict(eigen_solver="eigh"), ValueError, "eigen_solver must be one of"),
    (dict(gamma=0.0), ValueError, "gamma must be > 0"),
    (dict(gamma=-1.0), ValueError, "gamma must be > 0"),
    (dict(gamma=np.nan), ValueError, "gamma must be finite"),
    (dict(gamma="1"), TypeError, "gamma must be a real number"),
    (dict(n_neighbors=0, affinity="nearest_neighbors"), ValueError, "n_neighbors must be >= 1"),
    (dict(n_neighbors=2.0), TypeError, "n_neighbors must be an int"),
    (dict(n_init=0), ValueError, "n_init must be >= 1"),
    (dict(n_components=0), ValueError, "n_components must be >= 1"),
    (dict(eigen_tol=-1.0), ValueError, "eigen_tol must be >= 0"),
    (dict(eigen_tol="tight"), TypeError, "eigen_tol must be a real number"),
    (dict(degree=-1), ValueError, "degree must be >= 0"),
    (dict(coef0=np.inf), ValueError, "coef0 must be finite"),
    (dict(kernel_params=[("gamma", 1)]), TypeError, "kernel_params must be a dict"),
    (dict(verbose=-1), ValueError, "verbose must be >= 0"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(n_jobs=0), ValueError, "n_jobs must be None"),
    (dict(n_jobs=2.0), TypeError, "n_jobs must be an int"),
    (dict(random_state="seed"), ValueError, "random_state|RandomState"),
])
def test_bad_parameters_raise(blobs, params, error, match):
    with pytest.raises(error, match=match):
        SpectralClustering(**{"n_clusters": 3, **params}).fit(blobs[0])


@pytest.mark.parametrize("X, match", [
    (np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 4.0]]), "NaN"),
    (np.array([[0.0, 1.0], [np.inf, 2.0], [3.0, 4.0]]), "infinity"),
    (np.arange(6.0), "2D array"),
    (np.zeros((3, 2, 2)), "dim 3|3-dimensional|3 dimensions"),
    (np.zeros((1, 2)), "minimum of 2 is required"),
    (np.zeros((0, 2)), "minimum of 2 is required"),
    (np.array([["a", "b"], ["c", "d"]]), "could not convert|dtype"),
])
def test_bad_data_raises_value_error(X, match):
    with pytest.raises(ValueError, match=match):
        SpectralClustering(2).fit(X)


def test_too_few_samples_for_the_parameters(blobs):
    X = blobs[0][:5]
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_clusters=6"):
        SpectralClustering(6).fit(X)
    with pytest.raises(ValueError, match="should be >= n_components=9"):
        SpectralClustering(2, n_components=9).fit(X)
    with pytest.raises(ValueError, match="should be >= n_neighbors=6"):
        SpectralClustering(2, affinity="nearest_neighbors", n_neighbors=6).fit(X)


def test_precomputed_input_errors():
    with pytest.raises(ValueError, match="square matrix"):
        SpectralClustering(2, affinity="precomputed").fit(np.ones((5, 4)))
    with pytest.raises(ValueError, match="square matrix"):
        SpectralClustering(2, affinity="precomputed_nearest_neighbors").fit(np.ones((5, 4)))
    D = euclidean_distances(np.random.RandomState(0).normal(size=(8, 2)))
    D[2, 3] = -1.0
    with pytest.raises(ValueError, match="Negative values"):
        SpectralClustering(2, affinity="precomputed_nearest_neighbors", n_neighbors=3).fit(D)
    with pytest.raises(ValueError, match="Negative values"):
        SpectralClustering(2, affinity="precomputed_nearest_neighbors",
                           n_neighbors=3).fit(sp.csr_matrix(D))
    with pytest.raises(ValueError, match="3 neighbors per samples are required"):
        S = sp.csr_matrix(np.diag(np.arange(1.0, 9.0)))
        SpectralClustering(2, affinity="precomputed_nearest_neighbors", n_neighbors=3).fit(S)
    A = -np.ones((6, 6))
    with pytest.raises(ValueError, match="negative sum"):
        SpectralClustering(2, affinity="precomputed").fit(A)


def test_kernel_specific_errors(positive_data):
    with pytest.raises(ValueError, match="negative values"):
        SpectralClustering(2, affinity="chi2").fit(positive_data - 0.5)
    with pytest.raises(TypeError, match="dense data"):
        SpectralClustering(2, affinity="chi2").fit(sp.csr_matrix(positive_data))
    # (x.y + 1) ** 0.5 with x.y < -1 is NaN: a clear error, not a crash in the eigensolver
    X = np.array([[1.0, 0.0], [-3.0, 0.0], [2.0, 1.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        SpectralClustering(2, affinity="poly", degree=0.5).fit(X)


def test_square_data_warns_as_sklearn(blobs):
    X = blobs[0][:3, :3]
    with pytest.warns(UserWarning, match="set ``affinity=precomputed``"):
        SpectralClustering(2, random_state=0).fit(X)


# --------------------------------------------------------------------------------------------
# 6. invariants: inputs untouched, determinism, fit_predict
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("affinity, kind", [
    ("rbf", "dense"), ("rbf", "float32"), ("rbf", "csr"), ("nearest_neighbors", "dense"),
    ("nearest_neighbors", "coo"), ("precomputed", "dense"), ("precomputed", "csr"),
    ("precomputed_nearest_neighbors", "dense"), ("precomputed_nearest_neighbors", "csr"),
])
def test_inputs_not_modified(blobs, affinity, kind):
    X = blobs[0]
    if affinity == "precomputed":
        X = rbf_kernel(X, gamma=0.5)
        X[0, 1] *= 1.1  # not symmetric: kmix symmetrises a copy
        if kind == "csr":
            X = sp.csr_matrix(np.where(X > 0.2, X, 0.0))
    elif affinity == "precomputed_nearest_neighbors":
        X = euclidean_distances(X)
        if kind == "csr":
            X = kneighbors_graph(blobs[0], 15, mode="distance")
    elif kind == "float32":
        X = X.astype(np.float32)
    elif kind in ("csr", "coo"):
        X = sp.csr_matrix(np.where(np.abs(X) > 2, X, 0.0)).asformat(kind)
    saved = X.copy()
    km_fit(X, n_clusters=3, affinity=affinity, random_state=0, n_neighbors=10)
    if sp.issparse(X):
        assert X.format == saved.format
        assert_sparse_equal(X, saved)
        if kind == "csr":
            for attr in ("data", "indices", "indptr"):
                assert_array_equal(getattr(X, attr), getattr(saved, attr))
    else:
        assert X.dtype == saved.dtype
        assert_array_equal(X, saved)


def test_read_only_memmap_input(tmp_path, blobs):
    path = tmp_path / "X.npy"
    np.save(path, blobs[0])
    Xm = np.load(path, mmap_mode="r")
    ref = km_fit(blobs[0], n_clusters=3, random_state=0)
    assert_array_equal(km_fit(Xm, n_clusters=3, random_state=0).labels_, ref.labels_)


@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors"])
@pytest.mark.parametrize("assign_labels", ["kmeans", "discretize", "cluster_qr"])
def test_bitwise_identical_for_any_n_threads(moons, affinity, assign_labels):
    X = moons[0][:600]
    fits = [km_fit(X, n_clusters=2, gamma=100, affinity=affinity, assign_labels=assign_labels,
                   random_state=0, n_threads=n_threads) for n_threads in (1, 2, 1)]
    for fit in fits[1:]:
        assert_array_equal(fit.labels_, fits[0].labels_)
        if sp.issparse(fit.affinity_matrix_):
            assert_sparse_equal(fit.affinity_matrix_, fits[0].affinity_matrix_)
        else:
            assert bitwise_equal(fit.affinity_matrix_, fits[0].affinity_matrix_)


@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors"])
def test_n_jobs_accepted_and_equal_to_the_default(blobs, affinity):
    default = km_fit(blobs[0], n_clusters=3, affinity=affinity, random_state=0)
    ref = sk_fit(blobs[0], n_clusters=3, affinity=affinity, random_state=0, n_jobs=1)
    # the blobs' graph is (nearly) disconnected: the eigenvectors' rotation, hence the
    # cluster numbering, is decided by BLAS rounding; the partition is not
    assert_same_partition(default.labels_, ref.labels_)
    for n_jobs in (1, 2, -1):
        fit = km_fit(blobs[0], n_clusters=3, affinity=affinity, random_state=0, n_jobs=n_jobs)
        assert_array_equal(fit.labels_, default.labels_)
        if sp.issparse(fit.affinity_matrix_):
            assert_sparse_equal(fit.affinity_matrix_, default.affinity_matrix_)
        else:
            assert bitwise_equal(fit.affinity_matrix_, default.affinity_matrix_)


@pytest.mark.parametrize("n_jobs, n_threads, expected", [
    (None, None, None), (2, None, 2), (-1, None, -1), (2, 1, 1), (None, 3, 3)])
def test_n_jobs_is_the_thread_count_unless_n_threads_is_set(monkeypatch, blobs, n_jobs,
                                                            n_threads, expected):
    import kmix._spectral
    asked = []
    real = kmix._spectral.effective_n_threads

    def record(n):
        asked.append(n)
        return real(n)

    monkeypatch.setattr(kmix._spectral, "effective_n_threads", record)
    kmeans_threads = []
    real_kmeans = kmix._spectral.KMeans

    def kmeans(*args, **kwargs):
        kmeans_threads.append(kwargs["n_threads"])
        return real_kmeans(*args, **kwargs)

    monkeypatch.setattr(kmix._spectral, "KMeans", kmeans)
    km_fit(blobs[0], n_clusters=3, random_state=0, n_jobs=n_jobs, n_threads=n_threads)
    assert asked == [expected]
    assert kmeans_threads == [expected]


def test_compiled_passes_do_not_depend_on_thread_count():
    # The estimator runs small problems on one thread; force several threads here.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 3))
    G = X @ X.T
    xx = np.einsum("ij,ij->i", X, X)
    out = {}
    for n_threads in (1, 2, 3):
        K = G.copy()
        _affinity.rbf_exponent_from_gram(K, xx, 0.7, n_threads)
        w = np.empty(500)
        _affinity.column_degrees(np.exp(K), w, n_threads)
        L = np.empty_like(K)
        _affinity.normalized_laplacian(np.exp(K), np.sqrt(w), np.ones(500), L, n_threads)
        out[n_threads] = (K, w, L)
    for n_threads in (2, 3):
        for a, b in zip(out[n_threads], out[1]):
            assert bitwise_equal(a, b)
    assert_allclose(np.exp(out[1][0]), rbf_kernel(X, gamma=0.7), rtol=1e-12)


def test_same_random_state_gives_identical_labels(blobs):
    X = blobs[0]
    a = km_fit(X, n_clusters=3, random_state=11)
    b = km_fit(X, n_clusters=3, random_state=11)
    c = km_fit(X, n_clusters=3, random_state=np.random.RandomState(11))
    assert_array_equal(a.labels_, b.labels_)
    assert_array_equal(a.labels_, c.labels_)


def test_random_state_instance_is_consumed_like_sklearn(blobs):
    X = blobs[0]
    rs_km, rs_sk = np.random.RandomState(5), np.random.RandomState(5)
    km = km_fit(X, n_clusters=3, random_state=rs_km)
    sk = sk_fit(X, n_clusters=3, random_state=rs_sk)
    assert_array_equal(km.labels_, sk.labels_)
    assert rs_km.randint(1 << 30) == rs_sk.randint(1 << 30)


def test_fit_predict_returns_labels(blobs):
    X = blobs[0]
    km = SpectralClustering(3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = km.fit_predict(X)
    assert labels is km.labels_
    assert_array_equal(labels, km_fit(X, n_clusters=3, random_state=0).labels_)


def test_fitted_attributes(blobs):
    X = blobs[0]
    km = km_fit(X, n_clusters=3, random_state=0)
    assert km.n_features_in_ == 3
    assert km.labels_.shape == (X.shape[0],)
    assert set(np.unique(km.labels_)) == {0, 1, 2}
    assert km.affinity_matrix_.shape == (X.shape[0], X.shape[0])


def test_verbose_prints_label_assignment(blobs, capsys):
    km_fit(blobs[0], n_clusters=3, random_state=0, verbose=True, assign_labels="discretize")
    assert "Computing label assignment using discretize" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# 7. scikit-learn API compliance
# --------------------------------------------------------------------------------------------
@parametrize_with_checks([
    SpectralClustering(n_clusters=3),
    SpectralClustering(n_clusters=3, affinity="nearest_neighbors", n_neighbors=5),
    SpectralClustering(n_clusters=3, assign_labels="discretize"),
    SpectralClustering(n_clusters=3, assign_labels="cluster_qr", eigen_solver="lobpcg"),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_params_match_sklearn_and_clone_round_trips():
    ours = SpectralClustering().get_params()
    theirs = SKSpectralClustering().get_params()
    ours_threads = ours.pop("n_threads")  # kmix only
    assert ours_threads is None
    assert ours == theirs
    ours = inspect.signature(SpectralClustering).parameters
    theirs = inspect.signature(SKSpectralClustering).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values() if p.name != "n_threads"] == \
        [(p.name, p.kind, p.default) for p in theirs.values()]
    km = SpectralClustering(4, affinity="nearest_neighbors", n_neighbors=7, gamma=3.0,
                            assign_labels="cluster_qr", random_state=2, n_threads=1)
    cloned = clone(km)
    assert cloned.get_params() == km.get_params()
    cloned.set_params(n_clusters=5, eigen_tol=1e-6)
    assert cloned.n_clusters == 5 and km.n_clusters == 4


def test_pairwise_tag():
    assert SpectralClustering(affinity="precomputed").__sklearn_tags__().input_tags.pairwise
    assert SpectralClustering(
        affinity="precomputed_nearest_neighbors").__sklearn_tags__().input_tags.pairwise
    assert not SpectralClustering().__sklearn_tags__().input_tags.pairwise


# --------------------------------------------------------------------------------------------
# 8. slow: a size where the compiled passes use several threads and BLAS its default threads
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_large_moons_match_sklearn_and_do_not_depend_on_threads():
    X, y = make_moons(3000, noise=0.05, random_state=0)
    fits = [km_fit(X, n_clusters=2, gamma=100, random_state=0, n_threads=n_threads)
            for n_threads in (1, 2)]
    assert bitwise_equal(fits[0].affinity_matrix_, fits[1].affinity_matrix_)
    assert_array_equal(fits[0].labels_, fits[1].labels_)
    sk = sk_fit(X, n_clusters=2, gamma=100, random_state=0)
    assert_rbf_equal(fits[0].affinity_matrix_, sk.affinity_matrix_, X, 100)
    assert_array_equal(fits[0].labels_, sk.labels_)
    assert adjusted_rand_score(y, fits[0].labels_) == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_knn_sets_on_lattice_ties_equal_brute_force(seed):
    """Heavy ties at the k-th neighbour (integer lattices, also more tied points than the
    widened query holds): the neighbour sets are the (squared distance, index)-smallest k."""
    from kmix._spectral_affinity import _knn_tree

    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(20, 300)), int(rng.integers(1, 4))
    k = int(rng.integers(1, 31))
    X = rng.integers(0, 3 if seed % 2 else 6, (n, d)).astype(float)
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    ref = np.array([np.lexsort((np.arange(n), D[i]))[:k] for i in range(n)])
    np.testing.assert_array_equal(np.sort(_knn_tree(X, k, 1), axis=1), np.sort(ref, axis=1))


def test_discretize_with_a_zero_row_of_the_embedding():
    """A sample the embedding misses (a zero row, e.g. an isolated node) gets a label; its
    row used to become NaN (0/0), and every SVD then failed."""
    from kmix._spectral import discretize

    V = np.array([[0.5, 0.5], [0.0, 0.0], [0.5, -0.5], [0.7, 0.1], [0.1, -0.7]])
    labels = discretize(V, random_state=0)
    assert labels.shape == (5,) and set(labels.tolist()) <= {0, 1}
    # the isolated points of an all-zero affinity, one cluster: every label 0 (scikit-learn's)
    X = np.array([[0.0, 0, 0], [0, 30, 0], [30, 0, 0], [0, 0, 30]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # graph not fully connected
        model = SpectralClustering(1, assign_labels="discretize", random_state=0).fit(X)
    assert_array_equal(model.labels_, np.zeros(4, dtype=int))
