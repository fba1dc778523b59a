"""Fast float32 arithmetic decided by the exact rule: float64 Lloyd passes with float32
partial distances (_core/_lloyd.pyx, _closest_mixed), float64 Hamerly searches in float32
(_core/_bounds.pyx: _narrow_best_two on narrow data, _wide_mixed_best_two on gemm-wide data,
tested with Lloyd's), float64 Yinyang group filters in float32 on gemm-wide data (every
number of centres; _yinyang_wide_row, kmix_groups_min4_f; tested with Lloyd's too), float32
Elkan distances in float32 arithmetic (_core/_bounds.pyx, _elkan_dist); the tests of the
last two follow the first's.

From mixed_min_centers() centres (_core/_lloyd.pyx: 16 on CPUs with AVX-512, 128 on others,
as measured) on data wide enough for gemm (16+ features), float64 Lloyd passes compute
their distances in float32 and decide in float64, by the exact assignment rule, every row
whose float32 gap is within the bound of _mixed_error_scale. The labels must be exactly those
of the exact reference (tests/_reference.py), on data built so that the float32 values cannot
decide: exact ties, centres one float64 ulp apart (identical once rounded to float32), values
too large for float32 and subnormal values.
"""
import warnings

import numpy as np
import pytest
from _reference import exact_assign, lloyd_run, lloyd_step
from numpy.testing import assert_allclose, assert_array_equal

import kmix

K = 160   # >= the mixed path's 128 centres
K_AVX512 = 20   # mixed on AVX-512 CPUs (16+ centres), float64 passes on others
D = 20    # >= 16 features: gemm distances


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].split() for line in f
                         if line.startswith("flags")), [])
    except OSError:
        return []


def test_mixed_threshold_follows_the_cpu():
    """The threshold measured for the CPU: 20 centres take the mixed path where the CPU has
    AVX-512 (so the K_AVX512 cases below test it there), not on AVX2 CPUs."""
    from kmix._core._lloyd import mixed_min_centers

    flags = _cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    assert (mixed_min_centers() <= K_AVX512) == ("avx512f" in flags)
    assert mixed_min_centers() <= K


def _lattice_with_near_ties(seed=0, duplicates=True):
    """Integer rows (exact ties at integer distances), centres that are rows, their exact
    duplicates (which stay empty), and centres one float64 ulp away from others in one
    coordinate."""
    rng = np.random.RandomState(seed)
    Y = rng.randint(-3, 4, size=(600, D)).astype(np.float64)
    X = np.vstack([Y, -Y])
    C = X[rng.choice(len(X), K, replace=False)].copy()
    if duplicates:
        C[100:120] = C[:20]
    C[120:140] = C[20:40]
    for r in range(120, 140):
        # one ulp apart in a non-zero coordinate (next to 0 the step is a subnormal whose
        # square underflows: see docs/design.md, limits of the exact rule)
        f = np.flatnonzero(C[r])[0]
        C[r, f] = np.nextafter(C[r, f], np.inf)
    return np.vstack([X, C]), C     # each centre is a row: none is empty but the duplicates


def _fit(algorithm):
    """Lloyd's passes, Hamerly's (whose full searches of float64 rows on gemm-wide data
    take the same float32 screen, _bounds._wide_mixed_best_two) or Yinyang's (its group
    filter in float32), from C0 with tol=0."""
    def fit(X, C0, **params):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return kmix.KMeans(len(C0), init=C0, n_init=1, tol=0.0, algorithm=algorithm,
                               **params).fit(X)
    return fit


_lloyd = _fit("lloyd")
_hamerly = _fit("hamerly")


