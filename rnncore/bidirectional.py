"""Bidirectional recurrent networks: one pass reads left to right, another right to left.

Sizes: N batch, T time steps, D input, H hidden (per direction). Batch-first: x has shape (N, T, D).
The output at step t concatenates both directions (lecture 003: h^t = [h_L^t, h_R^t]):

    h[:, t] = [h_fwd[:, t], h_bwd[:, t]]        # shape (N, 2H)

For sequences of different lengths (lengths[n] real steps, then padding), the backward
direction starts at each sequence's own last real step, so padding never leaks into it.
Outputs at padded steps are not meaningful: pool them away with a mask (see pooling.py).
"""
import numpy as np

from ._validate import as_float_array, check_lengths, check_shape, check_upstream
from .cells import get_cell


def reverse_padded(x, lengths=None):
    """Reverse every sequence of x (N, T, ...) within its own length; padding stays in place.

    lengths (N,) integers in [1, T] or None (all T). The operation is its own inverse.
    """
    N, T = x.shape[:2]
    if lengths is None:
        return x[:, ::-1]
    lengths = check_lengths("lengths", lengths, N, T)
    t = np.arange(T)
    idx = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)   # (N, T) source step of each step
    idx = idx.reshape(N, T, *([1] * (x.ndim - 2)))
    return np.take_along_axis(x, idx, axis=1)


def bidirectional_forward(x, h0, fwd, bwd, cell="rnn", lengths=None, c0=None, **cell_kwargs):
    """Run one recurrent layer in each direction and concatenate the states.

    x (N, T, D); h0 (2, N, H): initial states of the forward and the backward direction;
    fwd, bwd: (Wx, Wh, b) of each direction; lengths (N,) real lengths or None;
    c0 (2, N, H): initial cell states of an LSTM's two directions (zero if None; only for cells with a cell state).
    Returns h (N, T, 2H) and a cache for bidirectional_backward.
    """
    spec = get_cell(cell, **cell_kwargs)
    h0 = as_float_array("h0", h0, 3)
    if h0.shape[0] != 2:
        raise ValueError(f"h0 must have shape (2, N, H): one initial state per direction; got {h0.shape}")
    if c0 is not None:
        check_shape("c0", as_float_array("c0", c0, 3), h0.shape, "like h0", label="(2, N, H)")
    c0_fwd, c0_bwd = (None, None) if c0 is None else (c0[0], c0[1])
    h_fwd, _, cache_fwd = spec.run(x, h0[0], c0_fwd, *fwd, **cell_kwargs)
    h_bwd_rev, _, cache_bwd = spec.run(reverse_padded(x, lengths), h0[1], c0_bwd, *bwd, **cell_kwargs)
    h_bwd = reverse_padded(h_bwd_rev, lengths)          # back to the original time order
    h = np.concatenate([h_fwd, h_bwd], axis=2)
    return h, {"cell": cell, "lengths": lengths, "fwd": cache_fwd, "bwd": cache_bwd,
               "h_shape": h.shape, "dtype": h.dtype}


def bidirectional_backward(dh, cache):
    """Gradients of bidirectional_forward.

    dh (N, T, 2H): upstream gradient of the concatenated states.
    Returns dx (N, T, D), dh0 (2, N, H), dfwd (dWx, dWh, db), dbwd (dWx, dWh, db).
    """
    spec = get_cell(cache["cell"])
    dh = check_upstream("dh", dh, cache["h_shape"], cache["dtype"])
    H = dh.shape[2] // 2
    lengths = cache["lengths"]
    dx_fwd, dh0_fwd, _, *dfwd = spec.run_backward(np.ascontiguousarray(dh[:, :, :H]), None, cache["fwd"])
    dx_rev, dh0_bwd, _, *dbwd = spec.run_backward(reverse_padded(dh[:, :, H:], lengths), None, cache["bwd"])  # undo the final reversal
    dx = dx_fwd + reverse_padded(dx_rev, lengths)       # undo the input reversal
    return dx, np.stack([dh0_fwd, dh0_bwd]), tuple(dfwd), tuple(dbwd)
