"""What a saved kmix object must hold: each class's fitted attributes, with their types,
dtypes and shapes, checked by :func:`kmix.load` before the object is built.

Shapes are written with named dimensions: ``k`` is the ``n_clusters``/``n_components``
parameter, ``d`` the ``n_features_in_`` attribute, any other name is bound by the first
attribute that has it and must agree in the others (``n``: the training samples).
"""
import numbers

import numpy as np

__all__ = ["check_state", "params_missing_or_unknown"]

FLOATS = ("float32", "float64")
FLOAT64 = ("float64",)
INTS = ("int32", "int64")
NUMBERS = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64")


def _bind(dims, dim, size, where, shape_text):
    if isinstance(dim, int):
        ok = size == dim
    else:
        ok = dims.setdefault(dim, size) == size
    if not ok:
        bound = dim if isinstance(dim, int) else f"{dim} = {dims[dim]}"
        raise ValueError(f"{where}: {shape_text} is inconsistent with {bound}.")


class Array:
    """An ndarray of one of ``dtypes`` whose shape matches ``dims``."""

    def __init__(self, dtypes, *dims):
        self.dtypes, self.dims = dtypes, dims

    def check(self, value, dims, where):
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{where} must be an array, got {type(value).__name__}.")
        if value.dtype.name not in self.dtypes:
            raise ValueError(f"{where} has dtype {value.dtype.name}; expected "
                             f"{' or '.join(self.dtypes)}.")
        text = f"shape {value.shape} (expected ({', '.join(map(str, self.dims))}))"
        if value.ndim != len(self.dims):
            raise ValueError(f"{where} has {text}.")
        for size, dim in zip(value.shape, self.dims):
            _bind(dims, dim, size, where, text)


class Strings(Array):
    """An array of str (object arrays of str, as scikit-learn's ``feature_names_in_``)."""

    def __init__(self, *dims):
        super().__init__((), *dims)

    def check(self, value, dims, where):
        if (not isinstance(value, np.ndarray)
                or not all(isinstance(v, str) for v in value.flat)):
            raise ValueError(f"{where} must be an array of strings.")
        self.dtypes = (value.dtype.name,)
        super().check(value, dims, where)


class Sparse:
    """A scipy.sparse matrix or array of numbers whose shape matches ``dims``."""

    def __init__(self, *dims):
        self.dims = dims

    def check(self, value, dims, where):
        import scipy.sparse as sp

        if not sp.issparse(value) or value.dtype.name not in NUMBERS:
            raise ValueError(f"{where} must be a sparse matrix of numbers.")
        text = f"shape {value.shape} (expected ({', '.join(map(str, self.dims))}))"
        for size, dim in zip(value.shape, self.dims):
            _bind(dims, dim, size, where, text)


class Scalar:
    """A Python or numpy scalar of one kind ('int', 'float', 'bool', 'str', 'dtype');
    ``dim`` names a dimension the value defines."""

    _TYPES = {"int": (numbers.Integral,), "float": (float, np.floating),
              "bool": (bool, np.bool_), "str": (str,), "dtype": (np.dtype,)}

    def __init__(self, kind, dim=None):
        self.kind, self.dim = kind, dim

    def check(self, value, dims, where):
        wrong_bool = self.kind == "int" and isinstance(value, (bool, np.bool_))
        if wrong_bool or not isinstance(value, self._TYPES[self.kind]):
            raise ValueError(f"{where} must be of type {self.kind}, got {value!r}.")
        if self.dim is not None:
            if value < 0:
                raise ValueError(f"{where} must be >= 0, got {value}.")
            _bind(dims, self.dim, int(value), where, str(value))


class OneOf:
    """Any of the specs (the first that accepts the value)."""

    def __init__(self, *specs):
        self.specs = specs

    def check(self, value, dims, where):
        errors = []
        for spec in self.specs:
            trial = dict(dims)
            try:
                spec.check(value, trial, where)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            dims.update(trial)
            return
        raise ValueError(" / ".join(errors))


class NoneValue:
    def check(self, value, dims, where):
        if value is not None:
            raise ValueError(f"{where} must be None, got {type(value).__name__}.")


def NoneOr(spec):  # noqa: N802 - reads as a type
    return OneOf(NoneValue(), spec)


class Tuple:
    def __init__(self, *specs):
        self.specs = specs

    def check(self, value, dims, where):
        if not isinstance(value, tuple) or len(value) != len(self.specs):
            raise ValueError(f"{where} must be a tuple of {len(self.specs)} items.")
        for i, (item, spec) in enumerate(zip(value, self.specs)):
            spec.check(item, dims, f"{where}[{i}]")


class ListOf:
    def __init__(self, spec, dim=None):
        self.spec, self.dim = spec, dim

    def check(self, value, dims, where):
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list.")
        if self.dim is not None:
            _bind(dims, self.dim, len(value), where, f"[{len(value)} items]")
        for i, item in enumerate(value):
            self.spec.check(item, dims, f"{where}[{i}]")


