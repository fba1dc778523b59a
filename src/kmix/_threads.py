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
#: The same for the entries of an n x n matrix pass (spectral clustering's affinity and
#: Laplacian): a few ns of memory-bound work each, and on the shared 2-core machine a second
#: OpenMP thread that has to wait for a busy core made n = 1000 passes 5-10x slower.
PASS_ENTRIES_PER_THREAD = 4_000_000


def threads_for(n_threads, n_samples, n_centers, n_features, *,
                work_per_thread=WORK_PER_THREAD):
    """Threads worth using for one pass of n_samples x n_centers x n_features units of work.

    kmix's one thread rule: one thread per ``work_per_thread`` units, at least one and at
    most ``n_threads``. The unit and its threshold depend on the pass:

    - distance passes (k-means, silhouettes): a term of a row-to-centre distance,
      ``n_samples x n_centers x n_features`` of them, ``work_per_thread=WORK_PER_THREAD``;
    - k-means++ seeding, which opens several parallel regions per centre: the same terms
      with a multiple of ``WORK_PER_THREAD`` (``kmix._seeding``);
    - Gaussian mixtures: the same with ``n_features`` = the work per (row, component), d or
      d^2 (``_MixtureBase._pass_threads``);
    - n x n matrix passes: an entry, ``threads_for(n_threads, n, n, 1,
      work_per_thread=PASS_ENTRIES_PER_THREAD)``.

    Results never depend on the answer: the kernels' blocks are fixed by the shape.
    """
    useful = max(1, (n_samples * n_centers * max(n_features, 1)) // work_per_thread)
    return int(min(n_threads, useful))


_blas_libs = None


class _OneBlasThread:
    """What ``ThreadpoolController().limit(limits=1, user_api="blas")`` does, on the BLAS
    libraries found once: each at one thread inside the context, its count restored on exit
    (only those not at one already are touched). A few microseconds to enter and leave
    instead of threadpoolctl's 13 (it reads every library's full info each time): a digits
    fit takes about a millisecond."""

    __slots__ = ("_saved",)

    def __enter__(self):
        self._saved = []
        for lib in _blas_libs:
            n = lib.get_num_threads()
            if isinstance(n, int) and n != 1:
                lib.set_num_threads(1)
                self._saved.append((lib, n))
        return self

    def __exit__(self, *exc):
        for lib, n in reversed(self._saved):
            lib.set_num_threads(n)
        return False


def blas_single_threaded():
    """Context manager that keeps BLAS to one thread while OpenMP kernels call it.

    The kernels call gemm on cache-sized chunks from every OpenMP thread; a threaded BLAS
    underneath would oversubscribe the cores. The BLAS libraries are found once (inspecting
    the loaded libraries is the slow part, threadpoolctl's), so entering the context costs
    microseconds.
    """
    global _blas_libs
    if _blas_libs is None:
        _blas_libs = ThreadpoolController().select(user_api="blas").lib_controllers
    return _OneBlasThread()


def blas_context(X, min_features="gemm"):
    """Single-threaded BLAS while the kernels run, where they call BLAS: dense data of at
    least ``min_features`` features ("gemm": the k-means kernels' ``GEMM_MIN_FEATURES``;
    ``None``: the kernels never call BLAS)."""
    if min_features == "gemm":
        from ._core._constants import GEMM_MIN_FEATURES as min_features
    if min_features is not None and not sp.issparse(X) and X.shape[1] >= min_features:
        return blas_single_threaded()
    return nullcontext()
