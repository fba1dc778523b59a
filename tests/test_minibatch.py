"""kmix.MiniBatchKMeans and kmix.fit_batches against scikit-learn, numpy and invariants.

References used here:
- scikit-learn's MiniBatchKMeans from the same ``random_state`` and parameters: kmix draws
  the same random numbers (validation rows, seeding rows, batches, reassignments) and does the
  same centre update, so in float64 the fits agree to rounding (in practice bitwise);
- the plain compiled step (``step_dense``) for the bounded one (``step_dense_bounded``);
- numpy distances and inertia, and invariants (counts add up to the weight seen,
  predict(X) == labels_, score == -inertia_, bitwise determinism over thread counts, a
  memory-mapped X is read in place).
"""
import contextlib
import hashlib
import io
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.cluster import KMeans as SKKMeans
from sklearn.cluster import MiniBatchKMeans as SKMiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import ThreadpoolController

import kmix
import kmix._minibatch as mb
from kmix import BatchFit, MiniBatchKMeans, fit_batches
from kmix._threads import blas_context, blas_single_threaded

_THREADPOOLS = ThreadpoolController()


def reference(fit, *args, **kwargs):
    """Run a scikit-learn reference computation with single-threaded OpenMP.

    The results do not depend on it; it only keeps scikit-learn's spinning OpenMP team from
    slowing the suite down when the 2 cores are shared with kmix's.
    """
    with _THREADPOOLS.limit(limits=1, user_api="openmp"):
        return fit(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# helpers and data
# --------------------------------------------------------------------------------------------
def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def numpy_sq_distances(X, centers):
    """Exact squared distances (n, k) by broadcasting, in float64."""
    diff = dense(X).astype(np.float64)[:, None, :] - np.asarray(centers, np.float64)[None]
    return np.einsum("ijk,ijk->ij", diff, diff)


def numpy_inertia(X, centers, labels=None, sample_weight=None):
    """sum_i w_i ||x_i - c_{labels_i}||^2 (closest centres when labels is None), float64."""
    d2 = numpy_sq_distances(X, centers)
    if labels is None:
        labels = d2.argmin(axis=1)
    w = np.ones(d2.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    return float(np.sum(w * d2[np.arange(d2.shape[0]), labels]))


def assert_labels_are_closest(X, centers, labels, rtol=1e-9):
    d2 = numpy_sq_distances(X, centers)
    assigned = d2[np.arange(d2.shape[0]), labels]
    Xd = dense(X).astype(np.float64)
    scale = 1.0 + np.sum(Xd**2, axis=1) + np.max(np.sum(np.asarray(centers) ** 2, axis=1))
    assert np.all(assigned <= d2.min(axis=1) + rtol * scale)


def verbose_output(fit, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fit(*args, **kwargs)
    return out.getvalue()


def max_steps(max_iter, n_samples, batch_size):
    return (max_iter * n_samples) // min(batch_size, n_samples)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(3000, 5, centers=10, cluster_std=2.0, random_state=0)
    return X


@pytest.fixture(scope="module")
def blobs30():
    """Wide rows (30 float64 = 240 bytes): fit takes the bounded path when steps revisit rows."""
    X, _ = make_blobs(3000, 30, centers=10, cluster_std=5.0, random_state=0)
    return X


@pytest.fixture(scope="module")
def blobs48():
    """48 features: rows of 192 bytes in float32 too (the bounded path in both dtypes)."""
    X, _ = make_blobs(3000, 48, centers=10, cluster_std=6.0, random_state=2)
    return X


@pytest.fixture(scope="module")
def weights():
    return np.random.RandomState(7).uniform(0.2, 3.0, size=3000)


@pytest.fixture
def bounds_spy(monkeypatch):
    """Record the _Bounds objects fit creates (i.e. whether it takes the bounded path)."""
    created = []

    class Spy(mb._Bounds):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(mb, "_Bounds", Spy)
    return created


def assert_matches_sklearn(km, ref, X, *, exact=True):
    """Same fit as scikit-learn's in float64, attributes and all: centres equal to 1e-12
    relative to the data's scale, and bitwise when ``exact``."""
    scale = 1.0 + np.abs(dense(X)).max()
    assert km.cluster_centers_.dtype == ref.cluster_centers_.dtype
    assert km.cluster_centers_.shape == ref.cluster_centers_.shape
    assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=0, atol=1e-12 * scale)
    if exact:
        assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
    assert km.n_steps_ == ref.n_steps_
    assert km.n_iter_ == ref.n_iter_
    assert isinstance(km.n_steps_, int) and isinstance(km.n_iter_, int)
    assert_allclose(km.counts_, ref._counts, rtol=1e-12)
    assert_allclose(km.inertia_, ref.inertia_, rtol=1e-10)
    assert isinstance(km.inertia_, float)
    assert hasattr(km, "labels_") == hasattr(ref, "labels_")
    if hasattr(ref, "labels_"):
        assert_array_equal(km.labels_, ref.labels_)


# --------------------------------------------------------------------------------------------
# 1. fit: same random_state, same result as scikit-learn (float64)
# --------------------------------------------------------------------------------------------
def _first_rows_init(X, k):
    return dense(X[:k]).astype(np.float64)


def _permutation_init(X, n_clusters, random_state):
    return X[random_state.permutation(X.shape[0])[:n_clusters]]


FIT_CASES = [
    # id, params, sparse, weighted
    pytest.param(dict(), False, False, id="defaults"),
    pytest.param(dict(batch_size=100), False, False, id="small-batches"),
    pytest.param(dict(init="random", n_init=3, batch_size=100), False, False,
                 id="random-n_init3"),
    pytest.param(dict(init="random", batch_size=100), False, True, id="random-auto-weighted"),
    pytest.param(dict(init="array", batch_size=100), False, False, id="init-array"),
    pytest.param(dict(init=_permutation_init, n_init=2, batch_size=100), False, False,
                 id="callable-init"),
    pytest.param(dict(tol=1e-3, batch_size=100, max_no_improvement=None), False, False,
                 id="tol"),
    pytest.param(dict(max_no_improvement=None, max_iter=3, batch_size=100), False, False,
                 id="no-early-stopping"),
    pytest.param(dict(batch_size=100), False, True, id="sample-weight"),
    pytest.param(dict(batch_size=100), True, False, id="csr"),
    pytest.param(dict(batch_size=100, tol=1e-3, max_no_improvement=None), True, True,
                 id="csr-weighted-tol"),
    pytest.param(dict(batch_size=100, compute_labels=False), False, False, id="no-labels"),
    pytest.param(dict(batch_size=100, compute_labels=False), True, True,
                 id="no-labels-csr-weighted"),
    pytest.param(dict(batch_size=100, reassignment_ratio=0.5), False, False, id="reassign"),
    pytest.param(dict(batch_size=100, reassignment_ratio=0.5), True, False, id="reassign-csr"),
    pytest.param(dict(batch_size=5000), False, False, id="batch-larger-than-n"),
    pytest.param(dict(batch_size=100, init_size=500), False, False, id="init_size"),
    pytest.param(dict(batch_size=100, max_no_improvement=0), False, False,
                 id="max_no_improvement0"),
]


@pytest.mark.parametrize("params, sparse, weighted", FIT_CASES)
@pytest.mark.parametrize("random_state", [0, 1])
def test_fit_matches_sklearn(blobs, weights, params, sparse, weighted, random_state):
    X = sp.csr_matrix(blobs) if sparse else blobs
    w = weights if weighted else None
    params = dict(params, n_clusters=8, random_state=random_state)
    if isinstance(params.get("init"), str) and params["init"] == "array":
        params["init"] = _first_rows_init(blobs, 8)
    ref = reference(SKMiniBatchKMeans(**params).fit, X, sample_weight=w)
    km = MiniBatchKMeans(**params).fit(X, sample_weight=w)
    assert_matches_sklearn(km, ref, X, exact=False)
    # the data exercise several steps, and the stopping rule the case is about
    assert km.n_steps_ >= (2 if params.get("max_no_improvement") == 0 else 5)
    n_max = max_steps(km.max_iter, 3000, km.batch_size)
    if params.get("max_no_improvement", 10) is None and params.get("tol", 0) == 0:
        assert km.n_steps_ == n_max
    if params.get("tol", 0) > 0:
        assert km.n_steps_ < n_max  # stopped by tol (early stopping on inertia is off)
    if not params.get("compute_labels", True):
        assert not hasattr(km, "labels_")


@pytest.mark.parametrize("bounded", [False, True], ids=["d5", "d30-bounded"])
def test_zero_weights_are_never_drawn(blobs, blobs30, bounds_spy, bounded):
    """Batches are drawn with probability w / sum(w): rows of weight 0 are never drawn."""
    X = blobs30 if bounded else blobs
    w = np.ones(3000)
    w[1::3] = 0.0
    params = dict(BOUNDED if bounded else dict(n_clusters=8, batch_size=100),
                  reassignment_ratio=0, random_state=6)
    ref = reference(SKMiniBatchKMeans(**params).fit, X, sample_weight=w)
    km = MiniBatchKMeans(**params).fit(X, sample_weight=w)
    assert len(bounds_spy) == int(bounded)
    assert_matches_sklearn(km, ref, X)
    if bounded:
        # the per-sample state is only written for drawn rows
        assert np.count_nonzero(bounds_spy[0].seen["first"][1::3]) == 0
        assert np.count_nonzero(bounds_spy[0].seen["first"][0::3]) > 900


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_reassignments_match_sklearn(blobs, sparse):
    """A large reassignment_ratio moves centres: kmix moves the same ones, to the same rows."""
    X = sp.csr_matrix(blobs) if sparse else blobs
    params = dict(n_clusters=8, batch_size=100, reassignment_ratio=0.5, random_state=8,
                  verbose=1)
    ref_out = verbose_output(reference, SKMiniBatchKMeans(**params).fit, X)
    out = verbose_output(MiniBatchKMeans(**params).fit, X)
    n_reassign = out.count("Reassigning")
    assert n_reassign >= 3
    assert n_reassign == ref_out.count("Reassigning")
    assert [line for line in out.splitlines() if "Reassigning" in line] == \
        [line for line in ref_out.splitlines() if "Reassigning" in line]


def test_compute_labels_false_inertia_is_scaled_ewa(blobs, weights):
    """Without labels, inertia_ is the smoothed batch inertia times the total weight."""
    params = dict(n_clusters=8, batch_size=100, compute_labels=False, random_state=3)
    ref = reference(SKMiniBatchKMeans(**params).fit, blobs, sample_weight=weights)
    km = MiniBatchKMeans(**params).fit(blobs, sample_weight=weights)
    assert_allclose(km.inertia_, ref._ewa_inertia * weights.sum(), rtol=1e-10)
    # an estimate of the real inertia, not far from it on blobs
    real = numpy_inertia(blobs, km.cluster_centers_, sample_weight=weights)
    assert 0.5 * real < km.inertia_ < 2 * real


def test_compute_labels_false_single_step(blobs):
    """One step (no smoothed inertia yet): scikit-learn 1.9 fails (None * float); kmix
    reports the step's mean batch inertia times the total weight."""
    km = MiniBatchKMeans(5, batch_size=3000, max_iter=1, compute_labels=False,
                         random_state=0, verbose=1)
    out = verbose_output(km.fit, blobs)
    assert km.n_steps_ == 1
    assert out.count("Minibatch step 1/1: mean batch inertia: ") == 1
    mean_batch_inertia = float(out.split("mean batch inertia: ")[1].split()[0])
    assert km.inertia_ == pytest.approx(mean_batch_inertia * 3000, rel=1e-12)


def test_init_size_smaller_than_n_clusters_warns_like_sklearn(blobs):
    params = dict(n_clusters=8, batch_size=100, init_size=3, random_state=0)
    with pytest.warns(RuntimeWarning, match="init_size=3 should be larger than n_clusters=8"):
        ref = reference(SKMiniBatchKMeans(**params).fit, blobs)
    with pytest.warns(RuntimeWarning, match="init_size=3 should be larger than n_clusters=8"):
        km = MiniBatchKMeans(**params).fit(blobs)
    assert_matches_sklearn(km, ref, blobs)


def test_init_array_with_n_init_warns_like_sklearn(blobs):
    params = dict(n_clusters=8, batch_size=100, init=blobs[:8], n_init=3, random_state=0)
    with pytest.warns(RuntimeWarning, match="Explicit initial center position passed"):
        ref = reference(SKMiniBatchKMeans(**params).fit, blobs)
    with pytest.warns(RuntimeWarning, match="Explicit initial center position passed"):
        km = MiniBatchKMeans(**params).fit(blobs)
    assert_matches_sklearn(km, ref, blobs)


@pytest.mark.parametrize("as_input", [lambda X: np.asfortranarray(X), lambda X: X.tolist(),
                                      lambda X: np.round(X * 10).astype(np.int64)],
                         ids=["fortran", "list", "int64"])
def test_other_layouts_match_sklearn(blobs, as_input):
    Xin = as_input(blobs)
    params = dict(n_clusters=8, batch_size=100, random_state=2)
    ref = reference(SKMiniBatchKMeans(**params).fit, Xin)
    km = MiniBatchKMeans(**params).fit(Xin)
    assert km.cluster_centers_.dtype == np.float64
    assert_matches_sklearn(km, ref, np.asarray(Xin, dtype=np.float64))


# --------------------------------------------------------------------------------------------
# 2. float32: close to scikit-learn (kmix accumulates in float64)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    dict(batch_size=100, max_iter=3, max_no_improvement=None),
    dict(),
    dict(batch_size=256, max_iter=10, max_no_improvement=None),
], ids=["small-batches", "defaults", "many-steps"])
@pytest.mark.parametrize("wide", [False, True], ids=["d5", "d50-bounded"])
def test_float32_close_to_sklearn(blobs, params, wide):
    if wide:
        X, _ = make_blobs(3000, 50, centers=10, cluster_std=5.0, random_state=1)
    else:
        X = blobs
    X = X.astype(np.float32)
    params = dict(params, n_clusters=8, random_state=0)
    ref = reference(SKMiniBatchKMeans(**params).fit, X)
    km = MiniBatchKMeans(**params).fit(X)
    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X).dtype == np.float32
    assert isinstance(km.inertia_, float)
    scale = np.abs(X).max()
    assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-4, atol=1e-4 * scale)
    assert np.mean(km.labels_ == ref.labels_) > 0.99
    assert_allclose(km.inertia_, ref.inertia_, rtol=1e-4)
    if params.get("max_no_improvement", 10) is None:
        assert km.n_steps_ == ref.n_steps_
    # and close to kmix's own float64 fit
    km64 = MiniBatchKMeans(**params).fit(X.astype(np.float64))
    assert_allclose(km.cluster_centers_, km64.cluster_centers_, rtol=1e-4, atol=1e-4 * scale)


