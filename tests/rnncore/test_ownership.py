"""Outputs belong to the caller: changing what a forward returned changes no gradient, and a backward
changes neither its inputs nor the cache (so it gives the same gradients twice).

Every forward/backward pair of the package is run twice on the same inputs: once untouched, once
with every array the forward returned changed in place (h *= -3; h += 7) and the backward run
twice, with its first results changed in place too before the second run. All gradients must equal
the untouched run's, bit for bit.
"""
import copy

import numpy as np
import pytest

import rnncore as rc
from cell_helpers import CELL_VARIANTS, arrays_in, assert_same_arrays, cell_args, scribble

N, T, D, H = 3, 5, 4, 6


def _rng():
    return np.random.default_rng(7)


def _sequence_pair(cell, options):
    args = cell_args(_rng(), cell.gates, N, T, D, H)
    return (lambda: cell.forward(*args, **options), cell.backward, args, (N, T, H))


def _step_pair(cell, options):
    x, h, Wx, Wh, b = cell_args(_rng(), cell.gates, N, 1, D, H)
    args = (x[:, 0], h, h * 0.5, Wx, Wh, b) if cell.has_cell_state else (x[:, 0], h, Wx, Wh, b)
    if cell.has_cell_state:
        return (lambda: cell.step_forward(*args), lambda d, cache: cell.step_backward(d[0], d[1], cache),
                args, [(N, H), (N, H)])
    return (lambda: cell.step_forward(*args, **options), cell.step_backward, args, (N, H))


def _lstm_state_pair():
    x, h0, Wx, Wh, b = cell_args(_rng(), 4, N, T, D, H)
    args = (x, h0, h0 * 0.5, Wx, Wh, b)
    return (lambda: rc.lstm_state_forward(*args), lambda d, cache: rc.lstm_state_backward(d[0], d[1], cache),
            args, [(N, T, H), (N, H)])


def _wrapper_pair(kind, cell_name):
    rng = _rng()
    G = rc.get_cell(cell_name).gates
    x = rng.standard_normal((N, T, D))
    lengths = np.array([5, 2, 4])
    if kind == "stacked":
        layers = [cell_args(rng, G, N, T, D, H)[2:], cell_args(rng, G, N, T, H, H)[2:]]
        h0 = rng.standard_normal((2, N, H))
        return (lambda: rc.stacked_forward(x, h0, layers, cell_name), rc.stacked_backward, (x, h0, *layers[0]),
                (N, T, H))
    fwd, bwd = cell_args(rng, G, N, T, D, H)[2:], cell_args(rng, G, N, T, D, H)[2:]
    h0 = rng.standard_normal((2, N, H))
    return (lambda: rc.bidirectional_forward(x, h0, fwd, bwd, cell_name, lengths=lengths),
            rc.bidirectional_backward, (x, h0, *fwd, *bwd), (N, T, 2 * H))


def _pool_pair(name):
    rng = _rng()
    h = rng.standard_normal((N, T, H))
    mask = rc.lengths_to_mask(np.array([5, 2, 4]), T)
    if name == "attention":
        w = rng.standard_normal(H)
        return (lambda: rc.attention_pool_forward(h, w, mask), rc.attention_pool_backward, (h, w), (N, H))
    forward = getattr(rc, f"{name}_pool_forward")
    return (lambda: forward(h, mask), getattr(rc, f"{name}_pool_backward"), (h,), (N, H))


def _dense_pair():
    rng = _rng()
    args = (rng.standard_normal((N, D)), rng.standard_normal((D, H)), rng.standard_normal(H))
    return (lambda: rc.dense_forward(*args), rc.dense_backward, args, (N, H))


def _char_model_pair(cell_name):
    rng = _rng()
    params = rc.init_char_model(5, H, cell_name, rng=rng, scale=0.5)
    inputs = rng.integers(0, 5, size=(N, T))
    state = tuple(None if s is None else s + 0.3 for s in rc.zero_state(params, N, cell_name))
    return (lambda: rc.char_model_forward(params, inputs, state, cell_name), rc.char_model_backward,
            (*params.values(), *arrays_in(state)), (N, T, 5))


def _embedding_pair():
    rng = _rng()
    x, W = rng.integers(0, 7, size=(N, T)), rng.standard_normal((7, D))
    return (lambda: rc.embedding_forward(x, W, padding_idx=0), rc.embedding_backward, (W, x), (N, T, D))


def _attention_pair(kind):
    rng = _rng()
    q, h = rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
    mask = rc.lengths_to_mask(np.array([5, 2, 4]), T)
    if kind == "dot":
        return (lambda: rc.dot_attention_forward(q, h, mask), rc.dot_attention_backward, (q, h), (N, H))
    Wq, Wk, v = rng.standard_normal((H, 3)), rng.standard_normal((H, 3)), rng.standard_normal(3)
    return (lambda: rc.additive_attention_forward(q, h, Wq, Wk, v, mask), rc.additive_attention_backward,
            (q, h, Wq, Wk, v), (N, H))


