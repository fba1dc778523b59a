"""kmix.dask against dask-ml and in-memory kmix, one process, one LocalCluster: the issue's table.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only; dask-ml only for
this script: ``pip install dask-ml``):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_dask_table.py
    ... --scale 0.01          # a quick check at 1% of the sizes
    ... --npy [--npy-dir DIR] # also the 6 GB .npy data set, memory_limit="1GB" per worker

Rows (sizes times --scale; blobs drawn block by block on the workers, the same blocks drawn in
this process for the in-memory rows):

- KMeans 2M x 50, k=100 (dask array of ~100 MB chunks, 8 blocks), end to end with each
  library's defaults (k-means|| for both, random_state=0): fit time and inertia, kmix.dask /
  dask-ml.
- The same from the same initial centres: time per iteration, as the difference of two fits of
  5 and 15 iterations (tol=0) divided by the difference of their iterations, which cancels
  what a fit does once; kmix.dask / dask-ml, and kmix.dask / in-memory kmix on the same 2
  cores, with the same algorithm (the default 'auto', Hamerly here, and 'lloyd').
- GaussianMixture diag, k=20, 2M x 20, same initial parameters: time per iteration, kmix.dask /
  in-memory kmix.
- With --npy: 6 GB of .npy files (7.5M x 100 float64, ~100 MB per file) read with
  da.from_npy_stack on a LocalCluster with memory_limit="1GB" per worker: KMeans k=100
  (k-means||, max_iter=10); time per iteration and peak worker memory.

Timings alternate between the compared fits (median of --repeat).
"""
import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import alternate, timed  # noqa: E402

#: Full sizes of the rows (scaled by --scale).
KMEANS_ROWS, KMEANS_FEATURES, KMEANS_K = 2_000_000, 50, 100
GMM_ROWS, GMM_FEATURES, GMM_K = 2_000_000, 20, 20
NPY_BYTES, NPY_FEATURES, NPY_K, NPY_FILE_BYTES = 6e9, 100, 100, 100e6
N_BLOCKS = 8
#: Iterations of the two same-init fits whose difference gives the time per iteration.
SHORT, LONG = 5, 15


def blob_block(index, rows, n_features, n_centers, seed):
    """Rows of block ``index`` of a blob data set (centres in [-10, 10]^d, unit noise)."""
    centers = np.random.default_rng(seed).uniform(-10, 10, (n_centers, n_features))
    rng = np.random.default_rng([seed, index])
    return centers[rng.integers(n_centers, size=rows)] + rng.standard_normal((rows, n_features))


def blobs(n_samples, n_features, n_centers, seed=0):
    """(in-memory X, the same X as a persisted dask array of N_BLOCKS row blocks)."""
    import dask
    import dask.array as da

    sizes = [len(r) for r in np.array_split(np.arange(n_samples), N_BLOCKS)]
    parts = [da.from_delayed(dask.delayed(blob_block)(i, s, n_features, n_centers, seed),
                             shape=(s, n_features), dtype=np.float64)
             for i, s in enumerate(sizes)]
    X = np.concatenate([blob_block(i, s, n_features, n_centers, seed)
                        for i, s in enumerate(sizes)])
    return X, da.concatenate(parts).persist()


def squared_inertia(X, centers):
    """Sum of squared distances from the rows of X to their closest centre (float64, numpy
    only: the same measure for every library's centres)."""
    C = np.asarray(centers, dtype=np.float64)
    total = 0.0
    for s in range(0, X.shape[0], 65536):
        B = X[s:s + 65536]
        d2 = (B * B).sum(1)[:, None] - 2.0 * B @ C.T + (C * C).sum(1)[None, :]
        total += float(np.maximum(d2.min(1), 0).sum())
    return total


def per_iteration(fit, short=SHORT, long=LONG, repeat=3):
    """Seconds per iteration: (time of `long` - time of `short` iterations) / (their
    difference in n_iter_); fit(max_iter) returns the fitted estimator."""
    t_short, t_long, a, b = alternate(lambda: fit(short), lambda: fit(long), repeat)
    return (t_long - t_short) / max(1, b.n_iter_ - a.n_iter_)


