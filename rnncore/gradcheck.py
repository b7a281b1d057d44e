"""Gradient checking with centred differences.

For an array function f and an upstream gradient dout of the shape of f(x), the gradient of
the scalar sum(f(x) * dout) with respect to x is what every *_backward returns. Centred
differences estimate it entry by entry:

    d/dx_i  ~  (sum(f(x + h e_i) * dout) - sum(f(x - h e_i) * dout)) / (2 h)

with an error of order h^2. This only works in float64: in float32 the rounding error of f
swamps the h^2 term and relative errors near 0.1 are normal.
"""
import numpy as np

from ._validate import check_float64, check_positive


def numeric_gradient(f, x, dout, h=1e-6):
    """Centred-difference gradient of sum(f(x) * dout) with respect to x.

    f: function of one float64 array returning an array (or a number); x: float64 array;
    dout: upstream gradient with the shape of f(x). Returns an array shaped like x.
    `x` is not changed: every probe works on a copy.
    """
    check_float64("x", x)
    check_positive("h", h)
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros_like(x)
    probe = x.copy()
    for i in np.ndindex(x.shape):
        old = probe[i]
        probe[i] = old + h
        plus = np.sum(np.asarray(f(probe.copy())) * dout)
        probe[i] = old - h
        minus = np.sum(np.asarray(f(probe.copy())) * dout)
        probe[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    """Norm-based relative error |a - b| / (|a| + |b|); 0 when both are zero.

    Unlike an element-wise maximum it does not blow up on entries near zero.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def check_gradients(forward, backward, args, dout, names=None, h=1e-6):
    """Compare an analytic backward pass with centred differences, argument by argument.

    forward(*args) returns (out, cache) or (out, ..., cache): only the first output is checked;
    backward(dout, cache) returns one gradient per argument, in the order of args.
    `names` (optional) labels the arguments. Returns {name: rel_error} for every float argument.
    """
    names = names or [f"arg{k}" for k in range(len(args))]
    if len(names) != len(args):
        raise ValueError(f"got {len(names)} names for {len(args)} arguments")
    out, *rest = forward(*args)
    grads = backward(dout, rest[-1])
    errors = {}
    for k, (name, arg) in enumerate(zip(names, args)):
        if not (isinstance(arg, np.ndarray) and np.issubdtype(arg.dtype, np.floating)):
            continue
        def f_k(v, k=k):
            return forward(*args[:k], v, *args[k + 1:])[0]
        errors[name] = rel_error(numeric_gradient(f_k, arg, dout, h), grads[k])
    return errors
