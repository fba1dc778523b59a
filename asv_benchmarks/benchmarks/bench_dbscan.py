"""asv benchmarks: kmix.DBSCAN against scikit-learn's on the rows of bench_dbscan_table.py."""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_dbscan_table import DBSCAN_ROWS  # noqa: E402

_CACHE = {}


def _data(name):
    if name not in _CACHE:
        _CACHE[name] = DBSCAN_ROWS[name][0]()
    return _CACHE[name]


def _dbscan(library):
    if library == "kmix":
        from kmix import DBSCAN
    else:
        from sklearn.cluster import DBSCAN
    return DBSCAN


class DBSCANFit:
    params = (list(DBSCAN_ROWS), ["kmix", "sklearn"])
    param_names = ["data", "library"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, name, library):
        warnings.simplefilter("ignore")
        self.X = _data(name)
        self.params_ = DBSCAN_ROWS[name][1]
        self.model = _dbscan(library)(**self.params_).fit(self.X)

    def time_fit(self, name, library):
        _dbscan(library)(**self.params_).fit(self.X)

    def peakmem_fit(self, name, library):
        _dbscan(library)(**self.params_).fit(self.X)

    def track_n_clusters(self, name, library):
        return int(self.model.labels_.max() + 1)

    def track_n_core_samples(self, name, library):
        return int(len(self.model.core_sample_indices_))
