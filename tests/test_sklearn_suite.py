"""scikit-learn's own tests of the estimators kmix replaces, run against kmix.

Each scikit-learn test module below (shipped in the installed scikit-learn wheel) is copied to a
temporary directory with its imports of the public names kmix replaces rewritten to kmix's
(``from sklearn.cluster import KMeans, k_means`` becomes ``from sklearn.cluster import k_means``
plus ``from kmix import KMeans``), and run by pytest in a subprocess with scikit-learn's own
``conftest`` (``global_random_seed``, ``global_dtype``, ...) as a plugin and a JUnit XML report.
One test per module, so a failure names the module and lists the failing test ids with the
first line of each message.

- scikit-learn's function forms that only build and fit the estimator (``k_means``,
  ``dbscan``, ``spectral_clustering``) are run as scikit-learn wrote them, with kmix's class
  bound to the class name in their module (``sklearn.cluster._dbscan.DBSCAN = kmix.DBSCAN``,
  in the subprocess only), so they exercise kmix's estimator with scikit-learn's arguments.
- Tests of scikit-learn objects kmix does not replace (private functions, private attributes and
  methods, ``FeatureAgglomeration``, ``ward_tree``, ...) or that monkeypatch scikit-learn's
  internals are not applicable: :data:`NOT_APPLICABLE` lists them by name with the reason, and
  they are deselected. A test that only uses such objects to build its input or a reference
  value stays applicable.
- float32 variants of ``global_dtype`` tests run (``SKLEARN_RUN_FLOAT32_TESTS=1``): kmix keeps
  float32 data in float32.

Known failures are not marked as expected: a module's test fails until all its applicable
tests pass. The list of not-applicable tests was made for scikit-learn 1.9; entries that the
installed scikit-learn does not have are reported as a warning.
"""
import ast
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sklearn

SKLEARN_DIR = Path(sklearn.__file__).parent

#: Module id -> path of the scikit-learn test module, relative to the sklearn package.
MODULES = {
    "k_means": "cluster/tests/test_k_means.py",
    "dbscan": "cluster/tests/test_dbscan.py",
    "hierarchical": "cluster/tests/test_hierarchical.py",
    "spectral": "cluster/tests/test_spectral.py",
    "gaussian_mixture": "mixture/tests/test_gaussian_mixture.py",
    "bayesian_mixture": "mixture/tests/test_bayesian_mixture.py",
    "unsupervised": "metrics/cluster/tests/test_unsupervised.py",
}

_METRICS = ("silhouette_score", "silhouette_samples", "calinski_harabasz_score",
            "davies_bouldin_score")

#: Public scikit-learn module -> {name: kmix module that provides the replacement}.
SUBSTITUTES = {
    "sklearn.cluster": {name: "kmix" for name in (
        "KMeans", "MiniBatchKMeans", "DBSCAN", "SpectralClustering", "AgglomerativeClustering",
        "kmeans_plusplus")},
    "sklearn.mixture": {"GaussianMixture": "kmix", "BayesianGaussianMixture": "kmix"},
    "sklearn.metrics": {name: "kmix.metrics" for name in _METRICS},
    "sklearn.metrics.cluster": {name: "kmix.metrics" for name in _METRICS},
}

#: scikit-learn functions that build one estimator and fit it: (public module, name) ->
#: (module whose global the function uses, class name, kmix module providing the class).
WRAPPERS = {
    ("sklearn.cluster", "k_means"): ("sklearn.cluster._kmeans", "KMeans", "kmix"),
    ("sklearn.cluster", "dbscan"): ("sklearn.cluster._dbscan", "DBSCAN", "kmix"),
    ("sklearn.cluster", "spectral_clustering"): ("sklearn.cluster._spectral",
                                                 "SpectralClustering", "kmix"),
}

_PRIVATE = "calls scikit-learn's private {}"
_ATTR = "asserts the private attribute {} (an implementation detail of scikit-learn)"

