"""The command line's models: building an estimator from the options, choosing k, and the facts
of a fit its summary prints."""
import argparse
import re
from dataclasses import dataclass

import numpy as np

from ._cli_io import CLIError
from ._mixture import COVARIANCE_TYPES
from ._progress import report

__all__ = ["MODELS", "SCAN_RANGE", "MIXTURES", "KChoice", "parse_k", "make_model", "check_k",
           "choose_k", "kmeans_scan", "gmm_scan", "labels_of", "fit_labels", "fit_facts",
           "silhouette_on_sample", "model_name"]

MODELS = ("kmeans", "minibatch", "gmm", "bgmm", "dbscan", "agglomerative", "spectral")
MIXTURES = ("gmm", "bgmm")
#: The k ranges ``--k auto`` scans (silhouette needs k >= 2; BIC is defined from k=1), and
#: ``kmix scan``'s default.
AUTO_RANGE = {"silhouette": (2, 10), "bic": (1, 10)}
SCAN_RANGE = (1, 10)
#: A Bayesian mixture component counts when its weight is above this.
BGMM_WEIGHT_FLOOR = 0.01

_NAMES = {"kmeans": "KMeans", "minibatch": "MiniBatchKMeans", "gmm": "GaussianMixture",
          "bgmm": "BayesianGaussianMixture", "dbscan": "DBSCAN",
          "agglomerative": "AgglomerativeClustering", "spectral": "SpectralClustering"}


def model_name(name):
    """kmix's class name of the ``--model`` choice."""
    return _NAMES[name]


@dataclass(frozen=True)
class KChoice:
    """The value of ``--k``: a number, or a range to choose from (``auto``: the default one)."""
    k: int = None
    low: int = None
    high: int = None

    @property
    def fixed(self):
        return self.k is not None

    def range(self, default, n_rows):
        """The k to scan: the given range, or the ``default`` (low, high) capped below
        ``n_rows`` for ``auto``."""
        if self.low is not None:
            return range(self.low, self.high + 1)
        low, high = default
        return range(low, max(min(high, n_rows - 1), low) + 1)

    def __str__(self):
        if self.fixed:
            return str(self.k)
        return "auto" if self.low is None else f"{self.low}..{self.high}"


def parse_k(text):
    """``--k``: ``N``, ``A..B`` or ``auto`` (argparse type)."""
    text = text.strip().lower()
    if text == "auto":
        return KChoice()
    match = re.fullmatch(r"(\d+)(?:\.\.(\d+))?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected N, A..B or auto, got {text!r}")
    low = int(match.group(1))
    high = None if match.group(2) is None else int(match.group(2))
    if low < 1 or (high is not None and high < low):
        raise argparse.ArgumentTypeError(f"k must be >= 1 and A <= B, got {text!r}")
    return KChoice(k=low) if high is None else KChoice(low=low, high=high)


def check_k(ks, n_rows, low=1):
    """k larger than the rows (or below ``low``) is the user's error, said in one line."""
    ks = list(ks)
    if max(ks) > n_rows:
        raise CLIError(f"k={max(ks)} is larger than the number of rows ({n_rows})")
    if min(ks) < low:
        raise CLIError(f"k must be at least {low} here, got {min(ks)}")


def make_model(name, k, args):
    """The estimator of ``--model name`` with k clusters/components and the options."""
    import kmix

    common = {"n_threads": args.n_threads}
    seeded = dict(common, random_state=args.random_state)
    n_init = {} if args.n_init is None else {"n_init": args.n_init}
    covariance = args.covariance_type or "full"
    if name == "kmeans":
        return kmix.KMeans(k, **seeded, **n_init)
    if name == "minibatch":
        return kmix.MiniBatchKMeans(k, **seeded, **n_init)
    if name == "gmm":
        return kmix.GaussianMixture(k, covariance_type=covariance, **seeded, **n_init)
    if name == "bgmm":
        return kmix.BayesianGaussianMixture(n_components=k, covariance_type=covariance,
                                            **seeded, **n_init)
    if name == "dbscan":
        return kmix.DBSCAN(eps=args.eps, min_samples=args.min_samples, **common)
    if name == "agglomerative":
        return kmix.AgglomerativeClustering(k, linkage=args.linkage, **common)
    return kmix.SpectralClustering(k, affinity=args.affinity, **seeded, **n_init)


def labels_of(model, X):
    """The labels of a fitted model (a mixture's are its most probable components)."""
    return model.predict(X) if hasattr(model, "predict_proba") else model.labels_


def fit_labels(model, X):
    """Fit and return the labels."""
    return labels_of(model.fit(X), X)


def silhouette_on_sample(X, labels, sample, random_state, n_threads):
    """Mean silhouette (noise -1 left out) on at most ``sample`` rows, the rows it used and
    the rows it was drawn from; the score is None with fewer than 2 or as many clusters as
    rows."""
    from .metrics import silhouette_score

    keep = labels != -1
    X, labels = X[keep], labels[keep]
    n_labels = np.unique(labels).size
    if n_labels < 2 or n_labels >= X.shape[0]:
        return None, X.shape[0], X.shape[0]
    size = sample if X.shape[0] > sample else None
    score = silhouette_score(X, labels, sample_size=size, random_state=random_state,
                             n_threads=n_threads)
    return float(score), min(X.shape[0], sample), X.shape[0]


