"""riva-lite's results as Riva gives them: text forms (partial, final, verbatim, ITN), confidences, word times on
the 80 ms grid, n-best, channel_tag, word boosting. Pure functions first; one riva-lite Recognize at the end."""

from __future__ import annotations

from pathlib import Path

import pytest
from riva.client.proto import riva_asr_pb2 as rasr

from rivalite.itn import say, spoken, written
from rivalite.transcript import alternatives, decoder_options, offline_results, render

AUDIO = Path(__file__).resolve().parents[1] / "audio"

# NeMo's en ITN test cases (NVIDIA/NeMo-text-processing tests/.../data_inverse_text_normalization/), one or more
# per grammar riva-lite imitates: spoken -> written.
NEMO_CASES = {
    "two hundred and fifty four": "254",
    "one thousand one": "1001",
    "eleven hundred": "1100",
    "twenty one hundred and eleven": "2111",
    "minus sixty": "-60",
    "zero": "zero",
    "two dollars": "$2",
    "one cent": "$0.01",
    "eleven dollars and fifty one cents": "$11.51",
    "twenty nine dollars fifty cents": "$29.50",
    "fifty million dollars": "$50 million",
    "two point five billion dollars": "$2.5 billion",
    "fifteen thousand dollars": "$15000",
    "twenty first": "21st",
    "first": "1st",
    "eleventh": "11th",
    "one hundredth": "100th",
    "forty eighth": "48th",
    "two thirty": "02:30",
    "two p m": "02:00 p.m.",
    "three o'clock": "03:00",
    "eight o six": "08:06",
    "eleven forty five a m": "11:45 a.m.",
    "eighteen point one four percent": "18.14 %",  # Riva's sign is its own token (NeMo's grammar: 18.14%)
    "hello thirty five percent of forty equals fourteen": "hello 35 % of 40 equals 14",  # python-clients tests
    "zero point two six": "0.26",
    "point zero two": ".02",
    "five point two million": "5.2 million",
    "four hundred million": "400 million",
    "nineteen seventy six": "1976",
    "twenty twelve": "2012",
    "sixteen sixty five": "1665",
    ", one , two , three , four": ", one , two , three , four",  # below thirteen: not converted
    "twenty!": "20!",
}


@pytest.mark.parametrize("said", NEMO_CASES)
def test_written_form_follows_nemo_itn(said):
    assert written(said) == NEMO_CASES[said]


def test_written_form_in_sentences_keeps_the_other_words_and_punctuation():
    assert written("I have twenty three apples and nine pears.") == "I have 23 apples and nine pears."
    assert written("Meet me at nine thirty, then call Bob.") == "Meet me at 09:30, then call Bob."
    assert written("Twenty-three people paid five dollars each.") == "23 people paid $5 each."
    assert written("wait a second") == "wait a second"  # also the unit: left alone
    assert written("what is natural language processing") == "what is natural language processing"


@pytest.mark.parametrize("text,said", [
    ("$5", "five dollars"), ("$1.50", "one dollar fifty cents"), ("$2.5 million", "two point five million dollars"),
    ("9:30", "nine thirty"), ("9:00", "nine o'clock"), ("9:05 p.m.", "nine oh five p m"), ("at 9 a.m.", "at nine a m"),
    ("5%", "five percent"), ("21st", "twenty first"), ("3rd", "third"), ("1990", "nineteen ninety"),
    ("2005", "two thousand five"), ("1,234", "one thousand two hundred thirty four"), ("3.5", "three point five"),
    ("23 people came.", "twenty three people came."), ("It is 20.", "It is twenty."),
    ("7 Up", "Seven Up"), ("in 7 days", "in seven days"),
])
def test_spoken_form_of_whisper_digits(text, said):
    assert spoken(text) == said


def test_spoken_then_written_is_rivas_form_whatever_whisper_wrote():
    for whisper, riva in [("$5", "$5"), ("9:30", "09:30"), ("20 minutes", "20 minutes"), ("9 people", "nine people"),
                          ("nine people", "nine people"), ("1,000", "1000"), ("5%", "5 %"), ("21st", "21st"),
                          ("1990", "1990"), ("100 degrees", "100 degrees")]:
        assert written(spoken(whisper)) == riva, whisper
    assert [say(n) for n in (0, 13, 101, 1000, 1_000_001)] == [
        "zero", "thirteen", "one hundred one", "one thousand", "one million one"]


def _out(text="The train leaves every 20 minutes.", words=None, alts=()):
    words = words or [[" The", 0.31, 0.52, 0.9], [" train", 0.52, 0.81, 0.8], [" leaves", 0.81, 1.2, 0.95],
                      [" every", 1.2, 1.43, 0.7], [" 20", 1.43, 1.9, 0.6], [" minutes.", 1.9, 2.41, 0.0]]
    return {"segments": [{"text": " " + text, "start": 0.3, "end": 2.5, "avg_logprob": -0.2, "words": words}],
            "alternatives": [{"text": t, "score": -0.5} for t in alts], "duration": 2.6}


