"""One k-means run from given initial centres: Lloyd, Elkan and Hamerly drivers.

Python loops over iterations only; each iteration is one compiled pass. All three produce
Lloyd's sequence of labels and centres (same stopping rule and empty-cluster relocation as
scikit-learn), so from the same initial centres they agree label for label.
"""
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp

from ._core import _bounds, _lloyd
from ._threads import blas_single_threaded
from ._validation import as_csr_arrays

__all__ = ["resolve_algorithm", "kmeans_single", "assign_labels", "inertia", "blas_context"]


def blas_context(X):
    """Single-threaded BLAS while the kernels run, where they call gemm (dense, wide data)."""
    if not sp.issparse(X) and X.shape[1] >= _lloyd.GEMM_MIN_FEATURES:
        return blas_single_threaded()
    return nullcontext()

ALGORITHMS = ("lloyd", "elkan", "hamerly", "auto", "full")


def resolve_algorithm(algorithm, n_samples, n_features, n_clusters, sparse):
    """Exact algorithm to run for ``algorithm`` on data of this shape.

    'full' is an old name of 'lloyd'. Bound algorithms need dense data: on CSR input every
    algorithm runs the Lloyd kernel (the results are the same). 'auto' was chosen from the
    measurements in asv_benchmarks/bench_table.py on a 2-core machine:
    Hamerly wins when k is small relative to the bound pruning it gets (few centres, or low d),
    Elkan's n x k bounds only pay off for moderate k at high d, and with k = 1 there is nothing
    to prune.
    """
    if algorithm == "full":
        algorithm = "lloyd"
    if sparse:
        return "lloyd"
    if algorithm != "auto":
        return algorithm
    if n_clusters == 1:
        return "lloyd"
    return "hamerly"


class _Data:
    """Dense or CSR data with the kernels that go with it."""

    def __init__(self, X, n_threads):
        self.X = X
        self.n_threads = n_threads
        self.sparse = sp.issparse(X)
        if self.sparse:
            self.csr = as_csr_arrays(X)

    def lloyd_pass(self, sw, centers, labels, sums, wsum, update):
        if self.sparse:
            return _lloyd.lloyd_pass_sparse(*self.csr, self.X.shape[1], sw, centers, labels,
                                            sums, wsum, update, self.n_threads)
        return _lloyd.lloyd_pass_dense(self.X, sw, centers, labels, sums, wsum, update,
                                       self.n_threads)

    def sq_dist_to_assigned(self, centers, labels):
        out = np.empty(self.X.shape[0])
        if self.sparse:
            _lloyd.sq_dist_to_assigned_sparse(*self.csr, centers, labels, out, self.n_threads)
        else:
            _lloyd.sq_dist_to_assigned_dense(self.X, centers, labels, out, self.n_threads)
        return out

    def row(self, i):
        if self.sparse:
            return self.X[i].toarray().ravel().astype(np.float64)
        return self.X[i].astype(np.float64)


def inertia(data, sample_weight, centers, labels):
    """Exact sum_i w_i ||x_i - c_{labels_i}||^2, reduced in a thread-independent order."""
    d2 = data.sq_dist_to_assigned(centers, labels)
    return _lloyd.weighted_sum_ordered(d2, sample_weight, data.n_threads)


def assign_labels(data, sample_weight, centers):
    """Labels of the closest centres (no update)."""
    labels = np.full(data.X.shape[0], -1, dtype=np.int32)
    dummy = np.zeros((1, 1))
    data.lloyd_pass(sample_weight, centers, labels, dummy, np.zeros(1), False)
    return labels


