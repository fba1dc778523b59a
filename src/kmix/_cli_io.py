"""The command line's files: reading tables (CSV, TSV, .npy, .parquet) and images, checking
and writing outputs.

Every problem with the user's files is raised as :class:`CLIError`, whose message the command
line prints as one line. Input files are only ever opened for reading; outputs are written to a
temporary file beside the target and renamed onto it, so an interrupted run never leaves half a
file and an existing file is only replaced with ``--force``.
"""
import csv
import os
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["CLIError", "Table", "Features", "read_table", "select_features", "check_output",
           "write_table", "write_atomically", "read_image", "image_suffixes", "write_image",
           "TABLE_OUTPUTS"]

#: Text fields read as a missing value (compared case-insensitively, after stripping blanks).
MISSING = ("", "na", "n/a", "nan", "null", "none")
#: Delimiters a text table may use, tried in this order (then runs of blanks).
DELIMITERS = (",", "\t", ";", "|")
#: Suffixes of the tables the command line writes (comma-separated unless tab-separated).
TABLE_OUTPUTS = (".csv", ".tsv", ".tab", ".txt")
_TAB_SUFFIXES = (".tsv", ".tab")
_COMMON_IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".webp")
_NPY_MAGIC = b"\x93NUMPY"
_SNIFF_BYTES = 64 * 1024
#: Suffixes an error message lists at most (then "...").
_LISTED_SUFFIXES = 6
_SNIFF_LINES = 20


class CLIError(Exception):
    """A problem with the user's input or output files or options, shown as one line."""


@dataclass
class Table:
    """The columns of a file: float64 arrays where every value is a number (or missing),
    arrays of str otherwise."""
    path: str
    names: list
    columns: list

    @property
    def n_rows(self):
        return self.columns[0].shape[0] if self.columns else 0


@dataclass
class Features:
    """What a command fits: X (n_rows, n_features) and the id of each row.

    ``n_dropped`` rows with NaN/inf were left out (``--dropna``); ``ids`` keeps the ids of the
    remaining rows, so output rows can be matched to input rows."""
    X: np.ndarray
    names: list
    ids: np.ndarray
    id_name: str
    n_dropped: int


# -- reading tables ---------------------------------------------------------------------------
def _check_input(path):
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a directory, not a data file")
    if not os.access(path, os.R_OK):
        raise CLIError(f"{path}: permission denied")


def read_table(path, header=None):
    """Read the table in ``path`` by its suffix: ``.npy``, ``.parquet``/``.pq``, anything else
    as delimited text (delimiter and header sniffed).

    Parameters
    ----------
    path : str
    header : bool or None
        For text: whether the first row names the columns (None: guess).

    Returns
    -------
    Table
    """
    _check_input(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npy":
        table = _read_npy(path)
    elif suffix in (".parquet", ".pq"):
        table = _read_parquet(path)
    else:
        table = _read_text(path, header, "\t" if suffix in _TAB_SUFFIXES else "sniff")
    if not table.columns or table.n_rows == 0:
        raise CLIError(f"{path} has no data rows")
    return table


def _numeric_or_text(values):
    """A column as float64 if its dtype is numeric (bool and int included), else as str."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    return values.astype(str)


def _read_npy(path):
    with open(path, "rb") as f:
        if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise CLIError(f"cannot read {path}: not a NumPy .npy file")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError:   # what numpy raises for an object array without allow_pickle
        raise CLIError(f"cannot read {path}: object arrays are not supported") from None
    except (OSError, EOFError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    if array.dtype.names:
        return Table(path, list(array.dtype.names),
                     [_numeric_or_text(array[name]) for name in array.dtype.names])
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise CLIError(f"cannot read {path}: expected a 1-D or 2-D array, got "
                       f"{array.ndim} dimensions")
    return Table(path, [f"col{j + 1}" for j in range(array.shape[1])],
                 [_numeric_or_text(array[:, j]) for j in range(array.shape[1])])


def _read_parquet(path):
    try:
        import pandas as pd
        frame = pd.read_parquet(path)
    except ImportError:
        raise CLIError(f"reading {path} needs pandas and pyarrow: "
                       "pip install pandas pyarrow") from None
    except Exception as exc:  # pyarrow's and fastparquet's errors have no common base
        raise CLIError(f"cannot read {path}: not a Parquet file ({type(exc).__name__})") \
            from None
    columns = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column):
            columns.append(column.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            columns.append(column.astype(str).to_numpy())
    return Table(path, [str(name) for name in frame.columns], columns)


def _sniff_lines(path):
    """The first data lines of a text file (comments and blank lines skipped), and the number
    of lines before the first of them."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if not head.strip():
        raise CLIError(f"{path} is empty")
    if b"\0" in head:
        raise CLIError(f"cannot read {path}: not a text table (CSV/TSV), .npy or .parquet file")
    if len(head) == _SNIFF_BYTES and b"\n" in head:
        head = head[:head.rindex(b"\n")]       # no character cut in half
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CLIError(f"cannot read {path}: not UTF-8 text (CSV/TSV), .npy or .parquet") \
            from None
    numbered = [(i, line) for i, line in enumerate(text.splitlines())
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise CLIError(f"{path} has no data rows")
    return [line for _, line in numbered[:_SNIFF_LINES]], numbered[0][0]


def _split(line, delimiter):
    if delimiter is None:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter, quotechar='"'))


