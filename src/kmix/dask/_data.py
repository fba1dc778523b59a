"""Dask input: validation, conversion to row-chunked arrays, persistence, and the data summary.

A fit works on :class:`BlockData`: X as a dask array chunked by rows only (any row chunks; the
columns in one chunk), float32 or float64, with its sample weights chunked the same way and
what every fit needs to know of the data (computed in one pass over the blocks: totals, the
weighted mean, the mean feature variance, the largest magnitude). X is persisted on the workers
when it fits in their memory, otherwise left lazy and recomputed from its source (e.g.
``da.from_npy_stack``) on every pass; the client never holds the data.
"""
import numbers
from typing import NamedTuple

import dask
import dask.array as da
import numpy as np
from sklearn.utils.validation import _check_feature_names, _check_n_features

from .._core import _lloyd
from .._validation import check_magnitude, check_value_magnitude
from ._engine import PerBlock, blockwise, compute, ordered_sum

__all__ = ["BlockData", "prepare_fit_data", "as_dask_array", "as_dask_weights", "check_persist",
           "contiguous", "checked_block"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: Share of the workers' total memory limit that persisted data may take ('auto').
_PERSIST_FRACTION = 0.5


def _is_dask_dataframe(X):
    return hasattr(X, "to_dask_array") and hasattr(X, "npartitions")


def as_dask_array(estimator, X, *, reset, what="X"):
    """X (dask array or DataFrame, or an in-memory array) as a 2-D float dask array chunked by
    rows only, checked against (``reset=False``) or recorded as (``reset=True``) the
    estimator's number of features and feature names. Nothing is computed, except the
    partition lengths of a dask DataFrame."""
    if _is_dask_dataframe(X):
        if X.ndim != 2:
            raise ValueError(f"{what} must be 2-D: got a dask Series; use X.to_frame().")
        _check_feature_names(estimator, X._meta, reset=reset)
        X = X.to_dask_array(lengths=True)
    elif isinstance(X, da.Array):
        _check_feature_names(estimator, X, reset=reset)
    else:
        if X is None or isinstance(X, (str, bytes, numbers.Number)):
            raise TypeError(f"{what} must be a dask array or DataFrame, got {X!r}.")
        _check_feature_names(estimator, X, reset=reset)
        X = np.asarray(X)
        X = da.from_array(X, chunks=("auto",) + (-1,) * (X.ndim - 1) if X.ndim else ())
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D {what}, got {X.ndim}-D with shape {X.shape}: reshape it "
            "(X.reshape(-1, 1) for a single feature).")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{what} has unknown chunk sizes (rows): call X.compute_chunk_sizes() or build it "
            "with known lengths (e.g. DataFrame.to_dask_array(lengths=True)).")
    if X.shape[1] == 0:
        raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    dtype = X.dtype
    if dtype.kind in "iub":
        X = X.astype(np.float64)
    elif dtype not in _FLOATS:
        if dtype.kind == "f":
            X = X.astype(np.float64)
        else:
            raise ValueError(f"{what} must hold real numbers; got dtype {dtype}.")
    _check_n_features(estimator, X, reset=reset)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def as_dask_weights(sample_weight, X):
    """sample_weight as a float64 dask array with X's row chunks (None stays None)."""
    if sample_weight is None:
        return None
    n = X.shape[0]
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        return da.full(n, float(sample_weight), chunks=(X.chunks[0],))
    if _is_dask_dataframe(sample_weight) or hasattr(sample_weight, "to_dask_array"):
        sample_weight = sample_weight.to_dask_array(lengths=True)
    if not isinstance(sample_weight, da.Array):
        try:
            sample_weight = np.array(sample_weight, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"sample_weight must be numeric: {exc}") from None
    if sample_weight.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1D array or scalar, got shape {sample_weight.shape}.")
    if sample_weight.shape[0] != n:
        raise ValueError(
            f"sample_weight.shape == ({sample_weight.shape[0]},), expected ({n},)!")
    if sample_weight.dtype.kind not in "iufb":
        raise ValueError(f"sample_weight must be numeric, got dtype {sample_weight.dtype}.")
    if isinstance(sample_weight, np.ndarray):
        return da.from_array(sample_weight, chunks=(X.chunks[0],))
    return sample_weight.astype(np.float64).rechunk((X.chunks[0],))