#: Module id -> {test function name: reason it does not apply to kmix}.
NOT_APPLICABLE = {
    "k_means": {
        "test_relocate_empty_clusters": _PRIVATE.format(
            "_relocate_empty_clusters_dense/_sparse (sklearn.cluster._k_means_common)"),
        "test_minibatch_update_consistency": _PRIVATE.format(
            "_mini_batch_step and _labels_inertia (sklearn.cluster._kmeans)"),
        "test_minibatch_reassign": _PRIVATE.format(
            "_mini_batch_step and _labels_inertia (sklearn.cluster._kmeans)"),
        "test_euclidean_distance": _PRIVATE.format(
            "_euclidean_dense_dense_wrapper/_euclidean_sparse_dense_wrapper"),
        "test_inertia": _PRIVATE.format("_inertia_dense/_inertia_sparse"),
        "test_is_same_clustering": _PRIVATE.format(
            "_is_same_clustering (sklearn.cluster._k_means_common)"),
        "test_kmeans_init_auto_with_initial_centroids": _ATTR.format("_n_init"),
        "test_n_init_auto": _ATTR.format("_n_init"),
        "test_minibatch_kmeans_init_size": _ATTR.format("_init_size"),
        "test_sample_weight_init": "calls the private method _init_centroids with "
                                   "scikit-learn's private signature",
        "test_sample_weight_zero": "calls the private method _init_centroids with "
                                   "scikit-learn's private signature",
    },
    "dbscan": {},
    "hierarchical": {
        "test_linkage_misc": "tests linkage_tree and FeatureAgglomeration (scikit-learn's; "
                             "kmix replaces neither)",
        "test_structured_linkage_tree": _PRIVATE.format("_TREE_BUILDERS"),
        "test_unstructured_linkage_tree": "tests ward_tree and _TREE_BUILDERS "
                                          "(scikit-learn's; not replaced)",
        "test_height_linkage_tree": _PRIVATE.format("_TREE_BUILDERS"),
        "test_zero_cosine_linkage_tree": "tests linkage_tree (scikit-learn's; not replaced)",
        "test_ward_agglomeration": "tests FeatureAgglomeration (scikit-learn's; not replaced)",
        "test_sparse_scikit_vs_scipy": _PRIVATE.format("_TREE_BUILDERS and _hc_cut"),
        "test_vector_scikit_single_vs_scipy_single": _PRIVATE.format(
            "_TREE_BUILDERS and _hc_cut"),
        "test_mst_linkage_core_memory_mapped": _PRIVATE.format(
            "mst_linkage_core (sklearn.cluster._hierarchical_fast)"),
        "test_ward_tree_children_order": "tests ward_tree (scikit-learn's; not replaced)",
        "test_ward_linkage_tree_return_distance": "tests ward_tree and linkage_tree "
                                                  "(scikit-learn's; not replaced)",
        "test_int_float_dict": _PRIVATE.format("IntFloatDict, max_merge and average_merge"),
        "test_n_components": _PRIVATE.format("_TREE_BUILDERS"),
        "test_affinity_passed_to_fix_connectivity": "tests linkage_tree (scikit-learn's; "
                                                    "not replaced)",
    },
    "spectral": {
        "test_cluster_qr": _PRIVATE.format("cluster_qr (sklearn.cluster._spectral)"),
        "test_cluster_qr_permutation_invariance": _PRIVATE.format(
            "cluster_qr (sklearn.cluster._spectral)"),
        "test_discretize": _PRIVATE.format("discretize (sklearn.cluster._spectral)"),
        "test_spectral_clustering_not_infinite_loop": _PRIVATE.format(
            "discretize (sklearn.cluster._spectral) with np.linalg.svd monkeypatched"),
    },
    "gaussian_mixture": {
        "test_suffstat_sk_full": _PRIVATE.format(
            "_estimate_gaussian_covariances_full and _compute_precision_cholesky"),
        "test_suffstat_sk_tied": _PRIVATE.format(
            "_estimate_gaussian_covariances_tied/_full and _compute_precision_cholesky"),
        "test_suffstat_sk_diag": _PRIVATE.format(
            "_estimate_gaussian_covariances_diag/_full and _compute_precision_cholesky"),
        "test_gaussian_suffstat_sk_spherical": _PRIVATE.format(
            "_estimate_gaussian_covariances_spherical and _compute_precision_cholesky"),
        "test_compute_log_det_cholesky": _PRIVATE.format(
            "_compute_log_det_cholesky and _compute_precision_cholesky"),
        "test_gaussian_mixture_log_probabilities": _PRIVATE.format(
            "_estimate_log_gaussian_prob"),
        "test_gaussian_mixture_n_parameters": "asserts the private method _n_parameters()",
        "test_gaussian_mixture_aic_bic": "computes the expected AIC/BIC with the private "
                                         "method _n_parameters()",
        "test_gaussian_mixture_precisions_init": "calls the private methods _set_parameters "
                                                 "and _initialize",
        "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters":
            "monkeypatches sklearn.mixture._gaussian_mixture._estimate_gaussian_parameters "
            "and counts its calls",
        "test_gaussian_mixture_array_api_compliance":
            "fits on array-API inputs (torch, cupy, array_api_strict) under "
            "array_api_dispatch: kmix computes on numpy arrays only (docs/design.md: Smaller "
            "differences from scikit-learn)",
        "test_check_weights":
            "expects scikit-learn's range message, which prints the minimum as 'max value' "
            "and the maximum as 'min value'; kmix prints them the right way round (its own "
            "test_gaussian_mixture.py checks the shape, range and normalisation errors)",
        "test_gaussian_mixture_raises_where_array_api_not_implemented":
            "asserts scikit-learn's NotImplementedError for init_params='kmeans' under "
            "array_api_dispatch (a limitation of scikit-learn, not behaviour to copy)",
    },
    "bayesian_mixture": {
        "test_log_dirichlet_norm": _PRIVATE.format(
            "_log_dirichlet_norm (sklearn.mixture._bayesian_mixture)"),
        "test_log_wishart_norm": _PRIVATE.format(
            "_log_wishart_norm (sklearn.mixture._bayesian_mixture)"),
        "test_compare_covar_type": "calls the private methods _check_parameters and "
                                   "_initialize_parameters",
    },
    "unsupervised": {
        "test_silhouette_reduce": _PRIVATE.format(
            "_silhouette_reduce (sklearn.metrics.cluster._unsupervised)"),
    },
}

