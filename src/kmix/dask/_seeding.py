"""Initial centres on dask arrays: k-means|| and weighted random rows.

k-means|| (Bahmani, Moseley, Vattani, Kumar & Vassilvitskii, 2012), weighted: one centre is
drawn with probability proportional to the sample weights; then, in each of
``n_rounds`` rounds, every row is drawn independently with probability
``min(1, l * w * D(x)^2 / phi)`` (``l`` = oversampling_factor x n_clusters, D(x) the distance to
the closest candidate so far, ``phi`` = sum of w D^2), one pass over the blocks per round.
The candidates (about ``l`` per round) are weighted by the total weight of the rows closest to
them, and reclustered on the client by kmix's weighted k-means++ followed by a weighted Lloyd
run on the candidates. Each block keeps its rows' distances to the closest candidate between
rounds (16 bytes per row). 'random' draws n distinct rows with probabilities proportional to
the weights (Efraimidis & Spirakis's keys). The per-row draws do not depend on the chunking
(see ``_random``).
"""
import warnings

import numpy as np

from .._core import _lloyd, _minibatch
from .._kmeans_algorithms import _NO_WEIGHTS, farthest_samples
from .._seeding import _kmeans_plusplus, _row_sq_norms
from .._threads import blas_context
from ._data import contiguous
from ._engine import PerBlock, blockwise, compute, ordered_sum, part, persist, share
from ._random import draw_key, row_uniforms

__all__ = ["kmeans_parallel", "recluster", "random_rows", "OVERSAMPLING_FACTOR", "N_ROUNDS"]

#: k-means|| defaults: candidates per round in units of n_clusters, and rounds (Bahmani et
#: al.'s l = 2k and r = 5).
OVERSAMPLING_FACTOR, N_ROUNDS = 2.0, 5


def _update(X, state, new, base, n_threads):
    """(squared distance to the closest candidate, its index) after candidates ``new``
    (numbered from ``base``) joined; an earlier candidate wins a tie."""
    labels = np.empty(X.shape[0], dtype=np.int32)
    d2 = np.empty(X.shape[0])
    with blas_context(X):
        _minibatch.labels_inertia_dense(X, _NO_WEIGHTS, new, labels, n_threads)
    _lloyd.sq_dist_to_assigned_dense(X, new, labels, d2, n_threads)
    nearest = base + labels.astype(np.int64)
    if state is None:
        return d2, nearest
    old_d2, old_nearest = state
    closer = d2 < old_d2
    return np.where(closer, d2, old_d2), np.where(closer, nearest, old_nearest)


def _round_block(X, w, state, new, base, key, stream, ell, start, n_threads):
    """One round on a block: the state updated with the candidates ``new``, the block's part
    of phi, and the rows that the round may draw (``u * phi_block < l w D^2``: a superset of
    those that ``u * phi < l w D^2`` draws, phi >= phi_block), as (state, (phi_block, global
    indices, u, l w D^2, rows))."""
    X = contiguous(X)
    n = X.shape[0]
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    state = state if new.shape[0] == 0 else _update(X, state, new, base, n_threads)
    d2 = state[0]
    phi = _lloyd.weighted_sum_ordered(d2, np.ascontiguousarray(w), n_threads)
    u = row_uniforms(key, stream, start, n)
    q = ell * w * d2
    maybe = np.flatnonzero(u * phi < q)
    return state, (phi, start + maybe, u[maybe], q[maybe], X[maybe])


def _weights_block(X, w, state, new, base, n_candidates, n_threads):
    """Total weight of the block's rows closest to each candidate (after the last round)."""
    X = contiguous(X)
    if new.shape[0]:
        state = _update(X, state, new, base, n_threads)
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    return np.bincount(state[1], weights=w, minlength=n_candidates)


def _pick_block(X, w, target):
    """The row of the block where the cumulative weight first exceeds ``target``."""
    X = contiguous(X)
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    cumulative = np.cumsum(w)
    i = int(np.searchsorted(cumulative, target, side="right"))
    if i >= X.shape[0] or w[i] == 0:  # rounding at the end: the last row of positive weight
        i = int(np.flatnonzero(w > 0)[-1])
    return X[i:i + 1].copy(), i


