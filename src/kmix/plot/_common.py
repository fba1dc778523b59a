"""What every kmix.plot function needs: an Axes, checked inputs, a grid over the data, one
colour per cluster."""
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from sklearn.utils.validation import check_array, check_is_fitted

#: Fraction of the data's extent added on each side of the grid of a region plot.
MARGIN = 0.05


def axes_or_new(ax):
    """``ax`` itself, or the Axes of a new figure when None (pyplot picks a headless backend
    when there is no display)."""
    if ax is None:
        import matplotlib.pyplot as plt

        return plt.figure().add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}.")
    return ax


def check_fitted(estimator, attributes=None):
    """NotFittedError (a ValueError) unless ``estimator`` is fitted."""
    if not hasattr(estimator, "fit"):
        raise TypeError(f"expected a fitted kmix estimator, got {type(estimator).__name__}.")
    check_is_fitted(estimator, attributes)
    return estimator


def check_plane(X, estimator=None):
    """X as a finite float array of shape (n_samples, 2) (what a plot in the plane draws)."""
    X = check_array(X, dtype=np.float64)
    if X.shape[1] != 2:
        raise ValueError(f"this plot draws 2-D data; X has {X.shape[1]} features (project it "
                         "to two first, e.g. with sklearn.decomposition.PCA, and fit on that).")
    n_features = getattr(estimator, "n_features_in_", 2)
    if n_features != 2:
        raise ValueError(f"the estimator was fitted on {n_features} features; this plot "
                         "draws estimators fitted on 2-D data.")
    return X


def plane_grid(X, resolution):
    """A resolution x resolution grid over the bounding box of X (plus a margin).

    Returns
    -------
    xx, yy : ndarray of shape (resolution, resolution)
    points : ndarray of shape (resolution ** 2, 2)
    """
    if isinstance(resolution, (bool, np.bool_)) or not isinstance(resolution, (int, np.integer)):
        raise TypeError(f"resolution must be an int, got {resolution!r}.")
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}.")
    low, high = X.min(axis=0), X.max(axis=0)
    pad = MARGIN * np.where(high > low, high - low, 1.0)
    xx, yy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], resolution))
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def cluster_colormap(n_clusters):
    """A colormap and norm giving cluster ``i`` (0 <= i < n_clusters) its own colour."""
    n_clusters = max(int(n_clusters), 1)
    if n_clusters <= 10:
        colors = colormaps["tab10"].colors[:n_clusters]
    elif n_clusters <= 20:
        colors = colormaps["tab20"].colors[:n_clusters]
    else:
        colors = colormaps["turbo"](np.linspace(0.0, 1.0, n_clusters))
    return ListedColormap(colors), BoundaryNorm(np.arange(n_clusters + 1) - 0.5, n_clusters)


def fill_regions(ax, xx, yy, labels, n_clusters, **params):
    """Filled contours of integer labels 0..n_clusters-1 on the grid, one colour each."""
    cmap, norm = cluster_colormap(n_clusters)
    return ax.contourf(xx, yy, labels.reshape(xx.shape), levels=norm.boundaries, cmap=cmap,
                       norm=norm, **params)


def boundary_lines(ax, xx, yy, labels, n_clusters, **params):
    """Lines where the integer labels on the grid change."""
    if n_clusters < 2:
        return None
    return ax.contour(xx, yy, labels.reshape(xx.shape), levels=np.arange(n_clusters - 1) + 0.5,
                      **params)


def integer_ticks(ax):
    """Only integers on the x axis (values of k)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
