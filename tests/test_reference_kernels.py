"""The compiled kernels against the plain references of ``tests/_reference.py``.

Every kernel (or the thinnest Python entry that calls it) runs in float32 and float64, on 1
and 2 threads, and is compared with a reference that shares none of its code:

- k-means: labels by exact arithmetic (``exact_assign``; exact ties go to the lowest centre
  index), Lloyd steps and runs (``lloyd_step``, ``lloyd_run``), mini-batch steps
  (``minibatch_step``);
- Gaussian mixtures: scipy's log-densities, the responsibilities, scikit-learn's M-step
  estimates (``gaussian_log_density``, ``mixture_log_prob_resp``, ``m_step_statistics``);
- silhouette sums, DBSCAN neighbour counts and Ward merges by brute force.

Real-valued outputs are compared with a tolerance set by the dtype of the arithmetic (the
mixture, silhouette, DBSCAN and Ward kernels compute in float64 whatever X's dtype, so they are
compared in float64 with the reference on X's values). Discrete outputs (labels, counts,
merges) are compared exactly only on data where rounding cannot decide them: integer-valued
data, or data whose gaps are checked here to be far above rounding.

The k-means tests on data with *exact* ties (integer lattices, centres that are permutations
of one another with points on the diagonal, the digits case of issue 11) hold because every
kernel follows the exact assignment rule.
"""
import functools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _reference import (
    dbscan_neighbour_counts,
    exact_assign,
    exact_sq_dists,
    lloyd_run,
    lloyd_step,
    m_step_statistics,
    minibatch_step,
    mixture_log_prob_resp,
    precision_cholesky,
    silhouette_sums,
    silhouette_values,
    ward_linkage,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_blobs
from sklearn.model_selection import train_test_split

import kmix
import kmix._minibatch as mb
from kmix._core import _dbscan, _gmm, _hierarchy, _silhouette
from kmix._kmeans_algorithms import labels_inertia
from kmix._threads import blas_context, blas_single_threaded
from kmix._validation import as_csr_arrays
from kmix.metrics import silhouette_samples

ALGORITHMS = ["lloyd", "elkan", "hamerly", "yinyang"]
DTYPES = [np.float64, np.float32]
THREADS = [1, 2]
#: Relative tolerance of values computed in a dtype's arithmetic.
RTOL = {np.float64: 1e-10, np.float32: 1e-5}



# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def _quantized(a, bits=40):
    """Values rounded to multiples of 2**-bits: sums of a few thousand of them are exact in
    float64, while their products (80 bits) are not (the kernels' distance formulas round)."""
    return np.round(np.asarray(a) * 2.0 ** bits) / 2.0 ** bits


def _permuted_centres(d, k, seed):
    """Centres that are cyclic shifts of one vector v, and rows that tie among them exactly.

    Every point s * (1, ..., 1) is at the same exact distance from all the centres (the same
    multiset of coordinate differences): a k-way tie, which the exact rule gives to centre 0.
    Rows near each centre keep every cluster populated; each row comes with its negation,
    and the values are multiples of 2**-40, so the column sums are exactly 0 in any order:
    kmix's centring of the data is exact and cannot move a tie.
    """
    rng = np.random.RandomState(seed)
    v = _quantized(rng.normal(size=d))
    C = np.stack([np.roll(v, j) for j in range(k)])
    diagonal = (np.arange(-8, 9) * 0.25)[:, None] * np.ones(d)
    near = _quantized(np.repeat(C, 10, axis=0) + 0.3 * rng.normal(size=(10 * k, d)))
    return np.vstack([diagonal, near, -near]), C


def _lattice(d, n, k, seed):
    """Integer rows in [-3, 3]^d and their negations (column sums exactly 0), k of them as
    centres: ties at integer distances, then the near-ties of Lloyd's rational means."""
    rng = np.random.RandomState(seed)
    Y = rng.randint(-3, 4, size=(n, d)).astype(np.float64)
    X = np.vstack([Y, -Y])
    return X, X[rng.choice(len(X), k, replace=False)]


#: Rows of the digits training split chosen by the k-means++ start of the issue's chapter:
#: scikit-learn <= 0.22's greedy k-means++ (first centre ``randint(n)``, candidates drawn with
#: ``random_sample``) on the centred training data, as the 4th of the 10 starts of
#: ``KMeans(n_clusters=50, random_state=42)`` (one RandomState(42) shared by the starts);
#: it is the best of the 10. From it, exact arithmetic runs 18 iterations to an inertia of
#: 530701.3895 (issue 11; test_lloyd_run_reproduces_the_digits_numbers_of_the_issue).
DIGITS_CHAPTER_INIT_ROWS = [
    295, 724, 528, 307, 1183, 953, 960, 136, 815, 19, 311, 834, 135, 887, 95, 222, 419, 504,
    623, 48, 423, 284, 1314, 575, 844, 966, 143, 453, 1129, 688, 755, 1334, 442, 858, 845, 50,
    296, 160, 695, 875, 1206, 1095, 151, 992, 576, 253, 1132, 1273, 733, 214,
]


def _digits_train():
    digits = load_digits()
    return train_test_split(digits.data, digits.target, random_state=42)[0]


def _digits_chapter():
    X = _digits_train()
    return X, X[DIGITS_CHAPTER_INIT_ROWS]


TIE_CASES = {
    "permuted-d3": lambda: _permuted_centres(3, 3, 0),       # fused distance loops
    "permuted-d24": lambda: _permuted_centres(24, 6, 1),     # gemm distances
    "lattice-d2": lambda: _lattice(2, 200, 6, 2),
    "lattice-d20": lambda: _lattice(20, 300, 8, 3),
    "digits-chapter": _digits_chapter,
}


@pytest.fixture(scope="module")
def tie_data():
    """Factory: ``tie_data(name, dtype) -> (X, C0, reference run)`` (cached)."""
    cache = {}

    def get(name, dtype):
        if (name, dtype) not in cache:
            X, C = TIE_CASES[name]()
            X, C = X.astype(dtype), C.astype(dtype)
            cache[name, dtype] = X, C, lloyd_run(X, C)
        return cache[name, dtype]
    return get


def _fit(X, C0, algorithm, n_threads, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kmix.KMeans(len(C0), init=C0, n_init=1, tol=0.0, algorithm=algorithm,
                           n_threads=n_threads, **params).fit(X)


def _assert_clear_gaps(X, C, rel):
    """Every row's closest centre is closer than the second closest by a relative ``rel``
    (float64 direct differences): far above the kernels' rounding, so the label is defined."""
    X = np.asarray(X, np.float64)
    C = np.asarray(C, np.float64)
    d2 = ((X[:, None, :] - C[None]) ** 2).sum(-1)
    two = np.sort(d2, axis=1)[:, :2]
    assert np.all(two[:, 1] - two[:, 0] > rel * two[:, 1])


# ---------------------------------------------------------------------------------------------
# 1. the references themselves
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_assign_equals_the_argmin_of_exact_fractions(dtype):
    rng = np.random.RandomState(0)
    cases = [TIE_CASES["permuted-d3"](), TIE_CASES["lattice-d2"]()]
    # centre 1 is centre 0 moved by one ulp in one coordinate: for rows far from both (the
    # second group) their squared distances differ by less than the rounding of a float64
    # squared distance, so only the exact step can order them; centre 2 is centre 0 itself
    # (an exact tie, to the lower index)
    C = rng.normal(size=(6, 5)) * 1e3
    C[1] = C[0]
    C[1, 2] = np.nextafter(C[0, 2], np.inf)
    C[2] = C[0]
    X = np.vstack([C[0] + rng.normal(size=(40, 5)) * 1e-3, rng.normal(size=(40, 5)) * 1e3])
    cases.append((X, C))
    cases.append((X * 1e-160, C * 1e-160))        # squares in the subnormal range
    for X, C in cases:
        X, C = X[:60].astype(dtype), C.astype(dtype)
        D = exact_sq_dists(X, C)
        expected = [min(range(len(C)), key=lambda j: (D[i, j], j)) for i in range(len(X))]
        labels, n_exact = exact_assign(X, C, return_n_exact=True)
        assert_array_equal(labels, expected)
        assert n_exact > 0      # every case needs the exact step for some rows


def test_exact_sq_dists_are_exact():
    # 0.1 and 0.3 are not decimals in binary: the exact value is that of the binary fractions.
    from fractions import Fraction
    D = exact_sq_dists(np.array([[0.1, 0.3]]), np.array([[0.3, 0.1]]))
    assert D[0, 0] == 2 * (Fraction(0.1) - Fraction(0.3)) ** 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_lloyd_run_reproduces_the_digits_numbers_of_the_issue(tie_data, dtype):
    """Issue 11: from the chapter's start, exact arithmetic runs 18 iterations to an inertia
    of 530701.3895 (on the float64 data; float32 centres round differently, but the labels
    and the iterations are those of float64)."""
    X, C0, (labels, centres, n_iter, inertia) = tie_data("digits-chapter", dtype)
    assert X.shape == (1347, 64)
    assert n_iter == 18
    assert inertia == pytest.approx(530701.3895, abs=5e-5)
    assert_array_equal(labels, tie_data("digits-chapter", np.float64)[2][0])


def test_lloyd_step_centres_are_weighted_means():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [11.0, 10.0], [12.0, 13.0]])
    w = np.array([1.0, 3.0, 1.0, 1.0, 2.0])
    labels, centres, inertia = lloyd_step(X, np.array([[0.0, 0.0], [10.0, 10.0]]), w)
    assert_array_equal(labels, [0, 0, 1, 1, 1])
    assert_allclose(centres, [[0.75, 0.0], [45.0 / 4, 46.0 / 4]], rtol=1e-15)
    assert inertia == 3 * 1 + 1 + 2 * (4 + 9)


