"""The artifact store interface: what staging needs from an object store (one implementation: s3.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from rivaverify.artifact.errors import ArtifactError


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str = ""  # without quotes
    sha256: str | None = None  # declared by the writer (metadata) or a full-object checksum
    last_modified: datetime | None = None


class Bar(Protocol):
    """A progress bar (tqdm's satisfies it)."""

    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


class Store(Protocol):
    """An object store; every method raises ArtifactError naming the object and the next step."""

    def describe(self) -> str: ...

    def head(self, bucket: str, key: str) -> ObjectInfo | None: ...

    def read_range(self, bucket: str, key: str, start: int, end: int, etag: str) -> bytes: ...

    def read(self, bucket: str, key: str) -> bytes: ...

    def put(self, bucket: str, key: str, data: bytes, sha256: str) -> None: ...

    def upload(self, path: Path, bucket: str, key: str, sha256: str, bar: Bar | None = None) -> None: ...

    def copy(self, src_bucket: str, src_key: str, etag: str, bucket: str, key: str, sha256: str,
             bar: Bar | None = None) -> None: ...

    def list(self, bucket: str, prefix: str) -> list[ObjectInfo]: ...

    def delete(self, bucket: str, keys: list[str]) -> None: ...


def s3_uri(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key); an ArtifactError for anything else."""
    if not uri.startswith("s3://"):
        raise ArtifactError(f"{uri!r} is not an s3:// URI: write s3://BUCKET/KEY")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ArtifactError(f"{uri!r} names no bucket: write s3://BUCKET/KEY")
    return bucket, key
