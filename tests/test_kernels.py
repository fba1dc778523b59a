"""The compiled kernels against numpy references, in float32 and float64, 1 and 2 threads."""
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from kmix._core import _bounds, _lloyd
from kmix._kmeans_algorithms import _half_center_distances, labels_inertia


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 3), (7, 3), (40, 20), (300, 5)])
def test_half_center_distances_match_numpy(dtype, shape):
    C = np.random.RandomState(0).normal(size=shape).astype(dtype)
    half, half_sep = _half_center_distances(C)
    C64 = C.astype(np.float64)
    ref = 0.5 * np.sqrt(((C64[:, None, :] - C64[None, :, :]) ** 2).sum(-1))
    assert_allclose(half, ref, rtol=1e-12, atol=1e-12)
    masked = ref + np.diag(np.full(shape[0], np.inf))
    assert_allclose(half_sep, masked.min(axis=1), rtol=1e-12)


def test_half_center_distances_blas_path_matches_direct():
    # k * k * d beyond the direct-loop limit goes through BLAS: same values to rounding.
    C = np.random.RandomState(1).normal(size=(700, 10))
    half, half_sep = _half_center_distances(C)
    direct = np.empty_like(half)
    direct_sep = np.empty(700)
    _bounds.half_center_distances(C, direct, direct_sep)
    assert_allclose(half, direct, rtol=1e-9, atol=1e-9)
    assert_allclose(half_sep, direct_sep, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_norms_variance_matches_numpy_and_is_thread_independent(dtype):
    X = (np.random.RandomState(2).normal(size=(20_000, 7)) * 3 + 10).astype(dtype)
    X_before = X.copy()
    results = []
    for n_threads in (1, 2):
        norms = np.empty(X.shape[0])
        var = _lloyd.row_norms_variance(X, norms, n_threads)
        results.append((norms, np.float64(var)))
        X64 = X.astype(np.float64)
        assert_allclose(norms, (X64 ** 2).sum(axis=1), rtol=1e-12)
        assert_allclose(var, X64.var(axis=0).mean(), rtol=1e-10)
    assert_array_equal(X, X_before)
    for a, b in zip(*results):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [2, 40])
