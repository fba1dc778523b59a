"""Dendrogram of a fitted AgglomerativeClustering."""


def dendrogram(agglomerative, *, ax=None, **dendrogram_params):
    """scipy's dendrogram of the merge tree (``children_`` and ``distances_``)."""
    raise NotImplementedError
