"""Talking to a rivagateway (its WebSocket stream, /ping, /health, /metrics), checking its event contract,
and running one as a process. Used by phase 070, the locust user and the benchmarks."""

from __future__ import annotations

import ctypes
import json
import math
import os
import re
import signal
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import websocket

from rivaverify.runtime.local import terminate

STREAM_PATH = "/v1/stream"
READY = "rivagateway listening on "
EVENT_KEYS = {"type": str, "text": str, "is_final": bool, "stability": (int, float),
              "audio_processed": (int, float), "seq": int}


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


def start_message(rate: int, language: str = "en-US", interim: bool = True, **extra: Any) -> dict[str, Any]:
    return {"type": "start", "language": language, "sample_rate": rate, "encoding": "LINEAR_PCM",
            "interim_results": interim, **extra}


def run_stream(ws: websocket.WebSocket, chunks: list[bytes], start: dict[str, Any] | str | None, chunk_ms: float = 100,
               realtime: bool = False, stop: bool = True, timeout: float = 60,
               on_event: Callable[[Event, GatewayStream], None] | None = None) -> GatewayStream:
    """Send the start message and the chunks (from a thread, at real-time pace if asked), then stop; read every
    event until the gateway closes (`on_event` sees each as it comes). The socket is closed at the end."""
    out = GatewayStream()
    t0 = time.perf_counter()
    lock = threading.Lock()
    failed: list[BaseException] = []

    def send() -> None:
        try:
            if start is not None:  # None: already sent, or left out on purpose
                ws.send(start if isinstance(start, str) else json.dumps(start))
            for i, chunk in enumerate(chunks):
                if realtime:
                    time.sleep(max(0.0, t0 + i * chunk_ms / 1000 - time.perf_counter()))
                ws.send_binary(chunk)
                with lock:
                    out.sent_at.append(time.perf_counter() - t0)
            if stop:
                out.stop_at = time.perf_counter() - t0
                ws.send(json.dumps({"type": "stop"}))
        except (OSError, websocket.WebSocketException) as exc:  # the gateway closed first: the reader says why
            failed.append(exc)

    sender = threading.Thread(target=send, daemon=True, name="gateway-send")
    sender.start()
    ws.settimeout(timeout)
    try:
        while True:
            opcode, frame = ws.recv_data_frame(True)
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
           timeout: float = 60, ca_cert: str | None = None) -> GatewayStream:
    ws = connect(url, api_key, how, timeout=min(timeout, 10), ca_cert=ca_cert)
    return run_stream(ws, pcm_chunks, start_message(rate, language, interim), chunk_ms, realtime, timeout=timeout)


def latency_ms(e: Event, s: GatewayStream, chunk_ms: float) -> float | None:
    """Receive time - send time of the chunk the event's audio_processed reached (NVIDIA's client pairs
    responses with chunks; the gateway sends events only for responses with results, so pair by audio)."""
    with_audio = e.data.get("audio_processed") or 0
    if not s.sent_at or with_audio <= 0:
        return None
    k = min(max(math.ceil(with_audio * 1000 / chunk_ms - 1e-6) - 1, 0), len(s.sent_at) - 1)
    return (e.at - s.sent_at[k]) * 1000


def contract_problems(s: GatewayStream, interim: bool = True) -> list[str]:
    """What breaks the event contract: keys and types, seq 1, 2, 3..., partials only before their final,
    a final last, is_final matching the type, audio_processed never going back, a normal close."""
    problems = []
    if not s.events:
        return [f"no event came back (close {s.close_code} {s.close_reason!r})"]
    for i, e in enumerate(s.events):
        for k, kind in EVENT_KEYS.items():
            if not isinstance(e.data.get(k), kind) or (kind is int and isinstance(e.data.get(k), bool)):
                problems.append(f"event {i + 1} has {k}={e.data.get(k)!r}: {e.data}")
        if e.data.get("seq") != i + 1:
            problems.append(f"event {i + 1} has seq {e.data.get('seq')}, expected {i + 1}")
        if e.data.get("type") not in ("partial", "final"):
            problems.append(f"event {i + 1} is {e.data.get('type')!r}: {e.data}")
        elif e.data["is_final"] != (e.data["type"] == "final"):
            problems.append(f"event {i + 1} is a {e.data['type']} with is_final={e.data['is_final']}")
    audio = [e.data.get("audio_processed", 0) for e in s.events]
    if any(b < a - 1e-6 for a, b in zip(audio, audio[1:], strict=False)):
        problems.append(f"audio_processed went back: {audio}")
    if s.events[-1].data.get("type") != "final":
        problems.append(f"the last event is a {s.events[-1].data.get('type')}, not a final")
    if interim and not s.partials:
        problems.append("interim results were asked for and no partial came")
    if not interim and s.partials:
        problems.append(f"interim results were off and {len(s.partials)} partials came")
    if s.close_code != 1000:
        problems.append(f"closed with {s.close_code} {s.close_reason!r}, expected 1000 after the last final")
    return problems


def get(url: str, path: str, timeout: float = 10, ca_cert: str | None = None, **kw: Any) -> requests.Response:
    try:
        return requests.get(http_base(url) + path, timeout=timeout, verify=ca_cert or True, **kw)
    except requests.RequestException as exc:
        raise GatewayError(f"GET {http_base(url)}{path} failed: {exc}; is the gateway running?") from None


_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text format: sample name -> [(labels, value)]; HELP/TYPE lines skipped."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not line.startswith("#"):
            out.setdefault(m.group(1), []).append((dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def metric(samples: dict, name: str, **labels: str) -> float:
    """The sum of a sample's values whose labels include `labels` (0 when absent)."""
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))


def write_keys(path: Path, keys: dict[str, str]) -> Path:
    """A key file (key_id:key lines) only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(f"{k}:{v}\n" for k, v in keys.items()))
    return path


def command(riva: str, keys: Path | None, listen: str = "127.0.0.1:0", args: tuple[str, ...] = ()) -> list[str]:
    script = Path(sys.executable).parent / "rivagateway"
    exe = [str(script)] if script.exists() else [sys.executable, "-m", "rivagateway.cli"]
    auth = ["--keys", str(keys)] if keys is not None else ["--no-auth"]
    return [*exe, "--riva", riva, "--listen", listen, *auth, *args]


def _die_with_parent() -> None:
    """In the child: SIGTERM when the process that started it dies (Linux), so none outlives a killed run."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class GatewayProcess:
    """`rivagateway` as a child process in its own process group, logging to a file."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.argv, self.log_path, self.env = argv, Path(log_path), env
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 30) -> GatewayProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         process_group=0, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if READY in line:
                    self.url = line.split(READY, 1)[1].split()[0]
                    return self
            if self.proc.poll() is not None:
                raise GatewayError(f"rivagateway exited with {self.proc.returncode} before serving: "
                                   f"{self.tail()} (log {self.log_path})")
            time.sleep(0.05)
        self.stop()
        raise GatewayError(f"rivagateway did not serve within {timeout:g} s (log {self.log_path}): {self.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL of its process group after `timeout`."""
        return terminate(self.proc, timeout)


@dataclass
class Gateway:
    """The gateway phase 070 checks: its URL, the keys the suite may use, and its process when it started it."""

    url: str
    keys: dict[str, str] = field(default_factory=dict, repr=False)  # key id -> key
    ca_cert: str | None = None
    process: GatewayProcess | None = None

    @property
    def key(self) -> str | None:
        return next(iter(self.keys.values()), None)

    @property
    def limit_key(self) -> str | None:
        """A key for the rate-limit check (its own when the suite made the keys)."""
        return self.keys.get("limits", self.key)