# ---------------------------------------------------------------------------------------------
# 2. k-means on data with exact ties (xfail until the exact tie rule)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(TIE_CASES))
def test_predict_labels_equal_exact_reference_on_ties(tie_data, case, dtype, n_threads):
    X, C0, _ = tie_data(case, dtype)
    labels, inertia = labels_inertia(X, C0, n_threads=n_threads)
    assert_array_equal(labels, exact_assign(X, C0))
    assert inertia == pytest.approx(lloyd_step(X, C0)[2], rel=RTOL[dtype])


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", sorted(TIE_CASES))
def test_lloyd_labels_equal_exact_reference_on_ties(tie_data, case, algorithm, dtype,
                                                    n_threads):
    """One iteration: the centres are the means of the exact labels on C0, and labels_ the
    exact labels on those centres (kmix relabels after a run that did not converge)."""
    X, C0, _ = tie_data(case, dtype)
    km = _fit(X, C0, algorithm, n_threads, max_iter=1)
    _, centres, _ = lloyd_step(X, C0)
    assert km.n_iter_ == 1
    # The sums are exact here (integers, or multiples of 2**-40 in the synthetic cases), and
    # the centring too except on digits, so a centre is one rounded product: equal bits.
    if case == "digits-chapter":
        assert_allclose(km.cluster_centers_, centres, rtol=RTOL[dtype], atol=1e-12)
    else:
        assert_array_equal(km.cluster_centers_, centres)
    labels = exact_assign(X, centres)
    assert_array_equal(km.labels_, labels)
    assert km.inertia_ == pytest.approx(lloyd_step(X, centres)[2], rel=RTOL[dtype])


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", sorted(TIE_CASES))
def test_lloyd_run_equals_exact_reference_on_ties(tie_data, case, algorithm, dtype, n_threads):
    """A full run (tol=0: strict convergence) is exact Lloyd's: same iterations, labels,
    centres and inertia. On digits this is issue 11's 18 iterations to 530701.3895, which also
    needs kmix's centring of the data to keep the distances exact (centred with float rounding,
    exact labels run to 530736.61 in float64 and 530677.08 in float32)."""
    X, C0, (labels, centres, n_iter, inertia) = tie_data(case, dtype)
    km = _fit(X, C0, algorithm, n_threads)
    assert km.n_iter_ == n_iter
    assert_array_equal(km.labels_, labels)
    assert_allclose(km.cluster_centers_, centres, rtol=RTOL[dtype], atol=1e-12)
    assert km.inertia_ == pytest.approx(inertia, rel=RTOL[dtype])


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["permuted-d3", "permuted-d24", "lattice-d20",
                                  "digits-chapter"])
