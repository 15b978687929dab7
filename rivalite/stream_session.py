"""One StreamingRecognize stream: audio in, one response per server chunk out.

The response for a chunk carries the finals of utterances that ended in it (decoded then, in full) and the
open utterance's partial. Partials come from a background decode that always takes the newest audio and
is cheap (rivalite/triton_models/acoustic_model.py `partial`), so a response never waits for one: its text
may lag the audio by a decode (the staleness benchmarks/bench_riva_lite_capacity.py reports). A process-wide
gate bounds the partial decodes in flight, so more streams mean staler partials, not later responses.
"""

from __future__ import annotations

import threading
import time

from riva.client.proto import riva_asr_pb2 as rasr

from rivalite import boost
from rivalite.streaming import PRE_ROLL_S, Endpointer, Endpointing, stability
from rivalite.transcript import alternatives
from rivalite.vad import FRAME_S, Vad

PARTIAL_GATE = threading.BoundedSemaphore(2)  # partial decodes in flight, all streams together
SPECULATE_S = 0.32  # silence after speech that starts the final's decode before the endpoint is certain
MAX_STALE_S = 1.0  # a partial further behind the audio than this is decoded before the response goes,
AHEAD_S = 1.0  # ... when the client sends this much faster than real time (a real-time stream never waits)


