"""Compiled kernels of kmix (private: the API lives in :mod:`kmix`)."""
