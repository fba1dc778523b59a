"""kmix on Dask: KMeans, MiniBatchKMeans and GaussianMixture for dask arrays and DataFrames.

The estimators take data chunked by rows on a Dask cluster (``dask.array`` and, typically, a
``dask.distributed`` Client) and run kmix's compiled kernels on every block where it lives;
the small per-block results (sums, counts, sufficient statistics) are reduced on the client in
block order, so results do not depend on the number of workers or threads. Dask does the
scheduling, the data movement and the recovery from lost workers. Install with
``pip install "kmix[dask]"``.
"""
try:
    import dask.array  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kmix.dask needs dask: pip install \"kmix[dask]\" (dask[array] and distributed)."
    ) from exc

from ._gaussian_mixture import GaussianMixture
from ._kmeans import KMeans
from ._minibatch import MiniBatchKMeans

__all__ = ["KMeans", "MiniBatchKMeans", "GaussianMixture"]
