"""Stage an artifact under s3://<bucket>/<env>/<model>/<version>/: full, or reference-only.

Full: fetch the source (parallel, resumable, sha256 in the same pass), verify it, extract its .riva files
safely, put source/, models/, checksums.sha256 and artifact.json, verify every object, and only then write
staging_complete.txt. A run that fails leaves no marker; a rerun skips what is already verified.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rivaverify.artifact import manifest as mf
from rivaverify.artifact.download import (
    check_sha256,
    download,
    forget,
    mark_verified,
    origin_of,
    sha256_file,
    verified_sha256,
)
from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.extract import Extracted, StreamExtractor, already_extracted, extract_riva
from rivaverify.artifact.request import (
    Source,
    StageRequest,
    StageResult,
    expected_sha256,
    names,
    resolve_source,
    tool_version,
)
from rivaverify.artifact.store import Bar, ObjectInfo, Store, s3_uri
from rivaverify.files import now, write_json_atomic

Bars = Callable[[str, int], Bar]


class _Steps:
    def __init__(self, log: Callable[[str], None], bars: Bars | None) -> None:
        self.items: list[dict[str, Any]] = []
        self.log, self.bars = log, bars

    @contextmanager
    def __call__(self, step: str, what: str, nbytes: int = 0) -> Iterator[Bar | None]:
        t = time.monotonic()
        bar = self.bars(f"{step} {what.rsplit('/', 1)[-1]}", nbytes) if self.bars and nbytes else None
        try:
            yield bar
        finally:
            if bar is not None:
                bar.close()
        self.items.append({"step": step, "what": what, "bytes": nbytes, "seconds": round(time.monotonic() - t, 3)})
        self.log(f"{step}: {what}")

    def skip(self, step: str, what: str, why: str) -> None:
        self.items.append({"step": step, "what": what, "skipped": True, "why": why})
        self.log(f"{step}: {what} (skipped: {why})")


def stage(store: Store, req: StageRequest, *, log: Callable[[str], None] = lambda _: None,
          bars: Bars | None = None) -> StageResult:
    t0, started = time.monotonic(), now()
    steps = _Steps(log, bars)
    expected = expected_sha256(req)
    src = resolve_source(store, req.source)
    env, model, version = names(req, src)
    prefix = mf.staging_prefix(env, model, version)
    uri = s3_uri(req.bucket, prefix)
    store.check_bucket(req.bucket)
    if expected and src.sha256 and src.sha256 != expected:
        raise ArtifactError(f"source {src.uri} declares sha256 {src.sha256}, expected {expected}: nothing was "
                            "downloaded or marked complete; check the source or --expected-sha256")
    if req.reference_only and src.bucket is None:
        raise ArtifactError(f"--reference-only needs an s3:// source, not {req.source}: upload the archive to S3 "
                            "first, or stage it in full")
    local = req.work_dir / "staging" / req.bucket / prefix
    with _lock(local):
        sha = None
        if src.path is not None and not req.reference_only:
            with steps("hash", src.uri, src.size) as bar:
                sha = sha256_file(src.path, bar, stamp=False)
        marked = store.head(req.bucket, prefix + mf.MARKER) is not None
        existing = _existing(store, req.bucket, prefix) if marked else None
        if existing is not None and _same(existing, src, sha, expected, req.reference_only):
            problems = verify_objects(store, req.bucket, prefix, existing)
            if not problems:
                steps.skip("stage", uri, "already staged from this source and verified")
                return StageResult("already-staged", uri, existing, steps.items, time.monotonic() - t0)
            log(f"restaging: {problems[0]}")
        if marked:
            with steps("unmark", uri + mf.MARKER):  # a prefix being changed is never marked complete
                store.delete(req.bucket, [prefix + mf.MARKER])
        model_info = mf.ModelInfo(name=model, language_code=req.language_code or mf.language_from(model) or "en-US",
                                  architecture=req.architecture or mf.architecture_from(model))
        doc_base = dict(
            model=model_info, staging_started_at=started, tool=mf.ToolInfo(version=tool_version()),
            deployment=mf.DeploymentInfo(environment=env, s3_bucket=req.bucket, s3_prefix=prefix,
                                         region=getattr(store, "region", None),
                                         endpoint_url=getattr(store, "endpoint_url", None)),
        )
        if req.reference_only:
            doc = _reference(store, req, src, expected, prefix, version, doc_base, steps)
        else:
            streamed = None
            if sha is None:
                sha, streamed = _download_source(store, req, src, local, steps)
            doc = _full(store, req, src, sha, expected, prefix, version, local, doc_base, steps, streamed)
        marker = (f"artifact_id: {doc.artifact_id}\nmode: {doc.mode}\ncompleted_at: {now()}\n"
                  f"artifact_json_sha256: {_sha(doc.to_bytes())}\ntool: {mf.TOOL} {tool_version()}\n").encode()
        with steps("mark", uri + mf.MARKER):
            store.put(req.bucket, prefix + mf.MARKER, marker, _sha(marker))
        if req.cache_dir is not None and not req.reference_only:
            _adopt(store, req.bucket, prefix, doc, local / "models", req.cache_dir / req.bucket / prefix / "models")
        if not req.keep_local:
            shutil.rmtree(local, ignore_errors=True)
    return StageResult("staged", uri, doc, steps.items, time.monotonic() - t0)


def _download_source(store: Store, req: StageRequest, src: Source, local: Path,
                     steps: _Steps) -> tuple[str, Callable[[], list[Extracted]] | None]:
    """Fetch the S3 source, its sha256 computed and its .riva files extracted in the same pass, unless it is
    already on disk and verified. Returns the sha256 and, for a fresh download, the extraction's outcome (a
    call that returns the files or raises why not: the source's checksum is judged first)."""
    archive = local / "source" / src.filename
    info = ObjectInfo(src.key or "", src.size, src.etag or "")
    known = verified_sha256(archive, origin_of(src.bucket or "", info))
    if known:
        steps.skip("download", src.uri, f"on disk and verified ({archive})")
        return known, None
    shutil.rmtree(local / "models", ignore_errors=True)
    (local / "extracted.json").unlink(missing_ok=True)
    extractor = StreamExtractor(src.uri, local / "models")
    try:
        with steps("download", f"{src.uri} (extracted as it arrives)", src.size) as bar:
            sha = download(store, src.bucket or "", info, archive, part_size=req.part_size,
                           concurrency=req.concurrency, bar=bar, sink=extractor.feed)
    except BaseException:
        extractor.abort()
        raise
    try:
        models = extractor.finish()
    except ArtifactError as exc:
        error = exc

        def fail() -> list[Extracted]:
            raise error

        return sha, fail
    return sha, lambda: models


