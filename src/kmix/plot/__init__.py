"""Plots of fitted kmix estimators and scans (needs matplotlib: ``pip install "kmix[plot]"``).

Every function draws into the ``ax`` it is given (a new figure when None) and returns the
Axes; none calls ``plt.show()`` or changes the backend, so they work headless (Agg) as well
as in a notebook.
"""
import importlib

try:
    importlib.import_module("matplotlib")
except ImportError:
    raise ImportError('kmix.plot needs matplotlib: install it with pip install "kmix[plot]" '
                      '(or pip install matplotlib).') from None

from ._images import quantize, segmentation_grid
from ._regions import decision_regions, mixture_density
from ._scans import elbow, information_criteria, silhouette_curve, silhouette_diagram
from ._tree import dendrogram

__all__ = ["decision_regions", "mixture_density", "elbow", "silhouette_curve",
           "information_criteria", "silhouette_diagram", "quantize", "segmentation_grid",
           "dendrogram"]
