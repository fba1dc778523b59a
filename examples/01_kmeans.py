"""k-means and its limits: the chapter's five blobs clustered, soft clustering, restarts,
mini-batch k-means, choosing k (elbow, silhouette curve, silhouette diagrams) and the
elongated clusters k-means cannot fit.

Figures: kmeans_regions, kmeans_restarts, kmeans_choosing_k, silhouette_diagrams,
kmeans_limits. Run ``python 01_kmeans.py [--output DIR] [--fast]``.
"""
import numpy as np
from _shared import panels, parse_args, save
from sklearn.metrics import adjusted_rand_score

import kmix
import kmix.plot as kplot
from kmix.datasets import chapter_blobs, chapter_mixture
from kmix.model_selection import scan_kmeans


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, _ = chapter_blobs(n_samples=500 if args.fast else 2000)
    resolution = 120 if args.fast else 400

    # k-means with k=5: the Voronoi regions of the five centres
    kmeans = kmix.KMeans(n_clusters=5, n_init=10, random_state=42).fit(X)
    figure, (ax,) = panels(1, size=(7, 4.5))
    kplot.decision_regions(kmeans, X, ax=ax, resolution=resolution)
    ax.set_title("k-means, k=5")
    save(figure, args, "kmeans_regions")
    X_new = np.array([[0, 2], [3, 2], [-3, 3], [-3, 2.5]])
    print("new points    :", X_new.tolist())
    print("hard clusters :", kmeans.predict(X_new).tolist())
    print("soft (distance to each centre):")
    print(np.round(kmeans.transform(X_new), 2))

    # one random initialisation can end in a poor local optimum; restarts keep the best
    figure, axes = panels(2, size=(5.5, 4))
    for ax, seed in zip(axes, (2, 5)):
        single = kmix.KMeans(5, init="random", n_init=1, random_state=seed).fit(X)
        kplot.decision_regions(single, X, ax=ax, resolution=resolution)
        ax.set_title(f"one random init (seed {seed}): inertia {single.inertia_:.1f}")
    save(figure, args, "kmeans_restarts")
    print(f"inertia, k-means++ and 10 restarts : {kmeans.inertia_:.2f}")
    minibatch = kmix.MiniBatchKMeans(5, n_init=3, random_state=42).fit(X)
    print(f"inertia, mini-batch k-means        : {minibatch.inertia_:.2f}")

    # choosing k: the elbow of the inertia curve, the best mean silhouette
    scan = scan_kmeans(X, range(1, 10), n_init=3 if args.fast else 10, random_state=42)
    figure, axes = panels(2)
    kplot.elbow(scan, ax=axes[0])
    kplot.silhouette_curve(scan, ax=axes[1])
    save(figure, args, "kmeans_choosing_k")
    print(f"elbow k           : {scan.elbow_k}")
    print(f"best silhouette k : {scan.best_silhouette_k}")
    figure, axes = panels(2, 2)
    for ax, k in zip(axes, (3, 4, 5, 6)):
        model = scan.models[int(np.flatnonzero(scan.k == k)[0])]
        kplot.silhouette_diagram(X, model.labels_, ax=ax)
        ax.set_title(f"k={k}: {ax.get_title()}")
    figure.tight_layout()
    save(figure, args, "silhouette_diagrams")

    # the limits: three elongated clusters of different sizes and densities
    Xe, ye = chapter_mixture()
    good_init = np.array([[-1.5, 2.5], [0.5, 0.0], [4.0, 0.0]])
    figure, axes = panels(2, size=(5.5, 4))
    for ax, (name, model) in zip(axes, [
            ("k-means from good centres", kmix.KMeans(3, init=good_init, n_init=1)),
            ("k-means, 10 restarts", kmix.KMeans(3, n_init=10, random_state=42))]):
        model.fit(Xe)
        kplot.decision_regions(model, Xe, ax=ax, resolution=resolution)
        ax.set_title(f"{name}: inertia {model.inertia_:.0f}")
        print(f"{name:<26}: inertia {model.inertia_:8.1f}, "
              f"ARI with the true clusters {adjusted_rand_score(ye, model.labels_):.3f}")
    save(figure, args, "kmeans_limits")
    gm = kmix.GaussianMixture(3, n_init=3, random_state=42).fit(Xe)
    print(f"{'a Gaussian mixture':<26}: ARI with the true clusters "
          f"{adjusted_rand_score(ye, gm.predict(Xe)):.3f}")


if __name__ == "__main__":
    main()
