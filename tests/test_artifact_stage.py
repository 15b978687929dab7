"""Staging and fetching against moto's S3 server: full, reference-only, rerun, failures that lose nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from rivaverify.artifact import ArtifactError, StageRequest, fetch, stage, verify
from rivaverify.artifact import manifest as mf
from tests.test_artifact_support import (  # noqa: F401 (the fixtures bucket and moto_s3)
    PART,
    RIVA,
    bucket_fixture,
    deny,
    deployable,
    make_archive,
    moto_s3_fixture,
    sha,
)

PREFIX = "dev/parakeet-rnnt-1.1b-en-US/8.1/"


def writes(store) -> list[tuple[str, str]]:
    """Record every write call (operation, key) the store's client makes from now on."""
    ops: list[tuple[str, str]] = []
    kinds = ("Put", "Copy", "Upload", "Create", "Complete", "Delete")

    def record(model, params, **_kw):
        if model.name.startswith(kinds):
            ops.append((model.name, params.get("Key", "")))

    store.client.meta.events.register("before-parameter-build.s3", record)
    return ops


def calls(store, operation: str) -> list[dict]:
    seen: list[dict] = []
    store.client.meta.events.register(f"before-parameter-build.s3.{operation}",
                                      lambda params, **_kw: seen.append(params))
    return seen


@pytest.fixture
def source(bucket, tmp_path):
    """The deployable archive uploaded to the test bucket; returns (store, s3 URI, local archive)."""
    archive = deployable(tmp_path)
    store = bucket.connect()
    store.client.upload_file(str(archive), bucket.bucket, "incoming/" + archive.name)
    return store, f"s3://{bucket.bucket}/incoming/{archive.name}", archive


def request(bucket, uri, tmp_path, **kw) -> StageRequest:
    return StageRequest(uri, bucket.bucket, work_dir=tmp_path / "work", part_size=PART, **kw)


def keys(store, bucket) -> list[str]:
    return sorted(o.key.removeprefix(PREFIX) for o in store.list(bucket.bucket, PREFIX))


def test_full_staging_writes_everything_and_the_marker_last(bucket, source, tmp_path):
    store, uri, archive = source
    ops = writes(store)
    result = stage(store, request(bucket, uri, tmp_path))
    assert result.status == "staged" and result.uri == f"s3://{bucket.bucket}/{PREFIX}"
    assert keys(store, bucket) == ["artifact.json", "checksums.sha256", "models/model.riva",
                                   f"source/{archive.name}", "staging_complete.txt"]
    assert ops[-1] == ("PutObject", PREFIX + mf.MARKER)
    assert any(op.startswith("Copy") or op == "UploadPartCopy" for op, k in ops if "source/" in k), ops
    checksums = mf.parse_checksums(store.read(bucket.bucket, PREFIX + mf.CHECKSUMS), "c")
    assert checksums == {"models/model.riva": sha(RIVA), f"source/{archive.name}": sha(archive.read_bytes())}
    doc = mf.parse_artifact_json(store.read(bucket.bucket, PREFIX + mf.ARTIFACT_JSON), "a")
    assert (doc.model.name, doc.model.language_code, doc.model.architecture) == (
        "parakeet-rnnt-1.1b-en-US", "en-US", "rnnt")
    assert (doc.source.uri, doc.source.size_bytes, doc.source.sha256) == (
        uri, archive.stat().st_size, sha(archive.read_bytes()))
    assert (doc.deployment.environment, doc.deployment.s3_bucket) == ("dev", bucket.bucket)
    assert doc.tool.name == "riva-verify" and doc.artifact_id.startswith("parakeet-rnnt-1.1b-en-US-8.1-")
    assert not (tmp_path / "work" / "staging" / bucket.bucket / PREFIX).exists()  # scratch removed


def test_rerun_of_a_staged_artifact_downloads_and_writes_nothing(bucket, source, tmp_path):
    store, uri, _ = source
    stage(store, request(bucket, uri, tmp_path))
    ops, gets = writes(store), calls(store, "GetObject")
    result = stage(store, request(bucket, uri, tmp_path))
    assert result.status == "already-staged"
    assert ops == [] and [g["Key"] for g in gets] == [PREFIX + mf.ARTIFACT_JSON]


def test_failure_part_way_leaves_no_marker_and_a_rerun_finishes_without_redoing(bucket, source, tmp_path):
    store, uri, archive = source
    denied = deny(store.client, "PutObject", when=lambda url: "/models/" in url)
    with pytest.raises(ArtifactError, match="access denied"):
        stage(store, request(bucket, uri, tmp_path))
    assert denied and mf.MARKER not in keys(store, bucket)
    assert f"source/{archive.name}" in keys(store, bucket)  # done before the failure

    store = bucket.connect()  # no fault any more
    ops, gets = writes(store), calls(store, "GetObject")
    assert stage(store, request(bucket, uri, tmp_path)).status == "staged"
    assert not [g for g in gets if "Range" in g], "the verified download was fetched again"
    assert not [k for _, k in ops if "/source/" in k], "the verified source copy was redone"
    assert ("PutObject", PREFIX + "models/model.riva") in ops and ops[-1] == ("PutObject", PREFIX + mf.MARKER)


