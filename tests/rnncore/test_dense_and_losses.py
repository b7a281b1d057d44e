import numpy as np
import pytest
import torch

import rnncore as rc


def test_dense_backward_matches_numeric_gradient(rng):
    """Does dense_backward give the finite-difference gradients of x, W and b?"""
    N, D, M = rng.integers(2, 6, size=3)
    args = (rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M))
    errors = rc.check_gradients(rc.dense_forward, rc.dense_backward, args, rng.standard_normal((N, M)),
                                names=["x", "W", "b"])
    assert max(errors.values()) < 1e-8, errors


def test_dense_forward_does_not_change_its_inputs(rng):
    """Are the inputs of dense_forward untouched?"""
    x, W, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    copies = [a.copy() for a in (x, W, b)]
    out, cache = rc.dense_forward(x, W, b)
    rc.dense_backward(np.ones_like(out), cache)
    for a, c in zip((x, W, b), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("loss", [rc.mse_loss, rc.mae_loss, rc.bce_loss, rc.bce_with_logits_loss])
def test_elementwise_loss_gradient_matches_numeric(loss, rng):
    """Is the returned gradient of each loss the derivative of its mean value?"""
    y = rng.uniform(0.05, 0.95, size=(4, 3))
    t = rng.integers(0, 2, size=(4, 3)).astype(float) if loss in (rc.bce_loss, rc.bce_with_logits_loss) \
        else rng.standard_normal((4, 3))
    _, dy = loss(y, t)
    numeric = rc.numeric_gradient(lambda v: loss(v, t)[0], y, 1.0)
    assert rc.rel_error(numeric, dy) < 1e-7


def test_losses_match_pytorch(rng):
    """Do MSE, MAE, BCE and cross-entropy agree with torch.nn.functional (mean reduction)?"""
    import torch.nn.functional as F
    y, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    p, b = rng.uniform(0.01, 0.99, (5, 3)), rng.integers(0, 2, (5, 3)).astype(float)
    scores, labels = rng.standard_normal((6, 7)), rng.integers(0, 7, size=6)
    T = torch.from_numpy
    assert rc.mse_loss(y, t)[0] == pytest.approx(F.mse_loss(T(y), T(t)).item(), rel=1e-12)
    assert rc.mae_loss(y, t)[0] == pytest.approx(F.l1_loss(T(y), T(t)).item(), rel=1e-12)
    assert rc.bce_loss(p, b)[0] == pytest.approx(F.binary_cross_entropy(T(p), T(b)).item(), rel=1e-12)
    assert rc.bce_with_logits_loss(y, b)[0] == pytest.approx(
        F.binary_cross_entropy_with_logits(T(y), T(b)).item(), rel=1e-12)
    assert rc.softmax_cross_entropy(scores, labels)[0] == pytest.approx(
        F.cross_entropy(T(scores), T(labels)).item(), rel=1e-12)


def test_softmax_cross_entropy_masks_and_gradient(rng):
    """Does the mask drop positions from the mean, and is dscores the exact gradient?"""
    scores = rng.standard_normal((3, 4, 5))
    y = rng.integers(0, 5, size=(3, 4))
    mask = rng.random((3, 4)) < 0.6
    mask[0, 0] = True
    loss, dscores = rc.softmax_cross_entropy(scores, y, mask)
    kept, _ = rc.softmax_cross_entropy(scores[mask], y[mask])
    assert loss == pytest.approx(kept, rel=1e-12)
    numeric = rc.numeric_gradient(lambda s: rc.softmax_cross_entropy(s, y, mask)[0], scores, 1.0)
    assert rc.rel_error(numeric, dscores) < 1e-7
    assert np.all(dscores[~mask] == 0)


def test_softmax_cross_entropy_is_finite_for_huge_scores():
    """Does cross-entropy avoid log(0) when a wrong class has a score of 1000?"""
    loss, d = rc.softmax_cross_entropy(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert loss == pytest.approx(2000.0) and np.all(np.isfinite(d))


@pytest.mark.parametrize("call, message", [
    (lambda: rc.bce_loss(np.array([0.0, 0.5]), np.array([0.0, 1.0])), "strictly inside"),
    (lambda: rc.mse_loss(np.ones(3), np.ones(4)), "shape"),
    (lambda: rc.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 3])), r"lie in \[0, 3\)"),
    (lambda: rc.softmax_cross_entropy(np.ones((2, 3)), np.array([0.0, 1.0])), "integers"),
    (lambda: rc.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 1]), np.zeros(2, bool)), "mask keeps no"),
    (lambda: rc.dense_forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(2)), r"W must have shape \(D, M\) = \(3, 2\)"),
    (lambda: rc.dense_forward(np.ones((2, 3), dtype=int), np.ones((3, 2)), np.ones(2)), "floating-point"),
    (lambda: rc.dense_forward(np.ones((2, 3), np.float32), np.ones((3, 2)), np.ones(2)), "share one dtype"),
])
def test_bad_input_gives_a_clear_error(call, message):
    """Does bad input raise a ValueError that says what is wrong?"""
    with pytest.raises(ValueError, match=message):
        call()