def test_minibatch_step_labels_equal_exact_reference_on_ties(tie_data, case, dtype, n_threads):
    """The plain mini-batch step on the whole data from C0 and zero counts, and a second step
    on a batch of rows drawn twice: exact labels, then the reference's update."""
    X, C0, _ = tie_data(case, dtype)
    k, d = C0.shape
    rows = np.random.RandomState(0).randint(0, len(X), 300).astype(np.intp)
    centres, counts = C0.copy(), np.zeros(k)
    ref_centres, ref_counts = C0.copy(), np.zeros(k)
    buf = mb._StepBuffers(max(len(X), len(rows)), k, d, X.dtype, True)
    for batch_rows in (mb._NO_ROWS, rows):
        batch = X if len(batch_rows) == 0 else X[batch_rows]
        with blas_context(X):
            inertia, shift = mb._step(X, None, batch_rows, mb._NO_WEIGHTS, centres, counts,
                                      buf, n_threads)
        labels, ref_centres, ref_counts, ref_inertia, ref_shift = minibatch_step(
            batch, None, ref_centres, ref_counts)
        assert_array_equal(buf.labels[:len(batch)], labels)
        assert_array_equal(counts, ref_counts)
        assert_allclose(centres, ref_centres, rtol=RTOL[dtype], atol=1e-12)
        assert inertia == pytest.approx(ref_inertia, rel=RTOL[dtype])
        assert shift == pytest.approx(ref_shift, rel=1e-3 if dtype == np.float32 else 1e-8)


