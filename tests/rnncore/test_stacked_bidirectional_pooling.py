"""Deep and bidirectional wrappers and the four poolings, with masks for different lengths."""
import numpy as np
import pytest
import torch

import rnncore as rc
from cell_helpers import random_sizes
from torch_mapping import weights_from_torch

NAMES = list(rc.RECURRENT_CELLS)


def _layers(rng, cell, L, D, H):
    G = rc.get_cell(cell).gates
    return [tuple(a * 0.5 for a in (rng.standard_normal((D if l == 0 else H, G * H)),
                                     rng.standard_normal((H, G * H)), rng.standard_normal(G * H)))
            for l in range(L)]


@pytest.mark.parametrize("cell", NAMES)
def test_stacked_backward_matches_numeric_gradient(cell, rng):
    """Are the gradients of x, every h0 and every layer's weights right through 3 layers?"""
    N, T, D, H = random_sizes(rng)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((3, N, H))
    layers = _layers(rng, cell, 3, D, H)
    dh = rng.standard_normal((N, T, H))
    out, cache = rc.stacked_forward(x, h0, layers, cell)
    dx, dh0, dlayers = rc.stacked_backward(dh, cache)
    f = lambda **kw: rc.stacked_forward(kw.get("x", x), kw.get("h0", h0), kw.get("layers", layers), cell)[0]
    assert rc.rel_error(rc.numeric_gradient(lambda v: f(x=v), x, dh), dx) < 1e-7
    assert rc.rel_error(rc.numeric_gradient(lambda v: f(h0=v), h0, dh), dh0) < 1e-7
    for l in range(3):
        for k in range(3):
            def with_param(v, l=l, k=k):
                new = [list(p) for p in layers]
                new[l][k] = v
                return f(layers=[tuple(p) for p in new])
            assert rc.rel_error(rc.numeric_gradient(with_param, layers[l][k], dh), dlayers[l][k]) < 1e-7


def test_stacked_lstm_matches_pytorch_two_layers():
    """Does a 2-layer stacked LSTM equal torch.nn.LSTM(num_layers=2)?"""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    N, T, D, H = 3, 5, 4, 6
    module = torch.nn.LSTM(D, H, num_layers=2, batch_first=True, dtype=torch.float64)
    layers = []
    for l in range(2):
        single = torch.nn.LSTM(D if l == 0 else H, H, batch_first=True, dtype=torch.float64)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(single, f"{name}_l0").data = getattr(module, f"{name}_l{l}").data
        layers.append(weights_from_torch(single, "lstm"))
    x = rng.standard_normal((N, T, D))
    out, _ = module(torch.from_numpy(x))
    ours, _ = rc.stacked_forward(x, np.zeros((2, N, H)), layers, "lstm")
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("cell", NAMES)
def test_bidirectional_backward_matches_numeric_gradient_with_lengths(cell, rng):
    """With sequences of different lengths, are all gradients of the bidirectional layer right?"""
    N, T, D, H = random_sizes(rng)
    T += 2
    lengths = rng.integers(1, T + 1, size=N)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((2, N, H))
    fwd_w, bwd_w = _layers(rng, cell, 1, D, H)[0], _layers(rng, cell, 1, D, H)[0]
    dh = rng.standard_normal((N, T, 2 * H))
    _, cache = rc.bidirectional_forward(x, h0, fwd_w, bwd_w, cell, lengths=lengths)
    dx, dh0, dfwd, dbwd = rc.bidirectional_backward(dh, cache)
    f = lambda x=x, h0=h0, fwd_w=fwd_w, bwd_w=bwd_w: rc.bidirectional_forward(x, h0, fwd_w, bwd_w, cell,
                                                                              lengths=lengths)[0]
    assert rc.rel_error(rc.numeric_gradient(lambda v: f(x=v), x, dh), dx) < 1e-7
    assert rc.rel_error(rc.numeric_gradient(lambda v: f(h0=v), h0, dh), dh0) < 1e-7
    for k in range(3):
        swap = lambda w, v, k=k: tuple(v if j == k else a for j, a in enumerate(w))
        assert rc.rel_error(rc.numeric_gradient(lambda v: f(fwd_w=swap(fwd_w, v)), fwd_w[k], dh), dfwd[k]) < 1e-7
        assert rc.rel_error(rc.numeric_gradient(lambda v: f(bwd_w=swap(bwd_w, v)), bwd_w[k], dh), dbwd[k]) < 1e-7


