"""Gated recurrent unit in numpy.

Sizes: N batch, T time steps, D input, H hidden. Batch-first: x has shape (N, T, D).
Weights act on the right (x @ Wx). Gates are stacked along the last axis in the order z, r, n
(update, reset, candidate); Wx (D, 3H), Wh (H, 3H), b (3H,):

    z = sigmoid(x @ Wx_z + prev_h @ Wh_z + b_z)                   # update gate
    r = sigmoid(x @ Wx_r + prev_h @ Wh_r + b_r)                   # reset gate
    n = tanh(x @ Wx_n + (r * prev_h) @ Wh_n + b_n)                # reset_after=False (Cho et al. 2014)
    n = tanh(x @ Wx_n + b_n + r * (prev_h @ Wh_n))                # reset_after=True (PyTorch, cuDNN)
    next_h = (1 - z) * n + z * prev_h

The update rule is the one of lecture 000 (u_t is our z) and of PyTorch. Lecture 003 writes
h = (1 - z) h_prev + z h_add: its z is our 1 - z. reset_after=True equals torch.nn.GRU when
torch's recurrent bias of n (b_hn) is zero; torch's other biases add up into our b.
Every *_forward returns (outputs, cache); every *_backward takes (upstream grads, cache) and
returns the gradients in the order of the forward's arguments.
"""
import numpy as np

from ._steps import batch_first, step_major_rows
from ._validate import check_cell_args, check_upstream
from .activations import sigmoid


def gru_step_forward(x, prev_h, Wx, Wh, b, reset_after=False):
    """One GRU step.

    x (N, D); prev_h (N, H); Wx (D, 3H); Wh (H, 3H); b (3H,); reset_after: where r acts (see module).
    Returns next_h (N, H) and a cache for gru_step_backward.
    """
    H = check_cell_args(x, prev_h, Wx, Wh, b, gates=3)[3]
    a = x @ Wx + b                                                   # input side of all three gates
    z, r = np.split(sigmoid(a[:, :2 * H] + prev_h @ Wh[:, :2 * H]), 2, axis=1)   # update, reset
    if reset_after:
        hW_n = prev_h @ Wh[:, 2 * H:]
        n = np.tanh(a[:, 2 * H:] + r * hW_n)                         # reset the product of the old state
    else:
        hW_n = None
        n = np.tanh(a[:, 2 * H:] + (r * prev_h) @ Wh[:, 2 * H:])     # reset the old state itself
    next_h = (1 - z) * n + z * prev_h                                # keep z of the old, take 1 - z of the new
    return next_h, (x, prev_h, Wx, Wh, z, r, n, hW_n, reset_after)


def gru_step_backward(dnext_h, cache):
    """Gradients of one GRU step.

    dnext_h (N, H): upstream gradient of next_h.
    Returns dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,).
    """
    x, prev_h, Wx, Wh, z, r, n, hW_n, reset_after = cache
    dnext_h = check_upstream("dnext_h", dnext_h, n.shape, n.dtype)
    H = n.shape[1]
    dn = dnext_h * (1 - z)                         # next_h = (1 - z) * n + z * prev_h
    dz = dnext_h * (prev_h - n)
    dprev_h = dnext_h * z
    da_n = dn * (1 - n ** 2)                       # n = tanh(a_n)
    if reset_after:                                # a_n = x @ Wx_n + b_n + r * hW_n
        dr = da_n * hW_n
        dhW_n = da_n * r
        dWh_n = prev_h.T @ dhW_n                   # hW_n = prev_h @ Wh_n
        dprev_h += dhW_n @ Wh[:, 2 * H:].T
    else:                                          # a_n = x @ Wx_n + (r * prev_h) @ Wh_n + b_n
        drh = da_n @ Wh[:, 2 * H:].T
        dWh_n = (r * prev_h).T @ da_n
        dr = drh * prev_h
        dprev_h += drh * r
    da_zr = np.concatenate([dz * z * (1 - z), dr * r * (1 - r)], axis=1)   # z, r = sigmoid(a_z, a_r)
    dprev_h += da_zr @ Wh[:, :2 * H].T             # a_zr = ... + prev_h @ Wh_zr
    da = np.concatenate([da_zr, da_n], axis=1)     # a = x @ Wx + b, all three gates
    dWh = np.concatenate([prev_h.T @ da_zr, dWh_n], axis=1)
    return da @ Wx.T, dprev_h, x.T @ da, dWh, da.sum(axis=0)