def test_wrong_checksum_marks_nothing_and_quarantines_the_copy(bucket, source, tmp_path):
    store, uri, archive = source
    with pytest.raises(ArtifactError) as err:
        stage(store, request(bucket, uri, tmp_path, expected_sha256="0" * 64))
    msg = str(err.value)
    assert f"sha256 {sha(archive.read_bytes())}, expected {'0' * 64}" in msg and "quarantined" in msg
    assert keys(store, bucket) == []
    bad = [p for p in (tmp_path / "work" / "quarantine").iterdir() if p.name.endswith(".tar.gz")]
    assert len(bad) == 1 and bad[0].read_bytes() == archive.read_bytes()


def test_restaging_a_changed_source_unmarks_first(bucket, source, tmp_path):
    store, uri, archive = source
    stage(store, request(bucket, uri, tmp_path))
    new = deployable(tmp_path / "new", riva=b"a newer model" * 1000) if (tmp_path / "new").mkdir() is None else None
    store.client.upload_file(str(new), bucket.bucket, uri.split("/", 3)[3])
    deny(store.client, "PutObject", when=lambda url: "/models/" in url)
    with pytest.raises(ArtifactError):
        stage(store, request(bucket, uri, tmp_path))
    assert mf.MARKER not in keys(store, bucket)  # the old marker would vouch for a half-new prefix


def test_missing_source_and_missing_bucket_are_named(bucket, tmp_path):
    store = bucket.connect()
    with pytest.raises(ArtifactError, match=r"source s3://.*/nope-deployable_v1.tar.gz not found.*--source-uri"):
        stage(store, request(bucket, f"s3://{bucket.bucket}/nope-deployable_v1.tar.gz", tmp_path))
    archive = deployable(tmp_path)
    with pytest.raises(ArtifactError, match="does not exist.*--bucket"):
        stage(store, StageRequest(str(archive), "no-such-bucket-here", work_dir=tmp_path / "w"))


def test_access_denied_is_clear_and_not_retried(bucket, source, tmp_path):
    store, uri, _ = source
    attempts = deny(store.client, "HeadObject")
    with pytest.raises(ArtifactError) as err:
        stage(store, request(bucket, uri, tmp_path))
    assert "access denied to s3://" in str(err.value) and "credentials from explicit" in str(err.value)
    assert len(attempts) == 1


def test_transient_server_errors_are_retried(bucket, source, tmp_path, monkeypatch):
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.01)
    store, uri, _ = source
    failures = deny(store.client, "HeadBucket", status=503, code="SlowDown", times=2)
    assert stage(store, request(bucket, uri, tmp_path)).status == "staged"
    assert len(failures) == 2


@pytest.mark.parametrize(("members", "message"), [
    ([("../escape.riva", b"x")], "unsafe member '../escape.riva'"),
    ([], r"holds no \.riva file"),
])
def test_bad_archives_stage_nothing(bucket, tmp_path, members, message):
    archive = make_archive(tmp_path / "bad-deployable_v1.tar.gz", members)
    store = bucket.connect()
    with pytest.raises(ArtifactError, match=message):
        stage(store, request(bucket, str(archive), tmp_path))
    assert store.list(bucket.bucket, "") == []
    assert not (tmp_path / "escape.riva").exists() and not (tmp_path / "work" / "escape.riva").exists()


def test_local_source_is_uploaded_and_left_untouched(bucket, tmp_path):
    archive = deployable(tmp_path)
    store = bucket.connect()
    before = sorted(p.name for p in tmp_path.iterdir())
    result = stage(store, request(bucket, str(archive), tmp_path))
    assert result.artifact.source.uri == archive.resolve().as_uri()
    assert f"source/{archive.name}" in keys(store, bucket)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "work") == before


