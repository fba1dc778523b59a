"""What the compiled core knows about OpenMP."""
import os

from _openmp cimport KMIX_OPENMP_ENABLED, omp_get_max_threads


def openmp_enabled():
    """Whether the core was compiled with OpenMP."""
    return bool(KMIX_OPENMP_ENABLED)


def effective_n_threads(n_threads=None):
    """Number of threads a kernel will use.

    ``None`` means every core this process may run on (respecting ``OMP_NUM_THREADS``);
    a negative value ``-m`` means all cores but ``m - 1``, as joblib.
    """
    if not KMIX_OPENMP_ENABLED:
        return 1
    max_threads = omp_get_max_threads()
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n_cpus = os.cpu_count() or 1
    available = max(1, min(max_threads, n_cpus))
    if n_threads is None:
        return available
    if n_threads < 0:
        return max(1, available + 1 + n_threads)
    return int(n_threads)
