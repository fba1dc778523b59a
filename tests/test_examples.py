"""The chapter's examples (examples/*.py) run with --fast: each writes the figures its
docstring lists, as real PNG images, and prints what the chapter finds."""
import ast
import os
import pathlib
import re
import subprocess
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _number(out, pattern):
    match = re.search(pattern, out, flags=re.MULTILINE)
    assert match, f"no match for {pattern!r} in:\n{out}"
    return float(match.group(1))


def _kmeans(out):
    assert _number(out, r"^elbow k\s*: (\d+)") == 4
    assert _number(out, r"^best silhouette k\s*: (\d+)") == 4
    kmeans_ari = _number(out, r"^k-means, 10 restarts .*ARI with the true clusters ([\d.]+)")
    assert _number(out, r"^a Gaussian mixture .*clusters ([\d.]+)") > kmeans_ari + 0.3


def _segmentation(out):
    found = re.findall(r"^(\d+) colours\s*: (\d+) distinct colours", out, re.MULTILINE)
    assert [(int(k), int(n)) for k, n in found] == [(k, k) for k in (10, 8, 6, 4, 2)]
    assert _number(out, r"root-mean-square error ([\d.]+)") < 25


def _preprocessing(out):
    assert _number(out, r"^on the distances to 50 k-means centres : accuracy ([\d.]+)") > 0.85
    assert _number(out, r"^best pipeline on the test set\s*: accuracy ([\d.]+)") > 0.85


def _semi_supervised(out):
    random = _number(out, r"^50 random labels\s*: accuracy ([\d.]+)")
    representative = _number(out, r"^50 representative labels\s*: accuracy ([\d.]+)")
    propagated = _number(out, r"^propagated to the clusters\s*: accuracy ([\d.]+)")
    assert random < representative < propagated
    assert _number(out, r"right: all ([\d.]+)") > 0.9


def _dbscan(out):
    assert _number(out, r"^eps=0.2: (\d+) clusters") == 2
    assert _number(out, r"^eps=0.05: (\d+) clusters") > 2
    assert _number(out, r"agreement with the moons: ([\d.]+)") > 0.99
    assert "predicted clusters: [-1, 0, 1, -1]" in out


def _spectral(out):
    assert _number(out, r"^rbf, gamma=100\s*: agreement with the moons ([\d.]+)") > 0.99
    assert _number(out, r"^single linkage\s*: agreement with the moons ([\d.]+)") > 0.99
    sizes = re.search(r"cut into 5 clusters .*sizes \[([\d, ]+)\]", out).group(1)
    assert [int(s) for s in sizes.split(",")] == [61, 60, 60, 60, 59]  # 300 blobs, --fast


def _mixtures(out):
    assert "converged: True" in out
    weights = ast.literal_eval(re.search(r"^weights\s*: (\[.*\])", out, re.MULTILINE).group(1))
    np.testing.assert_allclose(weights, [0.2, 0.4, 0.4], atol=0.02)


def _anomalies(out):
    assert "anomalies: 50 of 1250 samples" in out
    threshold = re.search(r"density threshold \(log\): (\S+) \(4th percentile by hand: (\S+)\)",
                          out)
    assert threshold.group(1) == threshold.group(2)
    assert "inlier 1 / anomaly -1: [1, 1, -1, -1]" in out


def _model_selection(out):
    assert "best by BIC: k=3, covariance_type=full" in out
    assert "full covariances: best k by BIC 3, by AIC 3" in out


def _bayesian(out):
    assert _number(out, r"components with weight > 0.01: (\d+)") == 3
    low = _number(out, r"weight_concentration_prior=0.01: (\d+) components used")
    high = _number(out, r"weight_concentration_prior=10000: (\d+) components used")
    assert low < high


CHECKS = {
    "01_kmeans.py": _kmeans,
    "02_image_segmentation.py": _segmentation,
    "03_preprocessing.py": _preprocessing,
    "04_semi_supervised.py": _semi_supervised,
    "05_dbscan.py": _dbscan,
    "06_spectral_agglomerative.py": _spectral,
    "07_gaussian_mixtures.py": _mixtures,
    "08_anomalies.py": _anomalies,
    "09_model_selection.py": _model_selection,
    "10_bayesian_mixtures.py": _bayesian,
}


def _documented_figures(script):
    """The names after 'Figure(s):' in the script's docstring."""
    docstring = ast.get_docstring(ast.parse(script.read_text()))
    listed = re.search(r"Figures?: (.*?)\. Run", docstring, flags=re.DOTALL).group(1)
    return sorted(name.strip() for name in listed.split(","))


def test_every_example_is_checked_and_listed():
    scripts = sorted(p.name for p in EXAMPLES.glob("[0-9]*.py"))
    assert scripts == sorted(CHECKS)
    readme = (EXAMPLES / "README.md").read_text()
    for name in scripts:
        assert f"({name})" in readme, f"{name} is not linked from examples/README.md"


#: How each example is told where to write and to be fast: the options, the environment
#: variables, or --fast alone (the default ./figures in the working directory).
MODES = {"08_anomalies.py": "environment", "09_model_selection.py": "default output"}


def _run(script, tmp_path):
    output = tmp_path / "figures"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("KMIX_EXAMPLES_OUTPUT", None)
    env.pop("KMIX_EXAMPLES_FAST", None)
    args = [sys.executable, str(EXAMPLES / script)]
    mode = MODES.get(script, "options")
    if mode == "environment":
        output = tmp_path / "from_environment"
        env.update(KMIX_EXAMPLES_OUTPUT=str(output), KMIX_EXAMPLES_FAST="1")
    elif mode == "options":
        output = tmp_path / "from_options"
        args += ["--fast", "--output", str(output)]
    else:
        args += ["--fast"]
    result = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [output.name]
    return result.stdout, output


@pytest.mark.parametrize("script", sorted(CHECKS))
def test_example_runs_and_saves_its_figures(script, tmp_path):
    out, output = _run(script, tmp_path)
    figures = sorted(p.stem for p in output.iterdir())
    assert figures == _documented_figures(EXAMPLES / script)
    for name in figures:
        path = output / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert re.search(rf"^figure   : \S*{name}\.png$", out, re.MULTILINE)
        pixels = mpimg.imread(path)
        assert min(pixels.shape[:2]) >= 200, pixels.shape
        colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0]
        if name == "quantized_8_colours":  # the image alone (nearest), on white
            assert colours == 8 + 1
        else:
            assert colours > 50, f"{name}.png has only {colours} colours"
    CHECKS[script](out)
