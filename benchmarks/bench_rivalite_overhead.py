"""Serving overhead: riva-lite `Recognize` vs faster-whisper called directly on the same audio.

Both run the model riva-lite deployed, with the same compute type, CPU threads and beam size (read from
the acoustic model's config.pbtxt) and the same transcribe() arguments; the direct calls run in this
process. Calls alternate (direct, riva; riva, direct; ...) so drift on a shared machine hits both alike.
Goal: riva-lite <= 1.15x the direct wall time. riva-lite also reports the time Whisper took inside it
(trailing metadata `rivalite-model-seconds`), so serving overhead (riva wall - model time) is shown apart
from compute that ran slower or faster in Triton's process.

    .venv/bin/python benchmarks/bench_rivalite_overhead.py [--runs 20] [--models DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

import rivalite
from rivalite.local import LocalRiva
from rivalite.server import MODEL_SECONDS

GOAL = 1.15
SAMPLE = Path(__file__).resolve().parents[1] / "audio" / "en-US_sample.wav"


def wav_bytes(data: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def clips() -> dict[str, tuple[np.ndarray, bytes]]:
    data, rate = sf.read(SAMPLE, dtype="float32")
    gap = np.zeros(rate, np.float32)
    long = np.concatenate([data, gap, data, gap, data])
    return {f"{len(d) / rate:.1f} s": (d, wav_bytes(d, rate)) for d in (data, long)}


def direct_model(models: Path):
    from faster_whisper import WhisperModel

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

    def run(audio: np.ndarray) -> str:  # what the acoustic model's execute() does, minus Triton
        segments, _ = model.transcribe(
            audio, language=language, beam_size=int(p["beam_size"]), word_timestamps=False, hotwords=None
        )
        return " ".join(s.text for s in segments)

    return run, p


def q(values: list[float], pct: float) -> float:
    return float(np.percentile(values, pct))


def measure(asr_stub, rasr, audio, blob, runs: int) -> dict:
    request = rasr.RecognizeRequest(
        config=rasr.RecognitionConfig(language_code="en-US", max_alternatives=1), audio=blob
    )
    direct_s, riva_s, model_s = [], [], []

    def riva_call():
        t0 = time.perf_counter()
        _, call = asr_stub.Recognize.with_call(request, timeout=120)
        riva_s.append(time.perf_counter() - t0)
        model_s.append(float(dict(call.trailing_metadata())[MODEL_SECONDS]))

    def direct_call():
        t0 = time.perf_counter()
        DIRECT(audio)
        direct_s.append(time.perf_counter() - t0)

    for _ in range(2):  # warm-up, not counted
        DIRECT(audio), asr_stub.Recognize(request, timeout=120)
    for i in range(runs):
        for fn in (direct_call, riva_call) if i % 2 == 0 else (riva_call, direct_call):
            fn()
    overhead = [r - m for r, m in zip(riva_s, model_s, strict=True)]
    return {
        "direct_median_s": q(direct_s, 50),
        "direct_p90_s": q(direct_s, 90),
        "riva_median_s": q(riva_s, 50),
        "riva_p90_s": q(riva_s, 90),
        "riva_model_median_s": q(model_s, 50),
        "serving_overhead_median_ms": 1000 * q(overhead, 50),
        "ratio": q(riva_s, 50) / q(direct_s, 50),
        "runs": runs,
    }


DIRECT = None


def main() -> int:
    global DIRECT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed calls per clip and path")
    parser.add_argument("--models", type=Path, help="a deployed repository (default: pack and deploy one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    import grpc
    from riva.client.proto import riva_asr_pb2 as rasr
    from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        work = Path(tmp)
        models = args.models or rivalite.deploy(rivalite.pack(work / "artifact"), work / "deploy")
        DIRECT, params = direct_model(models)
        with LocalRiva(models, work / "riva") as server, grpc.insecure_channel(server.riva_uri) as channel:
            server.wait_ready(120)
            stub = rasr_grpc.RivaSpeechRecognitionStub(channel)
            for name, (audio, blob) in clips().items():
                figures[name] = measure(stub, rasr, audio, blob, args.runs)
        left = server.leftovers()
    print(
        f"model {rivalite.ACOUSTIC_MODEL}: compute_type {params['compute_type']}, "
        f"cpu_threads {params['cpu_threads']}, beam {params['beam_size']}; {args.runs} calls each"
    )
    print(
        f"{'clip':<8}{'direct':>9}{'riva':>9}{'ratio':>8}{'direct p90':>12}{'riva p90':>10}"
        f"{'whisper in riva':>17}{'serving overhead':>18}"
    )
    for name, f in figures.items():
        print(
            f"{name:<8}{f['direct_median_s']:>8.3f}s{f['riva_median_s']:>8.3f}s{f['ratio']:>7.3f}x"
            f"{f['direct_p90_s']:>11.3f}s{f['riva_p90_s']:>9.3f}s{f['riva_model_median_s']:>16.3f}s"
            f"{f['serving_overhead_median_ms']:>15.1f} ms"
        )
    ok = all(f["ratio"] <= GOAL for f in figures.values())
    print(f"goal: riva-lite Recognize <= {GOAL}x faster-whisper direct: {'met' if ok else 'NOT met'}")
    if left:
        print(f"warning: processes left behind: {left}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
