"""Reference computations for kmix's compiled kernels (used by the tests only).

Each function computes what one kernel computes, written the plainest way (NumPy
broadcasting, Python loops, scipy's densities), and shares no code with kmix. Where a
*discrete* answer (a label, a merge) must not depend on rounding, it is decided in exact
arithmetic: every float is a rational number (an integer times a power of two), so squared
Euclidean distances between float vectors can be computed and compared exactly with Python
integers.

Summary of the conventions mirrored (scikit-learn's, which kmix follows):

- k-means labels: the closest centre by *exact* squared Euclidean distance, exact ties to the
  lowest centre index;
- a k-means centre is the weighted mean of its rows, rounded as kmix and scikit-learn round
  it: the sum times the rounded reciprocal of the cluster weight, in float64, then cast to
  the data's dtype; Lloyd stops when no label changes ("strict convergence") or when the
  total squared centre shift is within ``tol``;
- mini-batch: ``c <- (c N + sum w x) / (N + sum w)`` per centre, N the weight it absorbed;
- Gaussian mixtures: scikit-learn's estimates (nk with its ``10 * eps``, ``reg_covar`` on
  the diagonal) and scipy's Gaussian densities;
- DBSCAN: a point is its own neighbour, distances ``<= eps`` count (inclusive);
- Ward: the merge height of clusters A and B is
  ``sqrt(2 |A| |B| / (|A| + |B|)) ||mean(A) - mean(B)||`` (scipy's and scikit-learn's).
"""
import math
from fractions import Fraction

import numpy as np
from scipy import linalg, stats
from scipy.special import logsumexp

__all__ = [
    "exact_sq_dists", "exact_assign", "lloyd_step", "lloyd_run", "minibatch_step",
    "precision_cholesky", "gaussian_log_density", "mixture_log_prob_resp",
    "m_step_statistics", "silhouette_sums", "silhouette_values", "dbscan_neighbour_counts",
    "ward_linkage",
]

#: Unit roundoff of float64.
_U64 = 2.0 ** -53


# ---------------------------------------------------------------------------------------------
# exact squared distances
# ---------------------------------------------------------------------------------------------
def _scaled_ints(A):
    """Integers I (Python ints, object array of A's shape) and a shift with A == I * 2**shift.

    Exact: a finite float is m * 2**e with an integer m of at most 53 bits.
    """
    A = np.asarray(A, dtype=np.float64)
    if not np.all(np.isfinite(A)):
        raise ValueError("exact distances need finite values")
    mant, expo = np.frexp(A)                      # A = mant * 2**expo, 0.5 <= |mant| < 1
    m = (mant * 2.0 ** 53).astype(np.int64)       # exact integer mantissas
    e = expo.astype(np.int64) - 53
    nonzero = m != 0
    shift = int(e[nonzero].min()) if nonzero.any() else 0
    ints = [int(mi) << int(ei - shift) if mi else 0 for mi, ei in zip(m.ravel(), e.ravel())]
    out = np.empty(A.size, dtype=object)
    out[:] = ints
    return out.reshape(A.shape), shift


def exact_sq_dists(X, C):
    """Exact squared Euclidean distances between the rows of X and of C, as Fractions.

    Parameters
    ----------
    X : array-like of shape (n, d), float32 or float64
    C : array-like of shape (k, d)

    Returns
    -------
    D : ndarray of object (Fraction) of shape (n, k)
        ``D[i, j] = sum_f (X[i, f] - C[j, f])**2`` in exact rational arithmetic. Slow
        (Python integers): for small inputs and for checking :func:`exact_assign`.
    """
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    ints, shift = _scaled_ints(np.vstack([X, C]))
    XI, CI = ints[:len(X)], ints[len(X):]
    scale = Fraction(2) ** (2 * shift)
    D = np.empty((len(X), len(C)), dtype=object)
    for i in range(len(X)):
        for j in range(len(C)):
            diff = XI[i] - CI[j]
            D[i, j] = int((diff * diff).sum()) * scale
    return D


