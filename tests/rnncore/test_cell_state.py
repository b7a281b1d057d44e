"""The LSTM's cell state as an input and an output: lstm_state_forward / lstm_state_backward and the paths that use them."""
import numpy as np
import pytest
import torch

import rnncore as rc
from cell_helpers import cell_args, random_sizes
from torch_mapping import grads_from_torch, make_module, weights_from_torch

STATE_ARGS = ["x", "h0", "c0", "Wx", "Wh", "b"]


def _state_args(rng, N, T, D, H):
    x, h0, Wx, Wh, b = cell_args(rng, 4, N, T, D, H)
    return x, h0, rng.standard_normal((N, H)), Wx, Wh, b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_state_forward_and_backward_match_pytorch_with_h_n_and_c_n_in_the_loss(seed):
    """With (h0, c0) given and a loss reading every h_t, h_n and c_n, do values and all gradients equal torch.nn.LSTM's?"""
    rng = np.random.default_rng(seed)
    N, T, D, H = (int(v) for v in rng.integers(2, 7, size=4))
    module = make_module("lstm", D, H, seed)
    Wx, Wh, b = weights_from_torch(module, "lstm")
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dh, dh_n, dc_n = rng.standard_normal((N, T, H)), rng.standard_normal((N, H)), rng.standard_normal((N, H))

    x_t, h0_t, c0_t = (torch.tensor(a, requires_grad=True) for a in (x, h0[None], c0[None]))
    out_t, (h_n, c_n) = module(x_t, (h0_t, c0_t))
    loss = (out_t * torch.from_numpy(dh)).sum() + (h_n[0] * torch.from_numpy(dh_n)).sum() \
        + (c_n[0] * torch.from_numpy(dc_n)).sum()
    loss.backward()

    h, c_last, cache = rc.lstm_state_forward(x, h0, c0, Wx, Wh, b)
    dh_all = dh.copy()
    dh_all[:, -1] += dh_n                                   # h_n is h[:, -1]
    grads = rc.lstm_state_backward(dh_all, dc_n, cache)
    np.testing.assert_allclose(h, out_t.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c_last, c_n[0].detach().numpy(), rtol=1e-12, atol=1e-13)
    theirs = (x_t.grad.numpy(), h0_t.grad.numpy()[0], c0_t.grad.numpy()[0], *grads_from_torch(module, "lstm"))
    for name, ours, want in zip(STATE_ARGS, grads, theirs):
        assert rc.rel_error(ours, want) < 1e-10, name


def test_state_backward_matches_numeric_gradient(rng):
    """Do the gradients of a loss on every h_t and on c_last, for all six arguments, equal centred differences?"""
    N, T, D, H = random_sizes(rng)
    args = _state_args(rng, N, T, D, H)

    def forward(*args):                                     # one output: every h_t, then c_last
        h, c_last, cache = rc.lstm_state_forward(*args)
        return np.concatenate([h.reshape(N, T * H), c_last], axis=1), cache

    def backward(dout, cache):
        return rc.lstm_state_backward(dout[:, :T * H].reshape(N, T, H), dout[:, T * H:], cache)
    dout = rng.standard_normal((N, (T + 1) * H))
    errors = rc.check_gradients(forward, backward, args, dout, names=STATE_ARGS)
    assert max(errors.values()) < 1e-7, errors


def test_cs231n_interface_is_the_state_interface_without_c_last(rng):
    """Are lstm_forward(c0=...) / lstm_backward the state functions with c_last dropped and dc_last = 0?"""
    x, h0, c0, Wx, Wh, b = _state_args(rng, 3, 5, 4, 2)
    dh = rng.standard_normal((3, 5, 2))
    h, cache = rc.lstm_forward(x, h0, Wx, Wh, b, c0=c0)
    h_s, c_last, cache_s = rc.lstm_state_forward(x, h0, c0, Wx, Wh, b)
    np.testing.assert_array_equal(h, h_s)
    np.testing.assert_array_equal(c_last, cache["c"][:, -1])
    dx, dh0, dWx, dWh, db = rc.lstm_backward(dh, cache)
    dx_s, dh0_s, _, dWx_s, dWh_s, db_s = rc.lstm_state_backward(dh, np.zeros_like(c0), cache_s)
    for a, b_ in zip((dx, dh0, dWx, dWh, db), (dx_s, dh0_s, dWx_s, dWh_s, db_s)):
        np.testing.assert_array_equal(a, b_)


