"""The realtime transcription WebSocket as NVIDIA's riva.client realtime client (RealtimeClientASR) speaks it.

    POST /v1/realtime/transcription_sessions    the default session (id sess_<uuid4>, object
                                                realtime.transcription_session, ...); no client_secret, so the
                                                client connects without a token subprotocol
    GET  /v1/realtime?intent=transcription      the WebSocket:
      server: conversation.created
      client: transcription_session.update {session}  -> server: transcription_session.updated {session}
      client: input_audio_buffer.append {audio: base64} (+ input_audio_buffer.commit after each)
      server: conversation.item.input_audio_transcription.delta {delta}           (a partial)
              conversation.item.input_audio_transcription.completed {transcript, is_last_result: false, words_info}
      client: input_audio_buffer.done  -> server: ...completed {is_last_result: true, transcript: all finals}
      server: error {error: {type, code, message}} for what it cannot use

Audio: input_audio_format "pcm16" is raw 16-bit PCM at input_audio_params.sample_rate_hz; "none" is a file's
bytes, header included (the client's file mode). Each session is one StreamingRecognize on riva-lite's gRPC API.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import logging
import uuid

import grpc
from aiohttp import WSMsgType, web
from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_audio_pb2 as raudio

log = logging.getLogger("riva_realtime_server")
FORMATS = ("pcm16", "none")
SUBPROTOCOL = "realtime"


def default_session(model: str = "") -> dict:
    return {
        "id": f"sess_{uuid.uuid4()}", "object": "realtime.transcription_session", "modalities": ["text"],
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"language": "en-US", "model": model, "prompt": ""},
        "input_audio_params": {"sample_rate_hz": 16000, "num_channels": 1},
        "recognition_config": {"max_alternatives": 1, "enable_automatic_punctuation": False,
                               "enable_word_time_offsets": False, "enable_profanity_filter": False,
                               "enable_verbatim_transcripts": False},
        "speaker_diarization": {"enable_speaker_diarization": False, "max_speaker_count": 8},
        "word_boosting": {"enable_word_boosting": False, "word_boosting_list": []},
        "endpointing_config": {"start_history": 0, "start_threshold": 0, "stop_history": 0, "stop_threshold": 0,
                               "stop_history_eou": 0, "stop_threshold_eou": 0},
        "client_secret": None,
    }


async def _streaming_model(backend) -> str:
    from rivalite.nim.http_api import asr_config

    try:
        config = await asr_config(backend)
    except grpc.aio.AioRpcError:
        return ""
    return next((m.model_name for m in config.model_config if m.parameters.get("type") == "online"), "")


async def sessions(request: web.Request) -> web.Response:
    from rivalite.nim import http_api
    from rivalite.nim.http_api import not_ready

    backend = request.app[http_api.BACKEND]
    if not backend.ready():
        return not_ready()
    return web.json_response(default_session(await _streaming_model(backend)))


def merged(session: dict, update: dict) -> dict:
    out = copy.deepcopy(session)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def check(session: dict) -> str | None:
    """What is wrong with a session, with what to send instead; None when usable."""
    fmt = session.get("input_audio_format")
    if fmt not in FORMATS:
        return f"input_audio_format {fmt!r} is not supported: use pcm16 (raw 16-bit PCM) or none (a WAV file's bytes)"
    params = session.get("input_audio_params") or {}
    rate, channels = params.get("sample_rate_hz"), params.get("num_channels", 1)
    if not isinstance(rate, int) or not 8000 <= rate <= 192000:
        return f"input_audio_params.sample_rate_hz {rate!r} is not a rate from 8000 to 192000"
    if not isinstance(channels, int) or not 1 <= channels <= 32:
        return f"input_audio_params.num_channels {channels!r} is not a channel count from 1 to 32"
    return None


def streaming_config(session: dict) -> rasr.StreamingRecognitionConfig:
    transcription, params = session["input_audio_transcription"], session["input_audio_params"]
    rec = session.get("recognition_config") or {}
    config = rasr.RecognitionConfig(
        encoding=raudio.AudioEncoding.LINEAR_PCM, sample_rate_hertz=params["sample_rate_hz"],
        audio_channel_count=params.get("num_channels", 1), language_code=transcription.get("language", ""),
        model=transcription.get("model", ""), max_alternatives=rec.get("max_alternatives", 1),
        enable_automatic_punctuation=bool(rec.get("enable_automatic_punctuation")),
        enable_word_time_offsets=bool(rec.get("enable_word_time_offsets")),
        profanity_filter=bool(rec.get("enable_profanity_filter")),
        verbatim_transcripts=bool(rec.get("enable_verbatim_transcripts")))
    endpointing = {k: v for k, v in (session.get("endpointing_config") or {}).items() if v}
    if endpointing:
        config.endpointing_config.CopyFrom(rasr.EndpointingConfig(**endpointing))
    return rasr.StreamingRecognitionConfig(config=config, interim_results=True)


class Session:
    """One WebSocket: its session config, the audio queue and the StreamingRecognize that consumes it."""

    def __init__(self, ws: web.WebSocketResponse, backend, session: dict):
        self.ws, self.backend, self.session = ws, backend, session
        self.audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.finals: list[str] = []
        self.received = 0  # audio bytes appended: the terminal event's usage covers them all

    async def send(self, event: dict) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps({"event_id": f"event_{uuid.uuid4()}", **event}))

    async def error(self, code: str, message: str) -> None:
        await self.send({"type": "error", "error": {"type": "invalid_request_error", "code": code,
                                                    "message": message}})

    async def requests(self):
        yield rasr.StreamingRecognizeRequest(streaming_config=streaming_config(self.session))
        while (chunk := await self.audio.get()) is not None:
            yield rasr.StreamingRecognizeRequest(audio_content=chunk)

    async def recognize(self) -> None:
        item = f"item_{uuid.uuid4()}"
        try:
            async for reply in self.backend.asr().StreamingRecognize(self.requests()):
                for result in reply.results:
                    if not result.alternatives:
                        continue
                    best = result.alternatives[0]
                    if not result.is_final:
                        await self.send({"type": "conversation.item.input_audio_transcription.delta",
                                         "item_id": item, "content_index": 0, "delta": best.transcript})
                        continue
                    self.finals.append(best.transcript.strip())
                    await self.send(completed(item, best.transcript, False, best.words, result.audio_processed))
                    item = f"item_{uuid.uuid4()}"
        except grpc.aio.AioRpcError as e:
            await self.send({"type": "error", "error": {"type": "server_error", "code": e.code().name.lower(),
                                                        "message": e.details() or e.code().name}})
            return
        await self.send(completed(item, " ".join(t for t in self.finals if t), True, (), self.seconds_received()))

    def seconds_received(self) -> float:
        params = self.session["input_audio_params"]
        return self.received / (2 * params["sample_rate_hz"] * params.get("num_channels", 1))

    async def on(self, event: dict) -> bool:
        """Handle one client event; False once the session is over."""
        kind = event.get("type", "")
        if kind == "transcription_session.update":
            if self.task is not None:
                await self.error("session_started", "transcription_session.update after audio: send it first")
                return True
            update = merged(self.session, event.get("session") or {})
            problem = check(update)
            if problem:
                await self.error("invalid_session", problem)
                return True
            self.session = update
            await self.send({"type": "transcription_session.updated", "session": self.session})
        elif kind == "input_audio_buffer.append":
            try:
                chunk = base64.b64decode(event.get("audio") or "", validate=True)
            except (binascii.Error, ValueError):
                await self.error("invalid_audio", "input_audio_buffer.append: audio is not base64")
                return True
            if self.task is None:
                self.task = asyncio.create_task(self.recognize())
            if chunk:
                self.received += len(chunk)
                await self.audio.put(chunk)
        elif kind == "input_audio_buffer.commit":
            pass  # every appended chunk is streamed at once
        elif kind == "input_audio_buffer.done":
            if self.task is None:
                self.task = asyncio.create_task(self.recognize())
            await self.audio.put(None)
            await self.task
            return False
        else:
            await self.error("unknown_event", f"event type {kind!r} is not handled: send transcription_session."
                                              "update, input_audio_buffer.append/commit/done")
        return True

    async def close(self) -> None:
        if self.task is not None and not self.task.done():
            await self.audio.put(None)
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass


def completed(item: str, transcript: str, last: bool, words, seconds: float) -> dict:
    """A final's event; usage (Speech NIM 26.10) holds the processed-audio duration so far, the terminal event's the
    whole stream's."""
    return {"type": "conversation.item.input_audio_transcription.completed", "item_id": item, "content_index": 0,
            "transcript": transcript, "is_last_result": last, "usage": usage(seconds),
            "words_info": {"words": [{"word": w.word, "start_time": w.start_time, "end_time": w.end_time,
                                      "confidence": w.confidence, "speaker_tag": w.speaker_tag} for w in words]}}


def usage(seconds: float) -> dict:
    """Speech NIM 26.10's usage object: processed-audio duration."""
    return {"type": "duration", "seconds": round(seconds, 3)}


async def socket(request: web.Request) -> web.StreamResponse:
    from rivalite.nim import http_api
    from rivalite.nim.http_api import detail, not_ready

    backend = request.app[http_api.BACKEND]
    if request.query.get("intent") != "transcription":
        return detail(400, "the realtime endpoint needs ?intent=transcription (ws://HOST:9000/v1/realtime?"
                           "intent=transcription)")
    if not backend.ready():
        return not_ready()
    ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), max_msg_size=16 * 1024 * 1024)
    await ws.prepare(request)
    session = Session(ws, backend, default_session(await _streaming_model(backend)))
    await session.send({"type": "conversation.created",
                        "conversation": {"id": f"conv_{uuid.uuid4()}", "object": "realtime.conversation"}})
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    await session.error("invalid_event", "binary frames are not events: send JSON text")
                continue
            try:
                event = json.loads(msg.data)
            except ValueError:
                await session.error("invalid_event", "an event is not JSON")
                continue
            if not isinstance(event, dict) or not await session.on(event):
                break
    finally:
        await session.close()
        await ws.close()
    return ws
