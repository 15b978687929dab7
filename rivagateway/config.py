"""The gateway's settings: command-line options, each with an environment fallback RIVAGATEWAY_<NAME>."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "RIVAGATEWAY_"
RIVA_API_KEY_ENV = "RIVAGATEWAY_RIVA_API_KEY"  # the key the gateway sends to Riva: env only, never argv


@dataclass
class Config:
    riva: str = "localhost:50051"  # Riva gRPC HOST:PORT
    listen: str = "127.0.0.1:8080"  # HOST:PORT to serve on; port 0 picks a free one
    keys: Path | None = None  # key file: key_id:key lines; reloaded on SIGHUP
    no_auth: bool = False  # serve without keys (a trusted network only)
    key_header: str = "X-API-Key"  # besides Authorization: Bearer
    rate_limit: int = 60  # streams per key per window
    rate_window: float = 60.0  # seconds
    tls_cert: Path | None = None
    tls_key: Path | None = None
    riva_ssl_cert: Path | None = None  # root certificate for TLS to Riva
    riva_api_key: str | None = field(default=None, repr=False)  # from RIVAGATEWAY_RIVA_API_KEY only
    channels: int = 2  # pooled gRPC channels to Riva
    max_streams: int = 1000  # concurrent streams; more get HTTP 503
    max_frame_bytes: int = 1 << 16  # one message; audio held per stream <= audio_buffer_frames x this (4 MiB)
    audio_buffer_frames: int = 64  # frames waiting for Riva; x max_frame_bytes: audio kept for a retry
    event_buffer: int = 256  # events waiting for the client
    buffer_timeout: float = 5.0  # how long a full buffer may stay full before the stream is closed
    start_timeout: float = 10.0  # the start message must come this soon
    idle_timeout: float = 30.0  # no message for this long closes the stream
    max_stream_seconds: float = 3600.0
    riva_timeout: float = 10.0  # connect (and health check) deadline per attempt
    riva_retries: int = 3  # retries of a stream Riva refused before it answered
    retry_backoff: float = 0.2  # first retry wait, doubled each time
    health_timeout: float = 2.0
    access_log: bool = True

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "0.0.0.0", int(port)

    def check(self) -> None:
        """Raise ValueError naming the option and what to give instead."""
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"--listen {self.listen!r}: give HOST:PORT, e.g. 127.0.0.1:8080 (port 0: a free one)")
        h, sep, p = self.riva.rpartition(":")
        if not sep or not h or not p.isdigit():
            raise ValueError(f"--riva {self.riva!r}: give Riva's gRPC HOST:PORT, e.g. localhost:50051")
        if self.keys is None and not self.no_auth:
            raise ValueError("no API keys: give --keys FILE (key_id:key lines), or --no-auth on a trusted network")
        if self.keys is not None and self.no_auth:
            raise ValueError("--keys and --no-auth exclude each other: pick one")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("TLS needs both --tls-cert and --tls-key (PEM files)")
        for name in ("tls_cert", "tls_key", "riva_ssl_cert"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"--{name.replace('_', '-')} {path}: no such file")
        for name in ("rate_limit", "channels", "max_streams", "max_frame_bytes", "audio_buffer_frames",
                     "event_buffer"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.riva_retries < 0:
            raise ValueError("--riva-retries must be 0 or more")


HELP = {
    "riva": "Riva gRPC HOST:PORT", "listen": "HOST:PORT to serve on (port 0: a free one, printed at start)",
    "keys": "API key file, one key_id:key a line; reloaded on SIGHUP", "no_auth": "serve without API keys",
    "key_header": "header that may carry the key, besides Authorization: Bearer",
    "rate_limit": "streams a key may open per window", "rate_window": "rate-limit window, seconds",
    "tls_cert": "serve wss:// and https:// with this certificate (PEM)", "tls_key": "the certificate's key (PEM)",
    "riva_ssl_cert": "root certificate for TLS to Riva", "channels": "pooled gRPC channels to Riva",
    "max_streams": "concurrent streams; more get HTTP 503", "max_frame_bytes": "largest message, bytes",
    "audio_buffer_frames": "audio frames buffered for Riva", "event_buffer": "events buffered for the client",
    "buffer_timeout": "seconds a buffer may stay full before the stream closes (1013 or 4001)",
    "start_timeout": "seconds to wait for the start message", "idle_timeout": "seconds without a message",
    "max_stream_seconds": "longest stream, seconds", "riva_timeout": "deadline to reach Riva per attempt, s",
    "riva_retries": "retries when Riva refuses a stream before answering", "retry_backoff": "first retry wait, s",
    "health_timeout": "Riva health check deadline for /health, s", "access_log": "log one line per request",
}


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(
        prog="rivagateway", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="WebSocket gateway in front of Riva ASR. Every option also reads "
        f"{ENV_PREFIX}<NAME> (e.g. {ENV_PREFIX}RIVA); the key sent to Riva comes from {RIVA_API_KEY_ENV} only.")
    defaults = Config()
    for f in fields(Config):
        if f.name == "riva_api_key":
            continue
        flag = "--" + f.name.replace("_", "-")
        env = os.environ.get(ENV_PREFIX + f.name.upper())
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            on = (env or str(default)).lower() in ("1", "true", "yes")
            action = "store_true" if f.name.startswith("no_") else argparse.BooleanOptionalAction
            p.add_argument(flag, action=action, default=on, help=HELP[f.name])
            continue
        kind = {int: int, float: float}.get(type(default), str)
        try:
            default = kind(env) if env else default
        except ValueError:
            p.error(f"{ENV_PREFIX}{f.name.upper()}={env!r}: must be {kind.__name__}")
        p.add_argument(flag, type=kind, default=default, help=HELP[f.name])
    ns = p.parse_args(argv)
    cfg = Config(**{k: v for k, v in vars(ns).items()})
    for name in ("keys", "tls_cert", "tls_key", "riva_ssl_cert"):
        value = getattr(cfg, name)
        setattr(cfg, name, Path(value) if value else None)
    cfg.riva_api_key = os.environ.get(RIVA_API_KEY_ENV) or None
    try:
        cfg.check()
    except ValueError as exc:
        p.error(str(exc))
    return cfg
