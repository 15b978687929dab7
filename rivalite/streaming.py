"""Streaming recognition on a model that decodes whole utterances: utterances, partials and finals.

Audio is split into utterances by an energy endpointer (a final after `stop_history` ms of silence that
follows speech, at the end of the stream, or when an utterance reaches MAX_UTTERANCE_S). While an
utterance grows, an interim result re-decodes it every `chunk_s` seconds of new audio; partials are
coalesced, so a slow model skips partials instead of falling behind.
"""

from __future__ import annotations

import numpy as np

FRAME_S = 0.02
SPEECH_FLOOR = 0.002  # frame RMS below this (about -54 dBFS) is always silence
SPEECH_RELATIVE = 0.1  # ... and so is a frame below 10 % of the loudest frame so far (-20 dB)
DEFAULT_STOP_HISTORY_MS = 800
MAX_UTTERANCE_S = 28.0  # Whisper decodes 30 s windows


class Utterances:
    """Tracks where utterances start and end in a growing mono signal."""

    def __init__(self, rate: int, chunk_s: float, stop_history_ms: int = 0, interim: bool = True):
        self.rate = rate
        self.frame = max(1, int(rate * FRAME_S))
        self.stop_frames = max(1, round((stop_history_ms or DEFAULT_STOP_HISTORY_MS) / 1000 / FRAME_S))
        self.chunk = max(1, int(rate * chunk_s))
        self.max_len = int(rate * MAX_UTTERANCE_S)
        self.interim = interim
        self.start = 0  # first sample of the current utterance
        self.scanned = 0  # samples checked by the endpointer
        self.speech = False  # speech seen in the current utterance
        self.silence = 0  # consecutive silent frames
        self.last_partial = 0  # utterance length at the last partial
        self.peak = 0.0  # loudest frame RMS so far

    def step(self, samples: np.ndarray, end: bool) -> list[tuple[str, int, int]]:
        """What to decode now: [("final" | "partial", start, stop)] sample ranges, in order."""
        events = []
        while self.scanned + self.frame <= len(samples):
            frame = samples[self.scanned : self.scanned + self.frame]
            self.scanned += self.frame
            rms = float(np.sqrt(np.mean(frame * frame)))
            self.peak = max(self.peak, rms)
            if rms >= max(SPEECH_FLOOR, SPEECH_RELATIVE * self.peak):
                self.speech, self.silence = True, 0
            else:
                self.silence += 1
            too_long = self.scanned - self.start >= self.max_len
            if (self.speech and self.silence >= self.stop_frames) or too_long:
                if self.speech:
                    events.append(("final", self.start, self.scanned))
                self._reset(self.scanned)
        if end:
            if self.speech or (len(samples) > self.start and self._has_speech(samples[self.start :])):
                events.append(("final", self.start, len(samples)))
            self._reset(len(samples))
        elif self.interim and self.speech and len(samples) - self.start - self.last_partial >= self.chunk:
            self.last_partial = len(samples) - self.start
            events.append(("partial", self.start, len(samples)))
        return events

    def _reset(self, at: int) -> None:
        self.start, self.speech, self.silence, self.last_partial = at, False, 0, 0

    def _has_speech(self, tail: np.ndarray) -> bool:
        return tail.size > 0 and float(np.abs(tail).max()) >= SPEECH_FLOOR


def stability(previous: str, current: str) -> float:
    """How much of an interim transcript held since the last one: the shared word prefix, in 0.1..0.9."""
    a, b = previous.split(), current.split()
    if not b:
        return 0.1
    same = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        same += 1
    return round(min(0.9, max(0.1, same / len(b))), 3)
