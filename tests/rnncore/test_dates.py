"""Russian dates in words and their ISO form (rnncore.dates)."""
import datetime

import numpy as np
import pytest

import rnncore as rc
from rnncore.dates import date_words, ordinal_words

# Read aloud by hand: day in the neuter nominative, month in the genitive, year as a genitive ordinal.
KNOWN_DATES = [
    ("1900-01-01", "первое января тысяча девятисотого года"),
    ("1901-02-02", "второе февраля тысяча девятьсот первого года"),
    ("1910-03-03", "третье марта тысяча девятьсот десятого года"),
    ("1911-04-04", "четвёртое апреля тысяча девятьсот одиннадцатого года"),
    ("1920-05-11", "одиннадцатое мая тысяча девятьсот двадцатого года"),
    ("1940-06-20", "двадцатое июня тысяча девятьсот сорокового года"),
    ("1984-07-21", "двадцать первое июля тысяча девятьсот восемьдесят четвёртого года"),
    ("1990-08-23", "двадцать третье августа тысяча девятьсот девяностого года"),
    ("1999-12-31", "тридцать первое декабря тысяча девятьсот девяносто девятого года"),
    ("2000-02-29", "двадцать девятое февраля двухтысячного года"),
    ("2001-09-30", "тридцатое сентября две тысячи первого года"),
    ("2010-10-17", "семнадцатое октября две тысячи десятого года"),
    ("2020-11-12", "двенадцатое ноября две тысячи двадцатого года"),
    ("2024-03-12", "двенадцатое марта две тысячи двадцать четвёртого года"),
    ("2053-01-08", "восьмое января две тысячи пятьдесят третьего года"),
    ("2066-05-07", "седьмое мая две тысячи шестьдесят шестого года"),
    ("2078-06-15", "пятнадцатое июня две тысячи семьдесят восьмого года"),
    ("2099-12-19", "девятнадцатое декабря две тысячи девяносто девятого года"),
]

# Every ordinal word a date in 1900..2099 can end its day or year with, checked by hand.
DAY_ORDINALS = ["первое", "второе", "третье", "четвёртое", "пятое", "шестое", "седьмое", "восьмое", "девятое",
                "десятое", "одиннадцатое", "двенадцатое", "тринадцатое", "четырнадцатое", "пятнадцатое",
                "шестнадцатое", "семнадцатое", "восемнадцатое", "девятнадцатое", "двадцатое"]
YEAR_TENS = {1930: "тридцатого", 1950: "пятидесятого", 1960: "шестидесятого", 1970: "семидесятого",
             1980: "восьмидесятого", 1800: "восьмисотого", 1100: "сотого", 1200: "двухсотого",
             1300: "трёхсотого", 1400: "четырёхсотого", 1000: "тысячного", 3000: "трёхтысячного"}


@pytest.mark.parametrize("iso, words", KNOWN_DATES, ids=[iso for iso, _ in KNOWN_DATES])
def test_known_dates_are_read_aloud_correctly(iso, words):
    """Is each hand-checked date read as a Russian speaker says it?"""
    assert date_words(datetime.date.fromisoformat(iso)) == words


def test_days_are_neuter_ordinals():
    """Are the days 1..20, 30 and the compounds 21..31 the neuter nominative ordinals?"""
    assert [ordinal_words(d, "nom")[0] for d in range(1, 21)] == DAY_ORDINALS
    assert ordinal_words(30, "nom") == ["тридцатое"]
    assert [ordinal_words(d, "nom") for d in range(21, 32)] == \
        [["двадцать", w] for w in DAY_ORDINALS[:9]] + [["тридцатое"], ["тридцать", "первое"]]


@pytest.mark.parametrize("year, last", sorted(YEAR_TENS.items()))
def test_round_years_end_in_one_ordinal_word(year, last):
    """Does a round ten, hundred or thousand end in one genitive ordinal («сорокового», «девятисотого»)?"""
    assert ordinal_words(year, "gen")[-1] == last


def test_generated_targets_are_valid_dates_that_match_the_source(rng):
    """Is every target a real ISO date in the range, and does reading it aloud give the source?"""
    pairs = rc.russian_date_pairs(3000, rng)
    for source, target in pairs:
        date = datetime.date.fromisoformat(target)          # raises on 2023-02-29 and the like
        assert target == date.isoformat() and 1900 <= date.year <= 2099
        assert source == date_words(date)


