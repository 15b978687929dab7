"""Locust users for Riva over gRPC: streaming at real-time pace (one event per response) and Recognize.

Events (request_type "grpc"): "partial" and "final" for each streaming response, with its latency measured
as NVIDIA's riva_streaming_asr_client does (rivaverify.asr.latency); "stream" for a whole stream (its
response_length is the number of chunks sent); "recognize" for an offline call. A failure carries its gRPC
code. The server comes from --host (HOST:PORT, grpc://HOST:PORT, or grpcs://HOST:PORT for TLS).
"""

from __future__ import annotations

import random
import time
from functools import cache

import grpc
from locust import User, constant, events, task

from rivaverify.asr import audio, client, client_aio, corpus
from rivaverify.asr.latency import response_ms
from rivaverify.load import checks, options
from rivaverify.load.engine import engine
from rivaverify.load.options import target


class RivaError(Exception):
    """A failed RPC, shown by locust as '<CODE>: <details>'."""


@events.init_command_line_parser.add_listener
def _options(parser, **_kwargs):
    options.add(parser)


_PEAK = {"users": 0}


@events.spawning_complete.add_listener
def _peak(user_count, **_kwargs):
    _PEAK["users"] = max(_PEAK["users"], user_count)


@events.quitting.add_listener
def _thresholds(environment, **_kwargs):
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    found = checks.problems(environment.stats, environment.parsed_options, _PEAK["users"])
    for line in found:
        print(f"riva-verify threshold failed: {line}", flush=True)
    if found:
        environment.process_exit_code = 1


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
            return None


async def _channel(host: str, cert: str | None):
    return client_aio.channel(host, cert, options=client.KEEPALIVE)


def client_default_host() -> str:
    from rivaverify.settings import load

    return load().host


class RivaStreamingUser(_RivaUser):
    """Streams corpus clips at real-time pace, one after another, on its own channel."""

    weight = 3

    @task
    def stream(self):
        opts = self.environment.parsed_options
        utt, pcm = random.choice(self.clips)
        cfg = client.config(pcm, utt.lang or opts.riva_language, model=opts.riva_model)

        def on_response(streamed, response):  # on the engine's thread: the event goes to gevent's hub
            i = len(streamed.responses) - 1
            self.engine.to_hub(self.fire, "final" if response.final else "partial", response_ms(streamed, i))

        s = self.call("stream", client_aio.stream, pcm, cfg, chunk_ms=opts.riva_chunk_ms, realtime=True,
                      on_response=on_response, timeout=pcm.duration_s + 120)
        if s is not None:
            self.fire("stream", s.seconds * 1000, len(s.sent_at))


class RivaRecognizeUser(_RivaUser):
    """Sends whole corpus clips to Recognize, one after another."""

    weight = 1

    @task
    def recognize(self):
        opts = self.environment.parsed_options
        utt, pcm = random.choice(self.clips)
        cfg = client.config(pcm, utt.lang or opts.riva_language, model=opts.riva_model)
        r = self.call("recognize", client_aio.recognize, pcm, cfg, timeout=120)
        if r is not None:
            self.fire("recognize", r.seconds * 1000, len(r.transcript))
