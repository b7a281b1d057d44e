"""Backpropagation through time: truncation, and how far a gradient travels back.

Sizes: N batch, T time steps, D input, H hidden. Batch-first: x has shape (N, T, D).
Full BPTT (rnn_backward and friends) sends the gradient of every h_t back to step 0:

    dL/dW = sum_t dL/dh_t * sum_{k <= t} (prod_{j=k+1..t} dh_j/dh_{j-1}) * dh_k/dW     (lecture 003)

Truncated BPTT(k) cuts the sequence into chunks of k steps. The forward pass carries the state
from chunk to chunk, so every h_t is the same as in the full pass; the backward pass stays
inside each chunk, so the products above stop at the chunk's first step. Memory is O(k), not
O(T), and dependencies longer than k steps get no gradient.
"""
import numpy as np

from ._validate import as_float_array, check_upstream
from .cells import get_cell


def truncated_bptt(x, h0, Wx, Wh, b, dh, k, cell="rnn", c0=None, **cell_kwargs):
    """Truncated BPTT(k) over a whole sequence, chunk by chunk.

    x (N, T, D); h0 (N, H); Wx, Wh, b as for the cell; dh (N, T, H): the loss gradient of every h_t
    (it does not change under truncation because the forward states do not); k: chunk length;
    c0 (N, H): the initial cell state of an LSTM (zero if None; must be None for the other cells).
    Returns h (N, T, H) and (dx, dWx, dWh, db) summed over the chunks. With k >= T this is full BPTT.
    """
    cell = get_cell(cell, **cell_kwargs)
    x = as_float_array("x", x, 3)
    T = x.shape[1]
    dh = check_upstream("dh", dh, (x.shape[0], T, h0.shape[1]), x.dtype)
    hs, dxs = [], []
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    carry_h, carry_c = h0, c0                            # the state that crosses the chunk boundary
    for chunk in chunk_slices(T, k):
        h, carry_c, cache = cell.run(x[:, chunk], carry_h, carry_c, Wx, Wh, b, **cell_kwargs)
        dx_c, _, _, dWx_c, dWh_c, db_c = cell.run_backward(dh[:, chunk], None, cache)   # dh0, dc0 dropped: the cut
        hs.append(h)
        dxs.append(dx_c)
        dWx += dWx_c
        dWh += dWh_c
        db += db_c
        carry_h = h[:, -1]
    return np.concatenate(hs, axis=1), (np.concatenate(dxs, axis=1), dWx, dWh, db)


def hidden_gradient_norms(x, h0, Wx, Wh, b, cell="rnn", dh_last=None, **cell_kwargs):
    """How much of the last step's gradient reaches every earlier hidden state.

    L = sum(dh_last * h_T) (dh_last (N, H), all ones if None). Walks back step by step and
    returns norms (T + 1,) with norms[t] = ||dL/dh_t|| for t = 0..T (h_0 is the initial state).
    A vanilla RNN's norms fall (or grow) geometrically with T - t; an LSTM's cell path keeps them.
    """
    cell = get_cell(cell, **cell_kwargs)
    x = as_float_array("x", x, 3)
    T = x.shape[1]
    h0 = as_float_array("h0", h0, 2)
    h, c, caches = h0, cell.zero_state(*h0.shape, dtype=h0.dtype)[1], []   # c: zeros for the LSTM, else None
    for t in range(T):
        h, c, cache = cell.step(x[:, t], h, c, Wx, Wh, b, **cell_kwargs)
        caches.append(cache)
    dh = np.ones_like(h) if dh_last is None else check_upstream("dh_last", dh_last, h.shape, h.dtype)
    dc = None if c is None else np.zeros_like(c)        # the loss reads h_T only
    norms = np.empty(T + 1)
    norms[T] = np.linalg.norm(dh)
    for t in reversed(range(T)):
        _, dh, dc, *_ = cell.step_back(dh, dc, caches[t])
        norms[t] = np.linalg.norm(dh)
    return norms


def chunk_slices(T, k):
    """The slices of truncated BPTT(k) over T steps: [0:k], [k:2k], ..."""
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"chunk length k must be a positive integer, got {k}")
    return [slice(s, min(s + int(k), T)) for s in range(0, T, int(k))]
