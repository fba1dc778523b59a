# Ctrl-C in long compiled calls: a signal check for the sequential points of nogil loops
# (between centres, between iterations), rate-limited by a monotonic clock so that it costs
# nothing measurable.  Never call it inside an OpenMP parallel region.
from cpython.exc cimport PyErr_CheckSignals
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

cdef enum:
    # Milliseconds between two signal checks (each takes the GIL once).
    CHECK_INTERVAL_MS = 100


cdef inline double monotonic() noexcept nogil:
    """Seconds on the monotonic clock (as ``time.monotonic``)."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + 1e-9 * <double>ts.tv_nsec


cdef inline int check_interrupt(double *last_check) except -1 nogil:
    """Run Python's pending signal handlers if CHECK_INTERVAL_MS have passed since
    ``last_check[0]`` (then set to now; initialise it with :func:`monotonic`).

    Returns 0, or -1 with the handler's exception set (KeyboardInterrupt on Ctrl-C), which
    the calling ``def`` function raises.
    """
    cdef double now = monotonic()
    if now - last_check[0] < 1e-3 * CHECK_INTERVAL_MS:
        return 0
    last_check[0] = now
    with gil:
        PyErr_CheckSignals()
    return 0