#: Module id -> {test function name: (argument, class name, reason)}: the parametrizations of
#: the test whose ``argument`` is the scikit-learn class of that name do not apply.
NOT_APPLICABLE_PARAMS = {
    "hierarchical": {
        "test_agglomeration_ward_constrained_metric": (
            "Clustering", "FeatureAgglomeration",
            "Clustering=FeatureAgglomeration tests scikit-learn's FeatureAgglomeration"),
        "test_agglomeration_ward_euclidean": (
            "Clustering", "FeatureAgglomeration",
            "Clustering=FeatureAgglomeration tests scikit-learn's FeatureAgglomeration"),
    },
}

#: Seconds a module may take before the run is abandoned.
TIMEOUT = 900


# --------------------------------------------------------------------------------------------
# rewriting a scikit-learn test module
# --------------------------------------------------------------------------------------------
def _absolute_module(node, package):
    """The absolute module name of an ``ImportFrom`` node in a module of ``package``."""
    if not node.level:
        return node.module
    base = package.split(".")
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _alias_text(alias):
    return alias.name if alias.asname is None else f"{alias.name} as {alias.asname}"


def rewrite_imports(source, package):
    """Rewrite the imports of replaced scikit-learn names in ``source`` to kmix's.

    Parameters
    ----------
    source : str
        Python source of a scikit-learn test module.
    package : str
        The package the module belongs to (``'sklearn.cluster.tests'``), to make relative
        imports absolute.

    Returns
    -------
    new_source : str
        The source with every ``from <public module> import ...`` statement that names a
        replaced object split into an import of the remaining names from scikit-learn and one
        import per kmix module; relative imports made absolute. Other lines are unchanged.
    substituted : dict
        Local name -> kmix module, for every name now bound to kmix's object.
    wrappers : list of tuple
        The entries of :data:`WRAPPERS` for the scikit-learn functions the module imports.

    Raises
    ------
    ValueError
        If the module reaches a replaced name as an attribute (``sklearn.cluster.KMeans``),
        which import rewriting cannot redirect, or an import shares its lines with other code.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    replacements = {}   # first line index -> (last line index, new text)
    substituted, wrappers = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name):
                dotted = ".".join([value.id] + chain[::-1])
                module, _, name = dotted.rpartition(".")
                if name in SUBSTITUTES.get(module, ()):
                    raise ValueError(f"line {node.lineno}: {dotted} cannot be redirected by "
                                     "rewriting imports")
        if not isinstance(node, ast.ImportFrom):
            continue
        module = _absolute_module(node, package)
        table = SUBSTITUTES.get(module, {})
        kept, moved = [], {}
        for alias in node.names:
            if alias.name in table:
                moved.setdefault(table[alias.name], []).append(alias)
                substituted[alias.asname or alias.name] = table[alias.name]
            else:
                kept.append(alias)
                if (module, alias.name) in WRAPPERS:
                    wrappers.append(WRAPPERS[module, alias.name])
        if not moved and not node.level:
            continue
        first, last = node.lineno - 1, node.end_lineno - 1
        indent = lines[first][:node.col_offset]
        after = lines[last][node.end_col_offset:].strip()
        if indent.strip() or (after and not after.startswith("#")):
            raise ValueError(f"line {node.lineno}: the import shares its lines with other code")
        statements = []
        if kept:
            statements.append(f"from {module} import {', '.join(map(_alias_text, kept))}")
        for kmix_module, aliases in moved.items():
            statements.append(f"from {kmix_module} import {', '.join(map(_alias_text, aliases))}")
        replacements[first] = (last, "".join(f"{indent}{s}\n" for s in statements))
    out, i = [], 0
    while i < len(lines):
        if i in replacements:
            last, text = replacements[i]
            out.append(text)
            i = last + 1
        else:
            out.append(lines[i])
            i += 1
    return "".join(out), substituted, wrappers


# The conftest of the temporary directory: binds the wrappers' classes, deselects the
# not-applicable tests, checks that the substituted names are kmix's, records what it did.
_CONFTEST = '''\
import importlib
import json
from pathlib import Path

import pytest

_HERE = Path(__file__).parent
_CONFIG = json.loads((_HERE / "kmix_suite.json").read_text())

for _module, _cls, _kmix_module in _CONFIG["wrappers"]:
    setattr(importlib.import_module(_module), _cls,
            getattr(importlib.import_module(_kmix_module), _cls))


def _not_applicable(item):
    name = getattr(item, "originalname", None) or item.name
    if name in _CONFIG["not_applicable"]:
        return True
    rule = _CONFIG["not_applicable_params"].get(name)
    if rule and hasattr(item, "callspec"):
        value = item.callspec.params.get(rule[0])
        return getattr(value, "__name__", None) == rule[1]
    return False


def pytest_collection_modifyitems(config, items):
    keep, drop, modules = [], [], set()
    for item in items:
        (drop if _not_applicable(item) else keep).append(item)
        modules.add(item.module)
    for module in modules:
        for name, kmix_module in _CONFIG["substituted"].items():
            origin = getattr(module.__dict__.get(name), "__module__", "")
            if not origin.startswith(kmix_module.split(".")[0]):
                raise pytest.UsageError(f"{name} in {module.__name__} comes from {origin!r}")
    seen = {getattr(item, "originalname", None) or item.name for item in items}
    (_HERE / "kmix_suite_collected.json").write_text(json.dumps(
        {"deselected": [item.nodeid for item in drop], "names": sorted(seen)}))
    items[:] = keep
    config.hook.pytest_deselected(items=drop)
'''


# --------------------------------------------------------------------------------------------
# running a module and reading its report
# --------------------------------------------------------------------------------------------
def _outcomes(report):
    """{test id: (outcome, first line of the message)} from a JUnit XML report."""
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    result = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '').rpartition('.')[2]}.py::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or child.text or "").strip()
                message = message.splitlines()[0][:160] if message else ""
        if test_id not in result or rank[outcome] > rank[result[test_id][0]]:
            result[test_id] = (outcome, message)
    return result


def run_module(module_id, workdir):
    """Run one rewritten scikit-learn test module in a subprocess.

    Returns
    -------
    outcomes : dict
        Test id -> (outcome, message) for the applicable tests that ran.
    deselected : list of str
        Node ids of the not-applicable tests.
    collected_names : list of str
        Names of all the test functions collected.
    seconds : float
        Wall time of the subprocess.
    """
    relative = MODULES[module_id]
    path = SKLEARN_DIR / relative
    package = "sklearn." + ".".join(Path(relative).parent.parts)
    source, substituted, wrappers = rewrite_imports(path.read_text(), package)
    assert substituted, f"{relative}: no import of a replaced name found"
    workdir = Path(workdir)
    (workdir / path.name).write_text(source)
    (workdir / "conftest.py").write_text(_CONFTEST)
    (workdir / "pytest.ini").write_text("[pytest]\naddopts =\n")
    (workdir / "kmix_suite.json").write_text(json.dumps({
        "substituted": substituted, "wrappers": wrappers,
        "not_applicable": sorted(NOT_APPLICABLE.get(module_id, {})),
        "not_applicable_params": {name: rule[:2] for name, rule in
                                  NOT_APPLICABLE_PARAMS.get(module_id, {}).items()}}))
    report = workdir / "report.xml"
    env = dict(os.environ, SKLEARN_RUN_FLOAT32_TESTS="1")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", path.name, "-q", "-p", "no:cacheprovider",
         "-p", "sklearn.conftest", "-c", "pytest.ini", "--rootdir", str(workdir),
         f"--junitxml={report}"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    seconds = time.perf_counter() - start
    if not report.exists() or proc.returncode not in (0, 1):
        pytest.fail(f"{relative}: pytest exited with {proc.returncode} (no usable report)\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}", pytrace=False)
    collected = json.loads((workdir / "kmix_suite_collected.json").read_text())
    return _outcomes(report), collected["deselected"], collected["names"], seconds


@pytest.mark.sklearn_suite
@pytest.mark.parametrize("module_id", list(MODULES))
def test_sklearn_module(module_id, tmp_path):
    """Every applicable test of scikit-learn's module passes with kmix substituted."""
    outcomes, deselected, names, seconds = run_module(module_id, tmp_path)
    counts = {k: 0 for k in ("passed", "failed", "error", "skipped")}
    for outcome, _ in outcomes.values():
        counts[outcome] += 1
    stale = (set(NOT_APPLICABLE.get(module_id, {}))
             | set(NOT_APPLICABLE_PARAMS.get(module_id, {}))) - set(names)
    if stale:
        warnings.warn(f"{MODULES[module_id]} has no test named {sorted(stale)}: update "
                      "NOT_APPLICABLE", UserWarning)
    summary = (f"{MODULES[module_id]}: {counts['passed']} passed, {counts['failed']} failed, "
               f"{counts['error']} errors, {counts['skipped']} skipped, {len(deselected)} not "
               f"applicable, {seconds:.1f} s")
    print(summary)
    assert outcomes, f"{MODULES[module_id]}: no test ran"
    failing = sorted((test_id, message) for test_id, (outcome, message) in outcomes.items()
                     if outcome in ("failed", "error"))
    if failing:
        pytest.fail(summary + "\n" + "\n".join(f"FAILED {test_id} - {message}"
                                               for test_id, message in failing),
                    pytrace=False)