def _adopt(store: Store, bucket: str, prefix: str, doc: mf.ArtifactJson, models: Path, cache: Path) -> None:
    """Hand the verified .riva files to fetch()'s cache, stamped as copies of the uploaded objects, so fetching
    them on this machine downloads nothing."""
    cache.mkdir(parents=True, exist_ok=True)
    for name, f in doc.models().items():
        info = store.head(bucket, prefix + f.path)
        if info is None or verified_sha256(models / name) != f.sha256:
            continue
        forget(cache / name)
        shutil.move(models / name, cache / name)
        mark_verified(cache / name, f.sha256, origin_of(bucket, info))


def _existing(store: Store, bucket: str, prefix: str) -> mf.ArtifactJson | None:
    if store.head(bucket, prefix + mf.ARTIFACT_JSON) is None:
        return None
    try:
        return mf.parse_artifact_json(store.read(bucket, prefix + mf.ARTIFACT_JSON), s3_uri(bucket, prefix))
    except ArtifactError:
        return None


def _same(doc: mf.ArtifactJson, src: Source, sha: str | None, expected: str | None, reference_only: bool) -> bool:
    s = doc.source
    if s.uri != src.uri or s.size_bytes != src.size or (src.etag and s.etag != src.etag):
        return False
    if sha is not None and s.sha256 != sha:
        return False
    if expected and s.sha256 and s.sha256 != expected:
        return False
    return reference_only or doc.mode == "full"


def _full(store: Store, req: StageRequest, src: Source, sha: str, expected: str | None, prefix: str,
          version: str, local: Path, doc_base: dict[str, Any], steps: _Steps,
          streamed: Callable[[], list[Extracted]] | None) -> mf.ArtifactJson:
    archive = src.path or local / "source" / src.filename
    quarantine_root = None if src.path is not None else req.work_dir
    check_sha256(archive, sha, expected or src.sha256, f"source {src.uri}", quarantine_root)
    bucket = req.bucket
    source = mf.FileInfo(path=f"source/{src.filename}", size_bytes=src.size, sha256=sha)
    models = _extract(archive, sha, local, steps, streamed)  # before any upload: a bad archive puts nothing up
    files = [mf.FileInfo(path=f"models/{m.name}", size_bytes=m.size, sha256=m.sha256) for m in models]
    with ThreadPoolExecutor(1, thread_name_prefix="rivaverify-source") as background:
        # independent transfers: the source goes up (server side when it is in S3) while the .riva files do
        pending = background.submit(_put_file, store, bucket, prefix, source, archive, src, steps)
        for f, m in zip(files, models, strict=True):
            _put_file(store, bucket, prefix, f, m.path, None, steps)
        pending.result()
    files.insert(0, source)
    doc = mf.ArtifactJson(
        artifact_id=mf.artifact_id(doc_base["model"].name, version, sha), mode="full",
        source=mf.SourceInfo(uri=src.uri, size_bytes=src.size, etag=src.etag, sha256=sha, sha256_from="computed",
                             last_modified=src.last_modified),
        files=files, created_at=now(), **doc_base)
    checksums = mf.render_checksums({f.path: f.sha256 for f in files})
    _put_and_clean(store, bucket, prefix, {mf.CHECKSUMS: checksums, mf.ARTIFACT_JSON: doc.to_bytes()},
                   {f.path for f in files}, steps)
    problems = verify_objects(store, bucket, prefix, doc)
    if problems:
        raise ArtifactError(f"staged objects under {s3_uri(bucket, prefix)} do not verify: {'; '.join(problems)}; "
                            "nothing was marked complete: rerun `rivaverify stage`")
    return doc


