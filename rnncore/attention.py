"""Attention over the states of an encoder: the decoder looks back at every source position.

Sizes: N batch, S source positions, H hidden, A attention size. A query q (N, H) (the decoder's
state) scores every encoder state h_s (h has shape (N, S, H)); a softmax over the real source
positions turns the scores into weights; the context is the weighted mean of the states:

    dot (Luong et al. 2015)                 e_s = h_s . q
    scaled dot (Vaswani et al. 2017)        e_s = h_s . q / sqrt(H)
    general, multiplicative (Luong 2015)    e_s = h_s . (q W)                   # W (H, H)
    additive (Bahdanau et al. 2015)         e_s = v . tanh(q Wq + h_s Wk)       # Wq (H, A), Wk (H, A), v (A,)
    weights = softmax_s(e)  over real s (padded s get exactly 0)         # (N, S)
    context = sum_s weights_s h_s                                        # (N, H)

mask (N, S) is boolean, True at real source positions; None means all are real. A row with no real
position has no softmax and is an error. The forward returns (context, weights, cache); the weights
are for plots only: no gradient flows into them, the backward takes dcontext alone.

Why scale by 1/sqrt(H): if the entries of q and h_s are independent with mean 0 and variance 1, the
dot product h_s . q is a sum of H such products and has variance H; dividing by sqrt(H) brings it
back to 1, so the softmax does not saturate (one weight near 1, the others near 0, tiny gradients)
just because the states are long.
"""
import numpy as np

from ._validate import as_float_array, check_mask, check_same_dtype, check_shape, check_upstream


def _check_query_and_states(q, h, mask):
    """Return q (N, Hq), h (N, S, H) and a boolean mask (N, S), or raise ValueError."""
    h = as_float_array("h", h, 3)
    q = as_float_array("q", q, 2)
    N, S, _ = h.shape
    if q.shape[0] != N:
        raise ValueError(f"q must have shape (N, H) with N = {N} from h of shape {h.shape}; got {q.shape}")
    return q, h, check_mask(mask, N, S)


def _masked_softmax(e, mask):
    """softmax over the real positions of each row of e (N, S); exactly 0 where mask is False."""
    e = np.where(mask, e, -np.inf)                        # exp(-inf) = 0: padding gets no weight
    weights = np.exp(e - e.max(axis=1, keepdims=True))    # every row has a real position, so the max is finite
    return weights / weights.sum(axis=1, keepdims=True)


def _softmax_backward(dweights, weights):
    """Gradient of the scores e from that of weights = softmax(e): w * (dw - sum_s w_s dw_s)."""
    return weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True))


def dot_attention_forward(q, h, mask=None):
    """Dot-product attention (Luong "dot"): e_s = h_s . q.

    q (N, H): queries; h (N, S, H): encoder states; mask (N, S) bool or None.
    Returns context (N, H), weights (N, S) (zero at padded positions) and a cache for dot_attention_backward.
    """
    q, h, mask = _check_query_and_states(q, h, mask)
    check_shape("q", q, (h.shape[0], h.shape[2]), f"to match h of shape {h.shape}", label="(N, H)")
    check_same_dtype(q=q, h=h)
    e = np.einsum("nsh,nh->ns", h, q)                     # e_s = h_s . q
    weights = _masked_softmax(e, mask)                    # weights = softmax over real s
    context = np.einsum("ns,nsh->nh", weights, h)         # context = sum_s weights_s h_s
    return context, weights.copy(), (q, h, weights)


def dot_attention_backward(dcontext, cache):
    """Gradients of dot_attention_forward.

    dcontext (N, H): upstream gradient of the context.
    Returns dq (N, H), dh (N, S, H) (zero at padded positions).
    """
    q, h, weights = cache
    dcontext = check_upstream("dcontext", dcontext, q.shape, h.dtype)
    dweights = np.einsum("nsh,nh->ns", h, dcontext)       # context = sum_s weights_s h_s
    dh = weights[:, :, None] * dcontext[:, None, :]       # context = sum_s weights_s h_s (the h_s)
    de = _softmax_backward(dweights, weights)             # weights = softmax over real s
    dh += de[:, :, None] * q[:, None, :]                  # e_s = h_s . q (the h_s)
    dq = np.einsum("ns,nsh->nh", de, h)                   # e_s = h_s . q (the q)
    return dq, dh


def additive_attention_forward(q, h, Wq, Wk, v, mask=None):
    """Additive attention (Bahdanau): e_s = v . tanh(q Wq + h_s Wk).

    q (N, H): queries; h (N, S, H): encoder states; Wq (H, A); Wk (H, A); v (A,); mask (N, S) bool or None.
    Returns context (N, H), weights (N, S) (zero at padded positions) and a cache for additive_attention_backward.
    """
    q, h, mask = _check_query_and_states(q, h, mask)
    Wq, Wk, v = as_float_array("Wq", Wq, 2), as_float_array("Wk", Wk, 2), as_float_array("v", v, 1)
    A = v.shape[0]
    hint = f"for q of shape {q.shape}, h of shape {h.shape} and v of shape {v.shape}"
    check_shape("Wq", Wq, (q.shape[1], A), hint, label="(H, A)")
    check_shape("Wk", Wk, (h.shape[2], A), hint, label="(H, A)")
    check_same_dtype(q=q, h=h, Wq=Wq, Wk=Wk, v=v)
    u = np.tanh((q @ Wq)[:, None, :] + h @ Wk)            # u_s = tanh(q Wq + h_s Wk), (N, S, A)
    e = u @ v                                             # e_s = v . u_s
    weights = _masked_softmax(e, mask)                    # weights = softmax over real s
    context = np.einsum("ns,nsh->nh", weights, h)         # context = sum_s weights_s h_s
    return context, weights.copy(), (q, h, Wq, Wk, v, u, weights)


