"""Artifact pieces without a server: names, artifact.json schema, checksums, retries, safe extraction."""

from __future__ import annotations

import tarfile

import pytest

from rivaverify.artifact import ArtifactError
from rivaverify.artifact import manifest as mf
from rivaverify.artifact.extract import extract_riva
from rivaverify.artifact.retry import Backoff
from tests.test_artifact_support import RIVA, deployable, link, make_archive, sha


@pytest.mark.parametrize(("filename", "name", "version"), [
    ("parakeet-rnnt-1.1b-en-US-deployable_v8.1.tar.gz", "parakeet-rnnt-1.1b-en-US", "8.1"),
    ("whisper-tiny-en-US-deployable_v1.tar.gz", "whisper-tiny-en-US", "1"),
    ("model.tar.gz", None, None),
])
def test_names_come_from_the_archive_name(filename, name, version):
    assert mf.names_from_archive(filename) == (name, version)


def test_language_and_architecture_from_the_model_name():
    assert mf.language_from("parakeet-rnnt-1.1b-en-us") == "en-US"
    assert mf.architecture_from("parakeet-rnnt-1.1b-en-US") == "rnnt"
    assert mf.architecture_from("whisper-tiny-en-US") == "whisper"
    assert mf.architecture_from("mystery") == "unknown"


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden"])
def test_bad_path_segment_names_the_option(bad):
    with pytest.raises(ArtifactError, match="--model-name"):
        mf.segment(bad, "model name", "--model-name")


def _doc(**change):
    doc = {
        "artifact_id": "m-1-abc", "mode": "full",
        "model": {"name": "m", "language_code": "en-US", "architecture": "rnnt"},
        "source": {"uri": "s3://b/m-deployable_v1.tar.gz", "size_bytes": 10, "etag": "e", "sha256": "a" * 64},
        "deployment": {"environment": "dev", "s3_bucket": "bkt", "s3_prefix": "dev/m/1/"},
        "files": [{"path": "models/m.riva", "size_bytes": 5, "sha256": "b" * 64}],
        "staging_started_at": "2025-01-01T00:00:00Z", "created_at": "2025-01-01T00:00:01Z",
        "tool": {"name": "riva-verify", "version": "0.1.0"},
    }
    doc.update(change)
    return mf.ArtifactJson.model_validate(doc)


def test_artifact_json_round_trips_and_has_a_schema():
    doc = _doc()
    assert mf.parse_artifact_json(doc.to_bytes(), "here") == doc
    assert mf.schema_problems(doc.to_bytes()) == []
    assert "model" in mf.json_schema()["required"]


def test_schema_problems_name_each_field():
    data = _doc().to_bytes().replace(b'"sha256": "' + b"b" * 64, b'"sha256": "nothex').replace(b'"full"', b'"half"')
    problems = mf.schema_problems(data)
    assert any(p.startswith("files.0.sha256:") for p in problems), problems
    assert any(p.startswith("mode:") for p in problems), problems
    assert mf.schema_problems(b"{not json") == [mf.schema_problems(b"{not json")[0]]


def test_full_mode_needs_a_model_and_reference_mode_none():
    with pytest.raises(ValueError, match="no models"):
        _doc(files=[])
    with pytest.raises(ValueError, match="lists files"):
        _doc(mode="reference-only")


def test_checksums_are_sha256sum_format_and_parse_back():
    files = {"models/a.riva": "a" * 64, "source/x.tar.gz": "b" * 64}
    data = mf.render_checksums(files)
    assert data.decode().splitlines()[0] == f"{'a' * 64}  models/a.riva"
    assert mf.parse_checksums(data, "c") == files
    with pytest.raises(ArtifactError, match="line 1"):
        mf.parse_checksums(b"garbage\n", "c")


# retries ------------------------------------------------------------------------------------------------

def test_transient_errors_are_retried_with_growing_jittered_delays():
    slept, tries = [], []

    def flaky():
        tries.append(1)
        if len(tries) < 4:
            raise ArtifactError("503", transient=True)
        return "ok"

    backoff = Backoff(attempts=5, base_s=0.1, cap_s=10, sleep=slept.append)
    assert backoff.call(flaky, "part 1") == "ok"
    assert len(tries) == 4
    assert [0 <= s <= 0.1 * 2**i for i, s in enumerate(slept)] == [True] * 3
    assert len(set(slept)) == 3  # jitter: not a fixed schedule