def check_persist(persist):
    if not (persist == "auto" or isinstance(persist, (bool, np.bool_))):
        raise ValueError(f"persist must be 'auto', True or False; got {persist!r}.")


def _memory_budget():
    """Bytes that persisted data may take: a share of the workers' total memory limit (of the
    machine's available memory without a distributed Client or without limits)."""
    try:
        from distributed import get_client

        workers = get_client().scheduler_info(n_workers=-1)["workers"].values()
        limits = [w.get("memory_limit") or 0 for w in workers]
    except (ImportError, ValueError, TypeError):
        limits = []
    if not limits or not all(limits):
        import psutil

        return _PERSIST_FRACTION * psutil.virtual_memory().available
    return _PERSIST_FRACTION * float(sum(limits))


def _should_persist(persist, nbytes):
    if persist != "auto":
        return bool(persist)
    return nbytes <= _memory_budget()


def contiguous(block):
    """A block as a C-contiguous array (a view when it is one already)."""
    return np.ascontiguousarray(block)


def checked_block(X, reg_covar=None):
    """A block of new data (predict, transform, ...), C-contiguous, checked: ValueError for
    NaN or infinity or values too large for the arithmetic (``check_magnitude``)."""
    X = contiguous(X)
    if X.size and not (np.isfinite(X.max()) and np.isfinite(X.min())):
        raise ValueError("Input X contains NaN or infinity.")
    return check_magnitude(X, reg_covar=reg_covar, underflow=False)


def _block_summary(X, w):
    """One block's contribution to :class:`Summary` (float64 sums, in one pass)."""
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: rejected on the client
        return _summary_of(contiguous(X), w)


def _summary_of(X, w):
    n = X.shape[0]
    col_sum = X.sum(axis=0, dtype=np.float64)
    if w is None:
        w_col_sum, w_stats = col_sum, (float(n), n, 0.0, True)
    else:
        w = np.asarray(w, dtype=np.float64)
        w_col_sum = np.einsum("i,ij->j", w, X, dtype=np.float64)
        w_stats = (float(w.sum()), int(np.count_nonzero(w)), float(w.min()),
                   bool(np.all(np.isfinite(w))))
    variance = _lloyd.row_norms_variance(X, np.empty(X.shape[0]), 1)
    return (n, col_sum, w_col_sum, float(variance), float(X.max()), float(X.min()), w_stats)


class Summary(NamedTuple):
    """What a fit needs to know of its data, reduced over the blocks in order."""

    block_weights: np.ndarray   # total sample weight of each block
    total_weight: float
    weighted_mean: np.ndarray   # float64 column means, weighted
    mean_variance: float        # mean of the per-feature (unweighted) variances
    top: float                  # largest magnitude of the values