def _assert_run_is_exact_lloyd(fit, X, C0, max_iter, rtol, atol, threads=(None,)):
    """fit(X, C0, max_iter=..., [n_threads=...]) gives exact Lloyd's labels, iterations and
    centres (tests/_reference.py) with each number of threads (None: the default)."""
    labels, centres, n_iter, inertia = lloyd_run(X, C0, max_iter=max_iter)
    for n_threads in threads:
        km = fit(X, C0, max_iter=max_iter,
                 **({} if n_threads is None else {"n_threads": n_threads}))
        assert km.n_iter_ == n_iter
        assert_array_equal(km.labels_, labels)
        assert_allclose(km.cluster_centers_, centres, rtol=rtol, atol=atol)
        assert km.inertia_ == pytest.approx(inertia, rel=1e-5)
    return labels


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "yinyang"])
@pytest.mark.parametrize("duplicates", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_one_pass_labels_are_the_exact_labels(n_threads, duplicates, algorithm):
    X, C0 = _lattice_with_near_ties(duplicates=duplicates)
    km = _fit(algorithm)(X, C0, max_iter=1, n_threads=n_threads)
    labels, centres, _ = lloyd_step(X, C0)
    if not duplicates:
        # (with duplicates, kmix's relocation of the empty clusters moves centres too)
        assert np.all(np.bincount(labels, minlength=K) > 0)
        assert_allclose(km.cluster_centers_, centres, rtol=1e-14, atol=1e-14)
    # labels_ are those of the exact rule on the fitted centres (which, with duplicates,
    # include relocated centres equal to others: exact ties)
    assert_array_equal(km.labels_, exact_assign(X, km.cluster_centers_))


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "yinyang"])
def test_run_equals_exact_lloyd(algorithm):
    X, C0 = _lattice_with_near_ties(1, duplicates=False)
    labels = _assert_run_is_exact_lloyd(_fit(algorithm), X, C0, 300, rtol=1e-10, atol=1e-12)
    assert np.all(np.bincount(labels, minlength=K) > 0)


def test_centres_one_ulp_apart_go_to_the_lower_index_only_when_exactly_tied():
    """Rows equal to a centre c and to c moved by one ulp: float32 sees two equal centres;
    exact arithmetic separates them (distance 0 to one, one ulp squared to the other)."""
    rng = np.random.RandomState(2)
    base = rng.normal(size=(K // 2, D)) * 1e3
    moved = base.copy()
    moved[:, 3] = np.nextafter(moved[:, 3], np.inf)
    C = np.vstack([base, moved])                  # centre j + K/2 is centre j moved
    X = np.vstack([base, moved, base, moved])
    km = _lloyd(X, C, max_iter=1)
    expected = np.r_[np.arange(K // 2), np.arange(K // 2, K)]
    # after one step the centres are unchanged (each is the mean of copies of itself)
    assert_array_equal(km.cluster_centers_, C)
    assert_array_equal(km.labels_, np.r_[expected, expected])


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "yinyang"])
def test_values_beyond_float32_and_subnormal_values(algorithm):
    rng = np.random.RandomState(3)
    big = rng.normal(size=(300, D)) * 1e17          # squared norms > 1e30: float64 path
    tiny = rng.normal(size=(300, D))
    tiny[:, ::2] *= 1e-300          # half the columns are zero once rounded to float32
    for X in (big, tiny):
        C0 = X[:K].copy()
        km = _fit(algorithm)(X, C0, max_iter=1)
        assert_array_equal(km.labels_, exact_assign(X, km.cluster_centers_))
        assert np.all(np.isfinite(km.cluster_centers_))


@pytest.mark.parametrize("k", [K_AVX512, K])
def test_run_beyond_float32_equals_the_run_scaled_down(k):
    """Lloyd's compiled run on float64 rows scaled by 2**60 (squared norms beyond the mixed
    path's limit: the passes stay in float64, though the run laid the rows out rounded to
    float32 for it) and on the same rows unscaled (the mixed path): the same labels and
    iterations, and the same centres scaled by 2**60 (exact arithmetic commutes with the
    scaling). Reading the float32 layout as float64 rows gives other labels."""
    rng = np.random.RandomState(9)
    C = rng.normal(size=(k, D))
    X = np.repeat(C, 5, axis=0) + 0.6 * rng.normal(size=(5 * k, D))
    small = _lloyd(X, C, max_iter=4, n_threads=2)
    big = _lloyd(X * 2.0 ** 60, C * 2.0 ** 60, max_iter=4, n_threads=2)
    assert big.n_iter_ == small.n_iter_ >= 2
    assert_array_equal(big.labels_, small.labels_)
    assert_array_equal(big.labels_, exact_assign(X, small.cluster_centers_))
    assert_allclose(big.cluster_centers_ / 2.0 ** 60, small.cluster_centers_, rtol=1e-12,
                    atol=1e-12)
    assert np.all(np.bincount(small.labels_, minlength=k) > 0)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "yinyang"])
