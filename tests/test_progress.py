"""kmix._progress (the reports long fits make) and the command line's Progress on stderr."""
import io
import re

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import kmix
from kmix import _cli_progress
from kmix._cli_progress import Progress
from kmix._progress import listening, report
from kmix.model_selection import scan_gmm, scan_kmeans


@pytest.fixture(scope="module")
def X():
    return make_blobs(300, centers=3, random_state=0)[0]


def _listen(fit):
    """Run ``fit()`` with a listener; its result and the (what, done, total) reports."""
    reports = []
    with listening(lambda *r: reports.append(r)):
        result = fit()
    return result, reports


def _of(reports, what):
    return [(done, total) for w, done, total in reports if w == what]


def test_report_without_listener_does_nothing_and_listeners_nest():
    report("fit", 1, 2)                      # nobody listens: no error, nothing happens
    outer, inner = [], []
    with listening(lambda *r: outer.append(r)):
        report("fit", 1, 2)
        with listening(lambda *r: inner.append(r)):
            report("fit", 2, 2)
        report("restart", 1, 1)
    report("fit", 3, 3)
    assert outer == [("fit", 1, 2), ("restart", 1, 1)]
    assert inner == [("fit", 2, 2)]


def test_kmeans_reports_each_restart_and_fits_the_same(X):
    model, reports = _listen(lambda: kmix.KMeans(3, n_init=4, random_state=0).fit(X))
    assert _of(reports, "restart") == [(1, 4), (2, 4), (3, 4), (4, 4)]
    np.testing.assert_array_equal(model.labels_,
                                  kmix.KMeans(3, n_init=4, random_state=0).fit(X).labels_)


def _runs(iterations):
    """The reported iteration counts split into one list per initialisation."""
    starts = [i for i, (done, _) in enumerate(iterations) if done == 1]
    return [[done for done, _ in iterations[a:b]]
            for a, b in zip(starts, starts[1:] + [len(iterations)])]


def test_mixture_reports_each_init_and_its_block_of_iterations(X):
    """full/diag/spherical run all EM iterations of an init in one compiled call: one
    report per init, of the iterations it ran."""
    model, reports = _listen(
        lambda: kmix.GaussianMixture(3, n_init=2, random_state=0).fit(X))
    assert _of(reports, "init") == [(1, 2), (2, 2)]
    iterations = _of(reports, "iteration")
    assert len(iterations) == 2 and all(total == model.max_iter for _, total in iterations)
    assert model.n_iter_ in [done for done, _ in iterations]


def test_mixture_python_loops_report_every_iteration(X):
    """tied covariances and Bayesian mixtures iterate in Python: every iteration, counted
    from 1 in each init."""
    for make in (lambda: kmix.GaussianMixture(3, covariance_type="tied", n_init=2,
                                              random_state=0),
                 lambda: kmix.BayesianGaussianMixture(n_components=3, n_init=2,
                                                      random_state=0)):
        model, reports = _listen(lambda: make().fit(X))
        assert _of(reports, "init") == [(1, 2), (2, 2)]
        runs = _runs(_of(reports, "iteration"))
        assert len(runs) == 2
        assert all(run == list(range(1, len(run) + 1)) for run in runs)
        assert model.n_iter_ in [len(run) for run in runs]


def test_minibatch_reports_each_step(X):
    model, reports = _listen(lambda: kmix.MiniBatchKMeans(3, batch_size=64,
                                                          random_state=0).fit(X))
    steps = _of(reports, "step")
    assert [done for done, _ in steps] == list(range(1, model.n_steps_ + 1))
    assert {total for _, total in steps} == {100 * X.shape[0] // 64}


def test_scans_report_each_fit(X):
    _, reports = _listen(lambda: scan_kmeans(X, range(1, 5), random_state=0))
    assert _of(reports, "fit") == [(1, 4), (2, 4), (3, 4), (4, 4)]
    _, reports = _listen(lambda: scan_gmm(X, [1, 2], covariance_types=("full", "diag"),
                                          random_state=0))
    assert _of(reports, "fit") == [(1, 4), (2, 4), (3, 4), (4, 4)]


# -- the command line's Progress --------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_lines_when_not_a_terminal_and_nothing_when_quiet():
    stream = io.StringIO()
    progress = Progress("kmix cluster", stream=stream)
    assert progress.mode == "lines"
    with progress.stage("reading data.csv"):
        pass
    with progress.stage("fitting KMeans with k=3", units=("restart",)):
        report("restart", 1, 2)              # counts are not printed in this mode
    assert stream.getvalue() == ("kmix cluster: reading data.csv\n"
                                 "kmix cluster: fitting KMeans with k=3\n")
    stream = io.StringIO()
    quiet = Progress("kmix cluster", quiet=True, stream=_Terminal())
    with quiet.stage("reading data.csv"):
        report("fit", 1, 1)
    assert quiet.mode == "quiet" and stream.getvalue() == ""


def test_bar_on_a_terminal_counts_the_stage_units(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(_cli_progress, "_REDRAW_EVERY", 0.0)     # draw on every report
    stream = _Terminal()
    progress = Progress("kmix scan", stream=stream)
    assert progress.mode == "bar"
    with progress.stage("scanning KMeans over k=1..4", units=("fit", "restart")):
        for k in range(1, 5):
            report("restart", 1, 1)
            report("step", 5, 9)             # a unit the stage does not show
            report("fit", k, 4)
    drawn = stream.getvalue()
    assert drawn.startswith("\r") and drawn.endswith("\n")
    final = drawn.rstrip("\n").rsplit("\r", 1)[-1].rstrip()
    assert re.fullmatch(r"kmix scan: scanning KMeans over k=1\.\.4 \[#{20}\] 4/4 fits "
                        r"restart 1/1 done in \d+\.\d s", final)
    assert "step" not in drawn
    # every report redrew the line: the bar half full when the 2nd fit ended
    halfway = [line for line in drawn.split("\r") if "2/4 fits" in line]
    assert halfway and all("[##########..........]" in line for line in halfway)


@pytest.mark.parametrize("columns, bar", [(60, r" \[#{10}\]"), (45, "")])
def test_bar_fits_a_narrow_terminal(monkeypatch, columns, bar):
    """The count of fits and the time are kept; the bar is halved, then dropped to keep 20
    characters of the text, which is cut with '...'."""
    monkeypatch.setenv("COLUMNS", str(columns))
    stream = _Terminal()
    with Progress("kmix cluster", stream=stream).stage(
            "choosing k (auto) for GaussianMixture by BIC", units=("fit", "iteration")):
        report("iteration", 3, 100)
        report("fit", 40, 40)
    lines = [line.rstrip() for line in stream.getvalue().strip().split("\r") if line.strip()]
    assert all(len(line) <= columns - 1 for line in lines)
    assert re.fullmatch(rf"kmix cluster: ch.*\.\.\.{bar} 40/40 fits done in \d+\.\d s",
                        lines[-1])
