# OpenMP entry points that compile with or without OpenMP (scikit-learn's pattern).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define KMIX_OPENMP_ENABLED 1
    #else
    #define KMIX_OPENMP_ENABLED 0
    #define omp_get_thread_num() 0
    #define omp_get_max_threads() 1
    #endif
    """
    bint KMIX_OPENMP_ENABLED
    int omp_get_thread_num() noexcept nogil
    int omp_get_max_threads() noexcept nogil
