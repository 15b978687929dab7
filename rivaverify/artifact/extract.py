"""Extract the .riva files of a deployable archive, safely: nothing outside the target dir, no links."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import queue
import tarfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rivaverify.artifact.download import forget, mark_verified, verified_sha256
from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.store import Bar

MiB = 1 << 20


@dataclass(frozen=True)
class Extracted:
    name: str
    path: Path
    size: int
    sha256: str


def unsafe_reason(member: tarfile.TarInfo) -> str | None:
    """Why a member could write outside the target dir, or None."""
    name = member.name.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):  # /x or C:/x
        return "absolute path"
    if ".." in path.parts:
        return "'..' in the path"
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname.replace("\\", "/"))
        if target.is_absolute() or ".." in target.parts:
            return f"link to {member.linkname!r} outside the archive"
    return None


def extract_riva(archive: Path, out_dir: Path, *, bar: Bar | None = None) -> list[Extracted]:
    """Write every .riva member of `archive` to out_dir/<basename>, hashing as it writes; return them."""
    with open(archive, "rb", buffering=MiB) as raw:
        return extract_stream(raw, str(archive), out_dir, bar=bar)


def _open_tar(fileobj: io.BufferedReader) -> tarfile.TarFile:
    """A tar read front to back from fileobj, gzip, bzip2 or xz by its first bytes. tarfile's "r:" mode only
    reads and skips forward here, and costs far less than its stream mode."""
    magic = fileobj.peek(6)[:6]
    inner: Any = fileobj
    if magic.startswith(b"\x1f\x8b"):
        inner = gzip.GzipFile(fileobj=fileobj, mode="rb")
    elif magic.startswith(b"BZh"):
        inner = bz2.BZ2File(fileobj)
    elif magic.startswith(b"\xfd7zXZ\x00"):
        inner = lzma.LZMAFile(fileobj)
    return tarfile.open(fileobj=inner, mode="r:")


def extract_stream(fileobj: io.BufferedReader, where: str, out_dir: Path, *,
                   bar: Bar | None = None) -> list[Extracted]:
    """extract_riva() of an archive read front to back from `fileobj` (`where` names it in errors).

    Any unsafe member (absolute path, '..', link out) rejects the whole archive; a .riva that is a link or
    not a regular file too. A file is renamed into place only when whole; on any error none is left.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Extracted] = {}
    members = 0
    try:
        with _open_tar(fileobj) as tar:
            for member in tar:
                members += 1
                reason = unsafe_reason(member)
                if reason:
                    raise ArtifactError(f"archive {where} holds an unsafe member {member.name!r} ({reason}): "
                                        "refusing to extract anything from it; get the archive from a trusted "
                                        "source")
                if not member.name.endswith(".riva"):
                    continue
                name = PurePosixPath(member.name).name
                if not member.isfile():
                    raise ArtifactError(f"archive {where}: {member.name!r} is a link or special file, not a "
                                        ".riva file: repack the archive with the file itself")
                if name in found:
                    raise ArtifactError(f"archive {where} holds two files named {name}: rename one and repack")
                found[name] = _write(tar.extractfile(member), member.size, out_dir / name, bar)
        if not found:
            raise ArtifactError(f"archive {where} holds no .riva file ({members} members): a Riva deployable "
                                "archive holds <model>.riva files; check --source-uri")
    except BaseException as exc:
        for done in found.values():
            forget(done.path)
        if isinstance(exc, OSError) and exc.errno:
            raise ArtifactError(f"cannot extract {where} into {out_dir} ({exc}): free disk space or fix "
                                "permissions, then rerun") from exc
        if isinstance(exc, tarfile.TarError | EOFError | OSError | ValueError | lzma.LZMAError | zlib.error):
            raise ArtifactError(f"cannot read archive {where} ({exc}): it is empty, truncated or not a "
                                "tar/tar.gz; check the source") from exc
        raise
    return list(found.values())


class StreamExtractor:
    """extract_stream() in a thread, fed the archive's bytes in order by another (the download): the archive
    is extracted while it arrives, not read back from disk afterwards."""

    def __init__(self, where: str, out_dir: Path) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)  # bounds memory: 4 parts
        self._result: list[Extracted] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(where, out_dir), name="rivaverify-extract",
                                        daemon=True)
        self._thread.start()

    def feed(self, data: bytes) -> None:
        self._queue.put(data)

    def finish(self) -> list[Extracted]:
        """The extracted files, once the whole archive was fed; the extraction's ArtifactError if it failed."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def abort(self) -> None:
        """The feed stopped early: end the thread (whatever it wrote is removed)."""
        self._queue.put(None)
        self._thread.join()

    def _run(self, where: str, out_dir: Path) -> None:
        reader = _QueueReader(self._queue)
        try:
            self._result = extract_stream(io.BufferedReader(reader, MiB), where, out_dir)
        except BaseException as exc:  # handed to finish()
            self._error = exc
        finally:
            reader.drain()  # the tar may end before the data: never leave the feeder blocked


class _QueueReader(io.RawIOBase):
    """The bytes put in a queue (None ends them), as a file that reads, tells and skips forward."""

    def __init__(self, q: queue.Queue[bytes | None]) -> None:
        self._queue, self._pending, self._eof, self._pos = q, memoryview(b""), False, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # forward only: what tarfile and gzip ask for when reading front to back

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = offset if whence == io.SEEK_SET else self._pos + offset if whence == io.SEEK_CUR else -1
        if target < self._pos:
            raise io.UnsupportedOperation("an archive that arrives can only be read forward")
        skip = bytearray(min(MiB, target - self._pos) or 1)
        while self._pos < target and self.readinto(memoryview(skip)[:target - self._pos]):
            pass
        return self._pos

    def readinto(self, buffer) -> int:
        while not self._pending:
            if self._eof:
                return 0
            item = self._queue.get()
            if item is None:
                self._eof = True
                return 0
            self._pending = memoryview(item)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        return n

    def drain(self) -> None:
        while not self._eof:
            self._eof = self._queue.get() is None


def _write(src, size: int, dest: Path, bar: Bar | None) -> Extracted:
    partial = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with open(partial, "wb", buffering=0) as out:
            while block := src.read(4 * MiB):
                digest.update(block)
                out.write(block)
                written += len(block)
                if bar is not None:
                    bar.update(len(block))
        if written != size:
            raise ArtifactError(f"{dest.name}: archive says {size} bytes, read {written}: the archive is truncated")
        forget(dest)
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    sha256 = digest.hexdigest()
    mark_verified(dest, sha256)
    return Extracted(dest.name, dest, size, sha256)


def already_extracted(out_dir: Path, names: dict[str, str]) -> list[Extracted] | None:
    """The files of an earlier extraction, when every one is still there and verified; else None."""
    out = []
    for name, sha256 in names.items():
        path = out_dir / name
        if verified_sha256(path) != sha256:
            return None
        out.append(Extracted(name, path, path.stat().st_size, sha256))
    return out or None
