"""Finals that repeat or lose words across segments, on constructed streams."""

from __future__ import annotations

from rivaverify.asr.segments import lost, repeats

REF = "the cat sat on the mat and then it slept"


def test_clean_segments_pass():
    finals = ["The cat sat on the mat.", "", "And then it slept."]
    assert repeats(finals, REF) == []
    assert lost(finals, REF) == ""


def test_words_repeated_across_a_boundary_fail():
    problems = repeats(["the cat sat on the mat", "on the mat and then it slept"], REF)
    assert len(problems) == 1 and "'on the mat' ends a final" in problems[0]
    assert repeats(["the cat sat", "sat on the mat and then it slept"], REF) != []


def test_a_repeat_the_reference_has_passes():
    ref = "it was very very cold"
    assert repeats(["it was very", "very cold"], ref) == []
    assert repeats(["it was very", "very very cold"], ref) != []  # one more than the reference says


def test_one_word_per_boundary_is_allowed():
    assert lost(["the cat sat on the", "the mat and then it slept"], REF) == ""  # 1 added, 1 boundary
    assert lost(["the cat sat on", "mat and then it slept"], REF) == ""  # 1 lost, 1 boundary


def test_lost_words_fail():
    msg = lost(["the cat sat", "and then it slept"], REF)
    assert "3 words lost ['on', 'the', 'mat']" in msg and "1 allowed for 2 segments" in msg
    assert lost(["the cat sat on the mat and then"], REF) != ""  # one segment: nothing allowed
    assert lost(["the cat", "sat on the mat", "and then it slept slept"], REF) == ""  # 1 added, 2 allowed


def test_substitutions_are_not_lost_words():
    assert lost(["the hat sat on the mat and then it slipped"], REF) == ""


def test_empty_offline_or_stream():
    assert lost(["", ""], "") == ""
    assert "added ['hello']" in lost(["hello"], "")
    assert "10 words lost" in lost([""], REF)


def test_a_word_split_or_merged_is_not_lost():
    offline = "and you nearly inspect it every spring and they repair the stones"
    streamed = ["and you need to inspect it every spring and prepare the stones"]  # riva-lite, tts-19
    assert lost(streamed, offline) == ""
    assert lost(["and you need to to inspect it every spring and they repair the stones"], offline) != ""
    assert lost(["and you inspect it every spring and prepare the stones"], offline) != ""  # 'nearly' lost