def _reduce_summary(parts, n_samples):
    """The :class:`Summary` of the blocks' parts (Chan et al.'s merge of the variances).
    Values too large for these sums are rejected by the magnitude check that follows."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = ordered_sum([p[1] for p in parts]) / n_samples
        within = ordered_sum([p[0] * p[3] for p in parts])
        between = ordered_sum([p[0] * float(np.sum((p[1] / p[0] - mean) ** 2))
                               for p in parts])
        block_weights = np.array([p[6][0] for p in parts])
        total_weight = ordered_sum(list(block_weights))
        return Summary(block_weights, total_weight,
                       ordered_sum([p[2] for p in parts]) / total_weight,
                       (within + between / mean.shape[0]) / n_samples,
                       max(max(p[4] for p in parts), -min(p[5] for p in parts)))


class BlockData:
    """Validated training data, split in non-empty row blocks.

    Attributes
    ----------
    X : dask.array.Array
        The data (persisted or lazy), rows chunked, one column chunk, float32/float64.
    weights : dask.array.Array or None
    blocks, weight_blocks : list of Delayed
        The non-empty blocks of X and of the weights (Nones without weights).
    starts, sizes : ndarray
        First row and number of rows of each of these blocks.
    summary : Summary
    persisted : bool
    """

    def __init__(self, X, weights, persisted):
        self.X = X
        self.weights = weights
        self.persisted = persisted
        sizes = np.array(X.chunks[0], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        keep = np.flatnonzero(sizes > 0)
        x_blocks = X.to_delayed().ravel()
        self.blocks = PerBlock(x_blocks[i] for i in keep)
        if weights is None:
            self.weight_blocks = PerBlock([None] * keep.size)
        else:
            w_blocks = weights.to_delayed().ravel()
            self.weight_blocks = PerBlock(w_blocks[i] for i in keep)
        self.starts, self.sizes = starts[keep], sizes[keep]
        self.summary = None

    @property
    def shape(self):
        return self.X.shape

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n_blocks(self):
        return len(self.blocks)

    def map(self, kind, func, *args):
        """Tasks ``func(X_b, w_b, *args)`` for every block b (see ``_engine.blockwise``)."""
        return blockwise(kind, func, self.blocks, self.weight_blocks, *args,
                         n_blocks=self.n_blocks)

    def take(self, rows):
        """X[rows] and the weights of those rows (None without weights), on the client (for a
        few rows: seeding samples)."""
        picked, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
        X_rows = self.X[picked]
        w_rows = None if self.weights is None else self.weights[picked]
        X_rows, w_rows = dask.compute(X_rows, w_rows)
        X_rows = np.ascontiguousarray(X_rows[inverse])
        return X_rows, None if w_rows is None else np.asarray(w_rows, dtype=np.float64)[inverse]


def _check_weights(parts, min_nonzero, what):
    """check_sample_weight's checks on the blocks' weight statistics."""
    stats = [p[6] for p in parts]
    if not all(s[3] for s in stats):
        raise ValueError("sample_weight contains NaN or infinity.")
    if min(s[2] for s in stats) < 0:
        raise ValueError("Negative values in sample_weight are not allowed.")
    total = ordered_sum([s[0] for s in stats])
    if not total > 0:
        raise ValueError("sample_weight has zero sum: at least one weight must be positive.")
    if not np.isfinite(total):
        raise ValueError("sample_weight sums to infinity; rescale the weights.")
    n_nonzero = sum(s[1] for s in stats)
    if n_nonzero < min_nonzero:
        raise ValueError(
            f"sample_weight has {n_nonzero} non-zero weight(s); {what} needs at least "
            f"{min_nonzero} samples with non-zero weight.")


def prepare_fit_data(estimator, X, sample_weight, *, check_n_samples, persist="auto",
                     min_nonzero=1, what="the fit", reg_covar=None):
    """Validate the training data and weights, persist them when they fit, and summarise them
    in one pass over the blocks.

    ``check_n_samples(n)`` raises for too few samples (before anything is computed).
    Raises ValueError for NaN or infinity in X, invalid weights, or values whose squares
    overflow (see :func:`kmix._validation.check_magnitude`).
    """
    X = as_dask_array(estimator, X, reset=True)
    check_n_samples(X.shape[0])
    weights = as_dask_weights(sample_weight, X)
    nbytes = X.nbytes + (0 if weights is None else weights.nbytes)
    persisted = _should_persist(persist, nbytes)
    if persisted:
        X, weights = dask.persist(X, weights)
    data = BlockData(X, weights, persisted)
    parts = compute(data.map("summary", _block_summary))
    if not all(np.isfinite(p[4]) and np.isfinite(p[5]) for p in parts):
        raise ValueError("Input X contains NaN or infinity.")
    if weights is not None:
        _check_weights(parts, min_nonzero, what)
    data.summary = _reduce_summary(parts, X.shape[0])
    total_weight = None if weights is None else data.summary.total_weight
    check_value_magnitude(data.summary.top, X.dtype, n_features=X.shape[1],
                          n_samples=X.shape[0], total_weight=total_weight, reg_covar=reg_covar)
    return data