def test_partials_are_spoken_lowercase_bare_and_carry_no_confidence():
    (alt,) = alternatives(_out(), True, 0.0, "en-US", 1, False, True)
    assert alt.transcript == "the train leaves every twenty minutes"  # no trailing space, no punctuation
    assert alt.confidence == 0 and not alt.words


def test_finals_are_punctuated_when_asked_and_verbatim_or_itn():
    (alt,) = alternatives(_out(), True, 0.0, "en-US", 1, True, False)
    assert alt.transcript == "The train leaves every twenty minutes. "
    assert 0 < alt.confidence <= 1
    (alt,) = alternatives(_out(), True, 0.0, "en-US", 1, True, False, verbatim=False)
    assert alt.transcript == "The train leaves every 20 minutes. "
    (alt,) = alternatives(_out(), False, 0.0, "en-US", 1, True, False, verbatim=False)
    assert alt.transcript == "the train leaves every 20 minutes "
    assert render("It costs $5.", False, True) == "it costs five dollars"


def test_word_times_lie_on_the_80_ms_grid_in_order_with_confidences():
    (alt,) = alternatives(_out(), False, 1.0, "en-US", 1, True, True)
    words = alt.words
    assert [w.word for w in words] == "the train leaves every twenty minutes".split()
    assert all(w.start_time % 80 == 0 and w.end_time % 80 == 0 for w in words)
    assert all(w.start_time < w.end_time for w in words)
    assert all(a.end_time <= b.start_time for a, b in zip(words, words[1:], strict=False))
    assert words[0].start_time == 1280 and words[-1].end_time == 3440  # offset 1 s + Whisper's times, on the grid
    assert all(0 < w.confidence <= 1 for w in words)
    (alt,) = alternatives(_out("It costs $5.", [[" It", 0.0, 0.2, 0.9], [" costs", 0.2, 0.5, 0.9],
                                                [" $5.", 0.5, 1.0, 0.9]]), True, 0.0, "en-US", 1, True, True)
    assert [(w.word, w.start_time, w.end_time) for w in alt.words] == [
        ("It", 0, 240), ("costs", 240, 480), ("five", 480, 720), ("dollars.", 720, 1040)]


def test_max_alternatives_bounds_the_n_best_of_finals():
    out = _out(alts=("The train leaves every 20 minutes.", "The trains leave every 20 minutes.",
                     "A train leaves every 20 minutes.", "The train leaves every 12 minutes."))
    alts = alternatives(out, False, 0.0, "en-US", 3, True, False)
    assert [a.transcript for a in alts] == ["the train leaves every twenty minutes ",
                                            "the trains leave every twenty minutes ",
                                            "a train leaves every twenty minutes "]
    assert len(alternatives(out, False, 0.0, "en-US", 1, True, False)) == 1
    config = rasr.RecognitionConfig(max_alternatives=2, enable_word_time_offsets=True)
    (result,) = offline_results(out, config, "en-US")
    assert len(result.alternatives) == 2 and result.channel_tag == 1 and result.alternatives[0].words
    assert not result.alternatives[1].words  # word times only in the top hypothesis (riva_asr.proto)


def test_offline_results_follow_verbatim_transcripts():
    itn = offline_results(_out(), rasr.RecognitionConfig(), "en-US")  # the proto's default: ITN
    said = offline_results(_out(), rasr.RecognitionConfig(verbatim_transcripts=True), "en-US")
    assert itn[0].alternatives[0].transcript == "the train leaves every 20 minutes "
    assert said[0].alternatives[0].transcript == "the train leaves every twenty minutes "
    assert itn[0].channel_tag == said[0].channel_tag == 1


def test_decoder_options_pass_positively_boosted_phrases_strongest_first():
    config = rasr.RecognitionConfig(speech_contexts=[
        rasr.SpeechContext(phrases=["Kubeflow"], boost=4.0), rasr.SpeechContext(phrases=["Nemotron", " "], boost=20),
        rasr.SpeechContext(phrases=["badword"], boost=-50), rasr.SpeechContext(phrases=["unboosted"])])
    assert decoder_options(config)["hotwords"] == "Nemotron Kubeflow"
    assert decoder_options(rasr.RecognitionConfig())["hotwords"] == ""


# -- through a real riva-lite (NVIDIA's riva.client, as tests/test_rivalite_deployment.py) ------------------
def _config(**kw) -> rasr.RecognitionConfig:
    return rasr.RecognitionConfig(**{"language_code": "en-US", "max_alternatives": 1, **kw})


