"""Parallel ranged download, hashed in the same pass, resumable; stamps that let a rerun skip verified files.

Parts are fetched by a bounded pool of ranged GETs and written where they belong as they arrive; the sha256
is fed from the same buffers in file order (a window keeps memory bounded), so no byte is read twice. A
journal (<file>.part.log) lists the parts on disk: an interrupted download continues from them.

Data is not fsync'ed (that would write every byte to disk before going on): journals and stamps name the
boot they were written in, and one from an earlier boot (the page cache may have been lost) counts for nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.retry import Backoff
from rivaverify.artifact.store import Bar, ObjectInfo, Store, s3_uri
from rivaverify.files import write_json_atomic

MiB = 1 << 20


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


BOOT = _boot_id()


def download(store: Store, bucket: str, info: ObjectInfo, dest: Path, *, part_size: int = 8 * MiB,
             concurrency: int = 10, bar: Bar | None = None, backoff: Backoff | None = None,
             sink: Callable[[bytes], None] | None = None, digest: Callable[[], Any] = hashlib.sha256) -> str:
    """Fetch s3://bucket/info.key to dest (replaced only when whole); return its sha256. `sink` gets the bytes
    in order too (an extractor); `digest` is the hash object to feed (benchmarks time it)."""
    part, journal = dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.log")
    header = json.dumps({"uri": s3_uri(bucket, info.key), "size": info.size, "etag": info.etag,
                         "part_size": part_size, "boot": BOOT}, sort_keys=True)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        done = _read_journal(journal, header) if part.exists() else set()
        if not done:
            part.unlink(missing_ok=True)
            journal.write_text(header + "\n")
        return _download(store, bucket, info, dest, part, journal, done, part_size, concurrency, bar,
                         backoff or Backoff(), sink, digest)
    except OSError as exc:
        raise ArtifactError(f"cannot write {part} ({exc}): free disk space or fix permissions, then rerun (the "
                            "parts already on disk are kept)") from exc


def _download(store: Store, bucket: str, info: ObjectInfo, dest: Path, part: Path, journal: Path, done: set[int],
              part_size: int, concurrency: int, bar: Bar | None, backoff: Backoff,
              sink: Callable[[bytes], None] | None, digest: Callable[[], Any]) -> str:
    nparts = -(-info.size // part_size)
    fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    lock = threading.Lock()
    hasher = digest()
    try:
        if os.fstat(fd).st_size != info.size:
            os.ftruncate(fd, info.size)
        with open(journal, "a") as log:

            def fetch(i: int) -> bytes:
                start = i * part_size
                end = min(start + part_size, info.size) - 1
                data = backoff.call(lambda: store.read_range(bucket, info.key, start, end, info.etag),
                                    f"part {i + 1}/{nparts}")
                _pwrite_all(fd, data, start)
                with lock:
                    log.write(f"{i}\n")
                    log.flush()
                return data

            _hash_in_order(fd, nparts, part_size, info.size, done, fetch, hasher, concurrency, bar, sink)
    finally:
        os.close(fd)
    os.replace(part, dest)
    journal.unlink(missing_ok=True)
    sha256 = hasher.hexdigest()
    mark_verified(dest, sha256, origin_of(bucket, info))
    return sha256


def origin_of(bucket: str, info: ObjectInfo) -> str:
    """What a downloaded file is a copy of: the object and its ETag (a new upload is a new origin)."""
    return f"{s3_uri(bucket, info.key)}#{info.etag}"


def _hash_in_order(fd: int, nparts: int, part_size: int, size: int, done: set[int], fetch, digest, concurrency: int,
                   bar: Bar | None, sink: Callable[[bytes], None] | None = None) -> None:
    window = concurrency + 2  # parts in flight or waiting to be hashed: bounds memory
    futures: dict[int, Future[bytes]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="rivaverify-get")
    submitted = 0
    try:
        for i in range(nparts):
            while submitted < min(nparts, i + window):
                if submitted not in done:
                    futures[submitted] = pool.submit(fetch, submitted)
                submitted += 1
            if i in done:  # on disk from an interrupted run: hashed from there
                data = os.pread(fd, min(part_size, size - i * part_size), i * part_size)
            else:
                data = futures.pop(i).result()
            digest.update(data)
            if sink is not None:
                sink(data)
            if bar is not None:
                bar.update(len(data))
    finally:
        for f in futures.values():
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _read_journal(journal: Path, header: str) -> set[int]:
    """Parts an interrupted run left on disk, if it fetched the same object with the same part size."""
    try:
        lines = journal.read_text().splitlines()
    except FileNotFoundError:
        return set()
    if not lines or lines[0] != header:
        return set()
    return {int(x) for x in lines[1:] if x.strip().isdigit()}


# stamps: a file verified once is not hashed again while its size and mtime stay the same ----------------

def _stamp(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def mark_verified(path: Path, sha256: str, origin: str = "") -> None:
    st = path.stat()
    write_json_atomic(_stamp(path), {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                     "origin": origin, "boot": BOOT})


def verified_sha256(path: Path, origin: str = "") -> str | None:
    """The sha256 recorded when `path` (fetched from `origin`) was verified, if unchanged since; else None."""
    try:
        stamp = json.loads(_stamp(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return None
    if (stamp.get("size"), stamp.get("mtime_ns"), stamp.get("origin", ""), stamp.get("boot")) != (
            st.st_size, st.st_mtime_ns, origin, BOOT):
        return None
    return stamp.get("sha256")


def forget(path: Path) -> None:
    path.unlink(missing_ok=True)
    _stamp(path).unlink(missing_ok=True)


def sha256_file(path: Path, bar: Bar | None = None, stamp: bool = True) -> str:
    """sha256 of a local file, read once in large blocks; stamped (a file of ours) or not (the user's)."""
    known = verified_sha256(path) if stamp else None
    if known:
        return known
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while block := f.read(8 * MiB):
            digest.update(block)
            if bar is not None:
                bar.update(len(block))
    sha256 = digest.hexdigest()
    if stamp:
        mark_verified(path, sha256)
    return sha256


def quarantine(path: Path, root: Path, why: str) -> Path:
    """Move a bad file out of the way (never deleted: it is evidence); return where it went."""
    where = root / "quarantine"
    where.mkdir(parents=True, exist_ok=True)
    target = where / f"{time.strftime('%Y%m%d-%H%M%S')}-{path.name}"
    os.replace(path, target)
    _stamp(path).unlink(missing_ok=True)
    target.with_name(target.name + ".why").write_text(why + "\n")
    return target


def check_sha256(path: Path, actual: str, expected: str | None, what: str, root: Path | None) -> None:
    """A mismatch raises an ArtifactError naming both values and the next step; a fetched copy (root given)
    is quarantined under root/quarantine first."""
    if expected is None or actual == expected.lower():
        return
    msg = f"{what}: sha256 {actual}, expected {expected}"
    where = f"; the file is quarantined at {quarantine(path, root, msg)}" if root is not None else ""
    raise ArtifactError(f"{msg}{where}; nothing was marked complete. The source changed or the copy is "
                        "corrupt: check the source, then rerun (or fix --expected-sha256)")
