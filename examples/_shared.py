"""What every example shares: the command line (--output, --fast), saving a figure.

Not an example itself; each script imports it from its own directory.
"""
import argparse
import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # the examples write files; they never open a window

import matplotlib.pyplot as plt  # noqa: E402

#: Environment variables standing in for the options (the smoke tests use the options).
OUTPUT_ENV = "KMIX_EXAMPLES_OUTPUT"
FAST_ENV = "KMIX_EXAMPLES_FAST"


def parse_args(docstring, argv=None):
    """--output DIR (default $KMIX_EXAMPLES_OUTPUT or ./figures) and --fast (or
    KMIX_EXAMPLES_FAST=1): smaller data and fewer restarts, for smoke tests."""
    parser = argparse.ArgumentParser(description=docstring.strip().splitlines()[0])
    parser.add_argument("-o", "--output", type=pathlib.Path,
                        default=pathlib.Path(os.environ.get(OUTPUT_ENV, "figures")),
                        help=f"directory for the figures (default ${OUTPUT_ENV} or ./figures)")
    parser.add_argument("--fast", action="store_true",
                        default=os.environ.get(FAST_ENV, "0") not in ("", "0"),
                        help=f"smaller sizes, for a quick check (or {FAST_ENV}=1)")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    return args


def save(figure, args, name):
    """Write ``figure`` to ``<output>/<name>.png``, close it, and say where it went."""
    path = args.output / f"{name}.png"
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    print(f"figure   : {path}")
    return path


def panels(n_columns, n_rows=1, size=(4.5, 3.6)):
    """A figure of n_rows x n_columns Axes (a flat array of them)."""
    figure, axes = plt.subplots(n_rows, n_columns,
                                figsize=(size[0] * n_columns, size[1] * n_rows),
                                squeeze=False)
    return figure, axes.ravel()
