"""Data sets and parameters of the SpectralClustering benchmarks (asv suite and table).

Every data set is generated locally or ships with scikit-learn: nothing is downloaded. Kept
apart from datasets.py so that the spectral rows can change without touching the others.
"""


def moons(n_samples=1000):
    from sklearn.datasets import make_moons

    return make_moons(n_samples, noise=0.05, random_state=42)[0]


def blobs(n_samples, n_features, centers, random_state=0):
    from sklearn.datasets import make_blobs

    X = make_blobs(n_samples, n_features=n_features, centers=centers,
                   random_state=random_state)[0]
    return X / X.std()


def digits():
    from sklearn.datasets import load_digits

    return load_digits().data


#: name -> (loader, SpectralClustering parameters); every row also gets random_state=0.
SPECTRAL_ROWS = {
    "moons 1000 rbf gamma=100 k=2 (issue)": (moons, dict(n_clusters=2, gamma=100)),
    "moons 1000 rbf gamma=100 discretize": (
        moons, dict(n_clusters=2, gamma=100, assign_labels="discretize")),
    "moons 1000 rbf gamma=100 cluster_qr": (
        moons, dict(n_clusters=2, gamma=100, assign_labels="cluster_qr")),
    "moons 1000 nearest_neighbors k=2": (
        moons, dict(n_clusters=2, affinity="nearest_neighbors")),
    "blobs 2000x10 rbf gamma=1 k=5": (
        lambda: blobs(2000, 10, 5), dict(n_clusters=5, gamma=1.0)),
    "blobs 4000x10 rbf gamma=1 k=5": (
        lambda: blobs(4000, 10, 5), dict(n_clusters=5, gamma=1.0)),
    "digits 1797x64 nearest_neighbors k=10": (
        digits, dict(n_clusters=10, affinity="nearest_neighbors")),
}
