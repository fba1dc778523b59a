"""Spectral and agglomerative clustering: spectral clustering of the two moons with a wide
and a narrow RBF kernel, agglomerative clustering with ward and single linkage, and the
dendrogram of a ward tree on the chapter's blobs (cut into five clusters).

Figures: spectral, agglomerative, dendrogram. Run ``python 06_spectral_agglomerative.py
[--output DIR] [--fast]``.
"""
import numpy as np
from _shared import panels, parse_args, save

import kmix
import kmix.plot as kplot
from kmix.datasets import chapter_blobs, moons


def agreement(labels, y):
    """Fraction of the samples on the right moon (the better of the two numberings)."""
    return max(np.mean(labels == y), np.mean(labels == 1 - y))


def compare(models, X, y, args, name):
    figure, axes = panels(len(models))
    for ax, (title, model) in zip(axes, models):
        model.fit(X)
        kplot.decision_regions(model, X, ax=ax)
        score = agreement(model.labels_, y)
        ax.set_title(f"{title}: {score:.1%} right")
        print(f"{title:<20}: agreement with the moons {score:.3f}")
    save(figure, args, name)


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, y = moons(n_samples=400 if args.fast else 1000, noise=0.05, random_state=42)

    compare([("rbf, gamma=100", kmix.SpectralClustering(2, gamma=100, random_state=42)),
             ("rbf, gamma=1", kmix.SpectralClustering(2, gamma=1, random_state=42))],
            X, y, args, "spectral")
    compare([("ward linkage", kmix.AgglomerativeClustering(2, linkage="ward")),
             ("single linkage", kmix.AgglomerativeClustering(2, linkage="single"))],
            X, y, args, "agglomerative")

    # the merge tree of the five blobs, cut into five clusters
    blobs, _ = chapter_blobs(n_samples=300 if args.fast else 2000)
    ward = kmix.AgglomerativeClustering(5, linkage="ward", compute_distances=True).fit(blobs)
    cut = ward.distances_[-5:-3].mean()  # between the 5th and the 4th last merge
    print(f"ward tree of the blobs cut into 5 clusters at height {cut:.2f}: sizes "
          f"{sorted(np.bincount(ward.labels_).tolist(), reverse=True)}")
    figure, (ax,) = panels(1, size=(9, 4.5))
    kplot.dendrogram(ward, ax=ax, truncate_mode="lastp", p=30, color_threshold=cut)
    ax.axhline(cut, color="gray", linestyle=":")
    ax.set_title("ward tree of the blobs (last 30 merges)")
    save(figure, args, "dendrogram")


if __name__ == "__main__":
    main()