def kmeans_scan(X, ks, args):
    """scan_kmeans over ``ks``; silhouettes on a sample of ``--silhouette-sample`` rows when X
    has more rows (the scan's exact silhouettes otherwise)."""
    from .model_selection import scan_kmeans

    small = X.shape[0] <= args.silhouette_sample
    n_init = "auto" if args.n_init is None else args.n_init
    scan = scan_kmeans(X, ks, n_init=n_init, random_state=args.random_state, silhouette=small,
                       n_threads=args.n_threads)
    if not small:
        scan.silhouette = np.array([
            silhouette_on_sample(X, model.labels_, args.silhouette_sample, args.random_state,
                                 args.n_threads)[0] or np.nan for model in scan.models])
        scan.best_silhouette_k = (int(scan.k[int(np.nanargmax(scan.silhouette))])
                                  if np.any(np.isfinite(scan.silhouette)) else None)
    return scan


def gmm_scan(X, ks, args):
    """scan_gmm over ``ks`` and ``--covariance-type`` (every type when not given), by BIC."""
    from .model_selection import scan_gmm

    types = COVARIANCE_TYPES if args.covariance_type is None else (args.covariance_type,)
    n_init = 1 if args.n_init is None else args.n_init
    return scan_gmm(X, ks, covariance_types=types, n_init=n_init,
                    random_state=args.random_state, n_threads=args.n_threads)


def _ks_text(ks):
    return f"k={ks[0]}..{ks[-1]}" if len(ks) > 1 else f"k={ks[0]}"


def _choose_by_silhouette_fits(name, X, ks, args):
    """Fit the model for every k and keep the highest sampled silhouette (agglomerative,
    spectral: no scan of their own)."""
    best = None
    for i, k in enumerate(ks):
        model = make_model(name, k, args)
        labels = fit_labels(model, X)
        score = silhouette_on_sample(X, labels, args.silhouette_sample, args.random_state,
                                     args.n_threads)[0]
        report("fit", i + 1, len(ks))
        if score is not None and (best is None or score > best[0]):
            best = (score, k, model)
    if best is None:
        raise CLIError(f"no k in {_ks_text(ks)} gave two or more clusters")
    score, k, model = best
    return model, k, f"highest silhouette ({score:.3f}) of {_ks_text(ks)}", None


def choose_k(name, X, choice, args):
    """Fit ``--model name`` with k chosen from ``choice``'s range.

    k-means family and graph models: the highest mean silhouette (k-means' scan for kmeans
    and minibatch); Gaussian mixtures: the lowest BIC over k and covariance types; Bayesian
    mixtures: as many components as the highest k, the prior switching off those not needed.

    Returns
    -------
    model : fitted estimator
    k : int
    reason : str
        Why this k, for the summary.
    scan : KMeansScan, GMMScan or None
    """
    criterion = "bic" if name in MIXTURES else "silhouette"
    ks = list(choice.range(AUTO_RANGE[criterion], X.shape[0]))
    check_k(ks, X.shape[0], low=1 if criterion == "bic" else 2)
    if name in ("kmeans", "minibatch"):
        scan = kmeans_scan(X, ks, args)
        if scan.best_silhouette_k is None:
            raise CLIError(f"no k in {_ks_text(ks)} gave a silhouette")
        k = scan.best_silhouette_k
        score = scan.silhouette[list(scan.k).index(k)]
        reason = f"highest silhouette ({score:.3f}) of k-means over {_ks_text(ks)}"
        model = scan.models[list(scan.k).index(k)]
        if name == "minibatch":
            model = make_model(name, k, args).fit(X)
        return model, k, reason, scan
    if name == "gmm":
        scan = gmm_scan(X, ks, args)
        best = int(np.argmin(scan.bic))
        types = "/".join(dict.fromkeys(scan.covariance_type.tolist()))
        reason = (f"lowest BIC ({scan.bic[best]:.1f}) over {_ks_text(ks)}, covariance {types}: "
                  f"{scan.best_covariance_type}")
        return scan.best_model, scan.best_k, reason, scan
    if name == "bgmm":
        model = make_model(name, ks[-1], args).fit(X)
        k = int(np.count_nonzero(model.weights_ > BGMM_WEIGHT_FLOOR))
        reason = (f"Bayesian mixture with up to {ks[-1]} components: {k} have weight > "
                  f"{BGMM_WEIGHT_FLOOR:g}")
        return model, k, reason, None
    return _choose_by_silhouette_fits(name, X, ks, args)


def fit_facts(name, model, X, labels):
    """The model-specific lines of the summary: [(name, value), ...]."""
    facts = []
    if name in ("kmeans", "minibatch"):
        facts.append(("inertia", f"{model.inertia_:.6g}"))
        facts.append(("iterations", str(model.n_iter_)))
    elif name in MIXTURES:
        if name == "gmm":
            facts.append(("BIC", f"{model.bic(X):.6g}"))
            facts.append(("AIC", f"{model.aic(X):.6g}"))
        facts.append(("log-likelihood", f"{model.score(X):.6g} per row"))
        facts.append(("covariance", model.covariance_type))
        facts.append(("converged", f"{'yes' if model.converged_ else 'no'} "
                                   f"({model.n_iter_} iterations)"))
    elif name == "dbscan":
        facts.append(("noise", f"{int(np.sum(labels == -1))} rows"))
        facts.append(("core samples", str(model.core_sample_indices_.size)))
    return facts
