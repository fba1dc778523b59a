"""kmix.save / kmix.load: round trips of every fitted estimator and scan result, and the
refusal of every malformed file.

Round trips are checked against the object saved: every attribute (parameters and fitted
state, private ones included) must come back with the same type, dtype, shape and bits, and
every prediction method must return the same bits on new data. Malformed files are made by
editing a saved file the way a corrupted disk, a truncated download or a deliberate edit
would: raw bytes, zip members, or the metadata and arrays rewritten consistently (checksums
recomputed) so that only the schema checks can catch them.
"""
import dataclasses
import json
import os
import zipfile

import numpy as np
import pandas
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.neighbors import kneighbors_graph

import kmix
from kmix import _persistence
from kmix.model_selection import scan_gmm, scan_kmeans

RNG = np.random.RandomState(0)
X = np.vstack([RNG.randn(40, 3) + c for c in ([0, 0, 0], [6, 0, 0], [0, 6, 0])])
X_NEW = np.random.RandomState(1).randn(25, 3) * 4


def _cases():
    gm = kmix.GaussianMixture(3, random_state=0).fit(X)
    return {
        "kmeans": lambda: kmix.KMeans(3, random_state=0).fit(X),
        "kmeans-float32-frame": lambda: kmix.KMeans(3, n_init=2, random_state=0).fit(
            pandas.DataFrame(X.astype(np.float32), columns=list("abc"))),
        "kmeans-init-array": lambda: kmix.KMeans(3, init=X[:3].copy(), n_init=1).fit(X),
        "minibatch": lambda: kmix.MiniBatchKMeans(3, batch_size=32, random_state=0).fit(X),
        "minibatch-no-labels": lambda: kmix.MiniBatchKMeans(
            3, compute_labels=False, random_state=0).fit(X),
        "minibatch-partial-randomstate": lambda: kmix.MiniBatchKMeans(
            3, random_state=np.random.RandomState(5)).partial_fit(X[:60]).partial_fit(X[60:]),
        **{f"gmm-{cov}": (lambda cov=cov: kmix.GaussianMixture(
            3, covariance_type=cov, random_state=0).fit(X)) for cov in
           ("full", "tied", "diag", "spherical")},
        "gmm-float32-inits": lambda: kmix.GaussianMixture(
            3, weights_init=[0.2, 0.3, 0.5], means_init=X[[0, 50, 100]],
            random_state=0).fit(X.astype(np.float32)),
        **{f"bgmm-{cov}-{prior}": (lambda cov=cov, prior=prior: kmix.BayesianGaussianMixture(
            n_components=4, covariance_type=cov, weight_concentration_prior_type=prior,
            random_state=0).fit(X)) for cov, prior in
           (("full", "dirichlet_process"), ("tied", "dirichlet_distribution"),
            ("diag", "dirichlet_process"), ("spherical", "dirichlet_distribution"))},
        "dbscan": lambda: kmix.DBSCAN(eps=1.0, min_samples=4).fit(X),
        "dbscan-sparse": lambda: kmix.DBSCAN(eps=1.0, metric="manhattan").fit(
            sp.csr_matrix(X)),
        "spectral-rbf": lambda: kmix.SpectralClustering(3, gamma=0.5, random_state=0).fit(X),
        "spectral-knn": lambda: kmix.SpectralClustering(
            3, affinity="nearest_neighbors", n_neighbors=8, random_state=0).fit(X),
        "agglomerative": lambda: kmix.AgglomerativeClustering(3).fit(X),
        "agglomerative-threshold": lambda: kmix.AgglomerativeClustering(
            None, distance_threshold=5.0, linkage="average").fit(X),
        "agglomerative-connectivity": lambda: kmix.AgglomerativeClustering(
            3, connectivity=kneighbors_graph(X, 6), compute_distances=True).fit(X),
        "outliers": lambda: kmix.MixtureOutlierDetector(contamination=0.1).fit(X),
        "outliers-fitted-bayesian": lambda: kmix.MixtureOutlierDetector(
            kmix.BayesianGaussianMixture(n_components=3, random_state=0).fit(X)).fit(X),
        "outliers-given-mixture": lambda: kmix.MixtureOutlierDetector(gm).fit(X),
        "outliers-unfitted-mixture": lambda: kmix.MixtureOutlierDetector(
            kmix.GaussianMixture(2, covariance_type="diag", random_state=0)).fit(X),
        "scan-kmeans": lambda: scan_kmeans(X, range(1, 5), random_state=0),
        "scan-kmeans-no-silhouette": lambda: scan_kmeans(X, [2, 3], silhouette=False,
                                                         random_state=0),
        "scan-gmm": lambda: scan_gmm(X, range(1, 4), covariance_types=("full", "diag"),
                                     random_state=0),
    }


CASES = _cases()
_FITTED = {}


