"""The JSON-over-WebSocket contract: the start message, events, close codes.

Client -> gateway: one text message {"type": "start", ...}, binary audio frames, then {"type": "stop"}.
Gateway -> client: text messages {"type": "partial"|"final"|"error", "text", "is_final", "stability",
"audio_processed", "seq"} in order, seq counting from 1; error events add "code" and "message". After the
last final the gateway closes with 1000; on an error it sends the error event, then closes with its code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from riva.client.proto import riva_audio_pb2

# Close codes (RFC 6455 ones where one fits, 4xxx: the gateway's own).
NORMAL = 1000  # the stream ended: every final was sent
GOING_AWAY = 1001  # the gateway is stopping (SIGTERM)
UNSUPPORTED = 1003  # audio before the start message, or a text message that is not JSON
POLICY = 1008  # a start or control message that breaks the contract
TOO_BIG = 1009  # a frame over --max-frame-bytes
RIVA_ERROR = 1011  # Riva failed or could not be reached (an error event says why)
OVERLOADED = 1013  # the audio buffer stayed full (audio sent faster than Riva takes it)
SLOW_CLIENT = 4001  # events were not read in time: the outgoing buffer stayed full
IDLE = 4002  # no message within --idle-timeout
TOO_LONG = 4003  # the stream ran past --max-stream-seconds

ENCODINGS = [n for n in riva_audio_pb2.AudioEncoding.keys() if n != "ENCODING_UNSPECIFIED"]
START_FIELDS = {"type", "language", "sample_rate", "encoding", "interim_results", "channels", "model",
                "punctuation"}


class ProtocolError(ValueError):
    """A client message that breaks the contract; the message says what to send instead."""


@dataclass(frozen=True)
class Start:
    language: str = "en-US"
    sample_rate: int = 16000
    encoding: str = "LINEAR_PCM"
    interim_results: bool = True
    channels: int = 1
    model: str = ""
    punctuation: bool = False


def parse_control(text: str) -> dict[str, Any]:
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"a text message must be JSON ({exc.msg}); send {{\"type\": \"start\", ...}} "
                            "first, audio as binary frames, then {\"type\": \"stop\"}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("a text message must be a JSON object with a \"type\" (start or stop)")
    return msg


def _typed(msg: dict, name: str, kind: type, default: Any) -> Any:
    value = msg.get(name, default)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ProtocolError(f"start message: {name} must be {kind.__name__}, got {value!r}")
    return value


def parse_start(msg: dict[str, Any]) -> Start:
    """Validate a start message; every problem names the field and what is allowed."""
    if msg.get("type") != "start":
        raise ProtocolError(f"the first message must be {{\"type\": \"start\", ...}}, got type {msg.get('type')!r}")
    unknown = sorted(set(msg) - START_FIELDS)
    if unknown:
        raise ProtocolError(f"start message: unknown field(s) {unknown}; allowed: {sorted(START_FIELDS)}")
    d = Start()
    start = Start(
        language=_typed(msg, "language", str, d.language),
        sample_rate=_typed(msg, "sample_rate", int, d.sample_rate),
        encoding=_typed(msg, "encoding", str, d.encoding).upper(),
        interim_results=_typed(msg, "interim_results", bool, d.interim_results),
        channels=_typed(msg, "channels", int, d.channels),
        model=_typed(msg, "model", str, d.model),
        punctuation=_typed(msg, "punctuation", bool, d.punctuation),
    )
    if not 8000 <= start.sample_rate <= 96000:
        raise ProtocolError(f"start message: sample_rate {start.sample_rate} is out of 8000..96000 Hz")
    if start.encoding not in ENCODINGS:
        raise ProtocolError(f"start message: encoding {start.encoding!r} is not one of {ENCODINGS}")
    if not 1 <= start.channels <= 8:
        raise ProtocolError(f"start message: channels {start.channels} is out of 1..8")
    if start.channels > 1 and start.encoding != "LINEAR_PCM":
        raise ProtocolError(f"start message: channels {start.channels} with encoding {start.encoding}: Riva takes "
                            "mono audio only; send mono, or LINEAR_PCM, which the gateway mixes down to mono")
    if not start.language:
        raise ProtocolError("start message: language is empty; give a BCP-47 code such as en-US")
    return start


def event(kind: str, seq: int, text: str = "", is_final: bool = False, stability: float = 0.0,
          audio_processed: float = 0.0, **extra: Any) -> str:
    return json.dumps({"type": kind, "text": text, "is_final": is_final, "stability": round(stability, 4),
                       "audio_processed": round(audio_processed, 4), "seq": seq, **extra})