# --------------------------------------------------------------------------------------------
# 3. the bounded steps (per-sample labels and bounds remembered across steps)
# --------------------------------------------------------------------------------------------
BOUNDED = dict(n_clusters=10, batch_size=256, max_iter=20, max_no_improvement=None)


@pytest.mark.parametrize("params, weighted", [
    (dict(), False),
    (dict(), True),
    (dict(n_clusters=20, reassignment_ratio=0.5), False),
    (dict(n_clusters=3), False),
    (dict(init="random", n_init=2, tol=1e-4), False),
], ids=["plain", "weighted", "reassign", "k3", "random-tol"])
def test_bounded_fit_matches_sklearn(blobs30, weights, bounds_spy, params, weighted):
    params = dict(BOUNDED, random_state=10, **params)
    w = weights if weighted else None
    ref = reference(SKMiniBatchKMeans(**params).fit, blobs30, sample_weight=w)
    out = verbose_output(MiniBatchKMeans(verbose=1, **params).fit, blobs30, sample_weight=w)
    assert len(bounds_spy) == 1  # the bounded path was taken
    assert np.count_nonzero(bounds_spy[0].seen["first"]) > 0.9 * blobs30.shape[0]
    if params.get("reassignment_ratio", 0) > 0.1:
        assert out.count("Reassigning") >= 3
    km = MiniBatchKMeans(**params).fit(blobs30, sample_weight=w)
    assert_matches_sklearn(km, ref, blobs30)
    if params.get("tol", 0) == 0:
        assert km.n_steps_ == max_steps(20, 3000, 256)  # many steps, every row drawn ~20 times


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", [
    dict(),
    dict(n_clusters=20, reassignment_ratio=0.5),
    dict(n_clusters=300, batch_size=512),
], ids=["k10", "k20-reassign", "k300-tiles"])
def test_bounded_fit_equals_plain_fit(blobs48, bounds_spy, monkeypatch, dtype, params):
    X = blobs48.astype(dtype)
    # one thread: results do not depend on it (test_bitwise_deterministic_across_threads),
    # and 2-thread steps crawl when the 2 cores are shared with another process
    params = dict(BOUNDED, random_state=4, n_threads=1, **params)
    bounded = MiniBatchKMeans(**params).fit(X)
    assert len(bounds_spy) == 1
    monkeypatch.setattr(mb, "_use_bounds", lambda *args: False)
    plain = MiniBatchKMeans(**params).fit(X)
    assert len(bounds_spy) == 1
    assert bitwise_equal(bounded.cluster_centers_, plain.cluster_centers_)
    assert bitwise_equal(bounded.counts_, plain.counts_)
    assert_array_equal(bounded.labels_, plain.labels_)
    assert bounded.inertia_ == plain.inertia_
    assert bounded.n_steps_ == plain.n_steps_


