"""Encoder-decoder (sequence to sequence) with LSTMs and, optionally, attention.

Sizes: N batch, S source length, T target length, D embedding, H hidden, A attention, V vocabulary.
Token ids are integers; id 0 is <pad>. Batch-first float64, weights on the right (x @ W).
The layout of Luong et al. (2015): attention reads the decoder's state after its LSTM step.

    encoder   x_s = src_embed[src_s];  (h_s, c_s) = LSTM(x_s, h_{s-1}, c_{s-1})   from h_0 = c_0 = 0
              a sequence of length L keeps its state after step L: (h_last, c_last) = (h_L, c_L)
    decoder   y_t = tgt_embed[tgt_in_t]; (d_t, k_t) = LSTM(y_t, d_{t-1}, k_{t-1})  from (h_last, c_last)
              context_t = attention(d_t, h_1..h_S, src_mask)     # dot, scaled dot, general or additive
              scores_t = [d_t, context_t] @ W_out + b_out      (without attention: d_t @ W_out + b_out)

Training uses teacher forcing: the decoder reads the true previous token tgt_in = <bos> + target and
predicts tgt_out = target + <eos> (teacher_forcing_shift makes both). Decoding (greedy_decode,
beam_search) feeds back its own tokens; beam_decode is the search itself, for any step function.

params is a dict: "src_embed" (V_src, D), "tgt_embed" (V_tgt, D), "enc_Wx" (D, 4H), "enc_Wh" (H, 4H),
"enc_b" (4H,), "dec_Wx" (D, 4H), "dec_Wh" (H, 4H), "dec_b" (4H,), "W_out" (H, V_tgt) or (2H, V_tgt) with
attention, "b_out" (V_tgt,); general attention adds "att_W" (H, H); additive attention adds "att_Wq" (H, A),
"att_Wk" (H, A), "att_v" (A,). Every function takes the attention kind (one of ATTENTIONS: None, "dot",
"scaled_dot", "general", "additive"; see attention.py) and checks that params fit it.

The pieces are layers like the others: encoder_forward / encoder_backward and decoder_forward /
decoder_backward; seq2seq_forward / seq2seq_backward chain them: the decoder's gradients of its
initial state (dh0, dc0) become the encoder's gradients of (h_last, c_last).
"""
import numpy as np

from ._training import as_rng, progress_bar
from ._validate import as_float_array, check_lengths, check_mask, check_positive, check_shape, check_upstream
from .attention import (additive_attention_backward, additive_attention_forward, dot_attention_backward,
                        dot_attention_forward, general_attention_backward, general_attention_forward,
                        scaled_dot_attention_backward, scaled_dot_attention_forward)
from .clipping import clip_by_global_norm
from .datasets import lengths_to_mask
from .embedding import embedding_backward, embedding_forward
from .losses import temporal_softmax_loss
from .lstm import lstm_state_backward, lstm_state_forward, lstm_step_backward, lstm_step_forward
from .optim import Adam

ATTENTIONS = (None, "dot", "scaled_dot", "general", "additive")
PAD = 0
PARAM_NAMES = ("src_embed", "tgt_embed", "enc_Wx", "enc_Wh", "enc_b", "dec_Wx", "dec_Wh", "dec_b", "W_out", "b_out")
ATTENTION_PARAMS = {"general": ("att_W",), "additive": ("att_Wq", "att_Wk", "att_v")}   # weights of the scores
ATTENTION_NAMES = tuple(k for names in ATTENTION_PARAMS.values() for k in names)
ENCODER_NAMES = ("src_embed", "enc_Wx", "enc_Wh", "enc_b")


def _check_attention(attention):
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")


