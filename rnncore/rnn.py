"""Vanilla (Elman) recurrent network in numpy.

Sizes: N batch, T time steps, D input, H hidden. Batch-first: x has shape (N, T, D).
Weights act on the right (x @ Wx). One step:

    next_h = tanh(x @ Wx + prev_h @ Wh + b)

The slides write the same cell as tanh(W_hh h + W_xh x) (000), f(W_x x + W_h h + b) (001) and
sigma(W X + U h + b_h) (003): W_xh = Wx.T, W_hh = Wh.T.
Every *_forward returns (outputs, cache); every *_backward takes (upstream grads, cache) and
returns the gradients in the order of the forward's arguments.

The sequence functions do what a loop over rnn_step_forward / rnn_step_backward does, but move
every product that does not depend on the previous step out of the loop: the input projections
of all T steps are one (N*T, D) @ (D, H) product, and dx, dWx, dWh, db are one product each after
the backward loop. Only prev_h @ Wh (forward) and dz @ Wh.T (backward) stay inside. The state
is h alone: the last state is h[:, -1], and the loss gradient of it is part of dh.
"""
import numpy as np

from ._steps import batch_first, step_major_rows, tanh_inplace
from ._validate import check_cell_args, check_upstream


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One vanilla RNN step.

    x (N, D); prev_h (N, H); Wx (D, H); Wh (H, H); b (H,).
    Returns next_h (N, H) and a cache for rnn_step_backward.
    """
    check_cell_args(x, prev_h, Wx, Wh, b)
    next_h = np.tanh(x @ Wx + b + prev_h @ Wh)      # same order of sums as rnn_forward
    return next_h.copy(), (x, prev_h, Wx, Wh, next_h)   # the cache keeps its own next_h


def rnn_step_backward(dnext_h, cache):
    """Gradients of one RNN step.

    dnext_h (N, H): upstream gradient of next_h.
    Returns dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, prev_h, Wx, Wh, next_h = cache
    dnext_h = check_upstream("dnext_h", dnext_h, next_h.shape, next_h.dtype)
    dz = dnext_h * (1 - next_h ** 2)          # next_h = tanh(z)
    dx, dprev_h = dz @ Wx.T, dz @ Wh.T        # z = x @ Wx + prev_h @ Wh + b
    dWx, dWh = x.T @ dz, prev_h.T @ dz
    return dx, dprev_h, dWx, dWh, dz.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """Run a vanilla RNN over a whole sequence.

    x (N, T, D); h0 (N, H); Wx (D, H); Wh (H, H); b (H,).
    Returns h (N, T, H), the hidden state of every step (the last one is h[:, -1]), and a cache
    for rnn_backward.
    """
    N, T, D, H = check_cell_args(x, h0, Wx, Wh, b, sequence=True)
    xs = step_major_rows(x)                              # (T N, D), step by step (see _steps.py)
    hs = np.empty((T + 1, N, H), dtype=h0.dtype)         # hs[0] = h0, hs[t + 1] = h_t
    hs[0] = h0
    np.matmul(xs, Wx, out=hs[1:].reshape(T * N, H))      # input projections of every step at once
    hs[1:] += b                                          # hs[t + 1] holds z_t until step t overwrites it
    hWh = np.empty((N, H), dtype=h0.dtype)
    with np.errstate(over="ignore"):                     # see _steps.py
        for t in range(T):
            z = hs[t + 1]
            z += np.matmul(hs[t], Wh, out=hWh)           # z_t = x_t @ Wx + b + h_{t-1} @ Wh
            tanh_inplace(z)                              # h_t = tanh(z_t), written in place of z_t
    cache = {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "h": batch_first(hs[1:]), "xs": xs, "hs": hs}
    return batch_first(hs[1:].copy()), cache             # a copy: the caller's to change


def rnn_backward(dh, cache):
    """Backpropagation through time for rnn_forward.

    dh (N, T, H): the loss gradient of every h_t (that of the last state h_T is dh[:, -1]).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, h0, Wx, Wh, xs, hs = (cache[k] for k in ("x", "h0", "Wx", "Wh", "xs", "hs"))
    T, N, H = hs.shape[0] - 1, x.shape[0], h0.shape[1]
    dh = batch_first(check_upstream("dh", dh, (N, T, H), hs.dtype))    # (T, N, H)
    dz = 1 - hs[1:] ** 2                                 # h_t = tanh(z_t): tanh'(z_t) = 1 - h_t^2, all steps at once
    dprev_h, dh_t = np.zeros_like(h0), np.empty_like(h0)
    for t in reversed(range(T)):
        dz[t] *= np.add(dh[t], dprev_h, out=dh_t)        # h_t feeds the loss at t and step t + 1
        np.matmul(dz[t], Wh.T, out=dprev_h)              # z_t = ... + h_{t-1} @ Wh
    dz = dz.reshape(T * N, H)
    dx = batch_first((dz @ Wx.T).reshape(T, N, -1))      # z_t = x_t @ Wx + h_{t-1} @ Wh + b
    dWx = xs.T @ dz
    dWh = hs[:-1].reshape(T * N, H).T @ dz
    db = dz.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db
