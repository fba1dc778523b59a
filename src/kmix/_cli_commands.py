"""The command line's commands on the user's files: cluster, segment, anomalies, scan."""
import os
import time

import numpy as np

from . import _cli_plot
from ._cli_io import (
    TABLE_OUTPUTS,
    CLIError,
    check_output,
    image_suffixes,
    read_image,
    read_table,
    select_features,
    write_image,
    write_table,
)
from ._cli_models import (
    MIXTURES,
    SCAN_RANGE,
    KChoice,
    check_k,
    choose_k,
    fit_facts,
    fit_labels,
    gmm_scan,
    kmeans_scan,
    labels_of,
    make_model,
    model_name,
    silhouette_on_sample,
)
from ._cli_progress import Progress

__all__ = ["cluster", "segment", "anomalies", "scan"]

#: The units of kmix's progress reports shown while each model fits (the first as the bar)...
_FIT_UNITS = {"kmeans": ("restart",), "minibatch": ("step",), "gmm": ("init", "iteration"),
              "bgmm": ("init", "iteration")}
#: ... and of a scan over k.
_SCAN_UNITS = {"kmeans": ("fit", "restart"), "minibatch": ("fit", "restart"),
               "gmm": ("fit", "iteration"), "bgmm": ("init", "iteration")}
#: Lossy image formats: compression adds colours to a quantised image.
_LOSSY = (".jpg", ".jpeg", ".webp")
#: Rows of the most anomalous listed by ``anomalies``.
_N_LISTED = 5


def print_summary(rows):
    """Print ``name : value`` lines, names aligned."""
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}} : {value}")


def _check_outputs(args, input_path):
    """Every output is checked before any work is done."""
    if args.output is not None:
        check_output(args.output, force=args.force, inputs=[input_path],
                     suffixes=TABLE_OUTPUTS)
    if args.plot is not None:
        _cli_plot.require()
        check_output(args.plot, force=args.force, inputs=[input_path],
                     suffixes=_cli_plot.SUFFIXES, what="plot")
        if args.output is not None and os.path.abspath(args.plot) == \
                os.path.abspath(args.output):
            raise CLIError("-o and --plot name the same file")


def _load(args, progress):
    """The features of ``args.file``, scaled with ``--scale``."""
    with progress.stage(f"reading {args.file}"):
        features = select_features(read_table(args.file, header=args.header),
                                   columns=args.columns, id_column=args.id_column,
                                   dropna=args.dropna)
    if args.scale:
        from sklearn.preprocessing import StandardScaler
        features.X = StandardScaler().fit_transform(features.X)
    return features


def _data_rows(args, features):
    X = features.X
    rows = [("data", f"{args.file}: {X.shape[0]} rows x {X.shape[1]} features "
                     f"({', '.join(features.names)})")]
    if features.n_dropped:
        rows.append(("dropped", f"{features.n_dropped} rows with NaN, missing or infinite "
                                "values"))
    if args.scale:
        rows.append(("scaled", "each feature to zero mean and unit variance"))
    return rows


def _sizes(labels):
    values, counts = np.unique(labels[labels != -1], return_counts=True)
    return ", ".join(f"{v}: {c}" for v, c in zip(values.tolist(), counts.tolist()))


def _times(fit_seconds, started):
    return f"{fit_seconds:.3f} s fit, {time.perf_counter() - started:.3f} s total"


def _output_columns(features, columns):
    """The id column, named as in the input unless an output column has that name, then
    ``columns``."""
    name = features.id_name
    while name in columns:
        name = f"{name}_id"
    return {name: features.ids, **columns}


def _output_row(what, path):
    return (what, path if path is not None else "not written (-o FILE writes them)")


