"""Plots in the plane of the data: cluster regions and mixture densities."""
import numpy as np
from sklearn.neighbors import NearestNeighbors

from .._outliers import MixtureOutlierDetector
from .._validation import check_int
from ._common import (
    axes_or_new,
    boundary_lines,
    check_fitted,
    check_plane,
    cluster_colormap,
    fill_regions,
    plane_grid,
)

__all__ = ["decision_regions", "mixture_density"]


def _colour_indices(*label_arrays):
    """Each array of labels as indices 0..n-1 into the sorted labels of all of them, and n."""
    labels = np.unique(np.concatenate([np.asarray(a).ravel() for a in label_arrays]))
    return [np.searchsorted(labels, a) for a in label_arrays], labels.size


#: Mixture components lighter than this are not marked (a Bayesian mixture leaves the
#: components it does not need with weights near zero, their means anywhere).
NEGLIGIBLE_WEIGHT = 1e-3


def _centres(estimator):
    """The cluster centres (k-means) or component means (mixtures), or None; and the indices
    of those worth marking (all but the mixture components of negligible weight)."""
    for name in ("cluster_centers_", "means_"):
        centres = getattr(estimator, name, None)
        if centres is not None:
            centres = np.asarray(centres, dtype=np.float64)
            weights = getattr(estimator, "weights_", None)
            if weights is None:
                return centres, np.arange(centres.shape[0])
            return centres, np.flatnonzero(np.asarray(weights) >= NEGLIGIBLE_WEIGHT)
    return None, None


def _training_labels(estimator, X):
    labels = np.asarray(estimator.labels_)
    if labels.shape[0] != X.shape[0]:
        raise ValueError(f"{type(estimator).__name__} has no predict: X must be the data it "
                         f"was fitted on ({labels.shape[0]} samples), got {X.shape[0]} samples.")
    return labels


def _predicted_regions(estimator, X, ax, resolution):
    xx, yy, grid = plane_grid(X, resolution)
    centres, marked = _centres(estimator)
    given = [estimator.predict(grid), estimator.predict(X)]
    if centres is not None:
        given.append(np.arange(centres.shape[0]))
    (grid_colour, sample_colour, *centre_colour), n = _colour_indices(*given)
    cmap, norm = cluster_colormap(n)
    fill_regions(ax, xx, yy, grid_colour, n, alpha=0.3).set_gid("regions")
    lines = boundary_lines(ax, xx, yy, grid_colour, n, colors="k", linewidths=0.8)
    if lines is not None:
        lines.set_gid("boundaries")
    ax.scatter(X[:, 0], X[:, 1], c=sample_colour, cmap=cmap, norm=norm, s=8, linewidths=0,
               label="samples")
    if centres is not None:
        ax.scatter(centres[marked, 0], centres[marked, 1], c=centre_colour[0][marked],
                   cmap=cmap, norm=norm, marker="X", s=160, edgecolors="k", linewidths=1.5,
                   label="centres", zorder=3)


def _dbscan_regions(estimator, X, ax, resolution):
    """Where a new point would join a cluster (within eps of a core sample: the cluster of the
    nearest one), and the core, border and noise samples."""
    labels = _training_labels(estimator, X)
    core = np.asarray(estimator.core_sample_indices_, dtype=np.intp)
    if core.size and not np.allclose(X[core], estimator.components_):
        raise ValueError("X is not the data DBSCAN was fitted on: its core samples differ from "
                         "components_.")
    is_core = np.zeros(X.shape[0], dtype=bool)
    is_core[core] = True
    colour = np.where(labels >= 0, labels, 0)
    n = max(int(labels.max()) + 1, 1)
    cmap, norm = cluster_colormap(n)
    if core.size:
        xx, yy, grid = plane_grid(X, resolution)
        search = {"metric": estimator.metric, "metric_params": estimator.metric_params}
        if estimator.p is not None:
            search["p"] = estimator.p
        distance, nearest = NearestNeighbors(n_neighbors=1, **search).fit(
            estimator.components_).kneighbors(grid)
        grid_labels = np.ma.masked_array(labels[core][nearest[:, 0]],
                                         mask=distance[:, 0] > estimator.eps)
        fill_regions(ax, xx, yy, grid_labels, n, alpha=0.3).set_gid("regions")
    border = ~is_core & (labels >= 0)
    noise = labels < 0
    ax.scatter(X[is_core, 0], X[is_core, 1], c=colour[is_core], cmap=cmap, norm=norm, s=30,
               edgecolors="k", linewidths=0.3, label="core")
    ax.scatter(X[border, 0], X[border, 1], c=colour[border], cmap=cmap, norm=norm, s=30,
               marker=".", label="border")
    ax.scatter(X[noise, 0], X[noise, 1], c="red", marker="x", s=40, linewidths=1,
               label="noise")


def _labelled_samples(estimator, X, ax):
    (colour,), n = _colour_indices(_training_labels(estimator, X))
    cmap, norm = cluster_colormap(n)
    ax.scatter(X[:, 0], X[:, 1], c=colour, cmap=cmap, norm=norm, s=8, linewidths=0,
               label="samples")


