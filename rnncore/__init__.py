"""rnncore: reference implementations for the course on recurrent neural networks.

Plain numpy functions, batch-first float arrays, weights on the right (x @ Wx).
Sizes: N batch, T time, D input, H hidden, V vocabulary. Every layer has a pure *_forward that
returns its outputs and a cache, and a *_backward that takes the upstream gradients and that
cache and returns the gradients in the order of the forward's arguments. Arrays a forward
returns belong to the caller (changing them changes no cache), and a backward changes neither
its inputs nor the cache, so it can run twice on one cache.

The LSTM's cell state in and out: lstm_state_forward(x, h0, c0, Wx, Wh, b) -> (h, c_last, cache)
and lstm_state_backward(dh, dc_last, cache) -> (dx, dh0, dc0, dWx, dWh, db) (see lstm.py).
The cells are described once, in cells.py: get_cell("lstm") gives their functions, gate blocks
and whether they have a cell state.

Sequence to sequence (S source, T target steps, A attention size): embedding_forward (embedding.py),
temporal_softmax_loss over padded targets (losses.py), dot, scaled dot, general (multiplicative) and
additive attention over encoder states with a source mask (attention.py), an LSTM encoder-decoder with
optional attention, the teacher-forcing shift, its training loop, greedy decoding and beam search
(beam_decode: the search for any step function) (seq2seq.py), and a Russian dates-to-ISO task to train
it on (dates.py: russian_date_pairs, date_vocabularies, encode_pairs).
"""
from .activations import relu, relu_grad, sigmoid, sigmoid_grad, softmax, tanh, tanh_grad
from .attention import (additive_attention_backward, additive_attention_forward, dot_attention_backward,
                        dot_attention_forward, general_attention_backward, general_attention_forward,
                        scaled_dot_attention_backward, scaled_dot_attention_forward)
from .bidirectional import bidirectional_backward, bidirectional_forward, reverse_padded
from .bptt import chunk_slices, hidden_gradient_norms, truncated_bptt
from .cells import CELLS, RECURRENT_CELLS, Cell, get_cell
from .charmodel import (char_model_backward, char_model_forward, char_model_loss, init_char_model, sample_chars, text_streams,
                        train_char_model, zero_state)
from .clipping import clip_by_global_norm, clip_by_value, global_norm
from .dates import date_vocabularies, encode_pairs, russian_date_pairs
from .datasets import adding_problem, clean_onegin, counting_ones, lengths_to_mask, load_onegin, precedence_task
from .dense import dense_backward, dense_forward
from .embedding import embedding_backward, embedding_forward
from .gradcheck import check_gradients, numeric_gradient, rel_error
from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .losses import bce_loss, bce_with_logits_loss, mae_loss, mse_loss, softmax_cross_entropy, temporal_softmax_loss
from .lstm import (lstm_backward, lstm_forward, lstm_state_backward, lstm_state_forward, lstm_step_backward,
                   lstm_step_forward)
from .optim import OPTIMIZERS, SGD, Adagrad, Adam, Momentum, Nesterov, RMSprop, minimize
from .pooling import (attention_pool_backward, attention_pool_forward, last_pool_backward,
                      last_pool_forward, max_pool_backward, max_pool_forward, mean_pool_backward,
                      mean_pool_forward)
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from .seq2seq import (ATTENTIONS, beam_decode, beam_search, decoder_backward, decoder_forward, decoder_step_forward,
                      encode, encoder_backward, encoder_forward, greedy_decode, init_seq2seq, log_softmax,
                      seq2seq_backward, seq2seq_forward, seq2seq_loss, teacher_forcing_shift, train_seq2seq)
from .stacked import stacked_backward, stacked_forward
from .text import Vocabulary, bag_of_words, load_corpus, one_hot, pad_sequences, tokenize

__version__ = "0.1.0"

__all__ = [
    "Adagrad",
    "Adam",
    "adding_problem",
    "additive_attention_backward",
    "additive_attention_forward",
    "attention_pool_backward",
    "attention_pool_forward",
    "ATTENTIONS",
    "bag_of_words",
    "bce_loss",
    "bce_with_logits_loss",
    "beam_decode",
    "beam_search",
    "bidirectional_backward",
    "bidirectional_forward",
    "Cell",
    "CELLS",
    "char_model_backward",
    "char_model_forward",
    "char_model_loss",
    "check_gradients",
    "chunk_slices",
    "clean_onegin",
    "clip_by_global_norm",
    "clip_by_value",
    "counting_ones",
    "date_vocabularies",
    "decoder_backward",
    "decoder_forward",
    "decoder_step_forward",
    "dense_backward",
    "dense_forward",
    "dot_attention_backward",
    "dot_attention_forward",
    "embedding_backward",
    "embedding_forward",
    "encode",
    "encode_pairs",
    "encoder_backward",
    "encoder_forward",
    "general_attention_backward",
    "general_attention_forward",
    "get_cell",
    "global_norm",
    "greedy_decode",
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "hidden_gradient_norms",
    "init_char_model",
    "init_seq2seq",
    "last_pool_backward",
    "last_pool_forward",
    "lengths_to_mask",
    "load_corpus",
    "load_onegin",
    "log_softmax",
    "lstm_backward",
    "lstm_forward",
    "lstm_state_backward",
    "lstm_state_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "mae_loss",
    "max_pool_backward",
    "max_pool_forward",
    "mean_pool_backward",
    "mean_pool_forward",
    "minimize",
    "Momentum",
    "mse_loss",
    "Nesterov",
    "numeric_gradient",
    "one_hot",
    "OPTIMIZERS",
    "pad_sequences",
    "precedence_task",
    "RECURRENT_CELLS",
    "rel_error",
    "relu",
    "relu_grad",
    "reverse_padded",
    "RMSprop",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "russian_date_pairs",
    "sample_chars",
    "scaled_dot_attention_backward",
    "scaled_dot_attention_forward",
    "seq2seq_backward",
    "seq2seq_forward",
    "seq2seq_loss",
    "SGD",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_cross_entropy",
    "stacked_backward",
    "stacked_forward",
    "tanh",
    "tanh_grad",
    "teacher_forcing_shift",
    "temporal_softmax_loss",
    "text_streams",
    "tokenize",
    "train_char_model",
    "train_seq2seq",
    "truncated_bptt",
    "Vocabulary",
    "zero_state",
]
