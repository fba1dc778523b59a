"""Built-in data sets: the examples of the unsupervised-learning chapter, generated locally."""
import numpy as np

from ._validation import check_int, check_random_state

__all__ = ["CHAPTER_BLOB_CENTERS", "CHAPTER_BLOB_STD", "make_blobs_from", "chapter_blobs"]

#: Centres and standard deviations of the chapter's five blobs.
CHAPTER_BLOB_CENTERS = np.array(
    [[0.2, 2.3], [-1.5, 2.3], [-2.8, 1.8], [-2.8, 2.8], [-2.8, 1.3]]
)
CHAPTER_BLOB_STD = np.array([0.4, 0.3, 0.1, 0.1, 0.1])


def make_blobs_from(centers, cluster_std, n_samples, random_state=None):
    """Isotropic Gaussian blobs around given centres, shuffled.

    Draws the same numbers as ``sklearn.datasets.make_blobs(n_samples, centers=centers,
    cluster_std=cluster_std, random_state=random_state)``: samples split evenly over the
    centres (the remainder going to the first ones), one normal draw per blob, then a shuffle.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Index of the blob of each sample.
    """
    generator = check_random_state(random_state)
    centers = np.asarray(centers, dtype=np.float64)
    n_centers, n_features = centers.shape
    cluster_std = np.broadcast_to(np.asarray(cluster_std, dtype=np.float64), (n_centers,))
    n_samples = check_int("n_samples", n_samples, low=1)
    counts = np.full(n_centers, n_samples // n_centers)
    counts[: n_samples % n_centers] += 1
    X = np.empty((n_samples, n_features))
    y = np.empty(n_samples, dtype=int)
    start = 0
    for i, (n, std) in enumerate(zip(counts, cluster_std)):
        X[start:start + n] = generator.normal(loc=centers[i], scale=std, size=(n, n_features))
        y[start:start + n] = i
        start += n
    order = np.arange(n_samples)
    generator.shuffle(order)
    return X[order], y[order]


def chapter_blobs(n_samples=2000, random_state=7):
    """The chapter's five 2-D blobs (2000 points by default).

    Centres (0.2, 2.3), (-1.5, 2.3), (-2.8, 1.8), (-2.8, 2.8), (-2.8, 1.3) with standard
    deviations 0.4, 0.3, 0.1, 0.1, 0.1.
    """
    return make_blobs_from(CHAPTER_BLOB_CENTERS, CHAPTER_BLOB_STD, n_samples, random_state)