def _put_file(store: Store, bucket: str, prefix: str, f: mf.FileInfo, path: Path, src: Source | None,
              steps: _Steps) -> None:
    """Upload `path` (or copy the S3 source server side) to prefix + f.path, unless it is there, verified."""
    key = prefix + f.path
    have = store.head(bucket, key)
    if have is not None and have.size == f.size_bytes and have.sha256 == f.sha256:
        steps.skip("upload", s3_uri(bucket, key), "already there and verified")
    elif src is not None and src.bucket is not None:
        with steps("copy", s3_uri(bucket, key), f.size_bytes) as bar:
            store.copy(src.bucket, src.key or "", src.etag or "", bucket, key, f.sha256, bar)
    else:
        with steps("upload", s3_uri(bucket, key), f.size_bytes) as bar:
            store.upload(path, bucket, key, f.sha256, bar)


def _extract(archive: Path, sha: str, local: Path, steps: _Steps,
             streamed: Callable[[], list[Extracted]] | None) -> list[Extracted]:
    """The .riva files: extracted during the download, by an earlier run, or from the archive now."""
    record = local / "extracted.json"
    if streamed is not None:
        models = streamed()
        write_json_atomic(record, {"source_sha256": sha, "files": {m.name: m.sha256 for m in models}})
        return models
    try:
        previous = json.loads(record.read_text())
    except (OSError, ValueError):
        previous = {}
    if previous.get("source_sha256") == sha:
        done = already_extracted(local / "models", previous.get("files", {}))
        if done:
            steps.skip("extract", str(archive), "already extracted and verified")
            return done
    shutil.rmtree(local / "models", ignore_errors=True)
    size = archive.stat().st_size
    with steps("extract", str(archive), size) as bar:
        models = extract_riva(archive, local / "models", bar=bar)
    write_json_atomic(record, {"source_sha256": sha, "files": {m.name: m.sha256 for m in models}})
    return models


def _reference(store: Store, req: StageRequest, src: Source, expected: str | None, prefix: str, version: str,
               doc_base: dict[str, Any], steps: _Steps) -> mf.ArtifactJson:
    sha, sha_from = (src.sha256, "store") if src.sha256 else (expected, "declared" if expected else None)
    doc = mf.ArtifactJson(
        artifact_id=mf.artifact_id(doc_base["model"].name, version, sha or src.etag or "0"),
        mode="reference-only",
        source=mf.SourceInfo(uri=src.uri, size_bytes=src.size, etag=src.etag, sha256=sha, sha256_from=sha_from,
                             last_modified=src.last_modified),
        created_at=now(), **doc_base)
    _put_and_clean(store, req.bucket, prefix, {mf.ARTIFACT_JSON: doc.to_bytes()}, set(), steps)
    problems = verify_objects(store, req.bucket, prefix, doc)
    if problems:
        raise ArtifactError(f"{s3_uri(req.bucket, prefix)} does not verify: {'; '.join(problems)}; rerun")
    return doc


def _put_and_clean(store: Store, bucket: str, prefix: str, small: dict[str, bytes], files: set[str],
                   steps: _Steps) -> None:
    """Write the small files; remove objects under the prefix that this artifact does not have."""
    for name, data in small.items():
        with steps("put", s3_uri(bucket, prefix + name), len(data)):
            store.put(bucket, prefix + name, data, _sha(data))
    keep = {prefix + p for p in files | set(small) | {mf.MARKER}}
    stale = [o.key for o in store.list(bucket, prefix) if o.key not in keep]
    if stale:
        with steps("delete", f"{len(stale)} stale objects under {s3_uri(bucket, prefix)}"):
            store.delete(bucket, stale)


def verify_objects(store: Store, bucket: str, prefix: str, doc: mf.ArtifactJson) -> list[str]:
    """Each staged object that is missing or differs from artifact.json (size, declared sha256)."""
    problems = []
    wanted = [(f.path, f.size_bytes, f.sha256) for f in doc.files]
    if doc.mode == "full":
        wanted.append((mf.CHECKSUMS, None, None))
    for path, size, sha in [*wanted, (mf.ARTIFACT_JSON, None, None)]:
        info = store.head(bucket, prefix + path)
        if info is None:
            problems.append(f"{path} is missing")
        elif size is not None and info.size != size:
            problems.append(f"{path} has {info.size} bytes, expected {size}")
        elif sha is not None and info.sha256 != sha:
            problems.append(f"{path} has sha256 {info.sha256}, expected {sha}")
    return problems


@contextmanager
def _lock(local: Path) -> Iterator[None]:
    local.mkdir(parents=True, exist_ok=True)
    with open(local.parent / f".{local.name}.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArtifactError(f"another stage is working in {local} (lock {f.name} held): wait for it to "
                                "finish, then rerun") from None
        yield


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
