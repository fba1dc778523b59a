"""kmix.datasets: the chapter's blobs, drawn exactly as sklearn.datasets.make_blobs."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs

from kmix.datasets import CHAPTER_BLOB_CENTERS, CHAPTER_BLOB_STD, chapter_blobs, make_blobs_from


def test_chapter_constants():
    assert_array_equal(CHAPTER_BLOB_CENTERS,
                       [[0.2, 2.3], [-1.5, 2.3], [-2.8, 1.8], [-2.8, 2.8], [-2.8, 1.3]])
    assert_array_equal(CHAPTER_BLOB_STD, [0.4, 0.3, 0.1, 0.1, 0.1])


@pytest.mark.parametrize("n_samples", [1, 7, 1003, 2000])
@pytest.mark.parametrize("random_state", [0, 7, 42])
def test_make_blobs_from_equals_sklearn(n_samples, random_state):
    X, y = make_blobs_from(CHAPTER_BLOB_CENTERS, CHAPTER_BLOB_STD, n_samples, random_state)
    X_ref, y_ref = make_blobs(n_samples, centers=CHAPTER_BLOB_CENTERS,
                              cluster_std=CHAPTER_BLOB_STD, random_state=random_state)
    assert_array_equal(X, X_ref)
    assert_array_equal(y, y_ref)
    assert X.shape == (n_samples, 2)
    assert X.dtype == np.float64


@pytest.mark.parametrize("cluster_std", [0.5, [0.1, 1.0, 2.0, 0.3]])
def test_make_blobs_from_other_centres_equals_sklearn(cluster_std):
    centers = np.random.RandomState(0).normal(size=(4, 3))
    X, y = make_blobs_from(centers, cluster_std, 101, random_state=3)
    X_ref, y_ref = make_blobs(101, centers=centers, cluster_std=cluster_std, random_state=3)
    assert_array_equal(X, X_ref)
    assert_array_equal(y, y_ref)


def test_make_blobs_from_random_state_instance_advances_like_sklearn():
    centers = [[0.0, 0.0], [5.0, 5.0]]
    ours, ref = np.random.RandomState(5), np.random.RandomState(5)
    X1, _ = make_blobs_from(centers, 1.0, 50, ours)
    X1_ref, _ = make_blobs(50, centers=centers, cluster_std=1.0, random_state=ref)
    assert_array_equal(X1, X1_ref)
    # both generators are left in the same state
    assert ours.uniform() == ref.uniform()


@pytest.mark.parametrize("random_state", [0, 7, 123])
def test_chapter_blobs_equals_sklearn(random_state):
    X, y = chapter_blobs(random_state=random_state)
    X_ref, y_ref = make_blobs(2000, centers=CHAPTER_BLOB_CENTERS,
                              cluster_std=CHAPTER_BLOB_STD, random_state=random_state)
    assert_array_equal(X, X_ref)
    assert_array_equal(y, y_ref)


def test_chapter_blobs_defaults():
    X, y = chapter_blobs()
    X_ref, y_ref = make_blobs(2000, centers=CHAPTER_BLOB_CENTERS,
                              cluster_std=CHAPTER_BLOB_STD, random_state=7)
    assert_array_equal(X, X_ref)
    assert_array_equal(y, y_ref)
    X2, y2 = chapter_blobs(n_samples=500)
    assert X2.shape == (500, 2)


def test_blob_sizes_and_statistics():
    X, y = chapter_blobs(n_samples=20003, random_state=0)
    # even split, the remainder going to the first blobs
    assert_array_equal(np.bincount(y), [4001, 4001, 4001, 4000, 4000])
    for j in range(5):
        members = X[y == j]
        # sample mean within 5 standard errors of the centre; std within 5%
        se = CHAPTER_BLOB_STD[j] / np.sqrt(len(members))
        assert_allclose(members.mean(axis=0), CHAPTER_BLOB_CENTERS[j], atol=5 * se)
        assert_allclose(members.std(axis=0), CHAPTER_BLOB_STD[j], rtol=0.05)
    # shuffled: the labels are not sorted
    assert np.any(np.diff(y) < 0)


def test_make_blobs_from_rejects_bad_n_samples():
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        make_blobs_from(CHAPTER_BLOB_CENTERS, CHAPTER_BLOB_STD, 0)
    with pytest.raises(TypeError, match="n_samples must be an int"):
        make_blobs_from(CHAPTER_BLOB_CENTERS, CHAPTER_BLOB_STD, 10.5)


@pytest.mark.parametrize("n_samples, noise, random_state",
                         [(1000, 0.05, 42), (7, 0.1, 0), (20_001, 0.05, 1), (5, None, 3)])
def test_moons_draws_make_moons_numbers(n_samples, noise, random_state):
    from sklearn.datasets import make_moons

    from kmix.datasets import moons

    X, y = moons(n_samples, noise, random_state)
    X_ref, y_ref = make_moons(n_samples, noise=noise, random_state=random_state)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