@pytest.mark.parametrize("n_clusters", [5, 40, 300])
def test_assignment_ties_go_to_the_lowest_index(dtype, n_features, n_clusters):
    # Every centre duplicated: each row's two closest centres tie exactly; the first wins.
    rng = np.random.RandomState(3)
    base = rng.normal(size=(n_clusters // 2 + 1, n_features))
    centers = np.repeat(base, 2, axis=0)[:n_clusters].astype(dtype)
    X = rng.normal(size=(2000, n_features)).astype(dtype)
    for n_threads in (1, 2):
        labels = labels_inertia(X, centers, n_threads=n_threads)[0]
        d2 = ((X.astype(np.float64)[:, None, :] - centers.astype(np.float64)[None]) ** 2).sum(-1)
        # The chosen centre is a closest one (up to rounding) and never the second of a pair
        # of identical centres.
        assert np.all(d2[np.arange(len(X)), labels] <= d2.min(axis=1) * (1 + 1e-4) + 1e-6)
        duplicate_second = (labels % 2 == 1) & (labels < 2 * (n_clusters // 2))
        assert not np.any(duplicate_second)


def test_mixture_exp_and_log_kernels_match_libm():
    """The vectorised exp (on (-700, 0]) and log of the mixture pass are within 2 ulp of
    numpy's, with libm's special values; tails shorter than a vector round alike."""
    from kmix._core import _gmm

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-700, 0, 10_001), [0.0, -1e-300, -699.999]])
    e = x.copy()
    _gmm.exp_array(e)
    ulps = np.abs(e - np.exp(x)) / np.spacing(np.exp(x))
    assert ulps.max() <= 2
    below = np.array([-700.5, -1e4, -np.inf])
    _gmm.exp_array(below)
    assert_array_equal(below, 0.0)

    for lo, hi in [(1.0, 2.0), (1.0, 64.0), (1e-300, 1e300), (0.5, 1.5)]:
        v = np.exp(rng.uniform(np.log(lo), np.log(hi), 10_003))
        out = v.copy()
        _gmm.log_array(out)
        ref = np.log(v)
        assert (np.abs(out - ref) <= np.spacing(np.abs(ref))).all()
        # every length (vector body + padded tail) gives the same value for the same input
        for n in range(1, 9):
            part = v[:n].copy()
            _gmm.log_array(part)
            assert_array_equal(part, out[:n])
    special = np.array([0.0, -1.0, np.inf, np.nan, 1.0])
    _gmm.log_array(special)
    assert_array_equal(special, [-np.inf, np.nan, np.inf, np.nan, 0.0])


def test_python_layer_reads_the_kernels_constants():
    # The one home of the shared constants is _common.pxd, exposed by _core._constants: the
    # mini-batch scratch holds one inertia per kernel chunk of CHUNK_ROWS rows (a batch with
    # more rows than the scratch holds is refused), and single-threaded BLAS starts where the
    # kernels start calling gemm.
    from contextlib import nullcontext

    from kmix._core import _constants, _minibatch
    from kmix._threads import blas_context

    chunk = _constants.CHUNK_ROWS
    b, k, d = 3 * chunk + 1, 4, 3
    buf = _minibatch.StepBuffers(b, k, d, np.float64, True)
    assert np.asarray(buf.chunk_inertia).shape == (4,)
    X = np.random.RandomState(0).normal(size=(b + 1, d))
    centers = X[:k].copy()
    rows = np.arange(b, dtype=np.intp)
    _minibatch.step_dense(X, rows, np.empty(0), centers, np.zeros(k), buf, 1)
    with pytest.raises(ValueError, match="scratch buffers too small"):
        _minibatch.step_dense(X, np.arange(b + 1, dtype=np.intp), np.empty(0), centers,
                              np.zeros(k), buf, 1)
    gemm = _constants.GEMM_MIN_FEATURES
    assert isinstance(blas_context(np.zeros((2, gemm - 1))), nullcontext)
    assert not isinstance(blas_context(np.zeros((2, gemm))), nullcontext)


def _partial_reference(X, C):
    """cnorm - 2 <x, c> in float64 from the float values, and a rounding scale per entry."""
    X64, C64 = X.astype(np.float64), C.astype(np.float64)
    cn = (C64 ** 2).sum(1)
    ref = cn[None, :] - 2 * X64 @ C64.T
    scale = cn[None, :] + 2 * np.abs(X64) @ np.abs(C64).T
    return ref, scale


def _rows_and_centres(rng, m, k, d, dtype, integer):
    """m rows and k centres of d features: small integers (exact values, exact ties) or
    normal values."""
    if integer:
        return (rng.randint(-3, 4, size=(m, d)).astype(dtype),
                rng.randint(-3, 4, size=(k, d)).astype(dtype))
    return rng.normal(size=(m, d)).astype(dtype), rng.normal(size=(k, d)).astype(dtype)


def _assert_best_two_of_stored(X, C, D, besti, bestv, secv):
    """A one-pass kernel's first minimum, its value and the second smallest (a tied minimum
    counting twice) are those of the stored values D's rows, bit for bit; and D is within
    the rounding bound of the float64 values."""
    first = np.argmin(D, axis=1)
    rows = np.arange(len(D))
    assert_array_equal(besti, first)
    assert bestv.tobytes() == D[rows, first].tobytes()
    rest = D.copy()
    rest[rows, first] = np.inf
    assert secv.tobytes() == rest.min(axis=1).tobytes()
    ref, scale = _partial_reference(X, C)
    assert np.all(np.abs(D - ref) <= 4 * (X.shape[1] + 2) * np.finfo(D.dtype).eps * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("d", "nt"), [(20, 3), (40, 6), (64, 8), (17, 13), (33, 16),
                                       (200, 9), (16, 5), (50, 6), (13, 7), (8, 1), (3, 2),
                                       (256, 4), (257, 4), (130, 8)])
def test_few_candidate_dot_products_match_numpy(dtype, d, nt):
    """The seeding's few-candidate kernel (rows by index, read in place): the feature-major
    panel path (5-16 candidates, up to 128 features: several rows at a time, then the rest
    one by one), the along-the-features path and, for float rows, up to 8 candidates and
    256 features, the along-the-features path that reduces the candidates together (two
    rows at a time up to 6 candidates, the last feature vector masked), against float64
    numpy."""
    from kmix._core import _seeding
    rng = np.random.RandomState(d * 100 + nt)
    X = rng.normal(size=(300, d)).astype(dtype)
    C = (rng.normal(size=(nt, d)) * 2).astype(dtype)
    idx = rng.randint(0, 300, size=203).astype(np.intp)     # repeats, an odd count
    cnorm = (C.astype(np.float64) ** 2).sum(1).astype(dtype)
    D = _seeding.few_partial_dists_of_rows(X, idx, C, cnorm)
    ref, scale = _partial_reference(X[idx], C)
    eps = np.finfo(dtype).eps
    assert D.dtype == dtype and D.shape == (203, nt)
    assert np.all(np.abs(D - ref) <= 4 * (d + 2) * eps * scale)
    # a call of a few rows (under 8: the kernels without the centres' copy)
    D5 = _seeding.few_partial_dists_of_rows(X, idx[:5], C, cnorm)
    assert np.all(np.abs(D5 - ref[:5]) <= 4 * (d + 2) * eps * scale[:5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 4, 6, 8, 11, 16, 17, 32, 40])
def test_seeding_chunk_sums_match_a_running_sum_in_numpy(dtype, nt):
    """k-means++'s per-chunk candidate sums (the candidates in vector lanes on AVX2, up to 16;
    the portable loop past that and without AVX2) against numpy, bit for bit: each
    candidate's two running sums added to row by row in order (numpy's cumsum), from values
    carried in, and each row's mask of the candidates whose clamped distance could be below
    its closest. Rows not yet near any centre (closest infinite), rows whose distance rounds
    below zero, and rows on both sides of the mask's test are included."""
    from kmix._core import _seeding
    rng = np.random.RandomState(nt)
    n, m = 500, 203
    idx = np.sort(rng.choice(n, m, replace=False)).astype(np.intp)
    xnorm = rng.uniform(0, 50, n)
    D = (rng.uniform(-60, 10, size=(m, nt))).astype(dtype)
    closest = rng.uniform(0, 40, n)
    closest[idx[::7]] = np.inf
    w = rng.uniform(0.5, 2, n)
    ct = rng.uniform(0, 1e-3, nt)
    cu = rng.uniform(0, 3e4, nt)
    scale, g, abs0 = 3e-6, 1e-15, 1e-3
    acc0, ecc0 = rng.uniform(0, 100, nt), rng.uniform(0, 1, nt)
    acc, ecc = acc0.copy(), ecc0.copy()
    mask = _seeding.kpp_chunk_sums(idx, D, xnorm, closest, w, ct, scale, g, cu, abs0, acc, ecc)

    xi, cl, wi = xnorm[idx][:, None], closest[idx][:, None], w[idx][:, None]
    dist = xi + D.astype(np.float64)
    dist = np.where(dist > 0, dist, 0.0)
    xt = (0.5 * scale + g) * xi
    lim = cl * (1.0 + 2.0 * g) + xt
    e = ct[None, :] + xt
    v = wi * (e + g * (dist + e))
    ecc_terms = np.where(dist < lim + ct[None, :], v, 0.0)
    acc_terms = wi * np.where(dist < cl, dist, cl)
    ref_acc = np.cumsum(np.vstack([acc0, acc_terms]), axis=0)[-1]
    ref_ecc = np.cumsum(np.vstack([ecc0, ecc_terms]), axis=0)[-1]
    f = (dist - scale * (cu[None, :] + 0.5 * xi) - g * xi - abs0) * (1.0 - g)
    below = f < cl
    # candidates past the 32nd have no bit (the update then takes the deterministic distance)
    ref_mask = (below[:, :32].astype(np.uint64)
                << np.arange(min(nt, 32), dtype=np.uint64)).sum(axis=1)
    assert (dist == 0).any() and np.isfinite(acc).all()
    assert below.any() and not below.all()
    assert_array_equal(mask[idx], ref_mask)
    assert not np.delete(mask, idx).any()
    assert acc.tobytes() == ref_acc.tobytes()
    assert ecc.tobytes() == ref_ecc.tobytes()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect through libc")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_seeding_chunk_sums_do_not_read_past_the_last_row(dtype):
    """The AVX2 kernel loads the candidates four at a time: its last row of D ends right
    before a page that may not be read (mprotect), and the sums still equal the portable
    loop's (a read past the row would crash the process)."""
    import ctypes
    import mmap

    from kmix._core import _seeding
    page = mmap.PAGESIZE
    buf = mmap.mmap(-1, 2 * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mprotect(ctypes.c_void_p(base + page), ctypes.c_size_t(page), 0) == 0
    try:
        for nt in (1, 2, 3, 5, 6, 7, 9):
            m, n = 5, 8
            size = m * nt * np.dtype(dtype).itemsize
            D = np.frombuffer(buf, dtype=dtype, count=m * nt, offset=page - size)
            D = D.reshape(m, nt)
            D[...] = np.arange(m * nt).reshape(m, nt) - 20
            idx = np.arange(1, 1 + m, dtype=np.intp)
            args = (np.linspace(1, 30, n), np.full(n, 25.0), np.ones(n), np.full(nt, 1e-3),
                    1e-6, 1e-15, np.full(nt, 3.0), 0.0)
            acc, ecc = np.zeros(nt), np.zeros(nt)
            mask = _seeding.kpp_chunk_sums(idx, D, *args[:7], args[7], acc, ecc)
            dist = np.maximum(args[0][idx][:, None] + D.astype(np.float64), 0.0)
            assert_allclose(acc, np.minimum(dist, 25.0).sum(axis=0), rtol=1e-15)
            assert mask[idx].max() < 2 ** nt
    finally:
        libc.mprotect(ctypes.c_void_p(base + page), ctypes.c_size_t(page), 3)


def _group_winner_reference(vals, gstart, glist):
    """kmix_groups_best's answer from exact values: each listed group's smallest, the first
    listed group with the least (-1 if none), the position of its first minimum, its second
    value (a tie counts twice) and the least of the other listed groups' smallest."""
    mins = np.array([vals[gstart[g]:gstart[g + 1]].min() for g in glist])
    if not len(glist):
        return mins, -1, -1, np.inf, np.inf
    t = int(np.argmin(mins))
    own = vals[gstart[glist[t]]:gstart[glist[t] + 1]]
    first = int(np.argmin(own))
    rest = np.delete(own, first)
    others = np.delete(mins, t)
    return (mins, t, gstart[glist[t]] + first, rest.min() if rest.size else np.inf,
            others.min() if others.size else np.inf)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [16, 24, 70])
@pytest.mark.parametrize("sizes", [[1, 8, 3, 6, 8, 2], [8, 3, 8, 1, 8, 5, 8]])
def test_yinyang_wide_kernels_match_numpy(dtype, d, sizes):
    """Yinyang's wide-data group filter on one row: each listed group's smallest partial
    distance, and the winning group (the first listed with the least), its first minimum's
    position, its second value (a tie counts twice) and the least of the other groups', for
    groups of 1 to 8 centres (padded panels), taken two at a time (an odd number of groups
    leaves one alone), over every group, every other one, each alone, all but the winner's,
    and none. Integer data: exact values and exact ties (inside a group, across groups),
    checked for equality against numpy; normal data: within the rounding bound, the winner
    where the gap exceeds it."""
    from kmix._core import _bounds
    rng = np.random.RandomState(d + len(sizes))
    gstart = np.r_[0, np.cumsum(sizes)].astype(np.intp)
    ng = len(sizes)
    S = rng.randint(-2, 3, size=(gstart[-1], d)).astype(dtype)
    S[10] = S[9]                                   # an exact tie inside a group
    S[gstart[3] + 0] = S[gstart[2]]                # equal values in two groups
    for integer, x in ((True, rng.randint(-2, 3, size=d).astype(dtype)),
                       (False, rng.normal(size=d).astype(dtype))):
        ref, scale = _partial_reference(x[None, :], S)
        vals = ref[0]
        err = 4 * (d + 2) * np.finfo(dtype).eps * scale[0].max()
        winner = _group_winner_reference(vals, gstart, np.arange(ng))[1]
        lists = [np.arange(ng), np.arange(0, ng, 2), np.arange(1, ng, 2),
                 np.delete(np.arange(ng), winner), np.arange(0)]
        lists += [np.array([g]) for g in range(ng)]
        for glist in lists:
            glist = glist.astype(np.intp)
            m1, t, pos, second, others = _bounds.group_best(x, S, gstart, glist)
            rm1, rt, rpos, rsecond, rothers = _group_winner_reference(vals, gstart, glist)
            if integer:
                assert_array_equal(m1, rm1)
                assert (t, pos, second, others) == (rt, rpos, rsecond, rothers)
                continue
            assert_allclose(m1, rm1, rtol=0, atol=err)
            assert t == rt or abs(rm1[t] - rm1[rt]) <= 2 * err
            if t == rt:
                assert pos == rpos or abs(vals[pos] - vals[rpos]) <= 2 * err
                assert second == rsecond or abs(second - rsecond) <= 2 * err
                assert others == rothers or abs(others - rothers) <= 2 * err


@pytest.mark.parametrize("d", [16, 24, 70])
@pytest.mark.parametrize("sizes", [[1, 8, 3, 6, 8, 2], [8, 3, 8, 1, 8, 5, 8],
                                   [8] * 13 + [3, 8, 5, 8, 1, 8, 8, 2, 8]])
def test_yinyang_four_row_kernel_matches_numpy(d, sizes):
    """The four-row group filter (float32: float32 data and float64 data searched in
    float32): each row's smallest value per listed group and its winner as the one-row
    kernel's reference defines them, integer rows exactly (ties inside a group and across
    groups: the first), normal rows within the rounding bound; with 16+ groups the winner's
    search runs by vectors."""
    from kmix._core import _bounds
    rng = np.random.RandomState(d + 2 * len(sizes))
    gstart = np.r_[0, np.cumsum(sizes)].astype(np.intp)
    ng = len(sizes)
    S = rng.randint(-2, 3, size=(gstart[-1], d)).astype(np.float32)
    S[10] = S[9]
    S[gstart[3]] = S[gstart[2]]
    for integer, X4 in ((True, rng.randint(-2, 3, size=(4, d)).astype(np.float32)),
                        (False, rng.normal(size=(4, d)).astype(np.float32))):
        X4[1] = S[gstart[2]]                       # a row on a centre two groups share
        for glist in (np.arange(ng), np.arange(1, ng, 2), np.array([ng - 1]),
                      np.arange(ng)[::-1].copy()):
            glist = glist.astype(np.intp)
            got = _bounds.group_best4(X4, S, gstart, glist)
            for r in range(4):
                ref, scale = _partial_reference(X4[r][None, :], S)
                vals = ref[0]
                err = 4 * (d + 2) * np.finfo(np.float32).eps * scale[0].max()
                m1, t, pos, second, others = got[r]
                rm1, rt, rpos, rsecond, rothers = _group_winner_reference(vals, gstart, glist)
                if integer:
                    assert_array_equal(m1, rm1)
                    assert (t, pos, second, others) == (rt, rpos, rsecond, rothers)
                else:
                    assert_allclose(m1, rm1, rtol=0, atol=err)
                    assert t == rt or abs(rm1[t] - rm1[rt]) <= 2 * err


def test_yinyang_four_rows_list_the_union_of_their_failing_groups():
    """kmix_groups_failing4: the union, in order, of the groups each of four rows would
    examine alone (kmix_groups_failing: bound now at most u, or the row's own group), and
    each row's own list, for group counts with and without a tail of the 8-group blocks."""
    from kmix._core import _bounds
    rng = np.random.RandomState(5)
    for ng in (3, 8, 21, 125):
        stored = rng.uniform(0, 6, size=(4, ng)).astype(np.float32)
        drift = rng.uniform(0, 2, size=ng).astype(np.float32)
        u = np.array([1.0, 2.5, 0.0, np.inf])
        ga = np.array([ng - 1, -1, 0, 2 % ng], dtype=np.intp)
        union, lists = _bounds.group_bounds4(stored, drift, u, ga)
        own = [_bounds.group_bounds(stored[r].copy(), drift, u[r], ga[r])[2] for r in range(4)]
        assert_array_equal(union, np.unique(np.concatenate(own)))
        for r in range(4):
            assert_array_equal(lists[r], own[r])


@pytest.mark.parametrize("by_ga", [False, True])
def test_yinyang_group_bounds_read_without_writing(by_ga):
    """Yinyang's group bounds are stored as float32 bound + drift (rounded down, then tagged
    with the pass: the low five bits) and read against the drift now (rounded up): each read
    is a lower bound of the true bound less the drift since (exact rational arithmetic; any
    value <= 0 bounds a distance), and within 70 float32 units of it; the floor is the least
    of them, and the failing groups are those at most u (rounded up to float32: never one
    fewer than the float64 test), plus group ga."""
    from fractions import Fraction

    from kmix._core import _bounds
    rng = np.random.RandomState(3)
    ng = 37
    v = np.concatenate([rng.uniform(0, 10, ng - 3), [0.0, 1e-30, 3.0]])
    d_then = rng.uniform(0, 5, ng)
    d_now = d_then + np.concatenate([rng.uniform(0, 3, ng - 3), [0.0, 0.0, 4.0]])
    stored = np.empty(ng, dtype=np.float32)
    drift_up = np.empty(ng, dtype=np.float32)
    for g in range(ng):
        stored[g], _ = _bounds.group_bound_store(v[g], d_then[g], g % 32)
        _, drift_up[g] = _bounds.group_bound_store(0.0, d_now[g])
        assert Fraction(float(stored[g])) <= Fraction(v[g]) + Fraction(d_then[g])
        assert Fraction(float(drift_up[g])) >= Fraction(d_now[g])
        assert stored[g:g + 1].view(np.uint32)[0] % 32 == g % 32
    for u in (0.0, 2.5, 5.0, np.inf):
        ga = 5 if by_ga else -1
        now, floor, failing = _bounds.group_bounds(stored, drift_up, u, ga)
        exact = [Fraction(v[g]) + Fraction(d_then[g]) - Fraction(d_now[g]) for g in range(ng)]
        for g in range(ng):
            assert Fraction(float(now[g])) <= max(exact[g], 0)
            assert float(now[g]) >= float(exact[g]) - 70 * np.spacing(np.float32(d_now[g] + v[g]))
        assert floor == now.min()
        expect = [g for g in range(ng) if now[g] <= np.float32(u) or g == ga]
        assert_array_equal(failing, expect)
        assert set(g for g in range(ng) if exact[g] <= u) <= set(failing)


@pytest.mark.parametrize("ng", [5, 37, 125])
def test_yinyang_net_bounds_read_by_their_tag(ng):
    """A stored group bound's tag (its low five bits) picks its entry in the pass's table of
    net moves: its net bound is (stored - table[g, tag]) shrunk, the float32 operations of
    the drift bound, so a lower bound of stored - table[g, tag] (exact rationals). A row's
    bound now is the better of the two, and its failing groups, alone or four rows at a
    time, those whose better bound is at most u (rounded up to float32), plus its own: the
    vector kernel (one gather of the eight groups' entries) and the portable loop alike."""
    from fractions import Fraction

    from kmix._core import _bounds
    rng = np.random.RandomState(11)
    shrink = np.float32(0.99999976)
    v = rng.uniform(0, 8, size=(4, ng))
    d_then = rng.uniform(0, 3, size=ng)
    stored = np.empty((4, ng), dtype=np.float32)
    for r in range(4):
        for g in range(ng):
            stored[r, g] = _bounds.group_bound_store(v[r, g], d_then[g], (r + 3 * g) % 32)[0]
    tags = stored.view(np.uint32) % 32
    drift_up = (d_then + rng.uniform(0, 2, size=ng)).astype(np.float32)
    # the table: some entries tighter than the drift, some looser
    dnet = (drift_up[:, None] + rng.uniform(-2, 0.5, size=(ng, 32))).astype(np.float32)
    dnet = np.maximum(dnet, 0).astype(np.float32)
    for u in (0.5, 2.5, 5.0):
        u32 = _bounds.group_bound_store(0.0, u)[1]
        ga = np.array([ng - 1, -1, 0, 2 % ng], dtype=np.intp)
        lists = []
        for r in range(4):
            path = (stored[r] - drift_up) * shrink
            net = (stored[r] - dnet[np.arange(ng), tags[r]]) * shrink
            for g in range(ng):
                exact = Fraction(float(stored[r, g])) - Fraction(float(dnet[g, tags[r, g]]))
                assert Fraction(float(net[g])) <= max(exact, Fraction(0))
            now, _, failing = _bounds.group_bounds(stored[r].copy(), drift_up, u, ga[r], dnet)
            assert_array_equal(now, np.maximum(path, net))
            expect = [g for g in range(ng) if max(path[g], net[g]) <= u32 or g == ga[r]]
            assert_array_equal(failing, expect)
            lists.append(failing)
        union, own = _bounds.group_bounds4(stored, drift_up, np.full(4, u), ga, dnet)
        assert_array_equal(union, np.unique(np.concatenate(lists)))
        for r in range(4):
            assert_array_equal(own[r], lists[r])


def _pass_inputs(k):
    """A bound pass's inputs on gemm-wide data: 50 normal rows of 20 features, their first k
    as the centres, and Clusters with no label yet."""
    from kmix._kmeans_algorithms import _Data
    X = np.random.RandomState(0).normal(size=(50, 20))
    clusters = _lloyd.Clusters(np.ones(50), np.full(50, -1, dtype=np.int32), np.zeros((k, 20)),
                               np.zeros(k), _Data(X, 1).workspace(k))
    return X, X[:k].copy(), clusters


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_yinyang_net_moves_table_bounds_every_tagged_bound(dtype):
    """Bounds.net_drift, each Yinyang pass's table: for tag t, a bound of the drift then
    plus its group's largest net move of a centre since, for every earlier pass q with tag
    t (q mod 32 = t; older ones than the last too: their entry was overwritten), in exact
    rationals; the drift now (rounded up to float32) for a tag no earlier pass had. Over 45
    passes of centres on a random walk (the 32 tags reused); below the drift now where the
    last pass with the tag is 3+ passes back."""
    from fractions import Fraction

    from kmix._kmeans_algorithms import _Data, bound_shifts, center_groups_of_size
    rng = np.random.RandomState(4)
    X = rng.normal(size=(50, 20)).astype(dtype)
    k = 16
    centres = [X[:k].copy()]
    groups = center_groups_of_size(centres[0], 8)
    ng = groups[2].shape[0] - 1
    bounds = _bounds.Bounds(np.einsum("ij,ij->i", X.astype(np.float64), X.astype(np.float64)),
                            np.zeros(50), np.zeros((50, ng), dtype=np.float32), groups)
    clusters = _lloyd.Clusters(np.ones(50), np.full(50, -1, dtype=np.int32), np.zeros((k, 20)),
                               np.zeros(k), _Data(X, 1).workspace(k))
    drifts = []
    members = [groups[1][groups[2][g]:groups[2][g + 1]] for g in range(ng)]
    exact = [[[Fraction(float(v)) for v in c] for c in centres[0]]]
    for p in range(45):
        if p > 0:
            step = rng.normal(scale=rng.choice([0.01, 0.3]), size=(k, 20))
            centres.append((centres[-1] + step).astype(dtype))
            exact.append([[Fraction(float(v)) for v in c] for c in centres[-1]])
        move = (np.linalg.norm(centres[p].astype(np.float64) - centres[p - 1], axis=1)
                if p > 0 else np.zeros(k))
        _bounds.yinyang_pass_dense(X, centres[p], bound_shifts(move, 20), bounds, clusters,
                                   False, 1)
        drifts.append(np.array(bounds.drift))
        table = np.asarray(bounds.net_drift)
        for t in range(32):
            earlier = [q for q in range(t, p, 32)]
            for g in range(ng):
                if not earlier:
                    assert table[g, t] == _bounds.group_bound_store(0.0, drifts[p][g])[1]
                if earlier and earlier[-1] <= p - 3:
                    # net moves over 3+ steps of a random walk: below their sum, the drift
                    assert table[g, t] < _bounds.group_bound_store(0.0, drifts[p][g])[1]
                for q in earlier:
                    room = Fraction(float(table[g, t])) - Fraction(drifts[q][g])
                    assert room >= 0
                    for j in members[g]:
                        moved = sum((a - b) ** 2 for a, b in zip(exact[p][j], exact[q][j]))
                        assert room * room >= moved, (p, q, g, j)


def test_yinyang_bounds_refuse_centres_of_another_shape_or_dtype():
    """Yinyang's bounds keep the last passes' centres for their net moves: a pass with
    centres of other features or another dtype than the passes before raises, naming it;
    a bound's tag is below 32."""
    from kmix._kmeans_algorithms import _Data, center_groups_of_size
    X = np.random.RandomState(2).normal(size=(50, 20))
    groups = center_groups_of_size(X[:16], 8)
    ng = groups[2].shape[0] - 1
    bounds = _bounds.Bounds(np.einsum("ij,ij->i", X, X), np.zeros(50),
                            np.zeros((50, ng), dtype=np.float32), groups)

    def clusters(Xo):
        return _lloyd.Clusters(np.ones(50), np.full(50, -1, dtype=np.int32),
                               np.zeros((16, Xo.shape[1])), np.zeros(16),
                               _Data(Xo, 1).workspace(16))

    _bounds.yinyang_pass_dense(X, X[:16].copy(), np.zeros(16), bounds, clusters(X), False, 1)
    for Xo in (X.astype(np.float32), np.hstack([X, X[:, :4]])):
        with pytest.raises(ValueError, match="centres of another shape or dtype"):
            _bounds.yinyang_pass_dense(Xo, Xo[:16].copy(), np.zeros(16), bounds, clusters(Xo),
                                       False, 1)
    with pytest.raises(ValueError, match="a tag is below 32"):
        _bounds.group_bound_store(1.0, 0.0, 32)


def test_yinyang_pass_rejects_a_wide_group_of_more_than_one_panel():
    """On data of 16+ features a Yinyang group is one panel of the group filter's kernel:
    a group of 9 centres raises, naming the limit (and the kernel's test def too)."""
    X, C, clusters = _pass_inputs(9)
    groups = (np.zeros(9, dtype=np.intp), np.arange(9, dtype=np.intp),
              np.array([0, 9], dtype=np.intp))
    bounds = _bounds.Bounds(np.einsum("ij,ij->i", X, X), np.zeros(50),
                            np.zeros((50, 1), dtype=np.float32), groups)
    with pytest.raises(ValueError, match="a group holds at most 8 centres"):
        _bounds.yinyang_pass_dense(X, C, np.zeros(9), bounds, clusters, False, 1)
    with pytest.raises(ValueError, match="a group holds at most 8 centres"):
        _bounds.group_best(X[0], C, groups[2], np.zeros(1, dtype=np.intp))


# (m, d, k) of the one-pass kernels' tests: narrow data (fewer than 16 features), then
# gemm-wide data (tiles of 6 centres, blocks of 16 float32 or 8 float64 rows, blocks of
# centres within L2: 700 centres of 256 features span several).
_NARROW_SHAPES = [(37, 3, 64), (256, 2, 5), (1, 15, 9), (19, 1, 1), (40, 7, 256), (33, 4, 2),
                  (21, 3, 700)]
_WIDE_SHAPES = [(37, 16, 64), (256, 50, 5), (1, 17, 9), (19, 64, 1), (16, 32, 6), (17, 33, 7),
                (40, 256, 700), (33, 100, 2), (200, 64, 1000)]
_WIDE_KERNEL = pytest.mark.skipif(not _lloyd.simd_enabled(),
                                  reason="the wide one-pass kernel runs on AVX2 and FMA only")


def test_wide_shapes_take_every_tile_width():
    """The wide kernel's register tiles take 4, 5 or 6 centres, whichever pads the centres
    least for what its columns cost: 5 for 50 centres (digits) where 6 would pad 4, 4 for a
    few; the kernel test's shapes run each width, with and without padding."""
    widths = {k: _lloyd.wide_tile_width(k) for k in (1, 2, 5, 6, 7, 8, 9, 50, 64, 700, 1000)}
    assert widths == {1: 4, 2: 4, 5: 5, 6: 6, 7: 4, 8: 4, 9: 5, 50: 5, 64: 6, 700: 6, 1000: 6}
    assert {_lloyd.wide_tile_width(k) for _, _, k in _WIDE_SHAPES} == {4, 5, 6}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("m", "d", "k"), _NARROW_SHAPES
                         + [pytest.param(*s, marks=_WIDE_KERNEL) for s in _WIDE_SHAPES])
