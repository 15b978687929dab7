"""The plain client the locust user is compared with: N grpc.aio streams at real-time pace, latency per
response measured the same way (response i - chunk i). Prints JSON.

    python benchmarks/aio_streams.py HOST:PORT N SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import grpc
from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

from rivaverify.asr import audio, client
from rivaverify.asr.latency import stats

CLIP = Path(__file__).resolve().parents[1] / "audio" / "en-US_sample.wav"


async def one_stream(host: str, pcm: audio.Audio, until: float, latencies: list[float]) -> int:
    done = 0
    async with grpc.aio.insecure_channel(host, options=client.KEEPALIVE) as channel:
        stub = rasr_grpc.RivaSpeechRecognitionStub(channel)
        cfg = client.config(pcm, "en-US")
        while time.perf_counter() < until:
            sent: list[float] = []

            async def requests(sent=sent):
                yield rasr.StreamingRecognizeRequest(streaming_config=rasr.StreamingRecognitionConfig(
                    config=cfg, interim_results=True))
                start = time.perf_counter()
                for i, chunk in enumerate(pcm.chunks(100)):
                    await asyncio.sleep(max(0.0, start + i * 0.1 - time.perf_counter()))
                    sent.append(time.perf_counter())
                    yield rasr.StreamingRecognizeRequest(audio_content=chunk)

            i = 0
            async for _ in stub.StreamingRecognize(requests()):
                latencies.append((time.perf_counter() - sent[min(i, len(sent) - 1)]) * 1000)
                i += 1
            done += 1
    return done


async def main(host: str, n: int, seconds: float) -> None:
    pcm = audio.load_pcm16(CLIP)
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    streams = await asyncio.gather(*(one_stream(host, pcm, until, latencies) for _ in range(n)))
    s = stats(latencies)
    print(json.dumps({"streams": sum(streams), "responses": s.n, "p50": s.p50, "p95": s.p95, "p99": s.p99}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
