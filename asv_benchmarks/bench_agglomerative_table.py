"""kmix vs scikit-learn AgglomerativeClustering, same process: prints a benchmark table.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_agglomerative_table.py
        [--rows ward] [--repeat 3] [--memory]

Each row fits both libraries with the same parameters (connectivity graphs are built once,
outside the timings), alternately, and reports the median of --repeat fits, the ratio
kmix / scikit-learn and whether labels_ and children_ are equal. --memory adds the peak
traced allocation (tracemalloc) of one fit of each library on the ward rows.
"""
import argparse
import os
import sys
import time
import tracemalloc
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import alternate  # noqa: E402


def _blobs(n_samples, n_features):
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples, n_features=n_features, centers=10, random_state=0)[0]


#: name -> (loader, AgglomerativeClustering parameters, neighbours of the connectivity graph
#: or None).
AGGLOMERATIVE_ROWS = {
    "ward blobs 20kx10 k=10": (lambda: _blobs(20_000, 10), dict(n_clusters=10), None),
    "ward blobs 10kx100 k=10": (lambda: _blobs(10_000, 100), dict(n_clusters=10), None),
    "single blobs 20kx10 k=10": (lambda: _blobs(20_000, 10),
                                 dict(n_clusters=10, linkage="single"), None),
    "average blobs 10kx10 k=10": (lambda: _blobs(10_000, 10),
                                  dict(n_clusters=10, linkage="average"), None),
    "ward blobs 20kx10 knn=10 k=10": (lambda: _blobs(20_000, 10), dict(n_clusters=10), 10),
    "complete blobs 20kx10 knn=10 k=10": (lambda: _blobs(20_000, 10),
                                          dict(n_clusters=10, linkage="complete"), 10),
    "average blobs 20kx10 knn=10 k=10": (lambda: _blobs(20_000, 10),
                                         dict(n_clusters=10, linkage="average"), 10),
}


def row_data(name):
    """(X, parameters with the connectivity graph) of a row."""
    from sklearn.neighbors import kneighbors_graph

    load, params, k = AGGLOMERATIVE_ROWS[name]
    X = load()
    params = dict(params)
    if k is not None:
        params["connectivity"] = kneighbors_graph(X, k, include_self=False)
    return X, params


def peak_memory(fit):
    """Peak traced allocation (bytes) of one call of fit."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fit()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def compare(X, params, repeat, memory):
    from sklearn.cluster import AgglomerativeClustering as SkAgglomerative

    import kmix

    def fit_sk():
        return SkAgglomerative(**params).fit(X)

    def fit_km():
        return kmix.AgglomerativeClustering(**params).fit(X)

    sk_time, km_time, sk, km = alternate(fit_sk, fit_km, repeat)
    row = dict(sk=sk_time, km=km_time,
               labels=bool((sk.labels_ == km.labels_).all()),
               children=sk.children_.shape == km.children_.shape
               and bool((sk.children_ == km.children_).all()))
    if memory:
        row["sk_mem"] = peak_memory(fit_sk)
        row["km_mem"] = peak_memory(fit_km)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="only rows whose name contains this")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", action="store_true",
                        help="also trace the peak allocation of the ward rows")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"{'row':<36} {'sklearn s':>9} {'kmix s':>8} {'ratio':>6} {'labels':>6} "
          f"{'children':>8}")
    for name in AGGLOMERATIVE_ROWS:
        if args.rows not in name:
            continue
        X, params = row_data(name)
        start = time.perf_counter()
        r = compare(X, params, args.repeat,
                    args.memory and params.get("linkage", "ward") == "ward")
        line = (f"{name:<36} {r['sk']:9.3f} {r['km']:8.3f} {r['km'] / r['sk']:6.3f} "
                f"{'same' if r['labels'] else 'DIFF':>6} {'same' if r['children'] else 'DIFF':>8}")
        if "sk_mem" in r:
            line += f"  peak MB sklearn {r['sk_mem'] / 1e6:.1f} kmix {r['km_mem'] / 1e6:.1f}"
        print(line, f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
