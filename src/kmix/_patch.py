"""Make scikit-learn's public clustering names resolve to kmix's (:func:`patch_sklearn`)."""
import importlib

__all__ = ["patch_sklearn", "unpatch_sklearn", "sklearn_is_patched", "PATCHED_NAMES"]

_METRICS = ("silhouette_score", "silhouette_samples", "calinski_harabasz_score",
            "davies_bouldin_score")

#: scikit-learn module -> {name: kmix module providing the object of the same name}.
PATCHED_NAMES = {
    "sklearn.cluster": {name: "kmix" for name in (
        "KMeans", "MiniBatchKMeans", "DBSCAN", "SpectralClustering", "AgglomerativeClustering",
        "kmeans_plusplus")},
    "sklearn.mixture": {"GaussianMixture": "kmix", "BayesianGaussianMixture": "kmix"},
    "sklearn.metrics": {name: "kmix.metrics" for name in _METRICS},
    "sklearn.metrics.cluster": {name: "kmix.metrics" for name in _METRICS},
}

# (scikit-learn module, name) -> the object the module held before patch_sklearn().
_originals = {}


def patch_sklearn() -> None:
    """Bind scikit-learn's public clustering names to kmix's objects.

    After the call, ``from sklearn.cluster import KMeans`` (and ``MiniBatchKMeans``,
    ``DBSCAN``, ``SpectralClustering``, ``AgglomerativeClustering``, ``kmeans_plusplus``),
    ``from sklearn.mixture import GaussianMixture, BayesianGaussianMixture`` and
    ``from sklearn.metrics import silhouette_score, silhouette_samples,
    calinski_harabasz_score, davies_bouldin_score`` (also from ``sklearn.metrics.cluster``)
    give kmix's objects; :data:`PATCHED_NAMES` lists them. Calling it again changes nothing.

    Only lookups made after the call are affected: a module that ran ``from sklearn.cluster
    import KMeans`` before it keeps scikit-learn's class (the import bound the object), so
    patch before importing the code to accelerate, or run it with ``python -m kmix.patch
    script.py``. Lookups through the module at call time (``sklearn.cluster.KMeans(...)``)
    do see kmix's, including scikit-learn's own: the k-means initialisation of an unpatched
    ``GaussianMixture`` created earlier then runs ``kmix.KMeans``. Private paths
    (``sklearn.cluster._kmeans.KMeans``) and the function forms (``k_means``, ``dbscan``,
    ``spectral_clustering``) are left alone. kmix's objects differ from scikit-learn's as the
    README's "Differences from scikit-learn" lists (parameters kmix lacks raise ``TypeError``).
    """
    for module_name, names in PATCHED_NAMES.items():
        module = importlib.import_module(module_name)
        for name, kmix_module in names.items():
            replacement = getattr(importlib.import_module(kmix_module), name)
            _originals.setdefault((module_name, name), getattr(module, name))
            setattr(module, name, replacement)


def unpatch_sklearn() -> None:
    """Restore the objects :func:`patch_sklearn` replaced (a no-op if it was not called).

    Like patching, this affects later lookups only: names imported while scikit-learn was
    patched stay bound to kmix's objects.
    """
    for (module_name, name), original in _originals.items():
        setattr(importlib.import_module(module_name), name, original)
    _originals.clear()


def sklearn_is_patched() -> bool:
    """Whether :func:`patch_sklearn` is in effect (called and not undone)."""
    return bool(_originals)
