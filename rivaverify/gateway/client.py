"""A client of a rivagateway: its URLs and key headers, the WebSocket stream (connect, send, read every event),
HTTP GETs of /ping, /health and /metrics, and per-event latency."""

from __future__ import annotations

import contextlib
import json
import math
import select
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import websocket

STREAM_PATH = "/v1/stream"


class GatewayError(RuntimeError):
    """The gateway could not be started or reached; the message says what to do."""


class Refused(Exception):
    """The gateway answered the WebSocket upgrade with an HTTP error (401, 429, 503, ...)."""

    def __init__(self, status: int, headers: dict[str, str], body: str):
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status, self.headers, self.body = status, headers, body


def stream_url(url: str) -> str:
    """ws(s)://host:port[/path]; the stream path is added when the URL has none."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"gateway URL {url!r}: give ws://HOST:PORT or wss://HOST:PORT")
    return urlunsplit((parts.scheme, parts.netloc, parts.path if parts.path not in ("", "/") else STREAM_PATH,
                       "", ""))


def http_base(url: str) -> str:
    parts = urlsplit(url)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"


def key_headers(api_key: str | None, how: str = "bearer", header: str = "X-API-Key") -> dict[str, str]:
    if not api_key:
        return {}
    return {"Authorization": f"Bearer {api_key}"} if how == "bearer" else {header: api_key}


@dataclass
class Event:
    at: float  # seconds since the stream started
    data: dict[str, Any]
    chunks_sent: int

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class GatewayStream:
    sent_at: list[float] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    seconds: float = 0.0
    stop_at: float | None = None

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.data.get("type") == kind]

    @property
    def finals(self) -> list[Event]:
        return self.of("final")

    @property
    def partials(self) -> list[Event]:
        return self.of("partial")

    @property
    def errors(self) -> list[Event]:
        return self.of("error")

    @property
    def transcript(self) -> str:
        return " ".join(" ".join(e.data["text"].split()) for e in self.finals if e.data["text"].strip())


def connect(url: str, api_key: str | None = None, how: str = "bearer", timeout: float = 10,
            ca_cert: str | None = None) -> websocket.WebSocket:
    """An open WebSocket to the gateway's stream endpoint; Refused when it answers with an HTTP error."""
    sslopt = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": ca_cert} if ca_cert else None
    try:
        return websocket.create_connection(stream_url(url), timeout=timeout, header=key_headers(api_key, how),
                                           sslopt=sslopt, enable_multithread=True)
    except websocket.WebSocketBadStatusException as exc:
        body = exc.resp_body.decode(errors="replace") if isinstance(exc.resp_body, bytes) else str(exc.resp_body)
        raise Refused(exc.status_code, {k.lower(): v for k, v in (exc.resp_headers or {}).items()}, body) from None
    except (ConnectionError, OSError, websocket.WebSocketException) as exc:
        raise GatewayError(f"cannot open {stream_url(url)}: {exc}; is the gateway running (GET /ping)?") from None


def start_message(rate: int, language: str = "en-US", interim: bool = True, channels: int = 1,
                  **extra: Any) -> dict[str, Any]:
    """The start of a stream of 16-bit PCM at `rate` Hz, `channels` interleaved (the gateway mixes them down)."""
    return {"type": "start", "language": language, "sample_rate": rate, "encoding": "LINEAR_PCM",
            "interim_results": interim, "channels": channels, **extra}


class Duplex:
    """One WebSocket read by one thread while another writes it. A TLS socket may not run an SSL read and an SSL
    write at once (the connection dies, closed 1006 within milliseconds of the upgrade: python-engineio#461,
    python-socketio#1568): over wss:// each operation holds a lock, and the reader waits for data outside it."""

    def __init__(self, ws: websocket.WebSocket):
        self.ws, self.tls = ws, isinstance(ws.sock, ssl.SSLSocket)
        self.lock: Any = threading.Lock() if self.tls else contextlib.nullcontext()

    def send(self, data: str | bytes, binary: bool = False) -> None:
        with self.lock:
            self.ws.send_binary(data) if binary else self.ws.send(data)

    def recv(self, timeout: float) -> tuple[int, Any]:
        """The next frame (opcode, frame); WebSocketTimeoutException when none comes within `timeout` s."""
        if self.tls and not self.ws.sock.pending():  # nothing decrypted and waiting: wait on the socket, unlocked
            if not select.select([self.ws.sock], [], [], timeout)[0]:
                raise websocket.WebSocketTimeoutException(f"no frame within {timeout:g} s")
        with self.lock:
            return self.ws.recv_data_frame(True)


