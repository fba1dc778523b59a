"""Data sets of the kmix benchmarks (shared by the asv suite and bench_table.py).

Every data set is generated locally or ships with scikit-learn: nothing is downloaded.
"""
import numpy as np


def chapter_blobs():
    from kmix.datasets import chapter_blobs as make

    return make(n_samples=2000, random_state=7)[0]


def china_pixels():
    from sklearn.datasets import load_sample_image

    image = load_sample_image("china.jpg")
    return (image / 255.0).reshape(-1, 3)


def digits():
    from sklearn.datasets import load_digits

    return load_digits().data


def blobs(n_samples, n_features, centers=None, random_state=0):
    from sklearn.datasets import make_blobs

    kwargs = {} if centers is None else {"centers": centers}
    return make_blobs(n_samples, n_features=n_features, random_state=random_state, **kwargs)[0]


def standard_normal(n_samples, n_features, random_state=0):
    return np.random.RandomState(random_state).standard_normal((n_samples, n_features))


#: name -> (loader, KMeans parameters) for the rows of the issue's table.
ROWS = {
    "chapter blobs 2000x2 k=5 n_init=10": (chapter_blobs, dict(n_clusters=5, n_init=10)),
    "china.jpg 273kx3 k=8": (china_pixels, dict(n_clusters=8)),
    "china.jpg 273kx3 k=64": (china_pixels, dict(n_clusters=64)),
    "digits 1797x64 k=50 n_init=10": (digits, dict(n_clusters=50, n_init=10)),
    "blobs 500kx50 c=100 k=100": (lambda: blobs(500_000, 50, centers=100), dict(n_clusters=100)),
    "blobs 60kx784 k=10": (lambda: blobs(60_000, 784), dict(n_clusters=10)),
    "normal 100kx32 k=1000 it=20": (lambda: standard_normal(100_000, 32),
                                    dict(n_clusters=1000, max_iter=20)),
}


def sparse_random(n_samples, n_features, density, random_state=0):
    import scipy.sparse as sp

    return sp.random(n_samples, n_features, density=density, format="csr",
                     random_state=random_state, dtype=np.float64)


#: name -> (loader, MiniBatchKMeans parameters) for the rows of the MiniBatchKMeans table.
MINIBATCH_ROWS = {
    "blobs 1Mx50 c=100 k=100 defaults": (lambda: blobs(1_000_000, 50, centers=100),
                                         dict(n_clusters=100)),
    "blobs 200kx50 c=100 k=100 it=10": (lambda: blobs(200_000, 50, centers=100),
                                        dict(n_clusters=100, max_iter=10,
                                             max_no_improvement=None)),
    "china.jpg 273kx3 k=64 defaults": (china_pixels, dict(n_clusters=64)),
    "sparse 100kx1000 1% k=20 defaults": (lambda: sparse_random(100_000, 1000, 0.01),
                                          dict(n_clusters=20)),
}


def chapter_mixture():
    from kmix.datasets import chapter_mixture as make

    return make()[0]


#: name -> (loader, GaussianMixture parameters, same_init) for the mixture table. With
#: same_init, both libraries start from the parameters of a one-iteration scikit-learn fit and
#: run 20 EM iterations (tol=0); without, each library runs its own defaults end to end.
MIXTURE_ROWS = {
    **{f"blobs 100kx20 c=20 k=20 {cov} it=20": (
        lambda: blobs(100_000, 20, centers=20),
        dict(n_components=20, covariance_type=cov, max_iter=20, tol=0.0), True)
       for cov in ("full", "tied", "diag", "spherical")},
    "blobs 20kx100 c=10 k=10 full it=20": (lambda: blobs(20_000, 100, centers=10),
                                           dict(n_components=10, covariance_type="full",
                                                max_iter=20, tol=0.0), True),
    "chapter 1250x2 k=3 full n_init=10": (chapter_mixture,
                                          dict(n_components=3, n_init=10), False),
}
