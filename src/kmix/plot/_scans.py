"""Plots that choose the number of clusters: scans and silhouette diagrams."""


def elbow(scan, *, ax=None):
    """Inertia per k of a :class:`kmix.model_selection.KMeansScan`, the elbow marked."""
    raise NotImplementedError


def silhouette_curve(scan, *, ax=None):
    """Mean silhouette per k of a KMeansScan, the best k marked."""
    raise NotImplementedError


def information_criteria(gmm_scan, *, criteria=("bic", "aic"), ax=None):
    """BIC/AIC per k and covariance type of a GMMScan, the best model marked."""
    raise NotImplementedError


def silhouette_diagram(X, labels, *, metric="euclidean", ax=None):
    """Sorted silhouette coefficients of each cluster ("knives") and the mean."""
    raise NotImplementedError
