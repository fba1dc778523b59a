"""kmix: compiled, deterministic drop-in replacements for scikit-learn's clustering estimators."""
from ._agglomerative import AgglomerativeClustering
from ._bayesian_mixture import BayesianGaussianMixture
from ._dbscan import DBSCAN
from ._gaussian_mixture import GaussianMixture
from ._kmeans import KMeans
from ._minibatch import BatchFit, MiniBatchKMeans, fit_batches
from ._outliers import MixtureOutlierDetector
from ._patch import patch_sklearn, sklearn_is_patched, unpatch_sklearn
from ._seeding import kmeans_plusplus
from ._spectral import SpectralClustering
from ._threads import effective_n_threads, openmp_enabled

__version__ = "0.1.0"

__all__ = ["KMeans", "MiniBatchKMeans", "GaussianMixture", "BayesianGaussianMixture",
           "DBSCAN", "AgglomerativeClustering", "SpectralClustering", "MixtureOutlierDetector",
           "fit_batches", "BatchFit", "kmeans_plusplus", "effective_n_threads",
           "openmp_enabled", "__version__"]
