"""The same answer on every machine (issue 11).

- The exact assignment rule's building blocks against exact rational arithmetic
  (``fractions.Fraction``): the sign of a difference of squared distances, and the closest
  centre with exact ties to the lowest index.
- ``sq_dist`` against a numpy emulation of its documented summation order: the same bits
  whatever SIMD the CPU has.
- Whole fits (k-means++ seeds, every algorithm, mini-batch) in a child process with the
  portable kernels (``KMIX_DISABLE_SIMD=1``) against this process: bitwise the same labels,
  centres, iteration counts and inertia, on data full of exact ties and duplicates.
"""
import json
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kmix._core import _lloyd


def _exact_sq(x, c):
    return sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x, c))


def _sign(v):
    return (v > 0) - (v < 0)


def _triples(rng, dtype, n):
    """(x, a, b) with many exact ties (mirror images, permuted offsets) and near-ties."""
    lim = 100 if dtype == np.float64 else 15
    for trial in range(n):
        d = rng.randint(1, 9)
        scale = 10.0 ** rng.uniform(-lim, lim) if trial % 3 == 0 else 1.0
        x = (rng.normal(size=d) * scale).astype(dtype)
        a = (x + rng.normal(size=d) * scale * 10.0 ** rng.uniform(-17, 0)).astype(dtype)
        kind = trial % 4
        if kind == 0:
            b = (x - (a - x)).astype(dtype)
        elif kind == 1:
            b = (x + np.roll(a - x, 1)).astype(dtype)
        else:
            b = (a + rng.normal(size=d) * scale * 10.0 ** rng.uniform(-17, -10)).astype(dtype)
        yield x, a, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_sign_equals_rational_arithmetic(dtype):
    rng = np.random.RandomState(0)
    n_ties = 0
    for x, a, b in _triples(rng, dtype, 1500):
        expected = _sign(_exact_sq(x, a) - _exact_sq(x, b))
        n_ties += expected == 0
        assert _lloyd.exact_sign_of(x, a, b) == expected, (x, a, b)
    assert n_ties > 300  # the data does exercise exact ties


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_labels_equal_rational_arithmetic_with_ties_to_the_lowest_index(dtype):
    rng = np.random.RandomState(1)
    for trial in range(20):
        d = rng.randint(1, 6)
        k = rng.randint(2, 12)
        scale = [1.0, 1 / 3, 1e-3, 1e5][trial % 4]
        X = (rng.randint(0, 5, size=(60, d)) * scale).astype(dtype)
        C = (rng.randint(0, 10, size=(k, d)) / 2.0 * scale).astype(dtype)
        C[rng.randint(k)] = C[rng.randint(k)]   # duplicated centres tie everywhere
        labels = np.empty(len(X), dtype=np.int32)
        _lloyd.exact_labels(X, C, labels)
        for i, x in enumerate(X):
            dists = [_exact_sq(x, c) for c in C]
            assert labels[i] == dists.index(min(dists))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [16, 23, 64, 101])
def test_sq_dist_has_the_documented_bits(dtype, d):
    # _fused.h: eight lanes (feature f into lane f % 8, multiply then add, in order), lanes
    # added as ((0+4) + (1+5)) + ((2+6) + (3+7)), then the tail in order. Emulated here in
    # float64 numpy scalars, which round exactly as the kernel must on any CPU.
    rng = np.random.RandomState(d)
    X = (rng.normal(size=(50, d)) * 10.0 ** rng.uniform(-3, 3, size=(50, 1))).astype(dtype)
    C = X[::-1][:1].copy()
    labels = np.zeros(len(X), dtype=np.int32)
    out = np.empty(len(X))
    _lloyd.sq_dist_to_assigned_dense(X, C, labels, out, 1)
    for i, x in enumerate(X):
        t = x.astype(np.float64) - C[0].astype(np.float64)
        lanes = [np.float64(0.0)] * 8
        n8 = d // 8 * 8
        for f in range(n8):
            lanes[f % 8] = lanes[f % 8] + t[f] * t[f]
        s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6])
                                                                 + (lanes[3] + lanes[7]))
        for f in range(n8, d):
            s = s + t[f] * t[f]
        assert out[i] == s


_FITS = r'''
import hashlib, json, sys
import numpy as np
import kmix
from kmix._core import _lloyd

def h(a):
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()

rng = np.random.RandomState(0)
# quantised "pixels" (many duplicates, exact ties) and an integer lattice in 20 features
pixels = rng.randint(0, 32, size=(6000, 3)) / 31.0
lattice = rng.randint(0, 4, size=(1500, 20)).astype(float)
out = {"simd": bool(_lloyd.simd_enabled())}
for name, X64, k in (("pixels", pixels, 16), ("lattice", lattice, 24)):
    for dtype in ("float64", "float32"):
        X = X64.astype(dtype)
        C, idx = kmix.kmeans_plusplus(X, k, random_state=0)
        out[f"{name}/{dtype}/seeds"] = h(idx)
        for algorithm in ("lloyd", "elkan", "hamerly", "yinyang"):
            km = kmix.KMeans(k, algorithm=algorithm, random_state=0, n_init=1).fit(X)
            out[f"{name}/{dtype}/{algorithm}"] = [h(km.labels_), h(km.cluster_centers_),
                                                   int(km.n_iter_), float(km.inertia_)]
        mb = kmix.MiniBatchKMeans(k, random_state=0, batch_size=256, n_init=1,
                                   max_iter=20).fit(X)
        out[f"{name}/{dtype}/minibatch"] = [h(mb.labels_), h(mb.cluster_centers_),
                                             int(mb.n_steps_)]
# weighted real-valued rows of 37 features (slices of 32 and 4 features and a last one):
# the clusters' block sums round (a fused multiply-add, or another order of a cluster's
# rows, in one build and not the other would change the centres' bits)
Xw = rng.normal(size=(800, 37))
sw = rng.uniform(0.5, 2.0, size=800)
for dtype in ("float64", "float32"):
    for algorithm in ("lloyd", "hamerly"):
        km = kmix.KMeans(10, algorithm=algorithm, random_state=0, n_init=1, max_iter=5,
                         tol=0).fit(Xw.astype(dtype), sample_weight=sw)
        out[f"weighted/{dtype}/{algorithm}"] = [h(km.labels_), h(km.cluster_centers_),
                                                 int(km.n_iter_)]
print(json.dumps(out))
'''


def _run_fits(env_extra):
    env = dict(os.environ, **env_extra)
    res = subprocess.run([sys.executable, "-c", _FITS], capture_output=True, text=True,
                         env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_fits_are_bitwise_identical_with_the_portable_kernels():
    default = _run_fits({})
    portable = _run_fits({"KMIX_DISABLE_SIMD": "1"})
    assert portable.pop("simd") is False
    default.pop("simd")
    assert default.keys() == portable.keys()
    for key in default:
        assert default[key] == portable[key], key


def test_lloyd_and_the_bound_algorithms_give_the_same_labels_on_integer_data():
    # Integer data: the cluster sums are exact in any order, so Lloyd's full sums and the
    # bound algorithms' running sums give the same centres, and the exact rule the same
    # labels: every algorithm runs the same iterations bit for bit.
    from sklearn.datasets import load_digits

    import kmix
    X = load_digits().data
    for seed in range(2):
        runs = [kmix.KMeans(40, algorithm=a, random_state=seed, n_init=1).fit(X)
                for a in ("lloyd", "elkan", "hamerly", "yinyang")]
        for km in runs[1:]:
            assert km.n_iter_ == runs[0].n_iter_
            assert_array_equal(km.labels_, runs[0].labels_)