def test_encoder_decoder_trains_through_the_handed_over_state(rng):
    """An encoder LSTM hands (h_T, c_T) to a decoder LSTM: are the encoder's gradients the centred differences?"""
    N, T_enc, T_dec, D, H = 2, 4, 3, 3, 2
    x_enc, y_dec = rng.standard_normal((N, T_enc, D)), rng.standard_normal((N, T_dec, D))
    enc = cell_args(rng, 4, N, T_enc, D, H)[2:]
    dec = cell_args(rng, 4, N, T_dec, D, H)[2:]
    dout = rng.standard_normal((N, T_dec, H))
    zeros = np.zeros((N, H))

    def decoder_outputs(x_enc, Wx_enc):
        h_enc, c_enc, _ = rc.lstm_state_forward(x_enc, zeros, zeros, Wx_enc, *enc[1:])
        return rc.lstm_state_forward(y_dec, h_enc[:, -1], c_enc, *dec)[0]

    h_enc, c_enc, enc_cache = rc.lstm_state_forward(x_enc, zeros, zeros, *enc)
    _, _, dec_cache = rc.lstm_state_forward(y_dec, h_enc[:, -1], c_enc, *dec)
    _, dh0_dec, dc0_dec, *_ = rc.lstm_state_backward(dout, None, dec_cache)
    dh_enc = np.zeros_like(h_enc)
    dh_enc[:, -1] = dh0_dec                                   # the decoder's h0 was the encoder's h_T
    dx_enc, _, _, dWx_enc, _, _ = rc.lstm_state_backward(dh_enc, dc0_dec, enc_cache)
    assert rc.rel_error(rc.numeric_gradient(lambda v: decoder_outputs(v, enc[0]), x_enc, dout), dx_enc) < 1e-7
    assert rc.rel_error(rc.numeric_gradient(lambda v: decoder_outputs(x_enc, v), enc[0], dout), dWx_enc) < 1e-7
    assert np.abs(dc0_dec).max() > 1e-3                       # the cell state really carries gradient


