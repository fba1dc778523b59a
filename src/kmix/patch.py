"""Run a Python script or module with scikit-learn patched to use kmix.

Usage::

    python -m kmix.patch script.py [args ...]
    python -m kmix.patch -m package.module [args ...]

:func:`kmix.patch_sklearn` is called first, then the script runs as ``__main__`` with
``sys.argv`` set to ``[script.py, args ...]`` and the script's directory first on ``sys.path``,
as ``python script.py args ...`` would (``-m``: as ``python -m package.module args ...``).
"""
import os
import runpy
import sys

from ._patch import patch_sklearn

USAGE = "usage: python -m kmix.patch script.py [args ...] | -m module [args ...]"


def main(argv=None):
    """Patch scikit-learn and run the script (or ``-m`` module) that ``argv`` names.

    Parameters
    ----------
    argv : list of str, default=None
        ``[script.py, args ...]`` or ``['-m', module, args ...]``; None uses
        ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 after the script ran, 2 on a usage error. The script's own ``sys.exit`` and
        exceptions propagate.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if not argv or (argv[0] == "-m" and len(argv) < 2):
        print(USAGE, file=sys.stderr)
        return 2
    patch_sklearn()
    if argv[0] == "-m":
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = argv
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
        runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
