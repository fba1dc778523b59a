"""Fuzzing: no input makes kmix crash, hang or return non-finite results silently.

Every estimator, metric and scan runs on hypothesis-drawn data (magnitudes from 1e-300 to
1e300 in both dtypes, duplicates, 1-5 rows and 1-3 features or small blobs, occasional
NaN/inf, sparse input, degenerate sample weights) in a CHILD process, so that a segfault
or an abort is a failed test rather than a dead pytest. The child (this file run as a
script) prints a JSON report. An example fails on:

- any exception other than a plain ValueError or TypeError, or one that quotes a
  dependency's internals instead of naming the problem;
- a non-finite fitted float attribute (public names ending in ``_``, nested estimators
  included), a non-finite output of predict/transform/score..., labels out of range.

``KMIX_FUZZ_EXAMPLES`` sets the examples per target (default 60); examples are
derandomized, so a failure reproduces.
"""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

N_EXAMPLES = int(os.environ.get("KMIX_FUZZ_EXAMPLES", "60"))

TARGETS = {
    "kmeans": ["kmeans_lloyd", "kmeans_elkan", "kmeans_hamerly", "kmeans_yinyang", "minibatch",
               "kmeans_plusplus"],
    "mixtures": ["gmm_full", "gmm_tied", "gmm_diag", "gmm_spherical", "bgmm", "detector"],
    "graphs": ["dbscan", "spectral", "agglomerative"],
    "metrics": ["silhouette_score", "silhouette_samples", "calinski_harabasz",
                "davies_bouldin", "scan_kmeans", "scan_gmm"],
}

#: Messages of numpy/scipy/sklearn internals: an error quoting one of them is a failure.
INTERNAL_MESSAGES = ("could not broadcast", "boolean subtract", "value of p too large",
                     "must not contain infs", "operands could not be", "Singular matrix",
                     "out of bounds", "array must not")


