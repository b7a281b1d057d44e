"""Embedding, the temporal softmax loss, attention and the LSTM encoder-decoder (rnncore.seq2seq)."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnncore as rc
from torch_mapping import grads_from_torch, make_module, regroup, weights_from_torch

ATTENTIONS = list(rc.ATTENTIONS)
ATTENTION_IDS = [str(a) for a in ATTENTIONS]
KINDS = ["dot", "scaled_dot", "general", "additive"]                  # the attention functions
N, S, T, D, H, A = 3, 5, 4, 3, 4, 3
V_SRC, V_TGT = 7, 6
PAD, BOS, EOS = 0, 1, 2
SRC_LENGTHS = np.array([5, 2, 4])                      # unequal, one full row, one much shorter
TGT_LENGTHS = np.array([4, 1, 3])


def padded_tokens(rng, lengths, width, low, V):
    """Random ids in [low, V) at the first lengths[n] positions of each row, <pad> (0) after."""
    ids = rng.integers(low, V, size=(len(lengths), width))
    return np.where(rc.lengths_to_mask(lengths, width), ids, PAD)


def problem(rng, attention, scale=0.5):
    """Random params and a padded batch: (params, src, src_lengths, tgt_in, tgt_out, tgt_lengths)."""
    params = rc.init_seq2seq(V_SRC, V_TGT, D, H, attention=attention, A=A if attention == "additive" else None,
                             rng=rng, scale=scale)
    params = {k: v + (rng.standard_normal(v.shape) * scale if k.endswith("_b") or k == "b_out" else 0)
              for k, v in params.items()}                # non-zero biases too
    src = padded_tokens(rng, SRC_LENGTHS, S, 3, V_SRC)
    tgt_out = padded_tokens(rng, TGT_LENGTHS, T, 2, V_TGT)           # real targets are never <pad>
    tgt_in = np.where(tgt_out == PAD, PAD, np.concatenate([np.full((N, 1), BOS), tgt_out[:, :-1]], axis=1))
    return params, src, SRC_LENGTHS, tgt_in, tgt_out, TGT_LENGTHS


def torch_lstm(Wx, Wh, b):
    """A float64 torch.nn.LSTM holding rnncore's (Wx, Wh, b): regroup swaps the o and g blocks both ways."""
    D_in, H4 = Wx.shape
    module = torch.nn.LSTM(D_in, H4 // 4, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(regroup(Wx.T, "lstm")))
        module.weight_hh_l0.copy_(torch.from_numpy(regroup(Wh.T, "lstm")))
        module.bias_ih_l0.copy_(torch.from_numpy(regroup(b, "lstm")))
        module.bias_hh_l0.zero_()
    return module


def torch_attention(q, h, mask, kind, *weights):
    """The attention formulas in torch: context (M, H), weights (M, S).

    weights: () for dot and scaled_dot, (W,) for general, (Wq, Wk, v) for additive.
    """
    if kind == "dot":
        e = (h * q[:, None, :]).sum(dim=2)                              # e_s = h_s . q
    elif kind == "scaled_dot":                                          # torch's own scaled_dot_product_attention
        out = F.scaled_dot_product_attention(q[:, None, None, :], h[:, None], h[:, None], attn_mask=mask[:, None, None, :])
        e = (h * q[:, None, :]).sum(dim=2) / h.shape[2] ** 0.5
        weights = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
        return out[:, 0, 0], weights
    elif kind == "general":
        (W,) = weights
        e = (h * (q @ W)[:, None, :]).sum(dim=2)                        # e_s = h_s . (q W)
    else:
        Wq, Wk, v = weights
        e = torch.tanh((q @ Wq)[:, None, :] + h @ Wk) @ v               # e_s = v . tanh(q Wq + h_s Wk)
    weights = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
    return (weights[:, :, None] * h).sum(dim=1), weights


# ---------------------------------------------------------------- embedding

def test_embedding_backward_matches_numeric_gradient(rng):
    """Does embedding_backward give the finite-difference gradient of W, with the padding row left at 0?"""
    x = rng.integers(0, 5, size=(3, 6))
    x[0, :2] = 1                                                        # a token used twice in a row
    W = rng.standard_normal((5, 4))
    dout = rng.standard_normal((3, 6, 4))
    out, cache = rc.embedding_forward(x, W)
    numeric = rc.numeric_gradient(lambda w: rc.embedding_forward(x, w)[0], W, dout)
    assert rc.rel_error(numeric, rc.embedding_backward(dout, cache)) < 1e-9
    dW_pad = rc.embedding_backward(dout, rc.embedding_forward(x, W, padding_idx=1)[1])
    want = rc.embedding_backward(dout, cache)
    want[1] = 0                                                         # the padding row is not trained
    np.testing.assert_array_equal(dW_pad, want)


def test_embedding_matches_torch_with_padding_idx(rng):
    """Do forward and weight gradient equal torch.nn.Embedding(V, D, padding_idx=0)'s?"""
    module = torch.nn.Embedding(6, 4, padding_idx=0, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(rng.standard_normal((6, 4))))   # a non-zero padding row too
    x = rng.integers(0, 6, size=(3, 5))
    x[:, -1] = 0
    dout = rng.standard_normal((3, 5, 4))
    out_t = module(torch.from_numpy(x))
    (out_t * torch.from_numpy(dout)).sum().backward()
    out, cache = rc.embedding_forward(x, module.weight.detach().numpy(), padding_idx=0)
    assert rc.rel_error(out, out_t.detach().numpy()) < 1e-7
    assert rc.rel_error(rc.embedding_backward(dout, cache), module.weight.grad.numpy()) < 1e-7


# ---------------------------------------------------------------- temporal softmax loss

def test_temporal_softmax_loss_matches_torch_ignore_index(rng):
    """Are loss and dscores those of F.cross_entropy(ignore_index=<pad>), by lengths and by mask alike?"""
    scores = rng.standard_normal((N, T, V_TGT))
    y = padded_tokens(rng, TGT_LENGTHS, T, 2, V_TGT)
    scores_t = torch.tensor(scores, requires_grad=True)
    loss_t = F.cross_entropy(scores_t.reshape(-1, V_TGT), torch.from_numpy(y).reshape(-1), ignore_index=PAD)
    loss_t.backward()
    loss, dscores = rc.temporal_softmax_loss(scores, y, lengths=TGT_LENGTHS)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    assert rc.rel_error(dscores, scores_t.grad.numpy()) < 1e-7
    loss_mask, dscores_mask = rc.temporal_softmax_loss(scores, y, mask=rc.lengths_to_mask(TGT_LENGTHS, T))
    assert loss_mask == loss
    np.testing.assert_array_equal(dscores_mask, dscores)


def test_temporal_softmax_loss_gradient_matches_numeric(rng):
    """Is dscores the centred-difference gradient of the loss, and zero at padded steps?"""
    scores = rng.standard_normal((N, T, V_TGT))
    y = rng.integers(0, V_TGT, size=(N, T))
    loss, dscores = rc.temporal_softmax_loss(scores, y, lengths=TGT_LENGTHS)
    numeric = rc.numeric_gradient(lambda s: rc.temporal_softmax_loss(s, y, lengths=TGT_LENGTHS)[0], scores, 1.0)
    assert rc.rel_error(numeric, dscores) < 1e-8
    assert np.all(dscores[~rc.lengths_to_mask(TGT_LENGTHS, T)] == 0)


def test_temporal_softmax_loss_leaves_scores_alone(rng):
    """Is dscores a fresh array, with the scores untouched?"""
    scores, y = rng.standard_normal((N, T, V_TGT)), rng.integers(0, V_TGT, size=(N, T))
    before = scores.copy()
    _, dscores = rc.temporal_softmax_loss(scores, y, lengths=TGT_LENGTHS)
    want = dscores.copy()
    dscores *= 5
    np.testing.assert_array_equal(rc.temporal_softmax_loss(scores, y, lengths=TGT_LENGTHS)[1], want)
    np.testing.assert_array_equal(scores, before)


# ---------------------------------------------------------------- attention

WEIGHT_NAMES = {"dot": [], "scaled_dot": [], "general": ["W"], "additive": ["Wq", "Wk", "v"]}


def attention_args(rng, kind, M=4):
    """q (M, H), h (M, S, H), the weights of `kind`, a mask of unequal lengths (M, S)."""
    q, h = rng.standard_normal((M, H)), rng.standard_normal((M, S, H))
    weights = {"dot": (), "scaled_dot": (), "general": (rng.standard_normal((H, H)),),
               "additive": (rng.standard_normal((H, A)), rng.standard_normal((H, A)), rng.standard_normal(A))}[kind]
    mask = rc.lengths_to_mask(np.array([S, 1, 3, 4][:M]), S)
    return q, h, weights, mask


def attention_pair(kind):
    return getattr(rc, f"{kind}_attention_forward"), getattr(rc, f"{kind}_attention_backward")


@pytest.mark.parametrize("kind", KINDS)
def test_attention_backward_matches_numeric_gradient(kind, rng):
    """With a mask of unequal lengths, does the backward give the finite-difference gradients of every input?"""
    q, h, weights, mask = attention_args(rng, kind)
    forward, backward = attention_pair(kind)
    errors = rc.check_gradients(lambda *args: forward(*args, mask=mask), backward, (q, h, *weights),
                                rng.standard_normal(q.shape), names=["q", "h", *WEIGHT_NAMES[kind]])
    assert max(errors.values()) < 1e-8, errors


@pytest.mark.parametrize("kind", KINDS)
def test_attention_matches_torch_autograd(kind, rng):
    """Do context, weights and every gradient equal a torch autograd version of the formula?"""
    q, h, weights, mask = attention_args(rng, kind)
    forward, backward = attention_pair(kind)
    dcontext = rng.standard_normal(q.shape)
    leaves = [torch.tensor(a, requires_grad=True) for a in (q, h, *weights)]
    context_t, weights_t = torch_attention(leaves[0], leaves[1], torch.from_numpy(mask), kind, *leaves[2:])
    (context_t * torch.from_numpy(dcontext)).sum().backward()
    context, att_weights, cache = forward(q, h, *weights, mask=mask)
    assert rc.rel_error(context, context_t.detach().numpy()) < 1e-7
    assert rc.rel_error(att_weights, weights_t.detach().numpy()) < 1e-7
    for ours, leaf in zip(backward(dcontext, cache), leaves):
        assert rc.rel_error(ours, leaf.grad.numpy()) < 1e-7


@pytest.mark.parametrize("kind", KINDS)
def test_padded_positions_get_no_weight_and_no_gradient(kind, rng):
    """Are padded positions' weights and dh exactly 0, and does changing their states change nothing?"""
    q, h, weights, mask = attention_args(rng, kind)
    forward, backward = attention_pair(kind)
    context, att_weights, cache = forward(q, h, *weights, mask=mask)
    dh = backward(rng.standard_normal(q.shape), cache)[1]
    assert np.all(att_weights[~mask] == 0) and np.all(dh[~mask] == 0)
    np.testing.assert_allclose(att_weights.sum(axis=1), 1.0, rtol=1e-14)
    h_changed = np.where(mask[:, :, None], h, 1e3)
    np.testing.assert_array_equal(forward(q, h_changed, *weights, mask=mask)[0], context)


def test_dot_attention_on_a_hand_example():
    """Do e = (1, 0) over h = [[1, 0], [0, 1]] with q = (1, 0) give weights (e/(e+1), 1/(e+1))?"""
    context, weights, _ = rc.dot_attention_forward(np.array([[1.0, 0.0]]), np.array([[[1.0, 0.0], [0.0, 1.0]]]))
    e = np.e
    np.testing.assert_allclose(weights, [[e / (e + 1), 1 / (e + 1)]], rtol=1e-15)
    np.testing.assert_allclose(context, weights, rtol=1e-15)          # h is the identity


def test_scaled_and_general_attention_are_dot_attention_in_disguise(rng):
    """Is scaled dot attention dot attention of q / sqrt(H), and general attention with W = I dot attention?"""
    q, h, _, mask = attention_args(rng, "dot")
    dot = rc.dot_attention_forward(q / np.sqrt(H), h, mask)
    scaled = rc.scaled_dot_attention_forward(q, h, mask)
    np.testing.assert_allclose(scaled[0], dot[0], rtol=1e-13)
    np.testing.assert_allclose(scaled[1], dot[1], rtol=1e-13, atol=1e-16)
    general = rc.general_attention_forward(q, h, np.eye(H), mask)
    plain = rc.dot_attention_forward(q, h, mask)
    np.testing.assert_allclose(general[1], plain[1], rtol=1e-13, atol=1e-16)
    dcontext = rng.standard_normal(q.shape)
    dq, dh, dW = rc.general_attention_backward(dcontext, general[2])
    dq_dot, dh_dot = rc.dot_attention_backward(dcontext, plain[2])
    np.testing.assert_allclose(dq, dq_dot, rtol=1e-12)
    np.testing.assert_allclose(dh, dh_dot, rtol=1e-12)
    np.testing.assert_allclose(dW, q.T @ dq_dot, rtol=1e-12)          # key = q W: dW = q^T dkey, dkey = dq of dot


def test_scaling_keeps_the_spread_of_scores_at_one():
    """With unit-variance entries, does h_s . q spread like sqrt(H) and h_s . q / sqrt(H) like 1, for every H?"""
    rng = np.random.default_rng(0)
    for width in (4, 64, 512):
        q, h = rng.standard_normal((2000, width)), rng.standard_normal((2000, 8, width))
        e = np.einsum("nsh,nh->ns", h, q)
        assert np.std(e) == pytest.approx(np.sqrt(width), rel=0.05)
        assert np.std(e / np.sqrt(width)) == pytest.approx(1.0, rel=0.05)


# ---------------------------------------------------------------- encoder

def test_encoder_matches_torch_packed_lstm(rng):
    """Do h_last, c_last and every real step's state equal nn.LSTM's over pack_padded_sequence?"""
    module = make_module("lstm", D, H, seed=int(rng.integers(1000)))
    params = rc.init_seq2seq(V_SRC, V_TGT, D, H, rng=rng, scale=1.0)
    params["enc_Wx"], params["enc_Wh"], params["enc_b"] = weights_from_torch(module, "lstm")
    src = padded_tokens(rng, SRC_LENGTHS, S, 1, V_SRC)
    h_enc, h_last, c_last = rc.encode(params, src, SRC_LENGTHS)
    x = torch.from_numpy(params["src_embed"][src])
    packed = pack_padded_sequence(x, torch.from_numpy(SRC_LENGTHS), batch_first=True, enforce_sorted=False)
    out, (h_n, c_n) = module(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=S)
    mask = rc.lengths_to_mask(SRC_LENGTHS, S)
    assert rc.rel_error(h_last, h_n[0].detach().numpy()) < 1e-7
    assert rc.rel_error(c_last, c_n[0].detach().numpy()) < 1e-7
    assert rc.rel_error(h_enc[mask], out.detach().numpy()[mask]) < 1e-7
    np.testing.assert_array_equal(h_enc[1, 1:], np.broadcast_to(h_last[1], (S - 1, H)))   # frozen after its end


def test_encoder_backward_matches_numeric_gradient(rng):
    """With unequal lengths, are the gradients of the embedding and the LSTM weights right, from all three outputs?"""
    params, src, src_lengths, *_ = problem(rng, None)
    douts = [rng.standard_normal((N, S, H)) * rc.lengths_to_mask(src_lengths, S)[:, :, None],
             rng.standard_normal((N, H)), rng.standard_normal((N, H))]
    h_enc, h_last, c_last, cache = rc.encoder_forward(params, src, src_lengths)
    grads = rc.encoder_backward(*douts, cache)
    assert list(grads) == ["src_embed", "enc_Wx", "enc_Wh", "enc_b"]
    for name, grad in grads.items():
        def f(value, name=name):
            outs = rc.encoder_forward({**params, name: value}, src, src_lengths)[:3]
            return sum(np.sum(o * d) for o, d in zip(outs, douts))
        assert rc.rel_error(rc.numeric_gradient(f, params[name], 1.0), grad) < 1e-8, name


# ---------------------------------------------------------------- the whole model

@pytest.mark.parametrize("attention", ATTENTIONS, ids=ATTENTION_IDS)
def test_seq2seq_backward_matches_numeric_gradient(attention):
    """With unequal source and target lengths, does seq2seq_backward give every parameter's gradient?"""
    rng = np.random.default_rng(11)
    params, src, src_lengths, tgt_in, _, tgt_lengths = problem(rng, attention)
    scores, weights, cache = rc.seq2seq_forward(params, src, src_lengths, tgt_in, attention)
    # zero after each target's end, as from a loss: the <pad> row of tgt_embed is then truly not used
    dscores = rng.standard_normal(scores.shape) * rc.lengths_to_mask(tgt_lengths, T)[:, :, None]
    grads = rc.seq2seq_backward(dscores, cache)
    assert list(grads) == list(params)
    for name in params:
        def f(value, name=name):
            return rc.seq2seq_forward({**params, name: value}, src, src_lengths, tgt_in, attention)[0]
        # h = 1e-5: att_Wq's gradient is small (q Wq shifts every e_s alike), and rounding dominates at h = 1e-6
        assert rc.rel_error(rc.numeric_gradient(f, params[name], dscores, h=1e-5), grads[name]) < 1e-6, name


def torch_seq2seq_loss(params, src, src_lengths, tgt_in, tgt_out, attention):
    """The model in torch: nn.LSTM over pack_padded_sequence, nn.LSTM decoder, attention, cross-entropy."""
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in params.items() if "embed" in k or "out" in k
              or k.startswith("att")}
    encoder = torch_lstm(params["enc_Wx"], params["enc_Wh"], params["enc_b"])
    decoder = torch_lstm(params["dec_Wx"], params["dec_Wh"], params["dec_b"])
    x = F.embedding(torch.from_numpy(src), leaves["src_embed"], padding_idx=PAD)
    packed = pack_padded_sequence(x, torch.from_numpy(src_lengths), batch_first=True, enforce_sorted=False)
    h_enc, state = encoder(packed)
    h_enc, _ = pad_packed_sequence(h_enc, batch_first=True, total_length=src.shape[1])
    d, _ = decoder(F.embedding(torch.from_numpy(tgt_in), leaves["tgt_embed"], padding_idx=PAD), state)
    features = d
    if attention is not None:
        Nb, Tb, Hb = d.shape
        mask = torch.from_numpy(rc.lengths_to_mask(src_lengths, src.shape[1]))
        context, _ = torch_attention(d.reshape(Nb * Tb, Hb), h_enc.repeat_interleave(Tb, dim=0),
                                     mask.repeat_interleave(Tb, dim=0), attention,
                                     *(leaves[k] for k in ("att_W", "att_Wq", "att_Wk", "att_v") if k in leaves))
        features = torch.cat([d, context.reshape(Nb, Tb, Hb)], dim=2)
    scores = features @ leaves["W_out"] + leaves["b_out"]
    loss = F.cross_entropy(scores.reshape(-1, scores.shape[2]), torch.from_numpy(tgt_out).reshape(-1),
                           ignore_index=PAD)
    loss.backward()
    grads = {k: leaf.grad.numpy() for k, leaf in leaves.items()}
    for prefix, module in (("enc", encoder), ("dec", decoder)):
        grads[f"{prefix}_Wx"], grads[f"{prefix}_Wh"], grads[f"{prefix}_b"] = grads_from_torch(module, "lstm")
    return loss.item(), grads


