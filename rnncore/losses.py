"""Loss functions with their gradients.

Each loss takes predictions and targets and returns (loss, dpred): the mean loss, a Python float,
and its gradient with respect to the predictions (same shape as the predictions). The slides write
the per-example losses

    MSE  (y - t)^2        MAE  |y - t|        BCE  -t ln y - (1 - t) ln(1 - y)

and average them over the examples, L = (1/n) sum_i l_i; so do we, over every element.
Softmax cross-entropy takes raw scores (..., V) and integer labels (...), averages over the
positions a mask keeps, and never forms log(0). temporal_softmax_loss is the same for sequences
(N, T, V) whose padded steps are dropped, given by a mask or by the real lengths.
"""
import numpy as np

from ._validate import as_float_array, check_lengths, check_shape
from .activations import sigmoid, softmax
from .datasets import lengths_to_mask


def _check_pair(y, t):
    y = as_float_array("y", y)
    t = np.asarray(t, dtype=y.dtype)
    check_shape("t", t, y.shape, "to match the predictions y")
    return y, t


def mse_loss(y, t):
    """Mean squared error mean((y - t)^2).

    y, t: arrays of one shape. Returns (loss, dy).
    """
    y, t = _check_pair(y, t)
    diff = y - t
    return float(np.mean(diff ** 2)), 2 * diff / diff.size


def mae_loss(y, t):
    """Mean absolute error mean(|y - t|); its gradient at y = t is taken as 0.

    y, t: arrays of one shape. Returns (loss, dy).
    """
    y, t = _check_pair(y, t)
    diff = y - t
    return float(np.mean(np.abs(diff))), np.sign(diff) / diff.size


def bce_loss(y, t):
    """Binary cross-entropy mean(-t ln y - (1 - t) ln(1 - y)) on probabilities y in (0, 1).

    y: predicted probabilities; t: targets in [0, 1], same shape. Returns (loss, dy).
    A probability of exactly 0 or 1 gives an infinite loss; use bce_with_logits_loss for scores.
    """
    y, t = _check_pair(y, t)
    if np.any((y <= 0) | (y >= 1)):
        raise ValueError("bce_loss needs probabilities strictly inside (0, 1); "
                         "pass raw scores to bce_with_logits_loss instead")
    loss = -(t * np.log(y) + (1 - t) * np.log1p(-y))
    dy = (y - t) / (y * (1 - y)) / y.size
    return float(np.mean(loss)), dy


def bce_with_logits_loss(z, t):
    """Binary cross-entropy of sigmoid(z), computed from the scores z without overflow.

    z: raw scores; t: targets in [0, 1], same shape. Returns (loss, dz) with dz = (sigmoid(z) - t) / n.
    """
    z, t = _check_pair(z, t)
    # -t ln s(z) - (1 - t) ln(1 - s(z)) = max(z, 0) - t z + ln(1 + e^-|z|)
    loss = np.maximum(z, 0) - t * z + np.log1p(np.exp(-np.abs(z)))
    return float(np.mean(loss)), (sigmoid(z) - t) / z.size


def softmax_cross_entropy(scores, y, mask=None):
    """Cross-entropy of softmax(scores) against integer labels, averaged over unmasked positions.

    scores (..., V): raw class scores, e.g. (N, V) or (N, T, V);
    y (...): integer labels in [0, V); mask (...): optional booleans, True where the position counts.
    Returns (loss, dscores).
    """
    scores = as_float_array("scores", scores)
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels y must be integers, got dtype {y.dtype}")
    check_shape("y", y, scores.shape[:-1], f"to match scores of shape {scores.shape}", label="(...)")
    V = scores.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= V):
        raise ValueError(f"labels y must lie in [0, {V}); got values from {y.min()} to {y.max()}")
    mask = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    check_shape("mask", mask, y.shape, "to match the labels y")
    count = mask.sum()
    if count == 0:
        raise ValueError("mask keeps no position: the mean loss is undefined")
    shifted = scores - scores.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))   # log softmax
    picked = np.take_along_axis(log_probs, y[..., None], axis=-1)[..., 0]        # log p(correct class)
    loss = -(picked * mask).sum() / count
    dscores = softmax(scores)                                   # d(-log p_y)/dz = p - onehot(y)
    np.put_along_axis(dscores, y[..., None], np.take_along_axis(dscores, y[..., None], axis=-1) - 1, axis=-1)
    dscores *= (mask / count)[..., None]
    return float(loss), dscores


def temporal_softmax_loss(scores, y, mask=None, lengths=None):
    """Cross-entropy of a sequence of predictions, averaged over the real (unpadded) positions.

    scores (N, T, V): raw scores at every step; y (N, T): integer labels in [0, V);
    mask (N, T) bool, True where the step counts, or lengths (N,) integers in [1, T]: the first lengths[n]
    steps of row n count (give one of them or neither: then every step counts).
    Returns (loss, dscores): the mean over kept steps (a float), dscores (N, T, V) (zero at dropped steps).
    Equals torch.nn.functional.cross_entropy(scores.reshape(-1, V), y_with_pad.reshape(-1), ignore_index=pad).
    """
    scores = as_float_array("scores", scores, 3)
    N, T, _ = scores.shape
    if mask is not None and lengths is not None:
        raise ValueError("give mask or lengths, not both: lengths (N,) means mask = lengths_to_mask(lengths, T)")
    if lengths is not None:
        mask = lengths_to_mask(check_lengths("lengths", lengths, N, T), T)    # True at the first lengths[n] steps
    elif mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise ValueError(f"mask must be a boolean array (True = real step), got dtype {mask.dtype}")
        check_shape("mask", mask, (N, T), f"to match scores of shape {scores.shape}", label="(N, T)")
    return softmax_cross_entropy(scores, y, mask)          # the mean of -log p(y) over the kept steps
