"""Clustering as preprocessing: the digits (8x8 images) replaced by their distances to k
k-means centres before a logistic regression, in a pipeline; GridSearchCV picks k.

The chapter's recipe on scikit-learn's bundled digits (``load_digits``): the first 1400
images to train, the other 397 to test. A StandardScaler after the distances lets the
logistic regression converge quickly. Figure: gridsearch_k. Run ``python
03_preprocessing.py [--output DIR] [--fast]``.
"""
import numpy as np
from _shared import panels, parse_args, save
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import kmix


def classifier():
    return LogisticRegression(max_iter=10_000)


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, y = load_digits(return_X_y=True)
    X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]

    baseline = Pipeline([("scale", StandardScaler()), ("classifier", classifier())])
    baseline.fit(X_train, y_train)
    print(f"logistic regression on the pixels      : accuracy "
          f"{baseline.score(X_test, y_test):.4f}")

    pipeline = Pipeline([("kmeans", kmix.KMeans(n_clusters=50, random_state=42)),
                         ("scale", StandardScaler()), ("classifier", classifier())])
    pipeline.fit(X_train, y_train)
    print(f"on the distances to 50 k-means centres : accuracy "
          f"{pipeline.score(X_test, y_test):.4f}")

    ks = [20, 40] if args.fast else list(range(10, 151, 10))
    search = GridSearchCV(pipeline, {"kmeans__n_clusters": ks}, cv=2 if args.fast else 3)
    search.fit(X_train, y_train)
    best_k = search.best_params_["kmeans__n_clusters"]
    print(f"GridSearchCV over k {ks[0]}..{ks[-1]}         : best k {best_k}, "
          f"cross-validated accuracy {search.best_score_:.4f}")
    print(f"best pipeline on the test set          : accuracy "
          f"{search.score(X_test, y_test):.4f}")

    figure, (ax,) = panels(1, size=(6, 4))
    scores = search.cv_results_["mean_test_score"]
    ax.plot(ks, scores, "o-", label="cross-validated accuracy")
    ax.plot([best_k], [np.max(scores)], "o", color="red", markersize=10,
            label=f"best: k={best_k}")
    ax.axhline(baseline.score(X_test, y_test), color="gray", linestyle=":",
               label="pixels only (test set)")
    ax.set_xlabel("k (clusters of the preprocessing)")
    ax.set_ylabel("accuracy")
    ax.legend()
    save(figure, args, "gridsearch_k")


if __name__ == "__main__":
    main()
