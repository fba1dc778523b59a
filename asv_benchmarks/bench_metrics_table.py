"""kmix vs scikit-learn: silhouette and the k-means scan of the issue, same process.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_metrics_table.py
"""
import os
import sys
import time
import tracemalloc
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import alternate, median_time, timed  # noqa: E402


def main():
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.datasets import load_digits, make_blobs
    from sklearn.metrics import silhouette_score as sk_silhouette_score

    from kmix.metrics import silhouette_samples, silhouette_score
    from kmix.model_selection import scan_kmeans

    warnings.simplefilter("ignore")
    X, y = make_blobs(20_000, n_features=10, centers=10, random_state=0)
    silhouette_score(X, y)
    sk_s, km_s, sk, km = alternate(lambda: sk_silhouette_score(X, y),
                                   lambda: silhouette_score(X, y), 3)
    print(f"silhouette_score 20kx10 c=10: sklearn {sk_s:.3f} s, kmix {km_s:.3f} s, ratio "
          f"{km_s / sk_s:.3f}, |difference| {abs(sk - km):.1e}")

    X6, y6 = make_blobs(60_000, n_features=10, centers=10, random_state=0)
    tracemalloc.start()
    start = time.perf_counter()
    silhouette_samples(X6, y6)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"silhouette_samples 60kx10: {elapsed:.2f} s, peak traced allocation "
          f"{peak / 1e6:.1f} MB")

    D = load_digits().data

    def sk_scan():
        out = []
        for k in range(2, 100):
            model = SkKMeans(k, random_state=42).fit(D)
            out.append((model.inertia_, sk_silhouette_score(D, model.labels_)))
        return out

    t_sk, ref = timed(sk_scan)
    t_km, scan = median_time(lambda: scan_kmeans(D, range(2, 100), random_state=42), 3)
    best_sk = 2 + int(np.argmax([s for _, s in ref]))
    print(f"scan_kmeans digits k=2..99 + silhouette: sklearn loop {t_sk:.2f} s, kmix "
          f"{t_km:.2f} s, ratio {t_km / t_sk:.3f}; best silhouette k sklearn {best_sk}, "
          f"kmix {scan.best_silhouette_k}")


if __name__ == "__main__":
    main()
