"""Parameter and input validation: the one place kmix checks what it is given."""
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, check_random_state  # noqa: F401
from sklearn.utils.validation import validate_data

__all__ = [
    "check_int",
    "check_real",
    "check_choice",
    "check_n_threads",
    "check_sample_weight",
    "check_n_samples",
    "as_csr_arrays",
    "validate_fitted_input",
]


def check_int(name, value, *, low=None, high=None, allow_none=False):
    """Validate an integer parameter (bools are rejected) and return it as ``int``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}.")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}.")
    return value


def check_real(name, value, *, low=None, low_inclusive=True, allow_none=False):
    """Validate a finite real parameter and return it as ``float``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {value}.")
    return value


def check_choice(name, value, choices):
    """Validate a string option."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}.")
    return value


def check_n_threads(n_threads):
    """``None`` (all cores), a positive count, or a negative count as in joblib; never 0."""
    if n_threads is None:
        return None
    n_threads = check_int("n_threads", n_threads)
    if n_threads == 0:
        raise ValueError("n_threads must be None, a positive int or a negative int; got 0.")
    return n_threads


def check_n_samples(n_samples, n_clusters, what="n_clusters"):
    if n_samples < n_clusters:
        raise ValueError(f"n_samples={n_samples} should be >= {what}={n_clusters}.")


def check_sample_weight(sample_weight, n_samples, *, allow_negative=False):
    """Return sample weights as a new float64 array of shape (n_samples,).

    Raises ValueError for a wrong shape or length, NaN/inf, negative weights or a zero total.
    With ``allow_negative=True`` (weights that are signed counts, as in DBSCAN) negative
    weights pass and only all-zero weights are rejected.
    """
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    else:
        try:
            sample_weight = np.array(sample_weight, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"sample_weight must be numeric: {exc}") from None
    if sample_weight.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1D array or scalar, got shape {sample_weight.shape}."
        )
    if sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == ({sample_weight.shape[0]},), expected ({n_samples},)!"
        )
    if not np.all(np.isfinite(sample_weight)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if allow_negative:
        if not np.any(sample_weight != 0):
            raise ValueError("sample_weight is all zero: at least one weight must be non-zero.")
        return sample_weight
    if np.any(sample_weight < 0):
        raise ValueError("Negative values in sample_weight are not allowed.")
    if not sample_weight.sum() > 0:
        raise ValueError("sample_weight has zero sum: at least one weight must be positive.")
    return sample_weight


def as_csr_arrays(X):
    """(data, indices as int32, indptr as int32) of a CSR matrix, copying only if needed."""
    if not sp.issparse(X) or X.format != "csr":
        raise TypeError("expected a CSR matrix")
    data = np.ascontiguousarray(X.data)
    indices = np.ascontiguousarray(X.indices, dtype=np.int32)
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int32)
    return data, indices, indptr


def validate_fitted_input(estimator, X, **kwargs):
    """``validate_data(estimator, X, reset=False, **kwargs)`` for a fitted estimator's methods.

    A plain C-contiguous float32/float64 ndarray with the fitted number of features, finite
    values and no fitted feature names is returned as it is, without the general path's
    checks (tens of microseconds per call, which dominate predict/score_samples on small
    data); anything else goes through ``validate_data``, which converts it or raises.
    """
    if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES
            and X.flags.c_contiguous and X.shape[0] >= 1
            and X.shape[1] == getattr(estimator, "n_features_in_", -1)
            and not hasattr(estimator, "feature_names_in_")
            and np.isfinite(np.sum(X, dtype=np.float64))):
        return X
    return validate_data(estimator, X, reset=False, **kwargs)


_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
