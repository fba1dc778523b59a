"""Progress of a command on stderr.

On a terminal each stage is one line rewritten in place: the stage's text, a bar of the unit
the stage counts (the fits of a scan, the restarts of k-means, the EM iterations of a mixture,
the steps of mini-batch k-means), the other units kmix reports, and the time so far. Elsewhere
(a pipe, a log file) each stage prints one line when it starts; ``--quiet`` prints nothing.
The counts come from :mod:`kmix._progress`, which the estimators and scans report to.
"""
import shutil
import sys
import time
from contextlib import contextmanager

from ._progress import listening

__all__ = ["Progress"]

#: Least time between two redraws of a bar (seconds).
_REDRAW_EVERY = 0.1
_BAR_WIDTH = 24


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Where a command tells how far it is.

    Parameters
    ----------
    prefix : str
        Starts every line (``'kmix cluster'``).
    quiet : bool
        Print nothing.
    stream : file, default=sys.stderr
    """

    def __init__(self, prefix, quiet=False, stream=None):
        self.prefix = prefix
        self.stream = sys.stderr if stream is None else stream
        if quiet:
            self.mode = "quiet"
        else:
            self.mode = "bar" if _is_terminal(self.stream) else "lines"

    @contextmanager
    def stage(self, text, unit=None):
        """Report the work done inside the ``with`` block as one stage.

        Parameters
        ----------
        text : str
            What the stage does ("fitting KMeans with k=5").
        unit : str or None
            The unit of kmix's progress reports drawn as the bar (``'fit'``, ``'restart'``,
            ``'iteration'``, ``'step'``); the other units are shown as counts.
        """
        if self.mode == "quiet":
            yield
            return
        if self.mode == "lines":
            print(f"{self.prefix}: {text}", file=self.stream, flush=True)
            yield
            return
        bar = _Bar(self.stream, f"{self.prefix}: {text}", unit)
        try:
            with listening(bar.update):
                yield
        finally:
            bar.close()


class _Bar:
    """One self-rewriting terminal line."""

    def __init__(self, stream, text, unit):
        self.stream, self.text, self.unit = stream, text, unit
        self.counts = {}
        self.start = self.last_draw = time.perf_counter()
        self.width = 0
        self.draw()

    def update(self, what, done, total):
        self.counts[what] = (done, total)
        now = time.perf_counter()
        if now - self.last_draw >= _REDRAW_EVERY or (what == self.unit and done == total):
            self.draw()

    def line(self):
        parts = [self.text]
        if self.unit is not None:
            done, total = self.counts.get(self.unit, (0, 0))
            filled = _BAR_WIDTH * done // total if total else 0
            parts.append(f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {done}/{total} "
                         f"{self.unit}s")
        parts += [f"{what} {done}/{total}" for what, (done, total) in self.counts.items()
                  if what != self.unit]
        parts.append(f"{time.perf_counter() - self.start:.1f} s")
        return "  ".join(parts)

    def draw(self):
        self.last_draw = time.perf_counter()
        columns = shutil.get_terminal_size((80, 24)).columns
        line = self.line()[:max(columns - 1, 20)]
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def close(self):
        self.draw()
        self.stream.write("\n")
        self.stream.flush()