def kmeans_rows(client, scale, repeat):
    from dask_ml.cluster import KMeans as DaskMLKMeans

    import kmix
    from kmix.dask import KMeans

    n = max(KMEANS_K * 20, int(KMEANS_ROWS * scale))
    X, Xd = blobs(n, KMEANS_FEATURES, KMEANS_K)
    name = f"KMeans {n}x{KMEANS_FEATURES} k={KMEANS_K}"
    t_kmix, t_ml, km, ml = alternate(lambda: KMeans(KMEANS_K, random_state=0).fit(Xd),
                                     lambda: DaskMLKMeans(KMEANS_K, random_state=0).fit(Xd),
                                     repeat)
    # One definition for both: dask-ml's inertia_ sums Euclidean (not squared) distances.
    i_kmix, i_ml = (squared_inertia(X, m.cluster_centers_) for m in (km, ml))
    print(f"{name + ' end to end':<46} {t_kmix:>9.2f} {t_ml:>9.2f} {t_kmix / t_ml:>7.3f}   "
          f"inertia kmix.dask {i_kmix:.6g}, dask-ml {i_ml:.6g} "
          f"(ratio {i_kmix / i_ml:.4f}); iterations {km.n_iter_} / {ml.n_iter_}")

    init = np.ascontiguousarray(X[np.random.RandomState(0).choice(n, KMEANS_K, replace=False)])

    def dask_fit(algorithm):
        def fit(max_iter):
            return KMeans(KMEANS_K, init=init, n_init=1, tol=0, max_iter=max_iter,
                          algorithm=algorithm).fit(Xd)
        return fit

    def ml_fit(max_iter):
        return DaskMLKMeans(KMEANS_K, init=init, tol=0, max_iter=max_iter).fit(Xd)

    def mem_fit(algorithm):
        def fit(max_iter):
            return kmix.KMeans(KMEANS_K, init=init, n_init=1, tol=0, max_iter=max_iter,
                               algorithm=algorithm, n_threads=2).fit(X)
        return fit

    it_dask = per_iteration(dask_fit("auto"), repeat=repeat)
    it_dask_lloyd = per_iteration(dask_fit("lloyd"), repeat=repeat)
    it_ml = per_iteration(ml_fit, repeat=repeat)
    it_lloyd = per_iteration(mem_fit("lloyd"), repeat=repeat)
    it_auto = per_iteration(mem_fit("auto"), repeat=repeat)
    print(f"{name + ' per iteration, same init':<46} {it_dask:>9.4f} {it_ml:>9.4f} "
          f"{it_dask / it_ml:>7.3f}   vs dask-ml (kmix.dask's default, 'auto': Hamerly; its "
          f"'lloyd': {it_dask_lloyd:.4f} s, ratio {it_dask_lloyd / it_ml:.3f})")
    print(f"{name + ' per iteration vs in-memory':<46} {it_dask:>9.4f} {it_auto:>9.4f} "
          f"{it_dask / it_auto:>7.3f}   vs in-memory kmix, both 'auto' (Hamerly); 'lloyd' on "
          f"both: {it_dask_lloyd:.4f} s / {it_lloyd:.4f} s, ratio {it_dask_lloyd / it_lloyd:.3f}")


