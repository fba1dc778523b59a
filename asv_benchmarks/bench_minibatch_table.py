"""kmix vs scikit-learn MiniBatchKMeans, same process: prints the issue's benchmark table.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_minibatch_table.py

Both libraries fit with the row's parameters and random_state=0 (kmix draws the same batches
as scikit-learn from the same seed). Timings alternate between the libraries; the time is the
median of --repeat fits and the ratio is kmix / scikit-learn. Inertia is on the full data
(compute_labels=True), reported beside the time with the number of steps.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datasets import MINIBATCH_ROWS  # noqa: E402
from timing import alternate, timed  # noqa: E402


def compare(X, params, repeat):
    from sklearn.cluster import MiniBatchKMeans as SkMiniBatchKMeans

    import kmix

    def make_sk():
        return SkMiniBatchKMeans(random_state=0, **params)

    def make_km():
        return kmix.MiniBatchKMeans(random_state=0, **params)

    timed(lambda: make_km().fit(X))  # first call: imports, thread pools
    sk_time, km_time, sk, km = alternate(lambda: make_sk().fit(X), lambda: make_km().fit(X),
                                         repeat)
    return dict(sk=sk_time, km=km_time,
                sk_inertia=sk.inertia_, km_inertia=km.inertia_,
                sk_steps=sk.n_steps_, km_steps=km.n_steps_)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="only rows whose name contains this")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dtypes", default="float64,float32")
    args = parser.parse_args(argv)
    print(f"{'row':<36} {'dtype':<8} {'sklearn s':>9} {'kmix s':>8} {'ratio':>6} "
          f"{'sk inertia':>14} {'kmix inertia':>14} {'steps sk/km':>11}")
    for name, (load, params) in MINIBATCH_ROWS.items():
        if args.rows not in name:
            continue
        X64 = load()
        for dtype in args.dtypes.split(","):
            X = X64.astype(dtype)
            r = compare(X, params, args.repeat)
            print(f"{name:<36} {dtype:<8} {r['sk']:9.3f} {r['km']:8.3f} "
                  f"{r['km'] / r['sk']:6.3f} {r['sk_inertia']:14.6g} {r['km_inertia']:14.6g} "
                  f"{r['sk_steps']:>5}/{r['km_steps']:<5}", flush=True)


if __name__ == "__main__":
    main()