# -- cluster ----------------------------------------------------------------------------------
def _fit_cluster(args, X, progress):
    """The fitted model, its labels, k, why this k, and the scan behind it (or None)."""
    name = args.model
    if name == "dbscan":
        if args.k is not None:
            raise CLIError("dbscan finds the number of clusters itself: give --eps and "
                           "--min-samples, not --k")
        model = make_model(name, None, args)
        with progress.stage(f"fitting DBSCAN with eps={args.eps:g}, "
                            f"min_samples={args.min_samples}"):
            labels = fit_labels(model, X)
        return model, labels, None, None, None
    choice = KChoice() if args.k is None else args.k
    if choice.fixed:
        check_k([choice.k], X.shape[0])
        model = make_model(name, choice.k, args)
        with progress.stage(f"fitting {model_name(name)} with k={choice.k}",
                            units=_FIT_UNITS.get(name, ())):
            labels = fit_labels(model, X)
        return model, labels, choice.k, None, None
    criterion = "BIC" if name == "gmm" else "silhouette"
    with progress.stage(f"choosing k ({choice}) for {model_name(name)} by {criterion}",
                        units=_SCAN_UNITS.get(name, ("fit",))):
        model, k, reason, scan = choose_k(name, X, choice, args)
    return model, labels_of(model, X), k, reason, scan


def cluster(args):
    """``kmix cluster FILE``: fit a model, write the labels (and a mixture's probabilities)
    beside the rows' ids, print a summary."""
    started = time.perf_counter()
    progress = Progress("kmix cluster", args.quiet)
    _check_outputs(args, args.file)
    features = _load(args, progress)
    X = features.X
    fit_start = time.perf_counter()
    model, labels, k, reason, scan = _fit_cluster(args, X, progress)
    fit_seconds = time.perf_counter() - fit_start
    with progress.stage("computing the silhouette"):
        score, used, among = silhouette_on_sample(X, labels, args.silhouette_sample,
                                                  args.random_state, args.n_threads)
    columns = {"label": labels}
    if args.model in MIXTURES:
        proba = model.predict_proba(X)
        columns.update({f"prob_{j}": (proba[:, j], "%.9g") for j in range(proba.shape[1])})
    if args.output is not None:
        with progress.stage(f"writing {args.output}"):
            write_table(args.output, _output_columns(features, columns))
    if args.plot is not None:
        with progress.stage(f"plotting {args.plot}"):
            _cli_plot.clusters(args.plot, model, X, labels, scan,
                               sample=args.silhouette_sample, random_state=args.random_state)
    n_clusters = np.unique(labels[labels != -1]).size
    rows = _data_rows(args, features) + [("model", repr(model))]
    if k is not None:
        rows.append(("k", f"{k}" + (f" (auto: {reason})" if reason else "")))
    rows += [("clusters", str(n_clusters)), ("sizes", _sizes(labels))]
    rows += fit_facts(args.model, model, X, labels)
    if score is None:
        rows.append(("silhouette", "n/a (needs 2 or more clusters, fewer than the rows)"))
    else:
        where = f"all {used} rows" if used == among else f"{used} random rows of {among}"
        rows.append(("silhouette", f"{score:.4f} ({where}"
                                   f"{', noise left out' if args.model == 'dbscan' else ''})"))
    rows += [("time", _times(fit_seconds, started)), _output_row("labels", args.output)]
    if args.plot is not None:
        rows.append(("plot", args.plot))
    print_summary(rows)
    return 0


# -- segment ----------------------------------------------------------------------------------
def _palette(pixels):
    """The distinct colours of (n, channels) uint8 pixels, as rows."""
    codes = np.zeros(pixels.shape[0], dtype=np.int64)
    for channel in range(pixels.shape[1]):
        codes = (codes << 8) | pixels[:, channel]
    codes = np.unique(codes)
    shifts = 8 * np.arange(pixels.shape[1] - 1, -1, -1)
    return ((codes[:, None] >> shifts) & 0xFF).astype(np.uint8)


