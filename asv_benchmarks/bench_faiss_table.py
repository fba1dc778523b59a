"""kmix vs scikit-learn vs faiss KMeans, same process: prints the speed-round-2 table.

Usage (faiss-cpu is a ``bench`` extra, never a kmix dependency; unset this machine's OpenBLAS
overrides for benchmarks only):

    pip install "kmix[bench]"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_faiss_table.py \
        [--rows SUBSTR] [--dtypes float32,float64] [--modes "same start,end to end"] \
        [--markdown FILE]

Two modes per row and dtype:

- "same start": the three libraries start from the same k random rows of the data
  (``numpy.random.RandomState(0)``) and run the row's iterations with ``tol=0``: scikit-learn
  ``KMeans(init=C0, n_init=1, algorithm='lloyd')``, kmix ``KMeans(init=C0, n_init=1)`` (its
  default ``algorithm='auto'``), faiss ``Kmeans(d, k, niter=it, max_points_per_centroid=10**9)
  .train(X, init_centroids=C0)``. Only faiss's own iteration count is fixed; scikit-learn and
  kmix stop early on strict convergence (labels unchanged), reported as ``iters``.
- "end to end": each library's own seeding (scikit-learn and kmix greedy k-means++ with
  ``random_state=0``; faiss its random sampling with ``seed=0``), one start, the same
  iterations.

faiss computes in float32 only: on float64 rows it is given the data cast to float32 (marked
``f32`` in the faiss column). Every library's final centres are scored by one float64
evaluation (the inertia column: sum of squared distances to the closest final centre), so the
inertias compare what the libraries computed, not how each reports it. Timings alternate
between the libraries, with a pause before each (PAUSE: the previous library's threads
settle); a time is the median of ``--repeat`` timings, each one fit (several consecutive fits
when one lasts under 50 ms, as in bench_table.py).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datasets import blobs, china_pixels, digits, standard_normal  # noqa: E402
from timing import PAUSE, calls_per_timing, timed  # noqa: E402

#: name -> (loader, k, iterations, include scikit-learn) for the rows of the issue's table.
FAISS_ROWS = {
    "china.jpg 273kx3 k=64": (china_pixels, 64, 20, True),
    "digits 1797x64 k=50": (digits, 50, 20, True),
    "blobs 500kx50 c=100 k=100": (lambda: blobs(500_000, 50, centers=100), 100, 20, True),
    "blobs 60kx784 k=10": (lambda: blobs(60_000, 784), 10, 20, True),
    "normal 100kx32 k=1000": (lambda: standard_normal(100_000, 32), 1000, 20, True),
    "normal 200kx64 k=4096 it=5": (lambda: standard_normal(200_000, 64), 4096, 5, False),
}


def inertia_of(X, centers, chunk=8192):
    """Float64 sum over rows of the squared distance to the closest of ``centers``."""
    C = np.asarray(centers, dtype=np.float64)
    cn = np.einsum("ij,ij->i", C, C)
    total = 0.0
    for s in range(0, X.shape[0], chunk):
        B = np.asarray(X[s:s + chunk], dtype=np.float64)
        D = np.einsum("ij,ij->i", B, B)[:, None] - 2.0 * B @ C.T + cn[None, :]
        total += float(np.maximum(D.min(axis=1), 0.0).sum())
    return total


def fitters(X, k, iters, mode, with_sklearn):
    """name -> zero-argument callable returning (centres, iterations) for each library."""
    import faiss
    from sklearn.cluster import KMeans as SkKMeans

    import kmix

    X32 = np.ascontiguousarray(X, dtype=np.float32)
    same = mode == "same start"
    C0 = X[np.random.RandomState(0).choice(X.shape[0], k, replace=False)] if same else None
    common = dict(n_clusters=k, n_init=1, max_iter=iters, tol=0.0, random_state=0)
    if same:
        common["init"] = C0

    def run_faiss():
        km = faiss.Kmeans(X.shape[1], k, niter=iters, max_points_per_centroid=10**9,
                          seed=0, verbose=False)
        if same:
            km.train(X32, init_centroids=np.ascontiguousarray(C0, dtype=np.float32))
        else:
            km.train(X32)
        return km.centroids, iters

    def run_kmix():
        model = kmix.KMeans(**common).fit(X)
        return model.cluster_centers_, model.n_iter_

    def run_sklearn():
        model = SkKMeans(algorithm="lloyd", **common).fit(X)
        return model.cluster_centers_, model.n_iter_

    out = {"faiss": run_faiss, "kmix": run_kmix}
    if with_sklearn:
        out["sklearn"] = run_sklearn
    return out


def compare(X, k, iters, mode, with_sklearn, repeat):
    """Median time, inertia and iterations of each library on one row, alternating."""
    fns = fitters(X, k, iters, mode, with_sklearn)
    number = calls_per_timing(fns.values())
    times = {name: [] for name in fns}
    last = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            time.sleep(PAUSE)
            t, last[name] = timed(fn, number)
            times[name].append(t)
    return {name: dict(time=statistics.median(times[name]),
                       inertia=inertia_of(X, last[name][0]), iters=last[name][1])
            for name in fns}


#: The two modes of a row (see the module docstring).
MODES = ("same start", "end to end")

HEADER = ("| data | dtype | mode | scikit-learn s | faiss s | kmix s | kmix/faiss | kmix/sklearn "
          "| inertia sk / faiss / kmix | iters sk/faiss/kmix |")


def format_row(name, dtype, mode, r):
    sk = r.get("sklearn")
    fa, km = r["faiss"], r["kmix"]
    faiss_mark = "" if dtype == "float32" else " (f32)"
    return (f"| {name} | {dtype} | {mode} | {sk['time']:.3f} | " if sk else
            f"| {name} | {dtype} | {mode} | — | ") + (
        f"{fa['time']:.3f}{faiss_mark} | {km['time']:.3f} | {km['time'] / fa['time']:.2f} | "
        f"{(km['time'] / sk['time']) if sk else float('nan'):.2f} | "
        f"{sk['inertia'] if sk else float('nan'):.6g} / {fa['inertia']:.6g} / "
        f"{km['inertia']:.6g} | {sk['iters'] if sk else '—'}/{fa['iters']}/{km['iters']} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="only rows whose name contains this")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--scale", type=float, default=1.0,
                        help="use this fraction of each data set's rows (smoke runs)")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)
    unknown = set(args.modes.split(",")) - set(MODES)
    if unknown:
        # (an unknown name would otherwise run as "end to end", under its own label)
        parser.error(f"--modes: unknown mode(s) {sorted(unknown)}; the modes are {MODES}")
    lines = [HEADER, "|" + "---|" * 3 + "---:|" * 5 + "---|---|"]
    print(lines[0], lines[1], sep="\n", flush=True)
    for name, (load, k, iters, with_sklearn) in FAISS_ROWS.items():
        if args.rows not in name:
            continue
        X64 = np.ascontiguousarray(load(), dtype=np.float64)
        if args.scale < 1.0:
            X64 = X64[:max(4 * k, int(X64.shape[0] * args.scale))]
        for dtype in args.dtypes.split(","):
            X = X64.astype(dtype)
            for mode in args.modes.split(","):
                line = format_row(name, dtype, mode,
                                  compare(X, k, iters, mode, with_sklearn, args.repeat))
                lines.append(line)
                print(line, flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
