"""kmix.dask on a real distributed.LocalCluster (2 worker processes, 1 thread each).

References used here:
- in-memory kmix on the concatenated data from the same initial centres / parameters / seeds:
  KMeans labels and n_iter_ equal, centres and inertia to 1e-12 relative; GaussianMixture
  lower bounds per iteration to 1e-12 relative (all four covariance types); MiniBatchKMeans
  partial_fit on the blocks equal to in-memory partial_fit on the same batches (bitwise);
- the same fit on other chunkings, and on Dask's single-threaded scheduler (no workers):
  the same labels and iterations, and bitwise the same centres for the same chunking;
- counts of the tasks that ran (the task stream): each block read once per pass when the
  data do not fit in the workers' memory;
- a worker process killed in the middle of a fit: the fit ends with the undisturbed result.
"""
import contextlib
import io
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
from _reference import exact_assign  # noqa: E402
from dask.utils import key_split  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

import kmix  # noqa: E402
from kmix.dask import GaussianMixture, KMeans, MiniBatchKMeans  # noqa: E402
from kmix.dask._data import prepare_fit_data  # noqa: E402
from kmix.dask._seeding import kmeans_parallel, random_rows  # noqa: E402

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
#: A fixed number of EM iterations leaves the fits unconverged on purpose.
unconverged = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two single-threaded worker processes and its Client (closed after the
    module's tests)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def blobs():
    """Overlapping blobs (Lloyd needs a dozen iterations), 6000 x 5, and 8 initial rows."""
    X, _ = make_blobs(6000, n_features=5, centers=8, cluster_std=2.5, random_state=0)
    rng = np.random.RandomState(0)
    return X, np.ascontiguousarray(X[rng.choice(X.shape[0], 8, replace=False)])


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _dask(X, chunks):
    return da.from_array(X, chunks=(chunks, X.shape[1]))


# ------------------------------------------------------------------------------------------
# KMeans
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_kmeans_equals_in_memory(client, blobs, dtype, weighted, algorithm):
    # in-memory Lloyd: the labels of every pass are the exact rule's whatever the algorithm
    # (Hamerly's blocks keep their bounds on the workers and running sums on the client)
    X, init = blobs
    X, init = X.astype(dtype), init.astype(dtype)
    w = np.random.RandomState(1).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    ref = kmix.KMeans(8, init=init, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
    chunks = (1000, 2500, 17, 1483, 1000)  # uneven row chunks
    Xd = da.from_array(X, chunks=(chunks, 5))
    wd = None if w is None else da.from_array(w, chunks=(chunks,))
    km = KMeans(8, init=init, n_init=1, algorithm=algorithm).fit(Xd, sample_weight=wd)
    assert ref.n_iter_ > 5
    assert km.n_iter_ == ref.n_iter_
    assert isinstance(km.labels_, da.Array)
    assert_array_equal(km.labels_.compute(), ref.labels_)
    assert km.cluster_centers_.dtype == dtype
    assert _rel(km.cluster_centers_, ref.cluster_centers_) < 1e-12 * (1e5 if dtype == np.float32
                                                                     else 1)
    assert abs(km.inertia_ - ref.inertia_) <= 1e-12 * ref.inertia_ * (
        1e5 if dtype == np.float32 else 1)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_kmeans_independent_of_chunking_and_workers(client, blobs, algorithm):
    X, init = blobs
    fits = [KMeans(8, init=init, n_init=1, algorithm=algorithm).fit(_dask(X, c))
            for c in (6000, 700, 1999)]
    with dask.config.set(scheduler="sync"):  # no workers: one thread in this process
        sync = KMeans(8, init=init, n_init=1, algorithm=algorithm).fit(_dask(X, 700))
    for km in fits[1:] + [sync]:
        assert km.n_iter_ == fits[0].n_iter_
        assert_array_equal(np.asarray(km.labels_), np.asarray(fits[0].labels_))
        assert _rel(km.cluster_centers_, fits[0].cluster_centers_) < 1e-12
    # same blocks, same order of the sums: bitwise the same whoever computes them
    assert_array_equal(sync.cluster_centers_, fits[1].cluster_centers_)
    assert sync.inertia_ == fits[1].inertia_


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_kmeans_relocates_empty_clusters_as_in_memory(client, blobs, algorithm):
    X, init = blobs
    init = init.copy()
    init[3] = 1e3  # nothing is closest to it: empty after the first pass
    init[5] = -1e3
    ref = kmix.KMeans(8, init=init, n_init=1, algorithm=algorithm).fit(X)
    km = KMeans(8, init=init, n_init=1, algorithm=algorithm).fit(_dask(X, 900))
    assert km.n_iter_ == ref.n_iter_
    assert_array_equal(km.labels_.compute(), ref.labels_)
    assert _rel(km.cluster_centers_, ref.cluster_centers_) < 1e-12
    assert np.abs(km.cluster_centers_).max() < 100  # the far centres were moved onto data


def test_kmeans_parallel_init_quality_and_determinism(client):
    X, _ = make_blobs(20000, n_features=8, centers=20, cluster_std=1.5, random_state=3)
    Xd = _dask(X, 4000)
    km = KMeans(20, random_state=7).fit(Xd)
    again = KMeans(20, random_state=7).fit(Xd)
    other_chunks = KMeans(20, random_state=7).fit(_dask(X, 2500))
    plusplus = [kmix.KMeans(20, random_state=s).fit(X).inertia_ for s in range(3)]
    assert km.inertia_ <= 1.03 * np.median(plusplus)
    assert_array_equal(again.cluster_centers_, km.cluster_centers_)
    assert _rel(other_chunks.cluster_centers_, km.cluster_centers_) < 1e-12
    assert km.n_iter_ == other_chunks.n_iter_


def _weighted_data(chunks):
    """Blobs whose first half has zero weight, as prepared data of the given chunking."""
    X, _ = make_blobs(4000, n_features=3, centers=5, random_state=2)
    w = np.r_[np.zeros(2000), np.random.RandomState(0).uniform(0.5, 2, 2000)]
    est = KMeans(5)
    return X, w, prepare_fit_data(est, _dask(X, chunks), w, check_n_samples=lambda n: None)


def test_kmeans_parallel_candidates(client):
    X, w, data = _weighted_data(700)
    cand, index, weights = kmeans_parallel(data, 5, np.random.RandomState(0),
                                           oversampling_factor=2, n_rounds=4, n_threads=1)
    assert_array_equal(cand, X[index])  # candidates are rows, numbered as in X
    assert np.unique(index).size == index.size and np.all(index >= 2000)  # never w = 0
    assert 10 <= index.size <= 100  # ~ 1 + oversampling_factor * k per round
    assert abs(weights.sum() - w.sum()) <= 1e-12 * w.sum()  # every row's weight counted once
    # each row's weight went to its closest candidate
    closest = np.argmin(((X[:, None, :] - cand[None]) ** 2).sum(axis=2), axis=1)
    assert_allclose(weights, np.bincount(closest, weights=w, minlength=index.size),
                    rtol=1e-12)
    # the draws of a row do not depend on the chunking
    other = kmeans_parallel(_weighted_data(1234)[2], 5, np.random.RandomState(0),
                            oversampling_factor=2, n_rounds=4, n_threads=1)
    assert_array_equal(other[1], index)


def test_random_init_draws_weighted_distinct_rows(client):
    X, w, data = _weighted_data(900)
    rows, index = random_rows(data, 50, np.random.RandomState(1))
    assert_array_equal(rows, X[index])
    assert np.unique(index).size == 50 and np.all(w[index] > 0)
    assert_array_equal(random_rows(_weighted_data(333)[2], 50, np.random.RandomState(1))[1],
                       index)
    with pytest.raises(ValueError, match="non-zero weight"):
        random_rows(data, 2001, np.random.RandomState(1))


def test_kmeans_n_init_keeps_the_best_run(client, blobs):
    X = blobs[0]
    Xd = _dask(X, 1500)
    best = KMeans(8, init="random", n_init=3, random_state=0).fit(Xd)
    # the three runs alone: each draws its init from the same RandomState in turn
    random_state = np.random.RandomState(0)
    runs = [KMeans(8, init="random", n_init=1, random_state=random_state).fit(Xd)
            for _ in range(3)]
    inertias = [r.inertia_ for r in runs]
    assert len(set(inertias)) > 1  # the seeds matter on these data
    chosen = runs[int(np.argmin(inertias))]
    assert best.inertia_ == chosen.inertia_
    assert_array_equal(best.cluster_centers_, chosen.cluster_centers_)


def test_kmeans_lazy_outputs_equal_in_memory(client, blobs):
    X, init = blobs
    ref = kmix.KMeans(8, init=init, n_init=1).fit(X)
    km = KMeans(8, init=init, n_init=1).fit(_dask(X, 1500))
    new = X[::3] + 0.25
    nd = _dask(new, 333)
    labels, dist = km.predict(nd), km.transform(nd)
    assert isinstance(labels, da.Array) and isinstance(dist, da.Array)
    assert key_split(labels.name) == "kmix-predict" and key_split(dist.name) == "kmix-transform"
    assert_array_equal(labels.compute(), ref.predict(new))
    assert_allclose(dist.compute(), ref.transform(new), rtol=1e-12)
    assert abs(km.score(nd) - ref.score(new)) <= 1e-12 * abs(ref.score(new))
    assert_array_equal(km.fit_predict(_dask(X, 1500)).compute(), ref.labels_)


def test_kmeans_dataframe_input(client, blobs):
    dd = pytest.importorskip("dask.dataframe")  # dask[dataframe], in the test extra
    X, init = blobs
    pdf = __import__("pandas").DataFrame(X, columns=[f"f{i}" for i in range(5)])
    ddf = dd.from_pandas(pdf, npartitions=4)
    km = KMeans(8, init=init, n_init=1).fit(ddf)
    ref = kmix.KMeans(8, init=init, n_init=1).fit(X)
    assert list(km.feature_names_in_) == list(pdf.columns)
    assert_array_equal(km.labels_.compute(), ref.labels_)
    assert_array_equal(km.predict(ddf).compute(), ref.labels_)
    with pytest.raises(ValueError, match="feature names"):
        km.predict(ddf.rename(columns={"f0": "g0"}))


def _iteration_inertias(fit):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        est = fit()
    lines = [line for line in out.getvalue().splitlines() if line.startswith("Iteration ")]
    return est, [float(line.split("inertia ")[1].rstrip(".")) for line in lines]


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_kmeans_verbose_prints_one_line_per_iteration(client, blobs, algorithm):
    X, init = blobs
    km, printed = _iteration_inertias(
        lambda: KMeans(8, init=init, n_init=1, verbose=1, algorithm=algorithm).fit(
            _dask(X, 2000)))
    _, in_memory = _iteration_inertias(
        lambda: kmix.KMeans(8, init=init, n_init=1, verbose=1, algorithm="lloyd").fit(X))
    assert len(printed) == km.n_iter_ > 5
    assert_allclose(printed, in_memory, rtol=1e-12)


def test_hamerly_step_can_run_again_from_the_same_state(blobs):
    """Dask may run a task again from the same inputs (a lost result): the block's Hamerly
    step never modifies the previous state, and running it twice gives the same result."""
    from kmix._kmeans_algorithms import _half_center_distances
    from kmix.dask._kmeans_blocks import hamerly_step

    X, init = blobs
    block = X[:2500]
    first = hamerly_step(block, None, None, init, np.zeros(8), _half_center_distances(init)[1],
                         1)
    moved = init + 0.3
    shift = np.sqrt(((moved - init) ** 2).sum(axis=1)) * (1 + 1e-12)
    before = [a.copy() for a in first[0]]
    again = [hamerly_step(block, None, first, moved, shift, _half_center_distances(moved)[1], 1)
             for _ in range(2)]
    for a, b in zip(first[0], before):
        assert_array_equal(a, b)  # the previous state is untouched
    for a, b in zip(again[0][0], again[1][0]):
        assert_array_equal(a, b)
    for a, b in zip(again[0][1], again[1][1]):
        assert_array_equal(a, b)
    # the new labels are the exact closest centres of the moved ones
    assert_array_equal(again[0][0][0], exact_assign(block, moved))


def test_fit_shows_named_tasks(client, blobs):
    X, init = blobs
    with distributed.get_task_stream(client) as stream:
        KMeans(8, init=init, n_init=1).fit(_dask(X, 2000))
    groups = {key_split(t["key"]) for t in stream.data}
    assert {"kmix-summary", "kmix-assign", "kmix-labels"} <= groups


def test_kmeans_rejects_nan(client, blobs):
    X, init = blobs
    X = X.copy()
    X[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        KMeans(8, init=init, n_init=1).fit(_dask(X, 1000))


def test_bad_input_clear_errors(client, blobs):
    X, init = blobs
    Xd = _dask(X, 1000)
    with pytest.raises(ValueError, match="2-D"):
        KMeans(2).fit(Xd[:, 0])
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_clusters=8"):
        KMeans(8).fit(Xd[:5])
    with pytest.raises(ValueError, match="init must be one of 'k-means\\|\\|', 'random'"):
        KMeans(8, init="k-means++").fit(Xd)
    with pytest.raises(ValueError, match="persist"):
        KMeans(8, persist="sometimes").fit(Xd)
    with pytest.raises(ValueError, match="expected \\(6000,\\)"):
        KMeans(8).fit(Xd, sample_weight=np.ones(10))
    with pytest.raises(ValueError, match="Negative"):
        KMeans(8).fit(Xd, sample_weight=-np.ones(6000))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        KMeans(8).fit(Xd[Xd[:, 0] > 0])
    with pytest.raises(ValueError, match="real numbers"):
        KMeans(8).fit(da.from_array(np.array([["a", "b"]] * 20)))
    with pytest.raises(ValueError, match="overflow"):
        KMeans(8, init=init, n_init=1).fit(Xd * 1e160)
    km = KMeans(8, init=init, n_init=1).fit(Xd)
    with pytest.raises(ValueError, match="X has 4 features"):
        km.predict(Xd[:, :4])
    bad = X[:100].copy()
    bad[7, 1] = np.inf
    lazy = km.predict(_dask(bad, 50))  # lazy: the error comes with the computation
    with pytest.raises(ValueError, match="NaN or infinity"):
        lazy.compute()
    with pytest.raises(TypeError, match="dask array"):
        km.predict("not data")


# ------------------------------------------------------------------------------------------
# GaussianMixture
# ------------------------------------------------------------------------------------------
def _start(X, cov):
    """Initial parameters: two EM iterations of in-memory kmix on a subset."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = kmix.GaussianMixture(5, covariance_type=cov, max_iter=2, random_state=0).fit(X[:800])
    return dict(weights_init=g.weights_, means_init=g.means_, precisions_init=g.precisions_)


@unconverged
@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_gmm_lower_bounds_equal_in_memory(client, blobs, cov):
    X = blobs[0]
    params = dict(_start(X, cov), covariance_type=cov, tol=1e-10, max_iter=12)
    w = np.random.RandomState(2).uniform(0.5, 2.0, X.shape[0]) if cov == "full" else None
    ref = kmix.GaussianMixture(5, **params).fit(X, sample_weight=w)
    g = GaussianMixture(5, **params).fit(_dask(X, 1100), sample_weight=w)
    assert ref.n_iter_ > 5
    assert g.n_iter_ == ref.n_iter_ and g.converged_ == ref.converged_
    assert len(g.lower_bounds_) == len(ref.lower_bounds_)
    assert _rel(g.lower_bounds_, ref.lower_bounds_) < 1e-12
    assert _rel(g.means_, ref.means_) < 1e-10
    assert _rel(g.covariances_, ref.covariances_) < 1e-10


@unconverged
@pytest.mark.parametrize("init_params", ["random", "random_from_data"])
def test_gmm_random_inits_draw_as_in_memory(client, blobs, init_params):
    X = blobs[0]
    params = dict(covariance_type="diag", init_params=init_params, random_state=4, max_iter=1)
    ref = kmix.GaussianMixture(5, **params).fit(X)
    g = GaussianMixture(5, **params).fit(_dask(X, 1300))
    # one iteration from the initial responsibilities: the same parameters
    assert _rel(g.weights_, ref.weights_) < 1e-9
    assert _rel(g.means_, ref.means_) < 1e-9


def test_gmm_kmeans_init_uses_distributed_kmeans(client, blobs):
    X = blobs[0]
    Xd = _dask(X, 1000)
    g = GaussianMixture(5, covariance_type="spherical", max_iter=0, random_state=3).fit(Xd)
    labels = KMeans(5, n_init=1, random_state=3).fit(Xd).labels_.compute()
    assert_allclose(g.weights_, np.bincount(labels, minlength=5) / X.shape[0], rtol=1e-12)
    for j in range(5):
        assert_allclose(g.means_[j], X[labels == j].mean(axis=0), rtol=1e-10, atol=1e-12)


def test_gmm_lazy_outputs_equal_in_memory(client, blobs):
    X = blobs[0]
    params = dict(_start(X, "full"), max_iter=5, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = kmix.GaussianMixture(5, **params).fit(X)
        g = GaussianMixture(5, **params).fit(_dask(X, 1000))
    new = _dask(X[:2000] * 1.1, 300)
    outputs = [g.predict(new), g.predict_proba(new), g.score_samples(new)]
    assert all(isinstance(o, da.Array) for o in outputs)
    assert [key_split(o.name) for o in outputs] == ["kmix-predict", "kmix-predict-proba",
                                                    "kmix-score-samples"]
    assert_array_equal(outputs[0].compute(), ref.predict(X[:2000] * 1.1))
    assert_allclose(outputs[1].compute(), ref.predict_proba(X[:2000] * 1.1), rtol=1e-9,
                    atol=1e-14)
    assert_allclose(outputs[2].compute(), ref.score_samples(X[:2000] * 1.1), rtol=1e-12)
    assert abs(g.bic(new) - ref.bic(X[:2000] * 1.1)) <= 1e-10 * abs(ref.bic(X[:2000] * 1.1))


def test_gmm_bad_input(client, blobs):
    X = blobs[0]
    with pytest.raises(ValueError, match="n_components = 9, n_samples = 4"):
        GaussianMixture(9).fit(_dask(X[:4], 2))
    with pytest.raises(ValueError, match="non-zero weight"):
        GaussianMixture(3).fit(_dask(X, 1000), sample_weight=np.r_[1.0, np.zeros(5999)])


# ------------------------------------------------------------------------------------------
# MiniBatchKMeans
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
def test_minibatch_partial_fit_equals_in_memory(client, blobs, weighted):
    X = blobs[0]
    w = np.random.RandomState(5).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    chunks = (1500, 700, 2000, 1800)
    ref = kmix.MiniBatchKMeans(8, random_state=0, reassignment_ratio=0.2)
    starts = np.cumsum((0,) + chunks)
    for _epoch in range(2):
        for s, e in zip(starts[:-1], starts[1:]):
            ref.partial_fit(X[s:e], sample_weight=None if w is None else w[s:e])
    mb = MiniBatchKMeans(8, random_state=0, reassignment_ratio=0.2)
    Xd = da.from_array(X, chunks=(chunks, 5))
    for _epoch in range(2):
        mb.partial_fit(Xd, sample_weight=w)
    assert_array_equal(mb.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(mb.counts_, ref.counts_)
    assert_array_equal(mb.labels_, ref.labels_)
    assert mb.inertia_ == ref.inertia_ and mb.n_steps_ == ref.n_steps_ == 8


def test_minibatch_fit_quality_and_determinism(client):
    X, _ = make_blobs(20000, n_features=4, centers=6, random_state=1)
    mb = MiniBatchKMeans(6, batch_size=256, random_state=0).fit(_dask(X, 2500))
    with dask.config.set(scheduler="sync"):
        sync = MiniBatchKMeans(6, batch_size=256, random_state=0).fit(_dask(X, 2500))
    assert_array_equal(mb.cluster_centers_, sync.cluster_centers_)
    assert mb.n_steps_ == sync.n_steps_
    full = kmix.KMeans(6, random_state=0).fit(X).inertia_
    assert mb.inertia_ <= 1.05 * full
    assert_array_equal(mb.labels_.compute(), mb.predict(_dask(X, 3000)).compute())
    assert abs(mb.score(_dask(X, 3000)) + mb.inertia_) <= 1e-9 * mb.inertia_


# ------------------------------------------------------------------------------------------
# out of core and faults
# ------------------------------------------------------------------------------------------
def test_fit_out_of_core_reads_each_block_once_per_iteration(tmp_path):
    """Data larger than a worker's memory limit, from .npy files: not persisted, each block
    read once per pass, the client never gathers the data; the result is in-memory kmix's."""
    n_blocks, rows, d = 24, 25_000, 100  # 24 files of 20 MB: 480 MB > memory_limit
    rng = np.random.RandomState(0)
    block = rng.normal(0, 3, (4, d))[rng.randint(4, size=rows)] + rng.normal(size=(rows, d))
    X = np.concatenate([block + 0.01 * i for i in range(n_blocks)])
    with dask.config.set(scheduler="sync"):  # written here, not through the module's cluster
        da.to_npy_stack(tmp_path, da.from_array(X, chunks=(rows, d)), axis=0)
    init = X[[0, 1, 2, 3]].copy()
    ref = kmix.KMeans(4, init=init, n_init=1, max_iter=3, tol=0).fit(X)
    del X
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit="450MB", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pids = set(client.run(os.getpid).values())
        Xd = da.from_npy_stack(tmp_path)
        with distributed.get_task_stream(client) as stream:
            km = KMeans(4, init=init, n_init=1, max_iter=3, tol=0).fit(Xd)
        reads = [t["key"] for t in stream.data if key_split(t["key"]) == "from-npy-stack"]
        assert set(client.run(os.getpid).values()) == pids  # no worker was lost
        labels = km.labels_.compute()
    # one summary pass, one per iteration, one for the final labels
    per_block = np.bincount([k[1] for k in reads], minlength=n_blocks)
    assert_array_equal(per_block, np.full(n_blocks, 1 + km.n_iter_ + 1))
    assert km.n_iter_ == ref.n_iter_
    assert_array_equal(labels, ref.labels_)
    assert _rel(km.cluster_centers_, ref.cluster_centers_) < 1e-12


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_fit_survives_a_killed_worker(client, algorithm):
    """Kill one worker process in the middle of a fit: Dask recomputes its blocks and tasks
    (Hamerly: the lost blocks' chains of states, from the first pass), and the fit ends with
    the result of an undisturbed fit."""
    X = np.random.RandomState(0).uniform(size=(40000, 8))  # no structure: many iterations
    init = X[:16].copy()
    undisturbed = KMeans(16, init=init, n_init=1, tol=0, max_iter=40,
                         algorithm=algorithm).fit(_dask(X, 5000))
    victim = sorted(client.run(os.getpid).items())[0][1]
    killed = []

    class KillAtThirdIteration(io.StringIO):
        def write(self, text):
            if text.startswith("Iteration 2,") and not killed:
                timer = threading.Timer(0.01, lambda: (os.kill(victim, signal.SIGKILL),
                                                       killed.append(time.perf_counter())))
                timer.start()
            return super().write(text)

    out = KillAtThirdIteration()
    with contextlib.redirect_stdout(out):
        km = KMeans(16, init=init, n_init=1, tol=0, max_iter=40, verbose=1,
                    algorithm=algorithm).fit(_dask(X, 5000))
    finished = time.perf_counter()
    assert killed and killed[0] < finished and km.n_iter_ > 5  # killed during the fit
    assert victim not in client.run(os.getpid).values()
    assert km.n_iter_ == undisturbed.n_iter_
    assert_array_equal(km.cluster_centers_, undisturbed.cluster_centers_)
    assert_array_equal(km.labels_.compute(), undisturbed.labels_.compute())