# ---------------------------------------------------------------------------------------------
# 2b. Yinyang's group filter on wide data (many groups of centres)
# ---------------------------------------------------------------------------------------------
def _wide_lattice_near_ties(seed, dtype):
    """Integer rows in [-3, 3]^20 and their negations, 160 of them as centres (16 groups):
    exact ties at integer distances; 20 of the centres are others moved by one ulp of the
    dtype in one coordinate (each centre is also a row, so no cluster empties)."""
    X, C = _lattice(20, 800, 160, seed)
    X, C = X.astype(dtype), C.astype(dtype)
    C[140:160] = C[:20]
    for r in range(140, 160):
        f = np.flatnonzero(C[r])[0]
        C[r, f] = np.nextafter(C[r, f], dtype(np.inf))
    return np.vstack([X, C]), C


WIDE_GROUP_CASES = {
    "lattice-near-ties": lambda dtype: _wide_lattice_near_ties(6, dtype),
    # Gaussian rows (no ties; some gaps within the rounding bound in float32)
    "normal": lambda dtype: (lambda X: (X, X[:200].copy()))(np.random.RandomState(7).normal(
        size=(4000, 24)).astype(dtype)),
    # the same far from the origin: in float32 many gaps within the bound, in the group
    # filter too
    "normal-offset": lambda dtype: (lambda X: (X, X[:200].copy()))(
        (np.random.RandomState(8).normal(size=(4000, 24)) + 30.0).astype(dtype)),
}


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(WIDE_GROUP_CASES))
def test_yinyang_group_filter_on_wide_data_equals_exact_lloyd(case, dtype, n_threads):
    """With 16+ features and 160+ centres (20+ groups of 8) a Yinyang row that fails its
    global filter examines only the groups whose bound fails (and its own centre's), by
    partial distances of the groups' panels (_bounds._yinyang_wide_row). Runs of 12
    iterations are exact Lloyd's: the same labels at every stop, and centres equal to the
    reference's within the dtype's rounding."""
    X, C0 = WIDE_GROUP_CASES[case](dtype)
    for max_iter in (1, 2, 12):
        labels, centres, n_iter, inertia = lloyd_run(X, C0, max_iter=max_iter)
        km = _fit(X, C0, "yinyang", n_threads, max_iter=max_iter)
        assert km.n_iter_ == n_iter
        assert_array_equal(km.labels_, labels)
        assert_allclose(km.cluster_centers_, centres, rtol=RTOL[dtype], atol=1e-12)


