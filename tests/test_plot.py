"""kmix.plot: every plot rendered to PNG with the Agg backend and checked by what it draws."""
import os
import subprocess
import sys
import textwrap
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from scipy.cluster import hierarchy  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import silhouette_samples as sk_silhouette_samples  # noqa: E402

import kmix  # noqa: E402
from kmix import plot as kplot  # noqa: E402
from kmix.datasets import chapter_blobs, chapter_mixture, moons  # noqa: E402
from kmix.model_selection import scan_gmm, scan_kmeans  # noqa: E402

RESOLUTION = 80


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    return chapter_blobs(n_samples=600, random_state=7)[0]


@pytest.fixture(scope="module")
def kmeans(blobs):
    return kmix.KMeans(5, n_init=3, random_state=0).fit(blobs)


@pytest.fixture(scope="module")
def mixture_data():
    return chapter_mixture()[0][::2]


@pytest.fixture(scope="module")
def gm(mixture_data):
    return kmix.GaussianMixture(3, n_init=3, random_state=42).fit(mixture_data)


@pytest.fixture(scope="module")
def kmeans_scan(blobs):
    return scan_kmeans(blobs, range(1, 9), random_state=0)


@pytest.fixture(scope="module")
def gmm_scan(mixture_data):
    return scan_gmm(mixture_data, range(1, 6), covariance_types=("full", "diag", "spherical"),
                    random_state=0)


@pytest.fixture(scope="module")
def image():
    """A small photo (every 8th pixel of scikit-learn's bundled china.jpg)."""
    from sklearn.datasets import load_sample_image

    return load_sample_image("china.jpg")[::8, ::8]


def _render(ax, tmp_path, name="plot.png"):
    """Save the Axes' figure as PNG; the image read back (it must not be blank)."""
    path = tmp_path / name
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(path)
    assert np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 10
    return pixels


def _artist(ax, name):
    """The one artist with this label (scatters, lines) or gid (contour sets)."""
    found = [a for a in [*ax.collections, *ax.lines] if name in (a.get_label(), a.get_gid())]
    assert len(found) == 1, f"{len(found)} artists named {name!r}"
    return found[0]


def _labels(ax):
    return {a.get_label() for a in [*ax.collections, *ax.lines]} | {
        a.get_gid() for a in ax.collections if a.get_gid()}


def _line_starting(ax, prefix):
    found = [line for line in ax.lines if line.get_label().startswith(prefix)]
    assert len(found) == 1, [line.get_label() for line in ax.lines]
    return found[0]


# ---------------------------------------------------------------------------------------------
# Without matplotlib, headless
# ---------------------------------------------------------------------------------------------
def _python(code, **env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def test_import_without_matplotlib_names_the_extra():
    result = _python("""
        import sys
        sys.modules["matplotlib"] = None  # import matplotlib now raises ImportError
        import kmix  # the rest of kmix does not need it
        kmix.KMeans(2).fit([[0.0], [1.0], [5.0]])
        import kmix.plot
    """)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError")
    assert 'pip install "kmix[plot]"' in last


def test_plots_without_a_display(tmp_path):
    """No DISPLAY and no MPLBACKEND: pyplot falls back to a headless backend by itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND",
                                                            "WAYLAND_DISPLAY")}
    out = tmp_path / "regions.png"
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import kmix, kmix.plot, matplotlib
        from kmix.datasets import chapter_blobs
        X, _ = chapter_blobs(200)
        ax = kmix.plot.decision_regions(kmix.KMeans(3, random_state=0).fit(X), X,
                                        resolution=50)
        ax.figure.savefig({str(out)!r})
        print(matplotlib.get_backend())
    """)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().lower() == "agg"
    assert out.read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------------------------
