"""Finals that repeat words or lose audio across segments, on constructed streams; and the healthy streams a real
Riva gives, which must pass (its streaming model's own misses are the streaming WER's to judge)."""

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


def test_a_phrase_said_twice_inside_a_final_fails():
    [problem] = repeats(["the cat sat on the mat on the mat and then it slept"], REF)
    assert "'on the mat' said 2 times in a row inside one final" in problem
    assert repeats(["the cat sat on the mat and then it slept slept"], REF) == []  # one word twice: a stutter


def test_a_repeat_the_reference_has_passes():
    ref = "it was very very cold"
    assert repeats(["it was very", "very cold"], ref) == []
    assert repeats(["it was very", "very very cold"], ref) != []  # one more than the reference says
    assert repeats(["he said go home go home now"], "he said go home go home now") == []


def test_one_word_per_boundary_is_allowed():
    assert lost(["the cat sat on the", "the mat and then it slept"], REF) == ""  # 1 added at the boundary
    assert lost(["the cat sat on", "mat and then it slept"], REF) == ""  # 1 lost at the boundary


def test_audio_lost_at_a_boundary_fails():
    msg = lost(["the cat sat", "and then it slept"], REF)
    assert "between finals 1 and 2 ('the cat sat' | 'and then it')" in msg
    assert "3 words lost ['on', 'the', 'mat']" in msg and "1 allowed per boundary" in msg
    assert "2 words lost ['on', 'the']" in lost(["the cat sat", "mat and then it slept"], REF)
    # the first word heard after the gap misheard too: still lost audio, not a misrecognition of the same span
    assert "3 words lost" in lost(["the cat sat", "hand then it slept"], REF)
    assert lost(["the cat", "sat on the mat", "and then it slept slept"], REF) == ""  # the stutter is no boundary


def test_words_added_at_a_boundary_fail():
    msg = lost(["the cat sat on the mat", "you know what and then it slept"], REF)
    assert "3 added ['you', 'know', 'what']" in msg


def test_finals_without_words_lose_everything():
    assert "10 words lost: the finals hold no word" in lost(["", ""], REF)
    assert lost(["", ""], "") == ""


def test_the_streaming_models_own_misses_pass():
    """What a healthy Riva's streaming pipeline does against its offline one (NVIDIA's own expectations for
    en-US_percent.wav: offline `hello 35 % of 40 equals 14`, streaming `35 % of 40 equals 14`)."""
    assert lost(["35 % of 40 equals 14"], "hello 35 % of 40 equals 14") == ""  # a word missed at the start
    assert lost(["the hat sat on the mat and then it slipped"], REF) == ""  # substitutions
    assert lost(["the cat sat on mat and then it slept"], REF) == ""  # a word dropped inside an utterance
    assert lost(["hello"], "") == ""  # the offline pipeline heard nothing; the WER bound judges


def test_a_word_split_or_merged_is_not_lost():
    offline = "and you nearly inspect it every spring and they repair the stones"
    streamed = ["and you need to inspect it every spring and prepare the stones"]  # riva-lite, tts-19
    assert lost(streamed, offline) == ""
    assert lost(["and you need to", "inspect it every spring", "and prepare the stones"], offline) == ""


def test_a_long_clip_heard_otherwise_at_a_boundary_passes():
    """NVIDIA's en-US_AntiBERTa_for_word_boosting_testing.wav (14.8 s, 48 kHz): riva-lite's offline pipeline
    heard `graph to one networks`, its streaming one `graphql networks`, and the endpointer ended an utterance
    in the pause after it (NVIDIA's timestamps leave 560 ms between `graph` and `networks`)."""
    offline = ("anti berta and ablooper both transformer based language models are examples of the emerging work in "
               "using graph to one networks to design protein sequences for particular target antigens")
    streamed = ["anti berta and ablooper both transformer based language models are examples of the emerging work "
                "in using graphql", "networks to design protein sequences for particular target antigens"]
    assert lost(streamed, offline) == ""
    cut = ["anti berta and ablooper both transformer based language models are examples of the emerging work",
           "networks to design protein sequences for particular target antigens"]
    assert "words lost ['in', 'using', 'graph', 'to', 'one']" in lost(cut, offline)
