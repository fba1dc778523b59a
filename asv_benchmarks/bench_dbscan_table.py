"""kmix.DBSCAN vs scikit-learn's DBSCAN, same process: time ratio and identical results.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_dbscan_table.py

Each row: the median of REPEAT alternating fits of each library (kmix with all cores and
with one thread), the ratio kmix / scikit-learn, and whether labels_ and
core_sample_indices_ are identical. The last line compares the peak traced allocations
(tracemalloc) of the two on the issue's row.
"""
import os
import sys
import tracemalloc
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import alternate, median_time  # noqa: E402

REPEAT = 5


def moons(n_samples):
    from sklearn.datasets import make_moons

    return make_moons(n_samples, noise=0.05, random_state=0)[0]


def blobs(n_samples, n_features):
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples, n_features, centers=10, cluster_std=1.0, random_state=0)[0]


#: name -> (loader, DBSCAN parameters). The blobs' eps put 3-20% of the samples in noise.
DBSCAN_ROWS = {
    "moons 200kx2 eps=0.01 ms=10": (lambda: moons(200_000), dict(eps=0.01, min_samples=10)),
    "moons 1000x2 eps=0.05 ms=5": (lambda: moons(1000), dict(eps=0.05, min_samples=5)),
    "blobs 50kx3 eps=0.35 ms=10": (lambda: blobs(50_000, 3), dict(eps=0.35, min_samples=10)),
    "blobs 20kx10 eps=2.4 ms=10": (lambda: blobs(20_000, 10), dict(eps=2.4, min_samples=10)),
    "blobs 10kx50 eps=8.2 ms=10": (lambda: blobs(10_000, 50), dict(eps=8.2, min_samples=10)),
}


def _same(a, b):
    return (np.array_equal(a.labels_, b.labels_)
            and np.array_equal(a.core_sample_indices_, b.core_sample_indices_))


def _peak_mb(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def main():
    from sklearn.cluster import DBSCAN as SkDBSCAN

    from kmix import DBSCAN, effective_n_threads

    warnings.simplefilter("ignore")
    print(f"kmix threads: {effective_n_threads(None)}; median of {REPEAT} alternating runs")
    print("| data | sklearn s | kmix s | kmix 1 thread s | kmix / sklearn | identical |")
    print("|---|---|---|---|---|---|")
    for name, (load, params) in DBSCAN_ROWS.items():
        X = load()
        DBSCAN(**params).fit(X)  # build and warm up outside the timings
        t_sk, t_km, ref, ours = alternate(lambda: SkDBSCAN(**params).fit(X),
                                          lambda: DBSCAN(**params).fit(X), REPEAT)
        t_1, one = median_time(lambda: DBSCAN(n_threads=1, **params).fit(X), REPEAT)
        same = _same(ours, ref) and _same(one, ref)
        print(f"| {name} | {t_sk:.3f} | {t_km:.3f} | {t_1:.3f} | {t_km / t_sk:.3f} | {same} |",
              flush=True)

    load, params = DBSCAN_ROWS["moons 200kx2 eps=0.01 ms=10"]
    X = load()
    sk_mb = _peak_mb(lambda: SkDBSCAN(**params).fit(X))
    km_mb = _peak_mb(lambda: DBSCAN(**params).fit(X))
    print(f"peak traced allocation, moons 200kx2: sklearn {sk_mb:.0f} MB, kmix {km_mb:.0f} MB "
          f"(X itself {X.nbytes / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
