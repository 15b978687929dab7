"""sha256 throughput on the same file: OpenSSL through hashlib, coreutils sha256sum, and the download path of
`rivaverify stage`, which hashes each part in file order as it arrives (same pass, never a second read).

    python benchmarks/bench_artifact_sha256.py [--size-mib 1024] [--repeat 3] [--dir DIR] [--stock]

Figures (best of --repeat, file in the page cache; wall clock unless CPU):
  hashlib        read the file in 8 MiB blocks into one buffer, hashlib.sha256 (OpenSSL); CPU: time in update
  sha256sum      coreutils, and `openssl dgst -sha256` when installed
  pipeline       the download's in-order hashing loop (parallel part fetches, ordered update) fed from memory
  in-download    bytes / time in sha256 while download() fetched the file from a local S3 server; its wall
                 time is longer than its CPU time when hashing shares the cores with the server and receiving
  download       download() with its sha256, and with sha256 switched off, against boto3's download_file
  read back      bytes read from files while downloading (/proc/self/io rchar): none, no second read
Goal: in-download >= 0.9x hashlib (CPU time per byte: robust to other load on the machine).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_artifact_server import client, make_file, s3_server  # noqa: E402

from rivaverify.artifact import S3Target  # noqa: E402
from rivaverify.artifact import download as dl  # noqa: E402

MiB = 1 << 20
GB = 1e9


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def hashlib_file(path: Path) -> str:
    """sha256 of the file, read in 8 MiB blocks; hashlib_file.cpu is the CPU time spent in update()."""
    h, buf, cpu = hashlib.sha256(), bytearray(8 * MiB), 0.0
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            c = time.thread_time()
            h.update(view[:n])
            cpu += time.thread_time() - c
    hashlib_file.cpu = cpu
    return h.hexdigest()


class TimedSha256:
    """hashlib.sha256 that adds up the wall and CPU time spent in update()."""

    wall = cpu = 0.0

    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def update(self, data) -> None:
        t, c = time.perf_counter(), time.thread_time()
        self.h.update(data)
        TimedSha256.wall += time.perf_counter() - t
        TimedSha256.cpu += time.thread_time() - c

    def hexdigest(self) -> str:
        return self.h.hexdigest()


class NoSha256(TimedSha256):
    def update(self, data) -> None:
        pass


def _cpu(path: Path) -> float:
    hashlib_file(path)
    return hashlib_file.cpu


def _timed(fn, *args) -> float:
    fn(*args)
    return fn.seconds


def pipeline(path: Path, want: str) -> None:
    """The download's in-order hashing loop (parallel fetches, ordered sha256) fed from memory, not a server."""
    data = path.read_bytes()
    part, size = 8 * MiB, len(data)
    h = hashlib.sha256()
    t = time.perf_counter()
    view = memoryview(data)
    dl._hash_in_order(-1, -(-size // part), part, size, set(), lambda i: view[i * part:(i + 1) * part], h, 10, None)
    pipeline.seconds = time.perf_counter() - t  # the read above is not part of the figure
    assert h.hexdigest() == want


def rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "rivaverify-bench")
    ap.add_argument("--stock", action="store_true", help="moto as it is (ranged GETs read the whole object)")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"random-{args.size_mib}.bin"
    make_file(path, args.size_mib * MiB)
    size = path.stat().st_size
    want = hashlib_file(path)  # also warms the page cache
    fig = {"hashlib": size / best(lambda: hashlib_file(path), args.repeat) / GB}
    fig["hashlib, CPU"] = size / min(_cpu(path) for _ in range(args.repeat)) / GB
    fig["pipeline"] = size / min(_timed(pipeline, path, want) for _ in range(args.repeat)) / GB
    for name, argv in (("sha256sum", ["sha256sum", str(path)]), ("openssl", ["openssl", "dgst", "-sha256", str(path)])):
        if shutil.which(argv[0]):
            fig[name] = size / best(lambda a=argv: subprocess.run(a, check=True, capture_output=True), args.repeat) / GB

    with s3_server(stock=args.stock) as endpoint:
        c = client(endpoint)
        c.create_bucket(Bucket="bench-sha")
        c.upload_file(str(path), "bench-sha", path.name)
        store = S3Target("bench-sha", endpoint, "us-east-1", ("bench", "bench")).connect()
        info = store.head("bench-sha", path.name)
        dest = args.dir / "download.bin"

        def ours(digest) -> str:
            dl.forget(dest)
            return dl.download(store, "bench-sha", info, dest, digest=digest)

        times, wall, cpu, reads = [], [], [], []
        for _ in range(args.repeat):
            TimedSha256.wall = TimedSha256.cpu = 0.0
            r0, t = rchar(), time.perf_counter()
            assert ours(TimedSha256) == want, "sha256 mismatch"
            times.append(time.perf_counter() - t)
            wall.append(TimedSha256.wall)
            cpu.append(TimedSha256.cpu)
            reads.append(rchar() - r0)
        fig["in-download, CPU"] = size / min(cpu) / GB
        fig["in-download, wall"] = size / min(wall) / GB
        fig["download with sha256 s"] = min(times)
        fig["download without sha256 s"] = best(lambda: ours(NoSha256), args.repeat)
        fig["boto3 download_file s"] = best(lambda: c.download_file("bench-sha", path.name, str(dest)), args.repeat)
        fig["read back GiB"] = max(reads) / (1 << 30)
        dl.forget(dest)

    print(f"sha256 of {size / MiB:.0f} MiB (best of {args.repeat}):")
    for name in ("hashlib", "sha256sum", "openssl", "pipeline", "in-download, wall"):
        if name in fig:
            print(f"  {name:<22} {fig[name]:6.2f} GB/s   {fig[name] / fig['hashlib']:.2f}x hashlib")
    for name in ("hashlib, CPU", "in-download, CPU"):
        print(f"  {name:<22} {fig[name]:6.2f} GB/s   {fig[name] / fig['hashlib, CPU']:.2f}x hashlib, CPU")
    print(f"  hashlib / sha256sum = {fig['hashlib'] / fig.get('sha256sum', float('nan')):.2f}x")
    print(f"download from the local S3 server ({'stock' if args.stock else 'range-caching'} moto):")
    for name in ("download with sha256 s", "download without sha256 s", "boto3 download_file s"):
        print(f"  {name[:-2]:<26} {fig[name]:6.2f} s   {size / fig[name] / GB:.2f} GB/s")
    print(f"  bytes read from files while downloading (rchar): {fig['read back GiB']:.3f} GiB for a "
          f"{size / (1 << 30):.2f} GiB object: the sha256 came from the received bytes")
    ratio = fig["in-download, CPU"] / fig["hashlib, CPU"]
    print(f"in-download / hashlib (CPU time per byte in sha256) = {ratio:.2f} (goal >= 0.9)")
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