def decision_regions(estimator, X, *, ax=None, resolution=300):
    """Regions of a fitted clusterer over the bounding box of 2-D data, its samples and centres.

    - Estimators with ``predict`` (KMeans, MiniBatchKMeans, GaussianMixture,
      BayesianGaussianMixture, ...): the plane coloured by ``predict`` on a grid over X's
      bounding box, the boundaries between regions, X coloured by its predicted cluster and
      the centres (``cluster_centers_``, or the ``means_`` of the components of weight
      0.1 % or more) as large crosses.
    - DBSCAN (no ``predict``): the region of each cluster is where a new point is within
      ``eps`` of one of its core samples (the cluster of the nearest core sample); the rest
      of the plane is left blank. Core samples are drawn as circles, border samples as dots,
      noise as red crosses (artists labelled 'core', 'border', 'noise'). X must be the data
      DBSCAN was fitted on.
    - Other fitted clusterers (AgglomerativeClustering, SpectralClustering): no regions, X
      (the data they were fitted on) coloured by ``labels_``.

    Parameters
    ----------
    estimator : fitted estimator
        Fitted on 2-D data.
    X : array-like of shape (n_samples, 2)
        The samples to draw; their bounding box (plus 5 % on each side) is the plotted area.
    ax : matplotlib Axes, default=None
        Where to draw (a new figure when None).
    resolution : int, default=300
        Grid points along each axis.

    Returns
    -------
    ax : matplotlib Axes
        Its contour sets have the gid 'regions' (filled, level i the region of the i-th
        smallest label) and 'boundaries' (lines); its scatters are labelled 'samples' and
        'centres', or 'core', 'border' and 'noise' for DBSCAN.
    """
    check_fitted(estimator)
    if "precomputed" in (getattr(estimator, "metric", None), getattr(estimator, "affinity", None)):
        raise ValueError(f"{type(estimator).__name__} was fitted on precomputed distances or "
                         "affinities: there are no points to draw in the plane.")
    X = check_plane(X, estimator)
    ax = axes_or_new(ax)
    if hasattr(estimator, "core_sample_indices_"):
        _dbscan_regions(estimator, X, ax, resolution)
    elif hasattr(estimator, "predict"):
        _predicted_regions(estimator, X, ax, resolution)
    elif hasattr(estimator, "labels_"):
        _labelled_samples(estimator, X, ax)
    else:
        raise TypeError(f"{type(estimator).__name__} has neither predict nor labels_: "
                        "nothing to draw.")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def _density_levels(density, sample_density, n_levels):
    """Evenly spaced log-density levels from a little below the least dense sample to the
    highest density on the grid."""
    high = float(density.max())
    low = float(sample_density.min())
    low -= 0.25 * max(high - low, 1.0)
    return np.linspace(low, high, n_levels)


def _check_detector(detector):
    if detector is None:
        return None
    if not isinstance(detector, MixtureOutlierDetector):
        raise TypeError("detector must be a fitted kmix MixtureOutlierDetector or None, got "
                        f"{type(detector).__name__}.")
    check_fitted(detector, "threshold_")
    if detector.n_features_in_ != 2:
        raise ValueError(f"the detector was fitted on {detector.n_features_in_} features; this "
                         "plot draws 2-D data.")
    return detector


def mixture_density(gm, X, detector=None, *, ax=None, resolution=300, n_levels=12):
    """Log-density of a fitted mixture over 2-D data, its decision boundaries and anomalies.

    Draws filled contours of ``gm.score_samples`` over X's bounding box, dashed red lines
    where ``gm.predict`` changes component, X as black dots and the means of the components
    of weight 0.1 % or more (a Bayesian mixture leaves unneeded ones near zero); with a
    fitted :class:`kmix.MixtureOutlierDetector`, its density threshold as an orange line and
    the samples of X it flags (``predict == -1``) as red stars.

    Parameters
    ----------
    gm : fitted GaussianMixture or BayesianGaussianMixture
        Fitted on 2-D data.
    X : array-like of shape (n_samples, 2)
    detector : fitted MixtureOutlierDetector, default=None
    ax : matplotlib Axes, default=None
        Where to draw (a new figure when None).
    resolution : int, default=300
        Grid points along each axis.
    n_levels : int, default=12
        Number of density contour levels.

    Returns
    -------
    ax : matplotlib Axes
        Its contour sets have the gid 'log-density' (filled), 'decision boundaries' and
        'density threshold' (lines); its scatters are labelled 'samples', 'means' and
        'anomalies'.
    """
    check_fitted(gm)
    if not (hasattr(gm, "score_samples") and hasattr(gm, "predict")):
        raise TypeError(f"gm must be a fitted mixture (score_samples and predict), got "
                        f"{type(gm).__name__}.")
    X = check_plane(X, gm)
    detector = _check_detector(detector)
    n_levels = check_int("n_levels", n_levels, low=2)
    ax = axes_or_new(ax)
    xx, yy, grid = plane_grid(X, resolution)
    density = gm.score_samples(grid)
    levels = _density_levels(density, gm.score_samples(X), n_levels)
    filled = ax.contourf(xx, yy, density.reshape(xx.shape), levels=levels, cmap="viridis",
                         extend="min", alpha=0.8)
    filled.set_gid("log-density")
    ax.figure.colorbar(filled, ax=ax, label="log-density")
    (components,), n = _colour_indices(gm.predict(grid))
    lines = boundary_lines(ax, xx, yy, components, n, colors="red", linestyles="dashed",
                           linewidths=1.5)
    if lines is not None:
        lines.set_gid("decision boundaries")
    ax.scatter(X[:, 0], X[:, 1], c="k", s=2, label="samples")
    means, marked = _centres(gm)
    if means is not None:
        ax.scatter(means[marked, 0], means[marked, 1], c="white", marker="X", s=120,
                   edgecolors="k", linewidths=1.5, label="means", zorder=3)
    if detector is not None:
        ax.contour(xx, yy, detector.score_samples(grid).reshape(xx.shape),
                   levels=[detector.threshold_], colors="orange",
                   linewidths=2).set_gid("density threshold")
        flagged = X[detector.predict(X) == -1]
        ax.scatter(flagged[:, 0], flagged[:, 1], c="red", marker="*", s=100, edgecolors="k",
                   linewidths=0.5, label="anomalies", zorder=4)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax
