"""Word embeddings: a lookup table of learned vectors, one row per token.

Sizes: N batch, T time steps, V vocabulary, D embedding size. x (N, T) holds token ids in [0, V);
W (V, D) holds one vector per token; the output is out[n, t] = W[x[n, t]], shape (N, T, D).
The lookup is the product of one-hot vectors with W (one_hot(x, V) @ W) without forming them.
With padding_idx the row of the padding token gets no gradient and so never changes in training
(torch.nn.Embedding(V, D, padding_idx=...)).
"""
import numpy as np

from ._validate import as_float_array, check_upstream


def embedding_forward(x, W, padding_idx=None):
    """Look up the vectors of the tokens.

    x (N, T): integer token ids in [0, V); W (V, D): the embedding table;
    padding_idx: the id of the padding token (its row gets no gradient) or None.
    Returns out (N, T, D) = W[x] and a cache for embedding_backward.
    """
    W = as_float_array("W", W, 2)
    V = W.shape[0]
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"token ids x must be integers, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"token ids x must have shape (N, T), got {x.shape}")
    if x.size and (x.min() < 0 or x.max() >= V):
        raise ValueError(f"token ids x must lie in [0, V) = [0, {V}) for W of shape {W.shape}; "
                         f"got values from {x.min()} to {x.max()}")
    if padding_idx is not None and not (isinstance(padding_idx, (int, np.integer)) and 0 <= padding_idx < V):
        raise ValueError(f"padding_idx must be None or a token id in [0, {V}), got {padding_idx!r}")
    out = W[x]                                            # out[n, t] = W[x[n, t]] (a new array)
    return out, (x.copy(), W.shape, W.dtype, padding_idx)


def embedding_backward(dout, cache):
    """Gradient of the embedding table.

    dout (N, T, D): upstream gradient of out.
    Returns dW (V, D): row v sums dout over every position holding token v; the row of padding_idx is 0.
    """
    x, (V, D), dtype, padding_idx = cache
    dout = check_upstream("dout", dout, (*x.shape, D), dtype)
    dW = np.zeros((V, D), dtype=dtype)
    np.add.at(dW, x.ravel(), dout.reshape(-1, D))         # out[n, t] = W[x[n, t]]: each use adds its gradient
    if padding_idx is not None:
        dW[padding_idx] = 0                               # the padding vector is not trained
    return dW
