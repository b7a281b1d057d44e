import warnings

import numpy as np
import pytest

import rnncore as rc

ACTIVATIONS = [(rc.sigmoid, rc.sigmoid_grad), (rc.tanh, rc.tanh_grad), (rc.relu, rc.relu_grad)]


@pytest.mark.parametrize("f, f_grad", ACTIVATIONS, ids=["sigmoid", "tanh", "relu"])
def test_derivative_matches_centred_difference(f, f_grad, rng):
    """Is each *_grad the derivative of its activation (away from ReLU's kink)?"""
    x = rng.standard_normal(50) * 3
    x = x[np.abs(x) > 1e-3]
    h = 1e-6
    numeric = (f(x + h) - f(x - h)) / (2 * h)
    assert rc.rel_error(numeric, f_grad(x)) < 1e-8


def test_sigmoid_and_softmax_are_stable_at_extremes():
    """Do sigmoid and softmax stay finite and silent at inputs of +-1000?"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # an overflow or invalid-value warning fails the test
        s = rc.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
        p = rc.softmax(np.array([1000.0, 1000.0, -1000.0]))
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(p))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0], atol=1e-300)
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0], atol=1e-300)


def test_sigmoid_keeps_relative_precision_of_tiny_values():
    """Is sigmoid(-30) exact to the last digits, not rounded to 0 by 1 - something?"""
    assert rc.sigmoid(-30.0) == pytest.approx(1 / (1 + np.exp(30.0)), rel=1e-14)


def test_softmax_rows_sum_to_one_along_the_chosen_axis(rng):
    """Does softmax normalise along `axis` and stay shift invariant?"""
    z = rng.standard_normal((3, 4, 5))
    for axis in (0, 1, -1):
        p = rc.softmax(z, axis=axis)
        np.testing.assert_allclose(p.sum(axis=axis), 1.0)
        np.testing.assert_allclose(rc.softmax(z + 7.0, axis=axis), p)


def test_relu_derivative_at_zero_is_zero():
    """Does relu_grad follow the slides' convention f'(0) = 0?"""
    np.testing.assert_array_equal(rc.relu_grad(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])


def test_activations_accept_python_numbers_and_integers():
    """Do activations work on plain numbers and integer arrays (converted to float)?"""
    assert rc.relu(-2) == 0.0
    np.testing.assert_allclose(rc.tanh(np.array([0, 1])), [0.0, np.tanh(1.0)])
