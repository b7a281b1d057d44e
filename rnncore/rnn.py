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
the backward loop. Only prev_h @ Wh (forward) and dz @ Wh.T (backward) stay inside.
"""
import numpy as np

from ._validate import check_cell_args, check_upstream


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One vanilla RNN step.

    x (N, D); prev_h (N, H); Wx (D, H); Wh (H, H); b (H,).
    Returns next_h (N, H) and a cache for rnn_step_backward.
    """
    check_cell_args(x, prev_h, Wx, Wh, b)
    next_h = np.tanh(x @ Wx + b + prev_h @ Wh)      # same order of sums as rnn_forward
    return next_h, (x, prev_h, Wx, Wh, next_h)


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
    Returns h (N, T, H), the hidden state of every step, and a cache for rnn_backward.
    """
    N, T, D, H = check_cell_args(x, h0, Wx, Wh, b, sequence=True)
    h = (x.reshape(N * T, D) @ Wx).reshape(N, T, H)     # input projections of every step
    h += b                                               # h holds z_t until step t overwrites it
    prev_h = h0
    for t in range(T):
        z = h[:, t]
        z += prev_h @ Wh                                 # z_t = x_t @ Wx + b + h_{t-1} @ Wh
        prev_h = np.tanh(z, out=z)                       # h_t = tanh(z_t), written in place of z_t
    return h, {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "h": h}


def rnn_backward(dh, cache):
    """Backpropagation through time for rnn_forward.

    dh (N, T, H): the loss gradient of every h_t (zero where a step feeds no loss).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, h0, Wx, Wh, h = cache["x"], cache["h0"], cache["Wx"], cache["Wh"], cache["h"]
    N, T, H = h.shape
    dh = check_upstream("dh", dh, h.shape, h.dtype)
    dz = 1 - h * h                                       # tanh'(z_t) = 1 - h_t^2, for all t at once
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        dz_t = dz[:, t]
        dz_t *= dh[:, t] + dprev_h                       # h_t feeds the loss at t and step t + 1
        dprev_h = dz_t @ Wh.T                            # z_t = ... + h_{t-1} @ Wh
    dz_flat = dz.reshape(N * T, H)
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1).reshape(N * T, H)
    dx = (dz_flat @ Wx.T).reshape(x.shape)               # z_t = x_t @ Wx + ...
    dWx = x.reshape(N * T, -1).T @ dz_flat
    dWh = h_prev.T @ dz_flat
    db = dz_flat.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db
