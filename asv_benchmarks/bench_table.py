"""kmix vs scikit-learn KMeans, same process: prints the issue's benchmark table.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python asv_benchmarks/bench_table.py [--rows SUBSTR]

For every row and dtype, two comparisons:
- "same init": both libraries start from the same k-means++ centres (init=array, n_init=1),
  so they run the same iterations: this times the iterations alone;
- "end to end": each library's own seeding with the row's n_init and random_state=0.
Timings alternate between the libraries; the time is the median of --repeat timings; the ratio
is kmix / scikit-learn (goal: <= 0.5) and inertia is reported beside it. A timing is one fit, or
for fits shorter than 50 ms the mean of enough consecutive fits to last ~0.2 s: a single tiny
fit right after the other library's is dominated by the other OpenMP runtime's spinning
threads (both libraries were measured 3-8x slower that way on this 2-core machine).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datasets import ROWS  # noqa: E402
from timing import PAUSE, calls_per_timing, timed  # noqa: E402


def compare(X, params, mode, repeat):
    from sklearn.cluster import KMeans as SkKMeans

    import kmix

    params = dict(params)
    if mode == "same init":
        init = kmix.kmeans_plusplus(X, params["n_clusters"], random_state=0)[0]
        params.update(init=init, n_init=1)

    def fit_sk():
        return SkKMeans(random_state=0, **params).fit(X)

    def fit_km():
        return kmix.KMeans(random_state=0, algorithm="auto", **params).fit(X)

    number = calls_per_timing((fit_sk, fit_km))
    sk_times, km_times = [], []
    for _ in range(repeat):
        time.sleep(PAUSE)
        t, sk = timed(fit_sk, number)
        sk_times.append(t)
        time.sleep(PAUSE)
        t, km = timed(fit_km, number)
        km_times.append(t)
    return dict(sk=statistics.median(sk_times), km=statistics.median(km_times),
                sk_inertia=sk.inertia_, km_inertia=km.inertia_,
                sk_iter=sk.n_iter_, km_iter=km.n_iter_,
                same_labels=bool(np.array_equal(sk.labels_, km.labels_)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="only rows whose name contains this")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--modes", default="same init,end to end")
    args = parser.parse_args(argv)
    print("| data | dtype | mode | scikit-learn s | kmix s | ratio | sk inertia | kmix inertia "
          "| iters sk/kmix | labels |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for name, (load, params) in ROWS.items():
        if args.rows not in name:
            continue
        X64 = np.ascontiguousarray(load(), dtype=np.float64)
        for dtype in args.dtypes.split(","):
            X = X64.astype(dtype)
            for mode in args.modes.split(","):
                r = compare(X, params, mode, args.repeat)
                print(f"| {name} | {dtype} | {mode} | {r['sk']:.3f} | {r['km']:.3f} | "
                      f"{r['km'] / r['sk']:.2f} | {r['sk_inertia']:.6g} | {r['km_inertia']:.6g} | "
                      f"{r['sk_iter']}/{r['km_iter']} | "
                      f"{'same' if r['same_labels'] else 'differ'} |", flush=True)


if __name__ == "__main__":
    main()
