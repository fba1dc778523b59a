"""Progress reports from long computations, for whoever listens (the command line's bar).

Fits report once per restart, per EM iteration or mini-batch step, and scans once per fit:
``report(what, done, total)``. Nothing happens unless a listener was installed with
:func:`listening`; the cost of a report without one is a context-variable lookup.
"""
import contextvars
from contextlib import contextmanager

__all__ = ["listening", "report"]

_listener = contextvars.ContextVar("kmix_progress_listener", default=None)


@contextmanager
def listening(callback):
    """Call ``callback(what, done, total)`` on every report made inside the ``with`` block.

    Parameters
    ----------
    callback : callable
        Receives the unit (``'restart'``, ``'iteration'``, ``'step'`` or ``'fit'``), how many
        are done and how many there are at most.
    """
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def report(what, done, total):
    """Tell the listener, if any, that ``done`` of ``total`` ``what`` are finished."""
    callback = _listener.get()
    if callback is not None:
        callback(what, done, total)
