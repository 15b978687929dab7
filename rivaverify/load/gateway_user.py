"""A locust user for rivagateway: streams corpus clips over WebSocket at real-time pace and fires one request
event per message (partial, final), as locust's streaming users should, plus one per connect and per stream.

    locust -f rivaverify/load/gateway_user.py --host ws://HOST:PORT      # RIVA__GATEWAY_API_KEY=... in the env

The gateway's settings (RIVA__GATEWAY_URL when --host is not given, RIVA__GATEWAY_API_KEY,
RIVA__GATEWAY_CA_CERT) come from the environment or .env, as for the suites; the corpus, chunk size, language,
shape and thresholds from our --riva-* options, as for the gRPC users. Latency of a message: its receive
time - the send time of the chunk its audio_processed reached (NVIDIA's riva_streaming_asr_client measure)."""

from __future__ import annotations

import itertools
import time

from locust import User, constant, task

from rivaverify.asr import audio, corpus
from rivaverify.gateway.client import (
    Event,
    GatewayError,
    GatewayStream,
    Refused,
    connect,
    latency_ms,
    run_stream,
    start_message,
    stream_url,
)
from rivaverify.load import hooks  # noqa: F401 (our options, thresholds)
from rivaverify.load.shapes import RivaShape  # noqa: F401 (this file also serves as a locustfile)
from rivaverify.settings import load

KIND = "WS"


class GatewayUser(User):
    wait_time = constant(0)
    clips_per_user = 4  # clips loaded per user (the corpus' first ones), used in turn

    def on_start(self) -> None:
        settings = load()
        ws_host = self.host if (self.host or "").startswith(("ws://", "wss://")) else None
        self.url = ws_host or settings.gateway_url  # a gRPC --host (another user's) is not the gateway's
        if not self.url:
            raise ValueError("no gateway to load: pass --host ws://HOST:PORT or set RIVA__GATEWAY_URL")
        stream_url(self.url)  # a clear error for a URL that is not ws:// or wss://
        self.key = settings.gateway_api_key.get_secret_value() if settings.gateway_api_key else None
        self.ca = str(settings.gateway_ca_cert) if settings.gateway_ca_cert else None
        opts = self.environment.parsed_options
        self.chunk_ms = opts.riva_chunk_ms or 100
        self.language, self.default_language = opts.riva_language, settings.language_code
        utts = corpus.load(opts.riva_corpus)[: self.clips_per_user]
        self.clips = itertools.cycle([(u, audio.load_pcm16(u.path)) for u in utts])

    def _fire(self, name: str, ms: float, length: int = 0, exc: BaseException | None = None) -> None:
        self.environment.events.request.fire(request_type=KIND, name=name, response_time=ms,
                                             response_length=length, exception=exc, context={})

    @task
    def stream_clip(self) -> None:
        utt, clip = next(self.clips)
        t0 = time.perf_counter()
        try:
            ws = connect(self.url, self.key, ca_cert=self.ca)
        except (Refused, GatewayError) as exc:
            self._fire("connect", (time.perf_counter() - t0) * 1000, exc=exc)
            return
        self._fire("connect", (time.perf_counter() - t0) * 1000)

        def on_event(e: Event, s: GatewayStream) -> None:
            kind = e.data.get("type")
            if kind == "error":
                self._fire("error", 0, exc=RuntimeError(f"{e.data.get('code')}: {e.data.get('message')}"))
                return
            ms = latency_ms(e, s, self.chunk_ms)
            if ms is not None:
                self._fire(kind, ms, len(e.data.get("text", "")))

        start = start_message(clip.rate, self.language or utt.lang or self.default_language, channels=clip.channels)
        s = run_stream(ws, clip.chunks(self.chunk_ms), start, self.chunk_ms, realtime=True,
                       timeout=60 + clip.duration_s, on_event=on_event)
        failed = None if s.close_code == 1000 else RuntimeError(f"closed {s.close_code} {s.close_reason}")
        self._fire("stream", s.seconds * 1000, len(s.transcript), failed)