def _seq2seq_pair(part, attention):
    rng = _rng()
    params = rc.init_seq2seq(7, 5, D, H, attention=attention, rng=rng, scale=0.5)
    src_lengths = np.array([5, 2, 4])
    src = np.where(rc.lengths_to_mask(src_lengths, T), rng.integers(1, 7, size=(N, T)), 0)
    tgt_in = rng.integers(1, 5, size=(N, 4))
    if part == "encoder":
        return (lambda: rc.encoder_forward(params, src, src_lengths),
                lambda d, cache: rc.encoder_backward(d[0], d[1], d[2], cache),
                (*params.values(), src, src_lengths), [(N, T, H), (N, H), (N, H)])
    if part == "decoder":
        h0, c0, h_enc = rng.standard_normal((N, H)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
        mask = rc.lengths_to_mask(src_lengths, T)
        return (lambda: rc.decoder_forward(params, tgt_in, h0, c0, h_enc, mask, attention), rc.decoder_backward,
                (*params.values(), tgt_in, h0, c0, h_enc), (N, 4, 5))
    return (lambda: rc.seq2seq_forward(params, src, src_lengths, tgt_in, attention), rc.seq2seq_backward,
            (*params.values(), src, src_lengths, tgt_in), (N, 4, 5))


PAIRS = {f"sequence-{name}": (_sequence_pair, (cell, options)) for name, cell, options in CELL_VARIANTS}
PAIRS.update({f"step-{name}": (_step_pair, (cell, options)) for name, cell, options in CELL_VARIANTS})
PAIRS["lstm_state"] = (_lstm_state_pair, ())
PAIRS.update({f"{kind}-{cell}": (_wrapper_pair, (kind, cell)) for kind in ("stacked", "bidirectional")
              for cell in rc.RECURRENT_CELLS})
PAIRS.update({f"pool-{name}": (_pool_pair, (name,)) for name in ("last", "mean", "max", "attention")})
PAIRS["dense"] = (_dense_pair, ())
PAIRS.update({f"char_model-{cell}": (_char_model_pair, (cell,)) for cell in rc.RECURRENT_CELLS})
PAIRS["embedding"] = (_embedding_pair, ())
PAIRS.update({f"attention-{kind}": (_attention_pair, (kind,)) for kind in ("dot", "additive")})
PAIRS["encoder"] = (_seq2seq_pair, ("encoder", None))
PAIRS.update({f"{part}-{attention}": (_seq2seq_pair, (part, attention)) for part in ("decoder", "seq2seq")
              for attention in rc.ATTENTIONS})


def _upstream(shapes):
    rng = np.random.default_rng(3)
    if isinstance(shapes, list):
        return [rng.standard_normal(s) for s in shapes]
    return rng.standard_normal(shapes)


@pytest.mark.parametrize("pair", PAIRS, ids=list(PAIRS))
def test_changing_returned_arrays_changes_no_gradient(pair):
    """Mutate every array the forward returns and the first backward's results: same gradients, same inputs?"""
    make, make_args = PAIRS[pair]
    forward, backward, inputs, shapes = make(*make_args)
    inputs_before = [a.copy() for a in inputs]
    dout = _upstream(shapes)
    dout_before = copy.deepcopy(dout)

    outputs = forward()
    want = copy.deepcopy(backward(dout, outputs[-1]))          # the untouched run

    outputs = forward()
    scribble(outputs[:-1])                                     # everything but the cache
    first = backward(dout, outputs[-1])
    assert_same_arrays(first, want)
    scribble(first)                                            # the gradients are the caller's too
    assert_same_arrays(backward(dout, outputs[-1]), want)      # a second backward on the same cache
    assert_same_arrays(inputs, inputs_before)
    assert_same_arrays(dout, dout_before)


def test_scribble_really_changes_what_would_matter():
    """Would the test notice an alias? Changing the cache's own h does change rnn_backward's result."""
    forward, backward, _, shapes = _sequence_pair(rc.get_cell("rnn"), {})
    dh = _upstream(shapes)
    h, cache = forward()
    want = backward(dh, cache)
    scribble(cache["hs"])                                      # what an aliased output would do
    assert not np.array_equal(backward(dh, cache)[3], want[3])


@pytest.mark.parametrize("loss", ["mse_loss", "mae_loss", "bce_loss", "bce_with_logits_loss"])
def test_losses_leave_inputs_alone_and_return_fresh_gradients(loss):
    """Does a loss change neither predictions nor targets, and is its gradient unaffected by the last one's fate?"""
    rng = _rng()
    y, t = rng.uniform(0.1, 0.9, size=(N, H)), rng.uniform(0, 1, size=(N, H))
    y0, t0 = y.copy(), t.copy()
    value, dy = getattr(rc, loss)(y, t)
    want = dy.copy()
    scribble(dy)
    value2, dy2 = getattr(rc, loss)(y, t)
    assert value2 == value
    np.testing.assert_array_equal(dy2, want)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(t, t0)


def test_softmax_cross_entropy_leaves_scores_alone():
    """Is softmax_cross_entropy's dscores a fresh array, with the scores untouched?"""
    rng = _rng()
    scores, y = rng.standard_normal((N, T, 5)), rng.integers(0, 5, size=(N, T))
    before = scores.copy()
    loss, dscores = rc.softmax_cross_entropy(scores, y)
    want = dscores.copy()
    scribble(dscores)
    np.testing.assert_array_equal(rc.softmax_cross_entropy(scores, y)[1], want)
    np.testing.assert_array_equal(scores, before)