def fitted(name):
    if name not in _FITTED:
        _FITTED[name] = CASES[name]()
    return _FITTED[name]


def assert_identical(a, b, where="object"):
    """a and b have the same type and the same bits, recursively (NaN equals NaN)."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        if a.dtype == object:
            assert a.tolist() == b.tolist(), where
        else:
            assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), where
    elif sp.issparse(a):
        assert (a.format, a.shape, a.dtype) == (b.format, b.shape, b.dtype), where
        for part in ("data", "indices", "indptr"):
            assert_identical(getattr(a.tocsr(), part), getattr(b.tocsr(), part), where)
    elif isinstance(a, np.random.RandomState):
        assert_identical(a.get_state(legacy=True), b.get_state(legacy=True), where)
    elif isinstance(a, (float, np.generic)):
        assert np.array(a).tobytes() == np.array(b).tobytes(), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_identical(a[k], b[k], f"{where}.{k}")
    elif dataclasses.is_dataclass(a):
        assert_identical(vars(a), vars(b), where)
    elif hasattr(a, "get_params"):
        assert_identical(vars(a), vars(b), where)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def round_trip(obj, tmp_path, name="model.npz"):
    path = tmp_path / name
    kmix.save(obj, path)
    return kmix.load(path)


@pytest.mark.parametrize("case", list(CASES))
def test_round_trip_is_bitwise_identical(case, tmp_path):
    obj = fitted(case)
    loaded = round_trip(obj, tmp_path)
    assert loaded is not obj
    assert_identical(obj, loaded)


PREDICTIONS = ("predict", "transform", "score", "predict_proba", "score_samples",
               "decision_function")


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("scan")])
def test_loaded_estimator_predicts_the_same_bits(case, tmp_path):
    obj = fitted(case)
    loaded = round_trip(obj, tmp_path)
    data = (pandas.DataFrame(X_NEW, columns=obj.feature_names_in_)
            if hasattr(obj, "feature_names_in_") else X_NEW)
    methods = [m for m in PREDICTIONS if hasattr(obj, m)]
    for method in methods:
        assert_identical(getattr(obj, method)(data), getattr(loaded, method)(data), method)
    if hasattr(obj, "sample"):
        assert_identical(obj.sample(7), loaded.sample(7), "sample")


@pytest.mark.parametrize("case", ["kmeans", "minibatch", "gmm-tied", "bgmm-full-dirichlet_process",
                                  "dbscan", "spectral-knn", "agglomerative-threshold"])
def test_loaded_parameters_refit_to_the_same_model(case, tmp_path):
    obj = fitted(case)
    refit = clone(round_trip(obj, tmp_path)).fit(X)
    assert_identical(obj, refit)


def test_scan_models_predict_the_same(tmp_path):
    scan = fitted("scan-gmm")
    loaded = round_trip(scan, tmp_path)
    assert any(m is loaded.best_model for m in loaded.models)   # one object, as saved
    for a, b in zip(scan.models, loaded.models):
        assert_identical(a.predict_proba(X_NEW), b.predict_proba(X_NEW))
    assert_identical(scan.to_frame().to_dict(), loaded.to_frame().to_dict())


def test_shared_mixture_stays_shared(tmp_path):
    det = fitted("outliers-given-mixture")
    assert det.mixture is det.mixture_
    loaded = round_trip(det, tmp_path)
    assert loaded.mixture is loaded.mixture_


def test_partial_fit_resumes_with_the_same_draws(tmp_path):
    mbk = kmix.MiniBatchKMeans(3, random_state=np.random.RandomState(3)).partial_fit(X[:50])
    loaded = round_trip(mbk, tmp_path)
    for batch in (X[50:90], X[90:]):
        mbk.partial_fit(batch)
        loaded.partial_fit(batch)
    assert_identical(mbk, loaded)


def test_file_is_npz_with_json_metadata(tmp_path):
    path = tmp_path / "km"       # no suffix is added
    kmix.save(fitted("kmeans"), path)
    assert os.listdir(tmp_path) == ["km"]
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["__metadata__"].tobytes())
        kinds = {npz[name].dtype.kind for name in npz.files}
    assert kinds <= set("biufcU")
    assert meta["format"] == "kmix-model" and meta["format_version"] == 1
    assert meta["kmix_version"] == kmix.__version__ and meta["class"] == "KMeans"
    assert meta["object"]["params"]["n_clusters"] == 3


def test_save_and_load_file_objects(tmp_path):
    import io

    buffer = io.BytesIO()
    kmix.save(fitted("gmm-full"), buffer)
    buffer.seek(0)
    assert_identical(fitted("gmm-full"), kmix.load(buffer))


# ------------------------------------------------------------------------------------------
# What save refuses
# ------------------------------------------------------------------------------------------

def test_save_refuses_callables(tmp_path):
    km = kmix.KMeans(2, init=lambda X, k, random_state: X[:k].copy(), n_init=1).fit(X)
    with pytest.raises(TypeError, match=r"KMeans\.init is a callable"):
        kmix.save(km, tmp_path / "m.npz")
    db = kmix.DBSCAN(eps=1.0, metric=lambda a, b: np.abs(a - b).sum()).fit(X[:30])
    with pytest.raises(TypeError, match=r"DBSCAN\.metric is a callable"):
        kmix.save(db, tmp_path / "m.npz")
    assert not os.listdir(tmp_path)         # nothing half-written


def test_save_refuses_foreign_objects(tmp_path):
    from joblib import Memory
    from sklearn.cluster import KMeans as SKKMeans

    with pytest.raises(TypeError, match="kmix.save stores kmix's"):
        kmix.save(SKKMeans(2).fit(X), tmp_path / "m.npz")
    agg = kmix.AgglomerativeClustering(3, memory=Memory(None)).fit(X)
    with pytest.raises(TypeError, match=r"AgglomerativeClustering\.memory: cannot store"):
        kmix.save(agg, tmp_path / "m.npz")


def test_save_refuses_unfitted(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        kmix.save(kmix.KMeans(2), tmp_path / "m.npz")


# ------------------------------------------------------------------------------------------
# What load refuses
# ------------------------------------------------------------------------------------------

def saved(tmp_path, case="kmeans"):
    path = tmp_path / "model.npz"
    kmix.save(fitted(case), path)
    return path


def parts(path):
    """(metadata dict, arrays dict) of a saved file."""
    with open(path, "rb") as f:
        blob, _, members = _persistence._read_members(f, "test")
    return json.loads(blob), members


def forge(path, metadata, arrays):
    """Rewrite a file consistently: array table and checksum recomputed from the content,
    as someone who knows the format would; only the schema checks can then object."""
    metadata["arrays"] = {name: {"dtype": a.dtype.str, "shape": list(a.shape),
                                 "sha256": _persistence._array_digest(a)}
                          for name, a in arrays.items()}
    _persistence._write(path, metadata, arrays)


def rewrite_members(path, replace):
    """Rewrite zip members raw (metadata and checksums untouched)."""
    with zipfile.ZipFile(path) as z:
        members = {info.filename: z.read(info) for info in z.infolist()}
    members = replace(members)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def npy_bytes(a):
    import io

    buffer = io.BytesIO()
    np.save(buffer, a)
    return buffer.getvalue()


def array_name(metadata, attribute, owner=None):
    state = (owner or metadata["object"])["state"]
    return state[attribute]["__ndarray__"]


def test_missing_array_is_refused(tmp_path):
    path = saved(tmp_path)
    rewrite_members(path, lambda m: {k: v for k, v in m.items() if k != "a0.npy"})
    with pytest.raises(ValueError, match=r"arrays missing from the file \['a0'\]"):
        kmix.load(path)


def test_extra_array_is_refused(tmp_path):
    path = saved(tmp_path)
    rewrite_members(path, lambda m: {**m, "evil.npy": npy_bytes(np.arange(3))})
    with pytest.raises(ValueError, match=r"does not declare \['evil'\]"):
        kmix.load(path)


def test_array_not_as_declared_is_refused(tmp_path):
    path = saved(tmp_path)
    meta, _ = parts(path)
    name = array_name(meta, "cluster_centers_")
    centers = fitted("kmeans").cluster_centers_
    for replacement, message in ((centers[:2], "has shape"),
                                 (centers.astype(np.float32), "has dtype"),
                                 (centers + 1.0, "SHA-256")):
        rewrite_members(path, lambda m: {**m, f"{name}.npy": npy_bytes(replacement)})
        with pytest.raises(ValueError, match=message):
            kmix.load(path)


@pytest.mark.parametrize("attribute, value, message", [
    ("cluster_centers_", np.zeros((3, 4)), r"shape \(3, 4\) .* is inconsistent with d = 3"),
    ("cluster_centers_", np.zeros((4, 3)), r"inconsistent with k = 3"),
    ("labels_", np.zeros((120, 1), dtype=np.int32), r"labels_ has shape"),
    ("cluster_centers_", np.zeros((3, 3), dtype=np.int64), r"dtype int64; expected float32"),
    ("cluster_centers_", np.full((3, 3), "x"), r"dtype str"),
    ("labels_", np.zeros(120), r"labels_ has dtype float64"),
])
def test_schema_rejects_consistent_but_wrong_arrays(tmp_path, attribute, value, message):
    path = saved(tmp_path)
    meta, arrays = parts(path)
    arrays[array_name(meta, attribute)] = value
    forge(path, meta, arrays)
    with pytest.raises(ValueError, match=message):
        kmix.load(path)


def _set_class(meta, name):
    meta["class"] = meta["object"]["__object__"] = name


@pytest.mark.parametrize("case, edit, message", [
    ("kmeans", lambda m: _set_class(m, "Pipeline"), "unknown class 'Pipeline'"),
    ("scan-kmeans", lambda m: m["object"]["fields"]["models"][1].update(__object__="os.system"),
     "unknown class 'os.system'"),
    ("kmeans", lambda m: m.update(format_version=2), "format 2 .*upgrade kmix"),
    ("gmm-diag", lambda m: m["object"]["params"].update(covariance_type="full"),
     r"covariances_ has shape \(3, 3\) \(expected \(k, d, d\)\)"),
    ("gmm-diag", lambda m: m["object"]["params"].update(covariance_type="bogus"),
     "covariance_type must be one of"),
    ("outliers", lambda m: m["object"]["state"].update(n_features_in_=4),
     "mixture_: n_features_in_ = 3 is inconsistent with d = 4"),
    ("kmeans", lambda m: m["object"]["state"].update(evil_=1), r"unknown attributes \['evil_'\]"),
    ("kmeans", lambda m: m["object"]["state"].pop("inertia_"),
     r"missing attributes \['inertia_'\]"),
    ("kmeans", lambda m: m["object"]["params"].update(evil=1), r"unknown \['evil'\]"),
    ("kmeans", lambda m: m["object"]["params"].pop("tol"), r"missing \['tol'\]"),
    ("kmeans", lambda m: m["object"]["state"].update(n_iter_="5"), "n_iter_ must be of type int"),
    ("kmeans", lambda m: m["object"]["state"].update(n_iter_=True), "n_iter_ must be of type int"),
    ("kmeans", lambda m: m["object"]["params"].update(n_clusters=0),
     "n_clusters must be a positive int"),
    ("kmeans", lambda m: m["object"]["state"].update(inertia_={"__code__": "print(1)"}),
     "unknown value tag"),
    ("kmeans", lambda m: m["object"]["state"].update(inertia_={"__scalar__": "O", "value": 1}),
     "unsupported dtype 'O'"),
    ("kmeans", lambda m: m["object"]["state"].update(
        inertia_={"__scalar__": "<i1", "value": 300}), "bad int8 scalar 300"),
    ("scan-gmm", lambda m: m["object"]["fields"].update(best_model={"__ref__": 99}),
     "bad object reference 99"),
])
def test_forged_metadata_is_refused(tmp_path, case, edit, message):
    """Files rewritten consistently (checksums recomputed) with a wrong class, version,
    parameter or attribute."""
    path = saved(tmp_path, case)
    meta, arrays = parts(path)
    edit(meta)
    forge(path, meta, arrays)
    with pytest.raises(ValueError, match=message):
        kmix.load(path)


def test_truncated_files_are_refused(tmp_path):
    path = saved(tmp_path)
    data = path.read_bytes()
    for size in (0, 10, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        path.write_bytes(data[:size])
        with pytest.raises(ValueError, match="not a readable kmix model file"):
            kmix.load(path)


def test_flipped_bytes_are_refused_or_harmless(tmp_path):
    """A flipped byte anywhere is caught (zip CRC, checksums, schema), or lies in bytes that
    hold no content (zip timestamps, ...) and the model loads unchanged."""
    path = saved(tmp_path)
    data = path.read_bytes()
    refused = 0
    for position in range(0, len(data), 5):
        corrupted = bytearray(data)
        corrupted[position] ^= 0x5A
        path.write_bytes(bytes(corrupted))
        try:
            loaded = kmix.load(path)
        except ValueError:
            refused += 1
        else:
            assert_identical(fitted("kmeans"), loaded)
    assert refused > len(range(0, len(data), 5)) // 2


def test_edited_metadata_is_refused(tmp_path):
    path = saved(tmp_path)
    meta, _ = parts(path)
    meta["object"]["params"]["max_iter"] = 5
    blob = json.dumps(meta).encode()
    rewrite_members(path, lambda m: {**m, "__metadata__.npy": npy_bytes(
        np.frombuffer(blob, dtype=np.uint8))})
    with pytest.raises(ValueError, match="does not match its checksum"):
        kmix.load(path)


def test_pickled_content_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = saved(tmp_path)
    evil = np.array([Payload()], dtype=object)
    rewrite_members(path, lambda m: {**m, "a0.npy": npy_bytes(evil)})
    with pytest.raises(ValueError, match="not a readable kmix model file"):
        kmix.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a zip at all", npy_bytes(np.arange(3))])
def test_other_files_are_refused(tmp_path, content):
    path = tmp_path / "other.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a .*kmix model file"):
        kmix.load(path)


def test_npz_without_metadata_is_refused(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ValueError, match="no __metadata__ entry"):
        kmix.load(path)
