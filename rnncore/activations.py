"""Activation functions and their derivatives.

All functions act element-wise on arrays of any shape (softmax along one axis) and accept
Python numbers too. `*_grad(x)` is the derivative of the activation at the point x, as in the
slides' table:

    sigmoid  1 / (1 + e^-x)   derivative f(x) (1 - f(x))   range (0, 1)
    tanh     tanh(x)          derivative 1 - f(x)^2        range (-1, 1)
    ReLU     max(x, 0)        derivative 1 if x > 0 else 0 range [0, +inf)
"""
import numpy as np


def _as_float(x):
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def sigmoid(x, out=None):
    """Logistic function 1 / (1 + exp(-x)), exact to the last digits for any x, no warnings.

    out: optional array to write the result into (it may be x itself).
    For x < -709, exp(-x) overflows to inf and 1 / inf = 0 is the right answer, so the overflow
    is silenced rather than avoided (avoiding it costs a second pass over the array).
    """
    x = _as_float(x)
    out = np.negative(x, out=np.empty_like(x) if out is None else out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)                      # e^-x; inf for very negative x
    out += 1
    return np.reciprocal(out, out=out)            # 1 / (1 + e^-x)


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(_as_float(x))


def relu(x):
    """Rectifier max(x, 0)."""
    return np.maximum(_as_float(x), 0)


def softmax(z, axis=-1):
    """softmax(z)_i = exp(z_i) / sum_j exp(z_j) along `axis`; shift by the max so exp never overflows."""
    z = _as_float(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))   # largest entry becomes exp(0) = 1
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid_grad(x):
    """Derivative of sigmoid at x: s (1 - s)."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh_grad(x):
    """Derivative of tanh at x: 1 - tanh(x)^2."""
    return 1 - np.tanh(_as_float(x)) ** 2


def relu_grad(x):
    """Derivative of ReLU at x: 1 where x > 0, else 0 (lecture 001's choice at x = 0; 003 takes 1 there)."""
    return (_as_float(x) > 0).astype(_as_float(x).dtype)