def test_reference_only_writes_artifact_json_and_marker(bucket, source, tmp_path):
    store, uri, archive = source
    store.client.copy_object(CopySource={"Bucket": bucket.bucket, "Key": uri.split("/", 3)[3]}, Bucket=bucket.bucket,
                             Key="incoming/declared-deployable_v3.tar.gz", Metadata={"sha256": "c" * 64},
                             MetadataDirective="REPLACE")
    result = stage(store, request(bucket, uri, tmp_path, reference_only=True))
    assert keys(store, bucket) == ["artifact.json", "staging_complete.txt"]
    doc = json.loads(store.read(bucket.bucket, PREFIX + mf.ARTIFACT_JSON))
    assert set(doc) >= {"artifact_id", "model", "source", "deployment", "tool", "created_at", "staging_started_at"}
    assert set(doc["model"]) == {"name", "language_code", "architecture"}
    assert doc["source"]["size_bytes"] == archive.stat().st_size and doc["source"]["etag"]
    assert doc["source"]["sha256"] is None and doc["mode"] == "reference-only"
    assert doc["deployment"]["s3_bucket"] == bucket.bucket and result.seconds < 5
    declared = stage(store, request(bucket, f"s3://{bucket.bucket}/incoming/declared-deployable_v3.tar.gz",
                                    tmp_path, reference_only=True))
    assert (declared.artifact.source.sha256, declared.artifact.source.sha256_from) == ("c" * 64, "store")
    with pytest.raises(ArtifactError, match="declares sha256 c{64}, expected d{64}"):
        stage(store, request(bucket, f"s3://{bucket.bucket}/incoming/declared-deployable_v3.tar.gz", tmp_path,
                             reference_only=True, expected_sha256="d" * 64))
    with pytest.raises(ArtifactError, match="needs an s3:// source"):
        stage(store, request(bucket, str(archive), tmp_path, reference_only=True))


def test_fetch_verifies_caches_and_refetches_a_changed_copy(bucket, source, tmp_path):
    store, uri, _ = source
    staged_uri = stage(store, request(bucket, uri, tmp_path)).uri
    cache = tmp_path / "cache"
    first = fetch(store, staged_uri, cache, part_size=PART)
    assert first.sha256 == {"model.riva": sha(RIVA)} and first.downloaded_bytes == len(RIVA)
    assert first.models[0].read_bytes() == RIVA
    assert verify.marker_problems(first) == verify.schema_problems(first) == verify.model_problems(first) == []
    gets = calls(store, "GetObject")
    again = fetch(store, staged_uri, cache)
    assert again.downloaded_bytes == 0 and not [g for g in gets if "models/" in g["Key"]]
    first.models[0].write_bytes(b"tampered")
    assert fetch(store, staged_uri, cache).downloaded_bytes == len(RIVA)
    assert first.models[0].read_bytes() == RIVA
    (first.models[0].parent / ".model.riva.verified").unlink()  # a lost stamp: hashed again, not fetched
    assert fetch(store, staged_uri, cache).downloaded_bytes == 0


def test_fetch_of_a_corrupt_object_fails_and_quarantines(bucket, source, tmp_path):
    store, uri, _ = source
    staged_uri = stage(store, request(bucket, uri, tmp_path)).uri
    store.client.put_object(Bucket=bucket.bucket, Key=PREFIX + "models/model.riva", Body=b"x" * len(RIVA),
                            Metadata={"sha256": sha(RIVA)})
    with pytest.raises(ArtifactError, match="quarantined"):
        fetch(store, staged_uri, tmp_path / "cache")
    assert not (tmp_path / "cache" / bucket.bucket / PREFIX / "models" / "model.riva").exists()
    assert list((tmp_path / "cache" / "quarantine").glob("*model.riva"))


def test_fetch_of_an_unfinished_staging_says_to_rerun(bucket, source, tmp_path):
    store, uri, _ = source
    staged_uri = stage(store, request(bucket, uri, tmp_path)).uri
    store.delete(bucket.bucket, [PREFIX + mf.MARKER])
    with pytest.raises(ArtifactError, match="not completely staged.*rivaverify stage"):
        fetch(store, staged_uri, tmp_path / "cache")


def test_a_second_stage_in_the_same_work_dir_waits_its_turn(bucket, source, tmp_path):
    import fcntl

    store, uri, _ = source
    lock = tmp_path / "work" / "staging" / bucket.bucket / "dev" / "parakeet-rnnt-1.1b-en-US" / ".8.1.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ArtifactError, match="another stage is working"):
            stage(store, request(bucket, uri, tmp_path))


def test_phase_checks_catch_a_prefix_changed_after_staging(bucket, source, tmp_path):
    store, uri, _ = source
    staged_uri = stage(store, request(bucket, uri, tmp_path)).uri
    doc = json.loads(store.read(bucket.bucket, PREFIX + mf.ARTIFACT_JSON))
    doc["model"]["architecture"] = "ctc"
    store.put(bucket.bucket, PREFIX + mf.ARTIFACT_JSON, json.dumps(doc).encode(), "0" * 64)
    store.put(bucket.bucket, PREFIX + "models/extra.riva", b"sneaked in", sha(b"sneaked in"))
    staged = fetch(store, staged_uri, tmp_path / "cache")
    assert any("artifact.json changed after staging completed" in p for p in verify.marker_problems(staged))
    assert "models/extra.riva is in S3 but not in checksums.sha256" in verify.model_problems(staged)
    assert verify.schema_problems(staged) == []


