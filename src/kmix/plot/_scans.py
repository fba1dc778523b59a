"""Plots that choose the number of clusters: scans and silhouette diagrams."""
import numpy as np

from ..metrics import silhouette_samples
from ..model_selection import GMMScan, KMeansScan
from ._common import axes_or_new, cluster_colormap, integer_ticks

__all__ = ["elbow", "silhouette_curve", "information_criteria", "silhouette_diagram"]

_CRITERIA = ("bic", "aic")
_LINESTYLES = {"bic": "-", "aic": "--"}


def _check_scan(scan, kind):
    if not isinstance(scan, kind):
        raise TypeError(f"expected a {kind.__name__} (from kmix.model_selection), got "
                        f"{type(scan).__name__}.")
    return scan


def _curve(ax, k, values, chosen_k, name, choice):
    """values per k as a line, the chosen k as a large red dot with a dotted vertical line."""
    ax.plot(k, values, "o-", color="tab:blue", label=name)
    if chosen_k is not None:
        value = values[int(np.flatnonzero(k == chosen_k)[0])]
        ax.axvline(chosen_k, color="red", linestyle=":", linewidth=1)
        ax.plot([chosen_k], [value], "o", color="red", markersize=10,
                label=f"{choice}: k={chosen_k}")
    integer_ticks(ax)
    ax.set_xlabel("k")
    ax.set_ylabel(name)
    ax.legend()
    return ax


def elbow(scan, *, ax=None):
    """Inertia per k of a k-means scan, the elbow marked.

    Parameters
    ----------
    scan : KMeansScan
        From :func:`kmix.model_selection.scan_kmeans`.
    ax : matplotlib Axes, default=None
        Where to draw (a new figure when None).

    Returns
    -------
    ax : matplotlib Axes
        Two lines: 'inertia' (k, inertia) and 'elbow: k=...' (one point at ``scan.elbow_k``,
        absent when the scan has fewer than three k).
    """
    _check_scan(scan, KMeansScan)
    order = np.argsort(scan.k)
    return _curve(axes_or_new(ax), scan.k[order], scan.inertia[order], scan.elbow_k,
                  "inertia", "elbow")


def silhouette_curve(scan, *, ax=None):
    """Mean silhouette per k of a k-means scan, the best k marked.

    Parameters
    ----------
    scan : KMeansScan
        From :func:`kmix.model_selection.scan_kmeans` with ``silhouette=True``.
    ax : matplotlib Axes, default=None
        Where to draw (a new figure when None).

    Returns
    -------
    ax : matplotlib Axes
        Two lines: 'silhouette' (k, mean silhouette; NaN for k=1 leaves a gap) and
        'best: k=...' (one point at ``scan.best_silhouette_k``).
    """
    _check_scan(scan, KMeansScan)
    if scan.silhouette is None:
        raise ValueError("the scan has no silhouette scores: run scan_kmeans with "
                         "silhouette=True.")
    order = np.argsort(scan.k)
    return _curve(axes_or_new(ax), scan.k[order], scan.silhouette[order],
                  scan.best_silhouette_k, "silhouette", "best")


def information_criteria(gmm_scan, *, criteria=("bic", "aic"), ax=None):
    """BIC and/or AIC per k, one line per covariance type, the scan's best model marked.

    Parameters
    ----------
    gmm_scan : GMMScan
        From :func:`kmix.model_selection.scan_gmm`.
    criteria : sequence of {'bic', 'aic'}, default=('bic', 'aic')
        Which criteria to draw (BIC solid lines, AIC dashed).
    ax : matplotlib Axes, default=None
        Where to draw (a new figure when None).

    Returns
    -------
    ax : matplotlib Axes
        Lines labelled 'BIC full', 'AIC diag', ... (k, criterion of that covariance type)
        and 'best: k=... <covariance type> (<criterion>)', one point at the scan's best model
        and its value of the criterion it was chosen by.
    """
    _check_scan(gmm_scan, GMMScan)
    criteria = (criteria,) if isinstance(criteria, str) else tuple(criteria)
    if not criteria or any(c not in _CRITERIA for c in criteria):
        raise ValueError(f"criteria must be a non-empty subset of {_CRITERIA}, got {criteria!r}.")
    ax = axes_or_new(ax)
    covariance_types = list(dict.fromkeys(gmm_scan.covariance_type.tolist()))
    cmap, _ = cluster_colormap(len(covariance_types))
    for colour, cov in zip(cmap.colors, covariance_types):
        rows = np.flatnonzero(gmm_scan.covariance_type == cov)
        rows = rows[np.argsort(gmm_scan.k[rows])]
        for criterion in criteria:
            ax.plot(gmm_scan.k[rows], getattr(gmm_scan, criterion)[rows], marker="o",
                    markersize=4, linestyle=_LINESTYLES[criterion], color=colour,
                    label=f"{criterion.upper()} {cov}")
    best = int(np.flatnonzero((gmm_scan.k == gmm_scan.best_k)
                              & (gmm_scan.covariance_type == gmm_scan.best_covariance_type))[0])
    ax.plot([gmm_scan.best_k], [getattr(gmm_scan, gmm_scan.criterion)[best]], "*",
            color="red", markersize=16, label=f"best: k={gmm_scan.best_k} "
            f"{gmm_scan.best_covariance_type} ({gmm_scan.criterion.upper()})")
    integer_ticks(ax)
    ax.set_xlabel("k")
    ax.set_ylabel(" / ".join(c.upper() for c in criteria))
    ax.legend(fontsize="small")
    return ax


def silhouette_diagram(X, labels, *, metric="euclidean", ax=None):
    """The silhouette coefficients of each cluster, sorted ("knives"), and their mean.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Any number of features (or distances with ``metric='precomputed'``).
    labels : array-like of shape (n_samples,)
        Cluster labels; every distinct value (-1 too) is one cluster, 2 to n_samples - 1 of
        them.
    metric : str or callable, default='euclidean'
        As in :func:`kmix.metrics.silhouette_samples`.
    ax : matplotlib Axes, default=None
        Where to draw (a new figure when None).

    Returns
    -------
    ax : matplotlib Axes
        One filled band per cluster, labelled with the cluster's label (clusters in sorted
        order from the bottom up, each band's coefficients increasing upwards), and a
        vertical line at the mean silhouette, labelled 'mean silhouette'.
    """
    coefficients = silhouette_samples(X, labels, metric=metric)
    labels = np.asarray(labels).ravel()
    ax = axes_or_new(ax)
    clusters = np.unique(labels)
    cmap, _ = cluster_colormap(clusters.size)
    gap = max(coefficients.size // 50, 2)
    bottom = gap
    for colour, cluster in zip(cmap.colors, clusters):
        values = np.sort(coefficients[labels == cluster])
        ax.fill_betweenx(np.arange(bottom, bottom + values.size), 0.0, values, color=colour,
                         alpha=0.8, label=str(cluster))
        ax.text(-0.01, bottom + values.size / 2, str(cluster), ha="right", va="center",
                transform=ax.get_yaxis_transform())
        bottom += values.size + gap
    mean = float(coefficients.mean())
    ax.axvline(mean, color="red", linestyle="--", label="mean silhouette")
    ax.set_xlim(min(-0.1, float(coefficients.min()) - 0.05), 1.0)
    ax.set_ylim(0, bottom)
    ax.set_yticks([])
    ax.set_xlabel("silhouette coefficient")
    ax.set_ylabel("cluster", labelpad=14)
    ax.set_title(f"mean silhouette {mean:.3f}")
    return ax