@pytest.mark.parametrize("attention", ATTENTIONS, ids=ATTENTION_IDS)
def test_seq2seq_loss_and_gradients_match_torch(attention, rng):
    """Do the loss and every gradient equal a torch autograd model (packed encoder, ignore_index loss)?"""
    params, src, src_lengths, tgt_in, tgt_out, tgt_lengths = problem(rng, attention)
    loss, grads = rc.seq2seq_loss(params, src, src_lengths, tgt_in, tgt_out, tgt_lengths, attention)
    loss_t, grads_t = torch_seq2seq_loss(params, src, src_lengths, tgt_in, tgt_out, attention)
    assert loss == pytest.approx(loss_t, rel=1e-12)
    assert set(grads) == set(grads_t) == set(params)
    for name in params:
        assert rc.rel_error(grads[name], grads_t[name]) < 1e-7, name


@pytest.mark.parametrize("attention", ATTENTIONS, ids=ATTENTION_IDS)
def test_padded_source_tokens_change_nothing(attention, rng):
    """Does replacing a token after a source's end leave scores, weights, loss and gradients bit for bit the same?"""
    params, src, src_lengths, tgt_in, tgt_out, tgt_lengths = problem(rng, attention)
    changed = src.copy()
    changed[1, 2:] = rng.integers(1, V_SRC, size=S - 2)                  # row 1 has length 2
    for a, b in zip(rc.seq2seq_forward(params, src, src_lengths, tgt_in, attention)[:2],
                    rc.seq2seq_forward(params, changed, src_lengths, tgt_in, attention)[:2]):
        np.testing.assert_array_equal(a, b)
    loss, grads = rc.seq2seq_loss(params, src, src_lengths, tgt_in, tgt_out, tgt_lengths, attention)
    loss2, grads2 = rc.seq2seq_loss(params, changed, src_lengths, tgt_in, tgt_out, tgt_lengths, attention)
    assert loss == loss2
    for name in grads:
        np.testing.assert_array_equal(grads[name], grads2[name])
    assert not np.array_equal(src, changed)


