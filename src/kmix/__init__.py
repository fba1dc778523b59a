"""kmix: compiled, deterministic drop-in replacements for scikit-learn's clustering estimators.

The public names are imported on first use (PEP 562), so ``import kmix`` is quick and loads
neither scikit-learn nor the compiled kernels; ``from kmix import KMeans`` imports what
KMeans needs.
"""
import importlib

__version__ = "0.1.0"

__all__ = ["KMeans", "MiniBatchKMeans", "GaussianMixture", "BayesianGaussianMixture",
           "DBSCAN", "AgglomerativeClustering", "SpectralClustering", "MixtureOutlierDetector",
           "fit_batches", "BatchFit", "kmeans_plusplus", "effective_n_threads",
           "openmp_enabled", "save", "load", "__version__"]

#: Public name -> the private module defining it.
_LAZY = {
    "AgglomerativeClustering": "._agglomerative",
    "BayesianGaussianMixture": "._bayesian_mixture",
    "DBSCAN": "._dbscan",
    "GaussianMixture": "._gaussian_mixture",
    "KMeans": "._kmeans",
    "BatchFit": "._minibatch",
    "MiniBatchKMeans": "._minibatch",
    "fit_batches": "._minibatch",
    "MixtureOutlierDetector": "._outliers",
    "patch_sklearn": "._patch",
    "sklearn_is_patched": "._patch",
    "unpatch_sklearn": "._patch",
    "save": "._persistence",
    "load": "._persistence",
    "kmeans_plusplus": "._seeding",
    "SpectralClustering": "._spectral",
    "effective_n_threads": "._threads",
    "openmp_enabled": "._threads",
}
#: Public submodules, importable as attributes (``kmix.metrics``).
_SUBMODULES = ("datasets", "metrics", "model_selection")


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value     # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
