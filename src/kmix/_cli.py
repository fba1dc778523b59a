"""Command line: ``kmix SUBCOMMAND`` (or ``python -m kmix SUBCOMMAND``).

The parser and the entry point; the commands live in ``_cli_commands`` (the user's files) and
``_cli_demo`` (built-in data). A problem with the user's input is one line on stderr and exit
status 1 (2 for a malformed command line), never a traceback.
"""
import argparse
import os
import sys
import warnings
from contextlib import contextmanager

from ._cli_io import CLIError
from ._cli_models import MODELS, KChoice, parse_k

__all__ = ["main", "build_parser"]

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _contamination(text):
    value = _positive_float(text)
    if value > 0.5:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 0.5], got {text}")
    return value


def _column_list(text):
    return [name.strip() for name in text.split(",") if name.strip()]


class _Parser(argparse.ArgumentParser):
    """argparse, with a malformed command line said in one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _ExtendColumns(argparse.Action):
    """``--columns a,b --columns c``: a, b, c."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, (getattr(namespace, self.dest) or []) + values)


def _add_run_options(parser, n_init=True):
    parser.add_argument("--random-state", type=int, default=42,
                        help="seed of every random choice (default 42): the same seed gives "
                             "the same output")
    parser.add_argument("--n-threads", type=_positive_int, default=None,
                        help="threads (default: all cores)")
    if n_init:
        parser.add_argument("--n-init", type=_positive_int, default=None,
                            help="restarts of k-means or of a mixture (default: the "
                                 "estimator's)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress on stderr")
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing output files")


def _add_data_options(parser, file_required=True):
    parser.add_argument("file", metavar="FILE", nargs=None if file_required else "?",
                        help="CSV/TSV/text table (header and delimiter guessed), .npy, or "
                             ".parquet (needs pandas and pyarrow)")
    parser.add_argument("--columns", type=_column_list, action=_ExtendColumns, default=None,
                        help="feature columns, names or 1-based positions, comma-separated "
                             "(default: all but the id column)")
    parser.add_argument("--id-column", default=None,
                        help="column that identifies the rows in the output (default: the "
                             "row number, from 1)")
    header = parser.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_true", default=None,
                        help="the first row names the columns (default: guessed)")
    header.add_argument("--no-header", dest="header", action="store_false", default=None,
                        help="the first row is data")
    parser.add_argument("--dropna", action="store_true",
                        help="leave out rows with NaN, missing or infinite values")
    parser.add_argument("--scale", action="store_true",
                        help="scale each feature to zero mean and unit variance first")
    parser.add_argument("--plot", metavar="FIGURE", default=None,
                        help="save a figure (.png, .pdf, .svg; needs kmix[plot])")
    _add_run_options(parser)


def _add_silhouette_option(parser):
    parser.add_argument("--silhouette-sample", type=_positive_int, default=10000,
                        help="random rows the silhouette is computed on when there are more "
                             "(default 10000)")


def _add_mixture_options(parser):
    parser.add_argument("--covariance-type", choices=_COVARIANCE_TYPES, default=None,
                        help="of a Gaussian mixture (default full; every type is tried when "
                             "k is chosen)")


def _add_cluster(sub):
    from ._cli_commands import cluster

    parser = sub.add_parser("cluster", help="cluster the rows of a data file",
                            description="Cluster the rows of FILE; write each row's label "
                                        "(and a mixture's probabilities) with -o.")
    _add_data_options(parser)
    parser.add_argument("--k", type=parse_k, default=None,
                        help="clusters: N, a range A..B to choose from, or auto (default; "
                             "silhouette for k-means and graph models, BIC for mixtures)")
    parser.add_argument("--model", choices=MODELS, default="kmeans",
                        help="the estimator (default kmeans)")
    _add_silhouette_option(parser)
    parser.add_argument("-o", "--output", default=None,
                        help="labels file (.csv or .tsv): id, label, probabilities")
    _add_mixture_options(parser)
    parser.add_argument("--eps", type=_positive_float, default=0.5,
                        help="dbscan: neighbourhood radius (default 0.5)")
    parser.add_argument("--min-samples", type=_positive_int, default=5,
                        help="dbscan: neighbours of a core sample (default 5)")
    parser.add_argument("--linkage", choices=("ward", "complete", "average", "single"),
                        default="ward", help="agglomerative: linkage (default ward)")
    parser.add_argument("--affinity", choices=("rbf", "nearest_neighbors"), default="rbf",
                        help="spectral: affinity (default rbf)")
    parser.set_defaults(func=cluster)


