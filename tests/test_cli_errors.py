"""Bad input to the installed ``kmix`` command: one clear line on stderr, a non-zero exit
status, no traceback, no output file, and the input files untouched."""
import os

import numpy as np
import pytest
from _cli_run import file_hashes, run_all

#: name: (arguments, exit status, stderr: the one line, after the stage lines when not -q).
CASES = {
    "missing file": (["cluster", "nowhere.csv"], 1,
                     "kmix cluster: error: nowhere.csv: no such file"),
    "binary file": (["cluster", "binary.csv"], 1,
                    "kmix cluster: error: cannot read binary.csv: not a text table (CSV/TSV), "
                    ".npy or .parquet file"),
    "not an npy file": (["scan", "fake.npy"], 1,
                        "kmix scan: error: cannot read fake.npy: not a NumPy .npy file"),
    "rows of different lengths": (["cluster", "ragged.csv"], 1,
                                  "kmix cluster: error: cannot read ragged.csv: the number of "
                                  "columns changed from 2 to 3 at row 3"),
    "empty file": (["anomalies", "empty.csv"], 1, "kmix anomalies: error: empty.csv is empty"),
    "non-numeric columns": (["cluster", "text.csv"], 1,
                            "kmix cluster: error: text.csv: non-numeric columns 'name', 'city' "
                            "('a' in row 1); choose numeric columns with --columns or name "
                            "the id column with --id-column"),
    # not quiet: the stage line comes first, then the error
    "nan and inf": (["cluster", "holes.csv", "--k", "2"], 1,
                    "kmix cluster: reading holes.csv\n"
                    "kmix cluster: error: holes.csv: 3 rows with NaN, missing or infinite "
                    "values (first: row 2); leave them out with --dropna"),
    "k larger than the rows": (["cluster", "small.csv", "--k", "21"], 1,
                               "kmix cluster: error: k=21 is larger than the number of rows "
                               "(20)"),
    "output folder missing": (["cluster", "small.csv", "--k", "2", "-o", "no/where/out.csv"], 1,
                              "kmix cluster: error: cannot write no/where/out.csv: folder "
                              "no/where does not exist"),
    "output is a folder": (["cluster", "small.csv", "--k", "2", "-o", "folder.csv"], 1,
                           "kmix cluster: error: output folder.csv is a directory"),
    "output exists": (["anomalies", "small.csv", "--k", "1", "-o", "existing.csv"], 1,
                      "kmix anomalies: error: output existing.csv exists; use --force to "
                      "overwrite it"),
    "output is the input": (["cluster", "small.csv", "--k", "2", "-o", "small.csv", "--force"],
                            1, "kmix cluster: error: output small.csv is the input file; "
                               "inputs are never overwritten"),
    "unknown column": (["cluster", "small.csv", "--columns", "x,z"], 1,
                       "kmix cluster: error: small.csv has no column 'z' (columns: x, y)"),
    "dbscan with k": (["cluster", "small.csv", "--model", "dbscan", "--k", "3"], 1,
                      "kmix cluster: error: dbscan finds the number of clusters itself: give "
                      "--eps and --min-samples, not --k"),
    "not an image": (["segment", "small.csv", "-o", "segmented.png"], 1,
                     "kmix segment: error: cannot read small.csv: not an image file Pillow "
                     "can read"),
    "plot format": (["scan", "small.csv", "--plot", "scan.txt"], 1,
                    "kmix scan: error: plot scan.txt must end in .png, .pdf, .svg"),
    "segment without matplotlib": (["segment", "photo.png", "-o", "segmented.png"], 1,
                                   'kmix segment: error: kmix segment needs matplotlib: '
                                   'pip install "kmix[plot]"'),
    "plot without matplotlib": (["scan", "small.csv", "--plot", "scan.png"], 1,
                                'kmix scan: error: --plot needs matplotlib: '
                                'pip install "kmix[plot]"'),
    "parquet without pyarrow": (["cluster", "data.parquet"], 1,
                                "kmix cluster: error: reading data.parquet needs pandas and "
                                "pyarrow: pip install pandas pyarrow"),
    "malformed k": (["cluster", "small.csv", "--k", "two"], 2,
                    "kmix cluster: error: argument --k: expected N, A..B or auto, got 'two' "
                    "(see kmix cluster --help)"),
}
NOT_QUIET = ("nan and inf",)
#: Cases run with these packages made unimportable (a folder of modules that raise
#: ImportError first on PYTHONPATH).
MISSING_PACKAGES = {"segment without matplotlib": ("matplotlib",),
                    "plot without matplotlib": ("matplotlib",),
                    "parquet without pyarrow": ("pyarrow", "fastparquet")}
INPUTS = ["binary.csv", "fake.npy", "ragged.csv", "empty.csv", "text.csv", "holes.csv",
          "small.csv", "existing.csv", "photo.png", "data.parquet"]


def _write_inputs(folder):
    rng = np.random.RandomState(0)
    (folder / "binary.csv").write_bytes(bytes(rng.randint(0, 256, 300).astype(np.uint8)))
    (folder / "fake.npy").write_text("1,2\n3,4\n")
    (folder / "ragged.csv").write_text("x,y\n1,2\n3,4\n5,6,7\n")
    (folder / "empty.csv").write_text("")
    (folder / "text.csv").write_text("name,x,city\na,1,b\nc,2,d\n")
    (folder / "holes.csv").write_text("x,y\n1,2\n3,nan\n5,\n7,8\ninf,10\n")
    np.savetxt(folder / "small.csv", rng.normal(size=(20, 2)), delimiter=",", header="x,y",
               comments="")
    (folder / "existing.csv").write_text("the user's file\n")
    (folder / "photo.png").write_bytes(b"not read: the command stops before")
    (folder / "data.parquet").write_bytes(b"not read: the command stops before")
    os.mkdir(folder / "folder.csv")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_errors")
    _write_inputs(folder)
    return folder


def _without(packages, folder):
    """A PYTHONPATH on which importing any of ``packages`` raises ImportError."""
    for package in packages:
        os.makedirs(folder / package, exist_ok=True)
        (folder / package / "__init__.py").write_text(
            f"raise ImportError('{package} is not installed (test)')\n")
    return {"PYTHONPATH": str(folder)}


@pytest.fixture(scope="module")
def runs(folder, tmp_path_factory):
    before = file_hashes(folder)
    commands = {name: args + ([] if name in NOT_QUIET else ["-q"])
                for name, (args, _, _) in CASES.items()}
    envs = {name: _without(packages, tmp_path_factory.mktemp("without"))
            for name, packages in MISSING_PACKAGES.items()}
    results = run_all(commands, folder, envs)
    return results, before, file_hashes(folder)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_a_non_zero_exit(runs, case):
    results, _, _ = runs
    result = results[case]
    _, status, message = CASES[case]
    assert result.returncode == status
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == message.split("\n")
    assert result.stdout == ""


def test_no_output_is_written_and_no_input_changed(runs):
    _, before, after = runs
    # nothing new in the folder (no output, no temporary file), every input as it was
    assert after == before
    for name in INPUTS:
        assert name in after
