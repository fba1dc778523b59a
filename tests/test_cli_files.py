"""The installed ``kmix`` command on the user's own files: cluster, segment, anomalies, scan.

Every command runs in a subprocess on files written here; the outputs are compared with kmix
fitted in this process with the same parameters (the command line's default seed is 42).
"""
import csv
import importlib.util
import os
import pty
import re
import subprocess

import numpy as np
import pytest
from _cli_run import file_hashes, kmix_command, run_all, summary_field
from sklearn.datasets import make_blobs
from sklearn.preprocessing import StandardScaler

import kmix
from kmix.metrics import silhouette_score
from kmix.model_selection import scan_gmm, scan_kmeans

PIL = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

SEED = 42
CENTERS = [[0, 0], [10, 0], [0, 10], [10, 10]]
#: Rows of holes.csv with NaN, inf or an empty field (0-based).
HOLES = [3, 10, 20, 30]
STRIPES = np.array([[230, 20, 20], [20, 200, 20], [20, 20, 230], [240, 240, 30],
                    [15, 15, 15], [245, 245, 245]], dtype=np.int64)
HAS_PARQUET = all(importlib.util.find_spec(name) is not None for name in ("pandas", "pyarrow"))


def _blobs():
    return make_blobs(400, centers=CENTERS, cluster_std=1.0, random_state=0)[0]


def _photo():
    """Six vertical stripes of distinct colours with a little noise (60 x 40 pixels)."""
    rng = np.random.RandomState(0)
    stripes = np.repeat(STRIPES, 10, axis=0)[None, :, :].repeat(40, axis=0)
    return np.clip(stripes + rng.randint(-12, 13, stripes.shape), 0, 255).astype(np.uint8)


def _write_inputs(folder, X):
    exact = "%.17g"
    np.savetxt(folder / "blobs.csv", X, delimiter=",", header="x,y", comments="", fmt=exact)
    np.savetxt(folder / "blobs_noheader.csv", X, delimiter=",", fmt=exact)
    with open(folder / "named.tsv", "w") as f:
        f.write("name\tx\ty\n")
        f.writelines(f"p{i}\t{a!r}\t{b!r}\n" for i, (a, b) in enumerate(X.tolist()))
    np.save(folder / "blobs.npy", X)
    holes = X[:60].astype(object)
    holes[3, 0], holes[10, 1], holes[20, 0], holes[30, 1] = "nan", "inf", "-inf", ""
    with open(folder / "holes.csv", "w") as f:
        f.write("x,y\n")
        f.writelines(",".join(str(v) for v in row) + "\n" for row in holes)
    if HAS_PARQUET:
        import pandas as pd

        pd.DataFrame({"x": X[:, 0], "y": X[:, 1]}).to_parquet(folder / "blobs.parquet")
    image = PIL.fromarray(_photo())
    image.save(folder / "photo.png")
    image.save(folder / "photo.jpg", quality=95)
    (folder / "gmm.csv").write_text("an older output, replaced with --force\n")
    (folder / "repeated.csv").write_text("x,y\n" + "1,1\n" * 4 + "2,2\n")


