"""DBSCAN on the two moons: with eps=0.05 most points are noise or tiny clusters, with
eps=0.2 the two moons come out; then a k-nearest-neighbours classifier trained on the core
samples assigns new points to the clusters (and calls the far ones anomalies).

Figures: dbscan_eps, dbscan_knn. Run ``python 05_dbscan.py [--output DIR] [--fast]``.
"""
import numpy as np
from _shared import panels, parse_args, save
from sklearn.neighbors import KNeighborsClassifier

import kmix
import kmix.plot as kplot
from kmix.datasets import moons

#: New points to classify (the chapter's).
X_NEW = np.array([[-0.5, 0.0], [0.0, 0.5], [1.0, -0.1], [2.0, 1.0]])


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, y = moons(n_samples=1000, noise=0.05, random_state=42)
    resolution = 120 if args.fast else 400

    figure, axes = panels(2)
    for ax, eps in zip(axes, (0.05, 0.2)):
        dbscan = kmix.DBSCAN(eps=eps, min_samples=5).fit(X)
        n_clusters = len(set(dbscan.labels_.tolist()) - {-1})
        n_noise = int(np.sum(dbscan.labels_ == -1))
        print(f"eps={eps}: {n_clusters} clusters, {dbscan.core_sample_indices_.size} core "
              f"samples, {n_noise} noise")
        kplot.decision_regions(dbscan, X, ax=ax, resolution=resolution)
        ax.set_title(f"eps={eps}, min_samples=5: {n_clusters} clusters")
    save(figure, args, "dbscan_eps")

    # DBSCAN has no predict: a classifier trained on the core samples provides one
    knn = KNeighborsClassifier(n_neighbors=50)
    knn.fit(dbscan.components_, dbscan.labels_[dbscan.core_sample_indices_])
    distance, nearest = knn.kneighbors(X_NEW, n_neighbors=1)
    predicted = knn.predict(X_NEW)
    predicted[distance[:, 0] > 0.2] = -1  # too far from every core sample: an anomaly
    print("new points        :", X_NEW.tolist())
    print("predicted clusters:", predicted.tolist(), "(-1: anomaly)")
    print("probabilities     :", np.round(knn.predict_proba(X_NEW), 2).tolist())
    agreement = max(np.mean(dbscan.labels_ == y), np.mean(dbscan.labels_ == 1 - y))
    print(f"eps=0.2 agreement with the moons: {agreement:.3f}")

    figure, (ax,) = panels(1, size=(7, 4.5))
    kplot.decision_regions(knn, X, ax=ax, resolution=resolution)
    ax.scatter(X_NEW[:, 0], X_NEW[:, 1], c="k", marker="+", s=200, linewidths=2,
               label="new points")
    ax.set_title("k-nearest neighbours on the core samples")
    ax.legend(loc="lower left")
    save(figure, args, "dbscan_knn")


if __name__ == "__main__":
    main()
