"""Fully connected (dense) layer.

Sizes: N batch, D inputs, M outputs. Weights act on the right: out = x @ W + b, so W has shape
(D, M). The slides write y = W x + b with W of shape (M, D): our W is the transpose of theirs.
"""
from ._validate import as_float_array, check_same_dtype, check_shape, check_upstream


def dense_forward(x, W, b):
    """Affine layer out = x @ W + b.

    x (N, D); W (D, M); b (M,).
    Returns out (N, M) and a cache for dense_backward.
    """
    x, W, b = as_float_array("x", x, 2), as_float_array("W", W, 2), as_float_array("b", b, 1)
    check_shape("W", W, (x.shape[1], W.shape[1]), f"for x of shape {x.shape}", label="(D, M)")
    check_shape("b", b, (W.shape[1],), f"for W of shape {W.shape}", label="(M,)")
    check_same_dtype(x=x, W=W, b=b)
    out = x @ W + b
    return out, (x, W)


def dense_backward(dout, cache):
    """Gradients of dense_forward.

    dout (N, M): upstream gradient of out.
    Returns dx (N, D), dW (D, M), db (M,).
    """
    x, W = cache
    dout = check_upstream("dout", dout, (x.shape[0], W.shape[1]), x.dtype)
    dx = dout @ W.T                 # out = x @ W + b
    dW = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dW, db
