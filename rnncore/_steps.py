"""What the loops of rnn_forward, lstm_forward and gru_forward share: time-major storage, fast activations.

Time-major storage. The public arrays are batch-first, (N, T, ...). The loops read and write one
time step at a time, so inside them the step axis comes first, (T, N, ...): each step is then one
contiguous block rather than N rows scattered over the whole array, and the products over all
steps use the (T N, ...) matrices without copies. Caches hold batch-first views of this storage
(`batch_first`), so users see the usual layout; the backward passes flip them back for free.
Arrays a forward returns are copies: the caller may change them without changing the cache.

Fast activations. In float64 numpy's tanh costs about 2.5 times an exp (CPUs without AVX-512,
where numpy calls the C library for every element), and in the forward loops these activations
are most of the time that is not matrix products. The loops therefore compute both from exp:

    sigmoid(a) = 1 / (1 + exp(-a))        tanh(a) = 2 sigmoid(2 a) - 1 = 2 / (1 + exp(-2 a)) - 1

sigmoid_inplace computes exactly what activations.sigmoid computes; tanh_inplace differs from
np.tanh by at most a few 1e-16 (absolute). Call them inside np.errstate(over="ignore"): for very
negative a, exp(-a) overflows to inf, and 1 / (1 + inf) = 0 is the right answer. The step
functions (rnn_step_forward, ...) keep np.tanh and activations.sigmoid.
"""
import numpy as np


def step_major_rows(x):
    """x (N, T, D) as a contiguous (T N, D) matrix whose rows t N .. t N + N - 1 are step t."""
    N, T, D = x.shape
    return np.ascontiguousarray(x.swapaxes(0, 1)).reshape(T * N, D)


def batch_first(a):
    """A (T, N, ...) array seen as (N, T, ...), without copying (and back again)."""
    return a.swapaxes(0, 1)


def sigmoid_inplace(a):
    """a <- sigmoid(a) = 1 / (1 + exp(-a)), in place. Returns a."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    return np.reciprocal(a, out=a)


def tanh_inplace(a, out=None):
    """out <- tanh(a) = 2 / (1 + exp(-2 a)) - 1 (in place if out is None). Returns out."""
    out = a if out is None else out
    np.multiply(a, -2.0, out=out)
    np.exp(out, out=out)
    out += 1
    np.divide(2.0, out, out=out)
    out -= 1
    return out
