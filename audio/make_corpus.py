"""Make the synthetic part of the corpus with espeak-ng (text we wrote, so the reference is exact).

Run once by a maintainer (needs Debian's espeak-ng); the files are committed so the corpus never changes:
    python audio/make_corpus.py          # everything
    python audio/make_corpus.py pauses   # only the clips with pauses (from the committed clips; no espeak-ng)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
RATE = 16000
PAD_S = 0.3  # silence before and after the speech, as a recording has

# (voice, words per minute, text): several voices and speeds, 2 to 20 seconds each.
UTTERANCES = [
    ("en-us", 130, "Please turn off the lights."),
    ("en-gb", 150, "The meeting starts at nine tomorrow morning."),
    ("en-us+f3", 155, "Can you send me the report before lunch?"),
    ("en-gb-x-rp", 145, "The weather will be cold and windy this weekend."),
    ("en-us", 175, "Speech recognition turns spoken words into written text."),
    ("en-us+f3", 140, "My favorite color is green and my sister likes blue."),
    ("en-gb", 165, "We need to buy milk, bread, eggs and some fresh fruit."),
    ("en-us", 150, "The train to the city leaves every twenty minutes during the day."),
    ("en-gb-x-rp", 160, "Doctors recommend at least seven hours of sleep every night."),
    ("en-us+f3", 170, "The museum is closed on Mondays but open late on Fridays."),
    ("en-us", 145, "Water boils at one hundred degrees at sea level."),
    ("en-gb", 155, "Remember to save your work before you close the program."),
    ("en-us", 165, "The library has thousands of books about history, science and art."),
    ("en-gb-x-rp", 150, "Our team finished the project two weeks ahead of schedule."),
    ("en-us+f3", 160, "A good cup of coffee in the morning helps me start the day."),
    ("en-us", 155, "The children played football in the park until the sun went down."),
    ("en-gb", 145, "Please read the instructions carefully before you start the test. "
                   "Write your name at the top of every page."),
    ("en-us", 170, "Cloud computing lets companies rent servers instead of buying them. "
                   "They pay only for what they use, and they can grow quickly when demand rises."),
    ("en-gb-x-rp", 155, "The old bridge was built more than a hundred years ago. Engineers inspect it "
                        "every spring, and they repair the stones that the winter frost has damaged."),
    ("en-us+f3", 150, "When you travel abroad, carry a copy of your passport and keep the original in a "
                      "safe place. Tell your bank where you are going so your card keeps working."),
    ("en-us", 160, "Good software is tested often. Every change runs through automated checks before it "
                   "reaches users, and a failed check stops the release until someone fixes the problem."),
    ("en-gb", 150, "The farmer wakes up before dawn to feed the animals. After breakfast he repairs the "
                   "fences, checks the crops in the north field, and drives to the market in town to sell "
                   "vegetables."),
    ("en-us", 120, "Yes, I agree with you."),
    ("en-us+f3", 120, "Thank you very much."),
    ("en-us", 185, "Long recordings matter too. A support call can last many minutes, and the system must keep "
                   "up with the caller the whole time. It should return partial results quickly, correct them "
                   "as more audio arrives, and finish each sentence with a final result that does not change "
                   "again. Latency is measured from the moment audio is sent."),
]


def synth(voice: str, wpm: int, text: str) -> tuple[np.ndarray, int]:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", tmp.name, text], check=True)
        data, rate = sf.read(tmp.name, dtype="float32")
    return data, rate


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    t = np.arange(0, len(x) * dst // src) * (src / dst)
    return np.interp(t, np.arange(len(x)), x).astype("float32")


# (file, source utterance, rate, channels, soundfile format/subtype, Riva encoding) for audio/formats.json
FORMATS = [
    ("fmt-8k.wav", "tts-03.wav", 8000, 1, ("WAV", "PCM_16"), "LINEAR_PCM"),
    ("fmt-44k1.wav", "tts-07.wav", 44100, 1, ("WAV", "PCM_16"), "LINEAR_PCM"),
    ("fmt-48k-stereo.wav", "tts-12.wav", 48000, 2, ("WAV", "PCM_16"), "LINEAR_PCM"),
    ("fmt-16k.flac", "tts-16.wav", 16000, 1, ("FLAC", "PCM_16"), "FLAC"),
    ("fmt-mulaw.wav", "tts-02.wav", 8000, 1, ("WAV", "ULAW"), "MULAW"),
    ("fmt-alaw.wav", "tts-14.wav", 8000, 1, ("WAV", "ALAW"), "ALAW"),
    ("fmt-opus.ogg", "tts-18.wav", 48000, 1, ("OGG", "OPUS"), "OGGOPUS"),
]


def conversions(rows: list[dict]) -> None:
    by_file = {r["audio_filepath"]: r for r in rows}
    out = []
    for name, source, rate, channels, (fmt, subtype), encoding in FORMATS:
        data, src_rate = sf.read(HERE / source, dtype="float32")
        audio = resample(data, src_rate, rate)
        if channels == 2:
            audio = np.stack([audio, audio * 0.8], axis=1)
        sf.write(HERE / name, audio, rate, format=fmt, subtype=subtype)
        out.append({"audio_filepath": name, "text": by_file[source]["text"], "duration": round(len(audio) / rate, 3),
                    "lang": "en-US", "encoding": encoding, "rate": rate, "channels": channels, "source": source})
    (HERE / "formats.json").write_text("".join(json.dumps(r) + "\n" for r in out))


# Clips of 2-4 utterances with pauses, made of the clips above: (file, sources, silence added between them).
# Each source keeps its own edges (espeak-ng's and PAD_S), so the silence between two utterances is longer than
# what is added; `pause_s` in the manifest is the shortest measured one. Riva's default stop_history is 800 ms.
PAUSES = [
    ("pause-01.wav", ["tts-03.wav", "tts-23.wav", "tts-01.wav"], 0.6),
    ("pause-02.wav", ["en-US_sample.wav", "tts-17.wav"], 1.0),
    ("pause-03.wav", ["tts-24.wav", "tts-02.wav", "tts-12.wav", "tts-04.wav"], 0.8),
]
SPEECH_RMS = 0.01  # a 20 ms frame above this RMS is speech when pauses are measured


def speech_bounds(x: np.ndarray, frame: int = RATE // 50) -> tuple[float, float]:
    rms = [float(np.sqrt(np.mean(x[i : i + frame] ** 2))) for i in range(0, len(x) - frame + 1, frame)]
    loud = [i for i, r in enumerate(rms) if r >= SPEECH_RMS]
    return loud[0] * frame / RATE, (loud[-1] + 1) * frame / RATE


def pauses(rows: list[dict], out_dir: Path = HERE) -> list[dict]:
    """The clips with pauses (sox-style concatenation with silence, in numpy), written to out_dir, and their
    manifest lines."""
    by_file = {r["audio_filepath"]: r for r in rows}
    out = []
    for name, sources, gap_s in PAUSES:
        parts, prev, shortest = [], None, None
        for source in sources:
            data, rate = sf.read(HERE / source, dtype="float32")
            assert rate == RATE and data.ndim == 1, f"{source}: expected 16 kHz mono"
            if prev is not None:
                silence = len(prev) / RATE - speech_bounds(prev)[1] + gap_s + speech_bounds(data)[0]
                shortest = silence if shortest is None else min(shortest, silence)
                parts.append(np.zeros(int(gap_s * RATE), dtype="float32"))
            parts.append(data)
            prev = data
        audio = np.concatenate(parts)
        sf.write(out_dir / name, audio, RATE, subtype="PCM_16")
        text = " ".join(_sentence(by_file[s]["text"]) for s in sources)
        out.append({"audio_filepath": name, "text": text, "duration": round(len(audio) / RATE, 3), "lang": "en-US",
                    "utterances": len(sources), "pause_s": round(shortest, 2), "sources": sources})
    return out


def _sentence(text: str) -> str:
    """A reference as a sentence (the smoke clip's is lowercase and bare): the words stay the same."""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text + ("?" if text.lower().startswith("what") else ".")


# A rare word that Whisper tiny.en mishears ("Namatron") unless it is boosted (speech_contexts): audio/boosting.json
BOOSTED = [("boost-01.wav", "en-us", 150, "Please ask Nemotron to summarize the meeting.", "Nemotron")]


def boosting() -> None:
    out = []
    for name, voice, wpm, text, phrase in BOOSTED:
        data, rate = synth(voice, wpm, text)
        pad = np.zeros(int(PAD_S * RATE), dtype="float32")
        audio = np.concatenate([pad, resample(data, rate, RATE), pad])
        sf.write(HERE / name, audio, RATE, subtype="PCM_16")
        out.append({"audio_filepath": name, "text": text, "duration": round(len(audio) / RATE, 3), "lang": "en-US",
                    "phrase": phrase, "voice": voice, "wpm": wpm})
    (HERE / "boosting.json").write_text("".join(json.dumps(r) + "\n" for r in out))


def main_pauses() -> None:
    rows = [json.loads(line) for line in (HERE / "manifest.json").read_text().splitlines() if line.strip()]
    keep = [r for r in rows if not r["audio_filepath"].startswith("pause-")]
    (HERE / "manifest.json").write_text("".join(json.dumps(r) + "\n" for r in keep + pauses(keep)))


def main() -> None:
    rows = [json.loads(line) for line in (HERE / "manifest.json").read_text().splitlines()
            if line.strip() and "tts-" not in line and "pause-" not in line]
    for i, (voice, wpm, text) in enumerate(UTTERANCES, 1):
        data, rate = synth(voice, wpm, text)
        pad = np.zeros(int(PAD_S * RATE), dtype="float32")
        audio = np.concatenate([pad, resample(data, rate, RATE), pad])
        name = f"tts-{i:02d}.wav"
        sf.write(HERE / name, audio, RATE, subtype="PCM_16")
        rows.append({"audio_filepath": name, "text": text, "duration": round(len(audio) / RATE, 3),
                     "lang": "en-US", "voice": voice, "wpm": wpm})
    (HERE / "manifest.json").write_text("".join(json.dumps(r) + "\n" for r in rows + pauses(rows)))
    conversions(rows)
    boosting()


if __name__ == "__main__":
    main_pauses() if sys.argv[1:] == ["pauses"] else main()
