"""Choosing the number of clusters: k-means scans (inertia elbow, silhouette) and Gaussian-
mixture scans (BIC/AIC over k and covariance type).

Each scan validates X once and fits kmix's estimators one k after the other (every fit uses
all cores); a scan's models are exactly those of fitting each k separately with the same
parameters and ``random_state``.
"""
from __future__ import annotations

import numbers
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_array

from ._core import _silhouette
from ._gaussian_mixture import GaussianMixture
from ._kmeans import KMeans
from ._mixture import COVARIANCE_TYPES
from ._progress import report
from ._threads import effective_n_threads, threads_for
from ._typing import ArrayLike, FloatArray, IntArray, NDArray, RandomStateLike
from ._validation import check_choice, check_magnitude
from .metrics import _silhouette_from_sums, silhouette_score

if TYPE_CHECKING:
    import pandas

__all__ = ["scan_kmeans", "scan_gmm", "KMeansScan", "GMMScan", "elbow"]


#: Largest pairwise-distance matrix a k-means scan keeps to reuse across k (n <= ~2900).
_SCAN_DISTANCES_MAX_BYTES = 64 * 1024 * 1024


def _pairwise_distances(X):
    """Euclidean distances as scikit-learn computes them (sqrt(max(xx + yy - 2 x.y, 0)), 0 on
    the diagonal), in float64."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.einsum("ij,ij->i", X, X)
    D = X @ X.T
    D *= -2.0
    D += norms[:, None]
    D += norms[None, :]
    np.maximum(D, 0.0, out=D)
    np.sqrt(D, out=D)
    np.fill_diagonal(D, 0.0)
    return D


def _silhouette_from_distances(D, labels, n_threads):
    """Mean silhouette of ``labels`` from a precomputed distance matrix."""
    encoded = LabelEncoder().fit_transform(labels).astype(np.int32)
    k = int(encoded.max()) + 1
    sums = np.empty((D.shape[0], k))
    _silhouette.cluster_sums_from_distances(
        D, encoded, k, sums, threads_for(effective_n_threads(n_threads), D.shape[0], k, 1))
    return float(np.mean(_silhouette_from_sums(sums, encoded, k)))


def _check_k_range(k_range, n_samples, low):
    ks = np.asarray(list(k_range))
    if ks.ndim != 1 or ks.size == 0:
        raise ValueError("k_range must be a non-empty sequence of ints.")
    if not all(isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_))
               for k in ks.tolist()):
        raise TypeError(f"k_range must contain ints, got {list(k_range)!r}.")
    ks = ks.astype(int)
    if ks.min() < low or ks.max() > n_samples:
        raise ValueError(f"every k must be in [{low}, n_samples={n_samples}], got "
                         f"{ks.min()}..{ks.max()}.")
    if np.unique(ks).size != ks.size:
        raise ValueError("k_range must not repeat a k.")
    return ks


def elbow(k: ArrayLike, inertia: ArrayLike) -> int:
    """The elbow of an inertia curve: the k where the curve bends most sharply.

    For each interior k, the slope of the curve before it (inertia lost per extra cluster)
    divided by the slope after it; the elbow is the k with the largest ratio: adding clusters
    up to it pays, beyond it hardly. The curve is first made non-increasing (the inertia at k
    is taken as the lowest at k or fewer clusters: a fit with more clusters that ended worse,
    e.g. with ``n_init=1``, says nothing about the bend), and a slope after k counts as at
    least 1% of the curve's mean slope, so a flat or rising tail cannot make a late k look
    like the elbow. Needs three or more values of k; they are taken in increasing order.
    """
    k = np.asarray(k, dtype=np.float64)
    y = np.asarray(inertia, dtype=np.float64)
    if k.size < 3:
        raise ValueError("the elbow needs at least three values of k.")
    order = np.argsort(k)
    k, y = k[order], np.minimum.accumulate(y[order])
    slopes = -np.diff(y) / np.diff(k)          # inertia lost per cluster, segment by segment
    mean_slope = (y[0] - y[-1]) / (k[-1] - k[0])
    floor = max(0.01 * mean_slope, 1e-12 * max(abs(y).max(), 1e-300))
    ratio = slopes[:-1] / np.maximum(slopes[1:], floor)
    return int(k[1:-1][int(np.argmax(ratio))])


def _table(columns):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is optional
        raise ImportError("to_frame() needs pandas; as_table() gives the same columns as a "
                          "dict of arrays.") from None
    return pd.DataFrame(columns)


@dataclass
class KMeansScan:
    """Result of :func:`scan_kmeans`.

    Attributes
    ----------
    k, inertia : ndarray
        The k scanned and each fit's inertia.
    silhouette : ndarray or None
        Mean silhouette of each fit (NaN for k=1), when asked for.
    models : list of KMeans
    elbow_k : int or None
        The elbow of the inertia curve (:func:`elbow`; None with fewer than 3 k).
    best_silhouette_k : int or None
        The k of the highest silhouette.
    """
    k: IntArray
    inertia: FloatArray
    silhouette: FloatArray | None = None
    models: list[KMeans] = field(default_factory=list, repr=False)
    elbow_k: int | None = None
    best_silhouette_k: int | None = None

    def as_table(self) -> dict[str, np.ndarray]:
        """The scan as a dict of columns (k, inertia[, silhouette])."""
        table = {"k": self.k, "inertia": self.inertia}
        if self.silhouette is not None:
            table["silhouette"] = self.silhouette
        return table

    def to_frame(self) -> pandas.DataFrame:
        """The scan as a pandas DataFrame (needs pandas)."""
        return _table(self.as_table())


@dataclass
class GMMScan:
    """Result of :func:`scan_gmm`: one row per (covariance type, k).

    Attributes
    ----------
    k : ndarray of int
    covariance_type : ndarray of str
    bic, aic : ndarray
    models : list of GaussianMixture (same order)
    criterion : str
    best_k, best_covariance_type, best_model : the row with the lowest criterion.
    """
    k: IntArray
    covariance_type: NDArray[np.str_]
    bic: FloatArray
    aic: FloatArray
    models: list[GaussianMixture] = field(default_factory=list, repr=False)
    criterion: str = "bic"
    best_k: int | None = None
    best_covariance_type: str | None = None
    best_model: GaussianMixture | None = field(default=None, repr=False)

    def as_table(self) -> dict[str, np.ndarray]:
        """The scan as a dict of columns (covariance_type, k, bic, aic)."""
        return {"covariance_type": self.covariance_type, "k": self.k, "bic": self.bic,
                "aic": self.aic}

    def to_frame(self) -> pandas.DataFrame:
        """The scan as a pandas DataFrame (needs pandas)."""
        return _table(self.as_table())


def scan_kmeans(X: ArrayLike, k_range: Iterable[int], *, n_init: int | str = "auto",
                random_state: RandomStateLike = None, silhouette: bool = True,
                n_threads: int | None = None, verbose: int = 0,
                **kmeans_params: object) -> KMeansScan:
    """Fit :class:`kmix.KMeans` for every k; inertia, silhouette, elbow and best silhouette.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k_range : iterable of int
        Values of k (1 <= k <= n_samples).
    n_init, random_state, n_threads, **kmeans_params
        Passed to every :class:`kmix.KMeans` (the same ``random_state`` for each k, as a loop
        over ``KMeans(k, random_state=...)`` would).
    silhouette : bool, default=True
        Also compute each fit's mean silhouette (NaN for k=1 or k=n_samples). On data of up
        to ~2900 samples the pairwise distances are computed once for the whole scan (64 MiB
        at most) and each k costs O(n^2) additions; larger data use the compiled O(n^2 d)
        silhouette, which never holds them.
    verbose : int, default=0
        Print a line per k.

    Returns
    -------
    KMeansScan
    """
    X = check_magnitude(check_array(X, dtype=[np.float64, np.float32], order="C"))
    ks = _check_k_range(k_range, X.shape[0], 1)
    inertia = np.empty(ks.size)
    scores = np.full(ks.size, np.nan) if silhouette else None
    # Small data: the pairwise distances once for the whole scan (then each k's silhouette
    # is O(n^2) additions instead of O(n^2 d) with square roots).
    distances = None
    if silhouette and ks.size > 1 and X.shape[0] ** 2 * 8 <= _SCAN_DISTANCES_MAX_BYTES:
        distances = _pairwise_distances(X)
    models = []
    for i, k in enumerate(ks):
        start = time.perf_counter()
        model = KMeans(n_clusters=int(k), n_init=n_init, random_state=random_state,
                       n_threads=n_threads, **kmeans_params).fit(X)
        models.append(model)
        inertia[i] = model.inertia_
        report("fit", i + 1, ks.size)
        if silhouette and 1 < np.unique(model.labels_).size < X.shape[0]:
            if distances is None:
                scores[i] = silhouette_score(X, model.labels_, n_threads=n_threads)
            else:
                scores[i] = _silhouette_from_distances(distances, model.labels_, n_threads)
        if verbose:
            extra = f", silhouette {scores[i]:.4f}" if silhouette else ""
            print(f"[scan_kmeans] k={k}: inertia {inertia[i]:.6g}{extra} "
                  f"({time.perf_counter() - start:.2f} s)")
    best_sil = None
    if silhouette and np.any(np.isfinite(scores)):
        best_sil = int(ks[int(np.nanargmax(scores))])
    return KMeansScan(k=ks, inertia=inertia, silhouette=scores, models=models,
                      elbow_k=elbow(ks, inertia) if ks.size >= 3 else None,
                      best_silhouette_k=best_sil)


def scan_gmm(X: ArrayLike, k_range: Iterable[int], *,
             covariance_types: str | Iterable[str] = COVARIANCE_TYPES, criterion: str = "bic",
             n_init: int = 1, random_state: RandomStateLike = None,
             n_threads: int | None = None, verbose: int = 0,
             **gmm_params: object) -> GMMScan:
    """Fit :class:`kmix.GaussianMixture` for every (covariance type, k); pick by BIC or AIC.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k_range : iterable of int
        Numbers of components (1 <= k <= n_samples).
    covariance_types : sequence of {'full', 'tied', 'diag', 'spherical'}
    criterion : {'bic', 'aic'}, default='bic'
        The model with the lowest value is the best.
    n_init, random_state, n_threads, **gmm_params
        Passed to every :class:`kmix.GaussianMixture`.
    verbose : int, default=0
        Print a line per fit.

    Returns
    -------
    GMMScan
    """
    X = check_magnitude(check_array(X, dtype=[np.float64, np.float32], order="C"),
                        reg_covar=gmm_params.get("reg_covar", GaussianMixture().reg_covar))
    check_choice("criterion", criterion, ("bic", "aic"))
    if isinstance(covariance_types, str):
        covariance_types = (covariance_types,)
    covariance_types = tuple(covariance_types)
    if not covariance_types:
        raise ValueError("covariance_types must not be empty.")
    for cov in covariance_types:
        check_choice("covariance_types", cov, COVARIANCE_TYPES)
    ks = _check_k_range(k_range, X.shape[0], 1)
    rows_k, rows_cov, bic, aic, models = [], [], [], [], []
    for cov in covariance_types:
        for k in ks:
            start = time.perf_counter()
            model = GaussianMixture(n_components=int(k), covariance_type=cov, n_init=n_init,
                                    random_state=random_state, n_threads=n_threads,
                                    **gmm_params).fit(X)
            rows_k.append(int(k))
            rows_cov.append(cov)
            bic.append(model.bic(X))
            aic.append(model.aic(X))
            models.append(model)
            report("fit", len(models), len(covariance_types) * ks.size)
            if verbose:
                print(f"[scan_gmm] {cov} k={k}: bic {bic[-1]:.6g}, aic {aic[-1]:.6g} "
                      f"({time.perf_counter() - start:.2f} s)")
    bic, aic = np.asarray(bic), np.asarray(aic)
    best = int(np.argmin(bic if criterion == "bic" else aic))
    return GMMScan(k=np.asarray(rows_k), covariance_type=np.asarray(rows_cov), bic=bic, aic=aic,
                   models=models, criterion=criterion, best_k=rows_k[best],
                   best_covariance_type=rows_cov[best], best_model=models[best])
