"""Type aliases of kmix's public signatures.

Modules annotate with ``from __future__ import annotations`` and import these names, so the
annotations cost nothing at run time and still resolve with :func:`typing.get_type_hints`.
"""
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

try:
    from typing import Self
except ImportError:  # Python 3.10
    Self = Any

__all__ = ["ArrayLike", "NDArray", "MatrixLike", "RandomStateLike", "InitLike",
           "FloatArray", "IntArray", "Self"]

#: Data: anything numpy converts to a 2-d array, or a scipy.sparse matrix/array.
MatrixLike = ArrayLike | sp.spmatrix | sp.sparray
#: ``random_state`` as scikit-learn takes it.
RandomStateLike = int | np.random.RandomState | None
#: A k-means ``init``: a method name, initial centres, or a callable returning them.
InitLike = str | ArrayLike | Callable[..., ArrayLike]
FloatArray = NDArray[np.floating]
IntArray = NDArray[np.integer]
