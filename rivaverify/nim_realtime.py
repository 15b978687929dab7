"""A NIM's realtime transcription WebSocket, spoken as NVIDIA's `riva.client.realtime.RealtimeClientASR` speaks it
(python-clients `riva/client/realtime.py`), with deadlines and the time of every event, and the contract a healthy
NIM keeps. Facts and sources: docs/riva-behaviour.md (NIM)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import requests
import websocket

from rivaverify.asr.wer import wer

SESSIONS = "/v1/realtime/transcription_sessions"
ENDPOINT = "/v1/realtime?intent=transcription"  # NVIDIA's client: --endpoint /v1/realtime, intent=transcription
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"


@dataclass
class Session:
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (seconds since start, event)
    done_at: float | None = None  # when input_audio_buffer.done went out
    problem: str = ""  # why the session stopped short ("" when it ran to the last result)

    def of(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, e) for t, e in self.events if e.get("type") == kind]

    @property
    def last(self) -> tuple[float, dict[str, Any]] | None:
        return next(((t, e) for t, e in self.of(COMPLETED) if e.get("is_last_result")), None)

    @property
    def errors(self) -> list[str]:
        return [str((e.get("error") or {}).get("message") or e) for _, e in self.events
                if "error" in str(e.get("type", "")).lower()]


def transcribe(http_base: str, audio: bytes, chunk_bytes: int, seconds_per_chunk: float, language: str,
               timeout_s: float) -> Session:
    """POST a session, open the WebSocket, configure it (input_audio_format `none`: a file's bytes, header
    included, as NVIDIA's client sends a file), send the audio at `seconds_per_chunk` per chunk (append + commit),
    then done, and read until the last result, an error event or the deadline."""
    out = Session()
    start = time.monotonic()
    deadline = start + timeout_s
    r = requests.post(http_base + SESSIONS, json={}, timeout=10)
    if r.status_code != 200:
        out.problem = f"POST {SESSIONS} answered HTTP {r.status_code}: {r.text[:200]}"
        return out
    session = r.json()
    secret = session.get("client_secret")
    token = secret.get("value") if isinstance(secret, dict) else None
    # A server that mints a client_secret wants it on the handshake, as NVIDIA's client offers it
    protocols = ["realtime", f"realtime-token.{token}"] if token else None
    ws = websocket.create_connection("ws" + http_base.removeprefix("http") + ENDPOINT, timeout=10,
                                     subprotocols=protocols)
    try:
        def read(until: float) -> dict[str, Any] | None:
            ws.settimeout(max(0.01, until - time.monotonic()))
            try:
                event = json.loads(ws.recv())
            except websocket.WebSocketTimeoutException:
                return None
            out.events.append((time.monotonic() - start, event))
            return event

        first = read(deadline)  # conversation.created; NVIDIA's client only warns about another one
        if not first:
            out.problem = "no first event (conversation.created) within the deadline"
            return out
        config = {**session, "input_audio_format": "none"}
        config.setdefault("input_audio_transcription", {})["language"] = language
        ws.send(json.dumps({"type": "transcription_session.update", "session": config}))
        updated = read(deadline)
        if not updated or updated.get("type") != "transcription_session.updated":
            out.problem = f"transcription_session.update answered {updated!r:.300}"
            return out
        for i in range(0, len(audio), chunk_bytes):
            due = start + (i // chunk_bytes) * seconds_per_chunk
            while time.monotonic() < due:  # real-time pace; events that come meanwhile are kept
                read(due)
            ws.send(json.dumps({"type": "input_audio_buffer.append",
                                "audio": base64.b64encode(audio[i:i + chunk_bytes]).decode()}))
            ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        ws.send(json.dumps({"type": "input_audio_buffer.done"}))
        out.done_at = time.monotonic() - start
        while out.last is None and not out.errors:
            if time.monotonic() >= deadline or read(deadline) is None:
                out.problem = f"no completed event with is_last_result within {timeout_s:g} s"
                break
    except (websocket.WebSocketException, OSError) as exc:
        out.problem = f"the WebSocket failed: {type(exc).__name__}: {exc}"
    finally:
        ws.close()
    return out


def transcript_wer(s: Session, reference: str) -> tuple[float, str]:
    """The transcript and its WER. What the last result holds is not confirmed (the whole session, or its last
    utterance), so both readings are scored and the better counts: the last result alone, or every completed
    transcript joined."""
    completed = [str(e.get("transcript", "")).strip() for _, e in s.of(COMPLETED)]
    readings = {completed[-1] if completed else "", " ".join(t for t in completed if t)}
    return min((wer(reference, text), text) for text in readings)


def problems(s: Session, reference: str, max_wer: float, max_response_s: float) -> list[str]:
    """What breaks the contract: no last result (or an error), a transcript over the WER bound, or a last
    result later than max_response_s after the audio ended."""
    found = [s.problem] if s.problem else []
    found += [f"error event: {m}" for m in s.errors]
    last = s.last
    if last is None:
        return found or ["no completed event with is_last_result"]
    score, text = transcript_wer(s, reference)
    if score > max_wer:
        found.append(f"WER {score:.2f} over {max_wer}: heard {text!r}, expected {reference!r}")
    if s.done_at is not None and last[0] - s.done_at > max_response_s:
        late = last[0] - s.done_at
        found.append(f"the last result came {late:.2f} s after the audio ended, bound {max_response_s} s")
    return found


def usage_problems(s: Session, audio_s: float, promised: bool) -> list[str]:
    """Speech NIM 26.10's usage on completed events: cumulative (never going back), the last one's covering the
    whole stream; checked where the release promises it, or where the server sends it anyway."""
    from rivaverify.nim import usage_problem

    completed = [e for _, e in s.of(COMPLETED)]
    counted = [e["usage"].get("seconds") for e in completed if isinstance(e.get("usage"), dict)]
    found = []
    if counted and any(isinstance(a, int | float) and isinstance(b, int | float) and b < a
                       for a, b in zip(counted, counted[1:], strict=False)):
        found.append(f"usage.seconds of the completed events goes back: {counted}")
    last = s.last
    if last is not None:
        found += [p for p in [usage_problem(last[1], audio_s, promised, "the last completed event")] if p]
    return found