# decision_regions
# ---------------------------------------------------------------------------------------------
def test_kmeans_regions_samples_and_centres(kmeans, blobs, tmp_path):
    ax = kplot.decision_regions(kmeans, blobs, resolution=RESOLUTION)
    _render(ax, tmp_path)
    assert {"regions", "boundaries", "samples", "centres"} <= _labels(ax)
    regions = _artist(ax, "regions")
    assert isinstance(regions, ContourSet)
    paths = regions.get_paths()
    assert len(paths) == 5
    # the region of cluster j holds centre j and no other centre (Voronoi cells)
    inside = np.array([[p.contains_point(c) for p in paths] for c in kmeans.cluster_centers_])
    np.testing.assert_array_equal(inside, np.eye(5, dtype=bool))
    np.testing.assert_array_equal(_artist(ax, "centres").get_offsets(), kmeans.cluster_centers_)
    samples = _artist(ax, "samples")
    np.testing.assert_array_equal(samples.get_offsets(), blobs)
    # each sample has its cluster's colour, which is its centre's
    colours = samples.get_facecolors()
    centre_colours = _artist(ax, "centres").get_facecolors()
    np.testing.assert_array_equal(colours, centre_colours[kmeans.labels_])
    assert np.unique(colours, axis=0).shape[0] == 5


@pytest.mark.parametrize("mixture", [kmix.GaussianMixture, kmix.BayesianGaussianMixture])
def test_mixture_regions_mark_the_means(mixture, mixture_data, tmp_path):
    model = mixture(n_components=3, random_state=0).fit(mixture_data)
    ax = kplot.decision_regions(model, mixture_data, resolution=RESOLUTION)
    _render(ax, tmp_path)
    np.testing.assert_array_equal(_artist(ax, "centres").get_offsets(), model.means_)
    paths = _artist(ax, "regions").get_paths()
    points = mixture_data[::25]
    predicted = model.predict(points)
    for point, label in zip(points, predicted):
        # the boundary is drawn on a grid: only points clearly inside a region are checked
        if np.max(model.predict_proba(point[None])) > 0.99:
            assert paths[label].contains_point(point)


