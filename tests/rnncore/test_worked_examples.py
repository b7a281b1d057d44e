"""Every worked example of the source slides (the NLP lecture: neuron, dense layer, softmax, gradient descent,
backprop on a tanh neuron, the manual LSTM, bag of words, counting ones), through the public API to 5 decimals."""
import numpy as np
import pytest

import rnncore as rc


def test_neuron_example():
    """Does the ReLU neuron with x = (0.8, -0.3, 0.1), w = (0.15, 0.7, -0.5), b = 0.42 output 0.28?"""
    z, _ = rc.dense_forward(np.array([[0.8, -0.3, 0.1]]), np.array([[0.15], [0.7], [-0.5]]), np.array([0.42]))
    assert rc.relu(z).item() == pytest.approx(0.28, abs=5e-6)


def test_dense_layer_example():
    """Does the tanh layer give Wx + b = (0.285, -0.533, 0.762) and y = (0.27753, -0.48767, 0.64225)?"""
    W = np.array([[0.15, -0.7], [0.02, 0.81], [1.1, -0.24]])           # the slide's W: (outputs, inputs)
    z, _ = rc.dense_forward(np.array([[0.5, -0.3]]), W.T, np.array([0.0, -0.3, 0.14]))
    np.testing.assert_allclose(z[0], [0.285, -0.533, 0.762], atol=5e-6)
    np.testing.assert_allclose(rc.tanh(z)[0], [0.27753, -0.48767, 0.64225], atol=5e-6)


def test_softmax_example():
    """Does softmax(1, 0, 0.5, -1, 1) give (0.32157, 0.11830, 0.19504, 0.04352, 0.32157)?"""
    np.testing.assert_allclose(rc.softmax(np.array([1.0, 0.0, 0.5, -1.0, 1.0])),
                               [0.32157, 0.11830, 0.19504, 0.04352, 0.32157], atol=5e-6)


def test_gradient_descent_example():
    """Does x_{i+1} = x_i - 0.4 * 2 x_i from x_0 = 3 give the slide's x and f(x) = x^2 - 2?"""
    path = rc.minimize(rc.SGD(lr=0.4), lambda x: 2 * x, np.array(3.0), steps=5)[1:]
    np.testing.assert_allclose([float(x) for x in path], [0.6, 0.12, 0.024, 0.0048, 0.00096], atol=5e-6)
    np.testing.assert_allclose([float(x) ** 2 - 2 for x in path],
                               [-1.64, -1.9856, -1.99942, -1.99998, -2.0], atol=5e-6)


def test_backprop_on_a_tanh_neuron():
    """Do forward, backward, the update with eta = 0.7 and the second forward match the slides?"""
    x, t = np.array([[2.0, -0.5]]), np.array([[-1.0]])
    w, b = np.array([[1.0], [3.0]]), np.array([-1.2])
    z, cache = rc.dense_forward(x, w, b)
    y = rc.tanh(z)
    loss, dy = rc.mse_loss(y, t)
    assert (z.item(), y.item(), loss) == pytest.approx((-0.7, -0.60437, 0.15652), abs=5e-6)
    _, dw, db = rc.dense_backward(dy * rc.tanh_grad(z), cache)
    np.testing.assert_allclose(dw[:, 0], [1.00449, -0.25112], atol=5e-6)
    assert db.item() == pytest.approx(0.50225, abs=5e-6)
    w, b = w - 0.7 * dw, b - 0.7 * db
    np.testing.assert_allclose(w[:, 0], [0.29685, 3.17579], atol=5e-6)
    assert b.item() == pytest.approx(-1.55157, abs=5e-6)
    z2, _ = rc.dense_forward(x, w, b)
    y2 = rc.tanh(z2)
    assert (z2.item(), y2.item()) == pytest.approx((-2.54576, -0.98778), abs=5e-6)
    assert rc.mse_loss(y2, t)[0] == pytest.approx(0.00015, abs=5e-6)


def test_manual_lstm_example():
    """Does lstm_step_forward reproduce the slide's two LSTM steps (a = g, state = c in rnncore's names)?"""
    # slide weights per gate; rnncore stacks gates as i, f, o, g along the last axis
    W = {"i": (0.95, 0.8), "f": (0.7, 0.45), "o": (0.6, 0.4), "g": (0.45, 0.25)}
    U = {"i": 0.8, "f": 0.1, "o": 0.25, "g": 0.15}
    B = {"i": 0.65, "f": 0.15, "o": 0.1, "g": 0.2}
    order = ["i", "f", "o", "g"]
    Wx = np.array([W[k] for k in order]).T                 # (2, 4)
    Wh = np.array([[U[k] for k in order]])                 # (1, 4)
    b = np.array([B[k] for k in order])                    # (4,)
    h, c = np.zeros((1, 1)), np.zeros((1, 1))
    expected = [dict(a=0.81775, i=0.96083, f=0.85195, o=0.81757, state=0.78573, h=0.53631),
                dict(a=0.84980, i=0.98118, f=0.87030, o=0.84993, state=1.51763, h=0.77198)]
    for x, want in zip([np.array([[1.0, 2.0]]), np.array([[0.5, 3.0]])], expected):
        h, c, cache = rc.lstm_step_forward(x, h, c, Wx, Wh, b)
        i, f, o, g = cache[5][0]
        got = dict(a=g, i=i, f=f, o=o, state=c.item(), h=h.item())
        assert got == pytest.approx(want, abs=5e-6)


def test_bag_of_words_example():
    """Does 'red dog eats and red cat eats food' count as (0, 2, 1, 1, 2, 1)?"""
    vocab = rc.Vocabulary(("the", "red", "dog", "cat", "eats", "food"))
    np.testing.assert_array_equal(rc.bag_of_words("red dog eats and red cat eats food", vocab), [0, 2, 1, 1, 2, 1])


def test_counting_ones_example():
    """Does h_t = x_t + h_{t-1} (w_x = w_h = 1, identity activation) count the ones?"""
    x, y = rc.counting_ones(5, 12, np.random.default_rng(0))
    h = np.zeros(5)
    for t in range(12):
        h = 1.0 * x[:, t, 0] + 1.0 * h
    np.testing.assert_array_equal(h, y)
