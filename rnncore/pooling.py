"""Aggregating a sequence of states into one vector (lecture 001, "aggregation").

Sizes: N batch, T time steps, H features. h has shape (N, T, H); the result has shape (N, H).
mask (N, T) is boolean, True at real steps and False at padding; None means every step is real.
Every sequence must keep at least one step. The four ways of the slides:

    last       h_k, the state at the last real step
    mean       sum_j h_j / k over real steps
    max        max_j h_j, feature by feature, over real steps
    attention  sum_j alpha_j h_j with alpha = softmax_j(h_j . w): dot-product attention with a
               learned query vector w (H,); padded steps get alpha = 0
"""
import numpy as np

from ._validate import as_float_array, check_mask, check_shape, check_upstream


def _check(h, mask):
    h = as_float_array("h", h, 3)
    return h, check_mask(mask, h.shape[0], h.shape[1])


def last_pool_forward(h, mask=None):
    """The state at each sequence's last real step. Returns out (N, H) and a cache."""
    h, mask = _check(h, mask)
    T = h.shape[1]
    last = T - 1 - np.argmax(mask[:, ::-1], axis=1)           # index of the last True in each row
    out = h[np.arange(h.shape[0]), last]
    return out, {"last": last, "shape": h.shape, "dtype": h.dtype}


def last_pool_backward(dout, cache):
    """dout (N, H). Returns dh (N, T, H): dout at each last real step, zero elsewhere."""
    N, T, H = cache["shape"]
    dout = check_upstream("dout", dout, (N, H), cache["dtype"])
    dh = np.zeros(cache["shape"], dtype=cache["dtype"])
    dh[np.arange(N), cache["last"]] = dout                      # out = h[n, last_n]
    return dh


def mean_pool_forward(h, mask=None):
    """The mean of the states over real steps. Returns out (N, H) and a cache."""
    h, mask = _check(h, mask)
    weights = mask / mask.sum(axis=1, keepdims=True)            # 1/k at real steps, 0 at padding
    out = np.einsum("nt,nth->nh", weights, h)
    return out, {"weights": weights, "shape": h.shape, "dtype": h.dtype}


def mean_pool_backward(dout, cache):
    """dout (N, H). Returns dh (N, T, H)."""
    N, T, H = cache["shape"]
    dout = check_upstream("dout", dout, (N, H), cache["dtype"])
    return cache["weights"][:, :, None] * dout[:, None, :]       # out = sum_t w_t h_t


def max_pool_forward(h, mask=None):
    """The maximum over real steps, feature by feature. Returns out (N, H) and a cache."""
    h, mask = _check(h, mask)
    masked = np.where(mask[:, :, None], h, -np.inf)             # padding never wins
    arg = masked.argmax(axis=1)                                 # (N, H): winning step of each feature
    out = np.take_along_axis(h, arg[:, None, :], axis=1)[:, 0]
    return out, {"arg": arg, "shape": h.shape, "dtype": h.dtype}


def max_pool_backward(dout, cache):
    """dout (N, H). Returns dh (N, T, H): each feature's gradient goes to its winning step (the first on ties)."""
    N, T, H = cache["shape"]
    dout = check_upstream("dout", dout, (N, H), cache["dtype"])
    dh = np.zeros(cache["shape"], dtype=cache["dtype"])
    np.put_along_axis(dh, cache["arg"][:, None, :], dout[:, None, :], axis=1)   # out = h[arg]
    return dh


def attention_pool_forward(h, w, mask=None):
    """Dot-product attention pooling with a learned query w.

    h (N, T, H); w (H,); mask (N, T) or None.
    Returns out (N, H) and a cache; cache["alpha"] (N, T) holds the attention weights.
    """
    h, mask = _check(h, mask)
    w = as_float_array("w", w, 1)
    check_shape("w", w, (h.shape[2],), "to match h", label="(H,)")
    scores = np.where(mask, h @ w, -np.inf)                     # e_t = h_t . w, -inf at padding
    alpha = np.exp(scores - scores.max(axis=1, keepdims=True))
    alpha /= alpha.sum(axis=1, keepdims=True)                   # alpha = softmax over time
    out = np.einsum("nt,nth->nh", alpha, h)
    return out, {"h": h, "w": w, "alpha": alpha}


def attention_pool_backward(dout, cache):
    """dout (N, H). Returns dh (N, T, H), dw (H,)."""
    h, w, alpha = cache["h"], cache["w"], cache["alpha"]
    dout = check_upstream("dout", dout, (h.shape[0], h.shape[2]), h.dtype)
    dalpha = np.einsum("nth,nh->nt", h, dout)                    # out = sum_t alpha_t h_t
    dh = alpha[:, :, None] * dout[:, None, :]
    dscores = alpha * (dalpha - (alpha * dalpha).sum(axis=1, keepdims=True))   # alpha = softmax(e)
    dh += dscores[:, :, None] * w                               # e_t = h_t . w
    dw = np.einsum("nt,nth->h", dscores, h)
    return dh, dw