class Fitted:
    """A fitted kmix estimator of one of the named classes (already checked by its own
    schema when it was read); ``features`` names the dimension its n_features_in_ must match."""

    def __init__(self, *names, features=None):
        self.names, self.features = names, features

    def check(self, value, dims, where):
        if type(value).__name__ not in self.names or not hasattr(value, "n_features_in_"):
            raise ValueError(f"{where} must be a fitted {' or '.join(self.names)}.")
        if self.features is not None:
            _bind(dims, self.features, value.n_features_in_, where,
                  f"n_features_in_ = {value.n_features_in_}")


class RandomState:
    def check(self, value, dims, where):
        if not isinstance(value, np.random.RandomState):
            raise ValueError(f"{where} must be a numpy RandomState.")


def _n_clusters(params, name, where):
    k = params.get(name)
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"{where}: parameter {name} must be a positive int, got {k!r}.")
    return int(k)


#: Shapes of a mixture's covariances_ (and precisions) per covariance type.
_COVARIANCE_DIMS = {"full": ("k", "d", "d"), "tied": ("d", "d"), "diag": ("k", "d"),
                    "spherical": ("k",)}
#: Shapes of BayesianGaussianMixture's covariance_prior_ (() for a float).
_COVARIANCE_PRIOR_DIMS = {"full": ("d", "d"), "tied": ("d", "d"), "diag": ("d",),
                          "spherical": ()}


def _covariance_type(params, where):
    from ._validation import check_choice

    return check_choice(f"{where}: parameter covariance_type", params.get("covariance_type"),
                        tuple(_COVARIANCE_DIMS))


# Each schema: {attribute: (spec, required)}; attributes in checking order.

def _common():
    return {"n_features_in_": (Scalar("int", dim="d"), True),
            "feature_names_in_": (Strings("d"), False)}


def _kmeans(params, where):
    return {**_common(),
            "cluster_centers_": (Array(FLOATS, "k", "d"), True),
            "_n_features_out": (Scalar("int", dim="k"), True),
            "labels_": (Array(INTS, "n"), True),
            "inertia_": (Scalar("float"), True),
            "n_iter_": (Scalar("int"), True)}


def _minibatch(params, where):
    schema = _kmeans(params, where)
    for optional in ("labels_", "n_iter_"):   # compute_labels=False; partial_fit only
        schema[optional] = (schema[optional][0], False)
    schema.update({
        "counts_": (Array(FLOAT64, "k"), True),
        "n_steps_": (Scalar("int"), True),
        "_batch_size": (Scalar("int"), True),
        "_init_size": (Scalar("int"), True),
        "_tol": (Scalar("float"), True),
        "_n_since_last_reassign": (Scalar("int"), True),
        "_ewa_inertia": (NoneOr(Scalar("float")), True),
        "_ewa_inertia_min": (NoneOr(Scalar("float")), True),
        "_no_improvement": (Scalar("int"), True),
        "_random_state": (RandomState(), False),    # partial_fit's draws, to resume them
    })
    return schema


def _mixture_common(params, where):
    cov = _COVARIANCE_DIMS[_covariance_type(params, where)]
    return {**_common(),
            "weights_": (Array(FLOATS, "k"), True),
            "means_": (Array(FLOATS, "k", "d"), True),
            "covariances_": (Array(FLOATS, *cov), True),
            "precisions_cholesky_": (Array(FLOATS, *cov), True),
            "precisions_": (Array(FLOATS, *cov), True),
            "converged_": (Scalar("bool"), True),
            "n_iter_": (Scalar("int"), True),
            "lower_bound_": (Scalar("float"), True),
            "lower_bounds_": (ListOf(Scalar("float")), True),
            "_data_mean": (Array(FLOAT64, "d"), True),
            "_total_weight": (Scalar("float"), True),
            # the tied initialisation's second moments (kept from the fit)
            "_tied_second": (NoneOr(Tuple(Tuple(Array(FLOAT64, "dd"), Scalar("float")),
                                          Array(FLOAT64, "d"))), True),
            "_kmeans_data": (NoneValue(), True),
            "_dtype": (Scalar("dtype"), True)}


def _gaussian_mixture(params, where):
    cov = _COVARIANCE_DIMS[_covariance_type(params, where)]
    return {**_mixture_common(params, where),
            "_weights_init": (NoneOr(Array(FLOATS, "k")), True),
            "_means_init": (NoneOr(Array(FLOATS, "k", "d")), True),
            "_precisions_init": (NoneOr(Array(FLOATS, *cov)), True)}