@pytest.mark.parametrize("integer", [False, True])
def test_one_pass_best_two_matches_the_stored_values(dtype, m, d, k, integer):
    """The kernels that never store the partial distances (narrow data: rows in the vector
    lanes; gemm-wide data: register tiles of rows by packed centres) give each row the first
    minimum, its value and the second smallest (a tied minimum counting twice) of the
    stored-values kernel's row, bit for bit, whatever the padding of the last tile of centres
    or block of rows; integer data makes exact ties, duplicated centres make ties of the
    first minimum (one across blocks of wide centres)."""
    rng = np.random.RandomState(m * 7 + d * 3 + k)
    X, C = _rows_and_centres(rng, m, k, d, dtype, integer)
    if k >= 4:
        C[3] = C[1]
    if k >= 700:
        C[650] = C[2]
    besti, bestv, secv, D = _lloyd.one_pass_best_two(X, C)
    _assert_best_two_of_stored(X, C, D, besti, bestv, secv)


def test_one_pass_kernels_refuse_shapes_outside_their_range():
    X = np.zeros((300, 32), np.float32)
    with pytest.raises(ValueError, match="outside the one-pass kernels' range"):
        _lloyd.one_pass_best_two(X, X[:5])           # more than a chunk of rows
    X = np.zeros((4, 300), np.float32)
    with pytest.raises(ValueError, match="outside the one-pass kernels' range"):
        _lloyd.one_pass_best_two(X, X)               # wider than the wide kernel


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_norms_without_the_variance_are_the_same_norms(dtype):
    X = np.random.RandomState(5).normal(size=(3000, 37)).astype(dtype)
    with_var, without = np.empty(len(X)), np.empty(len(X))
    var = _lloyd.row_norms_variance(X, with_var, 2)
    assert _lloyd.row_norms_variance(X, without, 2, False) is None
    assert with_var.tobytes() == without.tobytes()
    X64 = X.astype(np.float64)
    assert_allclose(with_var, (X64 ** 2).sum(axis=1), rtol=1e-12)
    assert_allclose(var, X64.var(axis=0).mean(), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("values", ["ties", "continuous", "zeros and infinities"])
def test_best_two_scan_matches_numpy(dtype, values):
    """The scan of stored partial distances (two passes: values, then the first position of
    the minimum) gives every row's first minimum position, its value and the second smallest
    value, a tied minimum counting twice, as numpy finds them, for every row length from 1
    to 300 (scalar, vector with and without leftovers)."""
    from kmix._core import _lloyd
    rng = np.random.RandomState(11)
    for k in range(1, 301):
        if values == "ties":
            D = rng.randint(0, 4, size=(6, k)).astype(dtype)
        elif values == "continuous":
            D = rng.normal(size=(6, k)).astype(dtype)
        else:
            D = rng.choice(np.array([0.0, -0.0, 1.0, np.inf], dtype), size=(6, k))
        D[0] = D[0, ::-1]                          # the minimum late in a row too
        besti, bestv, secv = _lloyd.best_two_of_rows(D)
        rows = np.arange(len(D))
        first = np.argmin(D, axis=1)
        assert_array_equal(besti, first)
        assert bestv.tobytes() == D[rows, first].tobytes()   # the value at that position
        rest = D.copy()
        rest[rows, first] = np.inf
        assert_array_equal(secv, rest.min(axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_of_squares_is_a_float64_sum(dtype):
    """The validation's quick sum of squares: float64 accumulation (a float32 sum of 10**6
    squares would be off by ~1e-4), NaN and infinity propagate, an empty array sums to 0."""
    v = np.random.RandomState(6).normal(size=1_000_003).astype(dtype)
    exact = float(np.sum(v.astype(np.float64) ** 2))
    assert _lloyd.sum_of_squares(v) == pytest.approx(exact, rel=1e-12)
    # four fixed blocks: the same bits on two threads
    assert _lloyd.sum_of_squares(v, 2) == _lloyd.sum_of_squares(v, 1)
    assert _lloyd.sum_of_squares(v[:0]) == 0.0
    for bad in (np.nan, np.inf, -np.inf):
        for where in (123_457, v.shape[0] - 1):   # first block, last (short) block
            w = v.copy()
            w[where] = bad
            assert not np.isfinite(_lloyd.sum_of_squares(w, 2))


def test_elkan_pass_rejects_a_float32_copy_of_another_shape():
    """elkan_pass_dense's X32 must be X rounded to float32: another shape raises, naming it."""
    X, C, clusters = _pass_inputs(4)
    bounds = _bounds.Bounds(np.einsum("ij,ij->i", X, X), np.zeros(50),
                            np.zeros((50, 4)))
    half_cc, half_sep = _half_center_distances(C)
    with pytest.raises(ValueError, match="X32 must be X in float32"):
        _bounds.elkan_pass_dense(X, C, np.zeros(4), half_sep, half_cc, bounds, clusters, False,
                                 1, X[:49].astype(np.float32))
    # the right copy runs the pass: every row gets the exact rule's label
    with pytest.raises(ValueError, match="sq_dists must have one value per row"):
        _bounds.elkan_pass_dense(X, C, np.zeros(4), half_sep, half_cc, bounds, clusters, False,
                                 1, X.astype(np.float32), np.empty(49))
    # the right copy runs the pass: every row gets the exact rule's label (and its squared
    # distance to that centre, in float64)
    sq_dists = np.full(50, np.nan)
    _bounds.elkan_pass_dense(X, C, np.zeros(4), half_sep, half_cc, bounds, clusters, False, 1,
                             X.astype(np.float32), sq_dists)
    from _reference import exact_assign
    assert_array_equal(np.asarray(clusters.labels), exact_assign(X, C))
    assert_allclose(sq_dists, np.sum((X - C[exact_assign(X, C)]) ** 2, axis=1), rtol=1e-13)


@pytest.mark.parametrize("d", [16, 17, 24, 31, 32, 33, 63, 100, 784, 1001])
def test_sqdist32_is_within_the_float32_bound_elkan_uses(d):
    """kmix_sqdist32_f (Elkan's float32 distances: four 8-lane FMA chains, or the portable
    loop under KMIX_DISABLE_SIMD=1) against the float64 value of the same float32 vectors:
    relative error within gamma_{d+2} (float32), so that the square root is within the
    gamma_{d+6} that widens Elkan's bounds; the tails past multiples of 8 and 32 count."""
    rng = np.random.RandomState(d)
    u = 2.0 ** -24
    gamma = lambda n: 1.0625 * n * u / (1 - n * u)   # noqa: E731 - kmix_gamma, float32
    for trial in range(20):
        scale = np.exp(rng.uniform(-20, 20, size=d)) if trial % 2 else 1.0
        x = (rng.normal(size=d) * scale).astype(np.float32)
        c = (x + rng.normal(size=d) * scale * 10.0 ** rng.uniform(-6, 1)).astype(np.float32)
        exact = float(np.sum((x.astype(np.float64) - c.astype(np.float64)) ** 2))
        s = _bounds.sqdist32(x, c)
        assert abs(s - exact) <= gamma(d + 2) * exact
        assert np.sqrt(s) * (1 - gamma(d + 6)) <= np.sqrt(exact) <= np.sqrt(s) * (1 + gamma(d + 6))
    # only the last feature differs: the tail after the vector chunks is summed too
    x = np.zeros(d, dtype=np.float32)
    c = x.copy()
    c[-1] = 3.0
    assert _bounds.sqdist32(x, c) == 9.0
    with pytest.raises(ValueError, match="one length"):
        _bounds.sqdist32(x, c[:-1])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_float32_copy_is_numpys_cast(n_threads):
    """The float32 copies of float64 rows (Elkan's X32, k-means++'s screen) are written by
    threads over row blocks: bit for bit numpy's astype, ties to even, subnormals and signed
    zeros included, whatever the number of threads."""
    rng = np.random.RandomState(4)
    X = rng.normal(size=(5003, 17)) * np.exp(rng.uniform(-100, 80, size=(5003, 17)))
    X[0, :4] = [1.0 + 2.0**-24, 1.0 + 3 * 2.0**-24, -0.0, 2.0**-149 * 1.5]  # ties, -0, subnormal
    out = _lloyd.float32_copy(X, n_threads)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert_array_equal(out.view(np.uint32), X.astype(np.float32).view(np.uint32))
    assert _lloyd.float32_copy(X[:0], n_threads).shape == (0, 17)


def _run(X, C, *, max_iter, tol=0.0, norms=None, finish=True, w=None):
    n, d = X.shape
    k = C.shape[0]
    w = np.ones(n) if w is None else w
    centers = C.copy()
    ws = _lloyd.Workspace(n, k, d, X.dtype, True)
    cl = _lloyd.Clusters(w, np.full(n, -1, np.int32), np.zeros((k, d)), np.zeros(k), ws)
    out = _lloyd.lloyd_run_dense(X, centers, np.empty_like(centers), np.zeros(k), cl,
                                 dict(max_iter=max_iter, tol=tol), 2, norms, finish)
    return out, np.asarray(cl.labels).copy(), centers


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lloyd_run_finishes_with_the_final_labels_and_their_inertia(dtype):
    """lloyd_run_dense(finish=True): stopped by max_iter (labels not converged), the labels
    are those of the final centres (the exact rule) and the inertia is their exact weighted
    sum of squared distances; the rows' norms given or not, the same run; a norms array of
    the wrong length and max_iter 0 are refused."""
    rng = np.random.RandomState(3)
    X = rng.normal(size=(1500, 20)).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=1500)
    C = X[:12].copy()
    (it, changed, outcome, inertia), labels, centers = _run(X, C, max_iter=2, w=w)
    assert (it, outcome) == (2, _lloyd.RUN_MAX_ITER) and changed > 0
    expected = np.empty(1500, dtype=np.int32)
    _lloyd.exact_labels(X, centers, expected)
    assert_array_equal(labels, expected)
    diff = X.astype(np.float64) - centers.astype(np.float64)[labels]
    assert_allclose(inertia, np.sum(w * np.einsum("ij,ij->i", diff, diff)), rtol=1e-12)
    norms = np.einsum("ij,ij->i", X.astype(np.float64), X.astype(np.float64))
    given = _run(X, C, max_iter=2, w=w, norms=norms)
    assert given[0] == (it, changed, outcome, inertia)
    assert_array_equal(given[1], labels)
    assert_array_equal(given[2], centers)
    assert _run(X, C, max_iter=2, w=w, finish=False)[0][3] is None
    with pytest.raises(ValueError, match="one value per row"):
        _run(X, C, max_iter=2, norms=norms[:-1])
    with pytest.raises(ValueError, match="max_iter >= 1"):
        _run(X, C, max_iter=0)


@_WIDE_KERNEL
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("m", "d"), [(37, 16), (256, 32), (1, 33), (16, 64), (200, 70)])
@pytest.mark.parametrize("sizes", [[8] * 3, [1, 8, 3, 6, 8, 2, 5, 4, 8, 7, 1],
                                   [8, 4, 8, 5] * 5 + [3]])
@pytest.mark.parametrize("integer", [False, True])
def test_dense_group_search_matches_the_stored_values(dtype, m, d, sizes, integer):
    """Yinyang's dense search (register tiles of rows by half panels of a group's centres)
    gives every row each group's smallest value, and its first minimum over all the centres
    (in search order), that minimum and the second smallest (a tied minimum counting twice),
    bit for bit those of the stored-values kernel's row: groups of 1 to 8 centres (a half
    panel of padding skipped), a number of groups that is not a multiple of the transposes'
    eight, a last block of rows padded; integer data makes exact ties, duplicated centres
    ties of the first minimum inside a group and across groups."""
    from kmix._core import _bounds
    rng = np.random.RandomState(m + d + len(sizes))
    gstart = np.r_[0, np.cumsum(sizes)].astype(np.intp)
    k = int(gstart[-1])
    X, S = _rows_and_centres(rng, m, k, d, dtype, integer)
    S[2] = S[1]                                    # a tie inside a group (or across two)
    S[k - 1] = S[0]                                # a tie across the first and last groups
    X[0] = S[0]                                    # a row on a centre two groups share
    gmin, besti, bestv, secv, D = _bounds.dense_group_search(X, S, gstart)
    ng = len(sizes)
    want = np.stack([D[:, gstart[g]:gstart[g + 1]].min(axis=1) for g in range(ng)], axis=1)
    assert gmin.dtype == dtype and gmin.shape == (m, ng)
    assert gmin.tobytes() == want.tobytes()
    _assert_best_two_of_stored(X, S, D, besti, bestv, secv)
    assert secv[0] == bestv[0]                     # row 0 sits on two equal centres


def test_dense_group_search_refuses_groups_outside_its_range():
    from kmix._core import _bounds
    X = np.zeros((4, 32), np.float32)
    S = np.zeros((12, 32), np.float32)
    for gstart in ([0, 9, 12], [0, 4, 4, 12], [0, 4, 8], [1, 4, 12]):
        with pytest.raises(ValueError, match="outside the kernel's range"):
            _bounds.dense_group_search(X, S, np.array(gstart, dtype=np.intp))
    with pytest.raises(ValueError, match="outside the kernel's range"):
        _bounds.dense_group_search(np.zeros((300, 32), np.float32), S,
                                   np.array([0, 6, 12], dtype=np.intp))


@pytest.mark.parametrize("ng", [1, 3, 8, 13, 125])
def test_refreshed_group_bounds_are_lower_bounds_within_a_few_units(ng):
    """A row's refreshed group bounds (float32 arithmetic, eight groups a vector, the last
    ones by masked loads): each stored value minus its group's drift is, in exact rational
    arithmetic, at most sqrt(xn + v - err) (1 - gamma) (v the group's value, or `second` for
    the winner's group), and below it by what float32 sums lose (2^-21 of their terms) and a
    relative 2^-16 of the value stored at most (the tag's 63 units, the roundings); it
    carries the pass's tag; unlisted groups are left as they were; the portable version
    stores the same bits. Cases: every subset size up to
    ng (and every group in order, whose version loads and stores contiguously), the winner
    listed or not, a second value of +inf, sums at or below zero and below 2^-100."""
    from fractions import Fraction

    from kmix._core import _bounds
    rng = np.random.RandomState(ng)
    gamma = 3e-7
    for case in range(60):
        xn = float(rng.uniform(0, 50))
        err = float(rng.uniform(0, 1e-3)) if case % 7 else xn + 1e-3     # xn - err < 0
        drift = rng.uniform(0, 3, size=ng) if case % 5 else np.zeros(ng)
        ne = ng if case % 4 == 0 else int(rng.randint(0, ng + 1))
        glist = np.sort(rng.choice(ng, ne, replace=False)).astype(np.intp)
        m1 = (rng.uniform(-xn, 20, size=ne) + err).astype(np.float32)
        if ne and case % 3 == 0:
            m1[0] = np.float32(-(xn - err))             # a sum of about zero
        if ne > 1 and case % 6 == 1:
            m1[1] = np.float32(err - xn) + np.float32(1e-31)   # a sum below 2^-100 or zero
        tw = int(rng.randint(-1, ne)) if ne else -1
        second = np.inf if case % 9 == 2 else float(rng.uniform(-xn, 20) + err)
        slot = int(rng.randint(0, 32))
        lb = _bounds.refresh_bounds(m1, glist, tw, second, xn, err, gamma, drift, slot)
        lb0 = _bounds.refresh_bounds(m1, glist, tw, second, xn, err, gamma, drift, slot,
                                     portable=True)
        assert lb.tobytes() == lb0.tobytes()
        assert np.isnan(np.delete(lb, glist)).all()
        bits = lb[glist].view(np.uint32)
        assert np.all(bits & 31 == slot)
        for t, g in enumerate(glist):
            v = second if t == tw else float(m1[t])
            s = Fraction(xn) + Fraction(v) - Fraction(err) if np.isfinite(v) else None
            bound = Fraction(float(lb[g])) - Fraction(float(drift[g]))
            if s is None:                                 # +inf: any bound holds
                assert lb[g] > 1e37
                continue
            if bound > 0:
                assert bound * bound <= s * Fraction(1 - gamma) ** 2
            # float32 sums lose 2^-21 of their terms' magnitude at most, then the square
            # root, the drift's sum and the tag a relative 2^-16 of the value stored
            low = float(s) - 2.0 ** -21 * (abs(xn - err) + abs(v))
            least = (max(low, 0.0) ** 0.5 * (1 - gamma) + float(drift[g])) * (1 - 2.0 ** -16)
            assert float(bound) + float(drift[g]) >= least - 1e-30