@functools.lru_cache
def _long_run_reference(dtype):
    """Normal 10000 x 16 rows, their first 200 as centres, and the reference's Lloyd run."""
    X = np.random.RandomState(9).normal(size=(10000, 16)).astype(dtype)
    C0 = X[:200].copy()
    return X, C0, lloyd_run(X, C0, max_iter=300)


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_yinyang_long_run_equals_exact_lloyd(dtype, n_threads):
    """A Yinyang run of more passes than its 32 bound tags (normal 10000 x 16, 200 random
    rows as centres: 44 iterations to convergence), whose later passes read the bounds of
    25 groups by the net moves since the pass that stored them (Bounds.net_drift), the
    tables of the first passes overwritten: exact Lloyd's labels, iterations and centres."""
    X, C0, (labels, centres, n_iter, _) = _long_run_reference(np.dtype(dtype).name)
    assert n_iter > 32
    km = _fit(X, C0, "yinyang", n_threads, max_iter=300)
    assert km.n_iter_ == n_iter
    assert_array_equal(km.labels_, labels)
    assert_allclose(km.cluster_centers_, centres, rtol=RTOL[dtype], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# 3. k-means on data whose labels rounding cannot decide
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def separated():
    """Six far-apart blobs, one initial centre in each: every label is decided by gaps far
    above rounding at every iteration (checked on the reference's centres)."""
    X, y = make_blobs(600, n_features=5, centers=6, cluster_std=1.0, center_box=(-60, 60),
                      random_state=5)
    C0 = X[[np.flatnonzero(y == j)[0] for j in range(6)]]
    return X, C0


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_lloyd_step_and_run_match_reference_on_separated_data(separated, algorithm, dtype,
                                                              n_threads):
    X, C0 = separated
    X, C0 = X.astype(dtype), C0.astype(dtype)
    _, step_centres, _ = lloyd_step(X, C0)
    labels, centres, n_iter, inertia = lloyd_run(X, C0)
    for C in (C0, step_centres, centres):
        _assert_clear_gaps(X, C, 1e-2)
    km1 = _fit(X, C0, algorithm, n_threads, max_iter=1)
    assert_allclose(km1.cluster_centers_, step_centres, rtol=RTOL[dtype])
    assert_array_equal(km1.labels_, exact_assign(X, step_centres))
    km = _fit(X, C0, algorithm, n_threads)
    assert km.n_iter_ == n_iter
    assert_array_equal(km.labels_, labels)
    assert_allclose(km.cluster_centers_, centres, rtol=RTOL[dtype])
    assert km.inertia_ == pytest.approx(inertia, rel=RTOL[dtype])


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_minibatch_steps_match_reference(separated, dtype, weighted, sparse, n_threads):
    """Steps of the compiled mini-batch update from zero counts (the first makes each centre
    its rows' mean), with rows drawn twice in a batch, against the reference formula."""
    X, C0 = separated
    X, C0 = np.ascontiguousarray(X, dtype=dtype), C0.astype(dtype)
    rng = np.random.RandomState(1)
    # dyadic weights: every count is an exact sum, compared exactly
    w = rng.randint(1, 8, len(X)) / 4.0 if weighted else None
    k, d = C0.shape
    centres, counts = C0.copy(), np.zeros(k)
    ref_centres, ref_counts = C0.copy(), np.zeros(k)
    b = 128
    buf = mb._StepBuffers(b, k, d, X.dtype, not sparse)
    csr = as_csr_arrays(sp.csr_matrix(X)) if sparse else None
    for _ in range(6):
        rows = rng.randint(0, len(X), b).astype(np.intp)
        wb = mb._NO_WEIGHTS if w is None else np.ascontiguousarray(w[rows])
        _assert_clear_gaps(X[rows], ref_centres, 1e-2)
        with blas_context(X):
            inertia, shift = mb._step(X, csr, rows, wb, centres, counts, buf, n_threads)
        labels, ref_centres, ref_counts, ref_inertia, ref_shift = minibatch_step(
            X[rows], None if w is None else w[rows], ref_centres, ref_counts)
        assert_array_equal(buf.labels[:b], labels)
        assert_array_equal(counts, ref_counts)
        assert_allclose(centres, ref_centres, rtol=RTOL[dtype])
        assert inertia == pytest.approx(ref_inertia, rel=RTOL[dtype])
        assert shift == pytest.approx(ref_shift, rel=1e-3 if dtype == np.float32 else 1e-8)


# ---------------------------------------------------------------------------------------------
# 4. Gaussian mixtures: log-densities, responsibilities, M-step
# ---------------------------------------------------------------------------------------------
_COV_CODE = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}


