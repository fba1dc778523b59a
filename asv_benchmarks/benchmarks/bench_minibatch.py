"""asv benchmarks: kmix.MiniBatchKMeans against scikit-learn's on the issue's data sets.

Parametrised by data set, dtype and library (the ratio kmix / scikit-learn comes from one
run); ``track_inertia`` records the inertia on the full data beside the time.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets import MINIBATCH_ROWS  # noqa: E402

_CACHE = {}


def _data(name, dtype):
    key = (name, dtype)
    if key not in _CACHE:
        _CACHE[key] = MINIBATCH_ROWS[name][0]().astype(dtype)
    return _CACHE[key]


def _estimator(library, params):
    if library == "kmix":
        import kmix

        return kmix.MiniBatchKMeans(random_state=0, **params)
    from sklearn.cluster import MiniBatchKMeans

    return MiniBatchKMeans(random_state=0, **params)


class MiniBatchFit:
    params = (list(MINIBATCH_ROWS), ["float64", "float32"], ["kmix", "sklearn"])
    param_names = ["data", "dtype", "library"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, name, dtype, library):
        self.X = _data(name, dtype)
        self.params_ = dict(MINIBATCH_ROWS[name][1])

    def time_fit(self, name, dtype, library):
        _estimator(library, self.params_).fit(self.X)

    def track_inertia(self, name, dtype, library):
        return float(_estimator(library, self.params_).fit(self.X).inertia_)


class PartialFitStream:
    """partial_fit over 100 batches of 2000 x 50 (k=100), as an out-of-core loop does."""

    params = (["float64", "float32"], ["kmix", "sklearn"])
    param_names = ["dtype", "library"]
    number = 1
    repeat = 3

    def setup(self, dtype, library):
        X = _data("blobs 200kx50 c=100 k=100 it=10", dtype)
        self.batches = np.array_split(X, 100)

    def time_partial_fit(self, dtype, library):
        model = _estimator(library, dict(n_clusters=100))
        for batch in self.batches:
            model.partial_fit(batch)
