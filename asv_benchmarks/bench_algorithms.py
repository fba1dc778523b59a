"""Same-init seconds of every exact KMeans algorithm on the benchmark rows: the measurements
behind the 'auto' rule (kmix._kmeans_algorithms.resolve_algorithm's docstring table).

Usage (unset the OpenBLAS overrides of this machine for benchmarks only; nothing else running):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python asv_benchmarks/bench_algorithms.py [--rows SUBSTR] [--repeat 3]

Every fit starts from the same k-means++ centres (init=array, n_init=1) and runs the row's
iterations; a time is the minimum of --repeat fits (each the mean of enough consecutive fits to
last ~0.2 s when one is shorter than 50 ms). '*' marks the algorithm 'auto' resolves to, '!'
that it is more than 5% slower than the fastest.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datasets import ROWS  # noqa: E402
from timing import calls_per_timing, timed  # noqa: E402

ALGORITHMS = ("lloyd", "hamerly", "elkan", "yinyang")


def _simd():
    from kmix._core._lloyd import simd_enabled

    return "AVX2/FMA kernels" if simd_enabled() else "portable kernels"


def algorithm_times(X, params, repeat):
    """Seconds per algorithm (min over repeat) and the algorithm 'auto' picks."""
    import kmix
    from kmix._kmeans_algorithms import resolve_algorithm

    params = dict(params, n_init=1)
    params["init"] = kmix.kmeans_plusplus(X, params["n_clusters"], random_state=0)[0]

    def fit(algorithm):
        return kmix.KMeans(random_state=0, algorithm=algorithm, **params).fit(X)

    numbers = {algorithm: calls_per_timing([lambda: fit(algorithm)])
               for algorithm in ALGORITHMS}
    best = {algorithm: float("inf") for algorithm in ALGORITHMS}
    for _ in range(repeat):
        for algorithm in ALGORITHMS:
            best[algorithm] = min(best[algorithm],
                                  timed(lambda: fit(algorithm), numbers[algorithm])[0])
    auto = resolve_algorithm("auto", X.shape[0], X.shape[1], params["n_clusters"], False)
    return best, auto


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="only rows whose name contains this")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dtypes", default="float64,float32")
    args = parser.parse_args(argv)
    print(f"# {_simd()}; seconds, " + " / ".join(ALGORITHMS))
    for name, (load, params) in ROWS.items():
        if args.rows not in name:
            continue
        X64 = np.ascontiguousarray(load(), dtype=np.float64)
        cells = []
        for dtype in args.dtypes.split(","):
            best, auto = algorithm_times(X64.astype(dtype), params, args.repeat)
            fastest = min(best.values())
            marks = {a: ("*" if a == auto else "")
                     + ("!" if a == auto and best[a] > 1.05 * fastest else "")
                     for a in ALGORITHMS}
            cells.append(" / ".join(f"{best[a]:.3f}{marks[a]}" for a in ALGORITHMS))
        print(f"{name:38s}  " + "  ".join(f"{c:36s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