def run_stream(ws: websocket.WebSocket, chunks: list[bytes], start: dict[str, Any] | str | None, chunk_ms: float = 100,
               realtime: bool = False, stop: bool = True, timeout: float = 60,
               on_event: Callable[[Event, GatewayStream], None] | None = None) -> GatewayStream:
    """Send the start message and the chunks (from a thread, at real-time pace if asked), then stop; read every
    event until the gateway closes (`on_event` sees each as it comes). The socket is closed at the end."""
    out = GatewayStream()
    t0 = time.perf_counter()
    lock = threading.Lock()
    failed: list[BaseException] = []

    duplex = Duplex(ws)

    def send() -> None:
        try:
            if start is not None:  # None: already sent, or left out on purpose
                duplex.send(start if isinstance(start, str) else json.dumps(start))
            for i, chunk in enumerate(chunks):
                if realtime:
                    time.sleep(max(0.0, t0 + i * chunk_ms / 1000 - time.perf_counter()))
                duplex.send(chunk, binary=True)
                with lock:
                    out.sent_at.append(time.perf_counter() - t0)
            if stop:
                out.stop_at = time.perf_counter() - t0
                duplex.send(json.dumps({"type": "stop"}))
        except (OSError, websocket.WebSocketException) as exc:  # the gateway closed first: the reader says why
            failed.append(exc)

    sender = threading.Thread(target=send, daemon=True, name="gateway-send")
    sender.start()
    ws.settimeout(timeout)
    try:
        while True:
            opcode, frame = duplex.recv(timeout)
            at = time.perf_counter() - t0
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data or b""
                out.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                out.close_reason = data[2:].decode(errors="replace")
                break
            if opcode == websocket.ABNF.OPCODE_TEXT:
                with lock:
                    n = len(out.sent_at)
                out.events.append(Event(at, json.loads(frame.data), n))
                if on_event is not None:
                    on_event(out.events[-1], out)
    except websocket.WebSocketTimeoutException:
        out.close_code = None
        out.close_reason = f"no close within {timeout:g} s"
    except (OSError, websocket.WebSocketConnectionClosedException):
        out.close_code = out.close_code or 1006
    finally:
        out.seconds = time.perf_counter() - t0
        try:
            ws.close(timeout=1)
        except (OSError, websocket.WebSocketException):
            pass
        sender.join(timeout=5)
    return out


def stream(url: str, pcm_chunks: list[bytes], rate: int, api_key: str | None = None, chunk_ms: float = 100,
           realtime: bool = False, interim: bool = True, language: str = "en-US", how: str = "bearer",
           timeout: float = 60, ca_cert: str | None = None, channels: int = 1) -> GatewayStream:
    ws = connect(url, api_key, how, timeout=min(timeout, 10), ca_cert=ca_cert)
    return run_stream(ws, pcm_chunks, start_message(rate, language, interim, channels), chunk_ms, realtime,
                      timeout=timeout)


def latency_ms(e: Event, s: GatewayStream, chunk_ms: float) -> float | None:
    """Receive time - send time of the chunk the event's audio_processed reached (NVIDIA's client pairs
    responses with chunks; the gateway sends events only for responses with results, so pair by audio)."""
    with_audio = e.data.get("audio_processed") or 0
    if not s.sent_at or with_audio <= 0:
        return None
    k = min(max(math.ceil(with_audio * 1000 / chunk_ms - 1e-6) - 1, 0), len(s.sent_at) - 1)
    return (e.at - s.sent_at[k]) * 1000


def get(url: str, path: str, timeout: float = 10, ca_cert: str | None = None, **kw: Any) -> requests.Response:
    try:
        return requests.get(http_base(url) + path, timeout=timeout, verify=ca_cert or True, **kw)
    except requests.RequestException as exc:
        raise GatewayError(f"GET {http_base(url)}{path} failed: {exc}; is the gateway running?") from None