def test_bounded_fit_close_to_plain_fit_far_from_origin(bounds_spy, monkeypatch):
    # Far from the origin relative to its spread, the distance formula's rounding decides
    # near-ties, and the bounded path (which re-assigns its undecided rows with a gemm on a
    # gathered subset, whose per-row rounding depends on the call's shape) may break them
    # differently from the plain path. The runs then agree statistically, not bitwise.
    X = np.random.RandomState(0).normal(size=(2000, 64)) + 3e5
    params = dict(n_clusters=20, batch_size=64, max_iter=20, max_no_improvement=None,
                  random_state=0)
    bounded = MiniBatchKMeans(**params).fit(X)
    assert len(bounds_spy) == 1
    monkeypatch.setattr(mb, "_use_bounds", lambda *args: False)
    plain = MiniBatchKMeans(**params).fit(X)
    ref = reference(SKMiniBatchKMeans(**params).fit, X)
    assert bounded.inertia_ == pytest.approx(plain.inertia_, rel=2e-3)
    assert bounded.inertia_ == pytest.approx(ref.inertia_, rel=2e-3)


def test_fit_close_to_sklearn_far_from_origin(bounds_spy):
    # Neither library centres X for mini-batch k-means; at an offset of 1e6 with unit spread
    # the partial distances ||c||^2 - 2 x.c round to ~1e-2 against gaps of that order, and
    # kmix (||c||^2 summed in order) and scikit-learn (np.einsum) round them differently: the
    # labels of near-ties differ, the runs agree to the inertia's first digits.
    X = np.random.RandomState(0).normal(size=(2000, 64)) + 1e6
    params = dict(n_clusters=20, batch_size=64, max_iter=1, max_no_improvement=None,
                  random_state=0)
    km = MiniBatchKMeans(**params).fit(X)
    assert bounds_spy == []  # the plain steps
    ref = reference(SKMiniBatchKMeans(**params).fit, X)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=2e-3)


@pytest.mark.parametrize("shape, n_clusters, batch_size, max_iter, dtype, expected", [
    ((3000, 30), 10, 256, 20, np.float64, True),
    ((3000, 20), 10, 256, 20, np.float64, True),     # 160 bytes per row
    ((3000, 19), 10, 256, 20, np.float64, False),    # 152 bytes
    ((3000, 40), 10, 256, 20, np.float32, True),     # 160 bytes
    ((3000, 39), 10, 256, 20, np.float32, False),
    ((3000, 30), 2, 256, 20, np.float64, False),     # needs 3+ centres
    ((3000, 30), 3, 256, 20, np.float64, True),
    ((3000, 30), 10, 300, 2, np.float64, True),      # 20 steps * 300 = 2 n
    ((3000, 30), 10, 256, 2, np.float64, False),     # 23 steps * 256 < 2 n
    ((3000, 30), 10, 256, 1, np.float64, False),
    ((3000, 30), 10, 5000, 2, np.float64, True),     # batch = n, 2 steps
])
def test_bounded_path_conditions(bounds_spy, shape, n_clusters, batch_size, max_iter, dtype,
                                 expected):
    X = np.random.RandomState(0).normal(size=shape).astype(dtype)
    km = MiniBatchKMeans(n_clusters, batch_size=batch_size, max_iter=max_iter,
                         max_no_improvement=None, random_state=0).fit(X)
    assert (len(bounds_spy) == 1) == expected
    # either way the result is scikit-learn's
    if dtype == np.float64:
        ref = reference(SKMiniBatchKMeans(n_clusters, batch_size=batch_size, max_iter=max_iter,
                                          max_no_improvement=None, random_state=0).fit, X)
        assert_matches_sklearn(km, ref, X)


def test_sparse_fit_never_uses_bounds(blobs30, bounds_spy):
    km = MiniBatchKMeans(**BOUNDED, random_state=0).fit(sp.csr_matrix(blobs30))
    assert bounds_spy == []
    assert km.n_steps_ == max_steps(20, 3000, 256)


def _kernel_data():
    X, _ = make_blobs(2000, 30, centers=10, cluster_std=3.0, random_state=0)
    Xk, _ = make_blobs(3000, 24, centers=50, cluster_std=1.0, random_state=1)
    rng = np.random.RandomState(2)
    return {
        # id: (X, k, batch size, steps)
        "blobs-k10": (X, 10, 256, 150),
        # large norms against small spreads: the rounding margins matter
        "offset-1e4": (X + 1e4, 10, 256, 150),
        "k300-tiles": (Xk, 300, 512, 25),
        "k3": (Xk, 3, 512, 80),
        "k257": (Xk, 257, 300, 25),  # last centre tile of width 1
        "duplicate-rows": (np.repeat(X[:50], 40, axis=0), 20, 256, 100),
        "normal-d64": (rng.normal(size=(1500, 64)), 12, 200, 150),
    }


KERNEL_DATA = _kernel_data()