def gmm_row(client, scale, repeat):
    import kmix
    from kmix.dask import GaussianMixture

    n = max(GMM_K * 50, int(GMM_ROWS * scale))
    X, Xd = blobs(n, GMM_FEATURES, GMM_K, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = kmix.GaussianMixture(GMM_K, covariance_type="diag", max_iter=1,
                                     random_state=0).fit(X[:: max(1, n // 50_000)])
    params = dict(covariance_type="diag", tol=0, weights_init=start.weights_,
                  means_init=start.means_, precisions_init=start.precisions_)

    def fit(cls, data, **extra):
        def run(max_iter):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return cls(GMM_K, max_iter=max_iter, **params, **extra).fit(data)
        return run

    it_dask = per_iteration(fit(GaussianMixture, Xd), repeat=repeat)
    it_mem = per_iteration(fit(kmix.GaussianMixture, X, n_threads=2), repeat=repeat)
    print(f"{f'GaussianMixture diag {n}x{GMM_FEATURES} k={GMM_K} per iter':<46} "
          f"{it_dask:>9.4f} {it_mem:>9.4f} {it_dask / it_mem:>7.3f}   vs in-memory kmix")


class IterationClock(io.StringIO):
    """stdout for a verbose fit: the time at which each "Iteration ..." line is printed."""

    def __init__(self):
        super().__init__()
        self.times = []

    def write(self, text):
        if text.startswith("Iteration "):
            self.times.append(time.perf_counter())
        return super().write(text)

    def per_iteration(self):
        return float(np.median(np.diff(self.times))) if len(self.times) > 1 else float("nan")


class PeakMemory:
    """Largest process memory (RSS) of each worker, polled every `interval` seconds."""

    def __init__(self, client, interval=0.5):
        self.client, self.interval, self.peak = client, interval, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        import psutil

        while not self._stop.is_set():
            try:
                rss = self.client.run(lambda: psutil.Process().memory_info().rss)
            except Exception:  # a worker restarting: try again
                rss = {}
            for worker, value in rss.items():
                self.peak[worker] = max(self.peak.get(worker, 0), value)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def npy_row(scale, directory):
    import dask
    import dask.array as da
    import distributed

    from kmix.dask import KMeans

    n = int(NPY_BYTES * scale / (8 * NPY_FEATURES))
    rows = max(1, int(NPY_FILE_BYTES * scale / (8 * NPY_FEATURES)))
    sizes = [min(rows, n - s) for s in range(0, n, rows)]
    parts = [da.from_delayed(dask.delayed(blob_block)(i, s, NPY_FEATURES, NPY_K, 2),
                             shape=(s, NPY_FEATURES), dtype=np.float64)
             for i, s in enumerate(sizes)]
    with dask.config.set(scheduler="threads", num_workers=2):
        t_write, _ = timed(lambda: da.to_npy_stack(directory, da.concatenate(parts), axis=0))
    limit = max(int(1e9 * scale), 500_000_000)  # 1 GB (at least 500 MB at small scales)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=limit,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        X = da.from_npy_stack(directory)
        clock = IterationClock()
        with PeakMemory(client) as memory, contextlib.redirect_stdout(clock):
            t_fit, km = timed(lambda: KMeans(NPY_K, random_state=0, max_iter=10,
                                             verbose=1).fit(X))
        peak = max(memory.peak.values()) / 1e9
    gb = n * NPY_FEATURES * 8 / 1e9
    print(f"{f'npy stack {gb:.2f} GB ({len(sizes)} files), 2 x {limit / 1e9:.2f} GB':<46} "
          f"fit {t_fit:.1f} s (k-means|| and {km.n_iter_} iterations; writing the files took "
          f"{t_write:.1f} s), {clock.per_iteration():.2f} s per iteration, peak worker "
          f"memory {peak:.2f} GB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", default="kmeans,gmm", help="kmeans, gmm (comma-separated)")
    parser.add_argument("--npy", action="store_true", help="also the .npy stack row")
    parser.add_argument("--npy-dir", default=None, help="folder for the .npy files "
                        "(default: a temporary folder, removed afterwards)")
    args = parser.parse_args(argv)
    import distributed

    # In-memory kmix is given n_threads=2 explicitly: a LocalCluster sets OMP_NUM_THREADS=1
    # in this process too (for the worker processes it starts).

    print(f"{'row':<46} {'kmix.dask':>9} {'other':>9} {'ratio':>7}")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: __import__("kmix.dask"))  # workers import kmix before any timing
        if "kmeans" in args.rows:
            kmeans_rows(client, args.scale, args.repeat)
        if "gmm" in args.rows:
            gmm_row(client, args.scale, args.repeat)
    if args.npy:
        directory = args.npy_dir or tempfile.mkdtemp(prefix="kmix-npy-")
        try:
            npy_row(args.scale, directory)
        finally:
            if args.npy_dir is None:
                shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
