"""The docker target's figures: building the riva-lite image (reuse, a source change, a requirements change on
the cached rootfs, cold with --cold) and `RIVA__TARGET=docker pytest suites/ -m smoke` to its verdict (first run
with a fresh work dir, then warm runs). Needs root, debootstrap and a Docker engine.

    python benchmarks/bench_docker_smoke.py [--runs 3] [--cold]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rivalite import image  # noqa: E402
from rivaverify.runtime import docker_engine  # noqa: E402


def timed(fn) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def smoke(work: Path, out: Path) -> float:
    riva, http, grpc_, metrics = free_ports(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVA__")}
    env.update({"RIVA__TARGET": "docker", "RIVA__HOST": f"localhost:{riva}", "RIVA__TRITON_HTTP_PORT": str(http),
                "RIVA__TRITON_GRPC_PORT": str(grpc_), "RIVA__TRITON_METRICS_PORT": str(metrics),
                "RIVA__WORK_DIR": str(work), "RIVA__REPORTS_DIR": str(out / "reports"),
                "RIVA__STATE_DIR": str(out / "state")})
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "suites/", "-m", "smoke", "-q", "-p", "no:cacheprovider"],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"smoke failed:\n{r.stdout[-3000:]}")
    return took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="also a cold build (fresh cache: debootstrap, downloads)")
    args = p.parse_args()
    client = docker_engine.client()
    quiet = lambda _line: None  # noqa: E731
    tag = image.build(client=client, log=quiet)
    print(f"image {tag}")
    print(f"build, image present (reuse): {timed(lambda: image.build(client=client, log=quiet)):.2f} s")
    rebuild = timed(lambda: image.build("riva-lite:bench", client=client, force=True, log=quiet))
    print(f"build, deps image kept (a source change): {rebuild:.1f} s")
    deps = timed(lambda: image.build("riva-lite:bench", client=client, force=True, force_deps=True, log=quiet))
    print(f"build, deps image again, rootfs and pip cache kept (a requirements change): {deps:.0f} s")
    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            cold = timed(lambda: image.build("riva-lite:bench", client=client, cache=Path(cache), force=True,
                                             force_deps=True, log=quiet))
        print(f"build, cold (debootstrap, downloads): {cold:.0f} s")
    client.images.remove("riva-lite:bench")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        first = smoke(work, Path(tmp) / "first")
        warm = [smoke(work, Path(tmp) / f"warm{i}") for i in range(args.runs)]
    print(f"docker smoke, fresh work dir (pack + deploy the model): {first:.1f} s")
    print(f"docker smoke, warm: median {statistics.median(warm):.1f} s of {[round(w, 1) for w in warm]}")


if __name__ == "__main__":
    main()
