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

The state of an LSTM is the pair (h, c). Two ways to run a sequence:

    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0=None)           # the cs231n interface
    dx, dh0, dWx, dWh, db = lstm_backward(dh, cache)

    h, c_last, cache = lstm_state_forward(x, h0, c0, Wx, Wh, b)   # the cell state in and out
    dx, dh0, dc0, dWx, dWh, db = lstm_state_backward(dh, dc_last, cache)

The second pair has the shape of lstm_step_forward / lstm_step_backward: it returns the last cell
state c_T and, given the loss gradient of c_T, the gradient of c0. The last hidden state is
h[:, -1]; its loss gradient is part of dh (add it to dh[:, -1]). This is what an encoder-decoder
needs: the encoder's (h[:, -1], c_last) start the decoder, and the decoder's (dh0, dc0) come back
as the encoder's dh[:, -1] and dc_last. lstm_forward / lstm_backward are the same computation
with c_T dropped and dc_T = 0.

The sequence functions are organised like rnn_forward / rnn_backward (see rnn.py). Before its
loop, lstm_state_backward computes every factor that depends only on the forward pass (such as
o * (1 - tanh(c_t)^2)) for all steps at once; each step then only multiplies them with dh_t, dc_t.
"""
import numpy as np

from ._steps import batch_first, sigmoid_inplace, step_major_rows, tanh_inplace
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


def lstm_state_forward(x, h0, c0, Wx, Wh, b):
    """Run an LSTM over a whole sequence from the state (h0, c0); return the last cell state too.

    x (N, T, D); h0, c0 (N, H); Wx (D, 4H); Wh (H, 4H); b (4H,).
    Returns h (N, T, H), the hidden state of every step (the last one is h[:, -1]);
    c_last (N, H), the cell state after the last step; and a cache for lstm_state_backward.
    cache["c"] (N, T, H) holds every cell state and cache["gates"] (N, T, 4H) every i, f, o, g.
    """
    N, T, D, H = check_cell_args(x, h0, Wx, Wh, b, gates=4, sequence=True)
    c0 = as_float_array("c0", c0)
    check_shape("c0", c0, (N, H), "like h0", label="(N, H)")
    if c0.dtype != h0.dtype:
        raise ValueError(f"c0 must have the dtype of h0 ({h0.dtype}); got {c0.dtype}")
    # g = tanh(a_g) = 2 sigmoid(2 a_g) - 1. With the g columns of Wx, Wh and b doubled (exact in
    # floating point), one sigmoid over the whole row gives i, f, o and sigmoid(2 a_g) at once.
    double_g = np.ones(4 * H, dtype=h0.dtype)
    double_g[3 * H:] = 2
    Wh_2g = Wh * double_g
    xs = step_major_rows(x)                               # (T N, D), step by step (see _steps.py)
    gates = (xs @ (Wx * double_g)).reshape(T, N, 4 * H)   # input projections of every step at once
    gates += b * double_g
    hs, cs = (np.empty((T + 1, N, H), dtype=h0.dtype) for _ in range(2))   # [0] is h0, c0; [t + 1] is step t
    hs[0], cs[0] = h0, c0
    tanh_c = np.empty((T, N, H), dtype=h0.dtype)
    hWh, ig = np.empty((N, 4 * H), dtype=h0.dtype), np.empty((N, H), dtype=h0.dtype)
    with np.errstate(over="ignore"):                      # see _steps.py: sigmoid of a < -709 is 0
        for t in range(T):
            a = gates[t]                                  # becomes i, f, o, g of step t, in place
            a += np.matmul(hs[t], Wh_2g, out=hWh)         # a_t = x_t @ Wx + b + h_{t-1} @ Wh (a_g doubled)
            sigmoid_inplace(a)                            # i, f, o and sigmoid(2 a_g)
            i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            g *= 2
            g -= 1                                        # g = 2 sigmoid(2 a_g) - 1 = tanh(a_g)
            np.multiply(f, cs[t], out=cs[t + 1])
            cs[t + 1] += np.multiply(i, g, out=ig)        # c_t = f * c_{t-1} + i * g
            tanh_inplace(cs[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=hs[t + 1])      # h_t = o * tanh(c_t)
    cache = {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "h": batch_first(hs[1:]), "c": batch_first(cs[1:]),
             "gates": batch_first(gates), "xs": xs, "hs": hs, "cs": cs, "tanh_c": tanh_c}
    return batch_first(hs[1:].copy()), cs[T].copy(), cache      # copies: the caller's to change


def lstm_state_backward(dh, dc_last, cache):
    """Backpropagation through time for lstm_state_forward.

    dh (N, T, H): the loss gradient of every h_t (that of the last state h_T is dh[:, -1]);
    dc_last (N, H): the loss gradient of the last cell state c_T, or None for zero.
    Returns dx (N, T, D), dh0 (N, H), dc0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    c0, Wx, Wh = cache["c0"], cache["Wx"], cache["Wh"]
    xs, hs, cs, tanh_c = cache["xs"], cache["hs"], cache["cs"], cache["tanh_c"]
    gates = batch_first(cache["gates"])                   # (T, N, 4H) again
    T, N, H = tanh_c.shape
    dh = batch_first(check_upstream("dh", dh, (N, T, H), hs.dtype))    # (T, N, H)
    dprev_c = np.zeros_like(c0) if dc_last is None else check_upstream("dc_last", dc_last, (N, H), hs.dtype).copy()
    i, f, o, g = (gates[:, :, k * H:(k + 1) * H] for k in range(4))   # (T, N, H) each

    # What depends only on the forward pass, for all steps at once (large vectorised passes);
    # the loop below only multiplies these factors with the gradients that flow back.
    dc_by_dh = o * (1 - tanh_c ** 2)                         # h_t = o * tanh(c_t): dc_t gets dh_t * o * tanh'(c_t)
    k = np.empty_like(gates)                                 # da_t = [dc_t, dc_t, dh_t, dc_t] * k_t, block by block
    np.multiply(g, i * (1 - i), out=k[:, :, :H])             # c_t = f * c_{t-1} + i * g, i = sigmoid(a_i)
    np.multiply(cs[:-1], f * (1 - f), out=k[:, :, H:2 * H])  # c_t = f * c_{t-1} + i * g, f = sigmoid(a_f)
    np.multiply(tanh_c, o * (1 - o), out=k[:, :, 2 * H:3 * H])   # h_t = o * tanh(c_t), o = sigmoid(a_o)
    np.multiply(i, 1 - g * g, out=k[:, :, 3 * H:])           # c_t = f * c_{t-1} + i * g, g = tanh(a_g)

    da = k                                                   # step t turns its factors into its gradients, in place
    dprev_h, dh_t, dc = (np.zeros_like(c0) for _ in range(3))
    for t in reversed(range(T)):
        np.add(dh[t], dprev_h, out=dh_t)                     # h_t feeds the loss at t and step t + 1
        np.multiply(dh_t, dc_by_dh[t], out=dc)
        dc += dprev_c                                        # c_t feeds h_t and c_{t+1}
        d = da[t]
        d[:, :H] *= dc                                       # da_i
        d[:, H:2 * H] *= dc                                  # da_f
        d[:, 2 * H:3 * H] *= dh_t                            # da_o: from dh_t, not dc_t
        d[:, 3 * H:] *= dc                                   # da_g
        np.multiply(dc, f[t], out=dprev_c)                   # c_t = f * c_{t-1} + ...
        np.matmul(d, Wh.T, out=dprev_h)                      # a_t = ... + h_{t-1} @ Wh
    da = da.reshape(T * N, 4 * H)
    dx = batch_first((da @ Wx.T).reshape(T, N, -1))       # a_t = x_t @ Wx + h_{t-1} @ Wh + b
    dWx = xs.T @ da
    dWh = hs[:-1].reshape(T * N, H).T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """Run an LSTM over a whole sequence.

    x (N, T, D); h0 (N, H); Wx (D, 4H); Wh (H, 4H); b (4H,); c0 (N, H), zero if None.
    Returns h (N, T, H), the hidden state of every step, and a cache for lstm_backward;
    cache["c"] (N, T, H) holds every cell state and cache["gates"] (N, T, 4H) every i, f, o, g.
    For the last cell state and the gradient of c0 use lstm_state_forward / lstm_state_backward.
    """
    if c0 is None:
        c0 = np.zeros_like(as_float_array("h0", h0))
    h, _, cache = lstm_state_forward(x, h0, c0, Wx, Wh, b)
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.

    dh (N, T, H): the loss gradient of every h_t. (No loss reads c_t directly.)
    Returns dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    dx, dh0, _, dWx, dWh, db = lstm_state_backward(dh, None, cache)
    return dx, dh0, dWx, dWh, db