def test_permanent_errors_are_not_retried():
    tries = []

    def denied():
        tries.append(1)
        raise ArtifactError("access denied")

    with pytest.raises(ArtifactError, match="access denied"):
        Backoff(sleep=lambda s: None).call(denied, "x")
    assert len(tries) == 1


def test_retries_give_up_and_say_so():
    with pytest.raises(ArtifactError, match="gave up on part 3 after 3 attempts"):
        Backoff(attempts=3, sleep=lambda s: None).call(
            lambda: (_ for _ in ()).throw(ArtifactError("reset", transient=True)), "part 3")


def test_delay_is_capped():
    b = Backoff(base_s=1, cap_s=2)
    assert all(b.delay(20) <= 2 for _ in range(100))


# extraction -----------------------------------------------------------------------------------------------

def test_extracts_riva_files_only_with_their_sha256(tmp_path):
    out = extract_riva(deployable(tmp_path), tmp_path / "models")
    assert [(e.name, e.size, e.sha256) for e in out] == [("model.riva", len(RIVA), sha(RIVA))]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [".model.riva.verified", "model.riva"]


@pytest.mark.parametrize(("members", "reason"), [
    ([("../evil.riva", b"x")], "'..' in the path"),
    ([("ok/../../evil.riva", b"x")], "'..' in the path"),
    ([("/etc/evil.riva", b"x")], "absolute path"),
    ([link("a/link", "/etc/passwd")], "outside the archive"),
    ([link("a/up", "../../x", tarfile.LNKTYPE)], "outside the archive"),
])
def test_unsafe_archive_is_refused_and_nothing_written(tmp_path, members, reason):
    archive = make_archive(tmp_path / "bad.tar.gz", [("good.riva", b"fine"), *members])
    with pytest.raises(ArtifactError, match="unsafe member") as err:
        extract_riva(archive, tmp_path / "out")
    assert reason in str(err.value)
    assert not (tmp_path / "evil.riva").exists() and not (tmp_path.parent / "evil.riva").exists()
    assert not list((tmp_path / "out").glob("*.partial"))


def test_riva_link_is_refused(tmp_path):
    archive = make_archive(tmp_path / "a.tar", [("real.bin", b"x"), link("model.riva", "real.bin")], "w")
    with pytest.raises(ArtifactError, match="link or special file"):
        extract_riva(archive, tmp_path / "out")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty, truncated or not a tar"),
    (b"this is not a tar at all" * 100, "empty, truncated or not a tar"),
])
def test_empty_or_garbage_archive_is_a_clear_error(tmp_path, content, message):
    archive = tmp_path / "x-deployable_v1.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(ArtifactError, match=message):
        extract_riva(archive, tmp_path / "out")


def test_archive_without_riva_is_a_clear_error(tmp_path):
    for name, members in (("empty.tar.gz", []), ("readme.tar.gz", [("README", b"hi")])):
        with pytest.raises(ArtifactError, match=r"holds no \.riva file"):
            extract_riva(make_archive(tmp_path / name, members), tmp_path / "out")