@pytest.mark.parametrize("attention", KINDS)
def test_attention_weights_skip_padded_source_positions(attention, rng):
    """Are the weights (N, T, S) zero after each source's end and a distribution over its real positions?"""
    params, src, src_lengths, tgt_in, *_ = problem(rng, attention)
    _, weights, _ = rc.seq2seq_forward(params, src, src_lengths, tgt_in, attention)
    assert weights.shape == (N, T, S)
    assert np.all(weights[~np.broadcast_to(rc.lengths_to_mask(src_lengths, S)[:, None], weights.shape)] == 0)
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, rtol=1e-14)


@pytest.mark.parametrize("attention", ATTENTIONS, ids=ATTENTION_IDS)
def test_decoder_steps_reproduce_teacher_forcing(attention, rng):
    """Does decoder_step_forward, fed tgt_in token by token, give seq2seq_forward's scores and weights?"""
    params, src, src_lengths, tgt_in, *_ = problem(rng, attention)
    scores, weights, _ = rc.seq2seq_forward(params, src, src_lengths, tgt_in, attention)
    h_enc, h, c = rc.encode(params, src, src_lengths)
    mask = rc.lengths_to_mask(src_lengths, S)
    for t in range(T):
        scores_t, h, c, weights_t = rc.decoder_step_forward(params, tgt_in[:, t], h, c, h_enc, mask, attention)
        np.testing.assert_allclose(scores_t, scores[:, t], rtol=1e-12, atol=1e-14)
        if attention is not None:
            np.testing.assert_allclose(weights_t, weights[:, t], rtol=1e-12, atol=1e-14)


