"""Run the benchmark-table scripts and write their output to docs/benchmarks.md.

Usage (on a quiet machine: nothing else running; this machine's OpenBLAS overrides unset for
benchmarks only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/write_benchmarks_doc.py \
        [--only kmeans,faiss] [--out docs/benchmarks.md]

Every table in docs/benchmarks.md is the verbatim output of one script run by this file, with
the command, the machine and the library versions: nothing in it is typed by hand. ``--only``
re-runs some sections and keeps the others as they are in the existing file.
"""
import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: key -> (title, script and arguments, what the table shows).
SECTIONS = {
    "kmeans": (
        "KMeans vs scikit-learn", ["bench_table.py"],
        "kmix (default `algorithm='auto'`) against scikit-learn (default Lloyd). \"same init\": "
        "both start from the same k-means++ centres (`n_init=1`); \"end to end\": each "
        "library's own seeding and the row's `n_init`, `random_state=0`. Ratio = kmix / "
        "scikit-learn.",
    ),
    "faiss": (
        "KMeans vs scikit-learn and faiss", ["bench_faiss_table.py"],
        "Same start: the same k random rows, the row's iterations with `tol=0` (scikit-learn "
        "and kmix stop early on strict convergence). End to end: each library's own seeding "
        "(faiss: random sampling). Inertias are one float64 evaluation of each library's "
        "final centres; faiss computes in float32 (its float64 rows get float32 data).",
    ),
    "minibatch": ("MiniBatchKMeans vs scikit-learn", ["bench_minibatch_table.py"], ""),
    "mixture": ("GaussianMixture vs scikit-learn", ["bench_mixture_table.py"], ""),
    "dbscan": ("DBSCAN vs scikit-learn", ["bench_dbscan_table.py"], ""),
    "agglomerative": ("AgglomerativeClustering vs scikit-learn",
                      ["bench_agglomerative_table.py"], ""),
    "spectral": ("SpectralClustering vs scikit-learn", ["bench_spectral_table.py"], ""),
    "metrics": ("Silhouette and scans vs scikit-learn", ["bench_metrics_table.py"], ""),
    "dask": ("kmix.dask vs dask-ml and in-memory kmix", ["bench_dask_table.py"], ""),
}

_SECTION_RE = re.compile(r"^<!-- section: (\w+) -->$", re.M)


def machine():
    """One line: CPU model, cores, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for name in ("kmix", "numpy", "scipy", "sklearn", "faiss", "dask"):
        try:
            mod = __import__(name)
            versions.append(f"{name} {getattr(mod, '__version__', '?')}")
        except ImportError:
            pass
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; " + ", ".join(
        versions)


def run_section(key):
    """The markdown of one section: title, description, command, verbatim output."""
    title, argv, text = SECTIONS[key]
    script = os.path.join(HERE, argv[0])
    if not os.path.exists(script):
        return None
    command = [sys.executable, script, *argv[1:]]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    body = proc.stdout.rstrip()
    if proc.returncode != 0:
        body += f"\n\n(exit code {proc.returncode})\n" + proc.stderr[-2000:]
    shown = " ".join(["python", os.path.join("asv_benchmarks", argv[0]), *argv[1:]])
    table = _markdown(body)
    return (f"<!-- section: {key} -->\n## {title}\n\n{text}\n\n" if text else
            f"<!-- section: {key} -->\n## {title}\n\n") + (
        f"`{shown}` ({datetime.date.today().isoformat()}, {elapsed:.0f} s)\n\n{table}\n")


def _markdown(output):
    """Markdown tables (lines starting with '|') kept as they are, other lines as paragraphs;
    output without a markdown table goes in a code block (fixed-width columns)."""
    lines = output.splitlines()
    if not any(line.startswith("|") for line in lines):
        return f"```\n{output}\n```"
    out, previous_table = [], None
    for line in lines:
        table = line.startswith("|")
        if previous_table is not None and table != previous_table:
            out.append("")
        elif previous_table is False:
            out.append("")
        out.append(line)
        previous_table = table
    return "\n".join(out)


def existing_sections(path):
    """key -> markdown of the sections already in the file."""
    if not os.path.exists(path):
        return {}
    text = open(path).read()
    marks = list(_SECTION_RE.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m.group(1)] = text[m.start():end].rstrip() + "\n"
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated section keys to re-run")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    args = parser.parse_args(argv)
    only = [k for k in args.only.split(",") if k] or list(SECTIONS)
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {sorted(SECTIONS)}")
    sections = existing_sections(args.out)
    for key in only:
        print(f"running {key} ...", file=sys.stderr, flush=True)
        result = run_section(key)
        if result is not None:
            sections[key] = result
    header = (
        "# Benchmarks\n\nGenerated by `asv_benchmarks/write_benchmarks_doc.py`: every table is "
        "the output of the script named above it, run on one machine in one process per "
        "script, the libraries timed alternately (median of 3). Do not edit by hand.\n\n"
        f"Last machine: {machine()}.\n\n"
        "Ratios move by about ±0.1 between runs on a shared 2-core machine (most for the "
        "millisecond fits).\n\n")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(header + "\n".join(sections[k] for k in SECTIONS if k in sections))


if __name__ == "__main__":
    main()