COMMANDS = {
    "kmeans": ["cluster", "blobs.csv", "--k", "4", "-o", "kmeans.csv", "--plot", "kmeans.png"],
    "gmm": ["cluster", "blobs_noheader.csv", "--model", "gmm", "--k", "4", "-o", "gmm.csv",
            "--force", "-q"],
    "minibatch": ["cluster", "named.tsv", "--columns", "x,y", "--id-column", "name", "--scale",
                  "--model", "minibatch", "--k", "4", "-o", "minibatch.tsv", "-q"],
    "auto": ["cluster", "blobs.npy", "--k", "auto", "-o", "auto.csv", "-q"],
    "dbscan": ["cluster", "blobs.csv", "--model", "dbscan", "--eps", "1.0", "--min-samples",
               "5", "-o", "dbscan.csv", "-q"],
    "agglomerative": ["cluster", "blobs.csv", "--model", "agglomerative", "--k", "2..6",
                      "-o", "agglomerative.csv", "-q"],
    "spectral": ["cluster", "blobs.csv", "--model", "spectral", "--k", "4",
                 "-o", "spectral.csv", "-q"],
    "bgmm": ["cluster", "blobs.csv", "--model", "bgmm", "-o", "bgmm.csv", "-q"],
    "warning": ["cluster", "repeated.csv", "--k", "3", "-q"],
    "dropna": ["cluster", "holes.csv", "--k", "2", "--dropna", "-o", "dropna.csv", "-q"],
    "segment": ["segment", "photo.png", "--colors", "6", "-o", "segmented.png", "-q"],
    "segment_jpeg": ["segment", "photo.jpg", "--colors", "3", "--sample", "500",
                     "-o", "segmented_jpeg.png", "-q"],
    "anomalies": ["anomalies", "blobs.csv", "--contamination", "0.04", "-o", "flags.csv",
                  "--plot", "density.png", "-q"],
    "scan": ["scan", "blobs.csv", "--k", "1..8", "-o", "scan.csv", "--plot", "scan.png", "-q"],
    "scan_gmm": ["scan", "blobs.csv", "--model", "gmm", "--k", "1..5", "-o", "scan_gmm.csv",
                 "-q"],
}
if HAS_PARQUET:
    COMMANDS["auto_gmm"] = ["cluster", "blobs.parquet", "--model", "gmm", "-o", "auto_gmm.csv",
                            "-q"]
INPUTS = ["blobs.csv", "blobs_noheader.csv", "named.tsv", "blobs.npy", "holes.csv", "repeated.csv",
          "photo.png", "photo.jpg"] + (["blobs.parquet"] if HAS_PARQUET else [])


@pytest.fixture(scope="module")
def X():
    return _blobs()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, X):
    folder = tmp_path_factory.mktemp("cli_files")
    _write_inputs(folder, X)
    return folder


@pytest.fixture(scope="module")
def runs(folder):
    before = file_hashes(folder)
    results = run_all(COMMANDS, folder)
    results["hashes"] = (before, file_hashes(folder))
    return results


def _ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _read(path, delimiter=","):
    """header, then the columns of a written table as arrays of str."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    return rows[0], [np.array(column) for column in zip(*rows[1:])]


def _labels_file(path, n_rows, delimiter=","):
    header, columns = _read(path, delimiter)
    assert header[:2] == ["row", "label"]
    assert columns[0].astype(int).tolist() == list(range(1, n_rows + 1))
    return header, columns[1].astype(int), columns


def _panels(path, n):
    """The figure is a PNG of n side-by-side panels (500 pixels wide each)."""
    with PIL.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] == 500 * n


# -- cluster ----------------------------------------------------------------------------------
def test_kmeans_labels_and_summary_match_kmix_in_process(runs, folder, X):
    out = _ok(runs["kmeans"])
    km = kmix.KMeans(4, random_state=SEED).fit(X)
    _, labels, _ = _labels_file(folder / "kmeans.csv", X.shape[0])
    np.testing.assert_array_equal(labels, km.labels_)
    assert summary_field(out, "k") == "4"
    assert summary_field(out, "data") == "blobs.csv: 400 rows x 2 features (x, y)"
    assert float(summary_field(out, "inertia")) == pytest.approx(km.inertia_, rel=1e-5)
    sizes = dict(re.findall(r"(\d+): (\d+)", summary_field(out, "sizes")))
    assert {int(j): int(n) for j, n in sizes.items()} == \
        dict(enumerate(np.bincount(km.labels_).tolist()))
    score = re.match(r"([\d.]+) \(all 400 rows\)", summary_field(out, "silhouette"))
    assert float(score.group(1)) == pytest.approx(silhouette_score(X, km.labels_), abs=1e-4)
    assert re.fullmatch(r"[\d.]+ s fit, [\d.]+ s total", summary_field(out, "time"))
    # 2-D data: the decision regions and the silhouette diagram
    _panels(folder / "kmeans.png", 2)


def test_progress_is_one_line_per_stage_when_stderr_is_not_a_terminal(runs):
    assert runs["kmeans"].stderr.splitlines() == [
        "kmix cluster: reading blobs.csv",
        "kmix cluster: fitting KMeans with k=4",
        "kmix cluster: computing the silhouette",
        "kmix cluster: writing kmeans.csv",
        "kmix cluster: plotting kmeans.png",
    ]


def test_quiet_prints_no_progress(runs):
    quiet = [name for name, args in COMMANDS.items() if "-q" in args and name != "warning"]
    assert len(quiet) >= 10
    for name in quiet:
        _ok(runs[name])
        assert runs[name].stderr == "", name


def test_warnings_are_one_line_even_when_quiet(runs):
    """scikit-learn's ConvergenceWarning (4 equal rows, k=3), without a file and line."""
    out = _ok(runs["warning"])
    assert runs["warning"].stderr.splitlines() == [
        "kmix cluster: warning: Number of distinct clusters (2) found smaller than n_clusters "
        "(3). Possibly due to duplicate points in X."]
    assert summary_field(out, "clusters") == "2"