def test_init_seq2seq_shapes_and_padding_rows():
    """Does init_seq2seq make the documented keys and shapes, zero <pad> rows, and a forget bias of 1?"""
    for attention in ATTENTIONS:
        params = rc.init_seq2seq(V_SRC, V_TGT, D, H, attention=attention)
        assert params["W_out"].shape == (H if attention is None else 2 * H, V_TGT)
        assert ("att_v" in params) == (attention == "additive")
        assert ("att_W" in params) == (attention == "general")
    assert rc.init_seq2seq(V_SRC, V_TGT, D, H, attention="general")["att_W"].shape == (H, H)
    params = rc.init_seq2seq(V_SRC, V_TGT, D, H, attention="additive", A=5)
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {"src_embed": (V_SRC, D), "tgt_embed": (V_TGT, D), "enc_Wx": (D, 4 * H), "enc_Wh": (H, 4 * H),
                      "enc_b": (4 * H,), "dec_Wx": (D, 4 * H), "dec_Wh": (H, 4 * H), "dec_b": (4 * H,),
                      "W_out": (2 * H, V_TGT), "b_out": (V_TGT,), "att_Wq": (H, 5), "att_Wk": (H, 5), "att_v": (5,)}
    assert np.all(params["src_embed"][0] == 0) and np.all(params["tgt_embed"][0] == 0)
    np.testing.assert_array_equal(params["enc_b"], np.repeat([0.0, 1.0, 0.0, 0.0], H))
    np.testing.assert_array_equal(rc.init_seq2seq(V_SRC, V_TGT, D, H, rng=3)["W_out"],
                                  rc.init_seq2seq(V_SRC, V_TGT, D, H, rng=3)["W_out"])


