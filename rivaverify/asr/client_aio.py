"""The calls of rivaverify.asr.client on grpc.aio: same requests, same timing, same results."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
from riva.client.proto import riva_asr_pb2, riva_asr_pb2_grpc

from rivaverify.asr.audio import Audio
from rivaverify.asr.client import Offline, Response, Streamed, first_request, offline, record


def channel(host: str, ssl_cert: str | None = None, options: list[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
    """A channel to a Riva server; TLS when a root certificate is given. Create it on the loop that uses it."""
    if ssl_cert:
        creds = grpc.ssl_channel_credentials(Path(ssl_cert).read_bytes())
        return grpc.aio.secure_channel(host, creds, options=options)
    return grpc.aio.insecure_channel(host, options=options)


async def recognize(ch: grpc.aio.Channel, audio: Audio, cfg: riva_asr_pb2.RecognitionConfig,
                    metadata: list[tuple[str, str]] | None = None, timeout: float = 60) -> Offline:
    stub = riva_asr_pb2_grpc.RivaSpeechRecognitionStub(ch)
    start = time.perf_counter()
    resp = await stub.Recognize(riva_asr_pb2.RecognizeRequest(config=cfg, audio=audio.pcm), timeout=timeout,
                                metadata=metadata)
    return offline(resp, time.perf_counter() - start)


async def stream(ch: grpc.aio.Channel, audio: Audio, cfg: riva_asr_pb2.RecognitionConfig,
                 metadata: list[tuple[str, str]] | None = None, chunk_ms: float = 100, realtime: bool = False,
                 interim: bool = True, timeout: float = 120,
                 on_response: Callable[[Streamed, Response], None] | None = None) -> Streamed:
    """One StreamingRecognize, as rivaverify.asr.client.stream."""
    out = Streamed()
    start = time.perf_counter()

    async def requests() -> AsyncIterator[riva_asr_pb2.StreamingRecognizeRequest]:
        yield first_request(cfg, interim)
        for i, chunk in enumerate(audio.chunks(chunk_ms)):
            if realtime:
                await asyncio.sleep(max(0.0, start + i * chunk_ms / 1000 - time.perf_counter()))
            out.sent_at.append(time.perf_counter() - start)
            yield riva_asr_pb2.StreamingRecognizeRequest(audio_content=chunk)

    stub = riva_asr_pb2_grpc.RivaSpeechRecognitionStub(ch)
    async for resp in stub.StreamingRecognize(requests(), timeout=timeout, metadata=metadata):
        record(out, resp, time.perf_counter() - start, len(out.sent_at), on_response)
    out.seconds = time.perf_counter() - start
    return out
