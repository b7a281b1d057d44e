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
returns the gradients in the order of the forward's arguments. The GRU's state is h alone: the
last state is h[:, -1], and the loss gradient of it is part of dh (add it to dh[:, -1]).

gru_forward / gru_backward organise the work like rnn_forward / rnn_backward (see rnn.py). Before
its loop, gru_backward computes every factor that depends only on the forward pass (such as
(1 - z) (1 - n^2)) for all steps at once; each step then only multiplies them with dh_t.
"""
import numpy as np

from ._steps import batch_first, sigmoid_inplace, step_major_rows, tanh_inplace
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
    Returns h (N, T, H), the hidden state of every step (the last one is h[:, -1]), and a cache
    for gru_backward; cache["z"], cache["r"], cache["n"] (N, T, H) hold every z, r, n.
    """
    N, T, D, H = check_cell_args(x, h0, Wx, Wh, b, gates=3, sequence=True)
    xs = step_major_rows(x)                               # (T N, D), step by step (see _steps.py)
    zr = (xs @ Wx[:, :2 * H]).reshape(T, N, 2 * H)        # input projections of every step at once,
    zr += b[:2 * H]                                       # z and r side by side, n apart: each step's
    n = (xs @ Wx[:, 2 * H:]).reshape(T, N, H)             # activations then work on contiguous blocks
    n += b[2 * H:]
    hs = np.empty((T + 1, N, H), dtype=h0.dtype)          # hs[0] = h0, hs[t + 1] = h_t
    hs[0] = h0
    hW = np.empty((T, N, 3 * H), dtype=h0.dtype) if reset_after else None   # h_{t-1} @ Wh, every step
    hW_zr, rh = np.empty((N, 2 * H), dtype=h0.dtype), np.empty((N, H), dtype=h0.dtype)
    Wh_zr, Wh_n = Wh[:, :2 * H], Wh[:, 2 * H:]
    with np.errstate(over="ignore"):                      # see _steps.py: sigmoid of a < -709 is 0
        for t in range(T):
            a_zr, a_n = zr[t], n[t]                       # become z, r and n of step t, in place
            if reset_after:
                np.matmul(hs[t], Wh, out=hW[t])           # one product for all three gates
                a_zr += hW[t, :, :2 * H]
            else:
                a_zr += np.matmul(hs[t], Wh_zr, out=hW_zr)
            sigmoid_inplace(a_zr)                         # z, r
            z, r = a_zr[:, :H], a_zr[:, H:]
            if reset_after:
                a_n += np.multiply(r, hW[t, :, 2 * H:], out=rh)   # a_n = x @ Wx_n + b_n + r * (h @ Wh_n)
            else:
                a_n += np.multiply(r, hs[t], out=rh) @ Wh_n        # a_n = x @ Wx_n + b_n + (r * h) @ Wh_n
            tanh_inplace(a_n)                             # n
            np.subtract(hs[t], a_n, out=hs[t + 1])
            hs[t + 1] *= z
            hs[t + 1] += a_n                              # h_t = n + z * (h_{t-1} - n) = (1 - z) n + z h_{t-1}
    cache = {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "h": batch_first(hs[1:]), "z": batch_first(zr[:, :, :H]),
             "r": batch_first(zr[:, :, H:]), "n": batch_first(n), "xs": xs, "hs": hs, "hW": hW,
             "reset_after": reset_after}
    return batch_first(hs[1:].copy()), cache              # a copy: the caller's to change


def gru_backward(dh, cache):
    """Backpropagation through time for gru_forward.

    dh (N, T, H): the loss gradient of every h_t (that of the last state h_T is dh[:, -1]).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,).
    """
    x, h0, Wx, Wh, xs, hs = (cache[k] for k in ("x", "h0", "Wx", "Wh", "xs", "hs"))
    z, r, n = (batch_first(cache[k]) for k in ("z", "r", "n"))   # (T, N, H) each, time-major again
    T, N, H = z.shape
    dh = batch_first(check_upstream("dh", dh, (N, T, H), hs.dtype))    # (T, N, H)
    if cache["reset_after"]:
        dh0, dWh, da = _reset_after_bptt(dh, z, r, n, hs[:-1], cache["hW"][:, :, 2 * H:], Wh)
    else:
        dh0, dWh, da = _reset_before_bptt(dh, z, r, n, hs[:-1], Wh)
    da = da.reshape(T * N, 3 * H)
    dx = batch_first((da @ Wx.T).reshape(T, N, -1))       # a = x_t @ Wx + b: the input side of all three gates
    dWx = xs.T @ da
    db = da.sum(axis=0)
    return dx, dh0, dWx, dWh, db