def _offline(asr, clip: str, config: rasr.RecognitionConfig | None = None, **kw) -> str:
    """Recognize of a file as transcribe_file_offline.py sends it: its encoding and rate from its header."""
    import riva.client

    config = config or _config(**kw)
    riva.client.add_audio_file_specs_to_config(config, AUDIO / clip)
    response = asr.offline_recognize((AUDIO / clip).read_bytes(), config)
    return "".join(r.alternatives[0].transcript for r in response.results)


@pytest.mark.slow
def test_a_boosted_rare_word_is_heard(asr):
    """Whisper tiny.en hears "an amateur on" for "Nemotron"; boosted (riva.client's add_word_boosting_to_config,
    its default score 4.0) it hears the word, and writes it as it was given, as Riva does (rivalite.boost)."""
    import riva.client

    plain = _offline(asr, "boost-01.wav")
    assert "nemotron" not in plain
    boosted = _config()
    riva.client.add_word_boosting_to_config(boosted, ["Nemotron"], 4.0)
    assert "ask Nemotron to summarize" in _offline(asr, "boost-01.wav", boosted)


@pytest.mark.slow
def test_verbatim_transcripts_choose_spoken_or_written_numbers(asr):
    said = _offline(asr, "tts-11.wav", verbatim_transcripts=True)  # Water boils at one hundred degrees ...
    itn = _offline(asr, "tts-11.wav")  # the proto's default: inverse text normalization
    assert "one hundred degrees" in said and "100 degrees" in itn, (said, itn)


@pytest.mark.slow
def test_streaming_partials_bare_finals_punctuated_with_words_on_the_grid(asr):
    import riva.client

    cfg = rasr.StreamingRecognitionConfig(
        config=_config(enable_automatic_punctuation=True, enable_word_time_offsets=True, max_alternatives=3),
        interim_results=True)
    riva.client.add_audio_file_specs_to_config(cfg, AUDIO / "tts-08.wav")
    # at real time, as transcribe_file.py sends a file: partials come while the audio does
    with riva.client.AudioChunkFileIterator(str(AUDIO / "tts-08.wav"), 1600, riva.client.sleep_audio_length) as chunks:
        results = [r for resp in asr.streaming_response_generator(audio_chunks=chunks, streaming_config=cfg)
                   for r in resp.results]
    partials, finals = [r for r in results if not r.is_final], [r for r in results if r.is_final]
    assert partials and finals and all(r.channel_tag == 1 for r in results)
    for r in partials:
        text = r.alternatives[0].transcript
        assert text == text.lower() and not any(c in text for c in ".,?!") and r.alternatives[0].confidence == 0
    for r in finals:
        assert 1 <= len(r.alternatives) <= 3 and 0 < r.alternatives[0].confidence <= 1
        assert r.alternatives[0].transcript[0].isupper() and r.alternatives[0].transcript.endswith(". ")
        words = r.alternatives[0].words
        assert words and all(w.start_time % 80 == 0 and w.end_time % 80 == 0 for w in words)
        assert all(a.end_time <= b.start_time for a, b in zip(words, words[1:], strict=False))
        assert all(0 < w.confidence <= 1 for w in words)


def test_boosted_phrases_are_written_as_given():
    """NVIDIA's python-clients integration test: `AntiBERTa and ABlooper both ...` with both words boosted,
    lowercase elsewhere; `AntiBERTa` one word in the word times."""
    from rivalite.boost import spans, spell

    boosted = ["AntiBERTa", "ABlooper"]
    assert spell("anti berta and abloope both transformer based", boosted) == "AntiBERTa and ABlooper both " \
        "transformer based"
    assert spell("Anti-berta, and ablooper.", boosted) == "AntiBERTa, and ABlooper."
    assert spell("please ask nemotron to summarize", ["Nemotron"]) == "please ask Nemotron to summarize"
    assert spell("the diva sang", ["Riva"]) == "the diva sang"  # not close enough
    assert spell("anti berta", []) == "anti berta"
    assert spans("in new york city".split(), ["New York"]) == [(1, 2, "New York")]
    (alt,) = alternatives(_out("Anti Berta and friends.", [[" Anti", 1.7, 2.1, 0.9], [" Berta", 2.1, 2.6, 0.8],
                                                           [" and", 2.6, 2.7, 0.9], [" friends.", 2.8, 3.2, 0.9]]),
                          False, 0.0, "en-US", 1, True, True, boosted=boosted)
    assert alt.transcript == "AntiBERTa and friends "
    assert [(w.word, w.start_time, w.end_time) for w in alt.words][0] == ("AntiBERTa", 1680, 2640)
    assert [w.word for w in alt.words] == ["AntiBERTa", "and", "friends"]
