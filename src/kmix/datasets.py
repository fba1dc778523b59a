"""Built-in data sets: the examples of the unsupervised-learning chapter, generated locally."""
import numpy as np

from ._validation import check_int, check_random_state

__all__ = ["CHAPTER_BLOB_CENTERS", "CHAPTER_BLOB_STD", "make_blobs_from", "chapter_blobs",
           "chapter_mixture", "moons"]

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


def chapter_mixture(random_state=42):
    """The chapter's Gaussian-mixture data: 1250 2-D points in three elongated clusters.

    1000 points around (4, -4) and (0, 0) stretched by the matrix [[0.374, 0.95], [0.732,
    0.598]], and 250 points around (6, -8), with unit standard deviation (the same draws as
    ``make_blobs(1000, centers=((4, -4), (0, 0)), random_state=42)`` and
    ``make_blobs(250, centers=1, random_state=42)`` shifted by (6, -8)).

    Returns
    -------
    X : ndarray of shape (1250, 2)
    y : ndarray of shape (1250,)
        The cluster of each point (0, 1, 2).
    """
    X1, y1 = make_blobs_from([[4.0, -4.0], [0.0, 0.0]], 1.0, 1000, random_state)
    X1 = X1 @ np.array([[0.374, 0.95], [0.732, 0.598]])
    # make_blobs(centers=1) draws its centre uniformly in (-10, 10) first
    generator = check_random_state(random_state)
    centre = generator.uniform(-10.0, 10.0, size=(1, 2))
    X2, _ = make_blobs_from(centre, 1.0, 250, generator)
    return np.r_[X1, X2 + [6.0, -8.0]], np.r_[y1, np.full(250, 2)]


def moons(n_samples=1000, noise=0.05, random_state=42):
    """Two interleaving half circles: the chapter's shapes that k-means cannot separate.

    Draws the same numbers as ``sklearn.datasets.make_moons(n_samples, noise=noise,
    random_state=random_state)``: the outer moon's points first (n_samples // 2), a shuffle
    of the rows, then Gaussian noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        The moon of each sample (0 outer, 1 inner).
    """
    n_samples = check_int("n_samples", n_samples, low=1)
    generator = check_random_state(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_samples)
    generator.shuffle(order)
    X, y = X[order], y[order]
    if noise is not None:
        X += generator.normal(scale=noise, size=X.shape)
    return X, y
