"""Helpers of the artifact tests (no tests here): archives, an in-memory store, a moto S3 server, faults."""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid
from pathlib import Path

import pytest

from rivaverify.artifact import ArtifactError, ObjectInfo, S3Target
from testing import shared_s3

RIVA = b"riva-model-bytes " * 40000  # 680 kB: several parts at the tests' part size
PART = 64 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_archive(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> Path:
    """A tar(.gz) at path; (name, data) members are regular files, TarInfo members are added as they are."""
    with tarfile.open(path, mode) as tar:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))
    return path


def deployable(tmp: Path, name: str = "parakeet-rnnt-1.1b-en-US-deployable_v8.1.tar.gz",
               riva: bytes = RIVA) -> Path:
    return make_archive(tmp / name, [("parakeet/model.riva", riva), ("parakeet/README.txt", b"read me")])


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


class MemoryStore:
    """A Store in memory, with counters and faults: fail[operation] = callable(key) -> Exception | None."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str | None]] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail: dict[str, object] = {}

    def _op(self, op: str, key: str) -> None:
        self.calls.append((op, key))
        exc = self.fail.get(op, lambda _k: None)(key)
        if exc is not None:
            raise exc

    def count(self, op: str) -> int:
        return sum(1 for o, _ in self.calls if o == op)

    def describe(self) -> str:
        return "memory store"

    def check_bucket(self, bucket: str) -> None:
        pass

    def add(self, bucket: str, key: str, data: bytes, sha256: str | None = None) -> ObjectInfo:
        self.objects[bucket, key] = (data, sha256)
        return self.head(bucket, key)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        self._op("head", key)
        if (bucket, key) not in self.objects:
            return None
        data, declared = self.objects[bucket, key]
        return ObjectInfo(key, len(data), hashlib.md5(data).hexdigest(), declared)

    def read_range(self, bucket: str, key: str, start: int, end: int, etag: str) -> bytes:
        self._op("read_range", key)
        data = self.objects[bucket, key][0]
        if hashlib.md5(data).hexdigest() != etag:
            raise ArtifactError(f"{key} changed")
        return data[start:end + 1]

    def read(self, bucket: str, key: str) -> bytes:
        self._op("read", key)
        return self.objects[bucket, key][0]

    def put(self, bucket: str, key: str, data: bytes, sha256: str) -> None:
        self._op("put", key)
        self.objects[bucket, key] = (data, sha256)

    def upload(self, path: Path, bucket: str, key: str, sha256: str, bar=None) -> None:
        self._op("upload", key)
        self.objects[bucket, key] = (path.read_bytes(), sha256)

    def copy(self, src_bucket, src_key, etag, bucket, key, sha256, bar=None) -> None:
        self._op("copy", key)
        self.objects[bucket, key] = (self.objects[src_bucket, src_key][0], sha256)

    def list(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        self._op("list", prefix)
        return [ObjectInfo(k, len(d), hashlib.md5(d).hexdigest()) for (b, k), (d, _) in sorted(self.objects.items())
                if b == bucket and k.startswith(prefix)]

    def delete(self, bucket: str, keys: list[str]) -> None:
        for k in keys:
            self._op("delete", k)
            self.objects.pop((bucket, k), None)


@pytest.fixture(scope="session", name="moto_s3")
def moto_s3_fixture() -> S3Target:
    """moto's S3 server on 127.0.0.1 (a free port), one per test process (testing.shared_s3: a module-scoped one was
    started again each time xdist's test-by-test balancing brought a worker back to the module); each test gets its
    own bucket (`bucket`)."""
    return shared_s3.target()


@pytest.fixture(name="bucket")
def bucket_fixture(moto_s3) -> S3Target:
    target = S3Target(f"rv-{uuid.uuid4().hex[:12]}", moto_s3.endpoint_url, moto_s3.region, moto_s3.credentials,
                      embedded=True)
    target.connect().client.create_bucket(Bucket=target.bucket)
    return target


def deny(client, operation: str, status: int = 403, code: str = "AccessDenied", when=lambda url: True,
         times: int = 1 << 30) -> list[int]:
    """Make `operation` calls of `client` (to URLs `when` accepts, the first `times`) answer `status`; returns
    the list that counts the answered calls."""
    from botocore.awsrequest import AWSResponse

    calls: list[int] = []

    class Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_kw):
            yield self.body

    def handler(request, **_kw):
        if not when(request.url) or len(calls) >= times:
            return None
        calls.append(1)
        body = f"<Error><Code>{code}</Code><Message>denied by test</Message></Error>".encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, Raw(body))

    client.meta.events.register(f"before-send.s3.{operation}", handler)
    return calls
