"""Ctrl-C and progress in the long compiled calls (k-means++ seeding, Lloyd and EM runs, Ward's
nearest-neighbour chain and Prim's minimum spanning tree).

Each interrupt test starts, in a fresh interpreter, a fit whose compiled call runs for many
seconds (at least 5 s on a fast machine, at least 5x the latency bound), sends it a real
SIGINT and checks that KeyboardInterrupt reaches the caller well before the call would have
ended, with the estimator left as its previous fit made it.
"""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from kmix import KMeans

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")

# Seconds from SIGINT to KeyboardInterrupt in the child: a liveness bound, not a benchmark
# (signals are handled every 0.1 s between centres or iterations, which take < 0.2 s here).
LATENCY_BOUND = 1.5

# The child fits `small` (3 features) first, sets the long fit's parameters, prints START,
# fits X under try/except and reports whether the interrupted fit left every attribute as
# it was (the first fit's, and the new parameters).
CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from kmix import AgglomerativeClustering, GaussianMixture, KMeans

    rng = np.random.default_rng(0)
    small = rng.standard_normal((500, 3))
    X = rng.standard_normal(({n}, 16))
    est = {estimator}
    est.fit(small)
    est.set_params({long_params})
    before = {{k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
               for k, v in vars(est).items()}}
    print("START", flush=True)
    try:
        est.fit(X)
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    t_end = time.monotonic()
    after = vars(est)
    kept = before.keys() == after.keys() and all(
        np.array_equal(before[k], after[k]) if isinstance(before[k], np.ndarray)
        else before[k] is after[k] or before[k] == after[k] for k in before)
    print(json.dumps({{"outcome": outcome, "t_end": t_end, "state_kept": bool(kept),
                       "predicts": (bool(est.predict(small).shape == (500,))
                                    if hasattr(est, "predict") else None)}}), flush=True)
    """
)


def _read_line(proc, prefix, timeout=120):
    """The child's next stdout line starting with prefix (earlier lines are skipped); the
    child is killed if none comes within timeout seconds."""
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:
            if line.startswith(prefix):
                return line
    finally:
        watchdog.cancel()
    proc.kill()
    pytest.fail(f"no {prefix!r} line from the child; stderr:\n{proc.stderr.read()[-3000:]}")


def _interrupt(n, estimator, long_params, wait_for="START", delay=0.5):
    """Run CHILD, send SIGINT `delay` s after its `wait_for` line; return (report, latency,
    the child's stdout lines before its report)."""
    code = CHILD.format(n=n, estimator=estimator, long_params=long_params)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)
    try:
        _read_line(proc, "START")
        lines = [] if wait_for == "START" else [_read_line(proc, wait_for)]
        time.sleep(delay)
        t_signal = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    *rest, report = out.strip().splitlines()
    report = json.loads(report)
    return report, report["t_end"] - t_signal, lines + rest


def _check_interrupted(report, latency):
    assert report["outcome"] == "KeyboardInterrupt"
    assert latency < LATENCY_BOUND
    assert report["state_kept"]
    assert report["predicts"] is not False


# k-means++ with 1024 centres on 300k x 16 rows is one compiled call of 10-40 s.
SEEDING = ("KMeans(4, n_init=1, verbose={verbose}, random_state=0)",
           "n_clusters=1024, max_iter=1")


def test_seeding_interrupted():
    report, latency, lines = _interrupt(300_000, SEEDING[0].format(verbose=0), SEEDING[1])
    _check_interrupted(report, latency)
    assert lines == []


def test_seeding_progress_during_the_call():
    # The signal is sent on the first progress line (printed after about a second), so the
    # line came while the call ran. (Printing also handles signals: this test alone would not
    # show that a silent seeding is interruptible.)
    report, latency, lines = _interrupt(300_000, SEEDING[0].format(verbose=1), SEEDING[1],
                                        wait_for="Seeding:", delay=0.0)
    _check_interrupted(report, latency)
    progress = [line for line in lines if line.startswith("Seeding:")]
    m = re.fullmatch(r"Seeding: (\d+)/1024 centres \((\d+\.\d) s\)", progress[0].strip())
    assert m is not None, progress[0]
    done, elapsed = int(m.group(1)), float(m.group(2))
    assert 1 <= done < 1024
    assert done * 10 // 1024 >= 1 or elapsed >= 1.0  # a tenth of the centres, or a second
    assert not any(line.startswith("Initialization complete") for line in lines)


def test_lloyd_run_interrupted():
    # 300 Lloyd iterations (tol=0, no convergence on Gaussian noise) with 256 centres on
    # 200k x 16 rows: one lloyd_run_dense call of 10-25 s.
    report, latency, _ = _interrupt(
        200_000, "KMeans(4, n_init=1, algorithm='lloyd', random_state=0)",
        "n_clusters=256, init=X[:256], max_iter=300, tol=0.0")
    _check_interrupted(report, latency)


def test_em_run_interrupted():
    # 400 EM iterations (tol=0 never stops earlier) of 32 diagonal components on 200k x 16
    # rows: one em_run call of 15-40 s.
    report, latency, _ = _interrupt(
        200_000, "GaussianMixture(2, covariance_type='diag', random_state=0)",
        "n_components=32, init_params='random_from_data', max_iter=400, tol=0.0")
    _check_interrupted(report, latency)


@pytest.mark.parametrize("n_clusters, expected", [(20, list(range(2, 21, 2))),
                                                  (4, [1, 2, 3, 4])])
def test_verbose_seeding_reports_tenths(capsys, n_clusters, expected):
    # A fast seeding prints one line per tenth of the centres (every centre below 10).
    X = np.random.default_rng(0).standard_normal((2000, 5))
    KMeans(n_clusters, n_init=1, max_iter=1, verbose=1, random_state=0).fit(X)
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("Seeding:")]
    counts = [int(re.fullmatch(rf"Seeding: (\d+)/{n_clusters} centres \(\d+\.\d s\)",
                               line).group(1)) for line in lines]
    assert counts == expected


def test_verbose_seeding_same_centres_and_silent_without_verbose(capsys):
    X = np.random.default_rng(1).standard_normal((2000, 5))
    quiet = KMeans(20, n_init=1, max_iter=5, random_state=0).fit(X)
    assert capsys.readouterr().out == ""
    loud = KMeans(20, n_init=1, max_iter=5, verbose=1, random_state=0).fit(X)
    assert "Seeding: 20/20 centres" in capsys.readouterr().out
    assert quiet.cluster_centers_.tobytes() == loud.cluster_centers_.tobytes()


@pytest.mark.parametrize("linkage, n", [("ward", 60_000), ("single", 100_000)])
def test_hierarchy_interrupted(linkage, n):
    # Ward's nearest-neighbour chain on 60k x 16 rows and Prim's tree on 100k x 16 rows: one
    # compiled call (ward_nn_chain, mst_prim) of 10-60 s each.
    report, latency, _ = _interrupt(n, f"AgglomerativeClustering(2, linkage={linkage!r})",
                                    "n_clusters=4")
    _check_interrupted(report, latency)
