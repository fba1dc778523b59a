"""Thread counts and BLAS thread limits."""
from contextlib import nullcontext

import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from ._core._openmp_info import effective_n_threads, openmp_enabled

__all__ = ["effective_n_threads", "openmp_enabled", "blas_single_threaded", "blas_context",
           "threads_for"]

#: Below this many distance terms (rows x centres x features) per thread, extra threads cost
#: more than they save (waking an OpenMP team takes ~10 us, more on a busy machine), so small
#: problems run on fewer threads. Results never depend on it: blocks are fixed by the shape.
WORK_PER_THREAD = 200_000


def threads_for(n_threads, n_samples, n_centers, n_features, work_per_thread=WORK_PER_THREAD):
    """Threads worth using for one pass over n_samples x n_centers x n_features (passes
    that open several parallel regions per unit of work ask for more ``work_per_thread``)."""
    useful = max(1, (n_samples * n_centers * max(n_features, 1)) // work_per_thread)
    return int(min(n_threads, useful))


_controller = None


def blas_single_threaded():
    """Context manager that keeps BLAS to one thread while OpenMP kernels call it.

    The kernels call gemm on cache-sized chunks from every OpenMP thread; a threaded BLAS
    underneath would oversubscribe the cores. The controller is built once (inspecting the
    loaded libraries is the slow part), so entering the context costs microseconds.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def blas_context(X, min_features="gemm"):
    """Single-threaded BLAS while the kernels run, where they call BLAS: dense data of at
    least ``min_features`` features ("gemm": the k-means kernels' ``GEMM_MIN_FEATURES``;
    ``None``: the kernels never call BLAS)."""
    if min_features == "gemm":
        from ._core._constants import GEMM_MIN_FEATURES as min_features
    if min_features is not None and not sp.issparse(X) and X.shape[1] >= min_features:
        return blas_single_threaded()
    return nullcontext()