def sq_dists_float(X, C, chunk=128):
    """Squared distances (n, k) in float64 by direct differences (accurate, not exact)."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    D = np.empty((len(X), len(C)))
    for s in range(0, len(X), chunk):
        diff = X[s:s + chunk, None, :] - C[None, :, :]
        D[s:s + chunk] = np.einsum("ijk,ijk->ij", diff, diff)
    return D


def _exact_first_argmin(x, C, candidates):
    """The candidate centre (ascending indices) closest to x in exact arithmetic; among exact
    ties the first, i.e. the lowest index."""
    ints, _ = _scaled_ints(np.vstack([x[None, :], C[candidates]]))
    xi = ints[0]
    best, best_val = None, None
    for j, ci in zip(candidates, ints[1:]):
        diff = xi - ci
        val = int((diff * diff).sum())        # the squared distance times 2**(-2 shift)
        if best_val is None or val < best_val:
            best, best_val = j, val
    return best


def exact_assign(X, C, return_n_exact=False):
    """Labels by exact arithmetic: each row's closest centre, exact ties to the lowest index.

    A float64 pass (direct differences) finds, for each row, the centres whose computed
    squared distance is within the rounding band of the smallest one; rows with a single
    such candidate are decided (its distance is certainly the smallest), the others are
    decided among their candidates with exact integer arithmetic
    (:func:`_exact_first_argmin`). On integer-valued data of moderate magnitude (squared
    distances below ~1e12) every candidate set is exactly the set of tied centres.

    The band: each difference, square and addition of the float64 pass rounds with relative
    error <= u = 2**-53, and the terms summed are non-negative, so a computed squared
    distance is within a relative (d + 2) u (plus d half-subnormals for underflow) of the
    exact one. A centre whose exact distance is the smallest is therefore computed within
    ``min * (1 + 3 (d + 3) u) + d * 2**-1074`` of the computed minimum.

    Parameters
    ----------
    X : array-like of shape (n, d), float32 or float64
    C : array-like of shape (k, d)
    return_n_exact : bool, default=False
        Also return how many rows needed the exact step.

    Returns
    -------
    labels : ndarray of shape (n,), intp
    n_exact : int
        Only with ``return_n_exact``.
    """
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    n, d = X.shape
    gamma = 3 * (d + 3) * _U64
    tiny = (d + 2) * 2.0 ** -1074
    D = sq_dists_float(X, C)
    dmin = D.min(axis=1)
    cand = D <= (dmin * (1 + gamma) + tiny)[:, None]
    labels = np.argmax(cand, axis=1).astype(np.intp)   # the first candidate
    several = np.flatnonzero(cand.sum(axis=1) > 1)
    for i in several:
        labels[i] = _exact_first_argmin(X[i], C, np.flatnonzero(cand[i]))
    if return_n_exact:
        return labels, len(several)
    return labels


# ---------------------------------------------------------------------------------------------
# k-means: Lloyd and mini-batch steps
# ---------------------------------------------------------------------------------------------
def _weights(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    return np.asarray(sample_weight, dtype=np.float64)


def _weighted_inertia(X, C, labels, w):
    """sum_i w_i ||x_i - c_{labels_i}||^2, float64 distances, the sum correctly rounded."""
    diff = np.asarray(X, np.float64) - np.asarray(C, np.float64)[labels]
    return math.fsum(w * np.einsum("ij,ij->i", diff, diff))


def lloyd_step(X, C, sample_weight=None):
    """One Lloyd iteration: exact labels, then every centre moved to its weighted mean.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
    C : ndarray of shape (k, d)
        Current centres (X's dtype).
    sample_weight : ndarray of shape (n,), default=None (unit weights)

    Returns
    -------
    labels : ndarray of shape (n,)
        :func:`exact_assign` of X on C.
    centres : ndarray of shape (k, d), X's dtype
        ``c_j = S_j * (1 / W_j)`` with ``S_j = sum w x`` over its rows (products rounded to
        float64, their sum correctly rounded by ``math.fsum``: exact on integer data with
        integer weights) and ``W_j`` their weight, in float64, then cast to X's dtype, as
        kmix and scikit-learn round a centre. A cluster without rows (zero weight) keeps its
        centre (kmix and scikit-learn would relocate it: compare only runs where no cluster
        empties).
    inertia : float
        ``sum_i w_i ||x_i - c_{labels_i}||^2`` on the centres C the rows were assigned to.
    """
    X = np.asarray(X)
    w = _weights(sample_weight, X.shape[0])
    labels = exact_assign(X, C)
    inertia = _weighted_inertia(X, C, labels, w)
    X64 = X.astype(np.float64)
    centres = np.array(C, dtype=X.dtype, copy=True)
    for j in range(len(centres)):
        members = labels == j
        W = math.fsum(w[members])
        if W == 0:
            continue
        wx = w[members, None] * X64[members]
        S = np.array([math.fsum(col) for col in wx.T])
        centres[j] = (S * (1.0 / W)).astype(X.dtype)
    return labels, centres, inertia


def lloyd_run(X, C, sample_weight=None, max_iter=300, tol=0.0):
    """Lloyd's iterations from centres C with kmix's stopping rules (``_iterate``).

    Each iteration is a :func:`lloyd_step`. Stop when the labels do not change (strict
    convergence: the centres are then those of the last step, the labels those they were
    computed from) or when the total squared centre shift ``sum_j ||c_new - c_old||^2``
    (float64) is ``<= tol``, or after ``max_iter`` iterations; in the last two cases the labels
    are recomputed for the final centres (so that ``predict(X) == labels_``). The first
    iteration always counts as a change (labels start undefined).

    Empty clusters are not modelled (kmix relocates them): a run that empties one raises.

    Returns
    -------
    labels : ndarray of shape (n,)
    centres : ndarray of shape (k, d), X's dtype
    n_iter : int
    inertia : float
        Of the returned labels on the returned centres.
    """
    X = np.asarray(X)
    w = _weights(sample_weight, X.shape[0])
    centres = np.array(C, dtype=X.dtype, copy=True)
    labels = None
    for it in range(1, max_iter + 1):
        new_labels, new_centres, _ = lloyd_step(X, centres, w)
        if np.bincount(new_labels, weights=w, minlength=len(centres)).min() <= 0:
            raise ValueError(f"a cluster emptied at iteration {it}: not modelled here")
        changed = labels is None or not np.array_equal(new_labels, labels)
        shift = float(((new_centres.astype(np.float64) - centres.astype(np.float64)) ** 2).sum())
        centres, labels = new_centres, new_labels
        if not changed:
            return labels, centres, it, _weighted_inertia(X, centres, labels, w)
        if shift <= tol:
            break
    labels = exact_assign(X, centres)
    return labels, centres, it, _weighted_inertia(X, centres, labels, w)


def minibatch_step(X_batch, w_batch, C, counts):
    """One mini-batch k-means step (scikit-learn's update, which kmix follows).

    The batch rows are labelled on the current centres (:func:`exact_assign`); then each
    centre j with batch rows of total weight ``W_j > 0`` becomes

        ``c_j <- (c_j N_j + sum_{i -> j} w_i x_i) / (N_j + W_j)``, ``N_j <- N_j + W_j``

    with ``N_j`` the weight it absorbed so far (``counts``). Rounded as kmix rounds it: the
    numerator in float64 (``c_j N_j`` and each ``w_i x_i`` rounded to float64, their sum
    correctly rounded by ``math.fsum``: exact on integer data, weights and counts), times
    the rounded reciprocal of ``N_j + W_j``, then cast to C's dtype. Centres without batch
    rows (or with zero batch weight) and their counts are unchanged.

    Parameters
    ----------
    X_batch : ndarray of shape (b, d)
    w_batch : ndarray of shape (b,) or None (unit weights)
    C : ndarray of shape (k, d)
    counts : ndarray of shape (k,)

    Returns
    -------
    labels : ndarray of shape (b,)
    centres : ndarray of shape (k, d), C's dtype
    counts : ndarray of shape (k,)
    inertia : float
        The batch's weighted inertia on the centres before the update.
    squared_shift : float
        ``sum_j ||c_j new - c_j old||^2`` (float64).
    """
    X_batch = np.asarray(X_batch)
    C = np.asarray(C)
    w = _weights(w_batch, X_batch.shape[0])
    labels = exact_assign(X_batch, C)
    inertia = _weighted_inertia(X_batch, C, labels, w)
    X64 = X_batch.astype(np.float64)
    centres = C.copy()
    counts = np.array(counts, dtype=np.float64, copy=True)
    for j in range(len(C)):
        members = labels == j
        W = math.fsum(w[members])
        if not members.any() or W == 0:
            continue
        terms = np.vstack([C[j].astype(np.float64) * counts[j], w[members, None] * X64[members]])
        acc = np.array([math.fsum(col) for col in terms.T])
        centres[j] = (acc * (1.0 / (counts[j] + W))).astype(C.dtype)
        counts[j] += W
    shift = float(((centres.astype(np.float64) - C.astype(np.float64)) ** 2).sum())
    return labels, centres, counts, inertia, shift


# ---------------------------------------------------------------------------------------------
# Gaussian mixtures
# ---------------------------------------------------------------------------------------------
def _full_covariances(covariances, covariance_type, n_components, n_features):
    """The k covariance matrices (k, d, d) of any covariance type."""
    cov = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.repeat(cov[None], n_components, axis=0)
    if covariance_type == "diag":
        return np.stack([np.diag(v) for v in cov])
    return np.stack([v * np.eye(n_features) for v in cov])


def precision_cholesky(covariances, covariance_type):
    """scikit-learn's ``precisions_cholesky_``: upper-triangular U with U U^T = inverse
    covariance (full: (k, d, d), tied: (d, d)); 1 / standard deviations for diag (k, d) and
    spherical (k)."""
    cov = np.asarray(covariances, dtype=np.float64)
    if covariance_type in ("diag", "spherical"):
        return 1.0 / np.sqrt(cov)

    def one(S):
        L = linalg.cholesky(S, lower=True)
        return linalg.solve_triangular(L, np.eye(len(S)), lower=True).T

    if covariance_type == "tied":
        return one(cov)
    return np.stack([one(S) for S in cov])


def gaussian_log_density(X, means, covariances, covariance_type):
    """log N(x_i | mu_j, Sigma_j) for every row and component, by scipy.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    means : ndarray of shape (k, d)
    covariances : ndarray
        (k, d, d) full, (d, d) tied, (k, d) diag, (k,) spherical.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    ndarray of shape (n, k)
    """
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covs = _full_covariances(covariances, covariance_type, len(means), X.shape[1])
    return np.column_stack([stats.multivariate_normal(mu, S).logpdf(X).reshape(len(X))
                            for mu, S in zip(means, covs)])


def mixture_log_prob_resp(X, weights, means, covariances, covariance_type):
    """The mixture's log-density per row and the responsibilities.

    Returns
    -------
    log_prob : ndarray of shape (n,)
        ``log sum_j pi_j N(x_i | mu_j, Sigma_j)``.
    resp : ndarray of shape (n, k)
        ``pi_j N(x_i | ...) / sum_l pi_l N(x_i | ...)``.
    """
    weighted = gaussian_log_density(X, means, covariances, covariance_type) + np.log(weights)
    log_prob = logsumexp(weighted, axis=1)
    return log_prob, np.exp(weighted - log_prob[:, None])


def m_step_statistics(X, resp, sample_weight=None, covariance_type="full", reg_covar=1e-6):
    """scikit-learn's Gaussian-mixture M-step estimates, with sample weights.

    A sample weight counts as that many copies of the row (scikit-learn's mixtures have no
    weights; kmix's do).

    Returns
    -------
    nk : ndarray of shape (k,)
        ``sum_i w_i r_ij + 10 * eps`` (scikit-learn adds 10 eps against empty components).
    means : ndarray of shape (k, d)
        ``sum_i w_i r_ij x_i / nk_j``.
    covariances : ndarray
        full (k, d, d): ``sum_i w_i r_ij (x_i - mu_j)(x_i - mu_j)^T / nk_j + reg_covar I``;
        tied (d, d): ``(sum_i w_i x_i x_i^T - sum_j nk_j mu_j mu_j^T) / sum_j nk_j
        + reg_covar I`` (scikit-learn's formula); diag (k, d): the diagonals of full;
        spherical (k,): the means of the diag variances.
    """
    X = np.asarray(X, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    n, d = X.shape
    w = _weights(sample_weight, n)
    wr = w[:, None] * resp
    nk = wr.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = wr.T @ X / nk[:, None]
    if covariance_type == "tied":
        second = (w[:, None] * X).T @ X
        cov = (second - (nk[:, None] * means).T @ means) / nk.sum()
        return nk, means, cov + reg_covar * np.eye(d)
    full = np.empty((len(nk), d, d))
    for j in range(len(nk)):
        Z = X - means[j]
        full[j] = (wr[:, j, None] * Z).T @ Z / nk[j]
    if covariance_type == "full":
        return nk, means, full + reg_covar * np.eye(d)
    var = np.diagonal(full, axis1=1, axis2=2) + reg_covar
    if covariance_type == "diag":
        return nk, means, var
    return nk, means, var.mean(axis=1)


# ---------------------------------------------------------------------------------------------
# silhouettes, DBSCAN, Ward
# ---------------------------------------------------------------------------------------------
def silhouette_sums(X, labels, n_clusters=None):
    """S[i, c] = sum of ||x_i - x_j|| over the samples j labelled c (brute force, float64
    direct differences; the distance of a sample to itself is 0).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    labels : ndarray of shape (n,), integers in 0 .. n_clusters - 1
    n_clusters : int, default=None (labels.max() + 1)

    Returns
    -------
    ndarray of shape (n, n_clusters)
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    k = int(labels.max()) + 1 if n_clusters is None else n_clusters
    D = np.sqrt(sq_dists_float(X, X))
    S = np.zeros((len(X), k))
    for c in range(k):
        members = D[:, labels == c]
        S[:, c] = [math.fsum(row) for row in members]
    return S


def silhouette_values(S, labels):
    """(a, b, s) per sample from the sums S of :func:`silhouette_sums`.

    a: mean distance to the other members of its cluster; b: the smallest mean distance to
    the members of another cluster; s = (b - a) / max(a, b), and 0 for a sample alone in its
    cluster (scikit-learn's convention).
    """
    labels = np.asarray(labels)
    n, k = S.shape
    sizes = np.bincount(labels, minlength=k)
    a = np.zeros(n)
    b = np.zeros(n)
    s = np.zeros(n)
    for i in range(n):
        own = labels[i]
        if sizes[own] > 1:
            a[i] = S[i, own] / (sizes[own] - 1)
        b[i] = min(S[i, c] / sizes[c] for c in range(k) if c != own and sizes[c] > 0)
        if sizes[own] > 1:
            s[i] = (b[i] - a[i]) / max(a[i], b[i])
    return a, b, s


def dbscan_neighbour_counts(X, eps, sample_weight=None, metric="euclidean"):
    """Weighted neighbour counts of DBSCAN, by brute force.

    ``counts[i] = sum of w_j over the j with dist(x_i, x_j) <= eps`` (i itself included, the
    boundary included, as scikit-learn's ``radius_neighbors``). Euclidean: the squared distance
    (float64 direct differences) against ``eps ** 2``; ``metric='precomputed'``: X is the
    distance matrix. The sum of the weights is correctly rounded (``math.fsum``).

    Returns
    -------
    ndarray of shape (n,)
    """
    if metric == "precomputed":
        within = np.asarray(X) <= eps
    else:
        within = sq_dists_float(X, X) <= float(eps) ** 2
    w = _weights(sample_weight, within.shape[0])
    return np.array([math.fsum(w[row]) for row in within])


def ward_linkage(X):
    """Ward's agglomerative tree by brute force: at each step merge the two clusters with the
    smallest Ward distance ``sqrt(2 |A| |B| / (|A| + |B|)) ||mean(A) - mean(B)||``.

    Clusters are numbered as in scikit-learn's ``children_`` and scipy's linkage matrix: the
    samples 0 .. n-1, then the cluster formed by merge m is n + m. O(n^3) per merge: for tiny
    data. (With exact ties in the distances the merge chosen here, the first pair in
    (smaller id, larger id) order, may differ from other valid trees: compare on data with
    distinct heights.)

    Returns
    -------
    children : ndarray of shape (n - 1, 2), int
        The two clusters merged at each step, smaller id first.
    distances : ndarray of shape (n - 1,)
        The Ward distance of each merge (non-decreasing).
    sizes : ndarray of shape (n - 1,), int
        Samples in the merged cluster.
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    members = {i: [i] for i in range(n)}
    children, distances, sizes = [], [], []
    for m in range(n - 1):
        ids = sorted(members)
        best = None
        for p, a in enumerate(ids):
            ma, na = X[members[a]].mean(axis=0), len(members[a])
            for b in ids[p + 1:]:
                mb, nb = X[members[b]].mean(axis=0), len(members[b])
                dist = math.sqrt(2.0 * na * nb / (na + nb)) * float(np.linalg.norm(ma - mb))
                if best is None or dist < best[0]:
                    best = (dist, a, b)
        dist, a, b = best
        members[n + m] = members.pop(a) + members.pop(b)
        children.append((a, b))
        distances.append(dist)
        sizes.append(len(members[n + m]))
    return np.array(children), np.array(distances), np.array(sizes)
