"""Thread counts and BLAS thread limits."""
from threadpoolctl import ThreadpoolController

from ._core._openmp_info import effective_n_threads, openmp_enabled

__all__ = ["effective_n_threads", "openmp_enabled", "blas_single_threaded"]

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
