"""How good phase 060's latency measurement is.

1. Its own cost: client CPU per streaming response of rivaverify.asr.client.stream + latency.measure, minus
   a bare gRPC loop doing the same stream, against the echo server (goal < 1 ms per response).
2. Its agreement with a second measurement made by riva-lite itself (RIVALITE_TRACE: per response, sent
   time - arrival of the chunk it answers): client p50 vs server p50 over the same responses (goal within 5 ms).

    python benchmarks/bench_latency_measurement.py [--streams 200] [--clips 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rivaverify.asr import audio, client, corpus  # noqa: E402
from rivaverify.asr.latency import measure, stats  # noqa: E402
from rivaverify.readiness import wait_until  # noqa: E402
from testing.fake_riva import FakeRiva  # noqa: E402

CLIP = ROOT / "audio" / "en-US_sample.wav"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def overhead(streams: int) -> None:
    with FakeRiva() as server:
        host = server.address
        pcm = audio.load_pcm16(CLIP)
        cfg = client.config(pcm, "en-US")
        chunks = pcm.chunks(100)
        a = client.auth(host)
        stub = rasr_grpc.RivaSpeechRecognitionStub(a.channel)

        def bare() -> int:
            reqs = [rasr.StreamingRecognizeRequest(streaming_config=rasr.StreamingRecognitionConfig(
                config=cfg, interim_results=True))] + [rasr.StreamingRecognizeRequest(audio_content=c) for c in chunks]
            return sum(1 for _ in stub.StreamingRecognize(iter(reqs)))

        def ours() -> int:
            s = client.stream(a, pcm, cfg, chunk_ms=100)
            measure(s, 100, pcm.duration_s)
            return len(s.responses)

        for fn in (bare, ours):  # warm both paths
            fn()
        cpu = {}
        for name, fn in (("bare", bare), ("ours", ours)):
            start, n = time.process_time(), 0
            for _ in range(streams):
                n += fn()
            cpu[name] = (time.process_time() - start, n)
        per = {k: s / n * 1000 for k, (s, n) in cpu.items()}
        print(f"1. measurement cost: {streams} streams, {cpu['ours'][1]} responses; client CPU per response "
              f"bare {per['bare']:.3f} ms, ours {per['ours']:.3f} ms: {per['ours'] - per['bare']:.3f} ms added "
              "(goal < 1 ms)")


def agreement(n_clips: int) -> None:
    import rivalite
    from testing.local_riva import LocalRiva

    clips = sorted(corpus.load(ROOT / "audio" / "manifest.json"), key=lambda u: u.duration)[:n_clips]
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.jsonl"
        repo = rivalite.deploy(rivalite.pack(Path(tmp) / "a"), Path(tmp) / "d")
        with LocalRiva(repo, Path(tmp) / "riva", env={"RIVALITE_TRACE": str(trace)}) as riva:
            riva.wait_ready()
            a = client.auth(riva.riva_uri)
            warm = audio.load_pcm16(clips[0].path)
            client.stream(a, warm, client.config(warm, "en-US"), realtime=True)  # warm-up, not counted
            trace.unlink(missing_ok=True)
            client_ms, diffs = [], []
            for n, utt in enumerate(clips, 1):
                pcm = audio.load_pcm16(utt.path)
                s = client.stream(a, pcm, client.config(pcm, "en-US"), chunk_ms=100, realtime=True)
                t = measure(s, 100, pcm.duration_s)
                mine = [(s.responses[i].at - s.sent_at[i]) * 1000 for i in range(len(s.sent_at))]
                client_ms += mine
                wait_until(lambda: trace.exists() and len(trace.read_text().splitlines()) >= n, 10,  # noqa: B023
                           "riva-lite's trace line of the stream")  # written when the stream ends
                server = [ms for ms, _ in json.loads(trace.read_text().splitlines()[-1])["ms"]]
                diffs += [c - sv for c, sv in zip(mine, server, strict=False)]
                if t.flags:
                    print("  flags:", t.flags)
            server_ms = [ms for line in trace.read_text().splitlines() for ms, _ in json.loads(line)["ms"]]
    c, sv, d = stats(client_ms), stats(server_ms), stats(diffs)
    print(f"2. agreement over {len(clips)} clips, {c.n} client / {sv.n} server responses: p50 client {c.p50:.1f} ms, "
          f"server {sv.p50:.1f} ms (|diff| {abs(c.p50 - sv.p50):.1f} ms, goal <= 5); p95 client {c.p95:.1f}, "
          f"server {sv.p95:.1f}; per response client - server: p50 {d.p50:.2f} ms, p95 {d.p95:.2f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, default=200)
    p.add_argument("--clips", type=int, default=4)
    args = p.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    overhead(args.streams)
    agreement(args.clips)


if __name__ == "__main__":
    main()
