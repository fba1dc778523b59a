"""kmix.patch_sklearn / unpatch_sklearn and ``python -m kmix.patch script.py``."""
import importlib
import json
import subprocess
import sys
import textwrap

import pytest
import sklearn.cluster
import sklearn.metrics
import sklearn.metrics.cluster
import sklearn.mixture
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans as SklearnKMeans  # bound before any patching
from sklearn.datasets import make_blobs

import kmix
from kmix import metrics
from kmix._patch import PATCHED_NAMES

# A script written for scikit-learn: it fits each replaced estimator and reports which classes
# it got and what they computed.
SCRIPT = textwrap.dedent("""\
    import json
    import sys

    from sklearn.cluster import (AgglomerativeClustering, DBSCAN, KMeans, MiniBatchKMeans,
                                 SpectralClustering)
    from sklearn.datasets import make_blobs
    from sklearn.metrics import calinski_harabasz_score, silhouette_score
    from sklearn.metrics.cluster import davies_bouldin_score, silhouette_samples
    from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

    X, _ = make_blobs(n_samples=300, centers=4, random_state=0)
    km = KMeans(n_clusters=4, random_state=0).fit(X)
    gm = GaussianMixture(n_components=4, random_state=0).fit(X)
    out = {
        "name": __name__,
        "argv": sys.argv,
        "modules": {obj.__name__: obj.__module__ for obj in (
            KMeans, MiniBatchKMeans, DBSCAN, SpectralClustering, AgglomerativeClustering,
            GaussianMixture, BayesianGaussianMixture, silhouette_score, silhouette_samples,
            calinski_harabasz_score, davies_bouldin_score)},
        "kmeans_type": type(KMeans()).__module__,
        "kmeans_labels": km.labels_.tolist(),
        "kmeans_inertia": km.inertia_,
        "minibatch_centers": MiniBatchKMeans(n_clusters=4, random_state=0, n_init=1)
                             .fit(X).cluster_centers_.tolist(),
        "dbscan_labels": DBSCAN(eps=0.8, min_samples=5).fit(X).labels_.tolist(),
        "agglomerative_labels": AgglomerativeClustering(n_clusters=4).fit(X).labels_.tolist(),
        "gmm_means": gm.means_.tolist(),
        "gmm_lower_bound": gm.lower_bound_,
        "silhouette": silhouette_score(X, km.labels_),
        "calinski_harabasz": calinski_harabasz_score(X, km.labels_),
        "davies_bouldin": davies_bouldin_score(X, km.labels_),
    }
    print(json.dumps(out))
    """)


def _kmix_results():
    """What SCRIPT computes, with kmix called directly."""
    X, _ = make_blobs(n_samples=300, centers=4, random_state=0)
    km = kmix.KMeans(n_clusters=4, random_state=0).fit(X)
    gm = kmix.GaussianMixture(n_components=4, random_state=0).fit(X)
    return {
        "kmeans_labels": km.labels_, "kmeans_inertia": km.inertia_,
        "minibatch_centers": kmix.MiniBatchKMeans(n_clusters=4, random_state=0, n_init=1)
                             .fit(X).cluster_centers_,
        "dbscan_labels": kmix.DBSCAN(eps=0.8, min_samples=5).fit(X).labels_,
        "agglomerative_labels": kmix.AgglomerativeClustering(n_clusters=4).fit(X).labels_,
        "gmm_means": gm.means_, "gmm_lower_bound": gm.lower_bound_,
        "silhouette": metrics.silhouette_score(X, km.labels_),
        "calinski_harabasz": metrics.calinski_harabasz_score(X, km.labels_),
        "davies_bouldin": metrics.davies_bouldin_score(X, km.labels_),
    }


def _current():
    """{(module, name): object} for every patched name, as scikit-learn's modules hold it now."""
    return {(module, name): getattr(importlib.import_module(module), name)
            for module, names in PATCHED_NAMES.items() for name in names}


@pytest.fixture
def originals():
    """scikit-learn's objects before the test; restores them whatever the test did."""
    before = _current()
    yield before
    kmix.unpatch_sklearn()
    for (module, name), obj in before.items():
        setattr(importlib.import_module(module), name, obj)


