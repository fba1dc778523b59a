"""Dendrogram of a fitted AgglomerativeClustering."""
import numpy as np
from scipy.cluster import hierarchy

from ._common import axes_or_new, check_fitted

__all__ = ["dendrogram", "linkage_matrix"]


def linkage_matrix(agglomerative):
    """scipy's linkage matrix of a fitted AgglomerativeClustering's full merge tree.

    Rows ``[child_a, child_b, distance, n_samples_under]``, from ``children_`` and
    ``distances_`` (the sizes counted by scipy's compiled ``from_mlab_linkage``).
    """
    check_fitted(agglomerative, "children_")
    if getattr(agglomerative, "distances_", None) is None:
        raise ValueError("the model has no distances_: fit AgglomerativeClustering with "
                         "compute_distances=True (or a distance_threshold) to draw its "
                         "dendrogram.")
    children = np.asarray(agglomerative.children_, dtype=np.float64)
    n_leaves = int(agglomerative.n_leaves_)
    if children.shape[0] != n_leaves - 1:
        raise ValueError(f"the dendrogram needs the full merge tree ({n_leaves - 1} merges), "
                         f"the model has {children.shape[0]}: fit with "
                         "compute_full_tree=True.")
    distances = np.asarray(agglomerative.distances_, dtype=np.float64)
    # MATLAB's format numbers nodes from 1; from_mlab_linkage adds the cluster sizes
    return hierarchy.from_mlab_linkage(np.column_stack([children + 1.0, distances]))


def dendrogram(agglomerative, *, ax=None, **dendrogram_params):
    """scipy's dendrogram of a fitted AgglomerativeClustering's merge tree.

    Parameters
    ----------
    agglomerative : fitted AgglomerativeClustering
        Fitted with ``compute_distances=True`` or a ``distance_threshold`` (the merge
        heights are its ``distances_``) and the full tree.
    ax : matplotlib Axes, default=None
        Where to draw (a new figure when None).
    **dendrogram_params
        Passed to :func:`scipy.cluster.hierarchy.dendrogram` (e.g. ``truncate_mode='level',
        p=3`` for large trees, ``color_threshold``).

    Returns
    -------
    ax : matplotlib Axes
        The dendrogram's result (leaves, colours, ...) is in ``ax.dendrogram_``.
    """
    Z = linkage_matrix(agglomerative)
    ax = axes_or_new(ax)
    if "ax" in dendrogram_params:
        raise TypeError("pass the Axes as ax=, not in dendrogram_params.")
    ax.dendrogram_ = hierarchy.dendrogram(Z, ax=ax, **dendrogram_params)
    ax.set_ylabel("merge distance")
    return ax
