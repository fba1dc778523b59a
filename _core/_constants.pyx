"""The kernels' shared constants, as Python ints.

Their one home is the ``cdef enum`` of ``_common.pxd`` (the kernels need them at compile
time); this module only exposes those values to the Python layer, which reads them from here
and never repeats them.
"""
from _common cimport CHUNK_ROWS as _CHUNK_ROWS
from _common cimport GEMM_MIN_FEATURES as _GEMM_MIN_FEATURES
from _common cimport KMIX_PANEL as _KMIX_PANEL
from _common cimport MIXED_MAX_NORM as _MIXED_MAX_NORM
from _common cimport TILE_CENTERS as _TILE_CENTERS

#: Rows per chunk of the k-means kernels (distances, argmin and per-chunk partial sums).
CHUNK_ROWS = <int>_CHUNK_ROWS
#: Centres per tile of the chunked distance computations.
TILE_CENTERS = <int>_TILE_CENTERS
#: Features from which the kernels compute distances with gemm (and need BLAS limited).
GEMM_MIN_FEATURES = <int>_GEMM_MIN_FEATURES
#: Centres per panel of Yinyang's group filter on wide data (at most one panel per group).
KMIX_PANEL = <int>_KMIX_PANEL
#: Largest squared norm of a row or centre whose distances the kernels may take in float32.
MIXED_MAX_NORM = <double>_MIXED_MAX_NORM