# ---------------------------------------------------------------- teacher forcing

def test_teacher_forcing_shift_on_a_hand_example():
    """Do targets [5, 6, 7] and [8] give <bos> + target, target + <eos> and a mask of length + 1 steps?"""
    tgt = np.array([[5, 6, 7], [8, 0, 0]])
    tgt_in, tgt_out, mask = rc.teacher_forcing_shift(tgt, np.array([3, 1]), BOS, EOS)
    np.testing.assert_array_equal(tgt_in, [[BOS, 5, 6, 7], [BOS, 8, PAD, PAD]])
    np.testing.assert_array_equal(tgt_out, [[5, 6, 7, EOS], [8, EOS, PAD, PAD]])
    np.testing.assert_array_equal(mask, [[True] * 4, [True, True, False, False]])
    empty_in, empty_out, empty_mask = rc.teacher_forcing_shift(np.array([[4, 4]]), np.array([0]), BOS, EOS)
    np.testing.assert_array_equal(empty_in, [[BOS, PAD, PAD]])          # an empty target: read <bos>, say <eos>
    np.testing.assert_array_equal(empty_out, [[EOS, PAD, PAD]])
    np.testing.assert_array_equal(empty_mask, [[True, False, False]])


def test_teacher_forcing_shift_agrees_with_encode_pairs():
    """Does the shift of the padded date targets give encode_pairs' tgt_in, tgt_out and tgt_lengths, ignoring junk after each end?"""
    src_vocab, tgt_vocab = rc.date_vocabularies()
    pairs = rc.russian_date_pairs(50, np.random.default_rng(5))
    _, _, tgt_in, tgt_out, tgt_lengths = rc.encode_pairs(pairs, src_vocab, tgt_vocab)
    tgt, lengths = rc.pad_sequences([tgt_vocab.encode(list(t)) for _, t in pairs], PAD)
    junk = np.where(np.arange(tgt.shape[1]) < lengths[:, None], tgt, 7)  # what follows a target's end is ignored
    ours = rc.teacher_forcing_shift(junk, lengths, BOS, EOS)
    np.testing.assert_array_equal(ours[0], tgt_in)
    np.testing.assert_array_equal(ours[1], tgt_out)
    np.testing.assert_array_equal(ours[2], rc.lengths_to_mask(tgt_lengths, tgt_in.shape[1]))


def test_teacher_forcing_equals_feeding_the_true_tokens(rng):
    """Is the loss over the shifted batch the mean of -log p(next true token) when each step reads the true previous one?"""
    params, src, src_lengths, *_ = problem(rng, "dot")
    tgt = padded_tokens(rng, TGT_LENGTHS - 1, T - 1, 3, V_TGT)
    tgt_in, tgt_out, mask = rc.teacher_forcing_shift(tgt, TGT_LENGTHS - 1, BOS, EOS)
    loss, _ = rc.seq2seq_loss(params, src, src_lengths, tgt_in, tgt_out, mask.sum(axis=1), "dot")
    h_enc, d, k = rc.encode(params, src, src_lengths)
    src_mask = rc.lengths_to_mask(src_lengths, S)
    total = 0.0
    for t in range(T):
        scores, d, k, _ = rc.decoder_step_forward(params, tgt_in[:, t], d, k, h_enc, src_mask, "dot")
        total += (rc.log_softmax(scores)[np.arange(N), tgt_out[:, t]] * mask[:, t]).sum()
    assert loss == pytest.approx(-total / mask.sum(), rel=1e-12)


