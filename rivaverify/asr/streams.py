"""Many streams at once, each at real-time pace, measured the same way as one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc

from rivaverify.asr import client
from rivaverify.asr.audio import Audio
from rivaverify.asr.corpus import Utterance
from rivaverify.asr.latency import Timing, measure
from rivaverify.asr.wer import wer


@dataclass
class StreamRun:
    utterance: Utterance
    audio: Audio
    streamed: client.Streamed | None = None
    timing: Timing | None = None
    error: str = ""
    wer: float | None = None


def run(auth: Any, clips: list[tuple[Utterance, Audio]], language_code: str, chunk_ms: int,
        parallel: int = 1, realtime: bool = True, interim: bool = True, model: str = "",
        timeout_s: float = 120) -> list[StreamRun]:
    """Stream every clip (`parallel` at a time), each in its utterance's `lang`, else `language_code`;
    errors are kept per stream, not raised."""

    def one(item: tuple[Utterance, Audio]) -> StreamRun:
        utt, audio = item
        out = StreamRun(utt, audio)
        cfg = client.config(audio, utt.lang or language_code, model=model)
        try:
            out.streamed = client.stream(auth, audio, cfg, chunk_ms=chunk_ms, realtime=realtime,
                                         interim=interim, timeout=timeout_s + audio.duration_s)
        except grpc.RpcError as exc:
            out.error = f"{exc.code().name}: {exc.details()}"
            return out
        out.timing = measure(out.streamed, chunk_ms, audio.duration_s)
        out.wer = wer(utt.text, out.streamed.transcript) if utt.text.strip() else None
        return out

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, clips))
