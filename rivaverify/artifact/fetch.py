"""Fetch a staged artifact's models/*.riva into a local cache, verified; a rerun downloads nothing it has."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rivaverify.artifact import manifest as mf
from rivaverify.artifact.download import (
    MiB,
    check_sha256,
    download,
    forget,
    mark_verified,
    origin_of,
    sha256_file,
    verified_sha256,
)
from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.store import Bar, ObjectInfo, Store, parse_s3_uri


@dataclass(frozen=True)
class StagedArtifact:
    """A staged artifact as fetched: where it is in S3, what it says, and its verified local .riva files."""

    uri: str  # s3://<bucket>/<env>/<model>/<version>/
    artifact: dict[str, Any]  # artifact.json, parsed
    local_dir: Path  # the .riva files are under local_dir / "models"
    sha256: dict[str, str]  # .riva file name -> sha256, verified when fetched
    sizes: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)  # checksums.sha256: path -> sha256
    objects: dict[str, ObjectInfo] = field(default_factory=dict)  # path under the prefix -> object, at fetch
    artifact_raw: bytes = b""
    marker: str = ""
    downloaded_bytes: int = 0

    @property
    def artifact_id(self) -> str:
        return str(self.artifact.get("artifact_id", ""))

    @property
    def models(self) -> list[Path]:
        return [self.local_dir / "models" / name for name in sorted(self.sha256)]


def fetch(store: Store, uri: str, cache: Path, *, bars: Callable[[str, int], Bar] | None = None,
          log: Callable[[str], None] = lambda _: None, part_size: int = 8 * MiB,
          concurrency: int = 10) -> StagedArtifact:
    """The artifact staged at `uri` (a prefix ending in /), its .riva files under cache/<bucket>/<prefix>."""
    bucket, prefix = parse_s3_uri(uri)
    if not prefix.endswith("/"):
        raise ArtifactError(f"{uri} is not a staging prefix: write s3://BUCKET/<env>/<model>/<version>/")
    objects = {o.key[len(prefix):]: o for o in store.list(bucket, prefix)}
    if mf.MARKER not in objects:
        raise ArtifactError(f"{uri} is not completely staged (no {mf.MARKER}): run `rivaverify stage` for it "
                            "(a rerun finishes an interrupted staging)")
    if mf.ARTIFACT_JSON not in objects:
        raise ArtifactError(f"{uri} has a {mf.MARKER} but no {mf.ARTIFACT_JSON}: restage it")
    raw = store.read(bucket, prefix + mf.ARTIFACT_JSON)
    try:
        artifact = json.loads(raw)
    except ValueError as exc:
        raise ArtifactError(f"{uri}{mf.ARTIFACT_JSON} is not JSON ({exc}): restage it") from exc
    marker = store.read(bucket, prefix + mf.MARKER).decode(errors="replace")
    checksums: dict[str, str] = {}
    if mf.CHECKSUMS in objects:
        checksums = mf.parse_checksums(store.read(bucket, prefix + mf.CHECKSUMS), uri + mf.CHECKSUMS)
    elif artifact.get("mode") != "reference-only":
        raise ArtifactError(f"{uri} has no {mf.CHECKSUMS}: restage it with `rivaverify stage`")
    local = cache / bucket / prefix
    sha256, sizes, downloaded = {}, {}, 0
    for path, want in sorted(checksums.items()):
        if not (path.startswith("models/") and path.endswith(".riva")):
            continue
        name = path.removeprefix("models/")
        info = store.head(bucket, prefix + path)
        if info is None:
            raise ArtifactError(f"{uri}{path} is listed in {mf.CHECKSUMS} but missing: restage the artifact")
        objects[path] = info
        dest = local / "models" / name
        if verified_sha256(dest, origin_of(bucket, info)) == want:
            log(f"fetch: {uri}{path} (cached, verified)")
        elif dest.is_file() and dest.stat().st_size == info.size and sha256_file(dest, stamp=False) == want:
            mark_verified(dest, want, origin_of(bucket, info))  # e.g. after a reboot: hashed again, not fetched
            log(f"fetch: {uri}{path} (cached, verified again)")
        else:
            bar = bars(f"fetch {name}", info.size) if bars else None
            try:
                got = download(store, bucket, info, dest, part_size=part_size, concurrency=concurrency, bar=bar)
            finally:
                if bar is not None:
                    bar.close()
            check_sha256(dest, got, want, f"{uri}{path}", cache)
            downloaded += info.size
            log(f"fetch: {uri}{path} ({info.size} bytes, sha256 verified)")
        sha256[name], sizes[name] = want, info.size
    for old in (local / "models").glob("*.riva") if (local / "models").is_dir() else []:
        if old.name not in sha256:
            forget(old)
    return StagedArtifact(uri, artifact, local, sha256, sizes, checksums, objects, raw, marker, downloaded)