# ---------------------------------------------------------------- decoding

def tiny_model(seed, attention, V_tgt=4):
    """A random model with peaked next-token distributions and one padded source batch of two sentences."""
    rng = np.random.default_rng(seed)
    params = rc.init_seq2seq(V_SRC, V_tgt, D, H, attention=attention, rng=rng, scale=1.5)
    src_lengths = np.array([S, 3])
    return params, padded_tokens(rng, src_lengths, S, 3, V_SRC), src_lengths


def brute_force_best(params, src, src_lengths, max_len, alpha, attention):
    """The best (tokens, score) of one sentence over every sequence up to max_len, by enumeration."""
    h_enc, h0, c0 = rc.encode(params, src, src_lengths)
    mask = rc.lengths_to_mask(src_lengths, src.shape[1])
    V = params["b_out"].shape[0]
    best = (None, -np.inf)
    for L in range(1, max_len + 1):
        for tokens in itertools.product(range(V), repeat=L):
            if EOS in tokens[:-1] or (L < max_len and tokens[-1] != EOS):
                continue                                   # a hypothesis ends at its first eos or at max_len
            h, c, logp, y = h0, c0, 0.0, BOS
            for token in tokens:
                scores, h, c, _ = rc.decoder_step_forward(params, np.array([y]), h, c, h_enc, mask, attention)
                logp += scores[0, token] - np.log(np.exp(scores[0]).sum())
                y = token
            if logp / L ** alpha > best[1]:
                best = (list(tokens), logp / L ** alpha)
    return best


@pytest.mark.parametrize("attention", ATTENTIONS, ids=ATTENTION_IDS)
@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_exhaustive_beam_finds_the_brute_force_best(attention, alpha):
    """With beam_width = V^max_len (nothing pruned), is beam search's answer the best of all sequences?"""
    max_len = 4
    for seed in range(3):
        params, src, src_lengths = tiny_model(seed, attention)
        results = rc.beam_search(params, src, src_lengths, BOS, EOS, max_len, beam_width=4 ** max_len, alpha=alpha,
                                 attention=attention)
        for n, (tokens, score) in enumerate(results):
            want_tokens, want_score = brute_force_best(params, src[n:n + 1], src_lengths[n:n + 1], max_len, alpha,
                                                       attention)
            assert tokens == want_tokens
            assert score == pytest.approx(want_score, rel=1e-10)


@pytest.mark.parametrize("attention", ATTENTIONS, ids=ATTENTION_IDS)
def test_beam_width_one_is_greedy(attention):
    """Does beam_width=1 give greedy_decode's tokens (up to its first eos), and do greedy's later tokens stay eos?"""
    max_len = 6
    for seed in range(5):
        params, src, src_lengths = tiny_model(seed, attention, V_tgt=5)
        greedy, weights = rc.greedy_decode(params, src, src_lengths, BOS, EOS, max_len, attention)
        assert greedy.shape == (2, max_len) and (weights is None) == (attention is None)
        for row, (tokens, _) in zip(greedy, rc.beam_search(params, src, src_lengths, BOS, EOS, max_len, beam_width=1,
                                                           attention=attention)):
            end = list(row).index(EOS) + 1 if EOS in row else max_len
            assert tokens == list(row[:end])
            assert np.all(row[end:] == EOS)
            assert tokens[-1] == EOS or len(tokens) == max_len


def test_no_beam_beats_the_exhaustive_one():
    """For alpha = 0, is every beam width's best score at most the exhaustive beam's, which some width reaches?"""
    for seed in range(6):
        params, src, src_lengths = tiny_model(seed, "dot", V_tgt=6)
        scores = np.array([[score for _, score in rc.beam_search(params, src, src_lengths, BOS, EOS, 5, beam_width=k,
                                                                  attention="dot")] for k in (1, 2, 3, 5, 10, 6 ** 5)])
        assert np.all(scores[:-1] <= scores[-1] + 1e-12), (seed, scores)


def test_a_wider_beam_can_score_below_a_narrower_one():
    """Is beam search monotone in its width? No: on this random model width 3 ends below width 2.

    Width 2 keeps a hypothesis that width 3 drops in favour of two extensions of another beam, which then
    end badly. A wider beam is better on average, not always; only the exhaustive beam is guaranteed.
    """
    params, src, src_lengths = tiny_model(71, "dot", V_tgt=6)
    best = {k: rc.beam_search(params, src[:1], src_lengths[:1], BOS, EOS, 5, beam_width=k, attention="dot")[0][1]
            for k in (2, 3, 6 ** 5)}
    assert best[3] < best[2] - 0.5
    assert best[2] <= best[6 ** 5]


TABLE = {                                    # p(next | previous token) of a toy model that ignores its state
    BOS: {3: 0.5, 4: 0.4, EOS: 0.1},
    3: {3: 0.34, 4: 0.33, EOS: 0.33},            # after the likelier first token the model is unsure,
    4: {EOS: 0.9, 3: 0.05, 4: 0.05},             # after the other one it is sure: greedy loses, a beam wins
}