def _add_segment(sub):
    from ._cli_commands import segment

    parser = sub.add_parser("segment", help="quantise an image's colours with k-means",
                            description="Replace each pixel's colour by the centre of its "
                                        "k-means cluster of colours (needs kmix[plot]).")
    parser.add_argument("image", metavar="IMAGE", help="any image Pillow reads")
    parser.add_argument("--colors", type=_positive_int, default=8,
                        help="number of colours (default 8)")
    parser.add_argument("-o", "--output", required=True,
                        help="the quantised image (.png keeps the colours exact)")
    parser.add_argument("--sample", type=_positive_int, default=None,
                        help="fit on this many random pixels (default: all), then colour "
                             "every pixel")
    _add_run_options(parser, n_init=False)
    parser.set_defaults(func=segment)


def _add_anomalies(sub):
    from ._cli_commands import anomalies

    parser = sub.add_parser("anomalies", help="flag the least dense rows of a Gaussian mixture",
                            description="Fit a Gaussian mixture and flag the rows whose "
                                        "density is below the --contamination quantile.")
    _add_data_options(parser)
    parser.add_argument("--contamination", type=_contamination, default=0.04,
                        help="fraction of the rows flagged (default 0.04)")
    parser.add_argument("--k", type=parse_k, default=KChoice(),
                        help="mixture components: N, A..B or auto (default: lowest BIC)")
    parser.add_argument("-o", "--output", default=None,
                        help="flags file (.csv or .tsv): id, anomaly (1 or 0), log_density")
    _add_mixture_options(parser)
    parser.set_defaults(func=anomalies)


def _scan(args):
    from ._cli_commands import scan
    from ._cli_demo import builtin_scan

    return builtin_scan(args) if args.file is None else scan(args)


def _add_scan(sub):
    parser = sub.add_parser("scan", help="how many clusters: inertia/silhouette or BIC per k",
                            description="Fit every k of --k and print inertia and silhouette "
                                        "(k-means) or BIC/AIC (mixtures). Without FILE: the "
                                        "chapter's data.")
    _add_data_options(parser, file_required=False)
    parser.add_argument("--k", type=parse_k, default=KChoice(),
                        help="the k to fit: A..B (default 1..10; 1..9 on the chapter's data)")
    parser.add_argument("--model", choices=("kmeans", "gmm"), default="kmeans",
                        help="kmeans: inertia, silhouette; gmm: BIC, AIC per covariance type")
    _add_silhouette_option(parser)
    parser.add_argument("-o", "--output", default=None,
                        help="the scan's table (.csv or .tsv)")
    _add_mixture_options(parser)
    parser.set_defaults(func=_scan)


def _add_demos(sub):
    from ._cli_demo import demo, info, shapes

    parser = sub.add_parser("demo", help="fit KMeans on the chapter's five blobs and print it")
    parser.add_argument("--n-clusters", type=int, default=5)
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--algorithm", default="auto",
                        choices=["lloyd", "elkan", "hamerly", "auto"])
    parser.add_argument("--random-state", type=int, default=7)
    parser.add_argument("--n-threads", type=int, default=None)
    parser.set_defaults(func=demo)
    parser = sub.add_parser("shapes", help="DBSCAN, spectral and agglomerative clustering on "
                                           "two moons, against k-means")
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--eps", type=float, default=0.2)
    parser.add_argument("--min-samples", type=int, default=5)
    parser.add_argument("--gamma", type=float, default=100.0)
    parser.set_defaults(func=shapes)
    parser = sub.add_parser("info", help="version, OpenMP and thread count")
    parser.set_defaults(func=info)


def build_parser():
    """The ``kmix`` argument parser."""
    parser = _Parser(
        prog="kmix",
        description="kmix: compiled clustering and Gaussian mixtures, on your own files.",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=_Parser)
    _add_cluster(sub)
    _add_segment(sub)
    _add_anomalies(sub)
    _add_scan(sub)
    _add_demos(sub)
    return parser


@contextmanager
def _one_line_warnings(prog):
    """Warnings (scikit-learn's ConvergenceWarning, ...) as ``prog: warning: message``."""
    with warnings.catch_warnings():
        def show(message, category, filename, lineno, file=None, line=None):
            print(f"{prog}: warning: {message}", file=sys.stderr, flush=True)

        warnings.showwarning = show
        yield


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    prog = f"kmix {args.command}"
    try:
        with _one_line_warnings(prog):
            return args.func(args)
    except (CLIError, ValueError) as exc:   # ValueError: kmix's checks of the data
        print(f"{prog}: error: {exc}", file=sys.stderr)
    except MemoryError:
        print(f"{prog}: error: out of memory", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # the reader of stdout left (| head): end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
