"""Random draws of the distributed fits that depend on the rows, not on the chunking.

A draw per row comes from a counter-based generator (Philox) keyed by one number drawn from the
estimator's ``random_state``: row i's draw is the i-th number of that stream wherever the row's
block starts, so the result of a fit does not depend on how X is chunked nor on which worker
computes which block. Where a fit must reproduce an in-memory draw of ``random_state`` itself
(the n x k uniforms of GaussianMixture's ``init_params='random'``), the client advances the
generator block by block and hands each block the state it starts from.
"""
import numpy as np

__all__ = ["draw_key", "row_uniforms", "block_states"]

#: Philox returns four 64-bit numbers per counter step; one uniform uses one of them.
_PER_STEP = 4
#: Rows of uniforms drawn at a time while advancing a RandomState past a block.
_ADVANCE_ROWS = 1 << 16


def draw_key(random_state):
    """A 63-bit key for :func:`row_uniforms`, drawn from a RandomState."""
    return int(random_state.randint(np.iinfo(np.int64).max, dtype=np.int64))


def row_uniforms(key, stream, start, n):
    """Uniforms in [0, 1) for rows ``start .. start + n - 1`` of stream ``stream`` of ``key``.

    The same numbers for a row whatever the block it is read in: the generator skips to the
    block's first row in O(1)."""
    start = int(start)  # (Philox.advance rejects numpy integers)
    bit_generator = np.random.Philox(key=[key, stream])
    bit_generator.advance(start // _PER_STEP)
    generator = np.random.Generator(bit_generator)
    generator.random(start % _PER_STEP)
    return generator.random(n)


def block_states(random_state, sizes, n_columns):
    """The states of ``random_state`` at the start of each block of ``uniform(size=(n,
    n_columns))`` drawn in one call (n = sum(sizes)); ``random_state`` ends after the whole
    draw, as if the client had drawn it. Each block then draws its own rows from its state
    (``RandomState.set_state`` + ``uniform(size=(size, n_columns))``)."""
    states = []
    for size in sizes:
        states.append(random_state.get_state())
        for s in range(0, int(size), _ADVANCE_ROWS):
            random_state.uniform(size=(min(_ADVANCE_ROWS, int(size) - s), n_columns))
    return states
