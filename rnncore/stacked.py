"""Deep (stacked) recurrent networks: the hidden states of one layer are the inputs of the next.

Sizes: N batch, T time steps, D input, H hidden, L layers. Batch-first: x has shape (N, T, D).
Layer l computes h^l_t from h^{l-1}_t (its input, x for l = 0) and h^l_{t-1}, as in lecture 000:

    h^l_t = tanh(W^l [h^{l-1}_t; h^l_{t-1}])   ==   tanh(h^{l-1}_t @ Wx^l + h^l_{t-1} @ Wh^l + b^l)

with W^l = [Wx^l; Wh^l] transposed. layers is a list of L tuples (Wx, Wh, b): layer 0's Wx is
(D, G*H), the others' (H, G*H); G = 1, 4, 3 for rnn, lstm, gru (see cells.py). Every layer runs
through its cell's state interface (Cell.run), so an LSTM's layers can start from given cell states.
"""
import numpy as np

from ._validate import as_float_array, check_shape, check_upstream
from .cells import get_cell


def stacked_forward(x, h0, layers, cell="rnn", c0=None, **cell_kwargs):
    """Run L recurrent layers on top of each other.

    x (N, T, D); h0 (L, N, H): initial state of every layer; layers: L tuples (Wx, Wh, b);
    c0 (L, N, H): initial cell states of an LSTM's layers (zero if None; only for cells with a cell state).
    Returns h (N, T, H) of the top layer and a cache for stacked_backward.
    """
    spec = get_cell(cell, **cell_kwargs)
    h0 = as_float_array("h0", h0, 3)
    if len(layers) != h0.shape[0] or len(layers) == 0:
        raise ValueError(f"h0 has {h0.shape[0]} layers but {len(layers)} weight tuples were given")
    if c0 is not None:
        check_shape("c0", as_float_array("c0", c0, 3), h0.shape, "like h0", label="(L, N, H)")
    caches, h = [], x
    for l, (Wx, Wh, b) in enumerate(layers):
        c0_l = None if c0 is None else c0[l]
        h, _, cache = spec.run(h, h0[l], c0_l, Wx, Wh, b, **cell_kwargs)   # layer l reads layer l - 1
        caches.append(cache)
    return h, {"cell": cell, "caches": caches, "h_shape": h.shape, "dtype": h.dtype}


def stacked_backward(dh, cache):
    """Gradients of stacked_forward.

    dh (N, T, H): upstream gradient of the top layer's states.
    Returns dx (N, T, D), dh0 (L, N, H), dlayers: L tuples (dWx, dWh, db).
    """
    spec = get_cell(cache["cell"])
    dh = check_upstream("dh", dh, cache["h_shape"], cache["dtype"])
    dh0, dlayers = [], []
    for layer_cache in reversed(cache["caches"]):
        dh, dh0_l, _, dWx, dWh, db = spec.run_backward(dh, None, layer_cache)   # dx of layer l is dh of layer l - 1
        dh0.append(dh0_l)
        dlayers.append((dWx, dWh, db))
    return dh, np.stack(dh0[::-1]), dlayers[::-1]
