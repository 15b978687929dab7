"""Memory of `rivaverify serve` over 1,000 runs: the real command (its own process, scraped for /metrics and
/healthz after every run), its resident memory read from /proc at every 100th run. Goal: flat (growth from run 100
to the last under 5 MiB).

Runs are made short so that 1,000 fit in minutes: a 0.2 s cut of the smoke clip (the stream is still real-time),
an interval of 0.05 s, and by default a minimal Riva in a process of its own (health, the model listing, Recognize,
StreamingRecognize answering the clip's text: the server is not what is measured). `--riva HOST:PORT` measures
against a real deployment instead (then the clip must be one it transcribes).

    .venv/bin/python benchmarks/bench_serve_memory.py [--runs 1000] [--riva HOST:PORT] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
import requests
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riva.client.proto import health_pb2, health_pb2_grpc, riva_asr_pb2, riva_asr_pb2_grpc  # noqa: E402

from rivalite.launcher import free_port  # noqa: E402
from rivaverify.cli.serve import READY  # noqa: E402
from rivaverify.process import Child  # noqa: E402
from rivaverify.readiness import wait_until  # noqa: E402

TEXT = "what is natural language processing"
GOAL_MIB = 5.0


class Minimal(riva_asr_pb2_grpc.RivaSpeechRecognitionServicer, health_pb2_grpc.HealthServicer):
    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    def GetRivaSpeechRecognitionConfig(self, request, context):
        return riva_asr_pb2.RivaSpeechRecognitionConfigResponse(model_config=[
            riva_asr_pb2.RivaSpeechRecognitionConfigResponse.Config(
                model_name=f"bench-asr-{kind}", parameters={"language_code": "en-US", "type": kind})
            for kind in ("offline", "online")])

    def _alt(self):
        return [riva_asr_pb2.SpeechRecognitionAlternative(transcript=TEXT)]

    def Recognize(self, request, context):
        return riva_asr_pb2.RecognizeResponse(results=[riva_asr_pb2.SpeechRecognitionResult(alternatives=self._alt())])

    def StreamingRecognize(self, requests_, context):
        for _ in requests_:
            pass
        yield riva_asr_pb2.StreamingRecognizeResponse(results=[
            riva_asr_pb2.StreamingRecognitionResult(alternatives=self._alt(), is_final=True)])


def minimal_server(port: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(4))
    riva_asr_pb2_grpc.add_RivaSpeechRecognitionServicer_to_server(Minimal(), server)
    health_pb2_grpc.add_HealthServicer_to_server(Minimal(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("minimal riva on", port, flush=True)
    server.wait_for_termination()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def clip(work: Path) -> Path:
    data, rate = sf.read(ROOT / "audio" / "en-US_sample.wav", dtype="int16")
    sf.write(work / "short.wav", data[: rate // 5], rate)
    manifest = work / "manifest.json"
    manifest.write_text(json.dumps({"audio_filepath": "short.wav", "text": TEXT, "duration": 0.2, "lang": "en-US"}))
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--riva", metavar="HOST:PORT", help="a real deployment (default: the minimal server)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fake = None
        if not args.riva:
            port = free_port()
            fake = Child([sys.executable, __file__, "--minimal-server", str(port)], work / "minimal.log")
            fake.start("minimal riva on", 30)
            args.riva = f"127.0.0.1:{port}"
        http = free_port()
        env = {**os.environ, "RIVA__TARGET": "endpoint", "RIVA__HOST": args.riva, "RIVA__CORPUS": str(clip(work))}
        serve = Child([sys.executable, "-m", "rivaverify.cli", "serve", "--listen", f"127.0.0.1:{http}",
                       "--interval", "0.05"], work / "serve.log", env=env, cwd=ROOT)
        serve.start(READY, 60)
        samples, t0 = [], time.monotonic()
        try:
            runs = 0
            while runs < args.runs:
                wait_until(lambda n=runs: requests.get(f"http://127.0.0.1:{http}/healthz", timeout=5).json()["runs"]
                           > n, 60, f"run {runs + 1}", interval_s=0.01)
                body = requests.get(f"http://127.0.0.1:{http}/healthz", timeout=5).json()
                requests.get(f"http://127.0.0.1:{http}/metrics", timeout=5)
                runs = body["runs"]
                if not body["last_run"]["passed"]:  # (the verdict may read stale: 2 intervals are 0.1 s)
                    raise SystemExit(f"run {runs} did not pass: {json.dumps(body['last_run'])[:600]}")
                if not samples or runs // 100 > samples[-1][0] // 100 or runs >= args.runs:
                    samples.append((runs, round(rss_mib(serve.pid), 1)))
                    print(f"run {runs:5d}: RSS {samples[-1][1]:.1f} MiB", flush=True)
        finally:
            serve.stop()
            if fake is not None:
                fake.stop()
    warm = next((rss for n, rss in samples if n >= 100), samples[0][1])
    growth = samples[-1][1] - warm
    result = {"runs": runs, "seconds": round(time.monotonic() - t0, 1), "rss_mib": samples,
              "growth_from_run_100_mib": round(growth, 1), "goal_mib": GOAL_MIB, "ok": growth < GOAL_MIB}
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--minimal-server"]:
        minimal_server(int(sys.argv[2]))
    else:
        main()