def _check_params(params, attention):
    """Return (V_src, V_tgt, D, H) of params, or raise ValueError if they do not fit `attention`."""
    _check_attention(attention)
    names = PARAM_NAMES + ATTENTION_PARAMS.get(attention, ())
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"params lack {missing} for attention={attention!r}; init_seq2seq(..., attention="
                         f"{attention!r}) makes a complete dict")
    extra = [k for k in ATTENTION_NAMES if k in params and k not in names]
    if extra:
        kind = next(kind for kind, keys in ATTENTION_PARAMS.items() if extra[0] in keys)
        raise ValueError(f"params hold {kind}-attention weights {extra}: pass attention={kind!r}")
    for k in params:
        as_float_array(f"params[{k!r}]", params[k])
    V_src, D = params["src_embed"].shape
    V_tgt = params["tgt_embed"].shape[0]
    H = params["enc_Wh"].shape[0]
    F = H if attention is None else 2 * H                  # the output layer reads d_t, or [d_t, context_t]
    expected = {"src_embed": ((V_src, D), "(V_src, D)"), "tgt_embed": ((V_tgt, D), "(V_tgt, D)"),
                "enc_Wx": ((D, 4 * H), "(D, 4H)"), "enc_Wh": ((H, 4 * H), "(H, 4H)"), "enc_b": ((4 * H,), "(4H,)"),
                "dec_Wx": ((D, 4 * H), "(D, 4H)"), "dec_Wh": ((H, 4 * H), "(H, 4H)"), "dec_b": ((4 * H,), "(4H,)"),
                "b_out": ((V_tgt,), "(V_tgt,)")}
    if attention == "additive":
        A = as_float_array("params['att_v']", params["att_v"], 1).shape[0]
        expected.update({"att_Wq": ((H, A), "(H, A)"), "att_Wk": ((H, A), "(H, A)"), "att_v": ((A,), "(A,)")})
    if attention == "general":
        expected["att_W"] = ((H, H), "(H, H)")
    hint = f"for V_src = {V_src}, V_tgt = {V_tgt}, D = {D}, H = {H}"
    for k, (shape, label) in expected.items():
        check_shape(f"params[{k!r}]", params[k], shape, hint, label=label)
    if params["W_out"].shape != (F, V_tgt):
        other = "without attention" if params["W_out"].shape[0] == H else "with attention"
        raise ValueError(f"params['W_out'] must have shape {'(H, V_tgt)' if attention is None else '(2H, V_tgt)'} = "
                         f"{(F, V_tgt)} for attention={attention!r}; got {params['W_out'].shape} (made {other}?): "
                         f"pass the attention kind the params were made for")
    return V_src, V_tgt, D, H