def test_pairs_cover_the_calendar_and_are_deterministic():
    """Do leap days appear, only in leap years, and does one seed give one list of pairs?"""
    pairs = rc.russian_date_pairs(20000, np.random.default_rng(5), years=(1990, 2010))
    leap_days = [t for _, t in pairs if t[5:] == "02-29"]
    assert leap_days and all(int(t[:4]) % 4 == 0 for t in leap_days)
    assert {int(t[:4]) for _, t in pairs} == set(range(1990, 2011))
    assert rc.russian_date_pairs(50, np.random.default_rng(5)) == rc.russian_date_pairs(50, np.random.default_rng(5))
    assert rc.russian_date_pairs(50, np.random.default_rng(5)) != rc.russian_date_pairs(50, np.random.default_rng(6))


def test_vocabularies_cover_every_date_and_start_with_the_specials():
    """Do both vocabularies begin <pad>, <bos>, <eos> and hold every word and character of every date?"""
    src_vocab, tgt_vocab = rc.date_vocabularies()
    for vocab in (src_vocab, tgt_vocab):
        assert vocab.tokens[:3] == ("<pad>", "<bos>", "<eos>")
    assert set(tgt_vocab.tokens[3:]) == set("0123456789-")
    first, last = datetime.date(1900, 1, 1).toordinal(), datetime.date(2099, 12, 31).toordinal()
    words = {w for d in range(first, last + 1) for w in date_words(datetime.date.fromordinal(d)).split()}
    assert words == set(src_vocab.tokens[3:])              # every word, and no word that never occurs


def test_encode_pairs_pads_and_shifts_the_target():
    """Is tgt_in = <bos> + target and tgt_out = target + <eos>, right-padded with <pad>, with true lengths?"""
    src_vocab, tgt_vocab = rc.date_vocabularies()
    pairs = [("первое января двухтысячного года", "2000-01-01"),
             ("двадцать первое июля тысяча девятьсот восемьдесят четвёртого года", "1984-07-21")]
    src, src_lengths, tgt_in, tgt_out, tgt_lengths = rc.encode_pairs(pairs, src_vocab, tgt_vocab)
    assert src.shape == (2, 8) and tgt_in.shape == tgt_out.shape == (2, 11)
    np.testing.assert_array_equal(src_lengths, [4, 8])
    np.testing.assert_array_equal(tgt_lengths, [11, 11])
    assert np.all(src[0, 4:] == 0)
    assert src_vocab.decode(src[1], sep=" ") == pairs[1][0]
    assert tgt_in[0, 0] == 1 and tgt_vocab.decode(tgt_in[0, 1:]) == "2000-01-01"
    assert tgt_out[1, -1] == 2 and tgt_vocab.decode(tgt_out[1, :-1]) == "1984-07-21"


def test_pad_sequences_right_pads_with_the_given_id():
    """Does pad_sequences stack ragged sequences into (N, T) with pad_id after each end?"""
    ids, lengths = rc.pad_sequences([[5, 6], [7], [1, 2, 3]], pad_id=9)
    np.testing.assert_array_equal(ids, [[5, 6, 9], [7, 9, 9], [1, 2, 3]])
    np.testing.assert_array_equal(lengths, [2, 1, 3])


@pytest.mark.parametrize("call, message", [
    (lambda: rc.russian_date_pairs(3, 0), "numpy Generator"),
    (lambda: rc.russian_date_pairs(3, np.random.default_rng(0), years=(2000, 1999)), "first <= last"),
    (lambda: rc.russian_date_pairs(-1, np.random.default_rng(0)), "non-negative"),
    (lambda: rc.encode_pairs([("первое января года", "2000-01-01x")], *rc.date_vocabularies()), "not in the vocab"),
    (lambda: rc.encode_pairs([], *rc.date_vocabularies()), "empty"),
    (lambda: rc.encode_pairs([("a", "1")], rc.Vocabulary(("a",)), rc.date_vocabularies()[1]), "special tokens"),
    (lambda: rc.pad_sequences([[1], []]), r"rows \[1\]"),
])
def test_bad_input_is_refused_with_a_clear_message(call, message):
    """Do bad arguments give a ValueError that says what is wrong?"""
    with pytest.raises(ValueError, match=message):
        call()
