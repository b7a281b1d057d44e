"""Text encoding, the bundled corpus, synthetic tasks and the char-level model."""
import numpy as np
import pytest

import rnncore as rc

SLIDE_TEXTS = ["the red dog", "cat eats dog", "dog eats food", "red cat eats"]


def test_vocabulary_orders_tokens_by_first_appearance():
    """Does the slide's vocabulary come out as the, red, dog, cat, eats, food, and hello as h, e, l, o?"""
    vocab = rc.Vocabulary.from_sequences(rc.tokenize(t) for t in SLIDE_TEXTS)
    assert vocab.tokens == ("the", "red", "dog", "cat", "eats", "food")
    assert rc.Vocabulary.from_sequences(["hello"]).tokens == ("h", "e", "l", "o")


def test_encode_decode_round_trip_and_unknown_tokens():
    """Do encode and decode invert each other, and is an unknown token an error?"""
    vocab = rc.Vocabulary.from_sequences(["hello"])
    ids = vocab.encode("hole")
    assert vocab.decode(ids) == "hole"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("help")
    with pytest.raises(ValueError, match="unique"):
        rc.Vocabulary(("a", "a"))


def test_one_hot_has_a_single_one_per_vector():
    """Is one_hot(ids, V) the identity rows, with bad ids refused?"""
    oh = rc.one_hot(np.array([[2, 0]]), 3)
    np.testing.assert_array_equal(oh, [[[0, 0, 1], [1, 0, 0]]])
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        rc.one_hot(np.array([3]), 3)


def test_bag_of_words_reproduces_the_slide_table():
    """Are the slide's BOW rows reproduced, skipping the out-of-vocabulary 'and'?"""
    vocab = rc.Vocabulary.from_sequences(rc.tokenize(t) for t in SLIDE_TEXTS)
    rows = [rc.bag_of_words(t, vocab) for t in SLIDE_TEXTS + ["red dog eats and red cat eats food"]]
    np.testing.assert_array_equal(rows, [[1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 0], [0, 0, 1, 0, 1, 1],
                                         [0, 1, 0, 1, 1, 0], [0, 2, 1, 1, 2, 1]])


def test_bundled_corpus_is_the_python_reference_text():
    """Is the corpus English text of useful size, the same on every machine?"""
    text = rc.load_corpus()
    assert len(text) > 400_000
    assert "assert" in text[:2000]
    assert rc.load_corpus(max_chars=100) == text[:100]


def test_synthetic_tasks_have_the_promised_structure():
    """Do the adding problem, counting ones and the precedence task produce consistent targets?"""
    rng = np.random.default_rng(0)
    x, y = rc.adding_problem(50, 20, rng)
    assert np.all(x[:, :, 1].sum(axis=1) == 2)
    np.testing.assert_allclose(y, (x[:, :, 0] * x[:, :, 1]).sum(axis=1))
    x, y = rc.counting_ones(10, 8, rng)
    np.testing.assert_array_equal(y, x[:, :, 0].sum(axis=1))
    ids, lengths, labels = rc.precedence_task(200, rng)
    mask = rc.lengths_to_mask(lengths, ids.shape[1])
    assert np.all(ids[~mask] == 0) and np.all(ids[mask] > 0)
    first_a = np.argmax(ids == 1, axis=1)
    first_b = np.argmax(ids == 2, axis=1)
    np.testing.assert_array_equal(labels, (first_a < first_b).astype(int))
    assert 0.35 < labels.mean() < 0.65


@pytest.mark.parametrize("cell", list(rc.RECURRENT_CELLS))
def test_char_model_gradients_match_numeric(cell, rng):
    """Are the char model's gradients of every parameter the finite-difference ones, for every cell?"""
    V, H = 5, 4
    params = rc.init_char_model(V, H, cell, rng=rng, scale=0.5)
    inputs, targets = rng.integers(0, V, size=(2, 6)), rng.integers(0, V, size=(2, 6))
    state = tuple(None if s is None else s + 0.5 for s in rc.zero_state(params, 2, cell))   # a carried state
    _, grads, _ = rc.char_model_loss(params, inputs, targets, state, cell)
    for name, p in params.items():
        def loss_of(v, name=name):
            return rc.char_model_loss({**params, name: v}, inputs, targets, state, cell)[0]
        assert rc.rel_error(rc.numeric_gradient(loss_of, p, 1.0), grads[name]) < 1e-7, name


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_char_model_learns_a_repeating_text(cell):
    """Does training drive the loss on 'hello world ' far below ln V and sample the text back?"""
    text = "hello world " * 60
    vocab = rc.Vocabulary.from_sequences([text])
    ids = vocab.encode(text)
    params, history = rc.train_char_model(ids, len(vocab), hidden=32, seq_len=12, batch=4, steps=300,
                                          cell=cell, seed=0, progress=False)
    assert history["loss"][0] == pytest.approx(np.log(len(vocab)), rel=0.01)      # small init: uniform guess
    assert np.mean(history["loss"][-10:]) < 0.1
    sample = vocab.decode(rc.sample_chars(params, vocab.encode("hello"), 24, rng=0, temperature=0.5, cell=cell))
    assert "world" in sample


