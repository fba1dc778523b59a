"""Initial centres by greedy k-means++ (the loop over centres runs in the compiled core)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._core import _seeding
from ._threads import WORK_PER_THREAD, blas_context, effective_n_threads, threads_for
from ._typing import ArrayLike, FloatArray, IntArray, MatrixLike, RandomStateLike
from ._validation import (
    as_csr_arrays,
    check_array,
    check_int,
    check_magnitude,
    check_n_samples,
    check_n_threads,
    check_random_state,
    check_sample_weight,
    quick_row_sq_norms,
)

__all__ = ["kmeans_plusplus"]


def _row_sq_norms(X):
    """Squared row norms in float64, without a float64 copy of X."""
    if sp.issparse(X):
        # float64 squares summed per row in order (float32 data would be summed in float32)
        X = X.tocsr()
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        sq = np.bincount(rows, weights=np.square(X.data, dtype=np.float64),
                         minlength=X.shape[0])
        return sq.astype(np.float64, copy=False)   # bincount of no entries gives int64
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def _checked_with_norms(X, n_threads):
    """``check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C")``
    with, for a C-contiguous float ndarray, its squared row norms (float64) and their sum
    from one compiled pass on ``n_threads`` threads (:func:`quick_row_sq_norms`): a finite
    sum means finite values, which check_array would return unchanged, so that pass serves
    the validation, the magnitude check and the seeding (three passes over X otherwise).
    ``(X, None, None)`` when the general path ran."""
    norms, squares = quick_row_sq_norms(X, n_threads)
    if squares is not None and squares < float("inf"):
        return X, norms, squares
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C")
    return X, None, None


#: Terms n * k * d up to which a k-means problem is small (see :func:`is_small_problem`).
SMALL_PROBLEM_TERMS = 100_000


def is_small_problem(n_samples, n_clusters, n_features):
    """Whether k-means on data of this shape is small: at most SMALL_PROBLEM_TERMS terms
    n * k * d, where a fit is bound by per-call overheads, not by its distances. Small dense
    problems are seeded by the compiled ``_kpp.kpp_small`` and, in KMeans with k-means++ and
    Lloyd, run all their restarts in one compiled call (``kmix._kmeans_algorithms``)."""
    return n_samples * n_clusters * n_features <= SMALL_PROBLEM_TERMS


def n_trials_for(n_clusters):
    """Candidates per step of greedy k-means++ by default (scikit-learn's 2 + log k)."""
    return 2 + int(np.log(n_clusters))


def kpp_draws(random_state, n_clusters, n_local_trials, n_runs=1):
    """The uniform draws of ``n_runs`` k-means++ seedings, in the order they consume the
    random stream: for each run, the first centre's (``RandomState.choice``'s one uniform),
    then ``n_local_trials`` per further centre (``uniform(size=n_local_trials)``). Shape
    (n_runs, 1 + (n_clusters - 1) * n_local_trials). No draw depends on the data, so drawing
    them first leaves the stream, and the seeds, as scikit-learn's kmeans_plusplus has them."""
    per_run = 1 + (n_clusters - 1) * n_local_trials
    return random_state.random_sample(n_runs * per_run).reshape(n_runs, per_run)


def _kmeans_plusplus(X, n_clusters, x_squared_norms, sample_weight, random_state,
                     n_local_trials=None, n_threads=1, verbose=0, small=None):
    """Greedy k-means++ on validated input (C-contiguous dense or CSR, float32/float64).

    At each step ``n_local_trials`` candidates are drawn with probability proportional to
    w * D(x)^2 and the one that lowers the potential most is kept (Arthur & Vassilvitskii,
    2007; greedy variant as scikit-learn). The whole loop runs in the compiled core, which
    honours Ctrl-C between centres and, when ``verbose`` > 0, prints its progress
    ("Seeding: 128/512 centres (2.1 s)") about every tenth of the centres or every second.
    ``small`` forces (True) or rules out (False) the small-problem kernel, which takes every
    candidate's deterministic potential (``_core/_kpp.pxd``; the same seeds); None chooses it
    for dense small problems (:func:`is_small_problem`) without ``verbose``.
    """
    n_samples, n_features = X.shape
    if n_local_trials is None:
        n_local_trials = n_trials_for(n_clusters)
    if small is None:
        small = (not sp.issparse(X) and not verbose
                 and is_small_problem(n_samples, n_clusters, n_features))
    # Several parallel regions per centre (potentials, update): a team is worth waking only
    # for several times the work of one pass (on a busy machine a stalled team costs
    # milliseconds per region; digits 1400 x 64, k=50 took 3.6 s on 2 threads against 0.05 s
    # on one at a load average of 11). Four times keeps digits on one thread and china.jpg
    # (273k x 3, k=8) on two.
    n_threads = threads_for(n_threads, n_samples, n_local_trials, n_features,
                            work_per_thread=4 * WORK_PER_THREAD)
    if sp.issparse(X):
        data, indices, indptr = as_csr_arrays(X)
        dense = np.zeros((1, 1), dtype=X.dtype)
    else:
        dense = X
        data = np.zeros(1, dtype=X.dtype)
        indices = indptr = np.zeros(1, dtype=np.int32)
    draws = kpp_draws(random_state, n_clusters, n_local_trials)[0]
    return _seeding.kmeans_plusplus(dense, data, indices, indptr, sp.issparse(X), n_features,
                                    x_squared_norms, sample_weight, n_clusters, n_local_trials,
                                    draws, n_threads, verbose, small)


def kmeans_plusplus(X: MatrixLike, n_clusters: int, *,
                    sample_weight: ArrayLike | None = None,
                    x_squared_norms: ArrayLike | None = None,
                    random_state: RandomStateLike = None, n_local_trials: int | None = None,
                    n_threads: int | None = None) -> tuple[FloatArray, IntArray]:
    """Initial centres by greedy k-means++, as :func:`sklearn.cluster.kmeans_plusplus`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data to pick seeds from.
    n_clusters : int
        Number of centres.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the samples in the sampling probabilities and potentials.
    x_squared_norms : array-like of shape (n_samples,), default=None
        Squared Euclidean norms of the rows of X (computed when None).
    random_state : int, RandomState instance or None, default=None
        Seed of the random draws.
    n_local_trials : int, default=None
        Candidates per step; ``2 + int(log(n_clusters))`` when None.
    n_threads : int, default=None
        Threads of the compiled kernels (None: all cores).

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
        Row of X each centre was taken from.
    """
    n_threads = effective_n_threads(check_n_threads(n_threads))
    X, norms, squares = _checked_with_norms(X, n_threads)
    n_clusters = check_int("n_clusters", n_clusters, low=1)
    check_n_samples(X.shape[0], n_clusters)
    n_local_trials = check_int("n_local_trials", n_local_trials, low=1, allow_none=True)
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    check_magnitude(X, sample_weight=sample_weight, squares=squares)
    if x_squared_norms is None:
        x_squared_norms = _row_sq_norms(X) if norms is None else norms
    else:
        x_squared_norms = check_array(x_squared_norms, dtype=np.float64, ensure_2d=False)
        if x_squared_norms.shape != (X.shape[0],):
            raise ValueError(
                f"The length of x_squared_norms {x_squared_norms.shape[0]} should be equal to "
                f"the length of n_samples {X.shape[0]} (x_squared_norms must have shape "
                f"({X.shape[0]},), got {x_squared_norms.shape})."
            )
    with blas_context(X):
        return _kmeans_plusplus(X, n_clusters, x_squared_norms, sample_weight,
                                check_random_state(random_state), n_local_trials, n_threads)
