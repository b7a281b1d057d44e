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

from ._steps import batch_first, step_major_rows
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
    cache["c"] (N, T, H) holds every cell state (cache["c"][:, -1] carries on to a next chunk)
    and cache["gates"] (N, T, 4H) every i, f, o, g.
    """
    N, T, D, H = check_cell_args(x, h0, Wx, Wh, b, gates=4, sequence=True)
    if c0 is None:
        c0 = np.zeros_like(h0)
    check_shape("c0", as_float_array("c0", c0), (N, H), "like h0", label="(N, H)")
    xs = step_major_rows(x)                               # (T N, D), step by step (see _steps.py)
    gates = (xs @ Wx).reshape(T, N, 4 * H)                # input projections of every step at once
    gates += b
    hs, cs = (np.empty((T + 1, N, H), dtype=h0.dtype) for _ in range(2))   # [0] is h0, c0; [t + 1] is step t
    hs[0], cs[0] = h0, c0
    tanh_c = np.empty((T, N, H), dtype=h0.dtype)
    hWh = np.empty((N, 4 * H), dtype=h0.dtype)
    for t in range(T):
        a = gates[t]                                      # becomes i, f, o, g of step t, in place
        a += np.matmul(hs[t], Wh, out=hWh)                # a_t = x_t @ Wx + b + h_{t-1} @ Wh
        sigmoid(a[:, :3 * H], out=a[:, :3 * H])           # i, f, o
        np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])           # g
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, cs[t], out=cs[t + 1])
        cs[t + 1] += i * g                                # c_t = f * c_{t-1} + i * g
        np.tanh(cs[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hs[t + 1])          # h_t = o * tanh(c_t)
    h = batch_first(hs[1:])
    cache = {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "h": h, "c": batch_first(cs[1:]),
             "gates": batch_first(gates), "xs": xs, "hs": hs, "cs": cs, "tanh_c": tanh_c}
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.

    dh (N, T, H): the loss gradient of every h_t. (No loss reads c_t directly.)
    Returns dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    h0, c0, Wx, Wh = cache["h0"], cache["c0"], cache["Wx"], cache["Wh"]
    xs, hs, cs, tanh_c = cache["xs"], cache["hs"], cache["cs"], cache["tanh_c"]
    gates = batch_first(cache["gates"])                   # (T, N, 4H) again
    T, N, H = tanh_c.shape
    dh = batch_first(check_upstream("dh", dh, (N, T, H), hs.dtype))    # (T, N, H)
    da = np.empty_like(gates)                             # gradients of the pre-activations a_t
    dprev_h, dprev_c = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        a, d = gates[t], da[t]
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        dh_t = dh[t] + dprev_h                            # h_t feeds the loss at t and step t + 1
        dc = dh_t * o * (1 - tanh_c[t] ** 2)              # h_t = o * tanh(c_t)
        dc += dprev_c                                     # c_t also feeds c_{t+1}
        np.multiply(dc, g, out=d[:, :H])                  # c_t = f * c_{t-1} + i * g
        np.multiply(dc, cs[t], out=d[:, H:2 * H])
        np.multiply(dh_t, tanh_c[t], out=d[:, 2 * H:3 * H])       # h_t = o * tanh(c_t)
        np.multiply(dc, i, out=d[:, 3 * H:])
        ifo = a[:, :3 * H]
        d[:, :3 * H] *= ifo * (1 - ifo)                   # i, f, o = sigmoid(a_i, a_f, a_o)
        d[:, 3 * H:] *= 1 - g * g                         # g = tanh(a_g)
        dprev_c = dc * f                                  # c_t = f * c_{t-1} + ...
        dprev_h = d @ Wh.T                                # a_t = ... + h_{t-1} @ Wh
    da = da.reshape(T * N, 4 * H)
    dx = batch_first((da @ Wx.T).reshape(T, N, -1))       # a_t = x_t @ Wx + h_{t-1} @ Wh + b
    dWx = xs.T @ da
    dWh = hs[:-1].reshape(T * N, H).T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db