def test_sampling_is_seeded_and_temperature_sharpens():
    """Does the same seed give the same text, and does low temperature concentrate on the likeliest char?"""
    params = rc.init_char_model(6, 8, "rnn", rng=1, scale=1.0)
    a = rc.sample_chars(params, np.array([0]), 50, rng=3, temperature=1.0)
    b = rc.sample_chars(params, np.array([0]), 50, rng=3, temperature=1.0)
    np.testing.assert_array_equal(a, b)
    cold = rc.sample_chars(params, np.array([0]), 200, rng=3, temperature=0.05)
    hot = rc.sample_chars(params, np.array([0]), 200, rng=3, temperature=5.0)
    assert len(set(cold.tolist())) < len(set(hot.tolist()))
    with pytest.raises(ValueError, match="temperature must be positive"):
        rc.sample_chars(params, np.array([0]), 5, temperature=0)


def test_char_model_state_carries_across_chunks(rng):
    """Is running two chunks with the carried state the same as running one long chunk?"""
    params = rc.init_char_model(5, 4, "lstm", rng=rng, scale=0.5)
    ids = rng.integers(0, 5, size=(2, 11))
    start = rc.zero_state(params, 2, "lstm")
    whole_loss, _, whole_state = rc.char_model_loss(params, ids[:, :10], ids[:, 1:], start, "lstm")
    l1, _, s1 = rc.char_model_loss(params, ids[:, :5], ids[:, 1:6], start, "lstm")
    l2, _, s2 = rc.char_model_loss(params, ids[:, 5:10], ids[:, 6:11], s1, "lstm")
    assert (l1 + l2) / 2 == pytest.approx(whole_loss, rel=1e-12)
    np.testing.assert_allclose(s2[0], whole_state[0], rtol=1e-12)
    np.testing.assert_allclose(s2[1], whole_state[1], rtol=1e-12)


def test_training_budget_stops_training():
    """Does a spent time budget stop training before the first step, and no budget run every step?"""
    ids = np.arange(600) % 5
    _, spent = rc.train_char_model(ids, 5, hidden=4, seq_len=5, batch=2, steps=7, progress=False, max_seconds=0)
    _, full = rc.train_char_model(ids, 5, hidden=4, seq_len=5, batch=2, steps=7, progress=False)
    assert spent["loss"] == [] and len(full["loss"]) == 7


def test_zero_state_comes_from_the_cell_not_from_weight_shapes():
    """Is (h, c) zero with c only for a named LSTM, and are params of another cell refused with a clear message?"""
    lstm = rc.init_char_model(5, 4, "lstm")
    h, c = rc.zero_state(lstm, 3, "lstm")
    assert h.shape == c.shape == (3, 4) and not h.any() and not c.any()
    assert rc.zero_state(rc.init_char_model(5, 4, "gru"), 3, "gru")[1] is None
    h, c = rc.zero_state(lstm, 3)                                 # no cell named: c = None, read as zeros
    assert h.shape == (3, 4) and c is None
    with pytest.raises(ValueError, match=r"cell 'rnn' with H = 4 needs \(H, H\) = \(4, 4\)"):
        rc.zero_state(lstm, 3, "rnn")                             # LSTM params, the wrong cell named
    with pytest.raises(ValueError, match="cell must be one of"):
        rc.init_char_model(5, 4, "transformer")


def test_char_model_backward_is_char_model_loss_split_in_two(rng):
    """Are char_model_forward + softmax_cross_entropy + char_model_backward exactly char_model_loss?"""
    params = rc.init_char_model(5, 4, "gru", rng=rng, scale=0.5)
    ids = rng.integers(0, 5, size=(2, 7))
    state = rc.zero_state(params, 2, "gru")
    loss, grads, next_state = rc.char_model_loss(params, ids[:, :-1], ids[:, 1:], state, "gru")
    scores, h, state2, cache = rc.char_model_forward(params, ids[:, :-1], state, "gru")
    loss2, dscores = rc.softmax_cross_entropy(scores, ids[:, 1:])
    grads2 = rc.char_model_backward(dscores, cache)
    assert loss2 == loss and sorted(grads2) == sorted(params)
    for k in params:
        np.testing.assert_array_equal(grads2[k], grads[k])
    np.testing.assert_array_equal(state2[0], h[:, -1])


def test_a_state_without_c_starts_the_lstm_from_a_zero_cell_state(rng):
    """Do char_model_loss and sample_chars read c = None as zeros for the LSTM (as zero_state(params, N) gives)?"""
    params = rc.init_char_model(5, 4, "lstm", rng=rng, scale=0.5)
    ids = rng.integers(0, 5, size=(2, 7))
    with_c = rc.char_model_loss(params, ids[:, :-1], ids[:, 1:], rc.zero_state(params, 2, "lstm"), "lstm")
    without_c = rc.char_model_loss(params, ids[:, :-1], ids[:, 1:], rc.zero_state(params, 2), "lstm")
    assert with_c[0] == without_c[0]
    np.testing.assert_array_equal(with_c[2][1], without_c[2][1])
    sample = rc.sample_chars(params, ids[0], 10, rng=0, cell="lstm", state=rc.zero_state(params, 1))
    np.testing.assert_array_equal(sample, rc.sample_chars(params, ids[0], 10, rng=0, cell="lstm"))
