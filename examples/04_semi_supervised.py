"""Clustering for semi-supervised learning: with labels for only 50 digits, label the 50
most representative ones (closest to the k-means centres) instead of 50 at random, then
propagate each label to its cluster (all of it, or its 20 % closest to the centre).

The chapter's recipe on scikit-learn's bundled digits: the first 1400 images to train, the
other 397 to test; the "manual" labels of the representative digits are the true ones.
Figures: representative_digits, semi_supervised_accuracy. Run ``python
04_semi_supervised.py [--output DIR] [--fast]``.
"""
import numpy as np
from _shared import panels, parse_args, save
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import kmix

N_LABELED = 50
PERCENTILE_CLOSEST = 20


def accuracy(X_train, y_train, X_test, y_test, max_iter):
    model = LogisticRegression(max_iter=max_iter).fit(X_train, y_train)
    return model.score(X_test, y_test)


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, y = load_digits(return_X_y=True)
    X, y_all = X / 16.0, y  # pixels in [0, 1]: the logistic regressions converge quickly
    X_train, y_train, X_test, y_test = X[:1400], y_all[:1400], X[1400:], y_all[1400:]
    max_iter = 1_000 if args.fast else 10_000
    scores = {}

    scores["50 random labels"] = accuracy(X_train[:N_LABELED], y_train[:N_LABELED], X_test,
                                          y_test, max_iter)

    kmeans = kmix.KMeans(n_clusters=N_LABELED, n_init=3 if args.fast else 10,
                         random_state=42)
    distances = kmeans.fit_transform(X_train)
    representative = np.argmin(distances, axis=0)  # the digit closest to each centre
    y_representative = y_train[representative]
    scores["50 representative labels"] = accuracy(X_train[representative], y_representative,
                                                  X_test, y_test, max_iter)

    figure, axes = panels(10, 5, size=(1.0, 1.25))
    for ax, index, label in zip(axes, representative, y_representative):
        ax.imshow(X_train[index].reshape(8, 8), cmap="binary", interpolation="bilinear")
        ax.set_title(str(label), fontsize=9, pad=2)
        ax.set_axis_off()
    save(figure, args, "representative_digits")

    # each representative's label given to its whole cluster
    y_propagated = y_representative[kmeans.labels_]
    scores["propagated to the clusters"] = accuracy(X_train, y_propagated, X_test, y_test,
                                                    max_iter)
    # ... or only to the digits closest to their centre
    own = distances[np.arange(len(X_train)), kmeans.labels_]
    cutoffs = np.array([np.percentile(own[kmeans.labels_ == i], PERCENTILE_CLOSEST)
                        for i in range(N_LABELED)])
    close = own <= cutoffs[kmeans.labels_]
    scores[f"propagated to the {PERCENTILE_CLOSEST} % closest"] = accuracy(
        X_train[close], y_propagated[close], X_test, y_test, max_iter)
    print(f"propagated labels that are right: all {np.mean(y_propagated == y_train):.3f}, "
          f"{PERCENTILE_CLOSEST} % closest {np.mean(y_propagated[close] == y_train[close]):.3f}")
    for name, score in scores.items():
        print(f"{name:<32}: accuracy {score:.4f}")

    figure, (ax,) = panels(1, size=(7, 3.5))
    ax.barh(list(scores), list(scores.values()), color="tab:blue")
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("test accuracy (logistic regression)")
    ax.invert_yaxis()
    save(figure, args, "semi_supervised_accuracy")


if __name__ == "__main__":
    main()
