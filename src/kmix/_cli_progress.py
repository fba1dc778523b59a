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
_BAR_WIDTH = 20
#: Characters of a stage's text kept before the bar is dropped on a narrow terminal.
_MIN_TEXT = 20


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
    def stage(self, text, units=()):
        """Report the work done inside the ``with`` block as one stage.

        Parameters
        ----------
        text : str
            What the stage does ("fitting KMeans with k=5").
        units : tuple of str
            Units of kmix's progress reports (``'fit'``, ``'restart'``, ``'init'``,
            ``'iteration'``, ``'step'``): the first is drawn as the bar, the others as
            counts; reports of other units are not shown.
        """
        if self.mode == "quiet":
            yield
            return
        if self.mode == "lines":
            print(f"{self.prefix}: {text}", file=self.stream, flush=True)
            yield
            return
        bar = _Bar(self.stream, f"{self.prefix}: {text}", tuple(units))
        try:
            with listening(bar.update):
                yield
        finally:
            bar.close()


class _Bar:
    """One self-rewriting terminal line."""

    def __init__(self, stream, text, units):
        self.stream, self.text, self.units = stream, text, units
        self.counts = {}
        self.start = self.last_draw = time.perf_counter()
        self.width = 0
        self.draw()

    def update(self, what, done, total):
        self.counts[what] = (done, total)
        now = time.perf_counter()
        if now - self.last_draw >= _REDRAW_EVERY or (
                self.units and what == self.units[0] and done == total):
            self.draw()

    def line(self, width, finished=False):
        """The text, the bar and count of the first unit, the counts of the others and the
        time, in at most ``width`` characters: the other counts are left out first, then the
        bar shortened, then the text cut."""
        done, total = self.counts.get(self.units[0], (0, 0)) if self.units else (0, 0)
        count = [f"{done}/{total} {self.units[0]}s"] if total else []
        extras = [f"{what} {self.counts[what][0]}/{self.counts[what][1]}"
                  for what in self.units[1:] if what in self.counts]
        elapsed = f"{time.perf_counter() - self.start:.1f} s"
        tail = [f"done in {elapsed}" if finished else elapsed]

        def compose(text, bar_width, extras):
            bar = []
            if self.units and bar_width:
                filled = bar_width * done // total if total else 0
                bar = [f"[{'#' * filled}{'.' * (bar_width - filled)}]"]
            return " ".join([text] + bar + count + extras + tail)

        for bar_width, shown in ((_BAR_WIDTH, extras), (_BAR_WIDTH, []),
                                 (_BAR_WIDTH // 2, [])):
            line = compose(self.text, bar_width, shown)
            if len(line) <= width:
                return line
        bar_width = _BAR_WIDTH // 2
        if width - len(compose("", bar_width, [])) < _MIN_TEXT:
            bar_width = 0
        room = width - len(compose("", bar_width, []))
        return compose(self.text[:max(room - 3, 0)] + "...", bar_width, [])[:width]

    def draw(self, finished=False):
        self.last_draw = time.perf_counter()
        columns = shutil.get_terminal_size((80, 24)).columns
        line = self.line(max(columns - 1, 20), finished)
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def close(self):
        self.draw(finished=True)
        self.stream.write("\n")
        self.stream.flush()
