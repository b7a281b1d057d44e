import numpy as np
import pytest

import rnncore as rc


def test_numeric_gradient_of_a_known_function(rng):
    """Does numeric_gradient recover d/dx sum(sin(x) * dout) = cos(x) * dout?"""
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert rc.rel_error(rc.numeric_gradient(np.sin, x, dout), np.cos(x) * dout) < 1e-9


def test_numeric_gradient_leaves_x_unchanged(rng):
    """Is x the same array, with the same values, after the probes?"""
    x = rng.standard_normal(5)
    before = x.copy()
    rc.numeric_gradient(lambda v: v ** 2, x, np.ones(5))
    np.testing.assert_array_equal(x, before)


def test_gradient_checks_refuse_float32():
    """Does numeric_gradient refuse float32 input (its error would be ~0.1)?"""
    with pytest.raises(ValueError, match="float64"):
        rc.numeric_gradient(np.sin, np.ones(3, dtype=np.float32), np.ones(3))


def test_rel_error_is_norm_based_and_symmetric():
    """Is rel_error |a-b| / (|a|+|b|): zero for equal arrays, 1 for opposite ones, robust to tiny entries?"""
    a = np.array([1.0, 1e-12])
    assert rc.rel_error(a, a) == 0.0
    assert rc.rel_error(a, -a) == pytest.approx(1.0)
    assert rc.rel_error(a, a + [0, 1e-12]) < 1e-12           # an element-wise maximum would say 0.5
    assert rc.rel_error(np.zeros(2), np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="shapes"):
        rc.rel_error(np.zeros(2), np.zeros(3))


def test_clip_by_global_norm_keeps_direction(rng):
    """Does clipping by global norm rescale all gradients together to the limit and keep their direction?"""
    grads = {"W": rng.standard_normal((3, 3)) * 10, "b": rng.standard_normal(3) * 10}
    clipped, norm = rc.clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
    assert rc.global_norm(clipped) == pytest.approx(1.0)
    flat = lambda g: np.concatenate([g["W"].ravel(), g["b"]])
    cos = flat(clipped) @ flat(grads) / (np.linalg.norm(flat(clipped)) * np.linalg.norm(flat(grads)))
    assert cos == pytest.approx(1.0)


def test_clip_by_global_norm_leaves_small_gradients_alone(rng):
    """Is a gradient already under the limit returned unchanged?"""
    grads = [rng.standard_normal(4) * 1e-3]
    clipped, _ = rc.clip_by_global_norm(grads, 1.0)
    np.testing.assert_array_equal(clipped[0], grads[0])
    assert isinstance(clipped, list)


def test_clip_by_value_bounds_entries_without_changing_input(rng):
    """Are all entries within [-limit, limit] and the input untouched?"""
    g = rng.standard_normal(20) * 10
    before = g.copy()
    (clipped,) = rc.clip_by_value((g,), 5.0)
    assert np.all(np.abs(clipped) <= 5.0)
    np.testing.assert_array_equal(g, before)
    with pytest.raises(ValueError, match="limit must be positive"):
        rc.clip_by_value([g], 0)
