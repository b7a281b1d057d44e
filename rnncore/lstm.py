"""Long short-term memory in numpy.

Sizes: N batch, T time steps, D input, H hidden. Batch-first: x has shape (N, T, D).
Weights act on the right (x @ Wx). Gates are stacked along the last axis in the order i, f, o, g:

    i, f, o = sigmoid(.), g = tanh(.)  of  x @ Wx + prev_h @ Wh + b     # Wx (D, 4H), Wh (H, 4H)
    next_c = f * prev_c + i * g          # forget part of the old memory, write the candidate
    next_h = o * tanh(next_c)            # expose part of the memory

The slides name the same quantities differently: 001 calls g the input activation a_t and c the
state_t; colah (002, 004) writes C~_t for g and C_t for c; 000 stacks i, f, o, c' in one
W [4n x 2n] acting on [h^{l-1}_t; h^l_{t-1}], which is [Wx; Wh] transposed.
Every *_forward returns (outputs, cache); every *_backward takes (upstream grads, cache) and
returns the gradients in the order of the forward's arguments.
"""
import numpy as np

from ._validate import as_float_array, check_cell_args, check_shape, check_upstream
from .activations import sigmoid


def _gates(a, H):
    """Squash pre-activations a (N, 4H) into i, f, o (sigmoid) and g (tanh), returned as one array."""
    out = np.empty_like(a)
    out[:, :3 * H] = sigmoid(a[:, :3 * H])
    np.tanh(a[:, 3 * H:], out=out[:, 3 * H:])
    return out


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step.

    x (N, D); prev_h, prev_c (N, H); Wx (D, 4H); Wh (H, 4H); b (4H,).
    Returns next_h, next_c of shape (N, H) and a cache for lstm_step_backward.
    """
    N, _, _, H = check_cell_args(x, prev_h, Wx, Wh, b, gates=4)
    check_shape("prev_c", as_float_array("prev_c", prev_c), (N, H), "like prev_h", label="(N, H)")
    gates = _gates(x @ Wx + prev_h @ Wh + b, H)
    i, f, o, g = np.split(gates, 4, axis=1)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, gates, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Gradients of one LSTM step.

    dnext_h, dnext_c (N, H): upstream gradients of next_h and next_c.
    Returns dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x, prev_h, prev_c, Wx, Wh, gates, tanh_c = cache
    dnext_h = check_upstream("dnext_h", dnext_h, tanh_c.shape, tanh_c.dtype)
    dnext_c = check_upstream("dnext_c", dnext_c, tanh_c.shape, tanh_c.dtype)
    i, f, o, g = np.split(gates, 4, axis=1)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)      # next_h = o * tanh(next_c)
    do = dnext_h * tanh_c
    di, df, dg = dc * g, dc * prev_c, dc * i             # next_c = f * prev_c + i * g
    dprev_c = dc * f
    da = np.concatenate([di * i * (1 - i),               # i, f, o = sigmoid(a_i, a_f, a_o)
                         df * f * (1 - f),
                         do * o * (1 - o),
                         dg * (1 - g ** 2)], axis=1)     # g = tanh(a_g)
    dx, dprev_h = da @ Wx.T, da @ Wh.T                   # a = x @ Wx + prev_h @ Wh + b
    return dx, dprev_h, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """Run an LSTM over a whole sequence.

    x (N, T, D); h0 (N, H); Wx (D, 4H); Wh (H, 4H); b (4H,); c0 (N, H), zero if None.
    Returns h (N, T, H), the hidden state of every step, and a cache for lstm_backward;
    cache["c"] (N, T, H) holds every cell state (cache["c"][:, -1] carries on to a next chunk).
    """
    N, T, D, H = check_cell_args(x, h0, Wx, Wh, b, gates=4, sequence=True)
    if c0 is None:
        c0 = np.zeros_like(h0)
    check_shape("c0", as_float_array("c0", c0), (N, H), "like h0", label="(N, H)")
    gates = (x.reshape(N * T, D) @ Wx + b).reshape(N, T, 4 * H)   # input projections of every step
    h, c, tanh_c = (np.empty((N, T, H), dtype=h0.dtype) for _ in range(3))
    prev_h, prev_c = h0, c0
    for t in range(T):
        a = gates[:, t]
        a += prev_h @ Wh                                  # a_t = x_t @ Wx + b + h_{t-1} @ Wh
        a[:] = _gates(a, H)                               # gates[:, t] now holds i, f, o, g
        i, f, o, g = np.split(a, 4, axis=1)
        c[:, t] = f * prev_c + i * g
        np.tanh(c[:, t], out=tanh_c[:, t])
        h[:, t] = o * tanh_c[:, t]
        prev_h, prev_c = h[:, t], c[:, t]
    cache = {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "gates": gates, "c": c, "tanh_c": tanh_c, "h": h}
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.

    dh (N, T, H): the loss gradient of every h_t. (No loss reads c_t directly.)
    Returns dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x, h0, c0, Wx, Wh = cache["x"], cache["h0"], cache["c0"], cache["Wx"], cache["Wh"]
    gates, c, tanh_c, h = cache["gates"], cache["c"], cache["tanh_c"], cache["h"]
    N, T, H = h.shape
    dh = check_upstream("dh", dh, h.shape, h.dtype)
    da = np.empty_like(gates)                             # gradients of the pre-activations a_t
    dprev_h, dprev_c = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        i, f, o, g = np.split(gates[:, t], 4, axis=1)
        prev_c = c[:, t - 1] if t > 0 else c0
        dh_t = dh[:, t] + dprev_h                         # h_t feeds the loss at t and step t + 1
        dc = dprev_c + dh_t * o * (1 - tanh_c[:, t] ** 2) # h_t = o * tanh(c_t)
        da_i, da_f, da_o, da_g = np.split(da[:, t], 4, axis=1)
        np.multiply(dc * g, i * (1 - i), out=da_i)        # c_t = f * c_{t-1} + i * g; i = sigmoid(a_i)
        np.multiply(dc * prev_c, f * (1 - f), out=da_f)   # f = sigmoid(a_f)
        np.multiply(dh_t * tanh_c[:, t], o * (1 - o), out=da_o)   # o = sigmoid(a_o)
        np.multiply(dc * i, 1 - g * g, out=da_g)          # g = tanh(a_g)
        dprev_c = dc * f                                  # c_t = f * c_{t-1} + ...
        dprev_h = da[:, t] @ Wh.T                         # a_t = ... + h_{t-1} @ Wh
    da_flat = da.reshape(N * T, 4 * H)
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1).reshape(N * T, H)
    dx = (da_flat @ Wx.T).reshape(x.shape)                # a_t = x_t @ Wx + ...
    dWx = x.reshape(N * T, -1).T @ da_flat
    dWh = h_prev.T @ da_flat
    db = da_flat.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db
