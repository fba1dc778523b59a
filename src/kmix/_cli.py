"""Command line: ``python -m kmix SUBCOMMAND``."""
import argparse
import sys
import time

import numpy as np


def _demo(args):
    from . import KMeans
    from .datasets import chapter_blobs

    X, _ = chapter_blobs(n_samples=args.n_samples, random_state=args.random_state)
    model = KMeans(n_clusters=args.n_clusters, n_init=args.n_init, algorithm=args.algorithm,
                   random_state=args.random_state, n_threads=args.n_threads)
    start = time.perf_counter()
    model.fit(X)
    elapsed = time.perf_counter() - start
    sizes = np.bincount(model.labels_, minlength=args.n_clusters)
    print(f"kmix KMeans on the chapter's blobs: {X.shape[0]} samples x {X.shape[1]} features")
    print(f"k          : {args.n_clusters}")
    print(f"inertia    : {model.inertia_:.6f}")
    print(f"iterations : {model.n_iter_}")
    print(f"fit time   : {elapsed * 1e3:.2f} ms (n_init={args.n_init}, "
          f"algorithm={args.algorithm})")
    print("cluster sizes and centres:")
    for j in np.argsort(-sizes, kind="stable"):
        cx, cy = model.cluster_centers_[j]
        print(f"  cluster {j}: {sizes[j]:5d} points, centre ({cx:+.3f}, {cy:+.3f})")
    return 0


def _scan(args):
    import warnings

    from .datasets import chapter_blobs, chapter_mixture
    from .model_selection import scan_gmm, scan_kmeans

    X, _ = chapter_blobs(n_samples=2000, random_state=7)
    scan = scan_kmeans(X, range(args.k_min, args.k_max + 1), random_state=args.random_state,
                       n_threads=args.n_threads)
    print("kmix scan_kmeans on the chapter's blobs (2000 x 2)")
    print(f"{'k':>3} {'inertia':>12} {'silhouette':>10}")
    for k, inertia, sil in zip(scan.k, scan.inertia, scan.silhouette):
        print(f"{k:>3} {inertia:12.3f} {sil:10.4f}")
    print(f"elbow k           : {scan.elbow_k}")
    print(f"best silhouette k : {scan.best_silhouette_k}")
    Xm, _ = chapter_mixture()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gscan = scan_gmm(Xm, range(args.k_min, args.k_max + 1), n_init=args.n_init,
                         random_state=args.random_state, n_threads=args.n_threads)
    print("kmix scan_gmm on the chapter's mixture data (1250 x 2)")
    print(f"best BIC          : k={gscan.best_k} {gscan.best_covariance_type} "
          f"(BIC {gscan.bic.min():.2f})")
    return 0


def _moon_agreement(labels, y):
    """Fraction of samples on the right moon, for the better of the two label matchings
    (noise counts as wrong)."""
    return max(np.mean(labels == y), np.mean(labels == 1 - y))


def _shapes(args):
    from . import DBSCAN, AgglomerativeClustering, KMeans, SpectralClustering
    from .datasets import moons

    X, y = moons(n_samples=args.n_samples, noise=args.noise, random_state=42)
    print(f"kmix on two moons: {X.shape[0]} samples, noise {args.noise}")
    db = DBSCAN(eps=args.eps, min_samples=args.min_samples).fit(X)
    n_clusters = len(set(db.labels_.tolist()) - {-1})
    print(f"DBSCAN eps={args.eps} min_samples={args.min_samples}: {n_clusters} clusters, "
          f"{db.core_sample_indices_.size} core samples, {np.sum(db.labels_ == -1)} anomalies")
    print("agreement with the moons (fraction of samples):")
    print(f"  {'DBSCAN':<26}: {_moon_agreement(db.labels_, y):.3f}")
    models = [
        ("KMeans k=2", KMeans(2, n_init=10, random_state=42)),
        ("Agglomerative ward k=2", AgglomerativeClustering(2, linkage="ward")),
        ("Agglomerative single k=2", AgglomerativeClustering(2, linkage="single")),
        (f"Spectral rbf gamma={args.gamma:g}",
         SpectralClustering(2, gamma=args.gamma, random_state=42)),
    ]
    for name, model in models:
        print(f"  {name:<26}: {_moon_agreement(model.fit_predict(X), y):.3f}")
    return 0


def _info(args):
    import kmix

    print(f"kmix {kmix.__version__}")
    print(f"OpenMP     : {'yes' if kmix.openmp_enabled() else 'no'}")
    print(f"threads    : {kmix.effective_n_threads()}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m kmix",
        description="kmix: compiled clustering and Gaussian mixtures.",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    demo = sub.add_parser("demo", help="fit KMeans on the chapter's five blobs and print it")
    demo.add_argument("--n-clusters", type=int, default=5)
    demo.add_argument("--n-samples", type=int, default=2000)
    demo.add_argument("--n-init", type=int, default=10)
    demo.add_argument("--algorithm", default="auto",
                      choices=["lloyd", "elkan", "hamerly", "auto"])
    demo.add_argument("--random-state", type=int, default=7)
    demo.add_argument("--n-threads", type=int, default=None)
    demo.set_defaults(func=_demo)
    scan = sub.add_parser("scan", help="how many clusters: elbow, silhouette and BIC scans on "
                                       "the chapter's data")
    scan.add_argument("--k-min", type=int, default=1)
    scan.add_argument("--k-max", type=int, default=9)
    scan.add_argument("--n-init", type=int, default=3)
    scan.add_argument("--random-state", type=int, default=42)
    scan.add_argument("--n-threads", type=int, default=None)
    scan.set_defaults(func=_scan)
    shapes = sub.add_parser("shapes", help="DBSCAN, spectral and agglomerative clustering on "
                                           "two moons, against k-means")
    shapes.add_argument("--n-samples", type=int, default=1000)
    shapes.add_argument("--noise", type=float, default=0.05)
    shapes.add_argument("--eps", type=float, default=0.2)
    shapes.add_argument("--min-samples", type=int, default=5)
    shapes.add_argument("--gamma", type=float, default=100.0)
    shapes.set_defaults(func=_shapes)
    info = sub.add_parser("info", help="version, OpenMP and thread count")
    info.set_defaults(func=_info)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
