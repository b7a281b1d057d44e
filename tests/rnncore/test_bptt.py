"""Truncated BPTT and gradient norms through time."""
import numpy as np
import pytest

import rnncore as rc
from cell_helpers import CELL_IDS, CELL_VARIANTS, cell_args

CELLS = [(cell.name, cell.gates, options) for _, cell, options in CELL_VARIANTS]


@pytest.mark.parametrize("cell, gates, options", CELLS, ids=CELL_IDS)
def test_truncation_longer_than_the_sequence_is_full_bptt(cell, gates, options, rng):
    """With k >= T, does truncated BPTT give exactly the full-BPTT gradients and states?"""
    x, h0, Wx, Wh, b = cell_args(rng, gates, 2, 7, 3, 4)
    dh = rng.standard_normal((2, 7, 4))
    forward, backward, _ = rc.CELLS[cell]
    h_full, cache = forward(x, h0, Wx, Wh, b, **options)
    dx, _, dWx, dWh, db = backward(dh, cache)
    h, grads = rc.truncated_bptt(x, h0, Wx, Wh, b, dh, k=10, cell=cell, **options)
    np.testing.assert_allclose(h, h_full, rtol=1e-13)
    for got, want in zip(grads, (dx, dWx, dWh, db)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell, gates, options", CELLS, ids=CELL_IDS)
def test_truncation_carries_the_state_and_cuts_the_gradient(cell, gates, options, rng):
    """With k < T, are the states those of the full pass, and the gradients the sum of per-chunk BPTT?"""
    T, k = 7, 3
    x, h0, Wx, Wh, b = cell_args(rng, gates, 2, T, 3, 4)
    dh = rng.standard_normal((2, T, 4))
    spec = rc.get_cell(cell)
    h_full, _ = spec.forward(x, h0, Wx, Wh, b, **options)
    h, (dx, dWx, dWh, db) = rc.truncated_bptt(x, h0, Wx, Wh, b, dh, k=k, cell=cell, **options)
    np.testing.assert_allclose(h, h_full, rtol=1e-13)
    # each chunk on its own, starting from the carried state (h, c) as a constant
    expected = [np.zeros_like(a) for a in (Wx, Wh, b)]
    c = spec.zero_state(2, 4)[1]
    for chunk in rc.chunk_slices(T, k):
        start_h = h0 if chunk.start == 0 else h_full[:, chunk.start - 1]
        _, c, cache = spec.run(x[:, chunk], start_h, c, Wx, Wh, b, **options)
        grads = spec.run_backward(dh[:, chunk], None, cache)
        for acc, g in zip(expected, grads[3:]):
            acc += g
    for got, want in zip((dWx, dWh, db), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    full = spec.backward(dh, spec.forward(x, h0, Wx, Wh, b, **options)[1])
    assert rc.rel_error(dWh, full[3]) > 1e-6                  # something was really cut


def test_chunk_slices_cover_the_sequence_once():
    """Do the chunks cover 0..T-1 in order without overlap, the last one shorter?"""
    assert rc.chunk_slices(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    with pytest.raises(ValueError, match="positive integer"):
        rc.chunk_slices(7, 0)


def test_vanilla_gradients_vanish_where_lstm_gradients_survive():
    """Over 60 steps, does ||dL/dh_0|| collapse for a small-weight RNN but not for an LSTM that remembers?"""
    rng = np.random.default_rng(0)
    N, T, D, H = 1, 60, 2, 8
    x, h0 = rng.standard_normal((N, T, D)), np.zeros((N, H))
    rnn_norms = rc.hidden_gradient_norms(x, h0, rng.standard_normal((D, H)) * 0.3,
                                         rng.standard_normal((H, H)) * 0.3 / np.sqrt(H), np.zeros(H))
    b = np.zeros(4 * H)
    b[H:2 * H] = 5.0                                          # forget gate open: f ~ 0.99
    lstm_norms = rc.hidden_gradient_norms(x, h0, rng.standard_normal((D, 4 * H)) * 0.3,
                                          rng.standard_normal((H, 4 * H)) * 0.3 / np.sqrt(H), b, cell="lstm")
    assert rnn_norms.shape == (T + 1,)
    assert rnn_norms[0] / rnn_norms[-1] < 1e-10
    assert lstm_norms[0] / lstm_norms[-1] > 1e-3


def test_hidden_gradient_norms_agree_with_full_backward(rng):
    """Is norms[0] the norm of dh0 that rnn_backward returns for a loss on h_T only?"""
    x, h0, Wx, Wh, b = cell_args(rng, 1, 2, 5, 3, 4)
    h, cache = rc.rnn_forward(x, h0, Wx, Wh, b)
    dh = np.zeros_like(h)
    dh[:, -1] = 1.0
    dh0 = rc.rnn_backward(dh, cache)[1]
    assert rc.hidden_gradient_norms(x, h0, Wx, Wh, b)[0] == pytest.approx(np.linalg.norm(dh0), rel=1e-12)
