"""NVIDIA's own expected outputs for its ASR scripts (python-clients tests/integration/asr), held against riva-lite.

tests/data/python-clients/ keeps NVIDIA's clips, expectations and word times with their source (expected.json).
Each option set is run the way NVIDIA's scripts run it (transcribe_file.py for streaming, transcribe_file_offline.py
for offline: the config from riva.client's own argument parser, the transcript as the script prints it and as
test_functions.sh reads it back). Where NVIDIA's expectation records its model's own miss (`model_misses`, each
with the evidence), the words the audio holds are expected instead. With RIVA_PYTHON_CLIENTS=<checkout>, NVIDIA's
scripts themselves run each set, and the kept expectations are compared with the checkout's test_functions.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rivaverify.asr import contract, streams
from rivaverify.asr.audio import load_pcm16
from rivaverify.asr.client import config as asr_config
from rivaverify.asr.client import recognize
from rivaverify.asr.corpus import Utterance

riva_client = pytest.importorskip("riva.client")
from riva.client.argparse_utils import add_asr_config_argparse_parameters  # noqa: E402

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parent / "data" / "python-clients"
EXPECTED = json.loads((DATA / "expected.json").read_text())
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "audio"
CLIENTS = os.environ.get("RIVA_PYTHON_CLIENTS")
SETS = [(i, mode) for i, s in enumerate(EXPECTED["sets"]) for mode in ("streaming", "offline")
        if mode == "streaming" or "only" not in s]


def clip(name: str) -> Path:
    return DATA / name if (DATA / name).exists() else SAMPLE_DIR / name


def script_args(options: str) -> argparse.Namespace:
    """The options parsed as NVIDIA's scripts parse them (riva.client's own argument groups)."""
    parser = add_asr_config_argparse_parameters(argparse.ArgumentParser(), max_alternatives=True,
                                                word_time_offsets=True)
    return parser.parse_args(shlex.split(options))


def recognition_config(args: argparse.Namespace):
    cfg = riva_client.RecognitionConfig(
        language_code=args.language_code, max_alternatives=args.max_alternatives,
        enable_automatic_punctuation=args.automatic_punctuation,
        verbatim_transcripts=not args.no_verbatim_transcripts, enable_word_time_offsets=args.word_time_offsets)
    riva_client.add_word_boosting_to_config(cfg, args.boosted_lm_words, args.boosted_lm_score)
    return cfg


def transcript(asr, path: Path, options: str, streaming: bool) -> str:
    """What the script prints and test_functions.sh reads back: offline, `Final transcript:` (every result's
    first alternative joined); streaming, the last `## ` final."""
    cfg = recognition_config(script_args(options))
    if not streaming:
        response = asr.offline_recognize(path.read_bytes(), cfg)
        return "".join(r.alternatives[0].transcript for r in response.results).strip()
    finals = [r.alternatives[0].transcript for resp in asr.streaming_response_generator(
        audio_chunks=riva_client.AudioChunkFileIterator(str(path), 1600),
        streaming_config=riva_client.StreamingRecognitionConfig(config=cfg, interim_results=True))
        for r in resp.results if r.is_final and r.alternatives]
    return finals[-1].strip() if finals else ""


def expectation(index: int, mode: str) -> tuple[str, str]:
    """(a regular expression the transcript must match whole, why it is not NVIDIA's text when it is not)."""
    text = EXPECTED["sets"][index][mode]
    for miss in EXPECTED["model_misses"]:
        if miss["set"] == index and miss["mode"] in (mode, "both"):
            if "accept" in miss:
                head, tail = text.split(miss["expected_words"])
                return re.escape(head) + miss["accept"] + re.escape(tail), miss["why"]
            return re.escape(miss["audio_words"]), miss["why"]
    return re.escape(text), ""


@pytest.mark.parametrize("index,mode", SETS, ids=[f"{m}-{i}" for i, m in SETS])
def test_nvidia_expected_transcripts(asr, index, mode):
    s = EXPECTED["sets"][index]
    heard = transcript(asr, clip(s["file"]), s["options"], mode == "streaming")
    pattern, why = expectation(index, mode)
    assert re.fullmatch(pattern, heard), (
        f"{s['file']} {s['options']!r} ({mode}): riva-lite wrote {heard!r}; NVIDIA's Riva {s[mode]!r}"
        + (f" (its model's miss: {why}; expected /{pattern}/)" if why else ""))


def test_word_times_follow_nvidias_reference(asr):
    """NVIDIA's word times for the boosted clip: the same words (the boosted ones as one word, as given), on the
    80 ms grid, each word's middle near NVIDIA's (a model's own times, so not exactly: expected.json)."""
    ref = [line.split() for line in (DATA / EXPECTED["timestamps"]["file"]).read_text().splitlines()[2:]]
    s = EXPECTED["sets"][4]
    cfg = recognition_config(script_args(s["options"] + " --word-time-offsets"))
    words = [w for resp in asr.streaming_response_generator(
        audio_chunks=riva_client.AudioChunkFileIterator(str(clip(s["file"])), 1600),
        streaming_config=riva_client.StreamingRecognitionConfig(config=cfg, interim_results=True))
        for r in resp.results if r.is_final for w in r.alternatives[0].words]
    assert all(w.start_time % 80 == 0 and w.end_time % 80 == 0 for w in words)
    heard = {w.word: (w.start_time + w.end_time) / 2 for w in words}
    bound = EXPECTED["timestamps"]["max_mid_offset_ms"]
    off = {word: heard[word] - (int(a) + int(b)) / 2 for word, a, b in ref if word in heard and word != "to"}
    missing = [word for word, _, _ in ref if word not in heard and word != "graph"]
    assert not missing, f"words of NVIDIA's reference riva-lite did not write: {missing}; it wrote {list(heard)}"
    assert max(map(abs, off.values())) <= bound, f"word middles off NVIDIA's by more than {bound} ms: {off}"


@pytest.mark.heavy  # 14.8 s streamed at real time: CI's heavy lane, .ci/run
def test_the_long_48k_clip_keeps_the_streaming_contract(riva):
    """NVIDIA's boosted clip (14.8 s at 48 kHz) streamed at real time: riva-lite's streaming and offline pipelines
    hear one stretch otherwise, which is the streaming WER's to judge, not the contract's."""
    utt = Utterance(clip(EXPECTED["sets"][4]["file"]), EXPECTED["sets"][4]["offline"], 14.76)
    audio = load_pcm16(utt.path)
    auth = riva_client.Auth(uri=riva.riva_uri)
    try:
        offline = recognize(auth, audio, asr_config(audio, "en-US"))
        [run] = streams.run(auth, [(utt, audio)], "en-US", 100)
    finally:
        auth.channel.close()
    assert contract.stream_problems(run, offline.transcript, utt.text, 0.16) == []
    assert audio.rate == 48000 and run.wer is not None and run.wer < 0.25, (run.wer, run.streamed.transcript)


# -- with a checkout: NVIDIA's scripts themselves, and the kept expectations against NVIDIA's file ------------
needs_checkout = pytest.mark.skipif(not CLIENTS, reason="set RIVA_PYTHON_CLIENTS to a python-clients checkout")
SCRIPTS = {"streaming": "transcribe_file.py", "offline": "transcribe_file_offline.py"}


def _bash_array(text: str, name: str) -> list[str]:
    body = re.search(rf"\b{name}=\((.*?)\n\s*\)", text, re.DOTALL)[1]
    return shlex.split(body.replace("\\\n", ""))


@needs_checkout
def test_kept_expectations_are_nvidias():
    text = (Path(CLIENTS) / "tests/integration/asr/test_functions.sh").read_text()
    streaming = _bash_array(text, "expected_final_streaming_transcripts")
    offline = list(streaming)
    for i, value in re.findall(r'expected_final_offline_transcripts\[(\d+)\]="([^"]*)"', text):
        offline[int(i)] = value
    assert [s["streaming"] for s in EXPECTED["sets"]] == streaming
    assert [s["offline"] for s in EXPECTED["sets"]] == offline
    assert [s["options"] for s in EXPECTED["sets"]] == _bash_array(text, "options")
    assert [s["file"] for s in EXPECTED["sets"]] == _bash_array(text, "input_files")


@needs_checkout
@pytest.mark.parametrize("index,mode", [x for x in SETS if "only" not in EXPECTED["sets"][x[0]]],
                         ids=[f"{m}-{i}" for i, m in SETS if "only" not in EXPECTED["sets"][i]])
def test_nvidias_scripts_print_the_expected_transcripts(riva, index, mode, tmp_path):
    s = EXPECTED["sets"][index]
    script = Path(CLIENTS) / "scripts" / "asr" / SCRIPTS[mode]
    out = subprocess.run([sys.executable, str(script), "--server", riva.riva_uri, "--input-file",
                          str(clip(s["file"])), *shlex.split(s["options"])],
                         capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    marker = "Final transcript:" if mode == "offline" else "## "
    lines = [line for line in out.stdout.splitlines() if marker in line]
    heard = lines[-1].split(marker, 1)[1].strip() if lines else ""
    pattern, why = expectation(index, mode)
    assert re.fullmatch(pattern, heard), (heard, s[mode], why)
