"""Parameter and input validation: the one place kmix checks what it is given."""
import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, check_random_state, validate_data  # noqa: F401

from ._core import _lloyd
from ._threads import effective_n_threads, threads_for

__all__ = [
    "check_int",
    "check_real",
    "check_choice",
    "check_n_threads",
    "check_sample_weight",
    "check_n_samples",
    "check_seed",
    "as_csr_arrays",
    "check_magnitude",
    "check_value_magnitude",
    "check_squarable",
    "validate_fitted_input",
    "validate_fit_data",
    "checked_float_copy",
]


def check_int(name, value, *, low=None, high=None, allow_none=False):
    """Validate an integer parameter (bools are rejected) and return it as ``int``."""
    if value is None and allow_none:
        return None
    # (a plain int first: the ABC check costs a microsecond a parameter)
    if type(value) is not int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(
                f"{name} must be an int, got {value!r} of type {type(value).__name__}.")
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
    if type(value) is not float and type(value) is not int and (
            isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
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


def check_seed(seed):
    """``seed`` if :func:`~sklearn.utils.check_random_state` accepts it (None, an int, a
    ``RandomState``), with its error otherwise, without building the generator (~120 us here), for
    fits that draw nothing (centres given as an array)."""
    if seed is None or isinstance(seed, (numbers.Integral, np.random.RandomState)):
        return seed
    return check_random_state(seed)


def check_n_samples(n_samples, n_clusters, what="n_clusters"):
    if n_samples < n_clusters:
        raise ValueError(f"n_samples={n_samples} should be >= {what}={n_clusters}.")


def check_sample_weight(sample_weight, n_samples, *, allow_negative=False, min_nonzero=1,
                        what="the fit"):
    """Return sample weights as a new float64 array of shape (n_samples,).

    Raises ValueError for a wrong shape or length, NaN/inf, negative weights, a zero or
    infinite total, or fewer than ``min_nonzero`` non-zero weights (``what``: who needs
    them, for the message). With ``allow_negative=True`` (weights that are signed counts,
    as in DBSCAN) negative weights pass and only all-zero weights are rejected.
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
    with np.errstate(over="ignore"):
        total = sample_weight.sum()
    if not total > 0:
        raise ValueError("sample_weight has zero sum: at least one weight must be positive.")
    if not np.isfinite(total):
        raise ValueError("sample_weight sums to infinity; rescale the weights.")
    n_nonzero = int(np.count_nonzero(sample_weight))
    if n_nonzero < min_nonzero:
        raise ValueError(
            f"sample_weight has {n_nonzero} non-zero weight(s); {what} needs at least "
            f"{min_nonzero} samples with non-zero weight."
        )
    return sample_weight


def as_csr_arrays(X):
    """(data, indices as int32, indptr as int32) of a CSR matrix, copying only if needed."""
    if not sp.issparse(X) or X.format != "csr":
        raise TypeError("expected a CSR matrix")
    data = np.ascontiguousarray(X.data)
    indices = np.ascontiguousarray(X.indices, dtype=np.int32)
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int32)
    return data, indices, indptr


def check_magnitude(X, *, sample_weight=None, squared=True, reg_covar=None, underflow=True,
                    what="X", squares=None):
    """Raise a ValueError if X's values are too large or too small for kmix's arithmetic.

    kmix sums squared differences of the values over the features (distances, in X's dtype
    in places) and sums those over the samples (inertia, moments): with ``M = max |x|``,
    ``n_features`` features and a total sample weight ``W`` (``n_samples`` without
    weights), every such sum stays below ``4 * n_features * W * M**2``, which must not
    overflow X's dtype. A non-zero ``M**2`` below the dtype's smallest normal number
    (``finfo.tiny``) makes every squared distance of the data subnormal or zero: that is
    rejected too (``underflow=False``: not for points measured against other ones, such as
    initial centres or new data, which may well all be close to 0). All-zero data pass.
    Mixtures divide squared distances by variances of at least
    ``reg_covar`` (Mahalanobis distances): a ``reg_covar`` below 1 lowers the bound by that
    factor. With ``squared=False`` (data that only enter sums, such as L1 distances) the
    same bounds apply to ``M`` instead of ``M**2``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Validated (finite) data.
    sample_weight : ndarray of shape (n_samples,), default=None
        Validated weights (their total replaces ``n_samples``, at least 1).
    squared : bool, default=True
        Whether the values enter squared distances.
    reg_covar : float, default=None
        A mixture's smallest variance (its covariance regularisation; 0 or None: none).
    underflow : bool, default=True
        Whether values whose squares underflow are rejected too.
    what : str, default="X"
        Name of the data in the message.
    squares : float, default=None
        The sum of the squares of dense X when the caller has it (``validate_fit_data``'s):
        not computed again.

    Returns
    -------
    X : the input, unchanged.
    """
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size == 0:
        return X
    if squared and not sp.issparse(X) and _magnitude_quickly_passes(
            values, sample_weight, reg_covar, underflow, squares):
        return X
    top = max(float(values.max()), -float(values.min()))  # no copy of X (memmaps)
    check_value_magnitude(
        top, values.dtype, n_features=X.shape[1] if X.ndim == 2 else 1, n_samples=X.shape[0],
        total_weight=None if sample_weight is None else float(np.sum(sample_weight)),
        squared=squared, reg_covar=reg_covar, underflow=underflow, what=what)
    return X


def _quick_sum_of_squares(values):
    """Sum of the squares of a C-contiguous float ndarray, accumulated in float64 by one
    compiled pass (tens of microseconds less than the general checks on small data; on
    every core from _SQUARES_PER_THREAD values per thread), within a relative 2**-40 for any
    size kmix takes; infinite or NaN when any value is, or when a square overflows float64;
    None when the array is not such an ndarray."""
    if not (isinstance(values, np.ndarray) and values.dtype in _FLOAT_DTYPES
            and values.flags.c_contiguous):
        return None
    n_threads = threads_for(effective_n_threads(), values.size, 1, 1,
                            work_per_thread=_SQUARES_PER_THREAD)
    with np.errstate(over="ignore", invalid="ignore"):
        return float(_lloyd.sum_of_squares(values.reshape(-1), n_threads))


def _magnitude_quickly_passes(values, sample_weight, reg_covar, underflow, squares=None):
    """Whether one sum of squares ``S`` proves that dense ``values`` pass
    :func:`check_magnitude` (squared): ``M**2 <= S`` and ``M**2 >= S / size`` for the largest
    magnitude ``M``, so ``2 S`` inside the overflow limit and ``S / 2`` at least ``size``
    times the dtype's smallest normal number (or no underflow test) are enough, whatever
    the sum's rounding (far below a factor 1.25). False: the general check decides.
    ``squares``: that sum when the caller has it."""
    if squares is None:
        squares = _quick_sum_of_squares(values)
    if squares is None or not squares < float("inf"):
        return False
    n_features = values.shape[1] if values.ndim == 2 else 1
    terms = values.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    if not 2.0 * squares <= _squares_limit(values.dtype, n_features, terms, reg_covar):
        return False
    return not underflow or squares / 2.0 >= _LIMITS[values.dtype][1] * values.size


def validate_fit_data(estimator, X, *, dtype, ensure_min_samples=1, **kwargs):
    """``validate_data(estimator, X, dtype=dtype, ensure_min_samples=..., **kwargs)`` (which
    resets ``n_features_in_``), with the rows' squared norms and their sum.

    A plain C-contiguous ndarray of an accepted float ``dtype`` with enough samples and a
    finite sum of squares (so every value is finite) is what ``check_array`` would return
    unchanged, so only the feature checks run on it (``skip_check_array``); that sum comes
    from the rows' squared norms (:func:`quick_row_sq_norms`, on the estimator's
    ``n_threads``), one pass over X that also serves :func:`check_magnitude`
    (``squares=``) and the fits that need the norms. Anything else takes the general path,
    which converts it or raises.

    Returns ``(X, row_sq_norms, squares)``; the last two are None on the general path."""
    dtypes = dtype if isinstance(dtype, (list, tuple)) else [dtype]
    if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in dtypes
            and X.shape[0] >= max(ensure_min_samples, 1) and X.shape[1] >= 1
            and not kwargs.get("copy", False)):
        n_threads = getattr(estimator, "n_threads", None)
        norms, squares = quick_row_sq_norms(
            X, None if n_threads is None else effective_n_threads(n_threads))
        if squares is not None and squares < float("inf"):
            X = validate_data(estimator, X, skip_check_array=True,
                              reset=kwargs.get("reset", True))
            return X, norms, squares
    X = validate_data(estimator, X, dtype=dtype, ensure_min_samples=ensure_min_samples,
                      **kwargs)
    return X, None, None


def quick_row_sq_norms(X, n_threads=None):
    """``(row_sq_norms, squares)`` of a C-contiguous 2-D float ndarray: the rows' squared
    norms in float64 (:func:`kmix._core._lloyd.row_norms_variance`, fixed row blocks, so
    the same bits on any number of threads: the norms the k-means kernels take) from one
    compiled pass on ``n_threads`` threads (None: every core, from WORK_PER_THREAD values
    per thread), and their sum (infinite or NaN when a value is, or a square overflows).
    ``(None, None)`` for anything else."""
    if not (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES
            and X.flags.c_contiguous and X.size > 0):
        return None, None
    n_threads = threads_for(effective_n_threads() if n_threads is None else n_threads,
                            X.shape[0], 1, X.shape[1])
    norms = np.empty(X.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        _lloyd.row_norms_variance(X, norms, n_threads, False)
        squares = float(np.sum(norms))
    return norms, squares


def checked_float_copy(array, dtype, what):
    """``(check_array(array, dtype=dtype, order="C", copy=True, input_name=what), squares)``:
    a 2-D float ndarray is copied into ``dtype`` directly and kept when all its values are
    finite (``check_array`` would return the same copy), with the sum of its squares that
    showed it (for :func:`check_magnitude`'s ``squares``); anything else takes the general
    path, which converts it or raises (squares None)."""
    if (type(array) is np.ndarray and array.ndim == 2 and array.dtype in _FLOAT_DTYPES
            and array.size >= 1):
        with np.errstate(over="ignore"):   # an overflowing cast: check_array raises
            copy = np.array(array, dtype=dtype, order="C", copy=True)
        squares = _quick_sum_of_squares(copy)
        if squares is not None and squares < float("inf"):
            return copy, squares
    return check_array(array, dtype=dtype, order="C", copy=True, input_name=what), None


def _squares_limit(dtype, n_features, terms, reg_covar):
    """The largest M**2 (M: the data's largest magnitude) whose sums over ``n_features``
    features and ``terms`` samples (or total weight) stay finite in ``dtype``, regularised
    variances of at least ``reg_covar`` included: max min(1, reg_covar) / (4 d W)."""
    floor = min(1.0, reg_covar) if reg_covar else 1.0
    return _LIMITS[dtype][0] * floor / (4.0 * n_features * max(terms, 1.0))


def check_value_magnitude(top, dtype, *, n_features, n_samples, total_weight=None,
                          squared=True, reg_covar=None, underflow=True, what="X"):
    """:func:`check_magnitude` given the largest magnitude ``top`` of the data's values (for
    data that are not in memory, such as a dask array, whose maximum was reduced from its
    blocks). ``total_weight``: the sum of the sample weights (None: no weights)."""
    terms = n_samples if total_weight is None else total_weight
    dtype = np.dtype(dtype)
    dtype = dtype if dtype in _FLOAT_DTYPES else np.dtype(np.float64)
    tiny = _LIMITS[dtype][1]
    power = 2 if squared else 1
    floor = min(1.0, reg_covar) if reg_covar else 1.0
    limit = _squares_limit(dtype, n_features, terms, reg_covar) ** (1.0 / power)
    kind = "squared distances" if squared else "sums of the values"
    scaler = " (e.g. StandardScaler)" if what == "X" else ""
    if top > limit:
        weights = "n_samples" if terms == n_samples else "a total sample weight of"
        regularised = f" and reg_covar={reg_covar:g}" if floor < 1.0 else ""
        raise ValueError(
            f"{what} has values of magnitude up to {top:.3g}: {kind} overflow {dtype.name} "
            f"(at most {limit:.3g} with {n_features} features, {weights} {terms:g}"
            f"{regularised}); rescale {what}{scaler}"
            f"{'' if total_weight is None else ' or sample_weight'}."
        )
    if underflow and 0.0 < top and top**power < tiny:
        raise ValueError(
            f"{what} has values of magnitude at most {top:.3g}: {kind} underflow {dtype.name} "
            f"(below its smallest normal number {tiny:.3g}); rescale {what}{scaler}."
        )


def check_squarable(name, value):
    """Raise a ValueError unless ``value**2`` is a normal float64 (a radius compared with
    squared distances: beyond ``sqrt(finfo.max)`` or below ``sqrt(finfo.tiny)`` the
    comparison is wrong)."""
    fmax, tiny = _LIMITS[np.dtype(np.float64)]
    square = float(value) * float(value)
    if not tiny <= square <= fmax:
        size, verb = ("large", "overflows") if square > 1 else ("small", "underflows")
        raise ValueError(
            f"{name}={value:g} is too {size}: its square {verb} float64 (squared distances "
            f"are compared with it); rescale X and {name}."
        )
    return value


def validate_fitted_input(estimator, X, reg_covar=None, **kwargs):
    """``validate_data(estimator, X, reset=False, **kwargs)`` and :func:`check_magnitude`
    (with ``reg_covar``) for a fitted estimator's methods.

    A plain C-contiguous float32/float64 ndarray with the fitted number of features, no
    fitted feature names and a sum of squares ``S`` inside the bound of
    :func:`check_magnitude` (``S <= max min(1, reg_covar) / (4 n d)``, which implies it; one
    compiled pass, :func:`_quick_sum_of_squares`, which also catches NaN and infinity) is
    returned as it is, without the general path's checks (tens of microseconds per call,
    which dominate predict/score_samples on small data); anything else goes through
    ``validate_data``, which converts it or raises, then :func:`check_magnitude` (overflow
    only: new data close to 0 are measured against the fitted model, whose scale the fit
    checked).
    """
    if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES
            and X.flags.c_contiguous and X.shape[0] >= 1
            and X.shape[1] == getattr(estimator, "n_features_in_", -1)
            and not hasattr(estimator, "feature_names_in_")):
        squares = _quick_sum_of_squares(X)
        if squares <= _squares_limit(X.dtype, X.shape[1], X.shape[0], reg_covar):
            return X
    return check_magnitude(validate_data(estimator, X, reset=False, **kwargs),
                           reg_covar=reg_covar, underflow=False)


_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
#: Values per thread of the validation's sum of squares (a memory-bound pass: one thread
#: reads about 10 GB/s; below a few MB a second thread's wake-up costs more than it saves).
_SQUARES_PER_THREAD = 1 << 20
#: (max, tiny) of each float dtype.
_LIMITS = {dtype: (float(np.finfo(dtype).max), float(np.finfo(dtype).tiny))
           for dtype in _FLOAT_DTYPES}
