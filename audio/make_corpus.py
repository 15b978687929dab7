"""Make the synthetic part of the corpus with espeak-ng (text we wrote, so the reference is exact).

Run once by a maintainer (needs Debian's espeak-ng); the files are committed so the corpus never changes:
    python audio/make_corpus.py
"""

from __future__ import annotations

import json
import subprocess
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


def main() -> None:
    rows = [json.loads(line) for line in (HERE / "manifest.json").read_text().splitlines()
            if line.strip() and "tts-" not in line]
    for i, (voice, wpm, text) in enumerate(UTTERANCES, 1):
        data, rate = synth(voice, wpm, text)
        pad = np.zeros(int(PAD_S * RATE), dtype="float32")
        audio = np.concatenate([pad, resample(data, rate, RATE), pad])
        name = f"tts-{i:02d}.wav"
        sf.write(HERE / name, audio, RATE, subtype="PCM_16")
        rows.append({"audio_filepath": name, "text": text, "duration": round(len(audio) / RATE, 3),
                     "lang": "en-US", "voice": voice, "wpm": wpm})
    (HERE / "manifest.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    conversions(rows)


if __name__ == "__main__":
    main()
