"""Same-process timing helpers of the benchmark tables (see ../shared/notes/measuring.md)."""
import statistics
import time

#: Seconds to pause before timing a library after another: scikit-learn's and faiss's wheels
#: bring their own OpenMP runtimes, whose threads spin for a while after a parallel region
#: (kmix's do too); without the pause the next library's first fits share the two cores with
#: them (kmix's digits fit took 1.7 ms alone, 2.4 ms in a run of ten right after three faiss
#: fits, one of them 5.6 ms, 1.7 ms after a 50 ms pause; digits k=50 n_init=10 float64: kmix
#: 0.152 s right after scikit-learn, 0.053 s alone).
PAUSE = 0.2


def timed(fn, number=1):
    """Mean seconds of ``number`` consecutive calls of fn, and the last result."""
    start = time.perf_counter()
    for _ in range(number):
        result = fn()
    return (time.perf_counter() - start) / number, result


def calls_per_timing(fns):
    """Consecutive calls per timing of each of fns: one, or enough for about 0.2 s when the
    longest of one call each is under 50 ms (millisecond fits timed alone are mostly timer
    and scheduling noise)."""
    longest = max(timed(fn)[0] for fn in fns)
    return 1 if longest >= 0.05 else max(1, int(0.2 / max(longest, 1e-4)))


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