def test_legends_list_the_labelled_artists(kmeans, blobs, gm, mixture_data):
    detector = kmix.MixtureOutlierDetector(gm).fit(mixture_data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's "no legend handler for contours"
        regions = kplot.decision_regions(kmeans, blobs, resolution=RESOLUTION)
        density = kplot.mixture_density(gm, mixture_data, detector, resolution=RESOLUTION)
        assert [t.get_text() for t in regions.legend().get_texts()] == ["samples", "centres"]
        assert [t.get_text() for t in density.legend().get_texts()] == [
            "samples", "means", "anomalies"]


def test_unused_bayesian_components_are_not_marked(mixture_data, tmp_path):
    model = kmix.BayesianGaussianMixture(n_components=8, random_state=0).fit(mixture_data)
    used = model.weights_ >= 1e-3
    assert 0 < used.sum() < 8  # the data need three components, not eight
    regions = kplot.decision_regions(model, mixture_data, resolution=RESOLUTION)
    np.testing.assert_array_equal(_artist(regions, "centres").get_offsets(),
                                  model.means_[used])
    density = kplot.mixture_density(model, mixture_data, resolution=RESOLUTION)
    np.testing.assert_array_equal(_artist(density, "means").get_offsets(), model.means_[used])
    _render(density, tmp_path)


def test_draws_into_the_given_axes(kmeans, blobs):
    figure, (left, right) = plt.subplots(1, 2)
    assert kplot.decision_regions(kmeans, blobs, ax=right, resolution=RESOLUTION) is right
    assert not left.collections
    new = kplot.decision_regions(kmeans, blobs, resolution=RESOLUTION)
    assert new.figure is not figure


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_dbscan_core_border_noise(metric, tmp_path):
    X, _ = moons(n_samples=400, noise=0.12, random_state=3)
    db = kmix.DBSCAN(eps=0.12, min_samples=6, metric=metric).fit(X)
    is_core = np.zeros(len(X), dtype=bool)
    is_core[db.core_sample_indices_] = True
    noise = db.labels_ == -1
    border = ~is_core & ~noise
    assert noise.sum() > 0 and border.sum() > 0  # the data exercise all three kinds
    ax = kplot.decision_regions(db, X, resolution=RESOLUTION)
    _render(ax, tmp_path)
    np.testing.assert_array_equal(_artist(ax, "core").get_offsets(), X[is_core])
    np.testing.assert_array_equal(_artist(ax, "border").get_offsets(), X[border])
    np.testing.assert_array_equal(_artist(ax, "noise").get_offsets(), X[noise])
    paths = _artist(ax, "regions").get_paths()
    n_clusters = db.labels_.max() + 1
    assert len(paths) == n_clusters
    # a point well within eps of a core sample lies in the region of the nearest one's
    # cluster; a point well beyond eps of every core sample lies in no region
    from scipy.spatial.distance import cdist

    low, high = X.min(axis=0), X.max(axis=0)
    lattice = np.stack(np.meshgrid(np.linspace(low[0], high[0], 25),
                                   np.linspace(low[1], high[1], 25)), -1).reshape(-1, 2)
    distance = cdist(lattice, db.components_,
                     "cityblock" if metric == "manhattan" else "euclidean")
    nearest = db.labels_[db.core_sample_indices_][distance.argmin(axis=1)]
    inside = np.array([[p.contains_point(q) for p in paths] for q in lattice])
    near, far = distance.min(axis=1) < 0.5 * db.eps, distance.min(axis=1) > 1.5 * db.eps
    assert near.sum() > 20 and far.sum() > 20
    np.testing.assert_array_equal(inside[near], np.eye(n_clusters, dtype=bool)[nearest[near]])
    assert not inside[far].any()


def test_dbscan_rejects_other_data_and_precomputed():
    X, _ = moons(n_samples=200, noise=0.05, random_state=0)
    db = kmix.DBSCAN(eps=0.2).fit(X)
    with pytest.raises(ValueError, match="not the data DBSCAN was fitted on"):
        kplot.decision_regions(db, X + 1.0)
    with pytest.raises(ValueError, match="fitted on"):
        kplot.decision_regions(db, X[:100])
    from sklearn.metrics import pairwise_distances

    for pre in [kmix.DBSCAN(eps=0.2, metric="precomputed"),
                kmix.AgglomerativeClustering(2, metric="precomputed", linkage="average")]:
        pre.fit(pairwise_distances(X))
        with pytest.raises(ValueError, match="precomputed distances"):
            kplot.decision_regions(pre, X)


@pytest.mark.parametrize("model", [kmix.AgglomerativeClustering(3),
                                   kmix.SpectralClustering(3, random_state=0)])
def test_clusterers_without_predict_colour_their_labels(model, blobs, tmp_path):
    X = blobs[:200]
    model.fit(X)
    ax = kplot.decision_regions(model, X, resolution=RESOLUTION)
    _render(ax, tmp_path)
    assert "regions" not in _labels(ax)
    samples = _artist(ax, "samples")
    np.testing.assert_array_equal(samples.get_offsets(), X)
    colours = samples.get_facecolors()
    # same label <=> same colour
    for label in range(3):
        assert np.unique(colours[model.labels_ == label], axis=0).shape[0] == 1
    assert np.unique(colours, axis=0).shape[0] == 3
    with pytest.raises(ValueError, match="data it was fitted on"):
        kplot.decision_regions(model, X[:50])


def test_decision_regions_bad_input(kmeans, blobs):
    with pytest.raises(NotFittedError):
        kplot.decision_regions(kmix.KMeans(3), blobs)
    with pytest.raises(ValueError, match="3 features"):
        kplot.decision_regions(kmeans, np.c_[blobs, blobs[:, 0]])
    three = kmix.KMeans(2, random_state=0).fit(np.c_[blobs, blobs[:, 0]])
    with pytest.raises(ValueError, match="fitted on 3 features"):
        kplot.decision_regions(three, blobs)
    with pytest.raises(TypeError, match="Axes"):
        kplot.decision_regions(kmeans, blobs, ax="left")
    with pytest.raises(TypeError, match="fitted kmix estimator"):
        kplot.decision_regions("kmeans", blobs)
    with pytest.raises(ValueError, match="resolution"):
        kplot.decision_regions(kmeans, blobs, resolution=1)
    bad = blobs.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kplot.decision_regions(kmeans, bad)


def test_inputs_are_not_modified(kmeans, blobs, gm, mixture_data):
    X, M = blobs.copy(), mixture_data.copy()
    kplot.decision_regions(kmeans, X, resolution=RESOLUTION)
    kplot.mixture_density(gm, M, resolution=RESOLUTION)
    kplot.silhouette_diagram(X, kmeans.labels_)
    np.testing.assert_array_equal(X, blobs)
    np.testing.assert_array_equal(M, mixture_data)


# ---------------------------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------------------------
def test_elbow_draws_the_inertia_and_marks_the_elbow(kmeans_scan, tmp_path):
    ax = kplot.elbow(kmeans_scan)
    _render(ax, tmp_path)
    line = _artist(ax, "inertia")
    np.testing.assert_array_equal(line.get_xdata(), kmeans_scan.k)
    np.testing.assert_array_equal(line.get_ydata(), kmeans_scan.inertia)
    marked = _line_starting(ax, "elbow")
    assert kmeans_scan.elbow_k == 4  # the chapter's five blobs: the elbow is at 4
    assert marked.get_label() == "elbow: k=4"
    np.testing.assert_array_equal(marked.get_xdata(), [4])
    np.testing.assert_array_equal(marked.get_ydata(), kmeans_scan.inertia[kmeans_scan.k == 4])


def test_elbow_of_two_k_marks_nothing(blobs):
    scan = scan_kmeans(blobs, [3, 2], random_state=0)
    ax = kplot.elbow(scan)
    assert [line.get_label() for line in ax.lines] == ["inertia"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [2, 3])  # drawn in order of k
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), scan.inertia[::-1])


