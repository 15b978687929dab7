"""Riva over a pool of grpc.aio channels: StreamingRecognize with retries, and the health check."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import grpc
from riva.client.proto import health_pb2, health_pb2_grpc, riva_asr_pb2, riva_asr_pb2_grpc, riva_audio_pb2

from rivagateway.protocol import Start

MAX_MESSAGE = 64 * 1024 * 1024
RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)
END = None  # the end of the audio in a stream's queue
WRITE_RACE = "Internal error from Core"  # grpc.aio's status for a write to a call that Riva just ended
PROBE_STEPS, PROBE_STEP_S = 10, 0.05  # after such a race: wait up to 0.5 s for Riva's own status


class RivaPool:
    """`size` channels to one Riva, used round-robin by streams (one HTTP/2 connection each)."""

    def __init__(self, target: str, size: int = 2, root_cert: bytes | None = None, api_key: str | None = None):
        options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE),
                   ("grpc.keepalive_time_ms", 30000), ("grpc.keepalive_timeout_ms", 10000),
                   ("grpc.initial_reconnect_backoff_ms", 500), ("grpc.max_reconnect_backoff_ms", 5000),
                   # a subchannel pool per channel, else gRPC shares one connection between them
                   ("grpc.use_local_subchannel_pool", 1)]
        if root_cert is not None:
            creds = grpc.ssl_channel_credentials(root_cert)
            self.channels = [grpc.aio.secure_channel(target, creds, options=options) for _ in range(size)]
        else:
            self.channels = [grpc.aio.insecure_channel(target, options=options) for _ in range(size)]
        self.target = target
        self.metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self._next = itertools.cycle(range(size))

    def channel(self) -> grpc.aio.Channel:
        return self.channels[next(self._next)]

    async def health(self, timeout: float) -> str:
        """'SERVING', 'NOT_SERVING', or the gRPC code that stopped the check (e.g. 'UNAVAILABLE')."""
        stub = health_pb2_grpc.HealthStub(self.channels[0])
        try:
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout,
                                    metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.channels), return_exceptions=True)


def streaming_config(start: Start) -> riva_asr_pb2.StreamingRecognitionConfig:
    """Riva's config for the stream; its audio is mono whatever the client sends (the session mixes it down)."""
    cfg = riva_asr_pb2.RecognitionConfig(
        encoding=riva_audio_pb2.AudioEncoding.Value(start.encoding), sample_rate_hertz=start.sample_rate,
        audio_channel_count=1, language_code=start.language, max_alternatives=1,
        enable_automatic_punctuation=start.punctuation, verbatim_transcripts=not start.punctuation,
        model=start.model)
    return riva_asr_pb2.StreamingRecognitionConfig(config=cfg, interim_results=start.interim_results)


async def connected(channel: grpc.aio.Channel, timeout: float) -> None:
    """Wait until the channel is READY; ConnectionError at once when its connection attempt failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    state = channel.get_state(try_to_connect=True)
    while state != grpc.ChannelConnectivity.READY:
        if state == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            raise ConnectionError("connection failed")
        await asyncio.wait_for(channel.wait_for_state_change(state), max(0.0, deadline - loop.time()))
        state = channel.get_state(try_to_connect=True)


class RivaStreamError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


async def recognize(pool: RivaPool, start: Start, audio: asyncio.Queue, timeout: float, connect_timeout: float,
                    retries: int, backoff: float, on_retry: Callable[[], None] = lambda: None,
                    replay_bytes: int = 4 << 20) -> AsyncIterator[riva_asr_pb2.StreamingRecognizeResponse]:
    """Responses of one StreamingRecognize fed from `audio` (bytes, then END).

    A stream Riva refuses (UNAVAILABLE) before its first response is retried with backoff; the audio sent
    until then is kept and sent again, so a retry loses nothing. At most `replay_bytes` are kept: past that,
    nothing is, and a refusal ends the stream (a retry would lose audio)."""
    config = streaming_config(start)
    # Riva answered once; the audio's END was taken; bytes in `sent`; over replay_bytes (nothing kept)
    state = {"answered": False, "done": False, "kept": 0, "over": False}
    sent: list[bytes] = []  # audio of the attempt, kept until Riva answers
    attempt = 0

    async def write(call, replay: list[bytes], probe: bool) -> None:
        """The config, the audio kept from a refused attempt, then the queue's audio until END. A write that
        races Riva's end of the call makes grpc.aio report INTERNAL instead of Riva's status: after such an
        attempt (`probe`), the config goes alone first and the audio only if Riva has not ended the call."""
        try:
            await call.write(riva_asr_pb2.StreamingRecognizeRequest(streaming_config=config))
            for _ in range(PROBE_STEPS if probe else 0):
                if call.done():
                    return
                await asyncio.sleep(PROBE_STEP_S)
            for chunk in replay:
                await call.write(riva_asr_pb2.StreamingRecognizeRequest(audio_content=chunk))
            while not state["done"]:
                chunk = await audio.get()
                if chunk is END:
                    state["done"] = True
                    break
                if not state["answered"] and not state["over"]:
                    state["kept"] += len(chunk)
                    state["over"] = state["kept"] > replay_bytes
                    if state["over"]:
                        sent.clear()
                    else:
                        sent.append(chunk)
                await call.write(riva_asr_pb2.StreamingRecognizeRequest(audio_content=chunk))
            await call.done_writing()
        except (grpc.RpcError, asyncio.InvalidStateError):
            pass  # the call ended: reading it raises its status

    probe = False
    while True:
        channel = pool.channel()
        writer = None
        try:
            await connected(channel, connect_timeout)
            stub = riva_asr_pb2_grpc.RivaSpeechRecognitionStub(channel)
            call = stub.StreamingRecognize(timeout=timeout, metadata=pool.metadata)
            writer = asyncio.create_task(write(call, list(sent), probe))
            try:
                async for resp in call:
                    if not state["answered"]:
                        state["answered"] = True
                        sent.clear()
                    yield resp
            finally:
                writer.cancel()
                call.cancel()
            return
        except TimeoutError:
            code, message = "UNAVAILABLE", f"Riva at {pool.target} not reachable within {connect_timeout:g} s"
        except ConnectionError:
            code, message = "UNAVAILABLE", f"cannot connect to Riva at {pool.target}"
        except grpc.aio.AioRpcError as exc:
            code, message = exc.code().name, exc.details() or ""
            raced = exc.code() == grpc.StatusCode.INTERNAL and message.startswith(WRITE_RACE)
            if state["answered"] or not (exc.code() in RETRYABLE or raced):
                raise RivaStreamError(code, message) from None
            probe = raced
        if state["over"]:
            raise RivaStreamError(code, f"{message} (not retried: Riva had not answered after {replay_bytes} bytes "
                                  "of audio, more than the gateway keeps to send again)")
        if attempt >= retries:
            raise RivaStreamError(code, f"{message} (after {attempt + 1} attempts)")
        attempt += 1
        on_retry()
        await asyncio.sleep(backoff * 2 ** (attempt - 1))
