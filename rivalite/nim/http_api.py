"""NIM's HTTP API (aiohttp) in front of riva-lite's gRPC API: health, metrics, models, offline transcription.

    GET  /v1/health/live          200 while the process runs
    GET  /v1/health/ready         200 {"status":"ready"} once Riva's gRPC API serves; 503 while models load
    GET  /v1/metrics              Prometheus text: this process' process_* and python_* series, then Triton's
    GET  /v1/models               the ASR pipelines riva-lite serves, in OpenAI's list shape
    POST /v1/audio/transcriptions multipart: file (WAV, OPUS, FLAC), language or model, response_format json|text

Errors are JSON {"detail": ...} as NIM's (FastAPI) server writes them; a gRPC error keeps Riva's text.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.request

import grpc
from aiohttp import web
from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

from rivalite.audio import has_header
from rivalite.nim import realtime

log = logging.getLogger("riva_http_server")
FORMATS = ("json", "text")
STATUS = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404,
          grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.UNAUTHENTICATED: 401}
MAX_UPLOAD = 64 * 1024 * 1024  # riva-lite's gRPC message limit
BACKEND, STARTED = web.AppKey("backend", object), web.AppKey("started", int)


class Backend:
    """What the HTTP side talks to: riva-lite's gRPC API (one aio channel) and Triton's metrics."""

    def __init__(self, grpc_uri: str, triton_metrics_url: str, ready):
        self.grpc_uri, self.triton_metrics_url, self._ready = grpc_uri, triton_metrics_url, ready
        self._channel = None

    def ready(self) -> bool:
        return bool(self._ready())

    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                self.grpc_uri, options=[("grpc.max_send_message_length", MAX_UPLOAD),
                                        ("grpc.max_receive_message_length", MAX_UPLOAD)])
        return self._channel

    def asr(self) -> rasr_grpc.RivaSpeechRecognitionStub:
        return rasr_grpc.RivaSpeechRecognitionStub(self.channel())

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()


def detail(status: int, text) -> web.Response:
    return web.json_response({"detail": text}, status=status)


def grpc_failure(e: grpc.aio.AioRpcError) -> web.Response:
    return detail(STATUS.get(e.code(), 500), e.details() or e.code().name)


def not_ready() -> web.Response:
    return detail(503, "the models are still loading (GET /v1/health/ready answers 200 once they serve): "
                       "retry then")


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "live"})


async def ready(request: web.Request) -> web.Response:
    if request.app[BACKEND].ready():
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "not ready"}, status=503)


def _triton_metrics(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""  # Triton not up yet: its counters appear once it is


async def metrics(request: web.Request) -> web.Response:
    from prometheus_client import REGISTRY, generate_latest

    own = generate_latest(REGISTRY).decode()
    triton = await asyncio.to_thread(_triton_metrics, request.app[BACKEND].triton_metrics_url)
    return web.Response(text=own + triton, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def asr_config(backend: Backend):
    return await backend.asr().GetRivaSpeechRecognitionConfig(rasr.RivaSpeechRecognitionConfigRequest(), timeout=10)


async def models(request: web.Request) -> web.Response:
    backend = request.app[BACKEND]
    if not backend.ready():
        return not_ready()
    try:
        config = await asr_config(backend)
    except grpc.aio.AioRpcError as e:
        return grpc_failure(e)
    created = request.app[STARTED]
    data = [{"id": m.model_name, "object": "model", "created": created, "owned_by": "riva-lite",
             "language_code": m.parameters.get("language_code", ""), "type": m.parameters.get("type", "")}
            for m in config.model_config]
    return web.json_response({"object": "list", "data": data})


def missing_file() -> web.Response:
    """FastAPI's answer to a missing form field (422, detail list), with what to send."""
    return web.json_response({"detail": [{"type": "missing", "loc": ["body", "file"], "input": None,
                                          "msg": "Field required: send the audio as the multipart field 'file' "
                                                 "(WAV, OPUS or FLAC)"}]}, status=422)


async def transcriptions(request: web.Request) -> web.Response:
    backend = request.app[BACKEND]
    if not request.content_type.startswith("multipart/form-data"):
        return detail(400, f"Content-Type {request.content_type or 'none'} is not multipart/form-data: post the "
                           "audio as a form (curl -F file=@audio.wav -F language=en-US)")
    form = await request.post()
    upload = form.get("file")
    if upload is None or not hasattr(upload, "file"):
        return missing_file()
    language, model = str(form.get("language") or ""), str(form.get("model") or "")
    fmt = str(form.get("response_format") or "json")
    if not language and not model:
        return detail(400, "neither language nor model was given: add language (e.g. en-US) or model "
                           "(an id from GET /v1/models)")
    if fmt not in FORMATS:
        return detail(400, f"response_format {fmt!r} is not supported: use json or text")
    if not backend.ready():
        return not_ready()
    audio = upload.file.read()
    if not has_header(audio):  # raw bytes would reach Riva with no rate: "Unavailable model ... sample_rate=0"
        return detail(400, f"file {upload.filename!r} ({len(audio)} bytes) is not WAV, OPUS or FLAC audio (no "
                           "RIFF/WAVE, OggS or fLaC header): send the audio file itself, header included")
    config = rasr.RecognitionConfig(language_code=language, model=model, max_alternatives=1,
                                    enable_automatic_punctuation=True)
    try:
        reply = await backend.asr().Recognize(rasr.RecognizeRequest(config=config, audio=audio), timeout=300)
    except grpc.aio.AioRpcError as e:
        return grpc_failure(e)
    text = " ".join(r.alternatives[0].transcript.strip() for r in reply.results if r.alternatives).strip()
    if fmt == "text":
        return web.Response(text=text)  # plain text carries no usage (Speech NIM 26.10 release notes)
    seconds = max((r.audio_processed for r in reply.results), default=0.0)
    return web.json_response({"text": text, "usage": realtime.usage(seconds)})


def app(backend: Backend) -> web.Application:
    application = web.Application(client_max_size=MAX_UPLOAD)
    application[BACKEND], application[STARTED] = backend, int(time.time())
    application.add_routes([
        web.get("/v1/health/live", live), web.get("/v1/health/ready", ready), web.get("/v1/metrics", metrics),
        web.get("/v1/models", models), web.post("/v1/audio/transcriptions", transcriptions),
        web.post("/v1/realtime/transcription_sessions", realtime.sessions), web.get("/v1/realtime", realtime.socket),
    ])
    application.on_cleanup.append(lambda _: backend.close())
    return application