def test_silhouette_curve_marks_the_best_k(kmeans_scan, tmp_path):
    ax = kplot.silhouette_curve(kmeans_scan)
    _render(ax, tmp_path)
    line = _artist(ax, "silhouette")
    np.testing.assert_array_equal(line.get_xdata(), kmeans_scan.k)
    np.testing.assert_array_equal(line.get_ydata(), kmeans_scan.silhouette)  # NaN at k=1
    marked = _line_starting(ax, "best")
    best = kmeans_scan.k[np.nanargmax(kmeans_scan.silhouette)]
    assert best == kmeans_scan.best_silhouette_k
    np.testing.assert_array_equal(marked.get_xdata(), [best])
    assert marked.get_ydata()[0] == np.nanmax(kmeans_scan.silhouette)


def test_scan_plots_reject_other_inputs(blobs, kmeans_scan, gmm_scan):
    with pytest.raises(ValueError, match="silhouette=True"):
        kplot.silhouette_curve(scan_kmeans(blobs, [2, 3], silhouette=False, random_state=0))
    with pytest.raises(TypeError, match="KMeansScan"):
        kplot.elbow(gmm_scan)
    with pytest.raises(TypeError, match="KMeansScan"):
        kplot.silhouette_curve({"k": [1, 2], "inertia": [2.0, 1.0]})
    with pytest.raises(TypeError, match="GMMScan"):
        kplot.information_criteria(kmeans_scan)
    with pytest.raises(ValueError, match="criteria"):
        kplot.information_criteria(gmm_scan, criteria=("bic", "mdl"))
    with pytest.raises(ValueError, match="criteria"):
        kplot.information_criteria(gmm_scan, criteria=())


