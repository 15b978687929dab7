"""Calls to a Riva ASR server through NVIDIA's own client (riva.client), timed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import riva.client
from riva.client.proto import health_pb2, health_pb2_grpc, riva_asr_pb2

from rivaverify.asr.audio import Audio

KEEPALIVE = [("grpc.keepalive_time_ms", 30000), ("grpc.keepalive_timeout_ms", 10000),
             ("grpc.keepalive_permit_without_calls", 1)]


def auth(host: str, ssl_cert: str | None = None, api_key: str | None = None,
         options: list[tuple[str, Any]] | None = None) -> riva.client.Auth:
    """A Riva connection (its own channel); TLS when a root certificate is given, the API key as metadata."""
    return riva.client.Auth(ssl_root_cert=ssl_cert, use_ssl=bool(ssl_cert), uri=host,
                            metadata_args=[list(m) for m in api_key_metadata(api_key)] or None, options=options or [])


def api_key_metadata(api_key: str | None) -> list[tuple[str, str]]:
    """The API key as Riva (NGC, NVCF) takes it: `authorization: Bearer <key>`."""
    return [("authorization", f"Bearer {api_key}")] if api_key else []


def health(a: riva.client.Auth, timeout: float = 5) -> str:
    """grpc.health.v1 status of the server ('SERVING', 'NOT_SERVING', ...)."""
    stub = health_pb2_grpc.HealthStub(a.channel)
    resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout, metadata=a.get_auth_metadata())
    return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)


def list_models(a: riva.client.Auth, timeout: float = 10) -> dict[str, dict[str, str]]:
    """Model name -> parameters, as GetRivaSpeechRecognitionConfig lists them."""
    stub = riva.client.ASRService(a).stub
    resp = stub.GetRivaSpeechRecognitionConfig(
        riva_asr_pb2.RivaSpeechRecognitionConfigRequest(), timeout=timeout, metadata=a.get_auth_metadata())
    return {c.model_name: dict(c.parameters) for c in resp.model_config}


def served_types(models: dict[str, dict[str, str]], language_code: str, model: str = "") -> set[str]:
    """What the listed models of the language (or the model asked for) serve: "offline" (Recognize), "online"
    (StreamingRecognize). A deployment may serve one only (a NIM's mode=str or mode=ofl profile); a listing that
    states no type is taken to serve both."""
    found = set()
    for name, params in models.items():
        if model and name != model:
            continue
        if language_code and params.get("language_code", language_code).lower() != language_code.lower():
            continue
        found |= {params["type"]} if params.get("type") in ("offline", "online") else {"offline", "online"}
    return found or {"offline", "online"}


def server_chunk_ms(models: dict[str, dict[str, str]], language_code: str, model: str = "") -> float | None:
    """The streaming model's server chunk, ms: `chunk_size` (seconds, riva-build's --chunk_size) among the
    parameters of the online model asked for, as GetRivaSpeechRecognitionConfig lists them (or as
    modelrepo.listed_parameters reads them from config.pbtxt); None when not stated."""
    for name, params in sorted(models.items()):
        if params.get("type") != "online" or (model and name != model):
            continue
        if language_code and params.get("language_code", "").lower() != language_code.lower():
            continue
        try:
            seconds = float(params.get("chunk_size", ""))
        except ValueError:
            continue
        if 0 < seconds <= 2:
            return round(seconds * 1000, 3)
    return None


def config(audio: Audio, language_code: str, punctuation: bool = False, model: str = "",
           encoding: int = riva.client.AudioEncoding.LINEAR_PCM) -> riva_asr_pb2.RecognitionConfig:
    return riva_asr_pb2.RecognitionConfig(
        encoding=encoding, sample_rate_hertz=audio.rate, audio_channel_count=audio.channels,
        language_code=language_code, max_alternatives=1, enable_automatic_punctuation=punctuation,
        verbatim_transcripts=not punctuation, model=model)


@dataclass
class Offline:
    transcript: str
    seconds: float
    response: riva_asr_pb2.RecognizeResponse


def recognize(a: riva.client.Auth, audio: Audio, cfg: riva_asr_pb2.RecognitionConfig, data: bytes | None = None,
              timeout: float = 60) -> Offline:
    """One Recognize call; `data` (the file's own bytes) for encodings other than LINEAR_PCM."""
    stub = riva.client.ASRService(a).stub
    start = time.perf_counter()
    resp = stub.Recognize(riva_asr_pb2.RecognizeRequest(config=cfg, audio=data if data is not None else audio.pcm),
                          timeout=timeout, metadata=a.get_auth_metadata())
    return offline(resp, time.perf_counter() - start)


def offline(resp: riva_asr_pb2.RecognizeResponse, seconds: float) -> Offline:
    text = " ".join(r.alternatives[0].transcript.strip() for r in resp.results if r.alternatives)
    return Offline(" ".join(text.split()), seconds, resp)


@dataclass
class Received:
    at: float  # seconds since the stream started
    is_final: bool
    transcript: str
    stability: float
    audio_processed: float
    chunks_sent: int  # how many audio chunks had been sent when it arrived


@dataclass(frozen=True)
class Response:
    at: float  # seconds since the stream started
    final: bool  # it carried a result with is_final
    audio_processed: float  # the largest audio_processed of its results (0 when it had none)


@dataclass
class Streamed:
    sent_at: list[float] = field(default_factory=list)  # per audio chunk, seconds since start
    received: list[Received] = field(default_factory=list)  # every result, in order
    responses: list[Response] = field(default_factory=list)  # every response, also those without results
    seconds: float = 0.0

    @property
    def finals(self) -> list[Received]:
        return [r for r in self.received if r.is_final]

    @property
    def partials(self) -> list[Received]:
        return [r for r in self.received if not r.is_final]

    @property
    def transcript(self) -> str:
        return " ".join(" ".join(f.transcript.split()) for f in self.finals if f.transcript.strip())


def stream(a: riva.client.Auth, audio: Audio, cfg: riva_asr_pb2.RecognitionConfig, chunk_ms: float = 100,
           realtime: bool = False, interim: bool = True, timeout: float = 120,
           on_response: Callable[[Streamed, Response], None] | None = None) -> Streamed:
    """One StreamingRecognize: the config first, then the chunks (at real-time pace if asked).

    `on_response(streamed, response)` is called as each response arrives (a load tool's per-message event)."""
    out = Streamed()
    chunks = audio.chunks(chunk_ms)
    lock = threading.Lock()
    start = time.perf_counter()

    def requests() -> Iterator[riva_asr_pb2.StreamingRecognizeRequest]:
        yield first_request(cfg, interim)
        for i, chunk in enumerate(chunks):
            if realtime:
                due = start + i * chunk_ms / 1000
                time.sleep(max(0.0, due - time.perf_counter()))
            with lock:
                out.sent_at.append(time.perf_counter() - start)
            yield riva_asr_pb2.StreamingRecognizeRequest(audio_content=chunk)

    stub = riva.client.ASRService(a).stub
    for resp in stub.StreamingRecognize(requests(), timeout=timeout, metadata=a.get_auth_metadata()):
        at = time.perf_counter() - start
        with lock:
            sent = len(out.sent_at)
        record(out, resp, at, sent, on_response)
    out.seconds = time.perf_counter() - start
    return out


def first_request(cfg: riva_asr_pb2.RecognitionConfig, interim: bool) -> riva_asr_pb2.StreamingRecognizeRequest:
    """A stream's first request: the config only."""
    return riva_asr_pb2.StreamingRecognizeRequest(
        streaming_config=riva_asr_pb2.StreamingRecognitionConfig(config=cfg, interim_results=interim))


def record(out: Streamed, resp: riva_asr_pb2.StreamingRecognizeResponse, at: float, sent: int,
           on_response: Callable[[Streamed, Response], None] | None = None) -> None:
    """Keep a response received `at` seconds into the stream, after `sent` audio chunks."""
    for r in resp.results:
        text = r.alternatives[0].transcript if r.alternatives else ""
        out.received.append(Received(at, r.is_final, text, r.stability, r.audio_processed, sent))
    out.responses.append(Response(at, any(r.is_final for r in resp.results),
                                  max((r.audio_processed for r in resp.results), default=0.0)))
    if on_response is not None:
        on_response(out, out.responses[-1])