@pytest.mark.parametrize("k", [K_AVX512, K])
def test_run_on_real_valued_data_equals_exact_lloyd(k, algorithm):
    """Gaussian data (no ties; the float32 gaps of some rows fall within the bound) for five
    iterations: the same labels, iterations and centres as exact Lloyd."""
    rng = np.random.RandomState(4)
    X = rng.normal(size=(3000, 24))
    _assert_run_is_exact_lloyd(_fit(algorithm), X, X[:k].copy(), 5, rtol=1e-10, atol=1e-12,
                               threads=(1, 2))


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "yinyang"])
@pytest.mark.parametrize("k", [K_AVX512, K])
def test_pairs_of_centres_closer_than_float32_resolution(k, algorithm):
    """Centres in pairs 1e-9 apart (relative): rounded to float32 the two of a pair differ by
    an ulp here and there, so the float32 gap of a row between them is often non-zero with
    the wrong sign. Only the float64 decision of the rows within the bound gets them right."""
    rng = np.random.RandomState(5)
    base = rng.normal(size=(k // 2, D))
    C = np.vstack([base, base + 1e-9 * rng.normal(size=base.shape)])
    near = np.repeat(base, 6, axis=0) + 0.05 * rng.normal(size=(6 * k // 2, D))
    X = np.vstack([near, C])        # each centre is a row: no cluster is empty
    km = _fit(algorithm)(X, C, max_iter=1)
    labels, centres, _ = lloyd_step(X, C)
    assert np.all(np.bincount(labels, minlength=k) > 0)
    # the centres are the means of the first pass's labels (float32 distances here)
    assert_allclose(km.cluster_centers_, centres, rtol=1e-12, atol=1e-12)


def test_float32_run_over_blocks_of_several_chunks_equals_exact_lloyd():
    """20000 rows make 64 blocks of 313 rows, two chunks each: the compiled run lays the rows
    out once for the wide kernel, chunk by chunk, and every pass must read each chunk's own
    rows (exact Lloyd's labels and iterations on 1 and 2 threads)."""
    rng = np.random.RandomState(6)
    X = rng.normal(size=(20000, 24)).astype(np.float32)
    _assert_run_is_exact_lloyd(_lloyd, X, X[:8].copy(), 4, rtol=1e-5, atol=1e-5,
                               threads=(1, 2))


@pytest.mark.parametrize("seed", [0, 1])
def test_float32_rows_far_from_centres_closer_than_their_error_bound(seed):
    """Float32 rows of norm ~5000 against pairs of centres of norm ~5, 1e-5 apart
    (relative): a row's part of the expansion's rounding bound (its norm times the centres')
    exceeds the centres' part, and the float32 gaps of many rows within it have the wrong
    sign. Lloyd's runs take the rows' norms once (lloyd_run_dense); one iteration's centres
    must still be the means of the exact labels (dropping the rows' part of the bound, or
    reading the first chunk's norms for every chunk, moves them by 1-9%)."""
    rng = np.random.RandomState(seed)
    base = rng.normal(size=(8, 24)).astype(np.float32)
    C = np.vstack([base, base * (1 + 1e-5 * rng.normal(size=base.shape))]).astype(np.float32)
    # (the first 300 rows near the origin: a chunk given another chunk's norms errs too)
    X = np.vstack([rng.normal(size=(300, 24)).astype(np.float32),
                   (rng.normal(size=(3000, 24)) * 1e3).astype(np.float32), C])
    km = _lloyd(X, C, max_iter=1)
    labels, centres, _ = lloyd_step(X.astype(np.float64), C.astype(np.float64))
    assert np.all(np.bincount(labels, minlength=16) > 0)
    assert_allclose(km.cluster_centers_, centres, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_labels_over_several_tiles_of_centres_are_the_exact_labels(dtype):
    """More centres than one tile of partial distances (_constants.TILE_CENTERS): the tiles'
    best two values are merged row by row and the rows within rounding go to the full exact
    search; on integer data with exact ties (duplicated centres) and, in float64, centres one
    ulp apart, the labels are the exact rule's, with 1 and 2 threads."""
    from kmix._core import _constants
    from kmix._kmeans_algorithms import labels_inertia

    rng = np.random.RandomState(4)
    k = _constants.TILE_CENTERS + 90
    Y = rng.randint(-3, 4, size=(k, D)).astype(np.float64)
    C = np.vstack([Y, -Y])[rng.choice(2 * k, k, replace=False)]
    C[k - 40:k - 20] = C[:20]                                 # exact duplicates
    if dtype == np.float64:
        for r in range(k - 20, k):
            f = np.flatnonzero(C[r])[0]
            C[r] = C[r - 100]
            C[r, f] = np.nextafter(C[r, f], np.inf)           # one ulp from another centre
    X = rng.randint(-3, 4, size=(1500, D)).astype(dtype)
    C = C.astype(dtype)
    expected, n_exact = exact_assign(X, C, return_n_exact=True)
    assert n_exact > 100   # exact ties do decide rows
    for n_threads in (1, 2):
        assert_array_equal(labels_inertia(X, C, n_threads=n_threads)[0], expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "yinyang"])
def test_labels_over_several_blocks_of_packed_centres_are_the_exact_labels(dtype, algorithm):
    """On 200 features and 300 centres the one-pass wide kernel (_fused.h, kmix_wide_argmin2:
    float32 data, and the float32 screen of float64 data) visits the packed centres in
    several blocks (KMIX_WIDE_L2_BYTES of them at a time), keeping each row's best two in
    between; the last tile of 6 is padded. Integer data with exact ties (centres duplicated
    across blocks) and, in float64, centres one ulp apart: one pass of Lloyd or Hamerly and
    ``labels_inertia`` (predict) give the exact rule's labels, with 1 and 2 threads (on CPUs
    without AVX2 and FMA the same holds of the gemm tiles)."""
    from kmix._kmeans_algorithms import labels_inertia

    rng = np.random.RandomState(9)
    k, d = 300, 200
    Y = rng.randint(-2, 3, size=(k, d)).astype(np.float64)
    C = np.vstack([Y, -Y])[rng.choice(2 * k, k, replace=False)]
    C[283:295] = C[:12]                       # ties between the first and the last block
    if dtype == np.float64:
        for r in range(295, 300):
            C[r] = C[r - 150]
            f = np.flatnonzero(C[r])[0]       # (next to 0 the ulp's square underflows)
            C[r, f] = np.nextafter(C[r, f], np.inf)
    X = np.vstack([rng.randint(-2, 3, size=(1200, d)).astype(np.float64), C]).astype(dtype)
    C = C.astype(dtype)
    expected, n_exact = exact_assign(X, C, return_n_exact=True)
    assert n_exact > 10          # exact ties do decide rows
    for n_threads in (1, 2):
        assert_array_equal(labels_inertia(X, C, n_threads=n_threads)[0], expected)
        km = _fit(algorithm)(X, C, max_iter=1, n_threads=n_threads)
        assert_array_equal(km.labels_, exact_assign(X, km.cluster_centers_))


# Hamerly on narrow float64 data (fewer than 16 features) from HAMERLY_MIXED_MIN_CENTERS = 32
# centres on searches its rows in float32 (_bounds._narrow_best_two, _kmeans_pass.use_mixed).
K_NARROW = 40
D_NARROW = 3


def _narrow_lattice(seed):
    """Integer rows of 3 features (many exact ties), distinct centres that are rows, six of
    them one float64 ulp from others (which float32 cannot tell apart) and added as rows."""
    rng = np.random.RandomState(seed)
    X = rng.randint(-4, 5, size=(3000, D_NARROW)).astype(np.float64)
    distinct = np.unique(X, axis=0)
    C = distinct[rng.choice(len(distinct), K_NARROW, replace=False)]
    for r in range(30, 36):
        C[r] = C[r - 30]
        f = np.flatnonzero(C[r])[0]
        C[r, f] = np.nextafter(C[r, f], np.inf)
    return np.vstack([X, C]), C


@pytest.mark.parametrize("n_threads", [1, 2])
def test_narrow_hamerly_one_pass_labels_are_the_exact_labels(n_threads):
    """One pass from centres with exact ties and one-ulp neighbours: the exact rule's labels
    (the float32 values tie or invert there; only the float64 decision is right)."""
    X, C0 = _narrow_lattice(6)
    km = _hamerly(X, C0, max_iter=1, n_threads=n_threads)
    labels, n_exact = exact_assign(X, C0, return_n_exact=True)
    assert n_exact > 100     # exact ties do decide rows
    assert np.all(np.bincount(labels, minlength=K_NARROW) > 0)
    _, centres, _ = lloyd_step(X, C0)
    assert_allclose(km.cluster_centers_, centres, rtol=1e-14, atol=1e-14)
    # labels_ are the exact rule's on the fitted centres
    assert_array_equal(km.labels_, exact_assign(X, km.cluster_centers_))


@pytest.mark.parametrize("seed", [7, 8])
def test_narrow_hamerly_run_equals_exact_lloyd(seed):
    """Gaussian rows of 3 features around 40 centres, run to convergence: Hamerly's labels,
    iterations and centres are exact Lloyd's (tests/_reference.py), with 1 and 2 threads."""
    rng = np.random.RandomState(seed)
    means = rng.normal(size=(K_NARROW, D_NARROW)) * 4
    X = (means[rng.randint(K_NARROW, size=6000)]
         + rng.normal(size=(6000, D_NARROW)))
    C0 = X[rng.choice(len(X), K_NARROW, replace=False)].copy()
    _assert_run_is_exact_lloyd(_hamerly, X, C0, 60, rtol=1e-10, atol=1e-12, threads=(1, 2))


def test_narrow_hamerly_values_beyond_float32_and_subnormal_values():
    """Rows of squared norm above 1e30 keep the whole pass in float64; rows with subnormal
    features (zeros in float32) are searched in float32 within the wider bound. Two passes
    (the fit's, then labels_ on its centres): the exact rule's labels."""
    rng = np.random.RandomState(9)
    big = rng.normal(size=(2000, D_NARROW)) * 1e17
    tiny = rng.normal(size=(2000, D_NARROW))
    tiny[:, 1] *= 1e-300
    mixed = rng.normal(size=(2000, D_NARROW))
    mixed[::50] *= 1e16                         # a few rows beyond float32's squares
    for X in (big, tiny, mixed):
        C0 = X[:K_NARROW].copy()
        km = _hamerly(X, C0, max_iter=1)
        _, centres, _ = lloyd_step(X, C0)
        assert_allclose(km.cluster_centers_, centres, rtol=1e-12)
        assert_array_equal(km.labels_, exact_assign(X, km.cluster_centers_))
        assert np.all(np.isfinite(km.cluster_centers_))


@pytest.mark.parametrize("offset", [1e-9, 1e-6])
def test_narrow_hamerly_pairs_of_centres_closer_than_float32_resolution(offset):
    """Centres in pairs 1e-9 apart (the same once rounded to float32) or 1e-6 apart (a few
    float32 ulps), rows around them: the float32 gap of a row between the two of a pair is
    zero, or often non-zero with the wrong sign, so only the float64 decision of the rows
    within the bound gives the exact labels."""
    rng = np.random.RandomState(10)
    base = rng.normal(size=(K_NARROW // 2, D_NARROW)) * 3
    C = np.vstack([base, base + offset * rng.normal(size=base.shape)])
    near = np.repeat(base, 50, axis=0) + 0.05 * rng.normal(size=(50 * K_NARROW // 2, D_NARROW))
    X = np.vstack([near, C])        # each centre is a row: no cluster is empty
    labels = exact_assign(X, C)
    assert np.all(np.bincount(labels, minlength=K_NARROW) > 0)
    for n_threads in (1, 2):
        km = _hamerly(X, C, max_iter=1, n_threads=n_threads)
        _, centres, _ = lloyd_step(X, C)
        assert_allclose(km.cluster_centers_, centres, rtol=1e-12, atol=1e-12)
        assert_array_equal(km.labels_, exact_assign(X, km.cluster_centers_))


# Elkan on float32 data of 16+ features takes its distances in float32 arithmetic
# (kmix_sqdist32_f) and widens its bounds and comparisons by their error (_bounds._elkan_*).
D_ELKAN = 40


_elkan = _fit("elkan")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("noise", [0.0, 1e-6])
def test_elkan_rows_halfway_between_centres(noise, dtype):
    """Rows halfway between two centres (noise: relative perturbation): their two distances
    tie exactly or differ by far less than the float32 sums' rounding (float32 data) or the
    rounding of float64 rows to float32 (float64 data), which order them at random; only
    the exact comparison labels them right. One pass from those centres (their own rows
    keep every cluster filled), then a run of five: exact Lloyd's labels, iterations and
    centres, with 1 and 2 threads."""
    rng = np.random.RandomState(11)
    C = (rng.normal(size=(12, D_ELKAN)) * 3).astype(dtype)
    i, j = rng.randint(12, size=(2, 1500))
    keep = i != j
    mid = 0.5 * (C[i[keep]].astype(np.float64) + C[j[keep]])
    mid *= 1 + noise * rng.normal(size=mid.shape)
    X = np.vstack([mid.astype(dtype), np.repeat(C, 3, axis=0)])
    labels = exact_assign(X, C)
    assert np.all(np.bincount(labels, minlength=len(C)) > 0)
    # rows whose two closest centres are closer to a tie than float32 sums can resolve
    d2 = np.sort(((X[:, None, :].astype(np.float64) - C[None]) ** 2).sum(-1), axis=1)
    assert np.sum(d2[:, 1] - d2[:, 0] < D_ELKAN * 2.0**-24 * d2[:, 0]) > 100
    km = _elkan(X, C, max_iter=1)
    _, centres, _ = lloyd_step(X, C)
    assert_allclose(km.cluster_centers_, centres, rtol=1e-6, atol=1e-6)
    assert_array_equal(km.labels_, exact_assign(X, km.cluster_centers_))
    _assert_run_is_exact_lloyd(_elkan, X, C, 5, rtol=1e-5, atol=1e-6, threads=(1, 2))


def test_float32_elkan_run_equals_exact_lloyd_and_float64_path():
    """Gaussian float32 rows of 40 features, 3 blobs split by 10 centres (the bounds fail
    often): the run's labels and iterations are exact Lloyd's, and its labels those of the
    same data in float64 (whose Elkan distances are float64)."""
    rng = np.random.RandomState(12)
    means = rng.normal(size=(3, D_ELKAN)) * 6
    X = (means[rng.randint(3, size=3000)] + rng.normal(size=(3000, D_ELKAN))).astype(np.float32)
    C0 = X[rng.choice(len(X), 10, replace=False)].copy()
    labels = _assert_run_is_exact_lloyd(_elkan, X, C0, 30, rtol=1e-5, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km64 = kmix.KMeans(10, init=C0.astype(np.float64), n_init=1, tol=0.0, max_iter=30,
                           algorithm="elkan").fit(X.astype(np.float64))
    assert_array_equal(km64.labels_, labels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elkan_values_near_float32_limits(dtype):
    """Rows of squared norm above 1e30 keep float64 distances; rows with half their values
    near float32's underflow (squares below its subnormals; in float64 data, values that
    are float32 subnormals or round to 0 too) use float32 distances within the absolute
    bound. Two passes: the exact rule's labels."""
    rng = np.random.RandomState(13)
    big = (rng.normal(size=(800, D_ELKAN)) * 1e16).astype(dtype)
    tinies = []
    for scale in (1e-20,) if dtype == np.float32 else (1e-20, 1e-42, 1e-50):
        tiny = rng.normal(size=(800, D_ELKAN))
        tiny[:, ::2] *= scale
        tinies.append(tiny.astype(dtype))
    for X in (big, *tinies):
        C0 = X[:10].copy()
        km = _elkan(X, C0, max_iter=1)
        assert_array_equal(km.labels_, exact_assign(X, km.cluster_centers_))
        _, centres, _ = lloyd_step(X, C0)
        assert_allclose(km.cluster_centers_, centres, rtol=1e-6)
