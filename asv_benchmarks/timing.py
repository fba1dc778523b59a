"""Same-process timing helpers of the benchmark tables (see ../shared/notes/measuring.md)."""
import statistics
import time


def timed(fn, number=1):
    """Mean seconds of ``number`` consecutive calls of fn, and the last result."""
    start = time.perf_counter()
    for _ in range(number):
        result = fn()
    return (time.perf_counter() - start) / number, result


def median_time(fn, repeat):
    """Median seconds of ``repeat`` calls of fn, and the last result."""
    times = []
    for _ in range(repeat):
        t, result = timed(fn)
        times.append(t)
    return statistics.median(times), result


def alternate(fn_a, fn_b, repeat, number=1):
    """Time fn_a and fn_b alternately ``repeat`` times (``number`` calls per timing).

    Returns (median seconds of a, median seconds of b, last result of a, last result of b).
    """
    times_a, times_b = [], []
    for _ in range(repeat):
        t, result_a = timed(fn_a, number)
        times_a.append(t)
        t, result_b = timed(fn_b, number)
        times_b.append(t)
    return statistics.median(times_a), statistics.median(times_b), result_a, result_b
