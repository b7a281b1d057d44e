"""Input checks shared by the layers: say what is wrong and what was expected.

Every public function checks its arguments before computing, so a wrong shape or dtype gives a
ValueError that names the argument, instead of a broadcast that silently computes something else.
"""
import numpy as np


def as_float_array(name, a, ndim=None):
    """Return `a` as a floating numpy array, or raise ValueError naming `name`.

    Integer, boolean and object arrays are refused: they would silently round gradients.
    """
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(a).__name__}")
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{name} must be a floating-point array (float64 or float32), got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    return a


def check_shape(name, a, expected, hint="", label=""):
    """Raise ValueError unless a.shape == expected.

    label names the expected shape in symbols, e.g. "(D, 4H)"; hint says where the expectation comes from.
    """
    if a.shape != tuple(expected):
        symbols = f"{label} = " if label else ""
        where = f" {hint}" if hint else ""
        raise ValueError(f"{name} must have shape {symbols}{tuple(expected)}{where}; got {a.shape}")


def check_same_dtype(**arrays):
    """Raise ValueError if the arrays do not all share one dtype (numpy would upcast silently)."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"{name}: {dt}" for name, dt in dtypes.items())
        raise ValueError(f"all arrays must share one dtype; got {listing}")


def check_float64(name, a):
    """Raise ValueError unless `a` is float64 (centred differences are meaningless in float32)."""
    if not isinstance(a, np.ndarray) or a.dtype != np.float64:
        dtype = getattr(a, "dtype", type(a).__name__)
        raise ValueError(f"{name} must be a float64 array for gradient checking "
                         f"(float32 gives relative errors near 0.1); got {dtype}")


def check_mask(mask, N, T):
    """Return a boolean (N, T) mask (all True if None); every row must keep at least one step."""
    if mask is None:
        return np.ones((N, T), dtype=bool)
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise ValueError(f"mask must be a boolean array (True = real step), got dtype {mask.dtype}")
    check_shape("mask", mask, (N, T), "to match h", label="(N, T)")
    if not mask.any(axis=1).all():
        empty = np.flatnonzero(~mask.any(axis=1)).tolist()
        raise ValueError(f"every sequence needs at least one unmasked step; rows {empty} are empty")
    return mask


def check_lengths(name, lengths, N, T):
    """Return lengths (N,) as integers in [1, T], or raise ValueError naming `name`."""
    lengths = np.asarray(lengths)
    if not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {lengths.dtype}")
    check_shape(name, lengths, (N,), "(one length per sequence)", label="(N,)")
    if lengths.min() < 1 or lengths.max() > T:
        bad = np.flatnonzero((lengths < 1) | (lengths > T)).tolist()
        raise ValueError(f"{name} must lie in [1, {T}] (every sequence has at least one real step and at most "
                         f"the {T} columns of its array); rows {bad[:10]} have {lengths[bad[:10]].tolist()}")
    return lengths


def check_positive(name, value):
    """Raise ValueError unless value > 0."""
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


def check_cell_args(x, prev_h, Wx, Wh, b, gates=1, sequence=False):
    """Check the arguments of a recurrent cell and return the sizes (N, T, D, H) (T = 1 for a step).

    x (N, D) for one step or (N, T, D) for a sequence; prev_h (N, H);
    Wx (D, gates * H); Wh (H, gates * H); b (gates * H,). All floating, all of one dtype.
    """
    x = as_float_array("x", x, 3 if sequence else 2)
    name_h = "h0" if sequence else "prev_h"
    prev_h = as_float_array(name_h, prev_h, 2)
    for name, a in (("Wx", Wx), ("Wh", Wh), ("b", b)):
        as_float_array(name, a)
    N, D = x.shape[0], x.shape[-1]
    T = x.shape[1] if sequence else 1
    H = prev_h.shape[1]
    if prev_h.shape[0] != N:
        raise ValueError(f"{name_h} must have shape (N, H) with N = {N} from x; got {prev_h.shape}")
    G = f"{gates}H" if gates > 1 else "H"
    hint = f"for x of shape {x.shape} and {name_h} of shape {prev_h.shape}"
    check_shape("Wx", Wx, (D, gates * H), hint, label=f"(D, {G})")
    check_shape("Wh", Wh, (H, gates * H), hint, label=f"(H, {G})")
    check_shape("b", b, (gates * H,), hint, label=f"({G},)")
    check_same_dtype(x=x, **{name_h: prev_h}, Wx=Wx, Wh=Wh, b=b)
    return N, T, D, H


def check_upstream(name, grad, shape, dtype):
    """Check an upstream gradient given to a *_backward against the forward's output."""
    grad = as_float_array(name, grad)
    check_shape(name, grad, shape, "to match the forward's output")
    if grad.dtype != dtype:
        raise ValueError(f"{name} must have dtype {dtype} like the forward pass; got {grad.dtype}")
    return grad
