"""Added latency of rivagateway over direct gRPC, on loopback (goal: <= 5 ms at p50 and p95).

echo (default): an echo Riva (testing.fake_riva) answers each audio chunk at once; the client sends one 100 ms
chunk and waits for its answer, again and again (ping-pong), once straight to the echo over gRPC and once through
the gateway over WebSocket, in alternating rounds. Both go through the same echo, so the difference is the
gateway: WebSocket in, gRPC out and back, WebSocket out.
--riva-lite: also the smoke clip streamed at real-time pace through riva-lite, directly and through the
gateway, latency as NVIDIA's riva_streaming_asr_client measures it (rivaverify.asr.latency), partial and final.

    python benchmarks/bench_gateway_latency.py [--messages 400] [--rounds 5] [--riva-lite --streams 5]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from riva.client.proto import riva_asr_pb2, riva_asr_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rivaverify.asr.latency import stats  # noqa: E402
from rivaverify.gateway.client import (  # noqa: E402
    Event,
    GatewayStream,
    connect,
    get,
    latency_ms,
    start_message,
    stream,
)
from rivaverify.gateway.metrics import metric, parse_metrics  # noqa: E402
from rivaverify.gateway.process import GatewayProcess, command, write_keys  # noqa: E402
from testing.fake_riva import FakeRiva  # noqa: E402

PCM = b"\x00\x01" * 1600  # 100 ms at 16 kHz
GOAL_MS = 5.0


def direct(address: str, n: int) -> list[float]:
    """Ping-pong over one StreamingRecognize: put a chunk, wait for its response."""
    chan = grpc.insecure_channel(address)
    stub = riva_asr_pb2_grpc.RivaSpeechRecognitionStub(chan)
    q: queue.Queue = queue.Queue()
    cfg = riva_asr_pb2.RecognitionConfig(encoding=1, sample_rate_hertz=16000, language_code="en-US",
                                         audio_channel_count=1)

    def requests():
        yield riva_asr_pb2.StreamingRecognizeRequest(
            streaming_config=riva_asr_pb2.StreamingRecognitionConfig(config=cfg, interim_results=True))
        while (chunk := q.get()) is not None:
            yield riva_asr_pb2.StreamingRecognizeRequest(audio_content=chunk)

    responses = stub.StreamingRecognize(requests())
    out = []
    for _ in range(n):
        t = time.perf_counter()
        q.put(PCM)
        next(responses)
        out.append((time.perf_counter() - t) * 1000)
    q.put(None)
    for _ in responses:
        pass
    chan.close()
    return out


def through(url: str, key: str, n: int) -> list[float]:
    """The same ping-pong through the gateway: a binary frame out, its partial event back."""
    ws = connect(url, key)
    ws.send(json.dumps(start_message(16000)))
    out = []
    for _ in range(n):
        t = time.perf_counter()
        ws.send_binary(PCM)
        ws.recv()
        out.append((time.perf_counter() - t) * 1000)
    ws.send(json.dumps({"type": "stop"}))
    _drain(ws)
    return out


def _drain(ws) -> None:
    try:
        while ws.recv():
            pass
    except Exception:  # noqa: BLE001 - closed by the gateway after the final
        pass


def line(name: str, values: list[float]) -> str:
    s = stats(values)
    return f"{name:<22} n={s.n:<6} p50 {s.p50:7.2f}  p90 {s.p90:7.2f}  p95 {s.p95:7.2f}  p99 {s.p99:7.2f}  ms"


def echo_bench(messages: int, rounds: int) -> dict:
    key = secrets.token_urlsafe(24)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    with FakeRiva() as echo:
        proc = GatewayProcess(command(echo.address, write_keys(tmp / "keys", {"bench": key}),
                                      args=("--no-access-log",)), tmp / "gw.log").start()
        try:
            direct(echo.address, 100), through(proc.url, key, 100)  # warm-up
            d, g = [], []
            for _ in range(rounds):
                d += direct(echo.address, messages)
                g += through(proc.url, key, messages)
            forward = parse_metrics(get(proc.url, "/metrics").text)
        finally:
            proc.stop()
    sd, sg = stats(d), stats(g)
    print(f"echo Riva, ping-pong of one 100 ms chunk, {rounds} rounds x {messages} messages each way")
    print(line("direct gRPC", d))
    print(line("through the gateway", g))
    added = {"p50": sg.p50 - sd.p50, "p95": sg.p95 - sd.p95, "p99": sg.p99 - sd.p99}
    met = "met" if max(added["p50"], added["p95"]) <= GOAL_MS else "NOT met"
    print(f"{'added by the gateway':<22} p50 {added['p50']:.2f} ms, p95 {added['p95']:.2f} ms, p99 {added['p99']:.2f} "
          f"ms (goal <= {GOAL_MS:g} ms at p50 and p95: {met})")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work on the host widens p95)")
    n = metric(forward, "rivagateway_forward_seconds_count")
    total = metric(forward, "rivagateway_forward_seconds_sum")
    print(f"{'gateway forward time':<22} mean {total / n * 1000:.3f} ms (Riva response in -> event written, "
          "rivagateway_forward_seconds)")
    return added


def riva_lite_bench(streams: int) -> None:
    import rivalite
    from rivaverify.asr import audio, client
    from testing.local_riva import LocalRiva

    tmp = Path(tempfile.mkdtemp(prefix="bench-gw-lite-"))
    repo = rivalite.deploy(rivalite.pack(tmp / "a"), tmp / "d")
    clip = audio.load_pcm16(ROOT / "audio" / "en-US_sample.wav")
    key = secrets.token_urlsafe(24)
    with LocalRiva(repo, tmp / "riva") as riva:
        riva.wait_ready()
        proc = GatewayProcess(command(riva.riva_uri, write_keys(tmp / "keys", {"bench": key}),
                                      args=("--no-access-log",)), tmp / "gw.log").start()
        try:
            auth = client.auth(riva.riva_uri)
            cfg = client.config(clip, "en-US")
            client.stream(auth, clip, cfg)  # warm-up
            d_part, d_fin, g_part, g_fin = [], [], [], []
            for _ in range(streams):
                direct_s = client.stream(auth, clip, cfg, realtime=True)
                as_gw = GatewayStream(sent_at=direct_s.sent_at)  # results paired the way the gateway's are
                for r in direct_s.received:
                    e = Event(r.at, {"audio_processed": r.audio_processed}, r.chunks_sent)
                    ms = latency_ms(e, as_gw, 100)
                    if ms is not None:
                        (d_fin if r.is_final else d_part).append(ms)
                s = stream(proc.url, clip.chunks(100), clip.rate, key, realtime=True)
                for e in s.events:
                    ms = latency_ms(e, s, 100)
                    if ms is not None:
                        (g_fin if e.data["is_final"] else g_part).append(ms)
        finally:
            proc.stop()
    print(f"\nriva-lite, the smoke clip ({clip.duration_s:.1f} s) at real-time pace, {streams} streams each way "
          "(each result paired with the chunk its audio_processed reached; riva-lite's decode time dominates)")
    print(line("direct, partials", d_part) if d_part else "direct: no partial")
    print(line("gateway, partials", g_part) if g_part else "gateway: no partial")
    print(line("direct, finals", d_fin) if d_fin else "direct: no final")
    print(line("gateway, finals", g_fin) if g_fin else "gateway: no final")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=400, help="messages per round and way")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--riva-lite", action="store_true", help="also compare through riva-lite at real-time pace")
    p.add_argument("--streams", type=int, default=5, help="riva-lite streams each way")
    a = p.parse_args()
    added = echo_bench(a.messages, a.rounds)
    if a.riva_lite:
        riva_lite_bench(a.streams)
    print(f"\nmedian of p50 and p95 added: {statistics.mean([added['p50'], added['p95']]):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