def test_stage_hands_its_verified_models_to_the_fetch_cache(bucket, source, tmp_path):
    store, uri, _ = source
    cache = tmp_path / "cache"
    staged_uri = stage(store, request(bucket, uri, tmp_path, cache_dir=cache)).uri
    gets = calls(store, "GetObject")
    staged = fetch(store, staged_uri, cache)
    assert staged.downloaded_bytes == 0 and not [g for g in gets if "models/" in g["Key"]]
    assert staged.models[0].read_bytes() == RIVA and verify.model_problems(staged) == []


def test_an_s3_source_is_extracted_while_it_downloads_never_read_back(bucket, source, tmp_path, monkeypatch):
    from rivaverify.artifact import staging

    def read_back(*args, **kwargs):
        raise AssertionError("the downloaded archive was read back from disk")

    monkeypatch.setattr(staging, "extract_riva", read_back)
    monkeypatch.setattr(staging, "sha256_file", read_back)
    store, uri, _ = source
    result = stage(store, request(bucket, uri, tmp_path))
    assert [s["step"] for s in result.steps if s["step"] in ("download", "extract")] == ["download"]
    assert result.artifact.models()["model.riva"].sha256 == sha(RIVA)


def test_a_bad_archive_in_s3_stages_nothing(bucket, tmp_path):
    archive = make_archive(tmp_path / "evil-deployable_v1.tar.gz", [("m.riva", RIVA), ("../../x.riva", b"x")])
    store = bucket.connect()
    store.client.upload_file(str(archive), bucket.bucket, "in/" + archive.name)
    with pytest.raises(ArtifactError, match="unsafe member"):
        stage(store, request(bucket, f"s3://{bucket.bucket}/in/{archive.name}", tmp_path))
    assert [o.key for o in store.list(bucket.bucket, "")] == [f"in/{archive.name}"]
    assert not list((tmp_path / "work").rglob("*.riva"))


def test_repository_source_record_in_either_shape(bucket, source, tmp_path):
    store, uri, archive = source
    staged = fetch(store, stage(store, request(bucket, uri, tmp_path, cache_dir=tmp_path / "c")).uri, tmp_path / "c")
    record = tmp_path / verify.SOURCE_RECORD
    record.write_text(json.dumps({"artifact_id": staged.artifact_id, "sha256": staged.sha256}))
    assert verify.source_record_problems(tmp_path, staged) == []
    record.write_text(json.dumps({"artifact": str(archive), "sha256": sha(archive.read_bytes())}))
    assert verify.source_record_problems(tmp_path, staged) == []
    record.write_text(json.dumps({"artifact": "other.tar.gz", "sha256": "e" * 64}))
    assert "neither the staged source nor one of its .riva files" in verify.source_record_problems(tmp_path, staged)[0]
    record.unlink()
    assert "is missing" in verify.source_record_problems(tmp_path, staged)[0]


UPLOAD_PART = 5 << 20  # the smallest part boto3's transfer manager makes


@pytest.mark.parametrize("size", [1000, 2 * UPLOAD_PART + 5])  # one PutObject; three UploadParts
def test_uploads_carry_each_bodys_sha256_for_the_store_to_check(bucket, tmp_path, size):
    """moto stores the checksum but does not reject a wrong one; S3 does (BadDigest): checked here is that every
    request sends the right one."""
    data = (RIVA * (size // len(RIVA) + 1))[:size]
    path = tmp_path / "model.riva"
    path.write_bytes(data)
    store = bucket.connect(part_size=UPLOAD_PART)
    sent: list[tuple[int, str | None]] = []

    def record(request, **_kw):
        if request.method == "PUT":
            part = re.search(r"partNumber=(\d+)", request.url)
            value = request.headers.get("x-amz-checksum-sha256")
            sent.append((int(part.group(1)) if part else 1, value.decode() if isinstance(value, bytes) else value))

    store.client.meta.events.register("before-send.s3", record)
    store.upload(path, bucket.bucket, "models/model.riva", sha(data))
    b64 = lambda b: base64.b64encode(hashlib.sha256(b).digest()).decode()  # noqa: E731
    n_parts = -(-size // UPLOAD_PART)
    assert sorted(sent) == [(n, b64(data[(n - 1) * UPLOAD_PART:n * UPLOAD_PART])) for n in range(1, n_parts + 1)]
    head = store.client.head_object(Bucket=bucket.bucket, Key="models/model.riva", ChecksumMode="ENABLED")
    if n_parts == 1:
        assert head["ChecksumSHA256"] == b64(data)  # the whole object's, as S3 keeps it
