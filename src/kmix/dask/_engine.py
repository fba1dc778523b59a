"""Running kmix's per-block work as named Dask tasks, and reducing the results in block order.

Every task's key is ``("kmix-<kind>-<token>", block)``, so the dashboard shows a fit as task
groups named ``kmix-assign``, ``kmix-summary``, ... Tasks run wherever Dask puts them (with a
``distributed.Client``: where their block lives); results come back to the client, which
reduces them in block order, so that nothing depends on the number of workers or threads or on
which worker ran which block. Dask does the scheduling, the data movement and the recovery
from lost workers; kmix only writes the per-block functions and the reductions.
"""
import itertools
import operator
import uuid

import dask
import numpy as np
from dask import delayed

from .._threads import effective_n_threads

__all__ = ["PerBlock", "share", "blockwise", "chain", "compute", "persist", "part",
           "ordered_sum", "task_threads", "new_name"]


class PerBlock(list):
    """An argument of :func:`blockwise` with one value per block (anything else is passed
    unchanged to every task)."""


#: Keys are this process's random prefix and a counter (a fresh uuid4 per key costs a
#: system call per task).
_PREFIX = uuid.uuid4().hex[:16]
_COUNTER = itertools.count()


def _token():
    # starts with a digit: dask's key_split drops it, whatever the prefix's letters
    return f"{next(_COUNTER)}x{_PREFIX}"


def new_name(kind):
    """A unique key name ``kmix-<kind>-<token>`` (the dashboard shows ``kmix-<kind>``)."""
    return f"kmix-{kind}-{_token()}"


def share(value, kind):
    """``value`` as one task of the graph (``kmix-<kind>``): every task that takes it refers to
    that key, so an array of centres travels once to each worker instead of once per task."""
    return delayed(value, name=new_name(kind))


def blockwise(kind, func, *args, n_blocks):
    """One task ``func(*args_i)`` per block, as Delayed objects keyed ``(kmix-<kind>-..., i)``.

    ``args``: :class:`PerBlock` lists (value i for block i), or values given to every task.
    """
    name = new_name(kind)
    call = delayed(func, pure=False)
    return [call(*[a[i] if isinstance(a, PerBlock) else a for a in args],
                 dask_key_name=(name, i)) for i in range(n_blocks)]


def chain(kind, func, state, *args, n_links):
    """``state = func(state, *args_i)`` for i = 0, 1, ...: one task per link, each taking the
    previous one's result (the data stay where they are, the small state moves). Returns the
    last task."""
    name = new_name(kind)
    call = delayed(func, pure=False)
    for i in range(n_links):
        state = call(state, *[a[i] if isinstance(a, PerBlock) else a for a in args],
                     dask_key_name=(name, i))
    return state


def compute(tasks):
    """The results of ``tasks`` (a list of Delayed), on the client, in order. (The graphs are
    built minimal: no optimisation pass.)"""
    return list(dask.compute(*tasks, optimize_graph=False))


def persist(tasks):
    """``tasks`` computed and kept where they were computed (Delayed objects backed by the
    results: futures with a distributed Client)."""
    return list(dask.persist(*tasks, optimize_graph=False))


def part(tasks, index, kind):
    """Task i's result[index] for each task (small tasks next to the results)."""
    name = new_name(kind)
    get = delayed(operator.getitem, pure=True)
    return [get(t, index, dask_key_name=(name, i)) for i, t in enumerate(tasks)]


def ordered_sum(values):
    """values[0] + values[1] + ... summed left to right (block order), as float64 (a copy)."""
    total = np.array(values[0], dtype=np.float64)
    for v in values[1:]:
        total += v
    return total if total.ndim else float(total)


def task_threads(n_threads):
    """Threads of the compiled kernels inside one task: 1 for None (Dask runs one task per
    worker thread), else as given (a negative count as in joblib, on the client's cores)."""
    return 1 if n_threads is None else effective_n_threads(n_threads)
