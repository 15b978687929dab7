"""Locust users for Riva over gRPC: streaming at real-time pace (one event per response) and Recognize.

Events (request_type "grpc"), fired as responses arrive, with the latencies phase 060 measures
(rivaverify.asr.latency, as NVIDIA's riva_streaming_asr_client): "partial" and "final" per response paired
with its chunk, "final_after_last_chunk" once per stream, "stream" for the whole stream (its response_length is
the number of chunks sent), "latency_flag" as a failure when the stream's pairing was flagged (counts that do
not pair, a negative latency); "recognize" for an offline call. A failed call carries its gRPC code and
its user waits FAILURE_PAUSE_S before the next. The server comes from --host (HOST:PORT, grpc://HOST:PORT, or
grpcs://HOST:PORT for TLS).
"""

from __future__ import annotations

import random
import time
from functools import cache

import grpc
from locust import User, constant, task

from rivaverify.asr import audio, client, client_aio, corpus
from rivaverify.asr.latency import measure, on_arrival
from rivaverify.load import hooks  # noqa: F401 (our options, thresholds)
from rivaverify.load.engine import engine
from rivaverify.load.options import target
from rivaverify.settings import Settings, load

FAILURE_PAUSE_S = 1.0


class RivaError(Exception):
    """A failed RPC, shown by locust as '<CODE>: <details>'."""


@cache
def clips(manifest: str) -> list[tuple[corpus.Utterance, audio.Audio]]:
    return [(u, audio.load_pcm16(u.path)) for u in corpus.load(manifest)]


class _RivaUser(User):
    abstract = True
    wait_time = constant(0)

    def on_start(self):
        opts = self.environment.parsed_options
        host, tls = target(self.host or client_default_host())
        cert = opts.riva_ssl_cert or None
        if tls and not cert:
            raise ValueError("grpcs:// needs --riva-ssl-cert (the server's root certificate)")
        self.metadata = client.api_key_metadata(opts.riva_api_key or None)
        self.engine = engine()
        self.channel = self.engine.run(lambda: _channel(host, cert))
        self.clips = clips(opts.riva_corpus)
        self.chunk_ms = opts.riva_chunk_ms or self.server_chunk_ms(host, cert, opts) or 100

    def server_chunk_ms(self, host: str, cert: str | None, opts) -> float | None:
        """The server chunk the deployment lists (GetRivaSpeechRecognitionConfig), as phase 060 streams."""
        a = client.auth(host, cert, opts.riva_api_key or None)
        try:
            language = opts.riva_language or default_settings().language_code
            return client.server_chunk_ms(client.list_models(a), language, opts.riva_model)
        except Exception:  # listing failed: the streams will say what is wrong
            return None
        finally:
            a.channel.close()

    def on_stop(self):
        self.engine.run(lambda: self.channel.close(grace=None))

    def fire(self, name: str, ms: float, length: int = 0, exc: Exception | None = None) -> None:
        self.environment.events.request.fire(request_type="grpc", name=name, response_time=ms,
                                             response_length=length, exception=exc, context={})

    def call(self, name: str, fn, *args, **kwargs):
        """fn(*args, **kwargs), its failure fired as `name` with its gRPC code (returns None then)."""
        start = time.perf_counter()
        try:
            return self.engine.run(lambda: fn(self.channel, *args, metadata=self.metadata, **kwargs))
        except grpc.RpcError as exc:
            self.fire(name, (time.perf_counter() - start) * 1000, 0, RivaError(f"{exc.code().name}: {exc.details()}"))
            time.sleep(FAILURE_PAUSE_S)  # no busy loop against a server that refuses every call
            return None

    def config(self, utt: corpus.Utterance, pcm: audio.Audio):
        opts = self.environment.parsed_options
        language = opts.riva_language or utt.lang or default_settings().language_code
        return client.config(pcm, language, model=opts.riva_model)


async def _channel(host: str, cert: str | None):
    return client_aio.channel(host, cert, options=client.KEEPALIVE)


@cache
def default_settings() -> Settings:
    return load()


def client_default_host() -> str:
    return default_settings().grpc_address


class RivaStreamingUser(_RivaUser):
    """Streams corpus clips at real-time pace, one after another, on its own channel."""

    weight = 3

    @task
    def stream(self):
        utt, pcm = random.choice(self.clips)
        chunks = pcm.chunk_count(self.chunk_ms)
        early = []  # responses that came before their chunk was sent

        def on_response(streamed, _response):  # on the engine's thread: the event goes to gevent's hub
            i = len(streamed.responses) - 1
            if len(streamed.sent_at) <= i < chunks:
                early.append(i)
            for event in on_arrival(streamed, i, chunks):
                self.engine.to_hub(self.fire, *event)

        s = self.call("stream", client_aio.stream, pcm, self.config(utt, pcm), chunk_ms=self.chunk_ms,
                      realtime=True, on_response=on_response, timeout=pcm.duration_s + 120)
        if s is None:
            return
        for i in early:
            r = s.responses[i]
            self.fire("final" if r.final else "partial", (r.at - s.sent_at[i]) * 1000)
        timing = measure(s, self.chunk_ms, pcm.duration_s)
        for flag in timing.flags:
            self.fire("latency_flag", 0, 0, RivaError(f"{utt.id}: {flag}"))
        if timing.final_after_last_chunk_ms is not None:  # once per stream, however many finals follow the end
            self.fire("final_after_last_chunk", timing.final_after_last_chunk_ms)
        self.fire("stream", s.seconds * 1000, len(s.sent_at))


class RivaRecognizeUser(_RivaUser):
    """Sends whole corpus clips to Recognize, one after another."""

    weight = 1

    @task
    def recognize(self):
        utt, pcm = random.choice(self.clips)
        r = self.call("recognize", client_aio.recognize, pcm, self.config(utt, pcm), timeout=120)
        if r is not None:
            self.fire("recognize", r.seconds * 1000, len(r.transcript))
