"""Partial staleness (rivaverify.asr.staleness) on hand-made streams."""

from __future__ import annotations

from rivaverify.asr.client import Received
from rivaverify.asr.staleness import partial_lags

ENDS = [0.5, 1.0, 1.5, 2.0]  # "one two three four"


def partial(text: str, processed: float) -> Received:
    return Received(processed, False, text, 0.5, processed, 0)


def test_a_partial_with_every_word_heard_is_not_stale():
    assert partial_lags([partial("one two", 1.2)], ENDS) == [0.0]


def test_an_empty_or_short_partial_lags_by_the_words_it_misses():
    assert partial_lags([partial("", 1.2)], ENDS) == [1.2]
    assert partial_lags([partial("one", 1.8)], ENDS) == [1.3]


def test_finals_count_before_the_next_partial():
    final = Received(1.2, True, "One two. ", 0.0, 1.2, 0)
    assert partial_lags([final, partial("three", 1.8)], ENDS) == [0.0]
    assert partial_lags([final, partial("", 2.2)], ENDS) == [1.2]
