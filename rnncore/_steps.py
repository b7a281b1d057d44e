"""Time-major storage for the loops of rnn_forward, lstm_forward and gru_forward.

The public arrays are batch-first, (N, T, ...). The loops read and write one time step at a
time, so inside them the step axis comes first, (T, N, ...): each step is then one contiguous
block rather than N rows scattered over the whole array, and the products over all steps
use the (T N, ...) matrices without copies. Caches hold batch-first views of this storage
(`batch_first`), so users see the usual layout; the backward passes flip them back for free.
"""
import numpy as np


def step_major_rows(x):
    """x (N, T, D) as a contiguous (T N, D) matrix whose rows t N .. t N + N - 1 are step t."""
    N, T, D = x.shape
    return np.ascontiguousarray(x.swapaxes(0, 1)).reshape(T * N, D)


def batch_first(a):
    """A (T, N, ...) array seen as (N, T, ...), without copying (and back again)."""
    return a.swapaxes(0, 1)