def _mixture_problem(covariance_type, d, seed=0):
    """Data from 3 components and well-conditioned parameters of the given type."""
    rng = np.random.RandomState(seed)
    k = 3
    means = rng.normal(size=(k, d)) * 3
    X = np.vstack([m + rng.normal(size=(150, d)) for m in means]) + 5.0
    means = means + 5.0 + rng.normal(size=(k, d)) * 0.3

    def spd():
        A = rng.normal(size=(d, d))
        return A @ A.T / d + 0.5 * np.eye(d)
    covs = {"full": np.stack([spd() for _ in range(k)]), "tied": spd(),
            "diag": rng.uniform(0.5, 2.0, size=(k, d)),
            "spherical": rng.uniform(0.5, 2.0, size=k)}[covariance_type]
    weights = np.array([0.5, 0.3, 0.2])
    sample_weight = rng.uniform(0.5, 2.0, size=len(X))
    return X, weights, means, covs, sample_weight


def _log_det_cholesky(prec_chol, covariance_type, d, k):
    """sum log diag(U) per component: the log-determinant term of the Gaussian density."""
    if covariance_type == "full":
        return np.array([np.log(np.diag(U)).sum() for U in prec_chol])
    if covariance_type == "tied":
        return np.full(k, np.log(np.diag(prec_chol)).sum())
    if covariance_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    return d * np.log(prec_chol)


