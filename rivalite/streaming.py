"""Streaming recognition as Riva paces it: server chunks, endpointing, utterances.

Riva answers once per server chunk (the streaming model's `chunk_size`, 0.16 s for Parakeet), whatever the
client's chunk size, and reports `audio_processed` in whole server chunks. Utterances start and end by
Riva's endpointing rules (`EndpointingConfig`), applied here to voice-activity probabilities
(rivalite.vad) in place of the acoustic model's non-blank frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rivalite.vad import FRAME_S

MAX_UTTERANCE_S = 28.0  # Whisper decodes 30 s windows
PRE_ROLL_S = 0.3  # audio kept before the detected start, so the first word is not cut
SPEECH = 0.5  # a frame whose speech probability reaches this counts as non-blank


@dataclass(frozen=True)
class Endpointing:
    """Riva's EndpointingConfig. riva-lite's defaults when a field is unset (not confirmed as Riva's own)."""

    start_history: int = 300  # ms
    start_threshold: float = 0.2
    stop_history: int = 800  # ms
    stop_threshold: float = 0.98
    stop_history_eou: int = -1  # ms; 2-pass end of utterance off
    stop_threshold_eou: float = 0.98

    @classmethod
    def from_config(cls, config) -> Endpointing:
        """From a RecognitionConfig: each field the client set (and > 0) replaces the default."""
        if not config.HasField("endpointing_config"):
            return cls()
        ep, values = config.endpointing_config, {}
        for name in cls.__dataclass_fields__:
            if ep.HasField(name) and getattr(ep, name) > 0:
                values[name] = getattr(ep, name)
        return cls(**values)


def _frames(ms: float) -> int:
    return max(1, math.ceil(ms / 1000 / FRAME_S))


class Endpointer:
    """Utterance boundaries from speech probabilities, one per 32 ms frame, as Riva's rules state them:
    start when `start_threshold` of the last `start_history` ms is speech, end when `stop_threshold` of the
    last `stop_history` ms is not (the 2-pass early end with the `_eou` pair)."""

    def __init__(self, ep: Endpointing):
        self.ep = ep
        self.start_n, self.stop_n = _frames(ep.start_history), _frames(ep.stop_history)
        self.eou_n = _frames(ep.stop_history_eou) if ep.stop_history_eou > 0 else 0
        self.history: list[bool] = []  # speech per frame, the recent ones
        self.frame = 0  # frames seen
        self.start: int | None = None  # first frame of the open utterance
        self.eou_sent = False
        self.silent_run = 0  # non-speech frames in a row

    def step(self, prob: float) -> str | None:
        """'start', 'eou', 'stop', or None for this frame."""
        speech = prob >= SPEECH
        self.silent_run = 0 if speech else self.silent_run + 1
        self.history.append(speech)
        keep = max(self.start_n, self.stop_n, self.eou_n)
        del self.history[:-keep]
        self.frame += 1
        if self.start is None:
            recent = self.history[-self.start_n :]
            if len(recent) == self.start_n and sum(recent) >= self.ep.start_threshold * self.start_n:
                self.start = self.frame - self.start_n
                self.eou_sent = False
                return "start"
            return None
        if (self.frame - self.start) * FRAME_S >= MAX_UTTERANCE_S:
            self.start = None
            return "stop"
        if self._silent(self.stop_n, self.ep.stop_threshold):
            self.start = None
            return "stop"
        if self.eou_n and not self.eou_sent and self._silent(self.eou_n, self.ep.stop_threshold_eou):
            self.eou_sent = True
            return "eou"
        if self.eou_sent and self.history[-1]:
            self.eou_sent = False  # speech again: the early end was premature
        return None

    def _silent(self, n: int, threshold: float) -> bool:
        recent = self.history[-n:]
        return len(recent) == n and (n - sum(recent)) >= threshold * n


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


def utterance_spans(probs: list[float], ep: Endpointing) -> list[tuple[int, int]]:
    """(first frame, end frame) of each utterance in a whole signal's speech probabilities, by the same
    rules as a stream (the last one ends with the signal)."""
    endpointer, spans, start = Endpointer(ep), [], None
    for i, p in enumerate(probs):
        event = endpointer.step(p)
        if event == "start":
            start = endpointer.start
        elif event == "stop" and start is not None:
            spans.append((start, i + 1))
            start = None
    if start is not None:
        spans.append((start, len(probs)))
    return spans
