"""Smoke test of an installed kmix, run by .ci/wheel from outside the checkout.

Usage: python smoke.py CHECKOUT_DIR

Checks that kmix is imported from the installation (not the checkout), that its compiled
core runs with OpenMP, that each estimator family fits tiny data with the results scikit-learn
gives on the same start, and that each fitted model survives kmix.save/kmix.load.
"""
import os
import sys
import tempfile
from importlib.metadata import files

import numpy as np
from sklearn.cluster import KMeans as SKKMeans
from sklearn.metrics import silhouette_score as sk_silhouette_score

import kmix
from kmix.datasets import chapter_blobs
from kmix.metrics import silhouette_score
from kmix.model_selection import scan_kmeans


def check(condition, message):
    if not condition:
        sys.exit(f"smoke test FAILED: {message}")


def main(checkout):
    where = os.path.realpath(kmix.__file__)
    check(not where.startswith(os.path.realpath(checkout) + os.sep),
          f"kmix was imported from the checkout ({where})")
    check(kmix.openmp_enabled(), "the installed kmix._core runs without OpenMP")
    licenses = {p.name for p in files("kmix") if "licenses" in str(p) or p.name.startswith(
        "LICENSE")}
    check({"LICENSE", "LICENSES_bundled.txt"} <= licenses, f"license files missing: {licenses}")
    print(f"kmix {kmix.__version__} from {os.path.dirname(where)}, OpenMP on, "
          f"{kmix.effective_n_threads()} threads")

    X, _ = chapter_blobs(n_samples=300, random_state=0)
    init = X[[0, 60, 120, 180, 240]]
    km = kmix.KMeans(5, init=init, n_init=1).fit(X)
    sk = SKKMeans(5, init=init, n_init=1).fit(X)
    check(np.array_equal(km.labels_, sk.labels_) and km.n_iter_ == sk.n_iter_,
          "KMeans differs from scikit-learn's from the same start")
    check(np.isclose(silhouette_score(X, km.labels_), sk_silhouette_score(X, km.labels_)),
          "silhouette_score differs from scikit-learn's")

    models = [
        km,
        kmix.MiniBatchKMeans(5, random_state=0, n_init=3).fit(X),
        kmix.GaussianMixture(5, random_state=0).fit(X),
        kmix.BayesianGaussianMixture(n_components=5, random_state=0).fit(X),
        kmix.DBSCAN(eps=0.3).fit(X),
        kmix.SpectralClustering(5, random_state=0).fit(X),
        kmix.AgglomerativeClustering(5).fit(X),
        kmix.MixtureOutlierDetector().fit(X),
        scan_kmeans(X, range(2, 6), random_state=0),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            name = type(model).__name__
            path = os.path.join(tmp, f"{name}.npz")
            kmix.save(model, path)
            loaded = kmix.load(path)
            check(type(loaded) is type(model), f"{name}: loaded a {type(loaded).__name__}")
            for attribute in ("labels_", "inertia", "means_", "threshold_"):
                if hasattr(model, attribute):
                    check(np.array_equal(getattr(model, attribute),
                                         getattr(loaded, attribute)),
                          f"{name}.{attribute} changed by save/load")
            if hasattr(model, "predict"):
                check(np.array_equal(model.predict(X), loaded.predict(X)),
                      f"{name}.predict changed by save/load")
            print(f"  {name:26s} fit, save, load: ok")
    print("smoke test passed")


if __name__ == "__main__":
    main(sys.argv[1])