def test_information_criteria_lines_and_best(gmm_scan, tmp_path):
    ax = kplot.information_criteria(gmm_scan)
    _render(ax, tmp_path)
    for cov in ("full", "diag", "spherical"):
        rows = gmm_scan.covariance_type == cov
        for criterion in ("bic", "aic"):
            line = _artist(ax, f"{criterion.upper()} {cov}")
            np.testing.assert_array_equal(line.get_xdata(), gmm_scan.k[rows])
            np.testing.assert_array_equal(line.get_ydata(), getattr(gmm_scan, criterion)[rows])
    best = _line_starting(ax, "best")
    i = np.argmin(gmm_scan.bic)
    assert gmm_scan.best_k == gmm_scan.k[i]
    assert gmm_scan.best_covariance_type == gmm_scan.covariance_type[i]
    assert best.get_label() == f"best: k={gmm_scan.k[i]} {gmm_scan.covariance_type[i]} (BIC)"
    np.testing.assert_array_equal(best.get_xdata(), [gmm_scan.k[i]])
    np.testing.assert_array_equal(best.get_ydata(), [gmm_scan.bic.min()])


def test_information_criteria_one_criterion(gmm_scan):
    ax = kplot.information_criteria(gmm_scan, criteria="aic")
    drawn = sorted(line.get_label() for line in ax.lines if not line.get_label().startswith("b"))
    assert drawn == ["AIC diag", "AIC full", "AIC spherical"]


def test_silhouette_diagram_knives_and_mean(kmeans, blobs, tmp_path):
    ax = kplot.silhouette_diagram(blobs, kmeans.labels_)
    _render(ax, tmp_path)
    reference = sk_silhouette_samples(blobs, kmeans.labels_)
    mean_line = _artist(ax, "mean silhouette")
    np.testing.assert_allclose(mean_line.get_xdata(), reference.mean(), rtol=1e-12)
    top = 0
    for label in range(5):
        band = _artist(ax, str(label))
        vertices = band.get_paths()[0].vertices
        ours = reference[kmeans.labels_ == label]
        # the bands are stacked in the order of the labels, one row per sample, out to the
        # cluster's largest coefficient, which is at the top of the band
        assert vertices[:, 1].min() > top
        top = vertices[:, 1].max()
        height = top - vertices[:, 1].min()
        assert height == ours.size - 1
        assert vertices[np.argmax(vertices[:, 0]), 1] == top
        np.testing.assert_allclose(vertices[:, 0].max(), max(ours.max(), 0.0), rtol=1e-12)
        np.testing.assert_allclose(vertices[:, 0].min(), min(ours.min(), 0.0), rtol=1e-12)


def test_silhouette_diagram_bad_labels(blobs):
    with pytest.raises(ValueError, match="[Nn]umber of labels"):
        kplot.silhouette_diagram(blobs, np.zeros(len(blobs), dtype=int))
    with pytest.raises(ValueError):
        kplot.silhouette_diagram(blobs, np.zeros(len(blobs) - 1, dtype=int))


# ---------------------------------------------------------------------------------------------
# mixture_density
# ---------------------------------------------------------------------------------------------
def test_mixture_density_marks_the_anomalies(gm, mixture_data, tmp_path):
    detector = kmix.MixtureOutlierDetector(gm, contamination=0.04).fit(mixture_data)
    ax = kplot.mixture_density(gm, mixture_data, detector, resolution=RESOLUTION)
    _render(ax, tmp_path)
    flagged = detector.predict(mixture_data) == -1
    assert flagged.sum() == np.ceil(0.04 * len(mixture_data))
    np.testing.assert_array_equal(_artist(ax, "anomalies").get_offsets(),
                                  mixture_data[flagged])
    np.testing.assert_array_equal(_artist(ax, "means").get_offsets(), gm.means_)
    np.testing.assert_array_equal(_artist(ax, "samples").get_offsets(), mixture_data)
    density = _artist(ax, "log-density")
    assert isinstance(density, ContourSet) and density.filled
    # the levels reach the highest density of the grid, below the mode's density
    assert density.levels[-1] <= gm.score_samples(gm.means_).max()
    threshold = _artist(ax, "density threshold")
    np.testing.assert_array_equal(threshold.levels, [detector.threshold_])
    boundaries = _artist(ax, "decision boundaries")
    np.testing.assert_array_equal(boundaries.levels, [0.5, 1.5])