def _sniff_delimiter(lines):
    """The first delimiter that splits every sniffed line into the same number (> 1) of
    fields; else blanks if they do; else ',' (a single column)."""
    for delimiter in DELIMITERS + (None,):
        counts = {len(_split(line, delimiter)) for line in lines}
        if len(counts) == 1 and counts.pop() > 1:
            return delimiter
    return ","


def _is_number(field):
    field = field.strip()
    if field.lower() in MISSING:
        return False
    try:
        float(field)
    except ValueError:
        return False
    return True


def _sniff_header(rows):
    """A first row names the columns if none of its fields is a number, or if one of its
    fields is text where the second row has a number."""
    first = rows[0]
    if not any(_is_number(field) for field in first):
        return True
    if len(rows) > 1:
        return any(not _is_number(a) and _is_number(b) for a, b in zip(first, rows[1]))
    return False


def _load_text(path, delimiter, skiprows, dtype):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)     # "input contained no data"
            values = np.loadtxt(path, delimiter=delimiter, skiprows=skiprows, dtype=dtype,
                                comments="#", quotechar='"', ndmin=2, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CLIError(f"cannot read {path}: not UTF-8 text") from None
    return values


def _read_text(path, header, delimiter):
    lines, before = _sniff_lines(path)
    if delimiter == "sniff":
        delimiter = _sniff_delimiter(lines)
    rows = [_split(line, delimiter) for line in lines[:2]]
    if header is None:
        header = _sniff_header(rows)
    n_columns = len(rows[0])
    names = [name.strip() or f"col{j + 1}" for j, name in enumerate(rows[0])] if header else \
        [f"col{j + 1}" for j in range(n_columns)]
    skip = before + 1 if header else 0     # loadtxt skips comments and blank lines itself
    try:
        try:
            values = _load_text(path, delimiter, skip, np.float64)
            columns = [values[:, j] for j in range(values.shape[1])]
        except ValueError as exc:
            if "number of columns changed" in str(exc):
                raise
            text = _load_text(path, delimiter, skip, str)
            columns = [_text_column(text[:, j]) for j in range(text.shape[1])]
    except ValueError as exc:
        raise CLIError(f"cannot read {path}: {str(exc).split(';')[0]}") from None
    if not columns or columns[0].shape[0] == 0:
        return Table(path, names, [])
    if len(columns) != len(names):
        raise CLIError(f"cannot read {path}: the header has {len(names)} fields but the rows "
                       f"have {len(columns)}")
    return Table(path, names, columns)


def _text_column(text):
    """float64 if every field is a number or missing (missing -> NaN), else the text."""
    stripped = np.char.strip(text)
    missing = np.isin(np.char.lower(stripped), MISSING)
    try:
        return np.where(missing, "nan", stripped).astype(np.float64)
    except ValueError:
        return stripped


def _first_non_number(text):
    """Index of the first field of ``text`` (known to hold one) that is neither a number nor
    missing, by bisection: O(n) conversions in O(log n) numpy calls."""
    lo, hi = 0, text.shape[0]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _text_column(text[lo:mid]).dtype.kind == "f":
            lo = mid
        else:
            hi = mid
    return lo


# -- choosing the features --------------------------------------------------------------------
def _column_index(table, spec):
    """The index of the column named ``spec``, or at 1-based position ``spec``."""
    if spec in table.names:
        return table.names.index(spec)
    if spec.isdigit() and 1 <= int(spec) <= len(table.names):
        return int(spec) - 1
    raise CLIError(f"{table.path} has no column {spec!r} (columns: {', '.join(table.names)})")


def _ids(values):
    """Id values for output: whole floats as ints, text as it is."""
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and \
            np.array_equal(values, np.round(values)):
        return values.astype(np.int64)
    return values


def select_features(table, columns=None, id_column=None, dropna=False):
    """The numeric matrix a command fits, with the rows' ids.

    Parameters
    ----------
    table : Table
    columns : list of str or None
        Names or 1-based positions of the feature columns (None: every column but the id).
    id_column : str or None
        Name or position of a column identifying the rows (None: the 1-based row number).
    dropna : bool
        Leave out rows with NaN, missing or infinite values instead of failing.

    Returns
    -------
    Features
    """
    id_index = None if id_column is None else _column_index(table, id_column)
    if columns:
        chosen = [_column_index(table, spec) for spec in columns]
    else:
        chosen = [j for j in range(len(table.names)) if j != id_index]
    if id_index is not None and id_index in chosen:
        raise CLIError(f"column {table.names[id_index]!r} cannot be both the id and a feature")
    if not chosen:
        raise CLIError(f"{table.path} has no feature column besides the id")
    text = [j for j in chosen if table.columns[j].dtype.kind != "f"]
    if text:
        column = table.columns[text[0]]
        row = _first_non_number(column)
        names = ", ".join(repr(table.names[j]) for j in text)
        raise CLIError(
            f"{table.path}: non-numeric column{'s' if len(text) > 1 else ''} {names} "
            f"({str(column[row])!r} in row {row + 1}); choose numeric columns with --columns "
            "or name the id column with --id-column")
    X = np.column_stack([table.columns[j] for j in chosen])
    if id_index is None:
        ids, id_name = np.arange(1, table.n_rows + 1), "row"
    else:
        ids, id_name = _ids(table.columns[id_index]), table.names[id_index]
    finite = np.isfinite(X).all(axis=1)
    n_bad = int(X.shape[0] - np.count_nonzero(finite))
    if n_bad and not dropna:
        first = int(np.argmin(finite)) + 1
        raise CLIError(f"{table.path}: {n_bad} row{'s' if n_bad > 1 else ''} with NaN, missing "
                       f"or infinite values (first: row {first}); leave them out with --dropna")
    if n_bad:
        if n_bad == X.shape[0]:
            raise CLIError(f"{table.path}: every row has NaN, missing or infinite values")
        X, ids = X[finite], ids[finite]
    return Features(np.ascontiguousarray(X), [table.names[j] for j in chosen], ids, id_name,
                    n_bad)


# -- outputs ----------------------------------------------------------------------------------
def check_output(path, *, force, inputs=(), suffixes=None, what="output"):
    """Fail now, before any work, if ``path`` cannot or must not be written.

    It must have one of ``suffixes``, not be one of the ``inputs``, not exist unless
    ``force``, and its folder must exist and take a new file.
    """
    suffix = os.path.splitext(path)[1].lower()
    if suffixes is not None and suffix not in suffixes:
        listed = ", ".join(suffixes[:_LISTED_SUFFIXES])
        raise CLIError(f"{what} {path} must end in {listed}"
                       f"{', ...' if len(suffixes) > _LISTED_SUFFIXES else ''}")
    if os.path.isdir(path):
        raise CLIError(f"{what} {path} is a directory")
    if os.path.exists(path):
        if any(os.path.exists(p) and os.path.samefile(path, p) for p in inputs):
            raise CLIError(f"{what} {path} is the input file; inputs are never overwritten")
        if not force:
            raise CLIError(f"{what} {path} exists; use --force to overwrite it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path}: folder {os.path.dirname(path) or '.'} does not "
                       "exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None
    return path


def write_atomically(path, write):
    """``write(file_name)`` into a temporary file beside ``path``, then rename it onto
    ``path`` with the permissions a new file would get."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".kmix-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_table(path, columns):
    """Write ``columns`` (a dict name -> 1-D array, or values formatted with a printf
    format given as (array, format)) as CSV, or tab-separated for .tsv/.tab."""
    delimiter = "\t" if os.path.splitext(path)[1].lower() in _TAB_SUFFIXES else ","
    texts = []
    for values in columns.values():
        if isinstance(values, tuple):
            values, fmt = values
            texts.append(np.char.mod(fmt, values))
        else:
            texts.append(np.asarray(values).astype(str))

    def write(name):
        with open(name, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
            writer.writerow(list(columns))
            writer.writerows(zip(*texts))

    write_atomically(path, write)


# -- images -----------------------------------------------------------------------------------
def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise CLIError('images need Pillow, which matplotlib installs: '
                       'pip install "kmix[plot]"') from None
    return Image


def read_image(path):
    """The image in ``path`` as a uint8 array (height, width, channels): RGB, or RGBA when it
    has transparency, or one channel for greyscale."""
    _check_input(path)
    Image = _pillow()
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode not in ("L", "RGB", "RGBA"):
                has_alpha = "A" in mode or "transparency" in image.info
                mode = "RGBA" if has_alpha else ("L" if mode in ("1", "I", "I;16", "F")
                                                 else "RGB")
            array = np.asarray(image.convert(mode))
    except (Image.UnidentifiedImageError, OSError, ValueError) as exc:
        detail = "not an image file Pillow can read" if isinstance(
            exc, Image.UnidentifiedImageError) else str(exc)
        raise CLIError(f"cannot read {path}: {detail}") from None
    return array if array.ndim == 3 else array[:, :, None]


def image_suffixes():
    """Suffixes Pillow can write, the common ones first."""
    Image = _pillow()
    writable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}
    common = [ext for ext in _COMMON_IMAGES if ext in writable]
    return tuple(common + sorted(writable.difference(common)))


def write_image(path, array):
    """Write a uint8 (height, width, channels) array as an image, format by suffix."""
    Image = _pillow()
    image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    suffix = os.path.splitext(path)[1].lower()
    if image.mode == "RGBA" and suffix in (".jpg", ".jpeg"):
        image = image.convert("RGB")
    fmt = Image.registered_extensions()[suffix]
    write_atomically(path, lambda name: image.save(name, format=fmt))
