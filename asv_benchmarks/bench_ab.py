"""kmix against kmix: the KMeans table's rows timed under two installed builds, alternately.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_ab.py \\
        --before /path/to/venv-before/bin/python --after /path/to/venv-after/bin/python \\
        [--rows SUBSTR] [--rounds 3]

Each round runs every selected row in a fresh process of the "before" interpreter, then of the
"after" one (the other way round in odd rounds), so slow drifts of the machine hit both builds
alike; a build's time for a row is
the minimum over rounds of the minimum of a few consecutive fits. "same init" starts both builds
from scikit-learn's k-means++ centres (``sklearn.cluster.kmeans_plusplus``, ``random_state=0``,
independent of either build) with ``n_init=1``; "end to end" is each build's default fit with
the row's ``n_init`` and ``random_state=0`` (seeding included). The last line is the median
ratio (after / before) over the large rows (100k samples or more), the figure a change's cost
is judged by.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from datasets import ROWS  # noqa: E402

#: Rows with at least this many samples count as "large".
LARGE_ROWS = 100_000


def _select(rows, dtypes, modes):
    for name, (load, params) in ROWS.items():
        if rows and not any(r in name for r in rows.split(";")):
            continue
        for dtype in dtypes:
            for mode in modes:
                yield name, load, params, dtype, mode


def _worker(args):
    """Time the selected rows with this interpreter's kmix; write {key: record} as JSON."""
    from sklearn.cluster import kmeans_plusplus

    import kmix

    out = {}
    data = {}
    for name, load, params, dtype, mode in _select(args.rows, args.dtypes, args.modes):
        if (name, dtype) not in data:
            data.clear()
            data[name, dtype] = np.ascontiguousarray(load(), dtype=dtype)
        X = data[name, dtype]
        p = dict(params)
        if mode == "same init":
            p.update(init=kmeans_plusplus(X, p["n_clusters"], random_state=0)[0], n_init=1)
        times = []
        model = None
        # at least --fits fits (30 for fits under 10 ms), stopping after ~3 s
        while not times or sum(times) < 3.0 and (
                len(times) < args.fits or sum(times) < 0.3 and len(times) < 30):
            start = time.perf_counter()
            model = kmix.KMeans(random_state=0, **p).fit(X)
            times.append(time.perf_counter() - start)
        out[f"{name}|{dtype}|{mode}"] = dict(
            time=min(times), n_iter=int(model.n_iter_), inertia=float(model.inertia_),
            n_samples=X.shape[0])
    with open(args.worker, "w") as f:
        json.dump(out, f)


def _run(python, args, path):
    cmd = [python, os.path.abspath(__file__), "--worker", path, "--rows", args.rows,
           "--dtypes", ",".join(args.dtypes), "--modes", ",".join(args.modes),
           "--fits", str(args.fits)]
    subprocess.run(cmd, check=True, cwd=tempfile.gettempdir())
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="python of the build before the change")
    parser.add_argument("--after", help="python of the build after the change")
    parser.add_argument("--rows", default="", help="only rows containing one of ';'-separated")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--modes", default="same init,end to end")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fits", type=int, default=3, help="consecutive fits per timing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.dtypes = args.dtypes.split(",")
    args.modes = args.modes.split(",")
    if args.worker:
        return _worker(args)
    if not (args.before and args.after):
        parser.error("--before and --after are required")
    runs = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            # alternate which build runs first, so that neither always runs on a machine
            # warmed (or disturbed) by the other
            for which in (("before", "after") if r % 2 == 0 else ("after", "before")):
                python = getattr(args, which)
                runs[which].append(_run(python, args, os.path.join(tmp, f"{which}{r}.json")))
    print("| data | dtype | mode | before s | after s | after/before | iters | inertia before "
          "| inertia after |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    large = []
    for key in runs["before"][0]:
        b = min(run[key]["time"] for run in runs["before"])
        a = min(run[key]["time"] for run in runs["after"])
        rb, ra = runs["before"][0][key], runs["after"][0][key]
        name, dtype, mode = key.split("|")
        print(f"| {name} | {dtype} | {mode} | {b:.4f} | {a:.4f} | {a / b:.3f} "
              f"| {rb['n_iter']}/{ra['n_iter']} | {rb['inertia']:.6g} | {ra['inertia']:.6g} |")
        if rb["n_samples"] >= LARGE_ROWS:
            large.append(a / b)
    if large:
        print(f"\nmedian after/before over the {len(large)} large-row timings: "
              f"{statistics.median(large):.3f}")


if __name__ == "__main__":
    main()
