"""Extract the .riva files of a deployable archive, safely: nothing outside the target dir, no links."""

from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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
    """Write every .riva member of `archive` to out_dir/<basename>, hashing as it writes; return them.

    Any unsafe member (absolute path, '..', link out) rejects the whole archive; a .riva that is a link or
    not a regular file too. A file is renamed into place only when whole.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Extracted] = {}
    members = 0
    try:
        with open(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*", bufsize=MiB) as tar:
            for member in tar:
                members += 1
                reason = unsafe_reason(member)
                if reason:
                    raise ArtifactError(f"archive {archive} holds an unsafe member {member.name!r} ({reason}): "
                                        "refusing to extract anything from it; get the archive from a trusted "
                                        "source")
                if not member.name.endswith(".riva"):
                    continue
                name = PurePosixPath(member.name).name
                if not member.isfile():
                    raise ArtifactError(f"archive {archive}: {member.name!r} is a link or special file, not a "
                                        ".riva file: repack the archive with the file itself")
                if name in found:
                    raise ArtifactError(f"archive {archive} holds two files named {name}: rename one and repack")
                found[name] = _write(tar.extractfile(member), member.size, out_dir / name, bar)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno:
            raise ArtifactError(f"cannot extract {archive} into {out_dir} ({exc}): free disk space or fix "
                                "permissions, then rerun") from exc
        raise ArtifactError(f"cannot read archive {archive} ({exc}): it is empty, truncated or not a "
                            "tar/tar.gz; check the source") from exc
    if not found:
        raise ArtifactError(f"archive {archive} holds no .riva file ({members} members): a Riva deployable "
                            "archive holds <model>.riva files; check --source-uri")
    return list(found.values())


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