def _em_pass(X, w, covariance_type, weights, means, covs, n_threads):
    """The compiled passes on one mixture: the statistics pass, then the three scoring
    passes (per-row outputs, statistics)."""
    n, d = X.shape
    k = len(means)
    U = precision_cholesky(covs, covariance_type)
    gshift = np.average(X.astype(np.float64), axis=0, weights=w)
    shift = np.ascontiguousarray(means if covariance_type == "full" else np.tile(gshift, (k, 1)),
                                 dtype=np.float64)
    model = _gmm.Components(_COV_CODE[covariance_type],
                            np.ascontiguousarray(means, dtype=np.float64),
                            np.ascontiguousarray(U, dtype=np.float64).ravel(),
                            _log_det_cholesky(U, covariance_type, d, k), np.log(weights))
    stats = _gmm.Statistics(_COV_CODE[covariance_type], shift, gshift,
                            covariance_type == "tied")
    out = dict(resp=np.empty((n, k)), lpn=np.empty(n), labels=np.empty(n, dtype=np.int32))
    with blas_single_threaded():
        total, _ = _gmm.em_statistics(X, w, model, stats, False, n_threads)
        _gmm.responsibilities(X, model, out["resp"], n_threads)
        _gmm.log_density(X, model, out["lpn"], n_threads)
        _gmm.most_likely(X, model, out["labels"], n_threads)
    out.update(total=total, shift=shift, gshift=gshift, N=stats.N, S1=stats.S1, S2=stats.S2,
               S2g=stats.S2g)
    return out


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [4, 13], ids=["d4-loops", "d13-blas"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gmm_pass_log_density_and_responsibilities_match_scipy(covariance_type, d, dtype,
                                                               n_threads):
    X, weights, means, covs, w = _mixture_problem(covariance_type, d)
    X = X.astype(dtype)
    out = _em_pass(X, w, covariance_type, weights, means, covs, n_threads)
    # the kernel converts each row to float64 exactly: compare in float64 on X's values
    log_prob, resp = mixture_log_prob_resp(X.astype(np.float64), weights, means, covs,
                                           covariance_type)
    assert_allclose(out["lpn"], log_prob, rtol=1e-10)
    assert out["total"] == pytest.approx(np.dot(w, log_prob), rel=1e-10)
    assert_allclose(out["resp"], resp, rtol=1e-8, atol=1e-12)
    # the most likely component, where the top two log-probabilities differ by >= 1e-6
    top2 = np.sort(np.log(resp), axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-6
    assert clear.mean() > 0.99
    assert_array_equal(out["labels"][clear], resp.argmax(axis=1)[clear])
    assert_allclose(out["N"], (w[:, None] * resp).sum(axis=0), rtol=1e-10)


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [4, 13], ids=["d4-loops", "d13-blas"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gmm_m_step_matches_reference_statistics(covariance_type, d, dtype, n_threads):
    """The pass's statistics turned into parameters (the compiled M-step; tied: kmix's
    Python formula) equal scikit-learn's estimates from the reference responsibilities."""
    from kmix._mixture import gaussian_parameters
    X, weights, means, covs, w = _mixture_problem(covariance_type, d, seed=1)
    X = X.astype(dtype)
    reg = 1e-6
    out = _em_pass(X, w, covariance_type, weights, means, covs, n_threads)
    _, resp = mixture_log_prob_resp(X.astype(np.float64), weights, means, covs,
                                    covariance_type)
    ref_nk, ref_means, ref_covs = m_step_statistics(X, resp, w, covariance_type, reg)
    if covariance_type == "tied":
        stats = (out["N"], out["S1"], out["S2"], out["shift"], (out["S2g"], w.sum()),
                 out["gshift"])
        nk, got_means, got_covs = gaussian_parameters(stats, reg, "tied")
    else:
        nk, got_means, got_covs, prec, bad = _gmm.m_step(
            out["N"], out["S1"], out["S2"], np.ascontiguousarray(out["shift"]),
            _COV_CODE[covariance_type], reg)
        assert bad == -1
        got_covs = got_covs.reshape(np.shape(ref_covs))
        assert_allclose(prec.reshape(np.shape(ref_covs)),
                        precision_cholesky(ref_covs, covariance_type), rtol=1e-8, atol=1e-12)
    assert_allclose(nk, ref_nk, rtol=1e-10)
    assert_allclose(got_means, ref_means, rtol=1e-9, atol=1e-12)
    assert_allclose(got_covs, ref_covs, rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# 5. silhouettes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [300, 1100], ids=["one-tile", "two-tiles"])
def test_silhouette_sums_match_brute_force(n, dtype, n_threads):
    rng = np.random.RandomState(n)
    X, _ = make_blobs(n, n_features=5, centers=4, random_state=n)
    X = X.astype(dtype)
    labels = rng.randint(0, 5, n).astype(np.int32)      # a singleton-free labelling
    labels[:5] = np.arange(5)
    k = 5
    ref = silhouette_sums(X, labels, k)
    # The kernels compute each distance as sqrt(max(|x|^2 + |y|^2 - 2 x.y, 0)) in float64
    # (on X's values): relative errors ~ eps |x|^2 / |x - y|^2, far below 1e-9 here.
    for kernel in (_silhouette.cluster_distance_sums,
                   _silhouette.cluster_distance_sums_symmetric):
        S = np.empty((n, k))
        with blas_single_threaded():
            kernel(X, labels, k, S, n_threads)
        assert_allclose(S, ref, rtol=1e-9)
    D = np.sqrt(((X.astype(np.float64)[:, None] - X.astype(np.float64)[None]) ** 2).sum(-1))
    S = np.empty((n, k))
    _silhouette.cluster_sums_from_distances(D, labels, k, S, n_threads)
    assert_allclose(S, ref, rtol=1e-12)
    _, _, s = silhouette_values(ref, labels)
    assert_allclose(silhouette_samples(X, labels, n_threads=n_threads), s,
                    rtol=1e-5 if dtype == np.float32 else 1e-9, atol=1e-7)


def test_silhouette_values_closed_form():
    # two clusters on a line: {0, 1} and {5}; a singleton has s = 0
    X = np.array([[0.0], [1.0], [5.0]])
    labels = np.array([0, 0, 1])
    a, b, s = silhouette_values(silhouette_sums(X, labels), labels)
    assert_allclose(a[:2], [1.0, 1.0])
    assert_allclose(b[:2], [5.0, 4.0])
    assert_allclose(s, [0.8, 0.75, 0.0])


# ---------------------------------------------------------------------------------------------
# 6. DBSCAN neighbour counts
# ---------------------------------------------------------------------------------------------
def _grid_counts(X, eps, w, n_threads):
    """kmix's grid pass: weighted neighbour counts in the original row order."""
    from kmix._dbscan import _build_grid
    grid, order = _build_grid(X, eps, n_threads)
    counts = np.empty(len(X))
    _dbscan.grid_counts(grid, None if w is None else np.ascontiguousarray(w[order]), counts,
                        n_threads)
    out = np.empty(len(X))
    out[order] = counts
    return out


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 2, 3, 5, 20])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_dbscan_grid_counts_on_lattice_equal_brute_force(d, dtype, weighted, n_threads):
    """Integer points and integer eps: every squared distance and eps^2 is exact, so the
    inclusive boundary (distance == eps, frequent on a lattice) is decided exactly; dyadic
    weights make the sums exact too: counts compared exactly."""
    rng = np.random.RandomState(d)
    X = rng.randint(0, 6 if d <= 3 else 3, size=(400, d)).astype(dtype)
    w = rng.randint(1, 9, 400) / 8.0 if weighted else None
    for eps in (1.0, 2.0):
        ref = dbscan_neighbour_counts(X, eps, w)
        assert_array_equal(_grid_counts(X, eps, w, n_threads), ref)


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [2, 3, 7, 20])
def test_dbscan_grid_counts_on_random_data_equal_brute_force(d, dtype, n_threads):
    X = np.random.RandomState(10 + d).normal(size=(600, d)).astype(dtype)
    eps = 0.3 * np.sqrt(d)
    # no distance within a relative 1e-9 of eps: the comparison cannot be decided by rounding
    d2 = ((X.astype(np.float64)[:, None] - X.astype(np.float64)[None]) ** 2).sum(-1)
    assert np.abs(d2 / eps ** 2 - 1).min() > 1e-9
    w = np.random.RandomState(d).randint(1, 5, 600) / 4.0
    assert_array_equal(_grid_counts(X, eps, None, n_threads), dbscan_neighbour_counts(X, eps))
    assert_array_equal(_grid_counts(X, eps, w, n_threads), dbscan_neighbour_counts(X, eps, w))


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dbscan_precomputed_counts_equal_brute_force(dtype, n_threads):
    """Distances of integer points (squares of integers under the root: eps = 2 is hit
    exactly), as a dense matrix and as CSR with every entry stored."""
    rng = np.random.RandomState(3)
    X = rng.randint(0, 5, size=(200, 2)).astype(np.float64)
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1)).astype(dtype)
    w = rng.randint(1, 9, 200) / 8.0
    ref = dbscan_neighbour_counts(D, 2.0, w, metric="precomputed")
    counts = np.empty(200)
    _dbscan.dense_counts(D, 2.0, w, counts, n_threads)
    assert_array_equal(counts, ref)
    # every entry stored, zeros included (duplicate points are at distance 0)
    indptr = np.arange(0, 200 * 200 + 1, 200, dtype=np.int64)
    indices = np.tile(np.arange(200, dtype=np.int64), 200)
    counts = np.empty(200)
    _dbscan.csr_counts(D.ravel(), indices, indptr, 2.0, True, w, counts, n_threads)
    assert_array_equal(counts, ref)


