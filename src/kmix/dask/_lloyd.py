"""k-means iterations over the blocks of a dask array, with in-memory kmix's semantics:
Lloyd's passes, or Hamerly's with each block's bounds kept on its worker.

Each iteration ships the centres once (one graph key), runs the compiled pass on every block
where it lives (``kmix-assign`` tasks: labels, per-cluster sums and weights; Hamerly's return
the changes of the sums and keep the block's state for the next pass) and adds the blocks'
sums on the client in block order. The loop, its stopping rules and the relocation of empty
clusters are in-memory kmix's (``kmix._kmeans_algorithms.iterate_centers`` runs both): stop
when no label changed (strict convergence; a block's labels stay on its worker, which returns a
digest of them) or when the squared centre shift is within ``tol``; an emptied cluster takes
the sample farthest from its centre. From the same initial centres the labels and the number
of iterations are those of in-memory :class:`kmix.KMeans`, and the centres agree to rounding
(the sums are added in another order).
"""
from typing import NamedTuple

import dask.array as da
import numpy as np

from .._core import _lloyd
from .._kmeans_algorithms import (
    _half_center_distances,
    bound_shifts,
    iterate_centers,
    move_to_empty_clusters,
    nearly_empty,
)
from . import _kmeans_blocks
from ._engine import PerBlock, blockwise, compute, ordered_sum, part, persist, share

__all__ = ["KMeansRun", "kmeans_run", "final_assignment", "same_clustering"]


class KMeansRun(NamedTuple):
    """One run of :func:`kmeans_run`."""

    labels: object          # dask array of the labels on the final centres (persisted)
    inertia: float
    centers: np.ndarray
    n_iter: int
    counts: np.ndarray      # samples per cluster


class _LloydPasses:
    """Lloyd's passes: every block's labels from scratch, and its sums and weights."""

    def __init__(self, data, n_clusters, n_features, verbose, n_threads):
        self.data, self.verbose, self.n_threads = data, verbose, n_threads
        self.digests = self.parts = None

    def step(self, centers, center_shift):
        """(sums, weights per cluster, whether no label changed) of a pass on ``centers``."""
        self.parts = compute(self.data.map("assign", _kmeans_blocks.lloyd_step,
                                           share(centers, "centers"), bool(self.verbose),
                                           self.n_threads))
        digests = [p[3] for p in self.parts]
        unchanged, self.digests = digests == self.digests, digests
        return (ordered_sum([p[0] for p in self.parts]),
                ordered_sum([p[1] for p in self.parts]), unchanged)

    def inertia(self, centers):
        """The last pass's inertia on its centres (computed by the pass with ``verbose``)."""
        return ordered_sum([p[2] for p in self.parts])


class _HamerlyPasses:
    """Hamerly's passes (in-memory kmix's, :func:`kmix._kmeans_algorithms.kmeans_single`):
    each block keeps its labels and bounds on its worker between passes (a chain of
    ``kmix-assign`` tasks, which Dask reruns from the start if a worker is lost), and
    returns the changes of its sums; the client keeps the running totals, as in memory."""

    def __init__(self, data, n_clusters, n_features, verbose, n_threads):
        self.data, self.n_threads = data, n_threads
        self.states = PerBlock([None] * data.n_blocks)
        self.sums, self.wsum = np.zeros((n_clusters, n_features)), np.zeros(n_clusters)

    def step(self, centers, center_shift):
        """(sums, weights per cluster, whether no label changed) of a pass on ``centers``."""
        results = persist(self.data.map(
            "assign", _kmeans_blocks.hamerly_step, self.states, share(centers, "centers"),
            bound_shifts(center_shift, centers.shape[1]), _half_center_distances(centers)[1],
            self.n_threads))
        parts = compute(part(results, 1, "summary"))
        self.states = PerBlock(results)
        self.sums += ordered_sum([p[0] for p in parts])
        self.wsum += ordered_sum([p[1] for p in parts])
        if nearly_empty(self.wsum, float(self.data.summary.total_weight)):
            self.wsum[:] = ordered_sum(compute(self.data.map(
                "recount", _kmeans_blocks.cluster_weights, self.states, self.wsum.shape[0])))
        return self.sums, self.wsum, sum(p[2] for p in parts) == 0

    def inertia(self, centers):
        """The inertia of the last pass's labels on ``centers`` (another pass over the data)."""
        return ordered_sum(compute(self.data.map(
            "inertia", _kmeans_blocks.assigned_inertia, self.states, share(centers, "centers"),
            self.n_threads)))