def _check_tokens(name, ids, V, ndim=2):
    """Return ids as an integer array of `ndim` dimensions with values in [0, V), or raise ValueError."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
    if ids.ndim != ndim:
        raise ValueError(f"{name} must have shape {'(N, T)' if ndim == 2 else '(N,)'}, got {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        bad = np.argwhere((ids < 0) | (ids >= V))[:5].tolist()
        raise ValueError(f"{name} must hold token ids in [0, {V}) (the vocabulary size of params); "
                         f"positions {bad} hold {[int(ids[tuple(p)]) for p in bad]}")
    return ids


def init_seq2seq(V_src, V_tgt, D, H, attention=None, A=None, rng=0, scale=0.1):
    """Random weights N(0, scale^2), zero biases except the LSTMs' forget gates (1: remember by default).

    V_src, V_tgt: vocabulary sizes; D: embedding size; H: hidden size; attention: one of ATTENTIONS;
    A: attention size of additive attention (default H); rng: a numpy Generator or an integer seed.
    Returns the params dict of the module docstring; the <pad> rows (0) of both embeddings are zero.
    """
    _check_attention(attention)
    for name, value in (("V_src", V_src), ("V_tgt", V_tgt), ("D", D), ("H", H)):
        check_positive(name, value)
    if A is not None and attention != "additive":
        raise ValueError(f"A is the size of additive attention; attention={attention!r} has no such size")
    A = H if A is None else A
    check_positive("A", A)
    rng = as_rng(rng)
    F = H if attention is None else 2 * H

    def normal(*shape):
        return rng.standard_normal(shape) * scale

    forget_bias = np.zeros(4 * H)
    forget_bias[H:2 * H] = 1.0                              # gates i, f, o, g: the f block
    params = {"src_embed": normal(V_src, D), "tgt_embed": normal(V_tgt, D),
              "enc_Wx": normal(D, 4 * H), "enc_Wh": normal(H, 4 * H), "enc_b": forget_bias.copy(),
              "dec_Wx": normal(D, 4 * H), "dec_Wh": normal(H, 4 * H), "dec_b": forget_bias.copy(),
              "W_out": normal(F, V_tgt), "b_out": np.zeros(V_tgt)}
    params["src_embed"][PAD] = 0.0
    params["tgt_embed"][PAD] = 0.0
    if attention == "general":
        params["att_W"] = normal(H, H)
    if attention == "additive":
        params.update({"att_Wq": normal(H, A), "att_Wk": normal(H, A), "att_v": normal(A)})
    return params


def encoder_forward(params, src, src_lengths):
    """Embed the source and run the encoder LSTM; each sequence's state stops changing after its length.

    src (N, S): token ids, right-padded; src_lengths (N,): real lengths in [1, S].
    Returns h_enc (N, S, H): the state after every step (after a sequence's end, its last real state);
    h_last, c_last (N, H): the state at each sequence's last real step (as torch's pack_padded_sequence);
    and a cache for encoder_backward.
    """
    V_src = params["src_embed"].shape[0]
    src = _check_tokens("src", src, V_src)
    N, S = src.shape
    mask = lengths_to_mask(check_lengths("src_lengths", src_lengths, N, S), S)     # (N, S), True at real steps
    Wx, Wh, b = params["enc_Wx"], params["enc_Wh"], params["enc_b"]
    x, embed_cache = embedding_forward(src, params["src_embed"], padding_idx=PAD)  # x_s = src_embed[src_s]
    D, H = x.shape[2], Wh.shape[0]
    h, c = np.zeros((N, H), dtype=x.dtype), np.zeros((N, H), dtype=x.dtype)
    h_enc = np.empty((N, S, H), dtype=x.dtype)
    steps = []
    for s in range(S):
        h_new, c_new, step_cache = lstm_step_forward(x[:, s], h, c, Wx, Wh, b)
        m = mask[:, s, None].astype(x.dtype)               # (N, 1): 1 while sequence n is running, then 0
        h = m * h_new + (1 - m) * h                        # h_s = m h_new + (1 - m) h_{s-1}
        c = m * c_new + (1 - m) * c                        # c_s = m c_new + (1 - m) c_{s-1}
        h_enc[:, s] = h
        steps.append(step_cache)
    return h_enc, h, c, {"embed": embed_cache, "steps": steps, "mask": mask, "shape": (N, S, D, H), "dtype": x.dtype}


def encoder_backward(dh_enc, dh_last, dc_last, cache):
    """Gradients of encoder_forward.

    dh_enc (N, S, H): upstream gradient of h_enc; dh_last, dc_last (N, H): of h_last and c_last
    (None for zero). Returns grads: a dict with "src_embed", "enc_Wx", "enc_Wh", "enc_b".
    """
    N, S, D, H = cache["shape"]
    dtype = cache["dtype"]
    dh_enc = check_upstream("dh_enc", dh_enc, (N, S, H), dtype)
    dh_next = np.zeros((N, H), dtype) if dh_last is None else check_upstream("dh_last", dh_last, (N, H), dtype)
    dc_next = np.zeros((N, H), dtype) if dc_last is None else check_upstream("dc_last", dc_last, (N, H), dtype)
    dx = np.empty((N, S, D), dtype=dtype)
    dWx, dWh, db = 0, 0, 0
    for s in reversed(range(S)):
        m = cache["mask"][:, s, None].astype(dtype)
        dh = dh_enc[:, s] + dh_next                        # h_s feeds h_enc[:, s] and step s + 1 (or h_last)
        dc = dc_next                                       # c_s feeds step s + 1 (or c_last)
        dx[:, s], dh_prev, dc_prev, dWx_s, dWh_s, db_s = lstm_step_backward(
            m * dh, m * dc, cache["steps"][s])             # h_s = m h_new + ..., c_s = m c_new + ...: the LSTM step
        dh_next = (1 - m) * dh + dh_prev                   # h_s = ... + (1 - m) h_{s-1}; h_new = step(h_{s-1})
        dc_next = (1 - m) * dc + dc_prev                   # c_s = ... + (1 - m) c_{s-1}; c_new = step(c_{s-1})
        dWx, dWh, db = dWx + dWx_s, dWh + dWh_s, db + db_s  # the same weights at every step
    return {"src_embed": embedding_backward(dx, cache["embed"]),   # x_s = src_embed[src_s]
            "enc_Wx": dWx, "enc_Wh": dWh, "enc_b": db}     # (h_0 = c_0 = 0 are constants: no gradient)


def _attention_forward(params, q, h_enc, src_mask, attention):
    """context, weights, cache of the attention kind for queries q (M, H) over states h_enc (M, S, H)."""
    if attention == "dot":
        return dot_attention_forward(q, h_enc, src_mask)
    if attention == "scaled_dot":
        return scaled_dot_attention_forward(q, h_enc, src_mask)
    if attention == "general":
        return general_attention_forward(q, h_enc, params["att_W"], src_mask)
    return additive_attention_forward(q, h_enc, params["att_Wq"], params["att_Wk"], params["att_v"], src_mask)


def decoder_forward(params, tgt_in, h0, c0, h_enc, src_mask, attention=None):
    """The decoder with teacher forcing: read tgt_in, score the next token at every step.

    tgt_in (N, T): token ids (<bos> + target, padded); h0, c0 (N, H): the initial state (the encoder's
    h_last, c_last); h_enc (N, S, H): encoder states; src_mask (N, S) bool; attention: one of ATTENTIONS.
    Returns scores (N, T, V_tgt), weights (N, T, S) (None without attention) and a cache for decoder_backward.
    """
    _, V_tgt, _, H = _check_params(params, attention)
    tgt_in = _check_tokens("tgt_in", tgt_in, V_tgt)
    y, embed_cache = embedding_forward(tgt_in, params["tgt_embed"], padding_idx=PAD)   # y_t = tgt_embed[tgt_in_t]
    d, _, lstm_cache = lstm_state_forward(y, h0, c0, params["dec_Wx"], params["dec_Wh"], params["dec_b"])
    N, T, _ = d.shape
    cache = {"embed": embed_cache, "lstm": lstm_cache, "attention": attention, "W_out": params["W_out"],
             "h_enc_shape": np.shape(h_enc), "dtype": d.dtype}
    weights = None
    features = d                                           # without attention: scores_t = d_t @ W_out + b_out
    if attention is not None:
        h_enc = as_float_array("h_enc", h_enc, 3)
        S = h_enc.shape[1]
        src_mask = check_mask(src_mask, N, S)
        # context_t = attention(d_t, h_enc, src_mask) for every t at once: the N T queries are one batch,
        # query (n, t) looks at a copy of sequence n's states (row n T + t of the repeated arrays).
        context, weights, cache["att"] = _attention_forward(
            params, d.reshape(N * T, H), np.repeat(h_enc, T, axis=0), np.repeat(src_mask, T, axis=0), attention)
        features = np.concatenate([d, context.reshape(N, T, H)], axis=2)   # [d_t, context_t]
        weights = weights.reshape(N, T, S)
    scores = features @ params["W_out"] + params["b_out"]  # scores_t = features_t @ W_out + b_out
    cache["features"] = features
    return scores, weights, cache


def decoder_backward(dscores, cache):
    """Gradients of decoder_forward.

    dscores (N, T, V_tgt): upstream gradient of the scores.
    Returns grads (a dict with "tgt_embed", "dec_Wx", "dec_Wh", "dec_b", "W_out", "b_out", and the
    attention's weights: "att_W" (general), "att_Wq", "att_Wk", "att_v" (additive)), dh0 (N, H), dc0 (N, H),
    dh_enc (N, S, H).
    """
    features, W_out, attention = cache["features"], cache["W_out"], cache["attention"]
    N, T, F = features.shape
    V = W_out.shape[1]
    dscores = check_upstream("dscores", dscores, (N, T, V), cache["dtype"])
    grads = {"W_out": features.reshape(N * T, F).T @ dscores.reshape(N * T, V),   # scores = features @ W_out + b_out
             "b_out": dscores.sum(axis=(0, 1))}
    dfeatures = dscores @ W_out.T
    dh_enc = np.zeros(cache["h_enc_shape"], dtype=cache["dtype"])
    if attention is None:
        dd = dfeatures                                     # features = d
    else:
        H = F // 2
        dd = dfeatures[:, :, :H].copy()                    # features = [d, context]
        dcontext = dfeatures[:, :, H:].reshape(N * T, H)
        if attention == "dot":
            dq, dkeys = dot_attention_backward(dcontext, cache["att"])
        elif attention == "scaled_dot":
            dq, dkeys = scaled_dot_attention_backward(dcontext, cache["att"])
        elif attention == "general":
            dq, dkeys, grads["att_W"] = general_attention_backward(dcontext, cache["att"])
        else:
            dq, dkeys, grads["att_Wq"], grads["att_Wk"], grads["att_v"] = additive_attention_backward(
                dcontext, cache["att"])
        dd += dq.reshape(N, T, H)                          # the query of context_t is d_t
        dh_enc = dkeys.reshape(N, T, *dh_enc.shape[1:]).sum(axis=1)   # np.repeat(h_enc, T): the copies add up
    dy, dh0, dc0, grads["dec_Wx"], grads["dec_Wh"], grads["dec_b"] = lstm_state_backward(dd, None, cache["lstm"])
    grads["tgt_embed"] = embedding_backward(dy, cache["embed"])      # y_t = tgt_embed[tgt_in_t]
    return grads, dh0, dc0, dh_enc


def seq2seq_forward(params, src, src_lengths, tgt_in, attention=None):
    """Encode the source, decode with teacher forcing, score every next target token.

    src (N, S), src_lengths (N,); tgt_in (N, T): <bos> + target, padded; attention: one of ATTENTIONS.
    Returns scores (N, T, V_tgt), weights (N, T, S) (None without attention) and a cache for seq2seq_backward.
    """
    _check_params(params, attention)
    tgt_in = np.asarray(tgt_in)
    if tgt_in.ndim != 2 or tgt_in.shape[0] != np.shape(src)[0]:
        raise ValueError(f"tgt_in must have shape (N, T) with N = {np.shape(src)[0]} from src; got {tgt_in.shape}")
    h_enc, h_last, c_last, enc_cache = encoder_forward(params, src, src_lengths)
    scores, weights, dec_cache = decoder_forward(params, tgt_in, h_last, c_last, h_enc, enc_cache["mask"], attention)
    return scores, weights, {"enc": enc_cache, "dec": dec_cache, "attention": attention}


def seq2seq_backward(dscores, cache):
    """Gradients of seq2seq_forward.

    dscores (N, T, V_tgt): upstream gradient of the scores.
    Returns grads: a dict with the keys of params (in the same order).
    """
    grads, dh0, dc0, dh_enc = decoder_backward(dscores, cache["dec"])
    grads.update(encoder_backward(dh_enc, dh0, dc0, cache["enc"]))   # the decoder starts from (h_last, c_last)
    names = PARAM_NAMES + ATTENTION_PARAMS.get(cache["attention"], ())
    return {k: grads[k] for k in names}


def seq2seq_loss(params, src, src_lengths, tgt_in, tgt_out, tgt_lengths, attention=None):
    """Mean cross-entropy of the next target token over the real target steps, and its gradients.

    src (N, S), src_lengths (N,); tgt_in, tgt_out (N, T): <bos> + target and target + <eos>, padded;
    tgt_lengths (N,): real lengths of tgt_out (with the <eos>). Returns (loss, grads): grads has the keys of params.
    """
    tgt_out = np.asarray(tgt_out)
    if tgt_out.shape != np.shape(tgt_in):
        raise ValueError(f"tgt_out must have the shape of tgt_in {np.shape(tgt_in)}; got {tgt_out.shape}")
    scores, _, cache = seq2seq_forward(params, src, src_lengths, tgt_in, attention)
    _check_tokens("tgt_out", tgt_out, scores.shape[2])
    loss, dscores = temporal_softmax_loss(scores, tgt_out, lengths=tgt_lengths)
    return loss, seq2seq_backward(dscores, cache)


def encode(params, src, src_lengths):
    """The encoder's forward pass alone, for decoding.

    src (N, S), src_lengths (N,). Returns h_enc (N, S, H), h_last (N, H), c_last (N, H).
    """
    h_enc, h_last, c_last, _ = encoder_forward(params, src, src_lengths)
    return h_enc, h_last, c_last


def decoder_step_forward(params, y_prev, d, k, h_enc, src_mask, attention=None):
    """One decoding step, without a cache (for inference).

    y_prev (N,): the previous token ids; d, k (N, H): the decoder's state d_{t-1} and cell k_{t-1};
    h_enc (N, S, H): encoder states; src_mask (N, S) bool.
    Returns scores (N, V_tgt), the next d, k (N, H), weights (N, S) (None without attention).
    """
    _, V_tgt, _, _ = _check_params(params, attention)
    y_prev = _check_tokens("y_prev", y_prev, V_tgt, ndim=1)
    y, _ = embedding_forward(y_prev[:, None], params["tgt_embed"])           # (N, 1, D)
    d, k, _ = lstm_step_forward(y[:, 0], d, k, params["dec_Wx"], params["dec_Wh"], params["dec_b"])
    weights, features = None, d
    if attention is not None:
        context, weights, _ = _attention_forward(params, d, h_enc, src_mask, attention)
        features = np.concatenate([d, context], axis=1)  # [d_t, context_t]
    return features @ params["W_out"] + params["b_out"], d, k, weights


def teacher_forcing_shift(tgt, tgt_lengths, bos, eos):
    """The decoder's input and target for teacher forcing, and the mask of the steps that count.

    tgt (N, T): target token ids, right-padded with <pad> = 0; tgt_lengths (N,): real lengths in [0, T];
    bos, eos: the ids of <bos> and <eos>.
    Returns tgt_in, tgt_out (N, T + 1) int and mask (N, T + 1) bool:
    tgt_in = <bos> + target (what the decoder reads), tgt_out = target + <eos> (what it must predict at
    the same step), both padded with <pad>; mask is True at the tgt_lengths[n] + 1 real steps of row n.
    """
    tgt = np.asarray(tgt)
    if not np.issubdtype(tgt.dtype, np.integer) or tgt.ndim != 2:
        raise ValueError(f"tgt must be an (N, T) array of integer token ids, got dtype {tgt.dtype}, shape {tgt.shape}")
    N, T = tgt.shape
    lengths = np.asarray(tgt_lengths)
    if not np.issubdtype(lengths.dtype, np.integer) or lengths.shape != (N,):
        raise ValueError(f"tgt_lengths must be N = {N} integers (one per row of tgt), got {lengths!r}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"tgt_lengths must lie in [0, {T}] (the columns of tgt); got {lengths.tolist()}")
    for name, token in (("bos", bos), ("eos", eos)):
        if not (isinstance(token, (int, np.integer)) and token != PAD):
            raise ValueError(f"{name} must be an integer token id other than <pad> = {PAD}, got {token!r}")
    mask = np.arange(T + 1) < lengths[:, None] + 1          # the real targets and the <eos> after them
    real = np.arange(T) < lengths[:, None]                  # (N, T): the real targets
    tokens = np.where(real, tgt, PAD)
    tgt_in = np.concatenate([np.full((N, 1), bos, dtype=tokens.dtype), tokens], axis=1)    # <bos> + target
    tgt_out = np.concatenate([tokens, np.full((N, 1), PAD, dtype=tokens.dtype)], axis=1)
    tgt_out[np.arange(N), lengths] = eos                    # target + <eos>
    return tgt_in, tgt_out, mask


def _check_decoding(params, src, src_lengths, bos, eos, max_len, attention):
    """Check the arguments shared by greedy_decode and beam_search; return src_mask (N, S)."""
    V_tgt = _check_params(params, attention)[1]
    for name, token in (("bos", bos), ("eos", eos)):
        if not (isinstance(token, (int, np.integer)) and 0 <= token < V_tgt):
            raise ValueError(f"{name} must be a token id in [0, {V_tgt}), got {token!r}")
    if not (isinstance(max_len, (int, np.integer)) and max_len >= 1):
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    src = _check_tokens("src", src, params["src_embed"].shape[0])
    return lengths_to_mask(check_lengths("src_lengths", src_lengths, *src.shape), src.shape[1])


def greedy_decode(params, src, src_lengths, bos, eos, max_len, attention=None):
    """Translate by taking the most likely token at every step and feeding it back.

    src (N, S), src_lengths (N,); bos, eos: the ids of <bos> and <eos>; max_len: steps to run.
    Returns tokens (N, max_len) int (after a sequence emits eos, its later tokens are eos) and
    weights (N, max_len, S): the attention of every step (None without attention).
    """
    src_mask = _check_decoding(params, src, src_lengths, bos, eos, max_len, attention)
    h_enc, d, k = encode(params, src, src_lengths)
    N, S = src_mask.shape
    tokens = np.empty((N, max_len), dtype=np.int64)
    weights = None if attention is None else np.empty((N, max_len, S), dtype=h_enc.dtype)
    y = np.full(N, bos, dtype=np.int64)
    done = np.zeros(N, dtype=bool)
    for t in range(max_len):
        scores, d, k, w = decoder_step_forward(params, y, d, k, h_enc, src_mask, attention)
        y = np.where(done, eos, scores.argmax(axis=1))     # the most likely token; eos again once finished
        tokens[:, t] = y
        if weights is not None:
            weights[:, t] = w
        done |= y == eos
    return tokens, weights


def log_softmax(scores):
    """log softmax(scores) along the last axis, without overflow: s - m - log sum exp(s - m), m the maximum."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def beam_decode(step, state, bos, eos, max_len, beam_width=4, alpha=0.0):
    """Beam search for one sequence, for any model given as a step function.

    step(y_prev, state) -> (log_probs, new_state): y_prev (B,) the last token of each of B live hypotheses,
    state a tuple of arrays whose first axis has B rows (row b: hypothesis b); log_probs (B, V) the
    log-probabilities of the next token, new_state the state after reading y_prev.
    state: the initial state, arrays with one row; bos, eos: token ids; max_len: the longest output;
    beam_width: hypotheses kept per step; alpha >= 0: length normalisation.
    Each step extends every live hypothesis by every token and keeps the beam_width extensions with the
    largest sums of log-probabilities (ties: the lower b * V + v); a kept extension that ends in eos is
    finished and leaves the beam, the others are the live hypotheses of the next step (their state: row b
    of new_state). After max_len steps the live hypotheses are finished as they are.
    Returns (tokens, score) of the finished hypothesis with the largest score = log p / len(tokens) ** alpha
    (the first of equals): tokens a list of ints without bos. beam_width=1 is greedy decoding.
    """
    if not (isinstance(beam_width, (int, np.integer)) and beam_width >= 1):
        raise ValueError(f"beam_width must be a positive integer, got {beam_width!r}")
    if not (isinstance(max_len, (int, np.integer)) and max_len >= 1):
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0 (0: no length normalisation), got {alpha}")

    def score(tokens, logp):
        return float(logp) / len(tokens) ** alpha

    beams, logp, y = [[]], np.zeros(1), np.array([bos])    # the live hypotheses and their log-probabilities
    finished = []
    for _ in range(max_len):
        log_probs, state = step(y, state)
        total = logp[:, None] + log_probs                  # (B, V): log p(hypothesis b, then token v)
        best = np.argsort(-total, axis=None, kind="stable")[:beam_width]   # the best extensions of all beams
        rows, tokens = np.unravel_index(best, total.shape)
        for b, v in zip(rows, tokens):
            if v == eos:                                   # a finished hypothesis leaves the beam
                hypothesis = beams[b] + [int(eos)]
                finished.append((hypothesis, score(hypothesis, total[b, v])))
        keep = tokens != eos
        rows, y = rows[keep], tokens[keep]
        if len(rows) == 0:                                 # every kept extension ended in eos
            break
        beams = [beams[b] + [int(v)] for b, v in zip(rows, y)]
        logp, state = total[rows, y], tuple(a[rows] for a in state)
    else:
        finished += [(tokens, score(tokens, lp)) for tokens, lp in zip(beams, logp)]   # max_len ran out
    return max(finished, key=lambda pair: pair[1])


def beam_search(params, src, src_lengths, bos, eos, max_len, beam_width=4, alpha=0.0, attention=None):
    """Translate by keeping the beam_width most likely partial translations at every step (beam_decode).

    src (N, S), src_lengths (N,); bos, eos: the ids of <bos> and <eos>; max_len: the longest translation;
    beam_width: hypotheses kept per step; alpha >= 0: length normalisation (GNMT style).
    Each step extends every live hypothesis by every token and keeps the beam_width best extensions
    (by their sum of log-probabilities); an extension ending in eos is finished and leaves the beam.
    Returns a list of N pairs (tokens, score): tokens a list of ints without bos, ending in eos unless
    max_len ran out; score = sum of log-probabilities / len(tokens) ** alpha, the best among the finished.
    beam_width=1 gives greedy_decode's tokens.
    """
    src_mask = _check_decoding(params, src, src_lengths, bos, eos, max_len, attention)
    if not (isinstance(beam_width, (int, np.integer)) and beam_width >= 1):
        raise ValueError(f"beam_width must be a positive integer, got {beam_width!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0 (0: no length normalisation), got {alpha}")
    h_enc, d_last, k_last = encode(params, src, src_lengths)
    results = []
    for n in range(len(h_enc)):
        def step(y, state, n=n):
            B = len(y)                                     # every live hypothesis reads the same source
            scores, d, k, _ = decoder_step_forward(params, y, *state, np.repeat(h_enc[n:n + 1], B, axis=0),
                                                   np.repeat(src_mask[n:n + 1], B, axis=0), attention)
            return log_softmax(scores), (d, k)
        results.append(beam_decode(step, (d_last[n:n + 1], k_last[n:n + 1]), bos, eos, max_len, beam_width, alpha))
    return results


def train_seq2seq(params, data, steps, batch=64, lr=0.01, attention=None, rng=0, clip=5.0, progress=True):
    """Train with Adam on random minibatches, clipping the gradients by their global norm.

    params: from init_seq2seq (not changed: the trained weights are new arrays);
    data: (src, src_lengths, tgt_in, tgt_out, tgt_lengths), as encode_pairs returns them;
    steps: minibatches to train on; batch: pairs per minibatch (at most all of them, drawn without
    replacement, each cut to its longest source and target); lr: Adam's learning rate;
    rng: a numpy Generator or an integer seed; clip: the largest global gradient norm (None: no clipping);
    progress: show a tqdm bar (a string: the bar's label). Returns (params, losses): the trained params and the loss
    of every step.
    """
    _check_params(params, attention)
    if len(data) != 5:
        raise ValueError("data must be (src, src_lengths, tgt_in, tgt_out, tgt_lengths), as encode_pairs returns")
    src, src_lengths, tgt_in, tgt_out, tgt_lengths = (np.asarray(a) for a in data)
    N = len(src)
    if not all(len(a) == N for a in (src_lengths, tgt_in, tgt_out, tgt_lengths)):
        raise ValueError(f"every array of data must have N = {N} rows (from src); got "
                         f"{[len(a) for a in (src, src_lengths, tgt_in, tgt_out, tgt_lengths)]}")
    check_positive("batch", batch)
    rng = as_rng(rng)
    optimizer = Adam(lr=lr)
    state = optimizer.init(params)
    losses = []
    bar = progress_bar(steps, progress, "batch")
    for _ in range(steps):
        rows = rng.choice(N, size=min(batch, N), replace=False)
        S, T = src_lengths[rows].max(), tgt_lengths[rows].max()    # drop the columns that are padding only
        minibatch = (src[rows, :S], src_lengths[rows], tgt_in[rows, :T], tgt_out[rows, :T], tgt_lengths[rows])

        def grad_fn(p):
            loss, grads = seq2seq_loss(p, *minibatch, attention=attention)
            losses.append(loss)
            return clip_by_global_norm(grads, clip)[0] if clip else grads
        params, state = optimizer.step(params, grad_fn, state)
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"L = {losses[-1]:.3f}", refresh=False)
    if bar is not None:
        bar.close()
    return params, losses
