"""Deep (stacked) recurrent networks: the hidden states of one layer are the inputs of the next.

Sizes: N batch, T time steps, D input, H hidden, L layers. Batch-first: x has shape (N, T, D).
Layer l computes h^l_t from h^{l-1}_t (its input, x for l = 0) and h^l_{t-1}, as in lecture 000:

    h^l_t = tanh(W^l [h^{l-1}_t; h^l_{t-1}])   ==   tanh(h^{l-1}_t @ Wx^l + h^l_{t-1} @ Wh^l + b^l)

with W^l = [Wx^l; Wh^l] transposed. layers is a list of L tuples (Wx, Wh, b): layer 0's Wx is
(D, G*H), the others' (H, G*H); G = 1, 4, 3 for rnn, lstm, gru (see cells.py).
"""
import numpy as np

from ._validate import as_float_array, check_upstream
from .cells import get_cell


def stacked_forward(x, h0, layers, cell="rnn", **cell_kwargs):
    """Run L recurrent layers on top of each other.

    x (N, T, D); h0 (L, N, H): initial state of every layer; layers: L tuples (Wx, Wh, b).
    Returns h (N, T, H) of the top layer and a cache for stacked_backward.
    """
    forward, _, _ = get_cell(cell, **cell_kwargs)
    h0 = as_float_array("h0", h0, 3)
    if len(layers) != h0.shape[0] or len(layers) == 0:
        raise ValueError(f"h0 has {h0.shape[0]} layers but {len(layers)} weight tuples were given")
    caches, h = [], x
    for l, (Wx, Wh, b) in enumerate(layers):
        h, cache = forward(h, h0[l], Wx, Wh, b, **cell_kwargs)   # layer l reads layer l - 1
        caches.append(cache)
    return h, {"cell": cell, "caches": caches, "h_shape": h.shape, "dtype": h.dtype}


def stacked_backward(dh, cache):
    """Gradients of stacked_forward.

    dh (N, T, H): upstream gradient of the top layer's states.
    Returns dx (N, T, D), dh0 (L, N, H), dlayers: L tuples (dWx, dWh, db).
    """
    _, backward, _ = get_cell(cache["cell"])
    dh = check_upstream("dh", dh, cache["h_shape"], cache["dtype"])
    dh0, dlayers = [], []
    for layer_cache in reversed(cache["caches"]):
        dh, dh0_l, dWx, dWh, db = backward(dh, layer_cache)     # dx of layer l is dh of layer l - 1
        dh0.append(dh0_l)
        dlayers.append((dWx, dWh, db))
    return dh, np.stack(dh0[::-1]), dlayers[::-1]