def kmeans_run(data, centers_init, *, max_iter, tol, verbose, n_threads, algorithm="lloyd"):
    """Run k-means on ``data`` (:class:`~kmix.dask._data.BlockData`) from ``centers_init``,
    with Lloyd's passes or (``algorithm='hamerly'``) Hamerly's: the same labels and
    iterations, Hamerly skipping the distances its bounds rule out.

    Returns a :class:`KMeansRun`: scikit-learn's semantics, as ``kmeans_single`` (the labels
    are those of the final centres, so that predict(X) == labels_).
    """
    n_clusters, n_features = centers_init.shape
    centers = np.array(centers_init, order="C")
    centers_new = np.empty_like(centers)
    center_shift = np.zeros(n_clusters)
    passes = (_HamerlyPasses if algorithm == "hamerly" else _LloydPasses)(
        data, n_clusters, n_features, verbose, n_threads)

    def relocate(centers, centers_new, sums, wsum):
        return _relocated_centers(data, centers, centers_new, sums, wsum, center_shift,
                                  n_threads)

    centers, _, n_iter = iterate_centers(
        lambda c: passes.step(c, center_shift), relocate, passes.inertia, centers, centers_new,
        center_shift, max_iter=max_iter, tol=tol, verbose=verbose)
    labels, inertia, counts = final_assignment(data, centers, n_threads)
    return KMeansRun(labels, inertia, centers, n_iter, counts)


def _relocated_centers(data, centers, centers_new, sums, wsum, center_shift, n_threads):
    """centers_new after relocating the empty clusters (as in memory: each takes the sample
    farthest from its centre, the farthest first, ties to the lowest index); returns the
    total squared shift. Each block proposes its own farthest samples."""
    empty = np.flatnonzero(wsum == 0)
    parts = compute(data.map("relocate", _kmeans_blocks.farthest, share(centers, "centers"),
                             empty.size, PerBlock(data.starts), n_threads))
    d2, index, rows, weights, labels = (np.concatenate([p[j] for p in parts]) for j in range(5))
    if d2.size and d2.max() > 0:
        far = np.lexsort((index, -d2))[:empty.size]
        sums, wsum = move_to_empty_clusters(sums, wsum, empty, rows[far], weights[far],
                                            labels[far])
    return _lloyd.centers_from_sums(sums, wsum, centers, centers_new, center_shift, True)


def final_assignment(data, centers, n_threads):
    """(labels as a persisted dask array, inertia, samples per cluster) on ``centers``."""
    results = persist(data.map("labels", _kmeans_blocks.final_labels,
                               share(centers, "centers"), n_threads))
    small = compute(part(results, 1, "inertia") + part(results, 2, "counts"))
    nb = data.n_blocks
    labels = da.concatenate([
        da.from_delayed(t, shape=(int(size),), dtype=np.int32)
        for t, size in zip(part(results, 0, "labels-out"), data.sizes)])
    return labels, ordered_sum(small[:nb]), ordered_sum(small[nb:]).astype(np.int64)


def same_clustering(labels_a, labels_b, n_clusters):
    """Whether labels_b is a function of labels_a (dask arrays with the same chunks), as
    ``kmix._kmeans_algorithms.is_same_clustering``."""
    a_blocks, b_blocks = labels_a.to_delayed().ravel(), labels_b.to_delayed().ravel()
    parts = compute(blockwise("compare", _kmeans_blocks.label_pairs, PerBlock(a_blocks),
                              PerBlock(b_blocks), n_clusters, n_blocks=len(a_blocks)))
    pairs = np.unique(np.concatenate([p[0] for p in parts]))
    return pairs.size == np.unique(np.concatenate([p[1] for p in parts])).size
