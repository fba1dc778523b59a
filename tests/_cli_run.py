"""Running the installed ``kmix`` command in subprocesses, for the command-line tests.

Every run starts a Python that imports kmix and scikit-learn (~1-2 s of CPU), so the tests
start their runs together, a few at a time, and then assert on the finished results.
"""
import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

#: kmix processes running at once (their start-up is mostly single-threaded imports).
PARALLEL_RUNS = 3


def kmix_command():
    """The installed console script: beside this Python, else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "kmix")
    if os.path.exists(beside):
        return beside
    found = shutil.which("kmix")
    assert found is not None, "the kmix command is not installed"
    return found


def run_kmix(args, cwd, env=None):
    """``kmix *args`` in ``cwd`` (``env``: variables added to the environment); the
    CompletedProcess (text stdout/stderr)."""
    return subprocess.run([kmix_command(), *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600,
                          env=None if env is None else {**os.environ, **env})


def run_all(commands, cwd, envs=None):
    """Run every ``{name: args}`` command (with ``envs[name]`` added to its environment);
    ``{name: CompletedProcess}``."""
    envs = envs or {}
    names = list(commands)
    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        results = pool.map(lambda name: run_kmix(commands[name], cwd, envs.get(name)), names)
        return dict(zip(names, results))


def file_hashes(folder):
    """SHA-256 of every file in ``folder``."""
    hashes = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                hashes[name] = hashlib.sha256(f.read()).hexdigest()
    return hashes


def summary_field(out, name):
    """The value of the ``name : value`` line of a summary."""
    for line in out.splitlines():
        key, sep, value = line.partition(" : ")
        if sep and key.strip() == name:
            return value.strip()
    raise AssertionError(f"no '{name}' line in:\n{out}")
