"""``import kmix`` is lazy (PEP 562): it imports neither scikit-learn, SciPy nor the compiled
core, and every public name still resolves on first use.

Laziness is asserted by the modules a fresh interpreter holds after the import, not by timing.
"""
import json
import subprocess
import sys
from importlib.metadata import version

import pytest

import kmix

HEAVY = ("sklearn", "scipy", "pandas", "threadpoolctl", "kmix._core", "kmix._kmeans")


def modules_after(statement):
    """Sorted names in sys.modules of a fresh interpreter after running ``statement``."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.splitlines()[-1])


def heavy_modules(modules):
    return [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]


@pytest.mark.parametrize("statement", ["import kmix", "import kmix.patch",
                                       "import kmix; kmix.__version__; dir(kmix)"])
def test_import_loads_no_heavy_module(statement):
    modules = modules_after(statement)
    assert "kmix" in modules
    assert heavy_modules(modules) == []


def test_first_use_imports_what_is_needed():
    modules = modules_after("from kmix import KMeans")
    assert "kmix._kmeans" in modules and "sklearn.base" in modules
    # the other estimators' modules stay unloaded
    assert "kmix._spectral" not in modules and "kmix._agglomerative" not in modules


def test_every_public_name_resolves():
    for name in kmix.__all__:
        assert getattr(kmix, name) is not None
    from kmix import KMeans, load, save  # noqa: F401

    assert KMeans.__module__ == "kmix._kmeans"
    assert set(kmix.__all__) <= set(dir(kmix))
    assert {"metrics", "model_selection", "datasets", "patch_sklearn"} <= set(dir(kmix))
    assert kmix.metrics.silhouette_score is not None


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Kmeans'"):
        kmix.Kmeans  # noqa: B018
    assert not hasattr(kmix, "_not_a_name")


def test_version_is_the_installed_distribution_version():
    assert kmix.__version__ == version("kmix")


def test_public_api_is_typed():
    """py.typed ships with the package and the public signatures carry resolvable hints."""
    import inspect
    import typing
    from importlib.resources import files

    import kmix.metrics
    import kmix.model_selection

    assert files("kmix").joinpath("py.typed").is_file()
    callables = [kmix.kmeans_plusplus, kmix.fit_batches, kmix.save, kmix.load,
                 kmix.metrics.silhouette_samples, kmix.metrics.silhouette_score,
                 kmix.metrics.calinski_harabasz_score, kmix.metrics.davies_bouldin_score,
                 kmix.model_selection.scan_kmeans, kmix.model_selection.scan_gmm,
                 kmix.model_selection.elbow]
    for name in ("KMeans", "MiniBatchKMeans", "GaussianMixture", "BayesianGaussianMixture",
                 "DBSCAN", "SpectralClustering", "AgglomerativeClustering",
                 "MixtureOutlierDetector"):
        cls = getattr(kmix, name)
        callables += [cls.__init__, cls.fit]
        callables += [getattr(cls, m) for m in ("predict", "fit_predict") if hasattr(cls, m)]
    for f in [f for f in callables if f.__module__.startswith("kmix")]:   # not inherited
        hints = typing.get_type_hints(f)
        assert "return" in hints, f.__qualname__
        params = [p for p in inspect.signature(f).parameters
                  if p not in ("self", "y", "kwds")]
        assert set(params) <= set(hints), (f.__qualname__, set(params) - set(hints))