# --------------------------------------------------------------------------------------------
# the parent: one child per group of targets
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("group", list(TARGETS))
def test_fuzz(group, tmp_path):
    trace = tmp_path / "last_example.txt"
    proc = subprocess.run([sys.executable, __file__, group, str(N_EXAMPLES), str(trace)],
                          capture_output=True, text=True, timeout=900)
    last = trace.read_text() if trace.exists() else "?"
    assert proc.returncode == 0, (f"child crashed (return code {proc.returncode}) on\n{last}\n"
                                  f"{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["failures"] == [], json.dumps(report["failures"][:5], indent=1)
    for target in TARGETS[group]:
        assert report["examples"][target] >= min(N_EXAMPLES, 20), report["examples"]
        # many examples are rightly rejected, but not all: the fits themselves are fuzzed
        assert report["completed"][target] >= report["examples"][target] // 5, report


# --------------------------------------------------------------------------------------------
# the child
# --------------------------------------------------------------------------------------------
def _cases():
    from hypothesis import strategies as st

    @st.composite
    def cases(draw):
        dtype = draw(st.sampled_from([np.float64, np.float32]))
        top, edge = (300, 154) if dtype == np.float64 else (37, 19)
        # any magnitude, and often one near the limits of squared distances (+-edge)
        exponent = st.one_of(st.integers(-top, top), st.sampled_from([-top, top]),
                             st.integers(edge - 4, edge + 1), st.integers(-edge - 1, -edge + 4))
        scale = 10.0 ** draw(st.one_of(st.just(0), st.integers(-3, 3), exponent))
        rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
        kind = draw(st.integers(0, 7))
        k = draw(st.integers(1, 4) if kind < 7 else st.integers(5, 20))
        if kind < 4:  # tiny, with duplicates
            n, d = draw(st.sampled_from([4, 5, 3, 2, 1])), draw(st.integers(1, 3))
            values = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 2.0]),
                               st.floats(-10, 10, allow_nan=False))
            X = np.array(draw(st.lists(values, min_size=n * d, max_size=n * d))).reshape(n, d)
        else:  # blobs: small, or (1 in 8) a few hundred rows for the bound algorithms
            n, d = ((draw(st.integers(6, 60)), draw(st.integers(1, 4))) if kind < 7
                    else (draw(st.integers(200, 600)), draw(st.integers(2, 6))))
            centres = rng.normal(scale=5.0, size=(draw(st.integers(1, 8)), d))
            X = centres[rng.randint(len(centres), size=n)] + rng.normal(size=(n, d))
            if draw(st.booleans()):
                X[rng.randint(n, size=n // 3)] = X[0]
        with np.errstate(all="ignore"):
            X = X * scale
            if draw(st.integers(0, 9)) == 7:  # one column of another magnitude
                X[:, rng.randint(d)] *= 10.0 ** draw(exponent)
            X2 = X * 10.0 ** draw(st.one_of(st.just(0), st.integers(-3, 3), exponent))
            X, X2 = X.astype(dtype), X2.astype(dtype)
        if draw(st.integers(0, 19)) == 13:  # (hypothesis favours 0: 13 is rarer)
            X[rng.randint(n), rng.randint(d)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        weights = draw(st.sampled_from(["none", "none", "ones", "one", "zeros", "scaled",
                                        "negative"]))
        w = {"none": None, "ones": np.ones(n), "one": np.eye(1, n, rng.randint(n)).ravel(),
             "zeros": (rng.rand(n) < 0.5) * rng.rand(n),
             "scaled": rng.rand(n) * 10.0 ** draw(st.integers(-300, 300)),
             "negative": rng.normal(size=n)}[weights]
        return {"X": X, "X2": X2, "w": w, "k": k,
                "sparse": draw(st.integers(0, 4)) == 3, "choice": draw(st.integers(0, 11)),
                # DBSCAN's eps, and the scale of a precomputed affinity
                "eps": 10.0 ** draw(st.one_of(st.just(0), st.integers(-300, 300), st.sampled_from(
                    [-320, -310, -155, -153, 153, 155, 304, 307])))}

    return cases()


def _describe(case):
    def max_abs(X):
        finite = np.abs(X[np.isfinite(X)])
        return float(finite.max()) if finite.size else 0.0

    X = case["X"]
    out = {key: value for key, value in case.items() if key not in ("X", "X2", "w")}
    out.update(shape=X.shape, dtype=X.dtype.name, max_abs=max_abs(X),
               X2_max_abs=max_abs(case["X2"]),
               w=None if case["w"] is None else case["w"].tolist())
    if X.size <= 15:
        out["X"] = X.tolist()
    return out


def _nonfinite(value):
    """Whether a value holds a non-finite float (arrays, sparse, tuples, lists)."""
    import scipy.sparse as sp
    if sp.issparse(value):
        value = value.data
    if isinstance(value, (list, tuple)):
        return any(_nonfinite(v) for v in value)
    if isinstance(value, (float, np.floating, np.ndarray)):
        arr = np.asarray(value)
        return arr.dtype.kind in "fc" and not np.all(np.isfinite(arr))
    return False


def _bad_attributes(est, prefix=""):
    from sklearn.base import BaseEstimator
    bad = []
    for name, value in vars(est).items():
        if name.startswith("_") or not name.endswith("_"):
            continue
        if isinstance(value, BaseEstimator):
            bad += _bad_attributes(value, f"{prefix}{name}.")
        elif _nonfinite(value):
            bad.append(prefix + name)
    return bad


def _run(target, case):
    """Run one target on one case; a list of problems (empty: fine)."""
    import scipy.sparse as sp

    import kmix
    from kmix import metrics, model_selection

    X, X2, w, k, choice = case["X"], case["X2"], case["w"], case["k"], case["choice"]
    problems = []

    def expect_finite(name, value):
        if _nonfinite(value):
            problems.append(f"non-finite {name}")

    def expect_labels(name, labels, low, high):
        labels = np.asarray(labels)
        if labels.size and (labels.min() < low or labels.max() >= high):
            problems.append(f"{name} out of [{low}, {high}): {labels.min()}..{labels.max()}")

    def fitted(est, *args, **kwargs):
        est.fit(*args, **kwargs)
        problems.extend(f"non-finite {name}" for name in _bad_attributes(est))
        return est

    def outputs(est, methods):
        for method in methods:
            try:
                expect_finite(f"{method}(X2)", getattr(est, method)(X2))
            except (ValueError, TypeError) as exc:  # X2 may be out of bounds
                _check_message(exc)

    Xs = sp.csr_matrix(X) if case["sparse"] else X
    if target == "kmeans_plusplus":
        centers, indices = kmix.kmeans_plusplus(Xs, k, sample_weight=w, random_state=0)
        expect_finite("centers", centers)
        expect_labels("indices", indices, 0, X.shape[0])
    elif target.startswith("kmeans_") or target == "minibatch":
        if target == "minibatch":
            est = fitted(kmix.MiniBatchKMeans(k, n_init=1, batch_size=4, max_iter=20,
                                              random_state=0), Xs, sample_weight=w)
        else:
            est = fitted(kmix.KMeans(k, algorithm=target[7:], n_init=1, max_iter=50,
                                     random_state=0), Xs, sample_weight=w)
        expect_labels("labels_", est.labels_, 0, k)
        expect_labels("predict(X)", est.predict(X), 0, k)
        outputs(est, ["transform", "score"])
        if target == "minibatch":
            try:
                fitted(est, X2)
                est.partial_fit(X2)
                problems.extend(f"non-finite {a} after partial_fit" for a in _bad_attributes(est))
                best = kmix.fit_batches([X2, X, X], kmix.MiniBatchKMeans(k, n_init=1),
                                        n_init=1, random_state=0)
                expect_finite("fit_batches holdout_inertia", best.holdout_inertia)
            except (ValueError, TypeError) as exc:
                _check_message(exc)
    elif target.startswith("gmm_") or target == "bgmm":
        cov = target[4:] if target.startswith("gmm_") else ["full", "tied", "diag",
                                                            "spherical"][choice % 4]
        cls = kmix.GaussianMixture if target.startswith("gmm_") else kmix.BayesianGaussianMixture
        init = ["kmeans", "k-means++", "random", "random_from_data"][choice % 4]
        est = fitted(cls(n_components=k, covariance_type=cov, init_params=init, max_iter=20,
                         random_state=0), X, sample_weight=w)
        expect_labels("predict(X)", est.predict(X), 0, k)
        outputs(est, ["predict_proba", "score_samples", "score"]
                + (["bic", "aic"] if target != "bgmm" else []))
        expect_finite("sample", est.sample(3)[0])
    elif target == "detector":
        est = fitted(kmix.MixtureOutlierDetector(kmix.GaussianMixture(k, random_state=0)), X)
        outputs(est, ["score_samples", "decision_function"])
        expect_labels("predict(X) + 1", est.predict(X) + 1, 0, 3)
    elif target == "dbscan":
        Xd = X > 0 if choice == 0 else Xs
        eps, min_samples = case["eps"], 1 + choice % 3
        est = fitted(kmix.DBSCAN(eps=eps, min_samples=min_samples), Xd, sample_weight=w)
        expect_labels("labels_", est.labels_, -1, X.shape[0])
        # DBSCAN takes any finite data: its core and noise samples must be right
        D = _robust_distances(np.asarray(X > 0 if choice == 0 else X, dtype=np.float64))
        if not np.any(np.abs(D - eps) <= 1e-6 * eps):  # no pair on the boundary
            from sklearn.cluster import DBSCAN as SKDBSCAN
            ref = SKDBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(
                D, sample_weight=w)
            if not (np.array_equal(est.core_sample_indices_, ref.core_sample_indices_)
                    and np.array_equal(est.labels_ == -1, ref.labels_ == -1)):
                problems.append("DBSCAN core or noise samples differ from exact distances")
    elif target == "spectral":
        affinity = ["rbf", "nearest_neighbors", "precomputed"][choice % 3]
        labels = ["kmeans", "discretize", "cluster_qr"][choice // 3 % 3]
        if affinity == "precomputed":  # symmetric, non-negative, of any magnitude
            Xs = np.abs(X[:, :1] + X[:, :1].T) / 2 * case["eps"]
        est = fitted(kmix.SpectralClustering(k, affinity=affinity, assign_labels=labels,
                                             n_neighbors=min(3, X.shape[0]), random_state=0),
                     Xs)
        expect_labels("labels_", est.labels_, 0, k)
    elif target == "agglomerative":
        linkage, metric = [("ward", "euclidean"), ("single", "euclidean"),
                           ("average", "manhattan"), ("complete", "cosine"),
                           ("average", "euclidean"), ("single", "l1")][choice % 6]
        est = fitted(kmix.AgglomerativeClustering(min(k, X.shape[0]), linkage=linkage,
                                                  metric=metric, compute_distances=True), X)
        expect_labels("labels_", est.labels_, 0, est.n_clusters_)
    elif target in ("silhouette_score", "silhouette_samples", "calinski_harabasz",
                    "davies_bouldin"):
        labels = np.random.RandomState(choice).randint(max(k, 2), size=X.shape[0])
        func = getattr(metrics, target if target.startswith("silhouette")
                       else target + "_score")
        value = func(X, labels)
        expect_finite(target, value)
        if target.startswith("silhouette") and np.any(np.abs(value) > 1 + 1e-6):
            problems.append(f"{target} outside [-1, 1]")
    elif target == "scan_kmeans":
        scan = model_selection.scan_kmeans(X, range(1, min(3, X.shape[0]) + 1), random_state=0)
        expect_finite("inertia", scan.inertia)
        if np.any(np.isinf(scan.silhouette)):
            problems.append("infinite silhouette")
        for model in scan.models:
            problems.extend(f"non-finite model {a}" for a in _bad_attributes(model))
    elif target == "scan_gmm":
        scan = model_selection.scan_gmm(X, range(1, min(2, X.shape[0]) + 1),
                                        covariance_types=("full", "diag"), random_state=0)
        expect_finite("bic", scan.bic)
        expect_finite("aic", scan.aic)
    else:
        raise KeyError(target)
    return problems


def _robust_distances(X):
    """Euclidean distances without overflow or underflow (each pair scaled by its largest
    coordinate difference)."""
    with np.errstate(over="ignore", invalid="ignore"):
        diff = X[:, None, :] - X[None, :, :]
        scale = np.abs(diff).max(axis=2, initial=0.0)
        safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        D = safe * np.sqrt(np.sum((diff / safe[..., None]) ** 2, axis=2))
    return np.where(scale > 0, np.where(np.isfinite(scale), D, np.inf), 0.0)


def _check_message(exc):
    """Re-raise an error that is not a plain ValueError/TypeError in kmix's words."""
    if type(exc) not in (ValueError, TypeError) or any(
            m in str(exc) for m in INTERNAL_MESSAGES):
        raise exc


def _fuzz(target, n_examples, trace):
    """Run ``n_examples`` examples on ``target``; (examples run, examples that raised
    nothing, failures, error counts)."""
    from hypothesis import HealthCheck, Phase, given, settings

    count, completed, failures, errors = 0, 0, [], {}

    @settings(max_examples=n_examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=_cases())
    def loop(case):
        nonlocal count, completed
        count += 1
        description = _describe(case)
        with open(trace, "w") as f:
            f.write(f"{target}: {json.dumps(description)}\n")
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                problems = _run(target, case)
            completed += 1
        except Exception as exc:  # noqa: BLE001 - every exception is judged
            try:
                _check_message(exc)
                key = f"{type(exc).__name__}: {str(exc)[:70]}"
                errors[key] = errors.get(key, 0) + 1
                problems = []
            except Exception:  # noqa: BLE001
                problems = [f"{type(exc).__name__}: {str(exc)[:300]}"]
        if problems:
            failures.append({"target": target, "problems": problems, "case": description})

    loop()
    return count, completed, failures, errors


def main(argv):
    names, n_examples, trace = argv[0], int(argv[1]), argv[2]
    targets = [t for name in names.split(",") for t in TARGETS.get(name, [name])]
    report = {"examples": {}, "completed": {}, "failures": [], "errors": {}}
    for target in targets:
        count, completed, failures, errors = _fuzz(target, n_examples, trace)
        report["examples"][target] = count
        report["completed"][target] = completed
        report["failures"] += failures
        for key, value in errors.items():
            report["errors"][key] = report["errors"].get(key, 0) + value
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
