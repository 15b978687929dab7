"""What to stage and where: the request, its source (in S3 or a local file), the names in the path, the plan
of a dry run, and the result."""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rivaverify.artifact import manifest as mf
from rivaverify.artifact.download import MiB
from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.store import Store, parse_s3_uri, s3_uri


@dataclass
class StageRequest:
    source: str  # s3://bucket/key of the deployable archive, or a local path
    bucket: str
    env: str = "dev"
    model_name: str | None = None  # default: from the archive name
    version: str | None = None  # default: from the archive name
    language_code: str | None = None  # default: from the model name, else en-US
    architecture: str | None = None  # default: from the model name
    expected_sha256: str | None = None
    reference_only: bool = False
    work_dir: Path = Path(".rivaverify")
    keep_local: bool = False  # keep the downloaded source and extracted models after success
    cache_dir: Path | None = None  # move the verified .riva files into fetch()'s cache there (same machine)
    part_size: int = 8 * MiB
    concurrency: int = 10


@dataclass
class StageResult:
    status: str  # staged | already-staged
    uri: str
    artifact: mf.ArtifactJson
    steps: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        moved = {k: sum(s.get("bytes", 0) for s in self.steps if s["step"] == k and not s.get("skipped"))
                 for k in ("download", "upload", "copy")}
        return {"status": self.status, "uri": self.uri, "artifact_id": self.artifact.artifact_id,
                "mode": self.artifact.mode, "seconds": round(self.seconds, 3),
                "bytes": moved, "steps": self.steps, "artifact": self.artifact.model_dump(mode="json")}


@dataclass
class Source:
    uri: str
    filename: str
    size: int
    etag: str | None = None
    sha256: str | None = None  # declared by the store
    last_modified: datetime | None = None
    bucket: str | None = None
    key: str | None = None
    path: Path | None = None


def tool_version() -> str:
    try:
        return importlib.metadata.version("riva-verify")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def resolve_source(store: Store, source: str) -> Source:
    if source.startswith("s3://"):
        bucket, key = parse_s3_uri(source)
        if not key or key.endswith("/"):
            raise ArtifactError(f"source {source} names a prefix, not an archive: pass s3://BUCKET/KEY of the "
                                "<model>-deployable_v<N>.tar.gz")
        info = store.head(bucket, key)
        if info is None:
            raise ArtifactError(f"source {source} not found at {store.describe()}: check --source-uri / "
                                "RIVA_ASR_MODEL_S3_URI (and that the bucket exists and the key is spelled right)")
        return Source(source, key.rsplit("/", 1)[-1], info.size, info.etag, info.sha256, info.last_modified,
                      bucket, key)
    if "://" in source:
        raise ArtifactError(f"source {source!r}: only s3:// URIs and local paths can be staged")
    path = Path(source).expanduser()
    if not path.is_file():
        raise ArtifactError(f"source {path} not found (or not a file): check --source-uri / RIVA__ARTIFACT")
    st = path.stat()
    return Source(path.resolve().as_uri(), path.name, st.st_size,
                  last_modified=datetime.fromtimestamp(st.st_mtime, UTC), path=path)


def names(req: StageRequest, src: Source) -> tuple[str, str, str]:
    name, version = mf.names_from_archive(src.filename)
    model = mf.segment(req.model_name or name, "model name", "--model-name (or RIVA_ASR_MODEL_NAME)")
    version = mf.segment(req.version or version, "model version", "--version (or MODEL_VERSION)")
    env = mf.segment(req.env, "environment", "--env (or ENV)")
    return env, model, version


def expected_sha256(req: StageRequest) -> str | None:
    if req.expected_sha256 is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", req.expected_sha256):
        raise ArtifactError(f"--expected-sha256 {req.expected_sha256!r} is not a sha256 (64 hex digits)")
    return req.expected_sha256.lower()


def staging_uri(req: StageRequest) -> str:
    """Where `req` stages, as far as its options and the source's file name tell (no lookup)."""
    name, version = mf.names_from_archive(req.source.rsplit("/", 1)[-1])
    return s3_uri(req.bucket, mf.staging_prefix(req.env, req.model_name or name or "<model>",
                                                req.version or version or "<version>"))


def plan(req: StageRequest) -> list[str]:
    """What stage() would do, without contacting anything (for --dry-run)."""
    src_name = req.source.rsplit("/", 1)[-1]
    dest = staging_uri(req)
    prefix = dest.removeprefix(f"s3://{req.bucket}/")
    if req.reference_only:
        return [f"read the size and ETag of {req.source}", f"write {dest}{mf.ARTIFACT_JSON} (reference only)",
                f"write {dest}{mf.MARKER} last"]
    get = "download (parallel, resumable, sha256 in the same pass)" if req.source.startswith("s3://") else "hash"
    put = "copy (server side)" if req.source.startswith("s3://") else "upload"
    return [f"{get} {req.source}" + (f", expect sha256 {req.expected_sha256}" if req.expected_sha256 else ""),
            f"extract its .riva files into {req.work_dir / 'staging' / req.bucket / prefix / 'models'}",
            f"{put} it to {dest}source/{src_name}", f"upload the .riva files to {dest}models/",
            f"write {dest}{mf.CHECKSUMS} and {dest}{mf.ARTIFACT_JSON}, verify every object",
            f"write {dest}{mf.MARKER} last"]
