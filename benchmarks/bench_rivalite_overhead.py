"""Serving overhead: riva-lite `Recognize` vs faster-whisper called directly on the same audio.

All paths run the model riva-lite deployed, with the same compute type, CPU threads and beam size (read
from the acoustic model's config.pbtxt) and the same transcribe() arguments:
  direct  faster-whisper in this process
  worker  faster-whisper in a separate Python process (as the model runs in Triton's backend stub)
  riva    riva-lite's Recognize: client -> Riva API -> Triton ensemble -> Whisper, and back
Calls rotate (direct, worker, riva; worker, riva, direct; ...) so drift on a shared machine hits all alike.
riva-lite also reports the time Whisper took inside it (trailing metadata `rivalite-model-seconds`), so
serving overhead (riva wall - Whisper time) shows apart from how fast Whisper ran in Triton's process.
Goal: riva <= 1.15x direct (medians).

    .venv/bin/python benchmarks/bench_rivalite_overhead.py [--runs 20] [--models DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

GOAL = 1.15
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "audio" / "en-US_sample.wav"
sys.path.insert(0, str(ROOT))  # testing/


def clips() -> dict[str, np.ndarray]:
    data, rate = sf.read(SAMPLE, dtype="float32")
    gap = np.zeros(rate, np.float32)
    long = np.concatenate([data, gap, data, gap, data])
    return {f"{len(d) / rate:.1f} s": d for d in (data, long)}


def whisper(models: Path):
    """transcribe(audio) as the acoustic model's execute() does it, minus Triton; and its parameters."""
    from faster_whisper import WhisperModel
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2 as mc

    import rivalite

    folder = models / rivalite.ACOUSTIC_MODEL
    config = text_format.Parse((folder / "config.pbtxt").read_text(), mc.ModelConfig())
    p = {k: v.string_value for k, v in config.parameters.items()}
    model = WhisperModel(
        str(folder / "1" / p["model_dir"]),
        device="cpu",
        compute_type=p["compute_type"],
        cpu_threads=int(p["cpu_threads"]),
        local_files_only=True,
    )
    language = p["language"] if model.model.is_multilingual else None

    def transcribe(audio: np.ndarray) -> str:
        segments, _ = model.transcribe(
            audio, language=language, beam_size=int(p["beam_size"]), word_timestamps=False, hotwords=None
        )
        return " ".join(s.text for s in segments)

    return transcribe, p


def worker(models: str) -> None:
    """--worker: transcribe the clip named on each stdin line; answer with a line when done."""
    transcribe, _ = whisper(Path(models))
    audio = clips()
    for line in sys.stdin:
        transcribe(audio[line.strip()])
        print("done", flush=True)


def q(values: list[float], pct: float = 50) -> float:
    return float(np.percentile(values, pct))


def measure(calls: dict, runs: int) -> dict[str, list[float]]:
    for fn in calls.values():  # warm-up, not counted
        fn(), fn()
    times = {name: [] for name in calls}
    names = list(calls)
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed calls per clip and path")
    parser.add_argument("--models", type=Path, help="a deployed repository (default: pack and deploy one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", metavar="MODELS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker) or 0
    import grpc
    from riva.client.proto import riva_asr_pb2 as rasr
    from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

    import rivalite
    from rivalite.asr_service import MODEL_SECONDS
    from testing.local_riva import LocalRiva

    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        work = Path(tmp)
        models = args.models or rivalite.deploy(rivalite.pack(work / "artifact"), work / "deploy")
        direct, params = whisper(models)
        child = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(models)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        with LocalRiva(models, work / "riva") as server, grpc.insecure_channel(server.riva_uri) as channel:
            server.wait_ready(120)
            stub = rasr_grpc.RivaSpeechRecognitionStub(channel)
            config = rasr.RecognitionConfig(language_code="en-US", max_alternatives=1)
            for name, audio in clips().items():
                buf = io.BytesIO()
                sf.write(buf, audio, 16000, format="WAV", subtype="PCM_16")
                request = rasr.RecognizeRequest(config=config, audio=buf.getvalue())
                model_s = []

                def riva_call(request=request, model_s=model_s):
                    _, call = stub.Recognize.with_call(request, timeout=120)
                    model_s.append(float(dict(call.trailing_metadata())[MODEL_SECONDS]))

                def worker_call(name=name):
                    child.stdin.write(name + "\n")
                    child.stdin.flush()
                    assert child.stdout.readline() == "done\n"

                times = measure(
                    {"direct": lambda a=audio: direct(a), "worker": worker_call, "riva": riva_call}, args.runs
                )
                model_s = model_s[2:]  # drop the warm-up calls
                figures[name] = {
                    **{f"{k}_median_s": q(v) for k, v in times.items()},
                    **{f"{k}_p90_s": q(v, 90) for k, v in times.items()},
                    "whisper_in_riva_median_s": q(model_s),
                    "serving_overhead_median_ms": 1000
                    * q([r - m for r, m in zip(times["riva"], model_s, strict=True)]),
                    "ratio_vs_direct": q(times["riva"]) / q(times["direct"]),
                    "ratio_vs_worker": q(times["riva"]) / q(times["worker"]),
                    "runs": args.runs,
                }
        left = server.leftovers()
        child.stdin.close()
        child.wait(30)
    print(
        f"model {rivalite.ACOUSTIC_MODEL}: compute_type {params['compute_type']}, "
        f"cpu_threads {params['cpu_threads']}, beam {params['beam_size']}; {args.runs} calls each, medians"
    )
    print(
        f"{'clip':<8}{'direct':>9}{'worker':>9}{'riva':>9}{'riva/direct':>13}{'riva/worker':>13}"
        f"{'whisper in riva':>17}{'serving overhead':>18}"
    )
    for name, f in figures.items():
        print(
            f"{name:<8}{f['direct_median_s']:>8.3f}s{f['worker_median_s']:>8.3f}s{f['riva_median_s']:>8.3f}s"
            f"{f['ratio_vs_direct']:>12.3f}x{f['ratio_vs_worker']:>12.3f}x{f['whisper_in_riva_median_s']:>16.3f}s"
            f"{f['serving_overhead_median_ms']:>15.1f} ms"
        )
    ok = all(f["ratio_vs_direct"] <= GOAL for f in figures.values())
    print(f"goal: riva-lite Recognize <= {GOAL}x faster-whisper direct: {'met' if ok else 'NOT met'}")
    if left:
        print(f"warning: processes left behind: {left}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