def _first_candidate(data, random_state):
    """One row drawn with probability proportional to its weight: (row (1 x d), index)."""
    weights = data.summary.block_weights
    target = random_state.random_sample() * float(np.sum(weights))
    cumulative = np.cumsum(weights)
    b = min(int(np.searchsorted(cumulative, target, side="right")), data.n_blocks - 1)
    while weights[b] == 0:
        b -= 1
    local = target - (cumulative[b - 1] if b > 0 else 0.0)
    task = blockwise("init-first", _pick_block, PerBlock([data.blocks[b]]),
                     PerBlock([data.weight_blocks[b]]), local, n_blocks=1)
    row, i = compute(task)[0]
    return row, data.starts[b] + i


def kmeans_parallel(data, n_clusters, random_state, *, oversampling_factor, n_rounds,
                    n_threads):
    """Candidates of k-means|| and their weights.

    Returns
    -------
    candidates : ndarray of shape (m, n_features), in X's dtype
    indices : ndarray of shape (m,)
        Row of X each candidate is.
    weights : ndarray of shape (m,)
        Total sample weight of the rows closest to each candidate.
    """
    key = draw_key(random_state)
    ell = float(oversampling_factor) * n_clusters
    new, first = _first_candidate(data, random_state)
    rows, indices = [new], [np.array([first])]
    state = PerBlock([None] * data.n_blocks)
    base = 0
    for stream in range(1, n_rounds + 1):
        results = persist(data.map("init-round", _round_block, state, share(new, "candidates"),
                                   base, key, stream, ell, PerBlock(data.starts), n_threads))
        state = PerBlock(part(results, 0, "init-state"))
        drawn = compute(part(results, 1, "init-drawn"))
        phi = ordered_sum([d[0] for d in drawn])
        base += new.shape[0]
        if not phi > 0:  # every row sits on a candidate
            new = new[:0]
            break
        picked = [d[2] * phi < d[3] for d in drawn]
        new = np.concatenate([d[4][p] for d, p in zip(drawn, picked)])
        rows.append(new)
        indices.append(np.concatenate([d[1][p] for d, p in zip(drawn, picked)]))
    candidates = np.ascontiguousarray(np.concatenate(rows))
    weights = ordered_sum(compute(data.map(
        "init-weights", _weights_block, state, share(new, "candidates"), base,
        candidates.shape[0], n_threads)))
    return candidates, np.concatenate(indices).astype(np.int64), weights


def recluster(candidates, weights, n_clusters, random_state, n_threads, lloyd=True):
    """k centres from weighted candidates: weighted k-means++ (greedy, as kmix's), then (with
    ``lloyd``) a weighted Lloyd run from them. Returns (centres, indices of the k-means++
    seeds among the candidates)."""
    from .._kmeans import KMeans

    with blas_context(candidates):
        seeds, chosen = _kmeans_plusplus(candidates, n_clusters, _row_sq_norms(candidates),
                                         weights, random_state, n_threads=n_threads)
    if not lloyd:
        return seeds, chosen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct candidates than clusters
        km = KMeans(n_clusters, init=seeds, n_init=1, n_threads=n_threads)
        centers = km.fit(candidates, sample_weight=weights).cluster_centers_
    return centers, chosen


def _random_keys_block(X, w, key, n, start):
    """The block's n rows of largest key log(u) / w (weighted sampling without replacement,
    Efraimidis & Spirakis, 2006; rows of zero weight never drawn): (keys, indices, rows)."""
    X = contiguous(X)
    u = row_uniforms(key, 0, start, X.shape[0])
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    with np.errstate(divide="ignore"):
        keys = np.where(w > 0, np.log(u) / np.where(w > 0, w, 1.0), -np.inf)
    top = farthest_samples(keys, n)
    top = top[np.isfinite(keys[top])]
    return keys[top], start + top, X[top]


def random_rows(data, n, random_state):
    """n distinct rows drawn with probabilities proportional to the sample weights, in the
    order drawn, and their indices; the draws of each row do not depend on the chunking."""
    key = draw_key(random_state)
    parts = compute(data.map("init-random", _random_keys_block, key, n, PerBlock(data.starts)))
    keys, index, rows = (np.concatenate([p[j] for p in parts]) for j in range(3))
    if keys.size < n:
        raise ValueError("init='random' needs at least n_clusters samples with non-zero weight.")
    drawn = np.lexsort((index, -keys))[:n]
    return rows[drawn], index[drawn]
