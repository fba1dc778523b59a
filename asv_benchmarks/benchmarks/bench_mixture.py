"""asv benchmarks: kmix.GaussianMixture against scikit-learn's on the issue's data sets."""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets import MIXTURE_ROWS  # noqa: E402

_CACHE = {}


def _data(name):
    if name not in _CACHE:
        _CACHE[name] = MIXTURE_ROWS[name][0]()
    return _CACHE[name]


def _mixture(library):
    if library == "kmix":
        from kmix import GaussianMixture
    else:
        from sklearn.mixture import GaussianMixture
    return GaussianMixture


class GaussianMixtureFit:
    params = (list(MIXTURE_ROWS), ["kmix", "sklearn"])
    param_names = ["data", "library"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, name, library):
        from sklearn.mixture import GaussianMixture

        warnings.simplefilter("ignore")
        self.X = _data(name)
        load, params, same_init = MIXTURE_ROWS[name]
        self.params_ = dict(params)
        if same_init:
            g = GaussianMixture(params["n_components"], covariance_type=params["covariance_type"],
                                max_iter=1, random_state=0).fit(self.X)
            self.params_.update(weights_init=g.weights_, means_init=g.means_,
                                precisions_init=g.precisions_)
        self.model = _mixture(library)(random_state=0, **self.params_).fit(self.X)

    def time_fit(self, name, library):
        _mixture(library)(random_state=0, **self.params_).fit(self.X)

    def time_score_samples(self, name, library):
        self.model.score_samples(self.X)

    def track_lower_bound(self, name, library):
        return float(self.model.lower_bound_)
