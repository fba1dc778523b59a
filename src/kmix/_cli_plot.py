"""``--plot``: the command line's figures, drawn with :mod:`kmix.plot` on a figure of its own
(no pyplot, so no display and no global backend) and saved in the format of the suffix."""
from ._cli_io import CLIError, write_atomically

__all__ = ["SUFFIXES", "require", "clusters", "anomalies", "scan"]

#: Formats ``--plot`` writes (matplotlib's Agg, PDF and SVG backends).
SUFFIXES = (".png", ".pdf", ".svg")
_PANEL_INCHES = 5.0


def require(what="--plot"):
    """kmix.plot, or a one-line error naming the extra that installs matplotlib (and with it
    Pillow, which reads and writes the images of ``kmix segment``)."""
    try:
        from . import plot
    except ImportError:
        raise CLIError(f'{what} needs matplotlib: pip install "kmix[plot]"') from None
    return plot


def _save(path, draws):
    """One panel per ``draw(ax)`` side by side, saved to ``path``."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_PANEL_INCHES * len(draws), _PANEL_INCHES * 0.85),
                    layout="constrained")
    axes = figure.subplots(1, len(draws), squeeze=False)[0]
    for ax, draw in zip(axes, draws):
        draw(ax)
    write_atomically(path, lambda name: figure.savefig(name, format=path.rsplit(".", 1)[-1]
                                                       .lower(), dpi=100))


def _scan_panels(plot, scan):
    from .model_selection import KMeansScan

    if isinstance(scan, KMeansScan):
        return [lambda ax: plot.elbow(scan, ax=ax), lambda ax: plot.silhouette_curve(scan, ax=ax)]
    return [lambda ax: plot.information_criteria(scan, ax=ax)]


def clusters(path, model, X, labels, scan=None, *, sample, random_state):
    """The clusters: their regions on 2-D data, the silhouette diagram (two or more clusters
    and not every row its own; on ``sample`` random rows of larger data), and the scan that
    chose k."""
    import numpy as np

    plot = require()
    draws = []
    if X.shape[1] == 2:
        draws.append(lambda ax: plot.decision_regions(model, X, ax=ax))
    rows = slice(None)
    if X.shape[0] > sample:
        rows = np.sort(np.random.RandomState(random_state).choice(X.shape[0], sample,
                                                                   replace=False))
    if 2 <= np.unique(labels[rows]).size < labels[rows].size:
        draws.append(lambda ax: plot.silhouette_diagram(X[rows], labels[rows], ax=ax))
    if scan is not None:
        draws += _scan_panels(plot, scan)
    if not draws:
        raise CLIError("nothing to plot: one cluster on more than 2 features")
    _save(path, draws)


def anomalies(path, mixture, X, detector):
    """The mixture's log-density with the flagged rows (2 features)."""
    plot = require()
    _save(path, [lambda ax: plot.mixture_density(mixture, X, detector, ax=ax)])


def scan(path, result):
    """Inertia and silhouette per k (k-means) or BIC/AIC per k (mixtures)."""
    _save(path, _scan_panels(require(), result))