def _reset_after_bptt(dh, z, r, n, h_prev, hW_n, Wh):
    """The loop of gru_backward for reset_after=True: a_n = x @ Wx_n + b_n + r * hW_n, hW = h_{t-1} @ Wh.

    dh, z, r, n, h_prev, hW_n (T, N, H): time-major. Returns dh0 (N, H), dWh (H, 3H) and
    da (T, N, 3H), the gradients of the input-side pre-activations a_z, a_r, a_n.
    """
    T, N, H = z.shape
    # What depends only on the forward pass, for all steps at once (large vectorised passes);
    # the loop below only multiplies these factors with the gradient dh_t that flows back.
    k_n = (1 - z) * (1 - n * n)                           # h_t = (1 - z) n + z h_{t-1}, n = tanh(a_n)
    k = np.empty((T, N, 3 * H), dtype=z.dtype)            # dhW_t = dh_t * k_t, block by block
    np.multiply(h_prev - n, z * (1 - z), out=k[:, :, :H])          # h_t = n + z (h_{t-1} - n), z = sigmoid(a_z)
    np.multiply(k_n * hW_n, r * (1 - r), out=k[:, :, H:2 * H])     # a_n = ... + r * hW_n, r = sigmoid(a_r)
    np.multiply(k_n, r, out=k[:, :, 2 * H:])                       # a_n = ... + r * hW_n: the gradient of hW_n

    dhW = k                                               # step t turns its factors into its gradients, in place
    dh_all = np.empty_like(z)                             # dL/dh_t of every step, through all paths
    dprev_h = np.zeros_like(z[0])
    for t in reversed(range(T)):
        dh_t = np.add(dh[t], dprev_h, out=dh_all[t])      # h_t feeds the loss at t and step t + 1
        d = dhW[t]
        d[:, :H] *= dh_t                                  # da_z (= the gradient of hW_z)
        d[:, H:2 * H] *= dh_t                             # da_r (= the gradient of hW_r)
        d[:, 2 * H:] *= dh_t                              # the gradient of hW_n
        np.multiply(dh_t, z[t], out=dprev_h)              # h_t = ... + z h_{t-1}
        dprev_h += d @ Wh.T                               # hW = h_{t-1} @ Wh, all three gates
    dWh = h_prev.reshape(T * N, H).T @ dhW.reshape(T * N, 3 * H)
    da = dhW                                              # a_z, a_r: the input side gets what hW gets;
    np.multiply(dh_all, k_n, out=da[:, :, 2 * H:])        # a_n = x @ Wx_n + b_n + ...: dh_t (1 - z) (1 - n^2)
    return dprev_h, dWh, da


def _reset_before_bptt(dh, z, r, n, h_prev, Wh):
    """The loop of gru_backward for reset_after=False: a_n = x @ Wx_n + b_n + (r * h_{t-1}) @ Wh_n.

    dh, z, r, n, h_prev (T, N, H): time-major. Returns dh0 (N, H), dWh (H, 3H) and
    da (T, N, 3H), the gradients of the pre-activations a_z, a_r, a_n.
    """
    T, N, H = z.shape
    Wh_zr, Wh_n = Wh[:, :2 * H], Wh[:, 2 * H:]
    # What depends only on the forward pass, for all steps at once (see _reset_after_bptt).
    k = np.empty((T, N, 3 * H), dtype=z.dtype)            # da_t = [dh_t, drh_t, dh_t] * k_t, block by block
    np.multiply(h_prev - n, z * (1 - z), out=k[:, :, :H])          # h_t = n + z (h_{t-1} - n), z = sigmoid(a_z)
    np.multiply(h_prev, r * (1 - r), out=k[:, :, H:2 * H])         # a_n = ... + (r * h_{t-1}) @ Wh_n, r = sigmoid(a_r)
    np.multiply(1 - z, 1 - n * n, out=k[:, :, 2 * H:])             # h_t = (1 - z) n + ..., n = tanh(a_n)

    da = k                                                # step t turns its factors into its gradients, in place
    dprev_h, dh_t = np.zeros_like(z[0]), np.empty_like(z[0])
    for t in reversed(range(T)):
        np.add(dh[t], dprev_h, out=dh_t)                  # h_t feeds the loss at t and step t + 1
        d = da[t]
        d[:, :H] *= dh_t                                  # da_z
        d[:, 2 * H:] *= dh_t                              # da_n
        drh = d[:, 2 * H:] @ Wh_n.T                       # the gradient of r * h_{t-1}
        d[:, H:2 * H] *= drh                              # da_r
        np.multiply(dh_t, z[t], out=dprev_h)              # h_t = ... + z h_{t-1}
        dprev_h += drh * r[t]                             # r * h_{t-1}
        dprev_h += d[:, :2 * H] @ Wh_zr.T                 # a_zr = ... + h_{t-1} @ Wh_zr
    rows = lambda a: a.reshape(T * N, -1)
    dWh = np.concatenate([rows(h_prev).T @ rows(da[:, :, :2 * H]),              # a_zr = ... + h_{t-1} @ Wh_zr
                          rows(r * h_prev).T @ rows(da[:, :, 2 * H:])], axis=1)  # a_n = ... + (r * h_{t-1}) @ Wh_n
    return dprev_h, dWh, da