def test_truncated_archive_leaves_no_partial_file(tmp_path):
    archive = deployable(tmp_path, riva=bytes(range(256)) * 8000)
    archive.write_bytes(archive.read_bytes()[:-3000])
    with pytest.raises(ArtifactError):
        extract_riva(archive, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


def test_two_riva_files_with_one_name_are_refused(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", [("a/m.riva", b"1"), ("b/m.riva", b"2")])
    with pytest.raises(ArtifactError, match="two files named m.riva"):
        extract_riva(archive, tmp_path / "out")


def test_without_riva_lite_the_embedded_default_says_what_to_set(tmp_path, monkeypatch):
    import sys

    from rivaverify.adapters import rivalite

    monkeypatch.setitem(sys.modules, "rivalite", None)  # import rivalite fails
    with pytest.raises(ArtifactError, match=r"riva-lite is not installed.*set RIVA__ARTIFACT"):
        rivalite.archive(tmp_path)


# error messages of the boto3 store ---------------------------------------------------------------------

def _client_error(code: str, status: int):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "GetObject")


@pytest.mark.parametrize(("exc", "transient", "words"), [
    (lambda: _client_error("SlowDown", 503), True, "transient"),
    (lambda: _client_error("InternalError", 500), True, "transient"),
    (lambda: _client_error("AccessDenied", 403), False, "access denied to s3://b/k"),
    (lambda: _client_error("NoSuchKey", 404), False, "s3://b/k not found"),
    (lambda: _client_error("NoSuchBucket", 404), False, "does not exist"),
    (lambda: _client_error("PreconditionFailed", 412), False, "changed during GetObject"),
    (lambda: __import__("botocore.exceptions").exceptions.NoCredentialsError(), False, "no AWS credentials found"),
    (lambda: __import__("botocore.exceptions").exceptions.EndpointConnectionError(endpoint_url="http://x"), True,
     "cannot reach"),
    (lambda: __import__("botocore.exceptions").exceptions.ReadTimeoutError(endpoint_url="http://x"), True,
     "connection to"),
    (lambda: __import__("botocore.exceptions").exceptions.ParamValidationError(report="bad key"), False,
     "failed"),
])
def test_store_errors_say_what_happened_and_whether_to_retry(exc, transient, words):
    from rivaverify.artifact import S3Store

    err = S3Store(None, None, endpoint_url="http://127.0.0.1:9", region="us-east-1")._error(exc(), "GetObject",
                                                                                             "s3://b/k")
    assert err.transient is transient
    assert words in str(err)


# extraction while the archive arrives ----------------------------------------------------------------------

def _feed(archive, out, chunk=7777):
    import threading

    from rivaverify.artifact.extract import StreamExtractor

    before = threading.active_count()
    ex = StreamExtractor(str(archive), out)
    data = archive.read_bytes()
    for i in range(0, len(data), chunk):
        ex.feed(data[i:i + chunk])
    try:
        return ex.finish()
    finally:
        assert threading.active_count() == before  # the thread is gone


def test_streamed_extraction_matches_extraction_from_the_file(tmp_path):
    archive = deployable(tmp_path)
    fed = _feed(archive, tmp_path / "fed")
    read = extract_riva(archive, tmp_path / "read")
    assert [(e.name, e.size, e.sha256) for e in fed] == [(e.name, e.size, e.sha256) for e in read]
    assert (tmp_path / "fed" / "model.riva").read_bytes() == RIVA


def test_streamed_extraction_of_a_bad_archive_fails_and_leaves_nothing(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", [("first.riva", RIVA), ("../escape.riva", b"x"), ("z", RIVA)])
    with pytest.raises(ArtifactError, match="unsafe member '../escape.riva'"):
        _feed(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # first.riva was written, then removed


def test_data_after_the_end_of_the_tar_never_blocks_the_feeder(tmp_path):
    archive = make_archive(tmp_path / "a.tar", [("m.riva", b"small")], "w")
    archive.write_bytes(archive.read_bytes() + b"\0" * 500_000)
    assert [e.name for e in _feed(archive, tmp_path / "out", chunk=1000)] == ["m.riva"]


def test_an_aborted_feed_ends_the_thread_and_leaves_no_partial_file(tmp_path):
    import threading

    from rivaverify.artifact.extract import StreamExtractor

    before = threading.active_count()
    data = deployable(tmp_path).read_bytes()
    ex = StreamExtractor("a", tmp_path / "out")
    ex.feed(data[: len(data) // 2])
    ex.abort()
    assert threading.active_count() == before
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_plain_gzip_bzip2_and_xz_archives_extract_from_file_and_stream(tmp_path, mode):
    archive = make_archive(tmp_path / "m-deployable_v1.tar", [("dir/m.riva", RIVA), ("dir/notes", b"n")], mode)
    assert [(e.name, e.sha256) for e in extract_riva(archive, tmp_path / "a")] == [("m.riva", sha(RIVA))]
    assert [(e.name, e.sha256) for e in _feed(archive, tmp_path / "b", chunk=65536)] == [("m.riva", sha(RIVA))]
