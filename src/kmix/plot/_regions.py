"""Plots in the plane of the data: cluster regions and mixture densities."""


def decision_regions(estimator, X, *, ax=None, resolution=300):
    """Regions of ``estimator.predict`` over the bounding box of 2-D X, samples and centres."""
    raise NotImplementedError


def mixture_density(gm, X, detector=None, *, ax=None, resolution=300):
    """Log-density contours of a fitted mixture, its decision boundaries and anomalies."""
    raise NotImplementedError
