"""asv benchmarks: kmix.SpectralClustering against scikit-learn's on the issue's data sets.

Run during development against the installed package:
    cd asv_benchmarks && asv run -E existing:$(which python) --quick --bench Spectral
Each benchmark is parametrised by data set and library, so a run gives the ratio
kmix / scikit-learn directly; ``track_ari_vs_sklearn`` records whether the labels agree.
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from spectral_rows import SPECTRAL_ROWS  # noqa: E402

_CACHE = {}


def _data(name):
    if name not in _CACHE:
        _CACHE[name] = SPECTRAL_ROWS[name][0]()
    return _CACHE[name]


def _spectral(library):
    if library == "kmix":
        from kmix import SpectralClustering
    else:
        from sklearn.cluster import SpectralClustering
    return SpectralClustering


class SpectralClusteringFit:
    params = (list(SPECTRAL_ROWS), ["kmix", "sklearn"])
    param_names = ["data", "library"]
    timeout = 600
    number = 1
    repeat = 5

    def setup(self, name, library):
        warnings.simplefilter("ignore")
        self.X = _data(name)
        self.params_ = dict(SPECTRAL_ROWS[name][1], random_state=0)

    def time_fit(self, name, library):
        _spectral(library)(**self.params_).fit(self.X)

    def peakmem_fit(self, name, library):
        _spectral(library)(**self.params_).fit(self.X)

    def track_ari_vs_sklearn(self, name, library):
        from sklearn.metrics import adjusted_rand_score

        ours = _spectral(library)(**self.params_).fit(self.X).labels_
        reference = _spectral("sklearn")(**self.params_).fit(self.X).labels_
        return float(adjusted_rand_score(reference, ours))
