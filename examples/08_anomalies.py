"""Anomaly detection with a Gaussian mixture: the samples in the lowest-density 4 % of the
training data are anomalies (the chapter's density threshold), here with
``kmix.MixtureOutlierDetector``; new points are judged against the same threshold.

Figure: anomalies. Run ``python 08_anomalies.py [--output DIR] [--fast]``.
"""
import numpy as np
from _shared import panels, parse_args, save

import kmix
import kmix.plot as kplot
from kmix.datasets import chapter_mixture

CONTAMINATION = 0.04


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, _ = chapter_mixture()
    gm = kmix.GaussianMixture(n_components=3, n_init=3 if args.fast else 10,
                              random_state=42).fit(X)
    detector = kmix.MixtureOutlierDetector(gm, contamination=CONTAMINATION).fit(X)
    flagged = detector.predict(X) == -1
    # the chapter's recipe, by hand: the 4th percentile of the densities
    by_hand = np.percentile(gm.score_samples(X), 100 * CONTAMINATION)
    print(f"density threshold (log): {detector.threshold_:.4f} "
          f"(4th percentile by hand: {by_hand:.4f})")
    print(f"anomalies: {flagged.sum()} of {len(X)} samples")
    X_new = np.array([[0.0, 0.0], [-1.5, 1.5], [6.0, 5.0], [-4.0, -4.0]])
    print("new points:", X_new.tolist())
    print("  log-density       :", np.round(detector.score_samples(X_new), 2).tolist())
    print("  inlier 1 / anomaly -1:", detector.predict(X_new).tolist())

    figure, (ax,) = panels(1, size=(7, 5))
    kplot.mixture_density(gm, X, detector, ax=ax, resolution=120 if args.fast else 400)
    ax.legend(loc="lower left")
    ax.set_title(f"anomalies: the {CONTAMINATION:.0%} least dense samples")
    save(figure, args, "anomalies")


if __name__ == "__main__":
    main()
