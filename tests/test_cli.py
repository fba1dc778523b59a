"""The command line: ``python -m kmix``."""
import re
import subprocess
import sys

import numpy as np
import pytest

import kmix
from kmix import KMeans
from kmix._cli import main
from kmix.datasets import chapter_blobs


def _run(*args):
    return subprocess.run([sys.executable, "-m", "kmix", *args], capture_output=True,
                          text=True, timeout=120)


def _field(out, name):
    match = re.search(rf"^{name}\s*:\s*(\S+)", out, flags=re.MULTILINE)
    assert match, f"no '{name}' line in:\n{out}"
    return match.group(1)


def _sizes(out):
    return [int(s) for s in re.findall(r"^\s*cluster \d+:\s*(\d+) points", out, re.MULTILINE)]


@pytest.fixture(scope="module")
def demo_output():
    return _run("demo")


def test_help_lists_subcommands():
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+demo\s", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+info\s", result.stdout, re.MULTILINE)


def test_no_subcommand_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_unknown_subcommand_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bogus"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_demo_runs_and_prints_the_fit(demo_output):
    assert demo_output.returncode == 0, demo_output.stderr
    out = demo_output.stdout
    assert int(_field(out, "k")) == 5
    assert float(_field(out, "inertia")) > 0
    assert int(_field(out, "iterations")) >= 1
    assert re.search(r"^fit time\s*:\s*[0-9.]+ ms", out, re.MULTILINE)
    sizes = _sizes(out)
    assert len(sizes) == 5
    assert sum(sizes) == 2000
    assert all(s > 0 for s in sizes)


def test_demo_matches_kmeans_on_chapter_blobs(demo_output):
    out = demo_output.stdout
    X, _ = chapter_blobs()
    km = KMeans(5, n_init=10, random_state=7).fit(X)
    assert float(_field(out, "inertia")) == pytest.approx(km.inertia_, abs=1e-6, rel=1e-9)
    assert int(_field(out, "iterations")) == km.n_iter_
    assert sorted(_sizes(out)) == sorted(np.bincount(km.labels_, minlength=5).tolist())


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan", "hamerly", "auto"])
def test_demo_options(capsys, algorithm):
    assert main(["demo", "--n-clusters", "3", "--n-samples", "600", "--n-init", "2",
                 "--algorithm", algorithm, "--random-state", "1", "--n-threads", "1"]) == 0
    out = capsys.readouterr().out
    X, _ = chapter_blobs(n_samples=600, random_state=1)
    km = KMeans(3, n_init=2, random_state=1, algorithm="lloyd").fit(X)
    assert int(_field(out, "k")) == 3
    assert float(_field(out, "inertia")) == pytest.approx(km.inertia_, abs=1e-6, rel=1e-9)
    sizes = _sizes(out)
    assert len(sizes) == 3 and sum(sizes) == 600


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert kmix.__version__ in out
    assert int(_field(out, "threads")) == kmix.effective_n_threads()
    assert _field(out, "OpenMP") == ("yes" if kmix.openmp_enabled() else "no")


def test_scan_reports_the_chapters_choices():
    result = _run("scan")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert _field(out, "elbow k") == "4"
    assert _field(out, "best silhouette k") == "4"
    assert re.search(r"^best BIC\s*:\s*k=3 full", out, re.MULTILINE)
    # one table row per k, inertia decreasing from k=1 to k=4
    rows = re.findall(r"^\s*(\d+)\s+([\d.]+)\s+(\S+)$", out, re.MULTILINE)
    assert [int(r[0]) for r in rows] == list(range(1, 10))
    inertia = [float(r[1]) for r in rows]
    assert inertia[0] > inertia[1] > inertia[2] > inertia[3]


def test_shapes_separates_the_moons_where_kmeans_cannot(capsys):
    from sklearn.cluster import DBSCAN as SkDBSCAN
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.datasets import make_moons

    assert main(["shapes"]) == 0
    out = capsys.readouterr().out
    X, y = make_moons(1000, noise=0.05, random_state=42)
    sk = SkDBSCAN(eps=0.2, min_samples=5).fit(X)
    counts = re.search(r"(\d+) clusters, (\d+) core samples, (\d+) anomalies", out)
    assert int(counts.group(1)) == len(set(sk.labels_) - {-1}) == 2
    assert int(counts.group(2)) == sk.core_sample_indices_.size
    assert int(counts.group(3)) == np.sum(sk.labels_ == -1)
    agreement = {name.strip(): float(v)
                 for name, v in re.findall(r"^  (.+?)\s*: ([\d.]+)$", out, re.MULTILINE)}
    for name in ("DBSCAN", "Agglomerative single k=2", "Spectral rbf gamma=100"):
        assert agreement[name] == 1.0
    km = SkKMeans(2, n_init=10, random_state=42).fit_predict(X)
    assert agreement["KMeans k=2"] == round(max(np.mean(km == y), np.mean(km != y)), 3) < 0.9
