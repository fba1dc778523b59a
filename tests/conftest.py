"""Shared fixtures for the kmix test suite.

The tests import the installed ``kmix`` package (never ``src/``); these fixtures only build
data. Helpers are exposed as fixtures so that no test module has to import this file.
"""
import numpy as np
import pytest
from sklearn.datasets import make_blobs


def _overlapping_blobs(n_samples, n_features, n_true_centers=12, cluster_std=None,
                       random_state=0):
    """Blobs that overlap, so that Lloyd needs several iterations to converge.

    The spread grows with the dimension (distances between random centres grow as sqrt(d)).
    """
    if cluster_std is None:
        cluster_std = 2.0 * max(1.0, np.sqrt(n_features / 5.0))
    X, y = make_blobs(n_samples=n_samples, n_features=n_features, centers=n_true_centers,
                      cluster_std=cluster_std, random_state=random_state)
    return X, y


def _init_rows(X, n_clusters, seed=0):
    """n_clusters distinct rows of X (dense or sparse) as a dense initial-centre array."""
    rows = np.random.RandomState(seed).choice(X.shape[0], n_clusters, replace=False)
    init = X[rows]
    if hasattr(init, "toarray"):
        init = init.toarray()
    return np.array(init, dtype=np.float64)


@pytest.fixture(scope="session")
def overlapping_blobs():
    """Factory: ``overlapping_blobs(n_samples, n_features, ...) -> (X, y)``."""
    return _overlapping_blobs


@pytest.fixture(scope="session")
def init_rows():
    """Factory: ``init_rows(X, n_clusters, seed=0) -> float64 array of distinct rows of X``."""
    return _init_rows