class Session:
    def __init__(self, triton, model, scfg, rate: int, options: dict):
        self.triton, self.model, self.config = triton, model, scfg.config
        self.boosted = boost.phrases(self.config)
        self.interim = scfg.interim_results
        self.rate = rate
        self.chunk = max(1, round(rate * model.chunk_s))
        self.options = options
        self.partial_options = {**options, "word_time_offsets": False, "max_alternatives": 1, "partial": True}
        self.vad = Vad(rate)
        self.endpointer = Endpointer(Endpointing.from_config(self.config))
        self.samples = None  # the whole signal so far (mono float at `rate`)
        self.began = 0.0  # when the first audio came (to tell a faster-than-real-time client)
        self.chunks_done = 0
        self.frames_done = 0  # VAD frames consumed into chunk decisions
        self.probs: list[float] = []  # VAD probabilities not yet assigned to a chunk
        self.start: int | None = None  # first sample of the open utterance
        self.utterance = 0  # counts utterances, so a late partial of an ended one is dropped
        self.eou_out = None  # the 2-pass early decode of the open utterance, reused by its final
        self.speculative: _Decode | None = None  # the final's decode begun in a pause, reused if it holds
        self.previous = ""
        self._partial = (0, "", None, 0)  # (utterance, transcript, alternatives, last sample decoded)
        self._wake = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._partials, daemon=True, name="riva-partial")
        if self.interim:
            self._worker.start()

    # -- audio in, responses out -------------------------------------------------------------------
    def feed(self, samples) -> list[rasr.StreamingRecognizeResponse]:
        """Responses for the server chunks that `samples` (the signal so far) completes."""
        if self.samples is None:
            self.began = time.monotonic()
        self.samples = samples
        self.probs += self.vad.feed(samples)
        out = []
        while (self.chunks_done + 1) * self.chunk <= len(samples):
            out.append(self._chunk((self.chunks_done + 1) * self.chunk))
            self.chunks_done += 1
        with self._wake:
            self._wake.notify()
        return out

    def finish(self, samples) -> list[rasr.StreamingRecognizeResponse]:
        """The remaining whole chunks, then one last response: the open utterance's final, if any."""
        out = self.feed(samples)
        self.close()
        last = rasr.StreamingRecognizeResponse()
        if self.start is not None and (final := self._final(len(samples))) is not None:
            final.audio_processed = self.chunks_done * self.model.chunk_s  # whole chunks, as Riva counts
            last.results.append(final)
        self.start = None
        return [*out, last]

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()

    def _chunk(self, end: int) -> rasr.StreamingRecognizeResponse:
        """The response for the chunk that ends at sample `end`."""
        frames = int(end / self.rate / FRAME_S) - self.frames_done
        probs, self.probs = self.probs[:frames], self.probs[frames:]
        results = []
        for i, p in enumerate(probs):
            event = self.endpointer.step(p)
            at = round((self.frames_done + i + 1) * FRAME_S * self.rate)
            if event is None and not self.endpointer.eou_sent:
                self.eou_out = None  # speech resumed after an early end: that decode is stale
            if self.endpointer.silent_run == 0:
                self.speculative = None  # speech again: a final begun in the pause would miss it
            elif (self.start is not None and self.speculative is None
                  and self.endpointer.silent_run == round(SPECULATE_S / FRAME_S)):
                self.speculative = _Decode(self, at)
            if event == "start":
                self.start = max(0, round((self.endpointer.start * FRAME_S - PRE_ROLL_S) * self.rate))
                self.utterance += 1
                self.eou_out = None
            elif event == "eou" and self.start is not None:
                results.append(self._eou(at))
            elif event == "stop" and self.start is not None:
                results.append(self._final(at))
                self.start = None
        self.frames_done += len(probs)
        if self.start is not None and self.interim and not self.endpointer.eou_sent and not any(
                r is not None for r in results):  # after a 2-pass early end, its interim stands until the final
            results.append(self._current_partial(end))
        processed = (self.chunks_done + 1) * self.model.chunk_s
        results = [r for r in results if r is not None]
        for r in results:
            r.audio_processed = processed
            if probs:
                r.pipeline_states.vad_probabilities.extend(probs)
        return rasr.StreamingRecognizeResponse(results=results)

    # -- results ------------------------------------------------------------------------------------
    def _decode(self, stop: int, options: dict) -> dict:
        return self.triton.infer(self.model.name, self.samples[self.start : stop], self.rate, options)

    def _alternatives(self, out: dict, final: bool):
        c = self.config
        return alternatives(out, c.enable_automatic_punctuation, self.start / self.rate, self.model.language_code,
                            c.max_alternatives, final, final and c.enable_word_time_offsets,
                            verbatim=c.verbatim_transcripts, boosted=self.boosted)

    def _final(self, stop: int):
        out = self.eou_out or (self.speculative and self.speculative.result()) or self._decode(stop, self.options)
        self.eou_out, self.speculative, self.previous = None, None, ""
        alts = self._alternatives(out, True)
        if not alts:
            return None
        return rasr.StreamingRecognitionResult(alternatives=alts, is_final=True, channel_tag=1)

    def _eou(self, stop: int):
        """2-pass end of utterance: the utterance decoded as its final would be, sent as an interim with
        stability 1.0 (as NVIDIA's clients read it); the final reuses it unless speech resumes."""
        self.eou_out = self._decode(stop, self.options)
        alts = self._alternatives(self.eou_out, False)
        if not alts or not self.interim:
            return None
        return rasr.StreamingRecognitionResult(alternatives=alts, is_final=False, stability=1.0, channel_tag=1)

    def _current_partial(self, end: int):
        utterance, text, alts, stop = self._partial
        ahead = len(self.samples) / self.rate - (time.monotonic() - self.began) > AHEAD_S
        if ahead and ((utterance != self.utterance and end - self.start > MAX_STALE_S * self.rate) or (
                utterance == self.utterance and end - stop > MAX_STALE_S * self.rate)):
            # audio comes faster than the background decodes (a client sending faster than real time,
            # or a loaded server): catch up now, so a partial is never further behind than this
            self._decode_partial(self.utterance, self.start, end)
            utterance, text, alts, stop = self._partial
        if utterance != self.utterance or not alts:
            return None
        result = rasr.StreamingRecognitionResult(alternatives=alts, is_final=False, channel_tag=1,
                                                 stability=stability(self.previous, text))
        self.previous = text
        return result

    def _partials(self) -> None:
        """Background: decode the open utterance's newest audio whenever a chunk's worth has come in."""
        decoded = (0, 0)  # (utterance, stop) last decoded
        while True:
            with self._wake:
                while not self._closed and not self._due(decoded):
                    self._wake.wait(timeout=1.0)
                if self._closed:
                    return
                utterance, start, stop = self.utterance, self.start, len(self.samples)
            with PARTIAL_GATE:
                self._decode_partial(utterance, start, stop)
            decoded = (utterance, stop)

    def _decode_partial(self, utterance: int, start: int, stop: int) -> None:
        try:
            out = self.triton.infer(self.model.name, self.samples[start:stop], self.rate, self.partial_options)
        except Exception:  # the stream reports errors; a failed partial is only skipped
            return
        alts = alternatives(out, False, start / self.rate, self.model.language_code, 1, False, False,
                            boosted=self.boosted)
        with self._wake:
            if utterance == self.utterance and stop >= self._partial[3]:
                self._partial = (utterance, alts[0].transcript if alts else "", alts, stop)

    def _due(self, decoded: tuple[int, int]) -> bool:
        if self.start is None or self.samples is None:
            return False
        utterance, stop = decoded
        return utterance != self.utterance or len(self.samples) - stop >= self.chunk


class _Decode:
    """An utterance's final decode up to `stop`, begun in the background; result() waits for it (None if
    it failed: the caller decodes again)."""

    def __init__(self, session: Session, stop: int):
        self.out = None
        self.thread = threading.Thread(target=self._run, args=(session, session.start, stop), daemon=True,
                                       name="riva-final")
        self.thread.start()

    def _run(self, session: Session, start: int, stop: int) -> None:
        try:
            self.out = session.triton.infer(session.model.name, session.samples[start:stop], session.rate,
                                            session.options)
        except Exception:  # noqa: S110 - the final decodes again and reports its own error
            pass

    def result(self) -> dict | None:
        self.thread.join()
        return self.out