def test_truncated_bptt_carries_the_cell_state_from_c0(rng):
    """With c0 given and k >= T, is truncated BPTT the full state pass; with k < T, are the states unchanged?"""
    x, h0, c0, Wx, Wh, b = _state_args(rng, 2, 7, 3, 4)
    dh = rng.standard_normal((2, 7, 4))
    h_full, _, cache = rc.lstm_state_forward(x, h0, c0, Wx, Wh, b)
    dx, _, _, dWx, dWh, db = rc.lstm_state_backward(dh, None, cache)
    h, grads = rc.truncated_bptt(x, h0, Wx, Wh, b, dh, k=10, cell="lstm", c0=c0)
    np.testing.assert_allclose(h, h_full, rtol=1e-13)
    for got, want in zip(grads, (dx, dWx, dWh, db)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    h3, _ = rc.truncated_bptt(x, h0, Wx, Wh, b, dh, k=3, cell="lstm", c0=c0)
    np.testing.assert_allclose(h3, h_full, rtol=1e-13)


def _torch_lstm(D, H, num_layers=1, bidirectional=False, seed=0):
    torch.manual_seed(seed)
    return torch.nn.LSTM(D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True,
                         dtype=torch.float64)


def _single_layer(module, suffix, D, H):
    single = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(single, f"{name}_l0").data = getattr(module, name + suffix).data
    return weights_from_torch(single, "lstm")


def test_stacked_lstm_from_h0_and_c0_matches_pytorch(rng):
    """Does a 2-layer stacked LSTM started from (h0, c0) equal torch.nn.LSTM(num_layers=2) with (h0, c0)?"""
    N, T, D, H = 3, 5, 4, 6
    module = _torch_lstm(D, H, num_layers=2)
    layers = [_single_layer(module, f"_l{l}", D if l == 0 else H, H) for l in range(2)]
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((2, N, H)), rng.standard_normal((2, N, H))
    out, _ = module(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    ours, _ = rc.stacked_forward(x, h0, layers, "lstm", c0=c0)
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_bidirectional_lstm_from_h0_and_c0_matches_pytorch(rng):
    """Does a bidirectional LSTM started from (h0, c0) equal torch.nn.LSTM(bidirectional=True) with (h0, c0)?"""
    N, T, D, H = 2, 6, 3, 4
    module = _torch_lstm(D, H, bidirectional=True, seed=1)
    fwd, bwd = (_single_layer(module, suffix, D, H) for suffix in ("_l0", "_l0_reverse"))
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((2, N, H)), rng.standard_normal((2, N, H))
    out, _ = module(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    ours, _ = rc.bidirectional_forward(x, h0, fwd, bwd, "lstm", c0=c0)
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("wrapper", ["stacked", "bidirectional"])
def test_wrappers_with_c0_have_the_numeric_gradients(wrapper, rng):
    """With c0 given, are the gradients of x, h0 and the weights of the stacked and bidirectional LSTM right?"""
    N, T, D, H = random_sizes(rng)
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((2, N, H)), rng.standard_normal((2, N, H))
    w1, w2 = cell_args(rng, 4, N, T, D, H)[2:], cell_args(rng, 4, N, T, H if wrapper == "stacked" else D, H)[2:]
    if wrapper == "stacked":
        run = lambda x, h0, w1: rc.stacked_forward(x, h0, [w1, w2], "lstm", c0=c0)
        back = lambda dh, cache: (lambda dx, dh0, dl: (dx, dh0, dl[0][0]))(*rc.stacked_backward(dh, cache))
        dh = rng.standard_normal((N, T, H))
    else:
        run = lambda x, h0, w1: rc.bidirectional_forward(x, h0, w1, w2, "lstm", c0=c0)
        back = lambda dh, cache: (lambda dx, dh0, dfwd, dbwd: (dx, dh0, dfwd[0]))(*rc.bidirectional_backward(dh, cache))
        dh = rng.standard_normal((N, T, 2 * H))
    dx, dh0, dWx1 = back(dh, run(x, h0, w1)[1])
    assert rc.rel_error(rc.numeric_gradient(lambda v: run(v, h0, w1)[0], x, dh), dx) < 1e-7
    assert rc.rel_error(rc.numeric_gradient(lambda v: run(x, v, w1)[0], h0, dh), dh0) < 1e-7
    assert rc.rel_error(rc.numeric_gradient(lambda v: run(x, h0, (v, *w1[1:]))[0], w1[0], dh), dWx1) < 1e-7


def test_bad_cell_states_are_refused():
    """Do a c0 for a cell without one, a c0 of the wrong shape and a wrong dc_last raise clear ValueErrors?"""
    x, h0, c0, Wx, Wh, b = _state_args(np.random.default_rng(0), 2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"c0 must have shape \(N, H\)"):
        rc.lstm_state_forward(x, h0, c0[:1], Wx, Wh, b)
    _, _, cache = rc.lstm_state_forward(x, h0, c0, Wx, Wh, b)
    with pytest.raises(ValueError, match="dc_last must have shape"):
        rc.lstm_state_backward(np.ones((2, 3, 5)), np.ones((2, 4)), cache)
    rnn_args = cell_args(np.random.default_rng(0), 1, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="'rnn' has no cell state"):
        rc.truncated_bptt(*rnn_args, np.ones((2, 3, 5)), k=2, cell="rnn", c0=c0)
    with pytest.raises(ValueError, match="'gru' has no cell state"):
        rc.stacked_forward(x, h0[None], [cell_args(np.random.default_rng(0), 3, 2, 3, 4, 5)[2:]], "gru", c0=c0[None])