def segment(args):
    """``kmix segment IMAGE --colors N -o OUT``: the image with each pixel's colour replaced
    by the centre of its k-means cluster of colours (:func:`kmix.plot.quantize`)."""
    started = time.perf_counter()
    progress = Progress("kmix segment", args.quiet)
    plot = _cli_plot.require("kmix segment")
    check_output(args.output, force=args.force, inputs=[args.image], suffixes=image_suffixes(),
                 what="image")
    with progress.stage(f"reading {args.image}"):
        image = read_image(args.image)
    height, width, channels = image.shape
    n_colour = 1 if channels == 1 else 3
    check_k([args.colors], height * width)
    sample = args.sample if args.sample is not None and args.sample < height * width else None
    fit_start = time.perf_counter()
    with progress.stage(f"fitting KMeans with {args.colors} colours on "
                        f"{sample or height * width} pixels", units=("restart",)):
        quantised = plot.quantize(image[:, :, :n_colour], args.colors,
                                  random_state=args.random_state, sample_size=sample)
    fit_seconds = time.perf_counter() - fit_start
    if channels > n_colour:
        quantised = np.concatenate([quantised, image[:, :, n_colour:]], axis=2)
    with progress.stage(f"writing {args.output}"):
        write_image(args.output, quantised)
    palette = _palette(quantised[:, :, :n_colour].reshape(-1, n_colour))
    error = quantised[:, :, :n_colour].astype(np.float64) - image[:, :, :n_colour]
    rows = [("image", f"{args.image}: {width} x {height} pixels, "
                      f"{'greyscale' if n_colour == 1 else 'RGB'}"
                      f"{' with transparency' if channels > n_colour else ''}"),
            ("fitted on", f"{sample} random pixels" if sample else "every pixel"),
            ("colours", str(palette.shape[0])),
            ("palette", " ".join(str(grey) for grey in palette[:, 0]) if n_colour == 1 else
             " ".join("#" + "".join(f"{v:02x}" for v in colour) for colour in palette)),
            ("rms error", f"{np.sqrt(np.mean(error ** 2)):.3f} per channel (0-255)"),
            ("time", _times(fit_seconds, started)),
            ("output", args.output)]
    if os.path.splitext(args.output)[1].lower() in _LOSSY:
        rows.append(("note", "lossy compression adds colours; .png keeps exactly these"))
    print_summary(rows)
    return 0


# -- anomalies --------------------------------------------------------------------------------
def anomalies(args):
    """``kmix anomalies FILE``: a Gaussian mixture's density threshold flags the least dense
    ``--contamination`` fraction of the rows (:class:`kmix.MixtureOutlierDetector`)."""
    import kmix

    started = time.perf_counter()
    progress = Progress("kmix anomalies", args.quiet)
    _check_outputs(args, args.file)
    features = _load(args, progress)
    X = features.X
    if args.plot is not None and X.shape[1] != 2:
        raise CLIError(f"--plot draws the density over 2 features, the data has {X.shape[1]}; "
                       "choose two with --columns")
    fit_start = time.perf_counter()
    choice = args.k
    if choice.fixed:
        check_k([choice.k], X.shape[0])
        mixture = make_model("gmm", choice.k, args)
        with progress.stage(f"fitting GaussianMixture with k={choice.k}",
                            units=_FIT_UNITS["gmm"]):
            mixture.fit(X)
        k_text = str(choice.k)
    else:
        with progress.stage(f"choosing k ({choice}) for GaussianMixture by BIC",
                            units=_SCAN_UNITS["gmm"]):
            mixture, k, reason, _ = choose_k("gmm", X, choice, args)
        k_text = f"{k} (auto: {reason})"
    detector = kmix.MixtureOutlierDetector(mixture, contamination=args.contamination).fit(X)
    fit_seconds = time.perf_counter() - fit_start
    log_density = detector.score_samples(X)
    flagged = detector.predict(X) == -1
    if args.output is not None:
        with progress.stage(f"writing {args.output}"):
            write_table(args.output, _output_columns(features, {
                "anomaly": flagged.astype(np.int8), "log_density": (log_density, "%.9g")}))
    if args.plot is not None:
        with progress.stage(f"plotting {args.plot}"):
            _cli_plot.anomalies(args.plot, detector.mixture_, X, detector)
    n_flagged = int(np.count_nonzero(flagged))
    lowest = np.argsort(log_density, kind="stable")[:min(_N_LISTED, n_flagged)]
    rows = _data_rows(args, features) + [
        ("model", repr(detector.mixture_)),
        ("k", k_text),
        ("threshold", f"log-density {detector.threshold_:.6g} (the {args.contamination:g} "
                      "quantile of the rows)"),
        ("anomalies", f"{n_flagged} of {X.shape[0]} rows ({n_flagged / X.shape[0]:.2%})"),
        ("most anomalous", ", ".join(f"{features.id_name} {features.ids[i]} "
                                     f"({log_density[i]:.4g})" for i in lowest) or "none"),
        ("time", _times(fit_seconds, started)),
        _output_row("flags", args.output)]
    if args.plot is not None:
        rows.append(("plot", args.plot))
    print_summary(rows)
    return 0


