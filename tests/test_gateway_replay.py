"""rivagateway.riva.recognize without a server: a refused stream is retried with the audio kept for it, and that
audio is capped (a Riva that stays silent cannot make the gateway hold a stream's audio without bound)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from riva.client.proto import riva_asr_pb2

from rivagateway.protocol import Start
from rivagateway.riva import END, RivaStreamError, recognize

CHUNK = b"\0" * 1000


class Call:
    """A StreamingRecognize call: refuses (UNAVAILABLE) once `refuse_after` audio bytes came, else answers
    once the writing is done."""

    def __init__(self, refuse_after: int | None) -> None:
        self.refuse_after, self.audio, self.ended, self.closed = refuse_after, [], False, False

    async def write(self, request) -> None:
        if request.audio_content:
            self.audio.append(request.audio_content)

    async def done_writing(self) -> None:
        self.closed = True

    def done(self) -> bool:
        return self.ended

    def cancel(self) -> None:
        self.ended = True

    async def _responses(self):
        while not (self.closed if self.refuse_after is None else sum(map(len, self.audio)) >= self.refuse_after):
            await asyncio.sleep(0.001)
        if self.refuse_after is not None:
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                       details="refused by test")
        yield riva_asr_pb2.StreamingRecognizeResponse()

    def __aiter__(self):
        return self._responses()


class Pool:
    """One always-READY channel whose calls follow `script` (refuse_after per call)."""

    target, metadata = "riva.test:50051", ()

    def __init__(self, *script: int | None) -> None:
        self.script, self.calls = list(script), []

    def channel(self) -> Pool:
        return self

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return grpc.ChannelConnectivity.READY

    def stream_stream(self, *_args, **_kw):
        def start(**_kw) -> Call:
            self.calls.append(Call(self.script.pop(0)))
            return self.calls[-1]

        return start

    unary_unary = unary_stream = stream_stream  # the stub's other methods, unused


def run(pool: Pool, chunks: int, replay_bytes: int) -> list:
    async def main() -> list:
        audio: asyncio.Queue = asyncio.Queue()
        for _ in range(chunks):
            audio.put_nowait(CHUNK)
        audio.put_nowait(END)
        return [r async for r in recognize(pool, Start(), audio, 10, 1, retries=3, backoff=0.001,
                                           replay_bytes=replay_bytes)]

    return asyncio.run(asyncio.wait_for(main(), 10))


def test_a_refused_stream_is_sent_again_with_all_its_audio():
    pool = Pool(3 * len(CHUNK), None)
    assert len(run(pool, 3, replay_bytes=3 * len(CHUNK))) == 1
    assert [len(c.audio) for c in pool.calls] == [3, 3]


def test_past_the_cap_nothing_is_kept_and_a_refusal_is_not_retried():
    pool = Pool(3 * len(CHUNK), None)
    with pytest.raises(RivaStreamError, match=r"refused by test \(not retried: .* after 2999 bytes") as err:
        run(pool, 3, replay_bytes=3 * len(CHUNK) - 1)
    assert err.value.code == "UNAVAILABLE" and len(pool.calls) == 1