def table_step(y, state):
    """A step function for beam_decode from TABLE; the state counts the steps (it must follow the beams)."""
    log_probs = np.full((len(y), 5), -np.inf)
    for b, token in enumerate(y):
        for nxt, p in TABLE[int(token)].items():
            log_probs[b, nxt] = np.log(p)
    return log_probs, (state[0] + 1,)


def test_beam_decode_on_a_table_model():
    """On a hand-made table, is greedy's 3 3 ... worse than the width-2 beam's 4 <eos>, found by the beam?"""
    state = (np.zeros((1, 1)),)
    tokens, logp = rc.beam_decode(table_step, state, BOS, EOS, 2, beam_width=1)
    assert tokens == [3, 3] and logp == pytest.approx(np.log(0.5 * 0.34))     # max_len ran out
    tokens, logp = rc.beam_decode(table_step, state, BOS, EOS, 2, beam_width=2)
    assert tokens == [4, EOS] and logp == pytest.approx(np.log(0.4 * 0.9))
    calls = []

    def counting_step(y, state):
        calls.append((len(y), state[0].ravel().tolist()))
        return table_step(y, state)
    rc.beam_decode(counting_step, state, BOS, EOS, 3, beam_width=2)
    assert calls == [(1, [0.0]), (2, [1.0, 1.0]), (1, [2.0])]   # one live beam is left after 4 <eos> finishes


def test_beam_search_is_beam_decode_over_the_decoder(rng):
    """Does beam_search give, sentence by sentence, beam_decode's answer for the decoder's step function?"""
    params, src, src_lengths = tiny_model(3, "general", V_tgt=5)
    h_enc, d, k = rc.encode(params, src, src_lengths)
    mask = rc.lengths_to_mask(src_lengths, S)
    for n, result in enumerate(rc.beam_search(params, src, src_lengths, BOS, EOS, 6, beam_width=3,
                                              attention="general")):
        def step(y, state):
            scores, d_next, k_next, _ = rc.decoder_step_forward(params, y, *state, np.repeat(h_enc[n:n + 1], len(y), 0),
                                                                np.repeat(mask[n:n + 1], len(y), 0), "general")
            return rc.log_softmax(scores), (d_next, k_next)
        assert rc.beam_decode(step, (d[n:n + 1], k[n:n + 1]), BOS, EOS, 6, beam_width=3) == result


@pytest.fixture(scope="module")
def trained_on_dates():
    """A small model with dot attention trained for 250 steps on 2000 date pairs (shared: it takes seconds)."""
    src_vocab, tgt_vocab = rc.date_vocabularies()
    data = rc.encode_pairs(rc.russian_date_pairs(2000, np.random.default_rng(0)), src_vocab, tgt_vocab)
    params = rc.init_seq2seq(len(src_vocab), len(tgt_vocab), 16, 32, attention="dot", rng=0)
    before = {k: v.copy() for k, v in params.items()}
    trained, losses = rc.train_seq2seq(params, data, 250, batch=32, lr=0.02, attention="dot", progress=False)
    return {"params": params, "before": before, "trained": trained, "losses": losses, "data": data,
            "vocabs": (src_vocab, tgt_vocab)}


def test_train_seq2seq_lowers_the_loss_and_leaves_params_alone(trained_on_dates):
    """On 2000 date pairs, do a few hundred Adam steps cut the loss clearly, without touching the given params?"""
    params, trained, losses = (trained_on_dates[k] for k in ("params", "trained", "losses"))
    assert len(losses) == 250
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:5]), (losses[:5], losses[-20:])
    for name in params:
        np.testing.assert_array_equal(params[name], trained_on_dates["before"][name])
        assert not np.array_equal(trained[name], params[name])
    _, losses_again = rc.train_seq2seq(params, trained_on_dates["data"], 5, batch=32, lr=0.02, attention="dot",
                                       progress=False)
    assert losses_again == losses[:5]                      # one seed, one run


def test_greedy_and_beam_translate_held_out_dates(trained_on_dates):
    """After training, do greedy decoding and beam search write the ISO dates of most held-out sentences?"""
    params = trained_on_dates["trained"]
    src_vocab, tgt_vocab = trained_on_dates["vocabs"]
    test_pairs = rc.russian_date_pairs(40, np.random.default_rng(1))
    targets = [t for _, t in test_pairs]
    src, src_lengths, *_ = rc.encode_pairs(test_pairs, src_vocab, tgt_vocab)
    tokens, weights = rc.greedy_decode(params, src, src_lengths, BOS, EOS, 12, attention="dot")
    greedy = [tgt_vocab.decode(row[:list(row).index(EOS)] if EOS in row else row) for row in tokens]
    beams = rc.beam_search(params, src[:10], src_lengths[:10], BOS, EOS, 12, attention="dot")
    assert weights.shape == (40, 12, src.shape[1])
    assert np.mean([g == t for g, t in zip(greedy, targets)]) > 0.5, list(zip(greedy, targets))[:5]
    assert np.mean([tgt_vocab.decode(b[:-1]) == t for (b, _), t in zip(beams, targets)]) > 0.5


# ---------------------------------------------------------------- bad input

def _params(attention=None):
    return rc.init_seq2seq(V_SRC, V_TGT, D, H, attention=attention)


SRC = padded_tokens(np.random.default_rng(0), SRC_LENGTHS, S, 3, V_SRC)
TGT = padded_tokens(np.random.default_rng(1), TGT_LENGTHS, T, 2, V_TGT)
Q, HS = np.ones((2, H)), np.ones((2, S, H))