def test_mixture_density_without_detector(gm, mixture_data):
    ax = kplot.mixture_density(gm, mixture_data, resolution=RESOLUTION)
    assert "anomalies" not in _labels(ax) and "density threshold" not in _labels(ax)
    assert "log-density" in _labels(ax)


def test_mixture_density_bad_input(gm, mixture_data, kmeans, blobs):
    with pytest.raises(NotFittedError):
        kplot.mixture_density(kmix.GaussianMixture(2), mixture_data)
    with pytest.raises(TypeError, match="fitted mixture"):
        kplot.mixture_density(kmeans, blobs)
    with pytest.raises(TypeError, match="MixtureOutlierDetector"):
        kplot.mixture_density(gm, mixture_data, detector=kmeans)
    with pytest.raises(NotFittedError):
        kplot.mixture_density(gm, mixture_data, detector=kmix.MixtureOutlierDetector(gm))
    with pytest.raises(ValueError, match="n_levels"):
        kplot.mixture_density(gm, mixture_data, n_levels=1)


# ---------------------------------------------------------------------------------------------
# quantize, segmentation_grid
# ---------------------------------------------------------------------------------------------
def _colours(image):
    return np.unique(image.reshape(image.shape[0] * image.shape[1], -1), axis=0)


@pytest.mark.parametrize("n_colors", [2, 5, 16])
def test_quantize_photo_has_n_colors(image, n_colors):
    before = image.copy()
    out = kplot.quantize(image, n_colors, random_state=0)
    np.testing.assert_array_equal(image, before)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert _colours(out).shape[0] == n_colors
    # the colours are KMeans' centres on the pixels, rounded; each pixel takes its cluster's
    pixels = image.reshape(-1, 3).astype(np.float64)
    reference = kmix.KMeans(n_colors, n_init=1, random_state=0).fit(pixels)
    expected = np.rint(reference.cluster_centers_).astype(np.uint8)[reference.labels_]
    np.testing.assert_array_equal(out.reshape(-1, 3), expected)


def test_quantize_keeps_an_image_of_few_colours():
    palette = np.array([[255, 0, 0], [0, 128, 0], [10, 20, 250]], dtype=np.uint8)
    index = np.random.RandomState(0).randint(0, 3, size=(20, 30))
    img = palette[index]
    np.testing.assert_array_equal(kplot.quantize(img, 3), img)


def test_quantize_grey_and_float_images(image):
    grey = image.mean(axis=2) / 255.0
    out = kplot.quantize(grey, 4, random_state=0)
    assert out.shape == grey.shape and out.dtype == np.float64
    assert np.unique(out).size == 4
    # one-dimensional k-means: the grey levels split into four contiguous ranges
    order = np.argsort(grey.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)


def test_quantize_on_a_sample_of_pixels(image):
    first = kplot.quantize(image, 6, random_state=1, sample_size=500)
    again = kplot.quantize(image, 6, random_state=1, sample_size=500)
    np.testing.assert_array_equal(first, again)
    assert _colours(first).shape[0] == 6


def test_quantize_bad_input(image):
    with pytest.raises(ValueError, match="n_colors must be <="):
        kplot.quantize(image[:2, :2], 5)
    with pytest.raises(ValueError, match="n_colors must be >= 1"):
        kplot.quantize(image, 0)
    with pytest.raises(TypeError, match="n_colors must be an int"):
        kplot.quantize(image, 2.5)
    with pytest.raises(ValueError, match="shape"):
        kplot.quantize(image[0, :, 0], 2)
    with pytest.raises(ValueError, match="shape"):
        kplot.quantize(np.zeros((4, 4, 5)), 2)
    with pytest.raises(TypeError, match="real numbers"):
        kplot.quantize(np.full((3, 3), "a"), 2)
    nan = image.astype(float)
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kplot.quantize(nan, 2)
    with pytest.raises(ValueError, match="sample_size"):
        kplot.quantize(image, 4, sample_size=2)