def gru_forward(x, h0, Wx, Wh, b, reset_after=False):
    """Run a GRU over a whole sequence.

    x (N, T, D); h0 (N, H); Wx (D, 3H); Wh (H, 3H); b (3H,); reset_after: where r acts (see module).
    Returns h (N, T, H), the hidden state of every step, and a cache for gru_backward;
    cache["gates"] (N, T, 3H) holds every z, r, n.
    """
    N, T, D, H = check_cell_args(x, h0, Wx, Wh, b, gates=3, sequence=True)
    xs = step_major_rows(x)                               # (T N, D), step by step (see _steps.py)
    gates = (xs @ Wx).reshape(T, N, 3 * H)                # input projections of every step at once
    gates += b
    hs = np.empty((T + 1, N, H), dtype=h0.dtype)          # hs[0] = h0, hs[t + 1] = h_t
    hs[0] = h0
    hW_n = np.empty((T, N, H), dtype=h0.dtype) if reset_after else None    # h_{t-1} @ Wh_n
    hW = np.empty((N, 3 * H), dtype=h0.dtype)
    Wh_zr, Wh_n = Wh[:, :2 * H], Wh[:, 2 * H:]
    for t in range(T):
        a = gates[t]                                      # becomes z, r, n of step t, in place
        a_zr, a_n = a[:, :2 * H], a[:, 2 * H:]
        if reset_after:
            np.matmul(hs[t], Wh, out=hW)                  # one product for all three gates
            a_zr += hW[:, :2 * H]
            hW_n[t] = hW[:, 2 * H:]
        else:
            a_zr += hs[t] @ Wh_zr
        sigmoid(a_zr, out=a_zr)                           # z, r
        z, r = a[:, :H], a[:, H:2 * H]
        if reset_after:
            a_n += r * hW_n[t]                            # a_n = x @ Wx_n + b_n + r * (h @ Wh_n)
        else:
            a_n += (r * hs[t]) @ Wh_n                     # a_n = x @ Wx_n + b_n + (r * h) @ Wh_n
        np.tanh(a_n, out=a_n)                             # n
        np.subtract(hs[t], a_n, out=hs[t + 1])
        hs[t + 1] *= z
        hs[t + 1] += a_n                                  # h_t = n + z * (h_{t-1} - n) = (1 - z) n + z h_{t-1}
    h = batch_first(hs[1:])
    cache = {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "h": h, "gates": batch_first(gates),
             "xs": xs, "hs": hs, "hW_n": hW_n, "reset_after": reset_after}
    return h, cache


def gru_backward(dh, cache):
    """Backpropagation through time for gru_forward.

    dh (N, T, H): the loss gradient of every h_t.
    Returns dx (N, T, D), dh0 (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,).
    """
    x, h0, Wx, Wh, xs, hs, hW_n = (cache[k] for k in ("x", "h0", "Wx", "Wh", "xs", "hs", "hW_n"))
    reset_after = cache["reset_after"]
    gates = batch_first(cache["gates"])                   # (T, N, 3H) again
    T, N, H = gates.shape[0], x.shape[0], h0.shape[1]
    dh = batch_first(check_upstream("dh", dh, (N, T, H), hs.dtype))    # (T, N, H)
    Wh_zr, Wh_n = Wh[:, :2 * H], Wh[:, 2 * H:]
    da = np.empty_like(gates)                             # gradients of the input-side pre-activations a_z, a_r, a_n
    dhW = np.empty_like(gates) if reset_after else None   # gradients of h_{t-1} @ Wh (reset after)
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        a, d, prev_h = gates[t], da[t], hs[t]
        z, r, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        dh_t = dh[t] + dprev_h                            # h_t feeds the loss at t and step t + 1
        np.multiply(dh_t * (1 - z), 1 - n * n, out=d[:, 2 * H:])          # h_t = (1 - z) n + z h_{t-1}; n = tanh(a_n)
        np.multiply(dh_t * (prev_h - n), z * (1 - z), out=d[:, :H])       # z = sigmoid(a_z)
        da_n = d[:, 2 * H:]
        dprev_h = dh_t * z
        if reset_after:                                   # a_n = ... + r * (h_{t-1} @ Wh_n)
            np.multiply(da_n * hW_n[t], r * (1 - r), out=d[:, H:2 * H])   # r = sigmoid(a_r)
            dhW[t, :, :2 * H] = d[:, :2 * H]
            np.multiply(da_n, r, out=dhW[t, :, 2 * H:])
            dprev_h += dhW[t] @ Wh.T                      # hW = h_{t-1} @ Wh, all gates
        else:                                             # a_n = ... + (r * h_{t-1}) @ Wh_n
            drh = da_n @ Wh_n.T
            np.multiply(drh * prev_h, r * (1 - r), out=d[:, H:2 * H])     # r = sigmoid(a_r)
            dprev_h += drh * r
            dprev_h += d[:, :2 * H] @ Wh_zr.T             # a_zr = ... + h_{t-1} @ Wh_zr
    da = da.reshape(T * N, 3 * H)
    h_prev = hs[:-1].reshape(T * N, H)
    dx = batch_first((da @ Wx.T).reshape(T, N, -1))       # a = x_t @ Wx + b
    dWx = xs.T @ da
    if reset_after:
        dWh = h_prev.T @ dhW.reshape(T * N, 3 * H)
    else:
        rh = gates[:, :, H:2 * H].reshape(T * N, H) * h_prev    # r_t * h_{t-1}
        dWh = np.concatenate([h_prev.T @ da[:, :2 * H], rh.T @ da[:, 2 * H:]], axis=1)
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db
