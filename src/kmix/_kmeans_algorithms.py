"""One k-means run from given initial centres: Lloyd, Elkan, Hamerly and Yinyang drivers.

Python loops over iterations only; each iteration is one compiled pass. All four produce
Lloyd's sequence of labels and centres (same stopping rule and empty-cluster relocation as
scikit-learn), so from the same initial centres they agree label for label (Elkan may settle
an exact distance tie differently, as scikit-learn's Elkan does).
"""
import warnings

import numpy as np
import scipy.sparse as sp

from ._core import _bounds, _lloyd, _minibatch
from ._core._constants import GEMM_MIN_FEATURES, KMIX_PANEL, MIXED_MAX_NORM
from ._seeding import _row_sq_norms, is_small_problem, kpp_draws, n_trials_for
from ._threads import blas_context, threads_for
from ._validation import as_csr_arrays

__all__ = ["ALGORITHMS", "resolve_algorithm", "kmeans_single", "labels_inertia", "inertia",
           "is_small_problem", "small_restarts", "replaces_best"]


ALGORITHMS = ("lloyd", "elkan", "hamerly", "yinyang", "auto", "full")

#: Terms n * k * d below which 'auto' runs Lloyd on wide data (see :func:`resolve_algorithm`).
LLOYD_MAX_TERMS_WIDE = 10_000_000
# 'auto' on wide data with 500+ centres: Yinyang from this many iterations (max_iter), Lloyd
# below (Yinyang's first passes cost more than Lloyd's; see resolve_algorithm).
YINYANG_MIN_ITER = 10
# ... and when its per-row group bounds (float32, one per group of KMIX_PANEL centres) take at
# most this many bytes: at k=1000 they are 3.9 times float32 data of 32 features.
YINYANG_MAX_BOUND_BYTES = 1 << 30