# ---------------------------------------------------------------------------------------------
# 7. Ward merges
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, d", [(12, 2), (30, 3), (25, 8)])
def test_ward_merges_equal_brute_force(n, d, dtype, n_threads):
    X = np.random.RandomState(n + d).normal(size=(n, d)).astype(dtype)
    children, distances, sizes = ward_linkage(X)
    # distinct heights (relative gaps >= 1e-9): no merge is decided by rounding
    assert np.all(np.diff(distances) > 1e-9 * distances[1:])
    for force in (False, True):
        Z = _hierarchy.ward_nn_chain(np.ascontiguousarray(X, dtype=np.float64), n_threads,
                                     force)
        assert_array_equal(Z[:, :2], children)
        assert_allclose(Z[:, 2], distances, rtol=1e-12)
        assert_array_equal(Z[:, 3], sizes)
    model = kmix.AgglomerativeClustering(n_clusters=1, linkage="ward", compute_distances=True,
                                         n_threads=n_threads).fit(X)
    assert_array_equal(model.children_, children)
    assert_allclose(model.distances_, distances, rtol=1e-12)


def test_ward_linkage_closed_form():
    # two pairs far apart: each pair merges at its distance, then the pairs at
    # sqrt(2 * 2 * 2 / 4) * |mean difference| = sqrt(2) * |11 - 0.5|
    X = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [12.0, 0.0]])
    children, distances, sizes = ward_linkage(X)
    assert_array_equal(children, [[0, 1], [2, 3], [4, 5]])
    assert_allclose(distances, [1.0, 2.0, np.sqrt(2) * 10.5])
    assert_array_equal(sizes, [2, 2, 4])
