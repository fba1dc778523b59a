"""The baseline (non-AVX2) kernels, forced with KMIX_DISABLE_SIMD in a fresh interpreter.

On a CPU with AVX2 + FMA the other tests only exercise the dispatched AVX2 kernels; this runs
the portable fallbacks against the same references (scikit-learn from the same initial
centres, numpy, 1 vs 2 threads).
"""
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from sklearn.cluster import KMeans as SKKMeans
    from sklearn.datasets import make_blobs
    from threadpoolctl import threadpool_limits

    import kmix
    from kmix._core import _lloyd
    from kmix._kmeans_algorithms import _half_center_distances

    assert not _lloyd.simd_enabled(), "KMIX_DISABLE_SIMD did not select the baseline kernels"
    rng = np.random.RandomState(0)
    for n_features in (2, 40):
        X, _ = make_blobs(3000, n_features=n_features, centers=12, cluster_std=2.0,
                          random_state=1)
        for dtype in (np.float64, np.float32):
            Xd = X.astype(dtype)
            init = Xd[rng.choice(len(Xd), 9, replace=False)]
            for algorithm in ("lloyd", "elkan", "hamerly", "yinyang"):
                fits = [kmix.KMeans(9, init=init, n_init=1, algorithm=algorithm,
                                    n_threads=t).fit(Xd) for t in (1, 2)]
                a, b = fits
                assert a.labels_.tobytes() == b.labels_.tobytes(), algorithm
                assert a.cluster_centers_.tobytes() == b.cluster_centers_.tobytes(), algorithm
                if dtype is np.float64:
                    with threadpool_limits(1):
                        ref = SKKMeans(9, init=init, n_init=1,
                                       algorithm="elkan" if algorithm == "elkan" else "lloyd",
                                       ).fit(Xd)
                    assert np.array_equal(a.labels_, ref.labels_), algorithm
                    assert a.n_iter_ == ref.n_iter_, algorithm
                    assert np.isclose(a.inertia_, ref.inertia_, rtol=1e-6), algorithm
        C = rng.normal(size=(30, n_features))
        half, half_sep = _half_center_distances(C)
        ref = 0.5 * np.sqrt(((C[:, None] - C[None]) ** 2).sum(-1))
        assert np.allclose(half, ref, rtol=1e-12, atol=1e-12)
    print("BASELINE-OK")
    """
)


def test_baseline_kernels_match_references():
    env = dict(os.environ, KMIX_DISABLE_SIMD="1")
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "BASELINE-OK" in result.stdout