def _bayesian_mixture(params, where):
    cov = _covariance_type(params, where)
    prior_dims = _COVARIANCE_PRIOR_DIMS[cov]
    prior = Array(FLOATS, *prior_dims) if prior_dims else Scalar("float")
    # one Wishart shared by the components for 'tied' (scikit-learn's float), else one each
    dof = Scalar("float") if cov == "tied" else Array(FLOATS, "k")
    process = params.get("weight_concentration_prior_type") == "dirichlet_process"
    concentration = (Tuple(Array(FLOATS, "k"), Array(FLOATS, "k")) if process
                     else Array(FLOATS, "k"))
    return {**_mixture_common(params, where),
            "weight_concentration_prior_": (Scalar("float"), True),
            "mean_precision_prior_": (Scalar("float"), True),
            "mean_prior_": (Array(FLOATS, "d"), True),
            "degrees_of_freedom_prior_": (OneOf(Scalar("int"), Scalar("float")), True),
            "covariance_prior_": (prior, True),
            "weight_concentration_": (concentration, True),
            "mean_precision_": (Array(FLOATS, "k"), True),
            "degrees_of_freedom_": (dof, True)}


def _dbscan(params, where):
    return {**_common(),
            "core_sample_indices_": (Array(INTS, "n_core"), True),
            "labels_": (Array(INTS, "n"), True),
            "components_": (OneOf(Array(FLOATS, "n_core", "d"), Sparse("n_core", "d")), True)}


def _spectral(params, where):
    return {**_common(),
            "affinity_matrix_": (OneOf(Array(NUMBERS, "n", "n"), Sparse("n", "n")), True),
            "labels_": (Array(INTS, "n"), True)}


def _agglomerative(params, where):
    return {**_common(),
            "children_": (Array(INTS, "n_merges", 2), True),
            "n_connected_components_": (Scalar("int"), True),
            "n_leaves_": (Scalar("int", dim="n"), True),
            "distances_": (Array(FLOATS, "n_merges"), False),
            "n_clusters_": (Scalar("int"), True),
            "labels_": (Array(INTS, "n"), True)}


def _outlier_detector(params, where):
    return {**_common(),
            "mixture_": (Fitted("GaussianMixture", "BayesianGaussianMixture", features="d"),
                         True),
            "threshold_": (Scalar("float"), True),
            "offset_": (Scalar("float"), True)}


def _kmeans_scan(params, where):
    return {"k": (Array(INTS, "m"), True),
            "inertia": (Array(FLOAT64, "m"), True),
            "silhouette": (NoneOr(Array(FLOAT64, "m")), True),
            "models": (ListOf(Fitted("KMeans"), "m"), True),
            "elbow_k": (NoneOr(Scalar("int")), True),
            "best_silhouette_k": (NoneOr(Scalar("int")), True)}


def _gmm_scan(params, where):
    return {"k": (Array(INTS, "m"), True),
            "covariance_type": (Strings("m"), True),
            "bic": (Array(FLOAT64, "m"), True),
            "aic": (Array(FLOAT64, "m"), True),
            "models": (ListOf(Fitted("GaussianMixture"), "m"), True),
            "criterion": (Scalar("str"), True),
            "best_k": (Scalar("int"), True),
            "best_covariance_type": (Scalar("str"), True),
            "best_model": (Fitted("GaussianMixture"), True)}


_SCHEMAS = {
    "KMeans": (_kmeans, "n_clusters"),
    "MiniBatchKMeans": (_minibatch, "n_clusters"),
    "GaussianMixture": (_gaussian_mixture, "n_components"),
    "BayesianGaussianMixture": (_bayesian_mixture, "n_components"),
    "DBSCAN": (_dbscan, None),
    "SpectralClustering": (_spectral, None),
    "AgglomerativeClustering": (_agglomerative, None),
    "MixtureOutlierDetector": (_outlier_detector, None),
    "KMeansScan": (_kmeans_scan, None),
    "GMMScan": (_gmm_scan, None),
}


def params_missing_or_unknown(cls, params):
    """The constructor parameters of ``cls`` absent from ``params``, and those it lacks."""
    names = set(cls._get_param_names())
    return names - set(params), set(params) - names


def check_state(name, params, state, where, *, complete):
    """Raise ValueError unless ``state`` holds only attributes of ``name``'s schema, each of
    the right type, dtype and shape (and, if ``complete``, every required one)."""
    if not state and not complete:
        return              # an unfitted estimator (a parameter of another): nothing to check
    make_schema, k_param = _SCHEMAS[name]
    schema = make_schema(params, where)
    unknown = sorted(set(state) - set(schema))
    if unknown:
        raise ValueError(f"{where}: unknown attributes {unknown} for a {name}.")
    missing = sorted(a for a, (_, required) in schema.items() if required and a not in state)
    if complete and missing:
        raise ValueError(f"{where}: missing attributes {missing} of a fitted {name}.")
    dims = {} if k_param is None else {"k": _n_clusters(params, k_param, where)}
    for attribute, (spec, _) in schema.items():
        if attribute in state:
            spec.check(state[attribute], dims, f"{where}.{attribute}")