def additive_attention_backward(dcontext, cache):
    """Gradients of additive_attention_forward.

    dcontext (N, H): upstream gradient of the context.
    Returns dq (N, H), dh (N, S, H) (zero at padded positions), dWq (H, A), dWk (H, A), dv (A,).
    """
    q, h, Wq, Wk, v, u, weights = cache
    N, S, H = h.shape
    A = v.shape[0]
    dcontext = check_upstream("dcontext", dcontext, (N, H), h.dtype)
    dweights = np.einsum("nsh,nh->ns", h, dcontext)       # context = sum_s weights_s h_s
    dh = weights[:, :, None] * dcontext[:, None, :]       # context = sum_s weights_s h_s (the h_s)
    de = _softmax_backward(dweights, weights)             # weights = softmax over real s
    dv = np.einsum("ns,nsa->a", de, u)                    # e_s = v . u_s (the v)
    da = de[:, :, None] * v * (1 - u ** 2)                # e_s = v . u_s, u_s = tanh(a_s)
    dq_proj = da.sum(axis=1)                              # a_s = q Wq + h_s Wk: q Wq is shared by every s
    dq, dWq = dq_proj @ Wq.T, q.T @ dq_proj               # q Wq
    dh += da @ Wk.T                                       # h_s Wk (the h_s)
    dWk = h.reshape(N * S, H).T @ da.reshape(N * S, A)    # h_s Wk (the Wk)
    return dq, dh, dWq, dWk, dv


def scaled_dot_attention_forward(q, h, mask=None):
    """Scaled dot-product attention (Vaswani et al. 2017, one head): e_s = h_s . q / sqrt(H).

    q (N, H): queries; h (N, S, H): encoder states; mask (N, S) bool or None.
    Returns context (N, H), weights (N, S) (zero at padded positions) and a cache for
    scaled_dot_attention_backward.
    """
    q, h, mask = _check_query_and_states(q, h, mask)
    check_shape("q", q, (h.shape[0], h.shape[2]), f"to match h of shape {h.shape}", label="(N, H)")
    check_same_dtype(q=q, h=h)
    scale = 1.0 / np.sqrt(h.shape[2])
    e = np.einsum("nsh,nh->ns", h, q) * scale             # e_s = h_s . q / sqrt(H)
    weights = _masked_softmax(e, mask)                    # weights = softmax over real s
    context = np.einsum("ns,nsh->nh", weights, h)         # context = sum_s weights_s h_s
    return context, weights.copy(), (q, h, weights, scale)


def scaled_dot_attention_backward(dcontext, cache):
    """Gradients of scaled_dot_attention_forward.

    dcontext (N, H): upstream gradient of the context.
    Returns dq (N, H), dh (N, S, H) (zero at padded positions).
    """
    q, h, weights, scale = cache
    dcontext = check_upstream("dcontext", dcontext, q.shape, h.dtype)
    dweights = np.einsum("nsh,nh->ns", h, dcontext)       # context = sum_s weights_s h_s
    dh = weights[:, :, None] * dcontext[:, None, :]       # context = sum_s weights_s h_s (the h_s)
    de = _softmax_backward(dweights, weights) * scale     # weights = softmax(e), e = (h_s . q) * scale
    dh += de[:, :, None] * q[:, None, :]                  # e_s = h_s . q * scale (the h_s)
    dq = np.einsum("ns,nsh->nh", de, h)                   # e_s = h_s . q * scale (the q)
    return dq, dh


def general_attention_forward(q, h, W, mask=None):
    """Multiplicative attention (Luong et al. 2015, "general"): e_s = h_s . (q W).

    q (N, Hq): queries; h (N, S, H): encoder states; W (Hq, H): learned; mask (N, S) bool or None.
    With W = I this is dot attention; W lets the query and the states live in different spaces.
    Returns context (N, H), weights (N, S) (zero at padded positions) and a cache for general_attention_backward.
    """
    q, h, mask = _check_query_and_states(q, h, mask)
    W = as_float_array("W", W, 2)
    check_shape("W", W, (q.shape[1], h.shape[2]), f"for q of shape {q.shape} and h of shape {h.shape}",
                label="(Hq, H)")
    check_same_dtype(q=q, h=h, W=W)
    key = q @ W                                           # (N, H): the query mapped into the states' space
    e = np.einsum("nsh,nh->ns", h, key)                   # e_s = h_s . (q W)
    weights = _masked_softmax(e, mask)                    # weights = softmax over real s
    context = np.einsum("ns,nsh->nh", weights, h)         # context = sum_s weights_s h_s
    return context, weights.copy(), (q, h, W, key, weights)


def general_attention_backward(dcontext, cache):
    """Gradients of general_attention_forward.

    dcontext (N, H): upstream gradient of the context.
    Returns dq (N, Hq), dh (N, S, H) (zero at padded positions), dW (Hq, H).
    """
    q, h, W, key, weights = cache
    dcontext = check_upstream("dcontext", dcontext, (h.shape[0], h.shape[2]), h.dtype)
    dweights = np.einsum("nsh,nh->ns", h, dcontext)       # context = sum_s weights_s h_s
    dh = weights[:, :, None] * dcontext[:, None, :]       # context = sum_s weights_s h_s (the h_s)
    de = _softmax_backward(dweights, weights)             # weights = softmax over real s
    dh += de[:, :, None] * key[:, None, :]                # e_s = h_s . key (the h_s)
    dkey = np.einsum("ns,nsh->nh", de, h)                 # e_s = h_s . key (the key)
    return dkey @ W.T, dh, q.T @ dkey                     # key = q W
