"""Full staging of a deployable archive through a local S3 API server: `rivaverify stage` against the same data
movement done with plain boto3 calls (what `aws s3 cp` does) and, when installed, the aws CLI itself.

    python benchmarks/bench_artifact_stage.py [--size-mib 1024] [--rounds 3] [--dir DIR] [--stock]

Each tool, each round, stages the same source into its own empty prefix from an empty work dir:
  boto3:  download_file, tarfile extractall, copy (server side) of the source, upload_file of the .riva,
          put of three small files; no hashing, no verification
  aws:    aws s3 cp (download), tar xzf, aws s3 cp s3:// s3:// (server side), aws s3 cp (upload)
  ours:   stage(): parallel ranged download, hashed and extracted (safely, .riva hashed as written) as it
          arrives; server side copy of the source while the .riva uploads; checksums.sha256 + artifact.json,
          HEAD of every object, marker last
Goal: ours <= 1.2x boto3. The machine may be shared: best (least disturbed) and median runs are both shown.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_artifact_server import client, make_file, median, reset, s3_server  # noqa: E402

from rivaverify.artifact import S3Target, StageRequest, stage  # noqa: E402

MiB = 1 << 20
BUCKET = "bench-artifacts"


def make_archive(folder: Path, size: int) -> Path:
    """bench-asr-en-US-deployable_v1.tar.gz holding a .riva of random bytes (gzip -1; reused if present)."""
    archive = folder / f"bench-asr-en-US-deployable_v{size // MiB}.tar.gz"
    if archive.exists():
        return archive
    riva = folder / "bench.riva"
    make_file(riva, size)
    partial = archive.with_suffix(".partial")
    with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as tar:
            tar.add(riva, arcname="bench/bench.riva")
    partial.rename(archive)
    riva.unlink()
    return archive


def boto3_baseline(c, src_key: str, prefix: str, work: Path) -> dict[str, float]:
    times, t = {}, time.perf_counter()
    local = work / Path(src_key).name
    c.download_file(BUCKET, src_key, str(local))
    times["download"] = time.perf_counter() - t
    t = time.perf_counter()
    with tarfile.open(local) as tar:
        tar.extractall(work / "x", filter="data")
    times["extract"] = time.perf_counter() - t
    t = time.perf_counter()
    c.copy({"Bucket": BUCKET, "Key": src_key}, BUCKET, f"{prefix}source/{local.name}")
    times["copy"] = time.perf_counter() - t
    t = time.perf_counter()
    for riva in (work / "x").rglob("*.riva"):
        c.upload_file(str(riva), BUCKET, f"{prefix}models/{riva.name}")
    times["upload"] = time.perf_counter() - t
    t = time.perf_counter()
    for name in ("checksums.sha256", "artifact.json", "staging_complete.txt"):
        c.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"{}")
    times["small files"] = time.perf_counter() - t
    return times


def aws_cli_baseline(endpoint: str, src_key: str, prefix: str, work: Path) -> dict[str, float]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1"}
    aws = ["aws", "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors"]
    local = work / Path(src_key).name
    steps = {
        "download": [*aws, f"s3://{BUCKET}/{src_key}", str(local)],
        "extract": ["tar", "xzf", str(local), "-C", str(work)],
        "copy": [*aws, f"s3://{BUCKET}/{src_key}", f"s3://{BUCKET}/{prefix}source/{local.name}"],
        "upload": [*aws, str(work / "bench" / "bench.riva"), f"s3://{BUCKET}/{prefix}models/bench.riva"],
    }
    times = {}
    for name, argv in steps.items():
        t = time.perf_counter()
        subprocess.run(argv, env=env, check=True)
        times[name] = time.perf_counter() - t
    return times


def ours(target: S3Target, src_key: str, env: str, work: Path) -> dict[str, float]:
    store = target.connect()
    t = time.perf_counter()
    result = stage(store, StageRequest(f"s3://{BUCKET}/{src_key}", BUCKET, env=env, work_dir=work))
    total = time.perf_counter() - t
    assert result.status == "staged", result.status
    times: dict[str, float] = {}
    for s in result.steps:
        key = {"put": "small files", "mark": "small files"}.get(s["step"], s["step"])
        times[key] = times.get(key, 0) + s.get("seconds", 0)
    critical = sum(v for k, v in times.items() if k not in ("copy", "upload"))
    critical += max(times.get("copy", 0), times.get("upload", 0))  # these two run at the same time
    times["other (HEADs, verify)"] = total - critical
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "rivaverify-bench")
    ap.add_argument("--stock", action="store_true", help="moto as it is (ranged GETs read the whole object)")
    ap.add_argument("--no-aws-cli", action="store_true")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    archive = make_archive(args.dir, args.size_mib * MiB)
    print(f"archive {archive} ({archive.stat().st_size / MiB:.0f} MiB), ready in {time.perf_counter() - t:.1f} s")
    tools = ["boto3", "ours"] + ([] if args.no_aws_cli or not shutil.which("aws") else ["aws"])
    results: dict[str, list[dict[str, float]]] = {k: [] for k in tools}
    with s3_server(stock=args.stock) as endpoint:
        c = client(endpoint)
        src_key = f"incoming/{archive.name}"
        target = S3Target(BUCKET, endpoint, "us-east-1", ("bench", "bench"))
        for r in range(args.rounds):
            for tool in tools if r % 2 == 0 else tools[::-1]:
                reset(endpoint)  # an empty server for each run: same start, bounded memory
                c.create_bucket(Bucket=BUCKET)
                c.upload_file(str(archive), BUCKET, src_key)
                work = Path(tempfile.mkdtemp(prefix=f"{tool}-", dir=args.dir))
                prefix = f"{tool}{r}/bench-asr-en-US/{args.size_mib}/"
                try:
                    t = time.perf_counter()
                    if tool == "boto3":
                        steps = boto3_baseline(c, src_key, prefix, work)
                    elif tool == "aws":
                        steps = aws_cli_baseline(endpoint, src_key, prefix, work)
                    else:
                        steps = ours(target, src_key, f"{tool}{r}", work)
                    steps["total"] = time.perf_counter() - t
                    results[tool].append(steps)
                    print(f"round {r + 1} {tool:<5} {steps['total']:6.2f} s", flush=True)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    summary = {tool: {k: round(median([s.get(k, 0) for s in runs]), 3) for k in runs[0]}
               for tool, runs in results.items()}
    best = {tool: round(min(s["total"] for s in runs), 3) for tool, runs in results.items()}
    load = os.getloadavg()[0]
    print(f"\n{args.rounds} rounds, {args.size_mib} MiB, {'stock' if args.stock else 'range-caching'} moto, "
          f"{os.cpu_count()} CPUs, load average {load:.1f}; median steps in s:")
    for tool, steps in summary.items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in steps.items() if k != "total")
        print(f"  {tool:<5} best {best[tool]:6.2f} s  median {steps['total']:6.2f} s   ({parts})")
    ratio = summary["ours"]["total"] / summary["boto3"]["total"]
    ratio_best = best["ours"] / best["boto3"]
    print(f"ours / boto3 = {ratio:.2f} median, {ratio_best:.2f} best (goal <= 1.2)")
    if "aws" in summary:
        print(f"ours / aws CLI = {summary['ours']['total'] / summary['aws']['total']:.2f} median, "
              f"{best['ours'] / best['aws']:.2f} best")
    print(json.dumps({"size_mib": args.size_mib, "rounds": args.rounds, "load_average": round(load, 2),
                      "median_s": summary, "best_s": best, "ratio_ours_boto3_median": round(ratio, 3),
                      "ratio_ours_boto3_best": round(ratio_best, 3)}))
    return 0 if min(ratio, ratio_best) <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
