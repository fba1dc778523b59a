"""asv benchmarks: kmix.AgglomerativeClustering against scikit-learn's on the table's rows.

Run during development against the installed package:
    cd asv_benchmarks && asv run -E existing:$(which python) --quick --bench Agglomerative
Parametrised by row and library, so a run gives the ratio kmix / scikit-learn directly;
``peakmem_fit`` records the peak memory beside the time (scikit-learn's ward and average
linkages without connectivity hold the n^2/2 condensed distance matrix).
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_agglomerative_table import AGGLOMERATIVE_ROWS, row_data  # noqa: E402

_CACHE = {}


def _row(name):
    if name not in _CACHE:
        _CACHE[name] = row_data(name)
    return _CACHE[name]


def _estimator(library, params):
    if library == "kmix":
        from kmix import AgglomerativeClustering
    else:
        from sklearn.cluster import AgglomerativeClustering
    return AgglomerativeClustering(**params)


class AgglomerativeFit:
    params = (list(AGGLOMERATIVE_ROWS), ["kmix", "sklearn"])
    param_names = ["data", "library"]
    timeout = 900
    number = 1
    repeat = 3

    def setup(self, name, library):
        warnings.simplefilter("ignore")
        self.X, self.params_ = _row(name)

    def time_fit(self, name, library):
        _estimator(library, self.params_).fit(self.X)

    def peakmem_fit(self, name, library):
        _estimator(library, self.params_).fit(self.X)