def resolve_algorithm(algorithm, n_samples, n_features, n_clusters, sparse, max_iter=300):
    """Exact algorithm to run for ``algorithm`` on data of this shape (and at most
    ``max_iter`` iterations).

    'full' is an old name of 'lloyd'. Bound algorithms need dense data: on CSR input every
    algorithm runs the Lloyd kernel (the results are the same). 'auto' follows same-init
    measurements of asv_benchmarks/bench_table.py's rows on a 2-core machine (time relative
    to scikit-learn's Lloyd, float64):

    - narrow data (fewer than GEMM_MIN_FEATURES features), any number of centres: Hamerly,
      whose full searches (like Lloyd's passes) run the one-pass kernel that keeps the
      distances in registers, rows in the vector lanes (``kmix_fused_argmin2``, 941500a).
      china.jpg from k-means++ centres, seconds, Lloyd / Hamerly / Yinyang, AVX2 EPYC,
      2026-12-03:

      ======  ========================  ========================
      k       float64                   float32
      ======  ========================  ========================
      16      0.081 / 0.054 / 0.124     0.067 / 0.055 / 0.142
      32      0.282 / 0.142 / 0.223     0.105 / 0.083 / 0.176
      64      0.348 / 0.157 / 0.268     0.230 / 0.145 / 0.295
      128     0.475 / 0.190 / 0.311     0.289 / 0.159 / 0.332
      256     0.805 / 0.320 / 0.453     0.564 / 0.258 / 0.532
      512     2.139 / 0.794 / 0.939     1.586 / 0.789 / 1.266
      1024    4.456 / 1.925 / 1.779     2.055 / 1.440 / 1.653
      ======  ========================  ========================

      (Before that kernel Yinyang won from 32 centres in float64 and 256 in float32, and the
      tables below were measured then.)
    - wide data: Hamerly (500k x 50 k=100: 0.17, Lloyd 0.27; digits k=50 was 0.71 against
      Lloyd's 1.05 on 2026-11-27, before the rule for small problems below);
      at 256+ features with few centres Elkan, whose per-centre bounds skip most rows and
      whose distances are FMA loops (60k x 784 k=10: 0.37 in float64 and 0.73 in float32;
      Hamerly 0.57 and 0.98, Yinyang 0.53 and 0.90, Lloyd 0.77 and 1.22);
    - wide data, 500+ centres: Yinyang when max_iter is YINYANG_MIN_ITER or more and its
      bounds (n x ceil(k / 8) float32) fit in YINYANG_MAX_BOUND_BYTES, Lloyd otherwise (see
      the last table: Yinyang's first passes cost 1.5-2.4 times Lloyd's, its later ones a
      third to a half; Lloyd keeps no per-row state);
    - wide data of fewer than LLOYD_MAX_TERMS_WIDE terms n k d: Lloyd, whose iterations run
      in one compiled call, while Hamerly's each cost a Python round and the centres'
      separations. Same init, median of 5-200 fits, ms, Lloyd / Hamerly, float32, AVX2 EPYC,
      2026-12-04 (after the best-two scan of b422e89 and the fixed costs of 57c4412): digits
      k=50 (5.75M terms) from k-means++ centres 2.35-2.82 / 3.09-3.58 (float64 3.50-4.06 /
      3.85-4.51), from random rows 2.02 / 2.64; blobs of 64 features, k=50, std 4, and
      standard normal data, from k-means++ centres: 3000 rows (9.6M) 1.89 / 1.86 and
      6.09 / 8.26, 6000 rows (19.2M) 3.23 / 2.83 and 16.2 / 18.4, 12000 rows (38.4M)
      17.1 / 10.7 and 79.2 / 72.1; 20000 x 32, k=30 (19.2M) 34.9 / 13.7 and 159 / 114.
      The same on the AVX-512 Zen 4 (2026-12-04, b408201, median of 9, float32; float64 in
      brackets): digits 2.17 / 3.19 (3.04 / 4.13); blobs and normal, 3000 rows 1.65 / 1.72
      and 6.30 / 8.29 (7.48 / 11.35), 6000 rows 3.29 / 3.00 and 17.6 / 19.7 (20.1 / 27.3),
      12000 rows 17.0 / 11.2 and 82.4 / 76.8 (91.8 / 108.8); 20000 x 32 126.9 / 102.1:
      one threshold serves both CPUs.
    - small problems (:func:`is_small_problem`): Lloyd, whose iterations all run in one
      compiled call (1250 x 2, k=3: 1.4 ms for 3 runs against Hamerly's 1.8 ms, whose
      per-iteration Python costs more than the distances it skips), and on dense data with
      k-means++ all the restarts too (:func:`small_restarts`).

    The figures above were measured on 2026-11-27. Re-measured on 2026-12-03 by
    asv_benchmarks/bench_algorithms.py on two 2-core AMD EPYC machines, one with AVX-512 (the
    kernels use its AVX2/FMA paths), one with AVX2 only; same init from k-means++ centres,
    min of 3 fits, seconds (lloyd / hamerly / elkan / yinyang; * = what 'auto' runs):

    ======================  ==================================  ==================================
    AVX-512 machine         float64                             float32
    ======================  ==================================  ==================================
    china.jpg k=8           0.086 / 0.046* / 0.096 / 0.062      0.065 / 0.045* / 0.116 / 0.064
    china.jpg k=64          0.791 / 0.323 / 0.889 / 0.291*      0.460 / 0.261* / 1.418 / 0.287
    digits k=50             0.005 / 0.004* / 0.006 / 0.006      0.005 / 0.004* / 0.008 / 0.005
    blobs 500k x 50 k=100   0.228 / 0.150* / 0.261 / 0.189      0.146 / 0.099* / 0.285 / 0.149
    blobs 60k x 784 k=10    3.447 / 1.830 / 1.202* / 1.948      12.09 / 11.75 / 0.890* / 11.84
    normal 100kx32 k=1000   1.344* / 2.379 / 4.128 / 4.252      1.310* / 1.398 / 4.893 / 10.73
    ======================  ==================================  ==================================

    ======================  ==================================  ==================================
    AVX2 machine            float64                             float32
    ======================  ==================================  ==================================
    china.jpg k=8           0.079 / 0.038* / 0.080 / 0.051      0.055 / 0.037* / 0.097 / 0.051
    china.jpg k=64          0.714 / 0.350 / 0.917 / 0.284*      0.543 / 0.266* / 1.542 / 0.286
    digits k=50             0.005 / 0.004* / 0.005 / 0.005      0.004 / 0.003* / 0.006 / 0.004
    blobs 500k x 50 k=100   0.284 / 0.181* / 0.359 / 0.218      0.187 / 0.130* / 0.354 / 0.148
    blobs 60k x 784 k=10    3.733 / 2.006 / 1.227* / 2.100      4.007 / 3.533 / 0.954* / 4.303
    normal 100kx32 k=1000   1.748* / 2.892 / 5.662 / 2.928      1.642* / 1.901 / 5.424 / 2.265
    ======================  ==================================  ==================================

    The '*' marks follow the float32 rule above (Hamerly for china.jpg k=64 in float32, the
    faster there on both machines by 7-10%); the tables were measured before it, when 'auto'
    ran Yinyang on that row. 'auto' then runs the fastest algorithm on every row of both
    tables, so one rule serves both CPUs. (The AVX-512 float32 Lloyd/Hamerly/Yinyang times
    of 60k x 784 predate f69c609, which brought Lloyd to 3.5 s and Hamerly to 3.0 s there;
    the AVX2 table is at c1c2180, whose Yinyang examines groups of centres on wide data:
    3.06 -> 1.98 s at normal k=1000 in float32.)

    Re-measured on 2026-12-04 at b408201 (float64 Lloyd passes screen in float32 from 16
    centres on AVX-512 CPUs) on a 2-core AMD EPYC Zen 4 with AVX-512 (kmix's kernels run their
    AVX2/FMA paths; OpenBLAS its SkylakeX kernels), same protocol; 'auto' runs the fastest
    algorithm, or one within 5% of it, on every row, with the rule above unchanged:

    ======================  ==================================  ==================================
    AVX-512 (Zen 4)         float64                             float32
    ======================  ==================================  ==================================
    china.jpg k=8           0.042 / 0.031* / 0.073 / 0.045      0.042 / 0.030* / 0.090 / 0.047
    china.jpg k=64          0.253 / 0.127* / 0.742 / 0.249      0.163 / 0.110* / 1.163 / 0.251
    digits k=50             0.003* / 0.004 / 0.005 / 0.004      0.003* / 0.003 / 0.005 / 0.003
    blobs 500k x 50 k=100   0.131 / 0.127* / 0.267 / 0.163      0.112 / 0.080* / 0.233 / 0.104
    blobs 60k x 784 k=10    2.555 / 1.634 / 0.881* / 1.525      2.118 / 2.929 / 0.621* / 3.079
    normal 100kx32 k=1000   1.092* / 2.092 / 4.782 / 1.664      1.032* / 1.140 / 4.354 / 1.314
    ======================  ==================================  ==================================

    At 7f11cac (Hamerly's full searches of float64 rows on gemm-wide data in float32 from the
    same threshold) the float64 column moves to: blobs 500k 0.137 / 0.097* / 0.294 / 0.176,
    normal k=1000 1.065* / 1.167 / 4.863 / 1.785, digits 0.003* / 0.003 / 0.004 / 0.004; the
    other rows within noise, and 'auto' still the fastest on each.

    At dd5a927 (the passes on 16 to 256 features take each row's best two by the one-pass
    register-tiled kernel, ``kmix_wide_argmin2``, instead of gemm tiles and a scan; Lloyd
    and Hamerly alike) on the same Zen 4, float64 / float32: blobs 500k 0.103 / 0.066* /
    0.266 / 0.157 and 0.092 / 0.056* / 0.233 / 0.104; normal k=1000 0.847* / 0.819 / 4.768 /
    1.742 and 0.885* / 0.879 / 5.641 / 1.350 (Hamerly now within 4% of Lloyd there: both
    search nearly every row, at the kernel's speed); digits 0.002* / 0.003 / 0.004 / 0.003
    and 0.002* / 0.002 / 0.005 / 0.003; china.jpg and 60k x 784 (no kernel change) within
    noise. 'auto' runs the fastest algorithm, or one within 5%, on every row: the rule holds.

    The precision switches inside the passes were measured on both kinds of CPU too: Hamerly's
    float32 search of narrow float64 data (HAMERLY_MIXED_MIN_CENTERS = 32 in _bounds.pyx)
    holds on both (on Zen 4, china.jpg from random rows, float64 / float32 search: within
    noise up to k=64, k=128 0.115-0.127 / 0.107-0.117 s, k=256 0.200-0.214 / 0.175-0.180);
    the float32 screen of float64 Lloyd passes on gemm-wide data does not, and is picked at
    run time (``kmix._core._lloyd.mixed_min_centers``).

    500+ centres ran Lloyd until 2026-12-05: after fff9e2c and d714442 Yinyang ran normal
    k=1000 in float32 in 1.56-1.65 s from k-means++ centres (Lloyd 1.70-1.73) but lost from
    random rows, in float64 and at k=4096. At 6cf1bd6 (Yinyang's group bounds read without
    writes, float64 groups examined in float32, four rows at a time over shared groups, lazily
    written block sums) on the 2-core Zen 4 (AVX-512; kmix's AVX2/FMA kernels), standard
    normal data, same start, ``tol=0``, min of 2 fits, seconds, lloyd / hamerly / yinyang:

    ======================  ======================  ======================  ======================
    rows, k, iterations     float64, k-means++      float64, random rows    float32, k-means++
    ======================  ======================  ======================  ======================
    100k x 32, 100, 20      0.118 / 0.107 / 0.169   0.119 / 0.113 / 0.178   0.113 / 0.096 / 0.160
    100k x 32, 250, 20      0.241 / 0.223 / 0.260   0.241 / 0.222 / 0.270   0.212 / 0.204 / 0.251
    100k x 32, 500, 20      0.419 / 0.384 / 0.371   0.424 / 0.398 / 0.387   0.410 / 0.365 / 0.374
    100k x 32, 1000, 20     0.775 / 0.807 / 0.640   0.785 / 0.856 / 0.652   0.767 / 0.797 / 0.647
    200k x 64, 4096, 5      3.152 / 5.292 / 3.806   3.150 / 5.217 / 4.170   3.213 / 5.359 / 4.007
    ======================  ======================  ======================  ======================

    (float32 from random rows within 5% of float32 from k-means++.) Float32 from random
    rows, Lloyd / Yinyang: k=1000 over 5 iterations 0.254 / 0.355, 10: 0.410 / 0.425, 20:
    0.776 / 0.664; k=4096 over 10 iterations 5.77 / 6.36, 20: 10.9 / 9.18: Yinyang wins from
    about 12 iterations, hence YINYANG_MIN_ITER (a default fit runs up to 300). Hamerly and
    Yinyang are within 4% at k=500, where the rule switches. An AVX2-only machine was not
    available to re-measure this switch (the changes behind it cut loads and memory traffic,
    which the AVX2 machines' kernels share).

    At c2ac8fe (Yinyang's bounds also moved by their centres' net moves), same machine,
    100k x 32 from k-means++ centres, 20 iterations, min of 2, lloyd / hamerly / yinyang:
    k=250 float64 0.246 / 0.221 / 0.276, float32 0.231 / 0.197 / 0.232; k=500 float64 0.427
    / 0.400 / 0.376, float32 0.415 / 0.373 / 0.347; bench_algorithms.py's k=1000 row float64
    0.792 / 0.861 / 0.548, float32 0.754 / 0.782 / 0.557. Yinyang now wins at k=500 by 6-7%,
    Hamerly still at k=250: the switch stays at 500.

    bench_algorithms.py at f62073d on the same Zen 4 (from k-means++ centres, min of 3):
    'auto' runs the fastest algorithm on every row.

    ======================  ==================================  ==================================
    AVX-512 (Zen 4)         float64                             float32
    ======================  ==================================  ==================================
    china.jpg k=8           0.033 / 0.022* / 0.062 / 0.043      0.030 / 0.021* / 0.079 / 0.046
    china.jpg k=64          0.236 / 0.099* / 0.714 / 0.223      0.149 / 0.094* / 1.206 / 0.228
    digits k=50             0.003* / 0.003 / 0.004 / 0.003      0.002* / 0.002 / 0.005 / 0.003
    blobs 500k x 50 k=100   0.104 / 0.063* / 0.263 / 0.094      0.096 / 0.057* / 0.253 / 0.089
    blobs 60k x 784 k=10    2.373 / 1.578 / 0.832* / 3.033      2.067 / 2.902 / 0.586* / 2.935
    normal 100kx32 k=1000   0.773 / 0.825 / 4.465 / 0.579*      0.768 / 0.783 / 4.208 / 0.575*
    ======================  ==================================  ==================================

    At 9feab73 (Yinyang's first passes search every group at once by register tiles, its
    bounds refreshed in float32) on the same Zen 4, float32, normal data from random rows,
    ``tol=0``, min of 3 alternating, lloyd / yinyang, seconds: 100k x 32, k=500, 10 / 15
    iterations 0.230 / 0.214 and 0.334 / 0.279; k=1000, 5 / 10 / 15 iterations 0.219 /
    0.243, 0.399 / 0.340 and 0.577 / 0.441; 200k x 64, k=4096, 5 / 10 iterations 3.09 / 3.20
    and 5.66 / 5.05. Yinyang now wins from between 5 and 10 iterations: YINYANG_MIN_ITER 15
    -> 10.
    """
    if algorithm == "full":
        algorithm = "lloyd"
    if algorithm == "elkan" and n_clusters == 1:
        warnings.warn(  # noqa: B028 - scikit-learn's warning, same stack level
            "algorithm='elkan' doesn't make sense for a single cluster. Using 'lloyd' instead.",
            RuntimeWarning)
        return "lloyd"
    if sparse:
        return "lloyd"
    if algorithm != "auto":
        return algorithm
    if n_clusters == 1 or is_small_problem(n_samples, n_clusters, n_features):
        return "lloyd"
    if n_features < GEMM_MIN_FEATURES:
        return "hamerly"
    if n_samples * n_clusters * n_features < LLOYD_MAX_TERMS_WIDE:
        return "lloyd"
    if n_clusters >= 500:
        bound_bytes = 4 * n_samples * -(-n_clusters // KMIX_PANEL)
        return ("yinyang" if max_iter >= YINYANG_MIN_ITER
                and bound_bytes <= YINYANG_MAX_BOUND_BYTES else "lloyd")
    if n_features >= 256 and n_clusters <= 32:
        return "elkan"
    return "hamerly"


def is_same_clustering(labels1, labels2, n_clusters):
    """Whether labels2 is a function of labels1 (the same clustering up to a renaming)."""
    pairs = np.unique(labels1.astype(np.int64) * n_clusters + labels2)
    return pairs.size == np.unique(labels1).size


def replaces_best(run_inertia, labels, best_inertia, best_labels, n_clusters):
    """Whether a run replaces the best so far (``best_inertia`` None: there is none yet):
    scikit-learn's rule, a lower inertia with a different clustering."""
    return best_inertia is None or (
        run_inertia < best_inertia and not is_same_clustering(labels, best_labels, n_clusters))


class _Data:
    """Dense or CSR data with the kernels that go with it and their scratch buffers."""

    def __init__(self, X, n_threads):
        self.X = X
        self.n_threads = n_threads
        self.sparse = sp.issparse(X)
        if self.sparse:
            self.csr = as_csr_arrays(X)
        self._ws = None

    def workspace(self, n_clusters):
        """Scratch of the passes (with update) for n_clusters centres (cached per shape)."""
        n, d = self.X.shape
        if self._ws is None or self._ws.CT.shape[1] != n_clusters:
            self._ws = _lloyd.Workspace(n, n_clusters, d, self.X.dtype, True)
        return self._ws

    def lloyd_pass(self, centers, clusters, update, n_threads):
        if self.sparse:
            return _lloyd.lloyd_pass_sparse(*self.csr, centers, clusters, update, n_threads)
        return _lloyd.lloyd_pass_dense(self.X, centers, clusters, update, n_threads)

    def sq_dist_to_assigned(self, centers, labels):
        n, d = self.X.shape
        out = np.empty(n)
        n_threads = threads_for(self.n_threads, n, 1, d)
        if self.sparse:
            _lloyd.sq_dist_to_assigned_sparse(*self.csr, centers, labels, out, n_threads)
        else:
            _lloyd.sq_dist_to_assigned_dense(self.X, centers, labels, out, n_threads)
        return out

    def row(self, i):
        if self.sparse:
            return self.X[i].toarray().ravel().astype(np.float64)
        return self.X[i].astype(np.float64)


def inertia(data, sample_weight, centers, labels):
    """Exact sum_i w_i ||x_i - c_{labels_i}||^2, reduced in a thread-independent order."""
    return _weighted_sum(data, data.sq_dist_to_assigned(centers, labels), sample_weight)


def _weighted_sum(data, sq_dists, sample_weight):
    """sum_i w_i sq_dists_i, reduced in a thread-independent order (inertia's sum)."""
    n_threads = threads_for(data.n_threads, data.X.shape[0], 1, data.X.shape[1])
    return _lloyd.weighted_sum_ordered(sq_dists, sample_weight, n_threads)


def labels_inertia(X, centers, sample_weight=None, n_threads=1):
    """Closest centre of every row of X and the exact weighted inertia, in one compiled pass.

    ``X`` is validated dense (C-contiguous) or CSR data, ``centers`` C-contiguous in X's
    dtype; ``sample_weight=None`` means unit weights (no array of size n is allocated besides
    the labels). Runs under single-threaded BLAS where the kernel calls gemm.
    """
    n, d = X.shape
    labels = np.empty(n, dtype=np.int32)
    weights = _NO_WEIGHTS if sample_weight is None else sample_weight
    n_threads = threads_for(n_threads, n, centers.shape[0], d)
    with blas_context(X):
        if sp.issparse(X):
            value = _minibatch.labels_inertia_sparse(*as_csr_arrays(X), weights, centers, labels,
                                                     n_threads)
        else:
            value = _minibatch.labels_inertia_dense(X, weights, centers, labels, n_threads)
    return labels, value


#: Rows per block of :func:`euclidean_to_centers` (a float64 block of 2048 x d rows).
_TRANSFORM_ROWS = 2048


def euclidean_to_centers(X, centers):
    """Euclidean distances (n, k) from the rows of X (dense or CSR) to the centres, in X's dtype.

    Blocks of rows go through one float64 gemm each (float32 data upcast per block, as
    scikit-learn's ``euclidean_distances`` does); the expansion ||x||^2 - 2 <x, c> + ||c||^2
    loses its accuracy where the distance is small against the norms (at most
    gamma_{d+4} (||x|| + ||c||)^2 off, d the number of features), so the entries within 1e8
    times that bound are recomputed from direct differences: a sample on a centre is at
    distance 0, and every distance keeps ~8 correct digits or more.
    """
    n, d = X.shape
    C = np.asarray(centers, dtype=np.float64)
    c_norms = np.einsum("ij,ij->i", C, C)
    c_root = np.sqrt(c_norms)
    x_norms = _row_sq_norms(X)
    gamma = _rounding_gamma(d + 4)
    out = np.empty((n, C.shape[0]), dtype=X.dtype)
    for s in range(0, n, _TRANSFORM_ROWS):
        block = X[s:s + _TRANSFORM_ROWS]
        block = block.astype(np.float64) if sp.issparse(block) else np.asarray(block, np.float64)
        xn = x_norms[s:s + _TRANSFORM_ROWS]
        d2 = np.asarray(block @ C.T)
        d2 *= -2.0
        d2 += xn[:, None]
        d2 += c_norms[None, :]
        x_root = np.sqrt(xn)
        rows, cols = np.nonzero(d2 <= 1e8 * gamma * (x_root[:, None] + c_root[None, :]) ** 2)
        if rows.size:
            near = block[rows]
            near = near.toarray() if sp.issparse(near) else near
            diff = near - C[cols]
            d2[rows, cols] = np.einsum("ij,ij->i", diff, diff)
        np.maximum(d2, 0, out=d2)
        out[s:s + _TRANSFORM_ROWS] = np.sqrt(d2)
    return out


#: Empty weights tell the kernels "all ones".
_NO_WEIGHTS = np.empty(0)


def _relocate_empty_clusters(data, sample_weight, centers_old, labels, sums, wsum):
    """Copies of sums and wsum where each empty cluster took one far-away sample.

    As scikit-learn: an empty cluster (zero total weight) takes the sample farthest from its
    assigned centre, whose weighted value moves out of its old cluster's sum; the farthest
    first, ties to the lowest sample index (scikit-learn's argpartition leaves that order to
    numpy's partition kernel). When every sample sits on its centre (more clusters than
    distinct samples) nothing moves: relocating is pointless, and the empty clusters go to
    the largest cluster's centre (:func:`kmix._core._lloyd.centers_from_sums`).
    """
    empty = np.flatnonzero(wsum == 0)
    distances = data.sq_dist_to_assigned(centers_old, labels)
    if not distances.max() > 0:
        return sums.copy(), wsum.copy()
    far = farthest_samples(distances, empty.size)
    return move_to_empty_clusters(sums, wsum, empty, [data.row(i) for i in far],
                                  sample_weight[far], labels[far])


def farthest_samples(distances, n):
    """Indices of the n largest distances, the farthest first, ties to the lowest index.

    O(len(distances)): every sample at or above the n-th largest value, then those few
    sorted. (At most ``len(distances)`` indices.)
    """
    n = min(n, distances.size)
    if n == 0:
        return np.empty(0, dtype=np.intp)
    threshold = np.partition(distances, distances.size - n)[distances.size - n]
    candidates = np.flatnonzero(distances >= threshold)
    return candidates[np.lexsort((candidates, -distances[candidates]))][:n]


def move_to_empty_clusters(sums, wsum, empty, rows, weights, old_labels):
    """Copies of sums and wsum where empty cluster ``empty[j]`` took sample j of ``rows``
    (float64), of weight ``weights[j]``, out of its cluster ``old_labels[j]``."""
    sums = sums.copy()
    wsum = wsum.copy()
    for new_id, x, weight, old_id in zip(empty, rows, weights, old_labels):
        sums[old_id] -= x * weight
        sums[new_id] = x * weight
        wsum[new_id] = weight
        wsum[old_id] -= weight
    return sums, wsum


def bound_shifts(center_shift, n_features):
    """How far the bound algorithms move their bounds: each centre's shift (the square root
    of a float64 direct sum over ``n_features`` terms) rounded up by 4 gamma_{d+6}, so that a
    moved upper bound stays an upper bound and a moved lower bound a lower bound (see
    _core/_bounds.pyx)."""
    return center_shift * (1.0 + 4.0 * _rounding_gamma(n_features + 6))


def nearly_empty(wsum, total_weight):
    """Whether a cluster's weight, kept as a running total by the bound algorithms, is within
    1e-9 of the total weight of zero: then it is recounted from the labels, so that empty
    means exactly zero, as in scikit-learn."""
    return wsum.min() <= 1e-9 * total_weight


def _rounding_gamma(n):
    """gamma_n = n u / (1 - n u) for float64 (u = 2^-53), widened a little: the relative
    rounding bound of a sum of n nonnegative terms (Higham, ch. 3)."""
    nu = n * 2.0**-53
    return 1.0625 * nu / (1.0 - nu)


def _half_center_distances(centers):
    """Half the centre-centre distances (k x k) and each centre's half-separation, rounded
    down (the bound algorithms prune with them: they must never exceed the true values).

    Direct pairwise loops for small centre sets (no temporaries), BLAS beyond ~4M terms.
    """
    k, d = centers.shape
    half = np.empty((k, k))
    half_sep = np.empty(k)
    if k * k * d < 4_000_000:
        _bounds.half_center_distances(centers, half, half_sep)
        # sqrt of a float64 direct sum: relative error below gamma_{d+6} (see _common.pxd).
        down = 1.0 - _rounding_gamma(d + 6)
        half *= down
        half_sep *= down
        return half, half_sep
    c = centers.astype(np.float64)
    norms = np.einsum("ij,ij->i", c, c)
    d2 = norms[:, None] + norms[None, :] - 2.0 * (c @ c.T)
    # The expansion's rounding, whatever BLAS kernel: gamma_{d+4} (|ci| + |cj|)^2.
    root = np.sqrt(norms)
    d2 -= _rounding_gamma(d + 4) * (root[:, None] + root[None, :]) ** 2
    np.maximum(d2, 0, out=d2)
    np.multiply(np.sqrt(d2), 0.5, out=half)
    np.fill_diagonal(half, np.inf)
    half_sep[:] = half.min(axis=1)
    np.fill_diagonal(half, 0.0)
    return half, half_sep


def center_groups(centers, n_groups):
    """Split the centres into n_groups groups of nearby centres (for Yinyang's bounds).

    A few Lloyd iterations on the centres themselves, from the first n_groups of them (spread
    out by k-means++); deterministic. Returns (group_of, members, gstart): group g is
    ``members[gstart[g]:gstart[g + 1]]``. Empty groups are dropped.
    """
    c = centers.astype(np.float64)
    g_centers = c[:n_groups].copy()
    for _ in range(5):
        d2 = (np.einsum("ij,ij->i", g_centers, g_centers)[None, :] - 2.0 * c @ g_centers.T)
        group_of = np.argmin(d2, axis=1)
        means, held = _group_means(c, group_of, n_groups)
        g_centers[held] = means[held]
    return _groups_layout(group_of)


def _groups_layout(group_of):
    """(group_of, members, gstart) from each centre's group label: the labels renumbered
    0 .. in order with the empty groups dropped, the centres by group (stable), and each
    group's start in members."""
    _, group_of = np.unique(group_of, return_inverse=True)
    group_of = np.ascontiguousarray(group_of, dtype=np.intp)
    members = np.ascontiguousarray(np.argsort(group_of, kind="stable"), dtype=np.intp)
    gstart = np.searchsorted(group_of[members], np.arange(group_of.max() + 2)).astype(np.intp)
    return group_of, members, gstart


def _group_means(c, group_of, n_groups):
    """The means of the rows of c in each of n_groups groups (group_of: each row's), summed
    in row order, and which groups hold a row (the others' means are 0)."""
    sums, counts = _bounds.group_sums(c, group_of, n_groups)
    held = counts > 0
    sums[held] /= counts[held, None]
    return sums, held


def center_groups_of_size(centers, size):
    """Split the centres into groups of at most ``size`` nearby centres, for Yinyang's bounds
    on wide data, whose group filter examines a group as one panel of at most ``size``
    centres (``_core._constants.KMIX_PANEL``).

    The groups of :func:`center_groups` (ceil(k / size) of them) are balanced greedily: the
    centres closest to a group's mean first, each to its nearest group not yet full (a group
    that center_groups left empty takes the centres no other group has room for). On
    normal 100k x 32 data with k=1000 (a simulation of 20 iterations from random rows), groups
    of 8 so formed leave 26% of the distances to compute against 32% for center_groups' groups
    of about 10, and 28% for random groups of 8. Returns (group_of, members, gstart) as
    :func:`center_groups`; deterministic.
    """
    c = centers.astype(np.float64)
    k = c.shape[0]
    n_groups = -(-k // size)
    group_of, members, gstart = center_groups(centers, n_groups)
    means = _group_means(c, group_of, gstart.shape[0] - 1)[0]
    d2 = (np.einsum("ij,ij->i", means, means)[None, :] - 2.0 * c @ means.T)
    # Each centre to its nearest group not yet full (the first on a tie, as a stable sort of
    # its row would give), the full groups skipped (sorting every centre's row of groups took
    # most of this function's 10 ms at k=1000 and 225 ms at k=4096; the loop in Python, with
    # np.add.at for the groups' sums, 10.9 and 152 ms; compiled, 3.7 and 95 ms)
    # (center_groups may have left fewer groups than n_groups: when those are all full, a
    # centre starts a new group, the least filled)
    order = np.ascontiguousarray(np.argsort(d2.min(axis=1), kind="stable"), dtype=np.intp)
    return _groups_layout(_bounds.greedy_groups(np.ascontiguousarray(d2), order, size, n_groups))


def _elkan_float32_copy(data, algorithm, bounds):
    """Float64 dense data of 16+ features run by Elkan: the rows rounded to float32, whose
    distances (float32 arithmetic, half the bytes to read) drive its bounds
    (``_bounds.elkan_pass_dense``); None otherwise, or without the rows' squared norms in
    ``bounds``, or where one exceeds MIXED_MAX_NORM (its float32 values could overflow)."""
    X = data.X
    if (algorithm != "elkan" or data.sparse or X.dtype != np.float64
            or X.shape[1] < GEMM_MIN_FEATURES or not X.shape[0]
            or bounds.x_sq_norms.shape[0] != X.shape[0]
            or not bounds.x_max_sq_norm <= MIXED_MAX_NORM):
        return None
    return _lloyd.float32_copy(X, threads_for(data.n_threads, X.shape[0], 1, X.shape[1]))


def kmeans_single(data, sample_weight, centers_init, *, algorithm, max_iter, tol, verbose,
                  x_squared_norms=None):
    """Run k-means once from ``centers_init``.

    Returns labels, inertia, centres and the number of iterations, with scikit-learn's
    semantics: stop when labels do not change (strict convergence) or the squared centre shift
    is within ``tol``; in the latter case the labels are recomputed for the final centres.
    """
    n_samples, n_features = data.X.shape
    n_clusters = centers_init.shape[0]
    n_threads = threads_for(data.n_threads, n_samples, n_clusters, n_features)
    centers = np.array(centers_init, order="C")  # updated in place: never the caller's array
    centers_new = np.empty_like(centers)
    labels = np.full(n_samples, -1, dtype=np.int32)
    sums = np.zeros((n_clusters, n_features))
    wsum = np.zeros(n_clusters)
    center_shift = np.zeros(n_clusters)
    # the passes write labels, sums and wsum (shared, not copied)
    clusters = _lloyd.Clusters(sample_weight, labels, sums, wsum, data.workspace(n_clusters))

    if algorithm == "lloyd":
        def step(centers, update):
            return data.lloyd_pass(centers, clusters, update, n_threads)
    else:
        # Bounds are valid for the centres of the previous pass, moved by `center_shift`.
        upper = np.zeros(n_samples)
        groups = None
        if algorithm == "hamerly":
            lower = np.zeros(n_samples)
        elif algorithm == "yinyang":
            if n_features >= GEMM_MIN_FEATURES and not data.sparse:
                groups = center_groups_of_size(centers, KMIX_PANEL)
            else:
                groups = center_groups(centers, max(1, n_clusters // 10))
            lower = np.zeros((n_samples, groups[2].shape[0] - 1), dtype=np.float32)
        else:
            lower = np.zeros((n_samples, n_clusters), dtype=data.X.dtype)
        bounds = _bounds.Bounds(x_squared_norms, upper, lower, groups)
        X32 = _elkan_float32_copy(data, algorithm, bounds)

        def step(centers, update, sq_dists=None):
            shift = bound_shifts(center_shift, n_features)
            if algorithm == "yinyang":
                return _bounds.yinyang_pass_dense(data.X, centers, shift, bounds, clusters,
                                                  update, n_threads)
            half_cc, half_sep = _half_center_distances(centers)
            if algorithm == "hamerly":
                return _bounds.hamerly_pass_dense(data.X, centers, shift, half_sep, bounds,
                                                  clusters, update, n_threads)
            return _bounds.elkan_pass_dense(data.X, centers, shift, half_sep, half_cc, bounds,
                                            clusters, update, n_threads, X32, sq_dists)

    if algorithm == "lloyd" and not data.sparse and not verbose:
        centers, strict_convergence, i, run_inertia = _lloyd_compiled(
            data, sample_weight, centers, centers_new, clusters, center_shift, max_iter, tol,
            n_threads, x_squared_norms)
        if run_inertia is not None:   # the run took the final labels and the inertia
            return labels, run_inertia, centers, i
    else:
        total_weight = float(np.sum(sample_weight))

        def iteration(centers):
            n_changed = step(centers, True)
            # the bound algorithms keep wsum as running totals: recount a nearly empty one
            if algorithm != "lloyd" and nearly_empty(wsum, total_weight):
                wsum[:] = np.bincount(labels, weights=sample_weight, minlength=n_clusters)
            return sums, wsum, n_changed == 0

        def relocate(centers, centers_new, sums, wsum):
            return _relocated_centers(data, sample_weight, centers, centers_new, labels, sums,
                                      wsum, center_shift)

        centers, strict_convergence, i = iterate_centers(
            iteration, relocate, lambda c: inertia(data, sample_weight, c, labels), centers,
            centers_new, center_shift, max_iter=max_iter, tol=tol, verbose=verbose)
    if not strict_convergence:
        # Labels for the final centres, so that predict(X) == labels_. Elkan's pass reads
        # every row it does not skip: it gives the rows' squared distances too (the same
        # values as inertia's pass), and the inertia takes no further pass over X.
        if algorithm == "elkan":
            sq_dists = np.empty(n_samples)
            step(centers, False, sq_dists)
            return labels, _weighted_sum(data, sq_dists, sample_weight), centers, i
        step(centers, False)
    return labels, inertia(data, sample_weight, centers, labels), centers, i


def small_restarts(data, sample_weight, n_clusters, n_init, random_state, *, max_iter, tol):
    """The best of ``n_init`` k-means++ + Lloyd runs on small dense data, as
    :class:`kmix.KMeans` runs them one by one (:func:`kmix._seeding._kmeans_plusplus`, then
    :func:`kmeans_single`), in one compiled call (``_lloyd.small_restarts_dense``, which keeps
    :func:`replaces_best`'s rule and :func:`inertia`'s sums).

    The seedings' random draws are all taken first (:func:`kmix._seeding.kpp_draws`): the same
    numbers, in the same order, as the runs one by one take them. A run whose iterations
    empty a cluster comes back here and runs by :func:`kmeans_single` (which relocates).
    Returns (labels, inertia, centres, iterations) of the best run.
    """
    X = data.X
    n_samples, n_features = X.shape
    n_trials = n_trials_for(n_clusters)
    draws = kpp_draws(random_state, n_clusters, n_trials, n_init)
    n_threads = threads_for(data.n_threads, n_samples, n_clusters, n_features)
    clusters = _lloyd.Clusters(sample_weight, np.empty(n_samples, dtype=np.int32),
                               np.empty((n_clusters, n_features)), np.empty(n_clusters),
                               data.workspace(n_clusters))
    seeds = np.empty((n_clusters, n_features), dtype=X.dtype)
    centers = np.empty_like(seeds)
    best_centers = np.empty_like(seeds)
    best_labels = np.empty(n_samples, dtype=np.int32)
    best = np.zeros(3)   # inertia, iterations, whether there is one yet
    total_weight = float(np.sum(sample_weight))
    limits = dict(max_iter=max_iter, tol=tol)
    restart = 0
    while restart < n_init:
        restart = _lloyd.small_restarts_dense(X, clusters, total_weight, draws, n_trials,
                                              restart, limits, seeds, centers, best_centers,
                                              best_labels, best, n_threads)
        if restart == n_init:
            break
        labels, run_inertia, run_centers, n_iter = kmeans_single(
            data, sample_weight, seeds, algorithm="lloyd", max_iter=max_iter, tol=tol,
            verbose=0)
        if replaces_best(run_inertia, labels, best[0] if best[2] else None, best_labels,
                         n_clusters):
            best_labels[:] = labels
            best_centers[:] = run_centers
            best[:] = run_inertia, n_iter, 1.0
        restart += 1
    return best_labels, float(best[0]), best_centers, int(best[1])


def iterate_centers(step, relocate, report_inertia, centers, centers_new, center_shift, *,
                    max_iter, tol, verbose):
    """k-means iterations with scikit-learn's stopping rules, one pass per iteration, for
    :func:`kmeans_single` and the Dask backend (``kmix.dask._lloyd.kmeans_run``).

    ``step(centers)`` runs a pass and returns (sums, weights per cluster, whether no label
    changed); the sums are not modified here (the bound algorithms keep them as running
    totals), so ``relocate(centers, centers_new, sums, wsum)`` moves empty clusters in copies
    and returns the total squared shift; ``report_inertia(centers)`` gives the pass's inertia
    (called with ``verbose`` only). ``center_shift`` receives each centre's shift.

    Returns (centres, strict convergence, iterations run)."""
    for i in range(max_iter):
        sums, wsum, unchanged = step(centers)
        shift_tot = _lloyd.centers_from_sums(sums, wsum, centers, centers_new, center_shift,
                                             False)
        relocated = shift_tot < 0
        if relocated:
            shift_tot = relocate(centers, centers_new, sums, wsum)
        if verbose:
            print(f"Iteration {i}, inertia {report_inertia(centers)}.")
        centers, centers_new = centers_new, centers
        # Unchanged labels mean convergence unless a relocation just moved a centre (then the
        # labels may be stale; scikit-learn 1.9 stops there, kmix iterates on).
        if unchanged and not relocated:
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            return centers, True, i + 1
        if shift_tot <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {shift_tot} "
                      f"within tolerance {tol}.")
            return centers, False, i + 1
    return centers, False, max_iter


def _relocated_centers(data, sample_weight, centers, centers_new, labels, sums, wsum,
                       center_shift):
    """centers_new after relocating empty clusters; returns the total squared shift."""
    new_sums, new_wsum = _relocate_empty_clusters(data, sample_weight, centers, labels, sums,
                                                  wsum)
    return _lloyd.centers_from_sums(new_sums, new_wsum, centers, centers_new, center_shift,
                                    True)


def _lloyd_compiled(data, sample_weight, centers, centers_new, clusters, center_shift,
                    max_iter, tol, n_threads, x_squared_norms=None):
    """Lloyd's iterations of :func:`iterate_centers` with runs of iterations in one compiled call
    (no Python per iteration); only an iteration that empties a cluster finishes here.

    Returns (centres, strict convergence, iterations run, inertia): a run that ends the fit
    also takes the final labels and the inertia (``lloyd_run_dense``'s ``finish``); the
    inertia is None when the last iteration relocated a cluster (the caller finishes)."""
    labels, sums, wsum = (np.asarray(clusters.labels), np.asarray(clusters.sums),
                          np.asarray(clusters.weight_in_clusters))
    done = 0
    while done < max_iter:
        n_run, n_changed, outcome, run_inertia = _lloyd.lloyd_run_dense(
            data.X, centers, centers_new, center_shift, clusters,
            dict(max_iter=max_iter - done, tol=tol), n_threads, x_squared_norms, True)
        done += n_run
        if outcome == _lloyd.RUN_STRICT:
            return centers, True, done, run_inertia
        if outcome != _lloyd.RUN_EMPTY:
            return centers, False, done, run_inertia
        # this iteration's pass emptied a cluster: relocate, then go on as iterate_centers does
        shift_tot = _relocated_centers(data, sample_weight, centers, centers_new, labels,
                                       sums, wsum, center_shift)
        centers[:] = centers_new
        done += 1
        if shift_tot <= tol:
            break
    return centers, False, done, None