def test_gmm_probabilities_sum_to_one_and_match(runs, folder, X):
    out = _ok(runs["gmm"])
    gm = kmix.GaussianMixture(4, random_state=SEED).fit(X)
    header, labels, columns = _labels_file(folder / "gmm.csv", X.shape[0])
    assert header[2:] == ["prob_0", "prob_1", "prob_2", "prob_3"]
    proba = np.column_stack(columns[2:]).astype(float)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-7)
    np.testing.assert_allclose(proba, gm.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(labels, gm.predict(X))
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    # the headerless file's columns are numbered; --force replaced the older output
    assert summary_field(out, "data").endswith("(col1, col2)")
    assert float(summary_field(out, "BIC")) == pytest.approx(gm.bic(X), rel=1e-5)


def test_tsv_with_an_id_column_and_scaling(runs, folder, X):
    _ok(runs["minibatch"])
    header, columns = _read(folder / "minibatch.tsv", delimiter="\t")
    assert header == ["name", "label"]
    assert columns[0].tolist() == [f"p{i}" for i in range(X.shape[0])]
    expected = kmix.MiniBatchKMeans(4, random_state=SEED).fit(StandardScaler().fit_transform(X))
    np.testing.assert_array_equal(columns[1].astype(int), expected.labels_)


def test_auto_k_picks_the_four_blobs_by_silhouette(runs, folder, X):
    out = _ok(runs["auto"])
    scan = scan_kmeans(X, range(2, 11), random_state=SEED)
    assert scan.best_silhouette_k == 4
    assert summary_field(out, "k") == (f"4 (auto: highest silhouette ({scan.silhouette.max():.3f})"
                                       " of k-means over k=2..10)")
    _, labels, _ = _labels_file(folder / "auto.csv", X.shape[0])
    np.testing.assert_array_equal(labels, kmix.KMeans(4, random_state=SEED).fit(X).labels_)


@pytest.mark.skipif(not HAS_PARQUET, reason="reading .parquet needs pandas and pyarrow")
def test_auto_k_of_a_mixture_is_the_lowest_bic(runs, folder, X):
    out = _ok(runs["auto_gmm"])
    scan = scan_gmm(X, range(1, 11), random_state=SEED)
    assert scan.best_k == 4
    assert summary_field(out, "k") == (
        f"4 (auto: lowest BIC ({scan.bic.min():.1f}) over k=1..10, covariance "
        f"full/tied/diag/spherical: {scan.best_covariance_type})")
    _, labels, _ = _labels_file(folder / "auto_gmm.csv", X.shape[0])
    np.testing.assert_array_equal(labels, scan.best_model.predict(X))


def test_dbscan_takes_eps_and_min_samples(runs, folder, X):
    out = _ok(runs["dbscan"])
    db = kmix.DBSCAN(eps=1.0, min_samples=5).fit(X)
    _, labels, _ = _labels_file(folder / "dbscan.csv", X.shape[0])
    np.testing.assert_array_equal(labels, db.labels_)
    assert summary_field(out, "noise") == f"{np.sum(db.labels_ == -1)} rows"
    assert summary_field(out, "clusters") == str(len(set(db.labels_.tolist()) - {-1}))


def test_agglomerative_chooses_k_in_a_range_by_silhouette(runs, folder, X):
    out = _ok(runs["agglomerative"])
    assert summary_field(out, "k").startswith("4 (auto: highest silhouette")
    _, labels, _ = _labels_file(folder / "agglomerative.csv", X.shape[0])
    np.testing.assert_array_equal(labels, kmix.AgglomerativeClustering(4).fit(X).labels_)


def test_spectral(runs, folder, X):
    _ok(runs["spectral"])
    _, labels, _ = _labels_file(folder / "spectral.csv", X.shape[0])
    expected = kmix.SpectralClustering(4, random_state=SEED).fit(X).labels_
    np.testing.assert_array_equal(labels, expected)


def test_bayesian_mixture_keeps_the_components_it_needs(runs, folder, X):
    out = _ok(runs["bgmm"])
    assert summary_field(out, "k") == ("4 (auto: Bayesian mixture with up to 10 components: "
                                       "4 have weight > 0.01)")
    bgmm = kmix.BayesianGaussianMixture(n_components=10, random_state=SEED).fit(X)
    header, labels, columns = _labels_file(folder / "bgmm.csv", X.shape[0])
    assert len(header) == 2 + 10
    np.testing.assert_array_equal(labels, bgmm.predict(X))
    np.testing.assert_allclose(np.column_stack(columns[2:]).astype(float).sum(axis=1), 1.0,
                               atol=1e-7)


def test_dropna_leaves_out_the_rows_with_nan_or_inf(runs, folder, X):
    out = _ok(runs["dropna"])
    assert summary_field(out, "dropped") == "4 rows with NaN, missing or infinite values"
    keep = np.setdiff1d(np.arange(60), HOLES)
    header, columns = _read(folder / "dropna.csv")
    assert columns[0].astype(int).tolist() == (keep + 1).tolist()
    expected = kmix.KMeans(2, random_state=SEED).fit(X[keep]).labels_
    np.testing.assert_array_equal(columns[1].astype(int), expected)


# -- segment ----------------------------------------------------------------------------------
def _colours(path):
    with PIL.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    return pixels, np.unique(pixels.reshape(-1, 3), axis=0)


def test_segment_quantises_to_n_colours(runs, folder):
    from kmix.plot import quantize

    out = _ok(runs["segment"])
    pixels, colours = _colours(folder / "segmented.png")
    assert colours.shape[0] == 6
    # each quantised colour is within the noise of its stripe's colour
    assert np.abs(np.sort(colours.astype(int), axis=0) - np.sort(STRIPES, axis=0)).max() <= 12
    np.testing.assert_array_equal(pixels, quantize(_photo(), 6, random_state=SEED))
    assert summary_field(out, "colours") == "6"
    assert summary_field(out, "fitted on") == "every pixel"


def test_segment_reads_jpeg_and_fits_on_a_sample(runs, folder):
    from kmix.plot import quantize

    out = _ok(runs["segment_jpeg"])
    with PIL.open(folder / "photo.jpg") as image:
        photo = np.asarray(image.convert("RGB"))
    pixels, colours = _colours(folder / "segmented_jpeg.png")
    assert colours.shape[0] == 3
    np.testing.assert_array_equal(pixels, quantize(photo, 3, random_state=SEED,
                                                   sample_size=500))
    assert summary_field(out, "fitted on") == "500 random pixels"


# -- anomalies --------------------------------------------------------------------------------
def test_anomalies_flag_the_contamination_fraction(runs, folder, X):
    out = _ok(runs["anomalies"])
    header, columns = _read(folder / "flags.csv")
    assert header == ["row", "anomaly", "log_density"]
    flags = columns[1].astype(int)
    assert set(flags.tolist()) == {0, 1}
    assert abs(flags.mean() - 0.04) <= 1 / X.shape[0]
    mixture = scan_gmm(X, range(1, 11), random_state=SEED).best_model
    detector = kmix.MixtureOutlierDetector(mixture, contamination=0.04).fit(X)
    np.testing.assert_array_equal(flags, (detector.predict(X) == -1).astype(int))
    np.testing.assert_allclose(columns[2].astype(float), detector.score_samples(X), rtol=1e-8)
    assert summary_field(out, "anomalies") == \
        f"{flags.sum()} of 400 rows ({flags.sum() / 400:.2%})"
    lowest = np.argsort(detector.score_samples(X))[0]
    assert summary_field(out, "most anomalous").startswith(f"row {lowest + 1} (")
    _panels(folder / "density.png", 1)


# -- scan -------------------------------------------------------------------------------------
def test_scan_table_matches_scan_kmeans(runs, folder, X):
    out = _ok(runs["scan"])
    scan = scan_kmeans(X, range(1, 9), random_state=SEED)
    header, columns = _read(folder / "scan.csv")
    assert header == ["k", "inertia", "silhouette"]
    assert columns[0].astype(int).tolist() == list(range(1, 9))
    np.testing.assert_allclose(columns[1].astype(float), scan.inertia, rtol=1e-8)
    np.testing.assert_allclose(columns[2].astype(float), scan.silhouette, rtol=1e-5)
    # (the elbow of this scan is not 4: with n_init=1, k=8 ends above k=7's inertia, and
    # kmix.model_selection.elbow counts the rising step after 7 as flat)
    assert summary_field(out, "elbow k") == str(scan.elbow_k)
    assert summary_field(out, "best silhouette k") == str(scan.best_silhouette_k) == "4"
    _panels(folder / "scan.png", 2)


def test_scan_of_mixtures_matches_scan_gmm(runs, folder, X):
    out = _ok(runs["scan_gmm"])
    scan = scan_gmm(X, range(1, 6), random_state=SEED)
    header, columns = _read(folder / "scan_gmm.csv")
    assert header == ["covariance_type", "k", "bic", "aic"]
    assert columns[0].tolist() == scan.covariance_type.tolist()
    np.testing.assert_allclose(columns[2].astype(float), scan.bic, rtol=1e-8)
    np.testing.assert_allclose(columns[3].astype(float), scan.aic, rtol=1e-8)
    assert summary_field(out, "best BIC").startswith(
        f"k={scan.best_k} {scan.best_covariance_type} (BIC")


def test_input_files_are_never_modified(runs):
    before, after = runs["hashes"]
    for name in INPUTS:
        assert after[name] == before[name], name


# -- a progress bar on a terminal -------------------------------------------------------------
def test_progress_bar_on_a_terminal(runs, folder):
    """stderr a pseudo-terminal: each stage is one line rewritten in place (carriage
    returns), the scan's bar counting the fits up to all of them."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="160")
    process = subprocess.Popen([kmix_command(), "scan", "blobs.csv", "--k", "1..6"],
                               cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:          # EIO: the command ended and closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stdout = process.stdout.read().decode()
    assert process.wait() == 0
    terminal = b"".join(chunks).decode()
    assert "Traceback" not in terminal
    lines = terminal.replace("\r\n", "\n").split("\n")
    stages = [line.rsplit("\r", 1)[-1].rstrip() for line in lines if line.strip()]
    assert stages[0].startswith("kmix scan: reading blobs.csv done in ")
    assert re.fullmatch(r"kmix scan: scanning KMeans over k=1\.\.6 \[#{20}\] 6/6 fits "
                        r"(restart \d+/\d+ )?done in [\d.]+ s", stages[1])
    # rewritten in place: the scan's line was drawn at least when it started and ended
    assert lines[1].count("\r") >= 2
    assert "elbow k" in stdout