def _compare_step_kernels(X, k, b, n_steps, n_threads, identical_centres=False):
    """Run step_dense and step_dense_bounded side by side on the same rows from the same
    centres; assert they agree bitwise at every step. Returns the last step's rows, centres
    before it and labels, and the bounds."""
    n, d = X.shape
    rng = np.random.RandomState(0)
    init = X[rng.choice(n, k, replace=False)].copy()
    if identical_centres:
        init[1] = init[0]  # two identical centres: exact ties in every distance to them
    c_plain, c_bounded = init.copy(), init.copy()
    n_plain, n_bounded = np.zeros(k), np.zeros(k)
    buf_plain = mb._StepBuffers(b, k, d, X.dtype, True)
    buf_bounded = mb._StepBuffers(b, k, d, X.dtype, False)
    bounds = mb._Bounds(n, b)
    for step in range(n_steps):
        rows = rng.randint(0, n, b).astype(np.intp)
        if step % 10 == 9:
            rows[: b // 2] = rows[b // 2: 2 * (b // 2)]  # a sample twice in one batch
        before = c_plain.copy()
        with blas_context(X):  # as fit: the kernels call gemm from their OpenMP threads
            r_plain = mb._step(X, None, rows, mb._NO_WEIGHTS, c_plain, n_plain, buf_plain,
                               n_threads)
            r_bounded = mb._step(X, None, rows, mb._NO_WEIGHTS, c_bounded, n_bounded,
                                 buf_bounded, n_threads, bounds)
        assert_array_equal(buf_bounded.labels[:b], buf_plain.labels[:b], err_msg=f"step {step}")
        assert r_bounded == r_plain, step
        assert bitwise_equal(c_bounded, c_plain), step
        assert bitwise_equal(n_bounded, n_plain), step
    assert n_bounded.sum() == n_steps * b
    return rows, before, buf_plain.labels[:b].copy(), bounds


# Batches of more than 256 rows span several chunks, which 2 threads share.
KERNEL_CASES = [(name, 1) for name in sorted(KERNEL_DATA)] + [
    (name, 2) for name in sorted(KERNEL_DATA) if KERNEL_DATA[name][2] > 256]


@pytest.mark.parametrize("name, n_threads", KERNEL_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_step_dense_bounded_equals_step_dense(name, dtype, n_threads):
    """Same rows, same centres: the bounded kernel gives the plain kernel's labels, batch
    inertia, squared shift, centres and counts, bitwise, step after step."""
    X, k, b, n_steps = KERNEL_DATA[name]
    X = np.ascontiguousarray(X, dtype=dtype)
    rows, before, labels, bounds = _compare_step_kernels(
        X, k, b, n_steps, n_threads, identical_centres=name == "duplicate-rows")
    # most samples were drawn, and their state remembers a closest centre
    assert np.count_nonzero(bounds.seen["first"]) > 0.5 * X.shape[0]
    assert bounds.drift[0] > 0
    # the plain kernel's labels are argmins of the distances on the pre-step centres
    assert_labels_are_closest(X[rows], before, labels,
                              rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_step_dense_bounded_labels_are_closest_far_from_origin():
    # Where rounding decides near-ties the bounded kernel may break them unlike step_dense
    # (test_bounded_fit_close_to_plain_fit_far_from_origin); each label it gives is still a
    # closest centre up to the rounding of the distance formula, step after step.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 64)) + 1e6
    k, b = 20, 64
    centers = X[rng.choice(500, k, replace=False)].copy()
    counts = np.zeros(k)
    buf = mb._StepBuffers(b, k, 64, X.dtype, False)
    bounds = mb._Bounds(500, b)
    with blas_single_threaded():
        for _ in range(100):
            rows = rng.randint(0, 500, b).astype(np.intp)
            before = centers.copy()
            mb._step(X, None, rows, mb._NO_WEIGHTS, centers, counts, buf, 1, bounds)
            assert_labels_are_closest(X[rows], before, buf.labels[:b], rtol=1e-15)
    assert np.count_nonzero(bounds.seen["first"]) > 0.9 * 500


def test_step_kernels_update_formula():
    """One step from zero counts: every centre with members becomes their mean; one more
    step is the running weighted mean (c N + sum w x) / (N + sum w)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 8))
    k, b = 5, 64
    centers = X[:k].copy()
    counts = np.zeros(k)
    buf = mb._StepBuffers(b, k, 8, X.dtype, True)
    rows = rng.randint(0, 400, b).astype(np.intp)
    d2 = numpy_sq_distances(X[rows], centers)
    expected_labels = d2.argmin(axis=1)
    inertia, shift = mb._step(X, None, rows, mb._NO_WEIGHTS, centers, counts, buf, 1)
    assert_array_equal(buf.labels[:b], expected_labels)
    assert inertia == pytest.approx(d2.min(axis=1).sum(), rel=1e-12)
    old = X[:k]
    for j in range(k):
        members = X[rows[expected_labels == j]]
        assert counts[j] == members.shape[0]
        if members.shape[0]:
            assert_allclose(centers[j], members.mean(axis=0), rtol=1e-12, atol=1e-12)
        else:
            assert_array_equal(centers[j], old[j])
    assert shift == pytest.approx(np.sum((centers - old) ** 2), rel=1e-12)
    # a weighted step on the whole of a small batch (rows empty: X itself is the batch)
    batch = rng.normal(size=(30, 8))
    w = rng.uniform(0.5, 2, size=30)
    buf = mb._StepBuffers(30, k, 8, X.dtype, False)
    c0, n0 = centers.copy(), counts.copy()
    d2 = numpy_sq_distances(batch, c0)
    lab = d2.argmin(axis=1)
    inertia, _ = mb._step(batch, None, mb._NO_ROWS, w, centers, counts, buf, 1)
    assert inertia == pytest.approx(np.sum(w * d2.min(axis=1)), rel=1e-12)
    for j in range(k):
        m = lab == j
        expected = (c0[j] * n0[j] + (w[m, None] * batch[m]).sum(axis=0)) / (n0[j] + w[m].sum())
        assert_allclose(centers[j], expected if m.any() else c0[j], rtol=1e-12, atol=1e-12)
        assert counts[j] == pytest.approx(n0[j] + w[m].sum(), rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
def test_labels_inertia_kernels_match_numpy(sparse, weighted):
    from kmix._core import _minibatch as kernels

    rng = np.random.RandomState(1)
    X = rng.normal(size=(3000, 20))
    X[rng.uniform(size=X.shape) < 0.5] = 0
    C = rng.normal(size=(7, 20))
    w = rng.uniform(0.5, 2, 3000) if weighted else np.empty(0)
    labels = np.empty(3000, dtype=np.int32)
    if sparse:
        Xs = sp.csr_matrix(X)
        value = kernels.labels_inertia_sparse(Xs.data, Xs.indices.astype(np.int32),
                                              Xs.indptr.astype(np.int32), w, C, labels, 2)
    else:
        with blas_context(X):
            value = kernels.labels_inertia_dense(X, w, C, labels, 2)
    d2 = numpy_sq_distances(X, C)
    assert_array_equal(labels, d2.argmin(axis=1))
    assert value == pytest.approx(numpy_inertia(X, C, sample_weight=w if weighted else None),
                                  rel=1e-12)


# --------------------------------------------------------------------------------------------
# 4. partial_fit
# --------------------------------------------------------------------------------------------
def _batches(X, size):
    return [X[i:i + size] for i in range(0, X.shape[0], size)]


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("params", [dict(), dict(reassignment_ratio=0.5), dict(init="random"),
                                    dict(compute_labels=False)],
                         ids=["defaults", "reassign", "random", "no-labels"])
def test_partial_fit_sequence_matches_sklearn(blobs, weights, sparse, weighted, params):
    X = sp.csr_matrix(blobs) if sparse else blobs
    params = dict(params, n_clusters=8, batch_size=50, random_state=5)  # init_size 150 < 300
    ref = SKMiniBatchKMeans(**params)
    km = MiniBatchKMeans(**params)
    for i, start in enumerate(range(0, 3000, 300)):
        batch = X[start:start + 300]
        w = weights[start:start + 300] if weighted else None
        centres_before = None if i == 0 else km.cluster_centers_.copy()
        reference(ref.partial_fit, batch, sample_weight=w)
        assert km.partial_fit(batch, sample_weight=w) is km
        scale = 1.0 + np.abs(dense(batch)).max()
        assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=0, atol=1e-12 * scale)
        assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_), i
        assert_allclose(km.counts_, ref._counts, rtol=1e-12)
        assert km.n_steps_ == ref.n_steps_ == i + 1
        if params.get("compute_labels", True):
            assert_array_equal(km.labels_, ref.labels_)
            assert_allclose(km.inertia_, ref.inertia_, rtol=1e-10)
            # the last batch's labels and inertia on the updated centres
            assert km.labels_.shape == (300,)
            assert_allclose(km.inertia_, numpy_inertia(batch, km.cluster_centers_, km.labels_, w),
                            rtol=1e-9)
        else:
            assert not hasattr(km, "labels_")
            if centres_before is not None:
                # the batch's inertia on the centres before its update
                assert_allclose(km.inertia_, numpy_inertia(batch, centres_before,
                                                           sample_weight=w), rtol=1e-9)
    if params.get("reassignment_ratio", 0.01) == 0.5:
        # reassignments happened: moved centres' counts were reset, so counts_ no longer sum
        # to the weight seen
        assert not np.isclose(km.counts_.sum(), weights.sum() if weighted else 3000)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_partial_fit_counts_are_weight_seen(blobs, weights, sparse, weighted):
    X = sp.csr_matrix(blobs) if sparse else blobs
    km = MiniBatchKMeans(8, reassignment_ratio=0, random_state=0)
    total = 0.0
    for start in range(0, 3000, 250):
        w = weights[start:start + 250] if weighted else None
        km.partial_fit(X[start:start + 250], sample_weight=w)
        total += 250 if w is None else w.sum()
        assert km.counts_.sum() == pytest.approx(total, rel=1e-12)
        assert km.counts_.dtype == np.float64 and km.counts_.shape == (8,)
    assert km.n_steps_ == 12


def test_partial_fit_after_fit_continues_like_sklearn(blobs):
    params = dict(n_clusters=8, batch_size=100, random_state=3)
    ref = reference(SKMiniBatchKMeans(**params).fit, blobs[:2000])
    km = MiniBatchKMeans(**params).fit(blobs[:2000])
    assert_matches_sklearn(km, ref, blobs)
    n_steps, counts = km.n_steps_, km.counts_.copy()
    for start in range(2000, 3000, 200):
        reference(ref.partial_fit, blobs[start:start + 200])
        km.partial_fit(blobs[start:start + 200])
        assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
        assert_allclose(km.counts_, ref._counts, rtol=1e-12)
        assert_array_equal(km.labels_, ref.labels_)
    assert km.n_steps_ == n_steps + 5
    assert km.counts_.sum() > counts.sum()
    # fit starts over
    km.fit(blobs[:2000])
    assert bitwise_equal(km.cluster_centers_, MiniBatchKMeans(**params).fit(
        blobs[:2000]).cluster_centers_)
    assert km.n_steps_ == n_steps


def test_partial_fit_with_init_array_and_weights_matches_sklearn(blobs, weights):
    init = blobs[:8]
    ref = SKMiniBatchKMeans(8, init=init, random_state=0)
    km = MiniBatchKMeans(8, init=init, random_state=0)
    for start in range(0, 3000, 500):
        w = weights[start:start + 500]
        reference(ref.partial_fit, blobs[start:start + 500], sample_weight=w)
        km.partial_fit(blobs[start:start + 500], sample_weight=w)
        assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
    assert_allclose(km.counts_, ref._counts, rtol=1e-12)


def test_partial_fit_n_features_mismatch(blobs):
    km = MiniBatchKMeans(4, random_state=0).partial_fit(blobs[:100])
    centres = km.cluster_centers_.copy()
    with pytest.raises(ValueError, match="features"):
        km.partial_fit(blobs[100:200, :3])
    # the failed call changed nothing
    assert bitwise_equal(km.cluster_centers_, centres)
    assert km.n_steps_ == 1
    km.partial_fit(blobs[100:200])
    assert km.n_steps_ == 2


def test_partial_fit_first_batch_smaller_than_n_clusters():
    with pytest.raises(ValueError, match="n_clusters"):
        MiniBatchKMeans(8).partial_fit(np.random.RandomState(0).normal(size=(5, 2)))


# --------------------------------------------------------------------------------------------
# 5. invariants of the fitted model
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("bounded", [False, True], ids=["plain", "bounded"])
def test_fit_counts_sum_to_rows_drawn(blobs, blobs30, bounds_spy, sparse, bounded):
    X = blobs30 if bounded else blobs
    X = sp.csr_matrix(X) if sparse else X
    params = dict(BOUNDED) if bounded else dict(n_clusters=8, batch_size=100)
    km = MiniBatchKMeans(reassignment_ratio=0, random_state=0, **params).fit(X)
    assert len(bounds_spy) == int(bounded and not sparse)
    # fit draws rows with probability proportional to their weight and counts each once
    assert km.counts_.sum() == km.n_steps_ * min(km.batch_size, X.shape[0])
    assert np.all(km.counts_ > 0)


def test_fit_weighted_counts_sum_to_rows_drawn(blobs, weights):
    km = MiniBatchKMeans(8, batch_size=100, reassignment_ratio=0, random_state=0).fit(
        blobs, sample_weight=weights)
    assert km.counts_.sum() == km.n_steps_ * 100


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_predict_score_transform_after_fit(blobs, weights, sparse, weighted):
    X = sp.csr_matrix(blobs) if sparse else blobs
    w = weights if weighted else None
    km = MiniBatchKMeans(8, batch_size=200, random_state=1).fit(X, sample_weight=w)
    assert km.labels_.shape == (3000,)
    assert_array_equal(km.predict(X), km.labels_)
    assert km.score(X, sample_weight=w) == pytest.approx(-km.inertia_, rel=1e-12)
    assert km.inertia_ == pytest.approx(
        numpy_inertia(blobs, km.cluster_centers_, km.labels_, w), rel=1e-9)
    assert_labels_are_closest(blobs, km.cluster_centers_, km.labels_)
    X_new = np.random.RandomState(2).normal(scale=6, size=(100, 5))
    Xin = sp.csr_matrix(X_new) if sparse else X_new
    D = km.transform(Xin)
    assert D.shape == (100, 8)
    assert_allclose(D, np.sqrt(numpy_sq_distances(X_new, km.cluster_centers_)), rtol=1e-10,
                    atol=1e-8)
    assert_array_equal(km.predict(Xin), D.argmin(axis=1))
    assert km.score(Xin) == pytest.approx(-numpy_inertia(X_new, km.cluster_centers_),
                                          rel=1e-10)
    assert list(km.get_feature_names_out()) == [f"minibatchkmeans{i}" for i in range(8)]
    assert km.n_features_in_ == 5


@st.composite
def mb_problems(draw):
    """Small problems in general position (continuous data; some exact zeros) and parameters.

    No reassignments, so that centres stay running means of rows. (Parity with scikit-learn
    is not asserted here: on tiny problems near-exact ties - two centres on one row, mutual
    nearest candidates in k-means++ - are settled by rounding, differently in each library.)
    """
    k = draw(st.integers(1, 8))
    n = draw(st.integers(k, 150))
    d = draw(st.integers(1, 24))
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    centres = rng.normal(scale=draw(st.sampled_from([0.1, 1.0, 10.0])), size=(max(1, k // 2), d))
    X = centres[rng.randint(0, len(centres), n)] + rng.normal(size=(n, d))
    if draw(st.booleans()):
        X[rng.uniform(size=X.shape) < 0.3] = 0.0
    w = rng.uniform(0.1, 5, n) if draw(st.booleans()) else None
    params = dict(n_clusters=k, batch_size=draw(st.integers(1, 200)),
                  max_iter=draw(st.integers(1, 4)),
                  max_no_improvement=draw(st.sampled_from([None, 0, 3])),
                  tol=draw(st.sampled_from([0.0, 1e-3])), reassignment_ratio=0.0,
                  init=draw(st.sampled_from(["k-means++", "random"])),
                  random_state=draw(st.integers(0, 1000)))
    return X, w, params, draw(st.booleans())


def _assert_closest_and_inertia(X, centers, labels, inertia, w):
    d2 = numpy_sq_distances(X, centers)
    assigned = d2[np.arange(X.shape[0]), labels]
    scale = 1 + np.sum(X**2, axis=1) + np.max(np.sum(centers**2, axis=1))
    assert np.all(assigned <= d2.min(axis=1) + 1e-9 * scale)
    wt = np.ones(X.shape[0]) if w is None else w
    assert inertia == pytest.approx(float(wt @ assigned), rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(problem=mb_problems())
def test_fit_invariants_property(problem):
    X, w, params, sparse = problem
    Xin = sp.csr_matrix(X) if sparse else X
    n = X.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # init_size < n_clusters
        km = MiniBatchKMeans(**params).fit(Xin, sample_weight=w)
    b = min(params["batch_size"], n)
    n_max = params["max_iter"] * n // b
    assert 1 <= km.n_steps_ <= n_max
    if params["max_no_improvement"] is None and params["tol"] == 0:
        assert km.n_steps_ == n_max
    assert km.n_iter_ == int(np.ceil(km.n_steps_ * b / n))
    assert km.counts_.sum() == km.n_steps_ * b
    C = km.cluster_centers_
    assert C.shape == (params["n_clusters"], X.shape[1]) and np.all(np.isfinite(C))
    # running means of rows, started from rows: inside the data's bounding box
    span = 1e-9 * (1 + np.abs(X).max())
    assert np.all(C >= X.min(axis=0) - span) and np.all(C <= X.max(axis=0) + span)
    _assert_closest_and_inertia(X, C, km.labels_, km.inertia_, w)
    assert_array_equal(km.predict(Xin), km.labels_)
    assert km.score(Xin, sample_weight=w) == pytest.approx(-km.inertia_, rel=1e-12, abs=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(problem=mb_problems(), data=st.data())
def test_partial_fit_invariants_property(problem, data):
    X, w, params, sparse = problem
    n, k = X.shape[0], params["n_clusters"]
    params = {key: params[key] for key in ("n_clusters", "batch_size", "init", "random_state")}
    cuts = sorted(set(data.draw(st.lists(st.integers(k, n), max_size=4))))
    edges = [0] + [c for c in cuts if 0 < c < n] + [n]
    Xin = sp.csr_matrix(X) if sparse else X
    km = MiniBatchKMeans(reassignment_ratio=0, **params)
    total = 0.0
    lo, hi = np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    span = 1e-9 * (1 + np.abs(X).max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, (s, e) in enumerate(zip(edges, edges[1:])):
            ww = None if w is None else w[s:e]
            km.partial_fit(Xin[s:e], sample_weight=ww)
            total += (e - s) if ww is None else ww.sum()
            lo, hi = np.minimum(lo, X[s:e].min(axis=0)), np.maximum(hi, X[s:e].max(axis=0))
            assert km.n_steps_ == i + 1
            assert km.counts_.sum() == pytest.approx(total, rel=1e-12)
            C = km.cluster_centers_
            assert np.all(C >= lo - span) and np.all(C <= hi + span)
            _assert_closest_and_inertia(X[s:e], C, km.labels_, km.inertia_, ww)


def test_fit_predict_and_fit_transform(blobs):
    km = MiniBatchKMeans(8, batch_size=200, random_state=1)
    labels = km.fit_predict(blobs)
    assert labels is km.labels_
    assert_array_equal(labels, MiniBatchKMeans(8, batch_size=200, random_state=1).fit(
        blobs).labels_)
    Xt = MiniBatchKMeans(8, batch_size=200, random_state=1).fit_transform(blobs)
    assert_allclose(Xt, km.transform(blobs), rtol=1e-12)
    assert_array_equal(Xt.argmin(axis=1), labels)


def test_predict_matches_sklearn_on_new_data(blobs):
    params = dict(n_clusters=8, batch_size=200, random_state=1)
    km = MiniBatchKMeans(**params).fit(blobs)
    ref = reference(SKMiniBatchKMeans(**params).fit, blobs)
    X_new = np.random.RandomState(3).normal(scale=6, size=(300, 5))
    assert_array_equal(km.predict(X_new), ref.predict(X_new))
    assert_allclose(km.transform(X_new), ref.transform(X_new), rtol=1e-9)
    assert_allclose(km.score(X_new), ref.score(X_new), rtol=1e-9)


def test_verbose_prints_steps_and_convergence(blobs):
    out = verbose_output(MiniBatchKMeans(8, batch_size=100, random_state=0, verbose=1).fit,
                         blobs)
    km = MiniBatchKMeans(8, batch_size=100, random_state=0).fit(blobs)
    assert out.count("Minibatch step ") == km.n_steps_
    assert "Converged (lack of improvement in inertia)" in out
    assert out.count("Init 1/1 with method k-means++") == 1


def test_not_fitted_raises(blobs):
    from sklearn.exceptions import NotFittedError

    for method in ("predict", "transform", "score"):
        with pytest.raises(NotFittedError):
            getattr(MiniBatchKMeans(3), method)(blobs)


def test_feature_names_with_pandas(blobs):
    pd = pytest.importorskip("pandas")
    columns = [f"c{i}" for i in range(5)]
    km = MiniBatchKMeans(8, batch_size=200, random_state=0).fit(pd.DataFrame(blobs,
                                                                             columns=columns))
    ref = MiniBatchKMeans(8, batch_size=200, random_state=0).fit(blobs)
    assert list(km.feature_names_in_) == columns
    assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(km.predict(pd.DataFrame(blobs, columns=columns)), ref.labels_)


# --------------------------------------------------------------------------------------------
# 6. determinism across thread counts
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blobs_large():
    X, _ = make_blobs(20_000, 40, centers=20, cluster_std=4.0, random_state=0)
    return X


def _assert_same(runs):
    for other in runs[1:]:
        assert bitwise_equal(runs[0].cluster_centers_, other.cluster_centers_)
        assert bitwise_equal(runs[0].counts_, other.counts_)
        assert runs[0].inertia_ == other.inertia_
        assert runs[0].n_steps_ == other.n_steps_
        if hasattr(runs[0], "labels_"):
            assert bitwise_equal(runs[0].labels_, other.labels_)


@pytest.mark.parametrize("case", ["plain", "bounded", "sparse", "float32-bounded",
                                  "weighted-tol"])
def test_bitwise_deterministic_across_threads(blobs_large, bounds_spy, case):
    from kmix._threads import threads_for

    X = blobs_large
    params = dict(n_clusters=20, random_state=0)
    w = None
    if case == "plain":
        params.update(max_iter=1)  # 19 steps of 1024: fewer than two epochs, no bounds
    elif case in ("bounded", "float32-bounded"):
        params.update(max_iter=10, batch_size=512, max_no_improvement=None)
        if case == "float32-bounded":
            X = X.astype(np.float32)
    elif case == "sparse":
        X = X.copy()
        X[np.abs(X) < 6.0] = 0.0
        X = sp.csr_matrix(X)
        assert X.nnz < 0.8 * X.shape[0] * X.shape[1]
        params.update(max_iter=2)
    else:
        w = np.random.RandomState(0).uniform(0.5, 2, X.shape[0])
        params.update(max_iter=2, tol=1e-4)
    if kmix.openmp_enabled():
        # the steps are big enough for 2 threads to be used
        assert threads_for(2, min(params.get("batch_size", 1024), 20_000), 20, 40) == 2
    runs = [MiniBatchKMeans(n_threads=t, **params).fit(X, sample_weight=w) for t in (1, 2, 2)]
    assert len(bounds_spy) == (3 if "bounded" in case else 0)
    assert runs[0].n_steps_ >= 10
    _assert_same(runs)


def test_partial_fit_bitwise_deterministic_across_threads(blobs_large):
    runs = []
    for n_threads in (1, 2):
        km = MiniBatchKMeans(20, random_state=0, n_threads=n_threads, reassignment_ratio=0.2)
        for start in range(0, 20_000, 5000):
            km.partial_fit(blobs_large[start:start + 5000])
        runs.append(km)
    _assert_same(runs)


# --------------------------------------------------------------------------------------------
# 7. out of core: memory-mapped X is read in place
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def memmap_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5.0, size=(8, 50))
    X = rng.standard_normal((200_000, 50))
    X += centres[rng.integers(0, 8, 200_000)]
    path = tmp_path_factory.mktemp("memmap") / "X.npy"
    np.save(path, X)
    return path, X


def _file_digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("params", [dict(), dict(tol=1e-4, max_iter=5)], ids=["defaults", "tol"])
def test_fit_on_memmap_does_not_copy(memmap_file, bounds_spy, params):
    path, X = memmap_file
    digest = _file_digest(path)
    Xm = np.load(path, mmap_mode="r")
    assert isinstance(Xm, np.memmap) and not Xm.flags.writeable
    km = MiniBatchKMeans(8, random_state=0, compute_labels=True, **params)
    tracemalloc.start()
    try:
        km.fit(Xm)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * X.nbytes, f"peak {peak / 1e6:.1f} MB for {X.nbytes / 1e6:.0f} MB of X"
    assert len(bounds_spy) == 1  # the per-sample state is allocated, and counted, too
    ref = MiniBatchKMeans(8, random_state=0, **params).fit(X)
    assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
    assert bitwise_equal(km.labels_, ref.labels_)
    assert km.inertia_ == ref.inertia_
    assert km.n_steps_ == ref.n_steps_
    assert_array_equal(km.predict(Xm[:1000]), ref.labels_[:1000])
    del Xm
    assert _file_digest(path) == digest


def test_memmap_with_weights_same_as_in_memory(tmp_path, blobs30, weights):
    np.save(tmp_path / "X.npy", blobs30)
    np.save(tmp_path / "w.npy", weights)
    Xm = np.load(tmp_path / "X.npy", mmap_mode="r")
    wm = np.load(tmp_path / "w.npy", mmap_mode="r")
    km = MiniBatchKMeans(**BOUNDED, random_state=1).fit(Xm, sample_weight=wm)
    ref = MiniBatchKMeans(**BOUNDED, random_state=1).fit(blobs30, sample_weight=weights)
    assert bitwise_equal(km.cluster_centers_, ref.cluster_centers_)
    assert km.inertia_ == ref.inertia_
    assert_array_equal(Xm, blobs30)
    assert_array_equal(wm, weights)


# --------------------------------------------------------------------------------------------
# 8. fit_batches
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stream_data():
    X, _ = make_blobs(10_000, 5, centers=6, cluster_std=1.0, random_state=4)
    return X


def _trained_copy(result, batches, template, n_epochs=1):
    """Re-run the returned fit by hand: a clone with its seed, partial_fit on the batches."""
    km = clone(template).set_params(random_state=result.estimator.random_state)
    for _ in range(n_epochs):
        for batch in batches:
            X, w = batch if isinstance(batch, tuple) else (batch, None)
            km.partial_fit(X, sample_weight=w)
    return km


def test_fit_batches_generator_one_epoch(stream_data):
    # 10 clusters for 6 blobs: the partition, hence the fit, depends on the seeding (with 6,
    # every copy finds the same partition of the first batch, and then the same centres, as
    # the first update of a centre forgets its initial position)
    template = MiniBatchKMeans(10, n_init=1)
    batches = _batches(stream_data, 500)

    def gen():
        yield from batches

    result = fit_batches(gen(), template, n_init=3, random_state=0)
    assert isinstance(result, BatchFit)
    best = result.estimator
    assert isinstance(best, MiniBatchKMeans) and best is not template
    assert not hasattr(template, "cluster_centers_")  # the template is only cloned
    assert template.random_state is None
    assert isinstance(best.random_state, int)
    # trained on every batch but the first, which is held out and scores the fits
    again = _trained_copy(result, batches[1:], template)
    assert bitwise_equal(best.cluster_centers_, again.cluster_centers_)
    assert best.n_steps_ == len(batches) - 1
    assert len(result.holdout_inertias) == 3
    assert result.holdout_inertia == min(result.holdout_inertias)
    assert result.holdout_inertia == pytest.approx(-best.score(batches[0]), rel=1e-12)
    assert isinstance(result.holdout_inertia, float)
    # the copies are seeded differently
    assert len(set(result.holdout_inertias)) > 1


def test_fit_batches_generator_with_two_epochs_raises(stream_data):
    consumed = []

    def gen():
        for batch in _batches(stream_data, 1000):
            consumed.append(1)
            yield batch

    with pytest.raises(ValueError, match="callable"):
        fit_batches(gen(), MiniBatchKMeans(6), n_epochs=2, random_state=0)
    assert consumed == []  # refused before reading anything
    with pytest.raises(ValueError, match="callable"):
        fit_batches(iter(_batches(stream_data, 1000)), MiniBatchKMeans(6), n_epochs=2)


def test_fit_batches_callable_two_epochs(stream_data):
    batches = _batches(stream_data, 1000)
    calls = []

    def read():
        calls.append(1)
        return (b for b in batches)

    template = MiniBatchKMeans(6)
    result = fit_batches(read, template, n_init=2, n_epochs=2, random_state=1)
    assert len(calls) == 2
    again = _trained_copy(result, batches[1:], template, n_epochs=2)
    assert bitwise_equal(result.estimator.cluster_centers_, again.cluster_centers_)
    assert result.estimator.n_steps_ == 2 * (len(batches) - 1)
    assert result.holdout_inertia == pytest.approx(-result.estimator.score(batches[0]),
                                                   rel=1e-12)


def test_fit_batches_list_and_holdout_count(stream_data):
    batches = _batches(stream_data, 1000)
    template = MiniBatchKMeans(6)
    result = fit_batches(batches, template, n_init=2, holdout=2, n_epochs=2, random_state=2)
    again = _trained_copy(result, batches[2:], template, n_epochs=2)
    assert bitwise_equal(result.estimator.cluster_centers_, again.cluster_centers_)
    held = -result.estimator.score(batches[0]) - result.estimator.score(batches[1])
    assert result.holdout_inertia == pytest.approx(held, rel=1e-12)


def test_fit_batches_weighted_tuples(stream_data):
    rng = np.random.RandomState(0)
    batches = [(X, rng.uniform(0.5, 2, X.shape[0])) for X in _batches(stream_data, 1000)]
    template = MiniBatchKMeans(6)
    result = fit_batches(batches, template, n_init=2, random_state=3)
    again = _trained_copy(result, batches[1:], template)
    assert bitwise_equal(result.estimator.cluster_centers_, again.cluster_centers_)
    X0, w0 = batches[0]
    assert result.holdout_inertia == pytest.approx(
        numpy_inertia(X0, result.estimator.cluster_centers_, sample_weight=w0), rel=1e-9)
    with pytest.raises(ValueError, match="tuple"):
        fit_batches([(X0, w0, w0)] * 2, template)


@pytest.mark.parametrize("holdout_kind", ["array", "tuple", "csr"])
def test_fit_batches_holdout_data(stream_data, holdout_kind):
    batches = _batches(stream_data[:8000], 1000)
    X_hold = stream_data[8000:]
    w_hold = np.random.RandomState(0).uniform(0.5, 2, X_hold.shape[0])
    holdout = {"array": X_hold, "tuple": (X_hold, w_hold),
               "csr": sp.csr_matrix(X_hold)}[holdout_kind]
    template = MiniBatchKMeans(6)
    result = fit_batches(batches, template, n_init=3, holdout=holdout, random_state=4)
    # every batch is trained on
    again = _trained_copy(result, batches, template)
    assert bitwise_equal(result.estimator.cluster_centers_, again.cluster_centers_)
    assert result.estimator.n_steps_ == len(batches)
    w = w_hold if holdout_kind == "tuple" else None
    assert result.holdout_inertia == pytest.approx(
        -result.estimator.score(X_hold, sample_weight=w), rel=1e-12)
    assert result.holdout_inertia == min(result.holdout_inertias)


def test_fit_batches_sparse_batches(stream_data):
    batches = [sp.csr_matrix(b) for b in _batches(stream_data, 1000)]
    dense_result = fit_batches(_batches(stream_data, 1000), MiniBatchKMeans(6), n_init=2,
                               random_state=5)
    result = fit_batches(batches, MiniBatchKMeans(6), n_init=2, random_state=5)
    assert_allclose(result.estimator.cluster_centers_, dense_result.estimator.cluster_centers_,
                    rtol=1e-10, atol=1e-10)
    assert_allclose(result.holdout_inertias, dense_result.holdout_inertias, rtol=1e-10)


def test_fit_batches_reproducible(stream_data):
    batches = _batches(stream_data, 1000)
    a = fit_batches(batches, MiniBatchKMeans(6), n_init=3, random_state=6)
    b = fit_batches(list(batches), MiniBatchKMeans(6), n_init=3, random_state=6)
    assert bitwise_equal(a.estimator.cluster_centers_, b.estimator.cluster_centers_)
    assert a.holdout_inertias == b.holdout_inertias
    # random_state=None takes the estimator's own seed
    c = fit_batches(batches, MiniBatchKMeans(6, random_state=6), n_init=3)
    assert bitwise_equal(a.estimator.cluster_centers_, c.estimator.cluster_centers_)
    assert a.holdout_inertias == c.holdout_inertias
    d = fit_batches(batches, MiniBatchKMeans(6), n_init=3, random_state=7)
    assert d.holdout_inertias != a.holdout_inertias


def test_fit_batches_quality_close_to_fit(stream_data):
    batches = _batches(stream_data, 500)
    result = fit_batches(batches, MiniBatchKMeans(6, n_init=1), n_init=3, random_state=0)
    full = MiniBatchKMeans(6, random_state=0).fit(stream_data)
    streamed = -result.estimator.score(stream_data)
    assert streamed < 1.05 * full.inertia_
    # and the clustering is a good one: close to (converged) KMeans
    best = SKKMeans(6, n_init=3, random_state=0).fit(stream_data).inertia_
    assert streamed < 1.05 * best


def test_fit_batches_default_estimator(stream_data):
    result = fit_batches(_batches(stream_data, 1000), n_init=1, random_state=0)
    assert isinstance(result.estimator, MiniBatchKMeans)
    assert result.estimator.n_clusters == 8
    assert len(result.holdout_inertias) == 1


def test_fit_batches_only_holdout_raises(stream_data):
    with pytest.raises(ValueError, match="no batch to train on"):
        fit_batches([stream_data[:100]], MiniBatchKMeans(3))
    with pytest.raises(ValueError, match="no batch to train on"):
        fit_batches(_batches(stream_data, 1000)[:2], MiniBatchKMeans(3), holdout=2)
    with pytest.raises(ValueError, match="held-out"):
        fit_batches([], MiniBatchKMeans(3), holdout=0)


def test_fit_batches_no_holdout_raises(stream_data):
    with pytest.raises(ValueError, match="held-out"):
        fit_batches(_batches(stream_data, 1000), MiniBatchKMeans(3), holdout=0)


def test_fit_batches_no_holdout_raises_before_reading(stream_data):
    consumed = []

    def gen():
        for batch in _batches(stream_data, 1000):
            consumed.append(1)
            yield batch

    with pytest.raises(ValueError, match="held-out"):
        fit_batches(gen(), MiniBatchKMeans(3), holdout=0)
    assert consumed == []


@pytest.mark.parametrize("estimator", [SKMiniBatchKMeans(3), kmix.KMeans(3), "kmeans"],
                         ids=["sklearn", "kmix-KMeans", "str"])
def test_fit_batches_bad_estimator(stream_data, estimator):
    with pytest.raises(TypeError, match="estimator"):
        fit_batches(_batches(stream_data, 1000), estimator)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_init=0), ValueError, "n_init"),
    (dict(n_init=1.5), TypeError, "n_init"),
    (dict(n_epochs=0), ValueError, "n_epochs"),
    (dict(holdout=-1), ValueError, "holdout"),
    (dict(holdout=True), TypeError, "holdout"),
    (dict(holdout=None), TypeError, "holdout"),
])
def test_fit_batches_bad_parameters(stream_data, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_batches(_batches(stream_data, 1000), MiniBatchKMeans(3), **kwargs)


# --------------------------------------------------------------------------------------------
# 9. bad input, and inputs are never modified
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_non_finite_X(blobs, value, sparse, method):
    X = blobs[:100].copy()
    X[5, 2] = value
    X = sp.csr_matrix(X) if sparse else X
    with pytest.raises(ValueError, match="Input X contains"):
        getattr(MiniBatchKMeans(3), method)(X)
    fitted = MiniBatchKMeans(3, random_state=0).fit(blobs[:100])
    with pytest.raises(ValueError, match="Input X contains"):
        fitted.predict(X)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_fewer_samples_than_clusters(blobs, method):
    with pytest.raises(ValueError, match=r"n_samples=5 should be >= n_clusters=8"):
        getattr(MiniBatchKMeans(8), method)(blobs[:5])


BAD_PARAMS = [
    pytest.param(dict(batch_size=0), "batch_size", id="batch_size=0"),
    pytest.param(dict(batch_size=1.5), "batch_size", id="batch_size=1.5"),
    pytest.param(dict(max_no_improvement=-1), "max_no_improvement", id="max_no_improvement=-1"),
    pytest.param(dict(init_size=0), "init_size", id="init_size=0"),
    pytest.param(dict(reassignment_ratio=-1), "reassignment_ratio", id="reassignment_ratio=-1"),
    pytest.param(dict(reassignment_ratio="big"), "reassignment_ratio",
                 id="reassignment_ratio=str"),
    pytest.param(dict(n_clusters=0), "n_clusters", id="n_clusters=0"),
    pytest.param(dict(n_init=0), "n_init", id="n_init=0"),
    pytest.param(dict(n_init="three"), "n_init", id="n_init=str"),
    pytest.param(dict(compute_labels="yes"), "compute_labels", id="compute_labels=yes"),
    pytest.param(dict(tol=-1), "tol", id="tol=-1"),
    pytest.param(dict(max_iter=0), "max_iter", id="max_iter=0"),
    pytest.param(dict(n_threads=0), "n_threads", id="n_threads=0"),
    pytest.param(dict(init="foo"), "init", id="init=foo"),
    pytest.param(dict(init=np.zeros((3, 5))), "initial centers", id="init-3-centres-for-4"),
    pytest.param(dict(init=np.zeros((4, 2))), "initial centers", id="init-2-features-for-5"),
    pytest.param(dict(verbose=-1), "verbose", id="verbose=-1"),
]


@pytest.mark.parametrize("params, name", BAD_PARAMS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_parameters(blobs, params, name, method):
    km = MiniBatchKMeans(**dict(dict(n_clusters=4), **params))
    with pytest.raises((ValueError, TypeError), match=name):
        getattr(km, method)(blobs[:200])
    assert not hasattr(km, "cluster_centers_")


@pytest.mark.parametrize("bad, match", [
    (np.ones(99), "sample_weight"),
    (-np.ones(100), "Negative"),
    (np.r_[np.ones(99), np.nan], "NaN"),
    (np.r_[np.ones(99), np.inf], "infinity"),
    (np.ones((100, 1)), "1D"),
    (np.zeros(100), "zero sum"),
], ids=["length", "negative", "nan", "inf", "2d", "zero-sum"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_sample_weight(blobs, bad, match, method):
    with pytest.raises(ValueError, match=match):
        getattr(MiniBatchKMeans(3), method)(blobs[:100], sample_weight=bad)
    fitted = MiniBatchKMeans(3, random_state=0).fit(blobs[:100])
    with pytest.raises(ValueError, match=match):
        fitted.score(blobs[:100], sample_weight=bad)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("wide", [False, True], ids=["d5", "d30"])  # d30 float64: bounded
def test_inputs_not_modified(blobs, blobs30, weights, sparse, dtype, wide):
    X = (blobs30 if wide else blobs).astype(dtype)
    X = sp.csr_matrix(X) if sparse else X
    w = weights.copy()
    init = dense(X[:4]).copy()
    saved = (X.copy(), w.copy(), init.copy())
    km = MiniBatchKMeans(4, init=init, batch_size=256, max_iter=5, max_no_improvement=None,
                         reassignment_ratio=0.5, random_state=0)
    km.fit(X, sample_weight=w)
    km.fit_predict(X, sample_weight=w)
    km.fit_transform(X, sample_weight=w)
    km.partial_fit(X[:500], sample_weight=w[:500])
    km.predict(X)
    km.transform(X)
    km.score(X, sample_weight=w)
    fresh = MiniBatchKMeans(4, init=init, random_state=0)
    fresh.partial_fit(X[:500], sample_weight=w[:500])
    fresh.partial_fit(X[500:1000], sample_weight=w[500:1000])
    if sparse:
        for attr in ("data", "indices", "indptr"):
            assert_array_equal(getattr(X, attr), getattr(saved[0], attr))
            assert getattr(X, attr).dtype == getattr(saved[0], attr).dtype
    else:
        assert_array_equal(X, saved[0])
    assert_array_equal(w, saved[1])
    assert_array_equal(init, saved[2])
    assert km.init is init
    for model in (km, fresh):
        assert not np.shares_memory(model.cluster_centers_, init)
        if not sparse:
            assert not np.shares_memory(model.cluster_centers_, X)


# --------------------------------------------------------------------------------------------
# 10. scikit-learn API compliance
# --------------------------------------------------------------------------------------------
def _expected_failed_checks(estimator):
    # scikit-learn declares exactly these as expected failures of its own MiniBatchKMeans
    # (PER_ESTIMATOR_XFAIL_CHECKS): weighted draws of batches and seeds are not repetitions.
    reason = "sample_weight is not equivalent to removing/repeating samples."
    return {
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    }


@parametrize_with_checks(
    [MiniBatchKMeans(n_clusters=2, n_init=2, max_iter=5, batch_size=10),  # sklearn's settings
     MiniBatchKMeans(n_clusters=3)],
    expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_and_grid_search_match_sklearn():
    X, y = make_blobs(300, 4, centers=3, cluster_std=2.5, random_state=0)

    def search(kmeans):
        pipe = Pipeline([("scale", StandardScaler()), ("kmeans", kmeans),
                         ("clf", LogisticRegression())])
        grid = GridSearchCV(pipe, {"kmeans__n_clusters": [2, 3, 6],
                                   "kmeans__batch_size": [20, 100]}, cv=3)
        return grid.fit(X, y)

    ours = search(MiniBatchKMeans(random_state=0))
    ref = reference(search, SKMiniBatchKMeans(random_state=0))
    step = ours.best_estimator_.named_steps["kmeans"]
    assert isinstance(step, MiniBatchKMeans)
    assert step.n_clusters == ours.best_params_["kmeans__n_clusters"]
    assert ours.best_score_ > 0.8
    # same seeds, same batches, same centres: the same cross-validation scores
    assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"])
    assert ours.best_params_ == ref.best_params_
    assert ours.score(X, y) == pytest.approx(ref.score(X, y))


def test_params_match_sklearn_defaults_and_round_trip(blobs):
    ours = MiniBatchKMeans().get_params()
    ref = SKMiniBatchKMeans().get_params()
    assert set(ours) - set(ref) == {"n_threads"}
    assert {key: ours[key] for key in ref} == ref
    km = MiniBatchKMeans(4, init="random", n_init=2, batch_size=64, max_iter=7, tol=1e-3,
                         max_no_improvement=None, init_size=100, reassignment_ratio=0.1,
                         compute_labels=False, random_state=5, n_threads=1)
    cloned = clone(km)
    assert cloned is not km and cloned.get_params() == km.get_params()
    assert km.set_params(n_clusters=6, batch_size=32) is km
    assert km.n_clusters == 6 and km.batch_size == 32 and cloned.n_clusters == 4
    km.fit(blobs)
    assert not hasattr(clone(km), "cluster_centers_")
    a = MiniBatchKMeans().set_params(n_clusters=3, batch_size=100, random_state=0).fit(blobs)
    b = MiniBatchKMeans(3, batch_size=100, random_state=0).fit(blobs)
    assert bitwise_equal(a.cluster_centers_, b.cluster_centers_)
    # a clone of a partially fitted model starts over
    pf = MiniBatchKMeans(3, random_state=0).partial_fit(blobs[:300])
    fresh = clone(pf).partial_fit(blobs[:300])
    assert bitwise_equal(fresh.cluster_centers_, pf.cluster_centers_)
    assert fresh.n_steps_ == 1


def test_exports():
    assert kmix.MiniBatchKMeans is MiniBatchKMeans
    assert kmix.fit_batches is fit_batches
    assert kmix.BatchFit is BatchFit
    assert {"MiniBatchKMeans", "fit_batches", "BatchFit"} <= set(kmix.__all__)