def test_segmentation_grid_panels(image, tmp_path):
    axes = kplot.segmentation_grid(image, [2, 4, 8], random_state=0)
    assert len(axes) == 4
    _render(axes[0], tmp_path)
    np.testing.assert_array_equal(axes[0].images[0].get_array(), image)
    assert [ax.get_title() for ax in axes] == ["original", "2 colours", "4 colours",
                                             "8 colours"]
    for ax, k in zip(axes[1:], [2, 4, 8]):
        shown = np.asarray(ax.images[0].get_array())
        assert _colours(shown).shape[0] == k
        np.testing.assert_array_equal(shown, kplot.quantize(image, k, random_state=0))


def test_segmentation_grid_into_given_axes(image):
    figure, axes = plt.subplots(1, 3)
    returned = kplot.segmentation_grid(image, [3, 5], axes=axes)
    assert list(returned) == list(axes)
    with pytest.raises(ValueError, match="at least len"):
        kplot.segmentation_grid(image, [2, 3, 4], axes=axes)
    with pytest.raises(ValueError, match="at least one"):
        kplot.segmentation_grid(image, [])
    with pytest.raises(ValueError, match=">= 1"):
        kplot.segmentation_grid(image, [2, 0])


# ---------------------------------------------------------------------------------------------
# dendrogram
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("linkage", ["ward", "average", "single"])
def test_dendrogram_matches_scipy(blobs, linkage, tmp_path):
    X = blobs[:60]
    model = kmix.AgglomerativeClustering(3, linkage=linkage, compute_distances=True).fit(X)
    ax = kplot.dendrogram(model)
    _render(ax, tmp_path)
    drawn = ax.dendrogram_
    assert sorted(drawn["leaves"]) == list(range(60))
    assert len(drawn["icoord"]) == 59  # one link per merge
    tops = np.array(drawn["dcoord"])[:, 1]
    reference = hierarchy.linkage(X, method=linkage)
    # same merge heights and sizes as scipy's own tree on the data
    np.testing.assert_allclose(np.sort(tops), reference[:, 2], rtol=1e-10)
    ours = kplot._tree.linkage_matrix(model)
    np.testing.assert_allclose(ours[:, 2], reference[:, 2], rtol=1e-10)
    np.testing.assert_array_equal(ours[:, 3], reference[:, 3])
    assert ours[-1, 3] == 60


def test_dendrogram_with_distance_threshold_and_truncation(blobs):
    X = blobs[:100]
    model = kmix.AgglomerativeClustering(None, distance_threshold=1.0).fit(X)
    ax = kplot.dendrogram(model, truncate_mode="lastp", p=model.n_clusters_)
    # the truncated leaves are the clusters: their sizes are the cluster sizes (scipy shows
    # a merged leaf as "(size)", a single sample by its index)
    sizes = sorted(int(t.strip("()")) if t.startswith("(") else 1
                   for t in ax.dendrogram_["ivl"])
    assert sizes == sorted(np.bincount(model.labels_).tolist())


def test_dendrogram_needs_distances_and_the_full_tree(blobs):
    with pytest.raises(ValueError, match="compute_distances=True"):
        kplot.dendrogram(kmix.AgglomerativeClustering(3).fit(blobs[:30]))
    with pytest.raises(NotFittedError):
        kplot.dendrogram(kmix.AgglomerativeClustering(3, compute_distances=True))
    from sklearn.neighbors import kneighbors_graph

    X = blobs[:80]
    partial = kmix.AgglomerativeClustering(
        10, connectivity=kneighbors_graph(X, 15), compute_full_tree=False,
        compute_distances=True).fit(X)
    with pytest.raises(ValueError, match="compute_full_tree=True"):
        kplot.dendrogram(partial)