def test_bidirectional_matches_pytorch():
    """Does the full-length bidirectional GRU (reset after) equal torch.nn.GRU(bidirectional=True)?"""
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    N, T, D, H = 2, 6, 3, 4
    module = torch.nn.GRU(D, H, batch_first=True, bidirectional=True, dtype=torch.float64)
    weights = []
    for suffix in ("_l0", "_l0_reverse"):
        single = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(single, f"{name}_l0").data = getattr(module, name + suffix).data
        with torch.no_grad():
            getattr(module, "bias_hh" + suffix)[2 * H:] = 0.0
            single.bias_hh_l0[2 * H:] = 0.0
        weights.append(weights_from_torch(single, "gru"))
    x = rng.standard_normal((N, T, D))
    out, _ = module(torch.from_numpy(x))
    ours, _ = rc.bidirectional_forward(x, np.zeros((2, N, H)), *weights, "gru", reset_after=True)
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_backward_direction_ignores_padding_and_sees_the_future(rng):
    """Does padding never change real outputs, and does a later token change earlier backward states only?"""
    N, T, D, H = 2, 6, 3, 4
    lengths = np.array([4, 6])
    x, h0 = rng.standard_normal((N, T, D)), np.zeros((2, N, H))
    w1, w2 = _layers(rng, "rnn", 1, D, H)[0], _layers(rng, "rnn", 1, D, H)[0]
    h, _ = rc.bidirectional_forward(x, h0, w1, w2, "rnn", lengths=lengths)
    noisy = x.copy()
    noisy[0, 4:] = 100.0                                     # change the padding of sequence 0
    h_noisy, _ = rc.bidirectional_forward(noisy, h0, w1, w2, "rnn", lengths=lengths)
    np.testing.assert_array_equal(h[0, :4], h_noisy[0, :4])
    later = x.copy()
    later[1, 5] += 1.0                                       # change the last token of sequence 1
    h_later, _ = rc.bidirectional_forward(later, h0, w1, w2, "rnn", lengths=lengths)
    np.testing.assert_array_equal(h[1, :5, :H], h_later[1, :5, :H])   # forward direction: unchanged before t = 5
    assert np.abs(h[1, 0, H:] - h_later[1, 0, H:]).max() > 0          # backward direction: changed at t = 0


def test_reverse_padded_is_its_own_inverse(rng):
    """Does reversing within lengths twice give the input back, and keep padding in place?"""
    x = rng.standard_normal((3, 5, 2))
    lengths = np.array([5, 2, 1])
    r = rc.reverse_padded(x, lengths)
    np.testing.assert_array_equal(rc.reverse_padded(r, lengths), x)
    np.testing.assert_array_equal(r[1, :2], x[1, 1::-1])
    np.testing.assert_array_equal(r[1, 2:], x[1, 2:])
    with pytest.raises(ValueError, match="lengths must lie in"):
        rc.reverse_padded(x, np.array([0, 2, 1]))


POOLS = [("last", rc.last_pool_forward, rc.last_pool_backward),
         ("mean", rc.mean_pool_forward, rc.mean_pool_backward),
         ("max", rc.max_pool_forward, rc.max_pool_backward)]


def _masked_batch(rng):
    N, T, H = 4, 6, 3
    lengths = np.array([6, 3, 1, 4])
    return rng.standard_normal((N, T, H)), rc.lengths_to_mask(lengths, T), lengths


@pytest.mark.parametrize("name, fwd, bwd", POOLS, ids=[p[0] for p in POOLS])
def test_pooling_values_and_gradients_respect_the_mask(name, fwd, bwd, rng):
    """Does each pooling use only real steps, with the gradient of its value?"""
    h, mask, lengths = _masked_batch(rng)
    out, cache = fwd(h, mask)
    for n, L in enumerate(lengths):
        expected = {"last": h[n, L - 1], "mean": h[n, :L].mean(axis=0), "max": h[n, :L].max(axis=0)}[name]
        np.testing.assert_allclose(out[n], expected)
    dout = rng.standard_normal(out.shape)
    dh = bwd(dout, cache)
    assert rc.rel_error(rc.numeric_gradient(lambda v: fwd(v, mask)[0], h, dout), dh) < 1e-8
    assert np.all(dh[~mask] == 0)


def test_attention_pooling_weights_and_gradients(rng):
    """Are attention weights a softmax over real steps only, with correct gradients for h and w?"""
    h, mask, lengths = _masked_batch(rng)
    w = rng.standard_normal(h.shape[2])
    out, cache = rc.attention_pool_forward(h, w, mask)
    alpha = cache["alpha"]
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)
    assert np.all(alpha[~mask] == 0)
    n = 1
    np.testing.assert_allclose(alpha[n, :lengths[n]], rc.softmax(h[n, :lengths[n]] @ w))
    dout = rng.standard_normal(out.shape)
    dh, dw = rc.attention_pool_backward(dout, cache)
    assert rc.rel_error(rc.numeric_gradient(lambda v: rc.attention_pool_forward(v, w, mask)[0], h, dout), dh) < 1e-8
    assert rc.rel_error(rc.numeric_gradient(lambda v: rc.attention_pool_forward(h, v, mask)[0], w, dout), dw) < 1e-8


def test_empty_sequences_and_bad_masks_are_refused():
    """Does a row without real steps, or a non-boolean mask, raise a clear ValueError?"""
    h = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"rows \[1\] are empty"):
        rc.mean_pool_forward(h, np.array([[True, False, False], [False, False, False]]))
    with pytest.raises(ValueError, match="boolean"):
        rc.max_pool_forward(h, np.ones((2, 3)))
