"""kmix vs scikit-learn GaussianMixture, same process: prints the issue's benchmark table.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_mixture_table.py

"same init" rows start both libraries from the parameters of a one-iteration scikit-learn fit
(weights_init, means_init, precisions_init) and run the row's iterations; the other rows run
each library's defaults with random_state=0. Timings alternate between the libraries (median
of --repeat; fits under 50 ms are repeated to last ~0.2 s); the ratio is kmix / scikit-learn.
The last column times score_samples on the row's data with the fitted models.
"""
import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datasets import MIXTURE_ROWS  # noqa: E402
from timing import alternate, calls_per_timing  # noqa: E402


def compare(X, params, same_init, repeat):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import kmix

    params = dict(params)
    if same_init:
        g = SkGaussianMixture(params["n_components"], covariance_type=params["covariance_type"],
                              max_iter=1, random_state=0).fit(X)
        params.update(weights_init=g.weights_, means_init=g.means_,
                      precisions_init=g.precisions_)

    def fit_sk():
        return SkGaussianMixture(random_state=0, **params).fit(X)

    def fit_km():
        return kmix.GaussianMixture(random_state=0, **params).fit(X)

    number = calls_per_timing((fit_sk, fit_km))
    sk_time, km_time, sk, km = alternate(fit_sk, fit_km, repeat, number)
    ss_sk, ss_km, _, _ = alternate(lambda: sk.score_samples(X), lambda: km.score_samples(X),
                                   repeat)
    return dict(sk=sk_time, km=km_time,
                sk_lb=float(sk.lower_bound_), km_lb=km.lower_bound_, sk_it=sk.n_iter_,
                km_it=km.n_iter_, ss=ss_km / ss_sk)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="only rows whose name contains this")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"{'row':<38} {'sklearn s':>9} {'kmix s':>8} {'ratio':>6} {'sk lower bound':>15} "
          f"{'kmix lower bound':>16} {'iters':>7} {'score_samples':>13}")
    for name, (load, params, same_init) in MIXTURE_ROWS.items():
        if args.rows not in name:
            continue
        r = compare(load(), params, same_init, args.repeat)
        print(f"{name:<38} {r['sk']:9.3f} {r['km']:8.3f} {r['km'] / r['sk']:6.3f} "
              f"{r['sk_lb']:15.8f} {r['km_lb']:16.8f} {r['sk_it']:>3}/{r['km_it']:<3} "
              f"{r['ss']:13.3f}", flush=True)


if __name__ == "__main__":
    main()
