"""Reference-only staging time against a local S3 API server (goal <= 1 s; riva-130, the
seed's staging script, took about 4 s).

    python benchmarks/bench_artifact_reference.py [--runs 10]

  in-process   stage(reference_only=True) with a connected store: HEAD the source, write artifact.json and
               staging_complete.txt, verify
  command      `python -m rivaverify.cli.stage --reference-only` as a user runs it: interpreter, imports, client
  rerun        the command again on the same prefix (already staged: nothing written)
  aws CLI      what a shell script does with the aws CLI: head-object, then two `aws s3 cp` (when installed)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_artifact_server import client, median, s3_server  # noqa: E402

from rivaverify.artifact import S3Target, StageRequest, stage  # noqa: E402

BUCKET = "bench-reference"
SOURCE = "incoming/parakeet-rnnt-1.1b-en-US-deployable_v8.1.tar.gz"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    fig: dict[str, float] = {}
    with s3_server(stock=True) as endpoint, tempfile.TemporaryDirectory() as tmp:
        c = client(endpoint)
        c.create_bucket(Bucket=BUCKET)
        c.put_object(Bucket=BUCKET, Key=SOURCE, Body=os.urandom(1 << 20))
        store = S3Target(BUCKET, endpoint, "us-east-1", ("bench", "bench")).connect()
        times = []
        for i in range(args.runs):
            t = time.perf_counter()
            stage(store, StageRequest(f"s3://{BUCKET}/{SOURCE}", BUCKET, env=f"inproc{i}", reference_only=True,
                                      work_dir=Path(tmp)))
            times.append(time.perf_counter() - t)
        fig["in-process"] = median(times)

        env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(ROOT),
               "RIVA_ASR_MODEL_S3_URI": f"s3://{BUCKET}/{SOURCE}", "NVIDIA_DRIVERS_S3_BUCKET": BUCKET}
        for name, env_of in (("command", lambda i: f"cli{i}"), ("rerun", lambda i: "cli-rerun")):
            times = []
            for i in range(args.runs):
                argv = [sys.executable, "-m", "rivaverify.cli.stage", "--reference-only", "--endpoint-url", endpoint,
                        "--env", env_of(i), "--work-dir", tmp]
                t = time.perf_counter()
                subprocess.run(argv, env=env, cwd=tmp, check=True, capture_output=True)
                times.append(time.perf_counter() - t)
            fig[name] = median(times[1:] if name == "rerun" else times)

        if shutil.which("aws"):
            body = Path(tmp) / "artifact.json"
            body.write_text("{}")
            aws = ["aws", "--endpoint-url", endpoint]
            times = []
            for i in range(max(3, args.runs // 3)):
                dest = f"s3://{BUCKET}/aws{i}/parakeet-rnnt-1.1b-en-US/8.1/"
                t = time.perf_counter()
                subprocess.run([*aws, "s3api", "head-object", "--bucket", BUCKET, "--key", SOURCE], env=env,
                               check=True, capture_output=True)
                for name in ("artifact.json", "staging_complete.txt"):
                    subprocess.run([*aws, "s3", "cp", str(body), dest + name], env=env, check=True,
                                   capture_output=True)
                times.append(time.perf_counter() - t)
            fig["aws CLI"] = median(times)

    print(f"reference-only staging, median of {args.runs} runs, local S3 server (moto):")
    for name, value in fig.items():
        print(f"  {name:<11} {value:6.3f} s")
    ok = fig["command"] <= 1.0
    print(f"command {'<=' if ok else '>'} 1 s goal")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