def _new_centers(data, sample_weight, centers_old, labels, sums, wsum):
    """Centres from per-cluster sums, relocating empty clusters as scikit-learn does.

    An empty cluster (zero total weight) takes the sample farthest from its assigned centre;
    that sample's weighted value moves out of its old cluster's sum. ``sums`` and ``wsum`` are
    not modified (the bound algorithms keep them as running totals).
    """
    empty = np.flatnonzero(wsum == 0)
    if empty.size:
        sums = sums.copy()
        wsum = wsum.copy()
        n_empty = empty.size
        distances = data.sq_dist_to_assigned(centers_old, labels)
        far_from_centers = np.argpartition(distances, -n_empty)[:-n_empty - 1:-1]
        for new_id, far_idx in zip(empty, far_from_centers):
            weight = sample_weight[far_idx]
            old_id = labels[far_idx]
            x = data.row(far_idx)
            sums[old_id] -= x * weight
            sums[new_id] = x * weight
            wsum[new_id] = weight
            wsum[old_id] -= weight
    centers = sums.copy()
    nonzero = wsum > 0
    centers[nonzero] /= wsum[nonzero, None]
    return centers.astype(centers_old.dtype, copy=False)


def _half_center_distances(centers):
    """Half the centre-centre distances (k x k, BLAS) and each centre's half-separation."""
    c = centers.astype(np.float64)
    norms = np.einsum("ij,ij->i", c, c)
    d2 = norms[:, None] + norms[None, :] - 2.0 * (c @ c.T)
    np.maximum(d2, 0, out=d2)
    half = 0.5 * np.sqrt(d2)
    np.fill_diagonal(half, np.inf)
    half_sep = half.min(axis=1) if centers.shape[0] > 1 else np.full(1, np.inf)
    np.fill_diagonal(half, 0.0)
    return half, np.ascontiguousarray(half_sep)


def kmeans_single(data, sample_weight, centers_init, *, algorithm, max_iter, tol, verbose,
                  x_squared_norms=None):
    """Run k-means once from ``centers_init``.

    Returns labels, inertia, centres and the number of iterations, with scikit-learn's
    semantics: stop when labels do not change (strict convergence) or the squared centre shift
    is within ``tol``; in the latter case the labels are recomputed for the final centres.
    """
    n_samples = data.X.shape[0]
    n_clusters, n_features = centers_init.shape
    centers = np.ascontiguousarray(centers_init)
    labels = np.full(n_samples, -1, dtype=np.int32)
    sums = np.zeros((n_clusters, n_features))
    wsum = np.zeros(n_clusters)

    if algorithm == "lloyd":
        def step(centers, update):
            if update:
                sums[:] = 0.0
            return data.lloyd_pass(sample_weight, centers, labels, sums, wsum, update)
    else:
        # Bounds are valid for the centres of the previous pass, moved by `shift`.
        shift = np.zeros(n_clusters)
        upper = np.zeros(n_samples)
        if algorithm == "hamerly":
            lower = np.zeros(n_samples)
        else:
            lower = np.zeros((n_samples, n_clusters), dtype=data.X.dtype)

        def step(centers, update):
            half_cc, half_sep = _half_center_distances(centers)
            if algorithm == "hamerly":
                return _bounds.hamerly_pass_dense(data.X, x_squared_norms, sample_weight,
                                                  centers, shift, half_sep, labels, upper,
                                                  lower, sums, wsum, update, data.n_threads)
            return _bounds.elkan_pass_dense(data.X, sample_weight, centers, shift, half_sep,
                                            half_cc, labels, upper, lower, sums, wsum, update,
                                            data.n_threads)

    strict_convergence = False
    for i in range(max_iter):
        n_changed = step(centers, True)
        centers_new = _new_centers(data, sample_weight, centers, labels, sums, wsum)
        if verbose:
            print(f"Iteration {i}, inertia {inertia(data, sample_weight, centers, labels)}.")
        center_shift = np.sqrt(np.sum((centers_new.astype(np.float64) - centers) ** 2, axis=1))
        if algorithm != "lloyd":
            shift[:] = center_shift
        centers = centers_new
        if n_changed == 0:
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            strict_convergence = True
            break
        center_shift_tot = float(np.sum(center_shift ** 2))
        if center_shift_tot <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {center_shift_tot} "
                      f"within tolerance {tol}.")
            break
    if not strict_convergence:
        # Labels for the final centres, so that predict(X) == labels_.
        step(centers, False)
    return labels, inertia(data, sample_weight, centers, labels), centers, i + 1
