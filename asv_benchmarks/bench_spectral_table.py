"""kmix vs scikit-learn SpectralClustering, same process: the issue's benchmark table.

Usage (unset the OpenBLAS overrides of this machine for benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/bench_spectral_table.py

Each row fits both libraries with the row's parameters and random_state=0, alternating them
(median of --repeat timings; fits under 50 ms are repeated to last ~0.2 s); the ratio is
kmix / scikit-learn, and the last columns say whether the labels are the same numbers and
the adjusted Rand index between the two labelings. ``--breakdown`` then times the three stages
(affinity, spectral embedding, label assignment) of both libraries on the issue's row.
"""
import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spectral_rows import SPECTRAL_ROWS, moons  # noqa: E402
from timing import alternate, calls_per_timing  # noqa: E402


def compare(X, params, repeat):
    from sklearn.cluster import SpectralClustering as SkSpectralClustering
    from sklearn.metrics import adjusted_rand_score

    import kmix

    def fit_sk():
        return SkSpectralClustering(random_state=0, **params).fit(X)

    def fit_km():
        return kmix.SpectralClustering(random_state=0, **params).fit(X)

    number = calls_per_timing((fit_sk, fit_km))
    sk_time, km_time, sk, km = alternate(fit_sk, fit_km, repeat, number)
    return dict(sk=sk_time, km=km_time, equal=bool(np.array_equal(sk.labels_, km.labels_)),
                ari=adjusted_rand_score(sk.labels_, km.labels_))


def _stages_sklearn(X, gamma, n_clusters):
    from sklearn.cluster import k_means
    from sklearn.manifold._spectral_embedding import _spectral_embedding
    from sklearn.metrics.pairwise import pairwise_kernels

    affinity = pairwise_kernels(X, metric="rbf", filter_params=True, gamma=gamma)
    rs = np.random.RandomState(0)
    maps = _spectral_embedding(affinity, n_components=n_clusters, random_state=rs,
                               drop_first=False)
    return [lambda: pairwise_kernels(X, metric="rbf", filter_params=True, gamma=gamma),
            lambda: _spectral_embedding(affinity, n_components=n_clusters,
                                        random_state=np.random.RandomState(0),
                                        drop_first=False),
            lambda: k_means(maps, n_clusters, random_state=rs, n_init=10)]


def _stages_kmix(X, gamma, n_clusters):
    import kmix
    from kmix._spectral_affinity import rbf_affinity
    from kmix._spectral_embedding import spectral_embedding

    n_threads = kmix.effective_n_threads()
    affinity = rbf_affinity(X, gamma, n_threads)
    rs = np.random.RandomState(0)
    maps = spectral_embedding(affinity, n_clusters, eigen_solver=None, random_state=rs,
                              eigen_tol="auto", n_threads=n_threads)
    return [lambda: rbf_affinity(X, gamma, n_threads),
            lambda: spectral_embedding(affinity, n_clusters, eigen_solver=None,
                                       random_state=np.random.RandomState(0),
                                       eigen_tol="auto", n_threads=n_threads),
            lambda: kmix.KMeans(n_clusters, n_init=10, random_state=rs,
                                algorithm="lloyd").fit(maps)]


def breakdown(repeat):
    """Median seconds of each stage of both libraries on the issue's moons (alternating)."""
    X = moons()
    names = ["affinity (rbf)", "embedding (Laplacian + ARPACK)", "labels (k-means n_init=10)"]
    print(f"\n{'stage, moons 1000 gamma=100':<38} {'sklearn ms':>10} {'kmix ms':>8} "
          f"{'ratio':>6}")
    for name, sk_stage, km_stage in zip(names, _stages_sklearn(X, 100.0, 2),
                                        _stages_kmix(X, 100.0, 2)):
        sk_time, km_time, _, _ = alternate(sk_stage, km_stage, repeat, 5)
        print(f"{name:<38} {sk_time * 1e3:10.2f} {km_time * 1e3:8.2f} "
              f"{km_time / sk_time:6.3f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="only rows whose name contains this")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the stages of the issue's row")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"{'row':<40} {'sklearn s':>9} {'kmix s':>8} {'ratio':>6} {'same labels':>11} "
          f"{'ARI':>5}")
    for name, (load, params) in SPECTRAL_ROWS.items():
        if args.rows not in name:
            continue
        r = compare(load(), params, args.repeat)
        print(f"{name:<40} {r['sk']:9.4f} {r['km']:8.4f} {r['km'] / r['sk']:6.3f} "
              f"{str(r['equal']):>11} {r['ari']:5.3f}", flush=True)
    if args.breakdown:
        breakdown(args.repeat)


if __name__ == "__main__":
    main()
