"""asv benchmarks: kmix.KMeans against scikit-learn's KMeans on the issue's data sets.

Run during development against the installed package:
    cd asv_benchmarks && asv run -E existing:$(which python) --quick
Each benchmark is parametrised by data set, dtype and library, so a run gives the ratio
kmix / scikit-learn directly; ``track_inertia`` records the quality beside the time.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets import ROWS  # noqa: E402

_CACHE = {}


def _data(name, dtype):
    key = (name, dtype)
    if key not in _CACHE:
        _CACHE[key] = np.ascontiguousarray(ROWS[name][0](), dtype=dtype)
    return _CACHE[key]


def _estimator(library, params):
    if library == "kmix":
        import kmix

        return kmix.KMeans(random_state=0, algorithm="auto", **params)
    from sklearn.cluster import KMeans

    return KMeans(random_state=0, **params)


class KMeansEndToEnd:
    """Each library's own seeding, the row's n_init."""

    params = (list(ROWS), ["float64", "float32"], ["kmix", "sklearn"])
    param_names = ["data", "dtype", "library"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, name, dtype, library):
        self.X = _data(name, dtype)
        self.params_ = dict(ROWS[name][1])

    def time_fit(self, name, dtype, library):
        _estimator(library, self.params_).fit(self.X)

    def track_inertia(self, name, dtype, library):
        return float(_estimator(library, self.params_).fit(self.X).inertia_)


class KMeansSameInit(KMeansEndToEnd):
    """Both libraries from the same k-means++ centres (n_init=1): the iterations alone."""

    def setup(self, name, dtype, library):
        import kmix

        super().setup(name, dtype, library)
        init = kmix.kmeans_plusplus(self.X, self.params_["n_clusters"], random_state=0)[0]
        self.params_.update(init=init, n_init=1)


class Predict:
    """predict() on 500k x 50 with 100 centres."""

    params = (["float64", "float32"], ["kmix", "sklearn"])
    param_names = ["dtype", "library"]

    def setup(self, dtype, library):
        X = _data("blobs 500kx50 c=100 k=100", dtype)
        self.X = X
        self.model = _estimator(library, dict(n_clusters=100, max_iter=5)).fit(X[:50_000])

    def time_predict(self, dtype, library):
        self.model.predict(self.X)


class Seeding:
    """Greedy k-means++ seeding alone (blobs 500k x 50, k=100; normal 100k x 32, k=1000) and
    kmix's k-means|| on the same data (scikit-learn has no k-means||)."""

    params = (["blobs 500kx50 c=100 k=100", "normal 100kx32 k=1000 it=20"],
              ["float64", "float32"], ["kmix", "sklearn", "kmix k-means||"])
    param_names = ["data", "dtype", "library"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, name, dtype, library):
        self.X = _data(name, dtype)
        self.k = ROWS[name][1]["n_clusters"]

    def time_seeding(self, name, dtype, library):
        if library == "kmix":
            import kmix

            kmix.kmeans_plusplus(self.X, self.k, random_state=0)
        elif library == "sklearn":
            from sklearn.cluster import kmeans_plusplus

            kmeans_plusplus(self.X, self.k, random_state=0)
        else:
            import kmix

            kmix.KMeans(self.k, init="k-means||", n_init=1, max_iter=1,
                        random_state=0).fit(self.X)


class LargeK:
    """Five Lloyd iterations with 1000 and 4096 centres from the same random rows (float64:
    kmix's float32 distances with float64 decisions; float32)."""

    params = ([1000, 4096], ["float64", "float32"], ["kmix", "sklearn"])
    param_names = ["k", "dtype", "library"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, k, dtype, library):
        rng = np.random.RandomState(0)
        self.X = rng.standard_normal((100_000 if k == 1000 else 200_000, 32 if k == 1000
                                      else 64)).astype(dtype)
        self.init = self.X[rng.choice(self.X.shape[0], k, replace=False)]

    def time_iterations(self, k, dtype, library):
        _estimator(library, dict(n_clusters=k, init=self.init, n_init=1, max_iter=5,
                                 tol=0.0)).fit(self.X)