def _run_patched(*args, cwd):
    return subprocess.run([sys.executable, "-m", "kmix.patch", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


# --------------------------------------------------------------------------------------------
# python -m kmix.patch
# --------------------------------------------------------------------------------------------
def test_script_runs_on_kmix_with_kmix_results(tmp_path):
    script = tmp_path / "cluster_script.py"
    script.write_text(SCRIPT)
    result = _run_patched(str(script), "--flag", "value", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["name"] == "__main__"
    assert out["argv"] == [str(script), "--flag", "value"]
    assert out["kmeans_type"].startswith("kmix.")
    assert all(module.startswith("kmix.") for module in out["modules"].values()), out["modules"]
    assert len(out["modules"]) == 11

    expected = _kmix_results()
    for key in ("kmeans_labels", "dbscan_labels", "agglomerative_labels"):
        assert_array_equal(out[key], expected[key], err_msg=key)
    for key in ("kmeans_inertia", "minibatch_centers", "gmm_means", "gmm_lower_bound",
                "silhouette", "calinski_harabasz", "davies_bouldin"):
        assert_allclose(out[key], expected[key], rtol=1e-12, err_msg=key)


def test_module_runs_patched_with_its_arguments(tmp_path):
    (tmp_path / "patched_mod.py").write_text(textwrap.dedent("""\
        import sys
        from sklearn.cluster import KMeans
        print(__name__, KMeans.__module__, sys.argv[1:])
        """))
    result = _run_patched("-m", "patched_mod", "a", "b", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(None, 2) == ["__main__", "kmix._kmeans", "['a', 'b']\n"]


def test_script_exit_status_and_directory_on_path(tmp_path):
    (tmp_path / "helper_for_patch.py").write_text("VALUE = 7\n")
    script = tmp_path / "exits.py"
    script.write_text("import sys\nfrom helper_for_patch import VALUE\nsys.exit(VALUE)\n")
    result = _run_patched(str(script), cwd=tmp_path.parent)
    assert result.returncode == 7, result.stderr


def test_usage_error_without_script(tmp_path):
    result = _run_patched(cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: python -m kmix.patch" in result.stderr


# --------------------------------------------------------------------------------------------
# patch_sklearn / unpatch_sklearn in process
# --------------------------------------------------------------------------------------------
def test_patch_binds_every_name_to_kmix_and_unpatch_restores(originals):
    assert not any(obj.__module__.startswith("kmix") for obj in originals.values())
    kmix.patch_sklearn()
    assert kmix.sklearn_is_patched()
    assert sklearn.cluster.KMeans is kmix.KMeans
    assert sklearn.mixture.GaussianMixture is kmix.GaussianMixture
    assert sklearn.metrics.cluster.silhouette_score is metrics.silhouette_score
    for (module, name), obj in _current().items():
        assert obj is getattr(importlib.import_module(PATCHED_NAMES[module][name]), name), name

    kmix.unpatch_sklearn()
    assert not kmix.sklearn_is_patched()
    assert sklearn.cluster.KMeans is SklearnKMeans
    after = _current()
    assert all(after[key] is originals[key] for key in originals)


def test_patch_twice_then_unpatch_restores_originals(originals):
    kmix.patch_sklearn()
    kmix.patch_sklearn()
    kmix.unpatch_sklearn()
    after = _current()
    assert all(after[key] is originals[key] for key in originals)
    kmix.unpatch_sklearn()          # nothing to undo: no change
    assert _current() == after


def test_only_imports_after_patching_are_affected(originals, tmp_path, monkeypatch):
    (tmp_path / "imported_after_patch.py").write_text(
        "from sklearn.cluster import KMeans\nfrom sklearn.metrics import silhouette_score\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kmix.patch_sklearn()
    try:
        module = importlib.import_module("imported_after_patch")
    finally:
        kmix.unpatch_sklearn()
        sys.modules.pop("imported_after_patch", None)
    assert module.KMeans is kmix.KMeans                   # imported while patched
    assert module.silhouette_score is metrics.silhouette_score
    assert SklearnKMeans is originals["sklearn.cluster", "KMeans"]   # imported before
    assert sklearn.cluster.KMeans is SklearnKMeans                   # restored


def test_patched_names_are_the_kmix_public_objects():
    assert set(PATCHED_NAMES["sklearn.metrics"]) == set(metrics.__all__)
    assert PATCHED_NAMES["sklearn.metrics.cluster"] == PATCHED_NAMES["sklearn.metrics"]
    for module, names in PATCHED_NAMES.items():
        for name, kmix_module in names.items():
            assert hasattr(importlib.import_module(module), name), (module, name)
            assert name in importlib.import_module(kmix_module).__all__, (kmix_module, name)
