"""Turning text into numbers: vocabulary, one-hot vectors, bag of words, and a bundled corpus.

A Vocabulary numbers its tokens in the order they first appear, so the slides' training texts
"the red dog", "cat eats dog", "dog eats food", "red cat eats" give the slide's columns
the, red, dog, cat, eats, food; the characters of "hello" give [h, e, l, o].
Tokens are words (for bag of words) or characters (for the char-level model).
"""
from dataclasses import dataclass, field
from importlib import resources

import numpy as np


def tokenize(text):
    """Split text into lower-case words on white space (the slides' tokenization)."""
    return text.lower().split()


@dataclass(frozen=True)
class Vocabulary:
    """An ordered set of tokens with their indices: tokens[i] has index i."""
    tokens: tuple
    index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        tokens = tuple(self.tokens)
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "index", {tok: i for i, tok in enumerate(tokens)})

    @classmethod
    def from_sequences(cls, sequences):
        """Build from token sequences (lists of words, or strings for characters), first appearance first."""
        seen = {}
        for seq in sequences:
            for tok in seq:
                seen.setdefault(tok, len(seen))
        return cls(tuple(seen))

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self.index

    def encode(self, tokens):
        """Indices of the tokens, shape (len(tokens),); an unknown token is an error."""
        unknown = [tok for tok in tokens if tok not in self.index]
        if unknown:
            raise ValueError(f"tokens not in the vocabulary: {sorted(set(map(repr, unknown)))[:10]}")
        return np.array([self.index[tok] for tok in tokens], dtype=np.int64)

    def decode(self, ids, sep=""):
        """The tokens of the indices, joined by sep ("" for characters, " " for words)."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"indices must lie in [0, {len(self)}), got {ids.min()} to {ids.max()}")
        return sep.join(self.tokens[i] for i in ids.ravel())


def one_hot(ids, V, dtype=np.float64):
    """One-hot vectors: ids (...) integers in [0, V) -> array (..., V) with a single 1 per vector."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"ids must lie in [0, {V}), got values from {ids.min()} to {ids.max()}")
    return np.eye(V, dtype=dtype)[ids]


def bag_of_words(text, vocab):
    """Word counts of text over vocab (the sum of the one-hot vectors), shape (len(vocab),).

    Words outside the vocabulary are skipped, as "and" is on the slide.
    """
    words = [w for w in tokenize(text) if w in vocab]
    counts = np.zeros(len(vocab), dtype=np.int64)
    np.add.at(counts, vocab.encode(words), 1)
    return counts


def load_corpus(max_chars=None):
    """English text bundled with rnncore: the Python language reference topics (pydoc_data.topics).

    A snapshot ships with the package so that every machine and Python version trains on the same text.
    """
    text = resources.files("rnncore").joinpath("data/pydoc_topics.txt").read_text(encoding="utf-8")
    return text if max_chars is None else text[:max_chars]


def pad_sequences(seqs, pad_id=0):
    """Stack sequences of token ids of different lengths into one right-padded array.

    seqs: N sequences of ints (lists or 1-d arrays), each non-empty; pad_id: the id written after each end.
    Returns ids (N, T) int64 with T the longest length, and lengths (N,) int64.
    """
    seqs = [np.asarray(s) for s in seqs]
    if not seqs:
        raise ValueError("pad_sequences needs at least one sequence")
    bad = [n for n, s in enumerate(seqs) if s.ndim != 1 or s.size == 0 or not np.issubdtype(s.dtype, np.integer)]
    if bad:
        raise ValueError(f"every sequence must be a non-empty 1-d sequence of integer ids; rows {bad[:10]} are not")
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    ids = np.full((len(seqs), lengths.max()), pad_id, dtype=np.int64)
    for n, s in enumerate(seqs):
        ids[n, :len(s)] = s
    return ids, lengths
