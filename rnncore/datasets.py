"""Synthetic sequence tasks that need no download.

Every generator takes an explicit numpy Generator (rng) and returns plain arrays; x is batch-first.

    counting_ones    binary inputs, target = number of ones (lecture 001: h_t = x_t + h_{t-1})
    adding_problem   two marked numbers in a long sequence, target = their sum (Hochreiter & Schmidhuber 1997)
    precedence_task  variable-length token sequences, label = does token A come before token B?
                     (order matters, so a bag of words cannot solve it; a BiRNN with pooling can)

and one bundled Russian text for the char-level language model:

    load_onegin      A. S. Pushkin, «Евгений Онегин» (public domain), cleaned for character modelling
"""
import re
from importlib import resources

import numpy as np

from ._validate import check_positive

PAD, TOKEN_A, TOKEN_B = 0, 1, 2


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")


def counting_ones(N, T, rng):
    """x (N, T, 1) of zeros and ones; y (N,) the number of ones in each sequence."""
    _check_rng(rng)
    x = rng.integers(0, 2, size=(N, T, 1)).astype(np.float64)
    return x, x.sum(axis=(1, 2))


def adding_problem(N, T, rng):
    """The adding problem.

    x (N, T, 2): channel 0 holds uniform numbers in [0, 1); channel 1 marks exactly two steps,
    one in the first half and one in the second half. y (N,): the sum of the two marked numbers.
    Predicting the mean (1.0) gives MSE 1/6 ~ 0.167: the baseline to beat.
    """
    _check_rng(rng)
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2, got {T}")
    x = np.zeros((N, T, 2))
    x[:, :, 0] = rng.random((N, T))
    first = rng.integers(0, T // 2, size=N)
    second = rng.integers(T // 2, T, size=N)
    rows = np.arange(N)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = x[rows, first, 0] + x[rows, second, 0]
    return x, y


def precedence_task(N, rng, V=8, min_len=5, max_len=20):
    """Does token A (id 1) occur before token B (id 2)?

    Each sequence has a random length in [min_len, max_len], contains A and B exactly once each at
    random positions, and other tokens drawn from 3..V-1; 0 is padding.
    Returns ids (N, max_len) int, lengths (N,) int, labels (N,) int (1 if A comes first), balanced.
    """
    _check_rng(rng)
    check_positive("N", N)
    if V < 4:
        raise ValueError(f"V must be at least 4 (padding, A, B and one filler token), got {V}")
    if not 2 <= min_len <= max_len:
        raise ValueError(f"need 2 <= min_len <= max_len, got {min_len} and {max_len}")
    lengths = rng.integers(min_len, max_len + 1, size=N)
    ids = np.full((N, max_len), PAD, dtype=np.int64)
    labels = rng.integers(0, 2, size=N)
    for n in range(N):
        L = lengths[n]
        ids[n, :L] = rng.integers(3, V, size=L)
        first, second = np.sort(rng.choice(L, size=2, replace=False))
        ids[n, first], ids[n, second] = (TOKEN_A, TOKEN_B) if labels[n] else (TOKEN_B, TOKEN_A)
    return ids, lengths, labels


def lengths_to_mask(lengths, T):
    """Boolean mask (N, T): True at the first lengths[n] steps of row n."""
    lengths = np.asarray(lengths)
    return np.arange(T) < lengths[:, None]


_STANZA_NUMBER = re.compile(r"^[IVXLC]+(\. [IVXLC]+)*\.?$", re.MULTILINE)   # "XXXVI" or "XXXVI. XXXVII"
_EDITOR_NOTE = re.compile(r"\[\d+ - [^\]]*\]")                               # "[77 - Е sempre bene – и отлично (ит.).]"
_NOTE_MARK = re.compile(r"(?<=\w)\d+\)")                                      # "Дидло5)" -> "Дидло"


def clean_onegin(raw):
    """Clean the text of «Евгений Онегин» as shipped in rnncore/data/onegin.txt.

    Removed: the Roman stanza numbers on their own lines; the tabs that indent every verse line;
    the editor's footnotes in square brackets (translations of foreign phrases) and footnote marks
    such as "5)"; two stray encoding characters ("€", "^" left from lost accents, as in "te^te").
    Kept: every verse line, chapter titles and headings, punctuation, case, the foreign epigraphs.
    Stanzas are separated by exactly one empty line; lines end with "\n".
    """
    text = _EDITOR_NOTE.sub("", raw)
    text = _NOTE_MARK.sub("", text)
    text = text.replace("€", "").replace("^", "")
    text = _STANZA_NUMBER.sub("", text)
    lines = [line.strip(" \t") for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))               # one empty line between stanzas
    return text.strip("\n") + "\n"


def load_onegin(lowercase=False, max_chars=None):
    """A. S. Pushkin, «Евгений Онегин» (1825–1833), the whole novel in verse, cleaned by clean_onegin.

    lowercase=True also lower-cases it (a smaller vocabulary for a small model).
    Returns a str of about 138 thousand characters (the first max_chars if given).
    """
    raw = resources.files("rnncore").joinpath("data/onegin.txt").read_text(encoding="utf-8")
    text = clean_onegin(raw)
    if lowercase:
        text = text.lower()
    return text if max_chars is None else text[:max_chars]
