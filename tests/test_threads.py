"""kmix's one thread rule (``kmix._threads.threads_for``)."""
import pytest

from kmix._threads import PASS_ENTRIES_PER_THREAD, WORK_PER_THREAD, threads_for


@pytest.mark.parametrize("n_threads, shape, expected", [
    (4, (1000, 10, 5), 1),                      # 50k distance terms: one thread
    (4, (40_000, 1, 10), 2),                    # 400k terms: two threads' worth
    (4, (100_000, 8, 5), 4),                    # 4M terms: capped by n_threads
    (3, (400_000, 1, 0), 2),                    # no features counts as one
])
def test_distance_passes_get_one_thread_per_work_unit(n_threads, shape, expected):
    assert WORK_PER_THREAD == 200_000
    assert threads_for(n_threads, *shape) == expected


@pytest.mark.parametrize("n, expected", [(1000, 1), (2000, 1), (3000, 2), (4000, 4),
                                         (10_000, 8)])
def test_matrix_passes_count_entries_with_their_own_threshold(n, expected):
    # n x n entries, one thread per PASS_ENTRIES_PER_THREAD (4M) of them, at most 8
    assert PASS_ENTRIES_PER_THREAD == 4_000_000
    got = threads_for(8, n, n, 1, work_per_thread=PASS_ENTRIES_PER_THREAD)
    assert got == expected
    assert isinstance(got, int)


def test_blas_single_threaded_sets_one_thread_and_restores_each_count():
    """Inside the context every BLAS library runs one thread; on leaving (normally, by an
    exception, or from a nested context) each gets back the count it had, 3 or 1."""
    from threadpoolctl import ThreadpoolController, threadpool_limits

    from kmix._threads import blas_single_threaded

    def counts():
        return [lib["num_threads"] for lib in ThreadpoolController().info()
                if lib["user_api"] == "blas"]

    assert counts(), "numpy's BLAS is loaded"
    with threadpool_limits(limits=3, user_api="blas"):
        assert set(counts()) == {3}
        with blas_single_threaded():
            assert set(counts()) == {1}
            with blas_single_threaded():
                assert set(counts()) == {1}
            assert set(counts()) == {1}
        assert set(counts()) == {3}
        with pytest.raises(KeyError):
            with blas_single_threaded():
                raise KeyError("left by an exception")
        assert set(counts()) == {3}
    with threadpool_limits(limits=1, user_api="blas"):
        with blas_single_threaded():
            assert set(counts()) == {1}
        assert set(counts()) == {1}