# -- scan -------------------------------------------------------------------------------------
def _print_kmeans_scan(scan):
    print(f"{'k':>3} {'inertia':>12} {'silhouette':>10}")
    for k, inertia, sil in zip(scan.k, scan.inertia, scan.silhouette):
        print(f"{k:>3} {inertia:12.6g} {sil:10.4f}")


def _print_gmm_scan(scan):
    print(f"{'covariance':<10} {'k':>3} {'BIC':>12} {'AIC':>12}")
    for cov, k, bic, aic in zip(scan.covariance_type, scan.k, scan.bic, scan.aic):
        print(f"{cov:<10} {k:>3} {bic:12.6g} {aic:12.6g}")


def scan(args):
    """``kmix scan FILE``: inertia and silhouette (k-means) or BIC/AIC (mixtures) per k."""
    started = time.perf_counter()
    progress = Progress("kmix scan", args.quiet)
    _check_outputs(args, args.file)
    features = _load(args, progress)
    X = features.X
    choice = args.k
    ks = [choice.k] if choice.fixed else list(choice.range(SCAN_RANGE, X.shape[0]))
    check_k(ks, X.shape[0])
    if args.model == "kmeans":
        with progress.stage(f"scanning KMeans over k={ks[0]}..{ks[-1]}",
                            units=_SCAN_UNITS["kmeans"]):
            result = kmeans_scan(X, ks, args)
        table = {"k": result.k, "inertia": (result.inertia, "%.9g"),
                 "silhouette": (result.silhouette, "%.6g")}
    else:
        with progress.stage(f"scanning GaussianMixture over k={ks[0]}..{ks[-1]}",
                            units=_SCAN_UNITS["gmm"]):
            result = gmm_scan(X, ks, args)
        table = {"covariance_type": result.covariance_type, "k": result.k,
                 "bic": (result.bic, "%.9g"), "aic": (result.aic, "%.9g")}
    if args.output is not None:
        with progress.stage(f"writing {args.output}"):
            write_table(args.output, table)
    if args.plot is not None:
        with progress.stage(f"plotting {args.plot}"):
            _cli_plot.scan(args.plot, result)
    print_summary(_data_rows(args, features))
    if args.model == "kmeans":
        _print_kmeans_scan(result)
        rows = [("elbow k", str(result.elbow_k) if result.elbow_k is not None else
                 "n/a (needs 3 or more k)"),
                ("best silhouette k", str(result.best_silhouette_k))]
    else:
        _print_gmm_scan(result)
        best = int(np.argmin(result.bic))
        rows = [("best BIC", f"k={result.best_k} {result.best_covariance_type} "
                             f"(BIC {result.bic[best]:.6g})")]
    rows += [("time", f"{time.perf_counter() - started:.3f} s total"),
             _output_row("table", args.output)]
    if args.plot is not None:
        rows.append(("plot", args.plot))
    print_summary(rows)
    return 0