@pytest.mark.parametrize("call, message", [
    (lambda: rc.embedding_forward(np.array([[0, 7]]), np.ones((7, 2))), r"x must lie in \[0, V\) = \[0, 7\)"),
    (lambda: rc.embedding_forward(np.array([[0.0]]), np.ones((7, 2))), "must be integers"),
    (lambda: rc.embedding_forward(np.array([0, 1]), np.ones((7, 2))), r"shape \(N, T\)"),
    (lambda: rc.embedding_forward(np.array([[0]]), np.ones((7, 2)), padding_idx=7), "padding_idx"),
    (lambda: rc.temporal_softmax_loss(np.ones((N, T, 3)), np.zeros((N, T), int), mask=np.ones((N, T), bool),
                                      lengths=TGT_LENGTHS), "not both"),
    (lambda: rc.temporal_softmax_loss(np.ones((N, T, 3)), np.zeros((N, T), int), lengths=[1, 0, 2]),
     r"lengths must lie in \[1, 4\].*rows \[1\]"),
    (lambda: rc.temporal_softmax_loss(np.ones((N, T, 3)), np.zeros((N, T), int), mask=np.ones((N, 2), bool)),
     "mask must have shape"),
    (lambda: rc.dot_attention_forward(np.ones((2, H + 1)), HS), r"q must have shape \(N, H\)"),
    (lambda: rc.dot_attention_forward(Q, HS, mask=np.array([[True] * S, [False] * S])), r"rows \[1\] are empty"),
    (lambda: rc.additive_attention_forward(Q, HS, np.ones((H, A)), np.ones((H + 1, A)), np.ones(A)),
     r"Wk must have shape \(H, A\)"),
    (lambda: rc.seq2seq_forward(_params(), SRC, SRC_LENGTHS, TGT, attention="luong"), "attention must be one of"),
    (lambda: rc.seq2seq_forward(_params("dot"), SRC, SRC_LENGTHS, TGT), r"W_out.*\(2H, V_tgt\)|\(H, V_tgt\)"),
    (lambda: rc.seq2seq_forward(_params("additive"), SRC, SRC_LENGTHS, TGT, "dot"), "pass attention='additive'"),
    (lambda: rc.seq2seq_forward(_params("general"), SRC, SRC_LENGTHS, TGT, "scaled_dot"), "pass attention='general'"),
    (lambda: rc.seq2seq_forward({**_params("general"), "att_W": np.ones((H, H + 1))}, SRC, SRC_LENGTHS, TGT,
                                "general"), r"att_W.*\(H, H\)"),
    (lambda: rc.general_attention_forward(Q, HS, np.ones((H, H + 1))), r"W must have shape \(Hq, H\)"),
    (lambda: rc.scaled_dot_attention_forward(np.ones((2, H + 1)), HS), r"q must have shape \(N, H\)"),
    (lambda: rc.teacher_forcing_shift(TGT.astype(float), TGT_LENGTHS, BOS, EOS), "integer token ids"),
    (lambda: rc.teacher_forcing_shift(TGT, [4, 1, 5], BOS, EOS), r"tgt_lengths must lie in \[0, 4\]"),
    (lambda: rc.teacher_forcing_shift(TGT, TGT_LENGTHS[:2], BOS, EOS), "one per row"),
    (lambda: rc.teacher_forcing_shift(TGT, TGT_LENGTHS, PAD, EOS), "bos must be an integer token id other than"),
    (lambda: rc.beam_decode(lambda y, s: (np.zeros((len(y), 3)), s), (np.zeros((1, 2)),), BOS, EOS, 0), "max_len"),
    (lambda: rc.seq2seq_forward(_params(), SRC + 5, SRC_LENGTHS, TGT), r"src must hold token ids in \[0, 7\)"),
    (lambda: rc.seq2seq_forward(_params(), SRC, [5, 0, 6], TGT), r"src_lengths must lie in \[1, 5\]"),
    (lambda: rc.seq2seq_forward(_params(), SRC, SRC_LENGTHS, TGT[:2]), "tgt_in must have shape"),
    (lambda: rc.seq2seq_loss(_params(), SRC, SRC_LENGTHS, TGT, TGT[:, :2], TGT_LENGTHS), "tgt_out must have"),
    (lambda: rc.greedy_decode(_params(), SRC, SRC_LENGTHS, BOS, V_TGT, 4), r"eos must be a token id"),
    (lambda: rc.beam_search(_params(), SRC, SRC_LENGTHS, BOS, EOS, 4, beam_width=0), "beam_width"),
    (lambda: rc.init_seq2seq(V_SRC, V_TGT, D, H, A=3), "A is the size of additive attention"),
    (lambda: rc.train_seq2seq(_params(), (SRC, SRC_LENGTHS), 1), "data must be"),
])
def test_bad_input_is_refused_with_a_clear_message(call, message):
    """Do wrong shapes, out-of-range tokens and lengths, unknown kinds and empty masks raise clear ValueErrors?"""
    with pytest.raises(ValueError, match=message):
        call()


def test_train_seq2seq_bar_takes_a_label(capsys):
    """Does progress="…" label the bar, and does the bar show the last loss as L = … (no English on it)?"""
    src_vocab, tgt_vocab = rc.date_vocabularies()
    data = rc.encode_pairs(rc.russian_date_pairs(20, np.random.default_rng(0)), src_vocab, tgt_vocab)
    params = rc.init_seq2seq(len(src_vocab), len(tgt_vocab), 4, 4, rng=0)
    _, losses = rc.train_seq2seq(params, data, 3, batch=8, progress="обучение без внимания")
    last = capsys.readouterr().out.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("обучение без внимания: 100%|") and last.endswith(f"3/3, L = {losses[-1]:.3f}"), last