# --------------------------------------------------------------------------------------------
# the harness itself
# --------------------------------------------------------------------------------------------
def test_rewrite_imports_substitutes_only_replaced_names():
    source = textwrap.dedent("""\
        import numpy as np
        from sklearn.cluster import KMeans, k_means, FeatureAgglomeration as FA
        from sklearn.metrics.cluster import (
            adjusted_rand_score,
            silhouette_score as sil,
        )
        from sklearn.cluster._kmeans import _labels_inertia
        from .common import generate_clustered_data


        def f():
            from sklearn.mixture import GaussianMixture
            return GaussianMixture
        """)
    new, substituted, wrappers = rewrite_imports(source, "sklearn.cluster.tests")
    assert new.splitlines() == [
        "import numpy as np",
        "from sklearn.cluster import k_means, FeatureAgglomeration as FA",
        "from kmix import KMeans",
        "from sklearn.metrics.cluster import adjusted_rand_score",
        "from kmix.metrics import silhouette_score as sil",
        "from sklearn.cluster._kmeans import _labels_inertia",
        "from sklearn.cluster.tests.common import generate_clustered_data",
        "", "",
        "def f():",
        "    from kmix import GaussianMixture",
        "    return GaussianMixture",
    ]
    assert substituted == {"KMeans": "kmix", "sil": "kmix.metrics",
                           "GaussianMixture": "kmix"}
    assert wrappers == [("sklearn.cluster._kmeans", "KMeans", "kmix")]


def test_rewrite_imports_refuses_attribute_access():
    with pytest.raises(ValueError, match="sklearn.cluster.KMeans"):
        rewrite_imports("import sklearn.cluster\nsklearn.cluster.KMeans()\n", "sklearn")


def test_outcomes_reads_junit_report(tmp_path):
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite>'
        '<testcase classname="test_x" name="test_a[1]"/>'
        '<testcase classname="test_x" name="test_b"><failure message="AssertionError: no'
        '&#10;more"/></testcase>'
        '<testcase classname="test_x" name="test_b"><error message="teardown"/></testcase>'
        '<testcase classname="test_x" name="test_c"><skipped message="no pyamg"/></testcase>'
        '</testsuite></testsuites>')
    assert _outcomes(report) == {
        "test_x.py::test_a[1]": ("passed", ""),
        "test_x.py::test_b": ("error", "teardown"),
        "test_x.py::test_c": ("skipped", "no pyamg"),
    }
