"""Russian dates in words and their ISO form: a small translation task for encoder-decoder models.

A source sentence reads a date aloud; the target is the same date as the machine writes it:

    «двенадцатое марта две тысячи двадцать четвёртого года»   ->   "2024-03-12"

The day is an ordinal in the neuter nominative (первое, ..., тридцать первое), the month is in the
genitive (января, ..., декабря), the year is an ordinal in the genitive followed by «года». In a
compound ordinal only the last word is ordinal, the others stay cardinal: 1984 «тысяча девятьсот
восемьдесят четвёртого», 1900 «тысяча девятисотого»; a round thousand is one word, 2000
«двухтысячного».

Sources are sequences of words, targets sequences of characters. Both vocabularies start with the
special tokens <pad> = 0, <bos> = 1 (begin of sequence), <eos> = 2 (end of sequence).
"""
import datetime

import numpy as np

from .text import Vocabulary, pad_sequences

SPECIALS = ("<pad>", "<bos>", "<eos>")
PAD, BOS, EOS = 0, 1, 2
DEFAULT_YEARS = (1900, 2099)

MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня",
          "июля", "августа", "сентября", "октября", "ноября", "декабря")

# Cardinal words (they stand before the last word of a compound ordinal), index = the digit.
_UNITS = ("", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_TEENS = ("десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
          "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать")
_TENS = ("", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят", "восемьдесят",
         "девяносто")
_HUNDREDS = ("", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот", "восемьсот",
             "девятьсот")
_THOUSANDS = ("", "тысяча", "две тысячи", "три тысячи", "четыре тысячи", "пять тысяч", "шесть тысяч",
              "семь тысяч", "восемь тысяч", "девять тысяч")

# Stems of the ordinals; the ending says the case: "ое" neuter nominative (the day), "ого" genitive (the year).
_UNIT_ORD = ("", "перв", "втор", "треть", "четвёрт", "пят", "шест", "седьм", "восьм", "девят")
_TEEN_ORD = ("десят", "одиннадцат", "двенадцат", "тринадцат", "четырнадцат", "пятнадцат",
             "шестнадцат", "семнадцат", "восемнадцат", "девятнадцат")
_TENS_ORD = ("", "", "двадцат", "тридцат", "сороков", "пятидесят", "шестидесят", "семидесят", "восьмидесят",
             "девяност")
_HUNDREDS_ORD = ("", "сот", "двухсот", "трёхсот", "четырёхсот", "пятисот", "шестисот", "семисот", "восьмисот",
                 "девятисот")
_THOUSANDS_ORD = ("", "тысячн", "двухтысячн", "трёхтысячн", "четырёхтысячн", "пятитысячн", "шеститысячн",
                  "семитысячн", "восьмитысячн", "девятитысячн")


def _ending(stem, case):
    """Attach the ending of `case` ("nom" neuter nominative, "gen" genitive) to an ordinal stem.

    третий declines softly: третье, третьего (the stem "треть" already holds the soft sign).
    """
    if stem.endswith("ь"):
        return stem + ("е" if case == "nom" else "его")
    return stem + ("ое" if case == "nom" else "ого")


def ordinal_words(number, case):
    """The ordinal of 1 <= number <= 9999 as a list of words; only the last word is an ordinal.

    case: "nom" (neuter nominative: «двадцать первое») or "gen" (genitive: «двадцать первого»).
    """
    if not 1 <= number <= 9999:
        raise ValueError(f"ordinal_words handles numbers from 1 to 9999, got {number}")
    if case not in ("nom", "gen"):
        raise ValueError(f"case must be 'nom' or 'gen', got {case!r}")
    thousands, hundreds, tens, units = number // 1000, number // 100 % 10, number // 10 % 10, number % 10
    words = []
    if hundreds == tens == units == 0:                     # a round thousand: one word, «двухтысячного»
        return [_ending(_THOUSANDS_ORD[thousands], case)]
    if thousands:
        words += _THOUSANDS[thousands].split()
    if tens == units == 0:                                 # a round hundred ends the number: «девятисотого»
        return words + [_ending(_HUNDREDS_ORD[hundreds], case)]
    if hundreds:
        words.append(_HUNDREDS[hundreds])
    if tens == 1:                                          # 10..19: one word, «одиннадцатого»
        return words + [_ending(_TEEN_ORD[units], case)]
    if units == 0:                                         # a round ten ends the number: «сорокового»
        return words + [_ending(_TENS_ORD[tens], case)]
    if tens:
        words.append(_TENS[tens])
    return words + [_ending(_UNIT_ORD[units], case)]


def date_words(date):
    """A datetime.date read aloud in Russian: «первое января тысяча девятисотого года»."""
    return " ".join(ordinal_words(date.day, "nom") + [MONTHS[date.month - 1]] + ordinal_words(date.year, "gen")
                    + ["года"])


def _check_years(years):
    if len(years) != 2:
        raise ValueError(f"years must be a pair (first, last), got {years!r}")
    first, last = years
    if not (isinstance(first, (int, np.integer)) and isinstance(last, (int, np.integer))):
        raise ValueError(f"years must be a pair of integers (first, last), got {years!r}")
    if not 1000 <= first <= last <= 9999:
        raise ValueError(f"years must satisfy 1000 <= first <= last <= 9999 (four-digit ISO years), got {years!r}")
    return int(first), int(last)


def russian_date_pairs(n, rng, years=DEFAULT_YEARS):
    """n random dates read aloud in Russian, with their ISO form: a list of n (source, target) pairs.

    For example («двенадцатое марта две тысячи двадцать четвёртого года», "2024-03-12").

    Every calendar day from 1 January of years[0] to 31 December of years[1] is equally likely
    (the Gregorian calendar: 29 February only in leap years). rng: a numpy Generator; the same seed gives
    the same pairs.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    first, last = _check_years(years)
    start = datetime.date(first, 1, 1).toordinal()
    stop = datetime.date(last, 12, 31).toordinal()
    days = rng.integers(start, stop + 1, size=n)          # day numbers since 1 January of year 1
    dates = [datetime.date.fromordinal(int(d)) for d in days]
    return [(date_words(d), d.isoformat()) for d in dates]


def date_vocabularies(years=DEFAULT_YEARS):
    """The vocabularies of russian_date_pairs: (src_vocab, tgt_vocab), rnncore.text.Vocabulary objects.

    src_vocab: <pad>, <bos>, <eos>, then every word of the days, the months and the years in `years`
    (the same range as russian_date_pairs; 78 tokens for the default 1900..2099).
    tgt_vocab: <pad>, <bos>, <eos>, the digits 0..9 and "-" (14 tokens).
    """
    first, last = _check_years(years)
    days = [ordinal_words(d, "nom") for d in range(1, 32)]
    year_words = [ordinal_words(y, "gen") + ["года"] for y in range(first, last + 1)]
    src_vocab = Vocabulary.from_sequences([SPECIALS, *days, MONTHS, *year_words])
    tgt_vocab = Vocabulary(SPECIALS + tuple("0123456789-"))
    return src_vocab, tgt_vocab


def _special_ids(vocab, name):
    missing = [tok for tok in SPECIALS if tok not in vocab]
    if missing:
        raise ValueError(f"{name} lacks the special tokens {missing}; date_vocabularies() makes vocabularies with them")
    return vocab.index["<pad>"], vocab.index["<bos>"], vocab.index["<eos>"]


def encode_pairs(pairs, src_vocab, tgt_vocab):
    """Turn (source, target) string pairs into padded arrays of token ids for an encoder-decoder.

    pairs: list of N (source, target); the source is split into words, the target into characters.
    Returns src (N, S) int, src_lengths (N,), tgt_in (N, T) int, tgt_out (N, T) int, tgt_lengths (N,):
    right-padded with <pad>; tgt_in = <bos> + target (what the decoder reads),
    tgt_out = target + <eos> (what it must predict), so T = the longest target + 1.
    """
    if len(pairs) == 0:
        raise ValueError("pairs is empty: encode at least one (source, target) pair")
    src_pad, _, _ = _special_ids(src_vocab, "src_vocab")
    tgt_pad, bos, eos = _special_ids(tgt_vocab, "tgt_vocab")
    src_ids = [src_vocab.encode(source.split()) for source, _ in pairs]
    tgt_ids = [tgt_vocab.encode(list(target)) for _, target in pairs]
    src, src_lengths = pad_sequences(src_ids, src_pad)
    tgt_in, tgt_lengths = pad_sequences([np.concatenate([[bos], ids]) for ids in tgt_ids], tgt_pad)
    tgt_out, _ = pad_sequences([np.concatenate([ids, [eos]]) for ids in tgt_ids], tgt_pad)
    return src, src_lengths, tgt_in, tgt_out, tgt_lengths
