"""kmix.save / kmix.load: fitted estimators in a versioned, pickle-free file.

A file is one zip archive written by :func:`numpy.savez_compressed` and read with
``allow_pickle=False``:

- ``__metadata__``: UTF-8 JSON (a uint8 array) with the format name and version, the kmix
  version, the class, and the object: its parameters and fitted attributes as JSON values,
  arrays referred to by name (with their dtype, shape and SHA-256);
- ``__checksum__``: the SHA-256 of the metadata bytes;
- ``a0``, ``a1``, ...: the arrays (numbers, booleans and strings only).

:func:`load` builds objects only from a fixed table of kmix classes, sets nothing but their
parameters and the fitted attributes their schema (:mod:`kmix._persistence_schema`) lists,
and checks every array's dtype and shape against it. docs/persistence.md describes the format.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import numbers
import os
from typing import BinaryIO

import numpy as np

from ._persistence_schema import check_state, params_missing_or_unknown

__all__ = ["save", "load", "FORMAT_NAME", "FORMAT_VERSION", "SAVABLE_CLASSES"]

FORMAT_NAME = "kmix-model"
#: Version of the file layout and of the encoding of values; :func:`load` refuses newer ones.
FORMAT_VERSION = 1
METADATA_KEY = "__metadata__"
CHECKSUM_KEY = "__checksum__"

#: The classes a file may name, and where they live (nothing else is ever imported).
SAVABLE_CLASSES = {
    "KMeans": "kmix._kmeans",
    "MiniBatchKMeans": "kmix._minibatch",
    "GaussianMixture": "kmix._gaussian_mixture",
    "BayesianGaussianMixture": "kmix._bayesian_mixture",
    "DBSCAN": "kmix._dbscan",
    "SpectralClustering": "kmix._spectral",
    "AgglomerativeClustering": "kmix._agglomerative",
    "MixtureOutlierDetector": "kmix._outliers",
    "KMeansScan": "kmix.model_selection",
    "GMMScan": "kmix.model_selection",
}
_SCANS = ("KMeansScan", "GMMScan")

#: dtype kinds stored: booleans, integers, floats, complex numbers and unicode strings.
_ARRAY_KINDS = "biufcU"
#: scipy.sparse classes stored (their data, indices and indptr arrays, dtypes kept), by name.
_SPARSE_CLASSES = ("csr_matrix", "csc_matrix", "csr_array", "csc_array")


def _savable_class(name):
    return getattr(importlib.import_module(SAVABLE_CLASSES[name]), name)


def _checked_dtype(text, where):
    """np.dtype from its saved string, only of the kinds kmix stores."""
    try:
        dtype = np.dtype(text) if isinstance(text, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
        raise ValueError(f"{where}: unsupported dtype {text!r} (kmix stores booleans, numbers "
                         "and strings only).")
    return dtype


def _encode_float(x):
    x = float(x)
    return x if math.isfinite(x) else {"__float__": repr(x)}


def _decode_float(value, where):
    if isinstance(value, dict):
        text = value.get("__float__")
        if text not in ("nan", "inf", "-inf") or len(value) != 1:
            raise ValueError(f"{where}: malformed non-finite float {value!r}.")
        return float(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number, got {value!r}.")
    return float(value)


# ------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------

class _Encoder:
    """Turns an object into JSON values plus named arrays."""

    def __init__(self):
        self.arrays = {}
        self.table = {}
        self._memo = {}     # id(object) -> its index, for objects referred to twice
        self._alive = []    # keeps encoded objects alive so that their ids stay unique

    def array(self, a, where):
        if a.dtype == object:
            if not all(isinstance(v, str) for v in a.flat):
                raise TypeError(f"{where}: an object array holding non-strings cannot be "
                                "stored without pickle.")
            out = {"__ndarray__": self.array(a.astype(str), where)["__ndarray__"],
                   "object": True}
            return out
        _checked_dtype(a.dtype.str, where)
        name = f"a{len(self.arrays)}"
        self.arrays[name] = a
        self.table[name] = {"dtype": a.dtype.str, "shape": list(a.shape),
                            "sha256": _array_digest(a)}
        return {"__ndarray__": name}

    def encode(self, value, where):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.generic):
            return self._scalar(value, where)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, float):
            return _encode_float(value)
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, np.dtype):
            return {"__dtype__": _checked_dtype(value.str, where).str}
        if isinstance(value, np.random.RandomState):
            return self._random_state(value, where)
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__tuple__": items}
        if isinstance(value, dict):
            return self._dict(value, where)
        if type(value).__module__.startswith("scipy.sparse"):
            return self._sparse(value, where)
        name = type(value).__name__
        if name in SAVABLE_CLASSES and type(value) is _savable_class(name):
            return self._object(value, where)
        if callable(value):
            raise TypeError(f"{where} is a callable ({value!r}): kmix.save stores data, never "
                            "code. Fit with a built-in option or an array instead, or keep "
                            "the estimator with pickle at your own risk.")
        raise TypeError(f"{where}: cannot store a {type(value).__module__}."
                        f"{type(value).__qualname__} without pickle.")

    def _scalar(self, value, where):
        dtype = _checked_dtype(value.dtype.str, where)
        if dtype.kind == "c":
            item = [_encode_float(value.real), _encode_float(value.imag)]
        elif dtype.kind == "f":
            item = _encode_float(value)
        else:
            item = value.item()
        return {"__scalar__": dtype.str, "value": item}

    def _random_state(self, value, where):
        kind, key, pos, has_gauss, cached = value.get_state(legacy=True)
        return {"__random_state__": {"key": self.array(key, where)["__ndarray__"],
                                     "pos": int(pos), "has_gauss": int(has_gauss),
                                     "cached_gaussian": _encode_float(cached)}}

    def _dict(self, value, where):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: only dicts with string keys can be stored.")
        return {"__dict__": {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}}

    def _sparse(self, value, where):
        kind = type(value).__name__
        if kind not in _SPARSE_CLASSES:
            raise TypeError(f"{where}: a scipy.sparse {kind} cannot be stored; convert it to "
                            "CSR or CSC (``.tocsr()``) first.")
        return {"__sparse__": kind, "shape": list(value.shape),
                "data": self.encode(value.data, where),
                "indices": self.encode(value.indices, where),
                "indptr": self.encode(value.indptr, where)}

    def _object(self, value, where):
        if id(value) in self._memo:
            return {"__ref__": self._memo[id(value)]}
        self._memo[id(value)] = len(self._memo)
        self._alive.append(value)
        name = type(value).__name__
        if name in _SCANS:
            fields = {f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}")
                      for f in dataclasses.fields(value)}
            return {"__object__": name, "fields": fields}
        params = value.get_params(deep=False)
        state = {k: v for k, v in vars(value).items() if k not in params}
        return {"__object__": name,
                "params": {k: self.encode(v, f"{where}.{k}") for k, v in params.items()},
                "state": {k: self.encode(v, f"{where}.{k}") for k, v in state.items()}}


def _array_digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _is_fitted(obj):
    if type(obj).__name__ in _SCANS:
        return True
    params = obj.get_params(deep=False)
    return any(k not in params for k in vars(obj))


def save(estimator: object, path: str | os.PathLike | BinaryIO) -> None:
    """Save a fitted kmix estimator (or scan result) without pickle.

    Parameters
    ----------
    estimator : fitted KMeans, MiniBatchKMeans, GaussianMixture, BayesianGaussianMixture,
            DBSCAN, SpectralClustering, AgglomerativeClustering, MixtureOutlierDetector,
            KMeansScan or GMMScan
        Saved with its parameters and every fitted attribute. A ``numpy.random.RandomState``
        (as ``random_state``) is saved with its exact state.
    path : str, os.PathLike or writable binary file
        Written as given (no suffix is added; ``.npz`` is the customary one). A path is
        written to a temporary file beside it, then renamed.

    Raises
    ------
    TypeError
        If the object is not of a class above, or holds a value that cannot be stored
        without code: a callable (``init``, ``metric``, ``affinity``, ...), an estimator or
        object of another library (e.g. a ``joblib.Memory``).
    ValueError
        If the estimator is not fitted.

    See Also
    --------
    load : read it back.
    """
    name = type(estimator).__name__
    if name not in SAVABLE_CLASSES or type(estimator) is not _savable_class(name):
        raise TypeError(f"kmix.save stores kmix's estimators and scan results ("
                        f"{', '.join(SAVABLE_CLASSES)}); got {type(estimator).__qualname__}.")
    if not _is_fitted(estimator):
        raise ValueError(f"this {name} is not fitted: fit it before saving it.")
    encoder = _Encoder()
    obj = encoder.encode(estimator, name)
    from . import __version__
    metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "kmix_version": __version__, "class": name, "object": obj,
                "arrays": encoder.table}
    _write(path, metadata, encoder.arrays)


def _write(path, metadata, arrays):
    """Write the metadata and arrays as a kmix model file (checksum computed here)."""
    blob = json.dumps(metadata, allow_nan=False, separators=(",", ":")).encode("utf-8")
    members = dict(arrays)
    members[METADATA_KEY] = np.frombuffer(blob, dtype=np.uint8)
    members[CHECKSUM_KEY] = np.frombuffer(hashlib.sha256(blob).hexdigest().encode(),
                                          dtype=np.uint8)
    if hasattr(path, "write"):
        np.savez_compressed(path, **members)
        return
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **members)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------

class _Decoder:
    """Rebuilds objects from JSON values and the file's checked arrays."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.used = set()
        self.objects = []

    def array(self, name, where):
        if not isinstance(name, str) or name not in self.arrays:
            raise ValueError(f"{where}: refers to a missing array {name!r}.")
        if name in self.used:
            raise ValueError(f"{where}: array {name!r} is referred to twice.")
        self.used.add(name)
        return self.arrays[name]

    def decode(self, value, where):
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            return value
        if isinstance(value, list):
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        tags = [k for k in value if k.startswith("__")] if isinstance(value, dict) else []
        if len(tags) != 1:
            raise ValueError(f"{where}: malformed value {value!r}.")
        handler = self._HANDLERS.get(tags[0])
        if handler is None:
            raise ValueError(f"{where}: unknown value tag {tags[0]!r}.")
        return handler(self, value, where)

    def _float(self, value, where):
        return _decode_float(value, where)

    def _ndarray(self, value, where):
        _expect_keys(value, {"__ndarray__"}, {"object"}, where)
        a = self.array(value["__ndarray__"], where)
        if value.get("object", False) is True:
            if a.dtype.kind != "U":
                raise ValueError(f"{where}: an object array must be stored as strings.")
            a = a.astype(object)
        return a

    def _scalar(self, value, where):
        _expect_keys(value, {"__scalar__", "value"}, set(), where)
        dtype = _checked_dtype(value["__scalar__"], where)
        item = value["value"]
        try:
            if dtype.kind == "c":
                if not isinstance(item, list) or len(item) != 2:
                    raise ValueError("expected [real, imag]")
                return dtype.type(complex(_decode_float(item[0], where),
                                          _decode_float(item[1], where)))
            if dtype.kind == "f":
                return dtype.type(_decode_float(item, where))
            if dtype.kind == "b" and not isinstance(item, bool):
                raise ValueError("expected true or false")
            if dtype.kind in "iu" and (isinstance(item, bool) or not isinstance(item, int)):
                raise ValueError("expected an integer")
            if dtype.kind == "U" and not isinstance(item, str):
                raise ValueError("expected a string")
            with np.errstate(over="raise"):
                scalar = dtype.type(item)
            if dtype.kind in "iu" and int(scalar) != item:
                raise ValueError("out of range")
            return scalar
        except (ValueError, OverflowError, TypeError, FloatingPointError) as exc:
            raise ValueError(f"{where}: bad {dtype} scalar {item!r} ({exc}).") from None

    def _dtype(self, value, where):
        _expect_keys(value, {"__dtype__"}, set(), where)
        return _checked_dtype(value["__dtype__"], where)

    def _tuple(self, value, where):
        _expect_keys(value, {"__tuple__"}, set(), where)
        if not isinstance(value["__tuple__"], list):
            raise ValueError(f"{where}: malformed tuple.")
        return tuple(self.decode(value["__tuple__"], where))

    def _dict(self, value, where):
        _expect_keys(value, {"__dict__"}, set(), where)
        if not isinstance(value["__dict__"], dict):
            raise ValueError(f"{where}: malformed dict.")
        return {k: self.decode(v, f"{where}[{k!r}]") for k, v in value["__dict__"].items()}

    def _random_state(self, value, where):
        _expect_keys(value, {"__random_state__"}, set(), where)
        spec = value["__random_state__"]
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: malformed random state.")
        _expect_keys(spec, {"key", "pos", "has_gauss", "cached_gaussian"}, set(), where)
        key = self.array(spec["key"], where)
        if key.dtype != np.uint32 or key.shape != (624,):
            raise ValueError(f"{where}: a random state's key must be 624 uint32 values.")
        rs = np.random.RandomState()
        try:
            rs.set_state(("MT19937", key, spec["pos"], spec["has_gauss"],
                          _decode_float(spec["cached_gaussian"], where)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: bad random state ({exc}).") from None
        return rs

    def _sparse(self, value, where):
        import scipy.sparse as sp

        _expect_keys(value, {"__sparse__", "shape", "data", "indices", "indptr"}, set(), where)
        kind = value["__sparse__"]
        if kind not in _SPARSE_CLASSES:
            raise ValueError(f"{where}: unknown sparse class {kind!r}.")
        shape = value["shape"]
        if (not isinstance(shape, list) or len(shape) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                           for s in shape)):
            raise ValueError(f"{where}: bad sparse shape {shape!r}.")
        data, indices, indptr = (self.decode(value[k], where) for k in ("data", "indices",
                                                                         "indptr"))
        for part, a in (("data", data), ("indices", indices), ("indptr", indptr)):
            if not isinstance(a, np.ndarray) or a.ndim != 1:
                raise ValueError(f"{where}: sparse {part} must be a 1-d array.")
        try:
            matrix = getattr(sp, kind)((data, indices, indptr), shape=tuple(shape))
            matrix.indices, matrix.indptr = indices, indptr   # the index dtypes as saved
            matrix.check_format(full_check=True)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: inconsistent sparse matrix ({exc}).") from None
        return matrix

    def _ref(self, value, where):
        _expect_keys(value, {"__ref__"}, set(), where)
        index = value["__ref__"]
        if (not isinstance(index, int) or isinstance(index, bool)
                or not 0 <= index < len(self.objects) or self.objects[index] is None):
            raise ValueError(f"{where}: bad object reference {index!r}.")
        return self.objects[index]

    def _object(self, value, where):
        name = value["__object__"]
        if not isinstance(name, str) or name not in SAVABLE_CLASSES:
            raise ValueError(f"{where}: unknown class {name!r}; a kmix model file holds one "
                             f"of {', '.join(SAVABLE_CLASSES)}.")
        cls = _savable_class(name)
        index = len(self.objects)
        self.objects.append(None)   # no reference to an object still being built
        if name in _SCANS:
            _expect_keys(value, {"__object__", "fields"}, set(), where)
            fields = self._members(value["fields"], f"{where}.fields")
            check_state(name, {}, fields, where, complete=True)
            obj = cls(**fields)
        else:
            _expect_keys(value, {"__object__", "params", "state"}, set(), where)
            params = self._members(value["params"], f"{where}.params")
            missing, unknown = params_missing_or_unknown(cls, params)
            if missing or unknown:
                raise ValueError(f"{where}: parameters do not match {name}'s "
                                 f"(missing {sorted(missing)}, unknown {sorted(unknown)}).")
            state = self._members(value["state"], f"{where}.state")
            check_state(name, params, state, where, complete=bool(state))
            obj = cls(**params)
            for k, v in state.items():
                setattr(obj, k, v)
        self.objects[index] = obj
        return obj

    def _members(self, spec, where):
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: malformed member table.")
        return {k: self.decode(v, f"{where}.{k}") for k, v in spec.items()}

    _HANDLERS = {"__float__": _float, "__ndarray__": _ndarray, "__scalar__": _scalar,
                 "__dtype__": _dtype, "__tuple__": _tuple, "__dict__": _dict,
                 "__random_state__": _random_state, "__sparse__": _sparse, "__ref__": _ref,
                 "__object__": _object}


def _expect_keys(value, required, optional, where):
    keys = set(value)
    if not required <= keys or not keys <= required | optional:
        raise ValueError(f"{where}: malformed entry (keys {sorted(keys)}).")


def _read_members(f, where):
    """Metadata bytes, checksum and the raw npz arrays of an open model file."""
    try:
        npz = np.load(f, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with npz:
            members = {name: npz[name] for name in npz.files}
    except Exception as exc:    # whatever a damaged archive makes zipfile or numpy raise
        raise ValueError(f"{where}: not a readable kmix model file (truncated, corrupted or "
                         f"not written by kmix.save): {exc}") from None
    for key in (METADATA_KEY, CHECKSUM_KEY):
        if key not in members or members[key].dtype != np.uint8 or members[key].ndim != 1:
            raise ValueError(f"{where}: not a kmix model file (no {key} entry).")
    blob = members.pop(METADATA_KEY).tobytes()
    checksum = members.pop(CHECKSUM_KEY).tobytes()
    return blob, checksum, members


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _parse_metadata(blob, checksum, where):
    if hashlib.sha256(blob).hexdigest().encode() != checksum:
        raise ValueError(f"{where}: the metadata does not match its checksum (the file was "
                         "altered after kmix.save wrote it).")
    try:
        metadata = json.loads(blob.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{where}: malformed metadata ({exc}).") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{where}: not a kmix model file (format {metadata.get('format')!r})."
                         if isinstance(metadata, dict) else f"{where}: malformed metadata.")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{where}: bad format version {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(f"{where}: written in kmix model format {version} (by kmix "
                         f"{metadata.get('kmix_version')!r}); this kmix reads format "
                         f"{FORMAT_VERSION} and older: upgrade kmix to load it.")
    _expect_keys(metadata, {"format", "format_version", "kmix_version", "class", "object",
                            "arrays"}, set(), where)
    name = metadata["class"]
    if not isinstance(name, str) or name not in SAVABLE_CLASSES:
        raise ValueError(f"{where}: unknown class {name!r}; a kmix model file holds one of "
                         f"{', '.join(SAVABLE_CLASSES)}.")
    if not isinstance(metadata["object"], dict) or metadata["object"].get("__object__") != name:
        raise ValueError(f"{where}: the object stored is not the {name} the header names.")
    if not isinstance(metadata["arrays"], dict):
        raise ValueError(f"{where}: malformed array table.")
    return metadata


def _checked_arrays(table, members, where):
    """The file's arrays, each as declared (dtype, shape, digest); no missing or extra one."""
    missing = sorted(set(table) - set(members))
    extra = sorted(set(members) - set(table))
    if missing or extra:
        raise ValueError(f"{where}: arrays missing from the file {missing}, arrays the "
                         f"metadata does not declare {extra}.")
    for name, spec in table.items():
        a = members[name]
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: malformed entry for array {name!r}.")
        _expect_keys(spec, {"dtype", "shape", "sha256"}, set(), f"{where}: array {name!r}")
        dtype = _checked_dtype(spec["dtype"], f"{where}: array {name!r}")
        if a.dtype != dtype:
            raise ValueError(f"{where}: array {name!r} has dtype {a.dtype.str}, the metadata "
                             f"declares {dtype.str}.")
        if list(a.shape) != spec["shape"]:
            raise ValueError(f"{where}: array {name!r} has shape {list(a.shape)}, the "
                             f"metadata declares {spec['shape']}.")
        if _array_digest(a) != spec["sha256"]:
            raise ValueError(f"{where}: array {name!r} does not match its SHA-256 (the file "
                             "was altered after kmix.save wrote it).")
    return members


def load(path: str | os.PathLike | BinaryIO) -> object:
    """Load an estimator or scan result saved by :func:`save`.

    Reads the file with ``allow_pickle=False`` and never imports or runs anything the file
    names: the class must be one of kmix's savable classes, and every parameter, fitted
    attribute and array is checked against that class's schema before the object is built.

    Parameters
    ----------
    path : str, os.PathLike or readable binary file

    Returns
    -------
    estimator
        A new object, equal to the one saved: the same parameters and bitwise the same fitted
        attributes, hence the same predictions.

    Raises
    ------
    ValueError
        If the file is not a kmix model file, is truncated or corrupted, was altered after it
        was written (a checksum differs), was written in a newer format version, names an
        unknown class, or has missing, extra, mis-shaped or wrongly typed arrays or
        attributes. The message says which.
    """
    where = repr(os.fspath(path)) if not hasattr(path, "read") else "model file"
    if hasattr(path, "read"):
        blob, checksum, members = _read_members(path, where)
    else:
        with open(path, "rb") as f:
            blob, checksum, members = _read_members(f, where)
    metadata = _parse_metadata(blob, checksum, where)
    arrays = _checked_arrays(metadata["arrays"], members, where)
    decoder = _Decoder(arrays)
    obj = decoder.decode(metadata["object"], f"{where}: {metadata['class']}")
    unused = sorted(set(arrays) - decoder.used)
    if unused:
        raise ValueError(f"{where}: arrays {unused} are declared but not used.")
    if not _is_fitted(obj):
        raise ValueError(f"{where}: the {metadata['class']} stored is not fitted.")
    return obj
