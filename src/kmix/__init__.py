"""kmix: compiled, deterministic drop-in replacements for scikit-learn's clustering estimators."""
from ._kmeans import KMeans
from ._seeding import kmeans_plusplus
from ._threads import effective_n_threads, openmp_enabled

__version__ = "0.1.0"

__all__ = ["KMeans", "kmeans_plusplus", "effective_n_threads", "openmp_enabled", "__version__"]
