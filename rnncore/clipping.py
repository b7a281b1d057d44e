"""Gradient clipping: the remedy for exploding gradients.

`grads` is a dict {name: array} (or a list or tuple of arrays). The functions return new
gradients of the same structure and never change their inputs.
"""
import numpy as np

from ._validate import check_positive


def _items(grads):
    if isinstance(grads, dict):
        return list(grads.items())
    if isinstance(grads, (list, tuple)):
        return list(enumerate(grads))
    raise ValueError(f"grads must be a dict, list or tuple of arrays, got {type(grads).__name__}")


def _rebuild(grads, items):
    if isinstance(grads, dict):
        return dict(items)
    return type(grads)(value for _, value in items)


def clip_by_value(grads, limit):
    """Clip every gradient entry into [-limit, limit] (as min-char-rnn does with limit 5)."""
    check_positive("limit", limit)
    return _rebuild(grads, [(k, np.clip(g, -limit, limit)) for k, g in _items(grads)])


def global_norm(grads):
    """sqrt of the sum of squares of every entry of every gradient."""
    return float(np.sqrt(sum(np.sum(np.square(g)) for _, g in _items(grads))))


def clip_by_global_norm(grads, max_norm):
    """Rescale all gradients together so that their global norm is at most max_norm.

    Returns (clipped, norm): the rescaled gradients (the direction is kept) and the norm before clipping.
    """
    check_positive("max_norm", max_norm)
    norm = global_norm(grads)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return _rebuild(grads, [(k, g * scale) for k, g in _items(grads)]), norm
